/*
 * wire.c - encoding and strict decoding of fedrec.Envelope messages. wire/
 * is the only module that includes the protoc-c generated header; the
 * SecAgg+ bodies are in wire_secagg.c.
 *
 * DESIGN
 * Decoding runs in three steps, and a message is handed out only after all
 * three passed:
 *   1. size: the byte length is checked against max_bytes before protobuf-c
 *      sees the bytes, and the unpacker allocates within a budget
 *      proportional to that length (the unpacker's memory, below);
 *   2. structure: version, type/body agreement, required submessages, no
 *      unknown fields, vector lengths against the declared dimensions;
 *   3. content: check_msg(), the same function the encoder runs, so whatever
 *      we send is something we would accept (bounds, finite floats, sane
 *      training parameters, positive weights).
 * The decoded fr_msg points into the unpacked protobuf-c message (kept in
 * owned_) instead of copying model-sized float arrays. The encoder likewise
 * points protobuf-c at the caller's arrays; packing only reads them.
 */
#include "wire.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "wire_int.h"

#include "../base/log.h"

#define TAG "wire"

/* Training parameter bounds: anything outside is a bug or an attack. */
#define MAX_LOCAL_EPOCHS 1000u
#define MAX_NEGATIVES 1000u

_Static_assert((uint64_t)FR_WIRE_MAX_ITEMS * FR_WIRE_MAX_DIM <= SIZE_MAX / 4,
               "largest model must be addressable");

const char *
fr_msg_type_name(fr_msg_type type)
{
    switch (type) {
    case FR_MSG_HELLO: return "hello";
    case FR_MSG_ROUND_START: return "round_start";
    case FR_MSG_UPDATE: return "update";
    case FR_MSG_ROUND_END: return "round_end";
    case FR_MSG_SECAGG: return "secagg";
    case FR_MSG_DONE: return "done";
    case FR_MSG_CATALOGUE: return "catalogue";
    }
    return "unknown";
}

/* ---- content checks shared by encoder and decoder ---------------------- */

static const char *
check_dims(uint32_t n_items, uint32_t dim)
{
    if (n_items < 1 || n_items > FR_WIRE_MAX_ITEMS)
        return "n_items out of range";
    if (dim < 1 || dim > FR_WIRE_MAX_DIM)
        return "dim out of range";
    return NULL;
}

static int
all_finite(const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return 0;
    return 1;
}

/* Dimensions and finite values of one (embedding, bias) pair. The vector
 * lengths themselves are checked by the decoder (structure) and are implied
 * by n_items and dim for caller-built messages. */
static const char *
check_model(uint32_t n_items, uint32_t dim, const float *emb,
            const float *bias)
{
    const char *why = check_dims(n_items, dim);

    if (why)
        return why;
    if (!all_finite(emb, (size_t)n_items * dim))
        return "non-finite value in embedding";
    if (!all_finite(bias, n_items))
        return "non-finite value in bias";
    return NULL;
}

static const char *
check_train(const fr_train_params *t)
{
    if (t->local_epochs < 1 || t->local_epochs > MAX_LOCAL_EPOCHS)
        return "local_epochs out of range";
    if (t->batch_size < 1)
        return "batch_size must be at least 1";
    if (!isfinite(t->learning_rate) || !(t->learning_rate > 0.0f))
        return "learning_rate must be finite and positive";
    if (!isfinite(t->l2) || !(t->l2 >= 0.0f))
        return "l2 must be finite and non-negative";
    if (t->negatives < 1 || t->negatives > MAX_NEGATIVES)
        return "negatives out of range";
    if (t->loss > 3)
        return "unknown training loss";
    return NULL;
}

static const char *
check_metrics(const fr_metrics *mt)
{
    if (!isfinite(mt->hr10) || !isfinite(mt->ndcg10) ||
        !isfinite(mt->pop_hr10) || !isfinite(mt->pop_ndcg10) ||
        !isfinite(mt->train_loss))
        return "non-finite metric";
    return NULL;
}

/* Everything about m that does not depend on the encoding. Vectors must be
 * non-NULL here. Returns NULL if m is acceptable, else a static reason. */
