/*
 * test_http.c - the HTTP endpoint on 127.0.0.1 with a real agg_stats,
 * fetched by a plain-socket HTTP/1.0 client: status codes, content types,
 * /healthz failing for a stalled or stopping loop, 404 and 405, bad listen
 * strings, a taken port, and the connection cap and timeout that keep idle
 * clients from holding the server.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "base/util.h"
#include "http.h"
#include "stats.h"

typedef struct resp {
    int code;        /* 0 if no status line arrived */
    char head[2048]; /* status line and headers */
    char *body;      /* malloc'd, NUL-terminated */
} resp;

static int64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
connect_to(uint16_t port, int timeout_ms)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    struct timeval tv = {.tv_sec = timeout_ms / 1000,
                         .tv_usec = (timeout_ms % 1000) * 1000};
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Reads the whole answer from fd (until EOF, error or timeout) into r. */
static void
read_resp(int fd, resp *r)
{
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap), *sep;
    ssize_t n;

    assert_non_null(buf);
    for (;;) {
        if (cap - len < 1024) {
            buf = realloc(buf, cap *= 2);
            assert_non_null(buf);
        }
        n = read(fd, buf + len, cap - len - 1);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    buf[len] = 0;
    memset(r, 0, sizeof *r);
    sep = strstr(buf, "\r\n\r\n");
    if (sscanf(buf, "HTTP/1.%*d %d", &r->code) != 1 || !sep)
        r->code = 0;
    if (sep) {
        snprintf(r->head, sizeof r->head, "%.*s", (int)(sep - buf), buf);
        r->body = strdup(sep + 4);
    } else {
        r->body = strdup("");
    }
    free(buf);
}

/* One request over a fresh connection; HTTP/1.0, so the server closes. */
static void
http_req(uint16_t port, const char *method, const char *path, resp *r)
{
    char req[256];
    int fd = connect_to(port, 5000);

    assert_true(fd >= 0);
    snprintf(req, sizeof req, "%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n",
             method, path);
    assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    read_resp(fd, r);
    close(fd);
}

/* The value of header name in r (case-insensitive name), or "". */
static const char *
header(const resp *r, const char *name, char *out, size_t n)
{
    size_t ln = strlen(name);

    out[0] = 0;
    for (const char *p = strstr(r->head, "\r\n"); p;
         p = strstr(p + 2, "\r\n")) {
        if (!strncasecmp(p + 2, name, ln) && p[2 + ln] == ':') {
            const char *v = p + 3 + ln, *e;
            while (*v == ' ')
                v++;
            e = strstr(v, "\r\n");
            snprintf(out, n, "%.*s", (int)(e ? e - v : (long)strlen(v)), v);
            break;
        }
    }
    return out;
}

static void
resp_free(resp *r)
{
    free(r->body);
    r->body = NULL;
}

typedef struct fixture {
    agg_stats *stats;
    agg_http *http;
    uint16_t port;
} fixture;

static int
setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    char err[256];

    assert_non_null(f);
    assert_int_equal(agg_stats_new(&f->stats), FR_OK);
    assert_int_equal(agg_http_start(&f->http, "127.0.0.1:0", f->stats, err,
                                    sizeof err),
                     FR_OK);
    f->port = agg_http_port(f->http);
    assert_true(f->port != 0);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture *f = *state;

    agg_http_stop(&f->http);
    assert_null(f->http);
    agg_stats_destroy(&f->stats);
    free(f);
    return 0;
}

static void
test_endpoints(void **state)
{
    fixture *f = *state;
    agg_round_info r1 = {.round = 1, .hr10 = 0.2, .ndcg10 = 0.1,
                         .pop_hr10 = 0.05, .seconds = 1.5};
    char h[128];
    resp r;

    agg_stats_loop_alive(f->stats, now_ms());
    agg_stats_set_state(f->stats, "idle", "", 3, 2, 0);
    agg_stats_add_round(f->stats, &r1);

    http_req(f->port, "GET", "/metrics", &r);
    assert_int_equal(r.code, 200);
    assert_string_equal(header(&r, "Content-Type", h, sizeof h),
                        "text/plain; version=0.0.4; charset=utf-8");
    assert_non_null(strstr(r.body, "\nfedrec_rounds_completed 2\n"));
    assert_non_null(strstr(r.body, "\nfedrec_quality_hr10 0.2\n"));
    resp_free(&r);

    http_req(f->port, "GET", "/", &r);
    assert_int_equal(r.code, 200);
    assert_string_equal(header(&r, "Content-Type", h, sizeof h),
                        "text/html; charset=utf-8");
    assert_non_null(strstr(r.body, "id=\"round-id\">3<"));
    assert_non_null(strstr(r.body, "<circle class=\"hr10\" data-round=\"1\""));
    assert_non_null(strstr(r.body, "</html>"));
    resp_free(&r);

    http_req(f->port, "GET", "/healthz", &r);
    assert_int_equal(r.code, 200);
    assert_string_equal(r.body, "ok\n");
    resp_free(&r);
    http_req(f->port, "GET", "/healthz?verbose=1", &r); /* query ignored */
    assert_int_equal(r.code, 200);
    resp_free(&r);

    /* Each request sees the figures of the moment. */
    agg_stats_set_state(f->stats, "collecting", "collect", 4, 3, 2);
    http_req(f->port, "GET", "/metrics", &r);
    assert_non_null(strstr(r.body, "\nfedrec_rounds_completed 3\n"));
    assert_non_null(strstr(r.body, "\nfedrec_stores_selected 2\n"));
    resp_free(&r);
}

