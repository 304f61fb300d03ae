/*
 * test_federation.c - the real fedrec-aggregator and five real
 * fedrec-client processes on loopback, under secure aggregation (the
 * default).
 *
 * Scenario: five allow-listed stores and one store whose key is not on the
 * allow-list. Round 1 runs with all five. In round 2 the store with the
 * large data set (so its local training takes seconds) is SIGKILLed while
 * training, after it has shared its keys: the round must still complete
 * with the four others (the aggregator rebuilds the dead store's mask key
 * from its neighbours' shares), and the global model in the checkpoint must
 * change. The aggregator is then
 * SIGKILLed and restarted: it must resume from its checkpoint, the surviving
 * stores must reconnect by themselves, and training must reach the
 * configured number of rounds with every round recorded exactly once.
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
#include "model/model.h"
#include "proc.h"

#define ROUNDS 6
#define ITEMS 2000
#define NCLIENTS 6

typedef struct fed {
    char dir[64];
    char endpoint[64];
    char conf[128];
    char agg_log[128], agg_log2[128];
    char client_log[NCLIENTS][128];
    pid_t agg, client[NCLIENTS];
} fed;

/* BIG is the store with the large data set; the last one is not listed. */
#define BIG 2
#define INTRUDER 5
static const char *const store_names[NCLIENTS] = {
    "store01", "store02", "store03", "store04", "store05", "intruder"};

static void
path(char *out, size_t n, const fed *f, const char *rel)
{
    snprintf(out, n, "%s/%s", f->dir, rel);
}

/* The export a store imports: the big one for BIG, small ones otherwise. */
static void
export_of(const fed *f, int i, char *out, size_t n)
{
    if (i == BIG)
        snprintf(out, n, "%s/big/store-01.csv", f->dir);
    else
        snprintf(out, n, "%s/small/store-0%d.csv", f->dir,
                 i == INTRUDER ? 1 : i < BIG ? i + 1 : i);
}

/* Every store is a protected store: init (keys, data key), import of its
 * export, and the members' consents: all agree to training; in store01
 * only the first ten members agree to marketing. */
static void
setup_keys_and_data(fed *f)
{
    char cmd[2048], csv[160];

    snprintf(cmd, sizeof cmd,
             FR_BIN_DIR "/fedrec-keygen --name aggregator --dir %s/keys "
             ">/dev/null 2>&1", f->dir);
    assert_int_equal(proc_run(cmd), 0);
    /* Four small stores, and one large enough that training takes
     * seconds. */
    snprintf(cmd, sizeof cmd,
             FR_BIN_DIR "/fedrec-datagen --stores 4 --seed 11 --members 150 "
             "--items %d --out %s/small >/dev/null", ITEMS, f->dir);
    assert_int_equal(proc_run(cmd), 0);
    snprintf(cmd, sizeof cmd,
             FR_BIN_DIR "/fedrec-datagen --stores 1 --seed 12 --members 20000 "
             "--items %d --interactions 30 --out %s/big >/dev/null", ITEMS,
             f->dir);
    assert_int_equal(proc_run(cmd), 0);
    for (int i = 0; i < NCLIENTS; i++) {
        export_of(f, i, csv, sizeof csv);
        /* The intruder's allow-list line goes nowhere. */
        snprintf(cmd, sizeof cmd,
                 "set -e; B=" FR_BIN_DIR "; S=%s/st-%s;"
                 "$B/fedrec-client init --store $S --name %s --n_items %d "
                 "--connect %s --server_key %s/keys/aggregator.pub "
                 ">>%s/%s 2>/dev/null;"
                 "$B/fedrec-client import --store $S %s >/dev/null;"
                 "awk -F, 'NR > 1 && !seen[$1]++ { print $1 \",training,grant\";"
                 "  if (%d && ++m <= 10) print $1 \",marketing,grant\" }' %s"
                 " > %s/consent-%d.csv;"
                 "$B/fedrec-client consent import --store $S %s/consent-%d.csv"
                 " >/dev/null",
                 f->dir, store_names[i], store_names[i], ITEMS, f->endpoint,
                 f->dir, f->dir, i != INTRUDER ? "allowlist" : "unlisted",
                 csv, i == 0, csv, f->dir, i, f->dir, i);
        assert_int_equal(proc_run(cmd), 0);
    }
}

