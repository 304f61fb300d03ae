/*
 * test_hostile.c - a real secure federation (fedrec-aggregator and three
 * fedrec-client stores on loopback, secagg yes) keeps training while it is
 * attacked from every side:
 *   - a CURVE client whose key is not on the allow-list, a plain TCP
 *     connection sending bytes, and 2,000 quick connect/disconnects from
 *     unknown keys (a thread, bounded in time);
 *   - a compromised but allow-listed store (a DEALER with that store's real
 *     key) sending random frames, truncated messages, a frame over
 *     max_message_bytes, a 64 MiB frame, a message of 1,000 frames,
 *     messages for another round, replays of its own earlier messages,
 *     messages out of phase order, then a flood;
 *   - on HTTP a 100 KB header, 500 idle connections, path traversal and a
 *     50 MB body.
 * Throughout: the daemon stays up, /healthz and `fedrec-ctl status`
 * answer, the honest stores' rounds complete with exact secure sums (every
 * store's weight is capped, so the unmasked weight is exactly cap times
 * the stores summed), the peak RSS stays under RSS_BOUND_KIB. At the end:
 * each refusal reason counted in /metrics, the flood logged in far fewer
 * lines than messages with a "suppressed" count, the rogue store
 * quarantined (visible in /metrics, `fedrec-ctl stores`, the status page)
 * and let back in after quarantine_ms, no honest store ever quarantined.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/util.h"
#include "crypto/crypto.h"
#include "net/net.h"
#include "proc.h"
#include "wire/wire.h"

#define NSTORES 3
#define ITEMS 200
#define MAX_BYTES (1 << 20)   /* max_message_bytes */
#define WEIGHT_CAP 40         /* every store has more training examples */
#define QUARANTINE_AFTER 30
#define QUARANTINE_MS 6000
#define CHURN 2000            /* unknown-key connect/disconnects */
#define CHURN_BOUND_MS 25000
#define FLOOD 2000            /* bad messages from the rogue */
#define IDLE_CONNS 500
/* Peak RSS bound, KiB. The aggregator's own needs here are small (a
 * 200 x 8 model, three stores): libraries, OpenBLAS and ZeroMQ's buffers
 * measure ~15 MiB. What the attacks could add: ZeroMQ refuses a frame
 * over ZMQ_MAXMSGSIZE (2 x max_message_bytes = 2 MiB) from its length
 * header, before buffering it, so the 64 MiB frame costs nothing; the
 * rogue's inbound pipe holds at most RCVHWM (32) frames of at most 2 MiB
 * (64 MiB) but the loop drains 64 messages a pass; libmicrohttpd holds
 * 16 KiB per connection, 64 connections (1 MiB). 48 MiB leaves three times
 * the measured peak, and a bound under 64 MiB also proves that neither the
 * 64 MiB frame nor the 50 MB body was ever held. */
#if defined(__SANITIZE_ADDRESS__)
/* Under ASan the shadow memory and the allocator's quarantine of freed
 * blocks come on top. The quarantine would by default grow to 256 MiB of
 * freed blocks, which says nothing about the aggregator; main() caps it
 * at ASAN_QUARANTINE_MB for the processes this test starts, so the bound
 * still proves the 64 MiB frame and the 50 MB body were never held. */
#define ASAN_QUARANTINE_MB 16
#define RSS_BOUND_KIB (128 * 1024)
#else
#define RSS_BOUND_KIB (48 * 1024)
#endif

typedef struct env {
    char dir[64], endpoint[64], conf[128], log[128];
    char client_log[NSTORES][128];
    int http_port;
    pid_t agg, client[NSTORES];
} env;

static env E;

/* ---- helpers: files, processes, HTTP ----------------------------------- */

