/*
 * fuzz_config.h - what the two config targets share. An input is a config
 * file, then optionally a NUL and command-line arguments separated by NULs:
 * fr_config_parse_cli reads "--config FILE ARGS...". Properties: a refusal
 * says why; an accepted configuration passes through the binary's checks
 * (which must say why they refuse), and, when they accept it, its dump
 * (--dump-config) loads again to the same dump.
 */
#ifndef FR_TESTS_FUZZ_CONFIG_H
#define FR_TESTS_FUZZ_CONFIG_H

#include <string.h>

#include "config/config.h"
#include "fuzz.h"
#include "fuzz_file.h"

#define FZ_MAX_ARGS 16

/* The binary's checks after parsing: FR_OK or a message in err. */
typedef fr_err (*fz_config_check)(const void *cfg, char *err, size_t len);

static inline char *
fz_dump(const fr_config_table *t, const void *cfg, size_t *len)
{
    char *text = NULL;
    FILE *f = open_memstream(&text, len);

    FR_FUZZ_CHECK(f != NULL);
    fr_config_dump(t, cfg, f);
    fclose(f);
    return text;
}

/* The dump of an accepted cfg loads again (with defaults first) to the same
 * configuration, and that passes the checks too. */
static inline void
fz_config_round_trip(const fr_config_table *t, const void *cfg, void *again,
                     fz_config_check check)
{
    char path[128], err[FR_CONFIG_ERR_MAX] = "";
    size_t len, len2;
    char *dump = fz_dump(t, cfg, &len), *dump2;

    fz_write("dump.conf", dump, len, path, sizeof path);
    FR_FUZZ_CHECK(fr_config_defaults(t, again, err, sizeof err) == FR_OK);
    if (fr_config_load_file(t, again, path, err, sizeof err) != FR_OK) {
        fprintf(stderr, "dump does not load: %s\n", err);
        FR_FUZZ_CHECK(!"the dump of an accepted configuration loads");
    }
    FR_FUZZ_CHECK(check(again, err, sizeof err) == FR_OK);
    dump2 = fz_dump(t, again, &len2);
    FR_FUZZ_CHECK(len == len2 && memcmp(dump, dump2, len) == 0);
    free(dump);
    free(dump2);
}

static inline void
fz_config_one(const fr_config_table *t, void *cfg, void *again,
              fz_config_check check, const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t flen = nul ? (size_t)(nul - data) : size;
    char path[128], err[FR_CONFIG_ERR_MAX] = "";
    char *argv[FZ_MAX_ARGS + 4], *args = NULL;
    int argc = 0, pos[2], npos = 0, flags = 0;
    fr_err rc;

    fz_write("fuzz.conf", data, flen, path, sizeof path);
    argv[argc++] = "fedrec";
    argv[argc++] = "--config";
    argv[argc++] = path;
    if (nul) {
        size_t n = size - flen - 1;
        args = malloc(n + 1);
        FR_FUZZ_CHECK(args != NULL);
        memcpy(args, nul + 1, n);
        args[n] = 0;
        for (char *p = args; argc < FZ_MAX_ARGS + 3 && p < args + n;
             p += strlen(p) + 1)
            argv[argc++] = p;
    }
    argv[argc] = NULL;
    rc = fr_config_parse_cli(t, cfg, argc, argv, pos, 2, &npos, &flags, err,
                             sizeof err);
    if (rc != FR_OK) {
        FR_FUZZ_CHECK(err[0] != 0);
    } else if (check(cfg, err, sizeof err) != FR_OK) {
        FR_FUZZ_CHECK(err[0] != 0);
    } else {
        FR_FUZZ_CHECK(npos >= 0 && npos <= 2);
        fz_config_round_trip(t, cfg, again, check);
    }
    free(args);
}

#endif
