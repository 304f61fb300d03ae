/*
 * test_failalloc_round.c - the round engine under a failing allocator: the
 * SecAgg+ phase handlers of both sides (a whole protocol run in-process) and
 * the aggregator running plain rounds (aggregator_on_message/tick, with the
 * network send stubbed by --wrap). For N = 1, 2, ... allocation N fails:
 * no crash, no leak (ASan), an error or a dropped party, never a wrong sum;
 * afterwards the same objects (or fresh ones) complete a round.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agg.h"
#include "aggconf.h"
#include "base/log.h"
#include "base/util.h"
#include "checkpoint.h"
#include "crypto/crypto.h"
#include "net/net.h"
#include "round_int.h"
#include "secagg/secagg.h"
#include "wire/wire.h"

#include "failalloc.h"

#define MAX_POINTS 200000ul

static void
report(const char *what, unsigned long points)
{
    printf("failalloc: %-28s %lu failure points\n", what, points);
    fflush(stdout);
}

/* ---- SecAgg+ in-process ------------------------------------------------- */

enum { N = 5, K = 4, T = 3, WORDS = 16 };

typedef struct world {
    fr_sa_params p;
    uint8_t seed[32];
    fr_crypto_signkey *ids[N];
    uint8_t idpk[N][32];
    fr_sa_client *c[N];
    fr_sa_server *s;
    uint32_t in[N][WORDS];
    int gone[N]; /* refused or failed: counts as dropped */
} world;

static void
world_init(world *w, uint64_t round)
{
    fr_rng rng;

    memset(w, 0, sizeof *w);
    fr_sa_graph_seed(w->seed, w->p.graph_commit);
    w->p.round_id = round;
    w->p.n = N;
    w->p.k = K;
    w->p.t = T;
    w->p.n_words = WORDS;
    w->p.min_inputs = T;
    fr_rng_seed(&rng, round);
    for (uint32_t i = 0; i < N; i++) {
        assert_int_equal(fr_crypto_signkey_generate(&w->ids[i]), FR_OK);
        memcpy(w->idpk[i], fr_crypto_signkey_public(w->ids[i]), 32);
        for (uint32_t j = 0; j < WORDS; j++)
            w->in[i][j] = (uint32_t)fr_rng_next(&rng);
    }
}

static void
world_free(world *w)
{
    for (uint32_t i = 0; i < N; i++) {
        fr_sa_client_destroy(&w->c[i]);
        fr_crypto_signkey_destroy(&w->ids[i]);
    }
    fr_sa_server_destroy(&w->s);
}

/* A party's call failed: only for lack of memory, and with a reason where
 * the call gives one; the party then drops out. */
static void
party_failed(world *w, uint32_t i, fr_err rc, const char *why)
{
    if (rc != FR_ENOMEM)
        fail_msg("party %u failed with %s (%s), not FR_ENOMEM", i,
                 fr_strerror(rc), why ? why : "-");
    w->gone[i] = 1;
}

static void
deliver(world *w, uint32_t i, const fr_sa_msg *reply)
{
    const char *why = NULL;
    fr_err rc;

    if (reply->phase == FR_SA_NONE)
        return;
    rc = fr_sa_server_recv(w->s, i, reply, &why);
    if (rc) /* refused: the party counts as dropped */
        party_failed(w, i, rc, why);
}

static void
one_phase(world *w)
{
    fr_sa_msg req, reply;
    const char *why;
    fr_err rc;

    for (uint32_t i = 0; i < N; i++) {
        if (w->gone[i] || fr_sa_server_request(w->s, i, &req))
            continue;
        why = NULL;
        rc = fr_sa_client_recv(w->c[i], &req, &reply, &why);
        if (rc) {
            party_failed(w, i, rc, why);
            continue;
        }
        if (req.phase == FR_SA_MASK_REQ) {
            rc = fr_sa_client_mask(w->c[i], w->in[i], &reply, &why);
            if (rc) {
                party_failed(w, i, rc, why);
                continue;
            }
        }
        deliver(w, i, &reply);
    }
}

