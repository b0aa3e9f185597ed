#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Migration N takes the schema from version N-1 to N. Append only: a
 * released migration is never edited. */
static const char *const MIGRATIONS[STORE_SCHEMA_VERSION] = {
    /* 1: operation log and projections */
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
    /* One row per origin: interned id, and the head of its hash chain. */
    "CREATE TABLE origins(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
    "  head_seq INTEGER NOT NULL DEFAULT 0, head_hash BLOB NOT NULL,"
    "  head_hlc INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE ops(origin INTEGER NOT NULL, seq INTEGER NOT NULL, hlc INTEGER NOT NULL,"
    "  kind INTEGER NOT NULL, payload BLOB NOT NULL, hash BLOB NOT NULL,"
    "  PRIMARY KEY(origin, seq)) WITHOUT ROWID;"
    /* Received operations that cannot be applied yet: a gap in their
     * origin's sequence, or a sale they refer to has not arrived. */
    "CREATE TABLE pending(origin TEXT NOT NULL, seq INTEGER NOT NULL, hlc INTEGER NOT NULL,"
    "  kind INTEGER NOT NULL, payload BLOB NOT NULL, hash BLOB NOT NULL,"
    "  PRIMARY KEY(origin, seq)) WITHOUT ROWID;"
    /* Last-writer-wins registers: each field with its (hlc, origin) stamp. */
    "CREATE TABLE catalog(sku TEXT PRIMARY KEY,"
    "  name TEXT NOT NULL DEFAULT '', name_ts INTEGER NOT NULL DEFAULT 0,"
    "  name_origin TEXT NOT NULL DEFAULT '',"
    "  barcode TEXT NOT NULL DEFAULT '', barcode_ts INTEGER NOT NULL DEFAULT 0,"
    "  barcode_origin TEXT NOT NULL DEFAULT '',"
    "  price INTEGER NOT NULL DEFAULT 0, price_ts INTEGER NOT NULL DEFAULT 0,"
    "  price_origin TEXT NOT NULL DEFAULT '',"
    "  tax_class TEXT NOT NULL DEFAULT '', tax_class_ts INTEGER NOT NULL DEFAULT 0,"
    "  tax_class_origin TEXT NOT NULL DEFAULT '') WITHOUT ROWID;"
    "CREATE INDEX catalog_barcode ON catalog(barcode) WHERE barcode <> '';"
    "CREATE TABLE settings(key TEXT PRIMARY KEY, value TEXT NOT NULL, ts INTEGER NOT NULL,"
    "  origin TEXT NOT NULL) WITHOUT ROWID;"
    /* PN-Counter per SKU: one (P, N) pair per contributing origin. */
    "CREATE TABLE stock(sku TEXT NOT NULL, origin INTEGER NOT NULL,"
    "  p INTEGER NOT NULL DEFAULT 0, n INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY(sku, origin)) WITHOUT ROWID;"
    /* Sales: created once; voids are tombstones (void_count). Lines are not
     * copied here: they are decoded from the sale's operation. */
    "CREATE TABLE sales(origin INTEGER NOT NULL, seq INTEGER NOT NULL, hlc INTEGER NOT NULL,"
    "  total INTEGER NOT NULL, void_count INTEGER NOT NULL DEFAULT 0,"
    "  refunded INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(origin, seq)) WITHOUT ROWID;"
    /* Per sale and SKU once anything came back: units sold, units returned
     * by all return operations, and units credited back to stock. */
    "CREATE TABLE sale_returns(origin INTEGER NOT NULL, seq INTEGER NOT NULL,"
    "  sku TEXT NOT NULL, sold INTEGER NOT NULL, returned INTEGER NOT NULL DEFAULT 0,"
    "  credited INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(origin, seq, sku)) WITHOUT ROWID;"
    /* Cash drawer PN-Counter: cash in (P) and out (N) per terminal. */
    "CREATE TABLE drawer(origin INTEGER PRIMARY KEY, p INTEGER NOT NULL DEFAULT 0,"
    "  n INTEGER NOT NULL DEFAULT 0);",

    /* 2: sales listed by time */
    "CREATE INDEX sales_by_hlc ON sales(hlc);",

    /* 3: cashiers (replicated, last writer wins per cashier), PIN lockouts
     * (this terminal's own), and the audit log of supervised actions */
    "CREATE TABLE cashiers(id TEXT PRIMARY KEY, name TEXT NOT NULL, role INTEGER NOT NULL,"
    "  pin_hash TEXT NOT NULL, ts INTEGER NOT NULL, origin TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE pin_lock(id TEXT PRIMARY KEY, failures INTEGER NOT NULL DEFAULT 0,"
    "  locked_until_ms INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
    "CREATE TABLE audit(origin INTEGER NOT NULL, seq INTEGER NOT NULL, hlc INTEGER NOT NULL,"
    "  action TEXT NOT NULL, cashier TEXT NOT NULL, supervisor TEXT NOT NULL,"
    "  subject TEXT NOT NULL, detail TEXT NOT NULL, PRIMARY KEY(origin, seq)) WITHOUT ROWID;"
    "CREATE INDEX audit_by_hlc ON audit(hlc);",

    /* 4: no index of sales by time. Each origin's clock only grows, so its
     * sales are already in time order in the primary key (origin, seq):
     * the newest N are among each origin's last N (term_sales_recent).
     * The index cost more than anything else when applying a peer's batch
     * of sales: its entries interleave every terminal's sales by time, so
     * a batch from one origin touched a leaf page per sale. */
    "DROP INDEX IF EXISTS sales_by_hlc;",

    /* 5: the store's Raft group (src/raft): this member's hard state (term,
     * vote, commit index) and its log of store-level records. Local to the
     * terminal, never replicated as operations. */
    "CREATE TABLE raft_state(id INTEGER PRIMARY KEY CHECK(id = 1), term INTEGER NOT NULL,"
    "  vote TEXT NOT NULL, commit_index INTEGER NOT NULL);"
    "CREATE TABLE raft_log(idx INTEGER PRIMARY KEY, term INTEGER NOT NULL,"
    "  type INTEGER NOT NULL, data BLOB NOT NULL);",

    /* 6: payments (docs/PAYMENTS.md).
     * card_payments: every card payment and card refund of the store, from
     * the sales, voids and returns that carry them and from the outcome
     * operations (replicated projection). kind 1 payment, 2 refund.
     * drawer_events: floats, drops and counts of every drawer.
     * pay_local: this terminal's own dealings with the processor, a state
     * machine per payment or refund (term.h, "Card payments"); never
     * replicated. blob is the card data sealed for the processor, kept only
     * until the processor has decided. */
    "CREATE TABLE card_payments(id TEXT PRIMARY KEY, kind INTEGER NOT NULL DEFAULT 1,"
    "  payment_id TEXT NOT NULL DEFAULT '', sale_origin TEXT NOT NULL DEFAULT '',"
    "  sale_seq INTEGER NOT NULL DEFAULT 0, hlc INTEGER NOT NULL DEFAULT 0,"
    "  amount INTEGER NOT NULL DEFAULT 0, token TEXT NOT NULL DEFAULT '',"
    "  brand TEXT NOT NULL DEFAULT '', last4 TEXT NOT NULL DEFAULT '',"
    "  mode INTEGER NOT NULL DEFAULT 0, auth_code TEXT NOT NULL DEFAULT '',"
    "  outcome INTEGER NOT NULL DEFAULT 0, reason TEXT NOT NULL DEFAULT '',"
    "  outcome_hlc INTEGER NOT NULL DEFAULT 0, outcome_origin TEXT NOT NULL DEFAULT '',"
    "  refunded INTEGER NOT NULL DEFAULT 0, resolved_by TEXT NOT NULL DEFAULT '',"
    "  resolved_note TEXT NOT NULL DEFAULT '', resolved_hlc INTEGER NOT NULL DEFAULT 0,"
    "  resolved_origin TEXT NOT NULL DEFAULT '') WITHOUT ROWID;"
    "CREATE TABLE drawer_events(origin INTEGER NOT NULL, seq INTEGER NOT NULL,"
    "  hlc INTEGER NOT NULL, action INTEGER NOT NULL, amount INTEGER NOT NULL,"
    "  delta INTEGER NOT NULL, cashier TEXT NOT NULL, PRIMARY KEY(origin, seq)) WITHOUT ROWID;"
    "CREATE TABLE pay_local(n INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,"
    "  kind INTEGER NOT NULL, state INTEGER NOT NULL, amount INTEGER NOT NULL,"
    "  token TEXT NOT NULL DEFAULT '', payment_id TEXT NOT NULL DEFAULT '',"
    "  blob BLOB, created_ms INTEGER NOT NULL, stored_ms INTEGER NOT NULL DEFAULT 0,"
    "  attempts INTEGER NOT NULL DEFAULT 0, result TEXT NOT NULL DEFAULT '',"
    "  last_error TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX pay_local_due ON pay_local(state, n);"
    /* The offline limits are checked on every offline card payment: the
     * totals come from this index alone, never from the rows (each holds
     * a sealed blob). */
    "CREATE INDEX pay_local_saf ON pay_local(state, token, amount, stored_ms);",

    /* 7: the cloud (docs/CLOUD.md): what the cloud acknowledged, per origin,
     * and the downlink cursor applied, both as committed by the store's
     * Raft group (storerec records); every member keeps the same. */
    ("CREATE TABLE cloud_acked(origin TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;"
     "CREATE TABLE cloud_state(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"),

    /* 8: local compaction (docs/CLOUD.md, "Compaction"). Operations up to
     * an origin's base_seq were dropped once the cloud and every terminal
     * held them; base_hash is the hash of the last one dropped, where the
     * chain of what is left continues (NULL: nothing dropped). */
    "ALTER TABLE origins ADD COLUMN base_seq INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE origins ADD COLUMN base_hash BLOB;"
    /* The Raft log's compacted prefix: the snapshot of the applied store
     * records (what a follower too far behind receives), its index, term
     * and configuration (member ids joined by ','). */
    "CREATE TABLE raft_snapshot(id INTEGER PRIMARY KEY CHECK(id = 1), idx INTEGER NOT NULL,"
    "  term INTEGER NOT NULL, conf TEXT NOT NULL, data BLOB NOT NULL);",
};

