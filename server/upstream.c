/*
 * upstream.c - a regional aggregator's link to the central one: the
 * connection (net/uplink.h), heartbeats, the central's messages, and the
 * region's side of the central's secure rounds. See upstream.h for the
 * DESIGN notes.
 */
#include "upstream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "crypto/crypto.h"
#include "net/uplink.h"
#include "secagg/secagg.h"

#define TAG "upstream"

/* ZeroMQ's first reconnect attempt and the first rebuild delay, as a
 * store's (client.c). */
#define RECONNECT_IVL_MS 200
#define REBUILD_FIRST_MS 1000
#define BURST 64 /* messages read per pass */

struct agg_upstream {
    const agg_config *cfg;
    agg_stats *stats;
    fr_crypto_keypair *kp;
    fr_crypto_signkey *id;
    fr_net_uplink *link;
    fr_net_link told; /* the state last logged */
    int64_t next_hello;
    /* the central's secure round in hand */
    fr_sa_client *sa;
    uint64_t sa_round;
    uint32_t sa_words;
    uint32_t *input; /* the region's sum, until masked (wiped) */
    uint32_t covers;
    fr_metrics metrics;
    int has_metrics;
    uint64_t sent_up; /* results sent to the central */
};

static fr_err
load_keys(agg_upstream *u, uint8_t server_pk[FR_CRYPTO_PK_BYTES])
{
    const agg_config *c = u->cfg;
    char sign[AGG_PATH_MAX + 16];
    fr_err rc;

    if ((rc = fr_crypto_keypair_load(c->upstream_key_file, &u->kp))) {
        fr_log_err(TAG, "cannot load upstream_key_file %s: %s",
                   c->upstream_key_file, fr_strerror(rc));
        return rc;
    }
    if ((rc = fr_crypto_public_load(c->upstream_server_key, server_pk))) {
        fr_log_err(TAG, "cannot load upstream_server_key %s: %s",
                   c->upstream_server_key, fr_strerror(rc));
        return rc;
    }
    if ((rc = agg_upstream_sign_path(c, sign, sizeof sign)) ||
        (rc = fr_crypto_signkey_load(sign, &u->id)))
        fr_log_err(TAG, "cannot load the region's identity key %s: %s", sign,
                   fr_strerror(rc));
    return rc;
}

fr_err
agg_upstream_new(agg_upstream **out, const agg_config *cfg, fr_net_ctx *ctx,
                 agg_stats *stats)
{
    agg_upstream *u = calloc(1, sizeof *u);
    uint8_t server_pk[FR_CRYPTO_PK_BYTES];
    fr_net_uplink_opts o;
    fr_err rc;

    if (!u)
        return FR_ENOMEM;
    u->cfg = cfg;
    u->stats = stats;
    if ((rc = load_keys(u, server_pk)))
        goto fail;
    o = (fr_net_uplink_opts){
        .endpoint = cfg->upstream,
        .client = u->kp,
        .server_pk = server_pk,
        .max_msg = 2 * (size_t)cfg->max_message_bytes,
        .reconnect_ivl_ms = RECONNECT_IVL_MS,
        .rebuild_first_ms = REBUILD_FIRST_MS,
        .reconnect_max_ms = cfg->upstream_reconnect_max_ms};
    if ((rc = fr_net_uplink_new(ctx, &o, fr_clock_ms(), &u->link))) {
        fr_log_err(TAG, "cannot connect to the central aggregator %s: %s",
                   cfg->upstream, fr_strerror(rc));
        goto fail;
    }
    fr_log_ev(FR_LOG_NOTICE, TAG, "upstream_connecting",
              "connecting to the central aggregator %s", cfg->upstream);
    *out = u;
    return FR_OK;
fail:
    agg_upstream_destroy(&u);
    return rc;
}

/* Forgets the central's secure round, wiping its secrets and the sum. */
static void
sa_reset(agg_upstream *u)
{
    fr_sa_client_destroy(&u->sa);
    if (u->input) {
        fr_crypto_wipe(u->input, (size_t)u->sa_words * sizeof *u->input);
        free(u->input);
        u->input = NULL;
    }
}

