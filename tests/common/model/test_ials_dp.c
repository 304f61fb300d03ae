/*
 * test_ials_dp.c - the least-squares kind under member-level DP
 * (model/ials.h): the member vector's layout, a repeated item included; the
 * bound that makes the DDG noise cover a member (removing any one member
 * moves the sum by at most the clip, exactly the clip when the member was
 * clipped); the closed-form item step (each item's system solved, built
 * here in double); the James-Stein shrinkage; noise post-processing and
 * every refusal.
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

#define assert_near(a, b, eps) \
    assert_true(fabs((double)(a) - (double)(b)) <= (eps))

#define N_ITEMS 20u
#define N_MEMBERS 12u
#define D 4u

static const fr_ials_opts OPTS = {.alpha0 = 0.2, .lambda = 0.05, .nu = 1.0};

/* Member m's purchases: 1 + m % 6 distinct items. */
static uint32_t
member_items(uint32_t m, uint32_t *items)
{
    uint32_t n = 1 + m % 6;
    for (uint32_t k = 0; k < n; k++)
        items[k] = (m * 7u + k * 3u) % N_ITEMS;
    return n;
}

/* The members' factors, solved against a seeded model, for every member
 * but skip (N_MEMBERS: none). */
static fr_mf *
members(uint32_t skip, fr_dataset **data_out, fr_model *model)
{
    fr_dataset *data = NULL;
    fr_mf *mf = NULL;
    uint32_t items[16];
    float G[D * D];

    assert_int_equal(fr_dataset_new(&data, N_ITEMS), FR_OK);
    for (uint32_t m = 0; m < N_MEMBERS; m++) {
        uint32_t n = member_items(m, items);
        if (m == skip)
            continue;
        for (uint32_t k = 0; k < n; k++)
            assert_int_equal(fr_dataset_add(data, m, items[k], k), FR_OK);
    }
    assert_int_equal(fr_dataset_finalize(data), FR_OK);
    assert_int_equal(fr_mf_new_holdout(&mf, data, D, 5, FR_MF_HOLDOUT_NONE),
                     FR_OK);
    assert_int_equal(fr_ials_gramian(fr_model_item_emb(model), N_ITEMS, D, G),
                     FR_OK);
    assert_int_equal(fr_ials_fit_members(mf, model, G, &OPTS), FR_OK);
    *data_out = data;
    return mf;
}

static fr_model *
seeded_model(void)
{
    fr_model *model = NULL;
    assert_int_equal(fr_model_new(&model, N_ITEMS, D), FR_OK);
    fr_model_init_random(model, 5, 0.4f);
    memset(fr_model_item_bias(model), 0, N_ITEMS * sizeof(float));
    return model;
}

static double *
dp_sums(const fr_mf *mf, double clip, uint64_t *clipped)
{
    double *s = calloc(fr_ials_dp_len(N_ITEMS, D), sizeof *s);
    assert_non_null(s);
    assert_int_equal(fr_ials_dp_member_sums(mf, clip, s, clipped), FR_OK);
    return s;
}

