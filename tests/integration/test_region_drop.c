/*
 * test_region_drop.c - a regional aggregator dies in the middle of a
 * central round and comes back (docs/OPERATIONS.md "Running regions").
 *
 * Four regions of three simulated stores each; the central needs three
 * participants (min_stores 3: with the full graph of four, SecAgg+
 * survives one dropping out; with three it survives none). The stores
 * take 2.5 s to "train", so a region's sum goes up well after its round
 * keys. In round 1 region 4's aggregator is SIGKILLed once it has sent the
 * central its keys: the central's round must still complete with the
 * three other regions (the dead region's mask key is rebuilt from the
 * others' shares) and covers their nine stores. The region is then
 * started again, with nothing else restarted: it reconnects to the
 * central, its stores reconnect to it, and it takes part in a later round
 * that completes. `fedrec-ctl regions` lists the four regions on the
 * central, and a region's link to the central on the region.
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
#include "regions.h"

#define SIM_ARGS "--train_ms=2500 --examples=10"
#define VICTIM 3

static fed f;

static int
teardown(void **state)
{
    (void)state;
    fed_kill_all(&f);
    fed_remove(&f);
    return 0;
}

/* Waits for "round N completed" in the central's log; its line in out. */
static void
wait_round(int n, char *out, size_t len)
{
    char needle[64];

    snprintf(needle, sizeof needle, "round %d completed", n);
    assert_true(proc_wait_for(f.log, needle, 1, 60000));
    assert_true(proc_find_line(f.log, needle, 1, out, len));
}

/* Runs fedrec-ctl against conf; its output in a malloc'd string. */
static char *
ctl(const char *conf, const char *args)
{
    char out[160];

    snprintf(out, sizeof out, "%s/ctl.out", f.dir);
    assert_int_equal(proc_runf(FR_BIN_DIR "/fedrec-ctl --config %s %s >%s "
                               "2>&1", conf, args, out), 0);
    return proc_read_file(out);
}

/* The central lists its four regions with their stores; a region shows
 * its link to the central. */
static void
check_ctl_regions(void)
{
    char *t = ctl(f.conf, "--json regions"), need[64];

    assert_non_null(t);
    for (int i = 0; i < 4; i++) {
        snprintf(need, sizeof need, "{\"name\":\"region%d\"", i + 1);
        assert_non_null(strstr(t, need));
    }
    assert_non_null(strstr(t, "\"stores\":3,"));
    assert_non_null(strstr(t, "\"last_covered\":3,"));
    assert_non_null(strstr(t, "\"upstream\":null"));
    free(t);
    t = ctl(f.conf, "regions");
    assert_non_null(t);
    assert_non_null(strstr(t, "REGION"));
    assert_non_null(strstr(t, "region4"));
    free(t);
    t = ctl(f.r[0].conf, "--json regions");
    assert_non_null(t);
    assert_non_null(strstr(t, "\"upstream\":{\"link\":\"up\",\"up\":true"));
    free(t);
}

static void
test_region_dies_and_rejoins(void **state)
{
    char line[1024], log2[128];
    fed_region *v;
    (void)state;

    assert_int_equal(fed_init(&f, "region-drop", 4), 0);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(fed_region_sim(&f, i, 1 + 3 * i, 3), 0);
        assert_int_equal(fed_write_region(&f, i, ""), 0);
    }
    assert_int_equal(fed_write_central(&f, 40, 4, "start_delay_ms 3000\n"),
                     0);
    assert_int_equal(fed_start_central(&f), 0);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(fed_start_region(&f, i), 0);
        assert_int_equal(fed_start_stores(&f, i, SIM_ARGS), 0);
    }
    v = &f.r[VICTIM];

    /* Round 1 starts with all four regions, twelve stores; region 4 is
     * killed once its keys are at the central (its stores are still
     * training). */
    assert_true(proc_wait_for(v->log, "round keys sent to the central", 1,
                              30000));
    kill(v->agg, SIGKILL);
    proc_wait(v->agg, 10000);
    v->agg = 0;
    assert_true(proc_count(f.log, "4 participants cover 12 stores") >= 1);
    assert_true(proc_count(f.log, "round id 1 started securely: 4 stores") ==
                1);
    assert_int_equal(proc_count(v->log, "masked and sent to the central"), 0);
    wait_round(1, line, sizeof line);
    assert_non_null(strstr(line, "(id 1,")); /* not a retry */
    assert_non_null(strstr(line, "3/4 stores"));
    assert_true(proc_count(f.log, "dropped in the") >= 1);
    assert_true(proc_wait_for(f.r[0].log,
                              "completed at the central with 9 stores", 1,
                              10000));

    /* Back, with nothing else restarted: it rejoins and takes part in a
     * later round that completes. */
    snprintf(log2, sizeof log2, "%s/regional-restarted.log", v->dir);
    snprintf(v->log, sizeof v->log, "%s", log2);
    assert_int_equal(fed_start_region(&f, VICTIM), 0);
    assert_true(proc_wait_for(log2, "connected to the central", 1, 20000));
    assert_true(proc_wait_for(log2, "forwarded to this region's stores", 1,
                              60000));
    assert_true(proc_count(log2, "went to the central") >= 1);
    assert_true(proc_count(log2, "completed at the central with") >= 1);
    check_ctl_regions();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_region_dies_and_rejoins, teardown),
    };
    signal(SIGPIPE, SIG_IGN);
    if (fr_crypto_init() != FR_OK)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
