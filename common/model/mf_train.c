/*
 * mf_train.c - mini-batch SGD for the local model. See mf.h; the split and
 * the fr_mf state are in mf.c.
 *
 * DESIGN
 * Objective. Member u has positives P_u and, per positive, K items drawn
 * uniformly from the items u has no training interaction with. With
 * x = <p_u, q_i> + b_i and s the logistic function, every positive adds the
 * pair loss -log s(x) and every sampled negative -log s(-x). The loss we
 * report is the mean over members of
 *   L_u = 1/|P_u| * sum_{i in P_u} [ -log s(x_ui) + sum_{k<K} -log s(-x_uj) ].
 * The held-out item is not excluded from the training negatives: training
 * must not know what the evaluation will ask. opts->loss swaps the pair
 * terms for BPR (-log s(x_ui - x_uj) per sampled j), a sampled softmax
 * (the positive against its K negatives) or a full softmax over the
 * catalogue (lse_u - x_ui per positive); all share the step below.
 *
 * Step. G holds the per-pair gradients with respect to the scores
 * (s(x) - 1 for a positive, s(x) for a negative). Each member row moves by
 * the mean over its positives (1/|P_u| G Q), each item row and bias by the
 * mean over the loss terms that hit that item in the batch (H^-1 G^T P_B,
 * H = diag(max(hits, 1)); for the full softmax an item's hits are its
 * observed plus expected positives, and the floor keeps items the batch
 * barely touched from taking full-size steps). That is gradient descent on the sum of pair losses with
 * a diagonal preconditioner; unlike the plain summed gradient, the step no
 * longer grows with batch size, store size, a member's activity or an
 * item's popularity (summed, a popular item in a batch of 1,000 members
 * took steps large enough to oscillate at the lr that suits 200). L2 decays
 * only the rows a batch touched.
 *
 * Batch maths. With P_B the batch's member rows and Q the item rows:
 *   S  = 1 b^T + P_B Q^T          one sgemm, bias pre-filled (B x n)
 *   G  = dL/dS per pair, dense    zero except positives and negatives
 *   dP = G Q                      sgemm (B x d), row u scaled by 1/|P_u|
 *   G  = G H^-1                   columns scaled by 1/hits
 *   Q  = (1 - lr l2) Q - lr G^T P_B   touched rows; sgemm with beta = 1
 *   b  = b - lr G^T 1             sgemv
 * B is capped so that S and G stay within MAX_BATCH_FLOATS each.
 *
 * Determinism. All randomness comes from fr_rng streams derived from the
 * seeds; members are visited in a seeded shuffle; with a single OpenBLAS
 * thread the same inputs give bit-identical outputs.
 *
 * Threads: fr_mf_train changes the fr_mf and the model; fr_mf_loss only
 * reads both and allocates its own scratch.
 */
#include "mf.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../base/util.h"
#include "mf_int.h"
#include "model_int.h"

#define MAX_BATCH_FLOATS (1u << 22)

/* Scratch for a pass over batches; sized once per call. */
typedef struct batch_ws {
    uint32_t cap;      /* members per batch */
    uint32_t dim;
    float *pb;         /* cap x dim gathered member rows */
    float *s;          /* cap x n_items scores */
    float *g;          /* cap x n_items loss gradient w.r.t. scores */
    float *dp;         /* cap x dim */
    float *ones;       /* cap ones, for the bias column sums */
    uint8_t *mask;     /* n_items: items excluded from sampling */
    uint32_t *pool;    /* n_items: explicit candidate list when dense */
    float *hits;       /* n_items: weight of loss terms hitting each item */
    float *inv_hits;   /* n_items: 1 / hits, 0 for untouched items */
    uint32_t *negs;    /* FR_MF_MAX_NEGATIVES drawn for one positive */
    float *zs;         /* FR_MF_MAX_NEGATIVES + 1 logits of one sampled softmax */
    uint32_t *touched_list;
    uint32_t n_touched;
} batch_ws;

