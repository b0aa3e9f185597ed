/*
 * control.c: the "present" control message and its answer.
 *
 *   {"v":1,"type":"present","number":PAN,"expiry":"MM/YY"}
 *   {"v":1,"type":"present","behaviour":"timeout"|"disconnect"|"remove"}
 *   answer {"v":1,"type":"ok"} or {"v":1,"type":"error","message":M}
 *
 * The number is not checked here beyond its length and printable bytes: a
 * wrong number is a test of the read, which answers "unreadable".
 */
#include "readersim/readersim.h"

#include <jansson.h>
#include <string.h>

#define CONTROL_MESSAGE_MAX 127

void rs_present_wipe(rs_present *p)
{
    sodium_memzero(p, sizeof *p);
}

bool rs_parse_expiry(const char *s, int *month, int *year)
{
    if (strlen(s) != 5 || s[2] != '/')
        return false;
    for (int i = 0; i < 5; i++)
        if (i != 2 && (s[i] < '0' || s[i] > '9'))
            return false;
    int m = (s[0] - '0') * 10 + (s[1] - '0');
    if (m < 1 || m > 12)
        return false;
    *month = m;
    *year = 2000 + (s[3] - '0') * 10 + (s[4] - '0');
    return true;
}

bool rs_take_number(char *arg, rs_present *p)
{
    size_t n = strlen(arg);
    bool ok = n >= 1 && n <= RS_NUMBER_MAX;
    if (ok)
        memcpy(p->number, arg, n + 1);
    /* Out of the process list as soon as we have it. */
    sodium_memzero(arg, n);
    return ok;
}

static const char *behaviour_name(rs_present_kind k)
{
    switch (k) {
    case RS_PRESENT_TIMEOUT:
        return "timeout";
    case RS_PRESENT_DISCONNECT:
        return "disconnect";
    case RS_PRESENT_REMOVE:
        return "remove";
    case RS_PRESENT_CARD:
        break;
    }
    return NULL;
}

static bool printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e)
            return false;
    return true;
}

/* Writes obj as one line into out, from a buffer wiped afterwards (the
 * line may hold a card number). */
static int put_line(json_t *obj, kbuf *out, kassa_err *err)
{
    if (!obj)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory for a control message");
    char line[PAY_LINE_MAX_BYTES];
    size_t n = json_dumpb(obj, line, sizeof line - 1, JSON_COMPACT);
    json_decref(obj);
    int rc = KASSA_OK;
    if (n == 0 || n > sizeof line - 1) {
        rc = kassa_fail(err, KASSA_EINVAL, "control message too long");
    } else {
        line[n++] = '\n';
        kbuf_put(out, line, n);
        if (out->oom)
            rc = kassa_fail(err, KASSA_ENOMEM, "out of memory for a control message");
    }
    sodium_memzero(line, sizeof line);
    return rc;
}

int rs_present_encode(const rs_present *p, kbuf *out, kassa_err *err)
{
    int month, year;
    if (p->kind == RS_PRESENT_CARD) {
        size_t n = strnlen(p->number, sizeof p->number);
        if (n == 0 || n > RS_NUMBER_MAX || !printable(p->number))
            return kassa_fail(err, KASSA_EINVAL, "card number: expected 1..%d printable characters",
                              RS_NUMBER_MAX);
        if (!rs_parse_expiry(p->expiry, &month, &year))
            return kassa_fail(err, KASSA_EINVAL, "expiry: expected MM/YY");
        return put_line(json_pack("{s:i,s:s,s:s,s:s}", "v", PAY_VERSION, "type", "present",
                                  "number", p->number, "expiry", p->expiry),
                        out, err);
    }
    const char *b = behaviour_name(p->kind);
    if (!b)
        return kassa_fail(err, KASSA_EINVAL, "unknown present kind");
    return put_line(json_pack("{s:i,s:s,s:s}", "v", PAY_VERSION, "type", "present", "behaviour", b),
                    out, err);
}

static json_t *load_object(const char *line, size_t n, kassa_err *err)
{
    if (n > PAY_LINE_MAX_BYTES) {
        kassa_fail(err, KASSA_ECORRUPT, "control message longer than %d bytes", PAY_LINE_MAX_BYTES);
        return NULL;
    }
    if (n > 0 && line[n - 1] == '\n')
        n--;
    if (memchr(line, '\n', n)) {
        kassa_fail(err, KASSA_ECORRUPT, "control message: more than one line");
        return NULL;
    }
    json_t *o = json_loadb(line, n, JSON_REJECT_DUPLICATES, NULL);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        kassa_fail(err, KASSA_ECORRUPT, "control message: not a JSON object");
        return NULL;
    }
    json_t *v = json_object_get(o, "v");
    if (!json_is_integer(v) || json_integer_value(v) != PAY_VERSION) {
        json_decref(o);
        kassa_fail(err, KASSA_ECORRUPT, "control message: v: missing or unsupported");
        return NULL;
    }
    return o;
}

