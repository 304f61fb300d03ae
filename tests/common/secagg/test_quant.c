/*
 * test_quant.c - fixed-point encoding for the secure sum: the decoded sum of
 * encodings is within the stated bound of the exact weighted mean, stochastic
 * rounding is unbiased and uses the documented coins, clipping scales whole
 * updates, sums at the extremes never wrap, and bad arguments are refused
 * without touching the outputs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "secagg/quant.h"

#define MAX_D 300

/* splitmix64: reproducible updates, weights and seeds */
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

static void
seed_from(uint8_t seed[32], uint64_t i)
{
    memset(seed, 0, 32);
    for (int b = 0; b < 8; b++)
        seed[b] = (uint8_t)(i >> (8 * b));
}

/* (int32)w, spelled without implementation-defined conversion */
static int64_t
as_int32(uint32_t w)
{
    return w > INT32_MAX ? (int64_t)w - 4294967296 : (int64_t)w;
}

/* Decoded floats also carry their own rounding to float, which the header's
 * bound (about the exact decoded value) does not include: allow one float
 * ulp of the expected value on top of it. */
static void
assert_within(float got, double want, double bound)
{
    double err = fabs((double)got - want);
    double tol = bound + fabs(want) * FLT_EPSILON + 1e-12;

    if (err > tol)
        fail_msg("decoded %.12g, exact %.12g: error %.3g > %.3g", (double)got,
                 want, err, tol);
}

/* ---- init ---------------------------------------------------------------- */

static void
test_init(void **state)
{
    fr_quant q;
    (void)state;

    assert_int_equal(fr_quant_init(&q, 10, 10.0, 1000), FR_OK);
    assert_int_equal(q.n_max, 10);
    assert_true(q.clip == 10.0);
    assert_int_equal(q.weight_cap, 1000);
    assert_true(q.scale >= 1.0);
    /* the header's inequality, and as large a scale as it allows */
    assert_true(10.0 * (1000.0 * 10.0 * q.scale + 1.0) <= 2147483647.0);
    assert_true(10.0 * (1000.0 * 10.0 * q.scale * (1 + 1e-12) + 1.0) >
                2147483647.0);
    /* not vacuous: ten contributions of weight 1 each decode to 1e-4 */
    assert_true(fr_quant_error_bound(&q, 10, 10) < 1e-4);
    assert_true(fr_quant_error_bound(&q, 10, 10) == 10.0 / (q.scale * 10.0));

    /* n_max * weight_cap = 2^32 - 1 exactly is allowed */
    assert_int_equal(fr_quant_init(&q, 65537, 1e-6, 65535), FR_OK);
    assert_int_equal(fr_quant_init(&q, 65535, 0.1, 65537), FR_OK);
}

static void
test_init_refuses(void **state)
{
    static const struct {
        uint32_t n_max;
        double clip;
        uint32_t cap;
    } bad[] = {
        {0, 1.0, 1},
        {1, 1.0, 0},
        {1, 0.0, 1},
        {1, -0.0, 1},
        {1, -1.0, 1},
        {1, NAN, 1},
        {1, INFINITY, 1},
        {1, -INFINITY, 1},
        /* n_max * weight_cap = 2^32 with a clip small enough that scale
         * alone would allow it */
        {65536, 1e-6, 65536},
        {UINT32_MAX, 1e-9, 2},
        /* n_max alone leaves no room: 2^31 - 1 / n_max - 1 <= 0 */
        {INT32_MAX, 1.0, 1},
        /* clip so small the scale is not finite */
        {1, 1e-310, 1},
    };
    fr_quant q, before;
    (void)state;

    memset(&q, 0x7e, sizeof q);
    memcpy(&before, &q, sizeof q);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (fr_quant_init(&q, bad[i].n_max, bad[i].clip, bad[i].cap) !=
            FR_EINVAL)
            fail_msg("case %zu accepted", i);
        assert_memory_equal(&q, &before, sizeof q);
    }
    assert_int_equal(fr_quant_init(NULL, 1, 1.0, 1), FR_EINVAL);
}

/* ---- the sum ------------------------------------------------------------- */

/* One trial: n random updates (some longer than clip), random weights (some
 * above the cap), encoded, summed mod 2^32, decoded; every coordinate is
 * within the bound of the exact weighted mean of the clipped updates. */
