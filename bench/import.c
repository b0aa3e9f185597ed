/*
 * bench/import: what applying another terminal's operations costs. One run
 * builds a terminal with N one-line sales (1 unit of one of S SKUs), exports
 * its whole log and applies it to fresh terminals twice:
 *
 *  1. the export file through term_import (what `kassa import` does: parse,
 *     check, apply in one transaction);
 *  2. the same operations through term_import_ops in batches of B (what a
 *     peer link does with each batch it receives).
 *
 * Printed for each: microseconds per operation of wall time and of this
 * process's CPU time (the commits' fsyncs wait without using the CPU), and
 * whether both replicas reached the source's state hash. A benchmark, not a test:
 * the exit status is 1 only when a call fails or the replicas differ.
 *
 *   bench/import [--dir DIR] [--sales N] [--skus S] [--batch B] [--json] [--keep]
 */
#include "term/term.h"

#define BENCH_NAME "import"
#include "benchutil.h"

typedef struct options {
    const char *parent_dir; /* NULL: the build directory */
    size_t sales;
    size_t skus;
    size_t batch; /* operations per term_import_ops call */
    bool json;
    bool keep;
} options;

typedef struct bench {
    options opt;
    char dir[BENCH_PATH_MAX];
    bool dir_created;
    term *src, *file_dst, *ops_dst;
    catalog_item *items;
    term_cart *cart;
    term_sale_result *res;
    kbuf file;
} bench;

/* This process's CPU time in nanoseconds (0 if it cannot be read). */
static uint64_t cpu_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Time spent: wall and CPU. */
typedef struct spent {
    uint64_t wall_ns, cpu_ns;
} spent;

static int fail_kassa(const char *what, const kassa_err *err)
{
    return fail("%s: %s (%s)", what, err->msg, kassa_strerror(err->code));
}

static void usage(FILE *f)
{
    fputs("usage: import [--dir DIR] [--sales N] [--skus S] [--batch B] [--json] [--keep]\n"
          "  --dir DIR         parent of the fresh working directory (default: the build\n"
          "                    directory)\n"
          "  --sales N         one-line sales on the source terminal (100000)\n"
          "  --skus S          catalog items the sales draw from (100)\n"
          "  --batch B         operations per term_import_ops call (4096)\n" BENCH_USAGE_COMMON,
          f);
}

static int value_option(const char *a, const char *v, void *ctx)
{
    options *o = ctx;
    if (strcmp(a, "--dir") == 0) {
        o->parent_dir = v;
        return 0;
    }
    if (strcmp(a, "--sales") == 0)
        return parse_size(a, v, 1, 10000000, &o->sales);
    if (strcmp(a, "--skus") == 0)
        return parse_size(a, v, 1, 60000, &o->skus);
    if (strcmp(a, "--batch") == 0)
        return parse_size(a, v, 1, 1000000, &o->batch);
    return -1;
}

/* A fresh terminal DIR/name of the bench store. */
static int open_term(bench *b, const char *name, term **out)
{
    char path[BENCH_PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", b->dir, name) >= sizeof path)
        return fail("working directory path too long");
    kassa_err err;
    kassa_err_clear(&err);
    if (term_init(path, "bench-store", name, &err) != KASSA_OK)
        return fail_kassa("term_init", &err);
    if (term_open(path, out, &err) != KASSA_OK)
        return fail_kassa("term_open", &err);
    return 0;
}

/* The source: a catalog with stock, then the sales, 1000 per transaction
 * (how they are made does not matter here, only that they exist). */
static int make_source(bench *b)
{
    kassa_err err;
    kassa_err_clear(&err);
    if (open_term(b, "till-1", &b->src) != 0)
        return 1;
    size_t n = b->opt.skus;
    b->items = bench_catalog(n, 1000000);
    b->cart = malloc(sizeof *b->cart);
    b->res = malloc(sizeof *b->res);
    if (!b->items || !b->cart || !b->res)
        return fail("out of memory (catalog)");
    if (term_catalog_import(b->src, b->items, n, &err) != KASSA_OK)
        return fail_kassa("term_catalog_import", &err);
    uint64_t rng = 0x1390u;
    for (size_t done = 0; done < b->opt.sales;) {
        if (term_batch_begin(b->src, &err) != KASSA_OK)
            return fail_kassa("term_batch_begin", &err);
        for (size_t k = 0; k < 1000 && done < b->opt.sales; k++, done++) {
            b->cart->n_lines = 0;
            const char *sku = b->items[splitmix64(&rng) % n].sku;
            if (term_cart_add(b->cart, sku, 1, &err) != KASSA_OK ||
                term_sale(b->src, b->cart, 100000, b->res, &err) != KASSA_OK) {
                term_batch_rollback(b->src);
                return fail_kassa("term_sale", &err);
            }
        }
        if (term_batch_commit(b->src, &err) != KASSA_OK)
            return fail_kassa("term_batch_commit", &err);
    }
    kbuf_init(&b->file);
    if (term_export(b->src, NULL, &b->file, &err) != KASSA_OK)
        return fail_kassa("term_export", &err);
    return 0;
}

/* Applies the export file in batches of opt.batch operations; *t gets
 * the time spent in term_import_ops alone. */
static int import_batches(bench *b, spent *t)
{
    kassa_err err;
    kassa_err_clear(&err);
    oplog_file f;
    if (oplog_file_parse(b->file.data, b->file.len, &f, &err) != KASSA_OK)
        return fail_kassa("oplog_file_parse", &err);
    *t = (spent){0, 0};
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < f.n_ops; i += b->opt.batch) {
        size_t k = f.n_ops - i < b->opt.batch ? f.n_ops - i : b->opt.batch;
        term_import_report rep;
        uint64_t w0 = now_ns(), c0 = cpu_ns();
        if (term_import_ops(b->ops_dst, f.ops + i, k, &rep, &err) != KASSA_OK)
            rc = fail_kassa("term_import_ops", &err);
        t->cpu_ns += cpu_ns() - c0;
        t->wall_ns += now_ns() - w0;
    }
    oplog_file_free(&f);
    return rc;
}

