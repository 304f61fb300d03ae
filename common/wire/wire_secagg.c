/*
 * wire_secagg.c - the SecAgg+ parts of the wire format: RoundStart.secagg
 * and the SecAgg body (proto/fedrec.proto). Same rules as wire.c: byte
 * fields must have their exact lengths, counts are bounded, and the content
 * check runs on both the encoder's input and the decoder's output.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "wire_int.h"

/* Bounds on list lengths: a store has at most FR_SA_MAX_PARTIES - 1
 * neighbours, and the survivor bitmap covers at most FR_SA_MAX_PARTIES. */
#define MAX_LIST FR_SA_MAX_PARTIES
#define MAX_BITMAP ((FR_SA_MAX_PARTIES + 7) / 8)

/* ---- RoundStart.secagg ---- */

const char *
wire_setup_check(const fr_secagg_setup *s)
{
    if (s->n < 3 || s->n > FR_SA_MAX_PARTIES)
        return "secagg: participant count out of range";
    if (s->index >= s->n)
        return "secagg: participant index out of range";
    if (s->k < 2 || s->k > s->n - 1)
        return "secagg: neighbour count out of range";
    if (s->t < 2 || s->t > s->k || 2 * s->t <= s->k)
        return "secagg: threshold out of range";
    if (s->min_inputs < s->t || s->min_inputs > s->n)
        return "secagg: minimum inputs out of range";
    if (s->n_words < 2)
        return "secagg: vector length out of range";
    if (!isfinite(s->clip) || s->clip <= 0)
        return "secagg: clip must be finite and positive";
    if (s->weight_cap < 1)
        return "secagg: weight cap must be positive";
    /* A sum added with others is sized for at least its own inputs, and a
     * region covers at most the stores the round was sized for. */
    if (s->encode_n && s->encode_n < s->n)
        return "secagg: encode_n below the participant count";
    if (s->cover_max > fr_secagg_encode_n(s))
        return "secagg: cover_max above the stores the round is sized for";
    return NULL;
}

const char *
wire_setup_check_pb(const Fedrec__SecAggSetup *pb)
{
    if (pb->base.n_unknown_fields)
        return "unknown field in message";
    if (pb->graph_commit.len != 32)
        return "secagg: graph commitment must be 32 bytes";
    return NULL;
}

void
wire_setup_view(Fedrec__SecAggSetup *pb, const fr_secagg_setup *s)
{
    fedrec__sec_agg_setup__init(pb);
    pb->n = s->n;
    pb->k = s->k;
    pb->t = s->t;
    pb->index = s->index;
    pb->n_words = s->n_words;
    pb->min_inputs = s->min_inputs;
    pb->graph_commit.len = 32;
    pb->graph_commit.data = (uint8_t *)s->graph_commit;
    pb->clip = s->clip;
    pb->weight_cap = s->weight_cap;
    pb->encode_n = s->encode_n;
    pb->cover_max = s->cover_max;
}

void
wire_setup_fill(fr_secagg_setup *s, const Fedrec__SecAggSetup *pb)
{
    s->n = pb->n;
    s->k = pb->k;
    s->t = pb->t;
    s->index = pb->index;
    s->n_words = pb->n_words;
    s->min_inputs = pb->min_inputs;
    memcpy(s->graph_commit, pb->graph_commit.data, 32);
    s->clip = pb->clip;
    s->weight_cap = pb->weight_cap;
    s->encode_n = pb->encode_n;
    s->cover_max = pb->cover_max;
}

/* ---- SecAgg body ---- */

const char *
wire_sa_check(const fr_msg_secagg *m)
{
    const fr_sa_msg *a = &m->sa;

    if (a->phase < FR_SA_ADVERTISE || a->phase > FR_SA_REVEAL)
        return "secagg: unknown phase";
    if (a->n_keys > MAX_LIST || a->n_ciphers > MAX_LIST ||
        a->n_sigs > MAX_LIST || a->n_reveals > MAX_LIST)
        return "secagg: list longer than the largest round";
    if (a->bitmap_bytes > MAX_BITMAP)
        return "secagg: survivor set larger than the largest round";
    if ((a->n_keys && !a->keys) || (a->n_ciphers && !a->ciphers) ||
        (a->n_sigs && !a->sigs) || (a->n_reveals && !a->reveals) ||
        (a->n_words && !a->words) || (a->bitmap_bytes && !a->bitmap))
        return "secagg: missing array";
    for (uint32_t i = 0; i < a->n_reveals; i++)
        if (a->reveals[i].kind != FR_SA_SHARE_B &&
            a->reveals[i].kind != FR_SA_SHARE_S)
            return "secagg: unknown share kind";
    switch (a->phase) {
    case FR_SA_ADVERTISE:
        return a->n_keys == 1 ? NULL : "secagg: advertise needs one key set";
    case FR_SA_MASKED:
        if (!a->n_words)
            return "secagg: masked input without words";
        break;
    case FR_SA_CONSIST:
        if (!a->bitmap_bytes)
            return "secagg: consistency check without survivor set";
        break;
    default:
        break;
    }
    if (m->covers && a->phase != FR_SA_MASKED)
        return "secagg: a store count outside the masked input";
    if (m->covers > FR_SA_MAX_PARTIES)
        return "secagg: a sum covering more stores than a round can hold";
    if (m->has_metrics &&
        (!isfinite(m->metrics.hr10) || !isfinite(m->metrics.ndcg10) ||
         !isfinite(m->metrics.pop_hr10) || !isfinite(m->metrics.pop_ndcg10) ||
         !isfinite(m->metrics.train_loss)))
        return "non-finite metric";
    return NULL;
}

