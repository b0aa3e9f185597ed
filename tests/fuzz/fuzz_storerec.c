/*
 * Fuzz target for the store's Raft records (storerec_decode) and their
 * snapshots (storerec_snapshot_each): committed
 * records are applied by every member, so a record no member can read,
 * or one read differently by two members, must not exist.
 *
 * Invariants:
 *  - a failure is KASSA_ECORRUPT (or ENOMEM) and leaves nothing allocated
 *    after storerec_free;
 *  - a decoded record re-encodes to exactly the input bytes (one encoding
 *    per record: sorted origins, no duplicates, no trailing bytes);
 *  - version vectors hold valid origins, sorted, seq >= 1.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "storerec/storerec.h"
#include "testutil.h"

static int snapshot_record(const storerec *rec, void *ctx, kassa_err *err)
{
    (void)err;
    tu_check(rec->type >= 1 && rec->type <= STOREREC_TYPE_MAX);
    (*(size_t *)ctx)++;
    return KASSA_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    storerec rec;
    kassa_err err;
    /* The same bytes as a snapshot: a bounded sequence of records. */
    size_t n_records = 0;
    int src = storerec_snapshot_each(data, size, snapshot_record, &n_records, &err);
    tu_check(src == KASSA_OK || src == KASSA_ECORRUPT || src == KASSA_ENOMEM);
    tu_check(n_records <= STOREREC_SNAPSHOT_RECORDS_MAX);
    int rc = storerec_decode(data, size, &rec, &err);
    if (rc != KASSA_OK) {
        tu_check(rc == KASSA_ECORRUPT || rc == KASSA_ENOMEM);
        tu_check(err.code == rc && strchr(err.msg, '\n') == NULL);
        storerec_free(&rec);
        return 0;
    }
    kbuf b;
    kbuf_init(&b);
    if (rec.type == STOREREC_CLOUD_ACK || rec.type == STOREREC_COMPACT) {
        for (size_t i = 0; i < rec.vv.n; i++) {
            tu_check(kassa_valid_id(rec.vv.e[i].origin, KASSA_ID_MAX));
            tu_check(rec.vv.e[i].seq >= 1);
            if (i > 0)
                tu_check(strcmp(rec.vv.e[i - 1].origin, rec.vv.e[i].origin) < 0);
        }
        tu_check((rec.type == STOREREC_COMPACT
                      ? storerec_encode_compact(&b, &rec.vv, &err)
                      : storerec_encode_cloud_ack(&b, &rec.vv, &err)) == KASSA_OK);
    } else {
        tu_check(rec.type == STOREREC_CLOUD_CURSOR);
        tu_check(storerec_encode_cloud_cursor(&b, rec.cursor, &err) == KASSA_OK);
    }
    tu_check(b.len == size && memcmp(b.data, data, size) == 0);
    kbuf_free(&b);
    storerec_free(&rec);
    return 0;
}
