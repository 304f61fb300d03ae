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
 * Kept columns (header names match case-insensitively after trimming spaces
 * and tabs and, on the first column, a UTF-8 BOM):
 *   member_id   required; 1..63 bytes, no control characters
 *   item_id     required; integer in [0, n_items)
 *   timestamp   required; unix time in seconds, >= 0, <= now_s + 86400
 *   quantity    optional; integer >= 1 (1 when the column is absent)
 * Kept values are trimmed of surrounding spaces and tabs.
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

#include "base/err.h"

#define IMPORT_MEMBER_ID_MAX 64
#define IMPORT_MAX_RECORD    (64 * 1024) /* bytes in one record, line ends too */
#define IMPORT_MAX_COLUMNS   256
#define IMPORT_NAME_MAX      64 /* reported column names, NUL included */

#define IMPORT_SKU_MAX 65 /* FR_CATALOGUE_SKU_MAX bytes and a terminator */

typedef struct import_row {
    char member_id[IMPORT_MEMBER_ID_MAX];
    char sku[IMPORT_SKU_MAX]; /* the item as the export names it, trimmed */
    uint32_t item;            /* legacy: sku as an integer in [0, n_items) */
    int64_t timestamp;
    uint32_t quantity; /* 1 when the column is absent */
    int64_t qty_milli; /* signed quantity in thousandths: returns < 0 */
} import_row;

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
    int has_quantity;
} import_result;

/*
 * Parses path. All or nothing: on FR_OK *out owns every row (possibly none:
 * an empty or header-only file is FR_OK with 0 rows); on any bad record the
 * result is FR_EINVAL, *out stays NULL and errbuf gets up to max_errors
 * "FILE:LINE: reason" messages joined by '\n' (max_errors 0 counts as 1; a
 * last line says how many more were found). A broken header (bad quoting,
 * a kept column named twice, a required one missing) stops at once.
 * FR_ENOENT if path does not exist, FR_ESYS on another open or read failure,
 * FR_ENOMEM. errbuf is always NUL-terminated when errlen > 0 and is cut on a
 * character boundary. Raw member ids pass through here: they live only in
 * wiped buffers and in *out. Thread-safe (no shared state).
 */
FR_NODISCARD fr_err import_parse(const char *path, uint32_t n_items,
                                 int64_t now_s, size_t max_errors,
                                 import_result **out, char *errbuf,
                                 size_t errlen);

/* Wipes the rows (member ids) with fr_crypto_wipe, frees everything and sets
 * *rp = NULL. Accepts NULL and *rp == NULL. */
void import_result_destroy(import_result **rp);

/* The kept columns and the identifier names, for the data notice.
 * NULL-terminated static arrays; import_kept_columns lists the required
 * columns first, then quantity. */
extern const char *const import_kept_columns[];
extern const char *const import_identifier_names[];

#endif
