/*
 * fuzz_sa_server.c - the aggregator's side of SecAgg+ (fr_sa_server) facing
 * a hostile store. A real round of 4 parties runs; at one phase, party 0's
 * reply is replaced by the input's messages or has its encoded bytes
 * patched, and goes through the wire decoder into fr_sa_server_recv as the
 * authenticated party 0. The other parties stay honest to the end.
 *
 * Input: byte 0 picks the phase (ADVERTISE, SHARES, MASKED, SIGNED,
 * REVEAL); byte 1 bit 0: 0 replace (the rest is frames, each a whole
 * envelope), 1 patch (the rest is (offset lo, offset hi, xor) triples on the
 * honest reply's encoding); bit 1: party 0's honest reply follows.
 *
 * Properties: a refused reply names a reason and changes nothing; a reply
 * made without party 0's keys is never accepted where a signature is
 * checked (ADVERTISE, SIGNED); the round either aborts with a reason or
 * yields exactly the sum of the included parties' inputs, also when party
 * 0 reveals wrong shares (every secret has a share to spare, and shares
 * beyond the threshold are checked), unless party 0's own masked input was
 * replaced (any participant chooses its own input).
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "fuzz_msgs.h"
#include "fuzz_sa.h"

#include "base/log.h"

static const uint32_t phases[5] = {FR_SA_ADVERTISE, FR_SA_SHARES,
                                   FR_SA_MASKED, FR_SA_SIGNED, FR_SA_REVEAL};

typedef struct hostile {
    uint32_t phase;
    int patch, honest_too, accepted, done;
    const uint8_t *rest, *end;
} hostile;

static void
quiet(void *arg, fr_log_level level, const char *tag, const char *line)
{
    (void)arg;
    (void)level;
    (void)tag;
    (void)line;
}

/* Records the honest replies of a round as seeds (replace mode). */
static int
seed_reply(void *ctx, saw *w, uint32_t from, fr_sa_msg *reply)
{
    uint8_t *buf = NULL, pre[2] = {0, 2};
    size_t len = 0;
    char name[32];

    (void)ctx;
    if (from != 0)
        return 1;
    for (uint8_t i = 0; i < 5; i++)
        if (phases[i] == reply->phase)
            pre[0] = i;
    saw_encode(w, reply, &buf, &len);
    snprintf(name, sizeof name, "reply_phase%u", reply->phase);
    {
        uint8_t framed[2] = {(uint8_t)len, (uint8_t)(len >> 8)};
        uint8_t *all = malloc(len + 2);
        memcpy(all, framed, 2);
        memcpy(all + 2, buf, len);
        fuzz_seed_write(name, pre, 2, all, len + 2);
        free(all);
    }
    free(buf);
    return 1;
}

static void
write_seeds(void)
{
    saw w;
    static const uint8_t patch[3] = {40, 0, 0x01};
    char name[32];

    if (!getenv("FR_FUZZ_WRITE_SEEDS"))
        return;
    saw_init(&w, 7);
    w.on_reply = seed_reply;
    (void)saw_run(&w);
    saw_free(&w);
    for (uint8_t i = 0; i < 5; i++) {
        uint8_t pre[2] = {i, 1};
        snprintf(name, sizeof name, "patch_phase%u", phases[i]);
        fuzz_seed_write(name, pre, 2, patch, sizeof patch);
    }
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (!getenv("FR_FUZZ_LOG"))
        fr_log_set_sink(quiet, NULL);
    saw_global_init();
    write_seeds();
    return 0;
}

static void
offer(hostile *h, saw *w, const uint8_t *buf, size_t len)
{
    fr_msg *m = NULL;
    const char *why = NULL;
    uint32_t before;

    if (fr_wire_decode(buf, len, FR_WIRE_DEFAULT_MAX_BYTES, &m, &why)) {
        FR_FUZZ_CHECK(why != NULL);
        return;
    }
    if (m->type == FR_MSG_SECAGG) {
        before = fr_sa_server_pending(w->s);
        why = NULL;
        if (fr_sa_server_recv(w->s, 0, &m->u.secagg.sa, &why) == FR_OK) {
            h->accepted = 1;
            FR_FUZZ_CHECK(h->patch || (h->phase != FR_SA_ADVERTISE &&
                                       h->phase != FR_SA_SIGNED));
        } else {
            FR_FUZZ_CHECK(why != NULL && fr_sa_server_pending(w->s) == before);
        }
    }
    fr_msg_destroy(&m);
}

static void
patched(hostile *h, saw *w, const fr_sa_msg *reply)
{
    uint8_t *buf = NULL;
    size_t len = 0;

    saw_encode(w, reply, &buf, &len);
    for (const uint8_t *p = h->rest; p + 3 <= h->end; p += 3) {
        size_t off = ((size_t)p[0] | (size_t)p[1] << 8) % len;
        buf[off] ^= p[2];
    }
    offer(h, w, buf, len);
    free(buf);
}

static int
on_reply(void *ctx, saw *w, uint32_t from, fr_sa_msg *reply)
{
    hostile *h = ctx;
    const uint8_t *p = h->rest, *frame;
    size_t flen;

    if (from != 0 || reply->phase != h->phase || h->done)
        return 1;
    h->done = 1;
    if (h->patch) {
        patched(h, w, reply);
    } else {
        for (int i = 0; i < 4 && (p = fuzz_next_frame(p, h->end, &frame,
                                                       &flen)) != NULL; i++)
            offer(h, w, frame, flen);
    }
    return h->honest_too;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hostile h = {0};
    saw w;
    fr_err rc;

    if (size < 2)
        return 0;
    h.phase = phases[data[0] % 5];
    h.patch = data[1] & 1;
    h.honest_too = (data[1] & 2) != 0;
    h.rest = data + 2;
    h.end = data + size;
    saw_init(&w, 11);
    w.on_reply = on_reply;
    w.ctx = &h;
    rc = saw_run(&w);
    if (rc == FR_OK && !(h.accepted && h.phase == FR_SA_MASKED))
        saw_check_sum(&w);
    saw_free(&w);
    return 0;
}
