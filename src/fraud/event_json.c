/*
 * fraud: the JSON-lines form of events (docs/FRAUD.md, "Event format").
 *
 * {"kind":"sale","t":1709542800000,"term":"T1","cashier":"c01",
 *  "sale":"T1-17","amount":1234,"cash":1234,"discount":0,"items":3,
 *  "card":true,"token":"tok_ab12","offline":false,"label":""}
 *
 * Only "kind", "t" and "term" are required; the rest default to 0, false
 * or "". Unknown keys, wrong types, duplicate keys and values out of range
 * are refused. Parsed lines come from files (the generator's), so this is
 * a decoder of untrusted bytes: fuzzed by tests/fuzz/fuzz_fraud_event.c.
 */
#include "fraud/fraud.h"
#include "fraud/fraud_internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

/* Copies a JSON string of at most size - 1 bytes without NULs into out. */
static bool copy_str(json_t *v, char *out, size_t size)
{
    if (!json_is_string(v))
        return false;
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    if (n >= size || memchr(s, '\0', n))
        return false;
    memcpy(out, s, n);
    out[n] = '\0';
    return true;
}

static bool label_ok(const char *s)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_'))
            return false;
    return true;
}

/* "ORIGIN-SEQ" (kassa's sale ids, oplog_sale_id). */
static bool parse_sale_ref(const char *s, oplog_sale_ref *ref)
{
    const char *dash = strrchr(s, '-');
    if (!dash || dash == s || (size_t)(dash - s) > KASSA_ID_MAX || !dash[1] ||
        strlen(dash + 1) > 19)
        return false;
    uint64_t seq = 0;
    for (const char *p = dash + 1; *p; p++) {
        if (*p < '0' || *p > '9' || (p == dash + 1 && *p == '0'))
            return false;
        seq = seq * 10 + (uint64_t)(*p - '0');
    }
    memcpy(ref->origin, s, (size_t)(dash - s));
    ref->origin[dash - s] = '\0';
    ref->seq = seq;
    return seq <= OPLOG_SEQ_MAX && kassa_valid_id(ref->origin, KASSA_ID_MAX);
}

static bool get_int(json_t *v, int64_t *out)
{
    if (!json_is_integer(v))
        return false;
    *out = (int64_t)json_integer_value(v);
    return true;
}

static bool set_flag(json_t *v, uint8_t *flags, uint8_t bit)
{
    if (!json_is_boolean(v))
        return false;
    if (json_is_true(v))
        *flags |= bit;
    return true;
}

/* One key of an event object; false when its value is malformed or the key
 * unknown. */
static bool parse_field(const char *key, json_t *v, fraud_event *e, char *label, size_t label_size,
                        bool *have_kind, bool *have_t, bool *have_term)
{
    char text[64];
    if (strcmp(key, "kind") == 0) {
        *have_kind = true;
        return copy_str(v, text, sizeof text) && (e->kind = (uint8_t)fraud_event_kind_parse(text));
    }
    if (strcmp(key, "t") == 0)
        return (*have_t = true) && get_int(v, &e->time_ms);
    if (strcmp(key, "term") == 0)
        return (*have_term = true) && copy_str(v, e->terminal, sizeof e->terminal);
    if (strcmp(key, "cashier") == 0)
        return copy_str(v, e->cashier, sizeof e->cashier);
    if (strcmp(key, "sale") == 0)
        return copy_str(v, text, sizeof text) && parse_sale_ref(text, &e->sale);
    if (strcmp(key, "amount") == 0)
        return get_int(v, &e->amount);
    if (strcmp(key, "cash") == 0)
        return get_int(v, &e->cash);
    if (strcmp(key, "discount") == 0)
        return get_int(v, &e->discount);
    if (strcmp(key, "items") == 0)
        return get_int(v, &e->items);
    if (strcmp(key, "token") == 0)
        return copy_str(v, e->token, sizeof e->token);
    if (strcmp(key, "card") == 0)
        return set_flag(v, &e->flags, FRAUD_EVF_CARD);
    if (strcmp(key, "offline") == 0)
        return set_flag(v, &e->flags, FRAUD_EVF_OFFLINE);
    if (strcmp(key, "declined") == 0)
        return set_flag(v, &e->flags, FRAUD_EVF_DECLINED);
    if (strcmp(key, "no_receipt") == 0)
        return set_flag(v, &e->flags, FRAUD_EVF_NO_RECEIPT);
    if (strcmp(key, "label") == 0) {
        char l[FRAUD_LABEL_MAX + 1];
        if (!copy_str(v, l, sizeof l) || !label_ok(l))
            return false;
        if (label && label_size)
            snprintf(label, label_size, "%s", l);
        return true;
    }
    return false;
}

