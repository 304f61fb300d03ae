/*
 * split.c - fedrec-split: deals the public NCF MovieLens-1M benchmark out
 * to S stores, so the federation can be measured on real data.
 *
 *   fedrec-split --ncf DIR --rule iid|region|zipf --stores S --seed N --out OUT
 *
 * Rules (every one deterministic, and written out as OUT/assignment.tsv,
 * lines "user<TAB>store", stores numbered from 1):
 *   iid     users are shuffled with the seed and dealt round-robin, so store
 *           sizes differ by at most one user.
 *   region  the first character of the user's zip code in meta/users.dat:
 *           digit d goes to store d + 1 (10 stores); any other character to
 *           store 1, the fixed fallback. --stores must be 10.
 *   zipf    store k (1-based) gets a share of users proportional to 1/k
 *           (Zipf, exponent 1), at least one user each; users are shuffled
 *           with the seed and cut into consecutive blocks of those sizes.
 *
 * For each store it writes OUT/store-NNN.csv (member_id,item_id,timestamp,
 * rating: the store's training pairs; the train file has no time, so the
 * timestamp is 0) and OUT/store-NNN.test (the store's users' lines of the
 * test negative file, verbatim). Member ids are the NCF user ids. Input
 * files may be plain or .xz (read through xzcat).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/err.h"
#include "base/util.h"

#define PROG "fedrec-split"
#define MAX_USERS 1000000u
#define MAX_STORES 1000u
#define MAX_LINE 65536

typedef enum { RULE_IID, RULE_REGION, RULE_ZIPF } rule;

typedef struct args {
    const char *ncf, *out;
    rule how;
    uint32_t stores;
    uint64_t seed;
} args;

static int
usage(const char *msg)
{
    if (msg)
        fprintf(stderr, PROG ": %s\n", msg);
    fprintf(msg ? stderr : stdout,
            "usage: " PROG " --ncf DIR --rule iid|region|zipf --stores S "
            "--seed N --out OUT\n");
    return msg ? 2 : 0;
}

/* Opens DIR/name, or DIR/name.xz through xzcat. *piped says which. */
static FILE *
open_input(const char *dir, const char *name, int *piped)
{
    char path[4096], cmd[4200];
    struct stat st;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    *piped = 0;
    if (stat(path, &st) == 0)
        return fopen(path, "r");
    snprintf(path, sizeof path, "%s/%s.xz", dir, name);
    if (stat(path, &st) != 0 || strchr(path, '\''))
        return NULL;
    snprintf(cmd, sizeof cmd, "xzcat '%s'", path);
    *piped = 1;
    return popen(cmd, "r");
}

/* FR_ESYS if the file does not close cleanly (or xzcat failed). */
static fr_err
close_input(FILE *f, int piped)
{
    return (piped ? pclose(f) : fclose(f)) == 0 ? FR_OK : FR_ESYS;
}

static int
parse_args(int argc, char **argv, args *a)
{
    int64_t v;
    const char *rule_name = NULL;

    memset(a, 0, sizeof *a);
    a->stores = 0;
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(k, "--help"))
            return -1;
        if (!val)
            return usage("every option needs a value"), 2;
        i++;
        if (!strcmp(k, "--ncf"))
            a->ncf = val;
        else if (!strcmp(k, "--out"))
            a->out = val;
        else if (!strcmp(k, "--rule"))
            rule_name = val;
        else if (!strcmp(k, "--stores")) {
            if (fr_parse_i64(val, 1, MAX_STORES, &v))
                return usage("--stores must be an integer in [1, 1000]"), 2;
            a->stores = (uint32_t)v;
        } else if (!strcmp(k, "--seed")) {
            if (fr_parse_u64(val, UINT64_MAX, &a->seed))
                return usage("--seed must be a non-negative integer"), 2;
        } else {
            fprintf(stderr, PROG ": unknown option %s\n", k);
            return 2;
        }
    }
    if (!a->ncf || !a->out || !rule_name || !a->stores)
        return usage("--ncf, --out, --rule and --stores are required"), 2;
    if (!strcmp(rule_name, "iid"))
        a->how = RULE_IID;
    else if (!strcmp(rule_name, "region"))
        a->how = RULE_REGION;
    else if (!strcmp(rule_name, "zipf"))
        a->how = RULE_ZIPF;
    else
        return usage("--rule must be iid, region or zipf"), 2;
    if (a->how == RULE_REGION && a->stores != 10)
        return usage("--rule region makes exactly 10 stores (--stores 10)"),
               2;
    return 0;
}

