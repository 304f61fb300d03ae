/*
 * secagg_server.c - the aggregator's side of SecAgg+ (fr_sa_server, see
 * secagg.h): collect each phase's replies, close the phase by pruning the
 * parties that can no longer be rebuilt, make the next phase's requests,
 * and after REVEAL rebuild the secrets and remove the masks from the sum.
 * The shared design notes are at the top of secagg.c.
 */
#include "secagg.h"

#include <stdlib.h>
#include <string.h>

#include "../crypto/crypto.h"
#include "../crypto/prim.h"
#include "secagg_int.h"

struct fr_sa_server {
    fr_sa_params p;
    uint8_t seed[32];
    uint8_t (*id)[32];
    uint32_t *nbr;        /* n * k */
    fr_sa_phase phase;    /* replies being collected */
    int finished, aborted;
    uint8_t *expect;      /* may reply in this phase */
    uint8_t *replied;
    uint8_t *u1, *u2, *u3, *u4;
    fr_sa_keys *keys;     /* n */
    fr_sa_cipher *ct;     /* n * k: from i to its slot-s neighbour */
    uint8_t *sigs;        /* n * 64 */
    uint8_t *bitmap;
    uint8_t u3msg[FR_SA_U3_MSG_BYTES];
    uint32_t *sum;
    fr_shamir_share *held; /* n * k: share of i's secret from its slot-s
                              neighbour; guarded (fr_crypto_secure_alloc) */
    uint8_t *has_held;     /* n * k */
    size_t held_bytes;
    /* request scratch, one party at a time */
    fr_sa_keys *rq_keys;
    fr_sa_cipher *rq_ct;
    fr_sa_sig *rq_sigs;
    fr_sa_reveal *rq_rev;
};

fr_err
fr_sa_server_new(const fr_sa_params *p, const uint8_t graph_seed[32],
                 const uint8_t (*id_pks)[FR_SA_KEY_BYTES], fr_sa_server **out)
{
    fr_sa_server *s;
    uint8_t commit[32];
    size_t n, nk;
    fr_err rc;

    if (fr_sa_params_ok(p) || !graph_seed || !id_pks || !out)
        return FR_EINVAL;
    fr_crypto_hash(commit, 32, graph_seed, 32);
    if (fr_crypto_memcmp(commit, p->graph_commit, 32))
        return FR_EINVAL;
    n = p->n;
    nk = n * p->k;
    s = calloc(1, sizeof *s);
    if (!s)
        return FR_ENOMEM;
    s->p = *p;
    memcpy(s->seed, graph_seed, 32);
    s->id = malloc(n * 32);
    s->nbr = malloc(nk * sizeof *s->nbr);
    s->expect = calloc(n, 1);
    s->replied = calloc(n, 1);
    s->u1 = calloc(n, 1);
    s->u2 = calloc(n, 1);
    s->u3 = calloc(n, 1);
    s->u4 = calloc(n, 1);
    s->keys = calloc(n, sizeof *s->keys);
    s->ct = calloc(nk, sizeof *s->ct);
    s->sigs = calloc(n, FR_SA_SIG_BYTES);
    s->bitmap = calloc(fr_sa_bitmap_bytes(p->n), 1);
    s->sum = calloc(p->n_words, sizeof *s->sum);
    s->held_bytes = nk * sizeof *s->held;
    s->held = fr_crypto_secure_alloc(s->held_bytes ? s->held_bytes : 1);
    s->has_held = calloc(nk, 1);
    s->rq_keys = calloc(p->k, sizeof *s->rq_keys);
    s->rq_ct = calloc(p->k, sizeof *s->rq_ct);
    s->rq_sigs = calloc(p->k, sizeof *s->rq_sigs);
    s->rq_rev = calloc(p->k, sizeof *s->rq_rev);
    if (!s->id || !s->nbr || !s->expect || !s->replied || !s->u1 || !s->u2 ||
        !s->u3 || !s->u4 || !s->keys || !s->ct || !s->sigs || !s->bitmap ||
        !s->sum || !s->held || !s->has_held || !s->rq_keys || !s->rq_ct ||
        !s->rq_sigs || !s->rq_rev) {
        fr_sa_server_destroy(&s);
        return FR_ENOMEM;
    }
    fr_crypto_wipe(s->held, s->held_bytes);
    memcpy(s->id, id_pks, n * 32);
    rc = fr_sa_graph_build(graph_seed, p->n, p->k, s->nbr);
    if (rc) {
        fr_sa_server_destroy(&s);
        return rc;
    }
    memset(s->expect, 1, n);
    s->phase = FR_SA_ADVERTISE;
    *out = s;
    return FR_OK;
}

