/*
 * uplink.c - a client connection that keeps itself up (uplink.h): the
 * socket, its monitor and the rebuild schedule.
 */
#include "uplink.h"

#include <stdlib.h>
#include <string.h>

struct fr_net_uplink {
    fr_net_ctx *ctx;
    char *endpoint;
    const fr_crypto_keypair *client;
    uint8_t server_pk[FR_CRYPTO_PK_BYTES];
    size_t max_msg;
    fr_net_connect_opts zopts;
    int64_t first_ms, max_ms;
    fr_net_sock *sock; /* NULL only while a rebuild failed */
    fr_net_monitor *mon;
    fr_net_link state;
    int64_t rebuild_at; /* 0: not scheduled */
    int64_t backoff_ms;
    uint64_t rebuilds;
};

/* ms with +-20 % jitter. */
static int64_t
jittered(int64_t ms)
{
    uint64_t r = fr_crypto_random_u64() % 4001; /* 0..4000 */

    return ms * (8000 + (int64_t)r) / 10000;
}

static fr_err
link_open(fr_net_uplink *u)
{
    u->state = FR_NET_LINK_CONNECTING;
    return fr_net_connect_with(u->ctx, u->endpoint, u->client, u->server_pk,
                               u->max_msg, &u->zopts, &u->sock, &u->mon);
}

static void
link_close(fr_net_uplink *u)
{
    fr_net_monitor_destroy(&u->mon);
    fr_net_sock_destroy(&u->sock);
}

fr_err
fr_net_uplink_new(fr_net_ctx *ctx, const fr_net_uplink_opts *o, int64_t now,
                  fr_net_uplink **out)
{
    fr_net_uplink *u;
    fr_err rc;

    if (!ctx || !o || !o->endpoint || !o->client || !o->server_pk || !out ||
        o->reconnect_ivl_ms < 1 || o->rebuild_first_ms < 1 ||
        o->reconnect_max_ms < o->rebuild_first_ms ||
        o->reconnect_max_ms < o->reconnect_ivl_ms ||
        o->reconnect_max_ms > INT32_MAX)
        return FR_EINVAL;
    if (!(u = calloc(1, sizeof *u)) || !(u->endpoint = strdup(o->endpoint))) {
        free(u);
        return FR_ENOMEM;
    }
    u->ctx = ctx;
    u->client = o->client;
    memcpy(u->server_pk, o->server_pk, sizeof u->server_pk);
    u->max_msg = o->max_msg;
    u->zopts = (fr_net_connect_opts){
        .reconnect_ivl_ms = o->reconnect_ivl_ms,
        .reconnect_max_ms = (int)o->reconnect_max_ms};
    u->first_ms = o->rebuild_first_ms;
    u->max_ms = o->reconnect_max_ms;
    if ((rc = link_open(u))) {
        fr_net_uplink_destroy(&u);
        return rc;
    }
    u->backoff_ms = u->first_ms;
    u->rebuild_at = now + jittered(u->backoff_ms);
    *out = u;
    return FR_OK;
}

void
fr_net_uplink_destroy(fr_net_uplink **up)
{
    if (!up || !*up)
        return;
    link_close(*up);
    free((*up)->endpoint);
    free(*up);
    *up = NULL;
}

/* The state changed to s: UP resets the backoff; anything else schedules
 * a rebuild (a refused or failed socket is dead, so no later than the
 * backoff; a lost one gets the same time to come back by itself). */
static void
set_state(fr_net_uplink *u, fr_net_link s, int64_t now)
{
    u->state = s;
    if (s == FR_NET_LINK_UP) {
        u->backoff_ms = u->first_ms;
        u->rebuild_at = 0;
        return;
    }
    if (!u->rebuild_at || s == FR_NET_LINK_REFUSED ||
        s == FR_NET_LINK_FAILED) {
        int64_t at = now + jittered(u->backoff_ms);
        if (!u->rebuild_at || at < u->rebuild_at)
            u->rebuild_at = at;
    }
}

/* Destroys the socket and makes a new one; the next rebuild, if this one
 * does not come up either, waits twice as long. */
static fr_err
rebuild(fr_net_uplink *u, int64_t now)
{
    link_close(u);
    u->rebuilds++;
    if (u->backoff_ms < u->max_ms)
        u->backoff_ms *= 2;
    if (u->backoff_ms > u->max_ms)
        u->backoff_ms = u->max_ms;
    u->rebuild_at = now + jittered(u->backoff_ms);
    return link_open(u);
}

fr_net_link
fr_net_uplink_tick(fr_net_uplink *u, int64_t now, fr_net_link *was_out,
                   fr_err *rebuild_rc_out)
{
    fr_net_link was = u->state, s = u->state;
    fr_err rc = FR_OK;

    if (u->mon) {
        /* FR_EPROTO: a malformed event was skipped; s is still written */
        fr_err prc = fr_net_monitor_poll(u->mon, &s);
        (void)prc;
        if (s != u->state)
            set_state(u, s, now);
    }
    /* A change is reported before the socket goes: the caller sees (and
     * logs) every state, and a due rebuild waits for the next tick. */
    if (u->state == was && u->rebuild_at && now >= u->rebuild_at)
        rc = rebuild(u, now);
    if (was_out)
        *was_out = was;
    if (rebuild_rc_out)
        *rebuild_rc_out = rc;
    return u->state;
}

fr_net_link
fr_net_uplink_heard(fr_net_uplink *u, int64_t now)
{
    fr_net_link was = u->state;

    if (was != FR_NET_LINK_UP)
        set_state(u, FR_NET_LINK_UP, now);
    return was;
}

fr_net_link
fr_net_uplink_state(const fr_net_uplink *u)
{
    return u->state;
}

fr_net_sock *
fr_net_uplink_sock(fr_net_uplink *u)
{
    return u->sock;
}

fr_net_sock *
fr_net_uplink_monitor_sock(fr_net_uplink *u)
{
    return u->mon ? fr_net_monitor_sock(u->mon) : NULL;
}

int64_t
fr_net_uplink_rebuild_at(const fr_net_uplink *u)
{
    return u->rebuild_at;
}

uint32_t
fr_net_uplink_retry_ms(const fr_net_uplink *u)
{
    return u->mon ? fr_net_monitor_retry_ms(u->mon) : 0;
}

uint64_t
fr_net_uplink_rebuilds(const fr_net_uplink *u)
{
    return u->rebuilds;
}

fr_err
fr_net_uplink_send(fr_net_uplink *u, const void *buf, size_t len)
{
    if (u->state != FR_NET_LINK_UP || !u->sock)
        return FR_ECLOSED;
    return fr_net_send(u->sock, NULL, buf, len);
}
