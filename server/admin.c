/*
 * admin.c - the admin socket (see admin.h): binding with mode 0660, stale
 * socket replacement, bounded request reading, the access check of every
 * request (admin_access.c decides; refusals logged rate-limited and
 * counted), and the JSON answers.
 *
 * Answers are built in a growing buffer and written in one go; the figures
 * come from one agg_stats snapshot, so a status answer is consistent. Text
 * that reaches an answer (an echoed command, an operation's message) goes
 * through json_str(), which escapes quotes, backslashes and control
 * characters and replaces bytes that are not UTF-8, so every answer is
 * valid JSON whatever a client sent.
 */
#define _GNU_SOURCE /* accept4 */
#include "admin_int.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/ratelimit.h"
#include "base/util.h"
#include "net/net.h"

#define TAG              "admin"
#define ACCEPTS_PER_PASS 16 /* the rest wait for the next pass */
#define ECHO_MAX         64 /* bytes of an unknown command quoted back */
#define REFUSAL_WINDOW   60000 /* refusals logged: at most REFUSAL_LOGS */
#define REFUSAL_LOGS     5     /* lines per window, then a count */

struct agg_admin {
    int fd;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    agg_stats *stats;         /* borrowed */
    const agg_admin_ops *ops; /* borrowed */
    agg_admin_access access;
    dev_t dev; /* the socket file we made, so that close */
    ino_t ino; /* never removes another process's socket */
    fr_ratelimit refusal_log; /* REFUSAL_LOGS lines per REFUSAL_WINDOW */
};

/* ---- answer buffer ---- */

typedef struct jbuf {
    char *p;
    size_t len, cap;
    int failed; /* an allocation failed: the answer is replaced */
} jbuf;

static void
jb_reserve(jbuf *b, size_t more)
{
    size_t cap = b->cap ? b->cap : 512;
    char *p;

    if (b->failed || b->len + more + 1 <= b->cap)
        return;
    while (cap < b->len + more + 1)
        cap *= 2;
    if (!(p = realloc(b->p, cap))) {
        b->failed = 1;
        return;
    }
    b->p = p;
    b->cap = cap;
}

static void jb_printf(jbuf *b, const char *fmt, ...) FR_PRINTF(2, 3);

static void
jb_printf(jbuf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || (jb_reserve(b, (size_t)n), b->failed))
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Length of the well-formed UTF-8 sequence at s (n bytes left), or 0. */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF)
        len = 2;
    else if (s[0] >= 0xE0 && s[0] <= 0xEF)
        len = 3;
    else if (s[0] >= 0xF0 && s[0] <= 0xF4)
        len = 4;
    else
        return 0;
    if (s[0] == 0xE0) /* no overlong forms, no surrogates, <= U+10FFFF */
        lo = 0xA0;
    else if (s[0] == 0xED)
        hi = 0x9F;
    else if (s[0] == 0xF0)
        lo = 0x90;
    else if (s[0] == 0xF4)
        hi = 0x8F;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return len;
}

/* Appends s (at most max bytes of it) as a JSON string literal. */
static void
json_strn(jbuf *b, const char *s, size_t max)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strnlen(s, max);

    jb_printf(b, "\"");
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq(u + i, n - i);
        if (u[i] == '"' || u[i] == '\\')
            jb_printf(b, "\\%c", u[i]);
        else if (u[i] == '\n')
            jb_printf(b, "\\n");
        else if (u[i] < 0x20 || u[i] == 0x7F)
            jb_printf(b, "\\u%04x", u[i]);
        else if (k == 0)
            jb_printf(b, "\\ufffd");
        else
            jb_printf(b, "%.*s", (int)k, (const char *)u + i);
        i += k ? k : 1;
    }
    jb_printf(b, "\"");
}

static void
json_str(jbuf *b, const char *s)
{
    json_strn(b, s, (size_t)-1);
}

/* A finite number with fmt, or null (NaN marks an unknown figure). */
static void
json_num(jbuf *b, const char *fmt, double v)
{
    if (isfinite(v))
        jb_printf(b, fmt, v);
    else
        jb_printf(b, "null");
}

static const char *
json_bool(int v)
{
    return v ? "true" : "false";
}

static void
answer_error(jbuf *b, const char *msg)
{
    jb_printf(b, "{\"ok\":false,\"error\":");
    json_str(b, msg);
    jb_printf(b, "}");
}

