/*
 * peer_sync: what one link should send next. Pure bookkeeping over version
 * vectors, no I/O, so the rules can be tested on their own.
 *
 * For each origin the link remembers:
 *  - acked: the peer's head for that origin, from its Hello and Acks;
 *  - sent:  how far we have streamed it (never below acked);
 *  - relay: whether we may send the origin at all.
 *
 * Our own operations are always sent: in a full mesh every terminal hears
 * each origin from the origin itself, so relaying others' operations would
 * only send everything N-1 times. Another origin's operations are relayed
 * to a peer only when a whole anti-entropy round passed in which the peer
 * lagged on that origin and made no progress (it is not hearing it from
 * anyone): then we rewind to its head and stream from there. That same
 * rule repairs a push that was lost (a batch refused, a link cut mid-way).
 */
#ifndef KASSA_PEER_SYNC_H
#define KASSA_PEER_SYNC_H

#include "base/base.h"
#include "oplog/oplog.h"

#include <stdbool.h>

/* Origins tracked per link: one per terminal that ever wrote in the store. */
#define PEER_SYNC_ORIGINS_MAX 1024

typedef struct peer_origin {
    char origin[KASSA_ID_MAX + 1];
    uint64_t acked;
    uint64_t acked_at_round; /* acked when the last round ran */
    uint64_t sent;
    bool relay;
} peer_origin;

typedef struct peer_sync {
    size_t n, cap;
    peer_origin *o; /* sorted by origin */
} peer_sync;

void peer_sync_init(peer_sync *s);
void peer_sync_free(peer_sync *s);

/* The peer told us what it holds (Hello or Ack). */
int peer_sync_on_vv(peer_sync *s, const oplog_vv *theirs, kassa_err *err);

/* The next range to send: an origin of ours where the peer may lack
 * something and we may send it. *after_seq is the last seq it has (or was
 * sent). False when there is nothing to send. */
bool peer_sync_next(const peer_sync *s, const oplog_vv *ours, const char *self, const char **origin,
                    uint64_t *after_seq);

/* We sent origin's operations up to last_seq. */
int peer_sync_sent(peer_sync *s, const char *origin, uint64_t last_seq, kassa_err *err);

/* An anti-entropy round: origins where the peer lags behind us and did not
 * progress since the previous round get relay on and are rewound to the
 * peer's head. idle says the link's output is empty (nothing in flight):
 * only then is "no progress" meaningful. */
void peer_sync_round(peer_sync *s, const oplog_vv *ours, bool idle);

/* Operations we hold that the peer lacks (by its last vv), and operations
 * it holds that we lack. */
uint64_t peer_sync_lag(const peer_sync *s, const oplog_vv *ours);
uint64_t peer_sync_behind(const peer_sync *s, const oplog_vv *ours);

#endif
