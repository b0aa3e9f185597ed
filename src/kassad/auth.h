/*
 * auth: who is asking. The session behind an Authorization: Bearer token,
 * and a supervisor's approval ({"id", "pin"} in the request body) for the
 * actions that need one (voids, returns, price overrides, opening the
 * drawer without a sale).
 */
#ifndef KASSAD_AUTH_H
#define KASSAD_AUTH_H

#include "kassad/request.h"

/* The schema of the "supervisor" object, for bodies that carry one. */
extern const kd_schema KD_SUPERVISOR_SCHEMA;

/* The caller's live session, or NULL when answered 401. */
kd_session *kd_auth_session(kd_req *r);

/* Checks a supervisor's id and PIN. Wrong PIN or unknown id: 401;
 * locked: 423 with Retry-After; a role below supervisor: 403; each
 * answered and -1. On success the approver is the acting supervisor of
 * this request's term calls (t->actor.supervisor) and in *approver. */
int kd_auth_approve(kd_req *r, const json_t *supervisor, term_cashier *approver);

/* Checks a cashier's own PIN for a login; answers 401/423 and -1 on
 * failure. */
int kd_auth_login(kd_req *r, const char *id, const char *pin, term_cashier *out);

#endif
