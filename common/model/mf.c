/*
 * mf.c - a store's side of the model: the leave-one-out split, member
 * embeddings, evaluation and recommendations. Training is in mf_train.c.
 * See mf.h.
 *
 * DESIGN
 * Split. Data are sorted oldest first (data.h). The hold-out rule picks at
 * most one item per member with at least two interactions: the last one
 * (LATEST), one drawn from the seed (RANDOM, for validation) or none; the
 * rest, in data order, are copied to train_items. Evaluation negatives are
 * drawn once at construction, distinct and never interacted with, so every
 * evaluation of the same fr_mf ranks against the same candidates.
 *
 * Scoring. Every score this file reports (evaluation, fr_mf_score,
 * recommendations, segments) goes through fr_mf_dot_score, a plain loop
 * with a fixed summation order, so the same (member, item) pair scores the
 * same bits whichever function asked. The sizes here (hundreds of
 * candidates, one row per member) do not need BLAS; training does.
 *
 * Member embeddings are the store's private state: they leave only through
 * fr_mf_encode_members and are wiped when the fr_mf is destroyed.
 *
 * Threads: an fr_mf is used by one thread at a time; the const functions
 * allocate their own scratch and may run concurrently with each other.
 */
#include "mf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../base/util.h"
#include "mf_int.h"
#include "model_int.h"

#define MEMBER_INIT_SCALE 0.1
#define MEMBERS_MAGIC "FRMB"
#define MEMBERS_VERSION 1u

/* ---- sampling (contracts in mf_int.h) ---------------------------------- */

uint32_t
fr_mf_list_free(const uint8_t *mask, uint32_t n_items, uint32_t *pool)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < n_items; i++)
        if (!mask[i])
            pool[n++] = i;
    return n;
}

/* At least half free: rejection needs fewer than two tries on average. */
int
fr_mf_use_rejection(uint32_t n_free, uint32_t n_items)
{
    return (uint64_t)n_free * 2 >= n_items;
}

uint32_t
fr_mf_draw_free(fr_rng *rng, const uint8_t *mask, uint32_t n_items,
                const uint32_t *pool, uint32_t n_pool)
{
    if (!pool) {
        for (;;) {
            uint32_t j = (uint32_t)fr_rng_below(rng, n_items);
            if (!mask[j])
                return j;
        }
    }
    return pool[fr_rng_below(rng, n_pool)];
}

/* Draws want distinct free items into out (want <= n_free). Items drawn by
 * rejection are masked while drawing and unmasked before returning. */
static void
draw_distinct(fr_rng *rng, uint8_t *mask, uint32_t n_items, uint32_t n_free,
              uint32_t *pool, uint32_t *out, uint32_t want)
{
    if (fr_mf_use_rejection(n_free, n_items)) {
        for (uint32_t k = 0; k < want; k++) {
            out[k] = fr_mf_draw_free(rng, mask, n_items, NULL, 0);
            mask[out[k]] = 1;
        }
        for (uint32_t k = 0; k < want; k++)
            mask[out[k]] = 0;
        return;
    }
    uint32_t n = fr_mf_list_free(mask, n_items, pool);
    for (uint32_t k = 0; k < want; k++) { /* partial Fisher-Yates */
        uint32_t j = k + (uint32_t)fr_rng_below(rng, n - k);
        uint32_t t = pool[k];
        pool[k] = pool[j];
        pool[j] = t;
        out[k] = pool[k];
    }
}

void
fr_mf_mask_items(uint8_t *mask, const uint32_t *items, uint32_t n, uint8_t v)
{
    for (uint32_t k = 0; k < n; k++)
        mask[items[k]] = v;
}

/* ---- construction ------------------------------------------------------ */

