/*
 * aggregate.h - weighted federated averaging.
 *
 * Accumulates updates in double precision and returns
 * sum_i w_i * x_i / sum_i w_i. Used by the aggregator on plain updates; the
 * secure-aggregation path produces the same sums from masked vectors.
 */
#ifndef FR_MODEL_AGGREGATE_H
#define FR_MODEL_AGGREGATE_H

#include <stddef.h>
#include <stdint.h>

#include "../base/err.h"

typedef struct fr_agg fr_agg;

FR_NODISCARD fr_err fr_agg_new(fr_agg **out, size_t n);
void fr_agg_destroy(fr_agg **ap);

/* Forgets everything added so far. */
void fr_agg_reset(fr_agg *a);

/* Adds weight * x (x has n floats). FR_EINVAL if weight is not finite and
 * > 0 or any x is not finite; nothing is added then. */
FR_NODISCARD fr_err fr_agg_add(fr_agg *a, const float *x, double weight);

/* Number of updates added and their total weight. */
size_t fr_agg_count(const fr_agg *a);
double fr_agg_total_weight(const fr_agg *a);

/* Writes the weighted mean into out (n floats). FR_ESTATE if nothing was
 * added. */
FR_NODISCARD fr_err fr_agg_mean(const fr_agg *a, float *out);

#endif
