/*
 * coord: the store's coordination group inside kassad (DESIGN.md §4): the
 * pure Raft core of src/raft driven by this daemon's event loop, its state
 * persisted in the terminal's database (term_raft_*), its messages carried
 * by the authenticated peer links (frame type 5).
 *
 * The members are the store roster. A tick every [raft] tick_ms; after each
 * tick or message the core's ready is handled in the order Raft's safety
 * needs: persist (one durable transaction), then send, then apply. The
 * stability score (uptime, starts in the last day) is refreshed every 10 s
 * so leadership drifts to the steadiest terminal.
 *
 * Without a quorum, sales and replication go on untouched; only store-level
 * coordination waits, and the status says why.
 */
#ifndef KASSAD_COORD_H
#define KASSAD_COORD_H

#include "kassad/kassad.h"

/* Starts the group when the peer links are on (after kd_peers_start). */
int kd_coord_start(kd_app *app, kassa_err *err);
/* A Raft frame from a peer link (the peer mesh's on_raft). */
void kd_coord_on_raft(kd_app *app, const char *from, const uint8_t *payload, size_t len);
/* The group's status for /api/v1/status and peers.json (a new reference;
 * JSON null when coordination is off). */
json_t *kd_coord_status(kd_app *app);
/* The leader as {node, term}, or JSON null when none is known. */
json_t *kd_coord_leader(kd_app *app);
/* Proposes a store record (src/storerec) to the group: KASSA_ECONFLICT
 * when this terminal does not lead (or coordination is off), KASSA_EBUSY
 * or KASSA_EFULL when the core cannot take one now. Committed records are
 * applied on every member (term_cloud_*). */
int kd_coord_propose(kd_app *app, const kbuf *rec, kassa_err *err);
/* This terminal leads the group with a quorum: store-level coordination
 * (the cloud upload) is its job. */
bool kd_coord_leads(kd_app *app);
void kd_coord_free(kd_app *app);

#endif
