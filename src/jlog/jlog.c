/* jlog.c: structured JSON log lines (see jlog.h). */
#include "jlog/jlog.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static jlog_level min_level = JLOG_INFO;
static int out_fd = STDERR_FILENO;

static const char *const LEVEL_NAMES[] = {"debug", "info", "warn", "error"};

int jlog_level_parse(const char *name, jlog_level *out)
{
    for (size_t i = 0; i < sizeof LEVEL_NAMES / sizeof LEVEL_NAMES[0]; i++) {
        if (strcmp(name, LEVEL_NAMES[i]) == 0) {
            *out = (jlog_level)i;
            return 0;
        }
    }
    return -1;
}

const char *jlog_level_name(jlog_level level)
{
    return level >= JLOG_DEBUG && level <= JLOG_ERROR ? LEVEL_NAMES[level] : "error";
}

void jlog_set_level(jlog_level level)
{
    min_level = level;
}

void jlog_set_fd(int fd)
{
    out_fd = fd;
}

bool jlog_enabled(jlog_level level)
{
    return level >= min_level;
}

/* RFC 3339 in UTC with milliseconds: 2026-11-29T10:11:12.345Z */
static void format_ts(char out[32])
{
    struct timespec now;
    struct tm tm;
    if (clock_gettime(CLOCK_REALTIME, &now) != 0 || !gmtime_r(&now.tv_sec, &tm)) {
        snprintf(out, 32, "1970-01-01T00:00:00.000Z");
        return;
    }
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03ldZ", now.tv_nsec / 1000000L);
}

static void write_all(const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(out_fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* nowhere left to report a failing log */
        p += w;
        n -= (size_t)w;
    }
}

/* Serialises obj plus a newline into buf; 0 when it does not fit. */
static size_t dump_line(const json_t *obj, char *buf, size_t size)
{
    size_t n = json_dumpb(obj, buf, size - 1, JSON_COMPACT);
    if (n == 0 || n > size - 1)
        return 0;
    buf[n] = '\n';
    return n + 1;
}

void jlog(jlog_level level, const char *component, const char *event, const char *fields_fmt, ...)
{
    if (!jlog_enabled(level))
        return;
    char ts[32];
    format_ts(ts);
    json_t *line = json_pack("{s:s,s:s,s:s,s:s}", "ts", ts, "level", jlog_level_name(level),
                             "component", component, "event", event);
    json_t *fields = NULL;
    if (fields_fmt) {
        va_list ap;
        va_start(ap, fields_fmt);
        fields = json_vpack_ex(NULL, 0, fields_fmt, ap);
        va_end(ap);
    }
    char buf[JLOG_LINE_MAX_BYTES];
    size_t n = 0;
    if (line) {
        /* The four standard keys win over a caller's field of the same
         * name, so every line can be parsed the same way. */
        if (fields_fmt && (!fields || json_object_update_missing(line, fields) != 0))
            json_object_set_new(line, "fields_dropped", json_true());
        n = dump_line(line, buf, sizeof buf);
        if (n == 0) {
            json_t *small =
                json_pack("{s:s,s:s,s:s,s:s,s:b}", "ts", ts, "level", jlog_level_name(level),
                          "component", component, "event", event, "truncated", 1);
            if (small)
                n = dump_line(small, buf, sizeof buf);
            json_decref(small);
        }
    }
    json_decref(fields);
    json_decref(line);
    if (n == 0) {
        static const char OOM[] =
            "{\"level\":\"error\",\"component\":\"jlog\",\"event\":\"lost\"}\n";
        write_all(OOM, sizeof OOM - 1);
        return;
    }
    write_all(buf, n);
}
