/*
 * datagen.h - what the two writers of fedrec-datagen share: the arguments,
 * the generator's item catalogue and one member's draws (datagen.c), used
 * by the fedrec writer (datagen.c) and the raw POS export writer
 * (datagen_raw.c).
 */
#ifndef FR_TOOLS_DATAGEN_H
#define FR_TOOLS_DATAGEN_H

#include <stdint.h>
#include <stdio.h>

#include "base/err.h"
#include "base/util.h"

#define PROG "fedrec-datagen"

#define D 8                  /* latent dimension of the generator */
#define T0 1704067200LL      /* 2024-01-01T00:00:00Z */
#define PERIOD (365LL * 86400)

typedef struct args {
    int64_t stores, members, items, interactions;
    uint64_t seed;
    const char *out;
    int raw; /* --format raw */
} args;

typedef struct catalogue {
    uint32_t n;
    double *v;       /* n x D latent item vectors */
    double *log_pop; /* n */
    uint32_t *rank;  /* n: popularity rank of each item, 0 most popular */
} catalogue;

typedef struct keyed {
    double key;
    uint32_t item;
} keyed;

typedef struct person {
    char name[48];
    char email[80];
    char phone[24];
    const char *consent;
} person;

/* One member's purchases: k distinct items at strictly increasing times,
 * with the quantity of each. Arrays of --items entries. */
typedef struct scratch {
    keyed *heap;
    uint32_t *items;
    int64_t *times;
    unsigned *qty;
} scratch;

/* Seeds store s's generator and draws its taste offset: what every
 * writer does before the store's first member. */
void store_begin(const args *a, unsigned store, fr_rng *rng, double *shift);

/* Draws the next member of a store (taste, person, items, times,
 * quantities) into *p and s; returns the purchase count k. The draws
 * are the same whatever the output format. */
uint32_t draw_member(const catalogue *c, const args *a, const double *shift,
                     fr_rng *rng, scratch *s, person *p);

/* Opens path for writing, mode 0600; NULL with errno set. */
FILE *open_private(const char *path);

/* Flushes, syncs and closes f (written to tmp) and renames tmp to path;
 * on failure removes tmp and returns FR_ESYS with errno set. */
fr_err close_into_place(FILE *f, const char *tmp, const char *path);

/* --format raw: the stores as POS exports, DIR/products.csv and
 * DIR/expected.txt (datagen_raw.c). Adds the rows written to *rows; an
 * error after printing it. */
fr_err raw_generate(const args *a, const catalogue *c, scratch *s,
                    uint64_t *rows);

#endif
