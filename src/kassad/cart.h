/*
 * cart: open carts, in memory, each owned by one cashier (any of that
 * cashier's sessions may use it; another cashier cannot see it). The table
 * has a fixed number of slots (max_open_carts) and a cart not touched for
 * the idle timeout is dropped. Carts are allocated when opened, so an idle
 * daemon holds no cart memory.
 */
#ifndef KASSAD_CART_H
#define KASSAD_CART_H

#include "term/term.h"

#include <stddef.h>
#include <stdint.h>

#define KD_CART_ID_BYTES 16
#define KD_CART_ID_SIZE (2 * KD_CART_ID_BYTES + 1)

typedef struct kd_cart {
    char id[KD_CART_ID_SIZE];
    char owner[KASSA_ID_MAX + 1];
    int64_t last_used_ms; /* monotonic */
    bool paying;          /* a card payment is in progress: no change, no expiry */
    term_cart cart;
} kd_cart;

typedef struct kd_carts {
    kd_cart **slots;
    size_t max;
    size_t n_open;
    int64_t idle_timeout_ms;
} kd_carts;

int kd_carts_init(kd_carts *c, size_t max, int64_t idle_timeout_ms, kassa_err *err);
void kd_carts_free(kd_carts *c);

/* A new empty cart; KASSA_ECONFLICT when max_open_carts are open. */
int kd_carts_open(kd_carts *c, const char *owner, int64_t now_ms, kd_cart **out, kassa_err *err);
/* The owner's live cart with this id (refreshing its idle time), or
 * NULL: unknown, expired or someone else's cart all look the same. */
kd_cart *kd_carts_find(kd_carts *c, const char *id, const char *owner, int64_t now_ms);
void kd_carts_close(kd_carts *c, kd_cart *cart);
/* Drops carts idle for longer than the timeout; returns how many. */
size_t kd_carts_sweep(kd_carts *c, int64_t now_ms);

#endif