static fr_err
alloc_arrays(fr_mf *mf)
{
    size_t n_emb, n_neg, n_int = (size_t)fr_dataset_n_interactions(mf->data);
    size_t nm = mf->n_members ? mf->n_members : 1;

    if (n_int == 0)
        n_int = 1;
    if (fr_model_size_mul(nm, mf->dim, &n_emb) ||
        fr_model_size_mul(nm, FR_MF_EVAL_NEGATIVES, &n_neg) ||
        n_neg > SIZE_MAX / sizeof(uint32_t) ||
        n_int > SIZE_MAX / sizeof(uint32_t))
        return FR_ENOMEM;
    mf->p = fr_model_falloc(n_emb);
    mf->n_train = calloc(nm, sizeof *mf->n_train);
    mf->train_items = calloc(n_int, sizeof *mf->train_items);
    mf->seen_sorted = calloc(n_int, sizeof *mf->seen_sorted);
    mf->train_off = calloc(nm + 1, sizeof *mf->train_off);
    mf->seen_off = calloc(nm + 1, sizeof *mf->seen_off);
    mf->test_item = calloc(nm, sizeof *mf->test_item);
    mf->eval_neg = calloc(n_neg, sizeof *mf->eval_neg);
    mf->n_eval_neg = calloc(nm, sizeof *mf->n_eval_neg);
    mf->order = calloc(nm, sizeof *mf->order);
    mf->popularity = fr_model_falloc(mf->n_items);
    if (!mf->p || !mf->n_train || !mf->train_items || !mf->seen_sorted ||
        !mf->train_off || !mf->seen_off || !mf->test_item || !mf->eval_neg ||
        !mf->n_eval_neg || !mf->order || !mf->popularity)
        return FR_ENOMEM;
    return FR_OK;
}

/* Position of u's held-out item among its n items, or n for none. */
static uint32_t
holdout_pos(fr_mf_holdout holdout, fr_rng *rng, uint32_t n)
{
    if (n < 2 || holdout == FR_MF_HOLDOUT_NONE)
        return n;
    if (holdout == FR_MF_HOLDOUT_RANDOM)
        return (uint32_t)fr_rng_below(rng, n);
    return n - 1;
}

static int
cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Splits every member's history into training positives and a held-out
 * item, counts item popularity on the training part and keeps a sorted
 * copy of each history for fr_mf_member_has. */
static void
split_members(fr_mf *mf, fr_mf_holdout holdout, uint64_t seed)
{
    size_t t_off = 0, s_off = 0;
    fr_rng rng;

    fr_rng_seed(&rng, seed ^ STREAM_HOLDOUT);
    for (uint32_t u = 0; u < mf->n_members; u++) {
        uint32_t n;
        const uint32_t *items = fr_dataset_member_items(mf->data, u, &n);
        uint32_t h = holdout_pos(holdout, &rng, n);

        mf->train_off[u] = t_off;
        mf->seen_off[u] = s_off;
        mf->test_item[u] = h < n ? items[h] : NO_ITEM;
        for (uint32_t k = 0; k < n; k++) {
            mf->seen_sorted[s_off++] = items[k];
            if (k == h)
                continue;
            mf->train_items[t_off++] = items[k];
            mf->popularity[items[k]] += 1.0f;
        }
        qsort(mf->seen_sorted + mf->seen_off[u], n, sizeof(uint32_t),
              cmp_u32);
        mf->n_train[u] = (uint32_t)(t_off - mf->train_off[u]);
        if (mf->n_train[u] > 0)
            mf->order[mf->n_order++] = u;
        mf->train_examples += mf->n_train[u];
    }
    mf->train_off[mf->n_members] = t_off;
    mf->seen_off[mf->n_members] = s_off;
}

static void
init_members(fr_mf *mf, uint64_t seed)
{
    size_t n = (size_t)mf->n_members * mf->dim;
    fr_rng rng;

    fr_rng_seed(&rng, seed ^ STREAM_INIT);
    for (size_t i = 0; i < n; i++)
        mf->p[i] = (float)(MEMBER_INIT_SCALE * fr_rng_normal(&rng));
}

