/*
 * Unit tests of the Raft message encoding (src/raft/msg.c): every message
 * type round-trips; the encoding is canonical (an accepted input
 * re-encodes to the same bytes, also after any single byte is changed);
 * truncated, oversized, non-canonical and out-of-place fields are refused
 * with KASSA_ECORRUPT and a one-line reason; configuration entry data.
 *
 * With RAFT_SEED_DIR set it writes the fuzz_raft_msg seed corpus there:
 *   RAFT_SEED_DIR=tests/fuzz/corpus/fuzz_raft_msg build/bin/test_raft_msg
 * RAFT_SHOW_REASONS=1 prints the reason each hand-made bad input gets.
 */
#include "testutil.h"
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raft/raft.h"

static raft_msg_buf g_buf;
static raft_entry g_entries[RAFT_MSG_ENTRIES_MAX];
static raft_snapshot_meta g_snap;
static uint8_t g_snap_data[4096];

static raft_msg mk(uint8_t type, uint64_t term)
{
    raft_msg m;
    memset(&m, 0, sizeof m);
    m.type = type;
    snprintf(m.from, sizeof m.from, "till-01");
    snprintf(m.to, sizeof m.to, "till-02");
    m.term = term;
    return m;
}

static raft_conf conf3(void)
{
    raft_conf c;
    memset(&c, 0, sizeof c);
    c.n = 3;
    snprintf(c.ids[0], sizeof c.ids[0], "till-01");
    snprintf(c.ids[1], sizeof c.ids[1], "till-02");
    snprintf(c.ids[2], sizeof c.ids[2], "till-03");
    return c;
}

/* A conf entry's data, built through a leader would be simpler, but the
 * format is documented: str node, uvarint n, str members. */
static uint16_t conf_data(uint8_t *out, const char *node, const raft_conf *c)
{
    kbuf b;
    kbuf_init(&b);
    kbuf_put_str(&b, node);
    kbuf_put_uvarint(&b, c->n);
    for (uint32_t i = 0; i < c->n; i++)
        kbuf_put_str(&b, c->ids[i]);
    assert_false(b.oom);
    memcpy(out, b.data, b.len);
    uint16_t n = (uint16_t)b.len;
    kbuf_free(&b);
    return n;
}

static raft_msg mk_app(uint32_t n)
{
    raft_msg m = mk(RAFT_MSG_APP, 7);
    m.index = 41;
    m.log_term = 5;
    m.commit = 40;
    memset(g_entries, 0, sizeof g_entries);
    for (uint32_t i = 0; i < n; i++) {
        raft_entry *e = &g_entries[i];
        e->index = m.index + 1 + i;
        e->term = i < n / 2 ? 5 : 7;
        e->type = RAFT_ENTRY_NORMAL;
        e->len = (uint16_t)snprintf((char *)e->data, sizeof e->data, "watermark %u", i);
    }
    if (n >= 3) {
        g_entries[0].type = RAFT_ENTRY_NOOP;
        g_entries[0].len = 0;
        raft_conf c = conf3();
        g_entries[1].type = RAFT_ENTRY_CONF_ADD;
        g_entries[1].len = conf_data(g_entries[1].data, "till-03", &c);
    }
    m.n_entries = n;
    m.entries = n ? g_entries : NULL;
    return m;
}

static raft_msg mk_snapshot(size_t len)
{
    raft_msg m = mk(RAFT_MSG_SNAPSHOT, 9);
    memset(&g_snap, 0, sizeof g_snap);
    g_snap.index = 1000;
    g_snap.term = 8;
    g_snap.conf = conf3();
    for (size_t i = 0; i < len; i++)
        g_snap_data[i] = (uint8_t)(i * 7);
    m.snapshot = &g_snap;
    m.snapshot_data = len ? g_snap_data : NULL;
    m.snapshot_len = len;
    return m;
}

