/*
 * fraud: events from decoded operations (what kassa's log already holds).
 *
 *   OP_SALE                    -> SALE (cashier, total, cash part, the
 *                                 lines' discounts and units, card token,
 *                                 online / offline)
 *   OP_AUDIT "void" / "return" -> remembered: the cashier of the void or
 *                                 return operation that follows it
 *   OP_VOID, OP_RETURN         -> VOID, RETURN (refund, cash handed back,
 *                                 units, the sale; with a receipt: kassa's
 *                                 returns always name their sale)
 *   OP_AUDIT "no_sale"         -> NO_SALE
 *   OP_AUDIT "price_override"  -> PRICE_OVERRIDE (the unit price reduction
 *                                 read from "WAS -> NOW"; units are not
 *                                 in the audit, so one)
 *   OP_DRAWER count            -> DRAWER_COUNT (counted - expected)
 *
 * Everything else yields no event. Line voids, declined card attempts and
 * tender switches never reach the log: kassad feeds them from the cart.
 */
#include "fraud/fraud.h"
#include "hlc/hlc.h"
#include "pricing/pricing.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct last_audit {
    bool used;
    uint64_t tick;
    char origin[KASSA_ID_MAX + 1];
    uint64_t seq;
    int kind; /* FRAUD_EV_VOID or FRAUD_EV_RETURN: what the audit was of */
    char cashier[KASSA_ID_MAX + 1];
    char subject[OPLOG_AUDIT_SUBJECT_MAX + 1];
} last_audit;

struct fraud_conv {
    uint64_t tick;
    last_audit audits[FRAUD_CONV_ORIGINS_MAX];
    oplog_payload payload; /* decoding space (a sale holds 500 lines) */
};

int fraud_conv_new(fraud_conv **out, kassa_err *err)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return kassa_fail(err, KASSA_ENOMEM, "fraud: out of memory for the converter");
    return KASSA_OK;
}

void fraud_conv_free(fraud_conv *c)
{
    free(c);
}

static last_audit *audit_slot(fraud_conv *c, const char *origin, bool create)
{
    last_audit *victim = &c->audits[0];
    for (size_t i = 0; i < FRAUD_CONV_ORIGINS_MAX; i++) {
        last_audit *a = &c->audits[i];
        if (a->used && strcmp(a->origin, origin) == 0)
            return a;
        if (!a->used || (victim->used && a->tick < victim->tick))
            victim = a;
    }
    if (!create)
        return NULL;
    memset(victim, 0, sizeof *victim);
    victim->used = true;
    snprintf(victim->origin, sizeof victim->origin, "%s", origin);
    return victim;
}

/* The cashier of a void or return: the audit its transaction wrote just
 * before it ("" when that audit is not the previous operation). */
static void audited_cashier(fraud_conv *c, const oplog_op *op, int kind, const oplog_sale_ref *sale,
                            char *cashier)
{
    char id[KASSA_ID_MAX + 24];
    oplog_sale_id(sale, id, sizeof id);
    last_audit *a = audit_slot(c, op->origin, false);
    if (a && a->seq + 1 == op->seq && a->kind == kind && strcmp(a->subject, id) == 0)
        snprintf(cashier, KASSA_ID_MAX + 1, "%s", a->cashier);
}

/* "6.49 -> 3.00": the reduction per unit in minor units, 0 when the detail
 * does not read so or the price went up. */
static int64_t override_reduction(const char *detail)
{
    const char *arrow = strstr(detail, " -> ");
    char was[MONEY_STR_SIZE];
    size_t n = arrow ? (size_t)(arrow - detail) : 0;
    if (!arrow || n == 0 || n >= sizeof was)
        return 0;
    memcpy(was, detail, n);
    was[n] = '\0';
    int64_t before, after;
    if (money_parse(was, &before, NULL) != KASSA_OK ||
        money_parse(arrow + 4, &after, NULL) != KASSA_OK || after >= before)
        return 0;
    return before - after;
}

