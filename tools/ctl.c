/*
 * ctl.c - fedrec-ctl: the operators' command line for a running
 * aggregator.
 *
 *   fedrec-ctl [--socket PATH | --config AGGREGATOR_CONF] [--json]
 *              [--timeout SECONDS] COMMAND [ARG | OPTS]
 *
 * Daemon commands (status, stores, regions, pause, resume, checkpoint,
 * revoke STORE)
 * send one request line to the aggregator's admin socket (server/admin.h)
 * and read one JSON line back; the default output is readable text, --json
 * prints the aggregator's answer as it came. The socket is --socket PATH,
 * or the one an aggregator config file names (--config: admin_socket, or
 * STATE_DIR/admin.sock), or /run/fedrec-aggregator/admin.sock.
 *
 * Local commands need no daemon: "privacy epsilon" computes the (epsilon,
 * delta) guarantee of a Gaussian or distributed-discrete-Gaussian run with
 * the RDP accountant (common/dp/accountant.h), "privacy noise" the noise
 * multiplier a Gaussian run needs for a target epsilon. They print one JSON
 * object whose numbers are printed with 17 significant digits (exactly the
 * doubles computed); an infinite epsilon is null.
 *
 * DESIGN. Commands are rows of one table (name, arguments, help, run
 * function), optionally under a group word: "fedrec-ctl GROUP COMMAND ...".
 * A command that needs no daemon (a local computation) is a row with its
 * own run function; help and argument checks come from the table. A row
 * with n_args < 0 takes --options after its words and parses them itself
 * (the privacy group, from its own option table).
 *
 * Exit status: 0 done; 1 the aggregator refused or failed the command (a
 * local computation found no answer); 2 bad usage; 3 the aggregator could
 * not be reached or did not answer.
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "aggconf.h"
#include "base/err.h"
#include "base/util.h"
#include "config/config.h"
#include "net/net.h"
#include "ctl_int.h"

#define DEFAULT_SOCKET    "/run/fedrec-aggregator/admin.sock"
#define DEFAULT_TIMEOUT_S 10
#define ANSWER_MAX        (64u << 20) /* larger answers are refused */
#define JSON_DEPTH_MAX    16

typedef struct ctl_opts {
    const char *socket; /* --socket */
    const char *config; /* --config */
    int json;
    int timeout_ms;
    char path[AGG_PATH_MAX]; /* the socket actually used */
} ctl_opts;

/* ---- a small JSON reader for the aggregator's answers ---- */

typedef enum jv_type {
    JV_NULL,
    JV_BOOL,
    JV_NUM,
    JV_STR,
    JV_ARR,
    JV_OBJ
} jv_type;

typedef struct jv {
    jv_type t;
    int b;
    double num;
    char *s;          /* JV_STR */
    struct jv *items; /* JV_ARR, JV_OBJ: n values */
    char **keys;      /* JV_OBJ: n keys */
    size_t n;
} jv;

typedef struct jparser {
    const char *p, *end;
} jparser;

static void
jv_free(jv *v)
{
    for (size_t i = 0; i < v->n; i++) {
        jv_free(&v->items[i]);
        if (v->keys)
            free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->s);
    memset(v, 0, sizeof *v);
}

static void
jskip(jparser *j)
{
    while (j->p < j->end && strchr(" \t\r\n", *j->p))
        j->p++;
}

static fr_err
jlit(jparser *j, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n) != 0)
        return FR_EPROTO;
    j->p += n;
    return FR_OK;
}

