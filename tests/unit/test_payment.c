/*
 * Unit tests of the payments core: the tender section of sales, refund
 * splits of voids and returns, OP_PAYMENT and OP_DRAWER codecs; cash
 * rounding (term_cash_round and sales under a rounding rule); this
 * terminal's card payment state machine (pay_local: reserve, card read,
 * sale, abandon, finish, failed attempts, due list, recovery after a
 * crash, store-and-forward totals); refunds to the original tenders; the
 * review list; replication of card payments, outcomes, resolutions and
 * drawer movements between terminals; drawer float/drop/count; and the
 * PCI property that no stored value holds a card-number-like digit run.
 *
 * With PAYMENT_SEED_DIR set it writes seeds of the fuzz_payload corpus:
 *   PAYMENT_SEED_DIR=tests/fuzz/corpus/fuzz_payload build/bin/test_payment
 * (the valid OP_PAYMENT / OP_DRAWER seeds with PAYMENT_SEED_ALL=1 too).
 *
 * The last four tests are bugs found while writing these: each failed
 * before its fix.
 */
#include "testutil.h"
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "term/term.h"
#include "termutil.h"

#define STORE "store-1"
#define T0 UINT64_C(1790000000000)

/* ---- helpers ---- */

static oplog_sale *g_sale, *g_sale2;
static oplog_return *g_ret, *g_ret2;
static term_sale_result *g_res;

static int group_setup(void **state)
{
    (void)state;
    g_sale = calloc(1, sizeof *g_sale);
    g_sale2 = calloc(1, sizeof *g_sale2);
    g_ret = calloc(1, sizeof *g_ret);
    g_ret2 = calloc(1, sizeof *g_ret2);
    g_res = calloc(1, sizeof *g_res);
    if (!g_sale || !g_sale2 || !g_ret || !g_ret2 || !g_res)
        return -1;
    return tu_mkdtemp(g_base, sizeof g_base, "kassa-payment", false);
}

static int group_teardown(void **state)
{
    (void)state;
    free(g_sale);
    free(g_sale2);
    free(g_ret);
    free(g_ret2);
    free(g_res);
    tu_rm_tree(g_base);
    return 0;
}

/* Fails the test unless rc is KASSA_OK, saying what failed (a printf
 * format) and why. */
__attribute__((format(printf, 3, 4))) static void must(int rc, const kassa_err *err,
                                                       const char *fmt, ...)
{
    if (rc == KASSA_OK)
        return;
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    fail_msg("%s: %s", what, err->msg);
}

/* Zero-tax items, so totals are qty x price. */
static void catalog(term *t)
{
    static const struct {
        const char *sku;
        int64_t price;
    } ROWS[] = {{"tea", 103}, {"bread", 250}, {"wine", 1000}, {"gum", 2}};
    catalog_item items[KASSA_ARRAY_LEN(ROWS)];
    memset(items, 0, sizeof items);
    for (size_t i = 0; i < KASSA_ARRAY_LEN(ROWS); i++) {
        snprintf(items[i].sku, sizeof items[i].sku, "%s", ROWS[i].sku);
        snprintf(items[i].name, sizeof items[i].name, "Item %s", ROWS[i].sku);
        items[i].price = ROWS[i].price;
        snprintf(items[i].tax_class, sizeof items[i].tax_class, "zero");
        items[i].stock = 100;
        items[i].line = (unsigned)i + 2;
    }
    kassa_err err;
    must(term_catalog_import(t, items, KASSA_ARRAY_LEN(ROWS), &err), &err, "catalog import");
}

static void setting(term *t, const char *key, const char *value)
{
    kassa_err err;
    must(term_setting_set(t, key, value, &err), &err, "setting %s", key);
}

static void chf5(term *t)
{
    setting(t, "currency", "CHF");
    setting(t, "cash_rounding.CHF", "5");
}

/* A terminal's directory and clock. */
typedef struct shop {
    char dir[600];
    fake_clock clk;
} shop;

/* Terminal NODE of the store in a fresh directory (its name in sh->dir),
 * on sh->clk from at. */
static term *bare_term(shop *sh, const char *node, uint64_t at)
{
    sh->clk.ms = at;
    return new_term(sh->dir, sizeof sh->dir, STORE, node, &sh->clk);
}

/* The same from T0, with the catalog; in CHF, cash rounded to 0.05
 * (chf5), when rounded. */
static term *shop_term(shop *sh, const char *node, bool rounded)
{
    term *t = bare_term(sh, node, T0);
    catalog(t);
    if (rounded)
        chf5(t);
    return t;
}

static int64_t round_of(term *t, int64_t amount)
{
    int64_t r = -1;
    kassa_err err;
    must(term_cash_round(t, amount, &r, &err), &err, "term_cash_round(%lld)", (long long)amount);
    return r;
}

static int64_t drawer_of(term *t, const char *node)
{
    int64_t cash = -1;
    kassa_err err;
    must(term_drawer(t, node, &cash, &err), &err, "term_drawer");
    return cash;
}