/* Draws each member's evaluation negatives from items it never touched. */
static fr_err
draw_eval_negatives(fr_mf *mf, uint64_t seed)
{
    uint8_t *mask = calloc(mf->n_items, 1);
    uint32_t *pool = calloc(mf->n_items, sizeof *pool);
    fr_rng rng;
    fr_err rc = FR_OK;

    if (!mask || !pool) {
        rc = FR_ENOMEM;
        goto out;
    }
    fr_rng_seed(&rng, seed ^ STREAM_EVAL);
    for (uint32_t u = 0; u < mf->n_members; u++) {
        uint32_t n, want;
        const uint32_t *items = fr_dataset_member_items(mf->data, u, &n);

        if (mf->test_item[u] == NO_ITEM)
            continue;
        want = mf->n_items - n;
        if (want > FR_MF_EVAL_NEGATIVES)
            want = FR_MF_EVAL_NEGATIVES;
        fr_mf_mask_items(mask, items, n, 1);
        draw_distinct(&rng, mask, mf->n_items, mf->n_items - n, pool,
                      mf->eval_neg + (size_t)u * FR_MF_EVAL_NEGATIVES, want);
        fr_mf_mask_items(mask, items, n, 0);
        mf->n_eval_neg[u] = want;
    }
out:
    free(mask);
    free(pool);
    return rc;
}

fr_err
fr_mf_new_holdout(fr_mf **out, const fr_dataset *data, uint32_t dim,
                  uint64_t seed, fr_mf_holdout holdout)
{
    fr_mf *mf = NULL;
    fr_err rc;

    if (!data || dim == 0 || dim > FR_MODEL_MAX_DIM ||
        (holdout != FR_MF_HOLDOUT_LATEST && holdout != FR_MF_HOLDOUT_RANDOM &&
         holdout != FR_MF_HOLDOUT_NONE))
        return FR_EINVAL;
    mf = calloc(1, sizeof *mf);
    if (!mf)
        return FR_ENOMEM;
    mf->data = data;
    mf->n_members = fr_dataset_n_members(data);
    mf->n_items = fr_dataset_n_items(data);
    mf->dim = dim;
    if ((rc = alloc_arrays(mf)) != FR_OK)
        goto out;
    split_members(mf, holdout, seed);
    /* an unfinalized dataset reports no items for anyone, so it lands here */
    if (mf->train_examples == 0) {
        rc = FR_EINVAL;
        goto out;
    }
    init_members(mf, seed);
    if ((rc = draw_eval_negatives(mf, seed)) != FR_OK)
        goto out;
    *out = mf;
    mf = NULL;
out:
    fr_mf_destroy(&mf);
    return rc;
}

fr_err
fr_mf_new(fr_mf **out, const fr_dataset *data, uint32_t dim, uint64_t seed)
{
    return fr_mf_new_holdout(out, data, dim, seed, FR_MF_HOLDOUT_LATEST);
}

void
fr_mf_destroy(fr_mf **mp)
{
    fr_mf *mf;

    if (!mp || !*mp)
        return;
    mf = *mp;
    if (mf->p) /* member embeddings are the store's private data */
        explicit_bzero(mf->p, (size_t)mf->n_members * mf->dim * sizeof(float));
    free(mf->p);
    free(mf->n_train);
    free(mf->train_items);
    free(mf->seen_sorted);
    free(mf->train_off);
    free(mf->seen_off);
    free(mf->test_item);
    free(mf->eval_neg);
    free(mf->n_eval_neg);
    free(mf->popularity);
    free(mf->order);
    free(mf);
    *mp = NULL;
}

uint64_t
fr_mf_train_examples(const fr_mf *mf)
{
    return mf->train_examples;
}

uint32_t
fr_mf_n_members(const fr_mf *mf)
{
    return mf->n_members;
}

int
fr_mf_member_has(const fr_mf *mf, uint32_t member, uint32_t item)
{
    if (member >= mf->n_members)
        return 0;
    return bsearch(&item, mf->seen_sorted + mf->seen_off[member],
                   mf->seen_off[member + 1] - mf->seen_off[member],
                   sizeof(uint32_t), cmp_u32) != NULL;
}

