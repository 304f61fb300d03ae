/*
 * ials.h - the dense maths of implicit alternating least squares (iALS,
 * Hu et al. 2008; the regularisation of Rendle et al. 2021), the building
 * block of the least-squares model kind (docs/MODEL.md).
 *
 * The objective over member factors w_u and item factors h_i (d each):
 *
 *   sum over observed (u,i) of (w_u . h_i - 1)^2
 *   + alpha0 * sum over all (u,i) of (w_u . h_i)^2
 *   + sum_u lambda_u |w_u|^2 + sum_i lambda_i |h_i|^2
 *
 * With the items fixed, each member's factor has a closed form, and the
 * all-pairs term needs only the item Gramian G = H^T H (d x d), not the
 * catalogue (the "Gramian trick"):
 *
 *   (alpha0 G + sum_{i in I_u} h_i h_i^T + lambda_u I) w_u = sum_{i in I_u} h_i
 *
 * Rendle et al. scale lambda_u with the member's frequency,
 * lambda (|I_u| + alpha0 n_items)^nu; fr_ials_reg computes it. The solve is
 * a Cholesky factorisation (LAPACK sposv through OpenBLAS): the system is
 * symmetric positive definite for lambda_u > 0.
 *
 * Layout: H is n_items x d, row-major (item i's factor at H + i * d), as
 * fr_model's item embeddings. Thread safety: none needed (no state).
 */
#ifndef FR_MODEL_IALS_H
#define FR_MODEL_IALS_H

#include <stddef.h>
#include <stdint.h>

#include "../base/err.h"
#include "mf.h"
#include "model.h"

/* Largest factor dimension the solves accept. */
#define FR_IALS_MAX_DIM 1024u

/* G = H^T H (d x d, both triangles filled). FR_EINVAL on a bad shape. */
FR_NODISCARD fr_err fr_ials_gramian(const float *H, uint32_t n_items,
                                    uint32_t d, float *G_out);

/* lambda (n_observed + alpha0 n_items)^nu: the frequency-scaled weight of
 * a factor's L2 penalty (nu = 0: plain lambda). */
double fr_ials_reg(double lambda, double nu, double alpha0, uint64_t n_observed,
                   uint64_t n_items);

/* Solves one member's factor w_out (d floats) given its observed items
 * (items[0..n), each < n_items; repeats count twice), the item factors H,
 * their Gramian G, alpha0 >= 0 and reg > 0. scratch holds d * d floats.
 * FR_EINVAL on a bad argument or item, FR_ESTATE if the system is
 * not positive definite (non-finite factors). */
FR_NODISCARD fr_err fr_ials_solve_member(const float *H, uint32_t n_items,
                                         uint32_t d, const float *G,
                                         const uint32_t *items, size_t n,
                                         double alpha0, double reg,
                                         float *w_out, float *scratch);

/* ---- the model kind: options ------------------------------------------ */

typedef struct fr_ials_opts {
    double alpha0; /* weight of every (member, item) pair, observed or not */
    double lambda; /* L2 penalty, scaled by frequency with nu */
    double nu;     /* frequency exponent of the penalty (Rendle et al.: 1) */
} fr_ials_opts;

void fr_ials_opts_default(fr_ials_opts *o);
/* FR_EINVAL unless alpha0 >= 0, lambda > 0, 0 <= nu <= 2, all finite. */
FR_NODISCARD fr_err fr_ials_opts_check(const fr_ials_opts *o);

/* ---- the store's side (ials_store.c) -----------------------------------
 *
 * The store keeps its members' factors in its fr_mf (the member
 * embeddings) and the item factors in an fr_model whose biases are zero,
 * so that fr_mf_score, fr_mf_evaluate, fr_mf_recommend and fr_mf_segment
 * serve both model kinds unchanged.
 */

/* Solves every member's factor of mf exactly against model's item factors
 * (its biases are not read) and G = fr_ials_gramian of them. Members with
 * no training positive get 0. FR_EINVAL on a shape mismatch or bad
 * options, FR_ENOMEM, FR_ESTATE if a system is not positive definite (the
 * factors solved so far are kept; the caller must not use them). */
FR_NODISCARD fr_err fr_ials_fit_members(fr_mf *mf, const fr_model *model,
                                        const float *G,
                                        const fr_ials_opts *o);

/*
 * The item step's sums. Everything a store contributes is a sum over its
 * members, laid out as one flat vector (n = n_items, d = dim):
 *
 *   stats  [0, n d)          B:  per item, sum of w_u over its members
 *          [n d, 2 n d)      Q:  per item, sum of w_u (w_u . h_i)
 *          [2 n d, 2nd + n)  S:  per item, sum of |w_u|^2
 *          [.., 2nd + 2n)    C:  per item, its number of members
 *          [.., + d d)       W:  the member Gramian, sum of w_u w_u^T
 *          last              N:  the number of members
 *   matvec [0, n d)          per item, sum of w_u (w_u . v_i) for the
 *                            direction V the aggregator sent
 *
 * Both functions ADD the store's share into out (the caller zeroes it),
 * so several stores, or a secure sum of them, give the global vector.
 */
