/*
 * main.c - fedrec-client: command dispatch and configuration.
 *
 *   fedrec-client run [--config FILE] [--KEY=VALUE ...]
 *   fedrec-client recommend --member ID [--top K] [--config FILE] [...]
 *   fedrec-client segment --item ID [--top N] [--config FILE] [...]
 *   fedrec-client score --input FILE [--config FILE] [...]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "base/log.h"
#include "base/util.h"
#include "client.h"
#include "crypto/crypto.h"

typedef client_config C;
static const fr_config_key keys[] = {
    FR_CFG_STRING_(C, connect, "tcp://127.0.0.1:7600",
                   "aggregator endpoint (ZeroMQ)"),
    FR_CFG_STRING_(C, key_file, "",
                   "this store's secret key file (0600, from fedrec-keygen)"),
    FR_CFG_STRING_(C, sign_key_file, "",
                   "the store's Ed25519 identity key for secure aggregation "
                   "(default: key_file with .key replaced by .sign.key)"),
    FR_CFG_STRING_(C, server_key, "",
                   "the aggregator's public key file (pinned)"),
    FR_CFG_STRING_(C, data, "", "the store's purchase export (CSV)"),
    FR_CFG_STRING_(C, state_dir, "",
                   "directory for member embeddings and the global model"),
    FR_CFG_STRING_(C, log_level, "info", "err, warn, notice, info or debug"),
    FR_CFG_STRING_(C, test_file, "",
                   "fixed evaluation lists (NCF negative format); empty: "
                   "hold out each member's latest purchase"),
    FR_CFG_BOOL_(C, validate, "no",
                 "hold out one random purchase per member for "
                 "hyper-parameter selection (ignores test_file)"),
    FR_CFG_INT_(C, refit_epochs, "2", 0, 1000,
                "epochs fitting member embeddings to each new global model"),
    FR_CFG_INT_(C, n_items, "500", 1, 1048576,
                "items in the catalogue (must match the aggregator)"),
    FR_CFG_INT_(C, heartbeat_ms, "1000", 50, 600000,
                "interval between presence messages to the aggregator"),
    FR_CFG_INT_(C, seed, "7", 0, INT64_MAX,
                "seed for member embeddings and evaluation negatives"),
    FR_CFG_INT_(C, max_message_bytes, "67108864", 1024, 1073741824,
                "largest message accepted or sent"),
    FR_CFG_INT_(C, blas_threads, "1", 1, 256, "OpenBLAS threads"),
};
const fr_config_table client_config_table = {keys, FR_ARRAY_LEN(keys)};

static void
usage(FILE *out)
{
    fprintf(out,
            "usage: fedrec-client COMMAND [--config FILE] [--KEY=VALUE ...]\n"
            "commands:\n"
            "  run                          take part in federated rounds\n"
            "  recommend --member ID [--top K]\n"
            "                               top-K items for a member "
            "(default K 10)\n"
            "  segment --item ID [--top N]  the N members most likely to "
            "want an item\n"
            "                               (default N 100)\n"
            "  score --input FILE           model scores for lines of the NCF "
            "negative\n"
            "                               format ('-' reads stdin)\n"
            "configuration keys:\n");
    fr_config_print_help(&client_config_table, out);
}

static int
fail(const char *msg)
{
    fprintf(stderr, "fedrec-client: %s\n", msg);
    return 2;
}

/* Removes "--name VALUE" / "--name=VALUE" from argv; returns the value or
 * NULL. *bad is set if the option has no value. */
static const char *
take_option(int *argc, char **argv, const char *name, int *bad)
{
    size_t n = strlen(name);
    const char *value = NULL;

    for (int i = 1; i < *argc; i++) {
        int used = 0;
        if (!strncmp(argv[i], name, n) && argv[i][n] == '=') {
            value = argv[i] + n + 1;
            used = 1;
        } else if (!strcmp(argv[i], name)) {
            if (i + 1 >= *argc) {
                *bad = 1;
                return NULL;
            }
            value = argv[i + 1];
            used = 2;
        }
        if (used) {
            memmove(&argv[i], &argv[i + used],
                    (size_t)(*argc - i - used + 1) * sizeof *argv);
            *argc -= used;
            i--;
        }
    }
    return value;
}

static int
check_files(const client_config *cfg, int need_keys)
{
    if (!*cfg->data || !*cfg->state_dir)
        return fail("data and state_dir must be set (config file or "
                    "--KEY=VALUE)");
    if (need_keys && (!*cfg->key_file || !*cfg->server_key))
        return fail("key_file and server_key must be set");
    return 0;
}

int
main(int argc, char **argv)
{
    client_config cfg;
    char err[FR_CONFIG_ERR_MAX];
    int pos[1], npos = 0, flags = 0, bad = 0, rc;
    const char *member = NULL, *top = NULL, *item = NULL, *input = NULL, *cmd;
    int64_t k = 10, item_id = 0;
    fr_log_level level;

    fr_log_set_ident("fedrec-client");
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    cmd = argv[1];
    argv[1] = argv[0];
    argc--;
    argv++;
    if (!strcmp(cmd, "recommend")) {
        member = take_option(&argc, argv, "--member", &bad);
        top = take_option(&argc, argv, "--top", &bad);
        if (bad || !member || !*member)
            return fail("recommend needs --member ID");
    } else if (!strcmp(cmd, "segment")) {
        item = take_option(&argc, argv, "--item", &bad);
        top = take_option(&argc, argv, "--top", &bad);
        k = 100;
        if (bad || !item || fr_parse_i64(item, 0, INT32_MAX, &item_id))
            return fail("segment needs --item ID (a non-negative integer)");
    } else if (!strcmp(cmd, "score")) {
        input = take_option(&argc, argv, "--input", &bad);
        if (bad || !input || !*input)
            return fail("score needs --input FILE");
    } else if (strcmp(cmd, "run") != 0) {
        snprintf(err, sizeof err, "unknown command '%s' (try --help)", cmd);
        return fail(err);
    }
    if (top && fr_parse_i64(top, 1, 100000, &k))
        return fail("--top must be an integer in [1, 100000]");
    if (fr_config_parse_cli(&client_config_table, &cfg, argc, argv, pos, 0,
                            &npos, &flags, err, sizeof err))
        return fail(err);
    if (flags & FR_CONFIG_FLAG_HELP) {
        usage(stdout);
        return 0;
    }
    if (fr_log_level_parse(cfg.log_level, &level))
        return fail("log_level: expected err, warn, notice, info or debug");
    if ((rc = check_files(&cfg, !strcmp(cmd, "run"))))
        return rc;
    if (flags & FR_CONFIG_FLAG_DUMP)
        fr_config_dump(&client_config_table, &cfg, stdout);
    if (flags & (FR_CONFIG_FLAG_CHECK | FR_CONFIG_FLAG_DUMP))
        return 0;
    fr_log_set_level(level);
    if (fr_crypto_init())
        return fail("libsodium failed to start");
    openblas_set_num_threads((int)cfg.blas_threads);
    if (member)
        return client_recommend(&cfg, member, (uint32_t)k);
    if (item)
        return client_segment(&cfg, (uint32_t)item_id, (uint32_t)k);
    if (input)
        return client_score(&cfg, input);
    return client_run(&cfg);
}
