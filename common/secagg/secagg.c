/*
 * secagg.c - SecAgg+ state machines for the store and the aggregator.
 *
 * DESIGN
 * - Sets. U1: parties whose signed keys arrived; U2: parties whose shares
 *   arrived and whose secrets can still be rebuilt (each has >= t neighbours
 *   in U2, enforced by pruning before any share is delivered); U3: parties
 *   whose masked input arrived; U4: parties that signed U3; U5: parties that
 *   revealed shares. A party in U2 but not U3 "dropped after sharing": its
 *   neighbours in U3 masked with it, so its s_sk is rebuilt to remove those
 *   masks. A party in U3 has its self-mask seed b rebuilt instead.
 * - Keys. c (share encryption) and s (masks) are fresh X25519 pairs per
 *   round. A shared point goes through BLAKE2b keyed by the point with a
 *   label, the round id and the two indices (smaller first), so keys differ
 *   per purpose, round and pair. Pairwise masks are added by the smaller
 *   index and subtracted by the larger, so they cancel between survivors.
 * - Shares of party j held by neighbour i sit at x = i + 1.
 * - "Never both": the store derives the kind of every share it reveals from
 *   the U3 it signed, refuses a request that contradicts it or names a peer
 *   twice, and answers UNMASK once.
 * - Secret memory: a client's key pairs, seed and received shares, and the
 *   server's revealed shares, live in sodium_malloc'd blocks wiped on
 *   destroy; each secret is wiped as soon as its last use is over.
 */
#include "secagg.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "../base/util.h"

#define LBL_KEYS "fedrec-sa-keys"
#define LBL_U3 "fedrec-sa-u3"
#define LBL_ENC "fedrec-sa-enc"
#define LBL_MASK "fedrec-sa-mask"
#define LBL_CT "fedrec-sa-ct"
#define NONCE_BYTES crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_BYTES crypto_aead_xchacha20poly1305_ietf_ABYTES
#define PT_BYTES (2 * FR_SHAMIR_SHARE_BYTES)

_Static_assert(FR_SA_CT_BYTES == NONCE_BYTES + PT_BYTES + TAG_BYTES,
               "ciphertext layout");

/* ---- parameters and graph ----------------------------------------------- */

uint32_t
fr_sa_default_k(uint32_t n)
{
    uint32_t k;

    if (n < 2)
        return 0;
    k = (uint32_t)ceil(3.0 * log2((double)n));
    k += k & 1u;
    return k >= n - 1 ? n - 1 : k;
}

uint32_t
fr_sa_default_t(uint32_t k)
{
    return k / 2 + 1;
}

fr_err
fr_sa_check_params(uint32_t n, uint32_t k, uint32_t t, double max_dropout,
                   char *errbuf, size_t errlen)
{
    uint32_t lost;

#define FAIL(...)                                 \
    do {                                          \
        snprintf(errbuf, errlen, __VA_ARGS__);    \
        return FR_EINVAL;                         \
    } while (0)
    if (n < 3 || n > FR_SA_MAX_PARTIES)
        FAIL("secure aggregation needs 3 to %u stores in a round, not %u",
             FR_SA_MAX_PARTIES, n);
    if (k < 2 || k > n - 1)
        FAIL("neighbour count k=%u must be between 2 and n-1=%u", k, n - 1);
    if (k != n - 1 && (k & 1u))
        FAIL("neighbour count k=%u must be even (or n-1=%u, the full graph)",
             k, n - 1);
    if (!(max_dropout >= 0.0 && max_dropout < 1.0))
        FAIL("tolerated dropout %g must be in [0, 1)", max_dropout);
    if (t < 2 || t > k)
        FAIL("threshold t=%u must be between 2 and k=%u", t, k);
    if (2 * t <= k)
        FAIL("threshold t=%u is unsafe: it must exceed k/2=%g, or two "
             "disjoint groups of neighbours could rebuild both secrets of "
             "one store", t, k / 2.0);
    lost = (uint32_t)ceil(max_dropout * k - 1e-9);
    if (t > k - lost)
        FAIL("threshold t=%u is too high for a tolerated dropout of %g: "
             "with %u of k=%u neighbours gone only %u shares remain",
             t, max_dropout, lost, k, k - lost);
#undef FAIL
    return FR_OK;
}

void
fr_sa_graph_seed(uint8_t seed_out[32], uint8_t commit_out[32])
{
    randombytes_buf(seed_out, 32);
    crypto_generichash(commit_out, 32, seed_out, 32, NULL, 0);
}

/* Uniform value below bound from a ChaCha20 word stream (rejection). */
typedef struct word_stream {
    const uint8_t *key;
    uint64_t block;
    uint32_t buf[16];
    unsigned pos;
} word_stream;

