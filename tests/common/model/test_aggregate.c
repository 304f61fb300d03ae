/*
 * test_aggregate.c - weighted federated averaging: a hand-computed mean,
 * rejection of bad updates without side effects, double accumulation.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>

#include "model/aggregate.h"

static void
test_new_rejects_zero_length(void **state)
{
    fr_agg *a = NULL;
    (void)state;
    assert_int_equal(fr_agg_new(&a, 0), FR_EINVAL);
    assert_null(a);
    fr_agg_destroy(&a);
    fr_agg_destroy(NULL);
}

static void
test_weighted_mean(void **state)
{
    const float x1[] = {1, 2, 3}, x2[] = {4, 5, 6};
    float out[3];
    fr_agg *a = NULL;
    (void)state;
    assert_int_equal(fr_agg_new(&a, 3), FR_OK);
    assert_int_equal(fr_agg_add(a, x1, 1.0), FR_OK);
    assert_int_equal(fr_agg_add(a, x2, 3.0), FR_OK);
    assert_int_equal(fr_agg_count(a), 2);
    assert_true(fr_agg_total_weight(a) == 4.0);
    assert_int_equal(fr_agg_mean(a, out), FR_OK);
    /* (1*1 + 3*4) / 4 = 3.25 etc.; exact in binary */
    assert_true(out[0] == 3.25f);
    assert_true(out[1] == 4.25f);
    assert_true(out[2] == 5.25f);
    fr_agg_destroy(&a);
    assert_null(a);
}

static void
test_rejected_updates_are_not_added(void **state)
{
    const float good[] = {2, 4};
    const float bad_x[][2] = {{NAN, 1}, {1, INFINITY}, {-INFINITY, 0}};
    const double bad_w[] = {0.0, -1.0, NAN, INFINITY, -INFINITY};
    const float huge[] = {FLT_MAX, 0};
    float out[2];
    fr_agg *a = NULL;
    (void)state;
    assert_int_equal(fr_agg_new(&a, 2), FR_OK);
    assert_int_equal(fr_agg_add(a, good, 2.0), FR_OK);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(fr_agg_add(a, bad_x[i], 1.0), FR_EINVAL);
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(fr_agg_add(a, good, bad_w[i]), FR_EINVAL);
    /* finite inputs whose weighted sum would overflow a double */
    assert_int_equal(fr_agg_add(a, huge, 1e300), FR_EINVAL);
    assert_int_equal(fr_agg_count(a), 1);
    assert_true(fr_agg_total_weight(a) == 2.0);
    assert_int_equal(fr_agg_mean(a, out), FR_OK);
    assert_true(out[0] == 2.0f && out[1] == 4.0f);
    fr_agg_destroy(&a);
}

static void
test_empty_and_reset(void **state)
{
    const float x[] = {7};
    float out[1] = {-1};
    fr_agg *a = NULL;
    (void)state;
    assert_int_equal(fr_agg_new(&a, 1), FR_OK);
    assert_int_equal(fr_agg_mean(a, out), FR_ESTATE);
    assert_true(out[0] == -1.0f); /* untouched */
    assert_int_equal(fr_agg_add(a, x, 5.0), FR_OK);
    fr_agg_reset(a);
    assert_int_equal(fr_agg_count(a), 0);
    assert_true(fr_agg_total_weight(a) == 0.0);
    assert_int_equal(fr_agg_mean(a, out), FR_ESTATE);
    /* after a reset the old update no longer contributes */
    const float y[] = {1};
    assert_int_equal(fr_agg_add(a, y, 1.0), FR_OK);
    assert_int_equal(fr_agg_mean(a, out), FR_OK);
    assert_true(out[0] == 1.0f);
    fr_agg_destroy(&a);
}

static void
test_accumulates_in_double(void **state)
{
    /* 20000 equal updates: the mean must be the update itself. A float
     * accumulator drifts by several ulps over this many additions. */
    const float x[] = {0.1f, 1e-3f, 12345.678f};
    float out[3];
    fr_agg *a = NULL;
    (void)state;
    assert_int_equal(fr_agg_new(&a, 3), FR_OK);
    for (int i = 0; i < 20000; i++)
        assert_int_equal(fr_agg_add(a, x, 1.0 + (i % 3)), FR_OK);
    assert_int_equal(fr_agg_mean(a, out), FR_OK);
    assert_true(out[0] == x[0]);
    assert_true(out[1] == x[1]);
    assert_true(out[2] == x[2]);
    fr_agg_destroy(&a);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_rejects_zero_length),
        cmocka_unit_test(test_weighted_mean),
        cmocka_unit_test(test_rejected_updates_are_not_added),
        cmocka_unit_test(test_empty_and_reset),
        cmocka_unit_test(test_accumulates_in_double),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
