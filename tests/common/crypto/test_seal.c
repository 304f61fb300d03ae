/*
 * test_seal.c - data keys, sealed files and keyed pseudonyms
 * (common/crypto/seal.c).
 *
 * Every test works in its own mkdtemp directory under /tmp and removes it.
 * Keys are opaque, so two keys are "the same" when a blob sealed under one
 * opens under the other. Known answers come from implementations
 * independent of libsodium: the Argon2 reference implementation (Debian's
 * argon2 command) and Python's hashlib for BLAKE2b.
 *
 * The sealed-file format itself is pinned by a blob made without libsodium
 * (test_format_known_answer), so stored data stays readable across changes.
 *
 * Argon2id at the interactive limits costs ~0.1 s and 64 MiB per derivation
 * (several times that under ASan), so the test derives only three keys.
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
#include "crypto/seal.h"

#define KIND_MEMBERS 3
#define KIND_RATINGS 4
#define BIG_LEN      (5u * 1024 * 1024)

static const char secret_text[] = "M01-000123 item 42";

/*
 * Argon2id v1.3, t = 2, m = 65536 KiB, p = 1 (libsodium's interactive
 * limits), 32-byte output, computed with the reference implementation:
 *   echo -n 'correct horse battery staple' |
 *       argon2 fedrec-salt-0001 -id -t 2 -k 65536 -p 1 -l 32 -r
 * The salt is the 16 ASCII bytes "fedrec-salt-0001".
 */
static const char kat_pass[] = "correct horse battery staple";
static const char kat_salt_hex[] = "6665647265632d73616c742d30303031";
static const char kat_key_hex[] =
    "bc12cedc10d699bc330dcb0dbdd1593e3a421adb9db391ea3c8a0b3c62d48f43";

/*
 * A sealed blob of "M01-000123 item 42" under the data key 00 01 02 .. 1f,
 * kind 3, label "members", nonce 40 41 .. 57, built in pure Python:
 *   hdr   = b"FRSL" + bytes([1, 0]) + (3).to_bytes(2, "little")
 *   akey  = hashlib.blake2b(b"", digest_size=32, key=data_key,
 *               salt=(3).to_bytes(8, "little") + bytes(8),
 *               person=b"frstore1" + bytes(8))   # crypto_kdf_derive_from_key
 *   blob  = hdr + nonce + XChaCha20-Poly1305-IETF(akey, nonce, plaintext,
 *                                                 ad = hdr + b"members")
 * with ChaCha20, Poly1305 and HChaCha20 written out from RFC 8439 and
 * draft-irtf-cfrg-xchacha-03, checked first against those documents' test
 * vectors (RFC 8439 2.8.2, xchacha A.3.1, HChaCha20 2.2.1).
 */
static const char kat_data_key_hex[] =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
static const char kat_blob_hex[] =
    "4652534c01000300404142434445464748494a4b4c4d4e4f5051525354555657"
    "6d6375d40f06fcbd2d4cd4ad5ac314a2fe1b55893cc3818c86b5447e197c6a87"
    "b24b";

typedef struct fixture {
    char dir[64];
} fixture;

static int
setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);

    assert_non_null(f);
    strcpy(f->dir, "/tmp/fr-test-seal-XXXXXX");
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
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", f->dir, e->d_name);
        if (unlink(path) != 0)
            rmdir(path);
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
write_bytes(const char *path, const void *data, size_t len, unsigned mode)
{
    assert_int_equal(fr_file_write_atomic(path, data, len, mode), FR_OK);
}

static void
write_text(const char *path, const char *text, unsigned mode)
{
    write_bytes(path, text, strlen(text), mode);
}

/* The whole file; the caller frees. */
static uint8_t *
read_bytes(const char *path, size_t *len_out)
{
    uint8_t *buf = NULL;

    assert_int_equal(fr_file_read_all(path, 64u << 20, &buf, len_out), FR_OK);
    return buf;
}

static unsigned
file_mode(const char *path)
{
    struct stat st;

    assert_int_equal(stat(path, &st), 0);
    return (unsigned)(st.st_mode & 07777);
}

