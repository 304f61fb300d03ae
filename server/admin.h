/*
 * admin.h - the aggregator's admin socket: the local Unix socket through
 * which operators run `fedrec-ctl status|stores|regions|pause|resume|checkpoint|
 * revoke STORE`.
 *
 * Protocol. A client connects, sends one request line of at most
 * AGG_ADMIN_LINE_MAX bytes ("status", "stores", "revoke STORE", "pause",
 * "resume" or "checkpoint", ended by '\n' or by shutting down its write
 * side), and reads one JSON object line back; then the server closes. Every
 * answer has "ok": true|false; a failed one has "error": "...", a control
 * command's answer has "message": "..." saying what was done.
 *
 * DESIGN. Access is checked on every connection with the kernel's record
 * of the peer (SO_PEERCRED: uid, gid; SO_PEERGROUPS: its supplementary
 * groups, as they were at connect()). Allowed are the socket's owner (the
 * daemon's uid), root, and members of the operator group (admin_group;
 * default: the socket file's group, the daemon's group under systemd);
 * everyone else gets "permission denied: uid N is not the owner or in
 * group G", logged (rate-limited) and counted in agg_stats. Commands come
 * in two levels: read-only (status, stores, regions) and changing (pause, resume,
 * checkpoint, revoke). With admin_operator_group set, the changing ones
 * need the owner, root or a member of that group; unset, every member of
 * admin_group may run both (the behaviour before the split). The decision
 * is the pure agg_admin_decide(). The file mode 0660 with the socket's
 * group set to admin_group stays as a second fence: a process outside it
 * cannot even connect. Groups are read from the socket rather than from
 * the group database (getgrouplist) or /proc/PID/status: the kernel's
 * copy is what the peer really holds, needs no NSS lookup on the main
 * loop, and is not exposed to the peer exiting and its pid being reused.
 *
 * Everything runs on the main loop's thread: agg_admin_serve() accepts
 * without blocking, gives a client at most AGG_ADMIN_READ_MS to send its
 * line and AGG_ADMIN_WRITE_MS to take the answer, so a stuck or hostile
 * client delays a pass of the loop by a bounded time and never stops it.
 * Commands that change the aggregator go through agg_admin_ops,
 * implemented by the daemon; figures come from a snapshot of agg_stats.
 * Nothing secret passes here.
 */
#ifndef FR_SERVER_ADMIN_H
#define FR_SERVER_ADMIN_H

#include <stddef.h>
#include <sys/types.h>

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

/* ---- access control ---- */

#define AGG_ADMIN_GROUP_MAX 64 /* a group's name as the messages show it */
#define AGG_ADMIN_NO_GID    (-1L)

/* Who may do what. read_gid: admin_group (NO_GID: the socket file's group,
 * filled in by agg_admin_open). change_gid: admin_operator_group (NO_GID:
 * no split, read_gid may change too). */
typedef struct agg_admin_access {
    long owner_uid;
    long read_gid, change_gid;
    char read_name[AGG_ADMIN_GROUP_MAX];
    char change_name[AGG_ADMIN_GROUP_MAX];
} agg_admin_access;

/* A connected peer's credentials: uid, primary gid, supplementary groups
 * (borrowed). */
typedef struct agg_admin_peer {
    long uid, gid, pid;
    const gid_t *groups;
    size_t n_groups;
} agg_admin_peer;

typedef enum agg_admin_level {
    AGG_ADMIN_READ = 0, /* status, stores, regions; and anything unknown */
    AGG_ADMIN_CHANGE    /* pause, resume, checkpoint, revoke */
} agg_admin_level;

typedef enum agg_admin_verdict {
    AGG_ADMIN_ALLOW = 0,
    AGG_ADMIN_DENY_ACCESS, /* neither owner, root nor in a group */
    AGG_ADMIN_DENY_CHANGE  /* may read, not change */
} agg_admin_verdict;

/* The level of a request line's command word (what precedes the first
 * space; line need not be NUL-terminated beyond len). */
agg_admin_level agg_admin_command_level(const char *line, size_t len);

/* The decision, a pure function of the policy, the peer and the level. */
agg_admin_verdict agg_admin_decide(const agg_admin_access *a,
                                   const agg_admin_peer *p,
                                   agg_admin_level level);

/* Fills a for the daemon's euid and the groups named by group and
 * operator_group (admin_group, admin_operator_group: a name, or a numeric
 * gid; empty: unset). A name the group database does not know is an
 * error naming the key. */
FR_NODISCARD fr_err agg_admin_access_init(agg_admin_access *a,
                                          const char *group,
                                          const char *operator_group,
                                          char *err, size_t errlen);

typedef struct agg_admin agg_admin;

/* Binds the socket at path with mode 0660 (created under a umask, then
 * checked) and gives it to access->read_gid when that is set (the daemon
 * must be root or a member of that group). A stale socket file (nothing
 * accepts on it) is replaced; a live one means another aggregator runs:
 * error. ops and stats are borrowed; access is copied (NULL: the
 * defaults, owner + root + the socket's group, no split). */
FR_NODISCARD fr_err agg_admin_open(agg_admin **out, const char *path,
                                   agg_stats *stats, const agg_admin_ops *ops,
                                   const agg_admin_access *access, char *err,
                                   size_t errlen);

/* Answers the requests waiting now without blocking (non-blocking accept;
 * a client gets at most ~200 ms to send its request line). Called on every
 * pass of the main loop (at least every 100 ms). */
void agg_admin_serve(agg_admin *ad);

/* Closes and unlinks the socket; accepts NULL. */
void agg_admin_close(agg_admin **adp);

#endif
