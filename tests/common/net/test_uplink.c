/*
 * test_uplink.c - the self-healing client connection (common/net/uplink.h)
 * against a real CURVE server with its ZAP allow-list on loopback: it comes
 * up; a refused key is retried by rebuilding the socket, so a key put on
 * the list later gets through without a new uplink; a server that goes
 * away and comes back on the same endpoint is reached again; nothing is
 * sent while the link is not up.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"
#include "crypto/crypto.h"
#include "net/net.h"
#include "net/uplink.h"

#define MAXMSG (1u << 20)

typedef struct fixture {
    char dir[64], allow[96], endpoint[64];
    fr_net_ctx *sctx, *cctx;
    fr_net_sock *router;
    fr_crypto_keypair *server, *client;
    fr_net_uplink *up;
} fixture;

static void
write_allow(const fixture *f, int with_client)
{
    char text[256] = "# the central's allow-list\n", hex[65];

    if (with_client) {
        fr_crypto_key_to_hex(fr_crypto_keypair_public(f->client), hex);
        snprintf(text + strlen(text), sizeof text - strlen(text),
                 "region-a %s\n", hex);
    } else {
        fr_crypto_key_to_hex(fr_crypto_keypair_public(f->server), hex);
        snprintf(text + strlen(text), sizeof text - strlen(text),
                 "someone-else %s\n", hex);
    }
    assert_int_equal(fr_file_write_atomic(f->allow, text, strlen(text), 0644),
                     FR_OK);
}

static void
listen_on(fixture *f, const char *endpoint)
{
    assert_int_equal(fr_net_listen(f->sctx, endpoint, f->server, MAXMSG,
                                   &f->router), FR_OK);
    assert_int_equal(fr_net_sock_endpoint(f->router, f->endpoint,
                                          sizeof f->endpoint), FR_OK);
}

static int
setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);

    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/fr-uplink-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->allow, sizeof f->allow, "%s/allowlist", f->dir);
    assert_int_equal(fr_crypto_keypair_generate(&f->server), FR_OK);
    assert_int_equal(fr_crypto_keypair_generate(&f->client), FR_OK);
    write_allow(f, 1);
    assert_int_equal(fr_net_ctx_new(&f->sctx), FR_OK);
    assert_int_equal(fr_net_ctx_new(&f->cctx), FR_OK);
    assert_int_equal(fr_net_zap_start(f->sctx, f->allow), FR_OK);
    listen_on(f, "tcp://127.0.0.1:*");
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture *f = *state;
    char cmd[96];

    fr_net_uplink_destroy(&f->up);
    fr_net_sock_destroy(&f->router);
    fr_net_ctx_destroy(&f->cctx);
    fr_net_ctx_destroy(&f->sctx);
    fr_crypto_keypair_destroy(&f->server);
    fr_crypto_keypair_destroy(&f->client);
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static fr_net_uplink_opts
opts(const fixture *f)
{
    return (fr_net_uplink_opts){
        .endpoint = f->endpoint,
        .client = f->client,
        .server_pk = fr_crypto_keypair_public(f->server),
        .max_msg = MAXMSG,
        .reconnect_ivl_ms = 20,
        .rebuild_first_ms = 50,
        .reconnect_max_ms = 200};
}

/* Ticks the uplink until it is in state want (1) or timeout_ms passed (0). */
static int
wait_state(fr_net_uplink *u, fr_net_link want, int timeout_ms)
{
    int64_t end = fr_clock_ms() + timeout_ms;

    while (fr_clock_ms() < end) {
        fr_net_sock *mon;
        unsigned ready = 0;
        if (fr_net_uplink_tick(u, fr_clock_ms(), NULL, NULL) == want)
            return 1;
        mon = fr_net_uplink_monitor_sock(u); /* a tick may rebuild it */
        if (mon)
            assert_int_equal(fr_net_poll(&mon, 1, 20, &ready), FR_OK);
        else
            usleep(20 * 1000);
    }
    return 0;
}

/* A message through the link reaches the server from region-a. */
static void
expect_through(fixture *f, const char *text)
{
    fr_net_peer peer;
    uint8_t *buf = NULL;
    size_t len = 0;

    assert_int_equal(fr_net_uplink_send(f->up, text, strlen(text)), FR_OK);
    assert_int_equal(fr_net_recv(f->router, 3000, &peer, &buf, &len), FR_OK);
    assert_int_equal(len, strlen(text));
    assert_memory_equal(buf, text, len);
    assert_string_equal(peer.store, "region-a");
    free(buf);
}

