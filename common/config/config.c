/*
 * config.c - parser for flat "key value" configuration driven by a table.
 * See config.h. Every message names the key and the accepted range so an
 * operator can fix the file without reading the code.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../base/util.h"

#define MAX_CONFIG_FILE (1u << 20)

static void
seterr(char *errbuf, size_t errlen, const char *fmt, ...) FR_PRINTF(3, 4);

static void
seterr(char *errbuf, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (!errbuf || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(errbuf, errlen, fmt, ap);
    va_end(ap);
}

const fr_config_key *
fr_config_find(const fr_config_table *t, const char *name)
{
    for (size_t i = 0; i < t->n_keys; i++)
        if (strcmp(t->keys[i].name, name) == 0)
            return &t->keys[i];
    return NULL;
}

static fr_err
parse_bool(const char *v, int *out)
{
    if (!strcmp(v, "1") || !strcmp(v, "yes") || !strcmp(v, "true") ||
        !strcmp(v, "on"))
        *out = 1;
    else if (!strcmp(v, "0") || !strcmp(v, "no") || !strcmp(v, "false") ||
             !strcmp(v, "off"))
        *out = 0;
    else
        return FR_EINVAL;
    return FR_OK;
}

/* A string value survives a dump and a load as it is: no control
 * characters (a line end would split it) and nothing trim would drop. */
static int
string_ok(const char *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
            return 0;
    return n == 0 || (!isspace((unsigned char)v[0]) &&
                      !isspace((unsigned char)v[n - 1]));
}

static fr_err
set_row(const fr_config_key *k, void *cfg, const char *value, char *errbuf,
        size_t errlen)
{
    uint8_t *field = (uint8_t *)cfg + k->offset;

    switch (k->type) {
    case FR_CFG_INT: {
        /* Doubles at or past 2^63 do not convert to int64_t: clamp. */
        int64_t lo = k->min <= -9.2e18 ? INT64_MIN : (int64_t)k->min;
        int64_t hi = k->max >= 9.2e18 ? INT64_MAX : (int64_t)k->max;
        int64_t v;
        if (fr_parse_i64(value, lo, hi, &v)) {
            seterr(errbuf, errlen,
                   "%s: '%s' is not an integer in [%.0f, %.0f]", k->name,
                   value, k->min, k->max);
            return FR_EINVAL;
        }
        FR_ASSERT(k->size == sizeof(int64_t));
        memcpy(field, &v, sizeof v);
        return FR_OK;
    }
    case FR_CFG_DOUBLE: {
        double v;
        if (fr_parse_double(value, k->min, k->max, &v)) {
            seterr(errbuf, errlen, "%s: '%s' is not a number in [%g, %g]",
                   k->name, value, k->min, k->max);
            return FR_EINVAL;
        }
        FR_ASSERT(k->size == sizeof(double));
        memcpy(field, &v, sizeof v);
        return FR_OK;
    }
    case FR_CFG_BOOL: {
        int v;
        if (parse_bool(value, &v)) {
            seterr(errbuf, errlen, "%s: '%s' is not a boolean (yes/no)",
                   k->name, value);
            return FR_EINVAL;
        }
        FR_ASSERT(k->size == sizeof(int));
        memcpy(field, &v, sizeof v);
        return FR_OK;
    }
    case FR_CFG_STRING: {
        size_t n;
        if (!strcmp(value, "\"\"")) /* what the dump writes for "" */
            value = "";
        n = strlen(value);
        if (!string_ok(value, n)) {
            seterr(errbuf, errlen, "%s: value has a control character or "
                   "surrounding spaces", k->name);
            return FR_EINVAL;
        }
        if (n >= k->size) {
            seterr(errbuf, errlen, "%s: value longer than %zu characters",
                   k->name, k->size - 1);
            return FR_EINVAL;
        }
        memcpy(field, value, n + 1);
        return FR_OK;
    }
    }
    return FR_EINVAL;
}

