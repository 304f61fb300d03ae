/*
 * zap.c - the store allow-list and the ZAP 1.0 handler (ZeroMQ RFC 27) that
 * admits only listed CURVE client keys and names each connection after its
 * store. The list also carries each store's optional Ed25519 identity key,
 * which secure aggregation looks up with fr_net_zap_sign_key.
 *
 * DESIGN
 * Thread: fr_net_zap_start parses the list, binds a REP socket to
 * inproc://zeromq.zap.01 in the caller's context and connects a control PAIR,
 * all in the caller's thread (so the handler is in place before any server
 * socket can bind, and errors surface there), then starts one thread that
 * takes the sockets over (pthread_create is the memory barrier ZeroMQ asks
 * for when a socket changes threads). The thread polls the REP socket and the
 * control PAIR. fr_net_zap_stop_ (from ctx destroy) sends one message on the
 * control PAIR, joins the thread and closes the sockets, after which the
 * context terminates without waiting on us. All signals are blocked in the
 * thread so they reach the application's poll loop.
 *
 * State: the list is replaced whole under `lock` by reload and read under it
 * by the handler, fr_net_zap_allowed and fr_net_zap_sign_key; the file is
 * parsed outside the lock, and a list that fails to parse never replaces the
 * one in force (CURVE and identity keys change together). `refused` is
 * atomic. The log rate limiter belongs to the handler thread alone.
 *
 * Peer bytes: credentials and the address come from the network through
 * libzmq. A request of unexpected shape still gets a refusal reply (a REP
 * socket must answer before it can read again), never an assertion.
 */
#include "net.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

#include "../base/log.h"
#include "../base/ratelimit.h"
#include "../base/util.h"
#include "../crypto/crypto.h"
#include "../crypto/prim.h"
#include "net_int.h"

#define TAG "zap"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_VERSION "1.0"
/* A CURVE request: version, request id, domain, address, identity,
 * mechanism, client public key. */
#define ZAP_CURVE_FRAMES 7
#define ZAP_MAX_FRAMES 8
#define ALLOWLIST_MAX_BYTES (1u << 20)
/* Refusal log limits: a refused client reconnects every few hundred ms, so
 * log each key at most once per interval, and at most a burst of lines per
 * interval overall (an attacker can cycle keys). */
#define RL_SLOTS 16
#define RL_INTERVAL_MS 10000
#define RL_BURST 20

typedef struct allow_entry {
    char name[FR_NET_STORE_NAME_MAX];
    uint8_t pk[FR_CRYPTO_PK_BYTES];      /* CURVE */
    uint8_t sign_pk[FR_CRYPTO_PK_BYTES]; /* Ed25519 identity, if has_sign */
    int has_sign;
    size_t line;
    char fp[FR_NET_KEY_FP_HEX + 1]; /* fingerprint of pk */
} allow_entry;

typedef struct allow_list {
    allow_entry *v;
    size_t n;
} allow_list;

typedef struct rl_slot {
    uint8_t pk[FR_CRYPTO_PK_BYTES];
    int64_t last_ms;
    uint64_t suppressed;
    int used;
} rl_slot;

struct fr_net_zap {
    void *zctx;
    char *path;
    pthread_t thread;
    pthread_mutex_t lock; /* guards list */
    allow_list list;
    atomic_uint_fast64_t refused;
    void *rep;           /* bound to ZAP_ENDPOINT; used by the thread */
    void *ctl;           /* control PAIR, our end: one message means stop */
    void *ctl_thread;    /* control PAIR, the thread's end */
    rl_slot rl[RL_SLOTS]; /* handler thread only */
    fr_ratelimit rl_all; /* RL_BURST lines per RL_INTERVAL_MS, all keys */
    uint64_t rl_dropped; /* held back by rl_all since the last line */
};

/* ---- allow-list -------------------------------------------------------- */

