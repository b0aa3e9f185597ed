/*
 * Helpers shared by the test programs: unit tests (tests/unit), helper
 * programs (tests/progs) and fuzz targets (tests/fuzz). Header-only, every
 * function static inline, so a program carries only what it calls.
 *
 * It includes the standard headers cmocka.h needs before it, so a unit test
 * starts with
 *
 *     #include "testutil.h"
 *     #include <cmocka.h>
 *
 * Nothing here depends on cmocka: failures are reported on stderr or by
 * return value, and the fuzz checks abort.
 */
#ifndef KASSA_TESTUTIL_H
#define KASSA_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <errno.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- pseudo-random numbers: fixed seeds, so a run can be replayed ---- */

/* One step of xorshift64 (shifts 13, 7, 17). The state must not be 0. */
static inline uint64_t tu_xorshift64(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return x;
}

/* splitmix64: advances the counter *x and returns a well-mixed value of it,
 * so any seed (0, or seeds that differ in one bit) makes a good state. */
static inline uint64_t tu_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* Maps a draw into lo..hi (inclusive); modulo bias is irrelevant here. */
static inline int64_t tu_range(uint64_t draw, int64_t lo, int64_t hi)
{
    return lo + (int64_t)(draw % (uint64_t)(hi - lo + 1));
}

/* A xorshift64* stream. tu_rng_seed passes the seed through splitmix64, so
 * neighbouring seeds (base + i) give unrelated streams; a caller that sets
 * s itself must not set 0. */
typedef struct tu_rng {
    uint64_t s;
} tu_rng;

static inline void tu_rng_seed(tu_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    r->s = tu_splitmix64(&x);
    if (r->s == 0)
        r->s = 1;
}

static inline uint64_t tu_rng_next(tu_rng *r)
{
    uint64_t x = r->s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * UINT64_C(0x2545F4914F6CDD1D);
}

static inline int64_t tu_rng_range(tu_rng *r, int64_t lo, int64_t hi)
{
    return tu_range(tu_rng_next(r), lo, hi);
}

static inline bool tu_rng_chance(tu_rng *r, int percent)
{
    return tu_rng_range(r, 0, 99) < percent;
}

/* ---- temporary directories ---- */

/* Creates a fresh directory ROOT/PREFIX-XXXXXX and writes its path to buf.
 * ROOT is /dev/shm when prefer_shm and it is a writable directory (fsync is
 * free there), else $TMPDIR when set, else /tmp. Returns 0, or -1 after
 * saying why on stderr. */
static inline int tu_mkdtemp(char *buf, size_t size, const char *prefix, bool prefer_shm)
{
    struct stat sb;
    const char *root = getenv("TMPDIR");
    if (prefer_shm && stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode) &&
        access("/dev/shm", W_OK) == 0)
        root = "/dev/shm";
    else if (!root || !*root)
        root = "/tmp";
    int n = snprintf(buf, size, "%s/%s-XXXXXX", root, prefix);
    if (n < 0 || (size_t)n >= size) {
        fprintf(stderr, "temporary directory name too long: %s/%s-XXXXXX\n", root, prefix);
        return -1;
    }
    if (!mkdtemp(buf)) {
        fprintf(stderr, "mkdtemp %s: %s\n", buf, strerror(errno));
        return -1;
    }
    return 0;
}

static inline int tu_rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

/* Removes path and everything under it, best effort; links are removed,
 * never followed. */
static inline void tu_rm_tree(const char *path)
{
    nftw(path, tu_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- fuzz seed corpora ---- */

/* Writes the n bytes at p to dir/name, a seed of a fuzz corpus; nothing
 * when dir is NULL (the test builds and checks its seeds all the same).
 * Returns 0, or -1 after saying why on stderr. */
static inline int tu_seed_write(const char *dir, const char *name, const void *p, size_t n)
{
    if (!dir)
        return 0;
    char path[512];
    int len = snprintf(path, sizeof path, "%s/%s", dir, name);
    if (len < 0 || (size_t)len >= sizeof path) {
        fprintf(stderr, "seed path too long: %s/%s\n", dir, name);
        return -1;
    }
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    bool ok = fwrite(p, 1, n, f) == n;
    if (fclose(f) != 0 || !ok) {
        fprintf(stderr, "writing %s failed\n", path);
        return -1;
    }
    return 0;
}

/* ---- text ---- */

static inline bool tu_contains(const char *hay, const char *needle)
{
    return strstr(hay, needle) != NULL;
}

/* No control bytes (below 0x20, or DEL) before the terminating NUL. */
static inline bool tu_no_controls(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

/* ---- fuzz targets: a broken invariant aborts, which the fuzzer reports ---- */

static inline void tu_check(bool ok)
{
    if (!ok)
        abort();
}

/* An error message fits its buffer (terminated inside it), is not empty, and
 * is one line of printable ASCII: no newline or other control byte, and no
 * byte above 0x7e (messages never echo the input's bytes). */
static inline void tu_check_msg(const char *msg, size_t size)
{
    size_t n = strnlen(msg, size);
    tu_check(n > 0 && n < size);
    for (size_t i = 0; i < n; i++)
        tu_check(msg[i] >= 0x20 && msg[i] < 0x7f);
}

/* ---- fuzz targets: decoders of kassa messages ---- */

#include "base/base.h"

/* Whether the n bytes at p are all zero. */
static inline bool tu_all_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

/* Whether a decoder fed the fuzz input decoded it: rc is what it returned,
 * err its error, out (size bytes) its output. One that did not must have
 * failed with KASSA_ECORRUPT, set err's code to it with a one-line message
 * (tu_check_msg), and left out zeroed. */
static inline bool tu_decoded(int rc, const kassa_err *err, const void *out, size_t size)
{
    if (rc == KASSA_OK)
        return true;
    tu_check(rc == KASSA_ECORRUPT && err->code == rc);
    tu_check_msg(err->msg, sizeof err->msg);
    tu_check(tu_all_zero(out, size));
    return false;
}

#endif
