/*
 * seal.c - data keys, sealed files and keyed pseudonyms for encryption at
 * rest (see seal.h for the format).
 *
 * The data key lives in one sodium_malloc'd block (guard pages, mlock'd
 * where the system allows, wiped by sodium_free) that is read-only once
 * set. Per-kind AEAD subkeys and hex copies of keys live on the stack only
 * for one call and are wiped on every path out.
 *
 * Key and salt files are never replaced: they are written in full under a
 * random sibling name with fr_file_write_atomic, then published with link(),
 * which fails with EEXIST where rename() would silently overwrite. Losing a
 * data key loses every file sealed under it, so this holds even against a
 * second process creating the same key at the same moment.
 *
 * The data key file is read by fr_crypto_read_secret_hex (crypto.c), which
 * checks its mode and reads it on one descriptor.
 */
#include "seal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "../base/log.h"
#include "../base/util.h"
#include "crypto.h"
#include "crypto_int.h"

#define TAG          "seal"
#define KEY_BYTES    32
#define HDR_BYTES    8
#define NONCE_BYTES  crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define SEAL_VERSION 1

_Static_assert(KEY_BYTES == crypto_kdf_KEYBYTES, "data key is a KDF key");
_Static_assert(KEY_BYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
               "subkeys are XChaCha20-Poly1305 keys");
_Static_assert(KEY_BYTES >= crypto_kdf_BYTES_MIN &&
                   KEY_BYTES <= crypto_kdf_BYTES_MAX,
               "KDF can derive an AEAD key");
_Static_assert(KEY_BYTES >= crypto_pwhash_BYTES_MIN,
               "Argon2 can derive a data key");
_Static_assert(FR_SEAL_SALT_BYTES == crypto_pwhash_SALTBYTES,
               "salt size must match crypto_pwhash");
_Static_assert(FR_SEAL_OVERHEAD ==
                   HDR_BYTES + NONCE_BYTES +
                       crypto_aead_xchacha20poly1305_ietf_ABYTES,
               "header, nonce and tag");
_Static_assert(FR_PSEUDONYM_CHARS == 2 * crypto_generichash_BYTES_MIN,
               "pseudonyms are BLAKE2b-128");
_Static_assert(KEY_BYTES >= crypto_generichash_KEYBYTES_MIN &&
                   KEY_BYTES <= crypto_generichash_KEYBYTES_MAX,
               "pseudonym key is a BLAKE2b key");
/* Keys derived from passphrases must stay the same across libsodium
 * releases, or stored data becomes unreadable: pin the interactive limits
 * (Argon2id v1.3, 2 passes, 64 MiB) that the data on disk was made with. */
_Static_assert(crypto_pwhash_OPSLIMIT_INTERACTIVE == 2,
               "Argon2id pass count of existing stores");
_Static_assert(crypto_pwhash_MEMLIMIT_INTERACTIVE == 67108864,
               "Argon2id memory of existing stores");

/* Exactly crypto_kdf_CONTEXTBYTES characters; the NUL is not used. */
static const char kdf_context[crypto_kdf_CONTEXTBYTES + 1] = "frstore1";
static const uint8_t magic[4] = {'F', 'R', 'S', 'L'};

struct fr_seal_key {
    uint8_t k[KEY_BYTES];
};

/* ---- files -------------------------------------------------------------- */

/* Returns FR_OK if nothing exists at path, FR_ESTATE if something does. */
static fr_err
check_absent(const char *path)
{
    struct stat st;

    if (lstat(path, &st) == 0)
        return FR_ESTATE;
    return errno == ENOENT ? FR_OK : fr_err_from_errno(errno);
}

/* Writes n bytes of bin as lowercase hex and '\n' to path, mode 0600,
 * never replacing anything at path (FR_ESTATE). The hex text is wiped. */
