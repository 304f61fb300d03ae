/*
 * test_eval.c - ranking metrics against hand-computed ranks: pessimistic
 * ties, a duplicated positive among the negatives, HR and NDCG cut-offs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>

#include "base/util.h"
#include "model/eval.h"

static void
test_rank_counts_higher_scores(void **state)
{
    const float neg[] = {0.1f, 0.9f, 0.3f, 0.7f, -2.0f};
    const uint32_t items[] = {10, 11, 12, 13, 14};
    (void)state;
    assert_int_equal(fr_eval_rank(0.5f, 1, neg, items, 5), 2);
    assert_int_equal(fr_eval_rank(1.0f, 1, neg, items, 5), 0);
    assert_int_equal(fr_eval_rank(-3.0f, 1, neg, items, 5), 5);
    assert_int_equal(fr_eval_rank(0.5f, 1, neg, NULL, 5), 2);
    assert_int_equal(fr_eval_rank(0.5f, 1, neg, items, 0), 0);
}

static void
test_rank_ties_count_above(void **state)
{
    const float neg[] = {0.5f, 0.1f, 0.5f, 0.6f};
    const float flat[] = {0.0f, 0.0f, 0.0f};
    (void)state;
    /* two ties and one higher: the positive is ranked below all three */
    assert_int_equal(fr_eval_rank(0.5f, 1, neg, NULL, 4), 3);
    /* a model that scores everything alike never scores a hit at rank 0 */
    assert_int_equal(fr_eval_rank(0.0f, 1, flat, NULL, 3), 3);
}

static void
test_rank_ignores_duplicate_positive(void **state)
{
    /* item 7 is the positive; its copy among the negatives ties it and
     * would count above it if it were not skipped */
    const float neg[] = {0.5f, 0.2f, 0.8f, 0.5f};
    const uint32_t items[] = {7, 3, 4, 7};
    (void)state;
    assert_int_equal(fr_eval_rank(0.5f, 7, neg, items, 4), 1);
    /* without item ids nothing is skipped */
    assert_int_equal(fr_eval_rank(0.5f, 7, neg, NULL, 4), 3);
}

static void
test_rank_nan_is_pessimistic(void **state)
{
    const float neg[] = {0.1f, NAN, 0.2f};
    (void)state;
    assert_int_equal(fr_eval_rank(0.5f, 1, neg, NULL, 3), 1);
    assert_int_equal(fr_eval_rank(NAN, 1, neg, NULL, 3), 3);
}

static void
test_hit_and_ndcg(void **state)
{
    (void)state;
    assert_true(fr_eval_hit(0, 10) == 1.0);
    assert_true(fr_eval_hit(9, 10) == 1.0);
    assert_true(fr_eval_hit(10, 10) == 0.0);
    assert_true(fr_eval_hit(0, 0) == 0.0);
    assert_true(fr_eval_ndcg(0, 10) == 1.0);
    assert_true(fr_eval_ndcg(2, 10) == 0.5); /* 1 / log2(4) */
    assert_true(fr_eval_ndcg(6, 10) == 1.0 / 3.0); /* 1 / log2(8) */
    assert_float_equal(fr_eval_ndcg(1, 10), 0.6309297535714575, 1e-12);
    assert_float_equal(fr_eval_ndcg(9, 10), 1.0 / log2(11.0), 1e-12);
    assert_true(fr_eval_ndcg(10, 10) == 0.0);
    assert_true(fr_eval_ndcg(50, 10) == 0.0);
    assert_true(fr_eval_ndcg(3, 3) == 0.0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rank_counts_higher_scores),
        cmocka_unit_test(test_rank_ties_count_above),
        cmocka_unit_test(test_rank_ignores_duplicate_positive),
        cmocka_unit_test(test_rank_nan_is_pessimistic),
        cmocka_unit_test(test_hit_and_ndcg),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
