/*
 * test_config_example.c - the example configurations in deploy/ against
 * the tables that define the keys, so that neither drifts from the other.
 *
 * deploy/aggregator.conf must set every key of agg_config_table, each with
 * a comment line directly above it, no key twice and no key the table does
 * not know; loaded with the real parser it must pass agg_config_validate.
 *
 * deploy/store.conf is checked the same way against the client's table,
 * except that a key may be shown commented out ("#KEY VALUE", no space
 * after '#') to keep its default. client_config_table lives in
 * client/main.c, next to the client's main(), so it cannot be linked here:
 * the test reads the key list from `fedrec-client --help` (printed from
 * the table) and has the binary load the example with --check-config.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agg.h"
#include "config/config.h"

#define AGG_EXAMPLE FR_SOURCE_DIR "/deploy/aggregator.conf"
#define STORE_EXAMPLE FR_SOURCE_DIR "/deploy/store.conf"
#define CLIENT_BIN FR_BIN_DIR "/fedrec-client"

#define MAX_KEYS 128
#define NAME_MAX_ 64

/* What an example file says: keys set, keys shown commented out, and
 * the problems found while reading it (one per line of text). */
typedef struct example {
    char set[MAX_KEYS][NAME_MAX_];
    size_t n_set;
    char commented[MAX_KEYS][NAME_MAX_];
    size_t n_commented;
    char problems[4096];
} example;

/* The keys a table defines. */
typedef struct key_list {
    char name[MAX_KEYS][NAME_MAX_];
    size_t n;
} key_list;

static void
problem(example *ex, const char *fmt, ...)
{
    size_t n = strlen(ex->problems);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ex->problems + n, sizeof ex->problems - n, fmt, ap);
    va_end(ap);
    n = strlen(ex->problems);
    if (n + 1 < sizeof ex->problems) {
        ex->problems[n] = '\n';
        ex->problems[n + 1] = '\0';
    }
}

static int
in_list(char (*names)[NAME_MAX_], size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(names[i], name))
            return 1;
    return 0;
}

/* Copies the leading [a-z0-9_] run of s into out; its length. */
static size_t
key_token(const char *s, char out[NAME_MAX_])
{
    size_t n = 0;
    while ((islower((unsigned char)s[n]) || isdigit((unsigned char)s[n]) ||
            s[n] == '_') &&
           n + 1 < NAME_MAX_) {
        out[n] = s[n];
        n++;
    }
    out[n] = '\0';
    return n;
}

/* A commented-out key: '#' followed at once by a key name, then a space
 * or the end of the line. Prose comments have a space after the '#'. */
static int
commented_key(const char *line, char out[NAME_MAX_])
{
    size_t n;
    if (line[0] != '#' || !islower((unsigned char)line[1]))
        return 0;
    n = key_token(line + 1, out);
    return line[1 + n] == '\0' || isspace((unsigned char)line[1 + n]);
}

static void
record(example *ex, char (*names)[NAME_MAX_], size_t *n, const char *key,
       unsigned lineno)
{
    if (in_list(ex->set, ex->n_set, key) ||
        in_list(ex->commented, ex->n_commented, key)) {
        problem(ex, "line %u: key '%s' appears a second time", lineno, key);
        return;
    }
    if (*n >= MAX_KEYS) {
        problem(ex, "line %u: too many keys", lineno);
        return;
    }
    snprintf(names[*n], NAME_MAX_, "%s", key);
    (*n)++;
}

/* Reads path line by line: each key line (set or commented out) must
 * follow a prose comment line directly. */
static void
read_example(const char *path, example *ex)
{
    char line[1024], key[NAME_MAX_];
    int prev_prose = 0;
    unsigned lineno = 0;
    FILE *f = fopen(path, "r");

    memset(ex, 0, sizeof *ex);
    if (!f) {
        problem(ex, "%s: cannot open", path);
        return;
    }
    while (fgets(line, sizeof line, f)) {
        char *s = line, *e;
        int is_key;

        lineno++;
        while (isspace((unsigned char)*s))
            s++;
        e = s + strlen(s);
        while (e > s && isspace((unsigned char)e[-1]))
            *--e = '\0';
        if (*s == '\0') {
            prev_prose = 0;
            continue;
        }
        is_key = *s != '#' || commented_key(s, key);
        if (!is_key) {
            prev_prose = 1;
            continue;
        }
        if (*s != '#' && key_token(s, key) == 0) {
            problem(ex, "line %u: not a key line: %s", lineno, s);
            prev_prose = 0;
            continue;
        }
        if (!prev_prose)
            problem(ex, "line %u: key '%s' has no comment line directly "
                    "above it", lineno, key);
        if (*s == '#')
            record(ex, ex->commented, &ex->n_commented, key, lineno);
        else
            record(ex, ex->set, &ex->n_set, key, lineno);
        prev_prose = 0;
    }
    fclose(f);
}

/* Every key of the table is set (or, if may_comment, shown commented out)
 * and every key of the example is in the table. */
static void
compare(example *ex, const key_list *table, int may_comment)
{
    for (size_t i = 0; i < table->n; i++) {
        const char *k = table->name[i];
        if (in_list(ex->set, ex->n_set, k))
            continue;
        if (may_comment && in_list(ex->commented, ex->n_commented, k))
            continue;
        problem(ex, "key '%s' is in the table but not in the example%s", k,
                may_comment ? "" : " (every key must be set)");
    }
    for (size_t i = 0; i < ex->n_set; i++)
        if (!in_list((char (*)[NAME_MAX_])table->name, table->n, ex->set[i]))
            problem(ex, "key '%s' is in the example but not in the table",
                    ex->set[i]);
    for (size_t i = 0; i < ex->n_commented; i++)
        if (!in_list((char (*)[NAME_MAX_])table->name, table->n,
                     ex->commented[i]))
            problem(ex, "commented-out key '%s' is not in the table",
                    ex->commented[i]);
}

