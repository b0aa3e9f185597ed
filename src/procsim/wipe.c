/*
 * wipe.c: an allocator for jansson and libevent that clears each block
 * before it goes back to malloc. The opened card record passes through
 * jansson (and request bodies through libevent); without this a card
 * number would stay readable in freed heap memory (and in a core dump).
 *
 * The blocks come from malloc itself, so free() on one is still correct;
 * malloc_usable_size gives the size to clear.
 */
#include "procsim/procsim.h"

#include <event2/event.h>
#include <jansson.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

static void wipe_free(void *p)
{
    if (!p)
        return;
    sodium_memzero(p, malloc_usable_size(p));
    free(p);
}

/* realloc would free the old block unwiped: copy, then wipe the old. */
static void *wipe_realloc(void *p, size_t n)
{
    if (!p)
        return malloc(n);
    if (n == 0) {
        wipe_free(p);
        return NULL;
    }
    void *q = malloc(n);
    if (!q)
        return NULL;
    size_t old = malloc_usable_size(p);
    memcpy(q, p, old < n ? old : n);
    wipe_free(p);
    return q;
}

void ps_wipe_alloc_install(void)
{
    json_set_alloc_funcs(malloc, wipe_free);
    event_set_mem_functions(malloc, wipe_realloc, wipe_free);
}
