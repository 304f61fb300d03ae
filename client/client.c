/*
 * client.c - the store client's `run` loop and `recommend` command.
 *
 * DESIGN. One poll loop watches the aggregator connection (DEALER, CURVE),
 * that connection's monitor and the training worker. Every heartbeat_ms
 * while connected the store sends HELLO with its example count and whether
 * it is busy, and it sends one at once whenever a connection comes up, which
 * is how it (re)announces itself after the aggregator restarts.
 *
 * Connection states (net.h fr_net_link), each change logged once:
 * CONNECTING (new socket) -> UP (handshake done) -> DOWN (lost or not
 * reachable: ZeroMQ retries from 200 ms, doubling up to reconnect_max_ms)
 * or REFUSED (our key is not on the allow-list: libzmq 4.3 never retries
 * that) or FAILED (other handshake failure). While not UP the socket is
 * destroyed and made afresh (net/uplink.h) after a delay that starts at
 * 1 s and doubles up to reconnect_max_ms, with +-20 % jitter so that
 * stores do not all knock at once; UP resets it. So a store put on the allow-list later (operator
 * edits it, SIGHUP) joins without a restart. Nothing is sent while not UP,
 * and leaving UP abandons the round in hand: the secure round's state is
 * wiped, a pending ROUND_START dropped, and a training job still running is
 * thrown away when it comes back, so nothing is sent for an old round.
 * ROUND_START hands a job to the worker; the finished job becomes an UPDATE
 * (model delta and quality figures; never member embeddings or data).
 * ROUND_END of a completed round carries the new global model, which is
 * saved with the member embeddings in state_dir so `recommend` can serve
 * from them.
 *
 * Secure rounds (ROUND_START with SecAgg+ parameters, secure.c): the store
 * advertises its round keys at once and answers each SecAgg request as it
 * comes, while training runs; the finished update is clipped, weighted and
 * encoded in fixed point (secagg/quant.h), and sent masked once the
 * aggregator has delivered the neighbours' shares. The store's identity key
 * signs its round keys and the survivor set. A DP round (ROUND_START.dp) is
 * checked and charged to the store's privacy ledger before any member data
 * is read (dp.h); the worker then trains member by member, clipped, and the
 * sum goes out as noised DDG words instead.
 */
#include "client.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "base/log.h"
#include "base/util.h"
#include "client_int.h"

#define TAG "client"

/* ZeroMQ's first reconnect attempt; then doubling to reconnect_max_ms. */
#define RECONNECT_IVL_MS 200
/* First delay before the socket is rebuilt while the link is not up. */
#define REBUILD_FIRST_MS 1000

static volatile sig_atomic_t stop_requested;

static void
on_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* Creates the member state for dim, restoring saved embeddings when their
 * shape matches (a different dim starts afresh, which the log says). */
fr_mf_holdout
client_holdout(const client_config *cfg)
{
    if (cfg->validate)
        return FR_MF_HOLDOUT_RANDOM;
    return *cfg->test_file ? FR_MF_HOLDOUT_NONE : FR_MF_HOLDOUT_LATEST;
}

fr_err
client_open_members(const client_config *cfg, const cstate *cs, uint32_t dim,
                    fr_mf **out)
{
    fr_err rc = fr_mf_new_holdout(out, store_data_dataset(cstate_data(cs)), dim,
                                  (uint64_t)cfg->seed, client_holdout(cfg));

    if (rc)
        return rc;
    rc = cstate_load_members(cs, *out);
    if (rc == FR_OK)
        fr_log_info(TAG, "member embeddings restored");
    else if (rc != FR_ENOENT)
        fr_log_warn(TAG, "saved member embeddings not usable (damaged or "
                         "another shape); starting afresh");
    return FR_OK;
}

static void
save_members(client *c)
{
    fr_err rc = cstate_save_members(c->cs, c->mf);

    if (rc)
        fr_log_err(TAG, "cannot save member embeddings: %s", fr_strerror(rc));
}

void
client_send_msg(client *c, const fr_msg *m)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    fr_err rc;

    if (!c->link || fr_net_uplink_state(c->link) != FR_NET_LINK_UP) {
        fr_log_debug(TAG, "%s not sent: not connected",
                     fr_msg_type_name(m->type));
        return;
    }
    rc = fr_wire_encode(m, (size_t)c->cfg->max_message_bytes, &buf, &len);
    if (rc == FR_OK)
        rc = fr_net_uplink_send(c->link, buf, len);
    if (rc)
        fr_log_info(TAG, "%s not sent: %s", fr_msg_type_name(m->type),
                    fr_strerror(rc));
    free(buf);
}

