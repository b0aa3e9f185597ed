#include "wire/wire.h"

#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "kassa_peer.pb-c.h"

/* zstd's default level. Measured on a batch of 1000 one-line sales from
 * one origin (test_wire's batch; hashes left out inside the run; encode
 * time best of 200 on one Xeon core, including the protobuf packing):
 *
 *   level    bytes/sale   encode µs/batch
 *     1        16.2          170
 *     3        16.1          210
 *     6        15.6          410
 *     9        15.6          700
 *    15        15.3         5000
 *    19        15.3        10300
 *
 * (Decoding is ~430 µs at every level, mostly the 1000 chain hashes.)
 * Higher levels save at most 0.9 bytes per sale (5 %) while the budget of
 * 25 is already met with room, and cost 2x (level 6) to 50x (level 19)
 * the encode time, which matters when a peer catches up on a backlog of
 * thousands of batches. Level 3 keeps almost all of the gain. */
#define WIRE_ZSTD_LEVEL 3

int wire_frame_parse(const uint8_t *buf, size_t len, wire_frame *out, size_t *consumed,
                     kassa_err *err)
{
    *consumed = 0;
    if (len < 4)
        return WIRE_NEED_MORE;
    uint32_t n = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 | (uint32_t)buf[2] << 8 | buf[3];
    /* Known from the length alone: fail before buffering any of it. */
    if (n > WIRE_FRAME_MAX_BYTES)
        return kassa_fail(err, KASSA_ECORRUPT, "frame of %lu bytes exceeds the maximum of %u",
                          (unsigned long)n, WIRE_FRAME_MAX_BYTES);
    if (len < WIRE_HEADER_BYTES)
        return WIRE_NEED_MORE;
    if (buf[4] < 1 || buf[4] > WIRE_TYPE_MAX)
        return kassa_fail(err, KASSA_ECORRUPT, "frame of unknown type %u", buf[4]);
    if (len - WIRE_HEADER_BYTES < n)
        return WIRE_NEED_MORE;
    out->type = buf[4];
    out->payload = buf + WIRE_HEADER_BYTES;
    out->payload_len = n;
    *consumed = WIRE_HEADER_BYTES + (size_t)n;
    return KASSA_OK;
}

int wire_frame_put(kbuf *b, uint8_t type, const uint8_t *payload, size_t n, kassa_err *err)
{
    if (type < 1 || type > WIRE_TYPE_MAX)
        return kassa_fail(err, KASSA_EINVAL, "unknown frame type %u", type);
    if (n > WIRE_FRAME_MAX_BYTES)
        return kassa_fail(err, KASSA_EINVAL, "frame payload of %zu bytes exceeds the maximum", n);
    uint8_t hdr[WIRE_HEADER_BYTES] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8),
                                      (uint8_t)n, type};
    kbuf_put(b, hdr, sizeof hdr);
    if (n)
        kbuf_put(b, payload, n);
    if (b->oom)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory");
    return KASSA_OK;
}

/* Packs msg and appends it as one frame. */
static int put_message(kbuf *b, uint8_t type, const ProtobufCMessage *msg, kassa_err *err)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    if (n > WIRE_FRAME_MAX_BYTES)
        return kassa_fail(err, KASSA_EINVAL, "message of %zu bytes exceeds the frame maximum", n);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory");
    protobuf_c_message_pack(msg, buf);
    int rc = wire_frame_put(b, type, buf, n, err);
    free(buf);
    return rc;
}

/* Copies a bytes field into a NUL-terminated id, checking it byte by byte. */
static bool read_id(const ProtobufCBinaryData *d, char out[KASSA_ID_MAX + 1])
{
    /* kassa_valid_id stops at a NUL: one inside the field would hide the
     * bytes after it. */
    if (d->len < 1 || d->len > KASSA_ID_MAX || memchr(d->data, 0, d->len))
        return false;
    memcpy(out, d->data, d->len);
    out[d->len] = '\0';
    return kassa_valid_id(out, KASSA_ID_MAX);
}

static ProtobufCBinaryData id_bytes(const char *s)
{
    ProtobufCBinaryData d = {strlen(s), (uint8_t *)s};
    return d;
}

/* ---- version vectors ---- */

typedef struct pb_vv {
    Kassa__Peer__VersionVector msg;
    Kassa__Peer__VersionVector__Entry *entries;
    Kassa__Peer__VersionVector__Entry **ptrs;
} pb_vv;

