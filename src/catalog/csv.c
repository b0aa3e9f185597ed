#include "catalog/csv.h"

#include "pricing/pricing.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CSV_COLS 6

/* Bytes kept per field. Every column's limit is below this, so a field that
 * overflows it is already known to be too long; we keep counting its true
 * length for the message but never store more. */
#define CSV_FIELD_CAP 128

/* price and stock have no limit in base.h; nothing longer than this can be
 * a valid amount or count, and bounding them keeps messages short. It is
 * also the longest limit of any column whose value is quoted in messages. */
#define CSV_NUMBER_MAX 32

/* Largest stock accepted: far above any real shelf, and far enough below
 * INT64_MAX that stock arithmetic elsewhere cannot overflow by accident. */
#define CSV_STOCK_MAX INT64_C(1000000000000)

_Static_assert(CSV_FIELD_CAP > KASSA_NAME_MAX && CSV_FIELD_CAP > CSV_NUMBER_MAX,
               "a field buffer must hold any value that passes its length check");
_Static_assert(KASSA_SKU_MAX <= CSV_NUMBER_MAX && KASSA_ID_MAX <= CSV_NUMBER_MAX &&
                   KASSA_BARCODE_MAX <= CSV_NUMBER_MAX,
               "quote_value shows at most CSV_NUMBER_MAX bytes");

static const char *const csv_columns[CSV_COLS] = {"sku",   "name",      "barcode",
                                                  "price", "tax_class", "stock"};

#define CSV_HEADER_TEXT "sku,name,barcode,price,tax_class,stock"

enum { COL_SKU, COL_NAME, COL_BARCODE, COL_PRICE, COL_TAX_CLASS, COL_STOCK };

typedef struct csv_field {
    char text[CSV_FIELD_CAP + 1]; /* NUL-terminated prefix of the value */
    size_t len;                   /* true length of the value */
    bool has_nul;
} csv_field;

typedef struct csv_record {
    csv_field f[CSV_COLS];
    size_t n_fields;   /* may exceed CSV_COLS; extra fields are only counted */
    unsigned line;     /* physical line where the record starts */
    char syntax[80];   /* first quoting problem, "" when none */
    bool unterminated; /* input ended inside a quoted field */
} csv_record;

typedef struct csv_parser {
    const unsigned char *p;
    size_t len;
    size_t pos;
    unsigned line; /* current physical line, 1-based */

    catalog_csv_result *res;
    size_t cap_items;
    /* Open-addressing set of SKUs seen so far: slots hold item index + 1,
     * 0 is empty. Kept at most half full. */
    uint32_t *slots;
    size_t n_slots;           /* power of two, or 0 */
    bool first_is_file_level; /* the first error is about the file, not a row */
} csv_parser;

/* ---- errors ---- */

/* Keeps messages one line of plain ASCII whatever bytes the input held,
 * including text echoed by money_parse, which this module does not control. */
static void sanitize(char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c >= 0x7f)
            *s = '?';
    }
}

static void add_error(csv_parser *ps, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void add_error(csv_parser *ps, unsigned line, const char *fmt, ...)
{
    catalog_csv_result *res = ps->res;
    if (res->n_errors < CATALOG_CSV_MAX_ERRORS) {
        catalog_csv_error *e = &res->errors[res->n_errors];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
        sanitize(e->msg);
        e->line = line;
    }
    res->n_errors++;
}

/* Formats a field value for a message: printable ASCII as is, other bytes
 * (and quotes and backslashes) as \xNN. Callers check the length limit
 * first, so the value is at most CSV_NUMBER_MAX bytes and always fits. */
#define CSV_QUOTE_SIZE (CSV_NUMBER_MAX * 4 + 1)

static void quote_value(char out[CSV_QUOTE_SIZE], const csv_field *f)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < f->len && i < CSV_NUMBER_MAX; i++) {
        unsigned char c = (unsigned char)f->text[i];
        if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') {
            out[o++] = (char)c;
        } else {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
}

/* ---- scanning ---- */

static void field_reset(csv_field *f)
{
    f->text[0] = '\0';
    f->len = 0;
    f->has_nul = false;
}

