/*
 * main.c - fedrec-aggregator: configuration, signals and the poll loop.
 *
 * One thread runs the loop: it receives a message, decodes it (wire/ checks
 * every byte), hands it to the round engine, ticks the engine's timers,
 * answers fedrec-ctl on the admin socket and publishes the figures that the
 * HTTP endpoint (its own thread, http.c) serves. Bad input is logged,
 * counted and dropped; only a local setup error stops the daemon.
 * Under systemd (Type=notify) it reports READY, STATUS, WATCHDOG and
 * STOPPING. SIGTERM/SIGINT stop it cleanly: no new round, the round in
 * progress finishes within stop_grace_ms or is abandoned, the checkpoint is
 * written. SIGHUP re-reads the allow-list (not the catalogue, which is
 * read at start only). With a `rounds` target, once it is reached the
 * daemon keeps answering for linger_ms (at least 1 s), telling each store
 * that says HELLO that training is done (announce.c), then exits as on
 * SIGTERM.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include <systemd/sd-daemon.h>

#include "admin.h"
#include "agg.h"
#include "http.h"
#include "stats.h"
#include "upstream.h"
#include "base/log.h"
#include "base/util.h"
#include "config/config.h"
#include "crypto/crypto.h"
#include "model/model.h"

#define TAG "aggregator"

static volatile sig_atomic_t stop_requested, reload_requested;

static void
on_signal(int sig)
{
    if (sig == SIGHUP)
        reload_requested = 1;
    else if (stop_requested < 2)
        stop_requested++;
}

static void
install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* What the loop and the operators' controls share. */
typedef struct daemon {
    const agg_config *cfg;
    aggregator *a;
    fr_net_ctx *ctx;
    fr_net_sock *sock;
    agg_stats *stats;
    agg_http *http;
    agg_admin *admin;
    agg_upstream *up;    /* mode regional: the link to the central */
    int64_t watchdog_ms; /* 0: systemd's watchdog is off */
} daemon;

/* A message that did not reach the round engine: counted, charged to its
 * sender if known, logged within the refusal rate limit. */
static void
refuse_frame(daemon *d, const fr_net_peer *peer, fr_err rc, int64_t now)
{
    int multi = rc == FR_EPROTO && peer->store[0];
    const fr_net_peer *who = multi ? peer : NULL;

    if (aggregator_refused(d->a, who,
                           multi ? AGG_REJECT_TOO_MANY_FRAMES
                                 : AGG_REJECT_MALFORMED,
                           now))
        fr_log_ev(FR_LOG_WARN, TAG, "message_rejected",
                  "dropped a message from store %s: %s (reason=%s)",
                  who ? who->store : "(unknown)",
                  multi ? "more than one frame" : fr_strerror(rc),
                  multi ? "too_many_frames" : "malformed");
}

static void
handle_one(daemon *d)
{
    fr_net_peer peer;
    uint8_t *buf = NULL;
    size_t len = 0;
    fr_err rc = fr_net_recv(d->sock, 0, &peer, &buf, &len);
    int64_t now = fr_clock_ms();

    if (rc == FR_ETIMEDOUT)
        return;
    if (rc) {
        refuse_frame(d, &peer, rc, now);
        return;
    }
    aggregator_on_bytes(d->a, &peer, buf, len, now);
    free(buf);
}

/* ---- operators' controls (admin socket) -------------------------------- */

static fr_err
op_pause(void *arg, int pause, char *msg, size_t cap)
{
    daemon *d = arg;
    bool was = aggregator_paused(d->a);

    aggregator_set_paused(d->a, pause);
    snprintf(msg, cap, "%s%s", pause ? "paused" : "resumed",
             was == (pause != 0) ? " (already)" : "");
    return FR_OK;
}

static fr_err
op_revoke(void *arg, const char *store, char *msg, size_t cap)
{
    daemon *d = arg;
    fr_err rc = fr_net_zap_revoke(d->ctx, store, msg, cap);

    if (rc == FR_OK)
        aggregator_store_revoked(d->a, store);
    return rc;
}

