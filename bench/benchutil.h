/*
 * Helpers shared by the benchmarks (the .c files of bench/). CMake builds
 * every one as a program of its own, so this is header-only: every
 * function static inline, a program carries only what it calls.
 *
 * A benchmark defines BENCH_NAME ("commit", "checkout") before including
 * it: messages start with "bench/<BENCH_NAME>: ".
 */
#ifndef KASSA_BENCHUTIL_H
#define KASSA_BENCHUTIL_H

#ifndef BENCH_NAME
#error "define BENCH_NAME before including benchutil.h"
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "catalog/csv.h"

#include <jansson.h>

#define BENCH_PATH_MAX 4096

/* Values of statfs.f_type (linux/magic.h), to name the file system. */
#define FS_TMPFS 0x01021994L
#define FS_RAMFS 0x858458f6L

/* The lines of a usage message for the options bench_common_option
 * handles. */
#define BENCH_USAGE_COMMON                                                                         \
    "  --json            one line of JSON instead of the table\n"                                  \
    "  --keep            keep the working directory\n"

/* Prints "bench/<name>: <message>" on stderr; returns 1. */
static inline int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bench/" BENCH_NAME ": ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

/* CLOCK_MONOTONIC in nanoseconds; fails if the clock cannot be read. */
static inline int bench_clock_ns(uint64_t *out)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return fail("clock_gettime: %s", strerror(errno));
    *out = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    return 0;
}

/* A small, fast, seedable generator: the workloads are the same on every
 * run. */
static inline uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

/* The same as a value, for timing in expressions (0 if the clock failed,
 * which bench_clock_ns reports). */
static inline uint64_t now_ns(void)
{
    uint64_t t = 0;
    (void)bench_clock_ns(&t);
    return t;
}

static inline int parse_size(const char *name, const char *text, size_t min, size_t max,
                             size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end || text[0] == '-' || v < min || v > max)
        return fail("%s: expected a whole number %zu..%zu, got \"%s\"", name, min, max, text);
    *out = (size_t)v;
    return 0;
}

/* The options every benchmark takes, for its parse_args loop: --json,
 * --keep and --help (usage on stdout, exit 0). Returns 1 when a is one of
 * them (handled), 0 when a takes the value v (the caller parses it), -1
 * when v is missing (usage on stderr, reported). */
static inline int bench_common_option(const char *a, const char *v, bool *json, bool *keep,
                                      void (*usage)(FILE *))
{
    if (strcmp(a, "--json") == 0) {
        *json = true;
        return 1;
    }
    if (strcmp(a, "--keep") == 0) {
        *keep = true;
        return 1;
    }
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
        usage(stdout);
        exit(0);
    }
    if (!v) {
        usage(stderr);
        fail("%s: unknown option or missing value", a);
        return -1;
    }
    return 0;
}

/* Parses argv: the common options (bench_common_option) and, through
 * value_option, those taking a value; value_option returns 0 when it took
 * a, -1 when a is unknown (usage on stderr, reported), else the error of
 * a bad value (reported). Returns 0, or 1 on an error. */
static inline int bench_parse_options(int argc, char **argv, bool *json, bool *keep,
                                      void (*usage)(FILE *),
                                      int (*value_option)(const char *a, const char *v, void *ctx),
                                      void *ctx)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = bench_common_option(a, v, json, keep, usage);
        if (rc < 0)
            return 1;
        if (rc > 0)
            continue;
        rc = value_option(a, v, ctx);
        if (rc < 0) {
            usage(stderr);
            return fail("unknown option %s", a);
        }
        if (rc != 0)
            return 1;
        i++;
    }
    return 0;
}

/* The build directory: the binary is <build>/bench/<name>. hint ends the
 * error messages (what to pass instead, or ""). */
