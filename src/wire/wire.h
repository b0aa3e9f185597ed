/*
 * wire: the peer-link wire format (DESIGN.md §3). Pure encoding and
 * checking of bytes; no sockets.
 *
 * A frame is u32 length (big-endian) | u8 type | payload, where length
 * counts the payload bytes only (not the 5-byte header). Payloads are the
 * protobuf messages of proto/kassa_peer.proto; an OpsBatch payload is
 * additionally zstd-compressed. Every limit below is checked before the
 * memory it bounds is allocated, so a hostile peer cannot make a terminal
 * allocate more than a few MiB per frame.
 *
 * Any error returned here (KASSA_ECORRUPT for bytes that fail a check,
 * KASSA_EVERSION for a protocol version mismatch) means the link must be
 * closed with err->msg logged as the reason.
 */
#ifndef KASSA_WIRE_H
#define KASSA_WIRE_H

#include "base/base.h"
#include "oplog/oplog.h"

#define WIRE_PROTOCOL_VERSION 1
#define WIRE_HEADER_BYTES 5
/* Largest payload of one frame: big enough for thousands of compressed
 * sales, small enough to buffer per link. */
#define WIRE_FRAME_MAX_BYTES (1u << 20)
/* Largest decompressed OpsBatch: bounds what a small zstd frame (a "bomb")
 * can make us allocate. */
#define WIRE_BATCH_MAX_DECOMPRESSED (8u << 20)
#define WIRE_BATCH_MAX_OPS 10000

typedef enum {
    WIRE_HELLO = 1,
    WIRE_OPS_BATCH = 2,
    WIRE_ACK = 3,
    WIRE_HEARTBEAT = 4,
    WIRE_RAFT = 5, /* a message of the store's Raft group (RaftMessage) */
    WIRE_TYPE_MAX = 5,
} wire_type;

/* Returned (positive) by wire_frame_parse when buf holds only part of a
 * frame: not an error until the peer closes the link. */
#define WIRE_NEED_MORE 1

typedef struct wire_frame {
    uint8_t type;
    const uint8_t *payload; /* borrowed from the parsed buffer */
    size_t payload_len;
} wire_frame;

/* Parses the frame at the start of buf.
 * KASSA_OK: *out filled, *consumed = header + payload bytes.
 * WIRE_NEED_MORE: incomplete, *consumed = 0; read more and call again.
 * KASSA_ECORRUPT: length over WIRE_FRAME_MAX_BYTES (known from the header
 * alone, so it fails at once) or unknown type. */
int wire_frame_parse(const uint8_t *buf, size_t len, wire_frame *out, size_t *consumed,
                     kassa_err *err);
/* Appends one frame; KASSA_EINVAL if the payload is over the maximum or
 * the type unknown, KASSA_ENOMEM if the buffer could not grow. */
int wire_frame_put(kbuf *b, uint8_t type, const uint8_t *payload, size_t n, kassa_err *err);

/* ---- Hello (type 1) ---- */

typedef struct wire_hello {
    uint32_t protocol_version;
    char store_id[KASSA_ID_MAX + 1];
    char node_id[KASSA_ID_MAX + 1];
    oplog_vv vv; /* owned: wire_hello_free */
} wire_hello;

/* Appends a whole Hello frame carrying WIRE_PROTOCOL_VERSION. */
int wire_encode_hello(kbuf *b, const char *store_id, const char *node_id, const oplog_vv *vv,
                      kassa_err *err);
/* Decodes a Hello frame payload. KASSA_EVERSION for another protocol
 * version; KASSA_ECORRUPT for bad ids, bad or duplicate vv entries. On
 * failure h holds nothing to free. */
int wire_decode_hello(const uint8_t *p, size_t n, wire_hello *h, kassa_err *err);
void wire_hello_free(wire_hello *h);

/* ---- Ack (type 3) ---- */

/* Nodes the sender of an Ack has links up with. */
#define WIRE_LINKED_MAX 256
typedef struct wire_linked {
    size_t n;
    char id[WIRE_LINKED_MAX][KASSA_ID_MAX + 1];
} wire_linked;

