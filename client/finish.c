/*
 * finish.c - how long `fedrec-client run` runs.
 *
 * Without options it is a daemon: it takes part in rounds until SIGINT or
 * SIGTERM, and an announcement that training has ended is logged once (the
 * aggregator may start again later; the store keeps its connection).
 * `--rounds N` ends the run after the store took part in N completed
 * rounds: it handed in its update for the round (plain or masked) and the
 * ROUND_END says the round completed. `--until-done` ends it when the
 * aggregator announces the end of training: ROUND_END.training_done on the
 * last round, or DONE, its answer to a HELLO after the end. Either way the
 * loop leaves once the worker is idle, so the refit to the last global
 * model finishes and the member embeddings and the model are saved; the
 * exit status is 0. With --rounds alone, an end of training before N
 * rounds exits 1: what was asked for cannot happen.
 */
#include "base/log.h"
#include "client_int.h"

#define TAG "client"

static void
finish(client *c, int status)
{
    if (c->finish)
        return;
    c->finish = 1;
    c->finish_status = status;
    fr_msg_destroy(&c->pending);
    fr_msg_destroy(&c->cat_wait);
}

/* Training has ended after completed rounds (how: the message that said
 * so). */
static void
training_ended(client *c, uint64_t completed, const char *how)
{
    /* before the run may end: the loop leaves once the worker is idle */
    client_ials_final_refit(c);
    if (c->run.until_done) {
        fr_log_ev(FR_LOG_NOTICE, TAG, "training_done",
                  "the aggregator announced the end of training (%s) after "
                  "%llu rounds; this store took part in %llu; exiting",
                  how, (unsigned long long)completed,
                  (unsigned long long)c->rounds_joined);
        finish(c, 0);
    } else if (c->run.rounds > 0) {
        fr_log_ev(FR_LOG_ERR, TAG, "training_done",
                  "the aggregator announced the end of training (%s) after "
                  "%llu rounds; this store took part in %llu of the %lld "
                  "asked for (--rounds); exiting",
                  how, (unsigned long long)completed,
                  (unsigned long long)c->rounds_joined,
                  (long long)c->run.rounds);
        finish(c, 1);
    } else if (!c->end_told) {
        fr_log_ev(FR_LOG_NOTICE, TAG, "training_done",
                  "the aggregator announced the end of training (%s) after "
                  "%llu rounds; still running (--until-done exits then)",
                  how, (unsigned long long)completed);
    }
    c->end_told = 1;
}

void
client_finish_round_end(client *c, const fr_msg *msg)
{
    const fr_msg_round_end *re = &msg->u.round_end;

    if (re->completed && c->joined_round && msg->round_id == c->joined_round) {
        c->joined_round = 0;
        c->rounds_joined++;
        if (c->run.rounds > 0 && !c->finish &&
            c->rounds_joined >= (uint64_t)c->run.rounds) {
            fr_log_ev(FR_LOG_NOTICE, TAG, "rounds_done",
                      "took part in %llu completed round(s), as asked "
                      "(--rounds); exiting",
                      (unsigned long long)c->rounds_joined);
            finish(c, 0);
        }
    }
    if (re->training_done && !c->finish)
        training_ended(c, re->completed_rounds, "last round");
}

void
client_finish_done(client *c, const fr_msg *msg)
{
    if (!c->finish)
        training_ended(c, msg->u.done.completed_rounds, "done");
}
