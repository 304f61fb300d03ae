/*
 * dgauss.c - exact discrete Gaussian and discrete Laplace samplers. See
 * dgauss.h and DP.md 6.
 *
 * The rejection loop of the discrete Gaussian is written with gamma over a
 * common denominator: with sigma^2 = n/d and Y a discrete-Laplace candidate
 * of scale t,
 *   gamma = (|Y| - sigma^2/t)^2 / (2 sigma^2)
 *         = (d t |Y| - n)^2 / (2 n d t^2),
 * so numerator and denominator are integers; dgauss.h gives their widths.
 */
#include "dgauss.h"

#define U128_MAX      (~(fr_dp_u128)0)
#define LAPLACE_MAX_T ((uint64_t)1 << 40)
/* candidates beyond Y_LIMIT_FACTOR * t are redrawn (dgauss.h) */
#define Y_LIMIT_FACTOR 1024u

/* Bernoulli(n/m): uniform(m) < n. The 64-bit call when m fits, so a
 * scripted source sees the same ranges either way. */
static int
bernoulli_frac(fr_dp_rng *r, fr_dp_u128 n, fr_dp_u128 m)
{
    if (m <= UINT64_MAX)
        return fr_dp_rng_uniform(r, (uint64_t)m) < n;
    return fr_dp_rng_uniform128(r, m) < n;
}

/* Bernoulli(exp(-n/d)) for 0 <= n <= d: K counts successes of
 * Bernoulli(n/(d K)); the result is K's parity (1 when K is odd). */
static int
bernoulli_exp1(fr_dp_rng *r, fr_dp_u128 n, fr_dp_u128 d)
{
    fr_dp_u128 k = 1;

    while (bernoulli_frac(r, n, d * k)) {
        if (k >= U128_MAX / d) /* d*(k+1) would not fit: see dgauss.h */
            break;
        k++;
    }
    return (int)(k & 1);
}

int
fr_dp_bernoulli_exp128(fr_dp_rng *r, fr_dp_u128 num, fr_dp_u128 den)
{
    FR_ASSERT(r && den >= 1);
    while (num > den) {
        if (!bernoulli_exp1(r, 1, 1))
            return 0;
        num -= den;
    }
    return bernoulli_exp1(r, num, den);
}

int
fr_dp_bernoulli_exp(fr_dp_rng *r, uint64_t num, uint64_t den)
{
    return fr_dp_bernoulli_exp128(r, num, den);
}

int64_t
fr_dp_dlaplace(fr_dp_rng *r, uint64_t t)
{
    FR_ASSERT(r && t >= 1 && t <= LAPLACE_MAX_T);
    for (;;) {
        int neg = fr_dp_rng_uniform(r, 2) < 1;
        uint64_t u, v = 0;

        do
            u = fr_dp_rng_uniform(r, t);
        while (!bernoulli_exp1(r, u, t));
        while (bernoulli_exp1(r, 1, 1))
            v++;
        /* X = u + t*v must fit an int64: v >= 2^23 has probability
         * exp(-2^23), and drawing again then is as good as exact */
        if (v > (uint64_t)(INT64_MAX - (int64_t)u) / t)
            continue;
        if (neg && u == 0 && v == 0)
            continue;
        return neg ? -(int64_t)(u + t * v) : (int64_t)(u + t * v);
    }
}

static uint64_t
gcd64(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t m = a % b;

        a = b;
        b = m;
    }
    return a;
}

/* floor(sqrt(v)), bit by bit in integers */
static uint64_t
isqrt64(uint64_t v)
{
    uint64_t res = 0, bit = (uint64_t)1 << 62;

    while (bit > v)
        bit >>= 2;
    while (bit) {
        if (v >= res + bit) {
            v -= res + bit;
            res = (res >> 1) + bit;
        } else {
            res >>= 1;
        }
        bit >>= 2;
    }
    return res;
}

fr_err
fr_dp_dgauss_plan_init(fr_dp_dgauss_plan *plan, uint64_t num, uint64_t den)
{
    fr_dp_dgauss_plan p;
    uint64_t g;

    if (!plan || num == 0 || den == 0)
        return FR_EINVAL;
    g = gcd64(num, den);
    p.num = num / g;
    p.den = den / g;
    if (p.num / p.den > FR_DP_DGAUSS_MAX_SIGMA2 ||
        (p.num / p.den == FR_DP_DGAUSS_MAX_SIGMA2 && p.num % p.den != 0))
        return FR_EINVAL;
    /* floor(sqrt(n/d)) == isqrt(floor(n/d)) */
    p.t = isqrt64(p.num / p.den) + 1;
    if ((fr_dp_u128)p.den * p.t * p.t >= (fr_dp_u128)1 << 54)
        return FR_EINVAL;
    p.y_limit = p.t * Y_LIMIT_FACTOR;
    p.gden = (fr_dp_u128)2 * p.num * p.den * p.t * p.t;
    *plan = p;
    return FR_OK;
}

int64_t
fr_dp_dgauss_draw(const fr_dp_dgauss_plan *plan, fr_dp_rng *r)
{
    FR_ASSERT(plan && r && plan->t >= 1 && plan->gden >= 1);
    for (;;) {
        int64_t y = fr_dp_dlaplace(r, plan->t);
        uint64_t a = y < 0 ? (uint64_t)0 - (uint64_t)y : (uint64_t)y;
        fr_dp_u128 dta, diff;

        if (a >= plan->y_limit)
            continue;
        /* d t |Y| < 1024 d t^2 < 2^64 and n < d t^2 (dgauss.h) */
        dta = (fr_dp_u128)plan->den * plan->t * a;
        diff = dta >= plan->num ? dta - plan->num : plan->num - dta;
        if (fr_dp_bernoulli_exp128(r, diff * diff, plan->gden))
            return y;
    }
}

fr_err
fr_dp_dgauss(fr_dp_rng *r, uint64_t sigma2_num, uint64_t sigma2_den,
             int64_t *out)
{
    fr_dp_dgauss_plan plan;

    if (!r || !out ||
        fr_dp_dgauss_plan_init(&plan, sigma2_num, sigma2_den) != FR_OK)
        return FR_EINVAL;
    *out = fr_dp_dgauss_draw(&plan, r);
    return FR_OK;
}
