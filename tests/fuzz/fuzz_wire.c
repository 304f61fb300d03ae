/*
 * fuzz_wire.c - the wire envelope decoder, every body type, both
 * directions (fr_wire_decode is the first thing either side does with a
 * peer's bytes). Properties:
 *   - a refusal names a reason and leaves *msg_out untouched;
 *   - the size limit is enforced before anything is parsed;
 *   - an accepted message re-encodes (whatever we accept we could send),
 *     the encoding decodes to the same message, and encoding is a fixpoint
 *     from there (the second encoding is byte-for-byte the first);
 *   - fr_msg_destroy frees everything (ASan's leak check).
 * FR_FUZZ_WRITE_SEEDS=DIR makes the initialiser write the seed corpus
 * (one valid message of every type and SecAgg phase) into DIR.
 */
#include <math.h>
#include <string.h>

#include "fuzz.h"
#include "fuzz_msgs.h"

#include "base/log.h"
#include "wire/wire.h"

#define MAX_BYTES FR_WIRE_DEFAULT_MAX_BYTES

static void
quiet(void *arg, fr_log_level level, const char *tag, const char *line)
{
    (void)arg;
    (void)level;
    (void)tag;
    (void)line;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (!getenv("FR_FUZZ_LOG"))
        fr_log_set_sink(quiet, NULL);
    fuzz_msgs_write_seeds();
    return 0;
}

static int
same_floats(const float *a, const float *b, size_t n)
{
    return n == 0 || memcmp(a, b, n * sizeof *a) == 0;
}

static int
same_metrics(const fr_metrics *a, const fr_metrics *b)
{
    return a->hr10 == b->hr10 && a->ndcg10 == b->ndcg10 &&
           a->pop_hr10 == b->pop_hr10 && a->pop_ndcg10 == b->pop_ndcg10 &&
           a->eval_members == b->eval_members && a->train_loss == b->train_loss;
}

static int
same_round_start(const fr_msg_round_start *a, const fr_msg_round_start *b)
{
    size_t emb = (size_t)a->n_items * a->dim;

    if (a->n_items != b->n_items || a->dim != b->dim ||
        !same_floats(a->item_emb, b->item_emb, emb) ||
        !same_floats(a->item_bias, b->item_bias, a->n_items) ||
        a->deadline_ms != b->deadline_ms ||
        memcmp(&a->train, &b->train, sizeof a->train) != 0 ||
        a->has_secagg != b->has_secagg || a->has_dp != b->has_dp ||
        a->has_catalogue != b->has_catalogue ||
        a->catalogue_items != b->catalogue_items ||
        memcmp(a->catalogue_id, b->catalogue_id, sizeof a->catalogue_id))
        return 0;
    if (a->has_secagg && memcmp(&a->secagg, &b->secagg, sizeof a->secagg))
        return 0;
    return !a->has_dp || memcmp(&a->dp, &b->dp, sizeof a->dp) == 0;
}

static int
same_update(const fr_msg_update *a, const fr_msg_update *b)
{
    return a->num_examples == b->num_examples && a->n_items == b->n_items &&
           a->dim == b->dim &&
           same_floats(a->delta_emb, b->delta_emb, (size_t)a->n_items * a->dim) &&
           same_floats(a->delta_bias, b->delta_bias, a->n_items) &&
           same_metrics(&a->metrics, &b->metrics);
}

static int
same_round_end(const fr_msg_round_end *a, const fr_msg_round_end *b)
{
    if (a->completed != b->completed || a->contributors != b->contributors ||
        a->completed_rounds != b->completed_rounds ||
        a->has_model != b->has_model || a->training_done != b->training_done)
        return 0;
    return !a->has_model ||
           (a->n_items == b->n_items && a->dim == b->dim &&
            same_floats(a->item_emb, b->item_emb, (size_t)a->n_items * a->dim) &&
            same_floats(a->item_bias, b->item_bias, a->n_items));
}

