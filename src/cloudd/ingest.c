/*
 * ingest.c: POST /v1/stores/{store}/ops, all or nothing (docs/CLOUD.md,
 * "Ingest: all or nothing").
 *
 * The body is one of:
 *  - application/octet-stream (or no Content-Type): one wire frame of type
 *    OpsBatch (src/wire), what the store side sends;
 *  - application/x-kassa-export: an export file (oplog.h, "export files"),
 *    what `kassa export` writes; for operators and the tests. Its store id
 *    must be the path's store. It is checked as strictly: the file's
 *    checksum and every op by oplog_file_parse, and here the hash chain of
 *    every op after the first of each origin (which wire_decode_ops does
 *    for frames).
 *
 * Then the operations are sorted by (origin, seq); each origin's must be
 * contiguous and chained inside the batch. In one transaction, each
 * origin's head row is locked (created first, for a new origin, so that two
 * instances ingesting the same new origin queue on it), operations at or
 * below the head must be byte-identical to the stored ones, the first new
 * one must be head + 1 and continue the head's hash. The new ones are
 * COPYed (binary) straight into ops (the locked heads make a conflict
 * impossible), heads advance, the projections follow (projections.c), and the
 * version vector answered is read before COMMIT. Any refusal rolls all of
 * it back. A deadlock, a serialization failure or a lost connection is
 * retried (twice; the batch is idempotent).
 *
 * Statuses: 400 undecodable bytes (a frame or file that fails its checks,
 * the wrong frame type, an export of another store, an op twice in one
 * batch), 401/403 the client certificate (http.c, tls.c), 409 a gap, a
 * broken chain or a fork, 413 too large, 415 another content type.
 */
#include "cloudd/cloudd.h"

#include "jlog/jlog.h"
#include "wire/wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define INGEST_TRIES 3

static const char CT_WIRE[] = "application/octet-stream";
static const char CT_EXPORT[] = "application/x-kassa-export";

/* The decoded body: ops borrowed from one of the two owners. */
typedef struct batch {
    wire_ops wire;
    oplog_file file;
    const oplog_op *ops;
    size_t n_ops;
} batch;

/* One origin's operations in the sorted batch. */
typedef struct run {
    const char *origin;
    size_t first, n; /* sorted[first .. first + n) */
    uint64_t lo, hi; /* their seqs */
    uint64_t head;   /* what the cloud held (0: nothing) */
    uint8_t head_hash[OPLOG_HASH_SIZE];
    size_t n_dup; /* the first n_dup are at or below the head */
} run;

typedef struct ingest {
    const char *store;
    const oplog_op **sorted;
    size_t n_ops;
    run *runs;
    size_t n_runs;
    size_t n_dup, n_new;
    kbuf arr[4]; /* array literals */
    kbuf copy;   /* the COPY data */
    /* microseconds spent, for the log: checking against the heads and
     * stored duplicates, storing the new ops, the projections, COMMIT */
    uint64_t check_us, store_us, project_us, commit_us;
} ingest;

/* ---- the body ---- */

static bool content_type_is(const char *have, const char *want)
{
    size_t n = strlen(want);
    return strncasecmp(have, want, n) == 0 && (have[n] == '\0' || have[n] == ';' || have[n] == ' ');
}

