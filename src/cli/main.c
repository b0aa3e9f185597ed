/*
 * kassa: the command-line tool for operators, scripts and tests.
 *
 *   kassa [--data DIR] [--json] COMMAND [ARGS...]
 *
 * Global options may come before or after the command. --data defaults to
 * $KASSA_DATA.
 */
#include "cli/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char USAGE[] =
    "usage: kassa [--data DIR] [--json] COMMAND [ARGS]\n"
    "\n"
    "  init --store ID --node ID          create this terminal's database\n"
    "  catalog import FILE.csv            import items (sku,name,barcode,price,tax_class,stock)\n"
    "  catalog list                       list items with stock\n"
    "  catalog set SKU [--name N] [--price P] [--barcode B] [--tax CLASS]\n"
    "  tax set CLASS PERCENT              set a tax class's rate\n"
    "  currency CUR [--rounding MINOR]    the store's currency and its cash rounding\n"
    "  sale --line SKU:QTY [--line ...] [--discount SKU:PCT% | SKU:AMOUNT] --pay cash:AMOUNT\n"
    "  void SALE_ID                       void a whole sale\n"
    "  return SALE_ID --line SKU:QTY [--line ...]\n"
    "  receipt SALE_ID                    print a sale's receipt\n"
    "  stock receive SKU:QTY | stock count SKU:QTY | stock show [SKU]\n"
    "  sales list                         all sales in time order\n"
    "  conflicts                          sales refunded twice or over-returned\n"
    "  drawer [--node ID]                 cash in the drawer(s)\n"
    "  drawer float|drop|count AMOUNT     cash put in, taken to the safe, or counted\n"
    "  drawer events                      this drawer's floats, drops and counts\n"
    "  payments pending                   card payments waiting for the processor\n"
    "  payments review [--all]            declined offline card payments, for the manager\n"
    "  payments resolve ID --note TEXT    close a review item\n"
    "  export [--since VVFILE]            write operations to stdout\n"
    "  import FILE                        apply an export file\n"
    "  vv                                 version vector (what this terminal holds)\n"
    "  state-hash                         digest of all projections\n"
    "  log verify                         check every origin's hash chain\n"
    "  status                             counts and sizes\n"
    "  cashier add ID --name N --role cashier|supervisor|manager --pin PIN\n"
    "  cashier list                       cashiers (PINs are stored as Argon2id hashes)\n"
    "  audit                              supervised actions: voids, returns, overrides\n"
    "  review list [--all]                fraud decisions and oversold SKUs, for the supervisor\n"
    "  review resolve ID accept|adjust|flag [--qty N] [--sale SALE_ID] [--note TEXT] [--by ID]\n"
    "  recognize IMAGE [--model DIR] [--threshold T]  the product in a camera frame, or its barcode\n"
    "  voice FILE.wav [--synonyms CSV]    a spoken order: the cart changes it proposes\n"
    "  ca init|issue|revoke|crl --dir CA [--store S --node T] [--out DIR]  device certificates\n"
    "  model keygen PREFIX | model sign --key SECRET MODEL.tflite MANIFEST.json  signed models\n"
    "  model trust PUBKEY | model verify [--pub PUBKEY] DIR_OR_MANIFEST | model list\n"
    "  model install DIR_OR_MANIFEST | model rollback NAME | model active NAME\n"
    "  model run MODEL.tflite INPUT.raw   run a model on a raw input tensor, print the outputs\n";

int cli_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("kassa: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return CLI_FAIL;
}

int cli_fail_err(const kassa_err *err)
{
    return cli_fail("%s", err->msg[0] ? err->msg : kassa_strerror(err->code));
}

int cli_usage(const char *usage)
{
    fprintf(stderr, "usage: kassa %s\n", usage);
    return CLI_USAGE;
}

int cli_open(cli *c, term **t)
{
    if (!c->data_dir)
        return cli_fail("no data directory: pass --data DIR or set KASSA_DATA");
    kassa_err err;
    if (term_open(c->data_dir, t, &err) != KASSA_OK)
        return cli_fail_err(&err);
    return CLI_OK;
}

int cli_print_json(json_t *v)
{
    if (!v)
        return cli_fail("out of memory");
    char *s = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    if (!s)
        return cli_fail("out of memory");
    puts(s);
    free(s);
    return CLI_OK;
}

json_t *cli_json_money(int64_t minor)
{
    char s[MONEY_STR_SIZE];
    money_format(minor, s);
    return json_string(s);
}

