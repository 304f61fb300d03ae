/*
 * bench_ml1m.c - the federated model on the NCF MovieLens-1M split, in one
 * process, with the published evaluation protocol.
 *
 *   bench_ml1m --validate|--test [--stores S] [--split iid|region|zipf]
 *              [--seed N] [hyper-parameters, see --help]
 *
 * Users are dealt to S stores (iid: shuffled round-robin; region: first
 * zip-code digit, 10 stores; zipf: store k gets a share ~ 1/k), the same
 * rules as fedrec-split. Each store holds an fr_dataset and an fr_mf of its
 * own users. A round: every store copies the global model, trains locally
 * (fr_mf_train), and the deltas are averaged with fr_agg weighted by
 * fr_mf_train_examples and added to the global model (FedAvg, server step
 * 1). After the last round every store refits its member embeddings to the
 * final global model (fr_mf_fit_members), as a real store does when the
 * final model arrives, and then the model is evaluated:
 *   --validate  one random training interaction per user held out
 *               (FR_MF_HOLDOUT_RANDOM, fixed split seed), ranked among 99
 *               sampled unseen items (fr_mf_evaluate). Hyper-parameters are
 *               chosen here and only here.
 *   --test      train on every training interaction (FR_MF_HOLDOUT_NONE);
 *               rank ml-1m.test.rating's item among its 99 negatives from
 *               ml-1m.test.negative (a negative equal to the positive counts
 *               once; ties count against the positive: fr_eval_rank).
 * HR@10 and NDCG@10 are averaged over all users.
 *
 * The data are read at run time from $FR_ML1M_DIR (default
 * ../shared/data/ncf-ml-1m, relative to the working directory) through
 * xzcat; if the directory is missing the benchmark says so and exits 0.
 * Stores train on --threads threads (each store's work is independent and
 * the deltas are added in store order, so results do not depend on it).
 * OpenBLAS runs one thread per store.
 */
#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/util.h"
#include "model/aggregate.h"
#include "model/data.h"
#include "model/eval.h"
#include "model/ials.h"
#include "model/mf.h"
#include "model/model.h"
#include "secagg/quant.h"

#define PROG "bench_ml1m"
#define N_USERS 6040u
#define N_ITEMS 3706u
#define N_NEG 99u
#define MAX_STORES 1000u
#define MAX_THREADS 64u
#define SPLIT_SEED 20240601u /* fixed: the validation hold-out never moves */

typedef enum { SPLIT_IID, SPLIT_REGION, SPLIT_ZIPF } split_rule;

typedef struct cfg {
    const char *dir;
    int test;
    uint32_t stores, threads, dim, rounds, refit_epochs, eval_every;
    split_rule split;
    uint64_t seed;
    float init_scale, lr_decay;
    fr_mf_opts o;
    int ials;           /* --model ials */
    fr_ials_opts io;    /* its options */
    uint32_t cg_iters;  /* CG iterations per item step */
    double sa_clip[2];  /* > 0: sums go through SecAgg's fixed point with
                           this clip (phase 1, phase 2), as in a secure
                           round (the masks cancel, so they are left out) */
    int dp_js;            /* --dp-shrink yes|no (yes) */
    double dp_z1;         /* > 0: the first epoch's noise multiplier */
    double dp_z, dp_clip; /* dp_z > 0: member-level DP, one release per
                             epoch, central Gaussian noise dp_z * dp_clip */
} cfg;

typedef struct store {
    double *dp_sums; /* iALS under DP: this store's clipped member sum */
    float *sums; /* iALS: this store's share of the item step's sums */
    fr_dataset *d;
    fr_mf *mf;
    fr_model *local;
    double weight;
    fr_err rc;
} store;

typedef struct fed {
    const cfg *c;
    store *st;
    uint32_t *user_store, *user_local; /* global user -> store, local id */
    uint32_t *test_item, *test_neg;    /* --test: N_USERS and N_USERS x 99 */
    fr_model *global;
    uint32_t round;
    uint64_t dp_clipped; /* iALS under DP: clipped member vectors, summed */
} fed;

/* ---- options ----------------------------------------------------------- */

static void
usage(FILE *f)
{
    fprintf(f,
            "usage: " PROG " --validate|--test [options]\n"
            "  --stores S (10)   --split iid|region|zipf (iid)  --seed N (1)\n"
            "  --threads T (2)   --dim D (128)  --rounds R (40)\n"
            "  --epochs E local epochs per round (1)  --lr X (see defaults)\n"
            "  --lr-decay X per-round factor (1)  --l2 X  --neg K\n"
            "  --batch B  --loss logistic|softmax|ssm|bpr  --init X (0.1)\n"
            "  --refit-epochs E (5)  --eval-every R (0: only at the end)\n"
            "  --model mf|ials (mf); iALS: --alpha0 X --lambda X --nu X\n"
            "  --cg K conjugate-gradient iterations per item step (3);\n"
            "  --rounds is then the number of epochs\n"
            "  --secure-clip X [--secure-clip2 Y]: sums through SecAgg's\n"
            "  fixed-point encoding with clip X (phase 1), Y (phase 2)\n"
            "  --dp-z Z --dp-clip C: member-level DP, one release per\n"
            "  epoch with central Gaussian noise of std-dev Z * C;\n"
            "  --dp-shrink yes|no: James-Stein shrinkage of the item sums\n"
            "env FR_ML1M_DIR: data directory (../shared/data/ncf-ml-1m)\n");
}