static const char *
check_msg(const fr_msg *m)
{
    const char *why;

    switch (m->type) {
    case FR_MSG_HELLO:
        /* A region's stores take part in its own SecAgg+ rounds. */
        if (m->u.hello.stores > FR_SA_MAX_PARTIES)
            return "hello: more stores than a secure round can hold";
        if (!m->u.hello.stores && m->u.hello.max_examples)
            return "hello: max_examples without stores";
        return NULL;
    case FR_MSG_ROUND_START:
        why = check_model(m->u.round_start.n_items, m->u.round_start.dim,
                          m->u.round_start.item_emb,
                          m->u.round_start.item_bias);
        if (!why)
            why = check_train(&m->u.round_start.train);
        if (!why && m->u.round_start.has_secagg)
            why = wire_setup_check(&m->u.round_start.secagg);
        if (!why && m->u.round_start.has_dp)
            why = m->u.round_start.has_secagg
                      ? wire_dp_check(&m->u.round_start.dp)
                      : "dp: needs secure aggregation";
        if (!why)
            why = wire_cat_check_rs(&m->u.round_start);
        return why ? why : wire_ials_check_rs(&m->u.round_start);
    case FR_MSG_UPDATE:
        if (m->u.update.num_examples == 0)
            return "update with zero num_examples";
        if (m->u.update.covers > FR_SA_MAX_PARTIES)
            return "update covering more stores than a round can hold";
        why = m->u.update.n_sums
                  ? wire_ials_check_sums(&m->u.update)
                  : check_model(m->u.update.n_items, m->u.update.dim,
                                m->u.update.delta_emb,
                                m->u.update.delta_bias);
        return why ? why : check_metrics(&m->u.update.metrics);
    case FR_MSG_ROUND_END:
        if (m->u.round_end.completed > 1)
            return "round_end completed must be 0 or 1";
        if (m->u.round_end.training_done > 1)
            return "round_end training_done must be 0 or 1";
        if (m->u.round_end.training_done && !m->u.round_end.completed)
            return "round_end training_done on an abandoned round";
        if (!m->u.round_end.has_model)
            return NULL;
        return check_model(m->u.round_end.n_items, m->u.round_end.dim,
                           m->u.round_end.item_emb, m->u.round_end.item_bias);
    case FR_MSG_SECAGG:
        return wire_sa_check(&m->u.secagg);
    case FR_MSG_DONE:
        return NULL;
    case FR_MSG_CATALOGUE:
        return wire_catmsg_check(&m->u.catalogue);
    }
    return "unknown message type";
}

/* ---- encoding ---------------------------------------------------------- */

/* Caller-built vectors must exist before check_msg reads them. */
static int
vectors_present(const fr_msg *m)
{
    if (m->type == FR_MSG_ROUND_START)
        return m->u.round_start.item_emb && m->u.round_start.item_bias;
    if (m->type == FR_MSG_UPDATE && m->u.update.n_sums)
        return m->u.update.sums != NULL;
    if (m->type == FR_MSG_UPDATE)
        return m->u.update.delta_emb && m->u.update.delta_bias;
    if (m->type == FR_MSG_ROUND_END && m->u.round_end.has_model)
        return m->u.round_end.item_emb && m->u.round_end.item_bias;
    return 1;
}

/* Points a ModelParams at the caller's arrays. protobuf-c's field type is
 * non-const, but packing only reads it, so no copy of the model is made. */
static void
model_view(Fedrec__ModelParams *mp, uint32_t n_items, uint32_t dim,
           const float *emb, const float *bias)
{
    mp->n_items = n_items;
    mp->dim = dim;
    mp->n_item_emb = (size_t)n_items * dim;
    mp->item_emb = (float *)emb;
    mp->n_item_bias = n_items;
    mp->item_bias = (float *)bias;
}

static void
train_view(Fedrec__TrainParams *tp, const fr_train_params *t)
{
    tp->local_epochs = t->local_epochs;
    tp->learning_rate = t->learning_rate;
    tp->negatives = t->negatives;
    tp->l2 = t->l2;
    tp->batch_size = t->batch_size;
    tp->seed = t->seed;
    tp->loss = t->loss;
}

static void
metrics_view(Fedrec__Metrics *mp, const fr_metrics *mt)
{
    mp->hr10 = mt->hr10;
    mp->ndcg10 = mt->ndcg10;
    mp->pop_hr10 = mt->pop_hr10;
    mp->pop_ndcg10 = mt->pop_ndcg10;
    mp->eval_members = mt->eval_members;
    mp->train_loss = mt->train_loss;
}

