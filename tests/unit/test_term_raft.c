/*
 * Unit tests for the terminal's persisted Raft state (term_raft_load,
 * term_raft_save, term_raft_compact): what a restarted member reads back is
 * what it saved; a leader's entries replace a conflicting tail; bad input
 * is refused and changes nothing; compaction drops a prefix.
 */
#include "testutil.h"
#include <cmocka.h>

#include "term/term.h"
#include "termutil.h"

static int group_setup(void **state)
{
    (void)state;
    return tu_mkdtemp(g_base, sizeof g_base, "kassa-term-raft", false);
}

static int group_teardown(void **state)
{
    (void)state;
    tu_rm_tree(g_base);
    return 0;
}

/* The log as read back: "index/term/type/data" joined by spaces. */
typedef struct log_text {
    char s[1024];
} log_text;

static int add_entry(const term_raft_entry *e, void *ctx)
{
    log_text *l = ctx;
    size_t n = strlen(l->s);
    snprintf(l->s + n, sizeof l->s - n, "%s%llu/%llu/%u/%.*s", n ? " " : "",
             (unsigned long long)e->index, (unsigned long long)e->term, e->type, (int)e->len,
             (const char *)e->data);
    return KASSA_OK;
}

static void load(term *t, term_raft_hard *hs, log_text *l)
{
    kassa_err err;
    l->s[0] = '\0';
    int rc = term_raft_load(t, hs, add_entry, l, &err);
    if (rc != KASSA_OK)
        fail_msg("term_raft_load: %s", err.msg);
}

static term_raft_entry entry(uint64_t index, uint64_t term, uint8_t type, const char *data)
{
    return (term_raft_entry){index, term, type, (const uint8_t *)data, strlen(data)};
}

static void test_fresh_then_saved_survives_reopen(void **state)
{
    (void)state;
    char dir[600];
    term *t = new_term(dir, sizeof dir, "S1", "T1", NULL);
    term_raft_hard hs;
    log_text l;
    load(t, &hs, &l);
    assert_true(hs.term == 0 && hs.commit == 0);
    assert_string_equal(hs.vote, "");
    assert_string_equal(l.s, "");

    kassa_err err;
    term_raft_hard want = {.term = 7, .commit = 2};
    snprintf(want.vote, sizeof want.vote, "T3");
    term_raft_entry e[] = {entry(1, 5, 1, ""), entry(2, 6, 0, "watermark=9"), entry(3, 7, 2, "T4")};
    assert_int_equal(term_raft_save(t, &want, e, 3, &err), KASSA_OK);
    untrack_close(t);
    t = open_term(dir, NULL);
    load(t, &hs, &l);
    assert_true(hs.term == 7 && hs.commit == 2);
    assert_string_equal(hs.vote, "T3");
    assert_string_equal(l.s, "1/5/1/ 2/6/0/watermark=9 3/7/2/T4");

    /* Hard state alone; then entries alone (hard state kept). */
    want.term = 8;
    want.vote[0] = '\0';
    assert_int_equal(term_raft_save(t, &want, NULL, 0, &err), KASSA_OK);
    term_raft_entry more[] = {entry(4, 8, 0, "x")};
    assert_int_equal(term_raft_save(t, NULL, more, 1, &err), KASSA_OK);
    load(t, &hs, &l);
    assert_true(hs.term == 8);
    assert_string_equal(hs.vote, "");
    assert_string_equal(l.s, "1/5/1/ 2/6/0/watermark=9 3/7/2/T4 4/8/0/x");
}

static void test_leader_overwrites_tail(void **state)
{
    (void)state;
    char dir[600];
    term *t = new_term(dir, sizeof dir, "S1", "T1", NULL);
    kassa_err err;
    term_raft_entry e[] = {entry(1, 1, 0, "a"), entry(2, 1, 0, "b"), entry(3, 1, 0, "c"),
                           entry(4, 1, 0, "d")};
    assert_int_equal(term_raft_save(t, NULL, e, 4, &err), KASSA_OK);
    /* A new leader's entry at index 2 replaces 2..4, not just 2. */
    term_raft_entry from_leader[] = {entry(2, 3, 0, "B")};
    assert_int_equal(term_raft_save(t, NULL, from_leader, 1, &err), KASSA_OK);
    term_raft_hard hs;
    log_text l;
    load(t, &hs, &l);
    assert_string_equal(l.s, "1/1/0/a 2/3/0/B");
    assert_int_equal(term_raft_compact(t, 1, &err), KASSA_OK);
    load(t, &hs, &l);
    assert_string_equal(l.s, "2/3/0/B");
}

static void test_bad_input_changes_nothing(void **state)
{
    (void)state;
    char dir[600];
    term *t = new_term(dir, sizeof dir, "S1", "T1", NULL);
    kassa_err err;
    term_raft_hard hs0 = {.term = 2, .commit = 1};
    term_raft_entry e[] = {entry(1, 2, 0, "a")};
    assert_int_equal(term_raft_save(t, &hs0, e, 1, &err), KASSA_OK);

    term_raft_hard bad_vote = {.term = 3};
    snprintf(bad_vote.vote, sizeof bad_vote.vote, "no spaces");
    assert_int_equal(term_raft_save(t, &bad_vote, NULL, 0, &err), KASSA_EINVAL);
    term_raft_entry gap[] = {entry(2, 3, 0, "b"), entry(4, 3, 0, "d")};
    assert_int_equal(term_raft_save(t, &hs0, gap, 2, &err), KASSA_EINVAL);
    term_raft_entry zero[] = {entry(0, 3, 0, "z")};
    assert_int_equal(term_raft_save(t, NULL, zero, 1, &err), KASSA_EINVAL);
    static uint8_t big[TERM_RAFT_DATA_MAX + 1];
    term_raft_entry huge = {2, 3, 0, big, sizeof big};
    assert_int_equal(term_raft_save(t, NULL, &huge, 1, &err), KASSA_EINVAL);
    term_raft_hard range = {.term = (uint64_t)INT64_MAX + 1};
    assert_int_equal(term_raft_save(t, &range, NULL, 0, &err), KASSA_EINVAL);

    term_raft_hard hs;
    log_text l;
    load(t, &hs, &l);
    assert_true(hs.term == 2 && hs.commit == 1);
    assert_string_equal(l.s, "1/2/0/a");
}

/* A log damaged on disk (a hole) is reported, not silently used. */
static void test_damaged_log_refused(void **state)
{
    (void)state;
    char dir[600];
    term *t = new_term(dir, sizeof dir, "S1", "T1", NULL);
    kassa_err err;
    term_raft_entry e[] = {entry(1, 1, 0, "a"), entry(2, 1, 0, "b"), entry(3, 1, 0, "c")};
    assert_int_equal(term_raft_save(t, NULL, e, 3, &err), KASSA_OK);
    assert_int_equal(store_exec(&t->st, "DELETE FROM raft_log WHERE idx = 2", &err), KASSA_OK);
    term_raft_hard hs;
    assert_int_equal(term_raft_load(t, &hs, NULL, NULL, &err), KASSA_ECORRUPT);
    assert_non_null(strstr(err.msg, "index 3"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_fresh_then_saved_survives_reopen, teardown),
        cmocka_unit_test_teardown(test_leader_overwrites_tail, teardown),
        cmocka_unit_test_teardown(test_bad_input_changes_nothing, teardown),
        cmocka_unit_test_teardown(test_damaged_log_refused, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
