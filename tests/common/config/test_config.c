/*
 * test_config.c - the table-driven parser: defaults, bounds, files with line
 * numbers, command-line overrides and their order.
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

#include "base/util.h"
#include "config/config.h"

typedef struct tcfg {
    int64_t count;
    double ratio;
    int enabled;
    char name[8];
    int64_t seed;
} tcfg;

static const fr_config_key keys[] = {
    FR_CFG_INT_(tcfg, count, "3", 1, 10, "a count"),
    FR_CFG_DOUBLE_(tcfg, ratio, "0.5", 0.0, 1.0, "a ratio"),
    FR_CFG_BOOL_(tcfg, enabled, "no", "a switch"),
    FR_CFG_STRING_(tcfg, name, "abc", "a name"),
    FR_CFG_INT_(tcfg, seed, "7", 0, INT64_MAX, "full int64 range"),
};
static const fr_config_table table = {keys, FR_ARRAY_LEN(keys)};

static void
write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void
test_defaults_and_set(void **state)
{
    tcfg c;
    char err[FR_CONFIG_ERR_MAX];
    (void)state;

    assert_int_equal(fr_config_defaults(&table, &c, err, sizeof err), FR_OK);
    assert_int_equal(c.count, 3);
    assert_true(c.ratio == 0.5);
    assert_int_equal(c.enabled, 0);
    assert_string_equal(c.name, "abc");

    assert_int_equal(fr_config_set(&table, &c, "count", "10", err, sizeof err),
                     FR_OK);
    assert_int_equal(c.count, 10);
    assert_int_equal(fr_config_set(&table, &c, "count", "11", err, sizeof err),
                     FR_EINVAL);
    assert_non_null(strstr(err, "count"));
    assert_non_null(strstr(err, "[1, 10]"));
    assert_int_equal(c.count, 10);
    assert_int_equal(fr_config_set(&table, &c, "ratio", "1.5", err,
                                   sizeof err), FR_EINVAL);
    assert_int_equal(fr_config_set(&table, &c, "enabled", "maybe", err,
                                   sizeof err), FR_EINVAL);
    assert_int_equal(fr_config_set(&table, &c, "enabled", "yes", err,
                                   sizeof err), FR_OK);
    assert_int_equal(c.enabled, 1);
    assert_int_equal(fr_config_set(&table, &c, "name", "12345678", err,
                                   sizeof err), FR_EINVAL); /* 8 + NUL > 8 */
    assert_string_equal(c.name, "abc");
    /* Bounds at the edge of int64_t (a double max of 2^63). */
    assert_int_equal(c.seed, 7);
    assert_int_equal(fr_config_set(&table, &c, "seed", "9223372036854775807",
                                   err, sizeof err), FR_OK);
    assert_true(c.seed == INT64_MAX);
    assert_int_equal(fr_config_set(&table, &c, "seed", "-1", err, sizeof err),
                     FR_EINVAL);
    assert_int_equal(fr_config_set(&table, &c, "nope", "1", err, sizeof err),
                     FR_EINVAL);
    assert_non_null(strstr(err, "unknown configuration key 'nope'"));
}

static void
test_file(void **state)
{
    char path[] = "/tmp/fr-cfg-XXXXXX";
    char err[FR_CONFIG_ERR_MAX];
    tcfg c;
    int fd = mkstemp(path);
    (void)state;

    assert_true(fd >= 0);
    close(fd);
    write_file(path, "# comment\n\ncount 7\n  ratio   0.25  \nname xy\n");
    assert_int_equal(fr_config_defaults(&table, &c, err, sizeof err), FR_OK);
    assert_int_equal(fr_config_load_file(&table, &c, path, err, sizeof err),
                     FR_OK);
    assert_int_equal(c.count, 7);
    assert_true(c.ratio == 0.25);
    assert_string_equal(c.name, "xy");

    write_file(path, "count 2\n\n# x\nbogus 1\n");
    assert_int_equal(fr_config_load_file(&table, &c, path, err, sizeof err),
                     FR_EINVAL);
    assert_non_null(strstr(err, ":4:")); /* line number of the bad key */
    assert_non_null(strstr(err, "bogus"));

    write_file(path, "count\n");
    assert_int_equal(fr_config_load_file(&table, &c, path, err, sizeof err),
                     FR_EINVAL);
    assert_non_null(strstr(err, "no value"));
    unlink(path);
    assert_int_equal(fr_config_load_file(&table, &c, path, err, sizeof err),
                     FR_ENOENT);
}