static void
put_utf8(char *out, size_t *o, unsigned cp)
{
    if (cp < 0x80) {
        out[(*o)++] = (char)cp;
    } else if (cp < 0x800) {
        out[(*o)++] = (char)(0xC0 | cp >> 6);
        out[(*o)++] = (char)(0x80 | (cp & 0x3F));
    } else {
        out[(*o)++] = (char)(0xE0 | cp >> 12);
        out[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[(*o)++] = (char)(0x80 | (cp & 0x3F));
    }
}

/* A string literal; \u escapes outside the BMP become U+FFFD. */
static fr_err
jstring(jparser *j, char **out)
{
    const char *start = ++j->p;
    size_t o = 0;
    char *s;

    while (j->p < j->end && *j->p != '"')
        j->p += *j->p == '\\' ? 2 : 1;
    if (j->p >= j->end)
        return FR_EPROTO;
    if (!(s = malloc((size_t)(j->p - start) * 2 + 1)))
        return FR_ENOMEM;
    for (const char *q = start; q < j->p; q++) {
        unsigned cp;
        if (*q != '\\') {
            s[o++] = *q;
            continue;
        }
        switch (*++q) {
        case 'n': s[o++] = '\n'; break;
        case 't': s[o++] = '\t'; break;
        case 'r': s[o++] = '\r'; break;
        case 'b': s[o++] = '\b'; break;
        case 'f': s[o++] = '\f'; break;
        case 'u':
            if (j->p - q < 5 || sscanf(q + 1, "%4x", &cp) != 1) {
                free(s);
                return FR_EPROTO;
            }
            put_utf8(s, &o, cp >= 0xD800 && cp <= 0xDFFF ? 0xFFFD : cp);
            q += 4;
            break;
        default: s[o++] = *q; break; /* \" \\ \/ */
        }
    }
    s[o] = 0;
    j->p++;
    *out = s;
    return FR_OK;
}

static fr_err jvalue(jparser *j, jv *v, int depth);

/* An array (keys == 0) or an object's members, after the opening bracket. */
static fr_err
jmembers(jparser *j, jv *v, int object, int depth)
{
    char close = object ? '}' : ']';
    fr_err rc;

    jskip(j);
    if (j->p < j->end && *j->p == close) {
        j->p++;
        return FR_OK;
    }
    for (;;) {
        void *grown = realloc(v->items, (v->n + 1) * sizeof *v->items);
        if (!grown)
            return FR_ENOMEM;
        v->items = grown;
        if (object) {
            if (!(grown = realloc(v->keys, (v->n + 1) * sizeof *v->keys)))
                return FR_ENOMEM;
            v->keys = grown;
            v->keys[v->n] = NULL;
        }
        memset(&v->items[v->n], 0, sizeof *v->items);
        v->n++;
        jskip(j);
        if (object && (j->p >= j->end || *j->p != '"'))
            return FR_EPROTO;
        if (object && ((rc = jstring(j, &v->keys[v->n - 1])) ||
                       (jskip(j), rc = jlit(j, ":"))))
            return rc;
        if ((rc = jvalue(j, &v->items[v->n - 1], depth + 1)))
            return rc;
        jskip(j);
        if (jlit(j, ",") == FR_OK)
            continue;
        return jlit(j, object ? "}" : "]");
    }
}

static fr_err
jvalue(jparser *j, jv *v, int depth)
{
    char *end;

    if (depth > JSON_DEPTH_MAX)
        return FR_ELIMIT;
    jskip(j);
    if (j->p >= j->end)
        return FR_EPROTO;
    switch (*j->p) {
    case '{':
        v->t = JV_OBJ;
        j->p++;
        return jmembers(j, v, 1, depth);
    case '[':
        v->t = JV_ARR;
        j->p++;
        return jmembers(j, v, 0, depth);
    case '"': v->t = JV_STR; return jstring(j, &v->s);
    case 't':
        v->t = JV_BOOL;
        v->b = 1;
        return jlit(j, "true");
    case 'f': v->t = JV_BOOL; return jlit(j, "false");
    case 'n': v->t = JV_NULL; return jlit(j, "null");
    default:
        v->t = JV_NUM;
        v->num = strtod(j->p, &end); /* the answer is NUL-terminated */
        if (end == j->p)
            return FR_EPROTO;
        j->p = end;
        return FR_OK;
    }
}

/* Parses text (NUL-terminated) as one JSON object; FR_EPROTO (or
 * FR_ENOMEM, FR_ELIMIT) if it is not one. The caller reports it. */
static fr_err
json_parse(const char *text, jv *out)
{
    jparser j = {text, text + strlen(text)};
    fr_err rc;

    memset(out, 0, sizeof *out);
    if ((rc = jvalue(&j, out, 0)) == FR_OK &&
        (out->t != JV_OBJ || (jskip(&j), j.p != j.end)))
        rc = FR_EPROTO;
    if (rc)
        jv_free(out);
    return rc;
}

static const jv *
jget(const jv *o, const char *key)
{
    for (size_t i = 0; o && o->t == JV_OBJ && i < o->n; i++)
        if (strcmp(o->keys[i], key) == 0)
            return &o->items[i];
    return NULL;
}

static const char *
jstr(const jv *o, const char *key)
{
    const jv *v = jget(o, key);
    return v && v->t == JV_STR ? v->s : "";
}

/* The number under key, NaN if it is missing or null. */
static double
jnum(const jv *o, const char *key)
{
    const jv *v = jget(o, key);
    return v && v->t == JV_NUM ? v->num : NAN;
}

static bool
jtrue(const jv *o, const char *key)
{
    const jv *v = jget(o, key);
    return v && v->t == JV_BOOL && v->b;
}

/* ---- talking to the aggregator ---- */

/* Connects to o->path (the socket in *fd_out); prints what went wrong and
 * returns an error otherwise. */
static fr_err
connect_socket(const ctl_opts *o, int *fd_out)
{
    struct sockaddr_un sa;
    struct timeval tv = {o->timeout_ms / 1000, (o->timeout_ms % 1000) * 1000};
    int fd, e;

    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, o->path, strlen(o->path)); /* length checked */
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
        e = errno;
        fprintf(stderr, PROG ": socket: %s\n", strerror(e));
        return fr_err_from_errno(e);
    }
    /* Bounds connect() too when the aggregator's backlog is full. */
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
        *fd_out = fd;
        return FR_OK;
    }
    e = errno;
    close(fd);
    if (e == ENOENT || e == ENOTDIR)
        fprintf(stderr,
                PROG ": the aggregator is not running (no socket at "
                     "%s)\n",
                o->path);
    else if (e == ECONNREFUSED)
        fprintf(stderr,
                PROG ": nothing answers on %s: the aggregator is not "
                     "running (stale socket)\n",
                o->path);
    else if (e == EACCES || e == EPERM)
        fprintf(stderr,
                PROG ": permission denied on %s: operators need to be "
                     "in the aggregator's group\n",
                o->path);
    else if (e == EAGAIN || e == ETIMEDOUT || e == EINPROGRESS)
        fprintf(stderr,
                PROG ": the aggregator at %s did not accept the "
                     "connection within %d s\n",
                o->path, o->timeout_ms / 1000);
    else
        fprintf(stderr, PROG ": cannot connect to %s: %s\n", o->path,
                strerror(e));
    return fr_err_from_errno(e);
}

