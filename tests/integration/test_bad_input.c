/*
 * test_bad_input.c - a running fedrec-aggregator keeps serving while an
 * admitted peer sends it garbage, truncated, oversized, wrong-version,
 * wrongly-typed and out-of-round messages; every one is dropped with a log
 * line naming the reason, and the honest stores finish their rounds. Then a
 * damaged checkpoint is refused at start-up and left untouched on disk.
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
#include "wire/wire.h"

#define ITEMS 200
#define MAX_BYTES 65536

typedef struct env {
    char dir[64], endpoint[64], conf[128], log[128], log2[128];
    char client_log[2][128];
    pid_t agg, client[2];
} env;

static void
setup_files(env *e)
{
    char cmd[1024];
    FILE *c;

    snprintf(cmd, sizeof cmd,
             "set -e; B=" FR_BIN_DIR "; D=%s;"
             "$B/fedrec-keygen --name aggregator --dir $D/keys >/dev/null 2>&1;"
             "for s in store01 store02 rogue; do"
             "  $B/fedrec-keygen --name $s --dir $D/keys 2>/dev/null"
             "  >> $D/allowlist; done;"
             "$B/fedrec-datagen --stores 2 --seed 3 --members 80 --items %d "
             "--out $D/data >/dev/null",
             e->dir, ITEMS);
    assert_int_equal(proc_run(cmd), 0);
    c = fopen(e->conf, "w");
    assert_non_null(c);
    fprintf(c,
            "listen %s\nkey_file %s/keys/aggregator.key\n"
            "allowlist %s/allowlist\nstate_dir %s/agg\n"
            "http_listen 127.0.0.1:0\nn_items %d\ndim 8\n"
            "rounds 3\nmin_stores 2\nstart_delay_ms 3000\nsecagg no\n"
            "heartbeat_timeout_ms 2000\nmax_message_bytes %d\n",
            e->endpoint, e->dir, e->dir, e->dir, ITEMS, MAX_BYTES);
    fclose(c);
}

static pid_t
start_client(env *e, int i)
{
    char key[160], skey[160], data[160], state[160], items[32];
    char *argv[] = {FR_BIN_DIR "/fedrec-client", "run", "--connect",
                    e->endpoint, key, skey, data, state, items,
                    "--heartbeat_ms=200", NULL};

    snprintf(key, sizeof key, "--key_file=%s/keys/store0%d.key", e->dir,
             i + 1);
    snprintf(skey, sizeof skey, "--server_key=%s/keys/aggregator.pub",
             e->dir);
    snprintf(data, sizeof data, "--data=%s/data/store-0%d.csv", e->dir, i + 1);
    snprintf(state, sizeof state, "--state_dir=%s/state%d", e->dir, i);
    snprintf(items, sizeof items, "--n_items=%d", ITEMS);
    return proc_start(argv, e->client_log[i]);
}

static void
send_raw(fr_net_sock *s, const void *buf, size_t len)
{
    assert_int_equal(fr_net_send(s, NULL, buf, len), FR_OK);
}

static void
send_msg(fr_net_sock *s, const fr_msg *m, int bump_version)
{
    uint8_t *buf = NULL;
    size_t len = 0;

    assert_int_equal(fr_wire_encode(m, MAX_BYTES, &buf, &len), FR_OK);
    if (bump_version) {
        /* Field 1 (version) is the first varint: tag 0x08, value 1. */
        assert_int_equal(buf[0], 0x08);
        assert_int_equal(buf[1], FR_WIRE_VERSION);
        buf[1] = FR_WIRE_VERSION + 1;
    }
    send_raw(s, buf, len);
    free(buf);
}

/* An admitted store (its key is on the allow-list) that misbehaves. */
static void
play_rogue(env *e)
{
    fr_net_ctx *ctx = NULL;
    fr_net_sock *s = NULL;
    fr_crypto_keypair *kp = NULL;
    uint8_t spk[FR_CRYPTO_PK_BYTES], *big;
    char p[160];
    static float emb[ITEMS * 8], bias[ITEMS];
    fr_msg hello = {.type = FR_MSG_HELLO, .round_id = 0};
    fr_msg upd = {.type = FR_MSG_UPDATE, .round_id = 987654};
    fr_msg start = {.type = FR_MSG_ROUND_START, .round_id = 1};
    uint8_t *buf = NULL;
    size_t len = 0;

    snprintf(p, sizeof p, "%s/keys/rogue.key", e->dir);
    assert_int_equal(fr_crypto_keypair_load(p, &kp), FR_OK);
    snprintf(p, sizeof p, "%s/keys/aggregator.pub", e->dir);
    assert_int_equal(fr_crypto_public_load(p, spk), FR_OK);
    assert_int_equal(fr_net_ctx_new(&ctx), FR_OK);
    assert_int_equal(fr_net_connect(ctx, e->endpoint, kp, spk, 1 << 20, &s),
                     FR_OK);

    hello.u.hello.num_examples = 1;
    send_msg(s, &hello, 0); /* a valid hello first: proves admission */
    send_raw(s, "this is not a protobuf", 22);
    send_msg(s, &hello, 1);
    upd.u.update = (fr_msg_update){.num_examples = 5, .n_items = ITEMS,
                                   .dim = 8, .delta_emb = emb,
                                   .delta_bias = bias};
    send_msg(s, &upd, 0);
    start.u.round_start = (fr_msg_round_start){
        .n_items = ITEMS, .dim = 8, .item_emb = emb, .item_bias = bias,
        .deadline_ms = 1000,
        .train = {.local_epochs = 1, .learning_rate = 0.1f, .negatives = 1,
                  .batch_size = 1}};
    send_msg(s, &start, 0);
    /* A secure-aggregation message while no secure round runs. */
    {
        fr_sa_keys k = {.index = 0};
        fr_msg sa = {.type = FR_MSG_SECAGG, .round_id = 1};
        sa.u.secagg.sa = (fr_sa_msg){.phase = FR_SA_ADVERTISE, .keys = &k,
                                     .n_keys = 1};
        send_msg(s, &sa, 0);
    }
    /* Truncated: a valid update cut in half. */
    assert_int_equal(fr_wire_encode(&upd, MAX_BYTES, &buf, &len), FR_OK);
    send_raw(s, buf, len / 2);
    free(buf);
    /* Oversized: over max_message_bytes, under ZeroMQ's hard cap. */
    big = calloc(1, MAX_BYTES + 1000);
    assert_non_null(big);
    send_raw(s, big, MAX_BYTES + 1000);
    free(big);
    fr_sleep_ms(500); /* let ZeroMQ flush before the socket closes */
    fr_net_sock_destroy(&s);
    fr_net_ctx_destroy(&ctx);
    fr_crypto_keypair_destroy(&kp);
}