void
fr_mf_opts_default(fr_mf_opts *o)
{
    /* tuned on fedrec-datagen output (5 stores x 200 members x 500
     * items, dim 32); lr 3 already oscillates on sparse data, so 1.5 keeps
     * a factor of two in hand */
    o->epochs = 2;
    o->lr = 1.5f;
    o->negatives = 4;
    o->l2 = 0.03f;
    o->batch_size = 128;
    o->seed = 1;
    o->loss = FR_MF_LOSS_LOGISTIC;
}

/* ---- batch workspace --------------------------------------------------- */

static void
ws_free(batch_ws *ws)
{
    /* pb and dp held member rows, which are the store's private data */
    if (ws->pb)
        explicit_bzero(ws->pb, (size_t)ws->cap * ws->dim * sizeof(float));
    if (ws->dp)
        explicit_bzero(ws->dp, (size_t)ws->cap * ws->dim * sizeof(float));
    free(ws->pb);
    free(ws->s);
    free(ws->g);
    free(ws->dp);
    free(ws->ones);
    free(ws->mask);
    free(ws->pool);
    free(ws->hits);
    free(ws->inv_hits);
    free(ws->negs);
    free(ws->zs);
    free(ws->touched_list);
    memset(ws, 0, sizeof *ws);
}

static fr_err
ws_init(batch_ws *ws, const fr_mf *mf, uint32_t batch_size)
{
    uint32_t cap = MAX_BATCH_FLOATS / mf->n_items;

    memset(ws, 0, sizeof *ws);
    if (cap == 0)
        cap = 1;
    if (cap > batch_size)
        cap = batch_size;
    if (cap > mf->n_order)
        cap = mf->n_order;
    ws->cap = cap;
    ws->dim = mf->dim;
    ws->pb = fr_model_falloc((size_t)cap * mf->dim);
    ws->dp = fr_model_falloc((size_t)cap * mf->dim);
    ws->s = fr_model_falloc((size_t)cap * mf->n_items);
    ws->g = fr_model_falloc((size_t)cap * mf->n_items);
    ws->ones = fr_model_falloc(cap);
    ws->mask = calloc(mf->n_items, 1);
    ws->hits = fr_model_falloc(mf->n_items);
    ws->inv_hits = fr_model_falloc(mf->n_items);
    ws->negs = calloc(FR_MF_MAX_NEGATIVES, sizeof *ws->negs);
    ws->zs = fr_model_falloc(FR_MF_MAX_NEGATIVES + 1);
    ws->pool = calloc(mf->n_items, sizeof *ws->pool);
    ws->touched_list = calloc(mf->n_items, sizeof *ws->touched_list);
    if (!ws->pb || !ws->dp || !ws->s || !ws->g || !ws->ones || !ws->mask ||
        !ws->hits || !ws->inv_hits || !ws->negs || !ws->zs || !ws->pool ||
        !ws->touched_list) {
        ws_free(ws);
        return FR_ENOMEM;
    }
    for (uint32_t b = 0; b < cap; b++)
        ws->ones[b] = 1.0f;
    return FR_OK;
}

/* ---- one batch --------------------------------------------------------- */

/* S = 1 b^T + P_B Q^T for the nb members in members[]. */
static void
batch_score(const fr_mf *mf, const fr_model *model, batch_ws *ws,
            const uint32_t *members, uint32_t nb)
{
    const uint32_t n = mf->n_items, d = mf->dim;
    const float *bias = fr_model_item_bias_const(model);

    for (uint32_t b = 0; b < nb; b++) {
        memcpy(ws->pb + (size_t)b * d, mf->p + (size_t)members[b] * d,
               d * sizeof(float));
        memcpy(ws->s + (size_t)b * n, bias, n * sizeof(float));
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nb, (int)n,
                (int)d, 1.0f, ws->pb, (int)d, fr_model_item_emb_const(model),
                (int)d, 1.0f, ws->s, (int)n);
}