static void field_add(csv_field *f, unsigned char c)
{
    if (!f)
        return;
    if (f->len < CSV_FIELD_CAP) {
        f->text[f->len] = (char)c;
        f->text[f->len + 1] = '\0';
    }
    if (c == '\0')
        f->has_nul = true;
    f->len++;
}

static void next_line(csv_parser *ps)
{
    /* Saturate rather than wrap: a 4-billion-line file still gets sane,
     * if imprecise, line numbers. */
    if (ps->line < UINT_MAX)
        ps->line++;
}

static void set_syntax(csv_record *r, size_t field_no, const char *what)
{
    if (r->syntax[0])
        return;
    if (field_no < CSV_COLS)
        snprintf(r->syntax, sizeof r->syntax, "%s: %s", csv_columns[field_no], what);
    else
        snprintf(r->syntax, sizeof r->syntax, "field %zu: %s", field_no + 1, what);
}

/* Consumes a line end at the current position, if there is one: LF, CRLF,
 * or a CR that ends the input. A CR anywhere else is data (and then fails
 * validation, as no column allows control characters). */
static bool eat_line_end(csv_parser *ps)
{
    if (ps->pos >= ps->len)
        return false;
    unsigned char c = ps->p[ps->pos];
    if (c == '\n') {
        ps->pos++;
        next_line(ps);
        return true;
    }
    if (c == '\r') {
        if (ps->pos + 1 == ps->len) {
            ps->pos++;
            return true;
        }
        if (ps->p[ps->pos + 1] == '\n') {
            ps->pos += 2;
            next_line(ps);
            return true;
        }
    }
    return false;
}

typedef enum { REC_EOF, REC_BLANK, REC_DATA } rec_kind;

/* Reads one record (RFC 4180). After a quoting mistake it keeps reading the
 * rest of the record as plain text, so one bad quote costs one row rather
 * than desynchronising the rest of the file; only an unterminated quoted
 * field swallows everything up to the end of the input. */
static rec_kind read_record(csv_parser *ps, csv_record *r)
{
    if (ps->pos >= ps->len)
        return REC_EOF;
    r->line = ps->line;
    r->n_fields = 0;
    r->syntax[0] = '\0';
    r->unterminated = false;
    if (eat_line_end(ps))
        return REC_BLANK;

    for (;;) {
        size_t field_no = r->n_fields;
        csv_field *f = field_no < CSV_COLS ? &r->f[field_no] : NULL;
        if (f)
            field_reset(f);
        r->n_fields++;

        bool quoted = ps->pos < ps->len && ps->p[ps->pos] == '"';
        if (quoted) {
            ps->pos++;
            for (;;) {
                if (ps->pos >= ps->len) {
                    r->unterminated = true;
                    return REC_DATA;
                }
                unsigned char c = ps->p[ps->pos++];
                if (c == '"') {
                    if (ps->pos < ps->len && ps->p[ps->pos] == '"') {
                        ps->pos++;
                        field_add(f, '"');
                        continue;
                    }
                    break;
                }
                if (c == '\n')
                    next_line(ps);
                field_add(f, c);
            }
        }

        /* Unquoted text, or whatever follows a closing quote. */
        for (;;) {
            if (ps->pos >= ps->len)
                return REC_DATA;
            if (eat_line_end(ps))
                return REC_DATA;
            unsigned char c = ps->p[ps->pos];
            if (c == ',') {
                ps->pos++;
                break;
            }
            if (quoted)
                set_syntax(r, field_no, "text after closing quote");
            else if (c == '"')
                set_syntax(r, field_no,
                           "quote inside unquoted field (quote the whole field, doubling the "
                           "quote)");
            field_add(f, c);
            ps->pos++;
        }
    }
}

/* ---- SKU set ---- */

