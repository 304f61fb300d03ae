/*
 * http.h - the aggregator's read-only HTTP endpoint: /metrics (Prometheus),
 * /healthz (for a supervisor or load balancer) and / (the status page).
 *
 * DESIGN. libmicrohttpd runs the server on its own internal thread (epoll
 * on Linux, so the aggregator's many ZeroMQ descriptors do not matter).
 * Each request takes a snapshot of the stats (agg_stats_snapshot, a brief
 * lock) and renders from that copy (render.h), so the main loop never waits
 * on a client. Only GET is answered; connections are capped and time out,
 * so slow or idle clients cannot pin the server; paths are matched
 * exactly as sent (no %-decoding, nothing is read from disk). Nothing served is secret,
 * but bind it to a loopback or management address: it has no
 * authentication.
 */
#ifndef FR_SERVER_HTTP_H
#define FR_SERVER_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "stats.h"

/* The limits that keep a slow or hostile client from holding the server:
 * connections in all and from one address (so idle connections from one
 * host cannot lock a monitoring host out), the idle timeout, and the
 * memory one connection may use for its request line and headers (a
 * longer header is answered 431 and the connection closed). A request
 * with a body is answered 413 without reading it. */
#define AGG_HTTP_MAX_CONNECTIONS 64
#define AGG_HTTP_PER_IP_CONNECTIONS 16
#define AGG_HTTP_TIMEOUT_S 10
#define AGG_HTTP_CONNECTION_MEMORY (16 * 1024)
/* /healthz fails when the main loop has not passed for this long. */
#define AGG_HTTP_HEALTH_STALE_MS 10000

typedef struct agg_http agg_http;

/* Serves /metrics, /healthz and / from its own thread (MHD internal polling
 * thread), reading stats (borrowed; must outlive the server). listen is
 * "HOST:PORT" (IPv4 address, or [IPv6]:PORT; PORT 0 = any free port).
 * FR_EINVAL for a malformed listen string, FR_ESYS if the address cannot
 * be bound; on error, a message for the operator in err. */
FR_NODISCARD fr_err agg_http_start(agg_http **out, const char *listen,
                                   agg_stats *stats, char *err, size_t errlen);

/* The bound port (the chosen one when listen asked for port 0). */
uint16_t agg_http_port(const agg_http *h);

/* Stops the server (waits for its thread) and frees it; accepts NULL and
 * a NULL *hp, and sets *hp to NULL. */
void agg_http_stop(agg_http **hp);

#endif
