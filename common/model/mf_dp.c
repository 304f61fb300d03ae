/*
 * mf_dp.c - member-level clipped updates for DP-FedAvg. See mf_dp.h.
 *
 * DESIGN
 * Local training. A member is trained alone, with the objective and step of
 * mf_train.c (DESIGN there) for a batch of one member and the logistic
 * loss: per epoch, every positive and `negatives` items sampled from the
 * items the member has no training interaction with are scored against the
 * member's current local model, then one step moves the member row by the
 * mean gradient over its positives and each touched item row and bias by
 * the mean over the terms that hit it; L2 decays the touched rows. The next
 * epoch scores against the moved rows, so the member's update is `epochs`
 * local steps, as in FedAvg.
 *
 * Scratch model. `work` is one copy of the global item parameters, made
 * once per call. A member changes only the rows it touched, which are
 * listed in `dirty`; after the member its delta (work - global on those
 * rows, in double) is clipped and added, and the rows are copied back from
 * global. A member costs O(rows touched x dim), never O(model).
 *
 * Independence. Members are visited in index order, each with its own
 * generator seeded from (train.seed, member id) and, with q < 1, its own
 * sampling coin from (sample_key, member id): nothing a member computes
 * depends on another member, so removing one leaves every other
 * contribution bit-identical. The coin is a ChaCha20 block (RFC 8439),
 * written out here so that model/ keeps to its dependencies (base only);
 * the test checks it against libsodium.
 *
 * Summation. The clipped deltas are summed with Kahan compensation per
 * coordinate (DP.md 2.2 step 3); the compensation is dropped at the end.
 *
 * Threads: the fr_mf's member embeddings change, the global model is read
 * only; scratch is allocated per call.
 */
#include "mf_dp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../base/log.h"
#include "../base/util.h"
#include "mf_int.h"
#include "model_int.h"

#define TAG           "mf_dp"
/* distinct from the streams in mf_int.h (ASCII "dp-train") */
#define STREAM_DP_TRAIN 0x64702d747261696eull

/* ---- the sampling coin: ChaCha20 block 0 ------------------------------- */

static uint32_t
rotl32(uint32_t x, int n)
{
    return (x << n) | (x >> (32 - n));
}

#define QR(a, b, c, d)                                                         \
    do {                                                                       \
        a += b, d = rotl32(d ^ a, 16);                                         \
        c += d, b = rotl32(b ^ c, 12);                                         \
        a += b, d = rotl32(d ^ a, 8);                                          \
        c += d, b = rotl32(b ^ c, 7);                                          \
    } while (0)

/* First 8 bytes of the ChaCha20 block (counter 0, nonce n0 n1 n2). */
static uint64_t
chacha20_u64(const uint8_t key[FR_MF_DP_KEY_BYTES], uint32_t n0, uint32_t n1,
             uint32_t n2)
{
    uint32_t in[16] = {0x61707865, 0x3320646e, 0x79622d32, 0x6b206574};
    uint32_t x[16];
    uint64_t r;

    for (int i = 0; i < 8; i++)
        in[4 + i] = fr_get_u32le(key + 4 * i);
    in[12] = 0;
    in[13] = n0;
    in[14] = n1;
    in[15] = n2;
    memcpy(x, in, sizeof x);
    for (int i = 0; i < 10; i++) {
        QR(x[0], x[4], x[8], x[12]);
        QR(x[1], x[5], x[9], x[13]);
        QR(x[2], x[6], x[10], x[14]);
        QR(x[3], x[7], x[11], x[15]);
        QR(x[0], x[5], x[10], x[15]);
        QR(x[1], x[6], x[11], x[12]);
        QR(x[2], x[7], x[8], x[13]);
        QR(x[3], x[4], x[9], x[14]);
    }
    r = (uint64_t)(x[0] + in[0]) | (uint64_t)(x[1] + in[1]) << 32;
    /* the state held key material */
    explicit_bzero(x, sizeof x);
    explicit_bzero(in, sizeof in);
    return r;
}

int
fr_mf_dp_sampled(const uint8_t *key, uint64_t member_id, double q)
{
    uint64_t u;

    if (q >= 1.0)
        return 1;
    if (!key || !(q > 0.0))
        return 0;
    /* nonce bytes: "mfdp", then the id little-endian */
    u = chacha20_u64(key, 0x7064666du, (uint32_t)member_id,
                     (uint32_t)(member_id >> 32));
    return (double)(u >> 11) * 0x1p-53 < q;
}

