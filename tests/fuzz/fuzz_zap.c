/*
 * fuzz_zap.c - the ZAP handler (common/net/zap.c), both things it reads
 * from outside: the allow-list text, and the frames of a ZAP request, whose
 * address and CURVE key come from whoever connects.
 *
 * Input byte 0, bit 0: 0 the rest is allow-list text; 1 the rest is a ZAP
 * request, as frames (2-byte little-endian length, then the bytes; at most
 * 10), sent on a REQ socket to the handler thread of a real fr_net context
 * (started once, on an allow-list of two stores).
 *
 * Properties, allow-list: an accepted list has valid, distinct entries in
 * line order, and written out again in canonical form it parses to the
 * same entries. ZAP: every request gets exactly one reply of six frames
 * (version, the request id echoed, status, text, user id, metadata); 200
 * only for a well-formed CURVE request of the "fedrec" domain with a listed
 * key, and then the user id is that store's "NAME:KEYFP"; every 400 is
 * counted once in fr_net_zap_refused.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zmq.h>

#include "fuzz.h"
#include "fuzz_msgs.h"

#include "base/log.h"
#include "crypto/crypto.h"
#include "crypto/prim.h"
#include "net/net.h"
#include "net/net_int.h"

#define MAX_FRAMES 10
#define MAX_ENTRIES 4096

static fr_net_ctx *ctx;
static void *req;
static uint8_t pk_a[32], pk_b[32], sign_b[32];
static char user_a[96], user_b[96];

typedef struct entry {
    char name[FR_NET_STORE_NAME_MAX];
    uint8_t pk[32], sign[32];
    int has_sign;
    size_t line;
} entry;

typedef struct list {
    entry *v;
    size_t n;
    int overflow;
} list;

static void
quiet(void *arg, fr_log_level level, const char *tag, const char *line)
{
    (void)arg;
    (void)level;
    (void)tag;
    (void)line;
}

static void
user_of(const char *name, const uint8_t pk[32], char *out, size_t cap)
{
    uint8_t h[32];
    char fp[FR_NET_KEY_FP_HEX + 1];

    fr_crypto_hash(h, sizeof h, pk, 32);
    fr_crypto_bin2hex(fp, h, FR_NET_KEY_FP_HEX / 2);
    snprintf(out, cap, "%s:%s", name, fp);
}

static void
write_seeds(const char *allow_text)
{
    uint8_t buf[512], *p = buf;
    const char *frames[7] = {"1.0", "1", "fedrec", "127.0.0.1", "", "CURVE",
                             NULL};
    static const uint8_t mode_text[1] = {0}, mode_zap[1] = {1};

    if (!getenv("FR_FUZZ_WRITE_SEEDS"))
        return;
    fuzz_seed_write("allowlist", mode_text, 1, (const uint8_t *)allow_text,
                    strlen(allow_text));
    for (int i = 0; i < 7; i++) {
        size_t n = frames[i] ? strlen(frames[i]) : 32;
        *p++ = (uint8_t)n;
        *p++ = 0;
        memcpy(p, frames[i] ? (const void *)frames[i] : (const void *)pk_b, n);
        p += n;
    }
    fuzz_seed_write("zap_listed", mode_zap, 1, buf, (size_t)(p - buf));
    memset(p - 32, 0x42, 32);
    fuzz_seed_write("zap_unlisted", mode_zap, 1, buf, (size_t)(p - buf));
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char dir[] = "/tmp/fr-fuzz-zap-XXXXXX", path[64], text[512];
    char ha[65], hb[65], hs[65];
    int rcvtimeo = 5000, linger = 0;
    FILE *f;

    (void)argc;
    (void)argv;
    if (!getenv("FR_FUZZ_LOG"))
        fr_log_set_sink(quiet, NULL);
    FR_FUZZ_CHECK(fr_crypto_init() == FR_OK);
    /* fixed keys, so the committed seeds name them in every run */
    for (int i = 0; i < 32; i++) {
        pk_a[i] = (uint8_t)(0xa1 + 3 * i);
        pk_b[i] = (uint8_t)(0x5b + 7 * i);
        sign_b[i] = (uint8_t)(0x17 + 11 * i);
    }
    fr_crypto_bin2hex(ha, pk_a, 32);
    fr_crypto_bin2hex(hb, pk_b, 32);
    fr_crypto_bin2hex(hs, sign_b, 32);
    snprintf(text, sizeof text, "# stores\nstore-a %s\nstore-b\t%s %s\n", ha,
             hb, hs);
    user_of("store-a", pk_a, user_a, sizeof user_a);
    user_of("store-b", pk_b, user_b, sizeof user_b);
    FR_FUZZ_CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/allowlist", dir);
    FR_FUZZ_CHECK((f = fopen(path, "w")) != NULL);
    fputs(text, f);
    FR_FUZZ_CHECK(fclose(f) == 0);
    FR_FUZZ_CHECK(fr_net_ctx_new(&ctx) == FR_OK);
    FR_FUZZ_CHECK(fr_net_zap_start(ctx, path) == FR_OK);
    unlink(path);
    rmdir(dir);
    req = zmq_socket(ctx->zctx, ZMQ_REQ);
    FR_FUZZ_CHECK(req != NULL);
    zmq_setsockopt(req, ZMQ_RCVTIMEO, &rcvtimeo, sizeof rcvtimeo);
    zmq_setsockopt(req, ZMQ_LINGER, &linger, sizeof linger);
    FR_FUZZ_CHECK(zmq_connect(req, "inproc://zeromq.zap.01") == 0);
    write_seeds(text);
    return 0;
}

