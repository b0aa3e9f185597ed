/*
 * projections.c: what a batch's new operations change in the projections
 * (docs/CLOUD.md, "Schema"), inside the ingest transaction.
 *
 * Everything is summed in memory first, then written with one statement
 * per table (arrays unnested), so a batch of 10,000 sales costs a handful
 * of round trips, not one per operation:
 *
 *  - stock(store_id, sku, qty): sales -qty, receipts +qty, counts +delta,
 *    and what voids and returns credit back. Credits follow the
 *    terminals' merge rule (ARCHITECTURE.md, "Merge rules"): per sale and
 *    SKU, all units sold once the sale has any void, else min(units
 *    returned, units sold); only the growth of that figure is booked. So a
 *    sale voided twice, or voided and returned, credits its units once,
 *    and the cloud's stock is the terminals' stock. The state behind it is
 *    kept for refunded sales only (refunded_sales, refunded_lines); a void
 *    or return whose sale has not arrived yet waits there (known = false)
 *    and is credited in the batch that brings the sale.
 *  - sales_daily(store_id, day, sales, total_minor, refunds_minor): by the
 *    UTC day of each operation's HLC; sales and their totals, and what
 *    voids and returns refunded (on the day of the refund).
 *  - review_items: negative_stock for every SKU of the batch whose stock is
 *    below zero afterwards (ref = sku, detail {"qty"}); card_declined for a
 *    payment outcome declined, expired or refund_declined (ref = payment
 *    id), marked resolved by a later resolution.
 *
 * The projections of one store are written under a per-store transaction
 * lock, so that two instances ingesting two origins of one store do not
 * both miss a void whose sale the other is storing.
 */
#include "cloudd/cloudd.h"

#include "jlog/jlog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS_PER_DAY 86400000u
/* pg_advisory_xact_lock(PROJECT_LOCK_CLASS, hashtext(store)) */
#define PROJECT_LOCK_CLASS "7302742"
#define N_ARRAYS 7

/* ---- SKU -> stock delta, open addressing ---- */

typedef struct sku_slot {
    char sku[KASSA_SKU_MAX + 1]; /* "" when free */
    int64_t delta;
} sku_slot;

typedef struct sku_map {
    sku_slot *slot;
    size_t cap, used;
} sku_map;

static size_t sku_hash(const char *s)
{
    uint64_t h = 1469598103934665603u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211u;
    return (size_t)h;
}

static sku_slot *sku_find(sku_slot *slots, size_t cap, const char *sku)
{
    size_t i = sku_hash(sku) & (cap - 1);
    while (slots[i].sku[0] && strcmp(slots[i].sku, sku) != 0)
        i = (i + 1) & (cap - 1);
    return &slots[i];
}

static int sku_grow(sku_map *m)
{
    size_t cap = m->cap ? m->cap * 2 : 64;
    sku_slot *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < m->cap; i++)
        if (m->slot[i].sku[0])
            *sku_find(slots, cap, m->slot[i].sku) = m->slot[i];
    free(m->slot);
    m->slot = slots;
    m->cap = cap;
    return 0;
}

static int sku_add(sku_map *m, const char *sku, int64_t delta, kassa_err *err)
{
    if ((m->used + 1) * 2 > m->cap && sku_grow(m) != 0)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory");
    sku_slot *s = sku_find(m->slot, m->cap, sku);
    if (!s->sku[0]) {
        snprintf(s->sku, sizeof s->sku, "%s", sku);
        m->used++;
    }
    if (!kassa_add_i64(s->delta, delta, &s->delta))
        return kassa_fail(err, KASSA_EOVERFLOW, "the stock of %s overflows in this batch", sku);
    return KASSA_OK;
}

/* ---- refund state of one sale ---- */

typedef struct ref_line {
    char sku[KASSA_SKU_MAX + 1];
    int64_t sold, returned, credited;
} ref_line;

typedef struct ref_sale {
    oplog_sale_ref ref;
    bool known, voided;
    ref_line *lines;
    size_t n_lines, cap_lines;
} ref_sale;

