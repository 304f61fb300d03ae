/*
 * config.c - the aggregator's configuration keys: defaults, bounds and the
 * text --help and the example config (deploy/aggregator.conf) explain.
 */
#include <stdio.h>
#include <string.h>

#include "agg.h"
#include "base/util.h"
#include "catalogue/catalogue.h"
#include "config/config.h"
#include "crypto/crypto.h"

typedef agg_config C;
static const fr_config_key keys[] = {
    FR_CFG_STRING_(C, mode, "central",
                   "central: run the rounds; regional: admit this region's "
                   "stores and take part in a central aggregator's rounds "
                   "as one participant, relaying its region's secure sum "
                   "(docs/SECAGG.md, Regions)"),
    FR_CFG_STRING_(C, listen, "tcp://127.0.0.1:7600",
                   "ZeroMQ endpoint the aggregator binds (ROUTER, CURVE)"),
    FR_CFG_STRING_(C, key_file, "",
                   "aggregator secret key file (0600, from fedrec-keygen)"),
    FR_CFG_STRING_(C, allowlist, "",
                   "store allow-list: lines 'STORE_NAME HEX_CURVE_KEY "
                   "HEX_IDENTITY_KEY' (as printed by fedrec-keygen)"),
    FR_CFG_STRING_(C, state_dir, "",
                   "directory for checkpoint.bin and history.tsv"),
    FR_CFG_STRING_(C, log_level, "info", "err, warn, notice, info or debug"),
    FR_CFG_STRING_(C, log_format, "json",
                   "stderr log lines: json (one object per line: ts, level, "
                   "src, event, msg and fields) or human"),
    FR_CFG_STRING_(C, http_listen, "127.0.0.1:7601",
                   "ADDRESS:PORT of the HTTP endpoint (/metrics, /healthz, "
                   "status page at /); empty: no HTTP endpoint"),
    FR_CFG_STRING_(C, admin_socket, "",
                   "Unix socket for fedrec-ctl (mode 0660: owner and group); "
                   "empty: STATE_DIR/admin.sock"),
    FR_CFG_STRING_(C, admin_group, "",
                   "group (name or gid) whose members may use fedrec-ctl: "
                   "the socket's group; read-only commands (status, "
                   "stores), and the changing ones unless "
                   "admin_operator_group is set; empty: the group the "
                   "socket is created with (the daemon's)"),
    FR_CFG_STRING_(C, admin_operator_group, "",
                   "group (name or gid) whose members may also run the "
                   "changing commands (pause, resume, checkpoint, revoke); "
                   "they must be in admin_group too to reach the socket; "
                   "empty: every admin_group member may"),
    FR_CFG_INT_(C, n_items, "500", 1, 1048576,
                "items the model trains: with a catalogue, its first "
                "n_items (at most its count)"),
    FR_CFG_STRING_(C, catalogue, "",
                   "item catalogue file (fedrec-catalogue 1, SKUs in rank "
                   "order): every round start names its id, "
                   "stores without it fetch it; read at start only; empty: "
                   "legacy integer item ids"),
    FR_CFG_INT_(C, dim, "32", 1, 1024, "embedding dimension"),
    FR_CFG_INT_(C, min_stores, "4", 1, 100000,
                "fewest answering stores for a round to count (secure "
                "aggregation needs 4 to tolerate one dropout)"),
    FR_CFG_DOUBLE_(C, fraction, "1.0", 0.0, 1.0,
                   "share of ready stores selected each round"),
    FR_CFG_INT_(C, rounds, "0", 0, 100000000,
                "stop after this many completed rounds (0: run forever)"),
    FR_CFG_INT_(C, linger_ms, "10000", 0, 3600000,
                "after the last of 'rounds', keep answering stores that "
                "training is done for this long (at least 1 s), then exit"),
    FR_CFG_INT_(C, round_timeout_ms, "60000", 100, 86400000,
                "deadline for updates after a round starts"),
    FR_CFG_INT_(C, start_delay_ms, "2000", 0, 3600000,
                "wait this long with min_stores ready before the first round"),
    FR_CFG_INT_(C, heartbeat_timeout_ms, "5000", 100, 3600000,
                "a store silent for this long counts as gone"),
    FR_CFG_INT_(C, stop_grace_ms, "30000", 0, 3600000,
                "on SIGTERM, how long a round in progress may take to "
                "finish before it is abandoned (a second SIGTERM abandons "
                "it at once); keep it below systemd's TimeoutStopSec"),
    FR_CFG_INT_(C, retry_delay_ms, "1000", 0, 3600000,
                "pause before retrying an abandoned round"),
    FR_CFG_INT_(C, max_stores, "1024", 1, 100000,
                "most stores tracked at once"),
    FR_CFG_INT_(C, local_epochs, "2", 1, 1000, "local epochs per round"),
    FR_CFG_DOUBLE_(C, learning_rate, "1.5", 1e-9, 100.0,
                   "store SGD step size"),
    FR_CFG_DOUBLE_(C, lr_decay, "1.0", 0.5, 1.0,
                   "factor on learning_rate per completed round"),
    FR_CFG_INT_(C, negatives, "4", 1, 1000,
                "sampled negatives per positive"),
    FR_CFG_DOUBLE_(C, l2, "0.03", 0.0, 10.0, "L2 penalty on embeddings"),
    FR_CFG_INT_(C, batch_size, "128", 1, 1000000, "members per batch"),
    FR_CFG_INT_(C, loss, "0", 0, 3,
                "training loss: 0 logistic, 1 full softmax, 2 sampled "
                "softmax, 3 BPR"),
    FR_CFG_DOUBLE_(C, server_lr, "1.0", 1e-6, 100.0,
                   "step applied to the averaged update"),
    FR_CFG_DOUBLE_(C, init_scale, "0.1", 0.0, 10.0,
                   "std-dev of the initial item embeddings"),
    FR_CFG_INT_(C, seed, "1", 0, INT64_MAX,
                "seed for model init, store selection and store training"),
    FR_CFG_INT_(C, max_message_bytes, "67108864", 1024, 1073741824,
                "largest message accepted or sent"),
    FR_CFG_INT_(C, blas_threads, "1", 1, 256, "OpenBLAS threads"),
    FR_CFG_BOOL_(C, secagg, "yes",
                 "secure aggregation (SecAgg+): learn only the sum of the "
                 "stores' updates"),
    FR_CFG_INT_(C, secagg_k, "0", 0, 65534,
                "SecAgg+ neighbours per store; 0 = 3*log2(n) rounded up to "
                "even, n-1 (full graph) for small rounds"),
    FR_CFG_INT_(C, secagg_t, "0", 0, 65534,
                "shares needed to rebuild a store's secret; 0 = k/2 + 1"),
    FR_CFG_DOUBLE_(C, secagg_max_dropout, "0.1", 0.0, 0.9,
                   "fraction of a store's neighbours that may drop out "
                   "while its masks can still be removed"),
    FR_CFG_DOUBLE_(C, secagg_clip, "1000", 1e-6, 1e9,
                   "L2 bound on one store's update before fixed-point "
                   "encoding (longer updates are scaled down)"),
    FR_CFG_INT_(C, secagg_weight_cap, "100000", 1, 4294967295LL,
                "a store's weight (training examples) is capped to this"),
    FR_CFG_INT_(C, secagg_phase_timeout_ms, "10000", 100, 3600000,
                "time each key-exchange or unmasking phase waits for "
                "answers"),
    FR_CFG_DOUBLE_(C, dp_epsilon_budget, "0", 0.0, 1000.0,
                   "member-level differential privacy: total epsilon the "
                   "privacy ledger allows; 0 turns DP off (then there is no "
                   "DP guarantee for what the model reveals)"),
    FR_CFG_DOUBLE_(C, dp_delta, "1e-6", 1e-15, 0.1,
                   "delta of the (epsilon, delta) guarantee; at most "
                   "1/(10 * members)"),
    FR_CFG_DOUBLE_(C, dp_clip, "0.1", 1e-9, 1e6,
                   "L2 bound on one member's contribution to a store's "
                   "update (the sensitivity)"),
    FR_CFG_DOUBLE_(C, dp_noise_multiplier, "1.0", 0.01, 1e4,
                   "central noise std-dev in units of dp_clip"),
    FR_CFG_INT_(C, dp_members, "0", 0, 100000000000LL,
                "public estimate of the members of all stores: the "
                "denominator of the mean update and the signal bound "
                "(required with DP)"),
    FR_CFG_DOUBLE_(C, dp_sampling_rate, "1.0", 1e-6, 1.0,
                   "probability that a member takes part in a round"),
    FR_CFG_INT_(C, dp_max_dropouts, "1", 0, 65534,
                "stores that may drop out of a round while its noise is "
                "still the promised amount"),
    FR_CFG_INT_(C, dp_colluders, "0", 0, 65534,
                "stores that may share their noise with the aggregator"),
    FR_CFG_DOUBLE_(C, dp_p_wrap, "2e-9", 1e-300, 0.01,
                   "chance that a coordinate of the noised sum wraps "
                   "modulo 2^32 (sets the scale)"),
    FR_CFG_INT_(C, quarantine_after, "50", 0, 1000000,
                "refused messages from one store within "
                "quarantine_window_ms that put it in quarantine; 0: never"),
    FR_CFG_INT_(C, quarantine_window_ms, "10000", 100, 86400000,
                "window over which a store's refused messages are counted"),
    FR_CFG_INT_(C, quarantine_ms, "300000", 100, 604800000,
                "how long a quarantined store's messages are dropped "
                "unread"),
    FR_CFG_INT_(C, dp_max_region_dropouts, "1", 0, 65534,
                "regions that may drop out of a round while its noise is "
                "still the promised amount: the DP design allows for this "
                "many times the largest region's stores on top of "
                "dp_max_dropouts"),
    FR_CFG_STRING_(C, upstream, "",
                   "mode regional: the central aggregator's listen endpoint "
                   "(tcp://HOST:PORT)"),
    FR_CFG_STRING_(C, upstream_server_key, "",
                   "mode regional: the central aggregator's CURVE public "
                   "key file (.pub), pinned"),
    FR_CFG_STRING_(C, upstream_key_file, "",
                   "mode regional: this region's CURVE secret key for the "
                   "upstream link (0600, from fedrec-keygen); its public "
                   "half is on the central's allow-list under the region's "
                   "name, as a store's is"),
    FR_CFG_STRING_(C, upstream_sign_key_file, "",
                   "mode regional: the region's Ed25519 identity key "
                   "(0600); empty: upstream_key_file with .key replaced by "
                   ".sign.key"),
    FR_CFG_INT_(C, upstream_heartbeat_ms, "1000", 50, 600000,
                "mode regional: HELLO interval to the central aggregator"),
    FR_CFG_INT_(C, upstream_reconnect_max_ms, "30000", 1000, 3600000,
                "mode regional: longest wait between attempts to reach the "
                "central aggregator (the wait doubles from 1 s up to this)"),
    FR_CFG_INT_(C, upstream_margin_ms, "0", 0, 86400000,
                "mode regional: the region's own round ends this long "
                "before the central's deadline, so that its sum is "
                "unmasked and sent in time; 0: 2 x secagg_phase_timeout_ms "
                "+ 1 s"),
    FR_CFG_STRING_(C, model, "mf",
                   "model kind: mf (matrix factorisation trained by SGD on "
                   "the stores) or ials (least squares: the stores solve "
                   "their members exactly, the aggregator the items from "
                   "summed statistics; docs/MODEL.md)"),
    FR_CFG_DOUBLE_(C, ials_alpha0, "0.1", 0.0, 1e6,
                   "model ials: weight of every (member, item) pair, "
                   "bought or not"),
    FR_CFG_DOUBLE_(C, ials_lambda, "0.01", 1e-12, 1e6,
                   "model ials: L2 penalty, scaled by (count + ials_alpha0 "
                   "* all)^ials_nu"),
    FR_CFG_DOUBLE_(C, ials_nu, "1.0", 0.0, 2.0,
                   "model ials: frequency exponent of the penalty"),
    FR_CFG_INT_(C, ials_cg_steps, "3", 1, 1000,
                "model ials: conjugate-gradient iterations per item step; "
                "an epoch is 1 + this many rounds"),
    FR_CFG_DOUBLE_(C, ials_clip, "1e5", 1e-6, 1e12,
                   "model ials, secure rounds: L2 bound on one store's "
                   "phase-1 sums; a store whose sums are longer sends "
                   "nothing (a scaled sum would be wrong) and logs their "
                   "length. The fixed-point error per coordinate of the "
                   "sum grows as stores^2 * clip / 2^31: keep it just above "
                   "the largest store's"),
    FR_CFG_DOUBLE_(C, ials_clip_step, "1e4", 1e-6, 1e12,
                   "model ials, secure rounds: the same bound for the "
                   "phase-2 products (typically a tenth of the sums')"),
};
const fr_config_table agg_config_table = {keys, FR_ARRAY_LEN(keys)};