static size_t op_count(term *t, int kind)
{
    sqlite3_stmt *st;
    assert_int_equal(
        sqlite3_prepare_v2(t->st.db, "SELECT count(*) FROM ops WHERE kind = ?1", -1, &st, NULL),
        SQLITE_OK);
    sqlite3_bind_int(st, 1, kind);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    size_t n = (size_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static size_t all_ops(term *t)
{
    term_status s;
    kassa_err err;
    assert_int_equal(term_status_get(t, &s, &err), KASSA_OK);
    return s.ops;
}

/* Sealed card data as a reader would hand it over: opaque bytes. */
static void blob_fill(uint8_t *b, size_t n, uint64_t seed)
{
    tu_rng r;
    tu_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)tu_rng_next(&r);
}

static oplog_card_tender tender_card(const char *id, int64_t amount, const char *token, int mode)
{
    oplog_card_tender c;
    memset(&c, 0, sizeof c);
    snprintf(c.payment_id, sizeof c.payment_id, "%s", id);
    c.amount = amount;
    snprintf(c.token, sizeof c.token, "%s", token);
    snprintf(c.brand, sizeof c.brand, "VISA");
    snprintf(c.last4, sizeof c.last4, "4242");
    c.exp_month = 12;
    c.exp_year = 2030;
    c.mode = (uint8_t)mode;
    snprintf(c.auth_code, sizeof c.auth_code, "%s", mode == OPLOG_CARD_ONLINE ? "A1B2C3" : "");
    return c;
}

/* reserve + card read: the row is AUTHORIZING. */
static void card_ready(term *t, int64_t amount, const char *token, char id[OPLOG_PAY_ID_MAX + 1])
{
    kassa_err err;
    uint8_t blob[96];
    blob_fill(blob, sizeof blob, (uint64_t)amount * 31 + strlen(token));
    must(term_pay_reserve(t, amount, id, &err), &err, "reserve");
    must(term_pay_card_read(t, id, token, blob, sizeof blob, &err), &err, "card read");
}

static void cart2(term_cart *cart, const char *sku, int64_t qty, const char *sku2, int64_t qty2)
{
    kassa_err err;
    cart_of(cart, sku, qty);
    if (sku2)
        assert_int_equal(term_cart_add(cart, sku2, qty2, &err), KASSA_OK);
}

/* A tender of cash and the card tender_card(id, amount, token, mode). */
static term_tender card_tender(int64_t cash, const char *id, int64_t amount, const char *token,
                               int mode)
{
    term_tender tender;
    memset(&tender, 0, sizeof tender);
    tender.cash = cash;
    tender.has_card = true;
    tender.card = tender_card(id, amount, token, mode);
    return tender;
}

/* A sale paid by card (and cash for the rest); the result is in g_res. */
static oplog_sale_ref card_sale(term *t, const char *sku, int64_t qty, const char *sku2,
                                int64_t qty2, int64_t cash, int mode, int64_t card_amount,
                                const char *token, char id[OPLOG_PAY_ID_MAX + 1])
{
    term_cart cart;
    kassa_err err;
    cart2(&cart, sku, qty, sku2, qty2);
    card_ready(t, card_amount, token, id);
    term_tender tender = card_tender(cash, id, card_amount, token, mode);
    must(term_sale_tender(t, &cart, &tender, g_res, &err), &err, "card sale");
    return g_res->ref;
}

static oplog_sale_ref cash_sale(term *t, const char *sku, int64_t qty, int64_t cash)
{
    term_cart cart;
    kassa_err err;
    cart_of(&cart, sku, qty);
    must(term_sale(t, &cart, cash, g_res, &err), &err, "cash sale");
    return g_res->ref;
}

static term_pay pay_of(term *t, const char *id)
{
    term_pay p;
    kassa_err err;
    must(term_pay_get(t, id, &p, &err), &err, "term_pay_get %s", id);
    return p;
}

static term_card_payment cardp_of(term *t, const char *id)
{
    term_card_payment p;
    kassa_err err;
    must(term_card_payment_get(t, id, &p, &err), &err, "term_card_payment_get %s", id);
    return p;
}

static term_saf_totals saf_of(term *t, const char *token)
{
    term_saf_totals saf;
    kassa_err err;
    must(term_saf_get(t, token, &saf, &err), &err, "term_saf_get");
    return saf;
}

/* The due list after row after_n, at most max rows into due; the count. */
static size_t due_of(term *t, int64_t after_n, size_t max, term_pay *due)
{
    size_t n;
    kassa_err err;
    must(term_pay_due(t, after_n, max, due, &n, &err), &err, "term_pay_due");
    return n;
}

/* due[0..n) are the payments of the NULL-terminated list want, in order. */
static void assert_ids(const term_pay *due, size_t n, const char *const *want)
{
    size_t len = 0;
    while (want[len])
        len++;
    assert_int_equal(n, len);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(due[i].id, want[i]);
}

static void finish_ok(term *t, const char *id, int outcome, const char *reason, const char *auth)
{
    kassa_err err;
    must(term_pay_finish(t, id, outcome, reason, auth, &err), &err, "finish %s", id);
}

/* Payment id resolved on t by who (the cashier), with note. */
static void resolve_as(term *t, const char *who, const char *id, const char *note)
{
    kassa_err err;
    snprintf(t->actor.cashier, sizeof t->actor.cashier, "%s", who);
    int rc = term_pay_resolve(t, id, note, &err);
    memset(&t->actor, 0, sizeof t->actor);
    must(rc, &err, "resolve %s", id);
}

static void return_req(term_return_req *req, const char *sku, int64_t qty)
{
    memset(req, 0, sizeof *req);
    req->n_lines = 1;
    snprintf(req->lines[0].sku, sizeof req->lines[0].sku, "%s", sku);
    req->lines[0].qty = qty;
}

static term_refund return_ok(term *t, const oplog_sale_ref *sale, const char *sku, int64_t qty)
{
    term_return_req req;
    term_refund r;
    kassa_err err;
    return_req(&req, sku, qty);
    must(term_return_ex(t, sale, &req, NULL, &r, &err), &err, "return");
    return r;
}

/* The highest seq of origin's operations that t holds. */
static uint64_t seq_of(term *t, const char *origin)
{
    oplog_vv vv;
    kassa_err err;
    must(term_vv(t, &vv, &err), &err, "term_vv");
    uint64_t seq = oplog_vv_get(&vv, origin);
    oplog_vv_free(&vv);
    return seq;
}

/* What `from` holds beyond since (NULL: everything), into `to`; the
 * import's report. */
static term_import_report ship_since(term *from, const oplog_vv *since, term *to)
{
    kbuf f;
    kbuf_init(&f);
    kassa_err err;
    term_import_report rep;
    int rc = term_export(from, since, &f, &err);
    if (rc == KASSA_OK)
        rc = term_import(to, f.data, f.len, &rep, &err);
    kbuf_free(&f);
    must(rc, &err, "from %s into %s", from->node_id, to->node_id);
    return rep;
}

/* Everything from `from` into `to`. */
static void ship(term *from, term *to)
{
    ship_since(from, NULL, to);
}

typedef struct id_list {
    size_t n;
    char ids[16][OPLOG_PAY_ID_MAX + 1];
    int outcome[16];
} id_list;

static int collect_review(const term_card_payment *p, void *ctx)
{
    id_list *l = ctx;
    if (l->n < 16) {
        snprintf(l->ids[l->n], sizeof l->ids[0], "%s", p->id);
        l->outcome[l->n] = p->outcome;
    }
    l->n++;
    return KASSA_OK;
}

static id_list review(term *t, bool with_resolved)
{
    id_list l;
    memset(&l, 0, sizeof l);
    kassa_err err;
    assert_int_equal(term_pay_review_each(t, with_resolved, collect_review, &l, &err), KASSA_OK);
    return l;
}

static bool listed(const id_list *l, const char *id)
{
    for (size_t i = 0; i < l->n && i < 16; i++)
        if (strcmp(l->ids[i], id) == 0)
            return true;
    return false;
}

/* ---- 1. codecs ---- */

/* Two lines: 2 x 1.03 and 1 x 2.50 less 0.10 plus 0.12 tax: total 4.58. */
static void base_sale(oplog_sale *s)
{
    memset(s, 0, sizeof *s);
    snprintf(s->cashier, sizeof s->cashier, "c1");
    s->n_lines = 2;
    snprintf(s->lines[0].sku, sizeof s->lines[0].sku, "tea");
    s->lines[0].qty = 2;
    s->lines[0].unit_price = 103;
    snprintf(s->lines[1].sku, sizeof s->lines[1].sku, "bread");
    s->lines[1].qty = 1;
    s->lines[1].unit_price = 250;
    s->lines[1].discount = 10;
    s->lines[1].tax = 12;
    s->tendered = 500;
}

/* The base sale in g_sale, paid partly by tender_card(id, amount, token,
 * mode). */
static oplog_sale *card_base_sale(const char *id, int64_t amount, const char *token, int mode)
{
    oplog_sale *s = g_sale;
    base_sale(s);
    s->has_card = true;
    s->card = tender_card(id, amount, token, mode);
    return s;
}

/* A void of sale T1/7 (4.58) with rounding; card_amount to the card as
 * refund T2.P4 of payment T1.P1 (no ids when 0). */
static oplog_void void_of(int64_t rounding, int64_t card_amount)
{
    oplog_void v;
    memset(&v, 0, sizeof v);
    snprintf(v.sale.origin, sizeof v.sale.origin, "T1");
    v.sale.seq = 7;
    v.refund = 458;
    v.split.rounding = rounding;
    v.split.card_amount = card_amount;
    if (card_amount) {
        snprintf(v.split.refund_id, sizeof v.split.refund_id, "T2.P4");
        snprintf(v.split.payment_id, sizeof v.split.payment_id, "T1.P1");
    }
    return v;
}

/* A return from sale T1/3 of 2 bread (5.00), after 1 tea (1.03) when tea:
 * 3.50 to the card as refund T1.P8 of payment T1.P2, rounding -0.03. */
static void split_return(oplog_return *r, bool tea)
{
    static const oplog_return_line LINES[] = {{"tea", 1, 103}, {"bread", 2, 500}};
    memset(r, 0, sizeof *r);
    snprintf(r->sale.origin, sizeof r->sale.origin, "T1");
    r->sale.seq = 3;
    for (size_t i = tea ? 0 : 1; i < KASSA_ARRAY_LEN(LINES); i++)
        r->lines[r->n_lines++] = LINES[i];
    r->split = (oplog_refund_split){-3, 350, "T1.P8", "T1.P2"};
}

static int decode_buf(int kind, const kbuf *b, void *out)
{
    kassa_err err;
    int rc = oplog_decode(kind, b->data, b->len, out, &err);
    /* The validate-only entry point must agree. */
    kassa_err verr;
    assert_int_equal(oplog_validate_payload(kind, b->data, b->len, &verr), rc);
    if (rc != KASSA_OK) {
        assert_int_equal(err.code, rc);
        assert_true(err.msg[0] != '\0');
    }
    return rc;
}

/* Encodes with the kind's encoder and decodes into out. */
static int enc_dec(int kind, const void *in, void *out, kbuf *b)
{
    kbuf_reset(b);
    assert_int_equal(oplog_encode(kind, in, b), KASSA_OK);
    assert_false(b->oom);
    return decode_buf(kind, b, out);
}

/* Encodes in (bytes in b) and decodes it into out, first filled with 0xa5;
 * what decoded re-encodes to the same bytes. */
static void round_trip(int kind, const void *in, void *out, size_t out_size, kbuf *b)
{
    memset(out, 0xa5, out_size);
    assert_int_equal(enc_dec(kind, in, out, b), KASSA_OK);
    kbuf again;
    kbuf_init(&again);
    assert_int_equal(oplog_encode(kind, out, &again), KASSA_OK);
    assert_int_equal(again.len, b->len);
    assert_memory_equal(again.data, b->data, b->len);
    kbuf_free(&again);
}

static void card_eq(const oplog_card_tender *a, const oplog_card_tender *b)
{
    assert_string_equal(a->payment_id, b->payment_id);
    assert_int_equal(a->amount, b->amount);
    assert_string_equal(a->token, b->token);
    assert_string_equal(a->brand, b->brand);
    assert_string_equal(a->last4, b->last4);
    assert_int_equal(a->exp_month, b->exp_month);
    assert_int_equal(a->exp_year, b->exp_year);
    assert_int_equal(a->mode, b->mode);
    assert_string_equal(a->auth_code, b->auth_code);
}

/* A decoded sale equals the one encoded, and re-encodes to the same bytes. */
static void sale_round_trip(const oplog_sale *s, int64_t want_cash_due)
{
    kbuf b;
    kbuf_init(&b);
    round_trip(OP_SALE, s, g_sale2, sizeof *g_sale2, &b);
    assert_string_equal(g_sale2->cashier, s->cashier);
    assert_int_equal(g_sale2->n_lines, s->n_lines);
    assert_int_equal(g_sale2->total, 458);
    assert_int_equal(g_sale2->tax, 12);
    assert_int_equal(g_sale2->tendered, s->tendered);
    assert_int_equal(g_sale2->rounding, s->rounding);
    assert_int_equal(g_sale2->has_card, s->has_card);
    if (s->has_card)
        card_eq(&g_sale2->card, &s->card);
    assert_int_equal(oplog_sale_cash_due(g_sale2), want_cash_due);
    kbuf_free(&b);
}

/* The decode result of b as kind (validate-only entry point agreeing). */
static int decode_rc(int kind, const kbuf *b)
{
    oplog_payload *u = malloc(sizeof *u);
    assert_non_null(u);
    int rc = decode_buf(kind, b, u);
    free(u);
    return rc;
}

/* The same of in, encoded as kind. */
static int encoded_rc(int kind, const void *in)
{
    kbuf b;
    kbuf_init(&b);
    assert_int_equal(oplog_encode(kind, in, &b), KASSA_OK);
    assert_false(b.oom);
    int rc = decode_rc(kind, &b);
    kbuf_free(&b);
    return rc;
}

/* A decode of what was refused as malformed. */
static void assert_corrupt(int rc, const char *what)
{
    if (rc != KASSA_ECORRUPT)
        fail_msg("%s: decode gave %d, want KASSA_ECORRUPT", what, rc);
}

/* The bytes of b with the byte at `at` set to value (appended when at is
 * b->len) do not decode as kind. */
static void altered_rejected(int kind, const kbuf *b, size_t at, uint8_t value, const char *what)
{
    kbuf c;
    kbuf_init(&c);
    kbuf_put(&c, b->data, b->len);
    if (at < c.len)
        c.data[at] = value;
    else
        kbuf_put_u8(&c, value);
    assert_false(c.oom);
    assert_corrupt(decode_rc(kind, &c), what);
    kbuf_free(&c);
}

/* Payment ids are "NODE.TAG.Pn": TAG is 8 hex digits, random per database
 * (term_pay_insert), n counts this database's payments and refunds. */
static void assert_pay_id(const char *id, const char *node, int n)
{
    char want_tail[32];
    snprintf(want_tail, sizeof want_tail, ".P%d", n);
    size_t len = strlen(id), nl = strlen(node), tl = strlen(want_tail);
    assert_true(len == nl + 1 + 8 + tl);
    assert_memory_equal(id, node, nl);
    assert_int_equal(id[nl], '.');
    assert_true(strspn(id + nl + 1, "0123456789abcdef") == 8);
    assert_string_equal(id + nl + 9, want_tail);
}

/* Cards a sale's decoder refuses, on the base sale with 4.58 tendered. */
#define ONLINE OPLOG_CARD_ONLINE
static const struct {
    const char *what;
    oplog_card_tender card;
} BAD_CARDS[] = {
    {"card amount 0", {"T1.P1", 0, "tok_1", "VISA", "4242", 12, 2030, ONLINE, "A1B2C3"}},
    {"card amount above the total",
     {"T1.P1", 459, "tok_1", "VISA", "4242", 12, 2030, ONLINE, "A1B2C3"}},
    {"last4 12a4", {"T1.P1", 300, "tok_1", "VISA", "12a4", 12, 2030, ONLINE, "A1B2C3"}},
    {"last4 of 3 digits", {"T1.P1", 300, "tok_1", "VISA", "123", 12, 2030, ONLINE, "A1B2C3"}},
    {"empty last4", {"T1.P1", 300, "tok_1", "VISA", "", 12, 2030, ONLINE, "A1B2C3"}},
    {"exp_month 0", {"T1.P1", 300, "tok_1", "VISA", "4242", 0, 2030, ONLINE, "A1B2C3"}},
    {"exp_month 13", {"T1.P1", 300, "tok_1", "VISA", "4242", 13, 2030, ONLINE, "A1B2C3"}},
    {"exp_year 1999", {"T1.P1", 300, "tok_1", "VISA", "4242", 12, 1999, ONLINE, "A1B2C3"}},
    {"exp_year 2100", {"T1.P1", 300, "tok_1", "VISA", "4242", 12, 2100, ONLINE, "A1B2C3"}},
    {"mode 3", {"T1.P1", 300, "tok_1", "VISA", "4242", 12, 2030, 3, "A1B2C3"}},
    {"mode 0", {"T1.P1", 300, "tok_1", "VISA", "4242", 12, 2030, 0, "A1B2C3"}},
    {"online without auth code", {"T1.P1", 300, "tok_1", "VISA", "4242", 12, 2030, ONLINE, ""}},
    {"offline with an auth code",
     {"T1.P1", 300, "tok_1", "VISA", "4242", 12, 2030, OPLOG_CARD_OFFLINE, "A1"}},
    {"token with a space", {"T1.P1", 300, "tok 1", "VISA", "4242", 12, 2030, ONLINE, "A1B2C3"}},
    {"empty token", {"T1.P1", 300, "", "VISA", "4242", 12, 2030, ONLINE, "A1B2C3"}},
    {"empty brand", {"T1.P1", 300, "tok_1", "", "4242", 12, 2030, ONLINE, "A1B2C3"}},
    {"empty payment id", {"", 300, "tok_1", "VISA", "4242", 12, 2030, ONLINE, "A1B2C3"}},
    {"auth code with a space", {"T1.P1", 300, "tok_1", "VISA", "4242", 12, 2030, ONLINE, "A 1"}},
};
#undef ONLINE

/* Cash parts it refuses: the base sale with rounding and tendered, and
 * card_amount on card T1.P1 online (0: no card). */
static const struct {
    const char *what;
    int64_t rounding, tendered, card_amount;
} BAD_CASH[] = {
    {"rounding 51", 51, 1000, 0},
    {"rounding -51", -51, 1000, 0},
    {"tendered below the cash due", 0, 157, 300},       /* cash due 1.58 */
    {"tendered below the rounded cash due", 2, 459, 0}, /* cash due 4.60 */
    {"negative rounding with zero cash part", -5, 0, 458},
};

static void test_codec_sale_tenders(void **state)
{
    (void)state;
    oplog_sale *s = g_sale;
    kbuf b, legacy;
    kbuf_init(&b);
    kbuf_init(&legacy);

    /* Cash, no rounding: exactly the bytes a sale had before cards, even
     * with leftovers in the card fields. */
    base_sale(s);
    kbuf_put_str(&legacy, "c1");
    kbuf_put_uvarint(&legacy, 2);
    kbuf_put_str(&legacy, "tea");
    kbuf_put_uvarint(&legacy, 2);
    kbuf_put_uvarint(&legacy, 103);
    kbuf_put_uvarint(&legacy, 0);
    kbuf_put_uvarint(&legacy, 0);
    kbuf_put_str(&legacy, "bread");
    kbuf_put_uvarint(&legacy, 1);
    kbuf_put_uvarint(&legacy, 250);
    kbuf_put_uvarint(&legacy, 10);
    kbuf_put_uvarint(&legacy, 12);
    kbuf_put_uvarint(&legacy, 500);
    s->card = tender_card("T1.P9", 100, "tok_x", OPLOG_CARD_ONLINE);
    oplog_encode_sale(&b, s);
    assert_int_equal(b.len, legacy.len);
    assert_memory_equal(b.data, legacy.data, legacy.len);
    size_t base_len = legacy.len;
    sale_round_trip(s, 458);
    assert_false(g_sale2->has_card);
    assert_int_equal(g_sale2->card.amount, 0); /* cleared on decode */

    /* Online card for part, with its auth code; cash for the rest. */
    s = card_base_sale("T1.P1", 300, "tok_9f8e7d", OPLOG_CARD_ONLINE);
    s->tendered = 200;
    sale_round_trip(s, 158);
    /* The tender section: version 1, rounding 0, has_card 1. */
    kbuf_reset(&b);
    oplog_encode_sale(&b, s);
    assert_true(b.len > base_len + 3);
    assert_int_equal(b.data[base_len], 1);
    assert_int_equal(b.data[base_len + 1], 0);
    assert_int_equal(b.data[base_len + 2], 1);

    /* Offline, no auth code; the card pays all, nothing tendered. */
    s = card_base_sale("T1.P2", 458, "tok_off", OPLOG_CARD_OFFLINE);
    s->tendered = 0;
    s->card.exp_month = 1;
    s->card.exp_year = 2099;
    sale_round_trip(s, 0);

    /* Rounding only (cash): 4.58 -> 4.60 and 4.58 -> 4.55; bounds +-50.
     * Each is paid exactly: tendered is the cash due. */
    static const int64_t ROUNDED[][2] = {{2, 460}, {-3, 455}, {50, 508}, {-50, 408}};
    base_sale(s);
    for (size_t i = 0; i < KASSA_ARRAY_LEN(ROUNDED); i++) {
        s->rounding = ROUNDED[i][0];
        s->tendered = ROUNDED[i][1];
        sale_round_trip(s, ROUNDED[i][1]);
    }

    /* Split tender with rounding: card 3.00, cash 1.58 + 0.02. */
    s = card_base_sale("T1.P3", 300, "tok_split", OPLOG_CARD_ONLINE);
    s->card.exp_year = 2000;
    s->card.exp_month = 12;
    s->rounding = 2;
    s->tendered = 160;
    sale_round_trip(s, 160);

    /* ---- rejections ---- */
    for (size_t i = 0; i < KASSA_ARRAY_LEN(BAD_CARDS); i++) {
        base_sale(s);
        s->tendered = 458;
        s->has_card = true;
        s->card = BAD_CARDS[i].card;
        assert_corrupt(encoded_rc(OP_SALE, s), BAD_CARDS[i].what);
    }
    for (size_t i = 0; i < KASSA_ARRAY_LEN(BAD_CASH); i++) {
        base_sale(s);
        if (BAD_CASH[i].card_amount) {
            s->has_card = true;
            s->card = tender_card("T1.P1", BAD_CASH[i].card_amount, "tok_1", OPLOG_CARD_ONLINE);
        }
        s->rounding = BAD_CASH[i].rounding;
        s->tendered = BAD_CASH[i].tendered;
        assert_corrupt(encoded_rc(OP_SALE, s), BAD_CASH[i].what);
    }

    /* Byte-level: the section's version, has_card, trailing bytes. */
    s = card_base_sale("T1.P1", 300, "tok_1", OPLOG_CARD_ONLINE);
    s->tendered = 458;
    kbuf_reset(&b);
    oplog_encode_sale(&b, s);
    memset(g_sale2, 0, sizeof *g_sale2);
    assert_int_equal(decode_buf(OP_SALE, &b, g_sale2), KASSA_OK);
    altered_rejected(OP_SALE, &b, base_len, 2, "tender section version 2");
    altered_rejected(OP_SALE, &b, base_len, 0, "tender section version 0");
    altered_rejected(OP_SALE, &b, base_len + 2, 2, "has_card 2");
    altered_rejected(OP_SALE, &b, b.len, 0, "a trailing byte after the card");
    b.len--;
    assert_corrupt(decode_rc(OP_SALE, &b), "a truncated card");
    /* No card, rounding: trailing bytes after has_card = 0. */
    base_sale(s);
    s->rounding = 2;
    s->tendered = 460;
    kbuf_reset(&b);
    oplog_encode_sale(&b, s);
    altered_rejected(OP_SALE, &b, b.len, 7, "trailing byte after has_card 0");
    /* A section cut after its version. */
    altered_rejected(OP_SALE, &legacy, legacy.len, 1, "a tender section of only its version");
    kbuf_free(&b);
    kbuf_free(&legacy);
}

static void test_codec_refund_split(void **state)
{
    (void)state;
    kbuf b, legacy;
    kbuf_init(&b);
    kbuf_init(&legacy);

    /* No split: the bytes of a void before cards. */
    oplog_void v = void_of(0, 0), v2;
    kbuf_put_str(&legacy, "T1");
    kbuf_put_uvarint(&legacy, 7);
    kbuf_put_uvarint(&legacy, 458);
    oplog_encode_void(&b, &v);
    assert_int_equal(b.len, legacy.len);
    assert_memory_equal(b.data, legacy.data, b.len);

    /* Round trip of a split: card 3.00, cash 1.58 + 0.02. */
    v = void_of(2, 300);
    round_trip(OP_VOID, &v, &v2, sizeof v2, &b);
    assert_string_equal(v2.sale.origin, "T1");
    assert_int_equal(v2.sale.seq, 7);
    assert_int_equal(v2.refund, 458);
    assert_int_equal(v2.split.rounding, 2);
    assert_int_equal(v2.split.card_amount, 300);
    assert_string_equal(v2.split.refund_id, "T2.P4");
    assert_string_equal(v2.split.payment_id, "T1.P1");
    assert_int_equal(oplog_refund_cash(v2.refund, &v2.split), 160);
    /* All to the card. */
    v = void_of(0, 458);
    assert_int_equal(enc_dec(OP_VOID, &v, &v2, &b), KASSA_OK);
    assert_int_equal(oplog_refund_cash(v2.refund, &v2.split), 0);
    /* Rounding only (cash). */
    v = void_of(-3, 0);
    assert_int_equal(enc_dec(OP_VOID, &v, &v2, &b), KASSA_OK);
    assert_int_equal(v2.split.card_amount, 0);
    assert_string_equal(v2.split.refund_id, "");
    assert_int_equal(oplog_refund_cash(v2.refund, &v2.split), 455);

    /* Returns: two lines, split. */
    oplog_return *r = g_ret, *r2 = g_ret2;
    split_return(r, true);
    round_trip(OP_RETURN, r, r2, sizeof *r2, &b);
    assert_int_equal(r2->refund, 603);
    assert_int_equal(r2->split.card_amount, 350);
    assert_int_equal(r2->split.rounding, -3);
    assert_string_equal(r2->split.refund_id, "T1.P8");
    assert_string_equal(r2->split.payment_id, "T1.P2");
    assert_int_equal(oplog_refund_cash(r2->refund, &r2->split), 250);

    /* ---- rejections ---- */
    /* A refund's rounding may reach a whole increment (returns are rounded
     * cumulatively), not more. */
    static const struct {
        const char *what;
        int kind;
        oplog_refund_split split;
    } BAD[] = {
        {"void: card part above the refund", OP_VOID, {0, 459, "T2.P4", "T1.P1"}},
        {"void: card part without refund id", OP_VOID, {0, 300, "", "T1.P1"}},
        {"void: card part without payment id", OP_VOID, {0, 300, "T2.P4", ""}},
        {"void: negative cash", OP_VOID, {-5, 458, "T2.P4", "T1.P1"}},
        {"void: rounding 101", OP_VOID, {OPLOG_REFUND_ROUNDING_MAX + 1, 0, "T2.P4", "T1.P1"}},
        {"void: rounding -101", OP_VOID, {-OPLOG_REFUND_ROUNDING_MAX - 1, 0, "T2.P4", "T1.P1"}},
        {"return: card part above the refund", OP_RETURN, {-3, 604, "T1.P8", "T1.P2"}},
        {"return: card part without refund id", OP_RETURN, {-3, 350, "", "T1.P2"}},
        {"return: negative cash", OP_RETURN, {-1, 603, "T1.P8", "T1.P2"}},
    };
    for (size_t i = 0; i < KASSA_ARRAY_LEN(BAD); i++) {
        v.split = r->split = BAD[i].split;
        const void *in = BAD[i].kind == OP_VOID ? (const void *)&v : r;
        assert_corrupt(encoded_rc(BAD[i].kind, in), BAD[i].what);
    }
    v.split = (oplog_refund_split){2, 0, "T2.P4", "T1.P1"};
    kbuf_reset(&b);
    oplog_encode_void(&b, &v);
    assert_int_equal(decode_buf(OP_VOID, &b, &v2), KASSA_OK);
    altered_rejected(OP_VOID, &b, legacy.len, 2, "void: split version 2");
    altered_rejected(OP_VOID, &b, b.len, 0, "void: trailing byte");
    kbuf_free(&b);
    kbuf_free(&legacy);
}

static void test_codec_payment(void **state)
{
    (void)state;
    kbuf b;
    kbuf_init(&b);
    for (int k = OPLOG_PAY_APPROVED; k <= OPLOG_PAY_OUTCOME_MAX; k++) {
        oplog_payment p, p2;
        memset(&p, 0, sizeof p);
        snprintf(p.id, sizeof p.id, "T1.P%d", k);
        p.outcome = (uint8_t)k;
        if (k == OPLOG_PAY_DECLINED || k == OPLOG_PAY_EXPIRED || k == OPLOG_PAY_REFUND_DECLINED)
            snprintf(p.reason, sizeof p.reason, "insufficient_funds");
        if (k == OPLOG_PAY_APPROVED)
            snprintf(p.auth_code, sizeof p.auth_code, "AUTH77");
        if (k == OPLOG_PAY_RESOLVED) {
            snprintf(p.cashier, sizeof p.cashier, "mgr1");
            snprintf(p.note, sizeof p.note, "customer came back and paid cash: 4.58");
        }
        round_trip(OP_PAYMENT, &p, &p2, sizeof p2, &b);
        assert_string_equal(p2.id, p.id);
        assert_int_equal(p2.outcome, k);
        assert_string_equal(p2.reason, p.reason);
        assert_string_equal(p2.auth_code, p.auth_code);
        assert_string_equal(p2.cashier, p.cashier);
        assert_string_equal(p2.note, p.note);
        assert_string_not_equal(oplog_pay_outcome_name(k), "none");
    }
    assert_string_equal(oplog_kind_name(OP_PAYMENT), "payment");
    assert_string_equal(oplog_kind_name(OP_DRAWER), "drawer");

    static const struct {
        const char *what;
        oplog_payment p;
    } BAD[] = {
        {"payment outcome 0", {.id = "T1.P1"}},
        {"payment outcome 7", {.id = "T1.P1", .outcome = 7}},
        {"a decline without a reason", {.id = "T1.P1", .outcome = OPLOG_PAY_DECLINED}},
        {"a decline without a reason", {.id = "T1.P1", .outcome = OPLOG_PAY_EXPIRED}},
        {"a decline without a reason", {.id = "T1.P1", .outcome = OPLOG_PAY_REFUND_DECLINED}},
        {"a reason with spaces",
         {.id = "T1.P1", .outcome = OPLOG_PAY_DECLINED, .reason = "do not honor"}},
        {"an empty payment id", {.outcome = OPLOG_PAY_DECLINED, .reason = "do_not_honor"}},
        {"a note with a newline",
         {.id = "T1.P1",
          .outcome = OPLOG_PAY_DECLINED,
          .reason = "do_not_honor",
          .note = "two\nlines"}},
    };
    for (size_t i = 0; i < KASSA_ARRAY_LEN(BAD); i++)
        assert_corrupt(encoded_rc(OP_PAYMENT, &BAD[i].p), BAD[i].what);
    oplog_payment p = {.id = "T1.P1", .outcome = OPLOG_PAY_DECLINED, .reason = "do_not_honor"};
    kbuf_reset(&b);
    oplog_encode_payment(&b, &p);
    oplog_payment p2;
    assert_int_equal(decode_buf(OP_PAYMENT, &b, &p2), KASSA_OK);
    altered_rejected(OP_PAYMENT, &b, b.len, 0, "payment with a trailing byte");
    kbuf_free(&b);
}

static void test_codec_drawer(void **state)
{
    (void)state;
    kbuf b;
    kbuf_init(&b);
    static const oplog_drawer OK[] = {
        {OPLOG_DRAWER_FLOAT, 10000, 0, "c1"},  {OPLOG_DRAWER_DROP, 5000, 0, ""},
        {OPLOG_DRAWER_COUNT, 5200, -50, "c1"}, {OPLOG_DRAWER_COUNT, 0, -100, ""},
        {OPLOG_DRAWER_COUNT, 300, 20, "mgr1"}, {OPLOG_DRAWER_COUNT, 300, 0, ""},
    };
    for (size_t i = 0; i < KASSA_ARRAY_LEN(OK); i++) {
        oplog_drawer d2;
        round_trip(OP_DRAWER, &OK[i], &d2, sizeof d2, &b);
        assert_int_equal(d2.action, OK[i].action);
        assert_int_equal(d2.amount, OK[i].amount);
        assert_int_equal(d2.delta, OK[i].delta);
        assert_string_equal(d2.cashier, OK[i].cashier);
    }
    static const struct {
        oplog_drawer d;
        const char *what;
    } BAD[] = {
        {{OPLOG_DRAWER_FLOAT, 0, 0, ""}, "float of 0"},
        {{OPLOG_DRAWER_DROP, 0, 0, ""}, "drop of 0"},
        {{OPLOG_DRAWER_FLOAT, 100, 5, ""}, "float with a delta"},
        {{OPLOG_DRAWER_DROP, 100, -1, ""}, "drop with a delta"},
        {{0, 100, 0, ""}, "action 0"},
        {{4, 100, 0, ""}, "action 4"},
        {{OPLOG_DRAWER_FLOAT, 100, 0, "bad id"}, "cashier with a space"},
        {{OPLOG_DRAWER_COUNT, 100, PRICING_AMOUNT_MAX + 1, ""}, "delta out of range"},
        {{OPLOG_DRAWER_FLOAT, PRICING_AMOUNT_MAX + 1, 0, ""}, "amount out of range"},
    };
    for (size_t i = 0; i < KASSA_ARRAY_LEN(BAD); i++)
        assert_corrupt(encoded_rc(OP_DRAWER, &BAD[i].d), BAD[i].what);
    kbuf_reset(&b);
    oplog_encode_drawer(&b, &OK[0]);
    altered_rejected(OP_DRAWER, &b, b.len, 0, "drawer with a trailing byte");
    kbuf_free(&b);
}

/* ---- 2. cash rounding ---- */

static void test_cash_round(void **state)
{
    (void)state;
    shop sh;
    term *t = bare_term(&sh, "T1", T0);
    kassa_err err;
    int64_t r;

    /* No setting: identity. */
    static const int64_t SOME[] = {0, 1, 2, 3, 97, 98, 102, 103, 12345};
    for (size_t i = 0; i < KASSA_ARRAY_LEN(SOME); i++)
        assert_int_equal(round_of(t, SOME[i]), SOME[i]);
    /* The currency alone changes nothing. */
    setting(t, "currency", "CHF");
    assert_int_equal(round_of(t, 103), 103);
    /* Another currency's rule does not apply. */
    setting(t, "cash_rounding.EUR", "5");
    assert_int_equal(round_of(t, 103), 103);

    setting(t, "cash_rounding.CHF", "5");
    assert_int_equal(round_of(t, 100), 100);
    assert_int_equal(round_of(t, 102), 100);
    assert_int_equal(round_of(t, 103), 105);
    assert_int_equal(round_of(t, 97), 95);
    assert_int_equal(round_of(t, 98), 100);
    assert_int_equal(round_of(t, 0), 0);
    assert_int_equal(round_of(t, 2), 0);
    assert_int_equal(round_of(t, 3), 5);
    assert_int_equal(term_cash_round(t, -1, &r, &err), KASSA_EOVERFLOW);
    assert_int_equal(term_cash_round(t, PRICING_AMOUNT_MAX + 1, &r, &err), KASSA_EOVERFLOW);

    setting(t, "cash_rounding.CHF", "10");
    assert_int_equal(round_of(t, 104), 100);
    assert_int_equal(round_of(t, 105), 110);
    assert_int_equal(round_of(t, 95), 100);
    assert_int_equal(round_of(t, 1), 0);
    setting(t, "cash_rounding.CHF", "100");
    assert_int_equal(round_of(t, 149), 100);
    assert_int_equal(round_of(t, 150), 200);
    assert_int_equal(round_of(t, 1049), 1000);
    setting(t, "cash_rounding.CHF", "25");
    assert_int_equal(round_of(t, 112), 100);
    assert_int_equal(round_of(t, 113), 125);
    setting(t, "cash_rounding.CHF", "1");
    assert_int_equal(round_of(t, 103), 103);

    /* Values that are not one of the increments. */
    static const char *const BAD[] = {"3", "abc", "", "5x", "0", "-5", "1000"};
    for (size_t i = 0; i < KASSA_ARRAY_LEN(BAD); i++) {
        setting(t, "cash_rounding.CHF", BAD[i]);
        r = -7;
        if (term_cash_round(t, 103, &r, &err) != KASSA_ECORRUPT)
            fail_msg("cash_rounding.CHF=\"%s\" was not refused", BAD[i]);
        assert_true(tu_contains(err.msg, "cash_rounding.CHF"));
    }
    /* ... and a sale cannot be rung up under it, writing nothing. */
    catalog(t);
    setting(t, "cash_rounding.CHF", "abc");
    snap before;
    snap_take(t, &before);
    term_cart cart;
    cart_of(&cart, "tea", 1);
    assert_int_equal(term_sale(t, &cart, 1000, g_res, &err), KASSA_ECORRUPT);
    snap_assert_same(t, &before, "a sale under a bad rounding setting");
    snap_free(&before);

    /* Default currency is EUR. */
    char dir2[600];
    term *u = new_term(dir2, sizeof dir2, STORE, "T2", &sh.clk);
    setting(u, "cash_rounding.EUR", "10");
    assert_int_equal(round_of(u, 104), 100);
}

static void test_cash_sale_rounding(void **state)
{
    (void)state;
    shop sh;
    term *t = shop_term(&sh, "T1", true);
    kassa_err err;

    /* 1.03 in cash: 1.05 due, 2.00 given, 0.95 back; the drawer takes 1.05. */
    oplog_sale_ref ref = cash_sale(t, "tea", 1, 200);
    assert_int_equal(g_res->totals.total, 103);
    assert_int_equal(g_res->sale.rounding, 2);
    assert_int_equal(g_res->cash_due, 105);
    assert_int_equal(g_res->change, 95);
    assert_false(g_res->sale.has_card);
    assert_int_equal(drawer_of(t, "T1"), 105);
    term_sale_info info;
    assert_int_equal(term_sale_get(t, &ref, &info, g_sale, &err), KASSA_OK);
    assert_int_equal(info.total, 103);
    assert_int_equal(g_sale->rounding, 2);
    assert_int_equal(g_sale->tendered, 200);
    assert_int_equal(oplog_sale_cash_due(g_sale), 105);

    /* 3 x 1.03 = 3.09 -> 3.10; 4 x 1.03 = 4.12 -> 4.10. Exact change. */
    cash_sale(t, "tea", 3, 310);
    assert_int_equal(g_res->sale.rounding, 1);
    assert_int_equal(g_res->change, 0);
    cash_sale(t, "tea", 4, 410);
    assert_int_equal(g_res->sale.rounding, -2);
    assert_int_equal(g_res->cash_due, 410);
    assert_int_equal(drawer_of(t, "T1"), 105 + 310 + 410);

    /* Less than the rounded due (but not less than the total) is refused. */
    term_cart cart;
    cart_of(&cart, "tea", 1);
    snap before;
    snap_take(t, &before);
    assert_int_equal(term_sale(t, &cart, 104, g_res, &err), KASSA_ECONFLICT);
    snap_assert_same(t, &before, "a sale paid below the rounded due");
    snap_free(&before);
    /* 4.12 due 4.10: 4.10 is enough though below the total. */
    cart_of(&cart, "tea", 4);
    assert_int_equal(term_sale(t, &cart, 410, g_res, &err), KASSA_OK);

    /* Fully by card: no rounding. */
    char id[OPLOG_PAY_ID_MAX + 1];
    card_sale(t, "tea", 1, NULL, 0, 0, OPLOG_CARD_ONLINE, 103, "tok_c", id);
    assert_int_equal(g_res->sale.rounding, 0);
    assert_int_equal(g_res->cash_due, 0);
    assert_int_equal(g_res->change, 0);
    /* Split: 11.03, card 5.00, cash part 6.03 -> 6.05. */
    int64_t d0 = drawer_of(t, "T1");
    card_sale(t, "wine", 1, "tea", 1, 1000, OPLOG_CARD_ONLINE, 500, "tok_c", id);
    assert_int_equal(g_res->totals.total, 1103);
    assert_int_equal(g_res->sale.rounding, 2);
    assert_int_equal(g_res->cash_due, 605);
    assert_int_equal(g_res->change, 395);
    assert_int_equal(drawer_of(t, "T1"), d0 + 605);
}

/* ---- 3. card sales through the state machine ---- */

typedef struct audit_find {
    const char *action;
    size_t n;
    term_audit_entry e; /* the last one found */
} audit_find;

static int find_audit(const term_audit_entry *e, void *ctx)
{
    audit_find *f = ctx;
    if (strcmp(e->action, f->action) == 0) {
        f->n++;
        f->e = *e;
    }
    return KASSA_OK;
}

static void test_card_sale_state_machine(void **state)
{
    (void)state;
    shop sh;
    term *t = shop_term(&sh, "NODE", false);
    kassa_err err;

    char id1[OPLOG_PAY_ID_MAX + 1], id2[OPLOG_PAY_ID_MAX + 1], id[OPLOG_PAY_ID_MAX + 1];
    assert_int_equal(term_pay_reserve(t, 1000, id1, &err), KASSA_OK);
    assert_pay_id(id1, "NODE", 1);
    assert_int_equal(term_pay_reserve(t, 250, id2, &err), KASSA_OK);
    assert_pay_id(id2, "NODE", 2);
    assert_int_equal(term_pay_reserve(t, 0, id, &err), KASSA_EINVAL);
    assert_int_equal(term_pay_reserve(t, -5, id, &err), KASSA_EINVAL);
    assert_int_equal(term_pay_reserve(t, PRICING_AMOUNT_MAX + 1, id, &err), KASSA_EINVAL);
    term_pay p = pay_of(t, id1);
    assert_int_equal(p.kind, TERM_PAY_KIND_PAYMENT);
    assert_int_equal(p.state, TERM_PAY_READING);
    assert_int_equal(p.amount, 1000);
    assert_int_equal(p.created_ms, (int64_t)T0);
    assert_int_equal(p.blob_len, 0);
    assert_string_equal(term_pay_state_name(p.state), "reading");
    assert_int_equal(term_pay_get(t, "NODE.P99", &p, &err), KASSA_ENOTFOUND);

    /* The card is read: AUTHORIZING with its token and sealed data. */
    uint8_t blob[200];
    blob_fill(blob, sizeof blob, 1);
    assert_int_equal(term_pay_card_read(t, id1, "tok_A", blob, 0, &err), KASSA_EINVAL);
    assert_int_equal(term_pay_card_read(t, id1, "tok_A", blob, TERM_PAY_BLOB_MAX + 1, &err),
                     KASSA_EINVAL);
    assert_int_equal(term_pay_card_read(t, id1, "tok_A", blob, sizeof blob, &err), KASSA_OK);
    p = pay_of(t, id1);
    assert_int_equal(p.state, TERM_PAY_AUTHORIZING);
    assert_string_equal(p.token, "tok_A");
    assert_int_equal(p.blob_len, sizeof blob);
    assert_memory_equal(p.blob, blob, sizeof blob);
    /* Read twice: the second is refused. */
    assert_int_equal(term_pay_card_read(t, id1, "tok_B", blob, 10, &err), KASSA_ECONFLICT);
    assert_string_equal(pay_of(t, id1).token, "tok_A");
    assert_int_equal(term_pay_card_read(t, "NODE.P99", "tok_B", blob, 10, &err), KASSA_ECONFLICT);

    /* Online: the sale moves it to CAPTURE_DUE and drops the sealed data. */
    term_cart cart;
    cart2(&cart, "wine", 1, NULL, 0);
    term_tender tender = card_tender(0, id1, 1000, "tok_A", OPLOG_CARD_ONLINE);
    sh.clk.ms += 5000;
    assert_int_equal(term_sale_tender(t, &cart, &tender, g_res, &err), KASSA_OK);
    oplog_sale_ref online_ref = g_res->ref;
    assert_true(g_res->sale.has_card);
    assert_int_equal(g_res->cash_due, 0);
    p = pay_of(t, id1);
    assert_int_equal(p.state, TERM_PAY_CAPTURE_DUE);
    assert_int_equal(p.blob_len, 0);
    assert_int_equal(p.stored_ms, 0);
    term_card_payment cp = cardp_of(t, id1);
    assert_int_equal(cp.kind, TERM_PAY_KIND_PAYMENT);
    assert_int_equal(cp.amount, 1000);
    assert_int_equal(cp.mode, OPLOG_CARD_ONLINE);
    assert_string_equal(cp.auth_code, "A1B2C3");
    assert_string_equal(cp.brand, "VISA");
    assert_string_equal(cp.last4, "4242");
    assert_string_equal(cp.token, "tok_A");
    assert_string_equal(cp.sale.origin, "NODE");
    assert_int_equal(cp.sale.seq, online_ref.seq);
    assert_int_equal(cp.outcome, 0);
    assert_int_equal(cp.refunded, 0);
    assert_int_equal(drawer_of(t, "NODE"), 0);

    /* Offline: STORED, the sealed data kept for forwarding, stored_ms set. */
    uint8_t blob2[64];
    blob_fill(blob2, sizeof blob2, 2);
    assert_int_equal(term_pay_card_read(t, id2, "tok_B", blob2, sizeof blob2, &err), KASSA_OK);
    sh.clk.ms += 7000;
    uint64_t sold_at = sh.clk.ms;
    cart2(&cart, "bread", 1, NULL, 0);
    tender.card = tender_card(id2, 250, "tok_B", OPLOG_CARD_OFFLINE);
    assert_int_equal(term_sale_tender(t, &cart, &tender, g_res, &err), KASSA_OK);
    p = pay_of(t, id2);
    assert_int_equal(p.state, TERM_PAY_STORED);
    assert_int_equal(p.blob_len, sizeof blob2);
    assert_memory_equal(p.blob, blob2, sizeof blob2);
    assert_int_equal(p.stored_ms, (int64_t)sold_at);
    assert_int_equal(p.created_ms, (int64_t)T0);
    cp = cardp_of(t, id2);
    assert_int_equal(cp.mode, OPLOG_CARD_OFFLINE);
    assert_string_equal(cp.auth_code, "");

    /* Refusals: nothing written, the payment row as it was. */
    char id3[OPLOG_PAY_ID_MAX + 1], id4[OPLOG_PAY_ID_MAX + 1];
    card_ready(t, 250, "tok_C", id3);
    assert_int_equal(term_pay_reserve(t, 250, id4, &err), KASSA_OK); /* stays READING */
    cart2(&cart, "bread", 1, NULL, 0);
    snap before;
    snap_take(t, &before);
    size_t ops_before = all_ops(t);
    struct {
        const char *what;
        const char *id;
        int64_t amount;
        const char *token;
        int want;
    } BAD[] = {
        {"an unknown payment id", "NODE.P77", 250, "tok_C", 0},
        {"a payment still READING", id4, 250, "tok_C", KASSA_ECONFLICT},
        {"a payment already used (CAPTURE_DUE)", id1, 250, "tok_A", KASSA_ECONFLICT},
        {"a payment already used (STORED)", id2, 250, "tok_B", KASSA_ECONFLICT},
        {"another amount", id3, 240, "tok_C", KASSA_ECONFLICT},
        {"another token", id3, 250, "tok_D", KASSA_ECONFLICT},
    };
    for (size_t i = 0; i < KASSA_ARRAY_LEN(BAD); i++) {
        tender.cash = 10;
        tender.card = tender_card(BAD[i].id, BAD[i].amount, BAD[i].token, OPLOG_CARD_ONLINE);
        int rc = term_sale_tender(t, &cart, &tender, g_res, &err);
        if (rc == KASSA_OK)
            fail_msg("a sale with %s was accepted", BAD[i].what);
        /* An unknown id: the header promises only a refusal. */
        if (BAD[i].want && rc != BAD[i].want)
            fail_msg("a sale with %s: %d, want %d", BAD[i].what, rc, BAD[i].want);
        if (!BAD[i].want && rc != KASSA_ECONFLICT && rc != KASSA_ENOTFOUND)
            fail_msg("a sale with %s: %d", BAD[i].what, rc);
        snap_assert_same(t, &before, BAD[i].what);
        assert_int_equal(all_ops(t), ops_before);
    }
    /* The card pays more than the total. */
    card_ready(t, 300, "tok_E", id);
    tender.card = tender_card(id, 300, "tok_E", OPLOG_CARD_ONLINE);
    assert_int_equal(term_sale_tender(t, &cart, &tender, g_res, &err), KASSA_ECONFLICT);
    snap_assert_same(t, &before, "a card amount above the total");
    assert_int_equal(pay_of(t, id).state, TERM_PAY_AUTHORIZING);
    /* Card and cash below the total. */
    tender.cash = 0;
    tender.card = tender_card(id3, 200, "tok_C", OPLOG_CARD_ONLINE);
    assert_int_equal(term_sale_tender(t, &cart, &tender, g_res, &err), KASSA_ECONFLICT);
    snap_assert_same(t, &before, "card + cash below the total");
    snap_free(&before);
    p = pay_of(t, id3);
    assert_int_equal(p.state, TERM_PAY_AUTHORIZING);
    assert_int_equal(p.blob_len, 96);
    assert_int_equal(pay_of(t, id4).state, TERM_PAY_READING);

    /* Split tender: cash 2.50 + card 10.00 of 12.50; the drawer gets 2.50. */
    char id5[OPLOG_PAY_ID_MAX + 1];
    int64_t d0 = drawer_of(t, "NODE");
    card_sale(t, "wine", 1, "bread", 1, 300, OPLOG_CARD_ONLINE, 1000, "tok_F", id5);
    assert_int_equal(g_res->totals.total, 1250);
    assert_int_equal(g_res->cash_due, 250);
    assert_int_equal(g_res->change, 50);
    assert_int_equal(g_res->sale.tendered, 300);
    assert_int_equal(g_res->sale.card.amount, 1000);
    assert_int_equal(drawer_of(t, "NODE"), d0 + 250);
    assert_int_equal(pay_of(t, id5).state, TERM_PAY_CAPTURE_DUE);

    /* An offline payment above the limits, allowed by a manager: audited
     * with the sale, naming the manager. A bad manager id: refused. */
    char id6[OPLOG_PAY_ID_MAX + 1];
    card_ready(t, 250, "tok_G", id6);
    cart2(&cart, "bread", 1, NULL, 0);
    tender = card_tender(0, id6, 250, "tok_G", OPLOG_CARD_OFFLINE);
    snprintf(tender.override_by, sizeof tender.override_by, "bad id");
    assert_int_equal(term_sale_tender(t, &cart, &tender, g_res, &err), KASSA_EINVAL);
    size_t audits = op_count(t, OP_AUDIT);
    snprintf(tender.override_by, sizeof tender.override_by, "mgr1");
    snprintf(tender.override_detail, sizeof tender.override_detail, "limit 100.00 exceeded");
    snprintf(t->actor.cashier, sizeof t->actor.cashier, "c7");
    assert_int_equal(term_sale_tender(t, &cart, &tender, g_res, &err), KASSA_OK);
    memset(&t->actor, 0, sizeof t->actor);
    assert_int_equal(op_count(t, OP_AUDIT), audits + 1);
    assert_string_equal(g_res->sale.cashier, "c7");
    audit_find f = {.action = "saf_override"};
    assert_int_equal(term_audit_each(t, find_audit, &f, &err), KASSA_OK);
    assert_int_equal(f.n, 1);
    assert_string_equal(f.e.subject, id6);
    assert_string_equal(f.e.supervisor, "mgr1");
    assert_string_equal(f.e.cashier, "c7");
    assert_string_equal(f.e.detail, "limit 100.00 exceeded");
    assert_int_equal(pay_of(t, id6).state, TERM_PAY_STORED);
}

/* ---- 4. abandon, finish, attempts, due list, recovery, SAF totals ---- */

static void test_pay_lifecycle(void **state)
{
    (void)state;
    shop sh;
    term *t = shop_term(&sh, "T1", false);
    kassa_err err;
    char a[OPLOG_PAY_ID_MAX + 1], b[OPLOG_PAY_ID_MAX + 1], on[OPLOG_PAY_ID_MAX + 1],
        off1[OPLOG_PAY_ID_MAX + 1], off2[OPLOG_PAY_ID_MAX + 1], off3[OPLOG_PAY_ID_MAX + 1];

    /* Abandon: READING -> DONE, AUTHORIZING -> REVERSE_DUE, DONE: too late. */
    assert_int_equal(term_pay_reserve(t, 100, a, &err), KASSA_OK); /* n1 */
    assert_int_equal(term_pay_abandon(t, a, "reader:timeout", &err), KASSA_OK);
    term_pay p = pay_of(t, a);
    assert_int_equal(p.state, TERM_PAY_DONE);
    assert_string_equal(p.result, "reader:timeout");
    assert_int_equal(term_pay_abandon(t, a, "again", &err), KASSA_ECONFLICT);
    assert_int_equal(term_pay_abandon(t, "T1.P99", "x", &err), KASSA_ENOTFOUND);
    card_ready(t, 200, "tok_b", b); /* n2 */
    assert_int_equal(term_pay_abandon(t, b, "declined:insufficient_funds", &err), KASSA_OK);
    p = pay_of(t, b);
    assert_int_equal(p.state, TERM_PAY_REVERSE_DUE);
    assert_int_equal(p.blob_len, 0);
    assert_string_equal(p.result, "declined:insufficient_funds");
    assert_int_equal(term_pay_abandon(t, b, "again", &err), KASSA_ECONFLICT);

    /* An online sale (n3) and three offline ones (n4..n6). */
    size_t ops0 = all_ops(t);
    card_sale(t, "wine", 1, NULL, 0, 0, OPLOG_CARD_ONLINE, 1000, "tok_on", on);
    sh.clk.ms += 1000;
    uint64_t first_stored = sh.clk.ms;
    card_sale(t, "bread", 1, NULL, 0, 0, OPLOG_CARD_OFFLINE, 250, "tok_x", off1);
    sh.clk.ms += 1000;
    card_sale(t, "bread", 2, NULL, 0, 0, OPLOG_CARD_OFFLINE, 500, "tok_x", off2);
    sh.clk.ms += 1000;
    card_sale(t, "tea", 1, NULL, 0, 0, OPLOG_CARD_OFFLINE, 103, "tok_y", off3);
    assert_int_equal(all_ops(t), ops0 + 4);

    /* Store-and-forward totals. */
    term_saf_totals saf = saf_of(t, "tok_x");
    assert_int_equal(saf.count, 3);
    assert_int_equal(saf.amount, 250 + 500 + 103);
    assert_int_equal(saf.oldest_ms, (int64_t)first_stored);
    assert_int_equal(saf.token_count, 2);
    assert_int_equal(saf_of(t, "tok_y").token_count, 1);
    saf = saf_of(t, NULL);
    assert_int_equal(saf.count, 3);
    assert_int_equal(saf.token_count, 0);
    assert_int_equal(saf_of(t, "tok_on").token_count, 0);

    /* The due list: n2 (reverse), n3 (capture), n4..n6 (stored). */
    term_pay due[8];
    size_t n = due_of(t, 0, 8, due);
    assert_ids(due, n, (const char *[]){b, on, off1, off2, off3, NULL});
    for (size_t i = 1; i < n; i++)
        assert_true(due[i].n > due[i - 1].n);
    assert_int_equal(due[2].blob_len, 96); /* forwarded with its sealed data */
    assert_int_equal(due_of(t, 0, 2, due), 2);
    assert_string_equal(due[1].id, on);
    n = due_of(t, due[1].n, 2, due);
    assert_ids(due, n, (const char *[]){off1, off2, NULL});
    n = due_of(t, due[1].n, 8, due);
    assert_ids(due, n, (const char *[]){off3, NULL});
    assert_int_equal(due_of(t, due[0].n, 8, due), 0);

    /* Failed sends are counted; the row stays due. */
    assert_int_equal(term_pay_attempt_failed(t, off1, "timeout", &err), KASSA_OK);
    assert_int_equal(term_pay_attempt_failed(t, off1, "http 503", &err), KASSA_OK);
    p = pay_of(t, off1);
    assert_int_equal(p.attempts, 2);
    assert_string_equal(p.last_error, "http 503");
    assert_int_equal(p.state, TERM_PAY_STORED);
    assert_int_equal(p.blob_len, 96);
    assert_int_equal(due_of(t, 0, 8, due), 5);

    /* Wrong outcomes for the state: refused, nothing written. */
    size_t ops1 = all_ops(t);
    assert_int_equal(term_pay_finish(t, on, OPLOG_PAY_APPROVED, "", "X", &err), KASSA_ECONFLICT);
    assert_int_equal(term_pay_finish(t, off1, 0, NULL, NULL, &err), KASSA_ECONFLICT);
    assert_int_equal(term_pay_finish(t, off1, OPLOG_PAY_REFUNDED, NULL, NULL, &err),
                     KASSA_ECONFLICT);
    assert_int_equal(term_pay_finish(t, off1, OPLOG_PAY_RESOLVED, NULL, NULL, &err),
                     KASSA_ECONFLICT);
    assert_int_equal(term_pay_finish(t, b, OPLOG_PAY_APPROVED, NULL, NULL, &err), KASSA_ECONFLICT);
    assert_int_equal(term_pay_finish(t, a, 0, NULL, NULL, &err), KASSA_ECONFLICT);
    assert_int_equal(term_pay_finish(t, "T1.P99", 0, NULL, NULL, &err), KASSA_ENOTFOUND);
    /* A decline must say why (the outcome operation would not decode). */
    assert_int_not_equal(term_pay_finish(t, off2, OPLOG_PAY_DECLINED, "", NULL, &err), KASSA_OK);
    assert_int_equal(pay_of(t, off2).state, TERM_PAY_STORED);
    assert_int_equal(all_ops(t), ops1);
    assert_int_equal(pay_of(t, on).state, TERM_PAY_CAPTURE_DUE);

    /* Capture: DONE "captured", no operation. */
    finish_ok(t, on, 0, NULL, NULL);
    p = pay_of(t, on);
    assert_int_equal(p.state, TERM_PAY_DONE);
    assert_string_equal(p.result, "captured");
    assert_int_equal(all_ops(t), ops1);
    assert_int_equal(term_pay_finish(t, on, 0, NULL, NULL, &err), KASSA_ECONFLICT);
    /* Reversal: DONE "reversed". */
    finish_ok(t, b, 0, NULL, NULL);
    p = pay_of(t, b);
    assert_int_equal(p.state, TERM_PAY_DONE);
    assert_string_equal(p.result, "reversed");
    assert_int_equal(all_ops(t), ops1);

    /* Stored, approved: DONE, one OP_PAYMENT, the card payment approved. */
    assert_int_equal(op_count(t, OP_PAYMENT), 0);
    finish_ok(t, off1, OPLOG_PAY_APPROVED, NULL, "AUTH42");
    p = pay_of(t, off1);
    assert_int_equal(p.state, TERM_PAY_DONE);
    assert_int_equal(p.blob_len, 0);
    assert_string_equal(p.result, "approved");
    assert_int_equal(all_ops(t), ops1 + 1);
    assert_int_equal(op_count(t, OP_PAYMENT), 1);
    term_card_payment cp = cardp_of(t, off1);
    assert_int_equal(cp.outcome, OPLOG_PAY_APPROVED);
    assert_string_equal(cp.auth_code, "AUTH42");
    assert_true(cp.outcome_hlc > cp.hlc);
    assert_int_equal(term_pay_finish(t, off1, OPLOG_PAY_APPROVED, NULL, "X", &err),
                     KASSA_ECONFLICT);

    /* Stored, declined and expired: in the review list. */
    finish_ok(t, off2, OPLOG_PAY_DECLINED, "insufficient_funds", NULL);
    p = pay_of(t, off2);
    assert_int_equal(p.state, TERM_PAY_DONE);
    assert_string_equal(p.result, "declined:insufficient_funds");
    finish_ok(t, off3, OPLOG_PAY_EXPIRED, "too_old", NULL);
    assert_int_equal(op_count(t, OP_PAYMENT), 3);
    cp = cardp_of(t, off2);
    assert_int_equal(cp.outcome, OPLOG_PAY_DECLINED);
    assert_string_equal(cp.reason, "insufficient_funds");
    id_list l = review(t, false);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.ids[0], off2);
    assert_string_equal(l.ids[1], off3);

    /* Nothing stored any more, nothing due. */
    saf = saf_of(t, "tok_x");
    assert_int_equal(saf.count, 0);
    assert_int_equal(saf.amount, 0);
    assert_int_equal(saf.oldest_ms, 0);
    assert_int_equal(saf.token_count, 0);
    assert_int_equal(due_of(t, 0, 8, due), 0);
}

