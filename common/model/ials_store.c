/*
 * ials_store.c - the store's side of the iALS model kind (ials.h): exact
 * member solves and the store's share of the item step's sums.
 *
 * DESIGN. A member's system is alpha0 G + reg I plus the outer products of
 * its items' factors. The items' rows are gathered into a block H_u
 * (n_u x d) and the outer products added with one ssyrk (level 3: the
 * "batched" form, against one ssyr per item in fr_ials_solve_member); the
 * right-hand side is the column sum of the block. sposv factorises and
 * solves. The sums for the item step need, per (member, item) pair, one
 * dot product and two axpys; they run over the store's own interactions
 * only, never the catalogue.
 */
#include "ials.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mf_int.h"
#include "model_int.h"

extern void sposv_(const char *uplo, const int *n, const int *nrhs, float *a,
                   const int *lda, float *b, const int *ldb, int *info);

void
fr_ials_opts_default(fr_ials_opts *o)
{
    o->alpha0 = 0.1;
    o->lambda = 0.01;
    o->nu = 1.0;
}

fr_err
fr_ials_opts_check(const fr_ials_opts *o)
{
    if (!o || !isfinite(o->alpha0) || !isfinite(o->lambda) ||
        !isfinite(o->nu) || o->alpha0 < 0.0 || !(o->lambda > 0.0) ||
        o->nu < 0.0 || o->nu > 2.0)
        return FR_EINVAL;
    return FR_OK;
}

size_t
fr_ials_stats_len(uint32_t n_items, uint32_t d)
{
    return 2 * (size_t)n_items * d + 2 * (size_t)n_items + (size_t)d * d + 1;
}

/* Largest training-positive count of any member: the gather block's rows. */
static uint32_t
max_train(const fr_mf *mf)
{
    uint32_t m = 0;
    for (uint32_t u = 0; u < mf->n_members; u++)
        if (mf->n_train[u] > m)
            m = mf->n_train[u];
    return m;
}

fr_err
fr_ials_fit_members(fr_mf *mf, const fr_model *model, const float *G,
                    const fr_ials_opts *o)
{
    uint32_t d, rows;
    int nd, one = 1, info = 0;
    float *A, *blk;
    fr_err rc = FR_OK;

    if (!mf || !model || !G || fr_ials_opts_check(o) ||
        !fr_mf_shape_matches(mf, model))
        return FR_EINVAL;
    d = mf->dim;
    nd = (int)d;
    rows = max_train(mf);
    A = malloc((size_t)d * d * sizeof *A);
    blk = malloc(((size_t)(rows ? rows : 1)) * d * sizeof *blk);
    if (!A || !blk) {
        free(A);
        free(blk);
        return FR_ENOMEM;
    }
    const float *H = fr_model_item_emb_const(model);
    for (uint32_t u = 0; u < mf->n_members && !rc; u++) {
        uint32_t n = mf->n_train[u];
        const uint32_t *items = fr_mf_train_items(mf, u);
        float *w = mf->p + (size_t)u * d;
        double reg = fr_ials_reg(o->lambda, o->nu, o->alpha0, n, mf->n_items);

        if (n == 0) {
            memset(w, 0, d * sizeof *w);
            continue;
        }
        for (uint32_t k = 0; k < n; k++)
            memcpy(blk + (size_t)k * d, H + (size_t)items[k] * d,
                   d * sizeof *blk);
        for (size_t e = 0; e < (size_t)d * d; e++)
            A[e] = (float)o->alpha0 * G[e];
        for (uint32_t j = 0; j < d; j++)
            A[(size_t)j * d + j] += (float)reg;
        /* blk row-major n x d is column-major d x n: A += blk^T blk */
        cblas_ssyrk(CblasColMajor, CblasLower, CblasNoTrans, nd, (int)n, 1.0f,
                    blk, nd, 1.0f, A, nd);
        memset(w, 0, d * sizeof *w);
        for (uint32_t k = 0; k < n; k++)
            cblas_saxpy(nd, 1.0f, blk + (size_t)k * d, 1, w, 1);
        sposv_("L", &nd, &one, A, &nd, w, &nd, &info);
        if (info != 0)
            rc = FR_ESTATE;
        for (uint32_t j = 0; j < d && !rc; j++)
            if (!isfinite(w[j]))
                rc = FR_ESTATE;
    }
    free(A);
    free(blk);
    return rc;
}

fr_err
fr_ials_store_stats(const fr_mf *mf, const fr_model *model, float *out)
{
    uint32_t d, n_items;

    if (!mf || !model || !out || !fr_mf_shape_matches(mf, model))
        return FR_EINVAL;
    d = mf->dim;
    n_items = mf->n_items;
    float *B = out, *Q = out + (size_t)n_items * d;
    float *S = Q + (size_t)n_items * d, *C = S + n_items, *W = C + n_items;
    float *N = W + (size_t)d * d;
    const float *H = fr_model_item_emb_const(model);
    int nd = (int)d;

    for (uint32_t u = 0; u < mf->n_members; u++) {
        uint32_t n = mf->n_train[u];
        const uint32_t *items = fr_mf_train_items(mf, u);
        const float *w = mf->p + (size_t)u * d;
        float ww = cblas_sdot(nd, w, 1, w, 1);

        if (n == 0)
            continue;
        for (uint32_t k = 0; k < n; k++) {
            size_t at = (size_t)items[k] * d;
            float s = cblas_sdot(nd, w, 1, H + at, 1);
            cblas_saxpy(nd, 1.0f, w, 1, B + at, 1);
            cblas_saxpy(nd, s, w, 1, Q + at, 1);
            S[items[k]] += ww;
            C[items[k]] += 1.0f;
        }
        N[0] += 1.0f;
    }
    /* W += P^T P over the members with positives (the others are 0) */
    cblas_ssyrk(CblasColMajor, CblasLower, CblasNoTrans, nd,
                (int)mf->n_members, 1.0f, mf->p, nd, 1.0f, W, nd);
    for (uint32_t c = 0; c < d; c++)
        for (uint32_t r = c + 1; r < d; r++)
            W[(size_t)r * d + c] = W[(size_t)c * d + r];
    return FR_OK;
}

fr_err
fr_ials_store_matvec(const fr_mf *mf, const float *V, uint32_t n_items,
                     float *out)
{
    if (!mf || !V || !out || n_items != mf->n_items)
        return FR_EINVAL;
    uint32_t d = mf->dim;
    int nd = (int)d;
    for (uint32_t u = 0; u < mf->n_members; u++) {
        uint32_t n = mf->n_train[u];
        const uint32_t *items = fr_mf_train_items(mf, u);
        const float *w = mf->p + (size_t)u * d;
        for (uint32_t k = 0; k < n; k++) {
            size_t at = (size_t)items[k] * d;
            cblas_saxpy(nd, cblas_sdot(nd, w, 1, V + at, 1), w, 1, out + at,
                        1);
        }
    }
    return FR_OK;
}
