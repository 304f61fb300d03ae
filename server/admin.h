/*
 * admin.h - the aggregator's admin socket: the local Unix socket through
 * which operators run `fedrec-ctl status|stores|pause|resume|checkpoint|
 * revoke STORE`.
 *
 * Protocol. A client connects, sends one request line of at most
 * AGG_ADMIN_LINE_MAX bytes ("status", "stores", "revoke STORE", "pause",
 * "resume" or "checkpoint", ended by '\n' or by shutting down its write
 * side), and reads one JSON object line back; then the server closes. Every
 * answer has "ok": true|false; a failed one has "error": "...", a control
 * command's answer has "message": "..." saying what was done.
 *
 * DESIGN. Access control is the file mode: the socket is created 0660, so
 * only the daemon's user and its group (the operators) can connect; each
 * control command is logged with the peer's uid. Everything runs on the
 * main loop's thread: agg_admin_serve() accepts without blocking, gives a
 * client at most AGG_ADMIN_READ_MS to send its line and AGG_ADMIN_WRITE_MS
 * to take the answer, so a stuck or hostile client delays a pass of the
 * loop by a bounded time and never stops it. Commands that change the
 * aggregator go through agg_admin_ops, implemented by the daemon; figures
 * come from a snapshot of agg_stats. Nothing secret passes here.
 */
#ifndef FR_SERVER_ADMIN_H
#define FR_SERVER_ADMIN_H

#include <stddef.h>

#include "base/err.h"
#include "stats.h"

#define AGG_ADMIN_LINE_MAX 256  /* request line, without its '\n' */
#define AGG_ADMIN_READ_MS  200  /* a client's time to send its request */
#define AGG_ADMIN_WRITE_MS 1000 /* a client's time to read the answer */
#define AGG_ADMIN_MSG_MAX  256  /* room for an operation's message */

typedef struct agg_admin_ops {
    void *arg;
    /* Each returns FR_OK, or an error with a one-line message for the
     * operator written to msg (also on success: what was done). */
    fr_err (*pause)(void *arg, int pause, char *msg, size_t cap);
    fr_err (*revoke)(void *arg, const char *store, char *msg, size_t cap);
    fr_err (*checkpoint)(void *arg, char *msg, size_t cap);
} agg_admin_ops;

typedef struct agg_admin agg_admin;

/* Binds the socket at path with mode 0660 (created under a umask, then
 * checked). A stale socket file (nothing accepts on it) is replaced; a live
 * one means another aggregator runs: error. ops and stats are borrowed. */
FR_NODISCARD fr_err agg_admin_open(agg_admin **out, const char *path,
                                   agg_stats *stats, const agg_admin_ops *ops,
                                   char *err, size_t errlen);

/* Answers the requests waiting now without blocking (non-blocking accept;
 * a client gets at most ~200 ms to send its request line). Called on every
 * pass of the main loop (at least every 100 ms). */
void agg_admin_serve(agg_admin *ad);

/* Closes and unlinks the socket; accepts NULL. */
void agg_admin_close(agg_admin **adp);

#endif
