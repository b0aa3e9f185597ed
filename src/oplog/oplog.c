#include "oplog/oplog.h"
#include "pricing/pricing.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char OPLOG_FILE_MAGIC[8] = {'K', 'A', 'S', 'S', 'A', 'O', 'P', 'S'};

const char *oplog_kind_name(int kind)
{
    switch (kind) {
    case OP_CATALOG_SET:
        return "catalog_set";
    case OP_SALE:
        return "sale";
    case OP_VOID:
        return "void";
    case OP_RETURN:
        return "return";
    case OP_STOCK_RECEIVE:
        return "stock_receive";
    case OP_STOCK_COUNT:
        return "stock_count";
    case OP_SETTING_SET:
        return "setting_set";
    case OP_CASHIER_SET:
        return "cashier_set";
    case OP_AUDIT:
        return "audit";
    case OP_PAYMENT:
        return "payment";
    case OP_DRAWER:
        return "drawer";
    default:
        return "unknown";
    }
}

const char *oplog_pay_outcome_name(int outcome)
{
    switch (outcome) {
    case OPLOG_PAY_APPROVED:
        return "approved";
    case OPLOG_PAY_DECLINED:
        return "declined";
    case OPLOG_PAY_EXPIRED:
        return "expired";
    case OPLOG_PAY_REFUNDED:
        return "refunded";
    case OPLOG_PAY_REFUND_DECLINED:
        return "refund_declined";
    case OPLOG_PAY_RESOLVED:
        return "resolved";
    default:
        return "none";
    }
}

/* ---- hash chain ---- */

/* Ids are validated to KASSA_ID_MAX bytes before any op is hashed. */
static size_t put_str_arr(uint8_t *out, const char *s)
{
    size_t len = strnlen(s, KASSA_ID_MAX);
    size_t n = kassa_uvarint_encode(out, len);
    memcpy(out + n, s, len);
    return n + len;
}

void oplog_hash(const char *store_id, const uint8_t prev[OPLOG_HASH_SIZE], const oplog_op *op,
                uint8_t out[OPLOG_HASH_SIZE])
{
    /* The canonical form is the same length-prefixed encoding the export
     * file uses, so there is exactly one byte string per operation. The
     * fixed part is at most 2*(1+32) + 3*10 + 1 bytes. */
    uint8_t head[128];
    size_t n = 0;
    n += put_str_arr(head + n, store_id);
    n += put_str_arr(head + n, op->origin);
    n += kassa_uvarint_encode(head + n, op->seq);
    n += kassa_uvarint_encode(head + n, op->hlc);
    head[n++] = op->kind;
    n += kassa_uvarint_encode(head + n, op->payload_len);

    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, OPLOG_HASH_SIZE);
    crypto_generichash_update(&st, prev, OPLOG_HASH_SIZE);
    crypto_generichash_update(&st, head, n);
    if (op->payload_len)
        crypto_generichash_update(&st, op->payload, op->payload_len);
    crypto_generichash_final(&st, out, OPLOG_HASH_SIZE);
}

bool oplog_hash_ok(const char *store_id, const uint8_t prev[OPLOG_HASH_SIZE], const oplog_op *op)
{
    uint8_t h[OPLOG_HASH_SIZE];
    oplog_hash(store_id, prev, op, h);
    return sodium_memcmp(h, op->hash, OPLOG_HASH_SIZE) == 0;
}

/* ---- payload helpers ---- */

static int corrupt(kassa_err *err, const char *what)
{
    return kassa_fail(err, KASSA_ECORRUPT, "malformed %s payload", what);
}

static bool read_amount(kreader *r, int64_t *v)
{
    uint64_t u;
    if (!kreader_uvarint(r, &u) || u > (uint64_t)PRICING_AMOUNT_MAX)
        return false;
    *v = (int64_t)u;
    return true;
}

static bool read_qty(kreader *r, int64_t *v)
{
    uint64_t u;
    if (!kreader_uvarint(r, &u) || u == 0 || u > (uint64_t)PRICING_QTY_MAX)
        return false;
    *v = (int64_t)u;
    return true;
}

static bool read_id(kreader *r, char *out, size_t size)
{
    return kreader_str(r, out, size) && kassa_valid_id(out, size - 1);
}