/* The whole protocol, objects made under the failing allocator too. */
static int
op_secagg(void *p)
{
    world *w = p;
    fr_sa_msg reply;
    const char *why = NULL;
    fr_err rc;

    memset(w->gone, 0, sizeof w->gone);
    rc = fr_sa_server_new(&w->p, w->seed, (const uint8_t(*)[32])w->idpk,
                          &w->s);
    if (rc)
        return rc;
    for (uint32_t i = 0; i < N; i++) {
        rc = fr_sa_client_new(&w->p, i, w->ids[i], &w->c[i]);
        if (!rc)
            rc = fr_sa_client_advertise(w->c[i], &reply);
        if (rc) {
            party_failed(w, i, rc, NULL);
            continue;
        }
        deliver(w, i, &reply);
    }
    for (int phase = 0; phase < 4; phase++) {
        why = NULL;
        rc = fr_sa_server_advance(w->s, &why);
        if (rc) {
            assert_non_null(why);
            return rc;
        }
        one_phase(w);
    }
    why = NULL;
    rc = fr_sa_server_advance(w->s, &why);
    if (rc)
        assert_non_null(why);
    return rc;
}

/* A finished run gives the exact sum of the inputs it says it covers; then
 * the objects are freed (ASan checks nothing leaked). */
static void
check_secagg(void *p, int rc, int hit)
{
    world *w = p;
    const uint32_t *sum;
    const uint8_t *inc;
    uint32_t n_in, want[WORDS] = {0};

    if (rc == FR_OK) {
        assert_int_equal(fr_sa_server_result(w->s, &sum, &n_in, &inc), FR_OK);
        assert_true(n_in >= T);
        for (uint32_t i = 0; i < N; i++)
            if (inc[i])
                for (uint32_t j = 0; j < WORDS; j++)
                    want[j] += w->in[i][j];
        assert_memory_equal(sum, want, sizeof want);
        if (!hit)
            assert_int_equal(n_in, N);
    } else {
        /* an aborted round: no parties (or too few) got through */
        assert_true(hit);
        assert_true(rc == FR_ENOMEM || rc == FR_ESTATE || rc == FR_ELIMIT ||
                    rc == FR_EAUTH || rc == FR_EPROTO);
    }
    for (uint32_t i = 0; i < N; i++)
        fr_sa_client_destroy(&w->c[i]);
    fr_sa_server_destroy(&w->s);
}

static void
test_secagg_phases(void **state)
{
    world w;
    unsigned long n;
    (void)state;

    assert_int_equal(fr_crypto_init(), FR_OK);
    world_init(&w, 31);
    n = fr_failalloc_loop(op_secagg, check_secagg, &w, MAX_POINTS);
    report("secagg (5 parties, 4 phases)", n);
    assert_true(n > 20);
    world_free(&w);
}

/* ---- the aggregator's plain rounds -------------------------------------- */

/* The aggregator's sends succeed without a network (the round engine is
 * what is under test, not the socket). */
fr_err __wrap_fr_net_send(fr_net_sock *s, const fr_net_peer *peer,
                          const void *buf, size_t len);
fr_err __wrap_fr_net_send_shared(fr_net_sock *s,
                                 const fr_net_peer *const *peers, size_t n,
                                 const void *buf, size_t len, fr_err *rc_out);

fr_err
__wrap_fr_net_send(fr_net_sock *s, const fr_net_peer *peer, const void *buf,
                   size_t len)
{
    (void)s;
    (void)peer;
    (void)buf;
    (void)len;
    return FR_OK;
}

fr_err
__wrap_fr_net_send_shared(fr_net_sock *s, const fr_net_peer *const *peers,
                          size_t n, const void *buf, size_t len,
                          fr_err *rc_out)
{
    (void)s;
    (void)peers;
    (void)buf;
    (void)len;
    for (size_t i = 0; i < n; i++)
        rc_out[i] = FR_OK;
    return FR_OK;
}

enum { STORES = 3, ITEMS = 12, DIM = 4 };

typedef struct eng {
    agg_config cfg;
    char dir[64];
    aggregator *a;
    int64_t now;
    float emb[ITEMS * DIM], bias[ITEMS];
} eng;

static void
peer_of(int i, fr_net_peer *p)
{
    memset(p, 0, sizeof *p);
    p->id_len = 2;
    p->id[0] = 's';
    p->id[1] = (uint8_t)('0' + i);
    snprintf(p->store, sizeof p->store, "store%02d", i);
}

static void
send_hellos(eng *e)
{
    for (int i = 0; i < STORES; i++) {
        fr_net_peer p;
        fr_msg m = {.type = FR_MSG_HELLO, .round_id = 0};

        peer_of(i, &p);
        m.u.hello.num_examples = 100;
        aggregator_on_message(e->a, &p, &m, e->now);
    }
}

