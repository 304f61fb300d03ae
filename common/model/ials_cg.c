/*
 * ials_cg.c - the iALS item step from summed statistics: preconditioned
 * conjugate gradients over every item's system at once (ials.h).
 *
 * DESIGN. The items' systems are independent, so each item keeps its own
 * CG scalars (r.z, the step alpha_i and beta_i); the dense work is shared:
 *   A P   = alpha0 P W + (the stores' summed matvec) + diag(lambda_i) P,
 *           one sgemm n x d x d plus the sum the stores sent;
 *   M^-1 R = ((R E^T) ./ ((alpha0 + c_i) e_j + lambda_i)) E, where the rows
 *           of E are W's eigenvectors and e_j its eigenvalues (ssyev, once
 *           per step): two sgemms.
 * The warm start at the current factors means a few iterations per step
 * move the factors most of the way to the exact solve; with enough
 * iterations the step is the exact least-squares item solve.
 */
#include "ials.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* An item whose r.z fell below this share of its value at begin has
 * converged as far as single precision goes; iterating on would divide
 * rounding noise by rounding noise. */
#define CONVERGED 1e-10

extern void ssyev_(const char *jobz, const char *uplo, const int *n, float *a,
                   const int *lda, float *w, float *work, const int *lwork,
                   int *info);

struct fr_ials_cg {
    uint32_t n, d;
    fr_ials_opts o;
    int begun;
    float *W;     /* d x d member Gramian */
    float *E;     /* d x d: row j is W's eigenvector j */
    float *eig;   /* d eigenvalues, clamped at 0 */
    float *lam;   /* n per-item penalties */
    float *c;     /* n preconditioner weights */
    double *rz;   /* n: r_i . z_i */
    double *rz_old; /* n: the same before the last iteration */
    double *rz0;    /* n: the same at begin (an item converged below it) */
    float *R, *Z, *P, *T; /* n x d each */
    float *work;
    int lwork;
};

fr_err
fr_ials_cg_new(fr_ials_cg **out, uint32_t n_items, uint32_t d,
               const fr_ials_opts *o)
{
    fr_ials_cg *cg;
    size_t nd = (size_t)n_items * d;
    int di = (int)d, info = 0, q = -1;
    float wq = 0.0f, e0 = 0.0f;

    if (!out || n_items == 0 || n_items > FR_MODEL_MAX_ITEMS || d == 0 ||
        d > FR_IALS_MAX_DIM || fr_ials_opts_check(o))
        return FR_EINVAL;
    *out = NULL;
    if (!(cg = calloc(1, sizeof *cg)))
        return FR_ENOMEM;
    cg->n = n_items;
    cg->d = d;
    cg->o = *o;
    cg->W = malloc((size_t)d * d * sizeof *cg->W);
    cg->E = malloc((size_t)d * d * sizeof *cg->E);
    cg->eig = malloc(d * sizeof *cg->eig);
    cg->lam = malloc(n_items * sizeof *cg->lam);
    cg->c = malloc(n_items * sizeof *cg->c);
    cg->rz = malloc(n_items * sizeof *cg->rz);
    cg->rz_old = malloc(n_items * sizeof *cg->rz_old);
    cg->rz0 = malloc(n_items * sizeof *cg->rz0);
    cg->R = malloc(nd * sizeof *cg->R);
    cg->Z = malloc(nd * sizeof *cg->Z);
    cg->P = malloc(nd * sizeof *cg->P);
    cg->T = malloc(nd * sizeof *cg->T);
    /* the workspace ssyev wants for this d */
    ssyev_("V", "L", &di, &e0, &di, &e0, &wq, &q, &info);
    cg->lwork = info == 0 && wq >= 1.0f ? (int)wq : 3 * di;
    if (cg->lwork < 3 * di)
        cg->lwork = 3 * di;
    cg->work = malloc((size_t)cg->lwork * sizeof *cg->work);
    if (!cg->W || !cg->E || !cg->eig || !cg->lam || !cg->c || !cg->rz || !cg->rz_old || !cg->rz0 ||
        !cg->R || !cg->Z || !cg->P || !cg->T || !cg->work) {
        fr_ials_cg_destroy(&cg);
        return FR_ENOMEM;
    }
    *out = cg;
    return FR_OK;
}

void
fr_ials_cg_destroy(fr_ials_cg **cgp)
{
    fr_ials_cg *cg = cgp ? *cgp : NULL;
    if (!cg)
        return;
    free(cg->W);
    free(cg->E);
    free(cg->eig);
    free(cg->lam);
    free(cg->c);
    free(cg->rz);
    free(cg->rz_old);
    free(cg->rz0);
    free(cg->R);
    free(cg->Z);
    free(cg->P);
    free(cg->T);
    free(cg->work);
    free(cg);
    *cgp = NULL;
}

