/*
 * test_ials_fed.c - the iALS model kind across stores: each member's
 * factor is the closed-form solve; two stores' sums equal one store's
 * holding both; the CG item step from summed sums converges to each item's
 * exact least-squares solve (built here in double); one federated epoch
 * lowers the objective; and every refusal.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/ials.h"
#include "model/mf_int.h"

#define N_ITEMS 30u
#define N_MEMBERS 40u
#define D 5u

static const fr_ials_opts OPTS = {.alpha0 = 0.2, .lambda = 0.05, .nu = 0.5};

typedef struct fixture {
    fr_dataset *data[3]; /* store A, store B, one store holding both */
    fr_mf *mf[3];
    fr_model *model;
    float G[D * D];
} fixture;

/* Member m's items: a fixed pseudo-random set of 2..8 items. */
static uint32_t
member_items(uint32_t m, uint32_t *items)
{
    uint32_t n = 2 + (m * 5u) % 7u, k = 0;
    for (uint32_t j = 0; k < n; j++) {
        uint32_t it = (m * 13u + j * j * 5u + j) % N_ITEMS;
        int dup = 0;
        for (uint32_t q = 0; q < k; q++)
            dup |= items[q] == it;
        if (!dup)
            items[k++] = it;
    }
    return n;
}

static int
setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    uint32_t items[16];

    assert_non_null(fx);
    for (int s = 0; s < 3; s++)
        assert_int_equal(fr_dataset_new(&fx->data[s], N_ITEMS), FR_OK);
    for (uint32_t m = 0; m < N_MEMBERS; m++) {
        uint32_t n = member_items(m, items);
        int s = m % 2; /* A: even members, B: odd */
        for (uint32_t k = 0; k < n; k++) {
            assert_int_equal(fr_dataset_add(fx->data[s], m / 2, items[k], k),
                             FR_OK);
            assert_int_equal(fr_dataset_add(fx->data[2], m, items[k], k),
                             FR_OK);
        }
    }
    for (int s = 0; s < 3; s++) {
        assert_int_equal(fr_dataset_finalize(fx->data[s]), FR_OK);
        assert_int_equal(fr_mf_new_holdout(&fx->mf[s], fx->data[s], D, 5,
                                           FR_MF_HOLDOUT_NONE),
                         FR_OK);
    }
    assert_int_equal(fr_model_new(&fx->model, N_ITEMS, D), FR_OK);
    fr_model_init_random(fx->model, 11, 0.3f);
    memset(fr_model_item_bias(fx->model), 0, N_ITEMS * sizeof(float));
    assert_int_equal(fr_ials_gramian(fr_model_item_emb(fx->model), N_ITEMS, D,
                                     fx->G),
                     FR_OK);
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    fixture *fx = *state;
    for (int s = 0; s < 3; s++) {
        fr_mf_destroy(&fx->mf[s]);
        fr_dataset_destroy(&fx->data[s]);
    }
    fr_model_destroy(&fx->model);
    free(fx);
    return 0;
}

static void
fit_all(fixture *fx)
{
    for (int s = 0; s < 3; s++)
        assert_int_equal(fr_ials_fit_members(fx->mf[s], fx->model, fx->G,
                                             &OPTS),
                         FR_OK);
}

/* Member m's factor, wherever it lives. */
static const float *
factor(const fixture *fx, int whole, uint32_t m)
{
    if (whole)
        return fx->mf[2]->p + (size_t)m * D;
    return fx->mf[m % 2]->p + (size_t)(m / 2) * D;
}

static void
test_members_closed_form(void **state)
{
    fixture *fx = *state;
    const float *H = fr_model_item_emb_const(fx->model);
    uint32_t items[16];
    float w[D], scratch[D * D];

    fit_all(fx);
    for (uint32_t m = 0; m < N_MEMBERS; m++) {
        uint32_t n = member_items(m, items);
        double reg = fr_ials_reg(OPTS.lambda, OPTS.nu, OPTS.alpha0, n, N_ITEMS);
        assert_int_equal(fr_ials_solve_member(H, N_ITEMS, D, fx->G, items, n,
                                              OPTS.alpha0, reg, w, scratch),
                         FR_OK);
        for (uint32_t j = 0; j < D; j++) {
            assert_true(fabsf(factor(fx, 0, m)[j] - w[j]) < 1e-4f);
            assert_true(fabsf(factor(fx, 1, m)[j] - w[j]) < 1e-4f);
        }
    }
}

