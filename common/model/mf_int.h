/*
 * mf_int.h - the fr_mf state and the item samplers, shared by mf.c
 * (split, evaluation, recommendations) and mf_train.c (SGD).
 */
#ifndef FR_MODEL_MF_INT_H
#define FR_MODEL_MF_INT_H

#include <stddef.h>
#include <math.h>
#include <stdint.h>

#include "../base/util.h"
#include "mf.h"

#define NO_ITEM UINT32_MAX
/* distinct streams from one user seed (ASCII tags, arbitrary but fixed) */
#define STREAM_INIT 0x6d656d6265727321ull
#define STREAM_EVAL 0x6576616c6e656773ull
#define STREAM_TRAIN 0x747261696e696e67ull
#define STREAM_HOLDOUT 0x686f6c646f757421ull

struct fr_mf {
    const fr_dataset *data;
    uint32_t n_members;
    uint32_t n_items;
    uint32_t dim;
    float *p;              /* n_members x dim member embeddings */
    uint32_t *n_train;     /* per member: training positives */
    uint32_t *train_items; /* training positives, member after member */
    uint32_t *seen_sorted; /* all items of each member, ascending */
    size_t *train_off;     /* n_members + 1 offsets into train_items */
    size_t *seen_off;      /* n_members + 1 offsets into seen_sorted */
    uint32_t *test_item;   /* per member: held-out item or NO_ITEM */
    uint32_t *eval_neg;    /* n_members x FR_MF_EVAL_NEGATIVES */
    uint32_t *n_eval_neg;  /* per member: < 99 only if few items are left */
    float *popularity;     /* per item: training count on this store */
    uint32_t *order;       /* members with at least one training positive */
    uint32_t n_order;
    uint64_t train_examples;
};

/* Nonzero if model has the item count and dim this fr_mf was built for. */
int fr_mf_shape_matches(const fr_mf *mf, const fr_model *model);

/* Member u's training positives (n_train[u] of them). Borrowed. */
static inline const uint32_t *
fr_mf_train_items(const fr_mf *mf, uint32_t u)
{
    return mf->train_items + mf->train_off[u];
}

/* <p, q> + bias with a fixed summation order: the one scoring kernel, so
 * that every caller gets bit-identical scores for the same pair. */
float fr_mf_dot_score(const float *p, const float *q, float bias,
                      uint32_t dim);

/*
 * Samplers draw uniformly from the items whose mask byte is 0 (n_free of
 * them, exactly). fr_mf_use_rejection says whether rejection is cheap
 * (at least half the catalogue free); if not, the caller lists the free
 * items into a pool once with fr_mf_list_free and fr_mf_draw_free picks
 * from the pool, so a draw can never spin.
 */
void fr_mf_mask_items(uint8_t *mask, const uint32_t *items, uint32_t n,
                      uint8_t v);
int fr_mf_use_rejection(uint32_t n_free, uint32_t n_items);
uint32_t fr_mf_list_free(const uint8_t *mask, uint32_t n_items,
                         uint32_t *pool);
/* pool NULL: rejection against mask; otherwise a uniform pick from pool. */
uint32_t fr_mf_draw_free(fr_rng *rng, const uint8_t *mask, uint32_t n_items,
                         const uint32_t *pool, uint32_t n_pool);

/* Most sampled negatives per positive, for every training path. */
#define FR_MF_MAX_NEGATIVES 1000u

/* The logistic function, without overflow for large |x|. */
static inline double
fr_mf_sigmoid(double x)
{
    if (x >= 0)
        return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

/* log(1 + e^x) without overflow: -log s(x) == softplus(-x). */
static inline double
fr_mf_softplus(double x)
{
    return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
}

#endif