/* One of each type, filled as the core fills them. */
static int sample_msgs(raft_msg *out, int max)
{
    int n = 0;
    raft_msg m;
    m = mk(RAFT_MSG_PREVOTE, 4);
    m.index = 120;
    m.log_term = 3;
    out[n++] = m;
    m = mk(RAFT_MSG_PREVOTE_RESP, 4);
    out[n++] = m;
    m.reject = true;
    m.term = 6;
    out[n++] = m;
    m = mk(RAFT_MSG_VOTE, 4);
    m.index = 120;
    m.log_term = 3;
    m.transfer = true;
    out[n++] = m;
    m = mk(RAFT_MSG_VOTE_RESP, 4);
    m.reject = true;
    out[n++] = m;
    out[n++] = mk_app(0);
    m = mk(RAFT_MSG_APP_RESP, 7);
    m.index = 45;
    m.has_score = true;
    m.score = 86400;
    out[n++] = m;
    m.reject = true;
    m.reject_hint = 30;
    m.log_term = 4;
    m.has_score = true;
    m.score = -7200;
    out[n++] = m;
    m = mk(RAFT_MSG_HEARTBEAT, 7);
    m.commit = 44;
    out[n++] = m;
    m = mk(RAFT_MSG_HEARTBEAT_RESP, 7);
    out[n++] = m;
    m.has_score = true;
    m.score = 123;
    out[n++] = m;
    m = mk(RAFT_MSG_TIMEOUT_NOW, 7);
    out[n++] = m;
    assert_true(n <= max);
    return n;
}

static void assert_msg_equal(const raft_msg *a, const raft_msg *b)
{
    assert_int_equal(a->type, b->type);
    assert_string_equal(a->from, b->from);
    assert_string_equal(a->to, b->to);
    assert_true(a->term == b->term && a->log_term == b->log_term && a->index == b->index &&
                a->commit == b->commit && a->reject_hint == b->reject_hint);
    assert_true(a->reject == b->reject && a->transfer == b->transfer &&
                a->has_score == b->has_score && a->score == b->score);
    assert_int_equal(a->n_entries, b->n_entries);
    for (uint32_t i = 0; i < a->n_entries; i++) {
        const raft_entry *x = &a->entries[i], *y = &b->entries[i];
        assert_true(x->index == y->index && x->term == y->term && x->type == y->type);
        assert_int_equal(x->len, y->len);
        assert_memory_equal(x->data, y->data, x->len);
    }
    assert_true((a->snapshot == NULL) == (b->snapshot == NULL));
    if (a->snapshot) {
        assert_true(a->snapshot->index == b->snapshot->index &&
                    a->snapshot->term == b->snapshot->term);
        assert_int_equal(a->snapshot->conf.n, b->snapshot->conf.n);
        for (uint32_t i = 0; i < a->snapshot->conf.n; i++)
            assert_string_equal(a->snapshot->conf.ids[i], b->snapshot->conf.ids[i]);
        assert_int_equal(a->snapshot_len, b->snapshot_len);
        if (a->snapshot_len)
            assert_memory_equal(a->snapshot_data, b->snapshot_data, a->snapshot_len);
    }
}

/* Encodes m, decodes it, checks equality and that it re-encodes the same. */
static void round_trip(const raft_msg *m, kbuf *out)
{
    kassa_err err;
    kbuf_reset(out);
    if (raft_msg_encode(m, out, &err) != KASSA_OK)
        fail_msg("encode %s: %s", raft_msg_type_name(m->type), err.msg);
    assert_true(out->len <= RAFT_MSG_ENCODED_MAX);
    raft_msg back;
    if (raft_msg_decode(out->data, out->len, &back, &g_buf, &err) != KASSA_OK)
        fail_msg("decode %s: %s", raft_msg_type_name(m->type), err.msg);
    assert_msg_equal(m, &back);
    kbuf again;
    kbuf_init(&again);
    assert_int_equal(raft_msg_encode(&back, &again, &err), KASSA_OK);
    assert_int_equal(again.len, out->len);
    assert_memory_equal(again.data, out->data, out->len);
    kbuf_free(&again);
}