/* ---- answers ---- */

static int64_t
unix_ms_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Seconds from then to now; null if then is 0 (never). */
static void
json_ago(jbuf *b, int64_t now, int64_t then)
{
    if (then <= 0)
        jb_printf(b, "null");
    else
        jb_printf(b, "%.1f", (double)(now > then ? now - then : 0) / 1000.0);
}

static void
render_dp(jbuf *b, const agg_stats_view *v)
{
    if (!v->dp_enabled) {
        jb_printf(b, "\"dp\":{\"enabled\":false,"
                     "\"guarantee\":\"no DP guarantee\"}");
        return;
    }
    jb_printf(b, "\"dp\":{\"enabled\":true,\"epsilon_spent\":");
    json_num(b, "%.6g", v->dp_epsilon_spent);
    jb_printf(b, ",\"epsilon_budget\":");
    json_num(b, "%.6g", v->dp_epsilon_budget);
    jb_printf(b, ",\"delta\":");
    json_num(b, "%.6g", v->dp_delta);
    jb_printf(b, "}");
}

static void
render_last_round(jbuf *b, const agg_stats_view *v)
{
    const agg_round_info *r;

    if (!v->n_recent) {
        jb_printf(b, "\"last_round\":null");
        return;
    }
    r = &v->recent[v->n_recent - 1];
    jb_printf(b,
              "\"last_round\":{\"round\":%llu,\"round_id\":%llu,"
              "\"stores\":%u,\"examples\":%llu,\"hr10\":",
              (unsigned long long)r->round, (unsigned long long)r->round_id,
              (unsigned)r->stores, (unsigned long long)r->examples);
    json_num(b, "%.6g", r->hr10);
    jb_printf(b, ",\"ndcg10\":");
    json_num(b, "%.6g", r->ndcg10);
    jb_printf(b, ",\"loss\":");
    json_num(b, "%.6g", r->loss);
    jb_printf(b, ",\"seconds\":");
    json_num(b, "%.3f", r->seconds);
    jb_printf(b, "}");
}

static void
render_status(jbuf *b, const agg_stats_view *v)
{
    int64_t now = unix_ms_now();

    jb_printf(b, "{\"ok\":true,\"state\":");
    json_str(b, v->state);
    jb_printf(b, ",\"phase\":");
    json_str(b, v->phase);
    jb_printf(b,
              ",\"round_id\":%llu,\"completed\":%llu,"
              "\"rounds_target\":%lld,\"paused\":%s,\"secagg\":%s,"
              "\"stores\":{\"known\":%zu,\"connected\":%zu,"
              "\"selected\":%u},\"uptime\":",
              (unsigned long long)v->round_id, (unsigned long long)v->completed,
              (long long)v->rounds_target, json_bool(v->paused),
              json_bool(v->secagg), v->n_stores, v->n_connected,
              (unsigned)v->selected);
    json_ago(b, now, v->started_unix_ms);
    /* Unix seconds, and the age for readers without a clock to compare. */
    if (v->last_checkpoint_unix_ms > 0)
        jb_printf(b, ",\"last_checkpoint\":%lld,\"last_checkpoint_ago\":",
                  (long long)(v->last_checkpoint_unix_ms / 1000));
    else
        jb_printf(b, ",\"last_checkpoint\":null,\"last_checkpoint_ago\":");
    json_ago(b, now, v->last_checkpoint_unix_ms);
    jb_printf(b, ",");
    render_last_round(b, v);
    jb_printf(b, ",");
    render_dp(b, v);
    jb_printf(b, "}");
}

