/*
 * rotate.h - the public randomized Hadamard rotation of the DDG mechanism
 * (DP.md 2.2 step 4 and 2.3 step 4).
 *
 *   rotate:   y = (1/sqrt(d)) H D x
 *   unrotate: x = (1/sqrt(d)) D H y
 * where H is the d x d Sylvester Walsh-Hadamard matrix (H[i][j] =
 * (-1)^popcount(i & j), applied by the in-place fast transform in
 * O(d log d)) and D = diag(+-1). Sign j of D is bit (j mod 64) of the
 * (j / 64)-th u64 of fr_dp_rng_new_public("fedrec dp rotation v1", seed)
 * (bit set: -1). The rotation is orthogonal (H is symmetric and H^2 = d I),
 * so it keeps L2 norms and distances; it only flattens coordinates so the
 * modular sum does not wrap. Nothing about it is secret.
 *
 * Both functions are thread-safe for distinct buffers.
 */
#ifndef FR_DP_ROTATE_H
#define FR_DP_ROTATE_H

#include <stdint.h>

#include "../base/err.h"

/* Largest dimension the DP encoding handles (2^30 doubles = 8 GiB). */
#define FR_DP_MAX_DIM ((uint64_t)1 << 30)

/*
 * Rotates x[0..d-1] in place. FR_EINVAL (x untouched) if x is NULL or d is
 * not a power of two (0 included), FR_ELIMIT if d > FR_DP_MAX_DIM,
 * FR_ENOMEM if the sign generator cannot be made (x untouched).
 */
FR_NODISCARD fr_err fr_dp_rotate(double *x, uint64_t d, uint64_t seed);

/* The inverse of fr_dp_rotate with the same d and seed; errors alike. */
FR_NODISCARD fr_err fr_dp_unrotate(double *y, uint64_t d, uint64_t seed);

/* The smallest power of two >= n (1 for n <= 1); 0 if n > 2^63. */
uint64_t fr_dp_pad_dim(uint64_t n);

#endif
