/*
 * crypto.c - key pairs, identity keys, key files, signatures, fingerprints,
 * hashing and randomness on top of libsodium. Only common/crypto includes
 * <sodium.h>; other modules reach the primitives they need through prim.h.
 *
 * Key pairs and identity keys each live in one sodium_malloc'd block (guard
 * pages, mlock'd where the system allows, wiped by sodium_free) that is made
 * read-only once filled.
 * Secret key files (here and seal.c's data key) are read by
 * fr_crypto_read_secret_hex with open/fstat/read on one descriptor so the
 * permission check and the bytes we parse cannot come from different files,
 * and the file contents are wiped on every path out.
 */
#include "crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "../base/log.h"
#include "../base/util.h"
#include "crypto_int.h"

_Static_assert(FR_CRYPTO_PK_BYTES == crypto_box_PUBLICKEYBYTES,
               "public key size must match crypto_box");
_Static_assert(FR_CRYPTO_SK_BYTES == crypto_box_SECRETKEYBYTES,
               "secret key size must match crypto_box");
_Static_assert(FR_CRYPTO_SK_BYTES == crypto_scalarmult_SCALARBYTES,
               "secret key must be a Curve25519 scalar");
_Static_assert(FR_CRYPTO_PK_BYTES == crypto_scalarmult_BYTES,
               "public key must be a Curve25519 point");
_Static_assert(FR_CRYPTO_HEX_KEY_CHARS == 2 * FR_CRYPTO_PK_BYTES,
               "hex key length");
_Static_assert(FR_CRYPTO_PK_BYTES == crypto_sign_PUBLICKEYBYTES,
               "identity public key size must match crypto_sign");
_Static_assert(FR_CRYPTO_SIG_BYTES == crypto_sign_BYTES,
               "signature size must match crypto_sign");
_Static_assert(crypto_sign_SEEDBYTES == 32,
               "identity key files hold a 32-byte seed");

#define TAG "crypto"
#define FPR_HASH_BYTES 32

struct fr_crypto_keypair {
    uint8_t pk[FR_CRYPTO_PK_BYTES];
    uint8_t sk[FR_CRYPTO_SK_BYTES];
};

/* sk is libsodium's expanded form (seed || public key); files hold only the
 * seed. */
struct fr_crypto_signkey {
    uint8_t pk[FR_CRYPTO_PK_BYTES];
    uint8_t sk[crypto_sign_SECRETKEYBYTES];
};

fr_err
fr_crypto_init(void)
{
    /* sodium_init is idempotent and thread-safe; 1 means "already done". */
    return sodium_init() < 0 ? FR_ESYS : FR_OK;
}

fr_err
fr_crypto_guarded_alloc(size_t len, void **out)
{
    void *p;

    /* sodium_malloc needs sodium_init (page size); make misuse harmless. */
    if (fr_crypto_init() != FR_OK)
        return FR_ESYS;
    if (!(p = sodium_malloc(len)))
        return FR_ENOMEM;
    *out = p;
    return FR_OK;
}

/* Allocates a writable guarded key pair; the caller seals it when filled. */
static fr_err
keypair_alloc(fr_crypto_keypair **out)
{
    void *p = NULL;
    fr_err rc = fr_crypto_guarded_alloc(sizeof **out, &p);

    if (rc == FR_OK)
        *out = p;
    return rc;
}

/* Makes the key pair read-only so a stray write faults instead of
 * corrupting the key. */
static void
keypair_seal(fr_crypto_keypair *kp)
{
    (void)sodium_mprotect_readonly(kp);
}

fr_err
fr_crypto_keypair_generate(fr_crypto_keypair **out)
{
    fr_crypto_keypair *kp = NULL;
    fr_err rc = keypair_alloc(&kp);

    if (rc)
        return rc;
    if (crypto_box_keypair(kp->pk, kp->sk) != 0) {
        sodium_free(kp);
        return FR_ESYS;
    }
    keypair_seal(kp);
    *out = kp;
    return FR_OK;
}

void
fr_crypto_keypair_destroy(fr_crypto_keypair **kpp)
{
    if (!kpp || !*kpp)
        return;
    sodium_free(*kpp); /* restores write access, zeroes, unmaps */
    *kpp = NULL;
}

const uint8_t *
fr_crypto_keypair_public(const fr_crypto_keypair *kp)
{
    return kp->pk;
}

const uint8_t *
fr_crypto_keypair_secret(const fr_crypto_keypair *kp)
{
    return kp->sk;
}