int
agg_ials_kind(const agg_config *c)
{
    return strcmp(c->model, "ials") == 0;
}

int
agg_regional(const agg_config *c)
{
    return strcmp(c->mode, "regional") == 0;
}

/* What a regional aggregator takes from the central's round start (the
 * model, the training, the round's deadline, secure aggregation's clip
 * and weight cap, DP) or does not do at all (its own catalogue, a round
 * target, starting rounds on a timer). Setting one is refused, so nobody
 * believes it takes effect. */
static const char *const upstream_decides[] = {
    "catalogue", "rounds", "n_items", "dim", "round_timeout_ms",
    "start_delay_ms", "retry_delay_ms", "local_epochs", "learning_rate",
    "lr_decay", "negatives", "l2", "batch_size", "loss", "server_lr",
    "init_scale", "secagg", "secagg_clip", "secagg_weight_cap",
    "dp_epsilon_budget", "dp_delta", "dp_clip", "dp_noise_multiplier",
    "dp_members", "dp_sampling_rate", "dp_max_dropouts", "dp_colluders",
    "dp_p_wrap", "dp_max_region_dropouts", "model", "ials_alpha0",
    "ials_lambda", "ials_nu", "ials_cg_steps", "ials_clip",
    "ials_clip_step",
};

/* The name of the first key of upstream_decides whose value in c is not
 * its default; NULL if there is none. */
