/*
 * test_secagg.c - the SecAgg+ protocol end to end in one process: exact sums
 * with dropouts after every phase, clean aborts below the threshold, a lying
 * aggregator, replayed/forged/misaddressed/mis-sized messages, uniformity of
 * one store's masked vector, wiping of secrets, parameter checks, and the
 * fixed-point encoding through the secure sum.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "crypto/crypto.h"
#include "secagg/quant.h"
#include "secagg/secagg.h"

/* When a party stops answering: after it has done phase `drop`. */
enum { NEVER = 0, BEFORE_ADVERTISE = 1, AFTER_ADVERTISE, AFTER_SHARES,
       AFTER_MASKED, AFTER_SIGNED };

/* A lying aggregator edits request `phase` for party `to` before sending. */
typedef void (*tamper_fn)(void *ctx, uint32_t to, fr_sa_msg *req);

typedef struct world {
    fr_sa_params p;
    uint8_t seed[32];
    uint32_t n;
    fr_crypto_signkey **ids;
    uint8_t (*idpk)[32];
    fr_sa_client **c;
    fr_sa_server *s;
    uint32_t **in;
    int *drop;
    int *refused;     /* client refused at some request */
    uint32_t reveals; /* shares revealed to the aggregator in total */
    uint8_t (*sig)[FR_SA_SIG_BYTES]; /* each party's SIGNED reply */
    tamper_fn tamper;
    void *tamper_ctx;
    /* a lying store edits its reply before sending */
    void (*reply_tamper)(uint32_t from, fr_sa_msg *reply);
    const char *abort_why;
} world;

static void
world_init(world *w, uint32_t n, uint32_t k, uint32_t t, uint32_t words,
           uint64_t round)
{
    fr_rng rng;

    memset(w, 0, sizeof *w);
    assert_int_equal(fr_crypto_init(), FR_OK);
    w->n = n;
    fr_sa_graph_seed(w->seed, w->p.graph_commit);
    w->p.round_id = round;
    w->p.n = n;
    w->p.k = k;
    w->p.t = t;
    w->p.n_words = words;
    w->p.min_inputs = t;
    w->ids = calloc(n, sizeof *w->ids);
    w->idpk = calloc(n, 32);
    w->c = calloc(n, sizeof *w->c);
    w->in = calloc(n, sizeof *w->in);
    w->drop = calloc(n, sizeof *w->drop);
    w->refused = calloc(n, sizeof *w->refused);
    w->sig = calloc(n, sizeof *w->sig);
    fr_rng_seed(&rng, round * 7919 + n);
    for (uint32_t i = 0; i < n; i++) {
        assert_int_equal(fr_crypto_signkey_generate(&w->ids[i]), FR_OK);
        memcpy(w->idpk[i], fr_crypto_signkey_public(w->ids[i]), 32);
        assert_int_equal(fr_sa_client_new(&w->p, i, w->ids[i], &w->c[i]),
                         FR_OK);
        w->in[i] = malloc(words * sizeof **w->in);
        for (uint32_t j = 0; j < words; j++)
            w->in[i][j] = (uint32_t)fr_rng_next(&rng);
    }
    assert_int_equal(fr_sa_server_new(&w->p, w->seed,
                                      (const uint8_t(*)[32])w->idpk, &w->s),
                     FR_OK);
}

static void
world_free(world *w)
{
    for (uint32_t i = 0; i < w->n; i++) {
        fr_sa_client_destroy(&w->c[i]);
        fr_crypto_signkey_destroy(&w->ids[i]);
        free(w->in[i]);
    }
    fr_sa_server_destroy(&w->s);
    free(w->ids);
    free(w->idpk);
    free(w->c);
    free(w->in);
    free(w->drop);
    free(w->refused);
    free(w->sig);
}

static int
alive_for(const world *w, uint32_t i, int phase_done)
{
    return w->drop[i] == NEVER || w->drop[i] > phase_done;
}

/* Delivers a client's reply to the server; a refused reply is fine (the
 * party then counts as dropped). */
