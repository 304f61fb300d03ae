/*
 * fuzz_consent_import.c - `consent import FILE` (vault_consent_import) on a
 * hostile or messy consent file, imported into a real store made once in
 * LLVMFuzzerInitialize on tmpfs: members A and B with consents, KEEP\x01
 * (an id no accepted record can name: control bytes are refused) granted
 * training, and GONE erased. The store's files are put back byte for byte
 * after every input, so each input runs alone. The first byte chooses the
 * member-id policy (bit 0: legacy / recommended); the rest is the file.
 *
 * Properties: a refused file leaves vault.sealed byte for byte as it was,
 * and its message is "PATH:LINE: reason" with a reason of printable ASCII
 * (no byte of the file in it); an accepted file adds exactly the changes
 * it reports, each within the documented bounds (time in [0, now + 1 day]),
 * none for the erased member, the consent of a member it does not name
 * (KEEP\x01) is unchanged, any member whose state changed is one it names,
 * and the store reopened from disk holds the same events.
 */
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "crypto/crypto.h"
#include "fuzz.h"
#include "fuzz_file.h"
#include "vault_int.h"

#define NOW_S 1700000000
#define MAX_FILES 16

static char store[128];
static char parent[96];

typedef struct snap {
    char path[512];
    char *bytes;
    size_t len;
} snap;

static snap files[MAX_FILES];
static size_t n_files;
static uint8_t keep_pid[VAULT_PID_BYTES], gone_pid[VAULT_PID_BYTES];

static void
quiet(void *arg, fr_log_level level, const char *tag, const char *line)
{
    (void)arg;
    (void)level;
    (void)tag;
    (void)line;
}

