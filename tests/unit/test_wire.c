/*
 * Unit tests for wire: frame parsing (complete, partial, oversized, unknown
 * type), Hello/Ack/OpsBatch round trips and every rejection the decoders
 * promise, the hashes left out inside origin runs (restored, checked at
 * the end of each run), the size of a batch of sales on the wire, and the
 * fuzz corpus seeds (written out when WIRE_SEED_DIR is set).
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

/* The store every batch here is chained in (and the fuzz corpus too). */
#define TW_STORE "store-1"

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
    int rc = wire_decode_ops(TW_STORE, z, zn, &w, err);
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

#define TW_SALES_MAX 1000
static uint8_t sale_payload_buf[TW_SALES_MAX][64];

/* Sets origin and seqs first_seq.. on ops[0..n) and chains their hashes
 * from prev, as the origin's log would. */
static void rechain(oplog_op *ops, size_t n, const char *origin, uint64_t first_seq,
                    const uint8_t prev_in[OPLOG_HASH_SIZE])
{
    uint8_t prev[OPLOG_HASH_SIZE];
    memcpy(prev, prev_in, OPLOG_HASH_SIZE);
    for (size_t i = 0; i < n; i++) {
        snprintf(ops[i].origin, sizeof ops[i].origin, "%s", origin);
        ops[i].seq = first_seq + i;
        oplog_hash(TW_STORE, prev, &ops[i], ops[i].hash);
        memcpy(prev, ops[i].hash, OPLOG_HASH_SIZE);
    }
}

/* n one-line sales from one origin, hash-chained like a real log. */
static oplog_op *make_sales(size_t n)
{
    assert_true(n <= TW_SALES_MAX);
    oplog_op *ops = calloc(n, sizeof *ops);
    oplog_sale *s = calloc(1, sizeof *s);
    assert_non_null(ops);
    assert_non_null(s);
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
        assert_false(b.oom);
        assert_true(b.len <= sizeof sale_payload_buf[0]);
        memcpy(sale_payload_buf[i], b.data, b.len);
        oplog_op *op = &ops[i];
        op->hlc = ((uint64_t)1790000000000 + i * 20000) << 16;
        op->kind = OP_SALE;
        op->payload = sale_payload_buf[i];
        op->payload_len = b.len;
        kbuf_free(&b);
    }
    static const uint8_t zero[OPLOG_HASH_SIZE];
    rechain(ops, n, "till-01", 1, zero);
    free(s);
    return ops;
}

/* The hash lengths on the wire of the OpsBatch frame in b, in lens[0..n):
 * what the encoder left out. */
static void wire_hash_lens(const kbuf *b, size_t n, size_t *lens)
{
    wire_frame f = one_frame(b, WIRE_OPS_BATCH);
    unsigned long long raw_n = ZSTD_getFrameContentSize(f.payload, f.payload_len);
    assert_true(raw_n <= WIRE_BATCH_MAX_DECOMPRESSED);
    uint8_t *raw = malloc(raw_n ? (size_t)raw_n : 1);
    assert_non_null(raw);
    assert_int_equal(ZSTD_decompress(raw, (size_t)raw_n, f.payload, f.payload_len), raw_n);
    Kassa__Peer__OpsBatch *m = kassa__peer__ops_batch__unpack(NULL, (size_t)raw_n, raw);
    assert_non_null(m);
    assert_int_equal(m->n_ops, n);
    for (size_t i = 0; i < n; i++)
        lens[i] = m->ops[i]->hash.len;
    kassa__peer__ops_batch__free_unpacked(m, NULL);
    free(raw);
}

/* Encodes ops, checks which hashes went on the wire (carried[i]: 1 or 0)
 * and that decoding gives back every field of every op, full hashes
 * included. */
static void round_trip(const oplog_op *ops, size_t n, const int *carried)
{
    kbuf b;
    kbuf_init(&b);
    assert_int_equal(wire_encode_ops(&b, ops, n, NULL), KASSA_OK);
    size_t *lens = calloc(n ? n : 1, sizeof *lens);
    assert_non_null(lens);
    wire_hash_lens(&b, n, lens);
    for (size_t i = 0; i < n; i++)
        if (lens[i] != (carried[i] ? OPLOG_HASH_SIZE : 0))
            fail_msg("op %zu: hash of %zu bytes on the wire, expected %s", i + 1, lens[i],
                     carried[i] ? "32" : "none");
    free(lens);

    wire_frame f = one_frame(&b, WIRE_OPS_BATCH);
    wire_ops w;
    kassa_err err;
    if (wire_decode_ops(TW_STORE, f.payload, f.payload_len, &w, &err) != KASSA_OK)
        fail_msg("decode: %s", err.msg);
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
    wire_ops_free(&w);
    assert_null(w.ops);
    kbuf_free(&b);
}

/* A raw OpsBatch message over ops, every hash carried unless hash_len[i]
 * says otherwise (-1: keep). The message borrows from ops. */
typedef struct tw_batch {
    Kassa__Peer__OpsBatch m;
    Kassa__Peer__Op o[16];
    Kassa__Peer__Op *p[16];
} tw_batch;

