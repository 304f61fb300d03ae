/*
 * test_dgauss.c - the exact samplers: the discrete Gaussian matches the
 * reference pmf (chi-square) and moments (mean, variance) of
 * tests/vectors/dp; Bernoulli(exp(-gamma)) and the discrete Laplace match
 * their closed forms; with a scripted generator each component makes
 * exactly the uniform(m) calls DP.md 6 lays down; bad parameters are
 * refused. Every statistical test uses a fixed key, so results are
 * deterministic; thresholds are p >= 1e-6 (chi-square) and 6 standard
 * errors (DP.md 8.2).
 *
 * Draw counts: 10^6 per distribution in an optimised build (DP.md 8.2),
 * 5 * 10^5 under AddressSanitizer to keep the run short; FR_DGAUSS_N in the
 * environment overrides both.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dp/dgauss.h"
#include "dp/rng.h"

#if defined(__SANITIZE_ADDRESS__)
#define DEFAULT_N 500000
#else
#define DEFAULT_N 1000000
#endif

#define P_MIN        1e-6
#define MIN_EXPECTED 5.0

static long
draws(void)
{
    const char *s = getenv("FR_DGAUSS_N");
    long n = s ? strtol(s, NULL, 10) : 0;

    return n >= 1000 ? n : DEFAULT_N;
}

static fr_dp_rng *
keyed(uint8_t tag)
{
    uint8_t key[32];
    fr_dp_rng *r = NULL;

    for (int i = 0; i < 32; i++)
        key[i] = (uint8_t)(tag * 31 + i);
    assert_int_equal(fr_dp_rng_new(&r, key), FR_OK);
    return r;
}

/* ---- chi-square ------------------------------------------------------ */

/* Regularized upper incomplete gamma Q(a, x): the power series of P below
 * x = a + 1, the continued fraction of Q above it (Lentz's evaluation). */
static double
gamma_q(double a, double x)
{
    double lead;

    if (x <= 0.0)
        return 1.0;
    lead = exp(-x + a * log(x) - lgamma(a));
    if (x < a + 1.0) {
        double term = 1.0 / a, sum = term, ap = a;

        for (int i = 0; i < 100000 && fabs(term) > 1e-17 * fabs(sum); i++) {
            ap += 1.0;
            term *= x / ap;
            sum += term;
        }
        return 1.0 - sum * lead;
    } else {
        double b = x + 1.0 - a, c = 1e300, d = 1.0 / b, h = d;

        for (int i = 1; i < 100000; i++) {
            double an = -i * (i - a), del;

            b += 2.0;
            d = an * d + b;
            d = fabs(d) < 1e-300 ? 1e-300 : d;
            c = b + an / c;
            c = fabs(c) < 1e-300 ? 1e-300 : c;
            d = 1.0 / d;
            del = d * c;
            h *= del;
            if (fabs(del - 1.0) < 1e-16)
                break;
        }
        return lead * h;
    }
}

/* p-value of observed counts obs[0..m-1] (of n draws) against
 * probabilities prob[0..m-1] of consecutive outcomes, neighbouring
 * outcomes merged until each bin expects at least MIN_EXPECTED. */
static double
chi2_pvalue(const double *prob, const long *obs, size_t m, long n,
            int *bins_out)
{
    double chi2 = 0.0, e = 0.0, last_e = 0.0;
    long o = 0, last_o = 0;
    int bins = 0;

    for (size_t i = 0; i < m; i++) {
        e += prob[i] * (double)n;
        o += obs[i];
        if (e >= MIN_EXPECTED) {
            if (bins > 0)
                chi2 += (last_o - last_e) * (last_o - last_e) / last_e;
            last_e = e;
            last_o = o;
            bins++;
            e = 0.0;
            o = 0;
        }
    }
    /* a short tail joins the last full bin */
    last_e += e;
    last_o += o;
    chi2 += (last_o - last_e) * (last_o - last_e) / last_e;
    if (bins_out)
        *bins_out = bins;
    assert_true(bins >= 2);
    return gamma_q((bins - 1) / 2.0, chi2 / 2.0);
}

