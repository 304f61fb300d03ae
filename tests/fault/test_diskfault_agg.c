/*
 * test_diskfault_agg.c - the real fedrec-aggregator on a disk that fails
 * (tests/fault/diskfault.c preloaded, switched on and off through a control
 * file) while four real stores train.
 *
 * Part 1, plain rounds: with writes under the state directory failing
 * (ENOSPC, EIO, short writes, then EIO from fsync), rounds go on completing, /healthz
 * answers, checkpoint.bin and history.tsv stay byte for byte what they were
 * before the fault (and load with the real reader), the failure is logged
 * once per file and counted in fedrec_disk_write_errors_total{file=...};
 * once the disk is back the next save succeeds, the recovery is logged and
 * the counter stops rising.
 * Part 2, secure rounds with member-level DP: with the privacy ledger's
 * appends failing no round starts (nothing is charged), the ledger stays
 * whole and opens with the real reader; once the disk is back rounds are
 * charged and complete again.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/util.h"
#include "checkpoint.h"
#include "dp/accountant.h"
#include "dp/ledger.h"
#include "proc.h"

#define NSTORES 4
#define ITEMS 200
#define WAIT_MS 60000 /* bound on one expected event (ASan is slower) */

static char dir[64], endpoint[64], ctl[128], hits[128];
static pid_t agg, client[NSTORES];

static const char *const kinds[] = {"enospc", "eio", "short", "fsync"};
#define NKINDS 4

static int
stop_agg(void **state)
{
    (void)state;
    if (agg > 0)
        proc_stop(agg, SIGKILL, 5000);
    agg = 0;
    unlink(ctl); /* a failed part leaves the disk good for the next */
    return 0;
}

static int
stop_all(void **state)
{
    (void)state;
    for (int i = 0; i < NSTORES; i++)
        if (client[i] > 0)
            proc_stop(client[i], SIGKILL, 5000);
    if (agg > 0)
        proc_stop(agg, SIGKILL, 5000);
    agg = 0;
    memset(client, 0, sizeof client);
    return 0;
}

static void
pathf(char *out, size_t n, const char *rel)
{
    snprintf(out, n, "%s/%s", dir, rel);
}

/* Starts the aggregator on config name with the shim preloaded; faults
 * hit files under dir/state while dir/disk-off exists. */
static pid_t
start_aggregator(const char *conf, const char *log, const char *state)
{
    char prefix[128], asan[512];
    const char *old = getenv("ASAN_OPTIONS");
    pid_t pid;

    snprintf(prefix, sizeof prefix, "%s/%s/", dir, state);
    snprintf(asan, sizeof asan, "%s%sverify_asan_link_order=0",
             old ? old : "", old && *old ? ":" : "");
    setenv("LD_PRELOAD", FR_DISKFAULT_LIB, 1);
    setenv("ASAN_OPTIONS", asan, 1);
    setenv("FR_DISKFAULT", "enospc", 1);
    setenv("FR_DISKFAULT_PREFIX", prefix, 1);
    setenv("FR_DISKFAULT_CONTROL", ctl, 1);
    setenv("FR_DISKFAULT_HITS", hits, 1);
    pid = proc_start((char *[]){FR_BIN_DIR "/fedrec-aggregator", "--config",
                                (char *)conf, "--log_format=human", NULL},
                     log);
    unsetenv("LD_PRELOAD");
    unsetenv("FR_DISKFAULT");
    unsetenv("FR_DISKFAULT_PREFIX");
    unsetenv("FR_DISKFAULT_CONTROL");
    unsetenv("FR_DISKFAULT_HITS");
    if (old)
        setenv("ASAN_OPTIONS", old, 1);
    else
        unsetenv("ASAN_OPTIONS");
    return pid;
}

