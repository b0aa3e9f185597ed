/* db.c: the libpq connection, statements, array literals, binary columns. */
#include "cloudd/cloudd.h"

#include "jlog/jlog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every session's settings. */
static const char SESSION_SQL[] = "SET application_name = 'kassa-cloud';"
                                  "SET statement_timeout = '60s';"
                                  "SET lock_timeout = '30s';"
                                  "SET TIME ZONE 'UTC';";

static void keep_state(cd_db *db, const PGresult *res)
{
    const char *s = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    snprintf(db->sqlstate, sizeof db->sqlstate, "%s", s ? s : "");
}

/* The first line of libpq's message, for a one-line kassa_err. */
static int fail_pq(cd_db *db, const PGresult *res, kassa_err *err)
{
    const char *m = res ? PQresultErrorMessage(res) : NULL;
    if (!m || !*m)
        m = db->conn ? PQerrorMessage(db->conn) : "no connection";
    size_t n = strcspn(m, "\n");
    keep_state(db, res);
    return kassa_fail(err, KASSA_EIO, "database: %.*s", (int)(n < 200 ? n : 200), m);
}

static int start_session(cd_db *db, kassa_err *err)
{
    return cd_db_exec(db, SESSION_SQL, err);
}

int cd_db_open(cd_db *db, const char *conninfo, kassa_err *err)
{
    db->conninfo = conninfo;
    db->sqlstate[0] = '\0';
    /* A default connect timeout: the loop is single-threaded, and a
     * database host that does not answer must not block it for minutes. A
     * connect_timeout in --pg comes later in the list and wins. */
    static const char *const KEYS[] = {"connect_timeout", "dbname", NULL};
    const char *values[] = {"5", conninfo, NULL};
    db->conn = PQconnectdbParams(KEYS, values, 1);
    if (!db->conn)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory connecting to PostgreSQL");
    if (PQstatus(db->conn) != CONNECTION_OK) {
        const char *m = PQerrorMessage(db->conn);
        size_t n = strcspn(m, "\n");
        return kassa_fail(err, KASSA_EIO, "cannot connect to PostgreSQL: %.*s",
                          (int)(n < 200 ? n : 200), m);
    }
    return start_session(db, err);
}

void cd_db_close(cd_db *db)
{
    if (db->conn)
        PQfinish(db->conn);
    db->conn = NULL;
}

int cd_db_ready(cd_db *db, kassa_err *err)
{
    if (!db->conn)
        return cd_db_open(db, db->conninfo, err);
    if (PQstatus(db->conn) == CONNECTION_OK)
        return KASSA_OK;
    PQreset(db->conn);
    if (PQstatus(db->conn) != CONNECTION_OK) {
        jlog(JLOG_WARN, CD_COMPONENT, "db_unreachable", NULL);
        return kassa_fail(err, KASSA_EIO, "the database is unreachable");
    }
    jlog(JLOG_INFO, CD_COMPONENT, "db_reconnected", NULL);
    return start_session(db, err);
}

PGresult *cd_db_query(cd_db *db, const char *sql, int n, const char *const *values,
                      const int *lengths, const int *formats, bool result_binary, kassa_err *err)
{
    db->sqlstate[0] = '\0';
    PGresult *res =
        PQexecParams(db->conn, sql, n, NULL, values, lengths, formats, result_binary ? 1 : 0);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
        return res;
    fail_pq(db, res, err);
    PQclear(res);
    return NULL;
}

int cd_db_run(cd_db *db, const char *sql, int n, const char *const *values, const int *lengths,
              const int *formats, kassa_err *err)
{
    PGresult *res = cd_db_query(db, sql, n, values, lengths, formats, false, err);
    if (!res)
        return err ? err->code : KASSA_EIO;
    PQclear(res);
    return KASSA_OK;
}

int cd_db_exec(cd_db *db, const char *sql, kassa_err *err)
{
    db->sqlstate[0] = '\0';
    PGresult *res = PQexec(db->conn, sql);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    int rc = KASSA_OK;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        rc = fail_pq(db, res, err);
    PQclear(res);
    return rc;
}

void cd_db_rollback(cd_db *db)
{
    if (!db->conn || PQtransactionStatus(db->conn) == PQTRANS_IDLE)
        return;
    char state[sizeof db->sqlstate];
    memcpy(state, db->sqlstate, sizeof state); /* the reason of the failure, kept */
    kassa_err err;
    if (cd_db_exec(db, "ROLLBACK", &err) != KASSA_OK)
        jlog(JLOG_WARN, CD_COMPONENT, "rollback_failed", "{s:s}", "error", err.msg);
    memcpy(db->sqlstate, state, sizeof state);
}

bool cd_db_retryable(const cd_db *db)
{
    /* 40001 serialization_failure, 40P01 deadlock_detected */
    return strcmp(db->sqlstate, "40001") == 0 || strcmp(db->sqlstate, "40P01") == 0;
}

bool cd_db_lost(const cd_db *db)
{
    /* class 08: connection exceptions; or libpq saw the socket close */
    return !db->conn || PQstatus(db->conn) != CONNECTION_OK || strncmp(db->sqlstate, "08", 2) == 0;
}

