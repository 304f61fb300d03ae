/*
 * aggregate.c - weighted federated averaging in double precision. See
 * aggregate.h.
 *
 * Sums are kept in double so that adding many float updates of different
 * magnitudes does not lose the small ones; the mean is rounded to float once.
 * An update is validated completely before any of it is added, so a rejected
 * update leaves the running sums untouched.
 */
#include "aggregate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct fr_agg {
    size_t n;
    size_t count;
    double total_weight;
    double *sum; /* n weighted sums */
};

fr_err
fr_agg_new(fr_agg **out, size_t n)
{
    fr_agg *a;

    if (n == 0 || n > SIZE_MAX / sizeof(double))
        return FR_EINVAL;
    a = calloc(1, sizeof *a);
    if (!a)
        return FR_ENOMEM;
    a->sum = calloc(n, sizeof *a->sum);
    if (!a->sum) {
        free(a);
        return FR_ENOMEM;
    }
    a->n = n;
    *out = a;
    return FR_OK;
}

void
fr_agg_destroy(fr_agg **ap)
{
    if (!ap || !*ap)
        return;
    free((*ap)->sum);
    free(*ap);
    *ap = NULL;
}

void
fr_agg_reset(fr_agg *a)
{
    memset(a->sum, 0, a->n * sizeof *a->sum);
    a->count = 0;
    a->total_weight = 0.0;
}

fr_err
fr_agg_add(fr_agg *a, const float *x, double weight)
{
    if (!x || !isfinite(weight) || weight <= 0.0 ||
        !isfinite(a->total_weight + weight))
        return FR_EINVAL;
    /* the second test catches a huge weight overflowing a running sum */
    for (size_t i = 0; i < a->n; i++)
        if (!isfinite(x[i]) || !isfinite(a->sum[i] + weight * (double)x[i]))
            return FR_EINVAL;
    for (size_t i = 0; i < a->n; i++)
        a->sum[i] += weight * (double)x[i];
    a->count++;
    a->total_weight += weight;
    return FR_OK;
}

size_t
fr_agg_count(const fr_agg *a)
{
    return a->count;
}

double
fr_agg_total_weight(const fr_agg *a)
{
    return a->total_weight;
}

fr_err
fr_agg_mean(const fr_agg *a, float *out)
{
    if (a->count == 0)
        return FR_ESTATE;
    for (size_t i = 0; i < a->n; i++)
        out[i] = (float)(a->sum[i] / a->total_weight);
    return FR_OK;
}
