/*
 * bench/voice: what voice ordering costs on this machine. Given the
 * directory of WAV files made by tools/voice/make_testset.sh, one run
 * prints:
 *
 *  1. grammar build: building a recognizer for the catalog (dictionary
 *     read, grammar, decoder start), median and max of several builds;
 *  2. per utterance, from WAV bytes to the answer (voice_recognize_wav):
 *     latency p50, p90, p99 and max, and the real-time factor (decoding
 *     time / audio time) over all of them, by the wall clock and by this
 *     process's CPU time, plus the per-utterance real-time factor p50, p99;
 *  3. memory: the resident set added by the first recognizer (its
 *     dictionary read freed again), and the process's peak resident set.
 *
 *   build/bench/voice DIR [--catalog CSV] [--synonyms CSV] [--repeat N] [--json]
 *
 * The catalog and synonyms default to data/demo/ (run from the repository
 * root). The target is a real-time factor of at most 0.1. A benchmark,
 * not a test: nothing is asserted; the exit status is 1 only when a call
 * fails. docs/VOICE.md records the last measurements.
 */
#include "voice/voice.h"

#define BENCH_NAME "voice"
#include "benchutil.h"

#include <dirent.h>
#include <sys/resource.h>

#define TARGET_RTF 0.1
#define BUILDS 5
#define FILES_MAX 1000
#define REPEAT_MAX 100

typedef struct opts {
    const char *dir;
    const char *catalog;
    const char *synonyms;
    size_t repeat;
} opts;

static void usage(FILE *f)
{
    fputs("usage: bench/voice DIR [--catalog CSV] [--synonyms CSV] [--repeat N] [--json]\n"
          "  DIR               WAV files (tools/voice/make_testset.sh DIR)\n"
          "  --catalog CSV     default data/demo/catalog.csv\n"
          "  --synonyms CSV    default data/demo/voice_synonyms.csv\n"
          "  --repeat N        decode every file N times (default 3)\n" BENCH_USAGE_COMMON,
          f);
}

static int value_option(const char *a, const char *v, void *ctx)
{
    opts *o = ctx;
    if (strcmp(a, "--catalog") == 0)
        o->catalog = v;
    else if (strcmp(a, "--synonyms") == 0)
        o->synonyms = v;
    else if (strcmp(a, "--repeat") == 0)
        return parse_size("--repeat", v, 1, REPEAT_MAX, &o->repeat);
    else
        return -1;
    return 0;
}

