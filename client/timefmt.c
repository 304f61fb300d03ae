/*
 * timefmt.c - time formats of import profiles (see timefmt.h).
 *
 * Calendar dates become days since 1970 with the proleptic Gregorian
 * formula (days_from_civil), so UTC and fixed offsets need no C library
 * time zone state; only IANA names go through mktime().
 */
#include "timefmt.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/util.h"

#define YEAR_MIN 1970
#define YEAR_MAX 2100
#define OFFSET_MAX (14 * 3600)


static bool
is_digit(int c)
{
    return c >= '0' && c <= '9';
}

/* Reads between min_d and max_d digits at *p; advances *p. */
static bool
digits(const char **p, int min_d, int max_d, int *out)
{
    int n = 0, v = 0;

    while (n < max_d && is_digit((unsigned char)(*p)[n]))
        v = v * 10 + ((*p)[n++] - '0');
    if (n < min_d)
        return false;
    *p += n;
    *out = v;
    return true;
}

/* ---- formats --------------------------------------------------------- */

fr_err
timefmt_spec(const char *spec, timefmt *out, char *errbuf, size_t errlen)
{
    unsigned seen = 0;

    memset(out, 0, sizeof *out);
    if (!strcmp(spec, "unix") || !strcmp(spec, "unix_ms") ||
        !strcmp(spec, "iso8601")) {
        out->kind = spec[4] == '_' ? TIMEFMT_UNIX_MS
                    : spec[0] == 'u' ? TIMEFMT_UNIX
                                     : TIMEFMT_ISO8601;
        snprintf(out->pattern, sizeof out->pattern, "%s", spec);
        return FR_OK;
    }
    if (strlen(spec) >= sizeof out->pattern) {
        fr_errbuf_set(errbuf, errlen, "time format longer than %d characters",
               TIMEFMT_SPEC_MAX - 1);
        return FR_EINVAL;
    }
    for (const char *p = spec; *p; p++) {
        const char *d;

        if (*p != '%')
            continue;
        if (*++p == '%')
            continue;
        if (!*p || !(d = strchr("YmdHMS", *p))) {
            fr_errbuf_set(errbuf, errlen,
                   "time format '%s': only %%Y %%m %%d %%H %%M %%S and %%%% "
                   "are known (or unix, unix_ms, iso8601)",
                   spec);
            return FR_EINVAL;
        }
        if (seen & (1u << (d - "YmdHMS"))) {
            fr_errbuf_set(errbuf, errlen, "time format '%s' names %%%c twice", spec,
                   *p);
            return FR_EINVAL;
        }
        seen |= 1u << (d - "YmdHMS");
    }
    if ((seen & 7u) != 7u) {
        fr_errbuf_set(errbuf, errlen,
               "time format '%s' needs %%Y, %%m and %%d (or is one of unix, "
               "unix_ms, iso8601)",
               spec);
        return FR_EINVAL;
    }
    out->kind = TIMEFMT_PATTERN;
    memcpy(out->pattern, spec, strlen(spec) + 1);
    return FR_OK;
}

const char *
timefmt_name(const timefmt *f)
{
    return f->pattern;
}

/* ---- zones ----------------------------------------------------------- */

/* "+HH:MM" or "+HHMM" at *p (sign required); advances *p. */
static bool
read_offset(const char **p, int32_t *out)
{
    const char *q = *p;
    int sign, h, m;

    if (*q != '+' && *q != '-')
        return false;
    sign = *q++ == '-' ? -1 : 1;
    if (!digits(&q, 2, 2, &h))
        return false;
    if (*q == ':')
        q++;
    if (!digits(&q, 2, 2, &m) || m > 59 || h * 3600 + m * 60 > OFFSET_MAX)
        return false;
    *out = sign * (h * 3600 + m * 60);
    *p = q;
    return true;
}

static bool
iana_name_ok(const char *s)
{
    if (!*s || *s == '/' || strstr(s, ".."))
        return false;
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
              is_digit((unsigned char)*s) || strchr("/_+-", *s)))
            return false;
    return true;
}

