/*
 * importer.h - the minimising CSV parser behind `fedrec-client import`.
 *
 * A point-of-sale export carries far more than recommendation needs. The
 * importer keeps an allow-list of columns and drops everything else at the
 * moment the file is read, reporting which columns it dropped and which of
 * those were direct identifiers, so the operator (and the data notice) can
 * say exactly what was discarded. Nothing in here logs but the progress
 * of reading the file (bytes only, base/progress.h: a bar on a terminal, a
 * line every few seconds in logs, nothing for a file read within a
 * second); messages never quote field values, only the file, line and what
 * is wrong.
 *
 * What is read comes from an import profile (profile.h; the built-in
 * "fedrec" by default). Header names match case-insensitively after
 * trimming spaces and tabs and, on the first column, a UTF-8 BOM. Kept
 * (stored) columns, named by the profile:
 *   member id   required column; 1..63 bytes, no control characters; empty
 *               (or matching the profile's guest_ids) is a guest row;
 *               canonicalised by the store's policy (canon.h)
 *   item (SKU)  required; 1..64 bytes, no control characters, after the
 *               profile's sku_case; in "fedrec" an integer in [0, n_items)
 *               is an item index, anything else is left to the vault
 *   time        required; in the profile's formats and zone (timefmt.h),
 *               <= now_s + 86400
 *   quantity    a decimal number with at most 3 decimals, |q| < 2^32;
 *               1 when the profile lets the column be absent; negative, or
 *               on an invoice with the profile's cancel prefix, is a return
 * Price, invoice and store columns, when the profile names them, must be in
 * the header; they are read for the row policy only, never stored, and are
 * reported with the discarded columns.
 * Kept values are trimmed of surrounding spaces and tabs.
 *
 * Every data row has exactly one outcome, counted in import_counts: kept
 * purchase, kept return, guest (no member id), non-product code (the
 * profile's drop_items), zero quantity. Any structural error refuses the
 * whole file: undecodable CSV, a missing mapped column, invalid UTF-8, a
 * wrong field count, a bad member id or SKU, an unparseable time or
 * quantity.
 *
 * Direct identifiers are recognised among the discarded columns by name,
 * case-insensitively, with '_', '-', '.', '/' and spaces treated alike and
 * camelCase split into words:
 *   name, first_name, last_name, full_name, surname, email, e_mail, mail,
 *   phone, mobile, telephone, tel, address, street, city, zip, zip_code,
 *   postcode, postal_code, birth, birthday, birth_date, dob, date_of_birth,
 *   national_id, ssn, passport, id_number, card_number, credit_card, iban,
 *   ip, ip_address, and in Traditional Chinese 姓名, 姓氏, 電話, 手機, 地址,
 *   住址, 電子郵件, 電子信箱, 生日, 身分證, 身份證, 護照, 信用卡.
 * A column matches when its whole name, separators removed, equals one of
 * these ("FirstName"), when one of them appears as a word or run of words in
 * it ("customer_name", "e-mail", "National ID No"), or, for distinctive
 * stems (email, phone, telephone, mobile, address, ip_address, street,
 * postcode, postal_code, zip_code, birth, birthday, birth_date,
 * date_of_birth, passport, surname, first_name, last_name, full_name,
 * credit_card, card_number, national_id and every Chinese name), anywhere in
 * it ("homeaddress", "聯絡電話"). "name" as a word does not count next to a
 * word naming a thing rather than a person (item, product, store, shop,
 * brand, category, ...).
 *
 * CSV: RFC 4180 quoting ("..." with "" for a quote); a quoted field may span
 * lines, and errors then name the record's first line. CR LF or LF line ends;
 * blank lines are skipped; the first non-blank record is the header. Each
 * record must have as many fields as the header, be valid UTF-8 in every
 * byte (discarded columns included), hold no NUL and fit in 64 KiB.
 */
#ifndef FR_CLIENT_IMPORTER_H
#define FR_CLIENT_IMPORTER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/err.h"
#include "canon.h"
#include "profile.h"

#define IMPORT_MEMBER_ID_MAX 64
#define IMPORT_MAX_RECORD    (64 * 1024) /* bytes in one record, line ends too */
#define IMPORT_MAX_COLUMNS   256
#define IMPORT_NAME_MAX      64 /* reported column names, NUL included */

#define IMPORT_SKU_MAX 65 /* FR_CATALOGUE_SKU_MAX bytes and a terminator */

