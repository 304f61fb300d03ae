/*
 * fuzz_relay.c - a regional aggregator's handling of what the central
 * sends it (server/upstream.c agg_upstream_on_bytes, relay.c), with its own
 * stores' messages in between (aggregator_on_bytes): the real round engine
 * in mode regional. LLVMFuzzerInitialize makes what holds no round state
 * once: the region's upstream key files, an fr_net context with the ZAP
 * handler on an allow-list of three stores, a ROUTER socket on ipc and the
 * three stores connected to it. Every input gets a fresh regional
 * aggregator and upstream link (to an endpoint where nothing listens, so
 * what the region would send up is dropped) and its three stores say
 * HELLO.
 *
 * Input: messages of one byte naming the sender (0-2 a store, 3 the
 * central), one byte of time passing (x 100 ms), then a frame (2-byte
 * little-endian length, then an envelope).
 *
 * Properties: the region never writes a model or checkpoint; its answers
 * never exceed the stores selected; a round in hand is the central's
 * (the round id follows it); the model it holds is finite; nothing leaks.
 */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "fuzz_msgs.h"

#include "agg.h"
#include "aggconf.h"
#include "base/log.h"
#include "crypto/crypto.h"
#include "crypto/prim.h"
#include "model/model.h"
#include "round_int.h"
#include "upstream.h"

#define N_STORES 3

static fr_net_ctx *ctx;
static fr_net_sock *sock;
static agg_config cfg;
static char dir[] = "/dev/shm/fr-fuzz-relay-XXXXXX";
static fr_net_peer peers[N_STORES];
static fr_crypto_keypair *store_kp[N_STORES];
static fr_net_sock *store_sock[N_STORES];

static void
quiet(void *arg, fr_log_level level, const char *tag, const char *line)
{
    (void)arg;
    (void)level;
    (void)tag;
    (void)line;
}

