/*
 * wire.h - the only module that includes the protoc-c generated headers.
 *
 * Every message on the wire is one fedrec.Envelope (proto/fedrec.proto)
 * carrying the protocol version, the round id and a message type that must
 * match the body. Decoding is the single place where peer bytes are checked:
 * size limit, version, type/body agreement, vector lengths against declared
 * dimensions, dimension bounds and finite floats. A message that fails any
 * check is refused with FR_EPROTO (or FR_ELIMIT for size) and a reason string.
 *
 * Ownership: fr_wire_decode returns an owned fr_msg; every pointer inside it
 * (float arrays) is borrowed from it and valid until fr_msg_destroy.
 * fr_wire_encode borrows the message and returns a malloc'd buffer.
 */
#ifndef FR_WIRE_WIRE_H
#define FR_WIRE_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "../base/err.h"
#include "../dp/setup.h"
/* secagg.h for fr_sa_msg (the SecAgg+ phase bodies); setup.h for the
 * round's parameters. */
#include "../secagg/secagg.h"
#include "../secagg/setup.h"

#define FR_WIRE_VERSION 1u
/* Absolute bounds on model shape accepted from the wire. */
#define FR_WIRE_MAX_ITEMS (1u << 20)
#define FR_WIRE_MAX_DIM 1024u
/* Default maximum encoded message size (also set as ZMQ_MAXMSGSIZE). */
#define FR_WIRE_DEFAULT_MAX_BYTES (64u << 20)
/* A catalogue id: BLAKE2b-256 of the catalogue's canonical bytes
 * (catalogue/catalogue.h, FR_CATALOGUE_ID_BYTES). */
#define FR_WIRE_CATALOGUE_ID_BYTES 32u

typedef enum fr_msg_type {
    FR_MSG_HELLO = 1,       /* store -> aggregator: presence and heartbeat */
    FR_MSG_ROUND_START = 2, /* aggregator -> store: global model and task */
    FR_MSG_UPDATE = 3,      /* store -> aggregator: model delta + metrics */
    FR_MSG_ROUND_END = 4,   /* aggregator -> store: outcome of a round */
    FR_MSG_SECAGG = 5,      /* both ways: one phase of secure aggregation */
    FR_MSG_DONE = 6,        /* aggregator -> store: training has ended */
    FR_MSG_CATALOGUE = 7,   /* store -> aggregator: a catalogue request;
                               aggregator -> store: the catalogue */
} fr_msg_type;

typedef struct fr_msg_hello {
    uint64_t num_examples; /* training interactions the store holds */
    uint64_t last_round;   /* last round id the store took part in */
    uint32_t busy;         /* non-zero while the store is training */
    /* From a regional aggregator: the stores it would put in a round now
     * and the largest example count among them. 0 from a store. */
    uint32_t stores;
    uint64_t max_examples;
} fr_msg_hello;

typedef struct fr_train_params {
    uint32_t local_epochs;
    float learning_rate;
    uint32_t negatives; /* sampled negatives per positive */
    float l2;
    uint32_t batch_size;
    uint64_t seed;
    uint32_t loss; /* training loss: 0 logistic, 1 full softmax, 2 sampled
                      softmax, 3 BPR (model/mf.h) */
} fr_train_params;

/* The least-squares kind's step (model/ials.h): phase 1 solves the
 * members and collects fr_ials_store_stats, phase 2 the matvec along
 * direction (n_items * dim floats, borrowed) for the epoch whose phase 1
 * was round epoch_round. Phase 3, the only one of a DP round, solves the
 * members and collects the DDG-noised sum of their clipped vectors
 * (fr_ials_dp_member_sums): an epoch in one round. */
#define FR_IALS_PHASE_STATS 1u
#define FR_IALS_PHASE_MATVEC 2u
#define FR_IALS_PHASE_DP 3u
typedef struct fr_ials_step {
    uint32_t phase;
    double alpha0, lambda, nu;
    const float *direction;
    size_t n_direction;
    uint64_t epoch_round;
} fr_ials_step;

/* Longest Update.sums accepted: the phase-1 sums of the largest model. */
#define FR_WIRE_MAX_SUMS ((size_t)64 << 20)

typedef struct fr_msg_round_start {
    uint32_t n_items;
    uint32_t dim;
    const float *item_emb;  /* n_items * dim, row-major */
    const float *item_bias; /* n_items */
    uint32_t deadline_ms;   /* time the store has to answer */
    fr_train_params train;
    uint32_t has_secagg;    /* 1: answer with SecAgg messages, not Update */
    fr_secagg_setup secagg;
    uint32_t has_dp;        /* 1: member-level DP (needs has_secagg) */
    fr_dp_setup dp;
    /* The catalogue the model's rows follow. has_catalogue 0: legacy
     * integer item ids (catalogue_items 0); 1: catalogue_items equals
     * n_items. */
    uint32_t has_catalogue;
    uint8_t catalogue_id[FR_WIRE_CATALOGUE_ID_BYTES];
    uint32_t catalogue_items;
    uint32_t has_ials; /* 1: a round of the least-squares kind */
    fr_ials_step ials;
} fr_msg_round_start;

