/*
 * Fuzz target for the text form of version vectors (oplog_vv_parse).
 *
 * Invariants:
 *  - failure leaves nothing allocated and gives EINVAL, EOVERFLOW or ENOMEM
 *    with a one-line message;
 *  - a parsed vector is sorted by origin without duplicates, has valid
 *    origins and at most OPLOG_VV_MAX entries, and answers oplog_vv_get
 *    for each of them;
 *  - format then parse gives the same vector, and formatting that again
 *    the same text.
 *
 *  - every seq is 1..INT64_MAX written in plain digits, and error messages
 *    are printable ASCII (they never echo the input's bytes).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oplog/oplog.h"
#include "testutil.h"

static void check_vv(const oplog_vv *vv)
{
    tu_check(vv->n <= OPLOG_VV_MAX);
    tu_check(vv->n == 0 || vv->e != NULL);
    for (size_t i = 0; i < vv->n; i++) {
        const oplog_vv_entry *e = &vv->e[i];
        tu_check(memchr(e->origin, '\0', sizeof e->origin) != NULL);
        tu_check(kassa_valid_id(e->origin, KASSA_ID_MAX));
        if (i > 0)
            tu_check(strcmp(vv->e[i - 1].origin, e->origin) < 0);
        tu_check(oplog_vv_get(vv, e->origin) == e->seq);
        tu_check(e->seq > 0);
    }
}

/* In an accepted text, the second field of every non-blank line is plain
 * digits (no sign, no overflow beyond 20 digits). */
static void check_digits_only(const uint8_t *data, size_t size)
{
    size_t i = 0;
    while (i < size) {
        size_t end = i;
        while (end < size && data[end] != '\n')
            end++;
        size_t j = i;
        while (j < end && (data[j] == ' ' || data[j] == '\t' || data[j] == '\r'))
            j++;
        while (j < end && data[j] != ' ' && data[j] != '\t' && data[j] != '\r')
            j++;
        while (j < end && (data[j] == ' ' || data[j] == '\t' || data[j] == '\r'))
            j++;
        size_t digits = 0;
        while (j < end && data[j] != ' ' && data[j] != '\t' && data[j] != '\r') {
            tu_check(data[j] >= '0' && data[j] <= '9');
            digits++;
            j++;
        }
        tu_check(digits <= 20);
        i = end + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    oplog_vv vv;
    kassa_err err;
    memset(&vv, 0xa5, sizeof vv);
    memset(&err, 0xa5, sizeof err);
    int rc = oplog_vv_parse((const char *)data, size, &vv, &err);
    if (rc != KASSA_OK) {
        tu_check(rc == KASSA_EINVAL || rc == KASSA_EOVERFLOW || rc == KASSA_ENOMEM);
        tu_check(err.code == rc);
        tu_check_msg(err.msg, sizeof err.msg);
        tu_check(vv.n == 0 && vv.e == NULL);
        return 0;
    }
    check_vv(&vv);
    check_digits_only(data, size);

    kbuf text;
    kbuf_init(&text);
    oplog_vv_format(&vv, &text);
    tu_check(!text.oom);
    /* One line per entry. */
    size_t lines = 0;
    for (size_t i = 0; i < text.len; i++)
        lines += text.data[i] == '\n';
    tu_check(lines == vv.n);

    oplog_vv back;
    tu_check(oplog_vv_parse((const char *)text.data, text.len, &back, NULL) == KASSA_OK);
    check_vv(&back);
    tu_check(back.n == vv.n);
    for (size_t i = 0; i < vv.n; i++) {
        tu_check(strcmp(back.e[i].origin, vv.e[i].origin) == 0);
        tu_check(back.e[i].seq == vv.e[i].seq);
    }

    kbuf again;
    kbuf_init(&again);
    oplog_vv_format(&back, &again);
    tu_check(again.len == text.len &&
             (text.len == 0 || memcmp(again.data, text.data, text.len) == 0));

    kbuf_free(&again);
    oplog_vv_free(&back);
    kbuf_free(&text);
    oplog_vv_free(&vv);
    tu_check(vv.n == 0 && vv.e == NULL);
    return 0;
}
