/*
 * fuzz_http.c - the aggregator's HTTP endpoint (http.c, render.c) as a
 * client on the network sees it. LLVMFuzzerInitialize starts the real
 * server (agg_http_start: libmicrohttpd on 127.0.0.1, an ephemeral port)
 * over a stats object with stores, rounds and refusals in it; each input
 * is sent as the raw bytes of one connection, the write side is shut and
 * the answer read until the server closes.
 *
 * Through the socket rather than by calling the request handler: the
 * handler is libmicrohttpd's callback and needs a live MHD_Connection
 * (headers, queueing a response), and what an attacker reaches is the
 * parser and our limits (header memory, bodies, per-address connections,
 * paths taken as sent) together, which only a real server exercises.
 *
 * Properties: an answer, if any, starts with an HTTP/1.x status line; a 200 is
 * given only to a GET of exactly /, /metrics or /healthz (a query string
 * aside) without a body; /metrics served is Prometheus text ending in a
 * newline; and every 16 inputs the server still answers a plain GET
 * from another address within ANSWER_MS (no hang, no lock-out).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/util.h"
#include "fuzz.h"
#include "http.h"
#include "stats.h"

#define ANSWER_MS 3000
#define QUIET_MS 50
#define ANSWER_MAX (1 << 20)

static agg_stats *stats;
static agg_http *http;
static uint16_t port;
static char answer[ANSWER_MAX + 1];

static int64_t
unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
fill_stats(void)
{
    agg_store_info st[3] = {
        {.name = "store01", .connected = 1, .selected = 1, .rounds_joined = 4,
         .examples = 1000, .last_seen_unix_ms = unix_ms()},
        {.name = "store02", .refusals = 31,
         .quarantined_until_unix_ms = unix_ms() + 600000},
        {.name = "store-03.x_y"}};

    agg_stats_set_static(stats, 1, 10);
    agg_stats_set_state(stats, "collecting", "share_keys", 7, 6, 3);
    agg_stats_set_stores(stats, st, 3);
    for (int i = 1; i <= 6; i++) {
        agg_round_info r = {.round = (uint64_t)i, .round_id = (uint64_t)i,
                            .stores = 3, .examples = 3000, .hr10 = 0.1 * i,
                            .ndcg10 = 0.05 * i, .pop_hr10 = 0.1,
                            .pop_ndcg10 = 0.05, .loss = 1.0 / i,
                            .seconds = 1.5, .end_unix_ms = unix_ms()};
        agg_stats_add_round(stats, &r);
        agg_stats_round_done(stats, AGG_ROUND_COMPLETED, 1.5);
    }
    for (int r = 0; r < AGG_REJECT_N; r++)
        agg_stats_reject(stats, (agg_reject)r);
    agg_stats_quarantined(stats);
    agg_stats_log_suppressed(stats, 12);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[256];

    (void)argc, (void)argv;
    if (agg_stats_new(&stats) ||
        agg_http_start(&http, "127.0.0.1:0", stats, err, sizeof err)) {
        fprintf(stderr, "fuzz_http: cannot start the server: %s\n", err);
        abort();
    }
    port = agg_http_port(http);
    fill_stats();
    return 0;
}

/* A connection from src (127.0.0.x). */
static int
dial(const char *src)
{
    struct sockaddr_in sa = {.sin_family = AF_INET}, me = {.sin_family = AF_INET};
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1, rc;

    FR_FUZZ_CHECK(fd >= 0);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    FR_FUZZ_CHECK(inet_pton(AF_INET, src, &me.sin_addr) == 1);
    FR_FUZZ_CHECK(bind(fd, (struct sockaddr *)&me, sizeof me) == 0);
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* libFuzzer's -timeout watchdog is a SIGALRM every few seconds: every
     * blocking call here retries on EINTR rather than take it for an
     * answer. */
    while ((rc = connect(fd, (struct sockaddr *)&sa, sizeof sa)) != 0 &&
           errno == EINTR)
        ;
    FR_FUZZ_CHECK(rc == 0);
    return fd;
}

