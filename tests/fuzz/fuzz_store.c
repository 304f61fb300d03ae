/*
 * fuzz_store.c - the store's handling of aggregator -> store messages: the
 * real handlers of client/ (catalog.c: a round's catalogue and the fetched
 * catalogue bytes; secure.c: a secure round's set-up and every SecAgg+
 * request; dp.c: a DP round's admission and charge to the privacy ledger;
 * finish.c: round end and DONE), dispatched as client.c's on_message does,
 * on a store in benchmark mode made once in LLVMFuzzerInitialize. Each
 * input starts a fresh client (no catalogue, empty privacy ledger, no
 * secure round) and feeds it the input's frames (2-byte little-endian
 * length, then an envelope). The uplink is down, so replies go nowhere.
 *
 * Properties: a refused secure round or request leaves no secure state
 * (nor secrets) behind; an admitted DP round fits the round it is part of
 * (vector length, noise shares against guaranteed inputs) and admitting it
 * again with the same parameters is accepted, as for a reconnecting store;
 * a catalogue is installed only if it hashes to the id the store asked
 * for, with the item count announced; models are read within their
 * declared shape (ASan); nothing leaks.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "fuzz_msgs.h"

#include "base/log.h"
#include "client_int.h"
#include "dp/rotate.h"
#include "model/model.h"

static client_config cfg;
static cstate *cs;
static fr_crypto_signkey *id;
static char dir[] = "/dev/shm/fr-fuzz-store-XXXXXX";
static char ledger_dir[80], cat_path[80];

static void
quiet(void *arg, fr_log_level level, const char *tag, const char *line)
{
    (void)arg;
    (void)level;
    (void)tag;
    (void)line;
}

static void
write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    FR_FUZZ_CHECK(f != NULL);
    fputs(text, f);
    FR_FUZZ_CHECK(fclose(f) == 0);
}

static void
remove_files(void)
{
    static const char *names[] = {"catalogue", "model.bin", "members.bin",
                                  "dp/privacy.ledger", "dp"};
    char path[160];

    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (unlink(path) != 0)
            rmdir(path);
    }
}

static void
remove_dir(void)
{
    char path[160];

    remove_files();
    snprintf(path, sizeof path, "%s/data.csv", dir);
    unlink(path);
    rmdir(dir);
}

/* ---- seeds: sequences of frames ---- */

static uint8_t seq[8192];
static size_t seq_len;

static void
add_frame(const fr_msg *m)
{
    uint8_t *buf = NULL;
    size_t len = 0;

    FR_FUZZ_CHECK(fr_wire_encode(m, 1u << 20, &buf, &len) == FR_OK);
    FR_FUZZ_CHECK(seq_len + 2 + len <= sizeof seq);
    seq[seq_len++] = (uint8_t)len;
    seq[seq_len++] = (uint8_t)(len >> 8);
    memcpy(seq + seq_len, buf, len);
    seq_len += len;
    free(buf);
}

/* Each message alone; a secure round's start followed by each request. */
static void
seed_one(const char *name, const fr_msg *m)
{
    static fr_msg start;
    static int have_start;
    fr_msg mine = *m;
    char full[64];

    mine.round_id = 3;
    seq_len = 0;
    add_frame(&mine);
    fuzz_seed_write(name, NULL, 0, seq, seq_len);
    if (m->type == FR_MSG_ROUND_START && m->u.round_start.has_secagg &&
        !m->u.round_start.has_dp) {
        start = mine;
        have_start = 1;
    }
    if (m->type != FR_MSG_SECAGG || !have_start)
        return;
    seq_len = 0;
    add_frame(&start);
    add_frame(&mine);
    snprintf(full, sizeof full, "secure_%s", name);
    fuzz_seed_write(full, NULL, 0, seq, seq_len);
}

