/*
 * secure.c - rounds under secure aggregation (SecAgg+, common/secagg/).
 *
 * DESIGN. A secure round has the chosen stores, sorted by name, as
 * participants 0..n-1. Each gets its own ROUND_START (the global model plus
 * its participant number and the round's SecAgg+ parameters) and answers
 * with ADVERTISE at once, while its training runs. The engine then drives
 * the protocol: a phase closes when every expected store answered, when its
 * deadline passes, or when every store still expected has stopped sending
 * heartbeats; fr_sa_server_advance then treats the silent ones as dropped
 * and the next phase's requests go out. The masked-input phase waits up to
 * the round deadline (training time); the others wait
 * secagg_phase_timeout_ms. After REVEAL the secure sum is decoded into the
 * weighted mean update (secagg/quant.h) and the round closes as a plain one
 * would. Any abort (too few stores left, inconsistent shares) abandons the
 * round; nothing about single stores is learned either way.
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "round_int.h"

#define TAG "secagg"

static const char *
phase_name(fr_sa_phase p)
{
    switch (p) {
    case FR_SA_ADVERTISE: return "advertise keys";
    case FR_SA_SHARES: return "share keys";
    case FR_SA_MASKED: return "masked input";
    case FR_SA_SIGNED: return "consistency check";
    case FR_SA_REVEAL: return "unmasking";
    default: return "finished";
    }
}

static agg_phase
stats_phase(fr_sa_phase p)
{
    switch (p) {
    case FR_SA_ADVERTISE: return AGG_PHASE_ADVERTISE;
    case FR_SA_SHARES: return AGG_PHASE_SHARE;
    case FR_SA_MASKED: return AGG_PHASE_MASKED;
    case FR_SA_SIGNED: return AGG_PHASE_CONSISTENCY;
    default: return AGG_PHASE_UNMASK;
    }
}

agg_phase
secure_phase(const aggregator *a)
{
    return a->sa ? stats_phase(fr_sa_server_phase(a->sa)) : AGG_PHASE_COLLECT;
}

/* Neighbour count and threshold for a round of n stores. */
static void
choose_kt(const agg_config *c, uint32_t n, uint32_t *k, uint32_t *t)
{
    uint32_t kk = c->secagg_k ? (uint32_t)c->secagg_k : fr_sa_default_k(n);

    if (kk > n - 1)
        kk = n - 1;
    *k = kk;
    *t = c->secagg_t ? (uint32_t)c->secagg_t : fr_sa_default_t(kk);
}

fr_err
secure_config_check(const agg_config *c, char *errbuf, size_t errlen)
{
    uint32_t n[2] = {(uint32_t)c->min_stores, (uint32_t)c->max_stores};
    char why[256];
    fr_quant q;

    for (int i = 0; i < 2; i++) {
        uint32_t k, t;
        if (n[i] < 3) {
            snprintf(errbuf, errlen, "secagg: a round needs at least 3 "
                     "stores (min_stores is %u); set secagg no for smaller "
                     "federations", n[i]);
            return FR_EINVAL;
        }
        choose_kt(c, n[i], &k, &t);
        if (fr_sa_check_params(n[i], k, t, c->secagg_max_dropout, why,
                               sizeof why)) {
            snprintf(errbuf, errlen, "secagg with %s %u stores: %s",
                     i ? "max_stores" : "min_stores", n[i], why);
            return FR_EINVAL;
        }
    }
    if (fr_quant_init(&q, (uint32_t)c->max_stores, c->secagg_clip,
                      (uint32_t)c->secagg_weight_cap)) {
        snprintf(errbuf, errlen, "secagg: max_stores %lld x "
                 "secagg_weight_cap %lld must stay below 2^32",
                 (long long)c->max_stores, (long long)c->secagg_weight_cap);
        return FR_EINVAL;
    }
    return FR_OK;
}

static int
cmp_name(const void *x, const void *y)
{
    return strcmp((const char *)x, (const char *)y);
}

