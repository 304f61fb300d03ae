/*
 * config.h - table-driven configuration shared by every fedrec binary.
 *
 * Each binary declares one table of fr_config_key rows describing the fields
 * of its own config struct. Parsing the flat "key value" file, applying
 * "--key=value" overrides, bounds checks, --help and --dump-config all come
 * from that table, so there is one place where a key is defined.
 *
 * Integers are stored as int64_t, doubles as double, booleans as int and
 * strings as a fixed char array inside the struct (row.size bytes). A
 * string value has no control characters and no surrounding spaces; the
 * value "" (two quotes) is the empty string. Config never holds keys: it
 * names key-file paths.
 */
#ifndef FR_CONFIG_CONFIG_H
#define FR_CONFIG_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../base/err.h"

typedef enum fr_config_type {
    FR_CFG_INT,
    FR_CFG_DOUBLE,
    FR_CFG_BOOL,
    FR_CFG_STRING,
} fr_config_type;

typedef struct fr_config_key {
    const char *name;
    fr_config_type type;
    const char *def; /* default, in the same text form as the file */
    double min;      /* inclusive bounds for INT and DOUBLE */
    double max;
    size_t offset; /* offsetof(struct, field) */
    size_t size;   /* sizeof the field; for STRING the array size */
    const char *help;
} fr_config_key;

#define FR_CFG_INT_(S, f, d, lo, hi, h)                                        \
    {#f, FR_CFG_INT, d, (double)(lo), (double)(hi),                           \
     offsetof(S, f), sizeof(((S *)0)->f), h}
#define FR_CFG_DOUBLE_(S, f, d, lo, hi, h)                                     \
    {#f, FR_CFG_DOUBLE, d, lo, hi, offsetof(S, f), sizeof(((S *)0)->f), h}
#define FR_CFG_BOOL_(S, f, d, h)                                               \
    {#f, FR_CFG_BOOL, d, 0, 1, offsetof(S, f), sizeof(((S *)0)->f), h}
#define FR_CFG_STRING_(S, f, d, h)                                             \
    {#f, FR_CFG_STRING, d, 0, 0, offsetof(S, f), sizeof(((S *)0)->f), h}

typedef struct fr_config_table {
    const fr_config_key *keys;
    size_t n_keys;
} fr_config_table;

/* Room for one error message naming the file, line and key. */
#define FR_CONFIG_ERR_MAX 512

/* Writes every default into cfg. FR_EINVAL (with errbuf) if a default is bad,
 * which is a programming error caught by the tests. */
FR_NODISCARD fr_err fr_config_defaults(const fr_config_table *t, void *cfg,
                                       char *errbuf, size_t errlen);

/* Sets one key from text. Unknown key, bad number, out-of-range value or
 * over-long string: FR_EINVAL and a message in errbuf; cfg unchanged. */
FR_NODISCARD fr_err fr_config_set(const fr_config_table *t, void *cfg,
                                  const char *key, const char *value,
                                  char *errbuf, size_t errlen);

/* Reads a flat "key value" file ('#' comments, blank lines allowed). Stops at
 * the first bad line with "path:line: ..." in errbuf. */
FR_NODISCARD fr_err fr_config_load_file(const fr_config_table *t, void *cfg,
                                        const char *path, char *errbuf,
                                        size_t errlen);

/*
 * Command-line handling shared by the binaries: fills defaults, loads
 * "--config PATH" if given, then applies every "--key=value" in order.
 * Arguments not starting with "--" are positional: their indices are
 * returned in order in positional_out (at most max_positional), their count
 * in *n_positional_out. The flags --help, --dump-config and --check-config
 * are reported through flags_out (bit 1, 2, 4) and otherwise ignored.
 */
#define FR_CONFIG_FLAG_HELP 1
#define FR_CONFIG_FLAG_DUMP 2
#define FR_CONFIG_FLAG_CHECK 4
FR_NODISCARD fr_err fr_config_parse_cli(const fr_config_table *t, void *cfg,
                                        int argc, char **argv,
                                        int *positional_out,
                                        int max_positional,
                                        int *n_positional_out, int *flags_out,
                                        char *errbuf, size_t errlen);

/* Prints one line per key: name, type, default, bounds and help. */
void fr_config_print_help(const fr_config_table *t, FILE *out);

/* Prints the effective configuration as a loadable file: loading it (after
 * the defaults) gives the same configuration. */
void fr_config_dump(const fr_config_table *t, const void *cfg, FILE *out);

/* Finds a row by name, or NULL. */
const fr_config_key *fr_config_find(const fr_config_table *t,
                                    const char *name);

#endif