/* Counts users in the test file (one line per user, users 0..n-1). */
static fr_err
count_users(const char *dir, uint32_t *n_out)
{
    int piped;
    FILE *f = open_input(dir, "ml-1m.test.rating", &piped);
    char line[MAX_LINE];
    uint32_t n = 0;

    if (!f)
        return fprintf(stderr, PROG ": %s/ml-1m.test.rating(.xz): cannot "
                       "open\n", dir), FR_ENOENT;
    while (fgets(line, sizeof line, f)) {
        if (strtoul(line, NULL, 10) != n || n >= MAX_USERS) {
            fprintf(stderr, PROG ": ml-1m.test.rating:%u: expected user %u\n",
                    n + 1, n);
            close_input(f, piped);
            return FR_EINVAL;
        }
        n++;
    }
    close_input(f, piped);
    *n_out = n;
    return n ? FR_OK : (fprintf(stderr, PROG ": no users\n"), FR_EINVAL);
}

static void
shuffle(uint32_t *v, uint32_t n, uint64_t seed)
{
    fr_rng rng;
    fr_rng_seed(&rng, seed);
    for (uint32_t i = 0; i < n; i++)
        v[i] = i;
    for (uint32_t i = n; i > 1; i--) {
        uint32_t j = (uint32_t)fr_rng_below(&rng, i);
        uint32_t t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
}

static void
assign_iid(uint32_t *store, uint32_t n, const args *a, uint32_t *perm)
{
    shuffle(perm, n, a->seed);
    for (uint32_t i = 0; i < n; i++)
        store[perm[i]] = i % a->stores;
}

static void
assign_zipf(uint32_t *store, uint32_t n, const args *a, uint32_t *perm)
{
    double h = 0;
    uint32_t pos = 0;

    shuffle(perm, n, a->seed);
    for (uint32_t k = 1; k <= a->stores; k++)
        h += 1.0 / k;
    for (uint32_t k = 0; k < a->stores; k++) {
        uint32_t left = a->stores - k - 1; /* one user kept for each */
        uint32_t size = (uint32_t)(n / (h * (k + 1)) + 0.5);
        if (size < 1)
            size = 1;
        if (k == a->stores - 1 || pos + size > n - left)
            size = k == a->stores - 1 ? n - pos : n - left - pos;
        for (uint32_t i = 0; i < size; i++)
            store[perm[pos + i]] = k;
        pos += size;
    }
}

static fr_err
assign_region(uint32_t *store, uint32_t n, const char *dir)
{
    int piped;
    FILE *f = open_input(dir, "meta/users.dat", &piped);
    char line[MAX_LINE];
    uint32_t seen = 0;

    if (!f)
        return fprintf(stderr, PROG ": %s/meta/users.dat(.xz): cannot open\n",
                       dir), FR_ENOENT;
    for (uint32_t u = 0; u < n; u++)
        store[u] = 0; /* the fallback store, 1 in file numbering */
    while (fgets(line, sizeof line, f)) {
        unsigned long id = strtoul(line, NULL, 10);
        const char *zip = line;
        for (int i = 0; i < 4 && zip; i++) {
            zip = strstr(zip, "::");
            if (zip)
                zip += 2;
        }
        if (id == 0 || id > n || !zip)
            continue;
        if (*zip >= '0' && *zip <= '9')
            store[id - 1] = (uint32_t)(*zip - '0');
        seen++;
    }
    close_input(f, piped);
    if (seen != n)
        return fprintf(stderr, PROG ": users.dat has %u of %u users\n", seen,
                       n), FR_EINVAL;
    return FR_OK;
}

static FILE **
open_outputs(const args *a, const char *ext, const char *header)
{
    FILE **out = calloc(a->stores, sizeof *out);
    char path[4096];

    if (!out)
        return NULL;
    for (uint32_t s = 0; s < a->stores; s++) {
        snprintf(path, sizeof path, "%s/store-%03u.%s", a->out, s + 1, ext);
        out[s] = fopen(path, "w");
        if (!out[s]) {
            fprintf(stderr, PROG ": %s: %s\n", path, strerror(errno));
            return NULL; /* the process exits; files close then */
        }
        if (header)
            fputs(header, out[s]);
    }
    return out;
}

/* Closes (and frees) the outputs; FR_ESYS if any did not close cleanly. */
static fr_err
close_outputs(FILE **out, uint32_t n)
{
    int bad = 0;
    for (uint32_t s = 0; s < n; s++)
        bad |= fclose(out[s]) != 0;
    free(out);
    return bad ? FR_ESYS : FR_OK;
}

static fr_err
write_train(const args *a, const uint32_t *store, uint32_t n)
{
    int piped;
    FILE *f = open_input(a->ncf, "ml-1m.train.recon.rating", &piped);
    FILE **out = open_outputs(a, "csv", "member_id,item_id,timestamp,rating\n");
    char line[MAX_LINE];
    unsigned long lineno = 0;

    if (!f || !out)
        return fprintf(stderr, PROG ": cannot open the train file or the "
                       "outputs\n"), FR_ESYS;
    while (fgets(line, sizeof line, f)) {
        unsigned long u, item, rating;
        lineno++;
        if (sscanf(line, "%lu\t%lu\t%lu", &u, &item, &rating) != 3 ||
            u >= n) {
            fprintf(stderr, PROG ": train:%lu: malformed line\n", lineno);
            return FR_EINVAL;
        }
        fprintf(out[store[u]], "%lu,%lu,0,%lu\n", u, item, rating);
    }
    close_input(f, piped);
    return close_outputs(out, a->stores);
}

static fr_err
write_test(const args *a, const uint32_t *store, uint32_t n)
{
    int piped;
    FILE *f = open_input(a->ncf, "ml-1m.test.negative", &piped);
    FILE **out = open_outputs(a, "test", NULL);
    char line[MAX_LINE];

    if (!f || !out)
        return fprintf(stderr, PROG ": cannot open the negative file or the "
                       "outputs\n"), FR_ESYS;
    while (fgets(line, sizeof line, f)) {
        unsigned long u = strtoul(line + (line[0] == '('), NULL, 10);
        if (line[0] != '(' || u >= n) {
            fprintf(stderr, PROG ": test.negative: malformed line\n");
            return FR_EINVAL;
        }
        fputs(line, out[store[u]]);
    }
    close_input(f, piped);
    return close_outputs(out, a->stores);
}

static fr_err
write_assignment(const args *a, const uint32_t *store, uint32_t n)
{
    char path[4096];
    FILE *f;
    uint32_t *sizes = calloc(a->stores, sizeof *sizes), empty = 0;

    snprintf(path, sizeof path, "%s/assignment.tsv", a->out);
    f = fopen(path, "w");
    if (!f || !sizes)
        return fprintf(stderr, PROG ": %s: cannot write\n", path), FR_ESYS;
    for (uint32_t u = 0; u < n; u++) {
        fprintf(f, "%u\t%u\n", u, store[u] + 1);
        sizes[store[u]]++;
    }
    uint32_t lo = UINT32_MAX, hi = 0;
    for (uint32_t s = 0; s < a->stores; s++) {
        empty += sizes[s] == 0;
        lo = sizes[s] < lo ? sizes[s] : lo;
        hi = sizes[s] > hi ? sizes[s] : hi;
    }
    printf(PROG ": %u users to %u stores (largest %u, smallest %u users",
           n, a->stores, hi, lo);
    printf(empty ? ", %u empty)\n" : ")\n", empty);
    free(sizes);
    return fclose(f) == 0 ? FR_OK : FR_ESYS;
}

int
main(int argc, char **argv)
{
    args a;
    uint32_t n = 0, *store = NULL, *perm = NULL;
    int rc = parse_args(argc, argv, &a);
    fr_err err;

    if (rc < 0)
        return usage(NULL);
    if (rc)
        return rc;
    if (mkdir(a.out, 0700) != 0 && errno != EEXIST)
        return fprintf(stderr, PROG ": %s: %s\n", a.out, strerror(errno)), 1;
    if (count_users(a.ncf, &n))
        return 1;
    store = calloc(n, sizeof *store);
    perm = calloc(n, sizeof *perm);
    if (!store || !perm)
        return fprintf(stderr, PROG ": out of memory\n"), 1;
    if (a.how == RULE_IID)
        assign_iid(store, n, &a, perm);
    else if (a.how == RULE_ZIPF)
        assign_zipf(store, n, &a, perm);
    else if (assign_region(store, n, a.ncf))
        return 1;
    err = write_assignment(&a, store, n);
    if (!err)
        err = write_train(&a, store, n);
    if (!err)
        err = write_test(&a, store, n);
    free(store);
    free(perm);
    return err ? 1 : 0;
}
