/*
 * importer_int.h - what importer.c (the file, records, header) shares with
 * importer_row.c (one data row under the profile's policy).
 */
#ifndef FR_CLIENT_IMPORTER_INT_H
#define FR_CLIENT_IMPORTER_INT_H

#include <stdbool.h>

#include "csv.h"
#include "importer.h"

typedef csv_fields fields;
_Static_assert(CSV_MAX_FIELDS == IMPORT_MAX_COLUMNS,
               "the reader splits as many fields as a header may name");

/* The columns a profile maps: stored ones first, then read-only ones. */
enum {
    COL_MEMBER,
    COL_ITEM,
    COL_TIME,
    COL_QUANTITY,
    COL_PRICE,
    COL_INVOICE,
    COL_STORE,
    N_COLS,
    N_STORED = COL_PRICE,
};

typedef struct schema {
    int col[N_COLS]; /* field index of each mapped column, -1 if absent */
    const char *name[N_COLS]; /* the profile's header name, "" if unmapped */
    size_t n_fields;
} schema;

/* Everything one row is judged by. */
typedef struct row_policy {
    const import_profile *prof;
    const canon_policy *canon;
    uint32_t n_items;
    int64_t now_s;
    int strict; /* import_parse_legacy */
} row_policy;

typedef enum row_outcome {
    ROW_BAD,
    ROW_PURCHASE,
    ROW_RETURN,
    ROW_GUEST,
    ROW_NON_PRODUCT,
    ROW_ZERO,
} row_outcome;

#define ROW_REASON_MAX 512

/* Judges one record with as many fields as the header. ROW_BAD with the
 * reasons ("; "-joined) in reason; else row is filled for the two kept
 * outcomes (wiped for the others). */
row_outcome import_judge_row(const fields *fl, const schema *sc,
                             const row_policy *pol, import_row *row,
                             char reason[ROW_REASON_MAX]);

/* Trims spaces and tabs in place. */
char *import_trim(char *s);
bool import_equal_nocase(const char *a, const char *b);

#endif