void
agg_upstream_destroy(agg_upstream **up)
{
    agg_upstream *u;

    if (!up || !*up)
        return;
    u = *up;
    sa_reset(u);
    fr_net_uplink_destroy(&u->link); /* before the key it borrows */
    fr_crypto_keypair_destroy(&u->kp);
    fr_crypto_signkey_destroy(&u->id);
    free(u);
    *up = NULL;
}

size_t
agg_upstream_socks(agg_upstream *u, fr_net_sock **out)
{
    size_t n = 0;

    if (fr_net_uplink_sock(u->link))
        out[n++] = fr_net_uplink_sock(u->link);
    if (fr_net_uplink_monitor_sock(u->link))
        out[n++] = fr_net_uplink_monitor_sock(u->link);
    return n;
}

const char *
agg_upstream_link_name(const agg_upstream *u)
{
    return fr_net_link_name(fr_net_uplink_state(u->link));
}

fr_err
agg_upstream_send(agg_upstream *u, const fr_msg *m)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    fr_err rc = fr_wire_encode(m, (size_t)u->cfg->max_message_bytes, &buf,
                               &len);

    if (rc == FR_OK)
        rc = fr_net_uplink_send(u->link, buf, len);
    if (rc)
        fr_log_info(TAG, "%s not sent to the central: %s",
                    fr_msg_type_name(m->type), fr_strerror(rc));
    else if (m->type == FR_MSG_UPDATE)
        u->sent_up++;
    free(buf);
    return rc;
}

/* ---- the central's secure round ---------------------------------------- */

static fr_err
sa_send(agg_upstream *u, const fr_sa_msg *sa, int with_input)
{
    fr_err rc;

    fr_msg m = {.type = FR_MSG_SECAGG, .round_id = u->sa_round};

    m.u.secagg.sa = *sa;
    if (with_input) {
        m.u.secagg.covers = u->covers;
        m.u.secagg.has_metrics = (uint32_t)u->has_metrics;
        m.u.secagg.metrics = u->metrics;
    }
    rc = agg_upstream_send(u, &m);
    if (rc == FR_OK && with_input)
        u->sent_up++;
    return rc;
}

/* Masks and sends the region's sum once both it and the central's mask
 * request are in; the sum is wiped either way. */
static void
try_mask(agg_upstream *u)
{
    fr_sa_msg out;
    const char *why = NULL;

    if (!u->sa || !u->input || !fr_sa_client_wants_input(u->sa))
        return;
    if (fr_sa_client_mask(u->sa, u->input, &out, &why)) {
        fr_log_warn(TAG, "round id %llu: cannot mask the region's sum: %s",
                    (unsigned long long)u->sa_round, why ? why : "error");
        sa_reset(u);
        return;
    }
    if (sa_send(u, &out, 1) == FR_OK)
        fr_log_info(TAG, "round id %llu: the region's sum of %u stores "
                    "masked and sent to the central (%u words)",
                    (unsigned long long)u->sa_round, u->covers, out.n_words);
    fr_crypto_wipe(u->input, (size_t)u->sa_words * sizeof *u->input);
    free(u->input);
    u->input = NULL;
}

/* The region takes part in the central's secure round: its round keys go
 * out at once, as a store's do. */
static void
sa_begin(agg_upstream *u, const fr_msg *msg)
{
    const fr_msg_round_start *rs = &msg->u.round_start;
    const fr_secagg_setup *su = &rs->secagg;
    fr_sa_params p = {.round_id = msg->round_id, .n = su->n, .k = su->k,
                      .t = su->t, .n_words = su->n_words,
                      .min_inputs = su->min_inputs};
    uint64_t want = rs->has_dp
                        ? rs->dp.dim
                        : (uint64_t)rs->n_items * rs->dim + rs->n_items + 1;
    fr_sa_msg adv;

    sa_reset(u);
    if (su->n_words != want) {
        fr_log_err(TAG, "round id %llu: %u words announced for a model of "
                   "%llu: not taking part", (unsigned long long)msg->round_id,
                   su->n_words, (unsigned long long)want);
        return;
    }
    memcpy(p.graph_commit, su->graph_commit, 32);
    if (fr_sa_client_new(&p, su->index, u->id, &u->sa) ||
        fr_sa_client_advertise(u->sa, &adv)) {
        fr_log_err(TAG, "round id %llu: the central's secure aggregation "
                   "parameters are refused", (unsigned long long)msg->round_id);
        sa_reset(u);
        return;
    }
    u->sa_round = msg->round_id;
    u->sa_words = su->n_words;
    if (sa_send(u, &adv, 0) == FR_OK)
        fr_log_info(TAG, "round id %llu: round keys sent to the central "
                    "(participant %u of %u, sized for %u stores)",
                    (unsigned long long)msg->round_id, su->index, su->n,
                    fr_secagg_encode_n(su));
}