/* The message borrows the origins of vv. */
static int pb_vv_build(pb_vv *p, const oplog_vv *vv, kassa_err *err)
{
    kassa__peer__version_vector__init(&p->msg);
    size_t n = vv ? vv->n : 0;
    p->entries = calloc(n ? n : 1, sizeof *p->entries);
    p->ptrs = calloc(n ? n : 1, sizeof *p->ptrs);
    if (!p->entries || !p->ptrs) {
        free(p->entries);
        free(p->ptrs);
        return kassa_fail(err, KASSA_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        kassa__peer__version_vector__entry__init(&p->entries[i]);
        p->entries[i].origin = id_bytes(vv->e[i].origin);
        p->entries[i].seq = vv->e[i].seq;
        p->ptrs[i] = &p->entries[i];
    }
    p->msg.n_entries = n;
    p->msg.entries = p->ptrs;
    return KASSA_OK;
}

static void pb_vv_free(pb_vv *p)
{
    free(p->entries);
    free(p->ptrs);
}

/* Fills the empty vv; on failure leaves it empty. A missing vector is an
 * empty one (proto3 omits empty messages). */
static int vv_from_pb(const Kassa__Peer__VersionVector *m, oplog_vv *vv, const char *what,
                      kassa_err *err)
{
    if (!m)
        return KASSA_OK;
    if (m->n_entries > OPLOG_VV_MAX)
        return kassa_fail(err, KASSA_ECORRUPT, "%s: version vector of %zu entries exceeds %d", what,
                          m->n_entries, OPLOG_VV_MAX);
    for (size_t i = 0; i < m->n_entries; i++) {
        const Kassa__Peer__VersionVector__Entry *e = m->entries[i];
        char origin[KASSA_ID_MAX + 1];
        int rc;
        if (!read_id(&e->origin, origin) || e->seq == 0 || e->seq > OPLOG_SEQ_MAX)
            rc = kassa_fail(err, KASSA_ECORRUPT, "%s: version vector entry %zu is malformed", what,
                            i + 1);
        else if (oplog_vv_get(vv, origin) != 0)
            rc = kassa_fail(err, KASSA_ECORRUPT, "%s: version vector names %s twice", what, origin);
        else
            rc = oplog_vv_set(vv, origin, e->seq, err);
        if (rc != KASSA_OK) {
            oplog_vv_free(vv);
            return rc;
        }
    }
    return KASSA_OK;
}

/* ---- Hello ---- */

int wire_encode_hello(kbuf *b, const char *store_id, const char *node_id, const oplog_vv *vv,
                      kassa_err *err)
{
    pb_vv pv;
    int rc = pb_vv_build(&pv, vv, err);
    if (rc != KASSA_OK)
        return rc;
    Kassa__Peer__Hello h = KASSA__PEER__HELLO__INIT;
    h.protocol_version = WIRE_PROTOCOL_VERSION;
    h.store_id = id_bytes(store_id);
    h.node_id = id_bytes(node_id);
    h.vv = &pv.msg;
    rc = put_message(b, WIRE_HELLO, &h.base, err);
    pb_vv_free(&pv);
    return rc;
}

int wire_decode_hello(const uint8_t *p, size_t n, wire_hello *h, kassa_err *err)
{
    memset(h, 0, sizeof *h);
    oplog_vv_init(&h->vv);
    Kassa__Peer__Hello *m = kassa__peer__hello__unpack(NULL, n, p);
    if (!m)
        return kassa_fail(err, KASSA_ECORRUPT, "hello: undecodable message");
    int rc = KASSA_OK;
    h->protocol_version = m->protocol_version;
    /* The version comes first: a newer peer's ids or vector may follow
     * other rules, and the reason to log is the version. */
    if (m->protocol_version != WIRE_PROTOCOL_VERSION)
        rc = kassa_fail(err, KASSA_EVERSION, "hello: protocol version %lu, this node speaks %d",
                        (unsigned long)m->protocol_version, WIRE_PROTOCOL_VERSION);
    else if (!read_id(&m->store_id, h->store_id))
        rc = kassa_fail(err, KASSA_ECORRUPT, "hello: invalid store id");
    else if (!read_id(&m->node_id, h->node_id))
        rc = kassa_fail(err, KASSA_ECORRUPT, "hello: invalid node id");
    else
        rc = vv_from_pb(m->vv, &h->vv, "hello", err);
    kassa__peer__hello__free_unpacked(m, NULL);
    return rc;
}

void wire_hello_free(wire_hello *h)
{
    oplog_vv_free(&h->vv);
}

/* ---- Ack ---- */

int wire_encode_ack(kbuf *b, const oplog_vv *vv, const wire_linked *linked, kassa_err *err)
{
    size_t n_linked = linked ? linked->n : 0;
    if (n_linked > WIRE_LINKED_MAX)
        return kassa_fail(err, KASSA_EINVAL, "ack: more than %d linked nodes", WIRE_LINKED_MAX);
    ProtobufCBinaryData ids[WIRE_LINKED_MAX];
    for (size_t i = 0; i < n_linked; i++)
        ids[i] = id_bytes(linked->id[i]);
    pb_vv pv;
    int rc = pb_vv_build(&pv, vv, err);
    if (rc != KASSA_OK)
        return rc;
    Kassa__Peer__Ack a = KASSA__PEER__ACK__INIT;
    a.vv = &pv.msg;
    a.n_linked = n_linked;
    a.linked = ids;
    rc = put_message(b, WIRE_ACK, &a.base, err);
    pb_vv_free(&pv);
    return rc;
}

int wire_decode_ack(const uint8_t *p, size_t n, oplog_vv *vv, wire_linked *linked, kassa_err *err)
{
    Kassa__Peer__Ack *m = kassa__peer__ack__unpack(NULL, n, p);
    if (!m)
        return kassa_fail(err, KASSA_ECORRUPT, "ack: undecodable message");
    int rc = KASSA_OK;
    if (m->n_linked > WIRE_LINKED_MAX)
        rc = kassa_fail(err, KASSA_ECORRUPT, "ack: more than %d linked nodes", WIRE_LINKED_MAX);
    for (size_t i = 0; rc == KASSA_OK && i < m->n_linked; i++) {
        char id[KASSA_ID_MAX + 1];
        if (!read_id(&m->linked[i], id))
            rc = kassa_fail(err, KASSA_ECORRUPT, "ack: linked node %zu: invalid id", i);
        else if (linked)
            memcpy(linked->id[i], id, sizeof id);
    }
    if (rc == KASSA_OK)
        rc = vv_from_pb(m->vv, vv, "ack", err);
    if (rc == KASSA_OK && linked)
        linked->n = m->n_linked;
    kassa__peer__ack__free_unpacked(m, NULL);
    return rc;
}

/* ---- OpsBatch ---- */

/* True when op continues the chain of prev: same origin, seq one higher.
 * Written so that seq 0 cannot wrap around to follow UINT64_MAX. */
static bool wire_op_follows(const oplog_op *prev, const oplog_op *op)
{
    return op->seq > 0 && prev->seq == op->seq - 1 && strcmp(prev->origin, op->origin) == 0;
}

int wire_encode_ops(kbuf *b, const oplog_op *ops, size_t n_ops, kassa_err *err)
{
    if (n_ops > WIRE_BATCH_MAX_OPS)
        return kassa_fail(err, KASSA_EINVAL, "batch of %zu ops exceeds %d", n_ops,
                          WIRE_BATCH_MAX_OPS);
    Kassa__Peer__Op *pops = calloc(n_ops ? n_ops : 1, sizeof *pops);
    Kassa__Peer__Op **ptrs = calloc(n_ops ? n_ops : 1, sizeof *ptrs);
    uint8_t *raw = NULL, *z = NULL;
    int rc = KASSA_OK;
    if (!pops || !ptrs) {
        rc = kassa_fail(err, KASSA_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n_ops; i++) {
        kassa__peer__op__init(&pops[i]);
        pops[i].origin = id_bytes(ops[i].origin);
        pops[i].seq = ops[i].seq;
        pops[i].hlc = ops[i].hlc;
        pops[i].kind = ops[i].kind;
        pops[i].payload.len = ops[i].payload_len;
        pops[i].payload.data = (uint8_t *)ops[i].payload;
        /* Only the middle of a run goes without: the first op of a run may
         * become pending at the receiver, the last one checks the run. */
        bool follows = i > 0 && wire_op_follows(&ops[i - 1], &ops[i]);
        bool followed = i + 1 < n_ops && wire_op_follows(&ops[i], &ops[i + 1]);
        if (!follows || !followed) {
            pops[i].hash.len = OPLOG_HASH_SIZE;
            pops[i].hash.data = (uint8_t *)ops[i].hash;
        }
        ptrs[i] = &pops[i];
    }
    Kassa__Peer__OpsBatch m = KASSA__PEER__OPS_BATCH__INIT;
    m.n_ops = n_ops;
    m.ops = ptrs;
    size_t n = kassa__peer__ops_batch__get_packed_size(&m);
    if (n > WIRE_BATCH_MAX_DECOMPRESSED) {
        rc = kassa_fail(err, KASSA_EINVAL, "batch of %zu bytes exceeds the maximum: split it", n);
        goto out;
    }
    size_t zcap = ZSTD_compressBound(n);
    raw = malloc(n ? n : 1);
    z = malloc(zcap);
    if (!raw || !z) {
        rc = kassa_fail(err, KASSA_ENOMEM, "out of memory");
        goto out;
    }
    kassa__peer__ops_batch__pack(&m, raw);
    /* ZSTD_compress records the content size in the frame header, which
     * the decoder requires to size its buffer before decompressing. */
    size_t zn = ZSTD_compress(z, zcap, raw, n, WIRE_ZSTD_LEVEL);
    if (ZSTD_isError(zn)) {
        rc = kassa_fail(err, KASSA_ENOMEM, "zstd: %s", ZSTD_getErrorName(zn));
        goto out;
    }
    /* Checked before anything is appended, so the caller can halve the
     * batch and retry on the same buffer. */
    if (zn > WIRE_FRAME_MAX_BYTES) {
        rc = kassa_fail(err, KASSA_EINVAL,
                        "compressed batch of %zu bytes exceeds the frame maximum: split it", zn);
        goto out;
    }
    rc = wire_frame_put(b, WIRE_OPS_BATCH, z, zn, err);
out:
    free(z);
    free(raw);
    free(ptrs);
    free(pops);
    return rc;
}

/* Checks one op as oplog_file_parse does and fills *op, except payload and
 * hash (which may have to be computed from the op before it). */
static int check_op(const Kassa__Peer__Op *m, size_t i, oplog_op *op, kassa_err *err)
{
    if (!read_id(&m->origin, op->origin))
        return kassa_fail(err, KASSA_ECORRUPT, "ops batch: op %zu has an invalid origin", i + 1);
    if (m->seq == 0 || m->seq > OPLOG_SEQ_MAX || m->hlc > OPLOG_SEQ_MAX)
        return kassa_fail(err, KASSA_ECORRUPT, "ops batch: op %zu has seq or hlc out of range",
                          i + 1);
    /* Checked before narrowing to uint8_t, so 257 cannot pass as 1. */
    if (m->kind < 1 || m->kind > OP_KIND_MAX)
        return kassa_fail(err, KASSA_ECORRUPT, "ops batch: op %zu has unknown kind", i + 1);
    /* Empty inside a run (wire.h); anything else but a whole hash is
     * garbage. */
    if (m->hash.len != 0 && m->hash.len != OPLOG_HASH_SIZE)
        return kassa_fail(err, KASSA_ECORRUPT, "ops batch: op %zu has a hash of %zu bytes", i + 1,
                          m->hash.len);
    if (m->payload.len > OPLOG_PAYLOAD_MAX)
        return kassa_fail(err, KASSA_ECORRUPT, "ops batch: op %zu payload too large", i + 1);
    op->seq = m->seq;
    op->hlc = m->hlc;
    op->kind = (uint8_t)m->kind;
    kassa_err perr;
    if (oplog_validate_payload(op->kind, m->payload.data, m->payload.len, &perr) != KASSA_OK)
        return kassa_fail(err, perr.code == KASSA_ENOMEM ? KASSA_ENOMEM : KASSA_ECORRUPT,
                          "ops batch: op %s/%llu: %s", op->origin, (unsigned long long)op->seq,
                          perr.msg);
    return KASSA_OK;
}

/* Fills op->hash (payload already set): restores a hash left out inside a
 * run, checks a carried one against the run's chain. *run_checked is the
 * seq of the last op of the current run whose hash came on the wire, to
 * say where a broken chain broke. */
static int chain_op(const char *store_id, const oplog_op *prev, const ProtobufCBinaryData *hash,
                    oplog_op *op, uint64_t *run_checked, kassa_err *err)
{
    bool follows = prev && wire_op_follows(prev, op);
    if (hash->len == 0) {
        if (!follows)
            return kassa_fail(err, KASSA_ECORRUPT,
                              "ops batch: op %s/%llu has no hash and does not follow its "
                              "predecessor in the batch",
                              op->origin, (unsigned long long)op->seq);
        oplog_hash(store_id, prev->hash, op, op->hash);
        op->chained = true;
        return KASSA_OK;
    }
    memcpy(op->hash, hash->data, OPLOG_HASH_SIZE);
    if (follows && !oplog_hash_ok(store_id, prev->hash, op))
        return kassa_fail(err, KASSA_ECORRUPT,
                          "ops batch: op %s/%llu: hash chain broken inside the batch (an op "
                          "after %s/%llu altered, or another store's ops)",
                          op->origin, (unsigned long long)op->seq, op->origin,
                          (unsigned long long)*run_checked);
    op->chained = follows;
    *run_checked = op->seq;
    return KASSA_OK;
}

int wire_encode_ops_fit(kbuf *b, const oplog_op *ops, size_t *n_ops, kassa_err *err)
{
    for (;;) {
        kbuf_reset(b);
        int rc = wire_encode_ops(b, ops, *n_ops, err);
        if (rc != KASSA_EINVAL || *n_ops <= 1)
            return rc;
        *n_ops /= 2;
    }
}

int wire_decode_ops(const char *store_id, const uint8_t *p, size_t n, wire_ops *out, kassa_err *err)
{
    memset(out, 0, sizeof *out);
    /* The store id goes into every hash computed here (and into a fixed
     * buffer in oplog_hash): a caller's bug, not the peer's. */
    if (!store_id || !kassa_valid_id(store_id, KASSA_ID_MAX))
        return kassa_fail(err, KASSA_EINVAL, "ops batch: invalid store id");
    /* The declared size bounds the allocation; a frame that omits it or
     * declares too much is refused before anything is decompressed. */
    unsigned long long raw_n = ZSTD_getFrameContentSize(p, n);
    if (raw_n == ZSTD_CONTENTSIZE_ERROR || raw_n == ZSTD_CONTENTSIZE_UNKNOWN)
        return kassa_fail(err, KASSA_ECORRUPT, "ops batch: not a zstd frame with a content size");
    if (raw_n > WIRE_BATCH_MAX_DECOMPRESSED)
        return kassa_fail(err, KASSA_ECORRUPT,
                          "ops batch: decompresses to %llu bytes, over the maximum of %u", raw_n,
                          WIRE_BATCH_MAX_DECOMPRESSED);
    size_t zn = ZSTD_findFrameCompressedSize(p, n);
    if (ZSTD_isError(zn) || zn != n)
        return kassa_fail(err, KASSA_ECORRUPT, "ops batch: not exactly one zstd frame");
    uint8_t *raw = malloc(raw_n ? (size_t)raw_n : 1);
    if (!raw)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory");
    size_t got = ZSTD_decompress(raw, (size_t)raw_n, p, n);
    if (ZSTD_isError(got) || got != raw_n) {
        free(raw);
        return kassa_fail(err, KASSA_ECORRUPT, "ops batch: zstd frame does not decompress");
    }
    Kassa__Peer__OpsBatch *m = kassa__peer__ops_batch__unpack(NULL, got, raw);
    free(raw);
    if (!m)
        return kassa_fail(err, KASSA_ECORRUPT, "ops batch: undecodable message");
    int rc = KASSA_OK;
    if (m->n_ops > WIRE_BATCH_MAX_OPS) {
        rc = kassa_fail(err, KASSA_ECORRUPT, "ops batch: %zu ops exceed %d", m->n_ops,
                        WIRE_BATCH_MAX_OPS);
        goto out;
    }
    /* Payload total is bounded by the decompressed size checked above. */
    size_t total = 0;
    for (size_t i = 0; i < m->n_ops; i++)
        total += m->ops[i]->payload.len;
    out->ops = calloc(m->n_ops ? m->n_ops : 1, sizeof *out->ops);
    out->payload_block = malloc(total ? total : 1);
    if (!out->ops || !out->payload_block) {
        rc = kassa_fail(err, KASSA_ENOMEM, "out of memory");
        goto out;
    }
    size_t pos = 0;
    uint64_t run_checked = 0;
    for (size_t i = 0; i < m->n_ops; i++) {
        const Kassa__Peer__Op *mo = m->ops[i];
        oplog_op *op = &out->ops[i];
        rc = check_op(mo, i, op, err);
        if (rc != KASSA_OK)
            goto out;
        if (mo->payload.len)
            memcpy(out->payload_block + pos, mo->payload.data, mo->payload.len);
        op->payload = out->payload_block + pos;
        op->payload_len = mo->payload.len;
        pos += mo->payload.len;
        rc = chain_op(store_id, i > 0 ? &out->ops[i - 1] : NULL, &mo->hash, op, &run_checked, err);
        if (rc != KASSA_OK)
            goto out;
    }
    out->n_ops = m->n_ops;
out:
    kassa__peer__ops_batch__free_unpacked(m, NULL);
    if (rc != KASSA_OK)
        wire_ops_free(out);
    return rc;
}

void wire_ops_free(wire_ops *w)
{
    free(w->ops);
    free(w->payload_block);
    w->ops = NULL;
    w->payload_block = NULL;
    w->n_ops = 0;
}
