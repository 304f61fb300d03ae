/*
 * worker.c - runs train_jobs on a dedicated thread (see worker.h).
 *
 * Training runs one epoch per call into the model code so that progress
 * can be reported per epoch (base/progress.h: a bar on a terminal, a log
 * line every few seconds otherwise); the reporter lives on this thread.
 * Epoch e > 0 draws its shuffle and negatives from its own seed (see
 * epoch_seed), so a run is as reproducible as before, and a diverging
 * epoch restores the member embeddings as they were before the job.
 */
#include "worker.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/progress.h"
#include "base/util.h"
#include "crypto/crypto.h"
#include "evalset.h"

#define TAG "train"

struct worker {
    fr_net_sock *main_end;   /* used by the main thread */
    fr_net_sock *thread_end; /* used by the worker thread */
    pthread_t thread;
    int started;
    train_job *outstanding; /* job handed over and not yet returned */
};

void
train_job_destroy(train_job **jp)
{
    if (!jp || !*jp)
        return;
    if ((*jp)->dp_sum) { /* sums over members: wipe it first */
        fr_crypto_wipe((*jp)->dp_sum, (*jp)->n_dp_sum * sizeof(double));
        free((*jp)->dp_sum);
    }
    fr_model_destroy(&(*jp)->global);
    fr_model_destroy(&(*jp)->delta);
    if ((*jp)->sums) /* sums over this store's members */
        fr_crypto_wipe((*jp)->sums, (*jp)->n_sums * sizeof(float));
    free((*jp)->sums);
    free((*jp)->ials_dir);
    fr_crypto_wipe((*jp)->dp_key, sizeof (*jp)->dp_key);
    free((*jp)->dp_ids);
    free(*jp);
    *jp = NULL;
}

static fr_err
evaluate(const train_job *job, const fr_model *model, fr_eval_result *q,
         fr_eval_result *pop)
{
    fr_err rc;

    if (job->eval) {
        if ((rc = evalset_evaluate(job->eval, job->mf, model, q)))
            return rc;
        return evalset_evaluate_popularity(job->eval, job->data, pop);
    }
    if ((rc = fr_mf_evaluate(job->mf, model, q)))
        return rc;
    return fr_mf_evaluate_popularity(job->mf, pop);
}

static void
set_metrics(train_job *job, const fr_eval_result *q,
            const fr_eval_result *pop, double loss)
{
    job->metrics = (fr_metrics){.hr10 = q->hr, .ndcg10 = q->ndcg,
                                .pop_hr10 = pop->hr, .pop_ndcg10 = pop->ndcg,
                                .eval_members = q->count,
                                .train_loss = loss};
}

/* The seed of epoch e: the round's own for the first epoch, a mix of it
 * and e (splitmix64 increment) after. */
static uint64_t
epoch_seed(uint64_t seed, uint32_t e)
{
    return e == 0 ? seed : seed + 0x9E3779B97F4A7C15ull * e;
}

/* opts->epochs epochs, one call each, with progress. model NULL: refit
 * the members to the fixed job->global. On FR_ESTATE (divergence) the
 * member embeddings are as before the first epoch. */
static fr_err
run_epochs(train_job *job, fr_model *model, double *loss_out)
{
    fr_mf_opts one = job->opts;
    uint8_t *saved = NULL;
    size_t saved_len = 0;
    fr_progress p;
    fr_err rc = FR_OK;

    if (job->opts.epochs > 1 &&
        (rc = fr_mf_encode_members(job->mf, &saved, &saved_len)))
        return rc;
    fr_progress_begin(&p, model ? "training" : "refit", job->opts.epochs,
                      "epochs");
    one.epochs = 1;
    for (uint32_t e = 0; e < job->opts.epochs && rc == FR_OK; e++) {
        one.seed = epoch_seed(job->opts.seed, e);
        rc = model ? fr_mf_train(job->mf, model, &one, loss_out)
                   : fr_mf_fit_members(job->mf, job->global, &one, loss_out);
        if (rc == FR_OK)
            fr_progress_update(&p, e + 1);
    }
    fr_progress_end(&p);
    if (rc == FR_ESTATE && saved &&
        fr_mf_decode_members(job->mf, saved, saved_len) != FR_OK)
        fr_log_err(TAG, "cannot restore the member embeddings after "
                   "training diverged");
    if (saved) {
        fr_crypto_wipe(saved, saved_len);
        free(saved);
    }
    return rc;
}

