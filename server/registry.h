/*
 * registry.h - the stores the aggregator has heard from.
 *
 * Keyed by the authenticated store name (from the ZAP handler). A store that
 * reconnects gets a new ZeroMQ routing id; the registry always keeps the
 * latest one, so replies go to the live connection.
 */
#ifndef FR_SERVER_REGISTRY_H
#define FR_SERVER_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "net/net.h"
#include "wire/wire.h"

typedef struct store_entry {
    fr_net_peer peer;      /* latest routing id and name */
    uint64_t links;        /* routing ids seen: one more per reconnection */
    int64_t last_seen_ms;  /* last message of any kind */
    uint64_t num_examples; /* as reported in HELLO */
    uint64_t rounds_joined;
    int busy;
    int revoked;           /* key revoked: not alive until a listed key
                              speaks again */
    int64_t catalogue_sent_ms; /* last catalogue sent to it (0: never) */
    int64_t done_sent_ms;      /* last DONE sent to it (0: never) */
    /* refusals of its messages (refuse.c): counted against the store's
     * authenticated name, never against anything a message says */
    uint64_t refusals;          /* all time (this process) */
    uint32_t strikes;           /* refusals since strikes_since_ms */
    int64_t strikes_since_ms;
    int64_t quarantined_until_ms; /* 0: not in quarantine */
    uint64_t quarantines;
    /* a regional aggregator (it reported stores in a HELLO; docs/SECAGG.md
     * "Regions"): its figures as reported, public like a store's count */
    int region;               /* has reported stores at least once */
    uint32_t stores;          /* stores it would bring to a round now */
    uint64_t max_examples;    /* largest example count among them */
    uint64_t region_round_id; /* last round its input counted in (0: none) */
    uint32_t region_covers;   /* stores that input covered */
    fr_metrics region_metrics; /* their weighted mean figures then */
    int region_has_metrics;
} store_entry;

typedef struct registry registry;

FR_NODISCARD fr_err registry_new(registry **out, size_t max_stores);
void registry_destroy(registry **rp);

/* Records a message from peer at now_ms, adding the store if new.
 * FR_ELIMIT if the registry is full (the message should be dropped). The
 * returned entry is borrowed until the next registry_touch. */
FR_NODISCARD fr_err registry_touch(registry *r, const fr_net_peer *peer,
                                   int64_t now_ms, store_entry **entry_out);

/* The entry for peer's store, added (not heard from: not alive) if new,
 * without touching it: for counting what it sent that was refused.
 * FR_ELIMIT if the registry is full. */
FR_NODISCARD fr_err registry_entry_for(registry *r, const fr_net_peer *peer,
                                       store_entry **entry_out);

/* The entry named name, or NULL. Borrowed until the next registry_touch. */
store_entry *registry_find(registry *r, const char *name);

/* True if e was heard from within timeout_ms of now_ms and is not in
 * quarantine. */
bool registry_alive(const store_entry *e, int64_t now_ms, int64_t timeout_ms);

/* Fills out (room for max) with the alive entries, in name order; returns
 * how many. */
size_t registry_list_alive(registry *r, int64_t now_ms, int64_t timeout_ms,
                           store_entry **out, size_t max);

size_t registry_count(const registry *r);

/* The i-th entry in name order (NULL past the end). Borrowed until the next
 * registry_touch. */
store_entry *registry_at(registry *r, size_t i);

#endif
