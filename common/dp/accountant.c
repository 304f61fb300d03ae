/*
 * accountant.c - Renyi-DP accounting: Gaussian and DDG curves, conversion to
 * (epsilon, delta), round design and the planning inverse.
 *
 * The evaluation order of every sum and product follows the reference code
 * the vectors in tests/vectors/dp/ came from (dp_accounting 0.6.0 and
 * google-research/federated distributed_dp), so the results agree to about
 * 1e-12 relative, not just mathematically. Where the reference is a
 * conservative bound rather than the exact value (the fractional-order
 * series with |C(a, i)|), it is kept on purpose: DP.md 4.1, 9.1.
 * lgamma_r is used instead of lgamma because lgamma writes the global
 * signgam, which would make these functions unsafe to call from threads.
 */
#include "accountant.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>

#define FRAC_MAX_TERMS 1000 /* dp_accounting _MAX_STEPS_LOG_A_FRAC */
#define SQRT_PI_INV_2  1.1283791670955126 /* 2 / sqrt(pi) */
#define DIM_MAX        ((uint64_t)1 << 50)
#define NOISE_Z_MIN    1e-3
#define NOISE_Z_MAX    1e7
#define NOISE_REL_TOL  1e-7

void
fr_dp_orders_default(fr_dp_orders *o)
{
    static const double tail[] = {128, 256, 512, 1024};
    size_t n = 0;

    for (int x = 1; x < 100; x++)
        o->a[n++] = 1.0 + (double)x / 10.0; /* as 1 + x / 10.0 */
    for (int a = 11; a < 64; a++)
        o->a[n++] = a;
    for (size_t i = 0; i < sizeof tail / sizeof tail[0]; i++)
        o->a[n++] = tail[i];
    o->n = n;
}

void
fr_dp_orders_ddg(fr_dp_orders *o)
{
    size_t n = 0;

    for (int a = 2; a <= 128; a++)
        o->a[n++] = a;
    o->a[n++] = 256;
    o->n = n;
}

/* ---- log-space helpers ---- */

static double
lgam(double x)
{
    int sign;
    return lgamma_r(x, &sign); /* log|Gamma(x)|, as scipy gammaln */
}

/* log |C(n, k)| through log|Gamma|, as the reference _log_comb. */
static double
log_comb(double n, double k)
{
    return lgam(n + 1) - lgam(k + 1) - lgam(n - k + 1);
}

static double
log_add(double x, double y)
{
    double a = x < y ? x : y, b = x < y ? y : x;
    if (a == -INFINITY)
        return b;
    return log1p(exp(a - b)) + b;
}

/* log(erfc(x)), accurate in the far tail where erfc underflows. */
static double
log_erfc(double x)
{
    double r = erfc(x), x2;

    if (r >= DBL_MIN)
        return log(r);
    /* Asymptotic series of log erfc at +infinity (x > 26 here). */
    x2 = x * x;
    return -log(M_PI) / 2 - log(x) - x2 - 0.5 / x2 + 0.625 / (x2 * x2) -
           37.0 / 24.0 / (x2 * x2 * x2) + 353.0 / 64.0 / (x2 * x2 * x2 * x2);
}

static int
is_integer(double a)
{
    return floor(a) == a;
}

static int
order_ok(double a)
{
    return a > 1 && a <= FR_DP_ORDER_MAX;
}

/* ---- the subsampled Gaussian (DP.md 4.1) ---- */

static double
log_a_int(double q, double z, int alpha)
{
    double log_a = -INFINITY, lq = log(q), l1q = log1p(-q);
    double two_var = 2 * (z * z);

    for (int i = 0; i <= alpha; i++) {
        double c = log_comb(alpha, i) + i * lq + (alpha - i) * l1q;
        log_a = log_add(log_a, c + ((double)i * i - i) / two_var);
    }
    return log_a;
}

/* The Mironov-Talwar-Zhang series for fractional alpha, summed with
 * |C(alpha, i)| as dp_accounting does; +inf if it has not converged after
 * FRAC_MAX_TERMS terms. */
