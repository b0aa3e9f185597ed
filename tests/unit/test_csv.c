/*
 * Unit tests for catalog/csv: the accepted format, every kind of row error
 * with its exact line, error collection and its cap, and the size limits.
 */
#include "testutil.h"
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/csv.h"

#define HDR "sku,name,barcode,price,tax_class,stock\n"
#define HDR_MSG "header: expected \"sku,name,barcode,price,tax_class,stock\""

/* Parses a copy in an exact-size allocation: the parser must not rely on a
 * terminating NUL, and ASan then catches any read past the end. */
static int parse_buf(const char *data, size_t len, catalog_csv_result *res, kassa_err *err)
{
    char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, data, len);
    int rc = catalog_csv_parse(copy, len, res, err);
    free(copy);
    return rc;
}

#define PARSE(lit, res, err) parse_buf((lit), sizeof(lit) - 1, (res), (err))

/* Asserts the input fails with exactly one error, at line, reading msg. */
static void expect_one_error_n(const char *data, size_t len, unsigned line, const char *msg)
{
    catalog_csv_result res;
    kassa_err err;
    int rc = parse_buf(data, len, &res, &err);
    if (rc != KASSA_EINVAL || res.n_errors != 1 || res.errors[0].line != line ||
        strcmp(res.errors[0].msg, msg) != 0) {
        print_error("input: %.*s\nwant line %u: %s\n", (int)len, data, line, msg);
        if (res.n_errors > 0)
            print_error("got rc %d, %zu errors, line %u: %s\n", rc, res.n_errors,
                        res.errors[0].line, res.errors[0].msg);
        else
            print_error("got rc %d, no errors\n", rc);
    }
    assert_int_equal(rc, KASSA_EINVAL);
    assert_int_equal(err.code, KASSA_EINVAL);
    assert_null(res.items);
    assert_int_equal(res.n_items, 0);
    assert_int_equal(res.n_errors, 1);
    assert_int_equal(res.errors[0].line, line);
    assert_string_equal(res.errors[0].msg, msg);
    catalog_csv_result_free(&res);
}

#define EXPECT_ONE_ERROR(lit, line, msg) expect_one_error_n((lit), sizeof(lit) - 1, (line), (msg))

static void expect_ok_n(const char *data, size_t len, size_t n_items)
{
    catalog_csv_result res;
    kassa_err err;
    int rc = parse_buf(data, len, &res, &err);
    if (rc != KASSA_OK)
        print_error("input: %.*s\ngot rc %d: %s\n", (int)len, data, rc, err.msg);
    assert_int_equal(rc, KASSA_OK);
    assert_int_equal(res.n_items, n_items);
    assert_int_equal(res.n_errors, 0);
    catalog_csv_result_free(&res);
}

#define EXPECT_OK(lit, n) expect_ok_n((lit), sizeof(lit) - 1, (n))

/* A growable text buffer for the large generated files. */
typedef struct textbuf {
    char *p;
    size_t len, cap;
} textbuf;

static void tb_printf(textbuf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        assert_true(n >= 0);
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        b->cap = b->cap ? b->cap * 2 : 4096;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
}

/* ---- valid files ---- */

static void test_valid_basic(void **state)
{
    (void)state;
    catalog_csv_result res;
    kassa_err err;
    int rc = PARSE(HDR "A1,Widget,4006381333931,12.34,std,10\n"
                       "B-2,Gadget,,0.5,reduced,0\n"
                       "c_3.x,Thing,123,7,zero,007\n",
                   &res, &err);
    assert_int_equal(rc, KASSA_OK);
    assert_int_equal(err.code, KASSA_OK);
    assert_int_equal(res.n_items, 3);
    assert_int_equal(res.n_errors, 0);

    const catalog_item *it = &res.items[0];
    assert_string_equal(it->sku, "A1");
    assert_string_equal(it->name, "Widget");
    assert_string_equal(it->barcode, "4006381333931");
    assert_int_equal(it->price, 1234);
    assert_string_equal(it->tax_class, "std");
    assert_int_equal(it->stock, 10);
    assert_int_equal(it->line, 2);

    it = &res.items[1];
    assert_string_equal(it->sku, "B-2");
    assert_string_equal(it->barcode, "");
    assert_int_equal(it->price, 50);
    assert_string_equal(it->tax_class, "reduced");
    assert_int_equal(it->stock, 0);
    assert_int_equal(it->line, 3);

    it = &res.items[2];
    assert_string_equal(it->sku, "c_3.x");
    assert_int_equal(it->price, 700);
    assert_int_equal(it->stock, 7);
    assert_int_equal(it->line, 4);

    catalog_csv_result_free(&res);
    assert_null(res.items);
    assert_int_equal(res.n_items, 0);
    /* Freeing twice is harmless. */
    catalog_csv_result_free(&res);
}