static void
test_stats_add_up(void **state)
{
    fixture *fx = *state;
    size_t len = fr_ials_stats_len(N_ITEMS, D);
    float *two = calloc(len, sizeof *two), *one = calloc(len, sizeof *one);

    assert_int_equal(len, 2 * N_ITEMS * D + 2 * N_ITEMS + D * D + 1);
    fit_all(fx);
    assert_int_equal(fr_ials_store_stats(fx->mf[0], fx->model, two), FR_OK);
    assert_int_equal(fr_ials_store_stats(fx->mf[1], fx->model, two), FR_OK);
    assert_int_equal(fr_ials_store_stats(fx->mf[2], fx->model, one), FR_OK);
    for (size_t k = 0; k < len; k++)
        assert_true(fabsf(two[k] - one[k]) <= 1e-4f * (1.0f + fabsf(one[k])));
    /* the counts and the member total are exact */
    const float *C = one + 2 * N_ITEMS * D + N_ITEMS;
    double total = 0;
    for (uint32_t i = 0; i < N_ITEMS; i++)
        total += C[i];
    assert_true(one[len - 1] == (float)N_MEMBERS);
    {
        uint32_t items[16];
        double want = 0;
        for (uint32_t m = 0; m < N_MEMBERS; m++)
            want += member_items(m, items);
        assert_true(total == want);
    }
    /* B's entry for item i is the sum of its members' factors */
    for (uint32_t i = 0; i < N_ITEMS; i++)
        for (uint32_t j = 0; j < D; j++) {
            double want = 0;
            uint32_t items[16];
            for (uint32_t m = 0; m < N_MEMBERS; m++) {
                uint32_t n = member_items(m, items);
                for (uint32_t k = 0; k < n; k++)
                    if (items[k] == i)
                        want += factor(fx, 1, m)[j];
            }
            assert_true(fabs(one[i * D + j] - want) < 1e-4);
        }
    free(two);
    free(one);
}

/* Solves the d x d system A x = b in double (Gaussian elimination). */
static void
solve_dense(double *A, double *b, double *x)
{
    for (uint32_t c = 0; c < D; c++) {
        uint32_t piv = c;
        for (uint32_t r = c + 1; r < D; r++)
            if (fabs(A[r * D + c]) > fabs(A[piv * D + c]))
                piv = r;
        for (uint32_t k = 0; k < D; k++) {
            double t = A[c * D + k];
            A[c * D + k] = A[piv * D + k];
            A[piv * D + k] = t;
        }
        double t = b[c];
        b[c] = b[piv];
        b[piv] = t;
        for (uint32_t r = c + 1; r < D; r++) {
            double f = A[r * D + c] / A[c * D + c];
            for (uint32_t k = c; k < D; k++)
                A[r * D + k] -= f * A[c * D + k];
            b[r] -= f * b[c];
        }
    }
    for (uint32_t c = D; c-- > 0;) {
        double s = b[c];
        for (uint32_t k = c + 1; k < D; k++)
            s -= A[c * D + k] * x[k];
        x[c] = s / A[c * D + c];
    }
}

/* Item i's exact solve given every member's factor. */
static void
exact_item(const fixture *fx, uint32_t i, double *x)
{
    double A[D * D] = {0}, b[D] = {0};
    uint32_t items[16], cnt = 0;

    for (uint32_t m = 0; m < N_MEMBERS; m++) {
        const float *w = factor(fx, 1, m);
        uint32_t n = member_items(m, items);
        int has = 0;
        for (uint32_t k = 0; k < n; k++)
            has |= items[k] == i;
        cnt += (uint32_t)has;
        for (uint32_t r = 0; r < D; r++) {
            for (uint32_t c = 0; c < D; c++)
                A[r * D + c] += (OPTS.alpha0 + has) * w[r] * w[c];
            b[r] += has * w[r];
        }
    }
    double lam = fr_ials_reg(OPTS.lambda, OPTS.nu, OPTS.alpha0, cnt, N_MEMBERS);
    for (uint32_t r = 0; r < D; r++)
        A[r * D + r] += lam;
    solve_dense(A, b, x);
}

