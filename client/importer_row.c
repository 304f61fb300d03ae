/*
 * importer_row.c - one data row under the profile's policy (importer.h):
 * every field is validated, then the row gets exactly one outcome. Reasons
 * name the column and what is wrong, never the value.
 */
#include "importer_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/util.h"
#include "crypto/crypto.h"

typedef struct reasons {
    char *text;
    size_t len;
} reasons;

static void reason(reasons *r, const char *fmt, ...) FR_PRINTF(2, 3);

static void
reason(reasons *r, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (r->len)
        r->len +=
            (size_t)snprintf(r->text + r->len, ROW_REASON_MAX - r->len, "; ");
    if (r->len >= ROW_REASON_MAX) {
        r->len = ROW_REASON_MAX - 1;
        return;
    }
    va_start(ap, fmt);
    n = vsnprintf(r->text + r->len, ROW_REASON_MAX - r->len, fmt, ap);
    va_end(ap);
    r->len += n > 0 ? (size_t)n : 0;
    if (r->len >= ROW_REASON_MAX)
        r->len = ROW_REASON_MAX - 1;
}

/* Strict decimal integer: optional '-', digits, no overflow. */
static bool
parse_int(const char *s, int64_t *out)
{
    const char *d = *s == '-' ? s + 1 : s;

    if (!*d)
        return false;
    for (const char *p = d; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    return fr_parse_i64(s, INT64_MIN, INT64_MAX, out) == FR_OK;
}

/* [+-]DIGITS[.D{1,3}] with |value| <= UINT32_MAX, in thousandths. */
static bool
parse_milli(const char *s, int64_t *out)
{
    int64_t v = 0, frac = 0, sign = *s == '-' ? -1 : 1;
    int nd = 0, nf = 0;

    s += *s == '-' || *s == '+';
    for (; *s >= '0' && *s <= '9'; s++, nd++)
        if ((v = v * 10 + (*s - '0')) > (int64_t)UINT32_MAX)
            return false;
    if (*s == '.') {
        for (s++; *s >= '0' && *s <= '9'; s++, nf++) {
            if (nf == 3)
                return false;
            frac = frac * 10 + (*s - '0');
        }
    }
    if (*s || !nd || (nf == 0 && s[-1] == '.'))
        return false;
    while (nf++ < 3)
        frac *= 10;
    *out = sign * (v * 1000 + frac);
    return true;
}

static bool
has_control(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    for (; *p; p++) {
        if (*p < 0x20 || *p == 0x7F)
            return true;
        if (*p == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F) /* C1 controls */
            return true;
    }
    return false;
}

/* ---- the fields ------------------------------------------------------ */

/* The member id: *guest when there is none; row->member_id canonical. */
static void
judge_member(const char *id, const char *col, const row_policy *pol,
             import_row *row, bool *guest, reasons *r)
{
    *guest = false;
    if (!*id) {
        if (pol->strict)
            reason(r, "%s is empty", col);
        *guest = true;
    } else if (strlen(id) >= IMPORT_MEMBER_ID_MAX)
        reason(r, "%s is longer than %d bytes", col, IMPORT_MEMBER_ID_MAX - 1);
    else if (has_control(id))
        reason(r, "%s contains control characters", col);
    else if (canon_apply(pol->canon, id, strlen(id), row->member_id,
                         sizeof row->member_id))
        reason(r, "%s is too long after canonicalisation", col);
    else
        *guest = !*row->member_id ||
                 (pol->prof->has_guest_ids &&
                  !regexec(&pol->prof->guest_ids, row->member_id, 0, NULL, 0));
}

static void
judge_sku(const char *s, const char *col, const row_policy *pol,
          import_row *row, bool *drop, reasons *r)
{
    int64_t v;
    size_t n = strlen(s);

    *drop = false;
    row->item = UINT32_MAX;
    if (!n)
        reason(r, "%s is empty", col);
    else if (n >= IMPORT_SKU_MAX)
        reason(r, "%s is longer than %d bytes", col, IMPORT_SKU_MAX - 1);
    else if (has_control(s))
        reason(r, "%s contains control characters", col);
    else {
        if (parse_int(s, &v) && v >= 0 && v < (int64_t)pol->n_items)
            row->item = (uint32_t)v;
        else if (pol->strict)
            reason(r, "%s is not an integer in [0, %u)", col, pol->n_items);
        memcpy(row->sku, s, n + 1);
        for (size_t i = 0; pol->prof->sku_upper && i < n; i++)
            if (row->sku[i] >= 'a' && row->sku[i] <= 'z')
                row->sku[i] = (char)(row->sku[i] - 'a' + 'A');
        *drop = pol->prof->has_drop_items &&
                !regexec(&pol->prof->drop_items, s, 0, NULL, 0);
    }
}

/* "timestamp" keeps the messages the importer always had. */
static void
time_reason(reasons *r, const char *col, const char *what, const char *hint)
{
    if (import_equal_nocase(col, "timestamp"))
        reason(r, "%s timestamp%s", what, hint);
    else
        reason(r, "%s: %s time%s", col, what, hint);
}

static void
time_failed(const import_profile *p, const char *col, timefmt_status st,
            reasons *r)
{
    timefmt_kind k = p->formats[0].kind;

    if (st == TIMEFMT_NEGATIVE && (k == TIMEFMT_UNIX || k == TIMEFMT_UNIX_MS))
        time_reason(r, col, "negative", "");
    else if (st != TIMEFMT_SYNTAX)
        reason(r, "%s %s", col, timefmt_why(st));
    else if (p->n_formats == 1 && k == TIMEFMT_UNIX)
        reason(r, "%s is not an integer unix time in seconds", col);
    else if (p->n_formats == 1 && k == TIMEFMT_UNIX_MS)
        reason(r, "%s is not an integer unix time in milliseconds", col);
    else if (p->n_formats == 1)
        reason(r, "%s does not match the time format %s", col,
               timefmt_name(&p->formats[0]));
    else
        reason(r, "%s matches none of the %zu time formats", col, p->n_formats);
}

static void
judge_time(const char *s, const char *col, const row_policy *pol,
           import_row *row, reasons *r)
{
    const import_profile *p = pol->prof;
    int64_t v = 0, latest = pol->now_s > INT64_MAX - 86400 ? INT64_MAX
                                                           : pol->now_s + 86400;
    timefmt_status st = TIMEFMT_SYNTAX, got;
    size_t i;

    if (!*s) {
        reason(r, "%s is empty", col);
        return;
    }
    for (i = 0; i < p->n_formats; i++) {
        if ((got = timefmt_read(&p->formats[i], &p->zone, s, &v)) == TIMEFMT_OK)
            break;
        if (st == TIMEFMT_SYNTAX)
            st = got; /* the first reason beyond the shape */
    }
    if (i == p->n_formats)
        time_failed(p, col, st, r);
    else if (v > latest)
        time_reason(r, col, "future",
                    p->formats[i].kind == TIMEFMT_UNIX && v / 1000 <= latest
                        ? " (milliseconds instead of seconds?)"
                        : "");
    else
        row->timestamp = v;
}

static void
judge_quantity(const char *s, const char *col, const row_policy *pol,
               import_row *row, reasons *r)
{
    int64_t v;

    if (!*s)
        reason(r, "%s is empty", col);
    else if (pol->strict && (!parse_int(s, &v) || v < 1 || v > UINT32_MAX))
        reason(r, "%s is not an integer >= 1", col);
    else if (!pol->strict && !parse_milli(s, &row->qty_milli))
        reason(r, "%s is not a number with at most 3 decimals below 2^32", col);
    else if (pol->strict)
        row->qty_milli = v * 1000;
}

/* ---- the row --------------------------------------------------------- */

static char *
field(const fields *fl, const schema *sc, int k)
{
    return sc->col[k] >= 0 ? import_trim(fl->f[sc->col[k]]) : NULL;
}

static bool
cancelled(const char *invoice, const import_profile *p)
{
    size_t n = strlen(p->conf.invoice_cancel_prefix);

    return invoice && n &&
           !strncasecmp(invoice, p->conf.invoice_cancel_prefix, n);
}

row_outcome
import_judge_row(const fields *fl, const schema *sc, const row_policy *pol,
                 import_row *row, char reason_text[ROW_REASON_MAX])
{
    reasons r = {.text = reason_text, .len = 0};
    const char *q = field(fl, sc, COL_QUANTITY);
    bool guest, drop;

    reason_text[0] = '\0';
    memset(row, 0, sizeof *row);
    row->qty_milli = 1000;
    judge_member(field(fl, sc, COL_MEMBER), sc->name[COL_MEMBER], pol, row,
                 &guest, &r);
    judge_sku(field(fl, sc, COL_ITEM), sc->name[COL_ITEM], pol, row, &drop, &r);
    judge_time(field(fl, sc, COL_TIME), sc->name[COL_TIME], pol, row, &r);
    if (q)
        judge_quantity(q, sc->name[COL_QUANTITY], pol, row, &r);
    if (r.len || guest || drop || row->qty_milli == 0) {
        fr_crypto_wipe(row, sizeof *row);
        return r.len   ? ROW_BAD
               : guest ? ROW_GUEST
               : drop  ? ROW_NON_PRODUCT
                       : ROW_ZERO;
    }
    if (cancelled(field(fl, sc, COL_INVOICE), pol->prof) && row->qty_milli > 0)
        row->qty_milli = -row->qty_milli;
    if (row->qty_milli > 0 && row->qty_milli % 1000 == 0)
        row->quantity = (uint32_t)(row->qty_milli / 1000);
    return row->qty_milli < 0 ? ROW_RETURN : ROW_PURCHASE;
}
