/*
 * sim_stores.c - fedrec-simstores: many simulated store clients in one
 * process, to load a real aggregator with secure rounds over ZeroMQ
 * (bench/secagg_load.sh).
 *
 *   fedrec-simstores --connect EP --server_key AGG.pub --key_dir DIR
 *                    [--first 1] [--count 250] [--drop 0.1] [--rounds 1]
 *                    [other keys: --help]
 *
 * Store i (first <= i < first + count) is named PREFIX followed by i padded
 * with zeros to `width` digits (store0001) and uses DIR/NAME.key (CURVE) and
 * DIR/NAME.sign.key (identity), as made by fedrec-keygen. Each store has its
 * own DEALER CURVE connection, sends HELLO every heartbeat_ms and answers a
 * secure round exactly as client/client.c does: ROUND_START with SecAgg+
 * parameters -> fr_sa_client_new + ADVERTISE; KEYS, MASK_REQ, CONSIST and
 * UNMASK through fr_sa_client_recv; the masked input through
 * fr_quant_encode of an update + fr_sa_client_mask as soon as MASK_REQ is
 * in. There is no training: the update is a synthetic random vector of the
 * model's size (uniform in +-update_scale) with weight `examples`, and no
 * quality figures ride along. Plain (non-secure) rounds are ignored. In a
 * DP round (RoundStart.dp) the same vector is encoded with the
 * distributed discrete Gaussian instead. train_ms holds each masked input
 * back that long after the round start, as training would; coins_seed
 * (not 0) makes the fixed-point rounding reproducible (sim_update.h), so
 * a test can compute the exact sum of what the stores sent.
 *
 * Dropouts: in every round a fresh random set of round(drop * count) of this
 * process's stores falls silent right after sending its SHARES, the costly
 * case for the aggregator (it must rebuild their mask keys and remove the
 * pairwise masks). A silent store keeps its connection but sends nothing,
 * not even heartbeats, until the round's ROUND_END; then it sends HELLO
 * again and can be chosen for a later round once the aggregator counts it
 * alive again (the next round may start before that).
 *
 * DESIGN. One thread, one poll loop over all the sockets
 * (fr_net_poll_many); the process exits on SIGINT/SIGTERM, or once a
 * ROUND_END reports `rounds` completed rounds (0: run until stopped) and
 * its stores have all heard of it (at most 5 s later). At exit it logs its
 * counters, peak RSS and CPU time.
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "base/log.h"
#include "base/util.h"
#include "config/config.h"
#include "crypto/crypto.h"
#include "dp/ddg.h"
#include "dp/rng.h"
#include "net/net.h"
#include "secagg/quant.h"
#include "secagg/secagg.h"
#include "wire/wire.h"
#include "sim_update.h"

#define TAG      "simstores"
#define PATH_CAP 512
#define BURST    8 /* messages read from one socket per wake-up */

typedef struct sim_config {
    char connect[PATH_CAP];
    char server_key[PATH_CAP];
    char key_dir[PATH_CAP];
    char prefix[32];
    char log_level[16];
    int64_t first;
    int64_t count;
    int64_t width;
    double drop;
    int64_t rounds;
    int64_t heartbeat_ms;
    int64_t examples;
    double update_scale;
    int64_t seed;
    int64_t max_message_bytes;
    int64_t train_ms;
    int64_t coins_seed;
} sim_config;

