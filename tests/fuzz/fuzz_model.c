/*
 * fuzz_model.c - the decoders behind model.sealed and members.sealed (and
 * the model inside the aggregator's checkpoint): fr_model_decode and
 * fr_mf_decode_members. The first byte chooses which (bit 0); the rest is
 * the plaintext. Properties: what decodes encodes to the same bytes; a
 * refused member table leaves the store's embeddings as they were.
 * FR_FUZZ_WRITE_SEEDS=DIR writes seeds made with the encoders.
 */
#include <string.h>

#include "base/util.h"
#include "fuzz.h"
#include "fuzz_file.h"
#include "model/data.h"
#include "model/mf.h"
#include "model/model.h"

#define N_ITEMS 8
#define DIM 4

static fr_dataset *data_set;
static fr_mf *mf;
static uint8_t *fresh;
static size_t fresh_len;

static void
write_seeds(const char *dir)
{
    fr_model *m = NULL;
    uint8_t *b = NULL, *out;
    size_t len = 0;

    FR_FUZZ_CHECK(fr_model_new(&m, N_ITEMS, DIM) == FR_OK);
    fr_model_init_random(m, 1, 0.1f);
    FR_FUZZ_CHECK(fr_model_encode(m, &b, &len) == FR_OK);
    out = malloc(len + 1);
    FR_FUZZ_CHECK(out != NULL);
    out[0] = 2;
    memcpy(out + 1, b, len);
    fz_seed(dir, "model", out, len + 1);
    free(out);
    free(b);
    fr_model_destroy(&m);
    out = malloc(fresh_len + 1);
    FR_FUZZ_CHECK(out != NULL);
    out[0] = 3;
    memcpy(out + 1, fresh, fresh_len);
    fz_seed(dir, "members", out, fresh_len + 1);
    free(out);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    FR_FUZZ_CHECK(fr_dataset_new(&data_set, N_ITEMS) == FR_OK);
    for (uint32_t u = 0; u < 3; u++)
        for (uint32_t i = 0; i < 3; i++)
            FR_FUZZ_CHECK(fr_dataset_add(data_set, u, (u + i) % N_ITEMS,
                                         i) == FR_OK);
    FR_FUZZ_CHECK(fr_dataset_finalize(data_set) == FR_OK);
    FR_FUZZ_CHECK(fr_mf_new(&mf, data_set, DIM, 1) == FR_OK);
    FR_FUZZ_CHECK(fr_mf_encode_members(mf, &fresh, &fresh_len) == FR_OK);
    if (fz_seed_dir()) {
        write_seeds(fz_seed_dir());
        exit(0);
    }
    return 0;
}

static void
one_model(const uint8_t *data, size_t size)
{
    fr_model *m = NULL;
    uint8_t *b = NULL;
    size_t len = 0;

    if (fr_model_decode(data, size, &m) != FR_OK) {
        FR_FUZZ_CHECK(m == NULL);
        return;
    }
    FR_FUZZ_CHECK(fr_model_n_params(m) ==
                  (size_t)fr_model_n_items(m) * fr_model_dim(m) +
                      fr_model_n_items(m));
    FR_FUZZ_CHECK(fr_model_encode(m, &b, &len) == FR_OK);
    FR_FUZZ_CHECK(len == size && memcmp(b, data, size) == 0);
    free(b);
    fr_model_destroy(&m);
}

static void
one_members(const uint8_t *data, size_t size)
{
    uint8_t *b = NULL;
    size_t len = 0;

    if (fr_mf_decode_members(mf, data, size) != FR_OK) {
        FR_FUZZ_CHECK(fr_mf_encode_members(mf, &b, &len) == FR_OK);
        FR_FUZZ_CHECK(len == fresh_len && memcmp(b, fresh, len) == 0);
        free(b);
        return;
    }
    FR_FUZZ_CHECK(fr_mf_encode_members(mf, &b, &len) == FR_OK);
    FR_FUZZ_CHECK(len == size && memcmp(b, data, size) == 0);
    free(b);
    /* back to the fresh embeddings, so inputs stay independent */
    FR_FUZZ_CHECK(fr_mf_decode_members(mf, fresh, fresh_len) == FR_OK);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *buf;
    size_t n;

    if (size < 1)
        return 0;
    n = size - 1;
    buf = malloc(n + 1);
    FR_FUZZ_CHECK(buf != NULL);
    memcpy(buf, data + 1, n);
    if ((data[0] & 2) && n >= 4)
        fr_put_u32le(buf + n - 4, fr_crc32(0, buf, n - 4));
    if (data[0] & 1)
        one_members(buf, n);
    else
        one_model(buf, n);
    free(buf);
    return 0;
}