void
client_send_hello(client *c)
{
    fr_msg m = {.type = FR_MSG_HELLO, .round_id = c->last_round};
    const fr_dataset *d = store_data_dataset(cstate_data(c->cs));

    /* A count of member data is a release of its own: a store under DP
     * keeps it (the aggregator then schedules without it). */
    m.u.hello.num_examples =
        store_dp_active(c->dp) ? 0 : fr_dataset_n_interactions(d);
    m.u.hello.last_round = c->heard.round_id;
    m.u.hello.busy = (uint32_t)c->busy;
    client_send_msg(c, &m);
}

static fr_err
model_from_wire(uint32_t n_items, uint32_t dim, const float *emb,
                const float *bias, fr_model **out)
{
    fr_err rc = fr_model_new(out, n_items, dim);

    if (rc)
        return rc;
    memcpy(fr_model_item_emb(*out), emb, (size_t)n_items * dim * sizeof *emb);
    memcpy(fr_model_item_bias(*out), bias, n_items * sizeof *bias);
    return FR_OK;
}

/* Checks a DP round and charges it to the store's privacy ledger; refused
 * (logged and audited) otherwise. */
static fr_err
admit_dp_round(client *c, const fr_msg *msg)
{
    const fr_msg_round_start *rs = &msg->u.round_start;
    char why[256] = "", detail[320];
    /* what the store sums: the model's parameters, or under model ials
     * the members' vectors (model/ials.h) */
    uint64_t n = rs->has_ials ? fr_ials_dp_len(rs->n_items, rs->dim)
                              : (uint64_t)rs->n_items * rs->dim + rs->n_items;
    fr_err rc;

    if (rs->has_ials && rs->dp.q < 1) {
        snprintf(why, sizeof why, "model ials sums every member: a member "
                 "sampling rate below 1 is not supported");
        rc = FR_EINVAL;
    } else
        rc = store_dp_admit(c->dp, msg->round_id, &rs->dp, &rs->secagg, n,
                            why, sizeof why);
    if (rc == FR_OK)
        return FR_OK;
    fr_log_ev(FR_LOG_WARN, TAG,
              rc == FR_ELIMIT ? "dp_budget_exhausted" : "dp_refused",
              "round id %llu: not taking part: %s",
              (unsigned long long)msg->round_id, why);
    snprintf(detail, sizeof detail, "round id %llu refused: %s",
             (unsigned long long)msg->round_id, why);
    cstate_audit(c->cs, "privacy", detail);
    return rc;
}

/* Reads the store's data afresh for a round; FR_ENOENT (logged) when no
 * member is left to train on. */
static fr_err
refresh_data(client *c, const fr_msg *msg)
{
    int changed = 0;
    fr_err rc;

    /* The store's SKUs map to item indices through the round's catalogue
     * (NULL: the legacy integer rule); a change of mapping rebuilds the
     * data at this refresh. */
    cstate_set_catalogue(c->cs, client_cat_for_round(c));
    if ((rc = cstate_refresh(c->cs, &changed))) {
        fr_log_err(TAG, "round id %llu ignored: cannot read the store: %s",
                   (unsigned long long)msg->round_id, fr_strerror(rc));
        return rc;
    }
    if (changed) /* consent, erasure or retention changed the data */
        fr_mf_destroy(&c->mf);
    if (fr_dataset_n_members(store_data_dataset(cstate_data(c->cs))) == 0) {
        fr_log_warn(TAG,
                    "round id %llu: no member consents to training; not "
                    "taking part",
                    (unsigned long long)msg->round_id);
        return FR_ENOENT;
    }
    return FR_OK;
}

/* The training job of a round: the global model, the options and, in a DP
 * round, the member-level settings. FR_ENOMEM (logged) on failure. */
