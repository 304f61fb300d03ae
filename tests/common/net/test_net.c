/*
 * test_net.c - CURVE transport and ZAP allow-list (common/net).
 *
 * Each test runs a real aggregator-side ROUTER on tcp://127.0.0.1 with a port
 * the kernel picks, and store-side DEALERs in the same process. "Nothing gets
 * through" is checked with a generous receive timeout (1.5 s) and, where a
 * ZAP refusal is expected, with the refused counter; there are no other
 * timing assertions. The misbehaving peers (multipart messages, malformed ZAP
 * requests) use raw ZeroMQ, since our API cannot produce them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zmq.h>

#include "base/log.h"
#include "base/util.h"
#include "crypto/crypto.h"
#include "net/net.h"
#include "net/net_int.h"

#define NOTHING_MS 1500  /* how long we wait to conclude nothing arrives */
#define ARRIVE_MS 10000  /* generous bound for something that must arrive */
#define SERVER_MAX (64u << 10)
#define CLIENT_MAX (1u << 20)

typedef struct fixture {
    char dir[64];
    char allow[PATH_MAX];
    char endpoint[256];
    fr_crypto_keypair *server, *a, *b, *c;
    fr_net_ctx *ctx;
    fr_net_sock *router;
    /* Everything opened in ctx, so a failed assertion still lets teardown
     * close it (the context refuses to end with sockets open). */
    fr_net_sock *clients[8];
    void *raw; /* a raw ZeroMQ socket in ctx, if any */
} fixture;

/* ---- log capture ------------------------------------------------------- */

static pthread_mutex_t cap_lock = PTHREAD_MUTEX_INITIALIZER;
static char cap_text[16384];
static size_t cap_len;

static void
capture_sink(void *arg, fr_log_level level, const char *tag, const char *line)
{
    int n;

    (void)arg;
    (void)level;
    pthread_mutex_lock(&cap_lock);
    n = snprintf(cap_text + cap_len, sizeof cap_text - cap_len, "%s: %s\n",
                 tag, line);
    if (n > 0 && cap_len + (size_t)n < sizeof cap_text)
        cap_len += (size_t)n;
    pthread_mutex_unlock(&cap_lock);
}

static void
capture_reset(void)
{
    pthread_mutex_lock(&cap_lock);
    cap_len = 0;
    cap_text[0] = '\0';
    pthread_mutex_unlock(&cap_lock);
}

static int
captured(const char *needle)
{
    int found;

    pthread_mutex_lock(&cap_lock);
    found = strstr(cap_text, needle) != NULL;
    pthread_mutex_unlock(&cap_lock);
    return found;
}

static int
captured_count(const char *needle)
{
    int n = 0;

    pthread_mutex_lock(&cap_lock);
    for (const char *p = cap_text; (p = strstr(p, needle)) != NULL; p++)
        n++;
    pthread_mutex_unlock(&cap_lock);
    return n;
}

/* ---- helpers ------------------------------------------------------------ */

static void
allow_line(char *out, size_t cap, const char *name, const fr_crypto_keypair *kp)
{
    char hex[65];

    fr_crypto_key_to_hex(fr_crypto_keypair_public(kp), hex);
    snprintf(out, cap, "%s %s\n", name, hex);
}

static void
write_text(const char *path, const char *text)
{
    assert_int_equal(fr_file_write_atomic(path, text, strlen(text), 0644),
                     FR_OK);
}

/* Writes the allow-list with the given stores (NULL-terminated pairs). */
static void
write_allow(const fixture *f, const char *name1, const fr_crypto_keypair *k1,
            const char *name2, const fr_crypto_keypair *k2)
{
    char text[512], line[160];

    snprintf(text, sizeof text, "# stores allowed to train\n\n");
    allow_line(line, sizeof line, name1, k1);
    strcat(text, line);
    if (name2) {
        allow_line(line, sizeof line, name2, k2);
        strcat(text, line);
    }
    write_text(f->allow, text);
}

static int
setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);

    assert_non_null(f);
    strcpy(f->dir, "/tmp/fr-test-net-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->allow, sizeof f->allow, "%s/allowlist", f->dir);
    assert_int_equal(fr_crypto_init(), FR_OK);
    assert_int_equal(fr_crypto_keypair_generate(&f->server), FR_OK);
    assert_int_equal(fr_crypto_keypair_generate(&f->a), FR_OK);
    assert_int_equal(fr_crypto_keypair_generate(&f->b), FR_OK);
    assert_int_equal(fr_crypto_keypair_generate(&f->c), FR_OK);
    write_allow(f, "store-a", f->a, NULL, NULL);
    assert_int_equal(fr_net_ctx_new(&f->ctx), FR_OK);
    assert_int_equal(fr_net_zap_start(f->ctx, f->allow), FR_OK);
    assert_int_equal(fr_net_listen(f->ctx, "tcp://127.0.0.1:*", f->server,
                                   SERVER_MAX, &f->router),
                     FR_OK);
    assert_int_equal(
        fr_net_sock_endpoint(f->router, f->endpoint, sizeof f->endpoint),
        FR_OK);
    assert_non_null(strstr(f->endpoint, "tcp://127.0.0.1:"));
    capture_reset();
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture *f = *state;
    DIR *d;
    struct dirent *e;
    char path[PATH_MAX];

    for (size_t i = 0; i < FR_ARRAY_LEN(f->clients); i++)
        fr_net_sock_destroy(&f->clients[i]);
    if (f->raw)
        zmq_close(f->raw);
    fr_net_sock_destroy(&f->router);
    fr_net_ctx_destroy(&f->ctx);
    assert_null(f->ctx);
    fr_crypto_keypair_destroy(&f->server);
    fr_crypto_keypair_destroy(&f->a);
    fr_crypto_keypair_destroy(&f->b);
    fr_crypto_keypair_destroy(&f->c);
    d = opendir(f->dir);
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", f->dir, e->d_name);
        unlink(path);
    }
    if (d)
        closedir(d);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* Keeps s in the fixture until close_sock or teardown. */
static fr_net_sock *
track(fixture *f, fr_net_sock *s)
{
    for (size_t i = 0; i < FR_ARRAY_LEN(f->clients); i++) {
        if (!f->clients[i]) {
            f->clients[i] = s;
            return s;
        }
    }
    fail_msg("too many sockets in one test");
    return NULL;
}