static int
parse_loss(const char *s, uint32_t *out)
{
    static const char *names[] = {"logistic", "softmax", "ssm", "bpr"};
    for (uint32_t k = 0; k < FR_ARRAY_LEN(names); k++)
        if (!strcmp(s, names[k]))
            return *out = k, 0;
    return -1;
}

static int
parse_split(const char *s, split_rule *out)
{
    if (!strcmp(s, "iid"))
        *out = SPLIT_IID;
    else if (!strcmp(s, "region"))
        *out = SPLIT_REGION;
    else if (!strcmp(s, "zipf"))
        *out = SPLIT_ZIPF;
    else
        return -1;
    return 0;
}

static void
cfg_default(cfg *c)
{
    memset(c, 0, sizeof *c);
    c->dir = getenv("FR_ML1M_DIR") ? getenv("FR_ML1M_DIR")
                                   : "../shared/data/ncf-ml-1m";
    c->stores = 10;
    c->threads = 2;
    c->dim = 128;
    c->rounds = 40;
    c->refit_epochs = 5;
    c->seed = 1;
    c->init_scale = 0.1f;
    c->lr_decay = 1.0f;
    fr_mf_opts_default(&c->o);
    c->o.epochs = 1;
    fr_ials_opts_default(&c->io);
    c->cg_iters = 3;
    c->dp_clip = 1.0;
    c->dp_js = 1;
}

static int
num(const char *v, double lo, double hi, double *out)
{
    return !v || fr_parse_double(v, lo, hi, out) != FR_OK;
}

/* One "--key value" pair; returns 0 if understood and valid. */
static int
parse_opt(cfg *c, const char *k, const char *v)
{
    double x;

#define NUM(name, lo, hi, field, type)                                       \
    if (!strcmp(k, name))                                                    \
        return num(v, lo, hi, &x) ? -1 : (c->field = (type)x, 0)
    NUM("--stores", 1, MAX_STORES, stores, uint32_t);
    NUM("--threads", 1, MAX_THREADS, threads, uint32_t);
    NUM("--dim", 1, FR_MODEL_MAX_DIM, dim, uint32_t);
    NUM("--rounds", 0, 100000, rounds, uint32_t);
    NUM("--refit-epochs", 0, 1000, refit_epochs, uint32_t);
    NUM("--eval-every", 0, 100000, eval_every, uint32_t);
    NUM("--seed", 0, 1e15, seed, uint64_t);
    NUM("--init", 0, 10, init_scale, float);
    NUM("--lr-decay", 0, 1, lr_decay, float);
    NUM("--epochs", 1, 1000, o.epochs, uint32_t);
    NUM("--lr", 0, 1e6, o.lr, float);
    NUM("--l2", 0, 1e6, o.l2, float);
    NUM("--neg", 1, 1000, o.negatives, uint32_t);
    NUM("--batch", 1, 1e6, o.batch_size, uint32_t);
    NUM("--alpha0", 0, 1e6, io.alpha0, double);
    NUM("--lambda", 1e-12, 1e6, io.lambda, double);
    NUM("--nu", 0, 2, io.nu, double);
    NUM("--cg", 1, 1000, cg_iters, uint32_t);
    NUM("--secure-clip", 0, 1e12, sa_clip[0], double);
    NUM("--secure-clip2", 0, 1e12, sa_clip[1], double);
    NUM("--dp-z", 0, 1e6, dp_z, double);
    NUM("--dp-clip", 1e-6, 1e9, dp_clip, double);
    NUM("--dp-z1", 0, 1e6, dp_z1, double);
#undef NUM
    if (!strcmp(k, "--model")) {
        if (!v || (strcmp(v, "mf") && strcmp(v, "ials")))
            return -1;
        c->ials = !strcmp(v, "ials");
        return 0;
    }
    if (!strcmp(k, "--dp-shrink")) {
        if (!v || (strcmp(v, "yes") && strcmp(v, "no")))
            return -1;
        c->dp_js = !strcmp(v, "yes");
        return 0;
    }
    if (!strcmp(k, "--loss"))
        return v ? parse_loss(v, &c->o.loss) : -1;
    if (!strcmp(k, "--split"))
        return v ? parse_split(v, &c->split) : -1;
    return -1;
}

static int
parse_args(cfg *c, int argc, char **argv)
{
    int mode = 0;

    cfg_default(c);
    for (int a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "--validate") || !strcmp(argv[a], "--test")) {
            c->test = !strcmp(argv[a], "--test");
            mode = 1;
        } else if (!strcmp(argv[a], "--help")) {
            usage(stdout);
            exit(0);
        } else if (parse_opt(c, argv[a], a + 1 < argc ? argv[a + 1] : NULL)) {
            fprintf(stderr, PROG ": bad option or value: %s\n", argv[a]);
            return -1;
        } else {
            a++;
        }
    }
    if (!mode) {
        fprintf(stderr, PROG ": say --validate or --test\n");
        return -1;
    }
    if (c->split == SPLIT_REGION && c->stores != 10) {
        fprintf(stderr, PROG ": --split region makes exactly 10 stores\n");
        return -1;
    }
    return 0;
}

/* ---- input ------------------------------------------------------------- */

static FILE *
open_xz(const cfg *c, const char *name)
{
    char cmd[4096];

    if ((size_t)snprintf(cmd, sizeof cmd, "xzcat '%s/%s'", c->dir, name) >=
        sizeof cmd)
        return NULL;
    return popen(cmd, "r");
}

