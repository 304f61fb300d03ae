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
    if (code != want_code || !strstr(text, want)) {
        static char seen[4096];
        snprintf(seen, sizeof seen, "%s", text);
        free(text);
        fail_msg("'%s' exited %d (want %d) saying:\n%s(want '%s')", args,
                 code, want_code, seen, want);
    }
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
    /* Operations and DP keys that only make sense together. */
    expect("$B/fedrec-aggregator --key_file=k --allowlist=a --state_dir=s "
           "--log_format=xml --check-config",
           2, "log_format: expected json or human");
    expect("$B/fedrec-aggregator --key_file=k --allowlist=a --state_dir=s "
           "--dp_epsilon_budget=8 --check-config",
           2, "dp_epsilon_budget needs dp_members");
    expect("$B/fedrec-aggregator --key_file=k --allowlist=a --state_dir=s "
           "--min_stores=2 --secagg=no --dp_epsilon_budget=8 "
           "--dp_members=1000 --check-config",
           2, "dp_epsilon_budget needs secagg yes");
    expect("$B/fedrec-aggregator --key_file=k --allowlist=a --state_dir=s "
           "--dp_epsilon_budget=8 --dp_members=1000 --check-config",
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
           "--store DIR must be set");
    expect("$B/fedrec-client import x.csv", 2, "needs --store DIR");
    expect("printf 'member_id,item_id,timestamp\\nA,1,5\\nB,9999,5\\n' > "
           "bad.csv && $B/fedrec-client recommend --member A --data=bad.csv "
           "--state_dir=st",
           1, "bad.csv:3: item_id is not an integer in [0, 499]");
    expect("printf 'member_id,item_id,timestamp\\nA,1,5\\n' > ok.csv && "
           "$B/fedrec-client recommend --member NOPE --data=ok.csv "
           "--state_dir=st",
           1, "unknown member");
}

/* The protected store through its commands, as an operator scripts them. */
static void
test_store_cli(void **state)
{
    (void)state;
    expect("$B/fedrec-client init --store s1 --name store01 --n_items 50 "
           ">allow.txt && test $(wc -w <allow.txt) = 3 && "
           "test $(stat -c %a s1/data.key s1/keys/store01.key "
           "s1/keys/store01.sign.key | sort -u) = 600 && echo created",
           0, "created");
    expect("$B/fedrec-client init --store s1 --name store01", 1,
           "already holds a store");
    /* Import: identifying columns dropped and named, ids pseudonymised. */
    expect("printf 'member_id,full_name,e-mail,item_id,timestamp\n"
           "M-77,Ann Lee,ann@x.org,3,1700000000\n"
           "M-77,Ann Lee,ann@x.org,4,1700000100\n"
           "M-88,Bo Chen,bo@x.org,3,1700000200\n' > ex.csv && "
           "$B/fedrec-client import --store s1 ex.csv",
           0, "discarded column 'full_name' (a direct identifier");
    expect("grep -rl -e M-77 -e 'Ann Lee' -e ann@x.org s1 || echo clean", 0,
           "clean");
    expect("printf 'member_id,item_id,timestamp\nM-99,1,1700000000\n"
           "M-99,7,17000000xx\n' > bad.csv && "
           "$B/fedrec-client import --store s1 bad.csv",
           1, "bad.csv:3:");
    /* Consent is opt-in and per purpose. */
    expect("$B/fedrec-client consent grant --store s1 --member M-77 "
           "--purpose training", 0, "granted");
    expect("$B/fedrec-client consent grant --store s1 --member M-77 "
           "--purpose spam", 2, "--purpose training|marketing");
    expect("$B/fedrec-client recommend --store s1 --member M-77", 1,
           "not consented to marketing");
    expect("$B/fedrec-client recommend --store s1 --member M-88", 1,
           "unknown member");
    /* Rights: access, erasure that sticks. */
    expect("$B/fedrec-client member export --store s1 --member M-77", 0,
           "\"training\": {\"granted\": true");
    expect("$B/fedrec-client member forget --store s1 --member M-88", 0,
           "member erased");
    expect("$B/fedrec-client member export --store s1 --member M-88", 1,
           "holds nothing");
    expect("$B/fedrec-client import --store s1 ex.csv", 0,
           "1 erased member(s) were NOT imported");
    /* Audit trail intact, then tampered. */
    expect("$B/fedrec-client audit verify --store s1", 0, "audit trail intact");
    expect("sed -i '2s/rows 3/rows 9/' s1/audit.log && "
           "$B/fedrec-client audit verify --store s1",
           1, "entry 2");
    /* A damaged sealed file is refused with a clear error. */
    expect("cp s1/vault.sealed v.bak && python3 -c \"import sys; "
           "f = open('s1/vault.sealed', 'r+b'); f.seek(60); b = f.read(1); "
           "f.seek(60); f.write(bytes([b[0] ^ 0xff]))\" && "
           "$B/fedrec-client member export --store s1 --member M-77",
           1, "vault.sealed: authentication failed");
    expect("cp v.bak s1/vault.sealed && chmod 644 s1/data.key && "
           "$B/fedrec-client pseudonym --store s1 --member M-77",
           1, "readable by others");
    /* The notice names the commands that serve each right. */
    expect("chmod 600 s1/data.key && "
           "$B/fedrec-client notice --store s1 --lang zh-TW",
           0, "fedrec-client member forget --member");
    expect("$B/fedrec-client notice --store s1 --lang fr", 2, "not available");
    /* A store locked by a passphrase (Argon2id) opens only with it. */
    expect("FEDREC_PASSPHRASE='correct horse' $B/fedrec-client init "
           "--store s2 --name store02 >/dev/null && test -f s2/data.salt && "
           "test ! -e s2/data.key && echo locked", 0, "locked");
    expect("$B/fedrec-client pseudonym --store s2 --member M-1", 1,
           "FEDREC_PASSPHRASE");
    expect("FEDREC_PASSPHRASE=wrong $B/fedrec-client pseudonym --store s2 "
           "--member M-1", 1, "authentication failed");
    expect("FEDREC_PASSPHRASE='correct horse' $B/fedrec-client pseudonym "
           "--store s2 --member M-1 | grep -cE '^[0-9a-f]{32}$'", 0, "1");
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
        cmocka_unit_test(test_store_cli),
        cmocka_unit_test(test_tools_cli),
        cmocka_unit_test(test_keygen_identity),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