static int read_file(const char *path, char **out, size_t *len, size_t max)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return fail("cannot open %s: %s", path, strerror(errno));
    char *buf = malloc(max + 1);
    if (!buf) {
        fclose(f);
        return fail("out of memory");
    }
    size_t n = fread(buf, 1, max + 1, f);
    fclose(f);
    if (n > max) {
        free(buf);
        return fail("%s: larger than %zu bytes", path, max);
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double rss_mb(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return (double)resident * (double)sysconf(_SC_PAGESIZE) / 1048576.0;
}

static double peak_rss_mb(void)
{
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? (double)ru.ru_maxrss / 1024.0 : 0.0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(const double *sorted, size_t n, double p)
{
    size_t i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
    return sorted[i < n ? i : n - 1];
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The .wav files of dir, sorted; *names malloc'd, each name too. */
static int list_wavs(const char *dir, char ***names, size_t *n)
{
    DIR *d = opendir(dir);
    if (!d)
        return fail("cannot open %s: %s", dir, strerror(errno));
    char **v = calloc(FILES_MAX, sizeof *v);
    size_t k = 0;
    struct dirent *e;
    while (v && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".wav") != 0)
            continue;
        if (k == FILES_MAX) {
            closedir(d);
            return fail("more than %d WAV files in %s", FILES_MAX, dir);
        }
        if (!(v[k++] = strdup(e->d_name)))
            break;
    }
    closedir(d);
    if (!v || (k > 0 && !v[k - 1]))
        return fail("out of memory");
    if (k == 0)
        return fail("no .wav files in %s (tools/voice/make_testset.sh %s)", dir, dir);
    qsort(v, k, sizeof *v, cmp_name);
    *names = v;
    *n = k;
    return 0;
}

int main(int argc, char **argv)
{
    opts o = {NULL, "data/demo/catalog.csv", "data/demo/voice_synonyms.csv", 3};
    bool json = false, keep = false;
    if (argc >= 2 && argv[1][0] != '-') {
        o.dir = argv[1];
        argv[1] = argv[0];
        argc--;
        argv++;
    }
    if (bench_parse_options(argc, argv, &json, &keep, usage, value_option, &o) != 0)
        return 1;
    if (!o.dir) {
        usage(stderr);
        return fail("the directory of WAV files is missing");
    }

    char *text;
    size_t len;
    if (read_file(o.catalog, &text, &len, 64u << 20) != 0)
        return 1;
    catalog_csv_result cat;
    kassa_err err;
    if (catalog_csv_parse(text, len, &cat, &err) != KASSA_OK)
        return fail("%s: %s", o.catalog, err.msg);
    free(text);
    voice_item *items = calloc(cat.n_items ? cat.n_items : 1, sizeof *items);
    if (!items)
        return fail("out of memory");
    for (size_t i = 0; i < cat.n_items; i++)
        items[i] = (voice_item){cat.items[i].sku, cat.items[i].name};
    voice_synonym *syn = NULL;
    size_t n_syn = 0;
    if (read_file(o.synonyms, &text, &len, VOICE_SYNONYMS_MAX_BYTES) != 0)
        return 1;
    if (voice_synonyms_parse(text, len, &syn, &n_syn, &err) != KASSA_OK)
        return fail("%s: %s", o.synonyms, err.msg);
    free(text);

    /* 1. Grammar builds; the last recognizer stays for decoding. */
    double build_ms[BUILDS];
    double rss_before = rss_mb();
    double rss_added = 0.0;
    voice_recognizer *r = NULL;
    for (int b = 0; b < BUILDS; b++) {
        voice_recognizer_free(r);
        double before = rss_mb();
        uint64_t t0 = now_ns();
        if (voice_recognizer_new(NULL, items, cat.n_items, syn, n_syn, &r, &err) != KASSA_OK)
            return fail("recognizer: %s", err.msg);
        build_ms[b] = (double)(now_ns() - t0) / 1e6;
        if (b == 0) /* later builds reuse what the first one freed */
            rss_added = rss_mb() - before;
    }
    qsort(build_ms, BUILDS, sizeof *build_ms, cmp_double);
    const voice_grammar *g = voice_recognizer_grammar(r);

    /* 2. Every file, --repeat times. */
    char **names = NULL;
    size_t n_files = 0;
    if (list_wavs(o.dir, &names, &n_files) != 0)
        return 1;
    size_t n = n_files * o.repeat;
    double *lat = calloc(n, sizeof *lat), *rtf = calloc(n, sizeof *rtf);
    if (!lat || !rtf)
        return fail("out of memory");
    double audio_s = 0.0, wall_s = 0.0, cpu_total = 0.0;
    size_t heard = 0, k = 0;
    for (size_t rep = 0; rep < o.repeat; rep++) {
        for (size_t i = 0; i < n_files; i++) {
            char path[BENCH_PATH_MAX];
            snprintf(path, sizeof path, "%s/%s", o.dir, names[i]);
            char *wav;
            size_t wav_len;
            if (read_file(path, &wav, &wav_len, VOICE_WAV_MAX_BYTES) != 0)
                return 1;
            voice_result res;
            double c0 = cpu_s();
            uint64_t t0 = now_ns();
            int rc = voice_recognize_wav(r, (const uint8_t *)wav, wav_len, &res, &err);
            double ms = (double)(now_ns() - t0) / 1e6;
            cpu_total += cpu_s() - c0;
            free(wav);
            if (rc != KASSA_OK)
                return fail("%s: %s", path, err.msg);
            lat[k] = ms;
            rtf[k] = ms / res.audio_ms;
            k++;
            audio_s += res.audio_ms / 1000.0;
            wall_s += ms / 1000.0;
            heard += res.status == VOICE_HEARD;
        }
    }
    qsort(lat, n, sizeof *lat, cmp_double);
    qsort(rtf, n, sizeof *rtf, cmp_double);
    double peak = peak_rss_mb();
    double rtf_all = wall_s / audio_s, rtf_cpu = cpu_total / audio_s;

    if (json) {
        json_t *j = json_pack(
            "{s:i,s:i,s:f,s:i,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f}",
            "files", (int)n_files, "decodes", (int)n, "audio_s", audio_s / (double)o.repeat,
            "phrases", (int)voice_grammar_phrase_count(g), "build_ms_p50", build_ms[BUILDS / 2],
            "build_ms_max", build_ms[BUILDS - 1], "latency_ms_p50", pct(lat, n, 50),
            "latency_ms_p90", pct(lat, n, 90), "latency_ms_p99", pct(lat, n, 99), "latency_ms_max",
            lat[n - 1], "rtf", rtf_all, "rtf_cpu", rtf_cpu, "rtf_p50", pct(rtf, n, 50), "rtf_p99",
            pct(rtf, n, 99), "recognizer_rss_mb", rss_added, "rss_before_mb", rss_before,
            "peak_rss_mb", peak, "target_rtf", TARGET_RTF, "load_average", bench_load_average());
        char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
        if (!s)
            return fail("out of memory");
        puts(s);
        free(s);
        json_decref(j);
    } else {
        printf("bench/voice: %zu files, %.1f s of audio, decoded %zu times each "
               "(load average %.2f)\n",
               n_files, audio_s / (double)o.repeat, o.repeat, bench_load_average());
        printf("grammar: %zu spoken forms of %zu products, %zu synonyms\n",
               voice_grammar_phrase_count(g), cat.n_items, n_syn);
        printf("  recognizer build      p50 %7.1f ms   max %7.1f ms  (%d builds)\n",
               build_ms[BUILDS / 2], build_ms[BUILDS - 1], BUILDS);
        printf(
            "  latency per utterance p50 %7.1f ms   p90 %7.1f ms   p99 %7.1f ms   max %7.1f ms\n",
            pct(lat, n, 50), pct(lat, n, 90), pct(lat, n, 99), lat[n - 1]);
        printf("  real-time factor      %.3f wall, %.3f CPU (target <= %.1f): %s\n", rtf_all,
               rtf_cpu, TARGET_RTF, rtf_all <= TARGET_RTF ? "met" : "NOT met");
        printf("  per utterance RTF     p50 %.3f   p99 %.3f\n", pct(rtf, n, 50), pct(rtf, n, 99));
        printf("  memory                recognizer +%.1f MB resident, process peak %.1f MB\n",
               rss_added, peak);
        printf("  answered with changes %zu of %zu decodes\n", heard, n);
    }
    for (size_t i = 0; i < n_files; i++)
        free(names[i]);
    free(names);
    free(lat);
    free(rtf);
    voice_recognizer_free(r);
    free(syn);
    free(items);
    catalog_csv_result_free(&cat);
    (void)keep;
    return 0;
}