static fr_err
make_train_job(client *c, const fr_msg *msg, train_job **out)
{
    const fr_msg_round_start *rs = &msg->u.round_start;
    train_job *job = calloc(1, sizeof *job);

    if (!job || model_from_wire(rs->n_items, rs->dim, rs->item_emb,
                                rs->item_bias, &job->global))
        goto nomem;
    job->kind = JOB_TRAIN;
    job->round_id = msg->round_id;
    if (rs->has_dp) {
        job->dp = 1;
        job->dp_opts.clip = rs->dp.clip;
        job->dp_opts.q = rs->dp.q;
        fr_crypto_random(job->dp_key, sizeof job->dp_key);
        job->dp_ids = client_member_ids(cstate_data(c->cs));
        if (!job->dp_ids)
            goto nomem;
    }
    job->mf = c->mf;
    job->eval = c->eval;
    job->data = store_data_dataset(cstate_data(c->cs));
    job->opts = (fr_mf_opts){.epochs = rs->train.local_epochs,
                             .lr = rs->train.learning_rate,
                             .negatives = rs->train.negatives,
                             .l2 = rs->train.l2,
                             .batch_size = rs->train.batch_size,
                             .seed = rs->train.seed,
                             .loss = rs->train.loss};
    job->dp_opts.train = job->opts;
    if (rs->has_ials) {
        job->ials = 1;
        job->ials_phase = rs->ials.phase;
        job->ials_opts = (fr_ials_opts){.alpha0 = rs->ials.alpha0,
                                        .lambda = rs->ials.lambda,
                                        .nu = rs->ials.nu};
        if (rs->ials.n_direction) {
            job->ials_dir = malloc(rs->ials.n_direction * sizeof(float));
            if (!job->ials_dir)
                goto nomem;
            memcpy(job->ials_dir, rs->ials.direction,
                   rs->ials.n_direction * sizeof(float));
        }
    }
    *out = job;
    return FR_OK;
nomem:
    fr_log_err(TAG, "round id %llu: out of memory",
               (unsigned long long)msg->round_id);
    train_job_destroy(&job);
    return FR_ENOMEM;
}

/* Starts the round of *msgp; the catalogue check may take the message
 * (then *msgp is NULL) to hold it while the catalogue is fetched. */
static void
on_round_start(client *c, fr_msg **msgp)
{
    const fr_msg *msg = *msgp;
    const fr_msg_round_start *rs = &msg->u.round_start;
    train_job *job = NULL;
    fr_err rc;

    FR_ASSERT(!c->busy);
    if (c->finish) {
        fr_log_info(TAG, "round id %llu ignored: this run is ending",
                    (unsigned long long)msg->round_id);
        return;
    }
    if (client_cat_check(c, msgp) != CAT_GO)
        return;
    if (rs->n_items != (uint32_t)c->cfg->n_items) {
        fr_log_err(TAG,
                   "round id %llu ignored: the aggregator's model has "
                   "%u items, this store is configured for n_items %lld",
                   (unsigned long long)msg->round_id, rs->n_items,
                   (long long)c->cfg->n_items);
        return;
    }
    /* A least-squares round's phase 2 needs the members its epoch's
     * phase 1 solved here. */
    if (rs->has_ials && rs->ials.phase == FR_IALS_PHASE_MATVEC &&
        rs->ials.epoch_round != c->ials_epoch) {
        fr_log_info(TAG, "round id %llu ignored: it continues the epoch of "
                    "round id %llu, and this store's members were solved "
                    "%s%llu", (unsigned long long)msg->round_id,
                    (unsigned long long)rs->ials.epoch_round,
                    c->ials_epoch ? "in round id " : "in no round (",
                    (unsigned long long)c->ials_epoch);
        return;
    }
    /* A DP round is checked and charged to the store's privacy ledger
     * before any member data is touched. */
    if (rs->has_dp && admit_dp_round(c, msg))
        return;
    if (refresh_data(c, msg))
        return;
    /* Advertise the round keys before the slower set-up below: the
     * aggregator waits for them with a short deadline. */
    if (rs->has_secagg && client_sa_begin(c, msg))
        return;
    if (!c->mf && (rc = client_open_members(c->cfg, c->cs, rs->dim, &c->mf))) {
        fr_log_err(TAG, "cannot set up training: %s", fr_strerror(rc));
        client_sa_reset(c);
        return;
    }
    if (make_train_job(c, msg, &job))
        return;
    c->last_opts = job->opts;
    c->last_ials = job->ials;
    c->last_ials_dp = job->ials && job->ials_phase == FR_IALS_PHASE_DP;
    c->ials_final = 0;
    c->last_ials_opts = job->ials_opts;
    if (job->ials && job->ials_phase != FR_IALS_PHASE_MATVEC)
        c->ials_epoch = 0; /* the members change now */
    if ((rc = worker_submit(c->work, &job))) {
        fr_log_err(TAG, "cannot start training: %s", fr_strerror(rc));
        train_job_destroy(&job);
        return;
    }
    c->busy = 1;
    c->train_out = 1;
    c->train_secure = rs->has_secagg != 0;
    c->train_abandoned = 0;
    c->last_round = msg->round_id;
    if (rs->has_ials)
        fr_log_info(TAG, "round id %llu: least squares, %s",
                    (unsigned long long)msg->round_id,
                    rs->ials.phase == FR_IALS_PHASE_STATS
                        ? "solving the members for the item step's sums"
                    : rs->ials.phase == FR_IALS_PHASE_DP
                        ? "solving the members for their clipped, noised sum"
                        : "the item step's product along its direction");
    else
        fr_log_info(TAG, "round id %llu: training %u local epoch(s)",
                    (unsigned long long)msg->round_id,
                    rs->train.local_epochs);
}

