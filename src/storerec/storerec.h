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
    STOREREC_TYPE_MAX = 2,
} storerec_type;

/* The largest record: a version vector of OPLOG_VV_MAX origins. */
#define STOREREC_MAX_BYTES                                                                         \
    (1 + KASSA_UVARINT_MAX + OPLOG_VV_MAX * (KASSA_ID_MAX + 1 + 2 * KASSA_UVARINT_MAX))

typedef struct storerec {
    storerec_type type;
    oplog_vv vv;     /* CLOUD_ACK (caller frees with storerec_free) */
    uint64_t cursor; /* CLOUD_CURSOR */
} storerec;

const char *storerec_type_name(int type);

int storerec_encode_cloud_ack(kbuf *b, const oplog_vv *vv, kassa_err *err);
int storerec_encode_cloud_cursor(kbuf *b, uint64_t cursor, kassa_err *err);
/* Fills rec (rec->vv initialised here): KASSA_ECORRUPT naming what is
 * wrong. Free with storerec_free whatever the result. */
int storerec_decode(const uint8_t *p, size_t n, storerec *rec, kassa_err *err);
void storerec_free(storerec *rec);

#endif
