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

static fr_err
compile_re(const char *key, const char *re, regex_t *out, int *has,
           char *errbuf, size_t errlen)
{
    char why[128];
    int rc;

    if (!*re)
        return FR_OK;
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