static fr_err
create_hex_file(const char *path, const uint8_t *bin, size_t n)
{
    char tmp[PATH_MAX], text[2 * KEY_BYTES + 2];
    char tag_hex[17];
    uint8_t tag[8];
    fr_err rc;

    FR_ASSERT(n <= KEY_BYTES);
    if (!path)
        return FR_EINVAL;
    if ((rc = check_absent(path)) != FR_OK)
        return rc;
    /* A random name, so two creators never share a temporary file. */
    randombytes_buf(tag, sizeof tag);
    sodium_bin2hex(tag_hex, sizeof tag_hex, tag, sizeof tag);
    if (snprintf(tmp, sizeof tmp, "%s.%s.new", path, tag_hex) >=
        (int)sizeof tmp)
        return FR_ELIMIT;
    sodium_bin2hex(text, sizeof text, bin, n);
    text[2 * n] = '\n';
    rc = fr_file_write_atomic(tmp, text, 2 * n + 1, 0600);
    sodium_memzero(text, sizeof text);
    if (rc)
        return rc;
    if (link(tmp, path) != 0) {
        int e = errno;

        rc = e == EEXIST ? FR_ESTATE : fr_err_from_errno(e);
        if (rc != FR_ESTATE)
            fr_log_err(TAG, "cannot create %s: %s", path, strerror(e));
    }
    if (unlink(tmp) != 0)
        fr_log_warn(TAG, "cannot remove temporary file %s: %s", tmp,
                    strerror(errno));
    return rc ? rc : fr_file_fsync_dir_of(path);
}

/* ---- keys --------------------------------------------------------------- */

/* Allocates a writable guarded key; the caller makes it read-only. */
static fr_err
key_alloc(fr_seal_key **out)
{
    void *p = NULL;
    fr_err rc = fr_crypto_guarded_alloc(sizeof **out, &p);

    if (rc == FR_OK)
        *out = p;
    return rc;
}

fr_err
fr_seal_key_create_file(const char *path)
{
    uint8_t key[KEY_BYTES];
    fr_err rc;

    if (fr_crypto_init() != FR_OK)
        return FR_ESYS;
    crypto_kdf_keygen(key);
    rc = create_hex_file(path, key, sizeof key);
    sodium_memzero(key, sizeof key);
    return rc;
}

fr_err
fr_seal_key_load_file(const char *path, fr_seal_key **out)
{
    fr_seal_key *k = NULL;
    fr_err rc;

    if (!path || !out)
        return FR_EINVAL;
    if ((rc = key_alloc(&k)) != FR_OK)
        goto out;
    rc = fr_crypto_read_secret_hex(path, TAG, "data key", k->k, KEY_BYTES);
    if (rc)
        goto out;
    (void)sodium_mprotect_readonly(k);
    *out = k;
    k = NULL;
out:
    fr_seal_key_destroy(&k);
    return rc;
}

fr_err
fr_seal_key_from_passphrase(const char *pass, size_t len,
                            const uint8_t salt[FR_SEAL_SALT_BYTES],
                            fr_seal_key **out)
{
    fr_seal_key *k = NULL;
    fr_err rc;

    if (!pass || len == 0 || !salt || !out)
        return FR_EINVAL;
    if (len > crypto_pwhash_PASSWD_MAX)
        return FR_EINVAL;
    if ((rc = key_alloc(&k)) != FR_OK)
        return rc;
    /* With fixed, valid limits the only failure left is Argon2 failing to
     * get its 64 MiB. */
    if (crypto_pwhash(k->k, sizeof k->k, pass, len, salt,
                      crypto_pwhash_OPSLIMIT_INTERACTIVE,
                      crypto_pwhash_MEMLIMIT_INTERACTIVE,
                      crypto_pwhash_ALG_ARGON2ID13) != 0) {
        fr_seal_key_destroy(&k);
        return FR_ENOMEM;
    }
    (void)sodium_mprotect_readonly(k);
    *out = k;
    return FR_OK;
}

fr_err
fr_seal_salt_create_file(const char *path)
{
    uint8_t salt[FR_SEAL_SALT_BYTES];

    if (fr_crypto_init() != FR_OK)
        return FR_ESYS;
    randombytes_buf(salt, sizeof salt);
    return create_hex_file(path, salt, sizeof salt);
}

fr_err
fr_seal_salt_load(const char *path, uint8_t salt[FR_SEAL_SALT_BYTES])
{
    uint8_t *text = NULL;
    size_t len = 0;
    fr_err rc;

    if (!path || !salt)
        return FR_EINVAL;
    rc = fr_file_read_all(path, FR_CRYPTO_HEX_FILE_MAX, &text, &len);
    if (rc && rc != FR_ELIMIT)
        return rc;
    /* Far too long to be a salt file: parsing nothing reports it. */
    rc = text
             ? fr_crypto_parse_hex_line((const char *)text, len, salt,
                                        FR_SEAL_SALT_BYTES)
             : FR_EINVAL;
    if (rc)
        fr_log_err(TAG,
                   "salt file %s is malformed (expected %d hex characters "
                   "and a newline)",
                   path, 2 * FR_SEAL_SALT_BYTES);
    free(text);
    return rc;
}

