/*
 * bench/commit: what a sale costs to make durable, against the floor of
 * SQLite itself on the same disk. One run prints:
 *
 *  1. single-sale commit latency through the core API (term_sale, one
 *     transaction and one fsync per sale): p50, p99, mean, max;
 *  2. the same for a raw SQLite database opened with the same pragmas,
 *     one row like an operation per transaction, interleaved in blocks with
 *     (1) so both see the same disk conditions; and the ratio core/raw;
 *  3. group commit: sales per second in batches of B per transaction
 *     (term_batch_begin / term_batch_commit), and raw rows per second with
 *     the same batch size;
 *  4. bytes at rest after a WAL checkpoint: ops table bytes per sale
 *     operation (dbstat), database file bytes per sale, and the average
 *     encoded sale payload.
 *
 * A benchmark, not a test: nothing is asserted about timing; the exit
 * status is 1 only when a call fails. docs/BENCHMARKS.md explains the
 * figures and records the last measurements.
 */
#include "term/term.h"

#define BENCH_NAME "commit"
#include "benchutil.h"

#include <inttypes.h>

#define TARGET_RATIO 1.5
#define TARGET_SALES_PER_S 20000.0
#define TARGET_BYTES_PER_OP 150.0

#define RAW_PAYLOAD_BYTES 25
#define SALE_LINES_MAX 3
#define TABLES_MAX 32

typedef struct options {
    const char *parent_dir; /* NULL: the build directory */
    size_t sales;           /* timed single sales (and raw inserts) */
    size_t warmup;          /* untimed ones before, each side */
    size_t block;           /* interleaving block */
    size_t group_sales;
    size_t batch;
    size_t catalog_items;
    bool json;
    bool keep;
} options;

typedef struct latency_stats {
    double p50_us;
    double p99_us;
    double mean_us;
    double max_us;
} latency_stats;

/* One sale as the benchmark will ring it up: catalog indices and units,
 * and the cash handed over (the total rounded up to the next 5.00). */
typedef struct sale_spec {
    uint8_t n_lines;
    uint16_t item[SALE_LINES_MAX];
    uint8_t qty[SALE_LINES_MAX];
    int64_t tendered;
} sale_spec;

typedef struct raw_db {
    sqlite3 *db;
    sqlite3_stmt *begin;
    sqlite3_stmt *insert;
    sqlite3_stmt *commit;
    sqlite3_stmt *rollback;
    uint64_t seq;
    uint64_t rng;
} raw_db;

typedef struct table_bytes {
    char name[64];
    int64_t before_bytes;
    int64_t after_bytes;
} table_bytes;

typedef struct at_rest {
    bool dbstat;
    size_t n_tables;
    table_bytes tables[TABLES_MAX];
    int64_t file_before_bytes;
    int64_t file_after_bytes;
} at_rest;

typedef struct bench {
    options opt;
    char dir[BENCH_PATH_MAX];
    char term_dir[BENCH_PATH_MAX];
    char raw_path[BENCH_PATH_MAX];
    bool dir_created;
    const char *fs_name;
    bool fs_is_ram;
    term *t;
    raw_db raw;
    catalog_item *items;
    term_cart *cart;
    term_sale_result *res;
    sale_spec *specs;
    size_t n_specs;
    size_t next_spec;
    uint64_t *core_ns;
    uint64_t *raw_ns;
    size_t sales_made;
    at_rest rest;
} bench;

/* ---- small helpers ---- */

static int fail_kassa(const char *what, const kassa_err *err)
{
    return fail("%s: %s (%s)", what, err->msg, kassa_strerror(err->code));
}

static int fail_sqlite(sqlite3 *db, const char *what)
{
    return fail("%s: %s", what, db ? sqlite3_errmsg(db) : "no database");
}

static void usage(FILE *f)
{
    fputs("usage: commit [--dir DIR] [--sales N] [--group-sales M] [--batch B] [--block K]\n"
          "              [--warmup W] [--catalog C] [--json] [--keep]\n"
          "  --dir DIR         parent of the fresh working directory (default: the build\n"
          "                    directory); both databases live there, on the same disk\n"
          "  --sales N         timed single sales and raw single-row commits (10000)\n"
          "  --warmup W        untimed interleaved ones first, each side, after both\n"
          "                    WALs have wrapped once (200; see docs/BENCHMARKS.md)\n"
          "  --block K         interleaving block: K sales, then K raw commits (10)\n"
          "  --group-sales M   sales in the group commit run (50000)\n"
          "  --batch B         sales per transaction in the group commit run (1000)\n"
          "  --catalog C       catalog items imported before selling (1000)\n" BENCH_USAGE_COMMON,
          f);
}

