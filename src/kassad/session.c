/* session.c: the session table. */
#include "kassad/session.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

int kd_sessions_init(kd_sessions *s, size_t max, int64_t ttl_ms, kassa_err *err)
{
    memset(s, 0, sizeof *s);
    s->slots = calloc(max, sizeof *s->slots);
    if (!s->slots)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory for %zu sessions", max);
    s->max = max;
    s->ttl_ms = ttl_ms;
    return KASSA_OK;
}

void kd_sessions_free(kd_sessions *s)
{
    if (s->slots)
        sodium_memzero(s->slots, s->max * sizeof *s->slots);
    free(s->slots);
    s->slots = NULL;
}

static bool expired(const kd_sessions *s, const kd_session *x, int64_t now_ms)
{
    return now_ms - x->last_used_ms >= s->ttl_ms;
}

void kd_sessions_remove(kd_sessions *s, kd_session *x)
{
    if (!x->used)
        return;
    sodium_memzero(x, sizeof *x);
    s->n_used--;
}

size_t kd_sessions_sweep(kd_sessions *s, int64_t now_ms)
{
    size_t n = 0;
    for (size_t i = 0; i < s->max; i++) {
        if (s->slots[i].used && expired(s, &s->slots[i], now_ms)) {
            kd_sessions_remove(s, &s->slots[i]);
            n++;
        }
    }
    return n;
}

kd_session *kd_sessions_create(kd_sessions *s, const term_cashier *c, int64_t now_ms, bool *evicted)
{
    *evicted = false;
    if (s->n_used == s->max)
        kd_sessions_sweep(s, now_ms);
    kd_session *slot = NULL, *oldest = NULL;
    for (size_t i = 0; i < s->max && !slot; i++) {
        kd_session *x = &s->slots[i];
        if (!x->used)
            slot = x;
        else if (!oldest || x->last_used_ms < oldest->last_used_ms)
            oldest = x;
    }
    if (!slot) {
        kd_sessions_remove(s, oldest);
        slot = oldest;
        *evicted = true;
    }
    unsigned char raw[KD_TOKEN_BYTES];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(slot->token, sizeof slot->token, raw, sizeof raw);
    sodium_memzero(raw, sizeof raw);
    slot->cashier = *c;
    slot->last_used_ms = now_ms;
    slot->used = true;
    s->n_used++;
    return slot;
}

kd_session *kd_sessions_find(kd_sessions *s, const char *token, int64_t now_ms)
{
    if (strlen(token) != KD_TOKEN_HEX_SIZE - 1)
        return NULL;
    kd_session *found = NULL;
    /* Constant-time comparison, and no early exit on a match: how long
     * the lookup takes says nothing about the tokens held. */
    for (size_t i = 0; i < s->max; i++) {
        kd_session *x = &s->slots[i];
        if (x->used && sodium_memcmp(x->token, token, KD_TOKEN_HEX_SIZE - 1) == 0)
            found = x;
    }
    if (!found)
        return NULL;
    if (expired(s, found, now_ms)) {
        kd_sessions_remove(s, found);
        return NULL;
    }
    found->last_used_ms = now_ms;
    return found;
}

int64_t kd_session_remaining_ms(const kd_sessions *s, const kd_session *x, int64_t now_ms)
{
    int64_t left = s->ttl_ms - (now_ms - x->last_used_ms);
    return left > 0 ? left : 0;
}
