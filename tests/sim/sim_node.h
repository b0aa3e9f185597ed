/*
 * sim_node: one simulated terminal. A real `term` (src/term) on its own
 * data directory under the run's temporary directory, its clock set to the
 * node's simulated wall clock; its peer links (sim_link.c), its uploader
 * state (sim_uploader.c) and its Raft member (sim_raft.h).
 *
 * Crash: the term is closed without a clean shutdown (SQLite is told not
 * to checkpoint on close, so the write-ahead log is left as a power cut
 * leaves it) and everything in memory is dropped: links, their sync state,
 * the uploader's watermark, the Raft member's volatile state. Messages
 * still in flight to it are lost on arrival. Restart: term_open again from
 * the same directory, links from scratch, Raft from what it persisted.
 */
#ifndef KASSA_SIM_NODE_H
#define KASSA_SIM_NODE_H

#include "peer/peer_sync.h"
#include "sim_base.h"
#include "term/term.h"
#include "testutil.h"

struct sim_world;
struct sim_raft;

typedef enum sim_link_state {
    SIM_LINK_DOWN = 0,
    SIM_LINK_HELLO, /* dialled: our Hello sent, waiting for theirs */
    SIM_LINK_UP,    /* their Hello read: frames flow */
} sim_link_state;

/* One end of the link with one peer, as src/peer/link.c keeps it. The
 * node with the smaller index dials (one link per pair, so the real mesh's
 * duplicate-link resolution has nothing to do here); conn numbers a
 * connection, so frames of an earlier one are recognised and refused, as
 * a TCP stack refuses segments of a connection it no longer has. */
typedef struct sim_link {
    uint8_t state;
    uint32_t conn;
    peer_sync sync;
    bool sync_live; /* sync initialised (freed when the link closes) */
    int64_t opened_ms, last_rx_ms, last_batch_rx_ms; /* node's monotonic clock */
    int64_t backoff_ms, next_dial_ms;
    uint64_t ops_sent, ops_received;
} sim_link;

/* The uploader's view of the cloud (volatile: lost at a crash, dropped
 * when the node stops being the uploader; with Raft it will be the cloud
 * watermark committed through the log, DESIGN.md §5). */
typedef struct sim_uploader {
    bool active; /* this node is the uploader now */
    bool known;  /* cloud_vv came from the cloud since */
    oplog_vv cloud_vv;
    uint32_t inflight; /* upload number awaiting its ack; 0: none */
    int64_t inflight_since_ms;
    int64_t next_ms;
    int next_origin; /* round-robin start over origins */
} sim_uploader;

typedef struct sim_node {
    int id;       /* 0..n-1 */
    char name[8]; /* "T1".. */
    char dir[640];
    struct sim_world *w;
    bool up;
    uint32_t life; /* incremented at each crash: stale events are ignored */
    uint32_t crashes;
    term *t;
    oplog_vv vv; /* cached term_vv */
    bool vv_stale;
    bool hash_stale; /* written since state_hash was taken */
    uint8_t state_hash[32];
    bool linked_changed; /* links came up or went: Acks to every peer */
    bool pump_due;       /* local operations committed: push them */
    bool pump_scheduled;
    int64_t next_round_ms;
    tu_rng rng; /* dial jitter */
    sim_link link[SIM_NODES_MAX];
    sim_uploader upl;
    struct sim_raft *raft;
    bool raft_leader; /* its last Raft ready said so, in raft_term */
    uint64_t raft_term;
    const char *raft_role; /* as its last ready said (NULL: none yet this life) */
    int raft_follows;      /* the leader it knows of in raft_term, -1: none */
} sim_node;

/* Creates the node's directory from the template of its id and opens it. */
void sim_node_create(struct sim_world *w, int id);
/* Opens the term in its directory (first start and restarts). */
void sim_node_start(struct sim_world *w, sim_node *nd);
void sim_node_crash(struct sim_world *w, sim_node *nd);
void sim_node_restart(struct sim_world *w, sim_node *nd);
/* Closes a live node at the end of a seed and removes its files. */
void sim_node_destroy(struct sim_world *w, sim_node *nd);
/* The node's version vector (cached until it writes). */
const oplog_vv *sim_node_vv(struct sim_world *w, sim_node *nd);
/* The node's state hash (cached until it writes). */
const uint8_t *sim_node_state_hash(struct sim_world *w, sim_node *nd);
/* The node wrote (or may have): its vv and state hash must be re-read. */
void sim_node_dirty(sim_node *nd);
/* Prepares the template databases once per process (term_init is the
 * costliest step of a seed; a copy of its result is the same database). */
void sim_templates_init(const char *root);
void sim_templates_free(void);

/* ---- peer links (sim_link.c) ---- */

void sim_links_reset(sim_node *nd);
void sim_links_close_all(sim_node *nd);
/* The node's periodic link work (mesh on_tick): dials, rounds, timeouts. */
void sim_links_tick(struct sim_world *w, sim_node *nd);
/* A peer frame or reset arrived. */
void sim_link_receive(struct sim_world *w, sim_node *nd, int from, int kind, uint32_t conn,
                      const uint8_t *data, size_t len);
/* End of an event on the node (end of a loop pass): Acks if links changed,
 * then push on every link. */
void sim_links_flush(struct sim_world *w, sim_node *nd);
/* Pushes on every link now (SIM_EV_PUMP). */
void sim_links_pump_all(struct sim_world *w, sim_node *nd);
bool sim_link_is_up(const sim_node *nd, int peer);
/* Sends a Raft message on the link with peer; false (dropped, as
 * peer_mesh_send_raft does) when the link is not up. */
bool sim_link_send_raft(struct sim_world *w, sim_node *nd, int peer, const uint8_t *msg,
                        size_t len);

#endif