/* An online authorisation declined: AUTHORIZING -> DONE, nothing owed. */
static void test_pay_declined_online(void **state)
{
    (void)state;
    shop sh;
    term *t = shop_term(&sh, "T1", false);
    kassa_err err;
    char r[OPLOG_PAY_ID_MAX + 1], d[OPLOG_PAY_ID_MAX + 1], s[OPLOG_PAY_ID_MAX + 1],
        c[OPLOG_PAY_ID_MAX + 1];
    assert_int_equal(term_pay_reserve(t, 100, r, &err), KASSA_OK);
    card_ready(t, 200, "tok_d", d);
    size_t ops0 = all_ops(t);
    assert_int_equal(term_pay_declined(t, r, "stolen_card", &err), KASSA_ECONFLICT);
    assert_int_equal(term_pay_declined(t, d, "insufficient_funds", &err), KASSA_OK);
    term_pay p = pay_of(t, d);
    assert_int_equal(p.state, TERM_PAY_DONE);
    assert_int_equal(p.blob_len, 0);
    assert_string_equal(p.result, "declined:insufficient_funds");
    assert_int_equal(all_ops(t), ops0);
    assert_int_equal(term_pay_declined(t, d, "again", &err), KASSA_ECONFLICT);
    assert_int_equal(pay_of(t, r).state, TERM_PAY_READING);

    /* Everything due, beside the stored payments. */
    card_sale(t, "bread", 1, NULL, 0, 0, OPLOG_CARD_OFFLINE, 250, "tok_s", s);
    card_sale(t, "wine", 1, NULL, 0, 0, OPLOG_CARD_ONLINE, 1000, "tok_c", c);
    term_saf_totals saf = saf_of(t, NULL);
    assert_int_equal(saf.count, 1);
    assert_int_equal(saf.amount, 250);
    assert_int_equal(saf.due, 2);
    finish_ok(t, c, 0, NULL, NULL);
    saf = saf_of(t, NULL);
    assert_int_equal(saf.due, 1);
    assert_int_equal(saf.count, 1);
}

