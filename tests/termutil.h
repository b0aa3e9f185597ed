/*
 * Helpers shared by the unit tests of the terminal core (tests/unit/
 * test_term.c, test_staff.c): fresh terminals in numbered directories under
 * the test group's base directory, closed by the teardown even when an
 * assertion failed half-way; a fake clock; one-line carts; snapshots of
 * what a refused action must not change.
 *
 * Header-only, every function static inline; it uses cmocka, so a test
 * includes it after
 *
 *     #include "testutil.h"
 *     #include <cmocka.h>
 *     #include "term/term.h"
 *
 * The test sets g_base (its group setup: tu_mkdtemp) and registers
 * teardown() as the teardown of every test that opens a terminal.
 */
#ifndef KASSA_TERMUTIL_H
#define KASSA_TERMUTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static char g_base[512];
static unsigned g_dirs;

/* Terminals a test opened, closed by the teardown. */
#define MAX_OPEN 8
static term *g_open[MAX_OPEN];

static inline int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < MAX_OPEN; i++) {
        term_close(g_open[i]);
        g_open[i] = NULL;
    }
    return 0;
}

static inline void track(term *t)
{
    for (int i = 0; i < MAX_OPEN; i++) {
        if (!g_open[i]) {
            g_open[i] = t;
            return;
        }
    }
    fail_msg("too many open terminals");
}

static inline void untrack_close(term *t)
{
    for (int i = 0; i < MAX_OPEN; i++)
        if (g_open[i] == t)
            g_open[i] = NULL;
    term_close(t);
}

/* A fresh directory name under the test's base directory. */
static inline void new_dir(char *out, size_t size)
{
    snprintf(out, size, "%s/d%u", g_base, ++g_dirs);
}

typedef struct fake_clock {
    uint64_t ms;
} fake_clock;

static inline uint64_t fake_now(void *ctx)
{
    return ((fake_clock *)ctx)->ms;
}

/* Opens the terminal in dir (tracked), on clk unless NULL. */
static inline term *open_term(const char *dir, fake_clock *clk)
{
    term *t = NULL;
    kassa_err err;
    int rc = term_open(dir, &t, &err);
    if (rc != KASSA_OK)
        fail_msg("term_open %s: %s", dir, err.msg);
    track(t);
    if (clk)
        term_set_clock(t, fake_now, clk);
    return t;
}

/* Inits a terminal in a fresh directory (its name in dir) and opens it. */
static inline term *new_term(char *dir, size_t size, const char *store, const char *node,
                             fake_clock *clk)
{
    kassa_err err;
    new_dir(dir, size);
    int rc = term_init(dir, store, node, &err);
    if (rc != KASSA_OK)
        fail_msg("term_init %s: %s", dir, err.msg);
    return open_term(dir, clk);
}

/* A cart of qty of sku. */
static inline void cart_of(term_cart *cart, const char *sku, int64_t qty)
{
    kassa_err err;
    memset(cart, 0, sizeof *cart);
    assert_int_equal(term_cart_add(cart, sku, qty, &err), KASSA_OK);
}

/* What must not change when an action is refused. */
typedef struct snap {
    uint8_t hash[32];
    oplog_vv vv;
    term_status st;
} snap;

static inline void snap_take(term *t, snap *s)
{
    kassa_err err;
    assert_int_equal(term_state_hash(t, s->hash, &err), KASSA_OK);
    assert_int_equal(term_vv(t, &s->vv, &err), KASSA_OK);
    assert_int_equal(term_status_get(t, &s->st, &err), KASSA_OK);
}

static inline void snap_free(snap *s)
{
    oplog_vv_free(&s->vv);
}

/* Whether the terminal is still as before was taken. */
static inline bool snap_same(term *t, const snap *before)
{
    snap now;
    snap_take(t, &now);
    bool same = memcmp(now.hash, before->hash, 32) == 0 && now.vv.n == before->vv.n &&
                now.st.ops == before->st.ops && now.st.pending == before->st.pending &&
                now.st.sales == before->st.sales;
    for (size_t i = 0; same && i < now.vv.n; i++)
        same = strcmp(now.vv.e[i].origin, before->vv.e[i].origin) == 0 &&
               now.vv.e[i].seq == before->vv.e[i].seq;
    snap_free(&now);
    return same;
}

/* Fails (freeing before) if what changed the terminal's state. */
static inline void snap_assert_same(term *t, snap *before, const char *what)
{
    if (!snap_same(t, before)) {
        snap_free(before);
        fail_msg("%s changed the terminal's state", what);
    }
}

/* Fails unless terminals a and b hold the same state (term_state_hash). */
static inline void assert_same_state_hash(term *a, term *b)
{
    term *both[2] = {a, b};
    uint8_t hash[2][32];
    kassa_err err;
    for (int i = 0; i < 2; i++)
        assert_int_equal(term_state_hash(both[i], hash[i], &err), KASSA_OK);
    assert_memory_equal(hash[0], hash[1], 32);
}

#endif
