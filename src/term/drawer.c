/* drawer.c: cash drawer movements besides sales and refunds: the float put
 * in at the start of a shift, drops taken to the safe, and counts that
 * record what was over or short. */
#include "term/term_internal.h"

#include <stdio.h>
#include <string.h>

typedef struct move_ctx {
    oplog_drawer d;
} move_ctx;

/* This terminal's drawer as it sees it now: 0 before anything moved. */
static int own_drawer(term *t, int64_t *cash, kassa_err *err)
{
    kassa_err lookup;
    int rc = term_drawer(t, t->node_id, cash, &lookup);
    if (rc == KASSA_ENOTFOUND) {
        *cash = 0;
        return KASSA_OK;
    }
    if (rc != KASSA_OK)
        return kassa_fail(err, rc, "%s", lookup.msg);
    return KASSA_OK;
}

static int move_tx(term *t, void *ctx, kassa_err *err)
{
    move_ctx *c = ctx;
    int64_t cash;
    int rc = own_drawer(t, &cash, err);
    if (rc != KASSA_OK)
        return rc;
    if (c->d.action == OPLOG_DRAWER_DROP && c->d.amount > cash) {
        char want[MONEY_STR_SIZE], have[MONEY_STR_SIZE];
        money_format(c->d.amount, want);
        money_format(cash, have);
        return kassa_fail(err, KASSA_ECONFLICT, "cannot drop %s: the drawer holds %s", want, have);
    }
    if (c->d.action == OPLOG_DRAWER_COUNT)
        c->d.delta = c->d.amount - cash;
    snprintf(c->d.cashier, sizeof c->d.cashier, "%s", t->actor.cashier);
    kbuf_reset(&t->scratch);
    oplog_encode_drawer(&t->scratch, &c->d);
    return term_append_local(t, OP_DRAWER, &t->scratch, NULL, err);
}

int term_drawer_move(term *t, oplog_drawer_action action, int64_t amount, int64_t *delta,
                     kassa_err *err)
{
    if (action < OPLOG_DRAWER_FLOAT || action > OPLOG_DRAWER_COUNT)
        return kassa_fail(err, KASSA_EINVAL, "unknown drawer action %d", (int)action);
    int64_t min = action == OPLOG_DRAWER_COUNT ? 0 : 1;
    if (amount < min || amount > PRICING_AMOUNT_MAX)
        return kassa_fail(err, KASSA_EINVAL, "drawer amount out of range");
    move_ctx c = {.d = {.action = (uint8_t)action, .amount = amount}};
    int rc = term_in_tx(t, move_tx, &c, err);
    if (rc == KASSA_OK && delta)
        *delta = c.d.delta;
    return rc;
}

int term_drawer_events(term *t, const char *node, size_t limit, term_drawer_cb cb, void *ctx,
                       kassa_err *err)
{
    static const char SQL[] = "SELECT o.name, e.seq, e.hlc, e.action, e.amount, e.delta, e.cashier "
                              "FROM drawer_events e JOIN origins o ON o.id = e.origin "
                              "WHERE ?1 IS NULL OR o.name = ?1 ORDER BY e.hlc DESC LIMIT ?2";
    sqlite3_stmt *st = store_stmt(&t->st, SQL, err);
    if (!st)
        return err->code;
    if (node)
        sqlite3_bind_text(st, 1, node, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 1);
    sqlite3_bind_int64(st, 2, (int64_t)limit);
    int rc;
    term_drawer_event e;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        memset(&e, 0, sizeof e);
        snprintf(e.origin, sizeof e.origin, "%s", (const char *)sqlite3_column_text(st, 0));
        e.ref.seq = (uint64_t)sqlite3_column_int64(st, 1);
        snprintf(e.ref.origin, sizeof e.ref.origin, "%s", e.origin);
        e.hlc = (hlc_ts)sqlite3_column_int64(st, 2);
        e.d.action = (uint8_t)sqlite3_column_int(st, 3);
        e.d.amount = sqlite3_column_int64(st, 4);
        e.d.delta = sqlite3_column_int64(st, 5);
        snprintf(e.d.cashier, sizeof e.d.cashier, "%s", (const char *)sqlite3_column_text(st, 6));
        int cb_rc = cb(&e, ctx);
        if (cb_rc != KASSA_OK) {
            sqlite3_reset(st);
            return kassa_fail(err, cb_rc, "drawer events: %s", kassa_strerror(cb_rc));
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? KASSA_OK : store_error(&t->st, rc, "drawer events", err);
}
