/* test_ratelimit.c - the log-line budget: a burst per window, the rest held
 * back and handed back once when the window ends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/ratelimit.h"

static void
test_burst_then_held(void **state)
{
    fr_ratelimit rl = FR_RATELIMIT(3, 1000);
    int64_t span = -1;
    (void)state;

    for (int i = 0; i < 3; i++)
        assert_true(fr_ratelimit_take(&rl, 100 + i));
    for (int i = 0; i < 7; i++)
        assert_false(fr_ratelimit_take(&rl, 200 + i));
    /* The window (from t=100) is not over yet: nothing to report. */
    assert_int_equal(fr_ratelimit_roll(&rl, 1099, &span), 0);
    assert_int_equal(span, 0);
    assert_false(fr_ratelimit_take(&rl, 1099));
    /* Over: the 8 held back are handed back once, with the window's span. */
    assert_int_equal(fr_ratelimit_roll(&rl, 1100, &span), 8);
    assert_int_equal(span, 1000);
    assert_int_equal(fr_ratelimit_roll(&rl, 5000, NULL), 0);
    /* A new window starts with the next line. */
    assert_true(fr_ratelimit_take(&rl, 6000));
    assert_true(fr_ratelimit_take(&rl, 6001));
    assert_true(fr_ratelimit_take(&rl, 6002));
    assert_false(fr_ratelimit_take(&rl, 6003));
    assert_int_equal(fr_ratelimit_roll(&rl, 7000, NULL), 1);
}

static void
test_unrolled_window_keeps_count(void **state)
{
    fr_ratelimit rl = FR_RATELIMIT(1, 100);
    (void)state;

    assert_true(fr_ratelimit_take(&rl, 0));
    assert_false(fr_ratelimit_take(&rl, 50));
    /* A caller that never rolls still gets a line per window, and the
     * count of what was held back is not lost. */
    assert_true(fr_ratelimit_take(&rl, 150));
    assert_false(fr_ratelimit_take(&rl, 160));
    assert_int_equal(fr_ratelimit_roll(&rl, 250, NULL), 2);
}

static void
test_quiet_limiter_reports_nothing(void **state)
{
    fr_ratelimit rl = FR_RATELIMIT(5, 10);
    int64_t span = -1;
    (void)state;

    assert_int_equal(fr_ratelimit_roll(&rl, 1000000, &span), 0);
    assert_int_equal(span, 0);
    assert_true(fr_ratelimit_take(&rl, 1000000));
    assert_int_equal(fr_ratelimit_roll(&rl, 1000010, NULL), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_then_held),
        cmocka_unit_test(test_unrolled_window_keeps_count),
        cmocka_unit_test(test_quiet_limiter_reports_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
