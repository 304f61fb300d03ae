/*
 * prim.c - fr_crypto_* primitives: one libsodium call each (see prim.h).
 */
#include "prim.h"

#include <stdalign.h>
#include <string.h>

#include <sodium.h>

_Static_assert(sizeof(fr_crypto_hash_state) >=
                   sizeof(crypto_generichash_state),
               "fr_crypto_hash_state must hold libsodium's state");
_Static_assert(alignof(fr_crypto_hash_state) >=
                   alignof(crypto_generichash_state),
               "fr_crypto_hash_state must be aligned like libsodium's state");
_Static_assert(FR_CRYPTO_STREAM_KEY_BYTES == crypto_stream_chacha20_KEYBYTES,
               "stream key size");
_Static_assert(FR_CRYPTO_STREAM_NONCE_BYTES ==
                   crypto_stream_chacha20_NONCEBYTES,
               "stream nonce size");
_Static_assert(FR_CRYPTO_AEAD_KEY_BYTES ==
                   crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
               "aead key size");
_Static_assert(FR_CRYPTO_AEAD_NONCE_BYTES ==
                   crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
               "aead nonce size");
_Static_assert(FR_CRYPTO_AEAD_TAG_BYTES ==
                   crypto_aead_xchacha20poly1305_ietf_ABYTES,
               "aead tag size");
_Static_assert(FR_CRYPTO_X25519_BYTES == crypto_scalarmult_BYTES &&
                   FR_CRYPTO_X25519_BYTES == crypto_scalarmult_SCALARBYTES &&
                   FR_CRYPTO_X25519_BYTES == crypto_box_PUBLICKEYBYTES &&
                   FR_CRYPTO_X25519_BYTES == crypto_box_SECRETKEYBYTES,
               "x25519 sizes");

void *
fr_crypto_secure_alloc(size_t len)
{
    /* sodium_malloc needs the library initialised (page size). */
    if (sodium_init() < 0)
        return NULL;
    return sodium_malloc(len);
}

void
fr_crypto_secure_free(void *p)
{
    sodium_free(p);
}

int
fr_crypto_is_zero(const void *p, size_t len)
{
    return sodium_is_zero((const unsigned char *)p, len);
}

void
fr_crypto_hash_init(fr_crypto_hash_state *st, size_t out_len)
{
    FR_ASSERT(out_len >= 1 && out_len <= crypto_generichash_BYTES_MAX);
    crypto_generichash_init((crypto_generichash_state *)(void *)st, NULL, 0,
                            out_len);
}

void
fr_crypto_hash_update(fr_crypto_hash_state *st, const void *in, size_t len)
{
    crypto_generichash_update((crypto_generichash_state *)(void *)st,
                              (const unsigned char *)in, len);
}

void
fr_crypto_hash_final(fr_crypto_hash_state *st, uint8_t *out, size_t out_len)
{
    FR_ASSERT(out_len >= 1 && out_len <= crypto_generichash_BYTES_MAX);
    crypto_generichash_final((crypto_generichash_state *)(void *)st, out,
                             out_len);
    sodium_memzero(st, sizeof *st);
}

void
fr_crypto_hash_keyed(uint8_t *out, size_t out_len, const void *in,
                     size_t in_len, const uint8_t *key, size_t key_len)
{
    crypto_generichash(out, out_len, (const unsigned char *)in, in_len, key,
                       key_len);
}

void
fr_crypto_stream_xor_ic(uint8_t *out, const uint8_t *in, size_t len,
                        const uint8_t nonce[FR_CRYPTO_STREAM_NONCE_BYTES],
                        uint64_t ic,
                        const uint8_t key[FR_CRYPTO_STREAM_KEY_BYTES])
{
    crypto_stream_chacha20_xor_ic(out, in, len, nonce, ic, key);
}

void
fr_crypto_x25519_keypair(uint8_t pk_out[FR_CRYPTO_X25519_BYTES],
                         uint8_t sk_out[FR_CRYPTO_X25519_BYTES])
{
    crypto_box_keypair(pk_out, sk_out);
}

void
fr_crypto_x25519_base(uint8_t pk_out[FR_CRYPTO_X25519_BYTES],
                      const uint8_t sk[FR_CRYPTO_X25519_BYTES])
{
    crypto_scalarmult_base(pk_out, sk);
}

fr_err
fr_crypto_x25519(uint8_t out[FR_CRYPTO_X25519_BYTES],
                 const uint8_t sk[FR_CRYPTO_X25519_BYTES],
                 const uint8_t pk[FR_CRYPTO_X25519_BYTES])
{
    return crypto_scalarmult(out, sk, pk) == 0 ? FR_OK : FR_EAUTH;
}

void
fr_crypto_aead_encrypt(uint8_t *ct_out, const uint8_t *pt, size_t len,
                       const uint8_t *ad, size_t ad_len,
                       const uint8_t nonce[FR_CRYPTO_AEAD_NONCE_BYTES],
                       const uint8_t key[FR_CRYPTO_AEAD_KEY_BYTES])
{
    crypto_aead_xchacha20poly1305_ietf_encrypt(ct_out, NULL, pt, len, ad,
                                               ad_len, NULL, nonce, key);
}

fr_err
fr_crypto_aead_decrypt(uint8_t *pt_out, const uint8_t *ct, size_t ct_len,
                       const uint8_t *ad, size_t ad_len,
                       const uint8_t nonce[FR_CRYPTO_AEAD_NONCE_BYTES],
                       const uint8_t key[FR_CRYPTO_AEAD_KEY_BYTES])
{
    if (ct_len < FR_CRYPTO_AEAD_TAG_BYTES)
        return FR_EAUTH;
    return crypto_aead_xchacha20poly1305_ietf_decrypt(
               pt_out, NULL, NULL, ct, ct_len, ad, ad_len, nonce, key) == 0
               ? FR_OK
               : FR_EAUTH;
}

void
fr_crypto_bin2hex(char *hex_out, const uint8_t *bin, size_t len)
{
    sodium_bin2hex(hex_out, 2 * len + 1, bin, len);
}

fr_err
fr_crypto_hex2bin(uint8_t *bin_out, size_t len, const char *hex)
{
    size_t got = 0;
    const char *end = NULL;

    /* sodium_hex2bin stops at the first non-hex character: check where it
     * ended as well as what it wrote. */
    if (sodium_hex2bin(bin_out, len, hex, 2 * len, NULL, &got, &end) != 0 ||
        got != len || end != hex + 2 * len)
        return FR_EINVAL;
    return FR_OK;
}