/* ---- numerics --------------------------------------------------------- */

/* SplitMix64 finaliser: spreads (seed, id) over the generator's seeds. */
static uint64_t
mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* ---- scratch ----------------------------------------------------------- */

typedef struct dp_ws {
    uint32_t n_items, dim;
    size_t n_params;
    float *work;       /* n_params: the member's local item parameters */
    double *comp;      /* n_params: Kahan compensation of the sum */
    double *g;         /* n_items: this epoch's gradient sum per item */
    uint32_t *hits;    /* n_items: this epoch's loss terms per item */
    uint32_t *touched; /* items hit in this epoch */
    uint32_t n_touched;
    uint8_t *dirty; /* n_items: rows of work that differ from global */
    uint32_t *dirty_list;
    uint32_t n_dirty;
    uint8_t *mask;  /* n_items: the member's positives */
    uint32_t *pool; /* n_items: free items when the member is dense */
    float *p_old;   /* dim: member row before the step */
    float *p_saved; /* dim: member row before training */
    float *dp;      /* dim: the member row's gradient */
} dp_ws;

static void
ws_free(dp_ws *ws)
{
    /* member rows and deltas are the store's private data */
    if (ws->p_old)
        explicit_bzero(ws->p_old, ws->dim * sizeof(float));
    if (ws->p_saved)
        explicit_bzero(ws->p_saved, ws->dim * sizeof(float));
    if (ws->dp)
        explicit_bzero(ws->dp, ws->dim * sizeof(float));
    if (ws->comp)
        explicit_bzero(ws->comp, ws->n_params * sizeof(double));
    free(ws->work);
    free(ws->comp);
    free(ws->g);
    free(ws->hits);
    free(ws->touched);
    free(ws->dirty);
    free(ws->dirty_list);
    free(ws->mask);
    free(ws->pool);
    free(ws->p_old);
    free(ws->p_saved);
    free(ws->dp);
    memset(ws, 0, sizeof *ws);
}

static fr_err
ws_init(dp_ws *ws, const fr_mf *mf, const fr_model *global)
{
    const size_t n = mf->n_items;

    memset(ws, 0, sizeof *ws);
    ws->n_items = mf->n_items;
    ws->dim = mf->dim;
    ws->n_params = fr_model_n_params(global);
    ws->work = fr_model_falloc(ws->n_params);
    ws->comp = calloc(ws->n_params, sizeof *ws->comp);
    ws->g = calloc(n, sizeof *ws->g);
    ws->hits = calloc(n, sizeof *ws->hits);
    ws->touched = calloc(n, sizeof *ws->touched);
    ws->dirty = calloc(n, 1);
    ws->dirty_list = calloc(n, sizeof *ws->dirty_list);
    ws->mask = calloc(n, 1);
    ws->pool = calloc(n, sizeof *ws->pool);
    ws->p_old = fr_model_falloc(mf->dim);
    ws->p_saved = fr_model_falloc(mf->dim);
    ws->dp = fr_model_falloc(mf->dim);
    if (!ws->work || !ws->comp || !ws->g || !ws->hits || !ws->touched ||
        !ws->dirty || !ws->dirty_list || !ws->mask || !ws->pool || !ws->p_old ||
        !ws->p_saved || !ws->dp) {
        ws_free(ws);
        return FR_ENOMEM;
    }
    memcpy(ws->work, fr_model_params_const(global),
           ws->n_params * sizeof(float));
    return FR_OK;
}

/* ---- one member -------------------------------------------------------- */

/* Adds a loss term with score gradient g on item. */
static void
hit(dp_ws *ws, uint32_t item, double g)
{
    if (ws->hits[item]++ == 0)
        ws->touched[ws->n_touched++] = item;
    ws->g[item] += g;
}

static float
score(const dp_ws *ws, const float *p, uint32_t i)
{
    const float *bias = ws->work + (size_t)ws->n_items * ws->dim;
    return fr_mf_dot_score(p, ws->work + (size_t)i * ws->dim, bias[i], ws->dim);
}

/* The member's negative sampler: a pool only when rejection is costly. */
typedef struct sampler {
    const uint32_t *pool;
    uint32_t n_free;
    fr_rng rng;
} sampler;