static const char *
first_upstream_key_set(const agg_config *c)
{
    agg_config d;
    char err[FR_CONFIG_ERR_MAX];

    if (fr_config_defaults(&agg_config_table, &d, err, sizeof err))
        return "(defaults)";
    for (size_t i = 0; i < FR_ARRAY_LEN(upstream_decides); i++) {
        const fr_config_key *k =
            fr_config_find(&agg_config_table, upstream_decides[i]);
        const char *a = (const char *)c + k->offset;
        const char *b = (const char *)&d + k->offset;
        if (k->type == FR_CFG_STRING ? strcmp(a, b) != 0
                                     : memcmp(a, b, k->size) != 0)
            return k->name;
    }
    return NULL;
}

static fr_err
check_mode(const agg_config *c, char *errbuf, size_t errlen)
{
    const char *key;

    if (!agg_regional(c)) {
        if (strcmp(c->mode, "central") != 0) {
            snprintf(errbuf, errlen, "mode: expected central or regional, "
                     "not '%s'", c->mode);
            return FR_EINVAL;
        }
        if (*c->upstream || *c->upstream_server_key ||
            *c->upstream_key_file || *c->upstream_sign_key_file) {
            snprintf(errbuf, errlen, "upstream, upstream_server_key, "
                     "upstream_key_file and upstream_sign_key_file are for "
                     "mode regional; this aggregator is mode central");
            return FR_EINVAL;
        }
        return FR_OK;
    }
    if (!*c->upstream || !*c->upstream_server_key || !*c->upstream_key_file) {
        snprintf(errbuf, errlen, "mode regional needs upstream (the central "
                 "aggregator's endpoint), upstream_server_key (its public "
                 "key) and upstream_key_file (this region's key for the "
                 "link)");
        return FR_EINVAL;
    }
    if (strncmp(c->upstream, "tcp://", 6) != 0 &&
        strncmp(c->upstream, "ipc://", 6) != 0) {
        snprintf(errbuf, errlen, "upstream: expected tcp://HOST:PORT (or "
                 "ipc://PATH), not '%s'", c->upstream);
        return FR_EINVAL;
    }
    if ((key = first_upstream_key_set(c)) != NULL) {
        snprintf(errbuf, errlen, "%s is decided by the central aggregator in "
                 "mode regional (the round start brings the model, training, "
                 "deadline, catalogue and DP settings); remove it from this "
                 "configuration", key);
        return FR_EINVAL;
    }
    return FR_OK;
}

