/*
 * log.c - the default stderr sink and level handling.
 *
 * Human lines look like
 *   2026-11-30T16:50:01.123Z fedrec-aggregator info round: ...
 * JSON lines like
 *   {"ts":"2026-11-30T16:50:01.123Z","level":"info","src":"fedrec-aggregator",
 *    "tag":"round","event":"round_completed","msg":"...","round":3,...}
 * One mutex serialises sink calls so lines from the ZAP thread and the main
 * loop never interleave.
 */
#include "log.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

fr_log_level fr_log_threshold_ = FR_LOG_INFO;

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static fr_log_sink log_sink;
static void *log_sink_arg;
static const char *log_ident = "fedrec";
static fr_log_format log_format = FR_LOG_HUMAN;

static const char *const level_names[] = {"err", "warn", "notice", "info",
                                          "debug"};

void
fr_log_set_level(fr_log_level level)
{
    fr_log_threshold_ = level;
}

fr_err
fr_log_level_parse(const char *name, fr_log_level *out)
{
    for (size_t i = 0; i < sizeof level_names / sizeof level_names[0]; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (fr_log_level)i;
            return FR_OK;
        }
    }
    return FR_EINVAL;
}

void
fr_log_set_sink(fr_log_sink sink, void *arg)
{
    pthread_mutex_lock(&log_lock);
    log_sink = sink;
    log_sink_arg = arg;
    pthread_mutex_unlock(&log_lock);
}

void
fr_log_set_ident(const char *ident)
{
    log_ident = ident ? ident : "fedrec";
}

void
fr_log_set_format(fr_log_format format)
{
    log_format = format;
}

fr_err
fr_log_format_parse(const char *name, fr_log_format *out)
{
    if (strcmp(name, "human") == 0)
        *out = FR_LOG_HUMAN;
    else if (strcmp(name, "json") == 0)
        *out = FR_LOG_JSON;
    else
        return FR_EINVAL;
    return FR_OK;
}

/* A bounded writer that never splits an escape sequence: once a piece
 * does not fit, everything after it is dropped. */
typedef struct jbuf {
    char *p;
    size_t len, cap; /* cap excludes the room kept for the closing "}" */
    int full;
} jbuf;

