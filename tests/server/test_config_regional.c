/*
 * test_config_regional.c - the configuration of mode regional (config.c):
 * the mode key, the upstream keys and their files, the keys a regional
 * aggregator refuses because the central decides them, and the example
 * deploy/aggregator-regional.conf, which `fedrec-aggregator --check-config`
 * must accept once its key files exist and reject, naming the file, while
 * they do not.
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
#include <sys/wait.h>
#include <unistd.h>

#include "agg.h"
#include "config/config.h"
#include "crypto/crypto.h"

#define EXAMPLE FR_SOURCE_DIR "/deploy/aggregator-regional.conf"
#define AGG_BIN FR_BIN_DIR "/fedrec-aggregator"

static char dir[64];

static int
setup(void **state)
{
    fr_crypto_keypair *kp = NULL;
    fr_crypto_signkey *id = NULL;
    char base[128];
    int rc = 0;
    (void)state;

    snprintf(dir, sizeof dir, "/tmp/fr-regconf-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    /* the region's pair and identity, and the central's pair */
    snprintf(base, sizeof base, "%s/region", dir);
    rc |= fr_crypto_keypair_generate(&kp) ||
          fr_crypto_keypair_save(kp, base, 0);
    fr_crypto_keypair_destroy(&kp);
    rc |= fr_crypto_signkey_generate(&id) ||
          fr_crypto_signkey_save(id, base, 0);
    fr_crypto_signkey_destroy(&id);
    snprintf(base, sizeof base, "%s/central", dir);
    rc |= fr_crypto_keypair_generate(&kp) ||
          fr_crypto_keypair_save(kp, base, 0);
    fr_crypto_keypair_destroy(&kp);
    return rc ? -1 : 0;
}

static int
teardown(void **state)
{
    char cmd[128];
    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* A valid regional configuration with this test's key files. */
static void
regional(agg_config *c)
{
    char err[FR_CONFIG_ERR_MAX];

    assert_int_equal(fr_config_defaults(&agg_config_table, c, err,
                                        sizeof err), FR_OK);
    snprintf(c->mode, sizeof c->mode, "regional");
    snprintf(c->key_file, sizeof c->key_file, "%s/central.key", dir);
    snprintf(c->allowlist, sizeof c->allowlist, "%s/allowlist", dir);
    snprintf(c->state_dir, sizeof c->state_dir, "%s/state", dir);
    snprintf(c->upstream, sizeof c->upstream, "tcp://127.0.0.1:7600");
    snprintf(c->upstream_server_key, sizeof c->upstream_server_key,
             "%s/central.pub", dir);
    snprintf(c->upstream_key_file, sizeof c->upstream_key_file,
             "%s/region.key", dir);
}

static void
expect_invalid(const agg_config *c, const char *needle)
{
    char err[FR_CONFIG_ERR_MAX] = "";

    assert_int_equal(agg_config_validate(c, err, sizeof err), FR_EINVAL);
    if (!strstr(err, needle)) {
        print_error("expected '%s' in: %s\n", needle, err);
        fail();
    }
}

static void
test_mode_key(void **state)
{
    agg_config c;
    char err[FR_CONFIG_ERR_MAX] = "";
    (void)state;

    regional(&c);
    assert_int_equal(agg_config_validate(&c, err, sizeof err), FR_OK);
    assert_true(agg_regional(&c));
    snprintf(c.mode, sizeof c.mode, "relay");
    expect_invalid(&c, "mode: expected central or regional");
    /* a central aggregator with an upstream is a mistake */
    snprintf(c.mode, sizeof c.mode, "central");
    assert_false(agg_regional(&c));
    expect_invalid(&c, "are for mode regional");
    c.upstream[0] = c.upstream_server_key[0] = c.upstream_key_file[0] = 0;
    assert_int_equal(agg_config_validate(&c, err, sizeof err), FR_OK);
}

static void
test_regional_needs_its_upstream(void **state)
{
    agg_config c;
    (void)state;

    regional(&c);
    c.upstream[0] = 0;
    expect_invalid(&c, "mode regional needs upstream");
    regional(&c);
    c.upstream_key_file[0] = 0;
    expect_invalid(&c, "mode regional needs upstream");
    regional(&c);
    snprintf(c.upstream, sizeof c.upstream, "central.example.net:7600");
    expect_invalid(&c, "upstream: expected tcp://HOST:PORT");
}

/* What the central's round start brings is refused, each by name. */
static void
test_regional_refuses_what_the_central_decides(void **state)
{
    static const char *const keys[][2] = {
        {"rounds", "5"},           {"catalogue", "/etc/fedrec/catalogue"},
        {"n_items", "600"},        {"learning_rate", "0.5"},
        {"round_timeout_ms", "5000"}, {"secagg_clip", "10"},
        {"secagg", "no"},          {"dp_epsilon_budget", "3"},
        {"dp_max_region_dropouts", "2"},
    };
    char err[FR_CONFIG_ERR_MAX], want[96];
    agg_config c;
    (void)state;

    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        regional(&c);
        assert_int_equal(fr_config_set(&agg_config_table, &c, keys[i][0],
                                       keys[i][1], err, sizeof err), FR_OK);
        snprintf(want, sizeof want, "%s is decided by the central",
                 keys[i][0]);
        expect_invalid(&c, want);
    }
    /* the region's own secure-aggregation shape and selection are its own */
    regional(&c);
    assert_int_equal(fr_config_set(&agg_config_table, &c, "min_stores", "5",
                                   err, sizeof err), FR_OK);
    assert_int_equal(fr_config_set(&agg_config_table, &c, "fraction", "0.5",
                                   err, sizeof err), FR_OK);
    assert_int_equal(agg_config_validate(&c, err, sizeof err), FR_OK);
    /* a value equal to the default says nothing new: accepted */
    assert_int_equal(fr_config_set(&agg_config_table, &c, "rounds", "0", err,
                                   sizeof err), FR_OK);
    assert_int_equal(agg_config_validate(&c, err, sizeof err), FR_OK);
}