static void test_valid_quoting(void **state)
{
    (void)state;
    catalog_csv_result res;
    kassa_err err;
    int rc = PARSE("\"sku\",\"name\",barcode,\"price\",tax_class,\"stock\"\n"
                   "\"A1\",\"Widget, large\",\"\",\"1.00\",std,\"3\"\n"
                   "A2,\"12\"\" ruler\",,2,std,4\n"
                   "A3,\"\"\"quoted\"\"\",,3,std,5\n"
                   "A4,Caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 ok,,4,std,6\n",
                   &res, &err);
    assert_int_equal(rc, KASSA_OK);
    assert_int_equal(res.n_items, 4);
    assert_string_equal(res.items[0].sku, "A1");
    assert_string_equal(res.items[0].name, "Widget, large");
    assert_string_equal(res.items[0].barcode, "");
    assert_int_equal(res.items[0].price, 100);
    assert_int_equal(res.items[0].stock, 3);
    assert_string_equal(res.items[1].name, "12\" ruler");
    assert_string_equal(res.items[2].name, "\"quoted\"");
    assert_string_equal(res.items[3].name, "Caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 ok");
    catalog_csv_result_free(&res);
}

static void test_valid_crlf_bom_blank_lines(void **state)
{
    (void)state;
    catalog_csv_result res;
    kassa_err err;
    int rc = PARSE("\xef\xbb\xbf"
                   "sku,name,barcode,price,tax_class,stock\r\n" /* 1 */
                   "\r\n"                                       /* 2 */
                   "A1,One,,1,std,1\r\n"                        /* 3 */
                   "\n"                                         /* 4 */
                   "\r\n"                                       /* 5 */
                   "A2,Two,,2,std,2\n"                          /* 6: mixed line ends */
                   "A3,Three,,3,std,3\r\n"                      /* 7 */
                   "\r\n"                                       /* 8 */
                   "\n",                                        /* 9 */
                   &res, &err);
    assert_int_equal(rc, KASSA_OK);
    assert_int_equal(res.n_items, 3);
    assert_string_equal(res.items[0].sku, "A1");
    assert_int_equal(res.items[0].line, 3);
    assert_int_equal(res.items[0].stock, 1);
    assert_string_equal(res.items[1].sku, "A2");
    assert_int_equal(res.items[1].line, 6);
    assert_string_equal(res.items[2].sku, "A3");
    assert_string_equal(res.items[2].name, "Three");
    assert_int_equal(res.items[2].stock, 3);
    assert_int_equal(res.items[2].line, 7);
    catalog_csv_result_free(&res);
}

static void test_valid_no_final_newline(void **state)
{
    (void)state;
    catalog_csv_result res;
    kassa_err err;
    assert_int_equal(PARSE(HDR "A1,One,,1,std,42", &res, &err), KASSA_OK);
    assert_int_equal(res.n_items, 1);
    assert_int_equal(res.items[0].stock, 42);
    catalog_csv_result_free(&res);

    /* A CR that ends the input ends the line, like CRLF. */
    assert_int_equal(PARSE(HDR "A1,One,,1,std,42\r", &res, &err), KASSA_OK);
    assert_int_equal(res.n_items, 1);
    assert_int_equal(res.items[0].stock, 42);
    catalog_csv_result_free(&res);

    /* A quoted last field closed right at the end of the input. */
    assert_int_equal(PARSE(HDR "A1,One,,1,std,\"42\"", &res, &err), KASSA_OK);
    assert_int_equal(res.items[0].stock, 42);
    catalog_csv_result_free(&res);
}