static void
test_comes_up(void **state)
{
    fixture *f = *state;
    fr_net_uplink_opts o = opts(f);
    fr_net_link was = FR_NET_LINK_FAILED;
    (void)state;

    assert_int_equal(fr_net_uplink_new(f->cctx, &o, fr_clock_ms(), &f->up),
                     FR_OK);
    assert_int_equal(fr_net_uplink_state(f->up), FR_NET_LINK_CONNECTING);
    /* nothing goes out before the handshake */
    assert_int_equal(fr_net_uplink_send(f->up, "x", 1), FR_ECLOSED);
    assert_true(wait_state(f->up, FR_NET_LINK_UP, 5000));
    assert_int_equal(fr_net_uplink_rebuild_at(f->up), 0);
    expect_through(f, "hello from the region");
    (void)fr_net_uplink_tick(f->up, fr_clock_ms(), &was, NULL);
    assert_int_equal(was, FR_NET_LINK_UP);
}

/* Not on the list: refused, and the socket is made again and again until
 * the key is listed. */
static void
test_refused_then_listed(void **state)
{
    fixture *f = *state;
    fr_net_uplink_opts o = opts(f);
    (void)state;

    write_allow(f, 0);
    assert_int_equal(fr_net_zap_reload(f->sctx), FR_OK);
    assert_int_equal(fr_net_uplink_new(f->cctx, &o, fr_clock_ms(), &f->up),
                     FR_OK);
    assert_true(wait_state(f->up, FR_NET_LINK_REFUSED, 5000));
    assert_true(fr_net_uplink_rebuild_at(f->up) > 0);
    assert_int_equal(fr_net_uplink_send(f->up, "x", 1), FR_ECLOSED);
    write_allow(f, 1);
    assert_int_equal(fr_net_zap_reload(f->sctx), FR_OK);
    assert_true(wait_state(f->up, FR_NET_LINK_UP, 5000));
    assert_true(fr_net_uplink_rebuilds(f->up) >= 1);
    expect_through(f, "listed now");
}

/* The server goes away: down; it comes back on the same endpoint: up. */
static void
test_server_gone_and_back(void **state)
{
    fixture *f = *state;
    fr_net_uplink_opts o = opts(f);
    char endpoint[64];
    (void)state;

    assert_int_equal(fr_net_uplink_new(f->cctx, &o, fr_clock_ms(), &f->up),
                     FR_OK);
    assert_true(wait_state(f->up, FR_NET_LINK_UP, 5000));
    snprintf(endpoint, sizeof endpoint, "%s", f->endpoint);
    fr_net_sock_destroy(&f->router);
    assert_true(wait_state(f->up, FR_NET_LINK_DOWN, 5000));
    listen_on(f, endpoint);
    assert_true(wait_state(f->up, FR_NET_LINK_UP, 5000));
    expect_through(f, "back again");
}

/* A message heard proves the handshake whatever the monitor said. */
static void
test_heard_means_up(void **state)
{
    fixture *f = *state;
    fr_net_uplink_opts o = opts(f);
    (void)state;

    assert_int_equal(fr_net_uplink_new(f->cctx, &o, fr_clock_ms(), &f->up),
                     FR_OK);
    assert_int_equal(fr_net_uplink_heard(f->up, fr_clock_ms()),
                     FR_NET_LINK_CONNECTING);
    assert_int_equal(fr_net_uplink_state(f->up), FR_NET_LINK_UP);
    assert_int_equal(fr_net_uplink_rebuild_at(f->up), 0);
}

static void
test_bad_options(void **state)
{
    fixture *f = *state;
    fr_net_uplink_opts o = opts(f);
    fr_net_uplink *u = NULL;
    (void)state;

    o.rebuild_first_ms = 0;
    assert_int_equal(fr_net_uplink_new(f->cctx, &o, 0, &u), FR_EINVAL);
    o = opts(f);
    o.reconnect_max_ms = 10; /* below the first delay */
    assert_int_equal(fr_net_uplink_new(f->cctx, &o, 0, &u), FR_EINVAL);
    o = opts(f);
    o.client = NULL;
    assert_int_equal(fr_net_uplink_new(f->cctx, &o, 0, &u), FR_EINVAL);
    assert_null(u);
    fr_net_uplink_destroy(&u); /* NULL is fine */
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_comes_up),         T(test_refused_then_listed),
        T(test_server_gone_and_back), T(test_heard_means_up),
        T(test_bad_options),
    };
#undef T
    if (fr_crypto_init())
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
