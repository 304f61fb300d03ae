/*
 * seal.h - encryption at rest for the store client: data keys, sealed files
 * and keyed pseudonyms.
 *
 * A store keeps one 32-byte data key, either in a key file (64 hex chars and
 * '\n', mode 0600, made once by fr_seal_key_create_file) or derived from an
 * operator's passphrase with Argon2id and a per-store salt file. Every file
 * the store writes that holds member data is sealed under a subkey of it.
 *
 * Sealed file / blob layout (all of it authenticated):
 *   offset 0   "FRSL"         magic
 *          4   u8  version    1
 *          5   u8  reserved   0
 *          6   u16 kind       little-endian; the caller's record type
 *          8   24-byte nonce  random per seal
 *         32   ciphertext || 16-byte tag   XChaCha20-Poly1305-IETF
 * The AEAD key is crypto_kdf_derive_from_key(subkey id = kind, context
 * "frstore1") of the data key, and the associated data is the 8-byte header
 * followed by the label (the file's role, e.g. "members"), so a sealed file
 * copied over a file of another role, or of another kind, is refused.
 *
 * Thread safety: a fr_seal_key is read-only once made, so any number of
 * threads may seal and open with the same key at once.
 */
#ifndef FR_CRYPTO_SEAL_H
#define FR_CRYPTO_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "../base/err.h"

#define FR_SEAL_SALT_BYTES 16
/* Header (8) + nonce (24) + tag (16): a sealed blob is this much longer than
 * its plaintext. */
#define FR_SEAL_OVERHEAD (8 + 24 + 16)
/* Longest label accepted, in bytes (labels are role names, not data). */
#define FR_SEAL_LABEL_MAX  255
#define FR_PSEUDONYM_CHARS 32

/*
 * The 32-byte data key in sodium_malloc'd, guarded memory, read-only except
 * while it is being set. Opaque; made by _load_file or _from_passphrase,
 * released (wiped) by _destroy.
 */
typedef struct fr_seal_key fr_seal_key;

/* Makes a fresh random data key and writes it to path as 64 hex characters
 * and '\n', mode 0600, atomically. FR_ESTATE if anything exists at path: a
 * data key is never overwritten, even by a concurrent creator. The key only
 * passes through wiped stack memory; load it with fr_seal_key_load_file. */
FR_NODISCARD fr_err fr_seal_key_create_file(const char *path);

/* Loads a data key file. FR_EAUTH if group or others have any access to it
 * (logged with the path and the mode), FR_EINVAL if malformed, FR_ENOENT if
 * missing. The file's bytes are wiped from memory before returning; *out is
 * set only on success and owned by the caller. */
FR_NODISCARD fr_err fr_seal_key_load_file(const char *path, fr_seal_key **out);

/* Derives the data key from a passphrase (len bytes, not NUL-terminated)
 * with Argon2id v1.3 (libsodium's interactive limits: 2 passes, 64 MiB) and
 * salt. FR_EINVAL for an empty passphrase; FR_ENOMEM if Argon2 cannot get
 * its memory. Takes ~0.1 s. The caller wipes pass; *out as above. */
FR_NODISCARD fr_err fr_seal_key_from_passphrase(
    const char *pass, size_t len, const uint8_t salt[FR_SEAL_SALT_BYTES],
    fr_seal_key **out);

/* Writes a fresh random salt to path (32 hex characters and '\n', mode 0600,
 * atomically); FR_ESTATE if anything exists at path. */
FR_NODISCARD fr_err fr_seal_salt_create_file(const char *path);

/* Loads a salt file (any mode: a salt is not secret). FR_EINVAL if
 * malformed, FR_ENOENT if missing; salt is written only on success. */
FR_NODISCARD fr_err fr_seal_salt_load(const char *path,
                                      uint8_t salt[FR_SEAL_SALT_BYTES]);

/* Wipes the key and frees; accepts NULL; sets *kp to NULL. */
void fr_seal_key_destroy(fr_seal_key **kp);

/* Seals len bytes of plain (may be NULL if len is 0) and writes the result
 * to path with fr_file_write_atomic (temp file, fsync, rename, fsync of the
 * directory), mode 0600. On failure path is unchanged. label is a
 * NUL-terminated role name of at most FR_SEAL_LABEL_MAX bytes (FR_EINVAL
 * otherwise). The AEAD subkey is wiped before returning. */
FR_NODISCARD fr_err fr_seal_write(const fr_seal_key *k, uint16_t kind,
                                  const char *label, const char *path,
                                  const void *plain, size_t len);

/* Reads and opens a sealed file written by fr_seal_write with the same key,
 * kind and label. On success *plain_out is a malloc'd buffer the caller
 * owns (wipe it with fr_crypto_wipe, then free; an empty plaintext gives a
 * non-NULL 1-byte allocation) and *len_out its length. FR_ENOENT if missing;
 * FR_ELIMIT if the plaintext would be longer than max_len; FR_EPROTO if the
 * header is wrong (too short, bad magic, unknown version, another kind);
 * FR_EAUTH if authentication fails (any changed byte, wrong key, wrong
 * label). The outputs are untouched on failure: never partial data. */
FR_NODISCARD fr_err fr_seal_read(const fr_seal_key *k, uint16_t kind,
                                 const char *label, const char *path,
                                 size_t max_len, uint8_t **plain_out,
                                 size_t *len_out);

/* The same in memory, for callers that seal blobs themselves (e.g. inside
 * another file). out must have room for len + FR_SEAL_OVERHEAD bytes and
 * must not overlap plain. */
FR_NODISCARD fr_err fr_seal_buf(const fr_seal_key *k, uint16_t kind,
                                const char *label, const void *plain,
                                size_t len, uint8_t *out);

/* Opens a blob made by fr_seal_buf into plain_out, which must have room for
 * in_len - FR_SEAL_OVERHEAD bytes. Errors as fr_seal_read (FR_EPROTO if
 * in_len < FR_SEAL_OVERHEAD). The tag is verified before anything is
 * decrypted; on failure plain_out is zeroed. */
FR_NODISCARD fr_err fr_open_buf(const fr_seal_key *k, uint16_t kind,
                                const char *label, const uint8_t *in,
                                size_t in_len, uint8_t *plain_out);

/* Keyed pseudonym of id (id_len bytes): BLAKE2b-128 keyed with the 32-byte
 * pseudonym key, as 32 lowercase hex characters and a NUL. Deterministic for
 * a key and unlinkable across keys. The pseudonym key is itself random and
 * kept sealed by the caller. Cannot fail; thread-safe. */
void fr_pseudonym(const uint8_t key[32], const char *id, size_t id_len,
                  char out[FR_PSEUDONYM_CHARS + 1]);

#endif
