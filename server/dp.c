/*
 * dp.c - the aggregator's side of member-level differential privacy.
 *
 * DESIGN. DP is on when dp_epsilon_budget > 0. For each secure round the
 * aggregator designs the distributed discrete Gaussian for the stores that
 * take part (common/dp/accountant.h: scale, per-store noise, inflated
 * sensitivities, and the number of honest noise shares n_target the noise
 * is sized for), charges the round's RDP to its mirror ledger
 * (STATE_DIR/privacy.ledger) before the round start goes out, and raises the
 * secure sum's minimum number of inputs to n_target + t_collude, so a sum
 * with fewer noise shares than promised is never unmasked (stores check the
 * same number). With regional aggregators among the participants the
 * design is for every store of every region, allows for
 * dp_max_region_dropouts whole regions (of the largest size) dropping on
 * top of dp_max_dropouts stores, and the central, not the stores, checks
 * that the regions' sums cover enough stores (dp_min_covered). When the
 * next round would exceed the budget, training stops
 * with status "budget_exhausted". After unmasking, the sum is decoded
 * (centred, unscaled, unrotated) and divided by the public denominator
 * q * dp_members: the stores' member counts stay private.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "crypto/prim.h"
#include "dp/accountant.h"
#include "dp/ddg.h"
#include "dp/ledger.h"
#include "diskerr.h"
#include "round_int.h"

#define TAG "dp"

fr_err
agg_dp_open(aggregator *a)
{
    const agg_config *c = a->cfg;
    char path[AGG_PATH_MAX + 32], err[256];
    fr_dp_orders o;
    double eps = 0;
    fr_err rc;

    if (c->dp_epsilon_budget <= 0) {
        fr_log_ev(FR_LOG_NOTICE, TAG, "dp_off",
                  "differential privacy is off: no DP guarantee for what "
                  "the model reveals about members");
        return FR_OK;
    }
    fr_dp_orders_ddg(&o);
    snprintf(path, sizeof path, "%s/privacy.ledger", c->state_dir);
    rc = fr_dp_ledger_open(&a->ledger, path, &o, c->dp_delta,
                           c->dp_epsilon_budget, err, sizeof err);
    if (rc) {
        fr_log_err(TAG, "privacy ledger %s: %s", path, err);
        return rc;
    }
    if ((rc = fr_dp_ledger_epsilon(a->ledger, NULL, &eps)))
        return rc;
    a->dp_spent = eps;
    if (a->stats)
        agg_stats_set_dp(a->stats, 1, eps, c->dp_epsilon_budget, c->dp_delta);
    fr_log_ev(FR_LOG_NOTICE, TAG, "dp_on",
              "member-level DP on: epsilon_spent=%.6f of budget=%g at "
              "delta=%g over rounds=%zu (ledger %s)",
              eps, c->dp_epsilon_budget, c->dp_delta,
              fr_dp_ledger_rounds(a->ledger), path);
    return FR_OK;
}

void
agg_dp_close(aggregator *a)
{
    fr_dp_ledger_close(&a->ledger);
}

bool
agg_dp_exhausted(const aggregator *a)
{
    return a->dp_exhausted != 0;
}

/* The public rotation seed of a round: from the configured seed and the
 * round id, so every store derives the same signs. */
static uint64_t
rotation_seed(const aggregator *a)
{
    fr_crypto_hash_state st;
    uint8_t h[8];
    uint64_t s = 0;

    fr_crypto_hash_init(&st, sizeof h);
    fr_crypto_hash_update(&st, &a->cfg->seed, 8);
    fr_crypto_hash_update(&st, &a->round_id, 8);
    fr_crypto_hash_final(&st, h, sizeof h);
    for (int i = 0; i < 8; i++)
        s = s << 8 | h[i];
    return s;
}

static void
ledger_path(const aggregator *a, char *out, size_t cap)
{
    snprintf(out, cap, "%s/privacy.ledger", a->cfg->state_dir);
}

