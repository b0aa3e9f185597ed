/* auth.c: bearer sessions and PIN checks (logins and supervisor approvals). */
#include "kassad/auth.h"

#include "jlog/jlog.h"
#include "kassad/clock.h"
#include "kassad/reply.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const kd_field SUPERVISOR_FIELDS[] = {
    {"id", KD_T_STRING, true, KD_ANY_LENGTH, NULL},
    {"pin", KD_T_STRING, true, KD_ANY_LENGTH, NULL},
};
const kd_schema KD_SUPERVISOR_SCHEMA = KD_SCHEMA(SUPERVISOR_FIELDS);

kd_session *kd_auth_session(kd_req *r)
{
    static const char SCHEME[] = "Bearer ";
    const char *h = evhttp_find_header(evhttp_request_get_input_headers(r->ev), "Authorization");
    kd_session *s = NULL;
    if (h && strncasecmp(h, SCHEME, sizeof SCHEME - 1) == 0)
        s = kd_sessions_find(&r->app->sessions, h + sizeof SCHEME - 1, kd_mono_ms());
    if (!s) {
        evhttp_add_header(evhttp_request_get_output_headers(r->ev), "WWW-Authenticate", "Bearer");
        kd_reply_error(r, 401, KD_E_UNAUTHORIZED,
                       h ? "the session is unknown or has expired: log in again"
                         : "log in first (Authorization: Bearer TOKEN)");
    }
    return s;
}

/* Logs a refused PIN: which check, and for an approval whose session
 * asked. Never the id or PIN the body carried. */
static void log_refusal(const kd_req *r, const char *event, const char *what)
{
    if (r->session)
        jlog(JLOG_WARN, "auth", event, "{s:s,s:s}", "check", what, "session_cashier",
             r->session->cashier.id);
    else
        jlog(JLOG_WARN, "auth", event, "{s:s}", "check", what);
}

/* Runs the PIN check and answers its failures. */
static int check_pin(kd_req *r, const char *what, const char *id, const char *pin,
                     term_cashier *out)
{
    kassa_err err;
    int64_t retry_after_ms = 0;
    int rc = term_cashier_check_pin(r->app->t, id, pin, out, &retry_after_ms, &err);
    if (rc == KASSA_OK)
        return 0;
    switch (rc) {
    case KASSA_ELOCKED: {
        char secs[24];
        snprintf(secs, sizeof secs, "%lld", (long long)((retry_after_ms + 999) / 1000));
        evhttp_add_header(evhttp_request_get_output_headers(r->ev), "Retry-After", secs);
        log_refusal(r, "pin_locked", what);
        kd_reply_error(r, 423, KD_E_LOCKED, "too many wrong PINs: try again in %s s", secs);
        return -1;
    }
    case KASSA_EAUTH:
    case KASSA_ENOTFOUND:
    case KASSA_EINVAL:
        /* One answer for an unknown id and a wrong PIN: the API does not
         * tell which ids exist. */
        log_refusal(r, "pin_rejected", what);
        kd_reply_error(r, 401, KD_E_UNAUTHORIZED, "unknown cashier or wrong PIN");
        return -1;
    default:
        kd_reply_kassa(r, &err);
        return -1;
    }
}

int kd_auth_login(kd_req *r, const char *id, const char *pin, term_cashier *out)
{
    return check_pin(r, "login", id, pin, out);
}

int kd_auth_approve(kd_req *r, const json_t *supervisor, term_cashier *approver)
{
    if (check_pin(r, "approval", kd_json_str(supervisor, "id"), kd_json_str(supervisor, "pin"),
                  approver) != 0)
        return -1;
    if (approver->role < TERM_ROLE_SUPERVISOR) {
        jlog(JLOG_WARN, "auth", "approval_forbidden", "{s:s,s:s}", "approver", approver->id,
             "session_cashier", r->session ? r->session->cashier.id : "");
        kd_reply_error(r, 403, KD_E_FORBIDDEN, "%s is a %s: a supervisor or manager must approve",
                       approver->id, term_role_name(approver->role));
        return -1;
    }
    snprintf(r->app->t->actor.supervisor, sizeof r->app->t->actor.supervisor, "%s", approver->id);
    return 0;
}
