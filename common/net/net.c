/*
 * net.c - ZeroMQ sockets for fedrec: the aggregator's ROUTER (CURVE server),
 * the stores' DEALERs (CURVE clients pinning the aggregator key), inproc PAIRs
 * for workers, and non-blocking send, receive and poll on them. Together with
 * zap.c, the only code that includes <zmq.h>.
 *
 * DESIGN
 * - Fail closed: fr_net_listen refuses to bind until the ZAP handler runs,
 *   also asks ZeroMQ to enforce the ZAP domain, and fr_net_recv drops any
 *   ROUTER message that does not carry a ZAP-assigned User-Id. Any one of
 *   these alone keeps unlisted keys out.
 * - zmq_errno() is read right at the failing call and mapped to fr_err there.
 * - Frames from peers are never trusted for shape: a ROUTER message must be
 *   exactly [routing id][payload] and anything else exactly [payload]; other
 *   shapes are read to the end, dropped and reported as FR_EPROTO.
 * - HWMs are small because messages are large (a model can be tens of MiB)
 *   and the protocol only has a few in flight per peer.
 * - A client learns how its connection stands only from a socket monitor:
 *   the aggregator answers no heartbeat. libzmq 4.3 gives up on a
 *   connection whose handshake was refused, so the monitor keeps REFUSED
 *   (and FAILED) until a handshake succeeds; the caller rebuilds the
 *   socket.
 */
#include "net.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "../base/log.h"
#include "../base/util.h"
#include "net_int.h"

#define TAG "net"

#define SEND_HWM 64
#define RECV_HWM 32
/* Reconnect quickly after a blip, back off to 2 s while the aggregator is
 * away. */
#define RECONNECT_IVL_MS 100
#define RECONNECT_IVL_MAX_MS 2000
/* Heartbeats notice peers that vanished without closing TCP. The timeout is
 * generous because a heartbeat can wait behind a large model transfer. */
/* A connection that has not completed its CURVE handshake within this is
 * closed (plain TCP sending junk or nothing, a stalled stranger), so
 * unauthenticated peers cannot hold descriptors for long. */
#define HANDSHAKE_IVL_MS 10000
#define HEARTBEAT_IVL_MS 15000
#define HEARTBEAT_TIMEOUT_MS 120000
/* ZMQ_ZAP_ENFORCE_DOMAIN is a draft option in 4.3 headers; libzmq 4.3
 * accepts it regardless. If a build rejects it, the other two guards hold. */
#ifdef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZAP_ENFORCE_DOMAIN_OPT ZMQ_ZAP_ENFORCE_DOMAIN
#else
#define ZAP_ENFORCE_DOMAIN_OPT 93
#endif

struct fr_net_sock {
    fr_net_ctx *ctx;
    void *z;
    int type; /* ZMQ_ROUTER, ZMQ_DEALER or ZMQ_PAIR */
};

/* Maps a zmq_errno() value to fr_err. Call right at the failing call. */
static fr_err
map_zmq_errno(int e)
{
    switch (e) {
    case EAGAIN: return FR_ETIMEDOUT;
    case EHOSTUNREACH:
    case ETERM:
    case ENOTSOCK:
    case EINTR: return FR_ECLOSED;
    case EMSGSIZE: return FR_ELIMIT;
    case EADDRINUSE:
    case EADDRNOTAVAIL:
    case EPROTONOSUPPORT:
    case ENOCOMPATPROTO: return FR_EINVAL;
    default: return fr_err_from_errno(e);
    }
}

fr_err
fr_net_ctx_new(fr_net_ctx **out)
{
    fr_net_ctx *ctx;

    if (!zmq_has("curve")) {
        fr_log_err(TAG, "libzmq was built without CURVE support");
        return FR_ESTATE;
    }
    ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return FR_ENOMEM;
    ctx->zctx = zmq_ctx_new();
    if (!ctx->zctx) {
        fr_err rc = map_zmq_errno(zmq_errno());
        free(ctx);
        return rc ? rc : FR_ESYS;
    }
    atomic_init(&ctx->n_socks, 0);
    atomic_init(&ctx->queued, 0);
    *out = ctx;
    return FR_OK;
}

