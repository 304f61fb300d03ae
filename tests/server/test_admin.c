/*
 * test_admin.c - the admin socket: every command's answer, the errors for
 * bad requests, the socket file's mode, stale-socket replacement and the
 * refusal to start next to a live aggregator. Access control: the policy
 * decision as a pure function, resolving the configured groups, the
 * handler's refusals (counted, logged rate-limited, no operation run), the
 * peer credentials the kernel reports and, when run as root, a client
 * running as nobody with chosen supplementary groups.
 *
 * The test is its own client. A Unix socket connection completes while the
 * server has not accepted yet, so each exchange is: connect, send, one
 * agg_admin_serve() pass, read the answer until the server closes.
 */
#define _GNU_SOURCE /* setresuid, setresgid */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <grp.h>
#include <signal.h>
#include <sys/wait.h>

#include "admin.h"
#include "admin_int.h"
#include "base/log.h"
#include "stats.h"

typedef struct fake {
    int pauses, resumes, checkpoints, revokes;
    char revoked[80];
} fake;

typedef struct fixture {
    char dir[64];
    char path[128];
    agg_stats *stats;
    agg_admin *ad;
    fake ops_log;
    agg_admin_ops ops;
} fixture;

static char log_text[8192];

static void
capture(void *arg, fr_log_level level, const char *tag, const char *line)
{
    size_t n = strlen(log_text);
    (void)arg;
    (void)level;
    snprintf(log_text + n, sizeof log_text - n, "%s: %s\n", tag, line);
}

static fr_err
fake_pause(void *arg, int pause, char *msg, size_t cap)
{
    fake *f = arg;
    if (pause)
        f->pauses++;
    else
        f->resumes++;
    snprintf(msg, cap, pause ? "paused" : "resumed");
    return FR_OK;
}

static fr_err
fake_revoke(void *arg, const char *store, char *msg, size_t cap)
{
    fake *f = arg;
    f->revokes++;
    snprintf(f->revoked, sizeof f->revoked, "%s", store);
    if (strcmp(store, "store04") != 0) {
        snprintf(msg, cap, "no store named %s in the allow-list", store);
        return FR_ENOENT;
    }
    snprintf(msg, cap, "revoked %s", store);
    return FR_OK;
}

/* Its message has characters JSON must escape, and bytes that are not
 * UTF-8 next to ones that are. */
static fr_err
fake_checkpoint(void *arg, char *msg, size_t cap)
{
    fake *f = arg;
    f->checkpoints++;
    snprintf(msg, cap, "wrote \"ck\\1\"\tnow\n \xff caf\xc3\xa9");
    return FR_OK;
}

static int64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
fill_stats(agg_stats *s)
{
    agg_round_info r = {0};
    agg_store_info st[2];

    agg_stats_set_static(s, 1, 100);
    agg_stats_set_state(s, "collecting", "masked_input", 12, 11, 4);
    r.round = 11;
    r.round_id = 12;
    r.stores = 4;
    r.examples = 5000;
    r.hr10 = 0.25;
    r.ndcg10 = 0.125;
    r.loss = NAN; /* unknown: null */
    r.seconds = 1.5;
    agg_stats_add_round(s, &r);
    memset(st, 0, sizeof st);
    snprintf(st[0].name, sizeof st[0].name, "store01");
    st[0].connected = st[0].selected = 1;
    st[0].last_seen_unix_ms = now_ms() - 1500;
    st[0].rounds_joined = 3;
    st[0].examples = 1000;
    snprintf(st[1].name, sizeof st[1].name, "store02");
    agg_stats_set_stores(s, st, 2);
    agg_stats_checkpointed(s, now_ms() - 5000);
}

static int
setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    char err[256];

    assert_non_null(fx);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/fr-admin-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(fx->path, sizeof fx->path, "%s/admin.sock", fx->dir);
    assert_int_equal(agg_stats_new(&fx->stats), FR_OK);
    fill_stats(fx->stats);
    fx->ops =
        (agg_admin_ops){&fx->ops_log, fake_pause, fake_revoke, fake_checkpoint};
    log_text[0] = 0;
    fr_log_set_sink(capture, NULL);
    assert_int_equal(
        agg_admin_open(&fx->ad, fx->path, fx->stats, &fx->ops, NULL, err, sizeof err),
        FR_OK);
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    fixture *fx = *state;
    char cmd[128];

    agg_admin_close(&fx->ad);
    agg_stats_destroy(&fx->stats);
    fr_log_set_sink(NULL, NULL);
    snprintf(cmd, sizeof cmd, "rm -rf %s", fx->dir);
    assert_int_equal(system(cmd), 0);
    free(fx);
    return 0;
}

