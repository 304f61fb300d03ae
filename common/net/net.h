/*
 * net.h - the only module that includes <zmq.h>.
 *
 * The aggregator listens on a ROUTER socket as a CURVE server; stores connect
 * with DEALER sockets as CURVE clients pinning the aggregator's public key.
 * A ZAP handler thread (started with fr_net_zap_start) admits only store keys
 * listed in the allow-list file and hands ZeroMQ the store name as User-Id,
 * so every received message carries the authenticated store name. Refused
 * keys are logged by fingerprint at warn and counted.
 *
 * Allow-list file: lines
 *   STORE_NAME HEX_CURVE_PUBLIC_KEY [HEX_ED25519_PUBLIC_KEY]
 * The optional third column is the store's identity (signing) key, used by
 * secure aggregation; two-column lines admit the store without one. '#'
 * comments and blank lines ignored; store names are [A-Za-z0-9._-]{1,63};
 * keys are 64 hex characters. A store name may appear on two lines, with
 * different keys, while the store's keys are rotated; a third line for a
 * name, a duplicate CURVE key or identity key, or a malformed line is an
 * error naming the line. The ZAP handler hands ZeroMQ "NAME:KEYFP" as
 * User-Id, so each message says which of the store's keys sent it, and a
 * key taken off the list is refused from its connection's next message
 * (fr_net_zap_key_allowed), not only at the next handshake.
 *
 * Threads: a socket is used by one thread at a time (ZeroMQ rule). The ZAP
 * handler runs on its own thread inside the context; fr_net_zap_reload may be
 * called from any thread.
 */
#ifndef FR_NET_NET_H
#define FR_NET_NET_H

#include <stddef.h>
#include <stdint.h>

#include "../base/err.h"
#include "../crypto/crypto.h"

typedef struct fr_net_ctx fr_net_ctx;
typedef struct fr_net_sock fr_net_sock;

#define FR_NET_PEER_ID_MAX 255
#define FR_NET_STORE_NAME_MAX 64
/* A CURVE public key's fingerprint: the first 8 bytes of its BLAKE2b-256
 * hash, in hex. Public; names which of a store's keys a connection used. */
#define FR_NET_KEY_FP_HEX 16

/* Who sent a message on a ROUTER socket. */
typedef struct fr_net_peer {
    uint8_t id[FR_NET_PEER_ID_MAX]; /* ZeroMQ routing id (not secret) */
    size_t id_len;
    char store[FR_NET_STORE_NAME_MAX]; /* authenticated name from ZAP */
    char key_fp[FR_NET_KEY_FP_HEX + 1]; /* which listed key it used */
} fr_net_peer;

FR_NODISCARD fr_err fr_net_ctx_new(fr_net_ctx **out);
/* Stops the ZAP thread, closes the context; sockets must be destroyed first.
 * Accepts NULL; sets *ctxp to NULL. */
void fr_net_ctx_destroy(fr_net_ctx **ctxp);

/* Loads the allow-list and starts the ZAP handler. FR_EINVAL (logged with the
 * file and line) if the list is malformed; FR_ESTATE if already started. */
FR_NODISCARD fr_err fr_net_zap_start(fr_net_ctx *ctx,
                                     const char *allowlist_path);
/* Re-reads the allow-list; on error the old list stays in force. New
 * handshakes use the new list. */
FR_NODISCARD fr_err fr_net_zap_reload(fr_net_ctx *ctx);
/* Number of handshakes refused so far. */
uint64_t fr_net_zap_refused(const fr_net_ctx *ctx);
/* Non-zero if store is on the current allow-list. */
int fr_net_zap_allowed(const fr_net_ctx *ctx, const char *store);
/* Non-zero if store is listed with the CURVE key whose fingerprint is
 * key_fp (FR_NET_KEY_FP_HEX hex characters, as in fr_net_peer). */
int fr_net_zap_key_allowed(const fr_net_ctx *ctx, const char *store,
                           const char *key_fp);
/* Revokes a store: every line for it in the allow-list file is turned into
 * a comment ("# revoked TIMESTAMP: ...", the file replaced atomically) and
 * the list reloaded, so its connections are refused from their next
 * message and its keys at any later handshake, also after a restart.
 * FR_ENOENT if the store is not listed; err gets a message. */
FR_NODISCARD fr_err fr_net_zap_revoke(fr_net_ctx *ctx, const char *store,
                                      char *err, size_t errlen);
/* Copies the store's Ed25519 identity public key from the allow-list in
 * force. FR_ENOENT if the store is not listed or has no identity key,
 * FR_ESTATE if the ZAP handler was never started; pk_out is written only on
 * success. Thread-safe like fr_net_zap_allowed. */
