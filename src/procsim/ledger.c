/*
 * ledger.c: what the processor holds, in memory, and the money rules.
 *
 * Payments and refunds are records keyed by "store/id" (ids never contain
 * '/') in two open-addressing hash tables (SipHash with a random key, so
 * crafted ids cannot pile up in one chain; linear probing; grown at half
 * full). Records are never removed: a reversal of an unknown payment is a
 * tombstone. At most PS_RECORDS_MAX records in all, then 503.
 *
 * Rules (every call idempotent by its id; money never moves twice):
 *  - authorise: a known payment id answers its recorded result, and
 *    captures it now when it was only authorised and this call captures;
 *    the same id with another amount or token is a conflict (409); a
 *    reversed id (or a tombstone) is declined "reversed".
 *  - capture: authorised -> captured; captured -> the same answer again;
 *    declined or reversed -> 409; unknown -> 404.
 *  - reverse: authorised -> reversed (the hold released); reversed -> the
 *    same answer; unknown -> a tombstone, reversed; captured -> 409
 *    (captured money is refunded); declined -> 409.
 *  - refund: the payment must be captured and carry the same token, and
 *    refunds so far plus this one must not pass the captured amount.
 *    Declined refunds are recorded too: a repeat answers the same.
 */
#include "procsim/procsim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_SIZE (KASSA_ID_MAX + 1 + PAY_ID_MAX + 1)
#define TABLE_MIN_SLOTS 1024
#define AUTH_CODE_LEN 6

typedef struct payment {
    char key[KEY_SIZE]; /* first: the tables see a record as its key */
    char id[PAY_ID_MAX + 1];
    char token[PAY_TOKEN_MAX + 1];
    int64_t amount_minor, captured_minor, refunded_minor;
    uint32_t captures;
    pay_status status;
    pay_mode mode; /* 0: a tombstone, reversed before it was seen */
    char reason[PAY_REASON_MAX + 1];
    char auth_code[PAY_AUTH_CODE_MAX + 1];
} payment;

typedef struct refund {
    char key[KEY_SIZE];
    char id[PAY_ID_MAX + 1];
    char payment_id[PAY_ID_MAX + 1];
    char token[PAY_TOKEN_MAX + 1];
    int64_t amount_minor;
    pay_status status;
    char reason[PAY_REASON_MAX + 1];
} refund;

typedef struct table {
    char **slots; /* each NULL or a record (whose first member is its key) */
    size_t cap;   /* a power of two */
    size_t n;
} table;

struct ps_ledger {
    uint8_t hash_key[crypto_shorthash_KEYBYTES];
    table payments, refunds;
    ps_totals totals;
};

/* ---- tables ---- */

static size_t slot_of(const ps_ledger *l, const table *t, const char *key)
{
    uint8_t h[crypto_shorthash_BYTES];
    crypto_shorthash(h, (const unsigned char *)key, strlen(key), l->hash_key);
    uint64_t v;
    memcpy(&v, h, sizeof v);
    return (size_t)(v & (t->cap - 1));
}

static void *table_find(const ps_ledger *l, const table *t, const char *key)
{
    if (t->cap == 0)
        return NULL;
    for (size_t i = slot_of(l, t, key);; i = (i + 1) & (t->cap - 1)) {
        if (!t->slots[i])
            return NULL;
        if (strcmp(t->slots[i], key) == 0)
            return t->slots[i];
    }
}

static void table_place(const ps_ledger *l, table *t, char *rec)
{
    size_t i = slot_of(l, t, rec);
    while (t->slots[i])
        i = (i + 1) & (t->cap - 1);
    t->slots[i] = rec;
}

/* Adds rec (its key not yet in t); false when out of memory. */
static bool table_add(const ps_ledger *l, table *t, char *rec)
{
    if ((t->n + 1) * 2 > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : TABLE_MIN_SLOTS;
        char **slots = calloc(cap, sizeof *slots);
        if (!slots)
            return false;
        table old = *t;
        t->slots = slots;
        t->cap = cap;
        for (size_t i = 0; i < old.cap; i++)
            if (old.slots[i])
                table_place(l, t, old.slots[i]);
        free(old.slots);
    }
    table_place(l, t, rec);
    t->n++;
    return true;
}