static uint32_t
stream_next(word_stream *ws)
{
    if (ws->pos == 16) {
        uint8_t raw[64], nonce[crypto_stream_chacha20_NONCEBYTES] = {0};

        crypto_stream_chacha20_xor_ic(raw, (const uint8_t[64]){0}, 64, nonce,
                                      ws->block++, ws->key);
        for (unsigned i = 0; i < 16; i++)
            ws->buf[i] = fr_get_u32le(raw + 4 * i);
        ws->pos = 0;
    }
    return ws->buf[ws->pos++];
}

static uint32_t
stream_below(word_stream *ws, uint32_t bound)
{
    uint32_t lim = (uint32_t)(-bound) % bound; /* 2^32 mod bound */

    for (;;) {
        uint32_t v = stream_next(ws);
        if (v >= lim)
            return v % bound;
    }
}

static int
cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* All parties' neighbour lists, n * k entries, each row ascending. */
static fr_err
graph_build(const uint8_t seed[32], uint32_t n, uint32_t k, uint32_t *out)
{
    uint32_t *perm, *pos;
    word_stream ws = {.key = seed, .pos = 16};

    if (n < 2 || k == 0 || k > n - 1 || (k != n - 1 && (k & 1u)))
        return FR_EINVAL;
    perm = malloc((size_t)n * sizeof *perm);
    pos = malloc((size_t)n * sizeof *pos);
    if (!perm || !pos) {
        free(perm);
        free(pos);
        return FR_ENOMEM;
    }
    for (uint32_t i = 0; i < n; i++)
        perm[i] = i;
    for (uint32_t i = n - 1; i > 0; i--) { /* Fisher-Yates */
        uint32_t j = stream_below(&ws, i + 1), tmp = perm[i];
        perm[i] = perm[j];
        perm[j] = tmp;
    }
    for (uint32_t i = 0; i < n; i++)
        pos[perm[i]] = i;
    for (uint32_t v = 0; v < n; v++) {
        uint32_t *row = out + (size_t)v * k, m = 0;
        if (k == n - 1) {
            for (uint32_t u = 0; u < n; u++)
                if (u != v)
                    row[m++] = u;
        } else {
            for (uint32_t o = 1; o <= k / 2; o++) {
                row[m++] = perm[(pos[v] + o) % n];
                row[m++] = perm[(pos[v] + n - o) % n];
            }
            qsort(row, k, sizeof *row, cmp_u32);
        }
    }
    free(perm);
    free(pos);
    return FR_OK;
}

fr_err
fr_sa_neighbours(const uint8_t seed[32], uint32_t n, uint32_t k, uint32_t i,
                 uint32_t *out)
{
    uint32_t *all;
    fr_err rc;

    if (i >= n || n < 2 || k > n - 1)
        return FR_EINVAL;
    all = malloc((size_t)n * k * sizeof *all);
    if (!all)
        return FR_ENOMEM;
    rc = graph_build(seed, n, k, all);
    if (!rc)
        memcpy(out, all + (size_t)i * k, k * sizeof *out);
    free(all);
    return rc;
}

/* Position of j in the ascending row, or -1. */
static int
slot_of(const uint32_t *row, uint32_t k, uint32_t j)
{
    uint32_t lo = 0, hi = k;

    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (row[mid] < j)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < k && row[lo] == j ? (int)lo : -1;
}

/* ---- PRG and key derivation ----------------------------------------------- */

#define PRG_CHUNK_WORDS 4096u
#define ADD_BLOCK 16u

/* w[j] += b[j] (sign > 0) or -= b[j], j < m. Blocks of a fixed size so that
 * the compiler vectorises them at -O2 (a loop of unknown length is left
 * scalar there, and would cost a fifth of the keystream's time). */
static void
add_words(uint32_t *restrict w, const uint32_t *restrict b, size_t m,
          int sign)
{
    size_t j = 0;

    if (sign > 0) {
        for (; j + ADD_BLOCK <= m; j += ADD_BLOCK)
            for (size_t u = 0; u < ADD_BLOCK; u++)
                w[j + u] += b[j + u];
        for (; j < m; j++)
            w[j] += b[j];
    } else {
        for (; j + ADD_BLOCK <= m; j += ADD_BLOCK)
            for (size_t u = 0; u < ADD_BLOCK; u++)
                w[j + u] -= b[j + u];
        for (; j < m; j++)
            w[j] -= b[j];
    }
}

void
fr_sa_prg_add(uint32_t *words, size_t n, const uint8_t seed[32], int sign)
{
    static const uint8_t nonce[crypto_stream_chacha20_NONCEBYTES];
    uint32_t buf[PRG_CHUNK_WORDS];
    uint64_t block = 0;

    for (size_t off = 0; off < n; off += PRG_CHUNK_WORDS) {
        size_t m = n - off < PRG_CHUNK_WORDS ? n - off : PRG_CHUNK_WORDS;
        size_t bytes = (m * 4 + 63) & ~(size_t)63;

        /* Whole 64-byte blocks so the counter stays aligned with `block`. */
        memset(buf, 0, bytes);
        crypto_stream_chacha20_xor_ic((uint8_t *)buf, (const uint8_t *)buf,
                                      bytes, nonce, block, seed);
        block += bytes / 64;
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
        for (size_t j = 0; j < m; j++)
            buf[j] = fr_get_u32le((const uint8_t *)&buf[j]);
#endif
        add_words(words + off, buf, m, sign);
    }
    sodium_memzero(buf, sizeof buf);
}

