/*
 * compact: when the store drops what it no longer needs (docs/CLOUD.md,
 * "Compaction"). The uploader, once the cloud holds everything, asks for a
 * compaction at most every [cloud] compact_interval_s: the horizon is, per
 * origin, what the cloud AND every roster terminal acknowledged, older
 * than [cloud] retention_s. It is committed as one store record, so every
 * terminal drops the same operations (records.h).
 */
#ifndef KASSA_KD_COMPACT_H
#define KASSA_KD_COMPACT_H

#include "kassad/kassad.h"

/* cloud_vv: what the cloud holds now. Does nothing before the interval is
 * over, or while a roster terminal is not linked. */
void kd_compact_maybe(kd_app *app, const oplog_vv *cloud_vv);

#endif
