/*
 * client.h - the store client's configuration and its commands.
 */
#ifndef FR_CLIENT_CLIENT_H
#define FR_CLIENT_CLIENT_H

#include <stdint.h>

#include "config/config.h"

#define CLIENT_PATH_MAX 256

typedef struct client_config {
    char connect[CLIENT_PATH_MAX];
    char key_file[CLIENT_PATH_MAX];
    char server_key[CLIENT_PATH_MAX];
    char data[CLIENT_PATH_MAX];
    char state_dir[CLIENT_PATH_MAX];
    char log_level[16];
    int64_t n_items;
    int64_t heartbeat_ms;
    int64_t seed;
    int64_t max_message_bytes;
    int64_t blas_threads;
} client_config;

extern const fr_config_table client_config_table;

/* `run`: takes part in rounds until SIGINT/SIGTERM. Returns an exit code. */
int client_run(const client_config *cfg);

/* `recommend`: prints the top k items for member_id from the stored state.
 * Returns an exit code (non-zero with a message for an unknown member). */
int client_recommend(const client_config *cfg, const char *member_id,
                     uint32_t k);

#endif