/* out = BLAKE2b-256 keyed by the X25519 point of (sk, pk) over
 * label || round || min(a,b) || max(a,b). FR_EAUTH for a low-order pk. */
static fr_err
agree(uint8_t out[32], const uint8_t sk[32], const uint8_t pk[32],
      const char *label, uint64_t round, uint32_t a, uint32_t b)
{
    uint8_t point[crypto_scalarmult_BYTES], msg[32 + 16];
    size_t ll = strlen(label);
    int bad;

    bad = crypto_scalarmult(point, sk, pk);
    memcpy(msg, label, ll);
    fr_put_u64le(msg + ll, round);
    fr_put_u32le(msg + ll + 8, a < b ? a : b);
    fr_put_u32le(msg + ll + 12, a < b ? b : a);
    crypto_generichash(out, 32, msg, ll + 16, point, sizeof point);
    sodium_memzero(point, sizeof point);
    if (bad) {
        sodium_memzero(out, 32);
        return FR_EAUTH;
    }
    return FR_OK;
}

/* What a store signs when it advertises its round keys. */
static void
keys_message(uint8_t out[14 + 16 + 64], const fr_sa_params *p, uint32_t i,
             const uint8_t c_pk[32], const uint8_t s_pk[32])
{
    memcpy(out, LBL_KEYS, 14);
    fr_put_u64le(out + 14, p->round_id);
    fr_put_u32le(out + 22, p->n);
    fr_put_u32le(out + 26, i);
    memcpy(out + 30, c_pk, 32);
    memcpy(out + 62, s_pk, 32);
}
#define KEYS_MSG_BYTES (14 + 16 + 64)

/* What a store signs to confirm U3: label, round, n, BLAKE2b(bitmap). */
static void
u3_message(uint8_t out[12 + 12 + 32], const fr_sa_params *p,
           const uint8_t *bitmap, size_t bytes)
{
    memcpy(out, LBL_U3, 12);
    fr_put_u64le(out + 12, p->round_id);
    fr_put_u32le(out + 20, p->n);
    crypto_generichash(out + 24, 32, bitmap, bytes, NULL, 0);
}
#define U3_MSG_BYTES (12 + 12 + 32)

static void
ct_ad(uint8_t ad[12 + 16], uint64_t round, uint32_t from, uint32_t to)
{
    memcpy(ad, LBL_CT, 12);
    fr_put_u64le(ad + 12, round);
    fr_put_u32le(ad + 20, from);
    fr_put_u32le(ad + 24, to);
}
#define AD_BYTES (12 + 16)

static fr_err
params_ok(const fr_sa_params *p)
{
    if (!p || p->n < 2 || p->n > FR_SA_MAX_PARTIES || p->k == 0 ||
        p->k > p->n - 1 || (p->k != p->n - 1 && (p->k & 1u)) || p->t < 1 ||
        p->t > p->k || p->n_words == 0 || p->min_inputs < p->t ||
        p->min_inputs > p->n)
        return FR_EINVAL;
    return FR_OK;
}

static uint32_t
bitmap_bytes(uint32_t n)
{
    return (n + 7) / 8;
}

static int
bit(const uint8_t *bm, uint32_t i)
{
    return (bm[i / 8] >> (i % 8)) & 1;
}

/* ---- store side -------------------------------------------------------------- */

enum { C_NEW, C_ADVERTISED, C_SHARED, C_WANT_INPUT, C_MASKED, C_SIGNED,
       C_DONE, C_FAILED };

/* Secret state of a store, in one sodium_malloc'd block. */
typedef struct client_secrets {
    uint8_t c_sk[32], s_sk[32], b[32];
    fr_shamir_share held_b[]; /* k of them, then k held_s */
} client_secrets;

typedef struct client_peer {
    uint8_t has_keys; /* in U1 as seen here */
    uint8_t in_u2;    /* its shares for us arrived */
    uint8_t in_u3;
    fr_sa_keys keys;
} client_peer;

struct fr_sa_client {
    fr_sa_params p;
    uint32_t me;
    const fr_crypto_signkey *id;
    int state;
    uint32_t *nb;        /* k neighbours, ascending */
    client_peer *peers;  /* per neighbour slot */
    client_secrets *sec;
    size_t sec_bytes;
    fr_sa_keys adv;
    fr_sa_cipher *ct_out;
    uint32_t *words_out;
    uint8_t *u3;
    fr_sa_reveal *rev_out;
};

static fr_shamir_share *
held_b(fr_sa_client *c)
{
    return c->sec->held_b;
}

static fr_shamir_share *
held_s(fr_sa_client *c)
{
    return c->sec->held_b + c->p.k;
}

