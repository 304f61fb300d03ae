/*
 * fuzz_msgs.c - seed messages and input framing for the wire-level fuzz
 * targets (fuzz_msgs.h).
 */
#include "fuzz_msgs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

void
fuzz_seed_write(const char *name, const uint8_t *prefix, size_t plen,
                const uint8_t *buf, size_t len)
{
    const char *dir = getenv("FR_FUZZ_WRITE_SEEDS");
    char path[1024];
    FILE *f;

    if (!dir || !*dir)
        return;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "wb");
    FR_FUZZ_CHECK(f != NULL);
    FR_FUZZ_CHECK(fwrite(prefix, 1, plen, f) == plen);
    FR_FUZZ_CHECK(fwrite(buf, 1, len, f) == len);
    FR_FUZZ_CHECK(fclose(f) == 0);
}

void
fuzz_seed_msg(const char *name, const uint8_t *prefix, size_t plen,
              const fr_msg *m)
{
    uint8_t *buf = NULL;
    size_t len = 0;

    if (!getenv("FR_FUZZ_WRITE_SEEDS"))
        return;
    FR_FUZZ_CHECK(fr_wire_encode(m, FR_WIRE_DEFAULT_MAX_BYTES, &buf, &len) ==
                  FR_OK);
    fuzz_seed_write(name, prefix, plen, buf, len);
    free(buf);
}

const uint8_t *
fuzz_next_frame(const uint8_t *p, const uint8_t *end, const uint8_t **frame,
                size_t *flen)
{
    size_t n;

    if (!p || p >= end)
        return NULL;
    if (end - p < 2) {
        *frame = p;
        *flen = (size_t)(end - p);
        return end;
    }
    n = (size_t)p[0] | (size_t)p[1] << 8;
    p += 2;
    if (n > (size_t)(end - p))
        n = (size_t)(end - p);
    *frame = p;
    *flen = n;
    return p + n;
}

/* ---- one valid message of each type ---- */

static const float emb[4 * 2] = {0.1f, -0.2f, 0.3f, 0.4f,
                                 0.5f, -0.6f, 0.7f, 0.8f};
static const float bias[4] = {0.01f, 0.02f, -0.03f, 0.04f};

static void
seed_plain(fuzz_msg_fn emit)
{
    fr_msg m = {.type = FR_MSG_HELLO, .round_id = 3};
    fr_train_params tp = {2, 0.05f, 4, 0.01f, 32, 7, 0};
    static const char cat[] = "fedrec-catalogue 1\nA\nB\nC\nD\n";

    m.u.hello = (fr_msg_hello){.num_examples = 120, .last_round = 2};
    emit("hello", &m);
    memset(&m.u, 0, sizeof m.u);
    m.type = FR_MSG_ROUND_START;
    m.u.round_start = (fr_msg_round_start){.n_items = 4, .dim = 2,
        .item_emb = emb, .item_bias = bias, .deadline_ms = 30000,
        .train = tp};
    emit("round_start", &m);
    m.u.round_start.has_catalogue = 1;
    m.u.round_start.catalogue_items = 4;
    memset(m.u.round_start.catalogue_id, 0xab, 32);
    emit("round_start_cat", &m);
    m.u.round_start.has_catalogue = 0;
    m.u.round_start.catalogue_items = 0;
    m.u.round_start.has_secagg = 1;
    m.u.round_start.secagg = (fr_secagg_setup){.n = 3, .k = 2, .t = 2,
        .index = 1, .n_words = 13, .min_inputs = 2, .clip = 1.0,
        .weight_cap = 100};
    memset(m.u.round_start.secagg.graph_commit, 0x5a, 32);
    emit("round_start_secagg", &m);
    m.u.round_start.has_dp = 1;
    m.u.round_start.secagg.n_words = 16;
    m.u.round_start.dp = (fr_dp_setup){.mechanism = FR_DP_MECH_DDG,
        .clip = 1.0, .q = 0.1, .scale = 1000, .sigma2_int = 1000000,
        .dim = 16, .rotation_seed = 9, .n_target = 2, .t_collude = 0,
        .delta = 1e-6, .epsilon_budget = 8, .l2_sens = 1001,
        .l1_sens = 4004};
    emit("round_start_dp", &m);
    /* the least-squares kind: phase 1, then phase 2 with its direction */
    m.u.round_start.has_dp = 0;
    m.u.round_start.has_secagg = 0;
    m.u.round_start.has_ials = 1;
    m.u.round_start.ials = (fr_ials_step){.phase = FR_IALS_PHASE_STATS,
        .alpha0 = 0.1, .lambda = 0.01, .nu = 1.0};
    emit("round_start_ials1", &m);
    m.u.round_start.ials.phase = FR_IALS_PHASE_MATVEC;
    m.u.round_start.ials.direction = emb;
    m.u.round_start.ials.n_direction = 8;
    m.u.round_start.ials.epoch_round = 2;
    emit("round_start_ials2", &m);
    memset(&m.u, 0, sizeof m.u);
    m.type = FR_MSG_UPDATE;
    m.u.update = (fr_msg_update){.num_examples = 1, .sums = emb,
        .n_sums = 8, .metrics = {0.5, 0.25, 0.1, 0.05, 10, 0}};
    emit("update_sums", &m);
    memset(&m.u, 0, sizeof m.u);
    m.type = FR_MSG_UPDATE;
    m.u.update = (fr_msg_update){.num_examples = 50, .n_items = 4, .dim = 2,
        .delta_emb = emb, .delta_bias = bias,
        .metrics = {0.5, 0.25, 0.1, 0.05, 10, 0.69}};
    emit("update", &m);
    memset(&m.u, 0, sizeof m.u);
    m.type = FR_MSG_ROUND_END;
    m.u.round_end = (fr_msg_round_end){.completed = 1, .contributors = 3,
        .completed_rounds = 4, .has_model = 1, .n_items = 4, .dim = 2,
        .item_emb = emb, .item_bias = bias};
    emit("round_end", &m);
    m.type = FR_MSG_DONE;
    memset(&m.u, 0, sizeof m.u);
    m.u.done.completed_rounds = 10;
    emit("done", &m);
    m.type = FR_MSG_CATALOGUE;
    memset(&m.u, 0, sizeof m.u);
    memset(m.u.catalogue.id, 0xcd, 32);
    emit("catalogue_request", &m);
    m.u.catalogue.items = 4;
    m.u.catalogue.content = (const uint8_t *)cat;
    m.u.catalogue.content_len = sizeof cat - 1;
    emit("catalogue", &m);
}

