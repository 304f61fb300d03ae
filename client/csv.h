/*
 * csv.h - a bounded CSV record reader for files from outside (RFC 4180).
 *
 * One record at a time through a fixed buffer (max_record bytes, line ends
 * included), so a hostile file cannot make the reader allocate without
 * bound. The reader follows the quote state byte by byte to find where a
 * record ends (a quoted field may hold a newline), removes the line end
 * (LF or CRLF) and a UTF-8 BOM opening the file, and flags a record that is
 * too long, holds a NUL byte or leaves a quote open; csv_record_problem
 * adds strict UTF-8 and turns the flags into a reason. csv_split then cuts
 * the record into fields in place, unquoting them.
 *
 * The buffer holds raw file bytes (member ids among them): csv_close wipes
 * it before freeing it.
 */
#ifndef FR_CLIENT_CSV_H
#define FR_CLIENT_CSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "base/err.h"

#define CSV_MAX_FIELDS 256
#define CSV_REASON_MAX 96

enum {
    CSV_TOO_LONG = 1,
    CSV_NUL = 2,
    CSV_UNTERMINATED = 4,
};

typedef struct csv_reader {
    FILE *f;
    char *buf; /* the current record, NUL-terminated; cap + 1 bytes */
    size_t cap, len;
    unsigned long line; /* physical line of the next byte */
    int started;
} csv_reader;

typedef struct csv_fields {
    char *f[CSV_MAX_FIELDS];
    size_t n;
} csv_fields;

/* Reads f (not owned) from its first line with records of at most
 * max_record bytes. FR_ENOMEM. */
FR_NODISCARD fr_err csv_open(csv_reader *rd, FILE *f, size_t max_record);
/* Wipes and frees the buffer; rd may be zeroed or closed already. */
void csv_close(csv_reader *rd);

/* Reads one record into rd->buf (line end removed): *got true with
 * *first_line (its first physical line) and *flags (CSV_*) set, false at
 * end of file. FR_ESYS on a read error (the caller reports it). */
FR_NODISCARD fr_err csv_read(csv_reader *rd, unsigned long *first_line,
                             int *flags, bool *got);

/* True if the record just read is broken (too long, NUL, open quote, not
 * strict UTF-8), with the reason in why (no bytes of the record in it). */
bool csv_record_problem(const csv_reader *rd, int flags,
                        char why[CSV_REASON_MAX]);

/* Offset of the first byte that breaks strict UTF-8 (no overlong forms, no
 * surrogates, nothing above U+10FFFF), or len if there is none. */
size_t csv_utf8_bad_at(const unsigned char *s, size_t len);

/* Splits rec in place into unquoted fields ("" stands for one quote).
 * Spaces before an opening or after a closing quote are tolerated.
 * FR_EPROTO on text after a closing quote (or an unclosed one), FR_ELIMIT
 * on more than CSV_MAX_FIELDS fields. */
FR_NODISCARD fr_err csv_split(char *rec, csv_fields *fl);

/* Trims spaces and tabs in place. */
char *csv_trim(char *s);

#endif