static void
test_gamma_q(void **state)
{
    (void)state;
    /* 2 degrees of freedom: Q(1, x) = exp(-x) */
    assert_true(fabs(gamma_q(1.0, 0.5) - exp(-0.5)) < 1e-12);
    assert_true(fabs(gamma_q(1.0, 20.0) / exp(-20.0) - 1.0) < 1e-10);
    /* Q(1/2, x) = erfc(sqrt(x)) */
    assert_true(fabs(gamma_q(0.5, 0.3) - erfc(sqrt(0.3))) < 1e-12);
    assert_true(fabs(gamma_q(0.5, 9.0) / erfc(3.0) - 1.0) < 1e-10);
    /* chi-square, 100 dof: median ~ 99.334 */
    assert_true(fabs(gamma_q(50.0, 99.334 / 2.0) - 0.5) < 1e-3);
}

/* ---- reference vectors ------------------------------------------------ */

typedef struct pmf_row {
    uint64_t num, den;
    long x;
    double p;
} pmf_row;

typedef struct moments_row {
    uint64_t num, den;
    double variance;
} moments_row;

static FILE *
open_vector(const char *name)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof path, "%s/dp/%s", FR_TEST_VECTORS_DIR, name);
    f = fopen(path, "r");
    assert_non_null(f);
    return f;
}

/* rows of dgauss_pmf.csv; returns the count */
static size_t
load_pmf(pmf_row *rows, size_t cap)
{
    char line[256];
    size_t n = 0;
    FILE *f = open_vector("dgauss_pmf.csv");

    assert_non_null(fgets(line, sizeof line, f)); /* header */
    while (fgets(line, sizeof line, f)) {
        char *p = line;

        assert_true(n < cap);
        rows[n].num = strtoull(p, &p, 10);
        rows[n].den = strtoull(p + 1, &p, 10);
        rows[n].x = strtol(p + 1, &p, 10);
        rows[n].p = strtod(p + 1, &p);
        assert_true(*p == ',');
        n++;
    }
    fclose(f);
    assert_true(n > 0);
    return n;
}

static size_t
load_moments(moments_row *rows, size_t cap)
{
    char line[512];
    size_t n = 0;
    FILE *f = open_vector("dgauss_moments.csv");

    assert_non_null(fgets(line, sizeof line, f));
    while (fgets(line, sizeof line, f)) {
        char *p = line;

        assert_true(n < cap);
        rows[n].num = strtoull(p, &p, 10);
        rows[n].den = strtoull(p + 1, &p, 10);
        strtod(p + 1, &p); /* sigma2 */
        strtod(p + 1, &p); /* normalizer */
        rows[n].variance = strtod(p + 1, &p);
        assert_true(*p == ',');
        n++;
    }
    fclose(f);
    return n;
}

/* ---- discrete Gaussian ------------------------------------------------ */

static void
check_pmf(const pmf_row *rows, size_t m, long n, uint8_t tag)
{
    fr_dp_rng *r = keyed(tag);
    fr_dp_dgauss_plan plan;
    long lo = rows[0].x, hi = rows[m - 1].x;
    long *obs = calloc(m, sizeof *obs);
    double *prob = malloc(m * sizeof *prob);
    double pv;
    int bins;

    assert_non_null(obs);
    assert_non_null(prob);
    for (size_t i = 0; i < m; i++) {
        assert_int_equal(rows[i].x, lo + (long)i); /* consecutive */
        prob[i] = rows[i].p;
    }
    assert_int_equal(fr_dp_dgauss_plan_init(&plan, rows[0].num, rows[0].den),
                     FR_OK);
    for (long k = 0; k < n; k++) {
        int64_t y = fr_dp_dgauss_draw(&plan, r);

        /* the table covers all but ~1e-30 of the mass */
        assert_true(y >= lo && y <= hi);
        obs[y - lo]++;
    }
    pv = chi2_pvalue(prob, obs, m, n, &bins);
    print_message("sigma2 %llu/%llu: %d bins, p = %.4g\n",
                  (unsigned long long)rows[0].num,
                  (unsigned long long)rows[0].den, bins, pv);
    assert_true(pv >= P_MIN);
    free(obs);
    free(prob);
    fr_dp_rng_destroy(&r);
}