static void
test_layout(void **state)
{
    fr_model *model = seeded_model();
    fr_dataset *data = NULL;
    fr_mf *mf = NULL;
    const double beta = FR_IALS_DP_COUNT_WEIGHT;
    double e[D], len = 0;
    uint64_t clipped = 9;

    (void)state;
    /* one member: items 2, 7 and 9, then the training list made 2, 2, 7
     * (a dataset keeps a pair once; the bound must hold for any list) */
    assert_int_equal(fr_dataset_new(&data, N_ITEMS), FR_OK);
    assert_int_equal(fr_dataset_add(data, 0, 2, 0), FR_OK);
    assert_int_equal(fr_dataset_add(data, 0, 9, 1), FR_OK);
    assert_int_equal(fr_dataset_add(data, 0, 7, 2), FR_OK);
    assert_int_equal(fr_dataset_finalize(data), FR_OK);
    assert_int_equal(fr_mf_new_holdout(&mf, data, D, 5, FR_MF_HOLDOUT_NONE),
                     FR_OK);
    {
        uint32_t *t = (uint32_t *)(uintptr_t)fr_mf_train_items(mf, 0);
        assert_int_equal(mf->n_train[0], 3);
        for (uint32_t k = 0; k < 3; k++)
            if (t[k] == 9)
                t[k] = 2;
    }
    for (uint32_t j = 0; j < D; j++) {
        mf->p[j] = (float)(j + 1) * (j % 2 ? -1.0f : 1.0f);
        len += (double)mf->p[j] * mf->p[j];
    }
    for (uint32_t j = 0; j < D; j++)
        e[j] = mf->p[j] / sqrt(len);
    double *s = dp_sums(mf, 1e6, &clipped);
    const double *B = s, *C = s + N_ITEMS * D, *W = C + N_ITEMS;
    assert_int_equal(clipped, 0);
    for (uint32_t i = 0; i < N_ITEMS; i++) {
        double m = i == 2 ? 2.0 : i == 7 ? 1.0 : 0.0;
        for (uint32_t j = 0; j < D; j++)
            assert_near(B[i * D + j], m * e[j], 1e-6);
        assert_near(C[i], m * beta, 1e-12);
    }
    for (uint32_t r = 0; r < D; r++)
        for (uint32_t c = 0; c < D; c++)
            assert_near(W[r * D + c], e[r] * e[c], 1e-6);
    assert_near(W[D * D], 1.0, 1e-12);
    free(s);
    /* clipped: the whole vector scaled to the clip. Its norm^2 is
     * 2 (W and N) + 2^2 (1 + beta^2) + 1^2 (1 + beta^2). */
    double full = sqrt(2.0 + 5.0 * (1.0 + beta * beta));
    s = dp_sums(mf, 0.5 * full, &clipped);
    assert_int_equal(clipped, 1);
    double q = 0;
    for (size_t k = 0; k < fr_ials_dp_len(N_ITEMS, D); k++)
        q += s[k] * s[k];
    assert_near(sqrt(q), 0.5 * full, 1e-9);
    assert_near(s[N_ITEMS * D + N_ITEMS + D * D], 0.5, 1e-12);
    free(s);
    fr_mf_destroy(&mf);
    fr_dataset_destroy(&data);
    fr_model_destroy(&model);
}

/* |sum with every member - sum without member k| for each k: never above
 * the clip, and equal to it for a member the clip scaled down. */
static void
check_bound(double clip)
{
    fr_model *model = seeded_model();
    fr_dataset *all_d = NULL;
    fr_mf *all = members(N_MEMBERS, &all_d, model);
    uint64_t n_clipped = 0, seen = 0;
    double *s_all = dp_sums(all, clip, &n_clipped);

    for (uint32_t k = 0; k < N_MEMBERS; k++) {
        fr_dataset *d = NULL;
        fr_mf *mf = members(k, &d, model);
        uint64_t c = 0;
        double *s = dp_sums(mf, clip, &c), q = 0;
        uint32_t items[16], n = member_items(k, items);
        /* the member's own norm^2: W and N, then each item */
        double own = 2.0 + n * (1.0 + FR_IALS_DP_COUNT_WEIGHT *
                                          FR_IALS_DP_COUNT_WEIGHT);
        for (size_t t = 0; t < fr_ials_dp_len(N_ITEMS, D); t++)
            q += (s_all[t] - s[t]) * (s_all[t] - s[t]);
        q = sqrt(q);
        assert_true(q <= clip * (1 + 1e-9));
        if (sqrt(own) > clip) {
            assert_near(q, clip, 1e-9 * clip);
            seen++;
        } else {
            assert_near(q, sqrt(own), 1e-9);
        }
        free(s);
        fr_mf_destroy(&mf);
        fr_dataset_destroy(&d);
    }
    assert_int_equal(seen, n_clipped);
    free(s_all);
    fr_mf_destroy(&all);
    fr_dataset_destroy(&all_d);
    fr_model_destroy(&model);
}

static void
test_member_bound(void **state)
{
    (void)state;
    check_bound(0.5); /* every member clipped */
    check_bound(2.6); /* some */
    check_bound(1e3); /* none: the difference is the member's vector */
}

