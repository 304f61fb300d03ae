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

#endif
