/*
 * Unit tests of the terminal core (src/term): init and open errors, schema
 * migrations, an export file of this format version
 * (tests/fixtures/export_schema3.bin must keep importing), refusals that
 * must change nothing, group commit, the hybrid logical clock across
 * restarts and remote skew, forked histories on import, and log
 * verification of an altered log.
 */
#include "testutil.h"
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "term/term.h"
#include "termutil.h"

#define STORE "store-1"
#define BIG_PAY INT64_C(100000000)

/* ---- helpers ---- */

static int group_setup(void **state)
{
    (void)state;
    return tu_mkdtemp(g_base, sizeof g_base, "kassa-term", false);
}

static int group_teardown(void **state)
{
    (void)state;
    tu_rm_tree(g_base);
    return 0;
}

static void catalog(term *t)
{
    catalog_item items[3];
    memset(items, 0, sizeof items);
    static const struct {
        const char *sku, *name;
        int64_t price, stock;
    } ROWS[3] = {
        {"apple", "Apple", 100, 20}, {"bread", "Bread", 250, 10}, {"cheese", "Cheese", 990, 0}};
    for (int i = 0; i < 3; i++) {
        snprintf(items[i].sku, sizeof items[i].sku, "%s", ROWS[i].sku);
        snprintf(items[i].name, sizeof items[i].name, "%s", ROWS[i].name);
        items[i].price = ROWS[i].price;
        snprintf(items[i].tax_class, sizeof items[i].tax_class, "standard");
        items[i].stock = ROWS[i].stock;
        items[i].line = (unsigned)i + 2;
    }
    kassa_err err;
    int rc = term_catalog_import(t, items, 3, &err);
    if (rc != KASSA_OK)
        fail_msg("catalog import: %s", err.msg);
}

/* Sells qty of sku (and optionally qty2 of sku2); returns the sale ref. */
static oplog_sale_ref sell2(term *t, const char *sku, int64_t qty, const char *sku2, int64_t qty2,
                            hlc_ts *hlc)
{
    term_cart cart;
    kassa_err err;
    cart_of(&cart, sku, qty);
    if (sku2)
        assert_int_equal(term_cart_add(&cart, sku2, qty2, &err), KASSA_OK);
    term_sale_result *res = malloc(sizeof *res);
    assert_non_null(res);
    int rc = term_sale(t, &cart, BIG_PAY, res, &err);
    if (rc != KASSA_OK) {
        free(res);
        fail_msg("sale: %s", err.msg);
    }
    oplog_sale_ref ref = res->ref;
    if (hlc)
        *hlc = res->hlc;
    free(res);
    return ref;
}

static oplog_sale_ref sell(term *t, const char *sku, int64_t qty)
{
    return sell2(t, sku, qty, NULL, 0, NULL);
}

static int64_t stock_of(term *t, const char *sku)
{
    int64_t q = -1;
    kassa_err err;
    assert_int_equal(term_stock_get(t, sku, &q, &err), KASSA_OK);
    return q;
}

static int schema_version_of(const char *path)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void exec_raw(const char *path, const char *sql)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        print_error("%s: %s\n", sql, msg ? msg : "?");
        sqlite3_free(msg);
        sqlite3_close(db);
        fail();
    }
    sqlite3_close(db);
}

static int count_rows(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return n;
}

static void db_path_of(const char *dir, char *out, size_t size)
{
    snprintf(out, size, "%s/%s", dir, TERM_DB_FILE);
}

static void export_all(term *t, const oplog_vv *since, kbuf *out)
{
    kassa_err err;
    kbuf_reset(out);
    int rc = term_export(t, since, out, &err);
    if (rc != KASSA_OK)
        fail_msg("export: %s", err.msg);
}

static void import_ok(term *t, const kbuf *file, term_import_report *rep)
{
    kassa_err err;
    int rc = term_import(t, file->data, file->len, rep, &err);
    if (rc != KASSA_OK)
        fail_msg("import: %s", err.msg);
}

/* The objects migration 3 creates. */
#define V3_OBJECTS                                                                                 \
    "SELECT count(*) FROM sqlite_master WHERE name IN ('cashiers', 'pin_lock', 'audit', "          \
    "'audit_by_hlc')"

static void setting(term *t, const char *key, const char *value)
{
    kassa_err err;
    int rc = term_setting_set(t, key, value, &err);
    if (rc != KASSA_OK)
        fail_msg("setting: %s", err.msg);
}

static int count_audit(const term_audit_entry *e, void *ctx)
{
    (void)e;
    ++*(size_t *)ctx;
    return KASSA_OK;
}

/* Imports one operation of another origin, as that terminal would have
 * written it (seq 1 only: its hash chain starts at zero). */
static void import_one_op(term *t, const char *origin, uint64_t seq, hlc_ts hlc, int kind,
                          const void *payload)
{
    assert_int_equal(seq, 1);
    kbuf pl;
    kbuf_init(&pl);
    assert_int_equal(oplog_encode(kind, payload, &pl), KASSA_OK);
    oplog_op op;
    memset(&op, 0, sizeof op);
    snprintf(op.origin, sizeof op.origin, "%s", origin);
    op.seq = seq;
    op.hlc = hlc;
    op.kind = (uint8_t)kind;
    op.payload = pl.data;
    op.payload_len = pl.len;
    uint8_t zero[OPLOG_HASH_SIZE] = {0};
    oplog_hash(t->store_id, zero, &op, op.hash);
    oplog_file_writer w;
    oplog_file_begin(&w, t->store_id);
    oplog_file_add(&w, &op);
    kassa_err err;
    assert_int_equal(oplog_file_finish(&w, &err), KASSA_OK);
    term_import_report rep;
    int rc = term_import(t, w.buf.data, w.buf.len, &rep, &err);
    oplog_file_writer_free(&w);
    kbuf_free(&pl);
    if (rc != KASSA_OK)
        fail_msg("import of %s/%llu: %s", origin, (unsigned long long)seq, err.msg);
    assert_int_equal(rep.applied, 1);
}

/* ---- init / open ---- */