/* Fits the member embeddings to a new global model on the worker, so that
 * what the store serves (recommend, segment, score) matches the model. */
static void
start_refit(client *c, uint64_t round_id, fr_model **modelp, int final)
{
    train_job *job;

    if (c->busy || !c->mf || (!c->last_ials && c->cfg->refit_epochs == 0))
        return;
    /* Least squares: the members stay as the epoch's phase 1 solved them
     * until training ends (its phase 2 sums depend on them); then one
     * exact solve against the final model. */
    if (c->last_ials && !final && !c->last_ials_dp)
        return;
    job = calloc(1, sizeof *job);
    if (!job)
        return;
    job->kind = JOB_REFIT;
    job->round_id = round_id;
    job->global = *modelp;
    *modelp = NULL;
    job->mf = c->mf;
    job->eval = c->eval;
    job->data = store_data_dataset(cstate_data(c->cs));
    job->opts = c->last_opts;
    job->opts.epochs = (uint32_t)c->cfg->refit_epochs;
    job->ials = c->last_ials;
    job->ials_opts = c->last_ials_opts;
    if (job->ials)
        c->ials_epoch = 0;
    if (worker_submit(c->work, &job) != FR_OK) {
        train_job_destroy(&job);
        return;
    }
    c->busy = 1;
    if (c->last_ials && final)
        c->ials_final = 1;
}

void
client_ials_final_refit(client *c)
{
    fr_model *model = NULL;

    if (!c->last_ials || c->ials_final || c->busy)
        return;
    if (cstate_load_model(c->cs, &model)) {
        fr_log_warn(TAG, "training ended, but the last global model cannot "
                    "be read: the members are not refit to it");
        return;
    }
    start_refit(c, c->last_round, &model, 1);
    fr_model_destroy(&model);
}

static void
on_round_end(client *c, const fr_msg *msg)
{
    const fr_msg_round_end *re = &msg->u.round_end;
    fr_model *model = NULL;
    fr_err rc;

    fr_log_info(TAG, "round id %llu %s with %u stores (%llu rounds done)",
                (unsigned long long)msg->round_id,
                re->completed ? "completed" : "abandoned", re->contributors,
                (unsigned long long)re->completed_rounds);
    if (!re->completed || !re->has_model)
        return;
    if (re->n_items != (uint32_t)c->cfg->n_items) {
        fr_log_warn(TAG, "global model with %u items ignored", re->n_items);
        return;
    }
    rc = model_from_wire(re->n_items, re->dim, re->item_emb, re->item_bias,
                         &model);
    if (rc == FR_OK)
        rc = cstate_save_model(c->cs, model);
    if (rc) {
        fr_log_err(TAG, "cannot save the global model: %s", fr_strerror(rc));
        fr_model_destroy(&model);
        return;
    }
    start_refit(c, msg->round_id, &model, re->training_done != 0);
    fr_model_destroy(&model);
}

/* A round's training that must not be sent: its round was abandoned, or
 * it belongs to a secure round whose state is gone (sending it plain would
 * hand the aggregator an unmasked update). */
