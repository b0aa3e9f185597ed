/*
 * term: the terminal core. One terminal = one data directory = one SQLite
 * database holding the operation log and its projections.
 *
 * Every change is an operation appended to this terminal's log and applied
 * to the projections in the same transaction (term_sale, term_void, ...).
 * Operations of other terminals arrive through term_import and go through
 * the same apply code, idempotently by (origin, seq) and in each origin's
 * order. A call returns KASSA_OK only after its transaction committed.
 *
 * Merge rules (docs/ARCHITECTURE.md, "Concurrent actions on one sale"):
 *  - stock per SKU is a PN-Counter; a sale takes its units out, a void
 *    credits back every unit sold, returns credit back what they return but
 *    never more than was sold, and nothing is credited twice: a voided
 *    sale's returns credit nothing more.
 *  - cash drawers record what physically moved: a refund paid twice (void
 *    on one terminal, return on another while apart) is in both drawers,
 *    and the sale is listed as a conflict for review.
 */
#ifndef KASSA_TERM_H
#define KASSA_TERM_H

#include "base/base.h"
#include "catalog/csv.h"
#include "hlc/hlc.h"
#include "oplog/oplog.h"
#include "pricing/pricing.h"
#include "store/store.h"

#define TERM_DB_FILE "kassa.db"
/* Most operations an import may leave waiting in the pending queue. */
#define TERM_PENDING_MAX 1000000

typedef uint64_t (*term_clock_fn)(void *ctx);

/* Who performs the actions that follow: the logged-in cashier, and the
 * supervisor who approved (empty strings: the operator's CLI). Sales record
 * the cashier; voids, returns, price overrides and no-sale drawer opens
 * write an audit operation naming both. */
typedef struct term_actor {
    char cashier[KASSA_ID_MAX + 1];
    char supervisor[KASSA_ID_MAX + 1];
    char reason[201]; /* why, for the audit log ("" when none given) */
} term_actor;

typedef struct term {
    store st;
    char store_id[KASSA_ID_MAX + 1];
    char node_id[KASSA_ID_MAX + 1];
    int64_t node_origin; /* this node's interned origin id */
    hlc_clock clock;
    uint64_t max_skew_ms;
    term_clock_fn now_ms; /* wall clock; replaceable for tests */
    void *now_ctx;
    uint64_t skew_reports;  /* remote clocks clamped since open */
    size_t pending_max;     /* TERM_PENDING_MAX unless a test lowers it */
    term_actor actor;       /* who acts now: set per request by kassad */
    int64_t pin_lockout_ms; /* how long max_pin_failures wrong PINs lock */
    int max_pin_failures;
    kbuf scratch;           /* payload encoding, reused */
    struct term_work *work; /* decoding space, allocated once at open */
    /* Called after a transaction that appended local operations has
     * committed (the outermost one): the peer links push them at once. */
    void (*on_local_commit)(void *ctx);
    void *on_local_commit_ctx;
    bool local_appended; /* this transaction appended local operations */
} term;

/* Creates DIR (mode 0700) and its database for this store and node. Fails
 * if DIR already holds a kassa database. */
int term_init(const char *dir, const char *store_id, const char *node_id, kassa_err *err);
int term_open(const char *dir, term **out, kassa_err *err);
void term_close(term *t);
void term_set_clock(term *t, term_clock_fn fn, void *ctx);

/* Group commit: actions between begin and commit share one transaction
 * (one fsync); a failing action inside rolls back alone. Nothing in the
 * batch is acknowledged until term_batch_commit returns KASSA_OK. */
int term_batch_begin(term *t, kassa_err *err);
int term_batch_commit(term *t, kassa_err *err);
void term_batch_rollback(term *t);

/* ---- catalog and settings ---- */

typedef struct term_item {
    char sku[KASSA_SKU_MAX + 1];
    char name[KASSA_NAME_MAX + 1];
    char barcode[KASSA_BARCODE_MAX + 1];
    int64_t price;
    char tax_class[KASSA_ID_MAX + 1];
    int64_t stock;
} term_item;

/* Imports parsed items in one transaction: a catalog_set operation per item,
 * plus a stock receipt for its stock column when > 0. Every tax class must
 * be known; any error imports nothing. */
int term_catalog_import(term *t, const catalog_item *items, size_t n, kassa_err *err);
/* Sets some fields (CATALOG_F_*) of one item. */
int term_catalog_set(term *t, const oplog_catalog_set *c, kassa_err *err);
int term_item_get(term *t, const char *sku, term_item *out, kassa_err *err);
int term_item_by_barcode(term *t, const char *barcode, term_item *out, kassa_err *err);
typedef int (*term_item_cb)(const term_item *item, void *ctx);
int term_catalog_each(term *t, term_item_cb cb, void *ctx, kassa_err *err);
/* Items whose name starts with prefix (ASCII case-insensitive), by name,
 * at most limit. */
int term_catalog_search(term *t, const char *prefix, size_t limit, term_item_cb cb, void *ctx,
                        kassa_err *err);

