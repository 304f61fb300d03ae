/*
 * datagen.c - fedrec-datagen: synthetic purchase histories for demos and
 * integration tests.
 *
 * Writes one CSV per store (DIR/store-01.csv, ...) with the columns the
 * client ingests plus direct identifiers (name, email, phone) that exist
 * only so data-minimisation code has something to strip. All of it is fake.
 *
 * The data have structure a recommender can find: items get latent vectors
 * and a Zipf-like popularity, members get latent tastes (each store's
 * members shifted by a small store-specific offset, a mild non-IID split),
 * and a member buys K distinct items drawn without replacement with
 * probability proportional to exp(BETA <u,v>/sqrt(D) + ALPHA log pop).
 * Popularity alone explains part of the choices, taste the rest, so a
 * factorisation model should beat a popularity ranking clearly.
 *
 * Everything derives from --seed: the item catalogue from the seed itself,
 * store s from (seed, s), so a store's file does not depend on --stores.
 *
 * --format raw writes the same members' purchases as point-of-sale exports
 * in the online-retail shape instead, with the product master and the
 * counts a correct import reports (datagen_raw.c says how).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "base/util.h"
#include "datagen.h"
#include "model/model.h"

#define EXIT_USAGE 2

#define BETA 3.0             /* weight of taste in a member's choices */
#define ALPHA 0.6            /* weight of log popularity */
#define ZIPF_S 1.0           /* popularity of the item of rank r ~ r^-s */
#define STORE_SHIFT 0.5      /* std-dev of a store's taste offset */
#define K_SPREAD 0.6         /* log-normal spread of items per member */
#define CONSENT_YES 0.9

#define MAX_STORES 99
#define MAX_MEMBERS 100000
#define MAX_INTERACTIONS 1000

static const char *const first_names[] = {
    "Anna", "Ben", "Carla", "David", "Elena", "Felix", "Grace", "Hugo",
    "Ines", "Jonas", "Karin", "Liam", "Maria", "Noah", "Olga", "Paul",
    "Quinn", "Rosa", "Sam", "Tina", "Umar", "Vera", "Walter", "Xenia",
    "Yusuf", "Zoe", "Amir", "Bianca", "Chen", "Dana", "Emil", "Fatima",
    "Giulia", "Hannah", "Ivan", "Julia", "Kofi", "Lena", "Mateo", "Nina"};
static const char *const last_names[] = {
    "Smith", "Muller", "Rossi", "Garcia", "Novak", "Jensen", "Dubois",
    "Kowalski", "Silva", "Nguyen", "Okafor", "Schmidt", "Costa", "Berg",
    "Fischer", "Moreau", "Santos", "Lindqvist", "Horvat", "Keller", "Brown",
    "Weber", "Ferrari", "Lopez", "Popescu", "Hansen", "Petit", "Wagner",
    "Ahmed", "Kim", "Yilmaz", "Ivanova", "Bauer", "Russo", "Martin",
    "Walsh", "Meyer", "Nakamura", "Olsen", "Duarte"};

static void
usage(FILE *f)
{
    fprintf(f,
            "usage: " PROG " --stores N --seed S --out DIR [--members M]\n"
            "       [--items I] [--interactions K] [--format fedrec|raw]\n"
            "  --stores N        number of stores, 1..%d\n"
            "  --seed S          unsigned 64-bit seed; same seed, same data\n"
            "  --out DIR         output directory (created 0700 if missing)\n"
            "  --members M       members per store, 1..%d (default 200)\n"
            "  --items I         catalogue size, 10..%u (default 500)\n"
            "  --interactions K  mean distinct items per member, 3..%d and\n"
            "                    at most I/2 (default 30)\n"
            "  --format F        fedrec: the columns fedrec-client imports\n"
            "                    (default); raw: POS exports in the online-retail\n"
            "                    shape, with DIR/products.csv and DIR/expected.txt\n",
            MAX_STORES, MAX_MEMBERS, FR_MODEL_MAX_ITEMS, MAX_INTERACTIONS);
}