int cli_list_done(json_t *arr, int query_rc, const kassa_err *err)
{
    if (query_rc != KASSA_OK) {
        json_decref(arr);
        return cli_fail_err(err);
    }
    return arr ? cli_print_json(arr) : CLI_OK;
}

int cli_write(const kbuf *b)
{
    if (b->len && fwrite(b->data, 1, b->len, stdout) != b->len)
        return cli_fail("cannot write output: %s", strerror(errno));
    return CLI_OK;
}

int cli_split_pair(const char *arg, char *sku, const char **value)
{
    const char *colon = strrchr(arg, ':');
    if (!colon || colon == arg || !colon[1] || (size_t)(colon - arg) > KASSA_SKU_MAX)
        return -1;
    memcpy(sku, arg, (size_t)(colon - arg));
    sku[colon - arg] = '\0';
    *value = colon + 1;
    return 0;
}

int cli_read_file(const char *path, uint8_t **data, size_t *len, size_t max_bytes)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f)
        return cli_fail("cannot open %s: %s", path, strerror(errno));
    size_t cap = 65536, n = 0;
    uint8_t *buf = malloc(cap);
    int rc = CLI_OK;
    while (buf) {
        if (n == cap) {
            if (cap >= max_bytes) {
                rc = cli_fail("%s: larger than %zu bytes", path, max_bytes);
                break;
            }
            cap = cap * 2 > max_bytes ? max_bytes : cap * 2;
            uint8_t *p = realloc(buf, cap);
            if (!p)
                break;
            buf = p;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f))
                rc = cli_fail("cannot read %s: %s", path, strerror(errno));
            break;
        }
    }
    if (f != stdin)
        fclose(f);
    if (!buf)
        return cli_fail("out of memory reading %s", path);
    if (rc != CLI_OK) {
        free(buf);
        return rc;
    }
    *data = buf;
    *len = n;
    return CLI_OK;
}

static const struct {
    const char *name;
    cli_cmd_fn fn;
} COMMANDS[] = {
    {"init", cmd_init},
    {"catalog", cmd_catalog},
    {"tax", cmd_tax},
    {"sale", cmd_sale},
    {"void", cmd_void},
    {"return", cmd_return},
    {"receipt", cmd_receipt},
    {"stock", cmd_stock},
    {"sales", cmd_sales},
    {"conflicts", cmd_conflicts},
    {"drawer", cmd_drawer},
    {"export", cmd_export},
    {"import", cmd_import},
    {"vv", cmd_vv},
    {"state-hash", cmd_state_hash},
    {"log", cmd_log},
    {"cashier", cmd_cashier},
    {"audit", cmd_audit},
    {"ca", cmd_ca},
    {"payments", cmd_payments},
    {"currency", cmd_currency},
    {"recognize", cmd_recognize},
    {"status", cmd_status},
    {"model", cmd_model},
    {"review", cmd_review},
    {"voice", cmd_voice},
};

int main(int argc, char **argv)
{
    cli c = {.data_dir = getenv("KASSA_DATA")};
    /* Pull the global options out wherever they stand; the rest, in order,
     * is the command and its arguments. */
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    if (!rest)
        return cli_fail("out of memory");
    int n = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--data") == 0) {
            if (i + 1 >= argc) {
                free(rest);
                return cli_usage("--data DIR ...");
            }
            c.data_dir = argv[++i];
        } else if (strncmp(argv[i], "--data=", 7) == 0) {
            c.data_dir = argv[i] + 7;
        } else if (strcmp(argv[i], "--json") == 0) {
            c.json = true;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(USAGE, stdout);
            free(rest);
            return CLI_OK;
        } else {
            rest[n++] = argv[i];
        }
    }
    if (n == 0) {
        fputs(USAGE, stderr);
        free(rest);
        return CLI_USAGE;
    }
    c.argc = n - 1;
    c.argv = rest + 1;
    int rc = -1;
    for (size_t i = 0; i < KASSA_ARRAY_LEN(COMMANDS); i++) {
        if (strcmp(COMMANDS[i].name, rest[0]) == 0) {
            rc = COMMANDS[i].fn(&c);
            break;
        }
    }
    if (rc < 0) {
        fprintf(stderr, "kassa: unknown command \"%s\"\n\n%s", rest[0], USAGE);
        rc = CLI_USAGE;
    }
    free(rest);
    if (fflush(stdout) != 0)
        return cli_fail("cannot write output: %s", strerror(errno));
    return rc;
}
