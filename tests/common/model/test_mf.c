/*
 * test_mf.c - local training and evaluation on one store.
 *
 * Hand-built tiny stores check the split, the evaluation protocol and the
 * popularity baseline exactly. A synthetic store (members with latent
 * tastes, power-law item popularity, generated here from fr_rng) checks
 * that training really learns: the loss falls and the model beats the
 * popularity ranking, which a trainer with a wrong sign, a wrong gradient
 * or no item updates cannot do.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "model/mf.h"
#include "model/mf_int.h" /* test_item, to check the hold-out rules */

#define SYN_MEMBERS 300u
#define SYN_ITEMS 300u
#define SYN_LATENT 6
#define DIM 32u

/* ---- synthetic store ---------------------------------------------------- */

typedef struct keyed {
    double key;
    uint32_t item;
} keyed;

static int
cmp_key_desc(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    return (x->key < y->key) - (x->key > y->key);
}

static void
shuffle_u32(fr_rng *rng, uint32_t *a, uint32_t n)
{
    for (uint32_t i = n; i > 1; i--) {
        uint32_t j = (uint32_t)fr_rng_below(rng, i), t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

/* Member u buys k distinct items drawn with probability proportional to
 * exp(3 <u,v>/sqrt(L) + 0.6 log pop) (Gumbel-top-k), in random order. */
static void
add_member(fr_dataset *d, fr_rng *rng, uint32_t m, const double *v,
           const double *log_pop, keyed *keys)
{
    double u[SYN_LATENT];
    uint32_t k = 8 + (uint32_t)fr_rng_below(rng, 25), order[40];

    for (int t = 0; t < SYN_LATENT; t++)
        u[t] = fr_rng_normal(rng);
    for (uint32_t i = 0; i < SYN_ITEMS; i++) {
        double dot = 0;
        for (int t = 0; t < SYN_LATENT; t++)
            dot += u[t] * v[i * SYN_LATENT + t];
        double g = -log(-log(fr_rng_uniform(rng) * 0.999999 + 1e-7));
        keys[i] = (keyed){3.0 * dot / sqrt(SYN_LATENT) + 0.6 * log_pop[i] + g,
                          i};
    }
    qsort(keys, SYN_ITEMS, sizeof *keys, cmp_key_desc);
    for (uint32_t j = 0; j < k; j++)
        order[j] = keys[j].item;
    shuffle_u32(rng, order, k);
    for (uint32_t j = 0; j < k; j++)
        assert_int_equal(fr_dataset_add(d, m, order[j],
                                         1700000000 + 1000 * (int64_t)j +
                                             (int64_t)fr_rng_below(rng, 900)),
                         FR_OK);
}

static fr_dataset *
make_synthetic(uint64_t seed)
{
    double *v = malloc(SYN_ITEMS * SYN_LATENT * sizeof *v);
    double *log_pop = malloc(SYN_ITEMS * sizeof *log_pop);
    keyed *keys = malloc(SYN_ITEMS * sizeof *keys);
    uint32_t rank[SYN_ITEMS];
    fr_dataset *d = NULL;
    fr_rng rng;

    assert_true(v && log_pop && keys);
    fr_rng_seed(&rng, seed);
    for (uint32_t i = 0; i < SYN_ITEMS * SYN_LATENT; i++)
        v[i] = fr_rng_normal(&rng);
    for (uint32_t i = 0; i < SYN_ITEMS; i++)
        rank[i] = i;
    shuffle_u32(&rng, rank, SYN_ITEMS);
    for (uint32_t i = 0; i < SYN_ITEMS; i++)
        log_pop[i] = -log(rank[i] + 1.0); /* Zipf, exponent 1 */
    assert_int_equal(fr_dataset_new(&d, SYN_ITEMS), FR_OK);
    for (uint32_t m = 0; m < SYN_MEMBERS; m++)
        add_member(d, &rng, m, v, log_pop, keys);
    assert_int_equal(fr_dataset_finalize(d), FR_OK);
    free(v);
    free(log_pop);
    free(keys);
    return d;
}

static fr_dataset *syn; /* built once for the whole group */

static int
group_setup(void **state)
{
    (void)state;
    syn = make_synthetic(2024);
    return 0;
}

static int
group_teardown(void **state)
{
    (void)state;
    fr_dataset_destroy(&syn);
    return 0;
}

/* ---- helpers ------------------------------------------------------------ */

static fr_model *
new_model(uint32_t n_items, uint32_t dim, uint64_t seed)
{
    fr_model *m = NULL;
    assert_int_equal(fr_model_new(&m, n_items, dim), FR_OK);
    fr_model_init_random(m, seed, 0.1f);
    return m;
}

/* Encodes member embeddings from an explicit array (what a store would
 * have persisted), with a correct CRC. */
static uint8_t *
members_blob(uint32_t n_members, uint32_t dim, const float *p, size_t *len)
{
    size_t n = (size_t)n_members * dim;
    uint8_t *buf = malloc(16 + 4 * n + 4);

    assert_non_null(buf);
    memcpy(buf, "FRMB", 4);
    fr_put_u32le(buf + 4, 1);
    fr_put_u32le(buf + 8, n_members);
    fr_put_u32le(buf + 12, dim);
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &p[i], 4);
        fr_put_u32le(buf + 16 + 4 * i, u);
    }
    *len = 16 + 4 * n + 4;
    fr_put_u32le(buf + *len - 4, fr_crc32(0, buf, *len - 4));
    return buf;
}