/* Tax classes are settings "tax.CLASS" holding basis points; standard
 * (20 %), reduced (5.5 %) and zero exist from the start. */
int term_tax_rate(term *t, const char *tax_class, int32_t *rate_bp, kassa_err *err);
int term_setting_set(term *t, const char *key, const char *value, kassa_err *err);
/* A setting's value; *found false (and out untouched) when never set. */
int term_setting_get(term *t, const char *key, char *out, size_t size, bool *found, kassa_err *err);

/* ---- selling ---- */

typedef struct term_cart_line {
    char sku[KASSA_SKU_MAX + 1];
    int64_t qty;
    pricing_discount_kind discount_kind;
    int64_t discount_value;
    int64_t price_override;          /* unit price in minor units; -1: the catalog's */
    char approver[KASSA_ID_MAX + 1]; /* the supervisor who approved the override */
} term_cart_line;

typedef struct term_cart {
    size_t n_lines;
    term_cart_line lines[OPLOG_SALE_LINES_MAX];
} term_cart;

/* Adds a line; the same SKU twice is one line with the quantities added
 * (a discount given on either applies to the merged line). */
int term_cart_add(term_cart *cart, const char *sku, int64_t qty, kassa_err *err);
int term_cart_discount(term_cart *cart, const char *sku, pricing_discount_kind kind, int64_t value,
                       kassa_err *err);
/* Copies a cart: only its used lines (a cart has room for 500). */
void term_cart_copy(term_cart *dst, const term_cart *src);
/* Sets a line's quantity (1..PRICING_QTY_MAX) / removes a line. */
int term_cart_set_qty(term_cart *cart, const char *sku, int64_t qty, kassa_err *err);
int term_cart_remove(term_cart *cart, const char *sku, kassa_err *err);
/* Overrides a line's unit price, approved by supervisor `approver` ("" for
 * the operator's CLI); -1 restores the catalog's price. The sale writes one
 * audit operation per overridden line, naming its approver. */
int term_cart_price_override(term_cart *cart, const char *sku, int64_t unit_price,
                             const char *approver, kassa_err *err);
/* Prices a cart without recording anything: what a screen shows. */
int term_cart_price(term *t, const term_cart *cart, oplog_sale *lines, pricing_totals *totals,
                    kassa_err *err);

typedef struct term_sale_result {
    oplog_sale_ref ref;
    hlc_ts hlc;
    oplog_sale sale; /* resolved lines and tenders as recorded */
    pricing_totals totals;
    int64_t cash_due; /* total + rounding - card */
    int64_t change;
} term_sale_result;

/* How a sale is paid: cash, one card, or both. */
typedef struct term_tender {
    int64_t cash; /* cash handed over */
    bool has_card;
    /* The card payment, read and decided by the card path (kassad); its
     * payment id must be this terminal's, in state TERM_PAY_AUTHORIZING:
     * the sale moves it to TERM_PAY_CAPTURE_DUE (online) or
     * TERM_PAY_STORED (offline) in the same transaction. */
    oplog_card_tender card;
    /* An offline card payment above the limits, allowed by this manager
     * (audited as "saf_override" with override_detail); "" when none. */
    char override_by[KASSA_ID_MAX + 1];
    char override_detail[OPLOG_AUDIT_DETAIL_MAX + 1];
} term_tender;

/* Prices the cart from the catalog and records a cash sale. Unknown SKU,
 * tendered < total, or any pricing error: nothing is written. */
int term_sale(term *t, const term_cart *cart, int64_t tendered, term_sale_result *res,
              kassa_err *err);
/* term_sale paid as the tender says. The cash part (total - card) is
 * rounded by the cash rounding rule (term_cash_round); the card pays
 * 1..total. */
int term_sale_tender(term *t, const term_cart *cart, const term_tender *tender,
                     term_sale_result *res, kassa_err *err);
/* Rounds a cash amount by the store's rule: setting "cash_rounding.CUR"
 * (CUR: setting "currency", default EUR) holds the increment in minor
 * units, one of 1 (none, the default), 5, 10, 20, 25, 50, 100; halves
 * round up (2.5 -> 5). */
int term_cash_round(term *t, int64_t amount, int64_t *rounded, kassa_err *err);
/* Where a refund goes: back to the original tenders. The sale's card gets
 * back what it paid and has not had back yet, first; the rest is cash,
 * rounded by the cash rounding rule. A card part is a card refund this
 * terminal sends to the processor (TERM_PAY_REFUND_DUE). */
typedef struct term_refund {
    int64_t total; /* before cash rounding */
    int64_t cash;  /* handed back from the drawer */
    int64_t card;  /* back to the card */
    char refund_id[OPLOG_PAY_ID_MAX + 1];
    char last4[5];
    char brand[OPLOG_BRAND_MAX + 1];
} term_refund;

/* Voids a whole sale, refunding what was paid to its tenders (refund may
 * be NULL). Refused when the sale is already voided or has returns, and
 * when its offline card payment was declined (it is for review). */