static fr_err
bad_arg(const char *name, const char *value, const char *why)
{
    fprintf(stderr, PROG ": %s: '%s' %s\n", name, value, why);
    return FR_EINVAL;
}

static fr_err
parse_int(const char *name, const char *value, int64_t min, int64_t max,
          int64_t *out)
{
    char why[64];

    if (fr_parse_i64(value, min, max, out) == FR_OK)
        return FR_OK;
    snprintf(why, sizeof why, "is not an integer in [%lld, %lld]",
             (long long)min, (long long)max);
    return bad_arg(name, value, why);
}

/* Stores one "--key value" pair; an error after printing it. */
static fr_err
set_arg(args *a, const char *key, const char *value, int *seen_seed)
{
    if (!strcmp(key, "--stores"))
        return parse_int(key, value, 1, MAX_STORES, &a->stores);
    if (!strcmp(key, "--members"))
        return parse_int(key, value, 1, MAX_MEMBERS, &a->members);
    if (!strcmp(key, "--items"))
        return parse_int(key, value, 10, FR_MODEL_MAX_ITEMS, &a->items);
    if (!strcmp(key, "--interactions"))
        return parse_int(key, value, 3, MAX_INTERACTIONS, &a->interactions);
    if (!strcmp(key, "--seed")) {
        *seen_seed = 1;
        if (fr_parse_u64(value, UINT64_MAX, &a->seed) != FR_OK)
            return bad_arg(key, value, "is not an unsigned 64-bit integer");
        return FR_OK;
    }
    if (!strcmp(key, "--format")) {
        if (strcmp(value, "fedrec") && strcmp(value, "raw"))
            return bad_arg(key, value, "is neither 'fedrec' nor 'raw'");
        a->raw = !strcmp(value, "raw");
        return FR_OK;
    }
    if (!strcmp(key, "--out")) {
        a->out = value;
        return *value ? FR_OK : bad_arg(key, value, "is empty");
    }
    fprintf(stderr, PROG ": unknown argument '%s' (try --help)\n", key);
    return FR_EINVAL;
}

/* Checks that the required arguments came and fit together. */
static fr_err
check_args(const args *a, int seen_seed)
{
    if (a->stores == 0 || !seen_seed || !a->out) {
        fprintf(stderr, PROG ": %s is required (try --help)\n",
                a->stores == 0 ? "--stores" : !seen_seed ? "--seed" : "--out");
        return FR_EINVAL;
    }
    if (a->interactions > a->items / 2) {
        fprintf(stderr,
                PROG ": --interactions: '%lld' exceeds half of --items "
                     "(%lld); lower --interactions\n",
                (long long)a->interactions, (long long)a->items);
        return FR_EINVAL;
    }
    return FR_OK;
}

/* Fills a, or sets *help after printing the usage; an error after
 * printing it. */
static fr_err
parse_args(int argc, char **argv, args *a, bool *help)
{
    int seen_seed = 0;

    *help = false;
    *a = (args){.members = 200, .items = 500, .interactions = 30};
    for (int i = 1; i < argc; i++) {
        const char *key = argv[i], *eq = strchr(key, '=');
        char name[32];

        if (!strcmp(key, "--help") || !strcmp(key, "-h")) {
            usage(stdout);
            *help = true;
            return FR_OK;
        }
        if (eq && strncmp(key, "--", 2) == 0 &&
            (size_t)(eq - key) < sizeof name) {
            memcpy(name, key, (size_t)(eq - key));
            name[eq - key] = '\0';
            if (set_arg(a, name, eq + 1, &seen_seed))
                return FR_EINVAL;
            continue;
        }
        if (i + 1 >= argc && strncmp(key, "--", 2) == 0 && key[2]) {
            fprintf(stderr, PROG ": %s needs a value (try --help)\n", key);
            return FR_EINVAL;
        }
        if (set_arg(a, key, i + 1 < argc ? argv[i + 1] : "", &seen_seed))
            return FR_EINVAL;
        i++;
    }
    return check_args(a, seen_seed);
}