static void
close_sock(fixture *f, fr_net_sock **sp)
{
    for (size_t i = 0; i < FR_ARRAY_LEN(f->clients); i++)
        if (f->clients[i] == *sp)
            f->clients[i] = NULL;
    fr_net_sock_destroy(sp);
    assert_null(*sp);
}

static fr_net_sock *
connect_as(fixture *f, const fr_crypto_keypair *kp, const uint8_t *server_pk)
{
    fr_net_sock *s = NULL;

    assert_int_equal(fr_net_connect(f->ctx, f->endpoint, kp, server_pk,
                                    CLIENT_MAX, &s),
                     FR_OK);
    return track(f, s);
}

static void
send_str(fr_net_sock *s, const fr_net_peer *peer, const char *text)
{
    assert_int_equal(fr_net_send(s, peer, text, strlen(text)), FR_OK);
}

/* A send on a connection whose handshake is refused: libzmq may already
 * have dropped the pipe when the refusal came back before the send (then
 * the send finds no peer, FR_ETIMEDOUT); either way nothing may arrive. */
static void
send_refused(fr_net_sock *s, const char *text)
{
    fr_err rc = fr_net_send(s, NULL, text, strlen(text));

    assert_true(rc == FR_OK || rc == FR_ETIMEDOUT);
}

/* Receives a message that must arrive and must equal text. */
static void
expect_str(fr_net_sock *s, fr_net_peer *peer, const char *text)
{
    uint8_t *buf = NULL;
    size_t len = 0;

    assert_int_equal(fr_net_recv(s, ARRIVE_MS, peer, &buf, &len), FR_OK);
    assert_int_equal(len, strlen(text));
    assert_memory_equal(buf, text, len);
    free(buf);
}

static void
expect_nothing(fr_net_sock *s)
{
    fr_net_peer peer;
    uint8_t *buf = NULL;
    size_t len = 0;

    assert_int_equal(fr_net_recv(s, NOTHING_MS, &peer, &buf, &len),
                     FR_ETIMEDOUT);
    assert_null(buf);
}

static int
wait_refused_above(const fr_net_ctx *ctx, uint64_t before)
{
    int64_t end = fr_clock_ms() + ARRIVE_MS;

    while (fr_net_zap_refused(ctx) <= before && fr_clock_ms() < end)
        fr_sleep_ms(20);
    return fr_net_zap_refused(ctx) > before;
}

/* ---- tests --------------------------------------------------------------- */

static void
test_allowed_store_round_trip(void **state)
{
    fixture *f = *state;
    fr_net_sock *cl = connect_as(f, f->a, fr_crypto_keypair_public(f->server));
    fr_net_peer peer;

    assert_true(fr_net_zap_allowed(f->ctx, "store-a"));
    assert_false(fr_net_zap_allowed(f->ctx, "store-b"));
    send_str(cl, NULL, "hello from a");
    memset(&peer, 0xAA, sizeof peer);
    expect_str(f->router, &peer, "hello from a");
    assert_string_equal(peer.store, "store-a");
    assert_true(peer.id_len > 0 && peer.id_len <= FR_NET_PEER_ID_MAX);

    send_str(f->router, &peer, "welcome");
    expect_str(cl, NULL, "welcome");
    /* Order is kept on one connection. */
    send_str(cl, NULL, "one");
    send_str(cl, NULL, "two");
    expect_str(f->router, &peer, "one");
    expect_str(f->router, &peer, "two");
    assert_string_equal(peer.store, "store-a");
    assert_int_equal(fr_net_zap_refused(f->ctx), 0);
    close_sock(f, &cl);
    assert_null(cl);
}

static void
test_unlisted_store_refused(void **state)
{
    fixture *f = *state;
    uint64_t before = fr_net_zap_refused(f->ctx);
    fr_net_sock *cl;
    char fpr[FR_CRYPTO_FPR_CHARS + 1], sk_hex[65];

    fr_log_set_sink(capture_sink, NULL);
    cl = connect_as(f, f->b, fr_crypto_keypair_public(f->server));
    send_refused(cl, "let me in");
    expect_nothing(f->router);
    assert_true(wait_refused_above(f->ctx, before));

    /* The refusal is logged by fingerprint with the peer address, and the
     * client's secret never appears. */
    fr_crypto_fingerprint(fr_crypto_keypair_public(f->b), fpr);
    fr_crypto_key_to_hex(fr_crypto_keypair_secret(f->b), sk_hex);
    assert_true(captured(fpr));
    assert_true(captured("127.0.0.1"));
    assert_true(captured("key not on the allow-list"));
    assert_false(captured(sk_hex));

    close_sock(f, &cl);

    /* libzmq gives up on a connection whose handshake was refused, so a
     * store only retries with a new socket. Each attempt is refused and
     * counted, but the log names the key once per interval. */
    for (int i = 0; i < 3; i++) {
        cl = connect_as(f, f->b, fr_crypto_keypair_public(f->server));
        send_refused(cl, "let me in");
        assert_true(wait_refused_above(f->ctx, before + 1 + (uint64_t)i));
        close_sock(f, &cl);
    }
    expect_nothing(f->router);
    assert_int_equal(fr_net_zap_refused(f->ctx), before + 4);
    assert_int_equal(captured_count(fpr), 1);
    fr_log_set_sink(NULL, NULL);
}

static void
test_wrong_server_key(void **state)
{
    fixture *f = *state;
    fr_net_sock *bad, *good;
    fr_net_peer peer;

    /* A listed store that pins some other server key never completes the
     * handshake, so nothing it sends is delivered. */
    bad = connect_as(f, f->a, fr_crypto_keypair_public(f->c));
    send_refused(bad, "to the wrong server");
    expect_nothing(f->router);
    close_sock(f, &bad);

    good = connect_as(f, f->a, fr_crypto_keypair_public(f->server));
    send_str(good, NULL, "to the right server");
    expect_str(f->router, &peer, "to the right server");
    assert_string_equal(peer.store, "store-a");
    close_sock(f, &good);
}