/* Removes dir and everything under it. */
static void
rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[512];

    while (d && (e = readdir(d))) {
        struct stat st;

        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            rm_tree(p);
        else
            unlink(p);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

static void
remove_all(void)
{
    rm_tree(parent);
}

/* Keeps the bytes of every regular file at the top of the store. */
static void
snapshot(void)
{
    DIR *d = opendir(store);
    struct dirent *e;

    FR_FUZZ_CHECK(d != NULL);
    while ((e = readdir(d))) {
        struct stat st;
        snap *s = &files[n_files];

        snprintf(s->path, sizeof s->path, "%s/%s", store, e->d_name);
        if (stat(s->path, &st) || !S_ISREG(st.st_mode))
            continue;
        FR_FUZZ_CHECK(n_files < MAX_FILES);
        s->bytes = fz_read(s->path, &s->len);
        FR_FUZZ_CHECK(s->bytes != NULL);
        n_files++;
    }
    closedir(d);
}

/* Puts every kept file back and removes any other top-level file. */
static void
restore(void)
{
    DIR *d = opendir(store);
    struct dirent *e;
    char p[512];

    FR_FUZZ_CHECK(d != NULL);
    while ((e = readdir(d))) {
        struct stat st;
        size_t i = 0;

        snprintf(p, sizeof p, "%s/%s", store, e->d_name);
        if (stat(p, &st) || !S_ISREG(st.st_mode))
            continue;
        while (i < n_files && strcmp(files[i].path, p))
            i++;
        if (i == n_files)
            FR_FUZZ_CHECK(unlink(p) == 0);
    }
    closedir(d);
    for (size_t i = 0; i < n_files; i++) {
        FILE *f = fopen(files[i].path, "wb");
        FR_FUZZ_CHECK(f != NULL);
        FR_FUZZ_CHECK(fwrite(files[i].bytes, 1, files[i].len, f) ==
                      files[i].len);
        FR_FUZZ_CHECK(fclose(f) == 0);
    }
}

static vault *
open_store(void)
{
    vault *v = NULL;
    char err[512];

    FR_FUZZ_CHECK(vault_open(store, NULL, &v, err, sizeof err) == FR_OK);
    return v;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    vault_init_opts o = {.name = "store01", .connect = "tcp://127.0.0.1:1",
                         .server_key = "", .n_items = 50};
    char err[512];
    vault *v;

    (void)argc;
    (void)argv;
    if (!getenv("FR_FUZZ_LOG"))
        fr_log_set_sink(quiet, NULL);
    FR_FUZZ_CHECK(fr_crypto_init() == FR_OK);
    fz_dir_init();
    snprintf(parent, sizeof parent, "%s/s", fz_dir);
    FR_FUZZ_CHECK(mkdir(parent, 0700) == 0);
    atexit(remove_all);
    snprintf(store, sizeof store, "%s/store", parent);
    FR_FUZZ_CHECK(vault_init(store, &o, NULL, err, sizeof err) == FR_OK);
    v = open_store();
    FR_FUZZ_CHECK(vault_consent_set(v, "A", VAULT_TRAINING, 1, 10) == FR_OK);
    FR_FUZZ_CHECK(vault_consent_set(v, "B", VAULT_MARKETING, 1, 11) == FR_OK);
    FR_FUZZ_CHECK(vault_consent_set(v, "B", VAULT_TRAINING, 0, 12) == FR_OK);
    FR_FUZZ_CHECK(vault_consent_set(v, "KEEP\x01", VAULT_TRAINING, 1, 13) ==
                  FR_OK);
    FR_FUZZ_CHECK(vault_consent_set(v, "GONE", VAULT_TRAINING, 1, 14) ==
                  FR_OK);
    FR_FUZZ_CHECK(vault_forget(v, "GONE", 15) == FR_OK);
    vault_pid_of(v, "KEEP\x01", keep_pid);
    vault_pid_of(v, "GONE", gone_pid);
    vault_close(&v);
    snapshot();
    return 0;
}

/* "PATH:LINE: reason", the reason printable ASCII. */
static void
check_refusal(const char *path, const char *err)
{
    size_t pl = strlen(path);
    const char *r;

    FR_FUZZ_CHECK(strncmp(err, path, pl) == 0 && err[pl] == ':');
    r = err + pl + 1;
    FR_FUZZ_CHECK(*r >= '1' && *r <= '9');
    while (*r >= '0' && *r <= '9')
        r++;
    FR_FUZZ_CHECK(r[0] == ':' && r[1] == ' ' && r[2] != '\0');
    for (r += 2; *r; r++)
        FR_FUZZ_CHECK(*r >= 0x20 && *r < 0x7F);
}

static bool
named(const vault *v, size_t from, const uint8_t *pid)
{
    for (size_t i = from; i < v->n_evts; i++)
        if (!memcmp(v->evts[i].pid, pid, VAULT_PID_BYTES))
            return true;
    return false;
}

/* What an accepted file may have done to v, which held n_before events
 * (state[] the consents of those events' members before). */
static void
check_accepted(vault *v, size_t n_before, const bool *state, size_t n)
{
    vault *w;

    FR_FUZZ_CHECK(v->n_evts == n_before + n);
    for (size_t i = n_before; i < v->n_evts; i++) {
        const evt *e = &v->evts[i];
        FR_FUZZ_CHECK(e->ts >= 0 && e->ts <= NOW_S + 86400);
        FR_FUZZ_CHECK(e->purpose < VAULT_PURPOSES && e->granted <= 1);
        FR_FUZZ_CHECK(memcmp(e->pid, gone_pid, VAULT_PID_BYTES) != 0);
    }
    FR_FUZZ_CHECK(!named(v, n_before, keep_pid));
    FR_FUZZ_CHECK(vault_granted(v, keep_pid, VAULT_TRAINING));
    for (size_t i = 0; i < n_before; i++)
        for (int p = 0; p < VAULT_PURPOSES; p++)
            if (vault_granted(v, v->evts[i].pid, (vault_purpose)p) !=
                state[2 * i + (size_t)p])
                FR_FUZZ_CHECK(named(v, n_before, v->evts[i].pid));
    w = open_store();
    FR_FUZZ_CHECK(w->n_evts == v->n_evts);
    for (size_t i = 0; i < v->n_evts; i++) {
        const evt *a = &v->evts[i], *b = &w->evts[i];
        FR_FUZZ_CHECK(!memcmp(a->pid, b->pid, VAULT_PID_BYTES) &&
                      a->purpose == b->purpose && a->granted == b->granted &&
                      a->ts == b->ts);
    }
    vault_close(&w);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[128], err[1024] = "", sealed[192];
    bool state[64];
    size_t n = 0, n_before, was_len = 0, now_len = 0;
    char *was, *now;
    vault *v;
    fr_err rc;

    if (size < 1)
        return 0;
    fz_write("consent.csv", data + 1, size - 1, path, sizeof path);
    snprintf(sealed, sizeof sealed, "%s/vault.sealed", store);
    was = fz_read(sealed, &was_len);
    FR_FUZZ_CHECK(was != NULL);
    v = open_store();
    if (data[0] & 1)
        vault_set_member_policy(v, &vault_policy_recommended);
    n_before = v->n_evts;
    FR_FUZZ_CHECK(2 * n_before <= FR_ARRAY_LEN(state));
    for (size_t i = 0; i < n_before; i++)
        for (int p = 0; p < VAULT_PURPOSES; p++)
            state[2 * i + (size_t)p] =
                vault_granted(v, v->evts[i].pid, (vault_purpose)p);
    rc = vault_consent_import(v, path, NOW_S, &n, err, sizeof err);
    if (rc == FR_OK) {
        check_accepted(v, n_before, state, n);
    } else {
        FR_FUZZ_CHECK(rc == FR_EINVAL);
        check_refusal(path, err);
        FR_FUZZ_CHECK(v->n_evts == n_before);
        vault_close(&v);
        v = open_store();
        FR_FUZZ_CHECK(v->n_evts == n_before);
        now = fz_read(sealed, &now_len);
        FR_FUZZ_CHECK(now != NULL && now_len == was_len &&
                      !memcmp(now, was, was_len));
        free(now);
    }
    vault_close(&v);
    free(was);
    restore();
    return 0;
}
