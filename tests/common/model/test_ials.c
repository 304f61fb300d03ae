/*
 * test_ials.c - iALS dense maths: the item Gramian against a direct sum,
 * a member's closed-form factor against the normal equations built here
 * in double precision (and the objective is lower there than nearby),
 * the frequency-scaled penalty, and every refused argument.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/ials.h"

#define N_ITEMS 50u
#define D 6u

static float H[N_ITEMS * D], G[D * D], scratch[D * D];

static void
fill(void)
{
    srand(7);
    for (size_t e = 0; e < N_ITEMS * D; e++)
        H[e] = (float)rand() / (float)RAND_MAX - 0.5f;
}

static void
test_gramian(void **state)
{
    (void)state;
    fill();
    assert_int_equal(fr_ials_gramian(H, N_ITEMS, D, G), FR_OK);
    for (uint32_t r = 0; r < D; r++)
        for (uint32_t c = 0; c < D; c++) {
            double want = 0;
            for (uint32_t i = 0; i < N_ITEMS; i++)
                want += (double)H[i * D + r] * H[i * D + c];
            assert_true(fabs(G[r * D + c] - want) < 1e-4);
        }
    assert_int_equal(fr_ials_gramian(H, 0, D, G), FR_EINVAL);
    assert_int_equal(fr_ials_gramian(H, N_ITEMS, 0, G), FR_EINVAL);
    assert_int_equal(fr_ials_gramian(H, N_ITEMS, FR_IALS_MAX_DIM + 1, G),
                     FR_EINVAL);
    assert_int_equal(fr_ials_gramian(NULL, N_ITEMS, D, G), FR_EINVAL);
}

/* The objective of one member's factor w, in double. */
static double
objective(const double *w, const uint32_t *items, size_t n, double alpha0,
          double reg)
{
    double f = 0;
    for (uint32_t i = 0; i < N_ITEMS; i++) {
        double s = 0;
        for (uint32_t j = 0; j < D; j++)
            s += w[j] * H[i * D + j];
        f += alpha0 * s * s;
    }
    for (size_t k = 0; k < n; k++) {
        double s = 0;
        for (uint32_t j = 0; j < D; j++)
            s += w[j] * H[items[k] * D + j];
        f += (s - 1) * (s - 1);
    }
    for (uint32_t j = 0; j < D; j++)
        f += reg * w[j] * w[j];
    return f;
}

static void
test_member_solve(void **state)
{
    const uint32_t items[] = {3, 17, 17, 42, 0, 49, 8};
    const size_t n = sizeof items / sizeof *items;
    const double alpha0 = 0.2, reg = 0.3;
    float w[D];
    double A[D * D] = {0}, b[D] = {0}, wd[D], f0;

    (void)state;
    fill();
    assert_int_equal(fr_ials_gramian(H, N_ITEMS, D, G), FR_OK);
    assert_int_equal(fr_ials_solve_member(H, N_ITEMS, D, G, items, n, alpha0,
                                          reg, w, scratch),
                     FR_OK);
    /* the normal equations, built directly */
    for (uint32_t r = 0; r < D; r++) {
        for (uint32_t c = 0; c < D; c++) {
            for (uint32_t i = 0; i < N_ITEMS; i++)
                A[r * D + c] += alpha0 * H[i * D + r] * H[i * D + c];
            for (size_t k = 0; k < n; k++)
                A[r * D + c] += (double)H[items[k] * D + r] * H[items[k] * D + c];
        }
        A[r * D + r] += reg;
        for (size_t k = 0; k < n; k++)
            b[r] += H[items[k] * D + r];
    }
    for (uint32_t r = 0; r < D; r++) {
        double res = -b[r];
        for (uint32_t c = 0; c < D; c++)
            res += A[r * D + c] * w[c];
        assert_true(fabs(res) < 1e-4);
        wd[r] = w[r];
    }
    /* a minimum: every nearby point scores worse */
    f0 = objective(wd, items, n, alpha0, reg);
    for (uint32_t j = 0; j < D; j++)
        for (int sgn = -1; sgn <= 1; sgn += 2) {
            double p[D];
            memcpy(p, wd, sizeof p);
            p[j] += sgn * 1e-2;
            assert_true(objective(p, items, n, alpha0, reg) > f0);
        }
    /* no observed items: only the penalty and the all-pairs term, so 0 */
    assert_int_equal(fr_ials_solve_member(H, N_ITEMS, D, G, NULL, 0, alpha0,
                                          reg, w, scratch),
                     FR_OK);
    for (uint32_t j = 0; j < D; j++)
        assert_true(w[j] == 0.0f);
}

static void
test_refusals(void **state)
{
    const uint32_t bad[] = {1, N_ITEMS};
    const uint32_t ok[] = {1};
    float w[D];

    (void)state;
    fill();
    assert_int_equal(fr_ials_gramian(H, N_ITEMS, D, G), FR_OK);
    assert_int_equal(
        fr_ials_solve_member(H, N_ITEMS, D, G, bad, 2, 0.1, 0.1, w, scratch),
        FR_EINVAL);
    assert_int_equal(
        fr_ials_solve_member(H, N_ITEMS, D, G, ok, 1, 0.1, 0.0, w, scratch),
        FR_EINVAL);
    assert_int_equal(
        fr_ials_solve_member(H, N_ITEMS, D, G, ok, 1, -1.0, 0.1, w, scratch),
        FR_EINVAL);
    assert_int_equal(fr_ials_solve_member(H, N_ITEMS, D, G, ok, 1, NAN, 0.1, w,
                                          scratch),
                     FR_EINVAL);
    assert_int_equal(
        fr_ials_solve_member(H, N_ITEMS, 0, G, ok, 1, 0.1, 0.1, w, scratch),
        FR_EINVAL);
    assert_int_equal(
        fr_ials_solve_member(H, N_ITEMS, D, G, NULL, 1, 0.1, 0.1, w, scratch),
        FR_EINVAL);
    /* a Gramian that makes the system indefinite is reported, not used */
    {
        float neg[D * D];
        for (size_t e = 0; e < D * D; e++)
            neg[e] = -G[e] * 100.0f;
        assert_int_equal(fr_ials_solve_member(H, N_ITEMS, D, neg, ok, 1, 1.0,
                                              0.1, w, scratch),
                         FR_ESTATE);
    }
}

static void
test_reg(void **state)
{
    (void)state;
    assert_true(fabs(fr_ials_reg(0.5, 0.0, 0.1, 30, 1000) - 0.5) < 1e-12);
    assert_true(fabs(fr_ials_reg(0.5, 1.0, 0.1, 30, 1000) - 0.5 * 130) <
                1e-9);
    assert_true(fabs(fr_ials_reg(2.0, 0.5, 0.0, 16, 1000) - 8.0) < 1e-9);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gramian),
        cmocka_unit_test(test_member_solve),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_reg),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