static uint32_t sku_hash(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

static size_t sku_slot(const csv_parser *ps, const char *sku)
{
    size_t mask = ps->n_slots - 1;
    size_t i = sku_hash(sku) & mask;
    while (ps->slots[i] != 0 && strcmp(ps->res->items[ps->slots[i] - 1].sku, sku) != 0)
        i = (i + 1) & mask;
    return i;
}

static bool sku_set_grow(csv_parser *ps, size_t want_items)
{
    if (ps->n_slots / 2 >= want_items)
        return true;
    size_t n = ps->n_slots ? ps->n_slots : 1024;
    while (n / 2 < want_items)
        n *= 2;
    uint32_t *slots = calloc(n, sizeof *slots);
    if (!slots)
        return false;
    free(ps->slots);
    ps->slots = slots;
    ps->n_slots = n;
    for (size_t k = 0; k < ps->res->n_items; k++)
        ps->slots[sku_slot(ps, ps->res->items[k].sku)] = (uint32_t)(k + 1);
    return true;
}

/* Appends a zeroed item for sku unless it is already known. Returns the new
 * item, or NULL with *dup set to the earlier one (or NULL on no memory). */
static catalog_item *add_item(csv_parser *ps, const char *sku, const catalog_item **dup, int *rc)
{
    catalog_csv_result *res = ps->res;
    *dup = NULL;
    *rc = KASSA_OK;
    if (ps->n_slots) {
        size_t i = sku_slot(ps, sku);
        if (ps->slots[i] != 0) {
            *dup = &res->items[ps->slots[i] - 1];
            return NULL;
        }
    }
    if (res->n_items == ps->cap_items) {
        size_t cap = ps->cap_items ? ps->cap_items * 2 : 256;
        if (cap > CATALOG_CSV_MAX_ITEMS)
            cap = CATALOG_CSV_MAX_ITEMS;
        catalog_item *items = realloc(res->items, cap * sizeof *items);
        if (!items) {
            *rc = KASSA_ENOMEM;
            return NULL;
        }
        res->items = items;
        ps->cap_items = cap;
    }
    if (!sku_set_grow(ps, res->n_items + 1)) {
        *rc = KASSA_ENOMEM;
        return NULL;
    }
    catalog_item *it = &res->items[res->n_items];
    memset(it, 0, sizeof *it);
    /* The caller checked the length against KASSA_SKU_MAX. */
    memcpy(it->sku, sku, strlen(sku) + 1);
    ps->slots[sku_slot(ps, sku)] = (uint32_t)(res->n_items + 1);
    res->n_items++;
    return it;
}

/* ---- column checks ---- */

static bool all_digits(const csv_field *f)
{
    for (size_t i = 0; i < f->len; i++)
        if (f->text[i] < '0' || f->text[i] > '9')
            return false;
    return true;
}

/* Names go to receipts and JSON, so they must be well-formed UTF-8 (no
 * overlong forms, surrogates or values past U+10FFFF) without C0, DEL or C1
 * control characters. */
static const char *check_name_bytes(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f)
                return "control character";
            i++;
            continue;
        }
        size_t need;
        uint32_t cp, min;
        if (c >= 0xc2 && c <= 0xdf) {
            need = 1;
            cp = c & 0x1f;
            min = 0x80;
        } else if (c >= 0xe0 && c <= 0xef) {
            need = 2;
            cp = c & 0x0f;
            min = 0x800;
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3;
            cp = c & 0x07;
            min = 0x10000;
        } else {
            return "invalid UTF-8";
        }
        if (need > n - i - 1)
            return "invalid UTF-8";
        for (size_t k = 1; k <= need; k++) {
            unsigned char cc = s[i + k];
            if ((cc & 0xc0) != 0x80)
                return "invalid UTF-8";
            cp = (cp << 6) | (cc & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return "invalid UTF-8";
        if (cp >= 0x80 && cp <= 0x9f)
            return "control character";
        i += need + 1;
    }
    return NULL;
}

/* Reports a value longer than max; true when it was. */
static bool too_long(csv_parser *ps, const csv_record *r, int col, size_t max)
{
    if (r->f[col].len <= max)
        return false;
    add_error(ps, r->line, "%s: too long (%zu bytes, at most %zu)", csv_columns[col], r->f[col].len,
              max);
    return true;
}

static bool check_id(csv_parser *ps, const csv_record *r, int col, size_t max)
{
    const csv_field *f = &r->f[col];
    if (f->len == 0) {
        add_error(ps, r->line, "%s: empty", csv_columns[col]);
        return false;
    }
    if (too_long(ps, r, col, max))
        return false;
    if (!kassa_valid_id(f->text, max)) {
        char q[CSV_QUOTE_SIZE];
        quote_value(q, f);
        add_error(ps, r->line, "%s: invalid \"%s\": only letters, digits, '.', '_' and '-'",
                  csv_columns[col], q);
        return false;
    }
    return true;
}