void
fr_net_ctx_destroy(fr_net_ctx **ctxp)
{
    fr_net_ctx *ctx;

    if (!ctxp || !*ctxp)
        return;
    ctx = *ctxp;
    /* zmq_ctx_term would wait forever for a socket someone still holds;
     * failing loudly beats a daemon that hangs on exit. */
    FR_ASSERT(atomic_load(&ctx->n_socks) == 0);
    fr_net_zap_stop_(ctx);
    while (zmq_ctx_term(ctx->zctx) != 0 && zmq_errno() == EINTR)
        ;
    free(ctx);
    *ctxp = NULL;
}

/* ---- socket set-up ----------------------------------------------------- */

static fr_err
set_opt(fr_net_sock *s, int opt, const void *val, size_t len,
        const char *name)
{
    if (zmq_setsockopt(s->z, opt, val, len) == 0)
        return FR_OK;
    {
        int e = zmq_errno();
        fr_log_err(TAG, "setting %s failed: %s", name, zmq_strerror(e));
        return map_zmq_errno(e);
    }
}

static fr_err
set_int(fr_net_sock *s, int opt, int v, const char *name)
{
    return set_opt(s, opt, &v, sizeof v, name);
}

static fr_err
sock_open(fr_net_ctx *ctx, int type, fr_net_sock **out)
{
    fr_net_sock *s = calloc(1, sizeof *s);
    fr_err rc;

    if (!s)
        return FR_ENOMEM;
    s->z = zmq_socket(ctx->zctx, type);
    if (!s->z) {
        rc = map_zmq_errno(zmq_errno());
        free(s);
        return rc;
    }
    s->ctx = ctx;
    s->type = type;
    atomic_fetch_add(&ctx->n_socks, 1);
    rc = set_int(s, ZMQ_LINGER, 0, "ZMQ_LINGER");
    if (rc) {
        fr_net_sock_destroy(&s);
        return rc;
    }
    *out = s;
    return FR_OK;
}

void
fr_net_sock_destroy(fr_net_sock **sp)
{
    if (!sp || !*sp)
        return;
    zmq_close((*sp)->z);
    atomic_fetch_sub(&(*sp)->ctx->n_socks, 1);
    free(*sp);
    *sp = NULL;
}

/* Options both TCP ends share: HWMs, size limit, heartbeats. */
static fr_err
set_stream_opts(fr_net_sock *s, size_t max_msg)
{
    int64_t max = max_msg > (size_t)INT64_MAX ? INT64_MAX : (int64_t)max_msg;
    fr_err rc;

    if ((rc = set_int(s, ZMQ_SNDHWM, SEND_HWM, "ZMQ_SNDHWM")) ||
        (rc = set_int(s, ZMQ_RCVHWM, RECV_HWM, "ZMQ_RCVHWM")) ||
        (rc = set_opt(s, ZMQ_MAXMSGSIZE, &max, sizeof max,
                      "ZMQ_MAXMSGSIZE")) ||
        (rc = set_int(s, ZMQ_HEARTBEAT_IVL, HEARTBEAT_IVL_MS,
                      "ZMQ_HEARTBEAT_IVL")) ||
        (rc = set_int(s, ZMQ_HEARTBEAT_TIMEOUT, HEARTBEAT_TIMEOUT_MS,
                      "ZMQ_HEARTBEAT_TIMEOUT")))
        return rc;
    return FR_OK;
}