static void
write_config(env *e)
{
    FILE *c = fopen(e->conf, "w");

    assert_non_null(c);
    fprintf(c,
            "listen %s\nkey_file %s/keys/aggregator.key\n"
            "allowlist %s/allowlist\nstate_dir %s/agg\n"
            "http_listen 127.0.0.1:%d\nn_items %d\ndim 8\nrounds 0\n"
            "min_stores %d\nstart_delay_ms 1000\nheartbeat_timeout_ms 2000\n"
            "retry_delay_ms 200\nround_timeout_ms 30000\nsecagg yes\n"
            "secagg_phase_timeout_ms 1500\nsecagg_max_dropout 0\nlocal_epochs 1\n"
            "max_message_bytes %d\nsecagg_weight_cap %d\n"
            "quarantine_after %d\nquarantine_window_ms 60000\n"
            "quarantine_ms %d\n",
            e->endpoint, e->dir, e->dir, e->dir, e->http_port, ITEMS,
            NSTORES, MAX_BYTES, WEIGHT_CAP, QUARANTINE_AFTER, QUARANTINE_MS);
    fclose(c);
}

/* A TCP connection to the HTTP port from source address src (127.0.0.x),
 * or -1. */
static int
http_connect(const char *src)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0)
        return -1;
    if (src) {
        struct sockaddr_in me = {.sin_family = AF_INET};
        inet_pton(AF_INET, src, &me.sin_addr);
        if (bind(fd, (struct sockaddr *)&me, sizeof me) != 0) {
            close(fd);
            return -1;
        }
    }
    sa.sin_port = htons((uint16_t)E.http_port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Reads what the server sends until it closes or timeout_ms passes
 * (malloc'd, NUL-terminated; at most cap bytes kept). */
static char *
read_all(int fd, size_t cap, int timeout_ms)
{
    char *buf = calloc(1, cap + 1);
    size_t got = 0;
    int64_t end = fr_clock_ms() + timeout_ms;

    assert_non_null(buf);
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int64_t left = end - fr_clock_ms();
        char chunk[4096];
        ssize_t n;

        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            break;
        n = recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0)
            break;
        if (got < cap) {
            size_t k = (size_t)n < cap - got ? (size_t)n : cap - got;
            memcpy(buf + got, chunk, k);
            got += k;
        }
    }
    return buf;
}

/* Sends a raw request from src and returns the whole answer (malloc'd). */
static char *
http_raw(const char *src, const char *req, size_t len)
{
    int fd = http_connect(src);
    char *answer;

    if (fd < 0)
        return NULL;
    if (len && send(fd, req, len, MSG_NOSIGNAL) < 0) {
        close(fd);
        return NULL;
    }
    answer = read_all(fd, 1 << 20, 5000);
    close(fd);
    return answer;
}

static char *
http_get(const char *path)
{
    char req[256];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                     path);
    /* 127.0.0.2: not the address the HTTP attacks come from */
    return http_raw("127.0.0.2", req, (size_t)n);
}

static int
status_of(const char *answer)
{
    int code = 0;
    if (!answer || sscanf(answer, "HTTP/1.%*d %d", &code) != 1)
        return 0;
    return code;
}

/* A counter in /metrics (the sample line starting with name_labels). */
static double
metric(const char *name_labels)
{
    char *m = http_get("/metrics"), *p;
    double x = -1;
    size_t n = strlen(name_labels);

    assert_non_null(m);
    for (p = m; (p = strstr(p, name_labels)); p += n)
        if ((p == m || p[-1] == '\n') && p[n] == ' ') {
            x = strtod(p + n + 1, NULL);
            break;
        }
    free(m);
    return x;
}

static double
rejected(const char *reason)
{
    char lab[96];
    snprintf(lab, sizeof lab, "fedrec_rejected_messages_total{reason=\"%s\"}",
             reason);
    return metric(lab);
}

/* The daemon answers: it runs, /healthz says ok, fedrec-ctl status
 * exits 0. */
static void
check_alive(const char *when)
{
    char *h;

    if (kill(E.agg, 0) != 0)
        fail_msg("the aggregator died (%s)", when);
    h = http_get("/healthz");
    if (status_of(h) != 200)
        fail_msg("/healthz did not answer 200 %s: %.200s", when,
                 h ? h : "(nothing)");
    free(h);
    if (proc_runf(FR_BIN_DIR "/fedrec-ctl --config %s status >/dev/null "
                  "2>&1", E.conf) != 0)
        fail_msg("fedrec-ctl status failed %s", when);
}

/* VmHWM of the aggregator, KiB. */
static long
peak_rss_kib(void)
{
    char path[64], *s, *p;
    long kib = -1;

    snprintf(path, sizeof path, "/proc/%d/status", (int)E.agg);
    s = proc_read_file(path);
    if (s && (p = strstr(s, "VmHWM:")))
        kib = strtol(p + 6, NULL, 10);
    free(s);
    return kib;
}

