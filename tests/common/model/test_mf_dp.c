/*
 * test_mf_dp.c - member-level clipped updates (model/mf_dp.c).
 *
 * A member's data are generated from a generator seeded by the member's
 * number alone, so the same member can be placed into different stores:
 * alone, among others, at another index. That lets the tests see one
 * member's contribution directly (a store holding only that member, at the
 * same index so its embedding starts the same) and check that the sum over
 * a store is exactly the sum of those contributions, that each is within
 * the clip bound, and that adding a member with 10,000 interactions moves
 * the sum by that member's clipped update and nothing else. The sampling
 * coin is checked against libsodium's ChaCha20 and against a binomial
 * bound; a few federated rounds on a store with latent structure check
 * that the clipped sum is a descent direction.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "model/mf_dp.h"
#include "model/mf_int.h" /* member rows, to compare and align them */

#define DIM      16u
#define NO_EXTRA UINT32_MAX

/* ---- data ---------------------------------------------------------------- */

/* Member m's interactions: k distinct random items, generated from (seed, m)
 * only, placed at dataset index `index`. */
static void
add_member(fr_dataset *d, uint32_t index, uint32_t m, uint32_t k, uint64_t seed)
{
    uint32_t n = fr_dataset_n_items(d), *perm = malloc(n * sizeof *perm);
    fr_rng rng;

    assert_non_null(perm);
    assert_true(k <= n);
    fr_rng_seed(&rng, seed * 1000003u + m);
    for (uint32_t i = 0; i < n; i++)
        perm[i] = i;
    for (uint32_t j = 0; j < k; j++) { /* partial Fisher-Yates */
        uint32_t r = j + (uint32_t)fr_rng_below(&rng, n - j), t = perm[j];
        perm[j] = perm[r];
        perm[r] = t;
        assert_int_equal(fr_dataset_add(d, index, perm[j], 1000 + j), FR_OK);
    }
    free(perm);
}

static uint32_t
k_of(uint32_t m, uint32_t lo, uint32_t span)
{
    return lo + (uint32_t)((m * 2654435761u) % span);
}

/* Members lo..hi-1 (each at its own index, lo_k + up to span-1 items),
 * plus member `extra` with extra_k items unless extra is NO_EXTRA. */
static fr_dataset *
make_store(uint32_t n_items, uint32_t lo, uint32_t hi, uint32_t lo_k,
           uint32_t span, uint32_t extra, uint32_t extra_k, uint64_t seed)
{
    fr_dataset *d = NULL;

    assert_int_equal(fr_dataset_new(&d, n_items), FR_OK);
    for (uint32_t m = lo; m < hi; m++)
        add_member(d, m, m, k_of(m, lo_k, span), seed);
    if (extra != NO_EXTRA)
        add_member(d, extra, extra, extra_k, seed);
    assert_int_equal(fr_dataset_finalize(d), FR_OK);
    return d;
}

static fr_model *
new_model(uint32_t n_items, uint64_t seed)
{
    fr_model *m = NULL;
    assert_int_equal(fr_model_new(&m, n_items, DIM), FR_OK);
    fr_model_init_random(m, seed, 0.1f);
    return m;
}

static fr_mf *
new_mf(const fr_dataset *d)
{
    fr_mf *mf = NULL;
    assert_int_equal(fr_mf_new(&mf, d, DIM, 7), FR_OK);
    return mf;
}

static fr_mf_dp_opts
dp_opts(double clip)
{
    fr_mf_dp_opts o = {.clip = clip, .q = 1.0};
    fr_mf_opts_default(&o.train);
    o.train.seed = 99;
    return o;
}

static double
norm2(const double *x, size_t n)
{
    double a = 0;
    for (size_t i = 0; i < n; i++)
        a += x[i] * x[i];
    return sqrt(a);
}

/* ||a - b - c|| (c may be NULL) */
static double
diff_norm(const double *a, const double *b, const double *c, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        double x = a[i] - b[i] - (c ? c[i] : 0.0);
        s += x * x;
    }
    return sqrt(s);
}

static double *
new_sum(const fr_model *g)
{
    double *s = malloc(fr_model_n_params(g) * sizeof *s);
    assert_non_null(s);
    return s;
}