static void
test_reload_admits_new_store(void **state)
{
    fixture *f = *state;
    const uint8_t *spk = fr_crypto_keypair_public(f->server);
    uint64_t before = fr_net_zap_refused(f->ctx);
    fr_net_sock *b = connect_as(f, f->b, spk), *a;
    fr_net_peer pa, pb;

    send_refused(b, "before reload");
    assert_true(wait_refused_above(f->ctx, before));
    expect_nothing(f->router);
    close_sock(f, &b);

    write_allow(f, "store-a", f->a, "store-b", f->b);
    assert_int_equal(fr_net_zap_reload(f->ctx), FR_OK);
    assert_true(fr_net_zap_allowed(f->ctx, "store-b"));

    b = connect_as(f, f->b, spk);
    a = connect_as(f, f->a, spk);
    send_str(b, NULL, "from b");
    expect_str(f->router, &pb, "from b");
    assert_string_equal(pb.store, "store-b");
    send_str(a, NULL, "from a");
    expect_str(f->router, &pa, "from a");
    assert_string_equal(pa.store, "store-a");

    /* Replies are routed to the right store. */
    send_str(f->router, &pb, "for b");
    send_str(f->router, &pa, "for a");
    expect_str(b, NULL, "for b");
    expect_str(a, NULL, "for a");
    close_sock(f, &a);
    close_sock(f, &b);
}

static void
test_malformed_allowlist(void **state)
{
    fixture *f = *state;
    char hex_a[65], hex_b[65], text[1024];
    const char *bad_lines[][2] = {
        {"bad hex", "store-x %.63sz\n"},
        {"short hex", "store-x %.62s\n"},
        {"bad name", "store/x %s\n"},
        {"bad name", "st\xc3\xa9re %s\n"},
        {"long name",
         "s123456789012345678901234567890123456789012345678901234567890123 %s\n"},
        {"extra field", "store-x %s extra\n"},
        {"missing key", "store-x\n"},
    };
    fr_net_ctx *fresh = NULL;
    fr_net_sock *cl;
    fr_net_peer peer;

    fr_crypto_key_to_hex(fr_crypto_keypair_public(f->a), hex_a);
    fr_crypto_key_to_hex(fr_crypto_keypair_public(f->b), hex_b);
    fr_log_set_sink(capture_sink, NULL);
    for (size_t i = 0; i < FR_ARRAY_LEN(bad_lines); i++) {
        int n = snprintf(text, sizeof text, "store-a %s\n", hex_a);
        snprintf(text + n, sizeof text - (size_t)n, bad_lines[i][1], hex_b);
        write_text(f->allow, text);
        capture_reset();
        assert_int_equal(fr_net_zap_reload(f->ctx), FR_EINVAL);
        assert_true(captured("line 2")); /* the log names the line */
    }
    /* Duplicates, by name (a third line) and by key, name both lines. */
    {
        char hex_c[65];
        fr_crypto_key_to_hex(fr_crypto_keypair_public(f->c), hex_c);
        snprintf(text, sizeof text, "store-a %s\n# c\nstore-a %s\nstore-a %s\n",
                 hex_a, hex_b, hex_c);
    }
    write_text(f->allow, text);
    capture_reset();
    assert_int_equal(fr_net_zap_reload(f->ctx), FR_EINVAL);
    assert_true(captured("line 4: store name listed a third time"));
    snprintf(text, sizeof text, "store-a %s\nstore-b %s\n", hex_a, hex_a);
    write_text(f->allow, text);
    capture_reset();
    assert_int_equal(fr_net_zap_reload(f->ctx), FR_EINVAL);
    assert_true(captured("line 2: duplicate public key"));
    /* A missing file is not a list either. */
    unlink(f->allow);
    assert_int_equal(fr_net_zap_reload(f->ctx), FR_ENOENT);
    fr_log_set_sink(NULL, NULL);

    /* The list in force is still the original one. */
    assert_true(fr_net_zap_allowed(f->ctx, "store-a"));
    assert_false(fr_net_zap_allowed(f->ctx, "store-b"));
    cl = connect_as(f, f->a, fr_crypto_keypair_public(f->server));
    send_str(cl, NULL, "still here");
    expect_str(f->router, &peer, "still here");
    close_sock(f, &cl);

    /* A bad list also stops the handler from starting at all. */
    snprintf(text, sizeof text, "store-a %s\nstore-b %s\n", hex_a, hex_a);
    write_text(f->allow, text);
    assert_int_equal(fr_net_ctx_new(&fresh), FR_OK);
    assert_int_equal(fr_net_zap_start(fresh, f->allow), FR_EINVAL);
    assert_int_equal(fr_net_zap_reload(fresh), FR_ESTATE);
    fr_net_ctx_destroy(&fresh);
}

static void
test_allowlist_format_accepted(void **state)
{
    fixture *f = *state;
    char hex_a[65], hex_b[65], text[1024];

    fr_crypto_key_to_hex(fr_crypto_keypair_public(f->a), hex_a);
    fr_crypto_key_to_hex(fr_crypto_keypair_public(f->b), hex_b);
    for (char *p = hex_b; *p; p++) /* uppercase hex is the same key */
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    snprintf(text, sizeof text,
             "# comment\r\n\r\n   \t\n  store-a\t%s  \r\n"
             "Store_B.2-x %s", /* no final newline */
             hex_a, hex_b);
    write_text(f->allow, text);
    assert_int_equal(fr_net_zap_reload(f->ctx), FR_OK);
    assert_true(fr_net_zap_allowed(f->ctx, "store-a"));
    assert_true(fr_net_zap_allowed(f->ctx, "Store_B.2-x"));
    assert_false(fr_net_zap_allowed(f->ctx, "store-b"));
    assert_false(fr_net_zap_allowed(f->ctx, NULL));
}

/* A key rotation: two lines for one store admit both keys, each message
 * says which key sent it, each key has its own identity key; taking the
 * old line off refuses the old key's messages on its open connection; a
 * revocation comments the store's lines out on disk. */
