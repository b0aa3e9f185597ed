/*
 * Unit tests for wire: frame parsing (complete, partial, oversized, unknown
 * type), Hello/Ack/OpsBatch round trips and every rejection the decoders
 * promise, and the size of a batch of sales on the wire.
 */
#include "testutil.h"
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "kassa_peer.pb-c.h"
#include "oplog/oplog.h"
#include "wire/wire.h"

/* ---- helpers ---- */

/* Parses exactly one whole frame from b and returns its payload. */
static wire_frame one_frame(const kbuf *b, uint8_t type)
{
    wire_frame f;
    size_t used;
    kassa_err err;
    assert_int_equal(wire_frame_parse(b->data, b->len, &f, &used, &err), KASSA_OK);
    assert_int_equal(used, b->len);
    assert_int_equal(f.type, type);
    return f;
}

static void pack_msg(const ProtobufCMessage *m, kbuf *out)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *p = malloc(n ? n : 1);
    assert_non_null(p);
    protobuf_c_message_pack(m, p);
    kbuf_init(out);
    kbuf_put(out, p, n);
    free(p);
}

static int decode_ops_raw(const uint8_t *raw, size_t n, kassa_err *err)
{
    size_t cap = ZSTD_compressBound(n);
    uint8_t *z = malloc(cap);
    assert_non_null(z);
    size_t zn = ZSTD_compress(z, cap, raw, n, 1);
    assert_false(ZSTD_isError(zn));
    wire_ops w;
    int rc = wire_decode_ops(z, zn, &w, err);
    if (rc == KASSA_OK)
        wire_ops_free(&w);
    else
        assert_null(w.ops);
    free(z);
    return rc;
}

static void expect_ops_rejected(const Kassa__Peer__OpsBatch *m, const char *needle)
{
    kbuf raw;
    pack_msg(&m->base, &raw);
    kassa_err err;
    assert_int_equal(decode_ops_raw(raw.data, raw.len, &err), KASSA_ECORRUPT);
    if (!tu_contains(err.msg, needle))
        fail_msg("'%s' does not mention '%s'", err.msg, needle);
    kbuf_free(&raw);
}

static uint8_t sale_payload_buf[1000][64];

/* n one-line sales from one origin, hash-chained like a real log. */
static oplog_op *make_sales(size_t n)
{
    oplog_op *ops = calloc(n, sizeof *ops);
    oplog_sale *s = calloc(1, sizeof *s);
    assert_non_null(ops);
    assert_non_null(s);
    uint8_t prev[OPLOG_HASH_SIZE] = {0};
    uint64_t rng = 0x1234567u;
    for (size_t i = 0; i < n; i++) {
        memset(s, 0, sizeof *s);
        snprintf(s->cashier, sizeof s->cashier, "c%02d", (int)(i / 200));
        s->n_lines = 1;
        oplog_sale_line *l = &s->lines[0];
        snprintf(l->sku, sizeof l->sku, "SKU-%04d", (int)tu_range(tu_xorshift64(&rng), 1, 400));
        l->qty = tu_range(tu_xorshift64(&rng), 1, 3);
        l->unit_price = tu_range(tu_xorshift64(&rng), 50, 5000);
        l->tax = l->qty * l->unit_price * 19 / 100;
        s->tendered = oplog_line_total(l) + tu_range(tu_xorshift64(&rng), 0, 2000);
        kbuf b;
        kbuf_init(&b);
        oplog_encode_sale(&b, s);
        assert_true(b.len <= sizeof sale_payload_buf[0]);
        memcpy(sale_payload_buf[i], b.data, b.len);
        oplog_op *op = &ops[i];
        strcpy(op->origin, "till-01");
        op->seq = i + 1;
        op->hlc = ((uint64_t)1790000000000 + i * 20000) << 16;
        op->kind = OP_SALE;
        op->payload = sale_payload_buf[i];
        op->payload_len = b.len;
        oplog_hash("store-1", prev, op, op->hash);
        memcpy(prev, op->hash, OPLOG_HASH_SIZE);
        kbuf_free(&b);
    }
    free(s);
    return ops;
}

/* ---- frames ---- */

