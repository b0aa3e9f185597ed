/*
 * Unit tests for the hybrid logical clock: hlc_now is strictly monotonic
 * whatever the physical clock does, the logical counter carries, and
 * hlc_observe adopts remote clocks within the skew bound, clamps (and says
 * so) beyond it, and never moves the clock backwards.
 */
#include "testutil.h"
#include <cmocka.h>

#include <string.h>

#include "hlc/hlc.h"

#define T0 UINT64_C(1700000000000) /* 2023-11-14, in ms */
#define SKEW ((uint64_t)HLC_DEFAULT_MAX_SKEW_MS)

static uint64_t rng_state = 0xD1B54A32D192ED03u;

static uint64_t rng_next(void)
{
    return tu_xorshift64(&rng_state);
}

static void test_layout(void **state)
{
    (void)state;
    assert_int_equal(HLC_LOGICAL_MAX, 0xffff);
    hlc_ts ts = hlc_make(T0, 42);
    assert_true(ts == (T0 << 16 | 42));
    assert_true(hlc_physical_ms(ts) == T0);
    assert_int_equal(hlc_logical(ts), 42);
    /* Timestamps compare as integers: physical first, then logical. */
    assert_true(hlc_make(T0, HLC_LOGICAL_MAX) < hlc_make(T0 + 1, 0));
    assert_true(hlc_make(T0, 1) < hlc_make(T0, 2));
    /* The logical part is masked to its 16 bits. */
    assert_true(hlc_make(T0, 0x10005) == hlc_make(T0, 5));
    assert_true(hlc_physical_ms(hlc_make(0, HLC_LOGICAL_MAX)) == 0);
    assert_int_equal(hlc_logical(hlc_make(0, HLC_LOGICAL_MAX)), HLC_LOGICAL_MAX);
}

static void test_now_follows_physical_time(void **state)
{
    (void)state;
    hlc_clock c = {0};
    hlc_ts a = hlc_now(&c, T0);
    assert_true(a == hlc_make(T0, 0));
    assert_true(c.last == a);
    hlc_ts b = hlc_now(&c, T0 + 5);
    assert_true(b == hlc_make(T0 + 5, 0));
    hlc_ts d = hlc_now(&c, T0 + 1000);
    assert_true(d == hlc_make(T0 + 1000, 0));
}

static void test_now_stalled_clock_counts_logically(void **state)
{
    (void)state;
    hlc_clock c = {0};
    hlc_ts prev = hlc_now(&c, T0);
    for (uint32_t i = 1; i <= 1000; i++) {
        hlc_ts ts = hlc_now(&c, T0);
        assert_true(ts > prev);
        assert_true(hlc_physical_ms(ts) == T0);
        assert_int_equal(hlc_logical(ts), i);
        prev = ts;
    }
    /* Physical time moving on resets the logical part. */
    hlc_ts ts = hlc_now(&c, T0 + 1);
    assert_true(ts == hlc_make(T0 + 1, 0));
}

static void test_now_backwards_clock(void **state)
{
    (void)state;
    hlc_clock c = {0};
    hlc_ts prev = hlc_now(&c, T0);
    /* The wall clock jumps back an hour (NTP step, a user fixing the
     * time): timestamps keep increasing, still on the old millisecond. */
    for (uint64_t i = 1; i <= 100; i++) {
        hlc_ts ts = hlc_now(&c, T0 - 3600000 + i);
        assert_true(ts > prev);
        assert_true(hlc_physical_ms(ts) == T0);
        assert_int_equal(hlc_logical(ts), i);
        prev = ts;
    }
    /* Physical time 0 (an unset RTC) too. */
    hlc_ts ts = hlc_now(&c, 0);
    assert_true(ts == prev + 1);
    /* Once wall time passes the clock again, it follows wall time. */
    ts = hlc_now(&c, T0 + 1);
    assert_true(ts == hlc_make(T0 + 1, 0));
}