static void
deliver(world *w, uint32_t i, const fr_sa_msg *reply)
{
    const char *why = NULL;

    if (reply->phase == FR_SA_NONE)
        return;
    if (w->reply_tamper)
        w->reply_tamper(i, (fr_sa_msg *)reply);
    if (reply->phase == FR_SA_REVEAL)
        w->reveals += reply->n_reveals;
    if (reply->phase == FR_SA_SIGNED)
        memcpy(w->sig[i], reply->sig, FR_SA_SIG_BYTES);
    if (fr_sa_server_recv(w->s, i, reply, &why))
        assert_non_null(why); /* refused, with a reason */
}

/* Runs the whole protocol; returns FR_OK if the sum came out. */
static fr_err
world_run(world *w)
{
    fr_sa_msg req, reply;
    const char *why;
    fr_err rc;

    for (uint32_t i = 0; i < w->n; i++)
        if (w->drop[i] != BEFORE_ADVERTISE) {
            assert_int_equal(fr_sa_client_advertise(w->c[i], &reply), FR_OK);
            deliver(w, i, &reply);
        }
    /* SHARES, MASKED, SIGNED, REVEAL */
    for (int phase = AFTER_ADVERTISE; phase <= AFTER_SIGNED; phase++) {
        why = NULL;
        rc = fr_sa_server_advance(w->s, &why);
        if (rc) {
            w->abort_why = why;
            return rc;
        }
        for (uint32_t i = 0; i < w->n; i++) {
            if (fr_sa_server_request(w->s, i, &req))
                continue;
            if (!alive_for(w, i, phase))
                continue;
            if (w->tamper)
                w->tamper(w->tamper_ctx, i, &req);
            why = NULL;
            rc = fr_sa_client_recv(w->c[i], &req, &reply, &why);
            if (rc) {
                w->refused[i] = 1;
                assert_non_null(why);
                continue;
            }
            if (req.phase == FR_SA_MASK_REQ) {
                assert_int_equal(reply.phase, FR_SA_NONE);
                assert_true(fr_sa_client_wants_input(w->c[i]));
                if (w->drop[i] == AFTER_SHARES)
                    continue;
                assert_int_equal(fr_sa_client_mask(w->c[i], w->in[i],
                                                   &reply, &why), FR_OK);
            }
            deliver(w, i, &reply);
        }
    }
    why = NULL;
    rc = fr_sa_server_advance(w->s, &why);
    w->abort_why = why;
    return rc;
}

/* The sum must be exactly that of the inputs of the parties included. */
static void
check_sum(world *w, uint32_t expect_inputs)
{
    const uint32_t *sum;
    const uint8_t *inc;
    uint32_t n_in, *want = calloc(w->p.n_words, sizeof *want);

    assert_int_equal(fr_sa_server_result(w->s, &sum, &n_in, &inc), FR_OK);
    assert_int_equal(n_in, expect_inputs);
    for (uint32_t i = 0; i < w->n; i++) {
        int should = w->drop[i] == NEVER || w->drop[i] >= AFTER_MASKED;
        assert_int_equal(inc[i] != 0, should);
        if (should)
            for (uint32_t j = 0; j < w->p.n_words; j++)
                want[j] += w->in[i][j];
    }
    assert_memory_equal(sum, want, w->p.n_words * sizeof *want);
    free(want);
}

static void
test_no_dropout_full_and_sparse(void **state)
{
    world w;
    (void)state;

    world_init(&w, 6, 5, 3, 257, 1); /* full graph */
    assert_int_equal(world_run(&w), FR_OK);
    check_sum(&w, 6);
    for (uint32_t i = 0; i < w.n; i++)
        assert_false(fr_sa_client_holds_secrets(w.c[i]));
    world_free(&w);

    world_init(&w, 30, 8, 5, 1000, 2); /* sparse SecAgg+ graph */
    assert_int_equal(world_run(&w), FR_OK);
    check_sum(&w, 30);
    world_free(&w);
}