static void
sum_matvec(fixture *fx, const float *V, float *out)
{
    memset(out, 0, N_ITEMS * D * sizeof *out);
    assert_int_equal(fr_ials_store_matvec(fx->mf[0], V, N_ITEMS, out), FR_OK);
    assert_int_equal(fr_ials_store_matvec(fx->mf[1], V, N_ITEMS, out), FR_OK);
}

static void
sum_stats(fixture *fx, float *out, size_t len)
{
    memset(out, 0, len * sizeof *out);
    assert_int_equal(fr_ials_store_stats(fx->mf[0], fx->model, out), FR_OK);
    assert_int_equal(fr_ials_store_stats(fx->mf[1], fx->model, out), FR_OK);
}

static void
test_cg_converges_to_exact(void **state)
{
    fixture *fx = *state;
    size_t len = fr_ials_stats_len(N_ITEMS, D);
    float *stats = malloc(len * sizeof *stats);
    float mv[N_ITEMS * D], H[N_ITEMS * D];
    fr_ials_cg *cg = NULL;
    double r0, r1;

    fit_all(fx);
    sum_stats(fx, stats, len);
    memcpy(H, fr_model_item_emb_const(fx->model), sizeof H);
    assert_int_equal(fr_ials_cg_new(&cg, N_ITEMS, D, &OPTS), FR_OK);
    assert_int_equal(fr_ials_cg_begin(cg, H, stats), FR_OK);
    r0 = fr_ials_cg_residual(cg);
    assert_true(r0 > 0.0);
    for (int it = 0; it < 3 * (int)D; it++) {
        sum_matvec(fx, fr_ials_cg_direction(cg), mv);
        assert_int_equal(fr_ials_cg_step(cg, H, mv), FR_OK);
    }
    r1 = fr_ials_cg_residual(cg);
    assert_true(r1 < 1e-8 * r0 + 1e-9);
    for (uint32_t i = 0; i < N_ITEMS; i++) {
        double x[D];
        exact_item(fx, i, x);
        for (uint32_t j = 0; j < D; j++)
            assert_true(fabs(H[i * D + j] - x[j]) < 1e-3 * (1.0 + fabs(x[j])));
    }
    fr_ials_cg_destroy(&cg);
    assert_null(cg);
    free(stats);
}

/* The whole objective (ials.h) in double, every member and item. */
static double
objective(const fixture *fx, const float *H)
{
    uint32_t items[16], cnt[N_ITEMS] = {0};
    double f = 0;

    for (uint32_t m = 0; m < N_MEMBERS; m++) {
        const float *w = factor(fx, 1, m);
        uint32_t n = member_items(m, items);
        for (uint32_t i = 0; i < N_ITEMS; i++) {
            double s = 0;
            for (uint32_t j = 0; j < D; j++)
                s += (double)w[j] * H[i * D + j];
            f += OPTS.alpha0 * s * s;
        }
        double ww = 0;
        for (uint32_t k = 0; k < n; k++) {
            double s = 0;
            for (uint32_t j = 0; j < D; j++)
                s += (double)w[j] * H[items[k] * D + j];
            f += (s - 1) * (s - 1);
            cnt[items[k]]++;
        }
        for (uint32_t j = 0; j < D; j++)
            ww += (double)w[j] * w[j];
        f += fr_ials_reg(OPTS.lambda, OPTS.nu, OPTS.alpha0, n, N_ITEMS) * ww;
    }
    for (uint32_t i = 0; i < N_ITEMS; i++) {
        double hh = 0;
        for (uint32_t j = 0; j < D; j++)
            hh += (double)H[i * D + j] * H[i * D + j];
        f += fr_ials_reg(OPTS.lambda, OPTS.nu, OPTS.alpha0, cnt[i], N_MEMBERS) *
             hh;
    }
    return f;
}

