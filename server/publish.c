/*
 * publish.c - what the round engine shows and what operators change: the
 * figures copied into the stats (state, phase, stores, regions) and pause,
 * drain and revocation. Main loop only (agg.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "base/log.h"
#include "round_int.h"

#define TAG "round"

static int64_t
unix_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
aggregator_set_paused(aggregator *a, int paused)
{
    a->paused = paused != 0;
    if (a->stats)
        agg_stats_set_paused(a->stats, a->paused);
    fr_log_ev(FR_LOG_NOTICE, TAG, paused ? "paused" : "resumed_rounds",
              paused ? "paused: no new round starts until resumed"
                     : "resumed: rounds start again");
}

bool
aggregator_paused(const aggregator *a)
{
    return a->paused != 0;
}

void
aggregator_drain(aggregator *a)
{
    a->draining = 1;
}

bool
aggregator_busy(const aggregator *a)
{
    return a->state == ST_COLLECTING;
}

void
aggregator_store_revoked(aggregator *a, const char *store)
{
    store_entry *e = registry_find(a->reg, store);
    if (e)
        e->revoked = 1;
}

static const char *
state_name(const aggregator *a)
{
    if (a->draining)
        return "stopping";
    if (a->dp_exhausted && a->state != ST_COLLECTING)
        return "budget_exhausted";
    switch (a->state) {
    case ST_COLLECTING: return "collecting";
    case ST_DONE: return "done";
    default: return a->paused ? "paused" : "idle";
    }
}

static void
publish_region(agg_store_info *v, const store_entry *e)
{
    v->region = e->region;
    v->region_stores = e->stores;
    v->region_max_examples = e->max_examples;
    v->region_round_id = e->region_round_id;
    v->region_covers = e->region_covers;
    v->region_has_metrics = e->region_has_metrics;
    v->region_hr10 = e->region_metrics.hr10;
    v->region_ndcg10 = e->region_metrics.ndcg10;
}

void
aggregator_publish(aggregator *a, int64_t now)
{
    size_t n = registry_count(a->reg);
    agg_store_info *v;
    int64_t unix_now = unix_now_ms();

    if (!a->stats)
        return;
    agg_stats_set_state(a->stats, state_name(a),
                        a->state == ST_COLLECTING
                            ? agg_phase_names[a->sa ? secure_phase(a)
                                                    : AGG_PHASE_COLLECT]
                            : "",
                        a->round_id, a->completed,
                        a->state == ST_COLLECTING ? (uint32_t)a->n_selected
                                                  : 0);
    v = calloc(n ? n : 1, sizeof *v);
    if (!v)
        return;
    for (size_t i = 0; i < n; i++) {
        const store_entry *e = registry_at(a->reg, i);
        snprintf(v[i].name, sizeof v[i].name, "%s", e->peer.store);
        v[i].connected =
            registry_alive(e, now, a->cfg->heartbeat_timeout_ms);
        v[i].selected = a->state == ST_COLLECTING &&
                        round_selected_index(a, e->peer.store) >= 0;
        v[i].last_seen_unix_ms =
            e->last_seen_ms < 0 ? 0 : unix_now - (now - e->last_seen_ms);
        v[i].rounds_joined = e->rounds_joined;
        v[i].examples = e->num_examples;
        v[i].refusals = e->refusals;
        v[i].quarantined_until_unix_ms =
            e->quarantined_until_ms > now
                ? unix_now + (e->quarantined_until_ms - now)
                : 0;
        publish_region(&v[i], e);
    }
    agg_stats_set_stores(a->stats, v, n);
    free(v);
}
