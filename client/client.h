/*
 * client.h - the store client's configuration and its commands.
 */
#ifndef FR_CLIENT_CLIENT_H
#define FR_CLIENT_CLIENT_H

#include <stdint.h>

#include "config/config.h"
#include "model/mf.h"

#define CLIENT_PATH_MAX 256

typedef struct client_config {
    char connect[CLIENT_PATH_MAX];
    char store[CLIENT_PATH_MAX];   /* the protected store directory */
    int64_t retention_days;
    char key_file[CLIENT_PATH_MAX];
    char sign_key_file[CLIENT_PATH_MAX];
    char server_key[CLIENT_PATH_MAX];
    char data[CLIENT_PATH_MAX];
    char state_dir[CLIENT_PATH_MAX];
    char log_level[16];
    char log_format[16]; /* "human" or "json" */
    char test_file[CLIENT_PATH_MAX];
    int validate;
    int64_t refit_epochs;
    int64_t n_items;
    int64_t heartbeat_ms;
    int64_t reconnect_max_ms; /* cap of the reconnect backoff */
    int64_t seed;
    int64_t max_message_bytes;
    int64_t blas_threads;
    double dp_epsilon_budget; /* the store's own budget; 0: the aggregator's */
    double dp_delta;          /* 0: the aggregator's */
    int dp_report_metrics;    /* send quality figures in DP rounds */
    int dp_regional;          /* take part in DP rounds relayed by a
                                 regional aggregator */
    char catalogue[CLIENT_PATH_MAX]; /* empty: DIR/catalogue or
                                        state_dir/catalogue */
    int catalogue_fetch; /* fetch the round's catalogue when lacking it */
    /* member-id policy (vault.h vault_member_policy) */
    int member_id_trim;
    char member_id_case[8];          /* keep, upper or lower */
    int member_id_numeric;
    char member_id_leading_zeros[8]; /* keep or strip */
    char profile[CLIENT_PATH_MAX];   /* import profile: name or file */
} client_config;

extern const fr_config_table client_config_table;

/* How long `run` runs: rounds > 0 exits (0) after taking part in that many
 * completed rounds; until_done exits (0) when the aggregator announces the
 * end of training. Neither: a daemon, until SIGINT/SIGTERM. */
typedef struct client_run_opts {
    int64_t rounds;
    int until_done;
} client_run_opts;

/* `run`: takes part in rounds until SIGINT/SIGTERM or what opts (may be
 * NULL) asks for. With rounds but not until_done, an end of training
 * before that many rounds exits 1. Returns an exit code. */
int client_run(const client_config *cfg, const client_run_opts *opts);

/* `recommend`: the top k items for member_id, from the saved state.
 * Returns an exit code, as do segment and score. */
int client_recommend(const client_config *cfg, const char *member_id,
                     uint32_t k);

/* `segment`: the k members most likely to want item, from the saved
 * state. */
/* sku (non-NULL): the item through the store's catalogue; else item. */
int client_segment(const client_config *cfg, const char *sku, uint32_t item,
                   uint32_t k);

/* `score`: for each line of input (NCF negative-file format), the score of
 * the positive then of each negative, tab-separated. */
int client_score(const client_config *cfg, const char *input);

/* The store commands (admin.c): init, import, consent, member, audit,
 * notice, pseudonym. Returns an exit code. */
typedef struct admin_args {
    const char *name;    /* init */
    const char *member;  /* consent, member, pseudonym */
    const char *purpose; /* consent */
    const char *file;    /* import, consent import */
    const char *lang;    /* notice */
    int dry_run;         /* import */
    const char *print_profile; /* import --print-profile NAME_OR_FILE */
} admin_args;
/* The store's catalogue file: cfg catalogue, else DIR/catalogue (or
 * state_dir/catalogue in benchmark mode). */
struct fr_catalogue;
void client_catalogue_path(const client_config *cfg, char *out, size_t n);
/* Loads it into *out; FR_OK with *out NULL when there is none. Otherwise
 * errbuf says what is wrong with the file. */
FR_NODISCARD fr_err client_catalogue_load(const client_config *cfg,
                                          struct fr_catalogue **out,
                                          char *errbuf, size_t errlen);

/* Prints a profile (built-in name or file) as a profile file to edit;
 * an exit status. */
int client_print_profile(const char *name_or_file);
int client_admin(const client_config *cfg, const char *cmd, const char *sub,
                 const admin_args *a);

/* The member-id policy cfg names (admin.c); FR_EINVAL, with *why set, if
 * member_id_case or member_id_leading_zeros is not one of its words. */
struct canon_policy;
FR_NODISCARD fr_err client_member_policy(const client_config *cfg,
                                         struct canon_policy *out,
                                         const char **why);

/* Shared by run and the serving commands (client.c). */
typedef struct cstate cstate;
fr_mf_holdout client_holdout(const client_config *cfg);
FR_NODISCARD fr_err client_open_members(const client_config *cfg,
                                        const cstate *cs, uint32_t dim,
                                        fr_mf **out);

#endif
