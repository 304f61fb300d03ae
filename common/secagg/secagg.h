/*
 * secagg.h - secure aggregation (Bonawitz et al. 2017 with the SecAgg+
 * neighbour graph of Bell et al. 2020): the aggregator learns the modular sum
 * of the stores' input vectors and nothing else about any one of them, and a
 * round still completes when stores drop out at any phase.
 *
 * Parties are numbered 0..n-1 (the round's participants, in an order both
 * sides agree on; the round engines use store names sorted bytewise). The
 * module knows nothing of sockets or protobuf: the store side turns requests
 * into replies (fr_sa_client), the aggregator side collects replies and makes
 * the next phase's requests (fr_sa_server); wire/ carries fr_sa_msg.
 *
 * Phases (docs/SECAGG.md has the full story and the threat model):
 *   ADVERTISE  store -> agg  two fresh X25519 public keys (c: share encryption,
 *                            s: pairwise masks), signed with the store's
 *                            Ed25519 identity key
 *   KEYS       agg -> store  the graph seed (committed to in the round start)
 *                            and the advertised keys of the store's neighbours
 *   SHARES     store -> agg  t-of-k Shamir shares of the self-mask seed b and
 *                            of s_sk, one AEAD ciphertext per neighbour
 *   MASK_REQ   agg -> store  the ciphertexts addressed to this store
 *   MASKED     store -> agg  y = x + PRG(b) + sum_j +-PRG(s_ij)  (mod 2^32)
 *   CONSIST    agg -> store  the set U3 of stores whose masked input arrived
 *   SIGNED     store -> agg  the store's signature over (round, U3)
 *   UNMASK     agg -> store  neighbours' signatures over U3, and the list of
 *                            shares the aggregator asks for
 *   REVEAL     store -> agg  a b-share for every neighbour in U3, an
 *                            s_sk-share for every neighbour that dropped
 *                            after sharing keys; never both for one peer
 *
 * Every failure is an fr_err plus a reason string (static, never secret) for
 * the caller's log. Secrets (key pairs, seeds, shares, pairwise keys) live in
 * guarded memory (fr_crypto_secure_alloc) and are wiped as soon as they are
 * no longer needed and on destroy.
 */
#ifndef FR_SECAGG_SECAGG_H
#define FR_SECAGG_SECAGG_H

#include <stddef.h>
#include <stdint.h>

#include "../base/err.h"
#include "../crypto/crypto.h"
#include "shamir.h"

#define FR_SA_KEY_BYTES 32
#define FR_SA_SIG_BYTES 64
/* Share ciphertext: 24-byte nonce, two 40-byte shares, 16-byte tag. */
#define FR_SA_CT_BYTES (24 + 2 * FR_SHAMIR_SHARE_BYTES + 16)
#define FR_SA_MAX_PARTIES 65535u

typedef enum fr_sa_phase {
    FR_SA_NONE = 0,
    FR_SA_ADVERTISE = 1,
    FR_SA_KEYS = 2,
    FR_SA_SHARES = 3,
    FR_SA_MASK_REQ = 4,
    FR_SA_MASKED = 5,
    FR_SA_CONSIST = 6,
    FR_SA_SIGNED = 7,
    FR_SA_UNMASK = 8,
    FR_SA_REVEAL = 9,
} fr_sa_phase;

/* Which secret a share belongs to. */
typedef enum fr_sa_kind {
    FR_SA_SHARE_B = 1, /* self-mask seed of a store that sent its input */
    FR_SA_SHARE_S = 2, /* mask secret key of a store that dropped */
} fr_sa_kind;

/* Public parameters of one secure-aggregation round. */
typedef struct fr_sa_params {
    uint64_t round_id;
    uint32_t n;        /* participants */
    uint32_t k;        /* neighbours per party: even, or n - 1 (full graph) */
    uint32_t t;        /* shares needed to rebuild a secret, 2..k */
    uint32_t n_words;  /* input length in 32-bit words */
    uint32_t min_inputs; /* fewest inputs a sum may cover, >= t */
    uint8_t graph_commit[32]; /* BLAKE2b-256 of the graph seed */
} fr_sa_params;

typedef struct fr_sa_keys {
    uint32_t index;
    uint8_t c_pk[FR_SA_KEY_BYTES];
    uint8_t s_pk[FR_SA_KEY_BYTES];
    uint8_t sig[FR_SA_SIG_BYTES];
    uint8_t id_pk[FR_SA_KEY_BYTES]; /* identity key, set by the aggregator
                                       when it forwards keys (KEYS) */
} fr_sa_keys;

