/*
 * quant.h - fixed-point encoding of model updates for the secure sum.
 *
 * Secure aggregation adds vectors of 32-bit words modulo 2^32. A store's
 * update x (d floats) is
 *   1. clipped to L2 norm <= clip (scaled down as a whole if longer),
 *   2. multiplied by its weight w = min(weight, weight_cap),
 *   3. multiplied by scale and stochastically rounded to an integer
 *      (floor, plus one with probability equal to the fractional part, so
 *      the rounding is unbiased), stored as its two's-complement uint32;
 *   4. followed by one more word holding w itself,
 * so the modular sum of n encodings holds sum(w_i * x_i) * scale (+ rounding)
 * in words 0..d-1 and sum(w_i) in word d, and the weighted mean is
 * (int32)sum[j] / scale / sum[d].
 *
 * scale is chosen so that the sum of n_max encodings can never wrap:
 *   n_max * (weight_cap * clip * scale + 1) <= 2^31 - 1,
 * and n_max * weight_cap <= 2^32 - 1 for the weight word.
 * Error: each encoding is off by less than 1 unit per coordinate, so the
 * decoded weighted mean of n contributions is within n / (scale * W) of the
 * exact weighted mean of the clipped updates, W the total weight, before
 * fr_quant_decode_mean rounds it to float (a further relative 2^-24).
 */
#ifndef FR_SECAGG_QUANT_H
#define FR_SECAGG_QUANT_H

#include <stddef.h>
#include <stdint.h>

#include "../base/err.h"

typedef struct fr_quant {
    uint32_t n_max;      /* most encodings that will ever be summed */
    double clip;         /* L2 bound on one update, > 0 */
    uint32_t weight_cap; /* weights are capped to this, >= 1 */
    double scale;        /* fixed-point units per unit of w * x */
} fr_quant;

/*
 * Fills q for n_max encodings. FR_EINVAL (with no partial output) if n_max or
 * weight_cap is 0, clip is not finite and > 0, n_max * weight_cap exceeds
 * 2^32 - 1, or the resulting scale is not positive (n_max too large) or not
 * finite (clip below about 1e-299). A scale below 1 is fine: what matters is
 * the error relative to the weights actually summed, which
 * fr_quant_error_bound reports (with stores near weight_cap it is about
 * n^2 / 2^31 of clip).
 * Encode and decode refuse (FR_EINVAL) a q that breaks these rules or whose
 * scale would let the sum wrap (a smaller scale than init's is accepted).
 */
FR_NODISCARD fr_err fr_quant_init(fr_quant *q, uint32_t n_max, double clip,
                                  uint32_t weight_cap);

/*
 * Encodes update x[0..d-1] with weight (capped at weight_cap; 0 is refused
 * with FR_EINVAL, as is a non-finite x) into words_out[0..d], d+1 words.
 * The rounding coins come from a ChaCha20 keystream keyed by coin_seed (pass
 * 32 fresh random bytes; fixed bytes in tests). *clip_factor_out (may be NULL)
 * gets the factor the update was scaled by, 1.0 if it was within clip.
 */
FR_NODISCARD fr_err fr_quant_encode(const fr_quant *q, const float *x,
                                    size_t d, uint64_t weight,
                                    const uint8_t coin_seed[32],
                                    uint32_t *words_out,
                                    double *clip_factor_out);

/*
 * Decodes a modular sum of encodings (d+1 words) into the weighted mean
 * mean_out[0..d-1] and the total weight *weight_out (may be NULL).
 * FR_EINVAL if the total weight is 0.
 */
FR_NODISCARD fr_err fr_quant_decode_mean(const fr_quant *q,
                                         const uint32_t *sum, size_t d,
                                         float *mean_out,
                                         uint64_t *weight_out);

/* Largest error per coordinate of the decoded mean of n contributions whose
 * weights add up to total_weight: n / (scale * total_weight), not counting
 * the final rounding to float. +inf if total_weight is 0. */
double fr_quant_error_bound(const fr_quant *q, uint32_t n,
                            uint64_t total_weight);

#endif