/* ---- unknown keys: one stranger, and the churn thread ------------------ */

static fr_net_sock *
connect_with(fr_net_ctx *ctx, const fr_crypto_keypair *kp,
             fr_net_monitor **mon)
{
    uint8_t spk[FR_CRYPTO_PK_BYTES];
    char p[160];
    fr_net_sock *s = NULL;
    fr_net_connect_opts o = {.reconnect_ivl_ms = 100,
                             .reconnect_max_ms = 1000};

    snprintf(p, sizeof p, "%s/keys/aggregator.pub", E.dir);
    assert_int_equal(fr_crypto_public_load(p, spk), FR_OK);
    assert_int_equal(fr_net_connect_with(ctx, E.endpoint, kp, spk, 1 << 20,
                                         &o, &s, mon),
                     FR_OK);
    return s;
}

/* Waits for the monitor to leave CONNECTING/DOWN; returns the state. */
static fr_net_link
await_link(fr_net_monitor *m, int timeout_ms)
{
    fr_net_link st = FR_NET_LINK_CONNECTING;
    int64_t end = fr_clock_ms() + timeout_ms;

    while (fr_clock_ms() < end) {
        fr_net_sock *ms = fr_net_monitor_sock(m);
        unsigned ready = 0;
        if (fr_net_poll(&ms, 1, 20, &ready) == FR_OK && ready &&
            fr_net_monitor_poll(m, &st) != FR_OK)
            continue; /* an odd event: the state is still written */
        if (st == FR_NET_LINK_REFUSED || st == FR_NET_LINK_FAILED ||
            st == FR_NET_LINK_UP)
            break;
    }
    return st;
}

typedef struct churn {
    pthread_t t;
    atomic_int done, refused;
    int64_t ms;
} churn;

static void *
churn_main(void *arg)
{
    churn *c = arg;
    fr_net_ctx *ctx = NULL;
    int64_t t0 = fr_clock_ms();

    if (fr_net_ctx_new(&ctx))
        return NULL;
    for (int i = 0; i < CHURN && fr_clock_ms() - t0 < CHURN_BOUND_MS; i++) {
        fr_crypto_keypair *kp = NULL;
        fr_net_monitor *m = NULL;
        fr_net_sock *s;

        if (fr_crypto_keypair_generate(&kp))
            break;
        s = connect_with(ctx, kp, &m);
        if (await_link(m, 2000) == FR_NET_LINK_REFUSED)
            atomic_fetch_add(&c->refused, 1);
        fr_net_monitor_destroy(&m);
        fr_net_sock_destroy(&s);
        fr_crypto_keypair_destroy(&kp);
        atomic_fetch_add(&c->done, 1);
    }
    c->ms = fr_clock_ms() - t0;
    fr_net_ctx_destroy(&ctx);
    return NULL;
}

/* A client with an unlisted key, and a plain TCP connection that sends
 * bytes where ZeroMQ expects a greeting. */
static void
attack_strangers(void)
{
    fr_net_ctx *ctx = NULL;
    fr_crypto_keypair *kp = NULL;
    fr_net_monitor *m = NULL;
    fr_net_sock *s;
    fr_msg hello = {.type = FR_MSG_HELLO};
    uint8_t *buf = NULL, junk[4096];
    size_t len = 0;
    struct sockaddr_in sa = {.sin_family = AF_INET};
    int fd, port = 0;

    assert_int_equal(fr_net_ctx_new(&ctx), FR_OK);
    assert_int_equal(fr_crypto_keypair_generate(&kp), FR_OK);
    s = connect_with(ctx, kp, &m);
    assert_int_equal(fr_wire_encode(&hello, MAX_BYTES, &buf, &len), FR_OK);
    if (fr_net_send(s, NULL, buf, len) != FR_OK) /* never delivered */
        print_message("the stranger's hello was not even queued\n");
    free(buf);
    assert_int_equal(await_link(m, 5000), FR_NET_LINK_REFUSED);
    fr_net_monitor_destroy(&m);
    fr_net_sock_destroy(&s);
    fr_crypto_keypair_destroy(&kp);
    fr_net_ctx_destroy(&ctx);

    sscanf(E.endpoint, "tcp://127.0.0.1:%d", &port);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    fr_crypto_random(junk, sizeof junk);
    (void)send(fd, "GET / HTTP/1.0\r\n\r\n", 18, MSG_NOSIGNAL);
    (void)send(fd, junk, sizeof junk, MSG_NOSIGNAL);
    free(read_all(fd, 256, 3000));
    /* ZeroMQ hung up on it: no greeting, no CURVE. */
    assert_int_equal(recv(fd, junk, sizeof junk, MSG_DONTWAIT), 0);
    close(fd);
}