static fr_err
run_refit(train_job *job)
{
    fr_eval_result q, pop;
    double loss = 0;
    fr_err rc;

    if ((rc = run_epochs(job, NULL, &loss)) ||
        (rc = evaluate(job, job->global, &q, &pop)))
        return rc;
    set_metrics(job, &q, &pop, loss);
    return FR_OK;
}

static fr_err
run_train(train_job *job)
{
    fr_model *local = NULL;
    fr_eval_result q, pop;
    double loss = 0;
    fr_err rc;

    if ((rc = fr_model_dup(job->global, &local)) ||
        (rc = run_epochs(job, local, &loss)) ||
        (rc = evaluate(job, local, &q, &pop)))
        goto out;
    {
        float *d = fr_model_params(local);
        const float *g = fr_model_params_const(job->global);
        for (size_t i = 0, n = fr_model_n_params(local); i < n; i++)
            d[i] -= g[i];
    }
    job->delta = local;
    local = NULL;
    set_metrics(job, &q, &pop, loss);
    job->num_examples = fr_mf_train_examples(job->mf);
out:
    fr_model_destroy(&local);
    return rc;
}

/* A DP round: each member's contribution from the global model on its own
 * interactions, clipped and summed (model/mf_dp.h). The figures are those
 * of the global model the round started from. */
static fr_err
run_train_dp(train_job *job)
{
    size_t n = fr_model_n_params(job->global);
    fr_eval_result q, pop;
    double loss = 0;
    fr_progress p;
    fr_err rc;

    job->dp_sum = malloc(n * sizeof *job->dp_sum);
    if (!job->dp_sum)
        return FR_ENOMEM;
    job->n_dp_sum = n;
    job->dp_opts.sample_key = job->dp_opts.q < 1 ? job->dp_key : NULL;
    fr_progress_begin(&p, "training (member-clipped)", 1, "passes");
    {
        fr_mf_dp_stats st = {0};
        rc = fr_mf_train_dp_ids(job->mf, job->global, &job->dp_opts,
                                job->dp_ids, job->dp_sum, &st);
        job->dp_members = st.n_sampled;
        loss = st.loss;
    }
    fr_progress_update(&p, 1);
    fr_progress_end(&p);
    if (rc || (rc = evaluate(job, job->global, &q, &pop)))
        return rc;
    set_metrics(job, &q, &pop, loss);
    job->num_examples = fr_mf_train_examples(job->mf);
    return FR_OK;
}

/* The least-squares kind: solve every member exactly against the global
 * item factors (their Gramian computed here), then, in a round, the
 * store's share of the sums its phase asks for: under DP (phase 3) the
 * sum of the members' clipped vectors, noised when it is encoded. */
static fr_err
ials_solve(train_job *job)
{
    uint32_t d = fr_model_dim(job->global);
    float *G = malloc((size_t)d * d * sizeof *G);
    fr_err rc;

    if (!G)
        return FR_ENOMEM;
    memset(fr_model_item_bias(job->global), 0,
           fr_model_n_items(job->global) * sizeof(float));
    rc = fr_ials_gramian(fr_model_item_emb_const(job->global),
                         fr_model_n_items(job->global), d, G);
    if (!rc)
        rc = fr_ials_fit_members(job->mf, job->global, G, &job->ials_opts);
    free(G);
    return rc;
}