int64_t cd_col_i64(const PGresult *res, int row, int col)
{
    const uint8_t *p = (const uint8_t *)PQgetvalue(res, row, col);
    int len = PQgetlength(res, row, col);
    uint64_t v = 0;
    /* int8 is 8 bytes big-endian, int4 4 (a count(*) is int8 too) */
    for (int i = 0; i < len && i < 8; i++)
        v = v << 8 | p[i];
    if (len == 4)
        return (int32_t)(uint32_t)v;
    return (int64_t)v;
}

const uint8_t *cd_col_bytes(const PGresult *res, int row, int col, size_t *len)
{
    *len = (size_t)PQgetlength(res, row, col);
    return (const uint8_t *)PQgetvalue(res, row, col);
}

/* ---- rows as JSON ---- */

/* pg_type oids of the columns turned into JSON numbers, booleans and
 * parsed JSON; anything else is a string */
enum {
    OID_BOOL = 16,
    OID_INT8 = 20,
    OID_INT2 = 21,
    OID_INT4 = 23,
    OID_JSON = 114,
    OID_JSONB = 3802
};

static json_t *cell_json(const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return json_null();
    const char *v = PQgetvalue(res, row, col);
    switch (PQftype(res, col)) {
    case OID_BOOL:
        return json_boolean(v[0] == 't');
    case OID_INT2:
    case OID_INT4:
    case OID_INT8:
        return json_integer(strtoll(v, NULL, 10));
    case OID_JSON:
    case OID_JSONB:
        return json_loads(v, JSON_DECODE_ANY, NULL);
    default:
        return cd_json_text(v);
    }
}

int cd_db_rows_json(cd_db *db, const char *sql, int n, const char *const *values, json_t **out,
                    kassa_err *err)
{
    PGresult *res = cd_db_query(db, sql, n, values, NULL, NULL, false, err);
    if (!res)
        return KASSA_EIO;
    json_t *rows = json_array();
    for (int i = 0; rows && i < PQntuples(res); i++) {
        json_t *obj = json_object();
        for (int c = 0; obj && c < PQnfields(res); c++)
            if (json_object_set_new(obj, PQfname(res, c), cell_json(res, i, c)) != 0) {
                json_decref(obj);
                obj = NULL;
            }
        if (!obj || json_array_append_new(rows, obj) != 0) {
            json_decref(rows);
            rows = NULL;
        }
    }
    PQclear(res);
    if (!rows)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory");
    *out = rows;
    return KASSA_OK;
}

/* ---- array literals ---- */

void cd_array_begin(kbuf *b)
{
    kbuf_reset(b);
    kbuf_put_u8(b, '{');
}

static void separator(kbuf *b)
{
    if (b->len > 1)
        kbuf_put_u8(b, ',');
}

void cd_array_text(kbuf *b, const char *s)
{
    separator(b);
    kbuf_put_u8(b, '"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            kbuf_put_u8(b, '\\');
        kbuf_put_u8(b, (uint8_t)*s);
    }
    kbuf_put_u8(b, '"');
}

void cd_array_i64(kbuf *b, int64_t v)
{
    char num[24];
    int n = snprintf(num, sizeof num, "%lld", (long long)v);
    separator(b);
    kbuf_put(b, num, (size_t)n);
}

/* A literal being built never ends in NUL (items are C strings): one that
 * does is closed already. */
static bool closed(const kbuf *b)
{
    return b->len > 0 && b->data[b->len - 1] == '\0';
}

int cd_array_end(kbuf *b, kassa_err *err)
{
    if (!closed(b)) {
        kbuf_put_u8(b, '}');
        kbuf_put_u8(b, '\0');
    }
    if (b->oom)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory");
    return KASSA_OK;
}

void cd_arrays_begin(kbuf *arrays, int n)
{
    for (int i = 0; i < n; i++)
        cd_array_begin(&arrays[i]);
}

PGresult *cd_db_query_arrays(cd_db *db, const char *sql, const char *store, kbuf *arrays, int n,
                             bool result_binary, kassa_err *err)
{
    const char *params[1 + CD_ARRAYS_MAX];
    if (n > CD_ARRAYS_MAX) {
        kassa_fail(err, KASSA_EINVAL, "internal: %d arrays in one statement", n);
        return NULL;
    }
    params[0] = store;
    for (int i = 0; i < n; i++) {
        if (cd_array_end(&arrays[i], err) != KASSA_OK)
            return NULL;
        params[1 + i] = (const char *)arrays[i].data;
    }
    return cd_db_query(db, sql, 1 + n, params, NULL, NULL, result_binary, err);
}

int cd_db_run_arrays(cd_db *db, const char *sql, const char *store, kbuf *arrays, int n,
                     kassa_err *err)
{
    PGresult *res = cd_db_query_arrays(db, sql, store, arrays, n, false, err);
    if (!res)
        return err->code;
    PQclear(res);
    return KASSA_OK;
}