static void
test_dgauss_pmf(void **state)
{
    static pmf_row rows[1024];
    size_t n = load_pmf(rows, 1024), start = 0;
    uint8_t tag = 1;
    int groups = 0;

    (void)state;
    for (size_t i = 1; i <= n; i++)
        if (i == n || rows[i].num != rows[start].num ||
            rows[i].den != rows[start].den) {
            check_pmf(rows + start, i - start, draws(), tag++);
            groups++;
            start = i;
        }
    /* sigma2 in {1/4, 1, 5/2, 10, 100} */
    assert_int_equal(groups, 5);
}

/* Relative spread of the sample variance: sqrt((mu4/var^2 - 1) / n); the
 * Gaussian value 2 for mu4/var^2 - 1 unless the pmf shows a heavier
 * fourth moment (sigma2 = 1/4 is far from Gaussian). */
static double
var_kappa(const pmf_row *rows, size_t m, uint64_t num, uint64_t den, double var)
{
    double mu4 = 0.0;
    int found = 0;

    for (size_t i = 0; i < m; i++)
        if (rows[i].num == num && rows[i].den == den) {
            mu4 += rows[i].p * pow((double)rows[i].x, 4);
            found = 1;
        }
    if (!found)
        return 2.0;
    return fmax(2.0, mu4 / (var * var) - 1.0);
}

static void
test_dgauss_moments(void **state)
{
    static pmf_row pmf[1024];
    moments_row rows[16];
    size_t np = load_pmf(pmf, 1024), m = load_moments(rows, 16);
    long n = draws();

    (void)state;
    assert_int_equal(m, 8);
    for (size_t k = 0; k < m; k++) {
        fr_dp_rng *r = keyed((uint8_t)(100 + k));
        fr_dp_dgauss_plan plan;
        double mean = 0.0, m2 = 0.0, s2, var = rows[k].variance, kappa;

        assert_int_equal(
            fr_dp_dgauss_plan_init(&plan, rows[k].num, rows[k].den), FR_OK);
        /* Welford */
        for (long i = 0; i < n; i++) {
            double y = (double)fr_dp_dgauss_draw(&plan, r);
            double dy = y - mean;

            mean += dy / (double)(i + 1);
            m2 += dy * (y - mean);
        }
        s2 = m2 / (double)(n - 1);
        kappa = var_kappa(pmf, np, rows[k].num, rows[k].den, var);
        print_message(
            "sigma2 %llu/%llu: mean %.3g (bound %.3g), "
            "s2/var - 1 = %.3g (bound %.3g)\n",
            (unsigned long long)rows[k].num, (unsigned long long)rows[k].den,
            mean, 6.0 * sqrt(var / n), s2 / var - 1.0, 6.0 * sqrt(kappa / n));
        assert_true(fabs(mean) <= 6.0 * sqrt(var / (double)n));
        assert_true(fabs(s2 / var - 1.0) <= 6.0 * sqrt(kappa / (double)n));
        fr_dp_rng_destroy(&r);
    }
}

/* ---- components --------------------------------------------------------- */

static void
test_bernoulli_exp_freq(void **state)
{
    static const uint64_t g[][2] = {{0, 1}, {1, 3}, {1, 1}, {5, 2}, {10, 1}};
    long n = draws();

    (void)state;
    for (size_t k = 0; k < sizeof g / sizeof g[0]; k++) {
        fr_dp_rng *r = keyed((uint8_t)(40 + k));
        double p = exp(-(double)g[k][0] / (double)g[k][1]), f;
        long ones = 0;

        for (long i = 0; i < n; i++)
            ones += fr_dp_bernoulli_exp(r, g[k][0], g[k][1]);
        f = (double)ones / (double)n;
        if (g[k][0] == 0)
            assert_int_equal(ones, n); /* exp(0) = 1 exactly */
        else
            assert_true(fabs(f - p) <= 6.0 * sqrt(p * (1.0 - p) / n));
        /* the 128-bit entry point is the same sampler */
        assert_int_equal(fr_dp_bernoulli_exp128(r, 0, 1), 1);
        fr_dp_rng_destroy(&r);
    }
}