static fr_err
set_server_opts(fr_net_sock *s, const fr_crypto_keypair *server,
                size_t max_msg)
{
    int one = 1;
    fr_err rc;

    if ((rc = set_stream_opts(s, max_msg)) ||
        (rc = set_int(s, ZMQ_HANDSHAKE_IVL, HANDSHAKE_IVL_MS,
                      "ZMQ_HANDSHAKE_IVL")) ||
        (rc = set_int(s, ZMQ_ROUTER_MANDATORY, 1, "ZMQ_ROUTER_MANDATORY")) ||
        (rc = set_int(s, ZMQ_CURVE_SERVER, 1, "ZMQ_CURVE_SERVER")) ||
        (rc = set_opt(s, ZMQ_CURVE_SECRETKEY, fr_crypto_keypair_secret(server),
                      FR_CRYPTO_SK_BYTES, "ZMQ_CURVE_SECRETKEY")) ||
        (rc = set_opt(s, ZMQ_ZAP_DOMAIN, FR_NET_ZAP_DOMAIN,
                      strlen(FR_NET_ZAP_DOMAIN), "ZMQ_ZAP_DOMAIN")))
        return rc;
    if (zmq_setsockopt(s->z, ZAP_ENFORCE_DOMAIN_OPT, &one, sizeof one) != 0)
        fr_log_debug(TAG, "ZMQ_ZAP_ENFORCE_DOMAIN unsupported: %s",
                     zmq_strerror(zmq_errno()));
    return FR_OK;
}

fr_err
fr_net_listen(fr_net_ctx *ctx, const char *endpoint,
              const fr_crypto_keypair *server, size_t max_msg,
              fr_net_sock **out)
{
    fr_net_sock *s = NULL;
    fr_err rc;

    if (!ctx || !endpoint || !server || max_msg == 0)
        return FR_EINVAL;
    if (!ctx->zap) {
        fr_log_err(TAG, "refusing to listen on %s before the ZAP handler "
                        "runs: every client key would be admitted",
                   endpoint);
        return FR_ESTATE;
    }
    rc = sock_open(ctx, ZMQ_ROUTER, &s);
    if (rc)
        goto out;
    rc = set_server_opts(s, server, max_msg);
    if (rc)
        goto out;
    if (zmq_bind(s->z, endpoint) != 0) {
        int e = zmq_errno();
        fr_log_err(TAG, "cannot listen on %s: %s", endpoint, zmq_strerror(e));
        rc = map_zmq_errno(e);
        goto out;
    }
    *out = s;
    s = NULL;
out:
    fr_net_sock_destroy(&s);
    return rc;
}

static fr_err
set_client_opts(fr_net_sock *s, const fr_crypto_keypair *client,
                const uint8_t server_pk[FR_CRYPTO_PK_BYTES], size_t max_msg,
                const fr_net_connect_opts *o)
{
    fr_err rc;

    if ((rc = set_stream_opts(s, max_msg)) ||
        (rc = set_int(s, ZMQ_RECONNECT_IVL, o->reconnect_ivl_ms,
                      "ZMQ_RECONNECT_IVL")) ||
        (rc = set_int(s, ZMQ_RECONNECT_IVL_MAX, o->reconnect_max_ms,
                      "ZMQ_RECONNECT_IVL_MAX")) ||
        (rc = set_opt(s, ZMQ_CURVE_SERVERKEY, server_pk, FR_CRYPTO_PK_BYTES,
                      "ZMQ_CURVE_SERVERKEY")) ||
        (rc = set_opt(s, ZMQ_CURVE_PUBLICKEY, fr_crypto_keypair_public(client),
                      FR_CRYPTO_PK_BYTES, "ZMQ_CURVE_PUBLICKEY")) ||
        (rc = set_opt(s, ZMQ_CURVE_SECRETKEY, fr_crypto_keypair_secret(client),
                      FR_CRYPTO_SK_BYTES, "ZMQ_CURVE_SECRETKEY")))
        return rc;
    return FR_OK;
}

fr_err
fr_net_connect(fr_net_ctx *ctx, const char *endpoint,
               const fr_crypto_keypair *client,
               const uint8_t server_pk[FR_CRYPTO_PK_BYTES], size_t max_msg,
               fr_net_sock **out)
{
    return fr_net_connect_with(ctx, endpoint, client, server_pk, max_msg,
                               NULL, out, NULL);
}