/* Records a loss term of weight w on item for the item preconditioner. */
static void
touch(batch_ws *ws, uint32_t item, float w)
{
    if (!(w > 0.0f))
        return;
    if (ws->hits[item] == 0.0f)
        ws->touched_list[ws->n_touched++] = item;
    ws->hits[item] += w;
}

/* One row of the batch: its scores, gradient row (NULL for the loss
 * only), positives and the negative sampler over the unmasked items. */
typedef struct row {
    const float *s;
    float *g;
    const uint32_t *pos;
    uint32_t n_pos;
    const uint32_t *pool; /* NULL: rejection against ws->mask */
    uint32_t n_free;
} row;

static void
add_grad(batch_ws *ws, const row *r, uint32_t item, double g)
{
    if (r->g) {
        r->g[item] += (float)g;
        touch(ws, item, 1.0f);
    }
}

static uint32_t
draw_negative(batch_ws *ws, const fr_mf *mf, const row *r, fr_rng *rng)
{
    return fr_mf_draw_free(rng, ws->mask, mf->n_items, r->pool, r->n_free);
}

/* Logistic: -log s(x_ui) + sum_k -log s(-x_uj). */
static double
terms_logistic(const fr_mf *mf, batch_ws *ws, const row *r, uint32_t k_neg,
               fr_rng *rng)
{
    double loss = 0.0;

    for (uint32_t k = 0; k < r->n_pos; k++) {
        uint32_t i = r->pos[k];
        loss += fr_mf_softplus(-(double)r->s[i]);
        add_grad(ws, r, i, fr_mf_sigmoid(r->s[i]) - 1.0);
        for (uint32_t t = 0; t < k_neg && r->n_free > 0; t++) {
            uint32_t j = draw_negative(ws, mf, r, rng);
            loss += fr_mf_softplus((double)r->s[j]);
            add_grad(ws, r, j, fr_mf_sigmoid(r->s[j]));
        }
    }
    return loss;
}

/* BPR: sum_k -log s(x_ui - x_uj). */
static double
terms_bpr(const fr_mf *mf, batch_ws *ws, const row *r, uint32_t k_neg,
          fr_rng *rng)
{
    double loss = 0.0;

    for (uint32_t k = 0; k < r->n_pos; k++) {
        uint32_t i = r->pos[k];
        for (uint32_t t = 0; t < k_neg && r->n_free > 0; t++) {
            uint32_t j = draw_negative(ws, mf, r, rng);
            double x = (double)r->s[i] - r->s[j], g = fr_mf_sigmoid(x) - 1.0;
            loss += fr_mf_softplus(-x);
            add_grad(ws, r, i, g);
            add_grad(ws, r, j, -g);
        }
    }
    return loss;
}

/* Sampled softmax: the positive against k_neg uniform negatives,
 * -x_ui + log(e^x_ui + sum_k e^x_uj). */
static double
terms_sampled_softmax(const fr_mf *mf, batch_ws *ws, const row *r,
                      uint32_t k_neg, fr_rng *rng)
{
    double loss = 0.0;

    if (r->n_free == 0)
        return 0.0;
    for (uint32_t k = 0; k < r->n_pos; k++) {
        uint32_t i = r->pos[k];
        double mx = r->s[i], z = 0.0;
        ws->zs[0] = r->s[i];
        for (uint32_t t = 0; t < k_neg; t++) {
            ws->negs[t] = draw_negative(ws, mf, r, rng);
            ws->zs[t + 1] = r->s[ws->negs[t]];
            mx = ws->zs[t + 1] > mx ? ws->zs[t + 1] : mx;
        }
        for (uint32_t t = 0; t <= k_neg; t++)
            z += exp((double)ws->zs[t] - mx);
        loss += mx + log(z) - r->s[i];
        add_grad(ws, r, i, exp((double)ws->zs[0] - mx) / z - 1.0);
        for (uint32_t t = 0; t < k_neg; t++)
            add_grad(ws, r, ws->negs[t], exp((double)ws->zs[t + 1] - mx) / z);
    }
    return loss;
}

