/*
 * mf_dp.h - member-level clipped updates for differentially private
 * federated averaging (DP-FedAvg with the member as the unit of privacy).
 *
 * For every member a store samples, the member's update is computed from the
 * current global model on that member's interactions alone, clipped to an L2
 * bound C and added into one sum (specs/DP.md sections 1.2 and 2.2, steps
 * 1-3). Adding or removing one member therefore moves the sum by at most C:
 * every other member's contribution depends only on the global model, the
 * seeds and that member's own identity, data and embedding. Rotation,
 * scaling, rounding and noise are applied to the sum elsewhere (dp/).
 *
 * Thread safety: one fr_mf per thread, as for fr_mf_train; the global model
 * is only read.
 */
#ifndef FR_MODEL_MF_DP_H
#define FR_MODEL_MF_DP_H

#include <stddef.h>
#include <stdint.h>

#include "../base/err.h"
#include "mf.h"
#include "model.h"

/* Size of the secret member-sampling key. */
#define FR_MF_DP_KEY_BYTES 32u

typedef struct fr_mf_dp_opts {
    /* epochs: local passes over the member's own interactions (one SGD
     * step each); lr, negatives, l2 as for fr_mf_train; seed picks the
     * negatives (change it every round). Only the logistic loss is
     * supported; batch_size is not used. */
    fr_mf_opts train;
    /* C: L2 bound on one member's contribution (item embedding and bias
     * deltas together). Finite and > 0. */
    double clip;
    /* Poisson member sampling rate in (0, 1]; 1 = every member. */
    double q;
    /* FR_MF_DP_KEY_BYTES secret bytes deciding which members are sampled;
     * may be NULL only with q == 1. Draw it fresh for every round from a
     * CSPRNG: the same key samples the same members again. */
    const uint8_t *sample_key;
} fr_mf_dp_opts;

/* What one call did. Computed from member data: none of it may leave the
 * store in the clear (DP.md 1.2, "other releases"). */
typedef struct fr_mf_dp_stats {
    uint64_t n_sampled;   /* members that contributed to the sum */
    uint64_t n_nonfinite; /* sampled members dropped: non-finite update */
    uint64_t n_clipped;   /* contributions scaled down to the bound */
    double loss;          /* mean last-epoch loss of the contributors */
} fr_mf_dp_stats;

/*
 * For each sampled member with training interactions: starts from global,
 * trains on that member's interactions only (the member's embedding is
 * updated and kept in mf; it never leaves the store), takes the change of
 * the item parameters the member touched (its positives and sampled
 * negatives, with their biases), clips it to L2 norm o->clip in double
 * precision and adds it into sum_out. sum_out has fr_model_n_params(global)
 * doubles, is zeroed here, and uses the fr_model_params layout (item
 * embeddings, then biases). A member whose update is not finite contributes
 * nothing and keeps its old embedding. global is not modified.
 * *n_sampled_out: members that contributed; *loss_out (may be NULL): their
 * mean last-epoch training loss (0 if none).
 *
 * Each member's randomness (its sampling coin, its negatives) comes from
 * (o->sample_key or o->train.seed, member identity) only. Here the identity
 * is the member's index in the dataset; see fr_mf_train_dp_ids when indices
 * can shift between the data being compared.
 *
 * FR_EINVAL on NULL arguments, a shape mismatch, clip <= 0 or not finite,
 * q outside (0, 1], q < 1 without a key, a loss other than logistic or
 * training options out of range; FR_ENOMEM. On failure sum_out and mf are
 * unchanged. The sum is sensitive: wipe it once it has been noised.
 */
FR_NODISCARD fr_err fr_mf_train_dp(fr_mf *mf, const fr_model *global,
                                   const fr_mf_dp_opts *o, double *sum_out,
                                   uint64_t *n_sampled_out, double *loss_out);

/*
 * fr_mf_train_dp with explicit member identities: member_ids (NULL = the
 * dataset index) holds fr_mf_n_members(mf) distinct values, e.g. the first
 * 8 bytes of each member's pseudonym, so that a member's coin and negatives
 * do not change when other members are added or removed and the indices
 * shift. stats_out (may be NULL) gets the counts above. FR_EINVAL also if
 * two ids are equal.
 */
FR_NODISCARD fr_err fr_mf_train_dp_ids(fr_mf *mf, const fr_model *global,
                                       const fr_mf_dp_opts *o,
                                       const uint64_t *member_ids,
                                       double *sum_out,
                                       fr_mf_dp_stats *stats_out);

/*
 * The Poisson sampling coin: nonzero if the member with this identity is
 * sampled at rate q under key (FR_MF_DP_KEY_BYTES bytes). It is the first
 * 8 bytes of the ChaCha20 (RFC 8439) block 0 under key with nonce
 * "mfdp" || le64(member_id), read as a little-endian u64 u, and the member
 * is sampled iff (u >> 11) * 2^-53 < q. q >= 1 samples everyone (key may be
 * NULL then). Pure function; the key is a secret.
 */
int fr_mf_dp_sampled(const uint8_t *key, uint64_t member_id, double q);

#endif