/* linked may be NULL (sent as none). */
int wire_encode_ack(kbuf *b, const oplog_vv *vv, const wire_linked *linked, kassa_err *err);
/* vv must be initialised and empty; on failure it is left empty. */
/* linked (optional) gets the sender's linked nodes; more than
 * WIRE_LINKED_MAX or an invalid id is KASSA_ECORRUPT. */
int wire_decode_ack(const uint8_t *p, size_t n, oplog_vv *vv, wire_linked *linked, kassa_err *err);

/* ---- OpsBatch (type 2) ----
 *
 * One hash per origin run. A run is a stretch of ops in the batch where
 * each op follows the one before it: same origin, seq one higher. Inside a
 * run the hash of every op is a function of the op before it (hash =
 * H(store, prev hash, op), oplog.h), so sending it would only repeat what
 * the receiver can compute, and at 32 random bytes it is most of a sale
 * on the wire (50.5 bytes per one-line sale with every hash, 22 of them
 * payload). On the wire, therefore:
 *
 *  - the first op of a run carries its hash: the receiver may not hold
 *    the op before it and must then queue this one as pending, which
 *    needs its hash to check it once the gap is filled;
 *  - the last op of a run (of two or more) carries its hash too: the
 *    decoder recomputes the run's chain from the first hash and compares,
 *    so an op altered anywhere in the run, or ops chained in another
 *    store, are caught in the batch, before anything is applied;
 *  - every other op has an empty hash field.
 *
 * A batch of 1000 one-line sales from one origin thus carries 2 hashes
 * instead of 1000: 16.1 bytes per sale on the wire instead of 50.5
 * (figures per zstd level at WIRE_ZSTD_LEVEL in wire.c). */

/* Decoded ops own their payloads: ops[i].payload points into one block
 * owned by the wire_ops, so the frame buffer can be reused at once. */
typedef struct wire_ops {
    size_t n_ops;
    oplog_op *ops;
    uint8_t *payload_block;
} wire_ops;

/* Appends a whole OpsBatch frame, leaving out the hashes inside runs as
 * above. Does not validate the ops (tests build bad batches with it); a
 * hash it leaves out is assumed to be the chain hash, so ops whose hashes
 * do not chain come out rejected by the decoder. KASSA_EINVAL, with
 * nothing appended to b, when there are more than WIRE_BATCH_MAX_OPS ops
 * or the batch does not fit WIRE_BATCH_MAX_DECOMPRESSED or, compressed,
 * WIRE_FRAME_MAX_BYTES: split the batch (halve it) and send the parts.
 * KASSA_ENOMEM if memory ran out (b may then hold a partial frame and is
 * poisoned, see kbuf.oom). */
int wire_encode_ops(kbuf *b, const oplog_op *ops, size_t n_ops, kassa_err *err);
/* wire_encode_ops of the first *n_ops ops, halving *n_ops until the batch
 * fits one frame (at most log2(WIRE_BATCH_MAX_OPS) tries): *n_ops is then
 * how many ops the frame carries. b is reset first. */
int wire_encode_ops_fit(kbuf *b, const oplog_op *ops, size_t *n_ops, kassa_err *err);
/* Decompresses and decodes an OpsBatch payload and checks every op as
 * oplog_file_parse does: valid origin, seq 1..INT64_MAX, hlc <= INT64_MAX,
 * known kind, payload valid for its kind. Then the hashes, with store_id
 * (this node's store) in the chain:
 *  - an op with an empty hash gets the chain hash computed from the op
 *    before it, which must be the same origin with seq one lower;
 *  - an op with a 32-byte hash that follows the op before it (same
 *    origin, seq one lower) must carry exactly the chain hash;
 *  - any other hash length is refused.
 * So every decoded op has its full hash in ops[i].hash, and the chain
 * inside each run is checked. KASSA_ECORRUPT for a failed check (the chain
 * inside the batch broken, a hash missing without a predecessor, ...).
 * Whether the first op of each run continues the receiver's own log is
 * not checked here (that needs the log). All or nothing: on failure out
 * holds nothing to free. KASSA_EINVAL for an invalid store_id. */
int wire_decode_ops(const char *store_id, const uint8_t *p, size_t n, wire_ops *out,
                    kassa_err *err);
void wire_ops_free(wire_ops *w);

#endif