static void
start_clients(void)
{
    for (int i = 0; i < NSTORES; i++) {
        char store[160], log[160];
        snprintf(store, sizeof store, "--store=%s/st-store0%d", dir, i + 1);
        snprintf(log, sizeof log, "%s/client%d.log", dir, i + 1);
        client[i] = proc_start((char *[]){FR_BIN_DIR "/fedrec-client", "run",
                                          store, "--heartbeat_ms=200", NULL},
                               log);
    }
}

/* ---- HTTP ---------------------------------------------------------------- */

static int
http_port(const char *log)
{
    char line[512];
    const char *p;

    if (!proc_wait_for(log, "(port=", 1, WAIT_MS)) {
        char *t = proc_read_file(log);
        fail_msg("the aggregator did not start its HTTP endpoint:\n%s",
                 t ? t : "(no log)");
    }
    assert_int_equal(proc_find_line(log, "(port=", 1, line, sizeof line), 1);
    p = strstr(line, "(port=");
    return atoi(p + 6);
}

/* GET path; returns the malloc'd response (status line included). */
static char *
http_get(int port, const char *path)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port)};
    char req[256], *buf = calloc(1, 1 << 20);
    size_t got = 0;
    ssize_t n;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_non_null(buf);
    assert_true(fd >= 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    n = snprintf(req, sizeof req,
                 "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
    assert_int_equal(write(fd, req, (size_t)n), n);
    while (got < (1 << 20) - 1 &&
           (n = read(fd, buf + got, (1 << 20) - 1 - got)) > 0)
        got += (size_t)n;
    close(fd);
    return buf;
}

static long
disk_errors(int port, const char *file)
{
    char needle[96];
    char *m = http_get(port, "/metrics"), *p;
    long v;

    snprintf(needle, sizeof needle,
             "\nfedrec_disk_write_errors_total{file=\"%s\"} ", file);
    p = strstr(m, needle);
    if (!p)
        fail_msg("no %s in /metrics", needle + 1);
    v = atol(p + strlen(needle));
    free(m);
    return v;
}

static void
expect_healthy(int port)
{
    char *h = http_get(port, "/healthz");
    assert_true(strncmp(h, "HTTP/1.0 200", 12) == 0 ||
                strncmp(h, "HTTP/1.1 200", 12) == 0);
    free(h);
}

/* ---- disk ---------------------------------------------------------------- */

static void
disk_fails(const char *kind)
{
    FILE *f = fopen(ctl, "w");
    assert_non_null(f);
    fprintf(f, "%s\n", kind);
    fclose(f);
}

static void
disk_back(void)
{
    assert_int_equal(unlink(ctl), 0);
}

static int
hits_on(const char *name)
{
    return proc_count(hits, name);
}

static void
wait_hits(const char *name, int n)
{
    for (int i = 0; i < WAIT_MS / 50 && hits_on(name) < n; i++)
        usleep(50 * 1000);
    if (hits_on(name) < n)
        fail_msg("the shim made no fault on %s", name);
}

static int
same_file(const char *a, const char *b)
{
    return proc_runf("cmp -s %s %s", a, b) == 0;
}

static uint64_t
checkpoint_rounds(const char *path)
{
    checkpoint ck = {0};
    uint64_t n;

    assert_int_equal(checkpoint_load(path, &ck), FR_OK);
    n = ck.completed_rounds;
    assert_int_equal(ck.n_history, n);
    checkpoint_clear(&ck);
    return n;
}

/* ---- part 1: checkpoint and history ------------------------------------- */

static void
write_conf(const char *conf, const char *state, const char *extra)
{
    FILE *f = fopen(conf, "w");

    assert_non_null(f);
    fprintf(f,
            "listen %s\nkey_file %s/keys/aggregator.key\n"
            "allowlist %s/allowlist\nstate_dir %s/%s\n"
            "http_listen 127.0.0.1:0\nn_items %d\ndim 8\nmin_stores 4\n"
            "start_delay_ms 300\nheartbeat_timeout_ms 2000\n"
            "round_timeout_ms 20000\nretry_delay_ms 200\nlocal_epochs 1\n%s",
            endpoint, dir, dir, dir, state, ITEMS, extra);
    fclose(f);
}

static void
one_fault_plain(const char *log, int port, const char *kind, int streak)
{
    char ck[128], hist[128], ck0[128], hist0[128], needle[64];
    uint64_t before;
    long err0, err1;
    int done;

    pathf(ck, sizeof ck, "agg/checkpoint.bin");
    pathf(hist, sizeof hist, "agg/history.tsv");
    pathf(ck0, sizeof ck0, "checkpoint.copy");
    pathf(hist0, sizeof hist0, "history.copy");
    err0 = disk_errors(port, "checkpoint");
    disk_fails(kind);
    /* once a save met the fault, none is half done: copy what is there */
    wait_hits("checkpoint.bin.tmp", hits_on("checkpoint.bin.tmp") + 1);
    assert_int_equal(proc_runf("cp %s %s && cp %s %s", ck, ck0, hist, hist0),
                     0);
    before = checkpoint_rounds(ck0);
    done = proc_count(log, "completed (id");
    /* rounds go on completing and the daemon answers */
    assert_true(proc_wait_for(log, "completed (id", done + 3, WAIT_MS));
    expect_healthy(port);
    assert_true(same_file(ck, ck0));
    assert_true(same_file(hist, hist0));
    assert_int_equal(checkpoint_rounds(ck), before);
    err1 = disk_errors(port, "checkpoint");
    assert_true(err1 >= err0 + 2);
    /* logged once for this streak, however many saves failed */
    assert_int_equal(proc_count(log, "checkpoint.bin not written"), streak);
    /* (history.tsv fails only when the fault came between the two) */
    assert_true(proc_count(log, "history.tsv not written") <= streak);
    snprintf(needle, sizeof needle, "fedrec_disk_write_errors_total");
    assert_true(proc_count(log, needle) >= streak);

    disk_back();
    assert_true(proc_wait_for(log, "written again after", streak, WAIT_MS));
    done = proc_count(log, "completed (id");
    assert_true(proc_wait_for(log, "completed (id", done + 2, WAIT_MS));
    assert_true(checkpoint_rounds(ck) > before);
    assert_false(same_file(hist, hist0));
    err1 = disk_errors(port, "checkpoint");
    done = proc_count(log, "completed (id");
    assert_true(proc_wait_for(log, "completed (id", done + 2, WAIT_MS));
    assert_int_equal(disk_errors(port, "checkpoint"), err1);
    printf("diskfault: %-6s checkpoint: %ld failed saves counted, rounds "
           "kept completing, file unchanged, recovered\n", kind, err1 - err0);
}

static void
test_checkpoint_and_history(void **state)
{
    char conf[128], log[128];
    int port;
    (void)state;

    pathf(conf, sizeof conf, "aggregator.conf");
    pathf(log, sizeof log, "aggregator.log");
    write_conf(conf, "agg", "secagg no\n");
    start_clients();
    agg = start_aggregator(conf, log, "agg");
    port = http_port(log);
    assert_true(proc_wait_for(log, "completed (id", 2, WAIT_MS));
    assert_int_equal(disk_errors(port, "checkpoint"), 0);
    for (int k = 0; k < NKINDS; k++)
        one_fault_plain(log, port, kinds[k], k + 1);
    /* history.tsv is written only after a good checkpoint; no ledger */
    assert_true(disk_errors(port, "history") <= NKINDS);
    assert_int_equal(disk_errors(port, "ledger"), 0);
    assert_int_equal(proc_stop(agg, SIGTERM, 20000) >= 0, 1);
    agg = 0;
}

/* ---- part 2: the privacy ledger ----------------------------------------- */

static size_t
ledger_rounds(const char *path)
{
    char copy[160], err[256];
    fr_dp_orders o;
    fr_dp_ledger *l = NULL;
    size_t n;

    snprintf(copy, sizeof copy, "%s.read", path);
    assert_int_equal(proc_runf("cp %s %s", path, copy), 0);
    fr_dp_orders_ddg(&o);
    if (fr_dp_ledger_open(&l, copy, &o, 1e-5, 1000.0, err, sizeof err))
        fail_msg("ledger %s: %s", path, err);
    n = fr_dp_ledger_rounds(l);
    fr_dp_ledger_close(&l);
    unlink(copy);
    return n;
}

static void
one_fault_ledger(const char *log, int port, const char *kind, int streak)
{
    char led[128], led0[128];
    size_t before;
    long err0, err1;
    int done;

    pathf(led, sizeof led, "dp/privacy.ledger");
    pathf(led0, sizeof led0, "ledger.copy");
    err0 = disk_errors(port, "ledger");
    disk_fails(kind);
    wait_hits("privacy.ledger", hits_on("privacy.ledger") + 1);
    assert_int_equal(proc_runf("cp %s %s", led, led0), 0);
    before = ledger_rounds(led0);
    /* no round starts without its charge on disk */
    assert_true(proc_wait_for(log, "could not start",
                              proc_count(log, "could not start") + 2,
                              WAIT_MS));
    done = proc_count(log, "completed (id");
    usleep(1500 * 1000);
    expect_healthy(port);
    assert_int_equal(proc_count(log, "completed (id"), done);
    assert_true(same_file(led, led0));
    assert_int_equal(ledger_rounds(led), before);
    err1 = disk_errors(port, "ledger");
    assert_true(err1 >= err0 + 2);
    assert_int_equal(proc_count(log, "privacy.ledger not written"), streak);

    disk_back();
    assert_true(proc_wait_for(log, "completed (id", done + 2, WAIT_MS));
    assert_true(ledger_rounds(led) >= before + 2);
    err1 = disk_errors(port, "ledger");
    done = proc_count(log, "completed (id");
    assert_true(proc_wait_for(log, "completed (id", done + 1, WAIT_MS));
    assert_int_equal(disk_errors(port, "ledger"), err1);
    printf("diskfault: %-6s ledger: %ld failed appends counted, no round "
           "charged or run meanwhile, file unchanged, recovered\n", kind,
           err1 - err0);
}

static void
test_ledger(void **state)
{
    char conf[128], log[128];
    int port;
    (void)state;

    pathf(conf, sizeof conf, "aggregator-dp.conf");
    pathf(log, sizeof log, "aggregator-dp.log");
    write_conf(conf, "dp",
               "secagg yes\nsecagg_phase_timeout_ms 1500\n"
               "dp_epsilon_budget 1000\ndp_delta 1e-5\ndp_members 400\n"
               "dp_clip 0.5\ndp_noise_multiplier 3\ndp_max_dropouts 1\n");
    stop_agg(NULL);
    if (!client[0])
        start_clients();
    agg = start_aggregator(conf, log, "dp");
    port = http_port(log);
    assert_true(proc_wait_for(log, "completed (id", 2, WAIT_MS));
    for (int k = 0; k < NKINDS; k++)
        one_fault_ledger(log, port, kinds[k], k + 1);
    }

static int
setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/fr-diskagg-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    pathf(ctl, sizeof ctl, "disk-off");
    pathf(hits, sizeof hits, "faults.log");
    snprintf(endpoint, sizeof endpoint, "tcp://127.0.0.1:%d",
             proc_free_port());
    return proc_make_stores(FR_BIN_DIR, dir, NSTORES, ITEMS, 100, 9,
                            endpoint);
}

static int
teardown(void **state)
{
    stop_all(state);
    if (!getenv("FR_DISKFAULT_KEEP"))
        (void)proc_runf("rm -rf %s", dir);
    else
        printf("kept %s\n", dir);
    return 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_checkpoint_and_history, stop_agg),
        cmocka_unit_test_teardown(test_ledger, stop_agg),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