typedef struct import_row {
    char member_id[IMPORT_MEMBER_ID_MAX]; /* canonical (canon.h) */
    char sku[IMPORT_SKU_MAX]; /* the item as the export names it, trimmed,
                                 after the profile's sku_case */
    /* legacy: the sku as an integer in [0, n_items), else UINT32_MAX */
    uint32_t item;
    int64_t timestamp; /* unix seconds UTC */
    /* legacy: the quantity when it is a whole number >= 1, else 0 */
    uint32_t quantity;
    int64_t qty_milli; /* signed quantity in thousandths: returns < 0 */
} import_row;

/* Outcomes of one file's data rows: rows_read is the sum of the five row
 * outcomes; the canon counts are over the kept rows. */
typedef struct import_counts {
    uint64_t rows_read;
    uint64_t kept_purchase;
    uint64_t kept_return;
    uint64_t guest;
    uint64_t non_product;
    uint64_t zero_quantity;
    uint64_t canon_rewritten;  /* kept rows whose member id was rewritten */
    uint64_t canon_merged_ids; /* canonical ids seen under 2+ spellings */
} import_counts;

typedef struct import_result {
    /* malloc'd; raw member ids: callers pseudonymise them at once and wipe
     * this array (import_result_destroy wipes it) */
    import_row *rows;
    size_t n_rows;
    /* header names of columns that were never kept, in file order, trimmed
     * and cut to IMPORT_NAME_MAX - 1 bytes on a character boundary */
    char (*discarded)[IMPORT_NAME_MAX];
    size_t n_discarded;
    /* the subset of discarded columns recognised as direct identifiers */
    char (*identifiers)[IMPORT_NAME_MAX];
    size_t n_identifiers;
    /* the subset of discarded columns read for the row policy (price,
     * invoice, store) */
    char (*policy_read)[IMPORT_NAME_MAX];
    size_t n_policy_read;
    int has_quantity;
    import_counts counts;
} import_result;

typedef struct import_opts {
    const import_profile *profile; /* NULL: the built-in "fedrec" */
    const canon_policy *canon;     /* NULL: canon_legacy (trim only) */
    uint32_t n_items;              /* for the legacy integer SKU rule */
    int64_t now_s;                 /* times after now_s + 86400 are refused */
    size_t max_errors;             /* messages shown; 0 counts as 1 */
} import_opts;

/*
 * Parses path under o (NULL: every default). All or nothing: on FR_OK *out
 * owns every kept row (possibly none: an empty or header-only file is FR_OK
 * with 0 rows) and the counts; on any structural error the result is
 * FR_EINVAL, *out stays NULL and errbuf gets up to max_errors
 * "FILE:LINE: reason" messages joined by '\n' (a last line says how many
 * more were found). A broken header (bad quoting, a mapped column named
 * twice, a required one missing) stops at once. FR_ENOENT if path does not
 * exist, FR_ESYS on another open or read failure, FR_ENOMEM. errbuf is
 * always NUL-terminated when errlen > 0 and is cut on a character boundary.
 * Raw member ids pass through here: they live only in wiped buffers and in
 * *out (canonical). Thread-safe unless the profile's zone is an IANA name
 * (timefmt.h).
 */
FR_NODISCARD fr_err import_parse(const char *path, const import_opts *o,
                                 import_result **out, char *errbuf,
                                 size_t errlen);

/*
 * The import as it was before profiles: the "fedrec" profile, trim-only
 * member ids, and every row must be a purchase of a known item: an empty
 * member id, an item that is not an integer in [0, n_items) and a quantity
 * that is not an integer >= 1 refuse the file as well. The legacy row
 * fields (item, quantity) are then always exact.
 */
FR_NODISCARD fr_err import_parse_legacy(const char *path, uint32_t n_items,
                                        int64_t now_s, size_t max_errors,
                                        import_result **out, char *errbuf,
                                        size_t errlen);

/* One line per outcome, "REASON: COUNT", in this order and wording:
 *   rows read / kept purchase rows / kept return rows /
 *   guest rows (no member id) / non-product codes / zero quantity rows /
 *   rows with a rewritten member id / member ids seen under 2+ spellings */
void import_counts_print(const import_counts *c, FILE *out);

/* Wipes the rows (member ids) with fr_crypto_wipe, frees everything and sets
 * *rp = NULL. Accepts NULL and *rp == NULL. */
void import_result_destroy(import_result **rp);

/* The kept columns and the identifier names, for the data notice.
 * NULL-terminated static arrays; import_kept_columns lists the stored
 * fields by their "fedrec" names (a profile may call them otherwise), the
 * required ones first, then quantity; import_policy_columns the fields a
 * profile may have read for the row policy, never stored. */
extern const char *const import_kept_columns[];
extern const char *const import_policy_columns[];
extern const char *const import_identifier_names[];

#endif