/* The fields the encoder carries for the message's phase. */
static int
same_secagg(const fr_msg_secagg *x, const fr_msg_secagg *y)
{
    const fr_sa_msg *a = &x->sa, *b = &y->sa;

    if (a->phase != b->phase || a->n_keys != b->n_keys ||
        a->n_ciphers != b->n_ciphers || a->n_words != b->n_words ||
        a->bitmap_bytes != b->bitmap_bytes || a->n_sigs != b->n_sigs ||
        a->n_reveals != b->n_reveals || x->has_metrics != y->has_metrics)
        return 0;
    if ((a->n_keys && memcmp(a->keys, b->keys, a->n_keys * sizeof *a->keys)) ||
        (a->n_ciphers &&
         memcmp(a->ciphers, b->ciphers, a->n_ciphers * sizeof *a->ciphers)) ||
        (a->n_words && memcmp(a->words, b->words, a->n_words * 4u)) ||
        (a->bitmap_bytes && memcmp(a->bitmap, b->bitmap, a->bitmap_bytes)) ||
        (a->n_sigs && memcmp(a->sigs, b->sigs, a->n_sigs * sizeof *a->sigs)))
        return 0;
    if (a->phase == FR_SA_KEYS && memcmp(a->graph_seed, b->graph_seed, 32))
        return 0;
    if (a->phase == FR_SA_SIGNED && memcmp(a->sig, b->sig, sizeof a->sig))
        return 0;
    for (uint32_t i = 0; i < a->n_reveals; i++)
        if (a->reveals[i].peer != b->reveals[i].peer ||
            a->reveals[i].kind != b->reveals[i].kind ||
            (a->phase == FR_SA_REVEAL &&
             memcmp(a->reveals[i].y, b->reveals[i].y, sizeof a->reveals[i].y)))
            return 0;
    return !x->has_metrics || same_metrics(&x->metrics, &y->metrics);
}

static int
same_msg(const fr_msg *a, const fr_msg *b)
{
    if (a->type != b->type || a->round_id != b->round_id)
        return 0;
    switch (a->type) {
    case FR_MSG_HELLO:
        return memcmp(&a->u.hello, &b->u.hello, sizeof a->u.hello) == 0;
    case FR_MSG_ROUND_START:
        return same_round_start(&a->u.round_start, &b->u.round_start);
    case FR_MSG_UPDATE: return same_update(&a->u.update, &b->u.update);
    case FR_MSG_ROUND_END:
        return same_round_end(&a->u.round_end, &b->u.round_end);
    case FR_MSG_SECAGG: return same_secagg(&a->u.secagg, &b->u.secagg);
    case FR_MSG_DONE:
        return a->u.done.completed_rounds == b->u.done.completed_rounds;
    case FR_MSG_CATALOGUE:
        return memcmp(a->u.catalogue.id, b->u.catalogue.id, 32) == 0 &&
               a->u.catalogue.items == b->u.catalogue.items &&
               a->u.catalogue.content_len == b->u.catalogue.content_len &&
               (!a->u.catalogue.content_len ||
                memcmp(a->u.catalogue.content, b->u.catalogue.content,
                       a->u.catalogue.content_len) == 0);
    }
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fr_msg *const sentinel = (fr_msg *)&size;
    fr_msg *m = sentinel, *m2 = NULL, *small = sentinel;
    const char *why = NULL;
    uint8_t *b1 = NULL, *b2 = NULL;
    size_t l1 = 0, l2 = 0;
    fr_err rc;

    if (size > 0) { /* the limit is checked before the bytes are read */
        rc = fr_wire_decode(data, size, size - 1, &small, &why);
        FR_FUZZ_CHECK(rc == FR_ELIMIT && small == sentinel && why);
    }
    why = NULL;
    rc = fr_wire_decode(data, size, MAX_BYTES, &m, &why);
    if (rc != FR_OK) {
        FR_FUZZ_CHECK(m == sentinel && why != NULL);
        FR_FUZZ_CHECK(rc == FR_EPROTO);
        return 0;
    }
    FR_FUZZ_CHECK(m != sentinel && m != NULL);
    FR_FUZZ_CHECK(strcmp(fr_msg_type_name(m->type), "unknown") != 0);
    FR_FUZZ_CHECK(fr_wire_encode(m, MAX_BYTES, &b1, &l1) == FR_OK);
    FR_FUZZ_CHECK(fr_wire_decode(b1, l1, MAX_BYTES, &m2, &why) == FR_OK);
    FR_FUZZ_CHECK(same_msg(m, m2));
    FR_FUZZ_CHECK(fr_wire_encode(m2, MAX_BYTES, &b2, &l2) == FR_OK);
    FR_FUZZ_CHECK(l1 == l2 && memcmp(b1, b2, l1) == 0);
    free(b1);
    free(b2);
    fr_msg_destroy(&m2);
    fr_msg_destroy(&m);
    FR_FUZZ_CHECK(m == NULL);
    return 0;
}
