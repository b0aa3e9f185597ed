/*
 * payment.c: card payments. This terminal's state machine of its dealings
 * with the processor (pay_local, term.h "Card payments"), the store-and-
 * forward exposure the offline limits are checked against, and the store's
 * replicated view of card payments (card_payments) with its review list.
 */
#include "term/term_internal.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

/* Hex digits of a database's payment id tag (term_pay_insert). */
#define PAY_TAG_HEX 8

const char *term_pay_state_name(term_pay_state s)
{
    switch (s) {
    case TERM_PAY_READING:
        return "reading";
    case TERM_PAY_AUTHORIZING:
        return "authorizing";
    case TERM_PAY_CAPTURE_DUE:
        return "capture_due";
    case TERM_PAY_STORED:
        return "stored";
    case TERM_PAY_REVERSE_DUE:
        return "reverse_due";
    case TERM_PAY_REFUND_DUE:
        return "refund_due";
    case TERM_PAY_DONE:
        return "done";
    }
    return "unknown";
}

static int64_t now_ms(term *t)
{
    return (int64_t)t->now_ms(t->now_ctx);
}

/* ---- this terminal's rows ---- */

#define PAY_COLUMNS                                                                                \
    "n, id, kind, state, amount, token, payment_id, blob, created_ms, stored_ms, attempts, "       \
    "result, last_error"

static void copy_text(char *out, size_t size, sqlite3_stmt *st, int col)
{
    const unsigned char *s = sqlite3_column_text(st, col);
    snprintf(out, size, "%s", s ? (const char *)s : "");
}

/* Fills a term_pay (void *: get_by_id's reader). */
static void pay_from_row(sqlite3_stmt *st, void *out)
{
    term_pay *p = out;
    memset(p, 0, sizeof *p);
    p->n = sqlite3_column_int64(st, 0);
    copy_text(p->id, sizeof p->id, st, 1);
    p->kind = (term_pay_kind)sqlite3_column_int(st, 2);
    p->state = (term_pay_state)sqlite3_column_int(st, 3);
    p->amount = sqlite3_column_int64(st, 4);
    copy_text(p->token, sizeof p->token, st, 5);
    copy_text(p->payment_id, sizeof p->payment_id, st, 6);
    int blob_len = sqlite3_column_bytes(st, 7);
    if (blob_len > 0 && (size_t)blob_len <= sizeof p->blob) {
        memcpy(p->blob, sqlite3_column_blob(st, 7), (size_t)blob_len);
        p->blob_len = (size_t)blob_len;
    }
    p->created_ms = sqlite3_column_int64(st, 8);
    p->stored_ms = sqlite3_column_int64(st, 9);
    p->attempts = sqlite3_column_int64(st, 10);
    copy_text(p->result, sizeof p->result, st, 11);
    copy_text(p->last_error, sizeof p->last_error, st, 12);
}

int term_pay_insert(term *t, term_pay_kind kind, term_pay_state state, int64_t amount,
                    const char *token, const char *payment_id, char id[OPLOG_PAY_ID_MAX + 1],
                    kassa_err *err)
{
    static const char NEXT[] = "SELECT coalesce(max(n), 0) + 1 FROM pay_local";
    static const char SQL[] = "INSERT INTO pay_local(n, id, kind, state, amount, token, "
                              "payment_id, created_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
    size_t n;
    int rc = term_count(t, NEXT, &n, err);
    if (rc != KASSA_OK)
        return rc;
    /* pay_local is this database's own: a terminal rebuilt under the same
     * node id starts counting again. The database's random tag keeps its
     * ids apart from the old ones, which the store and the processor know. */
    char tag[PAY_TAG_HEX + 1];
    if ((rc = term_meta_get(t, "pay_tag", tag, sizeof tag, err)) == KASSA_ENOTFOUND) {
        uint8_t raw[PAY_TAG_HEX / 2];
        randombytes_buf(raw, sizeof raw);
        sodium_bin2hex(tag, sizeof tag, raw, sizeof raw);
        rc = term_meta_set(t, "pay_tag", tag, err);
    }
    if (rc != KASSA_OK)
        return rc;
    snprintf(id, OPLOG_PAY_ID_MAX + 1, "%s.%s.P%zu", t->node_id, tag, n);
    sqlite3_stmt *st = store_stmt(&t->st, SQL, err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, (int64_t)n);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, kind);
    sqlite3_bind_int(st, 4, state);
    sqlite3_bind_int64(st, 5, amount);
    sqlite3_bind_text(st, 6, token, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, payment_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, now_ms(t));
    return store_step_done(&t->st, st, "payment", err);
}

