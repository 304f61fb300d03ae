/*
 * ials.c - the aggregator's side of the least-squares model kind
 * (model ials; docs/MODEL.md "Implicit ALS").
 *
 * DESIGN. An epoch is 1 + ials_cg_steps rounds. Its phase 1 round hands
 * out the item factors; each store solves its members and sends its share
 * of the item step's sums (model/ials.h); their sum starts a CG item step
 * (fr_ials_cg_begin). Each phase 2 round hands out the CG direction and
 * collects the stores' products along it; their sum makes one CG
 * iteration, which moves the item factors (the model). CG needs the same
 * members throughout an epoch, so phase 2 runs with exactly the stores
 * whose sums started it: if one of them is not ready, or a phase 2 round
 * is abandoned or completes with other stores, the epoch ends where it
 * is (every iteration done lowered the objective) and the next round is
 * a phase 1. Nothing of an epoch is checkpointed: after a restart the
 * next round is a phase 1 from the checkpointed model.
 *
 * Under member-level DP an epoch is one round, phase 3: each store solves
 * its members and sends the DDG-noised sum of their clipped vectors
 * (model/ials.h); dp.c decodes it into dsum, and the item step is the
 * closed form fr_ials_dp_item_step, with the James-Stein shrinkage sized
 * by the decoded sum's noise. Every epoch is one release.
 */
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "model/ials.h"
#include "round_int.h"

#define TAG "ials"

struct agg_ials {
    fr_ials_cg *cg;
    fr_ials_opts o;
    uint32_t phase; /* of the next or current round */
    uint32_t steps; /* CG iterations done in this epoch */
    uint64_t epoch_round;
    char (*epoch)[FR_NET_STORE_NAME_MAX]; /* its stores, sorted */
    size_t n_epoch;
    float *sum; /* the round's sum (stats length) */
    size_t len; /* its length in the current phase */
    double *dsum;  /* under DP: the decoded noised sum (fr_ials_dp_len) */
    double dp_sd;  /* its noise std-dev per coordinate */
};

static int
cmp_name(const void *x, const void *y)
{
    return strcmp((const char *)x, (const char *)y);
}

fr_err
agg_ials_open(aggregator *a)
{
    const agg_config *c = a->cfg;
    agg_ials *s;
    uint32_t n = fr_model_n_items(a->model), d = fr_model_dim(a->model);
    fr_err rc;

    if (!agg_ials_kind(c))
        return FR_OK;
    if (!(s = calloc(1, sizeof *s)))
        return FR_ENOMEM;
    s->o = (fr_ials_opts){.alpha0 = c->ials_alpha0,
                          .lambda = c->ials_lambda,
                          .nu = c->ials_nu};
    s->phase = c->dp_epsilon_budget > 0 ? FR_IALS_PHASE_DP
                                        : FR_IALS_PHASE_STATS;
    s->epoch = calloc((size_t)c->max_stores, sizeof *s->epoch);
    s->sum = malloc(fr_ials_stats_len(n, d) * sizeof *s->sum);
    if (s->phase == FR_IALS_PHASE_DP)
        s->dsum = malloc(fr_ials_dp_len(n, d) * sizeof *s->dsum);
    if (!s->epoch || !s->sum || (s->phase == FR_IALS_PHASE_DP && !s->dsum)) {
        rc = FR_ENOMEM;
        goto fail;
    }
    if ((rc = fr_ials_cg_new(&s->cg, n, d, &s->o)))
        goto fail;
    /* the item factors carry no bias in this kind */
    memset(fr_model_item_bias(a->model), 0, n * sizeof(float));
    a->ials = s;
    return FR_OK;
fail:
    fr_ials_cg_destroy(&s->cg);
    free(s->epoch);
    free(s->sum);
    free(s->dsum);
    free(s);
    return rc;
}

void
agg_ials_close(aggregator *a)
{
    agg_ials *s = a->ials;
    if (!s)
        return;
    fr_ials_cg_destroy(&s->cg);
    free(s->epoch);
    free(s->sum);
    free(s->dsum);
    free(s);
    a->ials = NULL;
}

size_t
agg_ials_len(const aggregator *a)
{
    const agg_ials *s = a->ials;
    uint32_t n, d;

    if (!s)
        return 0;
    n = fr_model_n_items(a->model);
    d = fr_model_dim(a->model);
    return s->phase == FR_IALS_PHASE_STATS ? fr_ials_stats_len(n, d)
           : s->phase == FR_IALS_PHASE_DP  ? fr_ials_dp_len(n, d)
                                           : (size_t)n * d;
}

double *
agg_ials_dp_sum(aggregator *a, double noise_sd)
{
    if (!a->ials || a->ials->phase != FR_IALS_PHASE_DP)
        return NULL;
    a->ials->dp_sd = noise_sd;
    return a->ials->dsum;
}

double
agg_ials_clip(const aggregator *a)
{
    return a->ials && a->ials->phase == FR_IALS_PHASE_MATVEC
               ? a->cfg->ials_clip_step
               : a->cfg->ials_clip;
}

float *
agg_ials_sum(aggregator *a)
{
    return a->ials ? a->ials->sum : NULL;
}

void
agg_ials_fill_start(const aggregator *a, fr_msg_round_start *rs)
{
    const agg_ials *s = a->ials;

    if (!s)
        return;
    rs->has_ials = 1;
    rs->ials.phase = s->phase;
    rs->ials.alpha0 = s->o.alpha0;
    rs->ials.lambda = s->o.lambda;
    rs->ials.nu = s->o.nu;
    if (s->phase == FR_IALS_PHASE_MATVEC) {
        rs->ials.direction = fr_ials_cg_direction(s->cg);
        rs->ials.n_direction = (size_t)rs->n_items * rs->dim;
        rs->ials.epoch_round = s->epoch_round;
    }
}

