/*
 * oplog: the operation, its payloads, its hash chain, version vectors and
 * the export file format. Pure encoding and checking; no storage.
 *
 * An operation is (origin, seq, hlc, kind, payload, hash) as in DESIGN.md §2.
 * seq is contiguous per origin from 1. hash = BLAKE2b-256(prev_hash ||
 * canonical(store, origin, seq, hlc, kind, payload)) with prev_hash all
 * zeroes for seq 1; putting the store id into the hashed bytes ties a log to
 * its store, so one store's operations cannot be replayed into another.
 *
 * Payloads are compact varint encodings (tens of bytes per sale). Every
 * decoder is bounds-checked and rejects trailing bytes.
 */
#ifndef KASSA_OPLOG_H
#define KASSA_OPLOG_H

#include "base/base.h"
#include "hlc/hlc.h"
#include "pricing/pricing.h"

#define OPLOG_HASH_SIZE 32
/* Sequence numbers and timestamps are SQLite integers: at most INT64_MAX. */
#define OPLOG_SEQ_MAX ((uint64_t)INT64_MAX)
#define OPLOG_PAYLOAD_MAX 65536
#define OPLOG_VV_MAX 4096
#define OPLOG_SALE_LINES_MAX 500
#define OPLOG_SETTING_KEY_MAX 64
/* Largest stock movement one count may record. */
#define OPLOG_STOCK_DELTA_MAX (PRICING_QTY_MAX * 1000)
#define OPLOG_SETTING_VALUE_MAX 256

typedef enum {
    OP_CATALOG_SET = 1,   /* LWW fields of one catalog item */
    OP_SALE = 2,          /* a completed sale */
    OP_VOID = 3,          /* tombstone for a whole sale */
    OP_RETURN = 4,        /* units returned against a sale */
    OP_STOCK_RECEIVE = 5, /* goods received */
    OP_STOCK_COUNT = 6,   /* a count: difference from the counter's view */
    OP_SETTING_SET = 7,   /* LWW store setting (tax rates, currency ...) */
    OP_CASHIER_SET = 8,   /* LWW cashier record (PIN as an Argon2id hash) */
    OP_AUDIT = 9,         /* a supervised action: who, approved by whom, what */
    OP_PAYMENT = 10,      /* a card payment's or refund's outcome; a review resolved */
    OP_DRAWER = 11,       /* cash drawer: float in, cash drop, count */
    OP_KIND_MAX = 11,
} oplog_kind;

const char *oplog_kind_name(int kind);

typedef struct oplog_op {
    char origin[KASSA_ID_MAX + 1];
    uint64_t seq;
    hlc_ts hlc;
    uint8_t kind;
    const uint8_t *payload; /* borrowed; lives as long as its owner */
    size_t payload_len;
    uint8_t hash[OPLOG_HASH_SIZE];
    /* Set by wire_decode_ops only: hash was checked to continue the hash of
     * the previous op of the same batch, which is (origin, seq - 1). The
     * apply then need not hash it again when that op is its head. */
    bool chained;
} oplog_op;

/* hash = H(prev || canonical(store, op)), written into out. */
void oplog_hash(const char *store_id, const uint8_t prev[OPLOG_HASH_SIZE], const oplog_op *op,
                uint8_t out[OPLOG_HASH_SIZE]);
/* Checks op->hash against prev. */
bool oplog_hash_ok(const char *store_id, const uint8_t prev[OPLOG_HASH_SIZE], const oplog_op *op);

/* ---- payloads ---- */

/* Bits of oplog_catalog_set.fields */
enum {
    CATALOG_F_NAME = 1,
    CATALOG_F_BARCODE = 2,
    CATALOG_F_PRICE = 4,
    CATALOG_F_TAX_CLASS = 8,
    CATALOG_F_ALL = 15,
};

typedef struct oplog_catalog_set {
    char sku[KASSA_SKU_MAX + 1];
    unsigned fields;
    char name[KASSA_NAME_MAX + 1];
    char barcode[KASSA_BARCODE_MAX + 1];
    int64_t price;
    char tax_class[KASSA_ID_MAX + 1];
} oplog_catalog_set;

/* A sale line carries resolved amounts, not rules: replaying a sale never
 * depends on the pricing code or the catalog of the replaying terminal. */
typedef struct oplog_sale_line {
    char sku[KASSA_SKU_MAX + 1];
    int64_t qty;
    int64_t unit_price;
    int64_t discount;
    int64_t tax;
} oplog_sale_line;

static inline int64_t oplog_line_total(const oplog_sale_line *l)
{
    return l->qty * l->unit_price - l->discount + l->tax;
}