static double
log_a_frac(double q, double z, double alpha)
{
    double log_a0 = -INFINITY, log_a1 = -INFINITY;
    double last0 = -INFINITY, last1 = -INFINITY;
    double z0 = z * z * log(1 / q - 1) + 0.5, l1q = log1p(-q), lq = log(q);
    double two_var = 2 * (z * z), sz = sqrt(2.0) * z;

    for (int i = 0; i < FRAC_MAX_TERMS; i++) {
        double c = log_comb(alpha, i), j = alpha - i;
        double t0 = c + i * lq + j * l1q, t1 = c + j * lq + i * l1q;
        double e0 = log(0.5) + log_erfc((i - z0) / sz);
        double e1 = log(0.5) + log_erfc((z0 - j) / sz);
        double s0 = t0 + ((double)i * i - i) / two_var + e0;
        double s1 = t1 + (j * j - j) / two_var + e1;
        double total;

        log_a0 = log_add(log_a0, s0);
        log_a1 = log_add(log_a1, s1);
        total = log_add(log_a0, log_a1);
        if (s0 < last0 && s1 < last1 && fmax(s0, s1) < total - 30)
            return total;
        last0 = s0;
        last1 = s1;
    }
    return INFINITY;
}

double
fr_dp_rdp_gaussian(double q, double z, double order)
{
    if (!(q >= 0 && q <= 1) || !(z >= 0) || !order_ok(order))
        return NAN;
    if (q == 0)
        return 0;
    if (isinf(z))
        return 0;
    if (z == 0)
        return INFINITY;
    if (q == 1)
        return order / (2 * (z * z));
    if (is_integer(order))
        return log_a_int(q, z, (int)order) / (order - 1);
    return log_a_frac(q, z, order) / (order - 1);
}

static int
orders_ok(const fr_dp_orders *o, int integer_only)
{
    if (!o || o->n == 0 || o->n > FR_DP_MAX_ORDERS)
        return 0;
    for (size_t i = 0; i < o->n; i++)
        if (!order_ok(o->a[i]) || (integer_only && !is_integer(o->a[i])))
            return 0;
    return 1;
}

fr_err
fr_dp_rdp_gaussian_curve(double q, double z, uint64_t steps,
                         const fr_dp_orders *o, double *rdp_out)
{
    if (!rdp_out || !(q >= 0 && q <= 1) || !(z > 0) || !isfinite(z) ||
        !orders_ok(o, 0))
        return FR_EINVAL;
    for (size_t i = 0; i < o->n; i++)
        rdp_out[i] = (double)steps * fr_dp_rdp_gaussian(q, z, o->a[i]);
    return FR_OK;
}

/* ---- DDG and Skellam (DP.md 4.3, 4.4) ---- */

double
fr_dp_ddg_tau(double sigma_scaled, uint32_t n_shares)
{
    double c = M_PI * sigma_scaled, tau = 0;

    c = -2 * (c * c);
    for (uint32_t k = 1; k < n_shares; k++) {
        double t = exp(c * ((double)k / (double)(k + 1)));
        if (t == 0) /* the terms decrease in k: the rest are 0 too */
            break;
        tau += t;
    }
    return tau * 10;
}

typedef struct ddg_ctx {
    double a2, a1; /* DDG: sensitivities over the central std-dev */
    double tau, d; /* DDG */
    double d2, d1; /* Skellam: sensitivities, integer units */
    double mu;     /* Skellam: central variance, integer units */
} ddg_ctx;

typedef double (*rdp_fn)(const ddg_ctx *c, double alpha);

/* Kairouz-Liu-Steinke Prop. 14 (Eq. 17). */
static double
ddg_rdp(const ddg_ctx *c, double alpha)
{
    double h = alpha / 2.0, r = c->a2 + sqrt(c->d) * c->tau;
    double t1 = h * (c->a2 * c->a2) + c->tau * c->d;
    double t2 =
        h * (c->a2 * c->a2 + 2 * c->a1 * c->tau + c->tau * c->tau * c->d);
    double t3 = h * (r * r);
    return fmin(t1, fmin(t2, t3));
}