typedef struct fr_sa_cipher {
    uint32_t from, to;
    uint8_t ct[FR_SA_CT_BYTES];
} fr_sa_cipher;

typedef struct fr_sa_sig {
    uint32_t index;
    uint8_t sig[FR_SA_SIG_BYTES];
} fr_sa_sig;

/* A share of `peer`'s secret of the given kind, held by the sender (its x is
 * sender index + 1). In UNMASK requests the share bytes are unused. */
typedef struct fr_sa_reveal {
    uint32_t peer;
    uint32_t kind; /* fr_sa_kind */
    uint8_t y[FR_SHAMIR_SHARE_BYTES];
} fr_sa_reveal;

/*
 * One protocol message. Only the fields of its phase are meaningful; arrays
 * are borrowed (from the decoder, or from the client/server that made the
 * message, valid until that object's next call).
 */
typedef struct fr_sa_msg {
    uint32_t phase; /* fr_sa_phase */
    const fr_sa_keys *keys;  /* ADVERTISE: 1 (own); KEYS: neighbours' */
    uint32_t n_keys;
    uint8_t graph_seed[32];  /* KEYS */
    const fr_sa_cipher *ciphers; /* SHARES, MASK_REQ */
    uint32_t n_ciphers;
    const uint32_t *words;   /* MASKED */
    uint32_t n_words;
    const uint8_t *bitmap;   /* CONSIST: U3, bit i of byte i/8 */
    uint32_t bitmap_bytes;
    uint8_t sig[FR_SA_SIG_BYTES]; /* SIGNED */
    const fr_sa_sig *sigs;   /* UNMASK */
    uint32_t n_sigs;
    const fr_sa_reveal *reveals; /* UNMASK (requests), REVEAL (shares) */
    uint32_t n_reveals;
} fr_sa_msg;

/* ---- parameters and graph ---------------------------------------------- */

/*
 * Default neighbour count for n parties: the even number at or above
 * 3 * log2(n), at most n - 1 (then the full graph).
 */
uint32_t fr_sa_default_k(uint32_t n);

/* Default threshold: k/2 + 1 (a majority of the neighbours). */
uint32_t fr_sa_default_t(uint32_t k);

/*
 * Checks (n, k, t) against the tolerated dropout fraction: k even or n - 1,
 * k <= n - 1, t > k/2 (no two disjoint sets of neighbours can both rebuild
 * one store's secrets), t <= k - ceil(max_dropout * k) (a store whose
 * neighbours drop at the tolerated rate can still be rebuilt), t >= 2.
 * FR_EINVAL with the broken rule written to errbuf.
 */
FR_NODISCARD fr_err fr_sa_check_params(uint32_t n, uint32_t k, uint32_t t,
                                       double max_dropout, char *errbuf,
                                       size_t errlen);

/* Draws a fresh graph seed and its commitment. */
void fr_sa_graph_seed(uint8_t seed_out[32], uint8_t commit_out[32]);

/*
 * Neighbours of party i under seed: a random permutation of 0..n-1 (ChaCha20
 * keyed by seed) laid on a ring, i linked to the k/2 parties on each side
 * (the full graph when k == n - 1). Writes k indices, ascending, to out.
 */
FR_NODISCARD fr_err fr_sa_neighbours(const uint8_t seed[32], uint32_t n,
                                     uint32_t k, uint32_t i, uint32_t *out);

/* ---- PRG ------------------------------------------------------------------ */

/* words[j] += sign * PRG(seed)[j] mod 2^32, j < n (sign +1 or -1). The PRG is
 * the ChaCha20 keystream keyed by seed, read as little-endian words. */
void fr_sa_prg_add(uint32_t *words, size_t n, const uint8_t seed[32],
                   int sign);

/* ---- store side ------------------------------------------------------------ */

typedef struct fr_sa_client fr_sa_client;

/*
 * A store's state for one round as party `index`. The identity key is
 * borrowed and must outlive the client. FR_EINVAL on bad parameters.
 */
FR_NODISCARD fr_err fr_sa_client_new(const fr_sa_params *p, uint32_t index,
                                     const fr_crypto_signkey *identity,
                                     fr_sa_client **out);
void fr_sa_client_destroy(fr_sa_client **cp);

