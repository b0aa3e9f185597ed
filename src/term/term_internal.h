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

/* Appends a local operation of this node (next seq, new HLC timestamp,
 * chained hash) and applies it. Must run inside a transaction. */
int term_append_local(term *t, int kind, const kbuf *payload, oplog_op *out, kassa_err *err);

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

/* Runs a single-integer query (sql must be a static string: it keys the
 * statement cache). */
int term_count(term *t, const char *sql, size_t *n, kassa_err *err);

/* Appends an audit operation for the current actor (inside a transaction). */
int term_audit_append(term *t, const char *action, const char *subject, const char *detail,
                      kassa_err *err);

int term_meta_set(term *t, const char *key, const char *value, kassa_err *err);

#endif
