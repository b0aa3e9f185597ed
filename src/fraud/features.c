/*
 * fraud: events, the bounded recent window and the feature vector.
 *
 * The state is a set of fixed tables allocated once: cashiers (a ring of
 * recent events each, and a small ring of drawer counts), terminals (a ring
 * of card attempts), card tokens (an open-addressing table, a ring of uses
 * each) and recent sales (4-way set-associative, for the voids and returns
 * that refer to them), plus the store's running normal. Observing an event
 * pushes it into the rings; computing features only reads them, filtering
 * by time, so a late event (replication) counts in the right windows.
 */
#include "fraud/fraud.h"
#include "pricing/pricing.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Largest timestamp accepted: 9999-12-31 (ms). */
#define FRAUD_TIME_MAX_MS INT64_C(253402300799999)
#define FRAUD_ITEMS_MAX (PRICING_QTY_MAX * OPLOG_SALE_LINES_MAX)
#define FRAUD_UTC_OFFSET_MAX_MIN 840
#define FRAUD_SALES_WAYS 4
#define FRAUD_SALES_SETS (FRAUD_SALES_MAX / FRAUD_SALES_WAYS)
/* Distinct terminals / tokens told apart per feature (the rings bound them). */
#define FRAUD_DISTINCT_MAX FRAUD_TERMINAL_CARDS_MAX

const char *const fraud_feature_names[FRAUD_N_FEATURES] = {
    [FRAUD_X_IS_VOID] = "is_void",
    [FRAUD_X_IS_RETURN] = "is_return",
    [FRAUD_X_IS_NO_SALE] = "is_no_sale",
    [FRAUD_X_AMOUNT_LOG] = "amount_log",
    [FRAUD_X_AMOUNT_Z] = "amount_z",
    [FRAUD_X_ITEMS] = "items",
    [FRAUD_X_ITEMS_Z] = "items_z",
    [FRAUD_X_ITEM_VALUE_LOG] = "item_value_log",
    [FRAUD_X_DISCOUNT_RATIO] = "discount_ratio",
    [FRAUD_X_CART_LINE_VOIDS] = "cart_line_voids",
    [FRAUD_X_CART_LINE_VOID_RATIO] = "cart_line_void_ratio",
    [FRAUD_X_CART_OVERRIDES] = "cart_overrides",
    [FRAUD_X_CART_OVERRIDE_RATIO] = "cart_override_ratio",
    [FRAUD_X_CART_TENDER_SWITCHES] = "cart_tender_switches",
    [FRAUD_X_CART_CARD_DECLINES] = "cart_card_declines",
    [FRAUD_X_CASH_FRAC] = "cash_frac",
    [FRAUD_X_CARD] = "card",
    [FRAUD_X_CARD_OFFLINE] = "card_offline",
    [FRAUD_X_HOUR] = "hour",
    [FRAUD_X_REF_AGE_MIN] = "ref_age_min",
    [FRAUD_X_REF_SAME_CASHIER] = "ref_same_cashier",
    [FRAUD_X_NO_RECEIPT] = "no_receipt",
    [FRAUD_X_C_SALES_1H] = "c_sales_1h",
    [FRAUD_X_C_VOIDS_8H] = "c_voids_8h",
    [FRAUD_X_C_RETURNS_8H] = "c_returns_8h",
    [FRAUD_X_C_NO_RECEIPT_8H] = "c_no_receipt_8h",
    [FRAUD_X_C_REFUND_RATIO_8H] = "c_refund_ratio_8h",
    [FRAUD_X_C_NO_SALES_8H] = "c_no_sales_8h",
    [FRAUD_X_C_LINE_VOIDS_1H] = "c_line_voids_1h",
    [FRAUD_X_C_OVERRIDES_8H] = "c_overrides_8h",
    [FRAUD_X_C_DISCOUNT_RATIO_8H] = "c_discount_ratio_8h",
    [FRAUD_X_C_TENDER_SWITCHES_1H] = "c_tender_switches_1h",
    [FRAUD_X_C_CARD_DECLINES_1H] = "c_card_declines_1h",
    [FRAUD_X_C_DRAWER_SHORT_7D_LOG] = "c_drawer_short_7d_log",
    [FRAUD_X_C_SECS_SINCE_TXN] = "c_secs_since_txn",
    [FRAUD_X_TOK_USES_24H] = "tok_uses_24h",
    [FRAUD_X_TOK_DECLINES_24H] = "tok_declines_24h",
    [FRAUD_X_TOK_OTHER_TERMINALS_24H] = "tok_other_terminals_24h",
    [FRAUD_X_TOK_OFFLINE_24H] = "tok_offline_24h",
    [FRAUD_X_TOK_AMOUNT_24H_LOG] = "tok_amount_24h_log",
    [FRAUD_X_T_CARD_ATTEMPTS_10M] = "t_card_attempts_10m",
    [FRAUD_X_T_CARD_DECLINES_10M] = "t_card_declines_10m",
    [FRAUD_X_T_SMALL_CARDS_10M] = "t_small_cards_10m",
    [FRAUD_X_T_TOKENS_10M] = "t_tokens_10m",
};