static void test_pay_recover(void **state)
{
    (void)state;
    shop sh;
    term *t = shop_term(&sh, "T1", false);
    kassa_err err;
    char r1[OPLOG_PAY_ID_MAX + 1], a1[OPLOG_PAY_ID_MAX + 1], a2[OPLOG_PAY_ID_MAX + 1],
        s1[OPLOG_PAY_ID_MAX + 1], c1[OPLOG_PAY_ID_MAX + 1];
    card_sale(t, "bread", 1, NULL, 0, 0, OPLOG_CARD_OFFLINE, 250, "tok_s", s1);
    card_sale(t, "wine", 1, NULL, 0, 0, OPLOG_CARD_ONLINE, 1000, "tok_c", c1);
    assert_int_equal(term_pay_reserve(t, 100, r1, &err), KASSA_OK);
    card_ready(t, 200, "tok_a", a1);
    card_ready(t, 300, "tok_b", a2);

    /* The process dies here: reopen. */
    untrack_close(t);
    t = open_term(sh.dir, &sh.clk);
    size_t abandoned = 99, to_reverse = 99;
    assert_int_equal(term_pay_recover(t, &abandoned, &to_reverse, &err), KASSA_OK);
    assert_int_equal(abandoned, 1);
    assert_int_equal(to_reverse, 2);
    term_pay p = pay_of(t, r1);
    assert_int_equal(p.state, TERM_PAY_DONE);
    assert_string_equal(p.result, "abandoned:restart");
    p = pay_of(t, a1);
    assert_int_equal(p.state, TERM_PAY_REVERSE_DUE);
    assert_int_equal(p.blob_len, 0);
    assert_int_equal(pay_of(t, a2).state, TERM_PAY_REVERSE_DUE);
    /* What had a sale is untouched. */
    p = pay_of(t, s1);
    assert_int_equal(p.state, TERM_PAY_STORED);
    assert_int_equal(p.blob_len, 96);
    assert_int_equal(pay_of(t, c1).state, TERM_PAY_CAPTURE_DUE);
    /* Again: nothing left to settle. */
    assert_int_equal(term_pay_recover(t, &abandoned, &to_reverse, &err), KASSA_OK);
    assert_int_equal(abandoned, 0);
    assert_int_equal(to_reverse, 0);
    /* The reversal is due, in order. */
    term_pay due[8];
    assert_ids(due, due_of(t, 0, 8, due), (const char *[]){s1, c1, a1, a2, NULL});
    /* A recovered id cannot be used for a sale. */
    term_cart cart;
    cart_of(&cart, "tea", 1);
    term_tender tender = card_tender(200, a1, 200, "tok_a", OPLOG_CARD_ONLINE);
    assert_int_equal(term_sale_tender(t, &cart, &tender, g_res, &err), KASSA_ECONFLICT);
    /* New ids continue after the old ones. */
    char id[OPLOG_PAY_ID_MAX + 1];
    assert_int_equal(term_pay_reserve(t, 100, id, &err), KASSA_OK);
    assert_pay_id(id, "T1", 6);
}

