/*
 * kassa-reader-sim: a card reader on a Unix socket, for tests and the demo.
 *
 *   kassa-reader-sim --socket PATH --processor-key PUBFILE --token-key FILE
 *                    [--card NUMBER --expiry MM/YY] [--read-delay-ms N]
 *   kassa-reader-sim present --socket PATH
 *                    (NUMBER MM/YY | --timeout | --disconnect | --remove)
 *
 * The daemon answers the terminal's reads (pay.h) with a token, the brand,
 * the last four digits, the expiry and the card record sealed to the
 * processor's public key (PUBFILE: hex, one line; `kassa-processor-sim
 * keygen` writes it). The token key (32 random bytes, mode 0600) is created
 * when FILE does not exist. `present` queues what the next read gets.
 *
 * Card numbers given on the command line are copied and wiped from argv at
 * once (they stay visible in the process list until then: this is a
 * simulator). Nothing is ever printed or logged of a card number beyond
 * its last four digits. Logs are JSON lines on stderr, one per read.
 */
#include "readersim/readersim.h"

#include "jlog/jlog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define READ_DELAY_MS_MAX 600000

static int usage(void)
{
    fprintf(stderr,
            "usage: " RS_PROG " --socket PATH --processor-key PUBFILE --token-key FILE\n"
            "           [--card NUMBER --expiry MM/YY] [--read-delay-ms N]\n"
            "       " RS_PROG " present --socket PATH (NUMBER MM/YY | --timeout | --disconnect |"
            " --remove)\n");
    return 2;
}

int main(int argc, char **argv)
{
    /* Before jansson or libevent allocate anything. */
    if (!pay_sim_start(RS_PROG))
        return 1;
    if (argc >= 2 && strcmp(argv[1], "present") == 0)
        return rs_present_main(argc - 2, argv + 2);

    static rs_config cfg;
    const char *pub = NULL, *token_key = NULL, *expiry = NULL;
    bool has_card = false;
    int rc = 0;
    for (int i = 1; i < argc && rc == 0; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            rc = usage();
        } else if (strcmp(a, "--socket") == 0 && !cfg.socket_path) {
            cfg.socket_path = v;
        } else if (strcmp(a, "--processor-key") == 0 && !pub) {
            pub = v;
        } else if (strcmp(a, "--token-key") == 0 && !token_key) {
            token_key = v;
        } else if (strcmp(a, "--expiry") == 0 && !expiry) {
            expiry = v;
        } else if (strcmp(a, "--card") == 0 && !has_card) {
            if (!rs_take_number(argv[i + 1], &cfg.default_card)) {
                fprintf(stderr, RS_PROG ": --card: expected a card number of at most %d digits\n",
                        RS_NUMBER_MAX);
                rc = 2;
            }
            has_card = true;
        } else if (strcmp(a, "--read-delay-ms") == 0) {
            if (!pay_parse_uint(v, READ_DELAY_MS_MAX, &cfg.read_delay_ms)) {
                fprintf(stderr, RS_PROG ": --read-delay-ms: expected 0..%d\n", READ_DELAY_MS_MAX);
                rc = 2;
            }
        } else {
            rc = usage();
        }
        i++;
    }
    int m, y;
    if (rc == 0 && (!cfg.socket_path || !pub || !token_key || has_card != (expiry != NULL)))
        rc = usage();
    if (rc == 0 && expiry && !rs_parse_expiry(expiry, &m, &y)) {
        fprintf(stderr, RS_PROG ": --expiry: expected MM/YY\n");
        rc = 2;
    }
    if (rc != 0) {
        rs_present_wipe(&cfg.default_card);
        return rc;
    }
    if (has_card) {
        cfg.has_default_card = true;
        cfg.default_card.kind = RS_PRESENT_CARD;
        memcpy(cfg.default_card.expiry, expiry, 6);
    }
    kassa_err err;
    if (rs_keys_load(&cfg.keys, pub, token_key, &err) != KASSA_OK) {
        fprintf(stderr, RS_PROG ": %s\n", err.msg);
        rs_present_wipe(&cfg.default_card);
        return 1;
    }
    rc = rs_serve(&cfg);
    rs_present_wipe(&cfg.default_card);
    sodium_memzero(&cfg.keys, sizeof cfg.keys);
    return rc;
}
