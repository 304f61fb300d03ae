/*
 * fuzz_audit.c - the audit log's readers (common/audit): fr_audit_verify
 * (the whole chain against the store's identity key) and
 * fr_audit_read_head (the last entry, read at start-up to continue the
 * chain), on an audit.log of arbitrary bytes. The identity key is fixed,
 * so seeds written with it verify; a mutation can then cut, repeat or
 * reorder whole lines. Properties: both readers agree on a log that
 * verifies (the head's seq is the number of entries, and verifying
 * against that head holds while a later head is refused as a cut-off
 * end); a refusal says why and where; the good-entry count never exceeds
 * the lines; an entry appended to a log that verifies verifies too.
 * FR_FUZZ_WRITE_SEEDS=DIR writes logs made by fr_audit_append.
 */
#include <string.h>

#include "audit/audit.h"
#include "base/log.h"
#include "crypto/crypto.h"
#include "fuzz.h"
#include "fuzz_file.h"

/* Not secret: the fuzzing identity's seed. */
#define FUZZ_SEED_HEX                                                          \
    "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f\n"

static fr_crypto_signkey *id;

static void
write_seeds(const char *dir)
{
    fr_audit_head h = {0};
    char path[128], *text;
    size_t len = 0;

    fz_path("seed.log", path, sizeof path);
    unlink(path);
    FR_FUZZ_CHECK(fr_audit_append(path, id, "init", "store created", &h) ==
                  FR_OK);
    FR_FUZZ_CHECK(fr_audit_append(path, id, "import",
                                  "3 rows, 2 members", &h) == FR_OK);
    FR_FUZZ_CHECK(fr_audit_append(path, id, "erase",
                                  "member 0123456789abcdef0123456789abcdef "
                                  "erased: 2 interactions, 1 consent records",
                                  &h) == FR_OK);
    text = fz_read(path, &len);
    fz_seed(dir, "three", text, len);
    fz_seed(dir, "torn", text, len - 5);
    free(text);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char path[128];

    (void)argc;
    (void)argv;
    FR_FUZZ_CHECK(fr_crypto_init() == FR_OK);
    fr_log_set_level(FR_LOG_ERR);
    fz_dir_init();
    fz_write("id.sign.key", FUZZ_SEED_HEX, strlen(FUZZ_SEED_HEX), path,
             sizeof path);
    FR_FUZZ_CHECK(fr_crypto_signkey_load(path, &id) == FR_OK);
    if (fz_seed_dir()) {
        write_seeds(fz_seed_dir());
        exit(0);
    }
    return 0;
}

static void
check_good_log(const char *path, uint64_t n)
{
    const uint8_t *pk = fr_crypto_signkey_public(id);
    fr_audit_head head, later;
    uint64_t m = 0, bad = 0;
    char why[256];

    FR_FUZZ_CHECK(fr_audit_read_head(path, &head) == FR_OK);
    FR_FUZZ_CHECK(head.seq == n);
    FR_FUZZ_CHECK(fr_audit_verify(path, pk, &head, &m, &bad, why,
                                  sizeof why) == FR_OK &&
                  m == n);
    later = head;
    later.seq++;
    FR_FUZZ_CHECK(fr_audit_verify(path, pk, &later, &m, &bad, why,
                                  sizeof why) == FR_EPROTO &&
                  m == n && bad == n + 1 && why[0] != 0);
    FR_FUZZ_CHECK(fr_audit_append(path, id, "check", "fuzz", &head) == FR_OK);
    FR_FUZZ_CHECK(head.seq == n + 1);
    FR_FUZZ_CHECK(fr_audit_verify(path, pk, &head, &m, &bad, why,
                                  sizeof why) == FR_OK &&
                  m == n + 1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *pk = fr_crypto_signkey_public(id);
    char path[128], why[256] = "";
    uint64_t n = 0, bad = 0, lines = 0;
    fr_audit_head head;
    fr_err rc;

    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n';
    fz_write("audit.log", data, size, path, sizeof path);
    rc = fr_audit_read_head(path, &head);
    FR_FUZZ_CHECK(rc == FR_OK || rc == FR_EPROTO);
    rc = fr_audit_verify(path, pk, NULL, &n, &bad, why, sizeof why);
    FR_FUZZ_CHECK(n <= lines);
    if (rc != FR_OK) {
        FR_FUZZ_CHECK(rc == FR_EPROTO || rc == FR_EAUTH);
        FR_FUZZ_CHECK(why[0] != 0 && bad >= 1);
        return 0;
    }
    FR_FUZZ_CHECK(n == lines && bad == 0);
    check_good_log(path, n);
    return 0;
}