static void
test_rotation_and_revoke(void **state)
{
    fixture *f = *state;
    fr_crypto_signkey *s_old = NULL, *s_new = NULL;
    char hex_a[65], hex_b[65], sig_old[65], sig_new[65], text[1024];
    char fp_old[FR_NET_KEY_FP_HEX + 1], fp_new[FR_NET_KEY_FP_HEX + 1];
    char err[256];
    uint8_t pk[FR_CRYPTO_PK_BYTES];
    fr_net_sock *old_cl, *new_cl;
    fr_net_peer peer;
    char *disk;

    assert_int_equal(fr_crypto_signkey_generate(&s_old), FR_OK);
    assert_int_equal(fr_crypto_signkey_generate(&s_new), FR_OK);
    fr_crypto_key_to_hex(fr_crypto_keypair_public(f->a), hex_a);
    fr_crypto_key_to_hex(fr_crypto_keypair_public(f->b), hex_b);
    fr_crypto_key_to_hex(fr_crypto_signkey_public(s_old), sig_old);
    fr_crypto_key_to_hex(fr_crypto_signkey_public(s_new), sig_new);
    snprintf(text, sizeof text, "store-a %s %s\nstore-a %s %s\n", hex_a,
             sig_old, hex_b, sig_new);
    write_text(f->allow, text);
    assert_int_equal(fr_net_zap_reload(f->ctx), FR_OK);

    old_cl = connect_as(f, f->a, fr_crypto_keypair_public(f->server));
    send_str(old_cl, NULL, "old key");
    expect_str(f->router, &peer, "old key");
    assert_string_equal(peer.store, "store-a");
    assert_int_equal(strlen(peer.key_fp), FR_NET_KEY_FP_HEX);
    memcpy(fp_old, peer.key_fp, sizeof fp_old);
    new_cl = connect_as(f, f->b, fr_crypto_keypair_public(f->server));
    send_str(new_cl, NULL, "new key");
    expect_str(f->router, &peer, "new key");
    assert_string_equal(peer.store, "store-a");
    memcpy(fp_new, peer.key_fp, sizeof fp_new);
    assert_string_not_equal(fp_old, fp_new);
    assert_true(fr_net_zap_key_allowed(f->ctx, "store-a", fp_old));
    assert_true(fr_net_zap_key_allowed(f->ctx, "store-a", fp_new));
    assert_false(fr_net_zap_key_allowed(f->ctx, "store-b", fp_new));
    assert_int_equal(fr_net_zap_sign_key_for(f->ctx, "store-a", fp_old, pk),
                     FR_OK);
    assert_memory_equal(pk, fr_crypto_signkey_public(s_old), sizeof pk);
    assert_int_equal(fr_net_zap_sign_key_for(f->ctx, "store-a", fp_new, pk),
                     FR_OK);
    assert_memory_equal(pk, fr_crypto_signkey_public(s_new), sizeof pk);
    /* without a fingerprint: the newest line */
    assert_int_equal(fr_net_zap_sign_key(f->ctx, "store-a", pk), FR_OK);
    assert_memory_equal(pk, fr_crypto_signkey_public(s_new), sizeof pk);

    /* The old line goes: the old connection still delivers (ZeroMQ does
     * not re-handshake) but its key is no longer allowed. */
    snprintf(text, sizeof text, "store-a %s %s\n", hex_b, sig_new);
    write_text(f->allow, text);
    assert_int_equal(fr_net_zap_reload(f->ctx), FR_OK);
    send_str(old_cl, NULL, "after removal");
    expect_str(f->router, &peer, "after removal");
    assert_false(fr_net_zap_key_allowed(f->ctx, peer.store, peer.key_fp));
    assert_true(fr_net_zap_key_allowed(f->ctx, "store-a", fp_new));

    /* Revocation comments the lines out and reloads. */
    assert_int_equal(fr_net_zap_revoke(f->ctx, "store-x", err, sizeof err),
                     FR_ENOENT);
    assert_int_equal(fr_net_zap_revoke(f->ctx, "bad name!", err, sizeof err),
                     FR_EINVAL);
    assert_int_equal(fr_net_zap_revoke(f->ctx, "store-a", err, sizeof err),
                     FR_OK);
    assert_non_null(strstr(err, "revoked"));
    assert_false(fr_net_zap_allowed(f->ctx, "store-a"));
    assert_false(fr_net_zap_key_allowed(f->ctx, "store-a", fp_new));
    disk = NULL;
    {
        FILE *fp = fopen(f->allow, "r");
        char buf[1024];
        size_t n;
        assert_non_null(fp);
        n = fread(buf, 1, sizeof buf - 1, fp);
        fclose(fp);
        buf[n] = 0;
        disk = strdup(buf);
    }
    assert_non_null(strstr(disk, "# revoked "));
    assert_non_null(strstr(disk, hex_b));
    free(disk);
    close_sock(f, &old_cl);
    close_sock(f, &new_cl);
    fr_crypto_signkey_destroy(&s_old);
    fr_crypto_signkey_destroy(&s_new);
}

/* Three-column lines carry identity keys; two-column lines still admit a
 * store, without one. */