/* ---- the compromised store --------------------------------------------- */

typedef struct rogue {
    fr_net_ctx *ctx;
    fr_net_sock *s;
    uint64_t round_seen; /* latest round start it got */
    uint8_t *kept;       /* a message it sent for round kept_round */
    size_t kept_len;
    uint64_t kept_round;
} rogue;

static void
rogue_send(rogue *r, const void *buf, size_t len)
{
    for (int i = 0; i < 500; i++) {
        fr_err rc = fr_net_send(r->s, NULL, buf, len);
        if (rc == FR_OK)
            return;
        assert_int_equal(rc, FR_ETIMEDOUT); /* queue full: wait */
        fr_sleep_ms(5);
    }
    fail_msg("the rogue could not send");
}

static void
rogue_send_msg(rogue *r, const fr_msg *m, uint8_t **keep, size_t *keep_len)
{
    uint8_t *buf = NULL;
    size_t len = 0;

    assert_int_equal(fr_wire_encode(m, MAX_BYTES, &buf, &len), FR_OK);
    rogue_send(r, buf, len);
    if (keep) {
        *keep = buf;
        *keep_len = len;
    } else {
        free(buf);
    }
}

static void
rogue_hello(rogue *r)
{
    fr_msg hello = {.type = FR_MSG_HELLO};
    hello.u.hello.num_examples = 100;
    rogue_send_msg(r, &hello, NULL, NULL);
}

/* Reads what the aggregator sent it; returns the round id of a secure
 * round start among them (0: none). */
static uint64_t
rogue_read(rogue *r, int timeout_ms)
{
    uint64_t started = 0;
    int64_t end = fr_clock_ms() + timeout_ms;

    for (;;) {
        uint8_t *buf = NULL;
        size_t len = 0;
        fr_msg *m = NULL;
        const char *why = NULL;
        int64_t left = end - fr_clock_ms();

        if (fr_net_recv(r->s, left > 0 ? (int)left : 0, NULL, &buf, &len))
            break;
        if (fr_wire_decode(buf, len, MAX_BYTES, &m, &why) == FR_OK &&
            m->type == FR_MSG_ROUND_START && m->u.round_start.has_secagg) {
            started = m->round_id;
            r->round_seen = m->round_id;
        }
        fr_msg_destroy(&m);
        free(buf);
        if (started)
            break;
    }
    return started;
}

static void
rogue_open(rogue *r)
{
    fr_crypto_keypair *kp = NULL;
    fr_net_monitor *m = NULL;
    char p[160];

    memset(r, 0, sizeof *r);
    snprintf(p, sizeof p, "%s/keys/rogue.key", E.dir);
    assert_int_equal(fr_crypto_keypair_load(p, &kp), FR_OK);
    assert_int_equal(fr_net_ctx_new(&r->ctx), FR_OK);
    r->s = connect_with(r->ctx, kp, &m);
    assert_int_equal(await_link(m, 5000), FR_NET_LINK_UP);
    fr_net_monitor_destroy(&m);
    fr_crypto_keypair_destroy(&kp);
}

static void
rogue_close(rogue *r)
{
    fr_sleep_ms(300); /* let ZeroMQ flush */
    fr_net_sock_destroy(&r->s);
    fr_net_ctx_destroy(&r->ctx);
    free(r->kept);
}

/* Random frames, truncated messages, an oversized frame, a 64 MiB frame,
 * a message of 1,000 frames. */
