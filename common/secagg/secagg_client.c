/*
 * secagg_client.c - the store's side of SecAgg+ (fr_sa_client, see
 * secagg.h): advertise round keys, share b and s_sk with the neighbours,
 * mask the input, confirm the survivor set, reveal the shares asked for.
 * The shared design notes are at the top of secagg.c.
 */
#include "secagg.h"

#include <stdlib.h>
#include <string.h>

#include "../crypto/crypto.h"
#include "../crypto/prim.h"
#include "secagg_int.h"

enum { C_NEW, C_ADVERTISED, C_SHARED, C_WANT_INPUT, C_MASKED, C_SIGNED,
       C_DONE, C_FAILED };

/* Secret state of a store, in one guarded (fr_crypto_secure_alloc) block. */
typedef struct client_secrets {
    uint8_t c_sk[32], s_sk[32], b[32];
    fr_shamir_share held_b[]; /* k of them, then k held_s */
} client_secrets;

typedef struct client_peer {
    uint8_t has_keys; /* in U1 as seen here */
    uint8_t in_u2;    /* its shares for us arrived */
    uint8_t in_u3;
    fr_sa_keys keys;
} client_peer;

struct fr_sa_client {
    fr_sa_params p;
    uint32_t me;
    const fr_crypto_signkey *id;
    int state;
    uint32_t *nb;        /* k neighbours, ascending */
    client_peer *peers;  /* per neighbour slot */
    client_secrets *sec;
    size_t sec_bytes;
    fr_sa_keys adv;
    fr_sa_cipher *ct_out;
    uint32_t *words_out;
    uint8_t *u3;
    fr_sa_reveal *rev_out;
};

static fr_shamir_share *
held_b(fr_sa_client *c)
{
    return c->sec->held_b;
}

static fr_shamir_share *
held_s(fr_sa_client *c)
{
    return c->sec->held_b + c->p.k;
}

fr_err
fr_sa_client_new(const fr_sa_params *p, uint32_t index,
                 const fr_crypto_signkey *identity, fr_sa_client **out)
{
    fr_sa_client *c;

    if (fr_sa_params_ok(p) || index >= p->n || !identity || !out)
        return FR_EINVAL;
    c = calloc(1, sizeof *c);
    if (!c)
        return FR_ENOMEM;
    c->p = *p;
    c->me = index;
    c->id = identity;
    c->sec_bytes = sizeof *c->sec + 2 * (size_t)p->k * sizeof(fr_shamir_share);
    c->sec = fr_crypto_secure_alloc(c->sec_bytes);
    c->nb = calloc(p->k, sizeof *c->nb);
    c->peers = calloc(p->k, sizeof *c->peers);
    c->ct_out = calloc(p->k, sizeof *c->ct_out);
    c->rev_out = calloc(p->k, sizeof *c->rev_out);
    c->u3 = calloc(fr_sa_bitmap_bytes(p->n), 1);
    if (!c->sec || !c->nb || !c->peers || !c->ct_out || !c->rev_out ||
        !c->u3) {
        fr_sa_client_destroy(&c);
        return FR_ENOMEM;
    }
    fr_crypto_wipe(c->sec, c->sec_bytes);
    *out = c;
    return FR_OK;
}

void
fr_sa_client_destroy(fr_sa_client **cp)
{
    fr_sa_client *c = cp ? *cp : NULL;

    if (!c)
        return;
    if (c->sec) {
        fr_crypto_wipe(c->sec, c->sec_bytes);
        fr_crypto_secure_free(c->sec);
    }
    if (c->rev_out) {
        fr_crypto_wipe(c->rev_out, c->p.k * sizeof *c->rev_out);
        free(c->rev_out);
    }
    if (c->words_out)
        free(c->words_out);
    free(c->nb);
    free(c->peers);
    free(c->ct_out);
    free(c->u3);
    free(c);
    *cp = NULL;
}

static fr_err
client_fail(fr_sa_client *c, fr_err rc, const char *reason, const char **why)
{
    c->state = C_FAILED;
    fr_crypto_wipe(c->sec, c->sec_bytes);
    if (why)
        *why = reason;
    return rc;
}

