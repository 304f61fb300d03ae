/*
 * http.c - /metrics, /healthz and the status page over libmicrohttpd (see
 * http.h). The only file that includes <microhttpd.h>.
 */
#include "http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>

#include "base/log.h"
#include "base/util.h"
#include "render.h"

#define TAG "http"
#define LISTEN_MAX 128 /* longest listen string we accept */

struct agg_http {
    struct MHD_Daemon *d;
    agg_stats *stats; /* borrowed */
    uint16_t port;
    pthread_mutex_t msg_lock;
    char mhd_msg[200]; /* libmicrohttpd's last message, for start errors */
};

static int64_t
unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- listen address ---------------------------------------------------- */

/* Parses "A.B.C.D:PORT" or "[IPv6]:PORT" into *ss. */
static fr_err
parse_listen(const char *listen, struct sockaddr_storage *ss, int *v6_out,
             char *err, size_t errlen)
{
    char host[LISTEN_MAX];
    const char *port, *colon;
    size_t n, hl;
    int64_t p;

    n = listen ? strnlen(listen, LISTEN_MAX) : 0;
    if (n == 0 || n == LISTEN_MAX) {
        snprintf(err, errlen, "http_listen: %s", n ? "too long" : "empty");
        return FR_EINVAL;
    }
    if (listen[0] == '[') {
        const char *close = strchr(listen, ']');
        if (!close || close[1] != ':')
            goto bad;
        hl = (size_t)(close - listen - 1);
        port = close + 2;
    } else {
        colon = strchr(listen, ':');
        if (!colon || strchr(colon + 1, ':'))
            goto bad;
        hl = (size_t)(colon - listen);
        port = colon + 1;
    }
    memcpy(host, listen + (listen[0] == '['), hl);
    host[hl] = 0;
    if (fr_parse_i64(port, 0, 65535, &p)) {
        snprintf(err, errlen, "http_listen '%s': port '%s' is not an integer "
                              "in [0, 65535]", listen, port);
        return FR_EINVAL;
    }
    memset(ss, 0, sizeof *ss);
    *v6_out = listen[0] == '[';
    if (*v6_out) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)p);
        if (inet_pton(AF_INET6, host, &a->sin6_addr) == 1)
            return FR_OK;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)p);
        if (inet_pton(AF_INET, host, &a->sin_addr) == 1)
            return FR_OK;
    }
    snprintf(err, errlen, "http_listen '%s': '%s' is not an IP%s address",
             listen, host, *v6_out ? "v6" : "v4");
    return FR_EINVAL;
bad:
    snprintf(err, errlen, "http_listen '%s': expected HOST:PORT with an IPv4 "
                          "address, or [IPv6]:PORT", listen);
    return FR_EINVAL;
}

/* libmicrohttpd reports bind failures, refused and aborted connections
 * here. The last message explains a failed start; at run time they are
 * only debug lines, as any client can cause them. */
static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
    agg_http *h = cls;
    char line[sizeof h->mhd_msg];
    size_t n;

    vsnprintf(line, sizeof line, fmt, ap);
    n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = 0;
    pthread_mutex_lock(&h->msg_lock);
    memcpy(h->mhd_msg, line, n + 1);
    pthread_mutex_unlock(&h->msg_lock);
    fr_log_debug(TAG, "libmicrohttpd: %s", line);
}

/* ---- requests ---------------------------------------------------------- */

