/*
 * test_catalogue.c - the shared item catalogue: parse, write and load give
 * the same bytes and id; the id ignores line ends but not order or content;
 * every bad line is refused by number; lookups hit and miss exactly on a
 * large generated catalogue; the item limit; a BLAKE2b-256 vector computed
 * outside (python3 hashlib.blake2b(digest_size=32)).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalogue/catalogue.h"

#define HDR "fedrec-catalogue 1\n"

/* The canonical bytes of this catalogue, hashed by python3. */
static const char small[] =
    HDR "85123A\n71053\nPOST\nBANK CHARGES\n\xc3\xa9t\xc3\xa9\n";
static const char small_id[] =
    "95ff6559f2cb2c31a73da40f877c7af2c51e0a73a8cc5f686640829c82975f81";

static fr_catalogue *
parse_ok(const char *text)
{
    fr_catalogue *c = NULL;
    char err[256] = "";

    fr_err rc = fr_catalogue_parse(text, strlen(text), &c, err, sizeof err);
    if (rc)
        print_error("unexpected refusal: %s\n", err);
    assert_int_equal(rc, FR_OK);
    assert_non_null(c);
    return c;
}

/* Parsing text fails with rc and an error starting with want. */
static void
parse_bad(const char *text, size_t len, fr_err want_rc, const char *want)
{
    fr_catalogue *c = (fr_catalogue *)1;
    char err[256] = "";

    assert_int_equal(fr_catalogue_parse(text, len, &c, err, sizeof err),
                     want_rc);
    assert_null(c);
    if (strncmp(err, want, strlen(want)))
        print_error("got \"%s\", want \"%s...\"\n", err, want);
    assert_true(!strncmp(err, want, strlen(want)));
}

#define PARSE_BAD(lit, rc, want) parse_bad(lit, sizeof(lit) - 1, rc, want)

static void
id_hex(const fr_catalogue *c, char out[FR_CATALOGUE_ID_HEX + 1])
{
    fr_catalogue_id_hex(c, out);
}

static void
test_known_vector(void **state)
{
    fr_catalogue *c = parse_ok(small);
    char hex[FR_CATALOGUE_ID_HEX + 1];
    uint8_t raw[FR_CATALOGUE_ID_BYTES];
    size_t len;
    const uint8_t *b = fr_catalogue_bytes(c, &len);

    (void)state;
    id_hex(c, hex);
    assert_string_equal(hex, small_id);
    fr_catalogue_id(c, raw);
    assert_int_equal(raw[0], 0x95);
    assert_int_equal(raw[31], 0x81);
    assert_int_equal(len, strlen(small));
    assert_memory_equal(b, small, len);
    assert_int_equal(fr_catalogue_n_items(c), 5);
    assert_string_equal(fr_catalogue_sku(c, 0), "85123A");
    assert_string_equal(fr_catalogue_sku(c, 3), "BANK CHARGES");
    assert_string_equal(fr_catalogue_sku(c, 4), "\xc3\xa9t\xc3\xa9");
    assert_int_equal(fr_catalogue_find(c, "POST", 4), 2);
    assert_int_equal(fr_catalogue_find(c, "BANK CHARGES!", 12), 3);
    assert_int_equal(fr_catalogue_find(c, "post", 4), FR_CATALOGUE_NONE);
    assert_int_equal(fr_catalogue_find(c, "", 0), FR_CATALOGUE_NONE);
    fr_catalogue_destroy(&c);
    assert_null(c);
    fr_catalogue_destroy(&c);
}

static void
test_round_trip(void **state)
{
    char dir[] = "/tmp/fr-cat-XXXXXX", path[64], err[256];
    char h1[FR_CATALOGUE_ID_HEX + 1], h2[FR_CATALOGUE_ID_HEX + 1];
    fr_catalogue *a = parse_ok(small), *b = NULL;
    const char *skus[] = {"85123A", "71053", "POST", "BANK CHARGES",
                          "\xc3\xa9t\xc3\xa9"};
    size_t la, lb;
    struct stat st;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/items.catalogue", dir);
    assert_int_equal(fr_catalogue_write(a, path), FR_OK);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    assert_int_equal(fr_catalogue_load(path, &b, err, sizeof err), FR_OK);
    id_hex(a, h1);
    id_hex(b, h2);
    assert_string_equal(h1, h2);
    {
        /* la is set by the first call: not in one argument list */
        const uint8_t *ba = fr_catalogue_bytes(a, &la);
        const uint8_t *bb = fr_catalogue_bytes(b, &lb);
        assert_int_equal(la, lb);
        assert_memory_equal(ba, bb, la);
    }
    fr_catalogue_destroy(&b);
    assert_int_equal(fr_catalogue_from_skus(skus, 5, &b, err, sizeof err),
                     FR_OK);
    id_hex(b, h2);
    assert_string_equal(h2, small_id);
    fr_catalogue_destroy(&b);
    unlink(path);
    /* Missing file and a bad file name the path. */
    assert_int_equal(fr_catalogue_load(path, &b, err, sizeof err), FR_ENOENT);
    assert_null(b);
    assert_true(!strncmp(err, path, strlen(path)));
    {
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(HDR "A\nB\nA\n", f);
        fclose(f);
    }
    assert_int_equal(fr_catalogue_load(path, &b, err, sizeof err), FR_EINVAL);
    assert_non_null(strstr(err, "items.catalogue:4: duplicate SKU \"A\""));
    unlink(path);
    rmdir(dir);
    fr_catalogue_destroy(&a);
}

