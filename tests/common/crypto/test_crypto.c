/*
 * test_crypto.c - key files, identity keys and signatures, fingerprints and
 * hashing (common/crypto).
 *
 * Every test works in its own mkdtemp directory under /tmp and removes it.
 * Known answers come from RFC 7748 (X25519 base point multiplication),
 * RFC 8032 (Ed25519) and from an independent BLAKE2b implementation
 * (Python's hashlib).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "crypto/crypto.h"

/* RFC 7748 section 6.1: Alice's X25519 private and public keys. */
static const char rfc7748_sk[] =
    "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
static const char rfc7748_pk[] =
    "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";

/* RFC 8032 section 7.1, TEST 1: Ed25519 seed, public key, and the signature
 * of the empty message. */
static const char rfc8032_seed[] =
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
static const char rfc8032_pk[] =
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
static const char rfc8032_sig[] =
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555"
    "fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";

typedef struct fixture {
    char dir[64];
} fixture;

static int
setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);

    assert_non_null(f);
    strcpy(f->dir, "/tmp/fr-test-crypto-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_int_equal(fr_crypto_init(), FR_OK);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture *f = *state;
    DIR *d = opendir(f->dir);
    struct dirent *e;
    char path[PATH_MAX];

    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", f->dir, e->d_name);
        unlink(path);
    }
    if (d)
        closedir(d);
    rmdir(f->dir);
    free(f);
    return 0;
}

static void
path_in(const fixture *f, const char *name, char *out, size_t cap)
{
    assert_true(snprintf(out, cap, "%s/%s", f->dir, name) < (int)cap);
}

static void
write_file(const char *path, const char *text, unsigned mode)
{
    assert_int_equal(fr_file_write_atomic(path, text, strlen(text), mode),
                     FR_OK);
}

/* Log capture: the last line logged, to check what an operator would see. */
static char last_line[1024];

static void
capture_sink(void *arg, fr_log_level level, const char *tag, const char *line)
{
    (void)arg;
    (void)level;
    (void)tag;
    snprintf(last_line, sizeof last_line, "%s", line);
}

static unsigned
file_mode(const char *path)
{
    struct stat st;

    assert_int_equal(stat(path, &st), 0);
    return (unsigned)(st.st_mode & 07777);
}

static void
test_roundtrip(void **state)
{
    fixture *f = *state;
    fr_crypto_keypair *kp = NULL, *loaded = NULL;
    char base[PATH_MAX], key[PATH_MAX], pub[PATH_MAX], hex[65];
    uint8_t pk[FR_CRYPTO_PK_BYTES];
    uint8_t *text = NULL;
    size_t len = 0;

    path_in(f, "store-1", base, sizeof base);
    path_in(f, "store-1.key", key, sizeof key);
    path_in(f, "store-1.pub", pub, sizeof pub);
    assert_int_equal(fr_crypto_keypair_generate(&kp), FR_OK);
    assert_int_equal(fr_crypto_keypair_save(kp, base, 0), FR_OK);
    assert_int_equal(file_mode(key), 0600);
    assert_int_equal(file_mode(pub), 0644);

    /* The public file is exactly 64 lowercase hex characters and '\n'. */
    assert_int_equal(fr_file_read_all(pub, 1024, &text, &len), FR_OK);
    fr_crypto_key_to_hex(fr_crypto_keypair_public(kp), hex);
    assert_int_equal(len, 65);
    assert_memory_equal(text, hex, 64);
    assert_int_equal(text[64], '\n');
    free(text);

    assert_int_equal(fr_crypto_keypair_load(key, &loaded), FR_OK);
    assert_memory_equal(fr_crypto_keypair_public(loaded),
                        fr_crypto_keypair_public(kp), FR_CRYPTO_PK_BYTES);
    assert_memory_equal(fr_crypto_keypair_secret(loaded),
                        fr_crypto_keypair_secret(kp), FR_CRYPTO_SK_BYTES);
    assert_int_equal(fr_crypto_public_load(pub, pk), FR_OK);
    assert_memory_equal(pk, fr_crypto_keypair_public(kp), sizeof pk);

    fr_crypto_keypair_destroy(&kp);
    fr_crypto_keypair_destroy(&loaded);
    assert_null(kp);
    fr_crypto_keypair_destroy(&kp); /* NULL is accepted */
    fr_crypto_keypair_destroy(NULL);
}