static int
connect_to(const char *path)
{
    struct sockaddr_un sa;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Sends len bytes of raw (then shuts down the write side if eof), lets the
 * server run one pass, and returns the answer (static buffer). */
static const char *
exchange_raw(fixture *fx, const char *raw, size_t len, int eof)
{
    static char answer[65536];
    size_t got = 0;
    ssize_t n;
    int fd = connect_to(fx->path);

    assert_true(fd >= 0);
    if (len)
        assert_int_equal(send(fd, raw, len, 0), (ssize_t)len);
    if (eof)
        shutdown(fd, SHUT_WR);
    agg_admin_serve(fx->ad);
    while ((n = recv(fd, answer + got, sizeof answer - 1 - got, 0)) > 0)
        got += (size_t)n;
    close(fd);
    answer[got] = 0;
    return answer;
}

static const char *
exchange(fixture *fx, const char *line)
{
    return exchange_raw(fx, line, strlen(line), 0);
}

/* The answer is one line holding one object, and contains every needle. */
static void
expect(const char *answer, const char *const *needles)
{
    size_t n = strlen(answer);

    if (n < 3 || answer[0] != '{' || answer[n - 1] != '\n' ||
        answer[n - 2] != '}' || memchr(answer, '\n', n - 1))
        fail_msg("not one JSON line: %s", answer);
    for (; *needles; needles++)
        if (!strstr(answer, *needles))
            fail_msg("answer lacks %s:\n%s", *needles, answer);
}

#define EXPECT(answer, ...)                                                    \
    expect((answer), (const char *const[]){__VA_ARGS__, NULL})

static void
test_status(void **state)
{
    fixture *fx = *state;
    const char *a = exchange(fx, "status\n");

    EXPECT(a, "{\"ok\":true,", "\"state\":\"collecting\"",
           "\"phase\":\"masked_input\"", "\"round_id\":12", "\"completed\":11",
           "\"rounds_target\":100", "\"paused\":false", "\"secagg\":true",
           "\"stores\":{\"known\":2,\"connected\":1,\"selected\":4}",
           "\"uptime\":", "\"last_checkpoint\":", "\"last_checkpoint_ago\":5.",
           "\"last_round\":{\"round\":11,\"round_id\":12,\"stores\":4,",
           "\"hr10\":0.25,", "\"ndcg10\":0.125,", "\"loss\":null,",
           "\"seconds\":1.500}",
           "\"dp\":{\"enabled\":false,\"guarantee\":\"no DP guarantee\"}");

    /* Changes show in the next answer; DP with its figures. */
    agg_stats_set_paused(fx->stats, 1);
    agg_stats_set_dp(fx->stats, 1, 1.5, 8, 1e-6);
    agg_stats_set_state(fx->stats, "paused", "", 13, 12, 0);
    a = exchange(fx, "status\r\n");
    EXPECT(a, "\"paused\":true", "\"state\":\"paused\"", "\"phase\":\"\"",
           "\"completed\":12",
           "\"dp\":{\"enabled\":true,\"epsilon_spent\":1.5,"
           "\"epsilon_budget\":8,\"delta\":1e-06}");
    /* Read-only commands change nothing. */
    assert_int_equal(fx->ops_log.pauses + fx->ops_log.resumes +
                         fx->ops_log.revokes + fx->ops_log.checkpoints,
                     0);
}

static void
test_status_fresh(void **state)
{
    fixture *fx = *state;
    agg_stats *fresh = NULL;
    char err[256];
    const char *a;

    /* Nothing done yet: no last round, no checkpoint, no stores. */
    assert_int_equal(agg_stats_new(&fresh), FR_OK);
    agg_admin_close(&fx->ad);
    assert_int_equal(
        agg_admin_open(&fx->ad, fx->path, fresh, &fx->ops, NULL, err, sizeof err),
        FR_OK);
    a = exchange(fx, "status\n");
    EXPECT(a, "\"state\":\"starting\"", "\"last_round\":null",
           "\"last_checkpoint\":null", "\"last_checkpoint_ago\":null",
           "\"known\":0");
    a = exchange(fx, "stores\n");
    EXPECT(a, "{\"ok\":true,\"stores\":[]}");
    agg_admin_close(&fx->ad);
    agg_stats_destroy(&fresh);
}

static void
test_stores(void **state)
{
    fixture *fx = *state;
    /* Without a newline: the request ends where the client stops. */
    const char *a = exchange_raw(fx, "stores", 6, 1);

    EXPECT(a, "{\"ok\":true,\"stores\":[{\"name\":\"store01\",",
           "\"connected\":true,\"selected\":true,\"last_seen\":1.",
           "\"rounds_joined\":3,\"examples\":1000}",
           "{\"name\":\"store02\",\"connected\":false,\"selected\":false,"
           "\"last_seen\":null,\"rounds_joined\":0,\"examples\":0}]}");
}

/* The regional aggregators among the participants, and a regional
 * aggregator's link to the central. */
static void
test_regions(void **state)
{
    fixture *fx = *state;
    agg_store_info st[2] = {
        {.name = "north", .connected = 1, .last_seen_unix_ms = 1,
         .rounds_joined = 5, .region = 1, .region_stores = 7,
         .region_max_examples = 900, .region_round_id = 41,
         .region_covers = 6, .region_has_metrics = 1, .region_hr10 = 0.5,
         .region_ndcg10 = 0.25},
        {.name = "store02"}, /* a plain store: not listed */
    };
    const char *a = exchange(fx, "regions\n");

    EXPECT(a, "{\"ok\":true,\"regions\":[],\"upstream\":null}");
    agg_stats_set_stores(fx->stats, st, 2);
    a = exchange(fx, "regions\n");
    EXPECT(a, "\"regions\":[{\"name\":\"north\",\"connected\":true,",
           "\"stores\":7,\"max_examples\":900,\"rounds_joined\":5,"
           "\"last_round_id\":41,\"last_covered\":6,\"hr10\":0.5,"
           "\"ndcg10\":0.25}],\"upstream\":null}");
    assert_null(strstr(a, "store02"));
    agg_stats_set_upstream(fx->stats, "up", 1, 42, 3, 1);
    a = exchange(fx, "regions\n");
    EXPECT(a, "\"upstream\":{\"link\":\"up\",\"up\":true,"
           "\"round_id\":42,\"sent\":3}}");
    a = exchange(fx, "regions now\n");
    EXPECT(a, "\"ok\":false", "'regions' takes no argument");
    /* read-only */
    assert_int_equal(agg_admin_command_level("regions", 7), AGG_ADMIN_READ);
    assert_int_equal(fx->ops_log.pauses + fx->ops_log.resumes +
                         fx->ops_log.revokes + fx->ops_log.checkpoints,
                     0);
}

static void
test_control(void **state)
{
    fixture *fx = *state;
    char want[64];

    EXPECT(exchange(fx, "pause\n"), "{\"ok\":true,\"message\":\"paused\"}");
    assert_int_equal(fx->ops_log.pauses, 1);
    EXPECT(exchange(fx, "resume\n"), "{\"ok\":true,\"message\":\"resumed\"}");
    assert_int_equal(fx->ops_log.resumes, 1);
    /* Quotes, backslash, tab and newline escaped; the stray byte
     * replaced, the UTF-8 kept. */
    EXPECT(exchange(fx, "checkpoint\n"),
           "{\"ok\":true,\"message\":\"wrote \\\"ck\\\\1\\\"\\u0009now\\n "
           "\\ufffd caf\xc3\xa9\"}");
    assert_int_equal(fx->ops_log.checkpoints, 1);
    EXPECT(exchange(fx, "revoke store04\n"),
           "{\"ok\":true,\"message\":\"revoked store04\"}");
    assert_string_equal(fx->ops_log.revoked, "store04");
    /* The operation's failure reaches the operator. */
    EXPECT(exchange(fx, "revoke store09\n"),
           "{\"ok\":false,\"error\":\"no store named store09 in the "
           "allow-list\"}");
    assert_int_equal(fx->ops_log.revokes, 2);
    /* Control commands are logged with the operator's uid. */
    snprintf(want, sizeof want, "pause by uid %ld: paused", (long)getuid());
    assert_non_null(strstr(log_text, want));
    assert_non_null(strstr(log_text, "revoke by uid"));
}

static void
test_bad_requests(void **state)
{
    fixture *fx = *state;
    char line[400], name[80];

    EXPECT(exchange(fx, "reboot\n"),
           "{\"ok\":false,\"error\":\"unknown command 'reboot'; expected "
           "status, stores, regions, revoke STORE, pause, resume or "
           "checkpoint\"}");
    EXPECT(exchange(fx, "bad\"cmd\\\n"),
           "\"error\":\"unknown command 'bad\\\"cmd\\\\'");
    EXPECT(exchange(fx, "\n"), "\"ok\":false", "unknown command ''");
    EXPECT(exchange(fx, "status now\n"),
           "{\"ok\":false,\"error\":\"'status' takes no argument\"}");
    EXPECT(exchange(fx, "sta\x01tus\n"),
           "{\"ok\":false,\"error\":\"request line contains control "
           "characters\"}");
    /* 257 bytes before the newline: too long. */
    memset(line, 'a', 257);
    memcpy(line + 257, "\n", 2);
    EXPECT(exchange(fx, line),
           "{\"ok\":false,\"error\":\"request line longer than 256 bytes\"}");
    /* Exactly 256 is read; the over-long name is then refused as a name. */
    memcpy(line, "revoke ", 7);
    memset(line + 7, 's', 249);
    memcpy(line + 256, "\n", 2);
    EXPECT(exchange(fx, line), "\"ok\":false", "revoke needs a store name");
    /* A long line without any newline, then silence. */
    memset(line, 'b', sizeof line - 1);
    EXPECT(exchange_raw(fx, line, sizeof line - 1, 0),
           "request line longer than 256 bytes");
    /* Bad store names never reach the operation. */
    EXPECT(exchange(fx, "revoke\n"), "\"ok\":false",
           "revoke needs a store name: 1 to 63 characters");
    EXPECT(exchange(fx, "revoke ../etc/passwd\n"), "\"ok\":false",
           "revoke needs a store name");
    EXPECT(exchange(fx, "revoke a b\n"), "\"ok\":false",
           "revoke needs a store name");
    memset(name, 'x', 64);
    snprintf(line, sizeof line, "revoke %.64s\n", name);
    EXPECT(exchange(fx, line), "\"ok\":false", "revoke needs a store name");
    assert_int_equal(fx->ops_log.revokes, 0);
    /* A client that sends nothing gets an answer after the read bound. */
    EXPECT(exchange_raw(fx, "", 0, 0),
           "{\"ok\":false,\"error\":\"no request line within 200 ms\"}");
    /* One that leaves without a word gets nothing; the next is served. */
    assert_string_equal(exchange_raw(fx, "", 0, 1), "");
    EXPECT(exchange(fx, "stores\n"), "\"ok\":true");
}

static void
test_serve_idle(void **state)
{
    fixture *fx = *state;
    int fds[3];

    /* With nobody waiting, a pass returns at once; NULL is ignored. */
    agg_admin_serve(fx->ad);
    agg_admin_serve(NULL);
    /* Several waiting clients are all answered in one pass. */
    for (int i = 0; i < 3; i++) {
        fds[i] = connect_to(fx->path);
        assert_true(fds[i] >= 0);
        assert_int_equal(send(fds[i], "status\n", 7, 0), 7);
    }
    agg_admin_serve(fx->ad);
    for (int i = 0; i < 3; i++) {
        char buf[4096];
        ssize_t n = recv(fds[i], buf, sizeof buf - 1, MSG_DONTWAIT);
        assert_true(n > 0);
        buf[n] = 0;
        assert_non_null(strstr(buf, "\"ok\":true"));
        close(fds[i]);
    }
}

static void
test_socket_file(void **state)
{
    fixture *fx = *state;
    struct stat st;
    char err[256];
    agg_admin *other = NULL;
    mode_t old;

    assert_int_equal(lstat(fx->path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0660);

    /* A second aggregator on the same path is refused; the first one keeps
     * its socket. */
    assert_int_equal(
        agg_admin_open(&other, fx->path, fx->stats, &fx->ops, NULL, err, sizeof err),
        FR_ESTATE);
    assert_null(other);
    assert_non_null(strstr(err, "another aggregator is running"));
    EXPECT(exchange(fx, "status\n"), "\"ok\":true");

    /* close removes the file; a permissive umask still gives 0660. */
    agg_admin_close(&fx->ad);
    agg_admin_close(&fx->ad); /* NULL is fine */
    assert_int_equal(lstat(fx->path, &st), -1);
    assert_int_equal(errno, ENOENT);
    old = umask(0);
    assert_int_equal(
        agg_admin_open(&fx->ad, fx->path, fx->stats, &fx->ops, NULL, err, sizeof err),
        FR_OK);
    umask(old);
    assert_int_equal(lstat(fx->path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0660);
}

static void
test_stale_socket(void **state)
{
    fixture *fx = *state;
    struct sockaddr_un sa;
    struct stat st;
    char err[256], p[160];
    agg_admin *ad = NULL;
    int fd;

    /* A socket file left by a process that died: nothing accepts. */
    snprintf(p, sizeof p, "%s/stale.sock", fx->dir);
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    assert_true(strlen(p) < sizeof sa.sun_path);
    memcpy(sa.sun_path, p, strlen(p));
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    close(fd);
    assert_int_equal(lstat(p, &st), 0);
    assert_int_equal(
        agg_admin_open(&ad, p, fx->stats, &fx->ops, NULL, err, sizeof err), FR_OK);
    assert_non_null(strstr(log_text, "removed a stale admin socket"));
    fd = connect_to(p);
    assert_true(fd >= 0);
    assert_int_equal(send(fd, "stores\n", 7, 0), 7);
    agg_admin_serve(ad);
    {
        char buf[4096];
        ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
        assert_true(n > 0);
        buf[n] = 0;
        assert_non_null(strstr(buf, "\"name\":\"store01\""));
    }
    close(fd);
    agg_admin_close(&ad);

    /* Something that is not a socket is never removed. */
    snprintf(p, sizeof p, "%s/file", fx->dir);
    fd = creat(p, 0600);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(
        agg_admin_open(&ad, p, fx->stats, &fx->ops, NULL, err, sizeof err),
        FR_EINVAL);
    assert_non_null(strstr(err, "is not a socket"));
    assert_int_equal(lstat(p, &st), 0);
    assert_true(S_ISREG(st.st_mode));

    /* Paths that do not fit a socket address, or none. */
    memset(p, 'a', sizeof p - 1);
    p[0] = '/';
    p[sizeof p - 1] = 0;
    assert_int_equal(
        agg_admin_open(&ad, p, fx->stats, &fx->ops, NULL, err, sizeof err),
        FR_EINVAL);
    assert_non_null(strstr(err, "admin socket path must be 1 to"));
    assert_int_equal(
        agg_admin_open(&ad, "", fx->stats, &fx->ops, NULL, err, sizeof err),
        FR_EINVAL);
    /* A directory that does not exist. */
    snprintf(p, sizeof p, "%s/no/such/dir/admin.sock", fx->dir);
    assert_int_not_equal(
        agg_admin_open(&ad, p, fx->stats, &fx->ops, NULL, err, sizeof err), FR_OK);
    assert_non_null(strstr(err, "cannot bind"));
    assert_null(ad);
}

static void
test_no_ops(void **state)
{
    fixture *fx = *state;
    char err[256];

    /* A daemon without an operation answers with an error, not a crash. */
    agg_admin_close(&fx->ad);
    assert_int_equal(
        agg_admin_open(&fx->ad, fx->path, fx->stats, NULL, NULL, err, sizeof err),
        FR_OK);
    EXPECT(exchange(fx, "pause\n"), "\"ok\":false,\"error\":");
    EXPECT(exchange(fx, "status\n"), "\"ok\":true");
}


/* ---- access control ---- */

static const agg_admin_access policy_split = {
    .owner_uid = 1000, .read_gid = 200, .change_gid = 300,
    .read_name = "fedrec", .change_name = "fedrec-op"};

static agg_admin_verdict
decide(const agg_admin_access *a, long uid, long gid, const gid_t *g, size_t n,
       const char *cmd)
{
    agg_admin_peer p = {uid, gid, 1, g, n};
    return agg_admin_decide(a, &p, agg_admin_command_level(cmd, strlen(cmd)));
}

static void
test_policy(void **state)
{
    const agg_admin_access *a = &policy_split;
    agg_admin_access nosplit = *a;
    const gid_t reader[] = {5, 200}, changer[] = {300}, both[] = {200, 300},
                other[] = {5, 6, 7};
    (void)state;

    /* Command levels: the word before the first space. */
    assert_int_equal(agg_admin_command_level("status", 6), AGG_ADMIN_READ);
    assert_int_equal(agg_admin_command_level("stores", 6), AGG_ADMIN_READ);
    assert_int_equal(agg_admin_command_level("reboot", 6), AGG_ADMIN_READ);
    assert_int_equal(agg_admin_command_level("pause", 5), AGG_ADMIN_CHANGE);
    assert_int_equal(agg_admin_command_level("resume", 6), AGG_ADMIN_CHANGE);
    assert_int_equal(agg_admin_command_level("checkpoint", 10),
                     AGG_ADMIN_CHANGE);
    assert_int_equal(agg_admin_command_level("revoke store01", 14),
                     AGG_ADMIN_CHANGE);
    assert_int_equal(agg_admin_command_level("pauser", 6), AGG_ADMIN_READ);
    assert_int_equal(agg_admin_command_level("pause", 4), AGG_ADMIN_READ);

    /* Owner and root: everything. */
    assert_int_equal(decide(a, 1000, 9, NULL, 0, "pause"), AGG_ADMIN_ALLOW);
    assert_int_equal(decide(a, 0, 0, NULL, 0, "revoke x"), AGG_ADMIN_ALLOW);
    /* A stranger: nothing, whatever it asks. */
    assert_int_equal(decide(a, 65534, 65534, other, 3, "status"),
                     AGG_ADMIN_DENY_ACCESS);
    assert_int_equal(decide(a, 65534, 65534, other, 3, "pause"),
                     AGG_ADMIN_DENY_ACCESS);
    /* Unknown credentials: refused. */
    assert_int_equal(decide(a, -1, 200, NULL, 0, "status"),
                     AGG_ADMIN_DENY_ACCESS);
    /* admin_group, as primary or supplementary group: read only. */
    assert_int_equal(decide(a, 1001, 200, NULL, 0, "status"), AGG_ADMIN_ALLOW);
    assert_int_equal(decide(a, 1001, 5, reader, 2, "stores"), AGG_ADMIN_ALLOW);
    assert_int_equal(decide(a, 1001, 5, reader, 2, "pause"),
                     AGG_ADMIN_DENY_CHANGE);
    assert_int_equal(decide(a, 1001, 200, NULL, 0, "checkpoint"),
                     AGG_ADMIN_DENY_CHANGE);
    /* admin_operator_group: both levels. */
    assert_int_equal(decide(a, 1002, 5, changer, 1, "revoke s"),
                     AGG_ADMIN_ALLOW);
    assert_int_equal(decide(a, 1002, 5, changer, 1, "status"), AGG_ADMIN_ALLOW);
    assert_int_equal(decide(a, 1002, 300, NULL, 0, "resume"), AGG_ADMIN_ALLOW);
    assert_int_equal(decide(a, 1003, 5, both, 2, "pause"), AGG_ADMIN_ALLOW);
    /* Without a split (the default), the group may change. */
    nosplit.change_gid = AGG_ADMIN_NO_GID;
    assert_int_equal(decide(&nosplit, 1001, 5, reader, 2, "pause"),
                     AGG_ADMIN_ALLOW);
    assert_int_equal(decide(&nosplit, 1002, 5, changer, 1, "status"),
                     AGG_ADMIN_DENY_ACCESS);
    /* No group at all: only owner and root. */
    nosplit.read_gid = AGG_ADMIN_NO_GID;
    assert_int_equal(decide(&nosplit, 1001, 200, reader, 2, "status"),
                     AGG_ADMIN_DENY_ACCESS);
    assert_int_equal(decide(&nosplit, 1000, 9, NULL, 0, "pause"),
                     AGG_ADMIN_ALLOW);
}

static void
test_access_init(void **state)
{
    agg_admin_access a;
    char err[256];
    (void)state;

    assert_int_equal(agg_admin_access_init(&a, "", "", err, sizeof err),
                     FR_OK);
    assert_int_equal(a.owner_uid, (long)geteuid());
    assert_int_equal(a.read_gid, AGG_ADMIN_NO_GID);
    assert_int_equal(a.change_gid, AGG_ADMIN_NO_GID);
    /* A name (root is gid 0 everywhere) or a number. */
    assert_int_equal(agg_admin_access_init(&a, "root", "4242", err, sizeof err),
                     FR_OK);
    assert_int_equal(a.read_gid, 0);
    assert_string_equal(a.read_name, "root");
    assert_int_equal(a.change_gid, 4242);
    /* A group that does not exist is refused, naming the key. */
    assert_int_equal(agg_admin_access_init(&a, "no-such-group-fr", "", err,
                                           sizeof err),
                     FR_EINVAL);
    assert_non_null(strstr(err, "admin_group no-such-group-fr: no such group"));
    assert_int_equal(agg_admin_access_init(&a, "root", "nope-fr-op", err,
                                           sizeof err),
                     FR_EINVAL);
    assert_non_null(strstr(err, "admin_operator_group nope-fr-op: no such"));
    assert_int_equal(agg_admin_access_init(&a, "-1", "", err, sizeof err),
                     FR_EINVAL);
}

/* One request through agg_admin_handle as peer (uid, gid, groups). */
static const char *
handle_as(agg_admin *ad, long uid, long gid, const gid_t *g, size_t n,
          const char *req)
{
    static char out[8192];
    agg_admin_peer p = {uid, gid, 4321, g, n};
    size_t len = agg_admin_handle(ad, req, strlen(req), &p, out, sizeof out);

    assert_int_equal(len, strlen(out));
    return out;
}

static uint64_t
denied(agg_stats *s)
{
    agg_stats_view v;
    uint64_t n;

    assert_int_equal(agg_stats_snapshot(s, &v), FR_OK);
    n = v.rejected_total[AGG_REJECT_ADMIN_DENIED];
    agg_stats_view_clear(&v);
    return n;
}

static int
count_of(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

static void
test_handle_policy(void **state)
{
    fixture *fx = *state;
    agg_admin *ad = NULL;
    const gid_t reader[] = {200}, changer[] = {200, 300};
    fake *f = &fx->ops_log;

    assert_int_equal(
        agg_admin_new_unbound(&ad, fx->stats, &fx->ops, &policy_split), FR_OK);
    /* A stranger: refused before its line is even looked at. */
    EXPECT(handle_as(ad, 65534, 65534, NULL, 0, "status\n"),
           "{\"ok\":false,\"error\":\"permission denied: uid 65534 is not "
           "the owner or in group fedrec\"}");
    EXPECT(handle_as(ad, 65534, 65534, NULL, 0, "pause\n"),
           "permission denied: uid 65534 is not");
    EXPECT(handle_as(ad, 65534, 65534, NULL, 0, "sta\x01tus"),
           "permission denied");
    assert_int_equal(denied(fx->stats), 3);
    /* A reader: figures yes, changes no (and no operation runs). */
    EXPECT(handle_as(ad, 1001, 5, reader, 1, "status\n"), "{\"ok\":true,",
           "\"state\":\"collecting\"");
    EXPECT(handle_as(ad, 1001, 5, reader, 1, "stores"), "\"name\":\"store01\"");
    EXPECT(handle_as(ad, 1001, 5, reader, 1, "pause\n"),
           "{\"ok\":false,\"error\":\"permission denied: uid 1001 may run "
           "status, stores and regions only; pause needs the owner, root or "
           "group "
           "fedrec-op\"}");
    EXPECT(handle_as(ad, 1001, 5, reader, 1, "revoke store04\n"),
           "revoke needs the owner, root or group fedrec-op");
    EXPECT(handle_as(ad, 1001, 5, reader, 1, "checkpoint\r\n"),
           "checkpoint needs the owner");
    assert_int_equal(f->pauses + f->resumes + f->revokes + f->checkpoints, 0);
    assert_int_equal(denied(fx->stats), 6);
    /* Bad lines from a reader get the usual errors. */
    EXPECT(handle_as(ad, 1001, 5, reader, 1, "reboot\n"), "unknown command");
    /* An operator and the owner change. */
    EXPECT(handle_as(ad, 1002, 5, changer, 2, "pause\n"),
           "{\"ok\":true,\"message\":\"paused\"}");
    EXPECT(handle_as(ad, 1000, 1000, NULL, 0, "resume\n"),
           "{\"ok\":true,\"message\":\"resumed\"}");
    EXPECT(handle_as(ad, 0, 0, NULL, 0, "revoke store04"), "revoked store04");
    assert_int_equal(f->pauses + f->resumes + f->revokes, 3);
    assert_int_equal(denied(fx->stats), 6);
    /* Logged with uid, gid and pid, at most five lines a minute. */
    assert_non_null(strstr(log_text, "refused uid 65534 gid 65534 pid 4321: "
                                     "not an operator"));
    assert_non_null(strstr(log_text, "refused uid 1001 gid 5 pid 4321: may "
                                     "not change"));
    for (int i = 0; i < 20; i++)
        handle_as(ad, 65534, 65534, NULL, 0, "status\n");
    assert_int_equal(denied(fx->stats), 26);
    assert_int_equal(count_of(log_text, "refused uid"), 5);
    assert_non_null(strstr(log_text, "further refusals this minute are only "
                                     "counted"));
    /* A small buffer gets a whole error line, never a cut one. */
    {
        char small[64];
        agg_admin_peer p = {1000, 1000, 1, NULL, 0};
        size_t n = agg_admin_handle(ad, "stores\n", 7, &p, small, sizeof small);
        assert_int_equal(n, strlen(small));
        assert_string_equal(small,
                            "{\"ok\":false,\"error\":\"the answer is too "
                            "long\"}\n");
    }
    agg_admin_close(&ad);
}

/* The kernel's record of our own end of a socket pair. */
static void
test_peer_credentials(void **state)
{
    int sv[2];
    agg_admin_peer p;
    gid_t *groups = NULL, mine[256];
    int n = getgroups(256, mine);
    (void)state;

    assert_true(n >= 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(agg_admin_peer_get(sv[0], &p, &groups), FR_OK);
    assert_int_equal(p.uid, (long)geteuid());
    assert_int_equal(p.gid, (long)getegid());
    assert_int_equal(p.pid, (long)getpid());
    assert_int_equal(p.n_groups, (size_t)n);
    for (int i = 0; i < n; i++)
        assert_int_equal(p.groups[i], mine[i]);
    free(groups);
    close(sv[0]);
    close(sv[1]);
    /* Not a socket: an error, never a made-up peer. */
    assert_int_not_equal(agg_admin_peer_get(0 + 1000, &p, &groups), FR_OK);
    assert_int_equal(p.uid, -1);
}

/* A child as nobody with the supplementary groups g asks for req over the
 * real socket; returns its answer. */
static const char *
ask_as_nobody(fixture *fx, const gid_t *g, size_t n, const char *req)
{
    static char answer[8192];
    int pfd[2];
    ssize_t got = 0, k;
    pid_t pid;

    assert_int_equal(pipe(pfd), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char buf[8192];
        int fd;
        size_t len = 0;
        close(pfd[0]);
        if (setgroups(n, g) || setresgid(65534, 65534, 65534) ||
            setresuid(65534, 65534, 65534) || (fd = connect_to(fx->path)) < 0)
            _exit(2);
        if (send(fd, req, strlen(req), 0) < 0)
            _exit(3);
        while ((k = recv(fd, buf + len, sizeof buf - 1 - len, 0)) > 0)
            len += (size_t)k;
        if (write(pfd[1], buf, len) < 0)
            _exit(4);
        _exit(0);
    }
    close(pfd[1]);
    for (int i = 0; i < 400; i++) {
        int st;
        agg_admin_serve(fx->ad);
        if (waitpid(pid, &st, WNOHANG) == pid) {
            assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
            pid = 0;
            break;
        }
        usleep(5000);
    }
    assert_int_equal(pid, 0);
    while ((k = read(pfd[0], answer + got, sizeof answer - 1 - got)) > 0)
        got += k;
    close(pfd[0]);
    answer[got] = 0;
    return answer;
}

static void
test_socket_as_other_user(void **state)
{
    fixture *fx = *state;
    agg_admin_access a = policy_split;
    const gid_t none[] = {65534}, reader[] = {200}, changer[] = {200, 300};
    char err[256];

    if (geteuid() != 0) {
        print_message("[  SKIP    ] not root: a client as another user over "
                      "the socket not run (the policy is checked above)\n");
        return;
    }
    agg_admin_close(&fx->ad);
    a.owner_uid = 0;
    assert_int_equal(agg_admin_open(&fx->ad, fx->path, fx->stats, &fx->ops, &a,
                                    err, sizeof err),
                     FR_OK);
    {
        struct stat st;
        assert_int_equal(lstat(fx->path, &st), 0);
        assert_int_equal(st.st_gid, 200); /* given to admin_group */
    }
    /* Only the credentials fence here: open the directory and the file. */
    assert_int_equal(chmod(fx->dir, 0755), 0);
    assert_int_equal(chmod(fx->path, 0666), 0);
    EXPECT(ask_as_nobody(fx, none, 1, "status\n"),
           "permission denied: uid 65534 is not the owner or in group "
           "fedrec");
    EXPECT(ask_as_nobody(fx, reader, 1, "status\n"), "{\"ok\":true,");
    EXPECT(ask_as_nobody(fx, reader, 1, "pause\n"),
           "permission denied: uid 65534 may run status, stores and regions only");
    assert_int_equal(fx->ops_log.pauses, 0);
    EXPECT(ask_as_nobody(fx, changer, 2, "pause\n"), "\"ok\":true");
    assert_int_equal(fx->ops_log.pauses, 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_fresh, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stores, setup, teardown),
        cmocka_unit_test_setup_teardown(test_regions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_control, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_serve_idle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_socket_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_socket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_ops, setup, teardown),
        cmocka_unit_test(test_policy),
        cmocka_unit_test(test_access_init),
        cmocka_unit_test_setup_teardown(test_handle_policy, setup, teardown),
        cmocka_unit_test(test_peer_credentials),
        cmocka_unit_test_setup_teardown(test_socket_as_other_user, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
