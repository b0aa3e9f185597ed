/*
 * Unit tests of the terminal core's staff features (src/term/cashier.c,
 * sell.c, catalog.c, query.c): cashiers and their roles, PIN checks and
 * lockouts, replication of cashier records (last writer wins) but not of
 * lockouts, the audit log of voids, returns, price overrides and no-sale
 * drawer opens with the actor who did them, refusals of a cashier acting
 * without a supervisor, the cashier recorded on a sale, cart editing and
 * pricing without recording, catalog search and recent sales.
 *
 * Every PIN set or checked against its hash costs an Argon2id computation
 * (~60-75 ms): the tests make a few dozen in all.
 *
 */
#include "testutil.h"
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "term/term.h"
#include "termutil.h"

#define STORE "store-1"
#define BIG_PAY INT64_C(100000000)
#define T0 UINT64_C(1750000000000)

static oplog_sale *g_sale;      /* scratch for term_sale_get / term_cart_price */
static term_sale_result *g_res; /* scratch for term_sale */

/* ---- helpers ---- */

static int group_setup(void **state)
{
    (void)state;
    g_sale = malloc(sizeof *g_sale);
    g_res = malloc(sizeof *g_res);
    if (!g_sale || !g_res)
        return -1;
    return tu_mkdtemp(g_base, sizeof g_base, "kassa-staff", false);
}

static int group_teardown(void **state)
{
    (void)state;
    tu_rm_tree(g_base);
    free(g_sale);
    free(g_res);
    return 0;
}

static void add_items(term *t, size_t n, const char *const *skus, const char *const *names,
                      const int64_t *prices)
{
    catalog_item *items = calloc(n, sizeof *items);
    assert_non_null(items);
    for (size_t i = 0; i < n; i++) {
        snprintf(items[i].sku, sizeof items[i].sku, "%s", skus[i]);
        snprintf(items[i].name, sizeof items[i].name, "%s", names[i]);
        items[i].price = prices[i];
        snprintf(items[i].tax_class, sizeof items[i].tax_class,
                 i % 3 == 2 ? "reduced" : "standard");
        items[i].stock = 50;
        items[i].line = (unsigned)i + 2;
    }
    kassa_err err;
    int rc = term_catalog_import(t, items, n, &err);
    free(items);
    if (rc != KASSA_OK)
        fail_msg("catalog import: %s", err.msg);
}

/* apple 1.00, bread 2.50 (standard, 20 %), cheese 9.90 (reduced, 5.5 %). */
static void catalog(term *t)
{
    static const char *const SKUS[] = {"apple", "bread", "cheese"};
    static const char *const NAMES[] = {"Apple", "Bread", "Cheese"};
    static const int64_t PRICES[] = {100, 250, 990};
    add_items(t, 3, SKUS, NAMES, PRICES);
}

static oplog_sale_ref sell_cart(term *t, const term_cart *cart)
{
    kassa_err err;
    if (term_sale(t, cart, BIG_PAY, g_res, &err) != KASSA_OK)
        fail_msg("sale: %s", err.msg);
    return g_res->ref;
}

static oplog_sale_ref sell(term *t, const char *sku, int64_t qty)
{
    term_cart cart;
    cart_of(&cart, sku, qty);
    return sell_cart(t, &cart);
}

static void set_actor(term *t, const char *cashier, const char *supervisor, const char *reason)
{
    memset(&t->actor, 0, sizeof t->actor);
    snprintf(t->actor.cashier, sizeof t->actor.cashier, "%s", cashier);
    snprintf(t->actor.supervisor, sizeof t->actor.supervisor, "%s", supervisor);
    snprintf(t->actor.reason, sizeof t->actor.reason, "%s", reason);
}

static void cashier_ok(term *t, const char *id, const char *name, term_role role, const char *pin)
{
    kassa_err err;
    if (term_cashier_set(t, id, name, role, pin, &err) != KASSA_OK)
        fail_msg("cashier %s: %s", id, err.msg);
}

/* Checks a PIN; want is the return code, want_retry the retry_after_ms. */
static void pin_is(term *t, const char *id, const char *pin, int want, int64_t want_retry)
{
    kassa_err err;
    term_cashier c;
    memset(&c, 0x5a, sizeof c);
    int64_t retry = -1;
    int rc = term_cashier_check_pin(t, id, pin, &c, &retry, &err);
    if (rc != want)
        fail_msg("PIN \"%s\" of %s on %s: rc %d (%s), want %d", pin, id, t->node_id, rc,
                 rc == KASSA_OK ? "ok" : err.msg, want);
    if (retry != want_retry)
        fail_msg("PIN \"%s\" of %s: retry_after_ms %lld, want %lld", pin, id, (long long)retry,
                 (long long)want_retry);
    if (rc == KASSA_OK)
        assert_string_equal(c.id, id);
    else
        assert_int_equal(err.code, rc);
}

static uint64_t head_seq(term *t)
{
    oplog_vv vv;
    kassa_err err;
    assert_int_equal(term_vv(t, &vv, &err), KASSA_OK);
    uint64_t seq = oplog_vv_get(&vv, t->node_id);
    oplog_vv_free(&vv);
    return seq;
}

static void state_hash(term *t, uint8_t out[32])
{
    kassa_err err;
    assert_int_equal(term_state_hash(t, out, &err), KASSA_OK);
}

/* Exports everything a holds into b. */
static void ship(term *a, term *b)
{
    kbuf file;
    kbuf_init(&file);
    kassa_err err;
    assert_int_equal(term_export(a, NULL, &file, &err), KASSA_OK);
    term_import_report rep;
    int rc = term_import(b, file.data, file.len, &rep, &err);
    kbuf_free(&file);
    if (rc != KASSA_OK)
        fail_msg("import into %s: %s", b->node_id, err.msg);
    assert_int_equal(rep.pending, 0);
}

static void assert_same_state(term *a, term *b)
{
    uint8_t ha[32], hb[32];
    state_hash(a, ha);
    state_hash(b, hb);
    if (memcmp(ha, hb, 32) != 0)
        fail_msg("%s and %s differ", a->node_id, b->node_id);
}

/* ---- listings ---- */

#define LIST_MAX 16

typedef struct cashier_list {
    size_t n;
    term_cashier c[LIST_MAX];
} cashier_list;

static int collect_cashier(const term_cashier *c, void *ctx)
{
    cashier_list *l = ctx;
    assert_true(l->n < LIST_MAX);
    l->c[l->n++] = *c;
    return KASSA_OK;
}

static void list_cashiers(term *t, cashier_list *l)
{
    kassa_err err;
    l->n = 0;
    assert_int_equal(term_cashiers_each(t, collect_cashier, l, &err), KASSA_OK);
}

typedef struct audit_list {
    size_t n;
    term_audit_entry e[LIST_MAX];
} audit_list;

static int collect_audit(const term_audit_entry *e, void *ctx)
{
    audit_list *l = ctx;
    assert_true(l->n < LIST_MAX);
    l->e[l->n++] = *e;
    return KASSA_OK;
}

static void list_audit(term *t, audit_list *l)
{
    kassa_err err;
    l->n = 0;
    assert_int_equal(term_audit_each(t, collect_audit, l, &err), KASSA_OK);
}

typedef struct item_list {
    size_t n;
    term_item it[LIST_MAX];
} item_list;

static int collect_item(const term_item *it, void *ctx)
{
    item_list *l = ctx;
    assert_true(l->n < LIST_MAX);
    l->it[l->n++] = *it;
    return KASSA_OK;
}

typedef struct sale_list {
    size_t n;
    term_sale_info s[LIST_MAX];
} sale_list;

static int collect_sale(const term_sale_info *s, void *ctx)
{
    sale_list *l = ctx;
    assert_true(l->n < LIST_MAX);
    l->s[l->n++] = *s;
    return KASSA_OK;
}

static int stop_with_conflict(const void *x, void *ctx)
{
    (void)x;
    ++*(int *)ctx;
    return KASSA_ECONFLICT;
}

static int stop_cashier(const term_cashier *c, void *ctx)
{
    return stop_with_conflict(c, ctx);
}