fr_err
fr_sa_client_new(const fr_sa_params *p, uint32_t index,
                 const fr_crypto_signkey *identity, fr_sa_client **out)
{
    fr_sa_client *c;

    if (params_ok(p) || index >= p->n || !identity || !out)
        return FR_EINVAL;
    c = calloc(1, sizeof *c);
    if (!c)
        return FR_ENOMEM;
    c->p = *p;
    c->me = index;
    c->id = identity;
    c->sec_bytes = sizeof *c->sec + 2 * (size_t)p->k * sizeof(fr_shamir_share);
    c->sec = sodium_malloc(c->sec_bytes);
    c->nb = calloc(p->k, sizeof *c->nb);
    c->peers = calloc(p->k, sizeof *c->peers);
    c->ct_out = calloc(p->k, sizeof *c->ct_out);
    c->rev_out = calloc(p->k, sizeof *c->rev_out);
    c->u3 = calloc(bitmap_bytes(p->n), 1);
    if (!c->sec || !c->nb || !c->peers || !c->ct_out || !c->rev_out ||
        !c->u3) {
        fr_sa_client_destroy(&c);
        return FR_ENOMEM;
    }
    sodium_memzero(c->sec, c->sec_bytes);
    *out = c;
    return FR_OK;
}

void
fr_sa_client_destroy(fr_sa_client **cp)
{
    fr_sa_client *c = cp ? *cp : NULL;

    if (!c)
        return;
    if (c->sec) {
        sodium_memzero(c->sec, c->sec_bytes);
        sodium_free(c->sec);
    }
    if (c->rev_out) {
        sodium_memzero(c->rev_out, c->p.k * sizeof *c->rev_out);
        free(c->rev_out);
    }
    if (c->words_out)
        free(c->words_out);
    free(c->nb);
    free(c->peers);
    free(c->ct_out);
    free(c->u3);
    free(c);
    *cp = NULL;
}

static fr_err
client_fail(fr_sa_client *c, fr_err rc, const char *reason, const char **why)
{
    c->state = C_FAILED;
    sodium_memzero(c->sec, c->sec_bytes);
    if (why)
        *why = reason;
    return rc;
}

fr_err
fr_sa_client_advertise(fr_sa_client *c, fr_sa_msg *out)
{
    uint8_t m[KEYS_MSG_BYTES];

    if (!c || !out || c->state != C_NEW)
        return FR_ESTATE;
    crypto_box_keypair(c->adv.c_pk, c->sec->c_sk);
    crypto_box_keypair(c->adv.s_pk, c->sec->s_sk);
    c->adv.index = c->me;
    keys_message(m, &c->p, c->me, c->adv.c_pk, c->adv.s_pk);
    fr_crypto_sign(c->id, m, sizeof m, c->adv.sig);
    memcpy(c->adv.id_pk, fr_crypto_signkey_public(c->id), 32);
    memset(out, 0, sizeof *out);
    out->phase = FR_SA_ADVERTISE;
    out->keys = &c->adv;
    out->n_keys = 1;
    c->state = C_ADVERTISED;
    return FR_OK;
}