static void
assert_no_problems(const char *path, const example *ex)
{
    if (ex->problems[0]) {
        print_error("%s:\n%s", path, ex->problems);
        fail();
    }
}

static void
agg_keys(key_list *out)
{
    memset(out, 0, sizeof *out);
    assert_true(agg_config_table.n_keys <= MAX_KEYS);
    for (size_t i = 0; i < agg_config_table.n_keys; i++)
        snprintf(out->name[out->n++], NAME_MAX_, "%s",
                 agg_config_table.keys[i].name);
}

/* The client's keys, from the lines "  --KEY=DEFAULT (type...)" that
 * fr_config_print_help writes for each row of client_config_table. */
static void
client_keys(key_list *out)
{
    char line[1024], key[NAME_MAX_];
    FILE *p = popen(CLIENT_BIN " --help", "r");

    memset(out, 0, sizeof *out);
    assert_non_null(p);
    while (fgets(line, sizeof line, p)) {
        size_t n;
        if (strncmp(line, "  --", 4) != 0)
            continue;
        n = key_token(line + 4, key);
        if (n && line[4 + n] == '=' && out->n < MAX_KEYS)
            snprintf(out->name[out->n++], NAME_MAX_, "%s", key);
    }
    assert_int_equal(pclose(p), 0);
    /* A help text that stopped listing keys would pass everything. */
    assert_true(out->n >= 10);
}

/* ---- the aggregator ----------------------------------------------------- */

static void
test_aggregator_keys_match_table(void **state)
{
    example ex;
    key_list keys;
    (void)state;

    agg_keys(&keys);
    read_example(AGG_EXAMPLE, &ex);
    compare(&ex, &keys, 0);
    assert_no_problems(AGG_EXAMPLE, &ex);
    assert_int_equal(ex.n_set, agg_config_table.n_keys);
}

static void
test_aggregator_example_loads_and_validates(void **state)
{
    agg_config cfg;
    char err[FR_CONFIG_ERR_MAX] = "", path[AGG_PATH_MAX + 16];
    (void)state;

    assert_int_equal(fr_config_defaults(&agg_config_table, &cfg, err,
                                        sizeof err), FR_OK);
    if (fr_config_load_file(&agg_config_table, &cfg, AGG_EXAMPLE, err,
                            sizeof err) != FR_OK) {
        print_error("%s\n", err);
        fail();
    }
    if (agg_config_validate(&cfg, err, sizeof err) != FR_OK) {
        print_error("%s: %s\n", AGG_EXAMPLE, err);
        fail();
    }
    assert_int_equal(agg_admin_socket_path(&cfg, path, sizeof path), FR_OK);
    /* The production layout the units and docs/OPERATIONS.md describe. */
    assert_string_equal(cfg.key_file, "/etc/fedrec/aggregator.key");
    assert_string_equal(cfg.allowlist, "/var/lib/fedrec-aggregator/allowlist");
    assert_string_equal(cfg.state_dir, "/var/lib/fedrec-aggregator");
    assert_string_equal(path, "/run/fedrec-aggregator/admin.sock");
    assert_string_equal(cfg.http_listen, "127.0.0.1:7601");
    assert_string_equal(cfg.log_format, "json");
}

/* ---- the store ---------------------------------------------------------- */

static void
test_store_keys_match_client_table(void **state)
{
    example ex;
    key_list keys;
    (void)state;

    client_keys(&keys);
    read_example(STORE_EXAMPLE, &ex);
    compare(&ex, &keys, 1);
    assert_no_problems(STORE_EXAMPLE, &ex);
}

static void
test_store_example_loads(void **state)
{
    (void)state;
    /* The client's own parser and table; run checks the keys it needs. */
    int rc = system(CLIENT_BIN " run --config " STORE_EXAMPLE
                    " --check-config");
    assert_true(WIFEXITED(rc));
    assert_int_equal(WEXITSTATUS(rc), 0);
}

/* ---- the checker itself ------------------------------------------------- */

static void
test_checker_finds_drift(void **state)
{
    char path[] = "/tmp/fr_conf_example_XXXXXX";
    int fd = mkstemp(path);
    FILE *f;
    example ex;
    key_list keys = {.n = 3};
    (void)state;

    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    assert_non_null(f);
    fputs("# a header\n\n"
          "# explained\nalpha 1\n"
          "beta 2\n"               /* no comment above */
          "\n# explained\nomega 3\n" /* not in the table */
          "# explained\n#gamma 4\n", /* commented out */
          f);
    fclose(f);
    snprintf(keys.name[0], NAME_MAX_, "alpha");
    snprintf(keys.name[1], NAME_MAX_, "beta");
    snprintf(keys.name[2], NAME_MAX_, "gamma");
    read_example(path, &ex);
    compare(&ex, &keys, 0);
    unlink(path);
    assert_non_null(strstr(ex.problems, "'beta' has no comment line"));
    assert_non_null(strstr(ex.problems, "'omega' is in the example but not"));
    assert_non_null(strstr(ex.problems, "'gamma' is in the table but not"));
    assert_null(strstr(ex.problems, "'alpha'"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aggregator_keys_match_table),
        cmocka_unit_test(test_aggregator_example_loads_and_validates),
        cmocka_unit_test(test_store_keys_match_client_table),
        cmocka_unit_test(test_store_example_loads),
        cmocka_unit_test(test_checker_finds_drift),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
