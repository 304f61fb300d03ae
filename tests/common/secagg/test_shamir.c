/*
 * test_shamir.c - Shamir sharing over GF(2^61 - 1): known answers from an
 * independent Python reference, rebuilding from every t-subset, refusal of
 * bad arguments and malformed shares, and corrupted shares never passing as
 * the secret.
 *
 * Known answers: tests/vectors/shamir/kat.txt, written by gen.py next to it
 * (standard-library Python with its own ChaCha20), so a change to the
 * coefficient order, the keystream or the byte layout fails here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "secagg/shamir.h"

#define MAX_N 16
#define P_LE  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f /* 2^61 - 1 */

/* splitmix64: reproducible secrets and seeds without a global RNG */
static uint64_t
next_u64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

static void
fill(uint8_t *b, size_t len, uint64_t *s)
{
    for (size_t i = 0; i < len; i++)
        b[i] = (uint8_t)next_u64(s);
}

static void
iota_xs(uint32_t *xs, uint32_t n, uint32_t first)
{
    for (uint32_t i = 0; i < n; i++)
        xs[i] = first + i;
}

/* ---- known answers ------------------------------------------------------- */

static int
hex_val(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Parses exactly len bytes of lowercase hex followed by end of string. */
static void
parse_hex(const char *s, uint8_t *out, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        int hi = hex_val(s[2 * i]), lo;
        assert_true(hi >= 0);
        lo = hex_val(s[2 * i + 1]);
        assert_true(lo >= 0);
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    assert_true(s[2 * len] == '\0');
}

typedef struct kat_case {
    uint8_t secret[FR_SHAMIR_SECRET_BYTES];
    uint8_t seed[32];
    uint32_t t, n, ny;
    uint32_t xs[MAX_N];
    uint8_t y[MAX_N][FR_SHAMIR_SHARE_BYTES];
} kat_case;

static void
check_case(const kat_case *k)
{
    fr_shamir_share sh[MAX_N];
    uint8_t out[FR_SHAMIR_SECRET_BYTES];

    assert_int_equal(k->ny, k->n);
    assert_int_equal(
        fr_shamir_split_seeded(k->secret, k->t, k->n, k->xs, k->seed, sh),
        FR_OK);
    for (uint32_t i = 0; i < k->n; i++) {
        assert_int_equal(sh[i].x, k->xs[i]);
        assert_memory_equal(sh[i].y, k->y[i], FR_SHAMIR_SHARE_BYTES);
    }
    /* the first t, the last t, and all n rebuild the secret */
    assert_int_equal(fr_shamir_combine(sh, k->t, out), FR_OK);
    assert_memory_equal(out, k->secret, sizeof out);
    assert_int_equal(fr_shamir_combine(sh + k->n - k->t, k->t, out), FR_OK);
    assert_memory_equal(out, k->secret, sizeof out);
    assert_int_equal(fr_shamir_combine(sh, k->n, out), FR_OK);
    assert_memory_equal(out, k->secret, sizeof out);
}

/* Fills k from one "key value" line of kat.txt; returns 1 at "end". */
static int
kat_line(kat_case *k, char *line)
{
    char *val = strchr(line, ' ');

    if (strcmp(line, "end") == 0)
        return 1;
    assert_non_null(val);
    *val++ = '\0';
    if (strcmp(line, "case") == 0) {
        memset(k, 0, sizeof *k);
    } else if (strcmp(line, "secret") == 0) {
        parse_hex(val, k->secret, sizeof k->secret);
    } else if (strcmp(line, "seed") == 0) {
        parse_hex(val, k->seed, sizeof k->seed);
    } else if (strcmp(line, "t") == 0) {
        k->t = (uint32_t)strtoul(val, NULL, 10);
    } else if (strcmp(line, "xs") == 0) {
        for (char *tok = strtok(val, " "); tok; tok = strtok(NULL, " ")) {
            assert_true(k->n < MAX_N);
            k->xs[k->n++] = (uint32_t)strtoul(tok, NULL, 10);
        }
    } else if (strcmp(line, "y") == 0) {
        assert_true(k->ny < MAX_N);
        parse_hex(val, k->y[k->ny++], FR_SHAMIR_SHARE_BYTES);
    } else {
        fail_msg("unknown kat.txt key '%s'", line);
    }
    return 0;
}

static void
test_known_answers(void **state)
{
    char path[512], line[512];
    kat_case k;
    int cases = 0;
    FILE *f;
    (void)state;

    assert_true(snprintf(path, sizeof path, "%s/shamir/kat.txt",
                         FR_TEST_VECTORS_DIR) < (int)sizeof path);
    f = fopen(path, "r");
    assert_non_null(f);
    memset(&k, 0, sizeof k);
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '\0' || line[0] == '#')
            continue;
        if (kat_line(&k, line)) {
            check_case(&k);
            cases++;
        }
    }
    fclose(f);
    /* gen.py writes seven; fewer means the file was cut short */
    assert_int_equal(cases, 7);
}