int store_error(store *s, int rc, const char *what, kassa_err *err)
{
    const char *msg = s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);
    /* A full disk also surfaces as an I/O error (sizing the WAL index,
     * writing the WAL): the system errno tells. */
    int sys_errno = s->db ? sqlite3_system_errno(s->db) : 0;
    if ((rc & 0xff) == SQLITE_IOERR && (sys_errno == ENOSPC || sys_errno == EDQUOT))
        rc = SQLITE_FULL;
    switch (rc & 0xff) {
    case SQLITE_FULL:
        return kassa_fail(err, KASSA_EFULL, "%s: storage full (%s); nothing was written", what,
                          msg);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return kassa_fail(err, KASSA_EBUSY, "%s: database busy (%s)", what, msg);
    case SQLITE_NOMEM:
        return kassa_fail(err, KASSA_ENOMEM, "%s: out of memory", what);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return kassa_fail(err, KASSA_ECORRUPT, "%s: database is corrupt (%s)", what, msg);
    default:
        return kassa_fail(err, KASSA_EIO, "%s: %s", what, msg);
    }
}

int store_exec(store *s, const char *sql, kassa_err *err)
{
    char *emsg = NULL;
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, &emsg);
    sqlite3_free(emsg);
    if (rc != SQLITE_OK)
        return store_error(s, rc, "database", err);
    return KASSA_OK;
}

