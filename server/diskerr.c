/*
 * diskerr.c - counting and rate-limited logging of failed state-file
 * writes (see diskerr.h).
 */
#include "diskerr.h"

#include <pthread.h>
#include <stdint.h>

#include "base/log.h"
#include "base/util.h"

#define TAG "disk"

typedef struct streak {
    uint64_t failures;    /* since the last success */
    uint64_t unlogged;    /* failures not yet mentioned in a log line */
    int64_t last_log_ms;
} streak;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static streak g_streak[AGG_DISK_N];

void
agg_disk_failed(agg_stats *stats, agg_disk_file f, const char *path,
                fr_err rc, const char *detail)
{
    int64_t now = fr_clock_ms();
    uint64_t failures = 0, unlogged = 0;
    int log_first = 0, log_again = 0;

    if ((unsigned)f >= AGG_DISK_N)
        return;
    if (stats)
        agg_stats_disk_error(stats, f);
    pthread_mutex_lock(&g_lock);
    streak *s = &g_streak[f];
    s->failures++;
    s->unlogged++;
    if (s->failures == 1) {
        log_first = 1;
    } else if (now - s->last_log_ms >= AGG_DISK_LOG_INTERVAL_MS) {
        log_again = 1;
    }
    if (log_first || log_again) {
        failures = s->failures;
        unlogged = s->unlogged;
        s->unlogged = 0;
        s->last_log_ms = now;
    }
    pthread_mutex_unlock(&g_lock);
    if (!detail || !*detail)
        detail = fr_strerror(rc);
    if (log_first)
        fr_log_ev(FR_LOG_ERR, TAG, "disk_write_failed",
                  "%s %s not written: %s (the previous one stays; further "
                  "failures are counted in fedrec_disk_write_errors_total "
                  "and logged once a minute) file=%s",
                  agg_disk_file_names[f], path, detail,
                  agg_disk_file_names[f]);
    else if (log_again)
        fr_log_ev(FR_LOG_ERR, TAG, "disk_write_failed",
                  "%s %s still not written: %s (%llu failures in a row, "
                  "%llu since the last line) file=%s",
                  agg_disk_file_names[f], path, detail,
                  (unsigned long long)failures, (unsigned long long)unlogged,
                  agg_disk_file_names[f]);
}

void
agg_disk_written(agg_disk_file f, const char *path)
{
    uint64_t failures;

    if ((unsigned)f >= AGG_DISK_N)
        return;
    pthread_mutex_lock(&g_lock);
    failures = g_streak[f].failures;
    g_streak[f] = (streak){0};
    pthread_mutex_unlock(&g_lock);
    if (failures)
        fr_log_ev(FR_LOG_NOTICE, TAG, "disk_write_recovered",
                  "%s %s written again after %llu failed writes file=%s",
                  agg_disk_file_names[f], path,
                  (unsigned long long)failures, agg_disk_file_names[f]);
}