/* The member embeddings, read back through the public encoder. */
static float *
members_of(const fr_mf *mf, uint32_t n_members, uint32_t dim)
{
    uint8_t *buf = NULL;
    size_t len = 0, n = (size_t)n_members * dim;
    float *p = malloc(n * sizeof *p);

    assert_non_null(p);
    assert_int_equal(fr_mf_encode_members(mf, &buf, &len), FR_OK);
    assert_int_equal(len, 16 + 4 * n + 4);
    for (size_t i = 0; i < n; i++) {
        uint32_t u = fr_get_u32le(buf + 16 + 4 * i);
        memcpy(&p[i], &u, 4);
    }
    free(buf);
    return p;
}

/*
 * Tiny store, 6 items. Member 0 bought 0 then 5; members 1-4 bought 1, 2,
 * then 3. Held out: item 5 for member 0, item 3 for the others, so the
 * training counts are item 0: 1, items 1 and 2: 4, items 3, 4, 5: 0. With
 * fewer than 99 unseen items, every unseen item is a negative.
 */
static fr_dataset *
make_tiny(void)
{
    fr_dataset *d = NULL;
    assert_int_equal(fr_dataset_new(&d, 6), FR_OK);
    assert_int_equal(fr_dataset_add(d, 0, 5, 20), FR_OK);
    assert_int_equal(fr_dataset_add(d, 0, 0, 10), FR_OK);
    for (uint32_t m = 1; m <= 4; m++) {
        assert_int_equal(fr_dataset_add(d, m, 3, 300 + m), FR_OK);
        assert_int_equal(fr_dataset_add(d, m, 1, 100), FR_OK);
        assert_int_equal(fr_dataset_add(d, m, 2, 200), FR_OK);
    }
    assert_int_equal(fr_dataset_finalize(d), FR_OK);
    return d;
}

/* ---- construction and the split ----------------------------------------- */

static void
test_new_rejects_bad_input(void **state)
{
    fr_dataset *raw = NULL, *empty = NULL;
    fr_mf *mf = NULL;
    (void)state;
    assert_int_equal(fr_mf_new(&mf, syn, 0, 1), FR_EINVAL);
    assert_int_equal(fr_mf_new(&mf, syn, FR_MODEL_MAX_DIM + 1, 1), FR_EINVAL);
    assert_int_equal(fr_mf_new(&mf, NULL, DIM, 1), FR_EINVAL);
    assert_int_equal(fr_dataset_new(&raw, 10), FR_OK);
    assert_int_equal(fr_dataset_add(raw, 0, 1, 1), FR_OK);
    assert_int_equal(fr_mf_new(&mf, raw, DIM, 1), FR_EINVAL); /* unfinalized */
    assert_int_equal(fr_dataset_new(&empty, 10), FR_OK);
    assert_int_equal(fr_dataset_finalize(empty), FR_OK);
    assert_int_equal(fr_mf_new(&mf, empty, DIM, 1), FR_EINVAL);
    assert_null(mf);
    fr_mf_destroy(&mf);
    fr_mf_destroy(NULL);
    fr_dataset_destroy(&raw);
    fr_dataset_destroy(&empty);
}

static void
test_split_counts(void **state)
{
    fr_dataset *d = NULL;
    fr_mf *mf = NULL;
    fr_model *m = new_model(8, 4, 1);
    fr_eval_result r;
    (void)state;
    /* member 0: 3 items, member 1: 1 item (trains only), member 2: none */
    assert_int_equal(fr_dataset_new(&d, 8), FR_OK);
    assert_int_equal(fr_dataset_add(d, 0, 1, 1), FR_OK);
    assert_int_equal(fr_dataset_add(d, 0, 2, 2), FR_OK);
    assert_int_equal(fr_dataset_add(d, 0, 3, 3), FR_OK);
    assert_int_equal(fr_dataset_add(d, 1, 4, 1), FR_OK);
    assert_int_equal(fr_dataset_add(d, 3, 5, 1), FR_OK);
    assert_int_equal(fr_dataset_add(d, 3, 6, 1), FR_OK);
    assert_int_equal(fr_dataset_finalize(d), FR_OK);
    assert_int_equal(fr_mf_new(&mf, d, 4, 9), FR_OK);
    assert_int_equal(fr_mf_train_examples(mf), 2 + 1 + 1);
    assert_int_equal(fr_mf_evaluate(mf, m, &r), FR_OK);
    assert_int_equal(r.count, 2); /* members 0 and 3 */
    fr_mf_destroy(&mf);
    assert_null(mf);
    fr_dataset_destroy(&d);
    fr_model_destroy(&m);

    assert_int_equal(fr_mf_new(&mf, syn, DIM, 1), FR_OK);
    uint64_t held_out = 0;
    for (uint32_t u = 0; u < fr_dataset_n_members(syn); u++) {
        uint32_t n;
        (void)fr_dataset_member_items(syn, u, &n);
        held_out += n >= 2;
    }
    assert_int_equal(fr_mf_train_examples(mf),
                     fr_dataset_n_interactions(syn) - held_out);
    fr_mf_destroy(&mf);
}