typedef sim_config C;
static const fr_config_key keys[] = {
    FR_CFG_STRING_(C, connect, "tcp://127.0.0.1:7600", "aggregator endpoint"),
    FR_CFG_STRING_(C, server_key, "", "aggregator public key file (.pub)"),
    FR_CFG_STRING_(C, key_dir, "",
                   "directory with NAME.key and NAME.sign.key per store"),
    FR_CFG_STRING_(C, prefix, "store", "store name prefix"),
    FR_CFG_STRING_(C, log_level, "info", "err, warn, notice, info or debug"),
    FR_CFG_INT_(C, first, "1", 0, 99999999, "number of the first store"),
    FR_CFG_INT_(C, count, "250", 1, 1000,
                "stores simulated by this process (one ZeroMQ context "
                "holds at most 1023 sockets)"),
    FR_CFG_INT_(C, width, "4", 1, 8, "digits of the store number"),
    FR_CFG_DOUBLE_(C, drop, "0", 0.0, 1.0,
                   "fraction of the stores that fall silent after sending "
                   "their shares, drawn afresh each round"),
    FR_CFG_INT_(C, rounds, "0", 0, 1000000,
                "exit once the aggregator reports this many completed "
                "rounds (0: run until stopped)"),
    FR_CFG_INT_(C, heartbeat_ms, "1000", 10, 3600000,
                "HELLO interval of each store"),
    FR_CFG_INT_(C, examples, "100", 1, 4294967295LL,
                "training examples each store claims (its weight)"),
    FR_CFG_DOUBLE_(C, update_scale, "0.01", 0.0, 1e6,
                   "synthetic update coordinates are uniform in +-this"),
    FR_CFG_INT_(C, seed, "1", 0, INT64_MAX, "seed of updates and dropouts"),
    FR_CFG_INT_(C, max_message_bytes, "67108864", 1024, 1073741824,
                "largest message accepted"),
    FR_CFG_INT_(C, train_ms, "0", 0, 3600000,
                "hold each masked input back this long after the round "
                "start, as training would"),
    FR_CFG_INT_(C, coins_seed, "0", 0, INT64_MAX,
                "not 0: the fixed-point rounding coins come from this seed "
                "(reproducible sums, for tests); 0: fresh random coins"),
};
static const fr_config_table sim_table = {keys, FR_ARRAY_LEN(keys)};

typedef struct sim_store {
    char name[FR_NET_STORE_NAME_MAX];
    uint32_t number;
    fr_net_sock *sock;
    fr_crypto_signkey *id;
    fr_sa_client *sa; /* the secure round in progress, if any */
    uint64_t sa_round;
    fr_secagg_setup setup;
    int dp;               /* the round runs member-level DP */
    fr_dp_setup dp_setup;
    int64_t mask_at_ms;   /* the "trained" update is ready then */
    fr_secagg_heard heard; /* the last round start received */
    int64_t next_hello_ms;
    int will_drop; /* falls silent after its shares in sa_round */
    int silent;    /* dropped: sends nothing until sa_round ends */
} sim_store;

typedef struct counters {
    uint64_t starts, shares, dropped, masked, reveals, refused, ends;
    uint64_t repeats; /* round starts received again, ignored */
} counters;

typedef struct sim {
    const sim_config *cfg;
    fr_net_ctx *ctx;
    sim_store *st;
    fr_net_sock **socks;
    uint8_t *ready;
    size_t n;
    uint64_t drop_round; /* round the drop set was drawn for */
    uint8_t *drop_set;
    uint32_t *order; /* scratch for drawing the drop set */
    float *update;   /* one synthetic update */
    double *dupdate; /* the same as doubles, for DP */
    uint32_t *words; /* its fixed-point or DDG encoding */
    size_t n_params, n_words;
    counters total, round; /* round: of the round in progress */
    int64_t stop_at_ms;
    uint64_t final_ends; /* ROUND_ENDs of the last round received */
} sim;

static volatile sig_atomic_t stop_requested;

static void
on_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* ---- sending ---------------------------------------------------------- */

static void
send_msg(sim *s, sim_store *st, const fr_msg *m)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    fr_err rc =
        fr_wire_encode(m, (size_t)s->cfg->max_message_bytes, &buf, &len);

    if (rc == FR_OK)
        rc = fr_net_send(st->sock, NULL, buf, len);
    if (rc)
        fr_log_info(TAG, "store %s: %s not sent: %s", st->name,
                    fr_msg_type_name(m->type), fr_strerror(rc));
    free(buf);
}

