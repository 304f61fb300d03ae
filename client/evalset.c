/*
 * evalset.c - fixed evaluation lists (see evalset.h).
 */
#include "evalset.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

typedef struct entry {
    uint32_t member, pos, n_neg;
    size_t neg_off; /* into negs */
} entry;

struct evalset {
    entry *entries;
    size_t n, cap;
    uint32_t *negs;
    size_t n_negs, cap_negs;
};

fr_err
evalset_parse_line(char *line, const char **member_out, uint32_t *pos_out,
                   uint32_t *neg_out, int max_neg, uint32_t n_items,
                   int *n_neg_out)
{
    char *comma, *close, *tok, *save = NULL;
    int64_t v;
    int n = 0;

    if (line[0] != '(' || !(comma = strchr(line, ',')) ||
        !(close = strchr(comma, ')')))
        return FR_EINVAL;
    *comma = '\0';
    *close = '\0';
    if (fr_parse_i64(comma + 1, 0, (int64_t)n_items - 1, &v))
        return FR_EINVAL;
    *member_out = line + 1;
    *pos_out = (uint32_t)v;
    for (tok = strtok_r(close + 1, "\t\r\n", &save); tok;
         tok = strtok_r(NULL, "\t\r\n", &save)) {
        if (n >= max_neg || fr_parse_i64(tok, 0, (int64_t)n_items - 1, &v))
            return FR_EINVAL;
        neg_out[n++] = (uint32_t)v;
    }
    *n_neg_out = n;
    return FR_OK;
}

static fr_err
grow(evalset *e, uint32_t n_neg)
{
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 256;
        entry *p = realloc(e->entries, cap * sizeof *p);
        if (!p)
            return FR_ENOMEM;
        e->entries = p;
        e->cap = cap;
    }
    while (e->n_negs + n_neg > e->cap_negs) {
        size_t cap = e->cap_negs ? e->cap_negs * 2 : 4096;
        uint32_t *p = realloc(e->negs, cap * sizeof *p);
        if (!p)
            return FR_ENOMEM;
        e->negs = p;
        e->cap_negs = cap;
    }
    return FR_OK;
}

static fr_err
add_line(evalset *e, char *line, const store_data *data, uint32_t n_items,
         const char *where, char *errbuf, size_t errlen)
{
    uint32_t neg[EVALSET_MAX_NEGATIVES], pos, member;
    const char *id;
    int n = 0;

    if (evalset_parse_line(line, &id, &pos, neg, EVALSET_MAX_NEGATIVES,
                           n_items, &n)) {
        snprintf(errbuf, errlen, "%s: malformed line (want "
                 "'(member,item)<TAB>negatives...' with items below %u)",
                 where, n_items);
        return FR_EINVAL;
    }
    if (store_data_member(data, id, &member)) {
        snprintf(errbuf, errlen, "%s: member not known to this store", where);
        return FR_EINVAL;
    }
    if (grow(e, (uint32_t)n))
        return FR_ENOMEM;
    e->entries[e->n++] = (entry){member, pos, (uint32_t)n, e->n_negs};
    memcpy(e->negs + e->n_negs, neg, (size_t)n * sizeof *neg);
    e->n_negs += (size_t)n;
    return FR_OK;
}

fr_err
evalset_load(const char *path, const store_data *data, uint32_t n_items,
             evalset **out, char *errbuf, size_t errlen)
{
    evalset *e = calloc(1, sizeof *e);
    FILE *f = fopen(path, "r");
    char *line = NULL, where[300];
    size_t cap = 0;
    unsigned long lineno = 0;
    fr_err rc = FR_OK;

    if (!e || !f) {
        snprintf(errbuf, errlen, "%s: cannot open", path);
        rc = e ? FR_ENOENT : FR_ENOMEM;
        goto out;
    }
    while (rc == FR_OK && getline(&line, &cap, f) >= 0) {
        lineno++;
        if (line[0] == '\n' || line[0] == '\0')
            continue;
        snprintf(where, sizeof where, "%s:%lu", path, lineno);
        rc = add_line(e, line, data, n_items, where, errbuf, errlen);
    }
    if (rc == FR_OK && e->n == 0) {
        snprintf(errbuf, errlen, "%s: no evaluation lines", path);
        rc = FR_EINVAL;
    }
out:
    free(line);
    if (f)
        fclose(f);
    if (rc)
        evalset_destroy(&e);
    *out = e;
    return rc;
}

void
evalset_destroy(evalset **ep)
{
    if (!ep || !*ep)
        return;
    free((*ep)->entries);
    free((*ep)->negs);
    free(*ep);
    *ep = NULL;
}

size_t
evalset_count(const evalset *e)
{
    return e->n;
}

static void
accumulate(fr_eval_result *r, const entry *en, const uint32_t *negs,
           const float *scores)
{
    uint32_t rank = fr_eval_rank(scores[0], en->pos, scores + 1, negs,
                                 en->n_neg);
    r->hr += fr_eval_hit(rank, 10);
    r->ndcg += fr_eval_ndcg(rank, 10);
    r->count++;
}

static void
finish(fr_eval_result *r)
{
    if (r->count) {
        r->hr /= r->count;
        r->ndcg /= r->count;
    }
}

fr_err
evalset_evaluate(const evalset *e, const fr_mf *mf, const fr_model *model,
                 fr_eval_result *out)
{
    uint32_t items[EVALSET_MAX_NEGATIVES + 1];
    float scores[EVALSET_MAX_NEGATIVES + 1];
    fr_eval_result r = {0};

    for (size_t i = 0; i < e->n; i++) {
        const entry *en = &e->entries[i];
        fr_err rc;
        items[0] = en->pos;
        memcpy(items + 1, e->negs + en->neg_off, en->n_neg * sizeof *items);
        rc = fr_mf_score(mf, model, en->member, items, en->n_neg + 1, scores);
        if (rc)
            return rc;
        accumulate(&r, en, items + 1, scores);
    }
    finish(&r);
    *out = r;
    return FR_OK;
}

fr_err
evalset_evaluate_popularity(const evalset *e, const fr_dataset *data,
                            fr_eval_result *out)
{
    uint32_t n_items = fr_dataset_n_items(data);
    float *count = calloc(n_items, sizeof *count);
    float scores[EVALSET_MAX_NEGATIVES + 1];
    fr_eval_result r = {0};

    if (!count)
        return FR_ENOMEM;
    for (uint32_t m = 0; m < fr_dataset_n_members(data); m++) {
        uint32_t n;
        const uint32_t *items = fr_dataset_member_items(data, m, &n);
        for (uint32_t k = 0; k < n; k++)
            count[items[k]] += 1;
    }
    for (size_t i = 0; i < e->n; i++) {
        const entry *en = &e->entries[i];
        const uint32_t *negs = e->negs + en->neg_off;
        scores[0] = count[en->pos];
        for (uint32_t k = 0; k < en->n_neg; k++)
            scores[k + 1] = count[negs[k]];
        accumulate(&r, en, negs, scores);
    }
    free(count);
    finish(&r);
    *out = r;
    return FR_OK;
}