static void
expect_key_problem(const agg_config *c, const char *needle)
{
    char err[FR_CONFIG_ERR_MAX] = "";

    assert_int_not_equal(agg_upstream_check(c, err, sizeof err), FR_OK);
    if (!strstr(err, needle)) {
        print_error("expected '%s' in: %s\n", needle, err);
        fail();
    }
}

static void
test_upstream_key_files(void **state)
{
    agg_config c;
    char err[FR_CONFIG_ERR_MAX] = "", path[AGG_PATH_MAX + 16];
    (void)state;

    regional(&c);
    assert_int_equal(agg_upstream_check(&c, err, sizeof err), FR_OK);
    /* the identity key sits next to the key file */
    assert_int_equal(agg_upstream_sign_path(&c, path, sizeof path), FR_OK);
    snprintf(err, sizeof err, "%s/region.sign.key", dir);
    assert_string_equal(path, err);

    snprintf(path, sizeof path, "%s/region.key", dir);
    assert_int_equal(chmod(path, 0644), 0);
    expect_key_problem(&c, "must be 0600");
    expect_key_problem(&c, "upstream_key_file");
    assert_int_equal(chmod(path, 0600), 0);

    snprintf(c.upstream_server_key, sizeof c.upstream_server_key,
             "%s/nowhere.pub", dir);
    expect_key_problem(&c, "upstream_server_key");
    expect_key_problem(&c, "no such file");
    regional(&c);
    snprintf(c.upstream_sign_key_file, sizeof c.upstream_sign_key_file,
             "%s/central.pub", dir); /* a public key is no identity key */
    expect_key_problem(&c, "upstream_sign_key_file");
    regional(&c);
    snprintf(path, sizeof path, "%s/region.sign.key", dir);
    assert_int_equal(unlink(path), 0);
    expect_key_problem(&c, "from upstream_key_file");
    /* a central aggregator has no upstream files to check */
    snprintf(c.mode, sizeof c.mode, "central");
    assert_int_equal(agg_upstream_check(&c, err, sizeof err), FR_OK);
}

/* Runs the daemon's --check-config on the example; its exit status and
 * output (both streams) in out. */
static int
check_example(const char *overrides, char *out, size_t cap)
{
    char cmd[1024], log[128];
    FILE *f;
    size_t n;
    int rc;

    snprintf(log, sizeof log, "%s/check.out", dir);
    snprintf(cmd, sizeof cmd, AGG_BIN " --config " EXAMPLE " %s "
             "--check-config >%s 2>&1", overrides, log);
    rc = system(cmd);
    f = fopen(log, "r");
    assert_non_null(f);
    n = fread(out, 1, cap - 1, f);
    out[n] = 0;
    fclose(f);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void
test_example_config(void **state)
{
    char over[768], out[2048];
    (void)state;

    /* As shipped, its key files are not on this machine: refused, naming
     * the first one. */
    assert_int_equal(check_example("", out, sizeof out), 2);
    assert_non_null(strstr(out, "upstream_key_file "
                                "/etc/fedrec/keys/region-north.key"));
    /* With key files in place (and a state directory), it is ok. */
    snprintf(over, sizeof over,
             "--upstream_key_file=%s/region.key "
             "--upstream_server_key=%s/central.pub --state_dir=%s/state",
             dir, dir, dir);
    if (check_example(over, out, sizeof out) != 0) {
        print_error("%s\n", out);
        fail();
    }
    assert_non_null(strstr(out, "configuration ok"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_mode_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_regional_needs_its_upstream,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_regional_refuses_what_the_central_decides, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upstream_key_files, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_example_config, setup, teardown),
    };
    if (fr_crypto_init())
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
