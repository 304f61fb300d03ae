/*
 * setup.h - the secure-aggregation parameters of one round, as the
 * aggregator announces them in RoundStart.secagg (wire/ encodes and
 * decodes them; client/ and server/ act on them). A plain value: no
 * secrets, no ownership.
 */
#ifndef FR_SECAGG_SETUP_H
#define FR_SECAGG_SETUP_H

#include <stdint.h>

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

#endif
