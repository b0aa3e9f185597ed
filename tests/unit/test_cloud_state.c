/*
 * Unit tests of what the store's Raft group commits about the cloud: the
 * storerec record codec (round trips, one encoding per record, every
 * rejection) and its application to a terminal (term_cloud_*: merges only
 * raise, so committed records applied again after a restart change
 * nothing; pending operations count what the cloud lacks).
 */
#include "testutil.h"
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "storerec/storerec.h"
#include "term/term.h"
#include "termutil.h"

#define STORE "S1"

static void vv_of(oplog_vv *vv, const char *o1, uint64_t s1, const char *o2, uint64_t s2)
{
    oplog_vv_init(vv);
    if (o1)
        assert_int_equal(oplog_vv_set(vv, o1, s1, NULL), KASSA_OK);
    if (o2)
        assert_int_equal(oplog_vv_set(vv, o2, s2, NULL), KASSA_OK);
}

static void test_codec_round_trips(void **state)
{
    (void)state;
    oplog_vv vv;
    vv_of(&vv, "T2", 7, "T1", 3);
    kbuf b;
    kbuf_init(&b);
    kassa_err err;
    assert_int_equal(storerec_encode_cloud_ack(&b, &vv, &err), KASSA_OK);
    storerec rec;
    assert_int_equal(storerec_decode(b.data, b.len, &rec, &err), KASSA_OK);
    assert_int_equal(rec.type, STOREREC_CLOUD_ACK);
    assert_int_equal(rec.vv.n, 2);
    assert_int_equal(oplog_vv_get(&rec.vv, "T1"), 3);
    assert_int_equal(oplog_vv_get(&rec.vv, "T2"), 7);
    storerec_free(&rec);
    kbuf_reset(&b);
    assert_int_equal(storerec_encode_cloud_cursor(&b, 123456789, &err), KASSA_OK);
    assert_int_equal(storerec_decode(b.data, b.len, &rec, &err), KASSA_OK);
    assert_int_equal(rec.type, STOREREC_CLOUD_CURSOR);
    assert_true(rec.cursor == 123456789);
    storerec_free(&rec);
    assert_string_equal(storerec_type_name(STOREREC_CLOUD_ACK), "cloud_ack");
    assert_string_equal(storerec_type_name(99), "unknown");
    kbuf_free(&b);
    oplog_vv_free(&vv);
}

static void test_codec_rejects(void **state)
{
    (void)state;
    static const struct {
        const char *bytes;
        size_t n;
        const char *what;
    } BAD[] = {
        {"", 0, "empty"},
        {"\x04\x00", 2, "unknown type"},
        {"\x01", 1, "origin count"},
        {"\x01\x02\x02T2\x05\x02T1\x03", 11, "origins out of order"},
        {"\x01\x02\x02T1\x05\x02T1\x03", 11, "origins out of order or repeated"},
        {"\x01\x01\x02T1\x00", 6, "sequence number"},
        {"\x01\x01\x03T 1\x05", 7, "origin id"},
        {"\x02\x05\x00", 3, "trailing bytes"},
        {"\x02", 1, "cursor"},
        {"\x01\x01\x02T1\x05\x00", 7, "trailing bytes"},
    };
    for (size_t i = 0; i < KASSA_ARRAY_LEN(BAD); i++) {
        storerec rec;
        kassa_err err;
        int rc = storerec_decode((const uint8_t *)BAD[i].bytes, BAD[i].n, &rec, &err);
        if (rc != KASSA_ECORRUPT || !strstr(err.msg, BAD[i].what))
            fail_msg("case %zu (%s): rc %d, \"%s\"", i, BAD[i].what, rc, err.msg);
        storerec_free(&rec);
    }
}

static void test_term_cloud_state(void **state)
{
    (void)state;
    char dir[600];
    fake_clock clk = {UINT64_C(1790000000000)};
    term *t = new_term(dir, sizeof dir, STORE, "T1", &clk);
    kassa_err err;
    /* Some operations of our own: a setting each. */
    for (int i = 0; i < 5; i++)
        assert_int_equal(term_setting_set(t, "currency", i % 2 ? "EUR" : "CHF", &err), KASSA_OK);
    uint64_t pending;
    assert_int_equal(term_cloud_pending(t, &pending, &err), KASSA_OK);
    assert_true(pending == 5);

    oplog_vv vv, got;
    vv_of(&vv, "T1", 3, "T9", 2);
    assert_int_equal(term_cloud_ack_merge(t, &vv, &err), KASSA_OK);
    assert_int_equal(term_cloud_pending(t, &pending, &err), KASSA_OK);
    assert_true(pending == 2);
    /* An older record applied again lowers nothing. */
    oplog_vv older;
    vv_of(&older, "T1", 1, NULL, 0);
    assert_int_equal(term_cloud_ack_merge(t, &older, &err), KASSA_OK);
    oplog_vv_init(&got);
    assert_int_equal(term_cloud_acked(t, &got, &err), KASSA_OK);
    assert_int_equal(got.n, 2);
    assert_true(oplog_vv_get(&got, "T1") == 3 && oplog_vv_get(&got, "T9") == 2);
    /* The cursor too only grows, and survives a restart. */
    uint64_t cursor;
    assert_int_equal(term_cloud_cursor(t, &cursor, &err), KASSA_OK);
    assert_true(cursor == 0);
    assert_int_equal(term_cloud_cursor_merge(t, 40, &err), KASSA_OK);
    assert_int_equal(term_cloud_cursor_merge(t, 12, &err), KASSA_OK);
    untrack_close(t);
    t = open_term(dir, &clk);
    assert_int_equal(term_cloud_cursor(t, &cursor, &err), KASSA_OK);
    assert_true(cursor == 40);
    assert_int_equal(term_cloud_cursor_merge(t, UINT64_MAX, &err), KASSA_EINVAL);
    oplog_vv_free(&vv);
    oplog_vv_free(&older);
    oplog_vv_free(&got);
}

static int group_setup(void **state)
{
    (void)state;
    return tu_mkdtemp(g_base, sizeof g_base, "kassa-cloud-state", false);
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
        cmocka_unit_test(test_codec_round_trips),
        cmocka_unit_test(test_codec_rejects),
        cmocka_unit_test_teardown(test_term_cloud_state, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