static void
path_of(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

/* The allow-list of store-0..2, and the region's and central's keys. */
static void
make_keys(void)
{
    char text[1024] = "", line[200], hex[65], shex[65], base[256];
    fr_crypto_signkey *sk = NULL;
    fr_crypto_keypair *kp = NULL;
    FILE *f;

    for (int i = 0; i < N_STORES; i++) {
        FR_FUZZ_CHECK(fr_crypto_keypair_generate(&store_kp[i]) == FR_OK);
        FR_FUZZ_CHECK(fr_crypto_signkey_generate(&sk) == FR_OK);
        fr_crypto_bin2hex(hex, fr_crypto_keypair_public(store_kp[i]), 32);
        fr_crypto_bin2hex(shex, fr_crypto_signkey_public(sk), 32);
        fr_crypto_signkey_destroy(&sk);
        snprintf(line, sizeof line, "store-%d %s %s\n", i, hex, shex);
        strcat(text, line);
    }
    path_of(base, sizeof base, "allowlist");
    FR_FUZZ_CHECK((f = fopen(base, "w")) != NULL);
    fputs(text, f);
    FR_FUZZ_CHECK(fclose(f) == 0);
    path_of(base, sizeof base, "region");
    FR_FUZZ_CHECK(fr_crypto_keypair_generate(&kp) == FR_OK &&
                  fr_crypto_keypair_save(kp, base, 0) == FR_OK);
    fr_crypto_keypair_destroy(&kp);
    FR_FUZZ_CHECK(fr_crypto_signkey_generate(&sk) == FR_OK &&
                  fr_crypto_signkey_save(sk, base, 0) == FR_OK);
    fr_crypto_signkey_destroy(&sk);
    path_of(base, sizeof base, "central");
    FR_FUZZ_CHECK(fr_crypto_keypair_generate(&kp) == FR_OK &&
                  fr_crypto_keypair_save(kp, base, 0) == FR_OK);
    fr_crypto_keypair_destroy(&kp);
}

static void
connect_stores(const char *ep, const uint8_t server_pk[32])
{
    fr_msg m = {.type = FR_MSG_HELLO};
    uint8_t *buf = NULL, *in = NULL;
    size_t len = 0, inlen = 0;

    FR_FUZZ_CHECK(fr_wire_encode(&m, 1u << 20, &buf, &len) == FR_OK);
    for (int i = 0; i < N_STORES; i++) {
        fr_net_peer p;
        FR_FUZZ_CHECK(fr_net_connect(ctx, ep, store_kp[i], server_pk,
                                     1u << 20, &store_sock[i]) == FR_OK);
        FR_FUZZ_CHECK(fr_net_send(store_sock[i], NULL, buf, len) == FR_OK);
        FR_FUZZ_CHECK(fr_net_recv(sock, 10000, &p, &in, &inlen) == FR_OK);
        free(in);
        FR_FUZZ_CHECK(p.store[6] >= '0' && p.store[6] < '0' + N_STORES);
        peers[p.store[6] - '0'] = p;
    }
    free(buf);
}

/* Empties the stores' queues (what the region sent them). */
static void
drain_stores(int wait_ms)
{
    for (int i = 0; i < N_STORES; i++) {
        uint8_t *in = NULL;
        size_t inlen = 0;
        while (fr_net_recv(store_sock[i], wait_ms, NULL, &in, &inlen) ==
               FR_OK) {
            fr_msg *m = NULL;
            const char *why = NULL;
            /* what the region sends, a store must accept */
            FR_FUZZ_CHECK(fr_wire_decode(in, inlen, 1u << 20, &m, &why) ==
                          FR_OK);
            fr_msg_destroy(&m);
            free(in);
        }
    }
}

static void
make_config(void)
{
    char err[512];

    FR_FUZZ_CHECK(fr_config_defaults(&agg_config_table, &cfg, err,
                                     sizeof err) == FR_OK);
    snprintf(cfg.mode, sizeof cfg.mode, "regional");
    snprintf(cfg.upstream, sizeof cfg.upstream, "tcp://127.0.0.1:9");
    path_of(cfg.upstream_server_key, sizeof cfg.upstream_server_key,
            "central.pub");
    path_of(cfg.upstream_key_file, sizeof cfg.upstream_key_file,
            "region.key");
    path_of(cfg.state_dir, sizeof cfg.state_dir, "state");
    path_of(cfg.allowlist, sizeof cfg.allowlist, "allowlist");
    path_of(cfg.key_file, sizeof cfg.key_file, "central.key");
    cfg.min_stores = 3;
    cfg.max_stores = 8;
    cfg.heartbeat_timeout_ms = 10000;
    cfg.secagg_phase_timeout_ms = 5000;
    cfg.secagg_max_dropout = 0;
    cfg.upstream_reconnect_max_ms = 3600000; /* no rebuild within a run */
    if (agg_config_validate(&cfg, err, sizeof err) != FR_OK ||
        agg_upstream_check(&cfg, err, sizeof err) != FR_OK) {
        fprintf(stderr, "fuzz_relay: %s\n", err);
        abort();
    }
}

/* The central's round start: secure (sized for three stores here) or
 * plain, for a model of 4 x 2. */
static void
central_start(fr_msg *m, int secure)
{
    static const float emb[8] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f,
                                 0.8f};
    static const float bias[4] = {0.1f, 0.2f, 0.3f, 0.4f};
    fr_msg_round_start *rs = &m->u.round_start;

    *m = (fr_msg){.type = FR_MSG_ROUND_START, .round_id = 7};
    rs->n_items = 4;
    rs->dim = 2;
    rs->item_emb = emb;
    rs->item_bias = bias;
    rs->deadline_ms = 20000;
    rs->train = (fr_train_params){.local_epochs = 1, .learning_rate = 0.5f,
                                  .negatives = 2, .batch_size = 8};
    if (!secure)
        return;
    rs->has_secagg = 1;
    rs->secagg = (fr_secagg_setup){.n = 3, .k = 2, .t = 2, .index = 1,
                                   .n_words = 13, .min_inputs = 3,
                                   .clip = 10, .weight_cap = 100,
                                   .encode_n = 9, .cover_max = 3};
    memset(rs->secagg.graph_commit, 0x33, 32);
}

static void
seed_of(const char *name, const fr_msg *const *msgs, const uint8_t *who,
        size_t n)
{
    uint8_t all[8192];
    size_t at = 0;

    for (size_t i = 0; i < n; i++) {
        uint8_t *buf = NULL;
        size_t len = 0;
        FR_FUZZ_CHECK(fr_wire_encode(msgs[i], 1u << 20, &buf, &len) == FR_OK);
        FR_FUZZ_CHECK(at + 4 + len <= sizeof all);
        all[at++] = who[i];
        all[at++] = 1;
        all[at++] = (uint8_t)len;
        all[at++] = (uint8_t)(len >> 8);
        memcpy(all + at, buf, len);
        at += len;
        free(buf);
    }
    fuzz_seed_write(name, (const uint8_t[]){0}, 0, all, at);
}