static void
sum_trial(const fr_quant *q, uint32_t n, size_t d, uint64_t *rs)
{
    static float x[MAX_D];
    static double exact[MAX_D];
    static uint32_t words[MAX_D + 1], sum[MAX_D + 1];
    float mean[MAX_D];
    uint64_t total = 0, got_total = 0;
    double bound;

    memset(sum, 0, sizeof sum);
    memset(exact, 0, sizeof exact);
    for (uint32_t i = 0; i < n; i++) {
        double amp = (i % 3 == 0 ? 4.0 : 0.5) * q->clip / sqrt((double)d);
        double norm2 = 0.0, factor, want_factor = 1.0;
        uint64_t weight =
            1 + next_u64(rs) % (q->weight_cap + q->weight_cap / 2);
        uint64_t w = weight < q->weight_cap ? weight : q->weight_cap;
        uint8_t seed[32];

        for (size_t j = 0; j < d; j++) {
            x[j] = (float)(amp * next_unit(rs));
            norm2 += (double)x[j] * x[j];
        }
        if (sqrt(norm2) > q->clip)
            want_factor = q->clip / sqrt(norm2);
        seed_from(seed, next_u64(rs));
        assert_int_equal(fr_quant_encode(q, x, d, weight, seed, words, &factor),
                         FR_OK);
        assert_true(fabs(factor - want_factor) <= 1e-15);
        assert_int_equal(words[d], w);
        for (size_t j = 0; j <= d; j++)
            sum[j] += words[j]; /* modular, as the secure sum adds */
        for (size_t j = 0; j < d; j++)
            exact[j] += (double)w * want_factor * x[j];
        total += w;
    }
    assert_int_equal(fr_quant_decode_mean(q, sum, d, mean, &got_total), FR_OK);
    assert_int_equal(got_total, total);
    bound = fr_quant_error_bound(q, n, total);
    for (size_t j = 0; j < d; j++)
        assert_within(mean[j], exact[j] / (double)total, bound);
}

static void
test_sum_within_bound(void **state)
{
    fr_quant q;
    uint64_t rs = 11;
    (void)state;

    assert_int_equal(fr_quant_init(&q, 10, 10.0, 1000), FR_OK);
    for (int trial = 0; trial < 50; trial++)
        sum_trial(&q, 10, 64, &rs);
    /* fewer contributions than n_max, and long updates (buffer refills) */
    sum_trial(&q, 3, MAX_D, &rs);
    sum_trial(&q, 1, 1, &rs);

    assert_int_equal(fr_quant_init(&q, 200, 0.25, 3), FR_OK);
    for (int trial = 0; trial < 5; trial++)
        sum_trial(&q, 200, 17, &rs);
}

/* ---- rounding ------------------------------------------------------------ */

/* Rounding follows the documented coins exactly: coordinate j uses the j-th
 * little-endian uint32 of crypto_stream_chacha20(coin_seed, zero nonce) and
 * rounds up iff word * 2^-32 < frac. 300 coordinates cross the encoder's
 * keystream buffer. */
static void
test_coins(void **state)
{
    static const uint8_t nonce[8];
    uint8_t seed[32], ks[4 * MAX_D];
    uint32_t words[MAX_D + 1];
    float x[MAX_D];
    double factor;
    fr_quant q;
    uint64_t rs = 12;
    int ups = 0;
    (void)state;

    assert_int_equal(fr_quant_init(&q, 1, 1000.0, 1), FR_OK);
    for (size_t j = 0; j < MAX_D; j++)
        x[j] = (float)(20.0 * next_unit(&rs));
    seed_from(seed, 99);
    assert_int_equal(crypto_stream_chacha20(ks, sizeof ks, nonce, seed), 0);
    assert_int_equal(fr_quant_encode(&q, x, MAX_D, 1, seed, words, &factor),
                     FR_OK);
    assert_true(factor == 1.0);
    for (size_t j = 0; j < MAX_D; j++) {
        uint32_t coin = (uint32_t)ks[4 * j] | (uint32_t)ks[4 * j + 1] << 8 |
                        (uint32_t)ks[4 * j + 2] << 16 |
                        (uint32_t)ks[4 * j + 3] << 24;
        double v = q.scale * (double)x[j], fl = floor(v);
        int up = coin * 0x1p-32 < v - fl;
        assert_true(as_int32(words[j]) == (int64_t)fl + up);
        ups += up;
    }
    /* both directions occur */
    assert_true(ups > 0 && ups < MAX_D);
}

/* The mean of many encodings of a value whose fixed-point form has
 * fractional part 0.3 approaches the value: floor 70 % of the time, floor +
 * 1 30 %. Also for a negative value, and the same seed gives the same
 * encoding. */