static long
participant(const aggregator *a, const char *store)
{
    const char(*hit)[FR_NET_STORE_NAME_MAX] =
        bsearch(store, a->selected, a->n_selected, sizeof *a->selected,
                cmp_name);
    return hit ? (long)(hit - a->selected) : -1;
}

void
secure_end(aggregator *a)
{
    fr_sa_server_destroy(&a->sa);
    free(a->start_sent_ms);
    free(a->start_resends);
    free(a->start_link);
    a->start_sent_ms = NULL;
    a->start_resends = NULL;
    a->start_link = NULL;
    a->start_next = a->start_n = a->start_acked = 0;
}

/* Keeps, in name order, the chosen stores with an identity key on the
 * allow-list (only they can sign), with their keys in ids. */
static void
keep_signers(aggregator *a, uint8_t (*ids)[FR_SA_KEY_BYTES])
{
    size_t m = 0;

    for (size_t i = 0; i < a->n_selected; i++) {
        const store_entry *e = registry_find(a->reg, a->selected[i]);
        if (!e || fr_net_zap_sign_key_for(a->ctx, a->selected[i],
                                          e->peer.key_fp, ids[m])) {
            fr_log_warn(TAG, "store %s has no identity key on the allow-list "
                        "and cannot take part in secure rounds",
                        a->selected[i]);
            continue;
        }
        memmove(a->selected[m++], a->selected[i], FR_NET_STORE_NAME_MAX);
    }
    a->n_selected = m;
}

/* The weight cap of this round: the configured cap, lowered to the
 * largest example count the participants report in their heartbeats.
 * The encoding's resolution is relative to the cap, so a cap far above
 * every store's weight would only cost precision. */
static uint64_t
round_weight_cap(const aggregator *a)
{
    uint64_t cap = (uint64_t)a->cfg->secagg_weight_cap, most = 0;

    for (size_t i = 0; i < a->n_selected; i++) {
        store_entry *e = registry_find(a->reg, a->selected[i]);
        /* a region reports its largest store's count */
        uint64_t x = !e ? 0 : a->part_cover[i] ? e->max_examples
                                                : e->num_examples;
        if (x > most)
            most = x;
    }
    if (most && most < cap)
        cap = most;
    return cap;
}

/* What each participant may cover (a->part_cover: a region's reported
 * store count, 0 for a store), the total the encoding is sized for, and
 * the largest region (0: none takes part). */
static uint32_t
count_covered(aggregator *a, uint32_t *largest)
{
    uint32_t total = 0;

    *largest = 0;
    for (size_t i = 0; i < a->n_selected; i++) {
        store_entry *e = registry_find(a->reg, a->selected[i]);
        uint32_t c = e ? e->stores : 0;
        a->part_cover[i] = c;
        total += c ? c : 1;
        if (c > *largest)
            *largest = c;
    }
    return total;
}

/* Checks that the p->n participants can run securely and sets the rest of
 * p, the round's encoding (a->quant), its DP plan and the setup every
 * participant gets (tmpl). Logged. */