/* Reads until the aggregator closes, within the deadline. NULL (and a
 * message) on timeout, error or an oversized answer. */
static char *
read_answer(const ctl_opts *o, int fd)
{
    int64_t deadline = fr_clock_ms() + o->timeout_ms;
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap), *grown;

    while (buf) {
        struct pollfd p = {fd, POLLIN, 0};
        int64_t left = deadline - fr_clock_ms();
        ssize_t n;
        if (left <= 0 || poll(&p, 1, (int)left) == 0) {
            fprintf(stderr,
                    PROG ": no answer from the aggregator at %s "
                         "within %d s\n",
                    o->path, o->timeout_ms / 1000);
            break;
        }
        n = recv(fd, buf + len, cap - len - 1, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == ECONNRESET && len) /* closed after answering */
            n = 0;
        if (n < 0) {
            fprintf(stderr, PROG ": reading from %s: %s\n", o->path,
                    strerror(errno));
            break;
        }
        if (n == 0) {
            buf[len] = 0;
            return buf;
        }
        len += (size_t)n;
        if (len + 1 == cap) {
            if (cap >= ANSWER_MAX) {
                fprintf(stderr,
                        PROG ": the answer from %s is larger than "
                             "%u MiB\n",
                        o->path, ANSWER_MAX >> 20);
                break;
            }
            if (!(grown = realloc(buf, cap * 2)))
                break;
            buf = grown;
            cap *= 2;
        }
    }
    free(buf);
    return NULL;
}

/* Sends request, returns the answer text (malloc'd) or NULL after printing
 * why. */
static char *
ask(const ctl_opts *o, const char *request)
{
    char line[AGG_PATH_MAX];
    int fd = -1, n;
    char *answer = NULL;

    if (connect_socket(o, &fd))
        return NULL;
    n = snprintf(line, sizeof line, "%s\n", request);
    if (send(fd, line, (size_t)n, MSG_NOSIGNAL) != n)
        fprintf(stderr, PROG ": sending to %s: %s\n", o->path, strerror(errno));
    else
        answer = read_answer(o, fd);
    close(fd);
    return answer;
}

