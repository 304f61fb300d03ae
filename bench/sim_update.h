/*
 * sim_update.h - the synthetic update of a simulated store
 * (fedrec-simstores), in its own file so that a test can compute what a
 * federation of simulated stores sends and check a secure sum exactly.
 */
#ifndef FR_BENCH_SIM_UPDATE_H
#define FR_BENCH_SIM_UPDATE_H

#include <stddef.h>
#include <stdint.h>

/* Store number's update in round round_id: n floats uniform in
 * +-scale, reproducible from (seed, round_id, number). */
void sim_update_make(float *out, size_t n, uint64_t seed, uint64_t round_id,
                     uint32_t number, float scale);

/* The rounding coins of that update when coins_seed is not 0 (a test
 * asks for reproducible encodings): BLAKE2b-256 of (coins_seed,
 * round_id, number). */
void sim_update_coins(uint8_t out[32], uint64_t coins_seed, uint64_t round_id,
                      uint32_t number);

#endif