/* ---- rebuilding ---------------------------------------------------------- */

/* Every subset of the n shares with at least t members rebuilds the secret;
 * with n = 6 that is all 63 non-empty subsets over all t. */
static void
test_every_subset_rebuilds(void **state)
{
    uint64_t rs = 1;
    (void)state;

    for (uint32_t t = 1; t <= 6; t++) {
        uint8_t secret[FR_SHAMIR_SECRET_BYTES], out[FR_SHAMIR_SECRET_BYTES];
        uint32_t xs[6];
        fr_shamir_share sh[6], sub[6];

        fill(secret, sizeof secret, &rs);
        iota_xs(xs, 6, 1);
        assert_int_equal(fr_shamir_split(secret, t, 6, xs, sh), FR_OK);
        for (unsigned mask = 1; mask < 64; mask++) {
            uint32_t m = 0;
            for (unsigned i = 0; i < 6; i++)
                if (mask >> i & 1)
                    sub[m++] = sh[i];
            if (m < t)
                continue;
            assert_int_equal(fr_shamir_combine(sub, m, out), FR_OK);
            assert_memory_equal(out, secret, sizeof out);
        }
    }
}

/* t - 1 shares interpolate a polynomial of too low a degree: its value at 0
 * is unrelated to the secret (and almost always out of range). */
static void
test_too_few_shares(void **state)
{
    uint64_t rs = 2;
    int refused = 0;
    (void)state;

    for (int trial = 0; trial < 200; trial++) {
        uint8_t secret[FR_SHAMIR_SECRET_BYTES], out[FR_SHAMIR_SECRET_BYTES];
        uint32_t t = 2 + (uint32_t)trial % 6, n = t + 2, xs[MAX_N];
        fr_shamir_share sh[MAX_N];
        fr_err rc;

        fill(secret, sizeof secret, &rs);
        iota_xs(xs, n, 1 + (uint32_t)trial);
        assert_int_equal(fr_shamir_split(secret, t, n, xs, sh), FR_OK);
        memset(out, 0, sizeof out);
        rc = fr_shamir_combine(sh + 1, t - 1, out);
        assert_true(rc == FR_OK || rc == FR_EPROTO);
        if (rc == FR_OK)
            assert_memory_not_equal(out, secret, sizeof out);
        else
            refused++;
    }
    /* The range check catches a random rebuild with probability about
     * 1 - 2^-49; all 200 should be refused. */
    assert_int_equal(refused, 200);
}

static void
test_random_coefficients_differ(void **state)
{
    const uint8_t secret[FR_SHAMIR_SECRET_BYTES] = {1, 2, 3};
    const uint32_t xs[3] = {1, 2, 3};
    fr_shamir_share a[3], b[3];
    (void)state;

    assert_int_equal(fr_shamir_split(secret, 2, 3, xs, a), FR_OK);
    assert_int_equal(fr_shamir_split(secret, 2, 3, xs, b), FR_OK);
    assert_memory_not_equal(a[0].y, b[0].y, FR_SHAMIR_SHARE_BYTES);
    /* t = 1 has no random coefficients: every share is the secret's chunks */
    assert_int_equal(fr_shamir_split(secret, 1, 3, xs, a), FR_OK);
    assert_memory_equal(a[0].y, a[2].y, FR_SHAMIR_SHARE_BYTES);
}