/* The logistic terms of one epoch; returns L_u (mf_train.c DESIGN). */
static double
member_terms(dp_ws *ws, const float *p, const uint32_t *pos, uint32_t n_pos,
             uint32_t k_neg, sampler *sm)
{
    double loss = 0.0;

    for (uint32_t k = 0; k < n_pos; k++) {
        float x = score(ws, p, pos[k]);
        loss += fr_mf_softplus(-(double)x);
        hit(ws, pos[k], fr_mf_sigmoid(x) - 1.0);
        for (uint32_t t = 0; t < k_neg && sm->n_free > 0; t++) {
            uint32_t j = fr_mf_draw_free(&sm->rng, ws->mask, ws->n_items,
                                         sm->pool, sm->n_free);
            x = score(ws, p, j);
            loss += fr_mf_softplus((double)x);
            hit(ws, j, fr_mf_sigmoid(x));
        }
    }
    return loss / n_pos;
}

/*
 * Row kernels. Rows are walked in blocks of LANES with a fixed inner trip
 * count, which the compiler turns into SIMD code at -O2 (a loop over an
 * unknown dim is left scalar there); restrict says the rows do not overlap.
 */
#define LANES 8u

static void
row_axpy(float *restrict y, float a, const float *restrict x, uint32_t d)
{
    uint32_t c = 0;

    for (; c + LANES <= d; c += LANES)
        for (uint32_t l = 0; l < LANES; l++)
            y[c + l] += a * x[c + l];
    for (; c < d; c++)
        y[c] += a * x[c];
}

/* y = decay * y - a * x */
static void
row_decay_axpy(float *restrict y, float decay, float a, const float *restrict x,
               uint32_t d)
{
    uint32_t c = 0;

    for (; c + LANES <= d; c += LANES)
        for (uint32_t l = 0; l < LANES; l++)
            y[c + l] = decay * y[c + l] - a * x[c + l];
    for (; c < d; c++)
        y[c] = decay * y[c] - a * x[c];
}

/* The step of mf_train.c DESIGN for a batch of one, in float as there; the
 * member row moves against the item rows before the step, the item rows
 * against the member row before the step. */
static void
member_step(dp_ws *ws, float *p, uint32_t n_pos, float lr, float l2)
{
    const uint32_t d = ws->dim;
    const float decay = 1.0f - lr * l2;
    float *q = ws->work, *bias = ws->work + (size_t)ws->n_items * d;

    memset(ws->dp, 0, d * sizeof *ws->dp);
    for (uint32_t t = 0; t < ws->n_touched; t++) {
        uint32_t i = ws->touched[t];
        row_axpy(ws->dp, (float)ws->g[i], q + (size_t)i * d, d);
    }
    memcpy(ws->p_old, p, d * sizeof(float));
    row_decay_axpy(p, decay, lr / (float)n_pos, ws->dp, d);
    for (uint32_t t = 0; t < ws->n_touched; t++) {
        uint32_t i = ws->touched[t];
        /* the mean over the terms that hit the item; hits >= 1 */
        float w = lr * (float)(ws->g[i] / ws->hits[i]);
        row_decay_axpy(q + (size_t)i * d, decay, w, ws->p_old, d);
        bias[i] -= w;
        if (!ws->dirty[i]) {
            ws->dirty[i] = 1;
            ws->dirty_list[ws->n_dirty++] = i;
        }
        ws->g[i] = 0.0;
        ws->hits[i] = 0;
    }
    ws->n_touched = 0;
}

/* sum_c (w[c] - g[c])^2 in double, in LANES partial sums. */
static double
row_dist2(const float *restrict w, const float *restrict g, uint32_t d)
{
    double a[LANES] = {0}, r = 0.0;
    uint32_t c = 0;

    for (; c + LANES <= d; c += LANES)
        for (uint32_t l = 0; l < LANES; l++) {
            double x = (double)w[c + l] - g[c + l];
            a[l] += x * x;
        }
    for (; c < d; c++) {
        double x = (double)w[c] - g[c];
        r += x * x;
    }
    for (uint32_t l = 0; l < LANES; l++)
        r += a[l];
    return r;
}

/* Squared L2 norm of work - global over the dirty rows; -1 if it is not
 * finite (a non-finite value anywhere makes it so). */