/* Y = alpha0 X W + Y + diag(lam) X: the items' systems applied to X, given
 * Y holding the stores' summed sum_u w_u (w_u . x_i). */
static void
apply_A(const fr_ials_cg *cg, const float *X, float *Y)
{
    int n = (int)cg->n, d = (int)cg->d;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, d, d,
                (float)cg->o.alpha0, X, d, cg->W, d, 1.0f, Y, d);
    for (uint32_t i = 0; i < cg->n; i++)
        cblas_saxpy(d, cg->lam[i], X + (size_t)i * cg->d, 1,
                    Y + (size_t)i * cg->d, 1);
}

/* Z = M^-1 R, and rz_i = r_i . z_i into rz. */
static void
precondition(fr_ials_cg *cg, double *rz)
{
    int n = (int)cg->n, d = (int)cg->d;
    float a0 = (float)cg->o.alpha0;

    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, d, d, 1.0f, cg->R,
                d, cg->E, d, 0.0f, cg->T, d);
    for (uint32_t i = 0; i < cg->n; i++) {
        float *t = cg->T + (size_t)i * cg->d;
        for (uint32_t j = 0; j < cg->d; j++)
            t[j] /= (a0 + cg->c[i]) * cg->eig[j] + cg->lam[i];
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, d, d, 1.0f,
                cg->T, d, cg->E, d, 0.0f, cg->Z, d);
    for (uint32_t i = 0; i < cg->n; i++)
        rz[i] = cblas_dsdot(d, cg->R + (size_t)i * cg->d, 1,
                            cg->Z + (size_t)i * cg->d, 1);
}

static int
all_finite(const float *x, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (!isfinite(x[k]))
            return 0;
    return 1;
}

fr_err
fr_ials_cg_begin(fr_ials_cg *cg, const float *H, const float *stats)
{
    size_t nd, len;
    int di, info = 0;
    double tr = 0.0, n_members;

    if (!cg || !H || !stats)
        return FR_EINVAL;
    nd = (size_t)cg->n * cg->d;
    len = fr_ials_stats_len(cg->n, cg->d);
    di = (int)cg->d;
    if (!all_finite(stats, len) || !all_finite(H, nd))
        return FR_EINVAL;
    const float *B = stats, *Q = stats + nd, *S = Q + nd, *C = S + cg->n;
    const float *W = C + cg->n;
    n_members = W[(size_t)cg->d * cg->d];
    if (n_members < 0.0)
        return FR_EINVAL;
    for (uint32_t i = 0; i < cg->n; i++)
        if (C[i] < 0.0f || S[i] < 0.0f)
            return FR_EINVAL;
    cg->begun = 0;
    memcpy(cg->W, W, (size_t)cg->d * cg->d * sizeof *cg->W);
    memcpy(cg->E, W, (size_t)cg->d * cg->d * sizeof *cg->E);
    for (uint32_t j = 0; j < cg->d; j++)
        tr += W[(size_t)j * cg->d + j];
    /* column-major lower = row-major upper of a symmetric matrix; on exit
     * column j (row j of E, row-major) is eigenvector j */
    ssyev_("V", "L", &di, cg->E, &di, cg->eig, cg->work, &cg->lwork, &info);
    if (info != 0)
        return FR_ESTATE;
    for (uint32_t j = 0; j < cg->d; j++)
        if (!(cg->eig[j] > 0.0f))
            cg->eig[j] = 0.0f;
    for (uint32_t i = 0; i < cg->n; i++) {
        cg->lam[i] = (float)fr_ials_reg(cg->o.lambda, cg->o.nu, cg->o.alpha0,
                                        (uint64_t)llround(C[i]),
                                        (uint64_t)llround(n_members));
        cg->c[i] = tr > 0.0 ? (float)(S[i] / tr) : 0.0f;
    }
    /* R = B - A H */
    memcpy(cg->T, Q, nd * sizeof *cg->T);
    apply_A(cg, H, cg->T);
    for (size_t k = 0; k < nd; k++)
        cg->R[k] = B[k] - cg->T[k];
    precondition(cg, cg->rz);
    memcpy(cg->rz0, cg->rz, cg->n * sizeof *cg->rz0);
    memcpy(cg->P, cg->Z, nd * sizeof *cg->P);
    cg->begun = 1;
    return FR_OK;
}

const float *
fr_ials_cg_direction(const fr_ials_cg *cg)
{
    return cg ? cg->P : NULL;
}

