/*
 * test_ctl.c - the real fedrec-ctl binary.
 *
 * Without a daemon: the command line (help, usage errors, --config), and
 * the clear message and exit code for a missing socket, a stale one, one
 * the operator may not open, and one where nothing answers in time. Then
 * against an admin socket served by this test (server/admin.c with known
 * figures) for the readable and --json output.
 *
 * With the real fedrec-aggregator and four protected stores: status and
 * stores follow the rounds; pause stops new rounds until resume; checkpoint
 * rewrites the checkpoint file; revoke store04 drops that store at once
 * (rounds go on with three), and after a restart the allow-list no longer
 * admits it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "admin.h"
#include "crypto/crypto.h"
#include "proc.h"
#include "stats.h"

#define NSTORES 4

static char dir[64];
static char out_path[128];
static pid_t agg_pid, client_pid[NSTORES];

/* ---- running fedrec-ctl ---- */

/* Runs "fedrec-ctl ARGS" with stdout and stderr in out_path; returns the
 * exit code and the output (malloc'd) in *text. */
static int
ctl(const char *args, char **text)
{
    char cmd[1024];
    int code;

    snprintf(cmd, sizeof cmd,
             "cd %s && " FR_BIN_DIR "/fedrec-ctl %s >%s "
             "2>&1",
             dir, args, out_path);
    code = proc_run(cmd);
    *text = proc_read_file(out_path);
    assert_non_null(*text);
    return code;
}

/* Runs a command line (prefix, then fedrec-ctl ARGS) and checks the exit
 * code and that the output contains want. */
static void
expect_as(const char *prefix, const char *args, int want_code, const char *want)
{
    char cmd[1024], *text;
    int code;

    snprintf(cmd, sizeof cmd,
             "cd %s && %s " FR_BIN_DIR "/fedrec-ctl %s >%s "
             "2>&1",
             dir, prefix, args, out_path);
    code = proc_run(cmd);
    text = proc_read_file(out_path);
    assert_non_null(text);
    if (code != want_code || !strstr(text, want)) {
        static char seen[4096];
        snprintf(seen, sizeof seen, "%s", text);
        free(text);
        fail_msg("'fedrec-ctl %s' exited %d (want %d) saying:\n%s"
                 "(want '%s')",
                 args, code, want_code, seen, want);
    }
    free(text);
}

static void
expect(const char *args, int want_code, const char *want)
{
    expect_as("", args, want_code, want);
}

/* A socket file bound at path; listening (fd returned) or left stale. */
static int
make_socket(const char *path, int listening)
{
    struct sockaddr_un sa;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    assert_true(fd >= 0 && strlen(path) < sizeof sa.sun_path);
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, strlen(path));
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    if (!listening) {
        close(fd);
        return -1;
    }
    assert_int_equal(listen(fd, 4), 0);
    return fd;
}