static void tw_batch_build(tw_batch *t, const oplog_op *ops, size_t n)
{
    assert_true(n <= KASSA_ARRAY_LEN(t->o));
    kassa__peer__ops_batch__init(&t->m);
    for (size_t i = 0; i < n; i++) {
        kassa__peer__op__init(&t->o[i]);
        t->o[i].origin.data = (uint8_t *)ops[i].origin;
        t->o[i].origin.len = strlen(ops[i].origin);
        t->o[i].seq = ops[i].seq;
        t->o[i].hlc = ops[i].hlc;
        t->o[i].kind = ops[i].kind;
        t->o[i].payload.data = (uint8_t *)ops[i].payload;
        t->o[i].payload.len = ops[i].payload_len;
        t->o[i].hash.data = (uint8_t *)ops[i].hash;
        t->o[i].hash.len = OPLOG_HASH_SIZE;
        t->p[i] = &t->o[i];
    }
    t->m.n_ops = n;
    t->m.ops = t->p;
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
        assert_int_equal(wire_decode_ack(p, bad[i].n, &vv, NULL, &err), KASSA_ECORRUPT);
        assert_int_equal(vv.n, 0);
        assert_int_equal(decode_ops_raw(p, bad[i].n, &err), KASSA_ECORRUPT);
        assert_true(tu_contains(err.msg, "undecodable"));
    }
    /* An empty Hello is decodable but has protocol version 0. */
    wire_hello h;
    kassa_err err;
    assert_int_equal(wire_decode_hello((const uint8_t *)"", 0, &h, &err), KASSA_EVERSION);
}

