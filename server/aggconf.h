/*
 * aggconf.h - the aggregator's configuration: the agg_config record, its
 * key table and the checks across keys. Shared by the daemon (agg.h
 * includes it) and by fedrec-ctl, which reads the same file to find the
 * admin socket and needs nothing of the round engine.
 */
#ifndef FR_SERVER_AGGCONF_H
#define FR_SERVER_AGGCONF_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "config/config.h"

#define AGG_PATH_MAX 256

typedef struct agg_config {
    char mode[16];              /* "central" or "regional" */
    char listen[AGG_PATH_MAX];
    char key_file[AGG_PATH_MAX];
    char allowlist[AGG_PATH_MAX];
    char state_dir[AGG_PATH_MAX];
    char log_level[16];
    char log_format[16];
    char http_listen[AGG_PATH_MAX];
    char admin_socket[AGG_PATH_MAX];
    char admin_group[64];          /* may use fedrec-ctl; empty: socket's */
    char admin_operator_group[64]; /* may change; empty: admin_group */
    char catalogue[AGG_PATH_MAX]; /* item catalogue file; empty: legacy ids */
    int64_t n_items;
    int64_t dim;
    int64_t min_stores;
    double fraction;
    int64_t rounds;
    int64_t linger_ms;          /* after the last round: answer, then exit */
    int64_t round_timeout_ms;
    int64_t start_delay_ms;
    int64_t heartbeat_timeout_ms;
    int64_t retry_delay_ms;
    int64_t stop_grace_ms;
    int64_t max_stores;
    int64_t local_epochs;
    double learning_rate;
    double lr_decay;
    int64_t negatives;
    double l2;
    int64_t batch_size;
    int64_t loss;
    double server_lr;
    double init_scale;
    int64_t seed;
    int64_t max_message_bytes;
    int64_t blas_threads;
    int secagg;                 /* secure aggregation (SecAgg+) on */
    int64_t secagg_k;           /* neighbours; 0 = chosen for n */
    int64_t secagg_t;           /* threshold; 0 = k/2 + 1 */
    double secagg_max_dropout;  /* tolerated dropout fraction */
    double secagg_clip;         /* L2 bound on one store's update */
    int64_t secagg_weight_cap;  /* weights (examples) capped to this */
    int64_t secagg_phase_timeout_ms;
    double dp_epsilon_budget;   /* 0: DP off */
    double dp_delta;
    double dp_clip;             /* C: one member's contribution */
    double dp_noise_multiplier; /* z: central std-dev z * C */
    int64_t dp_members;         /* public estimate of all members */
    double dp_sampling_rate;    /* q */
    int64_t dp_max_dropouts;    /* stores that may drop, noise still enough */
    int64_t dp_colluders;       /* stores that may share their noise */
    double dp_p_wrap;           /* chance a coordinate wraps mod 2^32 */
    /* hostile stores: refusals of one authenticated store within
     * quarantine_window_ms before it is quarantined for quarantine_ms */
    int64_t quarantine_after;   /* 0: never quarantine */
    int64_t quarantine_window_ms;
    int64_t quarantine_ms;
    /* regions (docs/SECAGG.md, "Regions"): a central aggregator's DP
     * design allows for this many whole regions dropping out */
    int64_t dp_max_region_dropouts;
    /* mode regional: the link to the central aggregator (upstream.c) */
    char upstream[AGG_PATH_MAX];
    char upstream_server_key[AGG_PATH_MAX];
    char upstream_key_file[AGG_PATH_MAX];
    char upstream_sign_key_file[AGG_PATH_MAX]; /* empty: from key_file */
    int64_t upstream_heartbeat_ms;
    int64_t upstream_reconnect_max_ms;
    int64_t upstream_margin_ms; /* 0: 2 phase timeouts + 1 s */
    /* the model kind (docs/MODEL.md): "mf" or "ials" (least squares) */
    char model[16];
    double ials_alpha0;    /* weight of every (member, item) pair */
    double ials_lambda;    /* L2 penalty, frequency-scaled by ials_nu */
    double ials_nu;
    int64_t ials_cg_steps; /* CG iterations (rounds) per item step */
    double ials_clip;      /* secure rounds: L2 bound on a store's sums */
    double ials_clip_step; /* ... on its phase-2 products */
} agg_config;

/* True with model ials. */
int agg_ials_kind(const agg_config *cfg);

/* True in mode regional. */
int agg_regional(const agg_config *cfg);

extern const fr_config_table agg_config_table;

/* Cross-key checks the table cannot express; message in errbuf. */
FR_NODISCARD fr_err agg_config_validate(const agg_config *cfg, char *errbuf,
                                        size_t errlen);

/* Configuration-time check of the secure-aggregation keys (secure.c):
 * the neighbour graph and threshold for the smallest round (min_stores)
 * must be safe and tolerate secagg_max_dropout. */
FR_NODISCARD fr_err secure_config_check(const agg_config *c, char *errbuf,
                                        size_t errlen);

/* Check of the catalogue key (config.c), which reads the file, so it is
 * not part of agg_config_validate: the daemon runs it after that (also for
 * --check-config). The file parses, n_items equals its item count and its
 * bytes fit one message. */
FR_NODISCARD fr_err agg_catalogue_check(const agg_config *c, char *errbuf,
                                        size_t errlen);

/* Check of the upstream key files of mode regional (config.c), which
 * reads them, so it is not part of agg_config_validate: each loads (the
 * secret ones 0600, as the store's), and the identity key has a public
 * half. FR_OK in mode central. Needs fr_crypto_init. */
FR_NODISCARD fr_err agg_upstream_check(const agg_config *c, char *errbuf,
                                       size_t errlen);

/* The region's identity key file: upstream_sign_key_file, or
 * upstream_key_file with ".key" replaced by ".sign.key" (NAME.sign.key
 * appended when it does not end in ".key"), as the store derives
 * sign_key_file. FR_ELIMIT if it does not fit cap. */
FR_NODISCARD fr_err agg_upstream_sign_path(const agg_config *c, char *out,
                                           size_t cap);

/* The admin socket's path: admin_socket, or STATE_DIR/admin.sock when that
 * is empty. FR_ELIMIT if it does not fit cap or a Unix socket address. */
FR_NODISCARD fr_err agg_admin_socket_path(const agg_config *cfg, char *out,
                                          size_t cap);

#endif
