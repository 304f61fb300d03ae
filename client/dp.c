/*
 * dp.c - the store's side of member-level differential privacy (dp.h).
 */
#include "dp.h"

#include <stdbool.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "dp/accountant.h"
#include "dp/ddg.h"
#include "dp/ledger.h"
#include "dp/rng.h"
#include "dp/rotate.h"

#define TAG "dp"

struct store_dp {
    char path[512];
    double budget, delta; /* policy; 0: the aggregator's */
    fr_dp_ledger *ledger; /* opened at the first DP round */
    int had_ledger;       /* privacy.ledger existed at start */
    int allow_regional;   /* dp_regional: take part in nested rounds */
};

fr_err
store_dp_new(store_dp **out, const char *dir, double budget, double delta)
{
    store_dp *d;

    if (!dir || budget < 0 || delta < 0 || delta >= 1)
        return FR_EINVAL;
    if (!(d = calloc(1, sizeof *d)))
        return FR_ENOMEM;
    if ((size_t)snprintf(d->path, sizeof d->path, "%s/privacy.ledger", dir) >=
        sizeof d->path) {
        free(d);
        return FR_ELIMIT;
    }
    d->budget = budget;
    d->delta = delta;
    d->had_ledger = access(d->path, F_OK) == 0;
    *out = d;
    return FR_OK;
}

void
store_dp_destroy(store_dp **dp)
{
    if (!dp || !*dp)
        return;
    fr_dp_ledger_close(&(*dp)->ledger);
    free(*dp);
    *dp = NULL;
}

static fr_err
open_ledger(store_dp *d, const fr_dp_setup *s, char *why, size_t cap)
{
    fr_dp_orders o;
    double delta = d->delta > 0 ? d->delta : s->delta;
    double budget = d->budget > 0 ? d->budget : s->epsilon_budget;
    fr_err rc;

    if (d->ledger)
        return FR_OK;
    fr_dp_orders_ddg(&o);
    rc = fr_dp_ledger_open(&d->ledger, d->path, &o, delta, budget, why, cap);
    if (rc == FR_OK) {
        double eps = 0;
        if (fr_dp_ledger_epsilon(d->ledger, NULL, &eps))
            eps = NAN;
        fr_log_ev(FR_LOG_NOTICE, TAG, "dp_ledger",
                  "privacy ledger %s: epsilon_spent=%.6f of budget=%g at "
                  "delta=%g",
                  d->path, eps, fr_dp_ledger_budget(d->ledger),
                  fr_dp_ledger_delta(d->ledger));
    }
    return rc;
}

void
store_dp_allow_regional(store_dp *d, bool allow)
{
    d->allow_regional = allow;
}

/* The round's sum holds at least n_target honest noise shares. In a flat
 * round every store checks that the sum it takes part in cannot be
 * unmasked with fewer inputs; in a nested round (the sum is added with
 * other regions' sums, encode_n above n) only the central aggregator sees
 * the total, and checks the stores it covers: the store can check only
 * that the round is sized for enough stores, and must agree to it. */
static fr_err
check_shares(const store_dp *d, const fr_dp_setup *s,
             const fr_secagg_setup *sa, char *why, size_t cap)
{
    uint32_t total = fr_secagg_encode_n(sa);
    uint64_t need = (uint64_t)s->n_target + s->t_collude;

    if (total > sa->n && !d->allow_regional) {
        snprintf(why, cap,
                 "the round's sum (of %u of the %u stores it is sized "
                 "for) is unmasked by a regional aggregator before it is "
                 "added with other regions': set dp_regional yes to take "
                 "part in such rounds",
                 sa->n, total);
        return FR_EINVAL;
    }
    if (total > sa->n && (s->n_target > total || need > total)) {
        snprintf(why, cap,
                 "noise sized for %u shares but the round covers at most "
                 "%u stores",
                 s->n_target, total);
        return FR_EINVAL;
    }
    if (total == sa->n && (s->n_target > sa->n || need > sa->min_inputs)) {
        snprintf(why, cap,
                 "noise sized for %u shares but a sum of only %u "
                 "inputs may be unmasked",
                 s->n_target, sa->min_inputs);
        return FR_EINVAL;
    }
    return FR_OK;
}