typedef struct reserve_ctx {
    int64_t amount;
    char *id;
} reserve_ctx;

static int reserve_tx(term *t, void *ctx, kassa_err *err)
{
    reserve_ctx *c = ctx;
    return term_pay_insert(t, TERM_PAY_KIND_PAYMENT, TERM_PAY_READING, c->amount, "", "", c->id,
                           err);
}

int term_pay_reserve(term *t, int64_t amount, char id[OPLOG_PAY_ID_MAX + 1], kassa_err *err)
{
    if (amount <= 0 || amount > PRICING_AMOUNT_MAX)
        return kassa_fail(err, KASSA_EINVAL, "card amount out of range");
    reserve_ctx c = {amount, id};
    return term_in_tx(t, reserve_tx, &c, err);
}

/* The row of a one-row query by id (sql: a static string, ?1 the id),
 * read by fill; KASSA_ENOTFOUND "no <what> <id>" when there is none. */
static int get_by_id(term *t, const char *sql, const char *id,
                     void (*fill)(sqlite3_stmt *st, void *out), void *out, const char *what,
                     kassa_err *err)
{
    sqlite3_stmt *st = store_stmt(&t->st, sql, err);
    if (!st)
        return err->code;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        fill(st, out);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return kassa_fail(err, KASSA_ENOTFOUND, "no %s %s", what, id);
    return rc == SQLITE_ROW ? KASSA_OK : store_error(&t->st, rc, what, err);
}

int term_pay_get(term *t, const char *id, term_pay *out, kassa_err *err)
{
    static const char SQL[] = "SELECT " PAY_COLUMNS " FROM pay_local WHERE id = ?1";
    return get_by_id(t, SQL, id, pay_from_row, out, "payment of this terminal", err);
}

/* Moves a row from state `from` (0: any of the due states) to `to`, with
 * the columns the step sets. KASSA_ECONFLICT when the row is elsewhere. */
typedef struct pay_step {
    const char *id;
    term_pay_state from, to;
    const char *token; /* NULL: unchanged */
    const uint8_t *blob;
    size_t blob_len;
    bool clear_blob;
    bool set_stored_ms;
    const char *result; /* NULL: unchanged */
} pay_step;

static int pay_move(term *t, const pay_step *s, kassa_err *err)
{
    static const char SQL[] =
        "UPDATE pay_local SET state = ?3, token = coalesce(?4, token), "
        "blob = CASE WHEN ?6 THEN NULL WHEN ?5 IS NOT NULL THEN ?5 ELSE blob END, "
        "stored_ms = CASE WHEN ?7 THEN ?8 ELSE stored_ms END, result = coalesce(?9, result) "
        "WHERE id = ?1 AND state = ?2";
    sqlite3_stmt *st = store_stmt(&t->st, SQL, err);
    if (!st)
        return err->code;
    sqlite3_bind_text(st, 1, s->id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, s->from);
    sqlite3_bind_int(st, 3, s->to);
    if (s->token)
        sqlite3_bind_text(st, 4, s->token, -1, SQLITE_STATIC);
    if (s->blob)
        sqlite3_bind_blob(st, 5, s->blob, (int)s->blob_len, SQLITE_STATIC);
    sqlite3_bind_int(st, 6, s->clear_blob);
    sqlite3_bind_int(st, 7, s->set_stored_ms);
    sqlite3_bind_int64(st, 8, now_ms(t));
    if (s->result)
        sqlite3_bind_text(st, 9, s->result, -1, SQLITE_STATIC);
    int rc = store_step_done(&t->st, st, "payment", err);
    if (rc != KASSA_OK)
        return rc;
    if (sqlite3_changes(t->st.db) != 1)
        return kassa_fail(err, KASSA_ECONFLICT, "payment %s is not %s", s->id,
                          term_pay_state_name(s->from));
    return KASSA_OK;
}