static int stop_audit(const term_audit_entry *e, void *ctx)
{
    return stop_with_conflict(e, ctx);
}

static int stop_item(const term_item *it, void *ctx)
{
    return stop_with_conflict(it, ctx);
}

static int stop_sale(const term_sale_info *s, void *ctx)
{
    return stop_with_conflict(s, ctx);
}

/* ---- roles ---- */

static void test_roles(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        term_role role;
    } ROLES[] = {
        {"cashier", TERM_ROLE_CASHIER},
        {"supervisor", TERM_ROLE_SUPERVISOR},
        {"manager", TERM_ROLE_MANAGER},
    };
    for (size_t i = 0; i < KASSA_ARRAY_LEN(ROLES); i++) {
        term_role r = 0;
        assert_int_equal(term_role_parse(ROLES[i].name, &r), KASSA_OK);
        assert_int_equal(r, ROLES[i].role);
        assert_string_equal(term_role_name(ROLES[i].role), ROLES[i].name);
    }
    static const char *const BAD[] = {"",          "Cashier", "CASHIER", "cashier ", " manager",
                                      "superviso", "admin",   "owner",   "1",        "cashierx"};
    for (size_t i = 0; i < KASSA_ARRAY_LEN(BAD); i++) {
        term_role r = (term_role)77;
        if (term_role_parse(BAD[i], &r) != KASSA_EINVAL)
            fail_msg("role \"%s\" was accepted", BAD[i]);
        assert_int_equal(r, 77);
    }
    assert_string_equal(term_role_name((term_role)0), "unknown");
    assert_string_equal(term_role_name((term_role)4), "unknown");
    assert_string_equal(term_role_name((term_role)-1), "unknown");
}

/* ---- cashiers ---- */

static void test_cashier_set_and_list(void **state)
{
    (void)state;
    char dir[600];
    kassa_err err;
    fake_clock clk = {T0};
    term *t = new_term(dir, sizeof dir, STORE, "T1", &clk);
    cashier_list l;
    list_cashiers(t, &l);
    assert_int_equal(l.n, 0);

    uint8_t h0[32], h1[32];
    state_hash(t, h0);
    cashier_ok(t, "zoe", "Zo\xc3\xab Z.", TERM_ROLE_CASHIER, "987654");
    assert_int_equal(head_seq(t), 1);
    state_hash(t, h1);
    assert_memory_not_equal(h0, h1, 32); /* the state hash covers cashiers */
    cashier_ok(t, "adam", "Adam", TERM_ROLE_MANAGER, "1234");
    cashier_ok(t, "mia-2", "Mia", TERM_ROLE_SUPERVISOR, "123456789012");
    assert_int_equal(head_seq(t), 3);
    list_cashiers(t, &l);
    assert_int_equal(l.n, 3);
    /* By id. */
    assert_string_equal(l.c[0].id, "adam");
    assert_string_equal(l.c[0].name, "Adam");
    assert_int_equal(l.c[0].role, TERM_ROLE_MANAGER);
    assert_string_equal(l.c[1].id, "mia-2");
    assert_int_equal(l.c[1].role, TERM_ROLE_SUPERVISOR);
    assert_string_equal(l.c[2].id, "zoe");
    assert_string_equal(l.c[2].name, "Zo\xc3\xab Z.");
    assert_int_equal(l.c[2].role, TERM_ROLE_CASHIER);

    /* Changing one replaces its record: name, role and PIN. */
    clk.ms += 1000;
    cashier_ok(t, "zoe", "Zoe Zimmer", TERM_ROLE_SUPERVISOR, "5555");
    list_cashiers(t, &l);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.c[2].name, "Zoe Zimmer");
    assert_int_equal(l.c[2].role, TERM_ROLE_SUPERVISOR);
    pin_is(t, "zoe", "5555", KASSA_OK, 0);
    pin_is(t, "zoe", "987654", KASSA_EAUTH, 0);

    /* The PIN is kept only as an Argon2id hash: not in the projection, not
     * in the operation. */
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(t->st.db, "SELECT pin_hash FROM cashiers", -1, &st, NULL),
                     SQLITE_OK);
    int rows = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *h = (const char *)sqlite3_column_text(st, 0);
        assert_true(strncmp(h, "$argon2id$", 10) == 0);
        assert_false(tu_contains(h, "987654") || tu_contains(h, "5555"));
        rows++;
    }
    sqlite3_finalize(st);
    assert_int_equal(rows, 3);
    assert_int_equal(sqlite3_prepare_v2(t->st.db, "SELECT payload, kind FROM ops", -1, &st, NULL),
                     SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const uint8_t *p = sqlite3_column_blob(st, 0);
        size_t n = (size_t)sqlite3_column_bytes(st, 0);
        assert_int_equal(sqlite3_column_int(st, 1), OP_CASHIER_SET);
        assert_null(memmem(p, n, "987654", 6));
        assert_null(memmem(p, n, "123456789012", 12));
    }
    sqlite3_finalize(st);

    /* A callback's error stops the listing and is returned. */
    int calls = 0;
    assert_int_equal(term_cashiers_each(t, stop_cashier, &calls, &err), KASSA_ECONFLICT);
    assert_int_equal(calls, 1);

    /* Records survive a restart. */
    untrack_close(t);
    t = open_term(dir, &clk);
    list_cashiers(t, &l);
    assert_int_equal(l.n, 3);
    term_verify_report vr;
    assert_int_equal(term_log_verify(t, &vr, &err), KASSA_OK);
    assert_true(vr.ok);
}

static void test_cashier_set_refusals(void **state)
{
    (void)state;
    char dir[600];
    kassa_err err;
    term *t = new_term(dir, sizeof dir, STORE, "T1", NULL);
    cashier_ok(t, "c1", "Cashier One", TERM_ROLE_CASHIER, "1234");
    snap before;
    snap_take(t, &before);

    static const char *const BAD_IDS[] = {
        "", "a b", "a/b", "caf\xc3\xa9", "x\n", "tab\t", "123456789012345678901234567890123"};
    for (size_t i = 0; i < KASSA_ARRAY_LEN(BAD_IDS); i++) {
        int rc = term_cashier_set(t, BAD_IDS[i], "Name", TERM_ROLE_CASHIER, "1234", &err);
        if (rc != KASSA_EINVAL)
            fail_msg("cashier id \"%s\": rc %d", BAD_IDS[i], rc);
        assert_true(tu_contains(err.msg, "cashier id"));
    }
    char long_name[KASSA_NAME_MAX + 2];
    memset(long_name, 'n', KASSA_NAME_MAX + 1);
    long_name[KASSA_NAME_MAX + 1] = '\0';
    const char *const BAD_NAMES[] = {"",          long_name, "two\nlines",
                                     "tab\there", "del\x7f", "\x1b[31mred"};
    for (size_t i = 0; i < KASSA_ARRAY_LEN(BAD_NAMES); i++) {
        int rc = term_cashier_set(t, "c2", BAD_NAMES[i], TERM_ROLE_CASHIER, "1234", &err);
        if (rc != KASSA_EINVAL)
            fail_msg("cashier name #%zu: rc %d", i, rc);
        assert_true(tu_contains(err.msg, "name"));
    }
    static const int BAD_ROLES[] = {0, 4, -1, 255};
    for (size_t i = 0; i < KASSA_ARRAY_LEN(BAD_ROLES); i++)
        assert_int_equal(term_cashier_set(t, "c2", "Name", (term_role)BAD_ROLES[i], "1234", &err),
                         KASSA_EINVAL);
    static const char *const BAD_PINS[] = {
        "",     "1",     "123",   "1234567890123",
        "12a4", " 1234", "1234 ", "1234\n",
        "-123", "+1234", "12.4",  "\xd9\xa1\xd9\xa2\xd9\xa3\xd9\xa4" /* Arabic-Indic digits */};
    for (size_t i = 0; i < KASSA_ARRAY_LEN(BAD_PINS); i++) {
        int rc = term_cashier_set(t, "c2", "Name", TERM_ROLE_CASHIER, BAD_PINS[i], &err);
        if (rc != KASSA_EINVAL)
            fail_msg("PIN #%zu \"%s\": rc %d", i, BAD_PINS[i], rc);
        assert_true(tu_contains(err.msg, "PIN"));
        /* The message never repeats the PIN. */
        if (strlen(BAD_PINS[i]) >= 3)
            assert_false(tu_contains(err.msg, BAD_PINS[i]));
    }
    /* Changing an existing cashier is refused the same way. */
    assert_int_equal(term_cashier_set(t, "c1", "Cashier One", TERM_ROLE_CASHIER, "12", &err),
                     KASSA_EINVAL);
    snap_assert_same(t, &before, "a refused cashier");
    oplog_vv_free(&before.vv);
    pin_is(t, "c1", "1234", KASSA_OK, 0);
    pin_is(t, "c2", "1234", KASSA_EAUTH, 0);

    /* The limits themselves are fine. */
    long_name[KASSA_NAME_MAX] = '\0';
    cashier_ok(t, "abcdefghijklmnopqrstuvwxyz._-ABC", long_name, TERM_ROLE_MANAGER, "0000");
    cashier_ok(t, "x", "~", TERM_ROLE_SUPERVISOR, "000000000000");
    cashier_list l;
    list_cashiers(t, &l);
    assert_int_equal(l.n, 3);
    assert_int_equal(strlen(l.c[0].name), KASSA_NAME_MAX);
}

