/*
 * eval.h - ranking metrics for leave-one-out evaluation.
 *
 * Protocol: the held-out positive is ranked among its sampled negatives; a
 * negative whose score ties the positive counts as ranked above it (the
 * pessimistic convention). A negative that is the positive itself (same item
 * id) is ignored, so a duplicated positive counts once.
 */
#ifndef FR_MODEL_EVAL_H
#define FR_MODEL_EVAL_H

#include <stddef.h>
#include <stdint.h>

/* 0-based rank of the positive: the number of negatives (excluding entries
 * whose item equals pos_item) with score >= pos_score. neg_items may be NULL,
 * in which case no entry is excluded. */
uint32_t fr_eval_rank(float pos_score, uint32_t pos_item,
                      const float *neg_scores, const uint32_t *neg_items,
                      size_t n_neg);

/* HR@k: 1 if rank < k. NDCG@k: 1/log2(rank + 2) if rank < k, else 0. */
double fr_eval_hit(uint32_t rank, uint32_t k);
double fr_eval_ndcg(uint32_t rank, uint32_t k);

typedef struct fr_eval_result {
    double hr;      /* mean HR@k over evaluated members */
    double ndcg;    /* mean NDCG@k */
    uint32_t count; /* members evaluated */
} fr_eval_result;

#endif
