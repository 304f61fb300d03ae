/*
 * ddg.c - DDG encoding and decoding of one store's vector. See ddg.h.
 *
 * Encoding runs in two passes over one scratch buffer of dim doubles: the
 * first pads, rotates and scales x and checks every coordinate (so a
 * refused vector costs no randomness and leaves the output alone); the
 * second draws V and the noise and writes the words. The scratch buffer
 * holds the store's rotated sum, so it is wiped before it is freed.
 *
 * Magnitudes: a coordinate is accepted when |s y_i| < 2^62, so
 * floor(s y_i + V_i) converts to int64 without overflow and adding noise
 * (|noise| < 2^37, dgauss.h) cannot overflow either. The conversion to
 * uint32 is reduction mod 2^32 (via uint64, well defined for negatives).
 */
#include "ddg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../crypto/crypto.h"
#include "dgauss.h"
#include "rotate.h"

#define Y_LIMIT    0x1p62
#define WORD_RANGE 4294967296.0 /* 2^32 */

fr_err
fr_ddg_params_check(const fr_ddg_params *p)
{
    if (!p || p->n == 0 || p->dim == 0 || (p->dim & (p->dim - 1)) != 0 ||
        p->dim < p->n || !isfinite(p->scale) || !(p->scale > 0.0) ||
        p->sigma2_int > FR_DP_DGAUSS_MAX_SIGMA2)
        return FR_EINVAL;
    if (p->dim > FR_DP_MAX_DIM)
        return FR_ELIMIT;
    return FR_OK;
}

static void
scratch_free(double *buf, uint64_t dim)
{
    if (!buf)
        return;
    fr_crypto_wipe(buf, (size_t)dim * sizeof *buf);
    free(buf);
}

/* *buf_out = s * rotate(pad(x)), checked; the caller scratch_free()s it. */
static fr_err
scaled_rotation(const fr_ddg_params *p, const double *x, double **buf_out)
{
    double *buf;
    fr_err rc;

    buf = malloc((size_t)p->dim * sizeof *buf);
    if (!buf)
        return FR_ENOMEM;
    memcpy(buf, x, (size_t)p->n * sizeof *buf);
    memset(buf + p->n, 0, (size_t)(p->dim - p->n) * sizeof *buf);
    rc = fr_dp_rotate(buf, p->dim, p->rotation_seed);
    for (uint64_t i = 0; rc == FR_OK && i < p->dim; i++) {
        buf[i] *= p->scale;
        /* a non-finite x spreads to every coordinate it touches */
        if (!isfinite(buf[i]))
            rc = FR_EINVAL;
        else if (fabs(buf[i]) >= Y_LIMIT)
            rc = FR_ELIMIT;
    }
    if (rc != FR_OK) {
        scratch_free(buf, p->dim);
        return rc;
    }
    *buf_out = buf;
    return FR_OK;
}

/* floor(y + V): the literal form DP.md 2.2 step 6 asks for */
static int64_t
round_one(double y, fr_dp_rng *rng)
{
    return (int64_t)floor(y + fr_dp_rng_unit(rng));
}

fr_err
fr_ddg_round(const fr_ddg_params *p, const double *x, fr_dp_rng *rng,
             int64_t *z_out)
{
    double *buf = NULL;
    fr_err rc;

    if ((rc = fr_ddg_params_check(p)) != FR_OK)
        return rc;
    if (!x || !rng || !z_out)
        return FR_EINVAL;
    if ((rc = scaled_rotation(p, x, &buf)) != FR_OK)
        return rc;
    for (uint64_t i = 0; i < p->dim; i++)
        z_out[i] = round_one(buf[i], rng);
    scratch_free(buf, p->dim);
    return FR_OK;
}

fr_err
fr_ddg_encode(const fr_ddg_params *p, const double *x, fr_dp_rng *rng,
              uint32_t *words_out)
{
    fr_dp_dgauss_plan plan;
    double *buf = NULL;
    fr_err rc;

    if ((rc = fr_ddg_params_check(p)) != FR_OK)
        return rc;
    if (!x || !rng || !words_out)
        return FR_EINVAL;
    if (p->sigma2_int > 0 &&
        fr_dp_dgauss_plan_init(&plan, p->sigma2_int, 1) != FR_OK)
        return FR_EINVAL;
    if ((rc = scaled_rotation(p, x, &buf)) != FR_OK)
        return rc;
    for (uint64_t i = 0; i < p->dim; i++) {
        int64_t z = round_one(buf[i], rng);

        if (p->sigma2_int > 0)
            z += fr_dp_dgauss_draw(&plan, rng);
        words_out[i] = (uint32_t)(uint64_t)z;
    }
    scratch_free(buf, p->dim);
    return FR_OK;
}

fr_err
fr_ddg_decode(const fr_ddg_params *p, const uint32_t *sum, double *x_out)
{
    double *buf;
    fr_err rc;

    if ((rc = fr_ddg_params_check(p)) != FR_OK)
        return rc;
    if (!sum || !x_out)
        return FR_EINVAL;
    buf = malloc((size_t)p->dim * sizeof *buf);
    if (!buf)
        return FR_ENOMEM;
    for (uint64_t i = 0; i < p->dim; i++) {
        /* the centred value without implementation-defined conversion */
        double c =
            sum[i] > INT32_MAX ? (double)sum[i] - WORD_RANGE : (double)sum[i];
        buf[i] = c / p->scale;
    }
    rc = fr_dp_unrotate(buf, p->dim, p->rotation_seed);
    if (rc == FR_OK)
        memcpy(x_out, buf, (size_t)p->n * sizeof *buf);
    scratch_free(buf, p->dim);
    return rc;
}