/* ---- 5. refunds to the original tender ---- */

static void test_refunds_to_tender(void **state)
{
    (void)state;
    shop sh;
    term *t = shop_term(&sh, "T1", false);
    kassa_err err;

    /* Void of a split sale: 12.50 = card 10.00 + cash 2.50. */
    char pay[OPLOG_PAY_ID_MAX + 1];
    oplog_sale_ref s1 =
        card_sale(t, "wine", 1, "bread", 1, 300, OPLOG_CARD_ONLINE, 1000, "tok_v", pay);
    assert_int_equal(drawer_of(t, "T1"), 250);
    term_refund r;
    memset(&r, 0xa5, sizeof r);
    assert_int_equal(term_void_ex(t, &s1, &r, &err), KASSA_OK);
    assert_int_equal(r.total, 1250);
    assert_int_equal(r.card, 1000);
    assert_int_equal(r.cash, 250);
    assert_pay_id(r.refund_id, "T1", 2);
    assert_string_equal(r.last4, "4242");
    assert_int_equal(drawer_of(t, "T1"), 0);
    term_pay p = pay_of(t, r.refund_id);
    assert_int_equal(p.kind, TERM_PAY_KIND_REFUND);
    assert_int_equal(p.state, TERM_PAY_REFUND_DUE);
    assert_int_equal(p.amount, 1000);
    assert_string_equal(p.token, "tok_v");
    assert_string_equal(p.payment_id, pay);
    term_card_payment cp = cardp_of(t, pay);
    assert_int_equal(cp.refunded, 1000);
    cp = cardp_of(t, r.refund_id);
    assert_int_equal(cp.kind, TERM_PAY_KIND_REFUND);
    assert_string_equal(cp.payment_id, pay);
    assert_int_equal(cp.amount, 1000);
    assert_int_equal(cp.mode, 0);
    assert_string_equal(cp.sale.origin, "T1");
    assert_int_equal(cp.sale.seq, s1.seq);
    /* The refund is due; its outcome is an operation. */
    size_t ops0 = all_ops(t);
    finish_ok(t, r.refund_id, OPLOG_PAY_REFUNDED, NULL, NULL);
    assert_int_equal(all_ops(t), ops0 + 1);
    assert_int_equal(pay_of(t, r.refund_id).state, TERM_PAY_DONE);
    assert_int_equal(cardp_of(t, r.refund_id).outcome, OPLOG_PAY_REFUNDED);
    /* Not twice. */
    assert_int_equal(term_void_ex(t, &s1, &r, &err), KASSA_ECONFLICT);
    finish_ok(t, pay, 0, NULL, NULL); /* the payment itself was captured */

    /* Returns of a split sale (4 x 2.50 = 10.00; card 6.00, cash 4.00):
     * the card gets its money back first. */
    oplog_sale_ref s2 =
        card_sale(t, "bread", 4, NULL, 0, 400, OPLOG_CARD_OFFLINE, 600, "tok_r", pay);
    int64_t d0 = drawer_of(t, "T1");
    r = return_ok(t, &s2, "bread", 1);
    assert_int_equal(r.total, 250);
    assert_int_equal(r.card, 250);
    assert_int_equal(r.cash, 0);
    assert_string_not_equal(r.refund_id, "");
    assert_int_equal(pay_of(t, r.refund_id).amount, 250);
    assert_int_equal(drawer_of(t, "T1"), d0);
    r = return_ok(t, &s2, "bread", 2);
    assert_int_equal(r.total, 500);
    assert_int_equal(r.card, 350);
    assert_int_equal(r.cash, 150);
    assert_int_equal(pay_of(t, r.refund_id).state, TERM_PAY_REFUND_DUE);
    assert_int_equal(pay_of(t, r.refund_id).amount, 350);
    assert_int_equal(drawer_of(t, "T1"), d0 - 150);
    assert_int_equal(cardp_of(t, pay).refunded, 600);
    size_t refunds_due = 0;
    term_pay due[8];
    size_t n = due_of(t, 0, 8, due);
    for (size_t i = 0; i < n; i++)
        refunds_due += due[i].kind == TERM_PAY_KIND_REFUND;
    assert_int_equal(refunds_due, 2);
    /* The card has had all back: the last one is all cash, no refund id. */
    r = return_ok(t, &s2, "bread", 1);
    assert_int_equal(r.card, 0);
    assert_int_equal(r.cash, 250);
    assert_string_equal(r.refund_id, "");
    assert_int_equal(drawer_of(t, "T1"), d0 - 400);
    assert_int_equal(cardp_of(t, pay).refunded, 600);
    assert_int_equal(due_of(t, 0, 8, due), 3); /* the stored payment and two refunds */

    /* A refund the processor refuses goes to review. */
    n = due_of(t, 0, 8, due);
    for (size_t i = 0; i < n; i++)
        if (due[i].kind == TERM_PAY_KIND_REFUND)
            finish_ok(t, due[i].id, OPLOG_PAY_REFUND_DECLINED, "card_closed", NULL);
    id_list l = review(t, false);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.outcome[0], OPLOG_PAY_REFUND_DECLINED);

    /* The offline payment of a sale declined when forwarded: no void, no
     * return, nothing written. */
    char dp[OPLOG_PAY_ID_MAX + 1];
    oplog_sale_ref s3 = card_sale(t, "wine", 2, NULL, 0, 0, OPLOG_CARD_OFFLINE, 2000, "tok_d", dp);
    finish_ok(t, dp, OPLOG_PAY_DECLINED, "do_not_honor", NULL);
    snap before;
    snap_take(t, &before);
    assert_int_equal(term_void_ex(t, &s3, &r, &err), KASSA_ECONFLICT);
    snap_assert_same(t, &before, "a void of a declined offline payment");
    term_return_req req;
    return_req(&req, "wine", 1);
    assert_int_equal(term_return_ex(t, &s3, &req, NULL, &r, &err), KASSA_ECONFLICT);
    snap_assert_same(t, &before, "a return of a declined offline payment");
    /* Expired too. */
    char ep[OPLOG_PAY_ID_MAX + 1];
    snap_free(&before);
    oplog_sale_ref s4 = card_sale(t, "tea", 1, NULL, 0, 0, OPLOG_CARD_OFFLINE, 103, "tok_e", ep);
    finish_ok(t, ep, OPLOG_PAY_EXPIRED, "too_old", NULL);
    snap_take(t, &before);
    assert_int_equal(term_void_ex(t, &s4, &r, &err), KASSA_ECONFLICT);
    snap_assert_same(t, &before, "a void of an expired offline payment");
    snap_free(&before);
    n = due_of(t, 0, 8, due);
    for (size_t i = 0; i < n; i++)
        assert_string_not_equal(due[i].payment_id, dp);
}