/* Answers and returns -1 when the body is not a batch of store. */
static int decode_body(cd_req *r, const char *store, batch *b)
{
    const uint8_t *data;
    size_t len;
    if (cd_req_body(r, &data, &len) != 0)
        return -1;
    const char *ct = evhttp_find_header(evhttp_request_get_input_headers(r->ev), "Content-Type");
    kassa_err err;
    if (ct && content_type_is(ct, CT_EXPORT)) {
        if (oplog_file_parse(data, len, &b->file, &err) != KASSA_OK) {
            cd_reply_error(r, 400, CD_E_BAD_REQUEST, "undecodable export file: %s", err.msg);
            return -1;
        }
        if (strcmp(b->file.store_id, store) != 0) {
            cd_reply_error(r, 400, CD_E_BAD_REQUEST, "the export file is of store %s, not %s",
                           b->file.store_id, store);
            return -1;
        }
        b->ops = b->file.ops;
        b->n_ops = b->file.n_ops;
        return 0;
    }
    if (ct && !content_type_is(ct, CT_WIRE)) {
        char shown[64];
        snprintf(shown, sizeof shown, "%s", ct);
        for (char *c = shown; *c; c++)
            if (*c < 0x20 || *c > 0x7e)
                *c = '?';
        cd_reply_error(r, 415, CD_E_MEDIA_TYPE, "Content-Type %s: send %s (a wire frame) or %s",
                       shown, CT_WIRE, CT_EXPORT);
        return -1;
    }
    wire_frame f;
    size_t used;
    int rc = len ? wire_frame_parse(data, len, &f, &used, &err) : WIRE_NEED_MORE;
    if (rc == WIRE_NEED_MORE) {
        cd_reply_error(r, 400, CD_E_BAD_REQUEST, "undecodable body: %s",
                       len ? "a truncated wire frame" : "empty");
        return -1;
    }
    if (rc != KASSA_OK) {
        cd_reply_error(r, 400, CD_E_BAD_REQUEST, "undecodable body: %s", err.msg);
        return -1;
    }
    if (used != len || f.type != WIRE_OPS_BATCH) {
        cd_reply_error(r, 400, CD_E_BAD_REQUEST, "undecodable body: %s",
                       used != len ? "bytes after the frame (one OpsBatch frame per request)"
                                   : "not an OpsBatch frame");
        return -1;
    }
    if (wire_decode_ops(store, f.payload, f.payload_len, &b->wire, &err) != KASSA_OK) {
        cd_reply_error(r, err.code == KASSA_ENOMEM ? 500 : 400,
                       err.code == KASSA_ENOMEM ? CD_E_INTERNAL : CD_E_BAD_REQUEST,
                       "undecodable body: %s", err.msg);
        return -1;
    }
    b->ops = b->wire.ops;
    b->n_ops = b->wire.n_ops;
    return 0;
}

/* ---- checks inside the batch ---- */

static int by_origin_seq(const void *a, const void *b)
{
    const oplog_op *x = *(const oplog_op *const *)a, *y = *(const oplog_op *const *)b;
    int c = strcmp(x->origin, y->origin);
    if (c)
        return c;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Sorts, splits into runs and checks each origin's ops follow each other:
 * KASSA_ECORRUPT (400) for an op twice, KASSA_ECONFLICT (409) for a gap
 * or a broken chain inside the batch. */
static int plan(ingest *in, const batch *b, kassa_err *err)
{
    in->n_ops = b->n_ops;
    in->sorted = malloc((b->n_ops ? b->n_ops : 1) * sizeof *in->sorted);
    in->runs = malloc((b->n_ops ? b->n_ops : 1) * sizeof *in->runs);
    if (!in->sorted || !in->runs)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory");
    for (size_t i = 0; i < b->n_ops; i++)
        in->sorted[i] = &b->ops[i];
    qsort(in->sorted, b->n_ops, sizeof *in->sorted, by_origin_seq);
    for (size_t i = 0; i < b->n_ops; i++) {
        const oplog_op *op = in->sorted[i], *prev = i ? in->sorted[i - 1] : NULL;
        if (prev && strcmp(prev->origin, op->origin) == 0) {
            run *ru = &in->runs[in->n_runs - 1];
            if (prev->seq == op->seq)
                return kassa_fail(err, KASSA_ECORRUPT, "%s/%llu is twice in the batch", op->origin,
                                  (unsigned long long)op->seq);
            if (op->seq != prev->seq + 1)
                return kassa_fail(err, KASSA_ECONFLICT,
                                  "gap inside the batch: %s/%llu follows %s/%llu", op->origin,
                                  (unsigned long long)op->seq, op->origin,
                                  (unsigned long long)prev->seq);
            /* wire_decode_ops checked the ops it marked chained */
            if (!op->chained && !oplog_hash_ok(in->store, prev->hash, op))
                return kassa_fail(err, KASSA_ECONFLICT,
                                  "broken hash chain inside the batch: %s/%llu does not "
                                  "continue %s/%llu",
                                  op->origin, (unsigned long long)op->seq, op->origin,
                                  (unsigned long long)prev->seq);
            ru->n++;
            ru->hi = op->seq;
            continue;
        }
        in->runs[in->n_runs++] =
            (run){.origin = op->origin, .first = i, .n = 1, .lo = op->seq, .hi = op->seq};
    }
    return KASSA_OK;
}

static int run_origin_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const run *)elem)->origin);
}