/* ---- evaluation protocol ------------------------------------------------ */

static void
test_popularity_hand_computed(void **state)
{
    fr_dataset *d = make_tiny();
    fr_mf *mf = NULL;
    fr_eval_result r;
    (void)state;
    assert_int_equal(fr_mf_new(&mf, d, 3, 1), FR_OK);
    assert_int_equal(fr_mf_evaluate_popularity(mf, &r), FR_OK);
    /* member 0: item 5 (count 0) vs unseen {1, 2, 3, 4} = 4, 4, 0, 0;
     * ties count above, so rank 4. Members 1-4: item 3 (count 0: its
     * purchases are all held out) vs {0, 4, 5} = 1, 0, 0: rank 3. */
    assert_int_equal(r.count, 5);
    assert_true(r.hr == 1.0);
    assert_float_equal(r.ndcg, (1 / log2(6.0) + 4 / log2(5.0)) / 5, 1e-12);
    fr_mf_destroy(&mf);
    fr_dataset_destroy(&d);
}

static void
test_evaluate_hand_computed(void **state)
{
    fr_dataset *d = make_tiny();
    fr_mf *mf = NULL;
    fr_model *m = NULL;
    float p[5] = {1, 1, 1, 1, 1};
    size_t len;
    uint8_t *blob = members_blob(5, 1, p, &len);
    fr_eval_result r;
    (void)state;
    assert_int_equal(fr_mf_new(&mf, d, 1, 1), FR_OK);
    assert_int_equal(fr_mf_decode_members(mf, blob, len), FR_OK);
    assert_int_equal(fr_model_new(&m, 6, 1), FR_OK);
    for (uint32_t i = 0; i < 6; i++)
        fr_model_item_emb(m)[i] = 0.1f * (float)i; /* score(u, i) = i / 10 */
    /* member 0: 0.5 vs 0.1..0.4, rank 0; members 1-4: 0.3 vs 0, 0.4, 0.5,
     * rank 2, NDCG 0.5 */
    assert_int_equal(fr_mf_evaluate(mf, m, &r), FR_OK);
    assert_int_equal(r.count, 5);
    assert_true(r.hr == 1.0);
    assert_float_equal(r.ndcg, (1.0 + 4 * 0.5) / 5, 1e-12);
    /* biases count: lifting item 0 above item 3 costs members 1-4 a rank */
    fr_model_item_bias(m)[0] = 0.35f;
    assert_int_equal(fr_mf_evaluate(mf, m, &r), FR_OK);
    assert_float_equal(r.ndcg, (1.0 + 4 / log2(5.0)) / 5, 1e-12);
    free(blob);
    fr_mf_destroy(&mf);
    fr_model_destroy(&m);
    fr_dataset_destroy(&d);
}

/* ---- training ----------------------------------------------------------- */

static void
train_rounds(fr_mf *mf, fr_model *m, uint32_t rounds)
{
    fr_mf_opts o;
    double loss = -1;

    fr_mf_opts_default(&o);
    for (uint32_t r = 0; r < rounds; r++) {
        o.seed = 100 + r;
        assert_int_equal(fr_mf_train(mf, m, &o, &loss), FR_OK);
        assert_true(isfinite(loss) && loss > 0);
    }
}

static void
test_training_learns(void **state)
{
    fr_mf *mf = NULL;
    fr_model *m = new_model(SYN_ITEMS, DIM, 7);
    fr_eval_result before, after, pop;
    double loss0, loss1;
    (void)state;
    assert_int_equal(fr_mf_new(&mf, syn, DIM, 3), FR_OK);
    assert_int_equal(fr_mf_loss(mf, m, 5, &loss0), FR_OK);
    assert_int_equal(fr_mf_evaluate(mf, m, &before), FR_OK);
    assert_int_equal(fr_mf_evaluate_popularity(mf, &pop), FR_OK);
    train_rounds(mf, m, 12);
    assert_int_equal(fr_mf_loss(mf, m, 5, &loss1), FR_OK);
    assert_int_equal(fr_mf_evaluate(mf, m, &after), FR_OK);
    print_message("loss %.4f -> %.4f; HR@10 %.3f -> %.3f (popularity %.3f), "
                  "NDCG@10 %.3f (popularity %.3f)\n", loss0, loss1, before.hr,
                  after.hr, pop.hr, after.ndcg, pop.ndcg);
    assert_true(loss1 < 0.75 * loss0);
    assert_int_equal(after.count, pop.count);
    assert_true(after.hr >= pop.hr + 0.05);
    assert_true(after.ndcg >= pop.ndcg + 0.05);
    fr_mf_destroy(&mf);
    fr_model_destroy(&m);
}

