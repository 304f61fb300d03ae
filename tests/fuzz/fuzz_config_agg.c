/*
 * fuzz_config_agg.c - the aggregator's configuration: its key table through
 * common/config (file and command line), then agg_config_validate (with
 * secure_config_check when secagg is on). See fuzz_config.h.
 */
#include "aggconf.h"
#include "fuzz_config.h"

static fr_err
check(const void *cfg, char *err, size_t len)
{
    return agg_config_validate(cfg, err, len);
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
    static agg_config cfg, again;

    memset(&cfg, 0, sizeof cfg);
    memset(&again, 0, sizeof again);
    fz_config_one(&agg_config_table, &cfg, &again, check, data, size);
    return 0;
}
