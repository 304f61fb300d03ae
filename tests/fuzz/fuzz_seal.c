/*
 * fuzz_seal.c - the sealed-file opener (common/crypto/seal.c) on arbitrary
 * bytes under a fixed data key, through the path reader (fr_seal_read) and
 * the buffer one (fr_open_buf). The first byte chooses the role (kind and
 * label) of one of the store's sealed files; the rest is the file.
 * Properties: both readers give the same verdict and the same plaintext;
 * a refusal gives no output (fr_open_buf's buffer zeroed); what opens
 * seals again and opens to the same bytes, and is handed to that role's
 * decoder (vault state, pseudonym key length, audit head size), which must
 * accept or refuse it without harm.
 * FR_FUZZ_WRITE_SEEDS=DIR writes files sealed with the fixed key.
 */
#include <string.h>

#include "crypto/crypto.h"
#include "crypto/seal.h"
#include "fuzz.h"
#include "fuzz_file.h"
#include "vault_int.h"

/* Not secret: the fuzzing key. */
#define FUZZ_KEY_HEX                                                           \
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"

static const struct role {
    uint16_t kind;
    const char *label;
    size_t max;
} roles[] = {{KIND_VAULT, "vault", 1 << 20}, {KIND_PSEUDO, "pseudonym", 64},
             {KIND_BLOB, "model", 1 << 20},  {KIND_BLOB, "members", 1 << 20},
             {4, "audit-head", 64}};
#define N_ROLES (sizeof roles / sizeof roles[0])

static fr_seal_key *key;

static void
write_seeds(const char *dir)
{
    static const uint8_t pkey[32] = {1, 2, 3};
    static const uint8_t head[40] = {7};
    uint8_t *v = NULL, out[512];
    size_t vlen = 0;
    vault *blank = calloc(1, sizeof *blank);
    char name[32];

    FR_FUZZ_CHECK(blank != NULL);
    blank->lock_fd = -1;
    snprintf(blank->name, sizeof blank->name, "store01");
    FR_FUZZ_CHECK(vault_encode(blank, &v, &vlen) == FR_OK && vlen < 400);
    for (size_t r = 0; r < N_ROLES; r++) {
        const void *plain = r == 0 ? (const void *)v : r == 4 ? head : pkey;
        size_t len = r == 0 ? vlen : r == 4 ? sizeof head : sizeof pkey;
        out[0] = (uint8_t)r;
        FR_FUZZ_CHECK(fr_seal_buf(key, roles[r].kind, roles[r].label, plain,
                                  len, out + 1) == FR_OK);
        snprintf(name, sizeof name, "%s", roles[r].label);
        fz_seed(dir, name, out, 1 + len + FR_SEAL_OVERHEAD);
    }
    free(v);
    vault_close(&blank);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char path[128];

    (void)argc;
    (void)argv;
    FR_FUZZ_CHECK(fr_crypto_init() == FR_OK);
    fz_dir_init();
    fz_write("data.key", FUZZ_KEY_HEX, strlen(FUZZ_KEY_HEX), path,
             sizeof path);
    FR_FUZZ_CHECK(fr_seal_key_load_file(path, &key) == FR_OK);
    if (fz_seed_dir()) {
        write_seeds(fz_seed_dir());
        exit(0);
    }
    return 0;
}

/* The role's decoder on an opened plaintext. */
static void
decode(size_t r, const uint8_t *plain, size_t len)
{
    if (roles[r].kind == KIND_VAULT) {
        vault *v = calloc(1, sizeof *v);
        FR_FUZZ_CHECK(v != NULL);
        v->lock_fd = -1;
        if (vault_decode(v, plain, len) == FR_OK)
            FR_FUZZ_CHECK(vault_index_consents(v) == FR_OK);
        vault_close(&v);
    }
}

static void
reseal(size_t r, const uint8_t *plain, size_t len)
{
    uint8_t *blob = malloc(len + FR_SEAL_OVERHEAD), *back = malloc(len + 1);

    FR_FUZZ_CHECK(blob && back);
    FR_FUZZ_CHECK(fr_seal_buf(key, roles[r].kind, roles[r].label, plain, len,
                              blob) == FR_OK);
    FR_FUZZ_CHECK(fr_open_buf(key, roles[r].kind, roles[r].label, blob,
                              len + FR_SEAL_OVERHEAD, back) == FR_OK);
    FR_FUZZ_CHECK(memcmp(back, plain, len) == 0);
    /* another role's key or label does not open it */
    FR_FUZZ_CHECK(fr_open_buf(key, roles[r].kind, "other", blob,
                              len + FR_SEAL_OVERHEAD, back) != FR_OK);
    free(blob);
    free(back);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[128];
    uint8_t *plain = NULL, *buf;
    size_t len = 0, n, r;
    fr_err rc, rb;

    if (size < 1)
        return 0;
    r = data[0] % N_ROLES;
    data++, size--;
    fz_write("file.sealed", data, size, path, sizeof path);
    rc = fr_seal_read(key, roles[r].kind, roles[r].label, path, roles[r].max,
                      &plain, &len);
    n = size > FR_SEAL_OVERHEAD ? size - FR_SEAL_OVERHEAD : 0;
    buf = malloc(n + 1);
    FR_FUZZ_CHECK(buf != NULL);
    memset(buf, 0xa5, n + 1);
    rb = fr_open_buf(key, roles[r].kind, roles[r].label, data, size, buf);
    if (rc == FR_ELIMIT)
        FR_FUZZ_CHECK(n > roles[r].max);
    else
        FR_FUZZ_CHECK(rc == rb);
    if (rb != FR_OK && rb != FR_EPROTO)
        for (size_t i = 0; i < n; i++)
            FR_FUZZ_CHECK(buf[i] == 0);
    if (rc != FR_OK) {
        FR_FUZZ_CHECK(plain == NULL);
    } else {
        FR_FUZZ_CHECK(plain != NULL && len == n && memcmp(plain, buf, n) == 0);
        reseal(r, plain, len);
        decode(r, plain, len);
        fr_crypto_wipe(plain, len);
        free(plain);
    }
    free(buf);
    return 0;
}