static void
test_training_is_deterministic(void **state)
{
    fr_mf *a = NULL, *b = NULL;
    fr_model *ma = new_model(SYN_ITEMS, DIM, 7);
    fr_model *mb = new_model(SYN_ITEMS, DIM, 7);
    fr_mf_opts o;
    double la, lb;
    (void)state;
    fr_mf_opts_default(&o);
    assert_int_equal(fr_mf_new(&a, syn, DIM, 3), FR_OK);
    assert_int_equal(fr_mf_new(&b, syn, DIM, 3), FR_OK);
    assert_int_equal(fr_mf_train(a, ma, &o, &la), FR_OK);
    assert_int_equal(fr_mf_train(b, mb, &o, &lb), FR_OK);
    assert_true(la == lb);
    assert_memory_equal(fr_model_params(ma), fr_model_params(mb),
                        fr_model_n_params(ma) * sizeof(float));
    float *pa = members_of(a, SYN_MEMBERS, DIM);
    float *pb = members_of(b, SYN_MEMBERS, DIM);
    assert_memory_equal(pa, pb, (size_t)SYN_MEMBERS * DIM * sizeof(float));
    /* and the seed matters */
    o.seed++;
    assert_int_equal(fr_mf_train(a, ma, &o, &la), FR_OK);
    o.seed += 7;
    assert_int_equal(fr_mf_train(b, mb, &o, &lb), FR_OK);
    assert_memory_not_equal(fr_model_params(ma), fr_model_params(mb),
                            fr_model_n_params(ma) * sizeof(float));
    free(pa);
    free(pb);
    fr_mf_destroy(&a);
    fr_mf_destroy(&b);
    fr_model_destroy(&ma);
    fr_model_destroy(&mb);
}

static void
test_train_rejects_bad_input(void **state)
{
    fr_mf *mf = NULL;
    fr_model *m = new_model(SYN_ITEMS, DIM, 7);
    fr_model *wrong = new_model(SYN_ITEMS, DIM / 2, 7);
    fr_model *wrong_items = new_model(SYN_ITEMS + 1, DIM, 7);
    fr_model *orig = NULL;
    fr_mf_opts o, bad;
    double loss = 0;
    (void)state;
    fr_mf_opts_default(&o);
    assert_int_equal(fr_mf_new(&mf, syn, DIM, 3), FR_OK);
    assert_int_equal(fr_model_dup(m, &orig), FR_OK);
    assert_int_equal(fr_mf_train(mf, wrong, &o, NULL), FR_EINVAL);
    assert_int_equal(fr_mf_train(mf, wrong_items, &o, NULL), FR_EINVAL);
    assert_int_equal(fr_mf_loss(mf, wrong, 1, &loss), FR_EINVAL);
    fr_eval_result r;
    assert_int_equal(fr_mf_evaluate(mf, wrong_items, &r), FR_EINVAL);
    bad = o, bad.epochs = 0;
    assert_int_equal(fr_mf_train(mf, m, &bad, NULL), FR_EINVAL);
    bad = o, bad.lr = 0;
    assert_int_equal(fr_mf_train(mf, m, &bad, NULL), FR_EINVAL);
    bad = o, bad.lr = NAN;
    assert_int_equal(fr_mf_train(mf, m, &bad, NULL), FR_EINVAL);
    bad = o, bad.l2 = -1;
    assert_int_equal(fr_mf_train(mf, m, &bad, NULL), FR_EINVAL);
    bad = o, bad.negatives = 0;
    assert_int_equal(fr_mf_train(mf, m, &bad, NULL), FR_EINVAL);
    bad = o, bad.batch_size = 0;
    assert_int_equal(fr_mf_train(mf, m, &bad, NULL), FR_EINVAL);
    /* nothing was touched by the rejected calls */
    assert_memory_equal(fr_model_params(m), fr_model_params(orig),
                        fr_model_n_params(m) * sizeof(float));
    fr_mf_destroy(&mf);
    fr_model_destroy(&m);
    fr_model_destroy(&orig);
    fr_model_destroy(&wrong);
    fr_model_destroy(&wrong_items);
}

static void
test_divergence_is_reported(void **state)
{
    fr_mf *mf = NULL;
    fr_model *m = new_model(SYN_ITEMS, DIM, 7);
    fr_mf_opts o;
    double loss = 42;
    (void)state;
    fr_mf_opts_default(&o);
    o.lr = 1e6f; /* far past any stable step size */
    o.l2 = 0;
    o.epochs = 20;
    assert_int_equal(fr_mf_new(&mf, syn, DIM, 3), FR_OK);
    float *p0 = members_of(mf, SYN_MEMBERS, DIM);
    assert_int_equal(fr_mf_train(mf, m, &o, &loss), FR_ESTATE);
    assert_true(loss == 42); /* not published */
    float *p1 = members_of(mf, SYN_MEMBERS, DIM);
    assert_memory_equal(p0, p1, (size_t)SYN_MEMBERS * DIM * sizeof(float));
    free(p0);
    free(p1);
    fr_mf_destroy(&mf);
    fr_model_destroy(&m);
}

/* ---- member embeddings on disk ------------------------------------------ */

static void
test_members_round_trip(void **state)
{
    fr_mf *a = NULL, *b = NULL;
    uint8_t *ea = NULL, *eb = NULL;
    size_t la, lb;
    (void)state;
    assert_int_equal(fr_mf_new(&a, syn, DIM, 3), FR_OK);
    assert_int_equal(fr_mf_new(&b, syn, DIM, 4), FR_OK);
    assert_int_equal(fr_mf_encode_members(a, &ea, &la), FR_OK);
    assert_int_equal(fr_mf_encode_members(b, &eb, &lb), FR_OK);
    assert_int_equal(la, lb);
    assert_memory_not_equal(ea, eb, la); /* the seed sets the init */
    free(eb);
    assert_int_equal(fr_mf_decode_members(b, ea, la), FR_OK);
    assert_int_equal(fr_mf_encode_members(b, &eb, &lb), FR_OK);
    assert_memory_equal(ea, eb, la);
    free(ea);
    free(eb);
    fr_mf_destroy(&a);
    fr_mf_destroy(&b);
}