static void
test_unbiased(void **state)
{
    const double targets[] = {1000.3, -1000.7, 0.3};
    const int trials = 20000;
    fr_quant q;
    (void)state;

    assert_int_equal(fr_quant_init(&q, 1, 1.0, 1), FR_OK);
    for (size_t t = 0; t < sizeof targets / sizeof targets[0]; t++) {
        float x = (float)(targets[t] / q.scale);
        double v = q.scale * (double)x, fl = floor(v), frac = v - fl;
        double sum = 0.0, sd;
        uint32_t words[2], again[2];
        uint8_t seed[32];

        assert_true(fabs(frac - 0.3) < 1e-3);
        for (int i = 0; i < trials; i++) {
            int64_t e;
            seed_from(seed, (uint64_t)i + 100000 * t);
            assert_int_equal(fr_quant_encode(&q, &x, 1, 1, seed, words, NULL),
                             FR_OK);
            e = as_int32(words[0]);
            assert_true(e == (int64_t)fl || e == (int64_t)fl + 1);
            sum += (double)e;
        }
        /* within 6 standard deviations of the mean of trials Bernoulli(0.3) */
        sd = sqrt(frac * (1 - frac) / trials);
        assert_true(fabs(sum / trials - v) < 6 * sd);
        assert_true(fabs(sum / trials / q.scale - (double)x) <
                    6 * sd / q.scale);

        assert_int_equal(fr_quant_encode(&q, &x, 1, 1, seed, again, NULL),
                         FR_OK);
        assert_memory_equal(words, again, sizeof words);
    }
}

/* ---- clipping ------------------------------------------------------------ */

static void
test_clipping(void **state)
{
    const float longer[3] = {12, 16, 0}; /* norm 20 = 2 * clip */
    const float at[3] = {6, -8, 0};      /* norm 10 = clip */
    const float inside[3] = {1, 2, 3};
    uint32_t words[4];
    uint8_t seed[32];
    float mean[3];
    double factor = -1;
    fr_quant q;
    (void)state;

    assert_int_equal(fr_quant_init(&q, 4, 10.0, 5), FR_OK);
    seed_from(seed, 1);
    assert_int_equal(fr_quant_encode(&q, longer, 3, 3, seed, words, &factor),
                     FR_OK);
    assert_true(factor == 0.5);
    assert_int_equal(fr_quant_decode_mean(&q, words, 3, mean, NULL), FR_OK);
    assert_within(mean[0], 6.0, fr_quant_error_bound(&q, 1, 3));
    assert_within(mean[1], 8.0, fr_quant_error_bound(&q, 1, 3));
    assert_within(mean[2], 0.0, fr_quant_error_bound(&q, 1, 3));

    assert_int_equal(fr_quant_encode(&q, at, 3, 3, seed, words, &factor),
                     FR_OK);
    assert_true(factor == 1.0);
    assert_int_equal(fr_quant_encode(&q, inside, 3, 1, seed, words, &factor),
                     FR_OK);
    assert_true(factor == 1.0);
    assert_int_equal(fr_quant_decode_mean(&q, words, 3, mean, NULL), FR_OK);
    for (int j = 0; j < 3; j++)
        assert_within(mean[j], inside[j], fr_quant_error_bound(&q, 1, 1));
}

/* ---- extremes ------------------------------------------------------------ */

/* n_max encodings, every one at +clip (or -clip) on a coordinate with a
 * weight at or above the cap: the modular sum read as int32 equals the true
 * integer sum, so nothing wrapped, and it decodes to +-clip. clip = 0.1 is
 * not a float, so (float)0.1 is a hair longer than clip and is clipped. */
static void
test_no_wrap_at_extremes(void **state)
{
    static const struct {
        uint32_t n_max;
        double clip;
        uint32_t cap;
    } cases[] = {
        /* the third: the weight word sums to exactly 2^32 - 1 */
        {1, 1.0, 1},       {1000, 10.0, 1000}, {65535, 0.1, 65537},
        {3, 1000.0, 4000}, {7, 3.3, 1},
    };
    (void)state;

    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (int sign = -1; sign <= 1; sign += 2) {
            const float x[2] = {(float)(sign * cases[c].clip), 0};
            uint32_t words[3], sum[3] = {0};
            int64_t exact = 0, per_max;
            uint64_t weight_out = 0;
            double factor = 0.0;
            uint8_t seed[32];
            float mean[2];
            fr_quant q;

            assert_int_equal(
                fr_quant_init(&q, cases[c].n_max, cases[c].clip, cases[c].cap),
                FR_OK);
            per_max = (int64_t)floor(q.weight_cap * q.clip * q.scale) + 1;
            for (uint32_t i = 0; i < q.n_max; i++) {
                /* alternate exactly the cap and far above it */
                uint64_t weight = i % 2 ? UINT64_MAX : q.weight_cap;
                seed_from(seed, i);
                assert_int_equal(
                    fr_quant_encode(&q, x, 2, weight, seed, words, &factor),
                    FR_OK);
                assert_true(llabs((long long)as_int32(words[0])) <= per_max);
                assert_int_equal(words[2], q.weight_cap);
                exact += as_int32(words[0]);
                for (int j = 0; j < 3; j++)
                    sum[j] += words[j];
            }
            assert_true(exact >= -(int64_t)INT32_MAX && exact <= INT32_MAX);
            assert_true(as_int32(sum[0]) == exact);
            assert_int_equal(
                fr_quant_decode_mean(&q, sum, 2, mean, &weight_out), FR_OK);
            assert_int_equal(weight_out, (uint64_t)q.n_max * q.weight_cap);
            /* (float)clip may be a little above clip (clipped: factor
             * < 1) or below it (kept: factor 1); either way |x * factor| is
             * clip to within float precision */
            assert_true(fabs(fabs((double)x[0]) * factor - q.clip) <=
                        q.clip * FLT_EPSILON);
            assert_within(mean[0], (double)x[0] * factor,
                          fr_quant_error_bound(&q, q.n_max, weight_out));
            assert_true(mean[1] == 0.0f);
        }
    }
}

