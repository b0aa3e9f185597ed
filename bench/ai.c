/*
 * bench/ai: single-thread inference latency and memory of the edge AI
 * runtime (src/ai).
 *
 * For each model: load it (XNNPACK backend), fill input 0 (person_detect:
 * the person test image when it sits next to the model; other models: a
 * zero input), run --warmup invocations, then time --runs invocations one
 * by one (CLOCK_MONOTONIC around ai_model_invoke) and report p50 / p99 /
 * mean / max in milliseconds, with the model's planned memory
 * (ai_model_memory_bytes: arena + weights + parameters + XNNPACK's packed
 * weights and workspaces). The reference backend (C kernels with TFLite's
 * integer arithmetic) is timed too, with a tenth of the runs. The process's
 * peak RSS closes the report.
 *
 * Models: tests/fixtures/tflm/person_detection/person_detect.tflite under
 * the source tree ($KASSA_SRC, else the current directory), the product
 * model models/product/product.tflite there when it exists, and every path
 * given on the command line.
 *
 * A benchmark, not a test: no timing is asserted. Exit status 1 when a
 * model fails to load or to run.
 */
#define BENCH_NAME "ai"
#include "benchutil.h"

#include "ai/ai.h"

#include <sys/resource.h>

#define AI_BENCH_MAX_MODELS 16
#define AI_BENCH_DEFAULT_RUNS 2000
#define AI_BENCH_DEFAULT_WARMUP 100
#define PERSON_MODEL "tests/fixtures/tflm/person_detection/person_detect.tflite"
#define PERSON_INPUT "tests/fixtures/tflm/person_detection/person_96x96_int8.raw"
#define PRODUCT_MODEL "models/product/product.tflite"

typedef struct options {
    size_t runs, warmup;
    const char *models[AI_BENCH_MAX_MODELS];
    int n_models;
} options;

static void usage(FILE *f)
{
    fprintf(f, "usage: ai [options] [MODEL.tflite ...]\n"
               "  --runs N          timed invocations per model (default 2000)\n"
               "  --warmup N        untimed invocations first (default 100)\n" BENCH_USAGE_COMMON);
}

static int value_option(const char *a, const char *v, void *ctx)
{
    options *o = ctx;
    if (strcmp(a, "--runs") == 0)
        return parse_size(a, v, 1, 10000000, &o->runs);
    if (strcmp(a, "--warmup") == 0)
        return parse_size(a, v, 0, 1000000, &o->warmup);
    return -1;
}