/* An Ack carries the sender's links: what a peer relays depends on them. */
static void test_ack_linked(void **state)
{
    (void)state;
    static wire_linked linked, got_linked;
    oplog_vv vv, got;
    oplog_vv_init(&vv);
    oplog_vv_init(&got);
    assert_int_equal(oplog_vv_set(&vv, "T1", 7, NULL), KASSA_OK);
    linked.n = 3;
    snprintf(linked.id[0], sizeof linked.id[0], "T2");
    snprintf(linked.id[1], sizeof linked.id[1], "T3");
    snprintf(linked.id[2], sizeof linked.id[2], "till-9");
    kbuf b;
    kbuf_init(&b);
    assert_int_equal(wire_encode_ack(&b, &vv, &linked, NULL), KASSA_OK);
    wire_frame f = one_frame(&b, WIRE_ACK);
    got_linked.n = 99;
    assert_int_equal(wire_decode_ack(f.payload, f.payload_len, &got, &got_linked, NULL), KASSA_OK);
    assert_int_equal(got_linked.n, 3);
    for (size_t i = 0; i < 3; i++)
        assert_string_equal(got_linked.id[i], linked.id[i]);
    assert_int_equal(got.n, 1);
    oplog_vv_free(&got);
    oplog_vv_init(&got);

    /* A bad id in the list: the Ack is refused whole. Field 2, 3 bytes. */
    static const uint8_t bad_id[] = {0x12, 0x03, 'T', ' ', '1'};
    static const uint8_t nul_id[] = {0x12, 0x03, 'T', 0, '1'};
    static const uint8_t empty_id[] = {0x12, 0x00};
    kassa_err err;
    assert_int_equal(wire_decode_ack(bad_id, sizeof bad_id, &got, &got_linked, &err),
                     KASSA_ECORRUPT);
    assert_non_null(strstr(err.msg, "linked"));
    assert_int_equal(wire_decode_ack(nul_id, sizeof nul_id, &got, &got_linked, &err),
                     KASSA_ECORRUPT);
    assert_int_equal(wire_decode_ack(empty_id, sizeof empty_id, &got, NULL, &err), KASSA_ECORRUPT);
    /* Too many linked nodes: refused when encoding and when decoding. */
    linked.n = WIRE_LINKED_MAX + 1;
    kbuf_reset(&b);
    assert_int_equal(wire_encode_ack(&b, &vv, &linked, &err), KASSA_EINVAL);
    kbuf many;
    kbuf_init(&many);
    for (int i = 0; i <= WIRE_LINKED_MAX; i++) {
        static const uint8_t one[] = {0x12, 0x02, 'T', '1'};
        kbuf_put(&many, one, sizeof one);
    }
    assert_int_equal(wire_decode_ack(many.data, many.len, &got, &got_linked, &err), KASSA_ECORRUPT);
    assert_int_equal(got.n, 0);
    kbuf_free(&many);
    oplog_vv_free(&got);
    oplog_vv_free(&vv);
    kbuf_free(&b);
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
    assert_int_equal(wire_encode_ack(&b, &vv, NULL, NULL), KASSA_OK);
    wire_frame f = one_frame(&b, WIRE_ACK);
    assert_int_equal(wire_decode_ack(f.payload, f.payload_len, &got, NULL, NULL), KASSA_OK);
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

static void test_ops_round_trip_elided(void **state)
{
    (void)state;
    const size_t n = 50;
    oplog_op *ops = make_sales(n);
    int carried[50] = {0};
    carried[0] = carried[n - 1] = 1;
    round_trip(ops, n, carried);

    /* The restored hashes are the origin's chain from seq 1. */
    kbuf b;
    kbuf_init(&b);
    assert_int_equal(wire_encode_ops(&b, ops, n, NULL), KASSA_OK);
    wire_frame f = one_frame(&b, WIRE_OPS_BATCH);
    wire_ops w;
    assert_int_equal(wire_decode_ops(TW_STORE, f.payload, f.payload_len, &w, NULL), KASSA_OK);
    uint8_t prev[OPLOG_HASH_SIZE] = {0};
    for (size_t i = 0; i < n; i++) {
        assert_true(oplog_hash_ok(TW_STORE, prev, &w.ops[i]));
        memcpy(prev, w.ops[i].hash, OPLOG_HASH_SIZE);
    }
    wire_ops_free(&w);

    /* Runs of one and two ops carry every hash. */
    round_trip(ops, 1, carried);
    int both[2] = {1, 1};
    round_trip(ops, 2, both);
    int three[3] = {1, 0, 1};
    round_trip(ops, 3, three);

    /* A batch with every hash on the wire (an encoder that elides
     * nothing) is accepted, each hash checked against the chain. */
    tw_batch t;
    tw_batch_build(&t, ops, 16);
    kbuf raw;
    pack_msg(&t.m.base, &raw);
    kassa_err err;
    if (decode_ops_raw(raw.data, raw.len, &err) != KASSA_OK)
        fail_msg("all hashes carried: %s", err.msg);
    kbuf_free(&raw);

    /* An empty batch is valid. */
    kbuf_reset(&b);
    assert_int_equal(wire_encode_ops(&b, NULL, 0, NULL), KASSA_OK);
    f = one_frame(&b, WIRE_OPS_BATCH);
    assert_int_equal(wire_decode_ops(TW_STORE, f.payload, f.payload_len, &w, NULL), KASSA_OK);
    assert_int_equal(w.n_ops, 0);
    wire_ops_free(&w);

    /* The store id is the caller's: an invalid one is its bug. */
    const char *bad_stores[] = {"", "store 1", "abcdefghijklmnopqrstuvwxyz0123456"};
    for (size_t i = 0; i < KASSA_ARRAY_LEN(bad_stores); i++) {
        assert_int_equal(wire_decode_ops(bad_stores[i], f.payload, f.payload_len, &w, &err),
                         KASSA_EINVAL);
        assert_null(w.ops);
    }
    assert_int_equal(wire_decode_ops(NULL, f.payload, f.payload_len, &w, &err), KASSA_EINVAL);
    kbuf_free(&b);
    free(ops);
}

static void test_ops_two_origins_interleaved(void **state)
{
    (void)state;
    oplog_op *src = make_sales(13);
    static const uint8_t zero[OPLOG_HASH_SIZE];
    /* a1..a6 from till-01, b1..b6 from till-02, c7 alone from till-03. */
    rechain(src, 6, "till-01", 1, zero);
    rechain(src + 6, 6, "till-02", 1, zero);
    uint8_t c_prev[OPLOG_HASH_SIZE];
    memset(c_prev, 0x5a, sizeof c_prev);
    rechain(src + 12, 1, "till-03", 7, c_prev);
    /* a1 a2 a3 | b1 b2 | a4 a5 a6 | c7 | b3 b4 b5 b6: five runs. */
    const size_t order[] = {0, 1, 2, 6, 7, 3, 4, 5, 12, 8, 9, 10, 11};
    const int carried[] = {1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 0, 0, 1};
    oplog_op ops[13];
    for (size_t i = 0; i < KASSA_ARRAY_LEN(order); i++)
        ops[i] = src[order[i]];
    round_trip(ops, KASSA_ARRAY_LEN(ops), carried);

    /* The same seq twice in a row is no run: both hashes go. */
    oplog_op dup[2] = {src[0], src[0]};
    int dup_carried[2] = {1, 1};
    round_trip(dup, 2, dup_carried);
    free(src);
}

static void test_ops_run_mid_log(void **state)
{
    (void)state;
    /* The batch starts at seq 101: the receiver may not hold seq 100, so
     * the first op carries its hash (chained from seq 100's). */
    oplog_op *ops = make_sales(120);
    int carried[20] = {0};
    carried[0] = carried[19] = 1;
    round_trip(ops + 100, 20, carried);

    kbuf b;
    kbuf_init(&b);
    assert_int_equal(wire_encode_ops(&b, ops + 100, 20, NULL), KASSA_OK);
    wire_frame f = one_frame(&b, WIRE_OPS_BATCH);
    wire_ops w;
    assert_int_equal(wire_decode_ops(TW_STORE, f.payload, f.payload_len, &w, NULL), KASSA_OK);
    assert_true(w.ops[0].seq == 101);
    assert_memory_equal(w.ops[0].hash, ops[100].hash, OPLOG_HASH_SIZE);
    assert_true(oplog_hash_ok(TW_STORE, ops[99].hash, &w.ops[0]));
    wire_ops_free(&w);
    kbuf_free(&b);
    free(ops);
}

/* Encodes ops (hashes left out inside runs) and expects decoding with
 * store to fail with ECORRUPT mentioning needle. */
static void expect_batch_rejected(const char *store, const oplog_op *ops, size_t n,
                                  const char *needle)
{
    kbuf b;
    kbuf_init(&b);
    assert_int_equal(wire_encode_ops(&b, ops, n, NULL), KASSA_OK);
    wire_frame f = one_frame(&b, WIRE_OPS_BATCH);
    wire_ops w;
    kassa_err err;
    assert_int_equal(wire_decode_ops(store, f.payload, f.payload_len, &w, &err), KASSA_ECORRUPT);
    assert_null(w.ops);
    assert_null(w.payload_block);
    assert_int_equal(w.n_ops, 0);
    if (!tu_contains(err.msg, needle))
        fail_msg("'%s' does not mention '%s'", err.msg, needle);
    tu_check_msg(err.msg, sizeof err.msg);
    kbuf_free(&b);
}

static void test_ops_tampered_in_run(void **state)
{
    (void)state;
    /* An op in the middle of a run altered after it was hashed (its hash
     * is not on the wire): still a valid sale, so only the chain can tell,
     * and the end-of-run hash does. */
    oplog_op *ops = make_sales(12);
    const size_t n = 10;
    oplog_op keep = ops[4];
    ops[4].payload = ops[11].payload;
    ops[4].payload_len = ops[11].payload_len;
    expect_batch_rejected(TW_STORE, ops, n, "till-01/10: hash chain broken");
    expect_batch_rejected(TW_STORE, ops, n, "after till-01/1 ");
    ops[4] = keep;
    ops[4].hlc += 1;
    expect_batch_rejected(TW_STORE, ops, n, "till-01/10: hash chain broken");
    ops[4] = keep;
    /* The last op itself altered. */
    ops[n - 1].hlc += 1;
    expect_batch_rejected(TW_STORE, ops, n, "till-01/10: hash chain broken");
    ops[n - 1].hlc -= 1;
    /* Intact it decodes; with another store's id in the chain it does not. */
    int carried[10] = {1, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    round_trip(ops, n, carried);
    expect_batch_rejected("store-2", ops, n, "hash chain broken");
    free(ops);
}

static void test_ops_missing_hash_no_predecessor(void **state)
{
    (void)state;
    oplog_op *ops = make_sales(4);
    tw_batch t;
    tw_batch_build(&t, ops, 3);
    kbuf raw;
    pack_msg(&t.m.base, &raw);
    assert_int_equal(decode_ops_raw(raw.data, raw.len, NULL), KASSA_OK);
    kbuf_free(&raw);

    /* First op of the batch. */
    t.o[0].hash.len = 0;
    expect_ops_rejected(&t.m, "op till-01/1 has no hash and does not follow its predecessor");
    t.o[0].hash.len = OPLOG_HASH_SIZE;
    /* After another origin. */
    t.o[1].origin.data = (uint8_t *)"till-02";
    t.o[1].hash.len = 0;
    expect_ops_rejected(&t.m, "op till-02/2 has no hash and does not follow");
    t.o[1].origin.data = (uint8_t *)ops[1].origin;
    /* After a gap in seq: the op before it is seq 2, it is seq 4. */
    t.o[2].seq = 4;
    t.o[2].hash.len = 0;
    expect_ops_rejected(&t.m, "op till-01/4 has no hash and does not follow");
    /* After the same seq, and after a higher one. */
    t.o[2].seq = 2;
    expect_ops_rejected(&t.m, "op till-01/2 has no hash and does not follow");
    t.o[2].seq = 1;
    expect_ops_rejected(&t.m, "op till-01/1 has no hash and does not follow");
    t.o[2].seq = 3;
    assert_int_equal(t.m.n_ops, 3);
    /* Restored, it decodes: the hash is computed from op 2's. */
    pack_msg(&t.m.base, &raw);
    assert_int_equal(decode_ops_raw(raw.data, raw.len, NULL), KASSA_OK);
    kbuf_free(&raw);
    free(ops);
}

static void test_ops_wrong_hash_in_run(void **state)
{
    (void)state;
    oplog_op *ops = make_sales(5);
    tw_batch t;
    uint8_t bad[OPLOG_HASH_SIZE];
    /* A carried hash that is not the chain hash, at each place of a run
     * of five where it follows the op before it: middle and last. */
    for (size_t k = 1; k < 5; k++) {
        tw_batch_build(&t, ops, 5);
        for (size_t i = 1; i < 4; i++)
            t.o[i].hash.len = 0;
        memcpy(bad, ops[k].hash, sizeof bad);
        bad[7] ^= 1;
        t.o[k].hash.data = bad;
        t.o[k].hash.len = OPLOG_HASH_SIZE;
        char needle[64];
        snprintf(needle, sizeof needle, "till-01/%zu: hash chain broken", k + 1);
        expect_ops_rejected(&t.m, needle);
        /* Another op's valid hash is just as wrong. */
        t.o[k].hash.data = ops[k - 1].hash;
        expect_ops_rejected(&t.m, needle);
    }
    /* A wrong hash on the first op of a run is the receiver's to find
     * (it needs the log): the rest of the run chains from it and the end
     * check fails, since the last hash was chained from the true one. */
    tw_batch_build(&t, ops, 5);
    for (size_t i = 1; i < 4; i++)
        t.o[i].hash.len = 0;
    memcpy(bad, ops[0].hash, sizeof bad);
    bad[0] ^= 0x80;
    t.o[0].hash.data = bad;
    expect_ops_rejected(&t.m, "till-01/5: hash chain broken");
    free(ops);
}

static void test_ops_size_per_sale(void **state)
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
    double per_sale = (double)b.len / (double)n;
    printf("wire: %zu one-line sales in one OpsBatch frame: %zu bytes, %.1f bytes per sale "
           "(payloads alone %.1f; hashes: 2 of %zu on the wire)\n",
           n, b.len, per_sale, (double)payload_bytes / (double)n, n);
    /* The budget for a sale on a store's links (was 50.5 with every hash). */
    assert_true(b.len <= 25 * n);

    wire_frame f = one_frame(&b, WIRE_OPS_BATCH);
    wire_ops w;
    assert_int_equal(wire_decode_ops(TW_STORE, f.payload, f.payload_len, &w, NULL), KASSA_OK);
    assert_int_equal(w.n_ops, n);
    for (size_t i = 0; i < n; i++)
        assert_memory_equal(w.ops[i].hash, ops[i].hash, OPLOG_HASH_SIZE);
    wire_ops_free(&w);

    kassa_err err;
    size_t before = b.len;
    assert_int_equal(wire_encode_ops(&b, ops, WIRE_BATCH_MAX_OPS + 1, &err), KASSA_EINVAL);
    assert_int_equal(b.len, before);
    kbuf_free(&b);
    free(ops);
}

static void test_ops_too_big_split(void **state)
{
    (void)state;
    /* Incompressible payloads: 40 of 60000 bytes are 2.4 MB compressed,
     * over the frame maximum. The encoder refuses without appending, and
     * halving the batch until it fits works on the same buffer. */
    const size_t n = 40, plen = 60000;
    uint8_t *blob = malloc(n * plen);
    oplog_op *ops = calloc(n, sizeof *ops);
    assert_non_null(blob);
    assert_non_null(ops);
    tu_rng r;
    tu_rng_seed(&r, 42);
    for (size_t i = 0; i < n * plen; i++)
        blob[i] = (uint8_t)tu_rng_next(&r);
    for (size_t i = 0; i < n; i++) {
        ops[i].kind = OP_SALE;
        ops[i].payload = blob + i * plen;
        ops[i].payload_len = plen;
        ops[i].hlc = i;
    }
    static const uint8_t zero[OPLOG_HASH_SIZE];
    rechain(ops, n, "till-01", 1, zero);
    kbuf b;
    kbuf_init(&b);
    kbuf_put(&b, "x", 1);
    kassa_err err;
    size_t take = n;
    int rc = KASSA_EINVAL;
    for (int tries = 0; tries < 8 && rc == KASSA_EINVAL; tries++) {
        rc = wire_encode_ops(&b, ops, take, &err);
        if (rc == KASSA_EINVAL) {
            assert_true(tu_contains(err.msg, "split it"));
            assert_int_equal(b.len, 1);
            take /= 2;
        }
    }
    assert_int_equal(rc, KASSA_OK);
    assert_true(take < n && take > 0);
    printf("wire: %zu ops of %zu random bytes fit one frame (%zu bytes)\n", take, plen, b.len - 1);
    assert_true(b.len - 1 <= WIRE_HEADER_BYTES + WIRE_FRAME_MAX_BYTES);
    /* wire_encode_ops_fit does that halving: the same count, one frame. */
    kbuf fit;
    kbuf_init(&fit);
    size_t fit_n = n;
    assert_int_equal(wire_encode_ops_fit(&fit, ops, &fit_n, &err), KASSA_OK);
    assert_int_equal(fit_n, take);
    assert_int_equal(fit.len, b.len - 1);
    kbuf_free(&fit);

    /* Over the decompressed maximum: 10000 ops of 1000 bytes. */
    const size_t many = WIRE_BATCH_MAX_OPS;
    oplog_op *big = calloc(many, sizeof *big);
    assert_non_null(big);
    for (size_t i = 0; i < many; i++) {
        big[i] = ops[i % n];
        big[i].payload_len = 1000;
    }
    size_t before = b.len;
    assert_int_equal(wire_encode_ops(&b, big, many, &err), KASSA_EINVAL);
    assert_true(tu_contains(err.msg, "split it"));
    assert_int_equal(b.len, before);
    free(big);
    kbuf_free(&b);
    free(ops);
    free(blob);
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
    assert_int_equal(wire_decode_ops(TW_STORE, f.payload, f.payload_len, &w, &err), KASSA_ECORRUPT);
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
    uint8_t long_hash[OPLOG_HASH_SIZE + 1] = {0};
    o.hash.data = long_hash;
    o.hash.len = sizeof long_hash;
    expect_ops_rejected(&m, "hash of 33 bytes");
    o.hash.data = keep.hash;
    o.hash.len = 0; /* no predecessor to compute it from */
    expect_ops_rejected(&m, "has no hash");
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
    assert_int_equal(wire_decode_ops(TW_STORE, (const uint8_t *)"\x0a\x00", 2, &w, &err),
                     KASSA_ECORRUPT);
    assert_int_equal(wire_decode_ops(TW_STORE, (const uint8_t *)"", 0, &w, &err), KASSA_ECORRUPT);

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
    assert_int_equal(wire_decode_ops(TW_STORE, z, zn, &w, &err), KASSA_ECORRUPT);
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
    assert_int_equal(wire_decode_ops(TW_STORE, z, out.pos, &w, &err), KASSA_ECORRUPT);
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
        assert_int_equal(wire_decode_ops(TW_STORE, p, cut, &w, &err), KASSA_ECORRUPT);
    kbuf_put_u8(&b, 0);
    p = b.data + WIRE_HEADER_BYTES;
    assert_int_equal(wire_decode_ops(TW_STORE, p, n + 1, &w, &err), KASSA_ECORRUPT);
    assert_true(tu_contains(err.msg, "exactly one zstd frame"));
    int rejected = 0;
    for (size_t i = 0; i < n; i++) {
        b.data[WIRE_HEADER_BYTES + i] ^= 0x40;
        int rc = wire_decode_ops(TW_STORE, p, n, &w, &err);
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

/* ---- fuzz corpus seeds ---- */

/* A valid payload of each kind, varied by i. */
static void seed_payload(int kind, int i, kbuf *b)
{
    oplog_payload *u = calloc(1, sizeof *u);
    assert_non_null(u);
    switch (kind) {
    case OP_CATALOG_SET:
        snprintf(u->catalog_set.sku, sizeof u->catalog_set.sku, "SKU-%d", i);
        u->catalog_set.fields = CATALOG_F_ALL;
        snprintf(u->catalog_set.name, sizeof u->catalog_set.name, "Item %d", i);
        snprintf(u->catalog_set.barcode, sizeof u->catalog_set.barcode, "400000%d", i);
        u->catalog_set.price = 100 + i;
        strcpy(u->catalog_set.tax_class, "std");
        break;
    case OP_SALE:
        strcpy(u->sale.cashier, "c01");
        u->sale.n_lines = 1;
        snprintf(u->sale.lines[0].sku, sizeof u->sale.lines[0].sku, "SKU-%d", i);
        u->sale.lines[0].qty = 1 + i % 3;
        u->sale.lines[0].unit_price = 250 + i;
        u->sale.lines[0].tax = 47;
        u->sale.tendered = 2000;
        break;
    case OP_VOID:
        strcpy(u->void_.sale.origin, "till-01");
        u->void_.sale.seq = 2;
        u->void_.refund = 297;
        break;
    case OP_RETURN:
        strcpy(u->ret.sale.origin, "till-01");
        u->ret.sale.seq = 2;
        u->ret.n_lines = 1;
        snprintf(u->ret.lines[0].sku, sizeof u->ret.lines[0].sku, "SKU-%d", i);
        u->ret.lines[0].qty = 1;
        u->ret.lines[0].refund = 297;
        break;
    case OP_STOCK_RECEIVE:
    case OP_STOCK_COUNT:
        snprintf(u->stock.sku, sizeof u->stock.sku, "SKU-%d", i);
        u->stock.qty = 12;
        u->stock.delta = kind == OP_STOCK_COUNT ? -2 : 0;
        break;
    case OP_SETTING_SET:
        strcpy(u->setting.key, "tax.std");
        strcpy(u->setting.value, "1900");
        break;
    case OP_CASHIER_SET:
        strcpy(u->cashier.id, "c01");
        strcpy(u->cashier.name, "Ana");
        u->cashier.role = 2;
        strcpy(u->cashier.pin_hash, "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA");
        break;
    case OP_PAYMENT:
        snprintf(u->payment.id, sizeof u->payment.id, "till-01.P%d", i);
        u->payment.outcome = OPLOG_PAY_DECLINED;
        strcpy(u->payment.reason, "insufficient_funds");
        break;
    case OP_DRAWER:
        u->drawer.action = OPLOG_DRAWER_COUNT;
        u->drawer.amount = 15000;
        u->drawer.delta = -250;
        strcpy(u->drawer.cashier, "c01");
        break;
    default:
        strcpy(u->audit.action, "no_sale");
        strcpy(u->audit.cashier, "c01");
        strcpy(u->audit.subject, "drawer");
        strcpy(u->audit.detail, "change for a customer");
        break;
    }
    assert_int_equal(oplog_encode(kind, u, b), KASSA_OK);
    assert_false(b->oom);
    assert_int_equal(oplog_validate_payload(kind, b->data, b->len, NULL), KASSA_OK);
    free(u);
}

/* The OpsBatch protobuf inside the frame in b (decompressed). */
static void frame_protobuf(const kbuf *b, kbuf *out)
{
    wire_frame f = one_frame(b, WIRE_OPS_BATCH);
    unsigned long long raw_n = ZSTD_getFrameContentSize(f.payload, f.payload_len);
    assert_true(raw_n <= WIRE_BATCH_MAX_DECOMPRESSED);
    kbuf_init(out);
    uint8_t *raw = malloc(raw_n ? (size_t)raw_n : 1);
    assert_non_null(raw);
    assert_int_equal(ZSTD_decompress(raw, (size_t)raw_n, f.payload, f.payload_len), raw_n);
    kbuf_put(out, raw, (size_t)raw_n);
    free(raw);
}

/* Builds the OpsBatch seeds of the fuzz_wire corpus in the current
 * encoding (hashes left out inside runs, chained with TW_STORE, the store
 * fuzz_wire decodes with) and checks they decode as intended. With
 * WIRE_SEED_DIR set it writes them there:
 *   WIRE_SEED_DIR=tests/fuzz/corpus/fuzz_wire build/bin/test_wire */
static void test_ops_corpus_seeds(void **state)
{
    (void)state;
    const char *dir = getenv("WIRE_SEED_DIR");
    enum { RUN = OP_KIND_MAX, MIX = 12 };
    kbuf pl[RUN + MIX];
    oplog_op run[RUN], mix[MIX];
    memset(run, 0, sizeof run);
    memset(mix, 0, sizeof mix);
    static const uint8_t zero[OPLOG_HASH_SIZE];

    /* One run of every kind: till-01 seq 1..OP_KIND_MAX. */
    for (int i = 0; i < RUN; i++) {
        kbuf_init(&pl[i]);
        seed_payload(i + 1, i, &pl[i]);
        run[i].hlc = ((uint64_t)1790000000000 + (uint64_t)i * 1000) << 16;
        run[i].kind = (uint8_t)(i + 1);
        run[i].payload = pl[i].data;
        run[i].payload_len = pl[i].len;
    }
    rechain(run, RUN, "till-01", 1, zero);

    /* Two origins interleaved, till-01 from the middle of its log (seq
     * 41..), till-02 from seq 1, till-03 a single op:
     * a41 a42 a43 | b1 b2 | c7 | a44 a45 a46 | b3 b4 | a47 */
    oplog_op a[7], b[4], c[1];
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    memset(c, 0, sizeof c);
    for (int i = 0; i < MIX; i++) {
        kbuf_init(&pl[RUN + i]);
        int kind = i % 3 == 0 ? OP_STOCK_RECEIVE : OP_SALE;
        seed_payload(kind, i, &pl[RUN + i]);
        oplog_op *op = i < 7 ? &a[i] : i < 11 ? &b[i - 7] : &c[0];
        op->hlc = ((uint64_t)1790000100000 + (uint64_t)i * 500) << 16;
        op->kind = (uint8_t)kind;
        op->payload = pl[RUN + i].data;
        op->payload_len = pl[RUN + i].len;
    }
    uint8_t mid[OPLOG_HASH_SIZE];
    memset(mid, 0x5a, sizeof mid);
    rechain(a, 7, "till-01", 41, mid);
    rechain(b, 4, "till-02", 1, zero);
    rechain(c, 1, "till-03", 7, mid);
    const oplog_op order[MIX] = {a[0], a[1], a[2], b[0], b[1], c[0],
                                 a[3], a[4], a[5], b[2], b[3], a[6]};
    memcpy(mix, order, sizeof mix);
    const int mix_carried[MIX] = {1, 0, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1};
    round_trip(mix, MIX, mix_carried);

    kbuf fr, pb;
    kbuf_init(&fr);
    assert_int_equal(wire_encode_ops(&fr, run, RUN, NULL), KASSA_OK);
    frame_protobuf(&fr, &pb);
    assert_int_equal(decode_ops_raw(pb.data, pb.len, NULL), KASSA_OK);
    assert_int_equal(tu_seed_write(dir, "25_ops_run9_frame", fr.data, fr.len), 0);
    assert_int_equal(tu_seed_write(dir, "26_ops_run9_payload", fr.data + WIRE_HEADER_BYTES,
                                   fr.len - WIRE_HEADER_BYTES),
                     0);
    assert_int_equal(tu_seed_write(dir, "27_ops_run9_protobuf", pb.data, pb.len), 0);

    /* A stream: Hello, the run, Ack. */
    kbuf st;
    kbuf_init(&st);
    oplog_vv vv;
    oplog_vv_init(&vv);
    assert_int_equal(oplog_vv_set(&vv, "till-01", 9, NULL), KASSA_OK);
    assert_int_equal(wire_encode_hello(&st, TW_STORE, "till-02", &vv, NULL), KASSA_OK);
    kbuf_put(&st, fr.data, fr.len);
    assert_int_equal(wire_encode_ack(&st, &vv, NULL, NULL), KASSA_OK);
    assert_false(st.oom);
    assert_int_equal(tu_seed_write(dir, "32_stream_hello_ops_ack", st.data, st.len), 0);
    oplog_vv_free(&vv);
    kbuf_free(&st);
    kbuf_free(&pb);

    kbuf_reset(&fr);
    assert_int_equal(wire_encode_ops(&fr, mix, MIX, NULL), KASSA_OK);
    frame_protobuf(&fr, &pb);
    assert_int_equal(decode_ops_raw(pb.data, pb.len, NULL), KASSA_OK);
    assert_int_equal(tu_seed_write(dir, "28_ops_interleaved_frame", fr.data, fr.len), 0);
    assert_int_equal(tu_seed_write(dir, "29_ops_interleaved_protobuf", pb.data, pb.len), 0);
    kbuf_free(&pb);

    /* Rejected ones, near the valid: an op altered inside the run, and a
     * first op without its hash. */
    run[4].hlc += 1;
    kbuf_reset(&fr);
    assert_int_equal(wire_encode_ops(&fr, run, RUN, NULL), KASSA_OK);
    frame_protobuf(&fr, &pb);
    kassa_err err;
    assert_int_equal(decode_ops_raw(pb.data, pb.len, &err), KASSA_ECORRUPT);
    char want[64];
    snprintf(want, sizeof want, "till-01/%d: hash chain broken", RUN); /* the run's last op */
    assert_true(tu_contains(err.msg, want));
    assert_int_equal(tu_seed_write(dir, "30_ops_run_tampered_protobuf", pb.data, pb.len), 0);
    kbuf_free(&pb);
    run[4].hlc -= 1;

    tw_batch t;
    tw_batch_build(&t, run, RUN);
    for (size_t i = 0; i + 1 < RUN; i++)
        t.o[i].hash.len = 0;
    pack_msg(&t.m.base, &pb);
    assert_int_equal(decode_ops_raw(pb.data, pb.len, &err), KASSA_ECORRUPT);
    assert_true(tu_contains(err.msg, "till-01/1 has no hash"));
    assert_int_equal(tu_seed_write(dir, "31_ops_no_hash_protobuf", pb.data, pb.len), 0);
    kbuf_free(&pb);

    /* A seq out of range and a hash of 31 bytes, one op each. */
    tw_batch_build(&t, run, 1);
    t.o[0].seq = 0;
    pack_msg(&t.m.base, &pb);
    assert_int_equal(decode_ops_raw(pb.data, pb.len, &err), KASSA_ECORRUPT);
    assert_true(tu_contains(err.msg, "seq or hlc out of range"));
    assert_int_equal(tu_seed_write(dir, "33_op_seq0_protobuf", pb.data, pb.len), 0);
    kbuf_free(&pb);
    t.o[0].seq = 1;
    t.o[0].hash.len = OPLOG_HASH_SIZE - 1;
    pack_msg(&t.m.base, &pb);
    assert_int_equal(decode_ops_raw(pb.data, pb.len, &err), KASSA_ECORRUPT);
    assert_true(tu_contains(err.msg, "hash of 31 bytes"));
    assert_int_equal(tu_seed_write(dir, "34_op_hash31_protobuf", pb.data, pb.len), 0);
    kbuf_free(&pb);

    /* Two zstd frames in one payload: the run's, twice. */
    kbuf_reset(&fr);
    assert_int_equal(wire_encode_ops(&fr, run, RUN, NULL), KASSA_OK);
    kbuf two;
    kbuf_init(&two);
    kbuf_put(&two, fr.data + WIRE_HEADER_BYTES, fr.len - WIRE_HEADER_BYTES);
    kbuf_put(&two, fr.data + WIRE_HEADER_BYTES, fr.len - WIRE_HEADER_BYTES);
    assert_false(two.oom);
    wire_ops w;
    assert_int_equal(wire_decode_ops(TW_STORE, two.data, two.len, &w, &err), KASSA_ECORRUPT);
    assert_true(tu_contains(err.msg, "exactly one zstd frame"));
    assert_int_equal(tu_seed_write(dir, "35_ops_two_zstd_frames", two.data, two.len), 0);
    kbuf_free(&two);

    kbuf_free(&fr);
    for (int i = 0; i < RUN + MIX; i++)
        kbuf_free(&pl[i]);
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
        cmocka_unit_test(test_ack_linked),
        cmocka_unit_test(test_ops_round_trip_elided),
        cmocka_unit_test(test_ops_two_origins_interleaved),
        cmocka_unit_test(test_ops_run_mid_log),
        cmocka_unit_test(test_ops_tampered_in_run),
        cmocka_unit_test(test_ops_missing_hash_no_predecessor),
        cmocka_unit_test(test_ops_wrong_hash_in_run),
        cmocka_unit_test(test_ops_size_per_sale),
        cmocka_unit_test(test_ops_too_big_split),
        cmocka_unit_test(test_ops_bad_fields),
        cmocka_unit_test(test_ops_too_many),
        cmocka_unit_test(test_ops_bad_zstd),
        cmocka_unit_test(test_ops_corpus_seeds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