void
fr_seal_key_destroy(fr_seal_key **kp)
{
    if (!kp || !*kp)
        return;
    sodium_free(*kp); /* restores write access, zeroes, unmaps */
    *kp = NULL;
}

/* ---- sealing ------------------------------------------------------------ */

/* Associated data: the 8-byte header, then the label. */
static fr_err
make_ad(const uint8_t *hdr, const char *label,
        uint8_t ad[HDR_BYTES + FR_SEAL_LABEL_MAX], size_t *ad_len)
{
    size_t n;

    if (!label)
        return FR_EINVAL;
    n = strnlen(label, FR_SEAL_LABEL_MAX + 1);
    if (n > FR_SEAL_LABEL_MAX)
        return FR_EINVAL;
    memcpy(ad, hdr, HDR_BYTES);
    memcpy(ad + HDR_BYTES, label, n);
    *ad_len = HDR_BYTES + n;
    return FR_OK;
}

/* The per-kind AEAD key; the caller wipes it. */
static void
derive_subkey(const fr_seal_key *k, uint16_t kind, uint8_t sub[KEY_BYTES])
{
    /* Cannot fail: the lengths are checked at compile time above. */
    (void)crypto_kdf_derive_from_key(sub, KEY_BYTES, kind, kdf_context, k->k);
}

/* Checks magic, version, reserved byte and kind. path, if not NULL, names
 * the file in the log line saying what was wrong. */
static fr_err
check_header(const uint8_t *hdr, uint16_t kind, const char *path)
{
    uint16_t got = (uint16_t)(hdr[6] | (hdr[7] << 8));
    const char *what = NULL;

    if (memcmp(hdr, magic, sizeof magic) != 0)
        what = "not a sealed file (bad magic)";
    else if (hdr[4] != SEAL_VERSION)
        what = "unknown format version";
    else if (hdr[5] != 0)
        what = "reserved header byte set";
    else if (got != kind)
        what = "holds another kind of record";
    if (!what)
        return FR_OK;
    if (path)
        fr_log_warn(TAG, "sealed file %s: %s (version %u, kind %u, want %u)",
                    path, what, (unsigned)hdr[4], (unsigned)got,
                    (unsigned)kind);
    return FR_EPROTO;
}

fr_err
fr_seal_buf(const fr_seal_key *k, uint16_t kind, const char *label,
            const void *plain, size_t len, uint8_t *out)
{
    static const uint8_t empty[1];
    uint8_t ad[HDR_BYTES + FR_SEAL_LABEL_MAX], sub[KEY_BYTES];
    size_t ad_len = 0;
    fr_err rc;

    if (!k || !out || (!plain && len != 0))
        return FR_EINVAL;
    if (len > crypto_aead_xchacha20poly1305_ietf_MESSAGEBYTES_MAX ||
        len > SIZE_MAX - FR_SEAL_OVERHEAD)
        return FR_ELIMIT;
    memcpy(out, magic, sizeof magic);
    out[4] = SEAL_VERSION;
    out[5] = 0;
    out[6] = (uint8_t)(kind & 0xff);
    out[7] = (uint8_t)(kind >> 8);
    if ((rc = make_ad(out, label, ad, &ad_len)) != FR_OK)
        return rc;
    /* 192-bit random nonces: no counter to keep, no practical collision. */
    randombytes_buf(out + HDR_BYTES, NONCE_BYTES);
    derive_subkey(k, kind, sub);
    (void)crypto_aead_xchacha20poly1305_ietf_encrypt(
        out + HDR_BYTES + NONCE_BYTES, NULL, plain ? plain : empty, len, ad,
        ad_len, NULL, out + HDR_BYTES, sub);
    sodium_memzero(sub, sizeof sub);
    return FR_OK;
}

/* fr_open_buf, naming path (if not NULL) in the log when the header is
 * wrong. Authentication failures are left for the caller to log, with the
 * store id it knows and we do not. */
