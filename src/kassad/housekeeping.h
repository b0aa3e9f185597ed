/*
 * housekeeping: kassad's timers. The WAL checkpoint runs when the
 * terminal has been idle for checkpoint_idle_ms after a write, so no sale
 * pays for it (docs/BENCHMARKS.md, "The checkpoint is off the sale
 * path"); a periodic sweep drops expired sessions and idle carts so their
 * memory and the gauges stay true even when nobody touches them.
 */
#ifndef KASSAD_HOUSEKEEPING_H
#define KASSAD_HOUSEKEEPING_H

#include "kassad/kassad.h"

#define KD_SWEEP_INTERVAL_MS 10000

int kd_housekeeping_start(kd_app *app, kassa_err *err);
/* A request may have written: (re)starts the idle checkpoint countdown. */
void kd_housekeeping_wrote(kd_app *app);
void kd_housekeeping_free(kd_app *app);

#endif
