/*
 * wire_dp.c - RoundStart.dp: the public parameters of a round's member-level
 * differential privacy. Every value is checked before a store uses it: a
 * store refuses a round whose noise or sizes make no sense rather than
 * trusting the aggregator.
 */
#include <math.h>

#include "wire_int.h"

const char *
wire_dp_check(const fr_dp_setup *d)
{
    if (d->mechanism != FR_DP_MECH_DDG)
        return "dp: unknown mechanism";
    if (!isfinite(d->clip) || d->clip <= 0)
        return "dp: clip must be finite and positive";
    if (!isfinite(d->q) || d->q <= 0 || d->q > 1)
        return "dp: sampling rate must be in (0, 1]";
    if (!isfinite(d->scale) || d->scale <= 0 || d->scale > 1e15)
        return "dp: scale out of range";
    if (d->sigma2_int < 1 || d->sigma2_int > ((uint64_t)1 << 52))
        return "dp: noise variance out of range";
    if (d->dim < 2 || d->dim > FR_DP_WIRE_MAX_DIM || (d->dim & (d->dim - 1)))
        return "dp: dimension must be a power of two up to 2^26";
    if (d->n_target < 1)
        return "dp: noise shares must be at least 1";
    if (!isfinite(d->delta) || d->delta <= 0 || d->delta >= 1)
        return "dp: delta must be in (0, 1)";
    if (!isfinite(d->epsilon_budget) || d->epsilon_budget <= 0)
        return "dp: epsilon budget must be finite and positive";
    if (!isfinite(d->l2_sens) || d->l2_sens <= 0 || !isfinite(d->l1_sens) ||
        d->l1_sens < d->l2_sens)
        return "dp: sensitivities out of range";
    return NULL;
}

const char *
wire_dp_check_pb(const Fedrec__DpSetup *pb)
{
    return pb->base.n_unknown_fields ? "unknown field in message" : NULL;
}

void
wire_dp_view(Fedrec__DpSetup *pb, const fr_dp_setup *d)
{
    fedrec__dp_setup__init(pb);
    pb->mechanism = d->mechanism;
    pb->clip = d->clip;
    pb->q = d->q;
    pb->scale = d->scale;
    pb->sigma2_int = d->sigma2_int;
    pb->dim = d->dim;
    pb->rotation_seed = d->rotation_seed;
    pb->n_target = d->n_target;
    pb->t_collude = d->t_collude;
    pb->delta = d->delta;
    pb->epsilon_budget = d->epsilon_budget;
    pb->l2_sens = d->l2_sens;
    pb->l1_sens = d->l1_sens;
}

void
wire_dp_fill(fr_dp_setup *d, const Fedrec__DpSetup *pb)
{
    d->mechanism = pb->mechanism;
    d->clip = pb->clip;
    d->q = pb->q;
    d->scale = pb->scale;
    d->sigma2_int = pb->sigma2_int;
    d->dim = pb->dim;
    d->rotation_seed = pb->rotation_seed;
    d->n_target = pb->n_target;
    d->t_collude = pb->t_collude;
    d->delta = pb->delta;
    d->epsilon_budget = pb->epsilon_budget;
    d->l2_sens = pb->l2_sens;
    d->l1_sens = pb->l1_sens;
}
