/* config.c: kassad's settings table, the INI reader and the final checks. */
#include "kassad/config.h"

#include "raft/raft.h"

#include "pricing/pricing.h"
#include "term/term.h"

#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* SET_ROSTER and SET_PEERS append: a key may repeat, and one line may
 * list several entries separated by blanks or commas (an INI line holds at
 * most 197 bytes, so a big store's roster spans lines). */
typedef enum { SET_STR, SET_INT, SET_LEVEL, SET_ROSTER, SET_PEERS } set_type;

/* One row per setting: where it lives in the file, where it lives in
 * kd_config, and what it accepts. Defaults are in kd_config_defaults. */
typedef struct setting {
    const char *section;
    const char *key;
    set_type type;
    size_t offset;
    size_t size; /* SET_STR: buffer size */
    int64_t min, max;
} setting;

#define STR(sec, name)                                                                             \
    {                                                                                              \
        sec, #name, SET_STR, offsetof(kd_config, name), sizeof(((kd_config *)0)->name), 0, 0       \
    }
#define INT(sec, name, lo, hi)                                                                     \
    {                                                                                              \
        sec, #name, SET_INT, offsetof(kd_config, name), 0, lo, hi                                  \
    }

static const setting SETTINGS[] = {
    STR("terminal", data_dir),
    INT("terminal", checkpoint_idle_ms, 10, 600000),
    INT("terminal", max_pin_failures, 1, 100),
    INT("terminal", pin_lockout_s, 1, 86400),
    STR("api", listen),
    STR("api", web_root),
    INT("api", max_body_size_bytes, 1024, 16 * 1024 * 1024),
    INT("api", connection_timeout_s, 1, 3600),
    INT("api", shutdown_drain_timeout_ms, 0, 60000),
    INT("api", max_sessions, 1, 10000),
    INT("api", session_ttl_s, 1, 7 * 86400),
    INT("api", max_open_carts, 1, 100000),
    INT("api", cart_idle_timeout_s, 1, 7 * 86400),
    {"peer", "listen", SET_STR, offsetof(kd_config, peer_listen),
     sizeof(((kd_config *)0)->peer_listen), 0, 0},
    {"peer", "cert_dir", SET_STR, offsetof(kd_config, peer_cert_dir),
     sizeof(((kd_config *)0)->peer_cert_dir), 0, 0},
    {"peer", "roster", SET_ROSTER, 0, 0, 0, 0},
    {"peer", "peers", SET_PEERS, 0, 0, 0, 0},
    INT("peer", mdns, 0, 1),
    INT("peer", anti_entropy_ms, 50, 600000),
    INT("peer", reconnect_min_ms, 10, 600000),
    INT("peer", reconnect_max_ms, 10, 3600000),
    INT("peer", idle_timeout_ms, 100, 3600000),
    INT("peer", send_buffer_max_bytes, 65536, 256 * 1024 * 1024),
    {"raft", "tick_ms", SET_INT, offsetof(kd_config, raft_tick_ms), 0, 1, 1000},
    {"raft", "log_compact_entries", SET_INT, offsetof(kd_config, raft_log_compact_entries), 0, 8,
     RAFT_LOG_MAX / 2},
    {"raft", "heartbeat_ms", SET_INT, offsetof(kd_config, raft_heartbeat_ms), 0, 10, 60000},
    {"raft", "election_min_ms", SET_INT, offsetof(kd_config, raft_election_min_ms), 0, 20, 600000},
    {"raft", "election_max_ms", SET_INT, offsetof(kd_config, raft_election_max_ms), 0, 21, 600000},
    {"raft", "prefer_stable_ms", SET_INT, offsetof(kd_config, raft_prefer_stable_ms), 0, 0,
     86400000},
    STR("payments", reader_socket),
    INT("payments", reader_timeout_ms, 100, 600000),
    STR("payments", processor),
    INT("payments", processor_timeout_ms, 50, 120000),
    INT("payments", offline_max_amount_minor, 0, PRICING_AMOUNT_MAX),
    INT("payments", offline_max_pending_minor, 0, PRICING_AMOUNT_MAX),
    INT("payments", offline_max_per_card, 0, 1000),
    INT("payments", offline_max_age_s, 1, 90 * 86400),
    INT("payments", forward_retry_min_ms, 10, 600000),
    INT("payments", forward_retry_max_ms, 10, 3600000),
    {"cloud", "url", SET_STR, offsetof(kd_config, cloud), sizeof(((kd_config *)0)->cloud), 0, 0},
    {"cloud", "timeout_ms", SET_INT, offsetof(kd_config, cloud_timeout_ms), 0, 100, 600000},
    {"cloud", "upload_interval_s", SET_INT, offsetof(kd_config, cloud_upload_interval_s), 0, 1,
     86400},
    {"cloud", "probe_min_ms", SET_INT, offsetof(kd_config, cloud_probe_min_ms), 0, 10, 600000},
    {"cloud", "probe_max_ms", SET_INT, offsetof(kd_config, cloud_probe_max_ms), 0, 10, 3600000},
    {"cloud", "retention_s", SET_INT, offsetof(kd_config, cloud_retention_s), 0, 1, 3650 * 86400},
    {"cloud", "compact_interval_s", SET_INT, offsetof(kd_config, cloud_compact_interval_s), 0, 0,
     86400},
    {"ai", "camera", SET_STR, offsetof(kd_config, ai_camera), sizeof(((kd_config *)0)->ai_camera),
     0, 0},
    {"ai", "camera_width", SET_INT, offsetof(kd_config, ai_camera_width), 0, 16, 4096},
    {"ai", "camera_height", SET_INT, offsetof(kd_config, ai_camera_height), 0, 16, 4096},
    {"ai", "threshold_pct", SET_INT, offsetof(kd_config, ai_threshold_pct), 0, 0, 99},
    {"ai", "max_image_bytes", SET_INT, offsetof(kd_config, ai_max_image_bytes), 0, 1024,
     32 * 1024 * 1024},
    {"fraud", "enabled", SET_INT, offsetof(kd_config, fraud_enabled), 0, 0, 1},
    {"fraud", "model", SET_STR, offsetof(kd_config, fraud_model),
     sizeof(((kd_config *)0)->fraud_model), 0, 0},
    {"fraud", "review_at_bp", SET_INT, offsetof(kd_config, fraud_review_at_bp), 0, 0, 10000},
    {"fraud", "supervisor_at_bp", SET_INT, offsetof(kd_config, fraud_supervisor_at_bp), 0, 0,
     10000},
    {"fraud", "refuse_offline_card_at_bp", SET_INT,
     offsetof(kd_config, fraud_refuse_offline_card_at_bp), 0, 0, 10000},
    {"voice", "synonyms", SET_STR, offsetof(kd_config, voice_synonyms),
     sizeof(((kd_config *)0)->voice_synonyms), 0, 0},
    {"voice", "max_audio_bytes", SET_INT, offsetof(kd_config, voice_max_audio_bytes), 0, 1024,
     16 * 1024 * 1024},
    {"log", "level", SET_LEVEL, offsetof(kd_config, log_level), 0, 0, 0},
};

#undef STR
#undef INT

void kd_config_defaults(kd_config *c)
{
    memset(c, 0, sizeof *c);
    c->checkpoint_idle_ms = 1000;
    c->max_pin_failures = TERM_DEFAULT_MAX_PIN_FAILURES;
    c->pin_lockout_s = TERM_DEFAULT_PIN_LOCKOUT_MS / 1000;
    snprintf(c->listen, sizeof c->listen, "127.0.0.1:8080");
    snprintf(c->web_root, sizeof c->web_root, "web");
    c->max_body_size_bytes = 64 * 1024;
    c->connection_timeout_s = 30;
    c->shutdown_drain_timeout_ms = 5000;
    c->max_sessions = 64;
    c->session_ttl_s = 8 * 3600;
    c->max_open_carts = 1000;
    c->cart_idle_timeout_s = 3600;
    c->mdns = 0;
    c->anti_entropy_ms = 1000;
    c->reconnect_min_ms = 200;
    c->reconnect_max_ms = 10000;
    c->idle_timeout_ms = 10000;
    c->send_buffer_max_bytes = 1024 * 1024;
    c->raft_tick_ms = 10;
    c->raft_heartbeat_ms = 150;
    c->raft_election_min_ms = 300;
    c->raft_election_max_ms = 500;
    c->raft_prefer_stable_ms = 30000;
    c->raft_log_compact_entries = RAFT_LOG_MAX / 2;
    c->reader_timeout_ms = 60000;
    c->processor_timeout_ms = 5000;
    c->offline_max_amount_minor = 20000;   /* 200.00 */
    c->offline_max_pending_minor = 100000; /* 1,000.00 */
    c->offline_max_per_card = 2;
    c->offline_max_age_s = 3 * 86400;
    c->forward_retry_min_ms = 1000;
    c->forward_retry_max_ms = 60000;
    c->cloud_timeout_ms = 30000;
    c->cloud_upload_interval_s = 900;
    c->cloud_probe_min_ms = 1000;
    c->cloud_probe_max_ms = 60000;
    c->cloud_retention_s = 30 * 86400; /* also the return window: see docs/CLOUD.md */
    c->cloud_compact_interval_s = 3600;
    c->ai_camera_width = 640;
    c->ai_camera_height = 480;
    c->ai_max_image_bytes = 8 * 1024 * 1024;
    c->voice_max_audio_bytes = 4 * 1024 * 1024;
    c->fraud_enabled = 1;
    snprintf(c->fraud_model, sizeof c->fraud_model, "fraud");
    c->log_level = JLOG_INFO;
}

/* Appends the blank- or comma-separated entries of value to the roster or
 * the static peers. */
static int append_list(kd_config *c, set_type type, const char *section, const char *key,
                       const char *value, kassa_err *err)
{
    const char *p = value;
    for (;;) {
        p += strspn(p, " \t,");
        size_t n = strcspn(p, " \t,");
        if (n == 0)
            return KASSA_OK;
        if (type == SET_ROSTER) {
            char id[KASSA_ID_MAX + 1];
            if (n > KASSA_ID_MAX)
                return kassa_fail(err, KASSA_EINVAL, "[%s] %s: node id too long", section, key);
            memcpy(id, p, n);
            id[n] = '\0';
            if (!kassa_valid_id(id, KASSA_ID_MAX))
                return kassa_fail(err, KASSA_EINVAL, "[%s] %s: invalid node id \"%s\"", section,
                                  key, id);
            if (c->n_roster >= KD_ROSTER_MAX)
                return kassa_fail(err, KASSA_EINVAL, "[%s] %s: more than %d terminals", section,
                                  key, KD_ROSTER_MAX);
            memcpy(c->roster[c->n_roster++], id, n + 1);
        } else {
            char host[KD_HOST_MAX_BYTES];
            uint16_t port;
            char addr[KD_ADDR_MAX_BYTES];
            if (n >= sizeof addr)
                return kassa_fail(err, KASSA_EINVAL, "[%s] %s: address too long", section, key);
            memcpy(addr, p, n);
            addr[n] = '\0';
            if (kd_split_addr(addr, host, &port, err) != KASSA_OK || port == 0)
                return kassa_fail(err, KASSA_EINVAL, "[%s] %s: \"%s\": expected IP:PORT", section,
                                  key, addr);
            if (c->n_static_peers >= KD_STATIC_PEERS_MAX)
                return kassa_fail(err, KASSA_EINVAL, "[%s] %s: more than %d peers", section, key,
                                  KD_STATIC_PEERS_MAX);
            memcpy(c->static_peers[c->n_static_peers++], addr, n + 1);
        }
        p += n;
    }
}

/* Whole decimal integer in [min, max]; no sign, blanks or suffix. */
static int parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
    if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 18)
        return -1;
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno != 0 || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int kd_config_set(kd_config *c, const char *section, const char *key, const char *value,
                  kassa_err *err)
{
    for (size_t i = 0; i < KASSA_ARRAY_LEN(SETTINGS); i++) {
        const setting *s = &SETTINGS[i];
        if (strcmp(s->section, section) != 0 || strcmp(s->key, key) != 0)
            continue;
        char *field = (char *)c + s->offset;
        switch (s->type) {
        case SET_STR:
            if (!*value || strlen(value) >= s->size)
                return kassa_fail(err, KASSA_EINVAL, "[%s] %s: expected 1..%zu bytes", section, key,
                                  s->size - 1);
            memcpy(field, value, strlen(value) + 1);
            return KASSA_OK;
        case SET_INT:
            if (parse_int(value, s->min, s->max, (int64_t *)(void *)field) != 0)
                return kassa_fail(err, KASSA_EINVAL, "[%s] %s: expected a whole number %lld..%lld",
                                  section, key, (long long)s->min, (long long)s->max);
            return KASSA_OK;
        case SET_LEVEL:
            if (jlog_level_parse(value, (jlog_level *)(void *)field) != 0)
                return kassa_fail(err, KASSA_EINVAL, "[%s] %s: expected debug, info, warn or error",
                                  section, key);
            return KASSA_OK;
        case SET_ROSTER:
        case SET_PEERS:
            return append_list(c, s->type, section, key, value, err);
        }
    }
    return kassa_fail(err, KASSA_EINVAL, "unknown setting [%s] %s", section, key);
}