static void test_now_logical_overflow_carries(void **state)
{
    (void)state;
    hlc_clock c = {hlc_make(T0, HLC_LOGICAL_MAX - 1)};
    hlc_ts a = hlc_now(&c, T0);
    assert_true(a == hlc_make(T0, HLC_LOGICAL_MAX));
    /* The counter is exhausted: the increment carries into the physical
     * part instead of wrapping the logical part to 0 on the same ms. */
    hlc_ts b = hlc_now(&c, T0);
    assert_true(b > a);
    assert_true(b == hlc_make(T0 + 1, 0));
    hlc_ts d = hlc_now(&c, T0);
    assert_true(d == hlc_make(T0 + 1, 1));
    /* When real time then reaches the borrowed millisecond, the clock does
     * not repeat it. */
    hlc_ts e = hlc_now(&c, T0 + 1);
    assert_true(e > d);
    assert_true(e == hlc_make(T0 + 1, 2));
}

static void test_now_many_events_in_one_ms(void **state)
{
    (void)state;
    /* More events than the logical counter holds, all at the same ms. */
    hlc_clock c = {0};
    hlc_ts prev = hlc_now(&c, T0);
    uint32_t n = 3 * (HLC_LOGICAL_MAX + 1) + 17;
    for (uint32_t i = 0; i < n; i++) {
        hlc_ts ts = hlc_now(&c, T0);
        assert_true(ts == prev + 1);
        prev = ts;
    }
    assert_true(hlc_physical_ms(prev) == T0 + 3);
    assert_int_equal(hlc_logical(prev), 17);
}

static void test_observe_within_skew_adopts(void **state)
{
    (void)state;
    hlc_clock c = {0};
    hlc_now(&c, T0);
    hlc_ts remote = hlc_make(T0 + 30000, 7); /* 30 s ahead, skew 60 s */
    assert_false(hlc_observe(&c, remote, T0, SKEW));
    assert_true(c.last == remote);
    /* The next local event is after the remote one. */
    hlc_ts ts = hlc_now(&c, T0 + 1);
    assert_true(ts == remote + 1);

    /* Exactly at the limit: the last timestamp of physical+skew. */
    hlc_clock d = {hlc_make(T0, 0)};
    hlc_ts edge = hlc_make(T0 + SKEW, HLC_LOGICAL_MAX);
    assert_false(hlc_observe(&d, edge, T0, SKEW));
    assert_true(d.last == edge);
}

static void test_observe_behind_keeps_clock(void **state)
{
    (void)state;
    hlc_clock c = {0};
    hlc_now(&c, T0);
    hlc_ts mine = hlc_now(&c, T0);
    assert_false(hlc_observe(&c, hlc_make(T0 - 5000, 3), T0, SKEW));
    assert_true(c.last == mine);
    assert_false(hlc_observe(&c, mine, T0, SKEW)); /* equal: no change */
    assert_true(c.last == mine);
    assert_false(hlc_observe(&c, 0, T0, SKEW));
    assert_true(c.last == mine);
}

static void test_observe_beyond_skew_clamps(void **state)
{
    (void)state;
    hlc_clock c = {0};
    hlc_now(&c, T0);
    /* One tick beyond the limit. */
    hlc_ts remote = hlc_make(T0 + SKEW + 1, 0);
    assert_true(hlc_observe(&c, remote, T0, SKEW));
    assert_true(hlc_physical_ms(c.last) == T0 + SKEW);
    assert_true(c.last < remote);
    assert_true(c.last <= hlc_make(T0 + SKEW, HLC_LOGICAL_MAX));

    /* A clock a year ahead. */
    hlc_clock d = {0};
    hlc_now(&d, T0);
    assert_true(hlc_observe(&d, hlc_make(T0 + UINT64_C(365) * 86400000, 0), T0, SKEW));
    assert_true(hlc_physical_ms(d.last) == T0 + SKEW);

    /* The largest timestamp there is. */
    hlc_clock e = {0};
    assert_true(hlc_observe(&e, UINT64_MAX, T0, SKEW));
    assert_true(hlc_physical_ms(e.last) == T0 + SKEW);
    /* Local events go on strictly increasing from there. */
    hlc_ts prev = e.last;
    for (int i = 0; i < 10; i++) {
        hlc_ts ts = hlc_now(&e, T0);
        assert_true(ts > prev);
        prev = ts;
    }
}