fr_err
fr_net_connect_with(fr_net_ctx *ctx, const char *endpoint,
                    const fr_crypto_keypair *client,
                    const uint8_t server_pk[FR_CRYPTO_PK_BYTES],
                    size_t max_msg, const fr_net_connect_opts *opts,
                    fr_net_sock **out, fr_net_monitor **mon_out)
{
    static const fr_net_connect_opts defaults = {RECONNECT_IVL_MS,
                                                 RECONNECT_IVL_MAX_MS};
    const fr_net_connect_opts *o = opts ? opts : &defaults;
    fr_net_monitor *mon = NULL;
    fr_net_sock *s = NULL;
    fr_err rc;

    if (!ctx || !endpoint || !client || !server_pk || max_msg == 0 || !out)
        return FR_EINVAL;
    if (o->reconnect_ivl_ms < 1 || o->reconnect_max_ms < o->reconnect_ivl_ms)
        return FR_EINVAL;
    rc = sock_open(ctx, ZMQ_DEALER, &s);
    if (rc)
        goto out;
    rc = set_client_opts(s, client, server_pk, max_msg, o);
    if (rc)
        goto out;
    if (mon_out && (rc = fr_net_monitor_start(s, &mon)))
        goto out;
    /* connect only records the endpoint; the handshake happens in the
     * background and is retried until it succeeds. */
    if (zmq_connect(s->z, endpoint) != 0) {
        int e = zmq_errno();
        fr_log_err(TAG, "cannot connect to %s: %s", endpoint, zmq_strerror(e));
        rc = map_zmq_errno(e);
        goto out;
    }
    if (mon_out) {
        *mon_out = mon;
        mon = NULL;
    }
    *out = s;
    s = NULL;
out:
    fr_net_monitor_destroy(&mon);
    fr_net_sock_destroy(&s);
    return rc;
}

fr_err
fr_net_pair(fr_net_ctx *ctx, const char *name, int bind, fr_net_sock **out)
{
    char ep[256];
    fr_net_sock *s = NULL;
    fr_err rc;
    int zrc;

    if (!ctx || !name || !*name)
        return FR_EINVAL;
    if (strncmp(name, "inproc://", 9) == 0)
        name += 9;
    if (snprintf(ep, sizeof ep, "inproc://%s", name) >= (int)sizeof ep)
        return FR_ELIMIT;
    rc = sock_open(ctx, ZMQ_PAIR, &s);
    if (rc)
        goto out;
    zrc = bind ? zmq_bind(s->z, ep) : zmq_connect(s->z, ep);
    if (zrc != 0) {
        int e = zmq_errno();
        fr_log_err(TAG, "cannot %s %s: %s", bind ? "bind" : "connect", ep,
                   zmq_strerror(e));
        rc = map_zmq_errno(e);
        goto out;
    }
    *out = s;
    s = NULL;
out:
    fr_net_sock_destroy(&s);
    return rc;
}

fr_err
fr_net_sock_endpoint(const fr_net_sock *s, char *out, size_t cap)
{
    char ep[1024];
    size_t len = sizeof ep;
    size_t n;

    if (!s || !out || cap == 0)
        return FR_EINVAL;
    if (zmq_getsockopt(s->z, ZMQ_LAST_ENDPOINT, ep, &len) != 0)
        return map_zmq_errno(zmq_errno());
    n = strnlen(ep, len);
    if (n >= cap)
        return FR_ELIMIT;
    memcpy(out, ep, n);
    out[n] = '\0';
    return FR_OK;
}

/* ---- send, receive, poll ----------------------------------------------- */

