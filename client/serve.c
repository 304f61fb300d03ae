/*
 * serve.c - the store's marketing outputs, computed from its saved state
 * (the latest global model and the member embeddings fitted to it):
 * recommend (items for a member), segment (members for an item) and score
 * (model scores for benchmark lists). All three score through
 * fr_mf_score's arithmetic, so their numbers agree.
 *
 * Only members whose data the store holds (in a protected store: who
 * consented to training, which is what gives them an embedding) are
 * served, and recommend and segment serve only members who consented to
 * marketing. An unknown member or item is an error with a non-zero exit
 * code. In a protected store, segment prints member pseudonyms (the store
 * keeps no raw ids); `fedrec-client pseudonym --member ID` gives a member's
 * pseudonym to match them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "client.h"
#include "evalset.h"
#include "model/mf.h"
#include "state.h"
#include "store.h"

typedef struct served {
    cstate *cs;
    store_data *data; /* borrowed from cs */
    fr_model *model;
    fr_mf *mf;
} served;

static void
served_close(served *s)
{
    fr_mf_destroy(&s->mf);
    fr_model_destroy(&s->model);
    cstate_close(&s->cs);
}

/* Opens the store's data; cstate_open logs what went wrong. */
static fr_err
served_data(const client_config *cfg, served *s)
{
    fr_err rc = cstate_open(cfg, &s->cs);

    if (rc)
        return rc;
    s->data = cstate_data(s->cs);
    return FR_OK;
}

/* Loads the model and the member state; the data must be loaded first, so
 * that a bad member or item is reported before a missing model. An error
 * after saying why. */
static fr_err
served_open(const client_config *cfg, served *s)
{
    fr_err rc;

    if ((rc = cstate_load_model(s->cs, &s->model))) {
        fprintf(stderr, "fedrec-client: no usable global model: %s (has "
                "this store completed a round?)\n", fr_strerror(rc));
        return rc;
    }
    if (fr_model_n_items(s->model) != (uint32_t)cfg->n_items) {
        fprintf(stderr, "fedrec-client: the saved model has %u items, "
                "n_items is %lld\n", fr_model_n_items(s->model),
                (long long)cfg->n_items);
        return FR_EINVAL;
    }
    return client_open_members(cfg, s->cs, fr_model_dim(s->model), &s->mf);
}

int
client_recommend(const client_config *cfg, const char *member_id, uint32_t k)
{
    served s = {0};
    uint32_t member, n = 0, *items = calloc(k, sizeof *items);
    float *scores = calloc(k, sizeof *scores);
    char key[STORE_MEMBER_ID_MAX];
    const fr_catalogue *cat;
    int status = 1;

    if (!items || !scores || served_data(cfg, &s))
        goto out;
    cstate_member_key(s.cs, member_id, key);
    if (store_data_member(s.data, key, &member)) {
        fprintf(stderr, "fedrec-client: unknown member (no data held, or no "
                "consent to training)\n");
        goto out;
    }
    if (!cstate_marketing_ok(s.cs, key)) {
        fprintf(stderr, "fedrec-client: this member has not consented to "
                "marketing: no recommendations\n");
        goto out;
    }
    if (served_open(cfg, &s))
        goto out;
    if (fr_mf_recommend(s.mf, s.model, member, k, items, scores, &n))
        goto out;
    cat = cstate_catalogue(s.cs);
    printf(cat ? "rank\titem_id\tsku\tscore\n" : "rank\titem_id\tscore\n");
    for (uint32_t i = 0; i < n; i++)
        if (cat && items[i] < fr_catalogue_n_items(cat))
            printf("%u\t%u\t%s\t%.6f\n", i + 1, items[i],
                   fr_catalogue_sku(cat, items[i]), scores[i]);
        else
            printf("%u\t%u\t%.6f\n", i + 1, items[i], scores[i]);
    status = 0;
out:
    free(items);
    free(scores);
    served_close(&s);
    return status;
}

/* The model row of sku through the store's catalogue; an error after
 * saying why. */
