/*
 * csv.c - the bounded CSV record reader (see csv.h).
 */
#include "csv.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"

fr_err
csv_open(csv_reader *rd, FILE *f, size_t max_record)
{
    memset(rd, 0, sizeof *rd);
    rd->buf = malloc(max_record + 1);
    if (!rd->buf)
        return FR_ENOMEM;
    rd->buf[0] = '\0';
    rd->f = f;
    rd->cap = max_record;
    rd->line = 1;
    return FR_OK;
}

void
csv_close(csv_reader *rd)
{
    if (rd->buf)
        fr_crypto_wipe(rd->buf, rd->cap + 1);
    free(rd->buf);
    rd->buf = NULL;
    rd->len = 0;
}

/* Reads one record into rd->buf (NUL-terminated, line end removed): *got
 * true with *first_line and *flags set, false at end of file. FR_ESYS on a
 * read error (the caller reports it). */
fr_err
csv_read(csv_reader *rd, unsigned long *first_line, int *flags, bool *got)
{
    int c, in_q = 0, quote_seen = 0, at_start = 1, any = 0;

    *got = false;
    rd->len = 0;
    *flags = 0;
    *first_line = rd->line;
    while ((c = getc_unlocked(rd->f)) != EOF) {
        any = 1;
        if (c == '\0')
            *flags |= CSV_NUL;
        if (rd->len < rd->cap)
            rd->buf[rd->len++] = (char)c;
        else
            *flags |= CSV_TOO_LONG;
        if (c == '\n')
            rd->line++;
        if (!rd->started && rd->len <= 3 &&
            !memcmp(rd->buf, "\xEF\xBB\xBF", rd->len))
            continue;     /* a BOM leaves the first field at its start */
        if (quote_seen) { /* inside quotes, the previous byte was '"' */
            quote_seen = 0;
            if (c == '"')
                continue; /* "" stands for one quote */
            in_q = 0;     /* that quote closed the field */
        } else if (in_q) {
            quote_seen = c == '"';
            continue;
        }
        if (c == '\n')
            break;
        if (c == '"' && at_start)
            in_q = 1;
        if (c != ' ' && c != '\t')
            at_start = c == ',';
    }
    if (ferror(rd->f))
        return FR_ESYS;
    if (!any)
        return FR_OK;
    if (in_q && !quote_seen)
        *flags |= CSV_UNTERMINATED;
    while (rd->len &&
           (rd->buf[rd->len - 1] == '\n' || rd->buf[rd->len - 1] == '\r'))
        rd->len--;
    rd->buf[rd->len] = '\0';
    if (!rd->started) { /* a BOM can only open the file */
        rd->started = 1;
        if (rd->len >= 3 && !memcmp(rd->buf, "\xEF\xBB\xBF", 3)) {
            memmove(rd->buf, rd->buf + 3, rd->len - 3 + 1);
            rd->len -= 3;
        }
    }
    *got = true;
    return FR_OK;
}

/* Offset of the first byte that breaks strict UTF-8 (no overlong forms, no
 * surrogates, nothing above U+10FFFF), or len if there is none. */
size_t
csv_utf8_bad_at(const unsigned char *s, size_t len)
{
    size_t i = 0;

    while (i < len) {
        unsigned c = s[i], n, min, cp;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF)
            n = 1, min = 0x80, cp = c & 0x1F;
        else if (c >= 0xE0 && c <= 0xEF)
            n = 2, min = 0x800, cp = c & 0x0F;
        else if (c >= 0xF0 && c <= 0xF4)
            n = 3, min = 0x10000, cp = c & 0x07;
        else
            return i;
        if (len - i <= n)
            return i;
        for (unsigned k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return i;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return i;
        i += n + 1;
    }
    return len;
}

/* Splits rec in place. Spaces before an opening or after a closing quote are
 * tolerated. FR_EPROTO on text after a closing quote, FR_ELIMIT on too many
 * fields. */
fr_err
csv_split(char *rec, csv_fields *fl)
{
    char *r = rec, *w = rec;

    fl->n = 0;
    for (;;) {
        char *q = r;

        if (fl->n == CSV_MAX_FIELDS)
            return FR_ELIMIT;
        fl->f[fl->n++] = w;
        while (*q == ' ' || *q == '\t')
            q++;
        if (*q == '"') {
            for (r = q + 1; *r && !(*r == '"' && r[1] != '"'); r++) {
                if (*r == '"')
                    r++; /* "" */
                *w++ = *r;
            }
            if (*r != '"')
                return FR_EPROTO; /* the reader flags this case first */
            for (r++; *r == ' ' || *r == '\t'; r++)
                ;
            if (*r != ',' && *r != '\0')
                return FR_EPROTO;
        } else {
            while (*r && *r != ',')
                *w++ = *r++;
        }
        if (*r == '\0') {
            *w = '\0';
            return FR_OK;
        }
        *w = '\0';
        w = ++r;
    }
}

char *
csv_trim(char *s)
{
    size_t n;

    while (*s == ' ' || *s == '\t')
        s++;
    n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}
bool
csv_record_problem(const csv_reader *rd, int flags, char why[CSV_REASON_MAX])
{
    size_t bad;

    if (flags & CSV_TOO_LONG)
        snprintf(why, CSV_REASON_MAX, "record longer than %zu bytes",
                 rd->cap);
    else if (flags & CSV_NUL)
        snprintf(why, CSV_REASON_MAX, "contains a NUL byte");
    else if (flags & CSV_UNTERMINATED)
        snprintf(why, CSV_REASON_MAX, "unterminated quoted field");
    else if ((bad = csv_utf8_bad_at((const unsigned char *)rd->buf,
                                    rd->len)) < rd->len)
        snprintf(why, CSV_REASON_MAX,
                 "not valid UTF-8 (byte %zu of the record)", bad + 1);
    else
        return false;
    return true;
}