/* The protobuf-c structs of one message, on the encoder's stack. */
typedef struct enc_parts {
    Fedrec__Envelope env;
    Fedrec__Hello hello;
    Fedrec__RoundStart rs;
    Fedrec__Update up;
    Fedrec__RoundEnd re;
    Fedrec__ModelParams model;
    Fedrec__TrainParams train;
    Fedrec__Metrics metrics;
    Fedrec__SecAggSetup setup;
    Fedrec__DpSetup dp;
    Fedrec__SecAgg sa;
    Fedrec__Done done;
    Fedrec__Catalogue cat;
    Fedrec__IalsStep ials;
    void *sa_scratch;
} enc_parts;

static void
enc_parts_init(enc_parts *p)
{
    fedrec__envelope__init(&p->env);
    fedrec__hello__init(&p->hello);
    fedrec__round_start__init(&p->rs);
    fedrec__update__init(&p->up);
    fedrec__round_end__init(&p->re);
    fedrec__model_params__init(&p->model);
    fedrec__train_params__init(&p->train);
    fedrec__metrics__init(&p->metrics);
    fedrec__sec_agg_setup__init(&p->setup);
    fedrec__dp_setup__init(&p->dp);
    fedrec__sec_agg__init(&p->sa);
    fedrec__done__init(&p->done);
    fedrec__catalogue__init(&p->cat);
    fedrec__ials_step__init(&p->ials);
    p->sa_scratch = NULL;
}

static void
view_round_start(enc_parts *p, const fr_msg_round_start *rs)
{
    model_view(&p->model, rs->n_items, rs->dim, rs->item_emb, rs->item_bias);
    train_view(&p->train, &rs->train);
    p->rs.model = &p->model;
    p->rs.train = &p->train;
    p->rs.deadline_ms = rs->deadline_ms;
    if (rs->has_secagg) {
        wire_setup_view(&p->setup, &rs->secagg);
        p->rs.secagg = &p->setup;
    }
    if (rs->has_dp) {
        wire_dp_view(&p->dp, &rs->dp);
        p->rs.dp = &p->dp;
    }
    wire_cat_view_rs(&p->rs, rs);
    wire_ials_view_rs(&p->rs, &p->ials, rs);
    p->env.body_case = FEDREC__ENVELOPE__BODY_ROUND_START;
    p->env.round_start = &p->rs;
}

static void
view_update(enc_parts *p, const fr_msg_update *up)
{
    metrics_view(&p->metrics, &up->metrics);
    if (up->n_sums) { /* packing only reads the array */
        p->up.n_sums = up->n_sums;
        p->up.sums = (float *)(uintptr_t)up->sums;
    } else {
        model_view(&p->model, up->n_items, up->dim, up->delta_emb,
                   up->delta_bias);
        p->up.delta = &p->model;
    }
    p->up.num_examples = up->num_examples;
    p->up.covers = up->covers;
    p->up.metrics = &p->metrics;
    p->env.body_case = FEDREC__ENVELOPE__BODY_UPDATE;
    p->env.update = &p->up;
}

static void
view_round_end(enc_parts *p, const fr_msg_round_end *re)
{
    p->re.completed = re->completed;
    p->re.contributors = re->contributors;
    p->re.completed_rounds = re->completed_rounds;
    p->re.training_done = re->training_done != 0;
    if (re->has_model) {
        model_view(&p->model, re->n_items, re->dim, re->item_emb,
                   re->item_bias);
        p->re.model = &p->model;
    }
    p->env.body_case = FEDREC__ENVELOPE__BODY_ROUND_END;
    p->env.round_end = &p->re;
}

