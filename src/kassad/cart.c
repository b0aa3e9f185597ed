/* cart.c: the open-cart table. */
#include "kassad/cart.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int kd_carts_init(kd_carts *c, size_t max, int64_t idle_timeout_ms, kassa_err *err)
{
    memset(c, 0, sizeof *c);
    c->slots = calloc(max, sizeof *c->slots);
    if (!c->slots)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory for %zu carts", max);
    c->max = max;
    c->idle_timeout_ms = idle_timeout_ms;
    return KASSA_OK;
}

void kd_carts_free(kd_carts *c)
{
    for (size_t i = 0; c->slots && i < c->max; i++)
        free(c->slots[i]);
    free(c->slots);
    c->slots = NULL;
    c->n_open = 0;
}

static void drop(kd_carts *c, size_t i)
{
    free(c->slots[i]);
    c->slots[i] = NULL;
    c->n_open--;
}

void kd_carts_close(kd_carts *c, kd_cart *cart)
{
    for (size_t i = 0; i < c->max; i++) {
        if (c->slots[i] == cart) {
            drop(c, i);
            return;
        }
    }
}

static bool idle(const kd_carts *c, const kd_cart *cart, int64_t now_ms)
{
    return !cart->paying && now_ms - cart->last_used_ms >= c->idle_timeout_ms;
}

size_t kd_carts_sweep(kd_carts *c, int64_t now_ms)
{
    size_t n = 0;
    for (size_t i = 0; i < c->max; i++) {
        if (c->slots[i] && idle(c, c->slots[i], now_ms)) {
            drop(c, i);
            n++;
        }
    }
    return n;
}

int kd_carts_open(kd_carts *c, const char *owner, int64_t now_ms, kd_cart **out, kassa_err *err)
{
    if (c->n_open == c->max)
        kd_carts_sweep(c, now_ms);
    size_t i = 0;
    while (i < c->max && c->slots[i])
        i++;
    if (i == c->max)
        return kassa_fail(err, KASSA_ECONFLICT, "%zu carts are open: finish or abandon one first",
                          c->max);
    /* Not calloc: a cart has room for 500 lines, and an empty one needs
     * only its header set. */
    kd_cart *cart = malloc(sizeof *cart);
    if (!cart)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory for a cart");
    cart->cart.n_lines = 0;
    cart->paying = false;
    unsigned char raw[KD_CART_ID_BYTES];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(cart->id, sizeof cart->id, raw, sizeof raw);
    snprintf(cart->owner, sizeof cart->owner, "%s", owner);
    cart->last_used_ms = now_ms;
    c->slots[i] = cart;
    c->n_open++;
    *out = cart;
    return KASSA_OK;
}

kd_cart *kd_carts_find(kd_carts *c, const char *id, const char *owner, int64_t now_ms)
{
    for (size_t i = 0; i < c->max; i++) {
        kd_cart *cart = c->slots[i];
        if (!cart || strcmp(cart->id, id) != 0)
            continue;
        if (strcmp(cart->owner, owner) != 0)
            return NULL;
        if (idle(c, cart, now_ms)) {
            drop(c, i);
            return NULL;
        }
        cart->last_used_ms = now_ms;
        return cart;
    }
    return NULL;
}
