/*
 * round.c - the aggregator's round engine: store selection, collection of
 * updates, weighted federated averaging, checkpoints and round history.
 * See agg.h for the DESIGN notes (states, timers, invariants).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "agg.h"
#include "base/log.h"
#include "base/util.h"
#include "checkpoint.h"
#include "model/aggregate.h"
#include "model/model.h"
#include "registry.h"
#include "diskerr.h"
#include "round_int.h"
#include "stats.h"

#define TAG "round"

static fr_err save_checkpoint(aggregator *a);

static int64_t
unix_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static fr_err
load_or_init(aggregator *a)
{
    const agg_config *cfg = a->cfg;
    checkpoint ck = {0};
    fr_err rc = checkpoint_load(a->ckpt_path, &ck);

    if (rc == FR_ENOENT) {
        rc = fr_model_new(&a->model, (uint32_t)cfg->n_items,
                          (uint32_t)cfg->dim);
        if (rc)
            return rc;
        fr_model_init_random(a->model, (uint64_t)cfg->seed,
                             (float)cfg->init_scale);
        a->round_id = 1;
        fr_log_ev(FR_LOG_NOTICE, TAG, "model_created",
                  "no checkpoint in %s: starting a new model, items=%lld "
                  "dim=%lld", cfg->state_dir, (long long)cfg->n_items,
                  (long long)cfg->dim);
        return FR_OK;
    }
    if (rc) {
        fr_log_err(TAG, "checkpoint %s cannot be used: %s", a->ckpt_path,
                   fr_strerror(rc));
        return rc;
    }
    if (fr_model_n_items(ck.model) != (uint32_t)cfg->n_items ||
        fr_model_dim(ck.model) != (uint32_t)cfg->dim) {
        fr_log_err(TAG, "checkpoint %s holds a %u x %u model but the "
                   "configuration says n_items %lld, dim %lld", a->ckpt_path,
                   fr_model_n_items(ck.model), fr_model_dim(ck.model),
                   (long long)cfg->n_items, (long long)cfg->dim);
        checkpoint_clear(&ck);
        return FR_EINVAL;
    }
    a->model = ck.model;
    ck.model = NULL;
    /* A round may have been in flight with id next_round_id when the last
     * process died; skip that id so none of its updates can count now. */
    a->round_id = ck.next_round_id + 1;
    a->completed = ck.completed_rounds;
    a->history = ck.history;
    a->n_history = a->cap_history = ck.n_history;
    ck.history = NULL;
    if (ck.version == 1)
        fr_log_warn(TAG, "checkpoint %s is format 1 (no round history): the "
                    "history starts again from here", a->ckpt_path);
    a->resumed = 1;
    checkpoint_clear(&ck);
    fr_log_ev(FR_LOG_NOTICE, TAG, "resumed",
              "resumed from checkpoint: %llu rounds completed, next round id "
              "%llu (completed=%llu next_round_id=%llu)",
              (unsigned long long)a->completed,
              (unsigned long long)a->round_id,
              (unsigned long long)a->completed,
              (unsigned long long)a->round_id);
    return FR_OK;
}

/* The buffers sized by the model: the flat update and the plain mean's
 * accumulator. */
fr_err
round_model_buffers(aggregator *a)
{
    a->n_params = fr_model_n_params(a->model);
    a->scratch = malloc(a->n_params * sizeof(float));
    if (!a->scratch)
        return FR_ENOMEM;
    return fr_agg_new(&a->acc, a->n_params);
}

