/*
 * test_util.c - number parsing, atomic files, CRC-32, the seeded generator
 * and log-line sanitising.
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

#include "base/log.h"
#include "base/util.h"

static void
test_parse_i64(void **state)
{
    int64_t v = 99;
    (void)state;
    assert_int_equal(fr_parse_i64("42", 0, 100, &v), FR_OK);
    assert_int_equal(v, 42);
    assert_int_equal(fr_parse_i64("-5", -10, 10, &v), FR_OK);
    assert_int_equal(v, -5);
    v = 7;
    assert_int_equal(fr_parse_i64("101", 0, 100, &v), FR_EINVAL);
    assert_int_equal(fr_parse_i64("12x", 0, 100, &v), FR_EINVAL);
    assert_int_equal(fr_parse_i64("", 0, 100, &v), FR_EINVAL);
    assert_int_equal(fr_parse_i64("99999999999999999999", 0, INT64_MAX, &v),
                     FR_EINVAL);
    assert_int_equal(v, 7); /* untouched on failure */
}

static void
test_parse_u64_double(void **state)
{
    uint64_t u = 0;
    double d = 0;
    (void)state;
    assert_int_equal(fr_parse_u64("18446744073709551615", UINT64_MAX, &u),
                     FR_OK);
    assert_true(u == UINT64_MAX);
    assert_int_equal(fr_parse_u64("-1", UINT64_MAX, &u), FR_EINVAL);
    assert_int_equal(fr_parse_u64("5", 4, &u), FR_EINVAL);
    assert_int_equal(fr_parse_double("0.25", 0, 1, &d), FR_OK);
    assert_true(d == 0.25);
    assert_int_equal(fr_parse_double("nan", -1e9, 1e9, &d), FR_EINVAL);
    assert_int_equal(fr_parse_double("inf", -1e9, 1e300, &d), FR_EINVAL);
    assert_int_equal(fr_parse_double("1.5", 0, 1, &d), FR_EINVAL);
}

static void
test_atomic_write(void **state)
{
    char dir[] = "/tmp/fr-util-XXXXXX", path[128], tmp[140];
    uint8_t *buf = NULL;
    size_t len = 0;
    struct stat st;
    (void)state;

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/f.bin", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    assert_int_equal(fr_file_write_atomic(path, "first", 5, 0600), FR_OK);
    assert_int_equal(fr_file_write_atomic(path, "second!", 7, 0600), FR_OK);
    assert_int_equal(fr_file_read_all(path, 100, &buf, &len), FR_OK);
    assert_int_equal(len, 7);
    assert_memory_equal(buf, "second!", 7);
    free(buf);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_not_equal(access(tmp, F_OK), 0); /* no temp file left */
    assert_int_equal(fr_file_read_all(path, 6, &buf, &len), FR_ELIMIT);
    unlink(path);
    assert_int_equal(fr_file_read_all(path, 100, &buf, &len), FR_ENOENT);
    /* A directory that does not exist: error, nothing created. */
    snprintf(path, sizeof path, "%s/missing/f.bin", dir);
    assert_int_not_equal(fr_file_write_atomic(path, "x", 1, 0600), FR_OK);
    rmdir(dir);
}

static void
test_crc32_known_answer(void **state)
{
    (void)state;
    /* The standard check value of CRC-32/ISO-HDLC. */
    assert_int_equal(fr_crc32(0, "123456789", 9), 0xCBF43926u);
    /* Incremental equals one-shot. */
    assert_int_equal(fr_crc32(fr_crc32(0, "1234", 4), "56789", 5),
                     0xCBF43926u);
    assert_int_equal(fr_crc32(0, "", 0), 0);
}

static void
test_le_roundtrip(void **state)
{
    uint8_t b[8];
    (void)state;
    fr_put_u32le(b, 0x01020304u);
    assert_int_equal(b[0], 4);
    assert_int_equal(b[3], 1);
    assert_int_equal(fr_get_u32le(b), 0x01020304u);
    fr_put_u64le(b, 0x1122334455667788ull);
    assert_int_equal(b[0], 0x88);
    assert_true(fr_get_u64le(b) == 0x1122334455667788ull);
}