static void
render_stores(jbuf *b, const agg_stats_view *v)
{
    int64_t now = unix_ms_now();

    jb_printf(b, "{\"ok\":true,\"stores\":[");
    for (size_t i = 0; i < v->n_stores; i++) {
        const agg_store_info *s = &v->stores[i];
        jb_printf(b, "%s{\"name\":", i ? "," : "");
        json_strn(b, s->name, sizeof s->name);
        jb_printf(b, ",\"connected\":%s,\"selected\":%s,\"last_seen\":",
                  json_bool(s->connected), json_bool(s->selected));
        json_ago(b, now, s->last_seen_unix_ms);
        jb_printf(b, ",\"rounds_joined\":%llu,\"examples\":%llu",
                  (unsigned long long)s->rounds_joined,
                  (unsigned long long)s->examples);
        if (s->refusals || s->quarantined_until_unix_ms) /* else 0, false */
            jb_printf(b, ",\"refusals\":%llu,\"quarantined\":%s,"
                      "\"quarantined_for_ms\":%lld",
                      (unsigned long long)s->refusals,
                      json_bool(s->quarantined_until_unix_ms != 0),
                      (long long)(s->quarantined_until_unix_ms
                                      ? s->quarantined_until_unix_ms - now
                                      : 0));
        jb_printf(b, "}");
    }
    jb_printf(b, "]}");
}

static void
render_region(jbuf *b, const agg_store_info *s, int64_t now)
{
    jb_printf(b, "{\"name\":");
    json_strn(b, s->name, sizeof s->name);
    jb_printf(b, ",\"connected\":%s,\"last_seen\":",
              json_bool(s->connected));
    json_ago(b, now, s->last_seen_unix_ms);
    jb_printf(b, ",\"stores\":%u,\"max_examples\":%llu,"
              "\"rounds_joined\":%llu,\"last_round_id\":%llu,"
              "\"last_covered\":%u,\"hr10\":",
              (unsigned)s->region_stores,
              (unsigned long long)s->region_max_examples,
              (unsigned long long)s->rounds_joined,
              (unsigned long long)s->region_round_id,
              (unsigned)s->region_covers);
    json_num(b, "%.6g", s->region_has_metrics ? s->region_hr10 : NAN);
    jb_printf(b, ",\"ndcg10\":");
    json_num(b, "%.6g", s->region_has_metrics ? s->region_ndcg10 : NAN);
    jb_printf(b, "}");
}

/* The regional aggregators among the participants (a central's view)
 * and, on a regional aggregator, its link to the central. */
static void
render_regions(jbuf *b, const agg_stats_view *v)
{
    int64_t now = unix_ms_now();
    size_t n = 0;

    jb_printf(b, "{\"ok\":true,\"regions\":[");
    for (size_t i = 0; i < v->n_stores; i++)
        if (v->stores[i].region) {
            jb_printf(b, "%s", n++ ? "," : "");
            render_region(b, &v->stores[i], now);
        }
    jb_printf(b, "],\"upstream\":");
    if (!v->regional) {
        jb_printf(b, "null}");
        return;
    }
    jb_printf(b, "{\"link\":");
    json_strn(b, v->upstream_link, sizeof v->upstream_link);
    jb_printf(b, ",\"up\":%s,\"round_id\":%llu,\"sent\":%llu}}",
              json_bool(v->upstream_up),
              (unsigned long long)v->upstream_round_id,
              (unsigned long long)v->upstream_sent);
}

/* Figures from one snapshot; render is render_status, render_stores or
 * render_regions. */
static void
answer_figures(agg_admin *ad, jbuf *b,
               void (*render)(jbuf *, const agg_stats_view *))
{
    agg_stats_view v;

    if (agg_stats_snapshot(ad->stats, &v)) {
        answer_error(b, "out of memory taking the aggregator's figures");
        return;
    }
    render(b, &v);
    agg_stats_view_clear(&v);
}

/* Runs a control operation and logs it with the operator's uid. */
static void
answer_op(jbuf *b, const char *what, long uid, fr_err rc, const char *msg)
{
    const char *text = *msg ? msg : rc ? fr_strerror(rc) : "done";

    if (rc) {
        fr_log_warn(TAG, "%s by uid %ld failed: %s", what, uid, text);
        answer_error(b, text);
        return;
    }
    fr_log_notice(TAG, "%s by uid %ld: %s", what, uid, text);
    jb_printf(b, "{\"ok\":true,\"message\":");
    json_str(b, text);
    jb_printf(b, "}");
}

static void
answer_unknown(jbuf *b, const char *cmd)
{
    jbuf e = {0};

    jb_printf(&e,
              "unknown command '%.*s'%s; expected status, stores, "
              "regions, revoke STORE, pause, resume or checkpoint",
              ECHO_MAX, cmd, strlen(cmd) > ECHO_MAX ? "..." : "");
    answer_error(b, e.failed ? "unknown command" : e.p);
    free(e.p);
}

