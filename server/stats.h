/*
 * stats.h - what the aggregator counts and shows: the numbers behind
 * /metrics, the status page and `fedrec-ctl status|stores|regions`.
 *
 * DESIGN. The main loop is the only writer (agg_stats_* setters, each
 * taking the lock briefly). Readers on other threads (the HTTP server) or in
 * the loop (the admin socket) take a consistent copy with
 * agg_stats_snapshot() and render from that copy without holding the lock.
 * Nothing here is secret: store names, counts, durations and the quality
 * figures stores report. Never put a key, a mask or a member id in it.
 */
#ifndef FR_SERVER_STATS_H
#define FR_SERVER_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* Histogram upper bounds (seconds) for round and phase durations; one more
 * bucket holds everything above the last bound (+Inf). */
#define AGG_HIST_BOUNDS 12
extern const double agg_hist_bounds[AGG_HIST_BOUNDS];

typedef struct agg_hist {
    uint64_t bucket[AGG_HIST_BOUNDS + 1]; /* per bucket, NOT cumulative */
    uint64_t count;
    double sum;
} agg_hist;

/* Phases of a round. A plain round has only COLLECT; a secure round goes
 * through the five SecAgg+ phases. */
typedef enum agg_phase {
    AGG_PHASE_COLLECT = 0,
    AGG_PHASE_ADVERTISE,
    AGG_PHASE_SHARE,
    AGG_PHASE_MASKED,
    AGG_PHASE_CONSISTENCY,
    AGG_PHASE_UNMASK,
    AGG_PHASE_N
} agg_phase;
/* "collect", "advertise_keys", "share_keys", "masked_input",
 * "consistency", "unmasking": used as Prometheus label values. */
extern const char *const agg_phase_names[AGG_PHASE_N];

typedef enum agg_outcome {
    AGG_ROUND_COMPLETED = 0,
    AGG_ROUND_ABANDONED,
    AGG_ROUND_N
} agg_outcome;
extern const char *const agg_outcome_names[AGG_ROUND_N]; /* "completed"... */

/* Why a connection or a message was turned away. UNKNOWN_KEY counts
 * refused CURVE handshakes; the others count messages. */
typedef enum agg_reject {
    AGG_REJECT_UNKNOWN_KEY = 0, /* handshake with a key not allow-listed */
    AGG_REJECT_REVOKED,         /* message from a key revoked since */
    AGG_REJECT_MALFORMED,       /* did not decode */
    AGG_REJECT_OVERSIZED,       /* larger than max_message_bytes */
    AGG_REJECT_REPLAYED,        /* for an old round or a repeated reply */
    AGG_REJECT_UNEXPECTED,      /* valid but not expected now / refused */
    AGG_REJECT_ADMIN_DENIED,    /* admin socket client not permitted */
    AGG_REJECT_TOO_MANY_FRAMES, /* a multipart message (one frame is all) */
    AGG_REJECT_QUARANTINED,     /* from a store in quarantine */
    AGG_REJECT_WRONG_ROUND,     /* for a round other than the one running */
    AGG_REJECT_OUT_OF_PHASE,    /* a reply for another phase of the round */
    AGG_REJECT_N
} agg_reject;
/* "unknown_key", "revoked", "malformed", "oversized", "replayed",
 * "unexpected", "admin_denied", "too_many_frames", "quarantined",
 * "wrong_round", "out_of_phase" */
extern const char *const agg_reject_names[AGG_REJECT_N];

/* State files whose writes can fail on a full or failing disk. */
typedef enum agg_disk_file {
    AGG_DISK_CHECKPOINT = 0, /* checkpoint.bin */
    AGG_DISK_HISTORY,        /* history.tsv */
    AGG_DISK_LEDGER,         /* privacy.ledger */
    AGG_DISK_N
} agg_disk_file;

/* The file label in /metrics: "checkpoint", "history", "ledger". */
extern const char *const agg_disk_file_names[AGG_DISK_N];

/* One completed round, for the chart and `fedrec-ctl status`. */
typedef struct agg_round_info {
    uint64_t round;    /* completed-round number, 1-based */
    uint64_t round_id; /* wire round id */
    uint32_t stores;   /* contributors */
    uint64_t examples;
    double hr10, ndcg10, pop_hr10, pop_ndcg10, loss; /* NaN if unknown */
    double seconds;
    int64_t end_unix_ms;
} agg_round_info;

#define AGG_RECENT_ROUNDS 60

typedef struct agg_store_info {
    char name[64];
    int connected; /* heard from within heartbeat_timeout_ms */
    int selected;  /* in the round in progress */
    int64_t last_seen_unix_ms;
    uint64_t rounds_joined; /* rounds whose update (or masked input) counted */
    uint64_t examples;      /* as last reported */
    uint64_t refusals;      /* its messages turned away (this process) */
    int64_t quarantined_until_unix_ms; /* 0: not in quarantine */
    /* a regional aggregator (region != 0): what it reports, and its last
     * input that counted in a round (public figures, as a store's) */
    int region;
    uint32_t region_stores;     /* stores it would bring now */
    uint64_t region_max_examples;
    uint64_t region_round_id;   /* 0: none yet */
    uint32_t region_covers;     /* stores that input covered */
    int region_has_metrics;
    double region_hr10, region_ndcg10;
} agg_store_info;

