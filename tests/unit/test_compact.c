/*
 * Unit tests of local compaction (term/compact.c, docs/CLOUD.md
 * "Compaction"): the horizon (acknowledged and older than the cutoff), the
 * drop itself (operations, sales and their rows; counters untouched), the
 * chain verifying from its base, two terminals compacting the same horizon
 * keeping equal digests, copies of dropped operations taken as duplicates,
 * voids and receipts of dropped sales refused with a reason; the
 * COMPACT record and snapshot codec; the Raft snapshot's storage.
 */
#include "testutil.h"
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storerec/storerec.h"
#include "term/term.h"
#include "termutil.h"

#define STORE "S1"
#define DAY_MS INT64_C(86400000)
#define T0_MS UINT64_C(1790000000000)

static void catalog(term *t)
{
    catalog_item item;
    memset(&item, 0, sizeof item);
    snprintf(item.sku, sizeof item.sku, "apple");
    snprintf(item.name, sizeof item.name, "Apple");
    item.price = 100;
    snprintf(item.tax_class, sizeof item.tax_class, "standard");
    item.stock = 1000;
    item.line = 2;
    kassa_err err;
    assert_int_equal(term_catalog_import(t, &item, 1, &err), KASSA_OK);
}

static oplog_sale_ref sell_one(term *t)
{
    term_cart cart;
    kassa_err err;
    cart_of(&cart, "apple", 1);
    term_sale_result *res = malloc(sizeof *res);
    assert_non_null(res);
    int rc = term_sale(t, &cart, 100000, res, &err);
    if (rc != KASSA_OK) {
        free(res);
        fail_msg("sale: %s", err.msg);
    }
    oplog_sale_ref ref = res->ref;
    free(res);
    return ref;
}

static void ship(term *from, term *to)
{
    kbuf file;
    kbuf_init(&file);
    kassa_err err;
    term_import_report rep;
    assert_int_equal(term_export(from, NULL, &file, &err), KASSA_OK);
    int rc = term_import(to, file.data, file.len, &rep, &err);
    kbuf_free(&file);
    if (rc != KASSA_OK)
        fail_msg("import: %s", err.msg);
}

static size_t count(term *t, const char *table)
{
    term_status st;
    kassa_err err;
    assert_int_equal(term_status_get(t, &st, &err), KASSA_OK);
    if (strcmp(table, "ops") == 0)
        return st.ops_held;
    return st.sales;
}

static void assert_verifies(term *t)
{
    term_verify_report vr;
    kassa_err err;
    assert_int_equal(term_log_verify(t, &vr, &err), KASSA_OK);
    if (!vr.ok)
        fail_msg("log verify: %s at %s", vr.reason, vr.first_bad);
}

