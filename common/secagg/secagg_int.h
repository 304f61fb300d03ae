/*
 * secagg_int.h - declarations shared by the files of the SecAgg+ protocol
 * and not part of its interface: the domain-separation labels, the layout
 * of a share ciphertext, the messages both roles sign or authenticate, the
 * neighbour graph, and pairwise key agreement. secagg.c holds them;
 * secagg_client.c (the store) and secagg_server.c (the aggregator) use them.
 */
#ifndef FR_SECAGG_SECAGG_INT_H
#define FR_SECAGG_SECAGG_INT_H

#include <stddef.h>
#include <stdint.h>

#include "../base/err.h"
#include "../crypto/prim.h"
#include "secagg.h"

/* Labels of the pairwise keys (agreement) and of the share ciphertexts. */
#define FR_SA_LBL_ENC "fedrec-sa-enc"
#define FR_SA_LBL_MASK "fedrec-sa-mask"

/* Share ciphertext: nonce, then the AEAD of the two shares (b, s_sk). */
#define FR_SA_NONCE_BYTES FR_CRYPTO_AEAD_NONCE_BYTES
#define FR_SA_TAG_BYTES FR_CRYPTO_AEAD_TAG_BYTES
#define FR_SA_PT_BYTES (2 * FR_SHAMIR_SHARE_BYTES)

_Static_assert(FR_SA_CT_BYTES ==
                   FR_SA_NONCE_BYTES + FR_SA_PT_BYTES + FR_SA_TAG_BYTES,
               "ciphertext layout");

/* Sizes of what fr_sa_keys_message, fr_sa_u3_message and fr_sa_ct_ad
 * write. */
#define FR_SA_KEYS_MSG_BYTES (14 + 16 + 64)
#define FR_SA_U3_MSG_BYTES (12 + 12 + 32)
#define FR_SA_AD_BYTES (12 + 16)

/* FR_OK if p is a usable set of round parameters, FR_EINVAL otherwise. */
FR_NODISCARD fr_err fr_sa_params_ok(const fr_sa_params *p);

/* All parties' neighbour lists under seed, n * k entries, each row
 * ascending (see fr_sa_neighbours). */
FR_NODISCARD fr_err fr_sa_graph_build(const uint8_t seed[32], uint32_t n,
                                      uint32_t k, uint32_t *out);

/* out = BLAKE2b-256 keyed by the X25519 point of (sk, pk) over
 * label || round || min(a,b) || max(a,b). FR_EAUTH for a low-order pk
 * (out is then zeroed). */
FR_NODISCARD fr_err fr_sa_agree(uint8_t out[32], const uint8_t sk[32],
                                const uint8_t pk[32], const char *label,
                                uint64_t round, uint32_t a, uint32_t b);

/* What a store signs when it advertises its round keys. */
void fr_sa_keys_message(uint8_t out[FR_SA_KEYS_MSG_BYTES],
                        const fr_sa_params *p, uint32_t i,
                        const uint8_t c_pk[32], const uint8_t s_pk[32]);

/* What a store signs to confirm U3: label, round, n, BLAKE2b(bitmap). */
void fr_sa_u3_message(uint8_t out[FR_SA_U3_MSG_BYTES], const fr_sa_params *p,
                      const uint8_t *bitmap, size_t bytes);

/* Associated data of the share ciphertext from `from` to `to`. */
void fr_sa_ct_ad(uint8_t ad[FR_SA_AD_BYTES], uint64_t round, uint32_t from,
                 uint32_t to);

/* Position of j in the ascending row of k entries, or -1. */
static inline int
fr_sa_slot_of(const uint32_t *row, uint32_t k, uint32_t j)
{
    uint32_t lo = 0, hi = k;

    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (row[mid] < j)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < k && row[lo] == j ? (int)lo : -1;
}

/* Bytes of a party bitmap (bit i of byte i/8) for n parties. */
static inline uint32_t
fr_sa_bitmap_bytes(uint32_t n)
{
    return (n + 7) / 8;
}

static inline int
fr_sa_bit(const uint8_t *bm, uint32_t i)
{
    return (bm[i / 8] >> (i % 8)) & 1;
}

#endif
