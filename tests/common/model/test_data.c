/*
 * test_data.c - the per-member interaction index: ordering, duplicate
 * handling, bounds and the finalize state machine.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "model/data.h"
#include "model/model.h"

static void
test_new_rejects_bad_catalogue(void **state)
{
    fr_dataset *d = NULL;
    (void)state;
    assert_int_equal(fr_dataset_new(&d, 0), FR_EINVAL);
    assert_int_equal(fr_dataset_new(&d, FR_MODEL_MAX_ITEMS + 1), FR_EINVAL);
    assert_null(d);
    fr_dataset_destroy(&d);
    fr_dataset_destroy(NULL);
}

static void
test_sorted_by_time_then_item(void **state)
{
    fr_dataset *d = NULL;
    uint32_t n;
    (void)state;
    assert_int_equal(fr_dataset_new(&d, 10), FR_OK);
    /* added out of order, members interleaved, a timestamp tie */
    assert_int_equal(fr_dataset_add(d, 1, 5, 300), FR_OK);
    assert_int_equal(fr_dataset_add(d, 0, 9, 200), FR_OK);
    assert_int_equal(fr_dataset_add(d, 1, 2, 100), FR_OK);
    assert_int_equal(fr_dataset_add(d, 1, 7, 200), FR_OK);
    assert_int_equal(fr_dataset_add(d, 1, 3, 200), FR_OK);
    assert_int_equal(fr_dataset_add(d, 0, 4, -50), FR_OK);
    assert_int_equal(fr_dataset_finalize(d), FR_OK);
    assert_int_equal(fr_dataset_n_members(d), 2);
    assert_int_equal(fr_dataset_n_items(d), 10);
    assert_int_equal(fr_dataset_n_interactions(d), 6);

    const uint32_t *it = fr_dataset_member_items(d, 1, &n);
    const int64_t *ts = fr_dataset_member_times(d, 1, &n);
    assert_int_equal(n, 4);
    const uint32_t want_items[] = {2, 3, 7, 5};
    const int64_t want_times[] = {100, 200, 200, 300};
    for (uint32_t k = 0; k < 4; k++) {
        assert_int_equal(it[k], want_items[k]);
        assert_int_equal(ts[k], want_times[k]);
    }
    it = fr_dataset_member_items(d, 0, &n);
    assert_int_equal(n, 2);
    assert_int_equal(it[0], 4);
    assert_int_equal(it[1], 9);
    fr_dataset_destroy(&d);
    assert_null(d);
}

static void
test_duplicates_keep_latest(void **state)
{
    fr_dataset *d = NULL;
    uint32_t n;
    (void)state;
    assert_int_equal(fr_dataset_new(&d, 10), FR_OK);
    assert_int_equal(fr_dataset_add(d, 0, 3, 50), FR_OK);
    assert_int_equal(fr_dataset_add(d, 0, 1, 10), FR_OK);
    assert_int_equal(fr_dataset_add(d, 0, 3, 5), FR_OK);
    assert_int_equal(fr_dataset_add(d, 0, 3, 50), FR_OK); /* exact repeat */
    assert_int_equal(fr_dataset_add(d, 0, 2, 20), FR_OK);
    assert_int_equal(fr_dataset_add(d, 1, 3, 1), FR_OK);  /* other member */
    assert_int_equal(fr_dataset_finalize(d), FR_OK);
    assert_int_equal(fr_dataset_n_interactions(d), 4);
    const uint32_t *it = fr_dataset_member_items(d, 0, &n);
    const int64_t *ts = fr_dataset_member_times(d, 0, &n);
    assert_int_equal(n, 3);
    /* item 3 keeps its latest time, 50, and so comes last */
    assert_int_equal(it[0], 1);
    assert_int_equal(it[1], 2);
    assert_int_equal(it[2], 3);
    assert_int_equal(ts[2], 50);
    it = fr_dataset_member_items(d, 1, &n);
    assert_int_equal(n, 1);
    assert_int_equal(it[0], 3);
    fr_dataset_destroy(&d);
}

static void
test_bounds_and_states(void **state)
{
    fr_dataset *d = NULL;
    uint32_t n = 99;
    (void)state;
    assert_int_equal(fr_dataset_new(&d, 4), FR_OK);
    assert_int_equal(fr_dataset_add(d, 0, 4, 1), FR_EINVAL);
    assert_int_equal(fr_dataset_add(d, UINT32_MAX, 0, 1), FR_EINVAL);
    assert_int_equal(fr_dataset_add(d, 5, 3, 1), FR_OK);
    /* before finalize nothing is visible */
    assert_null(fr_dataset_member_items(d, 5, &n));
    assert_int_equal(n, 0);
    assert_int_equal(fr_dataset_finalize(d), FR_OK);
    assert_int_equal(fr_dataset_finalize(d), FR_ESTATE);
    assert_int_equal(fr_dataset_add(d, 0, 0, 1), FR_ESTATE);
    assert_int_equal(fr_dataset_n_members(d), 6); /* grown to member + 1 */
    n = 99;
    assert_null(fr_dataset_member_items(d, 2, &n)); /* a gap: no rows */
    assert_int_equal(n, 0);
    n = 99;
    assert_null(fr_dataset_member_times(d, 6, &n)); /* out of range */
    assert_int_equal(n, 0);
    assert_non_null(fr_dataset_member_items(d, 5, &n));
    assert_int_equal(n, 1);
    fr_dataset_destroy(&d);
}

static void
test_empty_and_many(void **state)
{
    fr_dataset *d = NULL;
    uint32_t n;
    (void)state;
    assert_int_equal(fr_dataset_new(&d, 1000), FR_OK);
    assert_int_equal(fr_dataset_finalize(d), FR_OK);
    assert_int_equal(fr_dataset_n_members(d), 0);
    assert_int_equal(fr_dataset_n_interactions(d), 0);
    fr_dataset_destroy(&d);

    /* enough rows to make the row array grow several times */
    assert_int_equal(fr_dataset_new(&d, 1000), FR_OK);
    for (uint32_t r = 0; r < 5000; r++)
        assert_int_equal(fr_dataset_add(d, r % 50, (r * 7) % 1000,
                                        (int64_t)(5000 - r)),
                         FR_OK);
    assert_int_equal(fr_dataset_finalize(d), FR_OK);
    assert_int_equal(fr_dataset_n_members(d), 50);
    /* r and r + 1000 name the same (member, item): 1000 distinct pairs */
    assert_int_equal(fr_dataset_n_interactions(d), 1000);
    uint64_t total = 0;
    for (uint32_t m = 0; m < 50; m++) {
        const int64_t *ts = fr_dataset_member_times(d, m, &n);
        for (uint32_t k = 1; k < n; k++)
            assert_true(ts[k - 1] <= ts[k]);
        total += n;
    }
    assert_int_equal(total, fr_dataset_n_interactions(d));
    fr_dataset_destroy(&d);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_rejects_bad_catalogue),
        cmocka_unit_test(test_sorted_by_time_then_item),
        cmocka_unit_test(test_duplicates_keep_latest),
        cmocka_unit_test(test_bounds_and_states),
        cmocka_unit_test(test_empty_and_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