static void
test_rng(void **state)
{
    fr_rng a, b;
    unsigned counts[10] = {0};
    double sum = 0, sq = 0;
    (void)state;

    fr_rng_seed(&a, 123);
    fr_rng_seed(&b, 123);
    for (int i = 0; i < 100; i++)
        assert_true(fr_rng_next(&a) == fr_rng_next(&b));
    fr_rng_seed(&b, 124);
    assert_true(fr_rng_next(&a) != fr_rng_next(&b));
    for (int i = 0; i < 100000; i++) {
        uint64_t r = fr_rng_below(&a, 10);
        assert_true(r < 10);
        counts[r]++;
    }
    for (int i = 0; i < 10; i++) /* each bucket near 10,000 */
        assert_in_range(counts[i], 9400, 10600);
    for (int i = 0; i < 100000; i++) {
        double x = fr_rng_normal(&a);
        sum += x;
        sq += x * x;
    }
    assert_true(sum / 100000 > -0.02 && sum / 100000 < 0.02);
    assert_true(sq / 100000 > 0.97 && sq / 100000 < 1.03);
}

typedef struct capture {
    char line[2048];
    int calls;
} capture;

static void
capture_sink(void *arg, fr_log_level level, const char *tag, const char *line)
{
    capture *c = arg;
    (void)level;
    (void)tag;
    snprintf(c->line, sizeof c->line, "%s", line);
    c->calls++;
}

static void
test_log(void **state)
{
    capture c = {{0}, 0};
    (void)state;
    fr_log_set_sink(capture_sink, &c);
    fr_log_set_level(FR_LOG_WARN);
    fr_log_info("t", "hidden %d", 1);
    assert_int_equal(c.calls, 0);
    fr_log_warn("t", "peer said %s", "a\nforged line");
    assert_int_equal(c.calls, 1);
    assert_null(strchr(c.line, '\n')); /* no log-line injection */
    assert_string_equal(c.line, "peer said a forged line");
    fr_log_level lvl;
    assert_int_equal(fr_log_level_parse("debug", &lvl), FR_OK);
    assert_int_equal(lvl, FR_LOG_DEBUG);
    assert_int_equal(fr_log_level_parse("loud", &lvl), FR_EINVAL);
    fr_log_set_sink(NULL, NULL);
    fr_log_set_level(FR_LOG_INFO);
}

/* The JSON log line: fixed members, fields from KEY=VALUE tokens with
 * numbers kept numeric, escaping of hostile text, and a line that does not
 * fit is cut to members that do (still one valid object). */
static void
test_log_json(void **state)
{
    char out[512];
    fr_log_format f;
    size_t n;
    (void)state;

    assert_int_equal(fr_log_format_parse("json", &f), FR_OK);
    assert_int_equal(f, FR_LOG_JSON);
    assert_int_equal(fr_log_format_parse("xml", &f), FR_EINVAL);
    fr_log_format_json(out, sizeof out, "2026-12-01T00:00:00.000Z", "agg",
                       FR_LOG_NOTICE, "round", "round_completed",
                       "round 3 completed: round=3 stores=4/5 hr10=0.7213, "
                       "store=\"s 1\" level=9 why=x)");
    assert_string_equal(
        out, "{\"ts\":\"2026-12-01T00:00:00.000Z\",\"level\":\"notice\","
             "\"src\":\"agg\",\"tag\":\"round\",\"event\":"
             "\"round_completed\",\"msg\":\"round 3 completed: round=3 "
             "stores=4/5 hr10=0.7213, store=\\\"s 1\\\" level=9 why=x)\","
             "\"round\":3,\"stores\":\"4/5\",\"hr10\":0.7213,"
             "\"store\":\"s 1\",\"why\":\"x\"}");
    /* no event: the tag stands in; control characters are escaped */
    fr_log_format_json(out, sizeof out, "T", "agg", FR_LOG_WARN, "net", NULL,
                       "bad\x01name=0x1f");
    assert_string_equal(out, "{\"ts\":\"T\",\"level\":\"warn\",\"src\":"
                             "\"agg\",\"tag\":\"net\",\"event\":\"net\","
                             "\"msg\":\"bad\\u0001name=0x1f\"}");
    /* too small: whole members are dropped, the object stays closed */
    n = fr_log_format_json(out, 60, "T", "agg", FR_LOG_INFO, "round", "e",
                           "a long message that cannot fit in sixty bytes");
    assert_true(n < 60);
    assert_int_equal(out[n - 1], '}');
    assert_null(strstr(out, "\"msg\""));
    assert_non_null(strstr(out, "\"level\":\"info\""));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_i64),
        cmocka_unit_test(test_parse_u64_double),
        cmocka_unit_test(test_atomic_write),
        cmocka_unit_test(test_crc32_known_answer),
        cmocka_unit_test(test_le_roundtrip),
        cmocka_unit_test(test_rng),
        cmocka_unit_test(test_log),
        cmocka_unit_test(test_log_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