fr_err
fr_sa_client_advertise(fr_sa_client *c, fr_sa_msg *out)
{
    uint8_t m[FR_SA_KEYS_MSG_BYTES];

    if (!c || !out || c->state != C_NEW)
        return FR_ESTATE;
    fr_crypto_x25519_keypair(c->adv.c_pk, c->sec->c_sk);
    fr_crypto_x25519_keypair(c->adv.s_pk, c->sec->s_sk);
    c->adv.index = c->me;
    fr_sa_keys_message(m, &c->p, c->me, c->adv.c_pk, c->adv.s_pk);
    fr_crypto_sign(c->id, m, sizeof m, c->adv.sig);
    memcpy(c->adv.id_pk, fr_crypto_signkey_public(c->id), 32);
    memset(out, 0, sizeof *out);
    out->phase = FR_SA_ADVERTISE;
    out->keys = &c->adv;
    out->n_keys = 1;
    c->state = C_ADVERTISED;
    return FR_OK;
}

/* Checks the KEYS request (the graph seed against the round's commitment,
 * then each neighbour's signed keys) and records the keys; *nk_out is how
 * many neighbours advertised them. */
static fr_err
client_take_keys(fr_sa_client *c, const fr_sa_msg *in, uint32_t *nk_out,
                 const char **why)
{
    uint8_t commit[32], m[FR_SA_KEYS_MSG_BYTES];
    uint32_t nk = 0;
    fr_err rc;

    fr_crypto_hash(commit, 32, in->graph_seed, 32);
    if (fr_crypto_memcmp(commit, c->p.graph_commit, 32))
        return client_fail(c, FR_EAUTH, "graph seed does not match the "
                           "round's commitment", why);
    rc = fr_sa_neighbours(in->graph_seed, c->p.n, c->p.k, c->me, c->nb);
    if (rc)
        return client_fail(c, rc, "cannot build the neighbour graph", why);
    if (in->n_keys > c->p.k)
        return client_fail(c, FR_EPROTO, "more keys than neighbours", why);
    for (uint32_t e = 0; e < in->n_keys; e++) {
        const fr_sa_keys *kk = &in->keys[e];
        int s = fr_sa_slot_of(c->nb, c->p.k, kk->index);
        if (s < 0)
            return client_fail(c, FR_EPROTO, "keys of a store that is not "
                               "a neighbour", why);
        if (c->peers[s].has_keys)
            return client_fail(c, FR_EPROTO, "keys of one store twice", why);
        fr_sa_keys_message(m, &c->p, kk->index, kk->c_pk, kk->s_pk);
        if (fr_crypto_verify(kk->id_pk, m, sizeof m, kk->sig))
            return client_fail(c, FR_EAUTH, "a neighbour's key signature "
                               "does not verify", why);
        c->peers[s].has_keys = 1;
        c->peers[s].keys = *kk;
        nk++;
    }
    if (nk < c->p.t)
        return client_fail(c, FR_ESTATE, "fewer neighbours advertised keys "
                           "than the threshold", why);
    *nk_out = nk;
    return FR_OK;
}

/* Encrypts this store's shares sb (of b) and ss (of s_sk) for neighbour
 * `to` into ct, through pt (guarded scratch of FR_SA_PT_BYTES). FR_EAUTH if
 * the neighbour's encryption key is invalid. */
static fr_err
client_seal_shares(fr_sa_client *c, uint32_t to, const fr_shamir_share *sb,
                   const fr_shamir_share *ss, uint8_t *pt, fr_sa_cipher *ct)
{
    uint8_t key[32], ad[FR_SA_AD_BYTES];
    int s = fr_sa_slot_of(c->nb, c->p.k, to);

    if (fr_sa_agree(key, c->sec->c_sk, c->peers[s].keys.c_pk, FR_SA_LBL_ENC,
                    c->p.round_id, c->me, to)) {
        fr_crypto_wipe(key, sizeof key);
        return FR_EAUTH;
    }
    memcpy(pt, sb->y, FR_SHAMIR_SHARE_BYTES);
    memcpy(pt + FR_SHAMIR_SHARE_BYTES, ss->y, FR_SHAMIR_SHARE_BYTES);
    ct->from = c->me;
    ct->to = to;
    fr_crypto_random(ct->ct, FR_SA_NONCE_BYTES);
    fr_sa_ct_ad(ad, c->p.round_id, c->me, to);
    fr_crypto_aead_encrypt(ct->ct + FR_SA_NONCE_BYTES, pt, FR_SA_PT_BYTES, ad,
                           sizeof ad, ct->ct, key);
    fr_crypto_wipe(key, sizeof key);
    return FR_OK;
}

/* Wipes and frees a guarded block of len bytes; accepts NULL. */
static void
secret_free(void *p, size_t len)
{
    if (p) {
        fr_crypto_wipe(p, len);
        fr_crypto_secure_free(p);
    }
}

