/*
 * triage.c: the supervisors' review list (term.h, "review"): the fraud
 * scorer's decisions and the SKUs whose stock replication made negative,
 * with the sales that took the last units ranked by risk, and their
 * resolutions. Everything is read from replicated operations (the audit
 * and stock projections, the log), so every terminal lists the same items
 * once it holds the same operations.
 *
 * Not the checkout path: the statements here are prepared per call (not
 * kept in the store's statement cache).
 */
#include "term/term_internal.h"

#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FRAUD_PREFIX "fraud:"
#define STOCK_PREFIX "stock:"
#define SALE_ID_SIZE (KASSA_ID_MAX + 24)
/* Movements of the SKUs walked back at most (the window bounds them too). */
#define TRIAGE_ROWS_MAX 1000000

/* ---- statements prepared per call ---- */

static sqlite3_stmt *prepare(term *t, const char *sql, kassa_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(t->st.db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        store_error(&t->st, rc, "review", err);
        return NULL;
    }
    return st;
}

static const char *col_text(sqlite3_stmt *st, int i)
{
    const char *s = (const char *)sqlite3_column_text(st, i);
    return s ? s : "";
}

/* Copies as much of s as fits (text from the database is bounded by the
 * decoders; a longer one is cut, never overrun). */
static void copy_text(char *out, size_t size, const char *s)
{
    assert(size > 0);
    size_t n = strlen(s);
    if (n >= size)
        n = size - 1;
    memcpy(out, s, n);
    out[n] = '\0';
}

/* An operation from columns 0..4: origin name, seq, hlc, kind, payload
 * (borrowed from the row). */
static void op_from_row(sqlite3_stmt *st, oplog_op *op)
{
    memset(op, 0, sizeof *op);
    copy_text(op->origin, sizeof op->origin, col_text(st, 0));
    op->seq = (uint64_t)sqlite3_column_int64(st, 1);
    op->hlc = (hlc_ts)sqlite3_column_int64(st, 2);
    op->kind = (uint8_t)sqlite3_column_int(st, 3);
    op->payload = sqlite3_column_blob(st, 4);
    op->payload_len = (size_t)sqlite3_column_bytes(st, 4);
}

/* ---- decisions: the audit detail ---- */

static bool word_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return false;
    return true;
}