int
fr_net_store_name_valid(const char *name)
{
    size_t n = 0;

    if (!name)
        return 0;
    for (; name[n]; n++) {
        char c = name[n];
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                 (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        if (!ok || n >= FR_NET_STORE_NAME_MAX - 1)
            return 0;
    }
    return n > 0;
}

static void
allow_list_free(allow_list *l)
{
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static int
is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* One whitespace-delimited token of [p, end) into tok and tok_len; returns the
 * position after it. */
static const char *
next_token(const char *p, const char *end, const char **tok, size_t *tok_len)
{
    while (p < end && is_blank(*p))
        p++;
    *tok = p;
    while (p < end && !is_blank(*p))
        p++;
    *tok_len = (size_t)(p - *tok);
    return p;
}

/* Rejects a second entry with the same name, CURVE key or identity key;
 * returns a reason. */
static const char *
check_duplicate(const allow_list *l, const allow_entry *e, size_t *first_line)
{
    size_t same_name = 0;

    for (size_t i = 0; i < l->n; i++) {
        *first_line = l->v[i].line;
        /* Two lines are a key rotation in progress; three are a mistake. */
        if (strcmp(l->v[i].name, e->name) == 0 && ++same_name == 2)
            return "store name listed a third time (two lines, old and new "
                   "key, are allowed during a key rotation)";
        if (memcmp(l->v[i].pk, e->pk, FR_CRYPTO_PK_BYTES) == 0)
            return "duplicate public key";
        if (e->has_sign && l->v[i].has_sign &&
            memcmp(l->v[i].sign_pk, e->sign_pk, FR_CRYPTO_PK_BYTES) == 0)
            return "duplicate identity (signing) key";
    }
    return NULL;
}

static void
key_fingerprint(const uint8_t pk[FR_CRYPTO_PK_BYTES],
                char out[FR_NET_KEY_FP_HEX + 1])
{
    uint8_t h[32];

    fr_crypto_hash(h, sizeof h, pk, FR_CRYPTO_PK_BYTES);
    fr_crypto_bin2hex(out, h, FR_NET_KEY_FP_HEX / 2);
}

/* Parses one line (without its '\n') into e. Returns NULL and sets *empty for
 * blank and comment lines, NULL for an entry, or a reason. */
static const char *
parse_line(const char *p, const char *end, allow_entry *e, int *empty)
{
    const char *name, *hex, *sign_hex, *rest;
    size_t name_len, hex_len, sign_len, rest_len;

    p = next_token(p, end, &name, &name_len);
    *empty = name_len == 0 || name[0] == '#';
    if (*empty)
        return NULL;
    p = next_token(p, end, &hex, &hex_len);
    p = next_token(p, end, &sign_hex, &sign_len);
    next_token(p, end, &rest, &rest_len);
    if (hex_len == 0 || rest_len != 0)
        return "expected \"STORE_NAME HEX_CURVE_PUBLIC_KEY "
               "[HEX_ED25519_PUBLIC_KEY]\"";
    if (name_len >= sizeof e->name)
        return "store name longer than 63 characters";
    memcpy(e->name, name, name_len);
    e->name[name_len] = '\0';
    if (!fr_net_store_name_valid(e->name))
        return "store name may only use A-Z a-z 0-9 . _ -";
    if (fr_crypto_key_from_hex(hex, hex_len, e->pk) != FR_OK)
        return "public key must be 64 hex characters";
    key_fingerprint(e->pk, e->fp);
    if (sign_len == 0)
        return NULL;
    if (fr_crypto_key_from_hex(sign_hex, sign_len, e->sign_pk) != FR_OK)
        return "identity (signing) key in the third column must be 64 hex "
               "characters";
    /* The same bytes in both columns is a copy-and-paste slip, not a key. */
    if (memcmp(e->sign_pk, e->pk, FR_CRYPTO_PK_BYTES) == 0)
        return "identity (signing) key repeats the CURVE public key";
    e->has_sign = 1;
    return NULL;
}

static fr_err
allow_list_add(allow_list *l, const allow_entry *e, size_t *cap)
{
    if (l->n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        allow_entry *v = realloc(l->v, ncap * sizeof *v);
        if (!v)
            return FR_ENOMEM;
        l->v = v;
        *cap = ncap;
    }
    l->v[l->n++] = *e;
    return FR_OK;
}

/* Parses the text of an allow-list file; logs the first problem with its
 * line number and returns FR_EINVAL. */
static fr_err
parse_allowlist(const char *path, const char *text, size_t len,
                allow_list *out)
{
    allow_list l = {NULL, 0};
    size_t cap = 0, line = 0;
    const char *p = text, *end = text + len;
    fr_err rc = FR_OK;

    while (p < end && rc == FR_OK) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        allow_entry e = {.line = ++line};
        size_t first = 0;
        int empty = 0;
        const char *why = memchr(p, '\0', (size_t)(eol - p))
                              ? "NUL byte in line"
                              : parse_line(p, eol, &e, &empty);

        if (!why && !empty && (why = check_duplicate(&l, &e, &first)) != NULL)
            fr_log_err(TAG, "allow-list %s line %zu: %s (first on line %zu)",
                       path, line, why, first);
        else if (why)
            fr_log_err(TAG, "allow-list %s line %zu: %s", path, line, why);
        if (why)
            rc = FR_EINVAL;
        else if (!empty)
            rc = allow_list_add(&l, &e, &cap);
        p = eol + 1;
    }
    if (rc) {
        allow_list_free(&l);
        return rc;
    }
    *out = l;
    return FR_OK;
}

fr_err
fr_net_allowlist_parse_(const char *path, const char *text, size_t len,
                        fr_net_allow_fn fn, void *arg)
{
    allow_list l = {NULL, 0};
    fr_err rc = parse_allowlist(path, text, len, &l);

    if (rc)
        return rc;
    for (size_t i = 0; i < l.n; i++)
        fn(arg, l.v[i].name, l.v[i].pk,
           l.v[i].has_sign ? l.v[i].sign_pk : NULL, l.v[i].line);
    allow_list_free(&l);
    return FR_OK;
}

static fr_err
load_allowlist(const char *path, allow_list *out)
{
    uint8_t *text = NULL;
    size_t len = 0;
    fr_err rc = fr_file_read_all(path, ALLOWLIST_MAX_BYTES, &text, &len);

    if (rc) {
        fr_log_err(TAG, "cannot read allow-list %s: %s", path,
                   fr_strerror(rc));
        return rc;
    }
    rc = parse_allowlist(path, (const char *)text, len, out);
    free(text);
    if (rc == FR_OK && out->n == 0)
        fr_log_warn(TAG, "allow-list %s lists no stores: every store will "
                         "be refused",
                    path);
    return rc;
}

/* How many entries carry an identity key (for the load log line). */
static size_t
count_sign_keys(const allow_list *l)
{
    size_t n = 0;

    for (size_t i = 0; i < l->n; i++)
        n += l->v[i].has_sign ? 1 : 0;
    return n;
}

/* Writes "NAME:KEYFP" for pk into user_out (the ZAP User-Id); 0 if pk is
 * not listed. */
static int
lookup_key(fr_net_zap *z, const uint8_t *pk, char *user_out, size_t cap)
{
    int found = 0;

    pthread_mutex_lock(&z->lock);
    for (size_t i = 0; i < z->list.n && !found; i++) {
        if (memcmp(z->list.v[i].pk, pk, FR_CRYPTO_PK_BYTES) == 0) {
            snprintf(user_out, cap, "%s:%s", z->list.v[i].name,
                     z->list.v[i].fp);
            found = 1;
        }
    }
    pthread_mutex_unlock(&z->lock);
    return found;
}

/* ---- refusal logging --------------------------------------------------- */

/* Decides whether a refusal of pk is logged now; *suppressed_out is how many
 * refusals of that key went unlogged since its last line. */
static int
rl_should_log(fr_net_zap *z, const uint8_t *pk, uint64_t *suppressed_out)
{
    int64_t now = fr_clock_ms();
    rl_slot *slot = NULL, *oldest = &z->rl[0];

    for (size_t i = 0; i < RL_SLOTS && !slot; i++) {
        if (z->rl[i].used && memcmp(z->rl[i].pk, pk, FR_CRYPTO_PK_BYTES) == 0)
            slot = &z->rl[i];
        else if (!z->rl[i].used || z->rl[i].last_ms < oldest->last_ms)
            oldest = &z->rl[i];
    }
    if (slot && now - slot->last_ms < RL_INTERVAL_MS) {
        slot->suppressed++;
        return 0;
    }
    z->rl_dropped += fr_ratelimit_roll(&z->rl_all, now, NULL);
    if (!fr_ratelimit_take(&z->rl_all, now)) {
        z->rl_dropped++;
        return 0;
    }
    if (!slot) {
        slot = oldest;
        memcpy(slot->pk, pk, FR_CRYPTO_PK_BYTES);
        slot->suppressed = 0;
        slot->used = 1;
    }
    *suppressed_out = slot->suppressed;
    slot->suppressed = 0;
    slot->last_ms = now;
    return 1;
}

/* Copies a frame into a printable, bounded string for a log line. */
static void
printable(zmq_msg_t *f, char *out, size_t cap)
{
    const char *p = zmq_msg_data(f);
    size_t n = zmq_msg_size(f), k = 0;

    for (size_t i = 0; i < n && k + 1 < cap; i++)
        out[k++] = (p[i] >= 0x20 && p[i] < 0x7f) ? p[i] : '?';
    out[k] = '\0';
}

static void
log_refusal(fr_net_zap *z, const uint8_t *pk, zmq_msg_t *address,
            const char *why)
{
    static const uint8_t no_key[FR_CRYPTO_PK_BYTES];
    char fpr[FR_CRYPTO_FPR_CHARS + 1] = "none", addr[64] = "unknown";
    uint64_t suppressed = 0, dropped = z->rl_dropped;

    if (!rl_should_log(z, pk ? pk : no_key, &suppressed))
        return;
    z->rl_dropped = 0;
    if (pk)
        fr_crypto_fingerprint(pk, fpr);
    if (address)
        printable(address, addr, sizeof addr);
    if (suppressed == 0 && dropped == 0)
        fr_log_warn(TAG, "refused handshake from %s: %s (key fingerprint %s)",
                    addr, why, fpr);
    else
        fr_log_warn(TAG,
                    "refused handshake from %s: %s (key fingerprint %s); "
                    "not logged since the last report: %llu from this key, "
                    "%llu from others",
                    addr, why, fpr, (unsigned long long)suppressed,
                    (unsigned long long)dropped);
}

/* ---- ZAP request handling ---------------------------------------------- */

static int
frame_is(zmq_msg_t *f, const char *s)
{
    size_t n = strlen(s);
    return zmq_msg_size(f) == n && memcmp(zmq_msg_data(f), s, n) == 0;
}

static void
send_reply(void *rep, zmq_msg_t *request_id, const char *status,
           const char *text, const char *user)
{
    const void *id = request_id ? zmq_msg_data(request_id) : "";
    size_t id_len = request_id ? zmq_msg_size(request_id) : 0;

    /* REP routes the reply back; a failure here only means the requesting
     * connection is gone, and libzmq then drops the handshake anyway. */
    if (zmq_send(rep, ZAP_VERSION, strlen(ZAP_VERSION), ZMQ_SNDMORE) < 0 ||
        zmq_send(rep, id, id_len, ZMQ_SNDMORE) < 0 ||
        zmq_send(rep, status, strlen(status), ZMQ_SNDMORE) < 0 ||
        zmq_send(rep, text, strlen(text), ZMQ_SNDMORE) < 0 ||
        zmq_send(rep, user, strlen(user), ZMQ_SNDMORE) < 0 ||
        zmq_send(rep, "", 0, 0) < 0)
        fr_log_debug(TAG, "ZAP reply not sent: %s", zmq_strerror(zmq_errno()));
}

/* Reads one whole request; keeps the first ZAP_MAX_FRAMES frames and counts
 * all of them. Returns 0 if nothing could be read (nothing to answer). */
static int
recv_request(void *rep, zmq_msg_t *f, size_t *kept, size_t *total)
{
    int more = 1;

    *kept = *total = 0;
    while (more) {
        zmq_msg_t tmp;
        zmq_msg_init(&tmp);
        if (zmq_msg_recv(&tmp, rep, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&tmp);
            return *total > 0;
        }
        more = zmq_msg_more(&tmp);
        if (*kept < ZAP_MAX_FRAMES) {
            zmq_msg_init(&f[*kept]);
            zmq_msg_move(&f[(*kept)++], &tmp);
        }
        zmq_msg_close(&tmp);
        ++*total;
    }
    return 1;
}

/* Decides one request: 200 with the store name, or 400 and a log line. */
static void
answer_request(fr_net_zap *z, void *rep, zmq_msg_t *f, size_t total)
{
    char name[FR_NET_STORE_NAME_MAX + FR_NET_KEY_FP_HEX + 2] = "";
    zmq_msg_t *rid = total >= 2 ? &f[1] : NULL;
    const uint8_t *pk = NULL;
    const char *why = NULL;

    if (total != ZAP_CURVE_FRAMES || !frame_is(&f[0], ZAP_VERSION))
        why = "malformed ZAP request";
    else if (!frame_is(&f[2], FR_NET_ZAP_DOMAIN))
        why = "unexpected ZAP domain";
    else if (!frame_is(&f[5], "CURVE") ||
             zmq_msg_size(&f[6]) != FR_CRYPTO_PK_BYTES)
        why = "mechanism is not CURVE";
    else
        pk = zmq_msg_data(&f[6]);
    if (pk && !lookup_key(z, pk, name, sizeof name))
        why = "key not on the allow-list";

    if (!why) {
        send_reply(rep, rid, "200", "OK", name);
        return;
    }
    atomic_fetch_add(&z->refused, 1);
    send_reply(rep, rid, "400", "not allowed", "");
    log_refusal(z, pk, total >= 4 ? &f[3] : NULL, why);
}

static void
handle_request(fr_net_zap *z, void *rep)
{
    zmq_msg_t f[ZAP_MAX_FRAMES];
    size_t kept = 0, total = 0;

    if (recv_request(rep, f, &kept, &total))
        answer_request(z, rep, f, total);
    for (size_t i = 0; i < kept; i++)
        zmq_msg_close(&f[i]);
}

/* ---- handler thread ---------------------------------------------------- */

static void *
zap_thread(void *arg)
{
    fr_net_zap *z = arg;
    zmq_pollitem_t items[2] = {{.socket = z->rep, .events = ZMQ_POLLIN},
                               {.socket = z->ctl_thread, .events = ZMQ_POLLIN}};

    for (;;) {
        if (zmq_poll(items, 2, -1) < 0) {
            if (zmq_errno() == ETERM)
                break;
            fr_sleep_ms(10); /* not expected; don't spin if it repeats */
            continue;
        }
        if (items[1].revents & ZMQ_POLLIN)
            break; /* stop request */
        if (items[0].revents & ZMQ_POLLIN)
            handle_request(z, z->rep);
    }
    /* The sockets go back to the thread that joins us, which closes them. */
    return NULL;
}

static void
zap_free(fr_net_zap *z)
{
    if (!z)
        return;
    if (z->rep)
        zmq_close(z->rep);
    if (z->ctl_thread)
        zmq_close(z->ctl_thread);
    if (z->ctl)
        zmq_close(z->ctl);
    allow_list_free(&z->list);
    pthread_mutex_destroy(&z->lock);
    free(z->path);
    free(z);
}

static void *
open_socket(void *zctx, int type)
{
    void *sock = zmq_socket(zctx, type);
    int zero = 0;

    if (sock && zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero) != 0) {
        zmq_close(sock);
        sock = NULL;
    }
    return sock;
}