static void
test_large_x(void **state)
{
    const uint32_t xs[5] = {65535, 65534, 1, 30000, 2};
    uint8_t secret[FR_SHAMIR_SECRET_BYTES], out[FR_SHAMIR_SECRET_BYTES];
    fr_shamir_share sh[5];
    uint64_t rs = 3;
    (void)state;

    fill(secret, sizeof secret, &rs);
    assert_int_equal(fr_shamir_split(secret, 3, 5, xs, sh), FR_OK);
    for (uint32_t i = 0; i + 3 <= 5; i++) {
        assert_int_equal(fr_shamir_combine(sh + i, 3, out), FR_OK);
        assert_memory_equal(out, secret, sizeof out);
    }
}

/* Hand-made single shares: with one share the Lagrange weight is 1, so the
 * rebuilt chunks are the share's elements and the range check is exposed. */
static void
test_chunk_range(void **state)
{
    fr_shamir_share s = {.x = 1};
    uint8_t out[FR_SHAMIR_SECRET_BYTES], all_ff[FR_SHAMIR_SECRET_BYTES];
    (void)state;

    /* largest in-range chunks: 2^56 - 1 four times, then 2^32 - 1 */
    for (int c = 0; c < FR_SHAMIR_CHUNKS; c++)
        memset(s.y + 8 * c, 0xff, c < 4 ? 7 : 4);
    memset(all_ff, 0xff, sizeof all_ff);
    assert_int_equal(fr_shamir_combine(&s, 1, out), FR_OK);
    assert_memory_equal(out, all_ff, sizeof out);

    memset(out, 0xaa, sizeof out);
    s.y[8 * 2 + 7] = 0x01; /* chunk 2 = 2^56 + ... */
    assert_int_equal(fr_shamir_combine(&s, 1, out), FR_EPROTO);
    s.y[8 * 2 + 7] = 0x00;
    s.y[8 * 4 + 4] = 0x01; /* last chunk = 2^32 + ... */
    assert_int_equal(fr_shamir_combine(&s, 1, out), FR_EPROTO);
    /* secret_out is written only on success */
    for (size_t i = 0; i < sizeof out; i++)
        assert_int_equal(out[i], 0xaa);
}

/* ---- refusals ------------------------------------------------------------ */

static void
test_split_refuses(void **state)
{
    const uint8_t secret[FR_SHAMIR_SECRET_BYTES] = {0};
    const uint8_t seed[32] = {0};
    const uint32_t ok[3] = {1, 2, 3}, zero[3] = {1, 0, 3}, dup[3] = {5, 7, 5},
                   big[3] = {1, 2, 65536}, huge[3] = {1, 2, 0xffffffffu};
    fr_shamir_share sh[3], before[3];
    (void)state;

    memset(sh, 0x5c, sizeof sh);
    memcpy(before, sh, sizeof sh);
    assert_int_equal(fr_shamir_split(secret, 0, 3, ok, sh), FR_EINVAL);
    assert_int_equal(fr_shamir_split(secret, 4, 3, ok, sh), FR_EINVAL);
    assert_int_equal(fr_shamir_split(secret, 1, 0, ok, sh), FR_EINVAL);
    assert_int_equal(fr_shamir_split(secret, 2, 3, zero, sh), FR_EINVAL);
    assert_int_equal(fr_shamir_split(secret, 2, 3, dup, sh), FR_EINVAL);
    assert_int_equal(fr_shamir_split(secret, 2, 3, big, sh), FR_EINVAL);
    assert_int_equal(fr_shamir_split(secret, 2, 3, huge, sh), FR_EINVAL);
    assert_int_equal(fr_shamir_split_seeded(secret, 4, 3, ok, seed, sh),
                     FR_EINVAL);
    assert_int_equal(fr_shamir_split_seeded(secret, 2, 3, dup, seed, sh),
                     FR_EINVAL);
    assert_int_equal(fr_shamir_split(NULL, 2, 3, ok, sh), FR_EINVAL);
    assert_int_equal(fr_shamir_split(secret, 2, 3, NULL, sh), FR_EINVAL);
    assert_int_equal(fr_shamir_split(secret, 2, 3, ok, NULL), FR_EINVAL);
    assert_int_equal(fr_shamir_split_seeded(secret, 2, 3, ok, NULL, sh),
                     FR_EINVAL);
    /* refused calls leave the output alone */
    assert_memory_equal(sh, before, sizeof sh);
}

