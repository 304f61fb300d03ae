/*
 * fuzz_agg.c - the aggregator's handling of store -> aggregator messages:
 * the real round engine (server/round.c aggregator_on_message, secure.c,
 * announce.c, and what they call) with a round running. LLVMFuzzerInitialize
 * makes the parts that hold no round state once: a real fr_net context with
 * the ZAP handler on an allow-list of three stores (with identity keys), a
 * ROUTER socket on an inproc endpoint, and a catalogue of the model's four
 * items. Every input gets a fresh aggregator in an emptied state directory:
 * three stores say HELLO and a round starts (plain, or secure: then the
 * SecAgg+ server waits for the stores' keys), and the input's messages are
 * then decoded and handed over as the main loop does.
 *
 * Input: byte 0 bit 0: secure round. Then messages: one byte naming the
 * sender (0-2 a listed store, 3 a store whose key is not on the list), one
 * byte of time passing (x 100 ms: timers fire, rounds close and restart),
 * then a frame (2-byte little-endian length, then an envelope).
 *
 * Properties: the engine never counts an answer that is not an accepted
 * update or masked input of the round in progress from one of its selected
 * stores; answers never exceed the stores selected; the global model stays
 * finite whatever the updates said; nothing leaks.
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

#define N_STORES 3

static fr_net_ctx *ctx;
static fr_net_sock *sock;
static agg_config cfg_plain, cfg_secure;
/* on tmpfs where there is one: the checkpoint is fsync'ed every round */
static char dir[] = "/dev/shm/fr-fuzz-agg-XXXXXX";
static fr_net_peer peers[N_STORES + 1];
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
write_file(const char *name, const char *text)
{
    char path[256];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    FR_FUZZ_CHECK((f = fopen(path, "w")) != NULL);
    fputs(text, f);
    FR_FUZZ_CHECK(fclose(f) == 0);
}

/* The allow-list: store-0..2 with fresh CURVE and identity keys. */
static void
make_allowlist(void)
{
    char text[1024] = "", line[200], hex[65], shex[65];
    fr_crypto_signkey *sk;

    for (int i = 0; i < N_STORES; i++) {
        FR_FUZZ_CHECK(fr_crypto_keypair_generate(&store_kp[i]) == FR_OK);
        FR_FUZZ_CHECK(fr_crypto_signkey_generate(&sk) == FR_OK);
        fr_crypto_bin2hex(hex, fr_crypto_keypair_public(store_kp[i]), 32);
        fr_crypto_bin2hex(shex, fr_crypto_signkey_public(sk), 32);
        fr_crypto_signkey_destroy(&sk);
        snprintf(line, sizeof line, "store-%d %s %s\n", i, hex, shex);
        strcat(text, line);
    }
    write_file("allowlist", text);
}

/* Connects the stores as real CURVE clients; each says one HELLO so the
 * aggregator's socket learns the peer (routing id, name, key) the way the
 * main loop does. store-x is store-0's connection with another name and
 * key fingerprint: what a key revoked since its handshake looks like. */
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
        for (int j = 0; j < N_STORES; j++)
            if (strcmp(p.store, (char[]){'s', 't', 'o', 'r', 'e', '-',
                                         (char)('0' + j), 0}) == 0)
                peers[j] = p;
    }
    free(buf);
    for (int j = 0; j < N_STORES; j++)
        FR_FUZZ_CHECK(peers[j].store[0] != 0);
    peers[N_STORES] = peers[0];
    strcpy(peers[N_STORES].store, "store-x");
    strcpy(peers[N_STORES].key_fp, "0123456789abcdef");
}

/* Empties the stores' queues (round starts, round ends, catalogues),
 * waiting up to wait_ms for each message still on its way. */
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
            /* what the aggregator sends, the store must accept */
            FR_FUZZ_CHECK(fr_wire_decode(in, inlen, 1u << 20, &m, &why) ==
                          FR_OK);
            fr_msg_destroy(&m);
            free(in);
        }
    }
}

static void
make_config(agg_config *c, int secure)
{
    char err[512];

    FR_FUZZ_CHECK(fr_config_defaults(&agg_config_table, c, err, sizeof err) ==
                  FR_OK);
    snprintf(c->state_dir, sizeof c->state_dir, "%s/state", dir);
    snprintf(c->catalogue, sizeof c->catalogue, "%s/catalogue", dir);
    snprintf(c->allowlist, sizeof c->allowlist, "%s/allowlist", dir);
    snprintf(c->key_file, sizeof c->key_file, "%s/server.key", dir);
    c->n_items = 4;
    c->dim = 2;
    c->min_stores = 3;
    c->fraction = 1.0;
    c->rounds = 0;
    c->round_timeout_ms = 60000;
    c->start_delay_ms = 0;
    c->heartbeat_timeout_ms = 10000;
    c->retry_delay_ms = 1000;
    c->max_stores = 8;
    c->secagg = secure;
    c->secagg_phase_timeout_ms = 5000;
    c->secagg_max_dropout = 0;
    c->secagg_weight_cap = 1000;
    if (agg_config_validate(c, err, sizeof err) != FR_OK) {
        fprintf(stderr, "fuzz_agg: %s\n", err);
        abort();
    }
}