/* One option taking a value (bench_parse_options). */
static int value_option(const char *a, const char *v, void *ctx)
{
    options *o = ctx;
    int rc = 0;
    if (strcmp(a, "--dir") == 0)
        o->parent_dir = v;
    else if (strcmp(a, "--sales") == 0)
        rc = parse_size(a, v, 1, 10000000, &o->sales);
    else if (strcmp(a, "--warmup") == 0)
        rc = parse_size(a, v, 0, 1000000, &o->warmup);
    else if (strcmp(a, "--block") == 0)
        rc = parse_size(a, v, 1, 1000000, &o->block);
    else if (strcmp(a, "--group-sales") == 0)
        rc = parse_size(a, v, 1, 100000000, &o->group_sales);
    else if (strcmp(a, "--batch") == 0)
        rc = parse_size(a, v, 1, 1000000, &o->batch);
    else if (strcmp(a, "--catalog") == 0)
        rc = parse_size(a, v, 1, 60000, &o->catalog_items);
    else
        return -1;
    return rc;
}

static int parse_args(int argc, char **argv, options *o)
{
    *o = (options){.sales = 10000,
                   .warmup = 200,
                   .block = 10,
                   .group_sales = 50000,
                   .batch = 1000,
                   .catalog_items = 1000};
    if (bench_parse_options(argc, argv, &o->json, &o->keep, usage, value_option, o) != 0)
        return 1;
    return 0;
}

/* ---- working directory ---- */

static int make_dirs(bench *b)
{
    if (bench_make_workdir(b->opt.parent_dir, b->dir, sizeof b->dir, &b->dir_created) != 0)
        return 1;
    if ((size_t)snprintf(b->term_dir, sizeof b->term_dir, "%s/term", b->dir) >=
            sizeof b->term_dir ||
        (size_t)snprintf(b->raw_path, sizeof b->raw_path, "%s/raw.db", b->dir) >=
            sizeof b->raw_path)
        return fail("working directory path too long");
    return bench_describe_fs(b->dir, &b->fs_name, &b->fs_is_ram);
}

/* ---- raw SQLite: the floor ---- */

static int raw_prepare(raw_db *r, const char *sql, sqlite3_stmt **st)
{
    if (sqlite3_prepare_v3(r->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK)
        return fail_sqlite(r->db, sql);
    return 0;
}

static int query_text(sqlite3 *db, const char *sql, char *out, size_t size)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return fail_sqlite(db, sql);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(st);
        return fail_sqlite(db, sql);
    }
    const unsigned char *text = sqlite3_column_text(st, 0);
    snprintf(out, size, "%s", text ? (const char *)text : "");
    sqlite3_finalize(st);
    return 0;
}

/* The pragmas store_open sets, read back so the comparison is known fair. */
static int check_durability(sqlite3 *db, const char *which)
{
    char mode[32], sync[32];
    if (query_text(db, "PRAGMA journal_mode", mode, sizeof mode) != 0 ||
        query_text(db, "PRAGMA synchronous", sync, sizeof sync) != 0)
        return 1;
    if (strcmp(mode, "wal") != 0 || strcmp(sync, "2") != 0)
        return fail("%s database: journal_mode=%s synchronous=%s, expected wal and 2 (FULL)", which,
                    mode, sync);
    return 0;
}

/* Opens raw SQLite as store_open opens the terminal's database: the same
 * durability pragmas, plus the WAL sizing pragmas read back from the
 * terminal's connection (core), whatever store_open sets them to. */
static int raw_open(raw_db *r, const char *path, sqlite3 *core)
{
    memset(r, 0, sizeof *r);
    r->rng = 0x5eed0001u;
    int rc = sqlite3_open_v2(path, &r->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK)
        return fail("open %s: %s", path, r->db ? sqlite3_errmsg(r->db) : sqlite3_errstr(rc));
    sqlite3_extended_result_codes(r->db, 1);
    sqlite3_busy_timeout(r->db, 5000);
    /* The page size decides how many bytes a commit writes: same as the
     * terminal's, set before the first table exists. */
    char page_sql[64], page_size[32];
    if (query_text(core, "PRAGMA page_size", page_size, sizeof page_size) != 0)
        return 1;
    snprintf(page_sql, sizeof page_sql, "PRAGMA page_size=%lld", strtoll(page_size, NULL, 10));
    if (sqlite3_exec(r->db, page_sql, NULL, NULL, NULL) != SQLITE_OK)
        return fail_sqlite(r->db, "raw page size");
    if (sqlite3_exec(r->db,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=OFF;"
                     "PRAGMA trusted_schema=OFF;"
                     "CREATE TABLE ops(origin INTEGER, seq INTEGER, hlc INTEGER, kind INTEGER,"
                     "  payload BLOB, hash BLOB, PRIMARY KEY(origin, seq)) WITHOUT ROWID;",
                     NULL, NULL, NULL) != SQLITE_OK)
        return fail_sqlite(r->db, "raw database setup");
    if (check_durability(r->db, "raw") != 0)
        return 1;
    static const char *const MIRRORED[] = {"journal_size_limit", "wal_autocheckpoint"};
    for (size_t i = 0; i < KASSA_ARRAY_LEN(MIRRORED); i++) {
        char sql[96], value[32];
        snprintf(sql, sizeof sql, "PRAGMA %s", MIRRORED[i]);
        if (query_text(core, sql, value, sizeof value) != 0)
            return 1;
        snprintf(sql, sizeof sql, "PRAGMA %s=%lld", MIRRORED[i], strtoll(value, NULL, 10));
        if (query_text(r->db, sql, value, sizeof value) != 0)
            return 1;
    }
    if (raw_prepare(r, "BEGIN IMMEDIATE", &r->begin) != 0 ||
        raw_prepare(r,
                    "INSERT INTO ops(origin, seq, hlc, kind, payload, hash) "
                    "VALUES(1, ?1, ?2, 2, ?3, ?4)",
                    &r->insert) != 0 ||
        raw_prepare(r, "COMMIT", &r->commit) != 0 || raw_prepare(r, "ROLLBACK", &r->rollback) != 0)
        return 1;
    return 0;
}