static void
test_combine_refuses(void **state)
{
    const uint8_t secret[FR_SHAMIR_SECRET_BYTES] = {42};
    const uint8_t p_le[8] = {P_LE};
    const uint32_t xs[3] = {1, 2, 3};
    uint8_t out[FR_SHAMIR_SECRET_BYTES];
    fr_shamir_share sh[3], bad[3];
    (void)state;

    assert_int_equal(fr_shamir_split(secret, 3, 3, xs, sh), FR_OK);
    assert_int_equal(fr_shamir_combine(sh, 0, out), FR_EINVAL);
    assert_int_equal(fr_shamir_combine(NULL, 3, out), FR_EINVAL);
    assert_int_equal(fr_shamir_combine(sh, 3, NULL), FR_EINVAL);

    memcpy(bad, sh, sizeof sh);
    bad[1].x = 0;
    assert_int_equal(fr_shamir_combine(bad, 3, out), FR_EPROTO);
    bad[1].x = 3; /* duplicate of bad[2] */
    assert_int_equal(fr_shamir_combine(bad, 3, out), FR_EPROTO);
    bad[1].x = FR_SHAMIR_MAX_X + 1;
    assert_int_equal(fr_shamir_combine(bad, 3, out), FR_EPROTO);

    for (int c = 0; c < FR_SHAMIR_CHUNKS; c++) {
        memcpy(bad, sh, sizeof sh);
        memcpy(bad[2].y + 8 * c, p_le, 8); /* exactly p */
        assert_int_equal(fr_shamir_combine(bad, 3, out), FR_EPROTO);
        memset(bad[2].y + 8 * c, 0xff, 8); /* 2^64 - 1 */
        assert_int_equal(fr_shamir_combine(bad, 3, out), FR_EPROTO);
    }
}

/* Any single bit flipped in y or x of one share, among exactly t or among
 * more than t, gives FR_EPROTO or a wrong secret; never the secret itself,
 * never a crash (the sanitiser build checks the latter). Seeded, so the
 * counts below are the same on every run. */
static void
test_corrupted_share(void **state)
{
    const uint32_t xs[5] = {3, 9, 11, 200, 65535};
    uint8_t secret[FR_SHAMIR_SECRET_BYTES], out[FR_SHAMIR_SECRET_BYTES];
    uint8_t seed[32];
    fr_shamir_share sh[5], bad[5];
    uint64_t rs = 4;
    int refused = 0, wrong = 0;
    (void)state;

    fill(secret, sizeof secret, &rs);
    fill(seed, sizeof seed, &rs);
    assert_int_equal(fr_shamir_split_seeded(secret, 3, 5, xs, seed, sh), FR_OK);
    for (uint32_t count = 3; count <= 5; count++) {
        for (size_t bit = 0; bit < 8 * FR_SHAMIR_SHARE_BYTES + 32; bit++) {
            fr_err rc;
            memcpy(bad, sh, sizeof sh);
            if (bit < 8 * FR_SHAMIR_SHARE_BYTES)
                bad[1].y[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            else
                bad[1].x ^= 1u << (bit - 8 * FR_SHAMIR_SHARE_BYTES);
            rc = fr_shamir_combine(bad, count, out);
            if (rc == FR_EPROTO) {
                refused++;
                continue;
            }
            assert_int_equal(rc, FR_OK);
            assert_memory_not_equal(out, secret, sizeof out);
            wrong++;
        }
    }
    /* Both outcomes happen. A flip in y moves one rebuilt chunk by a
     * random-looking amount, which lands in range about once in 2^5 for
     * chunks 0-3: the range check is no MAC. */
    assert_true(refused > 0);
    assert_true(wrong > 0);
    assert_true(refused + wrong == 3 * (8 * FR_SHAMIR_SHARE_BYTES + 32));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_answers),
        cmocka_unit_test(test_every_subset_rebuilds),
        cmocka_unit_test(test_too_few_shares),
        cmocka_unit_test(test_random_coefficients_differ),
        cmocka_unit_test(test_large_x),
        cmocka_unit_test(test_chunk_range),
        cmocka_unit_test(test_split_refuses),
        cmocka_unit_test(test_combine_refuses),
        cmocka_unit_test(test_corrupted_share),
    };

    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