fr_err
fr_net_send(fr_net_sock *s, const fr_net_peer *peer, const void *buf,
            size_t len)
{
    if (!s || (!buf && len))
        return FR_EINVAL;
    if (s->type == ZMQ_ROUTER) {
        if (!peer || peer->id_len == 0 || peer->id_len > FR_NET_PEER_ID_MAX)
            return FR_EINVAL;
        /* With ROUTER_MANDATORY an unknown or gone peer fails here with
         * EHOSTUNREACH and a full pipe with EAGAIN, before any frame is
         * queued; once the id frame is accepted the payload follows. */
        if (zmq_send(s->z, peer->id, peer->id_len,
                     ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
            return map_zmq_errno(zmq_errno());
    }
    if (zmq_send(s->z, buf, len, ZMQ_DONTWAIT) < 0)
        return map_zmq_errno(zmq_errno());
    return FR_OK;
}

/* What ZeroMQ's free callback needs of an owned payload. */
typedef struct owned_hint {
    atomic_size_t *queued;
    size_t len;
} owned_hint;

/* Runs in an I/O thread once the frame is written or dropped. */
static void
owned_free(void *data, void *hint)
{
    owned_hint *h = hint;

    atomic_fetch_sub(h->queued, h->len);
    free(h);
    free(data);
}

fr_err
fr_net_send_owned(fr_net_sock *s, const fr_net_peer *peer, uint8_t **bufp,
                  size_t len)
{
    uint8_t *buf = bufp ? *bufp : NULL;
    owned_hint *h = NULL;
    zmq_msg_t m;
    fr_err rc;

    if (bufp)
        *bufp = NULL;
    if (!s || !buf || !len ||
        (s->type == ZMQ_ROUTER &&
         (!peer || peer->id_len == 0 || peer->id_len > FR_NET_PEER_ID_MAX))) {
        free(buf);
        return FR_EINVAL;
    }
    /* The payload message first: from here on closing it frees buf. */
    if (!(h = malloc(sizeof *h)) ||
        zmq_msg_init_data(&m, buf, len, owned_free, h) != 0) {
        free(h);
        free(buf);
        return FR_ENOMEM;
    }
    h->queued = &s->ctx->queued;
    h->len = len;
    atomic_fetch_add(&s->ctx->queued, len);
    if (s->type == ZMQ_ROUTER &&
        zmq_send(s->z, peer->id, peer->id_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) <
            0) {
        rc = map_zmq_errno(zmq_errno());
        zmq_msg_close(&m); /* runs owned_free */
        return rc;
    }
    if (zmq_msg_send(&m, s->z, ZMQ_DONTWAIT) < 0) {
        rc = map_zmq_errno(zmq_errno());
        zmq_msg_close(&m);
        return rc;
    }
    return FR_OK;
}

size_t
fr_net_queued_bytes(const fr_net_ctx *ctx)
{
    return ctx ? atomic_load(&((fr_net_ctx *)ctx)->queued) : 0;
}

fr_err
fr_net_send_parts(fr_net_sock *s, const void *const *bufs, const size_t *lens,
                  size_t n)
{
    if (!s || s->type == ZMQ_ROUTER || n == 0 || !bufs || !lens)
        return FR_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (zmq_send(s->z, bufs[i], lens[i],
                     ZMQ_DONTWAIT | (i + 1 < n ? ZMQ_SNDMORE : 0)) < 0)
            return map_zmq_errno(zmq_errno());
    return FR_OK;
}

/* The routing frame, then a reference to the shared payload. */
static fr_err
send_ref(fr_net_sock *s, const fr_net_peer *peer, zmq_msg_t *shared)
{
    zmq_msg_t m;

    if (!peer || peer->id_len == 0 || peer->id_len > FR_NET_PEER_ID_MAX)
        return FR_EINVAL;
    if (zmq_send(s->z, peer->id, peer->id_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) <
        0)
        return map_zmq_errno(zmq_errno());
    zmq_msg_init(&m);
    if (zmq_msg_copy(&m, shared) != 0 ||
        zmq_msg_send(&m, s->z, ZMQ_DONTWAIT) < 0) {
        fr_err rc = map_zmq_errno(zmq_errno());
        zmq_msg_close(&m);
        return rc;
    }
    return FR_OK;
}

fr_err
fr_net_send_shared(fr_net_sock *s, const fr_net_peer *const *peers, size_t n,
                   const void *buf, size_t len, fr_err *rc_out)
{
    zmq_msg_t shared;

    if (!s || s->type != ZMQ_ROUTER || (n && (!peers || !rc_out)) ||
        (!buf && len))
        return FR_EINVAL;
    if (zmq_msg_init_size(&shared, len) != 0)
        return FR_ENOMEM;
    if (len)
        memcpy(zmq_msg_data(&shared), buf, len);
    for (size_t i = 0; i < n; i++)
        rc_out[i] = send_ref(s, peers[i], &shared);
    zmq_msg_close(&shared); /* the queued references keep the bytes */
    return FR_OK;
}

/* Waits until s is readable or timeout_ms passed (-1: forever). */
static fr_err
wait_readable(fr_net_sock *s, int timeout_ms)
{
    zmq_pollitem_t item = {.socket = s->z, .events = ZMQ_POLLIN};
    int n = zmq_poll(&item, 1, timeout_ms);

    if (n < 0)
        return map_zmq_errno(zmq_errno());
    return n == 0 ? FR_ETIMEDOUT : FR_OK;
}

/* Receives the first frame of the next message, waiting up to timeout_ms. */
static fr_err
recv_first(fr_net_sock *s, int timeout_ms, zmq_msg_t *frame)
{
    int64_t deadline = fr_clock_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    int wait = timeout_ms;

    for (;;) {
        fr_err rc = wait_readable(s, wait);
        if (rc)
            return rc;
        if (zmq_msg_recv(frame, s->z, ZMQ_DONTWAIT) >= 0)
            return FR_OK;
        if (zmq_errno() != EAGAIN)
            return map_zmq_errno(zmq_errno());
        /* Readable but nothing there (another event woke us): wait on. */
        if (timeout_ms >= 0) {
            int64_t left = deadline - fr_clock_ms();
            if (left <= 0)
                return FR_ETIMEDOUT;
            wait = (int)left;
        }
    }
}

/* Reads and discards the rest of a multipart message. */
static void
drain(fr_net_sock *s, zmq_msg_t *last)
{
    while (zmq_msg_more(last)) {
        zmq_msg_close(last);
        zmq_msg_init(last);
        if (zmq_msg_recv(last, s->z, ZMQ_DONTWAIT) < 0)
            break;
    }
}

/* Copies the frame into a new malloc'd buffer. */
static fr_err
take_payload(zmq_msg_t *frame, uint8_t **buf_out, size_t *len_out)
{
    size_t len = zmq_msg_size(frame);
    uint8_t *buf = malloc(len ? len : 1);

    if (!buf)
        return FR_ENOMEM;
    memcpy(buf, zmq_msg_data(frame), len);
    *buf_out = buf;
    *len_out = len;
    return FR_OK;
}

/* Fills peer from a ROUTER id frame and the payload's ZAP User-Id. A message
 * without a valid User-Id did not pass our ZAP handler and is refused. */
static fr_err
peer_from_frames(zmq_msg_t *id, zmq_msg_t *payload, fr_net_peer *peer)
{
    const char *user = zmq_msg_gets(payload, "User-Id");
    const char *colon = user ? strchr(user, ':') : NULL;
    size_t id_len = zmq_msg_size(id);
    size_t name_len = colon ? (size_t)(colon - user) : 0;
    char name[FR_NET_STORE_NAME_MAX];

    /* Our ZAP handler sets "NAME:KEYFP" (net.h). */
    if (colon && name_len < sizeof name) {
        memcpy(name, user, name_len);
        name[name_len] = 0;
    }
    if (!colon || name_len >= sizeof name || !fr_net_store_name_valid(name) ||
        strlen(colon + 1) != FR_NET_KEY_FP_HEX) {
        fr_log_warn(TAG, "dropping a message without an authenticated "
                         "store name");
        return FR_EPROTO;
    }
    if (id_len == 0 || id_len > FR_NET_PEER_ID_MAX)
        return FR_EPROTO;
    memcpy(peer->id, zmq_msg_data(id), id_len);
    peer->id_len = id_len;
    memcpy(peer->store, name, name_len + 1);
    memcpy(peer->key_fp, colon + 1, FR_NET_KEY_FP_HEX + 1);
    return FR_OK;
}

/* ROUTER messages are exactly [routing id][payload]. */
static fr_err
recv_router(fr_net_sock *s, zmq_msg_t *id, zmq_msg_t *payload,
            fr_net_peer *peer)
{
    if (!zmq_msg_more(id))
        return FR_EPROTO;
    if (zmq_msg_recv(payload, s->z, ZMQ_DONTWAIT) < 0)
        return map_zmq_errno(zmq_errno());
    if (zmq_msg_more(payload)) {
        /* Name the sender (each frame carries the User-Id) so the refusal
         * can be charged to it, then read the rest unkept. */
        if (peer_from_frames(id, payload, peer) != FR_OK)
            memset(peer, 0, sizeof *peer);
        drain(s, payload);
        return FR_EPROTO;
    }
    return peer_from_frames(id, payload, peer);
}

fr_err
fr_net_recv(fr_net_sock *s, int timeout_ms, fr_net_peer *peer_out,
            uint8_t **buf_out, size_t *len_out)
{
    zmq_msg_t first, payload;
    fr_net_peer peer;
    fr_err rc;

    if (!s || !buf_out || !len_out)
        return FR_EINVAL;
    zmq_msg_init(&first);
    zmq_msg_init(&payload);
    memset(&peer, 0, sizeof peer);
    rc = recv_first(s, timeout_ms, &first);
    if (rc)
        goto out;
    if (s->type == ZMQ_ROUTER) {
        rc = recv_router(s, &first, &payload, &peer);
    } else if (zmq_msg_more(&first)) {
        drain(s, &first);
        rc = FR_EPROTO;
    } else {
        zmq_msg_move(&payload, &first);
    }
    if (rc == FR_EPROTO && peer_out)
        *peer_out = peer; /* store "" unless a multipart message's sender */
    if (rc)
        goto out;
    rc = take_payload(&payload, buf_out, len_out);
    if (rc == FR_OK && peer_out)
        *peer_out = peer;
out:
    zmq_msg_close(&first);
    zmq_msg_close(&payload);
    return rc;
}

fr_err
fr_net_poll(fr_net_sock *const *socks, size_t n, int timeout_ms,
            unsigned *ready_out)
{
    zmq_pollitem_t items[sizeof(unsigned) * CHAR_BIT];
    unsigned ready = 0;
    int rc;

    if (!ready_out || (n && !socks) || n > FR_ARRAY_LEN(items))
        return FR_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (!socks[i])
            return FR_EINVAL;
        items[i] = (zmq_pollitem_t){.socket = socks[i]->z,
                                    .events = ZMQ_POLLIN};
    }
    rc = zmq_poll(items, (int)n, timeout_ms);
    if (rc < 0)
        return map_zmq_errno(zmq_errno());
    for (size_t i = 0; i < n; i++)
        if (items[i].revents & ZMQ_POLLIN)
            ready |= 1u << i;
    *ready_out = ready;
    return FR_OK;
}

fr_err
fr_net_poll_many(fr_net_sock *const *socks, size_t n, int timeout_ms,
                 uint8_t *ready_out, size_t *n_ready_out)
{
    zmq_pollitem_t *items;
    size_t count = 0;
    fr_err rc = FR_OK;

    if ((n && (!socks || !ready_out)) || n > INT_MAX)
        return FR_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!socks[i])
            return FR_EINVAL;
    items = malloc((n ? n : 1) * sizeof *items);
    if (!items)
        return FR_ENOMEM;
    for (size_t i = 0; i < n; i++)
        items[i] = (zmq_pollitem_t){.socket = socks[i]->z,
                                    .events = ZMQ_POLLIN};
    if (zmq_poll(items, (int)n, timeout_ms) < 0) {
        rc = map_zmq_errno(zmq_errno());
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        ready_out[i] = (items[i].revents & ZMQ_POLLIN) != 0;
        count += ready_out[i];
    }
    if (n_ready_out)
        *n_ready_out = count;
out:
    free(items);
    return rc;
}