/* ---- allow-list ---- */

static void
collect(void *arg, const char *name, const uint8_t *pk, const uint8_t *sign,
        size_t line)
{
    list *l = arg;
    entry *e;

    if (l->n == MAX_ENTRIES) {
        l->overflow = 1;
        return;
    }
    e = &l->v[l->n++];
    memset(e, 0, sizeof *e);
    FR_FUZZ_CHECK(strlen(name) < sizeof e->name);
    strcpy(e->name, name);
    memcpy(e->pk, pk, 32);
    if (sign)
        memcpy(e->sign, sign, 32);
    e->has_sign = sign != NULL;
    e->line = line;
}

static void
check_entries(const list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        size_t same_name = 0;
        FR_FUZZ_CHECK(fr_net_store_name_valid(l->v[i].name));
        FR_FUZZ_CHECK(i == 0 || l->v[i].line > l->v[i - 1].line);
        for (size_t j = 0; j < i; j++) {
            FR_FUZZ_CHECK(memcmp(l->v[i].pk, l->v[j].pk, 32) != 0);
            FR_FUZZ_CHECK(!l->v[i].has_sign || !l->v[j].has_sign ||
                          memcmp(l->v[i].sign, l->v[j].sign, 32) != 0);
            same_name += strcmp(l->v[i].name, l->v[j].name) == 0;
        }
        FR_FUZZ_CHECK(same_name < 2);
    }
}

static void
fuzz_allowlist(const uint8_t *data, size_t size)
{
    list a = {calloc(MAX_ENTRIES, sizeof(entry)), 0, 0};
    list b = {calloc(MAX_ENTRIES, sizeof(entry)), 0, 0};
    char *text;
    size_t len = 0;

    FR_FUZZ_CHECK(a.v && b.v);
    if (fr_net_allowlist_parse_("fuzz", (const char *)data, size, collect,
                                &a) != FR_OK || a.overflow)
        goto out;
    check_entries(&a);
    text = malloc(a.n * 200 + 1);
    FR_FUZZ_CHECK(text != NULL);
    for (size_t i = 0; i < a.n; i++) {
        char hex[65], sh[65];
        fr_crypto_bin2hex(hex, a.v[i].pk, 32);
        fr_crypto_bin2hex(sh, a.v[i].sign, 32);
        len += (size_t)sprintf(text + len, "%s %s%s%s\n", a.v[i].name, hex,
                               a.v[i].has_sign ? " " : "",
                               a.v[i].has_sign ? sh : "");
    }
    FR_FUZZ_CHECK(fr_net_allowlist_parse_("again", text, len, collect, &b) ==
                  FR_OK);
    FR_FUZZ_CHECK(a.n == b.n);
    for (size_t i = 0; i < a.n; i++) {
        FR_FUZZ_CHECK(strcmp(a.v[i].name, b.v[i].name) == 0);
        FR_FUZZ_CHECK(memcmp(a.v[i].pk, b.v[i].pk, 32) == 0);
        FR_FUZZ_CHECK(a.v[i].has_sign == b.v[i].has_sign &&
                      memcmp(a.v[i].sign, b.v[i].sign, 32) == 0);
        FR_FUZZ_CHECK(b.v[i].line == i + 1);
    }
    free(text);
out:
    free(a.v);
    free(b.v);
}