static void test_compact_two_terminals(void **state)
{
    (void)state;
    char da[600], db[600];
    fake_clock clk = {T0_MS};
    term *a = new_term(da, sizeof da, STORE, "T1", &clk);
    term *b = new_term(db, sizeof db, STORE, "T2", &clk);
    kassa_err err;
    catalog(a);
    oplog_sale_ref old[10];
    for (int i = 0; i < 10; i++)
        old[i] = sell_one(a);
    clk.ms += 40 * DAY_MS; /* the first ten are old now */
    oplog_sale_ref recent = sell_one(a);
    ship(a, b);
    assert_same_state_hash(a, b);
    size_t ops_before = count(a, "ops");
    assert_true(ops_before == recent.seq); /* the catalog import, then 11 sales */
    assert_true(old[9].seq + 1 == recent.seq);

    /* The horizon: what the limit allows AND older than the cutoff. */
    oplog_vv limit, h, none;
    oplog_vv_init(&limit);
    oplog_vv_init(&h);
    oplog_vv_init(&none);
    assert_int_equal(term_vv(a, &limit, &err), KASSA_OK);
    int64_t cutoff_ms = (int64_t)clk.ms - 30 * DAY_MS;
    assert_int_equal(term_compact_horizon(a, &limit, cutoff_ms, &h, &err), KASSA_OK);
    assert_int_equal(h.n, 1);
    assert_true(oplog_vv_get(&h, "T1") == old[9].seq); /* not the recent sale */
    /* A limit below: the horizon stops there. */
    oplog_vv low;
    oplog_vv_init(&low);
    assert_int_equal(oplog_vv_set(&low, "T1", 4, &err), KASSA_OK);
    assert_int_equal(term_compact_horizon(a, &low, cutoff_ms, &none, &err), KASSA_OK);
    assert_true(oplog_vv_get(&none, "T1") == 4);
    oplog_vv_free(&none);
    oplog_vv_init(&none);
    /* Nothing old enough: nothing to drop. */
    assert_int_equal(term_compact_horizon(a, &limit, (int64_t)T0_MS - 1, &none, &err), KASSA_OK);
    assert_int_equal(none.n, 0);

    /* Both compact the same horizon: the same rows go, digests stay equal. */
    term_compact_report rep;
    assert_int_equal(term_compact(a, &h, &rep, &err), KASSA_OK);
    assert_int_equal(rep.origins, 1);
    assert_int_equal(rep.ops, old[9].seq);
    assert_int_equal(rep.sales, 10);
    assert_int_equal(term_compact(b, &h, &rep, &err), KASSA_OK);
    assert_int_equal(rep.ops, old[9].seq);
    assert_same_state_hash(a, b);
    assert_int_equal(count(a, "ops"), 1);
    assert_int_equal(count(a, "sales"), 1);
    assert_verifies(a);
    assert_verifies(b);
    /* Counters are state, not history: the stock keeps every sale. */
    int64_t qty;
    assert_int_equal(term_stock_get(a, "apple", &qty, &err), KASSA_OK);
    assert_true(qty == 1000 - 11);
    /* Again: nothing more to drop. */
    assert_int_equal(term_compact(a, &h, &rep, &err), KASSA_OK);
    assert_int_equal(rep.ops, 0);
    uint64_t base;
    assert_int_equal(term_origin_base(a, "T1", &base, &err), KASSA_OK);
    assert_true(base == old[9].seq);
    oplog_vv bases;
    oplog_vv_init(&bases);
    assert_int_equal(term_compact_bases(a, &bases, &err), KASSA_OK);
    assert_true(bases.n == 1 && oplog_vv_get(&bases, "T1") == old[9].seq);
    oplog_vv_free(&bases);

    /* A dropped sale: void and receipt refused with the reason, nothing
     * changed; the recent one still works. */
    snap before;
    snap_take(a, &before);
    int64_t refund = 0;
    assert_int_equal(term_void(a, &old[3], &refund, &err), KASSA_ECONFLICT);
    assert_non_null(strstr(err.msg, "older than the retention period"));
    kbuf receipt;
    kbuf_init(&receipt);
    assert_int_equal(term_receipt(a, &old[0], &receipt, &err), KASSA_ECONFLICT);
    snap_assert_same(a, &before, "a void of a dropped sale");
    snap_free(&before);
    assert_int_equal(term_receipt(a, &recent, &receipt, &err), KASSA_OK);
    kbuf_free(&receipt);

    /* The other terminal sending what it holds again: duplicates. */
    ship(b, a);
    assert_same_state_hash(a, b);
    oplog_vv_free(&limit);
    oplog_vv_free(&low);
    oplog_vv_free(&h);
    oplog_vv_free(&none);
}

/* A full export taken before compaction, imported after it: every dropped
 * operation is a duplicate; nothing changes. */
static void test_old_copies_are_duplicates(void **state)
{
    (void)state;
    char da[600];
    fake_clock clk = {T0_MS};
    term *a = new_term(da, sizeof da, STORE, "T1", &clk);
    kassa_err err;
    catalog(a);
    for (int i = 0; i < 5; i++)
        sell_one(a);
    kbuf file;
    kbuf_init(&file);
    assert_int_equal(term_export(a, NULL, &file, &err), KASSA_OK);
    oplog_vv h;
    oplog_vv_init(&h);
    assert_int_equal(oplog_vv_set(&h, "T1", 4, &err), KASSA_OK);
    term_compact_report rep;
    assert_int_equal(term_compact(a, &h, &rep, &err), KASSA_OK);
    assert_int_equal(rep.ops, 4);
    snap before;
    snap_take(a, &before);
    term_import_report irep;
    assert_int_equal(term_import(a, file.data, file.len, &irep, &err), KASSA_OK);
    assert_int_equal(irep.duplicates, 7); /* the catalog import's 2 and 5 sales */
    assert_int_equal(irep.applied, 0);
    snap_assert_same(a, &before, "importing dropped operations again");
    snap_free(&before);
    /* A horizon past the head is clamped to it. */
    oplog_vv_free(&h);
    oplog_vv_init(&h);
    assert_int_equal(oplog_vv_set(&h, "T1", 99, &err), KASSA_OK);
    assert_int_equal(term_compact(a, &h, &rep, &err), KASSA_OK);
    assert_int_equal(rep.ops, 3);
    assert_int_equal(count(a, "ops"), 0);
    assert_verifies(a);
    /* New operations continue the chain from the base. */
    sell_one(a);
    assert_verifies(a);
    kbuf_free(&file);
    oplog_vv_free(&h);
}