static fr_err
sku_item(const served *s, const client_config *cfg, const char *sku,
         uint32_t *item)
{
    const fr_catalogue *cat = cstate_catalogue(s->cs);
    uint32_t i;

    if (!cat) {
        fprintf(stderr, "fedrec-client: this store has no catalogue: name "
                "the item with --item\n");
        return FR_ENOENT;
    }
    i = fr_catalogue_find(cat, sku, strlen(sku));
    if (i == FR_CATALOGUE_NONE) {
        fprintf(stderr, "fedrec-client: SKU '%s' is not in the catalogue\n",
                sku);
        return FR_ENOENT;
    }
    if (i >= (uint32_t)cfg->n_items) {
        fprintf(stderr, "fedrec-client: SKU '%s' is item %u of the "
                "catalogue, beyond the %lld the model trains\n", sku, i,
                (long long)cfg->n_items);
        return FR_ENOENT;
    }
    *item = i;
    return FR_OK;
}

int
client_segment(const client_config *cfg, const char *sku, uint32_t item,
               uint32_t k)
{
    served s = {0};
    uint32_t n = 0, all, *members = NULL, shown = 0;
    float *scores = NULL;
    int status = 1;

    if (!sku && item >= (uint32_t)cfg->n_items) {
        fprintf(stderr, "fedrec-client: unknown item %u (n_items is %lld)\n",
                item, (long long)cfg->n_items);
        goto out;
    }
    if (served_data(cfg, &s) || (sku && sku_item(&s, cfg, sku, &item)) ||
        served_open(cfg, &s))
        goto out;
    /* Rank everyone, then keep the first k who consent to marketing. */
    all = fr_mf_n_members(s.mf);
    members = calloc(all ? all : 1, sizeof *members);
    scores = calloc(all ? all : 1, sizeof *scores);
    if (!members || !scores ||
        fr_mf_segment(s.mf, s.model, item, all, members, scores, &n))
        goto out;
    printf("rank\t%s\tscore\n",
           cstate_is_vault(s.cs) ? "member_pseudonym" : "member_id");
    for (uint32_t i = 0; i < n && shown < k; i++) {
        const char *id = store_data_member_id(s.data, members[i]);
        if (!cstate_marketing_ok(s.cs, id))
            continue;
        printf("%u\t%s\t%.6f\n", ++shown, id, scores[i]);
    }
    status = 0;
out:
    free(members);
    free(scores);
    served_close(&s);
    return status;
}

/* Prints the scores of one input line; an error after saying why. */
static fr_err
score_line(served *s, char *line, uint32_t n_items, unsigned long lineno)
{
    uint32_t items[EVALSET_MAX_NEGATIVES + 1], member;
    float scores[EVALSET_MAX_NEGATIVES + 1];
    char key[STORE_MEMBER_ID_MAX];
    const char *id;
    int n = 0;
    fr_err rc = evalset_parse_line(line, &id, &items[0], items + 1,
                                   EVALSET_MAX_NEGATIVES, n_items, &n);

    if (rc) {
        fprintf(stderr, "fedrec-client: input line %lu: malformed or unknown "
                "item (want '(member,item)<TAB>items...', items below %u)\n",
                lineno, n_items);
        return rc;
    }
    cstate_member_key(s->cs, id, key);
    if (store_data_member(s->data, key, &member)) {
        fprintf(stderr, "fedrec-client: input line %lu: unknown member\n",
                lineno);
        return FR_ENOENT;
    }
    if ((rc = fr_mf_score(s->mf, s->model, member, items, (size_t)n + 1,
                          scores)))
        return rc;
    for (int i = 0; i <= n; i++)
        printf(i ? "\t%.9g" : "%.9g", scores[i]);
    putchar('\n');
    return FR_OK;
}

int
client_score(const client_config *cfg, const char *input)
{
    served s = {0};
    FILE *f = strcmp(input, "-") ? fopen(input, "r") : stdin;
    char *line = NULL;
    size_t cap = 0;
    unsigned long lineno = 0;
    int status = 1;

    if (!f) {
        fprintf(stderr, "fedrec-client: %s: cannot open\n", input);
        return 1;
    }
    if (served_data(cfg, &s) || served_open(cfg, &s))
        goto out;
    while (getline(&line, &cap, f) >= 0) {
        lineno++;
        if (line[0] == '\n')
            continue;
        if (score_line(&s, line, (uint32_t)cfg->n_items, lineno))
            goto out;
    }
    status = 0;
out:
    free(line);
    if (f != stdin)
        fclose(f);
    served_close(&s);
    return status;
}