static void
test_without_daemon(void **state)
{
    char args[512], want[512], p[160];
    FILE *f;
    int fd;
    (void)state;

    expect("--help", 0, "usage: fedrec-ctl [--socket PATH | --config");
    expect("", 2, "no command given");
    expect("reboot", 2, "unknown command reboot");
    expect("revoke", 2, "usage: revoke STORE");
    expect("status now", 2, "usage: status");
    expect("--bogus status", 2, "unknown option --bogus");
    expect("--timeout 0 status", 2, "--timeout: expected whole seconds");
    expect("--socket a --config b status", 2, "not both");
    expect("--socket x.sock revoke ../etc", 2, "'../etc' is not a store name");

    snprintf(args, sizeof args, "--socket %s/none.sock status", dir);
    snprintf(want, sizeof want,
             "the aggregator is not running (no socket at "
             "%s/none.sock)",
             dir);
    expect(args, 3, want);

    /* The socket the aggregator's config names: STATE_DIR/admin.sock. */
    snprintf(p, sizeof p, "%s/a.conf", dir);
    f = fopen(p, "w");
    assert_non_null(f);
    fprintf(f, "# an aggregator's config\nstate_dir st\n");
    fclose(f);
    expect("--config a.conf stores", 3,
           "the aggregator is not running (no socket at st/admin.sock)");
    expect("--config=missing.conf status", 2, "missing.conf");
    snprintf(p, sizeof p, "%s/empty.conf", dir);
    fclose(fopen(p, "w"));
    expect("--config empty.conf status", 2,
           "sets neither admin_socket nor state_dir");

    /* A socket file nothing listens on. */
    snprintf(p, sizeof p, "%s/stale.sock", dir);
    make_socket(p, 0);
    snprintf(args, sizeof args, "--socket %s status", p);
    snprintf(want, sizeof want,
             "nothing answers on %s: the aggregator is not "
             "running (stale socket)",
             p);
    expect(args, 3, want);

    /* Something accepts but never answers. */
    snprintf(p, sizeof p, "%s/mute.sock", dir);
    fd = make_socket(p, 1);
    snprintf(args, sizeof args, "--timeout 1 --socket %s status", p);
    snprintf(want, sizeof want,
             "no answer from the aggregator at %s within "
             "1 s",
             p);
    expect(args, 3, want);

    /* A user outside the socket's group: run as nobody when we are root
     * (root passes every permission check), else take our own rights. */
    chmod(dir, 0755);
    chmod(p, 0660);
    snprintf(args, sizeof args, "--socket %s status", p);
    snprintf(want, sizeof want,
             "permission denied on %s: operators need to "
             "be in the aggregator's group",
             p);
    if (geteuid() == 0)
        expect_as("setpriv --reuid=65534 --regid=65534 --clear-groups", args, 3,
                  want);
    else {
        chmod(p, 0);
        expect(args, 3, want);
    }
    close(fd);
}

/* ---- an admin socket served by this test ---- */

typedef struct served {
    agg_admin *ad;
    atomic_int stop;
} served;

static void *
serve_thread(void *arg)
{
    served *s = arg;
    while (!atomic_load(&s->stop)) {
        agg_admin_serve(s->ad);
        usleep(5000);
    }
    return NULL;
}

static fr_err
refuse_revoke(void *arg, const char *store, char *msg, size_t cap)
{
    (void)arg;
    snprintf(msg, cap, "no store named %s in the allow-list", store);
    return FR_ENOENT;
}

static fr_err
fake_pause(void *arg, int pause, char *msg, size_t cap)
{
    (void)arg;
    snprintf(msg, cap, pause ? "paused: no new round starts" : "resumed");
    return FR_OK;
}

static void
fill(agg_stats *st)
{
    agg_round_info r = {0};
    agg_store_info s[2];

    agg_stats_set_static(st, 1, 50);
    agg_stats_set_state(st, "collecting", "masked_input", 12, 11, 2);
    r.round = 11;
    r.round_id = 12;
    r.stores = 2;
    r.hr10 = 0.25;
    r.ndcg10 = 0.125;
    r.loss = 0.5;
    r.seconds = 1.25;
    agg_stats_add_round(st, &r);
    memset(s, 0, sizeof s);
    snprintf(s[0].name, sizeof s[0].name, "store01");
    s[0].connected = s[0].selected = 1;
    s[0].rounds_joined = 7;
    s[0].examples = 1234;
    snprintf(s[1].name, sizeof s[1].name, "a-longer-store-name");
    agg_stats_set_stores(st, s, 2);
    agg_stats_set_dp(st, 1, 1.5, 8, 1e-6);
}

