/*
 * test_cli.c - bad command lines, configuration and files get a one-line
 * error that names what was wrong, and a non-zero exit code.
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

#include "proc.h"

static char dir[] = "/tmp/fr-cli-XXXXXX";

/* Runs "cd dir && args" with stderr captured; checks the exit code and that
 * the output names want. */
static void
expect(const char *args, int want_code, const char *want)
{
    char cmd[2048], out[128];
    char *text;
    int code;

    snprintf(out, sizeof out, "%s/out.txt", dir);
    snprintf(cmd, sizeof cmd, "cd %s && B=" FR_BIN_DIR " && %s >%s 2>&1", dir,
             args, out);
    code = proc_run(cmd);
    text = proc_read_file(out);
    assert_non_null(text);
    if (code != want_code || !strstr(text, want))
        fail_msg("'%s' exited %d (want %d) saying:\n%s(want '%s')", args,
                 code, want_code, text, want);
    free(text);
}

static void
test_aggregator_cli(void **state)
{
    (void)state;
    expect("$B/fedrec-aggregator --n_items=0", 2, "n_items: '0' is not an "
                                                  "integer in [1, 1048576]");
    expect("$B/fedrec-aggregator --lr_decay=0.4", 2,
           "lr_decay: '0.4' is not a number in [0.5, 1]");
    expect("$B/fedrec-aggregator --loss=4", 2,
           "loss: '4' is not an integer in [0, 3]");
    expect("$B/fedrec-aggregator --bogus=1", 2,
           "unknown configuration key 'bogus'");
    expect("$B/fedrec-aggregator --config missing.conf", 2,
           "missing.conf: cannot read configuration");
    expect("$B/fedrec-aggregator", 2,
           "key_file, allowlist and state_dir must be set");
    expect("printf 'dim 32\\nfraction 2\\n' > bad.conf && "
           "$B/fedrec-aggregator --config bad.conf",
           2, "bad.conf:2: fraction: '2' is not a number in [0, 1]");
    expect("$B/fedrec-aggregator --log_level=loud --key_file=k "
           "--allowlist=a --state_dir=s",
           2, "log_level");
    expect("$B/fedrec-aggregator --key_file=k --allowlist=a --state_dir=s "
           "--check-config",
           0, "configuration ok");
    /* Unsafe secure-aggregation settings are refused with the rule. */
    expect("$B/fedrec-aggregator --key_file=k --allowlist=a --state_dir=s "
           "--min_stores=10 --secagg_k=8 --secagg_t=4 --check-config",
           2, "unsafe");
    expect("$B/fedrec-aggregator --key_file=k --allowlist=a --state_dir=s "
           "--min_stores=3 --check-config",
           2, "too high for a tolerated dropout");
    expect("$B/fedrec-aggregator --key_file=k --allowlist=a --state_dir=s "
           "--min_stores=2 --check-config",
           2, "at least 3 stores");
    expect("$B/fedrec-aggregator --key_file=k --allowlist=a --state_dir=s "
           "--min_stores=2 --secagg=no --check-config",
           0, "configuration ok");
    /* A secret key readable by others is refused. */
    expect("$B/fedrec-keygen --name agg --dir keys >/dev/null && "
           "chmod 644 keys/agg.key && touch allow && "
           "$B/fedrec-aggregator --key_file=keys/agg.key --allowlist=allow "
           "--state_dir=st",
           1, "keys/agg.key");
}

static void
test_client_cli(void **state)
{
    (void)state;
    expect("$B/fedrec-client", 2, "usage");
    expect("$B/fedrec-client frobnicate", 2, "unknown command 'frobnicate'");
    expect("$B/fedrec-client recommend --data=x --state_dir=y", 2,
           "recommend needs --member ID");
    expect("$B/fedrec-client recommend --member A --top 0 --data=x "
           "--state_dir=y", 2, "--top must be an integer");
    expect("$B/fedrec-client run --data=x", 2,
           "data and state_dir must be set");
    expect("printf 'member_id,item_id,timestamp\\nA,1,5\\nB,9999,5\\n' > "
           "bad.csv && $B/fedrec-client recommend --member A --data=bad.csv "
           "--state_dir=st",
           1, "bad.csv:3: item_id is not an integer in [0, 499]");
    expect("printf 'member_id,item_id,timestamp\\nA,1,5\\n' > ok.csv && "
           "$B/fedrec-client recommend --member NOPE --data=ok.csv "
           "--state_dir=st",
           1, "unknown member");
}