/* ---- rendering ---- */

static void kv(const char *key, const char *fmt, ...) FR_PRINTF(2, 3);

static void
kv(const char *key, const char *fmt, ...)
{
    va_list ap;
    printf("%-17s", key);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

static void
fmt_duration(char *out, size_t cap, double s)
{
    long t = isfinite(s) && s > 0 ? (long)s : 0;
    if (t >= 86400)
        snprintf(out, cap, "%ldd %ldh %ldm", t / 86400, t / 3600 % 24,
                 t / 60 % 60);
    else if (t >= 3600)
        snprintf(out, cap, "%ldh %ldm %lds", t / 3600, t / 60 % 60, t % 60);
    else if (t >= 60)
        snprintf(out, cap, "%ldm %lds", t / 60, t % 60);
    else
        snprintf(out, cap, "%.1f s", isfinite(s) && s > 0 ? s : 0.0);
}

static void
fmt_ago(char *out, size_t cap, double s)
{
    if (!isfinite(s)) {
        snprintf(out, cap, "never");
        return;
    }
    fmt_duration(out, cap, s);
    strncat(out, " ago", cap - strlen(out) - 1);
}

/* A quality figure, or "n/a" when the stores did not report it. */
static const char *
fmt_fig(char *out, size_t cap, double v)
{
    if (isfinite(v))
        snprintf(out, cap, "%.4f", v);
    else
        snprintf(out, cap, "n/a");
    return out;
}

static void
render_status(const jv *a)
{
    const jv *st = jget(a, "stores"), *lr = jget(a, "last_round");
    const jv *dp = jget(a, "dp");
    double target = jnum(a, "rounds_target");
    char buf[64];

    if (*jstr(a, "phase"))
        kv("state:", "%s (phase %s)", jstr(a, "state"), jstr(a, "phase"));
    else
        kv("state:", "%s", jstr(a, "state"));
    kv("paused:", "%s", jtrue(a, "paused") ? "yes" : "no");
    kv("round id:", "%.0f", jnum(a, "round_id"));
    if (target > 0)
        kv("completed:", "%.0f of %.0f rounds", jnum(a, "completed"), target);
    else
        kv("completed:", "%.0f rounds (no target)", jnum(a, "completed"));
    kv("secure agg:", "%s", jtrue(a, "secagg") ? "on" : "off");
    kv("stores:", "%.0f known, %.0f connected, %.0f selected",
       jnum(st, "known"), jnum(st, "connected"), jnum(st, "selected"));
    fmt_duration(buf, sizeof buf, jnum(a, "uptime"));
    kv("uptime:", "%s", buf);
    fmt_ago(buf, sizeof buf, jnum(a, "last_checkpoint_ago"));
    kv("last checkpoint:", "%s", buf);
    if (lr && lr->t == JV_OBJ) {
        char hr[32], ndcg[32], loss[32];
        kv("last round:",
           "#%.0f, %.0f stores, %.2f s: HR@10 %s, "
           "NDCG@10 %s, loss %s",
           jnum(lr, "round"), jnum(lr, "stores"), jnum(lr, "seconds"),
           fmt_fig(hr, sizeof hr, jnum(lr, "hr10")),
           fmt_fig(ndcg, sizeof ndcg, jnum(lr, "ndcg10")),
           fmt_fig(loss, sizeof loss, jnum(lr, "loss")));
    } else
        kv("last round:", "none yet");
    if (jtrue(dp, "enabled"))
        kv("privacy:", "epsilon %.4g of %.4g spent, delta %.3g",
           jnum(dp, "epsilon_spent"), jnum(dp, "epsilon_budget"),
           jnum(dp, "delta"));
    else
        kv("privacy:", "%s",
           *jstr(dp, "guarantee") ? jstr(dp, "guarantee") : "no DP guarantee");
}

static void
render_stores(const jv *a)
{
    const jv *list = jget(a, "stores");
    int w = 5;
    char ago[64];

    if (!list || list->t != JV_ARR || list->n == 0) {
        printf("no stores known yet\n");
        return;
    }
    for (size_t i = 0; i < list->n; i++) {
        int n = (int)strlen(jstr(&list->items[i], "name"));
        w = n > w ? n : w;
    }
    printf("%-*s  %-9s  %-8s  %-12s  %6s  %10s\n", w, "STORE", "CONNECTED",
           "SELECTED", "LAST SEEN", "ROUNDS", "EXAMPLES");
    for (size_t i = 0; i < list->n; i++) {
        const jv *s = &list->items[i];
        fmt_ago(ago, sizeof ago, jnum(s, "last_seen"));
        printf("%-*s  %-9s  %-8s  %-12s  %6.0f  %10.0f\n", w, jstr(s, "name"),
               jtrue(s, "connected") ? "yes" : "no",
               jtrue(s, "selected") ? "yes" : "no", ago,
               jnum(s, "rounds_joined"), jnum(s, "examples"));
    }
}

/* A central's regional aggregators, or a regional one's link upstream. */
static void
render_regions(const jv *a)
{
    const jv *list = jget(a, "regions"), *up = jget(a, "upstream");
    int w = 6;

    if (up && up->t == JV_OBJ)
        printf("upstream: link %s, central round in hand %.0f, results "
               "sent %.0f\n", jstr(up, "link"), jnum(up, "round_id"),
               jnum(up, "sent"));
    if (!list || list->t != JV_ARR || list->n == 0) {
        printf("no regional aggregator among the participants\n");
        return;
    }
    for (size_t i = 0; i < list->n; i++) {
        int n = (int)strlen(jstr(&list->items[i], "name"));
        w = n > w ? n : w;
    }
    printf("%-*s  %-9s  %6s  %12s  %7s  %13s  %6s\n", w, "REGION",
           "CONNECTED", "STORES", "MAX EXAMPLES", "ROUNDS", "LAST COVERED",
           "HR@10");
    for (size_t i = 0; i < list->n; i++) {
        const jv *r = &list->items[i];
        char hr[16] = "-";
        if (jget(r, "hr10") && jget(r, "hr10")->t == JV_NUM)
            snprintf(hr, sizeof hr, "%.4f", jnum(r, "hr10"));
        printf("%-*s  %-9s  %6.0f  %12.0f  %7.0f  %13.0f  %6s\n", w,
               jstr(r, "name"), jtrue(r, "connected") ? "yes" : "no",
               jnum(r, "stores"), jnum(r, "max_examples"),
               jnum(r, "rounds_joined"), jnum(r, "last_covered"), hr);
    }
}

static void
render_message(const jv *a)
{
    printf("%s\n", jstr(a, "message"));
}

/* ---- the command table ---- */

typedef struct ctl_command ctl_command;
struct ctl_command {
    const char *group; /* NULL: a top-level command */
    const char *name;
    const char *args; /* shown in usage, "" for none */
    int n_args;       /* exact count; < 0: --options parsed by run */
    const char *help;
    int (*run)(ctl_opts *o, const ctl_command *c, char **args);
    void (*render)(const jv *answer); /* daemon commands */
};

static int resolve_socket(ctl_opts *o);

/* A daemon command: request "NAME[ ARG]", one JSON answer. */
static int
run_daemon(ctl_opts *o, const ctl_command *c, char **args)
{
    char request[AGG_PATH_MAX];
    char *text;
    jv a;
    int rc;

    if (c->n_args && !fr_net_store_name_valid(args[0])) {
        fprintf(stderr,
                PROG ": '%s' is not a store name (1 to 63 characters "
                     "from A-Z a-z 0-9 . _ -)\n",
                args[0]);
        return EXIT_USAGE;
    }
    if ((rc = resolve_socket(o)))
        return rc;
    snprintf(request, sizeof request, "%s%s%s", c->name, c->n_args ? " " : "",
             c->n_args ? args[0] : "");
    if (!(text = ask(o, request)))
        return EXIT_UNREACHABLE;
    text[strcspn(text, "\n")] = 0;
    if (json_parse(text, &a) || !jget(&a, "ok")) {
        fprintf(stderr,
                PROG ": the aggregator's answer is not a JSON object "
                     "with \"ok\": %.200s\n",
                text);
        free(text);
        return EXIT_UNREACHABLE;
    }
    rc = jtrue(&a, "ok") ? EXIT_OK : EXIT_REFUSED;
    if (o->json)
        printf("%s\n", text);
    else if (rc == EXIT_OK)
        c->render(&a);
    else
        fprintf(stderr, PROG ": %s\n",
                *jstr(&a, "error") ? jstr(&a, "error")
                                   : "the aggregator refused");
    jv_free(&a);
    free(text);
    return rc;
}

/* privacy epsilon | privacy noise, with their --options in args. */
static int
run_privacy(ctl_opts *o, const ctl_command *c, char **args)
{
    (void)o;
    return ctl_privacy_run(c->name, args);
}

static const ctl_command commands[] = {
    {NULL, "status", "", 0,
     "state, round, stores, last round, checkpoint, privacy", run_daemon,
     render_status},
    {NULL, "stores", "", 0,
     "each store: connected, selected, last seen, rounds", run_daemon,
     render_stores},
    {NULL, "regions", "", 0,
     "regional aggregators: stores, last covered, HR@10; a region's link",
     run_daemon, render_regions},
    {NULL, "pause", "", 0, "start no new round (a round in progress finishes)",
     run_daemon, render_message},
    {NULL, "resume", "", 0, "start rounds again after pause", run_daemon,
     render_message},
    {NULL, "checkpoint", "", 0, "write the checkpoint now", run_daemon,
     render_message},
    {NULL, "revoke", "STORE", 1,
     "refuse STORE from now on (allow-list line commented)", run_daemon,
     render_message},
    {"privacy", "epsilon", "OPTS", -1,
     "epsilon of a gaussian or ddg run (below)", run_privacy, NULL},
    {"privacy", "noise", "OPTS", -1, "noise multiplier for a target epsilon",
     run_privacy, NULL},
};

static void
usage(FILE *out)
{
    const char *group = NULL;

    fprintf(out,
            "usage: " PROG " [--socket PATH | --config AGGREGATOR_CONF] "
            "[--json]\n"
            "                  [--timeout SECONDS] COMMAND [ARG | OPTS]\n\n"
            "Controls a running fedrec-aggregator through its admin socket;\n"
            "the privacy commands compute locally, with no aggregator.\n"
            "\ncommands:\n");
    for (size_t i = 0; i < FR_ARRAY_LEN(commands); i++) {
        const ctl_command *c = &commands[i];
        char head[64];
        if (c->group && (!group || strcmp(group, c->group) != 0))
            fprintf(out, "\n%s commands:\n", c->group);
        group = c->group;
        snprintf(head, sizeof head, "%s%s%s%s%s", c->group ? c->group : "",
                 c->group ? " " : "", c->name, *c->args ? " " : "", c->args);
        fprintf(out, "  %-20s %s\n", head, c->help);
    }
    fprintf(out,
            "\noptions:\n"
            "  --socket PATH      the admin socket (default\n"
            "                     " DEFAULT_SOCKET ")\n"
            "  --config FILE      take the socket from the aggregator's "
            "config file\n"
            "                     (admin_socket, or STATE_DIR/admin.sock)\n"
            "  --json             print the aggregator's JSON answer\n"
            "  --timeout SECONDS  wait this long for an answer (default %d)\n"
            "  --help             show this help\n",
            DEFAULT_TIMEOUT_S);
    ctl_privacy_usage(out);
    fprintf(out,
            "\naccess: status, stores and regions need the aggregator's user, root or "
            "admin_group;\nthe other daemon commands the user, root or "
            "admin_operator_group\n(admin_group when that is not set)\n");
    fprintf(out,
            "\nexit status: 0 done, 1 the aggregator refused or failed the "
            "command,\n2 bad usage, 3 the aggregator could not be reached or "
            "did not answer\n");
}

static int
usage_error(const char *msg, const char *what)
{
    fprintf(stderr, PROG ": %s%s\n", msg, what ? what : "");
    fprintf(stderr, "try '" PROG " --help'\n");
    return EXIT_USAGE;
}

/* Sets o->path from --socket, --config or the default. */
static int
resolve_socket(ctl_opts *o)
{
    agg_config cfg;
    char err[FR_CONFIG_ERR_MAX];
    size_t max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1;

    if (o->config) {
        if (fr_config_defaults(&agg_config_table, &cfg, err, sizeof err) ||
            fr_config_load_file(&agg_config_table, &cfg, o->config, err,
                                sizeof err)) {
            fprintf(stderr, PROG ": %s\n", err);
            return EXIT_USAGE;
        }
        if (!*cfg.admin_socket && !*cfg.state_dir) {
            fprintf(stderr,
                    PROG ": %s sets neither admin_socket nor "
                         "state_dir, so it names no admin socket\n",
                    o->config);
            return EXIT_USAGE;
        }
        if (agg_admin_socket_path(&cfg, o->path, sizeof o->path)) {
            fprintf(stderr,
                    PROG ": the admin socket path in %s is too long "
                         "for a Unix socket (at most %zu bytes)\n",
                    o->config, max);
            return EXIT_USAGE;
        }
        return EXIT_OK;
    }
    snprintf(o->path, sizeof o->path, "%s",
             o->socket ? o->socket : DEFAULT_SOCKET);
    if (!*o->path || strlen(o->path) > max) {
        fprintf(stderr, PROG ": --socket: the path must be 1 to %zu bytes\n",
                max);
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

/* Finds the command words at pos (GROUP NAME or NAME); NULL if none. */
static const ctl_command *
find_command(char **pos, int npos, int *used)
{
    for (size_t i = 0; i < FR_ARRAY_LEN(commands); i++) {
        const ctl_command *c = &commands[i];
        if (!c->group && strcmp(pos[0], c->name) == 0) {
            *used = 1;
            return c;
        }
        if (c->group && npos > 1 && strcmp(pos[0], c->group) == 0 &&
            strcmp(pos[1], c->name) == 0) {
            *used = 2;
            return c;
        }
    }
    return NULL;
}

/* Takes the value of --opt VALUE or --opt=VALUE; NULL if missing. */
static const char *
option_value(int argc, char **argv, int *i, const char *opt)
{
    size_t n = strlen(opt);
    if (strncmp(argv[*i], opt, n) == 0 && argv[*i][n] == '=')
        return argv[*i] + n + 1;
    return *i + 1 < argc ? argv[++*i] : NULL;
}

/* Fills o and the positional words (*pos, *npos: the rest of argv after
 * the options); returns -1 (after --help), 0, or an exit code. */
static int
parse_args(int argc, char **argv, ctl_opts *o, char ***pos, int *npos)
{
    int64_t t;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        int dashdash = strcmp(a, "--") == 0;
        if (dashdash || strncmp(a, "--", 2) != 0) {
            i += dashdash;
            *pos = argv + i;
            *npos = argc - i;
            break;
        }
        if (!strcmp(a, "--help")) {
            usage(stdout);
            return -1;
        } else if (!strcmp(a, "--json")) {
            o->json = 1;
        } else if (!strncmp(a, "--socket", 8) && (!a[8] || a[8] == '=')) {
            if (!(o->socket = option_value(argc, argv, &i, "--socket")))
                return usage_error("--socket needs a PATH", NULL);
        } else if (!strncmp(a, "--config", 8) && (!a[8] || a[8] == '=')) {
            if (!(o->config = option_value(argc, argv, &i, "--config")))
                return usage_error("--config needs a FILE", NULL);
        } else if (!strncmp(a, "--timeout", 9) && (!a[9] || a[9] == '=')) {
            if (!(v = option_value(argc, argv, &i, "--timeout")) ||
                fr_parse_i64(v, 1, 3600, &t))
                return usage_error("--timeout: expected whole seconds in "
                                   "[1, 3600]",
                                   NULL);
            o->timeout_ms = (int)t * 1000;
        } else {
            return usage_error("unknown option ", a);
        }
    }
    if (o->socket && o->config)
        return usage_error("give --socket or --config, not both", NULL);
    return 0;
}

int
main(int argc, char **argv)
{
    ctl_opts o = {NULL, NULL, 0, DEFAULT_TIMEOUT_S * 1000, ""};
    char **pos = NULL;
    int npos = 0, used = 0, rc;
    const ctl_command *c;

    if ((rc = parse_args(argc, argv, &o, &pos, &npos)))
        return rc < 0 ? EXIT_OK : rc;
    if (npos == 0)
        return usage_error("no command given", NULL);
    if (!(c = find_command(pos, npos, &used)))
        return usage_error("unknown command ", pos[0]);
    if (c->n_args >= 0 && npos - used != c->n_args) {
        char msg[128];
        snprintf(msg, sizeof msg, "usage: %s%s%s%s%s", c->group ? c->group : "",
                 c->group ? " " : "", c->name, *c->args ? " " : "", c->args);
        return usage_error(msg, NULL);
    }
    return c->run(&o, c, pos + used);
}
