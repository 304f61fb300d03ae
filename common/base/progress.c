/*
 * progress.c - the bar and the throttled progress log lines (progress.h).
 */
#include "progress.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

#define TAG "progress"
#define BAR_WIDTH 24

static atomic_int progress_format = FR_LOG_HUMAN;
static pthread_mutex_t draw_lock = PTHREAD_MUTEX_INITIALIZER;

void
fr_progress_set_format(fr_log_format format)
{
    atomic_store(&progress_format, (int)format);
}

static int64_t
now_of(const fr_progress *p)
{
    return p->clock_ms ? p->clock_ms(p->clock_arg) : fr_clock_ms();
}

static void
copy_cut(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

static int
use_bar(const fr_progress_opts *o, FILE *out)
{
    if (o->mode == FR_PROGRESS_MODE_BAR)
        return 1;
    if (o->mode == FR_PROGRESS_MODE_LOG)
        return 0;
    return atomic_load(&progress_format) == FR_LOG_HUMAN &&
           isatty(fileno(out));
}

void
fr_progress_begin_opts(fr_progress *p, const char *task, uint64_t total,
                       const char *unit, const fr_progress_opts *opts)
{
    fr_progress_opts o = opts ? *opts : (fr_progress_opts){0};

    memset(p, 0, sizeof *p);
    copy_cut(p->task, sizeof p->task, task);
    copy_cut(p->unit, sizeof p->unit, unit);
    p->total = total;
    p->out = o.out ? o.out : stderr;
    p->bar = use_bar(&o, p->out);
    p->log_every = o.log_every_ms > 0 ? o.log_every_ms
                                      : FR_PROGRESS_LOG_EVERY_MS;
    p->redraw = o.redraw_ms > 0 ? o.redraw_ms : FR_PROGRESS_REDRAW_MS;
    p->quiet = o.quiet_ms > 0 ? o.quiet_ms : 0;
    p->clock_ms = o.clock_ms;
    p->clock_arg = o.clock_arg;
    p->t0 = now_of(p);
    /* A bar may appear at once; the first log line waits a whole period. */
    p->last_out = p->bar ? p->t0 - p->redraw : p->t0;
    p->active = 1;
}

void
fr_progress_begin(fr_progress *p, const char *task, uint64_t total,
                  const char *unit)
{
    fr_progress_opts o = {.quiet_ms = FR_PROGRESS_QUIET_MS};

    fr_progress_begin_opts(p, task, total, unit, &o);
}

static unsigned
percent_of(const fr_progress *p)
{
    if (p->total == 0)
        return 0;
    return (unsigned)((double)p->done * 100.0 / (double)p->total);
}

/* "1234 rows", or for bytes "1.2 MiB". */
static void
amount(char *out, size_t cap, const fr_progress *p, double v, int with_unit)
{
    static const char *const scale[] = {"B", "KiB", "MiB", "GiB", "TiB"};

    if (strcmp(p->unit, "bytes") == 0) {
        size_t i = 0;
        while (v >= 1024.0 && i + 1 < FR_ARRAY_LEN(scale)) {
            v /= 1024.0;
            i++;
        }
        snprintf(out, cap, i ? "%.1f %s" : "%.0f %s", v, scale[i]);
    } else {
        snprintf(out, cap, "%.0f%s%s", v, with_unit ? " " : "",
                 with_unit ? p->unit : "");
    }
}

/* Units per second since begin; 0 before any time has passed. */
static double
rate_of(const fr_progress *p, int64_t now)
{
    double secs = (double)(now - p->t0) / 1000.0;

    return secs > 0 ? (double)p->done / secs : 0.0;
}

static void
draw_bar(fr_progress *p, int64_t now, int final)
{
    char line[256], done_s[32], total_s[32], rate_s[40], eta[32] = "";
    double rate = rate_of(p, now);
    unsigned pct = percent_of(p);
    size_t n = 0, fill;
    int len;

    amount(done_s, sizeof done_s, p, (double)p->done, p->total == 0);
    amount(total_s, sizeof total_s, p, (double)p->total, 1);
    amount(rate_s, sizeof rate_s, p, rate, 1);
    if (p->total && rate > 0 && !final) {
        int64_t left = (int64_t)((double)(p->total - p->done) / rate + 0.5);
        snprintf(eta, sizeof eta, "  ETA %lld:%02lld", (long long)(left / 60),
                 (long long)(left % 60));
    }
    len = snprintf(line, sizeof line, "\r%s ", p->task);
    n = len > 0 ? (size_t)len : 0;
    if (p->total) {
        fill = (size_t)pct * BAR_WIDTH / 100;
        line[n++] = '[';
        for (size_t i = 0; i < BAR_WIDTH; i++)
            line[n++] = i < fill ? '#' : '-';
        len = snprintf(line + n, sizeof line - n, "] %3u%%  %s/%s", pct,
                       done_s, total_s);
    } else {
        len = snprintf(line + n, sizeof line - n, "%s", done_s);
    }
    n += len > 0 ? (size_t)len : 0;
    if (n < sizeof line)
        len = snprintf(line + n, sizeof line - n, "  %s/s%s\033[K%s", rate_s,
                       eta, final ? "\n" : "");
    n += len > 0 ? (size_t)len : 0;
    if (n >= sizeof line)
        n = sizeof line - 1;
    pthread_mutex_lock(&draw_lock);
    fwrite(line, 1, n, p->out);
    fflush(p->out);
    pthread_mutex_unlock(&draw_lock);
    p->shown = 1;
}

static void
log_line(fr_progress *p, int64_t now, int final)
{
    char done_s[32], total_s[32];
    double secs = (double)(now - p->t0) / 1000.0;
    unsigned long long done = p->done, total = p->total;

    amount(done_s, sizeof done_s, p, (double)p->done, 1);
    amount(total_s, sizeof total_s, p, (double)p->total, 1);
    if (final)
        fr_log_ev(FR_LOG_INFO, TAG, "progress",
                  "%s: finished %s in %.1f s; task=%s done=%llu total=%llu "
                  "unit=%s percent=%u seconds=%.1f phase=end",
                  p->task, done_s, secs, p->task, done, total, p->unit,
                  p->total ? percent_of(p) : 100, secs);
    else if (p->total)
        fr_log_ev(FR_LOG_INFO, TAG, "progress",
                  "%s: %s of %s (%u%%); task=%s done=%llu total=%llu "
                  "unit=%s percent=%u phase=running",
                  p->task, done_s, total_s, percent_of(p), p->task, done,
                  total, p->unit, percent_of(p));
    else
        fr_log_ev(FR_LOG_INFO, TAG, "progress",
                  "%s: %s so far; task=%s done=%llu unit=%s phase=running",
                  p->task, done_s, p->task, done, p->unit);
    p->shown = 1;
}

void
fr_progress_update(fr_progress *p, uint64_t done)
{
    int64_t now;

    if (!p->active)
        return;
    if (p->total && done > p->total)
        done = p->total;
    if (done < p->done)
        return;
    p->done = done;
    now = now_of(p);
    if (now - p->t0 < p->quiet)
        return;
    if (p->bar && now - p->last_out >= p->redraw) {
        draw_bar(p, now, 0);
        p->last_out = now;
    } else if (!p->bar && now - p->last_out >= p->log_every) {
        log_line(p, now, 0);
        p->last_out = now;
    }
}

void
fr_progress_end(fr_progress *p)
{
    int64_t now;

    if (!p->active)
        return;
    p->active = 0;
    now = now_of(p);
    if (!p->shown && now - p->t0 < p->quiet)
        return;
    if (p->bar)
        draw_bar(p, now, 1);
    else
        log_line(p, now, 1);
}
