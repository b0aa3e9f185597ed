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
    WIRE_TYPE_MAX = 4,
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

int wire_encode_ack(kbuf *b, const oplog_vv *vv, kassa_err *err);
/* vv must be initialised and empty; on failure it is left empty. */
int wire_decode_ack(const uint8_t *p, size_t n, oplog_vv *vv, kassa_err *err);

/* ---- OpsBatch (type 2) ---- */

/* Decoded ops own their payloads: ops[i].payload points into one block
 * owned by the wire_ops, so the frame buffer can be reused at once. */
typedef struct wire_ops {
    size_t n_ops;
    oplog_op *ops;
    uint8_t *payload_block;
} wire_ops;

/* Appends a whole OpsBatch frame. Does not validate the ops (tests build
 * bad batches with it). KASSA_EINVAL when there are more than
 * WIRE_BATCH_MAX_OPS ops or the batch does not fit the limits: split it. */
int wire_encode_ops(kbuf *b, const oplog_op *ops, size_t n_ops, kassa_err *err);
/* Decompresses and decodes an OpsBatch payload and checks every op as
 * oplog_file_parse does: valid origin, seq 1..INT64_MAX, hlc <= INT64_MAX,
 * known kind, 32-byte hash, payload valid for its kind. All or nothing: on
 * failure out holds nothing to free. Hash chains are not checked here (that
 * needs the receiver's log). */
int wire_decode_ops(const uint8_t *p, size_t n, wire_ops *out, kassa_err *err);
void wire_ops_free(wire_ops *w);

#endif