static void
expect_members_rejected(fr_mf *mf, const uint8_t *buf, size_t len)
{
    uint8_t *before = NULL, *after = NULL;
    size_t lb, la;

    assert_int_equal(fr_mf_encode_members(mf, &before, &lb), FR_OK);
    assert_int_equal(fr_mf_decode_members(mf, buf, len), FR_EPROTO);
    assert_int_equal(fr_mf_encode_members(mf, &after, &la), FR_OK);
    assert_memory_equal(before, after, lb);
    free(before);
    free(after);
}

static void
test_members_rejects_bad_input(void **state)
{
    fr_mf *mf = NULL, *other = NULL;
    uint8_t *buf = NULL;
    size_t len;
    (void)state;
    assert_int_equal(fr_mf_new(&mf, syn, DIM, 3), FR_OK);
    assert_int_equal(fr_mf_new(&other, syn, DIM / 2, 3), FR_OK);
    /* shape mismatch: another dim */
    assert_int_equal(fr_mf_encode_members(other, &buf, &len), FR_OK);
    expect_members_rejected(mf, buf, len);
    free(buf);
    /* shape mismatch: one member fewer, CRC correct */
    float *p = members_of(mf, SYN_MEMBERS, DIM);
    for (size_t i = 0; i < (size_t)SYN_MEMBERS * DIM; i++)
        p[i] = -p[i]; /* so an accepted decode would show */
    buf = members_blob(SYN_MEMBERS - 1, DIM, p, &len);
    expect_members_rejected(mf, buf, len);
    free(buf);
    /* the right shape decodes; then damaged copies of it do not */
    buf = members_blob(SYN_MEMBERS, DIM, p, &len);
    for (size_t i = 0; i < len; i += 97) {
        buf[i] ^= 0x01;
        expect_members_rejected(mf, buf, len);
        buf[i] ^= 0x01;
    }
    expect_members_rejected(mf, buf, len - 1);
    expect_members_rejected(mf, buf, 10);
    expect_members_rejected(mf, NULL, 0);
    p[5] = NAN;
    free(buf);
    buf = members_blob(SYN_MEMBERS, DIM, p, &len);
    expect_members_rejected(mf, buf, len);
    free(buf);
    p[5] = 0;
    buf = members_blob(SYN_MEMBERS, DIM, p, &len);
    assert_int_equal(fr_mf_decode_members(mf, buf, len), FR_OK);
    float *q = members_of(mf, SYN_MEMBERS, DIM);
    assert_memory_equal(p, q, (size_t)SYN_MEMBERS * DIM * sizeof(float));
    free(q);
    free(buf);
    free(p);
    fr_mf_destroy(&mf);
    fr_mf_destroy(&other);
}

/* ---- recommendations ---------------------------------------------------- */

static int
member_has(const fr_dataset *d, uint32_t u, uint32_t item)
{
    uint32_t n;
    const uint32_t *it = fr_dataset_member_items(d, u, &n);
    for (uint32_t k = 0; k < n; k++)
        if (it[k] == item)
            return 1;
    return 0;
}

static float
score(const fr_model *m, const float *p, uint32_t u, uint32_t i)
{
    double s = fr_model_item_bias_const(m)[i];
    for (uint32_t t = 0; t < DIM; t++)
        s += (double)p[u * DIM + t] * fr_model_item_emb_const(m)[i * DIM + t];
    return (float)s;
}

/* Checks the top-k list for u against a brute-force scoring. */
static void
check_recommendations(const fr_mf *mf, const fr_model *m, uint32_t u,
                      uint32_t k)
{
    uint32_t items[SYN_ITEMS], n = 0, chosen[SYN_ITEMS] = {0};
    float scores[SYN_ITEMS];
    float *p = members_of(mf, SYN_MEMBERS, DIM);

    assert_int_equal(fr_mf_recommend(mf, m, u, k, items, scores, &n), FR_OK);
    assert_int_equal(n, k);
    for (uint32_t t = 0; t < n; t++) {
        assert_false(member_has(syn, u, items[t]));
        assert_false(chosen[items[t]]);
        chosen[items[t]] = 1;
        assert_float_equal(scores[t], score(m, p, u, items[t]), 1e-4);
        if (t > 0)
            assert_true(scores[t - 1] >= scores[t]);
    }
    /* nothing left out scores clearly better than the last one taken */
    for (uint32_t i = 0; i < SYN_ITEMS; i++)
        if (!chosen[i] && !member_has(syn, u, i))
            assert_true(score(m, p, u, i) <= scores[n - 1] + 1e-4f);
    free(p);
}