void
fr_sa_server_destroy(fr_sa_server **sp)
{
    fr_sa_server *s = sp ? *sp : NULL;

    if (!s)
        return;
    if (s->held) {
        fr_crypto_wipe(s->held, s->held_bytes);
        fr_crypto_secure_free(s->held);
    }
    free(s->id);
    free(s->nbr);
    free(s->expect);
    free(s->replied);
    free(s->u1);
    free(s->u2);
    free(s->u3);
    free(s->u4);
    free(s->keys);
    free(s->ct);
    free(s->sigs);
    free(s->bitmap);
    free(s->sum);
    free(s->has_held);
    free(s->rq_keys);
    free(s->rq_ct);
    free(s->rq_sigs);
    if (s->rq_rev) {
        fr_crypto_wipe(s->rq_rev, s->p.k * sizeof *s->rq_rev);
        free(s->rq_rev);
    }
    free(s);
    *sp = NULL;
}

fr_sa_phase
fr_sa_server_phase(const fr_sa_server *s)
{
    return s->finished || s->aborted ? FR_SA_NONE : s->phase;
}

uint32_t
fr_sa_server_pending(const fr_sa_server *s)
{
    uint32_t c = 0;

    if (fr_sa_server_phase(s) == FR_SA_NONE)
        return 0;
    for (uint32_t i = 0; i < s->p.n; i++)
        c += s->expect[i] && !s->replied[i];
    return c;
}

int
fr_sa_server_expects(const fr_sa_server *s, uint32_t i)
{
    return fr_sa_server_phase(s) != FR_SA_NONE && i < s->p.n &&
           s->expect[i] && !s->replied[i];
}

static const uint32_t *
row(const fr_sa_server *s, uint32_t i)
{
    return s->nbr + (size_t)i * s->p.k;
}

static uint32_t
count_in(const fr_sa_server *s, uint32_t i, const uint8_t *set)
{
    uint32_t c = 0;

    for (uint32_t e = 0; e < s->p.k; e++)
        c += set[row(s, i)[e]];
    return c;
}

static fr_err
srv_reject(const char *reason, const char **why, fr_err rc)
{
    if (why)
        *why = reason;
    return rc;
}

static fr_err
srv_on_advertise(fr_sa_server *s, uint32_t from, const fr_sa_msg *m,
                 const char **why)
{
    uint8_t msg[FR_SA_KEYS_MSG_BYTES];

    if (m->n_keys != 1 || !m->keys)
        return srv_reject("advertise must carry exactly one key set", why,
                          FR_EPROTO);
    if (m->keys[0].index != from)
        return srv_reject("advertised keys for another store", why,
                          FR_EPROTO);
    fr_sa_keys_message(msg, &s->p, from, m->keys[0].c_pk, m->keys[0].s_pk);
    if (fr_crypto_verify(s->id[from], msg, sizeof msg, m->keys[0].sig))
        return srv_reject("key signature does not verify under the store's "
                          "identity key", why, FR_EAUTH);
    s->keys[from] = m->keys[0];
    memcpy(s->keys[from].id_pk, s->id[from], 32);
    return FR_OK;
}