static fr_err
client_on_keys(fr_sa_client *c, const fr_sa_msg *in, fr_sa_msg *out,
               const char **why)
{
    uint8_t commit[32], m[KEYS_MSG_BYTES], key[32], ad[AD_BYTES];
    uint32_t nk = 0, *xv;
    fr_shamir_share *sb = NULL, *ss = NULL;
    uint8_t *pt;
    fr_err rc;

    crypto_generichash(commit, 32, in->graph_seed, 32, NULL, 0);
    if (sodium_memcmp(commit, c->p.graph_commit, 32))
        return client_fail(c, FR_EAUTH, "graph seed does not match the "
                           "round's commitment", why);
    rc = fr_sa_neighbours(in->graph_seed, c->p.n, c->p.k, c->me, c->nb);
    if (rc)
        return client_fail(c, rc, "cannot build the neighbour graph", why);
    if (in->n_keys > c->p.k)
        return client_fail(c, FR_EPROTO, "more keys than neighbours", why);
    for (uint32_t e = 0; e < in->n_keys; e++) {
        const fr_sa_keys *kk = &in->keys[e];
        int s = slot_of(c->nb, c->p.k, kk->index);
        if (s < 0)
            return client_fail(c, FR_EPROTO, "keys of a store that is not "
                               "a neighbour", why);
        if (c->peers[s].has_keys)
            return client_fail(c, FR_EPROTO, "keys of one store twice", why);
        keys_message(m, &c->p, kk->index, kk->c_pk, kk->s_pk);
        if (fr_crypto_verify(kk->id_pk, m, sizeof m, kk->sig))
            return client_fail(c, FR_EAUTH, "a neighbour's key signature "
                               "does not verify", why);
        c->peers[s].has_keys = 1;
        c->peers[s].keys = *kk;
        nk++;
    }
    if (nk < c->p.t)
        return client_fail(c, FR_ESTATE, "fewer neighbours advertised keys "
                           "than the threshold", why);

    xv = malloc(nk * sizeof *xv);
    sb = sodium_malloc(nk * sizeof *sb);
    ss = sodium_malloc(nk * sizeof *ss);
    pt = sodium_malloc(PT_BYTES);
    if (!xv || !sb || !ss || !pt) {
        rc = FR_ENOMEM;
        goto out;
    }
    nk = 0;
    for (uint32_t s = 0; s < c->p.k; s++)
        if (c->peers[s].has_keys)
            xv[nk++] = c->nb[s] + 1;
    randombytes_buf(c->sec->b, 32);
    rc = fr_shamir_split(c->sec->b, c->p.t, nk, xv, sb);
    if (!rc)
        rc = fr_shamir_split(c->sec->s_sk, c->p.t, nk, xv, ss);
    if (rc)
        goto out;
    for (uint32_t e = 0; e < nk; e++) {
        uint32_t to = xv[e] - 1;
        int s = slot_of(c->nb, c->p.k, to);
        fr_sa_cipher *ct = &c->ct_out[e];

        rc = agree(key, c->sec->c_sk, c->peers[s].keys.c_pk, LBL_ENC,
                   c->p.round_id, c->me, to);
        if (rc) {
            sodium_memzero(key, sizeof key);
            rc = client_fail(c, FR_EAUTH, "a neighbour's key is invalid",
                             why);
            goto out;
        }
        memcpy(pt, sb[e].y, FR_SHAMIR_SHARE_BYTES);
        memcpy(pt + FR_SHAMIR_SHARE_BYTES, ss[e].y, FR_SHAMIR_SHARE_BYTES);
        ct->from = c->me;
        ct->to = to;
        randombytes_buf(ct->ct, NONCE_BYTES);
        ct_ad(ad, c->p.round_id, c->me, to);
        crypto_aead_xchacha20poly1305_ietf_encrypt(
            ct->ct + NONCE_BYTES, NULL, pt, PT_BYTES, ad, sizeof ad, NULL,
            ct->ct, key);
        sodium_memzero(key, sizeof key);
    }
    memset(out, 0, sizeof *out);
    out->phase = FR_SA_SHARES;
    out->ciphers = c->ct_out;
    out->n_ciphers = nk;
    c->state = C_SHARED;
out:
    free(xv);
    if (pt) {
        sodium_memzero(pt, PT_BYTES);
        sodium_free(pt);
    }
    if (sb) {
        sodium_memzero(sb, nk * sizeof *sb);
        sodium_free(sb);
    }
    if (ss) {
        sodium_memzero(ss, nk * sizeof *ss);
        sodium_free(ss);
    }
    if (rc && c->state != C_FAILED)
        return client_fail(c, rc, "cannot make the key shares", why);
    return rc;
}

static fr_err
client_on_mask_req(fr_sa_client *c, const fr_sa_msg *in, fr_sa_msg *out,
                   const char **why)
{
    uint8_t key[32], ad[AD_BYTES], pt[PT_BYTES];
    uint32_t got = 0;

    for (uint32_t e = 0; e < in->n_ciphers; e++) {
        const fr_sa_cipher *ct = &in->ciphers[e];
        int s = slot_of(c->nb, c->p.k, ct->from);
        int bad;

        if (ct->to != c->me)
            return client_fail(c, FR_EPROTO, "a share addressed to another "
                               "store", why);
        if (s < 0 || !c->peers[s].has_keys)
            return client_fail(c, FR_EPROTO, "a share from a store that is "
                               "not a neighbour with keys", why);
        if (c->peers[s].in_u2)
            return client_fail(c, FR_EPROTO, "two shares from one store",
                               why);
        if (agree(key, c->sec->c_sk, c->peers[s].keys.c_pk, LBL_ENC,
                  c->p.round_id, c->me, ct->from))
            return client_fail(c, FR_EAUTH, "a neighbour's key is invalid",
                               why);
        ct_ad(ad, c->p.round_id, ct->from, c->me);
        bad = crypto_aead_xchacha20poly1305_ietf_decrypt(
            pt, NULL, NULL, ct->ct + NONCE_BYTES, FR_SA_CT_BYTES - NONCE_BYTES,
            ad, sizeof ad, ct->ct, key);
        sodium_memzero(key, sizeof key);
        if (bad) {
            sodium_memzero(pt, sizeof pt);
            return client_fail(c, FR_EAUTH, "a share does not decrypt (wrong "
                               "recipient, round or tampered)", why);
        }
        held_b(c)[s].x = c->me + 1;
        memcpy(held_b(c)[s].y, pt, FR_SHAMIR_SHARE_BYTES);
        held_s(c)[s].x = c->me + 1;
        memcpy(held_s(c)[s].y, pt + FR_SHAMIR_SHARE_BYTES,
               FR_SHAMIR_SHARE_BYTES);
        sodium_memzero(pt, sizeof pt);
        c->peers[s].in_u2 = 1;
        got++;
    }
    /* The encryption key pair has done its job. */
    sodium_memzero(c->sec->c_sk, sizeof c->sec->c_sk);
    if (got < c->p.t)
        return client_fail(c, FR_ESTATE, "fewer neighbours shared keys than "
                           "the threshold", why);
    memset(out, 0, sizeof *out);
    out->phase = FR_SA_NONE;
    c->state = C_WANT_INPUT;
    return FR_OK;
}