static int pay_move_tx(term *t, void *ctx, kassa_err *err)
{
    return pay_move(t, ctx, err);
}

int term_pay_card_read(term *t, const char *id, const char *token, const uint8_t *blob,
                       size_t blob_len, kassa_err *err)
{
    if (blob_len == 0 || blob_len > TERM_PAY_BLOB_MAX)
        return kassa_fail(err, KASSA_EINVAL, "sealed card data of %zu bytes", blob_len);
    pay_step s = {.id = id,
                  .from = TERM_PAY_READING,
                  .to = TERM_PAY_AUTHORIZING,
                  .token = token,
                  .blob = blob,
                  .blob_len = blob_len};
    return term_in_tx(t, pay_move_tx, &s, err);
}

int term_pay_sale_step(term *t, const oplog_card_tender *card, kassa_err *err)
{
    term_pay p;
    int rc = term_pay_get(t, card->payment_id, &p, err);
    if (rc != KASSA_OK)
        return rc;
    if (p.kind != TERM_PAY_KIND_PAYMENT || p.state != TERM_PAY_AUTHORIZING ||
        p.amount != card->amount || strcmp(p.token, card->token) != 0)
        return kassa_fail(err, KASSA_ECONFLICT,
                          "payment %s is not a card read for this amount and card",
                          card->payment_id);
    bool online = card->mode == OPLOG_CARD_ONLINE;
    pay_step s = {.id = card->payment_id,
                  .from = TERM_PAY_AUTHORIZING,
                  .to = online ? TERM_PAY_CAPTURE_DUE : TERM_PAY_STORED,
                  /* Online, the processor holds the card: the sealed data
                   * is no longer needed. Offline it is what gets forwarded. */
                  .clear_blob = online,
                  .set_stored_ms = !online};
    return pay_move(t, &s, err);
}

typedef struct abandon_ctx {
    const char *id;
    const char *why;
} abandon_ctx;

static int abandon_tx(term *t, void *ctx, kassa_err *err)
{
    abandon_ctx *c = ctx;
    term_pay p;
    int rc = term_pay_get(t, c->id, &p, err);
    if (rc != KASSA_OK)
        return rc;
    pay_step s = {.id = c->id, .from = p.state, .result = c->why};
    if (p.state == TERM_PAY_READING) {
        s.to = TERM_PAY_DONE;
    } else if (p.state == TERM_PAY_AUTHORIZING) {
        /* The processor may have approved (an answer lost on the way):
         * release the hold. The sealed card data is not needed for that. */
        s.to = TERM_PAY_REVERSE_DUE;
    } else {
        return kassa_fail(err, KASSA_ECONFLICT, "payment %s is %s: too late to abandon", c->id,
                          term_pay_state_name(p.state));
    }
    s.clear_blob = true;
    return pay_move(t, &s, err);
}

int term_pay_abandon(term *t, const char *id, const char *why, kassa_err *err)
{
    abandon_ctx c = {id, why};
    return term_in_tx(t, abandon_tx, &c, err);
}

int term_pay_declined(term *t, const char *id, const char *reason, kassa_err *err)
{
    char result[32];
    snprintf(result, sizeof result, "declined:%.20s", reason);
    pay_step s = {.id = id,
                  .from = TERM_PAY_AUTHORIZING,
                  .to = TERM_PAY_DONE,
                  .clear_blob = true,
                  .result = result};
    return term_in_tx(t, pay_move_tx, &s, err);
}

/* ---- outcomes ---- */

int term_pay_outcome_append(term *t, const oplog_payment *pay, kassa_err *err)
{
    kbuf_reset(&t->scratch);
    oplog_encode_payment(&t->scratch, pay);
    return term_append_local(t, OP_PAYMENT, &t->scratch, NULL, err);
}

typedef struct finish_ctx {
    const char *id;
    int outcome;
    const char *reason;
    const char *auth_code;
} finish_ctx;

static bool outcome_fits(const term_pay *p, int outcome)
{
    switch (p->state) {
    case TERM_PAY_STORED:
        return outcome == OPLOG_PAY_APPROVED || outcome == OPLOG_PAY_DECLINED ||
               outcome == OPLOG_PAY_EXPIRED;
    case TERM_PAY_REFUND_DUE:
        return outcome == OPLOG_PAY_REFUNDED || outcome == OPLOG_PAY_REFUND_DECLINED;
    case TERM_PAY_CAPTURE_DUE:
    case TERM_PAY_REVERSE_DUE:
        return outcome == 0;
    default:
        return false;
    }
}