static void
test_id_line_ends_order_content(void **state)
{
    char h[4][FR_CATALOGUE_ID_HEX + 1];
    fr_catalogue *c[4];

    (void)state;
    c[0] = parse_ok(HDR "A1\nB2\nC3\n");
    c[1] = parse_ok("fedrec-catalogue 1\r\nA1\r\nB2\nC3"); /* mixed, no LF */
    c[2] = parse_ok(HDR "B2\nA1\nC3\n");
    c[3] = parse_ok(HDR "A1\nB2\nC4\n");
    for (int i = 0; i < 4; i++)
        id_hex(c[i], h[i]);
    assert_string_equal(h[0], h[1]);
    assert_string_not_equal(h[0], h[2]);
    assert_string_not_equal(h[0], h[3]);
    assert_string_not_equal(h[2], h[3]);
    {
        size_t l0, l1;
        const uint8_t *b0 = fr_catalogue_bytes(c[0], &l0);
        const uint8_t *b1 = fr_catalogue_bytes(c[1], &l1);
        assert_int_equal(l0, l1);
        assert_memory_equal(b0, b1, l0);
    }
    for (int i = 0; i < 4; i++)
        fr_catalogue_destroy(&c[i]);
}

static void
test_refusals(void **state)
{
    char long_sku[sizeof HDR + 70], ok64[sizeof HDR + 70];

    (void)state;
    PARSE_BAD("", FR_EINVAL, "line 1: empty file");
    PARSE_BAD("fedrec-catalogue 2\nA\n", FR_EINVAL, "line 1: not a catalogue");
    PARSE_BAD("\xef\xbb\xbf" HDR "A\n", FR_EINVAL, "line 1: not a catalogue");
    PARSE_BAD("sku\nA\n", FR_EINVAL, "line 1: not a catalogue");
    PARSE_BAD(HDR, FR_EINVAL, "line 2: no items");
    PARSE_BAD(HDR "A\nB\nA\n", FR_EINVAL,
              "line 4: duplicate SKU \"A\" (first at line 2)");
    PARSE_BAD(HDR "A\n\nB\n", FR_EINVAL, "line 3: empty SKU");
    PARSE_BAD(HDR "A\nB\n\n", FR_EINVAL, "line 4: empty SKU");
    PARSE_BAD(HDR "A\nB\tC\n", FR_EINVAL,
              "line 3: control character");
    PARSE_BAD(HDR "A\nB\rC\n", FR_EINVAL,
              "line 3: control character");
    PARSE_BAD(HDR "A\n\xc2\x85X\n", FR_EINVAL,
              "line 3: control character"); /* U+0085, a C1 control */
    PARSE_BAD(HDR "A\nB\0C\n", FR_EINVAL,
              "line 3: control character");
    PARSE_BAD(HDR "A\nB\nC\xff\n", FR_EINVAL,
              "line 4: invalid UTF-8");
    PARSE_BAD(HDR "\xc0\xaf\n", FR_EINVAL,
              "line 2: invalid UTF-8"); /* overlong '/' */
    PARSE_BAD(HDR "\xed\xa0\x80\n", FR_EINVAL,
              "line 2: invalid UTF-8"); /* a surrogate */
    PARSE_BAD(HDR "\xc3\n", FR_EINVAL,
              "line 2: invalid UTF-8"); /* truncated */
    PARSE_BAD(HDR "A\n B\n", FR_EINVAL,
              "line 3: leading or trailing space");
    PARSE_BAD(HDR "A\nB \n", FR_EINVAL,
              "line 3: leading or trailing space");
    snprintf(long_sku, sizeof long_sku, HDR "%065d\n", 7);
    parse_bad(long_sku, strlen(long_sku), FR_EINVAL,
              "line 2: SKU longer than 64 bytes");
    snprintf(ok64, sizeof ok64, HDR "%064d\n", 7);
    {
        fr_catalogue *c = parse_ok(ok64);
        assert_int_equal(strlen(fr_catalogue_sku(c, 0)), 64);
        fr_catalogue_destroy(&c);
    }
}

