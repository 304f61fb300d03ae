/*
 * fuzz_admin.c - the admin socket's request handling (agg_admin_handle):
 * access check, line checks, parsing and dispatch, over an agg_stats with
 * a few stores. Input: byte 0 picks the peer (owner, root, reader,
 * operator, stranger, unknown credentials), byte 1 the policy (with or
 * without a read/change split), the rest is what the client sent.
 * Properties: every answer is exactly one line holding one valid JSON
 * object with "ok"; a changing operation runs only when the policy lets
 * this peer change, and then for the command the line names; a peer the
 * policy refuses gets "permission denied" and nothing runs.
 */
#include <math.h>
#include <string.h>

#include "admin_int.h"
#include "base/log.h"
#include "fuzz.h"

static agg_stats *stats;
static int calls; /* operations run for the current input */
static char called[16];

static fr_err
op_pause(void *arg, int pause, char *msg, size_t cap)
{
    (void)arg;
    calls++;
    snprintf(called, sizeof called, "%s", pause ? "pause" : "resume");
    snprintf(msg, cap, pause ? "paused" : "resumed \"\\\x01\xff");
    return FR_OK;
}

static fr_err
op_revoke(void *arg, const char *store, char *msg, size_t cap)
{
    (void)arg;
    calls++;
    snprintf(called, sizeof called, "revoke");
    snprintf(msg, cap, "no store named %s", store);
    return store[0] == 's' ? FR_OK : FR_ENOENT;
}

static fr_err
op_checkpoint(void *arg, char *msg, size_t cap)
{
    (void)arg;
    calls++;
    snprintf(called, sizeof called, "checkpoint");
    (void)msg;
    (void)cap; /* no message: the answer says "done" */
    return FR_OK;
}

static const agg_admin_ops ops = {NULL, op_pause, op_revoke, op_checkpoint};

static void
quiet(void *arg, fr_log_level level, const char *tag, const char *line)
{
    (void)arg;
    (void)level;
    (void)tag;
    (void)line;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    agg_store_info st[3];
    agg_round_info r = {0};
    (void)argc;
    (void)argv;

    fr_log_set_sink(quiet, NULL);
    if (agg_stats_new(&stats))
        abort();
    agg_stats_set_static(stats, 1, 10);
    agg_stats_set_state(stats, "collecting", "masked_input", 3, 2, 3);
    memset(st, 0, sizeof st);
    snprintf(st[0].name, sizeof st[0].name, "store01");
    st[0].connected = st[0].selected = 1;
    st[0].rounds_joined = 2;
    snprintf(st[1].name, sizeof st[1].name, "store.02_b-x");
    snprintf(st[2].name, sizeof st[2].name, "s");
    agg_stats_set_stores(stats, st, 3);
    r.round = 2;
    r.round_id = 3;
    r.hr10 = NAN;
    r.loss = INFINITY;
    agg_stats_add_round(stats, &r);
    agg_stats_set_dp(stats, 1, 0.5, 4, 1e-6);
    return 0;
}

/* ---- a small JSON checker (RFC 8259, depth-bounded) ---- */

typedef struct jp {
    const char *s;
    size_t n, i;
    int depth;
} jp;

static int value(jp *p);

static void
ws(jp *p)
{
    while (p->i < p->n && strchr(" \t\r\n", p->s[p->i]) && p->s[p->i])
        p->i++;
}

static int
lit(jp *p, const char *w)
{
    size_t k = strlen(w);
    if (p->n - p->i < k || memcmp(p->s + p->i, w, k))
        return 0;
    p->i += k;
    return 1;
}

static int
digits(jp *p)
{
    size_t start = p->i;
    while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
        p->i++;
    return p->i > start;
}

static int
number(jp *p)
{
    if (p->i < p->n && p->s[p->i] == '-')
        p->i++;
    if (p->i < p->n && p->s[p->i] == '0')
        p->i++;
    else if (!digits(p))
        return 0;
    if (p->i < p->n && p->s[p->i] == '.') {
        p->i++;
        if (!digits(p))
            return 0;
    }
    if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
        p->i++;
        if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-'))
            p->i++;
        if (!digits(p))
            return 0;
    }
    return 1;
}

/* A string; bytes >= 0x80 must be well-formed UTF-8. */
static int
string(jp *p)
{
    if (p->i >= p->n || p->s[p->i++] != '"')
        return 0;
    while (p->i < p->n) {
        unsigned char c = (unsigned char)p->s[p->i++];
        if (c == '"')
            return 1;
        if (c < 0x20)
            return 0;
        if (c == '\\') {
            if (p->i >= p->n)
                return 0;
            c = (unsigned char)p->s[p->i++];
            if (c == 'u') {
                for (int k = 0; k < 4; k++, p->i++)
                    if (p->i >= p->n || !strchr("0123456789abcdefABCDEF",
                                                p->s[p->i]) ||
                        !p->s[p->i])
                        return 0;
            } else if (!strchr("\"\\/bfnrt", c) || !c)
                return 0;
        } else if (c >= 0x80) {
            int more = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC2 ? 1 : -1;
            if (more < 0 || c > 0xF4)
                return 0;
            for (int k = 0; k < more; k++, p->i++)
                if (p->i >= p->n || ((unsigned char)p->s[p->i] & 0xC0) != 0x80)
                    return 0;
        }
    }
    return 0;
}

