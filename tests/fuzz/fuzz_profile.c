/*
 * fuzz_profile.c - an import profile file (import_profile_load, which reads
 * it with common/config and checks it with import_profile_from_conf).
 * Properties: a refusal says why; an accepted profile printed as a template
 * (import_profile_print) loads again and prints the same, and it can judge
 * a small export under either member-id policy without breaking the
 * importer's own properties (no output on a refusal, counts add up).
 */
#include <string.h>

#include "canon.h"
#include "fuzz.h"
#include "fuzz_file.h"
#include "importer.h"
#include "profile.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_dir_init();
    return 0;
}

static char *
print(const import_profile *p, size_t *len)
{
    char *text = NULL;
    FILE *f = open_memstream(&text, len);

    FR_FUZZ_CHECK(f != NULL);
    import_profile_print(p, f);
    fclose(f);
    return text;
}

/* A header of the profile's own column names and two rows. */
static void
try_import(const import_profile *p)
{
    const import_profile_conf *c = &p->conf;
    char path[128], err[2048];
    import_opts o = {.profile = p, .canon = &canon_recommended,
                     .n_items = 100, .now_s = 1700000000, .max_errors = 2};
    import_result *r = NULL;
    char *csv = NULL;
    size_t len;
    FILE *f = open_memstream(&csv, &len);

    FR_FUZZ_CHECK(f != NULL);
    fprintf(f, "%s,%s,%s,%s\n1,2,1600000000,3\n0042,SKU-1,2020-01-02 "
            "03:04:05,-1\n", c->member_column, c->item_column, c->time_column,
            *c->quantity_column ? c->quantity_column : "extra");
    fclose(f);
    fz_write("export.csv", csv, len, path, sizeof path);
    free(csv);
    if (import_parse(path, &o, &r, err, sizeof err) != FR_OK) {
        FR_FUZZ_CHECK(r == NULL && err[0] != 0);
        return;
    }
    FR_FUZZ_CHECK(r->counts.rows_read ==
                  r->counts.kept_purchase + r->counts.kept_return +
                      r->counts.guest + r->counts.non_product +
                      r->counts.zero_quantity);
    FR_FUZZ_CHECK(r->n_rows == r->counts.kept_purchase +
                                   r->counts.kept_return);
    import_result_destroy(&r);
    timefmt_zone_end();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[128], err[1024] = "";
    import_profile *p = NULL, *again = NULL;
    char *text, *text2;
    size_t len, len2;

    fz_write("fuzz.profile", data, size, path, sizeof path);
    if (import_profile_load(path, &p, err, sizeof err) != FR_OK) {
        FR_FUZZ_CHECK(p == NULL && err[0] != 0);
        return 0;
    }
    text = print(p, &len);
    fz_write("again.profile", text, len, path, sizeof path);
    if (import_profile_load(path, &again, err, sizeof err) != FR_OK) {
        fprintf(stderr, "the printed profile does not load: %s\n", err);
        FR_FUZZ_CHECK(!"a printed profile loads");
    }
    text2 = print(again, &len2);
    FR_FUZZ_CHECK(len == len2 && memcmp(text, text2, len) == 0);
    free(text);
    free(text2);
    try_import(p);
    import_profile_destroy(&again);
    import_profile_destroy(&p);
    return 0;
}
