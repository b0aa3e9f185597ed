/*
 * Fuzz target for the operation payload decoders. The first byte selects
 * the kind (low four bits: 1..11 the OP_* kinds, 0 and 12..15 unknown
 * kinds), the rest is the payload.
 *
 * Invariants:
 *  - the kind's decoder and oplog_validate_payload agree;
 *  - a failure is KASSA_ECORRUPT with a one-line message;
 *  - a decoded payload honours every range the header promises;
 *  - encoding the decoded struct gives the input bytes back: every value
 *    has exactly one accepted encoding (kreader refuses over-long varints).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oplog/oplog.h"
#include "pricing/pricing.h"
#include "testutil.h"

/* A NUL-terminated string inside its array. */
static void check_str(const char *s, size_t size)
{
    tu_check(memchr(s, '\0', size) != NULL);
}

static int amount_ok(int64_t v)
{
    return v >= 0 && v <= PRICING_AMOUNT_MAX;
}

static int qty_ok(int64_t v)
{
    return v >= 1 && v <= PRICING_QTY_MAX;
}

/* ---- per-kind invariants and equality ---- */

static void check_catalog(const oplog_catalog_set *c)
{
    check_str(c->sku, sizeof c->sku);
    tu_check(kassa_valid_id(c->sku, KASSA_SKU_MAX));
    tu_check(c->fields >= 1 && c->fields <= CATALOG_F_ALL);
    check_str(c->name, sizeof c->name);
    check_str(c->barcode, sizeof c->barcode);
    check_str(c->tax_class, sizeof c->tax_class);
    if (c->fields & CATALOG_F_NAME)
        tu_check(c->name[0] != '\0' && tu_no_controls(c->name));
    else
        tu_check(c->name[0] == '\0');
    if (c->fields & CATALOG_F_BARCODE)
        tu_check(tu_no_controls(c->barcode));
    else
        tu_check(c->barcode[0] == '\0');
    if (c->fields & CATALOG_F_PRICE)
        tu_check(amount_ok(c->price));
    else
        tu_check(c->price == 0);
    if (c->fields & CATALOG_F_TAX_CLASS)
        tu_check(kassa_valid_id(c->tax_class, KASSA_ID_MAX));
    else
        tu_check(c->tax_class[0] == '\0');
}

static int catalog_eq(const oplog_catalog_set *a, const oplog_catalog_set *b)
{
    return strcmp(a->sku, b->sku) == 0 && a->fields == b->fields && strcmp(a->name, b->name) == 0 &&
           strcmp(a->barcode, b->barcode) == 0 && a->price == b->price &&
           strcmp(a->tax_class, b->tax_class) == 0;
}

/* Empty (the operator's CLI) or a valid id. */
static void check_opt_id(const char *s, size_t size)
{
    check_str(s, size);
    tu_check(s[0] == '\0' || kassa_valid_id(s, KASSA_ID_MAX));
}

static void check_sale(const oplog_sale *s)
{
    check_opt_id(s->cashier, sizeof s->cashier);
    tu_check(s->n_lines >= 1 && s->n_lines <= OPLOG_SALE_LINES_MAX);
    int64_t total = 0, tax = 0;
    for (size_t i = 0; i < s->n_lines; i++) {
        const oplog_sale_line *l = &s->lines[i];
        check_str(l->sku, sizeof l->sku);
        tu_check(kassa_valid_id(l->sku, KASSA_SKU_MAX));
        tu_check(qty_ok(l->qty));
        tu_check(amount_ok(l->unit_price) && amount_ok(l->discount) && amount_ok(l->tax));
        /* qty <= 10^6 and price <= 10^13 fit int64 only when checked: the
         * decoder accepted it, so the product must fit and be an amount. */
        int64_t gross;
        tu_check(kassa_mul_i64(l->qty, l->unit_price, &gross));
        tu_check(amount_ok(gross));
        tu_check(l->discount <= gross);
        total += oplog_line_total(l);
        tax += l->tax;
        tu_check(total <= PRICING_AMOUNT_MAX);
        for (size_t j = 0; j < i; j++)
            tu_check(strcmp(s->lines[j].sku, l->sku) != 0);
    }
    tu_check(s->total == total);
    tu_check(s->tax == tax);
    tu_check(tax <= total);
    tu_check(amount_ok(s->tendered));
    tu_check(s->rounding >= -OPLOG_ROUNDING_MAX && s->rounding <= OPLOG_ROUNDING_MAX);
    int64_t card = 0;
    if (s->has_card) {
        const oplog_card_tender *c = &s->card;
        check_str(c->payment_id, sizeof c->payment_id);
        tu_check(kassa_valid_id(c->payment_id, OPLOG_PAY_ID_MAX));
        tu_check(c->amount >= 1 && c->amount <= s->total);
        tu_check(strlen(c->last4) == 4 && strspn(c->last4, "0123456789") == 4);
        tu_check(c->exp_month >= 1 && c->exp_month <= 12);
        tu_check(c->exp_year >= 2000 && c->exp_year <= 2099);
        tu_check(c->mode == OPLOG_CARD_ONLINE || c->mode == OPLOG_CARD_OFFLINE);
        tu_check((c->mode == OPLOG_CARD_ONLINE) == (c->auth_code[0] != '\0'));
        card = c->amount;
    }
    tu_check(s->total - card > 0 || s->rounding == 0);
    tu_check(oplog_sale_cash_due(s) >= 0 && s->tendered >= oplog_sale_cash_due(s));
}