static fr_err
plan_round(aggregator *a, fr_sa_params *p, fr_secagg_setup *tmpl)
{
    const agg_config *c = a->cfg;
    uint32_t total, largest;
    uint64_t cap;
    double clip;
    char why[256];
    fr_err rc;


    if (p->n < 3 || p->n < (uint32_t)c->min_stores) {
        fr_log_warn(TAG, "round id %llu: %zu stores can take part, %lld "
                    "needed", (unsigned long long)a->round_id,
                    (size_t)p->n,
                    (long long)(c->min_stores > 3 ? c->min_stores : 3));
        return FR_ESTATE;
    }
    choose_kt(c, p->n, &p->k, &p->t);
    if (fr_sa_check_params(p->n, p->k, p->t, c->secagg_max_dropout, why,
                           sizeof why)) {
        fr_log_err(TAG, "round id %llu with %u stores cannot run securely: "
                   "%s", (unsigned long long)a->round_id, p->n, why);
        return FR_EINVAL;
    }
    /* a region: the rest comes from the central's round start */
    if (agg_regional(a->cfg))
        return relay_plan(a, p, tmpl);
    /* Every store of every region encodes for the total, so that the
     * regions' sums add without wrapping. */
    total = count_covered(a, &largest);
    cap = a->ials ? 1 : round_weight_cap(a); /* sums count once each */
    clip = a->ials ? agg_ials_clip(a) : c->secagg_clip;
    if (fr_quant_init(&a->quant, total, clip, (uint32_t)cap)) {
        fr_log_err(TAG, "round id %llu: no fixed-point encoding fits %u "
                   "stores with secagg_clip %g and secagg_weight_cap %lld",
                   (unsigned long long)a->round_id, total, c->secagg_clip,
                   (long long)c->secagg_weight_cap);
        return FR_EINVAL;
    }
    *tmpl = (fr_secagg_setup){.clip = clip,
                              .weight_cap = (uint32_t)cap,
                              .encode_n = total > p->n ? total : 0};
    if (largest)
        fr_log_info(TAG, "round id %llu: %u participants cover %u stores "
                    "(largest region %u)", (unsigned long long)a->round_id,
                    p->n, total, largest);
    p->n_words = (uint32_t)(a->ials ? agg_ials_len(a) : a->n_params) + 1;
    p->min_inputs = (uint32_t)c->min_stores > p->t ? (uint32_t)c->min_stores
                                                   : p->t;
    /* With DP the stores send the DDG words instead, and the sum must hold
     * at least the noise shares the noise was sized for. */
    if ((rc = agg_dp_plan(a, total, largest, &p->min_inputs)))
        return rc;
    if (a->dp_round)
        p->n_words = (uint32_t)a->dp_setup.dim;
    if (p->min_inputs > p->n) {
        fr_log_err(TAG, "round id %llu: %u inputs needed of %u stores",
                   (unsigned long long)a->round_id, p->min_inputs, p->n);
        return FR_EINVAL;
    }
    return FR_OK;
}

/* Round starts in flight at a time. Each participant's start is its own
 * encoding of the model (its index differs), ~0.4 MB at 100,000
 * parameters, and ZeroMQ holds a second, encrypted copy of it until the
 * connection takes it: sent all at once they were the aggregator's memory
 * peak (0.5 MiB per store). A start is in flight until its store has
 * answered it (its keys came in) or AGG_START_ACK_MS passed, so a store
 * that never answers costs its slot only that long; the bytes handed to
 * ZeroMQ and not yet taken stay under AGG_START_WINDOW_BYTES too. */
#define AGG_START_WINDOW 64
#define AGG_START_ACK_MS 1000
#define AGG_START_WINDOW_BYTES ((size_t)32 << 20)
/* A store that lost its start (secure_on_hello) gets it again at most
 * this many times in a round. */
#define AGG_START_RESENDS 3

/* Starts sent and neither answered nor expired. */
static uint32_t
starts_in_flight(aggregator *a, int64_t now)
{
    uint32_t n = 0;

    while (a->start_acked < a->start_next &&
           (!fr_sa_server_expects(a->sa, a->start_acked) ||
            now - a->start_sent_ms[a->start_acked] >= AGG_START_ACK_MS))
        a->start_acked++;
    for (uint32_t i = a->start_acked; i < a->start_next; i++)
        n += fr_sa_server_expects(a->sa, i) &&
             now - a->start_sent_ms[i] < AGG_START_ACK_MS;
    return n;
}

/* Encodes and sends participant i its round start (failure logged). */
static fr_err
send_start(aggregator *a, uint32_t i, int64_t now)
{
    fr_secagg_setup *setup = &a->start_setup;
    const store_entry *e;
    uint8_t *buf = NULL;
    size_t len = 0;
    fr_err rc;

    setup->index = i;
    setup->cover_max = a->part_cover[i];
    if ((rc = round_encode_start(a, setup, &buf, &len))) {
        fr_log_err(TAG, "cannot encode round %llu",
                   (unsigned long long)a->round_id);
        return rc;
    }
    a->start_sent_ms[i] = now;
    e = registry_find(a->reg, a->selected[i]);
    a->start_link[i] = e ? e->links : 0;
    round_send_owned(a, a->selected[i], &buf, len);
    return FR_OK;
}