static void
send_hello(sim *s, sim_store *st)
{
    fr_msg m = {.type = FR_MSG_HELLO, .round_id = st->heard.round_id};

    m.u.hello.num_examples = (uint64_t)s->cfg->examples;
    m.u.hello.last_round = st->heard.round_id;
    send_msg(s, st, &m);
}

static void
sa_send(sim *s, sim_store *st, const fr_sa_msg *sa)
{
    fr_msg m = {.type = FR_MSG_SECAGG, .round_id = st->sa_round};

    m.u.secagg.sa = *sa;
    send_msg(s, st, &m);
}

static void
sa_reset(sim_store *st)
{
    fr_sa_client_destroy(&st->sa);
    st->will_drop = 0;
}

/* ---- the secure round ------------------------------------------------- */

/* Draws this round's silent stores: exactly round(drop * n) of them. */
static void
draw_drop_set(sim *s, uint64_t round_id)
{
    size_t k = (size_t)llround(s->cfg->drop * (double)s->n);
    fr_rng rng;

    fr_rng_seed(&rng, ((uint64_t)s->cfg->seed * 0x9e3779b97f4a7c15ull) ^
                          round_id ^ ((uint64_t)s->cfg->first << 32));
    memset(s->drop_set, 0, s->n);
    for (size_t i = 0; i < s->n; i++)
        s->order[i] = (uint32_t)i;
    for (size_t i = 0; i < k; i++) {
        size_t j = i + (size_t)fr_rng_below(&rng, s->n - i);
        uint32_t t = s->order[i];
        s->order[i] = s->order[j];
        s->order[j] = t;
        s->drop_set[s->order[i]] = 1;
    }
    s->drop_round = round_id;
    memset(&s->round, 0, sizeof s->round);
}

/* The synthetic update of store st in its round: reproducible per seed. */
static void
make_update(sim *s, const sim_store *st)
{
    sim_update_make(s->update, s->n_params, (uint64_t)s->cfg->seed,
                    st->sa_round, st->number, (float)s->cfg->update_scale);
}

/* Encodes the update into s->words: fixed point (weight `examples`) or,
 * in a DP round, the distributed discrete Gaussian. */
static fr_err
encode(sim *s, const sim_store *st)
{
    uint8_t coins[32];
    fr_quant q;
    fr_err rc;

    if (st->dp) {
        fr_ddg_params p = {.n = s->n_params, .dim = st->dp_setup.dim,
                           .scale = st->dp_setup.scale,
                           .sigma2_int = st->dp_setup.sigma2_int,
                           .rotation_seed = st->dp_setup.rotation_seed};
        fr_dp_rng *rng = NULL;
        for (size_t j = 0; j < s->n_params; j++)
            s->dupdate[j] = s->update[j];
        if ((rc = fr_dp_rng_new(&rng, NULL)))
            return rc;
        rc = fr_ddg_encode(&p, s->dupdate, rng, s->words);
        fr_dp_rng_destroy(&rng);
        return rc;
    }
    if (s->cfg->coins_seed)
        sim_update_coins(coins, (uint64_t)s->cfg->coins_seed, st->sa_round,
                         st->number);
    else
        fr_crypto_random(coins, sizeof coins);
    rc = fr_quant_init(&q, fr_secagg_encode_n(&st->setup), st->setup.clip,
                       st->setup.weight_cap);
    if (!rc)
        rc = fr_quant_encode(&q, s->update, s->n_params,
                             (uint64_t)s->cfg->examples, coins, s->words, NULL);
    fr_crypto_wipe(coins, sizeof coins);
    return rc;
}

static void
round_progress(sim *s, const sim_store *st)
{
    if (s->round.masked + s->round.dropped + s->round.refused ==
        s->round.starts)
        fr_log_info(TAG,
                    "round id %llu: all %llu masked inputs of this "
                    "process sent (%llu stores silent, %llu refused)",
                    (unsigned long long)st->sa_round,
                    (unsigned long long)s->round.masked,
                    (unsigned long long)s->round.dropped,
                    (unsigned long long)s->round.refused);
}