/* An append to the ledger failed (it is cut back: no partial record). */
static void
ledger_failed(aggregator *a)
{
    char path[AGG_PATH_MAX + 32];

    ledger_path(a, path, sizeof path);
    agg_disk_failed(a->stats, AGG_DISK_LEDGER, path, FR_ESYS,
                    fr_dp_ledger_last_error(a->ledger));
}

static void
ledger_written(aggregator *a)
{
    char path[AGG_PATH_MAX + 32];

    ledger_path(a, path, sizeof path);
    agg_disk_written(AGG_DISK_LEDGER, path);
}

/* Charges the round to the ledger (before its start goes out). */
static fr_err
reserve_round(aggregator *a, const uint8_t hash[32], const double *rdp,
              double eps)
{
    const agg_config *c = a->cfg;
    fr_err rc = fr_dp_ledger_reserve(a->ledger, a->round_id, hash, rdp);

    if (rc == FR_ELIMIT) {
        a->dp_exhausted = 1;
        fr_log_ev(FR_LOG_WARN, TAG, "dp_budget_exhausted",
                  "privacy budget exhausted: the next round would bring "
                  "epsilon to %.4f, over the budget of %g at delta %g "
                  "(spent=%.6f); training stops, the last model stays",
                  eps, c->dp_epsilon_budget, c->dp_delta, a->dp_spent);
        return rc;
    }
    if (rc == FR_ESYS) /* nothing charged; the round does not start */
        ledger_failed(a);
    else if (rc)
        fr_log_err(TAG,
                   "round id %llu: the privacy ledger refused the "
                   "charge: %s",
                   (unsigned long long)a->round_id, fr_strerror(rc));
    if (rc)
        return rc;
    ledger_written(a);
    return FR_OK;
}

void
agg_dp_design_input(const agg_config *c, uint32_t n_stores,
                    uint32_t largest_region, uint64_t n_params,
                    fr_dp_design_in *out)
{
    uint64_t drop = (uint64_t)c->dp_max_dropouts;

    /* Losing a region loses all of its stores' noise shares at once. */
    if (largest_region)
        drop += (uint64_t)c->dp_max_region_dropouts * largest_region;
    *out = (fr_dp_design_in){.clip = c->dp_clip,
                             .noise_multiplier = c->dp_noise_multiplier,
                             .n_invited = n_stores,
                             .t_drop = drop > UINT32_MAX ? UINT32_MAX
                                                         : (uint32_t)drop,
                             .t_collude = (uint32_t)c->dp_colluders,
                             .model_params = n_params,
                             .signal_l2 = (double)c->dp_members * c->dp_clip,
                             .p_wrap = c->dp_p_wrap,
                             .q = c->dp_sampling_rate};
}

/* What the stores' vectors hold: the model's parameters, or under model
 * ials the members' vectors (model/ials.h). */
static size_t
dp_len(const aggregator *a)
{
    return a->ials ? agg_ials_len(a) : a->n_params;
}