static double
delta_norm2(const dp_ws *ws, const fr_model *global)
{
    const uint32_t d = ws->dim;
    const size_t boff = (size_t)ws->n_items * d;
    const float *gp = fr_model_params_const(global);
    double acc = 0.0;

    for (uint32_t t = 0; t < ws->n_dirty; t++) {
        size_t i = ws->dirty_list[t], row = i * d;
        double xb = (double)ws->work[boff + i] - gp[boff + i];
        acc += row_dist2(ws->work + row, gp + row, d) + xb * xb;
    }
    return isfinite(acc) ? acc : -1.0;
}

/* Kahan-compensated sum[c] += scale * (w[c] - g[c]); each coordinate is
 * its own sum, so the blocks vectorise without reordering anything. */
static void
kahan_one(double *restrict sum, double *restrict comp, double x)
{
    double y = x - *comp, t = *sum + y;
    *comp = (t - *sum) - y;
    *sum = t;
}

static void
row_kahan(double *restrict sum, double *restrict comp, const float *restrict w,
          const float *restrict g, double scale, uint32_t d)
{
    uint32_t c = 0;

    for (; c + LANES <= d; c += LANES)
        for (uint32_t l = 0; l < LANES; l++) {
            double y = scale * ((double)w[c + l] - g[c + l]) - comp[c + l];
            double t = sum[c + l] + y;
            comp[c + l] = (t - sum[c + l]) - y;
            sum[c + l] = t;
        }
    for (; c < d; c++)
        kahan_one(sum + c, comp + c, scale * ((double)w[c] - g[c]));
}

/* sum += scale * (work - global) over the dirty rows (sum NULL: none),
 * then restores those rows from global. */
static void
flush_member(dp_ws *ws, const fr_model *global, double *sum, double scale)
{
    const uint32_t d = ws->dim;
    const size_t boff = (size_t)ws->n_items * d;
    const float *gp = fr_model_params_const(global);

    for (uint32_t t = 0; t < ws->n_dirty; t++) {
        size_t i = ws->dirty_list[t], row = i * d;
        if (sum) {
            row_kahan(sum + row, ws->comp + row, ws->work + row, gp + row,
                      scale, d);
            row_kahan(sum + boff + i, ws->comp + boff + i, ws->work + boff + i,
                      gp + boff + i, scale, 1);
        }
        memcpy(ws->work + row, gp + row, d * sizeof(float));
        ws->work[boff + i] = gp[boff + i];
        ws->dirty[i] = 0;
    }
    ws->n_dirty = 0;
}

typedef enum member_result {
    MEMBER_ADDED,
    MEMBER_CLIPPED,
    MEMBER_NONFINITE
} member_result;

static int
row_finite(const float *p, uint32_t d)
{
    for (uint32_t c = 0; c < d; c++)
        if (!isfinite(p[c]))
            return 0;
    return 1;
}

/* Trains member u alone from global, adds its clipped delta into sum and
 * leaves work equal to global again. *loss_out: its last-epoch L_u. */
static member_result
train_member(fr_mf *mf, const fr_model *global, dp_ws *ws,
             const fr_mf_dp_opts *o, uint32_t u, uint64_t id, double *sum,
             double *loss_out)
{
    const uint32_t n_pos = mf->n_train[u], d = mf->dim;
    const uint32_t *pos = fr_mf_train_items(mf, u);
    float *p = mf->p + (size_t)u * d;
    sampler sm = {.n_free = mf->n_items - n_pos};
    double loss = 0.0, norm2, scale = 1.0;
    member_result r = MEMBER_ADDED;

    fr_rng_seed(&sm.rng, mix64(o->train.seed ^ STREAM_DP_TRAIN) ^ id);
    memcpy(ws->p_saved, p, d * sizeof(float));
    fr_mf_mask_items(ws->mask, pos, n_pos, 1);
    if (sm.n_free > 0 && !fr_mf_use_rejection(sm.n_free, mf->n_items)) {
        fr_mf_list_free(ws->mask, mf->n_items, ws->pool);
        sm.pool = ws->pool;
    }
    for (uint32_t e = 0; e < o->train.epochs && isfinite(loss); e++) {
        loss = member_terms(ws, p, pos, n_pos, o->train.negatives, &sm);
        member_step(ws, p, n_pos, o->train.lr, o->train.l2);
    }
    fr_mf_mask_items(ws->mask, pos, n_pos, 0);
    norm2 = delta_norm2(ws, global);
    if (!isfinite(loss) || norm2 < 0.0 || !row_finite(p, d)) {
        memcpy(p, ws->p_saved, d * sizeof(float));
        flush_member(ws, global, NULL, 0.0);
        return MEMBER_NONFINITE;
    }
    if (norm2 > o->clip * o->clip) {
        scale = o->clip / sqrt(norm2);
        r = MEMBER_CLIPPED;
    }
    flush_member(ws, global, sum, scale);
    *loss_out = loss;
    return r;
}

