/*
 * agg.h - the aggregator's configuration and the round engine interface.
 *
 * DESIGN. One thread runs one poll loop (main.c). Messages from stores are
 * decoded by wire/ and handed to the round engine (round.c), which owns the
 * global model and moves through IDLE -> COLLECTING -> IDLE, writing a
 * checkpoint after every aggregated round. Stores are known by the name the
 * ZAP handler attached to their CURVE key (registry.c); a store is alive
 * while its heartbeats (HELLO) keep arriving within heartbeat_timeout_ms.
 * A round ends when every selected store answered, or when the deadline
 * passed or all missing stores stopped sending heartbeats; it is aggregated
 * if at least min_stores answered and abandoned (then retried with a new
 * round id) otherwise. Round ids grow with every attempt, so an update from
 * an earlier attempt can never be applied to a later one.
 */
#ifndef FR_SERVER_AGG_H
#define FR_SERVER_AGG_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "aggconf.h"
#include "net/net.h"
#include "stats.h"
#include "wire/wire.h"

typedef struct aggregator aggregator;
struct agg_stats;

/* Loads the checkpoint from cfg->state_dir or starts a fresh model. The
 * socket, config and stats (may be NULL) are borrowed and must outlive the
 * aggregator. */
FR_NODISCARD fr_err aggregator_new(aggregator **out, const agg_config *cfg,
                                   fr_net_ctx *ctx, fr_net_sock *sock,
                                   struct agg_stats *stats);
void aggregator_destroy(aggregator **ap);

/* Handles one decoded message from peer. Never fails: bad messages are
 * logged and dropped. */
void aggregator_on_message(aggregator *a, const fr_net_peer *peer,
                           const fr_msg *msg, int64_t now_ms);

/* Advances timers: starts, closes and retries rounds. */
void aggregator_tick(aggregator *a, int64_t now_ms);

/* Abandons a round in progress (for shutdown); the checkpoint on disk is
 * already the last completed round. */
void aggregator_stop(aggregator *a, int64_t now_ms);

/* Operators' controls (fedrec-ctl, signals). Pausing stops new rounds
 * from starting; a round in progress runs to its end. */
void aggregator_set_paused(aggregator *a, int paused);
bool aggregator_paused(const aggregator *a);
/* Graceful stop: no new round starts; aggregator_busy() tells whether a
 * round is still in progress. */
void aggregator_drain(aggregator *a);
bool aggregator_busy(const aggregator *a);
/* Writes the checkpoint now (it is written after every round anyway). */
FR_NODISCARD fr_err aggregator_checkpoint(aggregator *a);
/* A store was revoked: it counts as gone at once (its messages are refused
 * from now on by the allow-list check). */
void aggregator_store_revoked(aggregator *a, const char *store);
/* Copies state, phase, counters and the store list into the stats. */
void aggregator_publish(aggregator *a, int64_t now_ms);
/* Counts a message refused before it reached the round engine (it did
 * not decode, or was not one frame) and charges it to peer's store (NULL:
 * sender unknown); true if its log line should be written now (refusal
 * lines are rate-limited per reason, refuse.c). */
bool aggregator_refused(aggregator *a, const fr_net_peer *peer,
                        agg_reject why, int64_t now_ms);
/* True if peer's store is in quarantine: the message is to be dropped
 * unread (counted and logged here). */
bool aggregator_quarantined(aggregator *a, const fr_net_peer *peer,
                            int64_t now_ms);
void aggregator_count_received(aggregator *a, size_t len);
/* One message as received from peer (an authenticated single frame):
 * counted, dropped unread if the store is in quarantine, decoded, refused
 * (counted, charged, logged within the rate limit) if it does not decode,
 * else handed to aggregator_on_message. */
void aggregator_on_bytes(aggregator *a, const fr_net_peer *peer,
                         const uint8_t *buf, size_t len, int64_t now_ms);

/* ---- mode regional (relay.c; called by upstream.c) ---- */
struct agg_upstream;
/* The link to the central (borrowed; NULL: none, as in tests). */
void aggregator_set_upstream(aggregator *a, struct agg_upstream *up);
/* True if a ROUND_START from the central repeats the secure one heard
 * last (the central sends it again to a region that says it has none):
 * then it must be dropped. Otherwise it is remembered as the last. */
bool aggregator_relay_repeated(aggregator *a, const fr_msg *msg);
/* The central's ROUND_START: the region runs its own round for it (the
 * message is taken when the round is held or started: *msgp set to
 * NULL). */
void aggregator_relay_start(aggregator *a, fr_msg **msgp, int64_t now);
/* The central's ROUND_END (buf, len: its bytes), forwarded to the stores
 * of the region's round if its result went up. */
void aggregator_relay_end(aggregator *a, const fr_msg *msg,
                          const uint8_t *buf, size_t len, int64_t now);
/* The central's DONE: the region answers its stores' HELLOs with DONE. */
void aggregator_relay_done(aggregator *a, const fr_msg *msg, int64_t now);
/* The catalogue the region asked the central for. */
void aggregator_relay_catalogue(aggregator *a, const fr_msg *msg,
                                int64_t now);
/* The link to the central went down: the region's round is abandoned. */
void aggregator_relay_lost(aggregator *a, int64_t now);
/* The region's HELLO to the central: the stores it would bring to a round
 * now and the largest example count among them (0 and busy when it cannot
 * run a round). */
void aggregator_region_hello(aggregator *a, int64_t now, fr_msg_hello *h);

/* True once cfg->rounds rounds are complete (never if rounds == 0). */
bool aggregator_done(const aggregator *a);

/* Milliseconds until the next timer, for the poll timeout (at most 100). */
int aggregator_next_timeout(const aggregator *a, int64_t now_ms);

#endif
