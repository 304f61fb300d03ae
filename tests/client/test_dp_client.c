/*
 * test_dp_client.c - the store's admission of a DP round (client/dp.c): a
 * round whose vector length does not fit the model or the secure round,
 * whose secure round guarantees fewer inputs than the noise shares it
 * promises, or whose delta is not the store's is refused with a reason and
 * nothing charged to the privacy ledger; a round that fits is charged.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dp.h"
#include "dp/accountant.h"
#include "dp/ledger.h"
#include "dp/setup.h"

/* A model of 50 items with 4-dimensional embeddings and item biases. */
#define N_ITEMS 50
#define DIM 4
#define N_PARAMS ((uint64_t)N_ITEMS * DIM + N_ITEMS)
#define ROUND 7
#define DELTA 1e-5
#define BUDGET 50.0

static char dir[64], path[128];

static int
setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/fr-dpclient-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(path, sizeof path, "%s/privacy.ledger", dir);
    return 0;
}

static int
teardown(void **state)
{
    char cmd[128];
    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* A DP round that fits the model and its secure round, designed as the
 * aggregator does (server/dp.c). */
static void
good_round(fr_dp_setup *s, fr_secagg_setup *sa)
{
    fr_dp_design_in in = {.clip = 1.0,
                          .noise_multiplier = 2.0,
                          .n_invited = 10,
                          .t_drop = 2,
                          .t_collude = 1,
                          .model_params = N_PARAMS,
                          .signal_l2 = 100.0,
                          .p_wrap = 2e-9,
                          .q = 1.0};
    fr_dp_design d;
    char err[256] = "";

    assert_int_equal(fr_dp_design_round(&in, &d, err, sizeof err), FR_OK);
    *s = (fr_dp_setup){.mechanism = FR_DP_MECH_DDG,
                       .clip = in.clip,
                       .q = in.q,
                       .scale = d.scale,
                       .sigma2_int = d.sigma2_int,
                       .dim = d.dim,
                       .rotation_seed = 1,
                       .n_target = d.n_target,
                       .t_collude = in.t_collude,
                       .delta = DELTA,
                       .epsilon_budget = BUDGET,
                       .l2_sens = d.l2_sens,
                       .l1_sens = d.l1_sens};
    *sa = (fr_secagg_setup){.n = in.n_invited,
                            .k = in.n_invited - 1,
                            .t = d.secagg_t_min,
                            .n_words = (uint32_t)d.dim,
                            .min_inputs = d.secagg_t_min,
                            .clip = in.clip,
                            .weight_cap = 1};
}

/* Rounds charged in the ledger file (0 if there is none). */
static size_t
ledger_rounds(void)
{
    fr_dp_orders o;
    fr_dp_ledger *l = NULL;
    char err[256] = "";
    size_t n;

    if (access(path, F_OK) != 0)
        return 0;
    fr_dp_orders_ddg(&o);
    assert_int_equal(
        fr_dp_ledger_open(&l, path, &o, DELTA, BUDGET, err, sizeof err), FR_OK);
    n = fr_dp_ledger_rounds(l);
    fr_dp_ledger_close(&l);
    return n;
}

/* A refused round left no trace: nothing spent, no ledger record, and the
 * store is not under DP because of it (no budget is configured). */
static void
assert_nothing_charged(store_dp *d)
{
    assert_true(store_dp_spent(d) == 0.0);
    store_dp_destroy(&d);
    assert_int_equal(ledger_rounds(), 0);
}

static void
test_refuses_a_vector_length_that_does_not_fit(void **state)
{
    store_dp *d = NULL;
    fr_dp_setup s;
    fr_secagg_setup sa;
    char why[256] = "";
    (void)state;

    assert_int_equal(store_dp_new(&d, dir, 0, 0), FR_OK);
    /* Longer than the padded model. */
    good_round(&s, &sa);
    s.dim *= 2;
    sa.n_words = (uint32_t)s.dim;
    assert_int_equal(
        store_dp_admit(d, ROUND, &s, &sa, N_PARAMS, why, sizeof why),
        FR_EINVAL);
    assert_non_null(strstr(why, "DP vector of"));
    /* The model's length, but not the masked vector's. */
    good_round(&s, &sa);
    sa.n_words = (uint32_t)s.dim + 1;
    why[0] = '\0';
    assert_int_equal(
        store_dp_admit(d, ROUND, &s, &sa, N_PARAMS, why, sizeof why),
        FR_EINVAL);
    assert_non_null(strstr(why, "DP vector of"));
    assert_false(store_dp_active(d));
    assert_int_not_equal(access(path, F_OK), 0); /* no ledger made */
    assert_nothing_charged(d);
}

static void
test_refuses_fewer_inputs_than_noise_shares(void **state)
{
    store_dp *d = NULL;
    fr_dp_setup s;
    fr_secagg_setup sa;
    char why[256] = "";
    (void)state;

    assert_int_equal(store_dp_new(&d, dir, 0, 0), FR_OK);
    /* A sum of one input fewer than n_target + t_collude may be unmasked. */
    good_round(&s, &sa);
    sa.min_inputs = s.n_target + s.t_collude - 1;
    assert_int_equal(
        store_dp_admit(d, ROUND, &s, &sa, N_PARAMS, why, sizeof why),
        FR_EINVAL);
    assert_non_null(strstr(why, "noise sized for"));
    /* More noise shares promised than stores invited. */
    good_round(&s, &sa);
    sa.n = s.n_target - 1;
    why[0] = '\0';
    assert_int_equal(
        store_dp_admit(d, ROUND, &s, &sa, N_PARAMS, why, sizeof why),
        FR_EINVAL);
    assert_non_null(strstr(why, "noise sized for"));
    assert_false(store_dp_active(d));
    assert_int_not_equal(access(path, F_OK), 0);
    assert_nothing_charged(d);
}

static void
test_refuses_a_delta_other_than_the_stores(void **state)
{
    store_dp *d = NULL;
    fr_dp_setup s;
    fr_secagg_setup sa;
    char why[256] = "";
    (void)state;

    assert_int_equal(store_dp_new(&d, dir, 0, DELTA), FR_OK);
    good_round(&s, &sa);
    s.delta = DELTA / 10;
    assert_int_equal(
        store_dp_admit(d, ROUND, &s, &sa, N_PARAMS, why, sizeof why),
        FR_EINVAL);
    assert_non_null(strstr(why, "delta"));
    assert_nothing_charged(d);
}

static void
test_admits_and_charges_a_round_that_fits(void **state)
{
    store_dp *d = NULL;
    fr_dp_setup s;
    fr_secagg_setup sa;
    char why[256] = "";
    (void)state;

    assert_int_equal(store_dp_new(&d, dir, 0, DELTA), FR_OK);
    assert_false(store_dp_active(d));
    good_round(&s, &sa);
    assert_int_equal(
        store_dp_admit(d, ROUND, &s, &sa, N_PARAMS, why, sizeof why), FR_OK);
    assert_true(store_dp_active(d));
    assert_true(store_dp_spent(d) > 0.0);
    assert_true(store_dp_spent(d) < BUDGET);
    /* The same round again is not charged twice. */
    {
        double spent = store_dp_spent(d);
        assert_int_equal(
            store_dp_admit(d, ROUND, &s, &sa, N_PARAMS, why, sizeof why),
            FR_OK);
        assert_true(store_dp_spent(d) == spent);
    }
    store_dp_destroy(&d);
    assert_int_equal(ledger_rounds(), 1);
}

/* A region's round: three of the ten stores the round is sized for, a
 * sum the regional aggregator unmasks with its own, smaller minimum. */
static void
nested_round(fr_dp_setup *s, fr_secagg_setup *sa)
{
    good_round(s, sa);
    sa->encode_n = sa->n;
    sa->n = 3;
    sa->k = 2;
    sa->t = 2;
    sa->min_inputs = 3;
}

static void
test_nested_round_needs_dp_regional(void **state)
{
    store_dp *d = NULL;
    fr_dp_setup s;
    fr_secagg_setup sa;
    char why[256] = "";
    (void)state;

    assert_int_equal(store_dp_new(&d, dir, 0, DELTA), FR_OK);
    nested_round(&s, &sa);
    assert_int_equal(
        store_dp_admit(d, ROUND, &s, &sa, N_PARAMS, why, sizeof why),
        FR_EINVAL);
    assert_non_null(strstr(why, "set dp_regional yes"));
    assert_int_not_equal(access(path, F_OK), 0); /* nothing charged */
    /* With it, the round is sized for enough stores: admitted. */
    store_dp_allow_regional(d, true);
    assert_int_equal(
        store_dp_admit(d, ROUND, &s, &sa, N_PARAMS, why, sizeof why), FR_OK);
    assert_true(store_dp_spent(d) > 0.0);
    store_dp_destroy(&d);
    assert_int_equal(ledger_rounds(), 1);
}

static void
test_nested_round_sized_for_too_few_stores(void **state)
{
    store_dp *d = NULL;
    fr_dp_setup s;
    fr_secagg_setup sa;
    char why[256] = "";
    (void)state;

    assert_int_equal(store_dp_new(&d, dir, 0, DELTA), FR_OK);
    store_dp_allow_regional(d, true);
    nested_round(&s, &sa);
    /* n_target + t_collude is 8: a round sized for 7 stores can never
     * hold the noise promised, whatever the central checks. */
    sa.encode_n = s.n_target + s.t_collude - 1;
    assert_int_equal(
        store_dp_admit(d, ROUND, &s, &sa, N_PARAMS, why, sizeof why),
        FR_EINVAL);
    assert_non_null(strstr(why, "covers at most"));
    assert_nothing_charged(d);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_refuses_a_vector_length_that_does_not_fit, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_refuses_fewer_inputs_than_noise_shares, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_refuses_a_delta_other_than_the_stores, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_admits_and_charges_a_round_that_fits, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_nested_round_needs_dp_regional, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_nested_round_sized_for_too_few_stores, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
