/*
 * progress.h - progress of long local work (an import, training epochs).
 *
 * On a terminal with the human log format, a bar is drawn on stderr:
 *   import [##########----------]  50%  1.2/2.4 MiB  3.1 MiB/s  ETA 0:01
 * redrawn at most every redraw_ms. Anywhere else (a journal, a pipe, JSON
 * logs) the reporter writes an info log line with the event "progress" and
 * the fields task, done, total, unit and percent at most every
 * log_every_ms, and one at the end with phase=end, so log collectors can
 * follow long work without a line per unit. Work that ends within quiet_ms
 * shows nothing at all.
 *
 * DESIGN. An fr_progress lives on the stack of the one thread doing the
 * work; several may run at once on different threads. The bar is written
 * with one fwrite per redraw under a lock of this module, so two bars never
 * mix bytes, and stdio's own lock keeps a log line from another thread
 * whole (it may follow a bar on the same terminal line; the next redraw
 * starts on a fresh one). The fields of struct fr_progress are private.
 */
#ifndef FR_BASE_PROGRESS_H
#define FR_BASE_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

#include "log.h"

#define FR_PROGRESS_TASK_MAX 32
#define FR_PROGRESS_UNIT_MAX 16
#define FR_PROGRESS_LOG_EVERY_MS 5000
#define FR_PROGRESS_REDRAW_MS 100
#define FR_PROGRESS_QUIET_MS 1000

/* Where and how a reporter writes. Zero fields take the defaults; tests
 * inject the stream, the terminal decision and the clock. */
typedef struct fr_progress_opts {
    FILE *out;            /* bar stream; NULL: stderr */
    int mode;             /* 0: decide (terminal and human format: bar);
                             1: bar; 2: log lines */
    int64_t log_every_ms; /* 0: FR_PROGRESS_LOG_EVERY_MS */
    int64_t redraw_ms;    /* 0: FR_PROGRESS_REDRAW_MS */
    int64_t quiet_ms;     /* work ending within this shows nothing; 0:
                             everything is shown */
    int64_t (*clock_ms)(void *arg); /* NULL: fr_clock_ms */
    void *clock_arg;
} fr_progress_opts;

#define FR_PROGRESS_MODE_AUTO 0
#define FR_PROGRESS_MODE_BAR 1
#define FR_PROGRESS_MODE_LOG 2

typedef struct fr_progress {
    char task[FR_PROGRESS_TASK_MAX];
    char unit[FR_PROGRESS_UNIT_MAX];
    uint64_t total, done;
    int bar;     /* drawing a bar (else log lines) */
    int shown;   /* something was written */
    int active;  /* between begin and end */
    int64_t t0, last_out, log_every, redraw, quiet;
    FILE *out;
    int64_t (*clock_ms)(void *arg);
    void *clock_arg;
} fr_progress;

/* Tells the reporters which log format stderr carries (main sets it with
 * the same value it gives fr_log_set_format): bars are drawn only with the
 * human format, because a bar inside JSON lines would break them. Default
 * FR_LOG_HUMAN. Call before any thread starts a reporter. */
void fr_progress_set_format(fr_log_format format);

/* Starts reporting task (cut to FR_PROGRESS_TASK_MAX - 1 bytes) over total
 * units named unit ("rows", "epochs"; "bytes" is shown in KiB/MiB). total
 * 0 means unknown: no percentage or ETA. With fr_progress_begin the work
 * is quiet for FR_PROGRESS_QUIET_MS. opts is copied. Never fails. */
void fr_progress_begin(fr_progress *p, const char *task, uint64_t total,
                       const char *unit);
void fr_progress_begin_opts(fr_progress *p, const char *task, uint64_t total,
                            const char *unit, const fr_progress_opts *opts);

/* Records that done units are finished (clamped to total when total is
 * known; a value below the last one is ignored) and writes if it is time.
 * Cheap enough to call per row. */
void fr_progress_update(fr_progress *p, uint64_t done);

/* Writes the final state (the bar at its last value and a newline, or the
 * phase=end log line) unless the work was quiet, and stops. Calling it
 * twice, or without begin on a zeroed struct, does nothing. */
void fr_progress_end(fr_progress *p);

#endif
