/*
 * setup.h - the member-level DP parameters of one round, as the aggregator
 * announces them in RoundStart.dp (proto DpSetup). wire/ encodes and
 * decodes them; the ledger hashes them into the round's record
 * (fr_dp_round_hash). A plain value: no secrets, no ownership.
 */
#ifndef FR_DP_SETUP_H
#define FR_DP_SETUP_H

#include <stdint.h>

/* Member-level DP of a round (proto DpSetup). */
#define FR_DP_MECH_DDG 1u
#define FR_DP_WIRE_MAX_DIM ((uint64_t)1 << 26)
typedef struct fr_dp_setup {
    uint32_t mechanism;     /* FR_DP_MECH_DDG */
    double clip, q, scale;
    uint64_t sigma2_int;
    uint64_t dim;           /* power of two, <= FR_DP_WIRE_MAX_DIM */
    uint64_t rotation_seed;
    uint32_t n_target, t_collude;
    double delta, epsilon_budget;
    double l2_sens, l1_sens;
} fr_dp_setup;

#endif