/* Reads "user\titem\trating" lines into per-store datasets. */
static int
load_train(fed *f)
{
    FILE *in = open_xz(f->c, "ml-1m.train.recon.rating.xz");
    unsigned long u, i, rating, rows = 0;
    int ok = in != NULL;

    while (ok && fscanf(in, "%lu\t%lu\t%lu", &u, &i, &rating) == 3) {
        if (u >= N_USERS || i >= N_ITEMS) {
            ok = 0;
            break;
        }
        ok = fr_dataset_add(f->st[f->user_store[u]].d, f->user_local[u],
                            (uint32_t)i, (int64_t)rows++) == FR_OK;
    }
    if (in && pclose(in) != 0)
        ok = 0;
    if (!ok || rows != 994169) {
        fprintf(stderr, PROG ": cannot read the training file (%lu rows)\n",
                rows);
        return -1;
    }
    return 0;
}

/* Reads the test positives and their 99 negatives, line k = user k. */
static int
load_test(fed *f)
{
    FILE *pos = open_xz(f->c, "ml-1m.test.rating.xz");
    FILE *neg = open_xz(f->c, "ml-1m.test.negative.xz");
    unsigned long u, i, r, t, u2, i2, x;
    uint32_t n = 0;
    int ok = pos && neg;

    while (ok && fscanf(pos, "%lu\t%lu\t%lu\t%lu", &u, &i, &r, &t) == 4) {
        ok = u == n && i < N_ITEMS &&
             fscanf(neg, " (%lu,%lu)", &u2, &i2) == 2 && u2 == u && i2 == i;
        f->test_item[u < N_USERS ? u : 0] = (uint32_t)i;
        for (uint32_t k = 0; ok && k < N_NEG; k++) {
            ok = fscanf(neg, "%lu", &x) == 1 && x < N_ITEMS;
            f->test_neg[(size_t)n * N_NEG + k] = (uint32_t)x;
        }
        n++;
        ok = ok && n <= N_USERS;
    }
    if (pos && pclose(pos) != 0)
        ok = 0;
    if (neg && pclose(neg) != 0)
        ok = 0;
    if (!ok || n != N_USERS) {
        fprintf(stderr, PROG ": cannot read the test files\n");
        return -1;
    }
    return 0;
}

/* ---- users to stores --------------------------------------------------- */

