/*
 * test_wire_region.c - the wire fields of regional aggregation (proto:
 * Hello.stores and max_examples, SecAggSetup.encode_n and cover_max,
 * Update.covers, SecAgg.covers; docs/SECAGG.md, "Regions").
 *
 * Each field survives a round trip; a message from an older peer, which
 * never sets them, decodes with 0 in each; a message that leaves them 0
 * encodes to the same bytes an older peer sends (proto3 omits zeros, and
 * an older peer refuses unknown fields, so this is what keeps stores and
 * aggregators of the previous release talking); and the decoder refuses
 * values that make no sense (a sum sized for fewer stores than it has
 * participants, a store count outside the masked input).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "wire/wire.h"

#define MAX FR_WIRE_DEFAULT_MAX_BYTES

static const float emb6[6] = {0.5f, -1.25f, 2.0f, 0.125f, -0.0f, 3.5f};
static const float bias3[3] = {0.1f, -0.2f, 0.3f};

/* Encodes m, decodes the bytes, returns the decoded message (owned). */
static fr_msg *
roundtrip(const fr_msg *m, size_t *len_out)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    fr_msg *out = NULL;
    const char *why = NULL;

    assert_int_equal(fr_wire_encode(m, MAX, &buf, &len), FR_OK);
    assert_int_equal(fr_wire_decode(buf, len, MAX, &out, &why), FR_OK);
    free(buf);
    if (len_out)
        *len_out = len;
    return out;
}

static size_t
encoded_len(const fr_msg *m)
{
    uint8_t *buf = NULL;
    size_t len = 0;

    assert_int_equal(fr_wire_encode(m, MAX, &buf, &len), FR_OK);
    free(buf);
    return len;
}

static fr_msg
msg_round_start(void)
{
    fr_msg m = {.type = FR_MSG_ROUND_START, .round_id = 8};
    fr_msg_round_start *rs = &m.u.round_start;

    rs->n_items = 3;
    rs->dim = 2;
    rs->item_emb = emb6;
    rs->item_bias = bias3;
    rs->deadline_ms = 30000;
    rs->train = (fr_train_params){.local_epochs = 1, .learning_rate = 0.5f,
                                  .negatives = 2, .batch_size = 8};
    rs->has_secagg = 1;
    rs->secagg = (fr_secagg_setup){.n = 4, .k = 3, .t = 2, .index = 1,
                                   .n_words = 10, .min_inputs = 3,
                                   .clip = 100, .weight_cap = 50};
    memset(rs->secagg.graph_commit, 0x11, 32);
    return m;
}

static fr_msg
msg_masked(const uint32_t *words, uint32_t n)
{
    fr_msg m = {.type = FR_MSG_SECAGG, .round_id = 8};

    m.u.secagg.sa = (fr_sa_msg){.phase = FR_SA_MASKED, .words = words,
                                .n_words = n};
    return m;
}

static fr_msg
msg_update(void)
{
    fr_msg m = {.type = FR_MSG_UPDATE, .round_id = 8};

    m.u.update.num_examples = 500;
    m.u.update.n_items = 3;
    m.u.update.dim = 2;
    m.u.update.delta_emb = emb6;
    m.u.update.delta_bias = bias3;
    return m;
}

static void
expect_encode_refused(const fr_msg *m)
{
    uint8_t *buf = NULL;
    size_t len = 0;

    assert_int_equal(fr_wire_encode(m, MAX, &buf, &len), FR_EINVAL);
    assert_null(buf);
}

/* ---- round trips ----------------------------------------------------- */

static void
test_hello_fields_roundtrip(void **state)
{
    fr_msg m = {.type = FR_MSG_HELLO, .round_id = 3}, *o;
    (void)state;

    m.u.hello = (fr_msg_hello){.num_examples = 9000, .last_round = 3,
                               .busy = 1, .stores = 17,
                               .max_examples = 4096};
    o = roundtrip(&m, NULL);
    assert_int_equal(o->u.hello.stores, 17);
    assert_int_equal(o->u.hello.max_examples, 4096);
    assert_int_equal(o->u.hello.num_examples, 9000);
    assert_int_equal(o->u.hello.busy, 1);
    fr_msg_destroy(&o);
}

