/*
 * test_wire_cat.c - the end of training and the item catalogue on the
 * wire: RoundStart.catalogue_id / catalogue_items, RoundEnd.training_done,
 * the Done and Catalogue messages. Round trips through the real encoder and
 * decoder; refusals from hand-made bytes (a protobuf writer of our own, so
 * the test can write what the encoder refuses to).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/wire.h"

#define MAX FR_WIRE_DEFAULT_MAX_BYTES

/* ---- a minimal protobuf writer ---- */

typedef struct pbw {
    uint8_t b[16384];
    size_t n;
} pbw;

static void
pb_byte(pbw *w, uint8_t v)
{
    assert_true(w->n < sizeof w->b);
    w->b[w->n++] = v;
}

static void
pb_varint(pbw *w, uint64_t v)
{
    while (v >= 0x80) {
        pb_byte(w, (uint8_t)(v | 0x80));
        v >>= 7;
    }
    pb_byte(w, (uint8_t)v);
}

static void
pb_uint(pbw *w, unsigned field, uint64_t v)
{
    pb_varint(w, ((uint64_t)field << 3) | 0);
    pb_varint(w, v);
}

static void
pb_bytes(pbw *w, unsigned field, const void *p, size_t n)
{
    pb_varint(w, ((uint64_t)field << 3) | 2);
    pb_varint(w, n);
    for (size_t i = 0; i < n; i++)
        pb_byte(w, ((const uint8_t *)p)[i]);
}

static void
pb_sub(pbw *w, unsigned field, const pbw *sub)
{
    pb_bytes(w, field, sub->b, sub->n);
}

static void
pb_f32s(pbw *w, unsigned field, float v, size_t n)
{
    pbw tmp = {.n = 0};
    uint32_t u;

    memcpy(&u, &v, 4);
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < 4; k++)
            pb_byte(&tmp, (uint8_t)(u >> (8 * k)));
    pb_sub(w, field, &tmp);
}

static void
envelope(pbw *w, uint64_t type, unsigned body_field, const pbw *body)
{
    w->n = 0;
    pb_uint(w, 1, FR_WIRE_VERSION);
    pb_uint(w, 2, 9);
    pb_uint(w, 3, type);
    pb_sub(w, body_field, body);
}

enum { ENV_ROUND_START = 11, ENV_ROUND_END = 13, ENV_DONE = 15,
       ENV_CATALOGUE = 16 };

static const uint8_t id32[32] = {0x3f, 0xa2, 0xc0, 0xd1, 0xe4, 0xb5, 0xa6,
                                 0x97, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
                                 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
                                 23, 24};

/* A round start body for a 3 x 2 model; id_len < 0: no id field. */
static void
round_start_body(pbw *body, int id_len, uint32_t items)
{
    pbw model = {.n = 0}, train = {.n = 0};

    pb_uint(&model, 1, 3);
    pb_uint(&model, 2, 2);
    pb_f32s(&model, 3, 0.5f, 6);
    pb_f32s(&model, 4, 0.1f, 3);
    pb_uint(&train, 1, 1);
    pb_varint(&train, (2u << 3) | 5); /* learning_rate 0.05 */
    {
        float lr = 0.05f;
        uint32_t u;
        memcpy(&u, &lr, 4);
        for (int k = 0; k < 4; k++)
            pb_byte(&train, (uint8_t)(u >> (8 * k)));
    }
    pb_uint(&train, 3, 4);
    pb_uint(&train, 5, 16);
    body->n = 0;
    pb_sub(body, 1, &model);
    pb_sub(body, 2, &train);
    pb_uint(body, 3, 1000);
    if (id_len >= 0)
        pb_bytes(body, 6, id32, (size_t)id_len);
    if (items)
        pb_uint(body, 7, items);
}

static fr_msg *
roundtrip(const fr_msg *m)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    fr_msg *out = NULL;
    const char *why = NULL;

    assert_int_equal(fr_wire_encode(m, MAX, &buf, &len), FR_OK);
    assert_int_equal(fr_wire_decode(buf, len, MAX, &out, &why), FR_OK);
    free(buf);
    assert_int_equal(out->type, m->type);
    assert_true(out->round_id == m->round_id);
    return out;
}