static fr_err
op_checkpoint(void *arg, char *msg, size_t cap)
{
    daemon *d = arg;
    fr_err rc;

    if (d->up) {
        snprintf(msg, cap, "a regional aggregator keeps no checkpoint (it "
                 "has no model of its own)");
        return FR_OK;
    }
    rc = aggregator_checkpoint(d->a);
    if (rc)
        snprintf(msg, cap, "checkpoint not written: %s", fr_strerror(rc));
    else
        snprintf(msg, cap, "checkpoint written to %s/checkpoint.bin",
                 d->cfg->state_dir);
    return rc;
}

static void
reload_allowlist(daemon *d)
{
    sd_notify(0, "RELOADING=1");
    if (fr_net_zap_reload(d->ctx) == FR_OK)
        fr_log_ev(FR_LOG_NOTICE, TAG, "allowlist_reloaded",
                  "allow-list reloaded");
    sd_notify(0, "READY=1");
}

static void
notify_status(daemon *d, int64_t now, int64_t *last)
{
    agg_stats_view v;

    if (now - *last < 2000)
        return;
    *last = now;
    if (agg_stats_snapshot(d->stats, &v))
        return;
    sd_notifyf(0, "STATUS=%s, round id %llu %s, %llu rounds completed, "
               "%zu of %zu stores connected", v.state,
               (unsigned long long)v.round_id, v.phase,
               (unsigned long long)v.completed, v.n_connected, v.n_stores);
    agg_stats_view_clear(&v);
}

static int64_t
unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits on the stores' socket (bit 0 of *ready) and, in mode regional,
 * the link to the central. */
static fr_err
poll_all(daemon *d, int timeout_ms, unsigned *ready)
{
    fr_net_sock *socks[3] = {d->sock};
    size_t n = 1;

    if (d->up)
        n += agg_upstream_socks(d->up, socks + 1);
    return fr_net_poll(socks, n, timeout_ms, ready);
}

/* One pass per message burst or timer (at most 100 ms apart): messages,
 * round timers, operators' requests, figures, systemd's watchdog. A first
 * SIGTERM stops new rounds and lets the round in progress finish (up to
 * stop_grace_ms); a second one, or the grace running out, abandons it. */
static void
run_loop(daemon *d)
{
    int64_t done_at = 0, drain_at = 0, last_wd = 0, last_pub = 0;
    int64_t last_status = 0;

    for (;;) {
        unsigned ready = 0;
        int64_t now = fr_clock_ms();

        if (stop_requested && !drain_at) {
            drain_at = now;
            aggregator_drain(d->a);
            sd_notify(0, "STOPPING=1");
            fr_log_ev(FR_LOG_NOTICE, TAG, "stopping",
                      "stopping: %s (grace_ms=%lld)",
                      aggregator_busy(d->a)
                          ? "letting the round in progress finish"
                          : "no round in progress",
                      (long long)d->cfg->stop_grace_ms);
        }
        if (drain_at && (!aggregator_busy(d->a) || stop_requested > 1 ||
                         now - drain_at >= d->cfg->stop_grace_ms))
            break;
        if (reload_requested) {
            reload_requested = 0;
            reload_allowlist(d);
        }
        if (poll_all(d, aggregator_next_timeout(d->a, now), &ready) ==
                FR_OK &&
            (ready & 1))
            for (int i = 0; i < 64; i++) /* drain a burst, stay responsive */
                handle_one(d);
        now = fr_clock_ms();
        if (d->up) /* the central's messages, heartbeats */
            agg_upstream_service(d->up, d->a, now);
        aggregator_tick(d->a, now);
        if (d->admin)
            agg_admin_serve(d->admin);
        if (now - last_pub >= 200) {
            last_pub = now;
            aggregator_publish(d->a, now);
            agg_stats_set_refused_handshakes(d->stats,
                                             fr_net_zap_refused(d->ctx));
        }
        agg_stats_loop_alive(d->stats, unix_ms());
        if (d->watchdog_ms && now - last_wd >= d->watchdog_ms) {
            last_wd = now;
            sd_notify(0, "WATCHDOG=1");
        }
        notify_status(d, now, &last_status);
        if (aggregator_done(d->a) && !drain_at) {
            /* Let the last round's messages reach the stores and tell the
             * ones that ask (HELLO -> DONE) for linger_ms, then leave. */
            if (!done_at) {
                done_at = now;
                fr_log_info(TAG, "training done: answering stores for "
                            "%lld ms before exiting",
                            (long long)d->cfg->linger_ms);
            } else if (now - done_at > d->cfg->linger_ms &&
                       now - done_at > 1000) {
                break;
            }
        }
    }
    aggregator_stop(d->a, fr_clock_ms()); /* abandons a round cut short */
    if (!d->up && aggregator_checkpoint(d->a) == FR_OK) /* a region has none */
        fr_log_ev(FR_LOG_NOTICE, TAG, "checkpoint_written",
                  "checkpoint written on the way out");
}

