/*
 * fuzz_ledger.c - the privacy ledger's reader (common/dp/ledger.c): a
 * ledger file, opened with a fixed order grid, delta and budget.
 * Properties: a refusal says why; an accepted ledger's spent epsilon is a
 * number >= 0 (or +inf, which refuses every charge); opening it again
 * (after a torn end was cut off) gives the same rounds and epsilon; a new
 * charge within the budget is kept and found after a reopen, one past it
 * is refused and leaves the file as it was.
 * FR_FUZZ_WRITE_SEEDS=DIR writes ledgers made by the writer.
 */
#include <math.h>
#include <string.h>

#include "crypto/crypto.h"
#include "dp/ledger.h"
#include "fuzz.h"
#include "fuzz_file.h"

#define DELTA 1e-6
#define BUDGET 8.0
#define FRESH_ROUND 0xfedcba9876543210ull

static fr_dp_orders orders;
static double small[FR_DP_MAX_ORDERS], huge[FR_DP_MAX_ORDERS];

static void
write_seeds(const char *dir)
{
    static const uint8_t h[32] = {1};
    char path[128], err[256];
    fr_dp_ledger *l = NULL;
    size_t len = 0;
    char *text;

    fz_path("seed.ledger", path, sizeof path);
    unlink(path);
    FR_FUZZ_CHECK(fr_dp_ledger_open(&l, path, &orders, DELTA, BUDGET, err,
                                    sizeof err) == FR_OK);
    text = fz_read(path, &len);
    fz_seed(dir, "header", text, len);
    free(text);
    for (uint64_t r = 1; r <= 3; r++)
        FR_FUZZ_CHECK(fr_dp_ledger_reserve(l, r, h, small) == FR_OK);
    FR_FUZZ_CHECK(fr_dp_ledger_commit(l, 1) == FR_OK);
    FR_FUZZ_CHECK(fr_dp_ledger_commit(l, 3) == FR_OK);
    fr_dp_ledger_close(&l);
    text = fz_read(path, &len);
    fz_seed(dir, "three", text, len);
    fz_seed(dir, "torn", text, len - 7);
    free(text);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    FR_FUZZ_CHECK(fr_crypto_init() == FR_OK);
    fz_dir_init();
    fr_dp_orders_ddg(&orders);
    /* a round charging 1e-3 per order, and one over any budget */
    for (size_t i = 0; i < orders.n; i++) {
        small[i] = 1e-3;
        huge[i] = 1e6;
    }
    if (fz_seed_dir()) {
        write_seeds(fz_seed_dir());
        exit(0);
    }
    return 0;
}

static void
check_open(const char *path, size_t rounds, double eps)
{
    char err[512] = "";
    fr_dp_ledger *l = NULL;
    double e2;

    FR_FUZZ_CHECK(fr_dp_ledger_open(&l, path, &orders, DELTA, BUDGET, err,
                                    sizeof err) == FR_OK);
    FR_FUZZ_CHECK(fr_dp_ledger_rounds(l) == rounds);
    FR_FUZZ_CHECK(fr_dp_ledger_epsilon(l, NULL, &e2) == FR_OK);
    FR_FUZZ_CHECK(e2 == eps || (isnan(e2) && isnan(eps)));
    fr_dp_ledger_close(&l);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t h[32] = {9};
    char path[128], err[512] = "";
    fr_dp_ledger *l = NULL;
    size_t rounds, len0 = 0, len1 = 0;
    double eps;
    char *before, *after;
    fr_err rc;

    fz_write("fuzz.ledger", data, size, path, sizeof path);
    if (fr_dp_ledger_open(&l, path, &orders, DELTA, BUDGET, err, sizeof err) !=
        FR_OK) {
        FR_FUZZ_CHECK(l == NULL && err[0] != 0);
        return 0;
    }
    rounds = fr_dp_ledger_rounds(l);
    FR_FUZZ_CHECK(fr_dp_ledger_epsilon(l, NULL, &eps) == FR_OK);
    FR_FUZZ_CHECK(!isnan(eps) && eps >= 0);
    FR_FUZZ_CHECK(fr_dp_ledger_budget(l) == BUDGET &&
                  fr_dp_ledger_delta(l) == DELTA);
    fr_dp_ledger_close(&l);
    check_open(path, rounds, eps);
    /* a charge past any budget: refused, nothing written */
    FR_FUZZ_CHECK(fr_dp_ledger_open(&l, path, &orders, DELTA, BUDGET, err,
                                    sizeof err) == FR_OK);
    before = fz_read(path, &len0);
    FR_FUZZ_CHECK(fr_dp_ledger_reserve(l, FRESH_ROUND, h, huge) == FR_ELIMIT);
    after = fz_read(path, &len1);
    FR_FUZZ_CHECK(before && after && len0 == len1 &&
                  memcmp(before, after, len0) == 0);
    free(before);
    free(after);
    rc = fr_dp_ledger_reserve(l, FRESH_ROUND, h, small);
    FR_FUZZ_CHECK(rc == FR_OK || rc == FR_ELIMIT || rc == FR_EINVAL);
    fr_dp_ledger_close(&l);
    if (rc == FR_OK) {
        FR_FUZZ_CHECK(fr_dp_ledger_open(&l, path, &orders, DELTA, BUDGET, err,
                                        sizeof err) == FR_OK);
        FR_FUZZ_CHECK(fr_dp_ledger_has(l, FRESH_ROUND));
        FR_FUZZ_CHECK(fr_dp_ledger_rounds(l) == rounds + 1);
        fr_dp_ledger_close(&l);
    }
    return 0;
}