/* Builds the envelope for a message that passed check_msg. */
static fr_err
view_msg(enc_parts *p, const fr_msg *m)
{
    p->env.version = FR_WIRE_VERSION;
    p->env.round_id = m->round_id;
    p->env.type = (Fedrec__MsgType)m->type;
    switch (m->type) {
    case FR_MSG_HELLO:
        p->hello.num_examples = m->u.hello.num_examples;
        p->hello.last_round = m->u.hello.last_round;
        p->hello.busy = m->u.hello.busy;
        p->hello.stores = m->u.hello.stores;
        p->hello.max_examples = m->u.hello.max_examples;
        p->env.body_case = FEDREC__ENVELOPE__BODY_HELLO;
        p->env.hello = &p->hello;
        break;
    case FR_MSG_ROUND_START: view_round_start(p, &m->u.round_start); break;
    case FR_MSG_UPDATE: view_update(p, &m->u.update); break;
    case FR_MSG_ROUND_END: view_round_end(p, &m->u.round_end); break;
    case FR_MSG_DONE:
        p->done.completed_rounds = m->u.done.completed_rounds;
        p->env.body_case = FEDREC__ENVELOPE__BODY_DONE;
        p->env.done = &p->done;
        break;
    case FR_MSG_CATALOGUE:
        wire_catmsg_view(&p->cat, &m->u.catalogue);
        p->env.body_case = FEDREC__ENVELOPE__BODY_CATALOGUE;
        p->env.catalogue = &p->cat;
        break;
    case FR_MSG_SECAGG:
        p->env.body_case = FEDREC__ENVELOPE__BODY_SECAGG;
        p->env.secagg = &p->sa;
        return wire_sa_view(&p->sa, &p->metrics, &m->u.secagg,
                            &p->sa_scratch);
    }
    return FR_OK;
}

fr_err
fr_wire_encode(const fr_msg *m, size_t max_bytes, uint8_t **buf_out,
               size_t *len_out)
{
    enc_parts p;
    const char *why;
    uint8_t *buf;
    size_t size;

    FR_ASSERT(buf_out && len_out);
    if (!m)
        return FR_EINVAL;
    why = vectors_present(m) ? check_msg(m) : "missing vector";
    if (why) {
        fr_log_warn(TAG, "refusing to encode %s: %s",
                    fr_msg_type_name(m->type), why);
        return FR_EINVAL;
    }
    enc_parts_init(&p);
    if (view_msg(&p, m))
        return FR_ENOMEM;
    size = fedrec__envelope__get_packed_size(&p.env);
    buf = size > max_bytes ? NULL : malloc(size);
    if (buf)
        FR_ASSERT(fedrec__envelope__pack(&p.env, buf) == size);
    wire_sa_view_free(p.sa_scratch);
    if (size > max_bytes)
        return FR_ELIMIT;
    if (!buf)
        return FR_ENOMEM;
    *buf_out = buf;
    *len_out = size;
    return FR_OK;
}

/* ---- the unpacker's memory --------------------------------------------- */

/* protobuf-c makes one allocation per submessage, bytes field and unknown
 * field, so a message of many empty submessages (two bytes each on the
 * wire) would unpack to some forty times its size: a 64 MiB message of
 * empty SecAgg reveals took over 3 GiB. The unpacker gets an allocator with
 * a budget instead, and a message that needs more is refused:
 *   min(UNPACK_SMALL * len, UNPACK_FACTOR * len + UNPACK_SLACK) + UNPACK_BASE
 * Every message we send stays within it: models and masked words unpack to
 * about their size, list entries to at most ~12 times theirs (a share
 * request, six bytes), and the largest structure, FR_SA_MAX_PARTIES key
 * sets, to ~25 MiB. The blocks come from malloc, so a test allocator sees
 * them and an unpack that ran out of memory is told apart from bad bytes. */
#define UNPACK_SMALL 16u
#define UNPACK_FACTOR 2u
#define UNPACK_SLACK ((size_t)48 << 20)
#define UNPACK_BASE ((size_t)1 << 20)

typedef struct unpack_budget {
    size_t left;
    int exceeded; /* a block would have gone past the budget */
    int oom;      /* malloc failed */
} unpack_budget;

/* Each block carries its size, so free needs no budget. */
typedef union block_head {
    size_t size;
    max_align_t align;
} block_head;

static void *
budget_alloc(void *data, size_t size)
{
    unpack_budget *b = data;
    block_head *h;

    if (size > SIZE_MAX - sizeof *h)
        return NULL;
    if (b && size + sizeof *h > b->left) {
        b->exceeded = 1;
        return NULL;
    }
    h = malloc(size + sizeof *h);
    if (!h) {
        if (b)
            b->oom = 1;
        return NULL;
    }
    if (b)
        b->left -= size + sizeof *h;
    h->size = size;
    return h + 1;
}

