/*
 * keys.c: the processor's key pair (X25519, libsodium crypto_box), stored
 * as hex: DIR/processor.pub (0644, handed to the readers) and
 * DIR/processor.key (0600, refused when others can read it).
 */
#include "procsim/procsim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_FILE_MAX_BYTES 256
#define PATH_SIZE 4096

static int join(char *out, const char *dir, const char *name, kassa_err *err)
{
    int n = snprintf(out, PATH_SIZE, "%s/%s", dir, name);
    if (n < 0 || n >= PATH_SIZE)
        return kassa_fail(err, KASSA_EINVAL, "path too long: %s/%s", dir, name);
    return KASSA_OK;
}

/* Creates path (it must not exist) with exactly mode and the hex of p. */
static int write_hex(const char *path, mode_t mode, const uint8_t *p, size_t n, kassa_err *err)
{
    char hex[2 * crypto_box_SECRETKEYBYTES + 2];
    sodium_bin2hex(hex, sizeof hex, p, n);
    size_t len = strlen(hex);
    hex[len++] = '\n';
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) {
        sodium_memzero(hex, sizeof hex);
        return kassa_fail(err, errno == EEXIST ? KASSA_ECONFLICT : KASSA_EIO,
                          "cannot create %s: %s", path, strerror(errno));
    }
    /* The umask must not change the mode the file is meant to have. */
    bool ok = fchmod(fd, mode) == 0 && write(fd, hex, len) == (ssize_t)len && fsync(fd) == 0;
    int e = errno;
    sodium_memzero(hex, sizeof hex);
    if (close(fd) != 0 && ok) {
        ok = false;
        e = errno;
    }
    if (!ok) {
        unlink(path);
        return kassa_fail(err, KASSA_EIO, "cannot write %s: %s", path, strerror(e));
    }
    return KASSA_OK;
}

int ps_keygen(const char *dir, kassa_err *err)
{
    char pub[PATH_SIZE], key[PATH_SIZE];
    int rc = join(pub, dir, PS_PUB_FILE, err);
    if (rc == KASSA_OK)
        rc = join(key, dir, PS_KEY_FILE, err);
    if (rc != KASSA_OK)
        return rc;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return kassa_fail(err, KASSA_EIO, "cannot create %s: %s", dir, strerror(errno));
    struct stat st;
    if (lstat(pub, &st) == 0 || lstat(key, &st) == 0)
        return kassa_fail(err, KASSA_ECONFLICT, "%s already holds a processor key: not overwritten",
                          dir);
    ps_keys k;
    if (crypto_box_keypair(k.pk, k.sk) != 0)
        return kassa_fail(err, KASSA_EIO, "cannot make a key pair");
    rc = write_hex(key, 0600, k.sk, sizeof k.sk, err);
    if (rc == KASSA_OK) {
        rc = write_hex(pub, 0644, k.pk, sizeof k.pk, err);
        if (rc != KASSA_OK)
            unlink(key);
    }
    sodium_memzero(&k, sizeof k);
    return rc;
}

/* Reads the hex key in path into out (n bytes); private: mode 0600. */
static int read_hex(const char *path, bool private, uint8_t *out, size_t n, kassa_err *err)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return kassa_fail(err, errno == ENOENT ? KASSA_ENOTFOUND : KASSA_EIO, "cannot open %s: %s",
                          path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (private && (st.st_mode & 077) != 0)) {
        close(fd);
        return kassa_fail(err, KASSA_EINVAL, "%s: expected a regular file%s", path,
                          private ? " of mode 0600 (not readable by group or others)" : "");
    }
    char text[KEY_FILE_MAX_BYTES];
    ssize_t r = read(fd, text, sizeof text);
    int e = errno;
    close(fd);
    if (r < 0)
        return kassa_fail(err, KASSA_EIO, "cannot read %s: %s", path, strerror(e));
    size_t len = (size_t)r;
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
        len--;
    size_t bin_len = 0;
    int ok = len == 2 * n && sodium_hex2bin(out, n, text, len, NULL, &bin_len, NULL) == 0 &&
             bin_len == n;
    sodium_memzero(text, sizeof text);
    if (!ok)
        return kassa_fail(err, KASSA_EINVAL, "%s: expected a %zu-byte key in hex", path, n);
    return KASSA_OK;
}

int ps_keys_load(const char *dir, ps_keys *k, kassa_err *err)
{
    char pub[PATH_SIZE], key[PATH_SIZE];
    int rc = join(pub, dir, PS_PUB_FILE, err);
    if (rc == KASSA_OK)
        rc = join(key, dir, PS_KEY_FILE, err);
    if (rc == KASSA_OK)
        rc = read_hex(key, true, k->sk, sizeof k->sk, err);
    if (rc != KASSA_OK)
        return rc;
    if (crypto_scalarmult_base(k->pk, k->sk) != 0)
        return kassa_fail(err, KASSA_EINVAL, "%s: not a usable secret key", key);
    uint8_t on_disk[crypto_box_PUBLICKEYBYTES];
    rc = read_hex(pub, false, on_disk, sizeof on_disk, err);
    if (rc == KASSA_ENOTFOUND)
        return KASSA_OK;
    if (rc != KASSA_OK)
        return rc;
    /* Readers seal to the .pub: a mismatch would decline every card. */
    if (sodium_memcmp(on_disk, k->pk, sizeof on_disk) != 0)
        return kassa_fail(err, KASSA_EINVAL, "%s is not the public key of %s", pub, key);
    return KASSA_OK;
}