static fr_err
open_blob(const fr_seal_key *k, uint16_t kind, const char *label,
          const uint8_t *in, size_t in_len, uint8_t *plain_out,
          const char *path)
{
    uint8_t ad[HDR_BYTES + FR_SEAL_LABEL_MAX], sub[KEY_BYTES], dummy[1];
    size_t ad_len = 0;
    fr_err rc;
    int bad;

    if (!k || !in || (!plain_out && in_len > FR_SEAL_OVERHEAD))
        return FR_EINVAL;
    if (in_len < FR_SEAL_OVERHEAD) {
        if (path)
            fr_log_warn(TAG, "sealed file %s: %zu bytes, too short", path,
                        in_len);
        return FR_EPROTO;
    }
    if ((rc = make_ad(in, label, ad, &ad_len)) != FR_OK)
        return rc;
    if ((rc = check_header(in, kind, path)) != FR_OK)
        return rc;
    derive_subkey(k, kind, sub);
    /* libsodium checks the tag before decrypting and zeroes the output if
     * it does not match. */
    bad = crypto_aead_xchacha20poly1305_ietf_decrypt(
        plain_out ? plain_out : dummy, NULL, NULL, in + HDR_BYTES + NONCE_BYTES,
        in_len - HDR_BYTES - NONCE_BYTES, ad, ad_len, in + HDR_BYTES, sub);
    sodium_memzero(sub, sizeof sub);
    return bad ? FR_EAUTH : FR_OK;
}

fr_err
fr_open_buf(const fr_seal_key *k, uint16_t kind, const char *label,
            const uint8_t *in, size_t in_len, uint8_t *plain_out)
{
    return open_blob(k, kind, label, in, in_len, plain_out, NULL);
}

fr_err
fr_seal_write(const fr_seal_key *k, uint16_t kind, const char *label,
              const char *path, const void *plain, size_t len)
{
    uint8_t *blob = NULL;
    fr_err rc;

    if (!path)
        return FR_EINVAL;
    if (len > SIZE_MAX - FR_SEAL_OVERHEAD)
        return FR_ELIMIT;
    blob = malloc(len + FR_SEAL_OVERHEAD);
    if (!blob)
        return FR_ENOMEM;
    rc = fr_seal_buf(k, kind, label, plain, len, blob);
    if (rc == FR_OK)
        rc = fr_file_write_atomic(path, blob, len + FR_SEAL_OVERHEAD, 0600);
    free(blob); /* ciphertext only: nothing to wipe */
    return rc;
}

fr_err
fr_seal_read(const fr_seal_key *k, uint16_t kind, const char *label,
             const char *path, size_t max_len, uint8_t **plain_out,
             size_t *len_out)
{
    uint8_t *blob = NULL, *plain = NULL;
    size_t blob_len = 0, n = 0;
    /* fr_file_read_all allocates one byte more than its limit. */
    size_t cap = max_len > SIZE_MAX - 1 - FR_SEAL_OVERHEAD
                     ? SIZE_MAX - 1
                     : max_len + FR_SEAL_OVERHEAD;
    fr_err rc;

    if (!k || !path || !plain_out || !len_out)
        return FR_EINVAL;
    rc = fr_file_read_all(path, cap, &blob, &blob_len);
    if (rc)
        goto out;
    n = blob_len < FR_SEAL_OVERHEAD ? 0 : blob_len - FR_SEAL_OVERHEAD;
    /* One byte at least, so an empty plaintext is still a buffer. */
    plain = malloc(n ? n : 1);
    if (!plain) {
        rc = FR_ENOMEM;
        goto out;
    }
    rc = open_blob(k, kind, label, blob, blob_len, plain, path);
    if (rc)
        goto out;
    *plain_out = plain;
    *len_out = n;
    plain = NULL;
out:
    if (plain)
        sodium_memzero(plain, n ? n : 1);
    free(plain);
    free(blob);
    return rc;
}

/* ---- pseudonyms --------------------------------------------------------- */

void
fr_pseudonym(const uint8_t key[32], const char *id, size_t id_len,
             char out[FR_PSEUDONYM_CHARS + 1])
{
    static const uint8_t empty[1];
    uint8_t h[FR_PSEUDONYM_CHARS / 2];

    FR_ASSERT(key && out && (id || id_len == 0));
    (void)crypto_generichash(h, sizeof h, id ? (const uint8_t *)id : empty,
                             id_len, key, KEY_BYTES);
    sodium_bin2hex(out, FR_PSEUDONYM_CHARS + 1, h, sizeof h);
}