/* Sends round starts from start_next on while the window has room. Once
 * the keys phase is over, a store without its start is a dropout and no
 * more go out. On failure (logged) the secure round is torn down. */
static fr_err
send_more_starts(aggregator *a, int64_t now)
{
    if (fr_sa_server_phase(a->sa) != FR_SA_ADVERTISE)
        a->start_next = a->start_n;
    while (a->start_next < a->start_n &&
           starts_in_flight(a, now) < AGG_START_WINDOW &&
           fr_net_queued_bytes(a->ctx) < AGG_START_WINDOW_BYTES) {
        fr_err rc = send_start(a, a->start_next++, now);
        if (rc) {
            secure_end(a);
            return rc;
        }
    }
    return FR_OK;
}

/* A store's heartbeat names the last round start it received. A
 * participant whose start went out on a connection it has since replaced
 * (a new routing id), and that still names no start of this round, lost
 * it: ZeroMQ drops what a connection held when the store reconnects, and
 * the store would otherwise hold the keys phase open until its deadline
 * while its heartbeats say it is alive. It gets the same start again on
 * the new connection; stores ignore a repeat of a start they took. A
 * start merely slow to arrive (a busy store, a full link) is not sent
 * again: that would only add to the load. */
void
secure_on_hello(aggregator *a, const char *store, uint64_t last_round,
                int64_t now)
{
    const store_entry *e;
    long i;

    if (!a->sa || fr_sa_server_phase(a->sa) != FR_SA_ADVERTISE ||
        last_round == a->round_id || (i = participant(a, store)) < 0 ||
        (uint32_t)i >= a->start_next ||
        !fr_sa_server_expects(a->sa, (uint32_t)i) ||
        a->start_resends[i] >= AGG_START_RESENDS ||
        !(e = registry_find(a->reg, store)) || e->links == a->start_link[i])
        return;
    a->start_resends[i]++;
    fr_log_info(TAG,
                "round id %llu: store %s reconnected and says its last "
                "round start was round id %llu; sending it this round's "
                "again (%u of %d)",
                (unsigned long long)a->round_id, store,
                (unsigned long long)last_round, a->start_resends[i],
                AGG_START_RESENDS);
    if (a->stats)
        agg_stats_start_resent(a->stats);
    if (send_start(a, (uint32_t)i, now))
        a->start_resends[i] = AGG_START_RESENDS; /* logged; let it drop */
}

/* Sends each participant its own ROUND_START: the first window now, the
 * rest from secure_tick as the window frees up. */
static fr_err
send_starts(aggregator *a, const fr_sa_params *p, const fr_secagg_setup *tmpl,
            int64_t now)
{
    fr_secagg_setup *setup = &a->start_setup;

    *setup = *tmpl;
    setup->n = p->n;
    setup->k = p->k;
    setup->t = p->t;
    setup->n_words = p->n_words;
    setup->min_inputs = p->min_inputs;
    memcpy(setup->graph_commit, p->graph_commit, 32);
    free(a->start_sent_ms);
    free(a->start_resends);
    free(a->start_link);
    a->start_sent_ms = malloc((p->n ? p->n : 1) * sizeof *a->start_sent_ms);
    a->start_link = malloc((p->n ? p->n : 1) * sizeof *a->start_link);
    a->start_resends = calloc(p->n ? p->n : 1, 1);
    if (!a->start_sent_ms || !a->start_link || !a->start_resends) {
        secure_end(a);
        return FR_ENOMEM;
    }
    a->start_next = a->start_acked = 0;
    a->start_n = p->n;
    fr_log_info(TAG, "round id %llu: sending the round start to %u stores",
                (unsigned long long)a->round_id, p->n);
    return send_more_starts(a, now);
}