static void
test_allowlist_sign_keys(void **state)
{
    fixture *f = *state;
    fr_crypto_signkey *sa = NULL, *sa2 = NULL, *sc = NULL;
    char hex_a[65], hex_b[65], hex_c[65], sig_a[65], sig_a2[65], sig_c[65];
    char text[1024];
    uint8_t pk[FR_CRYPTO_PK_BYTES], untouched[FR_CRYPTO_PK_BYTES];
    fr_net_ctx *bare = NULL;
    fr_net_sock *cl;
    fr_net_peer peer;

    assert_int_equal(fr_crypto_signkey_generate(&sa), FR_OK);
    assert_int_equal(fr_crypto_signkey_generate(&sa2), FR_OK);
    assert_int_equal(fr_crypto_signkey_generate(&sc), FR_OK);
    fr_crypto_key_to_hex(fr_crypto_keypair_public(f->a), hex_a);
    fr_crypto_key_to_hex(fr_crypto_keypair_public(f->b), hex_b);
    fr_crypto_key_to_hex(fr_crypto_keypair_public(f->c), hex_c);
    fr_crypto_key_to_hex(fr_crypto_signkey_public(sa), sig_a);
    fr_crypto_key_to_hex(fr_crypto_signkey_public(sa2), sig_a2);
    fr_crypto_key_to_hex(fr_crypto_signkey_public(sc), sig_c);

    /* The list from setup has two columns: listed, but no identity key. */
    memset(untouched, 0x5A, sizeof untouched);
    memcpy(pk, untouched, sizeof pk);
    assert_int_equal(fr_net_zap_sign_key(f->ctx, "store-a", pk), FR_ENOENT);
    assert_memory_equal(pk, untouched, sizeof pk);

    snprintf(text, sizeof text,
             "store-a %s %s\nstore-b %s\n  store-c\t%s\t%s  \r\n", hex_a, sig_a,
             hex_b, hex_c, sig_c);
    write_text(f->allow, text);
    assert_int_equal(fr_net_zap_reload(f->ctx), FR_OK);
    assert_int_equal(fr_net_zap_sign_key(f->ctx, "store-a", pk), FR_OK);
    assert_memory_equal(pk, fr_crypto_signkey_public(sa), sizeof pk);
    assert_int_equal(fr_net_zap_sign_key(f->ctx, "store-c", pk), FR_OK);
    assert_memory_equal(pk, fr_crypto_signkey_public(sc), sizeof pk);
    memcpy(pk, untouched, sizeof pk);
    assert_int_equal(fr_net_zap_sign_key(f->ctx, "store-b", pk), FR_ENOENT);
    assert_int_equal(fr_net_zap_sign_key(f->ctx, "store-x", pk), FR_ENOENT);
    assert_int_equal(fr_net_zap_sign_key(f->ctx, "", pk), FR_ENOENT);
    assert_memory_equal(pk, untouched, sizeof pk);
    assert_int_equal(fr_net_zap_sign_key(f->ctx, NULL, pk), FR_EINVAL);
    assert_true(fr_net_zap_allowed(f->ctx, "store-b"));

    /* Admission is by CURVE key, as before. */
    cl = connect_as(f, f->a, fr_crypto_keypair_public(f->server));
    send_str(cl, NULL, "three columns");
    expect_str(f->router, &peer, "three columns");
    assert_string_equal(peer.store, "store-a");
    close_sock(f, &cl);

    /* A reload picks up a changed identity key. */
    snprintf(text, sizeof text, "store-a %s %s\nstore-b %s\n", hex_a, sig_a2,
             hex_b);
    write_text(f->allow, text);
    assert_int_equal(fr_net_zap_reload(f->ctx), FR_OK);
    assert_int_equal(fr_net_zap_sign_key(f->ctx, "store-a", pk), FR_OK);
    assert_memory_equal(pk, fr_crypto_signkey_public(sa2), sizeof pk);
    assert_int_equal(fr_net_zap_sign_key(f->ctx, "store-c", pk), FR_ENOENT);

    /* Bad third columns are refused, naming the line, and the list in force
     * (with its identity keys) stays. */
    {
        const char *bad[][2] = {
            {"%s %.63s\n", "third column"},
            {"%s %sz\n", "third column"},
            {"%s %.63sg\n", "third column"},
            {"%s %s extra\n", "expected"},
        };
        fr_log_set_sink(capture_sink, NULL);
        for (size_t i = 0; i < FR_ARRAY_LEN(bad); i++) {
            char line[256];
            int n =
                snprintf(text, sizeof text, "store-a %s %s\n", hex_a, sig_a);
            snprintf(line, sizeof line, bad[i][0], hex_b, sig_c);
            snprintf(text + n, sizeof text - (size_t)n, "store-b %s", line);
            write_text(f->allow, text);
            capture_reset();
            assert_int_equal(fr_net_zap_reload(f->ctx), FR_EINVAL);
            assert_true(captured("line 2"));
            assert_true(captured(bad[i][1]));
        }
        /* The same identity key for two stores. */
        snprintf(text, sizeof text, "store-a %s %s\n#\nstore-b %s %s\n", hex_a,
                 sig_c, hex_b, sig_c);
        write_text(f->allow, text);
        capture_reset();
        assert_int_equal(fr_net_zap_reload(f->ctx), FR_EINVAL);
        assert_true(captured("line 3: duplicate identity (signing) key "
                             "(first on line 1)"));
        /* The CURVE key pasted into the identity column. */
        snprintf(text, sizeof text, "store-a %s %s\n", hex_a, hex_a);
        write_text(f->allow, text);
        capture_reset();
        assert_int_equal(fr_net_zap_reload(f->ctx), FR_EINVAL);
        assert_true(captured("line 1"));
        fr_log_set_sink(NULL, NULL);
    }
    assert_int_equal(fr_net_zap_sign_key(f->ctx, "store-a", pk), FR_OK);
    assert_memory_equal(pk, fr_crypto_signkey_public(sa2), sizeof pk);
    assert_int_equal(fr_net_zap_sign_key(f->ctx, "store-b", pk), FR_ENOENT);
    assert_int_equal(fr_net_zap_sign_key(f->ctx, "store-c", pk), FR_ENOENT);

    /* Without a started handler there is no list to ask. */
    assert_int_equal(fr_net_ctx_new(&bare), FR_OK);
    assert_int_equal(fr_net_zap_sign_key(bare, "store-a", pk), FR_ESTATE);
    fr_net_ctx_destroy(&bare);

    fr_crypto_signkey_destroy(&sa);
    fr_crypto_signkey_destroy(&sa2);
    fr_crypto_signkey_destroy(&sc);
}

static void
test_store_name_rule(void **state)
{
    char name[80];

    (void)state;
    assert_true(fr_net_store_name_valid("a"));
    assert_true(fr_net_store_name_valid("Store-01.eu_west"));
    assert_false(fr_net_store_name_valid(""));
    assert_false(fr_net_store_name_valid(NULL));
    assert_false(fr_net_store_name_valid("a b"));
    assert_false(fr_net_store_name_valid("a/b"));
    assert_false(fr_net_store_name_valid("a\n"));
    memset(name, 'x', 63);
    name[63] = '\0';
    assert_true(fr_net_store_name_valid(name));
    name[63] = 'x';
    name[64] = '\0';
    assert_false(fr_net_store_name_valid(name));
}

