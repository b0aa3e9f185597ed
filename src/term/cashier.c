/*
 * cashier.c: cashiers, their PINs and lockouts, and the audit log of
 * supervised actions.
 *
 * A cashier record replicates like the catalog (last writer wins), with the
 * PIN only as an Argon2id hash. Wrong-PIN counts and lockouts are this
 * terminal's own: they protect the keypad in front of it.
 */
#include "term/term_internal.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

static const char *const ROLE_NAMES[] = {NULL, "cashier", "supervisor", "manager"};

const char *term_role_name(term_role role)
{
    return role >= TERM_ROLE_CASHIER && role <= TERM_ROLE_MANAGER ? ROLE_NAMES[role] : "unknown";
}

int term_role_parse(const char *name, term_role *role)
{
    for (int r = TERM_ROLE_CASHIER; r <= TERM_ROLE_MANAGER; r++) {
        if (strcmp(ROLE_NAMES[r], name) == 0) {
            *role = (term_role)r;
            return KASSA_OK;
        }
    }
    return KASSA_EINVAL;
}

static bool pin_ok(const char *pin)
{
    size_t n = strlen(pin);
    if (n < TERM_PIN_MIN || n > TERM_PIN_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (pin[i] < '0' || pin[i] > '9')
            return false;
    return true;
}

static int cashier_tx(term *t, void *ctx, kassa_err *err)
{
    kbuf_reset(&t->scratch);
    oplog_encode_cashier(&t->scratch, ctx);
    return term_append_local(t, OP_CASHIER_SET, &t->scratch, NULL, err);
}

int term_cashier_set(term *t, const char *id, const char *name, term_role role, const char *pin,
                     kassa_err *err)
{
    oplog_cashier c;
    memset(&c, 0, sizeof c);
    if (!kassa_valid_id(id, KASSA_ID_MAX))
        return kassa_fail(err, KASSA_EINVAL, "invalid cashier id \"%s\"", id);
    if (!name[0] || strlen(name) > KASSA_NAME_MAX)
        return kassa_fail(err, KASSA_EINVAL, "a cashier name is 1..%d bytes", KASSA_NAME_MAX);
    for (const char *p = name; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return kassa_fail(err, KASSA_EINVAL, "cashier name has control characters");
    if (role < TERM_ROLE_CASHIER || role > TERM_ROLE_MANAGER)
        return kassa_fail(err, KASSA_EINVAL, "unknown role");
    if (!pin_ok(pin))
        return kassa_fail(err, KASSA_EINVAL, "a PIN is %d to %d digits", TERM_PIN_MIN,
                          TERM_PIN_MAX);
    snprintf(c.id, sizeof c.id, "%s", id);
    snprintf(c.name, sizeof c.name, "%s", name);
    c.role = (uint8_t)role;
    /* Hashing is slow on purpose (Argon2id, interactive limits): do it
     * before taking the write lock. */
    if (crypto_pwhash_str(c.pin_hash, pin, strlen(pin), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        return kassa_fail(err, KASSA_ENOMEM, "PIN hashing ran out of memory");
    int rc = term_in_tx(t, cashier_tx, &c, err);
    sodium_memzero(c.pin_hash, sizeof c.pin_hash);
    return rc;
}

static void cashier_from_row(sqlite3_stmt *st, term_cashier *c)
{
    snprintf(c->id, sizeof c->id, "%s", (const char *)sqlite3_column_text(st, 0));
    snprintf(c->name, sizeof c->name, "%s", (const char *)sqlite3_column_text(st, 1));
    c->role = (term_role)sqlite3_column_int(st, 2);
}

int term_cashiers_each(term *t, term_cashier_cb cb, void *ctx, kassa_err *err)
{
    static const char SQL[] = "SELECT id, name, role FROM cashiers ORDER BY id";
    sqlite3_stmt *st = store_stmt(&t->st, SQL, err);
    if (!st)
        return err->code;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        term_cashier c;
        cashier_from_row(st, &c);
        int crc = cb(&c, ctx);
        if (crc != KASSA_OK) {
            sqlite3_reset(st);
            return crc;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? KASSA_OK : store_error(&t->st, rc, "cashiers", err);
}

typedef struct pin_result {
    const char *id;
    bool right;
    int64_t now_ms;
    int64_t locked_until_ms; /* out */
} pin_result;

/* Books one PIN attempt: a right one clears the count, a wrong one counts
 * and locks at max_pin_failures. */
static int pin_book_tx(term *t, void *ctx, kassa_err *err)
{
    static const char CLEAR[] = "DELETE FROM pin_lock WHERE id = ?1";
    static const char FAIL[] =
        "INSERT INTO pin_lock(id, failures) VALUES(?1, 1) ON CONFLICT(id) DO UPDATE SET "
        "failures = failures + 1 RETURNING failures";
    static const char LOCK[] =
        "UPDATE pin_lock SET failures = 0, locked_until_ms = ?2 WHERE id = ?1";
    pin_result *p = ctx;
    sqlite3_stmt *st = store_stmt(&t->st, p->right ? CLEAR : FAIL, err);
    if (!st)
        return err->code;
    sqlite3_bind_text(st, 1, p->id, -1, SQLITE_STATIC);
    if (p->right)
        return store_step_done(&t->st, st, "pin lock", err);
    int rc = sqlite3_step(st);
    int64_t failures = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    if (rc == SQLITE_ROW)
        rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return store_error(&t->st, rc, "pin lock", err);
    if (failures < t->max_pin_failures)
        return KASSA_OK;
    p->locked_until_ms = p->now_ms + t->pin_lockout_ms;
    if (!(st = store_stmt(&t->st, LOCK, err)))
        return err->code;
    sqlite3_bind_text(st, 1, p->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, p->locked_until_ms);
    return store_step_done(&t->st, st, "pin lock", err);
}

int term_cashier_check_pin(term *t, const char *id, const char *pin, term_cashier *out,
                           int64_t *retry_after_ms, kassa_err *err)
{
    static const char SQL[] =
        "SELECT c.id, c.name, c.role, c.pin_hash, coalesce(l.locked_until_ms, 0) "
        "FROM cashiers c LEFT JOIN pin_lock l ON l.id = c.id WHERE c.id = ?1";
    if (retry_after_ms)
        *retry_after_ms = 0;
    sqlite3_stmt *st = store_stmt(&t->st, SQL, err);
    if (!st)
        return err->code;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    char hash[OPLOG_PIN_HASH_MAX + 1] = "";
    int64_t locked_until_ms = 0;
    term_cashier c;
    if (rc == SQLITE_ROW) {
        cashier_from_row(st, &c);
        snprintf(hash, sizeof hash, "%s", (const char *)sqlite3_column_text(st, 3));
        locked_until_ms = sqlite3_column_int64(st, 4);
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) {
        /* The same answer, after the same work, as a wrong PIN: ids are not
         * secret, but a keypad should not help guessing them. */
        char *decoy = t->work->decoy_pin_hash;
        if (!decoy[0] && crypto_pwhash_str(decoy, "0000", 4, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                           crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
            decoy[0] = '\0';
        /* The decoy's result is irrelevant, only its cost matters. */
        if (decoy[0] && crypto_pwhash_str_verify(decoy, pin, strlen(pin)) == 0)
            decoy[0] = '\0';
        return kassa_fail(err, KASSA_EAUTH, "wrong cashier or PIN");
    }
    if (rc != SQLITE_ROW)
        return store_error(&t->st, rc, "cashier", err);
    int64_t now_ms = (int64_t)t->now_ms(t->now_ctx);
    if (locked_until_ms > now_ms) {
        if (retry_after_ms)
            *retry_after_ms = locked_until_ms - now_ms;
        return kassa_fail(err, KASSA_ELOCKED, "cashier %s is locked after too many wrong PINs", id);
    }
    /* Verify outside any transaction: Argon2id takes tens of ms. */
    pin_result p = {.id = id, .now_ms = now_ms};
    p.right = pin_ok(pin) && crypto_pwhash_str_verify(hash, pin, strlen(pin)) == 0;
    sodium_memzero(hash, sizeof hash);
    if ((rc = term_in_tx(t, pin_book_tx, &p, err)) != KASSA_OK)
        return rc;
    if (!p.right) {
        if (p.locked_until_ms) {
            if (retry_after_ms)
                *retry_after_ms = p.locked_until_ms - now_ms;
            return kassa_fail(err, KASSA_ELOCKED, "cashier %s is locked after too many wrong PINs",
                              id);
        }
        return kassa_fail(err, KASSA_EAUTH, "wrong cashier or PIN");
    }
    if (out)
        *out = c;
    return KASSA_OK;
}

/* ---- audit ---- */

int term_audit_append(term *t, const char *action, const char *subject, const char *detail,
                      kassa_err *err)
{
    oplog_audit a;
    memset(&a, 0, sizeof a);
    snprintf(a.action, sizeof a.action, "%s", action);
    snprintf(a.cashier, sizeof a.cashier, "%s", t->actor.cashier);
    snprintf(a.supervisor, sizeof a.supervisor, "%s", t->actor.supervisor);
    if (strlen(subject) > OPLOG_AUDIT_SUBJECT_MAX || strlen(detail) > OPLOG_AUDIT_DETAIL_MAX)
        return kassa_fail(err, KASSA_EINVAL, "audit text too long");
    snprintf(a.subject, sizeof a.subject, "%s", subject);
    snprintf(a.detail, sizeof a.detail, "%s", detail);
    for (const char *p = a.detail; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return kassa_fail(err, KASSA_EINVAL, "reason has control characters");
    kbuf_reset(&t->scratch);
    oplog_encode_audit(&t->scratch, &a);
    return term_append_local(t, OP_AUDIT, &t->scratch, NULL, err);
}

typedef struct audit_ctx {
    const char *action, *subject, *detail;
} audit_ctx;

static int audit_tx(term *t, void *ctx, kassa_err *err)
{
    const audit_ctx *a = ctx;
    return term_audit_append(t, a->action, a->subject, a->detail, err);
}

int term_audit_record(term *t, const char *action, const char *subject, const char *detail,
                      kassa_err *err)
{
    if (!kassa_valid_id(action, OPLOG_SETTING_KEY_MAX))
        return kassa_fail(err, KASSA_EINVAL, "audit action: not an id");
    audit_ctx a = {action, subject, detail};
    return term_in_tx(t, audit_tx, &a, err);
}

static int drawer_open_tx(term *t, void *ctx, kassa_err *err)
{
    return term_audit_append(t, "no_sale", "drawer", ctx, err);
}

int term_drawer_open(term *t, const char *reason, kassa_err *err)
{
    if (!reason[0] || strlen(reason) > 200)
        return kassa_fail(err, KASSA_EINVAL, "a reason of 1..200 bytes is needed");
    if (!t->actor.supervisor[0] && t->actor.cashier[0])
        return kassa_fail(err, KASSA_EAUTH,
                          "opening the drawer without a sale needs a "
                          "supervisor");
    return term_in_tx(t, drawer_open_tx, (void *)reason, err);
}

int term_audit_each(term *t, term_audit_cb cb, void *ctx, kassa_err *err)
{
    static const char SQL[] =
        "SELECT o.name, a.seq, a.hlc, a.action, a.cashier, a.supervisor, a.subject, a.detail "
        "FROM audit a JOIN origins o ON o.id = a.origin ORDER BY a.hlc, o.name, a.seq";
    sqlite3_stmt *st = store_stmt(&t->st, SQL, err);
    if (!st)
        return err->code;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        term_audit_entry e;
        snprintf(e.ref.origin, sizeof e.ref.origin, "%s", (const char *)sqlite3_column_text(st, 0));
        e.ref.seq = (uint64_t)sqlite3_column_int64(st, 1);
        e.hlc = (hlc_ts)sqlite3_column_int64(st, 2);
        snprintf(e.action, sizeof e.action, "%s", (const char *)sqlite3_column_text(st, 3));
        snprintf(e.cashier, sizeof e.cashier, "%s", (const char *)sqlite3_column_text(st, 4));
        snprintf(e.supervisor, sizeof e.supervisor, "%s", (const char *)sqlite3_column_text(st, 5));
        snprintf(e.subject, sizeof e.subject, "%s", (const char *)sqlite3_column_text(st, 6));
        snprintf(e.detail, sizeof e.detail, "%s", (const char *)sqlite3_column_text(st, 7));
        int crc = cb(&e, ctx);
        if (crc != KASSA_OK) {
            sqlite3_reset(st);
            return crc;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? KASSA_OK : store_error(&t->st, rc, "audit", err);
}