/* ---- PINs and lockouts ---- */

static void test_check_pin_and_lockout(void **state)
{
    (void)state;
    char dir[600];
    fake_clock clk = {T0};
    term *t = new_term(dir, sizeof dir, STORE, "T1", &clk);
    assert_int_equal(t->max_pin_failures, TERM_DEFAULT_MAX_PIN_FAILURES);
    assert_int_equal(t->pin_lockout_ms, TERM_DEFAULT_PIN_LOCKOUT_MS);
    const int64_t lock = TERM_DEFAULT_PIN_LOCKOUT_MS;
    cashier_ok(t, "c1", "Cashier One", TERM_ROLE_SUPERVISOR, "2468");
    cashier_ok(t, "c2", "Cashier Two", TERM_ROLE_CASHIER, "1357");
    snap before;
    snap_take(t, &before);

    /* Right: the record comes back. */
    kassa_err err;
    term_cashier c;
    int64_t retry = -1;
    assert_int_equal(term_cashier_check_pin(t, "c1", "2468", &c, &retry, &err), KASSA_OK);
    assert_string_equal(c.id, "c1");
    assert_string_equal(c.name, "Cashier One");
    assert_int_equal(c.role, TERM_ROLE_SUPERVISOR);
    assert_int_equal(retry, 0);
    /* out and retry_after_ms may be NULL. */
    assert_int_equal(term_cashier_check_pin(t, "c1", "2468", NULL, NULL, &err), KASSA_OK);

    /* Unknown cashier: the same answer as a wrong PIN. */
    kassa_err err2;
    assert_int_equal(term_cashier_check_pin(t, "nobody", "2468", NULL, &retry, &err), KASSA_EAUTH);
    assert_int_equal(term_cashier_check_pin(t, "c1", "0000", NULL, &retry, &err2), KASSA_EAUTH);
    assert_string_equal(err.msg, err2.msg);
    assert_false(tu_contains(err2.msg, "0000"));

    /* Wrong PINs count; a right one resets the count. */
    pin_is(t, "c1", "2469", KASSA_EAUTH, 0);
    pin_is(t, "c1", "24680", KASSA_EAUTH, 0);
    pin_is(t, "c1", "abcd", KASSA_EAUTH, 0); /* not even a PIN: counts too */
    pin_is(t, "c1", "2468", KASSA_OK, 0);
    for (int i = 0; i < TERM_DEFAULT_MAX_PIN_FAILURES - 1; i++)
        pin_is(t, "c1", "1111", KASSA_EAUTH, 0);
    /* The fifth wrong PIN in a row locks. */
    clk.ms += 7;
    pin_is(t, "c1", "1111", KASSA_ELOCKED, lock);
    /* Locked: the right PIN too, and the retry time counts down with the
     * terminal's clock. */
    pin_is(t, "c1", "2468", KASSA_ELOCKED, lock);
    clk.ms += 60000;
    pin_is(t, "c1", "2468", KASSA_ELOCKED, lock - 60000);
    pin_is(t, "c1", "1111", KASSA_ELOCKED, lock - 60000);
    /* Only c1: c2 still works. */
    pin_is(t, "c2", "1357", KASSA_OK, 0);
    /* The lockout is the keypad's: it survives a restart. */
    untrack_close(t);
    t = open_term(dir, &clk);
    pin_is(t, "c1", "2468", KASSA_ELOCKED, lock - 60000);
    clk.ms += (uint64_t)(lock - 60000) - 1;
    pin_is(t, "c1", "2468", KASSA_ELOCKED, 1);
    /* Over: a right PIN works, and the count starts again from zero. */
    clk.ms += 1;
    pin_is(t, "c1", "2468", KASSA_OK, 0);
    for (int i = 0; i < TERM_DEFAULT_MAX_PIN_FAILURES - 1; i++)
        pin_is(t, "c1", "x", KASSA_EAUTH, 0);
    pin_is(t, "c1", "2468", KASSA_OK, 0);
    /* After a lockout that ran out without a right PIN, also from zero. */
    for (int i = 0; i < TERM_DEFAULT_MAX_PIN_FAILURES - 1; i++)
        pin_is(t, "c1", "y", KASSA_EAUTH, 0);
    pin_is(t, "c1", "y", KASSA_ELOCKED, lock);
    clk.ms += (uint64_t)lock;
    for (int i = 0; i < TERM_DEFAULT_MAX_PIN_FAILURES - 1; i++)
        pin_is(t, "c1", "z", KASSA_EAUTH, 0);
    pin_is(t, "c1", "z", KASSA_ELOCKED, lock);

    /* PIN checks and lockouts write no operation and change no replicated
     * state. */
    snap_assert_same(t, &before, "PIN checks");
    oplog_vv_free(&before.vv);

    /* The limits are the terminal's settings. */
    t->max_pin_failures = 2;
    t->pin_lockout_ms = 1000;
    pin_is(t, "c2", "0", KASSA_EAUTH, 0);
    pin_is(t, "c2", "0", KASSA_ELOCKED, 1000);
    clk.ms += 999;
    pin_is(t, "c2", "1357", KASSA_ELOCKED, 1);
    clk.ms += 1;
    pin_is(t, "c2", "1357", KASSA_OK, 0);
}

/* ---- replication ---- */

