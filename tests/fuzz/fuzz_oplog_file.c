/*
 * Fuzz target for export files (oplog_file_parse).
 *
 * Each input is parsed twice: as given, and with its last 32 bytes replaced
 * by the correct checksum of the rest, so mutations get past the checksum
 * and reach the structure and payload checks.
 *
 * Invariants:
 *  - failure leaves nothing allocated and gives ECORRUPT, EVERSION or
 *    ENOMEM with a one-line message;
 *  - a parsed file has a valid store id, and every op a valid origin,
 *    seq > 0, a known kind, a valid payload borrowed from the input;
 *  - writing the parsed ops again and parsing the result gives identical
 *    ops; writing those again gives the same bytes, never more than the
 *    input, and exactly the input when it was the same length.
 */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oplog/oplog.h"

static void check(int ok)
{
    if (!ok)
        abort();
}

static void check_msg(const char *msg, size_t size)
{
    size_t n = strnlen(msg, size);
    check(n > 0 && n < size);
    for (size_t i = 0; i < n; i++)
        check(msg[i] >= 0x20 && msg[i] < 0x7f);
}

static int op_eq(const oplog_op *a, const oplog_op *b)
{
    return strcmp(a->origin, b->origin) == 0 && a->seq == b->seq && a->hlc == b->hlc &&
           a->kind == b->kind && a->payload_len == b->payload_len &&
           (a->payload_len == 0 || memcmp(a->payload, b->payload, a->payload_len) == 0) &&
           memcmp(a->hash, b->hash, OPLOG_HASH_SIZE) == 0;
}

static void write_file(const oplog_file *f, oplog_file_writer *w)
{
    oplog_file_begin(w, f->store_id);
    for (size_t i = 0; i < f->n_ops; i++)
        oplog_file_add(w, &f->ops[i]);
    check(oplog_file_finish(w, NULL) == KASSA_OK);
}

static void check_parsed(const uint8_t *data, size_t size, const oplog_file *f)
{
    check(memchr(f->store_id, '\0', sizeof f->store_id) != NULL);
    check(kassa_valid_id(f->store_id, KASSA_ID_MAX));
    check(f->ops != NULL);
    check(f->n_ops <= OPLOG_FILE_MAX_OPS);
    check(f->n_ops <= size / 38);
    for (size_t i = 0; i < f->n_ops; i++) {
        const oplog_op *op = &f->ops[i];
        check(memchr(op->origin, '\0', sizeof op->origin) != NULL);
        check(kassa_valid_id(op->origin, KASSA_ID_MAX));
        check(op->seq > 0);
        check(op->kind >= 1 && op->kind <= OP_KIND_MAX);
        check(op->payload_len >= 1 && op->payload_len <= OPLOG_PAYLOAD_MAX);
        check(op->payload >= data && op->payload + op->payload_len <= data + size);
        check(oplog_validate_payload(op->kind, op->payload, op->payload_len, NULL) == KASSA_OK);
    }
}

static void run(const uint8_t *data, size_t size)
{
    oplog_file f;
    kassa_err err;
    memset(&f, 0xa5, sizeof f);
    memset(&err, 0xa5, sizeof err);
    int rc = oplog_file_parse(data, size, &f, &err);
    if (rc != KASSA_OK) {
        check(rc == KASSA_ECORRUPT || rc == KASSA_EVERSION || rc == KASSA_ENOMEM);
        check(err.code == rc);
        check_msg(err.msg, sizeof err.msg);
        check(f.ops == NULL && f.n_ops == 0);
        oplog_file_free(&f);
        return;
    }
    check_parsed(data, size, &f);

    oplog_file_writer w;
    write_file(&f, &w);
    check(w.buf.len <= size);
    if (w.buf.len == size)
        check(memcmp(w.buf.data, data, size) == 0);

    oplog_file g;
    check(oplog_file_parse(w.buf.data, w.buf.len, &g, NULL) == KASSA_OK);
    check_parsed(w.buf.data, w.buf.len, &g);
    check(strcmp(f.store_id, g.store_id) == 0);
    check(f.n_ops == g.n_ops);
    for (size_t i = 0; i < f.n_ops; i++)
        check(op_eq(&f.ops[i], &g.ops[i]));

    oplog_file_writer w2;
    write_file(&g, &w2);
    check(w2.buf.len == w.buf.len && memcmp(w2.buf.data, w.buf.data, w.buf.len) == 0);

    oplog_file_writer_free(&w2);
    oplog_file_free(&g);
    oplog_file_writer_free(&w);
    oplog_file_free(&f);
    check(f.ops == NULL && f.n_ops == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    run(data, size);
    if (size >= OPLOG_HASH_SIZE) {
        uint8_t *copy = malloc(size);
        if (!copy)
            return 0;
        memcpy(copy, data, size);
        size_t body = size - OPLOG_HASH_SIZE;
        crypto_generichash(copy + body, OPLOG_HASH_SIZE, copy, body, NULL, 0);
        run(copy, size);
        free(copy);
    }
    return 0;
}
