/*
 * migrate.c: the versioned schema (docs/CLOUD.md, "Schema").
 *
 * Migrations run in order, each in its own transaction that also records
 * its version in schema_migrations, all under one session advisory lock:
 * instances starting together wait for each other, and the later ones
 * find the versions applied and do nothing. A database with a version
 * this program does not know was migrated by a newer kassa-cloud:
 * refused (KASSA_EVERSION).
 *
 * Every table's key leads with store_id (docs/SCALING.md).
 */
#include "cloudd/cloudd.h"

#include "jlog/jlog.h"

#include <stdio.h>
#include <stdlib.h>

/* pg_advisory_lock key: "kassa-cloud migrate" */
#define MIGRATE_LOCK_KEY "7302741"

typedef struct migration {
    int version;
    const char *what;
    const char *sql;
} migration;

static const migration MIGRATIONS[] = {
    {1, "operations, heads, projections, changes",
     /* the log: one row per operation, partitioned by store */
     "CREATE TABLE ops ("
     " store_id text NOT NULL, origin text NOT NULL, seq bigint NOT NULL,"
     " hlc bigint NOT NULL, kind smallint NOT NULL, payload bytea NOT NULL, hash bytea NOT NULL,"
     " PRIMARY KEY (store_id, origin, seq)) PARTITION BY HASH (store_id);"
     "DO $$ BEGIN FOR i IN 0..15 LOOP"
     " EXECUTE format('CREATE TABLE ops_p%s PARTITION OF ops"
     " FOR VALUES WITH (MODULUS 16, REMAINDER %s)', i, i);"
     " END LOOP; END $$;"
     /* the version vector: the last operation held per origin */
     "CREATE TABLE heads ("
     " store_id text NOT NULL, origin text NOT NULL, seq bigint NOT NULL,"
     " hash bytea NOT NULL, hlc bigint NOT NULL, PRIMARY KEY (store_id, origin));"
     "CREATE TABLE stock ("
     " store_id text NOT NULL, sku text NOT NULL, qty bigint NOT NULL,"
     " PRIMARY KEY (store_id, sku));"
     "CREATE INDEX stock_sku ON stock (sku);"
     "CREATE TABLE sales_daily ("
     " store_id text NOT NULL, day date NOT NULL, sales bigint NOT NULL,"
     " total_minor bigint NOT NULL, refunds_minor bigint NOT NULL DEFAULT 0,"
     " PRIMARY KEY (store_id, day));"
     "CREATE TABLE review_items ("
     " store_id text NOT NULL, kind text NOT NULL, ref text NOT NULL, detail jsonb NOT NULL,"
     " created_at timestamptz NOT NULL DEFAULT now(),"
     " updated_at timestamptz NOT NULL DEFAULT now(),"
     " PRIMARY KEY (store_id, kind, ref));"
     /* What voids and returns credited back per sale and SKU, so that a
      * sale voided twice, or voided and returned, credits its units once
      * (the terminals' merge rule, ARCHITECTURE.md). Rows exist only for
      * sales with a void or a return; known is false while the sale
      * itself has not arrived. */
     "CREATE TABLE refunded_sales ("
     " store_id text NOT NULL, origin text NOT NULL, seq bigint NOT NULL,"
     " known boolean NOT NULL, voided boolean NOT NULL,"
     " PRIMARY KEY (store_id, origin, seq));"
     "CREATE INDEX refunded_sales_unknown ON refunded_sales (store_id) WHERE NOT known;"
     "CREATE TABLE refunded_lines ("
     " store_id text NOT NULL, origin text NOT NULL, seq bigint NOT NULL, sku text NOT NULL,"
     " sold bigint NOT NULL, returned bigint NOT NULL, credited bigint NOT NULL,"
     " PRIMARY KEY (store_id, origin, seq, sku));"
     /* the downlink: store_id '*' for chain-wide changes */
     "CREATE TABLE changes ("
     " cursor bigserial NOT NULL, store_id text NOT NULL, kind text NOT NULL, key text NOT NULL,"
     " body jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now(),"
     " PRIMARY KEY (store_id, cursor));"
     "CREATE INDEX changes_cursor ON changes (cursor);"},
};

static int applied(cd_db *db, int version, bool *yes, kassa_err *err)
{
    char v[16];
    snprintf(v, sizeof v, "%d", version);
    const char *params[] = {v};
    PGresult *res = cd_db_query(db, "SELECT 1 FROM schema_migrations WHERE version = $1", 1, params,
                                NULL, NULL, false, err);
    if (!res)
        return KASSA_EIO;
    *yes = PQntuples(res) > 0;
    PQclear(res);
    return KASSA_OK;
}

static int newest_known(cd_db *db, kassa_err *err)
{
    PGresult *res = cd_db_query(db, "SELECT coalesce(max(version), 0) FROM schema_migrations", 0,
                                NULL, NULL, NULL, false, err);
    if (!res)
        return KASSA_EIO;
    int newest = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    int ours = MIGRATIONS[KASSA_ARRAY_LEN(MIGRATIONS) - 1].version;
    if (newest > ours)
        return kassa_fail(err, KASSA_EVERSION,
                          "the database has schema version %d; this kassa-cloud knows up to %d",
                          newest, ours);
    return KASSA_OK;
}

static int apply(cd_db *db, const migration *m, kassa_err *err)
{
    char v[16];
    snprintf(v, sizeof v, "%d", m->version);
    const char *params[] = {v};
    int rc = cd_db_exec(db, "BEGIN", err);
    if (rc == KASSA_OK)
        rc = cd_db_exec(db, m->sql, err);
    if (rc == KASSA_OK)
        rc = cd_db_run(db, "INSERT INTO schema_migrations (version) VALUES ($1)", 1, params, NULL,
                       NULL, err);
    if (rc == KASSA_OK)
        rc = cd_db_exec(db, "COMMIT", err);
    if (rc != KASSA_OK) {
        cd_db_rollback(db);
        return kassa_fail(err, rc, "migration %d (%s): %s", m->version, m->what, err->msg);
    }
    jlog(JLOG_INFO, CD_COMPONENT, "migrated", "{s:i,s:s}", "version", m->version, "what", m->what);
    return KASSA_OK;
}

int cd_migrate(cd_db *db, kassa_err *err)
{
    int rc = cd_db_exec(db, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", err);
    if (rc != KASSA_OK)
        return rc;
    rc = cd_db_exec(db,
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " version integer PRIMARY KEY,"
                    " applied_at timestamptz NOT NULL DEFAULT now())",
                    err);
    if (rc == KASSA_OK)
        rc = newest_known(db, err);
    for (size_t i = 0; rc == KASSA_OK && i < KASSA_ARRAY_LEN(MIGRATIONS); i++) {
        bool done = false;
        rc = applied(db, MIGRATIONS[i].version, &done, err);
        if (rc == KASSA_OK && !done)
            rc = apply(db, &MIGRATIONS[i], err);
    }
    kassa_err unlock_err;
    if (cd_db_exec(db, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")", &unlock_err) != KASSA_OK)
        jlog(JLOG_WARN, CD_COMPONENT, "migrate_unlock_failed", "{s:s}", "error", unlock_err.msg);
    return rc;
}
