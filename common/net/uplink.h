/*
 * uplink.h - a client connection that keeps itself up: a DEALER CURVE
 * socket with its monitor, made afresh with backoff while it is not up.
 *
 * DESIGN. The states are those of fr_net_link: CONNECTING (a new socket)
 * -> UP (the handshake succeeded) -> DOWN (lost or unreachable: ZeroMQ
 * retries by itself from reconnect_ivl_ms) or REFUSED (the server refused
 * our key: libzmq 4.3 never retries that) or FAILED (another handshake
 * failure). While the link is not UP the socket is destroyed and made
 * again after a delay that starts at rebuild_first_ms and doubles up to
 * reconnect_max_ms, with +-20 % jitter so that many clients do not knock
 * at once; reaching UP resets it. So a client that is put on the server's
 * allow-list later, or a server that comes back with the same key, is
 * reached without a restart. A message read from the socket proves the
 * handshake even if the monitor has not said so yet.
 *
 * This is the store's link to its aggregator (client/client.c) and the
 * regional aggregator's link to the central one (server/upstream.c).
 * Logging is left to the caller, which knows
 * what the link is for. One thread, like the sockets inside.
 */
#ifndef FR_NET_UPLINK_H
#define FR_NET_UPLINK_H

#include <stddef.h>
#include <stdint.h>

#include "../base/err.h"
#include "../crypto/crypto.h"
#include "net.h"

typedef struct fr_net_uplink fr_net_uplink;

typedef struct fr_net_uplink_opts {
    const char *endpoint;             /* copied */
    const fr_crypto_keypair *client;  /* borrowed: must outlive the uplink */
    const uint8_t *server_pk;         /* FR_CRYPTO_PK_BYTES, copied */
    size_t max_msg;                   /* ZMQ_MAXMSGSIZE */
    int reconnect_ivl_ms;             /* ZeroMQ's first retry (> 0) */
    int64_t rebuild_first_ms;         /* first rebuild delay (> 0) */
    int64_t reconnect_max_ms;         /* cap of both doublings */
} fr_net_uplink_opts;

/* Connects (the first rebuild is scheduled in case it does not come up).
 * FR_EINVAL on bad options; errors of fr_net_connect_with otherwise. */
FR_NODISCARD fr_err fr_net_uplink_new(fr_net_ctx *ctx,
                                      const fr_net_uplink_opts *opts,
                                      int64_t now_ms, fr_net_uplink **out);
/* Closes the socket and frees; accepts NULL; sets *up to NULL. */
void fr_net_uplink_destroy(fr_net_uplink **up);

/* Reads the monitor's events and, if they changed nothing, rebuilds the
 * socket when that is due (after a change the rebuild waits for the next
 * tick, so every state reached is returned once). Returns the state now; *was_out (may be NULL) gets the state before the
 * call, so the caller sees UP reached or left. A failed rebuild leaves no
 * socket until the next one (state CONNECTING); *rebuild_rc_out (may be
 * NULL) gets its error, FR_OK otherwise. */
fr_net_link fr_net_uplink_tick(fr_net_uplink *u, int64_t now_ms,
                               fr_net_link *was_out, fr_err *rebuild_rc_out);

/* A message came in: the link is UP whatever the monitor said. Returns the
 * state before. */
fr_net_link fr_net_uplink_heard(fr_net_uplink *u, int64_t now_ms);

fr_net_link fr_net_uplink_state(const fr_net_uplink *u);

/* The connection and its monitor, for fr_net_poll (NULL while a rebuild
 * failed); borrowed until the next tick. */
fr_net_sock *fr_net_uplink_sock(fr_net_uplink *u);
fr_net_sock *fr_net_uplink_monitor_sock(fr_net_uplink *u);

/* When the next rebuild is due (0: none scheduled), and the delay ZeroMQ
 * reported for its own next attempt (0 if none), for the caller's log. */
int64_t fr_net_uplink_rebuild_at(const fr_net_uplink *u);
uint32_t fr_net_uplink_retry_ms(const fr_net_uplink *u);
/* Sockets made afresh so far. */
uint64_t fr_net_uplink_rebuilds(const fr_net_uplink *u);

/* Sends one message if the link is UP: FR_ECLOSED otherwise, else as
 * fr_net_send. */
FR_NODISCARD fr_err fr_net_uplink_send(fr_net_uplink *u, const void *buf,
                                       size_t len);

#endif