static void test_refunds_under_rounding(void **state)
{
    (void)state;
    shop sh;
    term *t = shop_term(&sh, "T1", true);
    kassa_err err;

    /* 3 x 1.03 = 3.09, paid 3.10. A return of one: 1.03 -> 1.05 back. */
    oplog_sale_ref s1 = cash_sale(t, "tea", 3, 310);
    assert_int_equal(drawer_of(t, "T1"), 310);
    term_refund r = return_ok(t, &s1, "tea", 1);
    assert_int_equal(r.total, 103);
    assert_int_equal(r.cash, 105);
    assert_int_equal(r.card, 0);
    assert_int_equal(drawer_of(t, "T1"), 205);
    /* Two more: 2.06 -> 2.05. */
    r = return_ok(t, &s1, "tea", 2);
    assert_int_equal(r.total, 206);
    assert_int_equal(r.cash, 205);
    assert_int_equal(drawer_of(t, "T1"), 0);

    /* One by one, the returns hand back what the sale took, 3.10, not
     * three rounded 1.05s: each return's cash is rounded together with
     * the sale's earlier returns. */
    oplog_sale_ref s0 = cash_sale(t, "tea", 3, 310);
    assert_int_equal(return_ok(t, &s0, "tea", 1).cash, 105); /* 1.03 -> 1.05 */
    assert_int_equal(return_ok(t, &s0, "tea", 1).cash, 100); /* 2.06 -> 2.05, less 1.05 */
    assert_int_equal(return_ok(t, &s0, "tea", 1).cash, 105); /* 3.09 -> 3.10, less 2.05 */
    assert_int_equal(drawer_of(t, "T1"), 0);

    /* A void gives back what the sale took: 1.03 was 1.05. */
    oplog_sale_ref s2 = cash_sale(t, "tea", 1, 105);
    assert_int_equal(term_void_ex(t, &s2, &r, &err), KASSA_OK);
    assert_int_equal(r.total, 103);
    assert_int_equal(r.cash, 105);
    assert_int_equal(drawer_of(t, "T1"), 0);

    /* Split 11.03: card 5.00, cash 6.03 -> 6.05; the void gives 6.05. */
    char pay[OPLOG_PAY_ID_MAX + 1];
    oplog_sale_ref s3 =
        card_sale(t, "wine", 1, "tea", 1, 605, OPLOG_CARD_ONLINE, 500, "tok_1", pay);
    assert_int_equal(drawer_of(t, "T1"), 605);
    assert_int_equal(term_void_ex(t, &s3, &r, &err), KASSA_OK);
    assert_int_equal(r.card, 500);
    assert_int_equal(r.cash, 605);
    assert_int_equal(drawer_of(t, "T1"), 0);

    /* Split 3.09: card 2.00, cash 1.09 -> 1.10. A return of two teas
     * (2.06): card 2.00, cash 0.06 -> 0.05. */
    oplog_sale_ref s4 = card_sale(t, "tea", 3, NULL, 0, 110, OPLOG_CARD_ONLINE, 200, "tok_2", pay);
    assert_int_equal(g_res->cash_due, 110);
    r = return_ok(t, &s4, "tea", 2);
    assert_int_equal(r.card, 200);
    assert_int_equal(r.cash, 5);
    assert_int_equal(drawer_of(t, "T1"), 105);
}

/* ---- 6. review ---- */

static void test_review_and_resolve(void **state)
{
    (void)state;
    shop sh;
    term *t = shop_term(&sh, "T1", false);
    kassa_err err;
    char dec[OPLOG_PAY_ID_MAX + 1], exp[OPLOG_PAY_ID_MAX + 1], ok[OPLOG_PAY_ID_MAX + 1],
        on[OPLOG_PAY_ID_MAX + 1];
    card_sale(t, "tea", 1, NULL, 0, 0, OPLOG_CARD_OFFLINE, 103, "tok_1", dec);
    card_sale(t, "bread", 1, NULL, 0, 0, OPLOG_CARD_OFFLINE, 250, "tok_2", exp);
    card_sale(t, "bread", 2, NULL, 0, 0, OPLOG_CARD_OFFLINE, 500, "tok_3", ok);
    oplog_sale_ref s_on = card_sale(t, "wine", 1, NULL, 0, 0, OPLOG_CARD_ONLINE, 1000, "tok_4", on);
    sh.clk.ms += 1000;
    finish_ok(t, dec, OPLOG_PAY_DECLINED, "insufficient_funds", NULL);
    sh.clk.ms += 1000;
    finish_ok(t, exp, OPLOG_PAY_EXPIRED, "too_old", NULL);
    sh.clk.ms += 1000;
    finish_ok(t, ok, OPLOG_PAY_APPROVED, NULL, "AUTH9");
    finish_ok(t, on, 0, NULL, NULL);
    term_refund r;
    assert_int_equal(term_void_ex(t, &s_on, &r, &err), KASSA_OK);
    sh.clk.ms += 1000;
    finish_ok(t, r.refund_id, OPLOG_PAY_REFUND_DECLINED, "card_closed", NULL);

    /* Declined, expired, refused refund; oldest first. */
    id_list l = review(t, false);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.ids[0], dec);
    assert_int_equal(l.outcome[0], OPLOG_PAY_DECLINED);
    assert_string_equal(l.ids[1], exp);
    assert_int_equal(l.outcome[1], OPLOG_PAY_EXPIRED);
    assert_string_equal(l.ids[2], r.refund_id);
    assert_int_equal(l.outcome[2], OPLOG_PAY_REFUND_DECLINED);
    assert_false(listed(&l, ok));
    assert_false(listed(&l, on));

    /* A resolution needs a note. */
    snprintf(t->actor.cashier, sizeof t->actor.cashier, "mgr1");
    assert_int_equal(term_pay_resolve(t, dec, "", &err), KASSA_EINVAL);
    assert_int_equal(term_pay_resolve(t, dec, "bad\tnote", &err), KASSA_EINVAL);
    char longnote[OPLOG_AUDIT_DETAIL_MAX + 2];
    memset(longnote, 'x', sizeof longnote - 1);
    longnote[sizeof longnote - 1] = '\0';
    assert_int_equal(term_pay_resolve(t, dec, longnote, &err), KASSA_EINVAL);
    /* Not for review. */
    size_t ops0 = all_ops(t);
    assert_int_equal(term_pay_resolve(t, ok, "fine", &err), KASSA_ECONFLICT);
    assert_int_equal(term_pay_resolve(t, on, "fine", &err), KASSA_ECONFLICT);
    assert_int_equal(term_pay_resolve(t, "T1.P99", "fine", &err), KASSA_ENOTFOUND);
    assert_int_equal(all_ops(t), ops0);

    /* Once. */
    assert_int_equal(term_pay_resolve(t, dec, "customer paid cash", &err), KASSA_OK);
    assert_int_equal(all_ops(t), ops0 + 1);
    assert_int_equal(term_pay_resolve(t, dec, "again", &err), KASSA_ECONFLICT);
    assert_int_equal(all_ops(t), ops0 + 1);
    term_card_payment cp = cardp_of(t, dec);
    assert_string_equal(cp.resolved_by, "mgr1");
    assert_string_equal(cp.resolved_note, "customer paid cash");
    assert_true(cp.resolved_hlc > cp.outcome_hlc);
    assert_int_equal(cp.outcome, OPLOG_PAY_DECLINED); /* the outcome stays */
    /* A supervisor, when there is one, is who resolved. */
    snprintf(t->actor.supervisor, sizeof t->actor.supervisor, "boss");
    assert_int_equal(term_pay_resolve(t, r.refund_id, "refunded in cash", &err), KASSA_OK);
    assert_string_equal(cardp_of(t, r.refund_id).resolved_by, "boss");
    memset(&t->actor, 0, sizeof t->actor);

    l = review(t, false);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.ids[0], exp);
    l = review(t, true);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.ids[0], dec);
    assert_string_equal(l.ids[1], exp);
    assert_string_equal(l.ids[2], r.refund_id);
}

/* ---- 7. replication ---- */

static void test_replication(void **state)
{
    (void)state;
    shop sa, sb, sc;
    term *a = shop_term(&sa, "T1", false);
    term *b = bare_term(&sb, "T2", T0 + 50);
    term *c = bare_term(&sc, "T3", T0 + 70);
    kassa_err err;

    /* A: an offline sale declined when forwarded, an online split sale. */
    char off[OPLOG_PAY_ID_MAX + 1], on[OPLOG_PAY_ID_MAX + 1];
    oplog_sale_ref s_off =
        card_sale(a, "tea", 1, NULL, 0, 0, OPLOG_CARD_OFFLINE, 103, "tok_off", off);
    sa.clk.ms += 1000;
    oplog_sale_ref s_on =
        card_sale(a, "wine", 1, "bread", 1, 250, OPLOG_CARD_ONLINE, 1000, "tok_on", on);
    sa.clk.ms += 1000;
    finish_ok(a, off, OPLOG_PAY_DECLINED, "insufficient_funds", NULL);
    finish_ok(a, on, 0, NULL, NULL);
    uint64_t a_seq = seq_of(a, "T1");

    /* B sees A's card payments. */
    ship(a, b);
    term_card_payment cp = cardp_of(b, off);
    assert_int_equal(cp.kind, TERM_PAY_KIND_PAYMENT);
    assert_string_equal(cp.brand, "VISA");
    assert_string_equal(cp.last4, "4242");
    assert_int_equal(cp.mode, OPLOG_CARD_OFFLINE);
    assert_int_equal(cp.amount, 103);
    assert_string_equal(cp.sale.origin, "T1");
    assert_int_equal(cp.sale.seq, s_off.seq);
    assert_int_equal(cp.outcome, OPLOG_PAY_DECLINED);
    assert_string_equal(cp.reason, "insufficient_funds");
    cp = cardp_of(b, on);
    assert_int_equal(cp.mode, OPLOG_CARD_ONLINE);
    assert_string_equal(cp.auth_code, "A1B2C3");
    assert_int_equal(cp.sale.seq, s_on.seq);
    assert_same_state_hash(a, b);
    /* ... but not A's payment rows, which are A's own. */
    term_pay p;
    assert_int_equal(term_pay_get(b, on, &p, &err), KASSA_ENOTFOUND);
    id_list l = review(b, false);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.ids[0], off);

    /* B resolves A's decline, and takes back the wine of A's split sale:
     * 10.00 to the card, by a refund B sends. */
    sb.clk.ms += 3000;
    resolve_as(b, "mgr1", off, "customer paid cash");
    term_refund r = return_ok(b, &s_on, "wine", 1);
    assert_int_equal(r.card, 1000);
    assert_int_equal(r.cash, 0);
    assert_pay_id(r.refund_id, "T2", 1);
    assert_int_equal(pay_of(b, r.refund_id).state, TERM_PAY_REFUND_DUE);
    assert_string_equal(pay_of(b, r.refund_id).token, "tok_on");
    finish_ok(b, r.refund_id, OPLOG_PAY_REFUNDED, NULL, NULL);

    /* C gets B's operations first (the resolution before the decline it
     * resolves, the return before its sale), then A's. */
    {
        oplog_vv since;
        oplog_vv_init(&since);
        assert_int_equal(oplog_vv_set(&since, "T1", a_seq, &err), KASSA_OK);
        assert_true(ship_since(b, &since, c).pending > 0); /* the return waits for its sale */
        ship_since(a, NULL, c);
        oplog_vv_free(&since);
    }
    /* A gets B's. */
    ship(b, a);
    assert_same_state_hash(a, b);
    assert_same_state_hash(a, c);

    cp = cardp_of(a, on);
    assert_int_equal(cp.refunded, 1000);
    cp = cardp_of(a, r.refund_id);
    assert_int_equal(cp.kind, TERM_PAY_KIND_REFUND);
    assert_string_equal(cp.payment_id, on);
    assert_int_equal(cp.amount, 1000);
    assert_int_equal(cp.outcome, OPLOG_PAY_REFUNDED);
    cp = cardp_of(a, off);
    assert_string_equal(cp.resolved_by, "mgr1");
    assert_int_equal(cp.outcome, OPLOG_PAY_DECLINED);
    assert_int_equal(review(a, false).n, 0);
    assert_int_equal(review(c, false).n, 0);
    assert_int_equal(review(c, true).n, 1);
    cp = cardp_of(c, off);
    assert_string_equal(cp.brand, "VISA");
    assert_string_equal(cp.resolved_note, "customer paid cash");
    assert_int_equal(cp.outcome, OPLOG_PAY_DECLINED);

    /* A's later return of that sale: the card has had all it paid, so the
     * bread comes back in cash. */
    r = return_ok(a, &s_on, "bread", 1);
    assert_int_equal(r.card, 0);
    assert_int_equal(r.cash, 250);
    ship(a, b);
    assert_same_state_hash(a, b);

    /* Two managers resolve the same decline while apart: after the
     * exchange both terminals keep the later resolution. */
    char off2[OPLOG_PAY_ID_MAX + 1];
    sa.clk.ms = sb.clk.ms + 10000;
    card_sale(a, "bread", 1, NULL, 0, 0, OPLOG_CARD_OFFLINE, 250, "tok_off2", off2);
    finish_ok(a, off2, OPLOG_PAY_EXPIRED, "too_old", NULL);
    ship(a, b);
    resolve_as(a, "mgrA", off2, "written off");
    sb.clk.ms = sa.clk.ms + 60000;
    resolve_as(b, "mgrB", off2, "collected by phone");
    ship(a, b);
    ship(b, a);
    assert_same_state_hash(a, b);
    cp = cardp_of(a, off2);
    assert_string_equal(cp.resolved_by, "mgrB");
    assert_string_equal(cp.resolved_note, "collected by phone");
    assert_int_equal(cp.outcome, OPLOG_PAY_EXPIRED);
    assert_string_equal(cardp_of(b, off2).resolved_by, "mgrB");
    ship(b, c);
    assert_same_state_hash(a, c);
}