static void
test_oversized_message(void **state)
{
    fixture *f = *state;
    fr_net_sock *cl = connect_as(f, f->a, fr_crypto_keypair_public(f->server));
    size_t big_len = SERVER_MAX + 1;
    uint8_t *big = calloc(1, big_len), *buf = NULL;
    fr_net_peer peer;
    size_t len = 0;
    fr_err rc = FR_ETIMEDOUT;

    assert_non_null(big);
    assert_int_equal(fr_net_send(cl, NULL, big, big_len), FR_OK);
    expect_nothing(f->router);
    /* The server dropped that connection; ZeroMQ reconnects the store and a
     * normal message gets through. A message sent while the old connection
     * was being torn down may be lost with it, so keep sending. */
    for (int i = 0; i < 40 && rc == FR_ETIMEDOUT; i++) {
        send_str(cl, NULL, "normal");
        rc = fr_net_recv(f->router, 250, &peer, &buf, &len);
    }
    assert_int_equal(rc, FR_OK);
    assert_int_equal(len, 6);
    assert_memory_equal(buf, "normal", 6);
    assert_string_equal(peer.store, "store-a");
    free(buf);
    free(big);
    close_sock(f, &cl);
}

static void
test_send_to_gone_peer(void **state)
{
    fixture *f = *state;
    fr_net_sock *cl = connect_as(f, f->a, fr_crypto_keypair_public(f->server));
    fr_net_peer peer, bogus = {.id = {1, 2, 3}, .id_len = 3};
    int64_t end;
    fr_err rc = FR_OK;

    assert_int_equal(fr_net_send(f->router, &bogus, "x", 1), FR_ECLOSED);
    assert_int_equal(fr_net_send(f->router, NULL, "x", 1), FR_EINVAL);
    send_str(cl, NULL, "hi");
    expect_str(f->router, &peer, "hi");
    close_sock(f, &cl);
    /* Once the server has seen the disconnect, sends fail as closed. */
    end = fr_clock_ms() + ARRIVE_MS;
    while (fr_clock_ms() < end) {
        rc = fr_net_send(f->router, &peer, "bye", 3);
        if (rc != FR_OK)
            break;
        fr_sleep_ms(20);
    }
    assert_int_equal(rc, FR_ECLOSED);
}

/* One payload for several peers: each gets it whole, a gone peer fails on
 * its own, and the caller's buffer is free for reuse at once. */
static void
test_send_shared(void **state)
{
    enum { LEN = 100000 };
    fixture *f = *state;
    const uint8_t *spk = fr_crypto_keypair_public(f->server);
    fr_net_sock *ca, *cb;
    fr_net_peer pa, pb, bogus = {.id = {1, 2, 3}, .id_len = 3};
    const fr_net_peer *peers[3];
    fr_err rcs[3] = {FR_ESYS, FR_ESYS, FR_ESYS};
    char *buf = malloc(LEN), *want = malloc(LEN);

    assert_non_null(buf);
    assert_non_null(want);
    write_allow(f, "store-a", f->a, "store-b", f->b);
    assert_int_equal(fr_net_zap_reload(f->ctx), FR_OK);
    ca = connect_as(f, f->a, spk);
    cb = connect_as(f, f->b, spk);
    send_str(ca, NULL, "a here");
    expect_str(f->router, &pa, "a here");
    send_str(cb, NULL, "b here");
    expect_str(f->router, &pb, "b here");
    peers[0] = &pa;
    peers[1] = &bogus;
    peers[2] = &pb;

    memset(want, 'm', LEN - 1);
    want[LEN - 1] = '\0';
    memcpy(buf, want, LEN);
    assert_int_equal(fr_net_send_shared(f->router, peers, 3, buf, LEN - 1,
                                        rcs),
                     FR_OK);
    assert_int_equal(rcs[0], FR_OK);
    assert_int_equal(rcs[1], FR_ECLOSED);
    assert_int_equal(rcs[2], FR_OK);
    memset(buf, 'x', LEN); /* the queued copy is not the caller's */
    expect_str(ca, NULL, want);
    expect_str(cb, NULL, want);
    free(buf);
    free(want);

    assert_int_equal(fr_net_send_shared(f->router, peers, 0, "x", 1, NULL),
                     FR_OK);
    assert_int_equal(fr_net_send_shared(f->router, peers, 1, NULL, 1, rcs),
                     FR_EINVAL);
    assert_int_equal(fr_net_send_shared(f->router, peers, 1, "x", 1, NULL),
                     FR_EINVAL);
    assert_int_equal(fr_net_send_shared(ca, peers, 1, "x", 1, rcs),
                     FR_EINVAL);
    close_sock(f, &ca);
    close_sock(f, &cb);
}

/* An owned payload goes out without a copy and is counted as queued until
 * ZeroMQ has written or dropped it; the caller's pointer is taken either
 * way (ASan's leak check sees every path free it). */
static void
test_send_owned(void **state)
{
    enum { LEN = 256 << 10 }; /* under CLIENT_MAX */
    fixture *f = *state;
    const uint8_t *spk = fr_crypto_keypair_public(f->server);
    fr_net_sock *ca;
    fr_net_peer pa, bogus = {.id = {1, 2, 3}, .id_len = 3};
    uint8_t *buf = malloc(LEN);
    char *want = malloc(LEN);
    int waited = 0;

    assert_non_null(buf);
    assert_non_null(want);
    write_allow(f, "store-a", f->a, "store-b", f->b);
    assert_int_equal(fr_net_zap_reload(f->ctx), FR_OK);
    ca = connect_as(f, f->a, spk);
    send_str(ca, NULL, "a here");
    expect_str(f->router, &pa, "a here");
    assert_int_equal(fr_net_queued_bytes(f->ctx), 0);

    memset(want, 'o', LEN - 1);
    want[LEN - 1] = '\0';
    memcpy(buf, want, LEN);
    assert_int_equal(fr_net_send_owned(f->router, &pa, &buf, LEN - 1), FR_OK);
    assert_null(buf);
    expect_str(ca, NULL, want);
    /* Received means written: the count comes back down to nothing. */
    while (fr_net_queued_bytes(f->ctx) != 0 && waited < 5000) {
        fr_sleep_ms(10);
        waited += 10;
    }
    assert_int_equal(fr_net_queued_bytes(f->ctx), 0);

    buf = malloc(16);
    assert_non_null(buf);
    assert_int_equal(fr_net_send_owned(f->router, &bogus, &buf, 16),
                     FR_ECLOSED);
    assert_null(buf);
    assert_int_equal(fr_net_queued_bytes(f->ctx), 0);
    buf = malloc(16);
    assert_non_null(buf);
    assert_int_equal(fr_net_send_owned(f->router, &pa, &buf, 0), FR_EINVAL);
    assert_null(buf);
    assert_int_equal(fr_net_send_owned(f->router, &pa, NULL, 16), FR_EINVAL);
    assert_int_equal(fr_net_send_owned(f->router, &pa, &buf, 16), FR_EINVAL);
    free(want);
    close_sock(f, &ca);
}