/* mkdir -p, creating missing components with mode 0700. On failure errno
 * tells why (unless the path is too long: FR_ELIMIT). */
static fr_err
make_dirs(const char *path)
{
    char buf[PATH_MAX];
    struct stat st;
    size_t len = strlen(path);

    if (len >= sizeof buf)
        return FR_ELIMIT;
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        buf[i] = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return fr_err_from_errno(errno);
        buf[i] = i < len ? '/' : '\0';
    }
    if (stat(path, &st) != 0)
        return fr_err_from_errno(errno);
    return S_ISDIR(st.st_mode) ? FR_OK : FR_EINVAL;
}

/* Items with random latent vectors and Zipf popularity over a shuffled
 * rank, so popular items are not simply the low ids. */
static fr_err
catalogue_make(catalogue *c, uint32_t n, uint64_t seed)
{
    uint32_t *rank;
    fr_rng rng;

    c->n = n;
    c->v = malloc((size_t)n * D * sizeof *c->v);
    c->log_pop = malloc((size_t)n * sizeof *c->log_pop);
    c->rank = rank = malloc((size_t)n * sizeof *rank);
    if (!rank || !c->v || !c->log_pop)
        return FR_ENOMEM;
    fr_rng_seed(&rng, seed);
    for (size_t i = 0; i < (size_t)n * D; i++)
        c->v[i] = fr_rng_normal(&rng);
    for (uint32_t i = 0; i < n; i++)
        rank[i] = i;
    for (uint32_t i = n; i > 1; i--) {
        uint32_t j = (uint32_t)fr_rng_below(&rng, i), t = rank[i - 1];
        rank[i - 1] = rank[j];
        rank[j] = t;
    }
    for (uint32_t i = 0; i < n; i++)
        c->log_pop[i] = -ZIPF_S * log((double)rank[i] + 1.0);
    return FR_OK;
}

static void
catalogue_free(catalogue *c)
{
    free(c->v);
    free(c->log_pop);
    free(c->rank);
}

/* Min-heap on key of the k best so far: O(n log k) top-k selection. */
static void
heap_sift(keyed *h, uint32_t k, uint32_t i)
{
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < k && h[l].key < h[m].key)
            m = l;
        if (r < k && h[r].key < h[m].key)
            m = r;
        if (m == i)
            return;
        keyed t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

/*
 * Draws k distinct items without replacement with probabilities
 * proportional to exp(logit): the Gumbel-top-k trick (the k largest of
 * logit + Gumbel noise are such a sample).
 */
static void
choose_items(const catalogue *c, const double *u, uint32_t k, fr_rng *rng,
             keyed *heap, uint32_t *out)
{
    for (uint32_t i = 0; i < c->n; i++) {
        double dot = 0.0, g;
        for (int t = 0; t < D; t++)
            dot += u[t] * c->v[(size_t)i * D + t];
        g = -log(-log(fr_rng_uniform(rng) * (1.0 - 1e-12) + 1e-12));
        keyed x = {BETA * dot / sqrt((double)D) + ALPHA * c->log_pop[i] + g,
                   i};
        if (i < k) {
            heap[i] = x;
            if (i == k - 1)
                for (uint32_t j = k / 2 + 1; j-- > 0;)
                    heap_sift(heap, k, j);
        } else if (x.key > heap[0].key) {
            heap[0] = x;
            heap_sift(heap, k, 0);
        }
    }
    for (uint32_t j = 0; j < k; j++)
        out[j] = heap[j].item;
    /* heap order follows preference; purchase order must not, or the
     * held-out latest purchase would be easier to guess than a real one */
    for (uint32_t j = k; j > 1; j--) {
        uint32_t r = (uint32_t)fr_rng_below(rng, j), t = out[j - 1];
        out[j - 1] = out[r];
        out[r] = t;
    }
}

