/*
 * test_wire.c - encoding and strict decoding of wire messages (common/wire).
 *
 * Negative cases are built with a tiny protobuf writer of our own rather than
 * with the generated code, so the test can produce what our encoder refuses
 * to (wrong versions, mismatched bodies, short vectors, NaNs) and does not
 * share the code it is checking.
 *
 * Known answers: tests/vectors/wire/<type>.hex hold the exact encoding of one
 * small message of each type. Run with FR_REGEN_VECTORS=1 to rewrite them
 * after a deliberate wire change (and bump FR_WIRE_VERSION).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "wire/wire.h"

#define MAX FR_WIRE_DEFAULT_MAX_BYTES

/* ---- a minimal protobuf writer for hand-made messages ------------------- */

typedef struct pbw {
    uint8_t b[8192];
    size_t n;
} pbw;

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

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
pb_key(pbw *w, unsigned field, unsigned wt)
{
    pb_varint(w, ((uint64_t)field << 3) | wt);
}

static void
pb_uint(pbw *w, unsigned field, uint64_t v)
{
    pb_key(w, field, WT_VARINT);
    pb_varint(w, v);
}

static void
pb_f32(pbw *w, unsigned field, float f)
{
    uint32_t u;

    memcpy(&u, &f, 4);
    pb_key(w, field, WT_I32);
    for (int i = 0; i < 4; i++)
        pb_byte(w, (uint8_t)(u >> (8 * i)));
}

static void
pb_f64(pbw *w, unsigned field, double d)
{
    uint64_t u;

    memcpy(&u, &d, 8);
    pb_key(w, field, WT_I64);
    for (int i = 0; i < 8; i++)
        pb_byte(w, (uint8_t)(u >> (8 * i)));
}

static void
pb_sub(pbw *w, unsigned field, const pbw *sub)
{
    pb_key(w, field, WT_LEN);
    pb_varint(w, sub->n);
    for (size_t i = 0; i < sub->n; i++)
        pb_byte(w, sub->b[i]);
}

static void
pb_packed_f32(pbw *w, unsigned field, const float *v, size_t n)
{
    pbw tmp = {.n = 0};

    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        for (int k = 0; k < 4; k++)
            pb_byte(&tmp, (uint8_t)(u >> (8 * k)));
    }
    pb_sub(w, field, &tmp);
}

/* Field numbers from proto/fedrec.proto. */
enum {
    ENV_VERSION = 1, ENV_ROUND_ID = 2, ENV_TYPE = 3, ENV_HELLO = 10,
    ENV_ROUND_START = 11, ENV_UPDATE = 12, ENV_ROUND_END = 13,
    MP_N_ITEMS = 1, MP_DIM = 2, MP_EMB = 3, MP_BIAS = 4,
    RS_MODEL = 1, RS_TRAIN = 2, RS_DEADLINE = 3,
    UP_NUM = 1, UP_DELTA = 2, UP_METRICS = 3,
};

/* A raw model/delta: declared shape plus vectors of any length. */
typedef struct raw_model {
    uint32_t n_items, dim;
    const float *emb;
    size_t n_emb;
    const float *bias;
    size_t n_bias;
} raw_model;

static void
raw_model_write(pbw *w, const raw_model *m)
{
    pb_uint(w, MP_N_ITEMS, m->n_items);
    pb_uint(w, MP_DIM, m->dim);
    pb_packed_f32(w, MP_EMB, m->emb, m->n_emb);
    pb_packed_f32(w, MP_BIAS, m->bias, m->n_bias);
}

static void
raw_train_write(pbw *w, const fr_train_params *t)
{
    pb_uint(w, 1, t->local_epochs);
    pb_f32(w, 2, t->learning_rate);
    pb_uint(w, 3, t->negatives);
    pb_f32(w, 4, t->l2);
    pb_uint(w, 5, t->batch_size);
    pb_uint(w, 6, t->seed);
    if (t->loss)
        pb_uint(w, 7, t->loss);
}

static void
raw_metrics_write(pbw *w, double hr10)
{
    pb_f64(w, 1, hr10);
    pb_f64(w, 2, 0.25);
    pb_uint(w, 5, 17);
}

static void
raw_envelope(pbw *w, uint64_t version, uint64_t type, unsigned body_field,
             const pbw *body)
{
    w->n = 0;
    pb_uint(w, ENV_VERSION, version);
    pb_uint(w, ENV_ROUND_ID, 5);
    pb_uint(w, ENV_TYPE, type);
    if (body)
        pb_sub(w, body_field, body);
}

/* Shared small vectors: 3 items of dimension 2. */
static const float emb6[6] = {0.5f, -1.25f, 2.0f, 0.125f, -0.0f, 3.5f};
static const float bias3[3] = {0.1f, -0.2f, 0.3f};

static raw_model
good_model(void)
{
    raw_model m = {3, 2, emb6, 6, bias3, 3};
    return m;
}

static fr_train_params
good_train(void)
{
    fr_train_params t = {.local_epochs = 2, .learning_rate = 0.05f,
                         .negatives = 4, .l2 = 1e-4f, .batch_size = 64,
                         .seed = 0x0123456789abcdefull};
    return t;
}

/* Writes an update body: num_examples, optional delta, optional metrics. */
static void
raw_update_body(pbw *body, uint64_t num, const raw_model *delta,
                int with_metrics, double hr10)
{
    pbw sub = {.n = 0};

    body->n = 0;
    pb_uint(body, UP_NUM, num);
    if (delta) {
        raw_model_write(&sub, delta);
        pb_sub(body, UP_DELTA, &sub);
    }
    if (with_metrics) {
        sub.n = 0;
        raw_metrics_write(&sub, hr10);
        pb_sub(body, UP_METRICS, &sub);
    }
}

static void
raw_round_start_body(pbw *body, const raw_model *model,
                     const fr_train_params *train)
{
    pbw sub = {.n = 0};

    body->n = 0;
    if (model) {
        raw_model_write(&sub, model);
        pb_sub(body, RS_MODEL, &sub);
    }
    if (train) {
        sub.n = 0;
        raw_train_write(&sub, train);
        pb_sub(body, RS_TRAIN, &sub);
    }
    pb_uint(body, RS_DEADLINE, 1000);
}

/* Decodes w and expects rc with reason (NULL reason: don't check text). */
static void
expect_refused(const pbw *w, fr_err want_rc, const char *want_reason)
{
    fr_msg *m = NULL;
    const char *why = NULL;

    assert_int_equal(fr_wire_decode(w->b, w->n, MAX, &m, &why), want_rc);
    assert_null(m);
    assert_non_null(why);
    if (want_reason)
        assert_string_equal(why, want_reason);
}