fr_err
secure_start(aggregator *a, int64_t now)
{
    uint8_t(*ids)[FR_SA_KEY_BYTES];
    uint8_t seed[32] = {0};
    fr_sa_params p = {.round_id = a->round_id};
    fr_secagg_setup tmpl = {0};
    fr_err rc;

    qsort(a->selected, a->n_selected, sizeof *a->selected, cmp_name);
    ids = malloc((a->n_selected ? a->n_selected : 1) * sizeof *ids);
    if (!ids) {
        fr_log_err(TAG, "round id %llu: out of memory",
                   (unsigned long long)a->round_id);
        return FR_ENOMEM;
    }
    keep_signers(a, ids);
    p.n = (uint32_t)a->n_selected;
    if ((rc = plan_round(a, &p, &tmpl)))
        goto out;
    fr_sa_graph_seed(seed, p.graph_commit);
    if ((rc = fr_sa_server_new(&p, seed,
                               (const uint8_t(*)[FR_SA_KEY_BYTES])ids,
                               &a->sa))) {
        fr_log_err(TAG, "round id %llu: cannot set up secure aggregation",
                   (unsigned long long)a->round_id);
        goto out;
    }
    if ((rc = send_starts(a, &p, &tmpl, now)))
        goto out;
    a->phase_deadline_ms = now + a->cfg->secagg_phase_timeout_ms;
    fr_log_info(TAG, "round id %llu started securely: %u stores, %u "
                "neighbours each, threshold %u, %u words per masked input",
                (unsigned long long)a->round_id, p.n, p.k, p.t, p.n_words);
out:
    memset(seed, 0, sizeof seed); /* revealed in phase 2 anyway */
    free(ids);
    return rc;
}

/* Least squares: the sum itself, not the mean (every store sent weight
 * 1, so the total weight is the number of inputs); the inputs it covers
 * are marked answered. */
static fr_err
ials_decode(aggregator *a, const uint32_t *sum, uint32_t n_in,
            const uint8_t *included, uint64_t *weight)
{
    float *out = agg_ials_sum(a);
    size_t len = agg_ials_len(a);
    fr_err rc = fr_quant_decode_mean(&a->quant, sum, len, out, weight);

    if (rc)
        return rc;
    if (*weight != n_in)
        return FR_EPROTO;
    for (size_t i = 0; i < len; i++)
        out[i] *= (float)*weight;
    for (size_t i = 0; i < a->n_selected; i++)
        a->answered[i] = included[i];
    return FR_OK;
}

/* The secure sum is in: decode the weighted mean into a->scratch and close
 * the round like a plain one. */
static void
finish(aggregator *a, int64_t now)
{
    const uint32_t *sum;
    const uint8_t *included = NULL;
    uint32_t n_in;
    uint64_t weight = 0;
    fr_err rc = fr_sa_server_result(a->sa, &sum, &n_in, &included);

    if (!rc && agg_regional(a->cfg)) { /* the region's sum goes up undecoded */
        relay_hand_up_sum(a, sum, n_in, now);
        return;
    }
    if (!rc && a->dp_round)
        rc = agg_dp_decode(a, sum, n_in);
    else if (!rc && a->ials)
        rc = ials_decode(a, sum, n_in, included, &weight);
    else if (!rc)
        rc = fr_quant_decode_mean(&a->quant, sum, a->n_params, a->scratch,
                                  &weight);
    if (rc) {
        fr_log_warn(TAG, "round id %llu: the secure sum cannot be decoded: "
                    "%s", (unsigned long long)a->round_id, fr_strerror(rc));
        a->n_answered = 0;
        round_close(a, now, "secure sum not decodable");
        return;
    }
    if (a->dp_round)
        fr_log_info(TAG, "round id %llu: noised sum of %u stores decoded "
                    "(noise std-dev %.3g per coordinate of the sum)",
                    (unsigned long long)a->round_id, n_in,
                    sqrt((double)n_in * (double)a->dp_setup.sigma2_int) /
                        a->dp_setup.scale);
    else
        fr_log_info(TAG, "round id %llu: secure sum of %u stores decoded "
                    "(weight %llu, error bound %.3g per coordinate)",
                    (unsigned long long)a->round_id, n_in,
                    (unsigned long long)weight,
                    fr_quant_error_bound(&a->quant, n_in, weight));
    a->mean_ready = 1;
    a->n_answered = n_in;
    a->q.examples = weight;
    round_close(a, now, "secure sum complete");
}