static void
epoch_over(agg_ials *s, uint64_t round_id, const char *why)
{
    if (s->phase == FR_IALS_PHASE_MATVEC)
        fr_log_info(TAG, "epoch of round id %llu over after %u of its "
                    "item-step iterations (%s); round id %llu starts the "
                    "next", (unsigned long long)s->epoch_round, s->steps,
                    why, (unsigned long long)round_id);
    s->phase = FR_IALS_PHASE_STATS;
    s->steps = 0;
    s->n_epoch = 0;
}

static bool
in_epoch(const agg_ials *s, const char *store)
{
    return bsearch(store, s->epoch, s->n_epoch, sizeof *s->epoch,
                   cmp_name) != NULL;
}

size_t
agg_ials_candidates(aggregator *a, store_entry **cand, size_t n, size_t *k)
{
    agg_ials *s = a->ials;
    size_t m = 0;

    if (!s)
        return n;
    /* regions do not relay least-squares rounds (config.c) */
    for (size_t i = 0; i < n; i++)
        if (!cand[i]->region)
            cand[m++] = cand[i];
    n = m;
    if (s->phase == FR_IALS_PHASE_MATVEC) {
        m = 0;
        for (size_t i = 0; i < n; i++)
            if (in_epoch(s, cand[i]->peer.store))
                cand[m++] = cand[i];
        if (m == s->n_epoch) {
            *k = m;
            return m;
        }
        epoch_over(s, a->round_id, "a store of the epoch is not ready");
    }
    if (*k > n)
        *k = n;
    return n;
}

void
agg_ials_begin_round(aggregator *a)
{
    agg_ials *s = a->ials;
    if (!s)
        return;
    s->len = agg_ials_len(a);
    memset(s->sum, 0, s->len * sizeof *s->sum);
}

fr_err
agg_ials_add(aggregator *a, const float *sums, size_t n)
{
    agg_ials *s = a->ials;

    if (!s || n != s->len)
        return FR_EINVAL;
    for (size_t i = 0; i < n; i++)
        s->sum[i] += sums[i];
    return FR_OK;
}

/* The stores the round's sum covers, sorted, into the epoch list; true if
 * they are the epoch's. */
static bool
contributors(aggregator *a, bool keep)
{
    agg_ials *s = a->ials;
    size_t m = 0;
    bool same;

    for (size_t i = 0; i < a->n_selected; i++)
        if (a->answered[i])
            m++;
    same = m == s->n_epoch;
    for (size_t i = 0; i < a->n_selected && same; i++)
        if (a->answered[i] && !in_epoch(s, a->selected[i]))
            same = false;
    if (keep) {
        s->n_epoch = 0;
        for (size_t i = 0; i < a->n_selected; i++)
            if (a->answered[i])
                memcpy(s->epoch[s->n_epoch++], a->selected[i],
                       FR_NET_STORE_NAME_MAX);
        qsort(s->epoch, s->n_epoch, sizeof *s->epoch, cmp_name);
    }
    return same;
}

fr_err
agg_ials_completed(aggregator *a)
{
    agg_ials *s = a->ials;
    float *H = fr_model_item_emb(a->model);
    fr_err rc;

    if (s->phase == FR_IALS_PHASE_DP) {
        if ((rc = fr_ials_dp_item_step(s->cg, H, s->dsum, s->dp_sd))) {
            fr_log_warn(TAG, "round id %llu: the noised sum is refused "
                        "(%s); the model stays", (unsigned long long)
                        a->round_id, fr_strerror(rc));
            return rc;
        }
        fr_log_info(TAG, "round id %llu: item step from the noised sum "
                    "(noise std-dev %.4g, James-Stein shrinkage)",
                    (unsigned long long)a->round_id, s->dp_sd);
        return FR_OK;
    }
    if (s->phase == FR_IALS_PHASE_STATS) {
        if ((rc = fr_ials_cg_begin(s->cg, H, s->sum))) {
            fr_log_warn(TAG, "round id %llu: the summed statistics are "
                        "refused (%s); the next round starts again",
                        (unsigned long long)a->round_id, fr_strerror(rc));
            return rc;
        }
        contributors(a, true);
        s->epoch_round = a->round_id;
        s->phase = FR_IALS_PHASE_MATVEC;
        s->steps = 0;
        fr_log_info(TAG, "round id %llu: item step begun from %zu stores' "
                    "sums (%.0f members), residual %.4g",
                    (unsigned long long)a->round_id, s->n_epoch,
                    (double)s->sum[s->len - 1], fr_ials_cg_residual(s->cg));
        return FR_OK;
    }
    if (!contributors(a, false)) {
        epoch_over(s, a->round_id + 1, "other stores answered");
        return FR_ESTATE;
    }
    if ((rc = fr_ials_cg_step(s->cg, H, s->sum))) {
        epoch_over(s, a->round_id + 1, "the summed product is refused");
        return rc;
    }
    s->steps++;
    fr_log_info(TAG, "round id %llu: item-step iteration %u of %lld, "
                "residual %.4g", (unsigned long long)a->round_id, s->steps,
                (long long)a->cfg->ials_cg_steps, fr_ials_cg_residual(s->cg));
    if (s->steps >= (uint32_t)a->cfg->ials_cg_steps) {
        s->phase = FR_IALS_PHASE_STATS;
        s->steps = 0;
        s->n_epoch = 0;
    }
    return FR_OK;
}

void
agg_ials_abandoned(aggregator *a)
{
    if (a->ials)
        epoch_over(a->ials, a->round_id + 1, "its round was abandoned");
}