FR_NODISCARD fr_err fr_net_zap_sign_key(const fr_net_ctx *ctx,
                                        const char *store,
                                        uint8_t pk_out[FR_CRYPTO_PK_BYTES]);
/* The identity key listed with the store's CURVE key key_fp (during a key
 * rotation a store has two lines, each with its own identity key);
 * key_fp NULL or "" means the store's last line. Errors as above. */
FR_NODISCARD fr_err fr_net_zap_sign_key_for(const fr_net_ctx *ctx,
                                            const char *store,
                                            const char *key_fp,
                                            uint8_t pk_out[FR_CRYPTO_PK_BYTES]);

/* Non-zero if name is a valid store name: [A-Za-z0-9._-]{1,63}. The same
 * rule the allow-list applies; tools use it to validate names early. */
int fr_net_store_name_valid(const char *name);

/* Binds a ROUTER CURVE server. server is borrowed for the call (the secret
 * is copied into ZeroMQ). max_msg is set as ZMQ_MAXMSGSIZE. FR_ESTATE if
 * the ZAP handler is not running on ctx: without it ZeroMQ would admit any
 * client key, so start it first. */
FR_NODISCARD fr_err fr_net_listen(fr_net_ctx *ctx, const char *endpoint,
                                  const fr_crypto_keypair *server,
                                  size_t max_msg, fr_net_sock **out);

/* Connects a DEALER CURVE client pinning server_pk. ZeroMQ reconnects by
 * itself if the aggregator goes away and comes back. */
FR_NODISCARD fr_err fr_net_connect(fr_net_ctx *ctx, const char *endpoint,
                                   const fr_crypto_keypair *client,
                                   const uint8_t server_pk[FR_CRYPTO_PK_BYTES],
                                   size_t max_msg, fr_net_sock **out);

/* Reconnection options of a DEALER client (fr_net_connect_with). */
typedef struct fr_net_connect_opts {
    int reconnect_ivl_ms; /* ZeroMQ's first retry after a lost or refused
                             TCP connection; doubles up to the next field */
    int reconnect_max_ms; /* cap of that doubling */
} fr_net_connect_opts;

/* How a client connection stands, as its monitor last saw it. */
typedef enum fr_net_link {
    FR_NET_LINK_CONNECTING = 0, /* new socket, no outcome yet */
    FR_NET_LINK_UP,             /* CURVE handshake succeeded */
    FR_NET_LINK_DOWN,           /* TCP refused or lost; ZeroMQ retries */
    FR_NET_LINK_REFUSED,        /* the server refused our key (ZAP said no):
                                   libzmq 4.3 does not retry this one */
    FR_NET_LINK_FAILED,         /* handshake failed otherwise (wrong server
                                   key, protocol error): not retried either */
} fr_net_link;

/* Watches a socket's connection events (zmq_socket_monitor over inproc). */
typedef struct fr_net_monitor fr_net_monitor;

/* fr_net_connect with explicit reconnection options (opts NULL: those of
 * fr_net_connect). If mon_out is not NULL a monitor is attached before the
 * connect, so no event is missed; on failure neither is made. Destroy the
 * monitor before the socket. FR_EINVAL if an interval is below 1 ms or the
 * maximum below the first interval. */
FR_NODISCARD fr_err fr_net_connect_with(fr_net_ctx *ctx, const char *endpoint,
                                        const fr_crypto_keypair *client,
                                        const uint8_t server_pk[FR_CRYPTO_PK_BYTES],
                                        size_t max_msg,
                                        const fr_net_connect_opts *opts,
                                        fr_net_sock **out,
                                        fr_net_monitor **mon_out);

/* Attaches a monitor to s (borrowed; it must outlive the monitor). Only
 * one monitor per socket. Same thread rules as s. */
FR_NODISCARD fr_err fr_net_monitor_start(fr_net_sock *s,
                                         fr_net_monitor **out);
/* Stops monitoring (the watched socket must still exist) and frees.
 * Accepts NULL; sets *mp to NULL. */
void fr_net_monitor_destroy(fr_net_monitor **mp);
/* The monitor's own socket, to pass to fr_net_poll: readable when events
 * are waiting. Borrowed; read it only with fr_net_monitor_poll. */
fr_net_sock *fr_net_monitor_sock(fr_net_monitor *m);
/* Reads every waiting event without blocking and writes the state they
 * lead to. REFUSED and FAILED stay until a handshake succeeds (the
 * DISCONNECTED that follows a refusal does not hide it). FR_EPROTO if an
 * event had an unexpected shape (skipped; the state is still written). */
FR_NODISCARD fr_err fr_net_monitor_poll(fr_net_monitor *m,
                                        fr_net_link *state_out);
/* ZeroMQ's delay before its next reconnect attempt, from the last
 * CONNECT_RETRIED event (0 if none yet). */