int rs_msg_type(const char *line, size_t n, char *type, size_t type_size, kassa_err *err)
{
    json_t *o = load_object(line, n, err);
    if (!o)
        return KASSA_ECORRUPT;
    const char *t = pay_json_str(o, "type", type_size - 1);
    int rc = KASSA_OK;
    if (t)
        memcpy(type, t, strlen(t) + 1);
    else
        rc = kassa_fail(err, KASSA_ECORRUPT, "message: type: missing or not a short string");
    json_decref(o);
    return rc;
}

int rs_present_decode(const char *line, size_t n, rs_present *p, kassa_err *err)
{
    memset(p, 0, sizeof *p);
    json_t *o = load_object(line, n, err);
    if (!o)
        return KASSA_ECORRUPT;
    int rc = KASSA_OK;
    const char *type = pay_json_str(o, "type", 16);
    const char *number = pay_json_str(o, "number", RS_NUMBER_MAX);
    const char *expiry = pay_json_str(o, "expiry", 5);
    const char *behaviour = pay_json_str(o, "behaviour", 16);
    int month, year;
    if (!type || strcmp(type, "present") != 0) {
        rc = kassa_fail(err, KASSA_ECORRUPT, "present: type: not \"present\"");
    } else if (behaviour && json_object_size(o) == 3) {
        if (strcmp(behaviour, "timeout") == 0)
            p->kind = RS_PRESENT_TIMEOUT;
        else if (strcmp(behaviour, "disconnect") == 0)
            p->kind = RS_PRESENT_DISCONNECT;
        else if (strcmp(behaviour, "remove") == 0)
            p->kind = RS_PRESENT_REMOVE;
        else
            rc = kassa_fail(err, KASSA_ECORRUPT,
                            "present: behaviour: expected timeout, disconnect or remove");
    } else if (number && expiry && json_object_size(o) == 4) {
        if (!printable(number))
            rc = kassa_fail(err, KASSA_ECORRUPT, "present: number: not printable");
        else if (!rs_parse_expiry(expiry, &month, &year))
            rc = kassa_fail(err, KASSA_ECORRUPT, "present: expiry: expected MM/YY");
        else {
            p->kind = RS_PRESENT_CARD;
            memcpy(p->number, number, strlen(number) + 1);
            memcpy(p->expiry, expiry, 6);
        }
    } else {
        rc = kassa_fail(err, KASSA_ECORRUPT,
                        "present: expected number (1..%d characters) and expiry, or behaviour",
                        RS_NUMBER_MAX);
    }
    /* The wiping allocator clears jansson's copy of the number on free. */
    json_decref(o);
    if (rc != KASSA_OK)
        rs_present_wipe(p);
    return rc;
}

int rs_control_reply_encode(const char *error_message, kbuf *out, kassa_err *err)
{
    if (!error_message)
        return put_line(json_pack("{s:i,s:s}", "v", PAY_VERSION, "type", "ok"), out, err);
    return put_line(
        json_pack("{s:i,s:s,s:s}", "v", PAY_VERSION, "type", "error", "message", error_message),
        out, err);
}

int rs_control_reply_decode(const char *line, size_t n, bool *ok, char *message,
                            size_t message_size, kassa_err *err)
{
    *ok = false;
    message[0] = '\0';
    json_t *o = load_object(line, n, err);
    if (!o)
        return KASSA_ECORRUPT;
    const char *type = pay_json_str(o, "type", 16);
    const char *m = pay_json_str(o, "message", CONTROL_MESSAGE_MAX);
    int rc = KASSA_OK;
    if (type && strcmp(type, "ok") == 0 && json_object_size(o) == 2) {
        *ok = true;
    } else if (type && strcmp(type, "error") == 0 && m && json_object_size(o) == 3) {
        /* Shown to a person: printable ASCII only. */
        size_t i = 0;
        for (; m[i] && i + 1 < message_size; i++)
            message[i] = m[i] >= 0x20 && m[i] < 0x7f ? m[i] : '?';
        message[i] = '\0';
    } else {
        rc = kassa_fail(err, KASSA_ECORRUPT, "the reader's answer is not ok or error");
    }
    json_decref(o);
    return rc;
}