static bool
job_is_stale(client *c, const train_job *job)
{
    const char *why = NULL;

    if (c->train_abandoned)
        why = "the round was abandoned when the connection was lost";
    else if (c->train_secure && (!c->sa || job->round_id != c->sa_round))
        why = "its secure round was given up";
    c->train_abandoned = 0;
    if (!why)
        return false;
    fr_log_info(TAG,
                "round id %llu: trained in %.2f s, but %s; update not "
                "sent",
                (unsigned long long)job->round_id, job->seconds, why);
    return true;
}

static void
on_job_done(client *c)
{
    train_job *job = NULL;
    fr_msg m = {.type = FR_MSG_UPDATE};
    fr_msg_update *u = &m.u.update;

    if (worker_collect(c->work, &job) != FR_OK)
        return;
    c->busy = 0;
    c->train_out = 0;
    if (job->rc) {
        fr_log_err(TAG, "round id %llu: %s failed: %s",
                   (unsigned long long)job->round_id,
                   job->kind == JOB_REFIT ? "refit" : "training",
                   fr_strerror(job->rc));
        train_job_destroy(&job);
        return;
    }
    save_members(c);
    if (job->ials && job->kind == JOB_TRAIN &&
        job->ials_phase == FR_IALS_PHASE_STATS)
        c->ials_epoch = job->round_id;
    if (job->kind == JOB_REFIT) {
        fr_log_info(TAG,
                    "global model of round id %llu: members refit in "
                    "%.2f s; HR@10 %.4f NDCG@10 %.4f (popularity %.4f / "
                    "%.4f) over %u members",
                    (unsigned long long)job->round_id, job->seconds,
                    job->metrics.hr10, job->metrics.ndcg10,
                    job->metrics.pop_hr10, job->metrics.pop_ndcg10,
                    job->metrics.eval_members);
        train_job_destroy(&job);
        return;
    }
    if (job_is_stale(c, job)) {
        train_job_destroy(&job);
        client_send_hello(c);
        return;
    }
    if (c->sa && job->round_id == c->sa_round) {
        fr_log_info(TAG,
                    "round id %llu: trained in %.2f s, loss %.4f, local "
                    "HR@10 %.4f NDCG@10 %.4f; update encoded for secure "
                    "aggregation",
                    (unsigned long long)job->round_id, job->seconds,
                    job->metrics.train_loss, job->metrics.hr10,
                    job->metrics.ndcg10);
        client_sa_update_ready(c, job);
        c->joined_round = job->round_id;
        train_job_destroy(&job);
        client_send_hello(c);
        return;
    }
    m.round_id = job->round_id;
    u->num_examples = job->num_examples;
    if (job->sums) {
        u->sums = job->sums;
        u->n_sums = job->n_sums;
    } else {
        u->n_items = fr_model_n_items(job->delta);
        u->dim = fr_model_dim(job->delta);
        u->delta_emb = fr_model_item_emb_const(job->delta);
        u->delta_bias = fr_model_item_bias_const(job->delta);
    }
    u->metrics = job->metrics;
    client_send_msg(c, &m);
    c->joined_round = job->round_id;
    {
        char detail[160];
        snprintf(detail, sizeof detail,
                 "round id %llu: plain update sent "
                 "(%llu examples)",
                 (unsigned long long)job->round_id,
                 (unsigned long long)job->num_examples);
        cstate_audit(c->cs, "round", detail);
    }
    fr_log_info(TAG,
                "round id %llu: trained in %.2f s, loss %.4f, local "
                "HR@10 %.4f NDCG@10 %.4f; update sent",
                (unsigned long long)job->round_id, job->seconds,
                job->metrics.train_loss, job->metrics.hr10,
                job->metrics.ndcg10);
    train_job_destroy(&job);
    client_send_hello(c); /* tell the aggregator at once that we are free */
}

/* ---- the aggregator connection ---- */

/* Gives up the round in hand: nothing more is sent for it. */
static void
abandon_round(client *c, const char *why)
{
    if (c->sa) {
        fr_log_notice(TAG, "round id %llu: secure round abandoned (%s)",
                      (unsigned long long)c->sa_round, why);
        client_sa_reset(c);
    }
    if (c->train_out && !c->train_abandoned) {
        fr_log_info(TAG,
                    "round id %llu: the update in training will not "
                    "be sent (%s)",
                    (unsigned long long)c->last_round, why);
        c->train_abandoned = 1;
    }
    fr_msg_destroy(&c->pending);
    fr_msg_destroy(&c->cat_wait);
}

