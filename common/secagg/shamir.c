/*
 * shamir.c - Shamir secret sharing over GF(2^61 - 1). See shamir.h.
 *
 * p = 2^61 - 1 is a Mersenne prime, so a 122-bit product reduces with two
 * shifts and adds instead of a division, and a 7-byte chunk always fits below
 * p with no bias to remove. Inverses use Fermat (a^(p-2)); combining needs
 * only one per share, so nothing cleverer pays off.
 *
 * Splitting validates every argument before it allocates or writes, so a
 * refused call leaves shares_out untouched. Coefficients, secret chunks and
 * the keystream are wiped on every path out. Combining checks every share
 * (x range, duplicates, elements below p) before any arithmetic and writes
 * secret_out only once all five rebuilt chunks are known to be in range.
 *
 * Nothing here branches on secret values except the final range check of a
 * rebuilt secret, whose outcome the caller learns anyway.
 */
#include "shamir.h"

#include <stdlib.h>
#include <string.h>

#include "../crypto/crypto.h"
#include "../crypto/prim.h"

#define P           ((uint64_t)0x1FFFFFFFFFFFFFFF) /* 2^61 - 1 */
#define CHUNK_BYTES 7
#define LAST_CHUNK_BYTES                                                       \
    (FR_SHAMIR_SECRET_BYTES - CHUNK_BYTES * (FR_SHAMIR_CHUNKS - 1))
#define SEED_BYTES     32
#define X_BITMAP_BYTES ((FR_SHAMIR_MAX_X + 1) / 8)

_Static_assert(LAST_CHUNK_BYTES == 4, "secret layout is 4 x 7 + 4 bytes");
_Static_assert(SEED_BYTES == FR_CRYPTO_STREAM_KEY_BYTES,
               "the seed is the ChaCha20 key");
_Static_assert(FR_CRYPTO_STREAM_NONCE_BYTES == 8,
               "original ChaCha20: 64-bit nonce, 64-bit block counter");
_Static_assert(FR_SHAMIR_MAX_X < P, "every x is a non-zero field element");

/* -std=c11 has no 128-bit type; GCC and Clang offer one as an extension. */
__extension__ typedef unsigned __int128 u128;

/* ---- field arithmetic ---------------------------------------------------- */

static uint64_t
f_add(uint64_t a, uint64_t b)
{
    uint64_t r = a + b; /* < 2^62, no overflow */
    return r >= P ? r - P : r;
}

static uint64_t
f_sub(uint64_t a, uint64_t b)
{
    return a >= b ? a - b : a + P - b;
}

static uint64_t
f_mul(uint64_t a, uint64_t b)
{
    u128 z = (u128)a * b;
    /* 2^61 == 1 (mod p): fold the high bits onto the low ones. z < 2^122,
     * so r < 2^62 and a second fold leaves at most one subtraction. */
    uint64_t r = ((uint64_t)z & P) + (uint64_t)(z >> 61);
    r = (r & P) + (r >> 61);
    return r >= P ? r - P : r;
}

static uint64_t
f_pow(uint64_t a, uint64_t e)
{
    uint64_t r = 1;

    while (e) {
        if (e & 1)
            r = f_mul(r, a);
        a = f_mul(a, a);
        e >>= 1;
    }
    return r;
}

/* a != 0; p is prime, so a^(p-2) * a = a^(p-1) = 1. */
static uint64_t
f_inv(uint64_t a)
{
    return f_pow(a, P - 2);
}

/* ---- byte layout --------------------------------------------------------- */

static uint64_t
load_le(const uint8_t *b, size_t len)
{
    uint64_t v = 0;

    for (size_t i = len; i-- > 0;)
        v = v << 8 | b[i];
    return v;
}

static void
store_le(uint8_t *b, size_t len, uint64_t v)
{
    for (size_t i = 0; i < len; i++, v >>= 8)
        b[i] = (uint8_t)v;
}

static size_t
chunk_len(size_t c)
{
    return c + 1 < FR_SHAMIR_CHUNKS ? CHUNK_BYTES : LAST_CHUNK_BYTES;
}

