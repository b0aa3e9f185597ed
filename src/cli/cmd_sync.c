/* Exchanging and checking operations: export, import, vv, state-hash, log
 * verify, status. */
#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT_FILE_MAX_BYTES (1u << 30)
#define VV_FILE_MAX_BYTES (1u << 20)
/* kassad rewrites peers.json each second: older means it is not running. */
#define STATUS_STALE_MS 5000

int cmd_export(cli *c)
{
    oplog_vv since;
    oplog_vv_init(&since);
    bool have_since = false;
    kassa_err err;
    if (c->argc == 2 && strcmp(c->argv[0], "--since") == 0) {
        uint8_t *text;
        size_t len;
        int rc = cli_read_file(c->argv[1], &text, &len, VV_FILE_MAX_BYTES);
        if (rc != CLI_OK)
            return rc;
        rc = oplog_vv_parse((const char *)text, len, &since, &err);
        free(text);
        if (rc != KASSA_OK)
            return cli_fail("%s: %s", c->argv[1], err.msg);
        have_since = true;
    } else if (c->argc != 0) {
        return cli_usage("export [--since VVFILE] > ops.bin");
    }
    term *t;
    int rc = cli_open(c, &t);
    if (rc != CLI_OK) {
        oplog_vv_free(&since);
        return rc;
    }
    kbuf out;
    kbuf_init(&out);
    if (term_export(t, have_since ? &since : NULL, &out, &err) != KASSA_OK)
        rc = cli_fail_err(&err);
    else
        rc = cli_write(&out);
    kbuf_free(&out);
    oplog_vv_free(&since);
    term_close(t);
    return rc;
}

int cmd_import(cli *c)
{
    if (c->argc != 1)
        return cli_usage("import FILE");
    uint8_t *data;
    size_t len;
    int rc = cli_read_file(c->argv[0], &data, &len, EXPORT_FILE_MAX_BYTES);
    if (rc != CLI_OK)
        return rc;
    term *t;
    if ((rc = cli_open(c, &t)) != CLI_OK) {
        free(data);
        return rc;
    }
    kassa_err err;
    term_import_report rep;
    if (term_import(t, data, len, &rep, &err) != KASSA_OK) {
        rc = cli_fail("%s: %s; nothing imported", c->argv[0], err.msg);
    } else if (c->json) {
        rc = cli_print_json(json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "in_file",
                                      (json_int_t)rep.in_file, "applied", (json_int_t)rep.applied,
                                      "duplicates", (json_int_t)rep.duplicates, "pending",
                                      (json_int_t)rep.pending, "dropped", (json_int_t)rep.dropped,
                                      "clock_skew_reports", (json_int_t)rep.skew_reports));
    } else {
        printf("%zu operations: %zu applied, %zu already held, %zu pending", rep.in_file,
               rep.applied, rep.duplicates, rep.pending);
        if (rep.dropped)
            printf(", %zu dropped (broken hash chain)", rep.dropped);
        printf("\n");
        if (rep.skew_reports)
            fprintf(stderr,
                    "kassa: warning: a remote clock is more than %llu ms ahead; "
                    "clamped\n",
                    (unsigned long long)t->max_skew_ms);
    }
    free(data);
    term_close(t);
    return rc;
}

int cmd_vv(cli *c)
{
    if (c->argc != 0)
        return cli_usage("vv");
    term *t;
    int rc = cli_open(c, &t);
    if (rc != CLI_OK)
        return rc;
    kassa_err err;
    oplog_vv vv;
    if (term_vv(t, &vv, &err) != KASSA_OK) {
        rc = cli_fail_err(&err);
    } else if (c->json) {
        json_t *o = json_object();
        for (size_t i = 0; i < vv.n; i++)
            json_object_set_new(o, vv.e[i].origin, json_integer((json_int_t)vv.e[i].seq));
        rc = cli_print_json(o);
    } else {
        kbuf out;
        kbuf_init(&out);
        oplog_vv_format(&vv, &out);
        rc = cli_write(&out);
        kbuf_free(&out);
    }
    oplog_vv_free(&vv);
    term_close(t);
    return rc;
}

int cmd_state_hash(cli *c)
{
    if (c->argc != 0)
        return cli_usage("state-hash");
    term *t;
    int rc = cli_open(c, &t);
    if (rc != CLI_OK)
        return rc;
    kassa_err err;
    uint8_t h[32];
    if (term_state_hash(t, h, &err) != KASSA_OK) {
        rc = cli_fail_err(&err);
    } else {
        char hex[65];
        for (int i = 0; i < 32; i++)
            snprintf(hex + 2 * i, 3, "%02x", h[i]);
        if (c->json)
            rc = cli_print_json(json_pack("{s:s}", "state_hash", hex));
        else
            printf("%s\n", hex);
    }
    term_close(t);
    return rc;
}

