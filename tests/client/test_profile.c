/*
 * test_profile.c - import profiles: the two built-ins, a profile printed as
 * a file reads back the same, a file overrides the fedrec defaults, and each
 * bad key is refused with a message naming it.
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

#include "profile.h"

static char path[] = "/tmp/fr-profile-XXXXXX";

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
write_text(const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void
test_builtins(void **state)
{
    import_profile *p = NULL;
    char err[512] = "";
    (void)state;

    assert_string_equal(import_profile_builtins[0], "fedrec");
    assert_int_equal(import_profile_builtin("fedrec", &p, err, sizeof err),
                     FR_OK);
    assert_string_equal(p->conf.member_column, "member_id");
    assert_string_equal(p->conf.item_column, "item_id");
    assert_string_equal(p->conf.time_column, "timestamp");
    assert_string_equal(p->conf.quantity_column, "quantity");
    assert_int_equal(p->conf.quantity_required, 0);
    assert_int_equal(p->n_formats, 1);
    assert_int_equal(p->formats[0].kind, TIMEFMT_UNIX);
    assert_int_equal(p->has_drop_items, 0);
    assert_int_equal(p->sku_upper, 0);
    import_profile_destroy(&p);
    assert_null(p);

    assert_int_equal(import_profile_load("online-retail", &p, err, sizeof err),
                     FR_OK);
    assert_string_equal(p->conf.member_column, "CustomerID");
    assert_string_equal(p->conf.item_column, "StockCode");
    assert_string_equal(p->conf.time_column, "InvoiceDate");
    assert_string_equal(p->conf.quantity_column, "Quantity");
    assert_string_equal(p->conf.invoice_column, "InvoiceNo");
    assert_string_equal(p->conf.price_column, "UnitPrice");
    assert_string_equal(p->conf.invoice_cancel_prefix, "C");
    assert_int_equal(p->n_formats, 3);
    assert_int_equal(p->formats[0].kind, TIMEFMT_PATTERN);
    assert_int_equal(p->formats[2].kind, TIMEFMT_ISO8601);
    assert_int_equal(p->zone.kind, TIMEFMT_ZONE_UTC);
    assert_int_equal(p->sku_upper, 1);
    assert_int_equal(p->has_drop_items, 1);
    /* the expression is anchored: whole codes only */
    assert_int_equal(regexec(&p->drop_items, "POST", 0, NULL, 0), 0);
    assert_int_equal(regexec(&p->drop_items, "BANK CHARGES", 0, NULL, 0), 0);
    assert_int_equal(regexec(&p->drop_items, "gift_0001_40", 0, NULL, 0), 0);
    assert_int_not_equal(regexec(&p->drop_items, "85123A", 0, NULL, 0), 0);
    assert_int_not_equal(regexec(&p->drop_items, "POSTAGE", 0, NULL, 0), 0);
    assert_int_not_equal(regexec(&p->drop_items, "M1", 0, NULL, 0), 0);
    import_profile_destroy(&p);
    import_profile_destroy(NULL);

    assert_int_equal(import_profile_builtin("nope", &p, err, sizeof err),
                     FR_ENOENT);
    assert_int_equal(
        import_profile_load("/nonexistent/p.profile", &p, err, sizeof err),
        FR_ENOENT);
    assert_null(p);
    assert_non_null(strstr(err, "neither a built-in"));
}

/* Prints p to the temporary file and returns the text (static). */
static const char *
print_to_file(const import_profile *p)
{
    static char text[8192];
    FILE *f = fopen(path, "w");
    size_t n;

    assert_non_null(f);
    import_profile_print(p, f);
    fclose(f);
    f = fopen(path, "r");
    assert_non_null(f);
    n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    return text;
}

static void
test_print_reads_back(void **state)
{
    static char first[8192];
    import_profile *p = NULL, *q = NULL;
    char err[512] = "";
    (void)state;

    for (size_t i = 0; import_profile_builtins[i]; i++) {
        assert_int_equal(import_profile_builtin(import_profile_builtins[i], &p,
                                                err, sizeof err),
                         FR_OK);
        snprintf(first, sizeof first, "%s", print_to_file(p));
        assert_non_null(strstr(first, "member_column "));
        if (import_profile_load(path, &q, err, sizeof err))
            fail_msg("%s: %s", import_profile_builtins[i], err);
        assert_string_equal(print_to_file(q), first);
        assert_string_equal(q->conf.drop_items, p->conf.drop_items);
        assert_string_equal(q->conf.time_format_2, p->conf.time_format_2);
        assert_int_equal(q->n_formats, p->n_formats);
        import_profile_destroy(&p);
        import_profile_destroy(&q);
    }
    assert_non_null(strstr(first, "time_format_2 %m/%d/%Y %H:%M\n"));
    assert_non_null(strstr(first, "drop_items ^(POST|DOT|M|C2|D|S|B|CRUK|"
                                  "PADS|AMAZONFEE|BANK CHARGES|gift_.*)$\n"));
}