static int count_rec(const storerec *rec, void *ctx, kassa_err *err)
{
    (void)err;
    int *n = ctx;
    if (rec->type == STOREREC_COMPACT)
        assert_true(oplog_vv_get(&rec->vv, "T1") == 7);
    if (rec->type == STOREREC_CLOUD_CURSOR)
        assert_true(rec->cursor == 9);
    (*n)++;
    return KASSA_OK;
}

static void test_record_and_snapshot_codec(void **state)
{
    (void)state;
    kassa_err err;
    oplog_vv vv;
    oplog_vv_init(&vv);
    assert_int_equal(oplog_vv_set(&vv, "T1", 7, &err), KASSA_OK);
    kbuf rec, snapshot;
    kbuf_init(&rec);
    kbuf_init(&snapshot);
    assert_int_equal(storerec_encode_compact(&rec, &vv, &err), KASSA_OK);
    storerec out;
    assert_int_equal(storerec_decode(rec.data, rec.len, &out, &err), KASSA_OK);
    assert_int_equal(out.type, STOREREC_COMPACT);
    assert_true(oplog_vv_get(&out.vv, "T1") == 7);
    assert_string_equal(storerec_type_name(out.type), "compact");
    storerec_free(&out);
    storerec_snapshot_add(&snapshot, &rec);
    kbuf_reset(&rec);
    assert_int_equal(storerec_encode_cloud_cursor(&rec, 9, &err), KASSA_OK);
    storerec_snapshot_add(&snapshot, &rec);
    int n = 0;
    assert_int_equal(storerec_snapshot_each(snapshot.data, snapshot.len, count_rec, &n, &err),
                     KASSA_OK);
    assert_int_equal(n, 2);
    /* Every truncation is refused. */
    for (size_t cut = 1; cut < snapshot.len; cut++) {
        int rc = storerec_snapshot_each(snapshot.data, cut, count_rec, &n, &err);
        if (rc == KASSA_OK && cut != snapshot.len - rec.len - 1)
            fail_msg("a snapshot cut at %zu was accepted", cut);
    }
    /* More records than a snapshot may hold. */
    kbuf many;
    kbuf_init(&many);
    for (int i = 0; i <= STOREREC_SNAPSHOT_RECORDS_MAX; i++)
        storerec_snapshot_add(&many, &rec);
    assert_int_equal(storerec_snapshot_each(many.data, many.len, count_rec, &n, &err),
                     KASSA_ECORRUPT);
    kbuf_free(&many);
    kbuf_free(&rec);
    kbuf_free(&snapshot);
    oplog_vv_free(&vv);
}

static void test_raft_snapshot_storage(void **state)
{
    (void)state;
    char dir[600];
    fake_clock clk = {T0_MS};
    term *t = new_term(dir, sizeof dir, STORE, "T1", &clk);
    kassa_err err;
    static const uint8_t DATA[] = {1, 2, 3};
    term_raft_entry entries[5];
    for (int i = 0; i < 5; i++)
        entries[i] = (term_raft_entry){(uint64_t)i + 1, 1, 1, DATA, sizeof DATA};
    term_raft_hard hs = {.term = 1, .commit = 5};
    assert_int_equal(term_raft_save(t, &hs, entries, 5, &err), KASSA_OK);
    term_raft_snapshot snap = {.index = 3, .term = 1, .data = DATA, .len = sizeof DATA};
    snprintf(snap.conf, sizeof snap.conf, "T1,T2,T3");
    assert_int_equal(term_raft_snapshot_save(t, &snap, &err), KASSA_OK);
    untrack_close(t);
    t = open_term(dir, &clk);
    term_raft_snapshot got;
    kbuf data;
    kbuf_init(&data);
    assert_int_equal(term_raft_snapshot_load(t, &got, &data, &err), KASSA_OK);
    assert_true(got.index == 3 && got.term == 1 && got.len == sizeof DATA);
    assert_string_equal(got.conf, "T1,T2,T3");
    assert_memory_equal(got.data, DATA, sizeof DATA);
    /* The entries it covers are gone; 4 and 5 are left. */
    term_raft_hard loaded;
    int n = 0;
    assert_int_equal(term_raft_load(t, &loaded, NULL, &n, &err), KASSA_OK);
    kbuf_free(&data);
    snap.index = 0;
    assert_int_equal(term_raft_snapshot_save(t, &snap, &err), KASSA_EINVAL);
}

static int group_setup(void **state)
{
    (void)state;
    return tu_mkdtemp(g_base, sizeof g_base, "kassa-compact", false);
}

static int group_teardown(void **state)
{
    (void)state;
    tu_rm_tree(g_base);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_compact_two_terminals, teardown),
        cmocka_unit_test_teardown(test_old_copies_are_duplicates, teardown),
        cmocka_unit_test(test_record_and_snapshot_codec),
        cmocka_unit_test_teardown(test_raft_snapshot_storage, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
