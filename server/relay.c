/*
 * relay.c - mode regional: the round engine's side of relaying the central
 * aggregator's rounds (docs/SECAGG.md "Regions: nested secure
 * aggregation").
 *
 * DESIGN. A regional aggregator never starts a round by itself. The
 * central's ROUND_START (from upstream.c) carries everything about the
 * round: the model, the training parameters, DP, the catalogue, and for a
 * secure round the clip, the weight cap, encode_n (every store of every
 * region encodes for the total, so the regions' sums add without
 * wrapping) and cover_max (the most stores this region may bring). The
 * region then runs its own round among its stores, with the central's
 * round id, its own SecAgg+ shape (n = its chosen stores, its k, t and
 * min_stores) and a deadline upstream_margin_ms before the central's, so
 * that it can unmask in time:
 *
 *   central ROUND_START -> [catalogue fetch] -> region's round (round.c,
 *   secure.c) -> secure: the unmasked sum, raw Z_2^32 words, goes to
 *   upstream.c, which masks it for the central's round (never decoded,
 *   never applied: a region has no model of its own and writes no
 *   checkpoint); plain: the weighted mean and the total weight go up as
 *   one UPDATE -> central ROUND_END forwarded to the region's stores.
 *
 * The figures go up with the result: the weighted mean of the stores'
 * metrics and the number of stores the result covers. A region whose own
 * round failed sends nothing and the central counts it as dropped. The
 * central's DONE makes the region answer its stores' HELLOs with DONE.
 * Invariant: up_start is the central round in hand until the region's
 * round for it closes (or is not started), NULL otherwise; a->round_id is
 * the central's id while it is held. What is left of a central round after
 * that (up_round, up_handed) is what its ROUND_END needs.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "round_int.h"
#include "upstream.h"

#define TAG "relay"

fr_err
relay_open(aggregator *a)
{
    a->round_id = 1;
    fr_log_ev(FR_LOG_NOTICE, TAG, "regional",
              "mode regional: rounds follow the central aggregator at %s; "
              "this aggregator keeps no model and relays only its region's "
              "sum", a->cfg->upstream);
    return FR_OK;
}

void
relay_close(aggregator *a)
{
    fr_msg_destroy(&a->up_start);
}

void
aggregator_set_upstream(aggregator *a, struct agg_upstream *up)
{
    a->up = up;
}

/* Makes a->model the central's global model of rs (a new model and its
 * buffers when the shape changes). */
static fr_err
set_model(aggregator *a, const fr_msg_round_start *rs)
{
    fr_err rc;

    if (!a->model || fr_model_n_items(a->model) != rs->n_items ||
        fr_model_dim(a->model) != rs->dim) {
        fr_model_destroy(&a->model);
        fr_agg_destroy(&a->acc);
        free(a->scratch);
        a->scratch = NULL;
        if ((rc = fr_model_new(&a->model, rs->n_items, rs->dim)) ||
            (rc = round_model_buffers(a)))
            return rc;
    }
    memcpy(fr_model_item_emb(a->model), rs->item_emb,
           (size_t)rs->n_items * rs->dim * sizeof(float));
    memcpy(fr_model_item_bias(a->model), rs->item_bias,
           rs->n_items * sizeof(float));
    return FR_OK;
}

/* The region's deadline, in ms from now: the central's less the margin
 * its own unmasking may take, and at least half the central's. */
static uint32_t
local_deadline(const aggregator *a, uint32_t central_ms)
{
    const agg_config *c = a->cfg;
    int64_t margin = c->upstream_margin_ms
                         ? c->upstream_margin_ms
                         : 2 * c->secagg_phase_timeout_ms + 1000;
    int64_t local = (int64_t)central_ms - margin;

    if (local < (int64_t)central_ms / 2) {
        fr_log_warn(TAG, "the central's deadline of %u ms leaves less than "
                    "half of it after upstream_margin_ms %lld: the region's "
                    "round gets %u ms", central_ms, (long long)margin,
                    central_ms / 2);
        local = central_ms / 2;
    }
    return (uint32_t)local;
}