/* Agarwal-Kairouz-Liu, in integer units (the scale cancels). */
static double
skellam_rdp(const ddg_ctx *c, double alpha)
{
    double d2sq = c->d2 * c->d2, mu = c->mu;
    return alpha / (2 * mu) * d2sq +
           fmin(((2 * alpha - 1) * d2sq + 6 * c->d1) / (4 * (mu * mu)),
                3 * c->d1 / (2 * mu));
}

/* Zhu-Wang general upper bound for Poisson subsampling at rate q < 1,
 * integer alpha >= 2, as a weighted log-sum-exp. */
static double
zhu_wang(rdp_fn eps, const ddg_ctx *c, int alpha, double q)
{
    double l1q = log(1 - q), lq = log(q), m, s = 0;
    double a0 = 0, b0 = pow(1 - q, alpha - 1) * (alpha * q - q + 1);
    double a1 = eps(c, 2);
    double b1 =
        (double)alpha * (alpha - 1) / 2 * (q * q) * pow(1 - q, alpha - 2);

    m = fmax(a0, a1);
    for (int l = 3; l <= alpha; l++)
        m = fmax(m, (l - 1) * eps(c, l) + log_comb(alpha, l) +
                        (alpha - l) * l1q + l * lq);
    if (!isfinite(m))
        m = 0;
    s = b0 * exp(a0 - m) + b1 * exp(a1 - m);
    for (int l = 3; l <= alpha; l++)
        s += 3 * exp((l - 1) * eps(c, l) + log_comb(alpha, l) +
                     (alpha - l) * l1q + l * lq - m);
    return (log(s) + m) / (alpha - 1);
}

static int
ddg_ok(const fr_dp_ddg *m)
{
    return m && m->n_shares >= 1 && m->n_shares <= FR_DP_MAX_SHARES &&
           m->dim >= 1 && m->dim <= DIM_MAX && isfinite(m->sigma_scaled) &&
           m->sigma_scaled > 0 && isfinite(m->l2_sens) && m->l2_sens > 0 &&
           isfinite(m->l1_sens) && m->l1_sens > 0 && m->q > 0 && m->q <= 1;
}

static fr_err
rdp_curve(rdp_fn eps, const ddg_ctx *c, double q, const fr_dp_orders *o,
          double *rdp_out)
{
    for (size_t i = 0; i < o->n; i++) {
        double a = o->a[i], r = eps(c, a);
        if (q < 1)
            r = fmin(zhu_wang(eps, c, (int)a, q), r);
        rdp_out[i] = r;
    }
    return FR_OK;
}

fr_err
fr_dp_rdp_ddg(const fr_dp_ddg *m, const fr_dp_orders *o, double *rdp_out)
{
    ddg_ctx c = {0};
    double central;

    if (!rdp_out || !ddg_ok(m) || !orders_ok(o, m->q < 1))
        return FR_EINVAL;
    central = sqrt((double)m->n_shares) * m->sigma_scaled;
    c.a2 = m->l2_sens / central;
    c.a1 = m->l1_sens / central;
    c.tau = fr_dp_ddg_tau(m->sigma_scaled, m->n_shares);
    c.d = (double)m->dim;
    return rdp_curve(ddg_rdp, &c, m->q, o, rdp_out);
}

fr_err
fr_dp_rdp_skellam(const fr_dp_ddg *m, const fr_dp_orders *o, double *rdp_out)
{
    ddg_ctx c = {0};
    double central;

    if (!rdp_out || !ddg_ok(m) || !orders_ok(o, m->q < 1))
        return FR_EINVAL;
    central = m->sigma_scaled * sqrt((double)m->n_shares);
    c.d2 = m->l2_sens;
    c.d1 = m->l1_sens;
    c.mu = central * central;
    return rdp_curve(skellam_rdp, &c, m->q, o, rdp_out);
}