static void
write_config(fed *f)
{
    FILE *c = fopen(f->conf, "w");

    assert_non_null(c);
    fprintf(c,
            "listen %s\nkey_file %s/keys/aggregator.key\n"
            "allowlist %s/allowlist\nstate_dir %s/agg\nhttp_listen 127.0.0.1:0\n"
            "n_items %d\ndim 16\nrounds %d\nmin_stores 4\n"
            "start_delay_ms 1500\nheartbeat_timeout_ms 3000\n"
            "round_timeout_ms 120000\nlocal_epochs 2\n",
            f->endpoint, f->dir, f->dir, f->dir, ITEMS, ROUNDS);
    fclose(c);
}

static pid_t
start_aggregator(fed *f, const char *log)
{
    char *argv[] = {FR_BIN_DIR "/fedrec-aggregator", "--config", f->conf,
                    NULL};
    return proc_start(argv, log);
}

static pid_t
start_client(fed *f, int i)
{
    char store[160];
    char *argv[8];
    int n = 0;

    snprintf(store, sizeof store, "--store=%s/st-%s", f->dir, store_names[i]);
    argv[n++] = FR_BIN_DIR "/fedrec-client";
    argv[n++] = "run";
    argv[n++] = store;
    argv[n++] = "--heartbeat_ms=200";
    argv[n] = NULL;
    return proc_start(argv, f->client_log[i]);
}

static void
load_ck(fed *f, checkpoint *ck)
{
    char p[160];
    path(p, sizeof p, f, "agg/checkpoint.bin");
    assert_int_equal(checkpoint_load(p, ck), FR_OK);
}

static int
models_differ(const fr_model *a, const fr_model *b)
{
    return memcmp(fr_model_params_const(a), fr_model_params_const(b),
                  fr_model_n_params(a) * sizeof(float)) != 0;
}

/* Waits for "round N completed" and returns that line in out. */
static void
wait_round(const char *log, int n, char *out, size_t len)
{
    char needle[64];
    snprintf(needle, sizeof needle, "round %d completed", n);
    assert_true(proc_wait_for(log, needle, 1, 120000));
    assert_true(proc_find_line(log, needle, 1, out, len));
}

static void
check_history(fed *f)
{
    char p[160];
    char *text;
    int seen[ROUNDS + 1] = {0};

    path(p, sizeof p, f, "agg/history.tsv");
    text = proc_read_file(p);
    assert_non_null(text);
    for (char *line = strchr(text, '\n'); line && line[1];
         line = strchr(line + 1, '\n')) {
        int r = atoi(line + 1);
        assert_in_range(r, 1, ROUNDS);
        seen[r]++;
    }
    for (int r = 1; r <= ROUNDS; r++)
        assert_int_equal(seen[r], 1); /* none lost, none applied twice */
    free(text);
}

/* Runs a fedrec-client serving command for store01 into out_path. */
static void
serve_cmd(fed *f, const char *args, const char *out_path)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             FR_BIN_DIR "/fedrec-client %s --store=%s/st-store01 >%s "
             "2>/dev/null", args, f->dir, out_path);
    assert_int_equal(proc_run(cmd), 0);
}

/* recommend, score and segment read the same saved state through the same
 * scoring path: the scores recommend prints are the ones score computes. */