static void
log_link(client *c, fr_net_link state, int64_t now)
{
    double wait = (double)(fr_net_uplink_rebuild_at(c->link) - now) / 1000.0;
    uint32_t retry = fr_net_uplink_retry_ms(c->link);

    if (state == c->told || state == FR_NET_LINK_CONNECTING)
        return;
    c->told = state;
    if (wait < 0)
        wait = 0;
    switch (state) {
    case FR_NET_LINK_UP:
        fr_log_ev(FR_LOG_NOTICE, TAG, "connected",
                  "connected to the aggregator %s", c->cfg->connect);
        break;
    case FR_NET_LINK_DOWN:
        if (retry && retry / 1000.0 < wait)
            wait = retry / 1000.0;
        fr_log_ev(FR_LOG_WARN, TAG, "unreachable",
                  "aggregator unreachable, retrying in %.1f s (%s; waits "
                  "grow to %lld s)",
                  wait, c->cfg->connect,
                  (long long)(c->cfg->reconnect_max_ms / 1000));
        break;
    case FR_NET_LINK_REFUSED:
        fr_log_ev(FR_LOG_WARN, TAG, "handshake_refused",
                  "handshake refused by the aggregator: is this store's key "
                  "on its allow-list? retrying in %.1f s",
                  wait);
        break;
    default:
        fr_log_ev(FR_LOG_ERR, TAG, "handshake_failed",
                  "handshake with the aggregator failed: is server_key "
                  "(%s) the aggregator's public key? retrying in %.1f s",
                  c->cfg->server_key, wait);
        break;
    }
}

/* Acts on the link's move from was to state (nothing if it stayed). */
static void
link_moved(client *c, fr_net_link was, fr_net_link state, int64_t now)
{
    if (state == was)
        return;
    if (state == FR_NET_LINK_UP) {
        log_link(c, state, now);
        client_send_hello(c); /* (re)announce at once */
        c->next_hello = now + c->cfg->heartbeat_ms;
        return;
    }
    if (was == FR_NET_LINK_UP)
        abandon_round(c, "connection lost");
    log_link(c, state, now);
}

/* Reads the monitor's events, acts on a change of state, and rebuilds the
 * socket when that is due (the next rebuild, if this one does not come up
 * either, waits twice as long). */
static void
link_check(client *c, int64_t now)
{
    uint64_t rebuilds = fr_net_uplink_rebuilds(c->link);
    fr_net_link was, state;
    fr_err rc = FR_OK;

    state = fr_net_uplink_tick(c->link, now, &was, &rc);
    if (fr_net_uplink_rebuilds(c->link) == rebuilds) {
        link_moved(c, was, state, now);
        return;
    }
    abandon_round(c, "connection rebuilt");
    if (rc)
        fr_log_err(TAG, "cannot rebuild the connection to %s: %s",
                   c->cfg->connect, fr_strerror(rc));
    else
        fr_log_debug(TAG,
                     "connection rebuilt (%llu so far, state %s); "
                     "next rebuild in %lld ms if it does not come up",
                     (unsigned long long)fr_net_uplink_rebuilds(c->link),
                     fr_net_link_name(c->told),
                     (long long)(fr_net_uplink_rebuild_at(c->link) - now));
}

