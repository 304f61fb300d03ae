/*
 * profile.c - import profiles (see profile.h): one config table, the
 * built-ins as key/value overrides of its defaults, and the checks that turn
 * the text into compiled formats, a zone and expressions.
 */
#include "profile.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/util.h"

#define P import_profile_conf

/* clang-format off */
static const fr_config_key keys[] = {
    FR_CFG_STRING_(P, name, "fedrec", "a label for this profile"),
    FR_CFG_STRING_(P, member_column, "member_id",
                   "header of the member id column (required)"),
    FR_CFG_STRING_(P, item_column, "item_id",
                   "header of the item code (SKU) column (required)"),
    FR_CFG_STRING_(P, time_column, "timestamp",
                   "header of the purchase time column (required)"),
    FR_CFG_STRING_(P, quantity_column, "quantity",
                   "header of the quantity column"),
    FR_CFG_BOOL_(P, quantity_required, "no",
                 "refuse a file without the quantity column (no: quantity 1)"),
    FR_CFG_STRING_(P, price_column, "",
                   "header of the unit price column (read, never stored)"),
    FR_CFG_STRING_(P, invoice_column, "",
                   "header of the invoice number column (read, never stored)"),
    FR_CFG_STRING_(P, store_column, "",
                   "header of the store or country column (read, never "
                   "stored)"),
    FR_CFG_STRING_(P, time_format_1, "unix",
                   "time format tried first: unix, unix_ms, iso8601 or a "
                   "pattern of %Y %m %d %H %M %S"),
    FR_CFG_STRING_(P, time_format_2, "", "time format tried second"),
    FR_CFG_STRING_(P, time_format_3, "", "time format tried third"),
    FR_CFG_STRING_(P, time_format_4, "", "time format tried fourth"),
    FR_CFG_STRING_(P, time_zone, "UTC",
                   "zone of times without one: UTC, +08:00 or an IANA name"),
    FR_CFG_STRING_(P, invoice_cancel_prefix, "",
                   "an invoice starting with this marks a return"),
    FR_CFG_STRING_(P, drop_items, "",
                   "POSIX ERE of non-product SKUs (anchor it: ^(POST|DOT)$)"),
    FR_CFG_STRING_(P, guest_ids, "",
                   "POSIX ERE of member ids that mean a guest"),
    FR_CFG_STRING_(P, sku_case, "keep", "SKU letters: keep or upper"),
};
/* clang-format on */

const fr_config_table import_profile_table = {keys, FR_ARRAY_LEN(keys)};

typedef struct kv {
    const char *key, *value;
} kv;

static const kv online_retail[] = {
    {"name", "online-retail"},
    {"member_column", "CustomerID"},
    {"item_column", "StockCode"},
    {"time_column", "InvoiceDate"},
    {"quantity_column", "Quantity"},
    {"quantity_required", "yes"},
    {"price_column", "UnitPrice"},
    {"invoice_column", "InvoiceNo"},
    {"time_format_1", "%Y-%m-%d %H:%M:%S"},
    {"time_format_2", "%m/%d/%Y %H:%M"},
    {"time_format_3", "iso8601"},
    {"time_zone", "UTC"},
    {"invoice_cancel_prefix", "C"},
    {"drop_items", "^(POST|DOT|M|C2|D|S|B|CRUK|PADS|AMAZONFEE|BANK CHARGES|"
                   "gift_.*)$"},
    {"sku_case", "upper"},
    {NULL, NULL},
};

static const struct {
    const char *name;
    const kv *set;
} builtins[] = {
    {"fedrec", NULL},
    {"online-retail", online_retail},
};

const char *const import_profile_builtins[] = {"fedrec", "online-retail", NULL};


/* The mapped columns must be named where required and be distinct. */
static fr_err
check_columns(const import_profile_conf *c, char *errbuf, size_t errlen)
{
    const char *const col[] = {
        c->member_column, c->item_column,    c->time_column, c->quantity_column,
        c->price_column,  c->invoice_column, c->store_column};
    const char *const key[] = {
        "member_column", "item_column",    "time_column", "quantity_column",
        "price_column",  "invoice_column", "store_column"};

    for (size_t i = 0; i < FR_ARRAY_LEN(col); i++) {
        if (!*col[i] && (i < 3 || (i == 3 && c->quantity_required))) {
            fr_errbuf_set(errbuf, errlen, "profile: %s is required", key[i]);
            return FR_EINVAL;
        }
        for (size_t j = 0; *col[i] && j < i; j++)
            if (!strcasecmp(col[i], col[j])) {
                fr_errbuf_set(errbuf, errlen,
                       "profile: %s and %s name the same "
                       "column",
                       key[j], key[i]);
                return FR_EINVAL;
            }
    }
    return FR_OK;
}