static void test_frame_round_trip(void **state)
{
    (void)state;
    kbuf b;
    kbuf_init(&b);
    assert_int_equal(wire_frame_put(&b, WIRE_HEARTBEAT, NULL, 0, NULL), KASSA_OK);
    assert_int_equal(wire_frame_put(&b, WIRE_ACK, (const uint8_t *)"abc", 3, NULL), KASSA_OK);
    assert_int_equal(b.len, 2 * WIRE_HEADER_BYTES + 3);
    assert_memory_equal(b.data, "\0\0\0\0\4\0\0\0\3\3abc", b.len);
    wire_frame f;
    size_t used;
    assert_int_equal(wire_frame_parse(b.data, b.len, &f, &used, NULL), KASSA_OK);
    assert_int_equal(used, WIRE_HEADER_BYTES);
    assert_int_equal(f.type, WIRE_HEARTBEAT);
    assert_int_equal(f.payload_len, 0);
    assert_int_equal(wire_frame_parse(b.data + used, b.len - used, &f, &used, NULL), KASSA_OK);
    assert_int_equal(f.type, WIRE_ACK);
    assert_int_equal(f.payload_len, 3);
    assert_memory_equal(f.payload, "abc", 3);
    kbuf_free(&b);
}

static void test_frame_truncated_needs_more(void **state)
{
    (void)state;
    kbuf b;
    kbuf_init(&b);
    oplog_vv vv;
    oplog_vv_init(&vv);
    assert_int_equal(oplog_vv_set(&vv, "till-01", 42, NULL), KASSA_OK);
    assert_int_equal(wire_encode_hello(&b, "store-1", "till-02", &vv, NULL), KASSA_OK);
    for (size_t n = 0; n < b.len; n++) {
        wire_frame f;
        size_t used = 99;
        kassa_err err;
        assert_int_equal(wire_frame_parse(b.data, n, &f, &used, &err), WIRE_NEED_MORE);
        assert_int_equal(used, 0);
    }
    oplog_vv_free(&vv);
    kbuf_free(&b);
}

static void test_frame_oversized(void **state)
{
    (void)state;
    uint32_t n = WIRE_FRAME_MAX_BYTES + 1;
    uint8_t hdr[5] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n, 2};
    wire_frame f;
    size_t used;
    kassa_err err;
    /* The length alone is enough to refuse it. */
    assert_int_equal(wire_frame_parse(hdr, 4, &f, &used, &err), KASSA_ECORRUPT);
    assert_true(tu_contains(err.msg, "exceeds"));
    assert_int_equal(wire_frame_parse(hdr, 5, &f, &used, &err), KASSA_ECORRUPT);
    uint8_t big[4] = {0xff, 0xff, 0xff, 0xff};
    assert_int_equal(wire_frame_parse(big, 4, &f, &used, &err), KASSA_ECORRUPT);
    /* The largest allowed length is only waiting for bytes. */
    n = WIRE_FRAME_MAX_BYTES;
    uint8_t ok[5] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n, 2};
    assert_int_equal(wire_frame_parse(ok, 5, &f, &used, &err), WIRE_NEED_MORE);

    kbuf b;
    kbuf_init(&b);
    uint8_t *payload = calloc(1, WIRE_FRAME_MAX_BYTES + 1);
    assert_non_null(payload);
    assert_int_equal(wire_frame_put(&b, WIRE_ACK, payload, WIRE_FRAME_MAX_BYTES + 1, &err),
                     KASSA_EINVAL);
    assert_int_equal(b.len, 0);
    free(payload);
    kbuf_free(&b);
}

static void test_frame_unknown_type(void **state)
{
    (void)state;
    const uint8_t types[] = {0, WIRE_TYPE_MAX + 1, 0xff};
    for (size_t i = 0; i < KASSA_ARRAY_LEN(types); i++) {
        uint8_t fr[6] = {0, 0, 0, 1, types[i], 0};
        wire_frame f;
        size_t used;
        kassa_err err;
        assert_int_equal(wire_frame_parse(fr, sizeof fr, &f, &used, &err), KASSA_ECORRUPT);
        assert_true(tu_contains(err.msg, "unknown type"));
        /* Known as soon as the header is in, before the payload. */
        assert_int_equal(wire_frame_parse(fr, 5, &f, &used, &err), KASSA_ECORRUPT);
        kbuf b;
        kbuf_init(&b);
        assert_int_equal(wire_frame_put(&b, types[i], fr, 1, &err), KASSA_EINVAL);
        kbuf_free(&b);
    }
}

