/* config.c: kassad's settings table, the INI reader and the final checks. */
#include "kassad/config.h"

#include "term/term.h"

#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { SET_STR, SET_INT, SET_LEVEL } set_type;

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
    c->log_level = JLOG_INFO;
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
static int split_listen(kd_config *c, kassa_err *err)
{
    const char *colon = strrchr(c->listen, ':');
    int64_t port;
    if (!colon || parse_int(colon + 1, 0, 65535, &port) != 0)
        return kassa_fail(err, KASSA_EINVAL, "listen address \"%s\": expected HOST:PORT",
                          c->listen);
    const char *host = c->listen;
    size_t n = (size_t)(colon - host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
        host++;
        n -= 2;
    }
    if (n == 0 || n >= sizeof c->listen_host || memchr(host, '[', n) || memchr(host, ']', n))
        return kassa_fail(err, KASSA_EINVAL, "listen address \"%s\": expected HOST:PORT",
                          c->listen);
    memcpy(c->listen_host, host, n);
    c->listen_host[n] = '\0';
    c->listen_port = (uint16_t)port;
    return KASSA_OK;
}

int kd_config_finish(kd_config *c, kassa_err *err)
{
    if (!c->data_dir[0])
        return kassa_fail(err, KASSA_EINVAL,
                          "no data directory: pass --data DIR or set data_dir in [terminal]");
    return split_listen(c, err);
}
