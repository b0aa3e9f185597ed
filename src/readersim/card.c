/*
 * card.c: what the reader does with a presented card. It checks the number
 * (digits, 12..19 of them, Luhn), derives the token (a keyed hash: the
 * same card gives the same token, so a refund can name the card without
 * its number), and seals the card record to the processor's public key:
 * the terminal gets a blob it cannot open.
 *
 * The reader does not refuse an expired card: it reads what is presented,
 * and the terminal decides.
 */
#include "readersim/readersim.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TOKEN_HASH_BYTES 16
#define PUB_FILE_MAX_BYTES 256

/* ---- keys on disk ---- */

static int read_small_file(const char *path, char *buf, size_t size, size_t *n, kassa_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return kassa_fail(err, KASSA_EIO, "cannot open %s: %s", path, strerror(errno));
    size_t got = 0;
    for (;;) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            return kassa_fail(err, KASSA_EIO, "cannot read %s: %s", path, strerror(e));
        }
        if (r == 0)
            break;
        got += (size_t)r;
        if (got == size) {
            close(fd);
            return kassa_fail(err, KASSA_EINVAL, "%s is too large", path);
        }
    }
    if (close(fd) != 0)
        return kassa_fail(err, KASSA_EIO, "cannot close %s: %s", path, strerror(errno));
    *n = got;
    return KASSA_OK;
}

static int load_processor_pk(uint8_t pk[crypto_box_PUBLICKEYBYTES], const char *path,
                             kassa_err *err)
{
    char text[PUB_FILE_MAX_BYTES];
    size_t n = 0;
    int rc = read_small_file(path, text, sizeof text, &n, err);
    if (rc != KASSA_OK)
        return rc;
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' '))
        n--;
    size_t bin_len = 0;
    if (n != 2 * crypto_box_PUBLICKEYBYTES ||
        sodium_hex2bin(pk, crypto_box_PUBLICKEYBYTES, text, n, NULL, &bin_len, NULL) != 0 ||
        bin_len != crypto_box_PUBLICKEYBYTES)
        return kassa_fail(err, KASSA_EINVAL, "%s: expected a %d-byte public key in hex", path,
                          crypto_box_PUBLICKEYBYTES);
    return KASSA_OK;
}

/* Creates the key file whole or not at all: written under a private name,
 * then linked into place (link fails if another reader won the race, and
 * that reader's key is used). A reader never sees a half-written key. */