static void test_valid_limits(void **state)
{
    (void)state;
    char buf[1024];
    char sku[KASSA_SKU_MAX + 1], name[KASSA_NAME_MAX + 1], bc[KASSA_BARCODE_MAX + 1];
    char tax[KASSA_ID_MAX + 1];
    memset(sku, 'S', KASSA_SKU_MAX);
    sku[KASSA_SKU_MAX] = '\0';
    memset(name, 'n', KASSA_NAME_MAX);
    name[KASSA_NAME_MAX] = '\0';
    memset(bc, '9', KASSA_BARCODE_MAX);
    bc[KASSA_BARCODE_MAX] = '\0';
    memset(tax, 't', KASSA_ID_MAX);
    tax[KASSA_ID_MAX] = '\0';
    int n = snprintf(buf, sizeof buf, HDR "%s,%s,%s,100000000000.00,%s,1000000000000\n", sku, name,
                     bc, tax);

    catalog_csv_result res;
    kassa_err err;
    assert_int_equal(parse_buf(buf, (size_t)n, &res, &err), KASSA_OK);
    assert_int_equal(res.n_items, 1);
    assert_string_equal(res.items[0].sku, sku);
    assert_string_equal(res.items[0].name, name);
    assert_string_equal(res.items[0].barcode, bc);
    assert_string_equal(res.items[0].tax_class, tax);
    assert_int_equal(res.items[0].price, INT64_C(10000000000000));
    assert_int_equal(res.items[0].stock, INT64_C(1000000000000));
    catalog_csv_result_free(&res);

    /* A name of exactly KASSA_NAME_MAX bytes made of 2-byte characters. */
    size_t o = (size_t)snprintf(buf, sizeof buf, HDR "A1,");
    for (int i = 0; i < KASSA_NAME_MAX / 2; i++) {
        buf[o++] = '\xc3';
        buf[o++] = '\xa9';
    }
    o += (size_t)snprintf(buf + o, sizeof buf - o, ",,1,std,1\n");
    expect_ok_n(buf, o, 1);
}

static void test_header_only(void **state)
{
    (void)state;
    catalog_csv_result res;
    kassa_err err;
    assert_int_equal(PARSE(HDR, &res, &err), KASSA_OK);
    assert_int_equal(res.n_items, 0);
    assert_null(res.items);
    assert_int_equal(res.n_errors, 0);
    catalog_csv_result_free(&res);

    EXPECT_OK("sku,name,barcode,price,tax_class,stock", 0);
    EXPECT_OK("\xef\xbb\xbfsku,name,barcode,price,tax_class,stock\r\n", 0);
    EXPECT_OK(HDR "\n\r\n\n", 0);
}

static void test_empty_file(void **state)
{
    (void)state;
    catalog_csv_result res;
    kassa_err err;
    EXPECT_ONE_ERROR("", 1, "empty file: expected header");
    EXPECT_ONE_ERROR("\xef\xbb\xbf", 1, "empty file: expected header");

    assert_int_equal(catalog_csv_parse(NULL, 0, &res, &err), KASSA_EINVAL);
    assert_int_equal(res.n_errors, 1);
    assert_string_equal(err.msg, "line 1: empty file: expected header");
    catalog_csv_result_free(&res);
}

static void test_bad_header(void **state)
{
    (void)state;
    /* Missing: the first line is data. Its rows are not checked further. */
    EXPECT_ONE_ERROR("A1,One,,1,std,1\nA1,bad,,x,std,1\n", 1, HDR_MSG);
    EXPECT_ONE_ERROR("sku,name,price,barcode,tax_class,stock\n", 1, HDR_MSG);
    EXPECT_ONE_ERROR("sku,name,barcode,price,tax_class\n", 1, HDR_MSG);
    EXPECT_ONE_ERROR("sku,name,barcode,price,tax_class,stock,extra\n", 1, HDR_MSG);
    EXPECT_ONE_ERROR("SKU,name,barcode,price,tax_class,stock\n", 1, HDR_MSG);
    EXPECT_ONE_ERROR("sku,name,barcode,price,tax_class,stock \n", 1, HDR_MSG);
    EXPECT_ONE_ERROR("\nsku,name,barcode,price,tax_class,stock\n", 1, HDR_MSG);
    EXPECT_ONE_ERROR("\n", 1, HDR_MSG);
    EXPECT_ONE_ERROR("\xef\xbb\xbf\xef\xbb\xbfsku,name,barcode,price,tax_class,stock\n", 1,
                     HDR_MSG);
    EXPECT_ONE_ERROR("\"sku,name,barcode,price,tax_class,stock\n", 1, HDR_MSG);
    EXPECT_ONE_ERROR("sku,name,barcode,price,tax_class,stock\0\n", 1, HDR_MSG);

    catalog_csv_result res;
    kassa_err err;
    assert_int_equal(PARSE("nope\n", &res, &err), KASSA_EINVAL);
    assert_string_equal(err.msg, "line 1: " HDR_MSG);
    catalog_csv_result_free(&res);
}

/* ---- row errors, one kind at a time ---- */

