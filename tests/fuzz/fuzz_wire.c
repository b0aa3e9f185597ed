/*
 * Fuzz target for the peer-link wire format (wire_frame_parse and the
 * Hello, Ack and OpsBatch decoders).
 *
 * Each input is read as a stream of frames, and also handed whole to every
 * payload decoder; for OpsBatch it is also compressed first, so mutations
 * get past zstd and reach the protobuf and op checks.
 *
 * Invariants:
 *  - frame parsing consumes nothing unless it returns a frame, never more
 *    than the input, and a frame's payload lies inside the input;
 *  - a failed decode gives ECORRUPT, EVERSION or ENOMEM with a one-line
 *    message and leaves nothing allocated;
 *  - whatever decodes has valid ids, seqs and payloads, every op that
 *    follows the op before it in the batch (same origin, seq one higher)
 *    has the chain hash, and encoding it again (hashes left out inside
 *    runs) and decoding the result gives the same values, hashes included.
 *
 * OpsBatch hashes are chained with FUZZ_WIRE_STORE, the store id the
 * corpus seeds were made with (tests/unit/test_wire.c writes them when
 * WIRE_SEED_DIR is set), so seeds with runs decode and mutations reach
 * past the chain checks.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "oplog/oplog.h"
#include "testutil.h"
#include "wire/wire.h"

#define FUZZ_WIRE_STORE "store-1"

static void check_fail(int rc, const kassa_err *err)
{
    tu_check(rc == KASSA_ECORRUPT || rc == KASSA_EVERSION || rc == KASSA_ENOMEM);
    tu_check(err->code == rc);
    tu_check_msg(err->msg, sizeof err->msg);
}

static void check_vv(const oplog_vv *vv)
{
    tu_check(vv->n <= OPLOG_VV_MAX);
    for (size_t i = 0; i < vv->n; i++) {
        tu_check(kassa_valid_id(vv->e[i].origin, KASSA_ID_MAX));
        tu_check(vv->e[i].seq >= 1 && vv->e[i].seq <= OPLOG_SEQ_MAX);
        if (i > 0)
            tu_check(strcmp(vv->e[i - 1].origin, vv->e[i].origin) < 0);
    }
}

static bool vv_eq(const oplog_vv *a, const oplog_vv *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->e[i].origin, b->e[i].origin) != 0 || a->e[i].seq != b->e[i].seq)
            return false;
    return true;
}

/* Frame in b holds exactly one frame of the type; returns its payload. */
static wire_frame reparse(const kbuf *b, uint8_t type)
{
    wire_frame f;
    size_t used;
    tu_check(wire_frame_parse(b->data, b->len, &f, &used, NULL) == KASSA_OK);
    tu_check(used == b->len && f.type == type);
    return f;
}

static void fuzz_frames(const uint8_t *data, size_t size)
{
    size_t pos = 0;
    for (;;) {
        wire_frame f;
        size_t used = 12345;
        kassa_err err;
        int rc = wire_frame_parse(data + pos, size - pos, &f, &used, &err);
        if (rc == WIRE_NEED_MORE) {
            tu_check(used == 0);
            return;
        }
        if (rc != KASSA_OK) {
            tu_check(used == 0 && rc == KASSA_ECORRUPT);
            check_fail(rc, &err);
            return;
        }
        tu_check(used == WIRE_HEADER_BYTES + f.payload_len && used <= size - pos);
        tu_check(f.type >= 1 && f.type <= WIRE_TYPE_MAX);
        tu_check(f.payload == data + pos + WIRE_HEADER_BYTES);
        tu_check(f.payload_len <= WIRE_FRAME_MAX_BYTES);
        pos += used;
    }
}

static void fuzz_hello(const uint8_t *data, size_t size)
{
    wire_hello h;
    kassa_err err;
    int rc = wire_decode_hello(data, size, &h, &err);
    if (rc != KASSA_OK) {
        check_fail(rc, &err);
        tu_check(h.vv.n == 0 && h.vv.e == NULL);
        return;
    }
    tu_check(h.protocol_version == WIRE_PROTOCOL_VERSION);
    tu_check(kassa_valid_id(h.store_id, KASSA_ID_MAX) && kassa_valid_id(h.node_id, KASSA_ID_MAX));
    check_vv(&h.vv);
    kbuf b;
    kbuf_init(&b);
    tu_check(wire_encode_hello(&b, h.store_id, h.node_id, &h.vv, NULL) == KASSA_OK);
    wire_frame f = reparse(&b, WIRE_HELLO);
    wire_hello g;
    tu_check(wire_decode_hello(f.payload, f.payload_len, &g, NULL) == KASSA_OK);
    tu_check(strcmp(g.store_id, h.store_id) == 0 && strcmp(g.node_id, h.node_id) == 0);
    tu_check(vv_eq(&g.vv, &h.vv));
    wire_hello_free(&g);
    wire_hello_free(&h);
    kbuf_free(&b);
}