static const char *const KIND_NAMES[FRAUD_EV_KIND_MAX + 1] = {
    [FRAUD_EV_SALE] = "sale",
    [FRAUD_EV_VOID] = "void",
    [FRAUD_EV_RETURN] = "return",
    [FRAUD_EV_NO_SALE] = "no_sale",
    [FRAUD_EV_LINE_VOID] = "line_void",
    [FRAUD_EV_PRICE_OVERRIDE] = "price_override",
    [FRAUD_EV_CARD_ATTEMPT] = "card_attempt",
    [FRAUD_EV_TENDER_SWITCH] = "tender_switch",
    [FRAUD_EV_DRAWER_COUNT] = "drawer_count",
};

void fraud_event_make(fraud_event *e, int kind, int64_t time_ms, const char *terminal,
                      const char *cashier)
{
    memset(e, 0, sizeof *e);
    e->kind = (uint8_t)kind;
    e->time_ms = time_ms;
    snprintf(e->terminal, sizeof e->terminal, "%s", terminal ? terminal : "");
    snprintf(e->cashier, sizeof e->cashier, "%s", cashier ? cashier : "");
}

const char *fraud_event_kind_name(int kind)
{
    return kind >= 1 && kind <= FRAUD_EV_KIND_MAX ? KIND_NAMES[kind] : NULL;
}

int fraud_event_kind_parse(const char *name)
{
    for (int k = 1; k <= FRAUD_EV_KIND_MAX; k++)
        if (strcmp(KIND_NAMES[k], name) == 0)
            return k;
    return 0;
}

bool fraud_event_scored(int kind)
{
    return kind == FRAUD_EV_SALE || kind == FRAUD_EV_VOID || kind == FRAUD_EV_RETURN ||
           kind == FRAUD_EV_NO_SALE;
}

/* ---- checking an event ---- */

static bool terminated(const char *s, size_t size)
{
    return memchr(s, '\0', size) != NULL;
}

