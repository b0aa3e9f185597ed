/*
 * Unit tests for the per-link sync rules (src/peer/peer_sync.h): what a
 * terminal sends to one peer. Our own operations always; another origin's
 * only to a peer that says it is not linked with that origin; never the
 * peer's own back (unless repairing); streaming resumes where the peer is;
 * a repair rewinds only a peer that applied nothing for several rounds
 * while the link was quiet.
 */
#include "testutil.h"
#include <cmocka.h>

#include "peer/peer_sync.h"

/* A fixed clock: only the relay grace looks at time. */
#define NOW INT64_C(1000000)

static void vv_of(oplog_vv *vv, const char *const *origins, const uint64_t *seqs, size_t n)
{
    oplog_vv_init(vv);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(oplog_vv_set(vv, origins[i], seqs[i], NULL), KASSA_OK);
}

static void linked_of(wire_linked *l, const char *const *ids, size_t n)
{
    l->n = n;
    for (size_t i = 0; i < n; i++)
        snprintf(l->id[i], sizeof l->id[i], "%s", ids[i]);
}

/* The next range, as "ORIGIN>SEQ", or "" when there is nothing. */
static const char *next_of(const peer_sync *s, const oplog_vv *ours)
{
    static char buf[64];
    const char *origin;
    uint64_t after;
    if (!peer_sync_next(s, ours, NOW, &origin, &after))
        return "";
    snprintf(buf, sizeof buf, "%s>%llu", origin, (unsigned long long)after);
    return buf;
}

/* Terminal B's link to C, which holds nothing yet; B holds A 1..30 and
 * its own 1..5. */
static void b_to_c(peer_sync *s, int64_t grace_ms, oplog_vv *ours)
{
    peer_sync_init(s, "B", grace_ms);
    peer_sync_set_peer(s, "C");
    const char *o[] = {"A", "B"};
    uint64_t ours_seq[] = {30, 5};
    vv_of(ours, o, ours_seq, 2);
    oplog_vv theirs;
    vv_of(&theirs, NULL, NULL, 0);
    assert_int_equal(peer_sync_on_vv(s, &theirs, NULL), KASSA_OK);
    oplog_vv_free(&theirs);
}

static void test_sendable(void **state)
{
    (void)state;
    static peer_sync s;
    peer_sync_init(&s, "T1", 0);
    peer_sync_set_peer(&s, "T2");
    /* Until the peer says whom it hears from: only our own. */
    assert_true(peer_sync_sendable(&s, "T1", NOW));
    assert_false(peer_sync_sendable(&s, "T3", NOW));
    assert_false(peer_sync_sendable(&s, "T2", NOW));
    /* Origins we hold are tracked (each round makes their entries). */
    assert_int_equal(peer_sync_sent(&s, "T3", 0, NULL), KASSA_OK);
    assert_int_equal(peer_sync_sent(&s, "T4", 0, NULL), KASSA_OK);
    static wire_linked l;
    const char *ids[] = {"T1", "T3"};
    linked_of(&l, ids, 2);
    peer_sync_on_linked(&s, &l, NOW);
    assert_true(peer_sync_sendable(&s, "T1", NOW));
    assert_false(peer_sync_sendable(&s, "T3", NOW)); /* it hears T3 itself */
    assert_true(peer_sync_sendable(&s, "T4", NOW));  /* it cannot: we relay */
    assert_false(peer_sync_sendable(&s, "T2", NOW)); /* its own, never back */
    /* Its links change: T3 gone, so we relay T3 now. */
    linked_of(&l, ids, 1);
    peer_sync_on_linked(&s, &l, NOW);
    assert_true(peer_sync_sendable(&s, "T3", NOW));
    peer_sync_free(&s);
}