/* Encodes, masks and sends the update once the shares are in. */
static void
try_mask(sim *s, sim_store *st)
{
    fr_sa_msg out;
    const char *why = NULL;
    fr_err rc;

    if (!st->sa || !fr_sa_client_wants_input(st->sa) ||
        fr_clock_ms() < st->mask_at_ms)
        return;
    make_update(s, st);
    rc = encode(s, st);
    if (!rc)
        rc = fr_sa_client_mask(st->sa, s->words, &out, &why);
    fr_crypto_wipe(s->words, s->n_words * sizeof *s->words);
    if (rc) {
        fr_log_warn(TAG,
                    "store %s, round id %llu: cannot mask the update: "
                    "%s",
                    st->name, (unsigned long long)st->sa_round,
                    why ? why : fr_strerror(rc));
        s->round.refused++;
        s->total.refused++;
        sa_reset(st);
        return;
    }
    sa_send(s, st, &out);
    s->round.masked++;
    s->total.masked++;
    round_progress(s, st);
}

static fr_err
ensure_scratch(sim *s, size_t n_params, size_t n_words)
{
    if (s->n_params == n_params && s->n_words == n_words)
        return FR_OK;
    free(s->update);
    free(s->dupdate);
    free(s->words);
    s->n_params = n_params;
    s->n_words = n_words;
    s->update = malloc(n_params * sizeof *s->update);
    s->dupdate = malloc(n_params * sizeof *s->dupdate);
    s->words = malloc(n_words * sizeof *s->words);
    if (!s->update || !s->dupdate || !s->words) {
        s->n_params = s->n_words = 0;
        return FR_ENOMEM;
    }
    return FR_OK;
}

/* As client.c's sa_begin: takes part in a secure round and advertises. */
static void
on_round_start(sim *s, sim_store *st, const fr_msg *msg)
{
    const fr_msg_round_start *rs = &msg->u.round_start;
    const fr_secagg_setup *su = &rs->secagg;
    fr_sa_params p = {.round_id = msg->round_id,
                      .n = su->n,
                      .k = su->k,
                      .t = su->t,
                      .n_words = su->n_words,
                      .min_inputs = su->min_inputs};
    size_t params = (size_t)rs->n_items * rs->dim + rs->n_items;
    size_t want = rs->has_dp ? (size_t)rs->dp.dim : params + 1;
    fr_sa_msg adv;

    if (fr_secagg_heard_repeat(&st->heard, msg->round_id,
                               rs->has_secagg ? su : NULL)) {
        fr_log_info(TAG, "store %s: round id %llu: repeated round start "
                    "ignored", st->name, (unsigned long long)msg->round_id);
        s->total.repeats++;
        return;
    }
    sa_reset(st);
    if (!rs->has_secagg) {
        fr_log_warn(TAG,
                    "store %s: round id %llu is a plain round; "
                    "simulated stores take secure rounds only",
                    st->name, (unsigned long long)msg->round_id);
        return;
    }
    if (su->n_words != want || ensure_scratch(s, params, want)) {
        fr_log_err(TAG,
                   "store %s: round id %llu: %u words for %zu "
                   "parameters, or out of memory: not taking part",
                   st->name, (unsigned long long)msg->round_id, su->n_words,
                   params);
        return;
    }
    memcpy(p.graph_commit, su->graph_commit, 32);
    if (fr_sa_client_new(&p, su->index, st->id, &st->sa) ||
        fr_sa_client_advertise(st->sa, &adv)) {
        fr_log_err(TAG,
                   "store %s: round id %llu: secure aggregation "
                   "parameters refused",
                   st->name, (unsigned long long)msg->round_id);
        sa_reset(st);
        return;
    }
    if (s->drop_round != msg->round_id)
        draw_drop_set(s, msg->round_id);
    st->sa_round = msg->round_id;
    st->setup = *su;
    st->dp = rs->has_dp != 0;
    if (st->dp)
        st->dp_setup = rs->dp;
    st->mask_at_ms = fr_clock_ms() + s->cfg->train_ms;
    st->will_drop = s->drop_set[st - s->st];
    s->round.starts++;
    s->total.starts++;
    sa_send(s, st, &adv);
}