static bool text_ok(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

/* An id that may be empty (the operator's CLI acts as nobody). */
static bool read_opt_id(kreader *r, char *out, size_t size)
{
    return kreader_str(r, out, size) && (!out[0] || kassa_valid_id(out, size - 1));
}

static bool read_text(kreader *r, char *out, size_t size)
{
    return kreader_str(r, out, size) && text_ok(out);
}

static bool read_sale_ref(kreader *r, oplog_sale_ref *ref)
{
    return read_id(r, ref->origin, sizeof ref->origin) && kreader_uvarint(r, &ref->seq) &&
           ref->seq > 0 && ref->seq <= OPLOG_SEQ_MAX;
}

static void put_sale_ref(kbuf *b, const oplog_sale_ref *ref)
{
    kbuf_put_str(b, ref->origin);
    kbuf_put_uvarint(b, ref->seq);
}

bool oplog_word_ok(const char *s)
{
    if (!s[0])
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_'))
            return false;
    return true;
}

static bool read_word(kreader *r, char *out, size_t size)
{
    return kreader_str(r, out, size) && oplog_word_ok(out);
}

static bool read_opt_word(kreader *r, char *out, size_t size)
{
    return kreader_str(r, out, size) && (!out[0] || oplog_word_ok(out));
}

static bool read_rounding(kreader *r, int64_t max, int64_t *v)
{
    return kreader_svarint(r, v) && *v >= -max && *v <= max;
}

/* ---- catalog_set ---- */

void oplog_encode_catalog_set(kbuf *b, const oplog_catalog_set *c)
{
    kbuf_put_str(b, c->sku);
    kbuf_put_u8(b, (uint8_t)c->fields);
    if (c->fields & CATALOG_F_NAME)
        kbuf_put_str(b, c->name);
    if (c->fields & CATALOG_F_BARCODE)
        kbuf_put_str(b, c->barcode);
    if (c->fields & CATALOG_F_PRICE)
        kbuf_put_uvarint(b, (uint64_t)c->price);
    if (c->fields & CATALOG_F_TAX_CLASS)
        kbuf_put_str(b, c->tax_class);
}

int oplog_decode_catalog_set(const uint8_t *p, size_t n, oplog_catalog_set *c, kassa_err *err)
{
    kreader r;
    kreader_init(&r, p, n);
    memset(c, 0, sizeof *c);
    uint8_t fields;
    if (!read_id(&r, c->sku, sizeof c->sku) || !kreader_u8(&r, &fields) || fields == 0 ||
        (fields & ~CATALOG_F_ALL))
        return corrupt(err, "catalog_set");
    c->fields = fields;
    if ((fields & CATALOG_F_NAME) &&
        (!kreader_str(&r, c->name, sizeof c->name) || !c->name[0] || !text_ok(c->name)))
        return corrupt(err, "catalog_set");
    if ((fields & CATALOG_F_BARCODE) &&
        (!kreader_str(&r, c->barcode, sizeof c->barcode) || !text_ok(c->barcode)))
        return corrupt(err, "catalog_set");
    if ((fields & CATALOG_F_PRICE) && !read_amount(&r, &c->price))
        return corrupt(err, "catalog_set");
    if ((fields & CATALOG_F_TAX_CLASS) && !read_id(&r, c->tax_class, sizeof c->tax_class))
        return corrupt(err, "catalog_set");
    if (kreader_left(&r) != 0 || r.bad)
        return corrupt(err, "catalog_set");
    return KASSA_OK;
}

/* ---- sale ---- */

void oplog_encode_sale(kbuf *b, const oplog_sale *s)
{
    kbuf_put_str(b, s->cashier);
    kbuf_put_uvarint(b, s->n_lines);
    for (size_t i = 0; i < s->n_lines; i++) {
        const oplog_sale_line *l = &s->lines[i];
        kbuf_put_str(b, l->sku);
        kbuf_put_uvarint(b, (uint64_t)l->qty);
        kbuf_put_uvarint(b, (uint64_t)l->unit_price);
        kbuf_put_uvarint(b, (uint64_t)l->discount);
        kbuf_put_uvarint(b, (uint64_t)l->tax);
    }
    kbuf_put_uvarint(b, (uint64_t)s->tendered);
    /* The tender section follows only when there is something to say, so
     * a cash sale without rounding encodes (and hashes) as before cards. */
    if (s->rounding == 0 && !s->has_card)
        return;
    kbuf_put_u8(b, 1);
    kbuf_put_svarint(b, s->rounding);
    kbuf_put_u8(b, s->has_card ? 1 : 0);
    if (!s->has_card)
        return;
    const oplog_card_tender *c = &s->card;
    kbuf_put_str(b, c->payment_id);
    kbuf_put_uvarint(b, (uint64_t)c->amount);
    kbuf_put_str(b, c->token);
    kbuf_put_str(b, c->brand);
    kbuf_put_str(b, c->last4);
    kbuf_put_u8(b, c->exp_month);
    kbuf_put_uvarint(b, c->exp_year);
    kbuf_put_u8(b, c->mode);
    kbuf_put_str(b, c->auth_code);
}

static bool read_card_tender(kreader *r, oplog_card_tender *c)
{
    uint64_t year;
    if (!read_id(r, c->payment_id, sizeof c->payment_id) || !read_amount(r, &c->amount) ||
        c->amount == 0 || !read_word(r, c->token, sizeof c->token) ||
        !read_word(r, c->brand, sizeof c->brand) || !kreader_str(r, c->last4, sizeof c->last4) ||
        strlen(c->last4) != 4 || strspn(c->last4, "0123456789") != 4 ||
        !kreader_u8(r, &c->exp_month) || c->exp_month < 1 || c->exp_month > 12 ||
        !kreader_uvarint(r, &year) || year < 2000 || year > 2099 || !kreader_u8(r, &c->mode) ||
        (c->mode != OPLOG_CARD_ONLINE && c->mode != OPLOG_CARD_OFFLINE) ||
        !read_opt_word(r, c->auth_code, sizeof c->auth_code))
        return false;
    c->exp_year = (uint16_t)year;
    /* An online approval always has its code; an offline one never. */
    return (c->mode == OPLOG_CARD_ONLINE) == (c->auth_code[0] != '\0');
}

static bool read_sale_tenders(kreader *r, oplog_sale *s)
{
    s->rounding = 0;
    s->has_card = false;
    memset(&s->card, 0, sizeof s->card);
    if (kreader_left(r) > 0) {
        uint8_t version, has_card;
        if (!kreader_u8(r, &version) || version != 1 ||
            !read_rounding(r, OPLOG_ROUNDING_MAX, &s->rounding) || !kreader_u8(r, &has_card) ||
            has_card > 1)
            return false;
        s->has_card = has_card;
        /* The section is written only when it says something: one
         * encoding per sale. */
        if ((!s->has_card && s->rounding == 0) ||
            (s->has_card && (!read_card_tender(r, &s->card) || s->card.amount > s->total)))
            return false;
    }
    /* Rounding applies to a cash part only (it may round it to zero). */
    int64_t cash_part = s->total - (s->has_card ? s->card.amount : 0);
    int64_t cash_due = oplog_sale_cash_due(s);
    return cash_due >= 0 && (cash_part > 0 || s->rounding == 0) && s->tendered >= cash_due;
}

int oplog_decode_sale(const uint8_t *p, size_t n, oplog_sale *s, kassa_err *err)
{
    kreader r;
    kreader_init(&r, p, n);
    uint64_t n_lines;
    if (!read_opt_id(&r, s->cashier, sizeof s->cashier) || !kreader_uvarint(&r, &n_lines) ||
        n_lines == 0 || n_lines > OPLOG_SALE_LINES_MAX)
        return corrupt(err, "sale");
    s->n_lines = (size_t)n_lines;
    s->total = 0;
    s->tax = 0;
    for (size_t i = 0; i < s->n_lines; i++) {
        oplog_sale_line *l = &s->lines[i];
        int64_t gross, line_total;
        if (!read_id(&r, l->sku, sizeof l->sku) || !read_qty(&r, &l->qty) ||
            !read_amount(&r, &l->unit_price) || !read_amount(&r, &l->discount) ||
            !read_amount(&r, &l->tax))
            return corrupt(err, "sale");
        if (!kassa_mul_i64(l->qty, l->unit_price, &gross) || gross > PRICING_AMOUNT_MAX ||
            l->discount > gross)
            return corrupt(err, "sale");
        /* One line per SKU: returns and stock credits are keyed by SKU. */
        for (size_t j = 0; j < i; j++)
            if (strcmp(s->lines[j].sku, l->sku) == 0)
                return corrupt(err, "sale");
        line_total = gross - l->discount + l->tax;
        if (!kassa_add_i64(s->total, line_total, &s->total) || s->total > PRICING_AMOUNT_MAX)
            return corrupt(err, "sale");
        s->tax += l->tax;
    }
    if (!read_amount(&r, &s->tendered) || !read_sale_tenders(&r, s) || kreader_left(&r) != 0)
        return corrupt(err, "sale");
    return KASSA_OK;
}

/* ---- refund split (voids, returns) ---- */

static void put_refund_split(kbuf *b, const oplog_refund_split *sp)
{
    if (sp->rounding == 0 && sp->card_amount == 0)
        return; /* all cash, unrounded: encoded as before cards */
    kbuf_put_u8(b, 1);
    kbuf_put_svarint(b, sp->rounding);
    kbuf_put_uvarint(b, (uint64_t)sp->card_amount);
    if (sp->card_amount == 0)
        return;
    kbuf_put_str(b, sp->refund_id);
    kbuf_put_str(b, sp->payment_id);
}

static bool read_refund_split(kreader *r, int64_t refund, oplog_refund_split *sp)
{
    memset(sp, 0, sizeof *sp);
    if (kreader_left(r) == 0)
        return true;
    uint8_t version;
    if (!kreader_u8(r, &version) || version != 1 ||
        !read_rounding(r, OPLOG_REFUND_ROUNDING_MAX, &sp->rounding) ||
        !read_amount(r, &sp->card_amount) || sp->card_amount > refund ||
        (sp->rounding == 0 && sp->card_amount == 0)) /* one encoding per refund */
        return false;
    if (sp->card_amount > 0 && (!read_id(r, sp->refund_id, sizeof sp->refund_id) ||
                                !read_id(r, sp->payment_id, sizeof sp->payment_id)))
        return false;
    /* Rounding applies to a cash part only (it may round it to zero). */
    return oplog_refund_cash(refund, sp) >= 0 && (refund > sp->card_amount || sp->rounding == 0);
}

/* ---- void ---- */

void oplog_encode_void(kbuf *b, const oplog_void *v)
{
    put_sale_ref(b, &v->sale);
    kbuf_put_uvarint(b, (uint64_t)v->refund);
    put_refund_split(b, &v->split);
}

int oplog_decode_void(const uint8_t *p, size_t n, oplog_void *v, kassa_err *err)
{
    kreader r;
    kreader_init(&r, p, n);
    if (!read_sale_ref(&r, &v->sale) || !read_amount(&r, &v->refund) ||
        !read_refund_split(&r, v->refund, &v->split) || kreader_left(&r) != 0)
        return corrupt(err, "void");
    return KASSA_OK;
}

/* ---- return ---- */

void oplog_encode_return(kbuf *b, const oplog_return *ret)
{
    put_sale_ref(b, &ret->sale);
    kbuf_put_uvarint(b, ret->n_lines);
    for (size_t i = 0; i < ret->n_lines; i++) {
        kbuf_put_str(b, ret->lines[i].sku);
        kbuf_put_uvarint(b, (uint64_t)ret->lines[i].qty);
        kbuf_put_uvarint(b, (uint64_t)ret->lines[i].refund);
    }
    put_refund_split(b, &ret->split);
}

int oplog_decode_return(const uint8_t *p, size_t n, oplog_return *ret, kassa_err *err)
{
    kreader r;
    kreader_init(&r, p, n);
    uint64_t n_lines;
    if (!read_sale_ref(&r, &ret->sale) || !kreader_uvarint(&r, &n_lines) || n_lines == 0 ||
        n_lines > OPLOG_SALE_LINES_MAX)
        return corrupt(err, "return");
    ret->n_lines = (size_t)n_lines;
    ret->refund = 0;
    for (size_t i = 0; i < ret->n_lines; i++) {
        oplog_return_line *l = &ret->lines[i];
        if (!read_id(&r, l->sku, sizeof l->sku) || !read_qty(&r, &l->qty) ||
            !read_amount(&r, &l->refund))
            return corrupt(err, "return");
        ret->refund += l->refund; /* each <= 10^13, at most 500: fits */
    }
    if (ret->refund > PRICING_AMOUNT_MAX || !read_refund_split(&r, ret->refund, &ret->split) ||
        kreader_left(&r) != 0)
        return corrupt(err, "return");
    return KASSA_OK;
}

/* ---- stock ---- */

void oplog_encode_stock(kbuf *b, const oplog_stock *s)
{
    kbuf_put_str(b, s->sku);
    kbuf_put_uvarint(b, (uint64_t)s->qty);
    kbuf_put_svarint(b, s->delta);
}

int oplog_decode_stock(const uint8_t *p, size_t n, oplog_stock *s, kassa_err *err)
{
    kreader r;
    kreader_init(&r, p, n);
    uint64_t qty;
    if (!read_id(&r, s->sku, sizeof s->sku) || !kreader_uvarint(&r, &qty) ||
        qty > (uint64_t)OPLOG_STOCK_DELTA_MAX || !kreader_svarint(&r, &s->delta) ||
        s->delta > OPLOG_STOCK_DELTA_MAX || s->delta < -OPLOG_STOCK_DELTA_MAX ||
        kreader_left(&r) != 0)
        return corrupt(err, "stock");
    s->qty = (int64_t)qty;
    return KASSA_OK;
}

/* ---- setting ---- */

void oplog_encode_setting(kbuf *b, const oplog_setting *s)
{
    kbuf_put_str(b, s->key);
    kbuf_put_str(b, s->value);
}

int oplog_decode_setting(const uint8_t *p, size_t n, oplog_setting *s, kassa_err *err)
{
    kreader r;
    kreader_init(&r, p, n);
    if (!kreader_str(&r, s->key, sizeof s->key) || !kassa_valid_id(s->key, OPLOG_SETTING_KEY_MAX) ||
        !kreader_str(&r, s->value, sizeof s->value) || !text_ok(s->value) || kreader_left(&r) != 0)
        return corrupt(err, "setting");
    return KASSA_OK;
}

/* ---- cashier ---- */

void oplog_encode_cashier(kbuf *b, const oplog_cashier *c)
{
    kbuf_put_str(b, c->id);
    kbuf_put_str(b, c->name);
    kbuf_put_u8(b, c->role);
    kbuf_put_str(b, c->pin_hash);
}

int oplog_decode_cashier(const uint8_t *p, size_t n, oplog_cashier *c, kassa_err *err)
{
    kreader r;
    kreader_init(&r, p, n);
    if (!read_id(&r, c->id, sizeof c->id) || !read_text(&r, c->name, sizeof c->name) ||
        !c->name[0] || !kreader_u8(&r, &c->role) || c->role < 1 || c->role > 3 ||
        !read_text(&r, c->pin_hash, sizeof c->pin_hash) || !c->pin_hash[0] || kreader_left(&r) != 0)
        return corrupt(err, "cashier");
    return KASSA_OK;
}

/* ---- audit ---- */

void oplog_encode_audit(kbuf *b, const oplog_audit *a)
{
    kbuf_put_str(b, a->action);
    kbuf_put_str(b, a->cashier);
    kbuf_put_str(b, a->supervisor);
    kbuf_put_str(b, a->subject);
    kbuf_put_str(b, a->detail);
}

int oplog_decode_audit(const uint8_t *p, size_t n, oplog_audit *a, kassa_err *err)
{
    kreader r;
    kreader_init(&r, p, n);
    if (!read_id(&r, a->action, sizeof a->action) ||
        !read_opt_id(&r, a->cashier, sizeof a->cashier) ||
        !read_opt_id(&r, a->supervisor, sizeof a->supervisor) ||
        !read_text(&r, a->subject, sizeof a->subject) ||
        !read_text(&r, a->detail, sizeof a->detail) || kreader_left(&r) != 0)
        return corrupt(err, "audit");
    return KASSA_OK;
}

/* ---- payment outcome ---- */

void oplog_encode_payment(kbuf *b, const oplog_payment *p)
{
    kbuf_put_str(b, p->id);
    kbuf_put_u8(b, p->outcome);
    kbuf_put_str(b, p->reason);
    kbuf_put_str(b, p->auth_code);
    kbuf_put_str(b, p->cashier);
    kbuf_put_str(b, p->note);
}

int oplog_decode_payment(const uint8_t *p, size_t n, oplog_payment *pay, kassa_err *err)
{
    kreader r;
    kreader_init(&r, p, n);
    if (!read_id(&r, pay->id, sizeof pay->id) || !kreader_u8(&r, &pay->outcome) ||
        pay->outcome < 1 || pay->outcome > OPLOG_PAY_OUTCOME_MAX ||
        !read_opt_word(&r, pay->reason, sizeof pay->reason) ||
        !read_opt_word(&r, pay->auth_code, sizeof pay->auth_code) ||
        !read_opt_id(&r, pay->cashier, sizeof pay->cashier) ||
        !read_text(&r, pay->note, sizeof pay->note) || kreader_left(&r) != 0)
        return corrupt(err, "payment");
    /* A decline says why. */
    bool declined = pay->outcome == OPLOG_PAY_DECLINED || pay->outcome == OPLOG_PAY_EXPIRED ||
                    pay->outcome == OPLOG_PAY_REFUND_DECLINED;
    if (declined && !pay->reason[0])
        return corrupt(err, "payment");
    return KASSA_OK;
}

/* ---- drawer ---- */

void oplog_encode_drawer(kbuf *b, const oplog_drawer *d)
{
    kbuf_put_u8(b, d->action);
    kbuf_put_uvarint(b, (uint64_t)d->amount);
    kbuf_put_svarint(b, d->delta);
    kbuf_put_str(b, d->cashier);
}

int oplog_decode_drawer(const uint8_t *p, size_t n, oplog_drawer *d, kassa_err *err)
{
    kreader r;
    kreader_init(&r, p, n);
    if (!kreader_u8(&r, &d->action) || d->action < OPLOG_DRAWER_FLOAT ||
        d->action > OPLOG_DRAWER_COUNT || !read_amount(&r, &d->amount) ||
        !kreader_svarint(&r, &d->delta) || d->delta > PRICING_AMOUNT_MAX ||
        d->delta < -PRICING_AMOUNT_MAX || !read_opt_id(&r, d->cashier, sizeof d->cashier) ||
        kreader_left(&r) != 0)
        return corrupt(err, "drawer");
    /* Floats and drops move some cash; only a count has a delta. */
    if (d->action != OPLOG_DRAWER_COUNT && (d->amount == 0 || d->delta != 0))
        return corrupt(err, "drawer");
    return KASSA_OK;
}

int oplog_decode(int kind, const uint8_t *p, size_t n, void *out, kassa_err *err)
{
    switch (kind) {
    case OP_CATALOG_SET:
        return oplog_decode_catalog_set(p, n, out, err);
    case OP_SALE:
        return oplog_decode_sale(p, n, out, err);
    case OP_VOID:
        return oplog_decode_void(p, n, out, err);
    case OP_RETURN:
        return oplog_decode_return(p, n, out, err);
    case OP_STOCK_RECEIVE:
    case OP_STOCK_COUNT:
        return oplog_decode_stock(p, n, out, err);
    case OP_SETTING_SET:
        return oplog_decode_setting(p, n, out, err);
    case OP_CASHIER_SET:
        return oplog_decode_cashier(p, n, out, err);
    case OP_AUDIT:
        return oplog_decode_audit(p, n, out, err);
    case OP_PAYMENT:
        return oplog_decode_payment(p, n, out, err);
    case OP_DRAWER:
        return oplog_decode_drawer(p, n, out, err);
    default:
        return kassa_fail(err, KASSA_ECORRUPT, "unknown operation kind %d", kind);
    }
}

int oplog_encode(int kind, const void *payload, kbuf *b)
{
    switch (kind) {
    case OP_CATALOG_SET:
        oplog_encode_catalog_set(b, payload);
        break;
    case OP_SALE:
        oplog_encode_sale(b, payload);
        break;
    case OP_VOID:
        oplog_encode_void(b, payload);
        break;
    case OP_RETURN:
        oplog_encode_return(b, payload);
        break;
    case OP_STOCK_RECEIVE:
    case OP_STOCK_COUNT:
        oplog_encode_stock(b, payload);
        break;
    case OP_SETTING_SET:
        oplog_encode_setting(b, payload);
        break;
    case OP_CASHIER_SET:
        oplog_encode_cashier(b, payload);
        break;
    case OP_AUDIT:
        oplog_encode_audit(b, payload);
        break;
    case OP_PAYMENT:
        oplog_encode_payment(b, payload);
        break;
    case OP_DRAWER:
        oplog_encode_drawer(b, payload);
        break;
    default:
        return KASSA_EINVAL;
    }
    return KASSA_OK;
}

int oplog_validate_payload(int kind, const uint8_t *p, size_t n, kassa_err *err)
{
    oplog_payload *u = malloc(sizeof *u);
    if (!u)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory");
    int rc = oplog_decode(kind, p, n, u, err);
    free(u);
    return rc;
}

int oplog_payload_sale_ref(int kind, const uint8_t *p, size_t n, oplog_sale_ref *ref)
{
    if (kind != OP_VOID && kind != OP_RETURN)
        return 0;
    kreader r;
    kreader_init(&r, p, n);
    return read_sale_ref(&r, ref) ? 1 : -1;
}

/* ---- sale ids ---- */

/* Parses a decimal 1..INT64_MAX: digits only, no sign, no leading zero. */
static bool parse_seq(const char *p, size_t n, uint64_t *out)
{
    if (n == 0 || n > 19 || p[0] == '0')
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(p[i] - '0');
    }
    if (v > (uint64_t)INT64_MAX)
        return false;
    *out = v;
    return true;
}