static void
test_recommend(void **state)
{
    fr_mf *mf = NULL;
    fr_model *m = new_model(SYN_ITEMS, DIM, 7);
    (void)state;
    assert_int_equal(fr_mf_new(&mf, syn, DIM, 3), FR_OK);
    train_rounds(mf, m, 3);
    for (uint32_t u = 0; u < SYN_MEMBERS; u += 37)
        check_recommendations(mf, m, u, 10);
    check_recommendations(mf, m, 1, 1);
    fr_mf_destroy(&mf);
    fr_model_destroy(&m);
}

static void
test_recommend_edges(void **state)
{
    fr_mf *mf = NULL;
    fr_model *zero = NULL, *wrong = new_model(SYN_ITEMS, DIM + 1, 1);
    uint32_t items[SYN_ITEMS + 5], n = 77, seen;
    float scores[SYN_ITEMS + 5];
    (void)state;
    assert_int_equal(fr_mf_new(&mf, syn, DIM, 3), FR_OK);
    assert_int_equal(fr_model_new(&zero, SYN_ITEMS, DIM), FR_OK);
    assert_int_equal(fr_mf_recommend(mf, zero, SYN_MEMBERS, 5, items, scores,
                                     &n), FR_ENOENT);
    assert_int_equal(fr_mf_recommend(mf, wrong, 0, 5, items, scores, &n),
                     FR_EINVAL);
    /* all scores tie on a zero model: lowest unseen ids, ascending */
    assert_int_equal(fr_mf_recommend(mf, zero, 2, 20, items, scores, &n),
                     FR_OK);
    assert_int_equal(n, 20);
    for (uint32_t t = 0, i = 0; t < n; t++, i++) {
        while (member_has(syn, 2, i))
            i++;
        assert_int_equal(items[t], i);
        assert_true(scores[t] == 0.0f);
    }
    /* asking for more than is left returns what is left */
    (void)fr_dataset_member_items(syn, 4, &seen);
    assert_int_equal(fr_mf_recommend(mf, zero, 4, SYN_ITEMS + 5, items,
                                     scores, &n), FR_OK);
    assert_int_equal(n, SYN_ITEMS - seen);
    assert_int_equal(fr_mf_recommend(mf, zero, 4, 0, items, scores, &n),
                     FR_OK);
    assert_int_equal(n, 0);
    fr_mf_destroy(&mf);
    fr_model_destroy(&zero);
    fr_model_destroy(&wrong);
}

/* ---- hold-out rules ----------------------------------------------------- */

static void
test_holdout_rules(void **state)
{
    fr_mf *latest = NULL, *r1 = NULL, *r1b = NULL, *r2 = NULL, *none = NULL;
    fr_model *m = new_model(SYN_ITEMS, DIM, 7);
    fr_eval_result e;
    uint32_t differ = 0, moved = 0, held = 0;
    (void)state;
    assert_int_equal(fr_mf_new_holdout(&latest, syn, DIM, 3,
                                       (fr_mf_holdout)7), FR_EINVAL);
    assert_int_equal(fr_mf_new_holdout(&latest, syn, DIM, 3,
                                       FR_MF_HOLDOUT_LATEST), FR_OK);
    assert_int_equal(fr_mf_new_holdout(&r1, syn, DIM, 3,
                                       FR_MF_HOLDOUT_RANDOM), FR_OK);
    assert_int_equal(fr_mf_new_holdout(&r1b, syn, DIM, 3,
                                       FR_MF_HOLDOUT_RANDOM), FR_OK);
    assert_int_equal(fr_mf_new_holdout(&r2, syn, DIM, 4,
                                       FR_MF_HOLDOUT_RANDOM), FR_OK);
    assert_int_equal(fr_mf_new_holdout(&none, syn, DIM, 3,
                                       FR_MF_HOLDOUT_NONE), FR_OK);
    assert_int_equal(fr_mf_n_members(r1), SYN_MEMBERS);
    for (uint32_t u = 0; u < SYN_MEMBERS; u++) {
        uint32_t t = r1->test_item[u];
        assert_true(t != NO_ITEM); /* every synthetic member has >= 8 */
        assert_true(fr_mf_member_has(r1, u, t));
        held++;
        moved += t != latest->test_item[u];
        differ += t != r2->test_item[u];
        assert_int_equal(t, r1b->test_item[u]); /* deterministic */
        assert_int_equal(none->test_item[u], NO_ITEM);
    }
    /* one of 8-32 items: a random pick is rarely the latest */
    assert_true(moved > held / 2);
    assert_true(differ > held / 2);
    assert_int_equal(fr_mf_train_examples(r1), fr_mf_train_examples(latest));
    assert_int_equal(fr_mf_train_examples(none),
                     fr_dataset_n_interactions(syn));
    assert_int_equal(fr_mf_evaluate(none, m, &e), FR_OK);
    assert_int_equal(e.count, 0);
    assert_int_equal(fr_mf_evaluate(r1, m, &e), FR_OK);
    assert_int_equal(e.count, SYN_MEMBERS);
    /* same seed, same split and negatives: the same figures, bit for bit */
    fr_eval_result e2;
    assert_int_equal(fr_mf_evaluate(r1b, m, &e2), FR_OK);
    assert_true(e.hr == e2.hr && e.ndcg == e2.ndcg && e.count == e2.count);
    fr_mf_destroy(&latest);
    fr_mf_destroy(&r1);
    fr_mf_destroy(&r1b);
    fr_mf_destroy(&r2);
    fr_mf_destroy(&none);
    fr_model_destroy(&m);
}

