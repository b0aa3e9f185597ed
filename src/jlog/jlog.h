/*
 * jlog: structured logs, one JSON object per line.
 *
 *   {"ts":"2026-11-29T10:11:12.345Z","level":"info","component":"kassad",
 *    "event":"start","listen":"127.0.0.1:8080"}
 *
 * Every line carries ts (RFC 3339, UTC, milliseconds), level, component and
 * event, then the caller's fields. A line is written with one write(2), so
 * lines from one process never interleave. Callers must not pass secrets
 * (PINs, tokens) or untrusted request bodies as fields: the log is read by
 * people and shipped to other systems.
 *
 * The logger is process-wide (one stderr per process); jlog_set_* is meant
 * for main() before anything logs.
 */
#ifndef KASSA_JLOG_H
#define KASSA_JLOG_H

#include <jansson.h> /* fields are json_pack formats: json_int_t for "I" */
#include <stdbool.h>

typedef enum {
    JLOG_DEBUG = 0,
    JLOG_INFO = 1,
    JLOG_WARN = 2,
    JLOG_ERROR = 3,
} jlog_level;

/* Longest line written; a longer one has its fields replaced by
 * "truncated":true so the line stays valid JSON. */
#define JLOG_LINE_MAX_BYTES 8192

/* "debug", "info", "warn" or "error"; 0 or -1 when unknown. */
int jlog_level_parse(const char *name, jlog_level *out);
const char *jlog_level_name(jlog_level level);

/* Lines below level are dropped (default JLOG_INFO). */
void jlog_set_level(jlog_level level);
/* Where lines go (default 2, stderr). */
void jlog_set_fd(int fd);
bool jlog_enabled(jlog_level level);

/* Writes one line. fields_fmt is a jansson json_pack format for an object
 * ("{s:s,s:I}") followed by its arguments, or NULL for no fields. A field
 * that cannot be packed (e.g. a string that is not UTF-8) drops the
 * fields, never the line. */
void jlog(jlog_level level, const char *component, const char *event, const char *fields_fmt, ...);

#endif