static void test_field_count(void **state)
{
    (void)state;
    EXPECT_ONE_ERROR(HDR "A1,One,,1,std\n", 2, "expected 6 fields, got 5");
    EXPECT_ONE_ERROR(HDR "A1,One,,1,std,1,\n", 2, "expected 6 fields, got 7");
    EXPECT_ONE_ERROR(HDR "A1,One,,1,std,1\nA2\n", 3, "expected 6 fields, got 1");
    EXPECT_ONE_ERROR(HDR "A1,One,,1,std,1\n\n   \n", 4, "expected 6 fields, got 1");
    EXPECT_ONE_ERROR(HDR "\"A1,One,,1,std,1\"\n", 2, "expected 6 fields, got 1");
    EXPECT_ONE_ERROR(HDR ",,,,,,,,,\n", 2, "expected 6 fields, got 10");
}

static void test_sku_errors(void **state)
{
    (void)state;
    EXPECT_ONE_ERROR(HDR ",One,,1,std,1\n", 2, "sku: empty");
    EXPECT_ONE_ERROR(HDR "A 1,One,,1,std,1\n", 2,
                     "sku: invalid \"A 1\": only letters, digits, '.', '_' and '-'");
    EXPECT_ONE_ERROR(HDR "A/1,One,,1,std,1\n", 2,
                     "sku: invalid \"A/1\": only letters, digits, '.', '_' and '-'");
    /* Non-ASCII bytes are escaped so messages stay one line of ASCII. */
    EXPECT_ONE_ERROR(HDR "\xc3\xa9\t,One,,1,std,1\n", 2,
                     "sku: invalid \"\\xc3\\xa9\\x09\": only letters, digits, '.', '_' and '-'");
    EXPECT_ONE_ERROR(HDR "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA,One,,1,std,1\n", 2,
                     "sku: too long (33 bytes, at most 32)");
    EXPECT_ONE_ERROR(HDR "\"A1\n\",One,,1,std,1\n", 2,
                     "sku: invalid \"A1\\x0a\": only letters, digits, '.', '_' and '-'");
}

static void test_name_errors(void **state)
{
    (void)state;
    EXPECT_ONE_ERROR(HDR "A1,,,1,std,1\n", 2, "name: empty");
    EXPECT_ONE_ERROR(HDR "A1,\"\",,1,std,1\n", 2, "name: empty");
    EXPECT_ONE_ERROR(HDR "A1,a\tb,,1,std,1\n", 2, "name: control character");
    EXPECT_ONE_ERROR(HDR "A1,a\x7f,,1,std,1\n", 2, "name: control character");
    EXPECT_ONE_ERROR(HDR "A1,a\xc2\x85,,1,std,1\n", 2, "name: control character");
    /* A lone CR inside a line is data, and not allowed in any column. */
    EXPECT_ONE_ERROR(HDR "A1,a\rb,,1,std,1\n", 2, "name: control character");
    EXPECT_ONE_ERROR(HDR "A1,a\xff,,1,std,1\n", 2, "name: invalid UTF-8");
    EXPECT_ONE_ERROR(HDR "A1,\xc0\xaf,,1,std,1\n", 2, "name: invalid UTF-8");     /* overlong */
    EXPECT_ONE_ERROR(HDR "A1,\xe0\x80\xaf,,1,std,1\n", 2, "name: invalid UTF-8"); /* overlong */
    EXPECT_ONE_ERROR(HDR "A1,\xed\xa0\x80,,1,std,1\n", 2, "name: invalid UTF-8"); /* surrogate */
    EXPECT_ONE_ERROR(HDR "A1,\xf4\x90\x80\x80,,1,std,1\n", 2, "name: invalid UTF-8");
    EXPECT_ONE_ERROR(HDR "A1,ab\xe2\x82,,1,std,1\n", 2, "name: invalid UTF-8"); /* truncated */
    EXPECT_ONE_ERROR(HDR "A1,\x80,,1,std,1\n", 2, "name: invalid UTF-8");

    char buf[512];
    char name[KASSA_NAME_MAX + 2];
    memset(name, 'n', KASSA_NAME_MAX + 1);
    name[KASSA_NAME_MAX + 1] = '\0';
    int n = snprintf(buf, sizeof buf, HDR "A1,%s,,1,std,1\n", name);
    expect_one_error_n(buf, (size_t)n, 2, "name: too long (97 bytes, at most 96)");

    /* Far longer than any buffer: the true length is still reported. */
    char big[2100];
    size_t o = (size_t)snprintf(big, sizeof big, HDR "A1,\"");
    memset(big + o, 'x', 2000);
    o += 2000;
    o += (size_t)snprintf(big + o, sizeof big - o, "\",,1,std,1\n");
    expect_one_error_n(big, o, 2, "name: too long (2000 bytes, at most 96)");
}