static void
test_cli(void **state)
{
    char path[] = "/tmp/fr-cfg-XXXXXX";
    char err[FR_CONFIG_ERR_MAX];
    tcfg c;
    int pos[2], npos = -1, flags = -1;
    int fd = mkstemp(path);
    (void)state;

    assert_true(fd >= 0);
    close(fd);
    write_file(path, "count 7\nratio 0.1\n");
    {
        /* The override wins over the file whatever the argument order. */
        char *argv[] = {"prog", "--count=9", "--config", path, "first",
                        "--enabled", "on", "--check-config", NULL};
        assert_int_equal(fr_config_parse_cli(&table, &c, 8, argv, pos, 2,
                                             &npos, &flags, err, sizeof err),
                         FR_OK);
        assert_int_equal(c.count, 9);
        assert_true(c.ratio == 0.1);
        assert_int_equal(c.enabled, 1);
        assert_int_equal(npos, 1);
        assert_int_equal(pos[0], 4);
        assert_int_equal(flags, FR_CONFIG_FLAG_CHECK);
    }
    {
        char *argv[] = {"prog", "--count=0", NULL};
        assert_int_equal(fr_config_parse_cli(&table, &c, 2, argv, pos, 2,
                                             &npos, &flags, err, sizeof err),
                         FR_EINVAL);
        assert_non_null(strstr(err, "count"));
    }
    {
        char *argv[] = {"prog", "a", "b", "c", NULL};
        assert_int_equal(fr_config_parse_cli(&table, &c, 4, argv, pos, 2,
                                             &npos, &flags, err, sizeof err),
                         FR_EINVAL);
        assert_non_null(strstr(err, "unexpected argument 'c'"));
    }
    {
        char *argv[] = {"prog", "--ratio", NULL};
        assert_int_equal(fr_config_parse_cli(&table, &c, 2, argv, pos, 2,
                                             &npos, &flags, err, sizeof err),
                         FR_EINVAL);
    }
    unlink(path);
}

/* A string with a line end or surrounding spaces (possible only on the
 * command line) is refused; "" is the empty string; the dump of any
 * accepted configuration loads back to the same dump. */
static void
test_dump_loads_back(void **state)
{
    char path[] = "/tmp/fr-cfg-XXXXXX";
    char err[FR_CONFIG_ERR_MAX], *d1 = NULL, *d2 = NULL;
    size_t n1 = 0, n2 = 0;
    tcfg c, c2;
    FILE *f;
    int fd = mkstemp(path);
    (void)state;

    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(fr_config_defaults(&table, &c, err, sizeof err), FR_OK);
    assert_int_equal(fr_config_set(&table, &c, "name", "a\nb", err,
                                   sizeof err), FR_EINVAL);
    assert_non_null(strstr(err, "name"));
    assert_int_equal(fr_config_set(&table, &c, "name", " ab", err,
                                   sizeof err), FR_EINVAL);
    assert_int_equal(fr_config_set(&table, &c, "name", "a\tb", err,
                                   sizeof err), FR_EINVAL);
    assert_string_equal(c.name, "abc");
    assert_int_equal(fr_config_set(&table, &c, "name", "a b", err,
                                   sizeof err), FR_OK);
    assert_int_equal(fr_config_set(&table, &c, "name", "\"\"", err,
                                   sizeof err), FR_OK);
    assert_string_equal(c.name, ""); /* the default is "abc" */
    f = open_memstream(&d1, &n1);
    fr_config_dump(&table, &c, f);
    fclose(f);
    assert_non_null(strstr(d1, "name \"\"\n"));
    write_file(path, d1);
    assert_int_equal(fr_config_defaults(&table, &c2, err, sizeof err), FR_OK);
    assert_int_equal(fr_config_load_file(&table, &c2, path, err, sizeof err),
                     FR_OK);
    assert_string_equal(c2.name, "");
    f = open_memstream(&d2, &n2);
    fr_config_dump(&table, &c2, f);
    fclose(f);
    assert_int_equal(n1, n2);
    assert_memory_equal(d1, d2, n1);
    free(d1);
    free(d2);
    unlink(path);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_set),
        cmocka_unit_test(test_file),
        cmocka_unit_test(test_cli),
        cmocka_unit_test(test_dump_loads_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