/* ---- connection monitor ------------------------------------------------ */

/* The events that change a client connection's state. */
#define MONITOR_EVENTS                                                         \
    (ZMQ_EVENT_CONNECTED | ZMQ_EVENT_CONNECT_RETRIED |                         \
     ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED |                  \
     ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |   \
     ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)

struct fr_net_monitor {
    fr_net_sock *watched; /* borrowed */
    fr_net_sock *pair;    /* our end of the monitor's inproc PAIR */
    fr_net_link state;
    uint32_t retry_ms;
};

fr_err
fr_net_monitor_start(fr_net_sock *s, fr_net_monitor **out)
{
    static atomic_uint serial;
    char ep[96];
    fr_net_monitor *m;
    fr_err rc;

    if (!s || !out)
        return FR_EINVAL;
    m = calloc(1, sizeof *m);
    if (!m)
        return FR_ENOMEM;
    snprintf(ep, sizeof ep, "inproc://fr-monitor-%p-%u", (void *)s,
             atomic_fetch_add(&serial, 1));
    if (zmq_socket_monitor(s->z, ep, MONITOR_EVENTS) != 0) {
        int e = zmq_errno();
        fr_log_err(TAG, "cannot monitor a socket: %s", zmq_strerror(e));
        free(m);
        return map_zmq_errno(e);
    }
    m->watched = s;
    rc = fr_net_pair(s->ctx, ep, 0, &m->pair);
    if (rc) {
        (void)zmq_socket_monitor(s->z, NULL, 0);
        free(m);
        return rc;
    }
    *out = m;
    return FR_OK;
}

