/*
 * fuzz_checkpoint.c - the aggregator's checkpoint reader (formats 1 and 2:
 * round counter, model, round history; server/checkpoint.c). The first
 * byte's bit 0 makes the target fix the trailing CRC-32 up, so the fuzzer
 * reaches the fields behind it; the rest is the file.
 * Properties: a refusal gives nothing (the struct zeroed); an accepted
 * checkpoint holds what the round engine relies on (history rounds 1..n
 * with increasing ids, as many as the completed rounds in format 2, the
 * next round id not before the last used one) and saves to a file that
 * loads to the same state, byte for byte the input for format 2.
 * FR_FUZZ_WRITE_SEEDS=DIR writes checkpoints made by checkpoint_save.
 */
#include <math.h>
#include <string.h>

#include "base/util.h"
#include "checkpoint.h"
#include "fuzz.h"
#include "fuzz_file.h"

static void
write_seeds(const char *dir)
{
    agg_round_info h[2] = {
        {1, 4, 3, 120, 0.25, 0.125, 0.2, 0.1, 0.69, 1.5, 1700000000000},
        {2, 7, 3, 118, NAN, NAN, NAN, NAN, NAN, 2.0, 1700000001000}};
    checkpoint ck = {.next_round_id = 7, .completed_rounds = 2,
                     .history = h, .n_history = 2};
    char path[128];
    uint8_t *b, *out;
    size_t len;

    FR_FUZZ_CHECK(fr_model_new(&ck.model, 6, 2) == FR_OK);
    fr_model_init_random(ck.model, 3, 0.1f);
    fz_path("seed.ckpt", path, sizeof path);
    FR_FUZZ_CHECK(checkpoint_save(&ck, path) == FR_OK);
    b = (uint8_t *)fz_read(path, &len);
    out = malloc(len + 1);
    FR_FUZZ_CHECK(b && out);
    out[0] = 1;
    memcpy(out + 1, b, len);
    fz_seed(dir, "two_rounds", out, len + 1);
    /* format 1: no history, header 32 bytes */
    memcpy(out + 1 + 4, "\1\0\0\0", 4);
    memmove(out + 1 + 32, out + 1 + 40, len - 40);
    fz_seed(dir, "format1", out, len + 1 - 8 - 2 * 84);
    free(out);
    free(b);
    fr_model_destroy(&ck.model);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_dir_init();
    if (fz_seed_dir()) {
        write_seeds(fz_seed_dir());
        exit(0);
    }
    return 0;
}

static void
check_state(const checkpoint *ck)
{
    FR_FUZZ_CHECK(ck->model != NULL && (ck->version == 1 || ck->version == 2));
    if (ck->version == 2)
        FR_FUZZ_CHECK(ck->n_history == ck->completed_rounds);
    else
        FR_FUZZ_CHECK(ck->n_history == 0 && ck->history == NULL);
    for (size_t i = 0; i < ck->n_history; i++) {
        FR_FUZZ_CHECK(ck->history[i].round == i + 1);
        if (i)
            FR_FUZZ_CHECK(ck->history[i].round_id >
                          ck->history[i - 1].round_id);
    }
    if (ck->n_history)
        FR_FUZZ_CHECK(ck->next_round_id >=
                      ck->history[ck->n_history - 1].round_id);
}

static void
round_trip(const checkpoint *ck, const uint8_t *file, size_t size)
{
    char path[128];
    checkpoint again;
    char *saved;
    size_t len = 0;

    fz_path("again.ckpt", path, sizeof path);
    if (ck->version == 1) /* saved as format 2, with an empty history */
        return;
    FR_FUZZ_CHECK(checkpoint_save(ck, path) == FR_OK);
    saved = fz_read(path, &len);
    FR_FUZZ_CHECK(saved && len == size && memcmp(saved, file, size) == 0);
    free(saved);
    FR_FUZZ_CHECK(checkpoint_load(path, &again) == FR_OK);
    FR_FUZZ_CHECK(again.next_round_id == ck->next_round_id &&
                  again.completed_rounds == ck->completed_rounds &&
                  again.n_history == ck->n_history);
    FR_FUZZ_CHECK(ck->n_history == 0 ||
                  memcmp(again.history, ck->history,
                         ck->n_history * sizeof *ck->history) == 0);
    checkpoint_clear(&again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[128];
    checkpoint ck;
    uint8_t *file;
    size_t n;

    if (size < 1)
        return 0;
    n = size - 1;
    file = malloc(n + 1);
    FR_FUZZ_CHECK(file != NULL);
    memcpy(file, data + 1, n);
    if ((data[0] & 1) && n >= 4)
        fr_put_u32le(file + n - 4, fr_crc32(0, file, n - 4));
    fz_write("fuzz.ckpt", file, n, path, sizeof path);
    memset(&ck, 0x5a, sizeof ck);
    if (checkpoint_load(path, &ck) != FR_OK) {
        FR_FUZZ_CHECK(ck.model == NULL && ck.history == NULL &&
                      ck.n_history == 0);
    } else {
        check_state(&ck);
        round_trip(&ck, file, n);
        checkpoint_clear(&ck);
    }
    free(file);
    return 0;
}