size_t fr_ials_stats_len(uint32_t n_items, uint32_t d);
FR_NODISCARD fr_err fr_ials_store_stats(const fr_mf *mf, const fr_model *model,
                                        float *out);
FR_NODISCARD fr_err fr_ials_store_matvec(const fr_mf *mf, const float *V,
                                         uint32_t n_items, float *out);

/* ---- the item step (ials_cg.c) -----------------------------------------
 *
 * Each item's factor solves its own system given the member factors,
 *
 *   A_i h_i = b_i,  A_i = alpha0 W + sum_{u in U_i} w_u w_u^T + lambda_i I,
 *
 * lambda_i = lambda (C_i + alpha0 N)^nu. The step runs conjugate gradients
 * on all items at once, warm-started at the current factors and
 * preconditioned by M_i = (alpha0 + c_i) W + lambda_i I with c_i =
 * S_i / trace(W) (the member outer products replaced by their share of the
 * Gramian), which one eigen-decomposition of W inverts for every item.
 * Every quantity it needs is a sum from the stores (above): begin takes
 * the stats, each step a matvec along the direction it last handed out.
 */
typedef struct fr_ials_cg fr_ials_cg;

FR_NODISCARD fr_err fr_ials_cg_new(fr_ials_cg **out, uint32_t n_items,
                                   uint32_t d, const fr_ials_opts *o);
void fr_ials_cg_destroy(fr_ials_cg **cgp);

/* Starts a step at the item factors H (n x d) from the summed stats.
 * FR_EINVAL on non-finite stats or a negative count. */
FR_NODISCARD fr_err fr_ials_cg_begin(fr_ials_cg *cg, const float *H,
                                     const float *stats);
/* The direction the stores multiply next (n x d). Borrowed. */
const float *fr_ials_cg_direction(const fr_ials_cg *cg);
/* One CG iteration from the summed matvec along the direction: updates H
 * in place and sets the next direction. FR_ESTATE before begin,
 * FR_EINVAL on a non-finite matvec. */
FR_NODISCARD fr_err fr_ials_cg_step(fr_ials_cg *cg, float *H,
                                    const float *matvec);
/* The summed squared residual |b - A h|^2 over items at the current H. */
double fr_ials_cg_residual(const fr_ials_cg *cg);

/* ---- member-level DP (ials_dp.c) ---------------------------------------
 *
 * Under DP an epoch releases one sum only, and the item step is the
 * preconditioner's closed form, h_i = M_i^-1 b_i with
 * M_i = (alpha0 + C_i / N) W + lambda_i I: no matvec rounds, no warm
 * start (a warm start needs sum_u w_u (w_u . h_i): more noisy coordinates
 * for little gain). A member enters with the direction of its factor,
 * e_u = w_u / |w_u| (a member's ranking does not depend on |w_u|, and
 * the store refits w_u exactly against the released items), and
 * contributes one vector,
 *
 *   dp sum [0, n d)      B: e_u at each of its items
 *          [n d, +n)     C: beta at each of its items
 *          [.., + d d)   W: e_u e_u^T
 *          last          N: 1
 *
 * (an item the member bought m times gets m times), scaled down as a
 * whole to L2 norm clip when it is longer: adding or removing a member
 * moves the sum by at most clip, whatever the other members hold, so the
 * DDG noise of a DP round covers it as it covers an MF update. The counts
 * enter the step only next to alpha0 N (in M_i and lambda_i), so they
 * need little precision: beta keeps them a small share of the norm (the
 * step divides them by it).
 */
#define FR_IALS_DP_COUNT_WEIGHT 0.125

size_t fr_ials_dp_len(uint32_t n_items, uint32_t d);

/* Adds every member's clipped vector of mf into sum_out (fr_ials_dp_len
 * doubles; the caller zeroes it). *n_clipped_out (may be NULL): members
 * whose vector was scaled down. FR_EINVAL on a bad argument or clip not
 * finite and > 0. The sum is sensitive until it is noised. */
FR_NODISCARD fr_err fr_ials_dp_member_sums(const fr_mf *mf, double clip,
                                           double *sum_out,
                                           uint64_t *n_clipped_out);

/* The item step from a noised DP sum (fr_ials_dp_len doubles): writes
 * h_i = M_i^-1 B_i into H (n x d) for every item. Noise is handled as
 * post-processing: negative C and N are taken as 0 and W is
 * symmetrised. noise_sd > 0 (the noise's public std-dev per coordinate)
 * shrinks each B_i towards 0 by the James-Stein factor
 * (1 - (d - 2) noise_sd^2 / |B_i|^2)+ first: items whose sum is mostly
 * noise get (near) zero factors instead of random ones. cg (from
 * fr_ials_cg_new with the same shape) is scratch.
 * FR_EINVAL on a bad argument or a non-finite sum, FR_ENOMEM. */
FR_NODISCARD fr_err fr_ials_dp_item_step(fr_ials_cg *cg, float *H,
                                         const double *noised_sum,
                                         double noise_sd);

#endif
