/*
 * test_rotation.c - a store's keys rotated while the federation runs, the
 * old key refused afterwards, and a graceful stop of the aggregator.
 *
 * Five protected stores, min_stores 4, rounds without end. The procedure
 * is the one docs/OPERATIONS.md gives operators:
 *   1. the store makes new keys (fedrec-keygen into a new directory);
 *   2. the operator appends the new allow-list line for the same store
 *      name and reloads the aggregator (SIGHUP);
 *   3. the store puts the new key files in place and restarts its client;
 *   4. the operator deletes the old line and reloads.
 * The aggregator process is never restarted: rounds go on with the other
 * four stores while store05 switches, store05 then takes part with its new
 * key, and a client still holding the old key (a stolen terminal) is
 * refused at the handshake, logged by fingerprint. Finally SIGTERM stops
 * the aggregator cleanly: exit 0, the checkpoint written on the way out,
 * and every completed round in it exactly once.
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

#include "checkpoint.h"
#include "crypto/crypto.h"
#include "proc.h"

#define ITEMS   300
#define NSTORES 5
#define ROTATED 4 /* store05 */

typedef struct fed {
    char dir[64];
    char endpoint[64];
    char conf[128];
    char agg_log[128];
    char client_log[NSTORES + 1][128]; /* the last one: the stolen copy */
    pid_t agg, client[NSTORES + 1];
} fed;

static fed f; /* file scope so the teardown can stop what a failure left */

static void
write_config(void)
{
    FILE *c = fopen(f.conf, "w");

    assert_non_null(c);
    fprintf(c,
            "listen %s\nkey_file %s/keys/aggregator.key\n"
            "allowlist %s/allowlist\nstate_dir %s/agg\n"
            "http_listen 127.0.0.1:0\nlog_format json\n"
            "n_items %d\ndim 8\nrounds 0\nmin_stores 4\n"
            "start_delay_ms 1000\nheartbeat_timeout_ms 2000\n"
            "retry_delay_ms 300\nround_timeout_ms 60000\n"
            "secagg_phase_timeout_ms 3000\nlocal_epochs 1\n"
            "stop_grace_ms 20000\n",
            f.endpoint, f.dir, f.dir, f.dir, ITEMS);
    fclose(c);
}

/* keys_dir non-NULL: use NAME's keys from there instead of the ones the
 * store's configuration names. */
static pid_t
start_client(const char *store_dir, const char *keys_dir, const char *log)
{
    char store[160], key[256], sign[256];
    char *argv[] = {
        FR_BIN_DIR "/fedrec-client", "run", store, "--heartbeat_ms=200",
        keys_dir ? key : NULL,       sign,  NULL};

    snprintf(store, sizeof store, "--store=%s", store_dir);
    if (keys_dir) {
        snprintf(key, sizeof key, "--key_file=%s/store05.key", keys_dir);
        snprintf(sign, sizeof sign, "--sign_key_file=%s/store05.sign.key",
                 keys_dir);
    }
    return proc_start(argv, log);
}

/* The number of the last "round N completed" line in the aggregator log. */
static int
rounds_so_far(void)
{
    char needle[64];
    int n = 0;

    for (;;) {
        snprintf(needle, sizeof needle, "\"round %d completed", n + 1);
        if (proc_count(f.agg_log, needle) == 0)
            return n;
        n++;
    }
}

/* Waits for round n and returns its log line in out. */
static void
wait_round(int n, char *out, size_t len)
{
    char needle[64];

    snprintf(needle, sizeof needle, "\"round %d completed", n);
    assert_true(proc_wait_for(f.agg_log, needle, 1, 90000));
    assert_true(proc_find_line(f.agg_log, needle, 1, out, len));
}

/* Drops the first allow-list line that names store and keeps the rest. */
static void
remove_first_line_of(const char *store)
{
    char p[160], *text, *line, *end;
    size_t n = strlen(store);
    FILE *out;
    int removed = 0;

    snprintf(p, sizeof p, "%s/allowlist", f.dir);
    text = proc_read_file(p);
    assert_non_null(text);
    out = fopen(p, "w");
    assert_non_null(out);
    for (line = text; *line; line = end) {
        end = strchr(line, '\n');
        end = end ? end + 1 : line + strlen(line);
        if (!removed && strncmp(line, store, n) == 0 && line[n] == ' ') {
            removed = 1;
            continue;
        }
        fwrite(line, 1, (size_t)(end - line), out);
    }
    fclose(out);
    free(text);
    assert_true(removed);
}

static int
stop_all(void **state)
{
    (void)state;
    for (int i = 0; i <= NSTORES; i++)
        if (f.client[i] > 0)
            proc_stop(f.client[i], SIGKILL, 5000);
    if (f.agg > 0)
        proc_stop(f.agg, SIGKILL, 5000);
    return 0;
}