/* Queues body (malloc'd, taken; NULL means we ran out of memory). */
static enum MHD_Result
reply(struct MHD_Connection *c, unsigned code, const char *type, char *body)
{
    static char oom[] = "out of memory\n";
    struct MHD_Response *r;
    enum MHD_Result ret;

    if (body) {
        r = MHD_create_response_from_buffer(strlen(body), body,
                                            MHD_RESPMEM_MUST_FREE);
        if (!r)
            free(body);
    } else {
        code = MHD_HTTP_INTERNAL_SERVER_ERROR;
        type = "text/plain; charset=utf-8";
        r = MHD_create_response_from_buffer(strlen(oom), oom,
                                            MHD_RESPMEM_PERSISTENT);
    }
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (code == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET");
    if (!strncmp(type, "text/html", 9))
        /* The page needs nothing from outside and runs no script. */
        MHD_add_response_header(r, "Content-Security-Policy",
                                "default-src 'none'; style-src "
                                "'unsafe-inline'; img-src data:");
    ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result
reply_text(struct MHD_Connection *c, unsigned code, const char *text)
{
    return reply(c, code, "text/plain; charset=utf-8", strdup(text));
}

/* True if the daemon is healthy; otherwise the reason in why. */
static bool
healthy(const agg_stats_view *v, int64_t now, char *why, size_t n)
{
    if (!strncmp(v->state, "stopping", sizeof v->state)) {
        snprintf(why, n, "stopping\n");
        return false;
    }
    if (v->loop_unix_ms <= 0) {
        snprintf(why, n, "main loop has not started\n");
        return false;
    }
    if (now - v->loop_unix_ms > AGG_HTTP_HEALTH_STALE_MS) {
        snprintf(why, n, "main loop stalled: last pass %lld ms ago\n",
                 (long long)(now - v->loop_unix_ms));
        return false;
    }
    return true;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url,
           const char *method, const char *version, const char *upload,
           size_t *upload_len, void **req_cls)
{
    agg_http *h = cls;
    agg_stats_view v;
    char why[96];
    const char *cl;
    enum MHD_Result ret;
    int64_t now = unix_ms();

    (void)version, (void)upload, (void)req_cls;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0)
        return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED,
                          "method not allowed: only GET is served\n");
    cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (*upload_len || (cl && strcmp(cl, "0")) ||
        MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                    MHD_HTTP_HEADER_TRANSFER_ENCODING))
        return reply_text(c, MHD_HTTP_CONTENT_TOO_LARGE,
                          "a request body is not accepted\n");
    if (strcmp(url, "/metrics") && strcmp(url, "/healthz") &&
        strcmp(url, "/"))
        return reply_text(c, MHD_HTTP_NOT_FOUND,
                          "not found: try /, /metrics or /healthz\n");
    if (agg_stats_snapshot(h->stats, &v))
        return reply(c, 0, NULL, NULL);
    if (!strcmp(url, "/metrics"))
        ret = reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
                    agg_render_metrics(&v));
    else if (!strcmp(url, "/"))
        ret = reply(c, MHD_HTTP_OK, "text/html; charset=utf-8",
                    agg_render_status_html(&v, now));
    else if (healthy(&v, now, why, sizeof why))
        ret = reply_text(c, MHD_HTTP_OK, "ok\n");
    else
        ret = reply_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, why);
    agg_stats_view_clear(&v);
    return ret;
}

/* Paths are compared as sent: "%2e%2e" stays those six characters and a
 * "%00" cannot cut a path short. Nothing here names a file anyway. */
static size_t
no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls, (void)c;
    return strlen(s);
}

/* ---- life cycle -------------------------------------------------------- */

fr_err
agg_http_start(agg_http **out, const char *listen, agg_stats *stats,
               char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    const union MHD_DaemonInfo *info;
    agg_http *h = NULL;
    unsigned flags;
    uint16_t port;
    int v6 = 0;
    fr_err rc;

    FR_ASSERT(out && stats && err && errlen);
    *out = NULL;
    err[0] = 0;
    if ((rc = parse_listen(listen, &ss, &v6, err, errlen)))
        return rc;
    if (!(h = calloc(1, sizeof *h))) {
        snprintf(err, errlen, "http: out of memory");
        return FR_ENOMEM;
    }
    h->stats = stats;
    pthread_mutex_init(&h->msg_lock, NULL);
    flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
    if (v6)
        flags |= MHD_USE_IPv6;
    port = ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                    : ((struct sockaddr_in *)&ss)->sin_port);
    /* The port is also passed on its own only so that libmicrohttpd's
     * bind error names it; the address comes from ss. */
    h->d = MHD_start_daemon(
        flags, port, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER,
        mhd_log, h, MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&ss,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)AGG_HTTP_MAX_CONNECTIONS,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)AGG_HTTP_TIMEOUT_S,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned)AGG_HTTP_PER_IP_CONNECTIONS,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)AGG_HTTP_CONNECTION_MEMORY, MHD_OPTION_UNESCAPE_CALLBACK,
        no_unescape, NULL, MHD_OPTION_END);
    if (!h->d) {
        pthread_mutex_lock(&h->msg_lock);
        snprintf(err, errlen, "cannot serve HTTP on %s: %s", listen,
                 h->mhd_msg[0] ? h->mhd_msg : "libmicrohttpd failed to start");
        pthread_mutex_unlock(&h->msg_lock);
        rc = FR_ESYS;
        goto out;
    }
    info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    if (!info || info->port == 0) {
        snprintf(err, errlen, "cannot serve HTTP on %s: bound port unknown",
                 listen);
        rc = FR_ESYS;
        goto out;
    }
    h->port = info->port;
    *out = h;
    h = NULL;
out:
    agg_http_stop(&h);
    return rc;
}

uint16_t
agg_http_port(const agg_http *h)
{
    return h ? h->port : 0;
}

void
agg_http_stop(agg_http **hp)
{
    agg_http *h;

    if (!hp || !*hp)
        return;
    h = *hp;
    if (h->d)
        MHD_stop_daemon(h->d);
    pthread_mutex_destroy(&h->msg_lock);
    free(h);
    *hp = NULL;
}