static void
rogue_garbage(rogue *r)
{
    uint8_t junk[512], *big, *buf = NULL;
    size_t len = 0;
    fr_msg hello = {.type = FR_MSG_HELLO};
    static const void *parts[1000];
    static size_t lens[1000];

    for (int i = 0; i < 10; i++) {
        fr_crypto_random(junk, sizeof junk);
        junk[0] = 0xff; /* never a valid first tag */
        rogue_send(r, junk, 1 + i * 50);
    }
    hello.u.hello.num_examples = 123456789;
    hello.u.hello.last_round = 987654321;
    assert_int_equal(fr_wire_encode(&hello, MAX_BYTES, &buf, &len), FR_OK);
    for (size_t cut = 1; cut <= 3; cut++)
        rogue_send(r, buf, len - cut); /* truncated */
    free(buf);
    big = calloc(1, (size_t)MAX_BYTES + 4096);
    assert_non_null(big);
    rogue_send(r, big, (size_t)MAX_BYTES + 4096); /* over max_message_bytes */
    free(big);
    for (int i = 0; i < 1000; i++) {
        parts[i] = junk;
        lens[i] = 16;
    }
    for (int i = 0; i < 100; i++)
        if (fr_net_send_parts(r->s, parts, lens, 1000) == FR_OK)
            break;
        else
            fr_sleep_ms(10);
    fr_sleep_ms(500);
    /* 64 MiB in one frame: ZeroMQ on the aggregator reads the length and
     * drops the connection; the DEALER reconnects by itself. */
    big = calloc(1, (size_t)64 << 20);
    assert_non_null(big);
    rogue_send(r, big, (size_t)64 << 20);
    free(big);
    fr_sleep_ms(1500);
}

static void
secagg_msg(fr_msg *m, uint64_t round_id, uint32_t phase)
{
    memset(m, 0, sizeof *m);
    m->type = FR_MSG_SECAGG;
    m->round_id = round_id;
    m->u.secagg.sa.phase = phase;
}

/* Messages for a round that never was, out of phase order while it takes
 * part in a round, and (after that round) replays of its own. */
static void
rogue_protocol(rogue *r)
{
    static const uint32_t words[4] = {1, 2, 3, 4};
    fr_msg m;
    uint64_t rid = 0;
    int64_t end = fr_clock_ms() + 20000;

    for (int i = 0; i < 3; i++) {
        secagg_msg(&m, 987654 + (uint64_t)i, FR_SA_SIGNED);
        rogue_send_msg(r, &m, NULL, NULL);
    }
    /* Be chosen: say hello (not busy) until a secure round starts. Round
     * starts already waiting are stale (their key phase may be over). */
    while (rogue_read(r, 50))
        ;
    while (!rid && fr_clock_ms() < end) {
        rogue_hello(r);
        rid = rogue_read(r, 400);
    }
    assert_true(rid != 0);
    /* The round opens with key advertisement: a signature now is out of
     * phase. Kept, it is replayed once the round is over. */
    secagg_msg(&m, rid, FR_SA_SIGNED);
    rogue_send_msg(r, &m, &r->kept, &r->kept_len);
    r->kept_round = rid;
    secagg_msg(&m, rid, FR_SA_MASKED);
    m.u.secagg.sa.words = words;
    m.u.secagg.sa.n_words = 4;
    rogue_send_msg(r, &m, NULL, NULL);
    /* Wait for a later round (the rogue drops out of this one). */
    while (r->round_seen == rid && fr_clock_ms() < end + 30000) {
        rogue_hello(r);
        (void)rogue_read(r, 400);
    }
    assert_true(r->round_seen > rid);
    rogue_send(r, r->kept, r->kept_len);
    rogue_send(r, r->kept, r->kept_len);
}

static void
rogue_flood(rogue *r)
{
    uint8_t junk[64];

    for (int i = 0; i < FLOOD; i++) {
        fr_crypto_random(junk, sizeof junk);
        junk[0] = 0xff;
        rogue_send(r, junk, sizeof junk);
    }
}

/* ---- HTTP attacks ------------------------------------------------------ */