static void raw_close(raw_db *r)
{
    sqlite3_finalize(r->begin);
    sqlite3_finalize(r->insert);
    sqlite3_finalize(r->commit);
    sqlite3_finalize(r->rollback);
    if (r->db)
        sqlite3_close(r->db);
    memset(r, 0, sizeof *r);
}

static int raw_step(raw_db *r, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) {
        fail("raw %s: %s", what, sqlite3_errmsg(r->db));
        sqlite3_reset(st);
        return 1;
    }
    sqlite3_reset(st);
    return 0;
}

/* One transaction of n rows; a row is an operation's worth of bytes: an
 * 8-byte hlc, a RAW_PAYLOAD_BYTES payload and a 32-byte hash. */
static int raw_tx(raw_db *r, size_t n)
{
    if (raw_step(r, r->begin, "begin") != 0)
        return 1;
    for (size_t i = 0; i < n; i++) {
        /* Random bytes, whole 8-byte words (both sizes rounded up). */
        uint8_t payload[(RAW_PAYLOAD_BYTES + 7) / 8 * 8], hash[(OPLOG_HASH_SIZE + 7) / 8 * 8];
        for (size_t j = 0; j + 8 <= sizeof payload; j += 8) {
            uint64_t v = splitmix64(&r->rng);
            memcpy(payload + j, &v, 8);
        }
        for (size_t j = 0; j + 8 <= sizeof hash; j += 8) {
            uint64_t v = splitmix64(&r->rng);
            memcpy(hash + j, &v, 8);
        }
        r->seq++;
        sqlite3_bind_int64(r->insert, 1, (int64_t)r->seq);
        sqlite3_bind_int64(r->insert, 2,
                           (int64_t)(UINT64_C(1700000000000) << 16) + (int64_t)r->seq);
        sqlite3_bind_blob(r->insert, 3, payload, RAW_PAYLOAD_BYTES, SQLITE_TRANSIENT);
        sqlite3_bind_blob(r->insert, 4, hash, OPLOG_HASH_SIZE, SQLITE_TRANSIENT);
        if (raw_step(r, r->insert, "insert") != 0) {
            sqlite3_step(r->rollback);
            sqlite3_reset(r->rollback);
            return 1;
        }
    }
    if (raw_step(r, r->commit, "commit") != 0) {
        if (!sqlite3_get_autocommit(r->db)) {
            sqlite3_step(r->rollback);
            sqlite3_reset(r->rollback);
        }
        return 1;
    }
    return 0;
}

/* ---- the terminal ---- */

static const char *const TAX_CLASSES[] = {"standard", "standard", "reduced", "zero"};

static int setup_term(bench *b)
{
    kassa_err err;
    kassa_err_clear(&err);
    if (term_init(b->term_dir, "bench-store", "till-1", &err) != KASSA_OK)
        return fail_kassa("term_init", &err);
    if (term_open(b->term_dir, &b->t, &err) != KASSA_OK)
        return fail_kassa("term_open", &err);
    if (check_durability(b->t->st.db, "core") != 0)
        return 1;

    size_t n = b->opt.catalog_items;
    b->items = calloc(n, sizeof *b->items);
    if (!b->items)
        return fail("out of memory (catalog)");
    uint64_t rng = 0xca7a1090u;
    for (size_t i = 0; i < n; i++) {
        catalog_item *it = &b->items[i];
        snprintf(it->sku, sizeof it->sku, "SKU%05zu", i);
        snprintf(it->name, sizeof it->name, "Item %zu", i);
        snprintf(it->barcode, sizeof it->barcode, "200%010zu", i);
        it->price = 50 + (int64_t)(splitmix64(&rng) % 4951); /* 0.50 .. 50.00 */
        snprintf(it->tax_class, sizeof it->tax_class, "%s",
                 TAX_CLASSES[i % KASSA_ARRAY_LEN(TAX_CLASSES)]);
        it->stock = 1000;
        it->line = (unsigned)(i + 2);
    }
    if (term_catalog_import(b->t, b->items, n, &err) != KASSA_OK)
        return fail_kassa("term_catalog_import", &err);

    b->cart = malloc(sizeof *b->cart);
    b->res = malloc(sizeof *b->res);
    if (!b->cart || !b->res)
        return fail("out of memory (cart)");
    return 0;
}