static int finish_tx(term *t, void *ctx, kassa_err *err)
{
    finish_ctx *c = ctx;
    term_pay p;
    int rc = term_pay_get(t, c->id, &p, err);
    if (rc != KASSA_OK)
        return rc;
    if (!outcome_fits(&p, c->outcome))
        return kassa_fail(err, KASSA_ECONFLICT, "payment %s is %s: outcome %s does not apply",
                          c->id, term_pay_state_name(p.state), oplog_pay_outcome_name(c->outcome));
    char result[32];
    const char *what = c->outcome                        ? oplog_pay_outcome_name(c->outcome)
                       : p.state == TERM_PAY_CAPTURE_DUE ? "captured"
                                                         : "reversed";
    snprintf(result, sizeof result, "%s%s%.20s", what, c->reason[0] ? ":" : "", c->reason);
    pay_step s = {
        .id = c->id, .from = p.state, .to = TERM_PAY_DONE, .clear_blob = true, .result = result};
    if ((rc = pay_move(t, &s, err)) != KASSA_OK || c->outcome == 0)
        return rc;
    oplog_payment pay = {.outcome = (uint8_t)c->outcome};
    snprintf(pay.id, sizeof pay.id, "%s", c->id);
    snprintf(pay.reason, sizeof pay.reason, "%s", c->reason);
    snprintf(pay.auth_code, sizeof pay.auth_code, "%s", c->auth_code);
    return term_pay_outcome_append(t, &pay, err);
}

int term_pay_finish(term *t, const char *id, int outcome, const char *reason, const char *auth_code,
                    kassa_err *err)
{
    finish_ctx c = {id, outcome, reason ? reason : "", auth_code ? auth_code : ""};
    return term_in_tx(t, finish_tx, &c, err);
}

typedef struct failed_ctx {
    const char *id;
    const char *error;
} failed_ctx;

static int failed_tx(term *t, void *ctx, kassa_err *err)
{
    static const char SQL[] = "UPDATE pay_local SET attempts = attempts + 1, last_error = ?2 "
                              "WHERE id = ?1 AND state IN (3, 4, 5, 6)";
    failed_ctx *c = ctx;
    sqlite3_stmt *st = store_stmt(&t->st, SQL, err);
    if (!st)
        return err->code;
    sqlite3_bind_text(st, 1, c->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, c->error, -1, SQLITE_STATIC);
    int rc = store_step_done(&t->st, st, "payment", err);
    if (rc == KASSA_OK && sqlite3_changes(t->st.db) != 1)
        return kassa_fail(err, KASSA_ECONFLICT, "payment %s has nothing to send", c->id);
    return rc;
}

int term_pay_attempt_failed(term *t, const char *id, const char *error, kassa_err *err)
{
    failed_ctx c = {id, error};
    return term_in_tx(t, failed_tx, &c, err);
}

int term_pay_due(term *t, int64_t after_n, size_t max, term_pay *out, size_t *n_out, kassa_err *err)
{
    static const char SQL[] = "SELECT " PAY_COLUMNS " FROM pay_local WHERE state IN (3, 4, 5, 6) "
                              "AND n > ?1 ORDER BY n LIMIT ?2";
    _Static_assert(TERM_PAY_CAPTURE_DUE == 3 && TERM_PAY_STORED == 4 && TERM_PAY_REVERSE_DUE == 5 &&
                       TERM_PAY_REFUND_DUE == 6,
                   "the due states are 3..6");
    *n_out = 0;
    sqlite3_stmt *st = store_stmt(&t->st, SQL, err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, after_n);
    sqlite3_bind_int64(st, 2, (int64_t)max);
    int rc;
    while (*n_out < max && (rc = sqlite3_step(st)) == SQLITE_ROW)
        pay_from_row(st, &out[(*n_out)++]);
    sqlite3_reset(st);
    if (*n_out < max && rc != SQLITE_DONE)
        return store_error(&t->st, rc, "payments due", err);
    return KASSA_OK;
}