static void
test_dlaplace_pmf(void **state)
{
    static const uint64_t ts[] = {1, 3, 1000};
    long n = draws();

    (void)state;
    for (size_t k = 0; k < sizeof ts / sizeof ts[0]; k++) {
        uint64_t t = ts[k];
        long lim = 40 * (long)t; /* mass beyond: ~exp(-40) */
        size_t m = (size_t)(2 * lim + 1);
        double *prob = malloc(m * sizeof *prob);
        long *obs = calloc(m, sizeof *obs);
        double q = exp(-1.0 / (double)t), c = (1.0 - q) / (1.0 + q), pv;
        fr_dp_rng *r = keyed((uint8_t)(60 + k));
        double sum = 0.0;
        int bins;

        assert_non_null(prob);
        assert_non_null(obs);
        for (size_t i = 0; i < m; i++) {
            prob[i] = c * pow(q, fabs((double)((long)i - lim)));
            sum += prob[i];
        }
        assert_true(fabs(sum - 1.0) < 1e-12);
        for (long i = 0; i < n; i++) {
            int64_t y = fr_dp_dlaplace(r, t);

            assert_true(y >= -lim && y <= lim);
            obs[y + lim]++;
        }
        pv = chi2_pvalue(prob, obs, m, n, &bins);
        print_message("dlaplace t=%llu: %d bins, p = %.4g\n",
                      (unsigned long long)t, bins, pv);
        assert_true(pv >= P_MIN);
        free(prob);
        free(obs);
        fr_dp_rng_destroy(&r);
    }
}

/* ---- scripted generator: the exact uniform(m) sequence ----------------- */

typedef struct script {
    const uint64_t (*steps)[2]; /* {m, value returned} */
    size_t len, at;
} script;

static fr_dp_u128
script_next(void *ctx, fr_dp_u128 m)
{
    script *s = ctx;

    assert_true(s->at < s->len);
    assert_true(m == s->steps[s->at][0]);
    return s->steps[s->at++][1];
}

static fr_dp_rng *
scripted(script *s, const uint64_t (*steps)[2], size_t len)
{
    fr_dp_rng *r = NULL;

    s->steps = steps;
    s->len = len;
    s->at = 0;
    assert_int_equal(fr_dp_rng_new_scripted(&r, script_next, s), FR_OK);
    return r;
}

#define SCRIPT(s, steps) scripted(&(s), steps, sizeof steps / sizeof steps[0])

static void
test_script_bernoulli(void **state)
{
    /* clang-format off */
    /* each pair is one uniform(m) call: {m, value returned} */
    /* gamma = 1/3: uniform(3) < 1 yes, K = 2; uniform(6) < 1 yes, K = 3;
     * uniform(9) < 1 no: K = 3 is odd, result 1 */
    static const uint64_t third[][2] = {{3, 0}, {6, 0}, {9, 5}};
    /* gamma = 0: uniform(1) < 0 never, K = 1: result 1 */
    static const uint64_t zero[][2] = {{1, 0}};
    /* gamma = 1 is not > 1, so straight to the [0,1] routine:
     * uniform(1) < 1 (always), uniform(2) < 1 no: K = 2, result 0 */
    static const uint64_t one[][2] = {{1, 0}, {2, 1}};
    /* gamma = 5/2: Bernoulli(e^-1) = 1 (K = 3), gamma = 3/2;
     * again 1, gamma = 1/2; then uniform(2) < 1 yes, uniform(4) < 1 yes,
     * uniform(6) < 1 no: K = 3, result 1 */
    static const uint64_t five_halves[][2] = {
        {1, 0}, {2, 0}, {3, 1},
        {1, 0}, {2, 0}, {3, 2},
        {2, 0}, {4, 0}, {6, 1},
    };
    /* gamma = 5/2, first Bernoulli(e^-1) fails (K = 2): result 0 at once */
    static const uint64_t early_zero[][2] = {{1, 0}, {2, 1}};
    /* clang-format on */
    script s;
    fr_dp_rng *r;

    (void)state;
    r = SCRIPT(s, third);
    assert_int_equal(fr_dp_bernoulli_exp(r, 1, 3), 1);
    assert_int_equal(s.at, s.len);
    fr_dp_rng_destroy(&r);

    r = SCRIPT(s, zero);
    assert_int_equal(fr_dp_bernoulli_exp(r, 0, 1), 1);
    assert_int_equal(s.at, s.len);
    fr_dp_rng_destroy(&r);

    r = SCRIPT(s, one);
    assert_int_equal(fr_dp_bernoulli_exp(r, 1, 1), 0);
    assert_int_equal(s.at, s.len);
    fr_dp_rng_destroy(&r);

    r = SCRIPT(s, five_halves);
    assert_int_equal(fr_dp_bernoulli_exp(r, 5, 2), 1);
    assert_int_equal(s.at, s.len);
    fr_dp_rng_destroy(&r);

    r = SCRIPT(s, early_zero);
    assert_int_equal(fr_dp_bernoulli_exp(r, 5, 2), 0);
    assert_int_equal(s.at, s.len);
    fr_dp_rng_destroy(&r);
}