static fr_err
client_on_keys(fr_sa_client *c, const fr_sa_msg *in, fr_sa_msg *out,
               const char **why)
{
    uint32_t nk = 0, *xv;
    fr_shamir_share *sb, *ss;
    uint8_t *pt;
    fr_err rc;

    rc = client_take_keys(c, in, &nk, why);
    if (rc)
        return rc;
    xv = malloc(nk * sizeof *xv);
    sb = fr_crypto_secure_alloc(nk * sizeof *sb);
    ss = fr_crypto_secure_alloc(nk * sizeof *ss);
    pt = fr_crypto_secure_alloc(FR_SA_PT_BYTES);
    if (!xv || !sb || !ss || !pt) {
        rc = FR_ENOMEM;
        goto out;
    }
    nk = 0;
    for (uint32_t s = 0; s < c->p.k; s++)
        if (c->peers[s].has_keys)
            xv[nk++] = c->nb[s] + 1;
    fr_crypto_random(c->sec->b, 32);
    rc = fr_shamir_split(c->sec->b, c->p.t, nk, xv, sb);
    if (!rc)
        rc = fr_shamir_split(c->sec->s_sk, c->p.t, nk, xv, ss);
    for (uint32_t e = 0; e < nk && !rc; e++)
        if (client_seal_shares(c, xv[e] - 1, &sb[e], &ss[e], pt,
                               &c->ct_out[e]))
            rc = client_fail(c, FR_EAUTH, "a neighbour's key is invalid",
                             why);
    if (rc)
        goto out;
    memset(out, 0, sizeof *out);
    out->phase = FR_SA_SHARES;
    out->ciphers = c->ct_out;
    out->n_ciphers = nk;
    c->state = C_SHARED;
out:
    free(xv);
    secret_free(pt, FR_SA_PT_BYTES);
    secret_free(sb, nk * sizeof *sb);
    secret_free(ss, nk * sizeof *ss);
    if (rc && c->state != C_FAILED)
        return client_fail(c, rc, "cannot make the key shares", why);
    return rc;
}

static fr_err
client_on_mask_req(fr_sa_client *c, const fr_sa_msg *in, fr_sa_msg *out,
                   const char **why)
{
    uint8_t key[32], ad[FR_SA_AD_BYTES], pt[FR_SA_PT_BYTES];
    uint32_t got = 0;

    for (uint32_t e = 0; e < in->n_ciphers; e++) {
        const fr_sa_cipher *ct = &in->ciphers[e];
        int s = fr_sa_slot_of(c->nb, c->p.k, ct->from);
        int bad;

        if (ct->to != c->me)
            return client_fail(c, FR_EPROTO, "a share addressed to another "
                               "store", why);
        if (s < 0 || !c->peers[s].has_keys)
            return client_fail(c, FR_EPROTO, "a share from a store that is "
                               "not a neighbour with keys", why);
        if (c->peers[s].in_u2)
            return client_fail(c, FR_EPROTO, "two shares from one store",
                               why);
        if (fr_sa_agree(key, c->sec->c_sk, c->peers[s].keys.c_pk, FR_SA_LBL_ENC,
                        c->p.round_id, c->me, ct->from))
            return client_fail(c, FR_EAUTH, "a neighbour's key is invalid",
                               why);
        fr_sa_ct_ad(ad, c->p.round_id, ct->from, c->me);
        bad = fr_crypto_aead_decrypt(pt, ct->ct + FR_SA_NONCE_BYTES,
                                     FR_SA_CT_BYTES - FR_SA_NONCE_BYTES, ad,
                                     sizeof ad, ct->ct, key) != FR_OK;
        fr_crypto_wipe(key, sizeof key);
        if (bad) {
            fr_crypto_wipe(pt, sizeof pt);
            return client_fail(c, FR_EAUTH, "a share does not decrypt (wrong "
                               "recipient, round or tampered)", why);
        }
        held_b(c)[s].x = c->me + 1;
        memcpy(held_b(c)[s].y, pt, FR_SHAMIR_SHARE_BYTES);
        held_s(c)[s].x = c->me + 1;
        memcpy(held_s(c)[s].y, pt + FR_SHAMIR_SHARE_BYTES,
               FR_SHAMIR_SHARE_BYTES);
        fr_crypto_wipe(pt, sizeof pt);
        c->peers[s].in_u2 = 1;
        got++;
    }
    /* The encryption key pair has done its job. */
    fr_crypto_wipe(c->sec->c_sk, sizeof c->sec->c_sk);
    if (got < c->p.t)
        return client_fail(c, FR_ESTATE, "fewer neighbours shared keys than "
                           "the threshold", why);
    memset(out, 0, sizeof *out);
    out->phase = FR_SA_NONE;
    c->state = C_WANT_INPUT;
    return FR_OK;
}