/* Full softmax over the catalogue, one cross-entropy term per positive:
 * sum_i (lse_u - x_ui). The gradient row is |P_u| pi_u - y_u; an item's
 * preconditioner weight is its expected plus observed positives, so a
 * rare item's step is not drowned by the catalogue-wide normaliser. */
static double
terms_softmax(const fr_mf *mf, batch_ws *ws, const row *r)
{
    const uint32_t n = mf->n_items;
    double mx = r->s[0], z = 0.0, lse, loss = 0.0;

    for (uint32_t j = 1; j < n; j++)
        mx = r->s[j] > mx ? r->s[j] : mx;
    for (uint32_t j = 0; j < n; j++)
        z += exp((double)r->s[j] - mx);
    lse = mx + log(z);
    for (uint32_t k = 0; k < r->n_pos; k++)
        loss += lse - r->s[r->pos[k]];
    if (!r->g)
        return loss;
    for (uint32_t j = 0; j < n; j++) {
        float g = (float)((double)r->n_pos * exp((double)r->s[j] - lse));
        r->g[j] += g;
        touch(ws, j, g);
    }
    for (uint32_t k = 0; k < r->n_pos; k++) {
        r->g[r->pos[k]] -= 1.0f;
        touch(ws, r->pos[k], 1.0f);
    }
    return loss;
}

/* Adds member row b's loss terms to the gradient row and returns its loss
 * L_u (see DESIGN). grow is NULL when only the loss is wanted. */
static double
member_terms(const fr_mf *mf, batch_ws *ws, uint32_t u, uint32_t b,
             const fr_mf_opts *o, fr_rng *rng, float *grow)
{
    row r = {.s = ws->s + (size_t)b * mf->n_items,
             .g = grow,
             .pos = fr_mf_train_items(mf, u),
             .n_pos = mf->n_train[u]};
    double loss;

    r.n_free = mf->n_items - r.n_pos;
    fr_mf_mask_items(ws->mask, r.pos, r.n_pos, 1);
    if (r.n_free > 0 && !fr_mf_use_rejection(r.n_free, mf->n_items)) {
        fr_mf_list_free(ws->mask, mf->n_items, ws->pool);
        r.pool = ws->pool;
    }
    switch (o->loss) {
    case FR_MF_LOSS_SOFTMAX:
        loss = terms_softmax(mf, ws, &r);
        break;
    case FR_MF_LOSS_SAMPLED_SOFTMAX:
        loss = terms_sampled_softmax(mf, ws, &r, o->negatives, rng);
        break;
    case FR_MF_LOSS_BPR:
        loss = terms_bpr(mf, ws, &r, o->negatives, rng);
        break;
    default:
        loss = terms_logistic(mf, ws, &r, o->negatives, rng);
        break;
    }
    fr_mf_mask_items(ws->mask, r.pos, r.n_pos, 0);
    return loss / r.n_pos;
}

/* Fills G for the batch (if want_grad) and returns the sum of L_u. */
static double
batch_terms(const fr_mf *mf, batch_ws *ws, const uint32_t *members,
            uint32_t nb, const fr_mf_opts *o, fr_rng *rng, int want_grad)
{
    const size_t n = mf->n_items;
    double loss = 0.0;

    if (want_grad)
        memset(ws->g, 0, (size_t)nb * n * sizeof(float));
    for (uint32_t b = 0; b < nb; b++)
        loss += member_terms(mf, ws, members[b], b, o, rng,
                             want_grad ? ws->g + b * n : NULL);
    return loss;
}

static void
clear_touched(batch_ws *ws)
{
    for (uint32_t t = 0; t < ws->n_touched; t++) {
        ws->inv_hits[ws->touched_list[t]] = 0.0f;
        ws->hits[ws->touched_list[t]] = 0.0f;
    }
    ws->n_touched = 0;
}

/* Turns the per-pair column sums of G into per-item means (DESIGN) and
 * applies the L2 decay to the touched item rows. */