typedef struct fr_metrics {
    double hr10;
    double ndcg10;
    double pop_hr10;
    double pop_ndcg10;
    uint32_t eval_members;
    double train_loss;
} fr_metrics;

typedef struct fr_msg_update {
    uint64_t num_examples; /* weight of this update in the average, > 0 */
    uint32_t n_items;
    uint32_t dim;
    const float *delta_emb;  /* n_items * dim */
    const float *delta_bias; /* n_items */
    fr_metrics metrics;
    uint32_t covers; /* from a region: stores the mean covers; 0: a store */
    /* A least-squares round: the store's sums (n_sums > 0, borrowed); the
     * delta is then absent (n_items = dim = 0, NULL vectors). */
    const float *sums;
    size_t n_sums;
} fr_msg_update;

typedef struct fr_msg_round_end {
    uint32_t completed; /* 1 if aggregated, 0 if abandoned */
    uint32_t contributors;
    uint64_t completed_rounds;
    /* A completed round carries the new global model (has_model = 1) so the
     * stores can serve recommendations from it; the same checks as
     * ROUND_START apply when present. */
    uint32_t has_model;
    uint32_t n_items;
    uint32_t dim;
    const float *item_emb;  /* n_items * dim */
    const float *item_bias; /* n_items */
    uint32_t training_done; /* 1: this round completed the target */
} fr_msg_round_end;

/* Training has ended; the aggregator answers HELLOs with this. */
typedef struct fr_msg_done {
    uint64_t completed_rounds;
} fr_msg_done;

/* A catalogue request (content_len 0, items 0) or the catalogue: its
 * canonical bytes (borrowed), which the receiver must still parse and hash
 * against id. The decoder checks only the shape: items in
 * [1, FR_WIRE_MAX_ITEMS] and a content length that so many
 * lines can have. */
typedef struct fr_msg_catalogue {
    uint8_t id[FR_WIRE_CATALOGUE_ID_BYTES];
    uint32_t items;
    const uint8_t *content;
    size_t content_len;
} fr_msg_catalogue;

/* One SecAgg+ phase. The arrays inside sa are borrowed (from the decoded
 * message, or from the caller when encoding). Metrics ride along with the
 * masked input (phase FR_SA_MASKED) only, as does covers. */
typedef struct fr_msg_secagg {
    fr_sa_msg sa;
    uint32_t has_metrics;
    fr_metrics metrics;
    uint32_t covers; /* masked input of a region: the stores its sum
                        covers; 0 from a store (itself) */
} fr_msg_secagg;

typedef struct fr_msg {
    fr_msg_type type;
    uint64_t round_id;
    union {
        fr_msg_hello hello;
        fr_msg_round_start round_start;
        fr_msg_update update;
        fr_msg_round_end round_end;
        fr_msg_secagg secagg;
        fr_msg_done done;
        fr_msg_catalogue catalogue;
    } u;
    void *owned_;    /* decoder's storage; NULL for caller-built messages */
    void *owned_sa_; /* decoder's arrays for a SecAgg body */
} fr_msg;

/*
 * Encodes m (version FR_WIRE_VERSION is added). *buf_out is malloc'd, caller
 * frees. FR_EINVAL if m is inconsistent (unknown type, NULL vectors, dims out
 * of bounds); FR_ELIMIT if the encoding would exceed max_bytes.
 */
FR_NODISCARD fr_err fr_wire_encode(const fr_msg *m, size_t max_bytes,
                                   uint8_t **buf_out, size_t *len_out);

/*
 * Decodes and validates peer bytes. On failure returns FR_ELIMIT (len >
 * max_bytes) or FR_EPROTO and, if reason_out is not NULL, points it at a
 * static string naming what was wrong ("truncated or malformed protobuf",
 * "unsupported protocol version", "message unpacks to more memory than its
 * size allows", ...). *msg_out is set only on success. Whatever the bytes
 * say, the decoder allocates at most min(16 * len, 2 * len + 48 MiB) + 1 MiB
 * (wire.c, the unpacker's memory).
 */
FR_NODISCARD fr_err fr_wire_decode(const uint8_t *buf, size_t len,
                                   size_t max_bytes, fr_msg **msg_out,
                                   const char **reason_out);

/* Frees a decoded message; accepts NULL; sets *mp to NULL. */
void fr_msg_destroy(fr_msg **mp);

/* Name of a message type for logs ("hello", ...; "unknown" otherwise). */
const char *fr_msg_type_name(fr_msg_type type);

#endif