/* Dispatches one request line (NUL-terminated, no '\n'). */
static void
answer(agg_admin *ad, jbuf *b, char *line, long uid)
{
    char msg[AGG_ADMIN_MSG_MAX] = "";
    const agg_admin_ops *ops = ad->ops;
    char *arg = strchr(line, ' ');
    fr_err rc = FR_ESTATE;

    if (arg)
        *arg++ = 0;
    if (strcmp(line, "revoke") == 0) {
        if (!arg || !fr_net_store_name_valid(arg)) {
            answer_error(b, "revoke needs a store name: 1 to 63 characters "
                            "from A-Z a-z 0-9 . _ -");
            return;
        }
    } else if (arg && (!strcmp(line, "status") || !strcmp(line, "stores") ||
                       !strcmp(line, "regions") ||
                       !strcmp(line, "pause") || !strcmp(line, "resume") ||
                       !strcmp(line, "checkpoint"))) {
        jbuf e = {0};
        jb_printf(&e, "'%s' takes no argument", line);
        answer_error(b, e.failed ? "unexpected argument" : e.p);
        free(e.p);
        return;
    }
    if (!strcmp(line, "status"))
        answer_figures(ad, b, render_status);
    else if (!strcmp(line, "stores"))
        answer_figures(ad, b, render_stores);
    else if (!strcmp(line, "regions"))
        answer_figures(ad, b, render_regions);
    else if (!strcmp(line, "pause") || !strcmp(line, "resume")) {
        if (ops && ops->pause)
            rc = ops->pause(ops->arg, line[0] == 'p', msg, sizeof msg);
        else
            snprintf(msg, sizeof msg, "%s is not available", line);
        answer_op(b, line, uid, rc, msg);
    } else if (!strcmp(line, "checkpoint")) {
        if (ops && ops->checkpoint)
            rc = ops->checkpoint(ops->arg, msg, sizeof msg);
        else
            snprintf(msg, sizeof msg, "checkpoint is not available");
        answer_op(b, line, uid, rc, msg);
    } else if (!strcmp(line, "revoke")) {
        if (ops && ops->revoke)
            rc = ops->revoke(ops->arg, arg, msg, sizeof msg);
        else
            snprintf(msg, sizeof msg, "revoke is not available");
        answer_op(b, "revoke", uid, rc, msg);
    } else
        answer_unknown(b, line);
}

/* ---- access ---- */

/* Logs a refusal unless REFUSAL_LOGS were logged in this window (then
 * counts it, and says how many went unlogged when the window ends); every
 * refusal is counted in the stats. */
static void
log_refusal(agg_admin *ad, const agg_admin_peer *p, const char *what)
{
    int64_t now = fr_clock_ms();
    uint64_t held = fr_ratelimit_roll(&ad->refusal_log, now, NULL);

    if (ad->stats)
        agg_stats_reject(ad->stats, AGG_REJECT_ADMIN_DENIED);
    if (held)
        fr_log_warn(TAG, "%llu more admin socket refusals not logged",
                    (unsigned long long)held);
    if (!fr_ratelimit_take(&ad->refusal_log, now))
        return;
    fr_log_warn(TAG, "refused uid %ld gid %ld pid %ld: %s%s", p->uid, p->gid,
                p->pid, what,
                ad->refusal_log.lines == REFUSAL_LOGS
                    ? " (further refusals this minute are only counted)"
                    : "");
}

static void
refuse(agg_admin *ad, jbuf *b, const agg_admin_peer *p,
       agg_admin_verdict v, const char *cmd)
{
    const agg_admin_access *a = &ad->access;
    jbuf e = {0};

    if (v == AGG_ADMIN_DENY_ACCESS)
        jb_printf(&e, "permission denied: uid %ld is not the owner or in "
                      "group %s", p->uid, a->read_name);
    else
        jb_printf(&e, "permission denied: uid %ld may run status, stores and "
                      "regions only; %s needs the owner, root or group %s",
                  p->uid, cmd, a->change_name);
    answer_error(b, e.failed ? "permission denied" : e.p);
    log_refusal(ad, p, v == AGG_ADMIN_DENY_ACCESS ? "not an operator"
                                                  : "may not change");
    free(e.p);
}