static void
budget_free(void *data, void *p)
{
    (void)data;
    if (p)
        free((block_head *)p - 1);
}

/* Frees what fedrec__envelope__unpack made with a budget. */
static ProtobufCAllocator unpacked_allocator = {budget_alloc, budget_free,
                                                NULL};

/* Unpacks buf within the budget. On NULL, FR_ELIMIT if the budget was the
 * reason, FR_ENOMEM if malloc failed, FR_EPROTO for bad bytes. */
static Fedrec__Envelope *
unpack_bounded(const uint8_t *buf, size_t len, fr_err *why)
{
    unpack_budget b = {.left = SIZE_MAX, .exceeded = 0, .oom = 0};
    ProtobufCAllocator a = {budget_alloc, budget_free, &b};
    Fedrec__Envelope *env;

    if (len <= (SIZE_MAX - UNPACK_SLACK - UNPACK_BASE) / UNPACK_SMALL) {
        size_t small = UNPACK_SMALL * len;
        size_t large = UNPACK_FACTOR * len + UNPACK_SLACK;
        b.left = (small < large ? small : large) + UNPACK_BASE;
    }
    env = fedrec__envelope__unpack(&a, len, buf);
    *why = env ? FR_OK : b.oom ? FR_ENOMEM : b.exceeded ? FR_ELIMIT : FR_EPROTO;
    return env;
}

/* ---- decoding ---------------------------------------------------------- */

/* Vector lengths against the declared shape. Dimensions are bounded first,
 * and n_items * dim is computed in 64 bits from two 32-bit values, so the
 * product cannot overflow. */
static const char *
check_model_structure(const Fedrec__ModelParams *mp)
{
    const char *why;

    if (mp->base.n_unknown_fields)
        return "unknown field in message";
    why = check_dims(mp->n_items, mp->dim);
    if (why)
        return why;
    if ((uint64_t)mp->n_item_emb != (uint64_t)mp->n_items * mp->dim)
        return "embedding length does not match n_items * dim";
    if ((uint64_t)mp->n_item_bias != mp->n_items)
        return "bias length does not match n_items";
    return NULL;
}

/* Maps the envelope's type to the body case it must carry; 0 if unknown. */
static Fedrec__Envelope__BodyCase
body_for_type(Fedrec__MsgType type)
{
    switch (type) {
    case FEDREC__MSG_TYPE__MSG_HELLO: return FEDREC__ENVELOPE__BODY_HELLO;
    case FEDREC__MSG_TYPE__MSG_ROUND_START:
        return FEDREC__ENVELOPE__BODY_ROUND_START;
    case FEDREC__MSG_TYPE__MSG_UPDATE: return FEDREC__ENVELOPE__BODY_UPDATE;
    case FEDREC__MSG_TYPE__MSG_ROUND_END:
        return FEDREC__ENVELOPE__BODY_ROUND_END;
    case FEDREC__MSG_TYPE__MSG_SECAGG: return FEDREC__ENVELOPE__BODY_SECAGG;
    case FEDREC__MSG_TYPE__MSG_DONE: return FEDREC__ENVELOPE__BODY_DONE;
    case FEDREC__MSG_TYPE__MSG_CATALOGUE:
        return FEDREC__ENVELOPE__BODY_CATALOGUE;
    default: return FEDREC__ENVELOPE__BODY__NOT_SET;
    }
}

static const char *
check_envelope(const Fedrec__Envelope *env)
{
    Fedrec__Envelope__BodyCase want;

    if (env->version != FR_WIRE_VERSION)
        return "unsupported protocol version";
    want = body_for_type(env->type);
    if (want == FEDREC__ENVELOPE__BODY__NOT_SET)
        return "unknown message type";
    if (env->body_case == FEDREC__ENVELOPE__BODY__NOT_SET)
        return "missing message body";
    if (env->body_case != want)
        return "message type does not match body";
    if (env->base.n_unknown_fields)
        return "unknown field in message";
    return NULL;
}