static void
test_holdout_none_trains_everything(void **state)
{
    fr_mf *mf = NULL;
    fr_model *m = new_model(SYN_ITEMS, DIM, 7);
    fr_mf_opts o;
    double loss;
    (void)state;
    fr_mf_opts_default(&o);
    assert_int_equal(fr_mf_new_holdout(&mf, syn, DIM, 3, FR_MF_HOLDOUT_NONE),
                     FR_OK);
    assert_int_equal(fr_mf_train_examples(mf),
                     fr_dataset_n_interactions(syn));
    assert_int_equal(fr_mf_train(mf, m, &o, &loss), FR_OK);
    assert_true(isfinite(loss));
    fr_mf_destroy(&mf);
    fr_model_destroy(&m);
}

/* ---- one scoring path --------------------------------------------------- */

static void
test_score_matches_recommend(void **state)
{
    fr_mf *mf = NULL;
    fr_model *m = new_model(SYN_ITEMS, DIM, 7);
    fr_model *wrong = new_model(SYN_ITEMS, DIM + 1, 7);
    uint32_t items[10], n, bad = SYN_ITEMS;
    float rec[10], sc[10];
    float *p;
    (void)state;
    assert_int_equal(fr_mf_new(&mf, syn, DIM, 3), FR_OK);
    train_rounds(mf, m, 3);
    p = members_of(mf, SYN_MEMBERS, DIM);
    for (uint32_t u = 0; u < SYN_MEMBERS; u += 29) {
        assert_int_equal(fr_mf_recommend(mf, m, u, 10, items, rec, &n),
                         FR_OK);
        assert_int_equal(fr_mf_score(mf, m, u, items, n, sc), FR_OK);
        assert_memory_equal(rec, sc, n * sizeof(float)); /* bit-identical */
        for (uint32_t t = 0; t < n; t++)
            assert_float_equal(sc[t], score(m, p, u, items[t]), 1e-4);
    }
    assert_int_equal(fr_mf_score(mf, m, SYN_MEMBERS, items, 1, sc),
                     FR_ENOENT);
    assert_int_equal(fr_mf_score(mf, m, 0, &bad, 1, sc), FR_EINVAL);
    assert_int_equal(fr_mf_score(mf, wrong, 0, items, 1, sc), FR_EINVAL);
    assert_int_equal(fr_mf_score(mf, m, 0, items, 0, sc), FR_OK);
    free(p);
    fr_mf_destroy(&mf);
    fr_model_destroy(&m);
    fr_model_destroy(&wrong);
}

static void
test_member_has(void **state)
{
    fr_mf *mf = NULL;
    (void)state;
    assert_int_equal(fr_mf_new(&mf, syn, DIM, 3), FR_OK);
    for (uint32_t u = 0; u < SYN_MEMBERS; u += 7)
        for (uint32_t i = 0; i < SYN_ITEMS; i++)
            assert_int_equal(!!fr_mf_member_has(mf, u, i),
                             member_has(syn, u, i));
    assert_false(fr_mf_member_has(mf, SYN_MEMBERS, 0));
    assert_false(fr_mf_member_has(mf, 0, SYN_ITEMS));
    fr_mf_destroy(&mf);
}

static void
test_segment(void **state)
{
    fr_mf *mf = NULL;
    fr_model *m = new_model(SYN_ITEMS, DIM, 7);
    uint32_t members[SYN_MEMBERS], n, chosen[SYN_MEMBERS];
    float scores[SYN_MEMBERS], s;
    (void)state;
    assert_int_equal(fr_mf_new(&mf, syn, DIM, 3), FR_OK);
    train_rounds(mf, m, 3);
    for (uint32_t i = 0; i < SYN_ITEMS; i += 31) {
        uint32_t owners = 0;
        for (uint32_t u = 0; u < SYN_MEMBERS; u++)
            owners += member_has(syn, u, i);
        assert_int_equal(fr_mf_segment(mf, m, i, 25, members, scores, &n),
                         FR_OK);
        assert_int_equal(n, SYN_MEMBERS - owners < 25 ? SYN_MEMBERS - owners
                                                       : 25);
        memset(chosen, 0, sizeof chosen);
        for (uint32_t t = 0; t < n; t++) {
            assert_false(member_has(syn, members[t], i));
            assert_false(chosen[members[t]]);
            chosen[members[t]] = 1;
            assert_int_equal(fr_mf_score(mf, m, members[t], &i, 1, &s), FR_OK);
            assert_memory_equal(&s, &scores[t], sizeof s);
            if (t > 0)
                assert_true(scores[t - 1] > scores[t] ||
                            (scores[t - 1] == scores[t] &&
                             members[t - 1] < members[t]));
        }
        for (uint32_t u = 0; u < SYN_MEMBERS; u++) {
            if (chosen[u] || member_has(syn, u, i))
                continue;
            assert_int_equal(fr_mf_score(mf, m, u, &i, 1, &s), FR_OK);
            assert_true(s <= scores[n - 1]);
        }
    }
    /* every non-owner when k is large */
    assert_int_equal(fr_mf_segment(mf, m, 0, SYN_MEMBERS, members, scores, &n),
                     FR_OK);
    uint32_t owners0 = 0;
    for (uint32_t u = 0; u < SYN_MEMBERS; u++)
        owners0 += member_has(syn, u, 0);
    assert_int_equal(n, SYN_MEMBERS - owners0);
    assert_int_equal(fr_mf_segment(mf, m, SYN_ITEMS, 5, members, scores, &n),
                     FR_EINVAL);
    fr_mf_destroy(&mf);
    fr_model_destroy(&m);
}