/* ---- 8. drawer ---- */

typedef struct ev_list {
    size_t n;
    term_drawer_event e[8];
} ev_list;

static int collect_ev(const term_drawer_event *e, void *ctx)
{
    ev_list *l = ctx;
    if (l->n < 8)
        l->e[l->n] = *e;
    l->n++;
    return KASSA_OK;
}

/* The drawer events of node (NULL: all), newest first, at most limit. */
static ev_list events_of(term *t, const char *node, size_t limit)
{
    ev_list l;
    memset(&l, 0, sizeof l);
    kassa_err err;
    must(term_drawer_events(t, node, limit, collect_ev, &l, &err), &err, "term_drawer_events");
    return l;
}

static void test_drawer(void **state)
{
    (void)state;
    shop sa, sb;
    term *a = shop_term(&sa, "T1", false);
    term *b = bare_term(&sb, "T2", T0);
    kassa_err err;
    int64_t delta = 12345;

    assert_int_equal(term_drawer_move(a, 0, 100, &delta, &err), KASSA_EINVAL);
    assert_int_equal(term_drawer_move(a, 4, 100, &delta, &err), KASSA_EINVAL);
    assert_int_equal(term_drawer_move(a, OPLOG_DRAWER_FLOAT, 0, &delta, &err), KASSA_EINVAL);
    assert_int_equal(term_drawer_move(a, OPLOG_DRAWER_COUNT, -1, &delta, &err), KASSA_EINVAL);
    assert_int_equal(term_drawer_move(a, OPLOG_DRAWER_FLOAT, PRICING_AMOUNT_MAX + 1, &delta, &err),
                     KASSA_EINVAL);

    snprintf(a->actor.cashier, sizeof a->actor.cashier, "c1");
    sa.clk.ms += 1000;
    assert_int_equal(term_drawer_move(a, OPLOG_DRAWER_FLOAT, 10000, &delta, &err), KASSA_OK);
    assert_int_equal(delta, 0);
    assert_int_equal(drawer_of(a, "T1"), 10000);
    sa.clk.ms += 1000;
    cash_sale(a, "bread", 1, 300); /* 2.50 in */
    /* A card sale puts nothing in the drawer. */
    char pay[OPLOG_PAY_ID_MAX + 1];
    card_sale(a, "wine", 1, NULL, 0, 0, OPLOG_CARD_ONLINE, 1000, "tok_d", pay);
    assert_int_equal(drawer_of(a, "T1"), 10250);
    sa.clk.ms += 1000;
    assert_int_equal(term_drawer_move(a, OPLOG_DRAWER_DROP, 5000, NULL, &err), KASSA_OK);
    assert_int_equal(drawer_of(a, "T1"), 5250);
    /* More than it holds. */
    snap before;
    snap_take(a, &before);
    assert_int_equal(term_drawer_move(a, OPLOG_DRAWER_DROP, 5251, &delta, &err), KASSA_ECONFLICT);
    snap_assert_same(a, &before, "a drop of more than the drawer holds");
    snap_free(&before);
    /* All of it is fine. */
    assert_int_equal(term_drawer_move(a, OPLOG_DRAWER_DROP, 250, NULL, &err), KASSA_OK);
    assert_int_equal(drawer_of(a, "T1"), 5000);
    /* Counts: 0.50 short, then 1.00 over, then right: the count and the
     * delta it records. */
    static const int64_t COUNTS[][2] = {{4950, -50}, {5050, 100}, {5050, 0}};
    for (size_t i = 0; i < KASSA_ARRAY_LEN(COUNTS); i++) {
        sa.clk.ms += 1000;
        assert_int_equal(term_drawer_move(a, OPLOG_DRAWER_COUNT, COUNTS[i][0], &delta, &err),
                         KASSA_OK);
        assert_int_equal(delta, COUNTS[i][1]);
        assert_int_equal(drawer_of(a, "T1"), COUNTS[i][0]);
    }
    memset(&a->actor, 0, sizeof a->actor);

    /* Newest first, with the cashier. */
    ev_list l = events_of(a, NULL, 10);
    assert_int_equal(l.n, 6);
    static const struct {
        int action;
        int64_t amount, delta;
    } WANT[] = {{OPLOG_DRAWER_COUNT, 5050, 0},   {OPLOG_DRAWER_COUNT, 5050, 100},
                {OPLOG_DRAWER_COUNT, 4950, -50}, {OPLOG_DRAWER_DROP, 250, 0},
                {OPLOG_DRAWER_DROP, 5000, 0},    {OPLOG_DRAWER_FLOAT, 10000, 0}};
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(l.e[i].d.action, WANT[i].action);
        assert_int_equal(l.e[i].d.amount, WANT[i].amount);
        assert_int_equal(l.e[i].d.delta, WANT[i].delta);
        assert_string_equal(l.e[i].d.cashier, "c1");
        assert_string_equal(l.e[i].origin, "T1");
        assert_string_equal(l.e[i].ref.origin, "T1");
        if (i > 0) {
            assert_true(l.e[i].hlc < l.e[i - 1].hlc);
            assert_true(l.e[i].ref.seq < l.e[i - 1].ref.seq);
        }
    }
    l = events_of(a, "T1", 2);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.e[1].d.delta, 100);
    l = events_of(a, "T2", 10);
    assert_int_equal(l.n, 0);

    /* B: its own drawer is empty whatever A's holds. */
    ship(a, b);
    assert_same_state_hash(a, b);
    assert_int_equal(drawer_of(b, "T1"), 5050);
    assert_int_equal(term_drawer_move(b, OPLOG_DRAWER_DROP, 1, NULL, &err), KASSA_ECONFLICT);
    sb.clk.ms = sa.clk.ms + 1000;
    assert_int_equal(term_drawer_move(b, OPLOG_DRAWER_COUNT, 100, &delta, &err), KASSA_OK);
    assert_int_equal(delta, 100);
    assert_int_equal(drawer_of(b, "T2"), 100);
    l = events_of(b, NULL, 10);
    assert_int_equal(l.n, 7);
    assert_string_equal(l.e[0].origin, "T2");
    assert_string_equal(l.e[0].d.cashier, "");
    ship(b, a);
    assert_same_state_hash(a, b);
    assert_int_equal(drawer_of(a, "T2"), 100);
    assert_int_equal(drawer_of(a, NULL), 5150);
    l = events_of(a, "T2", 10);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.e[0].d.delta, 100);
}

/* ---- 9. PCI: no card-number-like digit run anywhere in storage ---- */

/* The one long number a terminal keeps as text: its hybrid logical clock
 * (meta "hlc", milliseconds << 16 | counter), 18 digits. A run of digits
 * that reads as a clock of this test (T0 .. T0 + 1 day) is not card data. */
static bool hlc_digits(const uint8_t *p, size_t n)
{
    if (n > 19)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (uint64_t)(p[i] - '0');
    uint64_t ms = v >> 16;
    return ms >= T0 && ms <= T0 + 86400000;
}

/* The longest run of ASCII digits in p[0..n) that is not a clock value. */
static size_t longest_digit_run(const uint8_t *p, size_t n)
{
    size_t best = 0, cur = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && p[i] >= '0' && p[i] <= '9') {
            cur++;
            continue;
        }
        if (cur > best && !(cur >= 13 && hlc_digits(p + i - cur, cur)))
            best = cur;
        cur = 0;
    }
    return best;
}

static size_t scan_file(const char *path, size_t *bytes)
{
    *bytes = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    kbuf b;
    kbuf_init(&b);
    uint8_t chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
        kbuf_put(&b, chunk, got);
    fclose(f);
    assert_false(b.oom);
    *bytes = b.len;
    size_t run = longest_digit_run(b.data, b.len);
    kbuf_free(&b);
    return run;
}

static void test_pci_no_pan_stored(void **state)
{
    (void)state;
    shop sa, sb;
    term *a = shop_term(&sa, "T1", true);
    term *b = bare_term(&sb, "T2", T0 + 10);
    kassa_err err;

    /* A day of business. */
    char p[12][OPLOG_PAY_ID_MAX + 1];
    snprintf(a->actor.cashier, sizeof a->actor.cashier, "c1");
    snprintf(a->actor.supervisor, sizeof a->actor.supervisor, "sup1");
    assert_int_equal(term_drawer_move(a, OPLOG_DRAWER_FLOAT, 20000, NULL, &err), KASSA_OK);
    oplog_sale_ref s0 =
        card_sale(a, "wine", 2, NULL, 0, 0, OPLOG_CARD_ONLINE, 2000, "tok_4f1a9c", p[0]);
    oplog_sale_ref s1 =
        card_sale(a, "bread", 3, "tea", 1, 1000, OPLOG_CARD_ONLINE, 500, "tok_77ab", p[1]);
    card_sale(a, "tea", 2, NULL, 0, 0, OPLOG_CARD_OFFLINE, 206, "tok_off1", p[2]);
    card_sale(a, "wine", 1, NULL, 0, 0, OPLOG_CARD_OFFLINE, 1000, "tok_off2", p[3]);
    oplog_sale_ref s4 =
        card_sale(a, "bread", 2, NULL, 0, 0, OPLOG_CARD_OFFLINE, 500, "tok_off3", p[4]);
    cash_sale(a, "tea", 3, 500);
    /* Abandoned and recovered payments. */
    card_ready(a, 700, "tok_gone", p[5]);
    assert_int_equal(term_pay_abandon(a, p[5], "declined:do_not_honor", &err), KASSA_OK);
    card_ready(a, 800, "tok_crash", p[6]);
    finish_ok(a, p[0], 0, NULL, NULL);
    finish_ok(a, p[1], 0, NULL, NULL);
    finish_ok(a, p[2], OPLOG_PAY_APPROVED, NULL, "OK1234");
    finish_ok(a, p[3], OPLOG_PAY_DECLINED, "insufficient_funds", NULL);
    /* p[4] stays stored, with its sealed data. */
    term_refund r;
    assert_int_equal(term_void_ex(a, &s0, &r, &err), KASSA_OK);
    finish_ok(a, r.refund_id, OPLOG_PAY_REFUND_DECLINED, "card_closed", NULL);
    r = return_ok(a, &s1, "bread", 2);
    finish_ok(a, r.refund_id, OPLOG_PAY_REFUNDED, NULL, NULL);
    assert_int_equal(term_pay_resolve(a, p[3], "paid cash 10.00 on 2026-07-01", &err), KASSA_OK);
    assert_int_equal(term_drawer_move(a, OPLOG_DRAWER_COUNT, 21000, NULL, &err), KASSA_OK);
    memset(&a->actor, 0, sizeof a->actor);
    ship(a, b);
    r = return_ok(b, &s4, "bread", 1);
    ship(b, a);
    term_pay stored = pay_of(a, p[4]);
    assert_int_equal(stored.state, TERM_PAY_STORED);
    assert_true(stored.blob_len > 0);
    /* Our own sealed data carries no such run (else the check below
     * would prove nothing about the terminal). */
    assert_true(longest_digit_run(stored.blob, stored.blob_len) < 13);

    /* The scanner finds a card number and lets a clock value pass. */
    assert_int_equal(longest_digit_run((const uint8_t *)"x4111111111111111y", 18), 16);
    char hlc_text[32];
    snprintf(hlc_text, sizeof hlc_text, "%llu", (unsigned long long)(a->clock.last));
    assert_true(strlen(hlc_text) >= 13);
    assert_true(longest_digit_run((const uint8_t *)hlc_text, strlen(hlc_text)) < 13);

    /* Every text and blob value of every table, on both terminals. */
    term *ts[2] = {a, b};
    for (int k = 0; k < 2; k++) {
        sqlite3 *dbh = ts[k]->st.db;
        sqlite3_stmt *tables;
        assert_int_equal(sqlite3_prepare_v2(dbh,
                                            "SELECT name FROM sqlite_master WHERE type = 'table' "
                                            "ORDER BY name",
                                            -1, &tables, NULL),
                         SQLITE_OK);
        size_t n_tables = 0, n_values = 0;
        bool saw_pay_local = false, saw_card_payments = false;
        while (sqlite3_step(tables) == SQLITE_ROW) {
            char name[128], sql[200];
            snprintf(name, sizeof name, "%s", (const char *)sqlite3_column_text(tables, 0));
            saw_pay_local |= strcmp(name, "pay_local") == 0;
            saw_card_payments |= strcmp(name, "card_payments") == 0;
            snprintf(sql, sizeof sql, "SELECT * FROM \"%s\"", name);
            sqlite3_stmt *rows;
            assert_int_equal(sqlite3_prepare_v2(dbh, sql, -1, &rows, NULL), SQLITE_OK);
            n_tables++;
            while (sqlite3_step(rows) == SQLITE_ROW) {
                for (int col = 0; col < sqlite3_column_count(rows); col++) {
                    int type = sqlite3_column_type(rows, col);
                    if (type != SQLITE_TEXT && type != SQLITE_BLOB)
                        continue;
                    const uint8_t *v = type == SQLITE_TEXT ? sqlite3_column_text(rows, col)
                                                           : sqlite3_column_blob(rows, col);
                    size_t len = (size_t)sqlite3_column_bytes(rows, col);
                    n_values++;
                    if (longest_digit_run(v, len) >= 13) {
                        char cname[64], shown[80];
                        snprintf(cname, sizeof cname, "%s", sqlite3_column_name(rows, col));
                        snprintf(shown, sizeof shown, "%.*s", type == SQLITE_TEXT ? (int)len : 0,
                                 (const char *)v);
                        sqlite3_finalize(rows);
                        sqlite3_finalize(tables);
                        fail_msg("%s.%s holds a run of 13+ digits: \"%s\"", name, cname, shown);
                    }
                }
            }
            sqlite3_finalize(rows);
        }
        sqlite3_finalize(tables);
        assert_true(saw_pay_local && saw_card_payments);
        assert_true(n_tables >= 10);
        assert_true(n_values > 100);
    }
    /* And the files themselves (database and write-ahead log). */
    static const char *const SUFFIX[] = {"", "-wal"};
    const char *dirs[2] = {sa.dir, sb.dir};
    for (int k = 0; k < 2; k++) {
        size_t total = 0;
        for (size_t i = 0; i < KASSA_ARRAY_LEN(SUFFIX); i++) {
            char path[700];
            size_t bytes;
            snprintf(path, sizeof path, "%s/%s%s", dirs[k], TERM_DB_FILE, SUFFIX[i]);
            size_t run = scan_file(path, &bytes);
            if (run >= 13)
                fail_msg("%s holds a run of %zu digits", path, run);
            total += bytes;
        }
        assert_true(total > 4096);
    }
}