typedef struct load_ctx {
    kd_config *c;
    kassa_err *err;
} load_ctx;

/* inih calls this per name = value; 0 stops the parse at that line. */
static int on_ini_value(void *user, const char *section, const char *name, const char *value)
{
    load_ctx *l = user;
    return kd_config_set(l->c, section, name, value, l->err) == KASSA_OK;
}

int kd_config_load(kd_config *c, const char *path, kassa_err *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return kassa_fail(err, KASSA_EIO, "cannot open %s: %s", path, strerror(errno));
    kassa_err line_err;
    kassa_err_clear(&line_err);
    load_ctx l = {c, &line_err};
    int line = ini_parse_file(f, on_ini_value, &l);
    fclose(f);
    if (line < 0)
        return kassa_fail(err, KASSA_EIO, "cannot read %s", path);
    if (line > 0)
        return kassa_fail(err, KASSA_EINVAL, "%s:%d: %s", path, line,
                          line_err.msg[0] ? line_err.msg
                                          : "syntax error (expected [section] or key = value, "
                                            "at most 197 bytes a line)");
    return KASSA_OK;
}

/* "HOST:PORT", "[V6]:PORT"; port 0 asks the system for a free one. */
int kd_split_addr(const char *addr, char host_out[KD_HOST_MAX_BYTES], uint16_t *port_out,
                  kassa_err *err)
{
    const char *colon = strrchr(addr, ':');
    int64_t port;
    if (!colon || parse_int(colon + 1, 0, 65535, &port) != 0)
        return kassa_fail(err, KASSA_EINVAL, "address \"%s\": expected HOST:PORT", addr);
    const char *host = addr;
    size_t n = (size_t)(colon - host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
        host++;
        n -= 2;
    }
    if (n == 0 || n >= KD_HOST_MAX_BYTES || memchr(host, '[', n) || memchr(host, ']', n))
        return kassa_fail(err, KASSA_EINVAL, "address \"%s\": expected HOST:PORT", addr);
    memcpy(host_out, host, n);
    host_out[n] = '\0';
    *port_out = (uint16_t)port;
    return KASSA_OK;
}

