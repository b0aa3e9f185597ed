/* storerec.c: encoding and checking of the store's Raft records. */
#include "storerec/storerec.h"

#include <string.h>

const char *storerec_type_name(int type)
{
    switch (type) {
    case STOREREC_CLOUD_ACK:
        return "cloud_ack";
    case STOREREC_CLOUD_CURSOR:
        return "cloud_cursor";
    case STOREREC_COMPACT:
        return "compact";
    default:
        return "unknown";
    }
}

static int encode_vv(kbuf *b, storerec_type type, const oplog_vv *vv, kassa_err *err)
{
    kbuf_put_u8(b, (uint8_t)type);
    kbuf_put_uvarint(b, vv->n);
    for (size_t i = 0; i < vv->n; i++) {
        kbuf_put_str(b, vv->e[i].origin);
        kbuf_put_uvarint(b, vv->e[i].seq);
    }
    return b->oom ? kassa_fail(err, KASSA_ENOMEM, "out of memory") : KASSA_OK;
}

int storerec_encode_cloud_ack(kbuf *b, const oplog_vv *vv, kassa_err *err)
{
    return encode_vv(b, STOREREC_CLOUD_ACK, vv, err);
}

int storerec_encode_compact(kbuf *b, const oplog_vv *horizon, kassa_err *err)
{
    return encode_vv(b, STOREREC_COMPACT, horizon, err);
}

int storerec_encode_cloud_cursor(kbuf *b, uint64_t cursor, kassa_err *err)
{
    kbuf_put_u8(b, STOREREC_CLOUD_CURSOR);
    kbuf_put_uvarint(b, cursor);
    return b->oom ? kassa_fail(err, KASSA_ENOMEM, "out of memory") : KASSA_OK;
}

static int corrupt(kassa_err *err, const char *what)
{
    return kassa_fail(err, KASSA_ECORRUPT, "malformed store record: %s", what);
}

static int decode_vv(kreader *r, oplog_vv *vv, kassa_err *err)
{
    uint64_t n;
    if (!kreader_uvarint(r, &n) || n > OPLOG_VV_MAX)
        return corrupt(err, "origin count");
    char prev[KASSA_ID_MAX + 1] = "";
    for (uint64_t i = 0; i < n; i++) {
        char origin[KASSA_ID_MAX + 1];
        uint64_t seq;
        if (!kreader_str(r, origin, sizeof origin) || !kassa_valid_id(origin, KASSA_ID_MAX))
            return corrupt(err, "origin id");
        if (i > 0 && strcmp(origin, prev) <= 0)
            return corrupt(err, "origins out of order or repeated");
        if (!kreader_uvarint(r, &seq) || seq == 0 || seq > OPLOG_SEQ_MAX)
            return corrupt(err, "sequence number");
        int rc = oplog_vv_set(vv, origin, seq, err);
        if (rc != KASSA_OK)
            return rc;
        memcpy(prev, origin, sizeof prev);
    }
    return KASSA_OK;
}

int storerec_decode(const uint8_t *p, size_t n, storerec *rec, kassa_err *err)
{
    memset(rec, 0, sizeof *rec);
    oplog_vv_init(&rec->vv);
    kreader r;
    kreader_init(&r, p, n);
    uint8_t type;
    if (!kreader_u8(&r, &type))
        return corrupt(err, "empty");
    int rc;
    switch (type) {
    case STOREREC_CLOUD_ACK:
    case STOREREC_COMPACT:
        if ((rc = decode_vv(&r, &rec->vv, err)) != KASSA_OK)
            return rc;
        break;
    case STOREREC_CLOUD_CURSOR:
        if (!kreader_uvarint(&r, &rec->cursor) || rec->cursor > (uint64_t)INT64_MAX)
            return corrupt(err, "cursor");
        break;
    default:
        return corrupt(err, "unknown type");
    }
    if (kreader_left(&r) != 0 || r.bad)
        return corrupt(err, "trailing bytes");
    rec->type = (storerec_type)type;
    return KASSA_OK;
}

void storerec_free(storerec *rec)
{
    oplog_vv_free(&rec->vv);
}

void storerec_snapshot_add(kbuf *snap, const kbuf *rec)
{
    kbuf_put_bytes(snap, rec->data, rec->len);
}

int storerec_snapshot_each(const uint8_t *p, size_t n,
                           int (*fn)(const storerec *rec, void *ctx, kassa_err *err), void *ctx,
                           kassa_err *err)
{
    kreader r;
    kreader_init(&r, p, n);
    for (size_t i = 0; kreader_left(&r) > 0; i++) {
        const uint8_t *rec_bytes;
        size_t rec_len;
        if (i >= STOREREC_SNAPSHOT_RECORDS_MAX)
            return corrupt(err, "too many records in a snapshot");
        if (!kreader_bytes(&r, STOREREC_MAX_BYTES, &rec_bytes, &rec_len))
            return corrupt(err, "snapshot record length");
        storerec rec;
        int rc = storerec_decode(rec_bytes, rec_len, &rec, err);
        if (rc == KASSA_OK)
            rc = fn(&rec, ctx, err);
        storerec_free(&rec);
        if (rc != KASSA_OK)
            return rc;
    }
    return KASSA_OK;
}
