/*
 * secure.c - the store's side of a secure round: SecAgg+ (secagg/secagg.h)
 * driven by the aggregator's requests, the fixed-point encoding of a plain
 * update, and, in DP rounds, the distributed-discrete-Gaussian words of
 * the member-clipped sum (dp.h). The update is masked and sent as soon as
 * both it and the neighbours' shares are in.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "client_int.h"
#include "crypto/crypto.h"
#include "crypto/prim.h"
#include "dp.h"
#include "secagg/quant.h"

#define TAG "client"

void
client_sa_reset(client *c)
{
    fr_sa_client_destroy(&c->sa);
    if (c->sa_input) {
        fr_crypto_wipe(c->sa_input, (size_t)c->sa_setup.n_words * 4);
        free(c->sa_input);
        c->sa_input = NULL;
    }
}

static void
sa_send(client *c, const fr_sa_msg *sa, const fr_metrics *metrics)
{
    fr_msg m = {.type = FR_MSG_SECAGG, .round_id = c->sa_round};

    m.u.secagg.sa = *sa;
    if (metrics) {
        m.u.secagg.has_metrics = 1;
        m.u.secagg.metrics = *metrics;
    }
    client_send_msg(c, &m);
}

/* Masks and sends the encoded update once both it and the shares are in. */
static void
sa_try_mask(client *c)
{
    fr_sa_msg out;
    const char *why = NULL;

    if (!c->sa || !c->sa_input || !fr_sa_client_wants_input(c->sa))
        return;
    if (fr_sa_client_mask(c->sa, c->sa_input, &out, &why)) {
        fr_log_warn(TAG, "round id %llu: cannot mask the update: %s",
                    (unsigned long long)c->sa_round, why ? why : "error");
        client_sa_reset(c);
        return;
    }
    sa_send(c, &out, c->sa_has_metrics ? &c->sa_metrics : NULL);
    fr_log_info(TAG, "round id %llu: masked update sent (%u words)",
                (unsigned long long)c->sa_round, out.n_words);
    {
        char detail[160];
        snprintf(detail, sizeof detail, "round id %llu: masked update sent",
                 (unsigned long long)c->sa_round);
        cstate_audit(c->cs, "round", detail);
    }
    fr_crypto_wipe(c->sa_input, (size_t)c->sa_setup.n_words * 4);
}

/* Sets up the secure part of a round; an error (logged) if this store
 * cannot take part. */
fr_err
client_sa_begin(client *c, const fr_msg *msg)
{
    const fr_msg_round_start *rs = &msg->u.round_start;
    const fr_secagg_setup *su = &rs->secagg;
    fr_sa_params p = {.round_id = msg->round_id,
                      .n = su->n,
                      .k = su->k,
                      .t = su->t,
                      .n_words = su->n_words,
                      .min_inputs = su->min_inputs};
    uint64_t want =
        rs->has_dp ? rs->dp.dim
        : rs->has_ials && rs->ials.phase == FR_IALS_PHASE_STATS
            ? (uint64_t)fr_ials_stats_len(rs->n_items, rs->dim) + 1
        : rs->has_ials ? (uint64_t)rs->n_items * rs->dim + 1
                       : (uint64_t)rs->n_items * rs->dim + rs->n_items + 1;
    fr_sa_msg adv;
    fr_err rc;

    client_sa_reset(c);
    if (!c->id) {
        fr_log_err(TAG,
                   "round id %llu is a secure round, but this store has "
                   "no identity key (sign_key_file): not taking part",
                   (unsigned long long)msg->round_id);
        return FR_ESTATE;
    }
    if (su->n_words != want) {
        fr_log_err(TAG,
                   "round id %llu: masked vector of %u words announced "
                   "for a model of %llu parameters: not taking part",
                   (unsigned long long)msg->round_id, su->n_words,
                   (unsigned long long)(want - 1));
        return FR_EPROTO;
    }
    memcpy(p.graph_commit, su->graph_commit, 32);
    if ((rc = fr_sa_client_new(&p, su->index, c->id, &c->sa)) ||
        (rc = fr_sa_client_advertise(c->sa, &adv))) {
        fr_log_err(TAG,
                   "round id %llu: secure aggregation parameters "
                   "refused",
                   (unsigned long long)msg->round_id);
        client_sa_reset(c);
        return rc;
    }
    c->sa_round = msg->round_id;
    c->sa_setup = *su;
    c->sa_dp = rs->has_dp != 0;
    if (rs->has_dp)
        c->sa_dp_setup = rs->dp;
    sa_send(c, &adv, NULL);
    return FR_OK;
}