static void test_cashiers_replicate(void **state)
{
    (void)state;
    char d1[600], d2[600], d3[600];
    fake_clock c1 = {T0}, c2 = {T0 + 5}, c3 = {T0};
    term *a = new_term(d1, sizeof d1, STORE, "T1", &c1);
    term *b = new_term(d2, sizeof d2, STORE, "T2", &c2);
    term *c = new_term(d3, sizeof d3, STORE, "T3", &c3);
    /* Apart: T1 and T2 edit the same cashier; T2's clock is ahead, so its
     * whole record wins, whatever the order of arrival. */
    cashier_ok(a, "ann", "Ann on T1", TERM_ROLE_CASHIER, "1111");
    cashier_ok(b, "ann", "Ann on T2", TERM_ROLE_MANAGER, "2222");
    cashier_ok(b, "ben", "Ben", TERM_ROLE_CASHIER, "3333");
    ship(b, c); /* T3: the winner first */
    ship(a, c);
    ship(a, b); /* T2: its own first */
    ship(b, a); /* T1: the loser first */
    assert_same_state(a, b);
    assert_same_state(a, c);
    term *all[3] = {a, b, c};
    for (int i = 0; i < 3; i++) {
        cashier_list l;
        list_cashiers(all[i], &l);
        assert_int_equal(l.n, 2);
        assert_string_equal(l.c[0].id, "ann");
        assert_string_equal(l.c[0].name, "Ann on T2");
        assert_int_equal(l.c[0].role, TERM_ROLE_MANAGER);
        assert_string_equal(l.c[1].id, "ben");
    }
    pin_is(a, "ann", "2222", KASSA_OK, 0);
    pin_is(a, "ann", "1111", KASSA_EAUTH, 0);
    pin_is(c, "ben", "3333", KASSA_OK, 0);

    /* Equal clocks: the greater origin (T2) wins the tie. */
    c1.ms = c2.ms = T0 + 10000;
    cashier_ok(b, "cy", "Cy on T2", TERM_ROLE_CASHIER, "4444");
    cashier_ok(a, "cy", "Cy on T1", TERM_ROLE_CASHIER, "5555");
    ship(a, b);
    ship(b, a);
    assert_same_state(a, b);
    cashier_list l;
    list_cashiers(a, &l);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.c[2].name, "Cy on T2");
    pin_is(a, "cy", "4444", KASSA_OK, 0);

    /* Lockouts stay on their terminal: T1 locks ben, T2 does not care, and
     * the states still compare equal. */
    for (int i = 0; i < TERM_DEFAULT_MAX_PIN_FAILURES - 1; i++)
        pin_is(a, "ben", "9", KASSA_EAUTH, 0);
    pin_is(a, "ben", "9", KASSA_ELOCKED, TERM_DEFAULT_PIN_LOCKOUT_MS);
    uint64_t seq = head_seq(a);
    ship(a, b);
    ship(a, c);
    assert_int_equal(head_seq(a), seq);
    assert_same_state(a, b);
    pin_is(b, "ben", "3333", KASSA_OK, 0);
    pin_is(a, "ben", "3333", KASSA_ELOCKED, TERM_DEFAULT_PIN_LOCKOUT_MS);
    /* Nor do wrong-PIN counts: four on T2 and one on T3 lock nothing. */
    for (int i = 0; i < TERM_DEFAULT_MAX_PIN_FAILURES - 1; i++)
        pin_is(b, "cy", "8", KASSA_EAUTH, 0);
    ship(b, c);
    pin_is(c, "cy", "8", KASSA_EAUTH, 0);
    pin_is(c, "cy", "4444", KASSA_OK, 0);
}

/* ---- audit ---- */

static void assert_audit(const term_audit_entry *e, const char *action, const char *cashier,
                         const char *supervisor, const char *subject)
{
    assert_string_equal(e->action, action);
    assert_string_equal(e->cashier, cashier);
    assert_string_equal(e->supervisor, supervisor);
    assert_string_equal(e->subject, subject);
}

static void test_audit_entries(void **state)
{
    (void)state;
    char d1[600], d2[600];
    kassa_err err;
    fake_clock clk = {T0};
    term *t = new_term(d1, sizeof d1, STORE, "T1", &clk);
    catalog(t);
    audit_list al;
    list_audit(t, &al);
    assert_int_equal(al.n, 0);
    char id1[64], id2[64], id3[64];

    /* A price override, approved by a supervisor for that line: one entry
     * in the sale's transaction, just before the sale, naming the line's
     * approver (not the actor's supervisor). */
    set_actor(t, "c1", "s9", "price match");
    term_cart cart;
    cart_of(&cart, "apple", 2);
    assert_int_equal(term_cart_add(&cart, "bread", 1, &err), KASSA_OK);
    assert_int_equal(term_cart_price_override(&cart, "apple", 80, "s1", &err), KASSA_OK);
    assert_string_equal(cart.lines[0].approver, "s1");
    assert_string_equal(cart.lines[1].approver, "");
    oplog_sale_ref s1 = sell_cart(t, &cart);
    assert_string_equal(t->actor.supervisor, "s9"); /* the actor is left as it was */
    oplog_sale_id(&s1, id1, sizeof id1);
    assert_int_equal(g_res->sale.lines[0].unit_price, 80);
    assert_int_equal(g_res->sale.lines[1].unit_price, 250);
    assert_int_equal(g_res->totals.total, (160 + 250) * 12 / 10);
    list_audit(t, &al);
    assert_int_equal(al.n, 1);
    assert_audit(&al.e[0], "price_override", "c1", "s1", "apple");
    assert_true(tu_contains(al.e[0].detail, "1.00"));
    assert_true(tu_contains(al.e[0].detail, "0.80"));
    assert_string_equal(al.e[0].ref.origin, "T1");
    assert_int_equal(al.e[0].ref.seq, s1.seq - 1);
    assert_true(al.e[0].hlc < g_res->hlc);

    /* Two overrides by two approvers: two entries. */
    clk.ms += 1000;
    cart_of(&cart, "apple", 1);
    assert_int_equal(term_cart_add(&cart, "cheese", 1, &err), KASSA_OK);
    assert_int_equal(term_cart_price_override(&cart, "apple", 0, "s2", &err), KASSA_OK);
    assert_int_equal(term_cart_price_override(&cart, "cheese", 1000, "s1", &err), KASSA_OK);
    oplog_sale_ref s2 = sell_cart(t, &cart);
    oplog_sale_id(&s2, id2, sizeof id2);
    list_audit(t, &al);
    assert_int_equal(al.n, 3);
    assert_audit(&al.e[1], "price_override", "c1", "s2", "apple");
    assert_audit(&al.e[2], "price_override", "c1", "s1", "cheese");
    assert_true(tu_contains(al.e[2].detail, "9.90") && tu_contains(al.e[2].detail, "10.00"));
    /* An override back to the catalog price (-1) is no override. */
    clk.ms += 1000;
    cart_of(&cart, "bread", 1);
    assert_int_equal(term_cart_price_override(&cart, "bread", 199, "s1", &err), KASSA_OK);
    assert_int_equal(term_cart_price_override(&cart, "bread", -1, "s1", &err), KASSA_OK);
    assert_string_equal(cart.lines[0].approver, ""); /* no override, no approver */
    oplog_sale_ref s3 = sell_cart(t, &cart);
    oplog_sale_id(&s3, id3, sizeof id3);
    assert_int_equal(g_res->sale.lines[0].unit_price, 250);
    list_audit(t, &al);
    assert_int_equal(al.n, 3);

    /* A void: the reason is the detail. */
    clk.ms += 1000;
    set_actor(t, "c2", "s1", "customer changed her mind");
    int64_t refund = 0;
    assert_int_equal(term_void(t, &s1, &refund, &err), KASSA_OK);
    uint64_t void_seq = head_seq(t);
    list_audit(t, &al);
    assert_int_equal(al.n, 4);
    assert_audit(&al.e[3], "void", "c2", "s1", id1);
    assert_string_equal(al.e[3].detail, "customer changed her mind");
    assert_int_equal(al.e[3].ref.seq, void_seq - 1);

    /* A return: the refund and the reason. */
    clk.ms += 1000;
    set_actor(t, "c1", "s2", "too ripe");
    term_return_req req;
    memset(&req, 0, sizeof req);
    req.n_lines = 1;
    snprintf(req.lines[0].sku, sizeof req.lines[0].sku, "cheese");
    req.lines[0].qty = 1;
    oplog_sale_ref rref;
    assert_int_equal(term_return(t, &s2, &req, &rref, &refund, &err), KASSA_OK);
    assert_int_equal(refund, 1055); /* 10.00 + 5.5 % */
    list_audit(t, &al);
    assert_int_equal(al.n, 5);
    assert_audit(&al.e[4], "return", "c1", "s2", id2);
    assert_true(tu_contains(al.e[4].detail, "10.55"));
    assert_true(tu_contains(al.e[4].detail, "too ripe"));
    assert_int_equal(al.e[4].ref.seq, rref.seq - 1);

    /* A no-sale drawer open: audited, no cash moves. */
    clk.ms += 1000;
    int64_t cash_before, cash_after;
    assert_int_equal(term_drawer(t, NULL, &cash_before, &err), KASSA_OK);
    uint8_t h0[32], h1[32];
    state_hash(t, h0);
    set_actor(t, "c2", "s2", "");
    assert_int_equal(term_drawer_open(t, "change for a 50", &err), KASSA_OK);
    state_hash(t, h1);
    assert_memory_not_equal(h0, h1, 32); /* the state hash covers the audit log */
    assert_int_equal(term_drawer(t, NULL, &cash_after, &err), KASSA_OK);
    assert_int_equal(cash_before, cash_after);
    list_audit(t, &al);
    assert_int_equal(al.n, 6);
    assert_audit(&al.e[5], "no_sale", "c2", "s2", "drawer");
    assert_string_equal(al.e[5].detail, "change for a 50");

    /* The operator's CLI (no actor) acts on its own authority, audited as
     * nobody. */
    clk.ms += 1000;
    set_actor(t, "", "", "");
    assert_int_equal(term_void(t, &s3, &refund, &err), KASSA_OK);
    assert_int_equal(term_drawer_open(t, "count", &err), KASSA_OK);
    list_audit(t, &al);
    assert_int_equal(al.n, 8);
    assert_audit(&al.e[6], "void", "", "", id3);
    assert_string_equal(al.e[6].detail, "");
    assert_audit(&al.e[7], "no_sale", "", "", "drawer");
    /* A supervisor alone may act too. */
    oplog_sale_ref s4 = sell(t, "bread", 1);
    char id4[64];
    oplog_sale_id(&s4, id4, sizeof id4);
    set_actor(t, "", "s1", "test");
    assert_int_equal(term_void(t, &s4, &refund, &err), KASSA_OK);
    list_audit(t, &al);
    assert_int_equal(al.n, 9);
    assert_audit(&al.e[8], "void", "", "s1", id4);
    /* In time order. */
    for (size_t i = 1; i < al.n; i++)
        assert_true(al.e[i].hlc > al.e[i - 1].hlc);
    int calls = 0;
    assert_int_equal(term_audit_each(t, stop_audit, &calls, &err), KASSA_ECONFLICT);
    assert_int_equal(calls, 1);

    /* Bad reasons for a drawer open are refused before anything is
     * written. */
    oplog_sale_ref s5 = sell(t, "apple", 1);
    snap before;
    snap_take(t, &before);
    char long_reason[202];
    memset(long_reason, 'r', 201);
    long_reason[201] = '\0';
    assert_int_equal(term_drawer_open(t, "", &err), KASSA_EINVAL);
    assert_int_equal(term_drawer_open(t, long_reason, &err), KASSA_EINVAL);
    assert_int_equal(term_drawer_open(t, "two\nlines", &err), KASSA_EINVAL);
    assert_int_equal(term_drawer_open(t, "esc\x1b", &err), KASSA_EINVAL);
    /* A void whose reason has control characters: refused whole. */
    set_actor(t, "c1", "s1", "bad\nreason");
    assert_int_equal(term_void(t, &s5, &refund, &err), KASSA_EINVAL);
    snap_assert_same(t, &before, "refused drawer opens and a void with a bad reason");
    oplog_vv_free(&before.vv);
    long_reason[200] = '\0';
    set_actor(t, "", "", "");
    assert_int_equal(term_drawer_open(t, long_reason, &err), KASSA_OK);

    /* The audit log replicates. */
    term *b = new_term(d2, sizeof d2, STORE, "T2", NULL);
    ship(t, b);
    assert_same_state(t, b);
    audit_list bl;
    list_audit(t, &al);
    list_audit(b, &bl);
    assert_int_equal(al.n, 10);
    assert_int_equal(bl.n, al.n);
    for (size_t i = 0; i < al.n; i++) {
        assert_string_equal(al.e[i].ref.origin, bl.e[i].ref.origin);
        assert_int_equal(al.e[i].ref.seq, bl.e[i].ref.seq);
        assert_int_equal(al.e[i].hlc, bl.e[i].hlc);
        assert_audit(&bl.e[i], al.e[i].action, al.e[i].cashier, al.e[i].supervisor,
                     al.e[i].subject);
        assert_string_equal(al.e[i].detail, bl.e[i].detail);
    }
}

