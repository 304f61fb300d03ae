/*
 * secagg.c - SecAgg+ pieces both roles use: parameters, the neighbour graph,
 * the mask PRG, pairwise key agreement and the messages that are signed or
 * authenticated. The store's state machine is in secagg_client.c, the
 * aggregator's in secagg_server.c.
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
 *   server's revealed shares, live in guarded blocks
 *   (fr_crypto_secure_alloc) wiped on destroy; each secret is wiped as soon
 *   as its last use is over.
 */
#include "secagg.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/util.h"
#include "../crypto/crypto.h"
#include "../crypto/prim.h"
#include "secagg_int.h"

#define LBL_KEYS "fedrec-sa-keys"
#define LBL_U3 "fedrec-sa-u3"
#define LBL_CT "fedrec-sa-ct"

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
    fr_crypto_random(seed_out, 32);
    fr_crypto_hash(commit_out, 32, seed_out, 32);
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
        uint8_t raw[64], nonce[FR_CRYPTO_STREAM_NONCE_BYTES] = {0};

        fr_crypto_stream_xor_ic(raw, (const uint8_t[64]){0}, 64, nonce,
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
fr_err
fr_sa_graph_build(const uint8_t seed[32], uint32_t n, uint32_t k, uint32_t *out)
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
    rc = fr_sa_graph_build(seed, n, k, all);
    if (!rc)
        memcpy(out, all + (size_t)i * k, k * sizeof *out);
    free(all);
    return rc;
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
    static const uint8_t nonce[FR_CRYPTO_STREAM_NONCE_BYTES];
    uint32_t buf[PRG_CHUNK_WORDS];
    uint64_t block = 0;

    for (size_t off = 0; off < n; off += PRG_CHUNK_WORDS) {
        size_t m = n - off < PRG_CHUNK_WORDS ? n - off : PRG_CHUNK_WORDS;
        size_t bytes = (m * 4 + 63) & ~(size_t)63;

        /* Whole 64-byte blocks so the counter stays aligned with `block`. */
        memset(buf, 0, bytes);
        fr_crypto_stream_xor_ic((uint8_t *)buf, (const uint8_t *)buf, bytes,
                                nonce, block, seed);
        block += bytes / 64;
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
        for (size_t j = 0; j < m; j++)
            buf[j] = fr_get_u32le((const uint8_t *)&buf[j]);
#endif
        add_words(words + off, buf, m, sign);
    }
    fr_crypto_wipe(buf, sizeof buf);
}

/* out = BLAKE2b-256 keyed by the X25519 point of (sk, pk) over
 * label || round || min(a,b) || max(a,b). FR_EAUTH for a low-order pk. */
fr_err
fr_sa_agree(uint8_t out[32], const uint8_t sk[32], const uint8_t pk[32],
            const char *label, uint64_t round, uint32_t a, uint32_t b)
{
    uint8_t point[FR_CRYPTO_X25519_BYTES], msg[32 + 16];
    size_t ll = strlen(label);
    int bad;

    bad = fr_crypto_x25519(point, sk, pk) != FR_OK;
    memcpy(msg, label, ll);
    fr_put_u64le(msg + ll, round);
    fr_put_u32le(msg + ll + 8, a < b ? a : b);
    fr_put_u32le(msg + ll + 12, a < b ? b : a);
    fr_crypto_hash_keyed(out, 32, msg, ll + 16, point, sizeof point);
    fr_crypto_wipe(point, sizeof point);
    if (bad) {
        fr_crypto_wipe(out, 32);
        return FR_EAUTH;
    }
    return FR_OK;
}

/* What a store signs when it advertises its round keys. */
void
fr_sa_keys_message(uint8_t out[FR_SA_KEYS_MSG_BYTES], const fr_sa_params *p,
                   uint32_t i, const uint8_t c_pk[32], const uint8_t s_pk[32])
{
    memcpy(out, LBL_KEYS, 14);
    fr_put_u64le(out + 14, p->round_id);
    fr_put_u32le(out + 22, p->n);
    fr_put_u32le(out + 26, i);
    memcpy(out + 30, c_pk, 32);
    memcpy(out + 62, s_pk, 32);
}

/* What a store signs to confirm U3: label, round, n, BLAKE2b(bitmap). */
void
fr_sa_u3_message(uint8_t out[FR_SA_U3_MSG_BYTES], const fr_sa_params *p,
                 const uint8_t *bitmap, size_t bytes)
{
    memcpy(out, LBL_U3, 12);
    fr_put_u64le(out + 12, p->round_id);
    fr_put_u32le(out + 20, p->n);
    fr_crypto_hash(out + 24, 32, bitmap, bytes);
}

void
fr_sa_ct_ad(uint8_t ad[FR_SA_AD_BYTES], uint64_t round, uint32_t from,
            uint32_t to)
{
    memcpy(ad, LBL_CT, 12);
    fr_put_u64le(ad + 12, round);
    fr_put_u32le(ad + 20, from);
    fr_put_u32le(ad + 24, to);
}

fr_err
fr_sa_params_ok(const fr_sa_params *p)
{
    if (!p || p->n < 2 || p->n > FR_SA_MAX_PARTIES || p->k == 0 ||
        p->k > p->n - 1 || (p->k != p->n - 1 && (p->k & 1u)) || p->t < 1 ||
        p->t > p->k || p->n_words == 0 || p->min_inputs < p->t ||
        p->min_inputs > p->n)
        return FR_EINVAL;
    return FR_OK;
}