static void
test_generate_distinct(void **state)
{
    fr_crypto_keypair *a = NULL, *b = NULL;

    (void)state;
    assert_int_equal(fr_crypto_keypair_generate(&a), FR_OK);
    assert_int_equal(fr_crypto_keypair_generate(&b), FR_OK);
    assert_memory_not_equal(fr_crypto_keypair_public(a),
                            fr_crypto_keypair_public(b), FR_CRYPTO_PK_BYTES);
    fr_crypto_keypair_destroy(&a);
    fr_crypto_keypair_destroy(&b);
}

/* The public key is derived from the secret exactly as X25519 does it, which
 * is what ZeroMQ CURVE expects. */
static void
test_load_known_answer(void **state)
{
    fixture *f = *state;
    fr_crypto_keypair *kp = NULL;
    char key[PATH_MAX], text[80], hex[65];

    path_in(f, "alice.key", key, sizeof key);
    snprintf(text, sizeof text, "%s\n", rfc7748_sk);
    write_file(key, text, 0600);
    assert_int_equal(fr_crypto_keypair_load(key, &kp), FR_OK);
    fr_crypto_key_to_hex(fr_crypto_keypair_public(kp), hex);
    assert_string_equal(hex, rfc7748_pk);
    fr_crypto_keypair_destroy(&kp);

    /* Uppercase hex and CRLF endings are the same key. */
    for (char *p = text; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    snprintf(text + 64, sizeof text - 64, "\r\n");
    write_file(key, text, 0400);
    assert_int_equal(fr_crypto_keypair_load(key, &kp), FR_OK);
    fr_crypto_key_to_hex(fr_crypto_keypair_public(kp), hex);
    assert_string_equal(hex, rfc7748_pk);
    fr_crypto_keypair_destroy(&kp);
}

static void
test_secret_mode_refused(void **state)
{
    static const unsigned bad_modes[] = {0644, 0640, 0604, 0610, 0601, 0660};
    fixture *f = *state;
    fr_crypto_keypair *kp = NULL;
    char key[PATH_MAX], text[80];

    path_in(f, "loose.key", key, sizeof key);
    snprintf(text, sizeof text, "%s\n", rfc7748_sk);
    fr_log_set_sink(capture_sink, NULL);
    for (size_t i = 0; i < FR_ARRAY_LEN(bad_modes); i++) {
        char mode[8];

        write_file(key, text, bad_modes[i]);
        assert_int_equal(file_mode(key), bad_modes[i]);
        last_line[0] = '\0';
        assert_int_equal(fr_crypto_keypair_load(key, &kp), FR_EAUTH);
        assert_null(kp);
        /* The refusal names the file and its mode, and never the key. */
        snprintf(mode, sizeof mode, "%04o", bad_modes[i]);
        assert_non_null(strstr(last_line, key));
        assert_non_null(strstr(last_line, mode));
        assert_null(strstr(last_line, "77076d0a"));
    }
    fr_log_set_sink(NULL, NULL);
    /* The same bytes with owner-only access load fine. */
    write_file(key, text, 0600);
    assert_int_equal(fr_crypto_keypair_load(key, &kp), FR_OK);
    fr_crypto_keypair_destroy(&kp);
}

static void
test_malformed_refused(void **state)
{
    static const char *const bad[] = {
        "",
        "\n",
        "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2\n",
        "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a0\n",
        "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2g\n",
        "z7076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a\n",
        " 77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a\n",
        "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a\n\n",
        "77076d0a7318a57d3c16c17251b26645 df4c2f87ebc0992ab177fba51db92c2a\n",
    };
    fixture *f = *state;
    fr_crypto_keypair *kp = NULL;
    uint8_t pk[FR_CRYPTO_PK_BYTES];
    char key[PATH_MAX], pub[PATH_MAX], big[300];

    path_in(f, "bad.key", key, sizeof key);
    path_in(f, "bad.pub", pub, sizeof pub);
    for (size_t i = 0; i < FR_ARRAY_LEN(bad); i++) {
        write_file(key, bad[i], 0600);
        write_file(pub, bad[i], 0644);
        assert_int_equal(fr_crypto_keypair_load(key, &kp), FR_EINVAL);
        assert_null(kp);
        assert_int_equal(fr_crypto_public_load(pub, pk), FR_EINVAL);
    }
    /* A file far longer than a key is refused without reading it all. */
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    write_file(key, big, 0600);
    assert_int_equal(fr_crypto_keypair_load(key, &kp), FR_EINVAL);
    write_file(pub, big, 0644);
    assert_int_equal(fr_crypto_public_load(pub, pk), FR_EINVAL);
    /* A directory is not a key file. */
    assert_int_not_equal(fr_crypto_keypair_load(f->dir, &kp), FR_OK);
    assert_null(kp);
}

static void
test_missing_file(void **state)
{
    fixture *f = *state;
    fr_crypto_keypair *kp = NULL;
    uint8_t pk[FR_CRYPTO_PK_BYTES];
    char key[PATH_MAX];

    path_in(f, "absent.key", key, sizeof key);
    assert_int_equal(fr_crypto_keypair_load(key, &kp), FR_ENOENT);
    assert_null(kp);
    assert_int_equal(fr_crypto_public_load(key, pk), FR_ENOENT);
}

static void
test_refuse_overwrite(void **state)
{
    fixture *f = *state;
    fr_crypto_keypair *a = NULL, *b = NULL, *loaded = NULL;
    char base[PATH_MAX], key[PATH_MAX];

    path_in(f, "s", base, sizeof base);
    path_in(f, "s.key", key, sizeof key);
    assert_int_equal(fr_crypto_keypair_generate(&a), FR_OK);
    assert_int_equal(fr_crypto_keypair_generate(&b), FR_OK);
    assert_int_equal(fr_crypto_keypair_save(a, base, 0), FR_OK);
    assert_int_equal(fr_crypto_keypair_save(b, base, 0), FR_ESTATE);

    /* The first key is still the one on disk. */
    assert_int_equal(fr_crypto_keypair_load(key, &loaded), FR_OK);
    assert_memory_equal(fr_crypto_keypair_public(loaded),
                        fr_crypto_keypair_public(a), FR_CRYPTO_PK_BYTES);
    fr_crypto_keypair_destroy(&loaded);

    assert_int_equal(fr_crypto_keypair_save(b, base, 1), FR_OK);
    assert_int_equal(fr_crypto_keypair_load(key, &loaded), FR_OK);
    assert_memory_equal(fr_crypto_keypair_public(loaded),
                        fr_crypto_keypair_public(b), FR_CRYPTO_PK_BYTES);
    fr_crypto_keypair_destroy(&loaded);
    fr_crypto_keypair_destroy(&a);
    fr_crypto_keypair_destroy(&b);
}

static void
test_sign_verify(void **state)
{
    static const char msg[] = "round 7: pk_c || pk_s";
    fr_crypto_signkey *k = NULL, *other = NULL;
    uint8_t sig[FR_CRYPTO_SIG_BYTES], sig2[FR_CRYPTO_SIG_BYTES];
    uint8_t pk[FR_CRYPTO_PK_BYTES];

    (void)state;
    assert_int_equal(fr_crypto_signkey_generate(&k), FR_OK);
    assert_int_equal(fr_crypto_signkey_generate(&other), FR_OK);
    memcpy(pk, fr_crypto_signkey_public(k), sizeof pk);
    assert_memory_not_equal(pk, fr_crypto_signkey_public(other), sizeof pk);

    fr_crypto_sign(k, msg, sizeof msg - 1, sig);
    assert_int_equal(fr_crypto_verify(pk, msg, sizeof msg - 1, sig), FR_OK);
    /* Ed25519 is deterministic. */
    fr_crypto_sign(k, msg, sizeof msg - 1, sig2);
    assert_memory_equal(sig, sig2, sizeof sig);

    /* Wrong message: changed byte, shorter, longer. */
    assert_int_equal(
        fr_crypto_verify(pk, "round 8: pk_c || pk_s", sizeof msg - 1, sig),
        FR_EAUTH);
    assert_int_equal(fr_crypto_verify(pk, msg, sizeof msg - 2, sig), FR_EAUTH);
    assert_int_equal(fr_crypto_verify(pk, msg, sizeof msg, sig), FR_EAUTH);
    /* Wrong key. */
    assert_int_equal(fr_crypto_verify(fr_crypto_signkey_public(other), msg,
                                      sizeof msg - 1, sig),
                     FR_EAUTH);
    /* Any flipped bit of the signature. */
    for (size_t i = 0; i < sizeof sig; i++) {
        memcpy(sig2, sig, sizeof sig);
        sig2[i] ^= (uint8_t)(1u << (i % 8));
        assert_int_equal(fr_crypto_verify(pk, msg, sizeof msg - 1, sig2),
                         FR_EAUTH);
    }
    /* All-zero key and signature (small order) are rejected, not trusted. */
    memset(pk, 0, sizeof pk);
    memset(sig2, 0, sizeof sig2);
    assert_int_equal(fr_crypto_verify(pk, msg, sizeof msg - 1, sig2), FR_EAUTH);
    assert_int_equal(fr_crypto_verify(NULL, msg, sizeof msg - 1, sig),
                     FR_EAUTH);
    /* The empty message can be signed and verified. */
    fr_crypto_sign(k, NULL, 0, sig);
    assert_int_equal(
        fr_crypto_verify(fr_crypto_signkey_public(k), NULL, 0, sig), FR_OK);
    assert_int_equal(fr_crypto_verify(fr_crypto_signkey_public(k), "", 0, sig),
                     FR_OK);

    fr_crypto_signkey_destroy(&k);
    fr_crypto_signkey_destroy(&other);
    assert_null(k);
    fr_crypto_signkey_destroy(&k); /* NULL is accepted */
    fr_crypto_signkey_destroy(NULL);
}

/* An identity key file holds the RFC 8032 seed; the derived public key and
 * the signature must be the RFC's. */
static void
test_sign_known_answer(void **state)
{
    fixture *f = *state;
    fr_crypto_signkey *k = NULL;
    uint8_t sig[FR_CRYPTO_SIG_BYTES], want[FR_CRYPTO_SIG_BYTES];
    char key[PATH_MAX], text[80], hex[65];

    path_in(f, "rfc.sign.key", key, sizeof key);
    snprintf(text, sizeof text, "%s\n", rfc8032_seed);
    write_file(key, text, 0600);
    assert_int_equal(fr_crypto_signkey_load(key, &k), FR_OK);
    fr_crypto_key_to_hex(fr_crypto_signkey_public(k), hex);
    assert_string_equal(hex, rfc8032_pk);
    fr_crypto_sign(k, "", 0, sig);
    assert_int_equal(fr_crypto_key_from_hex(rfc8032_sig, 64, want), FR_OK);
    assert_int_equal(fr_crypto_key_from_hex(rfc8032_sig + 64, 64, want + 32),
                     FR_OK);
    assert_memory_equal(sig, want, sizeof sig);
    assert_int_equal(fr_crypto_verify(fr_crypto_signkey_public(k), "", 0, want),
                     FR_OK);
    fr_crypto_signkey_destroy(&k);
}

static void
test_signkey_roundtrip(void **state)
{
    fixture *f = *state;
    fr_crypto_signkey *k = NULL, *other = NULL, *loaded = NULL;
    char base[PATH_MAX], key[PATH_MAX], pub[PATH_MAX], curve[PATH_MAX];
    char hex[65];
    uint8_t pk[FR_CRYPTO_PK_BYTES], sig[FR_CRYPTO_SIG_BYTES];
    uint8_t sig2[FR_CRYPTO_SIG_BYTES];
    uint8_t *text = NULL;
    size_t len = 0;

    path_in(f, "store-1", base, sizeof base);
    path_in(f, "store-1.sign.key", key, sizeof key);
    path_in(f, "store-1.sign.pub", pub, sizeof pub);
    path_in(f, "store-1.key", curve, sizeof curve);
    assert_int_equal(fr_crypto_signkey_generate(&k), FR_OK);
    assert_int_equal(fr_crypto_signkey_save(k, base, 0), FR_OK);
    assert_int_equal(file_mode(key), 0600);
    assert_int_equal(file_mode(pub), 0644);
    assert_int_equal(access(curve, F_OK), -1); /* the CURVE file is apart */

    /* Both files are 64 lowercase hex characters and '\n'. */
    assert_int_equal(fr_file_read_all(key, 1024, &text, &len), FR_OK);
    assert_int_equal(len, 65);
    assert_int_equal(strspn((const char *)text, "0123456789abcdef"), 64);
    assert_int_equal(text[64], '\n');
    fr_crypto_wipe(text, len);
    free(text);
    assert_int_equal(fr_file_read_all(pub, 1024, &text, &len), FR_OK);
    fr_crypto_key_to_hex(fr_crypto_signkey_public(k), hex);
    assert_int_equal(len, 65);
    assert_memory_equal(text, hex, 64);
    assert_int_equal(text[64], '\n');
    free(text);
    assert_int_equal(fr_crypto_public_load(pub, pk), FR_OK);
    assert_memory_equal(pk, fr_crypto_signkey_public(k), sizeof pk);

    /* The loaded key is the same key: same public key, same signatures. */
    assert_int_equal(fr_crypto_signkey_load(key, &loaded), FR_OK);
    assert_memory_equal(fr_crypto_signkey_public(loaded),
                        fr_crypto_signkey_public(k), FR_CRYPTO_PK_BYTES);
    fr_crypto_sign(k, "m", 1, sig);
    fr_crypto_sign(loaded, "m", 1, sig2);
    assert_memory_equal(sig, sig2, sizeof sig);
    fr_crypto_signkey_destroy(&loaded);

    /* An existing identity key is replaced only on request. */
    assert_int_equal(fr_crypto_signkey_generate(&other), FR_OK);
    assert_int_equal(fr_crypto_signkey_save(other, base, 0), FR_ESTATE);
    assert_int_equal(fr_crypto_signkey_load(key, &loaded), FR_OK);
    assert_memory_equal(fr_crypto_signkey_public(loaded),
                        fr_crypto_signkey_public(k), FR_CRYPTO_PK_BYTES);
    fr_crypto_signkey_destroy(&loaded);
    assert_int_equal(fr_crypto_signkey_save(other, base, 1), FR_OK);
    assert_int_equal(fr_crypto_signkey_load(key, &loaded), FR_OK);
    assert_memory_equal(fr_crypto_signkey_public(loaded),
                        fr_crypto_signkey_public(other), FR_CRYPTO_PK_BYTES);
    assert_int_equal(fr_crypto_signkey_save(NULL, base, 1), FR_EINVAL);
    assert_int_equal(fr_crypto_signkey_save(k, NULL, 1), FR_EINVAL);
    fr_crypto_signkey_destroy(&loaded);
    fr_crypto_signkey_destroy(&other);
    fr_crypto_signkey_destroy(&k);
}

static void
test_signkey_refused(void **state)
{
    static const unsigned bad_modes[] = {0644, 0640, 0604, 0660};
    static const char *const bad[] = {
        "",
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f6\n",
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f6g\n",
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f6000\n",
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60\n\n",
    };
    fixture *f = *state;
    fr_crypto_signkey *k = NULL;
    char key[PATH_MAX], text[80];

    path_in(f, "id.sign.key", key, sizeof key);
    assert_int_equal(fr_crypto_signkey_load(key, &k), FR_ENOENT);
    assert_null(k);

    snprintf(text, sizeof text, "%s\n", rfc8032_seed);
    fr_log_set_sink(capture_sink, NULL);
    for (size_t i = 0; i < FR_ARRAY_LEN(bad_modes); i++) {
        write_file(key, text, bad_modes[i]);
        last_line[0] = '\0';
        assert_int_equal(fr_crypto_signkey_load(key, &k), FR_EAUTH);
        assert_null(k);
        assert_non_null(strstr(last_line, key));
        assert_null(strstr(last_line, "9d61b19d"));
    }
    for (size_t i = 0; i < FR_ARRAY_LEN(bad); i++) {
        write_file(key, bad[i], 0600);
        last_line[0] = '\0';
        assert_int_equal(fr_crypto_signkey_load(key, &k), FR_EINVAL);
        assert_null(k);
        assert_non_null(strstr(last_line, "malformed"));
    }
    fr_log_set_sink(NULL, NULL);
    assert_int_not_equal(fr_crypto_signkey_load(f->dir, &k), FR_OK);
    assert_null(k);
    write_file(key, text, 0400);
    assert_int_equal(fr_crypto_signkey_load(key, &k), FR_OK);
    fr_crypto_signkey_destroy(&k);
}

static void
test_fingerprint(void **state)
{
    uint8_t zero[FR_CRYPTO_PK_BYTES] = {0}, seq[FR_CRYPTO_PK_BYTES];
    char a[FR_CRYPTO_FPR_CHARS + 1], b[FR_CRYPTO_FPR_CHARS + 1];

    (void)state;
    for (size_t i = 0; i < sizeof seq; i++)
        seq[i] = (uint8_t)i;
    memset(a, 'x', sizeof a);
    fr_crypto_fingerprint(zero, a);
    assert_int_equal(strlen(a), FR_CRYPTO_FPR_CHARS);
    assert_int_equal(strspn(a, "0123456789abcdef"), FR_CRYPTO_FPR_CHARS);
    fr_crypto_fingerprint(zero, b);
    assert_string_equal(a, b);
    /* First 8 bytes of BLAKE2b-256, from Python's hashlib. */
    assert_string_equal(a, "89eb0d6a8a691dae");
    fr_crypto_fingerprint(seq, b);
    assert_string_equal(b, "cb2f5160fc1f7e05");
}

static void
test_hash_known_answer(void **state)
{
    static const uint8_t want32[] = {
        0xbd, 0xdd, 0x81, 0x3c, 0x63, 0x42, 0x39, 0x72, 0x31, 0x71, 0xef,
        0x3f, 0xee, 0x98, 0x57, 0x9b, 0x94, 0x96, 0x4e, 0x3b, 0xb1, 0xcb,
        0x3e, 0x42, 0x72, 0x62, 0xc8, 0xc0, 0x68, 0xd5, 0x23, 0x19};
    static const uint8_t want16[] = {0xcf, 0x4a, 0xb7, 0x91, 0xc6, 0x2b,
                                     0x8d, 0x2b, 0x21, 0x09, 0xc9, 0x02,
                                     0x75, 0x28, 0x78, 0x16};
    uint8_t out[32];

    (void)state;
    fr_crypto_hash(out, 32, "abc", 3);
    assert_memory_equal(out, want32, 32);
    fr_crypto_hash(out, 16, "abc", 3);
    assert_memory_equal(out, want16, 16);
}

static void
test_hex(void **state)
{
    uint8_t key[32], back[32];
    char hex[65];

    (void)state;
    fr_crypto_random(key, sizeof key);
    fr_crypto_key_to_hex(key, hex);
    assert_int_equal(strlen(hex), 64);
    assert_int_equal(fr_crypto_key_from_hex(hex, 64, back), FR_OK);
    assert_memory_equal(key, back, 32);
    assert_int_equal(fr_crypto_key_from_hex(hex, 63, back), FR_EINVAL);
    assert_int_equal(fr_crypto_key_from_hex(hex, 62, back), FR_EINVAL);
    hex[10] = 'q';
    assert_int_equal(fr_crypto_key_from_hex(hex, 64, back), FR_EINVAL);
    assert_int_equal(fr_crypto_key_from_hex(NULL, 64, back), FR_EINVAL);
}

static void
test_random_wipe_memcmp(void **state)
{
    uint8_t a[64] = {0}, b[64] = {0};
    uint64_t x, y;

    (void)state;
    fr_crypto_random(a, sizeof a);
    fr_crypto_random(b, sizeof b);
    /* 2^-512 chance of a false failure. */
    assert_int_not_equal(fr_crypto_memcmp(a, b, sizeof a), 0);
    memcpy(b, a, sizeof a);
    assert_int_equal(fr_crypto_memcmp(a, b, sizeof a), 0);
    fr_crypto_wipe(a, sizeof a);
    for (size_t i = 0; i < sizeof a; i++)
        assert_int_equal(a[i], 0);
    x = fr_crypto_random_u64();
    y = fr_crypto_random_u64();
    assert_true(x != y); /* 2^-64 chance of a false failure */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_generate_distinct, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_load_known_answer, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_secret_mode_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_malformed_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuse_overwrite, setup, teardown),
        cmocka_unit_test(test_sign_verify),
        cmocka_unit_test_setup_teardown(test_sign_known_answer, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_signkey_roundtrip, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_signkey_refused, setup, teardown),
        cmocka_unit_test(test_fingerprint),
        cmocka_unit_test(test_hash_known_answer),
        cmocka_unit_test(test_hex),
        cmocka_unit_test(test_random_wipe_memcmp),
    };

    fr_log_set_level(FR_LOG_ERR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
