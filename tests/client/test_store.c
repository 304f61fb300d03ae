/*
 * test_store.c - the store's CSV import: only the allow-listed columns are
 * kept, quoting works, and every kind of bad row stops the whole load with
 * the file and line named.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/data.h"
#include "store.h"

static char path[] = "/tmp/fr-store-XXXXXX";

static int
setup(void **state)
{
    int fd = mkstemp(path);
    (void)state;
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    unlink(path);
    return 0;
}

static void
write_bytes(const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    fclose(f);
}

static void
write_text(const char *text)
{
    write_bytes(text, strlen(text));
}

static void
test_loads_and_ignores_other_columns(void **state)
{
    store_data *s = NULL;
    char err[512] = "";
    uint32_t a, b, n;
    const uint32_t *items;
    (void)state;

    write_text("name,member_id,email,item_id,timestamp\n"
               "\"Doe, Jane\",A1,j@example.org,5,100\n"
               "\"Roe \"\"Rick\"\"\",B2,r@example.org,7,50\n"
               "\"Doe, Jane\",A1,j@example.org,3,90\r\n"
               "\n");
    assert_int_equal(store_data_load(path, 10, &s, err, sizeof err), FR_OK);
    assert_int_equal(store_data_ignored_columns(s), 2);
    assert_int_equal(fr_dataset_n_members(store_data_dataset(s)), 2);
    assert_int_equal(fr_dataset_n_interactions(store_data_dataset(s)), 3);
    assert_int_equal(store_data_member(s, "A1", &a), FR_OK);
    assert_int_equal(store_data_member(s, "B2", &b), FR_OK);
    assert_int_not_equal(a, b);
    assert_int_equal(store_data_member(s, "C3", &n), FR_ENOENT);
    items = fr_dataset_member_items(store_data_dataset(s), a, &n);
    assert_int_equal(n, 2);
    assert_int_equal(items[0], 3); /* oldest first */
    assert_int_equal(items[1], 5);
    store_data_destroy(&s);
    assert_null(s);
}

/* Loads text and expects a failure whose message contains want. */
static void
expect_error(const char *text, size_t len, const char *want)
{
    store_data *s = NULL;
    char err[512] = "";

    write_bytes(text, len);
    assert_int_not_equal(store_data_load(path, 10, &s, err, sizeof err),
                         FR_OK);
    assert_null(s);
    if (!strstr(err, want))
        fail_msg("error '%s' does not contain '%s'", err, want);
    assert_non_null(strstr(err, path));
}

#define EXPECT(text, want) expect_error(text, sizeof(text) - 1, want)

static void
test_bad_rows_are_named(void **state)
{
    (void)state;
    EXPECT("member_id,item_id\n", ":1: header must name");
    EXPECT("member_id,item_id,timestamp\nA,1,5\nB,10,5\n",
           ":3: item_id is not an integer in [0, 9]");
    EXPECT("member_id,item_id,timestamp\nA,x,5\n", ":2: item_id");
    EXPECT("member_id,item_id,timestamp\nA,1,-4\n", ":2: timestamp");
    EXPECT("member_id,item_id,timestamp\nA,1,99999999999\n", ":2: timestamp");
    EXPECT("member_id,item_id,timestamp\nA,1\n", ":2: malformed row");
    EXPECT("member_id,item_id,timestamp\n,1,5\n", ":2: member_id empty");
    EXPECT("member_id,item_id,timestamp\n\"A,1,5\n", ":2: malformed row");
    EXPECT("member_id,item_id,timestamp\nA\xff,1,5\n", ":2: not valid UTF-8");
    EXPECT("member_id,item_id,timestamp\nA\0,1,5\n", ":2: contains a NUL");
    EXPECT("member_id,item_id,timestamp\n", "no interactions");
    EXPECT("", "empty file");
}

static void
test_long_fields(void **state)
{
    char text[6000];
    int n;
    (void)state;

    n = snprintf(text, sizeof text, "member_id,item_id,timestamp\n");
    memset(text + n, 'm', 100);
    snprintf(text + n + 100, sizeof text - (size_t)n - 100, ",1,5\n");
    expect_error(text, strlen(text), ":2: member_id empty or longer");
    n = snprintf(text, sizeof text, "member_id,item_id,timestamp\nA,1,5,");
    memset(text + n, 'x', 5000);
    text[n + 5000] = '\n';
    expect_error(text, (size_t)n + 5001, ":2: line longer");
}

static void
test_missing_file(void **state)
{
    store_data *s = NULL;
    char err[512] = "";
    (void)state;
    assert_int_equal(store_data_load("/nonexistent/x.csv", 10, &s, err,
                                     sizeof err), FR_ENOENT);
    assert_non_null(strstr(err, "cannot open"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loads_and_ignores_other_columns),
        cmocka_unit_test(test_bad_rows_are_named),
        cmocka_unit_test(test_long_fields),
        cmocka_unit_test(test_missing_file),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
