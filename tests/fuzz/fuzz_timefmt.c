/*
 * fuzz_timefmt.c - the time formats and zones of an import profile
 * (client/timefmt.c). Input: a format spec, '\n', a zone, '\n', then the
 * time text. Properties: a refused spec or zone says why; an accepted
 * spec's name reads back as the same format; a time read without error is
 * not negative, and a zone-less format under UTC and under a fixed offset
 * differ by exactly that offset (or both refuse).
 */
#include <string.h>

#include "fuzz.h"
#include "timefmt.h"

FR_FUZZ_NO_INIT

/* The next '\n'-ended piece of [*p, end) as a NUL-terminated copy. */
static char *
piece(const uint8_t **p, const uint8_t *end)
{
    const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
    size_t n = nl ? (size_t)(nl - *p) : (size_t)(end - *p);
    char *s = malloc(n + 1);

    FR_FUZZ_CHECK(s != NULL);
    memcpy(s, *p, n);
    s[n] = 0;
    *p += n + (nl != NULL);
    return s;
}

static void
check_utc_vs_offset(const timefmt *f, const char *text)
{
    timefmt_zone utc, east;
    char err[256];
    int64_t a, b;
    timefmt_status sa, sb;

    FR_FUZZ_CHECK(timefmt_zone_parse("UTC", &utc, err, sizeof err) == FR_OK);
    FR_FUZZ_CHECK(timefmt_zone_parse("+05:30", &east, err, sizeof err) ==
                  FR_OK);
    sa = timefmt_read(f, &utc, text, &a);
    sb = timefmt_read(f, &east, text, &b);
    if (sa == TIMEFMT_OK)
        FR_FUZZ_CHECK(a >= 0);
    if (sb == TIMEFMT_OK)
        FR_FUZZ_CHECK(b >= 0);
    if (f->kind == TIMEFMT_UNIX || f->kind == TIMEFMT_UNIX_MS) {
        FR_FUZZ_CHECK(sa == sb && (sa != TIMEFMT_OK || a == b));
    } else if (sa == TIMEFMT_OK && sb == TIMEFMT_OK) {
        /* an explicit offset in the text makes the zone irrelevant */
        FR_FUZZ_CHECK(a == b || a - b == 5 * 3600 + 1800);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *p = data, *end = data + size;
    char *spec = piece(&p, end), *zone = piece(&p, end);
    char *text = piece(&p, end), err[256] = "";
    timefmt f, again;
    timefmt_zone z;
    int64_t t;

    if (timefmt_spec(spec, &f, err, sizeof err) != FR_OK) {
        FR_FUZZ_CHECK(err[0] != 0);
        goto out;
    }
    FR_FUZZ_CHECK(timefmt_spec(timefmt_name(&f), &again, err, sizeof err) ==
                      FR_OK &&
                  again.kind == f.kind &&
                  strcmp(again.pattern, f.pattern) == 0);
    check_utc_vs_offset(&f, text);
    err[0] = 0;
    /* IANA names would read the tz database: only UTC and offsets here */
    if (strchr(zone, '/') == NULL &&
        timefmt_zone_parse(zone, &z, err, sizeof err) == FR_OK) {
        timefmt_status st = timefmt_read(&f, &z, text, &t);
        FR_FUZZ_CHECK(timefmt_why(st) != NULL);
        if (st == TIMEFMT_OK)
            FR_FUZZ_CHECK(t >= 0);
    }
out:
    timefmt_zone_end();
    free(spec);
    free(zone);
    free(text);
    return 0;
}