/* ---- fuzz corpus seeds ---- */

typedef struct seed {
    const char *name;
    int kind;
    bool valid;
    /* Valid, but tests/fuzz/fuzz_payload.c aborts on it: written only
     * with PAYMENT_SEED_ALL. */
    bool needs_target_update;
} seed;

/* Writes in, encoded as sd->kind after its kind byte, as the seed sd->name
 * in dir, once it decodes or not as sd says. */
static void seed_out(const char *dir, const seed *sd, const void *in)
{
    kbuf f;
    kbuf_init(&f);
    kbuf_put_u8(&f, (uint8_t)sd->kind);
    assert_int_equal(oplog_encode(sd->kind, in, &f), KASSA_OK);
    assert_false(f.oom);
    oplog_payload *u = malloc(sizeof *u);
    assert_non_null(u);
    kassa_err err;
    int rc = oplog_decode(sd->kind, f.data + 1, f.len - 1, u, &err);
    free(u);
    if ((rc == KASSA_OK) != sd->valid)
        fail_msg("seed %s: decode gave %d", sd->name, rc);
    bool all = getenv("PAYMENT_SEED_ALL") != NULL;
    if (!sd->needs_target_update || all)
        assert_int_equal(tu_seed_write(dir, sd->name, f.data, f.len), 0);
    kbuf_free(&f);
}

static void test_fuzz_seeds(void **state)
{
    (void)state;
    const char *dir = getenv("PAYMENT_SEED_DIR");

    /* A sale paid part by card online, the rest with a bigger note (the
     * base sale's 5.00: tendered >= total, which the fuzz target checks of
     * every sale). */
    oplog_sale *s = card_base_sale("T1.P1", 300, "tok_9f8e7d", OPLOG_CARD_ONLINE);
    seed_out(dir, &(seed){"pay-sale-card-online", OP_SALE, true, false}, s);
    /* Offline, card and rounded cash. */
    s = card_base_sale("T1.P2", 200, "tok_off", OPLOG_CARD_OFFLINE);
    s->rounding = 2;
    seed_out(dir, &(seed){"pay-sale-card-offline-rounded", OP_SALE, true, false}, s);
    /* Cash with rounding only. */
    base_sale(s);
    s->rounding = -3;
    seed_out(dir, &(seed){"pay-sale-rounding", OP_SALE, true, false}, s);
    /* Near-valid: offline with an auth code. */
    s = card_base_sale("T1.P2", 200, "tok_off", OPLOG_CARD_OFFLINE);
    snprintf(s->card.auth_code, sizeof s->card.auth_code, "A1");
    seed_out(dir, &(seed){"pay-sale-offline-authcode-bad", OP_SALE, false, false}, s);

    /* A void split card/cash; a return split. */
    oplog_void v = void_of(2, 300);
    seed_out(dir, &(seed){"pay-void-split", OP_VOID, true, false}, &v);
    oplog_return *r = g_ret;
    split_return(r, false);
    seed_out(dir, &(seed){"pay-return-split", OP_RETURN, true, false}, r);
    /* Near-valid: the card gets more than the refund. */
    r->split.card_amount = 501;
    seed_out(dir, &(seed){"pay-return-card-above-bad", OP_RETURN, false, false}, r);

    /* Payment outcomes. */
    oplog_payment p = {.id = "T1.P2", .outcome = OPLOG_PAY_DECLINED};
    seed_out(dir, &(seed){"pay-payment-declined-noreason-bad", OP_PAYMENT, false, false}, &p);
    snprintf(p.reason, sizeof p.reason, "insufficient_funds");
    seed_out(dir, &(seed){"pay-payment-declined", OP_PAYMENT, true, true}, &p);
    p = (oplog_payment){.id = "T1.P2",
                        .outcome = OPLOG_PAY_RESOLVED,
                        .cashier = "mgr1",
                        .note = "customer paid cash"};
    seed_out(dir, &(seed){"pay-payment-resolved", OP_PAYMENT, true, true}, &p);

    /* Drawer. */
    static const struct {
        seed sd;
        oplog_drawer d;
    } DRAWERS[] = {
        {{"pay-drawer-float-delta-bad", OP_DRAWER, false, false},
         {OPLOG_DRAWER_FLOAT, 10000, 5, "c1"}},
        {{"pay-drawer-action4-bad", OP_DRAWER, false, false}, {4, 100, 0, ""}},
        {{"pay-drawer-count", OP_DRAWER, true, true}, {OPLOG_DRAWER_COUNT, 5200, -50, "c1"}},
    };
    for (size_t i = 0; i < KASSA_ARRAY_LEN(DRAWERS); i++)
        seed_out(dir, &DRAWERS[i].sd, &DRAWERS[i].d);
}

/* ---- documented behaviour the code does not have: each test names the
 * bug (see the report) ---- */

/* Fails, naming what, unless the sale and the void were both refused. */
static void assert_both_refused(const char *what, int sale_rc, int void_rc)
{
    if (sale_rc != KASSA_ECORRUPT || void_rc != KASSA_ECORRUPT)
        fail_msg("%s: sale decode %d, void decode %d; want KASSA_ECORRUPT (%d) for both", what,
                 sale_rc, void_rc, KASSA_ECORRUPT);
}

/* BUG (src/oplog/oplog.c, read_sale_tenders and read_refund_split): "rounding
 * applies to a cash part only" is checked on the cash due AFTER rounding
 * (cash_due > 0 || rounding == 0). A sale whose card pays the whole total
 * with a positive rounding (cash part 0, cash due = rounding) decodes; so
 * does a refund split with card = refund and rounding > 0. */
static void test_rounding_needs_a_cash_part(void **state)
{
    (void)state;
    oplog_sale *s = card_base_sale("T1.P1", 458, "tok_1", OPLOG_CARD_ONLINE);
    s->rounding = 2;
    s->tendered = 2;
    oplog_void v = void_of(3, 458);
    assert_both_refused("rounding +2/+3 with a zero cash part", encoded_rc(OP_SALE, s),
                        encoded_rc(OP_VOID, &v));
}

/* BUG (src/oplog/oplog.c, read_sale_tenders / read_refund_split): the
 * encoders leave the tender section (refund split) out when it says
 * nothing, but the decoders accept an explicit empty one (version 1,
 * rounding 0, no card / card 0). That is a second encoding of the same
 * sale or void, which re-encodes to other bytes: the fuzz target's
 * "exactly one accepted encoding" invariant fails on it. */
static void test_empty_tender_section_refused(void **state)
{
    (void)state;
    oplog_sale *s = g_sale;
    base_sale(s);
    kbuf b;
    kbuf_init(&b);
    oplog_encode_sale(&b, s);
    kbuf_put_u8(&b, 1); /* version */
    kbuf_put_u8(&b, 0); /* rounding 0 */
    kbuf_put_u8(&b, 0); /* no card */
    int sale_rc = decode_rc(OP_SALE, &b);
    kbuf_reset(&b);
    kbuf_put_str(&b, "T1");
    kbuf_put_uvarint(&b, 7);
    kbuf_put_uvarint(&b, 458);
    kbuf_put_u8(&b, 1); /* version */
    kbuf_put_u8(&b, 0); /* rounding 0 */
    kbuf_put_u8(&b, 0); /* card 0 */
    int void_rc = decode_rc(OP_VOID, &b);
    kbuf_free(&b);
    assert_both_refused("an explicit empty tender section / refund split", sale_rc, void_rc);
}

/* BUG (src/oplog/oplog.c, read_sale_tenders / read_refund_split; reached
 * from src/term/sell.c sale_tx and refund_split): a cash part that rounds
 * to zero (0.01 or 0.02 under 0.05 rounding) gives cash due 0 with
 * rounding -1/-2, which the decoder refuses, so term_sale_tender,
 * term_sale and term_return_ex fail with KASSA_ECORRUPT ("malformed ...
 * payload") for a legal sale or return. */
static void test_cash_part_rounding_to_zero(void **state)
{
    (void)state;
    shop sh;
    term *t = shop_term(&sh, "T1", true);
    kassa_err err1, err2, err3;
    /* 10.02: card 10.00, cash part 0.02 -> 0.00. */
    term_cart cart;
    cart2(&cart, "wine", 1, "gum", 1);
    char id[OPLOG_PAY_ID_MAX + 1];
    card_ready(t, 1000, "tok_z", id);
    term_tender tender = card_tender(0, id, 1000, "tok_z", OPLOG_CARD_ONLINE);
    int split_rc = term_sale_tender(t, &cart, &tender, g_res, &err1);
    bool split_ok = split_rc == KASSA_OK && g_res->cash_due == 0 && g_res->sale.rounding == -2;
    /* A 0.02 item in cash. */
    cart_of(&cart, "gum", 1);
    int cash_rc = term_sale(t, &cart, 0, g_res, &err2);
    bool cash_ok = cash_rc == KASSA_OK && g_res->cash_due == 0;
    /* A return of 0.02 from a cash sale (2 x 0.02 + 1.03 = 1.07 -> 1.05). */
    cart2(&cart, "gum", 2, "tea", 1);
    assert_int_equal(term_sale(t, &cart, 105, g_res, &err3), KASSA_OK);
    oplog_sale_ref ref = g_res->ref;
    term_return_req req;
    term_refund r;
    return_req(&req, "gum", 1);
    int ret_rc = term_return_ex(t, &ref, &req, NULL, &r, &err3);
    bool ret_ok = ret_rc == KASSA_OK && r.cash == 0;
    if (!split_ok || !cash_ok || !ret_ok)
        fail_msg("cash part rounding to 0.00: split sale %d (%s), cash sale %d (%s), return %d "
                 "(%s)",
                 split_rc, split_rc ? err1.msg : "ok", cash_rc, cash_rc ? err2.msg : "ok", ret_rc,
                 ret_rc ? err3.msg : "ok");
}

/* BUG (src/term/payment.c, term_pay_insert): payment and refund ids are
 * "NODE.Pn" with n = 1 + the highest n of pay_local, which is this
 * terminal's own table and never replicated. A terminal rebuilt from its
 * peers (fresh database, same node id, its old operations imported back:
 * term_import takes them and its sales continue at the right seq) starts
 * again at NODE.P1, an id the store's card_payments already holds: the new
 * sale's card_row upsert overwrites the old payment's row (sale, amount,
 * token, brand) while keeping its outcome and refunds, and the processor
 * sees one payment id twice. */
static void test_pay_id_unique_after_rebuild(void **state)
{
    (void)state;
    shop sa, sb;
    term *a = shop_term(&sa, "T1", false);
    term *b = bare_term(&sb, "T2", T0);
    kassa_err err;
    char old_id[OPLOG_PAY_ID_MAX + 1];
    card_sale(a, "wine", 1, NULL, 0, 0, OPLOG_CARD_OFFLINE, 1000, "tok_old", old_id);
    finish_ok(a, old_id, OPLOG_PAY_APPROVED, NULL, "AUTH1");
    ship(a, b);
    untrack_close(a);

    /* T1's disk is replaced: a fresh database, filled from T2. */
    sa.clk.ms += 60000;
    char da2[600];
    term *a2 = new_term(da2, sizeof da2, STORE, "T1", &sa.clk);
    ship(b, a2);
    assert_int_equal(cardp_of(a2, old_id).amount, 1000);
    uint64_t head = seq_of(a2, "T1");
    assert_true(head >= 2);
    /* Its own log continues where it was. */
    oplog_sale_ref next = cash_sale(a2, "tea", 1, 103);
    assert_int_equal(next.seq, head + 1);
    char new_id[OPLOG_PAY_ID_MAX + 1];
    assert_int_equal(term_pay_reserve(a2, 250, new_id, &err), KASSA_OK);
    if (strcmp(new_id, old_id) == 0)
        fail_msg("the rebuilt terminal reserved %s again: the store already has a card payment "
                 "with that id",
                 new_id);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codec_sale_tenders),
        cmocka_unit_test(test_codec_refund_split),
        cmocka_unit_test(test_codec_payment),
        cmocka_unit_test(test_codec_drawer),
        cmocka_unit_test_teardown(test_cash_round, teardown),
        cmocka_unit_test_teardown(test_cash_sale_rounding, teardown),
        cmocka_unit_test_teardown(test_card_sale_state_machine, teardown),
        cmocka_unit_test_teardown(test_pay_lifecycle, teardown),
        cmocka_unit_test_teardown(test_pay_declined_online, teardown),
        cmocka_unit_test_teardown(test_pay_recover, teardown),
        cmocka_unit_test_teardown(test_refunds_to_tender, teardown),
        cmocka_unit_test_teardown(test_refunds_under_rounding, teardown),
        cmocka_unit_test_teardown(test_review_and_resolve, teardown),
        cmocka_unit_test_teardown(test_replication, teardown),
        cmocka_unit_test_teardown(test_drawer, teardown),
        cmocka_unit_test_teardown(test_pci_no_pan_stored, teardown),
        cmocka_unit_test(test_fuzz_seeds),
        cmocka_unit_test(test_rounding_needs_a_cash_part),
        cmocka_unit_test(test_empty_tender_section_refused),
        cmocka_unit_test_teardown(test_cash_part_rounding_to_zero, teardown),
        cmocka_unit_test_teardown(test_pay_id_unique_after_rebuild, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