typedef struct recover_ctx {
    size_t abandoned, to_reverse;
} recover_ctx;

static int recover_tx(term *t, void *ctx, kassa_err *err)
{
    static const char READING[] = "UPDATE pay_local SET state = 7, blob = NULL, "
                                  "result = 'abandoned:restart' WHERE state = 1";
    static const char AUTHORIZING[] = "UPDATE pay_local SET state = 5, blob = NULL, "
                                      "result = 'abandoned:restart' WHERE state = 2";
    _Static_assert(TERM_PAY_READING == 1 && TERM_PAY_AUTHORIZING == 2 &&
                       TERM_PAY_REVERSE_DUE == 5 && TERM_PAY_DONE == 7,
                   "states in the statements above");
    recover_ctx *c = ctx;
    sqlite3_stmt *st = store_stmt(&t->st, READING, err);
    int rc = st ? store_step_done(&t->st, st, "payments", err) : err->code;
    if (rc != KASSA_OK)
        return rc;
    c->abandoned = (size_t)sqlite3_changes(t->st.db);
    if (!(st = store_stmt(&t->st, AUTHORIZING, err)))
        return err->code;
    if ((rc = store_step_done(&t->st, st, "payments", err)) != KASSA_OK)
        return rc;
    c->to_reverse = (size_t)sqlite3_changes(t->st.db);
    return KASSA_OK;
}

int term_pay_recover(term *t, size_t *abandoned, size_t *to_reverse, kassa_err *err)
{
    recover_ctx c = {0, 0};
    int rc = term_in_tx(t, recover_tx, &c, err);
    if (rc == KASSA_OK) {
        *abandoned = c.abandoned;
        *to_reverse = c.to_reverse;
    }
    return rc;
}