fr_err
agg_dp_plan(aggregator *a, uint32_t n, uint32_t largest_region,
            uint32_t *min_inputs)
{
    const agg_config *c = a->cfg;
    fr_dp_design_in in;
    fr_dp_design d;
    fr_dp_orders o;
    double rdp[FR_DP_MAX_ORDERS], eps;
    uint8_t hash[32];
    char err[256];
    fr_err rc;

    a->dp_round = 0;
    a->dp_min_covered = 0;
    if (!a->ledger)
        return FR_OK;
    agg_dp_design_input(c, n, largest_region, dp_len(a), &in);
    if ((rc = fr_dp_design_round(&in, &d, err, sizeof err))) {
        fr_log_err(TAG, "round id %llu: no DP design for %u stores: %s",
                   (unsigned long long)a->round_id, n, err);
        return rc;
    }
    fr_dp_orders_ddg(&o);
    if ((rc = fr_dp_design_rdp(&d, c->dp_sampling_rate, &o, rdp)) ||
        (rc = fr_dp_ledger_epsilon(a->ledger, rdp, &eps))) {
        fr_log_err(TAG, "round id %llu: cannot account the round: %s",
                   (unsigned long long)a->round_id, fr_strerror(rc));
        return rc;
    }
    a->dp_setup = (fr_dp_setup){.mechanism = FR_DP_MECH_DDG,
                                .clip = c->dp_clip,
                                .q = c->dp_sampling_rate,
                                .scale = d.scale,
                                .sigma2_int = d.sigma2_int,
                                .dim = d.dim,
                                .rotation_seed = rotation_seed(a),
                                .n_target = d.n_target,
                                .t_collude = (uint32_t)c->dp_colluders,
                                .delta = c->dp_delta,
                                .epsilon_budget = c->dp_epsilon_budget,
                                .l2_sens = d.l2_sens,
                                .l1_sens = d.l1_sens};
    fr_dp_round_hash(&a->dp_setup, a->round_id, hash);
    if ((rc = reserve_round(a, hash, rdp, eps)))
        return rc;
    a->dp_spent = eps;
    a->dp_round = 1;
    if (a->stats)
        agg_stats_set_dp(a->stats, 1, eps, c->dp_epsilon_budget, c->dp_delta);
    /* Stores check the inputs of the sum they are in; a region's sum
     * holds many stores, so with regions the central checks the stores
     * the inputs cover instead (secure.c). */
    if (largest_region)
        a->dp_min_covered = d.secagg_t_min;
    else if (*min_inputs < d.secagg_t_min)
        *min_inputs = d.secagg_t_min;
    fr_log_ev(FR_LOG_INFO, TAG, "dp_round",
              "round id %llu charged: epsilon_after=%.6f stores=%u "
              "t_drop=%u n_target=%u dim=%llu scale=%.6g sigma2_int=%llu "
              "inflation=%.3g%%",
              (unsigned long long)a->round_id, eps, n, in.t_drop, d.n_target,
              (unsigned long long)d.dim, d.scale,
              (unsigned long long)d.sigma2_int, 100 * d.inflation);
    return FR_OK;
}

fr_err
agg_dp_decode(aggregator *a, const uint32_t *sum, uint32_t n_in)
{
    const agg_config *c = a->cfg;
    fr_ddg_params p = {.n = dp_len(a),
                       .dim = a->dp_setup.dim,
                       .scale = a->dp_setup.scale,
                       .sigma2_int = a->dp_setup.sigma2_int,
                       .rotation_seed = a->dp_setup.rotation_seed};
    double denom = c->dp_sampling_rate * (double)c->dp_members;
    /* the noise of the decoded sum: n_in shares of sigma2_int, unscaled */
    double sd = sqrt((double)n_in * (double)a->dp_setup.sigma2_int) /
                a->dp_setup.scale;
    double *x = a->ials ? agg_ials_dp_sum(a, sd) : malloc(p.n * sizeof *x);
    fr_err rc;

    if (!x)
        return a->ials ? FR_ESTATE : FR_ENOMEM;
    rc = fr_ddg_decode(&p, sum, x);
    if (!rc && !a->ials)
        for (size_t i = 0; i < a->n_params; i++)
            a->scratch[i] = (float)(x[i] / denom);
    if (!a->ials)
        free(x);
    if (!rc) {
        fr_err wrc = fr_dp_ledger_commit(a->ledger, a->round_id);
        if (wrc == FR_ESYS) /* the charge stays: only the mark is missing */
            ledger_failed(a);
        else if (wrc)
            fr_log_warn(TAG,
                        "round id %llu: cannot mark the ledger record "
                        "committed (it stays charged)",
                        (unsigned long long)a->round_id);
        else
            ledger_written(a);
    }
    return rc;
}