static void
on_secagg(sim *s, sim_store *st, const fr_msg *msg)
{
    fr_sa_msg out;
    const char *why = NULL;
    fr_err rc;

    if (!st->sa || msg->round_id != st->sa_round) {
        fr_log_debug(TAG,
                     "store %s: dropped a secagg message for round id "
                     "%llu",
                     st->name, (unsigned long long)msg->round_id);
        return;
    }
    rc = fr_sa_client_recv(st->sa, &msg->u.secagg.sa, &out, &why);
    if (rc) {
        fr_log_warn(TAG, "store %s, round id %llu: refused to go on: %s",
                    st->name, (unsigned long long)msg->round_id,
                    why ? why : fr_strerror(rc));
        s->round.refused++;
        s->total.refused++;
        sa_reset(st);
        return;
    }
    if (out.phase != FR_SA_NONE)
        sa_send(s, st, &out);
    if (out.phase == FR_SA_SHARES) {
        s->round.shares++;
        s->total.shares++;
        if (st->will_drop) {
            st->silent = 1;
            s->round.dropped++;
            s->total.dropped++;
            sa_reset(st); /* it will never answer again in this round */
        }
    } else if (out.phase == FR_SA_REVEAL) {
        s->round.reveals++;
        s->total.reveals++;
        sa_reset(st);
    } else {
        try_mask(s, st);
    }
}

static void
on_round_end(sim *s, sim_store *st, const fr_msg *msg)
{
    const fr_msg_round_end *re = &msg->u.round_end;

    if (msg->round_id == st->sa_round) {
        sa_reset(st);
        st->silent = 0;
    }
    s->total.ends++;
    if (s->cfg->rounds <= 0 || re->completed_rounds < (uint64_t)s->cfg->rounds)
        return;
    /* The last round: leave once every store of the round has heard of its
     * end, or a few seconds after the first did (the aggregator may be
     * gone before the rest arrive). */
    if (!s->stop_at_ms)
        s->stop_at_ms = fr_clock_ms() + 5000;
    if (++s->final_ends >= s->round.starts)
        s->stop_at_ms = fr_clock_ms();
}

static void
on_message(sim *s, sim_store *st, const uint8_t *buf, size_t len)
{
    fr_msg *msg = NULL;
    const char *why = NULL;

    if (fr_wire_decode(buf, len, (size_t)s->cfg->max_message_bytes, &msg,
                       &why)) {
        fr_log_warn(TAG, "store %s: dropped %zu-byte message: %s", st->name,
                    len, why ? why : "undecodable");
        return;
    }
    if (msg->type == FR_MSG_ROUND_END)
        on_round_end(s, st, msg);
    else if (st->silent)
        ; /* a dropped store hears nothing until its round ends */
    else if (msg->type == FR_MSG_ROUND_START)
        on_round_start(s, st, msg);
    else if (msg->type == FR_MSG_SECAGG)
        on_secagg(s, st, msg);
    else
        fr_log_warn(TAG, "store %s: dropped unexpected %s message", st->name,
                    fr_msg_type_name(msg->type));
    fr_msg_destroy(&msg);
}

/* ---- set-up and the loop ---------------------------------------------- */