static void test_round_trip_every_type(void **state)
{
    (void)state;
    raft_msg ms[16];
    int n = sample_msgs(ms, 16);
    kbuf b;
    kbuf_init(&b);
    for (int i = 0; i < n; i++)
        round_trip(&ms[i], &b);
    /* Small: a heartbeat is a few bytes more than its two ids. */
    raft_msg hb = mk(RAFT_MSG_HEARTBEAT, 7);
    hb.commit = 44;
    round_trip(&hb, &b);
    assert_true(b.len <= 3 + 5 + 2 * 8 + 1);
    raft_msg app = mk_app(5);
    round_trip(&app, &b);
    raft_msg full = mk_app(RAFT_MSG_ENTRIES_MAX);
    for (uint32_t i = 0; i < RAFT_MSG_ENTRIES_MAX; i++) {
        if (g_entries[i].type != RAFT_ENTRY_NORMAL)
            continue;
        g_entries[i].len = RAFT_ENTRY_DATA_MAX;
        memset(g_entries[i].data, (int)i, RAFT_ENTRY_DATA_MAX);
    }
    round_trip(&full, &b);
    raft_msg snap = mk_snapshot(sizeof g_snap_data);
    round_trip(&snap, &b);
    raft_msg empty_snap = mk_snapshot(0);
    round_trip(&empty_snap, &b);
    kbuf_free(&b);
}

static void test_largest_snapshot(void **state)
{
    (void)state;
    static uint8_t big[RAFT_SNAPSHOT_MAX + 1];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 13);
    raft_msg m = mk_snapshot(0);
    raft_conf c;
    memset(&c, 0, sizeof c);
    c.n = RAFT_MEMBERS_MAX;
    for (uint32_t i = 0; i < c.n; i++) {
        /* 32 characters, the longest id: "terminal-NN-abcdefghijklmnopqrst". */
        memcpy(c.ids[i], "terminal-00-abcdefghijklmnopqrst", KASSA_ID_MAX);
        c.ids[i][9] = (char)('0' + i / 10);
        c.ids[i][10] = (char)('0' + i % 10);
    }
    g_snap.conf = c;
    m.snapshot_data = big;
    m.snapshot_len = RAFT_SNAPSHOT_MAX;
    kbuf b;
    kbuf_init(&b);
    round_trip(&m, &b);
    kassa_err err;
    m.snapshot_len = RAFT_SNAPSHOT_MAX + 1;
    kbuf_reset(&b);
    assert_int_equal(raft_msg_encode(&m, &b, &err), KASSA_ECORRUPT);
    kbuf_free(&b);
}

static void expect_corrupt(const uint8_t *p, size_t n, const char *why)
{
    raft_msg m;
    kassa_err err;
    memset(&m, 0xa5, sizeof m);
    int rc = raft_msg_decode(p, n, &m, &g_buf, &err);
    if (rc != KASSA_ECORRUPT)
        fail_msg("%s: accepted (rc %d)", why, rc);
    assert_int_equal(err.code, KASSA_ECORRUPT);
    tu_check_msg(err.msg, sizeof err.msg);
    if (getenv("RAFT_SHOW_REASONS") && strcmp(why, "truncated") != 0)
        print_message("%-40s -> %s\n", why, err.msg);
    /* Nothing half-decoded is left behind. */
    assert_int_equal(m.type, 0);
    assert_null(m.entries);
}

/* Every prefix of a valid encoding is refused, and so is a trailing byte. */
static void test_truncation_and_trailing(void **state)
{
    (void)state;
    raft_msg ms[20];
    int n = sample_msgs(ms, 16);
    ms[n++] = mk_app(5);
    ms[n++] = mk_snapshot(100);
    kbuf b;
    kbuf_init(&b);
    for (int i = 0; i < n; i++) {
        kassa_err err;
        kbuf_reset(&b);
        assert_int_equal(raft_msg_encode(&ms[i], &b, &err), KASSA_OK);
        for (size_t len = 0; len < b.len; len++)
            expect_corrupt(b.data, len, "truncated");
        kbuf_put_u8(&b, 0);
        expect_corrupt(b.data, b.len, "trailing byte");
    }
    kbuf_free(&b);
}

