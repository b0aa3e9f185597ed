/*
 * A store of terminals for the benchmarks that run several kassad (sync,
 * failover): a company CA, one certificate and one terminal per node, the
 * same catalog on all of them, and one INI file each with a static full
 * mesh of peer links. Header-only like benchutil.h (include that first).
 */
#ifndef KASSA_BENCHSTORE_H
#define KASSA_BENCHSTORE_H

#include "pki/pki.h"
#include "term/term.h"

#include <signal.h>

#define BENCH_NODES_MAX 8
#define BENCH_STORE "S1"

typedef struct bench_node {
    char name[8];
    char data[BENCH_PATH_MAX];
    char cert[BENCH_PATH_MAX];
    char ini[BENCH_PATH_MAX];
    char log[BENCH_PATH_MAX];
    int api_port, peer_port;
    pid_t pid;
} bench_node;

typedef struct bench_store {
    char dir[BENCH_PATH_MAX]; /* the benchmark's working directory */
    bool dir_created;
    catalog_item *items;        /* the catalog every terminal gets */
    char build[BENCH_PATH_MAX]; /* kassad is build/bin/kassad */
    char root[BENCH_PATH_MAX];  /* its working directory */
    int n_nodes;
    bench_node nodes[BENCH_NODES_MAX];
    const char *extra_ini; /* appended to every INI file (NULL: none) */
} bench_store;

/* build: this program's build directory; root: its parent, the source
 * tree, where kassad runs (and the peers' scripts live). */
static inline int bench_store_paths(bench_store *s)
{
    if (bench_build_dir(s->build, sizeof s->build, "") != 0)
        return 1;
    memcpy(s->root, s->build, sizeof s->root);
    char *slash = strrchr(s->root, '/');
    if (slash && slash != s->root)
        *slash = '\0';
    return 0;
}

static inline int bench_fail_kassa(const char *what, const kassa_err *err)
{
    return fail("%s: %s", what, err->msg);
}

/* A fresh store under dir/phase: CA, n_nodes certificates and terminals
 * T1..Tn, the catalog imported on T1 and copied to the others by export
 * file, so every terminal starts from the same operations. */
static inline int bench_store_make(bench_store *s, const char *dir, const char *phase,
                                   const catalog_item *items, size_t n_items)
{
    char base[BENCH_PATH_MAX], ca[BENCH_PATH_MAX + 8];
    snprintf(base, sizeof base, "%.3000s/%s", dir, phase);
    snprintf(ca, sizeof ca, "%s/ca", base);
    if (s->n_nodes < 1 || s->n_nodes > BENCH_NODES_MAX)
        return fail("%d terminals: 1..%d", s->n_nodes, BENCH_NODES_MAX);
    if (mkdir(base, 0700) != 0)
        return fail("mkdir %s: %s", base, strerror(errno));
    kassa_err err;
    if (pki_ca_init(ca, &err) != KASSA_OK)
        return bench_fail_kassa("ca init", &err);
    for (int i = 0; i < s->n_nodes; i++) {
        bench_node *n = &s->nodes[i];
        memset(n, 0, sizeof *n);
        char name[sizeof n->name];
        snprintf(name, sizeof name, "T%d", (i + 1) % 100);
        memcpy(n->name, name, sizeof name);
        snprintf(n->data, sizeof n->data, "%.3000s/%s", base, name);
        snprintf(n->cert, sizeof n->cert, "%.3000s/%s-cert", base, name);
        snprintf(n->ini, sizeof n->ini, "%.3000s/%s.ini", base, name);
        snprintf(n->log, sizeof n->log, "%.3000s/%s.log", base, name);
        if (free_port(&n->api_port) != 0 || free_port(&n->peer_port) != 0)
            return 1;
        if (pki_ca_issue(ca, BENCH_STORE, name, n->cert, &err) != KASSA_OK)
            return bench_fail_kassa("ca issue", &err);
        if (term_init(n->data, BENCH_STORE, name, &err) != KASSA_OK)
            return bench_fail_kassa("term_init", &err);
    }
    term *t1;
    kbuf exp;
    kbuf_init(&exp);
    if (term_open(s->nodes[0].data, &t1, &err) != KASSA_OK)
        return bench_fail_kassa("term_open", &err);
    int rc = term_catalog_import(t1, items, n_items, &err);
    if (rc == KASSA_OK)
        rc = term_export(t1, NULL, &exp, &err);
    term_close(t1);
    for (int i = 1; rc == KASSA_OK && i < s->n_nodes; i++) {
        term *t;
        term_import_report rep;
        if ((rc = term_open(s->nodes[i].data, &t, &err)) != KASSA_OK)
            break;
        rc = term_import(t, exp.data, exp.len, &rep, &err);
        term_close(t);
    }
    kbuf_free(&exp);
    return rc == KASSA_OK ? 0 : bench_fail_kassa("catalog", &err);
}

/* Writes node i's INI file: its data, API and peer ports, every other node
 * as a static peer, the whole store as the roster. */
static inline int bench_store_write_ini(const bench_store *s, int i)
{
    const bench_node *n = &s->nodes[i];
    FILE *f = fopen(n->ini, "w");
    if (!f)
        return fail("%s: %s", n->ini, strerror(errno));
    fprintf(f,
            "[terminal]\ndata_dir = %s\n[api]\nlisten = 127.0.0.1:%d\n[log]\nlevel = info\n"
            "[peer]\nlisten = 127.0.0.1:%d\ncert_dir = %s\nroster =",
            n->data, n->api_port, n->peer_port, n->cert);
    for (int k = 0; k < s->n_nodes; k++)
        fprintf(f, " %s", s->nodes[k].name);
    fprintf(f, "\n");
    for (int k = 0; k < s->n_nodes; k++)
        if (k != i)
            fprintf(f, "peers = 127.0.0.1:%d\n", s->nodes[k].peer_port);
    if (s->extra_ini)
        fputs(s->extra_ini, f);
    return fclose(f) == 0 ? 0 : fail("%s: %s", n->ini, strerror(errno));
}

/* Starts node i's kassad (its log: the node's log file, appended). */
static inline int bench_store_start(bench_store *s, int i)
{
    bench_node *n = &s->nodes[i];
    if (bench_store_write_ini(s, i) != 0)
        return 1;
    char bin[BENCH_PATH_MAX + 16];
    snprintf(bin, sizeof bin, "%s/bin/kassad", s->build);
    char *argv[] = {bin, "--config", n->ini, NULL};
    n->pid = spawn(argv, s->root, n->log);
    return n->pid > 0 ? 0 : 1;
}

/* Stops node i's kassad with sig (SIGTERM: clean; SIGKILL: a crash) and
 * reaps it. */
static inline void bench_store_stop(bench_store *s, int i, int sig)
{
    bench_node *n = &s->nodes[i];
    if (n->pid <= 0)
        return;
    kill(n->pid, sig);
    int st;
    while (waitpid(n->pid, &st, 0) < 0 && errno == EINTR)
        ;
    n->pid = 0;
}

static inline void bench_store_stop_all(bench_store *s)
{
    for (int i = 0; i < s->n_nodes; i++)
        bench_store_stop(s, i, SIGTERM);
}

#endif
