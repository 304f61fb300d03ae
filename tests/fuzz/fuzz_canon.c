/*
 * fuzz_canon.c - member-id canonicalisation (client/canon.c). The first
 * byte chooses the policy (bit 0 trim, bit 1 numeric, bit 2 strip zeros,
 * bits 3-4 case), bit 5 a tight output buffer; the rest is the raw id.
 * Properties: the result is never longer than the input and fits the
 * buffer (FR_ELIMIT otherwise); canonicalising is idempotent; with trim no
 * space or tab is left at either end; the policy written as store.conf
 * lines names the same words canon_policy_from_config accepts; the
 * counter's figures stay within the rows added.
 */
#include <string.h>

#include "canon.h"
#include "fuzz.h"

FR_FUZZ_NO_INIT

static const char *const cases[] = {"keep", "upper", "lower", "sideways"};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char out[256], again[256], err[256];
    const char *raw = (const char *)data + 1;
    canon_policy p;
    canon_count *cc = NULL;
    size_t n, cap;
    fr_err rc;

    if (size < 1 || size > 200)
        return 0;
    n = size - 1;
    /* every caller hands over text: the importer refuses NUL bytes */
    if (memchr(raw, 0, n))
        return 0;
    rc = canon_policy_from_config(data[0] & 1, cases[(data[0] >> 3) & 3],
                                  (data[0] >> 1) & 1,
                                  data[0] & 4 ? "strip" : "keep", &p, err,
                                  sizeof err);
    if (rc != FR_OK) {
        FR_FUZZ_CHECK(((data[0] >> 3) & 3) == 3 && err[0] != 0);
        return 0;
    }
    cap = data[0] & 32 ? (n / 2) + 1 : sizeof out;
    rc = canon_apply(&p, raw, n, out, cap);
    if (rc != FR_OK) {
        FR_FUZZ_CHECK(rc == FR_ELIMIT);
        return 0;
    }
    FR_FUZZ_CHECK(strlen(out) < cap);
    FR_FUZZ_CHECK(strlen(out) <= n);
    FR_FUZZ_CHECK(canon_apply(&p, out, strlen(out), again, sizeof again) ==
                      FR_OK &&
                  strcmp(out, again) == 0);
    if (p.trim && *out) {
        size_t l = strlen(out);
        FR_FUZZ_CHECK(out[0] != ' ' && out[0] != '\t' && out[l - 1] != ' ' &&
                      out[l - 1] != '\t');
    }
    FR_FUZZ_CHECK(canon_count_new(&cc) == FR_OK);
    FR_FUZZ_CHECK(canon_count_add(cc, raw, n, out) == FR_OK);
    FR_FUZZ_CHECK(canon_count_add(cc, out, strlen(out), out) == FR_OK);
    FR_FUZZ_CHECK(canon_count_rewritten(cc) <= 1 &&
                  canon_count_merged(cc) <= 1);
    canon_count_destroy(&cc);
    return 0;
}
