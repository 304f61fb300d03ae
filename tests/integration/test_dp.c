/*
 * test_dp.c - member-level differential privacy with the real binaries.
 *
 * Five protected stores, secure aggregation, DP on with a small budget.
 * The test computes, with the accountant, how many rounds the budget pays
 * for, and checks that:
 *   - the aggregator runs exactly that many rounds, then stops with
 *     "training stopped" (exit 0), its ledger at or under the budget and
 *     one more round over it;
 *   - fedrec-ctl status reports the DP budget while it runs;
 *   - store05, whose own budget is lower, refuses the first round its
 *     ledger cannot pay for ("DP budget exhausted") and sends nothing
 *     more, while the others go on without it;
 *   - every store's ledger is 0600, holds no member id, and stays within
 *     its budget;
 *   - the budget survives a restart: a restarted aggregator stops at once,
 *     without another round.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dp/accountant.h"
#include "dp/ledger.h"
#include "proc.h"

#define ITEMS         300
#define NSTORES       5
#define MEMBERS       600 /* dp_members: public estimate */
#define BUDGET        3.0 /* the aggregator's */
#define STORE5_BUDGET 2.2
#define DELTA         1e-5
#define CLIP          0.5
#define NOISE         3.0

static char dir[64], endpoint[64], conf[128], agg_log[128];
static char client_log[NSTORES][128];
static pid_t agg, client[NSTORES];

static void
write_config(void)
{
    FILE *c = fopen(conf, "w");

    assert_non_null(c);
    fprintf(c,
            "listen %s\nkey_file %s/keys/aggregator.key\n"
            "allowlist %s/allowlist\nstate_dir %s/agg\n"
            "http_listen 127.0.0.1:0\n"
            "n_items %d\ndim 8\nrounds 50\nmin_stores 4\n"
            "start_delay_ms 1000\nheartbeat_timeout_ms 2000\n"
            "retry_delay_ms 300\nround_timeout_ms 60000\n"
            "secagg_phase_timeout_ms 1500\nlocal_epochs 1\n"
            "dp_epsilon_budget %g\ndp_delta %g\ndp_members %d\n"
            "dp_clip %g\ndp_noise_multiplier %g\ndp_max_dropouts 1\n",
            endpoint, dir, dir, dir, ITEMS, BUDGET, DELTA, MEMBERS, CLIP,
            NOISE);
    fclose(c);
}

/* How many rounds of n invited stores the budget pays for, and the RDP of
 * one round. */