/* ---- card tenders ----
 * A card payment as the sale records it: never the card number, only what
 * the reader hands the terminal (docs/PAYMENTS.md). */
#define OPLOG_PAY_ID_MAX 64
#define OPLOG_TOKEN_MAX 40
#define OPLOG_BRAND_MAX 15
#define OPLOG_REASON_MAX 31
#define OPLOG_AUTH_CODE_MAX 15
/* Cash rounding moves the cash due by at most half the largest increment
 * (1.00): docs/PAYMENTS.md, "Cash rounding". A return's cash is rounded
 * cumulatively with the sale's earlier returns, which moves it by up to a
 * whole increment. */
#define OPLOG_ROUNDING_MAX 50
#define OPLOG_REFUND_ROUNDING_MAX 100

typedef enum {
    OPLOG_CARD_ONLINE = 1,  /* approved by the processor before the sale */
    OPLOG_CARD_OFFLINE = 2, /* accepted offline, forwarded later */
} oplog_card_mode;

typedef struct oplog_card_tender {
    char payment_id[OPLOG_PAY_ID_MAX + 1];
    int64_t amount;
    char token[OPLOG_TOKEN_MAX + 1];
    char brand[OPLOG_BRAND_MAX + 1];
    char last4[5];
    uint8_t exp_month;                       /* 1..12 */
    uint16_t exp_year;                       /* 2000..2099 */
    uint8_t mode;                            /* oplog_card_mode */
    char auth_code[OPLOG_AUTH_CODE_MAX + 1]; /* online approvals; "" offline */
} oplog_card_tender;

/* A sale is paid in cash, by one card, or both (split tender). The cash
 * part is rounded by the store's cash rounding rule:
 *   cash due = total + rounding - card amount, and tendered >= cash due;
 * change = tendered - cash due. The drawer takes the cash due. */
typedef struct oplog_sale {
    char cashier[KASSA_ID_MAX + 1]; /* "" when sold by the operator's CLI */
    size_t n_lines;
    oplog_sale_line lines[OPLOG_SALE_LINES_MAX];
    int64_t tendered; /* cash handed over */
    int64_t rounding; /* cash rounding, -OPLOG_ROUNDING_MAX..OPLOG_ROUNDING_MAX */
    bool has_card;
    oplog_card_tender card;
    int64_t total; /* derived on decode: sum of line totals */
    int64_t tax;   /* derived on decode */
} oplog_sale;

/* What the sale takes in cash (total + rounding - card). */
static inline int64_t oplog_sale_cash_due(const oplog_sale *s)
{
    return s->total + s->rounding - (s->has_card ? s->card.amount : 0);
}

typedef struct oplog_sale_ref {
    char origin[KASSA_ID_MAX + 1];
    uint64_t seq;
} oplog_sale_ref;

/* A refund's split between the original tenders (voids and returns): the
 * card part goes back to the sale's card by a refund through the
 * processor, the rest is cash, rounded like the sale's cash was. */
typedef struct oplog_refund_split {
    int64_t rounding;    /* added to the cash part */
    int64_t card_amount; /* 0: all cash */
    char refund_id[OPLOG_PAY_ID_MAX + 1];
    char payment_id[OPLOG_PAY_ID_MAX + 1]; /* the sale's card payment */
} oplog_refund_split;

typedef struct oplog_void {
    oplog_sale_ref sale;
    int64_t refund; /* the sale's total */
    oplog_refund_split split;
} oplog_void;

/* Cash handed back: refund + rounding - card part. */
static inline int64_t oplog_refund_cash(int64_t refund, const oplog_refund_split *s)
{
    return refund + s->rounding - s->card_amount;
}

typedef struct oplog_return_line {
    char sku[KASSA_SKU_MAX + 1];
    int64_t qty;
    int64_t refund;
} oplog_return_line;

typedef struct oplog_return {
    oplog_sale_ref sale;
    size_t n_lines;
    oplog_return_line lines[OPLOG_SALE_LINES_MAX];
    oplog_refund_split split;
    int64_t refund; /* derived on decode: sum of the lines' refunds */
} oplog_return;

typedef struct oplog_stock {
    char sku[KASSA_SKU_MAX + 1];
    int64_t qty;   /* receive: units received; count: units counted */
    int64_t delta; /* count only: counted minus the counter's view */
} oplog_stock;

typedef struct oplog_setting {
    char key[OPLOG_SETTING_KEY_MAX + 1];
    char value[OPLOG_SETTING_VALUE_MAX + 1];
} oplog_setting;

