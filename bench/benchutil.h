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
#include <sys/socket.h>
#include <sys/wait.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

#endif