/* ---- RDP -> (epsilon, delta) (DP.md 4.2) ---- */

static int
curve_ok(const fr_dp_orders *o, const double *rdp)
{
    if (!o || !rdp || o->n == 0 || o->n > FR_DP_MAX_ORDERS)
        return 0;
    for (size_t i = 0; i < o->n; i++)
        if (!(o->a[i] >= 1) || isnan(rdp[i]))
            return 0;
    return 1;
}

fr_err
fr_dp_epsilon(const fr_dp_orders *o, const double *rdp, double delta,
              double *eps_out, double *order_out)
{
    double best = INFINITY;
    size_t best_i = 0;

    if (!eps_out || !curve_ok(o, rdp) || !(delta >= 0 && delta <= 1))
        return FR_EINVAL;
    if (delta == 0) { /* only a curve of zeros gives a finite epsilon */
        int all_zero = 1;
        for (size_t i = 0; i < o->n; i++)
            all_zero &= rdp[i] == 0;
        *eps_out = all_zero ? 0 : INFINITY;
        if (order_out)
            *order_out = 0;
        return FR_OK;
    }
    for (size_t i = 0; i < o->n; i++) {
        double a = o->a[i], r = rdp[i], e;
        if (r < 0 || delta * delta + expm1(-r) > 0)
            e = 0;
        else if (a > 1.01)
            e = r + log1p(-1 / a) - log(delta * a) / (a - 1);
        else
            e = INFINITY;
        if (i == 0 || e < best) { /* first on ties, as numpy argmin */
            best = e;
            best_i = i;
        }
    }
    *eps_out = best > 0 ? best : 0;
    if (order_out)
        *order_out = o->a[best_i];
    return FR_OK;
}

fr_err
fr_dp_delta(const fr_dp_orders *o, const double *rdp, double eps,
            double *delta_out, double *order_out)
{
    double best = INFINITY;
    size_t best_i = 0;

    if (!delta_out || !curve_ok(o, rdp) || !(eps >= 0))
        return FR_EINVAL;
    for (size_t i = 0; i < o->n; i++) {
        double a = o->a[i], r = rdp[i], ld;
        if (r <= 0)
            ld = -INFINITY;
        else
            ld = 0.5 * log1p(-exp(-r));
        if (a > 1.01) {
            double b = (a - 1) * (r - eps + log1p(-1 / a)) - log(a);
            ld = fmin(ld, b);
        }
        if (i == 0 || ld < best) {
            best = ld;
            best_i = i;
        }
    }
    *delta_out = fmin(exp(best), 1.0);
    if (order_out)
        *order_out = o->a[best_i];
    return FR_OK;
}

/* ---- design helpers (DP.md 3.2) ---- */

/* x >= 0 with erfc(x) = p, 0 < p <= 1, by Newton's method on log erfc,
 * which is concave and decreasing: after the first step the iterates
 * approach the root monotonically from above. */
static double
erfcinv_upper(double p)
{
    double lp = log(p), x = p < 0.5 ? sqrt(-lp) : 0.3;

    for (int it = 0; it < 200; it++) {
        double le = log_erfc(x);
        double slope = -SQRT_PI_INV_2 * exp(-x * x - le);
        double dx = (le - lp) / slope;
        x -= dx;
        if (fabs(dx) <= 1e-17 * fabs(x) || dx == 0)
            break;
    }
    return x;
}

double
fr_dp_k_stddevs(double p_wrap)
{
    if (!(p_wrap > 0 && p_wrap < 2))
        return NAN;
    if (p_wrap > 1)
        return -sqrt(2.0) * erfcinv_upper(2 - p_wrap);
    return sqrt(2.0) * erfcinv_upper(p_wrap);
}

