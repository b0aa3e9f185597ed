/*
 * Unit tests for base: kbuf, kreader (every read type, truncation, sticky
 * failure, varint edge cases), kassa_div_round_half_up and kassa_valid_id.
 */
#include "testutil.h"
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "base/base.h"

__extension__ typedef __int128 i128;

/* Fixed-seed xorshift64: the property tests are reproducible. */
static uint64_t rng_state = 0x2545F4914F6CDD1Du;

static uint64_t rng_next(void)
{
    return tu_xorshift64(&rng_state);
}

/* A random value with a random bit width, so small and huge values are both
 * common. */
static uint64_t rng_wide(void)
{
    unsigned bits = (unsigned)(rng_next() % 65);
    if (bits == 0)
        return 0;
    uint64_t v = rng_next();
    return bits == 64 ? v : v & ((UINT64_C(1) << bits) - 1);
}

/* ---- kassa_err ---- */

static void test_err_fail_and_clear(void **state)
{
    (void)state;
    kassa_err err;
    assert_int_equal(kassa_fail(&err, KASSA_ECORRUPT, "bad %s %d", "thing", 7), KASSA_ECORRUPT);
    assert_int_equal(err.code, KASSA_ECORRUPT);
    assert_string_equal(err.msg, "bad thing 7");
    kassa_err_clear(&err);
    assert_int_equal(err.code, KASSA_OK);
    assert_string_equal(err.msg, "");
    /* NULL err is allowed everywhere. */
    assert_int_equal(kassa_fail(NULL, KASSA_EINVAL, "x"), KASSA_EINVAL);
    kassa_err_clear(NULL);

    /* A long message is truncated, never overflowed. */
    char big[KASSA_ERR_MSG_SIZE * 2];
    memset(big, 'm', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    kassa_fail(&err, KASSA_EIO, "%s", big);
    assert_int_equal(strlen(err.msg), KASSA_ERR_MSG_SIZE - 1);
}

static void test_strerror(void **state)
{
    (void)state;
    static const int codes[] = {KASSA_OK,       KASSA_EINVAL,    KASSA_ENOTFOUND, KASSA_ECONFLICT,
                                KASSA_ECORRUPT, KASSA_EFULL,     KASSA_EIO,       KASSA_ENOMEM,
                                KASSA_EVERSION, KASSA_EOVERFLOW, KASSA_EBUSY};
    for (size_t i = 0; i < KASSA_ARRAY_LEN(codes); i++) {
        const char *s = kassa_strerror(codes[i]);
        assert_non_null(s);
        assert_string_not_equal(s, "unknown error");
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(s, kassa_strerror(codes[j]));
    }
    assert_string_equal(kassa_strerror(-1000), "unknown error");
    assert_string_equal(kassa_strerror(5), "unknown error");
}

/* ---- kbuf ---- */

static void test_kbuf_init_free(void **state)
{
    (void)state;
    kbuf b;
    memset(&b, 0x5a, sizeof b);
    kbuf_init(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    assert_false(b.oom);
    kbuf_free(&b); /* free of an empty buffer is fine */
    kbuf_put_u8(&b, 1);
    kbuf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    kbuf_free(&b); /* and twice */
}

static void test_kbuf_growth(void **state)
{
    (void)state;
    kbuf b;
    kbuf_init(&b);
    /* Zero-length puts allocate nothing, even with a NULL pointer. */
    kbuf_put(&b, NULL, 0);
    assert_null(b.data);
    assert_int_equal(b.len, 0);

    size_t prev_cap = 0;
    unsigned growths = 0;
    for (unsigned i = 0; i < 5000; i++) {
        kbuf_put_u8(&b, (uint8_t)(i * 7));
        assert_int_equal(b.len, i + 1);
        assert_true(b.cap >= b.len);
        if (b.cap != prev_cap) {
            growths++;
            /* Geometric growth: each new capacity at least doubles. */
            if (prev_cap)
                assert_true(b.cap >= 2 * prev_cap);
            prev_cap = b.cap;
        }
    }
    assert_false(b.oom);
    /* 5000 bytes from a 64-byte start take a handful of growths, not
     * thousands. */
    assert_true(growths <= 8);
    for (unsigned i = 0; i < 5000; i++)
        assert_int_equal(b.data[i], (uint8_t)(i * 7));

    /* One big put that needs several doublings at once. */
    static uint8_t big[100000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i ^ (i >> 8));
    kbuf_put(&b, big, sizeof big);
    assert_int_equal(b.len, 5000 + sizeof big);
    assert_true(b.cap >= b.len);
    assert_memory_equal(b.data + 5000, big, sizeof big);
    for (unsigned i = 0; i < 5000; i++)
        assert_int_equal(b.data[i], (uint8_t)(i * 7));

    /* reset keeps the memory, forgets the contents. */
    size_t cap = b.cap;
    uint8_t *data = b.data;
    kbuf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, cap);
    assert_ptr_equal(b.data, data);
    kbuf_put(&b, "xyz", 3);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, "xyz", 3);
    kbuf_free(&b);
}

