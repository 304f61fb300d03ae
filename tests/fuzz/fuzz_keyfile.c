/*
 * fuzz_keyfile.c - the key-file readers (common/crypto): the secret hex
 * reader behind them (fr_crypto_read_secret_hex), the Curve25519 and
 * Ed25519 secret key files, public key files, the store's data key and
 * its passphrase salt. The first byte's bit 0 gives the file mode 0640
 * instead of 0600; the rest is the file. Properties: a secret file others
 * may read is refused (FR_EAUTH) whatever it holds; what loads saves to
 * files that load to the same key (public half and fingerprint alike), and
 * the hex reader's bytes, written back as hex, read the same.
 */
#include <string.h>
#include <sys/stat.h>

#include "base/log.h"
#include "crypto/crypto.h"
#include "crypto/crypto_int.h"
#include "crypto/seal.h"
#include "fuzz.h"
#include "fuzz_file.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    FR_FUZZ_CHECK(fr_crypto_init() == FR_OK);
    fr_log_set_level(FR_LOG_ERR);
    fz_dir_init();
    return 0;
}

static void
hex_round_trip(const char *path, int open_mode)
{
    uint8_t a[32], b[32];
    char hex[65], p2[128];
    fr_err rc = fr_crypto_read_secret_hex(path, "fuzz", "secret key", a, 32);

    if (open_mode) {
        FR_FUZZ_CHECK(rc == FR_EAUTH);
        return;
    }
    if (rc != FR_OK)
        return;
    fr_crypto_key_to_hex(a, hex);
    hex[64] = '\n';
    fz_write("again.hex", hex, 65, p2, sizeof p2);
    FR_FUZZ_CHECK(fr_crypto_read_secret_hex(p2, "fuzz", "secret key", b,
                                            32) == FR_OK &&
                  memcmp(a, b, 32) == 0);
}

static void
keypair(const char *path, int open_mode)
{
    fr_crypto_keypair *kp = NULL, *again = NULL;
    char base[128], p2[160];
    uint8_t pk[FR_CRYPTO_PK_BYTES];
    fr_err rc = fr_crypto_keypair_load(path, &kp);

    if (open_mode)
        FR_FUZZ_CHECK(rc == FR_EAUTH);
    if (rc != FR_OK) {
        FR_FUZZ_CHECK(kp == NULL);
        return;
    }
    fz_path("kp", base, sizeof base);
    FR_FUZZ_CHECK(fr_crypto_keypair_save(kp, base, 1) == FR_OK);
    snprintf(p2, sizeof p2, "%s.key", base);
    FR_FUZZ_CHECK(fr_crypto_keypair_load(p2, &again) == FR_OK);
    FR_FUZZ_CHECK(memcmp(fr_crypto_keypair_public(kp),
                         fr_crypto_keypair_public(again),
                         FR_CRYPTO_PK_BYTES) == 0);
    snprintf(p2, sizeof p2, "%s.pub", base);
    FR_FUZZ_CHECK(fr_crypto_public_load(p2, pk) == FR_OK &&
                  memcmp(pk, fr_crypto_keypair_public(kp), sizeof pk) == 0);
    fr_crypto_keypair_destroy(&again);
    fr_crypto_keypair_destroy(&kp);
}

static void
signkey(const char *path, int open_mode)
{
    fr_crypto_signkey *k = NULL, *again = NULL;
    char base[128], p2[160];
    uint8_t sig[FR_CRYPTO_SIG_BYTES];
    fr_err rc = fr_crypto_signkey_load(path, &k);

    if (open_mode)
        FR_FUZZ_CHECK(rc == FR_EAUTH);
    if (rc != FR_OK) {
        FR_FUZZ_CHECK(k == NULL);
        return;
    }
    fz_path("id", base, sizeof base);
    FR_FUZZ_CHECK(fr_crypto_signkey_save(k, base, 1) == FR_OK);
    snprintf(p2, sizeof p2, "%s.sign.key", base);
    FR_FUZZ_CHECK(fr_crypto_signkey_load(p2, &again) == FR_OK);
    fr_crypto_sign(again, "m", 1, sig);
    FR_FUZZ_CHECK(fr_crypto_verify(fr_crypto_signkey_public(k), "m", 1,
                                   sig) == FR_OK);
    fr_crypto_signkey_destroy(&again);
    fr_crypto_signkey_destroy(&k);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t pk[FR_CRYPTO_PK_BYTES], salt[FR_SEAL_SALT_BYTES];
    char path[128];
    fr_seal_key *dk = NULL;
    int open_mode;
    fr_err rc;

    if (size < 1)
        return 0;
    open_mode = data[0] & 1;
    fz_write("fuzz.key", data + 1, size - 1, path, sizeof path);
    if (open_mode)
        FR_FUZZ_CHECK(chmod(path, 0640) == 0);
    hex_round_trip(path, open_mode);
    keypair(path, open_mode);
    signkey(path, open_mode);
    rc = fr_seal_key_load_file(path, &dk);
    if (open_mode)
        FR_FUZZ_CHECK(rc == FR_EAUTH);
    FR_FUZZ_CHECK((rc == FR_OK) == (dk != NULL));
    fr_seal_key_destroy(&dk);
    rc = fr_crypto_public_load(path, pk);
    FR_FUZZ_CHECK(rc == FR_OK || rc == FR_EINVAL);
    rc = fr_seal_salt_load(path, salt);
    FR_FUZZ_CHECK(rc == FR_OK || rc == FR_EINVAL);
    return 0;
}