uint32_t fr_net_monitor_retry_ms(const fr_net_monitor *m);
/* A short name for state: "connecting", "up", "down", "refused",
 * "failed". */
const char *fr_net_link_name(fr_net_link state);

/* An in-process PAIR socket for talking to a worker thread: one side binds
 * (bind != 0), the other connects, with the same name. */
FR_NODISCARD fr_err fr_net_pair(fr_net_ctx *ctx, const char *name, int bind,
                                fr_net_sock **out);

/* Copies the endpoint s was last bound or connected to (for
 * "tcp://127.0.0.1:*" this holds the port chosen) into out, NUL-terminated.
 * FR_ELIMIT if cap is too small. */
FR_NODISCARD fr_err fr_net_sock_endpoint(const fr_net_sock *s, char *out,
                                         size_t cap);

/* Closes (linger 0) and frees; accepts NULL; sets *sp to NULL. */
void fr_net_sock_destroy(fr_net_sock **sp);

/* Sends one message without blocking. peer is required on a ROUTER socket
 * and ignored otherwise. FR_ECLOSED if the peer is gone, FR_ETIMEDOUT if the
 * send would block. */
FR_NODISCARD fr_err fr_net_send(fr_net_sock *s, const fr_net_peer *peer,
                                const void *buf, size_t len);

/* Like fr_net_send, but hands *bufp (malloc'd, len > 0 bytes) to ZeroMQ
 * without a copy: it is freed once written to the connection or dropped,
 * and counted in fr_net_queued_bytes until then. *bufp is NULL afterwards,
 * whatever the result. For large messages sent to many peers, which the
 * sender paces by what is still queued. */
FR_NODISCARD fr_err fr_net_send_owned(fr_net_sock *s, const fr_net_peer *peer,
                                      uint8_t **bufp, size_t len);

/* Payload bytes handed over by fr_net_send_owned on ctx's sockets that
 * ZeroMQ has not yet written or dropped. Lowered by its I/O threads. */
size_t fr_net_queued_bytes(const fr_net_ctx *ctx);

/* Sends one message of n frames (bufs[i], lens[i]) on a DEALER or PAIR
 * socket without blocking. The protocol uses one frame per message (the
 * aggregator drops anything else); this is for tools and tests that check
 * that it does. FR_EINVAL on a ROUTER socket or n == 0. */
FR_NODISCARD fr_err fr_net_send_parts(fr_net_sock *s, const void *const *bufs,
                                      const size_t *lens, size_t n);

/* Sends one message to each of peers[0..n-1] on a ROUTER socket without
 * blocking, like fr_net_send per peer, but all of them share one copy of
 * buf (ZeroMQ counts references) instead of one queued copy per peer.
 * rc_out[i] gets fr_net_send's result for peers[i]. Returns FR_EINVAL on a
 * non-ROUTER socket or bad arguments, FR_ENOMEM if the shared copy cannot
 * be made (nothing sent then), FR_OK otherwise. */
FR_NODISCARD fr_err fr_net_send_shared(fr_net_sock *s,
                                       const fr_net_peer *const *peers,
                                       size_t n, const void *buf, size_t len,
                                       fr_err *rc_out);

/* Receives one message, waiting up to timeout_ms (0 = poll, -1 = forever).
 * *buf_out is malloc'd (caller frees); peer_out (ROUTER only, may be NULL)
 * gets routing id and store name. FR_ETIMEDOUT if nothing arrived; FR_EPROTO
 * if a frame had an unexpected shape (it was consumed and dropped): then
 * peer_out's store names the authenticated sender of a ROUTER message
 * with more than one payload frame, and is empty otherwise. */
FR_NODISCARD fr_err fr_net_recv(fr_net_sock *s, int timeout_ms,
                                fr_net_peer *peer_out, uint8_t **buf_out,
                                size_t *len_out);

/* Waits up to timeout_ms until one of socks can be read; sets bit i of
 * *ready_out for each readable socks[i]. FR_OK with *ready_out == 0 on
 * timeout. FR_ECLOSED if interrupted by a signal (check your stop flag). */
FR_NODISCARD fr_err fr_net_poll(fr_net_sock *const *socks, size_t n,
                                int timeout_ms, unsigned *ready_out);

/* fr_net_poll for any number of sockets (fr_net_poll takes at most one per
 * bit of unsigned): sets ready_out[i] to 1 if socks[i] can be read and to 0
 * otherwise, and *n_ready_out (may be NULL) to how many can. ready_out is
 * written only on success. FR_ENOMEM if the poll set cannot be allocated;
 * FR_ECLOSED as for fr_net_poll. */
FR_NODISCARD fr_err fr_net_poll_many(fr_net_sock *const *socks, size_t n,
                                     int timeout_ms, uint8_t *ready_out,
                                     size_t *n_ready_out);

#endif