static void
test_setup_fields_roundtrip(void **state)
{
    fr_msg m = msg_round_start(), *o;
    (void)state;

    m.u.round_start.secagg.encode_n = 40;
    m.u.round_start.secagg.cover_max = 12;
    o = roundtrip(&m, NULL);
    assert_int_equal(o->u.round_start.secagg.encode_n, 40);
    assert_int_equal(o->u.round_start.secagg.cover_max, 12);
    assert_int_equal(fr_secagg_encode_n(&o->u.round_start.secagg), 40);
    assert_int_equal(o->u.round_start.secagg.n, 4);
    fr_msg_destroy(&o);
}

static void
test_covers_roundtrip(void **state)
{
    uint32_t words[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 0xffffffffu};
    fr_msg m = msg_masked(words, 10), u = msg_update(), *o;
    (void)state;

    m.u.secagg.covers = 5;
    o = roundtrip(&m, NULL);
    assert_int_equal(o->u.secagg.covers, 5);
    assert_memory_equal(o->u.secagg.sa.words, words, sizeof words);
    fr_msg_destroy(&o);

    u.u.update.covers = 7;
    o = roundtrip(&u, NULL);
    assert_int_equal(o->u.update.covers, 7);
    assert_int_equal(o->u.update.num_examples, 500);
    fr_msg_destroy(&o);
}

/* ---- older peers ------------------------------------------------------- */

/* A HELLO as an older store writes it: fields 1-3 only. */
static void
test_old_hello_decodes_as_a_store(void **state)
{
    /* version 1, round 5, type HELLO, hello {num 300, last 4, busy 1} */
    static const uint8_t old[] = {0x08, 0x01, 0x10, 0x05, 0x18, 0x01, 0x52,
                                  0x07, 0x08, 0xac, 0x02, 0x10, 0x04, 0x18,
                                  0x01};
    fr_msg *o = NULL, m = {.type = FR_MSG_HELLO, .round_id = 5};
    uint8_t *buf = NULL;
    size_t len = 0;
    const char *why = NULL;
    (void)state;

    assert_int_equal(fr_wire_decode(old, sizeof old, MAX, &o, &why), FR_OK);
    assert_int_equal(o->u.hello.num_examples, 300);
    assert_int_equal(o->u.hello.stores, 0);
    assert_int_equal(o->u.hello.max_examples, 0);
    fr_msg_destroy(&o);
    /* and what a store of this release sends is byte for byte the same */
    m.u.hello = (fr_msg_hello){.num_examples = 300, .last_round = 4,
                               .busy = 1};
    assert_int_equal(fr_wire_encode(&m, MAX, &buf, &len), FR_OK);
    assert_int_equal(len, sizeof old);
    assert_memory_equal(buf, old, sizeof old);
    free(buf);
}

/* Zero values are not on the wire: an aggregator without regions sends
 * older stores exactly what it sent before. */
static void
test_zero_fields_are_not_sent(void **state)
{
    uint32_t words[10] = {0};
    fr_msg rs = msg_round_start(), sa = msg_masked(words, 10);
    fr_msg up = msg_update(), *o;
    size_t base, len;
    (void)state;

    base = encoded_len(&rs);
    rs.u.round_start.secagg.encode_n = 100; /* tag + one varint byte */
    assert_int_equal(encoded_len(&rs), base + 2);
    rs.u.round_start.secagg.cover_max = 100;
    assert_int_equal(encoded_len(&rs), base + 4);
    rs.u.round_start.secagg.encode_n = rs.u.round_start.secagg.cover_max = 0;
    o = roundtrip(&rs, &len);
    assert_int_equal(len, base);
    assert_int_equal(o->u.round_start.secagg.encode_n, 0);
    assert_int_equal(o->u.round_start.secagg.cover_max, 0);
    /* 0 means: sized for the round's own participants */
    assert_int_equal(fr_secagg_encode_n(&o->u.round_start.secagg), 4);
    fr_msg_destroy(&o);

    base = encoded_len(&sa);
    sa.u.secagg.covers = 3;
    assert_int_equal(encoded_len(&sa), base + 2);
    base = encoded_len(&up);
    up.u.update.covers = 3;
    assert_int_equal(encoded_len(&up), base + 2);
}

/* A decoder that did not know the fields would refuse them as unknown;
 * this one knows them, and still refuses a field it does not know. */