fr_err
fr_config_defaults(const fr_config_table *t, void *cfg, char *errbuf,
                   size_t errlen)
{
    for (size_t i = 0; i < t->n_keys; i++) {
        fr_err rc = set_row(&t->keys[i], cfg, t->keys[i].def, errbuf, errlen);
        if (rc)
            return rc;
    }
    return FR_OK;
}

fr_err
fr_config_set(const fr_config_table *t, void *cfg, const char *key,
              const char *value, char *errbuf, size_t errlen)
{
    const fr_config_key *k = fr_config_find(t, key);
    if (!k) {
        seterr(errbuf, errlen, "unknown configuration key '%s'", key);
        return FR_EINVAL;
    }
    return set_row(k, cfg, value, errbuf, errlen);
}

static char *
trim(char *s)
{
    char *e;
    while (isspace((unsigned char)*s))
        s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

fr_err
fr_config_load_file(const fr_config_table *t, void *cfg, const char *path,
                    char *errbuf, size_t errlen)
{
    uint8_t *text = NULL;
    size_t len = 0;
    char *line;
    unsigned lineno = 0;
    char msg[FR_CONFIG_ERR_MAX];
    fr_err rc = fr_file_read_all(path, MAX_CONFIG_FILE, &text, &len);

    if (rc) {
        seterr(errbuf, errlen, "%s: cannot read configuration: %s", path,
               fr_strerror(rc));
        return rc == FR_ENOENT ? FR_ENOENT : FR_EINVAL;
    }
    if (memchr(text, '\0', len)) {
        seterr(errbuf, errlen, "%s: configuration contains a NUL byte", path);
        free(text);
        return FR_EINVAL;
    }
    /* The binaries exit on a bad file, so a partial apply never serves. */
    for (char *p = (char *)text; p && *p;) {
        char *key, *value, *next = strchr(p, '\n');
        if (next)
            *next++ = '\0';
        line = p;
        p = next;
        lineno++;
        key = trim(line);
        if (*key == '\0' || *key == '#')
            continue;
        value = key;
        while (*value && !isspace((unsigned char)*value))
            value++;
        if (*value)
            *value++ = '\0';
        value = trim(value);
        if (*value == '\0') {
            seterr(errbuf, errlen, "%s:%u: key '%s' has no value", path,
                   lineno, key);
            rc = FR_EINVAL;
            break;
        }
        rc = fr_config_set(t, cfg, key, value, msg, sizeof msg);
        if (rc) {
            seterr(errbuf, errlen, "%s:%u: %s", path, lineno, msg);
            break;
        }
    }
    free(text);
    return rc;
}

/* First pass over the command line: the flags and --config, so that the
 * overrides of the second pass apply after the file. */
static fr_err
scan_flags(int argc, char **argv, int *flags_out, const char **config_out,
           char *errbuf, size_t errlen)
{
    const char *config_path = NULL;
    int flags = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h"))
            flags |= FR_CONFIG_FLAG_HELP;
        else if (!strcmp(a, "--dump-config"))
            flags |= FR_CONFIG_FLAG_DUMP;
        else if (!strcmp(a, "--check-config"))
            flags |= FR_CONFIG_FLAG_CHECK;
        else if (!strcmp(a, "--config")) {
            if (i + 1 >= argc) {
                seterr(errbuf, errlen, "--config needs a file path");
                return FR_EINVAL;
            }
            config_path = argv[++i];
        } else if (!strncmp(a, "--config=", 9))
            config_path = a + 9;
    }
    *flags_out = flags;
    *config_out = config_path;
    return FR_OK;
}