int term_void_ex(term *t, const oplog_sale_ref *sale, term_refund *refund, kassa_err *err);
/* term_void_ex giving only the refund's total (before cash rounding). */
int term_void(term *t, const oplog_sale_ref *sale, int64_t *refund, kassa_err *err);

typedef struct term_return_req {
    size_t n_lines;
    struct {
        char sku[KASSA_SKU_MAX + 1];
        int64_t qty;
    } lines[OPLOG_SALE_LINES_MAX];
} term_return_req;

/* Returns units of a sale; refuses more than was sold minus returned so far
 * and a voided sale. *refund (may be NULL) says where the money goes. */
int term_return_ex(term *t, const oplog_sale_ref *sale, const term_return_req *req,
                   oplog_sale_ref *return_ref, term_refund *refund, kassa_err *err);
/* term_return_ex giving only the refund's total (before cash rounding). */
int term_return(term *t, const oplog_sale_ref *sale, const term_return_req *req,
                oplog_sale_ref *return_ref, int64_t *refund, kassa_err *err);

int term_stock_receive(term *t, const char *sku, int64_t qty, kassa_err *err);
/* Records a count: the difference between counted and this terminal's
 * current view, returned in *delta. */
int term_stock_count(term *t, const char *sku, int64_t counted, int64_t *delta, kassa_err *err);
int term_stock_get(term *t, const char *sku, int64_t *qty, kassa_err *err);
typedef int (*term_stock_cb)(const char *sku, int64_t qty, void *ctx);
int term_stock_each(term *t, term_stock_cb cb, void *ctx, kassa_err *err);

/* Records a decision for audit (the AI's and what the cashier made of it:
 * action "ai_recognition", "voice_proposal", "fraud_decision" ...): one
 * replicated audit operation for the current actor. subject at most
 * OPLOG_AUDIT_SUBJECT_MAX bytes, detail at most OPLOG_AUDIT_DETAIL_MAX, no
 * control characters. */
int term_audit_record(term *t, const char *action, const char *subject, const char *detail,
                      kassa_err *err);

/* Opens the drawer without a sale: an audit operation (needs
 * t->actor.supervisor; reason 1..200 bytes). */
int term_drawer_open(term *t, const char *reason, kassa_err *err);

/* Drawer cash movements by the cashier in t->actor: a float put in, a drop
 * taken to the safe (amount 1..PRICING_AMOUNT_MAX; a drop of more than the
 * drawer holds is refused), or a count (counted >= 0): the count records
 * counted minus this terminal's drawer (over > 0, short < 0) in *delta and
 * books it, so the drawer then holds what was counted. */
int term_drawer_move(term *t, oplog_drawer_action action, int64_t amount, int64_t *delta,
                     kassa_err *err);

typedef struct term_drawer_event {
    oplog_sale_ref ref;
    hlc_ts hlc;
    char origin[KASSA_ID_MAX + 1];
    oplog_drawer d;
} term_drawer_event;
typedef int (*term_drawer_cb)(const term_drawer_event *e, void *ctx);
/* One drawer's floats, drops and counts (node NULL: every drawer), newest
 * first, at most limit. */
int term_drawer_events(term *t, const char *node, size_t limit, term_drawer_cb cb, void *ctx,
                       kassa_err *err);

/* ---- cashiers ---- */

typedef enum {
    TERM_ROLE_CASHIER = 1,
    TERM_ROLE_SUPERVISOR = 2,
    TERM_ROLE_MANAGER = 3,
} term_role;

const char *term_role_name(term_role role);
int term_role_parse(const char *name, term_role *role);

typedef struct term_cashier {
    char id[KASSA_ID_MAX + 1];
    char name[KASSA_NAME_MAX + 1];
    term_role role;
} term_cashier;

#define TERM_PIN_MIN 4
#define TERM_PIN_MAX 12
#define TERM_DEFAULT_MAX_PIN_FAILURES 5
#define TERM_DEFAULT_PIN_LOCKOUT_MS (5 * 60 * 1000)

/* Adds or changes a cashier (replicated, last writer wins). The PIN (4..12
 * digits) is stored only as an Argon2id hash. */
int term_cashier_set(term *t, const char *id, const char *name, term_role role, const char *pin,
                     kassa_err *err);
typedef int (*term_cashier_cb)(const term_cashier *c, void *ctx);
int term_cashiers_each(term *t, term_cashier_cb cb, void *ctx, kassa_err *err);
/* Checks a cashier's PIN. Wrong PIN: KASSA_EAUTH; after max_pin_failures
 * wrong PINs in a row the cashier is locked for pin_lockout_ms:
 * KASSA_ELOCKED (*retry_after_ms says how long), whatever the PIN. A right
 * PIN resets the count. Lockouts are this terminal's own, not replicated. */
int term_cashier_check_pin(term *t, const char *id, const char *pin, term_cashier *out,
                           int64_t *retry_after_ms, kassa_err *err);

/* ---- audit ---- */