fr_err
aggregator_new(aggregator **out, const agg_config *cfg, fr_net_ctx *ctx,
               fr_net_sock *sock, agg_stats *stats)
{
    aggregator *a = calloc(1, sizeof *a);
    fr_err rc = FR_ENOMEM;

    if (!a)
        return FR_ENOMEM;
    a->cfg = cfg;
    a->ctx = ctx;
    a->sock = sock;
    a->stats = stats;
    snprintf(a->ckpt_path, sizeof a->ckpt_path, "%s/checkpoint.bin",
             cfg->state_dir);
    snprintf(a->history_path, sizeof a->history_path, "%s/history.tsv",
             cfg->state_dir);
    fr_rng_seed(&a->rng, (uint64_t)cfg->seed ^ 0x5e1ec7ull);
    for (int r = 0; r < AGG_REJECT_N; r++)
        a->rl[r] = FR_RATELIMIT(AGG_REFUSE_BURST, AGG_REFUSE_EVERY_MS);
    a->selected = calloc((size_t)cfg->max_stores, sizeof *a->selected);
    a->answered = calloc((size_t)cfg->max_stores, 1);
    a->part_cover = calloc((size_t)cfg->max_stores, sizeof *a->part_cover);
    if (!a->selected || !a->answered || !a->part_cover)
        goto fail;
    if ((rc = registry_new(&a->reg, (size_t)cfg->max_stores)))
        goto fail;
    /* A regional aggregator has no model of its own: it gets one with
     * every round start from the central (relay.c). */
    if (agg_regional(cfg)) {
        if ((rc = relay_open(a)))
            goto fail;
    } else if ((rc = load_or_init(a)) || (rc = agg_dp_open(a)) ||
               (rc = agg_cat_open(a)) || (rc = round_model_buffers(a)) ||
               (rc = agg_ials_open(a))) {
        goto fail;
    }
    a->state = aggregator_done(a) ? ST_DONE : ST_IDLE;
    if (stats)
        for (size_t i = a->n_history > AGG_RECENT_ROUNDS
                            ? a->n_history - AGG_RECENT_ROUNDS
                            : 0;
             i < a->n_history; i++)
            agg_stats_add_round(stats, &a->history[i]);
    if (a->resumed)
        save_checkpoint(a); /* persist the skipped round id */
    *out = a;
    return FR_OK;
fail:
    aggregator_destroy(&a);
    return rc;
}

void
aggregator_destroy(aggregator **ap)
{
    aggregator *a;

    if (!ap || !*ap)
        return;
    a = *ap;
    secure_end(a);
    relay_close(a);
    agg_dp_close(a);
    agg_cat_close(a);
    agg_ials_close(a);
    fr_agg_destroy(&a->acc);
    fr_model_destroy(&a->model);
    registry_destroy(&a->reg);
    free(a->scratch);
    free(a->history);
    free(a->selected);
    free(a->answered);
    free(a->part_cover);
    free(a);
    *ap = NULL;
}

/* A run with a round target ends when it is reached or when the privacy
 * budget cannot pay for another round; a daemon without one stays up to
 * show its status. */
bool
aggregator_done(const aggregator *a)
{
    return a->cfg->rounds > 0 &&
           (a->completed >= (uint64_t)a->cfg->rounds || a->dp_exhausted);
}

/* Logs a failed send to store, counts a sent one. */
static void
note_send(aggregator *a, const char *store, fr_err rc, size_t len)
{
    if (rc)
        fr_log_info(TAG, "could not send to store %s: %s", store,
                    fr_strerror(rc));
    else
        round_count_sent(a, len, 1);
}

void
round_send_to(aggregator *a, const char *store, const uint8_t *buf, size_t len)
{
    store_entry *e = registry_find(a->reg, store);

    if (e)
        note_send(a, store, fr_net_send(a->sock, &e->peer, buf, len), len);
}

void
round_send_owned(aggregator *a, const char *store, uint8_t **bufp,
                 size_t len)
{
    store_entry *e = registry_find(a->reg, store);

    if (!e) {
        free(*bufp);
        *bufp = NULL;
        return;
    }
    note_send(a, store, fr_net_send_owned(a->sock, &e->peer, bufp, len), len);
}

void
round_count_sent(aggregator *a, size_t len, size_t n)
{
    if (a->stats && n)
        agg_stats_traffic(a->stats, 0, (uint64_t)len * n, 0, n);
}

bool
round_reject(aggregator *a, agg_reject why)
{
    return aggregator_refused(a, a->cur_peer, why, fr_clock_ms());
}

void
round_phase_done(aggregator *a, agg_phase p, uint32_t dropped, int64_t now)
{
    if (a->stats)
        agg_stats_phase_done(a->stats, p,
                             (double)(now - a->phase_started_ms) / 1000.0,
                             dropped);
    a->phase_started_ms = now;
}

void
aggregator_count_received(aggregator *a, size_t len)
{
    if (a->stats)
        agg_stats_traffic(a->stats, len, 0, 1, 0);
}

/* Sends one message to every selected store. The stores share one queued
 * copy (it can hold the model, and there can be thousands of stores); if
 * the peer list cannot be made, each gets its own copy as before. */