typedef struct day_sum {
    int64_t day; /* days since 1970-01-01 */
    int64_t sales, total, refunds;
} day_sum;

typedef struct proj {
    cd_db *db;
    const char *store;
    const oplog_op *const *ops; /* sorted by (origin, seq) */
    size_t n;
    oplog_payload *pl;
    sku_map stock;
    day_sum *days;
    size_t n_days, cap_days;
    ref_sale *refs;
    size_t n_refs, cap_refs;
    kbuf arr[N_ARRAYS];
    kbuf declined[2]; /* card_declined review items: payment ids, details */
    kbuf resolved;    /* payment ids of resolutions */
} proj;

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t cap2 = *cap ? *cap * 2 : 16;
    while (cap2 < need)
        cap2 *= 2;
    void *q = realloc(*p, cap2 * size);
    if (!q)
        return -1;
    *p = q;
    *cap = cap2;
    return 0;
}

static int64_t day_of(hlc_ts hlc)
{
    return (int64_t)(hlc_physical_ms(hlc) / MS_PER_DAY);
}

static day_sum *day_at(proj *p, int64_t day)
{
    for (size_t i = 0; i < p->n_days; i++)
        if (p->days[i].day == day)
            return &p->days[i];
    if (grow((void **)&p->days, &p->cap_days, p->n_days + 1, sizeof *p->days) != 0)
        return NULL;
    p->days[p->n_days] = (day_sum){.day = day};
    return &p->days[p->n_days++];
}

static int add_ref(proj *p, const oplog_sale_ref *ref, kassa_err *err)
{
    if (grow((void **)&p->refs, &p->cap_refs, p->n_refs + 1, sizeof *p->refs) != 0)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory");
    p->refs[p->n_refs++] = (ref_sale){.ref = *ref};
    return KASSA_OK;
}

