/*
 * test_start_resend.c - a secure round start that never reached its store
 * (ZeroMQ drops what a connection held when the store reconnects) is sent
 * again, and a store ignores a repeat of a start it took.
 *
 * (a) The real fedrec-aggregator (secagg yes, min_stores 4) with four real
 *     fedrec-client stores and a fifth, allow-listed store played here
 *     that keeps sending HELLOs naming no round. On the connection its
 *     start went out on it never gets it again (a slow store is not sent
 *     more); each time it reconnects without it, it gets the same start
 *     again (same round id, graph commitment and participant number), at
 *     most 3 times. Once it goes quiet the round completes with the other
 *     four, who were never sent theirs twice.
 * (b) A real fedrec-client under an aggregator played here, sent the same
 *     secure round start twice: it advertises its round keys once, logs
 *     the repeat, and its HELLOs name the round.
 * (c) The same played aggregator runs least-squares rounds (model ials)
 *     with a real fedrec-client: a phase 2 for an epoch the store never
 *     solved is ignored (logged, nothing sent); after a phase 1 (answered
 *     with the sums' full length) the phase 2 of that epoch is answered
 *     with n_items * dim products, and one naming another epoch is
 *     ignored; a secure phase 1 whose clip the sums exceed is not sent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/util.h"
#include "crypto/crypto.h"
#include "net/net.h"
#include "proc.h"
#include "model/ials.h"
#include "wire/wire.h"

#define ITEMS 200
#define DIM 8
#define MAX_BYTES (1 << 20)
#define RESENDS 3      /* AGG_START_RESENDS in server/secure.c */
#define NHONEST 4      /* real stores beside the lossy one */

typedef struct env {
    char dir[64], endpoint[64], conf[128], log[128];
    char client_log[NHONEST][128];
    pid_t agg, client[NHONEST];
} env;

static int
setup(void **state)
{
    env *e = calloc(1, sizeof *e);
    char cmd[1024];

    assert_non_null(e);
    assert_int_equal(fr_crypto_init(), FR_OK);
    strcpy(e->dir, "/tmp/fr-resend-XXXXXX");
    assert_non_null(mkdtemp(e->dir));
    snprintf(e->endpoint, sizeof e->endpoint, "tcp://127.0.0.1:%d",
             proc_free_port());
    snprintf(e->conf, sizeof e->conf, "%s/agg.conf", e->dir);
    snprintf(e->log, sizeof e->log, "%s/agg.log", e->dir);
    for (int i = 0; i < NHONEST; i++)
        snprintf(e->client_log[i], sizeof e->client_log[i], "%s/client%d.log",
                 e->dir, i);
    snprintf(cmd, sizeof cmd,
             "set -e; B=" FR_BIN_DIR "; D=%s;"
             "$B/fedrec-keygen --name aggregator --dir $D/keys >/dev/null 2>&1;"
             "for s in store01 store02 store03 store04 lossy; do"
             "  $B/fedrec-keygen --name $s --dir $D/keys 2>/dev/null"
             "  >> $D/allowlist; done;"
             "$B/fedrec-datagen --stores 4 --seed 5 --members 80 --items %d "
             "--out $D/data >/dev/null",
             e->dir, ITEMS);
    assert_int_equal(proc_run(cmd), 0);
    *state = e;
    return 0;
}

static int
teardown(void **state)
{
    env *e = *state;
    char cmd[128];

    if (e->agg > 0)
        (void)proc_stop(e->agg, SIGKILL, 5000);
    for (int i = 0; i < NHONEST; i++)
        if (e->client[i] > 0)
            (void)proc_stop(e->client[i], SIGKILL, 5000);
    snprintf(cmd, sizeof cmd, "rm -rf %s", e->dir);
    (void)proc_run(cmd);
    free(e);
    return 0;
}

static pid_t
start_client(env *e, int i)
{
    char key[160], skey[160], data[160], st[160], items[32];
    char *argv[] = {FR_BIN_DIR "/fedrec-client", "run", "--connect",
                    e->endpoint, key, skey, data, st, items,
                    "--heartbeat_ms=300", NULL};

    snprintf(key, sizeof key, "--key_file=%s/keys/store0%d.key", e->dir,
             i + 1);
    snprintf(skey, sizeof skey, "--server_key=%s/keys/aggregator.pub",
             e->dir);
    snprintf(data, sizeof data, "--data=%s/data/store-0%d.csv", e->dir, i + 1);
    snprintf(st, sizeof st, "--state_dir=%s/state%d", e->dir, i);
    snprintf(items, sizeof items, "--n_items=%d", ITEMS);
    return proc_start(argv, e->client_log[i]);
}