static void test_barcode_errors(void **state)
{
    (void)state;
    EXPECT_ONE_ERROR(HDR "A1,One,12a4,1,std,1\n", 2, "barcode: invalid \"12a4\": digits only");
    EXPECT_ONE_ERROR(HDR "A1,One, 123,1,std,1\n", 2, "barcode: invalid \" 123\": digits only");
    EXPECT_ONE_ERROR(HDR "A1,One,-1,1,std,1\n", 2, "barcode: invalid \"-1\": digits only");
    EXPECT_ONE_ERROR(HDR "A1,One,123456789012345678901234567890123,1,std,1\n", 2,
                     "barcode: too long (33 bytes, at most 32)");
}

static void test_price_errors(void **state)
{
    (void)state;
    EXPECT_ONE_ERROR(HDR "A1,Widget,,1.234,std,1\n", 2,
                     "price: invalid amount \"1.234\": at most two decimals");
    EXPECT_ONE_ERROR(HDR "A1,Widget,,012345678901234567890123456789012,std,1\n", 2,
                     "price: too long (33 bytes, at most 32)");

    /* The rest of the wording belongs to money_parse; check the prefix. */
    static const char *const bad[] = {
        HDR "A1,W,,,std,1\n",
        HDR "A1,W,,-1,std,1\n",
        HDR "A1,W,,+1,std,1\n",
        HDR "A1,W,,1e3,std,1\n",
        HDR "A1,W,,1.2.3,std,1\n",
        HDR "A1,W,, 1,std,1\n",
        HDR "A1,W,,1 ,std,1\n",
        HDR "A1,W,,1,50,std,1\n" /* decimal comma: 7 fields */,
        HDR "A1,W,,100000000000.01,std,1\n",
        HDR "A1,W,,\"1\n\",std,1\n",
    };
    for (size_t i = 0; i < KASSA_ARRAY_LEN(bad); i++) {
        catalog_csv_result res;
        kassa_err err;
        assert_int_equal(parse_buf(bad[i], strlen(bad[i]), &res, &err), KASSA_EINVAL);
        assert_int_equal(res.n_errors, 1);
        assert_int_equal(res.errors[0].line, 2);
        if (strstr(bad[i], "1,50"))
            assert_string_equal(res.errors[0].msg, "expected 6 fields, got 7");
        else
            assert_memory_equal(res.errors[0].msg, "price: ", 7);
        /* Whatever money_parse echoes, the message stays printable ASCII. */
        for (const char *p = res.errors[0].msg; *p; p++)
            assert_true(*p >= 0x20 && *p < 0x7f);
        catalog_csv_result_free(&res);
    }
}

static void test_tax_class_errors(void **state)
{
    (void)state;
    EXPECT_ONE_ERROR(HDR "A1,One,,1,,1\n", 2, "tax_class: empty");
    EXPECT_ONE_ERROR(HDR "A1,One,,1,st d,1\n", 2,
                     "tax_class: invalid \"st d\": only letters, digits, '.', '_' and '-'");
    EXPECT_ONE_ERROR(HDR "A1,One,,1,ttttttttttttttttttttttttttttttttt,1\n", 2,
                     "tax_class: too long (33 bytes, at most 32)");
}

static void test_stock_errors(void **state)
{
    (void)state;
    EXPECT_ONE_ERROR(HDR "A1,One,,1,std,\n", 2, "stock: empty");
    EXPECT_ONE_ERROR(HDR "A1,One,,1,std,-1\n", 2,
                     "stock: invalid \"-1\": expected a whole number >= 0");
    EXPECT_ONE_ERROR(HDR "A1,One,,1,std,+1\n", 2,
                     "stock: invalid \"+1\": expected a whole number >= 0");
    EXPECT_ONE_ERROR(HDR "A1,One,,1,std,1.5\n", 2,
                     "stock: invalid \"1.5\": expected a whole number >= 0");
    EXPECT_ONE_ERROR(HDR "A1,One,,1,std,1000000000001\n", 2,
                     "stock: too large (at most 1000000000000)");
    EXPECT_ONE_ERROR(HDR "A1,One,,1,std,99999999999999999999999999999999\n", 2,
                     "stock: too large (at most 1000000000000)");
    EXPECT_ONE_ERROR(HDR "A1,One,,1,std,999999999999999999999999999999999\n", 2,
                     "stock: too long (33 bytes, at most 32)");
}

