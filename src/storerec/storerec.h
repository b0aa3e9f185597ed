/*
 * storerec: the store-level records the store's Raft group commits
 * (DESIGN.md §4-5). The Raft core carries opaque bytes; these are what the
 * bytes mean, so every member applies the same committed record the same
 * way. Pure encoding and checking; no storage.
 *
 *   u8 type | payload
 *   STOREREC_CLOUD_ACK:    the version vector the cloud acknowledged:
 *                          uvarint n, n x (str origin, uvarint seq),
 *                          origins strictly increasing, seq >= 1
 *   STOREREC_CLOUD_CURSOR: the downlink cursor applied: uvarint cursor
 *   STOREREC_COMPACT:      the compaction horizon (term_compact): a version
 *                          vector encoded as for CLOUD_ACK
 *
 * A snapshot of the Raft log's applied prefix is a sequence of records,
 * each length-prefixed (uvarint length, then the record): every record is
 * a merge (the largest value wins), so applying a snapshot is applying its
 * records, and applying them again changes nothing.
 *
 * Decoding is bounded and rejects trailing bytes, unknown types, invalid
 * ids and unsorted or duplicate origins (one encoding per record).
 */
#ifndef KASSA_STOREREC_H
#define KASSA_STOREREC_H

#include "base/base.h"
#include "oplog/oplog.h"

typedef enum {
    STOREREC_CLOUD_ACK = 1,
    STOREREC_CLOUD_CURSOR = 2,
    STOREREC_COMPACT = 3,
    STOREREC_TYPE_MAX = 3,
} storerec_type;

/* The largest record: a version vector of OPLOG_VV_MAX origins. */
#define STOREREC_MAX_BYTES                                                                         \
    (1 + KASSA_UVARINT_MAX + OPLOG_VV_MAX * (KASSA_ID_MAX + 1 + 2 * KASSA_UVARINT_MAX))

typedef struct storerec {
    storerec_type type;
    oplog_vv vv;     /* CLOUD_ACK, COMPACT (caller frees with storerec_free) */
    uint64_t cursor; /* CLOUD_CURSOR */
} storerec;

const char *storerec_type_name(int type);

int storerec_encode_cloud_ack(kbuf *b, const oplog_vv *vv, kassa_err *err);
int storerec_encode_cloud_cursor(kbuf *b, uint64_t cursor, kassa_err *err);
int storerec_encode_compact(kbuf *b, const oplog_vv *horizon, kassa_err *err);
/* Fills rec (rec->vv initialised here): KASSA_ECORRUPT naming what is
 * wrong. Free with storerec_free whatever the result. */
int storerec_decode(const uint8_t *p, size_t n, storerec *rec, kassa_err *err);
void storerec_free(storerec *rec);

/* Records in a snapshot, at most. */
#define STOREREC_SNAPSHOT_RECORDS_MAX 8
/* Appends rec (one encoded record) to a snapshot. */
void storerec_snapshot_add(kbuf *snap, const kbuf *rec);
/* Decodes every record of a snapshot and calls fn with each, in order
 * (rec valid during the call). KASSA_ECORRUPT when any is malformed; fn's
 * error is returned as it is. */
int storerec_snapshot_each(const uint8_t *p, size_t n,
                           int (*fn)(const storerec *rec, void *ctx, kassa_err *err), void *ctx,
                           kassa_err *err);

#endif