typedef struct term_audit_entry {
    oplog_sale_ref ref; /* the audit operation itself */
    hlc_ts hlc;
    char action[OPLOG_SETTING_KEY_MAX + 1]; /* void, return, price_override, no_sale */
    char cashier[KASSA_ID_MAX + 1];
    char supervisor[KASSA_ID_MAX + 1];
    char subject[OPLOG_AUDIT_SUBJECT_MAX + 1]; /* the sale id or SKU concerned */
    char detail[OPLOG_SETTING_VALUE_MAX + 1];
} term_audit_entry;

typedef int (*term_audit_cb)(const term_audit_entry *e, void *ctx);
/* Audit entries in time order. */
int term_audit_each(term *t, term_audit_cb cb, void *ctx, kassa_err *err);

/* ---- reading sales ---- */

typedef struct term_sale_info {
    oplog_sale_ref ref;
    hlc_ts hlc;
    int64_t total;
    bool voided;
    int64_t refunded; /* by returns */
    bool conflict;    /* refunded twice or over-returned: needs review */
} term_sale_info;

typedef int (*term_sale_cb)(const term_sale_info *sale, void *ctx);
/* Sales in (hlc, origin, seq) order. */
int term_sales_each(term *t, term_sale_cb cb, void *ctx, kassa_err *err);
/* The newest `limit` sales, newest first. */
int term_sales_recent(term *t, size_t limit, term_sale_cb cb, void *ctx, kassa_err *err);
/* Conflicting sales only. */
int term_conflicts_each(term *t, term_sale_cb cb, void *ctx, kassa_err *err);
/* One sale with its lines decoded from its operation (sale is heap-sized:
 * pass a pointer to an oplog_sale the caller owns). */
int term_sale_get(term *t, const oplog_sale_ref *ref, term_sale_info *info, oplog_sale *sale,
                  kassa_err *err);
/* Units of a sale's SKU returned so far (all return operations). */
int term_sale_returned(term *t, const oplog_sale_ref *ref, const char *sku, int64_t *returned,
                       kassa_err *err);

/* Plain-text receipt of a sale (appended to out). */
int term_receipt(term *t, const oplog_sale_ref *ref, kbuf *out, kassa_err *err);

/* Drawer: cash in minus cash out for one terminal (node NULL: all). */
/* KASSA_ENOTFOUND for a node no operation has come from. */
int term_drawer(term *t, const char *node, int64_t *cash, kassa_err *err);

/* ---- replication by file ---- */

int term_vv(term *t, oplog_vv *vv, kassa_err *err);
/* Exports every operation newer than `since` (NULL: all), each origin in
 * order, as an export file. */
int term_export(term *t, const oplog_vv *since, kbuf *out, kassa_err *err);

typedef struct term_import_report {
    size_t in_file;    /* operations in the file */
    size_t applied;    /* newly applied, including pending ones unblocked */
    size_t duplicates; /* already held */
    size_t pending;    /* held back: gap or missing dependency */
    size_t dropped;    /* pending operations that failed their hash chain */
    uint64_t skew_reports;
} term_import_report;

/* Imports an export file in one transaction: a file of another store, a
 * corrupted or truncated file, or an operation that contradicts the history
 * already held for its origin rejects the whole file. */
int term_import(term *t, const uint8_t *data, size_t len, term_import_report *rep, kassa_err *err);

/* term_import for operations already decoded and checked (a peer link's
 * batch, src/wire): the same idempotent apply, in one transaction, all or
 * nothing. The caller checked that they belong to this store. */
int term_import_ops(term *t, const oplog_op *ops, size_t n_ops, term_import_report *rep,
                    kassa_err *err);

/* Reads origin's operations with seq > after_seq, in order: at most max_ops
 * of them and, past the first, at most max_bytes of payload. ops[i].payload
 * points into *payloads (reset first), valid until it next changes. */
int term_ops_read(term *t, const char *origin, uint64_t after_seq, size_t max_ops, size_t max_bytes,
                  oplog_op *ops, kbuf *payloads, size_t *n_ops, kassa_err *err);

/* ---- the store's Raft group: this member's persisted state ----
 * The Raft core (src/raft) is pure; its embedding persists what each ready
 * asks for here, durably (synchronous=FULL), before sending the messages
 * that depend on it. */

#define TERM_RAFT_DATA_MAX (64 * 1024)

typedef struct term_raft_hard {
    uint64_t term;
    char vote[KASSA_ID_MAX + 1]; /* "" when none */
    uint64_t commit;
} term_raft_hard;

typedef struct term_raft_entry {
    uint64_t index, term;
    uint8_t type;
    const uint8_t *data; /* borrowed */
    size_t len;
} term_raft_entry;

typedef int (*term_raft_entry_cb)(const term_raft_entry *e, void *ctx);

/* Reads the hard state (all zero when never saved) and calls cb for each
 * log entry in index order (data valid during the call only). */
int term_raft_load(term *t, term_raft_hard *hs, term_raft_entry_cb cb, void *ctx, kassa_err *err);

/* In one durable transaction: the hard state (hs NULL: unchanged), then the
 * log entries, which replace every entry from entries[0].index on (a
 * leader's log overwriting a conflicting tail). Indexes must be
 * consecutive. */
