/*
 * test_wire_ials.c - the least-squares kind on the wire: RoundStart.ials
 * (both phases) and Update.sums round-trip through the real encoder and
 * decoder; every content rule is refused on both sides (the encoder
 * checks what it is given, the decoder the bytes, reached here by
 * rewriting a marked float of a valid encoding).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "wire/wire.h"

#define MAX FR_WIRE_DEFAULT_MAX_BYTES
#define N 5u
#define D 3u
#define MARK 12345.678f

static float emb[N * D], bias[N], dir[N * D], sums[40];

static fr_msg
start_msg(uint32_t phase)
{
    fr_msg m = {.type = FR_MSG_ROUND_START, .round_id = 9};
    fr_msg_round_start *rs = &m.u.round_start;

    for (size_t i = 0; i < N * D; i++) {
        emb[i] = 0.01f * (float)i;
        dir[i] = -0.5f + 0.1f * (float)i;
    }
    rs->n_items = N;
    rs->dim = D;
    rs->item_emb = emb;
    rs->item_bias = bias;
    rs->deadline_ms = 1000;
    rs->train = (fr_train_params){.local_epochs = 1, .learning_rate = 1,
                                  .negatives = 1, .batch_size = 1};
    rs->has_ials = 1;
    rs->ials = (fr_ials_step){.phase = phase, .alpha0 = 0.1, .lambda = 0.01,
                              .nu = 1.0};
    if (phase == FR_IALS_PHASE_MATVEC) {
        rs->ials.direction = dir;
        rs->ials.n_direction = N * D;
        rs->ials.epoch_round = 7;
    }
    return m;
}

static fr_msg
update_msg(void)
{
    fr_msg m = {.type = FR_MSG_UPDATE, .round_id = 9};

    for (size_t i = 0; i < 40; i++)
        sums[i] = (float)i - 3.25f;
    m.u.update.num_examples = 1;
    m.u.update.sums = sums;
    m.u.update.n_sums = 40;
    return m;
}

static fr_msg *
round_trip(const fr_msg *m)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    fr_msg *out = NULL;

    assert_int_equal(fr_wire_encode(m, MAX, &buf, &len), FR_OK);
    assert_int_equal(fr_wire_decode(buf, len, MAX, &out, NULL), FR_OK);
    free(buf);
    return out;
}

static void
test_round_trips(void **state)
{
    (void)state;
    fr_msg m = start_msg(FR_IALS_PHASE_STATS), *out = round_trip(&m);
    assert_int_equal(out->u.round_start.has_ials, 1);
    assert_int_equal(out->u.round_start.ials.phase, FR_IALS_PHASE_STATS);
    assert_true(out->u.round_start.ials.alpha0 == 0.1);
    assert_true(out->u.round_start.ials.lambda == 0.01);
    assert_true(out->u.round_start.ials.nu == 1.0);
    assert_int_equal(out->u.round_start.ials.n_direction, 0);
    fr_msg_destroy(&out);

    m = start_msg(FR_IALS_PHASE_MATVEC);
    out = round_trip(&m);
    assert_int_equal(out->u.round_start.ials.phase, FR_IALS_PHASE_MATVEC);
    assert_int_equal(out->u.round_start.ials.epoch_round, 7);
    assert_int_equal(out->u.round_start.ials.n_direction, N * D);
    assert_memory_equal(out->u.round_start.ials.direction, dir, sizeof dir);
    fr_msg_destroy(&out);

    /* a plain round start carries no step */
    m = start_msg(FR_IALS_PHASE_STATS);
    m.u.round_start.has_ials = 0;
    out = round_trip(&m);
    assert_int_equal(out->u.round_start.has_ials, 0);
    fr_msg_destroy(&out);

    m = update_msg();
    out = round_trip(&m);
    assert_int_equal(out->u.update.n_sums, 40);
    assert_memory_equal(out->u.update.sums, sums, sizeof sums);
    assert_int_equal(out->u.update.n_items, 0);
    assert_null(out->u.update.delta_emb);
    fr_msg_destroy(&out);
}

static void
refused_encode(const fr_msg *m)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(fr_wire_encode(m, MAX, &buf, &len), FR_EINVAL);
    assert_null(buf);
}

static void
test_encoder_refuses(void **state)
{
    fr_msg m;
    (void)state;

    m = start_msg(3);
    refused_encode(&m);
    m = start_msg(FR_IALS_PHASE_STATS);
    m.u.round_start.ials.lambda = 0;
    refused_encode(&m);
    m = start_msg(FR_IALS_PHASE_STATS);
    m.u.round_start.ials.alpha0 = -1;
    refused_encode(&m);
    m = start_msg(FR_IALS_PHASE_STATS);
    m.u.round_start.ials.nu = 2.5;
    refused_encode(&m);
    m = start_msg(FR_IALS_PHASE_STATS); /* phase 1 with a direction */
    m.u.round_start.ials.direction = dir;
    m.u.round_start.ials.n_direction = N * D;
    refused_encode(&m);
    m = start_msg(FR_IALS_PHASE_MATVEC); /* a direction of the wrong size */
    m.u.round_start.ials.n_direction = N * D - 1;
    refused_encode(&m);
    m = start_msg(FR_IALS_PHASE_MATVEC);
    dir[4] = NAN;
    refused_encode(&m);
    m = update_msg();
    sums[3] = INFINITY;
    refused_encode(&m);
    m = update_msg(); /* sums and a delta */
    m.u.update.n_items = N;
    m.u.update.dim = D;
    m.u.update.delta_emb = emb;
    m.u.update.delta_bias = bias;
    refused_encode(&m);
}

/* Encodes m, rewrites the first float equal to MARK to bad, decodes. */
static void
refused_decode(const fr_msg *m, float bad, const char *want)
{
    uint8_t *buf = NULL, mark[4], repl[4];
    size_t len = 0;
    fr_msg *out = NULL;
    const char *why = NULL;
    float v = MARK;
    int hit = 0;

    memcpy(mark, &v, 4);
    memcpy(repl, &bad, 4);
    assert_int_equal(fr_wire_encode(m, MAX, &buf, &len), FR_OK);
    for (size_t i = 0; i + 4 <= len && !hit; i++)
        if (!memcmp(buf + i, mark, 4)) {
            memcpy(buf + i, repl, 4);
            hit = 1;
        }
    assert_true(hit);
    assert_int_equal(fr_wire_decode(buf, len, MAX, &out, &why), FR_EPROTO);
    assert_null(out);
    assert_non_null(why);
    assert_string_equal(why, want);
    free(buf);
}

static void
test_decoder_refuses(void **state)
{
    fr_msg m;
    (void)state;

    m = start_msg(FR_IALS_PHASE_MATVEC);
    dir[2] = MARK;
    refused_decode(&m, NAN, "ials: non-finite value in direction");
    m = update_msg();
    sums[5] = MARK;
    refused_decode(&m, -INFINITY, "update: non-finite sum");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_encoder_refuses),
        cmocka_unit_test(test_decoder_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
