/*
 * regions.h - a federation of regions for the black-box tests of mode
 * regional: one central fedrec-aggregator, regional fedrec-aggregator
 * processes (mode regional) under it, and under each region either
 * simulated stores (one fedrec-simstores process) or real protected
 * fedrec-client stores, all on loopback, with their keys, allow-lists and
 * configurations in one temporary directory.
 */
#ifndef FR_TEST_REGIONS_H
#define FR_TEST_REGIONS_H

#include <stddef.h>
#include <sys/types.h>

#define FED_REGIONS_MAX 4
#define FED_REAL_MAX 4

typedef struct fed_region {
    char name[16];    /* region1 ... (its name on the central's list) */
    char dir[96];     /* its keys, allow-list, state, stores */
    char endpoint[64];
    char conf[128], log[128], sim_log[128];
    char client_log[FED_REAL_MAX][128];
    int real;         /* its stores are real fedrec-client stores */
    int n_stores;
    int first;        /* simulated: number of its first store */
    pid_t agg, sim, client[FED_REAL_MAX];
} fed_region;

typedef struct fed {
    char dir[64], endpoint[64], conf[128], log[128];
    pid_t central;
    fed_region r[FED_REGIONS_MAX];
    int n;
} fed;

/* Makes the directory (/tmp/fr-TAG-XXXXXX), the central's keys and its
 * allow-list with the n regions' keys. 0 on success. */
int fed_init(fed *f, const char *tag, int n);

/* Region i gets count simulated stores numbered first.. (keys, its
 * allow-list), or count real protected stores with generated data. */
int fed_region_sim(fed *f, int i, int first, int count);
int fed_region_real(fed *f, int i, int count, int items, int members,
                    int seed);

/* Writes the central's (regions') configuration: a base for loopback
 * tests, then extra (lines "KEY VALUE\n", may be ""). */
int fed_write_central(fed *f, int items, int dim, const char *extra);
int fed_write_region(fed *f, int i, const char *extra);

/* Starts the central, region i's aggregator, region i's stores
 * (sim_args: extra fedrec-simstores options; real stores ignore it).
 * 0 on success. */
int fed_start_central(fed *f);
int fed_start_region(fed *f, int i);
int fed_start_stores(fed *f, int i, const char *sim_args);

/* SIGKILLs whatever still runs (for teardowns); removes nothing. */
void fed_kill_all(fed *f);
/* Removes the directory (kept when FR_TEST_KEEP is set). */
void fed_remove(fed *f);

/* The weight the central logged for its n-th decoded secure sum ("weight
 * W"), or -1. */
long long fed_logged_weight(const fed *f, int n);

#endif