static int create_token_key(uint8_t key[RS_KEY_BYTES], const char *path, kassa_err *err)
{
    char tmp[PATH_MAX];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.new.%ld", path, (long)getpid()) >= sizeof tmp)
        return kassa_fail(err, KASSA_EINVAL, "%s: path too long", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return kassa_fail(err, KASSA_EIO, "cannot create %s: %s", tmp, strerror(errno));
    randombytes_buf(key, RS_KEY_BYTES);
    ssize_t w = write(fd, key, RS_KEY_BYTES);
    int e = errno;
    if (w != RS_KEY_BYTES || fsync(fd) != 0) {
        e = w != RS_KEY_BYTES ? (w < 0 ? e : EIO) : errno;
        close(fd);
        unlink(tmp);
        return kassa_fail(err, KASSA_EIO, "cannot write %s: %s", tmp, strerror(e));
    }
    if (close(fd) != 0) {
        e = errno;
        unlink(tmp);
        return kassa_fail(err, KASSA_EIO, "cannot close %s: %s", tmp, strerror(e));
    }
    int rc = link(tmp, path) == 0 ? KASSA_OK
             : errno == EEXIST
                 ? KASSA_ECONFLICT
                 : kassa_fail(err, KASSA_EIO, "cannot create %s: %s", path, strerror(errno));
    unlink(tmp);
    if (rc != KASSA_OK)
        sodium_memzero(key, RS_KEY_BYTES);
    return rc;
}

static int load_token_key(uint8_t key[RS_KEY_BYTES], const char *path, kassa_err *err)
{
    int rc = create_token_key(key, path, err);
    if (rc != KASSA_ECONFLICT)
        return rc;
    /* It exists: it must be ours alone and exactly a key. */
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return kassa_fail(err, KASSA_EIO, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return kassa_fail(err, KASSA_EIO, "cannot stat %s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode) || (st.st_mode & 077) != 0 || st.st_size != RS_KEY_BYTES) {
        close(fd);
        return kassa_fail(err, KASSA_EINVAL,
                          "%s: expected a regular file of %d bytes, mode 0600 (not readable by "
                          "group or others)",
                          path, RS_KEY_BYTES);
    }
    ssize_t r = read(fd, key, RS_KEY_BYTES);
    int e = errno;
    close(fd);
    if (r != RS_KEY_BYTES)
        return kassa_fail(err, KASSA_EIO, "cannot read %s: %s", path,
                          r < 0 ? strerror(e) : "short read");
    return KASSA_OK;
}

int rs_keys_load(rs_keys *k, const char *processor_pub_path, const char *token_key_path,
                 kassa_err *err)
{
    int rc = load_processor_pk(k->processor_pk, processor_pub_path, err);
    if (rc == KASSA_OK)
        rc = load_token_key(k->token_key, token_key_path, err);
    return rc;
}

/* ---- reading a card ---- */

static void unreadable(pay_read_reply *r, const char *message)
{
    r->ok = false;
    snprintf(r->reason, sizeof r->reason, "%s", PAY_READER_UNREADABLE);
    snprintf(r->message, sizeof r->message, "%s", message);
}

void rs_card_read(const rs_keys *k, const rs_present *p, const pay_read_req *q, pay_read_reply *r)
{
    memset(r, 0, sizeof *r);
    snprintf(r->payment_id, sizeof r->payment_id, "%s", q->payment_id);
    const char *pan = p->number;
    size_t n = strnlen(pan, sizeof p->number);
    for (size_t i = 0; i < n; i++) {
        if (pan[i] < '0' || pan[i] > '9') {
            unreadable(r, "card number has characters other than digits");
            return;
        }
    }
    if (n < PAY_PAN_MIN || n > PAY_PAN_MAX) {
        unreadable(r, "card number is not 12 to 19 digits long");
        return;
    }
    if (!pay_luhn_ok(pan, n)) {
        unreadable(r, "card number failed its check digit");
        return;
    }
    int month, year;
    if (!rs_parse_expiry(p->expiry, &month, &year)) {
        unreadable(r, "card expiry unreadable");
        return;
    }
    pay_card *c = &r->card;
    uint8_t h[TOKEN_HASH_BYTES];
    char hex[2 * TOKEN_HASH_BYTES + 1];
    crypto_generichash(h, sizeof h, (const unsigned char *)pan, n, k->token_key,
                       sizeof k->token_key);
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    snprintf(c->token, sizeof c->token, "tok_%s", hex);
    snprintf(c->brand, sizeof c->brand, "%s", pay_brand_of(pan));
    memcpy(c->last4, pan + n - 4, 4);
    c->last4[4] = '\0';
    c->exp_month = month;
    c->exp_year = year;

    /* The record only the processor opens. payment_id, amount and token
     * tie the blob to this payment: the processor refuses it for any
     * other. The ids and the token need no JSON escaping. */
    char rec[PAY_BLOB_MAX - crypto_box_SEALBYTES];
    int len = snprintf(rec, sizeof rec,
                       "{\"pan\":\"%s\",\"exp\":\"%s\",\"payment_id\":\"%s\",\"amount_minor\":%lld,"
                       "\"token\":\"%s\"}",
                       pan, p->expiry, q->payment_id, (long long)q->amount_minor, c->token);
    bool sealed =
        len > 0 && (size_t)len < sizeof rec &&
        crypto_box_seal(c->blob, (const unsigned char *)rec, (size_t)len, k->processor_pk) == 0;
    sodium_memzero(rec, sizeof rec);
    if (!sealed) {
        memset(r, 0, sizeof *r);
        snprintf(r->payment_id, sizeof r->payment_id, "%s", q->payment_id);
        unreadable(r, "the reader could not seal the card record");
        return;
    }
    c->blob_len = (size_t)len + crypto_box_SEALBYTES;
    r->ok = true;
}
