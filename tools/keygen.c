/*
 * keygen.c - fedrec-keygen: makes a CURVE key pair for a store or for the
 * aggregator.
 *
 *   fedrec-keygen --name NAME --dir DIR [--force]
 *
 * Writes DIR/NAME.key (secret, 0600) and DIR/NAME.pub, creating DIR with mode
 * 0700 if needed, and prints the allow-list line "NAME HEXPUBKEY" on stdout so
 * an operator can append it to the aggregator's allow-list. The fingerprint
 * goes to stderr. An existing NAME.key is never replaced without --force: a
 * lost secret key cannot be recovered, and a replaced one locks the store out
 * until the allow-list is updated.
 *
 * Exit status: 0 on success, 1 if the keys could not be made or written,
 * 2 on bad usage.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

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
            "Makes a CURVE key pair: DIR/NAME.key (secret, mode 0600) and\n"
            "DIR/NAME.pub, and prints the allow-list line \"NAME HEXPUBKEY\".\n"
            "\n"
            "  --name NAME  store or aggregator name, [A-Za-z0-9._-], at most\n"
            "               63 characters (the store name in the allow-list)\n"
            "  --dir DIR    key directory (created with mode 0700 if missing)\n"
            "  --force      replace an existing NAME.key\n"
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
static int
make_dir(const char *dir)
{
    char path[PATH_MAX];
    struct stat st;
    size_t len = strlen(dir);

    if (len >= sizeof path) {
        fprintf(stderr, PROG ": --dir: path too long\n");
        return -1;
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
        fprintf(stderr, PROG ": cannot create directory '%s': %s\n", dir,
                strerror(errno));
        return -1;
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, PROG ": '%s' is not a directory\n", dir);
        return -1;
    }
    return 0;
}

static int
generate(const args *a)
{
    fr_crypto_keypair *kp = NULL;
    char base[PATH_MAX], hex[FR_CRYPTO_HEX_KEY_CHARS + 1];
    char fpr[FR_CRYPTO_FPR_CHARS + 1];
    int status = EXIT_FAIL;
    fr_err rc;

    if (snprintf(base, sizeof base, "%s/%s", a->dir, a->name) >=
        (int)sizeof base - 4) {
        fprintf(stderr, PROG ": key path too long\n");
        return EXIT_FAIL;
    }
    if (fr_crypto_init() != FR_OK || make_dir(a->dir) != 0)
        goto out;
    rc = fr_crypto_keypair_generate(&kp);
    if (rc == FR_OK)
        rc = fr_crypto_keypair_save(kp, base, a->force);
    if (rc == FR_ESTATE) {
        fprintf(stderr, PROG ": %s.key already exists; use --force to "
                        "replace it\n", base);
        goto out;
    }
    if (rc) {
        fprintf(stderr, PROG ": cannot write %s.key and %s.pub: %s\n", base,
                base, fr_strerror(rc));
        goto out;
    }
    fr_crypto_key_to_hex(fr_crypto_keypair_public(kp), hex);
    fr_crypto_fingerprint(fr_crypto_keypair_public(kp), fpr);
    printf("%s %s\n", a->name, hex);
    fprintf(stderr, PROG ": wrote %s.key (secret, 0600) and %s.pub; "
                    "fingerprint %s\n", base, base, fpr);
    status = fflush(stdout) == 0 ? 0 : EXIT_FAIL;
out:
    fr_crypto_keypair_destroy(&kp);
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