int term_raft_save(term *t, const term_raft_hard *hs, const term_raft_entry *entries,
                   size_t n_entries, kassa_err *err);

/* Drops log entries up to and including index (after a snapshot). */
int term_raft_compact(term *t, uint64_t index, kassa_err *err);

/* The log's compacted prefix: index and term of its last entry, the
 * configuration then (member ids joined by ','), and the snapshot data. */
#define TERM_RAFT_CONF_MAX_BYTES 1024
#define TERM_RAFT_SNAPSHOT_MAX_BYTES 65536
typedef struct term_raft_snapshot {
    uint64_t index, term;
    char conf[TERM_RAFT_CONF_MAX_BYTES];
    const uint8_t *data; /* borrowed */
    size_t len;
} term_raft_snapshot;

/* In one durable transaction: replaces the stored snapshot with snap and
 * drops the log entries it covers. */
int term_raft_snapshot_save(term *t, const term_raft_snapshot *snap, kassa_err *err);
/* The stored snapshot (index 0 when there is none); its data is copied
 * into *data (reset first). */
int term_raft_snapshot_load(term *t, term_raft_snapshot *snap, kbuf *data, kassa_err *err);

/* Records that the daemon started at now_ms (wall clock) and gives how many
 * times it started in the last 24 hours, this one included: the stability
 * score of the Raft preference counts restarts. Keeps at most
 * TERM_STARTS_KEPT starts. */
#define TERM_STARTS_KEPT 32
int term_note_start(term *t, uint64_t now_ms, uint32_t *starts_last_day, kassa_err *err);

/* ---- card payments (term/payment.c, docs/PAYMENTS.md) ----
 * This terminal's dealings with the processor: one row per payment or
 * refund id, a state machine that is committed before each step it
 * stands for, so a crash anywhere leaves a row that says what to do:
 *
 *   READING -> AUTHORIZING -> (sale, online)  CAPTURE_DUE -> DONE
 *                          -> (sale, offline) STORED      -> DONE + outcome op
 *                          -> (no sale)       REVERSE_DUE -> DONE
 *   READING -> DONE (no card, or refused before the processor was asked)
 *   (void/return) REFUND_DUE -> DONE + outcome op
 *
 * At start, term_pay_recover settles what a crash interrupted: READING
 * rows were never sent (DONE), AUTHORIZING rows may hold an approval with
 * no sale: REVERSE_DUE. */

#define TERM_PAY_BLOB_MAX 512

typedef enum {
    TERM_PAY_READING = 1,
    TERM_PAY_AUTHORIZING = 2,
    TERM_PAY_CAPTURE_DUE = 3,
    TERM_PAY_STORED = 4,
    TERM_PAY_REVERSE_DUE = 5,
    TERM_PAY_REFUND_DUE = 6,
    TERM_PAY_DONE = 7,
} term_pay_state;

const char *term_pay_state_name(term_pay_state s);

typedef enum {
    TERM_PAY_KIND_PAYMENT = 1,
    TERM_PAY_KIND_REFUND = 2,
} term_pay_kind;

typedef struct term_pay {
    int64_t n; /* order of creation on this terminal */
    char id[OPLOG_PAY_ID_MAX + 1];
    term_pay_kind kind;
    term_pay_state state;
    int64_t amount;
    char token[OPLOG_TOKEN_MAX + 1];
    char payment_id[OPLOG_PAY_ID_MAX + 1]; /* refund: the payment refunded */
    uint8_t blob[TERM_PAY_BLOB_MAX];       /* sealed card data; 0 bytes once decided */
    size_t blob_len;
    int64_t created_ms;
    int64_t stored_ms; /* offline: when the sale committed */
    int64_t attempts;  /* failed sends */
    char result[32];   /* DONE: how it ended */
    char last_error[128];
} term_pay;

/* Reserves a payment id ("NODE.Pn") for amount before the reader is asked. */
int term_pay_reserve(term *t, int64_t amount, char id[OPLOG_PAY_ID_MAX + 1], kassa_err *err);
/* READING -> AUTHORIZING: the card was read; committed before the
 * processor is asked. */
int term_pay_card_read(term *t, const char *id, const char *token, const uint8_t *blob,
                       size_t blob_len, kassa_err *err);
int term_pay_get(term *t, const char *id, term_pay *out, kassa_err *err);
/* The sale will not happen: READING -> DONE, AUTHORIZING -> REVERSE_DUE
 * (the processor may hold an approval: release it). why: e.g.
 * "declined:insufficient_funds", "reader:timeout". */
int term_pay_abandon(term *t, const char *id, const char *why, kassa_err *err);
/* The processor declined an online authorisation: AUTHORIZING -> DONE
 * (no hold to release). */
int term_pay_declined(term *t, const char *id, const char *reason, kassa_err *err);
/* The processor's final word on a row with work to send: DONE with result.
 * For a STORED payment (outcome APPROVED, DECLINED or EXPIRED) and for a
 * refund (REFUNDED, REFUND_DECLINED) an outcome operation is appended in
 * the same transaction; outcome 0 for the others. */