fr_err
fr_crypto_key_from_hex(const char *hex, size_t len, uint8_t key_out[32])
{
    uint8_t tmp[32];
    size_t bin_len = 0;
    const char *end = NULL;
    fr_err rc = FR_EINVAL;

    if (!hex || len != FR_CRYPTO_HEX_KEY_CHARS)
        return FR_EINVAL;
    /* sodium_hex2bin runs in constant time, which matters for secret keys;
     * it stops at the first non-hex character, so check where it ended. */
    if (sodium_hex2bin(tmp, sizeof tmp, hex, len, NULL, &bin_len, &end) == 0 &&
        bin_len == sizeof tmp && end == hex + len) {
        memcpy(key_out, tmp, sizeof tmp);
        rc = FR_OK;
    }
    sodium_memzero(tmp, sizeof tmp);
    return rc;
}

void
fr_crypto_key_to_hex(const uint8_t key[32], char hex_out[65])
{
    sodium_bin2hex(hex_out, 65, key, 32);
}

/* ---- secret hex files (crypto_int.h) ---------------------------------- */

fr_err
fr_crypto_parse_hex_line(const char *text, size_t len, uint8_t *out, size_t n)
{
    uint8_t tmp[32];
    size_t hex_len = 2 * n, bin_len = 0;
    const char *end = NULL;
    fr_err rc = FR_EINVAL;

    FR_ASSERT(n <= sizeof tmp);
    if (!(len == hex_len || (len == hex_len + 1 && text[hex_len] == '\n') ||
          (len == hex_len + 2 && text[hex_len] == '\r' &&
           text[hex_len + 1] == '\n')))
        return FR_EINVAL;
    /* sodium_hex2bin runs in constant time, which matters for secret keys;
     * it stops at the first non-hex character, so check where it ended. */
    if (sodium_hex2bin(tmp, n, text, hex_len, NULL, &bin_len, &end) == 0 &&
        bin_len == n && end == text + hex_len) {
        memcpy(out, tmp, n);
        rc = FR_OK;
    }
    sodium_memzero(tmp, sizeof tmp);
    return rc;
}

/* Reads up to cap bytes of an open file; FR_ELIMIT if there is more. */
static fr_err
read_small_fd(int fd, char *buf, size_t cap, size_t *len_out)
{
    size_t got = 0;

    for (;;) {
        ssize_t n = read(fd, buf + got, cap - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return fr_err_from_errno(errno);
        if (n == 0)
            break;
        got += (size_t)n;
        if (got == cap)
            return FR_ELIMIT;
    }
    *len_out = got;
    return FR_OK;
}

/* Opens a secret file and checks that only its owner can access it: a key
 * file that others can write is as bad as one they can read, since whoever
 * plants a key reads everything protected by it afterwards. */
static fr_err
open_owner_only(const char *path, const char *tag, const char *what,
                int *fd_out)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return fr_err_from_errno(errno);
    if (fstat(fd, &st) != 0) {
        fr_err rc = fr_err_from_errno(errno);
        close(fd);
        return rc;
    }
    if (!S_ISREG(st.st_mode)) {
        fr_log_err(tag, "%s %s is not a regular file", what, path);
        close(fd);
        return FR_EINVAL;
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        fr_log_err(tag,
                   "%s %s has mode %04o; refusing it because group "
                   "or others have access (run chmod 600)",
                   what, path, (unsigned)(st.st_mode & 07777));
        close(fd);
        return FR_EAUTH;
    }
    *fd_out = fd;
    return FR_OK;
}

fr_err
fr_crypto_read_secret_hex(const char *path, const char *tag, const char *what,
                          uint8_t *out, size_t n)
{
    char text[FR_CRYPTO_HEX_FILE_MAX];
    size_t len = 0;
    int fd = -1;
    fr_err rc;

    rc = open_owner_only(path, tag, what, &fd);
    if (rc)
        goto out;
    rc = read_small_fd(fd, text, sizeof text, &len);
    if (rc && rc != FR_ELIMIT)
        goto out;
    /* A file far too long to be a key file (FR_ELIMIT above) has len 0. */
    rc = fr_crypto_parse_hex_line(text, len, out, n);
    if (rc)
        fr_log_err(tag,
                   "%s %s is malformed (expected %d hex characters and a "
                   "newline)",
                   what, path, (int)(2 * n));
out:
    sodium_memzero(text, sizeof text);
    if (fd >= 0)
        close(fd);
    return rc;
}