static void
send_request(aggregator *a, uint32_t i, const fr_sa_msg *req)
{
    fr_msg m = {.type = FR_MSG_SECAGG, .round_id = a->round_id};
    uint8_t *buf = NULL;
    size_t len = 0;

    m.u.secagg.sa = *req;
    if (fr_wire_encode(&m, (size_t)a->cfg->max_message_bytes, &buf, &len)) {
        fr_log_err(TAG, "cannot encode a %s request for store %s",
                   phase_name(fr_sa_server_phase(a->sa)), a->selected[i]);
        return;
    }
    round_send_to(a, a->selected[i], buf, len);
    free(buf);
}

/* Under DP with regions: the masked inputs in cover enough stores for
 * the noise the round promised (each region said how many its sum covers;
 * docs/SECAGG.md "Regions" on trusting that). Checked before anyone is
 * asked for a share. Logged when not. */
static bool
enough_covered(const aggregator *a)
{
    if (!a->dp_min_covered || a->covered >= a->dp_min_covered)
        return true;
    fr_log_ev(FR_LOG_WARN, TAG, "dp_coverage_short",
              "round id %llu: the masked inputs cover %u stores, the DP "
              "noise needs %u: abandoned before unmasking (covered=%u "
              "needed=%u)", (unsigned long long)a->round_id, a->covered,
              a->dp_min_covered, a->covered, a->dp_min_covered);
    return false;
}

/* Closes the current phase and opens the next one, until a phase has
 * someone to wait for, the sum is out, or the round aborts. */
static void
advance(aggregator *a, int64_t now)
{
    for (;;) {
        fr_sa_phase closing = fr_sa_server_phase(a->sa);
        uint32_t pending = fr_sa_server_pending(a->sa);
        const char *why = NULL;
        fr_sa_msg req;

        round_phase_done(a, stats_phase(closing), pending, now);
        if (fr_sa_server_advance(a->sa, &why)) {
            fr_log_warn(TAG, "round id %llu aborted after the %s phase: %s",
                        (unsigned long long)a->round_id, phase_name(closing),
                        why ? why : "unknown reason");
            a->n_answered = 0;
            round_close(a, now, "secure aggregation aborted");
            return;
        }
        if (pending)
            fr_log_info(TAG, "round id %llu: %u store(s) dropped in the %s "
                        "phase", (unsigned long long)a->round_id, pending,
                        phase_name(closing));
        if (closing == FR_SA_MASKED && !enough_covered(a)) {
            a->n_answered = 0; /* nothing was revealed yet */
            round_close(a, now, "too few stores covered for the DP noise");
            return;
        }
        if (fr_sa_server_phase(a->sa) == FR_SA_NONE) {
            /* The last advance removed the masks, which takes seconds with
             * many stores: the round ends now, not when the reveal came. */
            finish(a, fr_clock_ms());
            return;
        }
        for (uint32_t i = 0; i < a->n_selected; i++)
            if (fr_sa_server_request(a->sa, i, &req) == FR_OK)
                send_request(a, i, &req);
        fr_log_info(TAG, "round id %llu: %s phase open, waiting for %u "
                    "store(s)", (unsigned long long)a->round_id,
                    phase_name(fr_sa_server_phase(a->sa)),
                    fr_sa_server_pending(a->sa));
        a->phase_deadline_ms = fr_sa_server_phase(a->sa) == FR_SA_MASKED
                                   ? a->deadline_ms
                                   : now + a->cfg->secagg_phase_timeout_ms;
        if (fr_sa_server_pending(a->sa))
            return;
    }
}

/* A masked input may cover the stores its participant was sized for: a
 * store itself (covers 0), a region at most its cover_max. More would
 * risk the total wrapping, so the input is refused (the participant then
 * counts as dropped). */