int
fr_mf_shape_matches(const fr_mf *mf, const fr_model *model)
{
    return fr_model_n_items(model) == mf->n_items &&
           fr_model_dim(model) == mf->dim;
}

/* ---- evaluation and recommendation ------------------------------------- */

float
fr_mf_dot_score(const float *p, const float *q, float bias, uint32_t dim)
{
    float acc[8] = {0};
    uint32_t t = 0;

    for (; t + 8 <= dim; t += 8)
        for (uint32_t l = 0; l < 8; l++)
            acc[l] += p[t + l] * q[t + l];
    for (uint32_t l = 0; t < dim; t++, l++)
        acc[l] += p[t] * q[t];
    return (((acc[0] + acc[1]) + (acc[2] + acc[3])) +
            ((acc[4] + acc[5]) + (acc[6] + acc[7]))) +
           bias;
}

static float
score_one(const fr_mf *mf, const fr_model *model, uint32_t u, uint32_t i)
{
    return fr_mf_dot_score(mf->p + (size_t)u * mf->dim,
                           fr_model_item_emb_const(model) +
                               (size_t)i * mf->dim,
                           fr_model_item_bias_const(model)[i], mf->dim);
}

fr_err
fr_mf_score(const fr_mf *mf, const fr_model *model, uint32_t member,
            const uint32_t *items, size_t n, float *scores_out)
{
    if (member >= mf->n_members)
        return FR_ENOENT;
    if (!fr_mf_shape_matches(mf, model))
        return FR_EINVAL;
    for (size_t k = 0; k < n; k++)
        if (items[k] >= mf->n_items)
            return FR_EINVAL;
    for (size_t k = 0; k < n; k++)
        scores_out[k] = score_one(mf, model, member, items[k]);
    return FR_OK;
}

/* Leave-one-out over members with a held-out item; model NULL scores by
 * training popularity instead. */
static void
evaluate_with(const fr_mf *mf, const fr_model *model, fr_eval_result *out)
{
    float neg_scores[FR_MF_EVAL_NEGATIVES];
    fr_eval_result r = {0};

    for (uint32_t u = 0; u < mf->n_members; u++) {
        const uint32_t *negs = mf->eval_neg + (size_t)u * FR_MF_EVAL_NEGATIVES;
        uint32_t pos = mf->test_item[u], n_neg = mf->n_eval_neg[u], rank;
        float pos_score;

        if (pos == NO_ITEM || n_neg == 0)
            continue; /* nothing to rank against */
        pos_score = model ? score_one(mf, model, u, pos) : mf->popularity[pos];
        for (uint32_t k = 0; k < n_neg; k++)
            neg_scores[k] = model ? score_one(mf, model, u, negs[k])
                                  : mf->popularity[negs[k]];
        rank = fr_eval_rank(pos_score, pos, neg_scores, negs, n_neg);
        r.hr += fr_eval_hit(rank, FR_MF_EVAL_K);
        r.ndcg += fr_eval_ndcg(rank, FR_MF_EVAL_K);
        r.count++;
    }
    if (r.count > 0) {
        r.hr /= r.count;
        r.ndcg /= r.count;
    }
    *out = r;
}

fr_err
fr_mf_evaluate(const fr_mf *mf, const fr_model *model, fr_eval_result *out)
{
    if (!fr_mf_shape_matches(mf, model))
        return FR_EINVAL;
    evaluate_with(mf, model, out);
    return FR_OK;
}

fr_err
fr_mf_evaluate_popularity(const fr_mf *mf, fr_eval_result *out)
{
    evaluate_with(mf, NULL, out);
    return FR_OK;
}

typedef struct scored {
    float score;
    uint32_t id; /* an item, or a member in segments */
} scored;

/* Descending score, then ascending item; NaN sorts last. A total order, so
 * qsort's instability cannot change the result. */