static int same_state(bench *b, term *dst, const char *what)
{
    uint8_t want[32], got[32];
    kassa_err err;
    kassa_err_clear(&err);
    if (term_state_hash(b->src, want, &err) != KASSA_OK ||
        term_state_hash(dst, got, &err) != KASSA_OK)
        return fail_kassa("term_state_hash", &err);
    if (memcmp(want, got, sizeof want) != 0)
        return fail("%s: the replica's state differs from the source's", what);
    return 0;
}

static int run(bench *b)
{
    if (bench_make_workdir(b->opt.parent_dir, b->dir, sizeof b->dir, &b->dir_created) != 0)
        return 1;
    if (make_source(b) != 0 || open_term(b, "till-2", &b->file_dst) != 0 ||
        open_term(b, "till-3", &b->ops_dst) != 0)
        return 1;
    term_status st;
    kassa_err err;
    kassa_err_clear(&err);
    if (term_status_get(b->src, &st, &err) != KASSA_OK)
        return fail_kassa("term_status_get", &err);
    /* The destinations' own origins hold nothing: both hash like the
     * source once they hold its operations. */
    term_import_report rep;
    uint64_t w0 = now_ns(), c0 = cpu_ns();
    if (term_import(b->file_dst, b->file.data, b->file.len, &rep, &err) != KASSA_OK)
        return fail_kassa("term_import", &err);
    spent file = {now_ns() - w0, cpu_ns() - c0}, ops = {0, 0};
    if (import_batches(b, &ops) != 0 || same_state(b, b->file_dst, "term_import") != 0 ||
        same_state(b, b->ops_dst, "term_import_ops") != 0)
        return 1;
    double n = (double)st.ops * 1e3;
    if (b->opt.json)
        printf("{\"bench\":\"import\",\"ops\":%zu,\"sales\":%zu,\"skus\":%zu,\"batch\":%zu,"
               "\"file_us_per_op\":%.3f,\"file_cpu_us_per_op\":%.3f,"
               "\"batches_us_per_op\":%.3f,\"batches_cpu_us_per_op\":%.3f}\n",
               st.ops, b->opt.sales, b->opt.skus, b->opt.batch, (double)file.wall_ns / n,
               (double)file.cpu_ns / n, (double)ops.wall_ns / n, (double)ops.cpu_ns / n);
    else
        printf("bench/import: %zu operations (%zu one-line sales, %zu SKUs)\n"
               "                                   wall us/op   CPU us/op\n"
               "  term_import, one file             %10.3f  %10.3f\n"
               "  term_import_ops, batches of %-6zu%10.3f  %10.3f\n"
               "  replicas match the source: yes\n",
               st.ops, b->opt.sales, b->opt.skus, (double)file.wall_ns / n, (double)file.cpu_ns / n,
               b->opt.batch, (double)ops.wall_ns / n, (double)ops.cpu_ns / n);
    if (fflush(stdout) != 0)
        return fail("writing the results: %s", strerror(errno));
    return 0;
}

int main(int argc, char **argv)
{
    bench b;
    memset(&b, 0, sizeof b);
    b.opt = (options){.sales = 100000, .skus = 100, .batch = 4096};
    if (bench_parse_options(argc, argv, &b.opt.json, &b.opt.keep, usage, value_option, &b.opt) != 0)
        return 1;
    int rc = run(&b);
    term_close(b.src);
    term_close(b.file_dst);
    term_close(b.ops_dst);
    kbuf_free(&b.file);
    free(b.items);
    free(b.cart);
    free(b.res);
    if (bench_remove_dir(b.dir, b.dir_created, b.opt.keep) != 0)
        rc = 1;
    return rc;
}
