/*
 * test_region_dp.c - member-level DP across regions (docs/SECAGG.md
 * "Regions", docs/PRIVACY.md).
 *
 * A DP round completes across regions: region 1 has four real protected
 * stores, three of which take part in nested DP rounds (dp_regional yes)
 * and one that does not and refuses, naming the key; regions 2 and 3 have
 * simulated stores that send DDG words. The central designs the round for
 * every store of every region and allows for one store and one whole
 * region (the largest, four stores) dropping out: t_drop = 1 + 1 x 4.
 *
 * The central abandons a round when too few stores are covered: with no
 * dropout allowed, one simulated store of region 3 falls silent after its
 * shares, so region 3's sum covers three of its four stores and the total
 * nine of ten; the central abandons the round after the masked inputs,
 * before anyone is asked for a share, and no round completes.
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

#define ITEMS 300
#define DIM 8
#define DP_CENTRAL                                                         \
    "dp_epsilon_budget 50\ndp_members 600\ndp_clip 0.5\n"                  \
    "dp_noise_multiplier 3\n"
#define SIM_DP "--update_scale=0.001"

static fed f;

static int
teardown(void **state)
{
    (void)state;
    fed_kill_all(&f);
    fed_remove(&f);
    return 0;
}

static void
start_all(void)
{
    assert_int_equal(fed_start_central(&f), 0);
    for (int i = 0; i < f.n; i++) {
        assert_int_equal(fed_start_region(&f, i), 0);
        assert_int_equal(fed_start_stores(&f, i, SIM_DP), 0);
    }
}

static void
test_dp_round_across_regions(void **state)
{
    int status;
    (void)state;

    assert_int_equal(fed_init(&f, "region-dp", 3), 0);
    assert_int_equal(fed_region_real(&f, 0, 4, ITEMS, 40, 41), 0);
    for (int k = 1; k <= 3; k++) /* store04 keeps the default: no */
        assert_int_equal(proc_runf("echo 'dp_regional yes' >> "
                                   "%s/st-store%02d/store.conf",
                                   f.r[0].dir, k), 0);
    assert_int_equal(fed_region_sim(&f, 1, 1, 3), 0);
    assert_int_equal(fed_region_sim(&f, 2, 4, 3), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(fed_write_region(&f, i, ""), 0);
    assert_int_equal(fed_write_central(&f, ITEMS, DIM,
                                       "rounds 1\nlocal_epochs 1\n"
                                       "linger_ms 2000\nstart_delay_ms 3000\n"
                                       DP_CENTRAL "dp_max_dropouts 1\n"
                                       "dp_max_region_dropouts 1\n"), 0);
    start_all();
    status = proc_wait(f.central, 120000);
    assert_true(status != -1 && WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    f.central = 0;

    /* designed for the ten stores, allowing one store and one region of
     * four to drop */
    assert_int_equal(proc_count(f.log, "stores=10 t_drop=5 n_target=5"), 1);
    assert_int_equal(proc_count(f.log, "round 1 completed"), 1);
    assert_int_equal(proc_count(f.log, "noised sum of 3 stores decoded"), 1);
    /* the stores that agreed noised their sums; the other refused */
    for (int k = 0; k < 3; k++)
        assert_true(proc_count(f.r[0].client_log[k], "summed and noised") ==
                    1);
    assert_true(proc_count(f.r[0].client_log[3], "set dp_regional yes") >= 1);
    assert_int_equal(proc_count(f.r[0].client_log[3], "summed and noised"), 0);
    assert_true(proc_count(f.r[0].log, "secure sum of 3/4 stores went to "
                                       "the central") == 1);
}

static void
test_too_few_stores_covered(void **state)
{
    (void)state;

    assert_int_equal(fed_init(&f, "region-dp-short", 3), 0);
    assert_int_equal(fed_region_sim(&f, 0, 1, 3), 0);
    assert_int_equal(fed_region_sim(&f, 1, 4, 3), 0);
    assert_int_equal(fed_region_sim(&f, 2, 7, 4), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(fed_write_region(&f, i, ""), 0);
    assert_int_equal(fed_write_central(&f, ITEMS, DIM,
                                       "rounds 1\nstart_delay_ms 3000\n"
                                       "retry_delay_ms 5000\n" DP_CENTRAL
                                       "dp_max_dropouts 0\n"
                                       "dp_max_region_dropouts 0\n"), 0);
    assert_int_equal(fed_start_central(&f), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(fed_start_region(&f, i), 0);
        assert_int_equal(fed_start_stores(&f, i, i == 2 ? SIM_DP
                                                  " --drop=0.25"
                                                        : SIM_DP), 0);
    }
    assert_true(proc_wait_for(f.log, "the DP noise needs 10", 1, 60000));
    assert_true(proc_count(f.log, "the masked inputs cover 9 stores") == 1);
    assert_true(proc_wait_for(f.log, "round id 1 abandoned", 1, 5000));
    /* before unmasking: no share was asked for, nothing decoded */
    assert_int_equal(proc_count(f.log, "unmasking phase open"), 0);
    assert_int_equal(proc_count(f.log, "decoded"), 0);
    assert_int_equal(proc_count(f.log, "completed (id"), 0);
    /* region 3 did cover three of its four */
    assert_int_equal(proc_count(f.r[2].log, "secure sum of 3/4 stores"), 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_dp_round_across_regions, teardown),
        cmocka_unit_test_teardown(test_too_few_stores_covered, teardown),
    };
    signal(SIGPIPE, SIG_IGN);
    if (fr_crypto_init() != FR_OK)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
