/*
 * test_end.c - one-shot runs and the round's catalogue, with the real
 * fedrec-aggregator and fedrec-client processes on loopback (plain
 * rounds, secagg no, for speed).
 *
 * (a) An aggregator with `rounds 2` and four stores: three run with
 *     --until-done and exit 0 once the last round says training is done;
 *     one runs with --rounds 1 and exits 0 after its first completed
 *     round, while the aggregator goes on without it. A store started
 *     after the end, with --until-done, hears DONE in answer to its HELLO
 *     and exits 0 as well; then the aggregator exits 0 after linger_ms.
 * (b) An aggregator with a catalogue, and two stores with another one:
 *     the store with catalogue_fetch no refuses every round, its log naming
 *     both ids and counts, and its file stays as it was; the store with
 *     fetch on gets the aggregator's file (byte for byte), saves it, and
 *     trains. An aggregator whose n_items is not the catalogue's count is
 *     refused at --check-config.
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
#include "crypto/prim.h"
#include "proc.h"

#define ITEMS 60
#define MAXS 5

typedef struct rig {
    char dir[64], endpoint[64], conf[128], agg_log[128];
    char log[MAXS][128];
    pid_t agg, store[MAXS];
} rig;

static rig r;

static int
stop_all(void **state)
{
    (void)state;
    for (int i = 0; i < MAXS; i++)
        if (r.store[i] > 0)
            proc_stop(r.store[i], SIGKILL, 5000);
    if (r.agg > 0)
        proc_stop(r.agg, SIGKILL, 5000);
    memset(r.store, 0, sizeof r.store);
    r.agg = 0;
    if (*r.dir)
        proc_runf("rm -rf %s", r.dir);
    *r.dir = 0;
    return 0;
}

static void
setup_rig(const char *name, int n_stores)
{
    snprintf(r.dir, sizeof r.dir, "/tmp/fr-%s-XXXXXX", name);
    assert_non_null(mkdtemp(r.dir));
    snprintf(r.endpoint, sizeof r.endpoint, "tcp://127.0.0.1:%d",
             proc_free_port());
    snprintf(r.conf, sizeof r.conf, "%s/aggregator.conf", r.dir);
    snprintf(r.agg_log, sizeof r.agg_log, "%s/aggregator.log", r.dir);
    for (int i = 0; i < MAXS; i++)
        snprintf(r.log[i], sizeof r.log[i], "%s/store%02d-%d.log", r.dir,
                 i + 1, 0);
    assert_int_equal(proc_make_stores(FR_BIN_DIR, r.dir, n_stores, ITEMS, 40,
                                      11, r.endpoint),
                     0);
}

static void
write_config(const char *extra)
{
    FILE *c = fopen(r.conf, "w");

    assert_non_null(c);
    fprintf(c,
            "listen %s\nkey_file %s/keys/aggregator.key\n"
            "allowlist %s/allowlist\nstate_dir %s/agg\n"
            "http_listen 127.0.0.1:0\nlog_format human\n"
            "n_items %d\ndim 8\nsecagg no\nstart_delay_ms 1000\n"
            "heartbeat_timeout_ms 1500\nretry_delay_ms 300\n"
            "local_epochs 1\n%s",
            r.endpoint, r.dir, r.dir, r.dir, ITEMS, extra);
    fclose(c);
}

static pid_t
start_aggregator(void)
{
    char *argv[] = {FR_BIN_DIR "/fedrec-aggregator", "--config", r.conf,
                    NULL};
    return proc_start(argv, r.agg_log);
}

/* Store i (0-based) with up to two extra arguments. */
static pid_t
start_store(int i, const char *log, const char *a1, const char *a2)
{
    char store[160];
    char *argv[8] = {FR_BIN_DIR "/fedrec-client", "run", store,
                     "--heartbeat_ms=200"};
    int n = 4;

    snprintf(store, sizeof store, "--store=%s/st-store%02d", r.dir, i + 1);
    if (a1)
        argv[n++] = (char *)a1;
    if (a2)
        argv[n++] = (char *)a2;
    argv[n] = NULL;
    return proc_start(argv, log);
}