/* glibc's regcomp copies a repeated part once per repetition ('+' twice,
 * {m,n} max(m,n) + 1 times) before it builds anything, so "a++++...+" or
 * "((a{99}){99}){99}" asks for memory exponential in its length, and the
 * closures of optional parts then cost time and memory quadratic in the
 * copies. An expression's size after those copies (its atoms, '*' and '?'
 * counted twice, '+' three times) is bounded here before regcomp sees it:
 * at most ~1 s and ~60 MB for the worst expression let through. */
#define RE_MAX_ATOMS 2000
#define RE_MAX_DEPTH 32

static size_t
re_mul(size_t a, size_t b)
{
    return a > RE_MAX_ATOMS || b > RE_MAX_ATOMS || a * b > RE_MAX_ATOMS
               ? RE_MAX_ATOMS + 1
               : a * b;
}

/* End of the bracket expression starting at re[i] == '['. */
static size_t
re_bracket_end(const char *re, size_t i)
{
    i++;
    if (re[i] == '^')
        i++;
    if (re[i] == ']')
        i++;
    while (re[i] && re[i] != ']') {
        if (re[i] == '[' && (re[i + 1] == ':' || re[i + 1] == '.' ||
                             re[i + 1] == '=')) {
            char c = re[i + 1];
            i += 2;
            while (re[i] && !(re[i] == c && re[i + 1] == ']'))
                i++;
            if (re[i])
                i += 2;
        } else {
            i++;
        }
    }
    return re[i] ? i + 1 : i;
}

/* The copies {m}, {m,} or {m,n} at re[i] == '{' make (0 if not a bound);
 * *end past it. */
static size_t
re_bound(const char *re, size_t i, size_t *end)
{
    size_t m = 0, n = 0, k = i + 1;

    while (re[k] >= '0' && re[k] <= '9' && m <= RE_MAX_ATOMS)
        m = m * 10 + (size_t)(re[k++] - '0');
    if (re[k] == ',') {
        k++;
        while (re[k] >= '0' && re[k] <= '9' && n <= RE_MAX_ATOMS)
            n = n * 10 + (size_t)(re[k++] - '0');
    }
    if (k == i + 1 || re[k] != '}')
        return 0;
    *end = k + 1;
    return (m > n ? m : n) + 1;
}

/* Refuses (with why) an expression whose expanded size is too large or
 * whose groups nest too deep; the syntax is left to regcomp. */
static int
re_too_large(const char *re, const char **why)
{
    size_t sum[RE_MAX_DEPTH + 1] = {0}, depth = 0, cur = 0, last = 0, i = 0;
    int quant = 0;

    while (re[i]) {
        size_t mul = 0, next = i + 1;
        char c = re[i];
        if (c == '*' || c == '?')
            mul = 2;
        else if (c == '+')
            mul = 3;
        else if (c == '{')
            mul = re_bound(re, i, &next);
        if (mul) {
            if (quant) {
                *why = "a repetition of a repetition (such as a++)";
                return 1;
            }
            last = re_mul(last ? last : 1, mul);
            quant = 1;
            i = next;
            continue;
        }
        quant = 0;
        cur += last;
        if (cur > RE_MAX_ATOMS)
            break; /* checked on the way in: an unclosed group counts */
        last = 1;
        if (c == '(') {
            if (depth == RE_MAX_DEPTH) {
                *why = "groups nested too deep";
                return 1;
            }
            sum[depth++] = cur;
            cur = last = 0;
        } else if (c == ')' && depth) {
            last = cur ? cur : 1;
            cur = sum[--depth];
        } else if (c == '|') {
            last = 0;
        } else if (c == '[') {
            next = re_bracket_end(re, i);
        } else if (c == '\\' && re[i + 1]) {
            next = i + 2;
        }
        i = next;
    }
    for (size_t d = 0; d < depth; d++)
        cur += sum[d];
    if (cur + last > RE_MAX_ATOMS) {
        *why = "too large once its repetitions are expanded";
        return 1;
    }
    return 0;
}

static fr_err
compile_re(const char *key, const char *re, regex_t *out, int *has,
           char *errbuf, size_t errlen)
{
    char why[128];
    int rc;

    const char *large = "";

    if (!*re)
        return FR_OK;
    if (re_too_large(re, &large)) {
        fr_errbuf_set(errbuf, errlen, "profile: %s: the expression is %s",
                      key, large);
        return FR_EINVAL;
    }
    rc = regcomp(out, re, REG_EXTENDED | REG_NOSUB);
    if (rc) {
        regerror(rc, out, why, sizeof why);
        fr_errbuf_set(errbuf, errlen,
               "profile: %s is not a POSIX extended regular "
               "expression: %s",
               key, why);
        return FR_EINVAL;
    }
    *has = 1;
    return FR_OK;
}