static void
test_output(void **state)
{
    agg_admin_ops ops = {NULL, fake_pause, refuse_revoke, NULL};
    agg_stats *st = NULL;
    served s = {0};
    pthread_t th;
    char p[160], err[256], args[256];
    char *text;
    (void)state;

    snprintf(p, sizeof p, "%s/fake.sock", dir);
    assert_int_equal(agg_stats_new(&st), FR_OK);
    fill(st);
    assert_int_equal(agg_admin_open(&s.ad, p, st, &ops, NULL, err, sizeof err),
                     FR_OK);
    assert_int_equal(pthread_create(&th, NULL, serve_thread, &s), 0);

    snprintf(args, sizeof args, "--socket %s status", p);
    expect(args, 0, "state:           collecting (phase masked_input)\n");
    expect(args, 0, "completed:       11 of 50 rounds\n");
    expect(args, 0, "stores:          2 known, 1 connected, 2 selected\n");
    expect(args, 0,
           "last round:      #11, 2 stores, 1.25 s: HR@10 0.2500, "
           "NDCG@10 0.1250, loss 0.5000\n");
    expect(args, 0, "privacy:         epsilon 1.5 of 8 spent, delta 1e-06\n");
    expect(args, 0, "last checkpoint: never\n");
    snprintf(args, sizeof args, "--json --socket %s status", p);
    expect(args, 0, "{\"ok\":true,\"state\":\"collecting\"");
    snprintf(args, sizeof args, "--socket=%s stores", p);
    assert_int_equal(ctl(args, &text), 0);
    assert_non_null(strstr(text, "STORE                CONNECTED"));
    assert_non_null(strstr(text, "store01              yes        yes"));
    assert_non_null(strstr(text, "a-longer-store-name  no         no        "
                                 "never"));
    free(text);
    snprintf(args, sizeof args, "--socket %s pause", p);
    expect(args, 0, "paused: no new round starts\n");
    /* A refused command: exit 1, the aggregator's reason. */
    snprintf(args, sizeof args, "--socket %s revoke store09", p);
    expect(args, 1, "fedrec-ctl: no store named store09 in the allow-list");
    snprintf(args, sizeof args, "--json --socket %s revoke store09", p);
    expect(args, 1, "{\"ok\":false,\"error\":\"no store named store09");
    snprintf(args, sizeof args, "--socket %s checkpoint", p);
    expect(args, 1, "fedrec-ctl: ");

    atomic_store(&s.stop, 1);
    pthread_join(th, NULL);
    agg_admin_close(&s.ad);
    agg_stats_destroy(&st);
}

/* ---- the real aggregator ---- */

static char conf[160], agg_log[160], agg_log2[160];

static void
start_stores(const char *endpoint)
{
    char cmd[2048], store[160], log[160];

    snprintf(cmd, sizeof cmd,
             "set -e; cd %s; B=" FR_BIN_DIR ";"
             "$B/fedrec-keygen --name aggregator --dir keys >/dev/null 2>&1;"
             "$B/fedrec-datagen --stores %d --seed 5 --members 120 --items 300"
             " --out data >/dev/null;"
             "for i in 1 2 3 4; do S=$PWD/st-store0$i;"
             " $B/fedrec-client init --store $S --name store0$i --n_items 300"
             " --connect %s --server_key $PWD/keys/aggregator.pub >>allowlist"
             " 2>/dev/null;"
             " $B/fedrec-client import --store $S data/store-0$i.csv"
             " >/dev/null;"
             " awk -F, 'NR > 1 && !s[$1]++ { print $1 \",training,grant\" }'"
             " data/store-0$i.csv >consent-$i.csv;"
             " $B/fedrec-client consent import --store $S consent-$i.csv"
             " >/dev/null; done",
             dir, NSTORES, endpoint);
    assert_int_equal(proc_run(cmd), 0);
    for (int i = 0; i < NSTORES; i++) {
        char *argv[] = {FR_BIN_DIR "/fedrec-client", "run", store,
                        "--heartbeat_ms=200", NULL};
        snprintf(store, sizeof store, "--store=%s/st-store0%d", dir, i + 1);
        snprintf(log, sizeof log, "%s/store0%d.log", dir, i + 1);
        client_pid[i] = proc_start(argv, log);
        assert_true(client_pid[i] > 0);
    }
}

static pid_t
start_aggregator(const char *log)
{
    char *argv[] = {FR_BIN_DIR "/fedrec-aggregator", "--config", conf, NULL};
    return proc_start(argv, log);
}

/* `fedrec-ctl --json --config CONF ARGS`: the answer (malloc'd), or NULL
 * if the command failed. */