int term_pay_finish(term *t, const char *id, int outcome, const char *reason, const char *auth_code,
                    kassa_err *err);
/* A send failed (no answer, 5xx, garbage): counted, the row stays due. */
int term_pay_attempt_failed(term *t, const char *id, const char *error, kassa_err *err);
/* Rows with work to send (CAPTURE_DUE, STORED, REVERSE_DUE, REFUND_DUE)
 * with n > after_n, in creation order, at most max. */
int term_pay_due(term *t, int64_t after_n, size_t max, term_pay *out, size_t *n_out,
                 kassa_err *err);
int term_pay_recover(term *t, size_t *abandoned, size_t *to_reverse, kassa_err *err);

/* Store-and-forward exposure of this terminal: stored payments not yet
 * forwarded, and how many of them are on one card token (token may be
 * NULL). */
typedef struct term_saf_totals {
    size_t count;
    int64_t amount;
    int64_t oldest_ms; /* 0 when none */
    size_t token_count;
    size_t due; /* every row with work to send (captures, reversals, refunds too) */
} term_saf_totals;
int term_saf_get(term *t, const char *token, term_saf_totals *out, kassa_err *err);

/* The store's card payments and refunds as replicated (any terminal's). */
typedef struct term_card_payment {
    char id[OPLOG_PAY_ID_MAX + 1];
    term_pay_kind kind;
    char payment_id[OPLOG_PAY_ID_MAX + 1]; /* refund: the payment */
    oplog_sale_ref sale;
    hlc_ts hlc;
    int64_t amount;
    char token[OPLOG_TOKEN_MAX + 1];
    char brand[OPLOG_BRAND_MAX + 1];
    char last4[5];
    int mode; /* oplog_card_mode; 0 for refunds */
    char auth_code[OPLOG_AUTH_CODE_MAX + 1];
    int outcome; /* oplog_pay_outcome; 0: none recorded yet */
    char reason[OPLOG_REASON_MAX + 1];
    hlc_ts outcome_hlc;
    int64_t refunded; /* payments: card refunds made against it */
    char resolved_by[KASSA_ID_MAX + 1];
    char resolved_note[OPLOG_AUDIT_DETAIL_MAX + 1];
    hlc_ts resolved_hlc; /* 0: not resolved */
} term_card_payment;

int term_card_payment_get(term *t, const char *id, term_card_payment *out, kassa_err *err);
typedef int (*term_card_payment_cb)(const term_card_payment *p, void *ctx);
/* The review list: offline payments declined or expired when forwarded
 * and refused card refunds, oldest first; resolved ones too when asked. */
int term_pay_review_each(term *t, bool with_resolved, term_card_payment_cb cb, void *ctx,
                         kassa_err *err);
/* Items on the review list, not resolved (one count, for the status). */
int term_pay_review_count(term *t, size_t *n, kassa_err *err);
/* A manager (t->actor.cashier or .supervisor) closes a review item with a
 * note: a replicated outcome operation. */
int term_pay_resolve(term *t, const char *id, const char *note, kassa_err *err);

/* ---- the cloud (term/cloud.c, docs/CLOUD.md) ----
 * What the store's Raft group committed about the cloud. Both only grow:
 * merging an older record changes nothing, so applying committed records
 * again after a restart is harmless. */

/* Raises each origin's acknowledged seq to vv's (never lowers it). */
int term_cloud_ack_merge(term *t, const oplog_vv *vv, kassa_err *err);
/* The acknowledged version vector (out initialised by the caller). */
int term_cloud_acked(term *t, oplog_vv *out, kassa_err *err);
/* Operations this terminal holds that the cloud has not acknowledged. */
int term_cloud_pending(term *t, uint64_t *ops, kassa_err *err);
int term_cloud_cursor_merge(term *t, uint64_t cursor, kassa_err *err);
int term_cloud_cursor(term *t, uint64_t *cursor, kassa_err *err);

/* ---- local compaction (term/compact.c, docs/CLOUD.md "Compaction") ----
 * The database stays bounded: operations every terminal of the store and
 * the cloud hold, and older than the retention period, are dropped, with
 * the projection rows that exist only for them (the sale, its returns, its
 * settled card payments, audit and drawer entries). Each origin keeps a
 * base (the seq and hash of the last dropped operation), so what is left
 * still verifies as a chain. The store's Raft group commits one horizon
 * for all members, so every terminal drops the same rows and their state
 * digests stay equal.
 *
 * What changes once a sale is dropped: a void, return or receipt of it is
 * refused (KASSA_ECONFLICT, "older than the retention period"); a copy of
 * a dropped operation arriving again is a duplicate; a peer asking for
 * operations below the base cannot be served (a terminal away for longer
 * is not compacted past: the horizon waits for every roster member). */

typedef struct term_compact_report {
    size_t origins; /* origins whose base moved */
    size_t ops;     /* operations dropped */
    size_t sales;   /* sale rows dropped */
} term_compact_report;

