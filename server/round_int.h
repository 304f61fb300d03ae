/*
 * round_int.h - the aggregator's state, shared by the round engine (round.c)
 * and its secure-aggregation rounds (secure.c). Not for other modules.
 */
#ifndef FR_SERVER_ROUND_INT_H
#define FR_SERVER_ROUND_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "agg.h"
#include "base/ratelimit.h"
#include "base/util.h"
#include "catalogue/catalogue.h"
#include "model/aggregate.h"
#include "model/model.h"
#include "registry.h"
#include "secagg/quant.h"
#include "secagg/secagg.h"
#include "stats.h"

enum { ST_IDLE, ST_COLLECTING, ST_DONE };

typedef struct quality {
    double eval_weight, hr, ndcg, pop_hr, pop_ndcg;
    double loss_weight, loss;
    uint64_t examples;
} quality;

struct aggregator {
    const agg_config *cfg;
    fr_net_sock *sock;
    registry *reg;
    fr_model *model;
    fr_agg *acc;
    float *scratch; /* one flat update: embeddings then biases */
    size_t n_params;
    uint64_t round_id;  /* current round if collecting, else the next one */
    uint64_t completed; /* rounds aggregated into the model */
    int state;
    int64_t started_ms, deadline_ms, not_before_ms, ready_since_ms;
    int first_round_started;
    int resumed;
    char (*selected)[FR_NET_STORE_NAME_MAX];
    uint8_t *answered;
    size_t n_selected, n_answered;
    quality q;
    fr_rng rng;
    /* secure rounds (secure.c); sa is NULL in a plain round */
    fr_net_ctx *ctx;
    fr_sa_server *sa;
    fr_quant quant;
    int64_t phase_deadline_ms;
    int mean_ready; /* scratch holds the decoded secure mean */
    char ckpt_path[AGG_PATH_MAX + 32];
    char history_path[AGG_PATH_MAX + 32];
    /* operations (main.c): figures for /metrics, pause, graceful stop */
    agg_stats *stats;     /* borrowed; NULL in tests without one */
    int paused;           /* no new round starts */
    int draining;         /* stopping: no new round starts */
    agg_phase phase;      /* of the round in progress */
    int64_t phase_started_ms;
    agg_round_info *history; /* every completed round, in the checkpoint */
    size_t n_history, cap_history;
    /* member-level DP (dp.c); ledger NULL when DP is off */
    struct fr_dp_ledger *ledger;
    fr_dp_setup dp_setup; /* of the round in progress, if dp_round */
    int dp_round;         /* the round in progress runs DP */
    int dp_exhausted;     /* the budget does not fit another round */
    double dp_spent;      /* epsilon charged so far (incl. this round) */
    /* the item catalogue (announce.c); NULL: legacy integer ids */
    fr_catalogue *cat;
    uint8_t *cat_msg; /* the encoded answer to a catalogue request */
    size_t cat_msg_len;
    /* refusals (refuse.c): the sender of the message being handled, and
     * the per-reason log limiter */
    const fr_net_peer *cur_peer;
    fr_ratelimit rl[AGG_REJECT_N];
    int64_t refuse_swept_ms;
};


/* round.c */
void round_close(aggregator *a, int64_t now, const char *why);
void round_add_quality(aggregator *a, const fr_metrics *m, uint64_t examples);
void round_send_to(aggregator *a, const char *store, const uint8_t *buf,
                   size_t len);
/* Counts a turned-away message from the sender being handled (see
 * agg_refuse); true if its log line should be written now. */
bool round_reject(aggregator *a, agg_reject why);
/* The reason for a message of another round: replayed if that round is
 * over, wrong_round otherwise. */
agg_reject round_id_reason(const aggregator *a, uint64_t round_id);
/* Counts n messages of len bytes sent. */
void round_count_sent(aggregator *a, size_t len, size_t n);
/* Records the end of phase p of the round in progress (dropped: stores
 * that did not answer in it) and starts timing the next one. */
void round_phase_done(aggregator *a, agg_phase p, uint32_t dropped,
                      int64_t now);
FR_NODISCARD fr_err round_encode_start(aggregator *a, const fr_secagg_setup *sa,
                                       uint8_t **buf, size_t *len);

/* dp.c */
FR_NODISCARD fr_err agg_dp_open(aggregator *a);
void agg_dp_close(aggregator *a);
/* Designs and charges the DP round for n participants; raises *min_inputs
 * to the noise shares needed. An error if the round must not run (logged;
 * budget exhausted sets dp_exhausted and returns FR_ELIMIT). FR_OK when DP
 * is off. */
FR_NODISCARD fr_err agg_dp_plan(aggregator *a, uint32_t n,
                                uint32_t *min_inputs);
/* Decodes the unmasked sum into a->scratch as the mean update. */
FR_NODISCARD fr_err agg_dp_decode(aggregator *a, const uint32_t *sum);
bool agg_dp_exhausted(const aggregator *a);

/* announce.c: what stores hear outside a round */
/* Loads cfg->catalogue (if set) and encodes the answer to requests. */
FR_NODISCARD fr_err agg_cat_open(aggregator *a);
void agg_cat_close(aggregator *a);
/* Names the catalogue in a round start (nothing in legacy mode). */
void agg_cat_fill_start(const aggregator *a, fr_msg_round_start *rs);
/* A store asks for the catalogue: answered at most once per store every
 * AGG_CATALOGUE_EVERY_MS, only for the aggregator's own id. */
void agg_on_catalogue(aggregator *a, store_entry *e, const fr_msg *msg,
                      int64_t now);
/* A HELLO after training ended is answered with DONE (at most once per
 * store every AGG_DONE_EVERY_MS). */
void agg_hello_after_end(aggregator *a, store_entry *e, int64_t now);
#define AGG_CATALOGUE_EVERY_MS 5000
#define AGG_DONE_EVERY_MS 1000

/* refuse.c (aggregator_refused in agg.h): refused messages are counted
 * per reason, charged to the authenticated store that sent them and logged
 * at most AGG_REFUSE_BURST lines per reason every AGG_REFUSE_EVERY_MS, the
 * rest summed up in one "suppressed" line. A store refused
 * quarantine_after times within quarantine_window_ms is quarantined. */
/* Writes the due "suppressed" lines and lets stores out of quarantine. */
void agg_refuse_tick(aggregator *a, int64_t now);
#define AGG_REFUSE_BURST 5
#define AGG_REFUSE_EVERY_MS 10000

/* secure.c */
/* Starts a secure round with the n chosen stores (names in a->selected are
 * set by the caller); an error if it could not start (logged). */
FR_NODISCARD fr_err secure_start(aggregator *a, int64_t now);
void secure_on_message(aggregator *a, const fr_net_peer *peer,
                       const fr_msg *msg, int64_t now);
void secure_tick(aggregator *a, int64_t now);
void secure_end(aggregator *a);
/* The stats phase of the secure round in progress. */
agg_phase secure_phase(const aggregator *a);

#endif