static void
test_not_found_and_methods(void **state)
{
    fixture *f = *state;
    static const char *const paths[] = {"/nope", "/metrics/", "/metricsx",
                                        "/healthz/x", "//"};
    static const char *const methods[] = {"POST", "PUT", "DELETE", "HEAD",
                                          "OPTIONS"};
    char h[64];
    resp r;

    agg_stats_loop_alive(f->stats, now_ms());
    for (size_t i = 0; i < FR_ARRAY_LEN(paths); i++) {
        http_req(f->port, "GET", paths[i], &r);
        if (r.code != 404)
            fail_msg("GET %s: %d, want 404", paths[i], r.code);
        resp_free(&r);
    }
    for (size_t i = 0; i < FR_ARRAY_LEN(methods); i++) {
        http_req(f->port, methods[i], "/metrics", &r);
        if (r.code != 405)
            fail_msg("%s /metrics: %d, want 405", methods[i], r.code);
        assert_string_equal(header(&r, "Allow", h, sizeof h), "GET");
        resp_free(&r);
    }
    /* A POST with a body is turned away too, and the server lives on. */
    int fd = connect_to(f->port, 5000);
    static const char post[] = "POST / HTTP/1.0\r\nContent-Length: 5\r\n\r\n"
                               "hello";
    assert_true(fd >= 0);
    assert_int_equal(write(fd, post, sizeof post - 1), (ssize_t)sizeof post - 1);
    read_resp(fd, &r);
    close(fd);
    assert_int_equal(r.code, 405);
    resp_free(&r);
    http_req(f->port, "GET", "/healthz", &r);
    assert_int_equal(r.code, 200);
    resp_free(&r);
}

static void
test_healthz_failures(void **state)
{
    fixture *f = *state;
    resp r;

    /* The loop has never passed. */
    http_req(f->port, "GET", "/healthz", &r);
    assert_int_equal(r.code, 503);
    assert_non_null(strstr(r.body, "main loop has not started"));
    resp_free(&r);

    /* Its last pass was 20 s ago. */
    agg_stats_loop_alive(f->stats, now_ms() - 20000);
    http_req(f->port, "GET", "/healthz", &r);
    assert_int_equal(r.code, 503);
    assert_non_null(strstr(r.body, "main loop stalled"));
    resp_free(&r);

    /* Alive again. */
    agg_stats_loop_alive(f->stats, now_ms());
    http_req(f->port, "GET", "/healthz", &r);
    assert_int_equal(r.code, 200);
    resp_free(&r);

    /* Alive but shutting down. */
    agg_stats_set_state(f->stats, "stopping", "", 1, 0, 0);
    http_req(f->port, "GET", "/healthz", &r);
    assert_int_equal(r.code, 503);
    assert_string_equal(r.body, "stopping\n");
    resp_free(&r);
    /* The other endpoints still answer. */
    http_req(f->port, "GET", "/metrics", &r);
    assert_int_equal(r.code, 200);
    resp_free(&r);
}

static void
test_bad_listen(void **state)
{
    static const struct {
        const char *listen, *says;
    } bad[] = {
        {"", "empty"},
        {"127.0.0.1", "expected HOST:PORT"},
        {"127.0.0.1:", "port ''"},
        {"127.0.0.1:65536", "port '65536'"},
        {"127.0.0.1:-1", "port '-1'"},
        {"127.0.0.1:80x", "port '80x'"},
        {"localhost:8080", "'localhost' is not an IPv4 address"},
        {"::1:8080", "expected HOST:PORT"},
        {"[::1]8080", "expected HOST:PORT"},
        {"[127.0.0.1]:8080", "is not an IPv6 address"},
        {"[::1:8080", "expected HOST:PORT"},
        {"300.1.1.1:80", "'300.1.1.1' is not an IPv4 address"},
    };
    agg_stats *s = NULL;
    agg_http *h = (agg_http *)&s; /* must be cleared on failure */
    char err[256];

    (void)state;
    assert_int_equal(agg_stats_new(&s), FR_OK);
    for (size_t i = 0; i < FR_ARRAY_LEN(bad); i++) {
        h = (agg_http *)&s;
        assert_int_equal(agg_http_start(&h, bad[i].listen, s, err, sizeof err),
                         FR_EINVAL);
        assert_null(h);
        if (!strstr(err, bad[i].says))
            fail_msg("'%s': error '%s' lacks '%s'", bad[i].listen, err,
                     bad[i].says);
    }
    /* A very long string is refused without being read past its bound. */
    char longs[300];
    memset(longs, '1', sizeof longs - 1);
    longs[sizeof longs - 1] = 0;
    assert_int_equal(agg_http_start(&h, longs, s, err, sizeof err), FR_EINVAL);
    assert_non_null(strstr(err, "too long"));
    /* NULL-safe stop. */
    agg_http_stop(NULL);
    h = NULL;
    agg_http_stop(&h);
    agg_stats_destroy(&s);
}