static run *find_run(ingest *in, const char *origin)
{
    return bsearch(origin, in->runs, in->n_runs, sizeof *in->runs, run_origin_cmp);
}

/* ---- the transaction ---- */

/* Locks (creating for new origins) the head of every origin in the batch
 * and reads it. */
static int lock_heads(cd_db *db, ingest *in, kassa_err *err)
{
    cd_array_begin(&in->arr[0]);
    for (size_t i = 0; i < in->n_runs; i++)
        cd_array_text(&in->arr[0], in->runs[i].origin);
    /* sorted, so that two instances lock in the same order */
    int rc = cd_db_run_arrays(db,
                              "INSERT INTO heads (store_id, origin, seq, hash, hlc)"
                              " SELECT $1, o, 0, ''::bytea, 0 FROM unnest($2::text[]) AS o"
                              " ORDER BY o COLLATE \"C\" ON CONFLICT DO NOTHING",
                              in->store, in->arr, 1, err);
    if (rc != KASSA_OK)
        return rc;
    PGresult *res = cd_db_query_arrays(db,
                                       "SELECT origin, seq, hash FROM heads"
                                       " WHERE store_id = $1 AND origin = ANY($2::text[])"
                                       " ORDER BY origin COLLATE \"C\" FOR UPDATE",
                                       in->store, in->arr, 1, true, err);
    if (!res)
        return KASSA_EIO;
    for (int i = 0; i < PQntuples(res); i++) {
        run *ru = find_run(in, PQgetvalue(res, i, 0));
        size_t hlen;
        const uint8_t *hash = cd_col_bytes(res, i, 2, &hlen);
        if (!ru)
            continue;
        ru->head = (uint64_t)cd_col_i64(res, i, 1);
        if (ru->head > 0 && hlen != OPLOG_HASH_SIZE) {
            PQclear(res);
            return kassa_fail(err, KASSA_EIO, "the head of %s holds a bad hash", ru->origin);
        }
        if (ru->head > 0)
            memcpy(ru->head_hash, hash, OPLOG_HASH_SIZE);
        else
            memset(ru->head_hash, 0, OPLOG_HASH_SIZE);
    }
    PQclear(res);
    return KASSA_OK;
}

/* Each origin continues its head: no gap, the chain unbroken. */
static int check_heads(ingest *in, kassa_err *err)
{
    in->n_dup = in->n_new = 0;
    for (size_t i = 0; i < in->n_runs; i++) {
        run *ru = &in->runs[i];
        if (ru->lo > ru->head + 1)
            return kassa_fail(err, KASSA_ECONFLICT,
                              "gap: the batch starts %s at seq %llu but the cloud holds it up "
                              "to %llu",
                              ru->origin, (unsigned long long)ru->lo, (unsigned long long)ru->head);
        ru->n_dup = ru->head >= ru->hi ? ru->n : (size_t)(ru->head + 1 - ru->lo);
        in->n_dup += ru->n_dup;
        in->n_new += ru->n - ru->n_dup;
        /* the first new op continues the head; when it follows a
         * duplicate in the batch, the duplicate's hash is compared with
         * the stored one (check_duplicates) and the chain from it was
         * checked by plan() */
        if (ru->n_dup == 0 && !oplog_hash_ok(in->store, ru->head_hash, in->sorted[ru->first]))
            return kassa_fail(err, KASSA_ECONFLICT,
                              "broken hash chain: %s/%llu does not continue the %s the cloud "
                              "holds",
                              ru->origin, (unsigned long long)ru->lo,
                              ru->head ? "operation" : "start of the chain (seq 1)");
    }
    return KASSA_OK;
}

