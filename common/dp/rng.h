/*
 * rng.h - the deterministic CSPRNG behind every draw of the DP noise path.
 *
 * A ChaCha20 keystream (64-bit block counter; common/crypto/prim.h) under a
 * 32-byte key, read 64 bits at a time. Everything the noise path needs is
 * built on it: unbiased integers in [0, m) by rejection, 128-bit ranges for
 * the exact sampler's rational arithmetic, and doubles in [0, 1) with 53
 * random bits.
 * The same key always gives the same sequence, so a run is reproducible
 * from its key; a secret key (fresh from the system CSPRNG) keeps the noise
 * secret. Public randomness (the rotation signs) comes from a key hashed
 * from a public 64-bit seed (fr_dp_rng_new_public).
 *
 * For tests, a scripted generator hands every draw to a callback with its
 * range m, so a test can check the exact sequence of uniform(m) calls a
 * sampler makes (DP.md 8.2). In a scripted generator u64() is one draw with
 * m = 2^64 and unit() one draw with m = 2^53.
 *
 * A generator is not thread-safe: one thread uses it at a time.
 */
#ifndef FR_DP_RNG_H
#define FR_DP_RNG_H

#include <stdint.h>

#include "../base/err.h"

#define FR_DP_RNG_KEY_BYTES 32

/* unsigned __int128 without a pedantic warning at each use */
__extension__ typedef unsigned __int128 fr_dp_u128;

typedef struct fr_dp_rng fr_dp_rng;

/*
 * A generator keyed by key (copied; wiped on destroy), or by 32 fresh bytes
 * from the system CSPRNG when key is NULL. The state sits in guarded memory
 * (fr_crypto_secure_alloc). FR_EINVAL if out is NULL, FR_ENOMEM, FR_ESYS if
 * the crypto library cannot initialise. *out is set only on success.
 */
FR_NODISCARD fr_err fr_dp_rng_new(fr_dp_rng **out, const uint8_t key[32]);

/*
 * A generator for public randomness: keyed by BLAKE2b-256 of the label
 * (a NUL-terminated domain string, e.g. "fedrec dp rotation v1") and seed
 * (8 bytes little-endian). Anyone with the label and seed gets the same
 * stream. Errors as fr_dp_rng_new, FR_EINVAL for a NULL label.
 */
FR_NODISCARD fr_err fr_dp_rng_new_public(fr_dp_rng **out, const char *label,
                                         uint64_t seed);

/*
 * Scripted source for tests: every draw calls fn(ctx, m) with its range
 * m >= 1 (2^64 for u64(), 2^53 for unit()) and uses the value returned,
 * which must be below m (checked with FR_ASSERT). fn and ctx are borrowed
 * until the generator is destroyed.
 */
typedef fr_dp_u128 (*fr_dp_rng_script_fn)(void *ctx, fr_dp_u128 m);
FR_NODISCARD fr_err fr_dp_rng_new_scripted(fr_dp_rng **out,
                                           fr_dp_rng_script_fn fn, void *ctx);

/* Wipes the key and buffered keystream and frees; accepts NULL and *rp
 * NULL; sets *rp to NULL. */
void fr_dp_rng_destroy(fr_dp_rng **rp);

/* 64 uniform bits. */
uint64_t fr_dp_rng_u64(fr_dp_rng *r);

/* Unbiased integer in [0, m) by rejection; m >= 1 (FR_ASSERT). */
uint64_t fr_dp_rng_uniform(fr_dp_rng *r, uint64_t m);

/* Unbiased integer in [0, m) by rejection; m >= 1 (FR_ASSERT). */
fr_dp_u128 fr_dp_rng_uniform128(fr_dp_rng *r, fr_dp_u128 m);

/* Uniform double in [0, 1): k * 2^-53 with k uniform in [0, 2^53). */
double fr_dp_rng_unit(fr_dp_rng *r);

#endif