void
fr_net_monitor_destroy(fr_net_monitor **mp)
{
    if (!mp || !*mp)
        return;
    (void)zmq_socket_monitor((*mp)->watched->z, NULL, 0);
    fr_net_sock_destroy(&(*mp)->pair);
    free(*mp);
    *mp = NULL;
}

fr_net_sock *
fr_net_monitor_sock(fr_net_monitor *m)
{
    return m ? m->pair : NULL;
}

static fr_net_link
link_after(fr_net_link cur, uint16_t event)
{
    switch (event) {
    case ZMQ_EVENT_HANDSHAKE_SUCCEEDED: return FR_NET_LINK_UP;
    case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH: return FR_NET_LINK_REFUSED;
    case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL: return FR_NET_LINK_FAILED;
    case ZMQ_EVENT_CONNECTED: /* TCP only: the handshake is still ahead */
        return cur == FR_NET_LINK_UP ? FR_NET_LINK_CONNECTING : cur;
    case ZMQ_EVENT_DISCONNECTED:
    case ZMQ_EVENT_CONNECT_RETRIED:
    case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL: /* a transport error: retried */
        return cur == FR_NET_LINK_REFUSED || cur == FR_NET_LINK_FAILED
                   ? cur
                   : FR_NET_LINK_DOWN;
    default: return cur;
    }
}

