/*
 * raftstore: a Raft member's state in the terminal's database. The bridge
 * between the pure core (src/raft) and the terminal's storage
 * (term_raft_*), shared by every embedding (kassad's coord.c, the store
 * simulator), so the persistence contract is written once:
 *
 *  - raftstore_restore: what raft_new needs after a (re)start: the hard
 *    state and log as persisted, and the founding configuration (the
 *    store roster) while the log holds no configuration of its own;
 *  - raftstore_persist: step 1 of handling a ready, in one durable
 *    transaction, before any of its messages may leave.
 *
 *  - raftstore_compact: replaces the log's applied prefix with a snapshot
 *    of the embedding's applied state, so the log stays bounded.
 *
 * The snapshot (data, index, term, configuration) is stored beside the
 * log; a stored log that does not start right after it is refused.
 */
#ifndef KASSA_RAFTSTORE_H
#define KASSA_RAFTSTORE_H

#include "raft/raft.h"
#include "term/term.h"

/* Room for the log read at start (about 1 MiB: allocate it). */
typedef struct raftstore_log {
    size_t n;
    raft_entry entries[RAFT_LOG_MAX];
    size_t snapshot_len;
    uint8_t snapshot[RAFT_SNAPSHOT_MAX];
} raftstore_log;

/* Fills *out (pointing into *log) from t's storage, with founding as the
 * configuration (sorted here). *hard (optional) gets the persisted hard
 * state. The caller may still adjust *out before raft_new. */
int raftstore_restore(term *t, const raft_conf *founding, raftstore_log *log, raft_restored *out,
                      kassa_err *err);

/* Reads a configuration as stored with a snapshot (ids joined by ','). */
int raftstore_conf_parse(const char *text, raft_conf *conf, kassa_err *err);

/* Room for the entries of one ready (allocate it). */
typedef struct raftstore_scratch {
    term_raft_entry entries[RAFT_LOG_MAX];
} raftstore_scratch;

/* Persists what rd asks for (snapshot, entries, hard state) in one durable
 * transaction. */
int raftstore_persist(term *t, const raft_ready *rd, raftstore_scratch *scratch, kassa_err *err);

/* Compacts r's log up to upto_index (applied, and past the current
 * snapshot) with data as the applied state there, and stores the snapshot
 * (dropping the entries it covers) in one durable transaction. */
int raftstore_compact(term *t, raft *r, uint64_t upto_index, const uint8_t *data, size_t len,
                      kassa_err *err);

#endif
