/*
 * catalog/csv: parses a catalog CSV file into items, all or nothing.
 *
 * Format (RFC 4180 quoting; UTF-8; LF or CRLF line ends; an optional UTF-8
 * BOM): a header line exactly `sku,name,barcode,price,tax_class,stock`, then
 * one item per line. price is decimal currency units ("12.34"), parsed with
 * money_parse; stock is a whole number 0..10^12 (digits only, no sign);
 * barcode may be empty; sku and tax_class follow kassa_valid_id; name is
 * 1..KASSA_NAME_MAX bytes of valid UTF-8 without control characters. Blank
 * lines are ignored. A SKU given twice is an error on its second line.
 *
 * The header must be line 1; without it no row is checked. Fields are never
 * trimmed, and a value longer than its limit is an error, not truncated.
 * Each bad row yields one error (its first problem, in column order), at the
 * physical line where the row starts (a quoted field may span lines). More
 * than CATALOG_CSV_MAX_ITEMS rows is an error at the first row over, and
 * parsing stops there. The input need not be NUL-terminated; a NUL byte
 * inside a field makes that row bad.
 */
#ifndef KASSA_CATALOG_CSV_H
#define KASSA_CATALOG_CSV_H

#include "base/base.h"

#define CATALOG_CSV_MAX_ITEMS 200000
#define CATALOG_CSV_MAX_ERRORS 20

typedef struct catalog_item {
    char sku[KASSA_SKU_MAX + 1];
    char name[KASSA_NAME_MAX + 1];
    char barcode[KASSA_BARCODE_MAX + 1]; /* "" when none; digits only */
    int64_t price;                       /* minor units */
    char tax_class[KASSA_ID_MAX + 1];
    int64_t stock;
    unsigned line; /* 1-based line in the file, for later error messages */
} catalog_item;

typedef struct catalog_csv_error {
    unsigned line;
    char msg[160];
} catalog_csv_error;

typedef struct catalog_csv_result {
    catalog_item *items; /* malloc'd, in file order; NULL when n_items is 0.
                          * Free with catalog_csv_result_free. */
    size_t n_items;
    /* The first CATALOG_CSV_MAX_ERRORS problems, in file order;
     * n_errors counts them all. */
    catalog_csv_error errors[CATALOG_CSV_MAX_ERRORS];
    size_t n_errors;
} catalog_csv_result;

/* Parses the whole file. Returns KASSA_OK with every item, or KASSA_EINVAL
 * when any row is malformed: then res->items is NULL, res->errors lists the
 * problems with their line numbers, and err summarises ("3 malformed rows;
 * first at line 7: price: ..."; a file-level problem such as a missing
 * header reads "line 1: header: ..."). KASSA_ENOMEM leaves res empty.
 * res is overwritten, not freed, on entry. */
int catalog_csv_parse(const char *data, size_t len, catalog_csv_result *res, kassa_err *err);
void catalog_csv_result_free(catalog_csv_result *res);

#endif