static fr_err
open_store(sim *s, sim_store *st, const uint8_t server_pk[FR_CRYPTO_PK_BYTES])
{
    const sim_config *cfg = s->cfg;
    char path[PATH_CAP + FR_NET_STORE_NAME_MAX + 16];
    fr_crypto_keypair *kp = NULL;
    fr_err rc;

    snprintf(path, sizeof path, "%s/%s.key", cfg->key_dir, st->name);
    if ((rc = fr_crypto_keypair_load(path, &kp))) {
        fr_log_err(TAG, "cannot load %s: %s", path, fr_strerror(rc));
        return rc;
    }
    snprintf(path, sizeof path, "%s/%s.sign.key", cfg->key_dir, st->name);
    if ((rc = fr_crypto_signkey_load(path, &st->id)))
        fr_log_err(TAG, "cannot load %s: %s", path, fr_strerror(rc));
    else if ((rc = fr_net_connect(s->ctx, cfg->connect, kp, server_pk,
                                  2 * (size_t)cfg->max_message_bytes,
                                  &st->sock)))
        fr_log_err(TAG, "store %s cannot connect to %s: %s", st->name,
                   cfg->connect, fr_strerror(rc));
    fr_crypto_keypair_destroy(&kp); /* ZeroMQ holds its own copy */
    return rc;
}

static fr_err
sim_open(sim *s)
{
    const sim_config *cfg = s->cfg;
    uint8_t server_pk[FR_CRYPTO_PK_BYTES];
    int64_t now = fr_clock_ms();
    fr_err rc;

    s->n = (size_t)cfg->count;
    s->st = calloc(s->n, sizeof *s->st);
    s->socks = calloc(s->n, sizeof *s->socks);
    s->ready = calloc(s->n, 1);
    s->drop_set = calloc(s->n, 1);
    s->order = calloc(s->n, sizeof *s->order);
    if (!s->st || !s->socks || !s->ready || !s->drop_set || !s->order)
        return FR_ENOMEM;
    if ((rc = fr_crypto_public_load(cfg->server_key, server_pk))) {
        fr_log_err(TAG, "cannot load server_key %s: %s", cfg->server_key,
                   fr_strerror(rc));
        return rc;
    }
    if ((rc = fr_net_ctx_new(&s->ctx)))
        return rc;
    for (size_t i = 0; i < s->n; i++) {
        sim_store *st = &s->st[i];
        st->number = (uint32_t)(cfg->first + (int64_t)i);
        snprintf(st->name, sizeof st->name, "%s%0*u", cfg->prefix,
                 (int)cfg->width, st->number);
        if (!fr_net_store_name_valid(st->name)) {
            fr_log_err(TAG, "invalid store name %s", st->name);
            return FR_EINVAL;
        }
        if ((rc = open_store(s, st, server_pk)))
            return rc;
        s->socks[i] = st->sock;
        /* Spread the heartbeats over one interval. */
        st->next_hello_ms =
            now + (int64_t)i * cfg->heartbeat_ms / (int64_t)s->n;
    }
    return FR_OK;
}

static void
sim_close(sim *s)
{
    for (size_t i = 0; s->st && i < s->n; i++) {
        sa_reset(&s->st[i]);
        fr_net_sock_destroy(&s->st[i].sock);
        fr_crypto_signkey_destroy(&s->st[i].id);
    }
    fr_net_ctx_destroy(&s->ctx);
    free(s->st);
    free(s->socks);
    free(s->ready);
    free(s->drop_set);
    free(s->order);
    free(s->update);
    free(s->dupdate);
    free(s->words);
}

/* Sends the heartbeats that are due; returns ms until the next one. */
static int
heartbeats(sim *s, int64_t now)
{
    int64_t next = now + 100;

    for (size_t i = 0; i < s->n; i++) {
        sim_store *st = &s->st[i];
        if (st->silent)
            continue;
        if (st->next_hello_ms <= now) {
            send_hello(s, st);
            st->next_hello_ms = now + s->cfg->heartbeat_ms;
        }
        if (st->next_hello_ms < next)
            next = st->next_hello_ms;
    }
    return next > now ? (int)(next - now) : 0;
}