/* Creates and binds every socket the handler uses, here in the caller's
 * thread, so that the handler is bound before fr_net_zap_start returns and
 * any error is seen by the caller. The thread inherits them. */
static fr_err
open_sockets(fr_net_zap *z)
{
    char ep[64];

    snprintf(ep, sizeof ep, "inproc://fedrec-zap-ctl-%p", (void *)z);
    z->ctl = open_socket(z->zctx, ZMQ_PAIR);
    z->ctl_thread = open_socket(z->zctx, ZMQ_PAIR);
    z->rep = open_socket(z->zctx, ZMQ_REP);
    if (!z->ctl || !z->ctl_thread || !z->rep || zmq_bind(z->ctl, ep) != 0 ||
        zmq_connect(z->ctl_thread, ep) != 0)
        return FR_ESYS;
    if (zmq_bind(z->rep, ZAP_ENDPOINT) != 0) {
        /* EADDRINUSE: another handler already serves this context. */
        fr_log_err(TAG, "cannot bind %s: %s", ZAP_ENDPOINT,
                   zmq_strerror(zmq_errno()));
        return FR_ESTATE;
    }
    return FR_OK;
}

/* Starts the thread with every signal blocked (it inherits our mask), so
 * signals reach the application's own poll loop. */
static fr_err
start_thread(fr_net_zap *z)
{
    sigset_t all, old;
    int err;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    err = pthread_create(&z->thread, NULL, zap_thread, z);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return err ? fr_err_from_errno(err) : FR_OK;
}

