/*
 * profile.h - import profiles: how a store's export names the columns the
 * importer reads, how it writes times, and which rows are not purchases.
 *
 * A profile file has the store.conf syntax ("key value" lines, '#'
 * comments), read with common/config; keys left out keep the values of the
 * built-in "fedrec" profile:
 *   name                   a label for messages
 *   member_column          the member id (required)
 *   item_column            the item's code, the SKU (required)
 *   time_column            the time of the purchase (required)
 *   quantity_column        the quantity; quantity_required no lets the
 *                          header lack it (every row is then quantity 1)
 *   price_column, invoice_column, store_column
 *                          optional; read for the row policy only and never
 *                          stored (reported with the discarded columns). An
 *                          invoice starting with invoice_cancel_prefix
 *                          (ASCII case ignored) marks a return.
 *   time_format_1 .. time_format_4
 *                          tried in order: unix, unix_ms, iso8601 or a
 *                          pattern such as %m/%d/%Y %H:%M (timefmt.h)
 *   time_zone              UTC, +08:00 or an IANA name; only for times
 *                          without an explicit zone (timefmt.h)
 *   drop_items             POSIX ERE; a row whose SKU (trimmed, as the export
 *                          writes it, before sku_case) matches is a
 *                          non-product code. regexec searches, so anchor it:
 *                          ^(POST|DOT)$
 *   guest_ids              POSIX ERE; a member id (canonical) that matches
 *                          counts as a guest, like an empty one
 *   sku_case               keep or upper (ASCII letters)
 * Header names match like the importer's: ASCII case ignored, trimmed, BOM.
 *
 * Built-ins: "fedrec" (member_id, item_id, timestamp, optional quantity,
 * unix time) and "online-retail" (CustomerID, StockCode, InvoiceDate in
 * "%Y-%m-%d %H:%M:%S", "%m/%d/%Y %H:%M" or iso8601 at UTC, Quantity,
 * InvoiceNo with the cancel prefix C, UnitPrice, the usual non-product
 * codes, SKUs upper-cased).
 */
#ifndef FR_CLIENT_PROFILE_H
#define FR_CLIENT_PROFILE_H

#include <regex.h>
#include <stddef.h>
#include <stdio.h>

#include "base/err.h"
#include "config/config.h"
#include "timefmt.h"

#define IMPORT_TIME_FORMATS 4
#define PROFILE_NAME_MAX    64
#define PROFILE_REGEX_MAX   512

typedef struct import_profile_conf {
    char name[PROFILE_NAME_MAX];
    char member_column[PROFILE_NAME_MAX];
    char item_column[PROFILE_NAME_MAX];
    char time_column[PROFILE_NAME_MAX];
    char quantity_column[PROFILE_NAME_MAX];
    int quantity_required;
    char price_column[PROFILE_NAME_MAX];
    char invoice_column[PROFILE_NAME_MAX];
    char store_column[PROFILE_NAME_MAX];
    char time_format_1[TIMEFMT_SPEC_MAX];
    char time_format_2[TIMEFMT_SPEC_MAX];
    char time_format_3[TIMEFMT_SPEC_MAX];
    char time_format_4[TIMEFMT_SPEC_MAX];
    char time_zone[TIMEFMT_SPEC_MAX];
    char invoice_cancel_prefix[16];
    char drop_items[PROFILE_REGEX_MAX];
    char guest_ids[PROFILE_REGEX_MAX];
    char sku_case[8];
} import_profile_conf;

typedef struct import_profile {
    import_profile_conf conf;
    timefmt formats[IMPORT_TIME_FORMATS];
    size_t n_formats;
    timefmt_zone zone;
    regex_t drop_items, guest_ids;
    int has_drop_items, has_guest_ids;
    int sku_upper;
} import_profile;

/* The keys of a profile file; defaults are the "fedrec" profile. */
extern const fr_config_table import_profile_table;

/* The built-in names, NULL-terminated; the first is the default. */
extern const char *const import_profile_builtins[];

/* Checks c (columns given and distinct, formats, zone, expressions, case)
 * and compiles it. FR_EINVAL with a message naming the key otherwise. */
FR_NODISCARD fr_err import_profile_from_conf(const import_profile_conf *c,
                                             import_profile **out, char *errbuf,
                                             size_t errlen);

/* A built-in by name; FR_ENOENT if there is none of that name. */
FR_NODISCARD fr_err import_profile_builtin(const char *name,
                                           import_profile **out, char *errbuf,
                                           size_t errlen);

/* What --profile takes: a built-in name first, else a profile file. The
 * message names the file and line of a bad key; FR_ENOENT when it is neither
 * a built-in nor an existing file. */
FR_NODISCARD fr_err import_profile_load(const char *name_or_file,
                                        import_profile **out, char *errbuf,
                                        size_t errlen);

/* Writes p as a profile file that import_profile_load reads back (a
 * template to edit). */
void import_profile_print(const import_profile *p, FILE *out);

/* Frees p and its compiled expressions; accepts NULL and *pp == NULL. */
void import_profile_destroy(import_profile **pp);

#endif
