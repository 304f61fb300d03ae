/*
 * client_int.h - the store client's state, shared by the run loop
 * (client.c) and its secure rounds (secure.c). Not for other modules.
 */
#ifndef FR_CLIENT_CLIENT_INT_H
#define FR_CLIENT_CLIENT_INT_H

#include <stdint.h>

#include "catalogue/catalogue.h"
#include "client.h"
#include "crypto/crypto.h"
#include "dp.h"
#include "evalset.h"
#include "model/mf.h"
#include "net/net.h"
#include "net/uplink.h"
#include "secagg/secagg.h"
#include "state.h"
#include "store.h"
#include "wire/wire.h"
#include "worker.h"

typedef struct client {
    const client_config *cfg;
    fr_net_ctx *ctx;
    fr_net_uplink *link;   /* the aggregator connection (net/uplink.h) */
    fr_net_link told;      /* its state last logged (CONNECTING: none yet) */
    fr_crypto_keypair *kp; /* the store's CURVE key, borrowed by link */
    uint8_t server_pk[FR_CRYPTO_PK_BYTES];
    int64_t next_hello;
    int train_out;       /* the job out is a round's training */
    int train_secure;    /* ... of a secure round */
    int train_abandoned; /* ... whose round was abandoned: do not send */
    worker *work;
    cstate *cs;    /* the store's data and saved state (state.h) */
    evalset *eval; /* fixed test list, if test_file is set */
    fr_mf *mf;     /* made at the first round, when dim is known */
    uint64_t last_round;
    fr_secagg_heard heard; /* the last round start received */
    int busy;
    fr_msg *pending;           /* a ROUND_START that came while busy (owned) */
    fr_mf_opts last_opts;      /* training options of the last round */
    /* The least-squares kind: the last round start was one (its options
     * for the final solve), and the round id of the phase 1 that solved
     * the members now held (0: none; a phase 2 of another epoch is not
     * taken, its sums would not match the epoch's). last_ials_dp: that
     * start was a DP round (an epoch in one round: the members are refit
     * to each new model). ials_final: the members were refit to the
     * model training ended with. */
    int last_ials, last_ials_dp, ials_final;
    fr_ials_opts last_ials_opts;
    uint64_t ials_epoch;
    fr_crypto_signkey *own_id; /* identity key loaded from a file */
    const fr_crypto_signkey *id; /* the one in use (own_id or the vault's);
                                    NULL if none provisioned */
    fr_sa_client *sa;            /* the secure round in progress, if any */
    uint64_t sa_round;
    fr_secagg_setup sa_setup;
    uint32_t *sa_input; /* encoded update, waiting for the masks */
    fr_metrics sa_metrics;
    int sa_has_metrics; /* send sa_metrics with the masked input */
    int sa_dp;          /* the secure round runs member-level DP */
    fr_dp_setup sa_dp_setup;
    store_dp *dp; /* the store's privacy ledger and policy */
    /* how long run runs (finish.c) */
    client_run_opts run;    /* zero: a daemon */
    uint64_t joined_round;  /* round id whose update this store handed in */
    uint64_t rounds_joined; /* completed rounds it took part in */
    int finish;             /* leave the loop once the worker is idle */
    int finish_status;      /* exit status then */
    int end_told;           /* the end of training was logged */
    /* the item catalogue (catalog.c) */
    fr_catalogue *cat; /* the store's; NULL: none */
    char cat_path[CLIENT_PATH_MAX + 16];
    fr_msg *cat_wait;  /* a ROUND_START waiting for its catalogue (owned) */
    int64_t cat_wait_ms; /* when it came */
    uint8_t cat_want[FR_CATALOGUE_ID_BYTES]; /* the id asked for */
    int64_t cat_asked_ms; /* when it was asked for; 0: not asked */
    int legacy_told;      /* a round without a catalogue was logged */
    int round_cat;        /* the round in hand names a catalogue */
} client;

/* client.c */
void client_send_msg(client *c, const fr_msg *m);
void client_send_hello(client *c);

/* finish.c */
/* A ROUND_END: counts the rounds this store took part in, and ends the run
 * when the target is reached or training is done (as opts ask). */
void client_finish_round_end(client *c, const fr_msg *msg);
/* The aggregator says training has ended (DONE). */
void client_finish_done(client *c, const fr_msg *msg);
/* client.c: the least-squares kind's exact member solve against the last
 * saved model, once training has ended, unless it was done (the last
 * ROUND_END said training_done) or the worker is busy. */
void client_ials_final_refit(client *c);

/* catalog.c */
/* Loads the store's catalogue (c->cat stays NULL if there is none). */
FR_NODISCARD fr_err client_cat_open(client *c);
void client_cat_close(client *c);
typedef enum cat_verdict {
    CAT_GO,      /* train: legacy round, or this store has the catalogue */
    CAT_HELD,    /* fetching: *msgp was taken into c->cat_wait */
    CAT_REFUSED, /* another catalogue, no fetch (logged) */
} cat_verdict;
cat_verdict client_cat_check(client *c, fr_msg **msgp);
/* A CATALOGUE from the aggregator: checked against the id asked for,
 * saved, and made the store's. Returns the held ROUND_START if there is
 * still time to train in it (owned by the caller), else NULL. */
fr_msg *client_cat_on_message(client *c, const fr_msg *msg);
/* The catalogue the current round's data must follow: NULL in legacy
 * rounds (integer item ids). */
const fr_catalogue *client_cat_for_round(const client *c);

/* secure.c */
/* Forgets the secure round in progress, wiping its secrets. */
void client_sa_reset(client *c);
/* Sets up the secure part of a round and advertises the round keys; an
 * error (logged) if this store cannot take part. */
FR_NODISCARD fr_err client_sa_begin(client *c, const fr_msg *msg);
void client_on_secagg(client *c, const fr_msg *msg);
/* Encodes the finished update of a secure round; the masks follow as soon
 * as the shares are in. */
void client_sa_update_ready(client *c, train_job *job);
/* Stable member ids for DP training (malloc'd; NULL on ENOMEM). */
uint64_t *client_member_ids(const store_data *sd);

#endif