static fr_err
zap_alloc(fr_net_ctx *ctx, const char *path, fr_net_zap **out)
{
    fr_net_zap *z = calloc(1, sizeof *z);

    if (!z)
        return FR_ENOMEM;
    pthread_mutex_init(&z->lock, NULL);
    atomic_init(&z->refused, 0);
    z->rl_all = FR_RATELIMIT(RL_BURST, RL_INTERVAL_MS);
    z->zctx = ctx->zctx;
    z->path = strdup(path);
    if (!z->path) {
        zap_free(z);
        return FR_ENOMEM;
    }
    *out = z;
    return FR_OK;
}

fr_err
fr_net_zap_start(fr_net_ctx *ctx, const char *allowlist_path)
{
    fr_net_zap *z = NULL;
    fr_err rc;

    if (!ctx || !allowlist_path)
        return FR_EINVAL;
    if (ctx->zap)
        return FR_ESTATE;
    rc = zap_alloc(ctx, allowlist_path, &z);
    if (rc)
        goto out;
    rc = load_allowlist(allowlist_path, &z->list);
    if (rc)
        goto out;
    rc = open_sockets(z);
    if (rc)
        goto out;
    rc = start_thread(z);
    if (rc)
        goto out;
    fr_log_info(TAG, "allow-list %s: %zu stores, %zu with identity keys",
                allowlist_path, z->list.n, count_sign_keys(&z->list));
    ctx->zap = z;
    z = NULL;
out:
    zap_free(z);
    return rc;
}

