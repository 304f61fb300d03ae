/*
 * crypto.h - the only module that includes <sodium.h>.
 *
 * Key files, key fingerprints, hashing and secure randomness. Transport
 * security itself is ZeroMQ CURVE (net/), which uses the Curve25519 key pairs
 * made and loaded here.
 *
 * Key file format: one line, 64 lowercase hex characters, then '\n'.
 *   NAME.key   secret key, mode 0600 (refused at load if group/other can read)
 *   NAME.pub   public key, mode 0644
 * Allow-list lines are "STORE_NAME HEX_PUBLIC_KEY".
 */
#ifndef FR_CRYPTO_CRYPTO_H
#define FR_CRYPTO_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "../base/err.h"

#define FR_CRYPTO_PK_BYTES 32
#define FR_CRYPTO_SK_BYTES 32
#define FR_CRYPTO_HEX_KEY_CHARS 64
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