static void test_kbuf_oom_is_sticky(void **state)
{
    (void)state;
    kbuf b;
    kbuf_init(&b);
    kbuf_put(&b, "abc", 3);
    /* A request that can never be satisfied poisons the buffer without
     * touching its contents (the source pointer is never read). */
    kbuf_put(&b, "", SIZE_MAX);
    assert_true(b.oom);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, "abc", 3);
    /* Sticky: later small appends are dropped too. */
    kbuf_put_u8(&b, 'd');
    kbuf_put_u32le(&b, 1);
    kbuf_put_uvarint(&b, 300);
    kbuf_put_svarint(&b, -5);
    kbuf_put_str(&b, "hello");
    kbuf_put_bytes(&b, "hi", 2);
    assert_true(b.oom);
    assert_int_equal(b.len, 3);

    /* Sizes just over half the address space are refused as well. */
    kbuf c;
    kbuf_init(&c);
    kbuf_put(&c, "", SIZE_MAX / 2 + 1);
    assert_true(c.oom);
    assert_int_equal(c.len, 0);
    assert_null(c.data);
    kbuf_free(&c);

    /* reset clears the flag and the buffer is usable again. */
    kbuf_reset(&b);
    assert_false(b.oom);
    kbuf_put(&b, "ok", 2);
    assert_int_equal(b.len, 2);
    assert_memory_equal(b.data, "ok", 2);
    kbuf_free(&b);
    assert_false(b.oom);
}

static void test_kbuf_fixed_encodings(void **state)
{
    (void)state;
    kbuf b;
    kbuf_init(&b);
    kbuf_put_u8(&b, 0xfe);
    kbuf_put_u32le(&b, 0x11223344u);
    kbuf_put_u32le(&b, 0xffffffffu);
    kbuf_put_str(&b, "abc");
    kbuf_put_str(&b, "");
    kbuf_put_bytes(&b, "\0\1", 2);
    static const uint8_t want[] = {0xfe, 0x44, 0x33, 0x22, 0x11, 0xff, 0xff, 0xff, 0xff,
                                   0x03, 'a',  'b',  'c',  0x00, 0x02, 0x00, 0x01};
    assert_int_equal(b.len, sizeof want);
    assert_memory_equal(b.data, want, sizeof want);
    kbuf_free(&b);
}

/* ---- varint encodings ---- */