static int put(char *out, size_t size, size_t *n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int put(char *out, size_t size, size_t *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(out + *n, size - *n, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= size - *n)
        return -1;
    *n += (size_t)k;
    return 0;
}

int term_fraud_decision_format(const term_fraud_decision *d, char out[OPLOG_AUDIT_DETAIL_MAX + 1],
                               kassa_err *err)
{
    if (!word_ok(d->event, TERM_FRAUD_WORD_MAX) || !word_ok(d->action, TERM_FRAUD_WORD_MAX) ||
        !word_ok(d->outcome, TERM_FRAUD_WORD_MAX) || d->n_reasons > TERM_FRAUD_REASONS_MAX)
        return kassa_fail(err, KASSA_EINVAL, "fraud decision: event, action, outcome: words");
    if (!(isnan(d->probability) || (d->probability >= 0 && d->probability <= 1)))
        return kassa_fail(err, KASSA_EINVAL, "fraud decision: a probability 0..1 (or NaN)");
    for (size_t i = 0; i < d->n_reasons; i++)
        if (!word_ok(d->reasons[i].feature, TERM_FRAUD_FEATURE_MAX) ||
            !isfinite(d->reasons[i].value) || !isfinite(d->reasons[i].contribution))
            return kassa_fail(err, KASSA_EINVAL, "fraud decision: reason %zu", i);
    /* A probability that is not a number is written as such: the scorer
     * failed and the sale was allowed. */
    for (size_t keep = d->n_reasons + 1; keep-- > 0;) {
        size_t n = 0;
        int bad = put(out, OPLOG_AUDIT_DETAIL_MAX + 1, &n, "event=%s action=%s outcome=%s p=%.6g",
                      d->event, d->action, d->outcome, d->probability);
        for (size_t i = 0; !bad && i < keep; i++)
            bad = put(out, OPLOG_AUDIT_DETAIL_MAX + 1, &n, "%s%s:%.6g:%.6g",
                      i ? "," : " r=", d->reasons[i].feature, d->reasons[i].value,
                      d->reasons[i].contribution);
        if (!bad)
            return KASSA_OK;
    }
    return kassa_fail(err, KASSA_EINVAL, "fraud decision: too long for an audit detail");
}

/* Copies the value of "key=" in detail (up to the next blank) into out:
 * 1 found, 0 absent, -1 longer than out. A note (free text, last) is never
 * looked into. */
static int field(const char *detail, const char *key, char *out, size_t size)
{
    size_t klen = strlen(key);
    for (const char *p = detail; p && *p && strncmp(p, "note=", 5) != 0;) {
        if (strncmp(p, key, klen) == 0 && p[klen] == '=') {
            const char *v = p + klen + 1;
            size_t n = strcspn(v, " ");
            if (n >= size)
                return -1;
            memcpy(out, v, n);
            out[n] = '\0';
            return 1;
        }
        p = strchr(p, ' ');
        if (p)
            p++;
    }
    return 0;
}

static bool parse_double(const char *s, double *out)
{
    char *end;
    if (!*s)
        return false;
    *out = strtod(s, &end);
    return *end == '\0';
}

static bool parse_reason(char *s, term_fraud_reason *r)
{
    char *c1 = strchr(s, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2)
        return false;
    *c1 = *c2 = '\0';
    copy_text(r->feature, sizeof r->feature, s);
    return word_ok(s, TERM_FRAUD_FEATURE_MAX) && parse_double(c1 + 1, &r->value) &&
           parse_double(c2 + 1, &r->contribution) && isfinite(r->value) &&
           isfinite(r->contribution);
}

int term_fraud_decision_parse(const char *detail, term_fraud_decision *d, kassa_err *err)
{
    memset(d, 0, sizeof *d);
    char p[32], r[OPLOG_AUDIT_DETAIL_MAX + 1];
    if (field(detail, "event", d->event, sizeof d->event) != 1 ||
        field(detail, "action", d->action, sizeof d->action) != 1 ||
        field(detail, "outcome", d->outcome, sizeof d->outcome) != 1 ||
        field(detail, "p", p, sizeof p) != 1 || !word_ok(d->event, TERM_FRAUD_WORD_MAX) ||
        !word_ok(d->action, TERM_FRAUD_WORD_MAX) || !word_ok(d->outcome, TERM_FRAUD_WORD_MAX) ||
        !parse_double(p, &d->probability) ||
        !(isnan(d->probability) || (d->probability >= 0 && d->probability <= 1))) {
        memset(d, 0, sizeof *d);
        return kassa_fail(err, KASSA_ECORRUPT, "not a fraud decision (event, action, outcome, p)");
    }
    int has_r = field(detail, "r", r, sizeof r);
    for (char *tok = has_r == 1 ? r : NULL; has_r >= 0 && tok;) {
        char *next = strchr(tok, ',');
        if (next)
            *next++ = '\0';
        if (d->n_reasons == TERM_FRAUD_REASONS_MAX ||
            !parse_reason(tok, &d->reasons[d->n_reasons])) {
            has_r = -1;
            break;
        }
        d->n_reasons++;
        tok = next;
    }
    if (has_r < 0) {
        memset(d, 0, sizeof *d);
        return kassa_fail(err, KASSA_ECORRUPT, "fraud decision: bad reasons (r=)");
    }
    return KASSA_OK;
}

int term_fraud_decision_record(term *t, const char *subject, const term_fraud_decision *d,
                               kassa_err *err)
{
    char detail[OPLOG_AUDIT_DETAIL_MAX + 1];
    int rc = term_fraud_decision_format(d, detail, err);
    return rc != KASSA_OK ? rc : term_audit_record(t, "fraud_decision", subject, detail, err);
}

/* ---- resolutions: "<action> [counted=N] [sale=ID] [shortfall=N sales=N] note=TEXT" ---- */

const char *term_review_action_name(term_review_action a)
{
    switch (a) {
    case TERM_REVIEW_ACCEPT:
        return "accept";
    case TERM_REVIEW_ADJUST:
        return "adjust";
    case TERM_REVIEW_FLAG:
        return "flag";
    }
    return "unknown";
}

int term_review_action_parse(const char *name, term_review_action *out)
{
    for (int a = TERM_REVIEW_ACCEPT; a <= TERM_REVIEW_FLAG; a++) {
        if (strcmp(name, term_review_action_name((term_review_action)a)) == 0) {
            *out = (term_review_action)a;
            return KASSA_OK;
        }
    }
    return KASSA_EINVAL;
}

/* What a stock resolution covered when it was made. */
typedef struct covered {
    int64_t shortfall;
    int64_t sales;
} covered;

static void resolution_from(const char *action_word, sqlite3_stmt *st, int col,
                            term_review_resolution *res, covered *cov)
{
    /* columns from col: hlc, origin, cashier, supervisor, detail */
    memset(res, 0, sizeof *res);
    res->resolved = true;
    res->hlc = (hlc_ts)sqlite3_column_int64(st, col);
    copy_text(res->origin, sizeof res->origin, col_text(st, col + 1));
    const char *supervisor = col_text(st, col + 3);
    copy_text(res->by, sizeof res->by, supervisor[0] ? supervisor : col_text(st, col + 2));
    const char *detail = col_text(st, col + 4);
    copy_text(res->action, sizeof res->action, action_word);
    const char *note = strstr(detail, "note=");
    copy_text(res->note, sizeof res->note, note ? note + 5 : "");
    char v[SALE_ID_SIZE];
    if (field(detail, "sale", v, sizeof v) == 1)
        copy_text(res->sale, sizeof res->sale, v);
    if (field(detail, "counted", v, sizeof v) == 1)
        res->counted = strtoll(v, NULL, 10);
    if (cov) {
        /* a resolution that does not say what it covered covers nothing */
        cov->shortfall = field(detail, "shortfall", v, sizeof v) == 1 ? strtoll(v, NULL, 10) : 0;
        cov->sales = field(detail, "sales", v, sizeof v) == 1 ? strtoll(v, NULL, 10) : 0;
    }
}

/* ---- decisions listed ---- */

int term_review_decisions(term *t, bool with_resolved, size_t limit, term_review_decision_cb cb,
                          void *ctx, kassa_err *err)
{
    assert(cb);
    if (limit == 0 || limit > TERM_REVIEW_LIST_MAX)
        return kassa_fail(err, KASSA_EINVAL, "list 1..%d items", TERM_REVIEW_LIST_MAX);
    /* The first resolution of each decision wins (two supervisors may
     * resolve one while apart). */
    static const char SQL[] =
        "WITH res AS (SELECT r.subject, r.hlc, o.name AS origin, r.cashier, r.supervisor, "
        "r.detail, row_number() OVER (PARTITION BY r.subject ORDER BY r.hlc, o.name, r.seq) AS k "
        "FROM audit r JOIN origins o ON o.id = r.origin WHERE r.action = 'fraud_reviewed') "
        "SELECT o.name, a.seq, a.hlc, a.cashier, a.supervisor, a.subject, a.detail, "
        "res.hlc, res.origin, res.cashier, res.supervisor, res.detail "
        "FROM audit a JOIN origins o ON o.id = a.origin "
        "LEFT JOIN res ON res.k = 1 AND res.subject = o.name || '-' || a.seq "
        "WHERE a.action = 'fraud_decision' AND (?1 OR res.hlc IS NULL) "
        "ORDER BY a.hlc DESC, o.name DESC, a.seq DESC LIMIT ?2";
    sqlite3_stmt *st = prepare(t, SQL, err);
    if (!st)
        return err->code;
    sqlite3_bind_int(st, 1, with_resolved);
    sqlite3_bind_int64(st, 2, (int64_t)limit);
    term_review_decision *d = malloc(sizeof *d);
    int rc = d ? SQLITE_OK : SQLITE_NOMEM, crc = KASSA_OK;
    while (d && crc == KASSA_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        memset(d, 0, sizeof *d);
        copy_text(d->ref.origin, sizeof d->ref.origin, col_text(st, 0));
        d->ref.seq = (uint64_t)sqlite3_column_int64(st, 1);
        char sale_id[SALE_ID_SIZE];
        oplog_sale_id(&d->ref, sale_id, sizeof sale_id);
        snprintf(d->id, sizeof d->id, FRAUD_PREFIX "%s", sale_id);
        d->hlc = (hlc_ts)sqlite3_column_int64(st, 2);
        copy_text(d->cashier, sizeof d->cashier, col_text(st, 3));
        copy_text(d->supervisor, sizeof d->supervisor, col_text(st, 4));
        copy_text(d->subject, sizeof d->subject, col_text(st, 5));
        copy_text(d->detail, sizeof d->detail, col_text(st, 6));
        kassa_err perr;
        d->parsed = term_fraud_decision_parse(d->detail, &d->d, &perr) == KASSA_OK;
        if (sqlite3_column_type(st, 7) != SQLITE_NULL) {
            char word[16];
            const char *detail = col_text(st, 11);
            size_t n = strcspn(detail, " ");
            snprintf(word, sizeof word, "%.*s", (int)(n < sizeof word ? n : sizeof word - 1),
                     detail);
            resolution_from(word, st, 7, &d->res, NULL);
        }
        crc = cb(d, ctx);
    }
    free(d);
    sqlite3_finalize(st);
    if (crc != KASSA_OK)
        return crc;
    if (rc == SQLITE_NOMEM)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory");
    return rc == SQLITE_DONE ? KASSA_OK : store_error(&t->st, rc, "review", err);
}

/* ---- triage ---- */

typedef struct walk {
    term_triage_item item;
    int64_t running; /* the stock after the movement being looked at */
    bool done;
} walk;

typedef struct triage {
    term *t;
    walk *w;
    size_t n;
    oplog_payload *pl; /* decoding space */
    int64_t since_ms;
} triage;

static walk *find_walk(triage *tr, const char *sku)
{
    for (size_t i = 0; i < tr->n; i++)
        if (!tr->w[i].done && strcmp(tr->w[i].item.sku, sku) == 0)
            return &tr->w[i];
    return NULL;
}

/* The negative SKUs (sku filter: that one only). */
static int negative_skus(triage *tr, const char *only, kassa_err *err)
{
    static const char SQL[] = "SELECT sku, sum(p) - sum(n) AS q FROM stock "
                              "WHERE ?1 IS NULL OR sku = ?1 GROUP BY sku HAVING q < 0 "
                              "ORDER BY sku LIMIT ?2";
    sqlite3_stmt *st = prepare(tr->t, SQL, err);
    if (!st)
        return err->code;
    if (only)
        sqlite3_bind_text(st, 1, only, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, TERM_TRIAGE_ITEMS_MAX);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        assert(tr->n < TERM_TRIAGE_ITEMS_MAX);
        walk *w = &tr->w[tr->n++];
        memset(w, 0, sizeof *w);
        copy_text(w->item.sku, sizeof w->item.sku, col_text(st, 0));
        snprintf(w->item.id, sizeof w->item.id, STOCK_PREFIX "%s", w->item.sku);
        w->item.stock = sqlite3_column_int64(st, 1);
        w->item.shortfall = -w->item.stock;
        w->running = w->item.stock;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? KASSA_OK : store_error(&tr->t->st, rc, "stock", err);
}

/* One movement of w's SKU, newest first: delta is what it did to the
 * stock. A sale made while the stock did not stay above zero contributes;
 * the walk ends at the first movement after which the stock was above
 * zero. */
static void step(walk *w, int64_t delta, const oplog_op *op, const char *cashier)
{
    if (w->running > 0) {
        w->done = true;
        return;
    }
    if (cashier) {
        term_triage_item *it = &w->item;
        it->total_sales++;
        it->since = op->hlc;
        if (it->n_sales < TERM_TRIAGE_SALES_MAX) {
            term_triage_sale *s = &it->sales[it->n_sales++];
            memset(s, 0, sizeof *s);
            copy_text(s->ref.origin, sizeof s->ref.origin, op->origin);
            s->ref.seq = op->seq;
            s->hlc = op->hlc;
            copy_text(s->cashier, sizeof s->cashier, cashier);
            s->qty = -delta;
            s->risk = NAN;
        }
    }
    w->running -= delta;
}

static int movement(triage *tr, const oplog_op *op, bool voided, kassa_err *err)
{
    int rc = oplog_decode(op->kind, op->payload, op->payload_len, tr->pl, err);
    if (rc != KASSA_OK)
        return rc;
    walk *w;
    switch (op->kind) {
    case OP_SALE:
        if (voided)
            return KASSA_OK; /* every unit came back */
        for (size_t i = 0; i < tr->pl->sale.n_lines; i++)
            if ((w = find_walk(tr, tr->pl->sale.lines[i].sku)) != NULL)
                step(w, -tr->pl->sale.lines[i].qty, op, tr->pl->sale.cashier);
        return KASSA_OK;
    case OP_RETURN:
        for (size_t i = 0; i < tr->pl->ret.n_lines; i++)
            if ((w = find_walk(tr, tr->pl->ret.lines[i].sku)) != NULL)
                step(w, tr->pl->ret.lines[i].qty, op, NULL);
        return KASSA_OK;
    case OP_STOCK_RECEIVE:
    case OP_STOCK_COUNT:
        if ((w = find_walk(tr, tr->pl->stock.sku)) != NULL)
            step(w, op->kind == OP_STOCK_RECEIVE ? tr->pl->stock.qty : tr->pl->stock.delta, op,
                 NULL);
        return KASSA_OK;
    default:
        return KASSA_OK;
    }
}

static bool all_done(const triage *tr)
{
    for (size_t i = 0; i < tr->n; i++)
        if (!tr->w[i].done)
            return false;
    return true;
}

/* Walks the log back from now over the SKUs' movements. */
static int walk_back(triage *tr, kassa_err *err)
{
    static const char SQL[] =
        "SELECT o.name, x.seq, x.hlc, x.kind, x.payload, coalesce(s.void_count, 0) "
        "FROM ops x JOIN origins o ON o.id = x.origin "
        "LEFT JOIN sales s ON x.kind = 2 AND s.origin = x.origin AND s.seq = x.seq "
        "WHERE x.kind IN (2, 4, 5, 6) AND x.hlc >= ?1 "
        "ORDER BY x.hlc DESC, o.name DESC, x.seq DESC";
    _Static_assert(OP_SALE == 2 && OP_RETURN == 4 && OP_STOCK_RECEIVE == 5 && OP_STOCK_COUNT == 6,
                   "the kinds in the walk's SQL");
    sqlite3_stmt *st = prepare(tr->t, SQL, err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, (int64_t)hlc_make((uint64_t)tr->since_ms, 0));
    int rc = SQLITE_DONE, mrc = KASSA_OK;
    for (size_t rows = 0; mrc == KASSA_OK && rows < TRIAGE_ROWS_MAX && !all_done(tr); rows++) {
        if ((rc = sqlite3_step(st)) != SQLITE_ROW)
            break;
        oplog_op op;
        op_from_row(st, &op);
        mrc = movement(tr, &op, sqlite3_column_int64(st, 5) > 0, err);
        rc = SQLITE_DONE;
    }
    sqlite3_finalize(st);
    if (mrc != KASSA_OK)
        return mrc;
    return rc == SQLITE_DONE ? KASSA_OK : store_error(&tr->t->st, rc, "triage", err);
}

static term_triage_sale *find_sale(triage *tr, const oplog_sale_ref *ref)
{
    for (size_t i = 0; i < tr->n; i++) {
        term_triage_item *it = &tr->w[i].item;
        for (size_t k = 0; k < it->n_sales; k++)
            if (it->sales[k].ref.seq == ref->seq &&
                strcmp(it->sales[k].ref.origin, ref->origin) == 0)
                return &it->sales[k];
    }
    return NULL;
}

/* Risk from the decisions recorded for the sales (the highest), then the
 * caller's. */
static int add_risks(triage *tr, term_risk_fn risk, void *risk_ctx, kassa_err *err)
{
    static const char SQL[] = "SELECT subject, detail FROM audit "
                              "WHERE action = 'fraud_decision' AND hlc >= ?1";
    sqlite3_stmt *st = prepare(tr->t, SQL, err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, (int64_t)hlc_make((uint64_t)tr->since_ms, 0));
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        oplog_sale_ref ref;
        term_fraud_decision d;
        kassa_err e;
        term_triage_sale *s;
        if (oplog_parse_sale_id(col_text(st, 0), &ref, &e) != KASSA_OK ||
            term_fraud_decision_parse(col_text(st, 1), &d, &e) != KASSA_OK ||
            !isfinite(d.probability) || (s = find_sale(tr, &ref)) == NULL)
            continue;
        if (isnan(s->risk) || d.probability > s->risk)
            s->risk = d.probability;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return store_error(&tr->t->st, rc, "review", err);
    for (size_t i = 0; risk && i < tr->n; i++) {
        term_triage_item *it = &tr->w[i].item;
        for (size_t k = 0; k < it->n_sales; k++)
            if (isnan(it->sales[k].risk))
                it->sales[k].risk = risk(&it->sales[k].ref, risk_ctx);
    }
    return KASSA_OK;
}

/* The resolutions of the SKUs: the newest one made since the item's
 * oldest contributing sale that covers it; and the sales flagged. */
static int add_resolutions(triage *tr, kassa_err *err)
{
    static const char SQL[] =
        "SELECT a.subject, a.action, a.hlc, o.name, a.cashier, a.supervisor, a.detail "
        "FROM audit a JOIN origins o ON o.id = a.origin "
        "WHERE a.action IN ('triage_accept', 'triage_adjust', 'triage_flag') "
        "ORDER BY a.hlc, o.name, a.seq";
    sqlite3_stmt *st = prepare(tr->t, SQL, err);
    if (!st)
        return err->code;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *sku = col_text(st, 0);
        for (size_t i = 0; i < tr->n; i++) {
            term_triage_item *it = &tr->w[i].item;
            if (strcmp(it->sku, sku) != 0)
                continue;
            term_review_resolution res;
            covered cov;
            resolution_from(col_text(st, 1) + strlen("triage_"), st, 2, &res, &cov);
            oplog_sale_ref ref;
            kassa_err e;
            term_triage_sale *s;
            if (res.sale[0] && oplog_parse_sale_id(res.sale, &ref, &e) == KASSA_OK &&
                (s = find_sale(tr, &ref)) != NULL)
                s->flagged = true;
            if (res.hlc >= it->since && cov.shortfall >= it->shortfall &&
                cov.sales >= (int64_t)it->total_sales)
                it->res = res;
        }
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? KASSA_OK : store_error(&tr->t->st, rc, "review", err);
}

/* Riskiest first, unknown risk last, then newest first. */
static int by_risk(const void *a, const void *b)
{
    const term_triage_sale *x = a, *y = b;
    bool xn = isnan(x->risk), yn = isnan(y->risk);
    if (xn != yn)
        return xn ? 1 : -1;
    if (!xn && x->risk != y->risk)
        return x->risk > y->risk ? -1 : 1;
    if (x->hlc != y->hlc)
        return x->hlc > y->hlc ? -1 : 1;
    int c = strcmp(x->ref.origin, y->ref.origin);
    return c ? c : (x->ref.seq > y->ref.seq) - (x->ref.seq < y->ref.seq);
}

/* The triage items of every negative SKU (or of `only`), in tr->w. */
static int triage_run(term *t, const char *only, term_risk_fn risk, void *risk_ctx, triage *tr,
                      kassa_err *err)
{
    memset(tr, 0, sizeof *tr);
    tr->t = t;
    tr->since_ms = (int64_t)t->now_ms(t->now_ctx) - TERM_TRIAGE_WINDOW_MS;
    tr->w = calloc(TERM_TRIAGE_ITEMS_MAX, sizeof *tr->w);
    tr->pl = malloc(sizeof *tr->pl);
    if (!tr->w || !tr->pl)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory for the triage");
    int rc = negative_skus(tr, only, err);
    if (rc == KASSA_OK && tr->n > 0 && (rc = walk_back(tr, err)) == KASSA_OK &&
        (rc = add_risks(tr, risk, risk_ctx, err)) == KASSA_OK)
        rc = add_resolutions(tr, err);
    for (size_t i = 0; rc == KASSA_OK && i < tr->n; i++)
        qsort(tr->w[i].item.sales, tr->w[i].item.n_sales, sizeof tr->w[i].item.sales[0], by_risk);
    return rc;
}

static void triage_free(triage *tr)
{
    free(tr->w);
    free(tr->pl);
}

int term_triage_each(term *t, bool with_resolved, term_risk_fn risk, void *risk_ctx,
                     term_triage_cb cb, void *ctx, kassa_err *err)
{
    assert(cb);
    triage tr;
    int rc = triage_run(t, NULL, risk, risk_ctx, &tr, err);
    for (size_t i = 0; rc == KASSA_OK && i < tr.n; i++)
        if (with_resolved || !tr.w[i].item.res.resolved)
            rc = cb(&tr.w[i].item, ctx);
    triage_free(&tr);
    return rc;
}

/* ---- resolving ---- */

typedef struct resolve_ctx {
    const term_review_resolve_req *req;
    const char *action; /* the audit action */
    char subject[OPLOG_AUDIT_SUBJECT_MAX + 1];
    char detail[OPLOG_AUDIT_DETAIL_MAX + 1];
    const char *sku; /* adjust: the SKU counted */
} resolve_ctx;

static int resolve_tx(term *t, void *ctx, kassa_err *err)
{
    resolve_ctx *c = ctx;
    if (c->sku) {
        /* The count as term_stock_count books it: the difference from
         * this terminal's view. */
        int64_t stock;
        int rc = term_stock_get(t, c->sku, &stock, err);
        if (rc != KASSA_OK)
            return rc;
        oplog_stock s = {.qty = c->req->counted, .delta = c->req->counted - stock};
        copy_text(s.sku, sizeof s.sku, c->sku);
        if (s.delta > OPLOG_STOCK_DELTA_MAX || s.delta < -OPLOG_STOCK_DELTA_MAX)
            return kassa_fail(err, KASSA_EOVERFLOW, "%s: the count is too far from the stock",
                              c->sku);
        kbuf_reset(&t->scratch);
        oplog_encode_stock(&t->scratch, &s);
        if ((rc = term_append_local(t, OP_STOCK_COUNT, &t->scratch, NULL, err)) != KASSA_OK)
            return rc;
    }
    return term_audit_append(t, c->action, c->subject, c->detail, err);
}

static int note_check(const char *note, kassa_err *err)
{
    if (strlen(note) > TERM_REVIEW_NOTE_MAX)
        return kassa_fail(err, KASSA_EINVAL, "a note of at most %d bytes", TERM_REVIEW_NOTE_MAX);
    for (const char *p = note; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return kassa_fail(err, KASSA_EINVAL, "the note has control characters");
    return KASSA_OK;
}

static int resolve_decision(term *t, const char *ref_id, const term_review_resolve_req *req,
                            kassa_err *err)
{
    oplog_sale_ref ref;
    if (oplog_parse_sale_id(ref_id, &ref, err) != KASSA_OK)
        return kassa_fail(err, KASSA_ENOTFOUND, "no review item %s%s", FRAUD_PREFIX, ref_id);
    if (req->action == TERM_REVIEW_ADJUST)
        return kassa_fail(err, KASSA_EINVAL, "a fraud decision is accepted or flagged");
    static const char SQL[] =
        "SELECT EXISTS (SELECT 1 FROM audit a JOIN origins o ON o.id = a.origin WHERE o.name = ?1 "
        "AND a.seq = ?2 AND a.action = 'fraud_decision'), EXISTS (SELECT 1 FROM audit WHERE "
        "action = 'fraud_reviewed' AND subject = ?3)";
    sqlite3_stmt *st = prepare(t, SQL, err);
    if (!st)
        return err->code;
    sqlite3_bind_text(st, 1, ref.origin, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (int64_t)ref.seq);
    char canonical[SALE_ID_SIZE];
    oplog_sale_id(&ref, canonical, sizeof canonical);
    sqlite3_bind_text(st, 3, canonical, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    bool exists = rc == SQLITE_ROW && sqlite3_column_int(st, 0);
    bool resolved = rc == SQLITE_ROW && sqlite3_column_int(st, 1);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        return store_error(&t->st, rc, "review", err);
    if (!exists)
        return kassa_fail(err, KASSA_ENOTFOUND, "no review item %s%s", FRAUD_PREFIX, canonical);
    if (resolved)
        return kassa_fail(err, KASSA_ECONFLICT, "%s%s is resolved already", FRAUD_PREFIX,
                          canonical);
    resolve_ctx c = {.req = req, .action = "fraud_reviewed"};
    copy_text(c.subject, sizeof c.subject, canonical);
    size_t n = 0;
    if (put(c.detail, sizeof c.detail, &n, "%s note=%s", term_review_action_name(req->action),
            req->note) != 0)
        return kassa_fail(err, KASSA_EINVAL, "the note is too long");
    return term_in_tx(t, resolve_tx, &c, err);
}

static int resolve_stock(term *t, const char *sku, const term_review_resolve_req *req,
                         kassa_err *err)
{
    if (!kassa_valid_id(sku, KASSA_SKU_MAX))
        return kassa_fail(err, KASSA_ENOTFOUND, "no review item %s%s", STOCK_PREFIX, sku);
    if (req->action == TERM_REVIEW_ADJUST && (req->counted < 0 || req->counted > PRICING_QTY_MAX))
        return kassa_fail(err, KASSA_EINVAL, "counted: 0..%lld units", (long long)PRICING_QTY_MAX);
    triage tr;
    int rc = triage_run(t, sku, NULL, NULL, &tr, err);
    term_triage_item *it = rc == KASSA_OK && tr.n == 1 ? &tr.w[0].item : NULL;
    if (rc == KASSA_OK && !it)
        rc = kassa_fail(err, KASSA_ENOTFOUND, "no review item %s%s (its stock is not negative)",
                        STOCK_PREFIX, sku);
    if (rc == KASSA_OK && it->res.resolved)
        rc = kassa_fail(err, KASSA_ECONFLICT, "%s is resolved already (%s by %s)", it->id,
                        it->res.action, it->res.by[0] ? it->res.by : "the operator");
    resolve_ctx c = {.req = req};
    char extra[SALE_ID_SIZE + 32] = "";
    if (rc == KASSA_OK && req->action == TERM_REVIEW_FLAG) {
        oplog_sale_ref ref;
        if (oplog_parse_sale_id(req->sale, &ref, err) != KASSA_OK || !find_sale(&tr, &ref))
            rc = kassa_fail(err, KASSA_EINVAL, "flag one of the item's sales (sale \"%s\" is not)",
                            req->sale);
        else
            snprintf(extra, sizeof extra, "sale=%s ", req->sale);
    } else if (rc == KASSA_OK && req->action == TERM_REVIEW_ADJUST) {
        snprintf(extra, sizeof extra, "counted=%lld ", (long long)req->counted);
        c.sku = it->sku;
    }
    if (rc == KASSA_OK) {
        c.action = req->action == TERM_REVIEW_ACCEPT   ? "triage_accept"
                   : req->action == TERM_REVIEW_ADJUST ? "triage_adjust"
                                                       : "triage_flag";
        copy_text(c.subject, sizeof c.subject, it->sku);
        size_t n = 0;
        if (put(c.detail, sizeof c.detail, &n, "%s %sshortfall=%lld sales=%zu note=%s",
                term_review_action_name(req->action), extra, (long long)it->shortfall,
                it->total_sales, req->note) != 0)
            rc = kassa_fail(err, KASSA_EINVAL, "the note is too long");
        else
            rc = term_in_tx(t, resolve_tx, &c, err);
    }
    triage_free(&tr);
    return rc;
}

int term_review_resolve(term *t, const char *id, const term_review_resolve_req *req, kassa_err *err)
{
    assert(id && req);
    int rc = note_check(req->note, err);
    if (rc != KASSA_OK)
        return rc;
    if (req->action < TERM_REVIEW_ACCEPT || req->action > TERM_REVIEW_FLAG)
        return kassa_fail(err, KASSA_EINVAL, "resolve by accept, adjust or flag");
    if (strncmp(id, FRAUD_PREFIX, strlen(FRAUD_PREFIX)) == 0)
        return resolve_decision(t, id + strlen(FRAUD_PREFIX), req, err);
    if (strncmp(id, STOCK_PREFIX, strlen(STOCK_PREFIX)) == 0)
        return resolve_stock(t, id + strlen(STOCK_PREFIX), req, err);
    return kassa_fail(err, KASSA_ENOTFOUND, "no review item %.64s", id);
}

static int count_item(const term_triage_item *it, void *ctx)
{
    (void)it;
    (*(size_t *)ctx)++;
    return KASSA_OK;
}

int term_review_open_count(term *t, size_t *n, kassa_err *err)
{
    static const char SQL[] =
        "SELECT count(*) FROM audit a JOIN origins o ON o.id = a.origin "
        "WHERE a.action = 'fraud_decision' AND NOT EXISTS (SELECT 1 FROM audit r WHERE "
        "r.action = 'fraud_reviewed' AND r.subject = o.name || '-' || a.seq)";
    sqlite3_stmt *st = prepare(t, SQL, err);
    if (!st)
        return err->code;
    int rc = sqlite3_step(st);
    *n = rc == SQLITE_ROW ? (size_t)sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        return store_error(&t->st, rc, "review", err);
    return term_triage_each(t, false, NULL, NULL, count_item, n, err);
}

/* ---- the log by time ---- */

int term_ops_since(term *t, int64_t since_ms, term_op_cb cb, void *ctx, kassa_err *err)
{
    assert(cb);
    static const char SQL[] = "SELECT o.name, x.seq, x.hlc, x.kind, x.payload, x.hash "
                              "FROM ops x JOIN origins o ON o.id = x.origin WHERE x.hlc >= ?1 "
                              "ORDER BY x.hlc, o.name, x.seq";
    sqlite3_stmt *st = prepare(t, SQL, err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, (int64_t)hlc_make(since_ms > 0 ? (uint64_t)since_ms : 0, 0));
    int rc = SQLITE_DONE, crc = KASSA_OK;
    while (crc == KASSA_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        oplog_op op;
        op_from_row(st, &op);
        if (sqlite3_column_bytes(st, 5) == OPLOG_HASH_SIZE)
            memcpy(op.hash, sqlite3_column_blob(st, 5), OPLOG_HASH_SIZE);
        crc = cb(&op, ctx);
    }
    sqlite3_finalize(st);
    if (crc != KASSA_OK)
        return crc;
    return rc == SQLITE_DONE ? KASSA_OK : store_error(&t->st, rc, "operations", err);
}
