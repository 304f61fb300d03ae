/*
 * test_regions.c - nested secure aggregation with the real binaries: one
 * central fedrec-aggregator, three regional ones (mode regional) and their
 * stores, on loopback (docs/SECAGG.md "Regions").
 *
 * The nested sum is exact. Nine simulated stores in three regions send
 * reproducible updates (fedrec-simstores with fixed rounding coins,
 * bench/sim_update.h); the test computes what one flat aggregator would
 * apply from the same nine updates (each encoded for nine stores, summed
 * modulo 2^32, decoded, added to the initial model) and the central's
 * checkpoint must hold that model bit for bit. Any error in any word of
 * any region's sum, or in how the regions' sums are added, changes it.
 * The regions keep no model: no checkpoint, no history, no completed round
 * in their logs; the simulated stores end their run only because the
 * central's ROUND_END was forwarded to them.
 *
 * Real stores in a region: region 1 has three protected fedrec-client
 * stores on generated data, regions 2 and 3 simulated ones. Two rounds
 * complete; the weight word of each total is exactly the stores' example
 * counts added up across regions (the real ones as their regional
 * aggregator lists them); the model changes and stays finite; the real
 * stores receive the new global models and the region's quality figures
 * reach the central's history.
 *
 * Plain rounds (secagg no on the central) go through regions too: each
 * region sends its stores' weighted mean and total weight as one UPDATE;
 * the central's history counts every store and every training example.
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "checkpoint.h"
#include "crypto/crypto.h"
#include "model/model.h"
#include "proc.h"
#include "regions.h"
#include "secagg/quant.h"
#include "sim_update.h"

#define ITEMS 50
#define DIM 4
#define SEED 5          /* the central's model seed */
#define SIM_SEED 3      /* the simulated updates' */
#define COINS 7         /* their rounding coins' */
#define EXAMPLES 100    /* each simulated store's weight */
#define SCALE 0.02f
#define REAL_ITEMS 200 /* generated data needs room */
#define MEMBERS 40     /* per real store */

static fed f;

static int
teardown(void **state)
{
    (void)state;
    fed_kill_all(&f);
    fed_remove(&f);
    return 0;
}

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
load_ck(checkpoint *ck)
{
    char p[160];

    snprintf(p, sizeof p, "%s/central/checkpoint.bin", f.dir);
    assert_int_equal(checkpoint_load(p, ck), FR_OK);
}

/* The model a flat aggregator applies after round round_id of stores
 * 1..n: its initial model plus the decoded mean of their encodings. */
static fr_model *
flat_expectation(uint64_t round_id, uint32_t n)
{
    fr_model *m = NULL;
    size_t d;
    float *x, *mean;
    uint32_t *w, *sum;
    uint8_t coins[32];
    fr_quant q;
    uint64_t weight = 0;

    assert_int_equal(fr_model_new(&m, ITEMS, DIM), FR_OK);
    fr_model_init_random(m, SEED, 0.1f); /* init_scale's default */
    d = fr_model_n_params(m);
    x = malloc(d * sizeof *x);
    mean = malloc(d * sizeof *mean);
    w = malloc((d + 1) * sizeof *w);
    sum = calloc(d + 1, sizeof *sum);
    assert_true(x && mean && w && sum);
    /* secagg_clip's default; the weight cap lowered to the largest count */
    assert_int_equal(fr_quant_init(&q, n, 1000.0, EXAMPLES), FR_OK);
    for (uint32_t s = 1; s <= n; s++) {
        sim_update_make(x, d, SIM_SEED, round_id, s, SCALE);
        sim_update_coins(coins, COINS, round_id, s);
        assert_int_equal(fr_quant_encode(&q, x, d, EXAMPLES, coins, w, NULL),
                         FR_OK);
        for (size_t j = 0; j <= d; j++)
            sum[j] += w[j]; /* modulo 2^32, as the secure sum */
    }
    assert_int_equal(fr_quant_decode_mean(&q, sum, d, mean, &weight), FR_OK);
    assert_int_equal(weight, (uint64_t)n * EXAMPLES);
    for (size_t j = 0; j < d; j++)
        fr_model_params(m)[j] += 1.0f * mean[j]; /* server_lr 1 */
    free(x);
    free(mean);
    free(w);
    free(sum);
    return m;
}

static int
file_exists(const char *dir, const char *name)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

/* A region applies nothing: no model file, no history, no completed
 * round in its log; its sum went up. */
static void
assert_region_applied_nothing(const fed_region *r, int rounds)
{
    char state[160];

    snprintf(state, sizeof state, "%s/state", r->dir);
    assert_false(file_exists(state, "checkpoint.bin"));
    assert_false(file_exists(state, "history.tsv"));
    assert_int_equal(proc_count(r->log, "completed (id"), 0);
    assert_int_equal(proc_count(r->log, "decoded"), 0);
    assert_true(proc_count(r->log, "went to the central") >= rounds);
}