static void test_stream_from_their_head(void **state)
{
    (void)state;
    static peer_sync s;
    peer_sync_init(&s, "T1", 0);
    peer_sync_set_peer(&s, "T2");
    oplog_vv ours, theirs;
    const char *o[] = {"T1", "T2", "T3"};
    uint64_t ours_seq[] = {100, 40, 7};
    uint64_t their_seq[] = {60, 50, 7};
    vv_of(&ours, o, ours_seq, 3);
    vv_of(&theirs, o, their_seq, 3);
    assert_string_equal(next_of(&s, &ours), "T1>0"); /* knows nothing yet */
    assert_int_equal(peer_sync_on_vv(&s, &theirs, NULL), KASSA_OK);
    assert_string_equal(next_of(&s, &ours), "T1>60");
    assert_int_equal(peer_sync_lag(&s, &ours), 40);    /* T1 61..100 */
    assert_int_equal(peer_sync_behind(&s, &ours), 10); /* T2 41..50 */
    assert_int_equal(peer_sync_sent(&s, "T1", 80, NULL), KASSA_OK);
    assert_string_equal(next_of(&s, &ours), "T1>80");
    assert_int_equal(peer_sync_sent(&s, "T1", 100, NULL), KASSA_OK);
    assert_string_equal(next_of(&s, &ours), ""); /* T2 is its own, T3 not ours to relay */
    /* An older Ack arriving late changes nothing; a newer one moves on. */
    uint64_t older[] = {55, 45, 7};
    oplog_vv old;
    vv_of(&old, o, older, 3);
    assert_int_equal(peer_sync_on_vv(&s, &old, NULL), KASSA_OK);
    assert_int_equal(peer_sync_lag(&s, &ours), 40);
    /* New local operations are pushed from where we stopped, not resent. */
    assert_int_equal(oplog_vv_set(&ours, "T1", 101, NULL), KASSA_OK);
    assert_string_equal(next_of(&s, &ours), "T1>100");
    oplog_vv_free(&old);
    oplog_vv_free(&ours);
    oplog_vv_free(&theirs);
    peer_sync_free(&s);
}

static void test_relay_to_unlinked_peer(void **state)
{
    (void)state;
    static peer_sync s;
    static wire_linked l;
    oplog_vv ours;
    b_to_c(&s, 0, &ours);
    assert_string_equal(next_of(&s, &ours), "B>0");
    assert_int_equal(peer_sync_sent(&s, "B", 5, NULL), KASSA_OK);
    assert_string_equal(next_of(&s, &ours), "");                 /* A: unknown links yet */
    assert_int_equal(peer_sync_round(&s, &ours, false, NOW), 0); /* tracks A */
    const char *ids[] = {"B"};
    linked_of(&l, ids, 1); /* C hears only us: we carry A's operations */
    peer_sync_on_linked(&s, &l, NOW);
    assert_string_equal(next_of(&s, &ours), "A>0");
    peer_sync_free(&s);
    oplog_vv_free(&ours);
}

static void test_repair_only_when_quiet(void **state)
{
    (void)state;
    static peer_sync s;
    peer_sync_init(&s, "T1", 0);
    peer_sync_set_peer(&s, "T2");
    oplog_vv ours, theirs;
    const char *o[] = {"T1"};
    uint64_t ours_seq[] = {100}, their_seq[] = {10};
    vv_of(&ours, o, ours_seq, 1);
    vv_of(&theirs, o, their_seq, 1);
    assert_int_equal(peer_sync_on_vv(&s, &theirs, NULL), KASSA_OK);
    assert_int_equal(peer_sync_sent(&s, "T1", 100, NULL), KASSA_OK);
    /* Busy link (not idle): never rewound however long. */
    for (int i = 0; i < 10; i++)
        assert_int_equal(peer_sync_round(&s, &ours, false, NOW), 0);
    assert_string_equal(next_of(&s, &ours), "");
    /* The peer progresses: not stalled, even when idle. */
    for (uint64_t k = 1; k <= 5; k++) {
        uint64_t seq[] = {10 + k};
        oplog_vv v;
        vv_of(&v, o, seq, 1);
        assert_int_equal(peer_sync_on_vv(&s, &v, NULL), KASSA_OK);
        oplog_vv_free(&v);
        assert_int_equal(peer_sync_round(&s, &ours, true, NOW), 0);
    }
    /* Quiet and no progress for PEER_SYNC_STALL_ROUNDS rounds: rewound to
     * its head (15) and streamed again. */
    for (int i = 1; i < PEER_SYNC_STALL_ROUNDS; i++)
        assert_int_equal(peer_sync_round(&s, &ours, true, NOW), 0);
    assert_int_equal(peer_sync_round(&s, &ours, true, NOW), 1);
    assert_string_equal(next_of(&s, &ours), "T1>15");
    /* Caught up: nothing to repair any more. */
    uint64_t all[] = {100};
    oplog_vv v;
    vv_of(&v, o, all, 1);
    assert_int_equal(peer_sync_on_vv(&s, &v, NULL), KASSA_OK);
    for (int i = 0; i < 2 * PEER_SYNC_STALL_ROUNDS; i++)
        assert_int_equal(peer_sync_round(&s, &ours, true, NOW), 0);
    oplog_vv_free(&v);
    oplog_vv_free(&ours);
    oplog_vv_free(&theirs);
    peer_sync_free(&s);
}

