/*
 * prim.h - the cryptographic primitives other modules build protocols from:
 * guarded memory, incremental and keyed BLAKE2b, the ChaCha20 stream,
 * X25519, XChaCha20-Poly1305 and hex. Thin wrappers over libsodium, so that
 * <sodium.h> is included by common/crypto alone and a module that needs a
 * primitive (secagg/, dp/, net/, the client and the aggregator) names it
 * through fr_crypto_*. Nothing here is a new construction: each function is
 * one libsodium call, with its failure mapped to fr_err.
 */
#ifndef FR_CRYPTO_PRIM_H
#define FR_CRYPTO_PRIM_H

#include <stddef.h>
#include <stdint.h>

#include "../base/err.h"

/* ChaCha20 (original construction, 64-bit nonce and block counter). */
#define FR_CRYPTO_STREAM_KEY_BYTES 32
#define FR_CRYPTO_STREAM_NONCE_BYTES 8
/* XChaCha20-Poly1305 (IETF). */
#define FR_CRYPTO_AEAD_KEY_BYTES 32
#define FR_CRYPTO_AEAD_NONCE_BYTES 24
#define FR_CRYPTO_AEAD_TAG_BYTES 16
/* X25519 scalars and points. */
#define FR_CRYPTO_X25519_BYTES 32

/*
 * Guarded memory (guard pages, locked, wiped on free). Initialises the
 * library if needed. NULL if the library cannot start or memory is short.
 */
void *fr_crypto_secure_alloc(size_t len);
/* Wipes and frees; accepts NULL. */
void fr_crypto_secure_free(void *p);

/* 1 if all len bytes are zero, in constant time; 0 otherwise. */
int fr_crypto_is_zero(const void *p, size_t len);

/*
 * Incremental BLAKE2b. The state is opaque storage large and aligned enough
 * for libsodium's (checked at compile time in prim.c). out_len in [1, 64],
 * the same at _init and _final (BLAKE2b takes any length up to 64; below 16
 * only for values that need no collision resistance, such as a public seed
 * derived from a round id). Outside the range is a contract violation.
 */
typedef struct fr_crypto_hash_state {
    _Alignas(64) unsigned char opaque[384];
} fr_crypto_hash_state;

void fr_crypto_hash_init(fr_crypto_hash_state *st, size_t out_len);
void fr_crypto_hash_update(fr_crypto_hash_state *st, const void *in,
                           size_t len);
/* Writes the digest and wipes the state. */
void fr_crypto_hash_final(fr_crypto_hash_state *st, uint8_t *out,
                          size_t out_len);

/* Keyed BLAKE2b: out_len in [16, 64], key_len in [16, 64]. */
void fr_crypto_hash_keyed(uint8_t *out, size_t out_len, const void *in,
                          size_t in_len, const uint8_t *key, size_t key_len);

/*
 * out = in XOR ChaCha20(key, nonce) starting at 64-byte block ic. out and
 * in may be the same buffer. Cannot fail.
 */
void fr_crypto_stream_xor_ic(uint8_t *out, const uint8_t *in, size_t len,
                             const uint8_t nonce[FR_CRYPTO_STREAM_NONCE_BYTES],
                             uint64_t ic,
                             const uint8_t key[FR_CRYPTO_STREAM_KEY_BYTES]);

/* A fresh X25519 key pair from the system CSPRNG. */
void fr_crypto_x25519_keypair(uint8_t pk_out[FR_CRYPTO_X25519_BYTES],
                              uint8_t sk_out[FR_CRYPTO_X25519_BYTES]);
/* pk = sk * base point. */
void fr_crypto_x25519_base(uint8_t pk_out[FR_CRYPTO_X25519_BYTES],
                           const uint8_t sk[FR_CRYPTO_X25519_BYTES]);
/* Shared point sk * pk. FR_EAUTH if pk is of small order (the result would
 * be all zeros); out is then unspecified and must not be used. pk may come
 * from the network. */
FR_NODISCARD fr_err fr_crypto_x25519(uint8_t out[FR_CRYPTO_X25519_BYTES],
                                     const uint8_t sk[FR_CRYPTO_X25519_BYTES],
                                     const uint8_t pk[FR_CRYPTO_X25519_BYTES]);

/* XChaCha20-Poly1305: ct_out receives len + FR_CRYPTO_AEAD_TAG_BYTES bytes
 * (ciphertext, then tag). ad may be NULL when ad_len is 0. */
void fr_crypto_aead_encrypt(uint8_t *ct_out, const uint8_t *pt, size_t len,
                            const uint8_t *ad, size_t ad_len,
                            const uint8_t nonce[FR_CRYPTO_AEAD_NONCE_BYTES],
                            const uint8_t key[FR_CRYPTO_AEAD_KEY_BYTES]);
/* Opens ct (ct_len bytes, tag included) into pt_out (ct_len - tag bytes).
 * FR_EAUTH if the tag does not verify or ct_len is shorter than a tag;
 * pt_out is then unspecified and must not be used. ct may come from the
 * network. */
FR_NODISCARD fr_err
fr_crypto_aead_decrypt(uint8_t *pt_out, const uint8_t *ct, size_t ct_len,
                       const uint8_t *ad, size_t ad_len,
                       const uint8_t nonce[FR_CRYPTO_AEAD_NONCE_BYTES],
                       const uint8_t key[FR_CRYPTO_AEAD_KEY_BYTES]);

/* Lowercase hex of bin (len bytes) and a NUL into hex_out, which holds at
 * least 2 * len + 1 bytes. */
void fr_crypto_bin2hex(char *hex_out, const uint8_t *bin, size_t len);
/* Parses exactly 2 * len hex characters from hex (which need not be
 * NUL-terminated) into bin_out. FR_EINVAL on any other character. */
FR_NODISCARD fr_err fr_crypto_hex2bin(uint8_t *bin_out, size_t len,
                                      const char *hex);

#endif