/* Forgets the central round in hand. */
static void
drop_start(aggregator *a)
{
    fr_msg_destroy(&a->up_start);
    a->up_cat_wait = 0;
}

void
relay_round_over(aggregator *a)
{
    drop_start(a);
}

/* Starts the region's round for the central round in hand, with as many
 * of its ready stores as the central sized the round for. */
static void
begin(aggregator *a, int64_t now)
{
    const fr_msg_round_start *rs = &a->up_start->u.round_start;
    store_entry **cand = malloc((size_t)a->cfg->max_stores * sizeof *cand);
    size_t n, k;

    if (!cand) {
        drop_start(a);
        return;
    }
    n = round_ready_stores(a, now, cand);
    k = round_pick_count(a, n);
    if (rs->has_secagg && k > rs->secagg.cover_max)
        k = rs->secagg.cover_max;
    if (k < (size_t)a->cfg->min_stores) {
        fr_log_warn(TAG, "round id %llu: %zu of this region's stores can "
                    "take part (%lld needed%s): the region sits this round "
                    "out", (unsigned long long)a->round_id, k,
                    (long long)a->cfg->min_stores,
                    rs->has_secagg && !rs->secagg.cover_max
                        ? "; the central sized it for none"
                        : "");
        drop_start(a);
    } else {
        fr_log_info(TAG, "round id %llu from the central: %zu of %zu ready "
                    "stores, %u ms", (unsigned long long)a->round_id, k, n,
                    rs->deadline_ms);
        round_start_with(a, now, cand, n, k);
    }
    free(cand);
}

/* True (and the catalogue asked for) if the round names a catalogue the
 * region does not hold. */
static bool
fetch_catalogue(aggregator *a, const fr_msg_round_start *rs)
{
    fr_msg m = {.type = FR_MSG_CATALOGUE};
    uint8_t own[FR_CATALOGUE_ID_BYTES];

    if (!rs->has_catalogue)
        return false;
    if (a->cat) {
        fr_catalogue_id(a->cat, own);
        if (!memcmp(own, rs->catalogue_id, sizeof own))
            return false;
    }
    memcpy(m.u.catalogue.id, rs->catalogue_id, sizeof m.u.catalogue.id);
    if (!a->up || agg_upstream_send(a->up, &m))
        fr_log_warn(TAG, "round id %llu: cannot ask the central for its "
                    "catalogue", (unsigned long long)a->round_id);
    else
        fr_log_info(TAG, "round id %llu: fetching the central's catalogue "
                    "(%u items)", (unsigned long long)a->round_id,
                    rs->catalogue_items);
    return true;
}

bool
aggregator_relay_repeated(aggregator *a, const fr_msg *msg)
{
    const fr_msg_round_start *rs = &msg->u.round_start;

    if (!fr_secagg_heard_repeat(&a->up_heard, msg->round_id,
                                rs->has_secagg ? &rs->secagg : NULL))
        return false;
    fr_log_info(TAG, "round id %llu: the central sent its round start "
                "again; this region has it already",
                (unsigned long long)msg->round_id);
    return true;
}

void
aggregator_relay_start(aggregator *a, fr_msg **msgp, int64_t now)
{
    fr_msg *msg = *msgp;
    fr_msg_round_start *rs = &msg->u.round_start;

    if (a->state == ST_COLLECTING) {
        a->n_answered = 0;
        round_close(a, now, "the central started another round");
    }
    drop_start(a);
    a->up_done = 0;
    if (a->state == ST_DONE)
        a->state = ST_IDLE;
    if (a->paused || a->draining) {
        fr_log_info(TAG, "round id %llu from the central not relayed: %s",
                    (unsigned long long)msg->round_id,
                    a->draining ? "stopping" : "paused");
        return;
    }
    if (set_model(a, rs)) {
        fr_log_err(TAG, "round id %llu: out of memory for the model",
                   (unsigned long long)msg->round_id);
        return;
    }
    a->up_start = msg;
    *msgp = NULL;
    a->up_start_ms = now;
    a->round_id = a->up_round = msg->round_id;
    a->up_handed = 0;
    rs->deadline_ms = local_deadline(a, rs->deadline_ms);
    if (fetch_catalogue(a, rs))
        a->up_cat_wait = 1;
    else
        begin(a, now);
}

