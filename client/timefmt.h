/*
 * timefmt.h - the time formats an import profile may name, parsed into unix
 * seconds UTC.
 *
 * Formats (timefmt_spec):
 *   unix      integer seconds since 1970-01-01 UTC, >= 0
 *   unix_ms   integer milliseconds since then, >= 0 (cut to whole seconds)
 *   iso8601   YYYY-MM-DD[T ]HH:MM[:SS[.f...]] then optionally Z, +HH:MM,
 *             -HH:MM, +HHMM or -HHMM; fraction digits (up to 9) are dropped
 *   a pattern with %Y (4 digits), %m %d %H %M %S (1 or 2 digits) and %%;
 *             any other byte matches itself; %Y %m %d are required
 *             ("%m/%d/%Y %H:%M" reads "12/1/2010 8:26")
 * Calendar fields are checked (month 1..12, a day that exists in its month,
 * hour 0..23, minute 0..59, second 0..59) and the year must be in
 * 1970..2100. The unix formats have no upper bound here (the importer
 * checks times against the clock).
 *
 * Zone (timefmt_zone_parse), for times that do not carry an offset:
 *   UTC (or Z), a fixed offset "+08:00" / "-0530", or an IANA name such as
 *   "Asia/Taipei" read from the system tz database (TZDIR or
 *   /usr/share/zoneinfo). An IANA zone works through TZ, tzset() and
 *   mktime(): timefmt_read sets the process's TZ to the zone (restore it
 *   with timefmt_zone_end). That is process-wide state, fine for the
 *   single-threaded command-line import; do not parse IANA-zoned times
 *   from several threads. A local time that does not exist (skipped by a
 *   clock change) is refused; one that exists twice takes the C library's
 *   choice.
 */
#ifndef FR_CLIENT_TIMEFMT_H
#define FR_CLIENT_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define TIMEFMT_SPEC_MAX 64 /* a format or zone as text, NUL included */

typedef enum timefmt_kind {
    TIMEFMT_UNIX,
    TIMEFMT_UNIX_MS,
    TIMEFMT_ISO8601,
    TIMEFMT_PATTERN,
} timefmt_kind;

typedef struct timefmt {
    timefmt_kind kind;
    char pattern[TIMEFMT_SPEC_MAX];
} timefmt;

typedef enum timefmt_zone_kind {
    TIMEFMT_ZONE_UTC,
    TIMEFMT_ZONE_FIXED,
    TIMEFMT_ZONE_IANA,
} timefmt_zone_kind;

typedef struct timefmt_zone {
    timefmt_zone_kind kind;
    int32_t offset_s; /* FIXED: seconds east of UTC */
    char name[TIMEFMT_SPEC_MAX];
} timefmt_zone;

/* Why a time was refused; TIMEFMT_OK is 0. */
typedef enum timefmt_status {
    TIMEFMT_OK = 0,
    TIMEFMT_SYNTAX,   /* does not have the format's shape */
    TIMEFMT_RANGE,    /* a field out of range: month 13, 2010-02-30, 24:00 */
    TIMEFMT_YEAR,     /* year outside 1970..2100 */
    TIMEFMT_NEGATIVE, /* a unix time below 0, or before 1970 after the zone */
    TIMEFMT_NO_LOCAL, /* does not exist in the zone (clock change) */
} timefmt_status;

/* Reads a format name or pattern. FR_EINVAL with a message for an unknown
 * name, a pattern without %Y %m %d, a repeated or unknown directive, or
 * text too long. */
FR_NODISCARD fr_err timefmt_spec(const char *spec, timefmt *out, char *errbuf,
                                 size_t errlen);

/* Reads a zone: "UTC", "Z", "+08:00", "-0530" (within +-14:00) or an IANA
 * name that exists in the tz database. FR_EINVAL with a message otherwise. */
FR_NODISCARD fr_err timefmt_zone_parse(const char *spec, timefmt_zone *out,
                                       char *errbuf, size_t errlen);

/* Parses text (already trimmed) in format f; zone z applies when the text
 * has no offset of its own (unix times are UTC by definition). */
timefmt_status timefmt_read(const timefmt *f, const timefmt_zone *z,
                            const char *text, int64_t *out);

/* A short phrase for a status, to follow a column name: "does not match
 * the time format", "is not a valid date or time", ... */
const char *timefmt_why(timefmt_status st);

/* Puts TZ back as it was before the first IANA-zoned timefmt_read. */
void timefmt_zone_end(void);

/* The format as text, as timefmt_spec reads it. */
const char *timefmt_name(const timefmt *f);

#endif