static const char *
check_round_start_structure(const Fedrec__RoundStart *rs)
{
    if (rs->base.n_unknown_fields)
        return "unknown field in message";
    if (!rs->model)
        return "round_start without model";
    if (!rs->train)
        return "round_start without train parameters";
    if (rs->train->base.n_unknown_fields)
        return "unknown field in message";
    if (rs->secagg) {
        const char *why = wire_setup_check_pb(rs->secagg);
        if (why)
            return why;
    }
    if (rs->dp) {
        const char *why = wire_dp_check_pb(rs->dp);
        if (why)
            return why;
    }
    {
        const char *why = wire_cat_check_rs_pb(rs);
        if (!why)
            why = wire_ials_check_pb(rs);
        if (why)
            return why;
    }
    return check_model_structure(rs->model);
}

static const char *
check_update_structure(const Fedrec__Update *up)
{
    if (up->base.n_unknown_fields)
        return "unknown field in message";
    if (!up->delta && !up->n_sums)
        return "update without delta";
    if (up->delta && up->n_sums)
        return "update with both a delta and sums";
    if (!up->metrics)
        return "update without metrics";
    if (up->metrics->base.n_unknown_fields)
        return "unknown field in message";
    return up->delta ? check_model_structure(up->delta) : NULL;
}

/* The model is optional here: completed rounds carry the new global one. */
static const char *
check_round_end_structure(const Fedrec__RoundEnd *re)
{
    if (re->base.n_unknown_fields)
        return "unknown field in message";
    return re->model ? check_model_structure(re->model) : NULL;
}

/* Everything protobuf-c's unpacker does not know about our protocol.
 * body_case was matched against the type by check_envelope. */
static const char *
check_structure(const Fedrec__Envelope *env)
{
    const char *why = check_envelope(env);

    if (why)
        return why;
    switch (env->body_case) {
    case FEDREC__ENVELOPE__BODY_HELLO:
        return env->hello->base.n_unknown_fields ? "unknown field in message"
                                                 : NULL;
    case FEDREC__ENVELOPE__BODY_ROUND_START:
        return check_round_start_structure(env->round_start);
    case FEDREC__ENVELOPE__BODY_UPDATE:
        return check_update_structure(env->update);
    case FEDREC__ENVELOPE__BODY_ROUND_END:
        return check_round_end_structure(env->round_end);
    case FEDREC__ENVELOPE__BODY_SECAGG:
        return wire_sa_check_pb(env->secagg);
    case FEDREC__ENVELOPE__BODY_DONE: return wire_done_check_pb(env->done);
    case FEDREC__ENVELOPE__BODY_CATALOGUE:
        return wire_catmsg_check_pb(env->catalogue);
    default: return "missing message body";
    }
}

static void
fill_round_start(fr_msg_round_start *out, const Fedrec__RoundStart *rs)
{
    const Fedrec__TrainParams *t = rs->train;

    out->n_items = rs->model->n_items;
    out->dim = rs->model->dim;
    out->item_emb = rs->model->item_emb;
    out->item_bias = rs->model->item_bias;
    out->deadline_ms = rs->deadline_ms;
    out->train.local_epochs = t->local_epochs;
    out->train.learning_rate = t->learning_rate;
    out->train.negatives = t->negatives;
    out->train.l2 = t->l2;
    out->train.batch_size = t->batch_size;
    out->train.seed = t->seed;
    out->train.loss = t->loss;
    if (rs->secagg) {
        out->has_secagg = 1;
        wire_setup_fill(&out->secagg, rs->secagg);
    }
    if (rs->dp) {
        out->has_dp = 1;
        wire_dp_fill(&out->dp, rs->dp);
    }
    wire_cat_fill_rs(out, rs);
    wire_ials_fill_rs(out, rs);
}

static void
fill_update(fr_msg_update *out, const Fedrec__Update *up)
{
    const Fedrec__Metrics *mt = up->metrics;

    out->num_examples = up->num_examples;
    out->covers = up->covers;
    if (up->delta) {
        out->n_items = up->delta->n_items;
        out->dim = up->delta->dim;
        out->delta_emb = up->delta->item_emb;
        out->delta_bias = up->delta->item_bias;
    } else {
        out->sums = up->sums;
        out->n_sums = up->n_sums;
    }
    out->metrics.hr10 = mt->hr10;
    out->metrics.ndcg10 = mt->ndcg10;
    out->metrics.pop_hr10 = mt->pop_hr10;
    out->metrics.pop_ndcg10 = mt->pop_ndcg10;
    out->metrics.eval_members = mt->eval_members;
    out->metrics.train_loss = mt->train_loss;
}

