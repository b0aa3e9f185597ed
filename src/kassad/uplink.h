/*
 * uplink: the store's link to the cloud (docs/CLOUD.md, "Store side"),
 * run by the store's Raft leader only (by the terminal itself when it has
 * no peer links).
 *
 * Upload: every operation above the acknowledged version vector, origin by
 * origin, in batches of at most WIRE_BATCH_MAX_OPS operations (one OpsBatch
 * frame, POST /v1/stores/{store}/ops over mutually authenticated TLS 1.3),
 * one request in flight. The cloud answers the version vector it holds;
 * that vector is proposed as a Raft record (storerec CLOUD_ACK) and, once
 * committed, stored by every member, so a new leader resumes where the
 * cloud stands. Meanwhile the leader goes on from the cloud's answer: a
 * leader killed mid-upload costs at most a re-send, which the cloud
 * answers as duplicates.
 *
 * A pass runs every [cloud] upload_interval_s and at once when the cloud
 * answers again after being unreachable: while it is unreachable the uplink
 * probes it (GET .../vv) with exponential backoff and jitter.
 */
#ifndef KASSAD_UPLINK_H
#define KASSAD_UPLINK_H

#include "kassad/request.h"

int kd_uplink_start(kd_app *app, kassa_err *err);
void kd_uplink_free(kd_app *app);
/* Upload now (e.g. after this terminal became the leader). */
void kd_uplink_kick(kd_app *app);
/* GET /api/v1/stock/chain: a SKU's stock at every store of the chain, asked
 * of the cloud now (any terminal, leader or not). Answered later: 200 with
 * the figures, or 200 with available false and why when the cloud cannot
 * be asked (never an old figure shown as current). */
void kd_uplink_chain_stock(kd_req *r, const char *sku);

/* The "cloud" member of /api/v1/status. */
json_t *kd_uplink_status_json(kd_app *app);

#endif
