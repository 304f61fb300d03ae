/*
 * fuzz_config_store.c - the store's configuration (store.conf and the
 * command line): the key table of client/main.c through common/config, then
 * the checks read_config makes (log level and format, the member-id
 * policy). See fuzz_config.h. main.c is compiled in here for its table.
 */
#define main fedrec_client_main
int fedrec_client_main(int argc, char **argv);
#include "../../client/main.c"
#undef main

#include "fuzz_config.h"

static fr_err
check(const void *p, char *err, size_t len)
{
    const client_config *cfg = p;
    vault_member_policy mp;
    fr_log_level level;
    fr_log_format format;
    const char *why = "";

    if (fr_log_level_parse(cfg->log_level, &level)) {
        snprintf(err, len, "log_level");
        return FR_EINVAL;
    }
    if (fr_log_format_parse(cfg->log_format, &format)) {
        snprintf(err, len, "log_format");
        return FR_EINVAL;
    }
    if (client_member_policy(cfg, &mp, &why)) {
        FR_FUZZ_CHECK(why && *why);
        snprintf(err, len, "%s", why);
        return FR_EINVAL;
    }
    return FR_OK;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_dir_init();
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static client_config cfg, again;

    memset(&cfg, 0, sizeof cfg);
    memset(&again, 0, sizeof again);
    fz_config_one(&client_config_table, &cfg, &again, check, data, size);
    return 0;
}
