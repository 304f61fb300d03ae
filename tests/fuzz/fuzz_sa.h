/*
 * fuzz_sa.h - a small SecAgg+ round (5 parties, 4 neighbours each,
 * threshold 3: one share of every secret to spare) run honestly by real fr_sa_client and fr_sa_server objects,
 * with hooks where a fuzz target makes one side hostile: before party i's
 * reply reaches the server, and before party i's request reaches its client.
 * Every round is built afresh (new graph seed, keys, clients and server), so
 * an input replays alone; only the identity keys are made once.
 */
#ifndef FR_TESTS_FUZZ_SA_H
#define FR_TESTS_FUZZ_SA_H

#include <stdint.h>

#include "secagg/secagg.h"
#include "wire/wire.h"

#define SAW_N 5u
#define SAW_K 4u
#define SAW_T 3u
#define SAW_WORDS 6u

typedef struct saw saw;

/* Return 1 to let the honest message through, 0 to drop it (the hook may
 * have delivered something else itself). */
typedef int (*saw_reply_fn)(void *ctx, saw *w, uint32_t from,
                            fr_sa_msg *reply);
typedef int (*saw_request_fn)(void *ctx, saw *w, uint32_t to, fr_sa_msg *req);

struct saw {
    fr_sa_params p;
    uint8_t seed[32];
    fr_sa_client *c[SAW_N];
    fr_sa_server *s;
    uint32_t in[SAW_N][SAW_WORDS];
    int gone[SAW_N]; /* a client refused or was cut off */
    saw_reply_fn on_reply;
    saw_request_fn on_request;
    /* after every phase's requests were served */
    void (*after_requests)(void *ctx, saw *w);
    void *ctx;
    const char *abort_why;
};

/* Makes the identity keys (once per process). */
void saw_global_init(void);
void saw_init(saw *w, uint64_t round_id);
void saw_free(saw *w);
/* Runs the round to its end; FR_OK if the sum came out. */
fr_err saw_run(saw *w);
/* Checks the server's sum against the honest inputs of the parties it
 * included (aborts if it differs). */
void saw_check_sum(saw *w);
/* Wraps sa as the SecAgg body of an envelope and encodes it. */
void saw_encode(const saw *w, const fr_sa_msg *sa, uint8_t **buf,
                size_t *len);

#endif
