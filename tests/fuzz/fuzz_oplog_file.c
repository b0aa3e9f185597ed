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
#include "testutil.h"

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
    tu_check(oplog_file_finish(w, NULL) == KASSA_OK);
}

static void check_parsed(const uint8_t *data, size_t size, const oplog_file *f)
{
    tu_check(memchr(f->store_id, '\0', sizeof f->store_id) != NULL);
    tu_check(kassa_valid_id(f->store_id, KASSA_ID_MAX));
    tu_check(f->ops != NULL);
    tu_check(f->n_ops <= OPLOG_FILE_MAX_OPS);
    tu_check(f->n_ops <= size / 38);
    for (size_t i = 0; i < f->n_ops; i++) {
        const oplog_op *op = &f->ops[i];
        tu_check(memchr(op->origin, '\0', sizeof op->origin) != NULL);
        tu_check(kassa_valid_id(op->origin, KASSA_ID_MAX));
        tu_check(op->seq > 0);
        tu_check(op->kind >= 1 && op->kind <= OP_KIND_MAX);
        tu_check(op->payload_len >= 1 && op->payload_len <= OPLOG_PAYLOAD_MAX);
        tu_check(op->payload >= data && op->payload + op->payload_len <= data + size);
        tu_check(oplog_validate_payload(op->kind, op->payload, op->payload_len, NULL) == KASSA_OK);
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
        tu_check(rc == KASSA_ECORRUPT || rc == KASSA_EVERSION || rc == KASSA_ENOMEM);
        tu_check(err.code == rc);
        tu_check_msg(err.msg, sizeof err.msg);
        tu_check(f.ops == NULL && f.n_ops == 0);
        oplog_file_free(&f);
        return;
    }
    check_parsed(data, size, &f);

    oplog_file_writer w;
    write_file(&f, &w);
    tu_check(w.buf.len <= size);
    if (w.buf.len == size)
        tu_check(memcmp(w.buf.data, data, size) == 0);

    oplog_file g;
    tu_check(oplog_file_parse(w.buf.data, w.buf.len, &g, NULL) == KASSA_OK);
    check_parsed(w.buf.data, w.buf.len, &g);
    tu_check(strcmp(f.store_id, g.store_id) == 0);
    tu_check(f.n_ops == g.n_ops);
    for (size_t i = 0; i < f.n_ops; i++)
        tu_check(op_eq(&f.ops[i], &g.ops[i]));

    oplog_file_writer w2;
    write_file(&g, &w2);
    tu_check(w2.buf.len == w.buf.len && memcmp(w2.buf.data, w.buf.data, w.buf.len) == 0);

    oplog_file_writer_free(&w2);
    oplog_file_free(&g);
    oplog_file_writer_free(&w);
    oplog_file_free(&f);
    tu_check(f.ops == NULL && f.n_ops == 0);
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
