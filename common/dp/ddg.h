/*
 * ddg.h - the distributed discrete Gaussian (DDG) encoding of one store's
 * vector and the aggregator's decoding of the modular sum (DP.md 2.2 steps
 * 4-8 and 2.3 steps 2-4).
 *
 * Store side, for x the sum of the store's member-clipped updates:
 *   1. zero-pad x to dim (a power of two) and rotate it (rotate.h) with the
 *      public rotation_seed;
 *   2. scale by s: y = s * rotate(pad(x));
 *   3. round unconditionally: z_i = floor(y_i + V_i), V_i uniform in [0, 1)
 *      (fr_dp_rng_unit, 53 bits), in exactly this form (DP.md 3.3);
 *   4. add z_i += N_Z(0, sigma2_int), exact (dgauss.h), i.i.d.;
 *   5. wrap: w_i = z_i mod 2^32.
 * Coordinates are processed in order, and coordinate i draws V_i and then
 * its noise from the generator, so with sigma2_int = 0 encode gives exactly
 * the words of fr_ddg_round with an identically keyed generator.
 *
 * Server side, for the word-wise sum mod 2^32 of the stores' words:
 * centre each word (v >= 2^31 becomes v - 2^32), divide by s, unrotate and
 * drop the padding. Decoding is post-processing of public values.
 *
 * Error: with k stores and no noise, the decoded sum differs from the real
 * sum of the x's by at most k sqrt(dim) / s in L2 (each rounding moves a
 * coordinate by less than 1 and the rotation is orthogonal), as long as no
 * coordinate of the integer sum leaves [-2^31, 2^31).
 *
 * Sensitivity (DP.md 3.3): rounding x and x' with the same V gives integer
 * vectors within s ||x - x'|| + sqrt(dim) in L2, for every V.
 *
 * The functions keep no state; they are thread-safe for distinct buffers
 * and generators.
 */
#ifndef FR_DP_DDG_H
#define FR_DP_DDG_H

#include <stdint.h>

#include "../base/err.h"
#include "rng.h"

typedef struct fr_ddg_params {
    uint64_t n;             /* real length of x (model parameters), >= 1 */
    uint64_t dim;           /* padded, power of two, n <= dim <= 2^30 */
    double scale;           /* s, finite and > 0 */
    uint64_t sigma2_int;    /* per-store discrete-Gaussian variance in
                               integer units, <= 2^52; 0 = no noise (tests) */
    uint64_t rotation_seed; /* public */
} fr_ddg_params;

/*
 * Checks p against the limits in the struct. FR_EINVAL for a NULL p, n = 0,
 * dim not a power of two or below n, scale not finite and > 0, or sigma2_int
 * > 2^52; FR_ELIMIT for dim > 2^30.
 */
FR_NODISCARD fr_err fr_ddg_params_check(const fr_ddg_params *p);

/*
 * Steps 1-3 only: z_out[0..dim-1] = floor(s * rotate(pad(x)) + V), V from
 * rng (one fr_dp_rng_unit per coordinate, in order). Exposed for the
 * sensitivity tests and for a central-noise mode. Errors as fr_ddg_encode;
 * z_out is written only on success.
 */
FR_NODISCARD fr_err fr_ddg_round(const fr_ddg_params *p, const double *x,
                                 fr_dp_rng *rng, int64_t *z_out);

/*
 * Encodes x[0..n-1] into words_out[0..dim-1] (steps 1-5). rng gives V and
 * the noise and must be secret (fr_dp_rng_new with a NULL key) outside
 * tests. x passes through a scratch buffer that is wiped before it is
 * freed. FR_EINVAL for a NULL argument, parameters fr_ddg_params_check
 * refuses, or a non-finite x; FR_ELIMIT if some |s * rotate(pad(x))_i| >=
 * 2^62 (such a vector would wrap anyway); FR_ENOMEM. words_out is written
 * only on success.
 */
FR_NODISCARD fr_err fr_ddg_encode(const fr_ddg_params *p, const double *x,
                                  fr_dp_rng *rng, uint32_t *words_out);

/*
 * Decodes sum[0..dim-1], the word-wise sum mod 2^32 of stores' encodings,
 * into x_out[0..n-1] = unrotate(centre(sum) / s) without the padding.
 * FR_EINVAL for a NULL argument or parameters fr_ddg_params_check refuses,
 * FR_ENOMEM; x_out is written only on success. Dividing by the public
 * denominator (DP.md 2.3 step 5) is the caller's.
 */
FR_NODISCARD fr_err fr_ddg_decode(const fr_ddg_params *p, const uint32_t *sum,
                                  double *x_out);

#endif
