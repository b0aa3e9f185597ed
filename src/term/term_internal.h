/* Private to src/term: shared by the files of the terminal core. */
#ifndef KASSA_TERM_INTERNAL_H
#define KASSA_TERM_INTERNAL_H

#include "term/term.h"

/* Decoded forms are large (up to OPLOG_SALE_LINES_MAX lines): one set per
 * terminal, allocated at open, so no action allocates on the hot path. The
 * apply layer and the action layer (sell.c) each have their own, because an
 * action applies its operation while still holding what it read. */
typedef struct term_work {
    oplog_sale apply_sale;      /* apply.c: a sale decoded or referred to */
    oplog_return apply_return;  /* apply.c: a return being applied */
    oplog_sale action_sale;     /* sell.c: the sale a void or return reads */
    oplog_return action_return; /* sell.c: the return being built */
    pricing_line_in price_in[OPLOG_SALE_LINES_MAX];
    pricing_line_out price_out[OPLOG_SALE_LINES_MAX];
    /* A hash to verify unknown cashier ids against, so an unknown id takes
     * as long to refuse as a wrong PIN (made on first need). */
    char decoy_pin_hash[OPLOG_PIN_HASH_MAX + 1];
    /* The import cache (cache.c): allocated on the first import, active
     * only inside an import's transaction. */
    struct term_cache *cache;
    bool cache_on;
} term_work;

/* Interned id of an origin name; with create, a new origin row is added
 * (chain head: seq 0, zero hash). KASSA_ENOTFOUND when absent. */
int term_origin_id(term *t, const char *name, bool create, int64_t *id, kassa_err *err);

typedef struct term_head {
    uint64_t seq;
    uint8_t hash[OPLOG_HASH_SIZE];
    hlc_ts hlc;
} term_head;

int term_origin_head(term *t, int64_t origin_id, term_head *head, kassa_err *err);

/* The same two straight from the database, bypassing the import cache
 * (the cache's own misses). */
int term_origin_id_db(term *t, const char *name, bool create, int64_t *id, kassa_err *err);
int term_origin_head_db(term *t, int64_t origin_id, term_head *head, kassa_err *err);
/* Writes an origin's chain head: seq and hash, and the highest hlc. */
int term_origin_head_write(term *t, int64_t origin_id, uint64_t seq,
                           const uint8_t hash[OPLOG_HASH_SIZE], hlc_ts hlc, kassa_err *err);

/* PN-Counter writes (apply.c): add p and n to stock(sku, origin) /
 * drawer(origin), creating the row. */
int term_stock_write(term *t, const char *sku, int64_t origin_id, int64_t p, int64_t n,
                     kassa_err *err);
int term_drawer_write(term *t, int64_t origin_id, int64_t p, int64_t n, kassa_err *err);

/* ---- the import cache (cache.c) ----
 *
 * An import applies thousands of operations in one transaction, and most of
 * what each one costs is small SQL statements: its origin's id and chain
 * head, the head's update, the new ops and sales rows, a counter upsert per
 * sale line and one for the drawer. While the cache is on, origin ids and
 * heads are read once and heads written back once, counter deltas are
 * summed per row and written as one upsert per row (sums commute: the rows
 * end as they would have), and new ops and sales rows are inserted 32 per
 * statement. It is on only inside one import's transaction, which holds the
 * database's write lock (nobody else can change what it mirrors), and it is
 * dropped unwritten when that transaction fails, so it never outlives the
 * data it mirrors: a rollback (of the import, or of the batch around it)
 * needs nothing more.
 *
 * While it is on, the database lags behind it for origins' head columns,
 * stock, drawer, ops and sales: code that reads those with SQL must flush
 * first (term_cache_flush_rows / term_cache_flush_heads / term_cache_flush;
 * each is a no-op when the cache is off). */

static inline bool term_cache_is_on(const term *t)
{
    return t->work && t->work->cache_on; /* term_init's term has no work */
}

/* Turns the cache on, empty. */
int term_cache_begin(term *t, kassa_err *err);
/* Writes everything held back to the database; the cache stays on. */
int term_cache_flush(term *t, kassa_err *err);
/* Inserts the held-back ops and sales rows only. */
int term_cache_flush_rows(term *t, kassa_err *err);
/* Writes the held-back chain heads only. */
int term_cache_flush_heads(term *t, kassa_err *err);
/* Turns the cache off, dropping what was not flushed (the transaction is
 * being rolled back, or everything was flushed). */