static void
test_script_dlaplace(void **state)
{
    /* clang-format off */
    /* each pair is one uniform(m) call: {m, value returned} */
    static const uint64_t steps[][2] = {
        /* B = 1 (uniform(2) = 0 < 1); U = 0, accepted: uniform(3) < 0
         * never, K = 1; V: Bernoulli(e^-1) fails at once (K = 2), V = 0.
         * B = 1 and X = 0: start again. */
        {2, 0}, {3, 0}, {3, 1}, {1, 0}, {2, 1},
        /* B = 0; U = 2 rejected: uniform(3) = 1 < 2, uniform(6) = 5 no,
         * K = 2 even */
        {2, 1}, {3, 2}, {3, 1}, {6, 5},
        /* U = 1 accepted: uniform(3) = 2 < 1 no, K = 1 */
        {3, 1}, {3, 2},
        /* V: one success (K = 3), then a failure (K = 2): V = 1 */
        {1, 0}, {2, 0}, {3, 2}, {1, 0}, {2, 1},
        /* X = 1 + 3 * 1 = 4, B = 0: +4 */
    };
    static const uint64_t t1[][2] = {
        /* t = 1: B = 0, U = uniform(1) = 0 accepted via uniform(1) < 0,
         * V = 0: result 0 */
        {2, 1}, {1, 0}, {1, 0}, {1, 0}, {2, 1},
    };
    /* clang-format on */
    script s;
    fr_dp_rng *r;

    (void)state;
    r = SCRIPT(s, steps);
    assert_int_equal(fr_dp_dlaplace(r, 3), 4);
    assert_int_equal(s.at, s.len);
    fr_dp_rng_destroy(&r);

    r = SCRIPT(s, t1);
    assert_int_equal(fr_dp_dlaplace(r, 1), 0);
    assert_int_equal(s.at, s.len);
    fr_dp_rng_destroy(&r);
}

static void
test_script_dgauss(void **state)
{
    /* clang-format off */
    /* each pair is one uniform(m) call: {m, value returned} */
    /* sigma2 = 5/2: t = floor(sqrt(5/2)) + 1 = 2,
     * gamma = (2*2*|Y| - 5)^2 / (2*5*2*4) = (4|Y| - 5)^2 / 80 */
    static const uint64_t steps[][2] = {
        /* candidate -3: B = 1; U = 1 accepted (uniform(2) = 1 < 1 no);
         * V = 1 (one success, one failure): X = 1 + 2 = 3 */
        {2, 0}, {2, 1}, {2, 1}, {1, 0}, {2, 0}, {3, 1}, {1, 0}, {2, 1},
        /* gamma = 49/80: uniform(80) = 10 < 49, K = 2;
         * uniform(160) = 100 no: K even, rejected */
        {80, 10}, {160, 100},
        /* candidate +1: B = 0; U = 1 accepted; V = 0 */
        {2, 1}, {2, 1}, {2, 1}, {1, 0}, {2, 1},
        /* gamma = 1/80: uniform(80) = 5 < 1 no: K = 1, accepted */
        {80, 5},
    };
    /* sigma2 = 10 given as 20/2 (reduced to 10/1): t = 4,
     * gamma = (4|Y| - 10)^2 / 320; candidate +2 accepted at once */
    static const uint64_t ten[][2] = {
        {2, 1}, {4, 2}, {4, 3}, {1, 0}, {2, 1}, {320, 4},
    };
    /* clang-format on */
    script s;
    fr_dp_rng *r;
    int64_t y = 0;

    (void)state;
    r = SCRIPT(s, steps);
    assert_int_equal(fr_dp_dgauss(r, 5, 2, &y), FR_OK);
    assert_int_equal(y, 1);
    assert_int_equal(s.at, s.len);
    fr_dp_rng_destroy(&r);

    r = SCRIPT(s, ten);
    assert_int_equal(fr_dp_dgauss(r, 20, 2, &y), FR_OK);
    assert_int_equal(y, 2);
    assert_int_equal(s.at, s.len);
    fr_dp_rng_destroy(&r);
}