static void test_init_open_errors(void **state)
{
    (void)state;
    char dir[600], path[700];
    kassa_err err;
    term *t = NULL;

    /* Nothing there, or an empty directory: not initialised. */
    new_dir(dir, sizeof dir);
    assert_int_equal(term_open(dir, &t, &err), KASSA_ENOTFOUND);
    assert_true(tu_contains(err.msg, "kassa init"));
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_int_equal(term_open(dir, &t, &err), KASSA_ENOTFOUND);
    assert_true(tu_contains(err.msg, dir));

    /* Bad ids are refused before anything is created. */
    static const char *const BAD[] = {
        "", "has space", "a/b", "caf\xc3\xa9", "x\n", "123456789012345678901234567890123"};
    for (size_t i = 0; i < KASSA_ARRAY_LEN(BAD); i++) {
        char fresh[600];
        new_dir(fresh, sizeof fresh);
        assert_int_equal(term_init(fresh, BAD[i], "T1", &err), KASSA_EINVAL);
        assert_true(tu_contains(err.msg, "store id"));
        assert_int_equal(term_init(fresh, STORE, BAD[i], &err), KASSA_EINVAL);
        assert_true(tu_contains(err.msg, "node id"));
        assert_int_not_equal(access(fresh, F_OK), 0);
    }
    /* Longest valid ids are fine. */
    char longest[600];
    new_dir(longest, sizeof longest);
    assert_int_equal(term_init(longest, "12345678901234567890123456789012",
                               "abcdefghijklmnopqrstuvwxyz._-ABC", &err),
                     KASSA_OK);

    /* Init, then init again (even with other ids) is refused and keeps the
     * first database. */
    new_dir(dir, sizeof dir);
    assert_int_equal(term_init(dir, STORE, "T1", &err), KASSA_OK);
    struct stat sb;
    assert_int_equal(stat(dir, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    assert_int_equal(term_init(dir, STORE, "T1", &err), KASSA_ECONFLICT);
    assert_true(tu_contains(err.msg, "already initialised"));
    assert_int_equal(term_init(dir, "other-store", "T9", &err), KASSA_ECONFLICT);
    t = open_term(dir, NULL);
    assert_string_equal(t->store_id, STORE);
    assert_string_equal(t->node_id, "T1");
    oplog_vv vv;
    assert_int_equal(term_vv(t, &vv, &err), KASSA_OK);
    assert_int_equal(vv.n, 0);
    oplog_vv_free(&vv);
    untrack_close(t);

    /* A parent that does not exist. */
    snprintf(path, sizeof path, "%s/no/such/parent", g_base);
    assert_int_equal(term_init(path, STORE, "T1", &err), KASSA_EIO);

    /* A file that is not a database. */
    new_dir(dir, sizeof dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    db_path_of(dir, path, sizeof path);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < 200; i++)
        fputs("this is not a database. ", f);
    fclose(f);
    t = NULL;
    int rc = term_open(dir, &t, &err);
    assert_int_equal(rc, KASSA_ECORRUPT);
    assert_null(t);
}

/* ---- migrations ---- */

static void test_migration_from_v1(void **state)
{
    (void)state;
    char dir[600], path[700];
    kassa_err err;
    store st;

    assert_int_equal(store_open_at(&st, "/nonexistent-unused", 0, &err), KASSA_EINVAL);
    assert_int_equal(store_open_at(&st, "/nonexistent-unused", STORE_SCHEMA_VERSION + 1, &err),
                     KASSA_EINVAL);

    /* A v1 database, written as a v1 kassa would have: the terminal's
     * identity and one origin. */
    new_dir(dir, sizeof dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    db_path_of(dir, path, sizeof path);
    assert_int_equal(store_open_at(&st, path, 1, &err), KASSA_OK);
    int v = 0;
    assert_int_equal(store_schema_version(&st, &v, &err), KASSA_OK);
    assert_int_equal(v, 1);
    assert_int_equal(
        count_rows(st.db, "SELECT count(*) FROM sqlite_master WHERE name = 'sales_by_hlc'"), 0);
    assert_int_equal(
        store_exec(&st,
                   "INSERT INTO meta(key, value) VALUES('store_id', 'old-store'),"
                   "('node_id', 'OLD1');"
                   "INSERT INTO origins(name, head_hash) VALUES('OLD1', zeroblob(32));",
                   &err),
        KASSA_OK);
    store_close(&st);
    assert_int_equal(schema_version_of(path), 1);

    /* store_open upgrades, keeping the rows. */
    assert_int_equal(store_open(&st, path, &err), KASSA_OK);
    assert_int_equal(store_schema_version(&st, &v, &err), KASSA_OK);
    assert_int_equal(v, STORE_SCHEMA_VERSION);
    /* Made by migration 2, dropped by migration 4. */
    assert_int_equal(
        count_rows(st.db, "SELECT count(*) FROM sqlite_master WHERE name = 'sales_by_hlc'"), 0);
    assert_int_equal(count_rows(st.db, V3_OBJECTS), 4);
    assert_int_equal(count_rows(st.db, "SELECT count(*) FROM meta"), 2);
    store_close(&st);

    /* And the terminal opens and works on it. */
    term *t = open_term(dir, NULL);
    assert_string_equal(t->store_id, "old-store");
    assert_string_equal(t->node_id, "OLD1");
    catalog(t);
    sell(t, "apple", 2);
    assert_int_equal(stock_of(t, "apple"), 18);
    untrack_close(t);

    /* A real terminal with data, taken back to v1, then upgraded by
     * term_open: same state, same log. A v1 log holds no audit operation
     * (voids and returns now write one), so the void comes from a peer as
     * a v1 kassa wrote it: a void operation alone. */
    fake_clock clk = {UINT64_C(1750000000000)};
    t = new_term(dir, sizeof dir, STORE, "T1", &clk);
    catalog(t);
    hlc_ts h1;
    oplog_sale_ref s1 = sell2(t, "apple", 3, "bread", 1, &h1);
    oplog_sale_ref s2 = sell(t, "bread", 2);
    oplog_void v1_void = {.sale = s1, .refund = 0};
    term_sale_info info;
    oplog_sale *sale = malloc(sizeof *sale);
    assert_non_null(sale);
    assert_int_equal(term_sale_get(t, &s1, &info, sale, &err), KASSA_OK);
    free(sale);
    v1_void.refund = info.total;
    import_one_op(t, "OLDPEER", 1, h1 + 10, OP_VOID, &v1_void);
    assert_int_equal(stock_of(t, "apple"), 20);
    assert_int_equal(term_stock_receive(t, "cheese", 4, &err), KASSA_OK);
    int64_t delta;
    assert_int_equal(term_stock_count(t, "bread", 6, &delta, &err), KASSA_OK);
    setting(t, "tax.reduced", "700");
    size_t n_audit = 0;
    assert_int_equal(term_audit_each(t, count_audit, &n_audit, &err), KASSA_OK);
    assert_int_equal(n_audit, 0);
    snap before;
    snap_take(t, &before);
    untrack_close(t);
    db_path_of(dir, path, sizeof path);
    /* Back to schema 1 (as a terminal of that version left it): migrations
     * 2-8 run again on open. */
    exec_raw(path, "ALTER TABLE origins DROP COLUMN base_seq; ALTER TABLE origins DROP COLUMN "
                   "base_hash; DROP TABLE raft_snapshot;"
                   "DROP TABLE cashiers; DROP TABLE pin_lock; DROP TABLE audit;"
                   "DROP TABLE raft_state; DROP TABLE raft_log; DROP TABLE card_payments;"
                   "DROP TABLE drawer_events; DROP TABLE pay_local; DROP TABLE cloud_acked;"
                   "DROP TABLE cloud_state; PRAGMA user_version = 1;");
    assert_int_equal(schema_version_of(path), 1);
    t = open_term(dir, &clk);
    assert_int_equal(store_schema_version(&t->st, &v, &err), KASSA_OK);
    assert_int_equal(v, STORE_SCHEMA_VERSION);
    /* Migration 4 dropped it again (sales are listed by time without it). */
    assert_int_equal(
        count_rows(t->st.db, "SELECT count(*) FROM sqlite_master WHERE name = 'sales_by_hlc'"), 0);
    assert_int_equal(count_rows(t->st.db, V3_OBJECTS), 4);
    snap_assert_same(t, &before, "the upgrade");
    snap_free(&before);
    term_verify_report vr;
    assert_int_equal(term_log_verify(t, &vr, &err), KASSA_OK);
    assert_true(vr.ok);
    sell(t, "bread", 1);
    assert_int_equal(stock_of(t, "bread"), 5);
    /* The new tables work on the upgraded database. */
    int64_t refund = 0;
    assert_int_equal(term_void(t, &s2, &refund, &err), KASSA_OK);
    assert_int_equal(term_audit_each(t, count_audit, &n_audit, &err), KASSA_OK);
    assert_int_equal(n_audit, 1);
    assert_int_equal(term_log_verify(t, &vr, &err), KASSA_OK);
    assert_true(vr.ok);
}

/* ---- export files of this release and the previous one ---- */

static void read_fixture(const char *name, kbuf *out)
{
    const char *dir = getenv("KASSA_TEST_FIXTURES");
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "tests/fixtures", name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    uint8_t buf[4096];
    size_t n;
    kbuf_init(out);
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        kbuf_put(out, buf, n);
    fclose(f);
    assert_false(out->oom);
}

typedef struct listed {
    size_t n;
    char text[8][256];
} listed;

static int list_cashier(const term_cashier *c, void *ctx)
{
    listed *l = ctx;
    if (l->n < 8)
        snprintf(l->text[l->n], sizeof l->text[0], "%s|%s|%s", c->id, c->name,
                 term_role_name(c->role));
    l->n++;
    return KASSA_OK;
}

static int list_audit(const term_audit_entry *e, void *ctx)
{
    listed *l = ctx;
    if (l->n < 8)
        snprintf(l->text[l->n], sizeof l->text[0], "%s|%s|%s|%s", e->action, e->cashier,
                 e->supervisor, e->subject);
    l->n++;
    return KASSA_OK;
}

static void sale_by_id(term *t, const char *id, term_sale_info *info, oplog_sale *sale)
{
    oplog_sale_ref ref;
    kassa_err err;
    assert_int_equal(oplog_parse_sale_id(id, &ref, &err), KASSA_OK);
    if (term_sale_get(t, &ref, info, sale, &err) != KASSA_OK)
        fail_msg("sale %s: %s", id, err.msg);
}

/* An export file of this release with every kind of operation (tests/
 * fixtures/export_schema3.bin: a catalog, a tax rate, two cashiers, sales
 * by a cashier, with a price override approved by a supervisor and by the
 * operator, a supervised void and return, stock movements and a no-sale
 * drawer open): the format must keep importing, to the same state. */
static void test_import_export_fixture(void **state)
{
    (void)state;
    char dir[600];
    kassa_err err;
    term *t = new_term(dir, sizeof dir, "store-main", "X", NULL);
    kbuf file;
    read_fixture("export_schema3.bin", &file);
    term_import_report rep;
    int rc = term_import(t, file.data, file.len, &rep, &err);
    kbuf_free(&file);
    if (rc != KASSA_OK)
        fail_msg("import of export_schema3.bin: %s", err.msg);
    assert_int_equal(rep.in_file, 19);
    assert_int_equal(rep.applied, 19);
    assert_int_equal(rep.pending, 0);
    term_verify_report vr;
    assert_int_equal(term_log_verify(t, &vr, &err), KASSA_OK);
    assert_true(vr.ok);
    assert_int_equal(vr.ops, 19);

    listed l = {0};
    assert_int_equal(term_cashiers_each(t, list_cashier, &l, &err), KASSA_OK);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.text[0], "alice-01|Alice Martin|cashier");
    assert_string_equal(l.text[1], "bob|Bob|supervisor");
    memset(&l, 0, sizeof l);
    assert_int_equal(term_audit_each(t, list_audit, &l, &err), KASSA_OK);
    assert_int_equal(l.n, 4);
    assert_string_equal(l.text[0], "price_override|alice-01|bob|COFFEE-250");
    assert_string_equal(l.text[1], "void|alice-01|bob|till-1-11");
    assert_string_equal(l.text[2], "return|alice-01|bob|till-1-9");
    assert_string_equal(l.text[3], "no_sale|bob|bob|drawer");

    term_sale_info info;
    oplog_sale *sale = malloc(sizeof *sale);
    assert_non_null(sale);
    sale_by_id(t, "till-1-9", &info, sale);
    assert_string_equal(sale->cashier, "alice-01");
    assert_int_equal(sale->n_lines, 2);
    assert_int_equal(info.total, 1650);
    assert_int_equal(info.refunded, 107);
    sale_by_id(t, "till-1-11", &info, sale);
    assert_string_equal(sale->cashier, "alice-01");
    assert_int_equal(sale->lines[0].unit_price, 349); /* the override */
    assert_true(info.voided);
    sale_by_id(t, "till-1-12", &info, sale);
    assert_string_equal(sale->cashier, "");
    assert_false(info.voided);
    free(sale);
    assert_int_equal(stock_of(t, "COFFEE-250"), 47);
    assert_int_equal(stock_of(t, "MILK-1L"), 40);
    assert_int_equal(stock_of(t, "TEAPOT"), 5);
    int64_t cash;
    assert_int_equal(term_drawer(t, "till-1", &cash, &err), KASSA_OK);
    assert_int_equal(cash, 1971);
    int32_t bp;
    assert_int_equal(term_tax_rate(t, "reduced", &bp, &err), KASSA_OK);
    assert_int_equal(bp, 700);
}

static void test_migration_newer_refused(void **state)
{
    (void)state;
    char dir[600], path[700];
    kassa_err err;
    term *t = new_term(dir, sizeof dir, STORE, "T1", NULL);
    catalog(t);
    sell(t, "apple", 1);
    untrack_close(t);
    db_path_of(dir, path, sizeof path);
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d;", STORE_SCHEMA_VERSION + 1);
    exec_raw(path, sql);

    store st;
    assert_int_equal(store_open(&st, path, &err), KASSA_EVERSION);
    assert_true(tu_contains(err.msg, "newer"));
    assert_true(tu_contains(err.msg, "upgrade kassa"));
    char num[16];
    snprintf(num, sizeof num, "%d", STORE_SCHEMA_VERSION + 1);
    assert_true(tu_contains(err.msg, num));
    assert_int_equal(store_open_at(&st, path, 1, &err), KASSA_EVERSION);

    t = NULL;
    memset(&err, 0, sizeof err);
    assert_int_equal(term_open(dir, &t, &err), KASSA_EVERSION);
    assert_null(t);
    assert_true(tu_contains(err.msg, "newer"));

    /* Refusing touched nothing. */
    assert_int_equal(schema_version_of(path), STORE_SCHEMA_VERSION + 1);
    sqlite3 *db;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM sales"), 1);
    sqlite3_close(db);
}

/* ---- refusals ---- */

static void test_refusals_change_nothing(void **state)
{
    (void)state;
    char dir[600];
    kassa_err err;
    fake_clock clk = {UINT64_C(1750000000000)}; /* frozen: the clock is visible */
    term *t = new_term(dir, sizeof dir, STORE, "T1", &clk);
    catalog(t);
    hlc_ts h1, h2;
    oplog_sale_ref s1 = sell2(t, "apple", 2, "bread", 1, &h1);
    oplog_sale_ref s2 = sell2(t, "apple", 1, NULL, 0, &h2);
    assert_int_equal(h2, h1 + 1);
    term_cart cart;
    term_return_req req;
    oplog_sale_ref rref;
    int64_t refund = -7;
    term_sale_result *res = malloc(sizeof *res);
    assert_non_null(res);

    snap before;
    snap_take(t, &before);

    /* sales */
    memset(&cart, 0, sizeof cart);
    assert_int_equal(term_sale(t, &cart, BIG_PAY, res, &err), KASSA_EINVAL);
    cart_of(&cart, "apple", 1);
    assert_int_equal(term_cart_add(&cart, "durian", 1, &err), KASSA_OK);
    assert_int_equal(term_sale(t, &cart, BIG_PAY, res, &err), KASSA_ENOTFOUND);
    cart_of(&cart, "apple", 1);
    assert_int_equal(term_sale(t, &cart, 119, res, &err), KASSA_ECONFLICT); /* total 1.20 */
    assert_true(tu_contains(err.msg, "less than the total"));
    assert_int_equal(term_sale(t, &cart, -1, res, &err), KASSA_EOVERFLOW);
    assert_int_equal(term_cart_discount(&cart, "apple", PRICING_DISCOUNT_AMOUNT, 101, &err),
                     KASSA_OK);
    assert_int_not_equal(term_sale(t, &cart, BIG_PAY, res, &err), KASSA_OK);
    assert_int_equal(term_cart_add(&cart, "bad sku", 1, &err), KASSA_EINVAL);
    assert_int_equal(term_cart_add(&cart, "apple", 0, &err), KASSA_EINVAL);
    snap_assert_same(t, &before, "a refused sale");

    /* voids */
    oplog_sale_ref unknown = {"ZZ", 1}, not_sale = {"T1", 1}, too_far = {"T1", 999};
    assert_int_equal(term_void(t, &unknown, &refund, &err), KASSA_ENOTFOUND);
    assert_int_equal(term_void(t, &not_sale, &refund, &err), KASSA_ENOTFOUND);
    assert_int_equal(term_void(t, &too_far, &refund, &err), KASSA_ENOTFOUND);
    assert_int_equal(refund, -7);
    snap_assert_same(t, &before, "a refused void");

    /* returns */
    memset(&req, 0, sizeof req);
    assert_int_equal(term_return(t, &s1, &req, &rref, &refund, &err), KASSA_EINVAL);
    req.n_lines = 1;
    snprintf(req.lines[0].sku, sizeof req.lines[0].sku, "apple");
    req.lines[0].qty = 3; /* sold 2: more than the sale allows */
    assert_int_equal(term_return(t, &s1, &req, &rref, &refund, &err), KASSA_ECONFLICT);
    assert_true(tu_contains(err.msg, "sold 2"));
    req.lines[0].qty = 0;
    assert_int_equal(term_return(t, &s1, &req, &rref, &refund, &err), KASSA_EINVAL);
    req.lines[0].qty = -1;
    assert_int_equal(term_return(t, &s1, &req, &rref, &refund, &err), KASSA_EINVAL);
    snprintf(req.lines[0].sku, sizeof req.lines[0].sku, "cheese"); /* not in the sale */
    req.lines[0].qty = 1;
    assert_int_equal(term_return(t, &s1, &req, &rref, &refund, &err), KASSA_ENOTFOUND);
    req.n_lines = 2; /* the same SKU twice: 1 + 1 <= 2 each, 2 together */
    snprintf(req.lines[0].sku, sizeof req.lines[0].sku, "apple");
    snprintf(req.lines[1].sku, sizeof req.lines[1].sku, "apple");
    req.lines[1].qty = 1;
    assert_int_equal(term_return(t, &s1, &req, &rref, &refund, &err), KASSA_EINVAL);
    req.n_lines = 1;
    assert_int_equal(term_return(t, &unknown, &req, &rref, &refund, &err), KASSA_ENOTFOUND);
    assert_int_equal(refund, -7);
    snap_assert_same(t, &before, "a refused return");

    /* stock */
    assert_int_equal(term_stock_receive(t, "durian", 5, &err), KASSA_ENOTFOUND);
    assert_int_equal(term_stock_receive(t, "apple", 0, &err), KASSA_EINVAL);
    assert_int_equal(term_stock_receive(t, "apple", -3, &err), KASSA_EINVAL);
    assert_int_equal(term_stock_receive(t, "bad sku", 1, &err), KASSA_EINVAL);
    assert_int_equal(term_stock_receive(t, "apple", PRICING_QTY_MAX + 1, &err), KASSA_EINVAL);
    int64_t delta = -99;
    assert_int_equal(term_stock_count(t, "apple", -1, &delta, &err), KASSA_EINVAL);
    assert_int_equal(term_stock_count(t, "durian", 4, &delta, &err), KASSA_ENOTFOUND);
    assert_int_equal(delta, -99);
    snap_assert_same(t, &before, "a refused stock movement");

    /* catalog and settings */
    oplog_catalog_set c;
    memset(&c, 0, sizeof c);
    snprintf(c.sku, sizeof c.sku, "apple");
    assert_int_equal(term_catalog_set(t, &c, &err), KASSA_EINVAL); /* no field */
    c.fields = CATALOG_F_PRICE;
    c.price = -1;
    assert_int_equal(term_catalog_set(t, &c, &err), KASSA_EOVERFLOW);
    c.fields = CATALOG_F_TAX_CLASS;
    snprintf(c.tax_class, sizeof c.tax_class, "luxury");
    assert_int_equal(term_catalog_set(t, &c, &err), KASSA_ENOTFOUND);
    c.fields = CATALOG_F_NAME;
    assert_int_equal(term_catalog_set(t, &c, &err), KASSA_EINVAL); /* empty name */
    assert_int_equal(term_setting_set(t, "tax.standard", "abc", &err), KASSA_EINVAL);
    assert_int_equal(term_setting_set(t, "tax.standard", "10001", &err), KASSA_EINVAL);
    assert_int_equal(term_setting_set(t, "bad key", "1", &err), KASSA_EINVAL);
    catalog_item items[2];
    memset(items, 0, sizeof items);
    snprintf(items[0].sku, sizeof items[0].sku, "durian");
    snprintf(items[0].name, sizeof items[0].name, "Durian");
    snprintf(items[0].tax_class, sizeof items[0].tax_class, "standard");
    items[0].price = 500;
    items[0].stock = 3;
    items[1] = items[0];
    snprintf(items[1].sku, sizeof items[1].sku, "elder");
    snprintf(items[1].tax_class, sizeof items[1].tax_class, "luxury");
    items[1].line = 3;
    assert_int_not_equal(term_catalog_import(t, items, 2, &err), KASSA_OK);
    assert_true(tu_contains(err.msg, "line 3"));
    term_item it;
    assert_int_equal(term_item_get(t, "durian", &it, &err), KASSA_ENOTFOUND);
    snap_assert_same(t, &before, "a refused catalog change");
    snap_free(&before);

    /* The refusals left no trace on the clock either. */
    hlc_ts h3;
    sell2(t, "cheese", 1, NULL, 0, &h3);
    assert_int_equal(h3, h2 + 1);

    /* After a void: voiding again and returning are refused. */
    int64_t paid = 0;
    assert_int_equal(term_void(t, &s2, &paid, &err), KASSA_OK);
    assert_int_equal(paid, 120);
    snap_take(t, &before);
    assert_int_equal(term_void(t, &s2, &refund, &err), KASSA_ECONFLICT);
    snprintf(req.lines[0].sku, sizeof req.lines[0].sku, "apple");
    req.lines[0].qty = 1;
    assert_int_equal(term_return(t, &s2, &req, &rref, &refund, &err), KASSA_ECONFLICT);
    snap_assert_same(t, &before, "a refusal on a voided sale");
    snap_free(&before);

    /* After a return: voiding is refused, returning more than is left too. */
    assert_int_equal(term_return(t, &s1, &req, &rref, &paid, &err), KASSA_OK);
    assert_int_equal(paid, 120);
    snap_take(t, &before);
    assert_int_equal(term_void(t, &s1, &refund, &err), KASSA_ECONFLICT);
    assert_true(tu_contains(err.msg, "has returns"));
    req.lines[0].qty = 2;
    assert_int_equal(term_return(t, &s1, &req, &rref, &refund, &err), KASSA_ECONFLICT);
    assert_true(tu_contains(err.msg, "1 already returned"));
    snap_assert_same(t, &before, "a refusal on a returned sale");
    snap_free(&before);
    req.lines[0].qty = 1;
    assert_int_equal(term_return(t, &s1, &req, &rref, &paid, &err), KASSA_OK);
    assert_int_equal(stock_of(t, "apple"), 20 - 2 - 1 + 1 + 2);
    free(res);
}

/* ARCHITECTURE.md: a terminal refuses to void "one with returns". A return
 * of a line given away (100 % discount) refunds 0, and must still block a
 * void: the sale was returned. */
static void test_void_refused_after_free_return(void **state)
{
    (void)state;
    char dir[600];
    kassa_err err;
    term *t = new_term(dir, sizeof dir, STORE, "T1", NULL);
    catalog(t);
    term_cart cart;
    cart_of(&cart, "apple", 2);
    assert_int_equal(term_cart_add(&cart, "bread", 1, &err), KASSA_OK);
    assert_int_equal(term_cart_discount(&cart, "apple", PRICING_DISCOUNT_PERCENT, 10000, &err),
                     KASSA_OK);
    term_sale_result *res = malloc(sizeof *res);
    assert_non_null(res);
    assert_int_equal(term_sale(t, &cart, BIG_PAY, res, &err), KASSA_OK);
    oplog_sale_ref sale = res->ref;
    free(res);
    term_return_req req;
    memset(&req, 0, sizeof req);
    req.n_lines = 1;
    snprintf(req.lines[0].sku, sizeof req.lines[0].sku, "apple");
    req.lines[0].qty = 1;
    int64_t refund = -1;
    assert_int_equal(term_return(t, &sale, &req, NULL, &refund, &err), KASSA_OK);
    assert_int_equal(refund, 0);
    snap before;
    snap_take(t, &before);
    int rc = term_void(t, &sale, &refund, &err);
    if (rc != KASSA_ECONFLICT) {
        snap_free(&before);
        fail_msg("void of a sale with a (zero-refund) return: rc %d, want KASSA_ECONFLICT (%d)", rc,
                 KASSA_ECONFLICT);
    }
    snap_assert_same(t, &before, "a refused void");
    snap_free(&before);
}

/* ---- group commit ---- */

static size_t sales_count(term *t)
{
    term_status st;
    kassa_err err;
    assert_int_equal(term_status_get(t, &st, &err), KASSA_OK);
    return st.sales;
}

static void test_group_commit(void **state)
{
    (void)state;
    char dir[600];
    kassa_err err;
    term *t = new_term(dir, sizeof dir, STORE, "T1", NULL);
    catalog(t);
    term *reader = open_term(dir, NULL); /* another connection to the same database */

    assert_int_equal(term_batch_commit(t, &err), KASSA_EINVAL);
    assert_int_equal(term_batch_begin(t, &err), KASSA_OK);
    assert_int_equal(term_batch_begin(t, &err), KASSA_EINVAL);
    oplog_sale_ref a = sell(t, "apple", 1);
    oplog_sale_ref b = sell(t, "bread", 1);
    /* A failing sale and a failing void inside the batch roll back alone. */
    term_cart cart;
    cart_of(&cart, "apple", 1);
    assert_int_equal(term_cart_add(&cart, "durian", 1, &err), KASSA_OK);
    term_sale_result *res = malloc(sizeof *res);
    assert_non_null(res);
    assert_int_equal(term_sale(t, &cart, BIG_PAY, res, &err), KASSA_ENOTFOUND);
    free(res);
    int64_t refund;
    assert_int_equal(term_void(t, &a, &refund, &err), KASSA_OK);
    assert_int_equal(term_void(t, &a, &refund, &err), KASSA_ECONFLICT);
    oplog_sale_ref c = sell(t, "apple", 2);
    assert_int_equal(b.seq, a.seq + 1);
    /* The void took b.seq + 1 (its audit operation) and b.seq + 2, the
     * failures nothing. */
    assert_int_equal(c.seq, b.seq + 3);
    /* Not acknowledged yet: another connection does not see the batch. */
    assert_int_equal(sales_count(reader), 0);
    assert_int_equal(stock_of(reader, "apple"), 20);
    assert_int_equal(term_batch_commit(t, &err), KASSA_OK);
    assert_int_equal(sales_count(reader), 3);
    assert_int_equal(stock_of(reader, "apple"), 20 - 2);
    assert_int_equal(stock_of(reader, "bread"), 9);
    term_verify_report vr;
    assert_int_equal(term_log_verify(reader, &vr, &err), KASSA_OK);
    assert_true(vr.ok);

    /* A batch rolled back leaves nothing, and the next sale takes the seq
     * the rolled-back ones had. */
    snap before;
    snap_take(t, &before);
    assert_int_equal(term_batch_begin(t, &err), KASSA_OK);
    oplog_sale_ref d = sell(t, "bread", 1);
    sell(t, "cheese", 1);
    assert_int_equal(term_void(t, &c, &refund, &err), KASSA_OK);
    term_batch_rollback(t);
    snap_assert_same(t, &before, "a rolled-back batch");
    snap_free(&before);
    assert_int_equal(sales_count(reader), 3);
    assert_int_equal(term_batch_commit(t, &err), KASSA_EINVAL);
    oplog_sale_ref e = sell(t, "bread", 1);
    assert_int_equal(e.seq, d.seq);
    assert_int_equal(sales_count(reader), 4);
    assert_int_equal(term_log_verify(t, &vr, &err), KASSA_OK);
    assert_true(vr.ok);
}

/* ---- clock ---- */

static void test_hlc_monotonic_across_reopen(void **state)
{
    (void)state;
    char dir[600], dir_b[600];
    const uint64_t P = UINT64_C(2000000000000);
    fake_clock clk = {P};
    term *t = new_term(dir, sizeof dir, STORE, "T1", &clk);
    catalog(t);
    hlc_ts h1, h2, h3, h4, h5;
    sell2(t, "apple", 1, NULL, 0, &h1);
    sell2(t, "apple", 1, NULL, 0, &h2);
    assert_true(h2 > h1);
    assert_true(hlc_physical_ms(h2) == P);
    untrack_close(t);

    /* Reopened with a clock one hour behind. */
    clk.ms = P - 3600000;
    t = open_term(dir, &clk);
    sell2(t, "apple", 1, NULL, 0, &h3);
    assert_true(h3 > h2);
    /* Backwards again within the session. */
    clk.ms = P - 7200000;
    sell2(t, "apple", 1, NULL, 0, &h4);
    assert_true(h4 > h3);
    /* Forward past the log: back to physical time. */
    clk.ms = P + 5;
    sell2(t, "apple", 1, NULL, 0, &h5);
    assert_int_equal(h5, hlc_make(P + 5, 0));

    /* An adopted remote clock is remembered across a restart as well. */
    fake_clock clk_b = {P - 30000}; /* 30 s behind T1: within the skew */
    term *b = new_term(dir_b, sizeof dir_b, STORE, "T2", &clk_b);
    kbuf file;
    kbuf_init(&file);
    export_all(t, NULL, &file);
    term_import_report rep;
    import_ok(b, &file, &rep);
    kbuf_free(&file);
    assert_int_equal(rep.skew_reports, 0);
    untrack_close(b);
    clk_b.ms = P - 40000;
    b = open_term(dir_b, &clk_b);
    catalog(b);
    hlc_ts hb;
    sell2(b, "apple", 1, NULL, 0, &hb);
    assert_true(hb > h5);
}

static void test_import_clamps_skew(void **state)
{
    (void)state;
    char dir_a[600], dir_b[600];
    kassa_err err;
    const uint64_t P = UINT64_C(2000000000000);
    fake_clock clk_a = {P + 600000}; /* ten minutes ahead */
    fake_clock clk_b = {P};
    term *a = new_term(dir_a, sizeof dir_a, STORE, "T1", &clk_a);
    term *b = new_term(dir_b, sizeof dir_b, STORE, "T2", &clk_b);
    catalog(a);
    hlc_ts ha;
    oplog_sale_ref ref = sell2(a, "apple", 1, NULL, 0, &ha);
    assert_int_equal(hlc_physical_ms(ha), P + 600000);

    kbuf file;
    kbuf_init(&file);
    export_all(a, NULL, &file);
    term_import_report rep;
    import_ok(b, &file, &rep);
    assert_int_equal(rep.applied, rep.in_file);
    assert_int_equal(rep.skew_reports, 1);
    assert_int_equal(b->skew_reports, 1);
    /* The remote operations keep their own timestamps. */
    term_sale_info info;
    oplog_sale *sale = malloc(sizeof *sale);
    assert_non_null(sale);
    assert_int_equal(term_sale_get(b, &ref, &info, sale, &err), KASSA_OK);
    free(sale);
    assert_int_equal(info.hlc, ha);
    /* Importing again observes the same clock again: reported again, and
     * the count adds up. */
    import_ok(b, &file, &rep);
    kbuf_free(&file);
    assert_int_equal(b->skew_reports, 1 + rep.skew_reports);

    /* Our next local operation is not dragged ten minutes ahead: it stays
     * within physical time + max skew. */
    hlc_ts hb;
    sell2(b, "apple", 1, NULL, 0, &hb);
    assert_true(hlc_physical_ms(hb) >= P);
    if (hb > hlc_make(P + b->max_skew_ms, HLC_LOGICAL_MAX))
        fail_msg("after clamping, the next local hlc is %llu ms + %u, beyond physical %llu + "
                 "max skew %llu ms",
                 (unsigned long long)hlc_physical_ms(hb), hlc_logical(hb), (unsigned long long)P,
                 (unsigned long long)b->max_skew_ms);
}

static void test_import_within_skew_adopted(void **state)
{
    (void)state;
    char dir_a[600], dir_b[600];
    const uint64_t P = UINT64_C(2000000000000);
    fake_clock clk_a = {P + 30000};
    fake_clock clk_b = {P};
    term *a = new_term(dir_a, sizeof dir_a, STORE, "T1", &clk_a);
    term *b = new_term(dir_b, sizeof dir_b, STORE, "T2", &clk_b);
    catalog(a);
    hlc_ts ha, hb;
    sell2(a, "apple", 1, NULL, 0, &ha);
    kbuf file;
    kbuf_init(&file);
    export_all(a, NULL, &file);
    term_import_report rep;
    import_ok(b, &file, &rep);
    kbuf_free(&file);
    assert_int_equal(rep.skew_reports, 0);
    assert_int_equal(b->skew_reports, 0);
    sell2(b, "apple", 1, NULL, 0, &hb);
    assert_true(hb > ha);
}

/* ---- forked histories ---- */

static void test_import_forked_history_rejected(void **state)
{
    (void)state;
    char dx[600], dy[600], dm[600], dz[600];
    kassa_err err;
    /* X and Y: the same store and node id, two different histories. */
    term *x = new_term(dx, sizeof dx, STORE, "N", NULL);
    term *y = new_term(dy, sizeof dy, STORE, "N", NULL);
    term *m = new_term(dm, sizeof dm, STORE, "A", NULL); /* sorts before N */
    term *z = new_term(dz, sizeof dz, STORE, "Z", NULL);
    setting(x, "tax.standard", "1900");
    setting(y, "tax.standard", "1800");
    setting(m, "tax.reduced", "600");
    setting(m, "tax.reduced", "700");
    kbuf file;
    kbuf_init(&file);
    term_import_report rep;
    export_all(m, NULL, &file);
    import_ok(x, &file, &rep);
    export_all(y, NULL, &file);
    import_ok(z, &file, &rep); /* Z holds Y's N/1 */

    /* X's file: A/1, A/2 (new to Y), then N/1 that differs from Y's. */
    snap before;
    snap_take(y, &before);
    export_all(x, NULL, &file);
    int rc = term_import(y, file.data, file.len, &rep, &err);
    assert_int_equal(rc, KASSA_ECONFLICT);
    assert_true(tu_contains(err.msg, "N/1"));
    assert_int_equal(rep.in_file, 3);
    assert_int_equal(rep.applied, 0);
    snap_assert_same(y, &before, "a rejected forked file");
    snap_free(&before);
    assert_int_equal(y->skew_reports, 0);

    /* The same at a third terminal that holds Y's version. */
    snap_take(z, &before);
    assert_int_equal(term_import(z, file.data, file.len, &rep, &err), KASSA_ECONFLICT);
    snap_assert_same(z, &before, "a rejected forked file");
    snap_free(&before);

    /* A fork past what Y holds: N/2 of X does not continue Y's N/1. */
    setting(x, "tax.standard", "1950"); /* N/2 */
    setting(x, "tax.standard", "1960"); /* N/3 */
    oplog_vv since;
    oplog_vv_init(&since);
    assert_int_equal(oplog_vv_set(&since, "N", 1, &err), KASSA_OK);
    export_all(x, &since, &file); /* A/1, A/2, N/2, N/3 */
    snap_take(y, &before);
    rc = term_import(y, file.data, file.len, &rep, &err);
    assert_int_equal(rc, KASSA_ECORRUPT);
    assert_true(tu_contains(err.msg, "N/2"));
    snap_assert_same(y, &before, "a rejected forked file");
    snap_free(&before);
    oplog_vv held;
    assert_int_equal(term_vv(y, &held, &err), KASSA_OK);
    assert_int_equal(oplog_vv_get(&held, "A"), 0);
    oplog_vv_free(&held);

    /* A forked operation that waited in the pending queue is dropped when
     * its turn comes and it does not continue the chain. */
    assert_int_equal(oplog_vv_set(&since, "N", 2, &err), KASSA_OK);
    assert_int_equal(oplog_vv_set(&since, "A", 2, &err), KASSA_OK);
    export_all(x, &since, &file); /* X's N/3 only */
    import_ok(z, &file, &rep);
    assert_int_equal(rep.pending, 1);
    setting(y, "tax.standard", "1700"); /* Y's N/2 */
    export_all(y, NULL, &file);
    import_ok(z, &file, &rep);
    assert_int_equal(rep.applied, 1);
    assert_int_equal(rep.dropped, 1);
    assert_int_equal(rep.pending, 0);
    oplog_vv_free(&since);
    kbuf_free(&file);
    /* Z now matches Y exactly. */
    uint8_t hy[32], hz[32];
    assert_int_equal(term_state_hash(y, hy, &err), KASSA_OK);
    assert_int_equal(term_state_hash(z, hz, &err), KASSA_OK);
    assert_memory_equal(hy, hz, 32);
}

/* The pending queue is bounded: an import that would leave more operations
 * waiting than the limit is refused whole; within the limit it waits, and
 * the missing operations release it. */
static void test_import_pending_limit(void **state)
{
    (void)state;
    char da[600], db[600];
    term *a = new_term(da, sizeof da, "S", "A", NULL);
    term *b = new_term(db, sizeof db, "S", "B", NULL);
    catalog(a); /* A/1..A/5: three items, two receipts */
    oplog_vv ahead;
    oplog_vv_init(&ahead);
    assert_int_equal(oplog_vv_set(&ahead, "A", 1, NULL), KASSA_OK);
    kbuf gapped, all;
    kbuf_init(&gapped);
    kbuf_init(&all);
    export_all(a, &ahead, &gapped); /* A/2..A/5: B lacks A/1 */

    b->pending_max = 3;
    snap before;
    snap_take(b, &before);
    term_import_report rep;
    kassa_err err;
    assert_int_equal(term_import(b, gapped.data, gapped.len, &rep, &err), KASSA_EOVERFLOW);
    assert_true(tu_contains(err.msg, "limit 3"));
    snap_assert_same(b, &before, "an import over the pending limit");
    snap_free(&before);

    b->pending_max = 4;
    import_ok(b, &gapped, &rep);
    assert_int_equal(rep.pending, 4);
    assert_int_equal(rep.applied, 0);
    export_all(a, NULL, &all);
    import_ok(b, &all, &rep);
    assert_int_equal(rep.pending, 0);
    assert_int_equal(rep.applied, 5); /* A/1 from the file, A/2..A/5 released */
    kbuf_free(&gapped);
    kbuf_free(&all);
    oplog_vv_free(&ahead);
}

static void test_import_rejects_bad_files(void **state)
{
    (void)state;
    char d1[600], d2[600], d3[600];
    kassa_err err;
    term *a = new_term(d1, sizeof d1, STORE, "T1", NULL);
    term *b = new_term(d2, sizeof d2, STORE, "T2", NULL);
    term *other = new_term(d3, sizeof d3, "store-2", "T1", NULL);
    catalog(a);
    catalog(other);
    sell(a, "apple", 1);
    kbuf file;
    kbuf_init(&file);
    term_import_report rep;
    snap before;
    snap_take(b, &before);

    export_all(other, NULL, &file);
    assert_int_equal(term_import(b, file.data, file.len, &rep, &err), KASSA_ECONFLICT);
    assert_true(tu_contains(err.msg, "store-2"));

    export_all(a, NULL, &file);
    for (size_t cut = 0; cut < file.len; cut += 1 + file.len / 40) {
        int rc = term_import(b, file.data, cut, &rep, &err);
        if (rc == KASSA_OK)
            fail_msg("a file truncated to %zu of %zu bytes was accepted", cut, file.len);
    }
    for (size_t pos = 0; pos < file.len; pos += 1 + file.len / 40) {
        file.data[pos] ^= 0x20;
        int rc = term_import(b, file.data, file.len, &rep, &err);
        file.data[pos] ^= 0x20;
        if (rc == KASSA_OK)
            fail_msg("a file with byte %zu of %zu altered was accepted", pos, file.len);
    }
    snap_assert_same(b, &before, "a rejected file");
    snap_free(&before);
    import_ok(b, &file, &rep);
    assert_int_equal(rep.applied, rep.in_file);
    kbuf_free(&file);
}

/* ---- log verify ---- */

static void alter_payload(term *t, const char *origin, int64_t seq, bool rehash)
{
    static const char SEL[] =
        "SELECT p.payload, p.hlc, p.kind FROM ops p JOIN origins o ON o.id = p.origin "
        "WHERE o.name = ?1 AND p.seq = ?2";
    static const char PREV[] = "SELECT p.hash FROM ops p JOIN origins o ON o.id = p.origin "
                               "WHERE o.name = ?1 AND p.seq = ?2";
    static const char UPD[] = "UPDATE ops SET payload = ?3, hash = coalesce(?4, hash) WHERE "
                              "origin = (SELECT id FROM origins WHERE name = ?1) AND seq = ?2";
    sqlite3 *db = t->st.db;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, SEL, -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_text(st, 1, origin, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, seq);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    uint8_t payload[512];
    size_t len = (size_t)sqlite3_column_bytes(st, 0);
    assert_true(len > 0 && len <= sizeof payload);
    memcpy(payload, sqlite3_column_blob(st, 0), len);
    oplog_op op;
    memset(&op, 0, sizeof op);
    snprintf(op.origin, sizeof op.origin, "%s", origin);
    op.seq = (uint64_t)seq;
    op.hlc = (hlc_ts)sqlite3_column_int64(st, 1);
    op.kind = (uint8_t)sqlite3_column_int(st, 2);
    sqlite3_finalize(st);
    uint8_t hash[OPLOG_HASH_SIZE];
    if (rehash) {
        /* Garbage that hashes right: only decoding can tell. */
        memset(payload, 0xff, len);
        uint8_t prev[OPLOG_HASH_SIZE] = {0};
        if (seq > 1) {
            assert_int_equal(sqlite3_prepare_v2(db, PREV, -1, &st, NULL), SQLITE_OK);
            sqlite3_bind_text(st, 1, origin, -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 2, seq - 1);
            assert_int_equal(sqlite3_step(st), SQLITE_ROW);
            memcpy(prev, sqlite3_column_blob(st, 0), OPLOG_HASH_SIZE);
            sqlite3_finalize(st);
        }
        op.payload = payload;
        op.payload_len = len;
        oplog_hash(t->store_id, prev, &op, hash);
    } else {
        payload[len - 1] ^= 0x01; /* e.g. the tendered amount */
    }
    assert_int_equal(sqlite3_prepare_v2(db, UPD, -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_text(st, 1, origin, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, seq);
    sqlite3_bind_blob(st, 3, payload, (int)len, SQLITE_TRANSIENT);
    if (rehash)
        sqlite3_bind_blob(st, 4, hash, OPLOG_HASH_SIZE, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, 4);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    assert_int_equal(sqlite3_changes(db), 1);
    sqlite3_finalize(st);
}

static void verify(term *t, term_verify_report *vr)
{
    kassa_err err;
    assert_int_equal(term_log_verify(t, vr, &err), KASSA_OK);
}

static void test_log_verify_detects_alteration(void **state)
{
    (void)state;
    char da[600], db_dir[600];
    term *a = new_term(da, sizeof da, STORE, "T1", NULL);
    term *b = new_term(db_dir, sizeof db_dir, STORE, "B", NULL);
    catalog(b); /* B/1..B/5: three items, two receipts */
    kbuf file;
    kbuf_init(&file);
    term_import_report rep;
    export_all(b, NULL, &file);
    import_ok(a, &file, &rep);
    kbuf_free(&file);
    sell(a, "apple", 1);  /* T1/1 */
    sell(a, "bread", 2);  /* T1/2 */
    sell(a, "cheese", 1); /* T1/3 */
    sell(a, "apple", 3);  /* T1/4 */
    term_verify_report vr;
    verify(a, &vr);
    assert_true(vr.ok);
    assert_int_equal(vr.origins, 2);
    assert_int_equal(vr.ops, 9);

    /* One byte of T1/2's payload. */
    alter_payload(a, "T1", 2, false);
    verify(a, &vr);
    assert_false(vr.ok);
    assert_string_equal(vr.first_bad, "T1/2");
    assert_true(tu_contains(vr.reason, "hash"));
    assert_int_equal(vr.origins, 2);

    /* An earlier origin (by name) altered too: that one is first. */
    alter_payload(a, "B", 4, false);
    verify(a, &vr);
    assert_false(vr.ok);
    assert_string_equal(vr.first_bad, "B/4");

    /* A payload that does not decode but whose hash was recomputed. */
    char dc[600];
    term *c = new_term(dc, sizeof dc, STORE, "C", NULL);
    catalog(c);
    sell(c, "apple", 2); /* C/6, the last */
    verify(c, &vr);
    assert_true(vr.ok);
    alter_payload(c, "C", 6, true);
    verify(c, &vr);
    assert_false(vr.ok);
    assert_string_equal(vr.first_bad, "C/6");
    assert_true(tu_contains(vr.reason, "decode"));

    /* A hole in the log. */
    char dd[600];
    term *d = new_term(dd, sizeof dd, STORE, "D", NULL);
    catalog(d);
    assert_int_equal(sqlite3_exec(d->st.db,
                                  "DELETE FROM ops WHERE seq = 3 AND origin = (SELECT id FROM "
                                  "origins WHERE name = 'D')",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    verify(d, &vr);
    assert_false(vr.ok);
    assert_string_equal(vr.first_bad, "D/3"); /* the missing one */
    assert_true(tu_contains(vr.reason, "gap"));
}

/* ---- the import cache ---- */

/* A made-up terminal whose operations are chained as its own would be. */
typedef struct fake_origin {
    char name[16];
    uint64_t seq;
    uint8_t prev[OPLOG_HASH_SIZE];
} fake_origin;

/* Appends fake origin o's next operation to ops[*n], its payload in pl
 * (which must outlive ops). */
static void fake_op(term *t, fake_origin *o, int kind, const void *payload, kbuf *pl, oplog_op *ops,
                    size_t *n)
{
    kbuf_init(pl);
    assert_int_equal(oplog_encode(kind, payload, pl), KASSA_OK);
    oplog_op *op = &ops[(*n)++];
    memset(op, 0, sizeof *op);
    snprintf(op->origin, sizeof op->origin, "%s", o->name);
    op->seq = ++o->seq;
    op->hlc = (hlc_ts)(UINT64_C(1700000000000) << 16) + op->seq;
    op->kind = (uint8_t)kind;
    op->payload = pl->data;
    op->payload_len = pl->len;
    oplog_hash(t->store_id, o->prev, op, op->hash);
    memcpy(o->prev, op->hash, OPLOG_HASH_SIZE);
}

static void import_ops_ok(term *t, const oplog_op *ops, size_t n, term_import_report *rep)
{
    kassa_err err;
    if (term_import_ops(t, ops, n, rep, &err) != KASSA_OK)
        fail_msg("import of %zu operations: %s", n, err.msg);
}

static void assert_same_hash(term *a, term *b)
{
    uint8_t ha[32], hb[32];
    kassa_err err;
    assert_int_equal(term_state_hash(a, ha, &err), KASSA_OK);
    assert_int_equal(term_state_hash(b, hb, &err), KASSA_OK);
    assert_memory_equal(ha, hb, 32);
}

#define FAKE_ORIGINS 70  /* more than the cache holds at once (64) */
#define BIG_CATALOG 4200 /* more stock rows than it sums at once (4096) */

/* An import holds origin ids and heads, counter deltas and new rows in
 * memory (src/term/cache.c), each table bounded: more origins and more
 * stock rows in one import than it holds must end exactly as smaller
 * imports do, whatever the order, and an operation repeated in the same
 * batch, still held back, is a duplicate, not a forgery. */
static void test_import_cache_bounds(void **state)
{
    (void)state;
    char da[600], db[600], dc[600];
    kassa_err err;
    term *a = new_term(da, sizeof da, STORE, "A", NULL);
    term *b = new_term(db, sizeof db, STORE, "B", NULL);
    term *c = new_term(dc, sizeof dc, STORE, "C", NULL);
    catalog_item *items = calloc(BIG_CATALOG, sizeof *items);
    assert_non_null(items);
    for (size_t i = 0; i < BIG_CATALOG; i++) {
        snprintf(items[i].sku, sizeof items[i].sku, "sku%05zu", i);
        snprintf(items[i].name, sizeof items[i].name, "Item %zu", i);
        items[i].price = 100 + (int64_t)i;
        snprintf(items[i].tax_class, sizeof items[i].tax_class, "standard");
        items[i].stock = 1 + (int64_t)(i % 7);
        items[i].line = (unsigned)i + 2;
    }
    int rc = term_catalog_import(a, items, BIG_CATALOG, &err);
    free(items);
    if (rc != KASSA_OK)
        fail_msg("catalog import: %s", err.msg);
    kbuf file;
    kbuf_init(&file);
    export_all(a, NULL, &file);
    term_import_report rep;
    import_ok(b, &file, &rep); /* one import: 4200 stock rows */
    assert_int_equal(rep.applied, 2 * BIG_CATALOG);
    /* C: the same as one peer-link batch, its last operations sent twice
     * (the first copies are still rows the cache holds back). */
    oplog_file f;
    assert_int_equal(oplog_file_parse(file.data, file.len, &f, &err), KASSA_OK);
    oplog_op *again = calloc(f.n_ops + 5, sizeof *again);
    assert_non_null(again);
    memcpy(again, f.ops, f.n_ops * sizeof *again);
    memcpy(again + f.n_ops, f.ops + f.n_ops - 5, 5 * sizeof *again);
    import_ops_ok(c, again, f.n_ops + 5, &rep);
    assert_int_equal(rep.applied, 2 * BIG_CATALOG);
    assert_int_equal(rep.duplicates, 5);
    free(again);
    oplog_file_free(&f);
    kbuf_free(&file);
    assert_same_hash(a, b);
    assert_same_hash(a, c);
    assert_int_equal(stock_of(b, "sku04199"), 1 + 4199 % 7);

    /* 70 terminals: a receipt, a sale of 2 and then a void (even ones) or
     * a return of 1 (odd ones) of that sale. */
    enum { N_OPS = 3 * FAKE_ORIGINS };
    fake_origin *fo = calloc(FAKE_ORIGINS, sizeof *fo);
    oplog_op *ops = calloc(N_OPS + 10, sizeof *ops);
    kbuf *pl = calloc(N_OPS, sizeof *pl);
    oplog_sale *sale = calloc(1, sizeof *sale);
    oplog_return *ret = calloc(1, sizeof *ret);
    assert_true(fo && ops && pl && sale && ret);
    size_t n = 0;
    for (int k = 0; k < FAKE_ORIGINS; k++) {
        snprintf(fo[k].name, sizeof fo[k].name, "N%03d", k);
        oplog_stock st = {.sku = "apple", .qty = 10};
        fake_op(a, &fo[k], OP_STOCK_RECEIVE, &st, &pl[n], ops, &n);
        sale->n_lines = 1;
        snprintf(sale->lines[0].sku, sizeof sale->lines[0].sku, "apple");
        sale->lines[0].qty = 2;
        sale->lines[0].unit_price = 150;
        sale->tendered = 1000;
        fake_op(a, &fo[k], OP_SALE, sale, &pl[n], ops, &n);
        oplog_sale_ref ref;
        snprintf(ref.origin, sizeof ref.origin, "%s", fo[k].name);
        ref.seq = 2;
        if (k % 2 == 0) {
            oplog_void v = {.sale = ref, .refund = 300};
            fake_op(a, &fo[k], OP_VOID, &v, &pl[n], ops, &n);
        } else {
            ret->sale = ref;
            ret->n_lines = 1;
            snprintf(ret->lines[0].sku, sizeof ret->lines[0].sku, "apple");
            ret->lines[0].qty = 1;
            ret->lines[0].refund = 150;
            fake_op(a, &fo[k], OP_RETURN, ret, &pl[n], ops, &n);
        }
    }
    /* B: one batch, round robin over the origins (each op meets a cache
     * that dropped its origin since its previous op). */
    oplog_op *rr = calloc(N_OPS, sizeof *rr);
    assert_non_null(rr);
    for (size_t i = 0; i < N_OPS; i++)
        rr[i] = ops[(i % FAKE_ORIGINS) * 3 + i / FAKE_ORIGINS];
    import_ops_ok(b, rr, N_OPS, &rep);
    assert_int_equal(rep.applied, N_OPS);
    assert_int_equal(rep.pending, 0);
    /* C: origin after origin, and the last ten again at the end. */
    for (size_t i = 0; i < 10; i++)
        ops[N_OPS + i] = ops[N_OPS - 10 + i];
    import_ops_ok(c, ops, N_OPS + 10, &rep);
    assert_int_equal(rep.applied, N_OPS);
    assert_int_equal(rep.duplicates, 10);
    assert_same_hash(b, c);
    /* 35 x (10 - 2 + 2) + 35 x (10 - 2 + 1); cash 300 - 300 or 300 - 150. */
    assert_int_equal(stock_of(b, "apple"), 35 * 10 + 35 * 9);
    int64_t cash;
    assert_int_equal(term_drawer(b, NULL, &cash, &err), KASSA_OK);
    assert_int_equal(cash, 35 * 150);
    assert_int_equal(term_drawer(b, "N001", &cash, &err), KASSA_OK);
    assert_int_equal(cash, 150);
    assert_int_equal(term_drawer(b, "N068", &cash, &err), KASSA_OK);
    assert_int_equal(cash, 0);
    oplog_vv vv;
    assert_int_equal(term_vv(b, &vv, &err), KASSA_OK);
    assert_int_equal(vv.n, FAKE_ORIGINS + 1);
    for (int k = 0; k < FAKE_ORIGINS; k++)
        assert_int_equal(oplog_vv_get(&vv, fo[k].name), 3);
    oplog_vv_free(&vv);
    term_verify_report vr;
    verify(b, &vr);
    assert_true(vr.ok);
    assert_int_equal(vr.ops, 2 * BIG_CATALOG + N_OPS);
    for (size_t i = 0; i < N_OPS; i++)
        kbuf_free(&pl[i]);
    free(rr);
    free(pl);
    free(ops);
    free(fo);
    free(sale);
    free(ret);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_init_open_errors, teardown),
        cmocka_unit_test_teardown(test_migration_from_v1, teardown),
        cmocka_unit_test_teardown(test_import_export_fixture, teardown),
        cmocka_unit_test_teardown(test_migration_newer_refused, teardown),
        cmocka_unit_test_teardown(test_refusals_change_nothing, teardown),
        cmocka_unit_test_teardown(test_void_refused_after_free_return, teardown),
        cmocka_unit_test_teardown(test_group_commit, teardown),
        cmocka_unit_test_teardown(test_hlc_monotonic_across_reopen, teardown),
        cmocka_unit_test_teardown(test_import_clamps_skew, teardown),
        cmocka_unit_test_teardown(test_import_within_skew_adopted, teardown),
        cmocka_unit_test_teardown(test_import_forked_history_rejected, teardown),
        cmocka_unit_test_teardown(test_import_pending_limit, teardown),
        cmocka_unit_test_teardown(test_import_rejects_bad_files, teardown),
        cmocka_unit_test_teardown(test_log_verify_detects_alteration, teardown),
        cmocka_unit_test_teardown(test_import_cache_bounds, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
