/*
 * dp.h - the store's side of member-level differential privacy.
 *
 * DESIGN. The store is authoritative for its own members' privacy: it keeps
 * its own privacy ledger (privacy.ledger in the store directory), checks
 * every DP round the aggregator announces against its own policy, and
 * charges the round there BEFORE any member data is touched. A round is
 * refused, and nothing is sent, when:
 *   - its parameters do not fit the secure round (vector length, fewer
 *     guaranteed inputs than noise shares promised),
 *   - its sum is unmasked by a regional aggregator (a nested round) and
 *     the store does not take part in those (dp_regional),
 *   - its delta differs from the store's, or
 *   - the store's ledger cannot pay for it (budget exhausted).
 * The store does not take the aggregator's word for the sensitivity: it
 * recomputes the inflated sensitivities from the clip, scale and dimension
 * and charges the larger of the two. The trained, member-clipped sum is
 * encoded with the distributed discrete Gaussian (common/dp/ddg.h) under a
 * fresh random key, so the noise is this store's secret.
 */
#ifndef FR_CLIENT_DP_H
#define FR_CLIENT_DP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "wire/wire.h"

typedef struct store_dp store_dp;

/* dir: where privacy.ledger lives. budget, delta: the store's policy; 0
 * takes the aggregator's values at the first DP round (they are then fixed
 * in the ledger: a budget can be lowered, never raised). */
FR_NODISCARD fr_err store_dp_new(store_dp **out, const char *dir, double budget,
                                 double delta);
void store_dp_destroy(store_dp **dp);

/* dp_regional: whether the store takes part in DP rounds whose sum a
 * regional aggregator unmasks before adding it to other regions' sums
 * (SecAggSetup.encode_n above n; docs/SECAGG.md, "Regions"). Off: such a
 * round is refused, naming the key. */
void store_dp_allow_regional(store_dp *dp, bool allow);

/* Checks and charges a DP round. FR_OK: charged (or already charged for
 * this round id with the same parameters), go ahead. FR_ELIMIT: the budget
 * is exhausted. Other errors: refused. why gets a one-line reason. */
FR_NODISCARD fr_err store_dp_admit(store_dp *dp, uint64_t round_id,
                                   const fr_dp_setup *s,
                                   const fr_secagg_setup *sa, uint64_t n_params,
                                   char *why, size_t cap);

/* True once the store is under DP: a budget is configured, or it has a
 * privacy ledger. Such a store releases no counts of its member data. */
bool store_dp_active(const store_dp *dp);

/* Epsilon charged so far (0 before the ledger exists). */
double store_dp_spent(const store_dp *dp);

/* Marks the round as completed in the ledger (the charge stays). */
void store_dp_commit(store_dp *dp, uint64_t round_id);

/* Encodes the clipped sum (n_params doubles) into s->dim words. */
FR_NODISCARD fr_err store_dp_encode(const fr_dp_setup *s, uint64_t n_params,
                                    const double *sum, uint32_t *words_out);

#endif