/* Answers req[0..len) (a line up to '\n', or the whole) from p; timed_out:
 * the client sent no line in time (it is still checked for access). */
static void
handle(agg_admin *ad, jbuf *b, const char *req, size_t len, int timed_out,
       const agg_admin_peer *p)
{
    char line[AGG_ADMIN_LINE_MAX + 1];
    const char *nl = memchr(req, '\n', len);
    agg_admin_verdict v = agg_admin_decide(&ad->access, p, AGG_ADMIN_READ);

    if (v != AGG_ADMIN_ALLOW) {
        refuse(ad, b, p, v, "");
        return;
    }
    if (timed_out) {
        answer_error(b, "no request line within 200 ms");
        return;
    }
    if (nl)
        len = (size_t)(nl - req);
    if (len > AGG_ADMIN_LINE_MAX) {
        answer_error(b, "request line longer than 256 bytes");
        return;
    }
    if (len && req[len - 1] == '\r')
        len--;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)req[i] < 0x20 || req[i] == 0x7F) {
            answer_error(b, "request line contains control characters");
            return;
        }
    memcpy(line, req, len);
    line[len] = 0;
    v = agg_admin_decide(&ad->access, p, agg_admin_command_level(line, len));
    if (v != AGG_ADMIN_ALLOW) {
        line[strcspn(line, " ")] = 0;
        refuse(ad, b, p, v, line);
        return;
    }
    answer(ad, b, line, p->uid);
}

size_t
agg_admin_handle(agg_admin *ad, const char *req, size_t len,
                 const agg_admin_peer *p, char *out, size_t cap)
{
    const char *text;
    jbuf b = {0};
    size_t n;

    handle(ad, &b, req, len, 0, p);
    jb_printf(&b, "\n");
    if (b.failed)
        text = "{\"ok\":false,\"error\":\"out of memory\"}\n";
    else if (b.len >= cap)
        text = "{\"ok\":false,\"error\":\"the answer is too long\"}\n";
    else
        text = b.p;
    n = strlen(text);
    if (n >= cap)
        n = 0; /* cap below the documented minimum */
    memcpy(out, text, n);
    if (cap)
        out[n] = 0;
    free(b.p);
    return n;
}

/* ---- connections ---- */

static int
remaining_ms(int64_t deadline)
{
    int64_t left = deadline - fr_clock_ms();
    return left > 0 ? (int)left : 0;
}

/* Reads a request into line (AGG_ADMIN_LINE_MAX + 2 bytes) before
 * deadline: until a '\n', a full buffer or the client's end of writing.
 * FR_OK with the bytes in line[0..*len), FR_ETIMEDOUT, FR_ECLOSED (closed
 * before sending anything). handle() judges the bytes. */
static fr_err
read_request(int fd, char *line, size_t *len_out, int64_t deadline)
{
    size_t len = 0;

    *len_out = 0;
    while (len <= AGG_ADMIN_LINE_MAX) {
        struct pollfd p = {fd, POLLIN, 0};
        ssize_t n;
        if (poll(&p, 1, remaining_ms(deadline)) == 0)
            return FR_ETIMEDOUT;
        n = recv(fd, line + len, AGG_ADMIN_LINE_MAX + 1 - len, 0);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0) { /* closed: what came so far is the request */
            if (len == 0)
                return FR_ECLOSED;
            break;
        }
        len += (size_t)n;
        if (memchr(line + len - (size_t)n, '\n', (size_t)n))
            break;
    }
    *len_out = len;
    return FR_OK;
}

/* Writes all of buf before deadline; a client that does not read in time
 * loses its answer. */
static void
write_answer(int fd, const char *buf, size_t len, int64_t deadline)
{
    while (len) {
        struct pollfd p = {fd, POLLOUT, 0};
        ssize_t n;
        if (poll(&p, 1, remaining_ms(deadline)) == 0) {
            fr_log_warn(TAG, "a client did not read its answer in %d ms",
                        AGG_ADMIN_WRITE_MS);
            return;
        }
        n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0)
            return;
        buf += n;
        len -= (size_t)n;
    }
}