static int
cmp_scored(const void *a, const void *b)
{
    const scored *x = a, *y = b;
    float sx = isnan(x->score) ? -INFINITY : x->score;
    float sy = isnan(y->score) ? -INFINITY : y->score;

    if (sx != sy)
        return sx > sy ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* Scores every item for u and lists the ones u never interacted with. */
static uint32_t
unseen_scores(const fr_mf *mf, const fr_model *model, uint32_t u,
              uint8_t *mask, scored *cand)
{
    uint32_t n_seen, n = 0;
    const uint32_t *seen = fr_dataset_member_items(mf->data, u, &n_seen);

    fr_mf_mask_items(mask, seen, n_seen, 1);
    for (uint32_t i = 0; i < mf->n_items; i++)
        if (!mask[i])
            cand[n++] = (scored){score_one(mf, model, u, i), i};
    return n;
}

fr_err
fr_mf_recommend(const fr_mf *mf, const fr_model *model, uint32_t member,
                uint32_t k, uint32_t *items_out, float *scores_out,
                uint32_t *n_out)
{
    uint8_t *mask = NULL;
    scored *cand = NULL;
    uint32_t n;
    fr_err rc = FR_OK;

    if (member >= mf->n_members)
        return FR_ENOENT;
    if (!fr_mf_shape_matches(mf, model))
        return FR_EINVAL;
    mask = calloc(mf->n_items, 1);
    cand = malloc((size_t)mf->n_items * sizeof *cand);
    if (!mask || !cand) {
        rc = FR_ENOMEM;
        goto out;
    }
    n = unseen_scores(mf, model, member, mask, cand);
    qsort(cand, n, sizeof *cand, cmp_scored);
    if (n > k)
        n = k;
    for (uint32_t t = 0; t < n; t++) {
        items_out[t] = cand[t].id;
        scores_out[t] = cand[t].score;
    }
    *n_out = n;
out:
    free(mask);
    free(cand);
    return rc;
}

/* Members ranked for one item: the same total order as items above
 * (descending score, then ascending index). */
fr_err
fr_mf_segment(const fr_mf *mf, const fr_model *model, uint32_t item,
              uint32_t k, uint32_t *members_out, float *scores_out,
              uint32_t *n_out)
{
    scored *cand = NULL;
    uint32_t n = 0;

    if (!fr_mf_shape_matches(mf, model) || item >= mf->n_items)
        return FR_EINVAL;
    cand = malloc((size_t)(mf->n_members ? mf->n_members : 1) * sizeof *cand);
    if (!cand)
        return FR_ENOMEM;
    for (uint32_t u = 0; u < mf->n_members; u++)
        if (!fr_mf_member_has(mf, u, item))
            cand[n++] = (scored){score_one(mf, model, u, item), u};
    qsort(cand, n, sizeof *cand, cmp_scored);
    if (n > k)
        n = k;
    for (uint32_t t = 0; t < n; t++) {
        members_out[t] = cand[t].id;
        scores_out[t] = cand[t].score;
    }
    *n_out = n;
    free(cand);
    return FR_OK;
}

/* ---- member embeddings on disk ----------------------------------------- */

fr_err
fr_mf_encode_members(const fr_mf *mf, uint8_t **buf_out, size_t *len_out)
{
    return fr_model_frame_encode(MEMBERS_MAGIC, MEMBERS_VERSION,
                                 mf->n_members, mf->dim, mf->p,
                                 (size_t)mf->n_members * mf->dim, buf_out,
                                 len_out);
}

fr_err
fr_mf_decode_members(fr_mf *mf, const uint8_t *buf, size_t len)
{
    uint32_t n_members, dim;

    if (fr_model_frame_header(buf, len, MEMBERS_MAGIC, MEMBERS_VERSION,
                              &n_members, &dim) ||
        n_members != mf->n_members || dim != mf->dim)
        return FR_EPROTO;
    return fr_model_frame_floats(buf, len, (size_t)n_members * dim, mf->p);
}