/* Any single byte changed: refused, or accepted as a message that
 * re-encodes to exactly the changed bytes (one encoding per message). */
static void test_byte_flips_canonical(void **state)
{
    (void)state;
    raft_msg ms[20];
    int n = sample_msgs(ms, 16);
    ms[n++] = mk_app(4);
    ms[n++] = mk_snapshot(20);
    kbuf b, again;
    kbuf_init(&b);
    kbuf_init(&again);
    uint64_t accepted = 0, refused = 0;
    for (int i = 0; i < n; i++) {
        kassa_err err;
        kbuf_reset(&b);
        assert_int_equal(raft_msg_encode(&ms[i], &b, &err), KASSA_OK);
        for (size_t at = 0; at < b.len; at++) {
            for (int bit = 0; bit < 8; bit++) {
                b.data[at] ^= (uint8_t)(1u << bit);
                raft_msg m;
                int rc = raft_msg_decode(b.data, b.len, &m, &g_buf, &err);
                if (rc == KASSA_OK) {
                    accepted++;
                    kbuf_reset(&again);
                    assert_int_equal(raft_msg_encode(&m, &again, &err), KASSA_OK);
                    assert_int_equal(again.len, b.len);
                    assert_memory_equal(again.data, b.data, b.len);
                } else {
                    refused++;
                    assert_int_equal(rc, KASSA_ECORRUPT);
                    tu_check_msg(err.msg, sizeof err.msg);
                }
                b.data[at] ^= (uint8_t)(1u << bit);
            }
        }
    }
    assert_true(accepted > 0 && refused > 0);
    kbuf_free(&b);
    kbuf_free(&again);
}

/* Hand-made bad encodings, each for one rule. */
static void hdr(kbuf *b, uint8_t version, uint8_t type, uint8_t flags, uint64_t term,
                uint64_t log_term, uint64_t index, uint64_t commit, uint64_t hint, const char *from,
                const char *to)
{
    kbuf_reset(b);
    kbuf_put_u8(b, version);
    kbuf_put_u8(b, type);
    kbuf_put_u8(b, flags);
    kbuf_put_uvarint(b, term);
    kbuf_put_uvarint(b, log_term);
    kbuf_put_uvarint(b, index);
    kbuf_put_uvarint(b, commit);
    kbuf_put_uvarint(b, hint);
    kbuf_put_str(b, from);
    kbuf_put_str(b, to);
}

/* A snapshot message of term 3 without entries, up to its meta's member
 * count: index 10, the given term, n members (the members and data to
 * follow). */
static void snapshot_hdr(kbuf *b, uint64_t snap_term, uint64_t n_members)
{
    hdr(b, 1, RAFT_MSG_SNAPSHOT, 0, 3, 0, 0, 0, 0, "a", "b");
    kbuf_put_uvarint(b, 0);
    kbuf_put_uvarint(b, 10);
    kbuf_put_uvarint(b, snap_term);
    kbuf_put_uvarint(b, n_members);
}

