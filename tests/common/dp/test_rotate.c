/*
 * test_rotate.c - the randomized Hadamard rotation: it is (1/sqrt(d)) H D
 * with H the Sylvester matrix and D a +-1 diagonal fixed by the seed, it
 * keeps L2 norms, unrotate inverts it, different seeds give different D, and
 * bad dimensions are refused without touching the buffer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dp/rotate.h"

/* splitmix64: reproducible test vectors */
static uint64_t
next_u64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

/* uniform in [-1, 1) */
static double
next_unit(uint64_t *s)
{
    return (double)(next_u64(s) >> 11) * 0x1p-52 - 1.0;
}

static double
norm2(const double *x, uint64_t d)
{
    double s = 0.0;

    for (uint64_t i = 0; i < d; i++)
        s += x[i] * x[i];
    return sqrt(s);
}

static double *
random_vec(uint64_t d, uint64_t *st, double mag)
{
    double *x = malloc(d * sizeof *x);

    assert_non_null(x);
    for (uint64_t i = 0; i < d; i++)
        x[i] = mag * next_unit(st);
    return x;
}

static void
test_norm_and_inverse(void **state)
{
    static const uint64_t dims[] = {1, 2, 4, 8, 64, 1024, 1u << 16};
    uint64_t st = 42;

    (void)state;
    for (size_t k = 0; k < sizeof dims / sizeof dims[0]; k++) {
        uint64_t d = dims[k];
        double *x = random_vec(d, &st, 1e3);
        double *y = malloc(d * sizeof *y);
        double nx, err = 0.0;

        assert_non_null(y);
        memcpy(y, x, d * sizeof *y);
        nx = norm2(x, d);
        assert_int_equal(fr_dp_rotate(y, d, 7 + k), FR_OK);
        assert_true(fabs(norm2(y, d) - nx) <= 1e-12 * nx);
        assert_int_equal(fr_dp_unrotate(y, d, 7 + k), FR_OK);
        for (uint64_t i = 0; i < d; i++)
            err = fmax(err, fabs(y[i] - x[i]));
        assert_true(err <= 1e-12 * nx);
        free(x);
        free(y);
    }
}

/* D_j = +-1 read back through rotate(e_j)[0] * sqrt(d), since H[0][j] = 1 */
static void
signs_of(uint64_t seed, uint64_t d, int *sign)
{
    double *e = calloc(d, sizeof *e);

    assert_non_null(e);
    for (uint64_t j = 0; j < d; j++) {
        memset(e, 0, d * sizeof *e);
        e[j] = 1.0;
        assert_int_equal(fr_dp_rotate(e, d, seed), FR_OK);
        sign[j] = e[0] > 0 ? 1 : -1;
        /* every coordinate is +-1/sqrt(d): column j of H times D_j */
        for (uint64_t i = 0; i < d; i++) {
            int h = __builtin_popcountll(i & j) & 1 ? -1 : 1;

            assert_true(fabs(e[i] - sign[j] * h / sqrt((double)d)) < 1e-15);
        }
    }
    free(e);
}

static void
test_is_hadamard_times_signs(void **state)
{
    enum { D = 64 };
    int a[D], b[D], c[D];
    int differ = 0, neg = 0;

    (void)state;
    signs_of(1, D, a);
    signs_of(1, D, c);
    signs_of(2, D, b);
    assert_memory_equal(a, c, sizeof a);
    for (int j = 0; j < D; j++) {
        differ += a[j] != b[j];
        neg += a[j] < 0;
    }
    /* two independent sign vectors agree everywhere with chance 2^-64 */
    assert_true(differ > 0);
    assert_true(neg > 0 && neg < D);
}

/* unrotate is the transpose: <rotate(x), y> = <x, unrotate(y)> */
static void
test_unrotate_is_transpose(void **state)
{
    enum { D = 256 };
    uint64_t st = 9;
    double *x = random_vec(D, &st, 1.0), *y = random_vec(D, &st, 1.0);
    double rx[D], uy[D], l = 0.0, r = 0.0;

    (void)state;
    memcpy(rx, x, sizeof rx);
    memcpy(uy, y, sizeof uy);
    assert_int_equal(fr_dp_rotate(rx, D, 3), FR_OK);
    assert_int_equal(fr_dp_unrotate(uy, D, 3), FR_OK);
    for (int i = 0; i < D; i++) {
        l += rx[i] * y[i];
        r += x[i] * uy[i];
    }
    assert_true(fabs(l - r) < 1e-12);
    free(x);
    free(y);
}

static void
test_refuses(void **state)
{
    static const uint64_t bad[] = {0, 3, 6, 12, 1000, (1u << 20) + 1};
    double x[8] = {1, 2, 3, 4, 5, 6, 7, 8}, keep[8];

    (void)state;
    memcpy(keep, x, sizeof x);
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        /* a bad d is refused before the buffer is touched */
        assert_int_equal(fr_dp_rotate(x, bad[k], 1), FR_EINVAL);
        assert_int_equal(fr_dp_unrotate(x, bad[k], 1), FR_EINVAL);
    }
    assert_memory_equal(x, keep, sizeof x);
    assert_int_equal(fr_dp_rotate(NULL, 8, 1), FR_EINVAL);
    assert_int_equal(fr_dp_unrotate(NULL, 8, 1), FR_EINVAL);
    assert_int_equal(fr_dp_rotate(x, FR_DP_MAX_DIM * 2, 1), FR_ELIMIT);
}

static void
test_pad_dim(void **state)
{
    (void)state;
    assert_int_equal(fr_dp_pad_dim(0), 1);
    assert_int_equal(fr_dp_pad_dim(1), 1);
    assert_int_equal(fr_dp_pad_dim(2), 2);
    assert_int_equal(fr_dp_pad_dim(3), 4);
    assert_int_equal(fr_dp_pad_dim(1000), 1024);
    assert_int_equal(fr_dp_pad_dim(1024), 1024);
    assert_int_equal(fr_dp_pad_dim(1025), 2048);
    assert_true(fr_dp_pad_dim((uint64_t)1 << 63) == (uint64_t)1 << 63);
    assert_int_equal(fr_dp_pad_dim(((uint64_t)1 << 63) + 1), 0);
    assert_int_equal(fr_dp_pad_dim(UINT64_MAX), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_norm_and_inverse),
        cmocka_unit_test(test_is_hadamard_times_signs),
        cmocka_unit_test(test_unrotate_is_transpose),
        cmocka_unit_test(test_refuses),
        cmocka_unit_test(test_pad_dim),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