static void
test_file_overrides_defaults(void **state)
{
    import_profile *p = NULL;
    char err[512] = "";
    (void)state;

    write_text("# a shop\n"
               "member_column Card No\n"
               "item_column SKU\n"
               "time_column Sold At\n"
               "time_format_1 %d.%m.%Y %H:%M\n"
               "time_format_2 iso8601\n"
               "time_zone Asia/Taipei\n"
               "guest_ids ^(0|GUEST)$\n"
               "store_column Branch\n");
    if (import_profile_load(path, &p, err, sizeof err))
        fail_msg("%s", err);
    assert_string_equal(p->conf.member_column, "Card No");
    assert_string_equal(p->conf.quantity_column, "quantity"); /* default */
    assert_string_equal(p->conf.store_column, "Branch");
    assert_int_equal(p->n_formats, 2);
    assert_int_equal(p->zone.kind, TIMEFMT_ZONE_IANA);
    assert_int_equal(p->has_guest_ids, 1);
    import_profile_destroy(&p);
}

/* Loads text as a profile file, expecting FR_EINVAL and want in the error. */
static void
expect_bad(const char *text, const char *want)
{
    import_profile *p = (import_profile *)&p;
    char err[512] = "";

    write_text(text);
    assert_int_equal(import_profile_load(path, &p, err, sizeof err), FR_EINVAL);
    assert_null(p);
    if (!strstr(err, want))
        fail_msg("error '%s' does not contain '%s'", err, want);
}

static void
test_bad_profiles(void **state)
{
    (void)state;
    expect_bad("colour blue\n", "unknown configuration key 'colour'");
    expect_bad("member_column x\nitem_column X\n",
               "member_column and item_column name the same column");
    expect_bad("time_format_1 %Y-%m\n", "time_format_1");
    expect_bad("time_format_1 %Y-%m-%d\ntime_format_3 epoch\n",
               "time_format_3");
    expect_bad("time_zone Mars/Olympus\n", "time_zone");
    expect_bad("time_zone +25:00\n", "time_zone");
    expect_bad("drop_items ^(POST$\n", "drop_items is not a POSIX extended");
    expect_bad("guest_ids [z-a]\n", "guest_ids");
    expect_bad("sku_case lower\n", "sku_case");
    expect_bad("quantity_required maybe\n", "quantity_required");
    expect_bad("quantity_required yes\nquantity_column\n", "has no value");
    /* the line of a bad key is named */
    expect_bad("# ok\nname x\nsku_case\n", ":3:");
    /* expressions regcomp would expand beyond any memory */
    expect_bad("drop_items ^(P++++++++++++++++++++++++++++++++++++++++)$\n",
               "drop_items: the expression is a repetition of a repetition");
    expect_bad("guest_ids ((((a{99}){99}){99}){99})\n",
               "guest_ids: the expression is too large");
    expect_bad("drop_items ((((a9{9}){99}){99}){99})((a9{9\n",
               "drop_items: the expression is too large");
    expect_bad("drop_items ((((a{00}){99}){99})b{99})$\n",
               "drop_items: the expression is too large");
}

/* Large but bounded repetitions still compile. */
static void
test_bounded_expressions(void **state)
{
    import_profile *p = NULL;
    char err[512] = "";
    (void)state;

    write_text("drop_items ^(a{9}){99}$\n"
               "guest_ids ^((((g+)+)+)+[[:digit:]]{1,8})$\n");
    if (import_profile_load(path, &p, err, sizeof err))
        fail_msg("%s", err);
    assert_true(p->has_drop_items && p->has_guest_ids);
    assert_int_equal(regexec(&p->guest_ids, "gggg12", 0, NULL, 0), 0);
    import_profile_destroy(&p);
}

static void
test_required_columns(void **state)
{
    import_profile_conf c;
    import_profile *p = NULL;
    char err[512] = "";
    (void)state;

    memset(&c, 0, sizeof c);
    assert_int_equal(
        fr_config_defaults(&import_profile_table, &c, err, sizeof err), FR_OK);
    c.item_column[0] = '\0';
    assert_int_equal(import_profile_from_conf(&c, &p, err, sizeof err),
                     FR_EINVAL);
    assert_non_null(strstr(err, "item_column is required"));
    strcpy(c.item_column, "sku");
    c.quantity_column[0] = '\0';
    assert_int_equal(import_profile_from_conf(&c, &p, err, sizeof err), FR_OK);
    import_profile_destroy(&p);
    c.quantity_required = 1;
    assert_int_equal(import_profile_from_conf(&c, &p, err, sizeof err),
                     FR_EINVAL);
    assert_non_null(strstr(err, "quantity_column is required"));
    c.quantity_required = 0;
    c.time_format_1[0] = '\0';
    assert_int_equal(import_profile_from_conf(&c, &p, err, sizeof err),
                     FR_EINVAL);
    assert_non_null(strstr(err, "no time format"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtins),
        cmocka_unit_test(test_print_reads_back),
        cmocka_unit_test(test_file_overrides_defaults),
        cmocka_unit_test(test_bad_profiles),
        cmocka_unit_test(test_bounded_expressions),
        cmocka_unit_test(test_required_columns),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