/* A round naming a catalogue, then that catalogue, then the round's end. */
static void
seed_catalogue_round(void)
{
    static const char text[] = "fedrec-catalogue 1\nA\nB\nC\nD\n";
    static const float emb[8] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f, 0.8f};
    static const float bias[4] = {0.1f, 0.2f, 0.3f, 0.4f};
    fr_catalogue *cat = NULL;
    char err[128];
    fr_msg m = {.type = FR_MSG_ROUND_START, .round_id = 9};

    FR_FUZZ_CHECK(fr_catalogue_parse(text, sizeof text - 1, &cat, err,
                                     sizeof err) == FR_OK);
    m.u.round_start = (fr_msg_round_start){.n_items = 4, .dim = 2,
        .item_emb = emb, .item_bias = bias, .deadline_ms = 600000,
        .train = {1, 0.05f, 2, 0.01f, 16, 3, 0}, .has_catalogue = 1,
        .catalogue_items = 4};
    fr_catalogue_id(cat, m.u.round_start.catalogue_id);
    seq_len = 0;
    add_frame(&m);
    memset(&m.u, 0, sizeof m.u);
    m.type = FR_MSG_CATALOGUE;
    fr_catalogue_id(cat, m.u.catalogue.id);
    m.u.catalogue.items = 4;
    m.u.catalogue.content = (const uint8_t *)text;
    m.u.catalogue.content_len = sizeof text - 1;
    add_frame(&m);
    memset(&m.u, 0, sizeof m.u);
    m.type = FR_MSG_ROUND_END;
    m.u.round_end = (fr_msg_round_end){.completed = 1, .contributors = 3,
        .completed_rounds = 1, .has_model = 1, .n_items = 4, .dim = 2,
        .item_emb = emb, .item_bias = bias, .training_done = 1};
    add_frame(&m);
    fuzz_seed_write("catalogue_round", NULL, 0, seq, seq_len);
    fr_catalogue_destroy(&cat);
}

static void
write_seeds(void)
{
    if (!getenv("FR_FUZZ_WRITE_SEEDS"))
        return;
    fuzz_msgs_each(seed_one);
    seed_catalogue_round();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char path[160];

    (void)argc;
    (void)argv;
    if (!getenv("FR_FUZZ_LOG"))
        fr_log_set_sink(quiet, NULL);
    FR_FUZZ_CHECK(fr_crypto_init() == FR_OK);
    if (!mkdtemp(dir)) {
        strcpy(dir, "/tmp/fr-fuzz-store-XXXXXX");
        FR_FUZZ_CHECK(mkdtemp(dir) != NULL);
    }
    atexit(remove_dir);
    /* the configuration table lives with the command line (main.c): the
     * keys these handlers read are set here */
    memset(&cfg, 0, sizeof cfg);
    cfg.max_message_bytes = FR_WIRE_DEFAULT_MAX_BYTES;
    cfg.retention_days = 0;
    snprintf(cfg.data, sizeof cfg.data, "%s/data.csv", dir);
    snprintf(cfg.state_dir, sizeof cfg.state_dir, "%s", dir);
    snprintf(cat_path, sizeof cat_path, "%s/catalogue", dir);
    snprintf(cfg.catalogue, sizeof cfg.catalogue, "%s", cat_path);
    snprintf(ledger_dir, sizeof ledger_dir, "%s/dp", dir);
    cfg.n_items = 4;
    cfg.catalogue_fetch = 1;
    write_file(cfg.data, "member_id,item_id,timestamp\nA,0,1\nA,1,2\nB,2,3\n"
                         "C,3,4\n");
    FR_FUZZ_CHECK(cstate_open(&cfg, &cs) == FR_OK);
    FR_FUZZ_CHECK(fr_crypto_signkey_generate(&id) == FR_OK);
    (void)path;
    write_seeds();
    return 0;
}

/* ---- dispatch, as client.c's on_message and on_round_start ---- */

static void
read_model(uint32_t n_items, uint32_t dim, const float *emb, const float *bias)
{
    fr_model *m = NULL;

    FR_FUZZ_CHECK(fr_model_new(&m, n_items, dim) == FR_OK);
    memcpy(fr_model_item_emb(m), emb, (size_t)n_items * dim * sizeof *emb);
    memcpy(fr_model_item_bias(m), bias, n_items * sizeof *bias);
    fr_model_destroy(&m);
}

/* What store_dp_admit promises of an admitted round. */
static void
admit_dp(client *c, const fr_msg *msg, int *refused)
{
    const fr_msg_round_start *rs = &msg->u.round_start;
    uint64_t n_params = (uint64_t)rs->n_items * rs->dim + rs->n_items;
    char why[256] = "";

    *refused = 1;
    if (store_dp_admit(c->dp, msg->round_id, &rs->dp, &rs->secagg, n_params,
                       why, sizeof why) != FR_OK) {
        FR_FUZZ_CHECK(why[0] != 0);
        return;
    }
    FR_FUZZ_CHECK(rs->has_secagg && rs->dp.dim == fr_dp_pad_dim(n_params) &&
                  rs->secagg.n_words == rs->dp.dim);
    FR_FUZZ_CHECK(rs->dp.n_target <= rs->secagg.n &&
                  (uint64_t)rs->dp.n_target + rs->dp.t_collude <=
                      rs->secagg.min_inputs);
    FR_FUZZ_CHECK(store_dp_admit(c->dp, msg->round_id, &rs->dp, &rs->secagg,
                                 n_params, why, sizeof why) == FR_OK);
    *refused = 0;
}