/* One message of each type from store-0, in a plain and a secure round. */
static void
write_one(const char *name, const fr_msg *m)
{
    uint8_t *buf = NULL, pre[5] = {0, 0, 1, 0, 0};
    size_t len = 0;
    char full[64];
    fr_msg mine = *m;

    mine.round_id = 1; /* the first round of a fresh state directory */
    FR_FUZZ_CHECK(fr_wire_encode(&mine, 1u << 20, &buf, &len) == FR_OK);
    pre[3] = (uint8_t)len;
    pre[4] = (uint8_t)(len >> 8);
    snprintf(full, sizeof full, "%s_%s", m->type == FR_MSG_SECAGG ? "secure"
                                                                  : "plain",
             name);
    pre[0] = m->type == FR_MSG_SECAGG;
    fuzz_seed_write(full, pre, sizeof pre, buf, len);
    free(buf);
}

static void
write_seeds(void)
{
    fr_msg m = {.type = FR_MSG_HELLO, .round_id = 0};
    static const float emb[8] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f,
                                 0.8f};
    static const float bias[4] = {0.1f, 0.2f, 0.3f, 0.4f};
    uint8_t *buf = NULL, pre[1] = {0}, all[4096];
    size_t len = 0, n = 0;

    if (!getenv("FR_FUZZ_WRITE_SEEDS"))
        return;
    /* the first round's id is 1 in a fresh state directory */
    m.type = FR_MSG_UPDATE;
    m.round_id = 1;
    m.u.update = (fr_msg_update){.num_examples = 10, .n_items = 4, .dim = 2,
                                 .delta_emb = emb, .delta_bias = bias};
    FR_FUZZ_CHECK(fr_wire_encode(&m, 1u << 20, &buf, &len) == FR_OK);
    for (uint8_t s = 0; s < N_STORES; s++) {
        all[n++] = s;
        all[n++] = 1;
        all[n++] = (uint8_t)len;
        all[n++] = (uint8_t)(len >> 8);
        memcpy(all + n, buf, len);
        n += len;
    }
    free(buf);
    fuzz_seed_write("plain_updates", pre, 1, all, n);
    memset(&m.u, 0, sizeof m.u);
    m.type = FR_MSG_CATALOGUE;
    FR_FUZZ_CHECK(fr_wire_encode(&m, 1u << 20, &buf, &len) == FR_OK);
    all[0] = 1, all[1] = 0, all[2] = (uint8_t)len, all[3] = 0;
    memcpy(all + 4, buf, len);
    fuzz_seed_write("catalogue_request", pre, 1, all, len + 4);
    free(buf);
    m.type = FR_MSG_HELLO;
    m.u.hello.num_examples = 5;
    FR_FUZZ_CHECK(fr_wire_encode(&m, 1u << 20, &buf, &len) == FR_OK);
    all[0] = 3, all[1] = 200, all[2] = (uint8_t)len, all[3] = 0;
    memcpy(all + 4, buf, len);
    pre[0] = 1;
    fuzz_seed_write("secure_hello_late", pre, 1, all, len + 4);
    free(buf);
    fuzz_msgs_each(write_one);
}

/* Empties the state directory: the next input starts a fresh model. */
static void
clear_state(void)
{
    char path[512];
    DIR *d;
    struct dirent *e;

    snprintf(path, sizeof path, "%s/state", dir);
    FR_FUZZ_CHECK((d = opendir(path)) != NULL);
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/state/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
}