int
fr_sa_client_wants_input(const fr_sa_client *c)
{
    return c && c->state == C_WANT_INPUT;
}

int
fr_sa_client_holds_secrets(const fr_sa_client *c)
{
    return c && !sodium_is_zero((const unsigned char *)c->sec, c->sec_bytes);
}

fr_err
fr_sa_client_mask(fr_sa_client *c, const uint32_t *input, fr_sa_msg *out,
                  const char **why)
{
    uint8_t seed[32];

    if (!c || !input || !out)
        return FR_EINVAL;
    if (c->state != C_WANT_INPUT) {
        if (why)
            *why = "not ready to mask: shares not received yet, or the round "
                   "was refused";
        return FR_ESTATE;
    }
    if (!c->words_out) {
        c->words_out = malloc((size_t)c->p.n_words * sizeof *c->words_out);
        if (!c->words_out)
            return FR_ENOMEM;
    }
    memcpy(c->words_out, input, (size_t)c->p.n_words * 4);
    fr_sa_prg_add(c->words_out, c->p.n_words, c->sec->b, 1);
    for (uint32_t s = 0; s < c->p.k; s++) {
        uint32_t j = c->nb[s];
        if (!c->peers[s].in_u2)
            continue;
        if (agree(seed, c->sec->s_sk, c->peers[s].keys.s_pk, LBL_MASK,
                  c->p.round_id, c->me, j)) {
            memset(c->words_out, 0, (size_t)c->p.n_words * 4);
            return client_fail(c, FR_EAUTH, "a neighbour's mask key is "
                               "invalid", why);
        }
        fr_sa_prg_add(c->words_out, c->p.n_words, seed, c->me < j ? 1 : -1);
    }
    sodium_memzero(seed, sizeof seed);
    /* Only the shares held by the neighbours can bring these back now. */
    sodium_memzero(c->sec->b, sizeof c->sec->b);
    sodium_memzero(c->sec->s_sk, sizeof c->sec->s_sk);
    memset(out, 0, sizeof *out);
    out->phase = FR_SA_MASKED;
    out->words = c->words_out;
    out->n_words = c->p.n_words;
    c->state = C_MASKED;
    return FR_OK;
}

static fr_err
client_on_consist(fr_sa_client *c, const fr_sa_msg *in, fr_sa_msg *out,
                  const char **why)
{
    uint32_t nb = bitmap_bytes(c->p.n), count = 0;
    uint8_t m[U3_MSG_BYTES];

    if (in->bitmap_bytes != nb || !in->bitmap)
        return client_fail(c, FR_EPROTO, "survivor set of the wrong size",
                           why);
    if (c->p.n % 8 && (in->bitmap[nb - 1] >> (c->p.n % 8)))
        return client_fail(c, FR_EPROTO, "survivor set names stores beyond "
                           "the round", why);
    if (!bit(in->bitmap, c->me))
        return client_fail(c, FR_ESTATE, "survivor set leaves this store "
                           "out", why);
    for (uint32_t i = 0; i < c->p.n; i++)
        count += (uint32_t)bit(in->bitmap, i);
    if (count < c->p.min_inputs)
        return client_fail(c, FR_ESTATE, "too few survivors: the sum would "
                           "reveal too much about single stores", why);
    for (uint32_t s = 0; s < c->p.k; s++) {
        int in3 = bit(in->bitmap, c->nb[s]);
        if (in3 && !c->peers[s].in_u2)
            return client_fail(c, FR_ESTATE, "survivor set names a neighbour "
                               "whose shares never arrived", why);
        c->peers[s].in_u3 = (uint8_t)in3;
    }
    memcpy(c->u3, in->bitmap, nb);
    u3_message(m, &c->p, c->u3, nb);
    memset(out, 0, sizeof *out);
    out->phase = FR_SA_SIGNED;
    fr_crypto_sign(c->id, m, sizeof m, out->sig);
    c->state = C_SIGNED;
    return FR_OK;
}

