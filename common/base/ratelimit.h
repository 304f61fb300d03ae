/*
 * ratelimit.h - a budget of log lines: at most `burst` lines in a window of
 * `every_ms`, the rest held back and counted, the count handed back once
 * when the window ends so the caller can write one "N more not logged"
 * line. A window starts with the first line after an idle spell. One owner
 * (no lock): the thread that logs.
 */
#ifndef FR_BASE_RATELIMIT_H
#define FR_BASE_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

typedef struct fr_ratelimit {
    int64_t every_ms; /* window length */
    uint32_t burst;   /* lines per window */
    uint32_t lines;   /* written in the current window */
    int64_t start_ms; /* the current window's start */
    uint64_t held;    /* held back in the current window */
} fr_ratelimit;

#define FR_RATELIMIT(burst_, every_ms_)                                        \
    ((fr_ratelimit){.every_ms = (every_ms_), .burst = (burst_)})

/* Ends the current window if every_ms has passed since it started: returns
 * the lines it held back (0 if none, or if it goes on) and, in *span_ms if
 * not NULL, how long it lasted. Call before fr_ratelimit_take to report a
 * window that is over, or on a timer so a quiet spell still reports. */
uint64_t fr_ratelimit_roll(fr_ratelimit *rl, int64_t now_ms,
                           int64_t *span_ms);

/* True if one more line may be written now; false (and counted as held
 * back) once the window's burst is spent. */
bool fr_ratelimit_take(fr_ratelimit *rl, int64_t now_ms);

#endif
