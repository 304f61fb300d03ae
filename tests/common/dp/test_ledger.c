/*
 * test_ledger.c - the privacy-budget ledger: charges compose by RDP, the
 * first round over budget is refused with nothing written, a replayed round
 * is not charged twice, charges survive a reopen and a crash between
 * reserve and send, a torn last line is cut off, damage and policy changes
 * are refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dp/accountant.h"
#include "dp/ledger.h"

static char dir[64], path[128];

static int
setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/fr-ledger-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/ledger", dir);
    return 0;
}

static int
teardown(void **state)
{
    char cmd[128];
    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* One round of the Gaussian mechanism (q = 1) at noise multiplier z: the
 * RDP curve alpha / (2 z^2) on the DDG orders. */
static void
gaussian_round(const fr_dp_orders *o, double z, double *rdp)
{
    for (size_t i = 0; i < o->n; i++)
        rdp[i] = o->a[i] / (2 * z * z);
}

static void
hash_of(uint64_t round, uint8_t h[32])
{
    memset(h, 0, 32);
    memcpy(h, &round, sizeof round);
}

static size_t
file_size(void)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (size_t)st.st_size;
}

static void
test_budget_and_replay(void **state)
{
    fr_dp_orders o;
    fr_dp_ledger *l = NULL;
    double rdp[FR_DP_MAX_ORDERS], rdp_t[FR_DP_MAX_ORDERS], eps, eps_direct;
    char err[256];
    uint8_t h[32];
    uint64_t admitted = 0;
    struct stat st;
    (void)state;

    fr_dp_orders_ddg(&o);
    gaussian_round(&o, 2.0, rdp);
    assert_int_equal(
        fr_dp_ledger_open(&l, path, &o, 1e-6, 4.0, err, sizeof err), FR_OK);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* Charge rounds until the next one would exceed the budget. */
    for (uint64_t r = 1; r < 1000; r++) {
        size_t before = file_size();
        hash_of(r, h);
        fr_err rc = fr_dp_ledger_reserve(l, r, h, rdp);
        if (rc == FR_ELIMIT) {
            assert_int_equal(file_size(), before); /* nothing written */
            break;
        }
        assert_int_equal(rc, FR_OK);
        assert_true(file_size() > before);
        assert_int_equal(fr_dp_ledger_commit(l, r), FR_OK);
        admitted = r;
    }
    assert_true(admitted > 1);
    /* Exactly at the first round over budget: the composition of
     * `admitted` rounds fits, one more does not. */
    for (size_t i = 0; i < o.n; i++)
        rdp_t[i] = (double)admitted * rdp[i];
    assert_int_equal(fr_dp_epsilon(&o, rdp_t, 1e-6, &eps_direct, NULL), FR_OK);
    assert_int_equal(fr_dp_ledger_epsilon(l, NULL, &eps), FR_OK);
    assert_true(fabs(eps - eps_direct) <= 1e-12 * eps_direct);
    assert_true(eps <= 4.0);
    assert_int_equal(fr_dp_ledger_epsilon(l, rdp, &eps), FR_OK);
    assert_true(eps > 4.0);
    assert_int_equal(fr_dp_ledger_rounds(l), (size_t)admitted);

    /* A replayed round start is not charged twice; a different one under
     * the same id is refused. */
    hash_of(1, h);
    assert_int_equal(fr_dp_ledger_reserve(l, 1, h, rdp), FR_OK);
    assert_int_equal(fr_dp_ledger_rounds(l), (size_t)admitted);
    h[31] ^= 1;
    assert_int_equal(fr_dp_ledger_reserve(l, 1, h, rdp), FR_EINVAL);
    assert_int_equal(fr_dp_ledger_commit(l, 999999), FR_ENOENT);
    fr_dp_ledger_close(&l);

    /* Reopened: the same charge; still refused. */
    assert_int_equal(
        fr_dp_ledger_open(&l, path, &o, 1e-6, 4.0, err, sizeof err), FR_OK);
    assert_int_equal(fr_dp_ledger_rounds(l), (size_t)admitted);
    assert_int_equal(fr_dp_ledger_epsilon(l, NULL, &eps), FR_OK);
    assert_true(fabs(eps - eps_direct) <= 1e-12 * eps_direct);
    hash_of(admitted + 1, h);
    assert_int_equal(fr_dp_ledger_reserve(l, admitted + 1, h, rdp), FR_ELIMIT);
    fr_dp_ledger_close(&l);

    /* A lower budget is allowed; a higher one, another delta or another
     * order grid are refused. */
    assert_int_equal(
        fr_dp_ledger_open(&l, path, &o, 1e-6, 3.0, err, sizeof err), FR_OK);
    fr_dp_ledger_close(&l);
    assert_int_equal(
        fr_dp_ledger_open(&l, path, &o, 1e-6, 8.0, err, sizeof err), FR_EINVAL);
    assert_non_null(strstr(err, "raising"));
    assert_int_equal(
        fr_dp_ledger_open(&l, path, &o, 1e-5, 4.0, err, sizeof err), FR_EINVAL);
    fr_dp_orders_default(&o);
    assert_int_equal(
        fr_dp_ledger_open(&l, path, &o, 1e-6, 4.0, err, sizeof err), FR_EPROTO);
    assert_null(l);
}