static fr_err
srv_on_shares(fr_sa_server *s, uint32_t from, const fr_sa_msg *m,
              const char **why)
{
    const uint32_t *r = row(s, from);
    uint32_t want = count_in(s, from, s->u1);
    uint8_t seen[FR_SA_MAX_PARTIES / 8 + 1];

    if (m->n_ciphers != want || (want && !m->ciphers))
        return srv_reject("shares must go to exactly the neighbours that "
                          "advertised keys", why, FR_EPROTO);
    memset(seen, 0, (s->p.k + 7) / 8);
    for (uint32_t e = 0; e < want; e++) {
        const fr_sa_cipher *c = &m->ciphers[e];
        int sl = fr_sa_slot_of(r, s->p.k, c->to);
        if (c->from != from || sl < 0 || !s->u1[c->to])
            return srv_reject("a share for a store that is not a neighbour "
                              "with keys", why, FR_EPROTO);
        if (seen[sl / 8] & (1u << (sl % 8)))
            return srv_reject("two shares for one neighbour", why,
                              FR_EPROTO);
        seen[sl / 8] |= (uint8_t)(1u << (sl % 8));
    }
    for (uint32_t e = 0; e < want; e++) {
        int sl = fr_sa_slot_of(r, s->p.k, m->ciphers[e].to);
        s->ct[(size_t)from * s->p.k + (uint32_t)sl] = m->ciphers[e];
    }
    return FR_OK;
}

static fr_err
srv_on_masked(fr_sa_server *s, const fr_sa_msg *m, const char **why)
{
    if (m->n_words != s->p.n_words || !m->words)
        return srv_reject("masked input of the wrong length", why,
                          FR_EPROTO);
    for (uint32_t j = 0; j < s->p.n_words; j++)
        s->sum[j] += m->words[j];
    return FR_OK;
}

static fr_err
srv_on_signed(fr_sa_server *s, uint32_t from, const fr_sa_msg *m,
              const char **why)
{
    if (fr_crypto_verify(s->id[from], s->u3msg, sizeof s->u3msg, m->sig))
        return srv_reject("survivor-set signature does not verify", why,
                          FR_EAUTH);
    memcpy(s->sigs + (size_t)from * FR_SA_SIG_BYTES, m->sig,
           FR_SA_SIG_BYTES);
    return FR_OK;
}

static fr_err
srv_on_reveal(fr_sa_server *s, uint32_t from, const fr_sa_msg *m,
              const char **why)
{
    const uint32_t *r = row(s, from);
    uint8_t seen[FR_SA_MAX_PARTIES / 8 + 1];

    if (m->n_reveals > s->p.k || (m->n_reveals && !m->reveals))
        return srv_reject("more shares than neighbours", why, FR_EPROTO);
    memset(seen, 0, (s->p.k + 7) / 8);
    for (uint32_t e = 0; e < m->n_reveals; e++) {
        const fr_sa_reveal *v = &m->reveals[e];
        int sl = v->peer < s->p.n ? fr_sa_slot_of(r, s->p.k, v->peer) : -1;
        uint32_t want;
        if (sl < 0 || !s->u2[v->peer])
            return srv_reject("a share of a store that is not a neighbour "
                              "in the round", why, FR_EPROTO);
        want = s->u3[v->peer] ? FR_SA_SHARE_B : FR_SA_SHARE_S;
        if (v->kind != want)
            return srv_reject("a share of the wrong kind", why, FR_EPROTO);
        if (seen[sl / 8] & (1u << (sl % 8)))
            return srv_reject("two shares of one store", why, FR_EPROTO);
        seen[sl / 8] |= (uint8_t)(1u << (sl % 8));
    }
    for (uint32_t e = 0; e < m->n_reveals; e++) {
        const fr_sa_reveal *v = &m->reveals[e];
        size_t at = (size_t)v->peer * s->p.k +
                    (uint32_t)fr_sa_slot_of(row(s, v->peer), s->p.k, from);
        s->held[at].x = from + 1;
        memcpy(s->held[at].y, v->y, FR_SHAMIR_SHARE_BYTES);
        s->has_held[at] = 1;
    }
    return FR_OK;
}