int cmd_log(cli *c)
{
    if (c->argc != 1 || strcmp(c->argv[0], "verify") != 0)
        return cli_usage("log verify");
    term *t;
    int rc = cli_open(c, &t);
    if (rc != CLI_OK)
        return rc;
    kassa_err err;
    term_verify_report rep;
    if (term_log_verify(t, &rep, &err) != KASSA_OK) {
        rc = cli_fail_err(&err);
    } else if (c->json) {
        rc = cli_print_json(json_pack("{s:b,s:I,s:I,s:s,s:s}", "ok", rep.ok, "origins",
                                      (json_int_t)rep.origins, "ops", (json_int_t)rep.ops,
                                      "first_bad", rep.first_bad, "reason", rep.reason));
        if (rc == CLI_OK && !rep.ok)
            rc = cli_fail("log altered: first bad operation %s: %s", rep.first_bad, rep.reason);
    } else if (rep.ok) {
        printf("log ok: %zu operations from %zu origins\n", rep.ops, rep.origins);
    } else {
        rc = cli_fail("log altered: first bad operation %s: %s", rep.first_bad, rep.reason);
    }
    term_close(t);
    return rc;
}

/* The peer links as kassad last wrote them (DATA/peers.json, each second),
 * with "stale" set when that is more than a few seconds old (kassad is not
 * running). NULL when there is no such file (peer links never ran). */
static json_t *read_peers_status(const char *dir, json_t **raft)
{
    char path[4096 + 16];
    snprintf(path, sizeof path, "%s/peers.json", dir);
    json_t *doc = json_load_file(path, 0, NULL);
    json_t *peers = json_incref(json_object_get(doc, "peers"));
    json_int_t updated = json_integer_value(json_object_get(doc, "updated_ms"));
    bool stale = (json_int_t)hlc_wall_ms() - updated > STATUS_STALE_MS;
    /* The Raft view only while kassad keeps it current. */
    json_t *r = json_object_get(doc, "raft");
    *raft = json_is_object(r) && !stale ? json_incref(r) : NULL;
    json_decref(doc);
    if (!json_is_array(peers)) {
        json_decref(peers);
        return NULL;
    }
    size_t i;
    json_t *p;
    json_array_foreach(peers, i, p)
    {
        json_object_set_new(p, "stale", json_boolean(stale));
        if (stale)
            json_object_set_new(p, "connected", json_false());
    }
    return peers;
}

static void print_raft(json_t *raft)
{
    if (!raft)
        return;
    const char *leader = json_string_value(json_object_get(raft, "leader"));
    const char *why = json_string_value(json_object_get(raft, "why"));
    printf("raft: %s in term %lld, leader %s, quorum %s, store coordination %s%s%s\n",
           json_string_value(json_object_get(raft, "role")),
           (long long)json_integer_value(json_object_get(raft, "term")),
           leader && leader[0] ? leader : "unknown",
           json_is_true(json_object_get(raft, "quorum")) ? "yes" : "no",
           json_string_value(json_object_get(raft, "coordination")), why && why[0] ? ": " : "",
           why ? why : "");
}

static void print_peers(json_t *peers)
{
    size_t i;
    json_t *p;
    uint64_t now = hlc_wall_ms();
    json_array_foreach(peers, i, p)
    {
        json_int_t seen = json_integer_value(json_object_get(p, "last_seen_ms"));
        const char *err = json_string_value(json_object_get(p, "last_error"));
        printf("peer %s: %s", json_string_value(json_object_get(p, "node")),
               json_is_true(json_object_get(p, "connected")) ? "connected" : "not connected");
        if (json_is_true(json_object_get(p, "stale")))
            printf(" (status is stale: kassad is not running)");
        const char *addr = json_string_value(json_object_get(p, "address"));
        if (addr && addr[0])
            printf(", %s (%s)", addr, json_string_value(json_object_get(p, "direction")));
        if (seen > 0)
            printf(", last seen %.1f s ago", (double)((json_int_t)now - seen) / 1000.0);
        else
            printf(", never seen");
        printf(", lacks %lld of ours, we lack %lld of its",
               (long long)json_integer_value(json_object_get(p, "lag_ops")),
               (long long)json_integer_value(json_object_get(p, "behind_ops")));
        if (err && err[0])
            printf(", last error: %s", err);
        printf("\n");
    }
}

int cmd_status(cli *c)
{
    if (c->argc != 0)
        return cli_usage("status");
    term *t;
    int rc = cli_open(c, &t);
    if (rc != CLI_OK)
        return rc;
    kassa_err err;
    term_status s;
    json_t *raft = NULL;
    json_t *peers = read_peers_status(c->data_dir, &raft);
    if (term_status_get(t, &s, &err) != KASSA_OK) {
        rc = cli_fail_err(&err);
    } else if (c->json) {
        rc = cli_print_json(
            json_pack("{s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:O,s:O}", "store", t->store_id, "node",
                      t->node_id, "ops", (json_int_t)s.ops, "ops_held", (json_int_t)s.ops_held,
                      "pending", (json_int_t)s.pending, "sales", (json_int_t)s.sales,
                      "db_size_bytes", (json_int_t)s.db_size_bytes, "peers",
                      peers ? peers : json_null(), "raft", raft ? raft : json_null()));
    } else {
        char held[64] = "";
        if (s.ops_held != s.ops)
            snprintf(held, sizeof held, " (%zu held, the rest compacted)", s.ops_held);
        printf("store %s node %s: %zu operations%s, %zu pending, %zu sales, database %lld bytes\n",
               t->store_id, t->node_id, s.ops, held, s.pending, s.sales,
               (long long)s.db_size_bytes);
        print_raft(raft);
        print_peers(peers);
    }
    json_decref(peers);
    json_decref(raft);
    term_close(t);
    return rc;
}