static fr_err
client_on_unmask(fr_sa_client *c, const fr_sa_msg *in, fr_sa_msg *out,
                 const char **why)
{
    uint8_t m[U3_MSG_BYTES], seen_sig[FR_SA_MAX_PARTIES / 8 + 1];
    uint32_t good = 0, nr = 0;
    uint8_t *asked;

    if (in->n_sigs > c->p.k || in->n_reveals > c->p.k)
        return client_fail(c, FR_EPROTO, "more entries than neighbours", why);
    u3_message(m, &c->p, c->u3, bitmap_bytes(c->p.n));
    memset(seen_sig, 0, sizeof seen_sig);
    for (uint32_t e = 0; e < in->n_sigs; e++) {
        int s = slot_of(c->nb, c->p.k, in->sigs[e].index);
        if (s < 0 || !c->peers[s].in_u3)
            return client_fail(c, FR_EPROTO, "a signature from a store that "
                               "is not a surviving neighbour", why);
        if (seen_sig[s / 8] & (1u << (s % 8)))
            return client_fail(c, FR_EPROTO, "two signatures from one store",
                               why);
        seen_sig[s / 8] |= (uint8_t)(1u << (s % 8));
        if (fr_crypto_verify(c->peers[s].keys.id_pk, m, sizeof m,
                             in->sigs[e].sig))
            return client_fail(c, FR_ESTATE, "a neighbour signed a different "
                               "survivor set: the aggregator is inconsistent",
                               why);
        good++;
    }
    if (good < c->p.t)
        return client_fail(c, FR_ESTATE, "fewer neighbours confirmed the "
                           "survivor set than the threshold", why);
    asked = calloc(c->p.k, 1);
    if (!asked)
        return FR_ENOMEM;
    for (uint32_t e = 0; e < in->n_reveals; e++) {
        const fr_sa_reveal *r = &in->reveals[e];
        int s = slot_of(c->nb, c->p.k, r->peer);
        uint32_t want;

        if (s < 0 || !c->peers[s].in_u2) {
            free(asked);
            return client_fail(c, FR_EPROTO, "a share request for a store "
                               "whose shares this store does not hold", why);
        }
        if (asked[s]) {
            free(asked);
            return client_fail(c, FR_ESTATE, "the aggregator asked twice "
                               "about one store (both shares?)", why);
        }
        asked[s] = 1;
        want = c->peers[s].in_u3 ? FR_SA_SHARE_B : FR_SA_SHARE_S;
        if (r->kind != want) {
            free(asked);
            return client_fail(c, FR_ESTATE, r->kind == FR_SA_SHARE_S
                                   ? "the aggregator asked for the key share "
                                     "of a store that sent its input"
                                   : "the aggregator asked for the seed "
                                     "share of a store that dropped", why);
        }
        c->rev_out[nr].peer = r->peer;
        c->rev_out[nr].kind = want;
        memcpy(c->rev_out[nr].y,
               want == FR_SA_SHARE_B ? held_b(c)[s].y : held_s(c)[s].y,
               FR_SHAMIR_SHARE_BYTES);
        nr++;
    }
    free(asked);
    /* Everything held is either revealed now or never will be. */
    sodium_memzero(c->sec, c->sec_bytes);
    memset(out, 0, sizeof *out);
    out->phase = FR_SA_REVEAL;
    out->reveals = c->rev_out;
    out->n_reveals = nr;
    c->state = C_DONE;
    return FR_OK;
}

fr_err
fr_sa_client_recv(fr_sa_client *c, const fr_sa_msg *in, fr_sa_msg *out,
                  const char **why)
{
    static const int expect[] = {
        [FR_SA_KEYS] = C_ADVERTISED, [FR_SA_MASK_REQ] = C_SHARED,
        [FR_SA_CONSIST] = C_MASKED, [FR_SA_UNMASK] = C_SIGNED};

    if (!c || !in || !out)
        return FR_EINVAL;
    if (c->state == C_FAILED) {
        if (why)
            *why = "this store already refused the round";
        return FR_ESTATE;
    }
    if (!(in->phase == FR_SA_KEYS || in->phase == FR_SA_MASK_REQ ||
          in->phase == FR_SA_CONSIST || in->phase == FR_SA_UNMASK))
        return client_fail(c, FR_EPROTO, "not a request a store answers",
                           why);
    if (c->state != expect[in->phase])
        return client_fail(c, FR_EPROTO, "request out of order or repeated",
                           why);
    switch (in->phase) {
    case FR_SA_KEYS:
        return client_on_keys(c, in, out, why);
    case FR_SA_MASK_REQ:
        return client_on_mask_req(c, in, out, why);
    case FR_SA_CONSIST:
        return client_on_consist(c, in, out, why);
    default:
        return client_on_unmask(c, in, out, why);
    }
}

