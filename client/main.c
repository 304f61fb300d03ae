/*
 * main.c - fedrec-client: command dispatch and configuration.
 *
 * Every command takes --store DIR (the protected store, whose store.conf is
 * then read as the configuration unless --config is given) or, for the
 * public-benchmark mode, --data FILE --state_dir DIR. See usage().
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/progress.h"
#include "base/util.h"
#include "canon.h"
#include "client.h"
#include "crypto/crypto.h"
#include "model/model.h"
#include "notice.h"
#include "state.h"
#include "vault.h"

typedef client_config C;
static const fr_config_key keys[] = {
    FR_CFG_STRING_(C, store, "",
                   "the protected store directory (fedrec-client init); its "
                   "store.conf is read when --config is not given"),
    FR_CFG_INT_(C, retention_days, "0", 0, 36500,
                "purchases older than this are purged at start-up and "
                "before each round; 0 keeps them until erased"),
    FR_CFG_STRING_(C, connect, "tcp://127.0.0.1:7600",
                   "aggregator endpoint (ZeroMQ)"),
    FR_CFG_STRING_(C, key_file, "",
                   "this store's secret key file (0600, from fedrec-keygen)"),
    FR_CFG_STRING_(C, sign_key_file, "",
                   "the store's Ed25519 identity key for secure aggregation "
                   "(default: key_file with .key replaced by .sign.key)"),
    FR_CFG_STRING_(C, server_key, "",
                   "the aggregator's public key file (pinned)"),
    FR_CFG_STRING_(C, data, "",
                   "benchmark mode only: a plain CSV read at start (public "
                   "data; use --store for member data)"),
    FR_CFG_STRING_(C, state_dir, "",
                   "directory for member embeddings and the global model"),
    FR_CFG_STRING_(C, log_level, "info", "err, warn, notice, info or debug"),
    FR_CFG_STRING_(C, log_format, "human",
                   "human (TIME IDENT LEVEL TAG: text, progress bars on a "
                   "terminal) or json (one object per line, for journald "
                   "and log collectors)"),
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
    FR_CFG_STRING_(C, catalogue, "",
                   "this store's copy of the item catalogue; empty: "
                   "DIR/catalogue (state_dir/catalogue in benchmark mode)"),
    FR_CFG_BOOL_(C, catalogue_fetch, "yes",
                 "fetch the catalogue a round names from the aggregator "
                 "when this store lacks it (checked against its id)"),
    FR_CFG_INT_(C, heartbeat_ms, "1000", 50, 600000,
                "interval between presence messages to the aggregator"),
    FR_CFG_INT_(C, reconnect_max_ms, "30000", 1000, 3600000,
                "longest wait between attempts to reach the aggregator; "
                "the wait doubles from 200 ms up to this"),
    FR_CFG_INT_(C, seed, "7", 0, INT64_MAX,
                "seed for member embeddings and evaluation negatives"),
    FR_CFG_INT_(C, max_message_bytes, "67108864", 1024, 1073741824,
                "largest message accepted or sent"),
    FR_CFG_INT_(C, blas_threads, "1", 1, 256, "OpenBLAS threads"),
    FR_CFG_DOUBLE_(C, dp_epsilon_budget, "0", 0.0, 1000.0,
                   "this store's privacy budget for its members (epsilon); "
                   "0 takes the aggregator's at the first DP round, fixed "
                   "from then on in the store's privacy ledger"),
    FR_CFG_DOUBLE_(C, dp_delta, "0", 0.0, 0.1,
                   "delta of the store's guarantee; 0 takes the "
                   "aggregator's at the first DP round"),
    CANON_CONFIG_KEYS(C),
    FR_CFG_STRING_(C, profile, "fedrec",
                   "import profile: the columns and formats of the store's "
                   "exports (fedrec: member_id,item_id,timestamp[,quantity])"),
    FR_CFG_BOOL_(C, dp_report_metrics, "no",
                 "in DP rounds, also send the local quality figures "
                 "(HR@10, loss): a release the privacy ledger does not "
                 "account for; for benchmarks on public data only"),
    FR_CFG_BOOL_(C, dp_regional, "no",
                 "take part in DP rounds relayed by a regional aggregator, "
                 "which sees its region's noised sum (with its region's "
                 "share of the noise only) before the central aggregator "
                 "adds the regions' sums"),
};
const fr_config_table client_config_table = {keys, FR_ARRAY_LEN(keys)};

static void
usage(FILE *out)
{
    fprintf(out,
            "usage: fedrec-client COMMAND --store DIR [--KEY=VALUE ...]\n"
            "store commands:\n"
            "  init --name NAME             create the store in DIR (keys, "
            "data key,\n"
            "                               empty sealed state); prints the "
            "allow-list line.\n"
            "                               With FEDREC_PASSPHRASE set, the "
            "data key comes\n"
            "                               from that passphrase (Argon2id)\n"
            "  import [--profile NAME_OR_FILE] [--dry-run] FILE.csv\n"
            "                               add purchases (profile fedrec: "
            "member_id,\n"
            "                               item_id, timestamp[, quantity]); "
            "every other\n"
            "                               column is discarded; profile "
            "online-retail:\n"
            "                               InvoiceNo, StockCode, Quantity, "
            "InvoiceDate,\n"
            "                               CustomerID (returns net, guests "
            "and fees counted\n"
            "                               and dropped). --dry-run reports "
            "what the import\n"
            "                               would do and writes nothing\n"
            "  import --print-profile NAME  a profile as a file to edit "
            "(--profile FILE)\n"
            "  consent grant|withdraw --member ID --purpose training|marketing\n"
            "  consent import FILE.csv      CSV records member_id,"
            "training|marketing,\n"
            "                               grant|withdraw[,unix time]; all "
            "or nothing\n"
            "  member export --member ID    all that is held about a member, "
            "as JSON\n"
            "  member forget --member ID    erase a member and keep them out\n"
            "  audit verify                 check the signed audit trail\n"
            "  notice [--lang en|zh-TW]     the data notice for members "
            "(Markdown)\n"
            "  pseudonym --member ID        the member's pseudonym in this "
            "store\n"
            "federation and marketing:\n"
            "  run [--rounds N] [--until-done]\n"
            "                               take part in federated rounds "
            "(until stopped;\n"
            "                               or N completed rounds; or the "
            "end of training)\n"
            "  recommend --member ID [--top K]\n"
            "                               top-K items for a member "
            "(default K 10)\n"
            "  segment --item ID|--sku SKU [--top N]\n"
            "                               the N members most likely to "
            "want an item\n"
            "                               (default N 100; --sku through the "
            "catalogue)\n"
            "  score --input FILE           model scores for lines of the NCF "
            "negative\n"
            "                               format ('-' reads stdin)\n"
            "configuration keys:\n");
    fr_config_print_help(&client_config_table, out);
}

/* Exit status of a command line that cannot be carried out as given. */
#define EXIT_USAGE 2