fr_err
fr_config_parse_cli(const fr_config_table *t, void *cfg, int argc, char **argv,
                    int *positional_out, int max_positional,
                    int *n_positional_out, int *flags_out, char *errbuf,
                    size_t errlen)
{
    const char *config_path = NULL;
    int npos = 0, flags = 0;
    fr_err rc = fr_config_defaults(t, cfg, errbuf, errlen);

    if (rc || (rc = scan_flags(argc, argv, &flags, &config_path, errbuf,
                               errlen)))
        return rc;
    if (config_path) {
        rc = fr_config_load_file(t, cfg, config_path, errbuf, errlen);
        if (rc)
            return rc;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        char key[128];
        const char *eq;
        size_t klen;

        if (!strcmp(a, "--config")) {
            i++;
            continue;
        }
        if (!strncmp(a, "--config=", 9) || !strcmp(a, "--help") ||
            !strcmp(a, "-h") || !strcmp(a, "--dump-config") ||
            !strcmp(a, "--check-config"))
            continue;
        if (strncmp(a, "--", 2) != 0) {
            if (npos >= max_positional) {
                seterr(errbuf, errlen, "unexpected argument '%s'", a);
                return FR_EINVAL;
            }
            positional_out[npos++] = i;
            continue;
        }
        eq = strchr(a + 2, '=');
        if (!eq) {
            /* "--key value" form */
            if (i + 1 >= argc) {
                seterr(errbuf, errlen, "option %s needs a value", a);
                return FR_EINVAL;
            }
            rc = fr_config_set(t, cfg, a + 2, argv[++i], errbuf, errlen);
        } else {
            klen = (size_t)(eq - (a + 2));
            if (klen >= sizeof key) {
                seterr(errbuf, errlen, "option name too long");
                return FR_EINVAL;
            }
            memcpy(key, a + 2, klen);
            key[klen] = '\0';
            rc = fr_config_set(t, cfg, key, eq + 1, errbuf, errlen);
        }
        if (rc)
            return rc;
    }
    *n_positional_out = npos;
    *flags_out = flags;
    return FR_OK;
}

static const char *
type_name(fr_config_type type)
{
    switch (type) {
    case FR_CFG_INT: return "int";
    case FR_CFG_DOUBLE: return "number";
    case FR_CFG_BOOL: return "bool";
    case FR_CFG_STRING: return "string";
    }
    return "?";
}

void
fr_config_print_help(const fr_config_table *t, FILE *out)
{
    for (size_t i = 0; i < t->n_keys; i++) {
        const fr_config_key *k = &t->keys[i];
        fprintf(out, "  --%s=%s (%s", k->name, *k->def ? k->def : "\"\"",
                type_name(k->type));
        if (k->type == FR_CFG_INT)
            fprintf(out, ", %.0f..%.0f", k->min, k->max);
        else if (k->type == FR_CFG_DOUBLE)
            fprintf(out, ", %g..%g", k->min, k->max);
        fprintf(out, ")\n      %s\n", k->help);
    }
}

void
fr_config_dump(const fr_config_table *t, const void *cfg, FILE *out)
{
    for (size_t i = 0; i < t->n_keys; i++) {
        const fr_config_key *k = &t->keys[i];
        const uint8_t *field = (const uint8_t *)cfg + k->offset;
        fprintf(out, "# %s\n", k->help);
        switch (k->type) {
        case FR_CFG_INT: {
            int64_t v;
            memcpy(&v, field, sizeof v);
            fprintf(out, "%s %lld\n", k->name, (long long)v);
            break;
        }
        case FR_CFG_DOUBLE: {
            double v;
            memcpy(&v, field, sizeof v);
            fprintf(out, "%s %.17g\n", k->name, v);
            break;
        }
        case FR_CFG_BOOL: {
            int v;
            memcpy(&v, field, sizeof v);
            fprintf(out, "%s %s\n", k->name, v ? "yes" : "no");
            break;
        }
        case FR_CFG_STRING:
            if (*(const char *)field)
                fprintf(out, "%s %s\n", k->name, (const char *)field);
            else
                fprintf(out, "%s \"\"\n", k->name);
            break;
        }
    }
}