/* ---- Hello and Ack ---- */

static void test_hello_round_trip(void **state)
{
    (void)state;
    oplog_vv vv;
    oplog_vv_init(&vv);
    assert_int_equal(oplog_vv_set(&vv, "till-01", 42, NULL), KASSA_OK);
    assert_int_equal(oplog_vv_set(&vv, "till-02", OPLOG_SEQ_MAX, NULL), KASSA_OK);
    assert_int_equal(oplog_vv_set(&vv, "a", 1, NULL), KASSA_OK);
    const char *max_id = "abcdefghijklmnopqrstuvwxyz012345";
    for (int k = 0; k < 3; k++) {
        kbuf b;
        kbuf_init(&b);
        assert_int_equal(wire_encode_hello(&b, k == 2 ? max_id : "store-1", "till-02",
                                           k == 0 ? NULL : &vv, NULL),
                         KASSA_OK);
        wire_frame f = one_frame(&b, WIRE_HELLO);
        wire_hello h;
        kassa_err err;
        assert_int_equal(wire_decode_hello(f.payload, f.payload_len, &h, &err), KASSA_OK);
        assert_int_equal(h.protocol_version, WIRE_PROTOCOL_VERSION);
        assert_string_equal(h.store_id, k == 2 ? max_id : "store-1");
        assert_string_equal(h.node_id, "till-02");
        if (k == 0) {
            assert_int_equal(h.vv.n, 0);
        } else {
            assert_int_equal(h.vv.n, 3);
            assert_int_equal(oplog_vv_get(&h.vv, "till-01"), 42);
            assert_true(oplog_vv_get(&h.vv, "till-02") == OPLOG_SEQ_MAX);
            assert_int_equal(oplog_vv_get(&h.vv, "a"), 1);
        }
        wire_hello_free(&h);
        kbuf_free(&b);
    }
    oplog_vv_free(&vv);
}

static void test_hello_unknown_fields_tolerated(void **state)
{
    (void)state;
    kbuf b;
    kbuf_init(&b);
    assert_int_equal(wire_encode_hello(&b, "store-1", "till-02", NULL, NULL), KASSA_OK);
    /* Field 15 (varint) and field 16 (bytes): a newer peer's additions. */
    kbuf_put(&b, "\x78\x07\x82\x01\x02hi", 7);
    kbuf p;
    kbuf_init(&p);
    kbuf_put(&p, b.data + WIRE_HEADER_BYTES, b.len - WIRE_HEADER_BYTES);
    wire_hello h;
    assert_int_equal(wire_decode_hello(p.data, p.len, &h, NULL), KASSA_OK);
    assert_string_equal(h.node_id, "till-02");
    wire_hello_free(&h);
    kbuf_free(&p);
    kbuf_free(&b);
}

static void expect_hello(const Kassa__Peer__Hello *m, int code, const char *needle)
{
    kbuf raw;
    pack_msg(&m->base, &raw);
    wire_hello h;
    kassa_err err;
    assert_int_equal(wire_decode_hello(raw.data, raw.len, &h, &err), code);
    if (code == KASSA_OK) {
        wire_hello_free(&h);
    } else {
        assert_int_equal(h.vv.n, 0);
        if (!tu_contains(err.msg, needle))
            fail_msg("'%s' does not mention '%s'", err.msg, needle);
    }
    kbuf_free(&raw);
}

static ProtobufCBinaryData bin(const char *s, size_t n)
{
    ProtobufCBinaryData d = {n, (uint8_t *)s};
    return d;
}