static void
average_items(const fr_mf *mf, fr_model *model, batch_ws *ws, uint32_t nb,
              float decay)
{
    const size_t n = mf->n_items;
    float *q = fr_model_item_emb(model);

    for (uint32_t t = 0; t < ws->n_touched; t++) {
        uint32_t i = ws->touched_list[t];
        ws->inv_hits[i] = 1.0f / (ws->hits[i] > 1.0f ? ws->hits[i] : 1.0f);
        cblas_sscal((int)mf->dim, decay, q + (size_t)i * mf->dim, 1);
    }
    for (uint32_t b = 0; b < nb; b++) {
        float *grow = ws->g + b * n;
        for (size_t i = 0; i < n; i++)
            grow[i] *= ws->inv_hits[i];
    }
    clear_touched(ws);
}

/* The member half of the SGD step of DESIGN. */
static void
update_members(fr_mf *mf, const fr_model *model, batch_ws *ws,
               const uint32_t *members, uint32_t nb, float lr, float decay)
{
    const int n = (int)mf->n_items, d = (int)mf->dim;

    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb, d, n,
                1.0f, ws->g, n, fr_model_item_emb_const(model), d, 0.0f,
                ws->dp, d);
    for (uint32_t b = 0; b < nb; b++) {
        float *pu = mf->p + (size_t)members[b] * mf->dim;
        cblas_sscal(d, decay, pu, 1);
        cblas_saxpy(d, -lr / (float)mf->n_train[members[b]],
                    ws->dp + (size_t)b * mf->dim, 1, pu, 1);
    }
}

/* The SGD step of DESIGN; P_B in ws->pb still holds the old member rows.
 * model NULL (fitting members only) leaves the item parameters alone. */
static void
batch_update(fr_mf *mf, const fr_model *cmodel, fr_model *model,
             batch_ws *ws, const uint32_t *members, uint32_t nb, float lr,
             float l2)
{
    const int n = (int)mf->n_items, d = (int)mf->dim;
    const float decay = 1.0f - lr * l2;

    update_members(mf, cmodel, ws, members, nb, lr, decay);
    if (!model) {
        clear_touched(ws);
        return;
    }
    average_items(mf, model, ws, nb, decay);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n, d, (int)nb, -lr,
                ws->g, n, ws->pb, d, 1.0f, fr_model_item_emb(model), d);
    cblas_sgemv(CblasRowMajor, CblasTrans, (int)nb, n, -lr, ws->g, n,
                ws->ones, 1, 1.0f, fr_model_item_bias(model), 1);
}

/* ---- training and loss ------------------------------------------------- */

static int
opts_valid(const fr_mf_opts *o)
{
    return o->epochs > 0 && o->batch_size > 0 && isfinite(o->lr) &&
           o->lr > 0.0f && isfinite(o->l2) && o->l2 >= 0.0f &&
           o->lr * o->l2 < 1.0f && o->negatives > 0 &&
           o->negatives <= FR_MF_MAX_NEGATIVES && o->loss < FR_MF_LOSS_COUNT;
}