/* A cashier alone may sell, but not void, return or open the drawer
 * without a supervisor, nor sell a line whose price override no supervisor
 * approved: KASSA_EAUTH, and nothing written. */
static void test_cashier_alone_refused(void **state)
{
    (void)state;
    char dir[600];
    kassa_err err;
    term *t = new_term(dir, sizeof dir, STORE, "T1", NULL);
    catalog(t);
    oplog_sale_ref s1 = sell(t, "apple", 3);
    set_actor(t, "c1", "", "please");
    snap before;
    snap_take(t, &before);
    int64_t refund = -7;
    assert_int_equal(term_void(t, &s1, &refund, &err), KASSA_EAUTH);
    assert_true(tu_contains(err.msg, "supervisor"));
    term_return_req req;
    memset(&req, 0, sizeof req);
    req.n_lines = 1;
    snprintf(req.lines[0].sku, sizeof req.lines[0].sku, "apple");
    req.lines[0].qty = 1;
    oplog_sale_ref rref;
    assert_int_equal(term_return(t, &s1, &req, &rref, &refund, &err), KASSA_EAUTH);
    assert_true(tu_contains(err.msg, "supervisor"));
    assert_int_equal(refund, -7);
    term_cart cart;
    cart_of(&cart, "bread", 1);
    assert_int_equal(term_cart_add(&cart, "apple", 1, &err), KASSA_OK);
    assert_int_equal(term_cart_price_override(&cart, "apple", 50, "", &err), KASSA_OK);
    assert_int_equal(term_sale(t, &cart, BIG_PAY, g_res, &err), KASSA_EAUTH);
    assert_true(tu_contains(err.msg, "supervisor"));
    assert_true(tu_contains(err.msg, "apple"));
    /* An override is approved per line: the actor's supervisor (who may
     * approve voids) does not approve it; one line approved, one not. */
    set_actor(t, "c1", "s1", "please");
    assert_int_equal(term_sale(t, &cart, BIG_PAY, g_res, &err), KASSA_EAUTH);
    assert_int_equal(term_cart_price_override(&cart, "bread", 200, "s1", &err), KASSA_OK);
    assert_int_equal(term_sale(t, &cart, BIG_PAY, g_res, &err), KASSA_EAUTH);
    assert_true(tu_contains(err.msg, "apple"));
    assert_int_equal(term_cart_price_override(&cart, "bread", -1, "", &err), KASSA_OK);
    set_actor(t, "c1", "", "please");
    /* An approver must be an id; a refused one leaves the line alone. */
    assert_int_equal(term_cart_price_override(&cart, "apple", 60, "not an id", &err), KASSA_EINVAL);
    assert_int_equal(cart.lines[1].price_override, 50);
    assert_string_equal(cart.lines[1].approver, "");
    assert_int_equal(term_drawer_open(t, "need change", &err), KASSA_EAUTH);
    assert_true(tu_contains(err.msg, "supervisor"));
    /* Inside a batch: the refusal rolls back alone. */
    assert_int_equal(term_batch_begin(t, &err), KASSA_OK);
    assert_int_equal(term_void(t, &s1, &refund, &err), KASSA_EAUTH);
    assert_int_equal(term_drawer_open(t, "need change", &err), KASSA_EAUTH);
    assert_int_equal(term_batch_commit(t, &err), KASSA_OK);
    snap_assert_same(t, &before, "a cashier acting alone");
    oplog_vv_free(&before.vv);
    audit_list al;
    list_audit(t, &al);
    assert_int_equal(al.n, 0);

    /* Selling without an override needs nobody's approval. */
    assert_int_equal(term_cart_price_override(&cart, "apple", -1, "", &err), KASSA_OK);
    assert_int_equal(term_sale(t, &cart, BIG_PAY, g_res, &err), KASSA_OK);
    assert_string_equal(g_res->sale.cashier, "c1");
    /* With a supervisor, the same actions go through. */
    assert_int_equal(term_cart_price_override(&cart, "apple", 50, "s8", &err), KASSA_OK);
    assert_int_equal(term_sale(t, &cart, BIG_PAY, g_res, &err), KASSA_OK);
    set_actor(t, "c1", "s9", "approved");
    assert_int_equal(term_void(t, &s1, &refund, &err), KASSA_OK);
    assert_int_equal(refund, 360);
    assert_int_equal(term_drawer_open(t, "need change", &err), KASSA_OK);
    list_audit(t, &al);
    assert_int_equal(al.n, 3);
    assert_audit(&al.e[0], "price_override", "c1", "s8", "apple");
    assert_audit(&al.e[1], "void", "c1", "s9", al.e[1].subject);
    assert_audit(&al.e[2], "no_sale", "c1", "s9", "drawer");
}

