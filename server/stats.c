/*
 * stats.c - the aggregator's counters behind one mutex (see stats.h).
 */
#include "stats.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const double agg_hist_bounds[AGG_HIST_BOUNDS] = {
    0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300};

const char *const agg_phase_names[AGG_PHASE_N] = {
    "collect",      "advertise_keys", "share_keys",
    "masked_input", "consistency",    "unmasking"};

const char *const agg_outcome_names[AGG_ROUND_N] = {"completed", "abandoned"};

const char *const agg_reject_names[AGG_REJECT_N] = {
    "unknown_key", "revoked",  "malformed",
    "oversized",   "replayed", "unexpected",
    "admin_denied", "too_many_frames", "quarantined", "wrong_round",
    "out_of_phase"};

const char *const agg_disk_file_names[AGG_DISK_N] = {"checkpoint", "history",
                                                     "ledger"};

struct agg_stats {
    pthread_mutex_t lock;
    agg_stats_view v; /* v.stores owned, capacity stores_cap */
    size_t stores_cap;
};

static int64_t
unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

fr_err
agg_stats_new(agg_stats **out)
{
    agg_stats *s = calloc(1, sizeof *s);

    if (!s)
        return FR_ENOMEM;
    pthread_mutex_init(&s->lock, NULL);
    s->v.started_unix_ms = unix_ms();
    strcpy(s->v.state, "starting");
    *out = s;
    return FR_OK;
}

void
agg_stats_destroy(agg_stats **sp)
{
    if (!sp || !*sp)
        return;
    pthread_mutex_destroy(&(*sp)->lock);
    free((*sp)->v.stores);
    free(*sp);
    *sp = NULL;
}

fr_err
agg_stats_snapshot(agg_stats *s, agg_stats_view *out)
{
    agg_store_info *copy = NULL;
    fr_err rc = FR_OK;

    pthread_mutex_lock(&s->lock);
    if (s->v.n_stores) {
        copy = malloc(s->v.n_stores * sizeof *copy);
        if (copy)
            memcpy(copy, s->v.stores, s->v.n_stores * sizeof *copy);
        else
            rc = FR_ENOMEM;
    }
    if (rc == FR_OK) {
        *out = s->v;
        out->stores = copy;
    }
    pthread_mutex_unlock(&s->lock);
    if (rc)
        memset(out, 0, sizeof *out);
    return rc;
}

void
agg_stats_view_clear(agg_stats_view *v)
{
    if (!v)
        return;
    free(v->stores);
    memset(v, 0, sizeof *v);
}

void
agg_hist_observe(agg_hist *h, double seconds)
{
    size_t i = 0;

    if (!isfinite(seconds) || seconds < 0)
        seconds = 0;
    while (i < AGG_HIST_BOUNDS && seconds > agg_hist_bounds[i])
        i++;
    h->bucket[i]++;
    h->count++;
    h->sum += seconds;
}

static void
copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strlen(src) : 0;
    if (n >= cap)
        n = cap - 1;
    if (n)
        memcpy(dst, src, n);
    dst[n] = 0;
}

void
agg_stats_set_state(agg_stats *s, const char *state, const char *phase,
                    uint64_t round_id, uint64_t completed, uint32_t selected)
{
    pthread_mutex_lock(&s->lock);
    copy_str(s->v.state, sizeof s->v.state, state);
    copy_str(s->v.phase, sizeof s->v.phase, phase);
    s->v.round_id = round_id;
    s->v.completed = completed;
    s->v.selected = selected;
    pthread_mutex_unlock(&s->lock);
}

void
agg_stats_set_static(agg_stats *s, int secagg, int64_t rounds_target)
{
    pthread_mutex_lock(&s->lock);
    s->v.secagg = secagg;
    s->v.rounds_target = rounds_target;
    pthread_mutex_unlock(&s->lock);
}

void
agg_stats_phase_done(agg_stats *s, agg_phase p, double seconds,
                     uint32_t dropped)
{
    if ((unsigned)p >= AGG_PHASE_N)
        return;
    pthread_mutex_lock(&s->lock);
    agg_hist_observe(&s->v.phase_seconds[p], seconds);
    s->v.dropped_total[p] += dropped;
    pthread_mutex_unlock(&s->lock);
}

void
agg_stats_round_done(agg_stats *s, agg_outcome o, double seconds)
{
    if ((unsigned)o >= AGG_ROUND_N)
        return;
    pthread_mutex_lock(&s->lock);
    s->v.rounds_total[o]++;
    agg_hist_observe(&s->v.round_seconds, seconds);
    pthread_mutex_unlock(&s->lock);
}

