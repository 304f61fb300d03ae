/* ratelimit.c - see ratelimit.h. */
#include "ratelimit.h"

uint64_t
fr_ratelimit_roll(fr_ratelimit *rl, int64_t now_ms, int64_t *span_ms)
{
    uint64_t held = 0;
    int64_t span = 0;

    if ((rl->lines || rl->held) && now_ms - rl->start_ms >= rl->every_ms) {
        held = rl->held;
        span = now_ms - rl->start_ms;
        rl->lines = 0;
        rl->held = 0;
    }
    if (span_ms)
        *span_ms = span;
    return held;
}

bool
fr_ratelimit_take(fr_ratelimit *rl, int64_t now_ms)
{
    if (rl->lines == 0 && rl->held == 0)
        rl->start_ms = now_ms;
    else if (now_ms - rl->start_ms >= rl->every_ms) {
        /* A window the caller did not roll: start afresh, count kept. */
        rl->start_ms = now_ms;
        rl->lines = 0;
    }
    if (rl->lines < rl->burst) {
        rl->lines++;
        return true;
    }
    rl->held++;
    return false;
}