int store_schema_version(store *s, int *out, kassa_err *err)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return store_error(s, rc, "schema version", err);
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(st);
        return store_error(s, rc, "schema version", err);
    }
    *out = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return KASSA_OK;
}

static int migrate(store *s, int target, kassa_err *err)
{
    int version;
    int rc = store_schema_version(s, &version, err);
    if (rc != KASSA_OK)
        return rc;
    if (version > STORE_SCHEMA_VERSION)
        return kassa_fail(err, KASSA_EVERSION,
                          "database %s has schema version %d, newer than this kassa supports "
                          "(%d): upgrade kassa to open it",
                          s->path, version, STORE_SCHEMA_VERSION);
    for (int v = version + 1; v <= target; v++) {
        /* Each step is one transaction with its version bump: a crash
         * mid-migration leaves the previous version intact. */
        char bump[64];
        snprintf(bump, sizeof bump, "PRAGMA user_version=%d;", v);
        if ((rc = store_begin(s, err)) != KASSA_OK)
            return rc;
        if ((rc = store_exec(s, MIGRATIONS[v - 1], err)) != KASSA_OK ||
            (rc = store_exec(s, bump, err)) != KASSA_OK) {
            store_rollback(s);
            return rc;
        }
        if ((rc = store_commit(s, err)) != KASSA_OK)
            return rc;
    }
    return KASSA_OK;
}