static int card_eq(const oplog_card_tender *a, const oplog_card_tender *b)
{
    return strcmp(a->payment_id, b->payment_id) == 0 && a->amount == b->amount &&
           strcmp(a->token, b->token) == 0 && strcmp(a->brand, b->brand) == 0 &&
           strcmp(a->last4, b->last4) == 0 && a->exp_month == b->exp_month &&
           a->exp_year == b->exp_year && a->mode == b->mode &&
           strcmp(a->auth_code, b->auth_code) == 0;
}

static void check_split(int64_t refund, const oplog_refund_split *sp)
{
    tu_check(sp->rounding >= -OPLOG_REFUND_ROUNDING_MAX &&
             sp->rounding <= OPLOG_REFUND_ROUNDING_MAX);
    tu_check(sp->card_amount >= 0 && sp->card_amount <= refund);
    tu_check(oplog_refund_cash(refund, sp) >= 0);
    if (sp->card_amount > 0)
        tu_check(kassa_valid_id(sp->refund_id, OPLOG_PAY_ID_MAX) &&
                 kassa_valid_id(sp->payment_id, OPLOG_PAY_ID_MAX));
    else
        tu_check(!sp->refund_id[0] && !sp->payment_id[0]);
}

static int split_eq(const oplog_refund_split *a, const oplog_refund_split *b)
{
    return a->rounding == b->rounding && a->card_amount == b->card_amount &&
           strcmp(a->refund_id, b->refund_id) == 0 && strcmp(a->payment_id, b->payment_id) == 0;
}

static int sale_eq(const oplog_sale *a, const oplog_sale *b)
{
    if (strcmp(a->cashier, b->cashier) != 0 || a->n_lines != b->n_lines ||
        a->tendered != b->tendered || a->total != b->total || a->tax != b->tax ||
        a->rounding != b->rounding || a->has_card != b->has_card ||
        (a->has_card && !card_eq(&a->card, &b->card)))
        return 0;
    for (size_t i = 0; i < a->n_lines; i++) {
        const oplog_sale_line *x = &a->lines[i], *y = &b->lines[i];
        if (strcmp(x->sku, y->sku) != 0 || x->qty != y->qty || x->unit_price != y->unit_price ||
            x->discount != y->discount || x->tax != y->tax)
            return 0;
    }
    return 1;
}

static void check_ref(const oplog_sale_ref *ref)
{
    check_str(ref->origin, sizeof ref->origin);
    tu_check(kassa_valid_id(ref->origin, KASSA_ID_MAX));
    tu_check(ref->seq > 0);
}

static void check_void(const oplog_void *v)
{
    check_ref(&v->sale);
    tu_check(amount_ok(v->refund));
    check_split(v->refund, &v->split);
}

static int void_eq(const oplog_void *a, const oplog_void *b)
{
    return strcmp(a->sale.origin, b->sale.origin) == 0 && a->sale.seq == b->sale.seq &&
           a->refund == b->refund && split_eq(&a->split, &b->split);
}