static void
test_script_rng(void **state)
{
    static const uint64_t steps[][2] = {{7, 6}, {1000, 999}};
    script s;
    fr_dp_rng *r;

    (void)state;
    r = SCRIPT(s, steps);
    assert_int_equal(fr_dp_rng_uniform(r, 7), 6);
    assert_true(fr_dp_rng_uniform128(r, 1000) == 999);
    assert_int_equal(s.at, s.len);
    fr_dp_rng_destroy(&r);
}

/* ---- the generator itself ---------------------------------------------- */

static void
test_rng(void **state)
{
    uint8_t key[32] = {1};
    fr_dp_rng *a = NULL, *b = NULL, *c = NULL;
    fr_dp_u128 big = ((fr_dp_u128)1 << 100) + 12345;
    long hist[6] = {0}, upper = 0;
    int differ = 0;

    (void)state;
    assert_int_equal(fr_dp_rng_new(&a, key), FR_OK);
    assert_int_equal(fr_dp_rng_new(&b, key), FR_OK);
    assert_int_equal(fr_dp_rng_new(&c, NULL), FR_OK);
    /* same key, same stream, across buffer refills */
    for (int i = 0; i < 5000; i++) {
        uint64_t x = fr_dp_rng_u64(a);

        assert_true(x == fr_dp_rng_u64(b));
        differ += x != fr_dp_rng_u64(c);
    }
    assert_true(differ > 4990);
    for (int i = 0; i < 60000; i++) {
        double u = fr_dp_rng_unit(a);

        assert_true(u >= 0.0 && u < 1.0);
        fr_dp_u128 v = fr_dp_rng_uniform128(a, big);

        assert_true(v < big);
        upper += v >= big / 2;
        assert_true(fr_dp_rng_uniform128(a, 3) < 3);
        assert_true(fr_dp_rng_uniform(a, 1) == 0);
        hist[fr_dp_rng_uniform(a, 6)]++;
    }
    for (int k = 0; k < 6; k++) /* 10000 expected, sd ~91 */
        assert_true(labs(hist[k] - 10000) < 600);
    assert_true(labs(upper - 30000) < 750); /* sd ~122 */
    fr_dp_rng_destroy(&a);
    fr_dp_rng_destroy(&b);
    fr_dp_rng_destroy(&c);
    assert_null(a);
    fr_dp_rng_destroy(&a);
    fr_dp_rng_destroy(NULL);
    assert_int_equal(fr_dp_rng_new(NULL, key), FR_EINVAL);
    assert_int_equal(fr_dp_rng_new_scripted(&a, NULL, NULL), FR_EINVAL);
    assert_int_equal(fr_dp_rng_new_public(&a, NULL, 1), FR_EINVAL);
    assert_int_equal(fr_dp_rng_new_public(NULL, "x", 1), FR_EINVAL);
    assert_int_equal(fr_dp_rng_new_scripted(NULL, script_next, NULL),
                     FR_EINVAL);
    assert_null(a);
}