int store_open_at(store *s, const char *path, int target_version, kassa_err *err)
{
    memset(s, 0, sizeof *s);
    if (target_version < 1 || target_version > STORE_SCHEMA_VERSION)
        return kassa_fail(err, KASSA_EINVAL, "no schema version %d", target_version);
    if (strlen(path) >= sizeof s->path)
        return kassa_fail(err, KASSA_EINVAL, "database path too long");
    snprintf(s->path, sizeof s->path, "%s", path);
    int rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        kassa_fail(err, KASSA_EIO, "cannot open database %s: %s", path, sqlite3_errstr(rc));
        store_close(s);
        return err ? err->code : KASSA_EIO;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, 5000);
    /* Only takes effect while the database is still empty. */
    store_exec(s, "PRAGMA page_size=" STORE_PAGE_SIZE_STR ";", NULL);
    /* journal_mode answers with a row, so it goes through exec's callback-
     * free path and is then checked. */
    rc = store_exec(
        s,
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=OFF;"
        "PRAGMA trusted_schema=OFF; PRAGMA journal_size_limit=" STORE_WAL_SIZE_LIMIT_BYTES_STR ";"
        "PRAGMA wal_autocheckpoint=" STORE_WAL_AUTOCHECKPOINT_PAGES_STR ";",
        err);
    if (rc == KASSA_OK) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode", -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW &&
            strcmp((const char *)sqlite3_column_text(st, 0), "wal") != 0)
            rc = kassa_fail(err, KASSA_EIO, "database %s: cannot enable WAL mode", path);
        sqlite3_finalize(st);
    }
    if (rc == KASSA_OK)
        rc = migrate(s, target_version, err);
    if (rc != KASSA_OK) {
        store_close(s);
        return rc;
    }
    return KASSA_OK;
}

int store_open(store *s, const char *path, kassa_err *err)
{
    return store_open_at(s, path, STORE_SCHEMA_VERSION, err);
}

void store_close(store *s)
{
    for (size_t i = 0; i < s->n_cached; i++)
        sqlite3_finalize(s->cache[i].stmt);
    s->n_cached = 0;
    if (s->db) {
        if (s->tx_depth > 0)
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_close(s->db);
    }
    s->db = NULL;
}

sqlite3_stmt *store_stmt(store *s, const char *sql, kassa_err *err)
{
    for (size_t i = 0; i < s->n_cached; i++) {
        if (s->cache[i].sql == sql) {
            sqlite3_stmt *st = s->cache[i].stmt;
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
            return st;
        }
    }
    if (s->n_cached >= STORE_STMT_CACHE_MAX) {
        kassa_fail(err, KASSA_EIO, "statement cache full (raise STORE_STMT_CACHE_MAX)");
        return NULL;
    }
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
    if (rc != SQLITE_OK) {
        store_error(s, rc, "prepare", err);
        return NULL;
    }
    s->cache[s->n_cached].sql = sql;
    s->cache[s->n_cached].stmt = st;
    s->n_cached++;
    return st;
}

int store_step_done(store *s, sqlite3_stmt *st, const char *what, kassa_err *err)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return store_error(s, rc, what, err);
    return KASSA_OK;
}

/* Transaction control runs once per action: cached statements, not
 * sqlite3_exec's parse each time. */
static int tx_step(store *s, const char *sql, kassa_err *err)
{
    sqlite3_stmt *st = store_stmt(s, sql, err);
    if (!st)
        return err->code;
    return store_step_done(s, st, "transaction", err);
}

int store_begin(store *s, kassa_err *err)
{
    static const char BEGIN[] = "BEGIN IMMEDIATE";
    static const char SAVEPOINT[] = "SAVEPOINT nested";
    int rc = tx_step(s, s->tx_depth == 0 ? BEGIN : SAVEPOINT, err);
    if (rc == KASSA_OK)
        s->tx_depth++;
    return rc;
}

int store_commit(store *s, kassa_err *err)
{
    static const char COMMIT[] = "COMMIT";
    static const char RELEASE[] = "RELEASE nested";
    if (s->tx_depth <= 0)
        return kassa_fail(err, KASSA_EINVAL, "commit without a transaction");
    int rc = tx_step(s, s->tx_depth == 1 ? COMMIT : RELEASE, err);
    if (rc != KASSA_OK) {
        /* A failed COMMIT (disk full, I/O) may leave the transaction open:
         * roll it back so the database holds exactly what it held before. */
        store_rollback(s);
        return rc;
    }
    s->tx_depth--;
    return KASSA_OK;
}

void store_rollback(store *s)
{
    if (s->tx_depth <= 0)
        return;
    if (s->tx_depth == 1) {
        if (!sqlite3_get_autocommit(s->db))
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    } else {
        sqlite3_exec(s->db, "ROLLBACK TO nested; RELEASE nested", NULL, NULL, NULL);
    }
    s->tx_depth--;
}

int store_checkpoint(store *s, kassa_err *err)
{
    int rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY)
        return store_error(s, rc, "checkpoint", err);
    return KASSA_OK;
}

int store_integrity_check(store *s, char *out, size_t out_size, kassa_err *err)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(s->db, "PRAGMA integrity_check", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return store_error(s, rc, "integrity check", err);
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(st);
        return store_error(s, rc, "integrity check", err);
    }
    snprintf(out, out_size, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return KASSA_OK;
}