static void
check_serving(fed *f)
{
    char rec[160], lst[160], sc[160], seg[160], line[4096], cmd[4096];
    char *text, *p, *save = NULL;
    unsigned items[10];
    double rscore[10];
    int n = 0, len;
    FILE *out;

    snprintf(rec, sizeof rec, "%s/rec.tsv", f->dir);
    snprintf(lst, sizeof lst, "%s/list.txt", f->dir);
    snprintf(sc, sizeof sc, "%s/score.tsv", f->dir);
    snprintf(seg, sizeof seg, "%s/seg.tsv", f->dir);
    serve_cmd(f, "recommend --member M01-000001 --top 10", rec);
    text = proc_read_file(rec);
    assert_non_null(text);
    for (p = strtok_r(text, "\n", &save); p; p = strtok_r(NULL, "\n", &save))
        if (n < 10 && sscanf(p, "%*u\t%u\t%lf", &items[n], &rscore[n]) == 2)
            n++;
    free(text);
    assert_int_equal(n, 10);
    for (int i = 1; i < n; i++)
        assert_true(rscore[i] <= rscore[i - 1]);
    len = snprintf(line, sizeof line, "(M01-000001,%u)", items[0]);
    for (int i = 1; i < n; i++)
        len += snprintf(line + len, sizeof line - (size_t)len, "\t%u",
                        items[i]);
    out = fopen(lst, "w");
    assert_non_null(out);
    fprintf(out, "%s\n", line);
    fclose(out);
    snprintf(line, sizeof line, "score --input %s", lst);
    serve_cmd(f, line, sc);
    text = proc_read_file(sc);
    assert_non_null(text);
    p = text;
    for (int i = 0; i < n; i++) {
        double v = strtod(p, &p);
        assert_true(v > rscore[i] - 1e-5 && v < rscore[i] + 1e-5);
    }
    free(text);
    /* A segment lists only members who consent to marketing (the first ten
     * of store01) and who have not bought the item, as pseudonyms. */
    snprintf(line, sizeof line, "segment --item %u --top 50", items[0]);
    serve_cmd(f, line, seg);
    assert_in_range(proc_count(seg, "\n"), 2, 11);
    snprintf(cmd, sizeof cmd,
             "cd %s && B=" FR_BIN_DIR " && S=st-store01 && "
             "pseud() { while read m; do $B/fedrec-client pseudonym "
             "--store $S --member $m; done; } && "
             "awk -F, 'NR > 1 && !s[$1]++ && ++m <= 10 { print $1 }' "
             "small/store-01.csv | pseud | sort > market.txt && "
             "awk -F, -v it=%u 'NR > 1 && $2 == it { print $1 }' "
             "small/store-01.csv | sort -u | pseud | sort > bought.txt && "
             "tail -n +2 seg.tsv | cut -f2 | sort > segm.txt && "
             "test -z \"$(comm -23 segm.txt market.txt)\" && "
             "test -z \"$(comm -12 segm.txt bought.txt)\"",
             f->dir, items[0]);
    assert_int_equal(proc_run(cmd), 0);
    /* A member without marketing consent gets no recommendations. */
    snprintf(cmd, sizeof cmd,
             FR_BIN_DIR "/fedrec-client recommend --store=%s/st-store01 "
             "--member M01-000011 >/dev/null 2>&1", f->dir);
    assert_int_not_equal(proc_run(cmd), 0);
}

static fed f; /* file scope so the teardown can stop what a failure left */

static int
stop_all(void **state)
{
    (void)state;
    for (int i = 0; i < NCLIENTS; i++)
        if (f.client[i] > 0)
            proc_stop(f.client[i], SIGKILL, 5000);
    if (f.agg > 0)
        proc_stop(f.agg, SIGKILL, 5000);
    return 0;
}