/* Operations already held must be the ones stored, hash for hash. */
static int check_duplicates(cd_db *db, ingest *in, kassa_err *err)
{
    if (in->n_dup == 0)
        return KASSA_OK;
    cd_arrays_begin(in->arr, 3);
    for (size_t i = 0; i < in->n_runs; i++) {
        const run *ru = &in->runs[i];
        if (!ru->n_dup)
            continue;
        cd_array_text(&in->arr[0], ru->origin);
        cd_array_i64(&in->arr[1], (int64_t)ru->lo);
        cd_array_i64(&in->arr[2], (int64_t)(ru->lo + ru->n_dup - 1));
    }
    PGresult *res = cd_db_query_arrays(
        db,
        "SELECT o.origin, o.seq, o.hash FROM unnest($2::text[], $3::bigint[], $4::bigint[])"
        " AS r(origin, lo, hi) JOIN ops o ON o.store_id = $1 AND o.origin = r.origin"
        " AND o.seq BETWEEN r.lo AND r.hi ORDER BY o.origin, o.seq",
        in->store, in->arr, 3, true, err);
    if (!res)
        return err->code;
    int rc = KASSA_OK;
    if ((size_t)PQntuples(res) != in->n_dup)
        rc = kassa_fail(err, KASSA_EIO,
                        "the cloud's log of store %s has holes below its heads (%d of %zu "
                        "operations found)",
                        in->store, PQntuples(res), in->n_dup);
    for (int i = 0; rc == KASSA_OK && i < PQntuples(res); i++) {
        const run *ru = find_run(in, PQgetvalue(res, i, 0));
        uint64_t seq = (uint64_t)cd_col_i64(res, i, 1);
        size_t hlen;
        const uint8_t *hash = cd_col_bytes(res, i, 2, &hlen);
        if (!ru || seq < ru->lo || seq >= ru->lo + ru->n_dup) {
            rc = kassa_fail(err, KASSA_EIO, "unexpected row for %s/%llu", PQgetvalue(res, i, 0),
                            (unsigned long long)seq);
            break;
        }
        const oplog_op *op = in->sorted[ru->first + (seq - ru->lo)];
        if (hlen != OPLOG_HASH_SIZE || memcmp(hash, op->hash, OPLOG_HASH_SIZE) != 0)
            rc = kassa_fail(err, KASSA_ECONFLICT,
                            "fork: %s/%llu differs from the operation the cloud holds (the "
                            "origin's history was altered)",
                            ru->origin, (unsigned long long)seq);
    }
    PQclear(res);
    return rc;
}

