/*
 * peers: kassad's side of the peer links (src/peer). Loads the device
 * identity (refusing a key others can read), starts the mesh with the
 * static peers, pushes every committed local operation, and writes the
 * links' status to DATA_DIR/peers.json each second for `kassa status`.
 */
#ifndef KASSAD_PEERS_H
#define KASSAD_PEERS_H

#include "kassad/kassad.h"

#define KD_PEERS_STATUS_FILE "peers.json"
#define KD_PEERS_STATUS_INTERVAL_MS 1000

/* Does nothing when [peer] listen is not set. */
int kd_peers_start(kd_app *app, kassa_err *err);
/* The status array for /api/v1/status (a new reference; [] when off). */
json_t *kd_peers_status(kd_app *app);
/* Reloads CERT_DIR/crl.pem (SIGHUP) and closes the links of peers it now
 * revokes. A bad file keeps the CRL in force, with a warning. */
void kd_peers_reload(kd_app *app);
void kd_peers_free(kd_app *app);

#endif