static char *
ctl_json(const char *args)
{
    char a[256], *text;

    snprintf(a, sizeof a, "--json --config %s %s", conf, args);
    if (ctl(a, &text) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

/* The integer after "key": in text, or -1. */
static long long
json_int(const char *text, const char *key)
{
    char needle[64];
    const char *p;

    snprintf(needle, sizeof needle, "\"%s\":", key);
    p = text ? strstr(text, needle) : NULL;
    return p ? strtoll(p + strlen(needle), NULL, 10) : -1;
}

static long long
completed(void)
{
    char *t = ctl_json("status");
    long long n = json_int(t, "completed");
    free(t);
    return n;
}

/* Waits up to timeout_ms until the completed count reaches n. */
static int
wait_completed(long long n, int timeout_ms)
{
    for (int waited = 0; waited < timeout_ms; waited += 200) {
        if (completed() >= n)
            return 1;
        usleep(200 * 1000);
    }
    return 0;
}

/* Number of stores with "connected":true, and whether name is one. */
static int
connected(const char *name, int *name_connected)
{
    char *t = ctl_json("stores"), needle[96];
    int n = 0;

    for (const char *p = t; p && (p = strstr(p, "\"connected\":true")); p++)
        n++;
    snprintf(needle, sizeof needle, "\"name\":\"%s\",\"connected\":true", name);
    *name_connected = t && strstr(t, needle) != NULL;
    free(t);
    return t ? n : -1;
}

static int
wait_connected(int want, const char *name, int name_want, int timeout_ms)
{
    int is;
    for (int waited = 0; waited < timeout_ms; waited += 200) {
        if (connected(name, &is) == want && is == name_want)
            return 1;
        usleep(200 * 1000);
    }
    return 0;
}

static int
wait_state_not(const char *state, int timeout_ms)
{
    char needle[64];
    snprintf(needle, sizeof needle, "\"state\":\"%s\"", state);
    for (int waited = 0; waited < timeout_ms; waited += 100) {
        char *t = ctl_json("status");
        int in = t && strstr(t, needle);
        free(t);
        if (t && !in)
            return 1;
        usleep(100 * 1000);
    }
    return 0;
}

/* The checkpoint file's identity: replaced atomically, a new write shows
 * as a new inode or a new mtime. */
static void
checkpoint_id(struct stat *out)
{
    char p[160];
    snprintf(p, sizeof p, "%s/agg/checkpoint.bin", dir);
    assert_int_equal(stat(p, out), 0);
}

static void
test_live(void **state)
{
    char endpoint[64], p[160], fpr[FR_CRYPTO_FPR_CHARS + 1], sock[160];
    uint8_t pk[FR_CRYPTO_PK_BYTES];
    struct stat before, after;
    char *t;
    long long c;
    FILE *f;
    (void)state;

    snprintf(endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", proc_free_port());
    snprintf(conf, sizeof conf, "%s/aggregator.conf", dir);
    snprintf(agg_log, sizeof agg_log, "%s/aggregator.log", dir);
    snprintf(agg_log2, sizeof agg_log2, "%s/aggregator-2.log", dir);
    start_stores(endpoint);
    f = fopen(conf, "w");
    assert_non_null(f);
    fprintf(f,
            "listen %s\nkey_file %s/keys/aggregator.key\n"
            "allowlist %s/allowlist\nstate_dir %s/agg\n"
            "http_listen 127.0.0.1:0\n"
            "n_items 300\ndim 8\nmin_stores 3\nsecagg no\n"
            "start_delay_ms 500\nheartbeat_timeout_ms 2000\n"
            "round_timeout_ms 30000\nretry_delay_ms 200\nlocal_epochs 1\n",
            endpoint, dir, dir, dir);
    fclose(f);
    agg_pid = start_aggregator(agg_log);

    /* The socket is STATE_DIR/admin.sock, mode 0660. */
    snprintf(sock, sizeof sock, "%s/agg/admin.sock", dir);
    for (int i = 0; i < 150 && access(sock, F_OK) != 0; i++)
        usleep(100 * 1000);
    {
        struct stat st;
        if (stat(sock, &st) != 0)
            fail_msg("the aggregator made no admin socket at %s", sock);
        assert_int_equal(st.st_mode & 07777, 0660);
    }

    /* status and stores follow the rounds. */
    assert_true(wait_connected(4, "store04", 1, 60000));
    assert_true(wait_completed(2, 120000));
    c = completed();
    assert_true(wait_completed(c + 1, 60000));
    assert_int_equal(ctl("--config aggregator.conf status", &t), 0);
    assert_non_null(strstr(t, "stores:          4 known, 4 connected"));
    assert_non_null(strstr(t, "secure agg:      off"));
    assert_non_null(strstr(t, "paused:          no"));
    free(t);
    assert_int_equal(ctl("--config aggregator.conf stores", &t), 0);
    for (int i = 1; i <= NSTORES; i++) {
        char row[32];
        snprintf(row, sizeof row, "store0%d  yes", i);
        assert_non_null(strstr(t, row));
    }
    free(t);

    /* pause: the round in progress ends, then no new one starts. */
    expect("--config aggregator.conf pause", 0, "");
    t = ctl_json("status");
    assert_non_null(t && strstr(t, "\"paused\":true"));
    free(t);
    assert_true(wait_state_not("collecting", 60000));
    c = completed();
    sleep(3);
    assert_int_equal(completed(), c);
    expect("--config aggregator.conf status", 0, "paused:          yes");

    /* checkpoint rewrites the file while nothing else does. */
    checkpoint_id(&before);
    usleep(20 * 1000);
    expect("--config aggregator.conf checkpoint", 0, "");
    checkpoint_id(&after);
    assert_true(after.st_ino != before.st_ino ||
                after.st_mtim.tv_sec != before.st_mtim.tv_sec ||
                after.st_mtim.tv_nsec != before.st_mtim.tv_nsec);
    expect("--config aggregator.conf status", 0, "last checkpoint: ");

    /* resume: rounds continue. */
    expect("--config aggregator.conf resume", 0, "");
    assert_true(wait_completed(c + 2, 60000));
    t = ctl_json("status");
    assert_non_null(t && strstr(t, "\"paused\":false"));
    free(t);

    /* revoke: store04 drops out, rounds go on with three. */
    expect("--config aggregator.conf revoke store99", 1, "fedrec-ctl: ");
    expect("--config aggregator.conf revoke store04", 0, "");
    assert_true(wait_connected(3, "store04", 0, 30000));
    c = completed();
    assert_true(wait_completed(c + 2, 60000));
    t = ctl_json("status");
    assert_non_null(t && strstr(t, "\"last_round\":{"));
    assert_int_equal(
        json_int(t ? strstr(t, "\"last_round\":") : NULL, "stores"), 3);
    free(t);

    /* Its allow-list line is commented out ... */
    snprintf(p, sizeof p, "grep -q '^store04 ' %s/allowlist", dir);
    assert_int_not_equal(proc_run(p), 0);
    snprintf(p, sizeof p, "grep -q '^store03 ' %s/allowlist", dir);
    assert_int_equal(proc_run(p), 0);
    /* ... so after a restart its handshakes are refused (logged by key
     * fingerprint). */
    assert_true(WIFEXITED(proc_stop(agg_pid, SIGTERM, 20000)));
    agg_pid = start_aggregator(agg_log2);
    c = completed();
    for (int i = 0; i < 150 && c < 0; i++, c = completed())
        usleep(100 * 1000);
    assert_true(c >= 0);
    assert_true(wait_completed(c + 2, 120000));
    assert_true(wait_connected(3, "store04", 0, 30000));
    snprintf(p, sizeof p, "%s/st-store04/keys/store04.pub", dir);
    assert_int_equal(fr_crypto_public_load(p, pk), FR_OK);
    fr_crypto_fingerprint(pk, fpr);
    assert_true(proc_wait_for(agg_log2, fpr, 1, 20000));

    /* A clean stop removes the socket. */
    assert_true(WIFEXITED(proc_stop(agg_pid, SIGTERM, 20000)));
    agg_pid = 0;
    assert_int_not_equal(access(sock, F_OK), 0);
    expect("--config aggregator.conf status", 3,
           "the aggregator is not running (no socket at");
}

static int
stop_all(void **state)
{
    (void)state;
    for (int i = 0; i < NSTORES; i++)
        if (client_pid[i] > 0)
            proc_stop(client_pid[i], SIGKILL, 5000);
    if (agg_pid > 0)
        proc_stop(agg_pid, SIGKILL, 5000);
    return 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_without_daemon),
        cmocka_unit_test(test_output),
        cmocka_unit_test_teardown(test_live, stop_all),
    };
    char cmd[128];
    int rc;

    signal(SIGPIPE, SIG_IGN);
    if (fr_crypto_init() != FR_OK)
        return 1;
    snprintf(dir, sizeof dir, "/tmp/fr-ctl-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    snprintf(out_path, sizeof out_path, "%s/out.txt", dir);
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    if (rc == 0) {
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        proc_run(cmd);
    }
    return rc;
}