static void
send_msg(fr_net_sock *s, const fr_net_peer *to, const fr_msg *m)
{
    uint8_t *buf = NULL;
    size_t len = 0;

    assert_int_equal(fr_wire_encode(m, MAX_BYTES, &buf, &len), FR_OK);
    assert_int_equal(fr_net_send(s, to, buf, len), FR_OK);
    free(buf);
}

/* Receives one message within timeout_ms (NULL: none). */
static fr_msg *
recv_msg(fr_net_sock *s, int timeout_ms, fr_net_peer *from)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    fr_msg *m = NULL;
    const char *why = NULL;

    if (fr_net_recv(s, timeout_ms, from, &buf, &len))
        return NULL;
    assert_int_equal(fr_wire_decode(buf, len, MAX_BYTES, &m, &why), FR_OK);
    free(buf);
    return m;
}

/* ---- (a) the aggregator sends a lost start again ----------------------- */

typedef struct start_seen {
    uint64_t round_id;
    uint32_t index;
    uint8_t commit[32];
} start_seen;

/* One connection of the lossy store: HELLOs that never name a round every
 * 300 ms for ms (or, with ms < 0, until a start came and -ms more), the
 * secure round starts it hears kept in seen. Returns how many came. */
static int
lossy_link(env *e, const fr_crypto_keypair *kp, const uint8_t *spk, int ms,
           start_seen *seen, int *n_seen, int cap)
{
    fr_net_ctx *ctx = NULL;
    fr_net_sock *s = NULL;
    int64_t end = fr_clock_ms() + (ms < 0 ? 30000 : ms), next_hello = 0;
    int got = 0;

    assert_int_equal(fr_net_ctx_new(&ctx), FR_OK);
    assert_int_equal(
        fr_net_connect(ctx, e->endpoint, kp, spk, 2 * MAX_BYTES, &s), FR_OK);
    while (fr_clock_ms() < end) {
        fr_msg *m;
        if (fr_clock_ms() >= next_hello) {
            fr_msg hello = {.type = FR_MSG_HELLO};
            hello.u.hello.num_examples = 50;
            send_msg(s, NULL, &hello);
            next_hello = fr_clock_ms() + 300;
        }
        m = recv_msg(s, 100, NULL);
        if (m && m->type == FR_MSG_ROUND_START &&
            m->u.round_start.has_secagg) {
            start_seen *k = &seen[*n_seen];
            assert_true(*n_seen < cap);
            k->round_id = m->round_id;
            k->index = m->u.round_start.secagg.index;
            memcpy(k->commit, m->u.round_start.secagg.graph_commit, 32);
            ++*n_seen;
            if (ms < 0 && !got++)
                end = fr_clock_ms() - ms;
            else if (ms >= 0)
                got++;
        }
        fr_msg_destroy(&m);
    }
    fr_net_sock_destroy(&s);
    fr_net_ctx_destroy(&ctx);
    return got;
}