/* A reservation on disk stays charged though the round never committed
 * (the process died between reserve and send); a torn last line is cut
 * off; a damaged line in the middle refuses the whole ledger. */
static void
test_crash_and_damage(void **state)
{
    fr_dp_orders o;
    fr_dp_ledger *l = NULL;
    double rdp[FR_DP_MAX_ORDERS], eps1, eps2;
    char err[256], *text;
    uint8_t h[32];
    size_t len;
    FILE *f;
    (void)state;

    fr_dp_orders_ddg(&o);
    gaussian_round(&o, 5.0, rdp);
    assert_int_equal(
        fr_dp_ledger_open(&l, path, &o, 1e-6, 10.0, err, sizeof err), FR_OK);
    hash_of(7, h);
    assert_int_equal(fr_dp_ledger_reserve(l, 7, h, rdp), FR_OK);
    assert_int_equal(fr_dp_ledger_epsilon(l, NULL, &eps1), FR_OK);
    fr_dp_ledger_close(&l); /* "crash": no commit */

    /* A torn append after it. */
    f = fopen(path, "a");
    assert_non_null(f);
    fputs("R 8 00ab", f);
    fclose(f);
    len = file_size();
    assert_int_equal(
        fr_dp_ledger_open(&l, path, &o, 1e-6, 10.0, err, sizeof err), FR_OK);
    assert_true(file_size() < len); /* cut off */
    assert_true(fr_dp_ledger_has(l, 7));
    assert_false(fr_dp_ledger_has(l, 8));
    assert_int_equal(fr_dp_ledger_epsilon(l, NULL, &eps2), FR_OK);
    assert_true(eps2 == eps1);
    hash_of(8, h);
    assert_int_equal(fr_dp_ledger_reserve(l, 8, h, rdp), FR_OK);
    fr_dp_ledger_close(&l);

    /* Flip one digit of the first record: refused, with the line. */
    f = fopen(path, "r+");
    assert_non_null(f);
    text = calloc(1, file_size() + 1);
    assert_int_equal(fread(text, 1, file_size(), f), file_size());
    {
        char *rec = strchr(text, '\n') + 1;
        char *digit = strchr(rec + 2, ' ') + 70; /* inside the numbers */
        long off = (long)(digit - text);
        *digit = *digit == '1' ? '2' : '1';
        fseek(f, off, SEEK_SET);
        fputc(*digit, f);
    }
    fclose(f);
    free(text);
    assert_int_equal(
        fr_dp_ledger_open(&l, path, &o, 1e-6, 10.0, err, sizeof err),
        FR_EPROTO);
    assert_non_null(strstr(err, "line 2"));
}

static void
test_round_hash(void **state)
{
    fr_dp_setup d = {.mechanism = FR_DP_MECH_DDG,
                     .clip = 1,
                     .q = 1,
                     .scale = 1000,
                     .sigma2_int = 123456,
                     .dim = 1024,
                     .rotation_seed = 9,
                     .n_target = 4,
                     .t_collude = 0,
                     .delta = 1e-6,
                     .epsilon_budget = 8,
                     .l2_sens = 1032,
                     .l1_sens = 33000};
    uint8_t a[32], b[32];
    (void)state;

    fr_dp_round_hash(&d, 5, a);
    fr_dp_round_hash(&d, 5, b);
    assert_memory_equal(a, b, 32);
    fr_dp_round_hash(&d, 6, b);
    assert_memory_not_equal(a, b, 32);
    d.sigma2_int++;
    fr_dp_round_hash(&d, 5, b);
    assert_memory_not_equal(a, b, 32);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_budget_and_replay, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_crash_and_damage, setup, teardown),
        cmocka_unit_test(test_round_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