static int64_t clamp(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static int sale_event(const oplog_op *op, const oplog_sale *s, fraud_event *e, kassa_err *err)
{
    snprintf(e->cashier, sizeof e->cashier, "%s", s->cashier);
    snprintf(e->sale.origin, sizeof e->sale.origin, "%s", op->origin);
    e->sale.seq = op->seq;
    e->amount = clamp(s->total, 0, PRICING_AMOUNT_MAX);
    for (size_t i = 0; i < s->n_lines; i++) {
        if (!kassa_add_i64(e->discount, s->lines[i].discount, &e->discount) ||
            !kassa_add_i64(e->items, s->lines[i].qty, &e->items))
            return kassa_fail(err, KASSA_ECORRUPT, "sale %s-%llu: totals overflow", op->origin,
                              (unsigned long long)op->seq);
    }
    e->discount = clamp(e->discount, 0, PRICING_AMOUNT_MAX);
    e->cash = e->amount;
    if (s->has_card) {
        e->flags |= FRAUD_EVF_CARD;
        if (s->card.mode == OPLOG_CARD_OFFLINE)
            e->flags |= FRAUD_EVF_OFFLINE;
        snprintf(e->token, sizeof e->token, "%s", s->card.token);
        e->cash = clamp(e->amount - s->card.amount, 0, e->amount);
    }
    return KASSA_OK;
}

/* A void or return: the sale, the refund, the cash handed back and the
 * cashier its audit named. */
static void refund_event(fraud_conv *c, const oplog_op *op, int kind, const oplog_sale_ref *sale,
                         int64_t refund, const oplog_refund_split *split, fraud_event *e)
{
    e->kind = (uint8_t)kind;
    e->sale = *sale;
    e->amount = clamp(refund, 0, PRICING_AMOUNT_MAX);
    e->cash = clamp(oplog_refund_cash(refund, split), 0, e->amount);
    audited_cashier(c, op, kind, sale, e->cashier);
}

int fraud_conv_op(fraud_conv *c, const oplog_op *op, fraud_event out[FRAUD_CONV_EVENTS_MAX],
                  size_t *n_out, kassa_err *err)
{
    *n_out = 0;
    if (op->kind != OP_SALE && op->kind != OP_VOID && op->kind != OP_RETURN &&
        op->kind != OP_AUDIT && op->kind != OP_DRAWER)
        return KASSA_OK;
    int rc = oplog_decode(op->kind, op->payload, op->payload_len, &c->payload, err);
    if (rc != KASSA_OK)
        return rc;
    c->tick++;
    fraud_event *e = &out[0];
    fraud_event_make(e, 0, (int64_t)hlc_physical_ms(op->hlc), op->origin, NULL);
    switch (op->kind) {
    case OP_SALE:
        e->kind = FRAUD_EV_SALE;
        if ((rc = sale_event(op, &c->payload.sale, e, err)) != KASSA_OK)
            return rc;
        break;
    case OP_VOID: {
        const oplog_void *v = &c->payload.void_;
        refund_event(c, op, FRAUD_EV_VOID, &v->sale, v->refund, &v->split, e);
        break;
    }
    case OP_RETURN: {
        const oplog_return *r = &c->payload.ret;
        refund_event(c, op, FRAUD_EV_RETURN, &r->sale, r->refund, &r->split, e);
        for (size_t i = 0; i < r->n_lines; i++)
            if (!kassa_add_i64(e->items, r->lines[i].qty, &e->items))
                return kassa_fail(err, KASSA_ECORRUPT, "return: units overflow");
        break;
    }
    case OP_AUDIT: {
        const oplog_audit *a = &c->payload.audit;
        if (strcmp(a->action, "void") == 0 || strcmp(a->action, "return") == 0) {
            last_audit *slot = audit_slot(c, op->origin, true);
            slot->tick = c->tick;
            slot->seq = op->seq;
            slot->kind = strcmp(a->action, "void") == 0 ? FRAUD_EV_VOID : FRAUD_EV_RETURN;
            snprintf(slot->cashier, sizeof slot->cashier, "%s", a->cashier);
            snprintf(slot->subject, sizeof slot->subject, "%s", a->subject);
            return KASSA_OK;
        }
        if (strcmp(a->action, "no_sale") == 0)
            e->kind = FRAUD_EV_NO_SALE;
        else if (strcmp(a->action, "price_override") == 0) {
            e->kind = FRAUD_EV_PRICE_OVERRIDE;
            e->amount = override_reduction(a->detail);
        } else
            return KASSA_OK;
        snprintf(e->cashier, sizeof e->cashier, "%s", a->cashier);
        break;
    }
    case OP_DRAWER: {
        const oplog_drawer *d = &c->payload.drawer;
        if (d->action != OPLOG_DRAWER_COUNT)
            return KASSA_OK;
        e->kind = FRAUD_EV_DRAWER_COUNT;
        e->amount = clamp(d->delta, -PRICING_AMOUNT_MAX, PRICING_AMOUNT_MAX);
        snprintf(e->cashier, sizeof e->cashier, "%s", d->cashier);
        break;
    }
    default:
        return KASSA_OK;
    }
    kassa_err why;
    if (fraud_event_check(e, &why) != KASSA_OK)
        return kassa_fail(err, KASSA_ECORRUPT, "operation %s-%llu: %s", op->origin,
                          (unsigned long long)op->seq, why.msg);
    *n_out = 1;
    return KASSA_OK;
}
