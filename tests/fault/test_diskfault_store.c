/*
 * test_diskfault_store.c - the store's changing commands on a failing disk
 * (tests/fault/diskfault.c preloaded into the real fedrec-client): import,
 * consent grant and member forget, each with every fault kind (ENOSPC, EIO,
 * short writes, failing fsync) at every write it makes in turn (the first
 * N writes under the store pass, the next fails).
 *
 * A run that fails must say which call on which file failed and why, leave
 * vault.sealed byte for byte as it was (unless the message says the file
 * was replaced and only its directory's fsync failed), and leave an audit
 * trail that verifies; the same command then succeeds once the disk is
 * back. A run
 * where only the audit head could not be recorded succeeds with a warning
 * (the change and its entry are on disk) and the trail still verifies.
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

#define MAX_SKIP 64

static char dir[64], store[128], base[128];

static const char *const kinds[] = {"enospc", "eio", "short", "fsync"};
static const char *const reasons[] = {"No space left on device",
                                      "Input/output error",
                                      "No space left on device",
                                      "Input/output error"};

static void
pathf(char *out, size_t n, const char *rel)
{
    snprintf(out, n, "%s/%s", dir, rel);
}

static int
client(const char *env, const char *args)
{
    const char *asan = getenv("ASAN_OPTIONS");

    return proc_runf("cd %s && %s ASAN_OPTIONS='%s%sverify_asan_link_order=0'"
                     " %s/fedrec-client %s --store %s >out.txt 2>err.txt",
                     dir, env ? env : "", asan ? asan : "",
                     asan && *asan ? ":" : "", FR_BIN_DIR, args, store);
}

static int
verify_ok(void)
{
    return proc_runf("%s/fedrec-client audit verify --store %s >/dev/null "
                     "2>&1", FR_BIN_DIR, store) == 0;
}

static int
same(const char *a, const char *b)
{
    return proc_runf("cmp -s %s %s", a, b) == 0;
}

/* One command under one fault kind at every write in turn; returns the
 * number of writes that were made to fail. */
static int
sweep(const char *args, int k)
{
    char env[1024], err[128], hits[128], vault[160], vault0[128];
    int points = 0, replaced = 0;

    pathf(err, sizeof err, "err.txt");
    pathf(hits, sizeof hits, "hits.txt");
    pathf(vault0, sizeof vault0, "vault.copy");
    snprintf(vault, sizeof vault, "%s/vault.sealed", store);
    for (int skip = 0; skip < MAX_SKIP; skip++) {
        int rc, hit;
        char *msg;

        assert_int_equal(proc_runf("rm -rf %s %s && cp -a %s %s && cp %s %s",
                                   store, hits, base, store, vault, vault0),
                         0);
        snprintf(env, sizeof env,
                 "FR_DISKFAULT=%s FR_DISKFAULT_SKIP=%d FR_DISKFAULT_PREFIX=%s"
                 " FR_DISKFAULT_HITS=%s LD_PRELOAD=%s",
                 kinds[k], skip, store, hits, FR_DISKFAULT_LIB);
        rc = client(env, args);
        hit = access(hits, F_OK) == 0;
        msg = proc_read_file(err);
        assert_non_null(msg);
        if (!hit) { /* past the last write: the command just worked */
            if (rc != 0)
                fail_msg("%s without a fault: %s", args, msg);
            free(msg);
            assert_true(verify_ok());
            if (k != 2) /* the directory's fsync failed once, at least */
                assert_true(replaced >= 1);
            return points;
        }
        points++;
        if (rc != 0) {
            /* a clear message naming the call, the file and the reason */
            if (!strstr(msg, reasons[k]) || !strstr(msg, store))
                fail_msg("%s (%s, write %d): unclear message: %s", args,
                         kinds[k], skip + 1, msg);
            assert_true(verify_ok());
            if (strstr(msg, "was replaced but may not survive")) {
                /* the new state is in place, its durability unknown */
                assert_false(same(vault, vault0));
                replaced++;
            } else {
                assert_true(same(vault, vault0));
                /* the same command once the disk is back */
                if (client(NULL, args) != 0)
                    fail_msg("%s after the fault: %s", args,
                             proc_read_file(err));
                assert_false(same(vault, vault0));
            }
        } else {
            /* only the audit head was not recorded */
            assert_non_null(strstr(msg, "audit_head.sealed not updated"));
        }
        assert_true(verify_ok());
        free(msg);
    }
    fail_msg("%s: still failing after %d writes", args, MAX_SKIP);
    return 0;
}

static void
run_all(const char *what, const char *args)
{
    for (int k = 0; k < 4; k++) {
        int n = sweep(args, k);
        printf("diskfault: %-16s %-6s %d writes made to fail, each refused "
               "cleanly or completed\n", what, kinds[k], n);
        assert_true(n >= 2);
    }
}

static void
test_import(void **state)
{
    char args[256];
    (void)state;
    snprintf(args, sizeof args, "import %s/part-b.csv", dir);
    run_all("import", args);
}

static void
test_consent(void **state)
{
    (void)state;
    run_all("consent grant",
            "consent grant --member M01-000003 --purpose marketing");
}

static void
test_forget(void **state)
{
    (void)state;
    run_all("member forget", "member forget --member M01-000004");
}

static int
setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/fr-diskstore-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    pathf(store, sizeof store, "S");
    pathf(base, sizeof base, "S.base");
    return proc_runf(
        "set -e; cd %s; B=%s;"
        "$B/fedrec-keygen --name aggregator --dir keys >/dev/null 2>&1;"
        "$B/fedrec-datagen --stores 1 --seed 5 --members 30 --items 200"
        " --out data >/dev/null;"
        "head -n 400 data/store-01.csv > part-a.csv;"
        "(head -n 1 data/store-01.csv; tail -n +401 data/store-01.csv)"
        " > part-b.csv;"
        "$B/fedrec-client init --store %s --name store01 --n_items 200"
        " --connect tcp://127.0.0.1:1 --server_key $PWD/keys/aggregator.pub"
        " >/dev/null 2>&1;"
        "$B/fedrec-client import --store %s part-a.csv >/dev/null 2>&1;"
        "awk -F, 'NR > 1 && !s[$1]++ { print $1 \",training,grant\" }'"
        " part-a.csv > consent.csv;"
        "$B/fedrec-client consent import --store %s consent.csv >/dev/null;"
        "cp -a %s %s",
        dir, FR_BIN_DIR, store, store, store, store, base);
}

static int
teardown(void **state)
{
    (void)state;
    if (!getenv("FR_DISKFAULT_KEEP"))
        (void)proc_runf("rm -rf %s", dir);
    else
        printf("kept %s\n", dir);
    return 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_import),
        cmocka_unit_test(test_consent),
        cmocka_unit_test(test_forget),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