static void
write_seeds(void)
{
    fr_msg rs, plain, end = {.type = FR_MSG_ROUND_END, .round_id = 7};
    fr_msg done = {.type = FR_MSG_DONE, .round_id = 7};
    fr_msg adv = {.type = FR_MSG_SECAGG, .round_id = 7};
    fr_sa_keys k = {.index = 0};

    if (!getenv("FR_FUZZ_WRITE_SEEDS"))
        return;
    central_start(&rs, 1);
    central_start(&plain, 0);
    end.u.round_end.completed = 1;
    end.u.round_end.contributors = 9;
    end.u.round_end.completed_rounds = 1;
    done.u.done.completed_rounds = 1;
    adv.u.secagg.sa = (fr_sa_msg){.phase = FR_SA_ADVERTISE, .keys = &k,
                                  .n_keys = 1};
    seed_of("secure_start", (const fr_msg *[]){&rs}, (uint8_t[]){3}, 1);
    seed_of("secure_start_advertise_end",
            (const fr_msg *[]){&rs, &adv, &adv, &end},
            (uint8_t[]){3, 0, 1, 3}, 4);
    seed_of("plain_start_done", (const fr_msg *[]){&plain, &end, &done},
            (uint8_t[]){3, 3, 3}, 3);
}

static void
clear_state(void)
{
    char path[512];
    DIR *d;
    struct dirent *e;

    path_of(path, sizeof path, "state");
    FR_FUZZ_CHECK((d = opendir(path)) != NULL);
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        /* a region keeps no model: it must never write one */
        FR_FUZZ_CHECK(strcmp(e->d_name, "checkpoint.bin") != 0);
        FR_FUZZ_CHECK(strcmp(e->d_name, "history.tsv") != 0);
        snprintf(path, sizeof path, "%s/state/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
}

static void
remove_dir(void)
{
    static const char *names[] = {"allowlist", "agg.sock", "region.key",
                                  "region.pub", "region.sign.key",
                                  "region.sign.pub", "central.key",
                                  "central.pub"};
    char path[512];

    clear_state();
    path_of(path, sizeof path, "state");
    rmdir(path);
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        path_of(path, sizeof path, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char path[256];
    fr_crypto_keypair *kp = NULL;

    (void)argc;
    (void)argv;
    if (!getenv("FR_FUZZ_LOG"))
        fr_log_set_sink(quiet, NULL);
    else
        fr_log_set_level(FR_LOG_DEBUG);
    FR_FUZZ_CHECK(fr_crypto_init() == FR_OK);
    if (!mkdtemp(dir)) {
        strcpy(dir, "/tmp/fr-fuzz-relay-XXXXXX");
        FR_FUZZ_CHECK(mkdtemp(dir) != NULL);
    }
    atexit(remove_dir);
    make_keys();
    path_of(path, sizeof path, "state");
    FR_FUZZ_CHECK(mkdir(path, 0700) == 0);
    make_config();
    FR_FUZZ_CHECK(fr_net_ctx_new(&ctx) == FR_OK);
    FR_FUZZ_CHECK(fr_net_zap_start(ctx, cfg.allowlist) == FR_OK);
    FR_FUZZ_CHECK(fr_crypto_keypair_generate(&kp) == FR_OK);
    snprintf(path, sizeof path, "ipc://%s/agg.sock", dir);
    FR_FUZZ_CHECK(fr_net_listen(ctx, path, kp, 1u << 20, &sock) == FR_OK);
    connect_stores(path, fr_crypto_keypair_public(kp));
    fr_crypto_keypair_destroy(&kp);
    write_seeds();
    return 0;
}

static void
check(const aggregator *a)
{
    FR_FUZZ_CHECK(a->n_answered <= a->n_selected);
    if (a->up_start)
        FR_FUZZ_CHECK(a->round_id == a->up_start->round_id);
    if (!a->model)
        return;
    for (size_t i = 0; i < fr_model_n_params(a->model); i++)
        FR_FUZZ_CHECK(isfinite(fr_model_params_const(a->model)[i]));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    aggregator *a = NULL;
    agg_upstream *up = NULL;
    const uint8_t *p = data, *end = data + size, *frame;
    int64_t now = 1000000;
    size_t flen;

    FR_FUZZ_CHECK(aggregator_new(&a, &cfg, ctx, sock, NULL) == FR_OK);
    FR_FUZZ_CHECK(agg_upstream_new(&up, &cfg, ctx, NULL) == FR_OK);
    aggregator_set_upstream(a, up);
    for (int i = 0; i < N_STORES; i++) {
        fr_msg m = {.type = FR_MSG_HELLO};
        m.u.hello.num_examples = 100;
        aggregator_on_message(a, &peers[i], &m, now);
    }
    while (end - p >= 2) {
        int who = p[0] % (N_STORES + 1);
        now += 100 * (int64_t)p[1];
        p = fuzz_next_frame(p + 2, end, &frame, &flen);
        if (!p)
            break;
        if (who == N_STORES)
            agg_upstream_on_bytes(up, a, frame, flen, now);
        else
            aggregator_on_bytes(a, &peers[who], frame, flen, now);
        aggregator_tick(a, now);
        check(a);
    }
    aggregator_stop(a, now);
    aggregator_destroy(&a);
    agg_upstream_destroy(&up);
    drain_stores(0);
    clear_state();
    return 0;
}