void
round_send_selected(aggregator *a, const uint8_t *buf, size_t len)
{
    size_t cap = a->n_selected ? a->n_selected : 1, n = 0;
    const fr_net_peer **peers = calloc(cap, sizeof *peers);
    const char **names = malloc(cap * sizeof *names);
    fr_err *rcs = malloc(cap * sizeof *rcs);

    if (!peers || !names || !rcs) {
        for (size_t i = 0; i < a->n_selected; i++)
            round_send_to(a, a->selected[i], buf, len);
        goto out;
    }
    for (size_t i = 0; i < a->n_selected; i++) {
        store_entry *e = registry_find(a->reg, a->selected[i]);
        if (e) {
            names[n] = a->selected[i];
            peers[n++] = &e->peer;
        }
    }
    if (fr_net_send_shared(a->sock, peers, n, buf, len, rcs)) {
        for (size_t i = 0; i < n; i++)
            round_send_to(a, names[i], buf, len);
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if (rcs[i])
            fr_log_info(TAG, "could not send to store %s: %s", names[i],
                        fr_strerror(rcs[i]));
        else
            round_count_sent(a, len, 1);
out:
    free(peers);
    free(names);
    free(rcs);
}

/* Tells every selected store how the round ended; a completed round carries
 * the new global model so stores can serve recommendations from it, and
 * the round that reaches the target says that training is done. */
static void
announce_end(aggregator *a, int completed)
{
    int64_t target = a->cfg->rounds;

    fr_msg m = {.type = FR_MSG_ROUND_END, .round_id = a->round_id};
    uint8_t *buf = NULL;
    size_t len = 0;

    m.u.round_end.completed = (uint32_t)completed;
    m.u.round_end.contributors = a->covered;
    m.u.round_end.completed_rounds = a->completed;
    m.u.round_end.training_done =
        completed && target > 0 && a->completed >= (uint64_t)target;
    if (completed) {
        m.u.round_end.has_model = 1;
        m.u.round_end.n_items = fr_model_n_items(a->model);
        m.u.round_end.dim = fr_model_dim(a->model);
        m.u.round_end.item_emb = fr_model_item_emb_const(a->model);
        m.u.round_end.item_bias = fr_model_item_bias_const(a->model);
    }
    if (fr_wire_encode(&m, (size_t)a->cfg->max_message_bytes, &buf, &len)) {
        fr_log_err(TAG, "cannot encode the end of round %llu",
                   (unsigned long long)a->round_id);
        return;
    }
    round_send_selected(a, buf, len);
    free(buf);
}

static double
mean_or_nan(double sum, double weight)
{
    return weight > 0 ? sum / weight : NAN;
}

/* Room for one more history record, made before a round's mean is
 * applied: the checkpoint must not hold a round without its record and
 * fr_agg cannot be undone, so without memory the round is abandoned. */
static fr_err
history_reserve(aggregator *a)
{
    size_t cap = a->cap_history ? 2 * a->cap_history : 64;
    agg_round_info *v;

    if (a->n_history < a->cap_history)
        return FR_OK;
    v = realloc(a->history, cap * sizeof *v);
    if (!v)
        return FR_ENOMEM;
    a->history = v;
    a->cap_history = cap;
    return FR_OK;
}

/* Adds the round just completed to the history (in memory; the checkpoint
 * written next carries it). */
static void
record_round(aggregator *a, double seconds)
{
    const quality *q = &a->q;
    agg_round_info r = {.round = a->completed,
                        .round_id = a->round_id,
                        .stores = a->covered,
                        .examples = q->examples,
                        .hr10 = mean_or_nan(q->hr, q->eval_weight),
                        .ndcg10 = mean_or_nan(q->ndcg, q->eval_weight),
                        .pop_hr10 = mean_or_nan(q->pop_hr, q->eval_weight),
                        .pop_ndcg10 = mean_or_nan(q->pop_ndcg, q->eval_weight),
                        .loss = mean_or_nan(q->loss, q->loss_weight),
                        .seconds = seconds,
                        .end_unix_ms = unix_now_ms()};

    FR_ASSERT(a->n_history < a->cap_history); /* history_reserve */
    a->history[a->n_history++] = r;
    if (a->stats)
        agg_stats_add_round(a->stats, &r);
}

static fr_err
save_checkpoint(aggregator *a)
{
    checkpoint ck = {.next_round_id = a->round_id,
                     .completed_rounds = a->completed,
                     .model = a->model,
                     .history = a->history,
                     .n_history = a->n_history};
    fr_err rc;

    if (agg_regional(a->cfg)) /* no model of its own: nothing to keep */
        return FR_OK;
    rc = checkpoint_save(&ck, a->ckpt_path);

    if (rc) { /* the previous one stays */
        agg_disk_failed(a->stats, AGG_DISK_CHECKPOINT, a->ckpt_path, rc,
                        rc == FR_ENOMEM ? NULL : fr_file_last_write_error());
        return rc;
    }
    agg_disk_written(AGG_DISK_CHECKPOINT, a->ckpt_path);
    if (a->stats)
        agg_stats_checkpointed(a->stats, unix_now_ms());
    /* history.tsv is a readable copy of what the checkpoint holds. */
    rc = checkpoint_write_history_tsv(a->history, a->n_history,
                                      a->history_path);
    if (rc)
        agg_disk_failed(a->stats, AGG_DISK_HISTORY, a->history_path, rc,
                        rc == FR_ENOMEM ? NULL : fr_file_last_write_error());
    else
        agg_disk_written(AGG_DISK_HISTORY, a->history_path);
    return FR_OK;
}

fr_err
aggregator_checkpoint(aggregator *a)
{
    return save_checkpoint(a);
}

static void
apply_mean(aggregator *a)
{
    float *params = fr_model_params(a->model);
    float lr = (float)a->cfg->server_lr;

    if (a->ials) { /* least squares: the sum moves the item step */
        (void)agg_ials_completed(a);
        return;
    }
    if (!a->mean_ready) /* a secure round decoded its mean already */
        FR_ASSERT(fr_agg_mean(a->acc, a->scratch) == FR_OK);
    for (size_t i = 0; i < a->n_params; i++)
        params[i] += lr * a->scratch[i];
}

void
round_close(aggregator *a, int64_t now, const char *why)
{
    double secs = (double)(now - a->started_ms) / 1000.0;
    const quality *q = &a->q;
    double ew = q->eval_weight > 0 ? q->eval_weight : 1;
    int completed = a->n_answered >= (size_t)a->cfg->min_stores;

    if (!a->sa)
        round_phase_done(a, AGG_PHASE_COLLECT,
                         (uint32_t)(a->n_selected - a->n_answered), now);
    if (completed && !agg_regional(a->cfg) && history_reserve(a)) {
        why = "out of memory for the round history";
        completed = 0;
    }
    if (completed && agg_regional(a->cfg)) {
        relay_closed(a, now, secs, why);
    } else if (completed) {
        apply_mean(a);
        a->completed++;
        record_round(a, secs);
        (void)save_checkpoint(a); /* a restart skips this round's id */
        fr_log_ev(FR_LOG_NOTICE, TAG, "round_completed",
                  "round %llu completed (id %llu, %s): %zu/%zu stores, %llu "
                  "examples, HR@10 %.4f NDCG@10 %.4f (popularity %.4f / "
                  "%.4f), %.2f s; round=%llu round_id=%llu stores=%zu "
                  "selected=%zu hr10=%.4f ndcg10=%.4f seconds=%.3f",
                  (unsigned long long)a->completed,
                  (unsigned long long)a->round_id, why, a->n_answered,
                  a->n_selected, (unsigned long long)q->examples,
                  q->hr / ew, q->ndcg / ew, q->pop_hr / ew,
                  q->pop_ndcg / ew, secs, (unsigned long long)a->completed,
                  (unsigned long long)a->round_id, a->n_answered,
                  a->n_selected, q->hr / ew, q->ndcg / ew, secs);
        announce_end(a, 1);
        a->not_before_ms = now;
    } else {
        agg_ials_abandoned(a);
        fr_log_ev(FR_LOG_WARN, TAG, "round_abandoned",
                  "round id %llu abandoned (%s): %zu of %zu stores answered, "
                  "%lld needed; retrying (round_id=%llu answered=%zu "
                  "selected=%zu)",
                  (unsigned long long)a->round_id, why, a->n_answered,
                  a->n_selected, (long long)a->cfg->min_stores,
                  (unsigned long long)a->round_id, a->n_answered,
                  a->n_selected);
        announce_end(a, 0);
        a->not_before_ms = now + a->cfg->retry_delay_ms;
    }
    if (a->stats)
        agg_stats_round_done(a->stats, completed ? AGG_ROUND_COMPLETED
                                                 : AGG_ROUND_ABANDONED, secs);
    secure_end(a);
    a->mean_ready = 0;
    if (agg_regional(a->cfg)) /* the region's round for it is over */
        relay_round_over(a);
    a->round_id++;
    if (!completed)
        (void)save_checkpoint(a); /* round ids are never reused */
    a->state = aggregator_done(a) || a->dp_exhausted || a->up_done
                   ? ST_DONE
                   : ST_IDLE;
    /* The round list and the completed count change together for readers
     * of the stats. */
    aggregator_publish(a, now);
    if (a->state == ST_DONE && a->dp_exhausted)
        fr_log_ev(FR_LOG_NOTICE, TAG, "training_done",
                  "training stopped: the privacy budget does not pay for "
                  "another round (completed=%llu)",
                  (unsigned long long)a->completed);
    else if (a->state == ST_DONE)
        fr_log_ev(FR_LOG_NOTICE, TAG, "training_done",
                  "all %lld rounds completed", (long long)a->cfg->rounds);
}

fr_err
round_encode_start(aggregator *a, const fr_secagg_setup *sa, uint8_t **buf,
                   size_t *len)
{
    const agg_config *c = a->cfg;
    fr_msg m = {.type = FR_MSG_ROUND_START, .round_id = a->round_id};
    fr_msg_round_start *rs = &m.u.round_start;

    rs->n_items = fr_model_n_items(a->model);
    rs->dim = fr_model_dim(a->model);
    rs->item_emb = fr_model_item_emb_const(a->model);
    rs->item_bias = fr_model_item_bias_const(a->model);
    rs->deadline_ms = (uint32_t)round_timeout_ms(a);
    rs->train.local_epochs = (uint32_t)c->local_epochs;
    rs->train.learning_rate =
        (float)(c->learning_rate * pow(c->lr_decay, (double)a->completed));
    rs->train.negatives = (uint32_t)c->negatives;
    rs->train.l2 = (float)c->l2;
    rs->train.batch_size = (uint32_t)c->batch_size;
    rs->train.loss = (uint32_t)c->loss;
    rs->train.seed = (uint64_t)c->seed * 1000003u + a->round_id;
    if (sa) {
        rs->has_secagg = 1;
        rs->secagg = *sa;
    }
    if (sa && a->dp_round) {
        rs->has_dp = 1;
        rs->dp = a->dp_setup;
    }
    agg_cat_fill_start(a, rs);
    agg_ials_fill_start(a, rs);
    if (a->up_start) /* training, DP and catalogue are the central's */
        relay_fill_start(a, rs);
    return fr_wire_encode(&m, (size_t)c->max_message_bytes, buf, len);
}

/* Picks k of the n candidates uniformly (partial Fisher-Yates). */
static void
choose(aggregator *a, store_entry **cand, size_t n, size_t k)
{
    for (size_t i = 0; i < k; i++) {
        size_t j = i + (size_t)fr_rng_below(&a->rng, n - i);
        store_entry *t = cand[i];
        cand[i] = cand[j];
        cand[j] = t;
    }
}

size_t
round_ready_stores(aggregator *a, int64_t now, store_entry **cand)
{
    size_t n = registry_list_alive(a->reg, now, a->cfg->heartbeat_timeout_ms,
                                   cand, (size_t)a->cfg->max_stores);
    size_t m = 0;

    for (size_t i = 0; i < n; i++)
        if (!cand[i]->busy)
            cand[m++] = cand[i];
    return m;
}

/* The budget cannot pay for the round about to start: nothing went out
 * for it (the ledger refused before the round start), so it ends quietly,
 * not as an abandoned round the stores would hear of. */
static void
stop_for_budget(aggregator *a)
{
    secure_end(a);
    a->state = ST_DONE;
    fr_log_ev(FR_LOG_NOTICE, TAG, "training_done",
              "training stopped: the privacy budget does not pay for "
              "another round (completed=%llu)",
              (unsigned long long)a->completed);
}

size_t
round_pick_count(const aggregator *a, size_t n)
{
    size_t k = (size_t)ceil(a->cfg->fraction * (double)n);

    if (k < (size_t)a->cfg->min_stores)
        k = (size_t)a->cfg->min_stores;
    return k > n ? n : k;
}

int64_t
round_timeout_ms(const aggregator *a)
{
    /* a region's round ends before the central's (relay.c) */
    return a->up_start ? (int64_t)a->up_start->u.round_start.deadline_ms
                       : a->cfg->round_timeout_ms;
}

/* Whether the round about to start runs under SecAgg+: the central's
 * round start says so to a region. */
static int
round_secure(const aggregator *a)
{
    return a->up_start ? a->up_start->u.round_start.has_secagg != 0
                       : a->cfg->secagg;
}

void
round_start_with(aggregator *a, int64_t now, store_entry **cand, size_t n,
                 size_t k)
{
    uint8_t *buf = NULL;
    size_t len = 0;

    n = agg_ials_candidates(a, cand, n, &k);
    choose(a, cand, n, k);
    agg_ials_begin_round(a);
    a->covered = 0;
    if (round_secure(a)) {
        a->n_selected = a->n_answered = 0;
        memset(&a->q, 0, sizeof a->q);
        memset(a->answered, 0, (size_t)a->cfg->max_stores);
        for (size_t i = 0; i < k; i++)
            memcpy(a->selected[a->n_selected++], cand[i]->peer.store,
                   FR_NET_STORE_NAME_MAX);
        a->state = ST_COLLECTING;
        a->started_ms = a->phase_started_ms = now;
        a->deadline_ms = now + round_timeout_ms(a);
        a->first_round_started = 1;
        if (secure_start(a, now) && a->dp_exhausted)
            stop_for_budget(a);
        else if (!a->sa)
            round_close(a, now, "secure aggregation could not start");
        else
            for (size_t i = 0; i < k; i++)
                cand[i]->busy = 1;
        return;
    }
    if (round_encode_start(a, NULL, &buf, &len)) {
        fr_log_err(TAG, "cannot encode round id %llu",
                   (unsigned long long)a->round_id);
        a->not_before_ms = now + a->cfg->retry_delay_ms;
        return;
    }
    a->n_selected = a->n_answered = 0;
    memset(&a->q, 0, sizeof a->q);
    memset(a->answered, 0, (size_t)a->cfg->max_stores);
    fr_agg_reset(a->acc);
    for (size_t i = 0; i < k; i++) {
        if (fr_net_send(a->sock, &cand[i]->peer, buf, len) != FR_OK)
            continue;
        memcpy(a->selected[a->n_selected++], cand[i]->peer.store,
               FR_NET_STORE_NAME_MAX);
        cand[i]->busy = 1; /* until its next heartbeat says otherwise */
    }
    round_count_sent(a, len, a->n_selected);
    free(buf);
    a->state = ST_COLLECTING;
    a->started_ms = a->phase_started_ms = now;
    a->deadline_ms = now + round_timeout_ms(a);
    a->first_round_started = 1;
    fr_log_info(TAG, "round id %llu started: %zu of %zu ready stores "
                "selected, %zu model bytes each",
                (unsigned long long)a->round_id, a->n_selected, n, len);
    if (a->n_selected < (size_t)a->cfg->min_stores)
        round_close(a, now, "too few stores reachable");
}

static void
maybe_start(aggregator *a, int64_t now)
{
    store_entry **cand = NULL;
    size_t n;

    if (now < a->not_before_ms || a->paused || a->draining)
        return;
    cand = malloc((size_t)a->cfg->max_stores * sizeof *cand);
    if (!cand)
        return;
    n = round_ready_stores(a, now, cand);
    if (n < (size_t)a->cfg->min_stores) {
        a->ready_since_ms = 0;
    } else {
        if (!a->ready_since_ms)
            a->ready_since_ms = now;
        /* Give every store time to connect before the first round. */
        if (a->first_round_started ||
            now - a->ready_since_ms >= a->cfg->start_delay_ms)
            round_start_with(a, now, cand, n, round_pick_count(a, n));
    }
    free(cand);
}

static bool
missing_all_gone(aggregator *a, int64_t now)
{
    for (size_t i = 0; i < a->n_selected; i++) {
        store_entry *e;
        if (a->answered[i])
            continue;
        e = registry_find(a->reg, a->selected[i]);
        if (e && registry_alive(e, now, a->cfg->heartbeat_timeout_ms))
            return false;
    }
    return true;
}

void
aggregator_tick(aggregator *a, int64_t now)
{
    agg_refuse_tick(a, now);
    if (a->state == ST_COLLECTING && a->sa) {
        secure_tick(a, now);
    } else if (a->state == ST_COLLECTING) {
        if (now >= a->deadline_ms)
            round_close(a, now, "deadline passed");
        else if (missing_all_gone(a, now))
            round_close(a, now, "missing stores stopped responding");
    } else if (agg_regional(a->cfg)) { /* rounds start when the central's do */
        relay_tick(a, now);
    } else if (a->state == ST_IDLE) {
        maybe_start(a, now);
    }
}

int
aggregator_next_timeout(const aggregator *a, int64_t now)
{
    int64_t t = 100;
    if (a->state == ST_COLLECTING && a->deadline_ms - now < t)
        t = a->deadline_ms - now;
    if (a->state == ST_COLLECTING && a->sa && a->phase_deadline_ms - now < t)
        t = a->phase_deadline_ms - now;
    if (a->state == ST_COLLECTING && a->sa && a->start_next < a->start_n)
        t = 1; /* round starts to send as the queue drains */
    return t < 0 ? 0 : (int)t;
}

void
aggregator_stop(aggregator *a, int64_t now)
{
    if (a->state == ST_COLLECTING) {
        a->n_answered = 0; /* never aggregate a cut-short round */
        round_close(a, now, "aggregator stopping");
    }
}

long
round_selected_index(const aggregator *a, const char *store)
{
    for (size_t i = 0; i < a->n_selected; i++)
        if (strcmp(a->selected[i], store) == 0)
            return (long)i;
    return -1;
}

void
round_region_input(aggregator *a, store_entry *e, uint32_t covers,
                   const fr_metrics *m, int has_metrics)
{
    e->region_round_id = a->round_id;
    e->region_covers = covers;
    e->region_has_metrics = has_metrics;
    if (has_metrics)
        e->region_metrics = *m;
}

void
round_add_quality(aggregator *a, const fr_metrics *m, uint64_t examples)
{
    double ew = m->eval_members;
    double lw = (double)examples;

    if (isfinite(m->hr10) && isfinite(m->ndcg10) && isfinite(m->pop_hr10) &&
        isfinite(m->pop_ndcg10)) {
        a->q.eval_weight += ew;
        a->q.hr += ew * m->hr10;
        a->q.ndcg += ew * m->ndcg10;
        a->q.pop_hr += ew * m->pop_hr10;
        a->q.pop_ndcg += ew * m->pop_ndcg10;
    }
    if (isfinite(m->train_loss)) {
        a->q.loss_weight += lw;
        a->q.loss += lw * m->train_loss;
    }
    a->q.examples += examples;
}

agg_reject
round_id_reason(const aggregator *a, uint64_t round_id)
{
    return round_id < a->round_id ? AGG_REJECT_REPLAYED
                                  : AGG_REJECT_WRONG_ROUND;
}

static void
on_update(aggregator *a, const fr_net_peer *peer, const fr_msg *msg,
          int64_t now)
{
    const fr_msg_update *u = &msg->u.update;
    size_t emb = (size_t)u->n_items * u->dim;
    store_entry *e;
    long idx;

    if (a->state != ST_COLLECTING || msg->round_id != a->round_id) {
        if (round_reject(a, round_id_reason(a, msg->round_id)))
            fr_log_info(TAG, "dropped update from store %s for round id "
                        "%llu: not the round in progress", peer->store,
                        (unsigned long long)msg->round_id);
        return;
    }
    idx = round_selected_index(a, peer->store);
    if (idx < 0 || a->answered[idx]) {
        if (round_reject(a, idx < 0 ? AGG_REJECT_UNEXPECTED
                                    : AGG_REJECT_REPLAYED))
            fr_log_warn(TAG, "dropped update from store %s: %s", peer->store,
                        idx < 0 ? "not selected for this round"
                                : "duplicate");
        return;
    }
    if (a->ials || u->n_sums) {
        if (!a->ials || agg_ials_add(a, u->sums, u->n_sums)) {
            if (round_reject(a, AGG_REJECT_MALFORMED))
                fr_log_warn(TAG, "dropped update from store %s: %zu sums, "
                            "the round asks for %zu", peer->store, u->n_sums,
                            agg_ials_len(a));
            return;
        }
        goto counted;
    }
    if (u->n_items != fr_model_n_items(a->model) ||
        u->dim != fr_model_dim(a->model)) {
        if (round_reject(a, AGG_REJECT_MALFORMED))
            fr_log_warn(TAG, "dropped update from store %s: shape %u x %u, "
                        "model is %u x %u", peer->store, u->n_items, u->dim,
                        fr_model_n_items(a->model), fr_model_dim(a->model));
        return;
    }
    memcpy(a->scratch, u->delta_emb, emb * sizeof(float));
    memcpy(a->scratch + emb, u->delta_bias, u->n_items * sizeof(float));
    if (fr_agg_add(a->acc, a->scratch, (double)u->num_examples)) {
        if (round_reject(a, AGG_REJECT_MALFORMED))
            fr_log_warn(TAG, "dropped update from store %s: invalid values",
                        peer->store);
        return;
    }
counted:
    a->answered[idx] = 1;
    a->n_answered++;
    a->covered += u->covers ? u->covers : 1;
    e = registry_find(a->reg, peer->store);
    e->rounds_joined++;
    if (u->covers) /* a region's mean: its figures, for display */
        round_region_input(a, e, u->covers, &u->metrics, 1);
    /* least squares: no loss, and a store's sums count once */
    round_add_quality(a, &u->metrics, a->ials ? 0 : u->num_examples);
    fr_log_debug(TAG, "update from store %s (%zu/%zu)", peer->store,
                 a->n_answered, a->n_selected);
    if (a->n_answered == a->n_selected)
        round_close(a, now, "all selected stores answered");
}

static void dispatch(aggregator *a, store_entry *e, const fr_net_peer *peer,
                     const fr_msg *msg, int64_t now);

void
aggregator_on_message(aggregator *a, const fr_net_peer *peer,
                      const fr_msg *msg, int64_t now)
{
    store_entry *e;

    /* ZAP admitted the key at the handshake; a key revoked or rotated out
     * since is refused from its next message on. */
    if (a->ctx && !fr_net_zap_key_allowed(a->ctx, peer->store, peer->key_fp)) {
        store_entry *old = registry_find(a->reg, peer->store);
        if (!old || !old->revoked) /* once, not per heartbeat */
            fr_log_ev(FR_LOG_WARN, TAG, "message_refused",
                      "refused messages from store %s: its key (key_fp=%s) "
                      "is no longer on the allow-list; reason=revoked",
                      peer->store, peer->key_fp);
        if (old)
            old->revoked = 1;
        round_reject(a, AGG_REJECT_REVOKED);
        return;
    }
    if (registry_touch(a->reg, peer, now, &e)) {
        fr_log_warn(TAG, "store %s ignored: registry full (max_stores %lld)",
                    peer->store, (long long)a->cfg->max_stores);
        return;
    }
    a->cur_peer = peer; /* refusals below are charged to it */
    dispatch(a, e, peer, msg, now);
    a->cur_peer = NULL;
}

static void
dispatch(aggregator *a, store_entry *e, const fr_net_peer *peer,
         const fr_msg *msg, int64_t now)
{
    switch (msg->type) {
    case FR_MSG_HELLO:
        e->num_examples = msg->u.hello.num_examples;
        e->busy = msg->u.hello.busy != 0;
        e->stores = msg->u.hello.stores;
        e->max_examples = msg->u.hello.max_examples;
        e->region |= e->stores != 0;
        agg_hello_after_end(a, e, now);
        secure_on_hello(a, peer->store, msg->u.hello.last_round, now);
        break;
    case FR_MSG_CATALOGUE:
        agg_on_catalogue(a, e, msg, now);
        break;
    case FR_MSG_UPDATE:
        if (round_secure(a)) { /* a region's round follows the central's */
            if (round_reject(a, AGG_REJECT_UNEXPECTED))
                fr_log_warn(TAG, "dropped a plain update from store %s: "
                            "this aggregator only takes masked updates "
                            "(secagg)", peer->store);
            break;
        }
        on_update(a, peer, msg, now);
        break;
    case FR_MSG_SECAGG:
        secure_on_message(a, peer, msg, now);
        break;
    default:
        if (round_reject(a, AGG_REJECT_UNEXPECTED))
            fr_log_warn(TAG, "dropped %s message from store %s: not "
                        "expected by the aggregator",
                        fr_msg_type_name(msg->type), peer->store);
        break;
    }
}