static void
test_nested_sum_is_exact(void **state)
{
    checkpoint ck = {0};
    fr_model *want;
    int status;
    double t0;
    (void)state;

    assert_int_equal(fed_init(&f, "regions", 3), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(fed_region_sim(&f, i, 1 + 3 * i, 3), 0);
        assert_int_equal(fed_write_region(&f, i, ""), 0);
    }
    assert_int_equal(fed_write_central(&f, ITEMS, DIM,
                                       "rounds 1\nseed 5\nserver_lr 1.0\n"
                                       "linger_ms 3000\n"), 0);
    t0 = now_s();
    assert_int_equal(fed_start_central(&f), 0);
    for (int i = 0; i < 3; i++) {
        char args[160];
        snprintf(args, sizeof args, "--seed=%d --coins_seed=%d "
                 "--examples=%d --update_scale=%g --rounds=1", SIM_SEED,
                 COINS, EXAMPLES, (double)SCALE);
        assert_int_equal(fed_start_region(&f, i), 0);
        assert_int_equal(fed_start_stores(&f, i, args), 0);
    }
    status = proc_wait(f.central, 60000);
    assert_true(status != -1 && WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    f.central = 0;
    print_message("nested round: %.2f s from start to the central's exit "
                  "(linger 3 s)\n", now_s() - t0);

    load_ck(&ck);
    assert_int_equal(ck.completed_rounds, 1);
    assert_int_equal(ck.n_history, 1);
    assert_int_equal(ck.history[0].stores, 9); /* stores, not regions */
    assert_int_equal(ck.history[0].examples, 9 * EXAMPLES);
    want = flat_expectation(ck.history[0].round_id, 9);
    assert_memory_equal(fr_model_params_const(ck.model),
                        fr_model_params_const(want),
                        fr_model_n_params(want) * sizeof(float));
    fr_model_destroy(&want);
    checkpoint_clear(&ck);
    assert_true(proc_count(f.log, "3 participants cover 9 stores") >= 1);

    /* The stores heard the end of the round only through their region. */
    for (int i = 0; i < 3; i++) {
        status = proc_wait(f.r[i].sim, 15000);
        assert_true(status != -1 && WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        f.r[i].sim = 0;
        assert_region_applied_nothing(&f.r[i], 1);
        assert_int_equal(proc_count(f.r[i].log, "forwarded to this region"),
                         1);
    }
}

/* The example counts the regional aggregator lists for its stores. */
static long long
region_examples(const fed_region *r)
{
    char cmd[512], out[160];
    char *text, *p;
    long long sum = 0;
    int n = 0;

    snprintf(out, sizeof out, "%s/stores.json", r->dir);
    snprintf(cmd, sizeof cmd, FR_BIN_DIR "/fedrec-ctl --config %s --json "
             "stores >%s 2>/dev/null", r->conf, out);
    assert_int_equal(proc_run(cmd), 0);
    text = proc_read_file(out);
    assert_non_null(text);
    for (p = strstr(text, "\"examples\":"); p;
         p = strstr(p + 1, "\"examples\":"), n++)
        sum += atoll(p + strlen("\"examples\":"));
    free(text);
    assert_int_equal(n, r->n_stores);
    return sum;
}

static void
test_real_stores_in_a_region(void **state)
{
    checkpoint ck = {0};
    fr_model *init = NULL;
    long long real;
    int status, changed = 0;
    double t0;
    (void)state;

    assert_int_equal(fed_init(&f, "regions-real", 3), 0);
    assert_int_equal(fed_region_real(&f, 0, 3, REAL_ITEMS, MEMBERS, 21), 0);
    assert_int_equal(fed_region_sim(&f, 1, 1, 3), 0);
    assert_int_equal(fed_region_sim(&f, 2, 4, 3), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(fed_write_region(&f, i, ""), 0);
    assert_int_equal(fed_write_central(&f, REAL_ITEMS, DIM,
                                       "rounds 2\nseed 5\nlocal_epochs 1\n"
                                       "linger_ms 3000\n"), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(fed_start_region(&f, i), 0);
        assert_int_equal(fed_start_stores(&f, i, "--examples=1"), 0);
    }
    /* every real store known to its region before the rounds start */
    for (int k = 0; k < 3; k++)
        assert_true(proc_wait_for(f.r[0].client_log[k], "store client running",
                                  1, 60000));
    t0 = now_s();
    assert_int_equal(fed_start_central(&f), 0);
    status = proc_wait(f.central, 120000);
    assert_true(status != -1 && WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    f.central = 0;
    print_message("two rounds with real stores: %.2f s from start to the "
                  "central's exit (linger 3 s)\n", now_s() - t0);

    /* Each total's weight word: 6 simulated stores of weight 1 and the
     * real stores' training examples: the interactions their region lists
     * for them less each member's latest purchase, held out for
     * evaluation (MEMBERS members per store; the cap is the largest
     * count, so none is capped). */
    real = region_examples(&f.r[0]) - 3 * MEMBERS;
    assert_true(real > 6);
    assert_int_equal(fed_logged_weight(&f, 1), 6 + real);
    assert_int_equal(fed_logged_weight(&f, 2), 6 + real);

    load_ck(&ck);
    assert_int_equal(ck.completed_rounds, 2);
    for (size_t r = 0; r < ck.n_history; r++) {
        assert_int_equal(ck.history[r].stores, 9);
        assert_false(isnan(ck.history[r].hr10)); /* region 1's figures */
    }
    assert_int_equal(fr_model_new(&init, REAL_ITEMS, DIM), FR_OK);
    fr_model_init_random(init, SEED, 0.1f);
    for (size_t j = 0; j < fr_model_n_params(init); j++) {
        float v = fr_model_params_const(ck.model)[j];
        assert_true(isfinite(v));
        changed += v != fr_model_params_const(init)[j];
    }
    assert_true(changed > 0);
    fr_model_destroy(&init);
    checkpoint_clear(&ck);

    /* The real stores got each round's end with the new model, from their
     * region. */
    for (int k = 0; k < 3; k++)
        assert_true(proc_wait_for(f.r[0].client_log[k],
                                  "completed with 9 stores", 2, 10000));
    for (int i = 0; i < 3; i++)
        assert_region_applied_nothing(&f.r[i], 2);
    /* member ids never reach a regional or the central's log */
    assert_int_equal(proc_count(f.r[0].log, "M01-"), 0);
    assert_int_equal(proc_count(f.log, "M01-"), 0);
}

/* Plain rounds (secagg no on the central): each region sends one UPDATE,
 * its stores' weighted mean with their total weight, so the central's
 * weighted mean over regions is the one over all stores. */
static void
test_plain_rounds_through_regions(void **state)
{
    checkpoint ck = {0};
    long long examples;
    int status;
    (void)state;

    assert_int_equal(fed_init(&f, "regions-plain", 2), 0);
    assert_int_equal(fed_region_real(&f, 0, 3, REAL_ITEMS, MEMBERS, 31), 0);
    assert_int_equal(fed_region_real(&f, 1, 3, REAL_ITEMS, MEMBERS, 32), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(fed_write_region(&f, i, ""), 0);
    /* later lines win: two regions are enough without secure sums */
    assert_int_equal(fed_write_central(&f, REAL_ITEMS, DIM,
                                       "secagg no\nmin_stores 2\nrounds 2\n"
                                       "local_epochs 1\nlinger_ms 2000\n"),
                     0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(fed_start_region(&f, i), 0);
        assert_int_equal(fed_start_stores(&f, i, ""), 0);
    }
    assert_int_equal(fed_start_central(&f), 0);
    status = proc_wait(f.central, 120000);
    assert_true(status != -1 && WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    f.central = 0;

    /* Each round's weight is every store's training examples. */
    examples = region_examples(&f.r[0]) + region_examples(&f.r[1]) -
               6 * MEMBERS;
    load_ck(&ck);
    assert_int_equal(ck.completed_rounds, 2);
    for (size_t r = 0; r < ck.n_history; r++) {
        assert_int_equal(ck.history[r].stores, 6);
        assert_int_equal(ck.history[r].examples, examples);
        assert_false(isnan(ck.history[r].hr10));
        assert_false(isnan(ck.history[r].loss));
    }
    for (size_t j = 0; j < fr_model_n_params(ck.model); j++)
        assert_true(isfinite(fr_model_params_const(ck.model)[j]));
    checkpoint_clear(&ck);
    assert_int_equal(proc_count(f.log, "2/2 stores"), 2);
    for (int i = 0; i < 2; i++) {
        assert_region_applied_nothing(&f.r[i], 2);
        assert_int_equal(proc_count(f.r[i].log, "region's mean of 3/3"), 2);
        for (int k = 0; k < 3; k++)
            assert_true(proc_wait_for(f.r[i].client_log[k],
                                      "completed with 6 stores", 2, 10000));
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_nested_sum_is_exact, teardown),
        cmocka_unit_test_teardown(test_real_stores_in_a_region, teardown),
        cmocka_unit_test_teardown(test_plain_rounds_through_regions,
                                  teardown),
    };
    signal(SIGPIPE, SIG_IGN);
    if (fr_crypto_init() != FR_OK)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
