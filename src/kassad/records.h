/*
 * records: what the store's committed records (src/storerec) do to this
 * terminal's state, whether they come through the Raft group (coord.c),
 * straight from a lone terminal (no peers), or as a snapshot of the Raft
 * log's compacted prefix. Every record is a merge: applying one again, or
 * an older one, changes nothing.
 */
#ifndef KASSA_KD_RECORDS_H
#define KASSA_KD_RECORDS_H

#include "kassad/kassad.h"
#include "storerec/storerec.h"

/* Applies one record (logs a compaction it makes). */
int kd_records_apply(kd_app *app, const storerec *rec, kassa_err *err);
/* Applies every record of a snapshot. */
int kd_records_apply_snapshot(kd_app *app, const uint8_t *p, size_t n, kassa_err *err);
/* The applied state as a snapshot: the cloud's acknowledged vector, the
 * downlink cursor and the compaction bases (out reset first). */
int kd_records_snapshot(kd_app *app, kbuf *out, kassa_err *err);
/* Commits a record for the store: through Raft when the group runs, else
 * (a lone terminal) applied here at once. */
int kd_records_commit(kd_app *app, const kbuf *rec, kassa_err *err);

#endif