/* ---- seeded coefficient stream --------------------------------------------
 * The ChaCha20 keystream (key = seed, nonce = 0) read one 64-byte block at a
 * time, which is byte for byte what the ChaCha20 stream produces, without
 * having to know in advance how many words rejection sampling will use. */

typedef struct coef_stream {
    const uint8_t *key;
    uint64_t block; /* next block counter */
    size_t pos;     /* read position in buf */
    uint8_t buf[64];
} coef_stream;

static void
coef_stream_init(coef_stream *s, const uint8_t key[SEED_BYTES])
{
    s->key = key;
    s->block = 0;
    s->pos = sizeof s->buf;
}

/* Next uniform element of GF(p): a 61-bit word, redrawn if it equals p. */
static uint64_t
coef_stream_next(coef_stream *s)
{
    static const uint8_t nonce[FR_CRYPTO_STREAM_NONCE_BYTES];
    uint64_t v;

    do {
        if (s->pos == sizeof s->buf) {
            memset(s->buf, 0, sizeof s->buf);
            fr_crypto_stream_xor_ic(s->buf, s->buf, sizeof s->buf, nonce,
                                    s->block++, s->key);
            s->pos = 0;
        }
        v = load_le(s->buf + s->pos, 8) & P;
        s->pos += 8;
    } while (v >= P);
    return v;
}

/* ---- split --------------------------------------------------------------- */

/* FR_OK iff 1 <= t <= n and xs holds n distinct values in 1..MAX_X. */
static fr_err
check_split_args(uint32_t t, uint32_t n, const uint32_t *xs)
{
    uint8_t seen[X_BITMAP_BYTES] = {0};

    if (t == 0 || t > n)
        return FR_EINVAL;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t x = xs[i];
        if (x == 0 || x > FR_SHAMIR_MAX_X || (seen[x / 8] >> (x % 8)) & 1)
            return FR_EINVAL;
        seen[x / 8] |= (uint8_t)(1u << (x % 8));
    }
    return FR_OK;
}

/* shares_out[i].y chunk c = poly(xs[i]) with poly = s + coef[0] X + ...
 * + coef[t-2] X^(t-1), by Horner from the top coefficient down. */
static void
eval_chunk(uint64_t s, const uint64_t *coef, uint32_t t, uint32_t n,
           const uint32_t *xs, size_t c, fr_shamir_share *shares_out)
{
    for (uint32_t i = 0; i < n; i++) {
        uint64_t acc = 0;
        for (uint32_t k = t - 1; k-- > 0;)
            acc = f_add(f_mul(acc, xs[i]), coef[k]);
        acc = f_add(f_mul(acc, xs[i]), s);
        store_le(shares_out[i].y + 8 * c, 8, acc);
    }
}

fr_err
fr_shamir_split_seeded(const uint8_t secret[FR_SHAMIR_SECRET_BYTES], uint32_t t,
                       uint32_t n, const uint32_t *xs, const uint8_t seed[32],
                       fr_shamir_share *shares_out)
{
    uint64_t *coef = NULL;
    uint64_t chunk[FR_SHAMIR_CHUNKS];
    coef_stream cs;
    fr_err rc;

    if (!secret || !xs || !seed || !shares_out)
        return FR_EINVAL;
    if ((rc = check_split_args(t, n, xs)) != FR_OK)
        return rc;
    /* t <= n <= MAX_X, so this size cannot overflow; one chunk's
     * coefficients at a time, reused for the next chunk. */
    if (t > 1 && !(coef = malloc((size_t)(t - 1) * sizeof *coef)))
        return FR_ENOMEM;

    for (size_t c = 0, off = 0; c < FR_SHAMIR_CHUNKS; off += chunk_len(c++))
        chunk[c] = load_le(secret + off, chunk_len(c));
    coef_stream_init(&cs, seed);
    for (uint32_t i = 0; i < n; i++)
        shares_out[i].x = xs[i];
    for (size_t c = 0; c < FR_SHAMIR_CHUNKS; c++) {
        for (uint32_t k = 0; k + 1 < t; k++)
            coef[k] = coef_stream_next(&cs);
        eval_chunk(chunk[c], coef, t, n, xs, c, shares_out);
    }

    if (coef) {
        fr_crypto_wipe(coef, (size_t)(t - 1) * sizeof *coef);
        free(coef);
    }
    fr_crypto_wipe(chunk, sizeof chunk);
    fr_crypto_wipe(&cs, sizeof cs);
    return FR_OK;
}