double
fr_dp_scale_heuristic(unsigned bits, uint32_t n_invited, double k,
                      double signal_l2, uint64_t dim, double local_stddev)
{
    double range2, n = n_invited, d = (double)dim, numer;

    if (bits < 1 || bits > 64 || n_invited < 1 || !(k > 0) || isinf(k) ||
        !(signal_l2 >= 0) || isinf(signal_l2) || dim < 1 ||
        !(local_stddev >= 0) || isinf(local_stddev))
        return NAN;
    range2 = ldexp(1.0, 2 * (int)bits);
    if (!(range2 > n * (k * k)))
        return NAN;
    numer = sqrt(range2 - n * (k * k));
    return numer / (2.0 * k *
                    sqrt(signal_l2 * signal_l2 / d +
                         n * (local_stddev * local_stddev)));
}

void
fr_dp_inflated_sens(double scale, double l2_clip, uint64_t dim, double *l2_out,
                    double *l1_out)
{
    double sd = sqrt((double)dim), l2 = scale * l2_clip + sd;

    *l2_out = l2;
    *l1_out = l2 * fmin(sd, l2);
}

fr_err
fr_dp_inflated_sens_beta(double scale, double l2_clip, double beta,
                         uint64_t dim, double *l2_out, double *l1_out)
{
    double c = scale * l2_clip, sd = sqrt((double)dim), l2, sq;

    if (!l2_out || !l1_out || !(scale > 0) || !(l2_clip > 0) || !isfinite(c) ||
        !(beta >= 0 && beta < 1) || dim < 1 || dim > DIM_MAX)
        return FR_EINVAL;
    l2 = c + sd;
    if (beta > 0) {
        sq = c * c + 0.25 * (double)dim;
        sq += sqrt(2.0 * log(1.0 / beta)) * (c + 0.5 * sd);
        l2 = fmin(l2, sqrt(sq));
    }
    *l2_out = l2;
    *l1_out = l2 * fmin(sd, l2);
    return FR_OK;
}

static fr_err design_fail(char *err, size_t errlen, const char *fmt, ...)
    FR_PRINTF(3, 4);

static fr_err
design_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err && errlen) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return FR_EINVAL;
}

/* Range checks of the design inputs; FR_OK or FR_EINVAL with a reason. */
static fr_err
design_check(const fr_dp_design_in *in, char *err, size_t errlen)
{
    uint64_t lost = (uint64_t)in->t_drop + in->t_collude;

    if (!(in->clip > 0) || !isfinite(in->clip))
        return design_fail(err, errlen, "clip must be finite and > 0");
    if (!(in->noise_multiplier > 0) || !isfinite(in->noise_multiplier))
        return design_fail(err, errlen,
                           "noise multiplier must be finite and > 0");
    if (in->n_invited < 1 || lost >= in->n_invited)
        return design_fail(err, errlen,
                           "n_target = n_invited - t_drop - t_collude = "
                           "%u - %u - %u must be at least 1",
                           in->n_invited, in->t_drop, in->t_collude);
    if (in->model_params < 1 || in->model_params > DIM_MAX)
        return design_fail(err, errlen,
                           "model parameters must be in [1, 2^50]");
    if (!(in->signal_l2 > 0) || !isfinite(in->signal_l2))
        return design_fail(err, errlen,
                           "signal bound S must be finite and > 0");
    if (!(in->p_wrap > 0 && in->p_wrap < 1))
        return design_fail(err, errlen, "p_wrap must be in (0, 1)");
    if (!(in->q > 0 && in->q <= 1))
        return design_fail(err, errlen, "sampling rate must be in (0, 1]");
    return FR_OK;
}