/* Reads a secret key file (owner-only access, 64 hex characters). */
static fr_err
read_secret_key(const char *path, uint8_t key_out[32])
{
    return fr_crypto_read_secret_hex(path, TAG, "secret key", key_out, 32);
}

fr_err
fr_crypto_keypair_load(const char *secret_path, fr_crypto_keypair **out)
{
    fr_crypto_keypair *kp = NULL;
    fr_err rc;

    rc = keypair_alloc(&kp);
    if (rc)
        goto out;
    rc = read_secret_key(secret_path, kp->sk);
    if (rc)
        goto out;
    if (crypto_scalarmult_base(kp->pk, kp->sk) != 0) {
        rc = FR_EINVAL;
        goto out;
    }
    keypair_seal(kp);
    *out = kp;
    kp = NULL;
out:
    fr_crypto_keypair_destroy(&kp);
    return rc;
}

/* Returns FR_OK if nothing exists at path, FR_ESTATE if something does. */
static fr_err
check_absent(const char *path)
{
    struct stat st;

    if (lstat(path, &st) == 0)
        return FR_ESTATE;
    return errno == ENOENT ? FR_OK : fr_err_from_errno(errno);
}

/* Writes base+key_sfx (secret as hex, 0600) and base+pub_sfx (public as
 * hex, 0644), each atomically; FR_ESTATE if base+key_sfx exists and
 * !overwrite. The hex of the secret is wiped. */
static fr_err
save_key_files(const char *base, const char *key_sfx, const char *pub_sfx,
               const uint8_t secret[32], const uint8_t pub[32], int overwrite)
{
    char key_path[PATH_MAX], pub_path[PATH_MAX];
    char hex[FR_CRYPTO_HEX_KEY_CHARS + 2]; /* hex, '\n', NUL */
    fr_err rc;

    if (snprintf(key_path, sizeof key_path, "%s%s", base, key_sfx) >=
            (int)sizeof key_path ||
        snprintf(pub_path, sizeof pub_path, "%s%s", base, pub_sfx) >=
            (int)sizeof pub_path)
        return FR_ELIMIT;
    /* The check and the rename inside fr_file_write_atomic are not one step;
     * this guards against operator mistakes, not against a racing writer. */
    if (!overwrite && (rc = check_absent(key_path)) != FR_OK)
        return rc;

    fr_crypto_key_to_hex(secret, hex);
    hex[FR_CRYPTO_HEX_KEY_CHARS] = '\n';
    hex[FR_CRYPTO_HEX_KEY_CHARS + 1] = '\0';
    rc = fr_file_write_atomic(key_path, hex, FR_CRYPTO_HEX_KEY_CHARS + 1, 0600);
    sodium_memzero(hex, sizeof hex);
    if (rc)
        return rc;

    fr_crypto_key_to_hex(pub, hex);
    hex[FR_CRYPTO_HEX_KEY_CHARS] = '\n';
    return fr_file_write_atomic(pub_path, hex, FR_CRYPTO_HEX_KEY_CHARS + 1,
                                0644);
}

fr_err
fr_crypto_keypair_save(const fr_crypto_keypair *kp, const char *base,
                       int overwrite)
{
    if (!kp || !base)
        return FR_EINVAL;
    return save_key_files(base, ".key", ".pub", kp->sk, kp->pk, overwrite);
}

/* ---- identity (Ed25519) keys ------------------------------------------- */

static fr_err
signkey_alloc(fr_crypto_signkey **out)
{
    void *p = NULL;
    fr_err rc = fr_crypto_guarded_alloc(sizeof **out, &p);

    if (rc == FR_OK)
        *out = p;
    return rc;
}

fr_err
fr_crypto_signkey_generate(fr_crypto_signkey **out)
{
    fr_crypto_signkey *k = NULL;
    fr_err rc = signkey_alloc(&k);

    if (rc)
        return rc;
    if (crypto_sign_keypair(k->pk, k->sk) != 0) {
        sodium_free(k);
        return FR_ESYS;
    }
    (void)sodium_mprotect_readonly(k);
    *out = k;
    return FR_OK;
}