static void test_hello_rejections(void **state)
{
    (void)state;
    Kassa__Peer__Hello m = KASSA__PEER__HELLO__INIT;
    m.protocol_version = WIRE_PROTOCOL_VERSION;
    m.store_id = bin("store-1", 7);
    m.node_id = bin("till-02", 7);
    expect_hello(&m, KASSA_OK, "");

    const uint32_t versions[] = {0, WIRE_PROTOCOL_VERSION + 1, UINT32_MAX};
    for (size_t i = 0; i < KASSA_ARRAY_LEN(versions); i++) {
        m.protocol_version = versions[i];
        expect_hello(&m, KASSA_EVERSION, "protocol version");
    }
    m.protocol_version = WIRE_PROTOCOL_VERSION;

    const ProtobufCBinaryData bad_ids[] = {bin("", 0), bin("bad id", 6), bin("st\0re", 5),
                                           bin("abcdefghijklmnopqrstuvwxyz0123456", 33),
                                           bin("caf\xc3\xa9", 5)};
    for (size_t i = 0; i < KASSA_ARRAY_LEN(bad_ids); i++) {
        m.store_id = bad_ids[i];
        expect_hello(&m, KASSA_ECORRUPT, "store id");
        m.store_id = bin("store-1", 7);
        m.node_id = bad_ids[i];
        expect_hello(&m, KASSA_ECORRUPT, "node id");
        m.node_id = bin("till-02", 7);
    }

    /* Version vector entries: bad origin, seq 0, seq over INT64_MAX, and
     * an origin named twice. */
    Kassa__Peer__VersionVector vv = KASSA__PEER__VERSION_VECTOR__INIT;
    Kassa__Peer__VersionVector__Entry e[2] = {KASSA__PEER__VERSION_VECTOR__ENTRY__INIT,
                                              KASSA__PEER__VERSION_VECTOR__ENTRY__INIT};
    Kassa__Peer__VersionVector__Entry *ep[2] = {&e[0], &e[1]};
    vv.entries = ep;
    vv.n_entries = 2;
    m.vv = &vv;
    e[0].origin = bin("till-01", 7);
    e[0].seq = 5;
    e[1].origin = bin("till-03", 7);
    e[1].seq = 9;
    expect_hello(&m, KASSA_OK, "");
    e[1].origin = bin("till 3", 6);
    expect_hello(&m, KASSA_ECORRUPT, "entry 2");
    e[1].origin = bin("till-03", 7);
    e[1].seq = 0;
    expect_hello(&m, KASSA_ECORRUPT, "entry 2");
    e[1].seq = OPLOG_SEQ_MAX + 1;
    expect_hello(&m, KASSA_ECORRUPT, "entry 2");
    e[1].seq = 3;
    e[1].origin = bin("till-01", 7);
    expect_hello(&m, KASSA_ECORRUPT, "twice");
}