static void
test_tools_cli(void **state)
{
    (void)state;
    expect("$B/fedrec-keygen --name 'bad name' --dir keys", 2, "name");
    expect("$B/fedrec-keygen --name agg --dir keys", 1, "agg.key");
    expect("$B/fedrec-datagen --stores 0 --seed 1 --out d", 2, "--stores");
    expect("$B/fedrec-datagen --stores 2 --seed x --out d", 2, "--seed");
    expect("$B/fedrec-datagen --stores 2 --seed 1", 2, "--out");
}

/* fedrec-keygen makes both keys and prints the three-column allow-list
 * line; it upgrades old provisioning (a CURVE key but no identity key) by
 * keeping the existing key and making only the missing one. */
static void
test_keygen_identity(void **state)
{
    (void)state;
    expect("$B/fedrec-keygen --name st --dir k2 >l1 2>/dev/null && "
           "test $(wc -w <l1) = 3 && test $(cut -d' ' -f1 l1) = st && "
           "test \"$(cut -d' ' -f2 l1)\" = \"$(cat k2/st.pub)\" && "
           "test \"$(cut -d' ' -f3 l1)\" = \"$(cat k2/st.sign.pub)\" && "
           "test $(stat -c %a k2/st.key k2/st.sign.key | sort -u) = 600 && "
           "echo made-both",
           0, "made-both");
    expect("$B/fedrec-keygen --name st --dir k2", 1,
           "st.sign.key already exist");
    /* Old provisioning: only the CURVE key. */
    expect("rm k2/st.sign.key k2/st.sign.pub && "
           "$B/fedrec-keygen --name st --dir k2 >l2 2>err && "
           "test \"$(cut -d' ' -f2 l2)\" = \"$(cut -d' ' -f2 l1)\" && "
           "test \"$(cut -d' ' -f3 l2)\" = \"$(cat k2/st.sign.pub)\" && "
           "test \"$(cut -d' ' -f3 l2)\" != \"$(cut -d' ' -f3 l1)\" && "
           "test $(stat -c %a k2/st.sign.key) = 600 && cat err",
           0, "making only the missing identity key");
    /* The other way round: the identity key is kept. */
    expect("rm k2/st.key && $B/fedrec-keygen --name st --dir k2 >l3 2>err && "
           "test \"$(cut -d' ' -f3 l3)\" = \"$(cut -d' ' -f3 l2)\" && "
           "test \"$(cut -d' ' -f2 l3)\" != \"$(cut -d' ' -f2 l2)\" && "
           "cat err",
           0, "making only the missing CURVE key");
    /* A kept secret is loaded under the usual rules. */
    expect("rm k2/st.key && chmod 644 k2/st.sign.key && "
           "$B/fedrec-keygen --name st --dir k2",
           1, "cannot load the existing k2/st.sign.key");
    expect("chmod 600 k2/st.sign.key && "
           "$B/fedrec-keygen --name st --dir k2 --force >l4 2>/dev/null && "
           "test \"$(cut -d' ' -f3 l4)\" != \"$(cut -d' ' -f3 l3)\" && "
           "test \"$(cut -d' ' -f3 l4)\" = \"$(cat k2/st.sign.pub)\" && "
           "echo replaced",
           0, "replaced");
    expect("$B/fedrec-keygen --help", 0, "NAME.sign.key");
}

static int
setup(void **state)
{
    (void)state;
    return mkdtemp(dir) ? 0 : -1;
}

static int
teardown(void **state)
{
    char cmd[128];
    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return proc_run(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aggregator_cli),
        cmocka_unit_test(test_client_cli),
        cmocka_unit_test(test_tools_cli),
        cmocka_unit_test(test_keygen_identity),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