static void check_return(const oplog_return *r)
{
    check_ref(&r->sale);
    tu_check(r->n_lines >= 1 && r->n_lines <= OPLOG_SALE_LINES_MAX);
    int64_t refund = 0;
    for (size_t i = 0; i < r->n_lines; i++) {
        const oplog_return_line *l = &r->lines[i];
        check_str(l->sku, sizeof l->sku);
        tu_check(kassa_valid_id(l->sku, KASSA_SKU_MAX));
        tu_check(qty_ok(l->qty));
        tu_check(amount_ok(l->refund));
        refund += l->refund;
    }
    tu_check(r->refund == refund);
    tu_check(amount_ok(r->refund));
    check_split(r->refund, &r->split);
}

static int return_eq(const oplog_return *a, const oplog_return *b)
{
    if (strcmp(a->sale.origin, b->sale.origin) != 0 || a->sale.seq != b->sale.seq ||
        a->n_lines != b->n_lines || a->refund != b->refund || !split_eq(&a->split, &b->split))
        return 0;
    for (size_t i = 0; i < a->n_lines; i++) {
        const oplog_return_line *x = &a->lines[i], *y = &b->lines[i];
        if (strcmp(x->sku, y->sku) != 0 || x->qty != y->qty || x->refund != y->refund)
            return 0;
    }
    return 1;
}

static void check_stock(const oplog_stock *s)
{
    const int64_t lim = PRICING_QTY_MAX * 1000;
    check_str(s->sku, sizeof s->sku);
    tu_check(kassa_valid_id(s->sku, KASSA_SKU_MAX));
    tu_check(s->qty >= 0 && s->qty <= lim);
    tu_check(s->delta >= -lim && s->delta <= lim);
}

static int stock_eq(const oplog_stock *a, const oplog_stock *b)
{
    return strcmp(a->sku, b->sku) == 0 && a->qty == b->qty && a->delta == b->delta;
}

static void check_setting(const oplog_setting *s)
{
    check_str(s->key, sizeof s->key);
    check_str(s->value, sizeof s->value);
    tu_check(kassa_valid_id(s->key, OPLOG_SETTING_KEY_MAX));
    tu_check(tu_no_controls(s->value));
}

static int setting_eq(const oplog_setting *a, const oplog_setting *b)
{
    return strcmp(a->key, b->key) == 0 && strcmp(a->value, b->value) == 0;
}

static void check_cashier(const oplog_cashier *c)
{
    check_str(c->id, sizeof c->id);
    check_str(c->name, sizeof c->name);
    check_str(c->pin_hash, sizeof c->pin_hash);
    tu_check(kassa_valid_id(c->id, KASSA_ID_MAX));
    tu_check(c->name[0] != '\0' && tu_no_controls(c->name));
    tu_check(c->role >= 1 && c->role <= 3);
    tu_check(c->pin_hash[0] != '\0' && tu_no_controls(c->pin_hash));
}

static int cashier_eq(const oplog_cashier *a, const oplog_cashier *b)
{
    return strcmp(a->id, b->id) == 0 && strcmp(a->name, b->name) == 0 && a->role == b->role &&
           strcmp(a->pin_hash, b->pin_hash) == 0;
}

static void check_audit(const oplog_audit *a)
{
    check_str(a->action, sizeof a->action);
    tu_check(kassa_valid_id(a->action, OPLOG_SETTING_KEY_MAX));
    check_opt_id(a->cashier, sizeof a->cashier);
    check_opt_id(a->supervisor, sizeof a->supervisor);
    check_str(a->subject, sizeof a->subject);
    check_str(a->detail, sizeof a->detail);
    tu_check(tu_no_controls(a->subject) && tu_no_controls(a->detail));
}

static int audit_eq(const oplog_audit *a, const oplog_audit *b)
{
    return strcmp(a->action, b->action) == 0 && strcmp(a->cashier, b->cashier) == 0 &&
           strcmp(a->supervisor, b->supervisor) == 0 && strcmp(a->subject, b->subject) == 0 &&
           strcmp(a->detail, b->detail) == 0;
}

static void check_payment(const oplog_payment *p)
{
    check_str(p->id, sizeof p->id);
    tu_check(kassa_valid_id(p->id, OPLOG_PAY_ID_MAX));
    tu_check(p->outcome >= 1 && p->outcome <= OPLOG_PAY_OUTCOME_MAX);
    check_opt_id(p->cashier, sizeof p->cashier);
    check_str(p->note, sizeof p->note);
    tu_check(tu_no_controls(p->note));
}

static int payment_eq(const oplog_payment *a, const oplog_payment *b)
{
    return strcmp(a->id, b->id) == 0 && a->outcome == b->outcome &&
           strcmp(a->reason, b->reason) == 0 && strcmp(a->auth_code, b->auth_code) == 0 &&
           strcmp(a->cashier, b->cashier) == 0 && strcmp(a->note, b->note) == 0;
}