static void
send_updates(eng *e)
{
    for (int i = 0; i < STORES; i++) {
        fr_net_peer p;
        fr_msg m = {.type = FR_MSG_UPDATE, .round_id = e->a->round_id};

        peer_of(i, &p);
        m.u.update.num_examples = 100;
        m.u.update.n_items = ITEMS;
        m.u.update.dim = DIM;
        m.u.update.delta_emb = e->emb;
        m.u.update.delta_bias = e->bias;
        aggregator_on_message(e->a, &p, &m, e->now);
    }
}

/* One round: hellos, a tick that starts it, every store's update. */
static void
drive_round(eng *e)
{
    e->now += 1000;
    send_hellos(e);
    aggregator_tick(e->a, e->now);
    if (e->a->state == ST_COLLECTING)
        send_updates(e);
    aggregator_tick(e->a, e->now);
}

static void
clean_state(eng *e)
{
    char p[128];

    snprintf(p, sizeof p, "%s/checkpoint.bin", e->dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/history.tsv", e->dir);
    unlink(p);
}

static int
op_engine(void *p)
{
    eng *e = p;
    fr_err rc;

    clean_state(e);
    rc = aggregator_new(&e->a, &e->cfg, NULL, NULL, NULL);
    if (rc)
        return rc;
    drive_round(e);
    drive_round(e);
    return e->a->completed == 2 ? FR_OK : FR_ENOMEM;
}

/* After a failure the same aggregator (if it was made) completes rounds
 * once memory is back; then it is freed (ASan: nothing leaked). */
static void
check_engine(void *p, int rc, int hit)
{
    eng *e = p;
    checkpoint ck;
    char path[128];

    if (!hit)
        assert_int_equal(rc, FR_OK);
    if (!e->a) {
        assert_int_equal(rc, FR_ENOMEM);
        return;
    }
    for (int tries = 0; tries < 6 && e->a->completed < 2; tries++) {
        e->now += e->cfg.round_timeout_ms + e->cfg.retry_delay_ms;
        aggregator_tick(e->a, e->now); /* closes a round left open */
        drive_round(e);
    }
    assert_true(e->a->completed >= 2);
    assert_int_equal(e->a->n_history, e->a->completed);
    /* what is on disk is whole; a save that failed is made good by the
     * next round's */
    memset(&ck, 0, sizeof ck);
    snprintf(path, sizeof path, "%s/checkpoint.bin", e->dir);
    assert_int_equal(checkpoint_load(path, &ck), FR_OK);
    assert_true(ck.completed_rounds <= e->a->completed);
    checkpoint_clear(&ck);
    drive_round(e);
    memset(&ck, 0, sizeof ck);
    snprintf(path, sizeof path, "%s/checkpoint.bin", e->dir);
    assert_int_equal(checkpoint_load(path, &ck), FR_OK);
    assert_int_equal(ck.completed_rounds, e->a->completed);
    checkpoint_clear(&ck);
    aggregator_destroy(&e->a);
}

static void
test_round_engine(void **state)
{
    eng *e = calloc(1, sizeof *e);
    char err[FR_CONFIG_ERR_MAX];
    unsigned long n;
    (void)state;

    assert_non_null(e);
    assert_int_equal(fr_config_defaults(&agg_config_table, &e->cfg, err,
                                        sizeof err), FR_OK);
    snprintf(e->dir, sizeof e->dir, "/tmp/fr-failround-XXXXXX");
    assert_non_null(mkdtemp(e->dir));
    snprintf(e->cfg.state_dir, sizeof e->cfg.state_dir, "%s", e->dir);
    e->cfg.n_items = ITEMS;
    e->cfg.dim = DIM;
    e->cfg.min_stores = STORES;
    e->cfg.max_stores = 8;
    e->cfg.start_delay_ms = 0;
    e->cfg.retry_delay_ms = 100;
    e->cfg.rounds = 0;
    e->cfg.secagg = 0;
    for (int i = 0; i < ITEMS * DIM; i++)
        e->emb[i] = 0.01f * (float)(i % 7);
    for (int i = 0; i < ITEMS; i++)
        e->bias[i] = -0.02f;
    e->now = 1000000;
    n = fr_failalloc_loop(op_engine, check_engine, e, MAX_POINTS);
    report("aggregator, 2 plain rounds", n);
    assert_true(n > 10);
    snprintf(err, sizeof err, "rm -rf %s", e->dir);
    assert_int_equal(system(err), 0);
    free(e);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_secagg_phases),
        cmocka_unit_test(test_round_engine),
    };
    fr_log_set_level(FR_LOG_ERR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