static void
shuffle(fr_rng *rng, uint32_t *a, uint32_t n)
{
    for (uint32_t i = n; i > 1; i--) {
        uint32_t j = (uint32_t)fr_rng_below(rng, i), t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

static void
assign_zipf(uint32_t *to, const uint32_t *perm, uint32_t s_n)
{
    double h = 0.0;
    uint32_t at = 0;

    for (uint32_t k = 1; k <= s_n; k++)
        h += 1.0 / k;
    for (uint32_t k = 0; k < s_n; k++) {
        uint32_t want = (uint32_t)(N_USERS / h / (k + 1));
        if (want < 1)
            want = 1;
        if (k == s_n - 1 || at + want > N_USERS - (s_n - 1 - k))
            want = k == s_n - 1 ? N_USERS - at : N_USERS - (s_n - 1 - k) - at;
        for (uint32_t j = 0; j < want; j++)
            to[perm[at++]] = k;
    }
}

/* meta/users.dat: "UserID::Gender::Age::Occupation::Zip"; UserID is 1-based. */
static int
assign_region(uint32_t *to, const cfg *c)
{
    FILE *in = open_xz(c, "meta/users.dat.xz");
    char line[256];
    uint32_t n = 0;

    if (!in)
        return -1;
    while (fgets(line, sizeof line, in)) {
        unsigned long id = strtoul(line, NULL, 10);
        char *zip = line;
        for (int sep = 0; sep < 4 && zip; sep++)
            zip = (zip = strstr(zip, "::")) ? zip + 2 : NULL;
        if (id < 1 || id > N_USERS || !zip)
            break;
        to[id - 1] = zip[0] >= '0' && zip[0] <= '9' ? (uint32_t)(zip[0] - '0')
                                                       : 0;
        n++;
    }
    if (pclose(in) != 0 || n != N_USERS)
        return -1;
    return 0;
}

static int
assign_users(fed *f)
{
    uint32_t perm[N_USERS], count[MAX_STORES] = {0};
    fr_rng rng;

    for (uint32_t u = 0; u < N_USERS; u++)
        perm[u] = u;
    fr_rng_seed(&rng, SPLIT_SEED);
    shuffle(&rng, perm, N_USERS);
    if (f->c->split == SPLIT_IID)
        for (uint32_t k = 0; k < N_USERS; k++)
            f->user_store[perm[k]] = k % f->c->stores;
    else if (f->c->split == SPLIT_ZIPF)
        assign_zipf(f->user_store, perm, f->c->stores);
    else if (assign_region(f->user_store, f->c)) {
        fprintf(stderr, PROG ": cannot read meta/users.dat.xz\n");
        return -1;
    }
    for (uint32_t u = 0; u < N_USERS; u++)
        f->user_local[u] = count[f->user_store[u]]++;
    for (uint32_t s = 0; s < f->c->stores; s++)
        if (count[s] == 0) {
            fprintf(stderr, PROG ": store %u got no users\n", s);
            return -1;
        }
    return 0;
}

/* ---- the federation ---------------------------------------------------- */

static uint64_t
mix(uint64_t a, uint64_t b)
{
    fr_rng r;
    fr_rng_seed(&r, a * 0x9e3779b97f4a7c15ull ^ b);
    return fr_rng_next(&r);
}

static int
stores_open(fed *f)
{
    const cfg *c = f->c;

    for (uint32_t s = 0; s < c->stores; s++)
        if (fr_dataset_new(&f->st[s].d, N_ITEMS))
            return -1;
    if (load_train(f))
        return -1;
    for (uint32_t s = 0; s < c->stores; s++) {
        store *st = &f->st[s];
        /* the validation hold-out and its negatives depend only on the
         * fixed split seed; member init on the run's seed */
        uint64_t mseed = c->test ? mix(c->seed, s) : mix(SPLIT_SEED, s);
        if (fr_dataset_finalize(st->d) ||
            fr_mf_new_holdout(&st->mf, st->d, c->dim, mseed,
                              c->test ? FR_MF_HOLDOUT_NONE
                                      : FR_MF_HOLDOUT_RANDOM) ||
            fr_model_new(&st->local, N_ITEMS, c->dim))
            return -1;
        st->weight = (double)fr_mf_train_examples(st->mf);
    }
    return 0;
}

static void
stores_close(fed *f)
{
    for (uint32_t s = 0; f->st && s < f->c->stores; s++) {
        fr_mf_destroy(&f->st[s].mf);
        fr_dataset_destroy(&f->st[s].d);
        fr_model_destroy(&f->st[s].local);
        free(f->st[s].sums);
    }
}

typedef struct job {
    fed *f;
    uint32_t first;
    int refit;
    float lr;
} job;

/* Trains stores first, first + T, ...; leaves local - global in local. */
static void *
store_worker(void *arg)
{
    const job *j = arg;
    fed *f = j->f;
    const cfg *c = f->c;

    for (uint32_t s = j->first; s < c->stores; s += c->threads) {
        store *st = &f->st[s];
        fr_mf_opts o = c->o;
        o.lr = j->lr;
        o.seed = mix(mix(c->seed, f->round), s);
        if (j->refit) {
            o.epochs = c->refit_epochs;
            st->rc = fr_mf_fit_members(st->mf, f->global, &o, NULL);
            continue;
        }
        st->rc = fr_model_copy(st->local, f->global);
        if (!st->rc)
            st->rc = fr_mf_train(st->mf, st->local, &o, NULL);
        if (st->rc)
            continue;
        float *x = fr_model_params(st->local);
        const float *g = fr_model_params_const(f->global);
        for (size_t k = 0; k < fr_model_n_params(st->local); k++)
            x[k] -= g[k];
    }
    return NULL;
}

static int
run_stores(fed *f, int refit, float lr)
{
    pthread_t th[MAX_THREADS];
    job jobs[MAX_THREADS];
    uint32_t t_n = f->c->threads;

    for (uint32_t t = 0; t < t_n; t++) {
        jobs[t] = (job){f, t, refit, lr};
        if (pthread_create(&th[t], NULL, store_worker, &jobs[t]))
            return -1;
    }
    for (uint32_t t = 0; t < t_n; t++)
        pthread_join(th[t], NULL);
    for (uint32_t s = 0; s < f->c->stores; s++)
        if (f->st[s].rc) {
            fprintf(stderr, PROG ": store %u: %s\n", s,
                    fr_strerror(f->st[s].rc));
            return -1;
        }
    return 0;
}

/* One FedAvg round: deltas added in store order, weighted by examples. */
static int
fed_round(fed *f, fr_agg *agg, float *mean, float lr)
{
    float *g = fr_model_params(f->global);
    size_t n = fr_model_n_params(f->global);

    if (run_stores(f, 0, lr))
        return -1;
    fr_agg_reset(agg);
    for (uint32_t s = 0; s < f->c->stores; s++)
        if (fr_agg_add(agg, fr_model_params_const(f->st[s].local),
                       f->st[s].weight))
            return -1;
    if (fr_agg_mean(agg, mean))
        return -1;
    for (size_t k = 0; k < n; k++)
        g[k] += mean[k];
    return 0;
}

/* ---- evaluation -------------------------------------------------------- */

static fr_eval_result
eval_validation(const fed *f)
{
    fr_eval_result r = {0};

    for (uint32_t s = 0; s < f->c->stores; s++) {
        fr_eval_result e;
        if (fr_mf_evaluate(f->st[s].mf, f->global, &e) || e.count == 0)
            continue;
        r.hr += e.hr * e.count;
        r.ndcg += e.ndcg * e.count;
        r.count += e.count;
    }
    if (r.count) {
        r.hr /= r.count;
        r.ndcg /= r.count;
    }
    return r;
}

static fr_eval_result
eval_test(const fed *f)
{
    fr_eval_result r = {0};
    uint32_t items[N_NEG + 1];
    float sc[N_NEG + 1];

    for (uint32_t u = 0; u < N_USERS; u++) {
        const store *st = &f->st[f->user_store[u]];
        items[0] = f->test_item[u];
        memcpy(items + 1, f->test_neg + (size_t)u * N_NEG,
               N_NEG * sizeof *items);
        if (fr_mf_score(st->mf, f->global, f->user_local[u], items,
                        N_NEG + 1, sc))
            continue;
        uint32_t rank = fr_eval_rank(sc[0], items[0], sc + 1, items + 1, N_NEG);
        r.hr += fr_eval_hit(rank, 10);
        r.ndcg += fr_eval_ndcg(rank, 10);
        r.count++;
    }
    if (r.count) {
        r.hr /= r.count;
        r.ndcg /= r.count;
    }
    return r;
}

static fr_eval_result
evaluate(const fed *f)
{
    return f->c->test ? eval_test(f) : eval_validation(f);
}

/* ---- timing ------------------------------------------------------------ */

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* GFLOP/s of plain cblas_sgemm on the three shapes one training batch
 * runs (scores, member gradient, item gradient), on one thread. */
static double
sgemm_gflops(uint32_t b, uint32_t d)
{
    const int n = (int)N_ITEMS;
    float *p = calloc((size_t)b * d, sizeof *p);
    float *q = calloc((size_t)n * d, sizeof *q);
    float *s = calloc((size_t)b * n, sizeof *s);
    double t0, flops = 0.0, dt;
    int reps = 0;

    if (!p || !q || !s)
        return 0.0;
    for (size_t k = 0; k < (size_t)b * d; k++)
        p[k] = 0.01f * (float)(k % 7);
    t0 = now_s();
    do {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)b, n,
                    (int)d, 1.0f, p, (int)d, q, (int)d, 1.0f, s, n);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)b,
                    (int)d, n, 1.0f, s, n, q, (int)d, 0.0f, p, (int)d);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n, (int)d,
                    (int)b, -1e-9f, s, n, p, (int)d, 1.0f, q, (int)d);
        flops += 6.0 * b * n * d;
        reps++;
    } while ((dt = now_s() - t0) < 0.5 || reps < 3);
    free(p);
    free(q);
    free(s);
    return flops / dt * 1e-9;
}