static fr_err
run_ials(train_job *job)
{
    uint32_t n = fr_model_n_items(job->global), d = fr_model_dim(job->global);
    fr_eval_result q = {0}, pop = {0};
    fr_progress p;
    fr_err rc = FR_OK;

    if (job->kind == JOB_REFIT || job->ials_phase != FR_IALS_PHASE_MATVEC) {
        fr_progress_begin(&p, "member solves", 1, "passes");
        rc = ials_solve(job);
        fr_progress_update(&p, 1);
        fr_progress_end(&p);
        if (!rc)
            rc = evaluate(job, job->global, &q, &pop);
        if (rc)
            return rc;
    }
    set_metrics(job, &q, &pop, 0.0);
    job->num_examples = 1; /* each store's sums count once */
    if (job->kind == JOB_REFIT)
        return FR_OK;
    if (job->ials_phase == FR_IALS_PHASE_DP) {
        uint64_t clipped = 0;
        job->n_dp_sum = fr_ials_dp_len(n, d);
        if (!(job->dp_sum = calloc(job->n_dp_sum, sizeof *job->dp_sum)))
            return FR_ENOMEM;
        rc = fr_ials_dp_member_sums(job->mf, job->dp_opts.clip, job->dp_sum,
                                    &clipped);
        job->dp_members = fr_mf_n_members(job->mf);
        return rc;
    }
    job->n_sums = job->ials_phase == FR_IALS_PHASE_STATS
                      ? fr_ials_stats_len(n, d)
                      : (size_t)n * d;
    job->sums = calloc(job->n_sums, sizeof *job->sums);
    if (!job->sums)
        return FR_ENOMEM;
    return job->ials_phase == FR_IALS_PHASE_STATS
               ? fr_ials_store_stats(job->mf, job->global, job->sums)
               : fr_ials_store_matvec(job->mf, job->ials_dir, n, job->sums);
}

static fr_err
run_job(train_job *job)
{
    int64_t t0 = fr_clock_ms();
    fr_err rc = job->ials                ? run_ials(job)
                : job->kind == JOB_REFIT ? run_refit(job)
                : job->dp                ? run_train_dp(job)
                                         : run_train(job);

    job->seconds = (double)(fr_clock_ms() - t0) / 1000.0;
    return rc;
}

static void *
thread_main(void *arg)
{
    worker *w = arg;

    for (;;) {
        uint8_t *buf = NULL;
        size_t len = 0;
        train_job *job = NULL;

        if (fr_net_recv(w->thread_end, -1, NULL, &buf, &len) != FR_OK)
            continue;
        if (len == sizeof job)
            memcpy(&job, buf, sizeof job);
        free(buf);
        if (!job)
            break;
        job->rc = run_job(job);
        while (fr_net_send(w->thread_end, NULL, &job, sizeof job) != FR_OK)
            fr_sleep_ms(10); /* the main thread always drains its end */
    }
    return NULL;
}

fr_err
worker_new(worker **out, fr_net_ctx *ctx)
{
    worker *w = calloc(1, sizeof *w);
    char name[64];
    fr_err rc;

    if (!w)
        return FR_ENOMEM;
    snprintf(name, sizeof name, "train-%p", (void *)w);
    if ((rc = fr_net_pair(ctx, name, 1, &w->main_end)) ||
        (rc = fr_net_pair(ctx, name, 0, &w->thread_end)))
        goto fail;
    if (pthread_create(&w->thread, NULL, thread_main, w) != 0) {
        rc = FR_ESYS;
        goto fail;
    }
    w->started = 1;
    *out = w;
    return FR_OK;
fail:
    worker_destroy(&w);
    return rc;
}

void
worker_destroy(worker **wp)
{
    worker *w;

    if (!wp || !*wp)
        return;
    w = *wp;
    if (w->started) {
        train_job *stop = NULL;
        /* The thread finishes its current job first, then sees the stop. */
        while (fr_net_send(w->main_end, NULL, &stop, sizeof stop) != FR_OK)
            fr_sleep_ms(10);
        pthread_join(w->thread, NULL);
    }
    if (w->outstanding) {
        train_job *j = NULL;
        if (worker_collect(w, &j) == FR_OK)
            train_job_destroy(&j);
    }
    fr_net_sock_destroy(&w->main_end);
    fr_net_sock_destroy(&w->thread_end);
    free(w);
    *wp = NULL;
}

fr_err
worker_submit(worker *w, train_job **jobp)
{
    fr_err rc;

    if (w->outstanding)
        return FR_ESTATE;
    rc = fr_net_send(w->main_end, NULL, jobp, sizeof *jobp);
    if (rc)
        return rc;
    w->outstanding = *jobp;
    *jobp = NULL;
    return FR_OK;
}

fr_net_sock *
worker_sock(worker *w)
{
    return w->main_end;
}

fr_err
worker_collect(worker *w, train_job **out)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    train_job *job = NULL;
    fr_err rc = fr_net_recv(w->main_end, 0, NULL, &buf, &len);

    if (rc)
        return rc;
    if (len == sizeof job)
        memcpy(&job, buf, sizeof job);
    free(buf);
    if (!job || job != w->outstanding)
        return FR_EPROTO;
    w->outstanding = NULL;
    *out = job;
    return FR_OK;
}
