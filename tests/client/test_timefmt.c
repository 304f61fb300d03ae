/*
 * test_timefmt.c - the time formats of import profiles: unix seconds and
 * milliseconds, ISO 8601 with and without offsets, strptime-style patterns
 * with 1- or 2-digit fields, the zones (UTC, fixed, IANA), and the refusal
 * of dates that do not exist, hour 24 and years outside 1970..2100.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "timefmt.h"

#define T_2010 1291191960LL /* 2010-12-01 08:26:00 UTC */

static timefmt
fmt(const char *spec)
{
    timefmt f;
    char err[256] = "";

    if (timefmt_spec(spec, &f, err, sizeof err))
        fail_msg("format '%s' refused: %s", spec, err);
    return f;
}

static timefmt_zone
zone(const char *spec)
{
    timefmt_zone z;
    char err[256] = "";

    if (timefmt_zone_parse(spec, &z, err, sizeof err))
        fail_msg("zone '%s' refused: %s", spec, err);
    return z;
}

static int64_t
read_ok(const char *spec, const char *zspec, const char *text)
{
    timefmt f = fmt(spec);
    timefmt_zone z = zone(zspec);
    int64_t t = -1;
    timefmt_status st = timefmt_read(&f, &z, text, &t);

    if (st)
        fail_msg("'%s' in '%s': %s", text, spec, timefmt_why(st));
    return t;
}

static timefmt_status
read_st(const char *spec, const char *zspec, const char *text)
{
    timefmt f = fmt(spec);
    timefmt_zone z = zone(zspec);
    int64_t t = 12345;
    timefmt_status st = timefmt_read(&f, &z, text, &t);

    if (st)
        assert_int_equal(t, 12345); /* untouched on refusal */
    return st;
}

static void
test_unix(void **state)
{
    (void)state;
    assert_int_equal(read_ok("unix", "UTC", "0"), 0);
    assert_int_equal(read_ok("unix", "+08:00", "1690000000"), 1690000000);
    assert_int_equal(read_ok("unix_ms", "UTC", "1690000000999"), 1690000000);
    assert_int_equal(read_st("unix", "UTC", "-4"), TIMEFMT_NEGATIVE);
    assert_int_equal(read_st("unix_ms", "UTC", "-4000"), TIMEFMT_NEGATIVE);
    assert_int_equal(read_st("unix", "UTC", "5.5"), TIMEFMT_SYNTAX);
    assert_int_equal(read_st("unix", "UTC", ""), TIMEFMT_SYNTAX);
    assert_int_equal(read_st("unix", "UTC", "-"), TIMEFMT_SYNTAX);
    assert_int_equal(read_st("unix", "UTC", "2023-11-14"), TIMEFMT_SYNTAX);
    assert_int_equal(read_st("unix", "UTC", "99999999999999999999"),
                     TIMEFMT_SYNTAX);
}

static void
test_iso8601(void **state)
{
    (void)state;
    assert_int_equal(read_ok("iso8601", "UTC", "2010-12-01 08:26"), T_2010);
    assert_int_equal(read_ok("iso8601", "UTC", "2010-12-01T08:26:00"),
                     T_2010);
    assert_int_equal(read_ok("iso8601", "UTC", "2010-12-01T08:26:00.123Z"),
                     T_2010);
    assert_int_equal(read_ok("iso8601", "UTC", "2010-12-01T16:26:00+08:00"),
                     T_2010);
    assert_int_equal(read_ok("iso8601", "UTC", "2010-12-01T16:26:00+0800"),
                     T_2010);
    assert_int_equal(read_ok("iso8601", "UTC", "2010-12-01T03:26-05:00"),
                     T_2010);
    /* an explicit offset wins over the profile's zone */
    assert_int_equal(read_ok("iso8601", "+08:00", "2010-12-01T08:26Z"),
                     T_2010);
    /* the zone applies to times without one */
    assert_int_equal(read_ok("iso8601", "+08:00", "2010-12-01 16:26:00"),
                     T_2010);
    assert_int_equal(read_ok("iso8601", "-0130", "2010-12-01 06:56:00"),
                     T_2010);
    assert_int_equal(read_ok("iso8601", "UTC", "2012-02-29 23:59:59"),
                     1330559999);
    assert_int_equal(read_ok("iso8601", "UTC", "2100-12-31 23:59:59"),
                     4133980799LL);
    assert_int_equal(read_st("iso8601", "UTC", "2010-12-1 08:26"),
                     TIMEFMT_SYNTAX);
    assert_int_equal(read_st("iso8601", "UTC", "2010-12-01"), TIMEFMT_SYNTAX);
    assert_int_equal(read_st("iso8601", "UTC", "2010-12-01 08:26:00x"),
                     TIMEFMT_SYNTAX);
    assert_int_equal(read_st("iso8601", "UTC", "2010-12-01 08:26:00."),
                     TIMEFMT_SYNTAX);
    assert_int_equal(read_st("iso8601", "UTC", "2010-12-01 08:26+8"),
                     TIMEFMT_SYNTAX);
    assert_int_equal(read_st("iso8601", "UTC", "2010-12-01 08:26+15:00"),
                     TIMEFMT_SYNTAX);
}

