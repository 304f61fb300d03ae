/*
 * test_dp_sum.c - the distributed discrete Gaussian from design to decoded
 * sum: a round designed by the accountant for n stores, each store's
 * clipped sum encoded with its own secret noise, the words added modulo
 * 2^32 as secure aggregation reveals them, the sum decoded. The decoded sum
 * minus the true sum must have mean 0 and the variance the design
 * promises: every surviving store's sigma2_int / s^2, which is at least
 * the central (z C)^2 as long as n_target stores survive.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dp/accountant.h"
#include "dp/ddg.h"
#include "dp/rng.h"

#define PARAMS 40000u
#define STORES 6u
#define CLIP   0.2
#define Z      1.5

/* Runs one round with `survivors` of the STORES invited ones and checks
 * the noise of the decoded sum. */
static void
check_round(uint32_t survivors)
{
    fr_dp_design_in in = {.clip = CLIP,
                          .noise_multiplier = Z,
                          .n_invited = STORES,
                          .t_drop = 1,
                          .t_collude = 0,
                          .model_params = PARAMS,
                          .signal_l2 = 2000 * CLIP,
                          .p_wrap = 2e-9,
                          .q = 1.0};
    fr_dp_design d;
    fr_ddg_params p;
    double *x = malloc(PARAMS * sizeof *x),
           *truth = calloc(PARAMS, sizeof *truth);
    double *got = malloc(PARAMS * sizeof *got);
    uint32_t *sum, *words;
    fr_dp_rng *data_rng = NULL;
    double mean = 0, var = 0, want, promised = Z * CLIP * Z * CLIP;
    char err[256];

    assert_non_null(x);
    assert_non_null(truth);
    assert_non_null(got);
    assert_int_equal(fr_dp_design_round(&in, &d, err, sizeof err), FR_OK);
    assert_int_equal(d.n_target, STORES - 1);
    p = (fr_ddg_params){.n = PARAMS,
                        .dim = d.dim,
                        .scale = d.scale,
                        .sigma2_int = d.sigma2_int,
                        .rotation_seed = 77};
    sum = calloc(d.dim, sizeof *sum);
    words = malloc(d.dim * sizeof *words);
    assert_non_null(sum);
    assert_non_null(words);
    assert_int_equal(fr_dp_rng_new(&data_rng, (const uint8_t[32]){1}), FR_OK);

    for (uint32_t j = 0; j < survivors; j++) {
        fr_dp_rng *noise = NULL;
        /* A store's clipped sum: up to 300 members of norm <= CLIP, here a
         * vector of that scale spread over the coordinates. */
        for (uint32_t i = 0; i < PARAMS; i++) {
            x[i] = (fr_dp_rng_unit(data_rng) - 0.5) * 300 * CLIP /
                   sqrt((double)PARAMS);
            truth[i] += x[i];
        }
        assert_int_equal(fr_dp_rng_new(&noise, NULL), FR_OK);
        assert_int_equal(fr_ddg_encode(&p, x, noise, words), FR_OK);
        fr_dp_rng_destroy(&noise);
        for (uint64_t i = 0; i < d.dim; i++)
            sum[i] += words[i]; /* modulo 2^32, as SecAgg reveals it */
    }
    assert_int_equal(fr_ddg_decode(&p, sum, got), FR_OK);
    for (uint32_t i = 0; i < PARAMS; i++)
        mean += got[i] - truth[i];
    mean /= PARAMS;
    for (uint32_t i = 0; i < PARAMS; i++)
        var += (got[i] - truth[i] - mean) * (got[i] - truth[i] - mean);
    var /= PARAMS - 1;

    /* Noise of the surviving shares, plus the rounding (each coordinate of
     * each store rounded by a uniform amount: variance at most 1/4). */
    want = survivors * (double)d.sigma2_int / (d.scale * d.scale);
    print_message("%u of %u stores: noise variance %.6g, expected %.6g, "
                  "promised at least %.6g\n",
                  survivors, STORES, var, want, promised);
    assert_true(fabs(var / want - 1) <=
                6 * sqrt(2.0 / PARAMS) +
                    survivors / 4.0 / (d.scale * d.scale) / want);
    assert_true(fabs(mean) <= 6 * sqrt(want / PARAMS));
    /* The promise: with n_target or more survivors, at least (z C)^2. */
    if (survivors >= d.n_target)
        assert_true(want >= promised * (1 - 1e-9));
    else
        assert_true(want < promised); /* why such sums are never unmasked */

    fr_dp_rng_destroy(&data_rng);
    free(x);
    free(truth);
    free(got);
    free(sum);
    free(words);
}

static void
test_all_survive(void **state)
{
    (void)state;
    check_round(STORES);
}

static void
test_tolerated_dropout(void **state)
{
    (void)state;
    check_round(STORES - 1);
}

static void
test_too_many_dropouts(void **state)
{
    (void)state;
    check_round(STORES - 3);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_survive),
        cmocka_unit_test(test_tolerated_dropout),
        cmocka_unit_test(test_too_many_dropouts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