/* ---- ZAP requests ---- */

static int
frame_is(const uint8_t *f, size_t n, const char *s)
{
    return n == strlen(s) && memcmp(f, s, n) == 0;
}

/* The user id the handler must answer with, "" for a refusal. */
static const char *
expected_user(const uint8_t **f, const size_t *n, int count)
{
    if (count != 7 || !frame_is(f[0], n[0], "1.0") ||
        !frame_is(f[2], n[2], "fedrec") || !frame_is(f[5], n[5], "CURVE") ||
        n[6] != 32)
        return "";
    if (memcmp(f[6], pk_a, 32) == 0)
        return user_a;
    if (memcmp(f[6], pk_b, 32) == 0)
        return user_b;
    return "";
}

/* libFuzzer's -timeout watchdog is a SIGALRM every few seconds, which
 * interrupts a blocking zmq call with EINTR: retried. Any other failure
 * (EAGAIN after RCVTIMEO: no reply in 5 s) is a defect of the handler. */
static void
recv_frame(zmq_msg_t *m, int want_more)
{
    int rc;

    zmq_msg_init(m);
    while ((rc = zmq_msg_recv(m, req, 0)) < 0 && zmq_errno() == EINTR)
        ;
    if (rc < 0)
        fprintf(stderr, "fuzz_zap: no ZAP reply: %s\n",
                zmq_strerror(zmq_errno()));
    FR_FUZZ_CHECK(rc >= 0);
    FR_FUZZ_CHECK(zmq_msg_more(m) == want_more);
}

static void
send_frame(const uint8_t *f, size_t n, int more)
{
    int rc;

    while ((rc = zmq_send(req, f, n, more ? ZMQ_SNDMORE : 0)) < 0 &&
           zmq_errno() == EINTR)
        ;
    FR_FUZZ_CHECK(rc >= 0);
}

static void
fuzz_request(const uint8_t *p, const uint8_t *end)
{
    const uint8_t *f[MAX_FRAMES];
    size_t n[MAX_FRAMES];
    int count = 0;
    uint64_t before = fr_net_zap_refused(ctx);
    const char *want;
    zmq_msg_t r[6];

    while (count < MAX_FRAMES &&
           (p = fuzz_next_frame(p, end, &f[count], &n[count])) != NULL)
        count++;
    if (count == 0) { /* REQ sends at least one frame */
        f[0] = (const uint8_t *)"";
        n[0] = 0;
        count = 1;
    }
    for (int i = 0; i < count; i++)
        send_frame(f[i], n[i], i + 1 < count);
    want = expected_user(f, n, count);
    for (int i = 0; i < 6; i++)
        recv_frame(&r[i], i < 5);
    FR_FUZZ_CHECK(zmq_msg_size(&r[0]) == 3 &&
                  memcmp(zmq_msg_data(&r[0]), "1.0", 3) == 0);
    if (count >= 2)
        FR_FUZZ_CHECK(zmq_msg_size(&r[1]) == n[1] &&
                      (n[1] == 0 || memcmp(zmq_msg_data(&r[1]), f[1], n[1]) == 0));
    else
        FR_FUZZ_CHECK(zmq_msg_size(&r[1]) == 0);
    FR_FUZZ_CHECK(zmq_msg_size(&r[2]) == 3);
    FR_FUZZ_CHECK(memcmp(zmq_msg_data(&r[2]), *want ? "200" : "400", 3) == 0);
    FR_FUZZ_CHECK(zmq_msg_size(&r[4]) == strlen(want) &&
                  memcmp(zmq_msg_data(&r[4]), want, strlen(want)) == 0);
    FR_FUZZ_CHECK(fr_net_zap_refused(ctx) == before + (*want ? 0 : 1));
    for (int i = 0; i < 6; i++)
        zmq_msg_close(&r[i]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] & 1)
        fuzz_request(data + 1, data + size);
    else
        fuzz_allowlist(data + 1, size - 1);
    return 0;
}