void
fr_net_zap_stop_(fr_net_ctx *ctx)
{
    fr_net_zap *z = ctx->zap;

    if (!z)
        return;
    /* The thread is blocked in zmq_poll on its end of this PAIR. */
    while (zmq_send(z->ctl, "", 0, 0) < 0 && zmq_errno() == EINTR)
        ;
    pthread_join(z->thread, NULL);
    zap_free(z);
    ctx->zap = NULL;
}

fr_err
fr_net_zap_reload(fr_net_ctx *ctx)
{
    allow_list fresh = {NULL, 0}, old;
    fr_net_zap *z = ctx ? ctx->zap : NULL;
    size_t n_sign;
    fr_err rc;

    if (!z)
        return FR_ESTATE;
    rc = load_allowlist(z->path, &fresh);
    if (rc) {
        fr_log_warn(TAG, "keeping the previous allow-list");
        return rc;
    }
    /* Counted before the swap: afterwards another reload may free it. */
    n_sign = count_sign_keys(&fresh);
    pthread_mutex_lock(&z->lock);
    old = z->list;
    z->list = fresh;
    pthread_mutex_unlock(&z->lock);
    allow_list_free(&old);
    fr_log_notice(TAG,
                  "reloaded allow-list %s: %zu stores, %zu with identity keys",
                  z->path, fresh.n, n_sign);
    return FR_OK;
}