/* ---- sales record their cashier ---- */

static void test_sale_records_cashier(void **state)
{
    (void)state;
    char d1[600], d2[600];
    kassa_err err;
    term *t = new_term(d1, sizeof d1, STORE, "T1", NULL);
    catalog(t);
    set_actor(t, "alice", "", "");
    oplog_sale_ref a = sell(t, "apple", 1);
    assert_string_equal(g_res->sale.cashier, "alice");
    set_actor(t, "abcdefghijklmnopqrstuvwxyz._-ABC", "bob", "");
    oplog_sale_ref l = sell(t, "bread", 1);
    set_actor(t, "", "", "");
    oplog_sale_ref o = sell(t, "cheese", 1);
    assert_string_equal(g_res->sale.cashier, "");
    term_sale_info info;
    term *b = new_term(d2, sizeof d2, STORE, "T2", NULL);
    ship(t, b);
    term *both[2] = {t, b};
    for (int i = 0; i < 2; i++) {
        memset(g_sale, 0x5a, sizeof *g_sale);
        assert_int_equal(term_sale_get(both[i], &a, &info, g_sale, &err), KASSA_OK);
        assert_string_equal(g_sale->cashier, "alice");
        assert_int_equal(g_sale->n_lines, 1);
        assert_string_equal(g_sale->lines[0].sku, "apple");
        assert_int_equal(term_sale_get(both[i], &l, &info, g_sale, &err), KASSA_OK);
        assert_string_equal(g_sale->cashier, "abcdefghijklmnopqrstuvwxyz._-ABC");
        memset(g_sale, 0x5a, sizeof *g_sale);
        assert_int_equal(term_sale_get(both[i], &o, &info, g_sale, &err), KASSA_OK);
        assert_string_equal(g_sale->cashier, "");
    }
    /* The recorded sale is what the sale returned. */
    assert_int_equal(g_sale->total, info.total);

    /* An actor id that is not an id cannot be recorded: refused, nothing
     * written (whatever the code says). */
    snap before;
    snap_take(t, &before);
    set_actor(t, "not an id", "", "");
    term_cart cart;
    cart_of(&cart, "apple", 1);
    assert_int_not_equal(term_sale(t, &cart, BIG_PAY, g_res, &err), KASSA_OK);
    snap_assert_same(t, &before, "a sale by an invalid cashier id");
    oplog_vv_free(&before.vv);
}

/* ---- carts ---- */

static void assert_priced_like_sale(term *t, const term_cart *cart)
{
    kassa_err err;
    pricing_totals totals;
    snap before;
    snap_take(t, &before);
    memset(g_sale, 0x5a, sizeof *g_sale);
    assert_int_equal(term_cart_price(t, cart, g_sale, &totals, &err), KASSA_OK);
    snap_assert_same(t, &before, "pricing a cart");
    oplog_vv_free(&before.vv);
    int rc = term_sale(t, cart, totals.total, g_res, &err);
    if (rc != KASSA_OK)
        fail_msg("sale of a priced cart (total %lld): %s", (long long)totals.total, err.msg);
    assert_int_equal(g_res->change, 0);
    assert_int_equal(totals.gross, g_res->totals.gross);
    assert_int_equal(totals.discount, g_res->totals.discount);
    assert_int_equal(totals.subtotal, g_res->totals.subtotal);
    assert_int_equal(totals.tax, g_res->totals.tax);
    assert_int_equal(totals.total, g_res->totals.total);
    assert_int_equal(g_sale->n_lines, g_res->sale.n_lines);
    assert_int_equal(g_sale->n_lines, cart->n_lines);
    for (size_t i = 0; i < g_sale->n_lines; i++) {
        const oplog_sale_line *x = &g_sale->lines[i], *y = &g_res->sale.lines[i];
        assert_string_equal(x->sku, y->sku);
        assert_string_equal(x->sku, cart->lines[i].sku);
        assert_int_equal(x->qty, y->qty);
        assert_int_equal(x->unit_price, y->unit_price);
        assert_int_equal(x->discount, y->discount);
        assert_int_equal(x->tax, y->tax);
    }
    assert_int_equal(g_sale->total, totals.total);
    assert_int_equal(g_sale->tax, totals.tax);
}