static void
test_dropout_after_each_phase(void **state)
{
    (void)state;
    for (int phase = BEFORE_ADVERTISE; phase <= AFTER_SIGNED; phase++) {
        world w;
        uint32_t included = 20;

        world_init(&w, 20, 8, 5, 333, 10 + (uint64_t)phase);
        w.drop[3] = phase;
        w.drop[11] = phase;
        if (phase < AFTER_MASKED)
            included -= 2;
        if (world_run(&w))
            print_error("phase %d: %s\n", phase, w.abort_why);
        assert_null(w.abort_why);
        check_sum(&w, included);
        world_free(&w);
    }
    /* Dropouts at several phases in one round, sum still exact. Five
     * stores drop, so k - 5 >= t must hold for every graph the random seed
     * may give. */
    {
        world w;
        world_init(&w, 24, 14, 8, 100, 40);
        w.drop[0] = BEFORE_ADVERTISE;
        w.drop[5] = AFTER_ADVERTISE;
        w.drop[9] = AFTER_SHARES;
        w.drop[14] = AFTER_MASKED;
        w.drop[20] = AFTER_SIGNED;
        if (world_run(&w))
            print_error("mixed: %s\n", w.abort_why);
        assert_null(w.abort_why);
        check_sum(&w, 21);
        world_free(&w);
    }
}

static void
test_below_threshold_aborts_without_revealing(void **state)
{
    (void)state;
    for (int phase = BEFORE_ADVERTISE; phase <= AFTER_SIGNED; phase++) {
        world w;
        const uint32_t *sum;

        /* 6 parties, full graph, t = 4: 3 dropping leaves 3 < t. */
        world_init(&w, 6, 5, 4, 64, 50 + (uint64_t)phase);
        w.drop[0] = w.drop[2] = w.drop[4] = phase;
        assert_int_equal(world_run(&w), FR_ESTATE);
        assert_non_null(w.abort_why);
        assert_int_equal(fr_sa_server_result(w.s, &sum, NULL, NULL),
                         FR_ESTATE);
        /* The round died before anyone was asked for a share; when the drop
         * came after signing, the 3 who remain each give one share per
         * peer, so no secret gets more than 3 < t shares: t - 1 points of
         * a degree t - 1 polynomial say nothing about its constant. */
        if (phase < AFTER_SIGNED)
            assert_int_equal(w.reveals, 0);
        else
            assert_true(w.reveals <= 3 * 5);
        world_free(&w);
    }
}

/* ---- a lying aggregator ---------------------------------------------------- */

typedef struct lie {
    int mode;
    uint32_t victim;
    world *w;
    fr_sa_reveal rev[64];
    fr_sa_sig sigs[64];
    uint8_t bitmap[8];
} lie;

enum { LIE_BOTH, LIE_WRONG_KIND, LIE_SPLIT_VIEW };

static void
lie_tamper(void *ctx, uint32_t to, fr_sa_msg *req)
{
    lie *l = ctx;

    if (l->mode == LIE_SPLIT_VIEW && req->phase == FR_SA_CONSIST &&
        to == 0) {
        /* Party 0 is told that `victim` dropped; everyone else that it
         * survived. */
        memcpy(l->bitmap, req->bitmap, req->bitmap_bytes);
        l->bitmap[l->victim / 8] &= (uint8_t)~(1u << (l->victim % 8));
        req->bitmap = l->bitmap;
    }
    if (l->mode == LIE_SPLIT_VIEW && req->phase == FR_SA_UNMASK) {
        /* The aggregator dropped party 0's signature (it does not verify
         * over the real U3); a lying one forwards it anyway, hoping the
         * others will not check. */
        memcpy(l->sigs, req->sigs, req->n_sigs * sizeof *l->sigs);
        l->sigs[req->n_sigs].index = 0;
        memcpy(l->sigs[req->n_sigs].sig, l->w->sig[0], FR_SA_SIG_BYTES);
        req->sigs = l->sigs;
        req->n_sigs++;
        return;
    }
    if (req->phase != FR_SA_UNMASK || req->n_reveals == 0 || to != 0)
        return;
    memcpy(l->rev, req->reveals, req->n_reveals * sizeof *l->rev);
    if (l->mode == LIE_BOTH) {
        /* Ask for the other kind of share too, for the first peer. */
        l->rev[req->n_reveals] = l->rev[0];
        l->rev[req->n_reveals].kind =
            l->rev[0].kind == FR_SA_SHARE_B ? FR_SA_SHARE_S : FR_SA_SHARE_B;
        req->n_reveals++;
    } else if (l->mode == LIE_WRONG_KIND) {
        l->rev[0].kind = FR_SA_SHARE_S; /* peer 0's neighbour survived */
    }
    req->reveals = l->rev;
}

