/*
 * kassa-processor-sim: a payment processor on loopback HTTP, for tests,
 * the demo and latency experiments.
 *
 *   kassa-processor-sim keygen --out DIR
 *   kassa-processor-sim --listen 127.0.0.1:PORT --key-dir DIR
 *                       [--slow-ms N] [--timeout-hold-ms N]
 *
 * keygen writes DIR/processor.pub (the readers seal card records to it)
 * and DIR/processor.key (0600) and never overwrites them. The server holds
 * everything in memory (http.c for the API, cards.c for the test cards,
 * ledger.c for the rules). PORT 0 picks a free port, logged in the
 * "start" line. Logs are JSON lines on stderr, one per request, without
 * card numbers or blobs.
 */
#include "procsim/procsim.h"

#include "jlog/jlog.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DELAY_MS_MAX 600000
#define DEFAULT_TIMEOUT_HOLD_MS 10000
#define HOST_MAX 64

static int usage(void)
{
    fprintf(stderr, "usage: " PS_PROG " keygen --out DIR\n"
                    "       " PS_PROG " --listen 127.0.0.1:PORT --key-dir DIR [--slow-ms N]"
                    " [--timeout-hold-ms N]\n");
    return 2;
}

/* HOST:PORT with HOST an IPv4 loopback address: the simulator takes card
 * records and must not be reachable from the network. */
static bool parse_listen(const char *s, char host[HOST_MAX], int *port)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || (size_t)(colon - s) >= HOST_MAX)
        return false;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    int64_t p;
    struct in_addr a;
    if (!pay_parse_uint(colon + 1, 65535, &p) || inet_pton(AF_INET, host, &a) != 1 ||
        (ntohl(a.s_addr) >> 24) != 127)
        return false;
    *port = (int)p;
    return true;
}

static int keygen_main(int argc, char **argv)
{
    if (argc != 2 || strcmp(argv[0], "--out") != 0)
        return usage();
    kassa_err err;
    if (ps_keygen(argv[1], &err) != KASSA_OK) {
        fprintf(stderr, PS_PROG ": %s\n", err.msg);
        return 1;
    }
    printf("processor keys written to %s\n", argv[1]);
    return 0;
}

int main(int argc, char **argv)
{
    /* Before jansson or libevent allocate anything. */
    if (!pay_sim_start(PS_PROG))
        return 1;
    if (argc >= 2 && strcmp(argv[1], "keygen") == 0)
        return keygen_main(argc - 2, argv + 2);

    static ps_config cfg = {.timeout_hold_ms = DEFAULT_TIMEOUT_HOLD_MS};
    static char host[HOST_MAX];
    const char *listen = NULL, *key_dir = NULL;
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            return usage();
        if (strcmp(a, "--listen") == 0 && !listen) {
            listen = v;
            if (!parse_listen(v, host, &cfg.listen_port)) {
                fprintf(stderr, PS_PROG ": --listen: expected 127.x.x.x:PORT (loopback only)\n");
                return 2;
            }
        } else if (strcmp(a, "--key-dir") == 0 && !key_dir) {
            key_dir = v;
        } else if (strcmp(a, "--slow-ms") == 0) {
            if (!pay_parse_uint(v, DELAY_MS_MAX, &cfg.slow_ms)) {
                fprintf(stderr, PS_PROG ": --slow-ms: expected 0..%d\n", DELAY_MS_MAX);
                return 2;
            }
        } else if (strcmp(a, "--timeout-hold-ms") == 0) {
            if (!pay_parse_uint(v, DELAY_MS_MAX, &cfg.timeout_hold_ms)) {
                fprintf(stderr, PS_PROG ": --timeout-hold-ms: expected 0..%d\n", DELAY_MS_MAX);
                return 2;
            }
        } else {
            return usage();
        }
    }
    if (!listen || !key_dir)
        return usage();
    cfg.listen_host = host;
    kassa_err err;
    if (ps_keys_load(key_dir, &cfg.keys, &err) != KASSA_OK) {
        fprintf(stderr, PS_PROG ": %s\n", err.msg);
        return 1;
    }
    int rc = ps_serve(&cfg);
    sodium_memzero(&cfg.keys, sizeof cfg.keys);
    return rc;
}