static void test_bad_protobuf(void **state)
{
    (void)state;
    /* A length-delimited field running past the end; a varint that never
     * ends; a wire type protobuf does not define. */
    const struct {
        const char *b;
        size_t n;
    } bad[] = {{"\x12\x10store", 7},
               {"\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 12},
               {"\x0f\x01", 2}};
    for (size_t i = 0; i < KASSA_ARRAY_LEN(bad); i++) {
        wire_hello h;
        kassa_err err;
        const uint8_t *p = (const uint8_t *)bad[i].b;
        assert_int_equal(wire_decode_hello(p, bad[i].n, &h, &err), KASSA_ECORRUPT);
        assert_true(tu_contains(err.msg, "undecodable"));
        oplog_vv vv;
        oplog_vv_init(&vv);
        assert_int_equal(wire_decode_ack(p, bad[i].n, &vv, &err), KASSA_ECORRUPT);
        assert_int_equal(vv.n, 0);
        assert_int_equal(decode_ops_raw(p, bad[i].n, &err), KASSA_ECORRUPT);
        assert_true(tu_contains(err.msg, "undecodable"));
    }
    /* An empty Hello is decodable but has protocol version 0. */
    wire_hello h;
    kassa_err err;
    assert_int_equal(wire_decode_hello((const uint8_t *)"", 0, &h, &err), KASSA_EVERSION);
}

static void test_ack_round_trip(void **state)
{
    (void)state;
    oplog_vv vv, got;
    oplog_vv_init(&vv);
    oplog_vv_init(&got);
    for (int i = 0; i < 50; i++) {
        char o[16];
        snprintf(o, sizeof o, "till-%02d", i);
        assert_int_equal(oplog_vv_set(&vv, o, (uint64_t)i * 1000 + 1, NULL), KASSA_OK);
    }
    kbuf b;
    kbuf_init(&b);
    assert_int_equal(wire_encode_ack(&b, &vv, NULL), KASSA_OK);
    wire_frame f = one_frame(&b, WIRE_ACK);
    assert_int_equal(wire_decode_ack(f.payload, f.payload_len, &got, NULL), KASSA_OK);
    assert_int_equal(got.n, vv.n);
    for (size_t i = 0; i < vv.n; i++) {
        assert_string_equal(got.e[i].origin, vv.e[i].origin);
        assert_true(got.e[i].seq == vv.e[i].seq);
    }
    oplog_vv_free(&got);
    oplog_vv_free(&vv);
    kbuf_free(&b);
}

/* ---- OpsBatch ---- */

static void test_ops_round_trip_and_size(void **state)
{
    (void)state;
    const size_t n = 1000;
    oplog_op *ops = make_sales(n);
    kbuf b;
    kbuf_init(&b);
    assert_int_equal(wire_encode_ops(&b, ops, n, NULL), KASSA_OK);
    size_t payload_bytes = 0;
    for (size_t i = 0; i < n; i++)
        payload_bytes += ops[i].payload_len;
    printf("wire: %zu one-line sales in one OpsBatch frame: %zu bytes, %.1f bytes per sale "
           "(payloads alone %.1f, hashes 32)\n",
           n, b.len, (double)b.len / (double)n, (double)payload_bytes / (double)n);

    wire_frame f = one_frame(&b, WIRE_OPS_BATCH);
    wire_ops w;
    kassa_err err;
    assert_int_equal(wire_decode_ops(f.payload, f.payload_len, &w, &err), KASSA_OK);
    assert_int_equal(w.n_ops, n);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(w.ops[i].origin, ops[i].origin);
        assert_true(w.ops[i].seq == ops[i].seq);
        assert_true(w.ops[i].hlc == ops[i].hlc);
        assert_int_equal(w.ops[i].kind, ops[i].kind);
        assert_int_equal(w.ops[i].payload_len, ops[i].payload_len);
        assert_memory_equal(w.ops[i].payload, ops[i].payload, ops[i].payload_len);
        assert_memory_equal(w.ops[i].hash, ops[i].hash, OPLOG_HASH_SIZE);
        /* Owned copies, not pointers into the frame. */
        assert_true(w.ops[i].payload < f.payload || w.ops[i].payload >= f.payload + f.payload_len);
    }
    uint8_t prev[OPLOG_HASH_SIZE] = {0};
    for (size_t i = 0; i < n; i++) {
        assert_true(oplog_hash_ok("store-1", prev, &w.ops[i]));
        memcpy(prev, w.ops[i].hash, OPLOG_HASH_SIZE);
    }
    wire_ops_free(&w);
    assert_null(w.ops);

    /* An empty batch is valid. */
    kbuf_reset(&b);
    assert_int_equal(wire_encode_ops(&b, NULL, 0, NULL), KASSA_OK);
    f = one_frame(&b, WIRE_OPS_BATCH);
    assert_int_equal(wire_decode_ops(f.payload, f.payload_len, &w, NULL), KASSA_OK);
    assert_int_equal(w.n_ops, 0);
    wire_ops_free(&w);

    assert_int_equal(wire_encode_ops(&b, ops, WIRE_BATCH_MAX_OPS + 1, &err), KASSA_EINVAL);
    kbuf_free(&b);
    free(ops);
}

/* Encodes ops[0..2] after mutate() changed ops[1]; expects rejection. */
static void expect_bad_op(oplog_op *ops, const char *needle)
{
    kbuf b;
    kbuf_init(&b);
    assert_int_equal(wire_encode_ops(&b, ops, 3, NULL), KASSA_OK);
    wire_frame f = one_frame(&b, WIRE_OPS_BATCH);
    wire_ops w;
    kassa_err err;
    assert_int_equal(wire_decode_ops(f.payload, f.payload_len, &w, &err), KASSA_ECORRUPT);
    assert_null(w.ops);
    assert_int_equal(w.n_ops, 0);
    if (!tu_contains(err.msg, needle))
        fail_msg("'%s' does not mention '%s'", err.msg, needle);
    tu_check_msg(err.msg, sizeof err.msg);
    kbuf_free(&b);
}