static void
http_big_header(void)
{
    size_t n = 100 * 1024;
    char *req = malloc(n + 64), *a;

    assert_non_null(req);
    strcpy(req, "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ");
    size_t at = strlen(req);
    memset(req + at, 'a', n);
    memcpy(req + at + n, "\r\n\r\n", 5);
    a = http_raw(NULL, req, at + n + 4);
    /* Refused (431) or cut: never served. */
    assert_true(!a || status_of(a) == 0 || status_of(a) == 431 ||
                status_of(a) == 413 || status_of(a) == 400);
    assert_true(!a || !strstr(a, "fedrec_"));
    free(a);
    free(req);
}

static void
http_traversal(void)
{
    static const char *const paths[] = {
        "/../../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
        "/metrics/../healthz", "/%2e%2e%2fetc%2fpasswd", "/./metrics",
        "/metrics%00", "//metrics"};

    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        char *a = http_get(paths[i]);
        if (status_of(a) != 404)
            fail_msg("%s answered %.100s", paths[i], a ? a : "(nothing)");
        assert_null(strstr(a, "root:"));
        free(a);
    }
}

/* A GET announcing 50 MB and a POST sending them: 413 / 405 at once. */
static void
http_big_body(void)
{
    static char chunk[1 << 16];
    const char *get = "GET /metrics HTTP/1.1\r\nHost: x\r\n"
                      "Content-Length: 50000000\r\n\r\n";
    const char *post = "POST / HTTP/1.1\r\nHost: x\r\n"
                       "Content-Length: 50000000\r\n\r\n";
    char *a = http_raw(NULL, get, strlen(get));
    size_t sent = 0;
    int fd;

    assert_int_equal(status_of(a), 413);
    free(a);
    fd = http_connect(NULL);
    assert_true(fd >= 0);
    assert_true(send(fd, post, strlen(post), MSG_NOSIGNAL) > 0);
    memset(chunk, 'b', sizeof chunk);
    while (sent < 50000000) {
        ssize_t n = send(fd, chunk, sizeof chunk, MSG_NOSIGNAL);
        if (n <= 0)
            break; /* the server hung up: fine */
        sent += (size_t)n;
    }
    a = read_all(fd, 4096, 3000);
    assert_true(status_of(a) == 405 || status_of(a) == 0);
    free(a);
    close(fd);
}

/* 500 idle connections held open while the endpoint must still answer. */
static void
http_idle(void)
{
    static int fds[IDLE_CONNS];
    int opened = 0;

    for (int i = 0; i < IDLE_CONNS; i++) {
        fds[i] = http_connect(NULL);
        opened += fds[i] >= 0;
    }
    print_message("idle connections opened: %d of %d\n", opened, IDLE_CONNS);
    for (int k = 0; k < 3; k++) {
        check_alive("with 500 idle HTTP connections open");
        fr_sleep_ms(500);
    }
    for (int i = 0; i < IDLE_CONNS; i++)
        if (fds[i] >= 0)
            close(fds[i]);
}

/* ---- the test ---------------------------------------------------------- */

static int
ctl_stores_has(const char *needle)
{
    return proc_runf(FR_BIN_DIR "/fedrec-ctl --config %s --json stores 2>&1 "
                     "| grep -q '%s'", E.conf, needle) == 0;
}

/* Every secure sum decoded had exactly WEIGHT_CAP per store, and only the
 * three honest stores; returns how many were decoded. */
static int
check_exact_sums(void)
{
    char line[2048];
    int n = 0;

    while (proc_find_line(E.log, "secure sum of ", n + 1, line,
                          sizeof line)) {
        const char *p = strstr(line, "secure sum of ");
        unsigned stores = 0;
        unsigned long long w = 0;
        assert_int_equal(sscanf(p, "secure sum of %u stores decoded "
                                   "(weight %llu", &stores, &w), 2);
        if (stores != NSTORES || w != (unsigned long long)WEIGHT_CAP * stores)
            fail_msg("round sum not exact: %s", line);
        n++;
    }
    return n;
}