fr_err
agg_config_validate(const agg_config *c, char *errbuf, size_t errlen)
{
    fr_err rc = check_mode(c, errbuf, errlen);

    if (rc)
        return rc;
    if (!*c->key_file || !*c->allowlist || !*c->state_dir) {
        snprintf(errbuf, errlen, "key_file, allowlist and state_dir must be "
                 "set (config file or --key=value)");
        return FR_EINVAL;
    }
    if (c->min_stores > c->max_stores) {
        snprintf(errbuf, errlen, "min_stores (%lld) exceeds max_stores (%lld)",
                 (long long)c->min_stores, (long long)c->max_stores);
        return FR_EINVAL;
    }
    if (strcmp(c->log_format, "json") != 0 &&
        strcmp(c->log_format, "human") != 0) {
        snprintf(errbuf, errlen, "log_format: expected json or human, not "
                 "'%s'", c->log_format);
        return FR_EINVAL;
    }
    if (c->fraction <= 0) {
        snprintf(errbuf, errlen, "fraction must be above 0");
        return FR_EINVAL;
    }
    if (c->dp_epsilon_budget > 0 && !c->secagg) {
        snprintf(errbuf, errlen, "dp_epsilon_budget needs secagg yes: the "
                 "noise is split among the stores and only their sum may "
                 "be seen");
        return FR_EINVAL;
    }
    if (strcmp(c->model, "mf") != 0 && !agg_ials_kind(c)) {
        snprintf(errbuf, errlen, "model: expected mf or ials, not '%s'",
                 c->model);
        return FR_EINVAL;
    }
    if (agg_ials_kind(c) && c->dp_epsilon_budget > 0 &&
        c->dp_sampling_rate < 1.0) {
        snprintf(errbuf, errlen, "model ials under DP sums every member: "
                 "set dp_sampling_rate 1");
        return FR_EINVAL;
    }
    /* A region takes model from the central (check_mode refuses it
     * here) and refuses a least-squares round start (upstream.c). */
    if (agg_ials_kind(c) && c->dim < 2) {
        snprintf(errbuf, errlen, "model ials needs dim 2 or more");
        return FR_EINVAL;
    }
    if (c->dp_epsilon_budget > 0 && c->dp_members < 1) {
        snprintf(errbuf, errlen, "dp_epsilon_budget needs dp_members, a "
                 "public estimate of the members of all stores");
        return FR_EINVAL;
    }
    return c->secagg ? secure_config_check(c, errbuf, errlen) : FR_OK;
}