#define OPLOG_PIN_HASH_MAX 128 /* crypto_pwhash_STRBYTES */
#define OPLOG_AUDIT_SUBJECT_MAX 56
#define OPLOG_AUDIT_DETAIL_MAX 256

typedef struct oplog_cashier {
    char id[KASSA_ID_MAX + 1];
    char name[KASSA_NAME_MAX + 1];
    uint8_t role; /* 1 cashier, 2 supervisor, 3 manager */
    char pin_hash[OPLOG_PIN_HASH_MAX + 1];
} oplog_cashier;

typedef struct oplog_audit {
    char action[OPLOG_SETTING_KEY_MAX + 1]; /* void, return, price_override, no_sale */
    char cashier[KASSA_ID_MAX + 1];         /* may be "" (operator) */
    char supervisor[KASSA_ID_MAX + 1];      /* may be "" (operator) */
    char subject[OPLOG_AUDIT_SUBJECT_MAX + 1];
    char detail[OPLOG_AUDIT_DETAIL_MAX + 1];
} oplog_audit;

/* A card payment's or refund's outcome, written by the terminal that sent
 * it to the processor; or a manager's resolution of a declined one. */
typedef enum {
    OPLOG_PAY_APPROVED = 1,        /* a stored payment approved when forwarded */
    OPLOG_PAY_DECLINED = 2,        /* a stored payment declined when forwarded */
    OPLOG_PAY_EXPIRED = 3,         /* a stored payment too old to forward */
    OPLOG_PAY_REFUNDED = 4,        /* a card refund done */
    OPLOG_PAY_REFUND_DECLINED = 5, /* a card refund refused */
    OPLOG_PAY_RESOLVED = 6,        /* reviewed by a manager (note says how) */
    OPLOG_PAY_OUTCOME_MAX = 6,
} oplog_pay_outcome;

const char *oplog_pay_outcome_name(int outcome);

/* Card tokens, brands, decline reasons, auth codes: [A-Za-z0-9_], at least
 * one byte (what the payload decoders accept). */
bool oplog_word_ok(const char *s);

typedef struct oplog_payment {
    char id[OPLOG_PAY_ID_MAX + 1]; /* the payment or refund */
    uint8_t outcome;               /* oplog_pay_outcome */
    char reason[OPLOG_REASON_MAX + 1];
    char auth_code[OPLOG_AUTH_CODE_MAX + 1];
    char cashier[KASSA_ID_MAX + 1]; /* resolved: the manager; may be "" */
    char note[OPLOG_AUDIT_DETAIL_MAX + 1];
} oplog_payment;

typedef enum {
    OPLOG_DRAWER_FLOAT = 1, /* cash put in (the float at the start of a shift) */
    OPLOG_DRAWER_DROP = 2,  /* cash taken out to the safe */
    OPLOG_DRAWER_COUNT = 3, /* a count: amount counted, delta = over (+) / short (-) */
} oplog_drawer_action;

typedef struct oplog_drawer {
    uint8_t action;
    int64_t amount;
    int64_t delta; /* count only: counted minus the counter's view of the drawer */
    char cashier[KASSA_ID_MAX + 1];
} oplog_drawer;

void oplog_encode_catalog_set(kbuf *b, const oplog_catalog_set *c);
void oplog_encode_sale(kbuf *b, const oplog_sale *s);
void oplog_encode_void(kbuf *b, const oplog_void *v);
void oplog_encode_return(kbuf *b, const oplog_return *r);
void oplog_encode_stock(kbuf *b, const oplog_stock *s);
void oplog_encode_setting(kbuf *b, const oplog_setting *s);
void oplog_encode_cashier(kbuf *b, const oplog_cashier *c);
void oplog_encode_audit(kbuf *b, const oplog_audit *a);
void oplog_encode_payment(kbuf *b, const oplog_payment *p);
void oplog_encode_drawer(kbuf *b, const oplog_drawer *d);

/* Decoders validate ranges (ids, quantities > 0, amounts within limits,
 * totals that fit) and fail with KASSA_ECORRUPT on anything else. */
