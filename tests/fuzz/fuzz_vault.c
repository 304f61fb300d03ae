/*
 * fuzz_vault.c - the decoder of vault.sealed's plaintext (formats 1 and 2:
 * name, SKU table, interaction rows, consent events, erasures), behind the
 * AEAD: an old format or a bug in a writer could still hand it odd bytes.
 * Properties: a refusal leaves the vault as it was; an accepted state holds
 * what the rest of the store relies on (SKU table sorted, every row's SKU
 * in it, rows in member order, erasures sorted), is readable by the
 * store's readers (consent index, training rows, the outside-catalogue
 * count, consent and erasure look-ups), and encodes to bytes that decode
 * to the same state (format 2 round trip).
 * FR_FUZZ_WRITE_SEEDS=DIR writes seeds made with vault_encode.
 */
#include <string.h>

#include "crypto/crypto.h"
#include "fuzz.h"
#include "fuzz_file.h"
#include "vault_int.h"

static vault *
vault_blank(void)
{
    vault *v = calloc(1, sizeof *v);

    FR_FUZZ_CHECK(v != NULL);
    v->lock_fd = -1;
    return v;
}

static void
add_sku(vault *v, const char *s)
{
    v->skus = realloc(v->skus, (v->n_skus + 1) * sizeof *v->skus);
    FR_FUZZ_CHECK(v->skus != NULL);
    v->skus[v->n_skus].len = (uint8_t)strlen(s);
    snprintf(v->skus[v->n_skus].s, sizeof v->skus[0].s, "%s", s);
    v->n_skus++;
}

static void
add_rec(vault *v, uint8_t member, uint32_t sku, int64_t qty, int64_t ts)
{
    v->recs = realloc(v->recs, (v->n_recs + 1) * sizeof *v->recs);
    FR_FUZZ_CHECK(v->recs != NULL);
    memset(v->recs[v->n_recs].pid, member, VAULT_PID_BYTES);
    v->recs[v->n_recs].sku = sku;
    v->recs[v->n_recs].qty = qty;
    v->recs[v->n_recs].ts = ts;
    v->n_recs++;
}

static void
write_seed(const char *dir, const char *name, const vault *v)
{
    uint8_t *b = NULL;
    size_t len = 0;

    FR_FUZZ_CHECK(vault_encode(v, &b, &len) == FR_OK);
    fz_seed(dir, name, b, len);
    free(b);
}

/* A small store: three members, a return, consents, an erasure. */
static void
write_seeds(const char *dir)
{
    vault *v = vault_blank();
    static const uint8_t v1[] = {
        'F', 'R', 'V', 'T', 1, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0,
        's', '1', 2, 0, 0, 0, 0, 0, 0, 0,
        /* row 1: pid, item 7, quantity 2, time */
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 7, 0, 0, 0, 2, 0, 0, 0,
        0, 0x10, 0, 0, 0, 0, 0, 0,
        2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 0, 0, 0, 1, 0, 0, 0,
        0, 0x20, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};

    snprintf(v->name, sizeof v->name, "store01");
    v->changes = 5;
    write_seed(dir, "empty", v);
    add_sku(v, "22139");
    add_sku(v, "85123A");
    add_sku(v, "POST");
    add_rec(v, 1, 0, 6000, 1600000000);
    add_rec(v, 1, 1, -1000, 1600000100);
    add_rec(v, 2, 1, 2500, 1600000200);
    add_rec(v, 3, 2, 1000, 1600000300);
    v->evts = calloc(3, sizeof *v->evts);
    FR_FUZZ_CHECK(v->evts != NULL);
    v->n_evts = 3;
    memset(v->evts[0].pid, 1, VAULT_PID_BYTES);
    v->evts[0] = (evt){.purpose = VAULT_TRAINING, .granted = 1, .ts = 10};
    memset(v->evts[0].pid, 1, VAULT_PID_BYTES);
    v->evts[1] = (evt){.purpose = VAULT_MARKETING, .granted = 1, .ts = 11};
    memset(v->evts[1].pid, 2, VAULT_PID_BYTES);
    v->evts[2] = (evt){.purpose = VAULT_TRAINING, .granted = 0, .ts = 12};
    memset(v->evts[2].pid, 1, VAULT_PID_BYTES);
    v->fgts = calloc(1, sizeof *v->fgts);
    FR_FUZZ_CHECK(v->fgts != NULL);
    v->n_fgts = 1;
    memset(v->fgts[0].pid, 9, VAULT_PID_BYTES);
    v->fgts[0].ts = 99;
    write_seed(dir, "store", v);
    fz_seed(dir, "format1", v1, sizeof v1);
    vault_close(&v);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    FR_FUZZ_CHECK(fr_crypto_init() == FR_OK);
    if (fz_seed_dir()) {
        write_seeds(fz_seed_dir());
        exit(0);
    }
    return 0;
}