/* ---- entry points ------------------------------------------------------ */

static int
train_opts_valid(const fr_mf_opts *o)
{
    return o->epochs > 0 && isfinite(o->lr) && o->lr > 0.0f &&
           isfinite(o->l2) && o->l2 >= 0.0f && o->lr * o->l2 < 1.0f &&
           o->negatives > 0 && o->negatives <= FR_MF_MAX_NEGATIVES &&
           o->loss == FR_MF_LOSS_LOGISTIC;
}

static int
opts_valid(const fr_mf_dp_opts *o)
{
    return train_opts_valid(&o->train) && isfinite(o->clip) && o->clip > 0.0 &&
           isfinite(o->q) && o->q > 0.0 && o->q <= 1.0 &&
           (o->q == 1.0 || o->sample_key);
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* FR_OK if the n ids are distinct. */
static fr_err
ids_distinct(const uint64_t *ids, uint32_t n)
{
    uint64_t *s;
    fr_err rc = FR_OK;

    if (n < 2)
        return FR_OK;
    s = malloc((size_t)n * sizeof *s);
    if (!s)
        return FR_ENOMEM;
    memcpy(s, ids, (size_t)n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_u64);
    for (uint32_t i = 1; i < n && rc == FR_OK; i++)
        if (s[i] == s[i - 1])
            rc = FR_EINVAL;
    free(s);
    return rc;
}

fr_err
fr_mf_train_dp_ids(fr_mf *mf, const fr_model *global, const fr_mf_dp_opts *o,
                   const uint64_t *member_ids, double *sum_out,
                   fr_mf_dp_stats *stats_out)
{
    fr_mf_dp_stats st = {0};
    double loss_sum = 0.0;
    dp_ws ws;
    fr_err rc;

    if (!mf || !global || !o || !sum_out || !opts_valid(o) ||
        !fr_mf_shape_matches(mf, global))
        return FR_EINVAL;
    if (member_ids && (rc = ids_distinct(member_ids, mf->n_members)) != FR_OK)
        return rc;
    if ((rc = ws_init(&ws, mf, global)) != FR_OK)
        return rc;
    memset(sum_out, 0, ws.n_params * sizeof *sum_out);
    /* order[] lists the members with training data in index order */
    for (uint32_t k = 0; k < mf->n_order; k++) {
        uint32_t u = mf->order[k];
        uint64_t id = member_ids ? member_ids[u] : u;
        double loss = 0.0;

        if (o->q < 1.0 && !fr_mf_dp_sampled(o->sample_key, id, o->q))
            continue;
        switch (train_member(mf, global, &ws, o, u, id, sum_out, &loss)) {
        case MEMBER_NONFINITE: st.n_nonfinite++; continue;
        case MEMBER_CLIPPED: st.n_clipped++; break;
        case MEMBER_ADDED: break;
        }
        st.n_sampled++;
        loss_sum += loss;
    }
    st.loss = st.n_sampled ? loss_sum / (double)st.n_sampled : 0.0;
    if (st.n_nonfinite)
        fr_log_debug(TAG, "%llu sampled members dropped: non-finite update",
                     (unsigned long long)st.n_nonfinite);
    ws_free(&ws);
    if (stats_out)
        *stats_out = st;
    return FR_OK;
}

fr_err
fr_mf_train_dp(fr_mf *mf, const fr_model *global, const fr_mf_dp_opts *o,
               double *sum_out, uint64_t *n_sampled_out, double *loss_out)
{
    fr_mf_dp_stats st;
    fr_err rc;

    if (!n_sampled_out)
        return FR_EINVAL;
    if ((rc = fr_mf_train_dp_ids(mf, global, o, NULL, sum_out, &st)) != FR_OK)
        return rc;
    *n_sampled_out = st.n_sampled;
    if (loss_out)
        *loss_out = st.loss;
    return FR_OK;
}
