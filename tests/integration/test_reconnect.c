/*
 * test_reconnect.c - `fedrec-client run` as an unattended service: the real
 * fedrec-aggregator and five real fedrec-client processes on loopback,
 * secure aggregation on (the default), min_stores 4.
 *
 * (a) Four stores start before the aggregator: each says the aggregator is
 *     unreachable, and once it starts, rounds complete with all four.
 * (b) The aggregator is SIGKILLed and started again 3 s later: the same
 *     store processes (no restart) take part in its next completed round.
 * (c) A fifth store whose key is not on the allow-list starts: it logs the
 *     refused handshake once, not once per retry. The operator appends its
 *     allow-list line and sends SIGHUP: the same process joins by itself
 *     (libzmq does not retry a refused handshake; the client rebuilds its
 *     socket) and a round completes with five stores.
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

#include "crypto/crypto.h"
#include "proc.h"

#define ITEMS 300
#define NSTORES 5
#define LATE 4 /* the store that is not listed at first */

typedef struct rig {
    char dir[64];
    char endpoint[64];
    char conf[128];
    char agg_log[128], agg_log2[128];
    char store_log[NSTORES][128];
    pid_t agg, store[NSTORES];
} rig;

static rig r; /* file scope so the teardown can stop what a failure left */

static const char *const names[NSTORES] = {"store01", "store02", "store03",
                                           "store04", "store05"};

/* Keys, data and protected stores. The late store's allow-list line goes
 * to DIR/pending until the operator adds it. */
static void
setup_stores(void)
{
    char cmd[2048];

    snprintf(cmd, sizeof cmd,
             FR_BIN_DIR "/fedrec-keygen --name aggregator --dir %s/keys "
             ">/dev/null 2>&1 && "
             FR_BIN_DIR "/fedrec-datagen --stores 4 --seed 5 --members 60 "
             "--items %d --out %s/data >/dev/null",
             r.dir, ITEMS, r.dir);
    assert_int_equal(proc_run(cmd), 0);
    for (int i = 0; i < NSTORES; i++) {
        snprintf(cmd, sizeof cmd,
                 "set -e; B=" FR_BIN_DIR "; S=%s/st-%s; CSV=%s/data/"
                 "store-0%d.csv;"
                 "$B/fedrec-client init --store $S --name %s --n_items %d "
                 "--connect %s --server_key %s/keys/aggregator.pub "
                 ">>%s/%s 2>/dev/null;"
                 "$B/fedrec-client import --store $S $CSV >/dev/null;"
                 "awk -F, 'NR > 1 && !seen[$1]++ { print $1 \",training,"
                 "grant\" }' $CSV > %s/consent-%d.csv;"
                 "$B/fedrec-client consent import --store $S "
                 "%s/consent-%d.csv >/dev/null",
                 r.dir, names[i], r.dir, i == LATE ? 1 : i + 1, names[i],
                 ITEMS, r.endpoint, r.dir, r.dir,
                 i == LATE ? "pending" : "allowlist", r.dir, i, r.dir, i);
        assert_int_equal(proc_run(cmd), 0);
    }
}

static void
write_config(void)
{
    FILE *c = fopen(r.conf, "w");

    assert_non_null(c);
    fprintf(c,
            "listen %s\nkey_file %s/keys/aggregator.key\n"
            "allowlist %s/allowlist\nstate_dir %s/agg\n"
            "http_listen 127.0.0.1:0\nlog_format human\n"
            "n_items %d\ndim 8\nmin_stores 4\nstart_delay_ms 500\n"
            "heartbeat_timeout_ms 3000\nround_timeout_ms 30000\n"
            "retry_delay_ms 300\nlocal_epochs 1\n",
            r.endpoint, r.dir, r.dir, r.dir, ITEMS);
    fclose(c);
}

static pid_t
start_aggregator(const char *log)
{
    char *argv[] = {FR_BIN_DIR "/fedrec-aggregator", "--config", r.conf,
                    NULL};
    return proc_start(argv, log);
}

static pid_t
start_store(int i)
{
    char store[160];
    char *argv[] = {FR_BIN_DIR "/fedrec-client", "run", store,
                    "--heartbeat_ms=200", "--reconnect_max_ms=4000", NULL};

    snprintf(store, sizeof store, "--store=%s/st-%s", r.dir, names[i]);
    return proc_start(argv, r.store_log[i]);
}

static int
alive(pid_t pid)
{
    return pid > 0 && waitpid(pid, NULL, WNOHANG) == 0;
}

