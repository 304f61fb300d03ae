/*
 * dgauss.h - exact samplers for the discrete Gaussian N_Z(0, sigma^2) and
 * its building blocks (Canonne, Kamath, Steinke, NeurIPS 2020; DP.md 6).
 *
 * Every decision is made in integer or rational arithmetic (64- and 128-bit
 * unsigned integers); no floating point is involved, so the output
 * distribution is exactly the one stated, not an approximation of it. All
 * randomness is fr_dp_rng_uniform(m) / fr_dp_rng_uniform128(m), called in
 * the order of DP.md 6 (the IBM reference's order), with one documented
 * difference: fractions are not reduced to lowest terms, so the ranges m
 * are the unreduced denominators (Bernoulli(n/d) draws uniform(d) < n;
 * Bernoulli(gamma/K) draws uniform(d*K) < n). This changes the ranges, not
 * the distribution.
 *
 * Width limits, which the functions check or assert:
 *   - the discrete Gaussian takes sigma^2 = num/den with sigma <= 2^26 and,
 *     with num/den in lowest terms and t = floor(sigma) + 1, den * t^2 <
 *     2^54; then every intermediate fits in 128 bits (gamma's numerator is
 *     below 2^128, its denominator below 2^109);
 *   - a candidate |Y| >= 1024 t is rejected (drawn again). That changes
 *     the output only by the discrete Gaussian's mass beyond 1024 t >=
 *     1024 sigma, about exp(-2^19): far below any delta.
 *   - Bernoulli(exp(-gamma)) stops its K counter where d*K would leave 128
 *     bits (K ~ 2^19 at the largest d used), an event of probability below
 *     1/(2^19 - 1)!.
 */
#ifndef FR_DP_DGAUSS_H
#define FR_DP_DGAUSS_H

#include <stdint.h>

#include "../base/err.h"
#include "rng.h"

/* sigma^2 <= FR_DP_DGAUSS_MAX_SIGMA2 (sigma <= 2^26) */
#define FR_DP_DGAUSS_MAX_SIGMA2 ((uint64_t)1 << 52)

/*
 * Bernoulli(exp(-num/den)): 1 with probability exp(-num/den), else 0.
 * den >= 1 and r non-NULL (FR_ASSERT). Draws as DP.md 6: while gamma > 1,
 * one Bernoulli(exp(-1)) (returning 0 if it fails) and gamma -= 1; then
 * the [0,1] routine (K = 1; while uniform(den*K) < num, K += 1; K odd).
 */
int fr_dp_bernoulli_exp(fr_dp_rng *r, uint64_t num, uint64_t den);

/* The same for a 128-bit gamma = num/den, den in [1, 2^109]. */
int fr_dp_bernoulli_exp128(fr_dp_rng *r, fr_dp_u128 num, fr_dp_u128 den);

/*
 * Discrete Laplace: P[y] proportional to exp(-|y|/t), t in [1, 2^40]
 * (FR_ASSERT). Draws as DP.md 6: B = (uniform(2) < 1); U = uniform(t)
 * until Bernoulli(exp(-U/t)); V = number of Bernoulli(exp(-1)) successes
 * before a failure; X = U + t*V; start again if B and X == 0; return
 * B ? -X : X.
 */
int64_t fr_dp_dlaplace(fr_dp_rng *r, uint64_t t);

/*
 * A prepared discrete Gaussian for sigma^2 = num/den: the reduced fraction
 * and the constants of the rejection loop, computed once so repeated draws
 * (one per coordinate) do no setup. A small value; copy freely.
 */
typedef struct fr_dp_dgauss_plan {
    uint64_t num, den; /* sigma^2 = num/den in lowest terms */
    uint64_t t;        /* floor(sigma) + 1, the Laplace scale */
    uint64_t y_limit;  /* candidates with |Y| >= y_limit are redrawn */
    fr_dp_u128 gden;   /* 2 * num * den * t^2, gamma's denominator */
} fr_dp_dgauss_plan;

/*
 * Fills *plan for N_Z(0, num/den). FR_EINVAL (plan untouched) if plan is
 * NULL, num or den is 0, num/den > 2^52, or den * t^2 >= 2^54 after
 * reduction (see the top).
 */
FR_NODISCARD fr_err fr_dp_dgauss_plan_init(fr_dp_dgauss_plan *plan,
                                           uint64_t num, uint64_t den);

/* One draw from the plan's N_Z(0, sigma^2); |result| < 2^37. plan as
 * fr_dp_dgauss_plan_init left it, r non-NULL (FR_ASSERT). Draws as DP.md 6:
 * Y = dlaplace(t); gamma = (den*t*|Y| - num)^2 / (2*num*den*t^2);
 * return Y if Bernoulli(exp(-gamma)), else again. */
int64_t fr_dp_dgauss_draw(const fr_dp_dgauss_plan *plan, fr_dp_rng *r);

/*
 * One draw from N_Z(0, sigma2_num/sigma2_den) into *out (den 1 for an
 * integer variance). FR_EINVAL (out untouched) for a NULL r or out, or
 * parameters fr_dp_dgauss_plan_init refuses.
 */
FR_NODISCARD fr_err fr_dp_dgauss(fr_dp_rng *r, uint64_t sigma2_num,
                                 uint64_t sigma2_den, int64_t *out);

#endif