static int
usage_error(const char *msg)
{
    fprintf(stderr, "fedrec-aggregator: %s\n", msg);
    fprintf(stderr, "try 'fedrec-aggregator --help'\n");
    return 2;
}

static void
print_help(void)
{
    printf("usage: fedrec-aggregator [--config FILE] [--KEY=VALUE ...] "
           "[--check-config] [--dump-config]\n\n"
           "Runs federated rounds for the fedrec store clients.\n\n"
           "Configuration keys (file lines 'KEY VALUE', or --KEY=VALUE):\n");
    fr_config_print_help(&agg_config_table, stdout);
}

/* The process's high-water mark, for capacity planning: a secure round
 * start hands ZeroMQ one model-sized message per chosen store at once. */
static void
report_peak_rss(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        fr_log_info(TAG, "peak RSS %.1f MiB", (double)ru.ru_maxrss / 1024.0);
}

/* Starts the HTTP endpoint when http_listen is set; nothing otherwise. */
static fr_err
start_http(daemon *d)
{
    char err[512];
    fr_err rc;

    if (!*d->cfg->http_listen)
        return FR_OK;
    if ((rc = agg_http_start(&d->http, d->cfg->http_listen, d->stats, err,
                             sizeof err))) {
        fr_log_err(TAG, "cannot start the HTTP endpoint on %s: %s",
                   d->cfg->http_listen, err);
        return rc;
    }
    fr_log_ev(FR_LOG_NOTICE, TAG, "http_listening",
              "http listening on %s (port=%u): /metrics /healthz /",
              d->cfg->http_listen, (unsigned)agg_http_port(d->http));
    return FR_OK;
}

/* Mode regional: the link to the central aggregator, handed to the round
 * engine; nothing in mode central. */
static fr_err
start_upstream(daemon *d)
{
    fr_err rc;

    if (!agg_regional(d->cfg))
        return FR_OK;
    if ((rc = agg_upstream_new(&d->up, d->cfg, d->ctx, d->stats)))
        return rc;
    aggregator_set_upstream(d->a, d->up);
    return FR_OK;
}

