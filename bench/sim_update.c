/*
 * sim_update.c - the synthetic update of a simulated store (sim_update.h).
 */
#include "sim_update.h"

#include "base/util.h"
#include "crypto/prim.h"

void
sim_update_make(float *out, size_t n, uint64_t seed, uint64_t round_id,
                uint32_t number, float scale)
{
    fr_rng rng;

    fr_rng_seed(&rng, seed ^ (round_id << 20) ^ number);
    for (size_t j = 0; j < n; j++)
        out[j] = scale * (float)(2.0 * fr_rng_uniform(&rng) - 1.0);
}

void
sim_update_coins(uint8_t out[32], uint64_t coins_seed, uint64_t round_id,
                 uint32_t number)
{
    fr_crypto_hash_state st;

    fr_crypto_hash_init(&st, 32);
    fr_crypto_hash_update(&st, &coins_seed, sizeof coins_seed);
    fr_crypto_hash_update(&st, &round_id, sizeof round_id);
    fr_crypto_hash_update(&st, &number, sizeof number);
    fr_crypto_hash_final(&st, out, 32);
}