int fraud_event_check(const fraud_event *e, kassa_err *err)
{
    const char *kind = fraud_event_kind_name(e->kind);
    if (!kind)
        return kassa_fail(err, KASSA_EINVAL, "event: unknown kind %d", e->kind);
    if (e->flags & ~FRAUD_EVF_ALL)
        return kassa_fail(err, KASSA_EINVAL, "%s event: unknown flags 0x%x", kind, e->flags);
    if (e->time_ms < 0 || e->time_ms > FRAUD_TIME_MAX_MS)
        return kassa_fail(err, KASSA_EINVAL, "%s event: time out of range", kind);
    if (!terminated(e->terminal, sizeof e->terminal) || !kassa_valid_id(e->terminal, KASSA_ID_MAX))
        return kassa_fail(err, KASSA_EINVAL, "%s event: invalid terminal id", kind);
    if (!terminated(e->cashier, sizeof e->cashier) ||
        (e->cashier[0] && !kassa_valid_id(e->cashier, KASSA_ID_MAX)))
        return kassa_fail(err, KASSA_EINVAL, "%s event: invalid cashier id", kind);
    if (!terminated(e->sale.origin, sizeof e->sale.origin) ||
        (e->sale.origin[0] ? !kassa_valid_id(e->sale.origin, KASSA_ID_MAX) || e->sale.seq == 0 ||
                                 e->sale.seq > OPLOG_SEQ_MAX
                           : e->sale.seq != 0))
        return kassa_fail(err, KASSA_EINVAL, "%s event: invalid sale reference", kind);
    bool card_kind = e->kind == FRAUD_EV_SALE || e->kind == FRAUD_EV_CARD_ATTEMPT;
    bool card = e->flags & FRAUD_EVF_CARD;
    if (!terminated(e->token, sizeof e->token) || (card != (e->token[0] != '\0')) ||
        (card && !oplog_word_ok(e->token)))
        return kassa_fail(err, KASSA_EINVAL,
                          "%s event: a card flag needs a valid token, a token "
                          "the card flag",
                          kind);
    if ((card && !card_kind) || (e->kind == FRAUD_EV_CARD_ATTEMPT && !card))
        return kassa_fail(err, KASSA_EINVAL, "%s event: card flag misplaced", kind);
    if ((e->flags & FRAUD_EVF_OFFLINE) && !card)
        return kassa_fail(err, KASSA_EINVAL, "%s event: offline without a card", kind);
    if ((e->flags & FRAUD_EVF_DECLINED) && e->kind != FRAUD_EV_CARD_ATTEMPT)
        return kassa_fail(err, KASSA_EINVAL, "%s event: only card attempts are declined", kind);
    if ((e->flags & FRAUD_EVF_NO_RECEIPT) && e->kind != FRAUD_EV_RETURN)
        return kassa_fail(err, KASSA_EINVAL, "%s event: only returns go without receipt", kind);
    int64_t lo = e->kind == FRAUD_EV_DRAWER_COUNT ? -PRICING_AMOUNT_MAX : 0;
    if (e->amount < lo || e->amount > PRICING_AMOUNT_MAX)
        return kassa_fail(err, KASSA_EINVAL, "%s event: amount out of range", kind);
    if (e->cash < 0 || e->cash > (e->amount > 0 ? e->amount : 0))
        return kassa_fail(err, KASSA_EINVAL, "%s event: cash part outside 0..amount", kind);
    if (e->discount < 0 || e->discount > PRICING_AMOUNT_MAX)
        return kassa_fail(err, KASSA_EINVAL, "%s event: discount out of range", kind);
    if (e->items < 0 || e->items > FRAUD_ITEMS_MAX)
        return kassa_fail(err, KASSA_EINVAL, "%s event: items out of range", kind);
    return KASSA_OK;
}

/* ---- the state ---- */

typedef struct rec {
    int64_t time_ms;
    int64_t amount;
    int64_t discount;
    uint8_t kind;
    uint8_t flags;
} rec;

typedef struct drawer_rec {
    int64_t time_ms;
    int64_t delta;
} drawer_rec;

typedef struct card_rec {
    int64_t time_ms;
    int64_t amount;
    uint64_t other; /* terminal ring: the token's hash; token ring: the terminal's */
    uint8_t flags;
} card_rec;

/* A ring: the newest n entries of a fixed array, oldest at head. */
typedef struct ring {
    size_t head, n;
} ring;

/* Index to write the next entry into (overwriting the oldest when full). */
static size_t ring_push(ring *r, size_t cap)
{
    assert(r->n <= cap && r->head < cap);
    if (r->n < cap)
        return (r->head + r->n++) % cap;
    size_t at = r->head;
    r->head = (r->head + 1) % cap;
    return at;
}

/* Index of the i-th newest entry (i < n). */
static size_t ring_newest(const ring *r, size_t i, size_t cap)
{
    assert(i < r->n);
    return (r->head + r->n - 1 - i) % cap;
}

/* What cashier and terminal slots share: their id and when last seen (the
 * least recently seen is replaced when the table is full). */
typedef struct slot_head {
    bool used;
    uint64_t hash;
    uint64_t tick;
    char id[KASSA_ID_MAX + 1];
} slot_head;

typedef struct cashier_slot {
    slot_head h;
    ring ev_ring;
    rec ev[FRAUD_CASHIER_EVENTS_MAX];
    ring drawer_ring;
    drawer_rec drawer[FRAUD_CASHIER_DRAWER_MAX];
} cashier_slot;

typedef struct terminal_slot {
    slot_head h;
    ring card_ring;
    card_rec cards[FRAUD_TERMINAL_CARDS_MAX];
} terminal_slot;

typedef struct token_slot {
    bool used;
    uint64_t hash;
    uint64_t tick;
    char token[OPLOG_TOKEN_MAX + 1];
    ring use_ring;
    card_rec uses[FRAUD_TOKEN_EVENTS_MAX];
} token_slot;