fr_err
store_dp_admit(store_dp *d, uint64_t round_id, const fr_dp_setup *s,
               const fr_secagg_setup *sa, uint64_t n_params, char *why,
               size_t cap)
{
    fr_dp_orders o;
    double rdp[FR_DP_MAX_ORDERS], l2, l1;
    uint8_t hash[32];
    fr_dp_ddg m;
    fr_err rc;

    if (s->dim != fr_dp_pad_dim(n_params) || sa->n_words != s->dim) {
        snprintf(why, cap,
                 "DP vector of %llu words announced for a model "
                 "of %llu parameters",
                 (unsigned long long)s->dim, (unsigned long long)n_params);
        return FR_EINVAL;
    }
    /* The sum must hold at least n_target honest noise shares: at least
     * n_target + t_collude inputs, which every store checks in SecAgg. */
    if ((rc = check_shares(d, s, sa, why, cap)))
        return rc;
    if ((rc = open_ledger(d, s, why, cap)))
        return rc;
    if (s->delta != fr_dp_ledger_delta(d->ledger)) {
        snprintf(why, cap, "the round's delta %g is not this store's %g",
                 s->delta, fr_dp_ledger_delta(d->ledger));
        return FR_EINVAL;
    }
    /* Our own sensitivities (with the float leeway), never smaller than
     * the announced ones. */
    fr_dp_inflated_sens(s->scale, s->clip * (1 + 1e-6), s->dim, &l2, &l1);
    m = (fr_dp_ddg){.n_shares = s->n_target,
                    .dim = s->dim,
                    .sigma_scaled = sqrt((double)s->sigma2_int),
                    .l2_sens = l2 > s->l2_sens ? l2 : s->l2_sens,
                    .l1_sens = l1 > s->l1_sens ? l1 : s->l1_sens,
                    .q = s->q};
    fr_dp_orders_ddg(&o);
    if ((rc = fr_dp_rdp_ddg(&m, &o, rdp))) {
        snprintf(why, cap, "the round cannot be accounted: %s",
                 fr_strerror(rc));
        return rc;
    }
    fr_dp_round_hash(s, round_id, hash);
    rc = fr_dp_ledger_reserve(d->ledger, round_id, hash, rdp);
    if (rc == FR_ELIMIT) {
        double eps = 0;
        if (fr_dp_ledger_epsilon(d->ledger, rdp, &eps))
            eps = NAN;
        snprintf(why, cap,
                 "DP budget exhausted: this round would bring "
                 "epsilon to %.4f, over this store's budget of %g",
                 eps, fr_dp_ledger_budget(d->ledger));
    } else if (rc == FR_EINVAL) {
        snprintf(why, cap,
                 "round id %llu was charged with other "
                 "parameters",
                 (unsigned long long)round_id);
    } else if (rc) {
        snprintf(why, cap, "the privacy ledger cannot be written: %s",
                 fr_strerror(rc));
    }
    return rc;
}

bool
store_dp_active(const store_dp *d)
{
    return d && (d->ledger || d->budget > 0 || d->had_ledger);
}

double
store_dp_spent(const store_dp *d)
{
    double eps = 0;
    if (d->ledger && fr_dp_ledger_epsilon(d->ledger, NULL, &eps))
        eps = 0;
    return eps;
}

void
store_dp_commit(store_dp *d, uint64_t round_id)
{
    if (d->ledger)
        if (fr_dp_ledger_commit(d->ledger, round_id))
            fr_log_warn(TAG,
                        "round id %llu: cannot mark the ledger record "
                        "committed (it stays charged)",
                        (unsigned long long)round_id);
}

fr_err
store_dp_encode(const fr_dp_setup *s, uint64_t n_params, const double *sum,
                uint32_t *words_out)
{
    fr_ddg_params p = {.n = n_params,
                       .dim = s->dim,
                       .scale = s->scale,
                       .sigma2_int = s->sigma2_int,
                       .rotation_seed = s->rotation_seed};
    fr_dp_rng *rng = NULL;
    fr_err rc = fr_dp_rng_new(&rng, NULL); /* a fresh secret key */

    if (rc)
        return rc;
    rc = fr_ddg_encode(&p, sum, rng, words_out);
    fr_dp_rng_destroy(&rng);
    return rc;
}
