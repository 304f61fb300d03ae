/*
 * fuzz_sa.c - the SecAgg+ round the secagg fuzz targets make hostile
 * (fuzz_sa.h).
 */
#include "fuzz_sa.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

static fr_crypto_signkey *ids[SAW_N];
static uint8_t idpk[SAW_N][32];

void
saw_global_init(void)
{
    FR_FUZZ_CHECK(fr_crypto_init() == FR_OK);
    for (uint32_t i = 0; i < SAW_N; i++) {
        FR_FUZZ_CHECK(fr_crypto_signkey_generate(&ids[i]) == FR_OK);
        memcpy(idpk[i], fr_crypto_signkey_public(ids[i]), 32);
    }
}

void
saw_init(saw *w, uint64_t round_id)
{
    memset(w, 0, sizeof *w);
    fr_sa_graph_seed(w->seed, w->p.graph_commit);
    w->p.round_id = round_id;
    w->p.n = SAW_N;
    w->p.k = SAW_K;
    w->p.t = SAW_T;
    w->p.n_words = SAW_WORDS;
    w->p.min_inputs = SAW_T;
    for (uint32_t i = 0; i < SAW_N; i++) {
        FR_FUZZ_CHECK(fr_sa_client_new(&w->p, i, ids[i], &w->c[i]) == FR_OK);
        for (uint32_t j = 0; j < SAW_WORDS; j++)
            w->in[i][j] = 0x01000193u * (i + 1) + j * 0x9e3779b9u;
    }
    FR_FUZZ_CHECK(fr_sa_server_new(&w->p, w->seed,
                                   (const uint8_t(*)[32])idpk, &w->s) == FR_OK);
}

void
saw_free(saw *w)
{
    for (uint32_t i = 0; i < SAW_N; i++)
        fr_sa_client_destroy(&w->c[i]);
    fr_sa_server_destroy(&w->s);
}

static void
deliver(saw *w, uint32_t i, fr_sa_msg *reply)
{
    const char *why = NULL;
    uint32_t before;

    if (reply->phase == FR_SA_NONE)
        return;
    if (w->on_reply && !w->on_reply(w->ctx, w, i, reply))
        return;
    before = fr_sa_server_pending(w->s);
    if (fr_sa_server_recv(w->s, i, reply, &why) != FR_OK)
        FR_FUZZ_CHECK(why != NULL && fr_sa_server_pending(w->s) == before);
}

/* Party i handles its request of the phase just opened. */
static void
serve(saw *w, uint32_t i, fr_sa_msg *req)
{
    fr_sa_msg reply;
    const char *why = NULL;

    if (w->on_request && !w->on_request(w->ctx, w, i, req))
        return;
    if (fr_sa_client_recv(w->c[i], req, &reply, &why) != FR_OK) {
        FR_FUZZ_CHECK(why != NULL);
        FR_FUZZ_CHECK(!fr_sa_client_holds_secrets(w->c[i]));
        w->gone[i] = 1;
        return;
    }
    if (req->phase == FR_SA_MASK_REQ) {
        FR_FUZZ_CHECK(reply.phase == FR_SA_NONE);
        if (fr_sa_client_mask(w->c[i], w->in[i], &reply, &why) != FR_OK) {
            FR_FUZZ_CHECK(why != NULL);
            w->gone[i] = 1;
            return;
        }
    }
    deliver(w, i, &reply);
}

fr_err
saw_run(saw *w)
{
    fr_sa_msg req, reply;
    const char *why = NULL;
    fr_err rc;

    for (uint32_t i = 0; i < SAW_N; i++) {
        FR_FUZZ_CHECK(fr_sa_client_advertise(w->c[i], &reply) == FR_OK);
        deliver(w, i, &reply);
    }
    for (int phase = 0; phase < 4; phase++) {
        why = NULL;
        if ((rc = fr_sa_server_advance(w->s, &why)) != FR_OK) {
            FR_FUZZ_CHECK(why != NULL);
            w->abort_why = why;
            return rc;
        }
        for (uint32_t i = 0; i < SAW_N; i++)
            if (!w->gone[i] && fr_sa_server_request(w->s, i, &req) == FR_OK)
                serve(w, i, &req);
        if (w->after_requests)
            w->after_requests(w->ctx, w);
    }
    why = NULL;
    rc = fr_sa_server_advance(w->s, &why);
    if (rc != FR_OK)
        FR_FUZZ_CHECK(why != NULL);
    w->abort_why = why;
    return rc;
}

void
saw_check_sum(saw *w)
{
    const uint32_t *sum;
    const uint8_t *inc;
    uint32_t n_in = 0, want[SAW_WORDS] = {0}, counted = 0;

    FR_FUZZ_CHECK(fr_sa_server_result(w->s, &sum, &n_in, &inc) == FR_OK);
    for (uint32_t i = 0; i < SAW_N; i++) {
        if (!inc[i])
            continue;
        counted++;
        for (uint32_t j = 0; j < SAW_WORDS; j++)
            want[j] += w->in[i][j];
    }
    FR_FUZZ_CHECK(counted == n_in && n_in >= w->p.min_inputs);
    FR_FUZZ_CHECK(memcmp(sum, want, sizeof want) == 0);
}

void
saw_encode(const saw *w, const fr_sa_msg *sa, uint8_t **buf, size_t *len)
{
    fr_msg m = {.type = FR_MSG_SECAGG, .round_id = w->p.round_id};

    m.u.secagg.sa = *sa;
    FR_FUZZ_CHECK(fr_wire_encode(&m, FR_WIRE_DEFAULT_MAX_BYTES, buf, len) ==
                  FR_OK);
}