/* A plain-data copy of everything; stores is malloc'd (agg_stats_view_clear
 * frees it). */
typedef struct agg_stats_view {
    int64_t started_unix_ms; /* process start */
    int64_t loop_unix_ms;    /* last pass of the main loop (liveness) */
    int paused;              /* an operator paused new rounds */
    char state[24];          /* "starting", "idle", "collecting", "paused",
                                "done", "budget_exhausted", "stopping" */
    char phase[24];          /* agg_phase_names[] while collecting, else "" */
    int secagg;              /* secure aggregation on */
    uint64_t round_id;       /* current or next wire round id */
    uint64_t completed;      /* rounds completed (all time, from checkpoint) */
    int64_t rounds_target;   /* cfg rounds (0: forever) */
    uint32_t selected;       /* stores selected for the current/last round */
    uint64_t rounds_total[AGG_ROUND_N]; /* this process */
    agg_hist round_seconds;
    agg_hist phase_seconds[AGG_PHASE_N];
    uint64_t dropped_total[AGG_PHASE_N]; /* stores that dropped per phase */
    uint64_t rejected_total[AGG_REJECT_N];
    uint64_t quarantines_total;       /* quarantines begun */
    uint64_t starts_resent_total;     /* round starts sent again */
    uint64_t refusal_logs_suppressed; /* refusal lines not logged */
    size_t n_quarantined;             /* stores in quarantine now */
    uint64_t bytes_in, bytes_out, messages_in, messages_out;
    int64_t last_checkpoint_unix_ms;
    agg_round_info recent[AGG_RECENT_ROUNDS]; /* oldest first */
    size_t n_recent;
    agg_store_info *stores; /* name order */
    size_t n_stores;
    size_t n_connected;
    /* Differential privacy: dp_enabled 0 means "no DP guarantee". */
    int dp_enabled;
    double dp_epsilon_spent, dp_epsilon_budget, dp_delta;
    /* writes of state files that failed (diskerr.c) */
    uint64_t disk_errors_total[AGG_DISK_N];
    /* mode regional: the link to the central (upstream.c) */
    int regional;
    char upstream_link[16];    /* "up", "down", ... */
    int upstream_up;
    uint64_t upstream_round_id; /* the central's secure round in hand; 0 */
    uint64_t upstream_sent;     /* results sent to the central */
    uint64_t upstream_rebuilds; /* connections made afresh */
} agg_stats_view;

typedef struct agg_stats agg_stats;

FR_NODISCARD fr_err agg_stats_new(agg_stats **out);
void agg_stats_destroy(agg_stats **sp);

/* Copies the current figures into *out (out->stores malloc'd). FR_ENOMEM
 * leaves *out cleared. Thread-safe. */
FR_NODISCARD fr_err agg_stats_snapshot(agg_stats *s, agg_stats_view *out);
void agg_stats_view_clear(agg_stats_view *v);

/* Writers: main loop only (each is thread-safe against readers). */
void agg_stats_set_state(agg_stats *s, const char *state, const char *phase,
                         uint64_t round_id, uint64_t completed,
                         uint32_t selected);
/* The main loop calls this on every pass: /healthz fails when it stops. */
void agg_stats_loop_alive(agg_stats *s, int64_t unix_ms);
void agg_stats_set_paused(agg_stats *s, int paused);
void agg_stats_set_static(agg_stats *s, int secagg, int64_t rounds_target);
void agg_stats_phase_done(agg_stats *s, agg_phase p, double seconds,
                          uint32_t dropped);
void agg_stats_round_done(agg_stats *s, agg_outcome o, double seconds);
/* Seeds or extends the recent-round list (a completed round, or the
 * history loaded from the checkpoint at start-up). */
void agg_stats_add_round(agg_stats *s, const agg_round_info *r);
void agg_stats_reject(agg_stats *s, agg_reject why);
/* A store went into quarantine; suppressed refusal log lines. */
void agg_stats_quarantined(agg_stats *s);
void agg_stats_start_resent(agg_stats *s);
void agg_stats_log_suppressed(agg_stats *s, uint64_t n);
/* Sets the handshake-refusal count (read from the ZAP handler). */
void agg_stats_set_refused_handshakes(agg_stats *s, uint64_t n);
void agg_stats_traffic(agg_stats *s, uint64_t in_bytes, uint64_t out_bytes,
                       uint64_t in_msgs, uint64_t out_msgs);
void agg_stats_checkpointed(agg_stats *s, int64_t unix_ms);
/* Replaces the store list (copied). */
void agg_stats_set_stores(agg_stats *s, const agg_store_info *v, size_t n);
void agg_stats_set_dp(agg_stats *s, int enabled, double eps_spent,
                      double eps_budget, double delta);
/* Mode regional: the state of the link to the central. */
void agg_stats_set_upstream(agg_stats *s, const char *link, int up,
                            uint64_t round_id, uint64_t sent,
                            uint64_t rebuilds);

/* Counts one failed write of a state file. */
void agg_stats_disk_error(agg_stats *s, agg_disk_file f);

/* Adds seconds to a histogram (exposed for tests and renderers). */
void agg_hist_observe(agg_hist *h, double seconds);

#endif