static void check_drawer(const oplog_drawer *d)
{
    tu_check(d->action >= OPLOG_DRAWER_FLOAT && d->action <= OPLOG_DRAWER_COUNT);
    tu_check(amount_ok(d->amount));
    tu_check(d->delta >= -PRICING_AMOUNT_MAX && d->delta <= PRICING_AMOUNT_MAX);
    if (d->action != OPLOG_DRAWER_COUNT)
        tu_check(d->amount > 0 && d->delta == 0);
    check_opt_id(d->cashier, sizeof d->cashier);
}

static int drawer_eq(const oplog_drawer *a, const oplog_drawer *b)
{
    return a->action == b->action && a->amount == b->amount && a->delta == b->delta &&
           strcmp(a->cashier, b->cashier) == 0;
}

/* ---- dispatch ---- */

static void check_decoded(int kind, const oplog_payload *u)
{
    switch (kind) {
    case OP_CATALOG_SET:
        check_catalog(&u->catalog_set);
        break;
    case OP_SALE:
        check_sale(&u->sale);
        break;
    case OP_VOID:
        check_void(&u->void_);
        break;
    case OP_RETURN:
        check_return(&u->ret);
        break;
    case OP_STOCK_RECEIVE:
    case OP_STOCK_COUNT:
        check_stock(&u->stock);
        break;
    case OP_SETTING_SET:
        check_setting(&u->setting);
        break;
    case OP_CASHIER_SET:
        check_cashier(&u->cashier);
        break;
    case OP_AUDIT:
        check_audit(&u->audit);
        break;
    case OP_PAYMENT:
        check_payment(&u->payment);
        break;
    case OP_DRAWER:
        check_drawer(&u->drawer);
        break;
    default:
        abort();
    }
}

static int payload_eq(int kind, const oplog_payload *a, const oplog_payload *b)
{
    switch (kind) {
    case OP_CATALOG_SET:
        return catalog_eq(&a->catalog_set, &b->catalog_set);
    case OP_SALE:
        return sale_eq(&a->sale, &b->sale);
    case OP_VOID:
        return void_eq(&a->void_, &b->void_);
    case OP_RETURN:
        return return_eq(&a->ret, &b->ret);
    case OP_STOCK_RECEIVE:
    case OP_STOCK_COUNT:
        return stock_eq(&a->stock, &b->stock);
    case OP_SETTING_SET:
        return setting_eq(&a->setting, &b->setting);
    case OP_CASHIER_SET:
        return cashier_eq(&a->cashier, &b->cashier);
    case OP_AUDIT:
        return audit_eq(&a->audit, &b->audit);
    case OP_PAYMENT:
        return payment_eq(&a->payment, &b->payment);
    case OP_DRAWER:
        return drawer_eq(&a->drawer, &b->drawer);
    default:
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int kind = data[0] & 15;
    const uint8_t *p = data + 1;
    size_t n = size - 1;

    /* The decoded forms are large (sale lines): keep them off the stack. */
    static oplog_payload u, u2;
    memset(&u, 0xa5, sizeof u); /* decoders must not trust what was there */
    kassa_err err, verr;
    memset(&err, 0xa5, sizeof err);
    int rc = oplog_decode(kind, p, n, &u, &err);
    int vrc = oplog_validate_payload(kind, p, n, &verr);
    tu_check(rc == vrc);
    if (rc != KASSA_OK) {
        tu_check(rc == KASSA_ECORRUPT);
        tu_check(err.code == KASSA_ECORRUPT);
        tu_check_msg(err.msg, sizeof err.msg);
        return 0;
    }
    tu_check(kind >= 1 && kind <= OP_KIND_MAX);
    check_decoded(kind, &u);

    kbuf enc;
    kbuf_init(&enc);
    tu_check(oplog_encode(kind, &u, &enc) == KASSA_OK);
    tu_check(!enc.oom);
    tu_check(enc.len == n && memcmp(enc.data, p, n) == 0);
    /* And the struct survives the round trip field by field. */
    memset(&u2, 0x5a, sizeof u2);
    tu_check(oplog_decode(kind, enc.data, enc.len, &u2, NULL) == KASSA_OK);
    tu_check(payload_eq(kind, &u, &u2));
    kbuf_free(&enc);
    return 0;
}