static void
expect_accepted(const pbw *w)
{
    fr_msg *m = NULL;
    const char *why = "untouched";

    assert_int_equal(fr_wire_decode(w->b, w->n, MAX, &m, &why), FR_OK);
    assert_non_null(m);
    assert_string_equal(why, "untouched"); /* reason set only on failure */
    fr_msg_destroy(&m);
    assert_null(m);
}

/* ---- caller-built messages ---------------------------------------------- */

static fr_msg
msg_hello(void)
{
    fr_msg m = {.type = FR_MSG_HELLO, .round_id = 42};
    m.u.hello.num_examples = 1234;
    m.u.hello.last_round = 7;
    m.u.hello.busy = 1;
    return m;
}

static fr_msg
msg_round_start(void)
{
    fr_msg m = {.type = FR_MSG_ROUND_START, .round_id = 8};
    m.u.round_start.n_items = 3;
    m.u.round_start.dim = 2;
    m.u.round_start.item_emb = emb6;
    m.u.round_start.item_bias = bias3;
    m.u.round_start.deadline_ms = 30000;
    m.u.round_start.train = good_train();
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
    m.u.update.metrics.hr10 = 0.625;
    m.u.update.metrics.ndcg10 = 0.375;
    m.u.update.metrics.pop_hr10 = 0.5;
    m.u.update.metrics.pop_ndcg10 = 0.25;
    m.u.update.metrics.eval_members = 40;
    m.u.update.metrics.train_loss = 0.6931471805599453;
    return m;
}

static fr_msg
msg_round_end(void)
{
    fr_msg m = {.type = FR_MSG_ROUND_END, .round_id = 8};
    m.u.round_end.completed = 1;
    m.u.round_end.contributors = 3;
    m.u.round_end.completed_rounds = 9;
    return m;
}

/* A completed round that carries the new global model. */
static fr_msg
msg_round_end_model(void)
{
    fr_msg m = msg_round_end();
    m.u.round_end.has_model = 1;
    m.u.round_end.n_items = 3;
    m.u.round_end.dim = 2;
    m.u.round_end.item_emb = emb6;
    m.u.round_end.item_bias = bias3;
    return m;
}

/* Exact equality of every field; floats compared bit for bit. */
static void
assert_msg_equal(const fr_msg *a, const fr_msg *b)
{
    assert_int_equal(a->type, b->type);
    assert_int_equal(a->round_id, b->round_id);
    switch (a->type) {
    case FR_MSG_HELLO:
        assert_int_equal(a->u.hello.num_examples, b->u.hello.num_examples);
        assert_int_equal(a->u.hello.last_round, b->u.hello.last_round);
        assert_int_equal(a->u.hello.busy, b->u.hello.busy);
        break;
    case FR_MSG_ROUND_START: {
        const fr_msg_round_start *x = &a->u.round_start, *y = &b->u.round_start;
        assert_int_equal(x->n_items, y->n_items);
        assert_int_equal(x->dim, y->dim);
        assert_int_equal(x->deadline_ms, y->deadline_ms);
        assert_memory_equal(x->item_emb, y->item_emb,
                            sizeof(float) * x->n_items * x->dim);
        assert_memory_equal(x->item_bias, y->item_bias,
                            sizeof(float) * x->n_items);
        assert_int_equal(x->train.local_epochs, y->train.local_epochs);
        assert_memory_equal(&x->train.learning_rate, &y->train.learning_rate,
                            sizeof(float));
        assert_int_equal(x->train.negatives, y->train.negatives);
        assert_memory_equal(&x->train.l2, &y->train.l2, sizeof(float));
        assert_int_equal(x->train.batch_size, y->train.batch_size);
        assert_int_equal(x->train.seed, y->train.seed);
        break;
    }
    case FR_MSG_UPDATE: {
        const fr_msg_update *x = &a->u.update, *y = &b->u.update;
        assert_int_equal(x->num_examples, y->num_examples);
        assert_int_equal(x->n_items, y->n_items);
        assert_int_equal(x->dim, y->dim);
        assert_memory_equal(x->delta_emb, y->delta_emb,
                            sizeof(float) * x->n_items * x->dim);
        assert_memory_equal(x->delta_bias, y->delta_bias,
                            sizeof(float) * x->n_items);
        assert_memory_equal(&x->metrics.hr10, &y->metrics.hr10, 8);
        assert_memory_equal(&x->metrics.ndcg10, &y->metrics.ndcg10, 8);
        assert_memory_equal(&x->metrics.pop_hr10, &y->metrics.pop_hr10, 8);
        assert_memory_equal(&x->metrics.pop_ndcg10, &y->metrics.pop_ndcg10, 8);
        assert_memory_equal(&x->metrics.train_loss, &y->metrics.train_loss, 8);
        assert_int_equal(x->metrics.eval_members, y->metrics.eval_members);
        break;
    }
    case FR_MSG_ROUND_END: {
        const fr_msg_round_end *x = &a->u.round_end, *y = &b->u.round_end;
        assert_int_equal(x->completed, y->completed);
        assert_int_equal(x->contributors, y->contributors);
        assert_int_equal(x->completed_rounds, y->completed_rounds);
        assert_int_equal(x->has_model, y->has_model);
        if (!x->has_model)
            break;
        assert_int_equal(x->n_items, y->n_items);
        assert_int_equal(x->dim, y->dim);
        assert_memory_equal(x->item_emb, y->item_emb,
                            sizeof(float) * x->n_items * x->dim);
        assert_memory_equal(x->item_bias, y->item_bias,
                            sizeof(float) * x->n_items);
        break;
    }
    default: fail_msg("unexpected type %d", (int)a->type);
    }
}

static void
roundtrip(const fr_msg *in)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    fr_msg *out = NULL;
    const char *why = NULL;

    assert_int_equal(fr_wire_encode(in, MAX, &buf, &len), FR_OK);
    assert_true(len > 0);
    assert_int_equal(fr_wire_decode(buf, len, MAX, &out, &why), FR_OK);
    assert_msg_equal(in, out);
    assert_non_null(out->owned_);
    fr_msg_destroy(&out);
    free(buf);
}

static void
test_roundtrip_each_type(void **state)
{
    fr_msg m;

    (void)state;
    m = msg_hello();
    roundtrip(&m);
    m = msg_round_start();
    roundtrip(&m);
    m = msg_update();
    roundtrip(&m);
    m = msg_round_end();
    roundtrip(&m);
    m = msg_round_end_model();
    roundtrip(&m);
    /* All-zero bodies still carry their (empty) body and decode. */
    m = (fr_msg){.type = FR_MSG_HELLO};
    roundtrip(&m);
    m = (fr_msg){.type = FR_MSG_ROUND_END};
    roundtrip(&m);
}