/* Runs fr_mf_train_dp on a fresh fr_mf over d; returns the sum. */
static double *
run_sum(const fr_dataset *d, const fr_model *g, const fr_mf_dp_opts *o,
        const uint64_t *ids, fr_mf_dp_stats *st)
{
    fr_mf *mf = new_mf(d);
    double *s = new_sum(g);

    assert_int_equal(fr_mf_train_dp_ids(mf, g, o, ids, s, st), FR_OK);
    fr_mf_destroy(&mf);
    return s;
}

/* ---- the coin --------------------------------------------------------------
 */

static void
test_coin_is_chacha20(void **state)
{
    uint8_t key[FR_MF_DP_KEY_BYTES], nonce[12], ks[8];
    const double qs[] = {0.01, 0.3, 0.5, 0.97};

    (void)state;
    assert_true(sodium_init() >= 0);
    for (uint32_t i = 0; i < sizeof key; i++)
        key[i] = (uint8_t)(i * 37 + 11);
    memcpy(nonce, "mfdp", 4);
    for (uint64_t t = 0; t < 300; t++) {
        uint64_t id = t < 150 ? t : t * 0x9e3779b97f4a7c15ull;
        fr_put_u64le(nonce + 4, id);
        assert_int_equal(crypto_stream_chacha20_ietf(ks, sizeof ks, nonce, key),
                         0);
        double u = (double)(fr_get_u64le(ks) >> 11) * 0x1p-53;
        for (size_t j = 0; j < sizeof qs / sizeof qs[0]; j++)
            assert_int_equal(fr_mf_dp_sampled(key, id, qs[j]) != 0, u < qs[j]);
        assert_true(fr_mf_dp_sampled(key, id, 1.0));
        assert_true(fr_mf_dp_sampled(NULL, id, 1.0));
    }
}

/* ---- clipping ---------------------------------------------------------- */

/*
 * Each member alone (same index, so the same starting embedding) gives its
 * contribution; every one is within C, the big ones are exactly at C, and
 * the store's sum is their sum. The global model is not touched.
 */
static void
test_contributions_within_clip(void **state)
{
    const uint32_t n_items = 300, n_members = 24;
    const double clips[] = {0.05, 0.4, 1e6};
    fr_model *g = new_model(n_items, 5);
    fr_model *g0 = NULL;
    fr_dataset *all = make_store(n_items, 0, n_members, 2, 120, NO_EXTRA, 0, 1);
    size_t np = fr_model_n_params(g);
    double *acc = calloc(np, sizeof *acc);

    (void)state;
    assert_non_null(acc);
    assert_int_equal(fr_model_dup(g, &g0), FR_OK);
    for (size_t c = 0; c < sizeof clips / sizeof clips[0]; c++) {
        fr_mf_dp_opts o = dp_opts(clips[c]);
        fr_mf_dp_stats st, st1;
        double *full = run_sum(all, g, &o, NULL, &st);
        uint64_t clipped = 0;

        assert_int_equal(st.n_sampled, n_members);
        assert_int_equal(st.n_nonfinite, 0);
        memset(acc, 0, np * sizeof *acc);
        for (uint32_t m = 0; m < n_members; m++) {
            fr_dataset *one =
                make_store(n_items, 0, 0, 0, 1, m, k_of(m, 2, 120), 1);
            double *s = run_sum(one, g, &o, NULL, &st1);
            double nrm = norm2(s, np);

            assert_int_equal(st1.n_sampled, 1);
            assert_true(nrm > 0.0);
            assert_true(nrm <= clips[c] * (1 + 1e-9));
            if (st1.n_clipped) {
                assert_true(fabs(nrm - clips[c]) <= 1e-9 * clips[c]);
                clipped++;
            }
            for (size_t i = 0; i < np; i++)
                acc[i] += s[i];
            free(s);
            fr_dataset_destroy(&one);
        }
        assert_int_equal(clipped, st.n_clipped);
        if (c == 0)
            assert_int_equal(st.n_clipped, n_members);
        if (c == 2)
            assert_int_equal(st.n_clipped, 0);
        else
            assert_true(st.n_clipped > 0);
        assert_true(diff_norm(full, acc, NULL, np) <= 1e-12 * n_members);
        free(full);
    }
    assert_memory_equal(fr_model_params_const(g), fr_model_params_const(g0),
                        np * sizeof(float));
    free(acc);
    fr_dataset_destroy(&all);
    fr_model_destroy(&g);
    fr_model_destroy(&g0);
}