static void
on_message(client *c)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    fr_msg *msg = NULL;
    const char *why = NULL;
    fr_net_sock *sock = fr_net_uplink_sock(c->link);
    fr_err rc = sock ? fr_net_recv(sock, 0, NULL, &buf, &len) : FR_ECLOSED;
    int64_t now = fr_clock_ms();

    if (rc)
        return;
    /* A message from the aggregator proves the handshake succeeded, even
     * if the monitor has not said so yet. */
    link_moved(c, fr_net_uplink_heard(c->link, now), FR_NET_LINK_UP, now);
    rc =
        fr_wire_decode(buf, len, (size_t)c->cfg->max_message_bytes, &msg, &why);
    if (rc) {
        fr_log_warn(TAG, "dropped %zu-byte message from the aggregator: %s",
                    len, why ? why : fr_strerror(rc));
    } else if (msg->type == FR_MSG_ROUND_START &&
               fr_secagg_heard_repeat(&c->heard, msg->round_id,
                                      msg->u.round_start.has_secagg
                                          ? &msg->u.round_start.secagg
                                          : NULL)) {
        fr_log_info(TAG, "round id %llu: the aggregator sent its round start "
                    "again; this store has it already",
                    (unsigned long long)msg->round_id);
    } else if (msg->type == FR_MSG_ROUND_START && c->busy) {
        /* Finish the job in hand (a refit), then start this round. */
        fr_msg_destroy(&c->pending);
        c->pending = msg;
        msg = NULL;
    } else if (msg->type == FR_MSG_ROUND_START) {
        on_round_start(c, &msg);
    } else if (msg->type == FR_MSG_ROUND_END) {
        if (msg->round_id == c->sa_round)
            client_sa_reset(c);
        on_round_end(c, msg);
        client_finish_round_end(c, msg);
    } else if (msg->type == FR_MSG_DONE) {
        client_finish_done(c, msg);
    } else if (msg->type == FR_MSG_CATALOGUE) {
        fr_msg *held = client_cat_on_message(c, msg);
        if (held)
            on_round_start(c, &held);
        fr_msg_destroy(&held);
    } else if (msg->type == FR_MSG_SECAGG) {
        client_on_secagg(c, msg);
    } else {
        fr_log_warn(TAG, "dropped unexpected %s message",
                    fr_msg_type_name(msg->type));
    }
    fr_msg_destroy(&msg);
    free(buf);
}

static void
loop(client *c)
{
    while (!stop_requested && !(c->finish && !c->busy)) {
        fr_net_sock *socks[3];
        unsigned ready = 0, n = 0, i_conn = 0, i_mon = 0;
        int64_t now = fr_clock_ms(), wake;

        int64_t rebuild_at;
        int up;

        link_check(c, now);
        up = fr_net_uplink_state(c->link) == FR_NET_LINK_UP;
        if (up && now >= c->next_hello) {
            client_send_hello(c);
            c->next_hello = now + c->cfg->heartbeat_ms;
        }
        socks[n++] = worker_sock(c->work);
        if (fr_net_uplink_sock(c->link)) {
            i_conn = n;
            socks[n++] = fr_net_uplink_sock(c->link);
            i_mon = n;
            socks[n++] = fr_net_uplink_monitor_sock(c->link);
        }
        wake = up ? c->next_hello : now + c->cfg->heartbeat_ms;
        rebuild_at = fr_net_uplink_rebuild_at(c->link);
        if (rebuild_at && rebuild_at < wake)
            wake = rebuild_at;
        if (fr_net_poll(socks, n, wake > now ? (int)(wake - now) : 0, &ready) !=
            FR_OK)
            continue;
        if (ready & 1)
            on_job_done(c);
        if (!c->busy && c->pending) {
            on_round_start(c, &c->pending);
            fr_msg_destroy(&c->pending);
        }
        if (i_mon && (ready & (1u << i_mon)))
            link_check(c, fr_clock_ms());
        if (i_conn && (ready & (1u << i_conn)))
            on_message(c);
    }
}

static fr_err
load_keys(client *c)
{
    const client_config *cfg = c->cfg;
    fr_err rc;

    if ((rc = fr_crypto_keypair_load(cfg->key_file, &c->kp))) {
        fr_log_err(TAG, "cannot load key_file %s: %s", cfg->key_file,
                   fr_strerror(rc));
        return rc;
    }
    if ((rc = fr_crypto_public_load(cfg->server_key, c->server_pk)))
        fr_log_err(TAG, "cannot load server_key %s: %s", cfg->server_key,
                   fr_strerror(rc));
    return rc;
}

static fr_err
connect_store(client *c)
{
    const client_config *cfg = c->cfg;
    /* As on the aggregator: the decoder enforces max_message_bytes with a
     * log line, ZeroMQ cuts anything over twice that. */
    fr_net_uplink_opts o = {.endpoint = cfg->connect,
                            .client = c->kp,
                            .server_pk = c->server_pk,
                            .max_msg = 2 * (size_t)cfg->max_message_bytes,
                            .reconnect_ivl_ms = RECONNECT_IVL_MS,
                            .rebuild_first_ms = REBUILD_FIRST_MS,
                            .reconnect_max_ms = cfg->reconnect_max_ms};
    fr_err rc = fr_net_uplink_new(c->ctx, &o, fr_clock_ms(), &c->link);

    if (rc)
        fr_log_err(TAG, "cannot connect to %s: %s", cfg->connect,
                   fr_strerror(rc));
    return rc;
}