static void test_ops_bad_fields(void **state)
{
    (void)state;
    oplog_op *ops = make_sales(3);
    oplog_op keep = ops[1];

    const char *bad_origins[] = {"", "till 1", "till/1", "\xc3\xa9"};
    for (size_t i = 0; i < KASSA_ARRAY_LEN(bad_origins); i++) {
        strcpy(ops[1].origin, bad_origins[i]);
        expect_bad_op(ops, "op 2 has an invalid origin");
    }
    ops[1] = keep;
    const uint64_t bad_seqs[] = {0, OPLOG_SEQ_MAX + 1, UINT64_MAX};
    for (size_t i = 0; i < KASSA_ARRAY_LEN(bad_seqs); i++) {
        ops[1].seq = bad_seqs[i];
        expect_bad_op(ops, "op 2 has seq or hlc out of range");
    }
    ops[1] = keep;
    ops[1].hlc = OPLOG_SEQ_MAX + 1;
    expect_bad_op(ops, "op 2 has seq or hlc out of range");
    ops[1] = keep;
    ops[1].kind = 0;
    expect_bad_op(ops, "op 2 has unknown kind");
    ops[1].kind = OP_KIND_MAX + 1;
    expect_bad_op(ops, "op 2 has unknown kind");
    ops[1] = keep;
    ops[1].payload_len = 0;
    expect_bad_op(ops, "till-01/2");
    ops[1].payload_len = keep.payload_len - 1;
    expect_bad_op(ops, "till-01/2");
    ops[1] = keep;
    ops[1].kind = OP_VOID; /* a sale's payload is not a void's */
    expect_bad_op(ops, "till-01/2");

    /* Fields an oplog_op cannot express: raw messages. */
    Kassa__Peer__Op o = KASSA__PEER__OP__INIT;
    Kassa__Peer__Op *op_ptr = &o;
    Kassa__Peer__OpsBatch m = KASSA__PEER__OPS_BATCH__INIT;
    m.n_ops = 1;
    m.ops = &op_ptr;
    o.origin = bin(keep.origin, strlen(keep.origin));
    o.seq = keep.seq;
    o.hlc = keep.hlc;
    o.kind = keep.kind;
    o.payload.data = (uint8_t *)keep.payload;
    o.payload.len = keep.payload_len;
    o.hash.data = keep.hash;
    o.hash.len = OPLOG_HASH_SIZE;
    kbuf raw;
    pack_msg(&m.base, &raw);
    assert_int_equal(decode_ops_raw(raw.data, raw.len, NULL), KASSA_OK);
    kbuf_free(&raw);
    o.kind = 256 + OP_SALE; /* would pass as a sale if narrowed first */
    expect_ops_rejected(&m, "unknown kind");
    o.kind = keep.kind;
    o.hash.len = OPLOG_HASH_SIZE - 1;
    expect_ops_rejected(&m, "hash of 31 bytes");
    o.hash.len = 0;
    expect_ops_rejected(&m, "hash of 0 bytes");
    o.hash.len = OPLOG_HASH_SIZE;
    o.origin = bin("ti\0l", 4);
    expect_ops_rejected(&m, "invalid origin");
    o.origin = bin("abcdefghijklmnopqrstuvwxyz0123456", 33);
    expect_ops_rejected(&m, "invalid origin");
    free(ops);
}

static void test_ops_too_many(void **state)
{
    (void)state;
    size_t n = WIRE_BATCH_MAX_OPS + 1;
    Kassa__Peer__Op *o = calloc(n, sizeof *o);
    Kassa__Peer__Op **p = calloc(n, sizeof *p);
    assert_non_null(o);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++) {
        kassa__peer__op__init(&o[i]);
        p[i] = &o[i];
    }
    Kassa__Peer__OpsBatch m = KASSA__PEER__OPS_BATCH__INIT;
    m.n_ops = n;
    m.ops = p;
    expect_ops_rejected(&m, "ops exceed");
    free(p);
    free(o);
}