/* Prints msg as the reason the command line is refused; FR_EINVAL. */
static fr_err
fail(const char *msg)
{
    fprintf(stderr, "fedrec-client: %s\n", msg);
    return FR_EINVAL;
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

/* Removes every "--name" from argv; returns whether there was one. */
static int
take_flag(int *argc, char **argv, const char *name)
{
    int found = 0;

    for (int i = 1; i < *argc; i++)
        if (!strcmp(argv[i], name)) {
            memmove(&argv[i], &argv[i + 1],
                    (size_t)(*argc - i) * sizeof *argv);
            (*argc)--;
            i--;
            found = 1;
        }
    return found;
}

/* The files a serving or run command needs are named (the key files only
 * for run). FR_EINVAL after saying what is missing. */
static fr_err
check_files(const client_config *cfg, int need_keys)
{
    if (*cfg->store)
        return need_keys && !*cfg->server_key
                   ? fail("server_key must be set (store.conf or "
                          "--server_key)")
                   : FR_OK;
    if (!*cfg->data || !*cfg->state_dir)
        return fail("--store DIR must be set (or, for public benchmark "
                    "data only, data and state_dir)");
    if (need_keys && (!*cfg->key_file || !*cfg->server_key))
        return fail("key_file and server_key must be set");
    return FR_OK;
}

/* Inserts "--config DIR/store.conf" when --store is given without
 * --config (not for init: the file does not exist yet). */
static char **
with_store_conf(int *argc, char **argv, int is_init, char *conf, size_t n)
{
    const char *store = NULL;
    char **out;

    for (int i = 1; i < *argc; i++) {
        if (!strncmp(argv[i], "--config", 8))
            return argv;
        if (!strncmp(argv[i], "--store=", 8))
            store = argv[i] + 8;
        else if (!strcmp(argv[i], "--store") && i + 1 < *argc)
            store = argv[i + 1];
    }
    if (!store || is_init)
        return argv;
    snprintf(conf, n, "%s/store.conf", store);
    out = calloc((size_t)*argc + 3, sizeof *out);
    if (!out)
        return argv;
    out[0] = argv[0];
    out[1] = "--config";
    out[2] = conf;
    for (int i = 1; i < *argc; i++)
        out[i + 2] = argv[i];
    *argc += 2;
    return out;
}

/* What the command line asks for, besides the configuration. */
typedef struct cli {
    const char *cmd, *sub;
    const char *member, *top, *item, *sku, *input; /* serving commands */
    int64_t k, item_id;
    admin_args aa;             /* store commands */
    client_run_opts run;       /* run */
    fr_log_level level;
    fr_log_format format;
} cli;

static bool
is_cmd(const cli *a, const char *name)
{
    return !strcmp(a->cmd, name);
}

/* Takes the subcommand (consent grant, member export, audit verify) out of
 * argv. */
static void
take_subcommand(cli *a, int *argc, char **argv)
{
    if ((is_cmd(a, "consent") || is_cmd(a, "member") || is_cmd(a, "audit")) &&
        *argc > 1 && argv[1][0] != '-') {
        a->sub = argv[1];
        memmove(&argv[1], &argv[2], (size_t)(*argc - 1) * sizeof *argv);
        (*argc)--;
    }
}

/* Takes the command's own options out of argv (the rest is
 * configuration). FR_EINVAL after saying what is wrong. */
static fr_err
take_command_options(cli *a, int *argc, char **argv)
{
    char err[FR_CONFIG_ERR_MAX];
    int bad = 0;

    if (is_cmd(a, "recommend")) {
        a->member = take_option(argc, argv, "--member", &bad);
        a->top = take_option(argc, argv, "--top", &bad);
        if (bad || !a->member || !*a->member)
            return fail("recommend needs --member ID");
    } else if (is_cmd(a, "segment")) {
        a->item = take_option(argc, argv, "--item", &bad);
        a->sku = take_option(argc, argv, "--sku", &bad);
        a->top = take_option(argc, argv, "--top", &bad);
        a->k = 100;
        if (bad || !!a->item == !!a->sku || (a->sku && !*a->sku) ||
            (a->item && fr_parse_i64(a->item, 0, INT32_MAX, &a->item_id)))
            return fail("segment needs --item ID (a non-negative integer) or "
                        "--sku SKU (with a catalogue)");
    } else if (is_cmd(a, "score")) {
        a->input = take_option(argc, argv, "--input", &bad);
        if (bad || !a->input || !*a->input)
            return fail("score needs --input FILE");
    } else if (is_cmd(a, "init")) {
        a->aa.name = take_option(argc, argv, "--name", &bad);
        if (bad || !a->aa.name || !*a->aa.name)
            return fail("init needs --name NAME (the store's allow-list "
                        "name)");
    } else if (is_cmd(a, "consent") || is_cmd(a, "member") ||
               is_cmd(a, "pseudonym")) {
        a->aa.member = take_option(argc, argv, "--member", &bad);
        a->aa.purpose = take_option(argc, argv, "--purpose", &bad);
        if (bad)
            return fail("--member and --purpose need a value");
    } else if (is_cmd(a, "notice")) {
        a->aa.lang = take_option(argc, argv, "--lang", &bad);
        if (bad)
            return fail("--lang needs a value (en or zh-TW)");
    } else if (is_cmd(a, "run")) {
        const char *n = take_option(argc, argv, "--rounds", &bad);
        a->run.until_done = take_flag(argc, argv, "--until-done");
        if (bad || (n && fr_parse_i64(n, 1, INT32_MAX, &a->run.rounds)))
            return fail("--rounds needs a positive integer");
    } else if (is_cmd(a, "import")) {
        a->aa.dry_run = take_flag(argc, argv, "--dry-run");
        a->aa.print_profile = take_option(argc, argv, "--print-profile", &bad);
        if (bad)
            return fail("--print-profile needs a profile name or file");
    } else if (!is_cmd(a, "audit")) {
        snprintf(err, sizeof err, "unknown command '%s' (try --help)", a->cmd);
        return fail(err);
    }
    if (a->top && fr_parse_i64(a->top, 1, 100000, &a->k))
        return fail("--top must be an integer in [1, 100000]");
    return FR_OK;
}

/* Parses the configuration (store.conf unless --config, then --KEY=VALUE)
 * and the one positional argument. With --help in *flags nothing else is
 * checked. FR_EINVAL after saying what is wrong. */
static fr_err
read_config(cli *a, int argc, char **argv, client_config *cfg, int *flags)
{
    char err[FR_CONFIG_ERR_MAX], conf[CLIENT_PATH_MAX + 16];
    int pos[2], npos = 0, shift;
    char **args;
    fr_err rc;

    args = with_store_conf(&argc, argv, is_cmd(a, "init"), conf, sizeof conf);
    shift = args != argv ? 2 : 0;
    rc = fr_config_parse_cli(&client_config_table, cfg, argc, args, pos, 2,
                             &npos, flags, err, sizeof err);
    if (shift)
        free(args);
    if (rc)
        return fail(err);
    if (*flags & FR_CONFIG_FLAG_HELP)
        return FR_OK;
    if (fr_log_level_parse(cfg->log_level, &a->level))
        return fail("log_level: expected err, warn, notice, info or debug");
    if (fr_log_format_parse(cfg->log_format, &a->format))
        return fail("log_format: expected human or json");
    {
        vault_member_policy mp;
        const char *why = "";
        if (client_member_policy(cfg, &mp, &why))
            return fail(why);
    }
    if (npos) {
        if (!is_cmd(a, "import") && !(a->sub && is_cmd(a, "consent")))
            return fail("unexpected argument (try --help)");
        /* positional indices refer to the argv the parser saw */
        a->aa.file = argv[pos[0] - shift];
    }
    return FR_OK;
}

/* Runs the command; returns its exit status. */
static int
run_command(const cli *a, const client_config *cfg, int flags)
{
    if (is_cmd(a, "init") || is_cmd(a, "import") || is_cmd(a, "consent") ||
        is_cmd(a, "member") || is_cmd(a, "audit") || is_cmd(a, "notice") ||
        is_cmd(a, "pseudonym")) {
        if (is_cmd(a, "import") && a->aa.print_profile)
            return client_print_profile(a->aa.print_profile);
        if (!*cfg->store) {
            (void)fail("this command needs --store DIR");
            return EXIT_USAGE;
        }
        if (flags & (FR_CONFIG_FLAG_CHECK | FR_CONFIG_FLAG_DUMP)) {
            if (flags & FR_CONFIG_FLAG_DUMP)
                fr_config_dump(&client_config_table, cfg, stdout);
            return 0;
        }
        return client_admin(cfg, a->cmd, a->sub, &a->aa);
    }
    if (check_files(cfg, is_cmd(a, "run")))
        return EXIT_USAGE;
    if (flags & FR_CONFIG_FLAG_DUMP)
        fr_config_dump(&client_config_table, cfg, stdout);
    if (flags & (FR_CONFIG_FLAG_CHECK | FR_CONFIG_FLAG_DUMP))
        return 0;
    fr_model_set_threads((int)cfg->blas_threads);
    if (a->member)
        return client_recommend(cfg, a->member, (uint32_t)a->k);
    if (a->item || a->sku)
        return client_segment(cfg, a->sku, (uint32_t)a->item_id,
                              (uint32_t)a->k);
    if (a->input)
        return client_score(cfg, a->input);
    return client_run(cfg, &a->run);
}

int
main(int argc, char **argv)
{
    client_config cfg;
    cli a = {.k = 10};
    int flags = 0;

    fr_log_set_ident("fedrec-client");
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    a.cmd = argv[1];
    argv[1] = argv[0];
    argc--;
    argv++;
    take_subcommand(&a, &argc, argv);
    if (take_command_options(&a, &argc, argv) ||
        read_config(&a, argc, argv, &cfg, &flags))
        return EXIT_USAGE;
    if (flags & FR_CONFIG_FLAG_HELP) {
        usage(stdout);
        return 0;
    }
    fr_log_set_level(a.level);
    fr_log_set_format(a.format);
    fr_progress_set_format(a.format);
    if (fr_crypto_init()) {
        (void)fail("libsodium failed to start");
        return EXIT_USAGE;
    }
    return run_command(&a, &cfg, flags);
}
