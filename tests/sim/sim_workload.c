/* sim_workload.c: what the cashiers do (sim_workload.h). */
#include "sim.h"

#include <stdlib.h>
#include <string.h>

static const char *const SKU[SIM_SKUS] = {"apple", "bread", "cheese", "dates"};
/* Tendered for every sale: more than any cart costs. */
#define TENDERED_MINOR INT64_C(100000000)

void sim_workload_init(sim_workload *wl)
{
    memset(wl, 0, sizeof *wl);
    wl->res = malloc(sizeof *wl->res);
    wl->cart = malloc(sizeof *wl->cart);
    wl->ret = malloc(sizeof *wl->ret);
    SIM_ASSERT(wl->res && wl->cart && wl->ret);
}

void sim_workload_free(sim_workload *wl)
{
    free(wl->res);
    free(wl->cart);
    free(wl->ret);
    memset(wl, 0, sizeof *wl);
}

/* Copies every operation of T1 to node j the way a link would (read,
 * encode, decode, import), before the clock starts. */
static void copy_from_t1(sim_world *w, sim_node *to)
{
    sim_node *t1 = &w->node[0];
    uint64_t after = 0;
    /* Bounded: each pass moves at least one operation of T1's few. */
    for (int pass = 0; pass < SIM_OPS_PER_ORIGIN_MAX && !w->failed; pass++) {
        size_t n = 0;
        kassa_err err;
        if (term_ops_read(t1->t, t1->name, after, SIM_BATCH_OPS_MAX, SIM_BATCH_PAYLOAD_MAX_BYTES,
                          w->ops, &w->payloads, &n, &err) != KASSA_OK) {
            sim_fail(w, "term-error", "provisioning: term_ops_read: %s", err.msg);
            return;
        }
        if (n == 0)
            return;
        kbuf_reset(&w->frame);
        wire_ops b;
        wire_frame f;
        size_t used;
        term_import_report rep;
        if (wire_encode_ops(&w->frame, w->ops, n, &err) != KASSA_OK ||
            wire_frame_parse(w->frame.data, w->frame.len, &f, &used, &err) != KASSA_OK ||
            wire_decode_ops(SIM_STORE_ID, f.payload, f.payload_len, &b, &err) != KASSA_OK) {
            sim_fail(w, "wire-error", "provisioning: %s", err.msg);
            return;
        }
        int rc = term_import_ops(to->t, b.ops, b.n_ops, &rep, &err);
        wire_ops_free(&b);
        if (rc != KASSA_OK || rep.applied != n) {
            sim_fail(w, "import-refused", "provisioning %s: %s", to->name,
                     rc != KASSA_OK ? err.msg : "not every op applied");
            return;
        }
        after = w->ops[n - 1].seq;
    }
}

void sim_workload_provision(sim_world *w)
{
    catalog_item items[SIM_SKUS];
    memset(items, 0, sizeof items);
    for (int k = 0; k < SIM_SKUS; k++) {
        snprintf(items[k].sku, sizeof items[k].sku, "%s", SKU[k]);
        snprintf(items[k].name, sizeof items[k].name, "Item %s", SKU[k]);
        snprintf(items[k].barcode, sizeof items[k].barcode, "40000000%02d", k);
        items[k].price = 150 * (k + 1);
        snprintf(items[k].tax_class, sizeof items[k].tax_class, "%s",
                 k % 2 ? "reduced" : "standard");
        items[k].stock = 100;
        items[k].line = (unsigned)k + 2;
    }
    sim_node *t1 = &w->node[0];
    kassa_err err;
    if (term_catalog_import(t1->t, items, SIM_SKUS, &err) != KASSA_OK) {
        sim_fail(w, "term-error", "provisioning: term_catalog_import: %s", err.msg);
        return;
    }
    sim_node_dirty(t1);
    sim_check_acked(w, t1);
    for (int j = 1; j < w->p.n && !w->failed; j++) {
        copy_from_t1(w, &w->node[j]);
        sim_node_dirty(&w->node[j]);
    }
    sim_note(w, -1, "provisioned: %s imported the catalog (%llu ops), copied to every terminal",
             t1->name, (unsigned long long)w->check.acked[0].n);
}

static bool refusal(int rc)
{
    return rc == KASSA_ENOTFOUND || rc == KASSA_ECONFLICT;
}

