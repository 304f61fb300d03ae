/*
 * quant.c - fixed-point encoding of model updates for the secure sum. See
 * quant.h.
 *
 * The no-wrap guarantee rests on one integer fact, checked exactly in
 * fr_quant_init rather than trusted to floating-point algebra: with
 * lim = weight_cap * clip * scale, every encoded coordinate lies in
 * [-(floor(lim) + 1), floor(lim) + 1], and n_max * (floor(lim) + 1) fits in
 * an int32. Encoding clamps w * x * scale to [-lim, lim] before rounding, so
 * an update whose clipped norm came out a few ulps above clip cannot break
 * that bound; the clamp moves a value by at most those ulps.
 *
 * Everything is computed in double: a float update times a weight and a
 * scale of up to 2^31 needs more than float's 24 bits to keep the rounding
 * error below one unit. Inputs are validated completely before any output is
 * written, so a refused call leaves the outputs as they were.
 */
#include "quant.h"

#include <math.h>
#include <string.h>

#include "../crypto/crypto.h"
#include "../crypto/prim.h"

#define WORD_RANGE 4294967296.0 /* 2^32 */
#define COIN_SCALE 0x1p-32      /* maps a uint32 coin into [0, 1) */
/* Keystream buffered per refill: 16 ChaCha20 blocks, 256 coins. */
#define COIN_BLOCKS    16
#define COIN_BUF_BYTES (64 * COIN_BLOCKS)

_Static_assert(FR_CRYPTO_STREAM_KEY_BYTES == 32, "coin_seed is the key");

/* Largest |w * x * scale| an encoding may represent before rounding. The
 * same expression in init and encode, so both see the same double. */
static double
limit(const fr_quant *q)
{
    return (double)q->weight_cap * q->clip * q->scale;
}

/* n_max * (lim + 1) <= 2^31 - 1 as the header states it, evaluated in
 * double, and its integer form (see the top), which is what actually keeps
 * the sum from wrapping and does not depend on how the double rounded. */
static int
no_wrap(const fr_quant *q)
{
    double lim = limit(q);

    if (!(lim >= 0.0 && lim < 2147483648.0))
        return 0;
    return (double)q->n_max * (lim + 1.0) <= (double)INT32_MAX &&
           (uint64_t)q->n_max * ((uint64_t)floor(lim) + 1) <= INT32_MAX;
}

/* q is as fr_quant_init leaves it; guards encode and decode against a
 * hand-filled or stale struct that could make the sum wrap. */
static int
quant_ok(const fr_quant *q)
{
    return q && q->n_max > 0 && q->weight_cap > 0 && isfinite(q->clip) &&
           q->clip > 0.0 && isfinite(q->scale) && q->scale > 0.0 &&
           (uint64_t)q->n_max * q->weight_cap <= UINT32_MAX && no_wrap(q);
}

fr_err
fr_quant_init(fr_quant *q, uint32_t n_max, double clip, uint32_t weight_cap)
{
    fr_quant t;

    if (!q || n_max == 0 || weight_cap == 0 || !isfinite(clip) ||
        !(clip > 0.0) || (uint64_t)n_max * weight_cap > UINT32_MAX)
        return FR_EINVAL;
    t.n_max = n_max;
    t.clip = clip;
    t.weight_cap = weight_cap;
    /* The largest scale the header's inequality allows; the division can
     * land an ulp too high, so step down until the exact check agrees. */
    t.scale = ((double)INT32_MAX / n_max - 1.0) / ((double)weight_cap * clip);
    while (isfinite(t.scale) && t.scale > 0.0 && !no_wrap(&t))
        t.scale = nextafter(t.scale, 0.0);
    /* Not finite only for a clip so small (< ~1e-299) it means nothing. */
    if (!quant_ok(&t))
        return FR_EINVAL;
    *q = t;
    return FR_OK;
}

/* Squared L2 norm in double, or -1 if some coordinate is not finite. */
static double
norm2_or_neg(const float *x, size_t d)
{
    double s = 0.0;

    for (size_t j = 0; j < d; j++) {
        if (!isfinite(x[j]))
            return -1.0;
        s += (double)x[j] * (double)x[j];
    }
    return s;
}

/* v rounded down or up, up with probability frac(v) when coin is uniform
 * in [0, 1): E[result] = v. */
static int64_t
round_stochastic(double v, double coin)
{
    double fl = floor(v);

    return (int64_t)fl + (coin < v - fl ? 1 : 0);
}

fr_err
fr_quant_encode(const fr_quant *q, const float *x, size_t d, uint64_t weight,
                const uint8_t coin_seed[32], uint32_t *words_out,
                double *clip_factor_out)
{
    static const uint8_t nonce[FR_CRYPTO_STREAM_NONCE_BYTES];
    uint8_t coins[COIN_BUF_BYTES];
    uint64_t block = 0;
    double norm2, norm, factor, k, lim;
    uint32_t w;

    if (!quant_ok(q) || (!x && d > 0) || !coin_seed || !words_out ||
        weight == 0)
        return FR_EINVAL;
    if ((norm2 = norm2_or_neg(x, d)) < 0.0)
        return FR_EINVAL;
    norm = sqrt(norm2);
    factor = norm > q->clip ? q->clip / norm : 1.0;
    w = weight < q->weight_cap ? (uint32_t)weight : q->weight_cap;
    k = (double)w * factor * q->scale;
    lim = limit(q);

    for (size_t j = 0; j < d; j++) {
        size_t at = j % (COIN_BUF_BYTES / 4) * 4;
        uint32_t coin;
        double v;

        if (at == 0) {
            /* only the blocks still needed: short updates stay cheap */
            size_t left = d - j;
            size_t len = left < COIN_BUF_BYTES / 4 ? (left * 4 + 63) / 64 * 64
                                                   : COIN_BUF_BYTES;
            memset(coins, 0, len);
            fr_crypto_stream_xor_ic(coins, coins, len, nonce, block,
                                    coin_seed);
            block += len / 64;
        }
        coin = (uint32_t)coins[at] | (uint32_t)coins[at + 1] << 8 |
               (uint32_t)coins[at + 2] << 16 | (uint32_t)coins[at + 3] << 24;
        v = fmin(fmax(k * (double)x[j], -lim), lim);
        /* two's complement by unsigned conversion, which is modular */
        words_out[j] = (uint32_t)round_stochastic(v, coin * COIN_SCALE);
    }
    words_out[d] = w;
    if (clip_factor_out)
        *clip_factor_out = factor;
    /* the coins and the unrounded values together reveal the update */
    fr_crypto_wipe(coins, sizeof coins);
    return FR_OK;
}

fr_err
fr_quant_decode_mean(const fr_quant *q, const uint32_t *sum, size_t d,
                     float *mean_out, uint64_t *weight_out)
{
    double total;

    if (!quant_ok(q) || !sum || (!mean_out && d > 0) || sum[d] == 0)
        return FR_EINVAL;
    total = (double)sum[d];
    for (size_t j = 0; j < d; j++) {
        /* (int32)sum[j] without implementation-defined conversion */
        double s =
            sum[j] > INT32_MAX ? (double)sum[j] - WORD_RANGE : (double)sum[j];
        mean_out[j] = (float)(s / q->scale / total);
    }
    if (weight_out)
        *weight_out = sum[d];
    return FR_OK;
}

double
fr_quant_error_bound(const fr_quant *q, uint32_t n, uint64_t total_weight)
{
    return (double)n / (q->scale * (double)total_weight);
}