static inline int bench_build_dir(char *out, size_t size, const char *hint)
{
    char exe[BENCH_PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return fail("readlink /proc/self/exe: %s%s", strerror(errno), hint);
    exe[n] = '\0';
    for (int up = 0; up < 2; up++) {
        char *slash = strrchr(exe, '/');
        if (!slash || slash == exe)
            return fail("cannot find the build directory from %s%s", exe, hint);
        *slash = '\0';
    }
    if ((size_t)snprintf(out, size, "%s", exe) >= size)
        return fail("build directory path too long");
    return 0;
}

/* Names the file system dir is on, and whether it is in memory (where
 * fsync costs nothing). */
static inline int bench_describe_fs(const char *dir, const char **fs_name, bool *fs_is_ram)
{
    static const struct {
        long magic;
        const char *name;
    } FS_NAMES[] = {
        {0xEF53L, "ext4"},     {0x58465342L, "xfs"}, {0x9123683EL, "btrfs"},
        {FS_TMPFS, "tmpfs"},   {FS_RAMFS, "ramfs"},  {0x794c7630L, "overlayfs"},
        {0x6969L, "nfs"},      {0x2fc12fc1L, "zfs"}, {0xF2F52010L, "f2fs"},
        {0x65735546L, "fuse"}, {0x01021997L, "9p"},  {0x4d44L, "vfat"},
    };
    struct statfs sf;
    if (statfs(dir, &sf) != 0)
        return fail("statfs %s: %s", dir, strerror(errno));
    static char unknown[32];
    snprintf(unknown, sizeof unknown, "0x%lx", (unsigned long)sf.f_type);
    *fs_name = unknown;
    for (size_t i = 0; i < sizeof FS_NAMES / sizeof FS_NAMES[0]; i++)
        if ((long)sf.f_type == FS_NAMES[i].magic)
            *fs_name = FS_NAMES[i].name;
    *fs_is_ram = (long)sf.f_type == FS_TMPFS || (long)sf.f_type == FS_RAMFS;
    return 0;
}

static inline int bench_remove_entry(const char *path, const struct stat *sb, int flag,
                                     struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    if (remove(path) != 0) {
        fail("remove %s: %s", path, strerror(errno));
        return 1;
    }
    return 0;
}

/* Removes the working directory dir (if created), or with keep says where
 * it was kept. */
static inline int bench_remove_dir(const char *dir, bool created, bool keep)
{
    if (!created)
        return 0;
    if (keep) {
        fprintf(stderr, "bench/" BENCH_NAME ": kept %s\n", dir);
        return 0;
    }
    if (nftw(dir, bench_remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        return fail("cannot remove %s", dir);
    return 0;
}

/* qsort comparison of uint64_t values, ascending. */
static inline int bench_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* ---- child processes and ports ---- */

/* The last lines of a log, to explain a failure. */
static inline void print_tail(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char buf[2048];
    if (fseek(f, -(long)(sizeof buf - 1), SEEK_END) != 0)
        rewind(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    fprintf(stderr, "--- %s (end):\n%s\n---\n", path, buf);
}

/* Forks and execs argv in cwd (NULL: ours) with stdout and stderr appended
 * to log; returns the child's pid or -1. */
static inline pid_t spawn(char *const argv[], const char *cwd, const char *log)
{
    pid_t pid = fork();
    if (pid < 0) {
        fail("fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        int null = open("/dev/null", O_RDONLY);
        if (fd < 0 || null < 0 || dup2(null, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
            _exit(126);
        if (cwd && chdir(cwd) != 0)
            _exit(126);
        execv(argv[0], argv);
        dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    return pid;
}

/* A loopback TCP port that was free a moment ago. */
static inline int free_port(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return fail("socket: %s", strerror(errno));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        close(fd);
        return fail("bind 127.0.0.1:0: %s", strerror(errno));
    }
    *port = ntohs(a.sin_port);
    close(fd);
    return 0;
}

/* ---- working directory and catalog ---- */

/* Creates the working directory <parent>/bench-<BENCH_NAME>-XXXXXX, where
 * parent is parent_dir when given (--dir), else the build directory. */
static inline int bench_make_workdir(const char *parent_dir, char *out, size_t size, bool *created)
{
    char parent[BENCH_PATH_MAX];
    if (parent_dir) {
        if ((size_t)snprintf(parent, sizeof parent, "%s", parent_dir) >= sizeof parent)
            return fail("--dir path too long");
    } else if (bench_build_dir(parent, sizeof parent, " (pass --dir)") != 0) {
        return 1;
    }
    if ((size_t)snprintf(out, size, "%s/bench-" BENCH_NAME "-XXXXXX", parent) >= size)
        return fail("working directory path too long");
    if (!mkdtemp(out))
        return fail("mkdtemp %s: %s", out, strerror(errno));
    *created = true;
    return 0;
}

/* n catalog items SKU00000, SKU00001, ... in tax class "standard", priced
 * 1.00 to 49.99, with `stock` units each. NULL when out of memory. */
static inline catalog_item *bench_catalog(size_t n, int64_t stock)
{
    catalog_item *items = calloc(n, sizeof *items);
    for (size_t i = 0; items && i < n; i++) {
        catalog_item *it = &items[i];
        snprintf(it->sku, sizeof it->sku, "SKU%05zu", i);
        snprintf(it->name, sizeof it->name, "Item %zu", i);
        snprintf(it->barcode, sizeof it->barcode, "200%010zu", i);
        it->price = 100 + (int64_t)(i * 37 % 4900);
        snprintf(it->tax_class, sizeof it->tax_class, "standard");
        it->stock = stock;
        it->line = (unsigned)(i + 2);
    }
    return items;
}

/* CPU seconds (user + system) a process has used so far; < 0 if unknown. */
static inline double proc_cpu_s(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* Fields after the command name (in parentheses): state is field 3,
     * utime 14, stime 15. */
    const char *p = strrchr(buf, ')');
    unsigned long long ut, st;
    if (!p ||
        sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    long hz = sysconf(_SC_CLK_TCK);
    return hz > 0 ? (double)(ut + st) / (double)hz : -1;
}

/* A process's peak resident memory in MB (VmHWM); -1 when unknown. */
static inline double proc_peak_rss_mb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    double mb = -1;
    unsigned long long kb;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %llu kB", &kb) == 1)
            mb = (double)kb / 1024.0;
    fclose(f);
    return mb;
}

/* Runs argv in cwd (output appended to log) and waits for it: 0 when it
 * exited 0, else the log's tail is printed and 1 returned. */
static inline int bench_run(char *const argv[], const char *cwd, const char *log)
{
    pid_t pid = spawn(argv, cwd, log);
    if (pid < 0)
        return 1;
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return fail("waitpid: %s", strerror(errno));
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        print_tail(log);
        return 1;
    }
    return 0;
}

/* Removes flag (a bare option such as "--no-yjs") from argv wherever it
 * stands; true when it was there. */
static inline bool bench_take_flag(int *argc, char **argv, const char *flag)
{
    bool found = false;
    for (int i = 1; i < *argc; i++)
        if (strcmp(argv[i], flag) == 0) {
            found = true;
            memmove(&argv[i], &argv[i + 1], (size_t)(*argc - i) * sizeof *argv);
            (*argc)--;
            i--;
        }
    return found;
}

/* Runs argv (a peer's benchmark script) in cwd with its output in log and
 * parses the last line of it that starts with '{' as JSON into *out. */
static inline int bench_run_peer(char *const argv[], const char *cwd, const char *log, json_t **out)
{
    if (bench_run(argv, cwd, log) != 0)
        return fail("%s failed", argv[1] ? argv[1] : argv[0]);
    FILE *f = fopen(log, "r");
    char line[4096], last[4096] = "";
    while (f && fgets(line, sizeof line, f))
        if (line[0] == '{')
            snprintf(last, sizeof last, "%s", line);
    if (f)
        fclose(f);
    *out = json_loads(last, 0, NULL);
    return *out ? 0 : fail("no JSON result from %s", argv[1] ? argv[1] : argv[0]);
}

/* ---- the benchmarks that drive kassad over HTTP (checkout, card) ---- */

static inline void bench_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* The 1-minute load average; < 0 if unknown. */
static inline double bench_load_average(void)
{
    double v = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &v) != 1)
            v = -1;
        fclose(f);
    }
    return v;
}

static inline bool bench_is_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* The stop flag of a benchmark that runs until told to stop: set by
 * SIGINT or SIGTERM (bench_catch_signals), or by the benchmark itself on an
 * error in one of its threads. */
static inline atomic_int *bench_stop_flag(void)
{
    static atomic_int stop;
    return &stop;
}

static inline void bench_stop(void)
{
    atomic_store(bench_stop_flag(), 1);
}

static inline bool bench_stopping(void)
{
    return atomic_load(bench_stop_flag()) != 0;
}

static inline void bench_on_signal(int sig)
{
    (void)sig;
    bench_stop();
}

/* SIGPIPE ignored (a closed connection is an error to report), SIGINT and
 * SIGTERM set the stop flag. */
static inline void bench_catch_signals(void)
{
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = bench_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* CPU seconds used between two proc_cpu_s readings; < 0 if unknown. */
static inline double bench_cpu_delta(double before, double after)
{
    return before >= 0 && after >= 0 ? after - before : -1;
}

/* ---- latencies ---- */

/* A growing list of latencies, in nanoseconds. */
typedef struct bench_samples {
    uint64_t *v;
    size_t n, cap;
} bench_samples;

/* Appends v; -1 when out of memory. */
static inline int bench_samples_push(bench_samples *s, uint64_t v)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4096;
        uint64_t *p = realloc(s->v, cap * sizeof *p);
        if (!p)
            return -1;
        s->v = p;
        s->cap = cap;
    }
    s->v[s->n++] = v;
    return 0;
}

typedef struct bench_stats {
    size_t n;
    double p50_ms, p99_ms, mean_ms, max_ms;
} bench_stats;

/* Nearest-rank percentile (p in whole percent) of n sorted values, in
 * milliseconds. */
static inline double bench_pct_ms(const uint64_t *sorted, size_t n, unsigned p)
{
    if (n == 0)
        return 0;
    size_t rank = (n * p + 99) / 100; /* ceil(p / 100 * n) */
    if (rank < 1)
        rank = 1;
    return (double)sorted[rank - 1] / 1e6;
}

/* Sorts the n values of v and summarises them (all 0 when n is 0). */
static inline void bench_stats_in_place(uint64_t *v, size_t n, bench_stats *st)
{
    memset(st, 0, sizeof *st);
    if (n == 0)
        return;
    qsort(v, n, sizeof *v, bench_cmp_u64);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (double)v[i];
    st->n = n;
    st->p50_ms = bench_pct_ms(v, n, 50);
    st->p99_ms = bench_pct_ms(v, n, 99);
    st->max_ms = (double)v[n - 1] / 1e6;
    st->mean_ms = sum / (double)n / 1e6;
}

/* The same on a sorted copy: v is left as it is. */
static inline int bench_stats_of(const uint64_t *v, size_t n, bench_stats *st)
{
    memset(st, 0, sizeof *st);
    if (n == 0)
        return 0;
    uint64_t *s = malloc(n * sizeof *s);
    if (!s)
        return fail("out of memory");
    memcpy(s, v, n * sizeof *s);
    bench_stats_in_place(s, n, st);
    free(s);
    return 0;
}

static inline json_t *bench_stats_json(const bench_stats *s)
{
    return json_pack("{s:I,s:f,s:f,s:f,s:f}", "n", (json_int_t)s->n, "p50", s->p50_ms, "p99",
                     s->p99_ms, "mean", s->mean_ms, "max", s->max_ms);
}

/* The layout of a table of bench_stats: the widths of the name and count
 * columns, the decimals of the milliseconds. */
typedef struct bench_table {
    int name_w, count_w, digits;
} bench_table;

static inline void bench_table_head(const bench_table *t)
{
    printf("%-*s %*s %8s %8s %8s %8s\n", t->name_w, "", t->count_w, "count", "p50 ms", "p99 ms",
           "mean ms", "max ms");
}

static inline void bench_table_row(const bench_table *t, const char *name, const bench_stats *s)
{
    printf("%-*s %*zu %8.*f %8.*f %8.*f %8.*f\n", t->name_w, name, t->count_w, s->n, t->digits,
           s->p50_ms, t->digits, s->p99_ms, t->digits, s->mean_ms, t->digits, s->max_ms);
}

/* The "file system:" line of a report. */
static inline void bench_print_fs(const char *fs_name, bool fs_is_ram)
{
    printf("file system: %s%s\n", fs_name,
           fs_is_ram ? " (warning: in memory, fsync costs nothing; pass --dir)" : "");
}

/* Prints o (taken; NULL: out of memory) as one line of JSON. */
static inline int bench_print_json(json_t *o)
{
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
    json_decref(o);
    if (!s)
        return fail("out of memory");
    puts(s);
    free(s);
    return 0;
}

/* ---- processes started and stopped by their pid ---- */

typedef struct bench_proc {
    const char *name;
    pid_t pid; /* 0: not running */
    char log[BENCH_PATH_MAX + 32];
} bench_proc;

/* Starts argv in cwd with its output appended to p->log. */
static inline int bench_proc_start(bench_proc *p, char *const argv[], const char *cwd)
{
    p->pid = spawn(argv, cwd, p->log);
    if (p->pid < 0) {
        p->pid = 0;
        return fail("cannot start %s", p->name);
    }
    return 0;
}

/* Whether p has exited (reaped here); reports it. */
static inline bool bench_proc_died(bench_proc *p)
{
    int st;
    if (p->pid > 0 && waitpid(p->pid, &st, WNOHANG) == p->pid) {
        p->pid = 0;
        print_tail(p->log);
        fail("%s exited unexpectedly (%s %d)", p->name, WIFEXITED(st) ? "status" : "signal",
             WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
        return true;
    }
    return false;
}

/* SIGTERM to p's pid, SIGKILL after limit_s; 0 when it exited 0 on
 * SIGTERM (or was not running). */
static inline int bench_proc_stop(bench_proc *p, unsigned limit_s)
{
    if (p->pid <= 0)
        return 0;
    kill(p->pid, SIGTERM);
    int st = 0;
    for (unsigned i = 0; i < limit_s * 100; i++) {
        pid_t r = waitpid(p->pid, &st, WNOHANG);
        if (r == p->pid || (r < 0 && errno == ECHILD)) {
            p->pid = 0;
            if (r < 0 || (WIFEXITED(st) && WEXITSTATUS(st) == 0) ||
                (WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM))
                return 0;
            print_tail(p->log);
            return fail("%s exited with status %d on SIGTERM", p->name,
                        WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
        }
        bench_sleep_ms(10);
    }
    kill(p->pid, SIGKILL);
    waitpid(p->pid, &st, 0);
    p->pid = 0;
    return fail("%s did not stop within %u s of SIGTERM (killed)", p->name, limit_s);
}

/* CPU seconds p has used so far; < 0 if unknown or not running. */
static inline double bench_proc_cpu(const bench_proc *p)
{
    return p->pid > 0 ? proc_cpu_s(p->pid) : -1;
}

/* ---- HTTP/1.1 client: blocking, keep-alive, one connection ---- */

#define BENCH_IO_TIMEOUT_S 30
#define BENCH_RBUF_MIN 65536
#define BENCH_BODY_MAX (16u * 1024 * 1024)

/* Writes all n bytes to a socket; -1 (errno set) on an error. */
static inline int bench_send_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* A connection to one server. Nothing is printed: a failed call returns
 * -1 with what failed in err, for the caller to report (a client thread
 * reports it later). */
typedef struct bench_http {
    const char *name; /* the server, for the caller's messages */
    struct sockaddr_in addr;
    char hostport[272]; /* the Host header */
    int fd;             /* -1: not connected */
    char *rbuf;         /* bytes read, not yet consumed */
    size_t rlen, rcap;
    char *body; /* the last response body, NUL-terminated */
    size_t body_len, body_cap;
    int status;
    bool close_after;
    char token[160]; /* sent as a bearer token when set */
    char err[768];
} bench_http;

/* host names addr in the Host header. */
static inline void bench_http_init(bench_http *c, const char *name, const struct sockaddr_in *addr,
                                   const char *host)
{
    memset(c, 0, sizeof *c);
    c->name = name;
    c->fd = -1;
    c->addr = *addr;
    snprintf(c->hostport, sizeof c->hostport, "%.255s:%d", host, ntohs(addr->sin_port));
}

/* The loopback address and a port. */
static inline struct sockaddr_in bench_loopback(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static inline void bench_http_close(bench_http *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->rlen = 0;
    if (c->rbuf)
        c->rbuf[0] = '\0';
}

static inline void bench_http_free(bench_http *c)
{
    bench_http_close(c);
    free(c->rbuf);
    free(c->body);
    c->rbuf = c->body = NULL;
    c->rcap = c->body_cap = 0;
}

static inline int bench_http_open(bench_http *c)
{
    if (!c->rbuf) {
        c->rcap = BENCH_RBUF_MIN;
        if (!(c->rbuf = malloc(c->rcap))) {
            snprintf(c->err, sizeof c->err, "out of memory");
            return -1;
        }
    }
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        snprintf(c->err, sizeof c->err, "socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    struct timeval tv = {BENCH_IO_TIMEOUT_S, 0};
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(c->fd, (const struct sockaddr *)&c->addr, sizeof c->addr) != 0) {
        snprintf(c->err, sizeof c->err, "connect %s: %s", c->hostport, strerror(errno));
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    c->rlen = 0;
    c->rbuf[0] = '\0';
    return 0;
}

/* Grows *buf (*cap bytes; 0: none yet) to hold need bytes, doubling; -1,
 * err set, past max bytes or out of memory. */
static inline int bench_http_reserve(bench_http *c, char **buf, size_t *cap, size_t need,
                                     size_t max)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 4096;
    while (n < need)
        n *= 2;
    char *p = n <= max ? realloc(*buf, n) : NULL;
    if (!p) {
        snprintf(c->err, sizeof c->err, n <= max ? "out of memory" : "response too large");
        return -1;
    }
    *buf = p;
    *cap = n;
    return 0;
}

/* Reads more bytes into rbuf: > 0 read, 0 on EOF, -1 on an error. */
static inline ssize_t bench_http_fill(bench_http *c)
{
    if (bench_http_reserve(c, &c->rbuf, &c->rcap, c->rlen + 4096, BENCH_BODY_MAX * 2) != 0)
        return -1;
    for (;;) {
        /* One byte kept for a NUL after the data: the header parsing uses
         * string functions. */
        ssize_t r = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen - 1, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(c->err, sizeof c->err, "recv: %s", strerror(errno));
            return -1;
        }
        c->rlen += (size_t)r;
        c->rbuf[c->rlen] = '\0';
        return r;
    }
}

static inline int bench_http_body_put(bench_http *c, const char *p, size_t n)
{
    if (bench_http_reserve(c, &c->body, &c->body_cap, c->body_len + n + 1, BENCH_BODY_MAX) != 0)
        return -1;
    memcpy(c->body + c->body_len, p, n);
    c->body_len += n;
    c->body[c->body_len] = '\0';
    return 0;
}

/* Drops the first n bytes of rbuf. */
static inline void bench_http_consume(bench_http *c, size_t n)
{
    memmove(c->rbuf, c->rbuf + n, c->rlen - n);
    c->rlen -= n;
    c->rbuf[c->rlen] = '\0';
}

static inline bool bench_header_is(const char *line, size_t len, const char *name,
                                   const char **value)
{
    size_t n = strlen(name);
    if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':')
        return false;
    const char *v = line + n + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    *value = v;
    return true;
}

/* Reads one response: status, headers, body (Content-Length or chunked). */
static inline int bench_http_read_response(bench_http *c)
{
    char *end;
    while (!(end = memmem(c->rbuf, c->rlen, "\r\n\r\n", 4))) {
        ssize_t r = bench_http_fill(c);
        if (r <= 0) {
            if (r == 0)
                snprintf(c->err, sizeof c->err, "connection closed before a response");
            return -1;
        }
    }
    size_t head_len = (size_t)(end - c->rbuf) + 4;
    int minor;
    if (sscanf(c->rbuf, "HTTP/1.%d %d", &minor, &c->status) != 2) {
        snprintf(c->err, sizeof c->err, "bad status line");
        return -1;
    }
    long long content_length = -1;
    bool chunked = false;
    c->close_after = minor == 0;
    for (char *line = strstr(c->rbuf, "\r\n") + 2; line < end;) {
        char *eol = strstr(line, "\r\n");
        size_t len = (size_t)(eol - line);
        const char *v;
        if (bench_header_is(line, len, "Content-Length", &v))
            content_length = strtoll(v, NULL, 10);
        else if (bench_header_is(line, len, "Transfer-Encoding", &v))
            chunked = strncasecmp(v, "chunked", 7) == 0;
        else if (bench_header_is(line, len, "Connection", &v))
            c->close_after = strncasecmp(v, "close", 5) == 0;
        line = eol + 2;
    }
    bench_http_consume(c, head_len);
    c->body_len = 0;
    if (bench_http_body_put(c, "", 0) != 0)
        return -1;
    if (c->status == 204 || c->status == 304 || (c->status >= 100 && c->status < 200))
        return 0;
    if (chunked) {
        for (;;) {
            char *eol;
            while (!(eol = memmem(c->rbuf, c->rlen, "\r\n", 2)))
                if (bench_http_fill(c) <= 0)
                    goto truncated;
            unsigned long long size = strtoull(c->rbuf, NULL, 16);
            size_t line = (size_t)(eol - c->rbuf) + 2;
            if (size > BENCH_BODY_MAX) {
                snprintf(c->err, sizeof c->err, "chunk too large");
                return -1;
            }
            while (c->rlen < line + size + 2)
                if (bench_http_fill(c) <= 0)
                    goto truncated;
            if (bench_http_body_put(c, c->rbuf + line, (size_t)size) != 0)
                return -1;
            bench_http_consume(c, line + (size_t)size + 2);
            if (size == 0)
                return 0; /* no trailers expected from kassad */
        }
    }
    if (content_length >= 0) {
        if ((unsigned long long)content_length > BENCH_BODY_MAX) {
            snprintf(c->err, sizeof c->err, "body too large");
            return -1;
        }
        while (c->rlen < (size_t)content_length)
            if (bench_http_fill(c) <= 0)
                goto truncated;
        if (bench_http_body_put(c, c->rbuf, (size_t)content_length) != 0)
            return -1;
        bench_http_consume(c, (size_t)content_length);
        return 0;
    }
    /* Neither: the body runs to the end of the connection. */
    for (;;) {
        ssize_t r = bench_http_fill(c);
        if (r < 0)
            return -1;
        if (r == 0)
            break;
    }
    c->close_after = true;
    if (bench_http_body_put(c, c->rbuf, c->rlen) != 0)
        return -1;
    c->rlen = 0;
    c->rbuf[0] = '\0';
    return 0;
truncated:
    if (!c->err[0])
        snprintf(c->err, sizeof c->err, "connection closed inside a response");
    return -1;
}

/* One request (body: body_len bytes of JSON, or NULL) and its response
 * (c->status, c->body). A connection the server closed between requests
 * is reopened; a request whose response did not arrive is an error, never
 * retried: it may have been applied. */
static inline int bench_http_request(bench_http *c, const char *method, const char *path,
                                     const void *body, size_t body_len)
{
    c->err[0] = '\0';
    char head[1024];
    int n = snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nHost: %s\r\n%s%s%s", method, path,
                     c->hostport, c->token[0] ? "Authorization: Bearer " : "", c->token,
                     c->token[0] ? "\r\n" : "");
    if (n < 0 || (size_t)n >= sizeof head - 128) {
        snprintf(c->err, sizeof c->err, "%.8s %.200s: request too long", method, path);
        return -1;
    }
    if (body)
        n += snprintf(head + n, sizeof head - (size_t)n,
                      "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n", body_len);
    else
        n += snprintf(head + n, sizeof head - (size_t)n, "\r\n");
    /* One send when the body is small (it is, but for the floor's blobs). */
    char req[8192 + sizeof head];
    const char *out = head;
    size_t out_len = (size_t)n;
    if (body && (size_t)n + body_len <= sizeof req) {
        memcpy(req, head, (size_t)n);
        memcpy(req + n, body, body_len);
        out = req;
        out_len = (size_t)n + body_len;
    }
    int rc = c->fd < 0 ? bench_http_open(c) : 0;
    if (rc == 0 && bench_send_all(c->fd, out, out_len) != 0)
        rc = -1;
    if (rc == 0 && body && out == head && bench_send_all(c->fd, body, body_len) != 0)
        rc = -1;
    if (rc != 0 && !c->err[0])
        snprintf(c->err, sizeof c->err, "send: %s", strerror(errno));
    if (rc != 0 || bench_http_read_response(c) != 0) {
        char what[sizeof c->err];
        snprintf(what, sizeof what, "%s", c->err);
        snprintf(c->err, sizeof c->err, "%.8s %.200s: %.500s", method, path, what);
        bench_http_close(c);
        return -1;
    }
    if (c->close_after)
        bench_http_close(c);
    return 0;
}

/* The last request must have answered `want`; else -1, err naming it. */
static inline int bench_http_expect(bench_http *c, int want, const char *method, const char *path)
{
    if (c->status == want)
        return 0;
    snprintf(c->err, sizeof c->err, "%s %s: expected %d, got %d: %.400s", method, path, want,
             c->status, c->body ? c->body : "");
    return -1;
}

/* A request with a JSON body (NULL: none) that must answer `want`. */
static inline int bench_http_call(bench_http *c, const char *method, const char *path,
                                  const char *json_body, int want)
{
    if (bench_http_request(c, method, path, json_body, json_body ? strlen(json_body) : 0) != 0)
        return -1;
    return bench_http_expect(c, want, method, path);
}

/* A field of the last body (a JSON object): a string copied to out, or an
 * integer to *num. */
static inline int bench_http_field(bench_http *c, const char *key, char *out, size_t size,
                                   int64_t *num)
{
    json_error_t jerr;
    json_t *root = json_loadb(c->body, c->body_len, 0, &jerr);
    json_t *v = root ? json_object_get(root, key) : NULL;
    int rc = -1;
    if (out && json_is_string(v) && strlen(json_string_value(v)) < size) {
        snprintf(out, size, "%s", json_string_value(v));
        rc = 0;
    } else if (num && json_is_integer(v)) {
        *num = (int64_t)json_integer_value(v);
        rc = 0;
    }
    if (rc != 0)
        snprintf(c->err, sizeof c->err, "no usable \"%s\" in %.300s", key, c->body);
    json_decref(root);
    return rc;
}

/* Logs a cashier in on kassad: its session token in c->token. */
static inline int bench_http_login(bench_http *c, const char *cashier, const char *pin)
{
    char body[256];
    snprintf(body, sizeof body, "{\"cashier_id\":\"%.64s\",\"pin\":\"%.64s\"}", cashier, pin);
    c->token[0] = '\0';
    if (bench_http_call(c, "POST", "/api/v1/sessions", body, 201) != 0)
        return -1;
    return bench_http_field(c, "token", c->token, sizeof c->token, NULL);
}

/* ---- a terminal served by kassad ---- */

typedef struct bench_term {
    char build[BENCH_PATH_MAX]; /* the build directory (bin/kassa, bin/kassad) */
    char root[BENCH_PATH_MAX];  /* the source tree (data/demo/catalog.csv) */
    char dir[BENCH_PATH_MAX];   /* the working directory */
    bool dir_created;
    const char *fs_name; /* the working directory's file system */
    bool fs_is_ram;
    char data[BENCH_PATH_MAX + 32];    /* the terminal: dir/term */
    char cli_log[BENCH_PATH_MAX + 32]; /* the kassa CLI's output: dir/cli.log */
    bench_proc kassad;                 /* log: dir/kassad.log */
} bench_term;

/* The build directory, and the source tree: opt_root (--root), else the
 * build directory's parent when it has the demo catalog, else the current
 * directory. With need_catalog, no demo catalog there is an error. */
static inline int bench_term_paths(bench_term *t, const char *opt_root, bool need_catalog)
{
    if (bench_build_dir(t->build, sizeof t->build, "") != 0)
        return 1;
    char probe[BENCH_PATH_MAX + 64];
    if (opt_root) {
        snprintf(t->root, sizeof t->root, "%s", opt_root);
    } else {
        char parent[BENCH_PATH_MAX];
        snprintf(parent, sizeof parent, "%s", t->build);
        char *slash = strrchr(parent, '/');
        if (slash && slash != parent)
            *slash = '\0';
        snprintf(probe, sizeof probe, "%s/data/demo/catalog.csv", parent);
        if (bench_is_file(probe))
            snprintf(t->root, sizeof t->root, "%s", parent);
        else if (!getcwd(t->root, sizeof t->root))
            return fail("getcwd: %s", strerror(errno));
    }
    snprintf(probe, sizeof probe, "%s/data/demo/catalog.csv", t->root);
    if (need_catalog && !bench_is_file(probe))
        return fail("no %s: pass --root (the source tree)", probe);
    return 0;
}

/* The working directory (bench_make_workdir), its file system, and the
 * paths of the terminal and the logs in it. */
static inline int bench_term_workdir(bench_term *t, const char *parent_dir)
{
    if (bench_make_workdir(parent_dir, t->dir, sizeof t->dir, &t->dir_created) != 0 ||
        bench_describe_fs(t->dir, &t->fs_name, &t->fs_is_ram) != 0)
        return 1;
    snprintf(t->data, sizeof t->data, "%s/term", t->dir);
    snprintf(t->cli_log, sizeof t->cli_log, "%s/cli.log", t->dir);
    snprintf(t->kassad.log, sizeof t->kassad.log, "%s/kassad.log", t->dir);
    t->kassad.name = "kassad";
    return 0;
}

/* Runs the kassa CLI on the terminal with the arguments up to NULL; any
 * failure is reported. */
static inline int bench_kassa(const bench_term *t, ...) __attribute__((sentinel));
static inline int bench_kassa(const bench_term *t, ...)
{
    char bin[BENCH_PATH_MAX + 16];
    snprintf(bin, sizeof bin, "%s/bin/kassa", t->build);
    char *argv[16] = {bin, "--data", (char *)t->data};
    int n = 3;
    va_list ap;
    va_start(ap, t);
    for (char *a; n < 15 && (a = va_arg(ap, char *)) != NULL;)
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    if (bench_run(argv, t->root, t->cli_log) != 0)
        return fail("kassa %s %s failed", argv[3], n > 4 ? argv[4] : "");
    return 0;
}

/* A new terminal (store BENCH, node T1) with the demo catalog. */
static inline int bench_term_init(const bench_term *t)
{
    char csv[BENCH_PATH_MAX + 32];
    snprintf(csv, sizeof csv, "%s/data/demo/catalog.csv", t->root);
    if (bench_kassa(t, "init", "--store", "BENCH", "--node", "T1", NULL) != 0 ||
        bench_kassa(t, "catalog", "import", csv, NULL) != 0)
        return 1;
    return 0;
}

/* Starts kassad on the terminal in cwd, with ini and its API on a free
 * loopback port (*port); bench_wait_healthy waits for it. */
static inline int bench_term_start(bench_term *t, const char *ini, const char *cwd, int *port)
{
    if (free_port(port) != 0)
        return 1;
    char bin[BENCH_PATH_MAX + 16], listen[64];
    snprintf(bin, sizeof bin, "%s/bin/kassad", t->build);
    snprintf(listen, sizeof listen, "127.0.0.1:%d", *port);
    char *argv[] = {bin, "--data", t->data, "--api-listen", listen, "--config", (char *)ini, NULL};
    return bench_proc_start(&t->kassad, argv, cwd);
}

/* Polls GET /healthz at addr (host: its name) every 20 ms, each time on a
 * new connection, until it answers 200; an error when kassad (if running)
 * exits, after limit_s, or (with stoppable) once bench_stopping(). */
static inline int bench_wait_healthy(bench_proc *kassad, const struct sockaddr_in *addr,
                                     const char *host, unsigned limit_s, bool stoppable)
{
    uint64_t deadline = now_ns() + limit_s * 1000000000ull;
    for (;;) {
        if (bench_proc_died(kassad))
            return fail("kassad exited during start");
        bench_http h;
        bench_http_init(&h, "kassad", addr, host);
        int ok = bench_http_request(&h, "GET", "/healthz", NULL, 0) == 0 && h.status == 200;
        bench_http_free(&h);
        if (ok)
            return 0;
        if (now_ns() > deadline || (stoppable && bench_stopping())) {
            print_tail(kassad->log);
            return fail("kassad at %s did not answer GET /healthz within %u s", h.hostport,
                        limit_s);
        }
        bench_sleep_ms(20);
    }
}

#endif
