/*
 * sim_workload: what the cashiers do. At random times during the chaos
 * phase, at a random live terminal: sales (1-3 lines), voids and returns
 * of sales made anywhere in the store (refused when the terminal has not
 * seen the sale, or it is voided or returned already: normal), and stock
 * receipts. An action is acknowledged when its term call returned
 * KASSA_OK: only then was it committed, and only then does the checker
 * require it everywhere. The catalog is provisioned at T1 and copied to
 * every terminal before the clock starts, as a store is set up.
 */
#ifndef KASSA_SIM_WORKLOAD_H
#define KASSA_SIM_WORKLOAD_H

#include "sim_base.h"
#include "term/term.h"

struct sim_world;

#define SIM_SKUS 4

typedef struct sim_sale {
    oplog_sale_ref ref;
    int sku; /* of its first line */
} sim_sale;

typedef struct sim_workload_stats {
    uint64_t actions, sales, voids, returns, receipts, refused, skipped;
} sim_workload_stats;

typedef struct sim_workload {
    int actions_left;
    size_t n_sales;
    sim_sale sales[SIM_SALES_MAX];
    term_sale_result *res; /* large: allocated once */
    term_cart *cart;
    term_return_req *ret;
    sim_workload_stats stats;
} sim_workload;

void sim_workload_init(sim_workload *wl);
void sim_workload_free(sim_workload *wl);
/* T1 imports the catalog; every other terminal gets its operations. */
void sim_workload_provision(struct sim_world *w);
/* One action (SIM_EV_WORK). */
void sim_workload_step(struct sim_world *w);

#endif