/* A raw DEALER with store A's key: it can send shapes our API never does. */
static void
raw_client(fixture *f, void **zctx_out, void **sock_out)
{
    void *zctx = zmq_ctx_new(), *s;
    int zero = 0;

    assert_non_null(zctx);
    s = zmq_socket(zctx, ZMQ_DEALER);
    assert_non_null(s);
    assert_int_equal(zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero), 0);
    assert_int_equal(zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY,
                                    fr_crypto_keypair_public(f->server), 32),
                     0);
    assert_int_equal(zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY,
                                    fr_crypto_keypair_public(f->a), 32),
                     0);
    assert_int_equal(zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY,
                                    fr_crypto_keypair_secret(f->a), 32),
                     0);
    assert_int_equal(zmq_connect(s, f->endpoint), 0);
    *zctx_out = zctx;
    *sock_out = s;
}

static void
test_multipart_dropped(void **state)
{
    fixture *f = *state;
    void *zctx, *s;
    fr_net_peer peer;
    uint8_t *buf = NULL;
    size_t len = 0;

    raw_client(f, &zctx, &s);
    assert_int_equal(zmq_send(s, "part1", 5, ZMQ_SNDMORE), 5);
    assert_int_equal(zmq_send(s, "part2", 5, ZMQ_SNDMORE), 5);
    assert_int_equal(zmq_send(s, "part3", 5, 0), 5);
    assert_int_equal(zmq_send(s, "", 0, 0), 0);
    assert_int_equal(zmq_send(s, "after", 5, 0), 5);
    assert_int_equal(fr_net_recv(f->router, ARRIVE_MS, &peer, &buf, &len),
                     FR_EPROTO);
    assert_null(buf);
    /* An empty payload is a valid frame; the wire layer judges it. */
    assert_int_equal(fr_net_recv(f->router, ARRIVE_MS, &peer, &buf, &len),
                     FR_OK);
    assert_int_equal(len, 0);
    free(buf);
    expect_str(f->router, &peer, "after");
    assert_string_equal(peer.store, "store-a");
    zmq_close(s);
    zmq_ctx_term(zctx);
}

/* Sends one raw request to the ZAP handler and returns the status code. */
static void
zap_exchange(void *req, const char *const *frames, size_t n, char status[4])
{
    char reply[8][64];
    int more = 1;
    size_t got = 0;

    for (size_t i = 0; i < n; i++)
        assert_true(zmq_send(req, frames[i], strlen(frames[i]),
                             i + 1 < n ? ZMQ_SNDMORE : 0) >= 0);
    while (more && got < 8) {
        size_t sz = sizeof more;
        int r = zmq_recv(req, reply[got], sizeof reply[got] - 1, 0);
        assert_true(r >= 0);
        reply[got][r < 63 ? r : 63] = '\0';
        got++;
        assert_int_equal(zmq_getsockopt(req, ZMQ_RCVMORE, &more, &sz), 0);
    }
    assert_int_equal(got, 6); /* a complete ZAP reply */
    assert_string_equal(reply[0], "1.0");
    memcpy(status, reply[2], 3);
    status[3] = '\0';
}