fr_err
fr_crypto_signkey_load(const char *secret_path, fr_crypto_signkey **out)
{
    uint8_t seed[crypto_sign_SEEDBYTES];
    fr_crypto_signkey *k = NULL;
    fr_err rc;

    rc = signkey_alloc(&k);
    if (rc)
        goto out;
    rc = read_secret_key(secret_path, seed);
    if (rc)
        goto out;
    /* libsodium's seed_keypair cannot take the seed inside sk (it hashes
     * into sk before copying the seed), hence the stack copy. */
    if (crypto_sign_seed_keypair(k->pk, k->sk, seed) != 0) {
        rc = FR_EINVAL;
        goto out;
    }
    (void)sodium_mprotect_readonly(k);
    *out = k;
    k = NULL;
out:
    sodium_memzero(seed, sizeof seed);
    fr_crypto_signkey_destroy(&k);
    return rc;
}

fr_err
fr_crypto_signkey_save(const fr_crypto_signkey *k, const char *base,
                       int overwrite)
{
    uint8_t seed[crypto_sign_SEEDBYTES];
    fr_err rc;

    if (!k || !base)
        return FR_EINVAL;
    crypto_sign_ed25519_sk_to_seed(seed, k->sk);
    rc = save_key_files(base, ".sign.key", ".sign.pub", seed, k->pk, overwrite);
    sodium_memzero(seed, sizeof seed);
    return rc;
}

void
fr_crypto_signkey_destroy(fr_crypto_signkey **kp)
{
    if (!kp || !*kp)
        return;
    sodium_free(*kp); /* restores write access, zeroes, unmaps */
    *kp = NULL;
}

const uint8_t *
fr_crypto_signkey_public(const fr_crypto_signkey *k)
{
    return k->pk;
}

void
fr_crypto_sign(const fr_crypto_signkey *k, const void *msg, size_t len,
               uint8_t sig_out[FR_CRYPTO_SIG_BYTES])
{
    static const uint8_t empty[1];

    FR_ASSERT(k && sig_out && (msg || len == 0));
    /* Ed25519 signing with a valid key has no failure case. */
    (void)crypto_sign_detached(sig_out, NULL, msg ? msg : empty, len, k->sk);
}

fr_err
fr_crypto_verify(const uint8_t pk[FR_CRYPTO_PK_BYTES], const void *msg,
                 size_t len, const uint8_t sig[FR_CRYPTO_SIG_BYTES])
{
    static const uint8_t empty[1];

    if (!pk || !sig || (!msg && len != 0))
        return FR_EAUTH;
    return crypto_sign_verify_detached(sig, msg ? msg : empty, len, pk) == 0
               ? FR_OK
               : FR_EAUTH;
}

fr_err
fr_crypto_public_load(const char *path, uint8_t pk_out[FR_CRYPTO_PK_BYTES])
{
    uint8_t *buf = NULL;
    size_t len = 0;
    fr_err rc = fr_file_read_all(path, FR_CRYPTO_HEX_FILE_MAX, &buf, &len);

    if (rc && rc != FR_ELIMIT)
        return rc;
    /* Far too long to be a key file: parsing nothing reports it malformed. */
    rc = buf ? fr_crypto_parse_hex_line((const char *)buf, len, pk_out,
                                       FR_CRYPTO_PK_BYTES)
             : FR_EINVAL;
    if (rc)
        fr_log_err(TAG, "public key %s is malformed (expected %d hex "
                        "characters and a newline)",
                   path, FR_CRYPTO_HEX_KEY_CHARS);
    free(buf);
    return rc;
}

void
fr_crypto_fingerprint(const uint8_t pk[FR_CRYPTO_PK_BYTES],
                      char out[FR_CRYPTO_FPR_CHARS + 1])
{
    uint8_t h[FPR_HASH_BYTES];

    crypto_generichash(h, sizeof h, pk, FR_CRYPTO_PK_BYTES, NULL, 0);
    sodium_bin2hex(out, FR_CRYPTO_FPR_CHARS + 1, h, FR_CRYPTO_FPR_CHARS / 2);
}

void
fr_crypto_hash(uint8_t *out, size_t out_len, const void *in, size_t in_len)
{
    FR_ASSERT(out_len >= crypto_generichash_BYTES_MIN &&
              out_len <= crypto_generichash_BYTES_MAX);
    crypto_generichash(out, out_len, in, in_len, NULL, 0);
}

void
fr_crypto_random(void *buf, size_t len)
{
    randombytes_buf(buf, len);
}

uint64_t
fr_crypto_random_u64(void)
{
    uint64_t v;

    randombytes_buf(&v, sizeof v);
    return v;
}

void
fr_crypto_wipe(void *p, size_t len)
{
    sodium_memzero(p, len);
}

int
fr_crypto_memcmp(const void *a, const void *b, size_t len)
{
    return sodium_memcmp(a, b, len);
}
