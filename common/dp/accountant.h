/*
 * accountant.h - Renyi-DP accounting for the Gaussian and the distributed
 * discrete Gaussian (DDG) mechanisms, conversion to (epsilon, delta), and the
 * design of a DDG round (scale, integer noise parameter, sensitivities).
 *
 * All functions are pure (no I/O, no global state) and thread-safe. They
 * follow docs DP.md section 4 and reproduce Google's dp_accounting
 * (RdpAccountant, compute_epsilon/compute_delta) and the distributed-DP
 * accounting of google-research/federated to about 1e-9 relative, which
 * tests/vectors/dp/ checks:
 *   - Poisson-subsampled Gaussian, noise multiplier z, rate q:
 *       q = 1: R(a) = a / (2 z^2);
 *       q < 1, integer a: log A_a / (a - 1), A_a a binomial sum;
 *       q < 1, fractional a: the Mironov-Talwar-Zhang series summed with
 *       |C(a, i)| (a conservative upper bound), +inf after 1000 terms.
 *   - DDG, Kairouz-Liu-Steinke Prop. 14, in integer units, with the
 *     Zhu-Wang general subsampling bound for q < 1 (integer orders only).
 *   - RDP -> (eps, delta): Canonne-Kamath-Steinke Prop. 12.
 * RDP composes by adding curves order by order; T identical steps are T * R.
 * Curves of different order grids must never be mixed.
 */
#ifndef FR_DP_ACCOUNTANT_H
#define FR_DP_ACCOUNTANT_H

#include <stddef.h>
#include <stdint.h>

#include "../base/err.h"

#define FR_DP_MAX_ORDERS 160
/* Largest RDP order accepted (the series for q < 1 cost O(order) terms). */
#define FR_DP_ORDER_MAX 65536.0
/* Most noise shares the DDG accountant takes (tau costs one exp per share). */
#define FR_DP_MAX_SHARES 1000000u
/* Largest sigma_local * s of a design (the sampler stays in 128 bits). */
#define FR_DP_SIGMA_SCALED_MAX 67108864.0 /* 2^26 */
/* Largest rounding inflation sqrt(d) / (s C) a design accepts. */
#define FR_DP_INFLATION_MAX 0.01
/* Relative leeway on the clip norm for float error in clipping. */
#define FR_DP_CLIP_LEEWAY 1e-6
/* SecAgg word width of a design. */
#define FR_DP_BITS 32u

typedef struct fr_dp_orders {
    double a[FR_DP_MAX_ORDERS];
    size_t n;
} fr_dp_orders;

/* dp_accounting's DEFAULT_RDP_ORDERS: 1 + x/10.0 for x = 1..99, 11..63,
 * 128, 256, 512, 1024 (156 orders). For the Gaussian mechanism. */
void fr_dp_orders_default(fr_dp_orders *o);
/* The integer orders 2..128 and 256 (128 orders). For the DDG. */
void fr_dp_orders_ddg(fr_dp_orders *o);

/*
 * One step of the Poisson-subsampled Gaussian with noise multiplier z and
 * sampling rate q, at order (> 1). +INFINITY where dp_accounting drops the
 * order (the fractional series did not converge) or z == 0; 0 when q == 0.
 * NaN if q is outside [0, 1], z < 0, order is not in (1, FR_DP_ORDER_MAX]
 * or any input is NaN.
 */
double fr_dp_rdp_gaussian(double q, double z, double order);

/* Fills rdp_out[i] = steps * fr_dp_rdp_gaussian(q, z, o->a[i]). FR_EINVAL
 * (rdp_out untouched) if q is outside [0, 1], z is not finite and > 0, or an
 * order is not in (1, FR_DP_ORDER_MAX]. */
FR_NODISCARD fr_err fr_dp_rdp_gaussian_curve(double q, double z, uint64_t steps,
                                             const fr_dp_orders *o,
                                             double *rdp_out);

/* The sum of n_shares honest discrete-Gaussian shares, in integer units. */
typedef struct fr_dp_ddg {
    uint32_t n_shares;       /* honest noise shares in the sum */
    uint64_t dim;            /* padded dimension */
    double sigma_scaled;     /* per-share std-dev in integer units */
    double l2_sens, l1_sens; /* inflated sensitivities, integer units */
    double q;                /* member sampling rate (1: none) */
} fr_dp_ddg;

/* tau = 10 * sum_{k=1}^{n-1} exp(-2 pi^2 sigma^2 k/(k+1)) (0 when n <= 1),
 * the distance of a sum of discrete Gaussians from a discrete Gaussian.
 * Costs up to n - 1 exp() calls (it stops once a term underflows). */
double fr_dp_ddg_tau(double sigma_scaled, uint32_t n_shares);

/*
 * One step's RDP of the DDG sum at each order of o (Prop. 14; subsampled by
 * the Zhu-Wang bound when q < 1). FR_EINVAL (rdp_out untouched) if
 * n_shares is 0 or above FR_DP_MAX_SHARES, dim is 0, sigma_scaled, l2_sens
 * or l1_sens is not finite and > 0, q is outside (0, 1], an order is not
 * in (1, FR_DP_ORDER_MAX], or q < 1 and an order is not an integer.
 */
FR_NODISCARD fr_err fr_dp_rdp_ddg(const fr_dp_ddg *m, const fr_dp_orders *o,
                                  double *rdp_out);

/* The same for distributed Skellam noise of the same variance (Agarwal-
 * Kairouz-Liu; DP.md 4.4), for comparison only. Same checks. */
FR_NODISCARD fr_err fr_dp_rdp_skellam(const fr_dp_ddg *m, const fr_dp_orders *o,
                                      double *rdp_out);