/* Draws every sale up front, with its tendered cash computed by the
 * pricing module from the catalog and the terminal's tax rates, so that
 * no timed section contains benchmark bookkeeping. */
static int make_specs(bench *b)
{
    size_t n = b->opt.catalog_items;
    int32_t *rate_bp = calloc(n, sizeof *rate_bp);
    b->n_specs = b->opt.warmup + b->opt.sales + b->opt.group_sales;
    b->specs = calloc(b->n_specs, sizeof *b->specs);
    if (!rate_bp || !b->specs) {
        free(rate_bp);
        return fail("out of memory (sales)");
    }
    kassa_err err;
    kassa_err_clear(&err);
    for (size_t i = 0; i < n; i++) {
        if (term_tax_rate(b->t, b->items[i].tax_class, &rate_bp[i], &err) != KASSA_OK) {
            free(rate_bp);
            return fail_kassa("term_tax_rate", &err);
        }
    }
    uint64_t rng = 0x5a1e5u;
    for (size_t s = 0; s < b->n_specs; s++) {
        sale_spec *sp = &b->specs[s];
        pricing_line_in in[SALE_LINES_MAX];
        pricing_line_out out[SALE_LINES_MAX];
        pricing_totals tot;
        sp->n_lines = (uint8_t)(1 + splitmix64(&rng) % SALE_LINES_MAX);
        for (size_t l = 0; l < sp->n_lines; l++) {
            bool dup;
            do { /* distinct items per sale */
                sp->item[l] = (uint16_t)(splitmix64(&rng) % n);
                dup = false;
                for (size_t k = 0; k < l; k++)
                    dup = dup || sp->item[k] == sp->item[l];
            } while (dup && n >= SALE_LINES_MAX);
            sp->qty[l] = (uint8_t)(1 + splitmix64(&rng) % 3);
            in[l] = (pricing_line_in){.unit_price = b->items[sp->item[l]].price,
                                      .qty = sp->qty[l],
                                      .tax_rate_bp = rate_bp[sp->item[l]]};
        }
        if (pricing_compute(in, sp->n_lines, out, &tot, &err) != KASSA_OK) {
            free(rate_bp);
            return fail_kassa("pricing_compute", &err);
        }
        sp->tendered = (tot.total + 499) / 500 * 500;
    }
    free(rate_bp);
    return 0;
}

static int fill_cart(bench *b, const sale_spec *sp)
{
    kassa_err err;
    kassa_err_clear(&err);
    b->cart->n_lines = 0;
    for (size_t l = 0; l < sp->n_lines; l++)
        if (term_cart_add(b->cart, b->items[sp->item[l]].sku, sp->qty[l], &err) != KASSA_OK)
            return fail_kassa("term_cart_add", &err);
    return 0;
}

/* Rings up the next sale. With latency_ns, times the term_sale call. */
static int core_sale(bench *b, uint64_t *latency_ns)
{
    /* The prepared sales are reused in a cycle when a phase needs more. */
    const sale_spec *sp = &b->specs[b->next_spec++ % b->n_specs];
    if (fill_cart(b, sp) != 0)
        return 1;
    kassa_err err;
    kassa_err_clear(&err);
    uint64_t t0 = 0, t1 = 0;
    if (latency_ns && bench_clock_ns(&t0) != 0)
        return 1;
    if (term_sale(b->t, b->cart, sp->tendered, b->res, &err) != KASSA_OK)
        return fail_kassa("term_sale", &err);
    if (latency_ns) {
        if (bench_clock_ns(&t1) != 0)
            return 1;
        *latency_ns = t1 - t0;
    }
    b->sales_made++;
    return 0;
}

static int raw_single(bench *b, uint64_t *latency_ns)
{
    uint64_t t0 = 0, t1 = 0;
    if (latency_ns && bench_clock_ns(&t0) != 0)
        return 1;
    if (raw_tx(&b->raw, 1) != 0)
        return 1;
    if (latency_ns) {
        if (bench_clock_ns(&t1) != 0)
            return 1;
        *latency_ns = t1 - t0;
    }
    return 0;
}

/* Until a WAL has wrapped once (checkpointed, then rewritten from its start),
 * every commit appends to the WAL file, and an fsync that must also persist
 * a new file size costs more. Each side runs untimed until a commit leaves its
 * WAL file the same size: from then on both are in their steady state. */
#define BENCH_WRAP_MAX_COMMITS 200000

static int file_size(const char *path, int64_t *size_bytes);

static int wrap_wals(bench *b)
{
    char core_wal[BENCH_PATH_MAX + 8], raw_wal[BENCH_PATH_MAX + 8];
    snprintf(core_wal, sizeof core_wal, "%s-wal", b->t->st.path);
    snprintf(raw_wal, sizeof raw_wal, "%s-wal", b->raw_path);
    bool core_done = false, raw_done = false;
    for (size_t i = 0; i < BENCH_WRAP_MAX_COMMITS && !(core_done && raw_done); i++) {
        int64_t before = 0, after = 0;
        if (!core_done) {
            if (file_size(core_wal, &before) != 0 || core_sale(b, NULL) != 0 ||
                file_size(core_wal, &after) != 0)
                return 1;
            core_done = before > 0 && after == before;
        }
        if (!raw_done) {
            if (file_size(raw_wal, &before) != 0 || raw_single(b, NULL) != 0 ||
                file_size(raw_wal, &after) != 0)
                return 1;
            raw_done = before > 0 && after == before;
        }
    }
    if (!(core_done && raw_done))
        return fail("a WAL did not wrap within %d commits", BENCH_WRAP_MAX_COMMITS);
    return 0;
}