static int
bytes_len(const ProtobufCBinaryData *b, size_t want)
{
    return b->len == want;
}

const char *
wire_sa_check_pb(const Fedrec__SecAgg *pb)
{
    if (pb->base.n_unknown_fields)
        return "unknown field in message";
    if (pb->n_keys > MAX_LIST || pb->n_ciphers > MAX_LIST ||
        pb->n_sigs > MAX_LIST || pb->n_reveals > MAX_LIST ||
        pb->n_words > UINT32_MAX)
        return "secagg: list longer than the largest round";
    if (pb->graph_seed.len != 0 && pb->graph_seed.len != 32)
        return "secagg: graph seed must be 32 bytes";
    if (pb->sig.len != 0 && pb->sig.len != FR_SA_SIG_BYTES)
        return "secagg: signature must be 64 bytes";
    if (pb->survivors.len > MAX_BITMAP)
        return "secagg: survivor set larger than the largest round";
    if (pb->metrics && pb->metrics->base.n_unknown_fields)
        return "unknown field in message";
    for (size_t i = 0; i < pb->n_keys; i++) {
        const Fedrec__SaKeys *k = pb->keys[i];
        if (k->base.n_unknown_fields)
            return "unknown field in message";
        if (!bytes_len(&k->c_pk, 32) || !bytes_len(&k->s_pk, 32) ||
            !bytes_len(&k->sig, FR_SA_SIG_BYTES) ||
            (k->id_pk.len != 0 && k->id_pk.len != 32))
            return "secagg: key set with fields of the wrong length";
    }
    for (size_t i = 0; i < pb->n_ciphers; i++) {
        if (pb->ciphers[i]->base.n_unknown_fields)
            return "unknown field in message";
        if (!bytes_len(&pb->ciphers[i]->ct, FR_SA_CT_BYTES))
            return "secagg: share ciphertext of the wrong length";
    }
    for (size_t i = 0; i < pb->n_sigs; i++) {
        if (pb->sigs[i]->base.n_unknown_fields)
            return "unknown field in message";
        if (!bytes_len(&pb->sigs[i]->sig, FR_SA_SIG_BYTES))
            return "secagg: signature must be 64 bytes";
    }
    for (size_t i = 0; i < pb->n_reveals; i++) {
        const Fedrec__SaReveal *r = pb->reveals[i];
        if (r->base.n_unknown_fields)
            return "unknown field in message";
        if (r->share.len != 0 && r->share.len != FR_SHAMIR_SHARE_BYTES)
            return "secagg: share of the wrong length";
    }
    return NULL;
}

/* Submessage storage for one encoding. */
typedef struct sa_scratch {
    Fedrec__SaKeys *keys;
    Fedrec__SaKeys **keys_p;
    Fedrec__SaCipher *ct;
    Fedrec__SaCipher **ct_p;
    Fedrec__SaSig *sigs;
    Fedrec__SaSig **sigs_p;
    Fedrec__SaReveal *rev;
    Fedrec__SaReveal **rev_p;
} sa_scratch;

void
wire_sa_view_free(void *p)
{
    sa_scratch *s = p;

    if (!s)
        return;
    free(s->keys);
    free(s->keys_p);
    free(s->ct);
    free(s->ct_p);
    free(s->sigs);
    free(s->sigs_p);
    free(s->rev);
    free(s->rev_p);
    free(s);
}

static ProtobufCBinaryData
bin(const uint8_t *p, size_t len)
{
    ProtobufCBinaryData b = {len, (uint8_t *)p};
    return b;
}