uint64_t
fr_net_zap_refused(const fr_net_ctx *ctx)
{
    return ctx && ctx->zap ? atomic_load(&ctx->zap->refused) : 0;
}

fr_err
fr_net_zap_sign_key_for(const fr_net_ctx *ctx, const char *store,
                        const char *key_fp, uint8_t pk_out[FR_CRYPTO_PK_BYTES])
{
    fr_net_zap *z = ctx ? ctx->zap : NULL;
    const allow_entry *hit = NULL;
    fr_err rc = FR_ENOENT;

    if (!ctx || !store || !pk_out)
        return FR_EINVAL;
    if (!z)
        return FR_ESTATE;
    pthread_mutex_lock(&z->lock);
    for (size_t i = 0; i < z->list.n; i++) {
        const allow_entry *e = &z->list.v[i];
        if (strcmp(e->name, store) == 0 &&
            (!key_fp || !*key_fp || strcmp(e->fp, key_fp) == 0))
            hit = e; /* without a fingerprint: the newest (last) line */
    }
    if (hit && hit->has_sign) {
        memcpy(pk_out, hit->sign_pk, FR_CRYPTO_PK_BYTES);
        rc = FR_OK;
    }
    pthread_mutex_unlock(&z->lock);
    return rc;
}

fr_err
fr_net_zap_sign_key(const fr_net_ctx *ctx, const char *store,
                    uint8_t pk_out[FR_CRYPTO_PK_BYTES])
{
    return fr_net_zap_sign_key_for(ctx, store, NULL, pk_out);
}