static void
test_aggregator_resends_lost_start(void **state)
{
    env *e = *state;
    FILE *c = fopen(e->conf, "w");
    fr_crypto_keypair *kp = NULL;
    uint8_t spk[FR_CRYPTO_PK_BYTES];
    char p[160];
    start_seen seen[RESENDS + 3];
    int n_seen = 0, status;

    assert_non_null(c);
    fprintf(c,
            "listen %s\nkey_file %s/keys/aggregator.key\n"
            "allowlist %s/allowlist\nstate_dir %s/agg\n"
            "http_listen 127.0.0.1:0\nn_items %d\ndim %d\nrounds 1\n"
            "min_stores 4\nsecagg_max_dropout 0.25\nstart_delay_ms 2500\n"
            "heartbeat_timeout_ms 3000\nround_timeout_ms 90000\n"
            "secagg yes\nsecagg_phase_timeout_ms 60000\nlocal_epochs 1\n"
            "max_message_bytes %d\n",
            e->endpoint, e->dir, e->dir, e->dir, ITEMS, DIM, MAX_BYTES);
    fclose(c);
    e->agg = proc_start((char *[]){FR_BIN_DIR "/fedrec-aggregator",
                                   "--config", e->conf, NULL},
                        e->log);
    assert_true(proc_wait_for(e->log, "listening on", 1, 10000));
    for (int i = 0; i < NHONEST; i++)
        e->client[i] = start_client(e, i);
    snprintf(p, sizeof p, "%s/keys/lossy.key", e->dir);
    assert_int_equal(fr_crypto_keypair_load(p, &kp), FR_OK);
    snprintf(p, sizeof p, "%s/keys/aggregator.pub", e->dir);
    assert_int_equal(fr_crypto_public_load(p, spk), FR_OK);

    /* Its start, and none again on the same connection however long its
     * HELLOs name no round: slow is not lost. */
    assert_int_equal(lossy_link(e, kp, spk, -7000, seen, &n_seen,
                                RESENDS + 3), 1);
    /* Each new connection with no start gets it again, RESENDS times. */
    for (int i = 0; i < RESENDS; i++)
        assert_int_equal(lossy_link(e, kp, spk, 2500, seen, &n_seen,
                                    RESENDS + 3), 1);
    assert_int_equal(lossy_link(e, kp, spk, 2500, seen, &n_seen,
                                RESENDS + 3), 0);
    fr_crypto_keypair_destroy(&kp);

    assert_int_equal(n_seen, 1 + RESENDS);
    for (int i = 1; i < n_seen; i++) {
        assert_true(seen[i].round_id == seen[0].round_id);
        assert_int_equal(seen[i].index, seen[0].index);
        assert_memory_equal(seen[i].commit, seen[0].commit, 32);
    }
    /* Gone quiet, the lossy store drops out and the round completes with
     * the other four, who never heard their start twice. */
    status = proc_wait(e->agg, 90000);
    if (status == -1)
        (void)proc_runf("cat %s >&2; tail -n 25 %s/client*.log >&2", e->log, e->dir);
    assert_true(status != -1 && WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    e->agg = 0;
    assert_int_equal(proc_count(e->log, "round 1 completed"), 1);
    assert_int_equal(proc_count(e->log, "4/5 stores"), 1);
    assert_int_equal(proc_count(e->log, "store lossy reconnected and says"),
                     RESENDS);
    assert_int_equal(proc_count(e->log, "(3 of 3)"), 1);
    for (int i = 0; i < NHONEST; i++) {
        char who[64];
        snprintf(who, sizeof who, "store store%02d reconnected", i + 1);
        assert_int_equal(proc_count(e->log, who), 0);
        assert_int_equal(proc_count(e->client_log[i], "has it already"), 0);
        status = proc_stop(e->client[i], SIGTERM, 10000);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        e->client[i] = 0;
    }
}

/* ---- (b) a store ignores a repeated start ------------------------------ */

static void
test_client_ignores_repeated_start(void **state)
{
    env *e = *state;
    char allow[160], p[160];
    fr_net_ctx *ctx = NULL;
    fr_net_sock *srv = NULL;
    fr_crypto_keypair *kp = NULL;
    fr_net_peer peer;
    fr_msg start = {.type = FR_MSG_ROUND_START, .round_id = 41};
    fr_msg_round_start *rs = &start.u.round_start;
    static float emb[ITEMS * DIM], bias[ITEMS];
    fr_msg *m = NULL;
    int adverts = 0, hellos_after = 0;
    int64_t end;

    snprintf(allow, sizeof allow, "%s/allowlist", e->dir);
    snprintf(p, sizeof p, "%s/keys/aggregator.key", e->dir);
    assert_int_equal(fr_crypto_keypair_load(p, &kp), FR_OK);
    assert_int_equal(fr_net_ctx_new(&ctx), FR_OK);
    assert_int_equal(fr_net_zap_start(ctx, allow), FR_OK);
    assert_int_equal(fr_net_listen(ctx, e->endpoint, kp, 2 * MAX_BYTES, &srv),
                     FR_OK);
    fr_crypto_keypair_destroy(&kp);
    e->client[0] = start_client(e, 0);

    /* Its first HELLO, then a secure round start, twice. */
    end = fr_clock_ms() + 20000;
    while (fr_clock_ms() < end && !(m && m->type == FR_MSG_HELLO)) {
        fr_msg_destroy(&m);
        m = recv_msg(srv, 200, &peer);
    }
    assert_non_null(m);
    assert_int_equal(m->type, FR_MSG_HELLO);
    fr_msg_destroy(&m);
    for (size_t i = 0; i < ITEMS * DIM; i++)
        emb[i] = 0.01f * (float)(i % 7);
    *rs = (fr_msg_round_start){
        .n_items = ITEMS, .dim = DIM, .item_emb = emb, .item_bias = bias,
        .deadline_ms = 60000, .has_secagg = 1,
        .train = {.local_epochs = 1, .learning_rate = 0.05f, .negatives = 1,
                  .batch_size = 16, .l2 = 0.001f}};
    rs->secagg = (fr_secagg_setup){.n = 3, .k = 2, .t = 2, .index = 0,
                                   .n_words = ITEMS * DIM + ITEMS + 1,
                                   .min_inputs = 2, .clip = 10.0,
                                   .weight_cap = 1000};
    fr_crypto_random(rs->secagg.graph_commit, 32);
    send_msg(srv, &peer, &start);
    fr_sleep_ms(500);
    send_msg(srv, &peer, &start);

    end = fr_clock_ms() + 6000;
    while (fr_clock_ms() < end) {
        m = recv_msg(srv, 200, NULL);
        if (m && m->type == FR_MSG_SECAGG &&
            m->u.secagg.sa.phase == FR_SA_ADVERTISE) {
            assert_true(m->round_id == 41);
            adverts++;
        } else if (m && m->type == FR_MSG_HELLO && adverts) {
            assert_true(m->u.hello.last_round == 41);
            hellos_after++;
        }
        fr_msg_destroy(&m);
    }
    assert_int_equal(adverts, 1);
    assert_true(hellos_after >= 3);
    assert_true(proc_wait_for(e->client_log[0],
                              "round id 41: the aggregator sent its round "
                              "start again; this store has it already",
                              1, 5000));
    assert_int_equal(proc_count(e->client_log[0], "has it already"), 1);
    assert_int_equal(proc_stop(e->client[0], SIGTERM, 10000) >= 0, 1);
    e->client[0] = 0;
    fr_net_sock_destroy(&srv);
    fr_net_ctx_destroy(&ctx);
}

/* ---- (c) least-squares rounds ----------------------------------------- */

/* The next UPDATE from the store within timeout_ms (NULL: none came). */
static fr_msg *
next_update(fr_net_sock *srv, int timeout_ms)
{
    int64_t end = fr_clock_ms() + timeout_ms;
    while (fr_clock_ms() < end) {
        fr_msg *m = recv_msg(srv, 100, NULL);
        if (m && m->type == FR_MSG_UPDATE)
            return m;
        fr_msg_destroy(&m);
    }
    return NULL;
}

static void
test_client_ials_epochs(void **state)
{
    env *e = *state;
    char allow[160], p[160];
    fr_net_ctx *ctx = NULL;
    fr_net_sock *srv = NULL;
    fr_crypto_keypair *kp = NULL;
    fr_net_peer peer;
    fr_msg start = {.type = FR_MSG_ROUND_START};
    fr_msg_round_start *rs = &start.u.round_start;
    static float emb[ITEMS * DIM], bias[ITEMS], dir[ITEMS * DIM];
    fr_msg *m = NULL;
    int64_t end;

    snprintf(allow, sizeof allow, "%s/allowlist", e->dir);
    snprintf(p, sizeof p, "%s/keys/aggregator.key", e->dir);
    assert_int_equal(fr_crypto_keypair_load(p, &kp), FR_OK);
    assert_int_equal(fr_net_ctx_new(&ctx), FR_OK);
    assert_int_equal(fr_net_zap_start(ctx, allow), FR_OK);
    assert_int_equal(fr_net_listen(ctx, e->endpoint, kp, 16 * MAX_BYTES,
                                   &srv),
                     FR_OK);
    fr_crypto_keypair_destroy(&kp);
    e->client[0] = start_client(e, 0);
    end = fr_clock_ms() + 20000;
    while (fr_clock_ms() < end && !(m && m->type == FR_MSG_HELLO)) {
        fr_msg_destroy(&m);
        m = recv_msg(srv, 200, &peer);
    }
    assert_non_null(m);
    fr_msg_destroy(&m);
    for (size_t i = 0; i < ITEMS * DIM; i++) {
        emb[i] = 0.05f * (float)((i * 7) % 11) - 0.25f;
        dir[i] = 0.01f * (float)(i % 5);
    }
    *rs = (fr_msg_round_start){
        .n_items = ITEMS, .dim = DIM, .item_emb = emb, .item_bias = bias,
        .deadline_ms = 60000, .has_ials = 1,
        .train = {.local_epochs = 1, .learning_rate = 0.05f, .negatives = 1,
                  .batch_size = 16},
        .ials = {.phase = FR_IALS_PHASE_MATVEC, .alpha0 = 0.1,
                 .lambda = 0.01, .nu = 1.0, .direction = dir,
                 .n_direction = ITEMS * DIM, .epoch_round = 5}};

    /* phase 2 of an epoch this store never solved */
    start.round_id = 6;
    send_msg(srv, &peer, &start);
    assert_true(proc_wait_for(e->client_log[0], "round id 6 ignored: it "
                              "continues the epoch of round id 5", 1, 5000));
    m = next_update(srv, 1500);
    assert_null(m);
    /* phase 1, then its phase 2 */
    start.round_id = 7;
    rs->ials.phase = FR_IALS_PHASE_STATS;
    rs->ials.direction = NULL;
    rs->ials.n_direction = 0;
    rs->ials.epoch_round = 0;
    send_msg(srv, &peer, &start);
    m = next_update(srv, 20000);
    assert_non_null(m);
    assert_true(m->round_id == 7);
    assert_int_equal(m->u.update.n_sums, fr_ials_stats_len(ITEMS, DIM));
    fr_msg_destroy(&m);
    fr_sleep_ms(500); /* the store is idle again */
    start.round_id = 8;
    rs->ials.phase = FR_IALS_PHASE_MATVEC;
    rs->ials.direction = dir;
    rs->ials.n_direction = ITEMS * DIM;
    rs->ials.epoch_round = 7;
    send_msg(srv, &peer, &start);
    m = next_update(srv, 20000);
    assert_non_null(m);
    assert_true(m->round_id == 8);
    assert_int_equal(m->u.update.n_sums, ITEMS * DIM);
    fr_msg_destroy(&m);
    fr_sleep_ms(500);
    /* a phase 2 naming another epoch */
    start.round_id = 9;
    rs->ials.epoch_round = 6;
    send_msg(srv, &peer, &start);
    assert_true(proc_wait_for(e->client_log[0], "round id 9 ignored", 1,
                              5000));
    m = next_update(srv, 1500);
    assert_null(m);
    /* a secure phase 1 whose clip the sums exceed: nothing is masked */
    start.round_id = 10;
    rs->ials.phase = FR_IALS_PHASE_STATS;
    rs->ials.direction = NULL;
    rs->ials.n_direction = 0;
    rs->ials.epoch_round = 0;
    rs->has_secagg = 1;
    rs->secagg = (fr_secagg_setup){
        .n = 3, .k = 2, .t = 2, .index = 0,
        .n_words = (uint32_t)fr_ials_stats_len(ITEMS, DIM) + 1,
        .min_inputs = 2, .clip = 1e-3, .weight_cap = 1};
    fr_crypto_random(rs->secagg.graph_commit, 32);
    send_msg(srv, &peer, &start);
    assert_true(proc_wait_for(e->client_log[0], "round id 10: the "
                              "least-squares sums have an L2 norm", 1,
                              20000));
    assert_int_equal(proc_count(e->client_log[0], "not sent (a scaled sum "
                                                  "would be wrong)"),
                     1);
    assert_int_equal(proc_stop(e->client[0], SIGTERM, 10000) >= 0, 1);
    e->client[0] = 0;
    fr_net_sock_destroy(&srv);
    fr_net_ctx_destroy(&ctx);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_aggregator_resends_lost_start,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_ignores_repeated_start,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_ials_epochs, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
