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
#include "secagg/setup.h"
#include "stats.h"

enum { ST_IDLE, ST_COLLECTING, ST_DONE };

typedef struct agg_ials agg_ials;

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
    /* Round starts still to send (secure.c): each participant's is its
     * own copy of the model, so a window of them is in flight at a time;
     * [start_acked, start_next) may still be unanswered. */
    fr_secagg_setup start_setup;
    uint32_t start_next, start_n, start_acked;
    int64_t *start_sent_ms; /* per participant, when its start went out */
    uint64_t *start_link;   /* per participant, its links then */
    uint8_t *start_resends; /* per participant, starts sent again */
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
    /* regions, as the central sees them (secure.c, dp.c): the stores the
     * round's sum covers (a store covers itself, a region its stores),
     * what each participant of the secure round may cover (0: a store),
     * and under DP with regions the fewest stores the total may cover */
    uint32_t covered;
    uint32_t *part_cover;
    uint32_t dp_min_covered;
    /* mode regional (agg_regional(cfg), relay.c): the round engine
     * relays the central's rounds; up_start is NULL in mode central and
     * between rounds */
    struct agg_upstream *up; /* borrowed; NULL in tests without one */
    fr_msg *up_start;        /* the central's ROUND_START in hand (owned) */
    int64_t up_start_ms;     /* when it came */
    int up_cat_wait;         /* its catalogue is being fetched */
    uint64_t up_round;       /* central round id of the last local round */
    fr_secagg_heard up_heard; /* the central's last ROUND_START heard */
    int up_handed;           /* that round's result went up */
    int up_done;             /* the central said training has ended */
    /* model ials (ials.c): the epoch in progress; NULL with model mf */
    agg_ials *ials;
};


/* round.c */
void round_close(aggregator *a, int64_t now, const char *why);
void round_add_quality(aggregator *a, const fr_metrics *m, uint64_t examples);
/* Notes a region's input that counted in the round in progress: the
 * stores it covers and its figures (for /metrics and fedrec-ctl). */
void round_region_input(aggregator *a, store_entry *e, uint32_t covers,
                        const fr_metrics *m, int has_metrics);
void round_send_to(aggregator *a, const char *store, const uint8_t *buf,
                   size_t len);
/* round_send_to handing *bufp (malloc'd) over without a copy; *bufp is
 * NULL afterwards. */