static bool
iana_exists(const char *name)
{
    const char *dir = getenv("TZDIR");
    char path[512];
    struct stat st;

    if (!dir || !*dir)
        dir = "/usr/share/zoneinfo";
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
        return false;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

fr_err
timefmt_zone_parse(const char *spec, timefmt_zone *out, char *errbuf,
                   size_t errlen)
{
    const char *p = spec;

    memset(out, 0, sizeof *out);
    if (!strcmp(spec, "UTC") || !strcmp(spec, "Z")) {
        snprintf(out->name, sizeof out->name, "UTC");
        return FR_OK;
    }
    if (*spec == '+' || *spec == '-') {
        if (!read_offset(&p, &out->offset_s) || *p) {
            fr_errbuf_set(errbuf, errlen,
                   "time zone '%.20s': an offset is +HH:MM or +HHMM within "
                   "+-14:00",
                   spec);
            return FR_EINVAL;
        }
        out->kind = TIMEFMT_ZONE_FIXED;
        snprintf(out->name, sizeof out->name, "%s", spec);
        return FR_OK;
    }
    if (strlen(spec) >= sizeof out->name || !iana_name_ok(spec) ||
        !iana_exists(spec)) {
        fr_errbuf_set(errbuf, errlen,
               "time zone '%.40s' is not UTC, an offset such as +08:00, or a "
               "zone of the system tz database",
               spec);
        return FR_EINVAL;
    }
    out->kind = TIMEFMT_ZONE_IANA;
    memcpy(out->name, spec, strlen(spec) + 1);
    return FR_OK;
}

/* TZ as it was before we first set it; saved once. */
static struct {
    int saved;
    int had;
    char value[256];
} tz_before;

static void
tz_set(const char *name)
{
    const char *cur = getenv("TZ");

    if (cur && !strcmp(cur, name))
        return;
    if (!tz_before.saved) {
        tz_before.saved = 1;
        tz_before.had = cur != NULL;
        if (cur)
            snprintf(tz_before.value, sizeof tz_before.value, "%s", cur);
    }
    setenv("TZ", name, 1);
    tzset();
}

void
timefmt_zone_end(void)
{
    if (!tz_before.saved)
        return;
    if (tz_before.had)
        setenv("TZ", tz_before.value, 1);
    else
        unsetenv("TZ");
    tzset();
    tz_before.saved = 0;
}

/* ---- reading --------------------------------------------------------- */

typedef struct civil {
    int y, mo, d, h, mi, s;
    int has_offset;
    int32_t offset_s;
} civil;

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t
days_from_civil(int y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int
month_days(int y, int m)
{
    static const int n[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return m == 2 && leap ? 29 : n[m - 1];
}

static timefmt_status
check_civil(const civil *c)
{
    if (c->mo < 1 || c->mo > 12 || c->d < 1 || c->h > 23 || c->mi > 59 ||
        c->s > 59)
        return TIMEFMT_RANGE;
    if (c->y < YEAR_MIN || c->y > YEAR_MAX)
        return TIMEFMT_YEAR;
    if (c->d > month_days(c->y, c->mo))
        return TIMEFMT_RANGE;
    return TIMEFMT_OK;
}

static timefmt_status
local_iana(const civil *c, const char *zone, int64_t *out)
{
    struct tm tm = {0}, back;
    time_t t;

    tz_set(zone);
    tm.tm_year = c->y - 1900;
    tm.tm_mon = c->mo - 1;
    tm.tm_mday = c->d;
    tm.tm_hour = c->h;
    tm.tm_min = c->mi;
    tm.tm_sec = c->s;
    tm.tm_isdst = -1;
    t = mktime(&tm);
    if (!localtime_r(&t, &back) || back.tm_year != c->y - 1900 ||
        back.tm_mon != c->mo - 1 || back.tm_mday != c->d ||
        back.tm_hour != c->h || back.tm_min != c->mi || back.tm_sec != c->s)
        return TIMEFMT_NO_LOCAL;
    *out = (int64_t)t;
    return TIMEFMT_OK;
}

static timefmt_status
civil_to_unix(const civil *c, const timefmt_zone *z, int64_t *out)
{
    timefmt_status st = check_civil(c);
    int64_t t;

    if (st)
        return st;
    t = days_from_civil(c->y, c->mo, c->d) * 86400 + c->h * 3600 +
        c->mi * 60 + c->s;
    if (c->has_offset)
        t -= c->offset_s;
    else if (z->kind == TIMEFMT_ZONE_FIXED)
        t -= z->offset_s;
    else if (z->kind == TIMEFMT_ZONE_IANA &&
             (st = local_iana(c, z->name, &t)))
        return st;
    if (t < 0)
        return TIMEFMT_NEGATIVE;
    *out = t;
    return TIMEFMT_OK;
}

static timefmt_status
read_iso(const char *p, civil *c)
{
    int ignored;

    if (!digits(&p, 4, 4, &c->y) || *p++ != '-' ||
        !digits(&p, 2, 2, &c->mo) || *p++ != '-' ||
        !digits(&p, 2, 2, &c->d) || (*p != 'T' && *p != ' '))
        return TIMEFMT_SYNTAX;
    p++;
    if (!digits(&p, 2, 2, &c->h) || *p++ != ':' || !digits(&p, 2, 2, &c->mi))
        return TIMEFMT_SYNTAX;
    if (*p == ':') {
        p++;
        if (!digits(&p, 2, 2, &c->s))
            return TIMEFMT_SYNTAX;
        if (*p == '.') {
            p++;
            if (!digits(&p, 1, 9, &ignored))
                return TIMEFMT_SYNTAX;
        }
    }
    if (*p == 'Z')
        c->has_offset = 1, p++;
    else if (*p == '+' || *p == '-') {
        if (!read_offset(&p, &c->offset_s))
            return TIMEFMT_SYNTAX;
        c->has_offset = 1;
    }
    return *p ? TIMEFMT_SYNTAX : TIMEFMT_OK;
}

static timefmt_status
read_pattern(const char *pat, const char *p, civil *c)
{
    for (; *pat; pat++) {
        int *field = NULL;

        if (*pat != '%' || pat[1] == '%') {
            pat += *pat == '%';
            if (*p++ != *pat)
                return TIMEFMT_SYNTAX;
            continue;
        }
        switch (*++pat) {
        case 'Y': field = &c->y; break;
        case 'm': field = &c->mo; break;
        case 'd': field = &c->d; break;
        case 'H': field = &c->h; break;
        case 'M': field = &c->mi; break;
        default: field = &c->s; break;
        }
        if (!digits(&p, *pat == 'Y' ? 4 : 1, *pat == 'Y' ? 4 : 2, field))
            return TIMEFMT_SYNTAX;
    }
    return *p ? TIMEFMT_SYNTAX : TIMEFMT_OK;
}

static timefmt_status
read_unix(const char *s, int64_t div, int64_t *out)
{
    const char *d = *s == '-' ? s + 1 : s;
    int64_t v;

    if (!*d)
        return TIMEFMT_SYNTAX;
    for (const char *p = d; *p; p++)
        if (!is_digit((unsigned char)*p))
            return TIMEFMT_SYNTAX;
    if (fr_parse_i64(s, INT64_MIN, INT64_MAX, &v))
        return TIMEFMT_SYNTAX;
    if (v < 0)
        return TIMEFMT_NEGATIVE;
    *out = v / div;
    return TIMEFMT_OK;
}

timefmt_status
timefmt_read(const timefmt *f, const timefmt_zone *z, const char *text,
             int64_t *out)
{
    civil c = {0};
    timefmt_status st;

    switch (f->kind) {
    case TIMEFMT_UNIX: return read_unix(text, 1, out);
    case TIMEFMT_UNIX_MS: return read_unix(text, 1000, out);
    case TIMEFMT_ISO8601: st = read_iso(text, &c); break;
    default: st = read_pattern(f->pattern, text, &c); break;
    }
    return st ? st : civil_to_unix(&c, z, out);
}

const char *
timefmt_why(timefmt_status st)
{
    switch (st) {
    case TIMEFMT_OK: return "is a valid time";
    case TIMEFMT_SYNTAX: return "does not match the time format";
    case TIMEFMT_RANGE: return "is not a valid date or time";
    case TIMEFMT_YEAR: return "has a year outside 1970..2100";
    case TIMEFMT_NEGATIVE: return "is before 1970";
    case TIMEFMT_NO_LOCAL: return "does not exist in the time zone";
    }
    return "is not a valid time";
}