/* While a store's links come up, a peer is briefly linked with only some
 * terminals: relaying then would duplicate what its own links bring. An
 * origin is relayed only after the peer has lacked a link with it for the
 * whole grace period, and not at all once it links with it again. */
static void test_relay_grace(void **state)
{
    (void)state;
    static peer_sync s;
    static wire_linked l;
    const int64_t grace = 2000;
    oplog_vv ours;
    b_to_c(&s, grace, &ours);
    assert_int_equal(peer_sync_round(&s, &ours, false, NOW), 0); /* tracks A and B */
    const char *ids[] = {"B", "A"};
    linked_of(&l, ids, 1); /* linked with us only, for now */
    peer_sync_on_linked(&s, &l, NOW);
    assert_false(peer_sync_sendable(&s, "A", NOW));
    assert_false(peer_sync_sendable(&s, "A", NOW + grace - 1));
    /* A later Ack that still lacks A does not restart the grace. */
    peer_sync_on_linked(&s, &l, NOW + grace / 2);
    assert_true(peer_sync_sendable(&s, "A", NOW + grace));
    /* It links with A: no relay, and a new grace when it loses A again. */
    linked_of(&l, ids, 2);
    peer_sync_on_linked(&s, &l, NOW + grace + 10);
    assert_false(peer_sync_sendable(&s, "A", NOW + 10 * grace));
    linked_of(&l, ids, 1);
    peer_sync_on_linked(&s, &l, NOW + 20 * grace);
    assert_false(peer_sync_sendable(&s, "A", NOW + 21 * grace - 1));
    assert_true(peer_sync_sendable(&s, "A", NOW + 21 * grace));
    /* Our own operations never wait. */
    assert_true(peer_sync_sendable(&s, "B", NOW));
    peer_sync_free(&s);
    oplog_vv_free(&ours);
}

static void test_origin_limit(void **state)
{
    (void)state;
    static peer_sync s;
    peer_sync_init(&s, "T1", 0);
    peer_sync_set_peer(&s, "T2");
    kassa_err err;
    char id[16];
    for (int i = 0; i < PEER_SYNC_ORIGINS_MAX; i++) {
        snprintf(id, sizeof id, "N%05d", i);
        assert_int_equal(peer_sync_sent(&s, id, 1, &err), KASSA_OK);
    }
    assert_int_equal(peer_sync_sent(&s, "Z", 1, &err), KASSA_EFULL);
    assert_non_null(strstr(err.msg, "origins"));
    /* Known origins still update. */
    assert_int_equal(peer_sync_sent(&s, "N00007", 9, &err), KASSA_OK);
    assert_int_equal(peer_sync_sent(&s, "bad id!", 1, &err), KASSA_EFULL);
    peer_sync_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sendable),
        cmocka_unit_test(test_stream_from_their_head),
        cmocka_unit_test(test_relay_to_unlinked_peer),
        cmocka_unit_test(test_repair_only_when_quiet),
        cmocka_unit_test(test_relay_grace),
        cmocka_unit_test(test_origin_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