/* A larger model with awkward but finite values survives bit for bit. */
static void
test_roundtrip_large(void **state)
{
    const uint32_t n = 1000, dim = 32;
    float *emb = malloc(sizeof(float) * n * dim);
    float *bias = malloc(sizeof(float) * n);
    fr_rng rng;
    fr_msg m = msg_update();

    (void)state;
    assert_non_null(emb);
    assert_non_null(bias);
    fr_rng_seed(&rng, 7);
    for (size_t i = 0; i < (size_t)n * dim; i++)
        emb[i] = (float)fr_rng_normal(&rng);
    for (size_t i = 0; i < n; i++)
        bias[i] = (float)fr_rng_normal(&rng);
    emb[0] = -0.0f;
    emb[1] = FLT_MAX;
    emb[2] = -FLT_MAX;
    emb[3] = FLT_MIN;
    emb[4] = 1e-45f; /* smallest subnormal */
    m.u.update.n_items = n;
    m.u.update.dim = dim;
    m.u.update.delta_emb = emb;
    m.u.update.delta_bias = bias;
    roundtrip(&m);

    m = msg_round_start();
    m.u.round_start.n_items = n;
    m.u.round_start.dim = dim;
    m.u.round_start.item_emb = emb;
    m.u.round_start.item_bias = bias;
    m.u.round_start.train.local_epochs = 1000; /* bounds are inclusive */
    m.u.round_start.train.negatives = 1000;
    m.u.round_start.train.l2 = 0.0f;
    roundtrip(&m);
    free(emb);
    free(bias);
}

static void
test_encode_refuses_inconsistent(void **state)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    float nan_emb[6];
    fr_msg m;

    (void)state;
    m = msg_hello();
    m.type = (fr_msg_type)9;
    assert_int_equal(fr_wire_encode(&m, MAX, &buf, &len), FR_EINVAL);
    assert_int_equal(fr_wire_encode(NULL, MAX, &buf, &len), FR_EINVAL);
    m = msg_round_start();
    m.u.round_start.item_bias = NULL;
    assert_int_equal(fr_wire_encode(&m, MAX, &buf, &len), FR_EINVAL);
    m = msg_update();
    m.u.update.delta_emb = NULL;
    assert_int_equal(fr_wire_encode(&m, MAX, &buf, &len), FR_EINVAL);
    m = msg_update();
    m.u.update.dim = FR_WIRE_MAX_DIM + 1;
    assert_int_equal(fr_wire_encode(&m, MAX, &buf, &len), FR_EINVAL);
    m = msg_update();
    m.u.update.n_items = 0;
    assert_int_equal(fr_wire_encode(&m, MAX, &buf, &len), FR_EINVAL);
    m = msg_update();
    m.u.update.num_examples = 0;
    assert_int_equal(fr_wire_encode(&m, MAX, &buf, &len), FR_EINVAL);
    memcpy(nan_emb, emb6, sizeof nan_emb);
    nan_emb[5] = NAN;
    m = msg_update();
    m.u.update.delta_emb = nan_emb;
    assert_int_equal(fr_wire_encode(&m, MAX, &buf, &len), FR_EINVAL);
    m = msg_round_start();
    m.u.round_start.train.batch_size = 0;
    assert_int_equal(fr_wire_encode(&m, MAX, &buf, &len), FR_EINVAL);
    m = msg_round_end_model();
    m.u.round_end.item_emb = NULL;
    assert_int_equal(fr_wire_encode(&m, MAX, &buf, &len), FR_EINVAL);
    m = msg_round_end_model();
    m.u.round_end.item_bias = nan_emb + 3; /* NaN in the bias */
    assert_int_equal(fr_wire_encode(&m, MAX, &buf, &len), FR_EINVAL);
    m = msg_round_end_model();
    m.u.round_end.dim = 0;
    assert_int_equal(fr_wire_encode(&m, MAX, &buf, &len), FR_EINVAL);
    assert_null(buf);
}

static void
test_size_limits(void **state)
{
    fr_msg m = msg_round_start(), *out = NULL;
    uint8_t *buf = NULL, *again = NULL;
    size_t len = 0, len2 = 0;
    const char *why = NULL;

    (void)state;
    assert_int_equal(fr_wire_encode(&m, MAX, &buf, &len), FR_OK);
    /* Encoding: exactly the limit is fine, one byte less is not. */
    assert_int_equal(fr_wire_encode(&m, len, &again, &len2), FR_OK);
    assert_int_equal(len2, len);
    free(again);
    again = NULL;
    assert_int_equal(fr_wire_encode(&m, len - 1, &again, &len2), FR_ELIMIT);
    assert_null(again);
    /* Decoding: the same bytes against a smaller limit are refused before
     * they are parsed. */
    assert_int_equal(fr_wire_decode(buf, len, len - 1, &out, &why),
                     FR_ELIMIT);
    assert_null(out);
    assert_non_null(why);
    assert_int_equal(fr_wire_decode(buf, len, len, &out, &why), FR_OK);
    fr_msg_destroy(&out);
    /* A buffer far over the default limit never reaches the parser: it
     * only has to be addressable, not valid. */
    assert_int_equal(fr_wire_decode(buf, (size_t)MAX + 1, MAX, &out, &why),
                     FR_ELIMIT);
    assert_null(out);
    free(buf);
}

/* Every strict prefix of a valid encoding is refused, and cleanly. */
static void
test_truncation(void **state)
{
    fr_msg msgs[5];

    (void)state;
    msgs[0] = msg_hello();
    msgs[1] = msg_round_start();
    msgs[2] = msg_update();
    msgs[3] = msg_round_end();
    msgs[4] = msg_round_end_model();
    for (size_t k = 0; k < FR_ARRAY_LEN(msgs); k++) {
        uint8_t *buf = NULL;
        size_t len = 0;

        assert_int_equal(fr_wire_encode(&msgs[k], MAX, &buf, &len), FR_OK);
        for (size_t cut = 0; cut < len; cut++) {
            /* A heap copy of exactly cut bytes, so ASan catches overreads. */
            uint8_t *p = malloc(cut ? cut : 1);
            fr_msg *out = NULL;
            const char *why = NULL;

            assert_non_null(p);
            memcpy(p, buf, cut);
            assert_int_equal(fr_wire_decode(p, cut, MAX, &out, &why),
                             FR_EPROTO);
            assert_null(out);
            assert_non_null(why);
            free(p);
        }
        free(buf);
    }
}