void term_cache_end(term *t);
void term_cache_free(term *t);

int term_cache_origin_id(term *t, const char *name, bool create, int64_t *id, kassa_err *err);
int term_cache_origin_head(term *t, int64_t origin_id, term_head *head, kassa_err *err);
/* The origin's chain now ends at op (its head row is written at the flush). */
int term_cache_advance(term *t, int64_t origin_id, const oplog_op *op, kassa_err *err);
int term_cache_stock_add(term *t, const char *sku, int64_t origin_id, int64_t p, int64_t n,
                         kassa_err *err);
int term_cache_drawer_add(term *t, int64_t origin_id, int64_t p, int64_t n, kassa_err *err);
int term_cache_op_insert(term *t, int64_t origin_id, const oplog_op *op, kassa_err *err);
int term_cache_sale_insert(term *t, int64_t origin_id, const oplog_op *op, int64_t total,
                           kassa_err *err);

/* Appends a local operation of this node (next seq, new HLC timestamp,
 * chained hash) and applies it. Must run inside a transaction. */
int term_append_local(term *t, int kind, const kbuf *payload, oplog_op *out, kassa_err *err);

/* Inserts an operation into ops (not through the import cache). */
int term_op_insert(term *t, int64_t origin_id, const oplog_op *op, kassa_err *err);

/* Binds an operation's seq, hlc, kind, payload and hash to parameters ?2..?6
 * of an insert into ops or pending (the caller binds ?1, the origin). */
void term_bind_op(sqlite3_stmt *st, const oplog_op *op);

/* Stores an operation whose predecessor is the origin's head and applies it
 * to the projections. The caller checked seq, hash and dependencies. */
int term_store_and_apply(term *t, int64_t origin_id, const oplog_op *op, kassa_err *err);

/* Whether the operation's causal dependency (the sale a void or return
 * refers to) has been applied. */
int term_deps_met(term *t, const oplog_op *op, bool *met, kassa_err *err);

/* Applies an operation to the projections (apply.c). */
int term_apply(term *t, int64_t origin_id, const oplog_op *op, kassa_err *err);

/* Loads and decodes the sale operation `ref`. KASSA_ENOTFOUND when the
 * operation is unknown or is not a sale. */
int term_load_sale(term *t, const oplog_sale_ref *ref, int64_t *origin_id, oplog_sale *sale,
                   kassa_err *err);

/* Runs fn inside a transaction (or a savepoint within a batch). */
typedef int (*term_tx_fn)(term *t, void *ctx, kassa_err *err);
int term_in_tx(term *t, term_tx_fn fn, void *ctx, kassa_err *err);
/* After a commit (rc KASSA_OK) or rollback: once the outermost transaction
 * is over, tells on_local_commit about committed local operations. */
void term_after_tx(term *t, int rc);

/* Runs a query of (origin name, seq) rows into a version vector (sql must
 * be a static string). */
int term_vv_query(term *t, const char *sql, oplog_vv *out, const char *what, kassa_err *err);

/* Outcomes that put a card payment on the review list (oplog_pay_outcome:
 * declined, expired, refund declined), for SQL over card_payments. */
#define TERM_SQL_REVIEW_OUTCOMES "outcome IN (2, 3, 5)"

/* Runs a single-integer query (sql must be a static string: it keys the
 * statement cache). */
int term_count(term *t, const char *sql, size_t *n, kassa_err *err);

/* Appends an audit operation for the current actor (inside a transaction). */
int term_audit_append(term *t, const char *action, const char *subject, const char *detail,
                      kassa_err *err);

/* payment.c: a new pay_local row with the next id (inside a transaction). */
int term_pay_insert(term *t, term_pay_kind kind, term_pay_state state, int64_t amount,
                    const char *token, const char *payment_id, char id[OPLOG_PAY_ID_MAX + 1],
                    kassa_err *err);
/* The sale paid by card moves its payment on (inside the sale's transaction). */
int term_pay_sale_step(term *t, const oplog_card_tender *card, kassa_err *err);
/* Appends an OP_PAYMENT operation (inside a transaction). */
int term_pay_outcome_append(term *t, const oplog_payment *pay, kassa_err *err);

int term_meta_set(term *t, const char *key, const char *value, kassa_err *err);
/* KASSA_ENOTFOUND when the key was never set. */
int term_meta_get(term *t, const char *key, char *out, size_t size, kassa_err *err);

#endif
