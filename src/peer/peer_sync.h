/*
 * peer_sync: what one link should send next. Pure bookkeeping over version
 * vectors, no I/O, so the rules can be tested on their own.
 *
 * For each origin the link remembers:
 *  - acked: the peer's head for that origin, from its Hello and Acks;
 *  - sent:  how far we have streamed it (never below acked).
 *
 * Our own operations are always sent. Another origin's operations are
 * relayed to the peer only when the peer has no link up with that origin
 * (its Acks list the nodes it is linked with): in a full mesh every
 * terminal hears each origin from the origin itself, and relaying would
 * send everything N-1 times; across a partial mesh (A - B - C) the middle
 * terminal carries A's operations to C. Until the peer's first Ack says
 * whom it is linked with, nothing is relayed, and an origin is relayed only
 * once the peer has been without a link to it for relay_grace_ms: while a
 * store's links come up (all terminals starting at once), a peer is briefly
 * linked with some terminals only, and relaying then would send it the
 * backlogs its other links are about to bring.
 *
 * A repair for what a push missed: when the peer applied nothing at all
 * (from anyone) for PEER_SYNC_STALL_ROUNDS anti-entropy rounds while it
 * still lacks operations we sent it and our output to it is empty, we
 * rewind to its head and stream again (duplicates are harmless: apply is
 * idempotent). "Nothing at all", not "nothing of that origin": a peer busy
 * catching up on other origins lags on ours too, and rewinding then would
 * only send the same operations twice.
 */
#ifndef KASSA_PEER_SYNC_H
#define KASSA_PEER_SYNC_H

#include "base/base.h"
#include "oplog/oplog.h"
#include "wire/wire.h"

#include <stdbool.h>

/* Origins tracked per link: one per terminal that ever wrote in the store. */
#define PEER_SYNC_ORIGINS_MAX 1024
/* Rounds without progress before a repair rewinds an origin. */
#define PEER_SYNC_STALL_ROUNDS 3

typedef struct peer_origin {
    char origin[KASSA_ID_MAX + 1];
    uint64_t acked;
    uint64_t sent;
    int64_t unlinked_since_ms; /* the peer has had no link with it since; 0: linked */
} peer_origin;

typedef struct peer_sync {
    char self[KASSA_ID_MAX + 1];
    char peer[KASSA_ID_MAX + 1];
    int64_t relay_grace_ms;
    size_t n, cap;
    peer_origin *o; /* sorted by origin */
    bool linked_known;
    wire_linked linked;      /* the peer's links, from its last Ack */
    uint64_t total_acked;    /* sum of acked: grows whenever it applies */
    uint64_t total_at_round; /* total_acked when the last round ran */
    unsigned still_rounds;   /* rounds in a row it applied nothing */
} peer_sync;

void peer_sync_init(peer_sync *s, const char *self, int64_t relay_grace_ms);
/* The peer's node id, once its certificate has been checked. */
void peer_sync_set_peer(peer_sync *s, const char *peer);
void peer_sync_free(peer_sync *s);

/* The peer told us what it holds (Hello or Ack). */
int peer_sync_on_vv(peer_sync *s, const oplog_vv *theirs, kassa_err *err);
/* The peer told us whom it is linked with (Ack), at now_ms. */
void peer_sync_on_linked(peer_sync *s, const wire_linked *linked, int64_t now_ms);

/* Whether we send origin's operations to this peer at all, at now_ms. */
bool peer_sync_sendable(const peer_sync *s, const char *origin, int64_t now_ms);

/* The next range to send: a sendable origin of ours where the peer may lack
 * something. *after_seq is the last seq it has (or was sent). False when
 * there is nothing to send. */
bool peer_sync_next(const peer_sync *s, const oplog_vv *ours, int64_t now_ms, const char **origin,
                    uint64_t *after_seq);

/* We sent origin's operations up to last_seq. */
int peer_sync_sent(peer_sync *s, const char *origin, uint64_t last_seq, kassa_err *err);

/* An anti-entropy round (see the repair above). idle says the link's
 * output is empty: only then is "no progress" meaningful. Returns how many
 * origins were rewound. */
size_t peer_sync_round(peer_sync *s, const oplog_vv *ours, bool idle, int64_t now_ms);

/* Operations we hold that the peer lacks (by its last vv), and operations
 * it holds that we lack. */
uint64_t peer_sync_lag(const peer_sync *s, const oplog_vv *ours);
uint64_t peer_sync_behind(const peer_sync *s, const oplog_vv *ours);

#endif