static void
test_version(void **state)
{
    pbw body = {.n = 0}, w;

    (void)state;
    pb_uint(&body, 1, 3);
    raw_envelope(&w, 1, FR_MSG_HELLO, ENV_HELLO, &body);
    expect_accepted(&w);
    raw_envelope(&w, 2, FR_MSG_HELLO, ENV_HELLO, &body);
    expect_refused(&w, FR_EPROTO, "unsupported protocol version");
    raw_envelope(&w, 0, FR_MSG_HELLO, ENV_HELLO, &body);
    expect_refused(&w, FR_EPROTO, "unsupported protocol version");
    raw_envelope(&w, 1u << 31, FR_MSG_HELLO, ENV_HELLO, &body);
    expect_refused(&w, FR_EPROTO, "unsupported protocol version");
}

static void
test_type_body_mismatch(void **state)
{
    pbw body = {.n = 0}, w;
    raw_model model = good_model();

    (void)state;
    raw_update_body(&body, 10, &model, 1, 0.5);
    raw_envelope(&w, 1, FR_MSG_UPDATE, ENV_UPDATE, &body);
    expect_accepted(&w);
    raw_envelope(&w, 1, FR_MSG_HELLO, ENV_UPDATE, &body);
    expect_refused(&w, FR_EPROTO, "message type does not match body");
    raw_envelope(&w, 1, FR_MSG_ROUND_START, ENV_UPDATE, &body);
    expect_refused(&w, FR_EPROTO, "message type does not match body");
    raw_envelope(&w, 1, 0, ENV_UPDATE, &body);
    expect_refused(&w, FR_EPROTO, "unknown message type");
    raw_envelope(&w, 1, 8, ENV_UPDATE, &body);
    expect_refused(&w, FR_EPROTO, "unknown message type");
    raw_envelope(&w, 1, FR_MSG_DONE, ENV_UPDATE, &body);
    expect_refused(&w, FR_EPROTO, "message type does not match body");
    raw_envelope(&w, 1, FR_MSG_SECAGG, ENV_UPDATE, &body);
    expect_refused(&w, FR_EPROTO, "message type does not match body");
    raw_envelope(&w, 1, FR_MSG_UPDATE, 0, NULL);
    expect_refused(&w, FR_EPROTO, "missing message body");
    /* An empty hello body is still a body; a hello type with no body not. */
    body.n = 0;
    raw_envelope(&w, 1, FR_MSG_HELLO, ENV_HELLO, &body);
    expect_accepted(&w);
    raw_envelope(&w, 1, FR_MSG_HELLO, 0, NULL);
    expect_refused(&w, FR_EPROTO, "missing message body");
}

static void
test_missing_submessages(void **state)
{
    pbw body, w;
    raw_model model = good_model();
    fr_train_params train = good_train();

    (void)state;
    raw_round_start_body(&body, &model, &train);
    raw_envelope(&w, 1, FR_MSG_ROUND_START, ENV_ROUND_START, &body);
    expect_accepted(&w);
    raw_round_start_body(&body, NULL, &train);
    raw_envelope(&w, 1, FR_MSG_ROUND_START, ENV_ROUND_START, &body);
    expect_refused(&w, FR_EPROTO, "round_start without model");
    raw_round_start_body(&body, &model, NULL);
    raw_envelope(&w, 1, FR_MSG_ROUND_START, ENV_ROUND_START, &body);
    expect_refused(&w, FR_EPROTO, "round_start without train parameters");
    raw_update_body(&body, 10, NULL, 1, 0.5);
    raw_envelope(&w, 1, FR_MSG_UPDATE, ENV_UPDATE, &body);
    expect_refused(&w, FR_EPROTO, "update without delta");
    raw_update_body(&body, 10, &model, 0, 0.5);
    raw_envelope(&w, 1, FR_MSG_UPDATE, ENV_UPDATE, &body);
    expect_refused(&w, FR_EPROTO, "update without metrics");
}

static void
update_with_model(pbw *w, const raw_model *model)
{
    pbw body;

    raw_update_body(&body, 10, model, 1, 0.5);
    raw_envelope(w, 1, FR_MSG_UPDATE, ENV_UPDATE, &body);
}

static void
test_vector_lengths(void **state)
{
    static const float seven[7] = {0};
    raw_model model;
    pbw w;

    (void)state;
    model = good_model();
    model.n_emb = 5;
    update_with_model(&w, &model);
    expect_refused(&w, FR_EPROTO,
                   "embedding length does not match n_items * dim");
    model = good_model();
    model.emb = seven;
    model.n_emb = 7;
    update_with_model(&w, &model);
    expect_refused(&w, FR_EPROTO,
                   "embedding length does not match n_items * dim");
    model = good_model();
    model.n_emb = 0;
    update_with_model(&w, &model);
    expect_refused(&w, FR_EPROTO,
                   "embedding length does not match n_items * dim");
    model = good_model();
    model.n_bias = 2;
    update_with_model(&w, &model);
    expect_refused(&w, FR_EPROTO, "bias length does not match n_items");
    /* Declared shape larger than the vectors, as in a resized model. */
    model = good_model();
    model.dim = 3;
    update_with_model(&w, &model);
    expect_refused(&w, FR_EPROTO,
                   "embedding length does not match n_items * dim");
}

static void
test_dims_out_of_bounds(void **state)
{
    static const struct {
        uint32_t n_items, dim;
        const char *why;
    } cases[] = {
        {0, 2, "n_items out of range"},
        {FR_WIRE_MAX_ITEMS + 1, 2, "n_items out of range"},
        {UINT32_MAX, UINT32_MAX, "n_items out of range"},
        {3, 0, "dim out of range"},
        {3, FR_WIRE_MAX_DIM + 1, "dim out of range"},
        {3, UINT32_MAX, "dim out of range"},
    };
    raw_model model;
    pbw w, body;
    fr_train_params train = good_train();

    (void)state;
    for (size_t i = 0; i < FR_ARRAY_LEN(cases); i++) {
        model = good_model();
        model.n_items = cases[i].n_items;
        model.dim = cases[i].dim;
        update_with_model(&w, &model);
        expect_refused(&w, FR_EPROTO, cases[i].why);
        raw_round_start_body(&body, &model, &train);
        raw_envelope(&w, 1, FR_MSG_ROUND_START, ENV_ROUND_START, &body);
        expect_refused(&w, FR_EPROTO, cases[i].why);
    }
}