fr_err
fr_sa_server_recv(fr_sa_server *s, uint32_t from, const fr_sa_msg *m,
                  const char **why)
{
    static const fr_sa_phase reply_of[] = {
        [FR_SA_ADVERTISE] = FR_SA_ADVERTISE, [FR_SA_SHARES] = FR_SA_SHARES,
        [FR_SA_MASKED] = FR_SA_MASKED, [FR_SA_SIGNED] = FR_SA_SIGNED,
        [FR_SA_REVEAL] = FR_SA_REVEAL};
    fr_err rc;

    if (!s || !m)
        return FR_EINVAL;
    if (fr_sa_server_phase(s) == FR_SA_NONE)
        return srv_reject("the round is over", why, FR_ESTATE);
    if (from >= s->p.n || !s->expect[from])
        return srv_reject("not expected from this store in this phase", why,
                          FR_ESTATE);
    if (s->replied[from])
        return srv_reject("a repeated reply", why, FR_EPROTO);
    if (m->phase >= sizeof reply_of / sizeof reply_of[0] ||
        reply_of[m->phase] != s->phase || m->phase == FR_SA_NONE)
        return srv_reject("a reply for another phase", why, FR_EPROTO);
    switch (s->phase) {
    case FR_SA_ADVERTISE:
        rc = srv_on_advertise(s, from, m, why);
        break;
    case FR_SA_SHARES:
        rc = srv_on_shares(s, from, m, why);
        break;
    case FR_SA_MASKED:
        rc = srv_on_masked(s, m, why);
        break;
    case FR_SA_SIGNED:
        rc = srv_on_signed(s, from, m, why);
        break;
    default:
        rc = srv_on_reveal(s, from, m, why);
        break;
    }
    if (!rc)
        s->replied[from] = 1;
    return rc;
}

static fr_err
srv_abort(fr_sa_server *s, const char *reason, const char **why)
{
    s->aborted = 1;
    fr_crypto_wipe(s->held, s->held_bytes);
    memset(s->sum, 0, (size_t)s->p.n_words * sizeof *s->sum);
    if (why)
        *why = reason;
    return FR_ESTATE;
}

static uint32_t
count_set(const uint8_t *v, uint32_t n)
{
    uint32_t c = 0;

    for (uint32_t i = 0; i < n; i++)
        c += v[i];
    return c;
}

/* Removes from set every party with fewer than t neighbours in it, until
 * none is left to remove. */
static void
prune(fr_sa_server *s, uint8_t *set)
{
    int changed = 1;

    while (changed) {
        changed = 0;
        for (uint32_t i = 0; i < s->p.n; i++)
            if (set[i] && count_in(s, i, set) < s->p.t) {
                set[i] = 0;
                changed = 1;
            }
    }
}

/* Rebuilds party j's secret from every share of it that was revealed
 * (pick: room for k shares; check: 32 bytes of scratch). The first t
 * shares give the secret; each further one, in place of the t-th, must
 * give it again, or a store revealed a wrong share and the sum would be
 * silently wrong. NULL, or the reason to abort. */
static const char *
srv_rebuild(const fr_sa_server *s, uint32_t j, fr_shamir_share *pick,
            uint8_t *secret, uint8_t *check)
{
    uint32_t got = 0, t = s->p.t;
    const char *bad = NULL;

    for (uint32_t e = 0; e < s->p.k; e++)
        if (s->has_held[(size_t)j * s->p.k + e])
            pick[got++] = s->held[(size_t)j * s->p.k + e];
    if (got < t)
        return "too few shares revealed to rebuild a store's secret";
    if (fr_shamir_combine(pick, t, secret))
        return "revealed shares are inconsistent";
    for (uint32_t e = t; e < got && !bad; e++) {
        fr_shamir_share tmp = pick[t - 1];
        pick[t - 1] = pick[e];
        pick[e] = tmp;
        fr_crypto_wipe(&tmp, sizeof tmp);
        if (fr_shamir_combine(pick, t, check) ||
            fr_crypto_memcmp(check, secret, 32))
            bad = "revealed shares are inconsistent";
    }
    fr_crypto_wipe(check, 32);
    return bad;
}