/* n core sales and n raw commits, alternating blocks, alternating which
 * side goes first; latencies land in core_ns / raw_ns when non-NULL. */
static int interleaved(bench *b, size_t n, uint64_t *core_ns, uint64_t *raw_ns)
{
    size_t done = 0;
    for (size_t round = 0; done < n; round++) {
        size_t k = n - done < b->opt.block ? n - done : b->opt.block;
        for (int side = 0; side < 2; side++) {
            bool core_turn = (side == 0) == (round % 2 == 0);
            for (size_t i = 0; i < k; i++) {
                int rc = core_turn ? core_sale(b, core_ns ? &core_ns[done + i] : NULL)
                                   : raw_single(b, raw_ns ? &raw_ns[done + i] : NULL);
                if (rc != 0)
                    return rc;
            }
        }
        done += k;
    }
    return 0;
}

/* Group commit: batches alternate between the core and raw SQLite. */
static int group_commit(bench *b, double *core_sales_per_s, double *raw_rows_per_s)
{
    kassa_err err;
    kassa_err_clear(&err);
    uint64_t core_total_ns = 0, raw_total_ns = 0;
    size_t m = b->opt.group_sales;
    for (size_t done = 0; done < m;) {
        size_t k = m - done < b->opt.batch ? m - done : b->opt.batch;
        uint64_t t0 = 0, t1 = 0, t2 = 0;
        if (bench_clock_ns(&t0) != 0)
            return 1;
        if (term_batch_begin(b->t, &err) != KASSA_OK)
            return fail_kassa("term_batch_begin", &err);
        for (size_t i = 0; i < k; i++) {
            if (core_sale(b, NULL) != 0) {
                term_batch_rollback(b->t);
                return 1;
            }
        }
        if (term_batch_commit(b->t, &err) != KASSA_OK)
            return fail_kassa("term_batch_commit", &err);
        if (bench_clock_ns(&t1) != 0 || raw_tx(&b->raw, k) != 0 || bench_clock_ns(&t2) != 0)
            return 1;
        core_total_ns += t1 - t0;
        raw_total_ns += t2 - t1;
        done += k;
    }
    *core_sales_per_s = core_total_ns ? (double)m * 1e9 / (double)core_total_ns : 0;
    *raw_rows_per_s = raw_total_ns ? (double)m * 1e9 / (double)raw_total_ns : 0;
    return 0;
}

/* ---- figures ---- */

/* Pages this connection's pager has written: in WAL mode, WAL frames
 * (checkpoints copy them to the database file without counting here). */
static int pages_written(sqlite3 *db, int64_t *pages)
{
    int cur = 0, high = 0;
    if (sqlite3_db_status(db, SQLITE_DBSTATUS_CACHE_WRITE, &cur, &high, 0) != SQLITE_OK)
        return fail("sqlite3_db_status(CACHE_WRITE) failed");
    *pages = cur;
    return 0;
}

/* Nearest-rank percentiles; sorts v. */
static latency_stats latency_of(uint64_t *v, size_t n)
{
    latency_stats s = {0, 0, 0, 0};
    if (n == 0)
        return s;
    qsort(v, n, sizeof *v, bench_cmp_u64);
    double sum_ns = 0;
    for (size_t i = 0; i < n; i++)
        sum_ns += (double)v[i];
    size_t i50 = (n * 50 + 99) / 100, i99 = (n * 99 + 99) / 100;
    s.p50_us = (double)v[i50 ? i50 - 1 : 0] / 1e3;
    s.p99_us = (double)v[i99 ? i99 - 1 : 0] / 1e3;
    s.mean_us = sum_ns / (double)n / 1e3;
    s.max_us = (double)v[n - 1] / 1e3;
    return s;
}

static int checkpoint(sqlite3 *db)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "PRAGMA wal_checkpoint(TRUNCATE)", -1, &st, NULL) != SQLITE_OK)
        return fail_sqlite(db, "wal_checkpoint");
    int rc = sqlite3_step(st);
    int busy = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        return fail_sqlite(db, "wal_checkpoint");
    if (busy != 0)
        return fail("wal_checkpoint(TRUNCATE) could not complete (busy)");
    return 0;
}

static int file_size(const char *path, int64_t *size_bytes)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return fail("stat %s: %s", path, strerror(errno));
    *size_bytes = (int64_t)sb.st_size;
    return 0;
}

static bool has_dbstat(sqlite3 *db)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM dbstat LIMIT 1", -1, &st, NULL) != SQLITE_OK)
        return false;
    sqlite3_finalize(st);
    return true;
}