static void put_be(kbuf *b, uint64_t v, int bytes)
{
    uint8_t out[8];
    for (int i = 0; i < bytes; i++)
        out[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
    kbuf_put(b, out, (size_t)bytes);
}

static void put_field(kbuf *b, const void *p, size_t n)
{
    put_be(b, n, 4);
    kbuf_put(b, p, n);
}

/* The new operations in PostgreSQL's binary COPY format, the columns of
 * ops: store_id, origin, seq, hlc, kind, payload, hash. */
static int encode_copy(ingest *in, kassa_err *err)
{
    static const uint8_t SIGNATURE[] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n', 0};
    kbuf *b = &in->copy;
    kbuf_reset(b);
    kbuf_put(b, SIGNATURE, sizeof SIGNATURE);
    put_be(b, 0, 4); /* flags */
    put_be(b, 0, 4); /* header extension */
    for (size_t i = 0; i < in->n_runs; i++) {
        const run *ru = &in->runs[i];
        for (size_t k = ru->n_dup; k < ru->n; k++) {
            const oplog_op *op = in->sorted[ru->first + k];
            put_be(b, 7, 2);
            put_field(b, in->store, strlen(in->store));
            put_field(b, op->origin, strlen(op->origin));
            put_be(b, 8, 4);
            put_be(b, op->seq, 8);
            put_be(b, 8, 4);
            put_be(b, op->hlc, 8);
            put_be(b, 2, 4);
            put_be(b, op->kind, 2);
            put_field(b, op->payload, op->payload_len);
            put_field(b, op->hash, OPLOG_HASH_SIZE);
        }
    }
    put_be(b, 0xffff, 2); /* trailer: -1 */
    if (b->oom)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory");
    return KASSA_OK;
}

/* COPY straight into ops: the heads are locked FOR UPDATE and only
 * operations above them are sent, so no row can be there already (a
 * unique violation would abort the transaction: never a partial batch).
 * *copied gets the rows COPY reports. */
static int copy_in(cd_db *db, ingest *in, size_t *copied, kassa_err *err)
{
    int rc = encode_copy(in, err);
    if (rc != KASSA_OK)
        return rc;
    *copied = 0;
    PGresult *res = PQexec(db->conn, "COPY ops (store_id, origin, seq, hlc, kind, payload, hash) "
                                     "FROM STDIN (FORMAT binary)");
    if (!res || PQresultStatus(res) != PGRES_COPY_IN) {
        const char *m = res ? PQresultErrorMessage(res) : PQerrorMessage(db->conn);
        const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        snprintf(db->sqlstate, sizeof db->sqlstate, "%s", state ? state : "");
        rc = kassa_fail(err, KASSA_EIO, "database: COPY did not start: %.*s", (int)strcspn(m, "\n"),
                        m);
        PQclear(res);
        return rc;
    }
    PQclear(res);
    bool sent = PQputCopyData(db->conn, (const char *)in->copy.data, (int)in->copy.len) == 1;
    if (PQputCopyEnd(db->conn, sent ? NULL : "the client could not send the data") != 1)
        sent = false;
    rc = KASSA_OK;
    while ((res = PQgetResult(db->conn)) != NULL) {
        if (rc == KASSA_OK && PQresultStatus(res) == PGRES_COMMAND_OK)
            *copied += (size_t)strtoull(PQcmdTuples(res), NULL, 10);
        if (rc == KASSA_OK && PQresultStatus(res) != PGRES_COMMAND_OK) {
            const char *m = PQresultErrorMessage(res);
            const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
            snprintf(db->sqlstate, sizeof db->sqlstate, "%s", state ? state : "");
            rc = kassa_fail(err, KASSA_EIO, "database: COPY: %.*s", (int)strcspn(m, "\n"), m);
        }
        PQclear(res);
    }
    if (rc == KASSA_OK && !sent)
        rc = kassa_fail(err, KASSA_EIO, "database: COPY data not sent");
    return rc;
}

static int store_new(cd_db *db, ingest *in, kassa_err *err)
{
    size_t inserted;
    int rc = copy_in(db, in, &inserted, err);
    if (rc != KASSA_OK)
        return rc;
    /* the heads are locked: nobody else can have stored them */
    if (inserted != in->n_new)
        return kassa_fail(err, KASSA_ECONFLICT,
                          "%zu of %zu new operations were stored meanwhile by another writer",
                          in->n_new - inserted, in->n_new);
    /* heads: origin, seq, hash (hex), hlc of each origin's last new op */
    cd_arrays_begin(in->arr, 4);
    for (size_t i = 0; i < in->n_runs; i++) {
        const run *ru = &in->runs[i];
        if (ru->n_dup == ru->n)
            continue;
        const oplog_op *last = in->sorted[ru->first + ru->n - 1];
        char hex[2 * OPLOG_HASH_SIZE + 1];
        for (size_t k = 0; k < OPLOG_HASH_SIZE; k++)
            snprintf(hex + 2 * k, 3, "%02x", last->hash[k]);
        cd_array_text(&in->arr[0], ru->origin);
        cd_array_i64(&in->arr[1], (int64_t)last->seq);
        cd_array_text(&in->arr[2], hex);
        cd_array_i64(&in->arr[3], (int64_t)last->hlc);
    }
    return cd_db_run_arrays(db,
                            "UPDATE heads h SET seq = v.seq, hash = decode(v.hash, 'hex'),"
                            " hlc = v.hlc FROM unnest($2::text[], $3::bigint[], $4::text[],"
                            " $5::bigint[]) AS v(origin, seq, hash, hlc)"
                            " WHERE h.store_id = $1 AND h.origin = v.origin",
                            in->store, in->arr, 4, err);
}

/* The new operations, in (origin, seq) order, for the projections. */
static int project(cd_db *db, ingest *in, kassa_err *err)
{
    if (in->n_new == 0)
        return KASSA_OK;
    const oplog_op **fresh = malloc(in->n_new * sizeof *fresh);
    if (!fresh)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < in->n_runs; i++)
        for (size_t k = in->runs[i].n_dup; k < in->runs[i].n; k++)
            fresh[n++] = in->sorted[in->runs[i].first + k];
    int rc = cd_project(db, in->store, fresh, n, err);
    free(fresh);
    return rc;
}

/* One attempt: BEGIN ... COMMIT, or rolled back. *vv set on success. */
static int attempt(cd_db *db, ingest *in, json_t **vv, kassa_err *err)
{
    uint64_t t = cd_mono_us(), t2;
    int rc = cd_db_exec(db, "BEGIN", err);
    if (rc == KASSA_OK && in->n_runs > 0)
        rc = lock_heads(db, in, err);
    if (rc == KASSA_OK)
        rc = check_heads(in, err);
    if (rc == KASSA_OK)
        rc = check_duplicates(db, in, err);
    in->check_us = (t2 = cd_mono_us()) - t;
    if (rc == KASSA_OK && in->n_new > 0)
        rc = store_new(db, in, err);
    in->store_us = (t = cd_mono_us()) - t2;
    if (rc == KASSA_OK)
        rc = project(db, in, err);
    if (rc == KASSA_OK)
        rc = cd_vv_json(db, in->store, vv, err);
    in->project_us = (t2 = cd_mono_us()) - t;
    if (rc == KASSA_OK && (rc = cd_db_exec(db, "COMMIT", err)) != KASSA_OK) {
        json_decref(*vv);
        *vv = NULL;
    }
    in->commit_us = cd_mono_us() - t2;
    if (rc != KASSA_OK)
        cd_db_rollback(db);
    return rc;
}