static void
expect(const pbw *w, const char *reason)
{
    fr_msg *m = NULL;
    const char *why = NULL;
    fr_err rc = fr_wire_decode(w->b, w->n, MAX, &m, &why);

    if (!reason) {
        assert_int_equal(rc, FR_OK);
        fr_msg_destroy(&m);
        return;
    }
    if (rc != FR_EPROTO)
        fprintf(stderr, "accepted, expected refusal: %s\n", reason);
    assert_int_equal(rc, FR_EPROTO);
    assert_null(m);
    assert_non_null(why);
    assert_string_equal(why, reason);
}

static void
encode_refused(const fr_msg *m)
{
    uint8_t *buf = NULL;
    size_t len = 0;

    assert_int_equal(fr_wire_encode(m, MAX, &buf, &len), FR_EINVAL);
    assert_null(buf);
}

/* ---- round trips ---- */

static const float emb[6] = {0.5f, -1.0f, 2.0f, 0.25f, 0.0f, 1.5f};
static const float bias[3] = {0.1f, -0.2f, 0.3f};

static fr_msg
a_round_start(void)
{
    fr_msg m = {.type = FR_MSG_ROUND_START, .round_id = 7};
    fr_msg_round_start *rs = &m.u.round_start;

    rs->n_items = 3;
    rs->dim = 2;
    rs->item_emb = emb;
    rs->item_bias = bias;
    rs->deadline_ms = 5000;
    rs->train = (fr_train_params){.local_epochs = 1, .learning_rate = 0.1f,
                                  .negatives = 2, .batch_size = 8};
    return m;
}

static void
test_round_start_catalogue(void **state)
{
    fr_msg m = a_round_start(), *out;
    (void)state;

    /* Legacy: no id, no count; none comes back. */
    out = roundtrip(&m);
    assert_int_equal(out->u.round_start.has_catalogue, 0);
    assert_int_equal(out->u.round_start.catalogue_items, 0);
    fr_msg_destroy(&out);

    m.u.round_start.has_catalogue = 1;
    memcpy(m.u.round_start.catalogue_id, id32, sizeof id32);
    m.u.round_start.catalogue_items = 3;
    out = roundtrip(&m);
    assert_int_equal(out->u.round_start.has_catalogue, 1);
    assert_memory_equal(out->u.round_start.catalogue_id, id32, 32);
    assert_int_equal(out->u.round_start.catalogue_items, 3);
    fr_msg_destroy(&out);

    /* A model over the catalogue's head: 3 of 100000 items. */
    m.u.round_start.catalogue_items = 100000;
    out = roundtrip(&m);
    assert_int_equal(out->u.round_start.catalogue_items, 100000);
    assert_int_equal(out->u.round_start.n_items, 3);
    fr_msg_destroy(&out);

    /* The encoder keeps to what the decoder accepts. */
    m.u.round_start.catalogue_items = 2;
    encode_refused(&m);
    m.u.round_start.has_catalogue = 0;
    m.u.round_start.catalogue_items = 3;
    encode_refused(&m);
}

static void
test_round_end_training_done(void **state)
{
    fr_msg m = {.type = FR_MSG_ROUND_END, .round_id = 4}, *out;
    (void)state;

    m.u.round_end.completed = 1;
    m.u.round_end.completed_rounds = 2;
    out = roundtrip(&m);
    assert_int_equal(out->u.round_end.training_done, 0);
    fr_msg_destroy(&out);
    m.u.round_end.training_done = 1;
    out = roundtrip(&m);
    assert_int_equal(out->u.round_end.training_done, 1);
    assert_true(out->u.round_end.completed_rounds == 2);
    fr_msg_destroy(&out);
    m.u.round_end.completed = 0; /* an abandoned round completes nothing */
    encode_refused(&m);
    m.u.round_end.training_done = 2;
    encode_refused(&m);
}