/* ---- aggregator side ----------------------------------------------------------- */

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
    uint8_t u3msg[U3_MSG_BYTES];
    uint32_t *sum;
    fr_shamir_share *held; /* n * k: share of i's secret from its slot-s
                              neighbour; sodium_malloc'd */
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

    if (params_ok(p) || !graph_seed || !id_pks || !out)
        return FR_EINVAL;
    crypto_generichash(commit, 32, graph_seed, 32, NULL, 0);
    if (sodium_memcmp(commit, p->graph_commit, 32))
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
    s->bitmap = calloc(bitmap_bytes(p->n), 1);
    s->sum = calloc(p->n_words, sizeof *s->sum);
    s->held_bytes = nk * sizeof *s->held;
    s->held = sodium_malloc(s->held_bytes ? s->held_bytes : 1);
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
    sodium_memzero(s->held, s->held_bytes);
    memcpy(s->id, id_pks, n * 32);
    rc = graph_build(graph_seed, p->n, p->k, s->nbr);
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
        sodium_memzero(s->held, s->held_bytes);
        sodium_free(s->held);
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
        sodium_memzero(s->rq_rev, s->p.k * sizeof *s->rq_rev);
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
    uint8_t msg[KEYS_MSG_BYTES];

    if (m->n_keys != 1 || !m->keys)
        return srv_reject("advertise must carry exactly one key set", why,
                          FR_EPROTO);
    if (m->keys[0].index != from)
        return srv_reject("advertised keys for another store", why,
                          FR_EPROTO);
    keys_message(msg, &s->p, from, m->keys[0].c_pk, m->keys[0].s_pk);
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
        int sl = slot_of(r, s->p.k, c->to);
        if (c->from != from || sl < 0 || !s->u1[c->to])
            return srv_reject("a share for a store that is not a neighbour "
                              "with keys", why, FR_EPROTO);
        if (seen[sl / 8] & (1u << (sl % 8)))
            return srv_reject("two shares for one neighbour", why,
                              FR_EPROTO);
        seen[sl / 8] |= (uint8_t)(1u << (sl % 8));
    }
    for (uint32_t e = 0; e < want; e++) {
        int sl = slot_of(r, s->p.k, m->ciphers[e].to);
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
        int sl = v->peer < s->p.n ? slot_of(r, s->p.k, v->peer) : -1;
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
                    (uint32_t)slot_of(row(s, v->peer), s->p.k, from);
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
    sodium_memzero(s->held, s->held_bytes);
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

static fr_err
srv_unmask(fr_sa_server *s, const char **why)
{
    fr_shamir_share *pick = sodium_malloc(s->p.k * sizeof *pick);
    uint8_t *secret = sodium_malloc(32), seed[32], pk[32];
    fr_err rc = FR_OK;

    if (!pick || !secret) {
        rc = srv_abort(s, "out of memory while unmasking", why);
        goto out;
    }
    for (uint32_t j = 0; j < s->p.n && !rc; j++) {
        uint32_t got = 0;
        if (!s->u2[j])
            continue;
        for (uint32_t e = 0; e < s->p.k && got < s->p.t; e++)
            if (s->has_held[(size_t)j * s->p.k + e])
                pick[got++] = s->held[(size_t)j * s->p.k + e];
        if (got < s->p.t) {
            rc = srv_abort(s, "too few shares revealed to rebuild a store's "
                           "secret", why);
            break;
        }
        if (fr_shamir_combine(pick, got, secret)) {
            rc = srv_abort(s, "revealed shares are inconsistent", why);
            break;
        }
        if (s->u3[j]) {
            fr_sa_prg_add(s->sum, s->p.n_words, secret, -1);
            continue;
        }
        crypto_scalarmult_base(pk, secret);
        if (sodium_memcmp(pk, s->keys[j].s_pk, 32)) {
            rc = srv_abort(s, "a rebuilt mask key does not match the key the "
                           "store advertised", why);
            break;
        }
        for (uint32_t e = 0; e < s->p.k; e++) {
            uint32_t i = row(s, j)[e];
            if (!s->u3[i])
                continue;
            if (agree(seed, secret, s->keys[i].s_pk, LBL_MASK,
                      s->p.round_id, i, j)) {
                rc = srv_abort(s, "a store's mask key is invalid", why);
                break;
            }
            /* i added +PRG if i < j, -PRG otherwise: take it back out. */
            fr_sa_prg_add(s->sum, s->p.n_words, seed, i < j ? -1 : 1);
        }
    }
out:
    sodium_memzero(seed, sizeof seed);
    if (secret) {
        sodium_memzero(secret, 32);
        sodium_free(secret);
    }
    if (pick) {
        sodium_memzero(pick, s->p.k * sizeof *pick);
        sodium_free(pick);
    }
    sodium_memzero(s->held, s->held_bytes);
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
        memset(s->bitmap, 0, bitmap_bytes(n));
        for (uint32_t i = 0; i < n; i++)
            if (s->u3[i])
                s->bitmap[i / 8] |= (uint8_t)(1u << (i % 8));
        u3_message(s->u3msg, &s->p, s->bitmap, bitmap_bytes(n));
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
            sl = slot_of(row(s, j), s->p.k, i);
            s->rq_ct[m++] = s->ct[(size_t)j * s->p.k + (uint32_t)sl];
        }
        out->phase = FR_SA_MASK_REQ;
        out->ciphers = s->rq_ct;
        out->n_ciphers = m;
        break;
    case FR_SA_SIGNED:
        out->phase = FR_SA_CONSIST;
        out->bitmap = s->bitmap;
        out->bitmap_bytes = bitmap_bytes(s->p.n);
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