void
relay_tick(aggregator *a, int64_t now)
{
    if (a->up_cat_wait &&
        now - a->up_start_ms >
            (int64_t)a->up_start->u.round_start.deadline_ms / 2) {
        fr_log_warn(TAG, "round id %llu: the central's catalogue did not "
                    "come in time; the region sits this round out",
                    (unsigned long long)a->round_id);
        drop_start(a);
    }
}

void
relay_fill_start(const aggregator *a, fr_msg_round_start *rs)
{
    const fr_msg_round_start *up = &a->up_start->u.round_start;

    rs->train = up->train;
    rs->has_dp = up->has_dp && rs->has_secagg;
    if (rs->has_dp)
        rs->dp = up->dp;
    rs->has_catalogue = up->has_catalogue;
    memcpy(rs->catalogue_id, up->catalogue_id, sizeof rs->catalogue_id);
    rs->catalogue_items = up->catalogue_items;
}

fr_err
relay_plan(aggregator *a, fr_sa_params *p, fr_secagg_setup *tmpl)
{
    const fr_msg_round_start *up = &a->up_start->u.round_start;
    uint32_t total = fr_secagg_encode_n(&up->secagg);
    uint64_t want = up->has_dp ? up->dp.dim : (uint64_t)a->n_params + 1;

    memset(a->part_cover, 0, (size_t)a->cfg->max_stores * sizeof *a->part_cover);
    if (up->secagg.n_words != want || total < p->n) {
        fr_log_err(TAG, "round id %llu: the central's round (%u words, "
                   "sized for %u stores) does not fit this region's %u "
                   "stores and %llu words", (unsigned long long)a->round_id,
                   up->secagg.n_words, total, p->n,
                   (unsigned long long)want);
        return FR_EPROTO;
    }
    *tmpl = (fr_secagg_setup){.clip = up->secagg.clip,
                              .weight_cap = up->secagg.weight_cap,
                              .encode_n = total > p->n ? total : 0};
    p->n_words = up->secagg.n_words;
    p->min_inputs = (uint32_t)a->cfg->min_stores > p->t
                        ? (uint32_t)a->cfg->min_stores
                        : p->t;
    a->dp_round = up->has_dp != 0;
    if (a->dp_round)
        a->dp_setup = up->dp;
    a->dp_min_covered = 0;
    if (p->min_inputs > p->n) {
        fr_log_err(TAG, "round id %llu: %u inputs needed of %u stores",
                   (unsigned long long)a->round_id, p->min_inputs, p->n);
        return FR_EINVAL;
    }
    return FR_OK;
}

/* The weighted mean of the stores' figures in the region's round; 0 if
 * no store sent any (as under DP). */
static int
region_metrics(const aggregator *a, fr_metrics *m)
{
    const quality *q = &a->q;

    memset(m, 0, sizeof *m);
    if (!(q->eval_weight > 0) && !(q->loss_weight > 0))
        return 0;
    if (q->eval_weight > 0) {
        m->hr10 = q->hr / q->eval_weight;
        m->ndcg10 = q->ndcg / q->eval_weight;
        m->pop_hr10 = q->pop_hr / q->eval_weight;
        m->pop_ndcg10 = q->pop_ndcg / q->eval_weight;
        m->eval_members = q->eval_weight >= 4294967295.0
                              ? UINT32_MAX
                              : (uint32_t)q->eval_weight;
    }
    if (q->loss_weight > 0)
        m->train_loss = q->loss / q->loss_weight;
    return 1;
}