static int
stop_all(void **state)
{
    (void)state;
    for (int i = 0; i < NSTORES; i++)
        if (r.store[i] > 0)
            proc_stop(r.store[i], SIGKILL, 5000);
    if (r.agg > 0)
        proc_stop(r.agg, SIGKILL, 5000);
    return 0;
}

static void
setup_rig(void)
{
    snprintf(r.dir, sizeof r.dir, "/tmp/fr-reconnect-XXXXXX");
    assert_non_null(mkdtemp(r.dir));
    snprintf(r.endpoint, sizeof r.endpoint, "tcp://127.0.0.1:%d",
             proc_free_port());
    snprintf(r.conf, sizeof r.conf, "%s/aggregator.conf", r.dir);
    snprintf(r.agg_log, sizeof r.agg_log, "%s/aggregator.log", r.dir);
    snprintf(r.agg_log2, sizeof r.agg_log2, "%s/aggregator-2.log", r.dir);
    for (int i = 0; i < NSTORES; i++)
        snprintf(r.store_log[i], sizeof r.store_log[i], "%s/%s.log", r.dir,
                 names[i]);
    setup_stores();
    write_config();
}

static void
test_reconnect(void **state)
{
    char line[1024], cmd[512];
    (void)state;

    setup_rig();

    /* (a) The stores come first and find nobody. */
    for (int i = 0; i < LATE; i++)
        r.store[i] = start_store(i);
    for (int i = 0; i < LATE; i++)
        assert_true(proc_wait_for(r.store_log[i], "aggregator unreachable",
                                  1, 20000));
    r.agg = start_aggregator(r.agg_log);
    assert_true(proc_wait_for(r.agg_log, "round 1 completed", 1, 40000));
    assert_true(proc_find_line(r.agg_log, "round 1 completed", 1, line,
                               sizeof line));
    assert_non_null(strstr(line, "4/4 stores"));
    for (int i = 0; i < LATE; i++) {
        assert_true(proc_wait_for(r.store_log[i],
                                  "connected to the aggregator", 1, 5000));
        /* Unreachable was said once, not once per retry. */
        assert_int_equal(proc_count(r.store_log[i], "aggregator unreachable"),
                         1);
    }

    /* (b) The aggregator crashes and comes back 3 s later. */
    kill(r.agg, SIGKILL);
    proc_wait(r.agg, 10000);
    r.agg = 0;
    for (int i = 0; i < LATE; i++)
        assert_true(proc_wait_for(r.store_log[i], "aggregator unreachable",
                                  2, 10000));
    sleep(3);
    r.agg = start_aggregator(r.agg_log2);
    assert_true(proc_wait_for(r.agg_log2, "4/4 stores", 1, 40000));
    for (int i = 0; i < LATE; i++) {
        assert_true(alive(r.store[i]));
        assert_int_equal(proc_count(r.store_log[i], "store client running"),
                         1);
        assert_true(proc_count(r.store_log[i],
                               "connected to the aggregator") >= 2);
    }

    /* (c) A store the aggregator does not know yet. */
    r.store[LATE] = start_store(LATE);
    assert_true(proc_wait_for(r.store_log[LATE],
                              "handshake refused by the aggregator", 1,
                              20000));
    sleep(4); /* rebuilt at least twice meanwhile, refused each time */
    assert_int_equal(proc_count(r.store_log[LATE],
                                "handshake refused by the aggregator"), 1);
    assert_int_equal(proc_count(r.store_log[LATE], "update sent"), 0);
    assert_int_equal(proc_count(r.agg_log2, "5/5 stores"), 0);
    snprintf(cmd, sizeof cmd, "cat %s/pending >> %s/allowlist", r.dir, r.dir);
    assert_int_equal(proc_run(cmd), 0);
    kill(r.agg, SIGHUP);
    assert_true(proc_wait_for(r.agg_log2, "allow-list reloaded", 1, 10000));
    assert_true(proc_wait_for(r.store_log[LATE],
                              "connected to the aggregator", 1, 20000));
    assert_true(proc_wait_for(r.agg_log2, "5/5 stores", 1, 60000));
    assert_true(proc_wait_for(r.store_log[LATE], "masked update sent", 1,
                              10000));
    assert_true(alive(r.store[LATE]));
    assert_int_equal(proc_count(r.store_log[LATE], "store client running"),
                     1);

    stop_all(NULL);
    memset(r.store, 0, sizeof r.store);
    r.agg = 0;
    snprintf(cmd, sizeof cmd, "rm -rf %s", r.dir);
    proc_run(cmd);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_reconnect, stop_all),
    };
    signal(SIGPIPE, SIG_IGN);
    if (fr_crypto_init() != FR_OK)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
