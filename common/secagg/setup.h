/*
 * setup.h - the secure-aggregation parameters of one round, as the
 * aggregator announces them in RoundStart.secagg (wire/ encodes and
 * decodes them; client/ and server/ act on them). A plain value: no
 * secrets, no ownership.
 */
#ifndef FR_SECAGG_SETUP_H
#define FR_SECAGG_SETUP_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* Secure aggregation parameters of a round (RoundStart.secagg). */
typedef struct fr_secagg_setup {
    uint32_t n, k, t;      /* participants, neighbours, threshold */
    uint32_t index;        /* the receiving store's participant number */
    uint32_t n_words;      /* masked vector length */
    uint32_t min_inputs;
    uint8_t graph_commit[32];
    double clip;           /* L2 bound on one update */
    uint32_t weight_cap;
    /* Stores the fixed-point scale is sized for (0: n). Above n when the
     * round's sum is added with others: a regional aggregator's round, or
     * a round among regions (docs/SECAGG.md, "Regions"). */
    uint32_t encode_n;
    /* To a regional aggregator: the most stores its input may cover (0:
     * the participant is a store). */
    uint32_t cover_max;
} fr_secagg_setup;

/* The participant count the fixed-point encoding of a round is sized
 * for: encode_n, or n when that is 0. */
static inline uint32_t
fr_secagg_encode_n(const fr_secagg_setup *s)
{
    return s->encode_n ? s->encode_n : s->n;
}

/* The last round start a participant received, so that a repeat of a
 * secure one (the aggregator sends a start again to a store that
 * reconnected without it: docs/SECAGG.md, "Dropouts") is not taken twice.
 * round_id goes in the participant's HELLO as last_round. */
typedef struct fr_secagg_heard {
    uint64_t round_id;
    uint8_t commit[32]; /* graph commitment; zero after a plain start */
} fr_secagg_heard;

/* True if the start (round_id; secure: its set-up, NULL for a plain
 * round) repeats the secure one in *h; otherwise records it in *h. */
static inline bool
fr_secagg_heard_repeat(fr_secagg_heard *h, uint64_t round_id,
                       const fr_secagg_setup *secure)
{
    if (secure && h->round_id == round_id &&
        !memcmp(h->commit, secure->graph_commit, sizeof h->commit))
        return true;
    h->round_id = round_id;
    if (secure)
        memcpy(h->commit, secure->graph_commit, sizeof h->commit);
    else
        memset(h->commit, 0, sizeof h->commit);
    return false;
}

#endif
