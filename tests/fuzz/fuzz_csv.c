/*
 * Fuzz target for catalog/csv: any bytes must parse without crashing or
 * reading past the input, and the result must honour the header's contract
 * (all or nothing, bounded error list, valid fields on success).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/csv.h"
#include "pricing/pricing.h"
#include "testutil.h"

static int all_digits(const char *s)
{
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    catalog_csv_result res;
    kassa_err err;
    memset(&res, 0xa5, sizeof res); /* the parser must not trust what was there */
    memset(&err, 0xa5, sizeof err);
    int rc = catalog_csv_parse((const char *)data, size, &res, &err);

    if (rc == KASSA_OK) {
        tu_check(err.code == KASSA_OK);
        tu_check(res.n_errors == 0);
        tu_check(res.n_items <= CATALOG_CSV_MAX_ITEMS);
        tu_check((res.n_items == 0) == (res.items == NULL));
        unsigned prev_line = 1;
        for (size_t i = 0; i < res.n_items; i++) {
            const catalog_item *it = &res.items[i];
            tu_check(memchr(it->sku, '\0', sizeof it->sku) != NULL);
            tu_check(kassa_valid_id(it->sku, KASSA_SKU_MAX));
            tu_check(memchr(it->name, '\0', sizeof it->name) != NULL);
            tu_check(it->name[0] != '\0' && tu_no_controls(it->name));
            tu_check(memchr(it->barcode, '\0', sizeof it->barcode) != NULL);
            tu_check(all_digits(it->barcode));
            tu_check(memchr(it->tax_class, '\0', sizeof it->tax_class) != NULL);
            tu_check(kassa_valid_id(it->tax_class, KASSA_ID_MAX));
            tu_check(it->price >= 0 && it->price <= PRICING_AMOUNT_MAX);
            tu_check(it->stock >= 0);
            /* Items come in file order, each after the header line. */
            tu_check(it->line > prev_line);
            prev_line = it->line;
            /* SKUs are unique; only worth the quadratic check on small
             * inputs, which is all the fuzzer makes. */
            if (res.n_items <= 256)
                for (size_t j = 0; j < i; j++)
                    tu_check(strcmp(res.items[j].sku, it->sku) != 0);
        }
    } else if (rc == KASSA_EINVAL) {
        tu_check(err.code == KASSA_EINVAL);
        tu_check_msg(err.msg, sizeof err.msg);
        tu_check(res.items == NULL && res.n_items == 0);
        tu_check(res.n_errors >= 1);
        size_t shown =
            res.n_errors < CATALOG_CSV_MAX_ERRORS ? res.n_errors : CATALOG_CSV_MAX_ERRORS;
        unsigned prev_line = 1;
        for (size_t i = 0; i < shown; i++) {
            tu_check(res.errors[i].line >= prev_line);
            prev_line = res.errors[i].line;
            tu_check_msg(res.errors[i].msg, sizeof res.errors[i].msg);
        }
    } else {
        /* Out of memory is the only other outcome, and leaves nothing. */
        tu_check(rc == KASSA_ENOMEM);
        tu_check(res.items == NULL && res.n_items == 0);
    }
    catalog_csv_result_free(&res);
    tu_check(res.items == NULL && res.n_items == 0);
    return 0;
}
