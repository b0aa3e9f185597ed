/* h_session.c: who can log in, logging in and out. */
#include "jlog/jlog.h"
#include "kassad/auth.h"
#include "kassad/clock.h"
#include "kassad/handlers.h"
#include "kassad/reply.h"

json_t *kd_json_cashier(const term_cashier *c)
{
    return json_pack("{s:s,s:o,s:s}", "id", c->id, "name", kd_json_text(c->name), "role",
                     term_role_name(c->role));
}

static int add_cashier(const term_cashier *c, void *ctx)
{
    return json_array_append_new(ctx, kd_json_cashier(c)) == 0 ? KASSA_OK : KASSA_ENOMEM;
}

void h_cashiers(kd_req *r)
{
    json_t *list = json_array();
    kassa_err err;
    int rc = list ? term_cashiers_each(r->app->t, add_cashier, list, &err) : KASSA_ENOMEM;
    kd_reply_list(r, "cashiers", list, rc, &err);
}

static json_t *session_json(const kd_app *app, const kd_session *s)
{
    int64_t left_ms = kd_session_remaining_ms(&app->sessions, s, kd_mono_ms());
    return json_pack("{s:s,s:o,s:I}", "token", s->token, "cashier", kd_json_cashier(&s->cashier),
                     "expires_at_ms", (json_int_t)(kd_wall_ms() + left_ms));
}

static const kd_field LOGIN_FIELDS[] = {
    {"cashier_id", KD_T_STRING, true, KD_ANY_LENGTH, NULL},
    {"pin", KD_T_STRING, true, KD_ANY_LENGTH, NULL},
};
static const kd_schema LOGIN = KD_SCHEMA(LOGIN_FIELDS);

void h_session_create(kd_req *r)
{
    json_t *body = kd_req_body(r, &LOGIN);
    if (!body)
        return;
    term_cashier c;
    int rc = kd_auth_login(r, kd_json_str(body, "cashier_id"), kd_json_str(body, "pin"), &c);
    json_decref(body);
    if (rc != 0)
        return;
    bool evicted;
    kd_session *s = kd_sessions_create(&r->app->sessions, &c, kd_mono_ms(), &evicted);
    if (evicted)
        jlog(JLOG_INFO, "auth", "session_evicted", "{s:s}", "reason", "session table full");
    jlog(JLOG_INFO, "auth", "login", "{s:s,s:s}", "cashier", c.id, "role", term_role_name(c.role));
    kd_reply_json(r, 201, session_json(r->app, s));
}

void h_session_get(kd_req *r)
{
    kd_reply_json(r, 200, session_json(r->app, r->session));
}

void h_session_delete(kd_req *r)
{
    jlog(JLOG_INFO, "auth", "logout", "{s:s}", "cashier", r->session->cashier.id);
    kd_sessions_remove(&r->app->sessions, r->session);
    r->session = NULL;
    kd_reply_empty(r, 204);
}
