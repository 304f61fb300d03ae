/*
 * test_ctl_access.c - who may use the admin socket of a running
 * fedrec-aggregator, with the real fedrec-ctl.
 *
 * The aggregator (no stores needed) runs with admin_group 4242 and
 * admin_operator_group 4243, numeric gids so that no system group has to
 * be created. A name the group database does not know stops it at start.
 * The owner (this process) may do everything. Then, when the test runs as
 * root (CI), fedrec-ctl runs in a forked child as nobody (uid 65534) with
 * supplementary groups set by setgroups(): without a group it is refused
 * by the file mode, and, with the socket opened to everyone, by the
 * daemon's own check; in 4242 it may read but not change; in 4242 and 4243
 * it may change. Each refusal is logged and counted in /metrics. Not root:
 * those parts are skipped, saying so (the decision itself is covered by
 * test_admin), and admin_group is our own group.
 */
#define _GNU_SOURCE /* setresuid, setresgid */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc.h"

#define READ_GID   4242
#define CHANGE_GID 4243
#define NOBODY     65534

static char dir[64], sock[160], conf[160], agg_log[160], out_path[160];
/* fedrec-ctl copied into dir: the build tree may sit in a directory
 * other users cannot enter (a checkout under mktemp -d is 0700) */
static char ctl[160];
static int http_port;
static pid_t agg_pid;

/* Runs fedrec-ctl --socket SOCK cmd as uid (-1: ourselves) with the
 * supplementary groups g; returns its exit code, output in *text. */
static int
ctl_as(long uid, const gid_t *g, size_t n, const char *cmd, char **text)
{
    pid_t pid = fork();
    int st = 0;

    assert_true(pid >= 0);
    if (pid == 0) {
        char *argv[] = {ctl, "--socket", sock,
                        (char *)cmd, NULL};
        int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
            _exit(120);
        if (uid >= 0 && (setgroups(n, g) || setresgid(NOBODY, NOBODY, NOBODY) ||
                         setresuid((uid_t)uid, (uid_t)uid, (uid_t)uid)))
            _exit(121);
        execv(argv[0], argv);
        _exit(122);
    }
    assert_int_equal(waitpid(pid, &st, 0), pid);
    *text = proc_read_file(out_path);
    assert_non_null(*text);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void
expect_as(long uid, const gid_t *g, size_t n, const char *cmd, int code,
          const char *want)
{
    char *text;
    int got = ctl_as(uid, g, n, cmd, &text);

    if (got != code || !strstr(text, want)) {
        static char seen[2048];
        snprintf(seen, sizeof seen, "%s", text);
        free(text);
        fail_msg("fedrec-ctl %s as uid %ld exited %d (want %d):\n%s"
                 "(want '%s')",
                 cmd, uid, got, code, seen, want);
    }
    free(text);
}

/* GET /metrics from the aggregator (malloc'd, NULL on failure). */
static char *
metrics(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    static const char req[] = "GET /metrics HTTP/1.0\r\n\r\n";
    size_t len = 0, cap = 1 << 16;
    char *buf = malloc(cap);
    ssize_t k;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    sa.sin_port = htons((uint16_t)http_port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (!buf || fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) ||
        send(fd, req, sizeof req - 1, 0) < 0) {
        free(buf);
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    while (len < cap - 1 && (k = recv(fd, buf + len, cap - 1 - len, 0)) > 0)
        len += (size_t)k;
    buf[len] = 0;
    close(fd);
    return buf;
}

static void
write_conf(const char *extra)
{
    FILE *f = fopen(conf, "w");

    assert_non_null(f);
    fprintf(f,
            "listen tcp://127.0.0.1:%d\nkey_file %s/keys/aggregator.key\n"
            "allowlist %s/allowlist\nstate_dir %s/agg\n"
            "admin_socket %s\nhttp_listen 127.0.0.1:%d\n"
            "n_items 300\ndim 8\nmin_stores 3\nsecagg no\n%s",
            proc_free_port(), dir, dir, dir, sock, http_port, extra);
    fclose(f);
}

static pid_t
start_aggregator(void)
{
    char *argv[] = {FR_BIN_DIR "/fedrec-aggregator", "--config", conf, NULL};
    return proc_start(argv, agg_log);
}

static void
test_unknown_group(void **state)
{
    int st;
    (void)state;

    write_conf("admin_group no-such-group-fr\n");
    agg_pid = start_aggregator();
    assert_true(agg_pid > 0);
    st = proc_wait(agg_pid, 20000);
    agg_pid = 0;
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) != 0);
    assert_true(proc_wait_for(agg_log, "admin_group no-such-group-fr: no such "
                                       "group", 1, 1000));
    assert_int_not_equal(access(sock, F_OK), 0);
}