static fr_err
compile_times(import_profile *p, char *errbuf, size_t errlen)
{
    const char *const spec[] = {p->conf.time_format_1, p->conf.time_format_2,
                                p->conf.time_format_3, p->conf.time_format_4};
    char why[256];

    for (size_t i = 0; i < IMPORT_TIME_FORMATS; i++) {
        if (!*spec[i])
            continue;
        if (timefmt_spec(spec[i], &p->formats[p->n_formats], why, sizeof why)) {
            fr_errbuf_set(errbuf, errlen, "profile: time_format_%zu: %s", i + 1, why);
            return FR_EINVAL;
        }
        p->n_formats++;
    }
    if (!p->n_formats) {
        fr_errbuf_set(errbuf, errlen, "profile: no time format (time_format_1)");
        return FR_EINVAL;
    }
    if (timefmt_zone_parse(p->conf.time_zone, &p->zone, why, sizeof why)) {
        fr_errbuf_set(errbuf, errlen, "profile: time_zone: %s", why);
        return FR_EINVAL;
    }
    return FR_OK;
}

fr_err
import_profile_from_conf(const import_profile_conf *c, import_profile **out,
                         char *errbuf, size_t errlen)
{
    import_profile *p;
    fr_err rc;

    *out = NULL;
    if ((rc = check_columns(c, errbuf, errlen)))
        return rc;
    if (strcmp(c->sku_case, "keep") && strcmp(c->sku_case, "upper")) {
        fr_errbuf_set(errbuf, errlen,
               "profile: sku_case: '%.8s' is not keep or "
               "upper",
               c->sku_case);
        return FR_EINVAL;
    }
    if (!(p = calloc(1, sizeof *p)))
        return FR_ENOMEM;
    p->conf = *c;
    p->sku_upper = !strcmp(c->sku_case, "upper");
    if ((rc = compile_times(p, errbuf, errlen)) ||
        (rc = compile_re("drop_items", c->drop_items, &p->drop_items,
                         &p->has_drop_items, errbuf, errlen)) ||
        (rc = compile_re("guest_ids", c->guest_ids, &p->guest_ids,
                         &p->has_guest_ids, errbuf, errlen))) {
        import_profile_destroy(&p);
        return rc;
    }
    *out = p;
    return FR_OK;
}

fr_err
import_profile_builtin(const char *name, import_profile **out, char *errbuf,
                       size_t errlen)
{
    import_profile_conf c;
    fr_err rc;

    *out = NULL;
    for (size_t i = 0; i < FR_ARRAY_LEN(builtins); i++) {
        if (strcmp(name, builtins[i].name))
            continue;
        memset(&c, 0, sizeof c);
        if ((rc =
                 fr_config_defaults(&import_profile_table, &c, errbuf, errlen)))
            return rc;
        for (const kv *s = builtins[i].set; s && s->key; s++)
            if ((rc = fr_config_set(&import_profile_table, &c, s->key, s->value,
                                    errbuf, errlen)))
                return rc;
        return import_profile_from_conf(&c, out, errbuf, errlen);
    }
    fr_errbuf_set(errbuf, errlen, "no built-in import profile '%.64s'", name);
    return FR_ENOENT;
}

fr_err
import_profile_load(const char *name_or_file, import_profile **out,
                    char *errbuf, size_t errlen)
{
    import_profile_conf c;
    char msg[FR_CONFIG_ERR_MAX];
    fr_err rc = import_profile_builtin(name_or_file, out, errbuf, errlen);

    if (rc != FR_ENOENT)
        return rc;
    memset(&c, 0, sizeof c);
    if ((rc = fr_config_defaults(&import_profile_table, &c, errbuf, errlen)))
        return rc;
    rc = fr_config_load_file(&import_profile_table, &c, name_or_file, msg,
                             sizeof msg);
    if (rc == FR_ENOENT) {
        fr_errbuf_set(errbuf, errlen,
               "profile '%.200s' is neither a built-in "
               "(fedrec, online-retail) nor a file",
               name_or_file);
        return FR_ENOENT;
    }
    if (rc) {
        fr_errbuf_set(errbuf, errlen, "%s", msg);
        return rc;
    }
    if ((rc = import_profile_from_conf(&c, out, msg, sizeof msg)))
        fr_errbuf_set(errbuf, errlen, "%.200s: %s", name_or_file, msg);
    return rc;
}

void
import_profile_print(const import_profile *p, FILE *out)
{
    fprintf(out,
            "# fedrec import profile '%s'\n"
            "# Edit and pass with: fedrec-client import --profile FILE\n"
            "# Keys left out take the values of the fedrec profile.\n",
            p->conf.name);
    fr_config_dump(&import_profile_table, &p->conf, out);
}

void
import_profile_destroy(import_profile **pp)
{
    import_profile *p;

    if (!pp || !*pp)
        return;
    p = *pp;
    if (p->has_drop_items)
        regfree(&p->drop_items);
    if (p->has_guest_ids)
        regfree(&p->guest_ids);
    free(p);
    *pp = NULL;
}