static void
test_malformed_zap_requests(void **state)
{
    static const char *const one[] = {"garbage"};
    static const char *const wrong_version[] = {"2.0", "1", "fedrec", "x",
                                                "",    "CURVE", "k"};
    static const char *const plain[] = {"1.0",   "7",    "fedrec", "1.2.3.4",
                                        "",      "PLAIN", "user", "pass"};
    static const char *const short_key[] = {"1.0", "8",     "fedrec", "x",
                                            "",    "CURVE", "short"};
    static const char *const many[] = {"1.0", "9", "a", "b", "c",
                                       "d",   "e", "f", "g", "h"};
    fixture *f = *state;
    void *req = f->raw = zmq_socket(f->ctx->zctx, ZMQ_REQ);
    int zero = 0, timeout = ARRIVE_MS;
    uint64_t before = fr_net_zap_refused(f->ctx);
    char status[4];
    fr_net_sock *cl;
    fr_net_peer peer;

    assert_non_null(req);
    zmq_setsockopt(req, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(req, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    assert_int_equal(zmq_connect(req, "inproc://zeromq.zap.01"), 0);
    zap_exchange(req, one, FR_ARRAY_LEN(one), status);
    assert_string_equal(status, "400");
    zap_exchange(req, wrong_version, FR_ARRAY_LEN(wrong_version), status);
    assert_string_equal(status, "400");
    zap_exchange(req, plain, FR_ARRAY_LEN(plain), status);
    assert_string_equal(status, "400");
    zap_exchange(req, short_key, FR_ARRAY_LEN(short_key), status);
    assert_string_equal(status, "400");
    zap_exchange(req, many, FR_ARRAY_LEN(many), status);
    assert_string_equal(status, "400");
    assert_int_equal(fr_net_zap_refused(f->ctx), before + 5);
    zmq_close(req);
    f->raw = NULL;

    /* The handler still admits a real store afterwards. */
    cl = connect_as(f, f->a, fr_crypto_keypair_public(f->server));
    send_str(cl, NULL, "after garbage");
    expect_str(f->router, &peer, "after garbage");
    close_sock(f, &cl);
}

static void
test_listen_needs_zap(void **state)
{
    fixture *f = *state;
    fr_net_ctx *ctx = NULL;
    fr_net_sock *s = NULL;

    assert_int_equal(fr_net_ctx_new(&ctx), FR_OK);
    assert_int_equal(fr_net_listen(ctx, "tcp://127.0.0.1:*", f->server,
                                   SERVER_MAX, &s),
                     FR_ESTATE);
    assert_null(s);
    assert_int_equal(fr_net_zap_refused(ctx), 0);
    assert_int_equal(fr_net_zap_start(ctx, f->allow), FR_OK);
    assert_int_equal(fr_net_zap_start(ctx, f->allow), FR_ESTATE);
    assert_int_equal(fr_net_listen(ctx, "tcp://127.0.0.1:*", f->server,
                                   SERVER_MAX, &s),
                     FR_OK);
    fr_net_sock_destroy(&s);
    fr_net_ctx_destroy(&ctx);
    fr_net_ctx_destroy(&ctx); /* NULL is accepted */
    fr_net_ctx_destroy(NULL);
}

static void
test_pair_and_poll(void **state)
{
    fixture *f = *state;
    fr_net_sock *main_end = NULL, *worker = NULL, *socks[3];
    unsigned ready = 99;
    uint8_t *buf = NULL;
    size_t len = 0;

    assert_int_equal(fr_net_pair(f->ctx, "worker-1", 1, &main_end), FR_OK);
    track(f, main_end);
    assert_int_equal(fr_net_pair(f->ctx, "worker-1", 0, &worker), FR_OK);
    track(f, worker);
    socks[0] = f->router;
    socks[1] = main_end;
    socks[2] = worker;
    assert_int_equal(fr_net_poll(socks, 3, 0, &ready), FR_OK);
    assert_int_equal(ready, 0);
    assert_int_equal(fr_net_recv(main_end, 0, NULL, &buf, &len),
                     FR_ETIMEDOUT);

    send_str(worker, NULL, "result");
    assert_int_equal(fr_net_poll(socks, 3, ARRIVE_MS, &ready), FR_OK);
    assert_int_equal(ready, 1u << 1);
    expect_str(main_end, NULL, "result");
    send_str(main_end, NULL, "task");
    expect_str(worker, NULL, "task");
    assert_int_equal(fr_net_poll(socks, 3, 50, &ready), FR_OK);
    assert_int_equal(ready, 0);
    /* A second bind of the same name fails cleanly. */
    {
        fr_net_sock *dup = NULL;
        assert_int_not_equal(fr_net_pair(f->ctx, "worker-1", 1, &dup), FR_OK);
        assert_null(dup);
    }
    close_sock(f, &worker);
    close_sock(f, &main_end);
}

/* More sockets than fr_net_poll's bitmask holds: fr_net_poll_many reports
 * exactly the readable ones, and nothing on a timeout. */
static void
test_poll_many(void **state)
{
    enum { PAIRS = 40 };
    fr_net_ctx *ctx = NULL;
    fr_net_sock *near[PAIRS], *far[PAIRS];
    uint8_t ready[PAIRS];
    size_t n_ready = 99;
    uint8_t *buf = NULL;
    size_t len = 0;

    (void)state;
    assert_int_equal(fr_crypto_init(), FR_OK);
    assert_int_equal(fr_net_ctx_new(&ctx), FR_OK);
    for (int i = 0; i < PAIRS; i++) {
        char name[32];
        snprintf(name, sizeof name, "poll-many-%d", i);
        assert_int_equal(fr_net_pair(ctx, name, 1, &near[i]), FR_OK);
        assert_int_equal(fr_net_pair(ctx, name, 0, &far[i]), FR_OK);
    }
    memset(ready, 7, sizeof ready);
    assert_int_equal(fr_net_poll_many(near, PAIRS, 0, ready, &n_ready), FR_OK);
    assert_int_equal(n_ready, 0);
    for (int i = 0; i < PAIRS; i++)
        assert_int_equal(ready[i], 0);

    send_str(far[3], NULL, "three");
    send_str(far[37], NULL, "thirty-seven");
    /* Both may not be visible at once on the first wake-up. */
    for (int tries = 0; tries < 100 && n_ready < 2; tries++)
        assert_int_equal(fr_net_poll_many(near, PAIRS, 100, ready, &n_ready),
                         FR_OK);
    assert_int_equal(n_ready, 2);
    for (int i = 0; i < PAIRS; i++)
        assert_int_equal(ready[i], i == 3 || i == 37);
    expect_str(near[37], NULL, "thirty-seven");
    expect_str(near[3], NULL, "three");
    assert_int_equal(fr_net_poll_many(near, PAIRS, 20, ready, NULL), FR_OK);
    for (int i = 0; i < PAIRS; i++)
        assert_int_equal(ready[i], 0);
    assert_int_equal(fr_net_recv(near[0], 0, NULL, &buf, &len), FR_ETIMEDOUT);

    /* Bad arguments are refused and leave the output alone. */
    ready[0] = 5;
    assert_int_equal(fr_net_poll_many(near, PAIRS, 0, NULL, NULL), FR_EINVAL);
    assert_int_equal(fr_net_poll_many(NULL, 1, 0, ready, NULL), FR_EINVAL);
    assert_int_equal(ready[0], 5);
    assert_int_equal(fr_net_poll_many(near, 0, 0, NULL, &n_ready), FR_OK);
    assert_int_equal(n_ready, 0);

    for (int i = 0; i < PAIRS; i++) {
        fr_net_sock_destroy(&near[i]);
        fr_net_sock_destroy(&far[i]);
    }
    fr_net_ctx_destroy(&ctx);
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_allowed_store_round_trip),
        T(test_unlisted_store_refused),
        T(test_wrong_server_key),
        T(test_reload_admits_new_store),
        T(test_malformed_allowlist),
        T(test_allowlist_format_accepted),
        T(test_allowlist_sign_keys),
        T(test_rotation_and_revoke),
        cmocka_unit_test(test_store_name_rule),
        T(test_oversized_message),
        T(test_send_to_gone_peer),
        T(test_send_shared),
        T(test_send_owned),
        T(test_multipart_dropped),
        T(test_malformed_zap_requests),
        T(test_listen_needs_zap),
        T(test_pair_and_poll),
        cmocka_unit_test(test_poll_many),
    };
#undef T

    return cmocka_run_group_tests(tests, NULL, NULL);
}