int oplog_decode_catalog_set(const uint8_t *p, size_t n, oplog_catalog_set *c, kassa_err *err);
int oplog_decode_sale(const uint8_t *p, size_t n, oplog_sale *s, kassa_err *err);
int oplog_decode_void(const uint8_t *p, size_t n, oplog_void *v, kassa_err *err);
int oplog_decode_return(const uint8_t *p, size_t n, oplog_return *r, kassa_err *err);
int oplog_decode_stock(const uint8_t *p, size_t n, oplog_stock *s, kassa_err *err);
int oplog_decode_setting(const uint8_t *p, size_t n, oplog_setting *s, kassa_err *err);
int oplog_decode_cashier(const uint8_t *p, size_t n, oplog_cashier *c, kassa_err *err);
int oplog_decode_audit(const uint8_t *p, size_t n, oplog_audit *a, kassa_err *err);
int oplog_decode_payment(const uint8_t *p, size_t n, oplog_payment *pay, kassa_err *err);
int oplog_decode_drawer(const uint8_t *p, size_t n, oplog_drawer *d, kassa_err *err);
/* Room for the decoded form of any kind (the sale and return forms are
 * large: allocate it). */
typedef union oplog_payload {
    oplog_catalog_set catalog_set;
    oplog_sale sale;
    oplog_void void_;
    oplog_return ret;
    oplog_stock stock;
    oplog_setting setting;
    oplog_cashier cashier;
    oplog_audit audit;
    oplog_payment payment;
    oplog_drawer drawer;
} oplog_payload;

/* Decodes with the kind's own decoder into out, which points to the kind's
 * struct (oplog_stock for both stock kinds) or to an oplog_payload. */
int oplog_decode(int kind, const uint8_t *p, size_t n, void *out, kassa_err *err);
/* Encodes the kind's struct; KASSA_EINVAL for an unknown kind. Encoders do
 * not validate (tests build bad payloads with them). */
int oplog_encode(int kind, const void *payload, kbuf *b);
/* Decodes the payload of any kind, only to validate it. */
int oplog_validate_payload(int kind, const uint8_t *p, size_t n, kassa_err *err);

/* The sale a void or return refers to (both payloads start with it): 1 and
 * *ref filled, 0 for other kinds, -1 when malformed. */
int oplog_payload_sale_ref(int kind, const uint8_t *p, size_t n, oplog_sale_ref *ref);

/* Sale ids are "<origin>-<seq>"; node ids may contain '-', so the last one
 * separates. */
void oplog_sale_id(const oplog_sale_ref *ref, char *out, size_t out_size);
int oplog_parse_sale_id(const char *s, oplog_sale_ref *ref, kassa_err *err);

/* ---- version vectors: {origin: highest contiguous seq} ---- */

typedef struct oplog_vv_entry {
    char origin[KASSA_ID_MAX + 1];
    uint64_t seq;
} oplog_vv_entry;

typedef struct oplog_vv {
    size_t n; /* entries sorted by origin, seq > 0 */
    oplog_vv_entry *e;
} oplog_vv;

void oplog_vv_init(oplog_vv *vv);
void oplog_vv_free(oplog_vv *vv);
uint64_t oplog_vv_get(const oplog_vv *vv, const char *origin);
int oplog_vv_set(oplog_vv *vv, const char *origin, uint64_t seq, kassa_err *err);
/* Text form, one "ORIGIN SEQ" per line; what `kassa vv` prints and
 * `kassa export --since` reads. */
void oplog_vv_format(const oplog_vv *vv, kbuf *out);
int oplog_vv_parse(const char *text, size_t len, oplog_vv *vv, kassa_err *err);

/* ---- export files ----
 * "KASSAOPS" | u8 version | store id | u32le count | ops... | BLAKE2b-256 of
 * all preceding bytes. Each op: origin, uvarint seq, uvarint hlc, u8 kind,
 * bytes payload, 32-byte hash. */

#define OPLOG_FILE_VERSION 1
#define OPLOG_FILE_MAX_OPS 10000000

typedef struct oplog_file_writer {
    kbuf buf;
    size_t count_pos; /* where the op count starts (patched at finish) */
    uint64_t count;
} oplog_file_writer;

void oplog_file_begin(oplog_file_writer *w, const char *store_id);
void oplog_file_add(oplog_file_writer *w, const oplog_op *op);
/* Finishes the file; the bytes are w->buf.data / w->buf.len.
 * Returns KASSA_ENOMEM if any append failed. */
int oplog_file_finish(oplog_file_writer *w, kassa_err *err);
void oplog_file_writer_free(oplog_file_writer *w);

typedef struct oplog_file {
    char store_id[KASSA_ID_MAX + 1];
    size_t n_ops;
    oplog_op *ops; /* payloads point into the caller's file bytes */
} oplog_file;

/* Parses and checks a whole export file: magic, version, checksum, every
 * op's fields and payload. All or nothing. */
int oplog_file_parse(const uint8_t *data, size_t len, oplog_file *f, kassa_err *err);
void oplog_file_free(oplog_file *f);

#endif