static void
test_public_rng(void **state)
{
    fr_dp_rng *a = NULL, *b = NULL, *c = NULL, *d = NULL;

    (void)state;
    assert_int_equal(fr_dp_rng_new_public(&a, "x", 5), FR_OK);
    assert_int_equal(fr_dp_rng_new_public(&b, "x", 5), FR_OK);
    assert_int_equal(fr_dp_rng_new_public(&c, "x", 6), FR_OK);
    assert_int_equal(fr_dp_rng_new_public(&d, "y", 5), FR_OK);
    for (int i = 0; i < 4; i++) {
        uint64_t v = fr_dp_rng_u64(a);

        assert_true(v == fr_dp_rng_u64(b));
        assert_true(v != fr_dp_rng_u64(c));
        assert_true(v != fr_dp_rng_u64(d));
    }
    fr_dp_rng_destroy(&a);
    fr_dp_rng_destroy(&b);
    fr_dp_rng_destroy(&c);
    fr_dp_rng_destroy(&d);
}

static void
test_dgauss_refuses(void **state)
{
    fr_dp_rng *r = keyed(9);
    fr_dp_dgauss_plan plan;
    int64_t y = 77;

    (void)state;
    assert_int_equal(fr_dp_dgauss(r, 0, 1, &y), FR_EINVAL);
    assert_int_equal(fr_dp_dgauss(r, 1, 0, &y), FR_EINVAL);
    assert_int_equal(fr_dp_dgauss(NULL, 1, 1, &y), FR_EINVAL);
    assert_int_equal(fr_dp_dgauss(r, 1, 1, NULL), FR_EINVAL);
    /* sigma above 2^26 */
    assert_int_equal(fr_dp_dgauss(r, FR_DP_DGAUSS_MAX_SIGMA2 + 1, 1, &y),
                     FR_EINVAL);
    assert_int_equal(fr_dp_dgauss(r, 2 * FR_DP_DGAUSS_MAX_SIGMA2 + 1, 2, &y),
                     FR_EINVAL);
    /* den * t^2 >= 2^54: too fine a fraction for 128-bit arithmetic */
    assert_int_equal(fr_dp_dgauss(r, 1, (uint64_t)1 << 54, &y), FR_EINVAL);
    assert_int_equal(
        fr_dp_dgauss(r, ((uint64_t)1 << 55) + 1, (uint64_t)1 << 35, &y),
        FR_EINVAL);
    assert_int_equal(y, 77);
    assert_int_equal(fr_dp_dgauss_plan_init(NULL, 1, 1), FR_EINVAL);
    /* the edges are accepted; a reducible fraction is reduced first */
    assert_int_equal(fr_dp_dgauss(r, FR_DP_DGAUSS_MAX_SIGMA2, 1, &y), FR_OK);
    assert_int_equal(fr_dp_dgauss(r, 2 * FR_DP_DGAUSS_MAX_SIGMA2, 2, &y),
                     FR_OK);
    assert_int_equal(
        fr_dp_dgauss_plan_init(&plan, (uint64_t)1 << 60, (uint64_t)1 << 60),
        FR_OK);
    assert_true(plan.num == 1 && plan.den == 1 && plan.t == 2);
    assert_int_equal(fr_dp_dgauss_plan_init(&plan, FR_DP_DGAUSS_MAX_SIGMA2, 1),
                     FR_OK);
    assert_true(plan.t == ((uint64_t)1 << 26) + 1);
    assert_int_equal(fr_dp_dgauss_plan_init(&plan, 12345, 7), FR_OK);
    assert_true(plan.t == 42); /* sqrt(1763.57) = 41.99 */
    fr_dp_rng_destroy(&r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rng),
        cmocka_unit_test(test_public_rng),
        cmocka_unit_test(test_gamma_q),
        cmocka_unit_test(test_script_rng),
        cmocka_unit_test(test_script_bernoulli),
        cmocka_unit_test(test_script_dlaplace),
        cmocka_unit_test(test_script_dgauss),
        cmocka_unit_test(test_dgauss_refuses),
        cmocka_unit_test(test_bernoulli_exp_freq),
        cmocka_unit_test(test_dlaplace_pmf),
        cmocka_unit_test(test_dgauss_pmf),
        cmocka_unit_test(test_dgauss_moments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