static void test_duplicate_sku(void **state)
{
    (void)state;
    EXPECT_ONE_ERROR(HDR "X,One,,1,std,1\n"   /* 2 */
                         "\n"                 /* 3 */
                         "A1,Two,,1,std,1\n"  /* 4 */
                         "a1,Case,,1,std,1\n" /* 5: SKUs are case-sensitive */
                         "A1,Dup,,1,std,1\n", /* 6 */
                     6, "duplicate sku \"A1\" (first at line 4)");

    /* Every later copy points at the first; a first row that is bad for
     * another reason still claims its SKU, so both problems show at once. */
    catalog_csv_result res;
    kassa_err err;
    assert_int_equal(PARSE(HDR "A1,One,,1.234,std,1\n" /* 2 */
                               "A1,Two,,1,std,1\n"     /* 3 */
                               "B1,Three,,1,std,1\n"   /* 4 */
                               "A1,Four,,1,std,1\n",   /* 5 */
                           &res, &err),
                     KASSA_EINVAL);
    assert_int_equal(res.n_errors, 3);
    assert_int_equal(res.errors[0].line, 2);
    assert_memory_equal(res.errors[0].msg, "price: ", 7);
    assert_int_equal(res.errors[1].line, 3);
    assert_string_equal(res.errors[1].msg, "duplicate sku \"A1\" (first at line 2)");
    assert_int_equal(res.errors[2].line, 5);
    assert_string_equal(res.errors[2].msg, "duplicate sku \"A1\" (first at line 2)");
    catalog_csv_result_free(&res);
}

static void test_quote_errors(void **state)
{
    (void)state;
    EXPECT_ONE_ERROR(HDR "A1,One,,1,std,1\n"
                         "A2,\"Two,,1,std,1\n"
                         "A3,Three,,1,std,1\n",
                     3, "unterminated quoted field");
    EXPECT_ONE_ERROR(HDR "A1,One,,1,std,\"", 2, "unterminated quoted field");
    /* A doubled quote at the very end is an escaped quote, not a close. */
    EXPECT_ONE_ERROR(HDR "A1,\"One\"\"", 2, "unterminated quoted field");
    EXPECT_ONE_ERROR(HDR "A1,Say \"hi\",,1,std,1\n", 2,
                     "name: quote inside unquoted field (quote the whole field, doubling the "
                     "quote)");
    EXPECT_ONE_ERROR(HDR "A1,\"One\"x,,1,std,1\n", 2, "name: text after closing quote");
    EXPECT_ONE_ERROR(HDR "A1,\"One\" ,,1,std,1\n", 2, "name: text after closing quote");
    EXPECT_ONE_ERROR(HDR "A1,One,,1,std,1,\"x\"y\n", 2, "field 7: text after closing quote");

    /* A stray quote costs only its own row: the next rows are still read. */
    catalog_csv_result res;
    kassa_err err;
    assert_int_equal(PARSE(HDR "A1,a\"b,,1,std,1\n"      /* 2 */
                               "A2,Two,,x,std,1\n"       /* 3 */
                               "A3,\"c\"d\"e,,1,std,1\n" /* 4 */
                               "A4,Four,,1,std,-\n",     /* 5 */
                           &res, &err),
                     KASSA_EINVAL);
    assert_int_equal(res.n_errors, 4);
    assert_int_equal(res.errors[0].line, 2);
    assert_int_equal(res.errors[1].line, 3);
    assert_int_equal(res.errors[2].line, 4);
    assert_string_equal(res.errors[2].msg, "name: text after closing quote");
    assert_int_equal(res.errors[3].line, 5);
    catalog_csv_result_free(&res);
}

static void test_multiline_records(void **state)
{
    (void)state;
    /* A quoted newline makes a record span lines; errors name the line the
     * record starts on, and later lines keep their physical numbers. */
    catalog_csv_result res;
    kassa_err err;
    assert_int_equal(PARSE(HDR "A1,\"Two\nline\r\nname\",,1,std,1\n" /* 2-4 */
                               "A2,Ok,,1,std,1\n"                    /* 5 */
                               "A3,\"x\",,1,std,\"\n\n7\"\n"         /* 6-8 */
                               "\n"                                  /* 9 */
                               "A4,Bad,,1,std\n",                    /* 10 */
                           &res, &err),
                     KASSA_EINVAL);
    assert_int_equal(res.n_errors, 3);
    assert_int_equal(res.errors[0].line, 2);
    assert_string_equal(res.errors[0].msg, "name: control character");
    assert_int_equal(res.errors[1].line, 6);
    assert_string_equal(res.errors[1].msg,
                        "stock: invalid \"\\x0a\\x0a7\": expected a whole number >= 0");
    assert_int_equal(res.errors[2].line, 10);
    assert_string_equal(res.errors[2].msg, "expected 6 fields, got 5");
    catalog_csv_result_free(&res);

    EXPECT_ONE_ERROR(HDR "A1,One,,1,std,1\n"
                         "\n"
                         "A2,\"multi\nline\n",
                     4, "unterminated quoted field");
}