void
client_on_secagg(client *c, const fr_msg *msg)
{
    fr_sa_msg out;
    const char *why = NULL;
    fr_err rc;

    if (!c->sa || msg->round_id != c->sa_round) {
        fr_log_info(TAG,
                    "dropped a secagg message for round id %llu: not "
                    "the secure round in progress",
                    (unsigned long long)msg->round_id);
        return;
    }
    rc = fr_sa_client_recv(c->sa, &msg->u.secagg.sa, &out, &why);
    if (rc) {
        fr_log_warn(TAG,
                    "round id %llu: refused to go on with secure "
                    "aggregation: %s",
                    (unsigned long long)msg->round_id,
                    why ? why : fr_strerror(rc));
        client_sa_reset(c);
        return;
    }
    if (out.phase != FR_SA_NONE)
        sa_send(c, &out, NULL);
    if (out.phase == FR_SA_REVEAL && c->sa_dp)
        store_dp_commit(c->dp, c->sa_round);
    if (out.phase == FR_SA_REVEAL)
        client_sa_reset(
            c); /* nothing secret left; the round is the aggregator's */
    else
        sa_try_mask(c);
}

/* Encodes the finished update of a secure round; the masks follow as soon
 * as the shares are in. */
void
client_sa_update_ready(client *c, train_job *job)
{
    fr_quant q;
    uint8_t coins[32];
    double factor = 1.0;
    fr_err rc;

    if (!c->sa || job->round_id != c->sa_round)
        return;
    c->sa_has_metrics = !c->sa_dp || c->cfg->dp_report_metrics;
    if (c->sa_dp) {
        c->sa_input =
            job->dp_sum ? malloc((size_t)c->sa_setup.n_words * 4) : NULL;
        rc = c->sa_input ? store_dp_encode(&c->sa_dp_setup, job->n_dp_sum,
                                           job->dp_sum, c->sa_input)
                         : FR_ENOMEM;
        if (rc) {
            fr_log_err(TAG, "round id %llu: cannot encode the DP update: %s",
                       (unsigned long long)job->round_id, fr_strerror(rc));
            client_sa_reset(c);
            return;
        }
        fr_log_info(TAG,
                    "round id %llu: %llu members' clipped updates "
                    "summed and noised (distributed discrete Gaussian); "
                    "privacy spent by this store: epsilon %.4f",
                    (unsigned long long)job->round_id,
                    (unsigned long long)job->dp_members, store_dp_spent(c->dp));
        c->sa_metrics = job->metrics;
        sa_try_mask(c);
        return;
    }
    /* Sized for every store whose input ends up in the same total: in a
     * region's round, the stores of all regions (encode_n). */
    rc = fr_quant_init(&q, fr_secagg_encode_n(&c->sa_setup), c->sa_setup.clip,
                       c->sa_setup.weight_cap);
    c->sa_input = rc ? NULL : malloc((size_t)c->sa_setup.n_words * 4);
    fr_crypto_random(coins, sizeof coins);
    if (!rc && !c->sa_input)
        rc = FR_ENOMEM;
    if (!rc && (job->sums ? job->n_sums : fr_model_n_params(job->delta)) + 1 !=
                   c->sa_setup.n_words)
        rc = FR_EPROTO; /* the round asked for another length */
    if (!rc)
        rc = job->sums
                 ? fr_quant_encode(&q, job->sums, job->n_sums,
                                   job->num_examples, coins, c->sa_input,
                                   &factor)
                 : fr_quant_encode(&q, fr_model_params(job->delta),
                                   fr_model_n_params(job->delta),
                                   job->num_examples, coins, c->sa_input,
                                   &factor);
    fr_crypto_wipe(coins, sizeof coins);
    if (rc) {
        fr_log_err(TAG, "round id %llu: cannot encode the update: %s",
                   (unsigned long long)job->round_id, fr_strerror(rc));
        client_sa_reset(c);
        return;
    }
    if (factor < 1.0 && job->sums) {
        /* a scaled-down sum would corrupt the item step: send nothing */
        fr_log_err(TAG,
                   "round id %llu: the least-squares sums have an L2 norm "
                   "of %.4g, above the round's clip %g; not sent (a "
                   "scaled sum would be wrong): raise ials_clip (phase 1) "
                   "or ials_clip_step (phase 2) on the aggregator",
                   (unsigned long long)job->round_id,
                   c->sa_setup.clip / factor, c->sa_setup.clip);
        client_sa_reset(c);
        return;
    }
    if (factor < 1.0)
        fr_log_info(TAG,
                    "round id %llu: update clipped to L2 norm %g "
                    "(scaled by %.4f)",
                    (unsigned long long)job->round_id, c->sa_setup.clip,
                    factor);
    c->sa_metrics = job->metrics;
    sa_try_mask(c);
}

/* Stable member ids for DP training: a hash of each member's id (its
 * pseudonym in a protected store), so that one member's presence never
 * changes another's randomness. NULL on ENOMEM. */
uint64_t *
client_member_ids(const store_data *sd)
{
    uint32_t n = fr_dataset_n_members(store_data_dataset(sd));
    uint64_t *ids = malloc((n ? n : 1) * sizeof *ids);

    if (!ids)
        return NULL;
    for (uint32_t i = 0; i < n; i++) {
        const char *id = store_data_member_id(sd, i);
        fr_crypto_hash_state st;
        uint8_t h[8];
        fr_crypto_hash_init(&st, sizeof h);
        fr_crypto_hash_update(&st, id, strlen(id));
        fr_crypto_hash_final(&st, h, sizeof h);
        ids[i] = fr_get_u64le(h);
    }
    return ids;
}