static void
test_port_taken(void **state)
{
    fixture *f = *state;
    agg_http *h2 = NULL;
    char listen[64], err[256];
    resp r;

    snprintf(listen, sizeof listen, "127.0.0.1:%u", (unsigned)f->port);
    assert_int_equal(agg_http_start(&h2, listen, f->stats, err, sizeof err),
                     FR_ESYS);
    assert_null(h2);
    assert_non_null(strstr(err, "cannot serve HTTP on 127.0.0.1:"));
    assert_non_null(strstr(err, "in use"));
    /* The first server is unharmed. */
    agg_stats_loop_alive(f->stats, now_ms());
    http_req(f->port, "GET", "/healthz", &r);
    assert_int_equal(r.code, 200);
    resp_free(&r);
}

static void
test_ipv6(void **state)
{
    struct sockaddr_in6 a = {.sin6_family = AF_INET6};
    agg_stats *s = NULL;
    agg_http *h = NULL;
    char err[256];
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    int ok;

    (void)state;
    a.sin6_addr = in6addr_loopback;
    ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0)
        close(fd);
    if (!ok)
        skip(); /* no IPv6 loopback here */
    assert_int_equal(agg_stats_new(&s), FR_OK);
    assert_int_equal(agg_http_start(&h, "[::1]:0", s, err, sizeof err), FR_OK);
    assert_true(agg_http_port(h) != 0);
    /* Bound to ::1 only: nothing listens on 127.0.0.1 at that port. */
    fd = connect_to(agg_http_port(h), 2000);
    if (fd >= 0)
        close(fd);
    assert_true(fd < 0);
    agg_http_stop(&h);
    agg_stats_destroy(&s);
}

/* Idle connections (a request never finished) fill the cap; the server
 * turns away the next one, serves again once they are gone, and closes an
 * idle connection by itself after its timeout. */
static void
test_idle_clients(void **state)
{
    fixture *f = *state;
    int idle[AGG_HTTP_MAX_CONNECTIONS], fd, got;
    int64_t deadline;
    char c;
    resp r;

    agg_stats_loop_alive(f->stats, now_ms());
    for (int i = 0; i < AGG_HTTP_MAX_CONNECTIONS; i++) {
        idle[i] = connect_to(f->port, 1000);
        assert_true(idle[i] >= 0);
        assert_int_equal(write(idle[i], "GET /met", 8), 8);
    }
    /* One more is not answered while they hold every slot. */
    fd = connect_to(f->port, 1000);
    if (fd >= 0) {
        assert_int_equal(write(fd, "GET / HTTP/1.0\r\n\r\n", 18), 18);
        read_resp(fd, &r);
        close(fd);
        assert_int_equal(r.code, 0);
        resp_free(&r);
    }
    for (int i = 1; i < AGG_HTTP_MAX_CONNECTIONS; i++)
        close(idle[i]);
    /* Served again (the server notices the closed sockets promptly). */
    deadline = fr_clock_ms() + 5000;
    do {
        http_req(f->port, "GET", "/healthz", &r);
        got = r.code;
        resp_free(&r);
        if (got != 200)
            fr_sleep_ms(50);
    } while (got != 200 && fr_clock_ms() < deadline);
    assert_int_equal(got, 200);
    /* The one still idle is closed by the server after its timeout. */
    struct timeval tv = {.tv_sec = AGG_HTTP_TIMEOUT_S + 10};
    setsockopt(idle[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    errno = 0;
    ssize_t n = read(idle[0], &c, 1);
    assert_true(n == 0 || (n < 0 && errno == ECONNRESET));
    close(idle[0]);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_endpoints, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_found_and_methods, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_healthz_failures, setup,
                                        teardown),
        cmocka_unit_test(test_bad_listen),
        cmocka_unit_test_setup_teardown(test_port_taken, setup, teardown),
        cmocka_unit_test(test_ipv6),
        cmocka_unit_test_setup_teardown(test_idle_clients, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
