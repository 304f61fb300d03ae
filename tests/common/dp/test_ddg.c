/*
 * test_ddg.c - one store's DDG encoding and the aggregator's decoding:
 * rounding is literally floor(s * rotate(pad(x)) + V); with a shared V the
 * rounded vectors of neighbouring x, x' stay within the sensitivity bounds
 * of DP.md 3.3 (L2: s C + sqrt(d); L1: Delta2 * min(sqrt(d), Delta2)); the
 * centred decode of a modular sum of several stores equals the unrotated
 * integer sum whenever that sum is in range; decode(encode(x)) is within
 * sqrt(d)/s of x without noise; with noise, the per-coordinate error has
 * mean 0 and variance sigma2_int / s^2 (6 standard errors); bad parameters
 * and inputs are refused without touching the outputs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dp/ddg.h"
#include "dp/rng.h"
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

static fr_dp_rng *
keyed(uint64_t tag)
{
    uint8_t key[32] = {0};
    fr_dp_rng *r = NULL;

    for (int i = 0; i < 8; i++)
        key[i] = (uint8_t)(tag >> (8 * i));
    key[31] = 0xdd;
    assert_int_equal(fr_dp_rng_new(&r, key), FR_OK);
    return r;
}

static void *
xcalloc(size_t n, size_t size)
{
    void *p = calloc(n, size);

    assert_non_null(p);
    return p;
}

static double *
random_vec(uint64_t n, uint64_t *st, double mag)
{
    double *x = xcalloc(n, sizeof *x);

    for (uint64_t i = 0; i < n; i++)
        x[i] = mag * next_unit(st);
    return x;
}

static fr_ddg_params
params(uint64_t n, uint64_t dim, double s, uint64_t sigma2)
{
    fr_ddg_params p = {n, dim, s, sigma2, 0x5eed0000u + dim};

    return p;
}

/* (int64)(int32)w without implementation-defined conversion */
static int64_t
centred(uint32_t w)
{
    return w > INT32_MAX ? (int64_t)w - 4294967296 : (int64_t)w;
}

/* z = floor(s * rotate(pad(x)) + V) exactly, with V from the same key, and
 * encode without noise gives the same integers mod 2^32 */
static void
test_round_is_literal(void **state)
{
    fr_ddg_params p = params(1000, 1024, 1234.5, 0);
    uint64_t st = 1;
    double *x = random_vec(p.n, &st, 3.0);
    double *y = xcalloc(p.dim, sizeof *y);
    int64_t *z = xcalloc(p.dim, sizeof *z);
    uint32_t *w = xcalloc(p.dim, sizeof *w);
    fr_dp_rng *a = keyed(1), *b = keyed(1), *c = keyed(1);

    (void)state;
    assert_int_equal(fr_ddg_round(&p, x, a, z), FR_OK);
    assert_int_equal(fr_ddg_encode(&p, x, c, w), FR_OK);
    memcpy(y, x, p.n * sizeof *y);
    assert_int_equal(fr_dp_rotate(y, p.dim, p.rotation_seed), FR_OK);
    for (uint64_t i = 0; i < p.dim; i++) {
        double sy = p.scale * y[i];
        double v = fr_dp_rng_unit(b);

        assert_true(z[i] == (int64_t)floor(sy + v));
        assert_true(w[i] == (uint32_t)(uint64_t)z[i]);
    }
    fr_dp_rng_destroy(&a);
    fr_dp_rng_destroy(&b);
    fr_dp_rng_destroy(&c);
    free(x);
    free(y);
    free(z);
    free(w);
}

/* x' = x + delta with ||delta|| = frac * C */
static void
neighbour(const double *x, double *xp, uint64_t n, double c, double frac,
          uint64_t *st)
{
    double nd = 0.0;

    for (uint64_t i = 0; i < n; i++) {
        xp[i] = next_unit(st);
        nd += xp[i] * xp[i];
    }
    nd = sqrt(nd);
    for (uint64_t i = 0; i < n; i++)
        xp[i] = x[i] + xp[i] * (frac * c / nd);
}