/* Only the rows of items the member scored change: its positives and its
 * sampled negatives (a member with every item but one touches all). */
static void
test_only_touched_rows(void **state)
{
    const uint32_t n_items = 50;
    fr_model *g = new_model(n_items, 5);
    fr_dataset *d = NULL;
    fr_mf_dp_opts o = dp_opts(1e6);
    fr_mf_dp_stats st;
    double *s;
    uint32_t nonzero = 0;

    (void)state;
    o.train.epochs = 1;
    o.train.negatives = 1;
    assert_int_equal(fr_dataset_new(&d, n_items), FR_OK);
    /* items 3, 7 (held out: 7, which may still be drawn as a negative);
     * one negative for the one positive */
    assert_int_equal(fr_dataset_add(d, 0, 3, 1), FR_OK);
    assert_int_equal(fr_dataset_add(d, 0, 7, 2), FR_OK);
    assert_int_equal(fr_dataset_finalize(d), FR_OK);
    s = run_sum(d, g, &o, NULL, &st);
    for (uint32_t i = 0; i < n_items; i++) {
        int row = 0;
        for (uint32_t c = 0; c < DIM; c++)
            row |= s[(size_t)i * DIM + c] != 0.0;
        assert_int_equal(row, s[(size_t)n_items * DIM + i] != 0.0);
        nonzero += (uint32_t)row;
    }
    assert_true(s[3 * DIM] != 0.0);
    assert_int_equal(nonzero, 2); /* item 3 and its one negative */
    /* the positive's bias goes up, the negative's down */
    assert_true(s[(size_t)n_items * DIM + 3] > 0.0);
    free(s);
    fr_dataset_destroy(&d);
    fr_model_destroy(&g);
}

/*
 * The test: one member with 10,000 interactions moves the update by
 * at most C, and by exactly its own clipped update: every other member's
 * contribution and embedding are bit-identical with and without it.
 */
static void
test_extreme_member_moves_sum_by_at_most_clip(void **state)
{
    const uint32_t n_items = 12000, n = 200;
    const double clip = 0.5;
    fr_model *g = new_model(n_items, 3);
    fr_dataset *base = make_store(n_items, 0, n, 3, 60, NO_EXTRA, 0, 2);
    fr_dataset *plus = make_store(n_items, 0, n, 3, 60, n, 10000, 2);
    fr_dataset *alone = make_store(n_items, 0, 0, 0, 1, n, 10000, 2);
    fr_mf *mf_base = new_mf(base), *mf_plus = new_mf(plus);
    fr_mf_dp_opts o = dp_opts(clip);
    fr_mf_dp_stats st_b, st_p, st_a;
    size_t np = fr_model_n_params(g);
    double *s_base = new_sum(g), *s_plus = new_sum(g), *s_alone;

    (void)state;
    assert_int_equal(fr_dataset_n_interactions(plus),
                     fr_dataset_n_interactions(base) + 10000);
    assert_int_equal(fr_mf_train_dp_ids(mf_base, g, &o, NULL, s_base, &st_b),
                     FR_OK);
    assert_int_equal(fr_mf_train_dp_ids(mf_plus, g, &o, NULL, s_plus, &st_p),
                     FR_OK);
    s_alone = run_sum(alone, g, &o, NULL, &st_a);
    assert_int_equal(st_p.n_sampled, st_b.n_sampled + 1);
    assert_int_equal(st_a.n_sampled, 1);
    assert_int_equal(st_a.n_clipped, 1); /* 10,000 positives: far above C */
    assert_true(st_p.n_clipped == st_b.n_clipped + 1);

    double moved = diff_norm(s_plus, s_base, NULL, np);
    assert_true(moved <= clip * (1 + 1e-9));
    assert_true(moved >= clip * (1 - 1e-9));
    /* the difference is that member's clipped update, up to summation */
    assert_true(diff_norm(s_plus, s_base, s_alone, np) <= 1e-12);
    /* the other members trained exactly as before */
    assert_memory_equal(mf_base->p, mf_plus->p,
                        (size_t)n * DIM * sizeof(float));
    free(s_base);
    free(s_plus);
    free(s_alone);
    fr_mf_destroy(&mf_base);
    fr_mf_destroy(&mf_plus);
    fr_dataset_destroy(&base);
    fr_dataset_destroy(&plus);
    fr_dataset_destroy(&alone);
    fr_model_destroy(&g);
}