/*
 * RDP curve rdp[0..o->n-1] -> epsilon at delta, as dp_accounting
 * compute_epsilon: the minimum over orders of the CKS bound, clamped at 0;
 * +INFINITY when no order gives a bound. *order_out (may be NULL) gets the
 * optimal order, the first on ties (0 when delta == 0, as dp_accounting).
 * FR_EINVAL (outputs untouched) if o is empty, an order is < 1 or NaN, an
 * rdp entry is NaN, or delta is outside [0, 1].
 */
FR_NODISCARD fr_err fr_dp_epsilon(const fr_dp_orders *o, const double *rdp,
                                  double delta, double *eps_out,
                                  double *order_out);

/* RDP curve -> delta at eps, as dp_accounting compute_delta (the minimum of
 * the KL and CKS bounds, at most 1). FR_EINVAL as fr_dp_epsilon, or if eps
 * is negative or NaN. */
FR_NODISCARD fr_err fr_dp_delta(const fr_dp_orders *o, const double *rdp,
                                double eps, double *delta_out,
                                double *order_out);

/* ---- design helpers (DP.md 3.2) ---- */

/* Standard deviations k with P(|N(0,1)| > k) = p_wrap: sqrt(2) erfcinv(p).
 * NaN unless 0 < p_wrap < 2. */
double fr_dp_k_stddevs(double p_wrap);

/* The scale s solving 2^b = 2k sqrt(S^2/d + n (1/(4 s^2) + sigma^2)) s:
 *   s = sqrt(2^(2b) - n k^2) / (2k sqrt(S^2/d + n sigma^2)).
 * NaN if 2^(2b) <= n k^2 or an input is out of range. */
double fr_dp_scale_heuristic(unsigned bits, uint32_t n_invited, double k,
                             double signal_l2, uint64_t dim,
                             double local_stddev);

/* Inflated sensitivities after unconditional stochastic rounding (beta = 0)
 * of a vector of L2 norm scale * l2_clip in dim coordinates:
 * l2 = s C + sqrt(d), l1 = l2 * min(sqrt(d), l2). */
void fr_dp_inflated_sens(double scale, double l2_clip, uint64_t dim,
                         double *l2_out, double *l1_out);

/* The same with conditional rounding at beta in [0, 1) (Kairouz et al.
 * Thm 1; only valid when a whole client vector is removed, DP.md 3.3):
 * l2 = min(c + sqrt(d), sqrt(c^2 + d/4 + sqrt(2 ln(1/beta)) (c + sqrt(d)/2)))
 * with c = s C. FR_EINVAL (outputs untouched) for out-of-range inputs. */
FR_NODISCARD fr_err fr_dp_inflated_sens_beta(double scale, double l2_clip,
                                             double beta, uint64_t dim,
                                             double *l2_out, double *l1_out);

/* A complete round design for the aggregator. */
typedef struct fr_dp_design_in {
    double clip;             /* C, unscaled */
    double noise_multiplier; /* z: central std-dev z*C */
    uint32_t n_invited, t_drop, t_collude;
    uint64_t model_params; /* d_model; padded to the next power of 2 */
    double signal_l2;      /* S, e.g. members*C */
    double p_wrap;         /* e.g. 2e-9 */
    double q;
} fr_dp_design_in;

typedef struct fr_dp_design {
    uint64_t dim;            /* padded */
    uint32_t n_target;       /* n_invited - t_drop - t_collude */
    uint32_t secagg_t_min;   /* n_target + t_collude */
    double sigma_local;      /* z C / sqrt(n_target), unscaled */
    double k;                /* wrap margin in standard deviations */
    double scale;            /* s, capped so sigma_local*s <= 2^26 */
    uint64_t sigma2_int;     /* ceil((s*sigma_local)^2) */
    double l2_sens, l1_sens; /* inflated, with the 1e-6 clip leeway */
    double inflation;        /* sqrt(d)/(s*C) */
} fr_dp_design;

/*
 * Designs a DDG round with b = 32 (DP.md 3.2). The scale uses n_invited
 * shares, the most that can be in the sum, so the wrap margin holds when
 * nobody drops. FR_EINVAL with a reason in err (outputs untouched) for
 * out-of-range inputs or impossible designs (n_target < 1, n_target +
 * t_collude above n_invited, 2^64 <= n k^2, inflation > 1 %). err may be
 * NULL when errlen is 0.
 */
FR_NODISCARD fr_err fr_dp_design_round(const fr_dp_design_in *in,
                                       fr_dp_design *out, char *err,
                                       size_t errlen);

/* The per-round RDP a design charges, at each order of o: the DDG with
 * n = n_target shares of std-dev sqrt(sigma2_int) (integer units) and the
 * design's sensitivities, at rate q. Checks as fr_dp_rdp_ddg. */
FR_NODISCARD fr_err fr_dp_design_rdp(const fr_dp_design *d, double q,
                                     const fr_dp_orders *o, double *rdp_out);

/*
 * Planning inverse: the smallest noise multiplier z (bisection to better
 * than 1e-6 relative; the z returned always meets the target) for which
 * steps rounds of the Poisson-subsampled Gaussian on the default orders
 * cost at most target_eps at delta. FR_EINVAL if q is outside (0, 1], steps
 * is 0, delta is outside (0, 1) or target_eps is not finite and > 0;
 * FR_ELIMIT if the answer is not inside [1e-3, 1e7] (even z = 1e7 costs
 * more, or already z = 1e-3 costs no more). *z_out is set only on FR_OK.
 */
FR_NODISCARD fr_err fr_dp_gaussian_noise_for(double q, uint64_t steps,
                                             double delta, double target_eps,
                                             double *z_out);

#endif