/* Bytes per table (b-tree pages, including their free space). Without
 * dbstat, only "ops" is estimated: its key, payload, hash and ~16 bytes of
 * record and cell overhead per row, pages taken as full. */
static int table_sizes(sqlite3 *db, bool dbstat, at_rest *r, bool after)
{
    static const char DBSTAT[] = "SELECT name, sum(pgsize) FROM dbstat GROUP BY name";
    static const char ESTIMATE[] =
        "SELECT 'ops', coalesce(sum(length(payload) + length(hash) + 8 + 4 + 16), 0) FROM ops";
    const char *sql = dbstat ? DBSTAT : ESTIMATE;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return fail_sqlite(db, sql);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        int64_t bytes = sqlite3_column_int64(st, 1);
        if (!name)
            continue;
        table_bytes *tb = NULL;
        for (size_t i = 0; i < r->n_tables; i++)
            if (strcmp(r->tables[i].name, name) == 0)
                tb = &r->tables[i];
        if (!tb) {
            if (r->n_tables >= TABLES_MAX)
                continue;
            tb = &r->tables[r->n_tables++];
            memset(tb, 0, sizeof *tb);
            snprintf(tb->name, sizeof tb->name, "%s", name);
        }
        if (after)
            tb->after_bytes = bytes;
        else
            tb->before_bytes = bytes;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return fail_sqlite(db, sql);
    return 0;
}

static int measure_at_rest(bench *b, bool after)
{
    char db_path[BENCH_PATH_MAX + 16];
    snprintf(db_path, sizeof db_path, "%s/%s", b->term_dir, TERM_DB_FILE);
    if (!after)
        b->rest.dbstat = has_dbstat(b->t->st.db);
    if (checkpoint(b->t->st.db) != 0 ||
        file_size(db_path, after ? &b->rest.file_after_bytes : &b->rest.file_before_bytes) != 0)
        return 1;
    return table_sizes(b->t->st.db, b->rest.dbstat, &b->rest, after);
}

static double table_growth_per_sale(const bench *b, const char *name)
{
    for (size_t i = 0; i < b->rest.n_tables; i++)
        if (strcmp(b->rest.tables[i].name, name) == 0)
            return b->sales_made
                       ? (double)(b->rest.tables[i].after_bytes - b->rest.tables[i].before_bytes) /
                             (double)b->sales_made
                       : 0;
    return 0;
}

static int avg_payload(sqlite3 *db, const char *sql, double *out_bytes)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return fail_sqlite(db, sql);
    int rc = sqlite3_step(st);
    *out_bytes = rc == SQLITE_ROW ? sqlite3_column_double(st, 0) : 0;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        return fail_sqlite(db, sql);
    return 0;
}

/* "12345678.9" -> "12,345,679" */
static const char *grouped(double v, char *out, size_t size)
{
    char digits[32];
    snprintf(digits, sizeof digits, "%.0f", v);
    size_t n = strlen(digits), o = 0;
    for (size_t i = 0; i < n && o + 2 < size; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            out[o++] = ',';
        out[o++] = digits[i];
    }
    out[o] = '\0';
    return out;
}

typedef struct results {
    latency_stats core;
    latency_stats raw;
    double ratio_p50;
    double ratio_p99;
    double core_sales_per_s;
    double raw_rows_per_s;
    double ops_bytes_per_op;
    double db_bytes_per_sale;
    double db_growth_bytes_per_sale;
    double payload_avg_bytes;
    double raw_ops_bytes_per_row;
    size_t ops_total;
    double core_wal_pages_per_commit;
    double raw_wal_pages_per_commit;
    int64_t wal_autocheckpoint_pages;
} results;