static void test_rejections(void **state)
{
    (void)state;
    kbuf b;
    kbuf_init(&b);
    raft_msg m;
    kassa_err err;

    /* The reference: a valid heartbeat built by hand. */
    hdr(&b, 1, RAFT_MSG_HEARTBEAT, 0, 3, 0, 0, 2, 0, "a", "b");
    kbuf_put_uvarint(&b, 0);
    assert_int_equal(raft_msg_decode(b.data, b.len, &m, &g_buf, &err), KASSA_OK);

    /* Headers with no entries, each breaking one rule. */
    static const struct bad_hdr {
        uint8_t version, type, flags;
        uint64_t term, log_term, index, commit, hint;
        const char *from, *to, *why;
    } bad_hdrs[] = {
        {2, RAFT_MSG_HEARTBEAT, 0, 3, 0, 0, 2, 0, "a", "b", "version 2"},
        {1, 0, 0, 3, 0, 0, 2, 0, "a", "b", "type 0"},
        {1, RAFT_MSG_TYPE_MAX + 1, 0, 3, 0, 0, 2, 0, "a", "b", "type 11"},
        {1, RAFT_MSG_HEARTBEAT, 0x08, 3, 0, 0, 2, 0, "a", "b", "unknown flag"},
        {1, RAFT_MSG_HEARTBEAT, 0x01, 3, 0, 0, 2, 0, "a", "b", "reject on a heartbeat"},
        {1, RAFT_MSG_HEARTBEAT, 0x02, 3, 0, 0, 2, 0, "a", "b", "transfer on a heartbeat"},
        {1, RAFT_MSG_HEARTBEAT, 0, 3, 0, 5, 2, 0, "a", "b", "index on a heartbeat"},
        {1, RAFT_MSG_HEARTBEAT, 0, 3, 4, 0, 2, 0, "a", "b", "log term past the term"},
        {1, RAFT_MSG_HEARTBEAT, 0, 0, 0, 0, 2, 0, "a", "b", "heartbeat of term 0"},
        {1, RAFT_MSG_HEARTBEAT, 0, RAFT_TERM_MAX, 0, 0, 2, 0, "a", "b", "term too large"},
        {1, RAFT_MSG_HEARTBEAT, 0, 3, 0, 0, 2, 0, "a", "a", "to itself"},
        {1, RAFT_MSG_HEARTBEAT, 0, 3, 0, 0, 2, 0, "a b", "b", "bad id"},
        {1, RAFT_MSG_HEARTBEAT, 0, 3, 0, 0, 2, 0, "", "b", "empty id"},
        {1, RAFT_MSG_HEARTBEAT, 0, 3, 0, 0, 2, 0, "abcdefghijabcdefghijabcdefghijabc", "b",
         "id of 33 bytes"},
        /* Hint without rejection; hint past the index. */
        {1, RAFT_MSG_APP_RESP, 0, 3, 0, 5, 0, 4, "a", "b", "hint without rejection"},
        {1, RAFT_MSG_APP_RESP, 1, 3, 0, 5, 0, 6, "a", "b", "hint past the index"},
    };
    for (size_t i = 0; i < sizeof bad_hdrs / sizeof bad_hdrs[0]; i++) {
        const struct bad_hdr *h = &bad_hdrs[i];
        hdr(&b, h->version, h->type, h->flags, h->term, h->log_term, h->index, h->commit, h->hint,
            h->from, h->to);
        kbuf_put_uvarint(&b, 0);
        expect_corrupt(b.data, b.len, h->why);
    }
    /* An over-long varint: commit 2 as 0x82 0x00. */
    kbuf_reset(&b);
    const uint8_t overlong[] = {1, RAFT_MSG_HEARTBEAT, 0, 3, 0, 0, 0x82, 0x00, 0, 1, 'a', 1, 'b',
                                0};
    expect_corrupt(overlong, sizeof overlong, "over-long varint");
    /* Score flag without the score. */
    hdr(&b, 1, RAFT_MSG_HEARTBEAT_RESP, 0x04, 3, 0, 0, 0, 0, "a", "b");
    expect_corrupt(b.data, b.len, "missing score");

    /* Entries: on the wrong type, too many, too long, bad terms, types,
     * no-op data, configuration data. */
    static uint8_t big[RAFT_ENTRY_DATA_MAX + 1];
    const struct bad_entry {
        uint8_t type;
        uint64_t term, log_term, index;
        uint8_t entry_type;
        uint64_t term_delta;
        const void *data;
        size_t len;
        const char *why;
    } bad_entries[] = {
        {RAFT_MSG_HEARTBEAT, 3, 0, 0, RAFT_ENTRY_NORMAL, 0, "x", 1, "entries on a heartbeat"},
        {RAFT_MSG_APP, 3, 1, 5, RAFT_ENTRY_NORMAL, 0, big, sizeof big, "entry too long"},
        /* term 4 > 3 */
        {RAFT_MSG_APP, 3, 1, 5, RAFT_ENTRY_NORMAL, 3, "x", 1, "entry term past the message term"},
        {RAFT_MSG_APP, 3, 1, 5, 9, 0, "x", 1, "entry type 9"},
        {RAFT_MSG_APP, 3, 1, 5, RAFT_ENTRY_NOOP, 0, "x", 1, "no-op with data"},
        {RAFT_MSG_APP, 3, 1, 5, RAFT_ENTRY_CONF_ADD, 0, "junk", 4, "configuration entry junk"},
        {RAFT_MSG_APP, RAFT_TERM_MAX - 1, 1, RAFT_INDEX_MAX - 1, RAFT_ENTRY_NOOP, 0, "", 0,
         "entry index too large"},
    };
    for (size_t i = 0; i < sizeof bad_entries / sizeof bad_entries[0]; i++) {
        const struct bad_entry *x = &bad_entries[i];
        hdr(&b, 1, x->type, 0, x->term, x->log_term, x->index, 2, 0, "a", "b");
        kbuf_put_uvarint(&b, 1);
        kbuf_put_u8(&b, x->entry_type);
        kbuf_put_uvarint(&b, x->term_delta);
        kbuf_put_bytes(&b, x->data, x->len);
        expect_corrupt(b.data, b.len, x->why);
    }
    hdr(&b, 1, RAFT_MSG_APP, 0, 3, 1, 5, 2, 0, "a", "b");
    kbuf_put_uvarint(&b, RAFT_MSG_ENTRIES_MAX + 1);
    expect_corrupt(b.data, b.len, "too many entries");

    /* Snapshots: none, no members, too many, unsorted, term past. */
    hdr(&b, 1, RAFT_MSG_SNAPSHOT, 0, 3, 0, 0, 0, 0, "a", "b");
    kbuf_put_uvarint(&b, 0);
    expect_corrupt(b.data, b.len, "snapshot missing");
    snapshot_hdr(&b, 3, 0);
    kbuf_put_bytes(&b, "", 0);
    expect_corrupt(b.data, b.len, "snapshot without members");
    snapshot_hdr(&b, 3, RAFT_MEMBERS_MAX + 1);
    expect_corrupt(b.data, b.len, "snapshot with 17 members");
    snapshot_hdr(&b, 3, 2);
    kbuf_put_str(&b, "b");
    kbuf_put_str(&b, "a");
    kbuf_put_bytes(&b, "", 0);
    expect_corrupt(b.data, b.len, "snapshot members unsorted");
    snapshot_hdr(&b, 4, 1);
    kbuf_put_str(&b, "a");
    kbuf_put_bytes(&b, "", 0);
    expect_corrupt(b.data, b.len, "snapshot term past the message term");
    /* ... and the same snapshot with term 3 is fine. */
    snapshot_hdr(&b, 3, 1);
    kbuf_put_str(&b, "a");
    kbuf_put_bytes(&b, "state", 5);
    assert_int_equal(raft_msg_decode(b.data, b.len, &m, &g_buf, &err), KASSA_OK);
    assert_int_equal(m.snapshot_len, 5);
    assert_int_equal(m.snapshot->conf.n, 1);

    /* Longer than any message can be. */
    static uint8_t huge[RAFT_MSG_ENCODED_MAX + 1];
    expect_corrupt(huge, sizeof huge, "over the size bound");
    kbuf_free(&b);

    /* raft_msg_encode checks too. */
    raft_msg bad = mk(RAFT_MSG_HEARTBEAT, 3);
    bad.reject = true;
    kbuf_init(&b);
    assert_int_equal(raft_msg_encode(&bad, &b, &err), KASSA_ECORRUPT);
    bad = mk_app(3);
    g_entries[2].index = 99;
    assert_int_equal(raft_msg_encode(&bad, &b, &err), KASSA_ECORRUPT);
    bad = mk(RAFT_MSG_HEARTBEAT_RESP, 3);
    bad.score = 5; /* without has_score */
    assert_int_equal(raft_msg_encode(&bad, &b, &err), KASSA_ECORRUPT);
    assert_int_equal(b.len, 0);
    kbuf_free(&b);
}