static fr_err
srv_unmask(fr_sa_server *s, const char **why)
{
    fr_shamir_share *pick = fr_crypto_secure_alloc(s->p.k * sizeof *pick);
    uint8_t *secret = fr_crypto_secure_alloc(32), seed[32], pk[32];
    fr_err rc = FR_OK;

    if (!pick || !secret) {
        rc = srv_abort(s, "out of memory while unmasking", why);
        goto out;
    }
    for (uint32_t j = 0; j < s->p.n && !rc; j++) {
        const char *bad;
        if (!s->u2[j])
            continue;
        if ((bad = srv_rebuild(s, j, pick, secret, seed)) != NULL) {
            rc = srv_abort(s, bad, why);
            break;
        }
        if (s->u3[j]) {
            fr_sa_prg_add(s->sum, s->p.n_words, secret, -1);
            continue;
        }
        fr_crypto_x25519_base(pk, secret);
        if (fr_crypto_memcmp(pk, s->keys[j].s_pk, 32)) {
            rc = srv_abort(s, "a rebuilt mask key does not match the key the "
                           "store advertised", why);
            break;
        }
        for (uint32_t e = 0; e < s->p.k; e++) {
            uint32_t i = row(s, j)[e];
            if (!s->u3[i])
                continue;
            if (fr_sa_agree(seed, secret, s->keys[i].s_pk, FR_SA_LBL_MASK,
                            s->p.round_id, i, j)) {
                rc = srv_abort(s, "a store's mask key is invalid", why);
                break;
            }
            /* i added +PRG if i < j, -PRG otherwise: take it back out. */
            fr_sa_prg_add(s->sum, s->p.n_words, seed, i < j ? -1 : 1);
        }
    }
out:
    fr_crypto_wipe(seed, sizeof seed);
    if (secret) {
        fr_crypto_wipe(secret, 32);
        fr_crypto_secure_free(secret);
    }
    if (pick) {
        fr_crypto_wipe(pick, s->p.k * sizeof *pick);
        fr_crypto_secure_free(pick);
    }
    fr_crypto_wipe(s->held, s->held_bytes);
    if (!rc)
        s->finished = 1;
    return rc;
}

fr_err
fr_sa_server_advance(fr_sa_server *s, const char **why)
{
    uint32_t n = s ? s->p.n : 0;

    if (!s)
        return FR_EINVAL;
    if (fr_sa_server_phase(s) == FR_SA_NONE)
        return srv_reject("the round is over", why, FR_ESTATE);
    switch (s->phase) {
    case FR_SA_ADVERTISE:
        memcpy(s->u1, s->replied, n);
        /* A store with fewer than t neighbours holding keys could not share
         * its secrets recoverably: it sits this round out. */
        prune(s, s->u1);
        if (count_set(s->u1, n) < s->p.min_inputs)
            return srv_abort(s, "too few stores advertised keys", why);
        memcpy(s->expect, s->u1, n);
        s->phase = FR_SA_SHARES;
        break;
    case FR_SA_SHARES:
        memcpy(s->u2, s->replied, n);
        prune(s, s->u2);
        if (count_set(s->u2, n) < s->p.min_inputs)
            return srv_abort(s, "too few stores shared keys", why);
        memcpy(s->expect, s->u2, n);
        s->phase = FR_SA_MASKED;
        break;
    case FR_SA_MASKED:
        memcpy(s->u3, s->replied, n);
        if (count_set(s->u3, n) < s->p.min_inputs)
            return srv_abort(s, "too few masked inputs arrived", why);
        memset(s->bitmap, 0, fr_sa_bitmap_bytes(n));
        for (uint32_t i = 0; i < n; i++)
            if (s->u3[i])
                s->bitmap[i / 8] |= (uint8_t)(1u << (i % 8));
        fr_sa_u3_message(s->u3msg, &s->p, s->bitmap, fr_sa_bitmap_bytes(n));
        memcpy(s->expect, s->u3, n);
        s->phase = FR_SA_SIGNED;
        break;
    case FR_SA_SIGNED:
        memcpy(s->u4, s->replied, n);
        /* A signer sees the signatures of its neighbours in U4 and refuses
         * with fewer than t; only the others are asked to reveal. */
        for (uint32_t i = 0; i < n; i++)
            s->expect[i] = s->u4[i] && count_in(s, i, s->u4) >= s->p.t;
        /* Every secret must have t holders among them, or nothing is asked
         * for at all. */
        for (uint32_t j = 0; j < n; j++)
            if (s->u2[j] && count_in(s, j, s->expect) < s->p.t)
                return srv_abort(s, "too few stores confirmed the survivor "
                                 "set to rebuild every secret", why);
        s->phase = FR_SA_REVEAL;
        break;
    default:
        s->phase = FR_SA_NONE;
        memset(s->expect, 0, n);
        memset(s->replied, 0, n);
        return srv_unmask(s, why);
    }
    memset(s->replied, 0, n);
    return FR_OK;
}