/* ---- refusals ------------------------------------------------------------ */

static void
test_encode_refuses(void **state)
{
    const float bad[][3] = {
        {NAN, 0, 0}, {0, INFINITY, 0}, {0, 0, -INFINITY}, {1, -NAN, 2}};
    const float ok[3] = {1, 2, 3};
    uint32_t words[4], before[4];
    uint8_t seed[32] = {0};
    double factor = 7.0;
    fr_quant q, raw;
    (void)state;

    assert_int_equal(fr_quant_init(&q, 10, 10.0, 1000), FR_OK);
    memset(words, 0xa5, sizeof words);
    memcpy(before, words, sizeof words);
    assert_int_equal(fr_quant_encode(&q, ok, 3, 0, seed, words, &factor),
                     FR_EINVAL);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(
            fr_quant_encode(&q, bad[i], 3, 1, seed, words, &factor), FR_EINVAL);
    assert_int_equal(fr_quant_encode(NULL, ok, 3, 1, seed, words, NULL),
                     FR_EINVAL);
    assert_int_equal(fr_quant_encode(&q, NULL, 3, 1, seed, words, NULL),
                     FR_EINVAL);
    assert_int_equal(fr_quant_encode(&q, ok, 3, 1, NULL, words, NULL),
                     FR_EINVAL);
    assert_int_equal(fr_quant_encode(&q, ok, 3, 1, seed, NULL, NULL),
                     FR_EINVAL);
    /* a struct fr_quant_init never made: its scale would wrap the sum */
    raw = q;
    raw.scale *= 2;
    assert_int_equal(fr_quant_encode(&raw, ok, 3, 1, seed, words, NULL),
                     FR_EINVAL);
    memset(&raw, 0, sizeof raw);
    assert_int_equal(fr_quant_encode(&raw, ok, 3, 1, seed, words, NULL),
                     FR_EINVAL);
    assert_memory_equal(words, before, sizeof words);
    assert_true(factor == 7.0);
}

static void
test_decode_refuses(void **state)
{
    const uint32_t zero_weight[3] = {5, 6, 0};
    const uint32_t ok[3] = {5, 6, 1};
    float mean[2] = {-1, -1};
    uint64_t w = 77;
    fr_quant q;
    (void)state;

    assert_int_equal(fr_quant_init(&q, 10, 10.0, 1000), FR_OK);
    assert_int_equal(fr_quant_decode_mean(&q, zero_weight, 2, mean, &w),
                     FR_EINVAL);
    assert_true(mean[0] == -1.0f && mean[1] == -1.0f && w == 77);
    assert_int_equal(fr_quant_decode_mean(&q, NULL, 2, mean, &w), FR_EINVAL);
    assert_int_equal(fr_quant_decode_mean(&q, ok, 2, NULL, &w), FR_EINVAL);
    assert_int_equal(fr_quant_decode_mean(NULL, ok, 2, mean, &w), FR_EINVAL);
    assert_int_equal(fr_quant_decode_mean(&q, ok, 2, mean, NULL), FR_OK);
    assert_true(mean[0] == (float)(5.0 / q.scale));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init),
        cmocka_unit_test(test_init_refuses),
        cmocka_unit_test(test_sum_within_bound),
        cmocka_unit_test(test_coins),
        cmocka_unit_test(test_unbiased),
        cmocka_unit_test(test_clipping),
        cmocka_unit_test(test_no_wrap_at_extremes),
        cmocka_unit_test(test_encode_refuses),
        cmocka_unit_test(test_decode_refuses),
    };

    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
