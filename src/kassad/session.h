/*
 * session: logged-in cashiers, in memory. A session is a bearer token of
 * 32 random bytes (libsodium randombytes_buf) in hex, the cashier it
 * belongs to, and a sliding expiry: every use extends it by the TTL.
 *
 * The table has a fixed number of slots. When it is full, logging in
 * evicts the session idle the longest: a terminal whose cashiers never log
 * out must still let the next one in.
 */
#ifndef KASSAD_SESSION_H
#define KASSAD_SESSION_H

#include "term/term.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KD_TOKEN_BYTES 32
#define KD_TOKEN_HEX_SIZE (2 * KD_TOKEN_BYTES + 1)

typedef struct kd_session {
    bool used;
    char token[KD_TOKEN_HEX_SIZE];
    term_cashier cashier;
    int64_t last_used_ms; /* monotonic */
} kd_session;

typedef struct kd_sessions {
    kd_session *slots;
    size_t max;
    size_t n_used;
    int64_t ttl_ms;
} kd_sessions;

int kd_sessions_init(kd_sessions *s, size_t max, int64_t ttl_ms, kassa_err *err);
void kd_sessions_free(kd_sessions *s);

/* A new session for c; *evicted tells whether another session was dropped
 * to make room. */
kd_session *kd_sessions_create(kd_sessions *s, const term_cashier *c, int64_t now_ms,
                               bool *evicted);
/* The live session of a token (refreshing its expiry), or NULL when the
 * token is unknown or expired (an expired session is dropped). */
kd_session *kd_sessions_find(kd_sessions *s, const char *token, int64_t now_ms);
void kd_sessions_remove(kd_sessions *s, kd_session *x);
/* Drops expired sessions; returns how many. */
size_t kd_sessions_sweep(kd_sessions *s, int64_t now_ms);
/* Milliseconds until x expires (monotonic now). */
int64_t kd_session_remaining_ms(const kd_sessions *s, const kd_session *x, int64_t now_ms);

#endif
