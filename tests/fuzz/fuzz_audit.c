/*
 * fuzz_audit.c - the audit log's readers (common/audit): fr_audit_verify
 * (the whole chain against the store's identity key) and
 * fr_audit_read_head (the last entry, read at start-up to continue the
 * chain), on an audit.log of arbitrary bytes. The identity key is fixed,
 * so seeds written with it verify; a mutation can then cut, repeat or
 * reorder whole lines. The first byte lets the target mend what a fuzzer
 * cannot forge: bit 1 sets each line's previous-hash field to the hash of
 * the line before, bit 0 then signs each line afresh; the rest is the log. Properties: both readers agree on a log that
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
#define DOMAIN "fedrec-audit-v1\n"

#define FUZZ_SEED_HEX                                                          \
    "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f\n"

static fr_crypto_signkey *id;

static void
seed(const char *dir, const char *name, uint8_t mode, const char *text,
     size_t len)
{
    char *b = malloc(len + 1);

    FR_FUZZ_CHECK(b != NULL);
    b[0] = (char)mode;
    memcpy(b + 1, text, len);
    fz_seed(dir, name, b, len + 1);
    free(b);
}

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
    seed(dir, "three", 0, text, len);
    seed(dir, "three_mended", 3, text, len);
    seed(dir, "torn", 0, text, len - 5);
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

static void
hex(const uint8_t *in, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[in[i] >> 4];
        out[2 * i + 1] = d[in[i] & 15];
    }
}

static char *
last_tab(char *s, size_t n)
{
    while (n-- > 0)
        if (s[n] == '\t')
            return s + n;
    return NULL;
}

/* One line (l bytes at line, room for it) mended as mode says; prev is the
 * previous line's hash, replaced by this one's. */
static void
mend_line(char *line, size_t l, uint8_t mode, uint8_t prev[32])
{
    char *tab1 = last_tab(line, l), *tab2;
    size_t signed_len;
    uint8_t *buf, sig[FR_CRYPTO_SIG_BYTES];

    if (!tab1)
        return;
    tab2 = last_tab(line, (size_t)(tab1 - line));
    if ((mode & 2) && tab2 && tab1 - tab2 - 1 == 64)
        hex(prev, 32, tab2 + 1);
    signed_len = (size_t)(tab1 - line);
    buf = malloc(strlen(DOMAIN) + signed_len);
    FR_FUZZ_CHECK(buf != NULL);
    memcpy(buf, DOMAIN, strlen(DOMAIN));
    memcpy(buf + strlen(DOMAIN), line, signed_len);
    fr_crypto_hash(prev, 32, buf, strlen(DOMAIN) + signed_len);
    free(buf);
    if ((mode & 1) && (size_t)(line + l - tab1 - 1) == 2 * sizeof sig) {
        fr_crypto_sign(id, prev, 32, sig);
        hex(sig, sizeof sig, tab1 + 1);
    }
}

static uint8_t *
mend(const uint8_t *in, size_t n, uint8_t mode)
{
    uint8_t *out = malloc(n + 1), prev[32] = {0};

    FR_FUZZ_CHECK(out != NULL);
    memcpy(out, in, n);
    for (size_t i = 0; i < n;) {
        uint8_t *nl = memchr(out + i, '\n', n - i);
        size_t l = nl ? (size_t)(nl - (out + i)) : n - i;
        mend_line((char *)out + i, l, mode, prev);
        i += l + 1;
    }
    return out;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *pk = fr_crypto_signkey_public(id);
    char path[128], why[256] = "";
    uint64_t n = 0, bad = 0, lines = 0;
    fr_audit_head head;
    fr_err rc;

    uint8_t *text;

    if (size < 1)
        return 0;
    text = mend(data + 1, size - 1, data[0]);
    data = text;
    size--;
    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n';
    fz_write("audit.log", data, size, path, sizeof path);
    free(text);
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