void
relay_hand_up_sum(aggregator *a, const uint32_t *sum, uint32_t n_in,
                  int64_t now)
{
    const fr_msg_round_start *up = &a->up_start->u.round_start;
    fr_metrics m;
    int has = region_metrics(a, &m);
    fr_err rc = a->up ? agg_upstream_sa_input(a->up, a->round_id, sum,
                                              up->secagg.n_words, n_in,
                                              has ? &m : NULL)
                      : FR_ESTATE;

    if (rc) {
        fr_log_warn(TAG, "round id %llu: the region's sum of %u stores "
                    "cannot go up (%s): the region drops out of the "
                    "central's round", (unsigned long long)a->round_id, n_in,
                    rc == FR_ESTATE ? "no secure central round in hand"
                                    : fr_strerror(rc));
        a->n_answered = 0;
        round_close(a, now, "the region's sum could not go up");
        return;
    }
    a->up_handed = 1;
    a->n_answered = n_in;
    a->covered = n_in;
    round_close(a, now, "region sum handed up");
}

/* A plain round: the weighted mean of the stores' updates and their total
 * weight go up as one UPDATE, so the central's weighted mean over regions
 * is the mean over all stores. */
static fr_err
send_mean(aggregator *a)
{
    fr_msg m = {.type = FR_MSG_UPDATE, .round_id = a->round_id};
    fr_msg_update *u = &m.u.update;
    uint32_t n_items = fr_model_n_items(a->model);
    fr_err rc = fr_agg_mean(a->acc, a->scratch);

    if (rc)
        return rc;
    u->num_examples = a->q.examples;
    u->covers = (uint32_t)a->n_answered;
    u->n_items = n_items;
    u->dim = fr_model_dim(a->model);
    u->delta_emb = a->scratch;
    u->delta_bias = a->scratch + (size_t)n_items * u->dim;
    (void)region_metrics(a, &u->metrics);
    return a->up ? agg_upstream_send(a->up, &m) : FR_ESTATE;
}

void
relay_closed(aggregator *a, int64_t now, double secs, const char *why)
{
    fr_err rc = FR_OK;

    (void)now;
    if (!a->sa) { /* plain; a secure round's sum went up in finish */
        rc = send_mean(a);
        a->up_handed = rc == FR_OK;
    }
    if (rc) {
        fr_log_warn(TAG, "round id %llu: the region's mean of %zu stores "
                    "could not be sent to the central: %s",
                    (unsigned long long)a->round_id, a->n_answered,
                    fr_strerror(rc));
        return;
    }
    fr_log_ev(FR_LOG_NOTICE, TAG, "region_round_done",
              "round id %llu: the region's %s of %zu/%zu stores went to the "
              "central (%s), %.2f s; round_id=%llu stores=%zu selected=%zu "
              "seconds=%.3f", (unsigned long long)a->round_id,
              a->sa ? "secure sum" : "mean", a->n_answered, a->n_selected,
              why, secs, (unsigned long long)a->round_id, a->n_answered,
              a->n_selected, secs);
}

void
aggregator_relay_end(aggregator *a, const fr_msg *msg, const uint8_t *buf,
                     size_t len, int64_t now)
{
    const fr_msg_round_end *re = &msg->u.round_end;
    int forward = a->up_round == msg->round_id && a->up_handed;

    if (a->state == ST_COLLECTING && a->round_id == msg->round_id) {
        a->n_answered = 0; /* its stores hear it was abandoned here */
        round_close(a, now, "the central's round ended first");
        forward = 0;
    }
    if (a->up_start && a->up_start->round_id == msg->round_id)
        drop_start(a);
    if (re->completed)
        a->completed = re->completed_rounds;
    if (forward) {
        round_send_selected(a, buf, len);
        a->up_handed = 0;
    }
    fr_log_info(TAG, "round id %llu %s at the central with %u stores%s",
                (unsigned long long)msg->round_id,
                re->completed ? "completed" : "abandoned", re->contributors,
                forward ? "; forwarded to this region's stores" : "");
    aggregator_publish(a, now);
}