static void
round_start(client *c, fr_msg **msgp)
{
    const fr_msg *msg;
    const fr_msg_round_start *rs;
    int refused = 0;

    if (c->finish || client_cat_check(c, msgp) != CAT_GO)
        return;
    msg = *msgp;
    rs = &msg->u.round_start;
    if (rs->n_items != (uint32_t)cfg.n_items)
        return;
    if (rs->has_dp)
        admit_dp(c, msg, &refused);
    if (refused)
        return;
    if (rs->has_secagg && client_sa_begin(c, msg) != FR_OK)
        FR_FUZZ_CHECK(c->sa == NULL);
    read_model(rs->n_items, rs->dim, rs->item_emb, rs->item_bias);
}

static void
on_catalogue(client *c, const fr_msg *msg)
{
    uint8_t want[FR_CATALOGUE_ID_BYTES], got[FR_CATALOGUE_ID_BYTES];
    const fr_catalogue *before = c->cat;
    fr_msg *held;

    memcpy(want, c->cat_want, sizeof want);
    held = client_cat_on_message(c, msg);
    if (c->cat != before) { /* installed */
        fr_catalogue_id(c->cat, got);
        FR_FUZZ_CHECK(memcmp(got, want, sizeof got) == 0);
        FR_FUZZ_CHECK(memcmp(msg->u.catalogue.id, want, sizeof want) == 0);
        FR_FUZZ_CHECK(fr_catalogue_n_items(c->cat) == msg->u.catalogue.items);
    }
    if (held)
        round_start(c, &held);
    fr_msg_destroy(&held);
}

static void
dispatch(client *c, fr_msg **msgp)
{
    fr_msg *msg = *msgp;
    const fr_msg_round_end *re = &msg->u.round_end;

    switch (msg->type) {
    case FR_MSG_ROUND_START: round_start(c, msgp); break;
    case FR_MSG_ROUND_END:
        if (msg->round_id == c->sa_round)
            client_sa_reset(c);
        if (re->completed && re->has_model && re->n_items == cfg.n_items)
            read_model(re->n_items, re->dim, re->item_emb, re->item_bias);
        client_finish_round_end(c, msg);
        break;
    case FR_MSG_DONE: client_finish_done(c, msg); break;
    case FR_MSG_CATALOGUE: on_catalogue(c, msg); break;
    case FR_MSG_SECAGG:
        client_on_secagg(c, msg);
        if (!c->sa)
            FR_FUZZ_CHECK(c->sa_input == NULL);
        break;
    default: break;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    client *c = calloc(1, sizeof *c);
    const uint8_t *p = data, *end = data + size, *frame;
    size_t flen;

    FR_FUZZ_CHECK(c != NULL);
    c->cfg = &cfg;
    c->cs = cs;
    c->id = id;
    /* no link (c->link NULL): whatever the handlers send is dropped */
    snprintf(c->cat_path, sizeof c->cat_path, "%s", cat_path);
    mkdir(ledger_dir, 0700);
    FR_FUZZ_CHECK(store_dp_new(&c->dp, ledger_dir, 0, 0) == FR_OK);
    for (int i = 0; i < 16 && (p = fuzz_next_frame(p, end, &frame, &flen));
         i++) {
        fr_msg *msg = NULL;
        const char *why = NULL;
        if (fr_wire_decode(frame, flen, (size_t)cfg.max_message_bytes, &msg,
                           &why) != FR_OK) {
            FR_FUZZ_CHECK(why != NULL);
            continue;
        }
        dispatch(c, &msg);
        fr_msg_destroy(&msg);
    }
    client_sa_reset(c);
    FR_FUZZ_CHECK(c->sa == NULL && c->sa_input == NULL);
    fr_msg_destroy(&c->cat_wait);
    fr_msg_destroy(&c->pending);
    cstate_set_catalogue(cs, NULL);
    client_cat_close(c);
    store_dp_destroy(&c->dp);
    free(c);
    remove_files();
    return 0;
}