static void test_ops_bad_zstd(void **state)
{
    (void)state;
    wire_ops w;
    kassa_err err;
    /* Not zstd at all, and nothing. */
    assert_int_equal(wire_decode_ops((const uint8_t *)"\x0a\x00", 2, &w, &err), KASSA_ECORRUPT);
    assert_int_equal(wire_decode_ops((const uint8_t *)"", 0, &w, &err), KASSA_ECORRUPT);

    /* A bomb: 9 MiB of zeroes compress to a few hundred bytes. */
    size_t big = WIRE_BATCH_MAX_DECOMPRESSED + (1u << 20);
    uint8_t *zeros = calloc(1, big);
    size_t cap = ZSTD_compressBound(big);
    uint8_t *z = malloc(cap);
    assert_non_null(zeros);
    assert_non_null(z);
    size_t zn = ZSTD_compress(z, cap, zeros, big, 1);
    assert_false(ZSTD_isError(zn));
    assert_true(zn < WIRE_FRAME_MAX_BYTES);
    assert_int_equal(wire_decode_ops(z, zn, &w, &err), KASSA_ECORRUPT);
    assert_true(tu_contains(err.msg, "over the maximum"));
    assert_null(w.ops);

    /* The same bomb without a declared size (streaming encoders omit it). */
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    assert_non_null(cc);
    assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 0)));
    ZSTD_inBuffer in = {zeros, big, 0};
    ZSTD_outBuffer out = {z, cap, 0};
    assert_int_equal(ZSTD_compressStream2(cc, &out, &in, ZSTD_e_end), 0);
    ZSTD_freeCCtx(cc);
    assert_int_equal(wire_decode_ops(z, out.pos, &w, &err), KASSA_ECORRUPT);
    assert_true(tu_contains(err.msg, "content size"));

    /* A valid batch, then truncated, then with trailing bytes, then with
     * a flipped byte in the compressed data. */
    oplog_op *ops = make_sales(20);
    kbuf b;
    kbuf_init(&b);
    assert_int_equal(wire_encode_ops(&b, ops, 20, NULL), KASSA_OK);
    const uint8_t *p = b.data + WIRE_HEADER_BYTES;
    size_t n = b.len - WIRE_HEADER_BYTES;
    for (size_t cut = 0; cut < n; cut++)
        assert_int_equal(wire_decode_ops(p, cut, &w, &err), KASSA_ECORRUPT);
    kbuf_put_u8(&b, 0);
    p = b.data + WIRE_HEADER_BYTES;
    assert_int_equal(wire_decode_ops(p, n + 1, &w, &err), KASSA_ECORRUPT);
    assert_true(tu_contains(err.msg, "exactly one zstd frame"));
    int rejected = 0;
    for (size_t i = 0; i < n; i++) {
        b.data[WIRE_HEADER_BYTES + i] ^= 0x40;
        int rc = wire_decode_ops(p, n, &w, &err);
        if (rc == KASSA_OK)
            wire_ops_free(&w);
        else
            rejected++;
        b.data[WIRE_HEADER_BYTES + i] ^= 0x40;
    }
    assert_true(rejected > 0);
    kbuf_free(&b);
    free(ops);
    free(z);
    free(zeros);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame_round_trip),
        cmocka_unit_test(test_frame_truncated_needs_more),
        cmocka_unit_test(test_frame_oversized),
        cmocka_unit_test(test_frame_unknown_type),
        cmocka_unit_test(test_hello_round_trip),
        cmocka_unit_test(test_hello_unknown_fields_tolerated),
        cmocka_unit_test(test_hello_rejections),
        cmocka_unit_test(test_bad_protobuf),
        cmocka_unit_test(test_ack_round_trip),
        cmocka_unit_test(test_ops_round_trip_and_size),
        cmocka_unit_test(test_ops_bad_fields),
        cmocka_unit_test(test_ops_too_many),
        cmocka_unit_test(test_ops_bad_zstd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
