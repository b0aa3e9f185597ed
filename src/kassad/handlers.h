/*
 * handlers: one function per route (route.c maps them), grouped by area
 * in h_*.c, plus the JSON shapes more than one area returns. Each handler
 * answers exactly once through reply.h.
 */
#ifndef KASSAD_HANDLERS_H
#define KASSAD_HANDLERS_H

#include "kassad/request.h"

/* h_system.c */
void h_healthz(kd_req *r);
void h_metrics(kd_req *r);
void h_status(kd_req *r);
/* h_web.c: the UI's files (path: the request path, still encoded) */
void h_web(kd_req *r, const char *path);
/* h_session.c */
void h_cashiers(kd_req *r);
void h_session_create(kd_req *r);
void h_session_get(kd_req *r);
void h_session_delete(kd_req *r);
/* h_catalog.c */
void h_catalog_search(kd_req *r);
void h_catalog_barcode(kd_req *r);
void h_stock(kd_req *r);
void h_stock_chain(kd_req *r);
/* h_cart.c */
void h_cart_open(kd_req *r);
void h_cart_get(kd_req *r);
void h_cart_delete(kd_req *r);
void h_cart_line_add(kd_req *r);
void h_cart_line_patch(kd_req *r);
void h_cart_line_delete(kd_req *r);
void h_cart_checkout(kd_req *r);
/* h_sale.c */
void h_sales_list(kd_req *r);
void h_sale_get(kd_req *r);
void h_sale_void(kd_req *r);
void h_sale_return(kd_req *r);
void h_drawer_open(kd_req *r);
/* voice.c: voice ordering */
void h_voice(kd_req *r);
void h_voice_confirm(kd_req *r);
void h_voice_cancel(kd_req *r);
/* ai.c: product recognition */
void h_recognize(kd_req *r);
void h_recognize_confirm(kd_req *r);
/* h_pay.c: card payments waiting, forwarding, the review list; drawer */
void h_payments_pending(kd_req *r);
void h_payments_forward(kd_req *r);
void h_payments_review(kd_req *r);
void h_payment_resolve(kd_req *r);
void h_drawer_get(kd_req *r);
void h_drawer_float(kd_req *r);
void h_drawer_drop(kd_req *r);
void h_drawer_count(kd_req *r);
/* h_review.c: fraud decisions and post-merge triage (supervisors) */
void h_review_list(kd_req *r);
void h_review_resolve(kd_req *r);

/* h_cart.c, for other routes that change a cart (voice.c): a working copy
 * of the cart to change, and pricing it, keeping it and answering the Cart. */
term_cart *kd_cart_stage(kd_app *app, const struct kd_cart *c);
void kd_cart_price_and_keep(kd_req *r, struct kd_cart *c, const term_cart *candidate, int status);

/* Shared JSON shapes (the contract's schemas of the same names). */
json_t *kd_json_item(const term_item *it);
json_t *kd_json_cashier(const term_cashier *c);
/* A sale's card tender and its fate (the CardPayment schema). */
json_t *kd_json_card(kd_app *app, const oplog_card_tender *c);
/* A recorded sale with its receipt (read from the terminal). */
json_t *kd_json_sale(kd_app *app, const oplog_sale_ref *ref, const term_sale_info *info,
                     const oplog_sale *sale);

#endif