static int do_sale(sim_world *w, sim_node *nd, char *what, size_t size, kassa_err *err)
{
    sim_workload *wl = &w->work;
    memset(wl->cart, 0, sizeof *wl->cart);
    int lines = (int)sim_draw(&w->rng_work, 1, 3);
    int first = (int)sim_draw(&w->rng_work, 0, SIM_SKUS - 1);
    for (int l = 0; l < lines; l++) {
        /* Distinct SKUs: first, first+1, ... */
        int rc =
            term_cart_add(wl->cart, SKU[(first + l) % SIM_SKUS], sim_draw(&w->rng_work, 1, 3), err);
        SIM_ASSERT(rc == KASSA_OK);
    }
    int rc = term_sale(nd->t, wl->cart, TENDERED_MINOR, wl->res, err);
    if (rc != KASSA_OK) {
        snprintf(what, size, "sale of %d lines", lines);
        return rc;
    }
    snprintf(what, size, "sale %s/%llu of %d lines, total %lld", wl->res->ref.origin,
             (unsigned long long)wl->res->ref.seq, lines, (long long)wl->res->totals.total);
    wl->stats.sales++;
    if (wl->n_sales < SIM_SALES_MAX) {
        wl->sales[wl->n_sales].ref = wl->res->ref;
        wl->sales[wl->n_sales].sku = first;
        wl->n_sales++;
    }
    return KASSA_OK;
}

static int do_void(sim_world *w, sim_node *nd, const sim_sale *s, char *what, size_t size,
                   kassa_err *err)
{
    int64_t refund = 0;
    snprintf(what, size, "void of %s/%llu", s->ref.origin, (unsigned long long)s->ref.seq);
    int rc = term_void(nd->t, &s->ref, &refund, err);
    if (rc == KASSA_OK)
        w->work.stats.voids++;
    return rc;
}

static int do_return(sim_world *w, sim_node *nd, const sim_sale *s, char *what, size_t size,
                     kassa_err *err)
{
    term_return_req *req = w->work.ret;
    memset(req, 0, sizeof *req);
    req->n_lines = 1;
    snprintf(req->lines[0].sku, sizeof req->lines[0].sku, "%s", SKU[s->sku]);
    req->lines[0].qty = 1;
    oplog_sale_ref rref;
    int64_t refund = 0;
    snprintf(what, size, "return of 1 %s from %s/%llu", SKU[s->sku], s->ref.origin,
             (unsigned long long)s->ref.seq);
    int rc = term_return(nd->t, &s->ref, req, &rref, &refund, err);
    if (rc == KASSA_OK)
        w->work.stats.returns++;
    return rc;
}

static int do_receive(sim_world *w, sim_node *nd, char *what, size_t size, kassa_err *err)
{
    int k = (int)sim_draw(&w->rng_work, 0, SIM_SKUS - 1);
    int64_t qty = sim_draw(&w->rng_work, 1, 20);
    snprintf(what, size, "receipt of %lld %s", (long long)qty, SKU[k]);
    int rc = term_stock_receive(nd->t, SKU[k], qty, err);
    if (rc == KASSA_OK)
        w->work.stats.receipts++;
    return rc;
}

void sim_workload_step(sim_world *w)
{
    sim_workload *wl = &w->work;
    SIM_ASSERT(w->phase == SIM_PHASE_CHAOS && wl->actions_left > 0);
    wl->actions_left--;
    wl->stats.actions++;
    int live[SIM_NODES_MAX], n_live = 0;
    for (int i = 0; i < w->p.n; i++)
        if (w->node[i].up)
            live[n_live++] = i;
    /* Draw the same numbers whether or not a node is up, so that one crash
     * changes as little as possible of the rest of the run. */
    int pick = (int)sim_draw(&w->rng_work, 0, SIM_NODES_MAX - 1);
    int kind = (int)sim_draw(&w->rng_work, 0, 99);
    size_t target = wl->n_sales ? (size_t)sim_draw(&w->rng_work, 0, (int64_t)wl->n_sales - 1) : 0;
    if (n_live == 0) {
        wl->stats.skipped++;
        sim_trace(w, -1, "workload: every terminal is down, nothing done");
        return;
    }
    sim_node *nd = &w->node[live[pick % n_live]];
    char what[160];
    kassa_err err;
    int rc;
    if (kind < 55 || wl->n_sales == 0)
        rc = do_sale(w, nd, what, sizeof what, &err);
    else if (kind < 70)
        rc = do_void(w, nd, &wl->sales[target], what, sizeof what, &err);
    else if (kind < 85)
        rc = do_return(w, nd, &wl->sales[target], what, sizeof what, &err);
    else
        rc = do_receive(w, nd, what, sizeof what, &err);
    /* Refused or not, it ran a transaction: read the node afresh. */
    sim_node_dirty(nd);
    if (rc == KASSA_OK) {
        sim_check_acked(w, nd);
        nd->pump_due = true; /* on_local_commit: push at once */
        sim_note(w, nd->id, "%s: acknowledged (%s up to %llu)", what, nd->name,
                 (unsigned long long)w->check.acked[nd->id].n);
    } else if (refusal(rc)) {
        wl->stats.refused++;
        sim_note(w, nd->id, "%s: refused: %s", what, err.msg);
    } else {
        sim_fail(w, "term-error", "%s: %s failed: %s", nd->name, what, err.msg);
    }
}