static void test_observe_clamp_never_goes_back(void **state)
{
    (void)state;
    /* The local clock is already past the limit that this (earlier)
     * physical time gives: clamping must not move it back. */
    hlc_clock c = {hlc_make(T0 + 2 * SKEW, 5)};
    hlc_ts before = c.last;
    assert_true(hlc_observe(&c, hlc_make(T0 + 10 * SKEW, 0), T0, SKEW));
    assert_true(c.last == before);

    /* Zero skew: anything ahead of the current millisecond is clamped. */
    hlc_clock d = {0};
    assert_false(hlc_observe(&d, hlc_make(T0, 9), T0, 0));
    assert_true(d.last == hlc_make(T0, 9));
    assert_true(hlc_observe(&d, hlc_make(T0 + 1, 0), T0, 0));
    assert_true(d.last == hlc_make(T0, 9)); /* the clamp (T0, 0) is behind */
}

/* Random walks: now() strictly increasing and >= physical time, observe()
 * monotone, clamps exactly when the remote is beyond the limit. */
static void test_property_random_walk(void **state)
{
    (void)state;
    for (int run = 0; run < 50; run++) {
        hlc_clock c = {0};
        uint64_t phys = T0 + rng_next() % 1000000;
        hlc_ts last_issued = 0;
        for (int step = 0; step < 2000; step++) {
            /* Physical time mostly advances a little, sometimes stalls or
             * jumps backwards. */
            uint64_t r = rng_next() % 10;
            if (r < 5)
                phys += rng_next() % 3;
            else if (r < 7)
                phys -= rng_next() % 5000;
            else if (r < 8)
                phys += rng_next() % 100000;
            hlc_ts before = c.last;
            if (rng_next() % 3 == 0) {
                uint64_t skew = rng_next() % 2 ? SKEW : rng_next() % 1000;
                int64_t off = (int64_t)(rng_next() % 300000) - 100000;
                hlc_ts remote = hlc_make((uint64_t)((int64_t)phys + off), rng_next() % 70000);
                hlc_ts limit = hlc_make(phys + skew, HLC_LOGICAL_MAX);
                bool clamped = hlc_observe(&c, remote, phys, skew);
                assert_int_equal(clamped, remote > limit);
                /* last = max(before, remote within the limit, else the
                 * limit's millisecond at logical 0) */
                hlc_ts adopt = remote > limit ? hlc_make(phys + skew, 0) : remote;
                assert_true(c.last == (adopt > before ? adopt : before));
                assert_true(c.last == before || c.last <= limit);
            } else {
                hlc_ts ts = hlc_now(&c, phys);
                assert_true(ts > before);
                assert_true(ts > last_issued);
                assert_true(hlc_physical_ms(ts) >= phys);
                assert_true(c.last == ts);
                last_issued = ts;
            }
        }
    }
}

static void test_wall_ms(void **state)
{
    (void)state;
    uint64_t a = hlc_wall_ms();
    uint64_t b = hlc_wall_ms();
    assert_true(a > T0);        /* later than November 2023 */
    assert_true(b >= a - 1000); /* realtime may step, but not by much here */
    /* Fits the 48-bit physical part for many millennia. */
    assert_true(a < (UINT64_C(1) << 48));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_now_follows_physical_time),
        cmocka_unit_test(test_now_stalled_clock_counts_logically),
        cmocka_unit_test(test_now_backwards_clock),
        cmocka_unit_test(test_now_logical_overflow_carries),
        cmocka_unit_test(test_now_many_events_in_one_ms),
        cmocka_unit_test(test_observe_within_skew_adopts),
        cmocka_unit_test(test_observe_behind_keeps_clock),
        cmocka_unit_test(test_observe_beyond_skew_clamps),
        cmocka_unit_test(test_observe_clamp_never_goes_back),
        cmocka_unit_test(test_property_random_walk),
        cmocka_unit_test(test_wall_ms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