void oplog_sale_id(const oplog_sale_ref *ref, char *out, size_t out_size)
{
    snprintf(out, out_size, "%s-%llu", ref->origin, (unsigned long long)ref->seq);
}

int oplog_parse_sale_id(const char *s, oplog_sale_ref *ref, kassa_err *err)
{
    const char *dash = strrchr(s, '-');
    size_t origin_len = dash ? (size_t)(dash - s) : 0;
    if (!dash || origin_len == 0 || origin_len > KASSA_ID_MAX || !dash[1])
        return kassa_fail(err, KASSA_EINVAL, "invalid sale id \"%s\": expected NODE-SEQ", s);
    memcpy(ref->origin, s, origin_len);
    ref->origin[origin_len] = '\0';
    uint64_t seq;
    if (!parse_seq(dash + 1, strlen(dash + 1), &seq) || !kassa_valid_id(ref->origin, KASSA_ID_MAX))
        return kassa_fail(err, KASSA_EINVAL, "invalid sale id \"%s\": expected NODE-SEQ", s);
    ref->seq = seq;
    return KASSA_OK;
}

/* ---- version vectors ---- */

void oplog_vv_init(oplog_vv *vv)
{
    vv->n = 0;
    vv->e = NULL;
}

void oplog_vv_free(oplog_vv *vv)
{
    free(vv->e);
    oplog_vv_init(vv);
}