static void print_table(const bench *b, const results *r)
{
    const options *o = &b->opt;
    char g1[32], g2[32];
    printf("kassa bench/commit  (dir: %s, fs: %s, N=%zu, warm-up %zu, blocks of %zu, "
           "sqlite %s)\n",
           b->dir, b->fs_name, o->sales, o->warmup, o->block, sqlite3_libversion());
    if (b->fs_is_ram)
        printf("WARNING: %s is on %s: fsync costs nothing there, the latencies say nothing "
               "about a disk\n",
               b->dir, b->fs_name);
    printf("                          p50 us   p99 us   mean us   max us\n");
    printf("core term_sale          %8.1f %8.1f  %8.1f %8.1f\n", r->core.p50_us, r->core.p99_us,
           r->core.mean_us, r->core.max_us);
    printf("raw sqlite insert+commit%8.1f %8.1f  %8.1f %8.1f\n", r->raw.p50_us, r->raw.p99_us,
           r->raw.mean_us, r->raw.max_us);
    printf("ratio core/raw          %8.2f %8.2f\n", r->ratio_p50, r->ratio_p99);
    printf("WAL pages per commit: core %.1f, raw %.1f (autocheckpoint at %" PRId64
           " pages: inside one sale in %.0f, one raw commit in %.0f)\n",
           r->core_wal_pages_per_commit, r->raw_wal_pages_per_commit, r->wal_autocheckpoint_pages,
           r->core_wal_pages_per_commit > 0
               ? (double)r->wal_autocheckpoint_pages / r->core_wal_pages_per_commit
               : 0,
           r->raw_wal_pages_per_commit > 0
               ? (double)r->wal_autocheckpoint_pages / r->raw_wal_pages_per_commit
               : 0);
    printf("group commit (batch %zu, %zu sales): core %s sales/s   raw sqlite %s rows/s\n",
           o->batch, o->group_sales, grouped(r->core_sales_per_s, g1, sizeof g1),
           grouped(r->raw_rows_per_s, g2, sizeof g2));
    printf("at rest: ops table %.1f B/sale op%s, database %.1f B/sale (growth %.1f B/sale), "
           "payload %.1f B avg\n",
           r->ops_bytes_per_op, b->rest.dbstat ? "" : " (estimate: no dbstat)",
           r->db_bytes_per_sale, r->db_growth_bytes_per_sale, r->payload_avg_bytes);
    if (b->rest.dbstat) {
        printf("at rest by b-tree, growth per sale:");
        for (size_t i = 0; i < b->rest.n_tables; i++) {
            double v = table_growth_per_sale(b, b->rest.tables[i].name);
            if (v >= 0.05)
                printf(" %s %.1f", b->rest.tables[i].name, v);
        }
        printf(" (B); raw ops table %.1f B/row\n", r->raw_ops_bytes_per_row);
    }
    printf("targets: ratio <= %.1f [%s], >= %.0f sales/s [%s], <= %.0f B/op [%s]\n", TARGET_RATIO,
           r->ratio_p50 <= TARGET_RATIO && r->ratio_p99 <= TARGET_RATIO ? "ok" : "MISSED",
           TARGET_SALES_PER_S, r->core_sales_per_s >= TARGET_SALES_PER_S ? "ok" : "MISSED",
           TARGET_BYTES_PER_OP, r->ops_bytes_per_op <= TARGET_BYTES_PER_OP ? "ok" : "MISSED");
    printf("(%zu sales in all, %zu operations in the log)\n", b->sales_made, r->ops_total);
}

static void print_json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static void print_json(const bench *b, const results *r)
{
    const options *o = &b->opt;
    printf("{\"dir\":");
    print_json_string(b->dir);
    printf(",\"fs\":");
    print_json_string(b->fs_name);
    printf(",\"fs_is_ram\":%s,\"sqlite\":\"%s\",\"sales\":%zu,\"warmup\":%zu,\"block\":%zu,"
           "\"catalog_items\":%zu",
           b->fs_is_ram ? "true" : "false", sqlite3_libversion(), o->sales, o->warmup, o->block,
           o->catalog_items);
    printf(",\"core_latency_us\":{\"p50\":%.1f,\"p99\":%.1f,\"mean\":%.1f,\"max\":%.1f}",
           r->core.p50_us, r->core.p99_us, r->core.mean_us, r->core.max_us);
    printf(",\"raw_latency_us\":{\"p50\":%.1f,\"p99\":%.1f,\"mean\":%.1f,\"max\":%.1f}",
           r->raw.p50_us, r->raw.p99_us, r->raw.mean_us, r->raw.max_us);
    printf(",\"ratio_p50\":%.3f,\"ratio_p99\":%.3f", r->ratio_p50, r->ratio_p99);
    printf(",\"core_wal_pages_per_commit\":%.2f,\"raw_wal_pages_per_commit\":%.2f,"
           "\"wal_autocheckpoint_pages\":%" PRId64,
           r->core_wal_pages_per_commit, r->raw_wal_pages_per_commit, r->wal_autocheckpoint_pages);
    printf(",\"group_batch\":%zu,\"group_sales\":%zu,\"group_core_sales_per_s\":%.0f,"
           "\"group_raw_rows_per_s\":%.0f",
           o->batch, o->group_sales, r->core_sales_per_s, r->raw_rows_per_s);
    printf(",\"ops_bytes_per_sale_op\":%.1f,\"ops_bytes_estimated\":%s,"
           "\"db_bytes_per_sale\":%.1f,\"db_growth_bytes_per_sale\":%.1f,"
           "\"payload_avg_bytes\":%.1f,\"raw_ops_bytes_per_row\":%.1f",
           r->ops_bytes_per_op, b->rest.dbstat ? "false" : "true", r->db_bytes_per_sale,
           r->db_growth_bytes_per_sale, r->payload_avg_bytes, r->raw_ops_bytes_per_row);
    printf(",\"sales_total\":%zu,\"ops_total\":%zu", b->sales_made, r->ops_total);
    printf(",\"target_ratio_ok\":%s,\"target_sales_per_s_ok\":%s,\"target_bytes_ok\":%s}\n",
           r->ratio_p50 <= TARGET_RATIO && r->ratio_p99 <= TARGET_RATIO ? "true" : "false",
           r->core_sales_per_s >= TARGET_SALES_PER_S ? "true" : "false",
           r->ops_bytes_per_op <= TARGET_BYTES_PER_OP ? "true" : "false");
}