/* ---- sampling ---------------------------------------------------------- */

/* q < 1 takes about q of the members, exactly the ones whose coin says so;
 * q = 1 takes all of them, with or without a key. */
static void
test_poisson_sampling(void **state)
{
    const uint32_t n_items = 60, n = 2000;
    const double q = 0.3;
    uint8_t key[FR_MF_DP_KEY_BYTES], key2[FR_MF_DP_KEY_BYTES];
    fr_model *g = new_model(n_items, 4);
    fr_dataset *d = make_store(n_items, 0, n, 2, 4, NO_EXTRA, 0, 3);
    fr_mf_dp_opts o = dp_opts(0.3);
    fr_mf_dp_stats st, st2, st_all;
    uint64_t expect = 0, *ids = malloc(n * sizeof *ids);
    double *s, *s2, *s_all;

    (void)state;
    assert_non_null(ids);
    for (uint32_t i = 0; i < sizeof key; i++) {
        key[i] = (uint8_t)(200 - i);
        key2[i] = (uint8_t)(201 - i);
    }
    for (uint32_t m = 0; m < n; m++) {
        ids[m] = 0x1234567890abull * (m + 1);
        expect += (uint64_t)fr_mf_dp_sampled(key, ids[m], q) != 0;
    }
    o.q = q;
    o.sample_key = key;
    s = run_sum(d, g, &o, ids, &st);
    assert_int_equal(st.n_sampled, expect);
    /* binomial(2000, 0.3): mean 600, sd 20.5; 5 sd either side */
    assert_true(st.n_sampled > 600 - 103 && st.n_sampled < 600 + 103);
    o.sample_key = key2;
    s2 = run_sum(d, g, &o, ids, &st2);
    assert_true(st2.n_sampled > 600 - 103 && st2.n_sampled < 600 + 103);
    assert_true(diff_norm(s, s2, NULL, fr_model_n_params(g)) > 0.1);
    o.q = 1.0;
    o.sample_key = NULL;
    s_all = run_sum(d, g, &o, ids, &st_all);
    assert_int_equal(st_all.n_sampled, n);
    free(s_all);
    o.sample_key = key; /* ignored at q = 1 */
    s_all = run_sum(d, g, &o, NULL, &st_all);
    assert_int_equal(st_all.n_sampled, n);
    free(s_all);
    free(s);
    free(s2);
    free(ids);
    fr_dataset_destroy(&d);
    fr_model_destroy(&g);
}

/*
 * The coin and the negatives follow the member's id, not its index: the
 * same members stored in reverse order (with their embeddings carried over,
 * as a store does with its persisted rows) give the same sample and sum.
 * Dropping one member moves the sum by at most C.
 */