/* ---- main -------------------------------------------------------------- */

static void
report_round(const fed *f, uint32_t r, double loss_s)
{
    fr_eval_result e = evaluate(f);
    printf("round %4u  HR@10 %.4f  NDCG@10 %.4f  (%.1f s)\n", r, e.hr,
           e.ndcg, loss_s);
    fflush(stdout);
}

static int
train_all(fed *f, double *train_s)
{
    const cfg *c = f->c;
    fr_agg *agg = NULL;
    float *mean = malloc(fr_model_n_params(f->global) * sizeof *mean);
    float lr = c->o.lr;
    double t0 = now_s();
    int rc = -1;

    if (!mean || fr_agg_new(&agg, fr_model_n_params(f->global)))
        goto out;
    for (f->round = 0; f->round < c->rounds; f->round++, lr *= c->lr_decay) {
        if (fed_round(f, agg, mean, lr))
            goto out;
        if (c->eval_every && (f->round + 1) % c->eval_every == 0)
            report_round(f, f->round + 1, now_s() - t0);
    }
    *train_s = now_s() - t0;
    /* the final model goes out; each store refits its members to it */
    if (c->refit_epochs && run_stores(f, 1, lr))
        goto out;
    rc = 0;
out:
    fr_agg_destroy(&agg);
    free(mean);
    return rc;
}

static void
print_final(const fed *f, fr_eval_result e, double train_s)
{
    const cfg *c = f->c;
    double epochs = (double)c->rounds * c->o.epochs, ex = 0.0;
    uint32_t b = c->o.batch_size;

    for (uint32_t s = 0; s < c->stores; s++)
        ex += f->st[s].weight;
    if (b > N_USERS / c->stores)
        b = N_USERS / c->stores;
    double dense = 6.0 * N_USERS * (double)N_ITEMS * c->dim * epochs;
    printf("throughput: %.0f interactions/s; dense part %.2f GFLOP/s "
           "effective over training (%u threads) vs cblas_sgemm %.2f "
           "GFLOP/s/thread at batch %u\n",
           ex * epochs / train_s, dense / train_s * 1e-9, c->threads,
           sgemm_gflops(b, c->dim), b);
    printf("FINAL %s stores=%u split=%s seed=%llu loss=%u dim=%u rounds=%u "
           "epochs=%u lr=%g decay=%g l2=%g neg=%u batch=%u init=%g refit=%u "
           "users=%u HR@10=%.4f NDCG@10=%.4f train_s=%.1f\n",
           c->test ? "test" : "validate", c->stores,
           c->split == SPLIT_IID ? "iid"
           : c->split == SPLIT_ZIPF ? "zipf" : "region",
           (unsigned long long)c->seed, c->o.loss, c->dim, c->rounds,
           c->o.epochs, c->o.lr, c->lr_decay, c->o.l2, c->o.negatives,
           c->o.batch_size, c->init_scale, c->refit_epochs, e.count, e.hr,
           e.ndcg, train_s);
}

/* ---- iALS ----------------------------------------------------------------
 * An epoch: every store solves its members against the global item
 * factors H and their Gramian, and sends its share of the item step's
 * sums (fr_ials_store_stats); the sum starts a CG item step; each CG
 * iteration the stores send their matvec along the direction. Sums are
 * added in store order, so results do not depend on --threads. The final
 * H goes out and each store solves its members once more.
 */

typedef enum { PH_SOLVE, PH_MATVEC, PH_REFIT, PH_DP } ials_phase;

typedef struct ials_job {
    fed *f;
    uint32_t first;
    ials_phase ph;
    const float *G, *V;
    size_t len;
    double solve_s; /* this thread's time in member solves */
    uint64_t clipped; /* PH_DP: members whose vector was scaled down */
} ials_job;