static void
test_epoch_lowers_objective(void **state)
{
    fixture *fx = *state;
    size_t len = fr_ials_stats_len(N_ITEMS, D);
    float *stats = malloc(len * sizeof *stats), mv[N_ITEMS * D];
    float *H = fr_model_item_emb(fx->model);
    fr_ials_cg *cg = NULL;
    double before, after_members, after_items;

    fit_all(fx);
    before = objective(fx, H);
    assert_int_equal(fr_ials_cg_new(&cg, N_ITEMS, D, &OPTS), FR_OK);
    for (int epoch = 0; epoch < 3; epoch++) {
        sum_stats(fx, stats, len);
        assert_int_equal(fr_ials_cg_begin(cg, H, stats), FR_OK);
        for (int it = 0; it < 2; it++) {
            sum_matvec(fx, fr_ials_cg_direction(cg), mv);
            assert_int_equal(fr_ials_cg_step(cg, H, mv), FR_OK);
        }
        after_items = objective(fx, H);
        assert_true(after_items < before);
        assert_int_equal(fr_ials_gramian(H, N_ITEMS, D, fx->G), FR_OK);
        fit_all(fx);
        after_members = objective(fx, H);
        assert_true(after_members <= after_items * (1 + 1e-6));
        before = after_members;
    }
    fr_ials_cg_destroy(&cg);
    free(stats);
}

static void
test_refusals(void **state)
{
    fixture *fx = *state;
    size_t len = fr_ials_stats_len(N_ITEMS, D);
    float *stats = calloc(len, sizeof *stats), mv[N_ITEMS * D] = {0};
    float H[N_ITEMS * D] = {0};
    fr_ials_opts bad = OPTS;
    fr_ials_cg *cg = NULL;
    fr_model *other = NULL;

    assert_int_equal(fr_ials_opts_check(&OPTS), FR_OK);
    bad.lambda = 0;
    assert_int_equal(fr_ials_opts_check(&bad), FR_EINVAL);
    bad = OPTS;
    bad.alpha0 = -1;
    assert_int_equal(fr_ials_opts_check(&bad), FR_EINVAL);
    bad = OPTS;
    bad.nu = NAN;
    assert_int_equal(fr_ials_opts_check(&bad), FR_EINVAL);
    assert_int_equal(fr_ials_fit_members(fx->mf[0], fx->model, fx->G, &bad),
                     FR_EINVAL);
    assert_int_equal(fr_ials_cg_new(&cg, N_ITEMS, D, &bad), FR_EINVAL);
    assert_int_equal(fr_ials_cg_new(&cg, 0, D, &OPTS), FR_EINVAL);
    assert_int_equal(fr_ials_cg_new(&cg, N_ITEMS, FR_IALS_MAX_DIM + 1, &OPTS),
                     FR_EINVAL);
    /* a model of another shape */
    assert_int_equal(fr_model_new(&other, N_ITEMS + 1, D), FR_OK);
    assert_int_equal(fr_ials_fit_members(fx->mf[0], other, fx->G, &OPTS),
                     FR_EINVAL);
    assert_int_equal(fr_ials_store_stats(fx->mf[0], other, stats), FR_EINVAL);
    assert_int_equal(fr_ials_store_matvec(fx->mf[0], H, N_ITEMS + 1, mv),
                     FR_EINVAL);
    fr_model_destroy(&other);
    /* the step before a begin, then sums that are not numbers */
    assert_int_equal(fr_ials_cg_new(&cg, N_ITEMS, D, &OPTS), FR_OK);
    assert_int_equal(fr_ials_cg_step(cg, H, mv), FR_ESTATE);
    stats[3] = NAN;
    assert_int_equal(fr_ials_cg_begin(cg, H, stats), FR_EINVAL);
    stats[3] = 0;
    stats[2 * N_ITEMS * D + N_ITEMS] = -1; /* a negative count */
    assert_int_equal(fr_ials_cg_begin(cg, H, stats), FR_EINVAL);
    stats[2 * N_ITEMS * D + N_ITEMS] = 0;
    assert_int_equal(fr_ials_cg_begin(cg, H, stats), FR_OK);
    mv[7] = INFINITY;
    assert_int_equal(fr_ials_cg_step(cg, H, mv), FR_EINVAL);
    fr_ials_cg_destroy(&cg);
    fr_ials_cg_destroy(&cg); /* twice is harmless */
    free(stats);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_members_closed_form, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_stats_add_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cg_converges_to_exact, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_epoch_lowers_objective, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
