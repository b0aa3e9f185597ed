/*
 * store: the terminal's SQLite database: opening with the durability
 * pragmas, versioned schema migrations, a cache of prepared statements,
 * transactions, and mapping SQLite errors to kassa errors.
 *
 * Durability (DESIGN.md §2): WAL mode with synchronous=FULL, so a committed
 * transaction survives a crash or power cut.
 */
#ifndef KASSA_STORE_H
#define KASSA_STORE_H

#include "base/base.h"

#include <sqlite3.h>

/* The schema version this binary writes; migrations live in store.c. */
#define STORE_SCHEMA_VERSION 8
#define STORE_STMT_CACHE_MAX 128
/* Small pages: a sale touches ~8 b-tree pages (log, chain head, sale,
 * stock per line, drawer, index), and every touched page goes to the WAL
 * whole: with 1 KiB pages a sale writes ~9 KiB to the WAL instead of the
 * ~30 KiB of SQLite's 4 KiB default (bench/commit: p50 -8 %, p99 -15 %). */
#define STORE_PAGE_SIZE_STR "1024"
/* Copying the WAL back into the database (a checkpoint) costs several
 * commits' worth of I/O. SQLite's default runs it inside whichever commit
 * crosses 1000 pages, so one sale in ~130 paid for it. kassa checkpoints
 * when idle (store_checkpoint); this larger automatic threshold is only the
 * backstop for a terminal that is never idle. */
#define STORE_WAL_AUTOCHECKPOINT_PAGES_STR "20000"
/* Above the backstop's ~20 MB, so a wrapped WAL is rewritten in place rather
 * than truncated and grown again (growing costs more per commit). */
#define STORE_WAL_SIZE_LIMIT_BYTES_STR "67108864"

typedef struct store {
    sqlite3 *db;
    char path[4096];
    struct {
        const char *sql; /* identity: the address of a static string */
        sqlite3_stmt *stmt;
    } cache[STORE_STMT_CACHE_MAX];
    size_t n_cached;
    int tx_depth; /* 0: no transaction; 1: BEGIN; >1: savepoints */
} store;

/* Opens (creating if absent) and migrates to STORE_SCHEMA_VERSION. A
 * database written by a newer kassa is refused with KASSA_EVERSION. */
int store_open(store *s, const char *path, kassa_err *err);
/* As store_open but migrates only up to target_version: for upgrade tests. */
int store_open_at(store *s, const char *path, int target_version, kassa_err *err);
void store_close(store *s);
int store_schema_version(store *s, int *out, kassa_err *err);

/* Returns a cached prepared statement for a static SQL string, reset and
 * with bindings cleared. NULL on error (err set). */
sqlite3_stmt *store_stmt(store *s, const char *sql, kassa_err *err);

/* Maps the connection's last error for `what` into err. */
int store_error(store *s, int rc, const char *what, kassa_err *err);

/* Runs a statement without results (rows are an error). */
int store_exec(store *s, const char *sql, kassa_err *err);

/* Nested transactions: the outermost is BEGIN IMMEDIATE (take the write
 * lock up front: no deadlock between two writers), inner ones are
 * savepoints so one failed action inside a batch rolls back alone. */
int store_begin(store *s, kassa_err *err);
int store_commit(store *s, kassa_err *err);
void store_rollback(store *s);

/* sqlite3_step for a statement expected to finish with SQLITE_DONE. */
int store_step_done(store *s, sqlite3_stmt *st, const char *what, kassa_err *err);

/* Passive checkpoint: copies what it can of the WAL into the database
 * without waiting for readers. For idle moments. */
int store_checkpoint(store *s, kassa_err *err);

int store_integrity_check(store *s, char *out, size_t out_size, kassa_err *err);

#endif