static void test_cart_ops(void **state)
{
    (void)state;
    char dir[600];
    kassa_err err;
    term *t = new_term(dir, sizeof dir, STORE, "T1", NULL);
    catalog(t);
    term_cart cart;
    memset(&cart, 0, sizeof cart);
    pricing_totals totals;
    /* An empty cart prices to nothing and does not sell. */
    assert_int_equal(term_cart_price(t, &cart, g_sale, &totals, &err), KASSA_EINVAL);
    assert_int_equal(term_sale(t, &cart, BIG_PAY, g_res, &err), KASSA_EINVAL);

    static const char *const SKUS[] = {"apple", "bread", "cheese"};
    for (int i = 0; i < 3; i++)
        assert_int_equal(term_cart_add(&cart, SKUS[i], i + 1, &err), KASSA_OK);
    assert_int_equal(cart.lines[0].price_override, -1);

    /* Quantities. */
    assert_int_equal(term_cart_set_qty(&cart, "bread", 7, &err), KASSA_OK);
    assert_int_equal(cart.lines[1].qty, 7);
    assert_int_equal(term_cart_set_qty(&cart, "bread", PRICING_QTY_MAX, &err), KASSA_OK);
    assert_int_equal(term_cart_set_qty(&cart, "bread", 0, &err), KASSA_EINVAL);
    assert_int_equal(term_cart_set_qty(&cart, "bread", -1, &err), KASSA_EINVAL);
    assert_int_equal(term_cart_set_qty(&cart, "bread", PRICING_QTY_MAX + 1, &err), KASSA_EINVAL);
    assert_int_equal(cart.lines[1].qty, PRICING_QTY_MAX);
    assert_int_equal(term_cart_set_qty(&cart, "durian", 1, &err), KASSA_ENOTFOUND);
    assert_true(tu_contains(err.msg, "durian"));
    assert_int_equal(term_cart_set_qty(&cart, "bread", 2, &err), KASSA_OK);

    /* Overrides: -1 is the catalog's price, 0 free, up to the largest
     * amount; anything else refused, the line unchanged. */
    assert_int_equal(term_cart_price_override(&cart, "cheese", 500, "", &err), KASSA_OK);
    assert_int_equal(term_cart_price_override(&cart, "cheese", -2, "", &err), KASSA_EINVAL);
    assert_int_equal(term_cart_price_override(&cart, "cheese", PRICING_AMOUNT_MAX + 1, "", &err),
                     KASSA_EINVAL);
    assert_int_equal(term_cart_price_override(&cart, "cheese", INT64_MIN, "", &err), KASSA_EINVAL);
    assert_int_equal(cart.lines[2].price_override, 500);
    assert_int_equal(term_cart_price_override(&cart, "durian", 5, "", &err), KASSA_ENOTFOUND);
    assert_int_equal(term_cart_discount(&cart, "durian", PRICING_DISCOUNT_PERCENT, 10, &err),
                     KASSA_ENOTFOUND);
    assert_int_equal(term_cart_discount(&cart, "apple", PRICING_DISCOUNT_PERCENT, 2500, &err),
                     KASSA_OK);
    assert_priced_like_sale(t, &cart);
    assert_int_equal(g_res->sale.lines[2].unit_price, 500);
    assert_int_equal(g_res->sale.lines[1].qty, 2);
    /* apple 1 x 1.00 - 25 % = 0.75 + 0.15; bread 2 x 2.50 = 5.00 + 1.00;
     * cheese 3 x 5.00 = 15.00 + 0.825 -> 0.83 */
    assert_int_equal(g_res->totals.total, 90 + 600 + 1583);

    assert_int_equal(term_cart_price_override(&cart, "cheese", -1, "", &err), KASSA_OK);
    assert_int_equal(term_cart_price_override(&cart, "bread", 0, "", &err), KASSA_OK);
    assert_int_equal(term_cart_price_override(&cart, "apple", PRICING_AMOUNT_MAX / 10, "", &err),
                     KASSA_OK);
    assert_priced_like_sale(t, &cart);
    assert_int_equal(g_res->sale.lines[2].unit_price, 990);
    assert_int_equal(g_res->sale.lines[1].unit_price, 0);

    /* Removing keeps the order of the others. */
    assert_int_equal(term_cart_remove(&cart, "bread", &err), KASSA_OK);
    assert_int_equal(cart.n_lines, 2);
    assert_string_equal(cart.lines[0].sku, "apple");
    assert_string_equal(cart.lines[1].sku, "cheese");
    assert_int_equal(cart.lines[0].discount_value, 2500);
    assert_int_equal(term_cart_remove(&cart, "bread", &err), KASSA_ENOTFOUND);
    assert_int_equal(term_cart_add(&cart, "bread", 4, &err), KASSA_OK);
    assert_int_equal(cart.lines[2].price_override, -1); /* a new line: no override */
    assert_int_equal(cart.lines[2].discount_kind, PRICING_DISCOUNT_NONE);
    assert_int_equal(term_cart_remove(&cart, "apple", &err), KASSA_OK);
    assert_string_equal(cart.lines[0].sku, "cheese");
    assert_string_equal(cart.lines[1].sku, "bread");
    assert_priced_like_sale(t, &cart);
    assert_int_equal(term_cart_remove(&cart, "bread", &err), KASSA_OK);
    assert_int_equal(term_cart_remove(&cart, "cheese", &err), KASSA_OK);
    assert_int_equal(cart.n_lines, 0);
    assert_int_equal(term_cart_remove(&cart, "cheese", &err), KASSA_ENOTFOUND);
    assert_int_equal(term_cart_price(t, &cart, g_sale, &totals, &err), KASSA_EINVAL);

    /* Prices follow the catalog as it is now; unknown SKUs are refused. */
    oplog_catalog_set c;
    memset(&c, 0, sizeof c);
    snprintf(c.sku, sizeof c.sku, "bread");
    c.fields = CATALOG_F_PRICE;
    c.price = 300;
    assert_int_equal(term_catalog_set(t, &c, &err), KASSA_OK);
    cart_of(&cart, "bread", 1);
    assert_int_equal(term_cart_price(t, &cart, g_sale, &totals, &err), KASSA_OK);
    assert_int_equal(g_sale->lines[0].unit_price, 300);
    assert_int_equal(totals.total, 360);
    assert_int_equal(term_cart_add(&cart, "durian", 1, &err), KASSA_OK);
    assert_int_equal(term_cart_price(t, &cart, g_sale, &totals, &err), KASSA_ENOTFOUND);
    /* Discounts beyond the line are refused by pricing, as by a sale. */
    cart_of(&cart, "apple", 1);
    assert_int_equal(term_cart_discount(&cart, "apple", PRICING_DISCOUNT_AMOUNT, 101, &err),
                     KASSA_OK);
    int rc = term_cart_price(t, &cart, g_sale, &totals, &err);
    assert_int_not_equal(rc, KASSA_OK);
    assert_int_equal(term_sale(t, &cart, BIG_PAY, g_res, &err), rc);
    /* An override makes a discount fit (or not). */
    assert_int_equal(term_cart_price_override(&cart, "apple", 101, "", &err), KASSA_OK);
    assert_priced_like_sale(t, &cart);
    assert_int_equal(g_res->totals.total, 0);

    /* Payment below the total: a conflict, nothing written. */
    cart_of(&cart, "cheese", 1);
    snap before;
    snap_take(t, &before);
    /* 9.90 + 5.5 % (0.5445 -> 0.54) = 10.44 */
    assert_int_equal(term_sale(t, &cart, 1043, g_res, &err), KASSA_ECONFLICT);
    assert_true(tu_contains(err.msg, "less than the total 10.44"));
    snap_assert_same(t, &before, "an underpaid sale");
    oplog_vv_free(&before.vv);
    assert_int_equal(term_sale(t, &cart, 1044, g_res, &err), KASSA_OK);
    assert_int_equal(g_res->change, 0);
}

/* ---- catalog search ---- */

static void search(term *t, const char *prefix, size_t limit, item_list *l)
{
    kassa_err err;
    l->n = 0;
    int rc = term_catalog_search(t, prefix, limit, collect_item, l, &err);
    if (rc != KASSA_OK)
        fail_msg("search \"%s\": %s", prefix, err.msg);
}

/* The SKUs found, space separated. */
static const char *found(const item_list *l)
{
    static char buf[512];
    buf[0] = '\0';
    for (size_t i = 0; i < l->n; i++) {
        size_t used = strlen(buf);
        snprintf(buf + used, sizeof buf - used, "%s%s", i ? " " : "", l->it[i].sku);
    }
    return buf;
}

static void test_catalog_search(void **state)
{
    (void)state;
    char dir[600];
    kassa_err err;
    term *t = new_term(dir, sizeof dir, STORE, "T1", NULL);
    static const char *const SKUS[] = {"ap1", "ap2", "ap3", "ban", "pc1", "pc2", "us1",
                                       "us2", "bs1", "bs2", "e1",  "e2",  "apx9"};
    static const char *const NAMES[] = {"Apple",
                                        "apple pie",
                                        "Apricot",
                                        "Banana",
                                        "100% juice",
                                        "100 pct juice",
                                        "a_b",
                                        "axb",
                                        "back\\slash",
                                        "backslash",
                                        "\xc3\xa9"
                                        "clair",
                                        "\xc3\x89"
                                        "clair",
                                        "APPLE JUICE"};
    static const int64_t PRICES[] = {100, 200, 300,  400,  500,  600, 700,
                                     800, 900, 1000, 1100, 1200, 1300};
    add_items(t, KASSA_ARRAY_LEN(SKUS), SKUS, NAMES, PRICES);
    item_list l;

    /* A prefix, ASCII case-insensitive, by name. */
    search(t, "app", 100, &l);
    assert_string_equal(found(&l), "apx9 ap1 ap2"); /* "APPLE JUICE" < "Apple" < "apple pie" */
    search(t, "APPLE ", 100, &l);
    assert_string_equal(found(&l), "apx9 ap2");
    search(t, "ap", 100, &l);
    assert_int_equal(l.n, 4);
    search(t, "apple pie", 100, &l);
    assert_string_equal(found(&l), "ap2");
    assert_string_equal(l.it[0].name, "apple pie");
    assert_int_equal(l.it[0].price, 200);
    assert_int_equal(l.it[0].stock, 50);
    search(t, "apple pies", 100, &l);
    assert_int_equal(l.n, 0);
    search(t, "pie", 100, &l); /* a prefix, not a substring */
    assert_int_equal(l.n, 0);
    /* LIKE wildcards in the text are literal. */
    search(t, "100%", 100, &l);
    assert_string_equal(found(&l), "pc1");
    search(t, "100", 100, &l);
    assert_int_equal(l.n, 2);
    search(t, "a_", 100, &l);
    assert_string_equal(found(&l), "us1");
    search(t, "_", 100, &l);
    assert_int_equal(l.n, 0);
    search(t, "%", 100, &l);
    assert_int_equal(l.n, 0);
    search(t, "back\\", 100, &l);
    assert_string_equal(found(&l), "bs1");
    search(t, "back", 100, &l);
    assert_int_equal(l.n, 2);
    /* Beyond ASCII, bytes must match. */
    search(t, "\xc3\xa9", 100, &l);
    assert_string_equal(found(&l), "e1");
    /* The limit. */
    search(t, "", 100, &l);
    assert_int_equal(l.n, KASSA_ARRAY_LEN(SKUS));
    search(t, "", 3, &l);
    assert_string_equal(found(&l), "pc2 pc1 apx9"); /* "100 pct" < "100%" < "APPLE" */
    search(t, "a", 2, &l);
    assert_int_equal(l.n, 2);
    search(t, "a", 1, &l);
    assert_string_equal(found(&l), "apx9");
    search(t, "a", 0, &l);
    assert_int_equal(l.n, 0);
    /* Longest text accepted, longer refused. */
    char text[KASSA_NAME_MAX + 2];
    memset(text, 'a', KASSA_NAME_MAX + 1);
    text[KASSA_NAME_MAX] = '\0';
    search(t, text, 10, &l);
    assert_int_equal(l.n, 0);
    text[KASSA_NAME_MAX] = 'a';
    text[KASSA_NAME_MAX + 1] = '\0';
    assert_int_equal(term_catalog_search(t, text, 10, collect_item, &l, &err), KASSA_EINVAL);
    /* A callback's error stops the search. */
    int calls = 0;
    assert_int_equal(term_catalog_search(t, "a", 10, stop_item, &calls, &err), KASSA_ECONFLICT);
    assert_int_equal(calls, 1);
    /* Renamed items are found by their new name. */
    oplog_catalog_set c;
    memset(&c, 0, sizeof c);
    snprintf(c.sku, sizeof c.sku, "ban");
    c.fields = CATALOG_F_NAME;
    snprintf(c.name, sizeof c.name, "Plantain");
    assert_int_equal(term_catalog_set(t, &c, &err), KASSA_OK);
    search(t, "ban", 10, &l);
    assert_int_equal(l.n, 0);
    search(t, "plan", 10, &l);
    assert_string_equal(found(&l), "ban");
}

