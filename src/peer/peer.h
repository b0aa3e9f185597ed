/*
 * peer: the links between the terminals of one store (DESIGN.md §3).
 *
 * A peer_mesh owns, on the caller's libevent loop:
 *  - a TLS 1.3 listener and outbound links, both with mutual certificate
 *    authentication (src/pki: chain to the company CA, CRL, same store,
 *    node in the roster), decided inside the handshake by our own verify
 *    callback so every refusal carries its reason;
 *  - the targets it dials: static addresses and the ones discovery
 *    reports, each with exponential backoff and jitter;
 *  - the sync protocol on every link (sync.c): Hello with version vectors,
 *    then each side streams what the other lacks, per origin and in order;
 *    new local operations are pushed at once (peer_mesh_kick); a periodic
 *    anti-entropy round exchanges version vectors (Ack frames, which are
 *    also the heartbeat) and repairs what a push missed.
 *
 * A link counts as up only when the peer's first frame (its Hello) has been
 * read through TLS: with TLS 1.3 a client sees "connected" before the
 * server has checked the client's certificate (DESIGN.md §8), so the
 * connect event proves nothing. No operation is read from a link before.
 *
 * Memory is bounded per link: at most send_buffer_max_bytes wait in a
 * link's output buffer (a slow or stalled peer simply gets nothing more
 * until it reads: backpressure), and input is read one frame of at most
 * WIRE_FRAME_MAX_BYTES at a time.
 *
 * Operations from peers go through term_import_ops: the same idempotent,
 * ordered, hash-checked apply as export files.
 */
#ifndef KASSA_PEER_H
#define KASSA_PEER_H

#include "base/base.h"
#include "pki/pki.h"
#include "term/term.h"

#include <event2/event.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* Most links open at once (inbound and outbound), targets dialled, and
 * nodes whose status is kept. A store has a few dozen terminals. */
#define PEER_LINKS_MAX 64
#define PEER_TARGETS_MAX 128
#define PEER_NODES_MAX 256
/* Operations per batch frame while catching up. Bigger batches compress
 * better and cost the receiver fewer fsyncs; smaller ones keep its event
 * loop responsive (one batch is one transaction). */
#define PEER_BATCH_OPS_DEFAULT 10000
#define PEER_HOST_MAX_BYTES 256

typedef struct peer_config {
    const char *listen_host;                /* numeric address to listen on */
    uint16_t listen_port;                   /* 0: any free port (peer_mesh_port) */
    const pki_identity *id;                 /* borrowed: must outlive the mesh */
    const char (*roster)[KASSA_ID_MAX + 1]; /* borrowed: the store's nodes */
    size_t n_roster;
    int64_t anti_entropy_ms;
    int64_t reconnect_min_ms;
    int64_t reconnect_max_ms;
    int64_t idle_timeout_ms; /* no frame for this long closes the link */
    size_t send_buffer_max_bytes;
    size_t batch_max_ops; /* 0: PEER_BATCH_OPS_DEFAULT */
    uint32_t seed;        /* for reconnect jitter */
    /* Called after operations from a peer were applied (optional). */
    void (*on_applied)(void *ctx, size_t n_ops);
    /* Called with the payload of each Raft frame from a peer whose link is
     * up (optional; the payload is untrusted and valid during the call). */
    void (*on_raft)(void *ctx, const char *from_node, const uint8_t *payload, size_t len);
    void *ctx;
} peer_config;

typedef struct peer_mesh peer_mesh;

/* Starts listening. The identity's store and node must be the terminal's;
 * its node must be in the roster. */
int peer_mesh_start(struct event_base *base, term *t, const peer_config *cfg, peer_mesh **out,
                    kassa_err *err);
/* The port actually listened on. */
uint16_t peer_mesh_port(const peer_mesh *m);

/* Adds an address to keep a link with: a static peer (node NULL: learnt
 * from its certificate) or one found by discovery (node given). Adding a
 * known address again updates its node and retries it now. KASSA_EFULL
 * when PEER_TARGETS_MAX addresses are known. */
int peer_mesh_add_target(peer_mesh *m, const char *host, uint16_t port, const char *node,
                         kassa_err *err);

/* Local operations were committed: push them to every link at the end of
 * this pass of the event loop. */
void peer_mesh_kick(peer_mesh *m);

/* Queues a Raft frame for node. KASSA_ENOTFOUND when no link with it is
 * up, KASSA_EFULL when its link is backed up beyond twice
 * send_buffer_max_bytes: Raft tolerates a lost message, and memory stays
 * bounded. */
int peer_mesh_send_raft(peer_mesh *m, const char *node, const uint8_t *payload, size_t len,
                        kassa_err *err);

typedef struct peer_totals {
    uint64_t links_up;
    uint64_t ops_sent;
    uint64_t ops_received; /* newly applied from peers */
    uint64_t bytes_sent;   /* on the wire, TLS included */
    uint64_t bytes_received;
    uint64_t links_refused; /* handshakes or Hellos refused */
} peer_totals;

void peer_mesh_totals(const peer_mesh *m, peer_totals *out);

/* One object per known node: {node, connected, address, direction,
 * last_seen_ms (wall clock, 0: never), lag_ops (operations of ours it
 * lacks), behind_ops (operations of its we lack), ops_sent, ops_received,
 * last_error}. NULL when out of memory. */
json_t *peer_mesh_status(peer_mesh *m);

/* The version vector node has acknowledged, as of its live link (its
 * Hello and later Acks): out (initialised by the caller) gets each origin's
 * seq. KASSA_ENOTFOUND when no link with node is up. */
int peer_mesh_acked(const peer_mesh *m, const char *node, oplog_vv *out, kassa_err *err);

/* Checks every link's peer certificate again (after the identity's CRL
 * changed) and closes those now refused. Returns how many were closed. */
size_t peer_mesh_recheck(peer_mesh *m);

/* Closes every link. */
void peer_mesh_free(peer_mesh *m);

#endif