static void
test_bad_dates(void **state)
{
    (void)state;
    assert_int_equal(read_st("iso8601", "UTC", "2010-02-30 00:00"),
                     TIMEFMT_RANGE);
    assert_int_equal(read_st("iso8601", "UTC", "2011-02-29 00:00"),
                     TIMEFMT_RANGE);
    assert_int_equal(read_st("iso8601", "UTC", "1900-02-29 00:00"),
                     TIMEFMT_YEAR);
    assert_int_equal(read_st("iso8601", "UTC", "2010-04-31 00:00"),
                     TIMEFMT_RANGE);
    assert_int_equal(read_st("iso8601", "UTC", "2010-13-01 00:00"),
                     TIMEFMT_RANGE);
    assert_int_equal(read_st("iso8601", "UTC", "2010-00-01 00:00"),
                     TIMEFMT_RANGE);
    assert_int_equal(read_st("iso8601", "UTC", "2010-01-00 00:00"),
                     TIMEFMT_RANGE);
    assert_int_equal(read_st("iso8601", "UTC", "2010-01-01 24:00"),
                     TIMEFMT_RANGE);
    assert_int_equal(read_st("iso8601", "UTC", "2010-01-01 23:60"),
                     TIMEFMT_RANGE);
    assert_int_equal(read_st("iso8601", "UTC", "2010-01-01 23:59:60"),
                     TIMEFMT_RANGE);
    assert_int_equal(read_st("iso8601", "UTC", "1969-12-31 23:59"),
                     TIMEFMT_YEAR);
    assert_int_equal(read_st("iso8601", "UTC", "2101-01-01 00:00"),
                     TIMEFMT_YEAR);
    /* 1970 in the zone east of UTC is before the epoch */
    assert_int_equal(read_st("iso8601", "+08:00", "1970-01-01 00:00"),
                     TIMEFMT_NEGATIVE);
    assert_int_equal(read_st("%m/%d/%Y %H:%M", "UTC", "2/30/2010 8:26"),
                     TIMEFMT_RANGE);
    assert_int_equal(read_st("%m/%d/%Y %H:%M", "UTC", "12/1/2010 24:00"),
                     TIMEFMT_RANGE);
    assert_non_null(strstr(timefmt_why(TIMEFMT_RANGE), "not a valid date"));
}

static void
test_patterns(void **state)
{
    (void)state;
    assert_int_equal(read_ok("%m/%d/%Y %H:%M", "UTC", "12/1/2010 8:26"),
                     T_2010);
    assert_int_equal(read_ok("%m/%d/%Y %H:%M", "UTC", "12/01/2010 08:26"),
                     T_2010);
    assert_int_equal(read_ok("%Y-%m-%d %H:%M:%S", "UTC", "2010-12-01 08:26:00"),
                     T_2010);
    assert_int_equal(read_ok("%d.%m.%Y", "UTC", "1.12.2010"),
                     T_2010 - 8 * 3600 - 26 * 60);
    assert_int_equal(read_ok("%Y%m%d %H%M%S %%", "UTC", "20101201 082600 %"),
                     T_2010);
    assert_int_equal(read_ok("%m/%d/%Y %H:%M", "+08:00", "12/1/2010 16:26"),
                     T_2010);
    assert_int_equal(read_st("%m/%d/%Y %H:%M", "UTC", "12/1/10 8:26"),
                     TIMEFMT_SYNTAX);
    assert_int_equal(read_st("%m/%d/%Y %H:%M", "UTC", "123/1/2010 8:26"),
                     TIMEFMT_SYNTAX);
    assert_int_equal(read_st("%m/%d/%Y %H:%M", "UTC", "12/1/2010 8:26:00"),
                     TIMEFMT_SYNTAX);
    assert_int_equal(read_st("%m/%d/%Y %H:%M", "UTC", "12-1-2010 8:26"),
                     TIMEFMT_SYNTAX);
    assert_int_equal(read_st("%m/%d/%Y %H:%M", "UTC", "12/1/2010"),
                     TIMEFMT_SYNTAX);
    assert_string_equal(timefmt_name(&(timefmt){TIMEFMT_UNIX, "unix"}),
                        "unix");
}