/* The submessage arrays for a's lists, NULL where a list is empty. */
static fr_err
scratch_new(const fr_sa_msg *a, sa_scratch **out)
{
    sa_scratch *s = calloc(1, sizeof *s);

    if (!s)
        return FR_ENOMEM;
    if (a->n_keys) {
        s->keys = calloc(a->n_keys, sizeof *s->keys);
        s->keys_p = calloc(a->n_keys, sizeof *s->keys_p);
    }
    if (a->n_ciphers) {
        s->ct = calloc(a->n_ciphers, sizeof *s->ct);
        s->ct_p = calloc(a->n_ciphers, sizeof *s->ct_p);
    }
    if (a->n_sigs) {
        s->sigs = calloc(a->n_sigs, sizeof *s->sigs);
        s->sigs_p = calloc(a->n_sigs, sizeof *s->sigs_p);
    }
    if (a->n_reveals) {
        s->rev = calloc(a->n_reveals, sizeof *s->rev);
        s->rev_p = calloc(a->n_reveals, sizeof *s->rev_p);
    }
    if ((a->n_keys && (!s->keys || !s->keys_p)) ||
        (a->n_ciphers && (!s->ct || !s->ct_p)) ||
        (a->n_sigs && (!s->sigs || !s->sigs_p)) ||
        (a->n_reveals && (!s->rev || !s->rev_p))) {
        wire_sa_view_free(s);
        return FR_ENOMEM;
    }
    *out = s;
    return FR_OK;
}

static void
view_keys(Fedrec__SecAgg *pb, sa_scratch *s, const fr_sa_msg *a)
{
    for (uint32_t i = 0; i < a->n_keys; i++) {
        Fedrec__SaKeys *k = &s->keys[i];
        fedrec__sa_keys__init(k);
        k->index = a->keys[i].index;
        k->c_pk = bin(a->keys[i].c_pk, 32);
        k->s_pk = bin(a->keys[i].s_pk, 32);
        k->sig = bin(a->keys[i].sig, FR_SA_SIG_BYTES);
        k->id_pk = bin(a->keys[i].id_pk, 32);
        s->keys_p[i] = k;
    }
    pb->n_keys = a->n_keys;
    pb->keys = s->keys_p;
}

static void
view_ciphers(Fedrec__SecAgg *pb, sa_scratch *s, const fr_sa_msg *a)
{
    for (uint32_t i = 0; i < a->n_ciphers; i++) {
        Fedrec__SaCipher *c = &s->ct[i];
        fedrec__sa_cipher__init(c);
        c->from = a->ciphers[i].from;
        c->to = a->ciphers[i].to;
        c->ct = bin(a->ciphers[i].ct, FR_SA_CT_BYTES);
        s->ct_p[i] = c;
    }
    pb->n_ciphers = a->n_ciphers;
    pb->ciphers = s->ct_p;
}

static void
view_sigs(Fedrec__SecAgg *pb, sa_scratch *s, const fr_sa_msg *a)
{
    for (uint32_t i = 0; i < a->n_sigs; i++) {
        Fedrec__SaSig *g = &s->sigs[i];
        fedrec__sa_sig__init(g);
        g->index = a->sigs[i].index;
        g->sig = bin(a->sigs[i].sig, FR_SA_SIG_BYTES);
        s->sigs_p[i] = g;
    }
    pb->n_sigs = a->n_sigs;
    pb->sigs = s->sigs_p;
}

static void
view_reveals(Fedrec__SecAgg *pb, sa_scratch *s, const fr_sa_msg *a)
{
    for (uint32_t i = 0; i < a->n_reveals; i++) {
        Fedrec__SaReveal *r = &s->rev[i];
        fedrec__sa_reveal__init(r);
        r->peer = a->reveals[i].peer;
        r->kind = a->reveals[i].kind;
        /* Requests (UNMASK) name the share; replies (REVEAL) carry it. */
        if (a->phase == FR_SA_REVEAL)
            r->share = bin(a->reveals[i].y, FR_SHAMIR_SHARE_BYTES);
        s->rev_p[i] = r;
    }
    pb->n_reveals = a->n_reveals;
    pb->reveals = s->rev_p;
}

static void
view_metrics(Fedrec__Metrics *metrics, const fr_metrics *m)
{
    fedrec__metrics__init(metrics);
    metrics->hr10 = m->hr10;
    metrics->ndcg10 = m->ndcg10;
    metrics->pop_hr10 = m->pop_hr10;
    metrics->pop_ndcg10 = m->pop_ndcg10;
    metrics->eval_members = m->eval_members;
    metrics->train_loss = m->train_loss;
}