static void
test_unknown_hello_field_refused(void **state)
{
    /* the old HELLO above plus field 6 (varint 1) in the body */
    static const uint8_t msg[] = {0x08, 0x01, 0x10, 0x05, 0x18, 0x01,
                                  0x52, 0x09, 0x08, 0xac, 0x02, 0x10,
                                  0x04, 0x18, 0x01, 0x30, 0x01};
    fr_msg *o = NULL;
    const char *why = NULL;
    (void)state;

    assert_int_equal(fr_wire_decode(msg, sizeof msg, MAX, &o, &why),
                     FR_EPROTO);
    assert_null(o);
    assert_string_equal(why, "unknown field in message");
}

/* ---- refused values ---------------------------------------------------- */

static void
test_bad_values_refused(void **state)
{
    uint32_t words[10] = {0};
    fr_msg rs = msg_round_start(), sa, h = {.type = FR_MSG_HELLO};
    fr_msg up = msg_update();
    (void)state;

    rs.u.round_start.secagg.encode_n = 3; /* n is 4 */
    expect_encode_refused(&rs);
    rs.u.round_start.secagg.encode_n = 0;
    rs.u.round_start.secagg.cover_max = 5; /* sized for n = 4 */
    expect_encode_refused(&rs);
    rs.u.round_start.secagg.encode_n = 5; /* now it fits */
    fr_msg_destroy((fr_msg *[]){roundtrip(&rs, NULL)});

    sa = (fr_msg){.type = FR_MSG_SECAGG, .round_id = 8};
    sa.u.secagg.sa = (fr_sa_msg){.phase = FR_SA_SIGNED};
    sa.u.secagg.covers = 2; /* only the masked input covers stores */
    expect_encode_refused(&sa);
    sa = msg_masked(words, 10);
    sa.u.secagg.covers = FR_SA_MAX_PARTIES + 1;
    expect_encode_refused(&sa);

    h.u.hello.stores = FR_SA_MAX_PARTIES + 1;
    expect_encode_refused(&h);
    h.u.hello.stores = 0;
    h.u.hello.max_examples = 10; /* a store reports num_examples */
    expect_encode_refused(&h);

    up.u.update.covers = FR_SA_MAX_PARTIES + 1;
    expect_encode_refused(&up);
}

/* The decoder runs the same checks on bytes from outside. */
static void
test_decoder_refuses_covers_outside_masked(void **state)
{
    /* version 1, round 5, type SECAGG, secagg {phase 7 (SIGNED), sig 64
     * bytes, covers 2} */
    uint8_t msg[6 + 2 + 2 + 66 + 2];
    size_t n = 0;
    fr_msg *o = NULL;
    const char *why = NULL;
    (void)state;

    msg[n++] = 0x08; msg[n++] = 0x01;
    msg[n++] = 0x10; msg[n++] = 0x05;
    msg[n++] = 0x18; msg[n++] = 0x05;
    msg[n++] = 0x72; msg[n++] = 2 + 66 + 2; /* field 14, length */
    msg[n++] = 0x08; msg[n++] = 0x07;       /* phase */
    msg[n++] = 0x3a; msg[n++] = 64;         /* field 7, sig */
    memset(msg + n, 0x42, 64);
    n += 64;
    msg[n++] = 0x58; msg[n++] = 0x02; /* field 11, covers */
    assert_int_equal(n, sizeof msg);
    assert_int_equal(fr_wire_decode(msg, n, MAX, &o, &why), FR_EPROTO);
    assert_string_equal(why, "secagg: a store count outside the masked input");
    msg[n - 1] = 0x00; /* covers 0 is the store's, and fine */
    assert_int_equal(fr_wire_decode(msg, n, MAX, &o, &why), FR_OK);
    assert_int_equal(o->u.secagg.covers, 0);
    fr_msg_destroy(&o);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hello_fields_roundtrip),
        cmocka_unit_test(test_setup_fields_roundtrip),
        cmocka_unit_test(test_covers_roundtrip),
        cmocka_unit_test(test_old_hello_decodes_as_a_store),
        cmocka_unit_test(test_zero_fields_are_not_sent),
        cmocka_unit_test(test_unknown_hello_field_refused),
        cmocka_unit_test(test_bad_values_refused),
        cmocka_unit_test(test_decoder_refuses_covers_outside_masked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