static void table_free(table *t)
{
    for (size_t i = 0; i < t->cap; i++)
        free(t->slots[i]);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

ps_ledger *ps_ledger_new(void)
{
    ps_ledger *l = calloc(1, sizeof *l);
    if (l)
        crypto_shorthash_keygen(l->hash_key);
    return l;
}

void ps_ledger_free(ps_ledger *l)
{
    if (!l)
        return;
    table_free(&l->payments);
    table_free(&l->refunds);
    free(l);
}

static void make_key(char out[KEY_SIZE], const char *store, const char *id)
{
    snprintf(out, KEY_SIZE, "%s/%s", store, id);
}

/* The record of store's id in t, or NULL. */
static void *find(const ps_ledger *l, const table *t, const char *store, const char *id)
{
    char key[KEY_SIZE];
    make_key(key, store, id);
    return table_find(l, t, key);
}

/* ---- outcomes ---- */

static void fail_with(ps_outcome *o, int http_status, const char *msg)
{
    o->http_status = http_status;
    snprintf(o->error, sizeof o->error, "%s", msg);
}

/* A new zeroed record of size bytes whose key (its first member) is
 * store's id, added to t (where it is not yet), or NULL with o a 503: full
 * (full_msg) or out of memory. */
static void *add_record(ps_ledger *l, table *t, size_t size, const char *store, const char *id,
                        const char *full_msg, ps_outcome *o)
{
    if (l->payments.n + l->refunds.n >= PS_RECORDS_MAX) {
        fail_with(o, 503, full_msg);
        return NULL;
    }
    char *rec = calloc(1, size);
    if (rec)
        make_key(rec, store, id);
    if (!rec || !table_add(l, t, rec)) {
        free(rec);
        fail_with(o, 503, "the processor is out of memory");
        return NULL;
    }
    return rec;
}

static void answer_payment(ps_outcome *o, const payment *p)
{
    o->http_status = 200;
    pay_result *r = &o->result;
    snprintf(r->id, sizeof r->id, "%s", p->id);
    r->status = p->status;
    if (p->status == PAY_ST_DECLINED)
        snprintf(r->reason, sizeof r->reason, "%s", p->reason);
    if (p->status == PAY_ST_AUTHORIZED || p->status == PAY_ST_CAPTURED)
        snprintf(r->auth_code, sizeof r->auth_code, "%s", p->auth_code);
}

static void capture(ps_ledger *l, payment *p)
{
    p->status = PAY_ST_CAPTURED;
    p->captured_minor = p->amount_minor;
    p->captures++;
    l->totals.captures++;
    l->totals.captured_minor += p->amount_minor;
    if (p->captures == 2)
        l->totals.double_captures++;
}

static void new_auth_code(char out[PAY_AUTH_CODE_MAX + 1])
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    for (int i = 0; i < AUTH_CODE_LEN; i++)
        out[i] = alphabet[randombytes_uniform(sizeof alphabet - 1)];
    out[AUTH_CODE_LEN] = '\0';
}

static payment *add_payment(ps_ledger *l, const char *store, const char *id, ps_outcome *o)
{
    payment *p = add_record(l, &l->payments, sizeof *p, store, id,
                            "the processor holds as many payments as it can", o);
    if (!p)
        return NULL;
    snprintf(p->id, sizeof p->id, "%s", id);
    l->totals.payments++;
    return p;
}

/* ---- operations ---- */

void ps_authorize(ps_ledger *l, const ps_keys *k, ps_clock now, const pay_auth_req *q,
                  ps_outcome *o)
{
    memset(o, 0, sizeof *o);
    payment *p = find(l, &l->payments, q->store_id, q->payment_id);
    if (p) {
        if (p->status == PAY_ST_REVERSED) {
            o->http_status = 200;
            snprintf(o->result.id, sizeof o->result.id, "%s", p->id);
            o->result.status = PAY_ST_DECLINED;
            snprintf(o->result.reason, sizeof o->result.reason, "%s", PS_DECLINE_REVERSED);
            return;
        }
        if (p->amount_minor != q->amount_minor || strcmp(p->token, q->token) != 0) {
            fail_with(o, 409, "payment id reused with different details");
            return;
        }
        if (p->status == PAY_ST_AUTHORIZED && q->capture)
            capture(l, p);
        answer_payment(o, p);
        return;
    }
    /* The record goes in before the decision so a full table refuses the
     * payment without opening its card. */
    p = add_payment(l, q->store_id, q->payment_id, o);
    if (!p)
        return;
    /* A table insert moved nothing: p stays valid (records are separate
     * allocations; the table holds pointers). */
    ps_decision d;
    ps_card_decide(k, q, now.year, now.month, &d);
    snprintf(p->token, sizeof p->token, "%s", q->token);
    p->amount_minor = q->amount_minor;
    p->mode = q->mode;
    if (!d.approved) {
        p->status = PAY_ST_DECLINED;
        snprintf(p->reason, sizeof p->reason, "%s", d.reason);
    } else {
        p->status = PAY_ST_AUTHORIZED;
        new_auth_code(p->auth_code);
        if (q->capture)
            capture(l, p);
    }
    answer_payment(o, p);
    o->hold = d.hold;
}