static fr_err
load_evalset(const client_config *cfg, const store_data *data, evalset **out)
{
    char err[512] = "";
    fr_err rc;

    *out = NULL;
    if (!*cfg->test_file || cfg->validate)
        return FR_OK;
    rc = evalset_load(cfg->test_file, data, (uint32_t)cfg->n_items, out, err,
                      sizeof err);
    if (rc)
        fr_log_err(TAG, "test_file: %s", err);
    else
        fr_log_info(TAG, "evaluating on %zu fixed lists from %s",
                    evalset_count(*out), cfg->test_file);
    return rc;
}

/* The identity key: sign_key_file, or key_file's sibling NAME.sign.key.
 * Without one the store still takes part in plain rounds. */
static fr_err
load_identity(client *c)
{
    const client_config *cfg = c->cfg;
    char path[CLIENT_PATH_MAX + 16];
    size_t n = strlen(cfg->key_file);
    int explicit = *cfg->sign_key_file != 0;
    fr_err rc;

    if (explicit)
        snprintf(path, sizeof path, "%s", cfg->sign_key_file);
    else if (n > 4 && !strcmp(cfg->key_file + n - 4, ".key"))
        snprintf(path, sizeof path, "%.*s.sign.key", (int)(n - 4),
                 cfg->key_file);
    else
        snprintf(path, sizeof path, "%s.sign.key", cfg->key_file);
    if (cstate_identity(c->cs)) {
        c->id = cstate_identity(c->cs);
        return FR_OK;
    }
    rc = fr_crypto_signkey_load(path, &c->own_id);
    c->id = c->own_id;
    if (rc == FR_ENOENT && !explicit) {
        fr_log_warn(TAG,
                    "no identity key at %s: this store cannot take part "
                    "in secure rounds",
                    path);
        return FR_OK;
    }
    if (rc)
        fr_log_err(TAG, "cannot load the identity key %s: %s", path,
                   fr_strerror(rc));
    return rc;
}

static void
report_peak_rss(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        fr_log_info(TAG, "peak RSS %.1f MiB", (double)ru.ru_maxrss / 1024.0);
}

int
client_run(const client_config *cfg, const client_run_opts *opts)
{
    client c = {.cfg = cfg};
    struct sigaction sa;
    int status = 1;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (opts)
        c.run = *opts;
    if (!*cfg->store && mkdir(cfg->state_dir, 0700) != 0 && errno != EEXIST) {
        fr_log_err(TAG, "cannot create state_dir %s", cfg->state_dir);
        return 1;
    }
    if (store_dp_new(&c.dp, *cfg->store ? cfg->store : cfg->state_dir,
                     cfg->dp_epsilon_budget, cfg->dp_delta)) {
        fr_log_err(TAG, "bad DP settings or store path");
        return 1;
    }
    store_dp_allow_regional(c.dp, cfg->dp_regional != 0);
    if (cstate_open(cfg, &c.cs) ||
        load_evalset(cfg, cstate_data(c.cs), &c.eval) || load_identity(&c) ||
        client_cat_open(&c) ||
        load_keys(&c) || fr_net_ctx_new(&c.ctx) || connect_store(&c) ||
        worker_new(&c.work, c.ctx))
        goto out;
    fr_log_notice(TAG, "store client running; aggregator %s", cfg->connect);
    loop(&c);
    fr_log_notice(TAG, "stopping");
    status = c.finish ? c.finish_status : 0;
out:
    worker_destroy(&c.work); /* waits for a job in progress */
    fr_net_uplink_destroy(&c.link);
    fr_crypto_keypair_destroy(&c.kp);
    fr_net_ctx_destroy(&c.ctx);
    fr_msg_destroy(&c.pending);
    client_cat_close(&c);
    client_sa_reset(&c);
    fr_crypto_signkey_destroy(&c.own_id);
    fr_mf_destroy(&c.mf);
    evalset_destroy(&c.eval);
    cstate_close(&c.cs);
    store_dp_destroy(&c.dp);
    report_peak_rss();
    return status;
}