static void
serve_client(agg_admin *ad, int fd)
{
    char line[AGG_ADMIN_LINE_MAX + 2];
    size_t len = 0;
    agg_admin_peer peer;
    gid_t *groups = NULL;
    jbuf b = {0};
    fr_err rc = read_request(fd, line, &len, fr_clock_ms() + AGG_ADMIN_READ_MS);

    if (rc == FR_ECLOSED)
        return;
    if (agg_admin_peer_get(fd, &peer, &groups))
        fr_log_warn(TAG, "cannot read a client's credentials: %s",
                    strerror(errno)); /* uid -1: refused */
    handle(ad, &b, line, len, rc == FR_ETIMEDOUT, &peer);
    free(groups);
    if (b.failed) {
        static const char oom[] =
            "{\"ok\":false,\"error\":\"out of memory\"}\n";
        write_answer(fd, oom, sizeof oom - 1,
                     fr_clock_ms() + AGG_ADMIN_WRITE_MS);
    } else {
        jb_printf(&b, "\n");
        if (!b.failed)
            write_answer(fd, b.p, b.len, fr_clock_ms() + AGG_ADMIN_WRITE_MS);
    }
    free(b.p);
}

void
agg_admin_serve(agg_admin *ad)
{
    for (int i = 0; ad && i < ACCEPTS_PER_PASS; i++) {
        int fd = accept4(ad->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
                errno != ECONNABORTED)
                fr_log_warn(TAG, "accept on %s: %s", ad->path, strerror(errno));
            return;
        }
        serve_client(ad, fd);
        close(fd);
    }
}

/* ---- binding ---- */

/* FR_OK if nothing is at path, or a stale socket was removed from it;
 * FR_ESTATE if something answers there; FR_EINVAL if path is not a
 * socket. */
static fr_err
clear_stale(const char *path, const struct sockaddr_un *sa, char *err,
            size_t errlen)
{
    struct stat st;
    int fd, rc, e;

    if (lstat(path, &st) != 0)
        return FR_OK;
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(err, errlen,
                 "admin socket %s: exists and is not a socket; "
                 "remove it or set admin_socket elsewhere",
                 path);
        return FR_EINVAL;
    }
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return FR_ESYS;
    }
    rc = connect(fd, (const struct sockaddr *)sa, sizeof *sa);
    e = errno;
    close(fd);
    if (rc == 0 || e == EAGAIN) { /* accepted, or a full backlog: alive */
        snprintf(err, errlen,
                 "admin socket %s: another aggregator is "
                 "running (it answers there)",
                 path);
        return FR_ESTATE;
    }
    if (e != ECONNREFUSED) {
        snprintf(err, errlen, "admin socket %s: cannot check it: %s", path,
                 strerror(e));
        return FR_ESYS;
    }
    if (unlink(path) != 0 && errno != ENOENT) {
        snprintf(err, errlen,
                 "admin socket %s: cannot remove the stale "
                 "socket: %s",
                 path, strerror(errno));
        return FR_ESYS;
    }
    fr_log_notice(TAG, "removed a stale admin socket at %s", path);
    return FR_OK;
}

/* Gives the socket file at path (group gid now) to admin_group, or takes
 * its group as the operators' group when admin_group is unset. */
static fr_err
socket_group(agg_admin *ad, const char *path, long gid, char *err,
             size_t errlen)
{
    agg_admin_access *a = &ad->access;

    if (a->read_gid < 0) {
        a->read_gid = gid;
        agg_admin_group_name(gid, a->read_name, sizeof a->read_name);
    } else if (a->read_gid != gid &&
               chown(path, (uid_t)-1, (gid_t)a->read_gid) != 0) {
        snprintf(err, errlen,
                 "admin_group %s: cannot give the admin socket %s to the "
                 "group: %s (the daemon's user must be root or a member of "
                 "%s)",
                 a->read_name, path, strerror(errno), a->read_name);
        unlink(path);
        return FR_ESYS;
    }
    if (a->change_gid < 0) /* no split: the operators change too */
        snprintf(a->change_name, sizeof a->change_name, "%s", a->read_name);
    return FR_OK;
}

/* Binds fd at sa under umask 0117 (so the file is born 0660, never wider)
 * and checks the mode it got. The umask is process-wide for the moment of
 * the bind: open the socket before starting threads that create files. */