static void
check_sensitivity(uint64_t n, uint64_t dim, double s, double c, int trials)
{
    fr_ddg_params p = params(n, dim, s, 0);
    double d2 = s * c + sqrt((double)dim);
    double d1 = d2 * fmin(sqrt((double)dim), d2);
    int64_t *z = xcalloc(dim, sizeof *z), *zp = xcalloc(dim, sizeof *zp);
    double *xp = xcalloc(n, sizeof *xp);
    uint64_t st = dim * 7 + (uint64_t)s;
    double worst2 = 0.0;

    for (int t = 0; t < trials; t++) {
        double *x = random_vec(n, &st, 50.0 * c);
        fr_dp_rng *a = keyed(100 + (uint64_t)t), *b = keyed(100 + (uint64_t)t);
        double l2 = 0.0, l1 = 0.0;

        neighbour(x, xp, n, c, t % 2 ? 1.0 : 0.5 + 0.5 * (t % 3) / 3.0, &st);
        assert_int_equal(fr_ddg_round(&p, x, a, z), FR_OK);
        assert_int_equal(fr_ddg_round(&p, xp, b, zp), FR_OK);
        for (uint64_t i = 0; i < dim; i++) {
            double dz = (double)(z[i] - zp[i]);

            l2 += dz * dz;
            l1 += fabs(dz);
        }
        l2 = sqrt(l2);
        worst2 = fmax(worst2, l2);
        /* float leeway as DP.md 3.2-8 */
        assert_true(l2 <= d2 * (1.0 + 1e-9));
        assert_true(l1 <= d1 * (1.0 + 1e-9));
        fr_dp_rng_destroy(&a);
        fr_dp_rng_destroy(&b);
        free(x);
    }
    print_message("d=%llu s=%g: worst L2 %.6g of bound %.6g\n",
                  (unsigned long long)dim, s, worst2, d2);
    free(z);
    free(zp);
    free(xp);
}

static void
test_sensitivity(void **state)
{
    (void)state;
    check_sensitivity(1000, 1024, 1000.0, 1.0, 20);
    check_sensitivity(1000, 1024, 0.25, 1.0, 20); /* sqrt(d) dominates */
    check_sensitivity(16, 16, 0.5, 2.0, 50);
    check_sensitivity(3, 4, 1.0, 1.0, 200);
    check_sensitivity(5000, 8192, 7.34e5, 1.0, 4);
}

/* Several stores: the centred decode of the word sum mod 2^32 equals
 * unrotate(sum of z / s) exactly while that integer sum is in range, and
 * is within k sqrt(d) / s of the real sum. */
static void
test_wrap_sum(void **state)
{
    enum { K = 5 };
    fr_ddg_params p = params(3000, 4096, 1e8, 0);
    double *xs = xcalloc(p.n, sizeof *xs);
    double *want = xcalloc(p.dim, sizeof *want);
    double *got = xcalloc(p.n, sizeof *got);
    int64_t *zsum = xcalloc(p.dim, sizeof *zsum);
    int64_t *z = xcalloc(p.dim, sizeof *z);
    uint32_t *wsum = xcalloc(p.dim, sizeof *wsum);
    uint32_t *w = xcalloc(p.dim, sizeof *w);
    uint64_t st = 77, wraps = 0;
    double err = 0.0, bound = K * sqrt((double)p.dim) / p.scale;
    int64_t zmax = 0;

    (void)state;
    for (int j = 0; j < K; j++) {
        double *x = random_vec(p.n, &st, 1.0);
        fr_dp_rng *a = keyed(500 + (uint64_t)j), *b = keyed(500 + (uint64_t)j);

        assert_int_equal(fr_ddg_encode(&p, x, a, w), FR_OK);
        assert_int_equal(fr_ddg_round(&p, x, b, z), FR_OK);
        for (uint64_t i = 0; i < p.dim; i++) {
            wraps += (uint64_t)wsum[i] + w[i] > UINT32_MAX;
            wsum[i] += w[i]; /* mod 2^32 */
            zsum[i] += z[i];
        }
        for (uint64_t i = 0; i < p.n; i++)
            xs[i] += x[i];
        fr_dp_rng_destroy(&a);
        fr_dp_rng_destroy(&b);
        free(x);
    }
    for (uint64_t i = 0; i < p.dim; i++) {
        int64_t m = zsum[i] < 0 ? -zsum[i] : zsum[i];

        zmax = m > zmax ? m : zmax;
        assert_true(centred(wsum[i]) == zsum[i]);
        want[i] = (double)zsum[i] / p.scale;
    }
    /* the test is about wrapping: large sums, many word overflows */
    assert_true(zmax > 400000000 && zmax < INT32_MAX);
    assert_true(wraps > p.dim);
    assert_int_equal(fr_dp_unrotate(want, p.dim, p.rotation_seed), FR_OK);
    assert_int_equal(fr_ddg_decode(&p, wsum, got), FR_OK);
    for (uint64_t i = 0; i < p.n; i++) {
        assert_true(got[i] == want[i]);
        err += (got[i] - xs[i]) * (got[i] - xs[i]);
    }
    assert_true(sqrt(err) <= bound * (1.0 + 1e-6));
    free(xs);
    free(want);
    free(got);
    free(zsum);
    free(z);
    free(wsum);
    free(w);
}