static size_t
dir_entries(const fixture *f)
{
    DIR *d = opendir(f->dir);
    struct dirent *e;
    size_t n = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

/* Makes a fresh key file called name in the fixture and loads it. */
static fr_seal_key *
new_key(const fixture *f, const char *name)
{
    fr_seal_key *k = NULL;
    char path[PATH_MAX];

    path_in(f, name, path, sizeof path);
    assert_int_equal(fr_seal_key_create_file(path), FR_OK);
    assert_int_equal(fr_seal_key_load_file(path, &k), FR_OK);
    assert_non_null(k);
    return k;
}

/* FR_OK if a blob sealed under a opens under b (same key), else the error
 * from opening. */
static fr_err
same_key(const fr_seal_key *a, const fr_seal_key *b)
{
    uint8_t blob[sizeof secret_text - 1 + FR_SEAL_OVERHEAD];
    uint8_t plain[sizeof secret_text - 1];
    fr_err rc;

    assert_int_equal(fr_seal_buf(a, KIND_MEMBERS, "members", secret_text,
                                 sizeof plain, blob),
                     FR_OK);
    rc = fr_open_buf(b, KIND_MEMBERS, "members", blob, sizeof blob, plain);
    if (rc == FR_OK)
        assert_memory_equal(plain, secret_text, sizeof plain);
    return rc;
}

/* Whether needle occurs in hay: a grep over binary bytes (memmem is a GNU
 * extension). */
static int
contains(const uint8_t *hay, size_t hay_len, const char *needle)
{
    size_t n = strlen(needle);

    for (size_t i = 0; n <= hay_len && i <= hay_len - n; i++)
        if (memcmp(hay + i, needle, n) == 0)
            return 1;
    return 0;
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

static void
test_roundtrip(void **state)
{
    static const size_t sizes[] = {0, 1, BIG_LEN};
    fixture *f = *state;
    fr_seal_key *k = new_key(f, "data.key");
    uint8_t *plain = malloc(BIG_LEN), *back = NULL, *file = NULL;
    size_t back_len = 0, file_len = 0;
    char path[PATH_MAX];

    assert_non_null(plain);
    for (size_t i = 0; i < BIG_LEN; i++)
        plain[i] = (uint8_t)(i * 131 + (i >> 11));
    path_in(f, "members.sealed", path, sizeof path);
    for (size_t s = 0; s < FR_ARRAY_LEN(sizes); s++) {
        size_t len = sizes[s];

        assert_int_equal(fr_seal_write(k, KIND_MEMBERS, "members", path,
                                       len ? plain : NULL, len),
                         FR_OK);
        assert_int_equal(file_mode(path), 0600);

        /* Header layout: "FRSL", version 1, reserved 0, kind LE. */
        file = read_bytes(path, &file_len);
        assert_int_equal(file_len, len + FR_SEAL_OVERHEAD);
        assert_memory_equal(file, "FRSL", 4);
        assert_int_equal(file[4], 1);
        assert_int_equal(file[5], 0);
        assert_int_equal(file[6], KIND_MEMBERS);
        assert_int_equal(file[7], 0);
        free(file);

        back_len = 12345;
        assert_int_equal(fr_seal_read(k, KIND_MEMBERS, "members", path, BIG_LEN,
                                      &back, &back_len),
                         FR_OK);
        assert_non_null(back); /* even for an empty plaintext */
        assert_int_equal(back_len, len);
        if (len)
            assert_memory_equal(back, plain, len);
        fr_crypto_wipe(back, back_len);
        free(back);
        back = NULL;
    }
    /* Nothing but the sealed file and the key is left in the directory. */
    assert_int_equal(dir_entries(f), 2);
    free(plain);
    fr_seal_key_destroy(&k);
    assert_null(k);
    fr_seal_key_destroy(&k); /* NULL is accepted */
    fr_seal_key_destroy(NULL);
}

/* Every byte of a small sealed file matters: a changed header byte is a
 * wrong header, any other changed byte fails authentication. */
/* A blob made by an independent implementation opens, in memory and as a
 * file: the on-disk format, the KDF and the associated data are as
 * documented. */
static void
test_format_known_answer(void **state)
{
    fixture *f = *state;
    fr_seal_key *k = NULL;
    uint8_t blob[sizeof kat_blob_hex / 2], plain[sizeof secret_text - 1];
    uint8_t *back = NULL;
    size_t back_len = 0;
    char path[PATH_MAX], text[80];

    for (size_t i = 0; i < sizeof blob; i++) {
        unsigned v;

        assert_int_equal(sscanf(kat_blob_hex + 2 * i, "%2x", &v), 1);
        blob[i] = (uint8_t)v;
    }
    assert_int_equal(sizeof blob, sizeof plain + FR_SEAL_OVERHEAD);
    path_in(f, "kat.key", path, sizeof path);
    snprintf(text, sizeof text, "%s\n", kat_data_key_hex);
    write_text(path, text, 0600);
    assert_int_equal(fr_seal_key_load_file(path, &k), FR_OK);

    assert_int_equal(
        fr_open_buf(k, KIND_MEMBERS, "members", blob, sizeof blob, plain),
        FR_OK);
    assert_memory_equal(plain, secret_text, sizeof plain);
    path_in(f, "members.sealed", path, sizeof path);
    write_bytes(path, blob, sizeof blob, 0600);
    assert_int_equal(
        fr_seal_read(k, KIND_MEMBERS, "members", path, 4096, &back, &back_len),
        FR_OK);
    assert_int_equal(back_len, sizeof plain);
    assert_memory_equal(back, secret_text, back_len);
    free(back);
    fr_seal_key_destroy(&k);
}

static void
test_every_flipped_byte(void **state)
{
    fixture *f = *state;
    fr_seal_key *k = new_key(f, "data.key");
    char path[PATH_MAX], bad[PATH_MAX];
    uint8_t *file = NULL, *back = NULL;
    size_t file_len = 0, back_len = 777;

    path_in(f, "members.sealed", path, sizeof path);
    path_in(f, "flipped.sealed", bad, sizeof bad);
    assert_int_equal(fr_seal_write(k, KIND_MEMBERS, "members", path,
                                   secret_text, sizeof secret_text - 1),
                     FR_OK);
    file = read_bytes(path, &file_len);
    assert_int_equal(file_len, sizeof secret_text - 1 + FR_SEAL_OVERHEAD);
    for (size_t i = 0; i < file_len; i++) {
        uint8_t saved = file[i];

        file[i] ^= (uint8_t)(1u << (i % 8));
        write_bytes(bad, file, file_len, 0600);
        file[i] = saved;
        assert_int_equal(fr_seal_read(k, KIND_MEMBERS, "members", bad, 4096,
                                      &back, &back_len),
                         i < 8 ? FR_EPROTO : FR_EAUTH);
        assert_null(back);
        assert_int_equal(back_len, 777);
    }
    /* The untouched copy still opens. */
    write_bytes(bad, file, file_len, 0600);
    assert_int_equal(
        fr_seal_read(k, KIND_MEMBERS, "members", bad, 4096, &back, &back_len),
        FR_OK);
    assert_int_equal(back_len, sizeof secret_text - 1);
    free(back);
    free(file);
    fr_seal_key_destroy(&k);
}

static void
test_wrong_key_label_kind(void **state)
{
    fixture *f = *state;
    fr_seal_key *k = new_key(f, "data.key");
    fr_seal_key *other = new_key(f, "other.key");
    char members[PATH_MAX], ratings[PATH_MAX], label[FR_SEAL_LABEL_MAX + 2];
    uint8_t *file = NULL, *back = NULL;
    size_t file_len = 0, back_len = 0;

    path_in(f, "members.sealed", members, sizeof members);
    path_in(f, "ratings.sealed", ratings, sizeof ratings);
    assert_int_equal(fr_seal_write(k, KIND_MEMBERS, "members", members,
                                   secret_text, sizeof secret_text - 1),
                     FR_OK);
    assert_int_equal(fr_seal_read(other, KIND_MEMBERS, "members", members, 4096,
                                  &back, &back_len),
                     FR_EAUTH);
    assert_int_equal(fr_seal_read(k, KIND_MEMBERS, "ratings", members, 4096,
                                  &back, &back_len),
                     FR_EAUTH);
    /* The label is bound exactly, not as a prefix. */
    assert_int_equal(fr_seal_read(k, KIND_MEMBERS, "member", members, 4096,
                                  &back, &back_len),
                     FR_EAUTH);
    assert_int_equal(fr_seal_read(k, KIND_MEMBERS, "members2", members, 4096,
                                  &back, &back_len),
                     FR_EAUTH);
    assert_int_equal(fr_seal_read(k, KIND_RATINGS, "members", members, 4096,
                                  &back, &back_len),
                     FR_EPROTO);
    assert_null(back);

    /* A members file copied over the ratings file is refused there. */
    file = read_bytes(members, &file_len);
    write_bytes(ratings, file, file_len, 0600);
    free(file);
    assert_int_equal(fr_seal_read(k, KIND_MEMBERS, "ratings", ratings, 4096,
                                  &back, &back_len),
                     FR_EAUTH);
    assert_null(back);

    /* Labels: the longest accepted one works, longer and NULL do not. */
    memset(label, 'r', sizeof label - 1);
    label[sizeof label - 1] = '\0';
    assert_int_equal(
        fr_seal_write(k, KIND_MEMBERS, label, ratings, secret_text, 3),
        FR_EINVAL);
    label[FR_SEAL_LABEL_MAX] = '\0';
    assert_int_equal(
        fr_seal_write(k, KIND_MEMBERS, label, ratings, secret_text, 3), FR_OK);
    assert_int_equal(
        fr_seal_read(k, KIND_MEMBERS, label, ratings, 4096, &back, &back_len),
        FR_OK);
    assert_int_equal(back_len, 3);
    free(back);
    back = NULL;
    assert_int_equal(
        fr_seal_write(k, KIND_MEMBERS, NULL, ratings, secret_text, 3),
        FR_EINVAL);
    assert_int_equal(
        fr_seal_read(k, KIND_MEMBERS, NULL, ratings, 4096, &back, &back_len),
        FR_EINVAL);
    assert_null(back);
    fr_seal_key_destroy(&k);
    fr_seal_key_destroy(&other);
}

static void
test_truncated_and_limits(void **state)
{
    fixture *f = *state;
    fr_seal_key *k = new_key(f, "data.key");
    char path[PATH_MAX], cut[PATH_MAX];
    uint8_t *file = NULL, *back = NULL, *longer = NULL;
    size_t file_len = 0, back_len = 0;

    path_in(f, "members.sealed", path, sizeof path);
    path_in(f, "cut.sealed", cut, sizeof cut);
    assert_int_equal(fr_seal_write(k, KIND_MEMBERS, "members", path,
                                   secret_text, sizeof secret_text - 1),
                     FR_OK);
    file = read_bytes(path, &file_len);
    for (size_t n = 0; n < file_len; n++) {
        write_bytes(cut, file, n, 0600);
        assert_int_equal(fr_seal_read(k, KIND_MEMBERS, "members", cut, 4096,
                                      &back, &back_len),
                         n < FR_SEAL_OVERHEAD ? FR_EPROTO : FR_EAUTH);
        assert_null(back);
    }
    /* One byte appended. */
    longer = malloc(file_len + 1);
    assert_non_null(longer);
    memcpy(longer, file, file_len);
    longer[file_len] = 0;
    write_bytes(cut, longer, file_len + 1, 0600);
    assert_int_equal(
        fr_seal_read(k, KIND_MEMBERS, "members", cut, 4096, &back, &back_len),
        FR_EAUTH);
    free(longer);

    /* max_len bounds the plaintext. */
    assert_int_equal(fr_seal_read(k, KIND_MEMBERS, "members", path,
                                  sizeof secret_text - 2, &back, &back_len),
                     FR_ELIMIT);
    assert_null(back);
    assert_int_equal(fr_seal_read(k, KIND_MEMBERS, "members", path,
                                  sizeof secret_text - 1, &back, &back_len),
                     FR_OK);
    assert_memory_equal(back, secret_text, back_len);
    free(back);
    back = NULL;

    /* Missing file, and a directory. */
    unlink(cut);
    assert_int_equal(
        fr_seal_read(k, KIND_MEMBERS, "members", cut, 4096, &back, &back_len),
        FR_ENOENT);
    assert_int_not_equal(fr_seal_read(k, KIND_MEMBERS, "members", f->dir, 4096,
                                      &back, &back_len),
                         FR_OK);
    assert_null(back);
    free(file);
    fr_seal_key_destroy(&k);
}

/* A grep over a sealed file finds nothing of the plaintext, and sealing the
 * same plaintext twice gives different files (random nonces). */
static void
test_not_in_clear(void **state)
{
    fixture *f = *state;
    fr_seal_key *k = new_key(f, "data.key");
    char path[PATH_MAX], text[64 * sizeof secret_text];
    uint8_t *a = NULL, *b = NULL;
    size_t a_len = 0, b_len = 0;

    text[0] = '\0';
    for (int i = 0; i < 63; i++) {
        strcat(text, secret_text);
        strcat(text, "\n");
    }
    path_in(f, "members.sealed", path, sizeof path);
    assert_int_equal(
        fr_seal_write(k, KIND_MEMBERS, "members", path, text, strlen(text)),
        FR_OK);
    a = read_bytes(path, &a_len);
    assert_false(contains(a, a_len, secret_text));
    assert_false(contains(a, a_len, "M01-"));
    assert_false(contains(a, a_len, "item 42"));
    /* The check itself can see plaintext. */
    assert_true(contains((const uint8_t *)text, strlen(text), secret_text));
    assert_int_equal(
        fr_seal_write(k, KIND_MEMBERS, "members", path, text, strlen(text)),
        FR_OK);
    b = read_bytes(path, &b_len);
    assert_int_equal(a_len, b_len);
    assert_memory_not_equal(a + 8, b + 8, a_len - 8);
    free(a);
    free(b);
    fr_seal_key_destroy(&k);
}

static void
test_buf(void **state)
{
    fixture *f = *state;
    fr_seal_key *k = new_key(f, "data.key");
    uint8_t blob[sizeof secret_text - 1 + FR_SEAL_OVERHEAD];
    uint8_t plain[sizeof secret_text - 1], empty_blob[FR_SEAL_OVERHEAD];

    assert_int_equal(
        fr_seal_buf(k, 0xbeef, "blob", secret_text, sizeof plain, blob), FR_OK);
    assert_int_equal(blob[6], 0xef);
    assert_int_equal(blob[7], 0xbe);
    assert_int_equal(fr_open_buf(k, 0xbeef, "blob", blob, sizeof blob, plain),
                     FR_OK);
    assert_memory_equal(plain, secret_text, sizeof plain);
    assert_int_equal(fr_open_buf(k, 0xbeee, "blob", blob, sizeof blob, plain),
                     FR_EPROTO);
    assert_int_equal(
        fr_open_buf(k, 0xbeef, "blob", blob, FR_SEAL_OVERHEAD - 1, plain),
        FR_EPROTO);
    /* A failed open leaves no plaintext behind. */
    blob[sizeof blob - 1] ^= 0x80;
    memset(plain, 'x', sizeof plain);
    assert_int_equal(fr_open_buf(k, 0xbeef, "blob", blob, sizeof blob, plain),
                     FR_EAUTH);
    for (size_t i = 0; i < sizeof plain; i++)
        assert_int_equal(plain[i], 0);

    /* The empty plaintext seals to exactly the overhead. */
    assert_int_equal(fr_seal_buf(k, 1, "", NULL, 0, empty_blob), FR_OK);
    assert_int_equal(fr_open_buf(k, 1, "", empty_blob, sizeof empty_blob, NULL),
                     FR_OK);
    assert_int_equal(
        fr_open_buf(k, 1, "x", empty_blob, sizeof empty_blob, plain), FR_EAUTH);
    assert_int_equal(fr_seal_buf(k, 1, "", NULL, 1, empty_blob), FR_EINVAL);
    fr_seal_key_destroy(&k);
}

static void
test_key_file(void **state)
{
    fixture *f = *state;
    fr_seal_key *k = NULL, *again = NULL;
    char path[PATH_MAX], link_path[PATH_MAX];
    uint8_t *text = NULL, *text2 = NULL;
    size_t len = 0, len2 = 0;

    path_in(f, "data.key", path, sizeof path);
    assert_int_equal(fr_seal_key_create_file(path), FR_OK);
    assert_int_equal(file_mode(path), 0600);
    assert_int_equal(dir_entries(f), 1); /* no temporary file left */
    text = read_bytes(path, &len);
    assert_int_equal(len, 65);
    assert_int_equal(strspn((const char *)text, "0123456789abcdef"), 64);
    assert_int_equal(text[64], '\n');
    assert_int_equal(fr_seal_key_load_file(path, &k), FR_OK);

    /* Never overwritten: the same bytes, and the same key, stay. */
    assert_int_equal(fr_seal_key_create_file(path), FR_ESTATE);
    text2 = read_bytes(path, &len2);
    assert_int_equal(len2, len);
    assert_memory_equal(text2, text, len);
    assert_int_equal(fr_seal_key_load_file(path, &again), FR_OK);
    assert_int_equal(same_key(k, again), FR_OK);
    assert_int_equal(dir_entries(f), 1);
    fr_seal_key_destroy(&again);

    /* Not even through a dangling symlink. */
    path_in(f, "dangling.key", link_path, sizeof link_path);
    assert_int_equal(symlink("/nonexistent/fr-seal-target", link_path), 0);
    assert_int_equal(fr_seal_key_create_file(link_path), FR_ESTATE);
    unlink(link_path);

    /* Two created keys differ. */
    path_in(f, "other.key", link_path, sizeof link_path);
    assert_int_equal(fr_seal_key_create_file(link_path), FR_OK);
    assert_int_equal(fr_seal_key_load_file(link_path, &again), FR_OK);
    assert_int_equal(same_key(k, again), FR_EAUTH);
    fr_seal_key_destroy(&again);

    /* Uppercase hex with CRLF is the same key. */
    for (size_t i = 0; i < 64; i++)
        if (text[i] >= 'a' && text[i] <= 'f')
            text[i] = (uint8_t)(text[i] - 'a' + 'A');
    memcpy(text + 64, "\r\n", 2);
    write_bytes(link_path, text, 66, 0400);
    assert_int_equal(fr_seal_key_load_file(link_path, &again), FR_OK);
    assert_int_equal(same_key(k, again), FR_OK);
    fr_seal_key_destroy(&again);

    free(text);
    free(text2);
    fr_seal_key_destroy(&k);
}

static void
test_key_file_refused(void **state)
{
    static const unsigned bad_modes[] = {0644, 0640, 0604, 0620, 0602, 0660};
    static const char *const malformed[] = {
        "",
        "\n",
        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeef\n",
        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff0\n",
        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeefg\n",
        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n\n",
        " 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n",
    };
    fixture *f = *state;
    fr_seal_key *k = NULL;
    char path[PATH_MAX], text[80], big[300];

    path_in(f, "data.key", path, sizeof path);
    snprintf(text, sizeof text, "%s\n", kat_key_hex);
    fr_log_set_sink(capture_sink, NULL);
    for (size_t i = 0; i < FR_ARRAY_LEN(bad_modes); i++) {
        char mode[8];

        write_text(path, text, bad_modes[i]);
        assert_int_equal(file_mode(path), bad_modes[i]);
        last_line[0] = '\0';
        assert_int_equal(fr_seal_key_load_file(path, &k), FR_EAUTH);
        assert_null(k);
        /* The refusal names the file and its mode, and never the key. */
        snprintf(mode, sizeof mode, "%04o", bad_modes[i]);
        assert_non_null(strstr(last_line, path));
        assert_non_null(strstr(last_line, mode));
        assert_null(strstr(last_line, "bc12cedc"));
    }
    for (size_t i = 0; i < FR_ARRAY_LEN(malformed); i++) {
        write_text(path, malformed[i], 0600);
        assert_int_equal(fr_seal_key_load_file(path, &k), FR_EINVAL);
        assert_null(k);
    }
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    write_text(path, big, 0600);
    assert_int_equal(fr_seal_key_load_file(path, &k), FR_EINVAL);
    assert_int_not_equal(fr_seal_key_load_file(f->dir, &k), FR_OK);
    fr_log_set_sink(NULL, NULL);
    unlink(path);
    assert_int_equal(fr_seal_key_load_file(path, &k), FR_ENOENT);
    assert_null(k);
    /* The same bytes with owner-only access load fine. */
    write_text(path, text, 0600);
    assert_int_equal(fr_seal_key_load_file(path, &k), FR_OK);
    fr_seal_key_destroy(&k);
}

static void
test_salt_file(void **state)
{
    fixture *f = *state;
    char path[PATH_MAX], other[PATH_MAX];
    uint8_t salt[FR_SEAL_SALT_BYTES], salt2[FR_SEAL_SALT_BYTES];
    uint8_t *text = NULL, *text2 = NULL;
    size_t len = 0, len2 = 0;

    path_in(f, "store.salt", path, sizeof path);
    path_in(f, "other.salt", other, sizeof other);
    assert_int_equal(fr_seal_salt_create_file(path), FR_OK);
    assert_int_equal(file_mode(path), 0600);
    assert_int_equal(dir_entries(f), 1);
    text = read_bytes(path, &len);
    assert_int_equal(len, 33);
    assert_int_equal(strspn((const char *)text, "0123456789abcdef"), 32);
    assert_int_equal(text[32], '\n');
    assert_int_equal(fr_seal_salt_create_file(path), FR_ESTATE);
    text2 = read_bytes(path, &len2);
    assert_int_equal(len2, len);
    assert_memory_equal(text2, text, len);
    assert_int_equal(fr_seal_salt_load(path, salt), FR_OK);

    assert_int_equal(fr_seal_salt_create_file(other), FR_OK);
    assert_int_equal(fr_seal_salt_load(other, salt2), FR_OK);
    assert_memory_not_equal(salt, salt2, sizeof salt);

    /* A salt is not secret: any mode loads. Malformed ones do not. */
    write_text(other, "6665647265632d73616c742d30303031\n", 0644);
    assert_int_equal(fr_seal_salt_load(other, salt2), FR_OK);
    assert_memory_equal(salt2, "fedrec-salt-0001", sizeof salt2);
    memcpy(salt2, salt, sizeof salt2);
    fr_log_set_sink(capture_sink, NULL);
    write_text(other, "6665647265632d73616c742d303030\n", 0600);
    assert_int_equal(fr_seal_salt_load(other, salt2), FR_EINVAL);
    write_text(other, "6665647265632d73616c742d3030303132\n", 0600);
    assert_int_equal(fr_seal_salt_load(other, salt2), FR_EINVAL);
    write_text(other, "6665647265632d73616c742d3030303x\n", 0600);
    assert_int_equal(fr_seal_salt_load(other, salt2), FR_EINVAL);
    fr_log_set_sink(NULL, NULL);
    assert_memory_equal(salt2, salt, sizeof salt2); /* untouched */
    unlink(other);
    assert_int_equal(fr_seal_salt_load(other, salt2), FR_ENOENT);
    free(text);
    free(text2);
}

/* Three Argon2id derivations: the known answer (which also shows that
 * derivation is deterministic), another salt, another passphrase. */
static void
test_passphrase(void **state)
{
    static const char other_pass[] = "correct horse battery stapler";
    fixture *f = *state;
    fr_seal_key *kat = NULL, *a = NULL, *b = NULL, *c = NULL;
    uint8_t salt[FR_SEAL_SALT_BYTES], salt2[FR_SEAL_SALT_BYTES];
    char key_path[PATH_MAX], salt_path[PATH_MAX], text[80];

    path_in(f, "kat.key", key_path, sizeof key_path);
    path_in(f, "kat.salt", salt_path, sizeof salt_path);
    snprintf(text, sizeof text, "%s\n", kat_key_hex);
    write_text(key_path, text, 0600);
    snprintf(text, sizeof text, "%s\n", kat_salt_hex);
    write_text(salt_path, text, 0600);
    assert_int_equal(fr_seal_key_load_file(key_path, &kat), FR_OK);
    assert_int_equal(fr_seal_salt_load(salt_path, salt), FR_OK);

    /* Refused before any hashing. */
    assert_int_equal(fr_seal_key_from_passphrase("", 0, salt, &a), FR_EINVAL);
    assert_int_equal(fr_seal_key_from_passphrase(NULL, 0, salt, &a), FR_EINVAL);
    assert_null(a);

    assert_int_equal(
        fr_seal_key_from_passphrase(kat_pass, strlen(kat_pass), salt, &a),
        FR_OK);
    assert_int_equal(same_key(a, kat), FR_OK);
    assert_int_equal(same_key(kat, a), FR_OK);

    memcpy(salt2, salt, sizeof salt2);
    salt2[FR_SEAL_SALT_BYTES - 1] ^= 1;
    assert_int_equal(
        fr_seal_key_from_passphrase(kat_pass, strlen(kat_pass), salt2, &b),
        FR_OK);
    assert_int_equal(same_key(a, b), FR_EAUTH);

    assert_int_equal(
        fr_seal_key_from_passphrase(other_pass, strlen(other_pass), salt, &c),
        FR_OK);
    assert_int_equal(same_key(a, c), FR_EAUTH);
    assert_int_equal(same_key(b, c), FR_EAUTH);

    fr_seal_key_destroy(&kat);
    fr_seal_key_destroy(&a);
    fr_seal_key_destroy(&b);
    fr_seal_key_destroy(&c);
}

static void
test_pseudonym(void **state)
{
    static const char id[] = "M01-000123";
    uint8_t key[32], key2[32];
    char a[FR_PSEUDONYM_CHARS + 1], b[FR_PSEUDONYM_CHARS + 1];

    (void)state;
    for (size_t i = 0; i < sizeof key; i++)
        key[i] = (uint8_t)i;
    memset(a, 'x', sizeof a);
    fr_pseudonym(key, id, sizeof id - 1, a);
    assert_int_equal(strlen(a), FR_PSEUDONYM_CHARS);
    assert_int_equal(strspn(a, "0123456789abcdef"), FR_PSEUDONYM_CHARS);
    /* Python: hashlib.blake2b(b"M01-000123", key=bytes(range(32)),
     *                         digest_size=16).hexdigest() */
    assert_string_equal(a, "97a2f8feb46fed28b7c5e0cff95d7ab3");
    fr_pseudonym(key, id, sizeof id - 1, b);
    assert_string_equal(a, b);
    /* Python: hashlib.blake2b(b"", key=bytes(range(32)),
     *                         digest_size=16).hexdigest() */
    fr_pseudonym(key, NULL, 0, b);
    assert_string_equal(b, "3daf97bce7888fd59773c66bf647459c");

    /* Another id, another key. */
    fr_pseudonym(key, "M01-000124", 10, b);
    assert_string_not_equal(a, b);
    memcpy(key2, key, sizeof key2);
    key2[31] ^= 1;
    fr_pseudonym(key2, id, sizeof id - 1, b);
    assert_string_not_equal(a, b);
    fr_crypto_random(key2, sizeof key2);
    fr_pseudonym(key2, id, sizeof id - 1, b);
    assert_string_not_equal(a, b);
    assert_int_equal(strspn(b, "0123456789abcdef"), FR_PSEUDONYM_CHARS);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_format_known_answer, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_every_flipped_byte, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_wrong_key_label_kind, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_truncated_and_limits, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_not_in_clear, setup, teardown),
        cmocka_unit_test_setup_teardown(test_buf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_file_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_salt_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_passphrase, setup, teardown),
        cmocka_unit_test(test_pseudonym),
    };

    fr_log_set_level(FR_LOG_ERR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
