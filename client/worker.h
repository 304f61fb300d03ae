/*
 * worker.h - the store's training thread.
 *
 * DESIGN. Local training can take much longer than a heartbeat interval, so
 * it runs on its own thread while the main loop keeps the connection alive.
 * The two talk over an inproc PAIR socket carrying one pointer per message:
 * a train_job goes in, the same job comes back with its results. While a job
 * is out, only the worker touches the fr_mf (member embeddings); the main
 * thread waits for the job to come back before reading them. A NULL job asks
 * the thread to exit. Progress of a long job (per epoch) is reported from the
 * worker thread through base/progress.h, which is safe to use there.
 */
#ifndef FR_CLIENT_WORKER_H
#define FR_CLIENT_WORKER_H

#include <stdint.h>

#include "base/err.h"
#include "model/mf.h"
#include "model/ials.h"
#include "model/mf_dp.h"
#include "model/model.h"
#include "net/net.h"
#include "wire/wire.h"

typedef enum job_kind {
    JOB_TRAIN, /* a round: local training, then the delta */
    JOB_REFIT, /* a new global model: fit member embeddings to it */
} job_kind;

typedef struct evalset evalset;

typedef struct train_job {
    job_kind kind;
    uint64_t round_id;
    fr_model *global; /* owned: the model the round started from */
    fr_mf_opts opts;  /* for JOB_REFIT, opts.epochs are refit epochs */
    fr_mf *mf;        /* borrowed: the store's member state */
    const evalset *eval;     /* borrowed, may be NULL: fixed test list */
    const fr_dataset *data;  /* borrowed: for the popularity baseline */
    int dp;                  /* member-level DP round: clipped sum */
    fr_mf_dp_opts dp_opts;
    uint8_t dp_key[32];      /* secret: which members are sampled */
    uint64_t *dp_ids;        /* owned: stable member ids (pseudonym hash) */
    /* The least-squares kind (model/ials.h): a round's phase, or for
     * JOB_REFIT the exact member solve instead of SGD epochs. */
    int ials;
    uint32_t ials_phase;     /* FR_IALS_PHASE_* (JOB_TRAIN) */
    fr_ials_opts ials_opts;
    float *ials_dir;         /* owned: phase 2's direction, n_items * dim */
    /* results, valid when the job comes back */
    fr_err rc;
    fr_model *delta;  /* owned: local parameters minus global ones
                         (JOB_TRAIN only, not in DP rounds) */
    double *dp_sum;   /* owned: DP rounds: the member-clipped sum */
    size_t n_dp_sum;  /* its length (the model's parameters, or under
                         model ials fr_ials_dp_len) */
    uint64_t dp_members; /* members in dp_sum */
    float *sums;      /* owned: an iALS round's sums (n_sums floats) */
    size_t n_sums;
    fr_metrics metrics;
    uint64_t num_examples;
    double seconds;
} train_job;

void train_job_destroy(train_job **jp);

typedef struct worker worker;

FR_NODISCARD fr_err worker_new(worker **out, fr_net_ctx *ctx);
/* Asks the thread to stop, waits for it, frees. A job still out is lost
 * (its memory is reclaimed). Accepts NULL. */
void worker_destroy(worker **wp);

/* Hands *jobp to the thread; on success *jobp becomes NULL. */
FR_NODISCARD fr_err worker_submit(worker *w, train_job **jobp);

/* The socket to poll for finished jobs. Borrowed. */
fr_net_sock *worker_sock(worker *w);

/* Takes back a finished job (owned by the caller). FR_ETIMEDOUT if none. */
FR_NODISCARD fr_err worker_collect(worker *w, train_job **out);

#endif