/* ---- main ---- */

static int run(bench *b)
{
    const options *o = &b->opt;
    results r;
    memset(&r, 0, sizeof r);
    if (make_dirs(b) != 0)
        return 1;
    if (b->fs_is_ram)
        fprintf(stderr,
                "bench/commit: WARNING: %s is on %s: fsync is free there; use --dir on a disk\n",
                b->dir, b->fs_name);
    if (setup_term(b) != 0 || make_specs(b) != 0 ||
        raw_open(&b->raw, b->raw_path, b->t->st.db) != 0)
        return 1;
    char autockpt[32];
    if (query_text(b->raw.db, "PRAGMA wal_autocheckpoint", autockpt, sizeof autockpt) != 0)
        return 1;
    /* The catalog is in; what the database holds from here on is sales. */
    if (measure_at_rest(b, false) != 0)
        return 1;

    b->core_ns = calloc(o->sales, sizeof *b->core_ns);
    b->raw_ns = calloc(o->sales, sizeof *b->raw_ns);
    if (!b->core_ns || !b->raw_ns)
        return fail("out of memory (latencies)");
    int64_t core_pages0, raw_pages0, core_pages1, raw_pages1;
    if (wrap_wals(b) != 0 || interleaved(b, o->warmup, NULL, NULL) != 0 ||
        pages_written(b->t->st.db, &core_pages0) != 0 ||
        pages_written(b->raw.db, &raw_pages0) != 0 ||
        interleaved(b, o->sales, b->core_ns, b->raw_ns) != 0 ||
        pages_written(b->t->st.db, &core_pages1) != 0 || pages_written(b->raw.db, &raw_pages1) != 0)
        return 1;
    r.core_wal_pages_per_commit = (double)(core_pages1 - core_pages0) / (double)o->sales;
    r.raw_wal_pages_per_commit = (double)(raw_pages1 - raw_pages0) / (double)o->sales;
    r.wal_autocheckpoint_pages = (int64_t)strtoll(autockpt, NULL, 10);
    r.core = latency_of(b->core_ns, o->sales);
    r.raw = latency_of(b->raw_ns, o->sales);
    r.ratio_p50 = r.raw.p50_us > 0 ? r.core.p50_us / r.raw.p50_us : 0;
    r.ratio_p99 = r.raw.p99_us > 0 ? r.core.p99_us / r.raw.p99_us : 0;

    if (group_commit(b, &r.core_sales_per_s, &r.raw_rows_per_s) != 0)
        return 1;

    kassa_err err;
    kassa_err_clear(&err);
    term_status status;
    if (term_status_get(b->t, &status, &err) != KASSA_OK)
        return fail_kassa("term_status_get", &err);
    if (status.sales != b->sales_made)
        return fail("term_status_get counts %zu sales, the benchmark made %zu", status.sales,
                    b->sales_made);
    r.ops_total = status.ops;

    if (measure_at_rest(b, true) != 0)
        return 1;
    r.ops_bytes_per_op = table_growth_per_sale(b, "ops");
    r.db_bytes_per_sale = (double)b->rest.file_after_bytes / (double)b->sales_made;
    r.db_growth_bytes_per_sale =
        (double)(b->rest.file_after_bytes - b->rest.file_before_bytes) / (double)b->sales_made;
    char kind_sql[96];
    snprintf(kind_sql, sizeof kind_sql, "SELECT avg(length(payload)) FROM ops WHERE kind = %d",
             OP_SALE);
    if (avg_payload(b->t->st.db, kind_sql, &r.payload_avg_bytes) != 0)
        return 1;

    /* The floor at rest: raw SQLite's bytes per row of the same shape. */
    if (checkpoint(b->raw.db) != 0)
        return 1;
    if (b->rest.dbstat) {
        at_rest raw_rest;
        memset(&raw_rest, 0, sizeof raw_rest);
        if (table_sizes(b->raw.db, true, &raw_rest, true) != 0)
            return 1;
        for (size_t i = 0; i < raw_rest.n_tables; i++)
            if (strcmp(raw_rest.tables[i].name, "ops") == 0 && b->raw.seq > 0)
                r.raw_ops_bytes_per_row =
                    (double)raw_rest.tables[i].after_bytes / (double)b->raw.seq;
    }

    if (o->json)
        print_json(b, &r);
    else
        print_table(b, &r);
    if (fflush(stdout) != 0)
        return fail("writing the results: %s", strerror(errno));
    return 0;
}

int main(int argc, char **argv)
{
    bench b;
    memset(&b, 0, sizeof b);
    if (parse_args(argc, argv, &b.opt) != 0)
        return 1;
    int rc = run(&b);
    term_close(b.t);
    raw_close(&b.raw);
    free(b.items);
    free(b.cart);
    free(b.res);
    free(b.specs);
    free(b.core_ns);
    free(b.raw_ns);
    if (bench_remove_dir(b.dir, b.dir_created, b.opt.keep) != 0)
        rc = 1;
    return rc;
}