static void
test_non_finite(void **state)
{
    static const float bad_values[] = {NAN, INFINITY, -INFINITY};
    float emb[6], bias[3];
    raw_model model;
    pbw w, body;
    fr_train_params train = good_train();

    (void)state;
    for (size_t k = 0; k < FR_ARRAY_LEN(bad_values); k++) {
        for (size_t i = 0; i < 6; i++) {
            memcpy(emb, emb6, sizeof emb);
            emb[i] = bad_values[k];
            model = good_model();
            model.emb = emb;
            update_with_model(&w, &model);
            expect_refused(&w, FR_EPROTO, "non-finite value in embedding");
            raw_round_start_body(&body, &model, &train);
            raw_envelope(&w, 1, FR_MSG_ROUND_START, ENV_ROUND_START, &body);
            expect_refused(&w, FR_EPROTO, "non-finite value in embedding");
        }
        memcpy(bias, bias3, sizeof bias);
        bias[2] = bad_values[k];
        model = good_model();
        model.bias = bias;
        update_with_model(&w, &model);
        expect_refused(&w, FR_EPROTO, "non-finite value in bias");
    }
    model = good_model();
    raw_update_body(&body, 10, &model, 1, NAN);
    raw_envelope(&w, 1, FR_MSG_UPDATE, ENV_UPDATE, &body);
    expect_refused(&w, FR_EPROTO, "non-finite metric");
}

static void
test_zero_num_examples(void **state)
{
    raw_model model = good_model();
    pbw w, body;

    (void)state;
    raw_update_body(&body, 0, &model, 1, 0.5);
    raw_envelope(&w, 1, FR_MSG_UPDATE, ENV_UPDATE, &body);
    expect_refused(&w, FR_EPROTO, "update with zero num_examples");
    raw_update_body(&body, 1, &model, 1, 0.5);
    raw_envelope(&w, 1, FR_MSG_UPDATE, ENV_UPDATE, &body);
    expect_accepted(&w);
}

static void
round_start_with_train(pbw *w, const fr_train_params *t)
{
    raw_model model = good_model();
    pbw body;

    raw_round_start_body(&body, &model, t);
    raw_envelope(w, 1, FR_MSG_ROUND_START, ENV_ROUND_START, &body);
}

static void
test_train_params(void **state)
{
    fr_train_params t;
    pbw w;

    (void)state;
#define TRAIN_CASE(field, value, reason)                                       \
    do {                                                                       \
        t = good_train();                                                      \
        t.field = value;                                                       \
        round_start_with_train(&w, &t);                                        \
        expect_refused(&w, FR_EPROTO, reason);                                 \
    } while (0)
    TRAIN_CASE(local_epochs, 0, "local_epochs out of range");
    TRAIN_CASE(local_epochs, 1001, "local_epochs out of range");
    TRAIN_CASE(batch_size, 0, "batch_size must be at least 1");
    TRAIN_CASE(learning_rate, 0.0f, "learning_rate must be finite and positive");
    TRAIN_CASE(learning_rate, -0.1f, "learning_rate must be finite and positive");
    TRAIN_CASE(learning_rate, NAN, "learning_rate must be finite and positive");
    TRAIN_CASE(learning_rate, INFINITY,
               "learning_rate must be finite and positive");
    TRAIN_CASE(l2, -1e-6f, "l2 must be finite and non-negative");
    TRAIN_CASE(l2, NAN, "l2 must be finite and non-negative");
    TRAIN_CASE(l2, INFINITY, "l2 must be finite and non-negative");
    TRAIN_CASE(negatives, 0, "negatives out of range");
    TRAIN_CASE(negatives, 1001, "negatives out of range");
    TRAIN_CASE(loss, 4, "unknown training loss");
#undef TRAIN_CASE
    t = good_train();
    t.local_epochs = 1;
    t.negatives = 1;
    t.batch_size = 1;
    t.l2 = 0.0f;
    round_start_with_train(&w, &t);
    expect_accepted(&w);
}

static void
test_round_end_and_unknown_fields(void **state)
{
    pbw w, body = {.n = 0};

    (void)state;
    pb_uint(&body, 1, 2);
    raw_envelope(&w, 1, FR_MSG_ROUND_END, ENV_ROUND_END, &body);
    expect_refused(&w, FR_EPROTO, "round_end completed must be 0 or 1");
    /* Fields this version does not define are refused, at any depth. */
    body.n = 0;
    pb_uint(&body, 1, 1);
    pb_uint(&body, 99, 1);
    raw_envelope(&w, 1, FR_MSG_ROUND_END, ENV_ROUND_END, &body);
    expect_refused(&w, FR_EPROTO, "unknown field in message");
    body.n = 0;
    pb_uint(&body, 1, 1);
    raw_envelope(&w, 1, FR_MSG_ROUND_END, ENV_ROUND_END, &body);
    expect_accepted(&w);
    pb_uint(&w, 50, 7);
    expect_refused(&w, FR_EPROTO, "unknown field in message");
}

static void
round_end_with_model(pbw *w, const raw_model *model)
{
    pbw body = {.n = 0}, sub = {.n = 0};

    pb_uint(&body, 1, 1);
    pb_uint(&body, 2, 3);
    pb_uint(&body, 3, 9);
    raw_model_write(&sub, model);
    pb_sub(&body, 4, &sub);
    raw_envelope(w, 1, FR_MSG_ROUND_END, ENV_ROUND_END, &body);
}

/* The optional model of a round_end gets the same checks as round_start's. */
static void
test_round_end_model(void **state)
{
    float emb[6];
    raw_model model = good_model();
    fr_msg *m = NULL;
    const char *why = NULL;
    pbw w;

    (void)state;
    round_end_with_model(&w, &model);
    assert_int_equal(fr_wire_decode(w.b, w.n, MAX, &m, &why), FR_OK);
    assert_int_equal(m->u.round_end.has_model, 1);
    assert_int_equal(m->u.round_end.n_items, 3);
    assert_int_equal(m->u.round_end.dim, 2);
    assert_memory_equal(m->u.round_end.item_emb, emb6, sizeof emb6);
    assert_memory_equal(m->u.round_end.item_bias, bias3, sizeof bias3);
    fr_msg_destroy(&m);

    model.n_emb = 4;
    round_end_with_model(&w, &model);
    expect_refused(&w, FR_EPROTO,
                   "embedding length does not match n_items * dim");
    model = good_model();
    model.bias = emb6; /* four values from a longer array */
    model.n_bias = 4;
    round_end_with_model(&w, &model);
    expect_refused(&w, FR_EPROTO, "bias length does not match n_items");
    model = good_model();
    model.dim = FR_WIRE_MAX_DIM + 1;
    round_end_with_model(&w, &model);
    expect_refused(&w, FR_EPROTO, "dim out of range");
    memcpy(emb, emb6, sizeof emb);
    emb[3] = INFINITY;
    model = good_model();
    model.emb = emb;
    round_end_with_model(&w, &model);
    expect_refused(&w, FR_EPROTO, "non-finite value in embedding");
}