/* The horizon compaction may reach: per origin of limit (what the cloud and
 * every member acknowledged), the last operation at or below limit's seq
 * whose timestamp is older than cutoff_ms (wall clock). Origins with
 * nothing to drop are left out. out is initialised by the caller. */
int term_compact_horizon(term *t, const oplog_vv *limit, int64_t cutoff_ms, oplog_vv *out,
                         kassa_err *err);
/* Drops every origin's operations up to horizon's seq (clamped to what is
 * held: never past the head) and their projection rows, in one
 * transaction. Applying the same horizon again changes nothing. */
int term_compact(term *t, const oplog_vv *horizon, term_compact_report *rep, kassa_err *err);
/* Every origin's base that moved (out initialised by the caller). */
int term_compact_bases(term *t, oplog_vv *out, kassa_err *err);
/* An origin's base: seq 0 when nothing of it was dropped. */
int term_origin_base(term *t, const char *origin, uint64_t *base_seq, kassa_err *err);

/* ---- checks ---- */

/* A digest of every projection's value, independent of the order in which
 * operations were applied and of local ids. */
int term_state_hash(term *t, uint8_t out[32], kassa_err *err);

typedef struct term_verify_report {
    size_t origins;
    size_t ops;
    bool ok;
    char first_bad[KASSA_ID_MAX + 32]; /* "ORIGIN/SEQ" of the first bad op */
    char reason[128];
} term_verify_report;

int term_log_verify(term *t, term_verify_report *rep, kassa_err *err);

typedef struct term_status {
    size_t ops;      /* every origin's operations, made or received */
    size_t ops_held; /* of them, still in the log (not compacted) */
    size_t pending;
    size_t sales;
    int64_t db_size_bytes;
} term_status;

int term_status_get(term *t, term_status *st, kassa_err *err);

/* SQLite's data_version: changes when another process (a `kassa` command
 * next to kassad) has committed to the database since the last call. */
int term_data_version(term *t, int64_t *version, kassa_err *err);

/* ---- review: fraud decisions and post-merge triage (term/triage.c) ----
 * The supervisors' review list, the same on every terminal because it is
 * made of replicated operations only (docs/FRAUD.md, "In kassad"):
 *
 *  - fraud decisions: kassad records every decision of the fraud scorer
 *    other than a plain allow as an audit operation "fraud_decision"
 *    (subject: the sale, or the refused cart; detail: the event, action,
 *    outcome, probability and reason codes). Review id "fraud:ORIGIN-SEQ"
 *    (the audit operation's own id).
 *  - triage: a SKU whose stock is negative (two terminals sold the last
 *    units while apart) is an item "stock:SKU" with the shortfall and the
 *    contributing sales: walking the SKU's movements back from now in time
 *    order, the sales made since its stock was last above zero (voided
 *    sales count as never made), at most TERM_TRIAGE_WINDOW_MS back,
 *    ranked by risk (the fraud probability recorded for the sale, else
 *    the caller's score, else unknown) and then newest first.
 *
 * Resolutions are operations too: an audit "fraud_reviewed" (accept or
 * flag a decision), "triage_accept", "triage_flag" (a contributing sale)
 * or a stock count plus "triage_adjust" (the units counted on the shelf).
 * A stock item is resolved while a resolution made since its oldest
 * contributing sale covers its shortfall and its contributing sales; a
 * sale arriving later (replication) opens it again. */

#define TERM_REVIEW_ID_MAX 64 /* "fraud:ORIGIN-SEQ", "stock:SKU", NUL included */
#define TERM_REVIEW_LIST_MAX 500
#define TERM_REVIEW_NOTE_MAX 160
#define TERM_FRAUD_REASONS_MAX 3
#define TERM_FRAUD_FEATURE_MAX 31
#define TERM_FRAUD_WORD_MAX 23
#define TERM_TRIAGE_ITEMS_MAX 64 /* negative SKUs listed */
#define TERM_TRIAGE_SALES_MAX 16 /* contributing sales listed per SKU (the newest) */
#define TERM_TRIAGE_WINDOW_MS (7 * 24 * 60 * 60 * 1000LL)

typedef struct term_fraud_reason {
    char feature[TERM_FRAUD_FEATURE_MAX + 1];
    double value;
    double contribution; /* to the margin (> 0: towards fraud) */
} term_fraud_reason;

typedef struct term_fraud_decision {
    char event[TERM_FRAUD_WORD_MAX + 1];   /* sale, void, return, no_sale */
    char action[TERM_FRAUD_WORD_MAX + 1];  /* review, supervisor, refuse_offline_card */
    char outcome[TERM_FRAUD_WORD_MAX + 1]; /* flagged, approved, refused */
    double probability;
    size_t n_reasons;
    term_fraud_reason reasons[TERM_FRAUD_REASONS_MAX];
} term_fraud_decision;

/* The audit detail of a decision ("event=sale action=supervisor
 * outcome=approved p=0.951 r=cart_line_voids:4:2.31,..."); words are
 * [a-z0-9_], reasons dropped from the last until it fits. */