/* centring at the edges: 2^31 - 1 stays, 2^31 becomes -2^31 */
static void
test_centre_edges(void **state)
{
    static const uint32_t words[] = {0x7fffffffu, 0x80000000u, 0xffffffffu, 0u};
    static const double want_c[] = {2147483647.0, -2147483648.0, -1.0, 0.0};
    fr_ddg_params p = params(1, 1, 4.0, 0);

    (void)state;
    for (size_t k = 0; k < 4; k++) {
        double want = want_c[k] / p.scale, got = 99.0;

        assert_int_equal(fr_dp_unrotate(&want, 1, p.rotation_seed), FR_OK);
        assert_int_equal(fr_ddg_decode(&p, &words[k], &got), FR_OK);
        assert_true(got == want);
        assert_true(fabs(got) == fabs(want_c[k]) / p.scale);
    }
}

static void
test_roundtrip_no_noise(void **state)
{
    static const uint64_t ns[] = {1, 5, 1000, 4096};
    uint64_t st = 3;

    (void)state;
    for (size_t k = 0; k < 4; k++) {
        fr_ddg_params p = params(ns[k], fr_dp_pad_dim(ns[k]), 1e4, 0);
        double *x = random_vec(p.n, &st, 10.0);
        double *got = xcalloc(p.n, sizeof *got);
        uint32_t *w = xcalloc(p.dim, sizeof *w);
        fr_dp_rng *r = keyed(k);
        double err = 0.0;

        assert_int_equal(fr_ddg_encode(&p, x, r, w), FR_OK);
        assert_int_equal(fr_ddg_decode(&p, w, got), FR_OK);
        for (uint64_t i = 0; i < p.n; i++)
            err += (got[i] - x[i]) * (got[i] - x[i]);
        assert_true(sqrt(err) <= sqrt((double)p.dim) / p.scale);
        fr_dp_rng_destroy(&r);
        free(x);
        free(got);
        free(w);
    }
}

/* decode - x per coordinate: mean 0, variance (sigma2 + r) / s^2 with the
 * rounding's r in [0, 1/4] */
static void
test_noise_variance(void **state)
{
    enum { REPS = 4 };
    fr_ddg_params p = params(16000, 16384, 50.0, 250000);
    double *got = xcalloc(p.n, sizeof *got);
    uint32_t *w = xcalloc(p.dim, sizeof *w), *w2 = xcalloc(p.dim, sizeof *w2);
    double mean = 0.0, m2 = 0.0, s2, var = (double)p.sigma2_int / 2500.0;
    double cnt = 0.0, slack = 0.25 / (double)p.sigma2_int;
    uint64_t st = 11;

    (void)state;
    for (int rep = 0; rep < REPS; rep++) {
        double *x = random_vec(p.n, &st, 5.0);
        fr_dp_rng *r = keyed(900 + (uint64_t)rep);

        assert_int_equal(fr_ddg_encode(&p, x, r, w), FR_OK);
        assert_int_equal(fr_ddg_decode(&p, w, got), FR_OK);
        for (uint64_t i = 0; i < p.n; i++) {
            double e = got[i] - x[i], de = e - mean;

            cnt += 1.0;
            mean += de / cnt;
            m2 += de * (e - mean);
        }
        fr_dp_rng_destroy(&r);
        free(x);
    }
    s2 = m2 / (cnt - 1.0);
    print_message("noise: mean %.4g (bound %.4g), s2/var - 1 = %.4g "
                  "(bound %.4g)\n",
                  mean, 6.0 * sqrt(var / cnt), s2 / var - 1.0,
                  6.0 * sqrt(2.0 / cnt) + slack);
    assert_true(fabs(mean) <= 6.0 * sqrt(var / cnt));
    assert_true(fabs(s2 / var - 1.0) <= 6.0 * sqrt(2.0 / cnt) + slack);

    /* the same key gives the same words; another key other noise */
    {
        double *x = random_vec(p.n, &st, 5.0);
        fr_dp_rng *a = keyed(1), *b = keyed(1), *c = keyed(2);
        uint64_t same = 0;

        assert_int_equal(fr_ddg_encode(&p, x, a, w), FR_OK);
        assert_int_equal(fr_ddg_encode(&p, x, b, w2), FR_OK);
        assert_memory_equal(w, w2, p.dim * sizeof *w);
        assert_int_equal(fr_ddg_encode(&p, x, c, w2), FR_OK);
        for (uint64_t i = 0; i < p.dim; i++)
            same += w[i] == w2[i];
        assert_true(same < p.dim / 50); /* sd 500: ties are ~1/1250 */
        fr_dp_rng_destroy(&a);
        fr_dp_rng_destroy(&b);
        fr_dp_rng_destroy(&c);
        free(x);
    }
    free(got);
    free(w);
    free(w2);
}