/* ---- recent sales ---- */

static void test_sales_recent(void **state)
{
    (void)state;
    char d1[600], d2[600];
    kassa_err err;
    fake_clock c1 = {T0}, c2 = {T0};
    term *a = new_term(d1, sizeof d1, STORE, "T1", &c1);
    term *b = new_term(d2, sizeof d2, STORE, "T2", &c2);
    catalog(a);
    ship(a, b);
    sale_list l;
    l.n = 0;
    assert_int_equal(term_sales_recent(a, 10, collect_sale, &l, &err), KASSA_OK);
    assert_int_equal(l.n, 0);
    /* Interleaved in time on two terminals; one on each at the same
     * millisecond. */
    oplog_sale_ref refs[7];
    term *where[7] = {a, b, a, a, b, a, b};
    for (int i = 0; i < 7; i++) {
        if (i != 6) {
            c1.ms += 1000;
            c2.ms = c1.ms;
        }
        refs[i] = sell(where[i], i % 2 ? "bread" : "apple", i + 1);
    }
    ship(a, b);
    ship(b, a);
    term *both[2] = {a, b};
    for (int k = 0; k < 2; k++) {
        l.n = 0;
        assert_int_equal(term_sales_recent(both[k], 100, collect_sale, &l, &err), KASSA_OK);
        assert_int_equal(l.n, 7);
        /* Newest first: the reverse of term_sales_each. */
        sale_list all;
        all.n = 0;
        assert_int_equal(term_sales_each(both[k], collect_sale, &all, &err), KASSA_OK);
        assert_int_equal(all.n, 7);
        for (size_t i = 0; i < 7; i++) {
            assert_string_equal(l.s[i].ref.origin, all.s[6 - i].ref.origin);
            assert_int_equal(l.s[i].ref.seq, all.s[6 - i].ref.seq);
            if (i)
                assert_true(l.s[i].hlc <= l.s[i - 1].hlc);
        }
        /* The newest is sale 6 (T2) or 5 (T1), which share a time. */
        l.n = 0;
        assert_int_equal(term_sales_recent(both[k], 3, collect_sale, &l, &err), KASSA_OK);
        assert_int_equal(l.n, 3);
        assert_int_equal(l.s[2].ref.seq, refs[4].seq);
        assert_string_equal(l.s[2].ref.origin, "T2");
        l.n = 0;
        assert_int_equal(term_sales_recent(both[k], 1, collect_sale, &l, &err), KASSA_OK);
        assert_int_equal(l.n, 1);
        assert_true(l.s[0].hlc == all.s[6].hlc);
        l.n = 0;
        assert_int_equal(term_sales_recent(both[k], 0, collect_sale, &l, &err), KASSA_OK);
        assert_int_equal(l.n, 0);
    }
    /* Voids show in the listing; a callback's error stops it. */
    int64_t refund;
    assert_int_equal(term_void(a, &refs[6], &refund, &err), KASSA_OK);
    l.n = 0;
    assert_int_equal(term_sales_recent(a, 7, collect_sale, &l, &err), KASSA_OK);
    bool seen = false;
    for (size_t i = 0; i < l.n; i++)
        if (l.s[i].ref.seq == refs[6].seq && strcmp(l.s[i].ref.origin, "T2") == 0)
            seen = l.s[i].voided;
    assert_true(seen);
    int calls = 0;
    assert_int_equal(term_sales_recent(a, 7, stop_sale, &calls, &err), KASSA_ECONFLICT);
    assert_int_equal(calls, 1);
}

/* ---- known bugs ---- */

/* An audit operation of another terminal whose subject has the largest
 * length the decoder accepts (OPLOG_AUDIT_SUBJECT_MAX) must be listed
 * whole. */
static void test_audit_longest_subject_listed(void **state)
{
    (void)state;
    char dir[600];
    kassa_err err;
    term *t = new_term(dir, sizeof dir, STORE, "T1", NULL);
    oplog_audit au;
    memset(&au, 0, sizeof au);
    snprintf(au.action, sizeof au.action, "void");
    memset(au.subject, 's', OPLOG_AUDIT_SUBJECT_MAX);
    memset(au.detail, 'd', OPLOG_AUDIT_DETAIL_MAX);
    kbuf pl;
    kbuf_init(&pl);
    oplog_encode_audit(&pl, &au);
    assert_int_equal(oplog_validate_payload(OP_AUDIT, pl.data, pl.len, &err), KASSA_OK);
    oplog_op op;
    memset(&op, 0, sizeof op);
    snprintf(op.origin, sizeof op.origin, "T9");
    op.seq = 1;
    op.hlc = hlc_make(T0, 0);
    op.kind = OP_AUDIT;
    op.payload = pl.data;
    op.payload_len = pl.len;
    uint8_t zero[OPLOG_HASH_SIZE] = {0};
    oplog_hash(STORE, zero, &op, op.hash);
    oplog_file_writer w;
    oplog_file_begin(&w, STORE);
    oplog_file_add(&w, &op);
    assert_int_equal(oplog_file_finish(&w, &err), KASSA_OK);
    term_import_report rep;
    int rc = term_import(t, w.buf.data, w.buf.len, &rep, &err);
    oplog_file_writer_free(&w);
    kbuf_free(&pl);
    assert_int_equal(rc, KASSA_OK);
    assert_int_equal(rep.applied, 1);
    audit_list al;
    list_audit(t, &al);
    assert_int_equal(al.n, 1);
    assert_int_equal(strlen(al.e[0].detail), OPLOG_AUDIT_DETAIL_MAX);
    assert_int_equal(strlen(al.e[0].subject), OPLOG_AUDIT_SUBJECT_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roles),
        cmocka_unit_test_teardown(test_cashier_set_and_list, teardown),
        cmocka_unit_test_teardown(test_cashier_set_refusals, teardown),
        cmocka_unit_test_teardown(test_check_pin_and_lockout, teardown),
        cmocka_unit_test_teardown(test_cashiers_replicate, teardown),
        cmocka_unit_test_teardown(test_audit_entries, teardown),
        cmocka_unit_test_teardown(test_cashier_alone_refused, teardown),
        cmocka_unit_test_teardown(test_sale_records_cashier, teardown),
        cmocka_unit_test_teardown(test_cart_ops, teardown),
        cmocka_unit_test_teardown(test_catalog_search, teardown),
        cmocka_unit_test_teardown(test_sales_recent, teardown),
        cmocka_unit_test_teardown(test_audit_longest_subject_listed, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