static void
expect_exit0(pid_t *pid, int timeout_ms)
{
    int status = proc_wait(*pid, timeout_ms);

    assert_true(status != -1);
    *pid = 0;
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void
test_until_done(void **state)
{
    char late[160];
    (void)state;

    setup_rig("end", 4);
    write_config("rounds 2\nmin_stores 3\nround_timeout_ms 20000\n"
                 "linger_ms 8000\nstart_delay_ms 3000\n");
    r.agg = start_aggregator();
    for (int i = 0; i < 3; i++)
        r.store[i] = start_store(i, r.log[i], "--until-done", NULL);
    r.store[3] = start_store(3, r.log[3], "--rounds", "1");

    /* The one-round store leaves after round 1; the others see it out. */
    expect_exit0(&r.store[3], 60000);
    assert_int_equal(proc_count(r.log[3], "update sent"), 1);
    assert_int_equal(proc_count(r.log[3], "took part in 1 completed round"),
                     1);
    /* (Whether round 2 has completed by now is a race under load: the
     * other three stores need not wait for this one to exit.) */
    for (int i = 0; i < 3; i++)
        expect_exit0(&r.store[i], 60000);
    assert_int_equal(proc_count(r.agg_log, "round 2 completed"), 1);
    for (int i = 0; i < 3; i++) {
        /* A store busy refitting when round 2 started may have missed it
         * and heard of the end from DONE instead. */
        assert_true(proc_count(r.log[i], "update sent") >= 1);
        assert_int_equal(proc_count(r.log[i], "announced the end of "
                                              "training"),
                         1);
        /* The refit to the last model was saved before the exit. */
        assert_true(proc_count(r.log[i], "members refit") >= 2);
    }

    /* A store that comes after the end learns it from DONE. */
    snprintf(late, sizeof late, "%s/store04-late.log", r.dir);
    r.store[3] = start_store(3, late, "--until-done", NULL);
    expect_exit0(&r.store[3], 8000);
    assert_int_equal(proc_count(late, "end of training (done) after 2 "
                                      "rounds"),
                     1);
    assert_int_equal(proc_count(late, "update sent"), 0);

    expect_exit0(&r.agg, 20000);
    assert_int_equal(proc_count(r.agg_log, "round 3 completed"), 0);
}

/* Writes a catalogue of ITEMS SKUs "0".."ITEMS-1" (the legacy integer ids
 * as text), reversed if asked. */
static void
write_catalogue(const char *path, int reversed)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fprintf(f, "fedrec-catalogue 1\n");
    for (int i = 0; i < ITEMS; i++)
        fprintf(f, "%d\n", reversed ? ITEMS - 1 - i : i);
    fclose(f);
}

/* The first 16 hex digits of a file's BLAKE2b-256: the catalogue id of a
 * file written in canonical form (LF line ends). */
static void
id16(const char *path, char out[17])
{
    char *text = proc_read_file(path);
    fr_crypto_hash_state st;
    uint8_t h[32];
    char hex[65];

    assert_non_null(text);
    fr_crypto_hash_init(&st, sizeof h);
    fr_crypto_hash_update(&st, text, strlen(text));
    fr_crypto_hash_final(&st, h, sizeof h);
    fr_crypto_bin2hex(hex, h, sizeof h);
    snprintf(out, 17, "%.16s", hex);
    free(text);
}

static void
test_catalogue(void **state)
{
    char agg_cat[128], own[2][128], line[1024], extra[256], want[160];
    char agg_id[17], own_id[17];
    (void)state;

    setup_rig("cat", 2);
    snprintf(agg_cat, sizeof agg_cat, "%s/agg-catalogue", r.dir);
    write_catalogue(agg_cat, 0);
    for (int i = 0; i < 2; i++) {
        snprintf(own[i], sizeof own[i], "%s/st-store%02d/catalogue", r.dir,
                 i + 1);
        write_catalogue(own[i], 1);
    }
    id16(agg_cat, agg_id);
    id16(own[0], own_id);

    /* The model is the catalogue's head: n_items at most its count. */
    write_config("n_items 70\n");
    assert_int_equal(proc_runf("echo 'catalogue %s' >> %s", agg_cat, r.conf),
                     0);
    assert_int_equal(proc_runf(FR_BIN_DIR "/fedrec-aggregator --config %s "
                               "--check-config > %s/check.log 2>&1",
                               r.conf, r.dir),
                     2);
    snprintf(line, sizeof line, "%s/check.log", r.dir);
    assert_int_equal(proc_count(line, "lists 60 items, fewer than n_items 70"), 1);

    snprintf(extra, sizeof extra,
             "rounds 2\nmin_stores 1\nround_timeout_ms 4000\n"
             "linger_ms 1000\ncatalogue %s\n", agg_cat);
    write_config(extra);
    r.agg = start_aggregator();
    r.store[0] = start_store(0, r.log[0], "--catalogue_fetch=no", NULL);
    r.store[1] = start_store(1, r.log[1], "--until-done", NULL);

    expect_exit0(&r.store[1], 60000);
    snprintf(want, sizeof want, "60 items, id %s", agg_id);
    assert_int_equal(proc_count(r.agg_log, want), 1);
    assert_int_equal(proc_count(r.log[1], "fetched from the aggregator"), 1);
    assert_int_equal(proc_count(r.log[1], "update sent"), 2);
    assert_int_equal(proc_runf("cmp -s %s %s", agg_cat, own[1]), 0);

    assert_true(proc_wait_for(r.log[0], "is not this store's", 2, 10000));
    assert_true(proc_find_line(r.log[0], "is not this store's", 1, line,
                               sizeof line));
    snprintf(want, sizeof want, "the aggregator's catalogue %s (60 items) "
             "is not this store's %s (60 items)", agg_id, own_id);
    assert_non_null(strstr(line, want));
    assert_non_null(strstr(line, "not training; fetch it or set "
                                 "catalogue_fetch yes"));
    assert_int_equal(proc_count(r.log[0], "update sent"), 0);
    assert_int_equal(proc_count(r.log[0], "fetched from the aggregator"), 0);
    assert_int_not_equal(proc_runf("cmp -s %s %s", agg_cat, own[0]), 0);
    expect_exit0(&r.agg, 30000);
    proc_stop(r.store[0], SIGTERM, 10000);
    r.store[0] = 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_until_done, stop_all),
        cmocka_unit_test_teardown(test_catalogue, stop_all),
    };
    signal(SIGPIPE, SIG_IGN);
    if (fr_crypto_init() != FR_OK)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