/* Validates one data record and, when its SKU is usable, records it. Adds at
 * most one error per record: the first problem in column order. */
static int handle_record(csv_parser *ps, const csv_record *r)
{
    if (r->unterminated) {
        add_error(ps, r->line, "unterminated quoted field");
        return KASSA_OK;
    }
    if (r->syntax[0]) {
        add_error(ps, r->line, "%s", r->syntax);
        return KASSA_OK;
    }
    if (r->n_fields != CSV_COLS) {
        add_error(ps, r->line, "expected %d fields, got %zu", CSV_COLS, r->n_fields);
        return KASSA_OK;
    }
    for (int col = 0; col < CSV_COLS; col++) {
        if (r->f[col].has_nul) {
            add_error(ps, r->line, "%s: contains a NUL byte", csv_columns[col]);
            return KASSA_OK;
        }
    }

    /* The SKU goes into the set even when a later column is bad, so a
     * duplicate of it is reported in the same run. */
    if (!check_id(ps, r, COL_SKU, KASSA_SKU_MAX))
        return KASSA_OK;
    const catalog_item *dup;
    int rc;
    catalog_item *it = add_item(ps, r->f[COL_SKU].text, &dup, &rc);
    if (rc != KASSA_OK)
        return rc;
    if (!it) {
        add_error(ps, r->line, "duplicate sku \"%s\" (first at line %u)", dup->sku, dup->line);
        return KASSA_OK;
    }
    it->line = r->line;

    const csv_field *name = &r->f[COL_NAME];
    if (name->len == 0) {
        add_error(ps, r->line, "name: empty");
        return KASSA_OK;
    }
    if (too_long(ps, r, COL_NAME, KASSA_NAME_MAX))
        return KASSA_OK;
    const char *why = check_name_bytes((const unsigned char *)name->text, name->len);
    if (why) {
        add_error(ps, r->line, "name: %s", why);
        return KASSA_OK;
    }
    memcpy(it->name, name->text, name->len + 1);

    const csv_field *barcode = &r->f[COL_BARCODE];
    if (too_long(ps, r, COL_BARCODE, KASSA_BARCODE_MAX))
        return KASSA_OK;
    if (!all_digits(barcode)) {
        char q[CSV_QUOTE_SIZE];
        quote_value(q, barcode);
        add_error(ps, r->line, "barcode: invalid \"%s\": digits only", q);
        return KASSA_OK;
    }
    memcpy(it->barcode, barcode->text, barcode->len + 1);

    if (too_long(ps, r, COL_PRICE, CSV_NUMBER_MAX))
        return KASSA_OK;
    kassa_err perr;
    kassa_err_clear(&perr);
    if (money_parse(r->f[COL_PRICE].text, &it->price, &perr) != KASSA_OK) {
        add_error(ps, r->line, "price: %s", perr.msg[0] ? perr.msg : "invalid amount");
        return KASSA_OK;
    }

    if (!check_id(ps, r, COL_TAX_CLASS, KASSA_ID_MAX))
        return KASSA_OK;
    memcpy(it->tax_class, r->f[COL_TAX_CLASS].text, r->f[COL_TAX_CLASS].len + 1);

    const csv_field *stock = &r->f[COL_STOCK];
    if (stock->len == 0) {
        add_error(ps, r->line, "stock: empty");
        return KASSA_OK;
    }
    if (too_long(ps, r, COL_STOCK, CSV_NUMBER_MAX))
        return KASSA_OK;
    if (!all_digits(stock)) {
        char q[CSV_QUOTE_SIZE];
        quote_value(q, stock);
        add_error(ps, r->line, "stock: invalid \"%s\": expected a whole number >= 0", q);
        return KASSA_OK;
    }
    int64_t v = 0;
    for (size_t i = 0; i < stock->len; i++) {
        v = v * 10 + (stock->text[i] - '0');
        if (v > CSV_STOCK_MAX) {
            add_error(ps, r->line, "stock: too large (at most %lld)", (long long)CSV_STOCK_MAX);
            return KASSA_OK;
        }
    }
    it->stock = v;
    return KASSA_OK;
}