/* Reads one event: [u16 event, u32 value][endpoint]. 1 if one was read,
 * 0 if none was waiting, -1 if it had an unexpected shape. */
static int
monitor_read(fr_net_monitor *m, uint16_t *event, uint32_t *value)
{
    zmq_msg_t head;
    int shape_ok;

    zmq_msg_init(&head);
    if (zmq_msg_recv(&head, m->pair->z, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&head);
        return 0;
    }
    shape_ok = zmq_msg_size(&head) == 6 && zmq_msg_more(&head);
    if (shape_ok) {
        const uint8_t *d = zmq_msg_data(&head);
        memcpy(event, d, sizeof *event);
        memcpy(value, d + 2, sizeof *value);
    }
    drain(m->pair, &head); /* the endpoint frame */
    zmq_msg_close(&head);
    return shape_ok ? 1 : -1;
}

fr_err
fr_net_monitor_poll(fr_net_monitor *m, fr_net_link *state_out)
{
    fr_err rc = FR_OK;
    uint16_t event = 0;
    uint32_t value = 0;
    int got;

    if (!m || !state_out)
        return FR_EINVAL;
    while ((got = monitor_read(m, &event, &value)) != 0) {
        if (got < 0) {
            rc = FR_EPROTO;
            continue;
        }
        if (event == ZMQ_EVENT_CONNECT_RETRIED)
            m->retry_ms = value;
        m->state = link_after(m->state, event);
    }
    *state_out = m->state;
    return rc;
}

uint32_t
fr_net_monitor_retry_ms(const fr_net_monitor *m)
{
    return m ? m->retry_ms : 0;
}

const char *
fr_net_link_name(fr_net_link state)
{
    static const char *const names[] = {"connecting", "up", "down", "refused",
                                        "failed"};
    return (unsigned)state < FR_ARRAY_LEN(names) ? names[state] : "unknown";
}