static void
seed_secagg(fuzz_msg_fn emit)
{
    fr_sa_keys keys[2];
    fr_sa_cipher ct[2];
    fr_sa_sig sigs[2];
    fr_sa_reveal rev[2];
    uint32_t words[13];
    uint8_t bitmap[1] = {0x07};
    static const char *names[] = {NULL, "sa_advertise", "sa_keys",
        "sa_shares", "sa_mask_req", "sa_masked", "sa_consist", "sa_signed",
        "sa_unmask", "sa_reveal"};
    fr_msg m = {.type = FR_MSG_SECAGG, .round_id = 5};

    memset(keys, 0x11, sizeof keys);
    memset(ct, 0x22, sizeof ct);
    memset(sigs, 0x33, sizeof sigs);
    memset(rev, 0x44, sizeof rev);
    for (uint32_t i = 0; i < 2; i++) {
        keys[i].index = ct[i].to = sigs[i].index = rev[i].peer = i;
        ct[i].from = 2;
        rev[i].kind = i ? FR_SA_SHARE_S : FR_SA_SHARE_B;
    }
    for (uint32_t i = 0; i < 13; i++)
        words[i] = i * 0x9e3779b9u;
    for (uint32_t ph = FR_SA_ADVERTISE; ph <= FR_SA_REVEAL; ph++) {
        fr_sa_msg *a = &m.u.secagg.sa;
        memset(&m.u, 0, sizeof m.u);
        a->phase = ph;
        switch (ph) {
        case FR_SA_ADVERTISE: a->keys = keys; a->n_keys = 1; break;
        case FR_SA_KEYS:
            a->keys = keys; a->n_keys = 2;
            memset(a->graph_seed, 0x55, 32);
            break;
        case FR_SA_SHARES: case FR_SA_MASK_REQ:
            a->ciphers = ct; a->n_ciphers = 2;
            break;
        case FR_SA_MASKED:
            a->words = words; a->n_words = 13;
            m.u.secagg.has_metrics = 1;
            m.u.secagg.metrics = (fr_metrics){0.4, 0.2, 0.1, 0.05, 8, 0.6};
            break;
        case FR_SA_CONSIST: a->bitmap = bitmap; a->bitmap_bytes = 1; break;
        case FR_SA_SIGNED: memset(a->sig, 0x66, sizeof a->sig); break;
        case FR_SA_UNMASK:
            a->sigs = sigs; a->n_sigs = 2;
            a->reveals = rev; a->n_reveals = 2;
            break;
        default: a->reveals = rev; a->n_reveals = 2; break;
        }
        emit(names[ph], &m);
    }
}

void
fuzz_msgs_each(fuzz_msg_fn emit)
{
    seed_plain(emit);
    seed_secagg(emit);
}

static void
write_plain(const char *name, const fr_msg *m)
{
    fuzz_seed_msg(name, NULL, 0, m);
}

void
fuzz_msgs_write_seeds(void)
{
    if (getenv("FR_FUZZ_WRITE_SEEDS"))
        fuzz_msgs_each(write_plain);
}