/* Handles what the ready sockets hold. Masking takes milliseconds per
 * store, so the heartbeats that fall due meanwhile go out between stores:
 * a real store's loop is never blocked by 250 others, and a store whose
 * heartbeats lapse counts as dropped. */
static void
read_ready(sim *s)
{
    for (size_t i = 0; i < s->n; i++) {
        if (!s->ready[i])
            continue;
        for (int b = 0; b < BURST; b++) {
            uint8_t *buf = NULL;
            size_t len = 0;
            if (fr_net_recv(s->socks[i], 0, NULL, &buf, &len) != FR_OK)
                break;
            on_message(s, &s->st[i], buf, len);
            free(buf);
        }
        (void)heartbeats(s, fr_clock_ms());
    }
}

/* Masks the inputs whose simulated training is over. */
static void
due_masks(sim *s)
{
    if (!s->cfg->train_ms)
        return;
    for (size_t i = 0; i < s->n; i++)
        if (!s->st[i].silent)
            try_mask(s, &s->st[i]);
}

static void
loop(sim *s)
{
    while (!stop_requested) {
        int64_t now = fr_clock_ms();
        int wait = heartbeats(s, now);
        size_t n_ready = 0;

        due_masks(s);
        if (s->cfg->train_ms && wait > 50)
            wait = 50;

        if (s->stop_at_ms && now >= s->stop_at_ms)
            break;
        if (fr_net_poll_many(s->socks, s->n, wait, s->ready, &n_ready) ==
                FR_OK &&
            n_ready)
            read_ready(s);
    }
}

static void
report(const sim *s)
{
    struct rusage ru;
    const counters *t = &s->total;

    fr_log_notice(TAG,
                  "%zu stores: %llu round starts, %llu shares, %llu "
                  "dropped after their shares, %llu masked inputs, %llu "
                  "reveals, %llu refusals, %llu round ends, %llu repeated "
                  "round starts",
                  s->n, (unsigned long long)t->starts,
                  (unsigned long long)t->shares, (unsigned long long)t->dropped,
                  (unsigned long long)t->masked, (unsigned long long)t->reveals,
                  (unsigned long long)t->refused, (unsigned long long)t->ends,
                  (unsigned long long)t->repeats);
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        fr_log_notice(
            TAG, "peak RSS %.1f MiB, CPU %.1f s", (double)ru.ru_maxrss / 1024.0,
            (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
}

int
main(int argc, char **argv)
{
    sim_config cfg;
    sim s = {.cfg = &cfg};
    char err[FR_CONFIG_ERR_MAX];
    int pos[1], npos = 0, flags = 0, status = 1;
    fr_log_level level;
    struct sigaction sa;

    fr_log_set_ident("fedrec-simstores");
    if (fr_config_parse_cli(&sim_table, &cfg, argc, argv, pos, 0, &npos, &flags,
                            err, sizeof err)) {
        fprintf(stderr, "fedrec-simstores: %s\n", err);
        return 2;
    }
    if (flags & FR_CONFIG_FLAG_HELP) {
        printf("usage: fedrec-simstores --connect EP --server_key FILE "
               "--key_dir DIR [--KEY=VALUE ...]\n\n"
               "Simulated store clients for secure-round load tests.\n\n");
        fr_config_print_help(&sim_table, stdout);
        return 0;
    }
    if (!*cfg.server_key || !*cfg.key_dir ||
        fr_log_level_parse(cfg.log_level, &level)) {
        fprintf(stderr, "fedrec-simstores: server_key and key_dir are "
                        "required, log_level must be a level name\n");
        return 2;
    }
    fr_log_set_level(level);
    if (fr_crypto_init())
        return 1;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (sim_open(&s) == FR_OK) {
        fr_log_notice(TAG, "%zu stores connecting to %s", s.n, cfg.connect);
        loop(&s);
        report(&s);
        status = 0;
    }
    sim_close(&s);
    return status;
}