static void
test_lying_aggregator_never_gets_both_shares(void **state)
{
    (void)state;
    for (int mode = LIE_BOTH; mode <= LIE_SPLIT_VIEW; mode++) {
        world w;
        lie l = {.mode = mode};
        uint32_t nb[5];

        world_init(&w, 6, 5, 3, 32, 70 + (uint64_t)mode);
        assert_int_equal(fr_sa_neighbours(w.seed, 6, 5, 0, nb), FR_OK);
        l.victim = nb[0];
        w.tamper = lie_tamper;
        w.tamper_ctx = &l;
        l.w = &w;
        (void)world_run(&w);
        if (mode != LIE_SPLIT_VIEW) {
            /* Party 0 refused to reveal anything, and wiped its secrets. */
            assert_true(w.refused[0]);
            assert_false(fr_sa_client_holds_secrets(w.c[0]));
        } else {
            /* Party 0 signed a different survivor set: every other party
             * sees that signature fail and refuses; nothing is revealed. */
            for (uint32_t i = 1; i < 6; i++)
                assert_true(w.refused[i]);
            assert_int_equal(w.reveals, 0);
            assert_int_equal(fr_sa_server_result(w.s, NULL, NULL, NULL),
                             FR_ESTATE);
        }
        world_free(&w);
    }
}

/* ---- bad messages -------------------------------------------------------------- */

static void
test_forged_replayed_misaddressed_and_missized(void **state)
{
    world a, b;
    fr_sa_msg adv, req, reply, bad;
    fr_sa_keys k;
    fr_sa_cipher ct[8];
    uint32_t *short_words;
    const char *why;
    (void)state;

    /* Forged key signature: refused, the party is dropped, round goes on. */
    world_init(&a, 8, 4, 3, 50, 100);
    assert_int_equal(fr_sa_client_advertise(a.c[2], &adv), FR_OK);
    k = adv.keys[0];
    k.sig[7] ^= 1;
    bad = adv;
    bad.keys = &k;
    why = NULL;
    assert_int_equal(fr_sa_server_recv(a.s, 2, &bad, &why), FR_EAUTH);
    assert_non_null(why);
    /* Keys claimed for another party, from party 2's connection. */
    k = adv.keys[0];
    k.index = 3;
    bad.keys = &k;
    assert_int_equal(fr_sa_server_recv(a.s, 2, &bad, &why), FR_EPROTO);
    a.drop[2] = BEFORE_ADVERTISE; /* world_run will not advertise it again */
    assert_int_equal(world_run(&a), FR_OK);
    check_sum(&a, 7);
    world_free(&a);

    /* Replay across rounds: round 201's KEYS request carries keys signed for
     * round 201; a client of round 202 with the same identities refuses. */
    world_init(&a, 6, 5, 3, 16, 201);
    world_init(&b, 6, 5, 3, 16, 202);
    for (uint32_t i = 0; i < 6; i++) {
        /* same identities in both rounds */
        fr_sa_client_destroy(&b.c[i]);
        memcpy(b.idpk[i], a.idpk[i], 32);
        assert_int_equal(fr_sa_client_new(&b.p, i, a.ids[i], &b.c[i]), FR_OK);
    }
    for (uint32_t i = 0; i < 6; i++) {
        assert_int_equal(fr_sa_client_advertise(a.c[i], &adv), FR_OK);
        assert_int_equal(fr_sa_server_recv(a.s, i, &adv, &why), FR_OK);
        assert_int_equal(fr_sa_client_advertise(b.c[i], &adv), FR_OK);
    }
    assert_int_equal(fr_sa_server_advance(a.s, &why), FR_OK);
    assert_int_equal(fr_sa_server_request(a.s, 1, &req), FR_OK);
    memcpy(req.graph_seed, b.seed, 32); /* pass the commitment check */
    why = NULL;
    assert_int_equal(fr_sa_client_recv(b.c[1], &req, &reply, &why), FR_EAUTH);
    assert_non_null(why);
    world_free(&b);

    /* Shares for the wrong recipient: party 1 gets party 2's ciphertexts
     * relabelled as its own. */
    for (uint32_t i = 0; i < 6; i++) {
        assert_int_equal(fr_sa_server_request(a.s, i, &req), FR_OK);
        assert_int_equal(fr_sa_client_recv(a.c[i], &req, &reply, &why),
                         FR_OK);
        assert_int_equal(fr_sa_server_recv(a.s, i, &reply, &why), FR_OK);
    }
    assert_int_equal(fr_sa_server_advance(a.s, &why), FR_OK);
    assert_int_equal(fr_sa_server_request(a.s, 2, &req), FR_OK);
    memcpy(ct, req.ciphers, req.n_ciphers * sizeof *ct);
    for (uint32_t e = 0; e < req.n_ciphers; e++)
        ct[e].to = 1;
    /* drop the one from party 1 to itself, which cannot exist */
    {
        uint32_t m = 0;
        for (uint32_t e = 0; e < req.n_ciphers; e++)
            if (ct[e].from != 1)
                ct[m++] = ct[e];
        bad = req;
        bad.ciphers = ct;
        bad.n_ciphers = m;
    }
    why = NULL;
    assert_int_equal(fr_sa_client_recv(a.c[1], &bad, &reply, &why), FR_EAUTH);
    assert_non_null(why);
    /* and a later, genuine request is refused: the client gave up */
    assert_int_equal(fr_sa_server_request(a.s, 1, &req), FR_OK);
    assert_int_equal(fr_sa_client_recv(a.c[1], &req, &reply, &why),
                     FR_ESTATE);

    /* Masked input of the wrong length: refused, round continues. */
    assert_int_equal(fr_sa_server_request(a.s, 0, &req), FR_OK);
    assert_int_equal(fr_sa_client_recv(a.c[0], &req, &reply, &why), FR_OK);
    assert_int_equal(fr_sa_client_mask(a.c[0], a.in[0], &reply, &why), FR_OK);
    short_words = malloc(15 * sizeof *short_words);
    memcpy(short_words, reply.words, 15 * sizeof *short_words);
    bad = reply;
    bad.words = short_words;
    bad.n_words = 15;
    assert_int_equal(fr_sa_server_recv(a.s, 0, &bad, &why), FR_EPROTO);
    free(short_words);
    /* A repeated reply and a reply for another phase are refused too. */
    assert_int_equal(fr_sa_server_recv(a.s, 0, &reply, &why), FR_OK);
    assert_int_equal(fr_sa_server_recv(a.s, 0, &reply, &why), FR_EPROTO);
    assert_int_equal(fr_sa_server_recv(a.s, 3, &adv, &why), FR_EPROTO);
    world_free(&a);
}