/* Room for the envelope around a catalogue's bytes (version, type, id,
 * count and length prefixes). */
#define CATALOGUE_ENVELOPE_BYTES 128

fr_err
agg_catalogue_check(const agg_config *c, char *errbuf, size_t errlen)
{
    fr_catalogue *cat = NULL;
    char why[FR_CONFIG_ERR_MAX];
    size_t len = 0;
    fr_err rc;

    if (!*c->catalogue)
        return FR_OK;
    if ((rc = fr_catalogue_load(c->catalogue, &cat, why, sizeof why))) {
        snprintf(errbuf, errlen, "catalogue: %s", why);
        return rc;
    }
    (void)fr_catalogue_bytes(cat, &len);
    rc = FR_EINVAL;
    if (fr_catalogue_n_items(cat) < (uint64_t)c->n_items)
        snprintf(errbuf, errlen, "catalogue %s lists %u items, fewer than "
                 "n_items %lld: the model trains the catalogue's first "
                 "n_items items; set n_items %u or less",
                 c->catalogue, fr_catalogue_n_items(cat),
                 (long long)c->n_items, fr_catalogue_n_items(cat));
    else if (len + CATALOGUE_ENVELOPE_BYTES > (uint64_t)c->max_message_bytes)
        snprintf(errbuf, errlen, "catalogue %s is %zu bytes: it does not fit "
                 "one message of max_message_bytes %lld (stores fetch it "
                 "whole); raise max_message_bytes here and in the stores",
                 c->catalogue, len, (long long)c->max_message_bytes);
    else
        rc = FR_OK;
    fr_catalogue_destroy(&cat);
    return rc;
}