static void
test_done(void **state)
{
    fr_msg m = {.type = FR_MSG_DONE, .round_id = 11}, *out;
    pbw body = {.n = 0}, w;
    (void)state;

    m.u.done.completed_rounds = 1234567890123ull;
    out = roundtrip(&m);
    assert_true(out->u.done.completed_rounds == 1234567890123ull);
    fr_msg_destroy(&out);

    pb_uint(&body, 1, 5);
    envelope(&w, FR_MSG_DONE, ENV_DONE, &body);
    expect(&w, NULL);
    pb_uint(&body, 9, 1);
    envelope(&w, FR_MSG_DONE, ENV_DONE, &body);
    expect(&w, "unknown field in message");
    envelope(&w, FR_MSG_HELLO, ENV_DONE, &body);
    expect(&w, "message type does not match body");
}

static const char cat3[] = "fedrec-catalogue 1\n85123A\nPOST\n22423\n";

static void
test_catalogue_roundtrip(void **state)
{
    fr_msg m = {.type = FR_MSG_CATALOGUE, .round_id = 3}, *out;
    (void)state;

    /* A request: the id alone. */
    memcpy(m.u.catalogue.id, id32, 32);
    out = roundtrip(&m);
    assert_memory_equal(out->u.catalogue.id, id32, 32);
    assert_int_equal(out->u.catalogue.items, 0);
    assert_int_equal(out->u.catalogue.content_len, 0);
    assert_null(out->u.catalogue.content);
    fr_msg_destroy(&out);

    /* An answer: the bytes and their count. */
    m.u.catalogue.items = 3;
    m.u.catalogue.content = (const uint8_t *)cat3;
    m.u.catalogue.content_len = sizeof cat3 - 1;
    out = roundtrip(&m);
    assert_int_equal(out->u.catalogue.items, 3);
    assert_int_equal(out->u.catalogue.content_len, sizeof cat3 - 1);
    assert_memory_equal(out->u.catalogue.content, cat3, sizeof cat3 - 1);
    fr_msg_destroy(&out);

    /* What the decoder would refuse is not encoded either. */
    m.u.catalogue.items = 0;
    encode_refused(&m);
    m.u.catalogue.items = 100;
    encode_refused(&m);
}

/* ---- refusals ---- */

static void
test_round_start_refusals(void **state)
{
    pbw body, w;
    (void)state;

    round_start_body(&body, -1, 0);
    envelope(&w, FR_MSG_ROUND_START, ENV_ROUND_START, &body);
    expect(&w, NULL);
    round_start_body(&body, 32, 3);
    envelope(&w, FR_MSG_ROUND_START, ENV_ROUND_START, &body);
    expect(&w, NULL);
    round_start_body(&body, -1, 3);
    envelope(&w, FR_MSG_ROUND_START, ENV_ROUND_START, &body);
    expect(&w, "round_start catalogue_items without a catalogue id");
    round_start_body(&body, 0, 3); /* an empty id field is no id */
    envelope(&w, FR_MSG_ROUND_START, ENV_ROUND_START, &body);
    expect(&w, "round_start catalogue_items without a catalogue id");
    round_start_body(&body, 31, 3);
    envelope(&w, FR_MSG_ROUND_START, ENV_ROUND_START, &body);
    expect(&w, "round_start catalogue_id must be 32 bytes");
    round_start_body(&body, 32, 0);
    envelope(&w, FR_MSG_ROUND_START, ENV_ROUND_START, &body);
    expect(&w, "round_start catalogue_items is less than n_items");
    round_start_body(&body, 32, 2);
    envelope(&w, FR_MSG_ROUND_START, ENV_ROUND_START, &body);
    expect(&w, "round_start catalogue_items is less than n_items");
}

static void
test_round_end_refusals(void **state)
{
    pbw body = {.n = 0}, w;
    (void)state;

    pb_uint(&body, 1, 1);
    pb_uint(&body, 5, 1);
    envelope(&w, FR_MSG_ROUND_END, ENV_ROUND_END, &body);
    expect(&w, NULL);
    body.n = 0;
    pb_uint(&body, 1, 0);
    pb_uint(&body, 5, 1);
    envelope(&w, FR_MSG_ROUND_END, ENV_ROUND_END, &body);
    expect(&w, "round_end training_done on an abandoned round");
}