/* Parsers must accept repeated floats written unpacked too; the values are
 * the same whichever way they came. */
static void
test_unpacked_floats(void **state)
{
    pbw mp = {.n = 0}, body = {.n = 0}, sub = {.n = 0}, w;
    fr_msg *m = NULL;
    const char *why = NULL;

    (void)state;
    pb_uint(&mp, MP_N_ITEMS, 3);
    pb_uint(&mp, MP_DIM, 2);
    for (size_t i = 0; i < 6; i++)
        pb_f32(&mp, MP_EMB, emb6[i]);
    pb_packed_f32(&mp, MP_BIAS, bias3, 3);
    pb_uint(&body, UP_NUM, 10);
    pb_sub(&body, UP_DELTA, &mp);
    raw_metrics_write(&sub, 0.5);
    pb_sub(&body, UP_METRICS, &sub);
    raw_envelope(&w, 1, FR_MSG_UPDATE, ENV_UPDATE, &body);
    assert_int_equal(fr_wire_decode(w.b, w.n, MAX, &m, &why), FR_OK);
    assert_memory_equal(m->u.update.delta_emb, emb6, sizeof emb6);
    assert_memory_equal(m->u.update.delta_bias, bias3, sizeof bias3);
    assert_int_equal(m->u.update.metrics.eval_members, 17);
    fr_msg_destroy(&m);
}

/* Whatever decodes must re-encode to something that decodes the same. */
static void
check_reencodes(const fr_msg *m)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    fr_msg *again = NULL;
    const char *why = NULL;

    assert_int_equal(fr_wire_encode(m, MAX, &buf, &len), FR_OK);
    assert_int_equal(fr_wire_decode(buf, len, MAX, &again, &why), FR_OK);
    assert_msg_equal(m, again);
    fr_msg_destroy(&again);
    free(buf);
}

static void
decode_any(const uint8_t *p, size_t len, size_t *accepted)
{
    fr_msg *m = NULL;
    const char *why = NULL;
    fr_err rc = fr_wire_decode(p, len, MAX, &m, &why);

    if (rc == FR_OK) {
        check_reencodes(m);
        fr_msg_destroy(&m);
        ++*accepted;
    } else {
        assert_int_equal(rc, FR_EPROTO);
        assert_null(m);
        assert_non_null(why);
    }
}

static void
test_random_garbage(void **state)
{
    fr_rng rng;
    size_t accepted = 0;

    (void)state;
    fr_rng_seed(&rng, 20261130);
    for (int it = 0; it < 20000; it++) {
        size_t len = (size_t)fr_rng_below(&rng, 300);
        uint8_t *p = malloc(len ? len : 1);

        assert_non_null(p);
        for (size_t i = 0; i < len; i++)
            p[i] = (uint8_t)fr_rng_next(&rng);
        decode_any(p, len, &accepted);
        free(p);
    }
}

/* Random byte flips, insertions and cuts of valid messages reach deeper
 * into the decoder than uniform garbage does. */
static void
test_mutations(void **state)
{
    fr_msg msgs[5];
    fr_rng rng;
    size_t accepted = 0;

    (void)state;
    msgs[0] = msg_hello();
    msgs[1] = msg_round_start();
    msgs[2] = msg_update();
    msgs[3] = msg_round_end();
    msgs[4] = msg_round_end_model();
    fr_rng_seed(&rng, 99);
    for (size_t k = 0; k < FR_ARRAY_LEN(msgs); k++) {
        uint8_t *buf = NULL;
        size_t len = 0;

        assert_int_equal(fr_wire_encode(&msgs[k], MAX, &buf, &len), FR_OK);
        for (int it = 0; it < 5000; it++) {
            uint8_t *p = malloc(len);
            size_t n = len;
            int flips = 1 + (int)fr_rng_below(&rng, 3);

            assert_non_null(p);
            memcpy(p, buf, len);
            for (int f = 0; f < flips; f++)
                p[fr_rng_below(&rng, len)] ^= (uint8_t)(1u + fr_rng_below(&rng, 255));
            if (fr_rng_below(&rng, 4) == 0)
                n = (size_t)fr_rng_below(&rng, len + 1);
            decode_any(p, n, &accepted);
            free(p);
        }
        free(buf);
    }
    /* Some flips land in float or integer payloads and stay valid. */
    assert_true(accepted > 0);
}

/* ---- known-answer vectors ----------------------------------------------- */

static int
regen_vectors(void)
{
    const char *v = getenv("FR_REGEN_VECTORS");
    return v && strcmp(v, "1") == 0;
}

static void
vector_path(const char *name, char *out, size_t cap)
{
    assert_true(snprintf(out, cap, "%s/wire/%s.hex", FR_TEST_VECTORS_DIR,
                         name) < (int)cap);
}

static void
write_vector(const char *name, const uint8_t *buf, size_t len)
{
    char path[512];
    char *text = malloc(len * 2 + len / 32 + 2);
    size_t n = 0;

    assert_non_null(text);
    vector_path(name, path, sizeof path);
    for (size_t i = 0; i < len; i++) {
        n += (size_t)sprintf(text + n, "%02x", buf[i]);
        if (i % 32 == 31 || i + 1 == len)
            text[n++] = '\n';
    }
    assert_int_equal(fr_file_write_atomic(path, text, n, 0644), FR_OK);
    free(text);
}

