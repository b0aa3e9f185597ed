/* cli: the `kassa` command-line tool. Shared helpers of the command files. */
#ifndef KASSA_CLI_H
#define KASSA_CLI_H

#include "term/term.h"

#include <jansson.h>
#include <stdbool.h>

/* Exit codes: 0 done, 1 refused or failed (one line on stderr), 2 usage. */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

typedef struct cli {
    const char *data_dir;
    bool json;
    int argc; /* the command's own arguments, after global options */
    char **argv;
} cli;

typedef int (*cli_cmd_fn)(cli *c);

/* Prints "kassa: <message>" and returns CLI_FAIL. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int cli_fail_err(const kassa_err *err);
int cli_usage(const char *usage);

/* Opens the terminal in --data DIR. */
int cli_open(cli *c, term **t);
/* Prints a JSON value (steals the reference) followed by a newline. */
int cli_print_json(json_t *v);
json_t *cli_json_money(int64_t minor);

/* Finishes a listing whose callbacks appended to arr (--json) or printed
 * text lines (arr NULL): prints arr, or on a failed query (query_rc) drops
 * it and reports err. */
int cli_list_done(json_t *arr, int query_rc, const kassa_err *err);

/* Writes a buffer to stdout (nothing for an empty one). */
int cli_write(const kbuf *b);

/* Splits "SKU:VALUE" at the last ':' into sku (KASSA_SKU_MAX) and value. */
int cli_split_pair(const char *arg, char *sku, const char **value);
/* Reads a whole file ("-" is stdin) into a malloc'd buffer. */
int cli_read_file(const char *path, uint8_t **data, size_t *len, size_t max_bytes);

int cmd_init(cli *c);
int cmd_catalog(cli *c);
int cmd_tax(cli *c);
int cmd_sale(cli *c);
int cmd_void(cli *c);
int cmd_return(cli *c);
int cmd_receipt(cli *c);
int cmd_stock(cli *c);
int cmd_sales(cli *c);
int cmd_conflicts(cli *c);
int cmd_drawer(cli *c);
int cmd_export(cli *c);
int cmd_import(cli *c);
int cmd_vv(cli *c);
int cmd_state_hash(cli *c);
int cmd_log(cli *c);
int cmd_status(cli *c);
int cmd_cashier(cli *c);
int cmd_audit(cli *c);
int cmd_ca(cli *c);
int cmd_payments(cli *c);
int cmd_currency(cli *c);
int cmd_recognize(cli *c);
int cmd_model(cli *c);
int cmd_review(cli *c);
int cmd_voice(cli *c);
/* `drawer float|drop|count AMOUNT`, `drawer events` (cmd_pay.c). */
int cli_drawer_move(cli *c, const char *action);

#endif