static int
serve(const agg_config *cfg)
{
    fr_crypto_keypair *kp = NULL;
    daemon d = {.cfg = cfg};
    char err[512], admin_path[AGG_PATH_MAX + 16];
    agg_admin_access access;
    agg_admin_ops ops = {.arg = &d, .pause = op_pause, .revoke = op_revoke,
                         .checkpoint = op_checkpoint};
    uint64_t wd_usec = 0;
    fr_err rc;
    int status = 1;

    if ((rc = agg_stats_new(&d.stats)))
        goto out;
    agg_stats_set_static(d.stats, cfg->secagg, cfg->rounds);
    if ((rc = fr_crypto_keypair_load(cfg->key_file, &kp))) {
        fr_log_err(TAG, "cannot load key_file %s: %s", cfg->key_file,
                   fr_strerror(rc));
        goto out;
    }
    if (mkdir(cfg->state_dir, 0700) != 0 && errno != EEXIST) {
        fr_log_err(TAG, "cannot create state_dir %s: %s", cfg->state_dir,
                   strerror(errno));
        goto out;
    }
    if ((rc = fr_net_ctx_new(&d.ctx)) ||
        (rc = fr_net_zap_start(d.ctx, cfg->allowlist))) {
        fr_log_err(TAG, "cannot start access control (allowlist %s): %s",
                   cfg->allowlist, fr_strerror(rc));
        goto out;
    }
    /* Two limits: the decoder logs and drops anything over
     * max_message_bytes; ZeroMQ cuts a connection that sends more than
     * twice that before it is even buffered. */
    if ((rc = fr_net_listen(d.ctx, cfg->listen, kp,
                            2 * (size_t)cfg->max_message_bytes, &d.sock))) {
        fr_log_err(TAG, "cannot listen on %s: %s", cfg->listen,
                   fr_strerror(rc));
        goto out;
    }
    fr_crypto_keypair_destroy(&kp); /* ZeroMQ holds its own copy */
    if ((rc = aggregator_new(&d.a, cfg, d.ctx, d.sock, d.stats)))
        goto out;
    if ((rc = start_upstream(&d)))
        goto out;
    aggregator_publish(d.a, fr_clock_ms());
    if ((rc = agg_admin_socket_path(cfg, admin_path, sizeof admin_path))) {
        fr_log_err(TAG, "admin socket path too long (at most 107 bytes)");
        goto out;
    }
    if ((rc = agg_admin_access_init(&access, cfg->admin_group,
                                    cfg->admin_operator_group, err,
                                    sizeof err)) ||
        (rc = agg_admin_open(&d.admin, admin_path, d.stats, &ops, &access,
                             err, sizeof err))) {
        fr_log_err(TAG, "cannot open the admin socket: %s", err);
        goto out;
    }
    if ((rc = start_http(&d)))
        goto out;
    if (sd_watchdog_enabled(0, &wd_usec) > 0 && wd_usec)
        d.watchdog_ms = (int64_t)(wd_usec / 2000); /* twice per period */
    fr_log_ev(FR_LOG_NOTICE, TAG, "listening",
              "listening on %s (admin socket %s)", cfg->listen, admin_path);
    sd_notify(0, "READY=1");
    run_loop(&d);
    status = 0;
out:
    agg_http_stop(&d.http); /* before the stats it reads */
    agg_admin_close(&d.admin);
    aggregator_destroy(&d.a);
    agg_upstream_destroy(&d.up);
    fr_net_sock_destroy(&d.sock);
    fr_net_ctx_destroy(&d.ctx);
    fr_crypto_keypair_destroy(&kp);
    agg_stats_destroy(&d.stats);
    report_peak_rss();
    return status;
}

int
main(int argc, char **argv)
{
    agg_config cfg;
    char err[FR_CONFIG_ERR_MAX];
    int pos[1], npos = 0, flags = 0;
    fr_log_level level;
    fr_log_format format;

    fr_log_set_ident("fedrec-aggregator");
    if (fr_config_parse_cli(&agg_config_table, &cfg, argc, argv, pos, 0,
                            &npos, &flags, err, sizeof err))
        return usage_error(err);
    if (flags & FR_CONFIG_FLAG_HELP) {
        print_help();
        return 0;
    }
    if (fr_log_level_parse(cfg.log_level, &level))
        return usage_error("log_level: expected err, warn, notice, info or "
                           "debug");
    if (fr_log_format_parse(cfg.log_format, &format))
        return usage_error("log_format: expected json or human");
    if (fr_crypto_init()) {
        fprintf(stderr, "fedrec-aggregator: libsodium failed to start\n");
        return 1;
    }
    if (agg_config_validate(&cfg, err, sizeof err) ||
        agg_catalogue_check(&cfg, err, sizeof err) ||
        agg_upstream_check(&cfg, err, sizeof err))
        return usage_error(err);
    if (flags & FR_CONFIG_FLAG_DUMP)
        fr_config_dump(&agg_config_table, &cfg, stdout);
    if (flags & (FR_CONFIG_FLAG_CHECK | FR_CONFIG_FLAG_DUMP)) {
        if (flags & FR_CONFIG_FLAG_CHECK)
            printf("configuration ok\n");
        return 0;
    }
    fr_log_set_level(level);
    fr_log_set_format(format);
    fr_model_set_threads((int)cfg.blas_threads);
    install_signals();
    return serve(&cfg);
}
