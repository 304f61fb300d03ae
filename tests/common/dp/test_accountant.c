/*
 * test_accountant.c - the Renyi-DP accountant against tests/vectors/dp/
 * (tolerances of DP.md section 8): every row of rdp_gaussian_orders.csv
 * (per-order Gaussian RDP, inf entries included), rdp_gaussian.csv (end to
 * end on the default and the integer orders; never below the PLD epsilon),
 * rdp_conversion.csv (epsilon and delta) and ddg_epsilon.csv (scale
 * heuristic, k, inflated sensitivities with conditional rounding, tau, DDG
 * and Skellam epsilon and order). Then properties with no vectors:
 * monotonicity in T, q, z and n; the dropout_design40 round design; the
 * planning inverse; refusal of bad inputs; and fedrec-ctl privacy, whose
 * output must be the library's numbers to the last bit.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "dp/accountant.h"

#define VEC(name) FR_TEST_VECTORS_DIR "/dp/" name
#define CTL       FR_BIN_DIR "/fedrec-ctl"
#define MAX_COLS  40
#define MAX_ROWS  2000

/* ---- a small CSV reader (header line, comma-separated, no quoting) ---- */

typedef struct csv {
    char *text;
    char *head[MAX_COLS];
    size_t ncols, nrows;
    char **cells; /* nrows * ncols */
} csv;

static size_t
split(char *line, char **out, size_t max)
{
    size_t n = 0;

    for (char *p = line;; p++) {
        if (n < max)
            out[n] = p;
        n++;
        p += strcspn(p, ",");
        if (*p != ',')
            break;
        *p = 0;
    }
    return n;
}

/* Some vector files end their lines with CRLF. */
static void
chomp(char *line)
{
    size_t n = strlen(line);
    if (n && line[n - 1] == '\r')
        line[n - 1] = 0;
}