static void
fill_round_end(fr_msg_round_end *out, const Fedrec__RoundEnd *re)
{
    out->completed = re->completed;
    out->contributors = re->contributors;
    out->completed_rounds = re->completed_rounds;
    out->training_done = re->training_done ? 1u : 0u;
    if (re->model) {
        out->has_model = 1;
        out->n_items = re->model->n_items;
        out->dim = re->model->dim;
        out->item_emb = re->model->item_emb;
        out->item_bias = re->model->item_bias;
    }
}

/* Builds the fr_msg view of a structurally valid envelope. */
static fr_err
fill_msg(fr_msg *m, const Fedrec__Envelope *env)
{
    m->type = (fr_msg_type)env->type;
    m->round_id = env->round_id;
    switch (env->body_case) {
    case FEDREC__ENVELOPE__BODY_HELLO:
        m->u.hello.num_examples = env->hello->num_examples;
        m->u.hello.last_round = env->hello->last_round;
        m->u.hello.busy = env->hello->busy;
        m->u.hello.stores = env->hello->stores;
        m->u.hello.max_examples = env->hello->max_examples;
        break;
    case FEDREC__ENVELOPE__BODY_ROUND_START:
        fill_round_start(&m->u.round_start, env->round_start);
        break;
    case FEDREC__ENVELOPE__BODY_UPDATE:
        fill_update(&m->u.update, env->update);
        break;
    case FEDREC__ENVELOPE__BODY_ROUND_END:
        fill_round_end(&m->u.round_end, env->round_end);
        break;
    case FEDREC__ENVELOPE__BODY_DONE:
        m->u.done.completed_rounds = env->done->completed_rounds;
        break;
    case FEDREC__ENVELOPE__BODY_CATALOGUE:
        wire_catmsg_fill(&m->u.catalogue, env->catalogue);
        break;
    case FEDREC__ENVELOPE__BODY_SECAGG:
        return wire_sa_fill(&m->u.secagg, env->secagg, &m->owned_sa_);
    default: /* body case checked by check_structure */
        FR_ASSERT(0);
    }
    return FR_OK;
}

fr_err
fr_wire_decode(const uint8_t *buf, size_t len, size_t max_bytes,
               fr_msg **msg_out, const char **reason_out)
{
    Fedrec__Envelope *env = NULL;
    fr_msg *m = NULL;
    const char *why = NULL;
    fr_err rc = FR_EPROTO;

    FR_ASSERT(msg_out);
    if (len > max_bytes) {
        why = "message larger than the size limit";
        rc = FR_ELIMIT;
        goto out;
    }
    if (!buf && len) {
        why = "no buffer";
        rc = FR_EINVAL;
        goto out;
    }
    env = unpack_bounded(buf, len, &rc);
    if (!env) {
        why = rc == FR_ENOMEM   ? "out of memory"
              : rc == FR_ELIMIT ? "message unpacks to more memory than its "
                                  "size allows"
                                : "truncated or malformed protobuf";
        /* Past the budget is a malformed message, not a size-limit one. */
        rc = rc == FR_ENOMEM ? FR_ENOMEM : FR_EPROTO;
        goto out;
    }
    rc = FR_EPROTO;
    why = check_structure(env);
    if (why)
        goto out;
    m = calloc(1, sizeof *m);
    if (!m) {
        why = "out of memory";
        rc = FR_ENOMEM;
        goto out;
    }
    if (fill_msg(m, env)) {
        why = "out of memory";
        rc = FR_ENOMEM;
        goto out;
    }
    why = check_msg(m);
    if (why)
        goto out;
    m->owned_ = env;
    env = NULL;
    *msg_out = m;
    m = NULL;
    rc = FR_OK;
out:
    if (m)
        free(m->owned_sa_);
    free(m);
    if (env)
        fedrec__envelope__free_unpacked(env, &unpacked_allocator);
    if (rc && reason_out)
        *reason_out = why;
    return rc;
}

void
fr_msg_destroy(fr_msg **mp)
{
    if (!mp || !*mp)
        return;
    if ((*mp)->owned_)
        fedrec__envelope__free_unpacked((*mp)->owned_, &unpacked_allocator);
    free((*mp)->owned_sa_);
    free(*mp);
    *mp = NULL;
}