static bool is_header(const csv_record *r)
{
    if (r->unterminated || r->syntax[0] || r->n_fields != CSV_COLS)
        return false;
    for (int col = 0; col < CSV_COLS; col++)
        if (r->f[col].has_nul || strcmp(r->f[col].text, csv_columns[col]) != 0)
            return false;
    return true;
}

/* ---- entry points ---- */

static void summarise(const csv_parser *ps, kassa_err *err)
{
    const catalog_csv_result *res = ps->res;
    const catalog_csv_error *first = &res->errors[0];
    if (ps->first_is_file_level && res->n_errors == 1)
        kassa_fail(err, KASSA_EINVAL, "line %u: %s", first->line, first->msg);
    else if (res->n_errors == 1)
        kassa_fail(err, KASSA_EINVAL, "1 malformed row at line %u: %s", first->line, first->msg);
    else
        kassa_fail(err, KASSA_EINVAL, "%zu malformed rows; first at line %u: %s", res->n_errors,
                   first->line, first->msg);
}

int catalog_csv_parse(const char *data, size_t len, catalog_csv_result *res, kassa_err *err)
{
    memset(res, 0, sizeof *res);
    csv_parser ps = {0};
    ps.p = (const unsigned char *)data;
    ps.len = data ? len : 0;
    ps.line = 1;
    ps.res = res;

    /* The record is large (six field buffers); keep it off the stack of
     * callers that may already be deep. */
    csv_record *r = malloc(sizeof *r);
    if (!r)
        return kassa_fail(err, KASSA_ENOMEM, "catalog csv: out of memory");
    int rc = KASSA_OK;

    if (ps.len >= 3 && memcmp(ps.p, "\xef\xbb\xbf", 3) == 0)
        ps.pos = 3;

    rec_kind k = read_record(&ps, r);
    if (k == REC_EOF) {
        ps.first_is_file_level = true;
        add_error(&ps, 1, "empty file: expected header");
        goto done;
    }
    if (k == REC_BLANK || !is_header(r)) {
        /* Without the right header the columns mean nothing, so the rows
         * are not checked: their errors would only be noise. */
        ps.first_is_file_level = true;
        add_error(&ps, 1, "header: expected \"" CSV_HEADER_TEXT "\"");
        goto done;
    }

    size_t n_records = 0;
    while ((k = read_record(&ps, r)) != REC_EOF) {
        if (k == REC_BLANK)
            continue;
        if (n_records == CATALOG_CSV_MAX_ITEMS) {
            /* Stop here: the file is rejected anyway, and reading on would
             * only spend memory on rows that can never be loaded. */
            if (res->n_errors == 0)
                ps.first_is_file_level = true;
            add_error(&ps, r->line, "too many items: at most %d", CATALOG_CSV_MAX_ITEMS);
            break;
        }
        n_records++;
        rc = handle_record(&ps, r);
        if (rc != KASSA_OK)
            break;
    }

done:
    free(r);
    free(ps.slots);
    if (rc != KASSA_OK) {
        catalog_csv_result_free(res);
        memset(res, 0, sizeof *res);
        return kassa_fail(err, rc, "catalog csv: out of memory");
    }
    if (res->n_errors > 0) {
        free(res->items);
        res->items = NULL;
        res->n_items = 0;
        summarise(&ps, err);
        return KASSA_EINVAL;
    }
    if (res->n_items == 0) {
        free(res->items);
        res->items = NULL;
    } else if (res->n_items < ps.cap_items) {
        /* Give back the slack of the last doubling; keeping it is harmless
         * if the shrink fails. */
        catalog_item *items = realloc(res->items, res->n_items * sizeof *items);
        if (items)
            res->items = items;
    }
    kassa_err_clear(err);
    return KASSA_OK;
}

void catalog_csv_result_free(catalog_csv_result *res)
{
    if (!res)
        return;
    free(res->items);
    res->items = NULL;
    res->n_items = 0;
}