typedef struct sale_slot {
    bool used;
    uint64_t ref_hash;
    uint64_t cashier_hash;
    int64_t time_ms;
} sale_slot;

/* Running mean and variance; an exponentially weighted average once
 * FRAUD_NORM_SALES values were seen. */
typedef struct norm {
    double n, mean, var;
} norm;

struct fraud_state {
    fraud_config cfg;
    uint64_t tick;
    norm amount_norm; /* ln(1 + amount) of sales */
    norm items_norm;
    cashier_slot cashiers[FRAUD_CASHIERS_MAX];
    terminal_slot terminals[FRAUD_TERMINALS_MAX];
    token_slot tokens[FRAUD_TOKENS_MAX];
    sale_slot sales[FRAUD_SALES_MAX];
};

int fraud_state_new(const fraud_config *cfg, fraud_state **out, kassa_err *err)
{
    *out = NULL;
    fraud_config c = {0};
    if (cfg)
        c = *cfg;
    if (c.utc_offset_min < -FRAUD_UTC_OFFSET_MAX_MIN || c.utc_offset_min > FRAUD_UTC_OFFSET_MAX_MIN)
        return kassa_fail(err, KASSA_EINVAL, "fraud: UTC offset %d min outside -%d..%d",
                          (int)c.utc_offset_min, FRAUD_UTC_OFFSET_MAX_MIN,
                          FRAUD_UTC_OFFSET_MAX_MIN);
    fraud_state *s = calloc(1, sizeof *s);
    if (!s)
        return kassa_fail(err, KASSA_ENOMEM, "fraud: out of memory for the state (%zu bytes)",
                          sizeof *s);
    s->cfg = c;
    *out = s;
    return KASSA_OK;
}

void fraud_state_free(fraud_state *s)
{
    free(s);
}

/* FNV-1a, 64 bits. */
#define FNV_OFFSET UINT64_C(14695981039346656037)
#define FNV_PRIME UINT64_C(1099511628211)

static uint64_t hash_bytes(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * FNV_PRIME;
    return h;
}

static uint64_t hash_str(const char *s)
{
    return hash_bytes(FNV_OFFSET, s, strlen(s));
}

static uint64_t hash_ref(const oplog_sale_ref *r)
{
    uint64_t h = hash_str(r->origin);
    return hash_bytes(h ^ 0x2d, &r->seq, sizeof r->seq);
}

/* Looks an id up in a small table of slots (linear: 64 of them), each
 * starting with its slot_head, stride bytes apart. */
static const slot_head *table_find(const void *slots, size_t n, size_t stride, const char *id,
                                   uint64_t hash)
{
    for (size_t i = 0; i < n; i++) {
        const slot_head *h = (const slot_head *)((const char *)slots + i * stride);
        if (h->used && h->hash == hash && strcmp(h->id, id) == 0)
            return h;
    }
    return NULL;
}

/* The id's slot, else a new one in place of an unused or the least
 * recently seen slot; marked seen at tick. */
static slot_head *table_get(void *slots, size_t n, size_t stride, const char *id, uint64_t tick)
{
    uint64_t hash = hash_str(id);
    slot_head *h = (slot_head *)table_find(slots, n, stride, id, hash);
    if (!h) {
        for (size_t i = 0; i < n; i++) {
            slot_head *c = (slot_head *)((char *)slots + i * stride);
            if (!h || !c->used || c->tick < h->tick)
                h = c;
            if (!c->used)
                break;
        }
        memset(h, 0, stride);
        h->used = true;
        h->hash = hash;
        snprintf(h->id, sizeof h->id, "%s", id);
    }
    h->tick = tick;
    return h;
}

static const cashier_slot *cashier_find(const fraud_state *s, const char *id)
{
    return (const cashier_slot *)table_find(s->cashiers, FRAUD_CASHIERS_MAX, sizeof s->cashiers[0],
                                            id, hash_str(id));
}

static const terminal_slot *terminal_find(const fraud_state *s, const char *id)
{
    return (const terminal_slot *)table_find(s->terminals, FRAUD_TERMINALS_MAX,
                                             sizeof s->terminals[0], id, hash_str(id));
}

/* Tokens: open addressing over FRAUD_TOKEN_PROBE_MAX slots from the home
 * slot. Slots are never emptied (a full window replaces its least recently
 * used token), so a lookup may stop at the first unused slot. */