static int cmp_ref(const oplog_sale_ref *a, const oplog_sale_ref *b)
{
    int c = strcmp(a->origin, b->origin);
    if (c)
        return c;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static int by_ref(const void *a, const void *b)
{
    return cmp_ref(&((const ref_sale *)a)->ref, &((const ref_sale *)b)->ref);
}

static int ref_key_cmp(const void *key, const void *elem)
{
    return cmp_ref(key, &((const ref_sale *)elem)->ref);
}

static ref_sale *find_ref(proj *p, const char *origin, uint64_t seq)
{
    oplog_sale_ref key = {.seq = seq};
    snprintf(key.origin, sizeof key.origin, "%s", origin);
    return bsearch(&key, p->refs, p->n_refs, sizeof *p->refs, ref_key_cmp);
}

static int op_key_cmp(const void *key, const void *elem)
{
    const oplog_op *op = *(const oplog_op *const *)elem;
    oplog_sale_ref at = {.seq = op->seq};
    memcpy(at.origin, op->origin, sizeof at.origin);
    return cmp_ref(key, &at);
}

/* The batch's sale (origin, seq), or NULL. */
static const oplog_op *batch_sale(const proj *p, const char *origin, uint64_t seq)
{
    oplog_sale_ref key = {.seq = seq};
    snprintf(key.origin, sizeof key.origin, "%s", origin);
    const oplog_op *const *at = bsearch(&key, p->ops, p->n, sizeof *p->ops, op_key_cmp);
    return at && (*at)->kind == OP_SALE ? *at : NULL;
}

static ref_line *line_at(ref_sale *s, const char *sku)
{
    for (size_t i = 0; i < s->n_lines; i++)
        if (strcmp(s->lines[i].sku, sku) == 0)
            return &s->lines[i];
    if (grow((void **)&s->lines, &s->cap_lines, s->n_lines + 1, sizeof *s->lines) != 0)
        return NULL;
    ref_line *l = &s->lines[s->n_lines++];
    *l = (ref_line){0};
    snprintf(l->sku, sizeof l->sku, "%s", sku);
    return l;
}

static int decode(proj *p, int kind, const uint8_t *payload, size_t len, kassa_err *err)
{
    kassa_err derr;
    if (oplog_decode(kind, payload, len, p->pl, &derr) != KASSA_OK)
        return kassa_fail(err, KASSA_ECORRUPT, "an operation of kind %s: %s", oplog_kind_name(kind),
                          derr.msg);
    return KASSA_OK;
}

/* The sale arrived (here or earlier): its units sold per SKU. */
static int know_sale(proj *p, ref_sale *s, const uint8_t *payload, size_t len, kassa_err *err)
{
    int rc = decode(p, OP_SALE, payload, len, err);
    if (rc != KASSA_OK)
        return rc;
    const oplog_sale *sale = &p->pl->sale;
    for (size_t i = 0; i < sale->n_lines; i++) {
        ref_line *l = line_at(s, sale->lines[i].sku);
        if (!l)
            return kassa_fail(err, KASSA_ENOMEM, "out of memory");
        if (!kassa_add_i64(l->sold, sale->lines[i].qty, &l->sold))
            return kassa_fail(err, KASSA_EOVERFLOW, "units sold overflow");
    }
    s->known = true;
    return KASSA_OK;
}

/* ---- pass 1: what each operation adds ---- */

static int card_review(proj *p, const oplog_payment *pay)
{
    if (pay->outcome == OPLOG_PAY_RESOLVED) {
        cd_array_text(&p->resolved, pay->id);
        return KASSA_OK;
    }
    if (pay->outcome != OPLOG_PAY_DECLINED && pay->outcome != OPLOG_PAY_EXPIRED &&
        pay->outcome != OPLOG_PAY_REFUND_DECLINED)
        return KASSA_OK;
    json_t *reason = cd_json_text(pay->reason);
    json_t *d = json_pack("{s:s,s:o}", "outcome", oplog_pay_outcome_name(pay->outcome), "reason",
                          reason ? reason : json_string(""));
    char *text = d ? json_dumps(d, JSON_COMPACT) : NULL;
    json_decref(d);
    if (!text)
        return KASSA_ENOMEM;
    cd_array_text(&p->declined[0], pay->id);
    cd_array_text(&p->declined[1], text);
    free(text);
    return KASSA_OK;
}

static int sum_op(proj *p, const oplog_op *op, kassa_err *err)
{
    if (op->kind != OP_SALE && op->kind != OP_VOID && op->kind != OP_RETURN &&
        op->kind != OP_STOCK_RECEIVE && op->kind != OP_STOCK_COUNT && op->kind != OP_PAYMENT)
        return KASSA_OK;
    int rc = decode(p, op->kind, op->payload, op->payload_len, err);
    if (rc != KASSA_OK)
        return rc;
    day_sum *d = NULL;
    if ((op->kind == OP_SALE || op->kind == OP_VOID || op->kind == OP_RETURN) &&
        !(d = day_at(p, day_of(op->hlc))))
        return kassa_fail(err, KASSA_ENOMEM, "out of memory");
    const oplog_payload *pl = p->pl;
    bool ok = true;
    switch (op->kind) {
    case OP_SALE:
        for (size_t i = 0; rc == KASSA_OK && i < pl->sale.n_lines; i++)
            rc = sku_add(&p->stock, pl->sale.lines[i].sku, -pl->sale.lines[i].qty, err);
        d->sales++;
        ok = kassa_add_i64(d->total, pl->sale.total, &d->total);
        break;
    case OP_VOID:
        ok = kassa_add_i64(d->refunds, pl->void_.refund, &d->refunds);
        rc = add_ref(p, &pl->void_.sale, err); /* deduplicated in refunds() */
        break;
    case OP_RETURN:
        ok = kassa_add_i64(d->refunds, pl->ret.refund, &d->refunds);
        rc = add_ref(p, &pl->ret.sale, err);
        break;
    case OP_STOCK_RECEIVE:
        rc = sku_add(&p->stock, pl->stock.sku, pl->stock.qty, err);
        break;
    case OP_STOCK_COUNT:
        rc = sku_add(&p->stock, pl->stock.sku, pl->stock.delta, err);
        break;
    case OP_PAYMENT:
        if (card_review(p, &pl->payment) != KASSA_OK)
            rc = kassa_fail(err, KASSA_ENOMEM, "out of memory");
        break;
    }
    if (rc == KASSA_OK && !ok)
        rc = kassa_fail(err, KASSA_EOVERFLOW, "a daily sales total overflows in this batch");
    return rc;
}

/* ---- refunds ---- */

/* Refunds recorded earlier whose sale is in this batch. */
static int pending_refs(proj *p, kassa_err *err)
{
    const char *params[] = {p->store};
    PGresult *res = cd_db_query(p->db,
                                "SELECT origin, seq FROM refunded_sales"
                                " WHERE store_id = $1 AND NOT known",
                                1, params, NULL, NULL, false, err);
    if (!res)
        return KASSA_EIO;
    int rc = KASSA_OK;
    for (int i = 0; rc == KASSA_OK && i < PQntuples(res); i++) {
        oplog_sale_ref ref = {.seq = strtoull(PQgetvalue(res, i, 1), NULL, 10)};
        snprintf(ref.origin, sizeof ref.origin, "%s", PQgetvalue(res, i, 0));
        if (batch_sale(p, ref.origin, ref.seq))
            rc = add_ref(p, &ref, err);
    }
    PQclear(res);
    return rc;
}

/* What the refunded sales stood at before this batch. */
static int load_refunds(proj *p, kassa_err *err)
{
    cd_arrays_begin(p->arr, 2);
    for (size_t i = 0; i < p->n_refs; i++) {
        cd_array_text(&p->arr[0], p->refs[i].ref.origin);
        cd_array_i64(&p->arr[1], (int64_t)p->refs[i].ref.seq);
    }
    PGresult *res = cd_db_query_arrays(
        p->db,
        "SELECT s.origin, s.seq, s.known, s.voided, l.sku, l.sold, l.returned, l.credited"
        " FROM unnest($2::text[], $3::bigint[]) AS r(origin, seq)"
        " JOIN refunded_sales s ON s.store_id = $1 AND s.origin = r.origin AND s.seq = r.seq"
        " LEFT JOIN refunded_lines l"
        "  ON l.store_id = $1 AND l.origin = s.origin AND l.seq = s.seq",
        p->store, p->arr, 2, false, err);
    if (!res)
        return err->code;
    int rc = KASSA_OK;
    for (int i = 0; rc == KASSA_OK && i < PQntuples(res); i++) {
        ref_sale *s = find_ref(p, PQgetvalue(res, i, 0), strtoull(PQgetvalue(res, i, 1), NULL, 10));
        if (!s)
            continue;
        s->known = PQgetvalue(res, i, 2)[0] == 't';
        s->voided = PQgetvalue(res, i, 3)[0] == 't';
        if (PQgetisnull(res, i, 4))
            continue;
        ref_line *l = line_at(s, PQgetvalue(res, i, 4));
        if (!l) {
            rc = kassa_fail(err, KASSA_ENOMEM, "out of memory");
            break;
        }
        l->sold = strtoll(PQgetvalue(res, i, 5), NULL, 10);
        l->returned = strtoll(PQgetvalue(res, i, 6), NULL, 10);
        l->credited = strtoll(PQgetvalue(res, i, 7), NULL, 10);
    }
    PQclear(res);
    return rc;
}

/* Sales not known yet: in this batch, or stored by an earlier one. */
static int find_sales(proj *p, kassa_err *err)
{
    int rc = KASSA_OK;
    cd_arrays_begin(p->arr, 2);
    size_t wanted = 0;
    for (size_t i = 0; rc == KASSA_OK && i < p->n_refs; i++) {
        ref_sale *s = &p->refs[i];
        if (s->known)
            continue;
        const oplog_op *op = batch_sale(p, s->ref.origin, s->ref.seq);
        if (op) {
            rc = know_sale(p, s, op->payload, op->payload_len, err);
            continue;
        }
        cd_array_text(&p->arr[0], s->ref.origin);
        cd_array_i64(&p->arr[1], (int64_t)s->ref.seq);
        wanted++;
    }
    if (rc != KASSA_OK || wanted == 0)
        return rc;
    PGresult *res = cd_db_query_arrays(p->db,
                                       "SELECT o.origin, o.seq, o.payload"
                                       " FROM unnest($2::text[], $3::bigint[]) AS r(origin, seq)"
                                       " JOIN ops o ON o.store_id = $1 AND o.origin = r.origin"
                                       " AND o.seq = r.seq AND o.kind = 2",
                                       p->store, p->arr, 2, true, err);
    if (!res)
        return err->code;
    for (int i = 0; rc == KASSA_OK && i < PQntuples(res); i++) {
        ref_sale *s = find_ref(p, PQgetvalue(res, i, 0), (uint64_t)cd_col_i64(res, i, 1));
        size_t len;
        const uint8_t *payload = cd_col_bytes(res, i, 2, &len);
        if (s && !s->known)
            rc = know_sale(p, s, payload, len, err);
    }
    PQclear(res);
    return rc;
}

/* The batch's voids and returns, then the credits' growth into stock. */
static int credit(proj *p, kassa_err *err)
{
    int rc = KASSA_OK;
    for (size_t i = 0; rc == KASSA_OK && i < p->n; i++) {
        const oplog_op *op = p->ops[i];
        if (op->kind != OP_VOID && op->kind != OP_RETURN)
            continue;
        if ((rc = decode(p, op->kind, op->payload, op->payload_len, err)) != KASSA_OK)
            break;
        const oplog_sale_ref *ref = op->kind == OP_VOID ? &p->pl->void_.sale : &p->pl->ret.sale;
        ref_sale *s = find_ref(p, ref->origin, ref->seq);
        if (!s)
            return kassa_fail(err, KASSA_EIO, "internal: a refund without its sale state");
        if (op->kind == OP_VOID) {
            s->voided = true;
            continue;
        }
        for (size_t k = 0; k < p->pl->ret.n_lines; k++) {
            ref_line *l = line_at(s, p->pl->ret.lines[k].sku);
            if (!l)
                return kassa_fail(err, KASSA_ENOMEM, "out of memory");
            if (!kassa_add_i64(l->returned, p->pl->ret.lines[k].qty, &l->returned))
                return kassa_fail(err, KASSA_EOVERFLOW, "units returned overflow");
        }
    }
    for (size_t i = 0; rc == KASSA_OK && i < p->n_refs; i++) {
        ref_sale *s = &p->refs[i];
        for (size_t k = 0; rc == KASSA_OK && k < s->n_lines; k++) {
            ref_line *l = &s->lines[k];
            int64_t now = !s->known   ? 0
                          : s->voided ? l->sold
                                      : (l->returned < l->sold ? l->returned : l->sold);
            if (now > l->credited)
                rc = sku_add(&p->stock, l->sku, now - l->credited, err);
            if (now > l->credited)
                l->credited = now;
        }
    }
    return rc;
}

static int save_refunds(proj *p, kassa_err *err)
{
    cd_arrays_begin(p->arr, 4);
    for (size_t i = 0; i < p->n_refs; i++) {
        const ref_sale *s = &p->refs[i];
        cd_array_text(&p->arr[0], s->ref.origin);
        cd_array_i64(&p->arr[1], (int64_t)s->ref.seq);
        cd_array_text(&p->arr[2], s->known ? "t" : "f");
        cd_array_text(&p->arr[3], s->voided ? "t" : "f");
    }
    int rc = cd_db_run_arrays(
        p->db,
        "INSERT INTO refunded_sales AS s (store_id, origin, seq, known, voided)"
        " SELECT $1, o, q, k, v"
        " FROM unnest($2::text[], $3::bigint[], $4::bool[], $5::bool[]) AS x(o, q, k, v)"
        " ON CONFLICT (store_id, origin, seq)"
        " DO UPDATE SET known = EXCLUDED.known, voided = EXCLUDED.voided",
        p->store, p->arr, 4, err);
    if (rc != KASSA_OK)
        return rc;
    cd_arrays_begin(p->arr, 6);
    size_t n_lines = 0;
    for (size_t i = 0; i < p->n_refs; i++) {
        const ref_sale *s = &p->refs[i];
        for (size_t k = 0; k < s->n_lines; k++, n_lines++) {
            cd_array_text(&p->arr[0], s->ref.origin);
            cd_array_i64(&p->arr[1], (int64_t)s->ref.seq);
            cd_array_text(&p->arr[2], s->lines[k].sku);
            cd_array_i64(&p->arr[3], s->lines[k].sold);
            cd_array_i64(&p->arr[4], s->lines[k].returned);
            cd_array_i64(&p->arr[5], s->lines[k].credited);
        }
    }
    if (n_lines == 0)
        return KASSA_OK;
    return cd_db_run_arrays(p->db,
                            "INSERT INTO refunded_lines AS l"
                            " (store_id, origin, seq, sku, sold, returned, credited)"
                            " SELECT $1, o, q, k, s, r, c FROM unnest($2::text[], $3::bigint[],"
                            " $4::text[], $5::bigint[], $6::bigint[], $7::bigint[])"
                            " AS x(o, q, k, s, r, c)"
                            " ON CONFLICT (store_id, origin, seq, sku) DO UPDATE SET"
                            " sold = EXCLUDED.sold, returned = EXCLUDED.returned,"
                            " credited = EXCLUDED.credited",
                            p->store, p->arr, 6, err);
}

static int refunds(proj *p, kassa_err *err)
{
    int rc = pending_refs(p, err);
    if (rc != KASSA_OK || p->n_refs == 0)
        return rc;
    qsort(p->refs, p->n_refs, sizeof *p->refs, by_ref);
    size_t kept = 0;
    for (size_t i = 0; i < p->n_refs; i++)
        if (kept == 0 || cmp_ref(&p->refs[kept - 1].ref, &p->refs[i].ref) != 0)
            p->refs[kept++] = p->refs[i];
    p->n_refs = kept;
    if ((rc = load_refunds(p, err)) != KASSA_OK || (rc = find_sales(p, err)) != KASSA_OK ||
        (rc = credit(p, err)) != KASSA_OK)
        return rc;
    return save_refunds(p, err);
}

/* ---- writing the sums ---- */

static int save_stock(proj *p, kassa_err *err)
{
    cd_arrays_begin(p->arr, 2);
    size_t n = 0;
    for (size_t i = 0; i < p->stock.cap; i++) {
        const sku_slot *s = &p->stock.slot[i];
        if (!s->sku[0] || s->delta == 0)
            continue;
        cd_array_text(&p->arr[0], s->sku);
        cd_array_i64(&p->arr[1], s->delta);
        n++;
    }
    if (n == 0)
        return KASSA_OK;
    return cd_db_run_arrays(
        p->db,
        "WITH up AS ("
        " INSERT INTO stock AS s (store_id, sku, qty)"
        " SELECT $1, sku, delta FROM unnest($2::text[], $3::bigint[]) AS d(sku, delta)"
        " ON CONFLICT (store_id, sku) DO UPDATE SET qty = s.qty + EXCLUDED.qty"
        " RETURNING s.sku, s.qty)"
        " INSERT INTO review_items AS r (store_id, kind, ref, detail)"
        " SELECT $1, 'negative_stock', sku, jsonb_build_object('qty', qty)"
        " FROM up WHERE qty < 0"
        " ON CONFLICT (store_id, kind, ref)"
        " DO UPDATE SET detail = EXCLUDED.detail, updated_at = now()",
        p->store, p->arr, 2, err);
}

static int save_days(proj *p, kassa_err *err)
{
    if (p->n_days == 0)
        return KASSA_OK;
    cd_arrays_begin(p->arr, 4);
    for (size_t i = 0; i < p->n_days; i++) {
        cd_array_i64(&p->arr[0], p->days[i].day);
        cd_array_i64(&p->arr[1], p->days[i].sales);
        cd_array_i64(&p->arr[2], p->days[i].total);
        cd_array_i64(&p->arr[3], p->days[i].refunds);
    }
    return cd_db_run_arrays(
        p->db,
        "INSERT INTO sales_daily AS s (store_id, day, sales, total_minor, refunds_minor)"
        " SELECT $1, date '1970-01-01' + d::integer, n, t, f"
        " FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[]) AS x(d, n, t, f)"
        " ON CONFLICT (store_id, day) DO UPDATE SET sales = s.sales + EXCLUDED.sales,"
        " total_minor = s.total_minor + EXCLUDED.total_minor,"
        " refunds_minor = s.refunds_minor + EXCLUDED.refunds_minor",
        p->store, p->arr, 4, err);
}

/* declined: payment ids and details; resolved: payment ids */
static int save_card_reviews(proj *p, kassa_err *err)
{
    int rc = KASSA_OK;
    if (p->declined[0].len > 1)
        rc = cd_db_run_arrays(p->db,
                              /* One row per ref (the last of the batch): an
                               * upsert may not touch a row twice. */
                              "INSERT INTO review_items AS r (store_id, kind, ref, detail)"
                              " SELECT DISTINCT ON (ref) $1, 'card_declined', ref, detail::jsonb"
                              " FROM unnest($2::text[], $3::text[]) WITH ORDINALITY"
                              " AS x(ref, detail, i) ORDER BY ref, i DESC"
                              " ON CONFLICT (store_id, kind, ref)"
                              " DO UPDATE SET detail = EXCLUDED.detail, updated_at = now()",
                              p->store, p->declined, 2, err);
    if (rc == KASSA_OK && p->resolved.len > 1)
        rc = cd_db_run_arrays(p->db,
                              "UPDATE review_items SET detail = detail || '{\"resolved\": true}',"
                              " updated_at = now() WHERE store_id = $1"
                              " AND kind = 'card_declined' AND ref = ANY($2::text[])",
                              p->store, &p->resolved, 1, err);
    return rc;
}

int cd_project(cd_db *db, const char *store, const oplog_op *const *ops, size_t n, kassa_err *err)
{
    proj p = {.db = db, .store = store, .ops = ops, .n = n};
    kbuf *all[] = {&p.arr[0], &p.arr[1], &p.arr[2],      &p.arr[3],      &p.arr[4],
                   &p.arr[5], &p.arr[6], &p.declined[0], &p.declined[1], &p.resolved};
    _Static_assert(N_ARRAYS == 7, "every buffer in all[]");
    for (size_t k = 0; k < KASSA_ARRAY_LEN(all); k++) {
        kbuf_init(all[k]);
        cd_array_begin(all[k]);
    }
    const char *params[] = {store};
    int rc = KASSA_OK;
    if (!(p.pl = malloc(sizeof *p.pl)))
        rc = kassa_fail(err, KASSA_ENOMEM, "out of memory");
    for (size_t i = 0; rc == KASSA_OK && i < n; i++)
        rc = sum_op(&p, ops[i], err);
    if (rc == KASSA_OK)
        rc = cd_db_run(db, "SELECT pg_advisory_xact_lock(" PROJECT_LOCK_CLASS ", hashtext($1))", 1,
                       params, NULL, NULL, err);
    if (rc == KASSA_OK)
        rc = refunds(&p, err);
    if (rc == KASSA_OK)
        rc = save_stock(&p, err);
    if (rc == KASSA_OK)
        rc = save_days(&p, err);
    if (rc == KASSA_OK)
        rc = save_card_reviews(&p, err);
    for (size_t i = 0; i < p.n_refs; i++)
        free(p.refs[i].lines);
    free(p.refs);
    free(p.days);
    free(p.stock.slot);
    free(p.pl);
    for (size_t k = 0; k < KASSA_ARRAY_LEN(all); k++)
        kbuf_free(all[k]);
    return rc;
}
