/*
 * ials.c - iALS dense maths (ials.h).
 *
 * DESIGN. The member system is built in scratch as A = alpha0 G + reg I,
 * then one rank-1 update per observed item (cblas_ssyr on the lower
 * triangle), with the right-hand side the sum of the observed factors;
 * LAPACK's sposv factorises and solves in place. OpenBLAS exports the
 * Fortran LAPACK symbols; Debian installs no lapacke header with it, so
 * the one prototype is declared here. Batching many members into one
 * call (a member-block solve) is the speed step measured in bench/.
 */
#include "ials.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

/* LAPACK (Fortran calling convention, as exported by OpenBLAS). */
extern void sposv_(const char *uplo, const int *n, const int *nrhs, float *a,
                   const int *lda, float *b, const int *ldb, int *info);

fr_err
fr_ials_gramian(const float *H, uint32_t n_items, uint32_t d, float *G_out)
{
    if (!H || !G_out || n_items == 0 || d == 0 || d > FR_IALS_MAX_DIM)
        return FR_EINVAL;
    /* G (column-major, lower) = H^T H, H row-major n x d = column-major
     * d x n: G = A A^T with A = H viewed as d x n. */
    cblas_ssyrk(CblasColMajor, CblasLower, CblasNoTrans, (int)d, (int)n_items,
                1.0f, H, (int)d, 0.0f, G_out, (int)d);
    for (uint32_t c = 0; c < d; c++)
        for (uint32_t r = c + 1; r < d; r++)
            G_out[(size_t)r * d + c] = G_out[(size_t)c * d + r];
    return FR_OK;
}

double
fr_ials_reg(double lambda, double nu, double alpha0, uint64_t n_observed,
            uint64_t n_items)
{
    return lambda * pow((double)n_observed + alpha0 * (double)n_items, nu);
}

fr_err
fr_ials_solve_member(const float *H, uint32_t n_items, uint32_t d,
                     const float *G, const uint32_t *items, size_t n,
                     double alpha0, double reg, float *w_out, float *scratch)
{
    float *A = scratch;
    int nd = (int)d, one = 1, info = 0;

    if (!H || !G || (n && !items) || !w_out || !scratch || d == 0 ||
        d > FR_IALS_MAX_DIM || !(alpha0 >= 0.0) || !(reg > 0.0) ||
        !isfinite(alpha0) || !isfinite(reg))
        return FR_EINVAL;
    for (size_t k = 0; k < n; k++)
        if (items[k] >= n_items)
            return FR_EINVAL;
    for (size_t e = 0; e < (size_t)d * d; e++)
        A[e] = (float)alpha0 * G[e];
    for (uint32_t j = 0; j < d; j++)
        A[(size_t)j * d + j] += (float)reg;
    memset(w_out, 0, d * sizeof *w_out);
    for (size_t k = 0; k < n; k++) {
        const float *h = H + (size_t)items[k] * d;
        cblas_ssyr(CblasColMajor, CblasLower, nd, 1.0f, h, 1, A, nd);
        cblas_saxpy(nd, 1.0f, h, 1, w_out, 1);
    }
    sposv_("L", &nd, &one, A, &nd, w_out, &nd, &info);
    if (info != 0)
        return info < 0 ? FR_EINVAL : FR_ESTATE;
    for (uint32_t j = 0; j < d; j++)
        if (!isfinite(w_out[j]))
            return FR_ESTATE;
    return FR_OK;
}