static const token_slot *token_find(const fraud_state *s, const char *token, uint64_t h)
{
    for (size_t i = 0; i < FRAUD_TOKEN_PROBE_MAX; i++) {
        const token_slot *t = &s->tokens[(h + i) % FRAUD_TOKENS_MAX];
        if (!t->used)
            return NULL;
        if (t->hash == h && strcmp(t->token, token) == 0)
            return t;
    }
    return NULL;
}

static token_slot *token_get(fraud_state *s, const char *token)
{
    uint64_t h = hash_str(token);
    token_slot *victim = NULL;
    for (size_t i = 0; i < FRAUD_TOKEN_PROBE_MAX; i++) {
        token_slot *t = &s->tokens[(h + i) % FRAUD_TOKENS_MAX];
        if (t->used && t->hash == h && strcmp(t->token, token) == 0) {
            t->tick = s->tick;
            return t;
        }
        if (!t->used) {
            victim = t;
            break;
        }
        if (!victim || t->tick < victim->tick)
            victim = t;
    }
    memset(victim, 0, sizeof *victim);
    victim->used = true;
    victim->hash = h;
    victim->tick = s->tick;
    snprintf(victim->token, sizeof victim->token, "%s", token);
    return victim;
}

static const sale_slot *sale_find(const fraud_state *s, uint64_t ref_hash)
{
    const sale_slot *set = &s->sales[(ref_hash % FRAUD_SALES_SETS) * FRAUD_SALES_WAYS];
    for (size_t i = 0; i < FRAUD_SALES_WAYS; i++)
        if (set[i].used && set[i].ref_hash == ref_hash)
            return &set[i];
    return NULL;
}

static void sale_put(fraud_state *s, uint64_t ref_hash, uint64_t cashier_hash, int64_t time_ms)
{
    sale_slot *set = &s->sales[(ref_hash % FRAUD_SALES_SETS) * FRAUD_SALES_WAYS];
    /* The same sale again, else an unused way (ways fill in order and are
     * never emptied), else the oldest sale of the set. */
    sale_slot *victim = &set[0];
    for (size_t i = 0; i < FRAUD_SALES_WAYS; i++) {
        if (!set[i].used || set[i].ref_hash == ref_hash) {
            victim = &set[i];
            break;
        }
        if (set[i].time_ms < victim->time_ms)
            victim = &set[i];
    }
    *victim = (sale_slot){
        .used = true, .ref_hash = ref_hash, .cashier_hash = cashier_hash, .time_ms = time_ms};
}

static void norm_add(norm *n, double x)
{
    n->n = n->n + 1 < FRAUD_NORM_SALES ? n->n + 1 : FRAUD_NORM_SALES;
    double d = x - n->mean;
    n->mean += d / n->n;
    n->var += (d * (x - n->mean) - n->var) / n->n;
}

/* (x - mean) / sd; NaN before FRAUD_NORM_MIN_SALES or without spread. */
static float norm_z(const norm *n, double x)
{
    if (n->n < FRAUD_NORM_MIN_SALES || n->var < 1e-12)
        return NAN;
    return (float)((x - n->mean) / sqrt(n->var));
}

static void card_push(card_rec *ring_arr, ring *r, size_t cap, const fraud_event *e, int64_t amount,
                      uint64_t other)
{
    ring_arr[ring_push(r, cap)] =
        (card_rec){.time_ms = e->time_ms, .amount = amount, .other = other, .flags = e->flags};
}