static void
test_hostile_peers(void **state)
{
    env *e = *state;
    churn c = {0};
    rogue r;
    int rounds_before, status, lines, decoded;
    long rss;
    char *page;

    for (int i = 0; i < NSTORES; i++) {
        char store[160];
        snprintf(store, sizeof store, "--store=%s/st-store%02d", e->dir, i + 1);
        e->client[i] =
            proc_start((char *[]){FR_BIN_DIR "/fedrec-client", "run", store,
                                  "--heartbeat_ms=300", NULL},
                       e->client_log[i]);
    }
    e->agg = proc_start((char *[]){FR_BIN_DIR "/fedrec-aggregator",
                                   "--config", e->conf, NULL},
                        e->log);
    assert_true(proc_wait_for(e->log, "listening on tcp", 1, 10000));
    fr_sleep_ms(300); /* the main loop's first pass */
    check_alive("at start");

    /* Strangers, then the churn in the background for the rest. */
    attack_strangers();
    assert_int_equal(pthread_create(&c.t, NULL, churn_main, &c), 0);
    check_alive("after a stranger and a plain TCP connection");

    rogue_open(&r);
    rogue_hello(&r);
    rogue_garbage(&r);
    check_alive("after the rogue's garbage and 64 MiB frame");
    http_big_header();
    http_traversal();
    check_alive("after the HTTP header and traversal attacks");
    rogue_protocol(&r);
    check_alive("after the rogue's protocol attacks");
    http_big_body();
    http_idle();
    rounds_before = proc_count(e->log, "secure sum of ");

    /* The flood: refused, then the store is quarantined. */
    rogue_flood(&r);
    assert_true(proc_wait_for(e->log, "store rogue quarantined", 1, 10000));
    check_alive("after the flood");
    assert_true(ctl_stores_has("\"name\":\"rogue\",[^}]*\"quarantined\":true"));
    assert_true(metric("fedrec_store_quarantined{store=\"rogue\"}") == 1);
    assert_true(metric("fedrec_stores_quarantined") == 1);
    page = http_get("/");
    assert_non_null(strstr(page, "quarantined, "));
    free(page);
    assert_true(rejected("quarantined") > FLOOD / 2);
    for (int i = 1; i <= NSTORES; i++) {
        char n[64];
        snprintf(n, sizeof n, "\"name\":\"store%02d\",[^}]*\"quarantined\":true",
                 i);
        assert_false(ctl_stores_has(n));
    }

    /* Rounds go on while the rogue sits in quarantine and the churn runs. */
    assert_true(proc_wait_for(e->log, "secure sum of ", rounds_before + 2,
                              30000));
    pthread_join(c.t, NULL);
    print_message("churn: %d connect/disconnects in %lld ms, %d refused\n",
                  atomic_load(&c.done), (long long)c.ms,
                  atomic_load(&c.refused));
    assert_int_equal(atomic_load(&c.done), CHURN);
    assert_true(c.ms < CHURN_BOUND_MS);
    check_alive("after the churn");

    /* Let back in after quarantine_ms: a hello is heard again. */
    assert_true(proc_wait_for(e->log, "store rogue let out of quarantine", 1,
                              QUARANTINE_MS + 5000));
    rogue_hello(&r);
    fr_sleep_ms(500);
    assert_true(metric("fedrec_stores_quarantined") == 0);
    /* Only the rogue was ever quarantined: nothing the strangers or the
     * rogue did was charged to an honest store. */
    assert_true(metric("fedrec_quarantines_total") == 1);
    assert_true(ctl_stores_has("\"name\":\"rogue\",\"connected\":true"));
    /* The suppressed-lines summary comes at the end of the interval. */
    for (int64_t end = fr_clock_ms() + 15000;
         metric("fedrec_refusal_log_suppressed_total") < FLOOD / 2 &&
         fr_clock_ms() < end;)
        fr_sleep_ms(200);
    assert_true(proc_wait_for(e->log, "reason=quarantined suppressed=", 1,
                              1000));

    /* Per-reason counts. */
    assert_true(metric("fedrec_refused_connections_total{reason=\"unknown_key\"}")
                >= CHURN);
    assert_true(rejected("malformed") >= 13);
    assert_true(rejected("oversized") >= 1);
    assert_true(rejected("too_many_frames") >= 1);
    assert_true(rejected("wrong_round") >= 3);
    assert_true(rejected("out_of_phase") >= 1);
    assert_true(rejected("replayed") >= 2);
    print_message("refused: unknown_key %.0f malformed %.0f oversized %.0f "
                  "too_many_frames %.0f wrong_round %.0f out_of_phase %.0f "
                  "replayed %.0f unexpected %.0f quarantined %.0f; "
                  "log lines suppressed %.0f\n",
                  metric("fedrec_refused_connections_total{reason=\"unknown_key\"}"),
                  rejected("malformed"), rejected("oversized"),
                  rejected("too_many_frames"), rejected("wrong_round"),
                  rejected("out_of_phase"), rejected("replayed"),
                  rejected("unexpected"), rejected("quarantined"),
                  metric("fedrec_refusal_log_suppressed_total"));
    /* Rate-limited: the flood and the churn took few lines. */
    lines = proc_count(e->log, "reason=malformed") +
            proc_count(e->log, "reason=quarantined");
    print_message("flood of %d: %d log lines\n", FLOOD, lines);
    assert_true(lines < FLOOD / 20);
    assert_true(metric("fedrec_refusal_log_suppressed_total") > FLOOD / 2);
    lines = proc_count(e->log, "refused handshake from");
    print_message("churn of %d: %d log lines\n", CHURN, lines);
    assert_true(lines < CHURN / 20);

    rss = peak_rss_kib();
    print_message("aggregator peak RSS %ld KiB (bound %d KiB)\n", rss,
                  RSS_BOUND_KIB);
    assert_true(rss > 0 && rss < RSS_BOUND_KIB);
    rogue_close(&r);
    check_alive("at the end");

    status = proc_stop(e->agg, SIGTERM, 20000);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    decoded = check_exact_sums();
    print_message("rounds completed: %d; %d secure sums decoded, each "
                  "exactly %d x %d stores\n",
                  proc_count(e->log, "completed (id"), decoded, WEIGHT_CAP,
                  NSTORES);
    assert_true(decoded >= 4);
    assert_true(proc_count(e->log, "completed (id") >= decoded);
    for (int i = 0; i < NSTORES; i++) {
        status = proc_stop(e->client[i], SIGTERM, 10000);
        assert_true(WIFEXITED(status));
    }
}