static void
sa_on_message(agg_upstream *u, const fr_msg *msg)
{
    fr_sa_msg out;
    const char *why = NULL;

    if (!u->sa || msg->round_id != u->sa_round) {
        fr_log_info(TAG, "dropped a secagg message for round id %llu: not "
                    "the central round in hand",
                    (unsigned long long)msg->round_id);
        return;
    }
    if (fr_sa_client_recv(u->sa, &msg->u.secagg.sa, &out, &why)) {
        fr_log_warn(TAG, "round id %llu: refused to go on with the "
                    "central's secure aggregation: %s",
                    (unsigned long long)msg->round_id, why ? why : "error");
        sa_reset(u);
        return;
    }
    if (out.phase != FR_SA_NONE && sa_send(u, &out, 0))
        fr_log_debug(TAG, "round id %llu: a secagg reply was not sent",
                     (unsigned long long)u->sa_round);
    if (out.phase == FR_SA_REVEAL)
        sa_reset(u); /* nothing secret left; the round is the central's */
    else
        try_mask(u);
}

fr_err
agg_upstream_sa_input(agg_upstream *u, uint64_t round_id, const uint32_t *sum,
                      uint32_t n_words, uint32_t covers,
                      const fr_metrics *metrics)
{
    if (!u->sa || round_id != u->sa_round || n_words != u->sa_words ||
        u->input)
        return FR_ESTATE;
    if (!(u->input = malloc((size_t)n_words * sizeof *u->input)))
        return FR_ENOMEM;
    memcpy(u->input, sum, (size_t)n_words * sizeof *u->input);
    u->covers = covers;
    u->has_metrics = metrics != NULL;
    if (metrics)
        u->metrics = *metrics;
    try_mask(u);
    return FR_OK;
}

/* ---- the link and the central's messages ------------------------------- */

static void
send_hello(agg_upstream *u, aggregator *a, int64_t now)
{
    fr_msg m = {.type = FR_MSG_HELLO};

    aggregator_region_hello(a, now, &m.u.hello);
    m.round_id = m.u.hello.last_round;
    if (agg_upstream_send(u, &m)) /* logged; the next one may go */
        fr_log_debug(TAG, "heartbeat to the central not sent");
    u->next_hello = now + u->cfg->upstream_heartbeat_ms;
}

static void
log_link(agg_upstream *u, fr_net_link s, int64_t now)
{
    int64_t at = fr_net_uplink_rebuild_at(u->link);
    double wait = at > now ? (double)(at - now) / 1000.0 : 0;

    if (s == u->told || s == FR_NET_LINK_CONNECTING)
        return;
    u->told = s;
    if (s == FR_NET_LINK_UP)
        fr_log_ev(FR_LOG_NOTICE, TAG, "upstream_connected",
                  "connected to the central aggregator %s", u->cfg->upstream);
    else if (s == FR_NET_LINK_DOWN)
        fr_log_ev(FR_LOG_WARN, TAG, "upstream_unreachable",
                  "central aggregator %s unreachable, retrying in %.1f s",
                  u->cfg->upstream, wait);
    else if (s == FR_NET_LINK_REFUSED)
        fr_log_ev(FR_LOG_WARN, TAG, "upstream_refused",
                  "the central aggregator refused the handshake: is this "
                  "region's key on its allow-list? retrying in %.1f s", wait);
    else
        fr_log_ev(FR_LOG_ERR, TAG, "upstream_failed",
                  "handshake with the central aggregator failed: is "
                  "upstream_server_key (%s) its public key? retrying in "
                  "%.1f s", u->cfg->upstream_server_key, wait);
}