static void
test_identity_not_index(void **state)
{
    const uint32_t n_items = 80, n = 300;
    uint8_t key[FR_MF_DP_KEY_BYTES];
    fr_model *g = new_model(n_items, 6);
    fr_dataset *fwd = NULL, *rev = NULL, *less = NULL;
    fr_mf *mf_fwd, *mf_rev, *mf_less;
    fr_mf_dp_opts o = dp_opts(0.2);
    fr_mf_dp_stats st_f, st_r, st_l;
    uint64_t *ids_f = malloc(n * sizeof *ids_f);
    uint64_t *ids_r = malloc(n * sizeof *ids_r);
    size_t np = fr_model_n_params(g);
    double *s_f = new_sum(g), *s_r = new_sum(g), *s_l = new_sum(g);
    uint32_t gone = 0;

    (void)state;
    assert_true(ids_f && ids_r);
    memset(key, 0x5a, sizeof key);
    o.q = 0.5;
    o.sample_key = key;
    assert_int_equal(fr_dataset_new(&fwd, n_items), FR_OK);
    assert_int_equal(fr_dataset_new(&rev, n_items), FR_OK);
    assert_int_equal(fr_dataset_new(&less, n_items), FR_OK);
    for (uint32_t m = 0; m < n; m++) {
        add_member(fwd, m, m, k_of(m, 2, 30), 4);
        add_member(rev, n - 1 - m, m, k_of(m, 2, 30), 4);
        ids_f[m] = 1000 + 7 * (uint64_t)m;
        ids_r[n - 1 - m] = ids_f[m];
    }
    /* less: fwd without the first sampled member, the rest shifted down */
    while (!fr_mf_dp_sampled(key, ids_f[gone], o.q))
        gone++;
    for (uint32_t m = 0, at = 0; m < n; m++)
        if (m != gone)
            add_member(less, at++, m, k_of(m, 2, 30), 4);
    assert_int_equal(fr_dataset_finalize(fwd), FR_OK);
    assert_int_equal(fr_dataset_finalize(rev), FR_OK);
    assert_int_equal(fr_dataset_finalize(less), FR_OK);
    mf_fwd = new_mf(fwd);
    mf_rev = new_mf(rev);
    mf_less = new_mf(less);
    for (uint32_t m = 0; m < n; m++) {
        memcpy(mf_rev->p + (size_t)(n - 1 - m) * DIM, mf_fwd->p + m * DIM,
               DIM * sizeof(float));
        if (m != gone)
            memcpy(mf_less->p + (size_t)(m - (m > gone)) * DIM,
                   mf_fwd->p + m * DIM, DIM * sizeof(float));
    }
    uint64_t *ids_l = malloc(n * sizeof *ids_l);
    assert_non_null(ids_l);
    for (uint32_t m = 0; m < n; m++)
        if (m != gone)
            ids_l[m - (m > gone)] = ids_f[m];
    assert_int_equal(fr_mf_train_dp_ids(mf_fwd, g, &o, ids_f, s_f, &st_f),
                     FR_OK);
    assert_int_equal(fr_mf_train_dp_ids(mf_rev, g, &o, ids_r, s_r, &st_r),
                     FR_OK);
    assert_int_equal(fr_mf_train_dp_ids(mf_less, g, &o, ids_l, s_l, &st_l),
                     FR_OK);
    assert_int_equal(st_f.n_sampled, st_r.n_sampled);
    assert_int_equal(st_l.n_sampled + 1, st_f.n_sampled);
    assert_true(st_f.n_sampled > 100 && st_f.n_sampled < 200);
    assert_true(diff_norm(s_f, s_r, NULL, np) <= 1e-12);
    double moved = diff_norm(s_f, s_l, NULL, np);
    assert_true(moved > 0.0 && moved <= o.clip * (1 + 1e-9));
    for (uint32_t m = 0; m < n; m++) /* every member ends the same */
        assert_memory_equal(mf_rev->p + (size_t)(n - 1 - m) * DIM,
                            mf_fwd->p + m * DIM, DIM * sizeof(float));
    free(ids_f);
    free(ids_r);
    free(ids_l);
    free(s_f);
    free(s_r);
    free(s_l);
    fr_mf_destroy(&mf_fwd);
    fr_mf_destroy(&mf_rev);
    fr_mf_destroy(&mf_less);
    fr_dataset_destroy(&fwd);
    fr_dataset_destroy(&rev);
    fr_dataset_destroy(&less);
    fr_model_destroy(&g);
}

/* ---- learning ---------------------------------------------------------- */

#define LAT 4

/* Members with a latent taste buy the k items with the highest
 * 3 <u, v_i> / sqrt(LAT) + Gumbel noise: structure a model can learn. */
static fr_dataset *
make_latent(uint32_t n_members, uint32_t n_items, uint64_t seed)
{
    double *v = malloc((size_t)n_items * LAT * sizeof *v);
    double *key = malloc(n_items * sizeof *key);
    fr_dataset *d = NULL;
    fr_rng rng;

    assert_true(v && key);
    fr_rng_seed(&rng, seed);
    for (uint32_t i = 0; i < n_items * LAT; i++)
        v[i] = fr_rng_normal(&rng);
    assert_int_equal(fr_dataset_new(&d, n_items), FR_OK);
    for (uint32_t m = 0; m < n_members; m++) {
        double u[LAT];
        uint32_t k = 8 + (uint32_t)fr_rng_below(&rng, 20);
        for (int t = 0; t < LAT; t++)
            u[t] = fr_rng_normal(&rng);
        for (uint32_t i = 0; i < n_items; i++) {
            double dot = 0;
            for (int t = 0; t < LAT; t++)
                dot += u[t] * v[i * LAT + t];
            key[i] = 3.0 * dot / sqrt(LAT) -
                     log(-log(fr_rng_uniform(&rng) * 0.999999 + 1e-7));
        }
        for (uint32_t j = 0; j < k; j++) { /* top-k by selection */
            uint32_t best = 0;
            for (uint32_t i = 1; i < n_items; i++)
                best = key[i] > key[best] ? i : best;
            key[best] = -INFINITY;
            assert_int_equal(fr_dataset_add(d, m, best, 100 + j), FR_OK);
        }
    }
    assert_int_equal(fr_dataset_finalize(d), FR_OK);
    free(v);
    free(key);
    return d;
}