static int
hex_val(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Reads a vector file: lowercase hex, whitespace ignored. */
static void
read_vector(const char *name, uint8_t **buf_out, size_t *len_out)
{
    char path[512];
    uint8_t *text = NULL, *bin;
    size_t len = 0, n = 0;
    int hi = -1;

    vector_path(name, path, sizeof path);
    assert_int_equal(fr_file_read_all(path, 1 << 20, &text, &len), FR_OK);
    bin = malloc(len / 2 + 1);
    assert_non_null(bin);
    for (size_t i = 0; i < len; i++) {
        int v;
        if (text[i] == '\n' || text[i] == ' ')
            continue;
        v = hex_val(text[i]);
        assert_true(v >= 0);
        if (hi < 0) {
            hi = v;
        } else {
            bin[n++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    assert_true(hi < 0);
    free(text);
    *buf_out = bin;
    *len_out = n;
}

static void
check_vector(const char *name, const fr_msg *m)
{
    uint8_t *buf = NULL, *want = NULL;
    size_t len = 0, want_len = 0;
    fr_msg *out = NULL;
    const char *why = NULL;

    assert_int_equal(fr_wire_encode(m, MAX, &buf, &len), FR_OK);
    if (regen_vectors()) {
        write_vector(name, buf, len);
        print_message("rewrote vector %s (%zu bytes)\n", name, len);
    }
    read_vector(name, &want, &want_len);
    assert_int_equal(len, want_len);
    assert_memory_equal(buf, want, len);
    assert_int_equal(fr_wire_decode(want, want_len, MAX, &out, &why), FR_OK);
    assert_msg_equal(m, out);
    fr_msg_destroy(&out);
    free(want);
    free(buf);
}

static void
test_known_answers(void **state)
{
    fr_msg m;

    (void)state;
    m = msg_hello();
    check_vector("hello", &m);
    m = msg_round_start();
    check_vector("round_start", &m);
    m = msg_update();
    check_vector("update", &m);
    m = msg_round_end();
    check_vector("round_end", &m);
    m = msg_round_end_model();
    check_vector("round_end_model", &m);
}

static void
test_type_names(void **state)
{
    (void)state;
    assert_string_equal(fr_msg_type_name(FR_MSG_HELLO), "hello");
    assert_string_equal(fr_msg_type_name(FR_MSG_ROUND_START), "round_start");
    assert_string_equal(fr_msg_type_name(FR_MSG_UPDATE), "update");
    assert_string_equal(fr_msg_type_name(FR_MSG_ROUND_END), "round_end");
    assert_string_equal(fr_msg_type_name(FR_MSG_SECAGG), "secagg");
    assert_string_equal(fr_msg_type_name(FR_MSG_DONE), "done");
    assert_string_equal(fr_msg_type_name(FR_MSG_CATALOGUE), "catalogue");
    assert_string_equal(fr_msg_type_name((fr_msg_type)0), "unknown");
    fr_msg_destroy(NULL);
}

/* ---- SecAgg+ messages ------------------------------------------------------ */

static fr_msg *
sa_roundtrip(const fr_msg *m)
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
test_secagg_roundtrip(void **state)
{
    fr_sa_keys keys[2];
    fr_sa_cipher ct[3];
    fr_sa_sig sigs[2];
    fr_sa_reveal rev[2];
    uint32_t words[5] = {0, 1, 0xffffffffu, 12345, 0x80000000u};
    uint8_t bitmap[2] = {0xa5, 0x01};
    fr_msg m = {.type = FR_MSG_SECAGG, .round_id = 77}, *o;
    static const float emb[6] = {1, 2, 3, 4, 5, 6}, bias[3] = {0};
    (void)state;

    memset(keys, 0x11, sizeof keys);
    keys[0].index = 3;
    keys[1].index = 9;
    keys[1].c_pk[0] = 0x42;
    memset(ct, 0x22, sizeof ct);
    for (uint32_t i = 0; i < 3; i++)
        ct[i].from = i, ct[i].to = 10 + i, ct[i].ct[5] = (uint8_t)i;
    memset(sigs, 0x33, sizeof sigs);
    sigs[1].index = 8;
    memset(rev, 0x44, sizeof rev);
    rev[0].peer = 1, rev[0].kind = FR_SA_SHARE_B;
    rev[1].peer = 2, rev[1].kind = FR_SA_SHARE_S;

    m.u.secagg.sa = (fr_sa_msg){.phase = FR_SA_KEYS, .keys = keys,
                                .n_keys = 2};
    memset(m.u.secagg.sa.graph_seed, 0x5a, 32);
    o = sa_roundtrip(&m);
    assert_int_equal(o->u.secagg.sa.phase, FR_SA_KEYS);
    assert_int_equal(o->u.secagg.sa.n_keys, 2);
    assert_memory_equal(o->u.secagg.sa.keys, keys, sizeof keys);
    assert_memory_equal(o->u.secagg.sa.graph_seed, m.u.secagg.sa.graph_seed,
                        32);
    fr_msg_destroy(&o);

    m.u.secagg.sa = (fr_sa_msg){.phase = FR_SA_SHARES, .ciphers = ct,
                                .n_ciphers = 3};
    o = sa_roundtrip(&m);
    assert_int_equal(o->u.secagg.sa.n_ciphers, 3);
    assert_memory_equal(o->u.secagg.sa.ciphers, ct, sizeof ct);
    fr_msg_destroy(&o);

    m.u.secagg.sa = (fr_sa_msg){.phase = FR_SA_MASKED, .words = words,
                                .n_words = 5};
    m.u.secagg.has_metrics = 1;
    m.u.secagg.metrics.hr10 = 0.5;
    m.u.secagg.metrics.eval_members = 12;
    o = sa_roundtrip(&m);
    assert_int_equal(o->u.secagg.sa.n_words, 5);
    assert_memory_equal(o->u.secagg.sa.words, words, sizeof words);
    assert_int_equal(o->u.secagg.has_metrics, 1);
    assert_true(o->u.secagg.metrics.hr10 == 0.5);
    assert_int_equal(o->u.secagg.metrics.eval_members, 12);
    fr_msg_destroy(&o);
    m.u.secagg.has_metrics = 0;

    m.u.secagg.sa = (fr_sa_msg){.phase = FR_SA_CONSIST, .bitmap = bitmap,
                                .bitmap_bytes = 2};
    o = sa_roundtrip(&m);
    assert_int_equal(o->u.secagg.sa.bitmap_bytes, 2);
    assert_memory_equal(o->u.secagg.sa.bitmap, bitmap, 2);
    fr_msg_destroy(&o);

    m.u.secagg.sa = (fr_sa_msg){.phase = FR_SA_SIGNED};
    memset(m.u.secagg.sa.sig, 0x77, FR_SA_SIG_BYTES);
    o = sa_roundtrip(&m);
    assert_memory_equal(o->u.secagg.sa.sig, m.u.secagg.sa.sig,
                        FR_SA_SIG_BYTES);
    fr_msg_destroy(&o);

    m.u.secagg.sa = (fr_sa_msg){.phase = FR_SA_REVEAL, .reveals = rev,
                                .n_reveals = 2, .sigs = sigs, .n_sigs = 2};
    o = sa_roundtrip(&m);
    assert_int_equal(o->u.secagg.sa.n_reveals, 2);
    assert_memory_equal(o->u.secagg.sa.reveals, rev, sizeof rev);
    assert_memory_equal(o->u.secagg.sa.sigs, sigs, sizeof sigs);
    fr_msg_destroy(&o);

    /* An unknown share kind or phase is refused by the encoder as well. */
    rev[1].kind = 3;
    assert_int_equal(fr_wire_encode(&m, MAX, &(uint8_t *){NULL},
                                    &(size_t){0}), FR_EINVAL);
    m.u.secagg.sa = (fr_sa_msg){.phase = 10};
    assert_int_equal(fr_wire_encode(&m, MAX, &(uint8_t *){NULL},
                                    &(size_t){0}), FR_EINVAL);

    /* Round start with secure aggregation parameters. */
    memset(&m, 0, sizeof m);
    m.type = FR_MSG_ROUND_START;
    m.round_id = 5;
    m.u.round_start = (fr_msg_round_start){
        .n_items = 3, .dim = 2, .item_emb = emb, .item_bias = bias,
        .deadline_ms = 1000, .train = good_train(), .has_secagg = 1,
        .secagg = {.n = 10, .k = 4, .t = 3, .index = 7, .n_words = 10,
                   .min_inputs = 3, .clip = 2.5, .weight_cap = 1000}};
    memset(m.u.round_start.secagg.graph_commit, 0x99, 32);
    o = sa_roundtrip(&m);
    assert_int_equal(o->u.round_start.has_secagg, 1);
    assert_memory_equal(&o->u.round_start.secagg, &m.u.round_start.secagg,
                        sizeof m.u.round_start.secagg);
    fr_msg_destroy(&o);
    m.u.round_start.secagg.t = 2; /* 2 * t <= k: unsafe */
    assert_int_equal(fr_wire_encode(&m, MAX, &(uint8_t *){NULL},
                                    &(size_t){0}), FR_EINVAL);
    m.u.round_start.secagg.t = 3;
    m.u.round_start.secagg.index = 10;
    assert_int_equal(fr_wire_encode(&m, MAX, &(uint8_t *){NULL},
                                    &(size_t){0}), FR_EINVAL);
    m.u.round_start.secagg.index = 7;

    /* ... and member-level DP parameters: round trip, then each bad value
     * refused by the encoder (the decoder runs the same check). */
    m.u.round_start.has_dp = 1;
    m.u.round_start.dp = (fr_dp_setup){
        .mechanism = FR_DP_MECH_DDG, .clip = 1.0, .q = 1.0, .scale = 7.3e5,
        .sigma2_int = 859000000000ull, .dim = 1u << 20,
        .rotation_seed = 0x1234567890abcdefull, .n_target = 40,
        .t_collude = 2, .delta = 1e-7, .epsilon_budget = 8.0,
        .l2_sens = 734201.0, .l1_sens = 7.5e8};
    o = sa_roundtrip(&m);
    assert_int_equal(o->u.round_start.has_dp, 1);
    assert_memory_equal(&o->u.round_start.dp, &m.u.round_start.dp,
                        sizeof m.u.round_start.dp);
    fr_msg_destroy(&o);
    {
        fr_dp_setup good = m.u.round_start.dp;
        fr_dp_setup bad[9];
        for (int i = 0; i < 9; i++)
            bad[i] = good;
        bad[0].mechanism = 2;
        bad[1].clip = 0;
        bad[2].q = 1.5;
        bad[3].sigma2_int = 0;
        bad[4].dim = 3u << 10;        /* not a power of two */
        bad[5].dim = (uint64_t)1 << 27;
        bad[6].n_target = 0;
        bad[7].delta = 1.0;
        bad[8].l1_sens = good.l2_sens / 2;
        for (int i = 0; i < 9; i++) {
            m.u.round_start.dp = bad[i];
            assert_int_equal(fr_wire_encode(&m, MAX, &(uint8_t *){NULL},
                                            &(size_t){0}),
                             FR_EINVAL);
        }
        m.u.round_start.dp = good;
        m.u.round_start.has_secagg = 0; /* DP needs secure aggregation */
        assert_int_equal(fr_wire_encode(&m, MAX, &(uint8_t *){NULL},
                                        &(size_t){0}), FR_EINVAL);
    }
}

/* Hand-made SecAgg bodies with fields of the wrong length. */
static void
test_secagg_lengths(void **state)
{
    pbw body, cipher, w, bytes;
    (void)state;

    for (size_t len = FR_SA_CT_BYTES - 1; len <= FR_SA_CT_BYTES + 1; len++) {
        body.n = cipher.n = bytes.n = 0;
        pb_uint(&cipher, 1, 2);
        pb_uint(&cipher, 2, 3);
        memset(bytes.b, 0xab, len);
        bytes.n = len;
        pb_sub(&cipher, 3, &bytes);
        pb_uint(&body, 1, FR_SA_SHARES);
        pb_sub(&body, 4, &cipher);
        raw_envelope(&w, 1, FR_MSG_SECAGG, 14, &body);
        if (len == FR_SA_CT_BYTES)
            expect_accepted(&w);
        else
            expect_refused(&w, FR_EPROTO,
                           "secagg: share ciphertext of the wrong length");
    }
    /* A signature of 63 bytes. */
    body.n = bytes.n = 0;
    pb_uint(&body, 1, FR_SA_SIGNED);
    memset(bytes.b, 1, 63);
    bytes.n = 63;
    pb_sub(&body, 7, &bytes);
    raw_envelope(&w, 1, FR_MSG_SECAGG, 14, &body);
    expect_refused(&w, FR_EPROTO, "secagg: signature must be 64 bytes");
    /* An advertise with no keys; an unknown phase. */
    body.n = 0;
    pb_uint(&body, 1, FR_SA_ADVERTISE);
    raw_envelope(&w, 1, FR_MSG_SECAGG, 14, &body);
    expect_refused(&w, FR_EPROTO, "secagg: advertise needs one key set");
    body.n = 0;
    pb_uint(&body, 1, 42);
    raw_envelope(&w, 1, FR_MSG_SECAGG, 14, &body);
    expect_refused(&w, FR_EPROTO, "secagg: unknown phase");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_each_type),
        cmocka_unit_test(test_roundtrip_large),
        cmocka_unit_test(test_encode_refuses_inconsistent),
        cmocka_unit_test(test_size_limits),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_type_body_mismatch),
        cmocka_unit_test(test_missing_submessages),
        cmocka_unit_test(test_vector_lengths),
        cmocka_unit_test(test_dims_out_of_bounds),
        cmocka_unit_test(test_non_finite),
        cmocka_unit_test(test_zero_num_examples),
        cmocka_unit_test(test_train_params),
        cmocka_unit_test(test_round_end_and_unknown_fields),
        cmocka_unit_test(test_round_end_model),
        cmocka_unit_test(test_unpacked_floats),
        cmocka_unit_test(test_random_garbage),
        cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_known_answers),
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_secagg_roundtrip),
        cmocka_unit_test(test_secagg_lengths),
    };

    /* Encoder refusals log at warn by design; keep test output readable. */
    fr_log_set_level(FR_LOG_ERR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