static void
test_refuses(void **state)
{
    fr_ddg_params good = params(6, 8, 10.0, 100), p;
    double x[8] = {1, 2, 3, 4, 5, 6}, out[8];
    uint32_t w[8], sum[8] = {0};
    int64_t z[8];
    fr_dp_rng *r = keyed(3);
    struct {
        uint64_t n, dim;
        double s;
        uint64_t sigma2;
        fr_err want;
    } bad[] = {
        {0, 8, 10.0, 100, FR_EINVAL},
        {9, 8, 10.0, 100, FR_EINVAL},
        {6, 6, 10.0, 100, FR_EINVAL},
        {6, 0, 10.0, 100, FR_EINVAL},
        {6, 8, 0.0, 100, FR_EINVAL},
        {6, 8, -1.0, 100, FR_EINVAL},
        {6, 8, NAN, 100, FR_EINVAL},
        {6, 8, INFINITY, 100, FR_EINVAL},
        {6, 8, 10.0, ((uint64_t)1 << 52) + 1, FR_EINVAL},
        {6, (uint64_t)1 << 31, 10.0, 100, FR_ELIMIT},
    };

    (void)state;
    assert_int_equal(fr_ddg_params_check(&good), FR_OK);
    assert_int_equal(fr_ddg_params_check(NULL), FR_EINVAL);
    memset(w, 0xab, sizeof w);
    memset(z, 0xab, sizeof z);
    memset(out, 0xab, sizeof out);
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        p = params(bad[k].n, bad[k].dim, bad[k].s, bad[k].sigma2);
        assert_int_equal(fr_ddg_params_check(&p), bad[k].want);
        assert_int_equal(fr_ddg_encode(&p, x, r, w), bad[k].want);
        assert_int_equal(fr_ddg_round(&p, x, r, z), bad[k].want);
        assert_int_equal(fr_ddg_decode(&p, sum, out), bad[k].want);
    }
    assert_int_equal(fr_ddg_encode(NULL, x, r, w), FR_EINVAL);
    assert_int_equal(fr_ddg_encode(&good, NULL, r, w), FR_EINVAL);
    assert_int_equal(fr_ddg_encode(&good, x, NULL, w), FR_EINVAL);
    assert_int_equal(fr_ddg_encode(&good, x, r, NULL), FR_EINVAL);
    assert_int_equal(fr_ddg_round(&good, x, r, NULL), FR_EINVAL);
    assert_int_equal(fr_ddg_decode(&good, NULL, out), FR_EINVAL);
    assert_int_equal(fr_ddg_decode(&good, sum, NULL), FR_EINVAL);
    /* non-finite and oversized inputs */
    x[2] = NAN;
    assert_int_equal(fr_ddg_encode(&good, x, r, w), FR_EINVAL);
    x[2] = -INFINITY;
    assert_int_equal(fr_ddg_encode(&good, x, r, w), FR_EINVAL);
    assert_int_equal(fr_ddg_round(&good, x, r, z), FR_EINVAL);
    x[2] = 1e300;
    assert_int_equal(fr_ddg_encode(&good, x, r, w), FR_ELIMIT);
    x[2] = 1e18; /* |s y| ~ 3.5e18 < 2^62 ~ 4.6e18: accepted */
    assert_int_equal(fr_ddg_round(&good, x, r, z), FR_OK);
    x[2] = 3e18; /* ~1.06e19: too large */
    assert_int_equal(fr_ddg_round(&good, x, r, z), FR_ELIMIT);
    /* nothing was written by a refused call */
    for (int i = 0; i < 8; i++)
        assert_true(w[i] == 0xabababab);
    fr_dp_rng_destroy(&r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_is_literal),
        cmocka_unit_test(test_sensitivity),
        cmocka_unit_test(test_wrap_sum),
        cmocka_unit_test(test_centre_edges),
        cmocka_unit_test(test_roundtrip_no_noise),
        cmocka_unit_test(test_noise_variance),
        cmocka_unit_test(test_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