fr_err
agg_upstream_sign_path(const agg_config *c, char *out, size_t cap)
{
    const char *k = c->upstream_key_file;
    size_t n = strlen(k);
    int w;

    if (*c->upstream_sign_key_file)
        w = snprintf(out, cap, "%s", c->upstream_sign_key_file);
    else if (n > 4 && !strcmp(k + n - 4, ".key"))
        w = snprintf(out, cap, "%.*s.sign.key", (int)(n - 4), k);
    else
        w = snprintf(out, cap, "%s.sign.key", k);
    return w < 0 || (size_t)w >= cap ? FR_ELIMIT : FR_OK;
}

/* "KEY PATH: what is wrong with it" for a key file that did not load. */
static fr_err
key_problem(const char *key, const char *path, fr_err rc, char *errbuf,
            size_t errlen)
{
    const char *why = rc == FR_ENOENT  ? "no such file"
                      : rc == FR_EAUTH ? "readable by group or others: a "
                                         "secret key file must be 0600"
                      : rc == FR_EINVAL ? "not a key file (make one with "
                                          "fedrec-keygen)"
                                        : fr_strerror(rc);

    snprintf(errbuf, errlen, "%s %s: %s", key, path, why);
    return rc;
}

fr_err
agg_upstream_check(const agg_config *c, char *errbuf, size_t errlen)
{
    fr_crypto_keypair *kp = NULL;
    fr_crypto_signkey *id = NULL;
    uint8_t pk[FR_CRYPTO_PK_BYTES];
    char sign[AGG_PATH_MAX + 16];
    fr_err rc;

    if (!agg_regional(c))
        return FR_OK;
    if ((rc = fr_crypto_keypair_load(c->upstream_key_file, &kp)))
        return key_problem("upstream_key_file", c->upstream_key_file, rc,
                           errbuf, errlen);
    fr_crypto_keypair_destroy(&kp);
    if ((rc = fr_crypto_public_load(c->upstream_server_key, pk)))
        return key_problem("upstream_server_key", c->upstream_server_key, rc,
                           errbuf, errlen);
    if (agg_upstream_sign_path(c, sign, sizeof sign)) {
        snprintf(errbuf, errlen, "upstream_sign_key_file: path too long");
        return FR_ELIMIT;
    }
    if ((rc = fr_crypto_signkey_load(sign, &id)))
        return key_problem(*c->upstream_sign_key_file
                               ? "upstream_sign_key_file"
                               : "upstream_sign_key_file (from "
                                 "upstream_key_file)",
                           sign, rc, errbuf, errlen);
    fr_crypto_signkey_destroy(&id);
    return FR_OK;
}

fr_err
agg_admin_socket_path(const agg_config *c, char *out, size_t cap)
{
    int n = *c->admin_socket
                ? snprintf(out, cap, "%s", c->admin_socket)
                : snprintf(out, cap, "%s/admin.sock", c->state_dir);
    /* sun_path holds 108 bytes including the NUL */
    return n < 0 || (size_t)n >= cap || n >= 108 ? FR_ELIMIT : FR_OK;
}