fr_err
fr_ials_cg_step(fr_ials_cg *cg, float *H, const float *matvec)
{
    size_t nd;
    uint32_t d;

    if (!cg || !H || !matvec)
        return FR_EINVAL;
    if (!cg->begun)
        return FR_ESTATE;
    nd = (size_t)cg->n * cg->d;
    d = cg->d;
    if (!all_finite(matvec, nd))
        return FR_EINVAL;
    float *AP = cg->T;
    memcpy(AP, matvec, nd * sizeof *AP);
    apply_A(cg, cg->P, AP);
    for (uint32_t i = 0; i < cg->n; i++) {
        float *p = cg->P + (size_t)i * d, *ap = AP + (size_t)i * d;
        double pap = cblas_dsdot((int)d, p, 1, ap, 1);
        if (!(pap > 0.0) || !(cg->rz[i] > CONVERGED * cg->rz0[i]))
            continue; /* converged, or nothing left to move */
        float a = (float)(cg->rz[i] / pap);
        if (!isfinite(a))
            continue;
        cblas_saxpy((int)d, a, p, 1, H + (size_t)i * d, 1);
        cblas_saxpy((int)d, -a, ap, 1, cg->R + (size_t)i * d, 1);
    }
    double *rz_old = cg->rz_old;
    memcpy(rz_old, cg->rz, cg->n * sizeof *rz_old);
    precondition(cg, cg->rz);
    for (uint32_t i = 0; i < cg->n; i++) {
        float *p = cg->P + (size_t)i * d;
        const float *z = cg->Z + (size_t)i * d;
        float beta;
        if (!(rz_old[i] > CONVERGED * cg->rz0[i])) { /* stays put */
            memset(p, 0, d * sizeof *p);
            cg->rz[i] = rz_old[i];
            continue;
        }
        beta = (float)(cg->rz[i] / rz_old[i]);
        for (uint32_t j = 0; j < d; j++)
            p[j] = z[j] + beta * p[j];
    }
    return FR_OK;
}

double
fr_ials_cg_residual(const fr_ials_cg *cg)
{
    double s = 0.0;
    if (!cg || !cg->begun)
        return 0.0;
    for (size_t k = 0; k < (size_t)cg->n * cg->d; k++)
        s += (double)cg->R[k] * cg->R[k];
    return s;
}

fr_err
fr_ials_dp_item_step(fr_ials_cg *cg, float *H, const double *noised_sum,
                     double noise_sd)
{
    size_t nd, len;
    uint32_t n, d;
    float *st;
    fr_err rc;

    if (!cg || !H || !noised_sum || !isfinite(noise_sd) || noise_sd < 0.0)
        return FR_EINVAL;
    n = cg->n;
    d = cg->d;
    nd = (size_t)n * d;
    len = fr_ials_dp_len(n, d);
    for (size_t k = 0; k < len; k++)
        if (!isfinite(noised_sum[k]))
            return FR_EINVAL;
    /* the stats layout of fr_ials_store_stats, Q = 0: begin at H = 0
     * makes the first preconditioned direction M^-1 B */
    if (!(st = calloc(fr_ials_stats_len(n, d), sizeof *st)))
        return FR_ENOMEM;
    const double *B = noised_sum, *C = B + nd, *W = C + n;
    float *sB = st, *sS = st + 2 * nd, *sC = sS + n, *sW = sC + n;
    /* James-Stein: each item's B_i shrunk by (1 - (d - 2) sd^2 / |B_i|^2)+,
     * which beats the noisy B_i in squared error for every signal (d > 2) */
    for (uint32_t i = 0; i < n; i++) {
        const double *b = B + (size_t)i * d;
        double q = 0.0, f = 1.0;
        for (uint32_t j = 0; j < d; j++)
            q += b[j] * b[j];
        if (d > 2 && noise_sd > 0.0)
            f = q > 0.0 ? 1.0 - (d - 2) * noise_sd * noise_sd / q : 0.0;
        if (f < 0.0)
            f = 0.0;
        for (uint32_t j = 0; j < d; j++)
            sB[(size_t)i * d + j] = (float)(f * b[j]);
    }
    /* unit directions: S_i = C_i and trace W = N */
    for (uint32_t i = 0; i < n; i++)
        sS[i] = sC[i] =
            C[i] > 0.0 ? (float)(C[i] / FR_IALS_DP_COUNT_WEIGHT) : 0.0f;
    for (uint32_t r = 0; r < d; r++)
        for (uint32_t c = 0; c < d; c++)
            sW[(size_t)r * d + c] =
                (float)(0.5 * (W[(size_t)r * d + c] + W[(size_t)c * d + r]));
    double nm = W[(size_t)d * d];
    sW[(size_t)d * d] = nm > 0.0 ? (float)nm : 0.0f;
    memset(H, 0, nd * sizeof *H);
    rc = fr_ials_cg_begin(cg, H, st);
    if (rc == FR_OK)
        memcpy(H, cg->P, nd * sizeof *H);
    free(st);
    return rc;
}