static void
test_access(void **state)
{
    const gid_t none[] = {NOBODY}, reader[] = {READ_GID},
                both[] = {READ_GID, CHANGE_GID};
    char want[256], extra[128], *m;
    long gid = geteuid() == 0 ? READ_GID : (long)getegid();
    struct stat st;
    (void)state;

    /* Not root, the daemon can only give the socket to a group it is in. */
    snprintf(extra, sizeof extra, "admin_group %ld\nadmin_operator_group %d\n",
             gid, CHANGE_GID);
    write_conf(extra);
    agg_pid = start_aggregator();
    for (int i = 0; i < 150 && access(sock, F_OK) != 0; i++)
        usleep(100 * 1000);
    assert_int_equal(stat(sock, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0660);
    assert_int_equal(st.st_gid, gid);

    /* The owner (the daemon's uid, ours) may read and change. */
    expect_as(-1, NULL, 0, "status", 0, "state:");
    expect_as(-1, NULL, 0, "pause", 0, "");
    expect_as(-1, NULL, 0, "resume", 0, "");

    if (geteuid() != 0) {
        print_message("[  SKIP    ] not root: fedrec-ctl as another user "
                      "(nobody, with and without the operator groups) not "
                      "run\n");
        return;
    }
    /* nobody, in neither group: the file mode refuses it. */
    snprintf(want, sizeof want,
             "permission denied on %s: operators need to be in the "
             "aggregator's group",
             sock);
    expect_as(NOBODY, none, 1, "status", 3, want);
    /* With the socket open to everyone, the daemon's check refuses it. */
    assert_int_equal(chmod(sock, 0666), 0);
    expect_as(NOBODY, none, 1, "status", 1,
              "fedrec-ctl: permission denied: uid 65534 is not the owner or "
              "in group 4242");
    expect_as(NOBODY, none, 1, "pause", 1, "uid 65534 is not the owner");
    assert_int_equal(chmod(sock, 0660), 0);
    /* In admin_group: read-only. */
    expect_as(NOBODY, reader, 1, "status", 0, "paused:          no");
    expect_as(NOBODY, reader, 1, "stores", 0, "");
    expect_as(NOBODY, reader, 1, "pause", 1,
              "permission denied: uid 65534 may run status, stores and regions only; "
              "pause needs the owner, root or group 4243");
    expect_as(NOBODY, reader, 1, "checkpoint", 1, "may run status, stores and regions");
    expect_as(-1, NULL, 0, "status", 0, "paused:          no");
    /* In both: may change. */
    expect_as(NOBODY, both, 2, "pause", 0, "");
    expect_as(-1, NULL, 0, "status", 0, "paused:          yes");
    expect_as(NOBODY, both, 2, "resume", 0, "");

    /* Refusals are logged and counted by reason. */
    assert_true(proc_wait_for(agg_log, "refused uid 65534", 4, 2000));
    m = metrics();
    assert_non_null(m);
    if (!strstr(m, "fedrec_rejected_messages_total{reason=\"admin_denied\"} "
                   "4"))
        fail_msg("no admin_denied count of 4 in /metrics:\n%.3000s", m);
    free(m);
}

static int
stop_agg(void **state)
{
    (void)state;
    if (agg_pid > 0)
        proc_stop(agg_pid, SIGTERM, 10000);
    agg_pid = 0;
    return 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unknown_group),
        cmocka_unit_test_teardown(test_access, stop_agg),
    };
    char cmd[512];
    int rc;

    signal(SIGPIPE, SIG_IGN);
    snprintf(dir, sizeof dir, "/tmp/fr-ctlacc-XXXXXX");
    if (!mkdtemp(dir) || chmod(dir, 0755))
        return 1;
    snprintf(sock, sizeof sock, "%s/run/admin.sock", dir);
    snprintf(conf, sizeof conf, "%s/aggregator.conf", dir);
    snprintf(agg_log, sizeof agg_log, "%s/aggregator.log", dir);
    snprintf(out_path, sizeof out_path, "%s/out.txt", dir);
    snprintf(ctl, sizeof ctl, "%s/fedrec-ctl", dir);
    http_port = proc_free_port();
    snprintf(cmd, sizeof cmd,
             "set -e; cd %s; mkdir -m 0755 run; : >allowlist;"
             " " FR_BIN_DIR "/fedrec-keygen --name aggregator --dir keys"
             " >/dev/null 2>&1;"
             " install -m 0755 " FR_BIN_DIR "/fedrec-ctl fedrec-ctl",
             dir);
    if (proc_run(cmd) != 0)
        return 1;
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    if (rc == 0) {
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        proc_run(cmd);
    }
    return rc;
}