/* ---- what the aggregator sees of one store ------------------------------------- */

static void
test_masked_vector_looks_uniform(void **state)
{
    enum { D = 100000 };
    world w;
    fr_sa_msg req, reply;
    const char *why;
    double counts[256] = {0}, chi2 = 0, sx = 0, sy = 0, sxx = 0, syy = 0,
           sxy = 0, r;
    (void)state;

    world_init(&w, 5, 4, 3, D, 300);
    /* A very structured input: small values following a ramp. */
    for (uint32_t j = 0; j < D; j++)
        w.in[0][j] = j % 1000;
    for (uint32_t i = 0; i < 5; i++) {
        assert_int_equal(fr_sa_client_advertise(w.c[i], &reply), FR_OK);
        assert_int_equal(fr_sa_server_recv(w.s, i, &reply, &why), FR_OK);
    }
    assert_int_equal(fr_sa_server_advance(w.s, &why), FR_OK);
    for (uint32_t i = 0; i < 5; i++) {
        assert_int_equal(fr_sa_server_request(w.s, i, &req), FR_OK);
        assert_int_equal(fr_sa_client_recv(w.c[i], &req, &reply, &why),
                         FR_OK);
        assert_int_equal(fr_sa_server_recv(w.s, i, &reply, &why), FR_OK);
    }
    assert_int_equal(fr_sa_server_advance(w.s, &why), FR_OK);
    assert_int_equal(fr_sa_server_request(w.s, 0, &req), FR_OK);
    assert_int_equal(fr_sa_client_recv(w.c[0], &req, &reply, &why), FR_OK);
    assert_int_equal(fr_sa_client_mask(w.c[0], w.in[0], &reply, &why), FR_OK);

    /* Bytes: chi-square over 256 values, 400,000 samples, 255 degrees of
     * freedom. 400 is beyond p = 1e-8 for a uniform source. */
    for (uint32_t j = 0; j < D; j++)
        for (int b = 0; b < 4; b++)
            counts[(reply.words[j] >> (8 * b)) & 0xff] += 1;
    for (int v = 0; v < 256; v++) {
        double e = 4.0 * D / 256;
        chi2 += (counts[v] - e) * (counts[v] - e) / e;
    }
    assert_true(chi2 < 400.0);
    /* Correlation between the true and the masked words: |r| < 6/sqrt(D). */
    for (uint32_t j = 0; j < D; j++) {
        double x = w.in[0][j], y = reply.words[j];
        sx += x, sy += y, sxx += x * x, syy += y * y, sxy += x * y;
    }
    r = (D * sxy - sx * sy) / sqrt((D * sxx - sx * sx) * (D * syy - sy * sy));
    assert_true(fabs(r) < 6.0 / sqrt((double)D));
    /* And the unmasked input does fail the same byte test. */
    memset(counts, 0, sizeof counts);
    chi2 = 0;
    for (uint32_t j = 0; j < D; j++)
        for (int b = 0; b < 4; b++)
            counts[(w.in[0][j] >> (8 * b)) & 0xff] += 1;
    for (int v = 0; v < 256; v++) {
        double e = 4.0 * D / 256;
        chi2 += (counts[v] - e) * (counts[v] - e) / e;
    }
    assert_true(chi2 > 400.0);
    world_free(&w);
}

