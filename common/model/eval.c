/*
 * eval.c - leave-one-out ranking metrics. See eval.h.
 *
 * Ties count against the positive: a model that scores everything equal
 * (an untrained one, or popularity among unseen items) must not look good.
 */
#include "eval.h"

#include <math.h>

uint32_t
fr_eval_rank(float pos_score, uint32_t pos_item, const float *neg_scores,
             const uint32_t *neg_items, size_t n_neg)
{
    uint32_t rank = 0;

    for (size_t i = 0; i < n_neg; i++) {
        if (neg_items && neg_items[i] == pos_item)
            continue;
        /* written as !(neg < pos) so a NaN on either side also counts
         * against the positive: a broken model must not score hits */
        if (!(neg_scores[i] < pos_score))
            rank++;
    }
    return rank;
}

double
fr_eval_hit(uint32_t rank, uint32_t k)
{
    return rank < k ? 1.0 : 0.0;
}

double
fr_eval_ndcg(uint32_t rank, uint32_t k)
{
    return rank < k ? 1.0 / log2((double)rank + 2.0) : 0.0;
}