static csv *
csv_load(const char *path)
{
    csv *c = calloc(1, sizeof *c);
    FILE *f = fopen(path, "rb");
    long len;
    char *line, *next;

    assert_non_null(c);
    if (!f)
        fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    rewind(f);
    c->text = calloc((size_t)len + 1, 1);
    c->cells = calloc(MAX_ROWS * MAX_COLS, sizeof *c->cells);
    assert_non_null(c->text);
    assert_non_null(c->cells);
    assert_int_equal(fread(c->text, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    line = c->text;
    next = strchr(line, '\n');
    assert_non_null(next);
    *next = 0;
    chomp(line);
    c->ncols = split(line, c->head, MAX_COLS);
    assert_true(c->ncols <= MAX_COLS);
    for (line = next + 1; *line; line = next + 1) {
        next = line + strcspn(line, "\n");
        int last = *next == 0;
        *next = 0;
        chomp(line);
        if (*line) {
            assert_true(c->nrows < MAX_ROWS);
            assert_int_equal(
                split(line, c->cells + c->nrows * c->ncols, c->ncols),
                c->ncols);
            c->nrows++;
        }
        if (last)
            break;
    }
    return c;
}

static void
csv_free(csv *c)
{
    free(c->cells);
    free(c->text);
    free(c);
}

static const char *
cell(const csv *c, size_t row, const char *col)
{
    for (size_t j = 0; j < c->ncols; j++)
        if (strcmp(c->head[j], col) == 0)
            return c->cells[row * c->ncols + j];
    fail_msg("no column %s", col);
    return NULL;
}

/* The number in a cell (Python repr; "inf" is +infinity); NaN if empty. */
static double
num(const csv *c, size_t row, const char *col)
{
    const char *s = cell(c, row, col);
    char *end;
    double v;

    if (!*s)
        return NAN;
    v = strtod(s, &end);
    if (*end)
        fail_msg("row %zu column %s: '%s' is not a number", row, col, s);
    return v;
}

/* |got - ref| <= tol |ref|; an infinite ref needs the same infinity and a
 * zero ref an exact zero. Reports the worst relative error seen. */
static int
close_rel(double got, double ref, double tol, double *worst)
{
    double e;

    if (isinf(ref) || ref == 0)
        return got == ref;
    e = fabs(got - ref) / fabs(ref);
    if (worst && e > *worst)
        *worst = e;
    return e <= tol;
}

static void
int_orders(fr_dp_orders *o)
{
    static const double tail[] = {128, 256, 512, 1024};

    o->n = 0;
    for (int a = 2; a < 64; a++)
        o->a[o->n++] = a;
    for (size_t i = 0; i < 4; i++)
        o->a[o->n++] = tail[i];
}

static void
test_orders(void **state)
{
    fr_dp_orders o;

    (void)state;
    fr_dp_orders_default(&o);
    assert_int_equal(o.n, 156);
    assert_true(o.a[0] == 1.1 && o.a[9] == 2.0 && o.a[98] == 10.9);
    assert_true(o.a[99] == 11 && o.a[151] == 63 && o.a[155] == 1024);
    fr_dp_orders_ddg(&o);
    assert_int_equal(o.n, 128);
    assert_true(o.a[0] == 2 && o.a[126] == 128 && o.a[127] == 256);
}

/* ---- vectors ---- */

static void
test_rdp_gaussian_orders(void **state)
{
    csv *c = csv_load(VEC("rdp_gaussian_orders.csv"));
    fr_dp_orders o;
    size_t bad = 0, infs = 0;
    double worst = 0;

    (void)state;
    fr_dp_orders_default(&o);
    assert_int_equal(c->nrows, 1560);
    for (size_t r = 0; r < c->nrows; r++) {
        double z = num(c, r, "noise_multiplier");
        double q = num(c, r, "sampling_rate"), a = num(c, r, "order");
        double ref = num(c, r, "rdp"), got = fr_dp_rdp_gaussian(q, z, a);
        assert_true(a == o.a[r % o.n]); /* the grid, bit for bit */
        infs += isinf(ref);
        if (!close_rel(got, ref, 1e-9, &worst)) {
            if (bad++ < 10)
                print_message("orders row %zu z %g q %g a %g: %.17g vs "
                              "%.17g\n",
                              r + 2, z, q, a, got, ref);
        }
    }
    print_message("rdp_gaussian_orders: %zu rows, %zu inf, worst rel %.3g\n",
                  c->nrows, infs, worst);
    assert_int_equal(infs, 13);
    assert_int_equal(bad, 0);
    csv_free(c);
}

/* eps (and its order) of steps * the Gaussian curve on o at delta. */
static void
gaussian_eps(double q, double z, uint64_t steps, double delta,
             const fr_dp_orders *o, double *eps, double *order)
{
    double rdp[FR_DP_MAX_ORDERS];

    assert_int_equal(fr_dp_rdp_gaussian_curve(q, z, steps, o, rdp), FR_OK);
    assert_int_equal(fr_dp_epsilon(o, rdp, delta, eps, order), FR_OK);
}

/* Orders differ only on a tie: then eps must match at both orders. */
static int
order_matches(double q, double z, uint64_t steps, double delta,
              double got_order, double ref_order, double ref_eps)
{
    fr_dp_orders one = {{ref_order}, 1};
    double e;

    if (got_order == ref_order)
        return 1;
    gaussian_eps(q, z, steps, delta, &one, &e, NULL);
    return close_rel(e, ref_eps, 1e-9, NULL);
}

static void
test_rdp_gaussian(void **state)
{
    csv *c = csv_load(VEC("rdp_gaussian.csv"));
    fr_dp_orders def, ints;
    size_t bad = 0;
    double worst = 0;

    (void)state;
    fr_dp_orders_default(&def);
    int_orders(&ints);
    assert_true(c->nrows > 0);
    for (size_t r = 0; r < c->nrows; r++) {
        double z = num(c, r, "noise_multiplier");
        double q = num(c, r, "sampling_rate"), d = num(c, r, "delta");
        uint64_t t = (uint64_t)num(c, r, "steps");
        double e, a, ei, ai, ref = num(c, r, "epsilon");
        double refi = num(c, r, "epsilon_int_orders");

        gaussian_eps(q, z, t, d, &def, &e, &a);
        gaussian_eps(q, z, t, d, &ints, &ei, &ai);
        if (!close_rel(e, ref, 1e-9, &worst) ||
            !close_rel(ei, refi, 1e-9, &worst) ||
            !order_matches(q, z, t, d, a, num(c, r, "rdp_optimal_order"),
                           ref) ||
            !order_matches(q, z, t, d, ai, num(c, r, "int_optimal_order"),
                           refi) ||
            !(e >= num(c, r, "pld_epsilon") * (1 - 1e-3))) {
            bad++;
            print_message("gaussian row %zu: eps %.17g order %g, int %.17g "
                          "order %g\n",
                          r + 2, e, a, ei, ai);
        }
    }
    print_message("rdp_gaussian: %zu rows, worst rel %.3g\n", c->nrows, worst);
    assert_int_equal(bad, 0);
    csv_free(c);
}

/* log delta to 1e-9 relative; a ref of 0 means an underflow. */
static int
delta_matches(double got, double ref)
{
    if (ref == 0)
        return got <= 1e-300;
    return got > 0 && close_rel(log(got), log(ref), 1e-9, NULL);
}

static void
test_conversion(void **state)
{
    csv *c = csv_load(VEC("rdp_conversion.csv"));
    fr_dp_orders o;
    size_t bad = 0;

    (void)state;
    fr_dp_orders_default(&o);
    assert_true(c->nrows > 0);
    for (size_t r = 0; r < c->nrows; r++) {
        double rho = num(c, r, "rho_zcdp"), rdp[FR_DP_MAX_ORDERS];
        double e, a, dl, da;

        for (size_t i = 0; i < o.n; i++)
            rdp[i] = rho * o.a[i];
        assert_int_equal(fr_dp_epsilon(&o, rdp, num(c, r, "delta"), &e, &a),
                         FR_OK);
        assert_int_equal(
            fr_dp_delta(&o, rdp, num(c, r, "target_epsilon"), &dl, &da), FR_OK);
        if (!close_rel(e, num(c, r, "epsilon"), 1e-12, NULL) ||
            a != num(c, r, "optimal_order") ||
            !delta_matches(dl, num(c, r, "delta_at_target")) ||
            da != num(c, r, "delta_optimal_order")) {
            bad++;
            print_message("conversion row %zu: eps %.17g order %g delta "
                          "%.17g order %g\n",
                          r + 2, e, a, dl, da);
        }
    }
    assert_int_equal(bad, 0);
    csv_free(c);
}

/* The DDG mechanism of one ddg_epsilon.csv row, sensitivities from its
 * scale, clip, beta and dim. */
static fr_dp_ddg
ddg_row(const csv *c, size_t r)
{
    fr_dp_ddg m;

    m.n_shares = (uint32_t)num(c, r, "num_noise_shares");
    m.dim = (uint64_t)num(c, r, "dim");
    m.sigma_scaled = num(c, r, "local_stddev_scaled");
    m.q = num(c, r, "sampling_rate");
    assert_int_equal(fr_dp_inflated_sens_beta(
                         num(c, r, "scale"), num(c, r, "l2_clip"),
                         num(c, r, "beta"), m.dim, &m.l2_sens, &m.l1_sens),
                     FR_OK);
    return m;
}

static void
ddg_eps(const fr_dp_ddg *m, int skellam, uint64_t steps, double delta,
        double *eps, double *order)
{
    fr_dp_orders o;
    double rdp[FR_DP_MAX_ORDERS];

    fr_dp_orders_ddg(&o);
    if (skellam)
        assert_int_equal(fr_dp_rdp_skellam(m, &o, rdp), FR_OK);
    else
        assert_int_equal(fr_dp_rdp_ddg(m, &o, rdp), FR_OK);
    for (size_t i = 0; i < o.n; i++)
        rdp[i] *= (double)steps;
    assert_int_equal(fr_dp_epsilon(&o, rdp, delta, eps, order), FR_OK);
}

static int
ddg_row_ok(const csv *c, size_t r, double *worst)
{
    fr_dp_ddg m = ddg_row(c, r);
    uint64_t t = (uint64_t)num(c, r, "steps");
    double d = num(c, r, "delta"), e, a, se, sa, l2, l1;
    double tau = fr_dp_ddg_tau(m.sigma_scaled, m.n_shares);
    int ok = 1;

    if (!isnan(num(c, r, "bits"))) {
        double k = fr_dp_k_stddevs(num(c, r, "modclip_prob"));
        ok &= close_rel(k, num(c, r, "k_stddevs"), 1e-12, NULL);
        ok &=
            close_rel(fr_dp_scale_heuristic((unsigned)num(c, r, "bits"),
                                            m.n_shares, num(c, r, "k_stddevs"),
                                            num(c, r, "signal_l2_bound"), m.dim,
                                            num(c, r, "local_stddev")),
                      num(c, r, "scale_heuristic"), 1e-12, worst);
    }
    if (num(c, r, "beta") == 0) { /* the production formula agrees */
        fr_dp_inflated_sens(num(c, r, "scale"), num(c, r, "l2_clip"), m.dim,
                            &l2, &l1);
        ok &= l2 == m.l2_sens && l1 == m.l1_sens;
    }
    ok &= close_rel(m.l2_sens, num(c, r, "l2_sens_scaled"), 1e-12, worst);
    ok &= close_rel(m.l1_sens, num(c, r, "l1_sens_scaled"), 1e-12, worst);
    ok &= close_rel(tau, num(c, r, "tau"), 1e-9, worst);
    ddg_eps(&m, 0, t, d, &e, &a);
    ddg_eps(&m, 1, t, d, &se, &sa);
    ok &= close_rel(e, num(c, r, "ddg_epsilon"), 1e-9, worst);
    ok &= a == num(c, r, "ddg_order");
    ok &= close_rel(se, num(c, r, "skellam_epsilon"), 1e-9, worst);
    ok &= sa == num(c, r, "skellam_order");
    if (!ok)
        print_message("ddg row %zu (%s): tau %.17g l2 %.17g l1 %.17g eps "
                      "%.17g order %g skellam %.17g order %g\n",
                      r + 2, cell(c, r, "scenario"), tau, m.l2_sens, m.l1_sens,
                      e, a, se, sa);
    return ok;
}

static void
test_ddg_vectors(void **state)
{
    csv *c = csv_load(VEC("ddg_epsilon.csv"));
    size_t bad = 0, with_beta = 0;
    double worst = 0;

    (void)state;
    assert_true(c->nrows > 0);
    for (size_t r = 0; r < c->nrows; r++) {
        with_beta += num(c, r, "beta") > 0;
        bad += !ddg_row_ok(c, r, &worst);
    }
    print_message("ddg_epsilon: %zu rows (%zu with beta > 0), worst rel "
                  "%.3g\n",
                  c->nrows, with_beta, worst);
    assert_int_equal(bad, 0);
    csv_free(c);
}

/* ---- properties ---- */

static void
test_monotone_gaussian(void **state)
{
    fr_dp_orders o;
    double prev, e;

    (void)state;
    fr_dp_orders_default(&o);
    prev = 0;
    for (uint64_t t = 1; t <= 10000; t *= 10) { /* up with T */
        gaussian_eps(0.05, 1.1, t, 1e-6, &o, &e, NULL);
        assert_true(e > prev);
        prev = e;
    }
    prev = 0;
    for (double q = 0.001; q <= 1; q *= 3) { /* up with q */
        gaussian_eps(q, 1.5, 100, 1e-6, &o, &e, NULL);
        assert_true(e > prev);
        prev = e;
    }
    prev = INFINITY;
    for (double z = 0.6; z < 50; z *= 1.7) { /* down with z */
        gaussian_eps(0.1, z, 100, 1e-6, &o, &e, NULL);
        assert_true(e < prev);
        prev = e;
    }
}

static void
test_monotone_ddg(void **state)
{
    fr_dp_ddg m = {10, 1u << 16, 2.0e3, 0, 0, 1.0};
    double prev = INFINITY, e;

    (void)state;
    fr_dp_inflated_sens(1.0e4, 1.0, m.dim, &m.l2_sens, &m.l1_sens);
    for (m.n_shares = 1; m.n_shares <= 64; m.n_shares *= 2) { /* down, n */
        ddg_eps(&m, 0, 10, 1e-6, &e, NULL);
        assert_true(e < prev);
        prev = e;
    }
    m.n_shares = 20;
    prev = 0;
    for (m.q = 0.01; m.q < 1; m.q *= 2.5) { /* up with q */
        ddg_eps(&m, 0, 10, 1e-6, &e, NULL);
        assert_true(e > prev);
        prev = e;
    }
    m.q = 1;
    prev = INFINITY;
    for (m.sigma_scaled = 500; m.sigma_scaled < 1e5; m.sigma_scaled *= 2) {
        ddg_eps(&m, 0, 10, 1e-6, &e, NULL); /* down with the noise */
        assert_true(e < prev);
        prev = e;
    }
}

/* A small sigma makes tau positive; tau is 0 for one share. */
static void
test_tau(void **state)
{
    (void)state;
    assert_true(fr_dp_ddg_tau(0.5, 1) == 0);
    assert_true(fr_dp_ddg_tau(100, 1000) == 0);
    assert_true(fabs(fr_dp_ddg_tau(0.3, 2) - 10 * exp(-M_PI * M_PI * 0.09)) <
                1e-15);
    assert_true(fr_dp_ddg_tau(0.3, 3) > fr_dp_ddg_tau(0.3, 2));
}

static fr_dp_design_in
design40(void)
{
    fr_dp_design_in in = {1.0, 8.0, 50, 8, 2, 1000000, 500000.0, 2e-9, 1.0};
    return in;
}

static double
design_eps(const fr_dp_design *d, uint32_t survivors)
{
    fr_dp_design dd = *d;
    fr_dp_orders o;
    double rdp[FR_DP_MAX_ORDERS], e;

    dd.n_target = survivors; /* what the sum holds when survivors remain */
    fr_dp_orders_ddg(&o);
    assert_int_equal(fr_dp_design_rdp(&dd, 1.0, &o, rdp), FR_OK);
    for (size_t i = 0; i < o.n; i++)
        rdp[i] *= 50;
    assert_int_equal(fr_dp_epsilon(&o, rdp, 1e-7, &e, NULL), FR_OK);
    return e;
}

static void
test_design(void **state)
{
    fr_dp_design_in in = design40();
    fr_dp_design d;
    char err[200] = "";
    double sl = 8 / sqrt(40), s2;

    (void)state;
    assert_int_equal(fr_dp_design_round(&in, &d, err, sizeof err), FR_OK);
    assert_true(d.dim == 1u << 20);
    assert_int_equal(d.n_target, 40);
    assert_int_equal(d.secagg_t_min, 42);
    assert_true(fabs(d.k - 5.997807015007687) < 1e-12);
    assert_true(fabs(d.sigma_local - sl) < 1e-15);
    /* s for 50 shares, the most the sum can hold */
    assert_true(fabs(d.scale / 733152.7700003054 - 1) < 1e-12);
    s2 = (d.scale * sl) * (d.scale * sl);
    assert_true((double)d.sigma2_int >= s2 && (double)d.sigma2_int < s2 + 1);
    assert_true(fabs(d.sigma2_int / 8.6e11 - 1) < 0.01);
    assert_true(fabs(d.l2_sens - (d.scale * (1 + 1e-6) + 1024)) < 1e-6);
    assert_true(d.l1_sens == d.l2_sens * 1024);
    assert_true(fabs(d.inflation - 1024 / d.scale) < 1e-18);
    assert_true(d.inflation < 0.0015);
    print_message("design40: s %.10g sigma2_int %llu eps(40) %.6f "
                  "eps(50) %.6f\n",
                  d.scale, (unsigned long long)d.sigma2_int, design_eps(&d, 40),
                  design_eps(&d, 50));
    assert_true(fabs(design_eps(&d, 40) - 4.95) < 0.005);
    assert_true(fabs(design_eps(&d, 50) - 4.38) < 0.005);
    assert_true(design_eps(&d, 30) > design_eps(&d, 40));
}

static void
test_design_refused(void **state)
{
    fr_dp_design_in in = design40();
    fr_dp_design d, keep;
    char err[200];

    (void)state;
    memset(&d, 0x5a, sizeof d);
    keep = d;
    in.t_drop = 40;
    in.t_collude = 10; /* n_target = 0 */
    err[0] = 0;
    assert_int_equal(fr_dp_design_round(&in, &d, err, sizeof err), FR_EINVAL);
    assert_non_null(strstr(err, "n_target"));
    assert_memory_equal(&d, &keep, sizeof d);
    in = design40();
    in.signal_l2 = 1e12; /* s collapses: sqrt(d)/(s C) way above 1 % */
    err[0] = 0;
    assert_int_equal(fr_dp_design_round(&in, &d, err, sizeof err), FR_EINVAL);
    assert_non_null(strstr(err, "inflation"));
    in = design40();
    in.p_wrap = 0;
    assert_int_equal(fr_dp_design_round(&in, &d, err, sizeof err), FR_EINVAL);
    in = design40();
    in.clip = NAN;
    assert_int_equal(fr_dp_design_round(&in, &d, NULL, 0), FR_EINVAL);
    in = design40();
    in.q = 0;
    assert_int_equal(fr_dp_design_round(&in, &d, err, sizeof err), FR_EINVAL);
    assert_memory_equal(&d, &keep, sizeof d);
    /* a noise level whose sigma_local * s exceeds 2^26 is capped */
    in = design40();
    in.noise_multiplier = 1e4;
    in.signal_l2 = 1;
    in.model_params = 1000;
    assert_int_equal(fr_dp_design_round(&in, &d, err, sizeof err), FR_OK);
    assert_true(d.sigma_local * d.scale <= FR_DP_SIGMA_SCALED_MAX * 1.0000001);
    assert_true(d.sigma2_int <= (uint64_t)1 << 52);
}

static void
check_inverse(double q, uint64_t steps, double delta, double target)
{
    fr_dp_orders o;
    double z, e, e_less;

    fr_dp_orders_default(&o);
    assert_int_equal(fr_dp_gaussian_noise_for(q, steps, delta, target, &z),
                     FR_OK);
    gaussian_eps(q, z, steps, delta, &o, &e, NULL);
    gaussian_eps(q, z * (1 - 1e-5), steps, delta, &o, &e_less, NULL);
    print_message("inverse q %g T %llu: z %.10g eps %.10g (%.10g below)\n", q,
                  (unsigned long long)steps, z, e, e_less);
    assert_true(e <= target);
    assert_true(e_less > target);
}

static void
test_inverse(void **state)
{
    double z = 7;

    (void)state;
    check_inverse(1.0, 50, 1e-7, 4.94);
    check_inverse(0.01, 2000, 1e-7, 3.0);
    check_inverse(0.1, 500, 1e-6, 1.0);
    assert_int_equal(fr_dp_gaussian_noise_for(1.0, 1, 1e-9, 1e-12, &z),
                     FR_ELIMIT); /* would need z > 1e7 */
    assert_int_equal(fr_dp_gaussian_noise_for(0.5, 10, 1e-5, 0, &z), FR_EINVAL);
    assert_int_equal(fr_dp_gaussian_noise_for(0, 10, 1e-5, 1, &z), FR_EINVAL);
    assert_int_equal(fr_dp_gaussian_noise_for(0.5, 0, 1e-5, 1, &z), FR_EINVAL);
    assert_int_equal(fr_dp_gaussian_noise_for(0.5, 10, 1, 1, &z), FR_EINVAL);
    assert_true(z == 7);
}

static void
test_bad_inputs(void **state)
{
    fr_dp_orders o, one = {{1.5}, 1};
    fr_dp_ddg m = {10, 1024, 100, 0, 0, 0.5};
    double rdp[FR_DP_MAX_ORDERS] = {0}, e = 7, a = 7;

    (void)state;
    fr_dp_inflated_sens(1000, 1, m.dim, &m.l2_sens, &m.l1_sens);
    fr_dp_orders_default(&o);
    assert_int_equal(fr_dp_rdp_ddg(&m, &o, rdp), FR_EINVAL); /* q<1, 1.1 */
    assert_true(rdp[0] == 0);
    m.q = 1;
    assert_int_equal(fr_dp_rdp_ddg(&m, &one, rdp), FR_OK); /* fine at q=1 */
    m.n_shares = 0;
    assert_int_equal(fr_dp_rdp_ddg(&m, &one, rdp), FR_EINVAL);
    m.n_shares = FR_DP_MAX_SHARES + 1;
    assert_int_equal(fr_dp_rdp_ddg(&m, &one, rdp), FR_EINVAL);
    m.n_shares = 3;
    m.sigma_scaled = 0;
    assert_int_equal(fr_dp_rdp_skellam(&m, &one, rdp), FR_EINVAL);
    assert_true(isnan(fr_dp_rdp_gaussian(1.5, 1, 2)));
    assert_true(isnan(fr_dp_rdp_gaussian(0.5, -1, 2)));
    assert_true(isnan(fr_dp_rdp_gaussian(0.5, 1, 1)));
    assert_true(isnan(fr_dp_rdp_gaussian(0.5, 1, NAN)));
    assert_true(fr_dp_rdp_gaussian(0, 1, 2) == 0);
    /* the largest order: i * i overflows an int there */
    assert_true(fr_dp_rdp_gaussian(0.01, 2, FR_DP_ORDER_MAX) >
                fr_dp_rdp_gaussian(0.01, 2, 1024));
    assert_true(isfinite(fr_dp_rdp_gaussian(0.01, 2, FR_DP_ORDER_MAX)));
    assert_true(isnan(fr_dp_rdp_gaussian(0.01, 2, FR_DP_ORDER_MAX + 1)));
    assert_true(isinf(fr_dp_rdp_gaussian(0.5, 0, 2)));
    rdp[0] = NAN;
    assert_int_equal(fr_dp_epsilon(&one, rdp, 1e-5, &e, &a), FR_EINVAL);
    rdp[0] = 1;
    assert_int_equal(fr_dp_epsilon(&one, rdp, 1.5, &e, &a), FR_EINVAL);
    assert_int_equal(fr_dp_epsilon(&one, rdp, -1, &e, &a), FR_EINVAL);
    assert_int_equal(fr_dp_delta(&one, rdp, -1, &e, &a), FR_EINVAL);
    o.n = 0;
    assert_int_equal(fr_dp_epsilon(&o, rdp, 1e-5, &e, &a), FR_EINVAL);
    assert_true(e == 7 && a == 7);
    /* delta = 0: finite only for a zero curve */
    assert_int_equal(fr_dp_epsilon(&one, rdp, 0, &e, &a), FR_OK);
    assert_true(isinf(e));
    rdp[0] = 0;
    assert_int_equal(fr_dp_epsilon(&one, rdp, 0, &e, &a), FR_OK);
    assert_true(e == 0);
    /* an infinite curve is no guarantee */
    rdp[0] = INFINITY;
    assert_int_equal(fr_dp_epsilon(&one, rdp, 1e-5, &e, &a), FR_OK);
    assert_true(isinf(e));
    assert_int_equal(fr_dp_delta(&one, rdp, 1, &e, &a), FR_OK);
    assert_true(e == 1);
    assert_true(isnan(fr_dp_k_stddevs(0)) && isnan(fr_dp_k_stddevs(2)));
    assert_true(fabs(fr_dp_k_stddevs(1)) < 1e-15);
    assert_true(fabs(fr_dp_k_stddevs(1.5) + fr_dp_k_stddevs(0.5)) < 1e-14);
    assert_true(isnan(fr_dp_scale_heuristic(2, 100, 4, 1, 16, 1)));
    assert_int_equal(fr_dp_inflated_sens_beta(1, 1, 1, 16, &e, &a), FR_EINVAL);
}

/* ---- fedrec-ctl privacy ---- */

/* Runs fedrec-ctl with args; stdout (and stderr) into out; exit status. */
static int
ctl(const char *args, char *out, size_t cap)
{
    char cmd[1024];
    FILE *p;
    size_t n;
    int st;

    snprintf(cmd, sizeof cmd, "%s %s 2>&1", CTL, args);
    p = popen(cmd, "r");
    assert_non_null(p);
    n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    st = pclose(p);
    assert_true(WIFEXITED(st));
    return WEXITSTATUS(st);
}

/* The number after "key": in a JSON text; fails if absent. */
static double
json_num(const char *json, const char *key)
{
    char pat[64];
    const char *p;
    char *end;
    double v;

    snprintf(pat, sizeof pat, "\"%s\": ", key);
    p = strstr(json, pat);
    if (!p)
        fail_msg("no %s in %s", key, json);
    v = strtod(p + strlen(pat), &end);
    assert_true(end != p + strlen(pat));
    return v;
}

static void
test_ctl_gaussian(void **state)
{
    csv *c = csv_load(VEC("rdp_gaussian.csv"));
    fr_dp_orders o;
    char out[4096], args[512];

    (void)state;
    fr_dp_orders_default(&o);
    for (size_t r = 0; r < c->nrows && r < 6; r++) {
        double e, a;
        snprintf(args, sizeof args,
                 "privacy epsilon --mechanism gaussian --noise-multiplier %s "
                 "--sampling-rate %s --steps %s --delta %s",
                 cell(c, r, "noise_multiplier"), cell(c, r, "sampling_rate"),
                 cell(c, r, "steps"), cell(c, r, "delta"));
        assert_int_equal(ctl(args, out, sizeof out), 0);
        gaussian_eps(num(c, r, "sampling_rate"), num(c, r, "noise_multiplier"),
                     (uint64_t)num(c, r, "steps"), num(c, r, "delta"), &o, &e,
                     &a);
        assert_true(json_num(out, "epsilon") == e);
        assert_true(json_num(out, "order") == a);
        assert_true(close_rel(e, num(c, r, "epsilon"), 1e-9, NULL));
        assert_non_null(strstr(out, "\"mechanism\": \"gaussian\""));
    }
    csv_free(c);
}

static void
test_ctl_ddg(void **state)
{
    csv *c = csv_load(VEC("ddg_epsilon.csv"));
    char out[4096], args[768];

    (void)state;
    for (size_t r = 0; r < c->nrows; r++) {
        fr_dp_ddg m;
        double e, a;
        if (num(c, r, "beta") != 0 && r % 3)
            continue; /* a few rows are enough */
        m.n_shares = (uint32_t)num(c, r, "num_noise_shares");
        m.dim = (uint64_t)num(c, r, "dim");
        m.sigma_scaled = num(c, r, "local_stddev_scaled");
        m.l2_sens = num(c, r, "l2_sens_scaled");
        m.l1_sens = num(c, r, "l1_sens_scaled");
        m.q = num(c, r, "sampling_rate");
        snprintf(args, sizeof args,
                 "privacy epsilon --mechanism ddg --num-noise-shares %s "
                 "--dim %s --local-stddev-scaled %s --l2-sens-scaled %s "
                 "--l1-sens-scaled %s --sampling-rate %s --steps %s "
                 "--delta %s",
                 cell(c, r, "num_noise_shares"), cell(c, r, "dim"),
                 cell(c, r, "local_stddev_scaled"),
                 cell(c, r, "l2_sens_scaled"), cell(c, r, "l1_sens_scaled"),
                 cell(c, r, "sampling_rate"), cell(c, r, "steps"),
                 cell(c, r, "delta"));
        assert_int_equal(ctl(args, out, sizeof out), 0);
        ddg_eps(&m, 0, (uint64_t)num(c, r, "steps"), num(c, r, "delta"), &e,
                &a);
        assert_true(json_num(out, "epsilon") == e);
        assert_true(json_num(out, "order") == a);
        assert_true(a == num(c, r, "ddg_order"));
        assert_true(close_rel(e, num(c, r, "ddg_epsilon"), 1e-9, NULL));
        assert_true(json_num(out, "tau") ==
                    fr_dp_ddg_tau(m.sigma_scaled, m.n_shares));
    }
    csv_free(c);
}

static void
test_ctl_noise(void **state)
{
    char out[4096];
    double z, e;
    fr_dp_orders o;

    (void)state;
    fr_dp_orders_default(&o);
    assert_int_equal(ctl("privacy noise --mechanism gaussian --epsilon 3 "
                         "--sampling-rate 0.01 --steps 2000 --delta 1e-7",
                         out, sizeof out),
                     0);
    assert_int_equal(fr_dp_gaussian_noise_for(0.01, 2000, 1e-7, 3, &z), FR_OK);
    assert_true(json_num(out, "noise_multiplier") == z);
    gaussian_eps(0.01, z, 2000, 1e-7, &o, &e, NULL);
    assert_true(json_num(out, "epsilon") == e);
    assert_true(e <= 3);
}

/* Bad usage: exit 2 and a message naming the problem. */
static void
expect_usage(const char *args, const char *msg)
{
    char out[4096];
    int rc = ctl(args, out, sizeof out);

    if (rc != 2 || !strstr(out, msg))
        fail_msg("'%s': exit %d, output '%s' (wanted '%s')", args, rc, out,
                 msg);
}

static void
test_ctl_usage(void **state)
{
    (void)state;
    expect_usage("privacy epsilon --noise-multiplier 1 --sampling-rate 1 "
                 "--steps 1 --delta 1e-5",
                 "--mechanism");
    expect_usage("privacy epsilon --mechanism laplace", "laplace");
    expect_usage("privacy epsilon --mechanism gaussian --sampling-rate 1 "
                 "--steps 1 --delta 1e-5",
                 "missing --noise-multiplier");
    expect_usage("privacy epsilon --mechanism gaussian --noise-multiplier x "
                 "--sampling-rate 1 --steps 1 --delta 1e-5",
                 "--noise-multiplier");
    expect_usage("privacy epsilon --mechanism gaussian --noise-multiplier 1 "
                 "--sampling-rate 1.5 --steps 1 --delta 1e-5",
                 "--sampling-rate");
    expect_usage("privacy epsilon --mechanism gaussian --noise-multiplier 1 "
                 "--sampling-rate 1 --steps 0 --delta 1e-5",
                 "--steps");
    expect_usage("privacy epsilon --mechanism gaussian --noise-multiplier 1 "
                 "--sampling-rate 1 --steps 2.5 --delta 1e-5",
                 "--steps");
    expect_usage("privacy epsilon --mechanism gaussian --noise-multiplier 1 "
                 "--sampling-rate 1 --steps 1 --delta 1",
                 "--delta");
    expect_usage("privacy epsilon --mechanism gaussian --noise-multiplier 1 "
                 "--sampling-rate 1 --steps 1 --delta 1e-5 --dim 4",
                 "--dim");
    expect_usage("privacy epsilon --mechanism gaussian --noise-multiplier 1 "
                 "--noise-multiplier 2 --sampling-rate 1 --steps 1 "
                 "--delta 1e-5",
                 "twice");
    expect_usage("privacy epsilon --mechanism gaussian --noise-multiplier",
                 "--noise-multiplier");
    expect_usage("privacy epsilon --mechanism ddg --num-noise-shares 0 "
                 "--dim 4 --local-stddev-scaled 1 --l2-sens-scaled 1 "
                 "--l1-sens-scaled 1 --sampling-rate 1 --steps 1 "
                 "--delta 1e-5",
                 "--num-noise-shares");
    expect_usage("privacy epsilon --mechanism ddg --num-noise-shares 4 "
                 "--dim 4 --local-stddev-scaled 1 --l2-sens-scaled inf "
                 "--l1-sens-scaled 1 --sampling-rate 1 --steps 1 "
                 "--delta 1e-5",
                 "--l2-sens-scaled");
    expect_usage("privacy epsilon --mechanism ddg --num-noise-shares 4 "
                 "--dim 4 --local-stddev-scaled 1 --l2-sens-scaled 1 "
                 "--sampling-rate 1 --steps 1 --delta 1e-5",
                 "missing --l1-sens-scaled");
    expect_usage("privacy noise --mechanism ddg --epsilon 1 "
                 "--sampling-rate 1 --steps 1 --delta 1e-5",
                 "gaussian");
    expect_usage("privacy noise --mechanism gaussian --epsilon -1 "
                 "--sampling-rate 1 --steps 1 --delta 1e-5",
                 "--epsilon");
    expect_usage("privacy noise --mechanism gaussian --epsilon 1 "
                 "--sampling-rate 1 --steps 1 --delta 1e-5 extra",
                 "extra");
    expect_usage("privacy frobnicate", "unknown command");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_orders),
        cmocka_unit_test(test_rdp_gaussian_orders),
        cmocka_unit_test(test_rdp_gaussian),
        cmocka_unit_test(test_conversion),
        cmocka_unit_test(test_ddg_vectors),
        cmocka_unit_test(test_monotone_gaussian),
        cmocka_unit_test(test_monotone_ddg),
        cmocka_unit_test(test_tau),
        cmocka_unit_test(test_design),
        cmocka_unit_test(test_design_refused),
        cmocka_unit_test(test_inverse),
        cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_ctl_gaussian),
        cmocka_unit_test(test_ctl_ddg),
        cmocka_unit_test(test_ctl_noise),
        cmocka_unit_test(test_ctl_usage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