/* ---- secrets ----------------------------------------------------------------------- */

static void
test_secrets_wiped(void **state)
{
    world w;
    (void)state;

    world_init(&w, 8, 4, 3, 40, 400);
    w.drop[6] = AFTER_SHARES; /* holds shares and keys, never masks */
    assert_false(fr_sa_client_holds_secrets(w.c[0]));
    assert_int_equal(world_run(&w), FR_OK);
    check_sum(&w, 7);
    for (uint32_t i = 0; i < 8; i++)
        if (i != 6)
            assert_false(fr_sa_client_holds_secrets(w.c[i]));
    /* The store that went silent still holds them until destroyed. */
    assert_true(fr_sa_client_holds_secrets(w.c[6]));
    world_free(&w);
}

/* ---- parameters and graph --------------------------------------------------------------- */

static void
test_params_and_graph(void **state)
{
    char err[256];
    uint8_t seed[32], commit[32];
    uint32_t n = 101, k = 20, *g = malloc((size_t)n * k * sizeof *g);
    (void)state;

    assert_int_equal(fr_sa_check_params(100, 20, 11, 0.1, err, sizeof err),
                     FR_OK);
    assert_int_equal(fr_sa_check_params(100, 20, 10, 0.1, err, sizeof err),
                     FR_EINVAL); /* t <= k/2 */
    assert_non_null(strstr(err, "unsafe"));
    assert_int_equal(fr_sa_check_params(100, 20, 19, 0.1, err, sizeof err),
                     FR_EINVAL); /* cannot survive 10 % dropout */
    assert_int_equal(fr_sa_check_params(100, 21, 12, 0.1, err, sizeof err),
                     FR_EINVAL); /* odd, not full */
    assert_int_equal(fr_sa_check_params(10, 9, 5, 0.1, err, sizeof err),
                     FR_OK); /* full graph may be odd */
    assert_int_equal(fr_sa_check_params(10, 10, 6, 0.1, err, sizeof err),
                     FR_EINVAL);
    assert_int_equal(fr_sa_default_k(100), 20);
    assert_int_equal(fr_sa_default_k(5), 4);
    assert_int_equal(fr_sa_default_t(20), 11);
    assert_int_equal(fr_sa_check_params(1000, fr_sa_default_k(1000),
                                        fr_sa_default_t(fr_sa_default_k(1000)),
                                        0.1, err, sizeof err),
                     FR_OK);

    /* k-regular, symmetric, no self loops, deterministic per seed. */
    fr_sa_graph_seed(seed, commit);
    for (uint32_t i = 0; i < n; i++)
        assert_int_equal(fr_sa_neighbours(seed, n, k, i, g + (size_t)i * k),
                         FR_OK);
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t e = 0; e < k; e++) {
            uint32_t j = g[(size_t)i * k + e], found = 0;
            assert_true(j != i && j < n);
            if (e)
                assert_true(g[(size_t)i * k + e - 1] < j);
            for (uint32_t f = 0; f < k; f++)
                found += g[(size_t)j * k + f] == i;
            assert_int_equal(found, 1);
        }
    {
        uint32_t again[20], other[20];
        uint8_t seed2[32];
        int differs = 0;
        assert_int_equal(fr_sa_neighbours(seed, n, k, 7, again), FR_OK);
        assert_memory_equal(again, g + 7 * k, sizeof again);
        fr_sa_graph_seed(seed2, commit);
        for (uint32_t i = 0; i < n && !differs; i++) {
            assert_int_equal(fr_sa_neighbours(seed2, n, k, i, other), FR_OK);
            differs = memcmp(other, g + (size_t)i * k, sizeof other) != 0;
        }
        assert_true(differs);
    }
    free(g);
}