/* ---- refitting members to a fixed model --------------------------------- */

static void
test_fit_members(void **state)
{
    fr_mf *trained = NULL, *fresh = NULL;
    fr_model *m = new_model(SYN_ITEMS, DIM, 7), *orig = NULL;
    fr_mf_opts o;
    double loss0, loss1, fit_loss;
    fr_eval_result before, after;
    (void)state;
    assert_int_equal(fr_mf_new(&trained, syn, DIM, 3), FR_OK);
    train_rounds(trained, m, 8);
    /* a store that never trained receives the model */
    assert_int_equal(fr_mf_new(&fresh, syn, DIM, 11), FR_OK);
    assert_int_equal(fr_model_dup(m, &orig), FR_OK);
    assert_int_equal(fr_mf_loss(fresh, m, 5, &loss0), FR_OK);
    assert_int_equal(fr_mf_evaluate(fresh, m, &before), FR_OK);
    fr_mf_opts_default(&o);
    o.epochs = 5;
    assert_int_equal(fr_mf_fit_members(fresh, m, &o, &fit_loss), FR_OK);
    assert_true(isfinite(fit_loss));
    assert_int_equal(fr_mf_loss(fresh, m, 5, &loss1), FR_OK);
    assert_int_equal(fr_mf_evaluate(fresh, m, &after), FR_OK);
    print_message("refit: loss %.4f -> %.4f; HR@10 %.3f -> %.3f\n", loss0,
                  loss1, before.hr, after.hr);
    assert_true(loss1 < 0.8 * loss0);
    assert_true(after.hr > before.hr);
    assert_memory_equal(fr_model_params(m), fr_model_params(orig),
                        fr_model_n_params(m) * sizeof(float));
    /* the same checks as training */
    o.epochs = 0;
    assert_int_equal(fr_mf_fit_members(fresh, m, &o, NULL), FR_EINVAL);
    fr_model *wrong = new_model(SYN_ITEMS, DIM / 2, 7);
    fr_mf_opts_default(&o);
    assert_int_equal(fr_mf_fit_members(fresh, wrong, &o, NULL), FR_EINVAL);
    fr_model_destroy(&wrong);
    fr_mf_destroy(&trained);
    fr_mf_destroy(&fresh);
    fr_model_destroy(&m);
    fr_model_destroy(&orig);
}

/* Every loss learns the synthetic store better than popularity. */
static void
test_every_loss_learns(void **state)
{
    (void)state;
    for (uint32_t loss = 0; loss < FR_MF_LOSS_COUNT; loss++) {
        fr_mf *mf = NULL;
        fr_model *m = new_model(SYN_ITEMS, DIM, 7);
        fr_eval_result after, pop;
        fr_mf_opts o;
        double l = 0;
        fr_mf_opts_default(&o);
        o.loss = loss;
        o.lr = 0.5f;
        o.epochs = 24;
        assert_int_equal(fr_mf_new(&mf, syn, DIM, 3), FR_OK);
        assert_int_equal(fr_mf_train(mf, m, &o, &l), FR_OK);
        assert_true(isfinite(l));
        assert_int_equal(fr_mf_evaluate(mf, m, &after), FR_OK);
        assert_int_equal(fr_mf_evaluate_popularity(mf, &pop), FR_OK);
        print_message("loss kind %u: HR@10 %.3f (popularity %.3f)\n", loss,
                      after.hr, pop.hr);
        assert_true(after.hr >= pop.hr + 0.05);
        o.loss = FR_MF_LOSS_COUNT;
        assert_int_equal(fr_mf_train(mf, m, &o, &l), FR_EINVAL);
        fr_mf_destroy(&mf);
        fr_model_destroy(&m);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_rejects_bad_input),
        cmocka_unit_test(test_split_counts),
        cmocka_unit_test(test_popularity_hand_computed),
        cmocka_unit_test(test_evaluate_hand_computed),
        cmocka_unit_test(test_training_learns),
        cmocka_unit_test(test_training_is_deterministic),
        cmocka_unit_test(test_train_rejects_bad_input),
        cmocka_unit_test(test_divergence_is_reported),
        cmocka_unit_test(test_members_round_trip),
        cmocka_unit_test(test_members_rejects_bad_input),
        cmocka_unit_test(test_recommend),
        cmocka_unit_test(test_recommend_edges),
        cmocka_unit_test(test_holdout_rules),
        cmocka_unit_test(test_holdout_none_trains_everything),
        cmocka_unit_test(test_score_matches_recommend),
        cmocka_unit_test(test_member_has),
        cmocka_unit_test(test_segment),
        cmocka_unit_test(test_fit_members),
        cmocka_unit_test(test_every_loss_learns),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
