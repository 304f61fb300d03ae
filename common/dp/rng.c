/*
 * rng.c - the deterministic CSPRNG of the DP noise path. See rng.h.
 *
 * The keystream is ChaCha20 (fr_crypto_stream_xor_ic, the original
 * construction with a 64-bit block counter) with a zero nonce: each key is
 * used for one stream only. It is produced BUF_BLOCKS blocks at a time into
 * a buffer and consumed 8 bytes at a time, little-endian. With a 64-bit
 * counter the stream never repeats in practice (2^70 bytes).
 *
 * uniform(m) for m < 2^64 is Lemire's multiply-and-reject: take the high
 * half of x * m and reject the few x whose low half falls below
 * 2^64 mod m, which makes every output equally likely. 128-bit ranges use
 * masking: draw as many bits as m - 1 has and reject values >= m (fewer
 * than two tries on average, and no 128-bit division).
 */
#include "rng.h"

#include <string.h>

#include "../crypto/crypto.h"
#include "../crypto/prim.h"

#define BUF_BLOCKS 64
#define BUF_BYTES  (64 * BUF_BLOCKS)

_Static_assert(FR_CRYPTO_STREAM_KEY_BYTES == FR_DP_RNG_KEY_BYTES,
               "the generator key is a ChaCha20 key");
_Static_assert(FR_DP_RNG_KEY_BYTES == 32,
               "BLAKE2b-256 of the public seed is the key");

struct fr_dp_rng {
    uint8_t key[FR_DP_RNG_KEY_BYTES];
    uint64_t block;             /* next keystream block to produce */
    size_t pos;                 /* next unread byte of buf */
    fr_dp_rng_script_fn script; /* non-NULL: scripted source */
    void *script_ctx;
    uint8_t buf[BUF_BYTES];
};

static fr_err
rng_alloc(fr_dp_rng **out)
{
    fr_dp_rng *r;

    /* told apart from a short allocation: the library cannot start */
    if (fr_crypto_init() != FR_OK)
        return FR_ESYS;
    r = fr_crypto_secure_alloc(sizeof *r);
    if (!r)
        return FR_ENOMEM;
    memset(r, 0, sizeof *r);
    r->pos = BUF_BYTES; /* empty: the first draw refills */
    *out = r;
    return FR_OK;
}

fr_err
fr_dp_rng_new(fr_dp_rng **out, const uint8_t key[32])
{
    fr_dp_rng *r = NULL;
    fr_err rc;

    if (!out)
        return FR_EINVAL;
    if ((rc = rng_alloc(&r)) != FR_OK)
        return rc;
    if (key)
        memcpy(r->key, key, sizeof r->key);
    else
        fr_crypto_random(r->key, sizeof r->key);
    *out = r;
    return FR_OK;
}

fr_err
fr_dp_rng_new_public(fr_dp_rng **out, const char *label, uint64_t seed)
{
    fr_crypto_hash_state st;
    uint8_t le[8];
    fr_dp_rng *r = NULL;
    fr_err rc;

    if (!out || !label)
        return FR_EINVAL;
    if ((rc = rng_alloc(&r)) != FR_OK)
        return rc;
    for (int i = 0; i < 8; i++)
        le[i] = (uint8_t)(seed >> (8 * i));
    /* the label's NUL is hashed too, so label and seed cannot run together */
    fr_crypto_hash_init(&st, sizeof r->key);
    fr_crypto_hash_update(&st, label, strlen(label) + 1);
    fr_crypto_hash_update(&st, le, sizeof le);
    fr_crypto_hash_final(&st, r->key, sizeof r->key);
    *out = r;
    return FR_OK;
}

fr_err
fr_dp_rng_new_scripted(fr_dp_rng **out, fr_dp_rng_script_fn fn, void *ctx)
{
    fr_dp_rng *r = NULL;
    fr_err rc;

    if (!out || !fn)
        return FR_EINVAL;
    if ((rc = rng_alloc(&r)) != FR_OK)
        return rc;
    r->script = fn;
    r->script_ctx = ctx;
    *out = r;
    return FR_OK;
}

void
fr_dp_rng_destroy(fr_dp_rng **rp)
{
    if (!rp || !*rp)
        return;
    /* wipes the whole block (key and keystream) */
    fr_crypto_secure_free(*rp);
    *rp = NULL;
}

static fr_dp_u128
scripted(fr_dp_rng *r, fr_dp_u128 m)
{
    fr_dp_u128 v = r->script(r->script_ctx, m);

    FR_ASSERT(v < m);
    return v;
}

/* The next 64 keystream bits. */
static uint64_t
next_u64(fr_dp_rng *r)
{
    uint64_t v = 0;

    if (r->pos + 8 > BUF_BYTES) {
        static const uint8_t nonce[FR_CRYPTO_STREAM_NONCE_BYTES];

        memset(r->buf, 0, sizeof r->buf);
        fr_crypto_stream_xor_ic(r->buf, r->buf, sizeof r->buf, nonce,
                                r->block, r->key);
        r->block += BUF_BLOCKS;
        r->pos = 0;
    }
    for (int i = 7; i >= 0; i--)
        v = v << 8 | r->buf[r->pos + (size_t)i];
    r->pos += 8;
    return v;
}

static uint64_t
real_uniform(fr_dp_rng *r, uint64_t m)
{
    fr_dp_u128 p = (fr_dp_u128)next_u64(r) * m;

    if ((uint64_t)p < m) {
        uint64_t reject_below = (0 - m) % m; /* 2^64 mod m */

        while ((uint64_t)p < reject_below)
            p = (fr_dp_u128)next_u64(r) * m;
    }
    return (uint64_t)(p >> 64);
}

static fr_dp_u128
real_uniform128(fr_dp_rng *r, fr_dp_u128 m)
{
    fr_dp_u128 top = m - 1, mask, v;
    uint64_t hi = (uint64_t)(top >> 64);

    if (hi == 0)
        return top == UINT64_MAX ? next_u64(r) : real_uniform(r, (uint64_t)m);
    mask = ((fr_dp_u128)(UINT64_MAX >> __builtin_clzll(hi)) << 64) | UINT64_MAX;
    do {
        v = (fr_dp_u128)next_u64(r) << 64;
        v |= next_u64(r);
        v &= mask;
    } while (v >= m);
    return v;
}

uint64_t
fr_dp_rng_u64(fr_dp_rng *r)
{
    FR_ASSERT(r);
    if (r->script)
        return (uint64_t)scripted(r, (fr_dp_u128)1 << 64);
    return next_u64(r);
}

uint64_t
fr_dp_rng_uniform(fr_dp_rng *r, uint64_t m)
{
    FR_ASSERT(r && m >= 1);
    if (r->script)
        return (uint64_t)scripted(r, m);
    return real_uniform(r, m);
}

fr_dp_u128
fr_dp_rng_uniform128(fr_dp_rng *r, fr_dp_u128 m)
{
    FR_ASSERT(r && m >= 1);
    if (r->script)
        return scripted(r, m);
    return real_uniform128(r, m);
}

double
fr_dp_rng_unit(fr_dp_rng *r)
{
    uint64_t k;

    FR_ASSERT(r);
    if (r->script)
        k = (uint64_t)scripted(r, (fr_dp_u128)1 << 53);
    else
        k = next_u64(r) >> 11;
    return (double)k * 0x1p-53;
}