static void
remove_dir(void)
{
    static const char *names[] = {"allowlist", "catalogue", "agg.sock"};
    char path[512];

    clear_state();
    snprintf(path, sizeof path, "%s/state", dir);
    rmdir(path);
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
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
        strcpy(dir, "/tmp/fr-fuzz-agg-XXXXXX");
        FR_FUZZ_CHECK(mkdtemp(dir) != NULL);
    }
    atexit(remove_dir);
    make_allowlist();
    write_file("catalogue", "fedrec-catalogue 1\nA-1\nB-2\nC-3\nD-4\n");
    snprintf(path, sizeof path, "%s/state", dir);
    FR_FUZZ_CHECK(mkdir(path, 0700) == 0);
    make_config(&cfg_plain, 0);
    make_config(&cfg_secure, 1);
    snprintf(path, sizeof path, "%s/allowlist", dir);
    FR_FUZZ_CHECK(fr_net_ctx_new(&ctx) == FR_OK);
    FR_FUZZ_CHECK(fr_net_zap_start(ctx, path) == FR_OK);
    FR_FUZZ_CHECK(fr_crypto_keypair_generate(&kp) == FR_OK);
    snprintf(path, sizeof path, "ipc://%s/agg.sock", dir);
    FR_FUZZ_CHECK(fr_net_listen(ctx, path, kp, 1u << 20, &sock) == FR_OK);
    connect_stores(path, fr_crypto_keypair_public(kp));
    fr_crypto_keypair_destroy(&kp);
    write_seeds();
    return 0;
}

static void
hello(aggregator *a, int i, int64_t now)
{
    fr_msg m = {.type = FR_MSG_HELLO};

    m.u.hello.num_examples = 100;
    aggregator_on_message(a, &peers[i], &m, now);
}

/* An answer may only be counted for an accepted update or masked input of
 * the round in progress from a store chosen for it. */
static void
check_answer(const aggregator *a, size_t before, uint64_t round,
             const fr_msg *m, int who)
{
    if (a->n_answered <= before || a->round_id != round)
        return;
    FR_FUZZ_CHECK(a->n_answered == before + 1 && who < N_STORES);
    FR_FUZZ_CHECK(m->round_id == round);
    FR_FUZZ_CHECK(m->type == FR_MSG_UPDATE ||
                  (m->type == FR_MSG_SECAGG &&
                   m->u.secagg.sa.phase == FR_SA_MASKED));
}

static void
deliver(aggregator *a, int who, const uint8_t *buf, size_t len, int64_t now)
{
    size_t before = a->n_answered;
    uint64_t round = a->round_id;
    fr_msg *m = NULL;
    const char *why = NULL;

    /* The daemon's own path: quarantine, decode, refusal, dispatch. */
    aggregator_on_bytes(a, &peers[who], buf, len, now);
    /* Decoded again only to know what was sent, for the checks. */
    if (fr_wire_decode(buf, len, (size_t)a->cfg->max_message_bytes, &m,
                       &why) != FR_OK) {
        FR_FUZZ_CHECK(why != NULL);
        FR_FUZZ_CHECK(a->n_answered == before);
        return;
    }
    check_answer(a, before, round, m, who);
    FR_FUZZ_CHECK(a->n_answered <= a->n_selected);
    fr_msg_destroy(&m);
}

static void
check_model(const aggregator *a)
{
    fr_model *mdl = a->model;
    size_t ne = (size_t)fr_model_n_items(mdl) * fr_model_dim(mdl);

    for (size_t i = 0; i < ne; i++)
        FR_FUZZ_CHECK(isfinite(fr_model_item_emb(mdl)[i]));
    for (size_t i = 0; i < fr_model_n_items(mdl); i++)
        FR_FUZZ_CHECK(isfinite(fr_model_item_bias(mdl)[i]));
}

/* A fresh aggregator with a round running. The stores' queues are
 * ZeroMQ's, drained after every input; if messages of an earlier input
 * were still on their way (a full queue makes a round start fail), they
 * are waited for and the set-up is made again, so the input runs as it
 * would alone. */
static aggregator *
start_round(const agg_config *cfg, int64_t now)
{
    aggregator *a = NULL;

    for (int attempt = 0; attempt < 3; attempt++) {
        FR_FUZZ_CHECK(aggregator_new(&a, cfg, ctx, sock, NULL) == FR_OK);
        for (int i = 0; i < N_STORES; i++)
            hello(a, i, now);
        aggregator_tick(a, now);
        if (aggregator_busy(a))
            return a;
        aggregator_destroy(&a);
        drain_stores(100);
        clear_state();
    }
    FR_FUZZ_CHECK(!"a round starts with three stores saying HELLO");
    return NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    aggregator *a = NULL;
    const uint8_t *p = data + 1, *end = data + size, *frame;
    int64_t now = 1000000;
    size_t flen;

    if (size < 1)
        return 0;
    a = start_round(data[0] & 1 ? &cfg_secure : &cfg_plain, now);
    while (end - p >= 2) {
        int who = p[0] % (N_STORES + 1);
        now += 100 * (int64_t)p[1];
        p = fuzz_next_frame(p + 2, end, &frame, &flen);
        if (!p)
            break;
        deliver(a, who, frame, flen, now);
        aggregator_tick(a, now);
    }
    check_model(a);
    aggregator_stop(a, now);
    aggregator_destroy(&a);
    drain_stores(0);
    clear_state();
    return 0;
}
