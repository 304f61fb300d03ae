/*
 * mf.h - local training and evaluation on one store.
 *
 * An fr_mf holds the store's side of the model: member embeddings (never
 * sent anywhere), a leave-one-out split of the store's data and the sampled
 * evaluation negatives. Training takes the global model, runs local epochs of
 * mini-batch SGD on a logistic loss over each positive and `negatives`
 * sampled unobserved items, and updates both the member embeddings and the
 * global item parameters in place. Scores for a batch of members are computed
 * with one cblas_sgemm over all items; gradients for the batch are formed
 * with sgemm as well, so the heavy maths runs through OpenBLAS.
 *
 * Split: for each member with at least 2 interactions, the latest one (by
 * timestamp, see data.h) is held out for testing and 99 negatives are drawn
 * from items the member never interacted with (seeded). Members with a
 * single interaction train only.
 *
 * Thread safety: one fr_mf per thread. The dataset is borrowed and must
 * outlive the fr_mf.
 */
#ifndef FR_MODEL_MF_H
#define FR_MODEL_MF_H

#include <stddef.h>
#include <stdint.h>

#include "../base/err.h"
#include "data.h"
#include "eval.h"
#include "model.h"

#define FR_MF_EVAL_NEGATIVES 99u
#define FR_MF_EVAL_K 10u

typedef struct fr_mf fr_mf;

/* The training loss (see mf_train.c DESIGN). 0 is the original logistic
 * loss, so options built field by field without it keep their meaning. */
typedef enum fr_mf_loss_kind {
    FR_MF_LOSS_LOGISTIC = 0,   /* positive vs `negatives` sampled items */
    FR_MF_LOSS_SOFTMAX,        /* full softmax over the catalogue */
    FR_MF_LOSS_SAMPLED_SOFTMAX, /* positive vs `negatives` sampled items */
    FR_MF_LOSS_BPR,            /* pairwise, `negatives` pairs per positive */
    FR_MF_LOSS_COUNT
} fr_mf_loss_kind;

typedef struct fr_mf_opts {
    uint32_t epochs;     /* local epochs per call of fr_mf_train */
    float lr;            /* SGD step size */
    uint32_t negatives;  /* sampled negatives per positive */
    float l2;            /* L2 penalty on embeddings touched in a batch */
    uint32_t batch_size; /* members per batch */
    uint64_t seed;       /* makes a call reproducible */
    uint32_t loss;       /* fr_mf_loss_kind; 0 = logistic */
} fr_mf_opts;

/* Sensible defaults for the built-in demo data. */
void fr_mf_opts_default(fr_mf_opts *o);

/* FR_EINVAL if dim is out of range or the dataset is empty/not finalized.
 * seed fixes the member-embedding init and the evaluation negatives. */
FR_NODISCARD fr_err fr_mf_new(fr_mf **out, const fr_dataset *data,
                              uint32_t dim, uint64_t seed);
void fr_mf_destroy(fr_mf **mp);

/* Training interactions (excludes held-out test items): the example count
 * used as this store's weight. */
uint64_t fr_mf_train_examples(const fr_mf *mf);

/* Runs opts->epochs epochs over the store's training data, updating member
 * embeddings and model in place. *loss_out (may be NULL) is the mean loss of
 * the last epoch. FR_EINVAL if the model's shape does not match or opts are
 * out of range. FR_ESTATE if training diverged (non-finite values): the
 * member embeddings are restored and the model must be discarded. */
FR_NODISCARD fr_err fr_mf_train(fr_mf *mf, fr_model *model,
                                const fr_mf_opts *opts, double *loss_out);

/* Mean loss over the training data without updating anything. */
FR_NODISCARD fr_err fr_mf_loss(const fr_mf *mf, const fr_model *model,
                               uint64_t seed, double *loss_out);

/* HR@10 / NDCG@10 of the model on the held-out items. */
FR_NODISCARD fr_err fr_mf_evaluate(const fr_mf *mf, const fr_model *model,
                                   fr_eval_result *out);

/* Same protocol, scoring items by their training popularity on this store. */
FR_NODISCARD fr_err fr_mf_evaluate_popularity(const fr_mf *mf,
                                              fr_eval_result *out);

/* Top-k items for member by model score, excluding items the member already
 * interacted with (train and held-out). items_out/scores_out have room for k;
 * *n_out gets how many were written (< k only if few items remain).
 * FR_ENOENT if member is out of range. */
FR_NODISCARD fr_err fr_mf_recommend(const fr_mf *mf, const fr_model *model,
                                    uint32_t member, uint32_t k,
                                    uint32_t *items_out, float *scores_out,
                                    uint32_t *n_out);

/*
 * Member embeddings are the store's private state and are persisted by the
 * store between runs. Format (little-endian): "FRMB", u32 version,
 * u32 n_members, u32 dim, n_members*dim float32, u32 CRC-32 of all before.
 * decode: FR_EPROTO if malformed or the shape differs from this fr_mf; the
 * fr_mf is unchanged then. *buf_out is malloc'd; the caller should wipe it.
 */
FR_NODISCARD fr_err fr_mf_encode_members(const fr_mf *mf, uint8_t **buf_out,
                                         size_t *len_out);
FR_NODISCARD fr_err fr_mf_decode_members(fr_mf *mf, const uint8_t *buf,
                                         size_t len);

/* How fr_mf_new_holdout picks the held-out item of each member (members
 * with a single interaction never lose it). */
typedef enum fr_mf_holdout {
    FR_MF_HOLDOUT_LATEST = 0, /* the latest interaction: fr_mf_new */
    FR_MF_HOLDOUT_RANDOM,     /* one interaction drawn with the seed, for
                                 validation: never the test protocol */
    FR_MF_HOLDOUT_NONE,       /* train on everything; the caller evaluates
                                 with fr_mf_score against its own lists */
} fr_mf_holdout;

/* fr_mf_new with an explicit hold-out rule. With FR_MF_HOLDOUT_NONE,
 * fr_mf_evaluate reports count 0. */
FR_NODISCARD fr_err fr_mf_new_holdout(fr_mf **out, const fr_dataset *data,
                                      uint32_t dim, uint64_t seed,
                                      fr_mf_holdout holdout);

uint32_t fr_mf_n_members(const fr_mf *mf);

/* Scores items[0..n) for member: the one scoring path that evaluation,
 * recommend and segment share. FR_ENOENT if member is out of range,
 * FR_EINVAL if an item is out of range or the model's shape differs. */
FR_NODISCARD fr_err fr_mf_score(const fr_mf *mf, const fr_model *model,
                                uint32_t member, const uint32_t *items,
                                size_t n, float *scores_out);

/* Non-zero if member interacted with item (training or held out). */
int fr_mf_member_has(const fr_mf *mf, uint32_t member, uint32_t item);

/* The k members with the highest score for item, excluding members who
 * already interacted with it; descending, ties by member index. *n_out gets
 * how many were written. FR_EINVAL if item is out of range. */
FR_NODISCARD fr_err fr_mf_segment(const fr_mf *mf, const fr_model *model,
                                  uint32_t item, uint32_t k,
                                  uint32_t *members_out, float *scores_out,
                                  uint32_t *n_out);

/* Refits the member embeddings to a fixed model (item parameters are not
 * changed): opts->epochs epochs of the same loss over the training data.
 * Used when a store receives a new global model and before evaluating it. */
FR_NODISCARD fr_err fr_mf_fit_members(fr_mf *mf, const fr_model *model,
                                      const fr_mf_opts *opts,
                                      double *loss_out);

#endif