int fraud_observe(fraud_state *s, const fraud_event *e, kassa_err *err)
{
    int rc = fraud_event_check(e, err);
    if (rc != KASSA_OK)
        return rc;
    s->tick++;
    cashier_slot *c = (cashier_slot *)table_get(s->cashiers, FRAUD_CASHIERS_MAX,
                                                sizeof s->cashiers[0], e->cashier, s->tick);
    if (e->kind == FRAUD_EV_DRAWER_COUNT) {
        c->drawer[ring_push(&c->drawer_ring, FRAUD_CASHIER_DRAWER_MAX)] =
            (drawer_rec){.time_ms = e->time_ms, .delta = e->amount};
        return KASSA_OK;
    }
    c->ev[ring_push(&c->ev_ring, FRAUD_CASHIER_EVENTS_MAX)] = (rec){
        .time_ms = e->time_ms,
        .amount = e->amount,
        .discount = e->discount,
        .kind = e->kind,
        .flags = e->flags,
    };
    if (e->kind == FRAUD_EV_SALE) {
        norm_add(&s->amount_norm, log1p((double)e->amount));
        norm_add(&s->items_norm, (double)e->items);
        if (e->sale.origin[0])
            sale_put(s, hash_ref(&e->sale), c->h.hash, e->time_ms);
    }
    if (e->flags & FRAUD_EVF_CARD) {
        int64_t card_amount = e->kind == FRAUD_EV_SALE ? e->amount - e->cash : e->amount;
        terminal_slot *t = (terminal_slot *)table_get(s->terminals, FRAUD_TERMINALS_MAX,
                                                      sizeof s->terminals[0], e->terminal, s->tick);
        token_slot *k = token_get(s, e->token);
        card_push(t->cards, &t->card_ring, FRAUD_TERMINAL_CARDS_MAX, e, card_amount, k->hash);
        card_push(k->uses, &k->use_ring, FRAUD_TOKEN_EVENTS_MAX, e, card_amount, t->h.hash);
    }
    return KASSA_OK;
}

/* ---- features ---- */

static float ratio(double part, double whole)
{
    return whole > 0 ? (float)(part / whole) : 0.0f;
}

static float log_major(double minor)
{
    return (float)log1p(minor / 100.0);
}

/* Whether 0 <= t - time <= window. */
static bool within(int64_t t, int64_t time_ms, int64_t window_ms)
{
    return time_ms <= t && t - time_ms <= window_ms;
}

/* Adds h to the set of distinct values (ignored once it holds cap). */
static void distinct_add(uint64_t *set, size_t *n, size_t cap, uint64_t h)
{
    for (size_t i = 0; i < *n; i++)
        if (set[i] == h)
            return;
    if (*n < cap)
        set[(*n)++] = h;
}