int
fr_net_zap_key_allowed(const fr_net_ctx *ctx, const char *store,
                       const char *key_fp)
{
    fr_net_zap *z = ctx ? ctx->zap : NULL;
    int found = 0;

    if (!z || !store || !key_fp)
        return 0;
    pthread_mutex_lock(&z->lock);
    for (size_t i = 0; i < z->list.n && !found; i++)
        found = strcmp(z->list.v[i].name, store) == 0 &&
                strcmp(z->list.v[i].fp, key_fp) == 0;
    pthread_mutex_unlock(&z->lock);
    return found;
}

/* Copies text with every non-comment line naming store turned into
 * "# revoked STAMP: LINE"; *hits counts them. NULL on ENOMEM. */
static char *
comment_out(const char *text, size_t len, const char *store,
            const char *stamp, size_t *hits, size_t *out_len)
{
    size_t cap = len + 1, n = 0;
    char *out;
    const char *p = text, *end = text + len;

    *hits = 0;
    for (const char *q = text; q < end; q++) /* room for every prefix */
        cap += *q == '\n' ? 64 : 0;
    cap += 64;
    if (!(out = malloc(cap)))
        return NULL;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end, *tok;
        size_t tok_len;
        next_token(p, eol, &tok, &tok_len);
        if (tok_len == strlen(store) && memcmp(tok, store, tok_len) == 0) {
            n += (size_t)snprintf(out + n, cap - n, "# revoked %s: ", stamp);
            ++*hits;
        }
        memcpy(out + n, p, (size_t)(eol - p));
        n += (size_t)(eol - p);
        if (nl)
            out[n++] = '\n';
        p = eol + 1;
    }
    *out_len = n;
    return out;
}

fr_err
fr_net_zap_revoke(fr_net_ctx *ctx, const char *store, char *err,
                  size_t errlen)
{
    fr_net_zap *z = ctx ? ctx->zap : NULL;
    uint8_t *text = NULL;
    char *fresh = NULL, stamp[32];
    size_t len = 0, hits = 0, fresh_len = 0;
    time_t now = time(NULL);
    struct tm tm;
    fr_err rc;

    if (!z)
        return FR_ESTATE;
    if (!store || !fr_net_store_name_valid(store)) {
        snprintf(err, errlen, "not a valid store name");
        return FR_EINVAL;
    }
    if ((rc = fr_file_read_all(z->path, ALLOWLIST_MAX_BYTES, &text, &len))) {
        snprintf(err, errlen, "cannot read the allow-list %s: %s", z->path,
                 fr_strerror(rc));
        return rc;
    }
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    fresh = comment_out((const char *)text, len, store, stamp, &hits,
                        &fresh_len);
    if (!fresh) {
        rc = FR_ENOMEM;
        snprintf(err, errlen, "out of memory");
    } else if (hits == 0) {
        rc = FR_ENOENT;
        snprintf(err, errlen, "store %s is not on the allow-list %s", store,
                 z->path);
    } else if ((rc = fr_file_write_atomic(z->path, fresh, fresh_len, 0600))) {
        snprintf(err, errlen, "cannot rewrite the allow-list %s: %s",
                 z->path, fr_strerror(rc));
    } else if ((rc = fr_net_zap_reload(ctx))) {
        snprintf(err, errlen, "the allow-list %s no longer loads: %s",
                 z->path, fr_strerror(rc));
    } else {
        snprintf(err, errlen, "store %s revoked: %zu key line(s) commented "
                 "out in %s", store, hits, z->path);
        fr_log_ev(FR_LOG_NOTICE, TAG, "store_revoked",
                  "store=%s revoked: lines=%zu allowlist=%s", store, hits,
                  z->path);
    }
    free(fresh);
    free(text);
    return rc;
}

int
fr_net_zap_allowed(const fr_net_ctx *ctx, const char *store)
{
    fr_net_zap *z = ctx ? ctx->zap : NULL;
    int found = 0;

    if (!z || !store)
        return 0;
    pthread_mutex_lock(&z->lock);
    for (size_t i = 0; i < z->list.n && !found; i++)
        found = strcmp(z->list.v[i].name, store) == 0;
    pthread_mutex_unlock(&z->lock);
    return found;
}