fr_err
fr_dp_design_round(const fr_dp_design_in *in, fr_dp_design *out, char *err,
                   size_t errlen)
{
    fr_dp_design d = {0};
    fr_err rc;

    if (!in || !out)
        return design_fail(err, errlen, "no design input or output");
    if ((rc = design_check(in, err, errlen)))
        return rc;
    d.dim = 1;
    while (d.dim < in->model_params)
        d.dim <<= 1;
    d.n_target = in->n_invited - in->t_drop - in->t_collude;
    d.secagg_t_min = d.n_target + in->t_collude;
    d.sigma_local = in->noise_multiplier * in->clip / sqrt(d.n_target);
    d.k = fr_dp_k_stddevs(in->p_wrap);
    if (!(ldexp(1.0, 2 * FR_DP_BITS) > in->n_invited * (d.k * d.k)))
        return design_fail(err, errlen,
                           "2^%u words cannot hold %u shares at %.3g "
                           "standard deviations (2^64 <= n k^2)",
                           FR_DP_BITS, in->n_invited, d.k);
    d.scale = fr_dp_scale_heuristic(FR_DP_BITS, in->n_invited, d.k,
                                    in->signal_l2, d.dim, d.sigma_local);
    if (!(d.scale > 0) || !isfinite(d.scale))
        return design_fail(err, errlen, "no finite positive scale");
    if (d.sigma_local * d.scale > FR_DP_SIGMA_SCALED_MAX)
        d.scale = FR_DP_SIGMA_SCALED_MAX / d.sigma_local;
    d.sigma2_int =
        (uint64_t)ceil((d.scale * d.sigma_local) * (d.scale * d.sigma_local));
    if (d.sigma2_int < 1)
        d.sigma2_int = 1;
    fr_dp_inflated_sens(d.scale, in->clip * (1 + FR_DP_CLIP_LEEWAY), d.dim,
                        &d.l2_sens, &d.l1_sens);
    d.inflation = sqrt((double)d.dim) / (d.scale * in->clip);
    if (!(d.inflation <= FR_DP_INFLATION_MAX))
        return design_fail(err, errlen,
                           "rounding inflation sqrt(d)/(s C) = %.3g %% "
                           "exceeds 1 %% (scale %.4g, d %llu): lower S or "
                           "the noise, or use fewer parameters",
                           100 * d.inflation, d.scale,
                           (unsigned long long)d.dim);
    *out = d;
    return FR_OK;
}

fr_err
fr_dp_design_rdp(const fr_dp_design *d, double q, const fr_dp_orders *o,
                 double *rdp_out)
{
    fr_dp_ddg m;

    if (!d)
        return FR_EINVAL;
    m.n_shares = d->n_target;
    m.dim = d->dim;
    m.sigma_scaled = sqrt((double)d->sigma2_int);
    m.l2_sens = d->l2_sens;
    m.l1_sens = d->l1_sens;
    m.q = q;
    return fr_dp_rdp_ddg(&m, o, rdp_out);
}

/* ---- planning inverse ---- */

static double
gaussian_eps(double q, double z, uint64_t steps, double delta,
             const fr_dp_orders *o)
{
    double rdp[FR_DP_MAX_ORDERS], eps;

    if (fr_dp_rdp_gaussian_curve(q, z, steps, o, rdp) ||
        fr_dp_epsilon(o, rdp, delta, &eps, NULL))
        return NAN;
    return eps;
}

fr_err
fr_dp_gaussian_noise_for(double q, uint64_t steps, double delta,
                         double target_eps, double *z_out)
{
    fr_dp_orders o;
    double lo = NOISE_Z_MIN, hi = NOISE_Z_MAX;

    if (!z_out || !(q > 0 && q <= 1) || steps == 0 ||
        !(delta > 0 && delta < 1) || !(target_eps > 0) || !isfinite(target_eps))
        return FR_EINVAL;
    fr_dp_orders_default(&o);
    /* eps falls as z grows: keep eps(lo) > target >= eps(hi). */
    if (!(gaussian_eps(q, hi, steps, delta, &o) <= target_eps) ||
        gaussian_eps(q, lo, steps, delta, &o) <= target_eps)
        return FR_ELIMIT;
    while (hi / lo > 1 + NOISE_REL_TOL) {
        double mid = sqrt(lo * hi); /* bisection of log z */
        if (mid <= lo || mid >= hi)
            break;
        if (gaussian_eps(q, mid, steps, delta, &o) <= target_eps)
            hi = mid;
        else
            lo = mid;
    }
    *z_out = hi;
    return FR_OK;
}
