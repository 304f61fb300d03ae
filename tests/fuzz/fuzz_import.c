/*
 * fuzz_import.c - the CSV importer (import_parse) on a hostile export. The
 * first byte chooses: bit 0 the profile (fedrec / online-retail), bit 1 the
 * member-id policy (legacy / recommended), bit 2 import_parse_legacy
 * instead, bits 3-4 max_errors (1..4); the rest is the file.
 * Properties: a refusal leaves no output and every message names the file
 * and a line; an accepted file's counts add up (kept + dropped = rows read,
 * rows = kept purchases + returns), every row is within the documented
 * bounds (member id canonical, no control bytes; SKU 1..64 bytes; time not
 * past now + 1 day; the sign of the quantity matching its outcome).
 */
#include <string.h>

#include "canon.h"
#include "fuzz.h"
#include "fuzz_file.h"
#include "importer.h"
#include "profile.h"

#define NOW_S 1700000000
#define N_ITEMS 1000

static import_profile *profiles[2];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[512];

    (void)argc;
    (void)argv;
    fz_dir_init();
    FR_FUZZ_CHECK(import_profile_builtin("fedrec", &profiles[0], err,
                                         sizeof err) == FR_OK);
    FR_FUZZ_CHECK(import_profile_builtin("online-retail", &profiles[1], err,
                                         sizeof err) == FR_OK);
    return 0;
}

static int
has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

/* Every message line is "PATH:LINE: reason" (or the count of the rest). */
static void
check_refusal(const char *path, const char *err)
{
    size_t pl = strlen(path);

    FR_FUZZ_CHECK(err[0] != 0);
    for (const char *l = err; l && *l;) {
        const char *nl = strchr(l, '\n');
        FR_FUZZ_CHECK(strncmp(l, path, pl) == 0 && l[pl] == ':');
        /* only the last line ("N more errors") names no line */
        FR_FUZZ_CHECK((l[pl + 1] >= '1' && l[pl + 1] <= '9') || nl == NULL);
        l = nl ? nl + 1 : NULL;
    }
}

static void
check_rows(const import_result *r, const canon_policy *canon, int legacy)
{
    const import_counts *c = &r->counts;
    char again[IMPORT_MEMBER_ID_MAX];

    FR_FUZZ_CHECK(c->rows_read == c->kept_purchase + c->kept_return +
                                      c->guest + c->non_product +
                                      c->zero_quantity);
    FR_FUZZ_CHECK(r->n_rows == c->kept_purchase + c->kept_return);
    FR_FUZZ_CHECK(c->canon_rewritten <= r->n_rows);
    for (size_t i = 0; i < r->n_rows; i++) {
        const import_row *w = &r->rows[i];
        size_t ml = strlen(w->member_id), sl = strlen(w->sku);
        FR_FUZZ_CHECK(ml >= 1 && ml < IMPORT_MEMBER_ID_MAX);
        FR_FUZZ_CHECK(!has_control(w->member_id) && !has_control(w->sku));
        FR_FUZZ_CHECK(sl >= 1 && sl < IMPORT_SKU_MAX);
        FR_FUZZ_CHECK(w->timestamp >= 0 && w->timestamp <= NOW_S + 86400);
        FR_FUZZ_CHECK(w->qty_milli != 0);
        FR_FUZZ_CHECK(w->item == UINT32_MAX || w->item < N_ITEMS);
        FR_FUZZ_CHECK(canon_apply(canon, w->member_id, ml, again,
                                  sizeof again) == FR_OK &&
                      strcmp(again, w->member_id) == 0);
        if (legacy)
            FR_FUZZ_CHECK(w->item < N_ITEMS && w->quantity >= 1);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[128], err[4096] = "";
    import_result *r = NULL;
    import_opts o = {0};
    uint8_t mode;
    int legacy;
    fr_err rc;

    if (size < 1)
        return 0;
    mode = data[0];
    legacy = (mode & 4) != 0;
    fz_write("export.csv", data + 1, size - 1, path, sizeof path);
    o.profile = profiles[mode & 1];
    o.canon = mode & 2 ? &canon_recommended : &canon_legacy;
    o.n_items = N_ITEMS;
    o.now_s = NOW_S;
    o.max_errors = 1 + ((mode >> 3) & 3);
    rc = legacy ? import_parse_legacy(path, N_ITEMS, NOW_S, o.max_errors, &r,
                                      err, sizeof err)
                : import_parse(path, &o, &r, err, sizeof err);
    if (rc != FR_OK) {
        FR_FUZZ_CHECK(r == NULL);
        if (rc == FR_EINVAL)
            check_refusal(path, err);
        return 0;
    }
    FR_FUZZ_CHECK(r != NULL);
    check_rows(r, legacy ? &canon_legacy : o.canon, legacy);
    import_result_destroy(&r);
    FR_FUZZ_CHECK(r == NULL);
    return 0;
}