fr_err
fr_sa_server_request(fr_sa_server *s, uint32_t i, fr_sa_msg *out)
{
    const uint32_t *r;
    uint32_t m = 0;

    if (!s || !out)
        return FR_EINVAL;
    if (fr_sa_server_phase(s) == FR_SA_NONE || i >= s->p.n || !s->expect[i])
        return FR_ENOENT;
    r = row(s, i);
    memset(out, 0, sizeof *out);
    switch (s->phase) {
    case FR_SA_SHARES:
        for (uint32_t e = 0; e < s->p.k; e++)
            if (s->u1[r[e]])
                s->rq_keys[m++] = s->keys[r[e]];
        out->phase = FR_SA_KEYS;
        memcpy(out->graph_seed, s->seed, 32);
        out->keys = s->rq_keys;
        out->n_keys = m;
        break;
    case FR_SA_MASKED:
        for (uint32_t e = 0; e < s->p.k; e++) {
            uint32_t j = r[e];
            int sl;
            if (!s->u2[j])
                continue;
            sl = fr_sa_slot_of(row(s, j), s->p.k, i);
            s->rq_ct[m++] = s->ct[(size_t)j * s->p.k + (uint32_t)sl];
        }
        out->phase = FR_SA_MASK_REQ;
        out->ciphers = s->rq_ct;
        out->n_ciphers = m;
        break;
    case FR_SA_SIGNED:
        out->phase = FR_SA_CONSIST;
        out->bitmap = s->bitmap;
        out->bitmap_bytes = fr_sa_bitmap_bytes(s->p.n);
        break;
    case FR_SA_REVEAL: {
        uint32_t nr = 0;
        for (uint32_t e = 0; e < s->p.k; e++) {
            uint32_t j = r[e];
            if (s->u4[j]) {
                s->rq_sigs[m].index = j;
                memcpy(s->rq_sigs[m].sig,
                       s->sigs + (size_t)j * FR_SA_SIG_BYTES,
                       FR_SA_SIG_BYTES);
                m++;
            }
            if (s->u2[j]) {
                memset(&s->rq_rev[nr], 0, sizeof s->rq_rev[nr]);
                s->rq_rev[nr].peer = j;
                s->rq_rev[nr].kind = s->u3[j] ? FR_SA_SHARE_B
                                              : FR_SA_SHARE_S;
                nr++;
            }
        }
        out->phase = FR_SA_UNMASK;
        out->sigs = s->rq_sigs;
        out->n_sigs = m;
        out->reveals = s->rq_rev;
        out->n_reveals = nr;
        break;
    }
    default:
        return FR_ENOENT; /* ADVERTISE needs no request */
    }
    return FR_OK;
}

fr_err
fr_sa_server_result(const fr_sa_server *s, const uint32_t **sum,
                    uint32_t *n_inputs, const uint8_t **included)
{
    if (!s || !s->finished)
        return FR_ESTATE;
    if (sum)
        *sum = s->sum;
    if (n_inputs)
        *n_inputs = count_set(s->u3, s->p.n);
    if (included)
        *included = s->u3;
    return FR_OK;
}