int
fr_sa_client_wants_input(const fr_sa_client *c)
{
    return c && c->state == C_WANT_INPUT;
}

int
fr_sa_client_holds_secrets(const fr_sa_client *c)
{
    return c && !fr_crypto_is_zero(c->sec, c->sec_bytes);
}

fr_err
fr_sa_client_mask(fr_sa_client *c, const uint32_t *input, fr_sa_msg *out,
                  const char **why)
{
    uint8_t seed[32];

    if (!c || !input || !out)
        return FR_EINVAL;
    if (c->state != C_WANT_INPUT) {
        if (why)
            *why = "not ready to mask: shares not received yet, or the round "
                   "was refused";
        return FR_ESTATE;
    }
    if (!c->words_out) {
        c->words_out = malloc((size_t)c->p.n_words * sizeof *c->words_out);
        if (!c->words_out)
            return FR_ENOMEM;
    }
    memcpy(c->words_out, input, (size_t)c->p.n_words * 4);
    fr_sa_prg_add(c->words_out, c->p.n_words, c->sec->b, 1);
    for (uint32_t s = 0; s < c->p.k; s++) {
        uint32_t j = c->nb[s];
        if (!c->peers[s].in_u2)
            continue;
        if (fr_sa_agree(seed, c->sec->s_sk, c->peers[s].keys.s_pk,
                        FR_SA_LBL_MASK, c->p.round_id, c->me, j)) {
            memset(c->words_out, 0, (size_t)c->p.n_words * 4);
            return client_fail(c, FR_EAUTH, "a neighbour's mask key is "
                               "invalid", why);
        }
        fr_sa_prg_add(c->words_out, c->p.n_words, seed, c->me < j ? 1 : -1);
    }
    fr_crypto_wipe(seed, sizeof seed);
    /* Only the shares held by the neighbours can bring these back now. */
    fr_crypto_wipe(c->sec->b, sizeof c->sec->b);
    fr_crypto_wipe(c->sec->s_sk, sizeof c->sec->s_sk);
    memset(out, 0, sizeof *out);
    out->phase = FR_SA_MASKED;
    out->words = c->words_out;
    out->n_words = c->p.n_words;
    c->state = C_MASKED;
    return FR_OK;
}

static fr_err
client_on_consist(fr_sa_client *c, const fr_sa_msg *in, fr_sa_msg *out,
                  const char **why)
{
    uint32_t nb = fr_sa_bitmap_bytes(c->p.n), count = 0;
    uint8_t m[FR_SA_U3_MSG_BYTES];

    if (in->bitmap_bytes != nb || !in->bitmap)
        return client_fail(c, FR_EPROTO, "survivor set of the wrong size",
                           why);
    if (c->p.n % 8 && (in->bitmap[nb - 1] >> (c->p.n % 8)))
        return client_fail(c, FR_EPROTO, "survivor set names stores beyond "
                           "the round", why);
    if (!fr_sa_bit(in->bitmap, c->me))
        return client_fail(c, FR_ESTATE, "survivor set leaves this store "
                           "out", why);
    for (uint32_t i = 0; i < c->p.n; i++)
        count += (uint32_t)fr_sa_bit(in->bitmap, i);
    if (count < c->p.min_inputs)
        return client_fail(c, FR_ESTATE, "too few survivors: the sum would "
                           "reveal too much about single stores", why);
    for (uint32_t s = 0; s < c->p.k; s++) {
        int in3 = fr_sa_bit(in->bitmap, c->nb[s]);
        if (in3 && !c->peers[s].in_u2)
            return client_fail(c, FR_ESTATE, "survivor set names a neighbour "
                               "whose shares never arrived", why);
        c->peers[s].in_u3 = (uint8_t)in3;
    }
    memcpy(c->u3, in->bitmap, nb);
    fr_sa_u3_message(m, &c->p, c->u3, nb);
    memset(out, 0, sizeof *out);
    out->phase = FR_SA_SIGNED;
    fr_crypto_sign(c->id, m, sizeof m, out->sig);
    c->state = C_SIGNED;
    return FR_OK;
}

