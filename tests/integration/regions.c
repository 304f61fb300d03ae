/*
 * regions.c - a federation of regions for the black-box tests (regions.h).
 */
#include "regions.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"

int
fed_init(fed *f, const char *tag, int n)
{
    char base[sizeof f->dir];

    memset(f, 0, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/fr-%s-XXXXXX", tag);
    if (!mkdtemp(f->dir) || n < 1 || n > FED_REGIONS_MAX)
        return -1;
    f->n = n;
    snprintf(f->endpoint, sizeof f->endpoint, "tcp://127.0.0.1:%d",
             proc_free_port());
    snprintf(f->conf, sizeof f->conf, "%s/central.conf", f->dir);
    snprintf(f->log, sizeof f->log, "%s/central.log", f->dir);
    if (proc_runf(FR_BIN_DIR "/fedrec-keygen --name central --dir %s/keys "
                  ">/dev/null 2>&1", f->dir))
        return -1;
    memcpy(base, f->dir, sizeof base);
    for (int i = 0; i < n; i++) {
        fed_region *r = &f->r[i];
        char dir[sizeof r->dir], name[sizeof r->name];
        /* built in locals: gcc -Wrestrict takes fields of one struct for
         * overlapping objects */
        snprintf(name, sizeof name, "region%d", i + 1);
        snprintf(dir, sizeof dir, "%s/%s", base, name);
        memcpy(r->name, name, sizeof name);
        memcpy(r->dir, dir, sizeof dir);
        snprintf(r->endpoint, sizeof r->endpoint, "tcp://127.0.0.1:%d",
                 proc_free_port());
        snprintf(r->conf, sizeof r->conf, "%s/regional.conf", dir);
        snprintf(r->log, sizeof r->log, "%s/regional.log", dir);
        snprintf(r->sim_log, sizeof r->sim_log, "%s/simstores.log", dir);
        /* the region's key for the upstream link: a store's line on the
         * central's allow-list */
        if (proc_runf("mkdir -p %s && " FR_BIN_DIR "/fedrec-keygen --name %s "
                      "--dir %s/keys >>%s/allowlist 2>/dev/null",
                      r->dir, r->name, f->dir, f->dir))
            return -1;
    }
    return 0;
}

int
fed_region_sim(fed *f, int i, int first, int count)
{
    fed_region *r = &f->r[i];

    r->first = first;
    r->n_stores = count;
    if (proc_runf(FR_BIN_DIR "/fedrec-keygen --name aggregator --dir %s/keys "
                  ">/dev/null 2>&1", r->dir))
        return -1;
    for (int k = first; k < first + count; k++)
        if (proc_runf(FR_BIN_DIR "/fedrec-keygen --name s%04d --dir %s/keys "
                      ">>%s/allowlist 2>/dev/null", k, r->dir, r->dir))
            return -1;
    return 0;
}

int
fed_region_real(fed *f, int i, int count, int items, int members, int seed)
{
    fed_region *r = &f->r[i];

    if (count > FED_REAL_MAX)
        return -1;
    char dir[sizeof r->dir];

    memcpy(dir, r->dir, sizeof dir);
    r->real = 1;
    r->n_stores = count;
    for (int k = 0; k < count; k++)
        snprintf(r->client_log[k], sizeof r->client_log[k], "%s/store%02d.log",
                 dir, k + 1);
    return proc_make_stores(FR_BIN_DIR, r->dir, count, items, members, seed,
                            r->endpoint);
}

static int
write_file(const char *path, const char *base, const char *extra)
{
    FILE *c = fopen(path, "w");

    if (!c)
        return -1;
    fputs(base, c);
    fputs(extra ? extra : "", c);
    return fclose(c) == 0 ? 0 : -1;
}

int
fed_write_central(fed *f, int items, int dim, const char *extra)
{
    char base[2048];

    snprintf(base, sizeof base,
             "listen %s\nkey_file %s/keys/central.key\n"
             "allowlist %s/allowlist\nstate_dir %s/central\n"
             "http_listen 127.0.0.1:0\nn_items %d\ndim %d\n"
             "min_stores 3\nstart_delay_ms 1000\nheartbeat_timeout_ms 2000\n"
             "retry_delay_ms 300\nround_timeout_ms 20000\n"
             "secagg_phase_timeout_ms 2000\nsecagg_max_dropout 0\n"
             "log_format human\n",
             f->endpoint, f->dir, f->dir, f->dir, items, dim);
    return write_file(f->conf, base, extra);
}

int
fed_write_region(fed *f, int i, const char *extra)
{
    const fed_region *r = &f->r[i];
    char base[2048];

    snprintf(base, sizeof base,
             "mode regional\nupstream %s\nupstream_server_key %s/keys/"
             "central.pub\nupstream_key_file %s/keys/%s.key\n"
             "listen %s\nkey_file %s/keys/aggregator.key\n"
             "allowlist %s/allowlist\nstate_dir %s/state\n"
             "http_listen 127.0.0.1:0\nmin_stores 3\n"
             "heartbeat_timeout_ms 2000\nsecagg_phase_timeout_ms 1000\n"
             "secagg_max_dropout 0\nupstream_heartbeat_ms 200\n"
             "log_format human\n",
             f->endpoint, f->dir, f->dir, r->name, r->endpoint, r->dir,
             r->dir, r->dir);
    return write_file(r->conf, base, extra);
}

int
fed_start_central(fed *f)
{
    char *argv[] = {FR_BIN_DIR "/fedrec-aggregator", "--config", f->conf,
                    NULL};

    f->central = proc_start(argv, f->log);
    return f->central > 0 ? 0 : -1;
}

int
fed_start_region(fed *f, int i)
{
    fed_region *r = &f->r[i];
    char *argv[] = {FR_BIN_DIR "/fedrec-aggregator", "--config", r->conf,
                    NULL};

    r->agg = proc_start(argv, r->log);
    return r->agg > 0 ? 0 : -1;
}

/* Splits a copy of args at spaces into argv[n..]; returns the new n. */
static int
split_args(char *copy, char **argv, int n, int cap)
{
    for (char *save = NULL, *t = strtok_r(copy, " ", &save); t && n < cap;
         t = strtok_r(NULL, " ", &save))
        argv[n++] = t;
    return n;
}

static int
start_sim(fed_region *r, const char *sim_args)
{
    char connect[96], key[160], dir[128], first[32], count[32];
    char copy[512];
    char *argv[32] = {FR_BIN_DIR "/fedrec-simstores", connect, key, dir,
                      "--prefix=s", first, count, "--heartbeat_ms=200"};
    int n = 8;

    snprintf(connect, sizeof connect, "--connect=%s", r->endpoint);
    snprintf(key, sizeof key, "--server_key=%s/keys/aggregator.pub", r->dir);
    snprintf(dir, sizeof dir, "--key_dir=%s/keys", r->dir);
    snprintf(first, sizeof first, "--first=%d", r->first);
    snprintf(count, sizeof count, "--count=%d", r->n_stores);
    snprintf(copy, sizeof copy, "%s", sim_args ? sim_args : "");
    n = split_args(copy, argv, n, 31);
    argv[n] = NULL;
    r->sim = proc_start(argv, r->sim_log);
    return r->sim > 0 ? 0 : -1;
}

int
fed_start_stores(fed *f, int i, const char *sim_args)
{
    fed_region *r = &f->r[i];
    char store[160];

    if (!r->real)
        return start_sim(r, sim_args);
    for (int k = 0; k < r->n_stores; k++) {
        char *argv[] = {FR_BIN_DIR "/fedrec-client", "run", store,
                        "--heartbeat_ms=200", NULL};
        snprintf(store, sizeof store, "--store=%s/st-store%02d", r->dir,
                 k + 1);
        r->client[k] = proc_start(argv, r->client_log[k]);
        if (r->client[k] <= 0)
            return -1;
    }
    return 0;
}

static void
kill_one(pid_t *p)
{
    if (*p > 0)
        proc_stop(*p, SIGKILL, 5000);
    *p = 0;
}

void
fed_kill_all(fed *f)
{
    for (int i = 0; i < f->n; i++) {
        for (int k = 0; k < FED_REAL_MAX; k++)
            kill_one(&f->r[i].client[k]);
        kill_one(&f->r[i].sim);
        kill_one(&f->r[i].agg);
    }
    kill_one(&f->central);
}

void
fed_remove(fed *f)
{
    if (getenv("FR_TEST_KEEP")) /* to read the logs of a failed run */
        fprintf(stderr, "kept %s\n", f->dir);
    else if (f->dir[0])
        proc_runf("rm -rf %s", f->dir);
}

long long
fed_logged_weight(const fed *f, int n)
{
    char line[1024];
    const char *w;

    if (!proc_find_line(f->log, "decoded (weight ", n, line, sizeof line) ||
        !(w = strstr(line, "decoded (weight ")))
        return -1;
    return atoll(w + strlen("decoded (weight "));
}