static bool
covers_ok(aggregator *a, const fr_net_peer *peer, long idx, uint32_t covers)
{
    uint32_t most = a->part_cover[idx];

    if (most ? covers >= 1 && covers <= most : covers == 0)
        return true;
    if (round_reject(a, AGG_REJECT_UNEXPECTED))
        fr_log_warn(TAG, "refused the masked input of %s: it says it covers "
                    "%u stores, the round was sized for %u (reason=%s)",
                    peer->store, covers, most ? most : 1,
                    agg_reject_names[AGG_REJECT_UNEXPECTED]);
    return false;
}

void
secure_on_message(aggregator *a, const fr_net_peer *peer, const fr_msg *msg,
                  int64_t now)
{
    const fr_msg_secagg *s = &msg->u.secagg;
    const char *why = NULL;
    long idx;
    fr_err rc;

    if (!a->sa || msg->round_id != a->round_id) {
        if (round_reject(a, round_id_reason(a, msg->round_id)))
            fr_log_info(TAG, "dropped a secagg message from store %s for "
                        "round id %llu: not the secure round in progress",
                        peer->store, (unsigned long long)msg->round_id);
        return;
    }
    idx = participant(a, peer->store);
    if (idx < 0) {
        if (round_reject(a, AGG_REJECT_UNEXPECTED))
            fr_log_warn(TAG, "dropped a secagg message from store %s: not a "
                        "participant of round id %llu", peer->store,
                        (unsigned long long)msg->round_id);
        return;
    }
    if (s->sa.phase == FR_SA_MASKED && !covers_ok(a, peer, idx, s->covers))
        return;
    rc = fr_sa_server_recv(a->sa, (uint32_t)idx, &s->sa, &why);
    if (rc) {
        agg_reject r = s->sa.phase != fr_sa_server_phase(a->sa) ||
                               rc == FR_ESTATE
                           ? AGG_REJECT_OUT_OF_PHASE
                       : why && !strcmp(why, "a repeated reply")
                           ? AGG_REJECT_REPLAYED
                           : AGG_REJECT_UNEXPECTED;
        if (round_reject(a, r))
            fr_log_warn(TAG, "refused a secagg message (phase %u) from store "
                        "%s: %s (reason=%s)", s->sa.phase, peer->store,
                        why ? why : fr_strerror(rc), agg_reject_names[r]);
        return;
    }
    if (s->sa.phase == FR_SA_MASKED) {
        uint32_t covers = s->covers ? s->covers : 1;
        store_entry *e = registry_find(a->reg, peer->store);
        a->answered[idx] = 1;
        a->n_answered++;
        a->covered += covers;
        e->rounds_joined++;
        if (s->covers)
            round_region_input(a, e, covers, &s->metrics, s->has_metrics);
        /* the weight is masked; a store's loss counts once, a region's
         * (its stores' mean) once per store */
        if (s->has_metrics)
            round_add_quality(a, &s->metrics, a->ials ? 0 : covers);
    }
    if (fr_sa_server_pending(a->sa) == 0)
        advance(a, now);
}

/* True if every store the current phase waits for has gone quiet. */
static bool
pending_all_gone(aggregator *a, int64_t now)
{
    for (uint32_t i = 0; i < a->n_selected; i++) {
        store_entry *e;
        if (!fr_sa_server_expects(a->sa, i))
            continue;
        e = registry_find(a->reg, a->selected[i]);
        if (e && registry_alive(e, now, a->cfg->heartbeat_timeout_ms))
            return false;
    }
    return true;
}

void
secure_tick(aggregator *a, int64_t now)
{
    if (!a->sa)
        return;
    if (a->start_next < a->start_n && send_more_starts(a, now)) {
        a->n_answered = 0;
        round_close(a, now, "a round start could not be encoded");
        return;
    }
    if (now >= a->deadline_ms || now >= a->phase_deadline_ms ||
        pending_all_gone(a, now))
        advance(a, now);
}