/* Items per member: log-normal around the mean, at least 3. */
static uint32_t
draw_count(fr_rng *rng, const args *a)
{
    double k = (double)a->interactions *
               exp(K_SPREAD * fr_rng_normal(rng) - K_SPREAD * K_SPREAD / 2);
    if (k < 3)
        k = 3;
    if (k > (double)a->items / 2)
        k = (double)a->items / 2;
    return (uint32_t)llround(k);
}

/* Strictly increasing purchase times within the year after T0. */
static void
draw_times(fr_rng *rng, uint32_t k, int64_t *t)
{
    int64_t start = T0 + (int64_t)(fr_rng_uniform(rng) * PERIOD / 2);
    int64_t span = T0 + PERIOD - start;

    for (uint32_t j = 0; j < k; j++)
        t[j] = start + (int64_t)(fr_rng_uniform(rng) * (double)span);
    for (uint32_t j = 1; j < k; j++) { /* insertion sort: k is small */
        int64_t x = t[j];
        uint32_t i = j;
        for (; i > 0 && t[i - 1] > x; i--)
            t[i] = t[i - 1];
        t[i] = x;
    }
    for (uint32_t j = 1; j < k; j++)
        if (t[j] <= t[j - 1])
            t[j] = t[j - 1] + 60;
}

static void
lower_into(char *dst, const char *src)
{
    for (; *src; src++)
        *dst++ = (char)(*src >= 'A' && *src <= 'Z' ? *src + 32 : *src);
    *dst = '\0';
}

static void
make_person(fr_rng *rng, person *p)
{
    static const char *const domains[] = {"example.com", "example.org",
                                          "example.net"};
    const char *f = first_names[fr_rng_below(rng, FR_ARRAY_LEN(first_names))];
    const char *l = last_names[fr_rng_below(rng, FR_ARRAY_LEN(last_names))];
    char lf[16], ll[16];

    lower_into(lf, f);
    lower_into(ll, l);
    snprintf(p->name, sizeof p->name, "%s %s", f, l);
    snprintf(p->email, sizeof p->email, "%s.%s%u@%s", lf, ll,
             (unsigned)fr_rng_below(rng, 100),
             domains[fr_rng_below(rng, FR_ARRAY_LEN(domains))]);
    snprintf(p->phone, sizeof p->phone, "+1-555-%03u-%04u",
             (unsigned)fr_rng_below(rng, 1000),
             (unsigned)fr_rng_below(rng, 10000));
    p->consent = fr_rng_uniform(rng) < CONSENT_YES ? "yes" : "no";
}

static unsigned
draw_quantity(fr_rng *rng)
{
    double x = fr_rng_uniform(rng);
    return x < 0.7 ? 1 : x < 0.9 ? 2 : 3 + (unsigned)fr_rng_below(rng, 3);
}

uint32_t
draw_member(const catalogue *c, const args *a, const double *shift,
            fr_rng *rng, scratch *s, person *p)
{
    double u[D];
    uint32_t k = draw_count(rng, a);

    for (int t = 0; t < D; t++)
        u[t] = shift[t] + fr_rng_normal(rng);
    make_person(rng, p);
    choose_items(c, u, k, rng, s->heap, s->items);
    draw_times(rng, k, s->times);
    for (uint32_t j = 0; j < k; j++)
        s->qty[j] = draw_quantity(rng);
    return k;
}

void
store_begin(const args *a, unsigned store, fr_rng *rng, double *shift)
{
    fr_rng_seed(rng, a->seed ^ (0x53544f5245000000ull + store));
    for (int t = 0; t < D; t++)
        shift[t] = STORE_SHIFT * fr_rng_normal(rng);
}

