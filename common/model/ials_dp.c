/*
 * ials_dp.c - the store's side of the iALS model kind under member-level
 * DP (ials.h): each member's clipped vector, added into one sum.
 *
 * DESIGN. The bound must hold for the vector actually added, so the
 * norm is computed over the member's distinct items with their
 * multiplicities (an item bought twice gets 2 e_u, whose square is 4),
 * in double precision, before the vector is scaled.
 */
#include "ials.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mf_int.h"

size_t
fr_ials_dp_len(uint32_t n_items, uint32_t d)
{
    return (size_t)n_items * d + (size_t)n_items + (size_t)d * d + 1;
}

static int
cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

fr_err
fr_ials_dp_member_sums(const fr_mf *mf, double clip, double *sum_out,
                       uint64_t *n_clipped_out)
{
    const double beta = FR_IALS_DP_COUNT_WEIGHT;
    uint32_t d, n_items, rows = 0;
    uint32_t *sorted;
    uint64_t n_clipped = 0;

    if (!mf || !sum_out || !isfinite(clip) || !(clip > 0.0))
        return FR_EINVAL;
    d = mf->dim;
    n_items = mf->n_items;
    for (uint32_t u = 0; u < mf->n_members; u++)
        if (mf->n_train[u] > rows)
            rows = mf->n_train[u];
    if (!(sorted = malloc((rows ? rows : 1) * sizeof *sorted)))
        return FR_ENOMEM;
    double *B = sum_out, *C = B + (size_t)n_items * d, *W = C + n_items;
    double *N = W + (size_t)d * d;

    for (uint32_t u = 0; u < mf->n_members; u++) {
        uint32_t n = mf->n_train[u];
        const float *w = mf->p + (size_t)u * d;
        double len = 0.0, norm2, g = 1.0, e[FR_IALS_MAX_DIM];

        for (uint32_t j = 0; j < d; j++)
            len += (double)w[j] * w[j];
        if (n == 0 || !(len > 0.0) || !isfinite(len))
            continue;
        len = sqrt(len);
        for (uint32_t j = 0; j < d; j++)
            e[j] = w[j] / len;
        memcpy(sorted, fr_mf_train_items(mf, u), n * sizeof *sorted);
        qsort(sorted, n, sizeof *sorted, cmp_u32);
        /* |e e^T|_F = 1, N part 1; per distinct item bought m times,
         * m^2 (|e|^2 + beta^2) */
        norm2 = 2.0;
        for (uint32_t k = 0; k < n;) {
            uint32_t end = k;
            while (end < n && sorted[end] == sorted[k])
                end++;
            double m = end - k;
            norm2 += m * m * (1.0 + beta * beta);
            k = end;
        }
        if (norm2 > clip * clip) {
            g = clip / sqrt(norm2);
            n_clipped++;
        }
        for (uint32_t k = 0; k < n; k++) {
            double *b = B + (size_t)sorted[k] * d;
            for (uint32_t j = 0; j < d; j++)
                b[j] += g * e[j];
            C[sorted[k]] += g * beta;
        }
        for (uint32_t r = 0; r < d; r++)
            for (uint32_t c = 0; c < d; c++)
                W[(size_t)r * d + c] += g * e[r] * e[c];
        N[0] += g;
    }
    free(sorted);
    if (n_clipped_out)
        *n_clipped_out = n_clipped;
    return FR_OK;
}