int kd_config_finish(kd_config *c, kassa_err *err)
{
    if (!c->data_dir[0])
        return kassa_fail(err, KASSA_EINVAL,
                          "no data directory: pass --data DIR or set data_dir in [terminal]");
    kassa_err why;
    if (kd_split_addr(c->listen, c->listen_host, &c->listen_port, &why) != KASSA_OK)
        return kassa_fail(err, KASSA_EINVAL, "[api] listen: %s", why.msg);
    if (c->processor[0] &&
        (kd_split_addr(c->processor, c->processor_host, &c->processor_port, &why) != KASSA_OK ||
         c->processor_port == 0))
        return kassa_fail(err, KASSA_EINVAL, "[payments] processor: expected HOST:PORT");
    if (c->cloud[0] && (kd_split_addr(c->cloud, c->cloud_host, &c->cloud_port, &why) != KASSA_OK ||
                        c->cloud_port == 0))
        return kassa_fail(err, KASSA_EINVAL, "[cloud] url: expected HOST:PORT");
    if (c->cloud[0] && !c->peer_cert_dir[0])
        return kassa_fail(err, KASSA_EINVAL,
                          "[cloud] needs the terminal's certificate: set [peer] cert_dir");
    if (c->cloud_probe_max_ms < c->cloud_probe_min_ms)
        return kassa_fail(err, KASSA_EINVAL, "[cloud] probe_max_ms must be at least probe_min_ms");
    if (c->forward_retry_max_ms < c->forward_retry_min_ms)
        return kassa_fail(err, KASSA_EINVAL,
                          "[payments] forward_retry_max_ms must be at least forward_retry_min_ms");
    if (!kassa_valid_id(c->fraud_model, KASSA_ID_MAX))
        return kassa_fail(err, KASSA_EINVAL, "[fraud] model: expected a model name");
    if (c->fraud_review_at_bp && c->fraud_supervisor_at_bp &&
        c->fraud_review_at_bp > c->fraud_supervisor_at_bp)
        return kassa_fail(err, KASSA_EINVAL,
                          "[fraud] review_at_bp must be at most supervisor_at_bp");
    if (!c->peer_listen[0])
        return KASSA_OK;
    if (kd_split_addr(c->peer_listen, c->peer_listen_host, &c->peer_listen_port, &why) != KASSA_OK)
        return kassa_fail(err, KASSA_EINVAL, "[peer] listen: %s", why.msg);
    if (!c->peer_cert_dir[0])
        return kassa_fail(err, KASSA_EINVAL,
                          "[peer] cert_dir: peer links need the terminal's certificate directory "
                          "(kassa ca issue --out DIR)");
    if (c->n_roster == 0)
        return kassa_fail(err, KASSA_EINVAL,
                          "[peer] roster: list the store's terminals (node ids) that may connect");
    if (c->raft_election_max_ms <= c->raft_election_min_ms ||
        c->raft_heartbeat_ms >= c->raft_election_min_ms || c->raft_tick_ms > c->raft_heartbeat_ms)
        return kassa_fail(err, KASSA_EINVAL,
                          "[raft]: need tick_ms <= heartbeat_ms < election_min_ms < "
                          "election_max_ms");
    if (c->reconnect_max_ms < c->reconnect_min_ms)
        return kassa_fail(err, KASSA_EINVAL,
                          "[peer] reconnect_max_ms must be at least reconnect_min_ms");
    return KASSA_OK;
}
