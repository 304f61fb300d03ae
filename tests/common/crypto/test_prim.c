/*
 * test_prim.c - the fr_crypto_* primitives of common/crypto/prim.h: hex,
 * XChaCha20-Poly1305, X25519, BLAKE2b (incremental and keyed), the ChaCha20
 * stream, guarded memory and is_zero.
 *
 * Known answers come from RFC 7748 section 6.1 (X25519), RFC 7693
 * appendix A (BLAKE2b-512 of "abc") and the ChaCha20 keystream of the
 * all-zero key and nonce (RFC 7539 section A.1, test vector 1, which the
 * original construction shares at block 0).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "crypto/crypto.h"
#include "crypto/prim.h"

static const char alice_sk[] =
    "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
static const char alice_pk[] =
    "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
static const char bob_sk[] =
    "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb";
static const char bob_pk[] =
    "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";
static const char shared_hex[] =
    "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";

static const char blake2b_abc[] =
    "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1"
    "7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923";

static const char chacha_zero_block0[] =
    "76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7"
    "da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586";

/* Parses a hex constant of exactly len bytes. */
static void
unhex(uint8_t *out, size_t len, const char *hex)
{
    assert_int_equal(strlen(hex), 2 * len);
    assert_int_equal(fr_crypto_hex2bin(out, len, hex), FR_OK);
}

static void
test_hex(void **state)
{
    static const uint8_t bin[5] = {0x00, 0x01, 0xab, 0xcd, 0xff};
    uint8_t back[5];
    char hex[11];

    (void)state;
    fr_crypto_bin2hex(hex, bin, sizeof bin);
    assert_string_equal(hex, "0001abcdff");
    memset(back, 0, sizeof back);
    assert_int_equal(fr_crypto_hex2bin(back, sizeof back, hex), FR_OK);
    assert_memory_equal(back, bin, sizeof bin);
    /* Upper case is hex too. */
    assert_int_equal(fr_crypto_hex2bin(back, sizeof back, "0001ABCDFF"), FR_OK);
    assert_memory_equal(back, bin, sizeof bin);
    /* Only 2 * len characters are read: no NUL needed after them. */
    assert_int_equal(fr_crypto_hex2bin(back, 2, "abcdXYZ"), FR_OK);
    assert_int_equal(back[0], 0xab);
    assert_int_equal(back[1], 0xcd);

    /* A non-hex character anywhere in the 2 * len. */
    assert_int_equal(fr_crypto_hex2bin(back, sizeof back, "0001abcdfg"),
                     FR_EINVAL);
    assert_int_equal(fr_crypto_hex2bin(back, sizeof back, "x001abcdff"),
                     FR_EINVAL);
    assert_int_equal(fr_crypto_hex2bin(back, sizeof back, "0001ab cdf"),
                     FR_EINVAL);
    /* Too short: the string ends before 2 * len characters. */
    assert_int_equal(fr_crypto_hex2bin(back, sizeof back, "0001abcd"),
                     FR_EINVAL);
    assert_int_equal(fr_crypto_hex2bin(back, sizeof back, "0001abcdf"),
                     FR_EINVAL);
    assert_int_equal(fr_crypto_hex2bin(back, sizeof back, ""), FR_EINVAL);
}

static void
test_aead(void **state)
{
    static const uint8_t ad[] = "round 7, store 3";
    uint8_t key[FR_CRYPTO_AEAD_KEY_BYTES], nonce[FR_CRYPTO_AEAD_NONCE_BYTES];
    uint8_t pt[100], ct[sizeof pt + FR_CRYPTO_AEAD_TAG_BYTES], out[sizeof pt];
    uint8_t bad[sizeof ct];

    (void)state;
    for (size_t i = 0; i < sizeof key; i++)
        key[i] = (uint8_t)(0x40 + i);
    for (size_t i = 0; i < sizeof nonce; i++)
        nonce[i] = (uint8_t)(0x90 + i);
    for (size_t i = 0; i < sizeof pt; i++)
        pt[i] = (uint8_t)(i * 7);

    fr_crypto_aead_encrypt(ct, pt, sizeof pt, ad, sizeof ad, nonce, key);
    assert_memory_not_equal(ct, pt, sizeof pt);
    memset(out, 0, sizeof out);
    assert_int_equal(fr_crypto_aead_decrypt(out, ct, sizeof ct, ad, sizeof ad,
                                            nonce, key),
                     FR_OK);
    assert_memory_equal(out, pt, sizeof pt);

    /* A flipped ciphertext byte, a flipped tag byte. */
    memcpy(bad, ct, sizeof ct);
    bad[10] ^= 0x01;
    assert_int_equal(fr_crypto_aead_decrypt(out, bad, sizeof bad, ad,
                                            sizeof ad, nonce, key),
                     FR_EAUTH);
    memcpy(bad, ct, sizeof ct);
    bad[sizeof bad - 1] ^= 0x80;
    assert_int_equal(fr_crypto_aead_decrypt(out, bad, sizeof bad, ad,
                                            sizeof ad, nonce, key),
                     FR_EAUTH);
    /* Other associated data: different bytes, or none. */
    assert_int_equal(fr_crypto_aead_decrypt(out, ct, sizeof ct,
                                            (const uint8_t *)"round 8", 7,
                                            nonce, key),
                     FR_EAUTH);
    assert_int_equal(fr_crypto_aead_decrypt(out, ct, sizeof ct, NULL, 0,
                                            nonce, key),
                     FR_EAUTH);
    /* Another nonce, another key. */
    nonce[0] ^= 1;
    assert_int_equal(fr_crypto_aead_decrypt(out, ct, sizeof ct, ad, sizeof ad,
                                            nonce, key),
                     FR_EAUTH);
    nonce[0] ^= 1;
    key[31] ^= 1;
    assert_int_equal(fr_crypto_aead_decrypt(out, ct, sizeof ct, ad, sizeof ad,
                                            nonce, key),
                     FR_EAUTH);
    key[31] ^= 1;
    /* Shorter than a tag, or the tag alone cut by one byte. */
    assert_int_equal(fr_crypto_aead_decrypt(out, ct, 0, ad, sizeof ad, nonce,
                                            key),
                     FR_EAUTH);
    assert_int_equal(fr_crypto_aead_decrypt(out, ct,
                                            FR_CRYPTO_AEAD_TAG_BYTES - 1, ad,
                                            sizeof ad, nonce, key),
                     FR_EAUTH);
    /* Truncated by one byte. */
    assert_int_equal(fr_crypto_aead_decrypt(out, ct, sizeof ct - 1, ad,
                                            sizeof ad, nonce, key),
                     FR_EAUTH);
}