static void *
ials_worker(void *arg)
{
    ials_job *j = arg;
    fed *f = j->f;
    const cfg *c = f->c;

    for (uint32_t s = j->first; s < c->stores; s += c->threads) {
        store *st = &f->st[s];
        if (j->ph != PH_MATVEC) {
            double t0 = now_s();
            st->rc = fr_ials_fit_members(st->mf, f->global, j->G, &c->io);
            j->solve_s += now_s() - t0;
            if (st->rc || j->ph == PH_REFIT)
                continue;
        }
        if (j->ph == PH_DP) {
            uint64_t clipped = 0;
            memset(st->dp_sums, 0, j->len * sizeof *st->dp_sums);
            st->rc = fr_ials_dp_member_sums(st->mf, c->dp_clip, st->dp_sums,
                                            &clipped);
            j->clipped += clipped;
            continue;
        }
        memset(st->sums, 0, j->len * sizeof *st->sums);
        st->rc = j->ph == PH_SOLVE
                     ? fr_ials_store_stats(st->mf, f->global, st->sums)
                     : fr_ials_store_matvec(st->mf, j->V, N_ITEMS, st->sums);
    }
    return NULL;
}

/* The stores' sums as a secure round adds them: each encoded with weight
 * 1 (fr_quant, clip), the words added modulo 2^32, the mean decoded and
 * multiplied back by the number of stores. A store whose sums are longer
 * than clip is refused, as fedrec-client refuses to send them. */
static int
secure_sum(fed *f, double clip, float *sum, size_t len)
{
    fr_quant q;
    uint32_t *w = malloc((len + 1) * sizeof *w);
    uint32_t *acc = calloc(len + 1, sizeof *acc);
    uint64_t weight = 0;
    int rc = -1;

    if (!w || !acc || fr_quant_init(&q, f->c->stores, clip, 1))
        goto out;
    for (uint32_t s = 0; s < f->c->stores; s++) {
        uint8_t coins[32] = {0};
        double factor = 1.0;
        uint64_t seed = mix(mix(f->c->seed, f->round), s);
        memcpy(coins, &seed, sizeof seed);
        if (fr_quant_encode(&q, f->st[s].sums, len, 1, coins, w, &factor))
            goto out;
        if (factor < 1.0) {
            fprintf(stderr, PROG ": store %u's sums are longer than the "
                    "clip %g (factor %.4f)\n", s, clip, factor);
            goto out;
        }
        for (size_t k = 0; k <= len; k++)
            acc[k] += w[k];
    }
    if (fr_quant_decode_mean(&q, acc, len, sum, &weight) ||
        weight != f->c->stores)
        goto out;
    for (size_t k = 0; k < len; k++)
        sum[k] *= (float)weight;
    rc = 0;
out:
    free(w);
    free(acc);
    return rc;
}

/* Runs a phase on every store and leaves the stores' sum in sum (len). */
static int
ials_run(fed *f, ials_phase ph, const float *G, const float *V, float *sum,
         size_t len, double *solve_s)
{
    pthread_t th[MAX_THREADS];
    ials_job jobs[MAX_THREADS];
    uint32_t t_n = f->c->threads;

    for (uint32_t t = 0; t < t_n; t++) {
        jobs[t] = (ials_job){f, t, ph, G, V, len, 0.0, 0};
        if (pthread_create(&th[t], NULL, ials_worker, &jobs[t]))
            return -1;
    }
    for (uint32_t t = 0; t < t_n; t++) {
        pthread_join(th[t], NULL);
        *solve_s += jobs[t].solve_s;
        f->dp_clipped += jobs[t].clipped;
    }
    for (uint32_t s = 0; s < f->c->stores; s++)
        if (f->st[s].rc) {
            fprintf(stderr, PROG ": store %u: %s\n", s,
                    fr_strerror(f->st[s].rc));
            return -1;
        }
    if (ph == PH_REFIT || ph == PH_DP)
        return 0;
    if (f->c->sa_clip[ph == PH_MATVEC] > 0)
        return secure_sum(f, f->c->sa_clip[ph == PH_MATVEC], sum, len);
    memset(sum, 0, len * sizeof *sum);
    for (uint32_t s = 0; s < f->c->stores; s++)
        for (size_t k = 0; k < len; k++)
            sum[k] += f->st[s].sums[k];
    return 0;
}

/* Every store solves its members against the global item factors (G:
 * scratch for their Gramian), as after the last epoch. */
static int
ials_refit(fed *f, float *G, double *solve_s)
{
    return fr_ials_gramian(fr_model_item_emb(f->global), N_ITEMS, f->c->dim,
                           G) ||
           ials_run(f, PH_REFIT, G, NULL, NULL, 0, solve_s);
}

typedef struct ials_times {
    double solve_s, train_s, flops;
    double norm_stats, norm_matvec; /* largest store's L2 norm of each */
} ials_times;

/* The largest L2 norm of one store's sums: what a secure round's clip
 * (ials_clip) must stay above. */
static double
largest_norm(const fed *f, size_t len)
{
    double m = 0.0;
    for (uint32_t s = 0; s < f->c->stores; s++) {
        double q = 0.0;
        for (size_t k = 0; k < len; k++)
            q += (double)f->st[s].sums[k] * f->st[s].sums[k];
        if (sqrt(q) > m)
            m = sqrt(q);
    }
    return m;
}

/* Member-solve flops of one epoch: the block's ssyrk (n_u d^2), the
 * Cholesky (d^3 / 3) and its two triangular solves (2 d^2), per member. */
static double
ials_solve_flops(const fed *f)
{
    double d = f->c->dim, fl = 0.0;
    for (uint32_t s = 0; s < f->c->stores; s++) {
        double ex = (double)fr_mf_train_examples(f->st[s].mf);
        double nm = fr_mf_n_members(f->st[s].mf);
        fl += ex * d * d + nm * (d * d * d / 3.0 + 2.0 * d * d);
    }
    return fl;
}