static void test_conf_entry(void **state)
{
    (void)state;
    raft_conf c = conf3();
    raft_entry e;
    memset(&e, 0, sizeof e);
    e.type = RAFT_ENTRY_CONF_ADD;
    e.len = conf_data(e.data, "till-02", &c);
    char node[RAFT_ID_SIZE];
    raft_conf got;
    kassa_err err;
    assert_int_equal(raft_entry_conf(&e, node, &got, &err), KASSA_OK);
    assert_string_equal(node, "till-02");
    assert_int_equal(got.n, 3);
    assert_string_equal(got.ids[2], "till-03");
    /* An add whose configuration lacks the node, a remove that keeps it. */
    e.len = conf_data(e.data, "till-09", &c);
    assert_int_equal(raft_entry_conf(&e, node, &got, &err), KASSA_ECORRUPT);
    e.type = RAFT_ENTRY_CONF_REMOVE;
    assert_int_equal(raft_entry_conf(&e, node, &got, &err), KASSA_OK);
    e.len = conf_data(e.data, "till-01", &c);
    assert_int_equal(raft_entry_conf(&e, node, &got, &err), KASSA_ECORRUPT);
    e.type = RAFT_ENTRY_NORMAL;
    assert_int_equal(raft_entry_conf(&e, node, &got, &err), KASSA_EINVAL);
    /* Duplicates. */
    raft_conf dup = c;
    snprintf(dup.ids[2], sizeof dup.ids[2], "till-02");
    e.type = RAFT_ENTRY_CONF_ADD;
    e.len = conf_data(e.data, "till-02", &dup);
    assert_int_equal(raft_entry_conf(&e, node, &got, &err), KASSA_ECORRUPT);
}