static void
test_daemon_survives_bad_messages(void **state)
{
    env *e = *state;
    int status;

    for (int i = 0; i < 2; i++)
        e->client[i] = start_client(e, i);
    e->agg = proc_start((char *[]){FR_BIN_DIR "/fedrec-aggregator",
                                   "--config", e->conf, NULL},
                        e->log);
    assert_true(proc_wait_for(e->log, "listening on", 1, 10000));
    play_rogue(e);

    status = proc_wait(e->agg, 120000);
    assert_true(status != -1 && WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(proc_count(e->log, "round 3 completed"), 1);
    /* Each bad message was dropped with its reason. */
    assert_int_equal(proc_count(e->log, "truncated or malformed protobuf"), 2);
    assert_int_equal(proc_count(e->log, "unsupported protocol version"), 1);
    assert_int_equal(proc_count(e->log, "message larger than the size limit"),
                     1);
    assert_int_equal(proc_count(e->log, "not the round in progress"), 1);
    assert_int_equal(proc_count(e->log, "not the secure round in progress"),
                     1);
    assert_int_equal(proc_count(e->log, "round_start message from store "
                                        "rogue: not expected"), 1);
    /* The rogue never counted in a round. */
    assert_int_equal(proc_count(e->log, "3/3 stores"), 0);
    for (int i = 0; i < 2; i++) {
        status = proc_stop(e->client[i], SIGTERM, 10000);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
}

static void
test_damaged_checkpoint_refused(void **state)
{
    env *e = *state;
    char ck[160], *before, *after;
    FILE *f;
    int status;
    long size;

    snprintf(ck, sizeof ck, "%s/agg/checkpoint.bin", e->dir);
    f = fopen(ck, "r+b");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fseek(f, size / 2, SEEK_SET);
    int c = fgetc(f);
    fseek(f, size / 2, SEEK_SET);
    fputc(c ^ 0x40, f);
    fclose(f);
    before = proc_read_file(ck);

    e->agg = proc_start((char *[]){FR_BIN_DIR "/fedrec-aggregator",
                                   "--config", e->conf, NULL},
                        e->log2);
    status = proc_wait(e->agg, 20000);
    assert_true(status != -1 && WIFEXITED(status));
    assert_int_not_equal(WEXITSTATUS(status), 0);
    assert_int_equal(proc_count(e->log2, "checkpoint.bin cannot be used"), 1);
    after = proc_read_file(ck);
    assert_non_null(after);
    assert_memory_equal(before, after, (size_t)size); /* nothing lost */
    free(before);
    free(after);
}

static int
setup(void **state)
{
    static env e;
    snprintf(e.dir, sizeof e.dir, "/tmp/fr-bad-XXXXXX");
    if (!mkdtemp(e.dir))
        return -1;
    snprintf(e.endpoint, sizeof e.endpoint, "tcp://127.0.0.1:%d",
             proc_free_port());
    snprintf(e.conf, sizeof e.conf, "%s/agg.conf", e.dir);
    snprintf(e.log, sizeof e.log, "%s/agg.log", e.dir);
    snprintf(e.log2, sizeof e.log2, "%s/agg2.log", e.dir);
    for (int i = 0; i < 2; i++)
        snprintf(e.client_log[i], sizeof e.client_log[i], "%s/c%d.log", e.dir,
                 i);
    setup_files(&e);
    *state = &e;
    return 0;
}

static int
teardown(void **state)
{
    env *e = *state;
    char cmd[128];
    if (getenv("FR_KEEP_TEST_DIR"))
        return 0;
    snprintf(cmd, sizeof cmd, "rm -rf %s", e->dir);
    return proc_run(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_daemon_survives_bad_messages),
        cmocka_unit_test(test_damaged_checkpoint_refused),
    };
    signal(SIGPIPE, SIG_IGN);
    if (fr_crypto_init() != FR_OK)
        return 1;
    return cmocka_run_group_tests(tests, setup, teardown);
}
