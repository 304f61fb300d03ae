/*
 * fuzz_sa_client.c - the store's side of SecAgg+ (fr_sa_client) facing a
 * hostile aggregator. A real round of 4 parties runs; at one phase, the
 * request to party 0 is replaced by the input's message or has its encoded
 * bytes patched, and goes through the wire decoder into
 * fr_sa_client_recv. Everything else stays honest to the end.
 *
 * Input: byte 0 picks the request (KEYS: neighbours' keys, MASK_REQ: the
 * encrypted shares, CONSIST: the survivor set, UNMASK: the signatures and
 * the shares asked for); byte 1 bit 0: 0 replace (the rest is one whole
 * envelope), 1 patch (the rest is (offset lo, offset hi, xor) triples on the
 * honest request's encoding); bit 1: the honest request is offered again
 * afterwards (a replay).
 *
 * Properties: a refusal names a reason and leaves no secret behind, and
 * every later request is refused; an accepted request gets the next phase's
 * reply; a request is accepted once; the store never reveals a share of a
 * party that is not its neighbour, nor both shares of one party; the
 * honest server's sum stays exact whatever party 0 was told.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "fuzz_msgs.h"
#include "fuzz_sa.h"

#include "base/log.h"

static const uint32_t phases[4] = {FR_SA_KEYS, FR_SA_MASK_REQ, FR_SA_CONSIST,
                                   FR_SA_UNMASK};

typedef struct hostile {
    uint32_t phase;
    int patch, replay, done, replayed;
    const uint8_t *rest, *end;
    fr_msg *held; /* the hostile request, alive until the input ends */
    uint8_t *honest;
    size_t honest_len;
} hostile;

static void
quiet(void *arg, fr_log_level level, const char *tag, const char *line)
{
    (void)arg;
    (void)level;
    (void)tag;
    (void)line;
}

static int
seed_request(void *ctx, saw *w, uint32_t to, fr_sa_msg *req)
{
    uint8_t *buf = NULL, pre[2] = {0, 0};
    size_t len = 0;
    char name[32];

    (void)ctx;
    if (to != 0)
        return 1;
    for (uint8_t i = 0; i < 4; i++)
        if (phases[i] == req->phase)
            pre[0] = i;
    saw_encode(w, req, &buf, &len);
    snprintf(name, sizeof name, "request_phase%u", req->phase);
    fuzz_seed_write(name, pre, 2, buf, len);
    free(buf);
    return 1;
}

static void
write_seeds(void)
{
    saw w;
    static const uint8_t patch[3] = {30, 0, 0x01};
    char name[32];

    if (!getenv("FR_FUZZ_WRITE_SEEDS"))
        return;
    saw_init(&w, 7);
    w.on_request = seed_request;
    (void)saw_run(&w);
    saw_free(&w);
    for (uint8_t i = 0; i < 4; i++) {
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

/* Party 0's request of the hostile phase: decoded from the input, or the
 * honest one's bytes patched. 0: nothing decodable (party 0 hears nothing). */
static int
on_request(void *ctx, saw *w, uint32_t to, fr_sa_msg *req)
{
    hostile *h = ctx;
    const char *why = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;
    fr_err rc;

    if (to != 0 || req->phase != h->phase || h->done)
        return 1;
    h->done = 1;
    saw_encode(w, req, &h->honest, &h->honest_len);
    if (h->patch) {
        buf = malloc(h->honest_len);
        FR_FUZZ_CHECK(buf != NULL);
        memcpy(buf, h->honest, h->honest_len);
        len = h->honest_len;
        for (const uint8_t *p = h->rest; p + 3 <= h->end; p += 3)
            buf[((size_t)p[0] | (size_t)p[1] << 8) % len] ^= p[2];
        rc = fr_wire_decode(buf, len, FR_WIRE_DEFAULT_MAX_BYTES, &h->held,
                            &why);
        free(buf);
    } else {
        rc = fr_wire_decode(h->rest, (size_t)(h->end - h->rest),
                            FR_WIRE_DEFAULT_MAX_BYTES, &h->held, &why);
    }
    if (rc != FR_OK) {
        FR_FUZZ_CHECK(why != NULL);
        return 0;
    }
    if (h->held->type != FR_MSG_SECAGG)
        return 0;
    *req = h->held->u.secagg.sa;
    return 1;
}

/* Party 0's replies: a REVEAL names only its neighbours, never both shares
 * of one; after a replay, nothing more is accepted. */
static int
on_reply(void *ctx, saw *w, uint32_t from, fr_sa_msg *reply)
{
    hostile *h = ctx;
    uint32_t nb[SAW_K];
    int seen[SAW_N] = {0};

    if (from != 0)
        return 1;
    FR_FUZZ_CHECK(!w->gone[0]);
    if (reply->phase != FR_SA_REVEAL)
        return 1;
    (void)h;
    FR_FUZZ_CHECK(fr_sa_neighbours(w->seed, SAW_N, SAW_K, 0, nb) == FR_OK);
    FR_FUZZ_CHECK(reply->n_reveals <= SAW_K);
    for (uint32_t i = 0; i < reply->n_reveals; i++) {
        uint32_t peer = reply->reveals[i].peer;
        int is_nb = 0;
        for (uint32_t j = 0; j < SAW_K; j++)
            is_nb |= nb[j] == peer;
        FR_FUZZ_CHECK(is_nb && peer < SAW_N && !seen[peer]);
        seen[peer] = 1;
    }
    FR_FUZZ_CHECK(!fr_sa_client_holds_secrets(w->c[0]));
    return 1;
}

/* The honest request again: refused whatever the hostile one did (a
 * request is taken once; a refusal is final). */
static void
after_requests(void *ctx, saw *w)
{
    hostile *h = ctx;
    fr_msg *m = NULL;
    fr_sa_msg out;
    const char *why = NULL;

    if (!h->replay || !h->honest || w->gone[0] || h->replayed)
        return;
    h->replayed = 1;
    FR_FUZZ_CHECK(fr_wire_decode(h->honest, h->honest_len,
                                 FR_WIRE_DEFAULT_MAX_BYTES, &m, &why) == FR_OK);
    if (h->held && h->held->type == FR_MSG_SECAGG &&
        h->held->u.secagg.sa.phase == h->phase) {
        FR_FUZZ_CHECK(fr_sa_client_recv(w->c[0], &m->u.secagg.sa, &out,
                                        &why) != FR_OK);
        FR_FUZZ_CHECK(why != NULL && !fr_sa_client_holds_secrets(w->c[0]));
        w->gone[0] = 1;
    }
    fr_msg_destroy(&m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hostile h = {0};
    saw w;
    fr_err rc;

    if (size < 2)
        return 0;
    h.phase = phases[data[0] % 4];
    h.patch = data[1] & 1;
    h.replay = (data[1] & 2) != 0;
    h.rest = data + 2;
    h.end = data + size;
    saw_init(&w, 13);
    w.on_request = on_request;
    w.on_reply = on_reply;
    w.ctx = &h;
    w.after_requests = after_requests;
    rc = saw_run(&w);
    if (rc == FR_OK)
        saw_check_sum(&w);
    saw_free(&w);
    fr_msg_destroy(&h.held);
    free(h.honest);
    return 0;
}
