/*
 * keygen.c - fedrec-keygen: makes the long-term keys of a store or of the
 * aggregator: a CURVE key pair for the transport and an Ed25519 identity
 * key with which secure aggregation signs its per-round keys.
 *
 *   fedrec-keygen --name NAME --dir DIR [--force]
 *
 * Writes DIR/NAME.key (CURVE secret, 0600), DIR/NAME.pub, DIR/NAME.sign.key
 * (identity secret, 0600) and DIR/NAME.sign.pub, creating DIR with mode 0700
 * if needed, and prints the allow-list line "NAME CURVEHEX SIGNHEX" on stdout
 * so an operator can append it to the aggregator's allow-list. Fingerprints
 * go to stderr.
 *
 * An existing secret is never replaced without --force: a lost secret key
 * cannot be recovered, and a replaced one locks the store out until the
 * allow-list is updated. If only one of NAME.key and NAME.sign.key exists
 * (keys provisioned before identity keys existed), the existing one is
 * loaded and kept, only the missing one is made, and stderr says so; the
 * printed line then replaces the store's old allow-list line. If both exist,
 * nothing is written without --force, which replaces both.
 *
 * Exit status: 0 on success, 1 if the keys could not be made or written,
 * 2 on bad usage.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "base/err.h"
#include "crypto/crypto.h"
#include "net/net.h"

#define PROG "fedrec-keygen"
#define EXIT_FAIL 1
#define EXIT_USAGE 2

typedef struct args {
    const char *name;
    const char *dir;
    int force;
    int help;
} args;

static void
usage(FILE *out)
{
    fprintf(out,
            "usage: " PROG " --name NAME --dir DIR [--force]\n"
            "\n"
            "Makes a store's (or the aggregator's) long-term keys:\n"
            "  DIR/NAME.key, DIR/NAME.pub            CURVE transport key pair\n"
            "  DIR/NAME.sign.key, DIR/NAME.sign.pub  Ed25519 identity key\n"
            "Secret files get mode 0600. Prints the allow-list line\n"
            "\"NAME CURVEHEX SIGNHEX\" on stdout.\n"
            "\n"
            "Existing secrets are kept: if one of NAME.key and NAME.sign.key\n"
            "exists, it is reused and only the other is made; if both exist,\n"
            "nothing is written unless --force is given.\n"
            "\n"
            "  --name NAME  store or aggregator name, [A-Za-z0-9._-], at most\n"
            "               63 characters (the store name in the allow-list)\n"
            "  --dir DIR    key directory (created with mode 0700 if missing)\n"
            "  --force      make both keys anew, replacing NAME.key and\n"
            "               NAME.sign.key\n"
            "  --help       show this help\n");
}

static int
usage_error(const char *msg, const char *what)
{
    fprintf(stderr, PROG ": %s%s\n", msg, what ? what : "");
    fprintf(stderr, "try '" PROG " --help'\n");
    return EXIT_USAGE;
}

/* Takes the value of --opt VALUE or --opt=VALUE; NULL if missing. */
static const char *
option_value(int argc, char **argv, int *i, const char *eq)
{
    if (eq)
        return eq + 1;
    if (*i + 1 < argc)
        return argv[++*i];
    return NULL;
}

/* Returns 0 on success, or an exit status after printing the problem. */
static int
parse_args(int argc, char **argv, args *a)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *eq = strchr(arg, '=');
        size_t key_len = eq ? (size_t)(eq - arg) : strlen(arg);
        const char **slot = NULL, *flag = NULL;

        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            a->help = 1;
            return 0;
        }
        if (!strcmp(arg, "--force")) {
            a->force = 1;
            continue;
        }
        if (key_len == 6 && !strncmp(arg, "--name", 6))
            slot = &a->name, flag = "--name";
        else if (key_len == 5 && !strncmp(arg, "--dir", 5))
            slot = &a->dir, flag = "--dir";
        else
            return usage_error("unknown argument: ", arg);
        *slot = option_value(argc, argv, &i, eq);
        if (!*slot || !**slot)
            return usage_error("missing value for ", flag);
    }
    if (!a->name)
        return usage_error("--name is required", NULL);
    if (!a->dir)
        return usage_error("--dir is required", NULL);
    if (!fr_net_store_name_valid(a->name))
        return usage_error("--name: only 1 to 63 characters from "
                           "A-Z a-z 0-9 . _ - are allowed",
                           NULL);
    return 0;
}