int term_fraud_decision_format(const term_fraud_decision *d, char out[OPLOG_AUDIT_DETAIL_MAX + 1],
                               kassa_err *err);
/* KASSA_ECORRUPT for a detail that is not one (another version's). */
int term_fraud_decision_parse(const char *detail, term_fraud_decision *d, kassa_err *err);
/* One replicated "fraud_decision" audit operation for the current actor. */
int term_fraud_decision_record(term *t, const char *subject, const term_fraud_decision *d,
                               kassa_err *err);

typedef struct term_review_resolution {
    bool resolved;
    hlc_ts hlc;
    char origin[KASSA_ID_MAX + 1]; /* the terminal it was resolved on */
    char action[16];               /* accept, adjust, flag */
    char by[KASSA_ID_MAX + 1];     /* the supervisor (the cashier, "" for the CLI) */
    char note[OPLOG_AUDIT_DETAIL_MAX + 1];
    char sale[KASSA_ID_MAX + 24]; /* flag of a stock item: the sale */
    int64_t counted;              /* adjust: the units counted */
} term_review_resolution;

typedef struct term_review_decision {
    char id[TERM_REVIEW_ID_MAX];
    oplog_sale_ref ref; /* the audit operation */
    hlc_ts hlc;
    char cashier[KASSA_ID_MAX + 1];
    char supervisor[KASSA_ID_MAX + 1];
    char subject[OPLOG_AUDIT_SUBJECT_MAX + 1];
    bool parsed; /* false: d is empty, detail holds the text */
    term_fraud_decision d;
    char detail[OPLOG_AUDIT_DETAIL_MAX + 1];
    term_review_resolution res;
} term_review_decision;

typedef int (*term_review_decision_cb)(const term_review_decision *d, void *ctx);
/* Fraud decisions, newest first, at most limit (1..TERM_REVIEW_LIST_MAX);
 * open ones only unless with_resolved. */
int term_review_decisions(term *t, bool with_resolved, size_t limit, term_review_decision_cb cb,
                          void *ctx, kassa_err *err);

typedef struct term_triage_sale {
    oplog_sale_ref ref;
    hlc_ts hlc;
    char cashier[KASSA_ID_MAX + 1];
    int64_t qty; /* units of the SKU */
    double risk; /* fraud probability; NaN when unknown */
    bool flagged;
} term_triage_sale;

typedef struct term_triage_item {
    char id[TERM_REVIEW_ID_MAX];
    char sku[KASSA_SKU_MAX + 1];
    int64_t stock;      /* < 0 */
    int64_t shortfall;  /* -stock */
    hlc_ts since;       /* the oldest contributing sale; 0 when none */
    size_t total_sales; /* contributing sales (more than listed when > n_sales) */
    size_t n_sales;     /* listed, ranked */
    term_triage_sale sales[TERM_TRIAGE_SALES_MAX];
    term_review_resolution res;
} term_triage_item;

/* A sale's fraud probability as the caller knows it (kassad's scores of
 * the sales it saw); NaN when unknown. */
typedef double (*term_risk_fn)(const oplog_sale_ref *sale, void *ctx);
typedef int (*term_triage_cb)(const term_triage_item *item, void *ctx);
/* The triage items by SKU (at most TERM_TRIAGE_ITEMS_MAX), open ones only
 * unless with_resolved; risk may be NULL. */
int term_triage_each(term *t, bool with_resolved, term_risk_fn risk, void *risk_ctx,
                     term_triage_cb cb, void *ctx, kassa_err *err);

typedef enum {
    TERM_REVIEW_ACCEPT = 1, /* the decision or the shortfall stands as it is */
    TERM_REVIEW_ADJUST = 2, /* stock items: the units counted are booked */
    TERM_REVIEW_FLAG = 3,   /* suspicious: the decision, or one contributing sale */
} term_review_action;

const char *term_review_action_name(term_review_action a);
int term_review_action_parse(const char *name, term_review_action *out);

typedef struct term_review_resolve_req {
    term_review_action action;
    int64_t counted;              /* adjust: 0..PRICING_QTY_MAX */
    char sale[KASSA_ID_MAX + 24]; /* flag of a stock item: one of its listed sales */
    char note[TERM_REVIEW_NOTE_MAX + 1];
} term_review_resolve_req;

/* Resolves the open item id as the current actor, in one transaction:
 * KASSA_ENOTFOUND for no such item, KASSA_ECONFLICT when it is resolved
 * already, KASSA_EINVAL for an action the item does not take. */
int term_review_resolve(term *t, const char *id, const term_review_resolve_req *req,
                        kassa_err *err);
/* Open review items (decisions and stock items), for a status line. */
int term_review_open_count(term *t, size_t *n, kassa_err *err);

/* Every held operation whose timestamp is at or after since_ms (wall
 * clock), in (hlc, origin, seq) order; op->payload is valid during the
 * call only. What the fraud scorer replays at start. */
typedef int (*term_op_cb)(const oplog_op *op, void *ctx);
int term_ops_since(term *t, int64_t since_ms, term_op_cb cb, void *ctx, kassa_err *err);

#endif