static void cashier_features(const fraud_state *s, const fraud_event *e, float *x)
{
    const int64_t t = e->time_ms;
    const cashier_slot *c = cashier_find(s, e->cashier);
    double lv = 0, lv_value = 0, ov = 0, ov_value = 0, sw = 0, dec = 0;
    double sales_1h = 0, voids = 0, returns = 0, no_receipt = 0, refunds = 0, sold = 0;
    double no_sales = 0, line_voids_1h = 0, overrides = 0, discount = 0, gross = 0;
    double switches_1h = 0, declines_1h = 0, short_minor = 0;
    int64_t last_txn = -1;
    bool in_cart = true;
    size_t n = c ? c->ev_ring.n : 0;
    for (size_t i = 0; i < n; i++) {
        const rec *r = &c->ev[ring_newest(&c->ev_ring, i, FRAUD_CASHIER_EVENTS_MAX)];
        bool declined = r->kind == FRAUD_EV_CARD_ATTEMPT && (r->flags & FRAUD_EVF_DECLINED);
        /* The cart: events since the cashier's last transaction. */
        if (in_cart && fraud_event_scored(r->kind))
            in_cart = false;
        if (in_cart && within(t, r->time_ms, FRAUD_CART_MAX_MS)) {
            lv += r->kind == FRAUD_EV_LINE_VOID;
            lv_value += r->kind == FRAUD_EV_LINE_VOID ? (double)r->amount : 0;
            ov += r->kind == FRAUD_EV_PRICE_OVERRIDE;
            ov_value += r->kind == FRAUD_EV_PRICE_OVERRIDE ? (double)r->amount : 0;
            sw += r->kind == FRAUD_EV_TENDER_SWITCH;
            dec += declined;
        }
        if (!within(t, r->time_ms, FRAUD_WIN_SHIFT_MS))
            continue;
        bool short_win = t - r->time_ms <= FRAUD_WIN_SHORT_MS;
        if (fraud_event_scored(r->kind) && r->time_ms > last_txn)
            last_txn = r->time_ms;
        switch (r->kind) {
        case FRAUD_EV_SALE:
            sales_1h += short_win;
            sold += (double)r->amount;
            discount += (double)r->discount;
            gross += (double)r->amount + (double)r->discount;
            break;
        case FRAUD_EV_VOID:
            voids++;
            refunds += (double)r->amount;
            break;
        case FRAUD_EV_RETURN:
            returns++;
            no_receipt += (r->flags & FRAUD_EVF_NO_RECEIPT) != 0;
            refunds += (double)r->amount;
            break;
        case FRAUD_EV_NO_SALE:
            no_sales++;
            break;
        case FRAUD_EV_LINE_VOID:
            line_voids_1h += short_win;
            break;
        case FRAUD_EV_PRICE_OVERRIDE:
            overrides++;
            break;
        case FRAUD_EV_TENDER_SWITCH:
            switches_1h += short_win;
            break;
        case FRAUD_EV_CARD_ATTEMPT:
            declines_1h += short_win && declined;
            break;
        default:
            break;
        }
    }
    size_t nd = c ? c->drawer_ring.n : 0;
    for (size_t i = 0; i < nd; i++) {
        const drawer_rec *d = &c->drawer[ring_newest(&c->drawer_ring, i, FRAUD_CASHIER_DRAWER_MAX)];
        if (d->delta < 0 && within(t, d->time_ms, FRAUD_WIN_DRAWER_MS))
            short_minor -= (double)d->delta;
    }
    double amount = (double)e->amount;
    x[FRAUD_X_CART_LINE_VOIDS] = (float)lv;
    x[FRAUD_X_CART_LINE_VOID_RATIO] = ratio(lv_value, lv_value + amount);
    x[FRAUD_X_CART_OVERRIDES] = (float)ov;
    x[FRAUD_X_CART_OVERRIDE_RATIO] = ratio(ov_value, ov_value + amount);
    x[FRAUD_X_CART_TENDER_SWITCHES] = (float)sw;
    x[FRAUD_X_CART_CARD_DECLINES] = (float)dec;
    x[FRAUD_X_C_SALES_1H] = (float)sales_1h;
    x[FRAUD_X_C_VOIDS_8H] = (float)voids;
    x[FRAUD_X_C_RETURNS_8H] = (float)returns;
    x[FRAUD_X_C_NO_RECEIPT_8H] = (float)no_receipt;
    x[FRAUD_X_C_REFUND_RATIO_8H] = ratio(refunds, refunds + sold);
    x[FRAUD_X_C_NO_SALES_8H] = (float)no_sales;
    x[FRAUD_X_C_LINE_VOIDS_1H] = (float)line_voids_1h;
    x[FRAUD_X_C_OVERRIDES_8H] = (float)overrides;
    x[FRAUD_X_C_DISCOUNT_RATIO_8H] = ratio(discount, gross);
    x[FRAUD_X_C_TENDER_SWITCHES_1H] = (float)switches_1h;
    x[FRAUD_X_C_CARD_DECLINES_1H] = (float)declines_1h;
    x[FRAUD_X_C_DRAWER_SHORT_7D_LOG] = log_major(short_minor);
    x[FRAUD_X_C_SECS_SINCE_TXN] = last_txn >= 0 ? (float)((double)(t - last_txn) / 1000.0) : NAN;
}

static void card_features(const fraud_state *s, const fraud_event *e, float *x)
{
    const int64_t t = e->time_ms;
    uint64_t term_hash = hash_str(e->terminal);
    double uses = 0, declines = 0, offline = 0, amount = 0;
    uint64_t seen[FRAUD_DISTINCT_MAX];
    size_t n_seen = 0;
    const token_slot *k =
        (e->flags & FRAUD_EVF_CARD) ? token_find(s, e->token, hash_str(e->token)) : NULL;
    for (size_t i = 0; k && i < k->use_ring.n; i++) {
        const card_rec *u = &k->uses[ring_newest(&k->use_ring, i, FRAUD_TOKEN_EVENTS_MAX)];
        if (!within(t, u->time_ms, FRAUD_WIN_TOKEN_MS))
            continue;
        bool declined = u->flags & FRAUD_EVF_DECLINED;
        uses++;
        declines += declined;
        offline += !declined && (u->flags & FRAUD_EVF_OFFLINE);
        amount += declined ? 0 : (double)u->amount;
        if (u->other != term_hash)
            distinct_add(seen, &n_seen, FRAUD_DISTINCT_MAX, u->other);
    }
    x[FRAUD_X_TOK_USES_24H] = (float)uses;
    x[FRAUD_X_TOK_DECLINES_24H] = (float)declines;
    x[FRAUD_X_TOK_OTHER_TERMINALS_24H] = (float)n_seen;
    x[FRAUD_X_TOK_OFFLINE_24H] = (float)offline;
    x[FRAUD_X_TOK_AMOUNT_24H_LOG] = log_major(amount);

    double attempts = 0, t_declines = 0, small = 0;
    n_seen = 0;
    const terminal_slot *term = terminal_find(s, e->terminal);
    for (size_t i = 0; term && i < term->card_ring.n; i++) {
        const card_rec *a =
            &term->cards[ring_newest(&term->card_ring, i, FRAUD_TERMINAL_CARDS_MAX)];
        if (!within(t, a->time_ms, FRAUD_WIN_CARD_MS))
            continue;
        attempts++;
        t_declines += (a->flags & FRAUD_EVF_DECLINED) != 0;
        small += a->amount <= FRAUD_SMALL_CARD_MINOR;
        distinct_add(seen, &n_seen, FRAUD_DISTINCT_MAX, a->other);
    }
    x[FRAUD_X_T_CARD_ATTEMPTS_10M] = (float)attempts;
    x[FRAUD_X_T_CARD_DECLINES_10M] = (float)t_declines;
    x[FRAUD_X_T_SMALL_CARDS_10M] = (float)small;
    x[FRAUD_X_T_TOKENS_10M] = (float)n_seen;
}