void round_send_owned(aggregator *a, const char *store, uint8_t **bufp,
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

/* round.c: the index of store in a->selected, -1 if not selected */
long round_selected_index(const aggregator *a, const char *store);
/* round.c: one message to every selected store (one shared copy) */
void round_send_selected(aggregator *a, const uint8_t *buf, size_t len);
/* (Re)allocates the buffers sized by a->model: scratch and the plain
 * accumulator (a->n_params follows). */
FR_NODISCARD fr_err round_model_buffers(aggregator *a);
/* round.c: the stores alive and not busy (cand: room for max_stores),
 * and how many of n ready ones a round takes (fraction, min_stores) */
size_t round_ready_stores(aggregator *a, int64_t now, store_entry **cand);
size_t round_pick_count(const aggregator *a, size_t n);
/* Starts a round with k of the n candidates (chosen at random). */
void round_start_with(aggregator *a, int64_t now, store_entry **cand,
                      size_t n, size_t k);
/* The deadline of the round about to start, in ms from its start. */
int64_t round_timeout_ms(const aggregator *a);

/* dp.c */
FR_NODISCARD fr_err agg_dp_open(aggregator *a);
void agg_dp_close(aggregator *a);
/* Designs and charges the DP round for n_stores stores, of which the
 * largest region holds largest_region (0: no region takes part). Without
 * regions it raises *min_inputs to the noise shares needed (every store
 * checks that); with them it sets a->dp_min_covered, which the central
 * checks against the stores the regions' sums cover. An error if the round
 * must not run (logged; budget exhausted sets dp_exhausted and returns
 * FR_ELIMIT). FR_OK when DP is off. */
/* The design input of a DP round for n_stores stores, the largest region
 * holding largest_region of them (0: no region): t_drop allows for
 * dp_max_dropouts stores and dp_max_region_dropouts such regions. */
struct fr_dp_design_in;
void agg_dp_design_input(const agg_config *c, uint32_t n_stores,
                         uint32_t largest_region, uint64_t n_params,
                         struct fr_dp_design_in *out);
FR_NODISCARD fr_err agg_dp_plan(aggregator *a, uint32_t n_stores,
                                uint32_t largest_region,
                                uint32_t *min_inputs);
/* Decodes the unmasked sum of n_in stores into a->scratch as the mean
 * update, or under model ials into agg_ials_dp_sum as the sum itself. */
FR_NODISCARD fr_err agg_dp_decode(aggregator *a, const uint32_t *sum,
                                  uint32_t n_in);
bool agg_dp_exhausted(const aggregator *a);

/* ials.c: the least-squares kind (model ials). All are no-ops (0, NULL)
 * with model mf. */
FR_NODISCARD fr_err agg_ials_open(aggregator *a);
void agg_ials_close(aggregator *a);
/* The length of the sums the next or current round collects. */
size_t agg_ials_len(const aggregator *a);
/* A secure round's clip for them (ials_clip or, phase 2, ials_clip_step). */
double agg_ials_clip(const aggregator *a);
/* The round's sum (agg_ials_len floats): plain updates add into it, a
 * secure round decodes into it. */
float *agg_ials_sum(aggregator *a);
/* Under DP: where dp.c decodes the round's noised sum (agg_ials_len
 * doubles), whose noise std-dev per coordinate is noise_sd; NULL
 * otherwise. */
double *agg_ials_dp_sum(aggregator *a, double noise_sd);
void agg_ials_fill_start(const aggregator *a, fr_msg_round_start *rs);
/* Narrows the n candidates of the round about to start (a phase 2 takes
 * exactly its epoch's stores, *k set to them; without them all the epoch
 * ends and the round is a phase 1); returns the new n. */
size_t agg_ials_candidates(aggregator *a, store_entry **cand, size_t n,
                           size_t *k);
/* A round starts: its sum is zeroed and sized for its phase. */
void agg_ials_begin_round(aggregator *a);
/* Adds one store's plain sums; FR_EINVAL if the length is not the
 * round's. */
FR_NODISCARD fr_err agg_ials_add(aggregator *a, const float *sums, size_t n);
/* The round completed with the stores marked in a->answered: starts the
 * item step (phase 1) or makes one iteration of it (phase 2), which
 * moves the model. An error if the sum could not be used (logged; the
 * next round is a phase 1). */
fr_err agg_ials_completed(aggregator *a);
void agg_ials_abandoned(aggregator *a);

/* announce.c: what stores hear outside a round */
/* Loads cfg->catalogue (if set) and encodes the answer to requests. */
FR_NODISCARD fr_err agg_cat_open(aggregator *a);
/* Makes *catp the catalogue stores are answered with (taken on success;
 * a region's, fetched from the central). */
FR_NODISCARD fr_err agg_cat_install(aggregator *a, fr_catalogue **catp);
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

/* relay.c: mode regional (agg.h has the calls upstream.c makes) */
FR_NODISCARD fr_err relay_open(aggregator *a);
void relay_close(aggregator *a);
void relay_tick(aggregator *a, int64_t now);
/* The region's round closed: the central round start is let go. */
void relay_round_over(aggregator *a);
/* The parts of a region's round start that come from the central. */
void relay_fill_start(const aggregator *a, fr_msg_round_start *rs);
/* Secure plan of a region's round: its own n, k, t and minimum; the
 * central's vector length, clip, weight cap, encode_n and DP. */
FR_NODISCARD fr_err relay_plan(aggregator *a, fr_sa_params *p,
                               fr_secagg_setup *tmpl);
/* The region's secure sum is unmasked: it goes up, raw. */
void relay_hand_up_sum(aggregator *a, const uint32_t *sum, uint32_t n_in,
                       int64_t now);
/* A region's round closed with enough stores: the plain mean goes up
 * (the secure sum went already); nothing is applied or announced. */
void relay_closed(aggregator *a, int64_t now, double secs, const char *why);

/* secure.c */
/* Starts a secure round with the n chosen stores (names in a->selected are
 * set by the caller); an error if it could not start (logged). */
FR_NODISCARD fr_err secure_start(aggregator *a, int64_t now);
void secure_on_message(aggregator *a, const fr_net_peer *peer,
                       const fr_msg *msg, int64_t now);
void secure_tick(aggregator *a, int64_t now);
/* A heartbeat from a store naming the last round start it took. */
void secure_on_hello(aggregator *a, const char *store, uint64_t last_round,
                     int64_t now);
void secure_end(aggregator *a);
/* The stats phase of the secure round in progress. */
agg_phase secure_phase(const aggregator *a);

#endif