static int
members(jp *p, char close, int keyed)
{
    ws(p);
    if (p->i < p->n && p->s[p->i] == close) {
        p->i++;
        return 1;
    }
    for (;;) {
        ws(p);
        if (keyed) {
            if (!string(p))
                return 0;
            ws(p);
            if (p->i >= p->n || p->s[p->i++] != ':')
                return 0;
        }
        if (!value(p))
            return 0;
        ws(p);
        if (p->i >= p->n)
            return 0;
        if (p->s[p->i] == close) {
            p->i++;
            return 1;
        }
        if (p->s[p->i++] != ',')
            return 0;
    }
}

static int
value(jp *p)
{
    int ok;

    ws(p);
    if (p->i >= p->n || p->depth > 32)
        return 0;
    switch (p->s[p->i]) {
    case '{':
    case '[':
        p->depth++;
        p->i++;
        ok = members(p, p->s[p->i - 1] == '{' ? '}' : ']',
                     p->s[p->i - 1] == '{');
        p->depth--;
        return ok;
    case '"':
        return string(p);
    case 't':
        return lit(p, "true");
    case 'f':
        return lit(p, "false");
    case 'n':
        return lit(p, "null");
    default:
        return number(p);
    }
}

/* One JSON object, nothing after it but the final '\n'. */
static int
one_json_line(const char *s, size_t n)
{
    jp p = {s, n - 1, 0, 0};

    if (n < 3 || s[n - 1] != '\n' || memchr(s, '\n', n - 1) || s[0] != '{')
        return 0;
    if (!value(&p))
        return 0;
    ws(&p);
    return p.i == p.n;
}

/* ---- the target ---- */

static const gid_t reader_groups[] = {7, 200};
static const gid_t operator_groups[] = {300};

static agg_admin_peer
pick_peer(uint8_t b)
{
    agg_admin_peer p = {0};
    p.pid = 99;
    switch (b % 6) {
    case 0: p.uid = 1000, p.gid = 1000; break;         /* owner */
    case 1: p.uid = 0, p.gid = 0; break;               /* root */
    case 2: p.uid = 1001, p.gid = 7, p.groups = reader_groups,
            p.n_groups = 2; break;                     /* admin_group */
    case 3: p.uid = 1002, p.gid = 300; p.groups = operator_groups;
            p.n_groups = 1; break;                     /* operator */
    case 4: p.uid = 65534, p.gid = 65534; break;       /* stranger */
    default: p.uid = p.gid = -1; break;                /* unknown */
    }
    return p;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    agg_admin_access a = {1000, 200, 300, "fedrec", "fedrec-op"};
    agg_admin *ad = NULL;
    agg_admin_peer peer;
    const char *req;
    char out[8192];
    size_t len, n, line;
    agg_admin_verdict may_read, may_change;

    if (size < 2)
        return 0;
    peer = pick_peer(data[0]);
    if (data[1] & 1) { /* no split: admin_group changes too */
        a.change_gid = AGG_ADMIN_NO_GID;
        snprintf(a.change_name, sizeof a.change_name, "fedrec");
    }
    req = (const char *)data + 2;
    len = size - 2;
    if (agg_admin_new_unbound(&ad, stats, &ops, &a))
        abort();
    calls = 0;
    called[0] = 0;
    n = agg_admin_handle(ad, req, len, &peer, out, sizeof out);
    agg_admin_close(&ad);

    FR_FUZZ_CHECK(n == strlen(out));
    FR_FUZZ_CHECK(one_json_line(out, n));
    FR_FUZZ_CHECK(strncmp(out, "{\"ok\":", 6) == 0);
    may_read = agg_admin_decide(&a, &peer, AGG_ADMIN_READ);
    may_change = agg_admin_decide(&a, &peer, AGG_ADMIN_CHANGE);
    if (may_read != AGG_ADMIN_ALLOW) {
        FR_FUZZ_CHECK(calls == 0);
        FR_FUZZ_CHECK(strstr(out, "permission denied") != NULL);
    }
    FR_FUZZ_CHECK(calls <= 1);
    if (calls) {
        /* The op ran: allowed, and it is the command the line names. */
        const char *nl = memchr(req, '\n', len);
        line = nl ? (size_t)(nl - req) : len;
        if (line && req[line - 1] == '\r') /* the handler drops it too */
            line--;
        FR_FUZZ_CHECK(may_change == AGG_ADMIN_ALLOW);
        FR_FUZZ_CHECK(agg_admin_command_level(req, line) == AGG_ADMIN_CHANGE);
        FR_FUZZ_CHECK(line >= strlen(called) &&
                      memcmp(req, called, strlen(called)) == 0);
    }
    return 0;
}