/* Creates dir (and missing parents) with mode 0700; an existing directory
 * is fine. */
static fr_err
make_dir(const char *dir)
{
    char path[PATH_MAX];
    struct stat st;
    size_t len = strlen(dir);
    int e;

    if (len >= sizeof path) {
        fprintf(stderr, PROG ": --dir: path too long\n");
        return FR_ELIMIT;
    }
    memcpy(path, dir, len + 1);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST)
            break; /* reported below, by the final mkdir or stat */
        *p = '/';
    }
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        e = errno;
        fprintf(stderr, PROG ": cannot create directory '%s': %s\n", dir,
                strerror(e));
        return fr_err_from_errno(e);
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, PROG ": '%s' is not a directory\n", dir);
        return FR_EINVAL;
    }
    return FR_OK;
}

/* Sets *found to whether something exists at path; an error (printed) if
 * that cannot be told. */
static fr_err
exists(const char *path, int *found)
{
    struct stat st;
    int e;

    *found = 0;
    if (lstat(path, &st) == 0) {
        *found = 1;
        return FR_OK;
    }
    if (errno == ENOENT)
        return FR_OK;
    e = errno;
    fprintf(stderr, PROG ": cannot check '%s': %s\n", path, strerror(e));
    return fr_err_from_errno(e);
}

/* Loads the existing CURVE key pair (reuse) or makes and saves a new one. */
static fr_err
get_keypair(const char *base, int reuse, int force, fr_crypto_keypair **out)
{
    char fpr[FR_CRYPTO_FPR_CHARS + 1];
    fr_err rc;

    if (reuse) {
        char path[PATH_MAX + 16]; /* base and its suffix */

        snprintf(path, sizeof path, "%s.key", base);
        rc = fr_crypto_keypair_load(path, out);
        if (rc) {
            fprintf(stderr, PROG ": cannot load the existing %s: %s\n", path,
                    fr_strerror(rc));
            return rc;
        }
        fr_crypto_fingerprint(fr_crypto_keypair_public(*out), fpr);
        fprintf(stderr, PROG ": kept the existing %s.key (fingerprint %s)\n",
                base, fpr);
        return FR_OK;
    }
    rc = fr_crypto_keypair_generate(out);
    if (rc == FR_OK)
        rc = fr_crypto_keypair_save(*out, base, force);
    if (rc) {
        fprintf(stderr, PROG ": cannot write %s.key and %s.pub: %s\n", base,
                base, rc == FR_ESTATE ? "already exists" : fr_strerror(rc));
        return rc;
    }
    fr_crypto_fingerprint(fr_crypto_keypair_public(*out), fpr);
    fprintf(stderr,
            PROG ": wrote %s.key (secret, 0600) and %s.pub; "
                 "fingerprint %s\n",
            base, base, fpr);
    return FR_OK;
}