/* ---- fixed-point updates through the secure sum -------------------------------------- */

static void
test_quantised_mean_through_secure_sum(void **state)
{
    enum { N = 12, D = 500 };
    world w;
    fr_quant q;
    float x[N][D], mean[D];
    double want[D] = {0}, wsum = 0, bound;
    uint64_t weight_out;
    const uint32_t *sum;
    fr_rng rng;
    (void)state;

    assert_int_equal(fr_quant_init(&q, N, 5.0, 10000), FR_OK);
    world_init(&w, N, 6, 4, D + 1, 500);
    w.drop[4] = AFTER_SHARES; /* its update must not count */
    fr_rng_seed(&rng, 5);
    for (uint32_t i = 0; i < N; i++) {
        uint8_t coins[32];
        uint64_t weight = 100 + 37 * i;
        for (uint32_t j = 0; j < D; j++)
            x[i][j] = (float)(fr_rng_normal(&rng) * 0.05);
        fr_crypto_random(coins, sizeof coins);
        assert_int_equal(fr_quant_encode(&q, x[i], D, weight, coins, w.in[i],
                                         NULL), FR_OK);
        if (i != 4) {
            for (uint32_t j = 0; j < D; j++)
                want[j] += (double)weight * x[i][j];
            wsum += (double)weight;
        }
    }
    assert_int_equal(world_run(&w), FR_OK);
    assert_int_equal(fr_sa_server_result(w.s, &sum, NULL, NULL), FR_OK);
    assert_int_equal(fr_quant_decode_mean(&q, sum, D, mean, &weight_out),
                     FR_OK);
    assert_true((double)weight_out == wsum);
    bound = fr_quant_error_bound(&q, N - 1, weight_out);
    assert_true(bound < 1e-4);
    for (uint32_t j = 0; j < D; j++)
        assert_true(fabs(mean[j] - want[j] / wsum) <= bound + 1e-6);
    world_free(&w);
}

/* The last party (always in the last slot of its neighbours' rows, so
 * its shares are the spare ones) reveals a wrong share. */
static void
wrong_share(uint32_t from, fr_sa_msg *reply)
{
    if (from == 4 && reply->phase == FR_SA_REVEAL && reply->n_reveals)
        ((fr_sa_reveal *)reply->reveals)[0].y[0] ^= 1;
}

/* A share that disagrees with the others aborts the round: with exactly
 * t shares it would give a wrong secret and silently a wrong sum, so
 * every share beyond the first t is checked against them. */
static void
test_wrong_revealed_share_aborts(void **state)
{
    world w;

    (void)state;
    world_init(&w, 5, 4, 3, 8, 77);
    w.reply_tamper = wrong_share;
    assert_int_equal(world_run(&w), FR_ESTATE);
    assert_string_equal(w.abort_why, "revealed shares are inconsistent");
    world_free(&w);
    /* the same round without the lie completes */
    world_init(&w, 5, 4, 3, 8, 78);
    assert_int_equal(world_run(&w), FR_OK);
    check_sum(&w, 5);
    world_free(&w);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_dropout_full_and_sparse),
        cmocka_unit_test(test_dropout_after_each_phase),
        cmocka_unit_test(test_below_threshold_aborts_without_revealing),
        cmocka_unit_test(test_lying_aggregator_never_gets_both_shares),
        cmocka_unit_test(test_forged_replayed_misaddressed_and_missized),
        cmocka_unit_test(test_masked_vector_looks_uniform),
        cmocka_unit_test(test_secrets_wiped),
        cmocka_unit_test(test_params_and_graph),
        cmocka_unit_test(test_quantised_mean_through_secure_sum),
        cmocka_unit_test(test_wrong_revealed_share_aborts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