/* Local hour of day, 0 <= h < 24. */
static float local_hour(const fraud_state *s, int64_t time_ms)
{
    const int64_t day_ms = INT64_C(86400000);
    int64_t local = time_ms + (int64_t)s->cfg.utc_offset_min * 60000;
    int64_t in_day = ((local % day_ms) + day_ms) % day_ms;
    return (float)((double)in_day / 3600000.0);
}

int fraud_features(const fraud_state *s, const fraud_event *e, float x[FRAUD_N_FEATURES],
                   kassa_err *err)
{
    int rc = fraud_event_check(e, err);
    if (rc != KASSA_OK)
        return rc;
    if (!fraud_event_scored(e->kind))
        return kassa_fail(err, KASSA_EINVAL, "%s events are not scored",
                          fraud_event_kind_name(e->kind));
    double amount = (double)e->amount, items = (double)e->items;
    x[FRAUD_X_IS_VOID] = e->kind == FRAUD_EV_VOID;
    x[FRAUD_X_IS_RETURN] = e->kind == FRAUD_EV_RETURN;
    x[FRAUD_X_IS_NO_SALE] = e->kind == FRAUD_EV_NO_SALE;
    x[FRAUD_X_AMOUNT_LOG] = log_major(amount);
    x[FRAUD_X_AMOUNT_Z] = norm_z(&s->amount_norm, log1p(amount));
    x[FRAUD_X_ITEMS] = (float)items;
    x[FRAUD_X_ITEMS_Z] = norm_z(&s->items_norm, items);
    x[FRAUD_X_ITEM_VALUE_LOG] = e->items > 0 ? log_major(amount / items) : NAN;
    x[FRAUD_X_DISCOUNT_RATIO] =
        e->kind == FRAUD_EV_SALE ? ratio((double)e->discount, amount + (double)e->discount) : 0;
    x[FRAUD_X_CASH_FRAC] = e->amount > 0 ? (float)((double)e->cash / amount) : NAN;
    x[FRAUD_X_CARD] = (e->flags & FRAUD_EVF_CARD) != 0;
    x[FRAUD_X_CARD_OFFLINE] = (e->flags & FRAUD_EVF_OFFLINE) != 0;
    x[FRAUD_X_HOUR] = local_hour(s, e->time_ms);
    x[FRAUD_X_NO_RECEIPT] = (e->flags & FRAUD_EVF_NO_RECEIPT) != 0;
    x[FRAUD_X_REF_AGE_MIN] = NAN;
    x[FRAUD_X_REF_SAME_CASHIER] = NAN;
    if ((e->kind == FRAUD_EV_VOID || e->kind == FRAUD_EV_RETURN) && e->sale.origin[0]) {
        const sale_slot *sale = sale_find(s, hash_ref(&e->sale));
        if (sale) {
            int64_t age_ms = e->time_ms > sale->time_ms ? e->time_ms - sale->time_ms : 0;
            x[FRAUD_X_REF_AGE_MIN] = (float)((double)age_ms / 60000.0);
            x[FRAUD_X_REF_SAME_CASHIER] = sale->cashier_hash == hash_str(e->cashier);
        }
    }
    cashier_features(s, e, x);
    card_features(s, e, x);
    return KASSA_OK;
}