static int
setup(void **state)
{
    env *e = &E;

    snprintf(e->dir, sizeof e->dir, "/tmp/fr-hostile-XXXXXX");
    if (!mkdtemp(e->dir))
        return -1;
    snprintf(e->endpoint, sizeof e->endpoint, "tcp://127.0.0.1:%d",
             proc_free_port());
    e->http_port = proc_free_port();
    snprintf(e->conf, sizeof e->conf, "%.60s/agg.conf", e->dir);
    snprintf(e->log, sizeof e->log, "%.60s/agg.log", e->dir);
    for (int i = 0; i < NSTORES; i++)
        snprintf(e->client_log[i], sizeof e->client_log[i], "%.60s/c%d.log",
                 e->dir, i + 1);
    if (proc_make_stores(FR_BIN_DIR, e->dir, NSTORES, ITEMS, 60, 5,
                         e->endpoint) ||
        proc_runf(FR_BIN_DIR "/fedrec-keygen --name rogue --dir %s/keys "
                  "2>/dev/null >> %s/allowlist",
                  e->dir, e->dir))
        return -1;
    write_config(e);
    *state = e;
    return 0;
}

static int
teardown(void **state)
{
    env *e = *state;

    if (e->agg > 0 && kill(e->agg, 0) == 0)
        proc_stop(e->agg, SIGKILL, 5000);
    for (int i = 0; i < NSTORES; i++)
        if (e->client[i] > 0 && kill(e->client[i], 0) == 0)
            proc_stop(e->client[i], SIGKILL, 5000);
    if (getenv("FR_KEEP_TEST_DIR"))
        return 0;
    return proc_runf("rm -rf %s", e->dir) == 0 ? 0 : -1;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostile_peers),
    };
    signal(SIGPIPE, SIG_IGN);
#if defined(__SANITIZE_ADDRESS__)
    {
        const char *o = getenv("ASAN_OPTIONS");
        char opts[512];
        snprintf(opts, sizeof opts, "%s%squarantine_size_mb=%d", o ? o : "",
                 o && *o ? ":" : "", ASAN_QUARANTINE_MB);
        setenv("ASAN_OPTIONS", opts, 1);
    }
#endif
    if (fr_crypto_init() != FR_OK)
        return 1;
    return cmocka_run_group_tests(tests, setup, teardown);
}