static fr_err
count_row(void *ctx, const char *pid, uint32_t item, int64_t ts)
{
    (void)ts;
    FR_FUZZ_CHECK(strlen(pid) == VAULT_PID_CHARS && item < 1000);
    (*(size_t *)ctx)++;
    return FR_OK;
}

/* What the readers of the store assume of a decoded state. */
static void
check_state(vault *v)
{
    size_t rows = 0, outside = 0, skus = 0;

    for (size_t i = 1; i < v->n_skus; i++)
        FR_FUZZ_CHECK(vault_cmp_sku(&v->skus[i - 1], &v->skus[i]) < 0);
    for (size_t i = 0; i < v->n_recs; i++) {
        FR_FUZZ_CHECK(v->recs[i].sku < v->n_skus);
        if (i)
            FR_FUZZ_CHECK(vault_cmp_pid(v->recs[i - 1].pid,
                                        v->recs[i].pid) <= 0);
    }
    for (size_t i = 1; i < v->n_fgts; i++)
        FR_FUZZ_CHECK(vault_cmp_pid(v->fgts[i - 1].pid, v->fgts[i].pid) <= 0);
    for (size_t i = 0; i < v->n_fgts; i++)
        FR_FUZZ_CHECK(vault_is_forgotten(v, v->fgts[i].pid));
    FR_FUZZ_CHECK(vault_index_consents(v) == FR_OK);
    for (size_t i = 0; i < v->n_evts; i++) {
        const evt *e = &v->evts[i];
        FR_FUZZ_CHECK(vault_consent_of(v, e->pid, e->purpose, NULL) ==
                      vault_granted(v, e->pid, e->purpose));
    }
    FR_FUZZ_CHECK(vault_each(v, VAULT_PURPOSES, NULL, 1000, count_row,
                             &rows) == FR_OK);
    FR_FUZZ_CHECK(vault_each(v, VAULT_TRAINING, NULL, 1000, count_row,
                             &rows) == FR_OK);
    FR_FUZZ_CHECK(vault_count_outside(v, NULL, 1000, &outside, &skus) ==
                  FR_OK);
    FR_FUZZ_CHECK(outside <= v->n_recs && skus <= v->n_skus);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vault *v = vault_blank(), *w = vault_blank();
    uint8_t *b = NULL, *b2 = NULL;
    size_t len = 0, len2 = 0;

    snprintf(v->name, sizeof v->name, "before");
    if (vault_decode(v, data, size) != FR_OK) {
        FR_FUZZ_CHECK(strcmp(v->name, "before") == 0 && v->n_recs == 0 &&
                      v->n_skus == 0 && v->n_evts == 0 && v->n_fgts == 0);
        goto out;
    }
    FR_FUZZ_CHECK(strlen(v->name) >= 1 &&
                  strlen(v->name) <= VAULT_NAME_MAX_LEN);
    check_state(v);
    FR_FUZZ_CHECK(vault_encode(v, &b, &len) == FR_OK);
    FR_FUZZ_CHECK(vault_decode(w, b, len) == FR_OK);
    FR_FUZZ_CHECK(vault_encode(w, &b2, &len2) == FR_OK);
    FR_FUZZ_CHECK(len == len2 && memcmp(b, b2, len) == 0);
out:
    free(b);
    free(b2);
    vault_close(&v);
    vault_close(&w);
    return 0;
}
