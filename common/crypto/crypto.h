/*
 * crypto.h - key files, key fingerprints, signatures, hashing and secure
 * randomness on top of libsodium.
 *
 * This module alone includes <sodium.h>. The primitives other modules build
 * on (X25519 agreement, AEAD and the stream PRG for secure aggregation,
 * BLAKE2b and guarded memory for dp/, hex for both) are in prim.h; key
 * files and signatures stay here. Transport security itself is ZeroMQ CURVE
 * (net/), which uses the Curve25519 key pairs made and loaded here.
 *
 * Each store (and the aggregator) has two long-term keys:
 *   - a Curve25519 key pair for the CURVE transport (fr_crypto_keypair);
 *   - an Ed25519 identity key (fr_crypto_signkey), with which the
 *     secure-aggregation protocol signs its per-round keys.
 *
 * Key file format: one line, 64 lowercase hex characters, then '\n'.
 *   NAME.key        CURVE secret key, mode 0600 (refused at load if group or
 *                   others have access)
 *   NAME.pub        CURVE public key, mode 0644
 *   NAME.sign.key   Ed25519 identity secret: the 32-byte seed, mode 0600
 *                   (checked like NAME.key)
 *   NAME.sign.pub   Ed25519 identity public key, mode 0644
 * Allow-list lines (net/) are
 * "STORE_NAME HEX_CURVE_PUBLIC_KEY [HEX_ED25519_PUBLIC_KEY]".
 */
#ifndef FR_CRYPTO_CRYPTO_H
#define FR_CRYPTO_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "../base/err.h"

#define FR_CRYPTO_PK_BYTES 32
#define FR_CRYPTO_SK_BYTES 32
#define FR_CRYPTO_HEX_KEY_CHARS 64
/* Ed25519 detached signature. */
#define FR_CRYPTO_SIG_BYTES 64
/* Fingerprint: first 8 bytes of BLAKE2b-256(public key), as 16 hex chars. */
#define FR_CRYPTO_FPR_CHARS 16

/* Initialises libsodium; call once before anything else here. Thread-safe. */
FR_NODISCARD fr_err fr_crypto_init(void);

/*
 * A Curve25519 key pair in sodium_malloc'd, guarded memory. Opaque; made by
 * _generate or _load, released (secret wiped) by _destroy.
 */
typedef struct fr_crypto_keypair fr_crypto_keypair;

FR_NODISCARD fr_err fr_crypto_keypair_generate(fr_crypto_keypair **out);

/* Loads a secret key file and derives its public key. FR_EAUTH if the file
 * is readable by group or others, FR_EINVAL if malformed, FR_ENOENT if
 * missing. The file's bytes are wiped from memory before returning. */
FR_NODISCARD fr_err fr_crypto_keypair_load(const char *secret_path,
                                           fr_crypto_keypair **out);

/* Writes base.key (0600) and base.pub (0644) atomically. Refuses to overwrite
 * an existing base.key (FR_ESTATE) unless overwrite is non-zero. */
FR_NODISCARD fr_err fr_crypto_keypair_save(const fr_crypto_keypair *kp,
                                           const char *base, int overwrite);

/* Wipes the secret and frees; accepts NULL; sets *kpp to NULL. */
void fr_crypto_keypair_destroy(fr_crypto_keypair **kpp);

/* Borrowed views valid until destroy. The secret view must never be logged
 * or copied into unguarded memory longer than a call. */
const uint8_t *fr_crypto_keypair_public(const fr_crypto_keypair *kp);
const uint8_t *fr_crypto_keypair_secret(const fr_crypto_keypair *kp);

/*
 * An Ed25519 identity (signing) key in sodium_malloc'd, guarded memory,
 * read-only once made. Opaque; made by _generate or _load, released (secret
 * wiped) by _destroy. Safe to use from several threads at once (nothing
 * writes to it after it is made).
 */
typedef struct fr_crypto_signkey fr_crypto_signkey;

FR_NODISCARD fr_err fr_crypto_signkey_generate(fr_crypto_signkey **out);

/* Loads an identity secret file (the 32-byte seed as hex) and derives the
 * key. Same rules as fr_crypto_keypair_load: FR_EAUTH if group or others
 * can access the file, FR_EINVAL if malformed, FR_ENOENT if missing; the
 * file's bytes are wiped from memory before returning. */
FR_NODISCARD fr_err fr_crypto_signkey_load(const char *secret_path,
                                           fr_crypto_signkey **out);

/* Writes base.sign.key (the seed, 0600) and base.sign.pub (0644), each
 * atomically. Refuses to overwrite an existing base.sign.key (FR_ESTATE)
 * unless overwrite is non-zero. */
FR_NODISCARD fr_err fr_crypto_signkey_save(const fr_crypto_signkey *k,
                                           const char *base, int overwrite);

/* Wipes the secret and frees; accepts NULL; sets *kp to NULL. */
void fr_crypto_signkey_destroy(fr_crypto_signkey **kp);

/* Borrowed view of the FR_CRYPTO_PK_BYTES-byte public key, valid until
 * destroy. */
const uint8_t *fr_crypto_signkey_public(const fr_crypto_signkey *k);

/* Ed25519 detached signature of msg (len bytes; msg may be NULL if len is
 * 0) into sig_out. Deterministic; cannot fail. */
void fr_crypto_sign(const fr_crypto_signkey *k, const void *msg, size_t len,
                    uint8_t sig_out[FR_CRYPTO_SIG_BYTES]);

/* Checks an Ed25519 detached signature of msg under pk. FR_OK if valid,
 * FR_EAUTH otherwise (including a malformed or small-order pk). All inputs
 * may come from the network. */
FR_NODISCARD fr_err fr_crypto_verify(const uint8_t pk[FR_CRYPTO_PK_BYTES],
                                     const void *msg, size_t len,
                                     const uint8_t sig[FR_CRYPTO_SIG_BYTES]);

/* Loads a public key file (any mode). */
FR_NODISCARD fr_err fr_crypto_public_load(const char *path,
                                          uint8_t pk_out[FR_CRYPTO_PK_BYTES]);

/* Parses exactly 64 hex characters. */
FR_NODISCARD fr_err fr_crypto_key_from_hex(const char *hex, size_t len,
                                           uint8_t key_out[32]);
/* Writes 64 hex characters and a NUL. */
void fr_crypto_key_to_hex(const uint8_t key[32], char hex_out[65]);

/* Short, non-secret identifier of a public key for logs. */
void fr_crypto_fingerprint(const uint8_t pk[FR_CRYPTO_PK_BYTES],
                           char out[FR_CRYPTO_FPR_CHARS + 1]);

/* BLAKE2b of in, out_len in [16, 64]. */
void fr_crypto_hash(uint8_t *out, size_t out_len, const void *in,
                    size_t in_len);

/* Cryptographically secure random bytes / integer. */
void fr_crypto_random(void *buf, size_t len);
uint64_t fr_crypto_random_u64(void);

/* sodium_memzero, for callers outside this module. */
void fr_crypto_wipe(void *p, size_t len);

/* Constant-time comparison; 0 when equal. */
int fr_crypto_memcmp(const void *a, const void *b, size_t len);

#endif