void
agg_stats_add_round(agg_stats *s, const agg_round_info *r)
{
    pthread_mutex_lock(&s->lock);
    if (s->v.n_recent == AGG_RECENT_ROUNDS) {
        memmove(s->v.recent, s->v.recent + 1,
                (AGG_RECENT_ROUNDS - 1) * sizeof s->v.recent[0]);
        s->v.n_recent--;
    }
    s->v.recent[s->v.n_recent++] = *r;
    pthread_mutex_unlock(&s->lock);
}

void
agg_stats_reject(agg_stats *s, agg_reject why)
{
    if ((unsigned)why >= AGG_REJECT_N)
        return;
    pthread_mutex_lock(&s->lock);
    s->v.rejected_total[why]++;
    pthread_mutex_unlock(&s->lock);
}

void
agg_stats_quarantined(agg_stats *s)
{
    pthread_mutex_lock(&s->lock);
    s->v.quarantines_total++;
    pthread_mutex_unlock(&s->lock);
}

void
agg_stats_start_resent(agg_stats *s)
{
    pthread_mutex_lock(&s->lock);
    s->v.starts_resent_total++;
    pthread_mutex_unlock(&s->lock);
}

void
agg_stats_log_suppressed(agg_stats *s, uint64_t n)
{
    pthread_mutex_lock(&s->lock);
    s->v.refusal_logs_suppressed += n;
    pthread_mutex_unlock(&s->lock);
}

void
agg_stats_set_refused_handshakes(agg_stats *s, uint64_t n)
{
    pthread_mutex_lock(&s->lock);
    s->v.rejected_total[AGG_REJECT_UNKNOWN_KEY] = n;
    pthread_mutex_unlock(&s->lock);
}

void
agg_stats_traffic(agg_stats *s, uint64_t in_bytes, uint64_t out_bytes,
                  uint64_t in_msgs, uint64_t out_msgs)
{
    pthread_mutex_lock(&s->lock);
    s->v.bytes_in += in_bytes;
    s->v.bytes_out += out_bytes;
    s->v.messages_in += in_msgs;
    s->v.messages_out += out_msgs;
    pthread_mutex_unlock(&s->lock);
}

void
agg_stats_checkpointed(agg_stats *s, int64_t ms)
{
    pthread_mutex_lock(&s->lock);
    s->v.last_checkpoint_unix_ms = ms;
    pthread_mutex_unlock(&s->lock);
}

void
agg_stats_set_stores(agg_stats *s, const agg_store_info *v, size_t n)
{
    pthread_mutex_lock(&s->lock);
    if (n > s->stores_cap) {
        agg_store_info *grown = realloc(s->v.stores, n * sizeof *grown);
        if (!grown) { /* keep the old list rather than lose the lock */
            pthread_mutex_unlock(&s->lock);
            return;
        }
        s->v.stores = grown;
        s->stores_cap = n;
    }
    if (n)
        memcpy(s->v.stores, v, n * sizeof *v);
    s->v.n_stores = n;
    s->v.n_connected = s->v.n_quarantined = 0;
    for (size_t i = 0; i < n; i++) {
        s->v.n_connected += v[i].connected != 0;
        s->v.n_quarantined += v[i].quarantined_until_unix_ms != 0;
    }
    pthread_mutex_unlock(&s->lock);
}

void
agg_stats_set_dp(agg_stats *s, int enabled, double eps_spent, double eps_budget,
                 double delta)
{
    pthread_mutex_lock(&s->lock);
    s->v.dp_enabled = enabled;
    s->v.dp_epsilon_spent = eps_spent;
    s->v.dp_epsilon_budget = eps_budget;
    s->v.dp_delta = delta;
    pthread_mutex_unlock(&s->lock);
}

void
agg_stats_set_upstream(agg_stats *s, const char *link, int up,
                       uint64_t round_id, uint64_t sent, uint64_t rebuilds)
{
    pthread_mutex_lock(&s->lock);
    s->v.regional = 1;
    snprintf(s->v.upstream_link, sizeof s->v.upstream_link, "%s", link);
    s->v.upstream_up = up;
    s->v.upstream_round_id = round_id;
    s->v.upstream_sent = sent;
    s->v.upstream_rebuilds = rebuilds;
    pthread_mutex_unlock(&s->lock);
}

void
agg_stats_loop_alive(agg_stats *s, int64_t ms)
{
    pthread_mutex_lock(&s->lock);
    s->v.loop_unix_ms = ms;
    pthread_mutex_unlock(&s->lock);
}

void
agg_stats_set_paused(agg_stats *s, int paused)
{
    pthread_mutex_lock(&s->lock);
    s->v.paused = paused;
    pthread_mutex_unlock(&s->lock);
}

void
agg_stats_disk_error(agg_stats *s, agg_disk_file f)
{
    if ((unsigned)f >= AGG_DISK_N)
        return;
    pthread_mutex_lock(&s->lock);
    s->v.disk_errors_total[f]++;
    pthread_mutex_unlock(&s->lock);
}