static void
catalogue_body(pbw *body, size_t id_len, uint32_t items, const void *content,
               size_t len)
{
    body->n = 0;
    pb_bytes(body, 1, id32, id_len);
    if (items)
        pb_uint(body, 2, items);
    if (len)
        pb_bytes(body, 3, content, len);
}

static void
test_catalogue_refusals(void **state)
{
    static char big[8192];
    size_t head = strlen("fedrec-catalogue 1\n");
    pbw body, w;
    (void)state;

    catalogue_body(&body, 32, 3, cat3, sizeof cat3 - 1);
    envelope(&w, FR_MSG_CATALOGUE, ENV_CATALOGUE, &body);
    expect(&w, NULL);
    catalogue_body(&body, 16, 3, cat3, sizeof cat3 - 1);
    envelope(&w, FR_MSG_CATALOGUE, ENV_CATALOGUE, &body);
    expect(&w, "catalogue id must be 32 bytes");
    catalogue_body(&body, 0, 0, NULL, 0);
    envelope(&w, FR_MSG_CATALOGUE, ENV_CATALOGUE, &body);
    expect(&w, "catalogue id must be 32 bytes");
    catalogue_body(&body, 32, 3, NULL, 0);
    envelope(&w, FR_MSG_CATALOGUE, ENV_CATALOGUE, &body);
    expect(&w, "catalogue request with an item count");
    catalogue_body(&body, 32, 0, cat3, sizeof cat3 - 1);
    envelope(&w, FR_MSG_CATALOGUE, ENV_CATALOGUE, &body);
    expect(&w, "catalogue item count out of range");
    catalogue_body(&body, 32, FR_WIRE_MAX_ITEMS + 1, cat3, sizeof cat3 - 1);
    envelope(&w, FR_MSG_CATALOGUE, ENV_CATALOGUE, &body);
    expect(&w, "catalogue item count out of range");
    /* Oversized: more bytes than one item's longest line can fill. */
    memset(big, 'A', sizeof big);
    memcpy(big, "fedrec-catalogue 1\n", head);
    catalogue_body(&body, 32, 1, big, head + 64 + 1);
    envelope(&w, FR_MSG_CATALOGUE, ENV_CATALOGUE, &body);
    expect(&w, NULL);
    catalogue_body(&body, 32, 1, big, head + 64 + 2);
    envelope(&w, FR_MSG_CATALOGUE, ENV_CATALOGUE, &body);
    expect(&w, "catalogue larger than its item count allows");
    catalogue_body(&body, 32, 100, big, sizeof big);
    envelope(&w, FR_MSG_CATALOGUE, ENV_CATALOGUE, &body);
    expect(&w, "catalogue larger than its item count allows");
    /* Ten lines take at least 20 bytes after the header. */
    catalogue_body(&body, 32, 10, cat3, sizeof cat3 - 1);
    envelope(&w, FR_MSG_CATALOGUE, ENV_CATALOGUE, &body);
    expect(&w, "catalogue shorter than its item count needs");
    catalogue_body(&body, 32, 3, cat3, sizeof cat3 - 1);
    pb_uint(&body, 9, 1);
    envelope(&w, FR_MSG_CATALOGUE, ENV_CATALOGUE, &body);
    expect(&w, "unknown field in message");
    /* A whole catalogue above the size limit never reaches the parser. */
    catalogue_body(&body, 32, 100, big, sizeof big);
    envelope(&w, FR_MSG_CATALOGUE, ENV_CATALOGUE, &body);
    {
        fr_msg *m = NULL;
        const char *why = NULL;
        assert_int_equal(fr_wire_decode(w.b, w.n, 4096, &m, &why),
                         FR_ELIMIT);
        assert_null(m);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_start_catalogue),
        cmocka_unit_test(test_round_end_training_done),
        cmocka_unit_test(test_done),
        cmocka_unit_test(test_catalogue_roundtrip),
        cmocka_unit_test(test_round_start_refusals),
        cmocka_unit_test(test_round_end_refusals),
        cmocka_unit_test(test_catalogue_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
