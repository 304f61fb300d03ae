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
    char key_file[CLIENT_PATH_MAX];
    char sign_key_file[CLIENT_PATH_MAX];
    char server_key[CLIENT_PATH_MAX];
    char data[CLIENT_PATH_MAX];
    char state_dir[CLIENT_PATH_MAX];
    char log_level[16];
    char test_file[CLIENT_PATH_MAX];
    int validate;
    int64_t refit_epochs;
    int64_t n_items;
    int64_t heartbeat_ms;
    int64_t seed;
    int64_t max_message_bytes;
    int64_t blas_threads;
} client_config;

extern const fr_config_table client_config_table;

/* `run`: takes part in rounds until SIGINT/SIGTERM. Returns an exit code. */
int client_run(const client_config *cfg);

/* `recommend`: the top k items for member_id, from the saved state. */
int client_recommend(const client_config *cfg, const char *member_id,
                     uint32_t k);

/* `segment`: the k members most likely to want item, from the saved
 * state. */
int client_segment(const client_config *cfg, uint32_t item, uint32_t k);

/* `score`: for each line of input (NCF negative-file format), the score of
 * the positive then of each negative, tab-separated. */
int client_score(const client_config *cfg, const char *input);

/* Shared by run and the serving commands (client.c). */
typedef struct store_data store_data;
fr_mf_holdout client_holdout(const client_config *cfg);
void client_state_paths(const client_config *cfg, char *members, char *model,
                        size_t n);
FR_NODISCARD fr_err client_load_data(const client_config *cfg,
                                     store_data **out);
FR_NODISCARD fr_err client_open_members(const client_config *cfg,
                                        const store_data *data, uint32_t dim,
                                        const char *path, fr_mf **out);

#endif
