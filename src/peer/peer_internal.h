/* Private to src/peer: the mesh, its links and targets. */
#ifndef KASSA_PEER_INTERNAL_H
#define KASSA_PEER_INTERNAL_H

#include "peer/peer.h"
#include "peer/peer_sync.h"
#include "wire/wire.h"

#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <openssl/ssl.h>

/* Frames handled per pass of the event loop on one link before yielding
 * to other events (a batch is one transaction of up to thousands of ops). */
#define PEER_FRAMES_PER_PASS 8
/* Batches written per pass on one link before yielding. */
#define PEER_BATCHES_PER_PASS 4
#define PEER_ADDR_MAX_BYTES (PEER_HOST_MAX_BYTES + 8)
#define PEER_REASON_MAX_BYTES 256
/* A link dialled by the larger node id of the two waits this long before
 * streaming: when both ends dial at once, the link of the smaller one wins
 * (peer_mesh_link_up), and the loser should not have sent a backlog. */
#define PEER_DUPLICATE_GRACE_MS 500

typedef enum peer_link_state {
    LINK_TLS,   /* connecting, or TLS handshake under way */
    LINK_HELLO, /* handshake done, our Hello sent, waiting for theirs */
    LINK_UP,    /* their Hello read: the link is accepted */
} peer_link_state;

typedef struct peer_link {
    struct peer_mesh *m;
    struct bufferevent *bev;
    SSL *ssl;              /* owned by bev */
    struct event *work_ev; /* more input to read or output to write */
    bool outbound;
    bool duplicate; /* closed because another link to the node won */
    int target;     /* index of the target dialled, -1 inbound */
    peer_link_state state;
    char addr[PEER_ADDR_MAX_BYTES];      /* the other end, numeric */
    char node[KASSA_ID_MAX + 1];         /* from its certificate */
    char refusal[PEER_REASON_MAX_BYTES]; /* why our verify callback refused */
    char claimed[2 * KASSA_ID_MAX + 2];  /* STORE/NODE a refused cert names */
    char claimed_store[KASSA_ID_MAX + 1];
    char claimed_node[KASSA_ID_MAX + 1];
    int64_t opened_ms, last_rx_ms;
    int64_t last_batch_rx_ms; /* last OpsBatch received: it is busy sending */
    int64_t hold_until_ms;    /* no streaming before (PEER_DUPLICATE_GRACE_MS) */
    peer_sync sync;
    uint64_t ops_sent, ops_received;
} peer_link;

/* Batches encoded lately, by (origin, after_seq): in a full mesh every
 * link streams the same operations of ours (all of them while catching up,
 * each new one when pushing), so each batch is read and compressed once,
 * not once per peer, even when the peers read at different speeds. Bounded:
 * PEER_BATCH_CACHE frames and PEER_BATCH_CACHE_MAX_BYTES in all (least
 * recently used first out). Operations never change once written, so a
 * cached batch stays right; it may only be shorter than what is there now. */
#define PEER_BATCH_CACHE 64
#define PEER_BATCH_CACHE_MAX_BYTES (8u << 20)
typedef struct peer_batch {
    char origin[KASSA_ID_MAX + 1];
    uint64_t after_seq, last_seq;
    size_t n_ops;
    uint64_t used; /* LRU clock */
    kbuf frame;
} peer_batch;

typedef struct peer_target {
    char host[PEER_HOST_MAX_BYTES];
    uint16_t port;
    char node[KASSA_ID_MAX + 1]; /* "" until known */
    bool self;                   /* our own address: never dialled again */
    int64_t backoff_ms;
    int64_t next_ms; /* next dial, monotonic */
    peer_link *link;
} peer_target;

/* What the status keeps per node across reconnects. */
typedef struct peer_node {
    char node[KASSA_ID_MAX + 1];
    char addr[PEER_ADDR_MAX_BYTES];
    bool outbound;
    int64_t last_seen_wall_ms;
    uint64_t lag_ops, behind_ops;
    uint64_t ops_sent, ops_received; /* by links already closed */
    char last_error[PEER_REASON_MAX_BYTES];
} peer_node;

struct peer_mesh {
    struct event_base *base;
    term *t;
    peer_config cfg;
    SSL_CTX *tls;
    struct evconnlistener *listener;
    uint16_t port;
    struct event *tick_ev; /* dialling, rounds, idle links */
    struct event *kick_ev; /* push new local operations */
    int64_t next_round_ms;
    int64_t data_version; /* of the database, to notice other writers */
    uint32_t rng;

    peer_link *links[PEER_LINKS_MAX];
    size_t n_links;
    peer_target targets[PEER_TARGETS_MAX];
    size_t n_targets;
    peer_node nodes[PEER_NODES_MAX];
    size_t n_nodes;

    oplog_vv ours; /* our version vector, refreshed before use */

    bool linked_changed; /* a link came up or went: tell every peer */
    wire_linked linked;  /* scratch: the nodes we have links up with */

    peer_batch batches[PEER_BATCH_CACHE];
    uint64_t batch_clock;
    size_t batch_bytes; /* frames held in batches */

    /* Scratch for building one batch at a time (one thread). */
    oplog_op *ops;
    kbuf payloads;
    kbuf frame;
    peer_totals totals;
};

int64_t peer_now_ms(void);
int64_t peer_wall_ms(void);

/* tls.c */
int peer_tls_ctx_new(peer_mesh *m, kassa_err *err);
/* A new SSL for a link (app data = the link). */
SSL *peer_tls_new(peer_mesh *m, peer_link *l, kassa_err *err);
/* The TLS library's reason for the last failure on the link, or "". */
void peer_tls_error(peer_link *l, char *out, size_t n);

/* link.c */
/* Wraps a connected or connecting socket (fd -1: dial sa) in a TLS link. */
int peer_link_open(peer_mesh *m, int fd, bool outbound, int target, const struct sockaddr *sa,
                   int sa_len, kassa_err *err);
/* Closes and frees a link; reason is logged and kept in the node's status. */
void peer_link_close(peer_link *l, const char *reason);
/* Sends what the peer lacks, up to the buffer limit. */
void peer_link_pump(peer_link *l);
/* An anti-entropy round on one link: Ack with our vv, relays. */
void peer_link_round(peer_link *l);

/* mesh.c */
/* Our version vector, refreshed from the database. */
int peer_mesh_refresh_vv(peer_mesh *m, kassa_err *err);
/* The status record for node (created); NULL when the table is full. */
peer_node *peer_mesh_node(peer_mesh *m, const char *node);
/* A link just came up: settle duplicates, reset the dialler's backoff.
 * False when this link was closed as the duplicate. */
bool peer_mesh_link_up(peer_mesh *m, peer_link *l);
/* A link with node is up. */
bool peer_mesh_linked_with(const peer_mesh *m, const char *node);
/* Another link to the same node is up (this one is a duplicate). */
bool peer_mesh_has_other_link(peer_mesh *m, const peer_link *l);
/* A link is going away: forget it, schedule its target's next dial. */
void peer_mesh_link_gone(peer_mesh *m, peer_link *l, bool was_up);
bool peer_mesh_in_roster(void *ctx, const char *store, const char *node);
/* The nodes we have links up with, for our Acks. */
void peer_mesh_linked(const peer_mesh *m, wire_linked *out);
/* Queues a Raft frame on a link that is up. */
int peer_link_send_raft(peer_link *l, const uint8_t *payload, size_t len, kassa_err *err);
/* Sends an Ack to a link now (our vv and links). */
int peer_link_send_ack(peer_link *l, kassa_err *err);

#endif