static void
test_federation(void **state)
{
    checkpoint before = {0}, after = {0}, crash = {0}, final = {0};
    char line[1024], p[160], fpr[FR_CRYPTO_FPR_CHARS + 1];
    uint8_t pk[FR_CRYPTO_PK_BYTES];
    int status;
    (void)state;

    snprintf(f.dir, sizeof f.dir, "/tmp/fr-fed-XXXXXX");
    assert_non_null(mkdtemp(f.dir));
    snprintf(f.endpoint, sizeof f.endpoint, "tcp://127.0.0.1:%d",
             proc_free_port());
    path(f.conf, sizeof f.conf, &f, "aggregator.conf");
    path(f.agg_log, sizeof f.agg_log, &f, "aggregator.log");
    path(f.agg_log2, sizeof f.agg_log2, &f, "aggregator-restarted.log");
    for (int i = 0; i < NCLIENTS; i++) {
        char rel[64];
        snprintf(rel, sizeof rel, "%s.log", store_names[i]);
        path(f.client_log[i], sizeof f.client_log[i], &f, rel);
    }
    setup_keys_and_data(&f);
    write_config(&f);

    /* Stores first, so that all of them are connected for round 1. */
    for (int i = 0; i < NCLIENTS; i++) {
        f.client[i] = start_client(&f, i);
        assert_true(proc_wait_for(f.client_log[i], "store client running", 1,
                                  60000));
    }
    f.agg = start_aggregator(&f, f.agg_log);

    /* Round 1: all five allow-listed stores take part. */
    wait_round(f.agg_log, 1, line, sizeof line);
    assert_non_null(strstr(line, "5/5 stores"));
    assert_true(proc_count(f.agg_log, "started securely: 5 stores") >= 1);
    load_ck(&f, &before);
    assert_int_equal(before.completed_rounds, 1);

    /* The store outside the allow-list was refused at the handshake and
     * logged by fingerprint. */
    path(p, sizeof p, &f, "st-intruder/keys/intruder.pub");
    assert_int_equal(fr_crypto_public_load(p, pk), FR_OK);
    fr_crypto_fingerprint(pk, fpr);
    assert_true(proc_wait_for(f.agg_log, fpr, 1, 10000));

    /* Round 2: kill the large store while it trains. */
    assert_true(proc_wait_for(f.client_log[BIG], "local epoch(s)", 2, 120000));
    usleep(300 * 1000); /* its keys and shares are out by now */
    kill(f.client[BIG], SIGKILL);
    proc_wait(f.client[BIG], 10000);
    f.client[BIG] = 0;
    assert_int_equal(proc_count(f.client_log[BIG], "masked update sent"), 1);
    wait_round(f.agg_log, 2, line, sizeof line);
    assert_non_null(strstr(line, "4/5 stores"));
    assert_true(proc_count(f.agg_log, "dropped in the masked input phase") >=
                1);
    load_ck(&f, &after);
    assert_int_equal(after.completed_rounds, 2);
    assert_true(models_differ(before.model, after.model));

    /* Crash the aggregator after round 3 and restart it. */
    wait_round(f.agg_log, 3, line, sizeof line);
    kill(f.agg, SIGKILL);
    proc_wait(f.agg, 10000);
    f.agg = 0;
    load_ck(&f, &crash);
    assert_in_range(crash.completed_rounds, 3, ROUNDS - 1);
    snprintf(line, sizeof line, "resumed from checkpoint: %llu rounds",
             (unsigned long long)crash.completed_rounds);
    f.agg = start_aggregator(&f, f.agg_log2);
    assert_true(proc_wait_for(f.agg_log2, line, 1, 10000));

    /* The surviving stores reconnect on their own and training finishes. */
    status = proc_wait(f.agg, 180000);
    assert_true(status != -1 && WIFEXITED(status));
    f.agg = 0;
    assert_int_equal(WEXITSTATUS(status), 0);
    wait_round(f.agg_log2, ROUNDS, line, sizeof line);
    assert_non_null(strstr(line, "4/4 stores"));
    load_ck(&f, &final);
    assert_int_equal(final.completed_rounds, ROUNDS);
    assert_true(models_differ(crash.model, final.model));
    check_history(&f);

    /* Serve only once store01 has refit its members to the final model, so
     * its saved state does not change between the commands. */
    assert_true(proc_wait_for(f.client_log[0], "members refit",
                              proc_count(f.client_log[0], "rounds done"),
                              60000));
    check_serving(&f);

    /* Clients stop cleanly on SIGTERM. */
    for (int i = 0; i < NCLIENTS; i++) {
        if (i == BIG)
            continue;
        status = proc_stop(f.client[i], SIGTERM, 10000);
        f.client[i] = 0;
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    /* The intruder never took part. */
    assert_int_equal(proc_count(f.client_log[INTRUDER], "update sent"), 0);
    /* Member ids never reach the aggregator's logs. */
    assert_int_equal(proc_count(f.agg_log, "M01-"), 0);
    assert_int_equal(proc_count(f.agg_log2, "M01-"), 0);

    checkpoint_clear(&before);
    checkpoint_clear(&after);
    checkpoint_clear(&crash);
    checkpoint_clear(&final);
    snprintf(line, sizeof line, "rm -rf %s", f.dir);
    proc_run(line);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_federation, stop_all),
    };
    signal(SIGPIPE, SIG_IGN);
    if (fr_crypto_init() != FR_OK)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