static void
test_from_skus_refusals(void **state)
{
    const char *dup[] = {"A", "B", "C", "B"};
    const char *bad[] = {"A", "B ", "C"};
    const char *empty[] = {"A", ""};
    const char *why = NULL;
    fr_catalogue *c = (fr_catalogue *)1;
    char err[256];

    (void)state;
    assert_int_equal(fr_catalogue_from_skus(dup, 4, &c, err, sizeof err),
                     FR_EINVAL);
    assert_null(c);
    assert_string_equal(err, "item 3: duplicate SKU \"B\" (first at item 1)");
    assert_int_equal(fr_catalogue_from_skus(bad, 3, &c, err, sizeof err),
                     FR_EINVAL);
    assert_string_equal(err, "item 1: leading or trailing space in SKU");
    assert_int_equal(fr_catalogue_from_skus(empty, 2, &c, err, sizeof err),
                     FR_EINVAL);
    assert_string_equal(err, "item 1: empty SKU");
    assert_int_equal(fr_catalogue_from_skus(NULL, 0, &c, err, sizeof err),
                     FR_EINVAL);
    assert_true(fr_catalogue_sku_ok("85123A", 6, &why));
    assert_false(fr_catalogue_sku_ok("85123A ", 7, &why));
    assert_string_equal(why, "leading or trailing space in SKU");
    assert_false(fr_catalogue_sku_ok("x", 0, NULL));
}

/* n generated SKUs "S<i>" as one catalogue text (malloc'd). */
static char *
gen_text(size_t n, size_t *len)
{
    size_t cap = sizeof HDR + n * 12, pos = 0;
    char *t = malloc(cap);

    assert_non_null(t);
    pos += (size_t)snprintf(t, cap, HDR);
    for (size_t i = 0; i < n; i++)
        pos += (size_t)snprintf(t + pos, cap - pos, "S%zu\n", i);
    *len = pos;
    return t;
}

static void
test_find_200k(void **state)
{
    size_t len, n = 200000;
    char *t = gen_text(n, &len), buf[32], err[256];
    fr_catalogue *c = NULL;

    (void)state;
    assert_int_equal(fr_catalogue_parse(t, len, &c, err, sizeof err), FR_OK);
    assert_int_equal(fr_catalogue_n_items(c), n);
    for (size_t i = 0; i < n; i++) {
        int l = snprintf(buf, sizeof buf, "S%zu", i);
        assert_int_equal(fr_catalogue_find(c, buf, (size_t)l), i);
    }
    for (size_t i = 0; i < n; i += 7) {
        int l = snprintf(buf, sizeof buf, "S%zu", i + n); /* not listed */
        assert_int_equal(fr_catalogue_find(c, buf, (size_t)l),
                         FR_CATALOGUE_NONE);
        l = snprintf(buf, sizeof buf, "s%zu", i); /* case differs */
        assert_int_equal(fr_catalogue_find(c, buf, (size_t)l),
                         FR_CATALOGUE_NONE);
    }
    /* "S1" is listed and a prefix of "S12345"; each finds itself, and a
     * prefix length of a listed SKU finds the shorter one only. */
    assert_int_equal(fr_catalogue_find(c, "S12345", 6), 12345);
    assert_int_equal(fr_catalogue_find(c, "S12345", 2), 1);
    assert_int_equal(fr_catalogue_find(c, "S199999", 7), 199999);
    assert_int_equal(fr_catalogue_find(c, "S1999990", 8), FR_CATALOGUE_NONE);
    assert_int_equal(fr_catalogue_find(c, "S", 1), FR_CATALOGUE_NONE);
    assert_string_equal(fr_catalogue_sku(c, 123456), "S123456");
    fr_catalogue_destroy(&c);
    free(t);
}

static void
test_item_limit(void **state)
{
    size_t len, n = FR_CATALOGUE_MAX_ITEMS;
    char *t = gen_text(n + 1, &len), err[256];
    char **skus = malloc((n + 1) * sizeof *skus);
    fr_catalogue *c = NULL;
    size_t at = 0, cut;

    (void)state;
    assert_non_null(skus);
    parse_bad(t, len, FR_ELIMIT, "line 1048578: more than 1048576 items");
    /* Exactly the limit is accepted. */
    cut = len - strlen("S1048576\n");
    assert_int_equal(fr_catalogue_parse(t, cut, &c, err, sizeof err), FR_OK);
    assert_int_equal(fr_catalogue_n_items(c), n);
    assert_int_equal(fr_catalogue_find(c, "S1048575", 8), n - 1);
    fr_catalogue_destroy(&c);
    /* The same through fr_catalogue_from_skus, in memory. */
    for (size_t i = 0; i < len; i++)
        if (t[i] == '\n') {
            t[i] = '\0';
            if (i + 1 < len)
                skus[at++] = t + i + 1;
        }
    assert_int_equal(at, n + 1);
    assert_int_equal(fr_catalogue_from_skus((const char *const *)skus, n + 1,
                                            &c, err, sizeof err),
                     FR_ELIMIT);
    assert_null(c);
    assert_int_equal(fr_catalogue_from_skus((const char *const *)skus, n, &c,
                                            err, sizeof err),
                     FR_OK);
    assert_int_equal(fr_catalogue_n_items(c), n);
    fr_catalogue_destroy(&c);
    free(skus);
    free(t);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_vector),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_id_line_ends_order_content),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_from_skus_refusals),
        cmocka_unit_test(test_find_200k),
        cmocka_unit_test(test_item_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