/* global += sum / n (the fixed-denominator average of DP-FedAvg) */
static void
apply(fr_model *g, const double *sum, double n)
{
    float *w = fr_model_params(g);
    for (size_t i = 0; i < fr_model_n_params(g); i++)
        w[i] = (float)(w[i] + sum[i] / n);
}

static void
test_clipped_sum_lowers_loss(void **state)
{
    const uint32_t n_items = 120, n = 300;
    fr_dataset *d = make_latent(n, n_items, 11);
    fr_mf *mf = new_mf(d), *fresh = new_mf(d);
    fr_model *g = new_model(n_items, 8), *prev = NULL;
    fr_mf_dp_opts o = dp_opts(0.5);
    fr_mf_dp_stats st;
    double *s = new_sum(g), start, before, after, last = INFINITY;

    (void)state;
    assert_int_equal(fr_mf_loss(fresh, g, 1, &start), FR_OK);
    assert_int_equal(fr_model_dup(g, &prev), FR_OK);
    for (int round = 0; round < 8; round++) {
        assert_int_equal(fr_mf_train_dp_ids(mf, g, &o, NULL, s, &st), FR_OK);
        assert_int_equal(st.n_sampled, n);
        assert_true(st.n_clipped > 0 && isfinite(st.loss));
        assert_int_equal(fr_model_copy(prev, g), FR_OK);
        apply(g, s, n);
        /* same member rows, old vs new item parameters */
        assert_int_equal(fr_mf_loss(mf, prev, 1, &before), FR_OK);
        assert_int_equal(fr_mf_loss(mf, g, 1, &after), FR_OK);
        assert_true(after < before);
        assert_true(after < last);
        last = after;
    }
    assert_true(last < start - 0.1);
    free(s);
    fr_mf_destroy(&mf);
    fr_mf_destroy(&fresh);
    fr_model_destroy(&g);
    fr_model_destroy(&prev);
    fr_dataset_destroy(&d);
}

/* ---- failures ---------------------------------------------------------- */

/* A member whose training blows up contributes nothing and keeps its
 * embedding. */
static void
test_nonfinite_member_dropped(void **state)
{
    const uint32_t n_items = 100;
    fr_model *g = new_model(n_items, 5);
    fr_dataset *d = make_store(n_items, 0, 10, 5, 10, NO_EXTRA, 0, 6);
    fr_mf *mf = new_mf(d);
    float *p0 = malloc(10 * DIM * sizeof *p0);
    fr_mf_dp_opts o = dp_opts(1.0);
    fr_mf_dp_stats st;
    double *s = new_sum(g), loss = -1;
    uint64_t n_sampled = 99;

    (void)state;
    assert_non_null(p0);
    memcpy(p0, mf->p, 10 * DIM * sizeof *p0);
    o.train.lr = 1e30f;
    o.train.l2 = 0.0f;
    o.train.epochs = 4;
    assert_int_equal(fr_mf_train_dp_ids(mf, g, &o, NULL, s, &st), FR_OK);
    assert_int_equal(st.n_nonfinite, 10);
    assert_int_equal(st.n_sampled, 0);
    assert_true(norm2(s, fr_model_n_params(g)) == 0.0);
    assert_memory_equal(mf->p, p0, 10 * DIM * sizeof *p0);
    assert_int_equal(fr_mf_train_dp(mf, g, &o, s, &n_sampled, &loss), FR_OK);
    assert_int_equal(n_sampled, 0);
    assert_true(loss == 0.0);
    free(p0);
    free(s);
    fr_mf_destroy(&mf);
    fr_dataset_destroy(&d);
    fr_model_destroy(&g);
}