int fraud_event_from_json(const char *line, size_t len, fraud_event *e, char *label,
                          size_t label_size, kassa_err *err)
{
    memset(e, 0, sizeof *e);
    if (label && label_size)
        label[0] = '\0';
    if (len > FRAUD_JSON_LINE_MAX)
        return kassa_fail(err, KASSA_ECORRUPT, "event line of %zu bytes: more than %d", len,
                          FRAUD_JSON_LINE_MAX);
    json_error_t je;
    json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
    if (!o)
        return kassa_fail(err, KASSA_ECORRUPT, "event line: malformed JSON at byte %d",
                          je.position);
    int rc = KASSA_OK;
    bool have_kind = false, have_t = false, have_term = false;
    if (!json_is_object(o)) {
        rc = kassa_fail(err, KASSA_ECORRUPT, "event line: not a JSON object");
    } else {
        const char *key;
        json_t *v;
        json_object_foreach(o, key, v)
        {
            if (!parse_field(key, v, e, label, label_size, &have_kind, &have_t, &have_term)) {
                rc = kassa_fail(err, KASSA_ECORRUPT, "event line: bad or unknown field");
                break;
            }
        }
    }
    json_decref(o);
    if (rc == KASSA_OK && (!have_kind || !have_t || !have_term))
        rc = kassa_fail(err, KASSA_ECORRUPT, "event line: \"kind\", \"t\" and \"term\" needed");
    kassa_err check;
    if (rc == KASSA_OK && fraud_event_check(e, &check) != KASSA_OK)
        rc = kassa_fail(err, KASSA_ECORRUPT, "event line: %s", check.msg);
    if (rc != KASSA_OK) {
        memset(e, 0, sizeof *e);
        if (label && label_size)
            label[0] = '\0';
    }
    return rc;
}

void fraud_put(kbuf *b, const char *fmt, ...)
{
    char tmp[FRAUD_PUT_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp)
        b->oom = true;
    else
        kbuf_put(b, tmp, (size_t)n);
}

int fraud_event_to_json(const fraud_event *e, const char *label, kbuf *out, kassa_err *err)
{
    int rc = fraud_event_check(e, err);
    if (rc != KASSA_OK)
        return rc;
    if (label && (strlen(label) > FRAUD_LABEL_MAX || !label_ok(label)))
        return kassa_fail(err, KASSA_EINVAL, "event label: 0..%d of [A-Za-z0-9_]", FRAUD_LABEL_MAX);
    /* Ids, tokens and labels are [A-Za-z0-9._-]: nothing to escape. */
    fraud_put(out, "{\"kind\":\"%s\",\"t\":%" PRId64 ",\"term\":\"%s\"",
              fraud_event_kind_name(e->kind), e->time_ms, e->terminal);
    if (e->cashier[0])
        fraud_put(out, ",\"cashier\":\"%s\"", e->cashier);
    if (e->sale.origin[0])
        fraud_put(out, ",\"sale\":\"%s-%" PRIu64 "\"", e->sale.origin, e->sale.seq);
    static const struct {
        const char *name;
        size_t offset;
    } ints[] = {
        {"amount", offsetof(fraud_event, amount)},
        {"cash", offsetof(fraud_event, cash)},
        {"discount", offsetof(fraud_event, discount)},
        {"items", offsetof(fraud_event, items)},
    };
    for (size_t i = 0; i < KASSA_ARRAY_LEN(ints); i++) {
        int64_t v;
        memcpy(&v, (const char *)e + ints[i].offset, sizeof v);
        if (v)
            fraud_put(out, ",\"%s\":%" PRId64, ints[i].name, v);
    }
    if (e->token[0])
        fraud_put(out, ",\"token\":\"%s\"", e->token);
    static const struct {
        const char *name;
        uint8_t bit;
    } flags[] = {
        {"card", FRAUD_EVF_CARD},
        {"offline", FRAUD_EVF_OFFLINE},
        {"declined", FRAUD_EVF_DECLINED},
        {"no_receipt", FRAUD_EVF_NO_RECEIPT},
    };
    for (size_t i = 0; i < KASSA_ARRAY_LEN(flags); i++)
        if (e->flags & flags[i].bit)
            fraud_put(out, ",\"%s\":true", flags[i].name);
    if (label && label[0])
        fraud_put(out, ",\"label\":\"%s\"", label);
    fraud_put(out, "}\n");
    if (out->oom)
        return kassa_fail(err, KASSA_ENOMEM, "event line: out of memory");
    return KASSA_OK;
}
