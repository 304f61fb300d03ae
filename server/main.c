/*
 * main.c - fedrec-aggregator: configuration, signals and the poll loop.
 *
 * One thread: the loop receives a message, decodes it (wire/ checks every
 * byte), hands it to the round engine, and ticks the engine's timers. Bad
 * input is logged and dropped; only a local setup error stops the daemon.
 * SIGINT/SIGTERM stop it cleanly (a round in progress is abandoned and the
 * last checkpoint stays); SIGHUP re-reads the allow-list.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <cblas.h>

#include "agg.h"
#include "base/log.h"
#include "base/util.h"
#include "crypto/crypto.h"

#define TAG "aggregator"

static volatile sig_atomic_t stop_requested, reload_requested;

static void
on_signal(int sig)
{
    if (sig == SIGHUP)
        reload_requested = 1;
    else
        stop_requested = 1;
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

static void
handle_one(aggregator *a, fr_net_sock *sock, const agg_config *cfg)
{
    fr_net_peer peer;
    uint8_t *buf = NULL;
    size_t len = 0;
    fr_msg *msg = NULL;
    const char *why = NULL;
    fr_err rc = fr_net_recv(sock, 0, &peer, &buf, &len);

    if (rc == FR_ETIMEDOUT)
        return;
    if (rc) {
        fr_log_warn(TAG, "dropped a frame: %s", fr_strerror(rc));
        return;
    }
    rc = fr_wire_decode(buf, len, (size_t)cfg->max_message_bytes, &msg, &why);
    if (rc)
        fr_log_warn(TAG, "dropped %zu-byte message from store %s: %s", len,
                    peer.store, why ? why : fr_strerror(rc));
    else
        aggregator_on_message(a, &peer, msg, fr_clock_ms());
    fr_msg_destroy(&msg);
    free(buf);
}

static void
run_loop(aggregator *a, fr_net_ctx *ctx, fr_net_sock *sock,
         const agg_config *cfg)
{
    int64_t done_at = 0;

    while (!stop_requested) {
        unsigned ready = 0;
        int64_t now = fr_clock_ms();

        if (reload_requested) {
            reload_requested = 0;
            if (fr_net_zap_reload(ctx) == FR_OK)
                fr_log_notice(TAG, "allow-list reloaded");
        }
        if (fr_net_poll(&sock, 1, aggregator_next_timeout(a, now), &ready) ==
                FR_OK &&
            ready)
            for (int i = 0; i < 64; i++) /* drain a burst, stay responsive */
                handle_one(a, sock, cfg);
        aggregator_tick(a, fr_clock_ms());
        if (aggregator_done(a)) {
            /* Let the last round's messages reach the stores, then leave. */
            if (!done_at)
                done_at = fr_clock_ms();
            else if (fr_clock_ms() - done_at > 1000)
                break;
        }
    }
    aggregator_stop(a, fr_clock_ms());
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

static int
serve(const agg_config *cfg)
{
    fr_crypto_keypair *kp = NULL;
    fr_net_ctx *ctx = NULL;
    fr_net_sock *sock = NULL;
    aggregator *a = NULL;
    fr_err rc;
    int status = 1;

    if ((rc = fr_crypto_keypair_load(cfg->key_file, &kp))) {
        fr_log_err(TAG, "cannot load key_file %s: %s", cfg->key_file,
                   fr_strerror(rc));
        goto out;
    }
    if (mkdir(cfg->state_dir, 0700) != 0 && errno != EEXIST) {
        fr_log_err(TAG, "cannot create state_dir %s", cfg->state_dir);
        goto out;
    }
    if ((rc = fr_net_ctx_new(&ctx)) ||
        (rc = fr_net_zap_start(ctx, cfg->allowlist))) {
        fr_log_err(TAG, "cannot start access control (allowlist %s): %s",
                   cfg->allowlist, fr_strerror(rc));
        goto out;
    }
    /* Two limits: the decoder logs and drops anything over
     * max_message_bytes; ZeroMQ cuts a connection that sends more than
     * twice that before it is even buffered. */
    if ((rc = fr_net_listen(ctx, cfg->listen, kp,
                            2 * (size_t)cfg->max_message_bytes, &sock))) {
        fr_log_err(TAG, "cannot listen on %s: %s", cfg->listen,
                   fr_strerror(rc));
        goto out;
    }
    fr_crypto_keypair_destroy(&kp); /* ZeroMQ holds its own copy */
    if ((rc = aggregator_new(&a, cfg, ctx, sock)))
        goto out;
    fr_log_notice(TAG, "listening on %s", cfg->listen);
    run_loop(a, ctx, sock, cfg);
    status = 0;
out:
    aggregator_destroy(&a);
    fr_net_sock_destroy(&sock);
    fr_net_ctx_destroy(&ctx);
    fr_crypto_keypair_destroy(&kp);
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
    if (agg_config_validate(&cfg, err, sizeof err))
        return usage_error(err);
    if (flags & FR_CONFIG_FLAG_DUMP)
        fr_config_dump(&agg_config_table, &cfg, stdout);
    if (flags & (FR_CONFIG_FLAG_CHECK | FR_CONFIG_FLAG_DUMP)) {
        if (flags & FR_CONFIG_FLAG_CHECK)
            printf("configuration ok\n");
        return 0;
    }
    fr_log_set_level(level);
    if (fr_crypto_init()) {
        fprintf(stderr, "fedrec-aggregator: libsodium failed to start\n");
        return 1;
    }
    openblas_set_num_threads((int)cfg.blas_threads);
    install_signals();
    return serve(&cfg);
}