static void
test_rotation(void **state)
{
    char line[2048], p[160], fpr[FR_CRYPTO_FPR_CHARS + 1];
    char st[128], stolen[128];
    uint8_t pk[FR_CRYPTO_PK_BYTES];
    checkpoint ck = {0};
    int status, n, before_switch;
    (void)state;

    snprintf(f.dir, sizeof f.dir, "/tmp/fr-rot-XXXXXX");
    assert_non_null(mkdtemp(f.dir));
    snprintf(f.endpoint, sizeof f.endpoint, "tcp://127.0.0.1:%d",
             proc_free_port());
    snprintf(f.conf, sizeof f.conf, "%s/aggregator.conf", f.dir);
    snprintf(f.agg_log, sizeof f.agg_log, "%s/aggregator.log", f.dir);
    for (int i = 0; i <= NSTORES; i++)
        snprintf(f.client_log[i], sizeof f.client_log[i], "%s/client%d.log",
                 f.dir, i + 1);
    snprintf(st, sizeof st, "%s/st-store0%d", f.dir, ROTATED + 1);
    snprintf(stolen, sizeof stolen, "%s/st-stolen", f.dir);
    assert_int_equal(proc_make_stores(FR_BIN_DIR, f.dir, NSTORES, ITEMS, 120,
                                      21, f.endpoint),
                     0);
    write_config();
    /* The stolen terminal is a copy of store05 with its old keys, taken
     * while nothing writes to it (its store.conf names the original's key
     * files, so the thief's client is pointed at the copies). */
    assert_int_equal(proc_runf("cp -a %s %s", st, stolen), 0);

    for (int i = 0; i < NSTORES; i++) {
        char dir[128];
        snprintf(dir, sizeof dir, "%s/st-store0%d", f.dir, i + 1);
        f.client[i] = start_client(dir, NULL, f.client_log[i]);
    }
    f.agg = proc_start(
        (char *[]){FR_BIN_DIR "/fedrec-aggregator", "--config", f.conf, NULL},
        f.agg_log);
    wait_round(2, line, sizeof line);
    assert_non_null(strstr(line, "5/5 stores"));
    /* JSON log lines by default, with the round's fields */
    assert_true(strncmp(line, "{\"ts\":\"", 7) == 0);
    assert_non_null(strstr(line, "\"event\":\"round_completed\""));
    assert_non_null(strstr(line, "\"round\":2,"));

    /* 1-2: new keys, a second line for store05, reload. */
    assert_int_equal(proc_runf(FR_BIN_DIR
                               "/fedrec-keygen --name store05 "
                               "--dir %s/newkeys >>%s/allowlist 2>/dev/null",
                               f.dir, f.dir),
                     0);
    assert_int_equal(kill(f.agg, SIGHUP), 0);
    assert_true(proc_wait_for(f.agg_log, "allow-list reloaded", 1, 10000));

    /* 3: the store switches keys: stop, new key files in place, start. */
    status = proc_stop(f.client[ROTATED], SIGTERM, 20000);
    f.client[ROTATED] = 0;
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    before_switch = rounds_so_far();
    /* The others carry on without it: a round with four stores (the one
     * in progress when it stopped may still count it). */
    for (int r = before_switch + 1;; r++) {
        assert_true(r < before_switch + 4);
        wait_round(r, line, sizeof line);
        if (strstr(line, " 4/"))
            break;
    }
    assert_int_equal(proc_runf("cp %s/newkeys/store05.key "
                               "%s/newkeys/store05.pub "
                               "%s/newkeys/store05.sign.key "
                               "%s/newkeys/store05.sign.pub %s/keys/",
                               f.dir, f.dir, f.dir, f.dir, st),
                     0);
    f.client[ROTATED] = start_client(st, NULL, f.client_log[ROTATED]);

    /* store05 takes part again, with its new key. */
    n = rounds_so_far();
    for (int r = n + 1;; r++) {
        assert_true(r < n + 15);
        wait_round(r, line, sizeof line);
        if (strstr(line, "5/5 stores"))
            break;
    }

    /* 4: the old line goes; reload. */
    remove_first_line_of("store05");
    assert_int_equal(kill(f.agg, SIGHUP), 0);
    assert_true(proc_wait_for(f.agg_log, "allow-list reloaded", 2, 10000));

    /* The stolen copy with the old key is refused at the handshake and
     * logged by its key's fingerprint; the new key still counts. */
    snprintf(p, sizeof p, "%s/keys/store05.pub", stolen);
    assert_int_equal(fr_crypto_public_load(p, pk), FR_OK);
    fr_crypto_fingerprint(pk, fpr);
    snprintf(p, sizeof p, "%s/keys", stolen);
    f.client[NSTORES] = start_client(stolen, p, f.client_log[NSTORES]);
    assert_true(proc_wait_for(f.agg_log, fpr, 1, 20000));
    n = rounds_so_far();
    wait_round(n + 1, line, sizeof line);
    assert_non_null(strstr(line, "5/5 stores"));
    assert_int_equal(proc_count(f.client_log[NSTORES], "update sent"), 0);

    /* Graceful stop: exit 0, the checkpoint written, no round lost. */
    status = proc_stop(f.agg, SIGTERM, 30000);
    f.agg = 0;
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_true(proc_count(f.agg_log, "checkpoint written on the way out") ==
                1);
    snprintf(p, sizeof p, "%s/agg/checkpoint.bin", f.dir);
    assert_int_equal(checkpoint_load(p, &ck), FR_OK);
    n = rounds_so_far();
    assert_int_equal(ck.completed_rounds, (uint64_t)n);
    assert_int_equal(ck.n_history, (size_t)n);
    for (int r = 0; r < n; r++)
        assert_int_equal(ck.history[r].round, (uint64_t)r + 1);
    checkpoint_clear(&ck);
    /* The aggregator ran throughout: one process, one start. */
    assert_int_equal(proc_count(f.agg_log, "\"event\":\"listening\""), 1);

    stop_all(NULL);
    memset(f.client, 0, sizeof f.client);
    snprintf(line, sizeof line, "rm -rf %s", f.dir);
    proc_run(line);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_rotation, stop_all),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