static void fuzz_ack(const uint8_t *data, size_t size)
{
    static wire_linked linked, again;
    oplog_vv vv;
    oplog_vv_init(&vv);
    kassa_err err;
    int rc = wire_decode_ack(data, size, &vv, &linked, &err);
    if (rc != KASSA_OK) {
        check_fail(rc, &err);
        tu_check(vv.n == 0);
        oplog_vv_free(&vv);
        return;
    }
    check_vv(&vv);
    tu_check(linked.n <= WIRE_LINKED_MAX);
    for (size_t i = 0; i < linked.n; i++)
        tu_check(kassa_valid_id(linked.id[i], KASSA_ID_MAX));
    kbuf b;
    kbuf_init(&b);
    tu_check(wire_encode_ack(&b, &vv, &linked, NULL) == KASSA_OK);
    wire_frame f = reparse(&b, WIRE_ACK);
    oplog_vv g;
    oplog_vv_init(&g);
    tu_check(wire_decode_ack(f.payload, f.payload_len, &g, &again, NULL) == KASSA_OK);
    tu_check(vv_eq(&g, &vv));
    tu_check(again.n == linked.n);
    for (size_t i = 0; i < linked.n; i++)
        tu_check(strcmp(again.id[i], linked.id[i]) == 0);
    oplog_vv_free(&g);
    oplog_vv_free(&vv);
    kbuf_free(&b);
}

static bool op_eq(const oplog_op *a, const oplog_op *b)
{
    return strcmp(a->origin, b->origin) == 0 && a->seq == b->seq && a->hlc == b->hlc &&
           a->kind == b->kind && a->payload_len == b->payload_len &&
           (a->payload_len == 0 || memcmp(a->payload, b->payload, a->payload_len) == 0) &&
           memcmp(a->hash, b->hash, OPLOG_HASH_SIZE) == 0;
}

static void fuzz_ops(const uint8_t *data, size_t size)
{
    wire_ops w;
    kassa_err err;
    memset(&w, 0xa5, sizeof w);
    int rc = wire_decode_ops(FUZZ_WIRE_STORE, data, size, &w, &err);
    if (rc != KASSA_OK) {
        check_fail(rc, &err);
        tu_check(w.ops == NULL && w.payload_block == NULL && w.n_ops == 0);
        return;
    }
    tu_check(w.n_ops <= WIRE_BATCH_MAX_OPS);
    for (size_t i = 0; i < w.n_ops; i++) {
        const oplog_op *op = &w.ops[i];
        tu_check(kassa_valid_id(op->origin, KASSA_ID_MAX));
        tu_check(op->seq >= 1 && op->seq <= OPLOG_SEQ_MAX && op->hlc <= OPLOG_SEQ_MAX);
        tu_check(op->kind >= 1 && op->kind <= OP_KIND_MAX);
        tu_check(op->payload_len <= OPLOG_PAYLOAD_MAX);
        /* Owned: never a pointer into the input. */
        tu_check(op->payload + op->payload_len <= data || op->payload >= data + size);
        tu_check(oplog_validate_payload(op->kind, op->payload, op->payload_len, NULL) == KASSA_OK);
        const oplog_op *prev = i > 0 ? &w.ops[i - 1] : NULL;
        if (prev && op->seq == prev->seq + 1 && strcmp(op->origin, prev->origin) == 0)
            tu_check(oplog_hash_ok(FUZZ_WIRE_STORE, prev->hash, op));
    }
    kbuf b;
    kbuf_init(&b);
    tu_check(wire_encode_ops(&b, w.ops, w.n_ops, NULL) == KASSA_OK);
    wire_frame f = reparse(&b, WIRE_OPS_BATCH);
    wire_ops g;
    tu_check(wire_decode_ops(FUZZ_WIRE_STORE, f.payload, f.payload_len, &g, NULL) == KASSA_OK);
    tu_check(g.n_ops == w.n_ops);
    for (size_t i = 0; i < w.n_ops; i++)
        tu_check(op_eq(&g.ops[i], &w.ops[i]));
    wire_ops_free(&g);
    wire_ops_free(&w);
    tu_check(w.ops == NULL && w.n_ops == 0);
    kbuf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_frames(data, size);
    fuzz_hello(data, size);
    fuzz_ack(data, size);
    fuzz_ops(data, size);
    if (size <= 65536) {
        size_t cap = ZSTD_compressBound(size);
        uint8_t *z = malloc(cap);
        if (!z)
            return 0;
        size_t zn = ZSTD_compress(z, cap, data, size, 1);
        tu_check(!ZSTD_isError(zn));
        fuzz_ops(z, zn);
        free(z);
    }
    return 0;
}
