/*
 * test_dp_regions.c - the central's DP design when regions take part
 * (server/dp.c agg_dp_design_input; docs/SECAGG.md "Regions"): the round
 * is designed for every store of every region, and the dropout allowance
 * covers dp_max_dropouts stores plus dp_max_region_dropouts whole regions
 * of the largest size, so the promised noise is still in the sum when a
 * region drops out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "config/config.h"
#include "dp/accountant.h"
#include "round_int.h"

#define N_PARAMS (300u * 9u)

static void
config(agg_config *c, int64_t drops, int64_t region_drops)
{
    char err[FR_CONFIG_ERR_MAX];

    assert_int_equal(fr_config_defaults(&agg_config_table, c, err,
                                        sizeof err), FR_OK);
    c->dp_epsilon_budget = 10;
    c->dp_members = 600;
    c->dp_clip = 0.5;
    c->dp_noise_multiplier = 3;
    c->dp_max_dropouts = drops;
    c->dp_max_region_dropouts = region_drops;
}

static void
design(const agg_config *c, uint32_t n, uint32_t largest, fr_dp_design_in *in,
       fr_dp_design *d)
{
    char err[256] = "";

    agg_dp_design_input(c, n, largest, N_PARAMS, in);
    assert_int_equal(fr_dp_design_round(in, d, err, sizeof err), FR_OK);
}

/* Without regions nothing changes: t_drop is dp_max_dropouts. */
static void
test_flat_round_unchanged(void **state)
{
    agg_config c;
    fr_dp_design_in in;
    fr_dp_design d;
    (void)state;

    config(&c, 1, 1);
    design(&c, 9, 0, &in, &d);
    assert_int_equal(in.n_invited, 9);
    assert_int_equal(in.t_drop, 1);
    assert_int_equal(d.n_target, 8);
    assert_true(in.signal_l2 == 600 * 0.5);
    assert_int_equal(in.model_params, N_PARAMS);
}

/* Three regions of three: one store and one region may drop. */
static void
test_region_dropout_allowed_for(void **state)
{
    agg_config c;
    fr_dp_design_in in, flat_in;
    fr_dp_design d, flat;
    (void)state;

    config(&c, 1, 1);
    design(&c, 9, 3, &in, &d);
    assert_int_equal(in.n_invited, 9); /* every store of every region */
    assert_int_equal(in.t_drop, 1 + 3);
    assert_int_equal(d.n_target, 5);
    assert_int_equal(d.secagg_t_min, 5);
    /* A whole region gone (and nothing else): the sum still holds the
     * shares the noise was sized for; with a region and one more store
     * gone too. */
    assert_true(9 - 3 >= d.secagg_t_min);
    assert_true(9 - 3 - 1 >= d.secagg_t_min);
    /* each store adds more noise than in the flat design, for the
     * central std-dev z C to hold with 5 shares */
    design(&c, 9, 0, &flat_in, &flat);
    assert_true(d.sigma_local > flat.sigma_local);
    assert_true(fabs(d.sigma_local * sqrt(5.0) - 3 * 0.5) < 1e-9);

    /* two regions may drop: 1 + 2 x 3 */
    config(&c, 1, 2);
    design(&c, 9, 3, &in, &d);
    assert_int_equal(in.t_drop, 7);
    assert_int_equal(d.n_target, 2);
    /* none: only the store allowance */
    config(&c, 2, 0);
    design(&c, 9, 3, &in, &d);
    assert_int_equal(in.t_drop, 2);
}

/* The largest region counts, not the average, and an allowance that
 * leaves no share is refused by the design, not wrapped around. */
static void
test_largest_region_and_limits(void **state)
{
    agg_config c;
    fr_dp_design_in in;
    fr_dp_design d;
    char err[256] = "";
    (void)state;

    config(&c, 0, 1);
    design(&c, 12, 6, &in, &d); /* regions of 6, 3 and 3 */
    assert_int_equal(in.t_drop, 6);
    assert_int_equal(d.n_target, 6);
    config(&c, 1, 2);
    agg_dp_design_input(&c, 9, 4, N_PARAMS, &in); /* 1 + 8: nothing left */
    assert_int_equal(in.t_drop, 9);
    assert_int_equal(fr_dp_design_round(&in, &d, err, sizeof err), FR_EINVAL);
    config(&c, 65534, 65534);
    agg_dp_design_input(&c, 100, 65535, N_PARAMS, &in);
    /* the largest allowance the keys permit still fits: no wrap */
    assert_int_equal(in.t_drop, 65534u + 65534u * 65535u);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flat_round_unchanged),
        cmocka_unit_test(test_region_dropout_allowed_for),
        cmocka_unit_test(test_largest_region_and_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
