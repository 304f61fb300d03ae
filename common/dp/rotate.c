/*
 * rotate.c - randomized Hadamard rotation. See rotate.h.
 *
 * The transform is the textbook in-place butterfly: log2(d) passes, each
 * replacing pairs (a, b) at distance h by (a + b, a - b). Both directions
 * scale by 1/sqrt(d) once at the end of the transform, so rotate followed
 * by unrotate is the identity up to floating-point rounding (about
 * log2(d) ulps relative).
 */
#include "rotate.h"

#include <math.h>
#include <stddef.h>

#include "rng.h"

#define SIGN_LABEL "fedrec dp rotation v1"

static fr_err
check(const double *x, uint64_t d)
{
    if (!x || d == 0 || (d & (d - 1)) != 0)
        return FR_EINVAL;
    if (d > FR_DP_MAX_DIM)
        return FR_ELIMIT;
    return FR_OK;
}

/* x <- D x; the signs are public, so the generator needs no wiping care
 * beyond what destroy does anyway. */
static void
apply_signs(double *x, uint64_t d, fr_dp_rng *signs)
{
    for (uint64_t i = 0; i < d; i += 64) {
        uint64_t bits = fr_dp_rng_u64(signs);
        uint64_t end = d - i < 64 ? d - i : 64;

        for (uint64_t j = 0; j < end; j++)
            if (bits >> j & 1)
                x[i + j] = -x[i + j];
    }
}

/* x <- (1/sqrt(d)) H x */
static void
hadamard(double *x, uint64_t d)
{
    double norm = 1.0 / sqrt((double)d);

    for (uint64_t h = 1; h < d; h <<= 1)
        for (uint64_t i = 0; i < d; i += 2 * h)
            for (uint64_t j = i; j < i + h; j++) {
                double a = x[j], b = x[j + h];

                x[j] = a + b;
                x[j + h] = a - b;
            }
    for (uint64_t i = 0; i < d; i++)
        x[i] *= norm;
}

fr_err
fr_dp_rotate(double *x, uint64_t d, uint64_t seed)
{
    fr_dp_rng *signs = NULL;
    fr_err rc;

    if ((rc = check(x, d)) != FR_OK)
        return rc;
    if ((rc = fr_dp_rng_new_public(&signs, SIGN_LABEL, seed)) != FR_OK)
        return rc;
    apply_signs(x, d, signs);
    hadamard(x, d);
    fr_dp_rng_destroy(&signs);
    return FR_OK;
}

fr_err
fr_dp_unrotate(double *y, uint64_t d, uint64_t seed)
{
    fr_dp_rng *signs = NULL;
    fr_err rc;

    if ((rc = check(y, d)) != FR_OK)
        return rc;
    if ((rc = fr_dp_rng_new_public(&signs, SIGN_LABEL, seed)) != FR_OK)
        return rc;
    hadamard(y, d);
    apply_signs(y, d, signs);
    fr_dp_rng_destroy(&signs);
    return FR_OK;
}

uint64_t
fr_dp_pad_dim(uint64_t n)
{
    uint64_t d = 1;

    if (n > (uint64_t)1 << 63)
        return 0;
    while (d < n)
        d <<= 1;
    return d;
}
