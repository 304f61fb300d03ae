/*
 * evalset.h - a fixed evaluation list in the NCF negative-file format, one
 * line per member: "(member,positive)\tneg1\tneg2...". Used to measure the
 * model on a public benchmark exactly as published, instead of the
 * leave-one-out sample the store draws itself.
 *
 * Ranking: the positive is ranked among its negatives; a negative that ties
 * it counts above it; a negative equal to the positive counts once (it is
 * skipped). HR@10 and NDCG@10 are averaged over the lines.
 */
#ifndef FR_CLIENT_EVALSET_H
#define FR_CLIENT_EVALSET_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "model/eval.h"
#include "model/mf.h"
#include "store.h"

typedef struct evalset evalset;

#define EVALSET_MAX_NEGATIVES 1000

/* Parses path; every member must be known to the store (its member_id is
 * the text before the comma) and every item below n_items. On failure
 * errbuf says "FILE:LINE: what". */
FR_NODISCARD fr_err evalset_load(const char *path, const store_data *data,
                                 uint32_t n_items, evalset **out,
                                 char *errbuf, size_t errlen);
void evalset_destroy(evalset **ep);

size_t evalset_count(const evalset *e);

/* HR@10 / NDCG@10 of the model over the list (scores from fr_mf_score). */
FR_NODISCARD fr_err evalset_evaluate(const evalset *e, const fr_mf *mf,
                                     const fr_model *model,
                                     fr_eval_result *out);

/* The same ranking with items scored by their purchase count on this
 * store (the popularity baseline). */
FR_NODISCARD fr_err evalset_evaluate_popularity(const evalset *e,
                                                const fr_dataset *data,
                                                fr_eval_result *out);

/* Parses one line into member text, positive and negatives (in place; the
 * member text points into line), *n_neg_out the number of negatives.
 * FR_EINVAL if the line is malformed (the caller says where). Shared with
 * the `score` command. */
FR_NODISCARD fr_err evalset_parse_line(char *line, const char **member_out,
                                       uint32_t *pos_out, uint32_t *neg_out,
                                       int max_neg, uint32_t n_items,
                                       int *n_neg_out);

#endif