/* Reads a whole (small) file; NULL when it cannot. */
static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    uint8_t *buf = NULL;
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc(n > 0 ? (size_t)n : 1)) && fread(buf, 1, (size_t)n, f) == (size_t)n) {
        *len = (size_t)n;
    } else {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

typedef struct result {
    char name[64];
    const char *backend;
    int ops, xnn_ops;
    uint64_t work; /* multiply-adds per invoke */
    size_t memory_bytes;
    bench_stats st;     /* wall clock */
    bench_stats st_cpu; /* this thread's CPU time: without preemption by other processes */
} result;

static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* Loads and times one model on one backend. */
static int bench_model(const char *path, const char *input_path, ai_backend backend, size_t runs,
                       size_t warmup, result *r)
{
    kassa_err err = {0};
    ai_model *m = NULL;
    size_t len = 0;
    uint8_t *bytes = read_file(path, &len);
    if (!bytes)
        return fail("%s: cannot read", path);
    ai_load_opts opts = {.backend = backend};
    int rc = ai_model_load_opts(bytes, len, &opts, &m, &err);
    free(bytes);
    if (rc < 0)
        return fail("%s: %s", path, err.msg);
    ai_tensor_info in;
    if (ai_model_input_info(m, 0, &in, &err) < 0) {
        ai_model_free(m);
        return fail("%s: %s", path, err.msg);
    }
    memset(ai_model_input(m, 0), 0, in.size_bytes);
    size_t ilen = 0;
    uint8_t *input = input_path ? read_file(input_path, &ilen) : NULL;
    if (input && ilen == in.size_bytes)
        memcpy(ai_model_input(m, 0), input, ilen);
    free(input);
    uint64_t *ns = malloc(runs * sizeof *ns), *cpu = malloc(runs * sizeof *cpu);
    if (!ns || !cpu) {
        free(ns);
        free(cpu);
        ai_model_free(m);
        return fail("out of memory");
    }
    for (size_t i = 0; i < warmup + runs && rc == 0; i++) {
        uint64_t c0 = thread_cpu_ns(), t0 = now_ns();
        if (ai_model_invoke(m, &err) < 0)
            rc = fail("%s: %s", path, err.msg);
        uint64_t t1 = now_ns(), c1 = thread_cpu_ns();
        if (i >= warmup) {
            ns[i - warmup] = t1 - t0;
            cpu[i - warmup] = c1 - c0;
        }
    }
    if (rc == 0) {
        snprintf(r->name, sizeof r->name, "%s", base_name(path));
        r->backend = backend == AI_BACKEND_AUTO ? "xnnpack" : "reference";
        r->ops = ai_model_op_count(m);
        r->xnn_ops = ai_model_xnn_op_count(m);
        r->memory_bytes = ai_model_memory_bytes(m);
        r->work = ai_model_work(m);
        bench_stats_in_place(ns, runs, &r->st);
        bench_stats_in_place(cpu, runs, &r->st_cpu);
    }
    free(ns);
    free(cpu);
    ai_model_free(m);
    return rc;
}

int main(int argc, char **argv)
{
    options o = {.runs = AI_BENCH_DEFAULT_RUNS, .warmup = AI_BENCH_DEFAULT_WARMUP};
    bool json = false, keep = false;
    /* Positional model paths are taken out before the option parser. */
    int kept = 1;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] != '-') {
            if (i > 1 && argv[i - 1][0] == '-' && strcmp(argv[i - 1], "--json") != 0 &&
                strcmp(argv[i - 1], "--keep") != 0) {
                argv[kept++] = argv[i]; /* an option's value */
                continue;
            }
            if (o.n_models >= AI_BENCH_MAX_MODELS - 2)
                return fail("at most %d models", AI_BENCH_MAX_MODELS - 2);
            o.models[o.n_models++] = argv[i];
            continue;
        }
        argv[kept++] = argv[i];
    }
    if (bench_parse_options(kept, argv, &json, &keep, usage, value_option, &o) != 0)
        return 1;
    const char *src = getenv("KASSA_SRC") ? getenv("KASSA_SRC") : ".";
    static char person[BENCH_PATH_MAX], person_in[BENCH_PATH_MAX], product[BENCH_PATH_MAX];
    snprintf(person, sizeof person, "%s/%s", src, PERSON_MODEL);
    snprintf(person_in, sizeof person_in, "%s/%s", src, PERSON_INPUT);
    snprintf(product, sizeof product, "%s/%s", src, PRODUCT_MODEL);

    const char *paths[AI_BENCH_MAX_MODELS];
    int n = 0;
    paths[n++] = person;
    if (bench_is_file(product))
        paths[n++] = product;
    for (int i = 0; i < o.n_models; i++)
        paths[n++] = o.models[i];

    result res[2 * AI_BENCH_MAX_MODELS];
    int nr = 0;
    for (int i = 0; i < n; i++) {
        const char *input = i == 0 ? person_in : NULL;
        if (bench_model(paths[i], input, AI_BACKEND_AUTO, o.runs, o.warmup, &res[nr]) != 0)
            return 1;
        nr++;
        size_t ref_runs = o.runs / 10 ? o.runs / 10 : 1;
        if (bench_model(paths[i], input, AI_BACKEND_REFERENCE, ref_runs, o.warmup / 10, &res[nr]) !=
            0)
            return 1;
        nr++;
    }
    struct rusage ru;
    long max_rss_kb = getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1;

    if (json) {
        json_t *arr = json_array();
        for (int i = 0; i < nr && arr; i++) {
            json_t *row = json_pack(
                "{s:s,s:s,s:i,s:i,s:I,s:I,s:o,s:o}", "model", res[i].name, "backend",
                res[i].backend, "ops", res[i].ops, "xnn_ops", res[i].xnn_ops, "work_macs",
                (json_int_t)res[i].work, "memory_bytes", (json_int_t)res[i].memory_bytes, "latency",
                bench_stats_json(&res[i].st), "cpu", bench_stats_json(&res[i].st_cpu));
            if (!row || json_array_append_new(arr, row) != 0) {
                json_decref(arr);
                arr = NULL;
            }
        }
        return bench_print_json(json_pack("{s:o,s:I,s:i}", "models", arr, "max_rss_kb",
                                          (json_int_t)max_rss_kb, "threads", 1)) != 0;
    }
    printf("edge AI runtime, one thread, %zu timed runs per model after %zu warm-up "
           "(reference: a tenth)\n",
           o.runs, o.warmup);
    printf("%-30s %-9s %7s %6s %6s %8s %8s %8s %8s %8s %8s %10s\n", "model", "backend", "xnn/ops",
           "MMAC", "runs", "p50 ms", "p99 ms", "mean ms", "max ms", "cpu p50", "cpu p99",
           "memory KiB");
    for (int i = 0; i < nr; i++) {
        char ops[16];
        snprintf(ops, sizeof ops, "%d/%d", res[i].xnn_ops, res[i].ops);
        printf("%-30s %-9s %7s %6.2f %6zu %8.4f %8.4f %8.4f %8.4f %8.4f %8.4f %10.1f\n",
               res[i].name, res[i].backend, ops, (double)res[i].work / 1e6, res[i].st.n,
               res[i].st.p50_ms, res[i].st.p99_ms, res[i].st.mean_ms, res[i].st.max_ms,
               res[i].st_cpu.p50_ms, res[i].st_cpu.p99_ms, (double)res[i].memory_bytes / 1024.0);
    }
    printf("ms columns: wall clock; cpu: this thread's CPU time (excludes preemption by other "
           "processes)\nprocess peak RSS: %.1f MiB\n",
           (double)max_rss_kb / 1024.0);
    return 0;
}