void ps_capture(ps_ledger *l, const char *store, const char *id, ps_outcome *o)
{
    memset(o, 0, sizeof *o);
    payment *p = find(l, &l->payments, store, id);
    if (!p) {
        fail_with(o, 404, "unknown payment");
        return;
    }
    if (p->status == PAY_ST_DECLINED || p->status == PAY_ST_REVERSED) {
        fail_with(o, 409,
                  p->status == PAY_ST_DECLINED ? "payment was declined: nothing to capture"
                                               : "payment was reversed: nothing to capture");
        return;
    }
    if (p->status == PAY_ST_AUTHORIZED)
        capture(l, p);
    answer_payment(o, p);
}

void ps_reverse(ps_ledger *l, const char *store, const char *id, ps_outcome *o)
{
    memset(o, 0, sizeof *o);
    payment *p = find(l, &l->payments, store, id);
    if (!p) {
        /* Reversed before it arrived (the terminal gave up on it): a late
         * authorisation with this id must not take money. */
        p = add_payment(l, store, id, o);
        if (!p)
            return;
        p->status = PAY_ST_REVERSED;
        answer_payment(o, p);
        return;
    }
    switch (p->status) {
    case PAY_ST_AUTHORIZED:
        p->status = PAY_ST_REVERSED;
        /* fall through */
    case PAY_ST_REVERSED:
        answer_payment(o, p);
        return;
    case PAY_ST_CAPTURED:
        fail_with(o, 409, "payment was captured: refund it instead");
        return;
    default:
        fail_with(o, 409, "payment was declined: nothing to reverse");
        return;
    }
}

static void answer_refund(ps_outcome *o, const refund *r)
{
    o->http_status = 200;
    snprintf(o->result.id, sizeof o->result.id, "%s", r->id);
    o->result.status = r->status;
    if (r->status == PAY_ST_DECLINED)
        snprintf(o->result.reason, sizeof o->result.reason, "%s", r->reason);
}

void ps_refund(ps_ledger *l, const pay_refund_req *q, ps_outcome *o)
{
    memset(o, 0, sizeof *o);
    refund *r = find(l, &l->refunds, q->store_id, q->refund_id);
    if (r) {
        if (strcmp(r->payment_id, q->payment_id) != 0 || r->amount_minor != q->amount_minor ||
            strcmp(r->token, q->token) != 0)
            fail_with(o, 409, "refund id reused with different details");
        else
            answer_refund(o, r);
        return;
    }
    payment *p = find(l, &l->payments, q->store_id, q->payment_id);
    if (!p || p->mode == 0) {
        fail_with(o, 404, "unknown payment");
        return;
    }
    /* Authorised, its capture on the way (a terminal forwards in order):
     * a refund made meanwhile on another terminal is asked again later, so
     * this is not recorded as a decline. */
    if (p->status == PAY_ST_AUTHORIZED) {
        fail_with(o, 409, "payment not captured yet");
        return;
    }
    r = add_record(l, &l->refunds, sizeof *r, q->store_id, q->refund_id,
                   "the processor holds as many refunds as it can", o);
    if (!r)
        return;
    snprintf(r->id, sizeof r->id, "%s", q->refund_id);
    snprintf(r->payment_id, sizeof r->payment_id, "%s", q->payment_id);
    snprintf(r->token, sizeof r->token, "%s", q->token);
    r->amount_minor = q->amount_minor;
    l->totals.refunds++;
    const char *why = NULL;
    if (strcmp(p->token, q->token) != 0)
        why = PS_DECLINE_TOKEN;
    else if (p->status != PAY_ST_CAPTURED)
        why = PS_DECLINE_NOT_CAPTURED;
    /* Both at most PRICING_AMOUNT_MAX: the sum cannot overflow. */
    else if (p->refunded_minor + q->amount_minor > p->captured_minor)
        why = PS_DECLINE_EXCEEDS;
    if (why) {
        r->status = PAY_ST_DECLINED;
        snprintf(r->reason, sizeof r->reason, "%s", why);
    } else {
        r->status = PAY_ST_REFUNDED;
        p->refunded_minor += q->amount_minor;
        l->totals.refunded_minor += q->amount_minor;
    }
    answer_refund(o, r);
}

bool ps_payment_get(ps_ledger *l, const char *store, const char *id, ps_payment_view *v)
{
    const payment *p = find(l, &l->payments, store, id);
    if (!p)
        return false;
    *v = (ps_payment_view){
        .status = p->status,
        .amount_minor = p->amount_minor,
        .captured_minor = p->captured_minor,
        .refunded_minor = p->refunded_minor,
        .captures = p->captures,
        .mode = p->mode == PAY_MODE_ONLINE    ? "online"
                : p->mode == PAY_MODE_OFFLINE ? "offline"
                                              : "none",
    };
    return true;
}

void ps_ledger_totals(const ps_ledger *l, ps_totals *t)
{
    *t = l->totals;
}