static int
affordable_rounds(uint32_t n, double budget, double *rdp_round)
{
    fr_dp_design_in in = {.clip = CLIP,
                          .noise_multiplier = NOISE,
                          .n_invited = n,
                          .t_drop = 1,
                          .t_collude = 0,
                          .model_params = (uint64_t)ITEMS * 8 + ITEMS,
                          .signal_l2 = MEMBERS * CLIP,
                          .p_wrap = 2e-9,
                          .q = 1.0};
    fr_dp_design d;
    fr_dp_orders o;
    double total[FR_DP_MAX_ORDERS] = {0}, eps;
    char err[256];
    int r = 0;

    fr_dp_orders_ddg(&o);
    assert_int_equal(fr_dp_design_round(&in, &d, err, sizeof err), FR_OK);
    assert_int_equal(fr_dp_design_rdp(&d, 1.0, &o, rdp_round), FR_OK);
    for (;;) {
        for (size_t i = 0; i < o.n; i++)
            total[i] += rdp_round[i];
        assert_int_equal(fr_dp_epsilon(&o, total, DELTA, &eps, NULL), FR_OK);
        if (eps > budget)
            return r;
        r++;
    }
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

static pid_t
start_aggregator(const char *log)
{
    return proc_start((char *[]){FR_BIN_DIR "/fedrec-aggregator", "--config",
                                 conf, "--log_format=human", NULL},
                      log);
}

/* Opens a ledger read back from disk and returns its epsilon. */
static double
ledger_epsilon(const char *path, double budget_at_most, size_t *rounds)
{
    fr_dp_orders o;
    fr_dp_ledger *l = NULL;
    char err[256];
    double eps = -1;
    struct stat st;

    fr_dp_orders_ddg(&o);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(
        fr_dp_ledger_open(&l, path, &o, DELTA, budget_at_most, err, sizeof err),
        FR_OK);
    assert_int_equal(fr_dp_ledger_epsilon(l, NULL, &eps), FR_OK);
    *rounds = fr_dp_ledger_rounds(l);
    fr_dp_ledger_close(&l);
    return eps;
}

static void
test_dp(void **state)
{
    double rdp[FR_DP_MAX_ORDERS];
    char p[192], cmd[512], line[2048], *status_json;
    int want, want5, status, completed, abandoned;
    size_t rounds;
    double eps;
    (void)state;

    snprintf(dir, sizeof dir, "/tmp/fr-dp-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", proc_free_port());
    snprintf(conf, sizeof conf, "%s/aggregator.conf", dir);
    snprintf(agg_log, sizeof agg_log, "%s/aggregator.log", dir);
    for (int i = 0; i < NSTORES; i++)
        snprintf(client_log[i], sizeof client_log[i], "%s/client%d.log", dir,
                 i + 1);
    assert_int_equal(
        proc_make_stores(FR_BIN_DIR, dir, NSTORES, ITEMS, 100, 31, endpoint),
        0);
    write_config();
    want = affordable_rounds(NSTORES, BUDGET, rdp);
    want5 = affordable_rounds(NSTORES, STORE5_BUDGET, rdp);
    assert_true(want5 >= 1 && want5 < want); /* the scenario needs both */
    print_message("budget %.2f pays for %d rounds; store05's %.2f for %d\n",
                  BUDGET, want, STORE5_BUDGET, want5);

    for (int i = 0; i < NSTORES; i++) {
        char store[160], budget[64];
        snprintf(store, sizeof store, "--store=%s/st-store0%d", dir, i + 1);
        snprintf(budget, sizeof budget, "--dp_epsilon_budget=%g",
                 i == NSTORES - 1 ? STORE5_BUDGET : 0.0);
        client[i] =
            proc_start((char *[]){FR_BIN_DIR "/fedrec-client", "run", store,
                                  "--heartbeat_ms=200", budget, NULL},
                       client_log[i]);
    }
    agg = start_aggregator(agg_log);

    /* While it runs: fedrec-ctl reports the budget. Paused after round 1
     * so the answer is not racing the end of training. */
    assert_true(proc_wait_for(agg_log, "round 1 completed", 1, 60000));
    snprintf(cmd, sizeof cmd,
             FR_BIN_DIR
             "/fedrec-ctl --config %s pause >/dev/null && " FR_BIN_DIR
             "/fedrec-ctl --config %s --json status > %s/st.json",
             conf, conf, dir);
    assert_int_equal(proc_run(cmd), 0);
    snprintf(p, sizeof p, "%s/st.json", dir);
    status_json = proc_read_file(p);
    assert_non_null(status_json);
    assert_non_null(strstr(status_json, "\"enabled\":true"));
    assert_non_null(strstr(status_json, "epsilon_spent"));
    free(status_json);
    snprintf(cmd, sizeof cmd,
             FR_BIN_DIR "/fedrec-ctl --config %s resume >/dev/null", conf);
    assert_int_equal(proc_run(cmd), 0);

    /* The budget runs out: exactly `want` rounds are charged, a clean stop.
     * A round an invited store declines (store05, out of budget, may be
     * invited when another store's heartbeat is late) is abandoned but
     * stays charged, so completed + abandoned rounds make `want`. */
    status = proc_wait(agg, 120000);
    agg = 0;
    assert_true(status != -1 && WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(proc_count(agg_log, "training stopped"), 1);
    assert_int_equal(proc_count(agg_log, "privacy budget exhausted"), 1);
    /* the unaffordable round ends quietly: nothing went out for it */
    assert_int_equal(proc_count(agg_log, "could not start"), 0);
    completed = proc_count(agg_log, " completed (id ");
    abandoned = proc_count(agg_log, " abandoned (");
    print_message("%d rounds completed, %d abandoned\n", completed, abandoned);
    assert_true(completed >= 1);
    assert_int_equal(completed + abandoned, want);
    snprintf(line, sizeof line, "(completed=%d)", completed);
    assert_int_equal(proc_count(agg_log, line), 1);
    snprintf(line, sizeof line, "round %d completed", completed);
    assert_int_equal(proc_count(agg_log, line), 1);
    snprintf(line, sizeof line, "round %d completed", completed + 1);
    assert_int_equal(proc_count(agg_log, line), 0);
    snprintf(p, sizeof p, "%s/agg/privacy.ledger", dir);
    eps = ledger_epsilon(p, BUDGET, &rounds);
    assert_true(eps <= BUDGET);
    assert_int_equal(rounds, (size_t)want); /* abandoned rounds stay charged */

    /* store05 stopped at its own budget and said why; the rounds after it
     * ran with four stores. */
    assert_true(proc_wait_for(client_log[NSTORES - 1], "DP budget exhausted", 1,
                              10000));
    snprintf(line, sizeof line, "round %d completed", completed);
    assert_true(proc_find_line(agg_log, line, 1, line, sizeof line));
    assert_non_null(strstr(line, " 4/"));
    snprintf(p, sizeof p, "%s/st-store05/privacy.ledger", dir);
    eps = ledger_epsilon(p, STORE5_BUDGET, &rounds);
    assert_true(eps <= STORE5_BUDGET);
    assert_int_equal(rounds, (size_t)want5);
    for (int i = 1; i < NSTORES; i++) {
        snprintf(p, sizeof p, "%s/st-store0%d/privacy.ledger", dir, i);
        eps = ledger_epsilon(p, BUDGET, &rounds);
        assert_true(eps <= BUDGET);
        assert_int_equal(proc_count(p, "M0"), 0); /* no member ids */
    }

    /* The spent budget survives a restart: no further round. */
    snprintf(p, sizeof p, "%s/aggregator-restarted.log", dir);
    agg = start_aggregator(p);
    status = proc_wait(agg, 60000);
    agg = 0;
    assert_true(status != -1 && WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(proc_count(p, "training stopped"), 1);
    assert_int_equal(proc_count(p, "completed ("), 0);

    stop_all(NULL);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    proc_run(cmd);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_dp, stop_all),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