static void
test_aead_empty(void **state)
{
    uint8_t key[FR_CRYPTO_AEAD_KEY_BYTES] = {1};
    uint8_t nonce[FR_CRYPTO_AEAD_NONCE_BYTES] = {2};
    uint8_t ct[FR_CRYPTO_AEAD_TAG_BYTES], pt[1] = {0}, out[1] = {0};

    (void)state;
    /* An empty message is exactly a tag, and it still authenticates. */
    fr_crypto_aead_encrypt(ct, pt, 0, NULL, 0, nonce, key);
    assert_int_equal(fr_crypto_aead_decrypt(out, ct, sizeof ct, NULL, 0,
                                            nonce, key),
                     FR_OK);
    ct[0] ^= 1;
    assert_int_equal(fr_crypto_aead_decrypt(out, ct, sizeof ct, NULL, 0,
                                            nonce, key),
                     FR_EAUTH);
}

static void
test_x25519_known_answer(void **state)
{
    uint8_t ask[32], apk[32], bsk[32], bpk[32], want[32], pk[32];
    uint8_t s1[32], s2[32];

    (void)state;
    unhex(ask, 32, alice_sk);
    unhex(apk, 32, alice_pk);
    unhex(bsk, 32, bob_sk);
    unhex(bpk, 32, bob_pk);
    unhex(want, 32, shared_hex);

    fr_crypto_x25519_base(pk, ask);
    assert_memory_equal(pk, apk, 32);
    fr_crypto_x25519_base(pk, bsk);
    assert_memory_equal(pk, bpk, 32);
    assert_int_equal(fr_crypto_x25519(s1, ask, bpk), FR_OK);
    assert_int_equal(fr_crypto_x25519(s2, bsk, apk), FR_OK);
    assert_memory_equal(s1, want, 32);
    assert_memory_equal(s2, want, 32);
}

static void
test_x25519_keypair(void **state)
{
    uint8_t apk[32], ask[32], bpk[32], bsk[32], pk[32], s1[32], s2[32];

    (void)state;
    assert_int_equal(fr_crypto_init(), FR_OK);
    fr_crypto_x25519_keypair(apk, ask);
    fr_crypto_x25519_keypair(bpk, bsk);
    assert_memory_not_equal(apk, bpk, 32);
    assert_memory_not_equal(ask, bsk, 32);

    /* The public key is the secret times the base point. */
    fr_crypto_x25519_base(pk, ask);
    assert_memory_equal(pk, apk, 32);
    fr_crypto_x25519_base(pk, bsk);
    assert_memory_equal(pk, bpk, 32);

    /* Both sides agree, on something that is not zero. */
    assert_int_equal(fr_crypto_x25519(s1, ask, bpk), FR_OK);
    assert_int_equal(fr_crypto_x25519(s2, bsk, apk), FR_OK);
    assert_memory_equal(s1, s2, 32);
    assert_false(fr_crypto_is_zero(s1, sizeof s1));
}

static void
test_x25519_small_order(void **state)
{
    /* u = 0 and u = 1 are both of small order (RFC 7748 section 6.1):
     * the shared point would be all zeros. */
    static const uint8_t zero[32];
    uint8_t one[32] = {1}, sk[32], pk[32], out[32];

    (void)state;
    fr_crypto_x25519_keypair(pk, sk);
    assert_int_equal(fr_crypto_x25519(out, sk, zero), FR_EAUTH);
    assert_int_equal(fr_crypto_x25519(out, sk, one), FR_EAUTH);
}