/* Sends data from src, shuts the write side and reads the answer into
 * `answer` until the server closes, or (an incomplete request, which
 * libmicrohttpd keeps until its connection timeout) until quiet_ms pass
 * without a byte; then resets the connection. Returns the answer's
 * length. */
static size_t
exchange(const char *src, const uint8_t *data, size_t size, int quiet_ms)
{
    int fd = dial(src);
    size_t sent = 0, got = 0;
    struct linger lg = {.l_onoff = 1, .l_linger = 0};

    while (sent < size) {
        ssize_t n = send(fd, data + sent, size - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* the server hung up early: allowed */
        sent += (size_t)n;
    }
    shutdown(fd, SHUT_WR);
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t n;
        int r = poll(&p, 1, quiet_ms);

        if (r < 0 && errno == EINTR)
            continue; /* the quiet time restarts: only ever longer */
        if (r <= 0)
            break;
        if ((n = recv(fd, answer + got, ANSWER_MAX - got, 0)) < 0 &&
            errno == EINTR)
            continue;
        if (n <= 0 || (got += (size_t)n) == ANSWER_MAX)
            break;
    }
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
    answer[got] = 0;
    return got;
}

/* The request target of the first request line if its method is GET, as
 * libmicrohttpd hands them over: fields are separated by runs of spaces,
 * the target ends at a space, CR, LF or '?', and is cut at its first NUL byte, since it reaches the
 * handler as a C string (0.9.75 does not refuse NULs in the line). */
static int
first_get_target(const uint8_t *d, size_t n, char *out, size_t cap)
{
    size_t i = 0, k = 0, m;
    int cut = 0;

    /* Leading empty lines are skipped, and so is a line that starts with
     * a NUL (empty as a C string). */
    while (i < n && (d[i] == '\r' || d[i] == '\n' || d[i] == 0)) {
        if (d[i] == 0)
            while (i < n && d[i] != '\n')
                i++;
        i++;
    }
    for (m = i; m < n && d[m] != ' '; m++)
        ;
    if (m - i < 3 || memcmp(d + i, "GET", 3) || (m - i > 3 && d[i + 3]))
        return 0;
    for (i = m; i < n && d[i] == ' '; i++)
        ; /* a run of spaces separates the fields */
    for (; i < n && d[i] != ' ' && d[i] != '?' && d[i] != '\r' &&
                    d[i] != '\n' && k + 1 < cap;
         i++)
        if (!(cut |= d[i] == 0))
            out[k++] = (char)d[i];
    out[k] = 0;
    return 1;
}

static int
status_code(size_t len)
{
    int code = 0;

    if (len == 0)
        return 0;
    FR_FUZZ_CHECK(len >= 12 && !memcmp(answer, "HTTP/1.", 7));
    FR_FUZZ_CHECK(sscanf(answer + 9, "%3d", &code) == 1);
    FR_FUZZ_CHECK(code >= 100 && code <= 599);
    return code;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned runs;
    static const char ping[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    char target[64];
    size_t len = exchange("127.0.0.1", data, size, QUIET_MS);
    int code = status_code(len);

    if (code == 200) {
        FR_FUZZ_CHECK(first_get_target(data, size, target, sizeof target));
        FR_FUZZ_CHECK(!strcmp(target, "/") || !strcmp(target, "/metrics") ||
                      !strcmp(target, "/healthz"));
        if (!strcmp(target, "/metrics")) {
            const char *body = strstr(answer, "\r\n\r\n");
            FR_FUZZ_CHECK(body && strstr(body, "fedrec_rejected_messages") &&
                          answer[len - 1] == '\n');
        }
    }
    if (++runs % 16 == 0) {
        agg_stats_loop_alive(stats, unix_ms());
        /* From another address: what one address sends must not lock
         * the others out. A whole request is answered at once. */
        len = exchange("127.0.0.2", (const uint8_t *)ping, sizeof ping - 1,
                       ANSWER_MS);
        code = status_code(len);
        if (code != 200 && code != 503)
            fprintf(stderr, "ping answered %d: %.200s\n", code, answer);
        FR_FUZZ_CHECK(code == 200 || code == 503);
    }
    return 0;
}
