/*
 * log.c - the default stderr sink and level handling.
 *
 * Lines look like "2026-11-30T16:50:01.123Z fedrec-aggregator info round: ...".
 * One mutex serialises sink calls so lines from the ZAP thread and the main
 * loop never interleave.
 */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

fr_log_level fr_log_threshold_ = FR_LOG_INFO;

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static fr_log_sink log_sink;
static void *log_sink_arg;
static const char *log_ident = "fedrec";

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

static void
stderr_sink(const char *tag, fr_log_level level, const char *line)
{
    struct timespec ts;
    struct tm tm;
    char stamp[32];

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(stderr, "%s.%03ldZ %s %s %s: %s\n", stamp, ts.tv_nsec / 1000000L,
            log_ident, level_names[level], tag, line);
    fflush(stderr);
}

void
fr_log_emit(fr_log_level level, const char *tag, const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    /* A line from outside data must not forge a second log line. */
    for (char *p = line; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';

    pthread_mutex_lock(&log_lock);
    if (log_sink)
        log_sink(log_sink_arg, level, tag, line);
    else
        stderr_sink(tag, level, line);
    pthread_mutex_unlock(&log_lock);
}
