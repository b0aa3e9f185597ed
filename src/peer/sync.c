/* sync.c: per-link version-vector bookkeeping (peer_sync.h). */
#include "peer/peer_sync.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void peer_sync_init(peer_sync *s, const char *self, int64_t relay_grace_ms)
{
    memset(s, 0, sizeof *s);
    snprintf(s->self, sizeof s->self, "%s", self);
    s->relay_grace_ms = relay_grace_ms;
}

void peer_sync_set_peer(peer_sync *s, const char *peer)
{
    snprintf(s->peer, sizeof s->peer, "%s", peer);
}

void peer_sync_free(peer_sync *s)
{
    free(s->o);
    memset(s, 0, sizeof *s);
}

/* Binary search: true with *pos at origin's entry, or false with *pos
 * where it would go. */
static bool search(const peer_sync *s, const char *origin, size_t *pos)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(s->o[mid].origin, origin);
        if (c == 0) {
            *pos = mid;
            return true;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *pos = lo;
    return false;
}

/* The entry for origin, created (zeroed) when absent; NULL on error. */
static peer_origin *entry(peer_sync *s, const char *origin, kassa_err *err)
{
    size_t lo;
    if (search(s, origin, &lo))
        return &s->o[lo];
    if (s->n >= PEER_SYNC_ORIGINS_MAX) {
        kassa_fail(err, KASSA_EFULL, "more than %d origins in the store", PEER_SYNC_ORIGINS_MAX);
        return NULL;
    }
    if (!kassa_valid_id(origin, KASSA_ID_MAX)) {
        kassa_fail(err, KASSA_EINVAL, "invalid origin id");
        return NULL;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        peer_origin *o = realloc(s->o, cap * sizeof *o);
        if (!o) {
            kassa_fail(err, KASSA_ENOMEM, "out of memory");
            return NULL;
        }
        s->o = o;
        s->cap = cap;
    }
    memmove(&s->o[lo + 1], &s->o[lo], (s->n - lo) * sizeof *s->o);
    s->n++;
    peer_origin *e = &s->o[lo];
    memset(e, 0, sizeof *e);
    memcpy(e->origin, origin, strlen(origin) + 1);
    return e;
}

static const peer_origin *find(const peer_sync *s, const char *origin)
{
    size_t pos;
    return search(s, origin, &pos) ? &s->o[pos] : NULL;
}

int peer_sync_on_vv(peer_sync *s, const oplog_vv *theirs, kassa_err *err)
{
    for (size_t i = 0; i < theirs->n; i++) {
        peer_origin *e = entry(s, theirs->e[i].origin, err);
        if (!e)
            return err->code;
        /* A vv only grows; an older Ack overtaken by a newer one changes
         * nothing. */
        if (theirs->e[i].seq > e->acked) {
            s->total_acked += theirs->e[i].seq - e->acked;
            e->acked = theirs->e[i].seq;
        }
        if (e->sent < e->acked)
            e->sent = e->acked;
    }
    return KASSA_OK;
}

static bool linked_with(const peer_sync *s, const char *origin)
{
    for (size_t i = 0; i < s->linked.n; i++)
        if (strcmp(s->linked.id[i], origin) == 0)
            return true;
    return false;
}

void peer_sync_on_linked(peer_sync *s, const wire_linked *linked, int64_t now_ms)
{
    s->linked.n = linked->n < WIRE_LINKED_MAX ? linked->n : WIRE_LINKED_MAX;
    memcpy(s->linked.id, linked->id, s->linked.n * sizeof s->linked.id[0]);
    s->linked_known = true;
    for (size_t i = 0; i < s->n; i++) {
        peer_origin *e = &s->o[i];
        if (linked_with(s, e->origin) || strcmp(e->origin, s->peer) == 0)
            e->unlinked_since_ms = 0;
        else if (e->unlinked_since_ms == 0)
            e->unlinked_since_ms = now_ms > 0 ? now_ms : 1;
    }
}

bool peer_sync_sendable(const peer_sync *s, const char *origin, int64_t now_ms)
{
    if (strcmp(origin, s->self) == 0)
        return true;
    if (!s->linked_known || strcmp(origin, s->peer) == 0)
        return false;
    const peer_origin *e = find(s, origin);
    return e && e->unlinked_since_ms && now_ms - e->unlinked_since_ms >= s->relay_grace_ms;
}

bool peer_sync_next(const peer_sync *s, const oplog_vv *ours, int64_t now_ms, const char **origin,
                    uint64_t *after_seq)
{
    for (size_t i = 0; i < ours->n; i++) {
        const oplog_vv_entry *v = &ours->e[i];
        const peer_origin *e = find(s, v->origin);
        uint64_t sent = e ? e->sent : 0;
        if (sent >= v->seq || !peer_sync_sendable(s, v->origin, now_ms))
            continue;
        *origin = v->origin;
        *after_seq = sent;
        return true;
    }
    return false;
}

int peer_sync_sent(peer_sync *s, const char *origin, uint64_t last_seq, kassa_err *err)
{
    peer_origin *e = entry(s, origin, err);
    if (!e)
        return err->code;
    if (last_seq > e->sent)
        e->sent = last_seq;
    return KASSA_OK;
}

size_t peer_sync_round(peer_sync *s, const oplog_vv *ours, bool idle, int64_t now_ms)
{
    /* Every origin we hold gets an entry, so a peer that never mentioned
     * one is tracked (acked 0) and can be repaired like the others. */
    kassa_err ignored;
    for (size_t i = 0; i < ours->n; i++)
        if (!find(s, ours->e[i].origin))
            (void)entry(s, ours->e[i].origin, &ignored);
    if (s->total_acked == s->total_at_round)
        s->still_rounds++;
    else
        s->still_rounds = 0;
    s->total_at_round = s->total_acked;
    if (s->still_rounds < PEER_SYNC_STALL_ROUNDS || !idle)
        return 0;
    size_t rewound = 0;
    for (size_t i = 0; i < s->n; i++) {
        peer_origin *e = &s->o[i];
        if (e->sent > e->acked && e->acked < oplog_vv_get(ours, e->origin) &&
            peer_sync_sendable(s, e->origin, now_ms)) {
            e->sent = e->acked;
            rewound++;
        }
    }
    s->still_rounds = 0;
    return rewound;
}

uint64_t peer_sync_lag(const peer_sync *s, const oplog_vv *ours)
{
    uint64_t lag = 0;
    for (size_t i = 0; i < ours->n; i++) {
        const peer_origin *e = find(s, ours->e[i].origin);
        uint64_t theirs = e ? e->acked : 0;
        if (ours->e[i].seq > theirs)
            lag += ours->e[i].seq - theirs;
    }
    return lag;
}

uint64_t peer_sync_behind(const peer_sync *s, const oplog_vv *ours)
{
    uint64_t behind = 0;
    for (size_t i = 0; i < s->n; i++) {
        uint64_t have = oplog_vv_get(ours, s->o[i].origin);
        if (s->o[i].acked > have)
            behind += s->o[i].acked - have;
    }
    return behind;
}