/* A standard normal draw from a splitmix64 stream (Box-Muller). The noise
 * of the in-process DP runs only: the real rounds use the distributed
 * discrete Gaussian (common/dp/ddg.h). */
static double
gauss(uint64_t *state)
{
    double u1, u2;
    do {
        *state = mix(*state, 0x9e3779b97f4a7c15ull);
        u1 = (double)(*state >> 11) * 0x1p-53;
    } while (u1 <= 0.0);
    *state = mix(*state, 0x9e3779b97f4a7c15ull);
    u2 = (double)(*state >> 11) * 0x1p-53;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* iALS under member-level DP: each epoch, every store solves its members
 * and adds their clipped vectors (fr_ials_dp_member_sums); the stores'
 * sum gets Gaussian noise of std-dev dp_z * dp_clip per coordinate (the
 * central noise a DP round's shares add up to) and the item step is
 * fr_ials_dp_item_step. The final refit is local. */
static int
train_ials_dp(fed *f, ials_times *tm)
{
    const cfg *c = f->c;
    size_t len = fr_ials_dp_len(N_ITEMS, c->dim);
    double *sum = malloc(len * sizeof *sum);
    float *G = malloc((size_t)c->dim * c->dim * sizeof *G);
    float *H = fr_model_item_emb(f->global);
    fr_ials_cg *cg = NULL;
    uint64_t rng = mix(c->seed, 0x6470);
    double t0 = now_s(), sd = c->dp_z * c->dp_clip;
    int rc = -1;

    memset(tm, 0, sizeof *tm);
    if (!sum || !G || fr_ials_cg_new(&cg, N_ITEMS, c->dim, &c->io))
        goto out;
    for (uint32_t s = 0; s < c->stores; s++)
        if (!(f->st[s].dp_sums = malloc(len * sizeof *f->st[s].dp_sums)))
            goto out;
    memset(fr_model_item_bias(f->global), 0, N_ITEMS * sizeof(float));
    for (f->round = 0; f->round < c->rounds; f->round++) {
        f->dp_clipped = 0;
        if (fr_ials_gramian(H, N_ITEMS, c->dim, G) ||
            ials_run(f, PH_DP, G, NULL, NULL, len, &tm->solve_s))
            goto out;
        memset(sum, 0, len * sizeof *sum);
        for (uint32_t s = 0; s < c->stores; s++)
            for (size_t k = 0; k < len; k++)
                sum[k] += f->st[s].dp_sums[k];
        sd = (f->round == 0 && c->dp_z1 > 0 ? c->dp_z1 : c->dp_z) * c->dp_clip;
        for (size_t k = 0; k < len; k++)
            sum[k] += sd * gauss(&rng);
        if (fr_ials_dp_item_step(cg, H, sum, c->dp_js ? sd : 0.0))
            goto out;
        printf("dp epoch %u: %llu of %u members clipped\n", f->round + 1,
               (unsigned long long)f->dp_clipped, N_USERS);
        if (c->eval_every && (f->round + 1) % c->eval_every == 0) {
            if (ials_refit(f, G, &tm->solve_s))
                goto out;
            report_round(f, f->round + 1, now_s() - t0);
        }
    }
    tm->train_s = now_s() - t0;
    tm->flops = ials_solve_flops(f) * c->rounds;
    if (ials_refit(f, G, &tm->solve_s))
        goto out;
    rc = 0;
out:
    for (uint32_t s = 0; s < c->stores; s++) {
        free(f->st[s].dp_sums);
        f->st[s].dp_sums = NULL;
    }
    fr_ials_cg_destroy(&cg);
    free(sum);
    free(G);
    return rc;
}

static int
train_ials(fed *f, ials_times *tm)
{
    const cfg *c = f->c;
    size_t len = fr_ials_stats_len(N_ITEMS, c->dim);
    float *sum = malloc(len * sizeof *sum);
    float *G = malloc((size_t)c->dim * c->dim * sizeof *G);
    float *H = fr_model_item_emb(f->global);
    fr_ials_cg *cg = NULL;
    double t0 = now_s();
    int rc = -1;

    memset(tm, 0, sizeof *tm);
    if (!sum || !G || fr_ials_cg_new(&cg, N_ITEMS, c->dim, &c->io))
        goto out;
    for (uint32_t s = 0; s < c->stores; s++)
        if (!(f->st[s].sums = malloc(len * sizeof *f->st[s].sums)))
            goto out;
    memset(fr_model_item_bias(f->global), 0, N_ITEMS * sizeof(float));
    for (f->round = 0; f->round < c->rounds; f->round++) {
        if (fr_ials_gramian(H, N_ITEMS, c->dim, G) ||
            ials_run(f, PH_SOLVE, G, NULL, sum, len, &tm->solve_s) ||
            fr_ials_cg_begin(cg, H, sum))
            goto out;
        tm->norm_stats = fmax(tm->norm_stats, largest_norm(f, len));
        for (uint32_t k = 0; k < c->cg_iters; k++)
            if (ials_run(f, PH_MATVEC, NULL, fr_ials_cg_direction(cg), sum,
                         (size_t)N_ITEMS * c->dim, &tm->solve_s) ||
                fr_ials_cg_step(cg, H, sum))
                goto out;
            else
                tm->norm_matvec = fmax(tm->norm_matvec,
                                       largest_norm(f, (size_t)N_ITEMS *
                                                           c->dim));
        if (c->eval_every && (f->round + 1) % c->eval_every == 0) {
            if (ials_refit(f, G, &tm->solve_s))
                goto out;
            report_round(f, f->round + 1, now_s() - t0);
        }
    }
    tm->train_s = now_s() - t0;
    tm->flops = ials_solve_flops(f) * c->rounds;
    if (ials_refit(f, G, &tm->solve_s))
        goto out;
    rc = 0;
out:
    fr_ials_cg_destroy(&cg);
    free(sum);
    free(G);
    return rc;
}

/* GFLOP/s of one-thread cblas_sgemm on square d x d x 8d blocks: the
 * dense bound the member solves are measured against. */
static double
sgemm_square_gflops(uint32_t d)
{
    size_t m = (size_t)8 * d;
    float *a = calloc(m * d, sizeof *a), *b = calloc(m * d, sizeof *b);
    float *cc = calloc((size_t)d * d, sizeof *cc);
    double t0, flops = 0.0, dt;
    int reps = 0;

    if (!a || !b || !cc) {
        free(a);
        free(b);
        free(cc);
        return 0.0;
    }
    for (size_t k = 0; k < m * d; k++)
        a[k] = b[k] = 0.001f * (float)(k % 13);
    t0 = now_s();
    do {
        cblas_sgemm(CblasColMajor, CblasNoTrans, CblasTrans, (int)d, (int)d,
                    (int)m, 1.0f, a, (int)d, b, (int)d, 0.0f, cc, (int)d);
        flops += 2.0 * m * d * d;
        reps++;
    } while ((dt = now_s() - t0) < 0.5 || reps < 3);
    free(a);
    free(b);
    free(cc);
    return flops / dt * 1e-9;
}

static void
print_ials(const fed *f, fr_eval_result e, const ials_times *tm)
{
    const cfg *c = f->c;
    double peak = sgemm_square_gflops(c->dim);
    double solve = tm->flops / (tm->solve_s > 0 ? tm->solve_s : 1e-9) * 1e-9;

    printf("speed: epoch %.2f s (%u stores, %u threads); member solves "
           "%.2f GFLOP/s per thread vs cblas_sgemm %.2f GFLOP/s per thread "
           "(%.0f%%), %.1f%% of the epoch\n",
           tm->train_s / (c->rounds ? c->rounds : 1), c->stores, c->threads,
           solve, peak, peak > 0 ? 100.0 * solve / peak : 0.0,
           tm->train_s > 0 ? 100.0 * tm->solve_s / c->threads / tm->train_s
                           : 0.0);
    printf("sums: largest store L2 norm %.4g (phase 1), %.4g (phase 2)\n",
           tm->norm_stats, tm->norm_matvec);
    printf("FINAL %s model=ials stores=%u split=%s seed=%llu dim=%u "
           "epochs=%u cg=%u alpha0=%g lambda=%g nu=%g init=%g dp_z=%g "
           "dp_clip=%g users=%u HR@10=%.4f NDCG@10=%.4f train_s=%.1f\n",
           c->test ? "test" : "validate", c->stores,
           c->split == SPLIT_IID ? "iid"
           : c->split == SPLIT_ZIPF ? "zipf" : "region",
           (unsigned long long)c->seed, c->dim, c->rounds, c->cg_iters,
           c->io.alpha0, c->io.lambda, c->io.nu, c->init_scale, c->dp_z,
           c->dp_clip, e.count, e.hr,
           e.ndcg, tm->train_s);
}

int
main(int argc, char **argv)
{
    cfg c;
    fed f = {.c = &c};
    struct stat sb;
    double train_s = 0.0;
    int rc = 1;

    if (parse_args(&c, argc, argv)) {
        usage(stderr);
        return 2;
    }
    if (stat(c.dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        printf(PROG ": skipped: no data directory %s (set FR_ML1M_DIR)\n",
               c.dir);
        return 0;
    }
    openblas_set_num_threads(1);
    f.st = calloc(c.stores, sizeof *f.st);
    f.user_store = calloc(N_USERS, sizeof *f.user_store);
    f.user_local = calloc(N_USERS, sizeof *f.user_local);
    f.test_item = calloc(N_USERS, sizeof *f.test_item);
    f.test_neg = calloc((size_t)N_USERS * N_NEG, sizeof *f.test_neg);
    if (!f.st || !f.user_store || !f.user_local || !f.test_item ||
        !f.test_neg || assign_users(&f) || stores_open(&f) ||
        (c.test && load_test(&f)) ||
        fr_model_new(&f.global, N_ITEMS, c.dim))
        goto out;
    fr_model_init_random(f.global, mix(c.seed, 0x676c6f62616cull),
                         c.ials ? c.init_scale / sqrtf((float)c.dim)
                                : c.init_scale);
    if (c.ials) {
        ials_times tm;
        if (c.dp_z > 0 ? train_ials_dp(&f, &tm) : train_ials(&f, &tm))
            goto out;
        print_ials(&f, evaluate(&f), &tm);
    } else {
        if (train_all(&f, &train_s))
            goto out;
        print_final(&f, evaluate(&f), train_s);
    }
    rc = 0;
out:
    if (rc)
        fprintf(stderr, PROG ": failed\n");
    stores_close(&f);
    fr_model_destroy(&f.global);
    free(f.st);
    free(f.user_store);
    free(f.user_local);
    free(f.test_item);
    free(f.test_neg);
    return rc;
}