static size_t vv_find(const oplog_vv *vv, const char *origin, bool *found)
{
    size_t lo = 0, hi = vv->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(vv->e[mid].origin, origin);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

uint64_t oplog_vv_get(const oplog_vv *vv, const char *origin)
{
    bool found;
    size_t i = vv_find(vv, origin, &found);
    return found ? vv->e[i].seq : 0;
}

int oplog_vv_set(oplog_vv *vv, const char *origin, uint64_t seq, kassa_err *err)
{
    if (!kassa_valid_id(origin, KASSA_ID_MAX))
        return kassa_fail(err, KASSA_EINVAL, "invalid node id \"%s\"", origin);
    bool found;
    size_t i = vv_find(vv, origin, &found);
    if (found) {
        vv->e[i].seq = seq;
        return KASSA_OK;
    }
    if (vv->n >= OPLOG_VV_MAX)
        return kassa_fail(err, KASSA_EOVERFLOW, "version vector: more than %d origins",
                          OPLOG_VV_MAX);
    oplog_vv_entry *e = realloc(vv->e, (vv->n + 1) * sizeof *e);
    if (!e)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory");
    vv->e = e;
    memmove(&e[i + 1], &e[i], (vv->n - i) * sizeof *e);
    snprintf(e[i].origin, sizeof e[i].origin, "%s", origin);
    e[i].seq = seq;
    vv->n++;
    return KASSA_OK;
}

void oplog_vv_format(const oplog_vv *vv, kbuf *out)
{
    for (size_t i = 0; i < vv->n; i++) {
        char line[KASSA_ID_MAX + 32];
        int n = snprintf(line, sizeof line, "%s %llu\n", vv->e[i].origin,
                         (unsigned long long)vv->e[i].seq);
        kbuf_put(out, line, (size_t)n);
    }
}

int oplog_vv_parse(const char *text, size_t len, oplog_vv *vv, kassa_err *err)
{
    oplog_vv_init(vv);
    size_t pos = 0;
    unsigned line_no = 0;
    while (pos < len) {
        size_t end = pos;
        while (end < len && text[end] != '\n')
            end++;
        line_no++;
        const char *line = text + pos;
        size_t n = end - pos;
        pos = end + 1;
        if (n && line[n - 1] == '\r')
            n--;
        if (n == 0)
            continue;
        /* "ORIGIN SEQ" separated by spaces or tabs; messages never echo
         * the bytes, which may be anything. */
        size_t origin_len = 0, seq_at, seq_end = n;
        while (origin_len < n && line[origin_len] != ' ' && line[origin_len] != '\t')
            origin_len++;
        for (seq_at = origin_len; seq_at < n && (line[seq_at] == ' ' || line[seq_at] == '\t');)
            seq_at++;
        while (seq_end > seq_at && (line[seq_end - 1] == ' ' || line[seq_end - 1] == '\t'))
            seq_end--;
        char origin[KASSA_ID_MAX + 1];
        uint64_t seq;
        if (origin_len == 0 || origin_len > KASSA_ID_MAX || seq_at == origin_len)
            goto bad;
        memcpy(origin, line, origin_len);
        origin[origin_len] = '\0';
        /* strlen catches NUL bytes inside the origin. */
        if (strlen(origin) != origin_len || !kassa_valid_id(origin, KASSA_ID_MAX) ||
            !parse_seq(line + seq_at, seq_end - seq_at, &seq))
            goto bad;
        if (oplog_vv_get(vv, origin) != 0) {
            kassa_fail(err, KASSA_EINVAL, "version vector line %u: origin listed twice", line_no);
            goto fail;
        }
        if (oplog_vv_set(vv, origin, seq, err) != KASSA_OK)
            goto fail;
    }
    return KASSA_OK;
bad:
    kassa_fail(err, KASSA_EINVAL, "version vector line %u: expected \"NODE SEQ\" with SEQ >= 1",
               line_no);
fail:
    oplog_vv_free(vv);
    return err ? err->code : KASSA_EINVAL;
}

/* ---- export files ---- */

void oplog_file_begin(oplog_file_writer *w, const char *store_id)
{
    kbuf_init(&w->buf);
    kbuf_put(&w->buf, OPLOG_FILE_MAGIC, sizeof OPLOG_FILE_MAGIC);
    kbuf_put_u8(&w->buf, OPLOG_FILE_VERSION);
    kbuf_put_str(&w->buf, store_id);
    w->count_pos = w->buf.len;
    kbuf_put_u32le(&w->buf, 0);
    w->count = 0;
}

void oplog_file_add(oplog_file_writer *w, const oplog_op *op)
{
    kbuf *b = &w->buf;
    kbuf_put_str(b, op->origin);
    kbuf_put_uvarint(b, op->seq);
    kbuf_put_uvarint(b, op->hlc);
    kbuf_put_u8(b, op->kind);
    kbuf_put_bytes(b, op->payload, op->payload_len);
    kbuf_put(b, op->hash, OPLOG_HASH_SIZE);
    w->count++;
}

int oplog_file_finish(oplog_file_writer *w, kassa_err *err)
{
    if (w->count > OPLOG_FILE_MAX_OPS)
        return kassa_fail(err, KASSA_EOVERFLOW, "export: more than %d operations in one file",
                          OPLOG_FILE_MAX_OPS);
    if (w->buf.oom)
        return kassa_fail(err, KASSA_ENOMEM, "export: out of memory");
    uint8_t *c = w->buf.data + w->count_pos;
    for (int i = 0; i < 4; i++)
        c[i] = (uint8_t)(w->count >> (8 * i));
    uint8_t sum[OPLOG_HASH_SIZE];
    crypto_generichash(sum, sizeof sum, w->buf.data, w->buf.len, NULL, 0);
    kbuf_put(&w->buf, sum, sizeof sum);
    if (w->buf.oom)
        return kassa_fail(err, KASSA_ENOMEM, "export: out of memory");
    return KASSA_OK;
}

void oplog_file_writer_free(oplog_file_writer *w)
{
    kbuf_free(&w->buf);
}

int oplog_file_parse(const uint8_t *data, size_t len, oplog_file *f, kassa_err *err)
{
    memset(f, 0, sizeof *f);
    if (len < sizeof OPLOG_FILE_MAGIC + 1 + OPLOG_HASH_SIZE ||
        memcmp(data, OPLOG_FILE_MAGIC, sizeof OPLOG_FILE_MAGIC) != 0)
        return kassa_fail(err, KASSA_ECORRUPT, "not a kassa export file");
    if (data[sizeof OPLOG_FILE_MAGIC] != OPLOG_FILE_VERSION)
        return kassa_fail(err, KASSA_EVERSION,
                          "export file format version %u is not supported (this kassa reads %d)",
                          data[sizeof OPLOG_FILE_MAGIC], OPLOG_FILE_VERSION);
    size_t body_len = len - OPLOG_HASH_SIZE;
    uint8_t sum[OPLOG_HASH_SIZE];
    crypto_generichash(sum, sizeof sum, data, body_len, NULL, 0);
    if (sodium_memcmp(sum, data + body_len, OPLOG_HASH_SIZE) != 0)
        return kassa_fail(err, KASSA_ECORRUPT,
                          "export file checksum mismatch: truncated or corrupted");

    kreader r;
    kreader_init(&r, data, body_len);
    const uint8_t *skip;
    uint32_t count;
    kreader_raw(&r, sizeof OPLOG_FILE_MAGIC + 1, &skip);
    if (!read_id(&r, f->store_id, sizeof f->store_id) || !kreader_u32le(&r, &count) ||
        count > OPLOG_FILE_MAX_OPS)
        return kassa_fail(err, KASSA_ECORRUPT, "export file header is malformed");
    /* Each op takes at least 2+1+1+1+1+32 bytes: bound the allocation by
     * what the file can actually hold. */
    if ((size_t)count > kreader_left(&r) / 38)
        return kassa_fail(err, KASSA_ECORRUPT, "export file: operation count exceeds its size");
    f->ops = calloc(count ? count : 1, sizeof *f->ops);
    oplog_payload *scratch = malloc(sizeof *scratch);
    if (!f->ops || !scratch) {
        free(scratch);
        oplog_file_free(f);
        return kassa_fail(err, KASSA_ENOMEM, "out of memory");
    }
    for (uint32_t i = 0; i < count; i++) {
        oplog_op *op = &f->ops[i];
        const uint8_t *hash;
        if (!read_id(&r, op->origin, sizeof op->origin) || !kreader_uvarint(&r, &op->seq) ||
            op->seq == 0 || op->seq > OPLOG_SEQ_MAX || !kreader_uvarint(&r, &op->hlc) ||
            op->hlc > OPLOG_SEQ_MAX || !kreader_u8(&r, &op->kind) ||
            !kreader_bytes(&r, OPLOG_PAYLOAD_MAX, &op->payload, &op->payload_len) ||
            !kreader_raw(&r, OPLOG_HASH_SIZE, &hash)) {
            free(scratch);
            oplog_file_free(f);
            return kassa_fail(err, KASSA_ECORRUPT, "export file: operation %u is malformed", i + 1);
        }
        memcpy(op->hash, hash, OPLOG_HASH_SIZE);
        kassa_err perr;
        if (oplog_decode(op->kind, op->payload, op->payload_len, scratch, &perr) != KASSA_OK) {
            /* The message names the op: build it before the ops are freed. */
            kassa_fail(err, KASSA_ECORRUPT, "export file: operation %s/%llu: %s", op->origin,
                       (unsigned long long)op->seq, perr.msg);
            free(scratch);
            oplog_file_free(f);
            return KASSA_ECORRUPT;
        }
        f->n_ops++;
    }
    free(scratch);
    if (kreader_left(&r) != 0) {
        oplog_file_free(f);
        return kassa_fail(err, KASSA_ECORRUPT, "export file: trailing bytes after operations");
    }
    return KASSA_OK;
}

void oplog_file_free(oplog_file *f)
{
    free(f->ops);
    f->ops = NULL;
    f->n_ops = 0;
}
