/* housekeeping.c: idle checkpoints and expiry sweeps. */
#include "kassad/housekeeping.h"

#include "jlog/jlog.h"
#include "kassad/clock.h"

static struct timeval ms_to_tv(int64_t ms)
{
    return (struct timeval){(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
}

static void on_checkpoint(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    kd_app *app = arg;
    kassa_err err;
    uint64_t start_us = kd_mono_us();
    if (store_checkpoint(&app->t->st, &err) != KASSA_OK) {
        /* Not fatal: the next idle moment tries again, and SQLite's
         * automatic backstop still bounds the WAL. */
        jlog(JLOG_WARN, "store", "checkpoint_failed", "{s:s}", "error", err.msg);
        return;
    }
    jlog(JLOG_DEBUG, "store", "checkpoint", "{s:I}", "duration_us",
         (json_int_t)(kd_mono_us() - start_us));
}

static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    kd_app *app = arg;
    int64_t now = kd_mono_ms();
    size_t sessions = kd_sessions_sweep(&app->sessions, now);
    size_t carts = kd_carts_sweep(&app->carts, now);
    if (sessions || carts)
        jlog(JLOG_INFO, "kassad", "expired", "{s:I,s:I}", "sessions", (json_int_t)sessions, "carts",
             (json_int_t)carts);
}

int kd_housekeeping_start(kd_app *app, kassa_err *err)
{
    app->checkpoint_ev = evtimer_new(app->base, on_checkpoint, app);
    app->sweep_ev = event_new(app->base, -1, EV_PERSIST, on_sweep, app);
    struct timeval sweep = ms_to_tv(KD_SWEEP_INTERVAL_MS);
    if (!app->checkpoint_ev || !app->sweep_ev || event_add(app->sweep_ev, &sweep) != 0)
        return kassa_fail(err, KASSA_ENOMEM, "cannot create the housekeeping timers");
    return KASSA_OK;
}

void kd_housekeeping_wrote(kd_app *app)
{
    /* Adding a pending timer again moves its deadline: the checkpoint
     * waits for a quiet checkpoint_idle_ms after the last write. */
    struct timeval idle = ms_to_tv(app->cfg.checkpoint_idle_ms);
    if (evtimer_add(app->checkpoint_ev, &idle) != 0)
        jlog(JLOG_WARN, "store", "checkpoint_timer_failed", NULL);
}

void kd_housekeeping_free(kd_app *app)
{
    if (app->checkpoint_ev)
        event_free(app->checkpoint_ev);
    if (app->sweep_ev)
        event_free(app->sweep_ev);
    app->checkpoint_ev = app->sweep_ev = NULL;
}