/* ((alpha0 + C_i / N) W + lambda_i I) h = B_i, in double, for item i. */
static double
residual(const double *s, const float *H, uint32_t i)
{
    const double *B = s, *C = s + N_ITEMS * D, *W = C + N_ITEMS;
    double N = W[D * D], c = C[i] / FR_IALS_DP_COUNT_WEIGHT, worst = 0;
    double lam = fr_ials_reg(OPTS.lambda, OPTS.nu, OPTS.alpha0,
                             (uint64_t)llround(c), (uint64_t)llround(N));
    for (uint32_t r = 0; r < D; r++) {
        double y = lam * H[i * D + r];
        for (uint32_t k = 0; k < D; k++)
            y += (OPTS.alpha0 + c / N) * W[r * D + k] * H[i * D + k];
        if (fabs(y - B[i * D + r]) > worst)
            worst = fabs(y - B[i * D + r]);
    }
    return worst;
}

static void
test_item_step(void **state)
{
    fr_model *model = seeded_model();
    fr_dataset *data = NULL;
    fr_mf *mf = members(N_MEMBERS, &data, model);
    fr_ials_cg *cg = NULL;
    float H[N_ITEMS * D];
    double *s = dp_sums(mf, 1e3, NULL);
    int moved = 0;

    (void)state;
    assert_int_equal(fr_ials_cg_new(&cg, N_ITEMS, D, &OPTS), FR_OK);
    /* whole counts (no clip, no noise): each item's system is solved */
    assert_int_equal(fr_ials_dp_item_step(cg, H, s, 0.0), FR_OK);
    for (uint32_t i = 0; i < N_ITEMS; i++) {
        assert_true(residual(s, H, i) < 1e-4);
        for (uint32_t j = 0; j < D; j++)
            moved |= H[i * D + j] != 0.0f;
    }
    assert_true(moved);
    /* shrinkage: an item whose |B_i|^2 is below (d - 2) sd^2 gets 0; one
     * far above it is shrunk by the factor, nearly not at all */
    {
        double q0 = 0, sd;
        uint32_t big = 0;
        for (uint32_t i = 0; i < N_ITEMS; i++) {
            double q = 0;
            for (uint32_t j = 0; j < D; j++)
                q += s[i * D + j] * s[i * D + j];
            if (q > q0)
                q0 = q, big = i;
        }
        for (uint32_t j = 0; j < D; j++)
            s[big * D + j] *= 1e4; /* far above the noise */
        sd = sqrt(q0 / (D - 2)) * 1.01; /* every other item is below */
        assert_int_equal(fr_ials_dp_item_step(cg, H, s, sd), FR_OK);
        for (uint32_t i = 0; i < N_ITEMS; i++)
            for (uint32_t j = 0; j < D; j++)
                if (i != big)
                    assert_true(H[i * D + j] == 0.0f);
        assert_true(residual(s, H, big) < 1e-6 * 1e4 * sqrt(q0));
    }
    /* noise post-processing: a negative count is taken as 0 */
    s[N_ITEMS * D + 1] = -3.0;
    assert_int_equal(fr_ials_dp_item_step(cg, H, s, 0.0), FR_OK);
    for (uint32_t k = 0; k < N_ITEMS * D; k++)
        assert_true(isfinite(H[k]));
    /* refusals */
    s[5] = NAN;
    assert_int_equal(fr_ials_dp_item_step(cg, H, s, 0.0), FR_EINVAL);
    s[5] = 0;
    assert_int_equal(fr_ials_dp_item_step(cg, H, s, -1.0), FR_EINVAL);
    assert_int_equal(fr_ials_dp_item_step(cg, H, s, NAN), FR_EINVAL);
    assert_int_equal(fr_ials_dp_item_step(NULL, H, s, 0.0), FR_EINVAL);
    assert_int_equal(fr_ials_dp_item_step(cg, H, NULL, 0.0), FR_EINVAL);
    assert_int_equal(fr_ials_dp_member_sums(mf, 0.0, s, NULL), FR_EINVAL);
    assert_int_equal(fr_ials_dp_member_sums(mf, INFINITY, s, NULL),
                     FR_EINVAL);
    assert_int_equal(fr_ials_dp_member_sums(NULL, 1.0, s, NULL), FR_EINVAL);
    assert_int_equal(fr_ials_dp_member_sums(mf, 1.0, NULL, NULL), FR_EINVAL);
    fr_ials_cg_destroy(&cg);
    free(s);
    fr_mf_destroy(&mf);
    fr_dataset_destroy(&data);
    fr_model_destroy(&model);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_member_bound),
        cmocka_unit_test(test_item_step),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