static void test_uvarint_encode_vectors(void **state)
{
    (void)state;
    static const struct {
        uint64_t v;
        size_t n;
        uint8_t bytes[KASSA_UVARINT_MAX];
    } cases[] = {
        {0, 1, {0x00}},
        {1, 1, {0x01}},
        {127, 1, {0x7f}},
        {128, 2, {0x80, 0x01}},
        {300, 2, {0xac, 0x02}},
        {16383, 2, {0xff, 0x7f}},
        {16384, 3, {0x80, 0x80, 0x01}},
        {UINT32_MAX, 5, {0xff, 0xff, 0xff, 0xff, 0x0f}},
        {INT64_MAX, 9, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}},
        {UINT64_C(1) << 63, 10, {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}},
        {UINT64_MAX, 10, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
    };
    for (size_t i = 0; i < KASSA_ARRAY_LEN(cases); i++) {
        uint8_t out[KASSA_UVARINT_MAX];
        memset(out, 0xaa, sizeof out);
        size_t n = kassa_uvarint_encode(out, cases[i].v);
        assert_int_equal(n, cases[i].n);
        assert_memory_equal(out, cases[i].bytes, n);

        kbuf b;
        kbuf_init(&b);
        kbuf_put_uvarint(&b, cases[i].v);
        assert_int_equal(b.len, n);
        assert_memory_equal(b.data, cases[i].bytes, n);

        kreader r;
        uint64_t v = 0;
        kreader_init(&r, b.data, b.len);
        assert_true(kreader_uvarint(&r, &v));
        assert_true(v == cases[i].v);
        assert_int_equal(kreader_left(&r), 0);
        assert_false(r.bad);
        kbuf_free(&b);
    }
}

static void test_uvarint_round_trip_and_truncation(void **state)
{
    (void)state;
    uint64_t values[200];
    size_t nv = 0;
    for (unsigned bit = 0; bit < 64; bit++) {
        uint64_t p = UINT64_C(1) << bit;
        values[nv++] = p;
        values[nv++] = p - 1;
        values[nv++] = p + 1;
    }
    while (nv < KASSA_ARRAY_LEN(values))
        values[nv++] = rng_wide();
    for (size_t i = 0; i < nv; i++) {
        uint8_t enc[KASSA_UVARINT_MAX];
        size_t n = kassa_uvarint_encode(enc, values[i]);
        /* Length is exactly ceil(bits / 7), at least 1. */
        unsigned bits = values[i] ? 64 - (unsigned)__builtin_clzll(values[i]) : 1;
        assert_int_equal(n, (bits + 6) / 7);

        uint64_t v;
        kreader r;
        kreader_init(&r, enc, n);
        assert_true(kreader_uvarint(&r, &v));
        assert_true(v == values[i]);
        /* Every strict prefix is truncated: fails and marks the reader. */
        for (size_t k = 0; k < n; k++) {
            kreader_init(&r, enc, k);
            assert_false(kreader_uvarint(&r, &v));
            assert_true(r.bad);
            assert_int_equal(kreader_left(&r), 0);
        }
    }
}