void
aggregator_relay_done(aggregator *a, const fr_msg *msg, int64_t now)
{
    if (!a->up_done)
        fr_log_ev(FR_LOG_NOTICE, TAG, "training_done",
                  "the central aggregator says training has ended after "
                  "%llu rounds: this region's stores are told so",
                  (unsigned long long)msg->u.done.completed_rounds);
    a->up_done = 1;
    a->completed = msg->u.done.completed_rounds;
    if (a->state != ST_COLLECTING)
        a->state = ST_DONE;
    aggregator_publish(a, now);
}

/* Parses the central's catalogue bytes and checks them against the id
 * and item count the round start named; the catalogue, or NULL (logged). */
static fr_catalogue *
accept_catalogue(const aggregator *a, const fr_msg_catalogue *m)
{
    const fr_msg_round_start *rs = &a->up_start->u.round_start;
    fr_catalogue *cat = NULL;
    uint8_t got[FR_CATALOGUE_ID_BYTES];
    char err[256];

    if (fr_catalogue_parse(m->content, m->content_len, &cat, err,
                           sizeof err)) {
        fr_log_warn(TAG, "round id %llu: the central's catalogue does not "
                    "parse (%s)", (unsigned long long)a->round_id, err);
        return NULL;
    }
    fr_catalogue_id(cat, got);
    if (memcmp(got, rs->catalogue_id, sizeof got) != 0 ||
        fr_catalogue_n_items(cat) != rs->catalogue_items) {
        fr_log_warn(TAG, "round id %llu: the catalogue the central sent is "
                    "not the one its round start names",
                    (unsigned long long)a->round_id);
        fr_catalogue_destroy(&cat);
    }
    return cat;
}

void
aggregator_relay_catalogue(aggregator *a, const fr_msg *msg, int64_t now)
{
    const fr_msg_catalogue *m = &msg->u.catalogue;
    fr_catalogue *cat;

    if (!a->up_cat_wait || !m->content_len ||
        memcmp(m->id, a->up_start->u.round_start.catalogue_id,
               sizeof m->id) != 0) {
        fr_log_warn(TAG, "dropped a catalogue from the central that this "
                    "region did not ask for");
        return;
    }
    a->up_cat_wait = 0;
    if (!(cat = accept_catalogue(a, m)) || agg_cat_install(a, &cat)) {
        fr_catalogue_destroy(&cat);
        drop_start(a);
        return;
    }
    fr_log_ev(FR_LOG_NOTICE, TAG, "catalogue_fetched",
              "round id %llu: the central's catalogue (%u items) fetched; "
              "this region's stores are served it",
              (unsigned long long)a->round_id, fr_catalogue_n_items(a->cat));
    begin(a, now);
}

void
aggregator_relay_lost(aggregator *a, int64_t now)
{
    if (a->state == ST_COLLECTING) {
        a->n_answered = 0;
        round_close(a, now, "the link to the central was lost");
    }
    drop_start(a);
    a->up_handed = 0;
}

void
aggregator_region_hello(aggregator *a, int64_t now, fr_msg_hello *h)
{
    store_entry **cand = malloc((size_t)a->cfg->max_stores * sizeof *cand);
    size_t n = cand ? round_ready_stores(a, now, cand) : 0;
    size_t k = round_pick_count(a, n);
    uint64_t sum = 0, most = 0;
    int can = k >= (size_t)a->cfg->min_stores && k > 0;

    for (size_t i = 0; i < n; i++) {
        sum += cand[i]->num_examples;
        if (cand[i]->num_examples > most)
            most = cand[i]->num_examples;
    }
    free(cand);
    if (k > FR_SA_MAX_PARTIES)
        k = FR_SA_MAX_PARTIES;
    memset(h, 0, sizeof *h);
    h->num_examples = sum;
    h->last_round = a->up_heard.round_id;
    h->stores = can ? (uint32_t)k : 0;
    h->max_examples = can ? most : 0;
    h->busy = !can || a->state == ST_COLLECTING || a->up_cat_wait ||
              a->paused || a->draining;
}