static void
jput(jbuf *b, const char *s, size_t n)
{
    if (b->full || b->len + n > b->cap) {
        b->full = 1;
        return;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void
jstr(jbuf *b, const char *s, size_t n)
{
    char piece[8];

    jput(b, "\"", 1);
    for (size_t i = 0; i < n && !b->full; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') {
            piece[0] = '\\';
            piece[1] = (char)ch;
            jput(b, piece, 2);
        } else if (ch < 0x20 || ch == 0x7f) {
            snprintf(piece, sizeof piece, "\\u%04x", ch);
            jput(b, piece, 6);
        } else {
            jput(b, (const char *)&ch, 1);
        }
    }
    if (!b->full)
        jput(b, "\"", 1);
}

static void
jmember(jbuf *b, const char *key, const char *val)
{
    size_t mark = b->len;

    jput(b, ",", 1);
    jstr(b, key, strlen(key));
    jput(b, ":", 1);
    jstr(b, val, strlen(val));
    if (b->full)
        b->len = mark;
}

static int
is_number(const char *s, size_t n)
{
    char tmp[64], *end;
    double v;

    if (n == 0 || n >= sizeof tmp || !(isdigit((unsigned char)s[0]) ||
                                       (s[0] == '-' && n > 1)))
        return 0;
    memcpy(tmp, s, n);
    tmp[n] = 0;
    if (strchr(tmp, 'x') || strchr(tmp, 'X'))
        return 0;
    v = strtod(tmp, &end);
    return *end == 0 && isfinite(v);
}

static const char *const reserved_keys[] = {"ts", "level", "src", "tag",
                                            "event", "msg"};

/* Adds a member for each KEY=VALUE token of line: KEY is [a-z_][a-z0-9_]*
 * after a space or the start; VALUE runs to the next space (a trailing
 * ',', ';' or ')' is not part of it) or is "quoted". */
static void
jfields(jbuf *b, const char *line)
{
    const char *p = line;
    char seen[16][32];
    size_t n_seen = 0;

    while (*p && !b->full) {
        const char *k = p, *v, *ve;
        size_t kn = 0, vn;
        int dup = 0;

        if (p != line && p[-1] != ' ') {
            p++;
            continue;
        }
        while (islower((unsigned char)k[kn]) || k[kn] == '_' ||
               (kn && isdigit((unsigned char)k[kn])))
            kn++;
        if (kn == 0 || kn >= 32 || k[kn] != '=') {
            p++;
            continue;
        }
        v = k + kn + 1;
        if (*v == '"') {
            v++;
            ve = strchr(v, '"');
            if (!ve)
                ve = v + strlen(v);
            p = *ve ? ve + 1 : ve;
        } else {
            ve = v;
            while (*ve && *ve != ' ')
                ve++;
            p = ve;
            while (ve > v && (ve[-1] == ',' || ve[-1] == ';' ||
                              ve[-1] == ')'))
                ve--;
        }
        vn = (size_t)(ve - v);
        for (size_t i = 0; i < sizeof reserved_keys / sizeof *reserved_keys;
             i++)
            dup |= strlen(reserved_keys[i]) == kn &&
                   memcmp(reserved_keys[i], k, kn) == 0;
        for (size_t i = 0; i < n_seen && !dup; i++)
            dup = strlen(seen[i]) == kn && memcmp(seen[i], k, kn) == 0;
        if (dup || n_seen == 16)
            continue;
        memcpy(seen[n_seen], k, kn);
        seen[n_seen++][kn] = 0;
        {
            size_t mark = b->len;
            jput(b, ",", 1);
            jstr(b, k, kn);
            jput(b, ":", 1);
            if (is_number(v, vn))
                jput(b, v, vn);
            else
                jstr(b, v, vn);
            if (b->full) {
                b->len = mark;
                return;
            }
        }
    }
}

size_t
fr_log_format_json(char *out, size_t cap, const char *stamp,
                   const char *ident, fr_log_level level, const char *tag,
                   const char *event, const char *line)
{
    jbuf b = {out, 0, cap > 2 ? cap - 2 : 0, 0};

    if (cap < 3) {
        if (cap)
            out[0] = 0;
        return 0;
    }
    jput(&b, "{\"ts\":", 6);
    jstr(&b, stamp, strlen(stamp));
    b.full = 0; /* the members below drop out whole if they do not fit */
    jmember(&b, "level", level_names[level]);
    jmember(&b, "src", ident);
    jmember(&b, "tag", tag);
    jmember(&b, "event", event ? event : tag);
    jmember(&b, "msg", line);
    b.full = 0;
    jfields(&b, line);
    out[b.len++] = '}';
    out[b.len] = 0;
    return b.len;
}

static void
stderr_sink(const char *tag, const char *event, fr_log_level level,
            const char *line)
{
    struct timespec ts;
    struct tm tm;
    char stamp[64], day[32];

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(stamp, sizeof stamp, "%s.%03ldZ", day, ts.tv_nsec / 1000000L);
    if (log_format == FR_LOG_JSON) {
        char obj[4096];
        fr_log_format_json(obj, sizeof obj, stamp, log_ident, level, tag,
                           event, line);
        fprintf(stderr, "%s\n", obj);
    } else {
        fprintf(stderr, "%s %s %s %s: %s\n", stamp, log_ident,
                level_names[level], tag, line);
    }
    fflush(stderr);
}

static void
emit(fr_log_level level, const char *tag, const char *event, const char *fmt,
     va_list ap)
{
    char line[1024];

    vsnprintf(line, sizeof line, fmt, ap);
    /* A line from outside data must not forge a second log line. */
    for (char *p = line; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';

    pthread_mutex_lock(&log_lock);
    if (log_sink)
        log_sink(log_sink_arg, level, tag, line);
    else
        stderr_sink(tag, event, level, line);
    pthread_mutex_unlock(&log_lock);
}

void
fr_log_emit(fr_log_level level, const char *tag, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    emit(level, tag, NULL, fmt, ap);
    va_end(ap);
}

void
fr_log_event(fr_log_level level, const char *tag, const char *event,
             const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    emit(level, tag, event, fmt, ap);
    va_end(ap);
}