static void test_uvarint_ten_byte_edges(void **state)
{
    (void)state;
    uint64_t v;
    kreader r;

    /* Ten bytes whose last carries only the top bit: the largest value. */
    static const uint8_t max[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    kreader_init(&r, max, sizeof max);
    assert_true(kreader_uvarint(&r, &v));
    assert_true(v == UINT64_MAX);

    /* A tenth byte with more than the top bit would overflow 64 bits. */
    for (unsigned last = 2; last < 256; last++) {
        uint8_t over[10];
        memcpy(over, max, 9);
        over[9] = (uint8_t)last;
        kreader_init(&r, over, sizeof over);
        assert_false(kreader_uvarint(&r, &v));
        assert_true(r.bad);
    }

    /* Eleven bytes (ten continuation bytes) are never a varint. */
    static const uint8_t eleven[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                     0x80, 0x80, 0x80, 0x80, 0x00};
    kreader_init(&r, eleven, sizeof eleven);
    assert_false(kreader_uvarint(&r, &v));
    assert_true(r.bad);
    static const uint8_t ten_cont[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    kreader_init(&r, ten_cont, sizeof ten_cont);
    assert_false(kreader_uvarint(&r, &v));
    assert_true(r.bad);

    /* Over-long forms (a final zero byte after a continuation) are
     * refused: one value has one encoding, so re-encoding is canonical. */
    static const uint8_t overlong_max[] = {0x80, 0x80, 0x80, 0x80, 0x80,
                                           0x80, 0x80, 0x80, 0x80, 0x00};
    kreader_init(&r, overlong_max, sizeof overlong_max);
    assert_false(kreader_uvarint(&r, &v));
    assert_true(r.bad);
    static const uint8_t overlong_zero[] = {0x80, 0x00};
    kreader_init(&r, overlong_zero, sizeof overlong_zero);
    assert_false(kreader_uvarint(&r, &v));
    assert_true(r.bad);
    static const uint8_t shortest_128[] = {0x80, 0x01};
    kreader_init(&r, shortest_128, sizeof shortest_128);
    assert_true(kreader_uvarint(&r, &v));
    assert_true(v == 128);
    assert_int_equal(kreader_left(&r), 0);
}

static void test_svarint_zigzag(void **state)
{
    (void)state;
    static const struct {
        int64_t v;
        uint64_t zz;
    } cases[] = {
        {0, 0},
        {-1, 1},
        {1, 2},
        {-2, 3},
        {2, 4},
        {-64, 127},
        {64, 128},
        {INT64_MAX, UINT64_MAX - 1},
        {INT64_MIN, UINT64_MAX},
        {INT64_MIN + 1, UINT64_MAX - 2},
    };
    for (size_t i = 0; i < KASSA_ARRAY_LEN(cases); i++) {
        kbuf b, want;
        kbuf_init(&b);
        kbuf_init(&want);
        kbuf_put_svarint(&b, cases[i].v);
        kbuf_put_uvarint(&want, cases[i].zz);
        assert_int_equal(b.len, want.len);
        assert_memory_equal(b.data, want.data, b.len);

        kreader r;
        int64_t v = 12345;
        kreader_init(&r, b.data, b.len);
        assert_true(kreader_svarint(&r, &v));
        assert_true(v == cases[i].v);
        assert_int_equal(kreader_left(&r), 0);
        for (size_t k = 0; k < b.len; k++) {
            kreader_init(&r, b.data, k);
            assert_false(kreader_svarint(&r, &v));
            assert_true(r.bad);
        }
        kbuf_free(&b);
        kbuf_free(&want);
    }
    /* Random round trips. */
    for (int i = 0; i < 2000; i++) {
        int64_t x = (int64_t)rng_wide();
        if (rng_next() & 1)
            x = -x - 1;
        kbuf b;
        kbuf_init(&b);
        kbuf_put_svarint(&b, x);
        kreader r;
        int64_t v;
        kreader_init(&r, b.data, b.len);
        assert_true(kreader_svarint(&r, &v));
        assert_true(v == x);
        kbuf_free(&b);
    }
}

/* ---- kreader ---- */

static void test_kreader_fixed_reads(void **state)
{
    (void)state;
    static const uint8_t data[] = {0x7f, 0x44, 0x33, 0x22, 0x11, 0xaa, 0xbb, 0xcc};
    kreader r;
    kreader_init(&r, data, sizeof data);
    assert_int_equal(kreader_left(&r), 8);
    uint8_t u8;
    uint32_t u32;
    const uint8_t *p;
    assert_true(kreader_u8(&r, &u8));
    assert_int_equal(u8, 0x7f);
    assert_true(kreader_u32le(&r, &u32));
    assert_int_equal(u32, 0x11223344u);
    assert_int_equal(kreader_left(&r), 3);
    assert_true(kreader_raw(&r, 0, &p)); /* zero-length read at any point */
    assert_ptr_equal(p, data + 5);
    assert_true(kreader_raw(&r, 3, &p));
    assert_ptr_equal(p, data + 5);
    assert_int_equal(kreader_left(&r), 0);
    assert_true(kreader_raw(&r, 0, &p));
    assert_false(r.bad);
    /* Reading past the end fails and leaves the outputs untouched. */
    u8 = 0x12;
    assert_false(kreader_u8(&r, &u8));
    assert_int_equal(u8, 0x12);
    assert_true(r.bad);

    /* An empty reader over NULL. */
    kreader_init(&r, NULL, 0);
    assert_int_equal(kreader_left(&r), 0);
    assert_false(kreader_u8(&r, &u8));
    assert_true(r.bad);
}

static void test_kreader_truncation_every_type(void **state)
{
    (void)state;
    /* u32le with 0..3 bytes available. */
    static const uint8_t four[] = {1, 2, 3, 4};
    for (size_t n = 0; n < 4; n++) {
        kreader r;
        uint32_t v = 99;
        kreader_init(&r, four, n);
        assert_false(kreader_u32le(&r, &v));
        assert_int_equal(v, 99);
        assert_true(r.bad);
        assert_int_equal(kreader_left(&r), 0);
    }
    /* raw more than available, including a size that would wrap pos. */
    kreader r;
    const uint8_t *p = NULL;
    kreader_init(&r, four, 4);
    assert_false(kreader_raw(&r, 5, &p));
    assert_true(r.bad);
    kreader_init(&r, four, 4);
    assert_true(kreader_raw(&r, 1, &p));
    assert_false(kreader_raw(&r, SIZE_MAX, &p));
    assert_true(r.bad);

    /* bytes and str: truncated in the length and in the body. */
    kbuf b;
    kbuf_init(&b);
    kbuf_put_str(&b, "a string of some length that needs no more than 127 bytes");
    for (size_t n = 0; n < b.len; n++) {
        const uint8_t *bp;
        size_t bn;
        char out[100];
        kreader_init(&r, b.data, n);
        assert_false(kreader_bytes(&r, 1000, &bp, &bn));
        assert_true(r.bad);
        kreader_init(&r, b.data, n);
        assert_false(kreader_str(&r, out, sizeof out));
        assert_true(r.bad);
    }
    kbuf_free(&b);

    /* A length prefix far larger than the input. */
    kbuf_init(&b);
    kbuf_put_uvarint(&b, UINT64_MAX);
    const uint8_t *bp;
    size_t bn;
    kreader_init(&r, b.data, b.len);
    assert_false(kreader_bytes(&r, SIZE_MAX, &bp, &bn));
    assert_true(r.bad);
    kbuf_free(&b);
}

static void test_kreader_bad_is_sticky(void **state)
{
    (void)state;
    static const uint8_t data[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};
    kreader r;
    kreader_init(&r, data, sizeof data);
    const uint8_t *p;
    assert_false(kreader_raw(&r, 9, &p));
    assert_true(r.bad);
    assert_int_equal(kreader_left(&r), 0);
    /* Every later read fails although the bytes are there. */
    uint8_t u8;
    uint32_t u32;
    uint64_t u64;
    int64_t i64;
    size_t n;
    char s[8];
    assert_false(kreader_u8(&r, &u8));
    assert_false(kreader_u32le(&r, &u32));
    assert_false(kreader_uvarint(&r, &u64));
    assert_false(kreader_svarint(&r, &i64));
    assert_false(kreader_raw(&r, 0, &p));
    assert_false(kreader_raw(&r, 1, &p));
    assert_false(kreader_bytes(&r, 8, &p, &n));
    assert_false(kreader_str(&r, s, sizeof s));
    assert_true(r.bad);
    assert_int_equal(kreader_left(&r), 0);

    /* A rejected varint (overflowing tenth byte) also poisons the reader. */
    static const uint8_t over[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                   0xff, 0xff, 0xff, 0x02, 0x05};
    kreader_init(&r, over, sizeof over);
    assert_false(kreader_uvarint(&r, &u64));
    assert_false(kreader_u8(&r, &u8));
    assert_int_equal(kreader_left(&r), 0);

    /* So does a too-long length prefix. */
    static const uint8_t lp[] = {0x05, 'a', 'b', 'c', 'd', 'e', 0x01};
    kreader_init(&r, lp, sizeof lp);
    assert_false(kreader_bytes(&r, 4, &p, &n));
    assert_true(r.bad);
    assert_false(kreader_u8(&r, &u8));
}

static void test_kreader_bytes(void **state)
{
    (void)state;
    kbuf b;
    kbuf_init(&b);
    kbuf_put_bytes(&b, "", 0);
    kbuf_put_bytes(&b, "\x00\xff\x01", 3);
    static uint8_t big[300];
    memset(big, 0x42, sizeof big);
    kbuf_put_bytes(&b, big, sizeof big);

    kreader r;
    const uint8_t *p;
    size_t n = 77;
    kreader_init(&r, b.data, b.len);
    assert_true(kreader_bytes(&r, 0, &p, &n));
    assert_int_equal(n, 0);
    assert_true(kreader_bytes(&r, 3, &p, &n));
    assert_int_equal(n, 3);
    assert_memory_equal(p, "\x00\xff\x01", 3);
    assert_ptr_equal(p, b.data + 2); /* borrowed, not copied */
    assert_true(kreader_bytes(&r, 300, &p, &n));
    assert_int_equal(n, 300);
    assert_memory_equal(p, big, 300);
    assert_int_equal(kreader_left(&r), 0);

    /* One over max_len is rejected. */
    kreader_init(&r, b.data, b.len);
    assert_true(kreader_bytes(&r, 0, &p, &n));
    assert_false(kreader_bytes(&r, 2, &p, &n));
    assert_true(r.bad);
    kbuf_free(&b);
}

static void test_kreader_str(void **state)
{
    (void)state;
    kbuf b;
    kreader r;
    char out[8];

    /* Fits exactly: 7 bytes + NUL in an 8-byte buffer. */
    kbuf_init(&b);
    kbuf_put_str(&b, "1234567");
    kbuf_put_str(&b, "");
    kbuf_put_str(&b, "\xc3\xa9t\xc3\xa9"); /* bytes are not interpreted */
    kreader_init(&r, b.data, b.len);
    memset(out, 'x', sizeof out);
    assert_true(kreader_str(&r, out, sizeof out));
    assert_string_equal(out, "1234567");
    memset(out, 'x', sizeof out);
    assert_true(kreader_str(&r, out, sizeof out));
    assert_string_equal(out, "");
    assert_true(kreader_str(&r, out, sizeof out));
    assert_string_equal(out, "\xc3\xa9t\xc3\xa9");
    assert_int_equal(kreader_left(&r), 0);
    kbuf_free(&b);

    /* One byte too long. */
    kbuf_init(&b);
    kbuf_put_str(&b, "12345678");
    kreader_init(&r, b.data, b.len);
    memset(out, 'x', sizeof out);
    assert_false(kreader_str(&r, out, sizeof out));
    assert_true(r.bad);
    assert_int_equal(out[0], 'x');
    /* The same string fits a 9-byte buffer. */
    char out9[9];
    kreader_init(&r, b.data, b.len);
    assert_true(kreader_str(&r, out9, sizeof out9));
    assert_string_equal(out9, "12345678");
    kbuf_free(&b);

    /* Embedded NUL anywhere. */
    for (size_t at = 0; at < 4; at++) {
        uint8_t s[4] = {'a', 'b', 'c', 'd'};
        s[at] = '\0';
        kbuf_init(&b);
        kbuf_put_bytes(&b, s, sizeof s);
        kreader_init(&r, b.data, b.len);
        assert_false(kreader_str(&r, out, sizeof out));
        assert_true(r.bad);
        kbuf_free(&b);
    }

    /* A zero-size output holds nothing, not even "". */
    static const uint8_t empty[] = {0x00};
    kreader_init(&r, empty, sizeof empty);
    assert_false(kreader_str(&r, out, 0));
    /* A one-byte output holds exactly "". */
    kreader_init(&r, empty, sizeof empty);
    assert_true(kreader_str(&r, out, 1));
    assert_string_equal(out, "");
}

/* ---- kassa_div_round_half_up ---- */

static void test_div_round_half_up_table(void **state)
{
    (void)state;
    static const struct {
        int64_t num, den, want;
    } cases[] = {
        {0, 1, 0},
        {0, 7, 0},
        {1, 2, 1},
        {-1, 2, -1},
        {3, 2, 2},
        {-3, 2, -2},
        {5, 2, 3},
        {-5, 2, -3},
        {1, 3, 0},
        {-1, 3, 0},
        {2, 3, 1},
        {-2, 3, -1},
        {14, 4, 4},   /* 3.5 */
        {-14, 4, -4}, /* -3.5 */
        {13, 4, 3},   /* 3.25 */
        {-13, 4, -3},
        {15, 4, 4}, /* 3.75 */
        {-15, 4, -4},
        {12345, 100, 123},
        {12350, 100, 124},
        {-12350, 100, -124},
        {12349, 100, 123},
        {-12349, 100, -123},
        {10, 5, 2},
        {-10, 5, -2},
        {7, 1, 7},
        {-7, 1, -7},
        {INT64_MAX, 1, INT64_MAX},
        {INT64_MIN, 1, INT64_MIN},
        {INT64_MAX, 2, INT64_C(4611686018427387904)},
        {INT64_MIN, 2, INT64_C(-4611686018427387904)},
        {INT64_MIN + 1, 2, INT64_C(-4611686018427387904)},
        {INT64_MAX, INT64_MAX, 1},
        {INT64_MIN, INT64_MAX, -1},
        {INT64_MAX / 2, INT64_MAX, 0},
        {INT64_MAX / 2 + 1, INT64_MAX, 1},
        {-(INT64_MAX / 2), INT64_MAX, 0},
        {-(INT64_MAX / 2 + 1), INT64_MAX, -1},
        {1, INT64_MAX, 0},
        {-1, INT64_MAX, 0},
    };
    for (size_t i = 0; i < KASSA_ARRAY_LEN(cases); i++) {
        int64_t got = kassa_div_round_half_up(cases[i].num, cases[i].den);
        if (got != cases[i].want)
            fail_msg("round_half_up(%lld, %lld) = %lld, want %lld", (long long)cases[i].num,
                     (long long)cases[i].den, (long long)got, (long long)cases[i].want);
    }
}

/* 128-bit oracle: round |num|/den half up, then restore the sign. */
static int64_t oracle_round(int64_t num, int64_t den)
{
    i128 a = num < 0 ? -(i128)num : (i128)num;
    i128 q = (2 * a + den) / (2 * (i128)den);
    return (int64_t)(num < 0 ? -q : q);
}

static void test_div_round_half_up_property(void **state)
{
    (void)state;
    for (int i = 0; i < 20000; i++) {
        int64_t num = (int64_t)(rng_wide() >> 1);
        if (rng_next() & 1)
            num = -num - (int64_t)(rng_next() & 1); /* reaches INT64_MIN */
        int64_t den = (int64_t)(rng_wide() >> 1);
        if (den <= 0)
            den = 1;
        if ((i & 3) == 0) {
            /* An exact half: num = q*den + den/2 with den even. */
            int64_t k = (int64_t)(rng_next() % 1000000) + 1;
            int64_t q = (int64_t)(rng_next() % 1000000);
            den = 2 * k;
            num = q * den + k;
            if (rng_next() & 1)
                num = -num;
        }
        int64_t got = kassa_div_round_half_up(num, den);
        int64_t want = oracle_round(num, den);
        if (got != want)
            fail_msg("round_half_up(%lld, %lld) = %lld, want %lld", (long long)num, (long long)den,
                     (long long)got, (long long)want);
        /* Symmetric: rounding is away from zero both ways. */
        if (num != INT64_MIN)
            assert_true(kassa_div_round_half_up(-num, den) == -got);
    }
}

/* ---- kassa_valid_id ---- */

static void test_valid_id(void **state)
{
    (void)state;
    static const char *const good[] = {
        "a", "Z", "0", "node-1", "store_2", "v1.2.3", "-", ".", "_", "..", "A-b_C.9",
    };
    for (size_t i = 0; i < KASSA_ARRAY_LEN(good); i++)
        assert_true(kassa_valid_id(good[i], KASSA_ID_MAX));

    static const char *const bad[] = {
        "",    " ",   "a b", "a/b", "a\\b", "a:b",   "a\tb", "a\nb", "\xc3\xa9", "a\x7f",
        "a+b", "a@b", "a,b", "a;b", "a=b",  "\"a\"", "a'b",  "a*",   "*",        "%",
    };
    for (size_t i = 0; i < KASSA_ARRAY_LEN(bad); i++)
        assert_false(kassa_valid_id(bad[i], KASSA_ID_MAX));

    /* Length limit is inclusive. */
    char s[KASSA_ID_MAX + 2];
    memset(s, 'x', sizeof s);
    s[KASSA_ID_MAX] = '\0';
    assert_true(kassa_valid_id(s, KASSA_ID_MAX));
    s[KASSA_ID_MAX] = 'x';
    s[KASSA_ID_MAX + 1] = '\0';
    assert_false(kassa_valid_id(s, KASSA_ID_MAX));
    assert_true(kassa_valid_id("abc", 3));
    assert_false(kassa_valid_id("abcd", 3));
    assert_false(kassa_valid_id("a", 0));

    /* Every single byte: exactly the 65 allowed characters pass. */
    unsigned allowed = 0;
    for (int c = 1; c < 256; c++) {
        char one[2] = {(char)c, '\0'};
        if (kassa_valid_id(one, 1))
            allowed++;
    }
    assert_int_equal(allowed, 26 + 26 + 10 + 3);
}

/* ---- checked arithmetic ---- */

static void test_checked_arithmetic(void **state)
{
    (void)state;
    int64_t out;
    assert_true(kassa_add_i64(INT64_MAX - 1, 1, &out));
    assert_true(out == INT64_MAX);
    assert_false(kassa_add_i64(INT64_MAX, 1, &out));
    assert_false(kassa_add_i64(INT64_MIN, -1, &out));
    assert_true(kassa_mul_i64(INT64_C(3037000499), INT64_C(3037000499), &out));
    assert_false(kassa_mul_i64(INT64_C(3037000500), INT64_C(3037000500), &out));
    assert_false(kassa_mul_i64(INT64_MIN, -1, &out));
    assert_true(kassa_mul_i64(INT64_MIN, 1, &out));
    assert_true(out == INT64_MIN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_err_fail_and_clear),
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_kbuf_init_free),
        cmocka_unit_test(test_kbuf_growth),
        cmocka_unit_test(test_kbuf_oom_is_sticky),
        cmocka_unit_test(test_kbuf_fixed_encodings),
        cmocka_unit_test(test_uvarint_encode_vectors),
        cmocka_unit_test(test_uvarint_round_trip_and_truncation),
        cmocka_unit_test(test_uvarint_ten_byte_edges),
        cmocka_unit_test(test_svarint_zigzag),
        cmocka_unit_test(test_kreader_fixed_reads),
        cmocka_unit_test(test_kreader_truncation_every_type),
        cmocka_unit_test(test_kreader_bad_is_sticky),
        cmocka_unit_test(test_kreader_bytes),
        cmocka_unit_test(test_kreader_str),
        cmocka_unit_test(test_div_round_half_up_table),
        cmocka_unit_test(test_div_round_half_up_property),
        cmocka_unit_test(test_valid_id),
        cmocka_unit_test(test_checked_arithmetic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