static fr_err
client_on_unmask(fr_sa_client *c, const fr_sa_msg *in, fr_sa_msg *out,
                 const char **why)
{
    uint8_t m[FR_SA_U3_MSG_BYTES], seen_sig[FR_SA_MAX_PARTIES / 8 + 1];
    uint32_t good = 0, nr = 0;
    uint8_t *asked;

    if (in->n_sigs > c->p.k || in->n_reveals > c->p.k)
        return client_fail(c, FR_EPROTO, "more entries than neighbours", why);
    fr_sa_u3_message(m, &c->p, c->u3, fr_sa_bitmap_bytes(c->p.n));
    memset(seen_sig, 0, sizeof seen_sig);
    for (uint32_t e = 0; e < in->n_sigs; e++) {
        int s = fr_sa_slot_of(c->nb, c->p.k, in->sigs[e].index);
        if (s < 0 || !c->peers[s].in_u3)
            return client_fail(c, FR_EPROTO, "a signature from a store that "
                               "is not a surviving neighbour", why);
        if (seen_sig[s / 8] & (1u << (s % 8)))
            return client_fail(c, FR_EPROTO, "two signatures from one store",
                               why);
        seen_sig[s / 8] |= (uint8_t)(1u << (s % 8));
        if (fr_crypto_verify(c->peers[s].keys.id_pk, m, sizeof m,
                             in->sigs[e].sig))
            return client_fail(c, FR_ESTATE, "a neighbour signed a different "
                               "survivor set: the aggregator is inconsistent",
                               why);
        good++;
    }
    if (good < c->p.t)
        return client_fail(c, FR_ESTATE, "fewer neighbours confirmed the "
                           "survivor set than the threshold", why);
    asked = calloc(c->p.k, 1);
    if (!asked)
        return FR_ENOMEM;
    for (uint32_t e = 0; e < in->n_reveals; e++) {
        const fr_sa_reveal *r = &in->reveals[e];
        int s = fr_sa_slot_of(c->nb, c->p.k, r->peer);
        uint32_t want;

        if (s < 0 || !c->peers[s].in_u2) {
            free(asked);
            return client_fail(c, FR_EPROTO, "a share request for a store "
                               "whose shares this store does not hold", why);
        }
        if (asked[s]) {
            free(asked);
            return client_fail(c, FR_ESTATE, "the aggregator asked twice "
                               "about one store (both shares?)", why);
        }
        asked[s] = 1;
        want = c->peers[s].in_u3 ? FR_SA_SHARE_B : FR_SA_SHARE_S;
        if (r->kind != want) {
            free(asked);
            return client_fail(c, FR_ESTATE, r->kind == FR_SA_SHARE_S
                                   ? "the aggregator asked for the key share "
                                     "of a store that sent its input"
                                   : "the aggregator asked for the seed "
                                     "share of a store that dropped", why);
        }
        c->rev_out[nr].peer = r->peer;
        c->rev_out[nr].kind = want;
        memcpy(c->rev_out[nr].y,
               want == FR_SA_SHARE_B ? held_b(c)[s].y : held_s(c)[s].y,
               FR_SHAMIR_SHARE_BYTES);
        nr++;
    }
    free(asked);
    /* Everything held is either revealed now or never will be. */
    fr_crypto_wipe(c->sec, c->sec_bytes);
    memset(out, 0, sizeof *out);
    out->phase = FR_SA_REVEAL;
    out->reveals = c->rev_out;
    out->n_reveals = nr;
    c->state = C_DONE;
    return FR_OK;
}

fr_err
fr_sa_client_recv(fr_sa_client *c, const fr_sa_msg *in, fr_sa_msg *out,
                  const char **why)
{
    static const int expect[] = {
        [FR_SA_KEYS] = C_ADVERTISED, [FR_SA_MASK_REQ] = C_SHARED,
        [FR_SA_CONSIST] = C_MASKED, [FR_SA_UNMASK] = C_SIGNED};

    if (!c || !in || !out)
        return FR_EINVAL;
    if (c->state == C_FAILED) {
        if (why)
            *why = "this store already refused the round";
        return FR_ESTATE;
    }
    if (!(in->phase == FR_SA_KEYS || in->phase == FR_SA_MASK_REQ ||
          in->phase == FR_SA_CONSIST || in->phase == FR_SA_UNMASK))
        return client_fail(c, FR_EPROTO, "not a request a store answers",
                           why);
    if (c->state != expect[in->phase])
        return client_fail(c, FR_EPROTO, "request out of order or repeated",
                           why);
    switch (in->phase) {
    case FR_SA_KEYS:
        return client_on_keys(c, in, out, why);
    case FR_SA_MASK_REQ:
        return client_on_mask_req(c, in, out, why);
    case FR_SA_CONSIST:
        return client_on_consist(c, in, out, why);
    default:
        return client_on_unmask(c, in, out, why);
    }
}
