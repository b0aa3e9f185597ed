/*
 * fraud: what the module's files share and nobody else needs.
 */
#ifndef KASSA_FRAUD_INTERNAL_H
#define KASSA_FRAUD_INTERNAL_H

#include "base/base.h"

/* Appends printf-formatted text of at most FRAUD_PUT_MAX - 1 bytes to b
 * (longer text poisons b: b->oom). */
#define FRAUD_PUT_MAX 256
void fraud_put(kbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
