/*
 * refuse.c - messages the aggregator turns away: counted per reason,
 * charged to the store that sent them, logged at a bounded rate, and the
 * quarantine of a store that keeps sending what is refused.
 *
 * DESIGN
 * - Who sent a message is the store name the ZAP handler bound to the
 *   CURVE key of the connection (net.h), never anything a message says, so
 *   no one can get an honest store quarantined without its secret key. A
 *   handshake refused for an unknown key or bytes that never passed a
 *   handshake are charged to nobody.
 * - The log limiter is per reason, not per store: a flood from many keys
 *   or from one costs the same few lines. Each reason writes at most
 *   AGG_REFUSE_BURST lines every AGG_REFUSE_EVERY_MS; what it held back is
 *   reported in one "suppressed" line when the interval ends.
 * - A quarantined store's messages are dropped before they are decoded
 *   (aggregator_quarantined), counted with reason "quarantined", and it is
 *   not alive for the round engine (registry_alive), so it is not chosen
 *   and a round it was in goes on without it. It is let back in when
 *   quarantine_ms has passed.
 */
#include <stdio.h>
#include <string.h>

#include "agg.h"
#include "base/log.h"
#include "base/util.h"
#include "registry.h"
#include "round_int.h"
#include "stats.h"

#define TAG "round"

/* Writes the summary of the lines reason why held back in a window that
 * ended, if any. */
static void
rl_report(aggregator *a, agg_reject why, int64_t now)
{
    int64_t span;
    uint64_t held = fr_ratelimit_roll(&a->rl[why], now, &span);

    if (!held)
        return;
    fr_log_ev(FR_LOG_WARN, TAG, "refusals_suppressed",
              "%llu more refused messages not logged in the last %lld ms "
              "(reason=%s suppressed=%llu)",
              (unsigned long long)held, (long long)span, agg_reject_names[why],
              (unsigned long long)held);
    if (a->stats)
        agg_stats_log_suppressed(a->stats, held);
}

static bool
rl_allow(aggregator *a, agg_reject why, int64_t now)
{
    rl_report(a, why, now);
    return fr_ratelimit_take(&a->rl[why], now);
}

static void
quarantine(aggregator *a, store_entry *e, int64_t now)
{
    e->quarantined_until_ms = now + a->cfg->quarantine_ms;
    e->quarantines++;
    e->strikes = 0;
    e->busy = 0;
    if (a->stats)
        agg_stats_quarantined(a->stats);
    fr_log_ev(FR_LOG_WARN, TAG, "store_quarantined",
              "store %s quarantined for %lld ms: %lld of its messages "
              "refused within %lld ms (store=%s quarantine_ms=%lld "
              "quarantines=%llu)",
              e->peer.store, (long long)a->cfg->quarantine_ms,
              (long long)a->cfg->quarantine_after,
              (long long)a->cfg->quarantine_window_ms, e->peer.store,
              (long long)a->cfg->quarantine_ms,
              (unsigned long long)e->quarantines);
}

/* Charges one refusal to the authenticated store peer names. */
static void
strike(aggregator *a, const fr_net_peer *peer, int64_t now)
{
    store_entry *e;

    if (registry_entry_for(a->reg, peer, &e))
        return; /* registry full: counted in the stats only */
    e->refusals++;
    if (a->cfg->quarantine_after <= 0 || e->quarantined_until_ms)
        return;
    if (e->strikes == 0 ||
        now - e->strikes_since_ms > a->cfg->quarantine_window_ms) {
        e->strikes = 0;
        e->strikes_since_ms = now;
    }
    if (++e->strikes >= (uint64_t)a->cfg->quarantine_after)
        quarantine(a, e, now);
}

bool
aggregator_refused(aggregator *a, const fr_net_peer *peer, agg_reject why,
                   int64_t now)
{
    if ((unsigned)why >= AGG_REJECT_N)
        return true;
    if (a->stats)
        agg_stats_reject(a->stats, why);
    if (peer && why != AGG_REJECT_QUARANTINED && why != AGG_REJECT_REVOKED)
        strike(a, peer, now);
    return rl_allow(a, why, now);
}

static void
release(aggregator *a, store_entry *e)
{
    e->quarantined_until_ms = 0;
    e->strikes = 0;
    fr_log_ev(FR_LOG_NOTICE, TAG, "store_released",
              "store %s let out of quarantine (store=%s)", e->peer.store,
              e->peer.store);
    (void)a;
}

bool
aggregator_quarantined(aggregator *a, const fr_net_peer *peer, int64_t now)
{
    store_entry *e = registry_find(a->reg, peer->store);

    if (!e || !e->quarantined_until_ms)
        return false;
    if (now >= e->quarantined_until_ms) {
        release(a, e);
        return false;
    }
    if (aggregator_refused(a, peer, AGG_REJECT_QUARANTINED, now))
        fr_log_ev(FR_LOG_INFO, TAG, "message_refused",
                  "dropped a message from store %s unread: in quarantine "
                  "for %lld ms more (reason=quarantined)", peer->store,
                  (long long)(e->quarantined_until_ms - now));
    return true;
}

void
agg_refuse_tick(aggregator *a, int64_t now)
{
    if (now - a->refuse_swept_ms < 250)
        return;
    a->refuse_swept_ms = now;
    for (int r = 0; r < AGG_REJECT_N; r++)
        rl_report(a, (agg_reject)r, now);
    for (size_t i = 0; i < registry_count(a->reg); i++) {
        store_entry *e = registry_at(a->reg, i);
        if (e->quarantined_until_ms && now >= e->quarantined_until_ms)
            release(a, e);
    }
}

void
aggregator_on_bytes(aggregator *a, const fr_net_peer *peer,
                    const uint8_t *buf, size_t len, int64_t now)
{
    size_t max = (size_t)a->cfg->max_message_bytes;
    const char *why = NULL;
    fr_msg *msg = NULL;
    fr_err rc;

    aggregator_count_received(a, len);
    if (aggregator_quarantined(a, peer, now)) /* dropped unread */
        return;
    rc = fr_wire_decode(buf, len, max, &msg, &why);
    if (rc) {
        int oversized = len > max;
        if (aggregator_refused(a, peer,
                               oversized ? AGG_REJECT_OVERSIZED
                                         : AGG_REJECT_MALFORMED,
                               now))
            fr_log_ev(FR_LOG_WARN, TAG, "message_rejected",
                      "dropped %zu-byte message from store %s: %s "
                      "(reason=%s)", len, peer->store,
                      why ? why : fr_strerror(rc),
                      oversized ? "oversized" : "malformed");
        return;
    }
    aggregator_on_message(a, peer, msg, now);
    fr_msg_destroy(&msg);
}