static void
expect_einval(fr_mf *mf, const fr_model *g, const fr_mf_dp_opts *o, double *s,
              size_t np)
{
    uint64_t n = 77;
    double loss = 5;

    for (size_t i = 0; i < np; i++)
        s[i] = 7.0;
    assert_int_equal(fr_mf_train_dp(mf, g, o, s, &n, &loss), FR_EINVAL);
    assert_int_equal(n, 77);
    assert_true(loss == 5);
    for (size_t i = 0; i < np; i++)
        assert_true(s[i] == 7.0);
}

static void
test_bad_options(void **state)
{
    const uint32_t n_items = 40;
    uint8_t key[FR_MF_DP_KEY_BYTES] = {1};
    fr_model *g = new_model(n_items, 5), *g_dim = NULL, *g_items = NULL;
    fr_dataset *d = make_store(n_items, 0, 5, 3, 4, NO_EXTRA, 0, 6);
    fr_mf *mf = new_mf(d);
    size_t np = fr_model_n_params(g);
    double *s = new_sum(g);
    const double bad_clip[] = {0.0, -1.0, NAN, INFINITY};
    const double bad_q[] = {0.0, -0.1, 1.5, NAN, INFINITY};
    fr_mf_dp_opts o;
    uint64_t n;
    uint64_t ids[5] = {1, 2, 3, 2, 5};

    (void)state;
    for (size_t i = 0; i < sizeof bad_clip / sizeof bad_clip[0]; i++) {
        o = dp_opts(bad_clip[i]);
        expect_einval(mf, g, &o, s, np);
    }
    for (size_t i = 0; i < sizeof bad_q / sizeof bad_q[0]; i++) {
        o = dp_opts(1.0);
        o.q = bad_q[i];
        o.sample_key = key;
        expect_einval(mf, g, &o, s, np);
    }
    o = dp_opts(1.0);
    o.q = 0.5; /* no key */
    expect_einval(mf, g, &o, s, np);
    o = dp_opts(1.0);
    o.train.loss = FR_MF_LOSS_BPR;
    expect_einval(mf, g, &o, s, np);
    o = dp_opts(1.0);
    o.train.epochs = 0;
    expect_einval(mf, g, &o, s, np);
    o = dp_opts(1.0);
    o.train.negatives = 0;
    expect_einval(mf, g, &o, s, np);
    o = dp_opts(1.0);
    o.train.lr = -1.0f;
    expect_einval(mf, g, &o, s, np);
    o = dp_opts(1.0);
    assert_int_equal(fr_model_new(&g_dim, n_items, DIM + 1), FR_OK);
    assert_int_equal(fr_model_new(&g_items, n_items + 1, DIM), FR_OK);
    expect_einval(mf, g_dim, &o, s, np);
    expect_einval(mf, g_items, &o, s, np);
    expect_einval(NULL, g, &o, s, np);
    expect_einval(mf, NULL, &o, s, np);
    expect_einval(mf, g, NULL, s, np);
    assert_int_equal(fr_mf_train_dp(mf, g, &o, NULL, &n, NULL), FR_EINVAL);
    assert_int_equal(fr_mf_train_dp(mf, g, &o, s, NULL, NULL), FR_EINVAL);
    assert_int_equal(fr_mf_train_dp_ids(mf, g, &o, ids, s, NULL), FR_EINVAL);
    ids[3] = 4; /* distinct now */
    assert_int_equal(fr_mf_train_dp_ids(mf, g, &o, ids, s, NULL), FR_OK);
    assert_int_equal(fr_mf_train_dp(mf, g, &o, s, &n, NULL), FR_OK);
    assert_int_equal(n, 5);
    free(s);
    fr_mf_destroy(&mf);
    fr_dataset_destroy(&d);
    fr_model_destroy(&g);
    fr_model_destroy(&g_dim);
    fr_model_destroy(&g_items);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_coin_is_chacha20),
        cmocka_unit_test(test_contributions_within_clip),
        cmocka_unit_test(test_only_touched_rows),
        cmocka_unit_test(test_extreme_member_moves_sum_by_at_most_clip),
        cmocka_unit_test(test_poisson_sampling),
        cmocka_unit_test(test_identity_not_index),
        cmocka_unit_test(test_clipped_sum_lowers_loss),
        cmocka_unit_test(test_nonfinite_member_dropped),
        cmocka_unit_test(test_bad_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