static void test_nul_bytes(void **state)
{
    (void)state;
    EXPECT_ONE_ERROR(HDR "A1,On\0e,,1,std,1\n", 2, "name: contains a NUL byte");
    EXPECT_ONE_ERROR(HDR "A\0,One,,1,std,1\n", 2, "sku: contains a NUL byte");
    EXPECT_ONE_ERROR(HDR "A1,One,,1\0,std,1\n", 2, "price: contains a NUL byte");
    EXPECT_ONE_ERROR(HDR "A1,One,,1,std,1\0", 2, "stock: contains a NUL byte");
    EXPECT_ONE_ERROR(HDR "A1,\"\0\",,1,std,1\n", 2, "name: contains a NUL byte");
    EXPECT_ONE_ERROR(HDR "\0\n", 2, "expected 6 fields, got 1");

    /* Parsing stops exactly at len even when the bytes after it would
     * complete the file differently. */
    const char text[] = HDR "A1,One,,1,std,12345";
    catalog_csv_result res;
    kassa_err err;
    assert_int_equal(catalog_csv_parse(text, sizeof text - 4, &res, &err), KASSA_OK);
    assert_int_equal(res.n_items, 1);
    assert_int_equal(res.items[0].stock, 12);
    catalog_csv_result_free(&res);
}

/* ---- collection, cap and summary ---- */

static void test_multiple_errors_summary(void **state)
{
    (void)state;
    catalog_csv_result res;
    kassa_err err;
    int rc = PARSE(HDR "A1,One,,1,std,1\n"     /* 2: ok */
                       "A2,Two,,1.234,std,1\n" /* 3 */
                       "A3,Three,,1,std\n"     /* 4 */
                       "A1,Dup,,1,std,1\n"     /* 5 */
                       "A4,Four,,1,std,1\n",   /* 6: ok */
                   &res, &err);
    assert_int_equal(rc, KASSA_EINVAL);
    assert_int_equal(err.code, KASSA_EINVAL);
    assert_null(res.items);
    assert_int_equal(res.n_items, 0);
    assert_int_equal(res.n_errors, 3);
    assert_int_equal(res.errors[0].line, 3);
    assert_string_equal(res.errors[0].msg, "price: invalid amount \"1.234\": at most two decimals");
    assert_int_equal(res.errors[1].line, 4);
    assert_string_equal(res.errors[1].msg, "expected 6 fields, got 5");
    assert_int_equal(res.errors[2].line, 5);
    assert_string_equal(res.errors[2].msg, "duplicate sku \"A1\" (first at line 2)");
    assert_string_equal(err.msg, "3 malformed rows; first at line 3: price: invalid amount "
                                 "\"1.234\": at most two decimals");
    catalog_csv_result_free(&res);

    assert_int_equal(PARSE(HDR "A1,One,,1,std,1\nA2,Two,,1,std,x\n", &res, &err), KASSA_EINVAL);
    assert_string_equal(err.msg, "1 malformed row at line 3: stock: invalid \"x\": expected a "
                                 "whole number >= 0");
    catalog_csv_result_free(&res);

    /* err may be NULL; the result still lists the problems. */
    assert_int_equal(PARSE(HDR "A1,One,,1,std\n", &res, NULL), KASSA_EINVAL);
    assert_int_equal(res.n_errors, 1);
    catalog_csv_result_free(&res);
    assert_int_equal(PARSE(HDR "A1,One,,1,std,1\n", &res, NULL), KASSA_OK);
    catalog_csv_result_free(&res);

    /* A failed parse leaves nothing behind from an earlier success. */
    assert_int_equal(PARSE(HDR "A1,One,,1,std,1\n", &res, &err), KASSA_OK);
    catalog_csv_result_free(&res);
    assert_int_equal(PARSE(HDR "A1,One,,1,std\n", &res, &err), KASSA_EINVAL);
    assert_null(res.items);
    catalog_csv_result_free(&res);
}

