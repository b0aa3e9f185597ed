/*
 * route: the API's route table and the matcher that picks the handler for
 * a method and path. Patterns are literal segments and {name} parameters;
 * a parameter matches one non-empty segment, percent-decoded.
 *
 * A path no pattern matches is "no path" (404); a path some pattern
 * matches with another method is "no method" (405, with the Allow list).
 */
#ifndef KASSAD_ROUTE_H
#define KASSAD_ROUTE_H

#include <event2/http.h>
#include <stddef.h>

typedef struct kd_req kd_req;
typedef void (*kd_handler)(kd_req *r);

enum {
    KD_ROUTE_AUTH = 1,   /* needs a session (Authorization: Bearer) */
    KD_ROUTE_WRITES = 2, /* may write to the database: schedules an idle checkpoint */
};

typedef struct kd_route {
    enum evhttp_cmd_type method;
    const char *method_name;
    const char *pattern;
    kd_handler fn;
    unsigned flags;
    const char *const *query; /* the query parameters it takes (NULL-ended), or NULL */
} kd_route;

/* Most routes the table may hold (metrics size their label table by it). */
#define KD_ROUTES_MAX 64
#define KD_ROUTE_PARAMS_MAX 2
/* Longest decoded path parameter, NUL included: ids are at most 56 bytes
 * (sale ids), barcodes 32. */
#define KD_PARAM_SIZE_BYTES 128
#define KD_ALLOW_SIZE_BYTES 64

typedef enum {
    KD_MATCH_OK,
    KD_MATCH_NO_PATH,
    KD_MATCH_NO_METHOD,
} kd_match_result;

typedef struct kd_match {
    size_t index; /* into the route table */
    const kd_route *route;
    char params[KD_ROUTE_PARAMS_MAX][KD_PARAM_SIZE_BYTES];
    size_t n_params;
    char allow[KD_ALLOW_SIZE_BYTES]; /* KD_MATCH_NO_METHOD: "GET, DELETE" */
} kd_match;

size_t kd_routes_count(void);
/* "GET", "POST", ... ("OTHER" for methods kassad has no route for). */
const char *kd_method_name(enum evhttp_cmd_type method);
const kd_route *kd_route_at(size_t i);
/* path is the request's path as sent (still percent-encoded), no query. */
kd_match_result kd_route_match(enum evhttp_cmd_type method, const char *path, kd_match *m);

#endif