FILE *
open_private(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

    if (fd >= 0 && !f)
        close(fd);
    return f;
}

fr_err
close_into_place(FILE *f, const char *tmp, const char *path)
{
    int ok = !ferror(f) && fflush(f) == 0 && fsync(fileno(f)) == 0;
    int saved;

    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        saved = errno;
        unlink(tmp);
        errno = saved;
        return FR_ESYS;
    }
    return FR_OK;
}

/*
 * Streams store s to DIR/store-SS.csv.tmp and renames it into place, so a
 * reader never sees half a file. Streaming (rather than fr_file_write_atomic
 * on a buffer) keeps memory flat for large stores. On failure errno tells
 * why (the caller prints it).
 */
static fr_err
write_store(const args *a, const catalogue *c, unsigned store, scratch *s,
            uint64_t *rows)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    double shift[D];
    person p;
    fr_rng rng;
    FILE *f;

    if (snprintf(path, sizeof path, "%s/store-%02u.csv", a->out, store) >=
            (int)sizeof path ||
        snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return FR_ELIMIT;
    if (!(f = open_private(tmp)))
        return FR_ESYS;
    store_begin(a, store, &rng, shift);
    fputs("member_id,item_id,timestamp,quantity,consent,name,email,phone\n", f);
    for (unsigned m = 1; m <= (unsigned)a->members; m++) {
        uint32_t k = draw_member(c, a, shift, &rng, s, &p);
        for (uint32_t j = 0; j < k; j++)
            fprintf(f, "M%02u-%06u,%u,%lld,%u,%s,%s,%s,%s\n", store, m,
                    s->items[j], (long long)s->times[j], s->qty[j],
                    p.consent, p.name, p.email, p.phone);
        *rows += k;
    }
    return close_into_place(f, tmp, path);
}

static fr_err
generate(const args *a, uint64_t *rows)
{
    catalogue c = {0};
    scratch s = {0};
    fr_err rc = FR_ENOMEM;

    s.heap = malloc((size_t)a->items * sizeof *s.heap);
    s.items = malloc((size_t)a->items * sizeof *s.items);
    s.times = malloc((size_t)a->items * sizeof *s.times);
    s.qty = malloc((size_t)a->items * sizeof *s.qty);
    if (!s.heap || !s.items || !s.times || !s.qty ||
        catalogue_make(&c, (uint32_t)a->items, a->seed) != 0) {
        fprintf(stderr, PROG ": out of memory\n");
        goto out;
    }
    if (a->raw) {
        rc = raw_generate(a, &c, &s, rows);
        goto out;
    }
    for (unsigned st = 1; st <= (unsigned)a->stores; st++) {
        if ((rc = write_store(a, &c, st, &s, rows))) {
            fprintf(stderr, PROG ": cannot write store %02u in '%s': %s\n",
                    st, a->out, strerror(errno));
            goto out;
        }
    }
    rc = FR_OK;
out:
    catalogue_free(&c);
    free(s.heap);
    free(s.items);
    free(s.times);
    free(s.qty);
    return rc;
}

int
main(int argc, char **argv)
{
    args a;
    uint64_t rows = 0;
    bool help;

    if (parse_args(argc, argv, &a, &help))
        return EXIT_USAGE;
    if (help)
        return 0;
    if (make_dirs(a.out)) {
        fprintf(stderr, PROG ": --out: cannot create directory '%s': %s\n",
                a.out, strerror(errno));
        return 1;
    }
    if (generate(&a, &rows))
        return 1;
    printf(PROG ": wrote %lld %s%s, %llu rows, %lld items%s to %s\n",
           (long long)a.stores, a.raw ? "raw export" : "file",
           a.stores == 1 ? "" : "s", (unsigned long long)rows,
           (long long)a.items,
           a.raw ? ", products.csv and expected.txt" : "", a.out);
    return 0;
}