static void
shuffle(fr_rng *rng, uint32_t *a, uint32_t n)
{
    for (uint32_t i = n; i > 1; i--) {
        uint32_t j = (uint32_t)fr_rng_below(rng, i);
        uint32_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

/* One epoch over order[]; returns the mean of L_u over trained members. */
static double
run_epoch(fr_mf *mf, const fr_model *cmodel, fr_model *model, batch_ws *ws,
          const uint32_t *order, const fr_mf_opts *o, fr_rng *rng)
{
    double loss = 0.0;

    for (uint32_t start = 0; start < mf->n_order; start += ws->cap) {
        uint32_t nb = mf->n_order - start < ws->cap ? mf->n_order - start
                                                    : ws->cap;
        batch_score(mf, cmodel, ws, order + start, nb);
        loss += batch_terms(mf, ws, order + start, nb, o, rng, 1);
        batch_update(mf, cmodel, model, ws, order + start, nb, o->lr, o->l2);
    }
    return loss / mf->n_order;
}

static int
all_finite(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return 0;
    return 1;
}

/* Runs the epochs; returns the last epoch's loss, stopping early once it is
 * no longer finite (the values are lost then anyway). */
static double
run_epochs(fr_mf *mf, const fr_model *cmodel, fr_model *model, batch_ws *ws,
           uint32_t *order, const fr_mf_opts *o)
{
    double loss = 0.0;
    fr_rng rng;

    memcpy(order, mf->order, (size_t)mf->n_order * sizeof *order);
    fr_rng_seed(&rng, o->seed ^ STREAM_TRAIN);
    for (uint32_t e = 0; e < o->epochs && isfinite(loss); e++) {
        shuffle(&rng, order, mf->n_order);
        loss = run_epoch(mf, cmodel, model, ws, order, o, &rng);
    }
    return loss;
}

/*
 * A step size too large for the data makes SGD diverge to inf/NaN. That is
 * reported as FR_ESTATE with the member embeddings restored, so the store's
 * private state survives and only the (caller's) model copy is lost.
 * model NULL: members only, against the fixed cmodel.
 */
static fr_err
train_with(fr_mf *mf, const fr_model *cmodel, fr_model *model,
           const fr_mf_opts *opts, double *loss_out)
{
    const size_t n_emb = (size_t)mf->n_members * mf->dim;
    batch_ws ws;
    uint32_t *order = NULL;
    float *saved = NULL;
    double loss;
    fr_err rc;

    if (!fr_mf_shape_matches(mf, cmodel) || !opts_valid(opts))
        return FR_EINVAL;
    if ((rc = ws_init(&ws, mf, opts->batch_size)) != FR_OK)
        return rc;
    order = malloc((size_t)mf->n_order * sizeof *order);
    saved = fr_model_falloc(n_emb);
    if (!order || !saved) {
        rc = FR_ENOMEM;
        goto out;
    }
    memcpy(saved, mf->p, n_emb * sizeof(float));
    loss = run_epochs(mf, cmodel, model, &ws, order, opts);
    if (!isfinite(loss) || !all_finite(mf->p, n_emb) ||
        (model && !all_finite(fr_model_params_const(model),
                              fr_model_n_params(model)))) {
        memcpy(mf->p, saved, n_emb * sizeof(float));
        rc = FR_ESTATE;
        goto out;
    }
    if (loss_out)
        *loss_out = loss;
out:
    if (saved)
        explicit_bzero(saved, n_emb * sizeof(float));
    free(saved);
    free(order);
    ws_free(&ws);
    return rc;
}

fr_err
fr_mf_train(fr_mf *mf, fr_model *model, const fr_mf_opts *opts,
            double *loss_out)
{
    return train_with(mf, model, model, opts, loss_out);
}

fr_err
fr_mf_fit_members(fr_mf *mf, const fr_model *model, const fr_mf_opts *opts,
                  double *loss_out)
{
    return train_with(mf, model, NULL, opts, loss_out);
}

/*
 * The loss uses the default number of negatives, sampled from seed, and
 * the same per-member weighting as training, so that its value can be
 * compared with the loss fr_mf_train reports under default options.
 */
fr_err
fr_mf_loss(const fr_mf *mf, const fr_model *model, uint64_t seed,
           double *loss_out)
{
    fr_mf_opts o;
    batch_ws ws;
    double loss = 0.0;
    fr_rng rng;
    fr_err rc;

    if (!fr_mf_shape_matches(mf, model))
        return FR_EINVAL;
    fr_mf_opts_default(&o);
    if ((rc = ws_init(&ws, mf, o.batch_size)) != FR_OK)
        return rc;
    fr_rng_seed(&rng, seed ^ STREAM_TRAIN);
    for (uint32_t start = 0; start < mf->n_order; start += ws.cap) {
        uint32_t nb = mf->n_order - start < ws.cap ? mf->n_order - start
                                                   : ws.cap;
        batch_score(mf, model, &ws, mf->order + start, nb);
        loss += batch_terms(mf, &ws, mf->order + start, nb, &o, &rng, 0);
    }
    ws_free(&ws);
    *loss_out = loss / mf->n_order;
    return FR_OK;
}

