/*
 * crash_writer: the victim of tests/cli/test_crash.sh.
 *
 *   crash_writer DIR [SEED [COUNT]]
 *
 * Opens the terminal in DIR (its catalog already imported), then records
 * cash sales of 1-3 random catalog lines forever. After each term_sale that
 * returns KASSA_OK it prints the sale id ("NODE-SEQ") on its own line and
 * flushes stdout: that line is the acknowledgement the test holds kassa to.
 * The test kills it with SIGKILL at a random moment; any failure here is
 * reported on stderr with exit status 1 (the test treats an exit on its own
 * as a failure). With COUNT it exits 0 after COUNT sales instead (to make
 * test data quickly).
 */
#include "term/term.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct skus {
    size_t n, cap;
    char (*sku)[KASSA_SKU_MAX + 1];
} skus;

static int collect_sku(const term_item *item, void *ctx)
{
    skus *s = ctx;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 32;
        void *p = realloc(s->sku, cap * sizeof *s->sku);
        if (!p)
            return KASSA_ENOMEM;
        s->sku = p;
        s->cap = cap;
    }
    snprintf(s->sku[s->n++], sizeof s->sku[0], "%s", item->sku);
    return KASSA_OK;
}

/* xorshift64*: small, seedable, good enough to pick lines. SEED sets the
 * state directly (0 is replaced), not through tu_rng_seed. */
static tu_rng g_rng;

static uint64_t rng(void)
{
    return tu_rng_next(&g_rng);
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: crash_writer DIR [SEED [COUNT]]\n");
        return 2;
    }
    g_rng.s =
        argc >= 3 ? strtoull(argv[2], NULL, 10) : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    unsigned long long count = argc == 4 ? strtoull(argv[3], NULL, 10) : 0;
    if (g_rng.s == 0)
        g_rng.s = 0x9e3779b97f4a7c15u;

    kassa_err err;
    term *t;
    if (term_open(argv[1], &t, &err) != KASSA_OK) {
        fprintf(stderr, "crash_writer: open %s: %s\n", argv[1], err.msg);
        return 1;
    }
    skus s = {0};
    if (term_catalog_each(t, collect_sku, &s, &err) != KASSA_OK || s.n == 0) {
        fprintf(stderr, "crash_writer: no catalog in %s (import one first)\n", argv[1]);
        term_close(t);
        free(s.sku);
        return 1;
    }

    static term_cart cart;
    static term_sale_result res;
    for (unsigned long long done = 0; count == 0 || done < count; done++) {
        memset(&cart, 0, sizeof cart);
        size_t lines = 1 + (size_t)(rng() % 3);
        for (size_t i = 0; i < lines; i++) {
            const char *sku = s.sku[rng() % s.n];
            /* The same SKU twice merges into one line: fine. */
            if (term_cart_add(&cart, sku, (int64_t)(1 + rng() % 5), &err) != KASSA_OK) {
                fprintf(stderr, "crash_writer: cart: %s\n", err.msg);
                term_close(t);
                free(s.sku);
                return 1;
            }
        }
        /* Tender far more than any cart of this catalog can cost. */
        if (term_sale(t, &cart, INT64_C(100000000), &res, &err) != KASSA_OK) {
            fprintf(stderr, "crash_writer: sale: %s\n", err.msg);
            term_close(t);
            free(s.sku);
            return 1;
        }
        char id[KASSA_ID_MAX + 24];
        oplog_sale_id(&res.ref, id, sizeof id);
        if (printf("%s\n", id) < 0 || fflush(stdout) != 0) {
            fprintf(stderr, "crash_writer: cannot write the acknowledgement\n");
            term_close(t);
            free(s.sku);
            return 1;
        }
    }
    term_close(t);
    free(s.sku);
    return 0;
}