static void
test_hash_incremental(void **state)
{
    fr_crypto_hash_state st;
    uint8_t whole[64], parts[64], want[64];

    (void)state;
    unhex(want, 64, blake2b_abc);
    fr_crypto_hash(whole, sizeof whole, "abc", 3);
    assert_memory_equal(whole, want, 64);

    fr_crypto_hash_init(&st, sizeof parts);
    fr_crypto_hash_update(&st, "ab", 2);
    fr_crypto_hash_update(&st, "", 0);
    fr_crypto_hash_update(&st, "c", 1);
    fr_crypto_hash_final(&st, parts, sizeof parts);
    assert_memory_equal(parts, whole, 64);
    /* final wipes the state. */
    assert_true(fr_crypto_is_zero(&st, sizeof st));

    /* Shorter digests are their own hashes, not prefixes. */
    fr_crypto_hash_init(&st, 32);
    fr_crypto_hash_update(&st, "abc", 3);
    fr_crypto_hash_final(&st, parts, 32);
    fr_crypto_hash(whole, 32, "abc", 3);
    assert_memory_equal(parts, whole, 32);
    assert_memory_not_equal(parts, want, 32);
}

static void
test_hash_keyed(void **state)
{
    uint8_t k1[32], k2[32], plain[32], h1[32], h2[32], again[32];

    (void)state;
    memset(k1, 0x11, sizeof k1);
    memcpy(k2, k1, sizeof k2);
    k2[31] ^= 1;
    fr_crypto_hash(plain, sizeof plain, "member-42", 9);
    fr_crypto_hash_keyed(h1, sizeof h1, "member-42", 9, k1, sizeof k1);
    fr_crypto_hash_keyed(h2, sizeof h2, "member-42", 9, k2, sizeof k2);
    fr_crypto_hash_keyed(again, sizeof again, "member-42", 9, k1, sizeof k1);
    assert_memory_not_equal(h1, plain, 32);
    assert_memory_not_equal(h1, h2, 32);
    assert_memory_equal(h1, again, 32);
    /* A key of another length is another key. */
    fr_crypto_hash_keyed(h2, sizeof h2, "member-42", 9, k1, 16);
    assert_memory_not_equal(h1, h2, 32);
}

static void
test_stream(void **state)
{
    uint8_t key[FR_CRYPTO_STREAM_KEY_BYTES] = {0};
    uint8_t nonce[FR_CRYPTO_STREAM_NONCE_BYTES] = {0};
    uint8_t zeros[128] = {0}, ks[128], ks1[64], want[64];
    uint8_t msg[200], buf[200];

    (void)state;
    /* Keystream: XOR onto zeros. Block 0 of the zero key and nonce. */
    fr_crypto_stream_xor_ic(ks, zeros, sizeof ks, nonce, 0, key);
    unhex(want, 64, chacha_zero_block0);
    assert_memory_equal(ks, want, 64);
    /* Starting at block 1 gives bytes 64..127 of the block-0 stream. */
    fr_crypto_stream_xor_ic(ks1, zeros, sizeof ks1, nonce, 1, key);
    assert_memory_equal(ks1, ks + 64, 64);

    /* XOR twice (in place) restores the input. */
    for (size_t i = 0; i < sizeof key; i++)
        key[i] = (uint8_t)(i * 3 + 1);
    nonce[7] = 9;
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)(255 - i);
    memcpy(buf, msg, sizeof buf);
    fr_crypto_stream_xor_ic(buf, buf, sizeof buf, nonce, 5, key);
    assert_memory_not_equal(buf, msg, sizeof msg);
    fr_crypto_stream_xor_ic(buf, buf, sizeof buf, nonce, 5, key);
    assert_memory_equal(buf, msg, sizeof msg);
}

static void
test_secure_alloc(void **state)
{
    uint8_t *p;

    (void)state;
    p = fr_crypto_secure_alloc(100);
    assert_non_null(p);
    memset(p, 0xa5, 100);
    assert_int_equal(p[99], 0xa5);
    fr_crypto_secure_free(p);
    fr_crypto_secure_free(NULL);
}

static void
test_is_zero(void **state)
{
    uint8_t buf[40] = {0};

    (void)state;
    assert_true(fr_crypto_is_zero(buf, sizeof buf));
    assert_true(fr_crypto_is_zero(buf, 0));
    buf[39] = 1;
    assert_false(fr_crypto_is_zero(buf, sizeof buf));
    assert_true(fr_crypto_is_zero(buf, 39));
    buf[39] = 0;
    buf[0] = 0x80;
    assert_false(fr_crypto_is_zero(buf, sizeof buf));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hex),
        cmocka_unit_test(test_aead),
        cmocka_unit_test(test_aead_empty),
        cmocka_unit_test(test_x25519_known_answer),
        cmocka_unit_test(test_x25519_keypair),
        cmocka_unit_test(test_x25519_small_order),
        cmocka_unit_test(test_hash_incremental),
        cmocka_unit_test(test_hash_keyed),
        cmocka_unit_test(test_stream),
        cmocka_unit_test(test_secure_alloc),
        cmocka_unit_test(test_is_zero),
    };

    if (fr_crypto_init() != FR_OK)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