/* Loads the existing identity key (reuse) or makes and saves a new one. */
static fr_err
get_signkey(const char *base, int reuse, int force, fr_crypto_signkey **out)
{
    char fpr[FR_CRYPTO_FPR_CHARS + 1];
    fr_err rc;

    if (reuse) {
        char path[PATH_MAX + 16]; /* base and its suffix */

        snprintf(path, sizeof path, "%s.sign.key", base);
        rc = fr_crypto_signkey_load(path, out);
        if (rc) {
            fprintf(stderr, PROG ": cannot load the existing %s: %s\n", path,
                    fr_strerror(rc));
            return rc;
        }
        fr_crypto_fingerprint(fr_crypto_signkey_public(*out), fpr);
        fprintf(stderr,
                PROG ": kept the existing %s.sign.key (identity "
                     "fingerprint %s)\n",
                base, fpr);
        return FR_OK;
    }
    rc = fr_crypto_signkey_generate(out);
    if (rc == FR_OK)
        rc = fr_crypto_signkey_save(*out, base, force);
    if (rc) {
        fprintf(stderr,
                PROG ": cannot write %s.sign.key and %s.sign.pub: "
                     "%s\n",
                base, base,
                rc == FR_ESTATE ? "already exists" : fr_strerror(rc));
        return rc;
    }
    fr_crypto_fingerprint(fr_crypto_signkey_public(*out), fpr);
    fprintf(stderr,
            PROG ": wrote %s.sign.key (identity secret, 0600) and "
                 "%s.sign.pub; identity fingerprint %s\n",
            base, base, fpr);
    return FR_OK;
}

/* Decides which keys already exist and may be reused. Returns 0, or an exit
 * status after printing the problem. */
static int
plan(const args *a, const char *base, int *reuse_key, int *reuse_sign)
{
    char key_path[PATH_MAX + 16], sign_path[PATH_MAX + 16];
    fr_err bad_key, bad_sign;

    *reuse_key = *reuse_sign = 0;
    if (a->force)
        return 0;
    snprintf(key_path, sizeof key_path, "%s.key", base);
    snprintf(sign_path, sizeof sign_path, "%s.sign.key", base);
    bad_key = exists(key_path, reuse_key);
    bad_sign = exists(sign_path, reuse_sign);
    if (bad_key || bad_sign)
        return EXIT_FAIL;
    if (*reuse_key && *reuse_sign) {
        fprintf(stderr,
                PROG ": %s and %s already exist; use --force to "
                     "replace them\n",
                key_path, sign_path);
        return EXIT_FAIL;
    }
    if (*reuse_key || *reuse_sign)
        fprintf(stderr,
                PROG ": %s exists: reusing it and making only the "
                     "missing %s key; the allow-list line printed on "
                     "stdout replaces the store's old one\n",
                *reuse_key ? key_path : sign_path,
                *reuse_key ? "identity" : "CURVE");
    return 0;
}

static int
generate(const args *a)
{
    fr_crypto_keypair *kp = NULL;
    fr_crypto_signkey *sk = NULL;
    char base[PATH_MAX], hex[FR_CRYPTO_HEX_KEY_CHARS + 1];
    char sign_hex[FR_CRYPTO_HEX_KEY_CHARS + 1];
    int status = EXIT_FAIL, reuse_key = 0, reuse_sign = 0;

    /* Room for the longest suffix, ".sign.key". */
    if (snprintf(base, sizeof base, "%s/%s", a->dir, a->name) >=
        (int)sizeof base - 9) {
        fprintf(stderr, PROG ": key path too long\n");
        return EXIT_FAIL;
    }
    if (fr_crypto_init() != FR_OK || make_dir(a->dir) != FR_OK)
        goto out;
    status = plan(a, base, &reuse_key, &reuse_sign);
    if (status)
        goto out;
    status = EXIT_FAIL;
    if (get_keypair(base, reuse_key, a->force, &kp) != FR_OK ||
        get_signkey(base, reuse_sign, a->force, &sk) != FR_OK)
        goto out;
    fr_crypto_key_to_hex(fr_crypto_keypair_public(kp), hex);
    fr_crypto_key_to_hex(fr_crypto_signkey_public(sk), sign_hex);
    printf("%s %s %s\n", a->name, hex, sign_hex);
    status = fflush(stdout) == 0 ? 0 : EXIT_FAIL;
out:
    fr_crypto_keypair_destroy(&kp);
    fr_crypto_signkey_destroy(&sk);
    return status;
}

int
main(int argc, char **argv)
{
    args a = {0};
    int status = parse_args(argc, argv, &a);

    if (status)
        return status;
    if (a.help) {
        usage(stdout);
        return 0;
    }
    return generate(&a);
}
