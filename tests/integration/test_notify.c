/*
 * test_notify.c - the aggregator speaks systemd's notify protocol
 * (Type=notify): READY once it listens, WATCHDOG at least twice per
 * WatchdogSec, STATUS lines, RELOADING/READY around a SIGHUP, STOPPING on
 * SIGTERM, and a clean exit.
 *
 * The test plays systemd's part: it binds the datagram socket that
 * NOTIFY_SOCKET names and sets WATCHDOG_USEC, as the service manager does,
 * then reads what the daemon sends. No store is needed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/util.h"
#include "proc.h"

static pid_t agg;
static char dir[64];

/* Reads datagrams for up to timeout_ms until one contains needle; returns
 * how many datagrams contained it (stops at the first when want_one). */
static int
await(int fd, const char *needle, int timeout_ms, int count_all)
{
    int64_t end = fr_clock_ms() + timeout_ms;
    int hits = 0;

    for (;;) {
        int64_t left = end - fr_clock_ms();
        struct pollfd p = {.fd = fd, .events = POLLIN};
        char buf[4096];
        ssize_t n;

        if (left <= 0)
            return hits;
        if (poll(&p, 1, (int)left) <= 0)
            continue;
        n = recv(fd, buf, sizeof buf - 1, 0);
        if (n <= 0)
            continue;
        buf[n] = 0;
        if (strstr(buf, needle)) {
            hits++;
            if (!count_all)
                return hits;
        }
    }
}

static int
teardown(void **state)
{
    char cmd[128];
    (void)state;
    if (agg > 0)
        proc_stop(agg, SIGKILL, 5000);
    agg = 0;
    if (*dir) {
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        proc_run(cmd);
    }
    return 0;
}

static void
test_notify(void **state)
{
    char sock_path[96], conf[128], log[128], cmd[512];
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd, status;
    FILE *c;
    (void)state;

    snprintf(dir, sizeof dir, "/tmp/fr-notify-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(sock_path, sizeof sock_path, "%s/notify.sock", dir);
    snprintf(conf, sizeof conf, "%s/aggregator.conf", dir);
    snprintf(log, sizeof log, "%s/aggregator.log", dir);
    snprintf(cmd, sizeof cmd,
             FR_BIN_DIR "/fedrec-keygen --name aggregator --dir %s/keys "
                        ">/dev/null 2>&1 && " FR_BIN_DIR
                        "/fedrec-keygen --name s1 "
                        "--dir %s/keys > %s/allowlist 2>/dev/null",
             dir, dir, dir);
    assert_int_equal(proc_run(cmd), 0);
    c = fopen(conf, "w");
    assert_non_null(c);
    fprintf(c,
            "listen tcp://127.0.0.1:%d\nkey_file %s/keys/aggregator.key\n"
            "allowlist %s/allowlist\nstate_dir %s/agg\n"
            "http_listen 127.0.0.1:0\nmin_stores 4\n",
            proc_free_port(), dir, dir, dir);
    fclose(c);

    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock_path);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);

    /* What systemd sets for a Type=notify unit with WatchdogSec=0.4s. */
    setenv("NOTIFY_SOCKET", sock_path, 1);
    setenv("WATCHDOG_USEC", "400000", 1);
    agg = proc_start(
        (char *[]){FR_BIN_DIR "/fedrec-aggregator", "--config", conf, NULL},
        log);
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    assert_true(agg > 0);

    assert_int_equal(await(fd, "READY=1", 15000, 0), 1);
    /* 0.4 s watchdog: pinged every 0.2 s, so well over 5 in 2 s. */
    assert_true(await(fd, "WATCHDOG=1", 2000, 1) >= 5);
    assert_int_equal(await(fd, "STATUS=idle", 5000, 0), 1);

    assert_int_equal(kill(agg, SIGHUP), 0);
    assert_int_equal(await(fd, "RELOADING=1", 5000, 0), 1);
    assert_int_equal(await(fd, "READY=1", 5000, 0), 1);
    assert_true(proc_wait_for(log, "allow-list reloaded", 1, 5000));

    assert_int_equal(kill(agg, SIGTERM), 0);
    assert_int_equal(await(fd, "STOPPING=1", 5000, 0), 1);
    status = proc_wait(agg, 15000);
    agg = 0;
    assert_true(status != -1 && WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(proc_count(log, "checkpoint written on the way out"), 1);
    close(fd);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_notify, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