static void ingest_free(ingest *in)
{
    free(in->sorted);
    free(in->runs);
    for (size_t k = 0; k < KASSA_ARRAY_LEN(in->arr); k++)
        kbuf_free(&in->arr[k]);
    kbuf_free(&in->copy);
}

static int ingest_status(int code)
{
    switch (code) {
    case KASSA_ECONFLICT:
        return 409;
    case KASSA_ECORRUPT:
    case KASSA_EINVAL:
    case KASSA_EOVERFLOW:
        return 400;
    default:
        return 500;
    }
}

void h_ops(cd_req *r)
{
    cd_app *app = r->app;
    const char *store = cd_req_param(r, 0);
    uint64_t t0 = cd_mono_us();
    batch b;
    memset(&b, 0, sizeof b);
    ingest in = {.store = store};
    for (size_t k = 0; k < KASSA_ARRAY_LEN(in.arr); k++)
        kbuf_init(&in.arr[k]);
    kbuf_init(&in.copy);
    if (decode_body(r, store, &b) != 0) {
        cd_metrics_ingest_refused(&app->metrics, r->status);
        goto out;
    }
    uint64_t decoded_us = cd_mono_us() - t0;
    kassa_err err;
    json_t *vv = NULL;
    int rc = plan(&in, &b, &err);
    int tries = 0;
    while (rc == KASSA_OK && tries++ < INGEST_TRIES) {
        if ((rc = cd_db_ready(&app->db, &err)) != KASSA_OK)
            break;
        rc = attempt(&app->db, &in, &vv, &err);
        /* a deadlock, or the connection lost (even during COMMIT: sent
         * again, what was committed comes back as duplicates) */
        if (rc == KASSA_OK || !(cd_db_retryable(&app->db) || cd_db_lost(&app->db)))
            break;
        jlog(JLOG_WARN, CD_COMPONENT, "ingest_retry", "{s:s,s:s,s:i}", "store", store, "error",
             err.msg, "try", tries);
        if (tries < INGEST_TRIES)
            rc = KASSA_OK;
    }
    if (rc != KASSA_OK) {
        int status = ingest_status(rc);
        if (status == 500 && cd_db_retryable(&app->db) && !cd_db_lost(&app->db))
            cd_reply_error(r, 503, CD_E_UNAVAILABLE, "%s; nothing stored, send it again", err.msg);
        else if (status == 500)
            cd_reply_kassa(r, &err); /* 503 when the database is gone */
        else
            cd_reply_error(r, status, status == 409 ? CD_E_CONFLICT : CD_E_BAD_REQUEST,
                           "%s; nothing stored", err.msg);
        cd_metrics_ingest_refused(&app->metrics, r->status);
        goto out;
    }
    uint64_t us = cd_mono_us() - t0;
    cd_metrics_ingest(&app->metrics, in.n_new, in.n_dup, us);
    jlog(JLOG_INFO, CD_COMPONENT, "ingested", "{s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
         "store", store, "node", r->peer_node, "ops", (json_int_t)in.n_ops, "stored",
         (json_int_t)in.n_new, "duplicates", (json_int_t)in.n_dup, "decode_us",
         (json_int_t)decoded_us, "check_us", (json_int_t)in.check_us, "store_us",
         (json_int_t)in.store_us, "project_us", (json_int_t)in.project_us, "commit_us",
         (json_int_t)in.commit_us, "total_us", (json_int_t)us);
    cd_reply_json(r, 200,
                  json_pack("{s:o,s:I,s:I}", "vv", vv, "stored", (json_int_t)in.n_new, "duplicates",
                            (json_int_t)in.n_dup));
out:
    ingest_free(&in);
    wire_ops_free(&b.wire);
    oplog_file_free(&b.file);
}