int term_saf_get(term *t, const char *token, term_saf_totals *out, kassa_err *err)
{
    static const char SQL[] = "SELECT coalesce(sum(state = 4), 0), coalesce(sum(CASE WHEN state = "
                              "4 THEN amount END), 0), "
                              "coalesce(min(CASE WHEN state = 4 THEN stored_ms END), 0), "
                              "coalesce(sum(state = 4 AND token = ?1), 0), count(*) FROM pay_local "
                              "WHERE state IN (3, 4, 5, 6)";
    _Static_assert(TERM_PAY_STORED == 4, "state in the statement above");
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = store_stmt(&t->st, SQL, err);
    if (!st)
        return err->code;
    sqlite3_bind_text(st, 1, token ? token : "", -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->count = (size_t)sqlite3_column_int64(st, 0);
        out->amount = sqlite3_column_int64(st, 1);
        out->oldest_ms = sqlite3_column_int64(st, 2);
        out->token_count = token ? (size_t)sqlite3_column_int64(st, 3) : 0;
        out->due = (size_t)sqlite3_column_int64(st, 4);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? KASSA_OK : store_error(&t->st, rc, "payments", err);
}

/* ---- the store's card payments ---- */

#define CARD_COLUMNS                                                                               \
    "id, kind, payment_id, sale_origin, sale_seq, hlc, amount, token, brand, last4, mode, "        \
    "auth_code, outcome, reason, outcome_hlc, refunded, resolved_by, resolved_note, resolved_hlc"

/* Fills a term_card_payment (void *: get_by_id's reader). */
static void card_from_row(sqlite3_stmt *st, void *out)
{
    term_card_payment *p = out;
    memset(p, 0, sizeof *p);
    copy_text(p->id, sizeof p->id, st, 0);
    p->kind = (term_pay_kind)sqlite3_column_int(st, 1);
    copy_text(p->payment_id, sizeof p->payment_id, st, 2);
    copy_text(p->sale.origin, sizeof p->sale.origin, st, 3);
    p->sale.seq = (uint64_t)sqlite3_column_int64(st, 4);
    p->hlc = (hlc_ts)sqlite3_column_int64(st, 5);
    p->amount = sqlite3_column_int64(st, 6);
    copy_text(p->token, sizeof p->token, st, 7);
    copy_text(p->brand, sizeof p->brand, st, 8);
    copy_text(p->last4, sizeof p->last4, st, 9);
    p->mode = sqlite3_column_int(st, 10);
    copy_text(p->auth_code, sizeof p->auth_code, st, 11);
    p->outcome = sqlite3_column_int(st, 12);
    copy_text(p->reason, sizeof p->reason, st, 13);
    p->outcome_hlc = (hlc_ts)sqlite3_column_int64(st, 14);
    p->refunded = sqlite3_column_int64(st, 15);
    copy_text(p->resolved_by, sizeof p->resolved_by, st, 16);
    copy_text(p->resolved_note, sizeof p->resolved_note, st, 17);
    p->resolved_hlc = (hlc_ts)sqlite3_column_int64(st, 18);
}

int term_card_payment_get(term *t, const char *id, term_card_payment *out, kassa_err *err)
{
    static const char SQL[] = "SELECT " CARD_COLUMNS " FROM card_payments WHERE id = ?1";
    return get_by_id(t, SQL, id, card_from_row, out, "card payment", err);
}

int term_pay_review_count(term *t, size_t *n, kassa_err *err)
{
    static const char SQL[] =
        "SELECT count(*) FROM card_payments WHERE " TERM_SQL_REVIEW_OUTCOMES " "
        "AND resolved_hlc = 0";
    return term_count(t, SQL, n, err);
}

int term_pay_review_each(term *t, bool with_resolved, term_card_payment_cb cb, void *ctx,
                         kassa_err *err)
{
    static const char SQL[] = "SELECT " CARD_COLUMNS " FROM card_payments "
                              "WHERE " TERM_SQL_REVIEW_OUTCOMES " AND (?1 OR resolved_hlc = 0) "
                              "ORDER BY outcome_hlc, id";
    _Static_assert(OPLOG_PAY_DECLINED == 2 && OPLOG_PAY_EXPIRED == 3 &&
                       OPLOG_PAY_REFUND_DECLINED == 5,
                   "outcomes in the statement above");
    sqlite3_stmt *st = store_stmt(&t->st, SQL, err);
    if (!st)
        return err->code;
    sqlite3_bind_int(st, 1, with_resolved);
    int rc;
    term_card_payment p;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        card_from_row(st, &p);
        int cb_rc = cb(&p, ctx);
        if (cb_rc != KASSA_OK) {
            sqlite3_reset(st);
            return kassa_fail(err, cb_rc, "review list: %s", kassa_strerror(cb_rc));
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? KASSA_OK : store_error(&t->st, rc, "review list", err);
}

typedef struct resolve_ctx {
    const char *id;
    const char *note;
} resolve_ctx;

static int resolve_tx(term *t, void *ctx, kassa_err *err)
{
    resolve_ctx *c = ctx;
    term_card_payment p;
    int rc = term_card_payment_get(t, c->id, &p, err);
    if (rc != KASSA_OK)
        return rc;
    if (p.outcome != OPLOG_PAY_DECLINED && p.outcome != OPLOG_PAY_EXPIRED &&
        p.outcome != OPLOG_PAY_REFUND_DECLINED)
        return kassa_fail(err, KASSA_ECONFLICT, "card payment %s is not for review (%s)", c->id,
                          oplog_pay_outcome_name(p.outcome));
    if (p.resolved_hlc)
        return kassa_fail(err, KASSA_ECONFLICT, "card payment %s was resolved already", c->id);
    oplog_payment pay = {.outcome = OPLOG_PAY_RESOLVED};
    snprintf(pay.id, sizeof pay.id, "%s", c->id);
    snprintf(pay.cashier, sizeof pay.cashier, "%s",
             t->actor.supervisor[0] ? t->actor.supervisor : t->actor.cashier);
    snprintf(pay.note, sizeof pay.note, "%s", c->note);
    return term_pay_outcome_append(t, &pay, err);
}

int term_pay_resolve(term *t, const char *id, const char *note, kassa_err *err)
{
    if (!note[0] || strlen(note) > OPLOG_AUDIT_DETAIL_MAX)
        return kassa_fail(err, KASSA_EINVAL, "a resolution needs a note of 1..%d bytes",
                          OPLOG_AUDIT_DETAIL_MAX);
    for (const char *c = note; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            return kassa_fail(err, KASSA_EINVAL, "control character in the note");
    resolve_ctx c = {id, note};
    return term_in_tx(t, resolve_tx, &c, err);
}