/* The seed corpus of fuzz_raft_msg: one valid message of each kind, and
 * checks that they decode. */
static void test_corpus_seeds(void **state)
{
    (void)state;
    const char *dir = getenv("RAFT_SEED_DIR");
    raft_msg ms[24];
    int n = sample_msgs(ms, 16);
    /* Aimed at the fuzz target's nodes "a", "b", "c" (it rewrites "to"). */
    ms[n++] = mk_app(0);
    ms[n++] = mk_app(3);
    ms[n++] = mk_app(12);
    ms[n++] = mk_snapshot(64);
    raft_msg vote_b = mk(RAFT_MSG_VOTE, 3);
    vote_b.index = 2;
    vote_b.log_term = 2;
    ms[n++] = vote_b;
    raft_msg resp = mk(RAFT_MSG_APP_RESP, 3);
    resp.index = 3;
    ms[n++] = resp;
    kbuf b;
    kbuf_init(&b);
    for (int i = 0; i < n; i++) {
        snprintf(ms[i].from, sizeof ms[i].from, i % 2 ? "a" : "c");
        snprintf(ms[i].to, sizeof ms[i].to, "b");
        if (ms[i].type == RAFT_MSG_SNAPSHOT) {
            memset(&g_snap.conf, 0, sizeof g_snap.conf);
            g_snap.conf.n = 3;
            for (uint32_t k = 0; k < 3; k++)
                g_snap.conf.ids[k][0] = (char)('a' + k);
        }
        round_trip(&ms[i], &b);
        char name[64];
        snprintf(name, sizeof name, "%02d_%s", i, raft_msg_type_name(ms[i].type));
        assert_int_equal(tu_seed_write(dir, name, b.data, b.len), 0);
    }
    kbuf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_every_type),
        cmocka_unit_test(test_largest_snapshot),
        cmocka_unit_test(test_truncation_and_trailing),
        cmocka_unit_test(test_byte_flips_canonical),
        cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_conf_entry),
        cmocka_unit_test(test_corpus_seeds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