/* Acts on the link reaching or leaving UP. */
static void
link_moved(agg_upstream *u, aggregator *a, fr_net_link was, fr_net_link now_s,
           int64_t now)
{
    if (was == now_s)
        return;
    log_link(u, now_s, now);
    if (now_s == FR_NET_LINK_UP) {
        send_hello(u, a, now); /* (re)announce at once */
    } else if (was == FR_NET_LINK_UP) {
        if (u->sa)
            fr_log_notice(TAG, "round id %llu: the central's secure round "
                          "is abandoned (link lost)",
                          (unsigned long long)u->sa_round);
        sa_reset(u);
        aggregator_relay_lost(a, now);
    }
}

void
agg_upstream_on_bytes(agg_upstream *u, aggregator *a, const uint8_t *buf,
                      size_t len, int64_t now)
{
    fr_msg *msg = NULL;
    const char *why = NULL;

    if (fr_wire_decode(buf, len, (size_t)u->cfg->max_message_bytes, &msg,
                       &why)) {
        fr_log_warn(TAG, "dropped a %zu-byte message from the central: %s",
                    len, why ? why : "undecodable");
        return;
    }
    switch (msg->type) {
    case FR_MSG_ROUND_START:
        if (msg->u.round_start.has_ials) { /* not relayed (yet) */
            fr_log_warn(TAG, "round id %llu: the central runs the "
                        "least-squares kind (model ials), which regions do "
                        "not relay; not taking part",
                        (unsigned long long)msg->round_id);
            break;
        }
        if (aggregator_relay_repeated(a, msg))
            break;
        if (msg->u.round_start.has_secagg)
            sa_begin(u, msg);
        else
            sa_reset(u);
        aggregator_relay_start(a, &msg, now);
        break;
    case FR_MSG_SECAGG: sa_on_message(u, msg); break;
    case FR_MSG_ROUND_END:
        if (msg->round_id == u->sa_round)
            sa_reset(u);
        aggregator_relay_end(a, msg, buf, len, now);
        break;
    case FR_MSG_DONE: aggregator_relay_done(a, msg, now); break;
    case FR_MSG_CATALOGUE: aggregator_relay_catalogue(a, msg, now); break;
    default:
        fr_log_warn(TAG, "dropped a %s message from the central: not "
                    "expected by a region", fr_msg_type_name(msg->type));
        break;
    }
    fr_msg_destroy(&msg);
}

/* Reads what the central sent (a message proves the handshake). */
static void
read_central(agg_upstream *u, aggregator *a, int64_t now)
{
    for (int i = 0; i < BURST; i++) {
        fr_net_sock *s = fr_net_uplink_sock(u->link);
        uint8_t *buf = NULL;
        size_t len = 0;
        fr_net_link was;

        if (!s || fr_net_recv(s, 0, NULL, &buf, &len) != FR_OK)
            return;
        was = fr_net_uplink_heard(u->link, now);
        link_moved(u, a, was, FR_NET_LINK_UP, now);
        agg_upstream_on_bytes(u, a, buf, len, now);
        free(buf);
    }
}

void
agg_upstream_service(agg_upstream *u, aggregator *a, int64_t now)
{
    fr_net_link was, s;
    fr_err rc = FR_OK;

    s = fr_net_uplink_tick(u->link, now, &was, &rc);
    if (rc)
        fr_log_err(TAG, "cannot rebuild the connection to %s: %s",
                   u->cfg->upstream, fr_strerror(rc));
    link_moved(u, a, was, s, now);
    read_central(u, a, now);
    if (fr_net_uplink_state(u->link) == FR_NET_LINK_UP && now >= u->next_hello)
        send_hello(u, a, now);
    if (u->stats)
        agg_stats_set_upstream(u->stats, agg_upstream_link_name(u),
                               fr_net_uplink_state(u->link) ==
                                   FR_NET_LINK_UP,
                               u->sa ? u->sa_round : 0, u->sent_up,
                               fr_net_uplink_rebuilds(u->link));
}
