/*
 * shamir.h - Shamir secret sharing of 32-byte secrets, t-of-n.
 *
 * Field: GF(p) with p = 2^61 - 1. A secret is cut into FR_SHAMIR_CHUNKS
 * chunks of 7 bytes, little-endian (the last chunk holds the remaining 4
 * bytes), so every chunk is below 2^56 < p. Each chunk is the constant term
 * of its own random polynomial of degree t - 1; a share is the evaluation of
 * the FR_SHAMIR_CHUNKS polynomials at a non-zero x, each element written as
 * 8 bytes little-endian.
 *
 * Any t shares with distinct x give the secret back; t - 1 shares reveal
 * nothing about it. Combining does not authenticate: wrong shares give a
 * wrong secret (callers authenticate shares before combining), though a
 * result chunk outside [0, 2^56) is caught and refused.
 *
 * Shares hold secret material: callers wipe them (fr_crypto_wipe) after use.
 */
#ifndef FR_SECAGG_SHAMIR_H
#define FR_SECAGG_SHAMIR_H

#include <stddef.h>
#include <stdint.h>

#include "../base/err.h"

#define FR_SHAMIR_SECRET_BYTES 32
#define FR_SHAMIR_CHUNKS 5
#define FR_SHAMIR_SHARE_BYTES (8 * FR_SHAMIR_CHUNKS) /* 40 */
/* x runs over 1..FR_SHAMIR_MAX_X; callers use (party index + 1). */
#define FR_SHAMIR_MAX_X 65535u

typedef struct fr_shamir_share {
    uint32_t x;                        /* 1..FR_SHAMIR_MAX_X */
    uint8_t y[FR_SHAMIR_SHARE_BYTES];  /* FR_SHAMIR_CHUNKS LE field elements */
} fr_shamir_share;

/*
 * Splits secret into n shares at the n distinct x values xs[0..n-1], any t of
 * which rebuild it; shares_out[i].x = xs[i]. Coefficients are fresh random
 * field elements from the system CSPRNG, wiped before returning. FR_EINVAL
 * if a pointer is NULL, t == 0, t > n, an x is 0, above FR_SHAMIR_MAX_X or
 * repeated (shares_out untouched); FR_ENOMEM; FR_ESYS if libsodium cannot
 * initialise. Thread-safe.
 */
FR_NODISCARD fr_err fr_shamir_split(const uint8_t secret[FR_SHAMIR_SECRET_BYTES],
                                    uint32_t t, uint32_t n, const uint32_t *xs,
                                    fr_shamir_share *shares_out);

/*
 * As fr_shamir_split, with the coefficients drawn deterministically from a
 * ChaCha20 keystream keyed by seed (rejection sampling below p, in order:
 * chunk 0 coefficients of degree 1..t-1, then chunk 1, ...). For known-answer
 * tests only: a fixed seed gives fixed shares.
 */
FR_NODISCARD fr_err fr_shamir_split_seeded(
    const uint8_t secret[FR_SHAMIR_SECRET_BYTES], uint32_t t, uint32_t n,
    const uint32_t *xs, const uint8_t seed[32], fr_shamir_share *shares_out);

/*
 * Rebuilds the secret from count shares by Lagrange interpolation at 0 over
 * exactly the shares given (pass t of them; more consistent ones give the
 * same result). FR_EINVAL if count == 0 or a pointer is NULL; FR_EPROTO if
 * an x is 0, above FR_SHAMIR_MAX_X or repeated, an element is >= p, or a
 * rebuilt chunk is out of range. secret_out is written only on FR_OK.
 */
FR_NODISCARD fr_err fr_shamir_combine(const fr_shamir_share *shares,
                                      uint32_t count,
                                      uint8_t secret_out[FR_SHAMIR_SECRET_BYTES]);

#endif
