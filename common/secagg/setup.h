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
} fr_secagg_setup;

#endif
