/*
 * fuzz_ledger.c - the privacy ledger's reader (common/dp/ledger.c): a
 * ledger file, opened with a fixed order grid, delta and budget. The first
 * byte's bit 0 makes the target give every line a fresh " #CRC" (dropping
 * one it had), so the fuzzer reaches the fields behind the checksums; the
 * rest is the file.
 * Properties: a refusal says why; an accepted ledger's spent epsilon is a
 * number >= 0 (or +inf, which refuses every charge); opening it again
 * (after a torn end was cut off) gives the same rounds and epsilon; a new
 * charge within the budget is kept and found after a reopen, one past it
 * is refused and leaves the file as it was.
 * FR_FUZZ_WRITE_SEEDS=DIR writes ledgers made by the writer.
 */
#include <math.h>
#include <string.h>

#include "base/util.h"
#include "crypto/crypto.h"
#include "dp/ledger.h"
#include "fuzz.h"
#include "fuzz_file.h"

#define DELTA 1e-6
#define BUDGET 8.0
#define FRESH_ROUND 0xfedcba9876543210ull

static fr_dp_orders orders;
static double small[FR_DP_MAX_ORDERS], huge[FR_DP_MAX_ORDERS];

/* mode byte + text, as a seed */
static void
seed(const char *dir, const char *name, uint8_t mode, const char *text,
     size_t len)
{
    char *b = malloc(len + 1);

    FR_FUZZ_CHECK(b != NULL);
    b[0] = (char)mode;
    memcpy(b + 1, text, len);
    fz_seed(dir, name, b, len + 1);
    free(b);
}

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
    seed(dir, "header", 0, text, len);
    free(text);
    for (uint64_t r = 1; r <= 3; r++)
        FR_FUZZ_CHECK(fr_dp_ledger_reserve(l, r, h, small) == FR_OK);
    FR_FUZZ_CHECK(fr_dp_ledger_commit(l, 1) == FR_OK);
    FR_FUZZ_CHECK(fr_dp_ledger_commit(l, 3) == FR_OK);
    fr_dp_ledger_close(&l);
    text = fz_read(path, &len);
    seed(dir, "three", 0, text, len);
    seed(dir, "three_resealed", 1, text, len);
    seed(dir, "torn", 0, text, len - 7);
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

/* Every line of in[0..n) with a fresh checksum, into a malloc'd buffer. */
static char *
reseal(const uint8_t *in, size_t n, size_t *len)
{
    char *out = malloc(n + 12 * (n + 1) + 1);
    size_t o = 0, i = 0;

    FR_FUZZ_CHECK(out != NULL);
    while (i < n) {
        const uint8_t *nl = memchr(in + i, '\n', n - i);
        size_t l = nl ? (size_t)(nl - (in + i)) : n - i, start = o;
        memcpy(out + o, in + i, l);
        if (l >= 10 && out[o + l - 10] == ' ' && out[o + l - 9] == '#')
            l -= 10;
        o += l;
        o += (size_t)sprintf(out + o, " #%08x",
                             fr_crc32(0, (const uint8_t *)out + start, l));
        if (nl)
            out[o++] = '\n';
        i += (size_t)(nl ? nl - (in + i) + 1 : (ptrdiff_t)(n - i));
    }
    *len = o;
    return out;
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

    if (size < 1)
        return 0;
    if (data[0] & 1) {
        size_t n = 0;
        char *text = reseal(data + 1, size - 1, &n);
        fz_write("fuzz.ledger", text, n, path, sizeof path);
        free(text);
    } else {
        fz_write("fuzz.ledger", data + 1, size - 1, path, sizeof path);
    }
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