fr_err
fr_shamir_split(const uint8_t secret[FR_SHAMIR_SECRET_BYTES], uint32_t t,
                uint32_t n, const uint32_t *xs, fr_shamir_share *shares_out)
{
    uint8_t seed[SEED_BYTES];
    fr_err rc;

    /* The random source needs the library initialised; fr_crypto_init is
     * idempotent and thread-safe. */
    if (fr_crypto_init() != FR_OK)
        return FR_ESYS;
    /* A fresh key for the coefficient stream: its 2^70-byte keystream is
     * indistinguishable from uniform, so the coefficients are too. */
    fr_crypto_random(seed, sizeof seed);
    rc = fr_shamir_split_seeded(secret, t, n, xs, seed, shares_out);
    fr_crypto_wipe(seed, sizeof seed);
    return rc;
}

/* ---- combine ------------------------------------------------------------- */

/* FR_OK iff every x is in 1..MAX_X and unique and every element is < p. */
static fr_err
check_shares(const fr_shamir_share *shares, uint32_t count)
{
    uint8_t seen[X_BITMAP_BYTES] = {0};

    for (uint32_t i = 0; i < count; i++) {
        uint32_t x = shares[i].x;
        if (x == 0 || x > FR_SHAMIR_MAX_X || (seen[x / 8] >> (x % 8)) & 1)
            return FR_EPROTO;
        seen[x / 8] |= (uint8_t)(1u << (x % 8));
        for (size_t c = 0; c < FR_SHAMIR_CHUNKS; c++)
            if (load_le(shares[i].y + 8 * c, 8) >= P)
                return FR_EPROTO;
    }
    return FR_OK;
}

/* Lagrange basis polynomial i at 0: prod_{j != i} x_j / (x_j - x_i). */
static uint64_t
lagrange_at_zero(const fr_shamir_share *shares, uint32_t count, uint32_t i)
{
    uint64_t num = 1, den = 1;

    for (uint32_t j = 0; j < count; j++) {
        if (j == i)
            continue;
        num = f_mul(num, shares[j].x);
        den = f_mul(den, f_sub(shares[j].x, shares[i].x));
    }
    /* x values are distinct and below p, so den != 0 */
    return f_mul(num, f_inv(den));
}

fr_err
fr_shamir_combine(const fr_shamir_share *shares, uint32_t count,
                  uint8_t secret_out[FR_SHAMIR_SECRET_BYTES])
{
    uint64_t acc[FR_SHAMIR_CHUNKS] = {0};
    fr_err rc = FR_OK;

    if (!shares || count == 0 || !secret_out)
        return FR_EINVAL;
    if ((rc = check_shares(shares, count)) != FR_OK)
        return rc;

    for (uint32_t i = 0; i < count; i++) {
        uint64_t l = lagrange_at_zero(shares, count, i);
        for (size_t c = 0; c < FR_SHAMIR_CHUNKS; c++)
            acc[c] = f_add(acc[c], f_mul(load_le(shares[i].y + 8 * c, 8), l));
    }
    /* Consistent shares rebuild chunks that fit their bytes; anything else
     * means at least one share was wrong. */
    for (size_t c = 0; c < FR_SHAMIR_CHUNKS; c++)
        if (acc[c] >> (8 * chunk_len(c)))
            rc = FR_EPROTO;
    if (rc == FR_OK)
        for (size_t c = 0, off = 0; c < FR_SHAMIR_CHUNKS; off += chunk_len(c++))
            store_le(secret_out + off, chunk_len(c), acc[c]);
    fr_crypto_wipe(acc, sizeof acc);
    return rc;
}
