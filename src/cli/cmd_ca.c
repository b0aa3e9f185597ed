/* The company CA: ca init / issue / revoke / crl (see pki/pki.h). */
#include "cli/cli.h"
#include "pki/pki.h"

#include <stdio.h>
#include <string.h>

static const char CA_USAGE[] = "ca init --dir CA | ca issue --dir CA --store S --node T --out DIR |"
                               " ca revoke --dir CA --store S --node T | ca crl --dir CA";

typedef struct ca_args {
    const char *dir, *store, *node, *out;
} ca_args;

/* Parses "--opt VALUE" pairs after the subcommand; each option at most
 * once, none unknown. */
static int parse(cli *c, ca_args *a)
{
    memset(a, 0, sizeof *a);
    for (int i = 1; i < c->argc; i += 2) {
        const char **slot = NULL;
        if (strcmp(c->argv[i], "--dir") == 0)
            slot = &a->dir;
        else if (strcmp(c->argv[i], "--store") == 0)
            slot = &a->store;
        else if (strcmp(c->argv[i], "--node") == 0)
            slot = &a->node;
        else if (strcmp(c->argv[i], "--out") == 0)
            slot = &a->out;
        if (!slot || *slot || i + 1 >= c->argc)
            return -1;
        *slot = c->argv[i + 1];
    }
    return 0;
}

int cmd_ca(cli *c)
{
    ca_args a;
    if (c->argc < 1 || parse(c, &a) != 0 || !a.dir)
        return cli_usage(CA_USAGE);
    const char *sub = c->argv[0];
    kassa_err err;
    if (strcmp(sub, "init") == 0) {
        if (a.store || a.node || a.out)
            return cli_usage(CA_USAGE);
        if (pki_ca_init(a.dir, &err) != KASSA_OK)
            return cli_fail_err(&err);
        if (c->json)
            return cli_print_json(json_pack("{s:s}", "dir", a.dir));
        printf("CA created in %s (ca.key, ca.crt, index.txt, crl.pem)\n", a.dir);
        return CLI_OK;
    }
    if (strcmp(sub, "issue") == 0) {
        if (!a.store || !a.node || !a.out)
            return cli_usage(CA_USAGE);
        if (pki_ca_issue(a.dir, a.store, a.node, a.out, &err) != KASSA_OK)
            return cli_fail_err(&err);
        if (c->json)
            return cli_print_json(
                json_pack("{s:s,s:s,s:s}", "store", a.store, "node", a.node, "dir", a.out));
        printf("issued %s.%s into %s (device.key, device.crt, ca.crt, crl.pem)\n", a.node, a.store,
               a.out);
        return CLI_OK;
    }
    if (strcmp(sub, "revoke") == 0) {
        if (!a.store || !a.node || a.out)
            return cli_usage(CA_USAGE);
        int n = 0;
        if (pki_ca_revoke(a.dir, a.store, a.node, &n, &err) != KASSA_OK)
            return cli_fail_err(&err);
        if (c->json)
            return cli_print_json(
                json_pack("{s:s,s:s,s:i}", "store", a.store, "node", a.node, "revoked", n));
        printf("revoked %d certificate(s) of %s.%s; crl.pem rewritten\n", n, a.node, a.store);
        return CLI_OK;
    }
    if (strcmp(sub, "crl") == 0) {
        if (a.store || a.node || a.out)
            return cli_usage(CA_USAGE);
        if (pki_ca_crl(a.dir, &err) != KASSA_OK)
            return cli_fail_err(&err);
        if (c->json)
            return cli_print_json(json_pack("{s:s}", "dir", a.dir));
        printf("crl.pem rewritten in %s\n", a.dir);
        return CLI_OK;
    }
    return cli_usage(CA_USAGE);
}