static void test_error_cap(void **state)
{
    (void)state;
    textbuf b = {0};
    tb_printf(&b, HDR);
    for (int i = 0; i < 50; i++)
        tb_printf(&b, "S%d,Name,,1,std,1\nB%d,Name,,1,std\n", i, i); /* bad on even lines */

    catalog_csv_result res;
    kassa_err err;
    assert_int_equal(parse_buf(b.p, b.len, &res, &err), KASSA_EINVAL);
    assert_int_equal(res.n_errors, 50);
    for (unsigned i = 0; i < CATALOG_CSV_MAX_ERRORS; i++) {
        assert_int_equal(res.errors[i].line, 3 + 2 * i);
        assert_string_equal(res.errors[i].msg, "expected 6 fields, got 5");
    }
    assert_string_equal(err.msg, "50 malformed rows; first at line 3: expected 6 fields, got 5");
    catalog_csv_result_free(&res);
    free(b.p);
}

static void test_too_many_items(void **state)
{
    (void)state;
    textbuf b = {0};
    tb_printf(&b, HDR);
    for (int i = 0; i < CATALOG_CSV_MAX_ITEMS; i++)
        tb_printf(&b, "S%d,Item %d,,1.99,std,5\n", i, i);

    catalog_csv_result res;
    kassa_err err;
    assert_int_equal(parse_buf(b.p, b.len, &res, &err), KASSA_OK);
    assert_int_equal(res.n_items, CATALOG_CSV_MAX_ITEMS);
    assert_string_equal(res.items[CATALOG_CSV_MAX_ITEMS - 1].sku, "S199999");
    assert_int_equal(res.items[CATALOG_CSV_MAX_ITEMS - 1].line, CATALOG_CSV_MAX_ITEMS + 1);
    catalog_csv_result_free(&res);

    tb_printf(&b, "\nS%d,One too many,,1,std,1\nthis row is never read\n", CATALOG_CSV_MAX_ITEMS);
    assert_int_equal(parse_buf(b.p, b.len, &res, &err), KASSA_EINVAL);
    assert_null(res.items);
    assert_int_equal(res.n_errors, 1);
    assert_int_equal(res.errors[0].line, CATALOG_CSV_MAX_ITEMS + 3);
    assert_string_equal(res.errors[0].msg, "too many items: at most 200000");
    assert_string_equal(err.msg, "line 200003: too many items: at most 200000");
    catalog_csv_result_free(&res);
    free(b.p);
}

static void test_large_file(void **state)
{
    (void)state;
    textbuf b = {0};
    tb_printf(&b, "\xef\xbb\xbf" HDR);
    for (int i = 0; i < 100000; i++)
        tb_printf(&b, "SKU-%06d,\"Item %d, size %d\",%013d,%d.%02d,std,%d\r\n", i, i, i % 7, i,
                  i / 100, i % 100, i % 1000);

    catalog_csv_result res;
    kassa_err err;
    assert_int_equal(parse_buf(b.p, b.len, &res, &err), KASSA_OK);
    assert_int_equal(res.n_items, 100000);
    const catalog_item *it = &res.items[54321];
    assert_string_equal(it->sku, "SKU-054321");
    assert_string_equal(it->name, "Item 54321, size 1");
    assert_string_equal(it->barcode, "0000000054321");
    assert_int_equal(it->price, 54321);
    assert_int_equal(it->stock, 321);
    assert_int_equal(it->line, 54323);
    catalog_csv_result_free(&res);
    free(b.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_basic),
        cmocka_unit_test(test_valid_quoting),
        cmocka_unit_test(test_valid_crlf_bom_blank_lines),
        cmocka_unit_test(test_valid_no_final_newline),
        cmocka_unit_test(test_valid_limits),
        cmocka_unit_test(test_header_only),
        cmocka_unit_test(test_empty_file),
        cmocka_unit_test(test_bad_header),
        cmocka_unit_test(test_field_count),
        cmocka_unit_test(test_sku_errors),
        cmocka_unit_test(test_name_errors),
        cmocka_unit_test(test_barcode_errors),
        cmocka_unit_test(test_price_errors),
        cmocka_unit_test(test_tax_class_errors),
        cmocka_unit_test(test_stock_errors),
        cmocka_unit_test(test_duplicate_sku),
        cmocka_unit_test(test_quote_errors),
        cmocka_unit_test(test_multiline_records),
        cmocka_unit_test(test_nul_bytes),
        cmocka_unit_test(test_multiple_errors_summary),
        cmocka_unit_test(test_error_cap),
        cmocka_unit_test(test_too_many_items),
        cmocka_unit_test(test_large_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