fr_err
wire_sa_view(Fedrec__SecAgg *pb, Fedrec__Metrics *metrics,
             const fr_msg_secagg *m, void **scratch_out)
{
    const fr_sa_msg *a = &m->sa;
    sa_scratch *s = NULL;
    fr_err rc = scratch_new(a, &s);

    if (rc)
        return rc;
    fedrec__sec_agg__init(pb);
    pb->phase = a->phase;
    view_keys(pb, s, a);
    if (a->phase == FR_SA_KEYS)
        pb->graph_seed = bin(a->graph_seed, 32);
    view_ciphers(pb, s, a);
    pb->n_words = a->n_words;
    pb->words = (uint32_t *)a->words;
    pb->survivors = bin(a->bitmap, a->bitmap_bytes);
    if (a->phase == FR_SA_SIGNED)
        pb->sig = bin(a->sig, FR_SA_SIG_BYTES);
    view_sigs(pb, s, a);
    view_reveals(pb, s, a);
    if (m->has_metrics) {
        view_metrics(metrics, &m->metrics);
        pb->metrics = metrics;
    }
    pb->covers = m->covers;
    *scratch_out = s;
    return FR_OK;
}

fr_err
wire_sa_fill(fr_msg_secagg *m, const Fedrec__SecAgg *pb, void **owned_out)
{
    fr_sa_msg *a = &m->sa;
    size_t bytes = pb->n_keys * sizeof(fr_sa_keys) +
                   pb->n_ciphers * sizeof(fr_sa_cipher) +
                   pb->n_sigs * sizeof(fr_sa_sig) +
                   pb->n_reveals * sizeof(fr_sa_reveal);
    uint8_t *block = calloc(1, bytes ? bytes : 1), *at = block;
    fr_sa_keys *keys;
    fr_sa_cipher *ct;
    fr_sa_sig *sigs;
    fr_sa_reveal *rev;

    if (!block)
        return FR_ENOMEM;
    keys = (fr_sa_keys *)(void *)at;
    at += pb->n_keys * sizeof *keys;
    ct = (fr_sa_cipher *)(void *)at;
    at += pb->n_ciphers * sizeof *ct;
    sigs = (fr_sa_sig *)(void *)at;
    at += pb->n_sigs * sizeof *sigs;
    rev = (fr_sa_reveal *)(void *)at;
    memset(m, 0, sizeof *m);
    a->phase = pb->phase;
    for (size_t i = 0; i < pb->n_keys; i++) {
        const Fedrec__SaKeys *k = pb->keys[i];
        keys[i].index = k->index;
        memcpy(keys[i].c_pk, k->c_pk.data, 32);
        memcpy(keys[i].s_pk, k->s_pk.data, 32);
        memcpy(keys[i].sig, k->sig.data, FR_SA_SIG_BYTES);
        if (k->id_pk.len)
            memcpy(keys[i].id_pk, k->id_pk.data, 32);
    }
    a->keys = keys;
    a->n_keys = (uint32_t)pb->n_keys;
    if (pb->graph_seed.len)
        memcpy(a->graph_seed, pb->graph_seed.data, 32);
    for (size_t i = 0; i < pb->n_ciphers; i++) {
        ct[i].from = pb->ciphers[i]->from;
        ct[i].to = pb->ciphers[i]->to;
        memcpy(ct[i].ct, pb->ciphers[i]->ct.data, FR_SA_CT_BYTES);
    }
    a->ciphers = ct;
    a->n_ciphers = (uint32_t)pb->n_ciphers;
    a->words = pb->words;
    a->n_words = (uint32_t)pb->n_words;
    a->bitmap = pb->survivors.len ? pb->survivors.data : NULL;
    a->bitmap_bytes = (uint32_t)pb->survivors.len;
    if (pb->sig.len)
        memcpy(a->sig, pb->sig.data, FR_SA_SIG_BYTES);
    for (size_t i = 0; i < pb->n_sigs; i++) {
        sigs[i].index = pb->sigs[i]->index;
        memcpy(sigs[i].sig, pb->sigs[i]->sig.data, FR_SA_SIG_BYTES);
    }
    a->sigs = sigs;
    a->n_sigs = (uint32_t)pb->n_sigs;
    for (size_t i = 0; i < pb->n_reveals; i++) {
        rev[i].peer = pb->reveals[i]->peer;
        rev[i].kind = pb->reveals[i]->kind;
        if (pb->reveals[i]->share.len)
            memcpy(rev[i].y, pb->reveals[i]->share.data,
                   FR_SHAMIR_SHARE_BYTES);
    }
    a->reveals = rev;
    a->n_reveals = (uint32_t)pb->n_reveals;
    if (pb->metrics) {
        m->has_metrics = 1;
        m->metrics.hr10 = pb->metrics->hr10;
        m->metrics.ndcg10 = pb->metrics->ndcg10;
        m->metrics.pop_hr10 = pb->metrics->pop_hr10;
        m->metrics.pop_ndcg10 = pb->metrics->pop_ndcg10;
        m->metrics.eval_members = pb->metrics->eval_members;
        m->metrics.train_loss = pb->metrics->train_loss;
    }
    m->covers = pb->covers;
    *owned_out = block;
    return FR_OK;
}
