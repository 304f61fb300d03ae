/*
 * wire_ials.c - RoundStart.ials (the least-squares kind's step) and
 * Update.sums: content and structure checks, views and fills (wire_int.h).
 */
#include <math.h>

#include "wire_int.h"

static int
finite_all(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return 0;
    return 1;
}

const char *
wire_ials_check_rs(const fr_msg_round_start *rs)
{
    const fr_ials_step *s = &rs->ials;

    if (rs->has_ials > 1)
        return "round_start has_ials must be 0 or 1";
    if (!rs->has_ials)
        return NULL;
    if (s->phase != FR_IALS_PHASE_STATS && s->phase != FR_IALS_PHASE_MATVEC &&
        s->phase != FR_IALS_PHASE_DP)
        return "ials: unknown phase";
    if ((s->phase == FR_IALS_PHASE_DP) != (rs->has_dp != 0))
        return "ials: a DP round must be phase 3, and phase 3 a DP round";
    if (!isfinite(s->alpha0) || s->alpha0 < 0.0 || !isfinite(s->lambda) ||
        !(s->lambda > 0.0) || !isfinite(s->nu) || s->nu < 0.0 || s->nu > 2.0)
        return "ials: alpha0, lambda or nu out of range";
    if (s->phase != FR_IALS_PHASE_MATVEC)
        return s->n_direction || s->epoch_round
                   ? "ials: a direction or epoch outside phase 2"
                   : NULL;
    if (s->n_direction != (size_t)rs->n_items * rs->dim || !s->direction)
        return "ials: direction length does not match n_items * dim";
    return finite_all(s->direction, s->n_direction)
               ? NULL
               : "ials: non-finite value in direction";
}

const char *
wire_ials_check_pb(const Fedrec__RoundStart *pb)
{
    if (!pb->ials)
        return NULL;
    if (pb->ials->base.n_unknown_fields)
        return "unknown field in message";
    if (pb->model && pb->ials->n_direction &&
        (uint64_t)pb->ials->n_direction !=
            (uint64_t)pb->model->n_items * pb->model->dim)
        return "ials: direction length does not match n_items * dim";
    return NULL;
}

void
wire_ials_view_rs(Fedrec__RoundStart *pb, Fedrec__IalsStep *step,
                  const fr_msg_round_start *rs)
{
    if (!rs->has_ials)
        return;
    step->phase = rs->ials.phase;
    step->alpha0 = rs->ials.alpha0;
    step->lambda = rs->ials.lambda;
    step->nu = rs->ials.nu;
    step->n_direction = rs->ials.n_direction;
    /* packing only reads it (as for the model's arrays) */
    step->direction = (float *)(uintptr_t)rs->ials.direction;
    step->epoch_round = rs->ials.epoch_round;
    pb->ials = step;
}

void
wire_ials_fill_rs(fr_msg_round_start *rs, const Fedrec__RoundStart *pb)
{
    if (!pb->ials)
        return;
    rs->has_ials = 1;
    rs->ials.phase = pb->ials->phase;
    rs->ials.alpha0 = pb->ials->alpha0;
    rs->ials.lambda = pb->ials->lambda;
    rs->ials.nu = pb->ials->nu;
    rs->ials.direction = pb->ials->n_direction ? pb->ials->direction : NULL;
    rs->ials.n_direction = pb->ials->n_direction;
    rs->ials.epoch_round = pb->ials->epoch_round;
}

const char *
wire_ials_check_sums(const fr_msg_update *up)
{
    if (up->n_sums > FR_WIRE_MAX_SUMS)
        return "update: more sums than any model has";
    if (!up->sums)
        return "update: sums missing";
    if (up->n_items || up->dim || up->delta_emb || up->delta_bias)
        return "update: both sums and a delta";
    return finite_all(up->sums, up->n_sums) ? NULL
                                            : "update: non-finite sum";
}
