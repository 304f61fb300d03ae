/*
 * upstream.h - a regional aggregator's link to the central one (mode
 * regional; docs/SECAGG.md "Regions").
 *
 * DESIGN. Towards the central aggregator a region looks like a store: a
 * DEALER CURVE client (net/uplink.h: pinned server key, rebuilt with
 * backoff while not up) that sends HELLO every upstream_heartbeat_ms with
 * the region's figures (aggregator_region_hello), and answers the
 * central's secure rounds as one participant with the region's identity
 * key. The central's ROUND_START, ROUND_END, DONE and CATALOGUE go to the
 * round engine (aggregator_relay_*, relay.c), which runs the region's own
 * round; the region's unmasked sum comes back here
 * (agg_upstream_sa_input) and is masked for the central's round as soon
 * as the central asked for masked inputs. A lost link abandons both the
 * central round in hand (its secrets wiped) and the region's round.
 *
 * Threads: the daemon's main loop only. The region's sum is not a secret
 * of one store, but it is more than the central may see: it is wiped once
 * masked, and never logged.
 */
#ifndef FR_SERVER_UPSTREAM_H
#define FR_SERVER_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "agg.h"
#include "net/net.h"
#include "stats.h"
#include "wire/wire.h"

typedef struct agg_upstream agg_upstream;

/* Loads the upstream keys (cfg's upstream_*; the files were checked by
 * agg_upstream_check) and connects. cfg, ctx and stats (may be NULL) are
 * borrowed and must outlive the link. Logged on failure. */
FR_NODISCARD fr_err agg_upstream_new(agg_upstream **out,
                                     const agg_config *cfg, fr_net_ctx *ctx,
                                     agg_stats *stats);
/* Wipes the secure round's secrets, closes, frees; accepts NULL. */
void agg_upstream_destroy(agg_upstream **up);

/* The sockets to wake the poll loop on (the connection and its monitor):
 * writes up to 2 to out, returns how many. Borrowed until the next
 * agg_upstream_service. */
size_t agg_upstream_socks(agg_upstream *u, fr_net_sock **out);

/* One pass: the link's state (rebuilds, logging), every message waiting
 * from the central (handed to a), and the heartbeat when it is due. */
void agg_upstream_service(agg_upstream *u, aggregator *a, int64_t now);

/* One message as read from the central: decoded (a bad one is logged and
 * dropped) and handed to the region's SecAgg+ client or to a. The path
 * agg_upstream_service takes for each message, and the fuzz target's. */
void agg_upstream_on_bytes(agg_upstream *u, aggregator *a, const uint8_t *buf,
                           size_t len, int64_t now);

/* Sends m to the central if the link is up (FR_ECLOSED otherwise). */
FR_NODISCARD fr_err agg_upstream_send(agg_upstream *u, const fr_msg *m);

/* The region's unmasked sum for the central's round round_id (n_words
 * words, copied), covering covers stores, with their mean figures (NULL:
 * none): masked and sent as soon as the central's mask request is in.
 * FR_ESTATE if no secure central round of that id and length is in
 * hand. */
FR_NODISCARD fr_err agg_upstream_sa_input(agg_upstream *u, uint64_t round_id,
                                          const uint32_t *sum,
                                          uint32_t n_words, uint32_t covers,
                                          const fr_metrics *metrics);

/* The link's state ("up", "down", ...), for /metrics and the log. */
const char *agg_upstream_link_name(const agg_upstream *u);

#endif