static fr_err
bind_0660(agg_admin *ad, const struct sockaddr_un *sa, char *err, size_t errlen)
{
    struct stat st;
    int fd = ad->fd;
    mode_t old = umask(0117);
    int rc = bind(fd, (const struct sockaddr *)sa, sizeof *sa);
    int e = errno;

    umask(old);
    if (rc != 0) {
        snprintf(err, errlen, "admin socket %s: cannot bind: %s", sa->sun_path,
                 strerror(e));
        return e == EADDRINUSE ? FR_ESTATE : FR_ESYS;
    }
    if (stat(sa->sun_path, &st) != 0 || !S_ISSOCK(st.st_mode) ||
        (st.st_mode & 07777) != 0660) {
        snprintf(err, errlen,
                 "admin socket %s: does not have mode 0660 after "
                 "binding",
                 sa->sun_path);
        unlink(sa->sun_path);
        return FR_ESYS;
    }
    ad->dev = st.st_dev;
    ad->ino = st.st_ino;
    return socket_group(ad, sa->sun_path, (long)st.st_gid, err, errlen);
}

/* A calloc'd agg_admin with its policy (NULL: owner and root, no group
 * yet); no socket. */
static agg_admin *
admin_new(agg_stats *stats, const agg_admin_ops *ops,
          const agg_admin_access *access)
{
    agg_admin *ad = calloc(1, sizeof *ad);

    if (!ad)
        return NULL;
    ad->fd = -1;
    ad->stats = stats;
    ad->ops = ops;
    ad->refusal_log = FR_RATELIMIT(REFUSAL_LOGS, REFUSAL_WINDOW);
    if (access)
        ad->access = *access;
    else {
        ad->access.owner_uid = (long)geteuid();
        ad->access.read_gid = ad->access.change_gid = AGG_ADMIN_NO_GID;
    }
    if (ad->access.read_gid < 0)
        snprintf(ad->access.read_name, sizeof ad->access.read_name, "(none)");
    if (ad->access.change_gid < 0)
        snprintf(ad->access.change_name, sizeof ad->access.change_name, "%s",
                 ad->access.read_name);
    return ad;
}

fr_err
agg_admin_new_unbound(agg_admin **out, agg_stats *stats,
                      const agg_admin_ops *ops, const agg_admin_access *access)
{
    *out = admin_new(stats, ops, access);
    return *out ? FR_OK : FR_ENOMEM;
}

fr_err
agg_admin_open(agg_admin **out, const char *path, agg_stats *stats,
               const agg_admin_ops *ops, const agg_admin_access *access,
               char *err, size_t errlen)
{
    agg_admin *ad = NULL;
    struct sockaddr_un sa;
    fr_err rc;

    *out = NULL;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (!path || !*path || strlen(path) >= sizeof sa.sun_path) {
        snprintf(err, errlen, "admin socket path must be 1 to %zu bytes",
                 sizeof sa.sun_path - 1);
        return FR_EINVAL;
    }
    memcpy(sa.sun_path, path, strlen(path));
    if (!(ad = admin_new(stats, ops, access))) {
        snprintf(err, errlen, "out of memory");
        return FR_ENOMEM;
    }
    memcpy(ad->path, sa.sun_path, sizeof ad->path);
    if ((rc = clear_stale(path, &sa, err, errlen)))
        goto fail;
    ad->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (ad->fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        rc = FR_ESYS;
        goto fail;
    }
    if ((rc = bind_0660(ad, &sa, err, errlen)))
        goto fail;
    if (listen(ad->fd, 16) != 0) {
        snprintf(err, errlen, "admin socket %s: listen: %s", path,
                 strerror(errno));
        unlink(path);
        rc = FR_ESYS;
        goto fail;
    }
    fr_log_info(TAG,
                "admin socket at %s (mode 0660, group %s; changes: owner, "
                "root, group %s)",
                path, ad->access.read_name, ad->access.change_name);
    *out = ad;
    return FR_OK;
fail:
    if (ad->fd >= 0)
        close(ad->fd);
    free(ad);
    return rc;
}

void
agg_admin_close(agg_admin **adp)
{
    struct stat st;

    if (!adp || !*adp)
        return;
    if ((*adp)->fd >= 0)
        close((*adp)->fd);
    if ((*adp)->path[0] && lstat((*adp)->path, &st) == 0 && st.st_dev == (*adp)->dev &&
        st.st_ino == (*adp)->ino)
        unlink((*adp)->path);
    free(*adp);
    *adp = NULL;
}