static void
test_bad_specs(void **state)
{
    timefmt f;
    timefmt_zone z;
    char err[256];
    (void)state;

    assert_int_equal(timefmt_spec("%Y-%m", &f, err, sizeof err), FR_EINVAL);
    assert_non_null(strstr(err, "needs %Y, %m and %d"));
    assert_int_equal(timefmt_spec("%Y-%m-%d %I", &f, err, sizeof err),
                     FR_EINVAL);
    assert_non_null(strstr(err, "only %Y"));
    assert_int_equal(timefmt_spec("%Y-%m-%d %Y", &f, err, sizeof err),
                     FR_EINVAL);
    assert_int_equal(timefmt_spec("%Y-%m-%d %", &f, err, sizeof err),
                     FR_EINVAL);
    assert_int_equal(timefmt_spec("epoch", &f, err, sizeof err), FR_EINVAL);
    assert_int_equal(timefmt_zone_parse("+25:00", &z, err, sizeof err),
                     FR_EINVAL);
    assert_int_equal(timefmt_zone_parse("+08:61", &z, err, sizeof err),
                     FR_EINVAL);
    assert_int_equal(timefmt_zone_parse("Mars/Olympus", &z, err, sizeof err),
                     FR_EINVAL);
    assert_non_null(strstr(err, "tz database"));
    assert_int_equal(timefmt_zone_parse("../etc/passwd", &z, err, sizeof err),
                     FR_EINVAL);
    assert_int_equal(timefmt_zone_parse("/etc/localtime", &z, err, sizeof err),
                     FR_EINVAL);
    assert_int_equal(timefmt_zone_parse("", &z, err, sizeof err), FR_EINVAL);
    z = zone("Z");
    assert_int_equal(z.kind, TIMEFMT_ZONE_UTC);
    z = zone("+14:00");
    assert_int_equal(z.offset_s, 14 * 3600);
}

static void
test_iana(void **state)
{
    const char *before;
    (void)state;

    setenv("TZ", "UTC", 1);
    assert_int_equal(read_ok("iso8601", "Asia/Taipei", "2010-12-01 16:26"),
                     T_2010);
    assert_int_equal(read_ok("%m/%d/%Y %H:%M", "Asia/Taipei", "12/1/2010 16:26"),
                     T_2010);
    /* summer time: New York is UTC-4 in July, UTC-5 in December */
    assert_int_equal(
        read_ok("iso8601", "America/New_York", "2021-07-01 12:00"),
        1625155200LL);
    assert_int_equal(
        read_ok("iso8601", "America/New_York", "2010-12-01 03:26:00"),
        T_2010);
    /* 02:30 on 2021-03-14 was skipped in New York */
    assert_int_equal(read_st("iso8601", "America/New_York", "2021-03-14 02:30"),
                     TIMEFMT_NO_LOCAL);
    /* an explicit offset ignores the zone */
    assert_int_equal(
        read_ok("iso8601", "America/New_York", "2010-12-01T08:26:00Z"),
        T_2010);
    timefmt_zone_end();
    before = getenv("TZ");
    assert_non_null(before);
    assert_string_equal(before, "UTC");
    unsetenv("TZ");
    assert_int_equal(read_ok("iso8601", "Asia/Taipei", "2010-12-01 16:26"),
                     T_2010);
    timefmt_zone_end();
    assert_null(getenv("TZ"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unix),     cmocka_unit_test(test_iso8601),
        cmocka_unit_test(test_bad_dates), cmocka_unit_test(test_patterns),
        cmocka_unit_test(test_bad_specs), cmocka_unit_test(test_iana),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