/* Makes the round's key pairs; *out is the ADVERTISE message. */
FR_NODISCARD fr_err fr_sa_client_advertise(fr_sa_client *c, fr_sa_msg *out);

/*
 * Handles a request from the aggregator (KEYS, MASK_REQ, CONSIST, UNMASK) and
 * writes the reply to *out; out->phase is FR_SA_NONE when there is nothing to
 * send yet (MASK_REQ before the input is ready: see fr_sa_client_mask).
 * Requests are accepted once each and in order. On any failure the client
 * refuses to go on (every later call fails with FR_ESTATE) and *why names the
 * problem: FR_EPROTO malformed or out of order, FR_EAUTH bad signature or
 * ciphertext, FR_ESTATE the aggregator's view is unsafe (too few parties,
 * inconsistent survivor sets, a request for both shares of one peer).
 */
FR_NODISCARD fr_err fr_sa_client_recv(fr_sa_client *c, const fr_sa_msg *in,
                                      fr_sa_msg *out, const char **why);

/*
 * Masks the input (p->n_words words) once MASK_REQ has been handled; *out is
 * the MASKED message. FR_ESTATE (with *why) before MASK_REQ or after a
 * failure.
 */
FR_NODISCARD fr_err fr_sa_client_mask(fr_sa_client *c, const uint32_t *input,
                                      fr_sa_msg *out, const char **why);

/* Non-zero once MASK_REQ has been handled and the input is awaited. */
int fr_sa_client_wants_input(const fr_sa_client *c);

/* Non-zero while the client still holds secret bytes (key pairs, seed,
 * shares received). Zero after REVEAL or a refusal: everything is wiped. */
int fr_sa_client_holds_secrets(const fr_sa_client *c);

/* ---- aggregator side -------------------------------------------------------- */

typedef struct fr_sa_server fr_sa_server;

/*
 * The aggregator's state for one round. graph_seed must match
 * p->graph_commit; id_pks[i] is party i's Ed25519 identity key (copied).
 */
FR_NODISCARD fr_err fr_sa_server_new(const fr_sa_params *p,
                                     const uint8_t graph_seed[32],
                                     const uint8_t (*id_pks)[FR_SA_KEY_BYTES],
                                     fr_sa_server **out);
void fr_sa_server_destroy(fr_sa_server **sp);

/* Phase whose replies are being collected: ADVERTISE, SHARES, MASKED, SIGNED,
 * REVEAL; FR_SA_NONE once finished or aborted. */
fr_sa_phase fr_sa_server_phase(const fr_sa_server *s);

/*
 * A reply from party `from` (the authenticated sender, never a field of the
 * message). Refused with a reason if it is not the current phase, a repeat,
 * from a party not alive in this phase, or fails its checks; a refused reply
 * does not change the state, and its sender is treated as dropped at the next
 * advance.
 */
FR_NODISCARD fr_err fr_sa_server_recv(fr_sa_server *s, uint32_t from,
                                      const fr_sa_msg *m, const char **why);

/* Parties still expected to reply in the current phase. */
uint32_t fr_sa_server_pending(const fr_sa_server *s);

/* Non-zero if party i may still reply in the current phase. */
int fr_sa_server_expects(const fr_sa_server *s, uint32_t i);

/*
 * Closes the current phase: parties that did not reply count as dropped. The
 * next phase's requests are then available from fr_sa_server_request. After
 * the REVEAL phase it rebuilds the secrets and removes the masks.
 * FR_ESTATE (with *why) if too few parties are left to go on: the round is
 * aborted and nothing more is revealed.
 */
FR_NODISCARD fr_err fr_sa_server_advance(fr_sa_server *s, const char **why);

/*
 * The request for party i in the phase just opened. FR_ENOENT if i is not
 * expected to reply. *out borrows from s until the next request or advance.
 */
FR_NODISCARD fr_err fr_sa_server_request(fr_sa_server *s, uint32_t i,
                                         fr_sa_msg *out);

/*
 * After the last advance: the modular sum (p->n_words words, borrowed) of
 * the inputs of *n_inputs parties, listed in *included (borrowed, n bytes,
 * 1 = included). FR_ESTATE if the round has not finished.
 */
FR_NODISCARD fr_err fr_sa_server_result(const fr_sa_server *s,
                                        const uint32_t **sum,
                                        uint32_t *n_inputs,
                                        const uint8_t **included);

#endif
