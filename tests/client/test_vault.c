/*
 * test_vault.c - the protected store: minimising import, pseudonyms that
 * leave no raw id on disk, consent per purpose (a member without training
 * consent leaves the update bit-identical), erasure that sticks across
 * re-imports, retention, access export, tamper detection on every sealed
 * file, the audit trail (round events beside changes from other handles
 * and processes), crash safety under SIGKILL; the v1 -> v2 upgrade of
 * vault.sealed, netting of returns, dry runs, rows outside the item mapping
 * and the member-id policy at every door.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "crypto/crypto.h"
#include "crypto/seal.h"
#include "model/mf.h"
#include "model/model.h"
#include "store.h"
#include "vault.h"

#define ITEMS 50

typedef struct fixture {
    char dir[64];
    char store[96];
    char csv[128];
} fixture;

static void
write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int
setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    vault_init_opts o = {.name = "store01", .connect = "tcp://127.0.0.1:1",
                         .server_key = "", .n_items = ITEMS};
    char err[512];

    snprintf(fx->dir, sizeof fx->dir, "/tmp/fr-vault-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(fx->store, sizeof fx->store, "%s/store", fx->dir);
    snprintf(fx->csv, sizeof fx->csv, "%s/export.csv", fx->dir);
    assert_int_equal(vault_init(fx->store, &o, NULL, err, sizeof err), FR_OK);
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    fixture *fx = *state;
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", fx->dir);
    assert_int_equal(system(cmd), 0);
    free(fx);
    return 0;
}

static vault *
open_ok(const fixture *fx)
{
    vault *v = NULL;
    char err[512];
    assert_int_equal(vault_open(fx->store, NULL, &v, err, sizeof err), FR_OK);
    return v;
}

/* A point-of-sale export with identifying columns the store must drop. */
static const char *export_csv =
    "member_id,name,email,item_id,timestamp,phone,quantity\n"
    "M-ALICE-0001,Alice Wonder,alice@example.com,3,1700000000,0912345678,1\n"
    "M-ALICE-0001,Alice Wonder,alice@example.com,7,1700000100,0912345678,2\n"
    "M-BOB-0002,\"Bob, Jr.\",bob@example.com,3,1700000200,0922222222,1\n"
    "M-BOB-0002,\"Bob, Jr.\",bob@example.com,9,1700000300,0922222222,1\n"
    "M-CAROL-003,Carol King,carol@example.com,11,1700000400,0933333333,1\n"
    "M-CAROL-003,Carol King,carol@example.com,12,1700000500,0933333333,1\n";

static const vault_import_opts legacy_opts = {.n_items = ITEMS,
                                              .now_s = 1800000000};

static void
import_ok(vault *v, const fixture *fx, vault_import_report *r)
{
    char err[2048];
    FILE *devnull = fopen("/dev/null", "w");
    assert_int_equal(vault_import(v, fx->csv, &legacy_opts, r, devnull, err,
                                  sizeof err),
                     FR_OK);
    fclose(devnull);
}

/* Non-zero if needle occurs in any file under dir. */
static int
found_in_dir(const char *dir, const char *needle)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int hit = 0;

    assert_non_null(d);
    while (!hit && (e = readdir(d))) {
        char p[600];
        struct stat st;
        if (e->d_name[0] == '.' && (!e->d_name[1] || e->d_name[1] == '.'))
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (stat(p, &st))
            continue;
        if (S_ISDIR(st.st_mode)) {
            hit = found_in_dir(p, needle);
        } else {
            FILE *f = fopen(p, "rb");
            char *buf = malloc((size_t)st.st_size + 1);
            size_t n = f ? fread(buf, 1, (size_t)st.st_size, f) : 0;
            buf[n] = 0;
            for (size_t i = 0; !hit && i + strlen(needle) <= n; i++)
                hit = !memcmp(buf + i, needle, strlen(needle));
            free(buf);
            if (f)
                fclose(f);
        }
    }
    closedir(d);
    return hit;
}

static void
test_nothing_in_clear(void **state)
{
    fixture *fx = *state;
    vault_import_report r;
    vault *v;

    write_file(fx->csv, export_csv);
    v = open_ok(fx);
    import_ok(v, fx, &r);
    assert_int_equal(r.rows_read, 6);
    assert_int_equal(r.rows_added, 6);
    assert_int_equal(r.members_new, 3);
    assert_int_equal(vault_consent_set(v, "M-ALICE-0001", VAULT_TRAINING, 1,
                                       1700000000),
                     FR_OK);
    vault_close(&v);
    unlink(fx->csv); /* the operator's export is not the store's */
    /* Member ids, names, e-mails, phones, the item sequence: nowhere. */
    assert_false(found_in_dir(fx->store, "M-ALICE"));
    assert_false(found_in_dir(fx->store, "M-BOB"));
    assert_false(found_in_dir(fx->store, "Alice"));
    assert_false(found_in_dir(fx->store, "alice@example.com"));
    assert_false(found_in_dir(fx->store, "0912345678"));
    assert_false(found_in_dir(fx->store, "1700000100"));
    /* ... while the data is really there. */
    v = open_ok(fx);
    {
        char pid[VAULT_PID_CHARS + 1];
        vault_pseudonym(v, "M-ALICE-0001", pid);
        assert_true(vault_consents(v, pid, VAULT_TRAINING));
        assert_false(vault_consents(v, pid, VAULT_MARKETING));
        vault_pseudonym(v, "M-BOB-0002", pid);
        assert_false(vault_consents(v, pid, VAULT_TRAINING));
        /* Pseudonyms are hex, and not the id. */
        assert_int_equal(strlen(pid), VAULT_PID_CHARS);
        assert_null(strstr(pid, "BOB"));
    }
    vault_close(&v);
}

typedef struct collect {
    store_data *d;
} collect;

static fr_err
add_row(void *ctx, const char *pid, uint32_t item, int64_t ts)
{
    return store_data_add(((collect *)ctx)->d, pid, item, ts);
}

/* One local training step on the training-consented data; the delta. */
static float *
train_delta(vault *v, size_t *n_out)
{
    collect c = {0};
    fr_model *m = NULL, *before = NULL;
    fr_mf *mf = NULL;
    fr_mf_opts o;
    float *delta;
    size_t n;

    assert_int_equal(store_data_new(ITEMS, &c.d), FR_OK);
    assert_int_equal(vault_each(v, VAULT_TRAINING, NULL, ITEMS, add_row, &c),
                     FR_OK);
    assert_int_equal(store_data_finish(c.d), FR_OK);
    assert_int_equal(fr_model_new(&m, ITEMS, 8), FR_OK);
    fr_model_init_random(m, 5, 0.1f);
    assert_int_equal(fr_model_dup(m, &before), FR_OK);
    assert_int_equal(fr_mf_new_holdout(&mf, store_data_dataset(c.d), 8, 3,
                                       FR_MF_HOLDOUT_NONE),
                     FR_OK);
    fr_mf_opts_default(&o);
    o.epochs = 2;
    o.seed = 9;
    assert_int_equal(fr_mf_train(mf, m, &o, NULL), FR_OK);
    n = fr_model_n_params(m);
    delta = malloc(n * sizeof *delta);
    for (size_t i = 0; i < n; i++)
        delta[i] = fr_model_params_const(m)[i] -
                   fr_model_params_const(before)[i];
    fr_mf_destroy(&mf);
    fr_model_destroy(&m);
    fr_model_destroy(&before);
    store_data_destroy(&c.d);
    *n_out = n;
    return delta;
}

static void
test_training_consent_update_bit_identical(void **state)
{
    fixture *fx = *state;
    vault_import_report r;
    vault *v;
    float *with, *without;
    size_t n1, n2;
    int differs = 0;

    write_file(fx->csv, export_csv);
    v = open_ok(fx);
    import_ok(v, fx, &r);
    assert_int_equal(vault_consent_set(v, "M-ALICE-0001", VAULT_TRAINING, 1,
                                       1), FR_OK);
    assert_int_equal(vault_consent_set(v, "M-CAROL-003", VAULT_TRAINING, 1,
                                       1), FR_OK);
    /* Bob's rows are present but he has not consented to training. */
    with = train_delta(v, &n1);
    /* Bob gone entirely. */
    assert_int_equal(vault_forget(v, "M-BOB-0002", 2), FR_OK);
    without = train_delta(v, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(with, without, n1 * sizeof *with);
    free(without);
    /* And consent does matter: Carol withdrawing changes the update. */
    assert_int_equal(vault_consent_set(v, "M-CAROL-003", VAULT_TRAINING, 0,
                                       3), FR_OK);
    without = train_delta(v, &n2);
    for (size_t i = 0; i < n1; i++)
        differs |= with[i] != without[i];
    assert_true(differs);
    free(with);
    free(without);
    vault_close(&v);
}

static void
test_forget_sticks_and_reimport_is_reported(void **state)
{
    fixture *fx = *state;
    vault_import_report r;
    vault *v;
    char pid[VAULT_PID_CHARS + 1];
    FILE *out;
    char *buf = NULL;
    size_t len = 0;

    write_file(fx->csv, export_csv);
    v = open_ok(fx);
    import_ok(v, fx, &r);
    assert_int_equal(vault_consent_set(v, "M-BOB-0002", VAULT_MARKETING, 1,
                                       5), FR_OK);
    /* Access: everything about Bob, as JSON. */
    out = open_memstream(&buf, &len);
    assert_int_equal(vault_export_member(v, "M-BOB-0002", 0, out), FR_OK);
    fclose(out);
    assert_non_null(strstr(buf, "\"item_id\": 9"));
    assert_non_null(strstr(buf, "\"marketing\": {\"granted\": true"));
    assert_non_null(strstr(buf, "\"action\": \"grant\", \"timestamp\": 5"));
    assert_null(strstr(buf, "M-BOB")); /* the export names the pseudonym */
    free(buf);
    /* Erasure. */
    assert_int_equal(vault_forget(v, "M-BOB-0002", 6), FR_OK);
    assert_int_equal(vault_forget(v, "M-BOB-0002", 7), FR_ESTATE);
    assert_int_equal(vault_forget(v, "M-NOBODY", 7), FR_ENOENT);
    out = fopen("/dev/null", "w");
    assert_int_equal(vault_export_member(v, "M-BOB-0002", 0, out), FR_ENOENT);
    fclose(out);
    /* Re-importing the old export does not bring Bob back, and says so. */
    import_ok(v, fx, &r);
    assert_int_equal(r.rows_forgotten, 2);
    assert_int_equal(r.members_forgotten, 1);
    assert_int_equal(r.rows_added, 0);
    assert_int_equal(r.rows_duplicate, 4);
    vault_pseudonym(v, "M-BOB-0002", pid);
    assert_false(vault_consents(v, pid, VAULT_MARKETING));
    assert_int_equal(vault_consent_set(v, "M-BOB-0002", VAULT_TRAINING, 1, 8),
                     FR_ESTATE);
    vault_close(&v);
}

static void
test_retention(void **state)
{
    fixture *fx = *state;
    vault_import_report r;
    vault *v;
    size_t removed = 0;

    write_file(fx->csv, export_csv);
    v = open_ok(fx);
    import_ok(v, fx, &r);
    /* At 1700000450 + 1 day, keeping 1 day drops the rows before
     * 1700000450: all but Carol's second one. */
    assert_int_equal(vault_purge(v, 1700000450 + 86400, 1, &removed), FR_OK);
    assert_int_equal(removed, 5);
    assert_int_equal(vault_purge(v, 1700000450 + 86400, 0, &removed), FR_OK);
    assert_int_equal(removed, 0);
    vault_close(&v);
}

static void
test_import_all_or_nothing(void **state)
{
    fixture *fx = *state;
    vault *v;
    vault_import_report r;
    char err[2048];

    write_file(fx->csv, export_csv);
    v = open_ok(fx);
    import_ok(v, fx, &r);
    write_file(fx->csv, "member_id,item_id,timestamp\n"
                        "M-DAVE,1,1700000000\n"
                        "M-DAVE,2,17000x0000\n");
    assert_int_equal(vault_import(v, fx->csv, &legacy_opts, &r, NULL, err,
                                  sizeof err),
                     FR_EINVAL);
    assert_non_null(strstr(err, ":3:"));
    vault_close(&v);
    v = open_ok(fx);
    {
        char pid[VAULT_PID_CHARS + 1];
        FILE *out = fopen("/dev/null", "w");
        vault_pseudonym(v, "M-DAVE", pid);
        assert_int_equal(vault_export_member(v, "M-DAVE", 0, out), FR_ENOENT);
        fclose(out);
    }
    vault_close(&v);
}

static void
flip_byte(const char *path, long at)
{
    FILE *f = fopen(path, "r+b");
    int c;
    assert_non_null(f);
    if (at < 0) {
        fseek(f, 0, SEEK_END);
        at = ftell(f) + at;
    }
    fseek(f, at, SEEK_SET);
    c = fgetc(f);
    fseek(f, at, SEEK_SET);
    fputc(c ^ 0x01, f);
    fclose(f);
}

static void
test_tamper_detected(void **state)
{
    fixture *fx = *state;
    const char *files[] = {"vault.sealed", "pseudonym.sealed", "data.key"};
    char p[256], saved[300], err[512], cmd[700];
    vault *v;

    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        for (long at = 0; at < 3; at++) {
            long pos = at == 0 ? 6 : at == 1 ? 40 : -1;
            snprintf(p, sizeof p, "%s/%s", fx->store, files[i]);
            snprintf(saved, sizeof saved, "%s.orig", p);
            snprintf(cmd, sizeof cmd, "cp -p %s %s", p, saved);
            assert_int_equal(system(cmd), 0);
            flip_byte(p, i == 2 ? (at == 2 ? 0 : pos) : pos);
            v = NULL;
            err[0] = 0;
            assert_int_not_equal(vault_open(fx->store, NULL, &v, err,
                                            sizeof err),
                                 FR_OK);
            assert_null(v);
            assert_true(strlen(err) > 0);
            rename(saved, p);
        }
    }
    /* A data key readable by others is refused. */
    snprintf(p, sizeof p, "%s/data.key", fx->store);
    chmod(p, 0644);
    assert_int_equal(vault_open(fx->store, NULL, &v, err, sizeof err),
                     FR_EAUTH);
    assert_non_null(strstr(err, "readable by others"));
    chmod(p, 0600);
    v = open_ok(fx);
    vault_close(&v);
}

static void
test_audit_trail(void **state)
{
    fixture *fx = *state;
    vault_import_report r;
    vault *v;
    uint64_t n = 0;
    char err[512], p[256];

    write_file(fx->csv, export_csv);
    v = open_ok(fx);
    import_ok(v, fx, &r);
    assert_int_equal(vault_consent_set(v, "M-ALICE-0001", VAULT_MARKETING, 1,
                                       1), FR_OK);
    assert_int_equal(vault_forget(v, "M-CAROL-003", 2), FR_OK);
    assert_int_equal(vault_audit_verify(v, &n, err, sizeof err), FR_OK);
    assert_int_equal(n, 4); /* init, import, consent, erase */
    vault_close(&v);
    snprintf(p, sizeof p, "%s/audit.log", fx->store);
    assert_false(found_in_dir(fx->store, "M-ALICE"));
    flip_byte(p, 30);
    v = open_ok(fx);
    assert_int_not_equal(vault_audit_verify(v, &n, err, sizeof err), FR_OK);
    assert_true(strlen(err) > 0);
    vault_close(&v);
}

/* A round event (vault_audit, what cstate_audit calls) goes through the
 * audit trail alone: it neither waits for the member data's lock nor
 * rewrites vault.sealed, and interleaved with changes made through another
 * handle, or another process, the chain neither loses nor forks entries. */
static void
test_round_events_beside_changes(void **state)
{
    fixture *fx = *state;
    vault_import_report r;
    vault *daemon, *admin;
    struct stat before, after;
    uint64_t n = 0;
    char err[512], p[256];
    int changed = 0, fd, status = 0;
    pid_t child;

    write_file(fx->csv, export_csv);
    daemon = open_ok(fx);
    admin = open_ok(fx);
    import_ok(admin, fx, &r);
    assert_int_equal(vault_audit(daemon, "round", "round 1 done"), FR_OK);
    assert_int_equal(vault_consent_set(admin, "M-ALICE-0001", VAULT_TRAINING,
                                       1, 10), FR_OK);
    assert_int_equal(vault_audit(daemon, "round", "round 2 done"), FR_OK);
    /* With the member data locked by someone else, a round event still
     * goes through and leaves vault.sealed as it was. */
    snprintf(p, sizeof p, "%s/.lock", fx->store);
    fd = open(p, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX), 0);
    snprintf(p, sizeof p, "%s/vault.sealed", fx->store);
    assert_int_equal(stat(p, &before), 0);
    alarm(30); /* a round event that waited for .lock would hang here */
    assert_int_equal(vault_audit(daemon, "round", "round 3 done"), FR_OK);
    alarm(0);
    assert_int_equal(stat(p, &after), 0);
    assert_int_equal(before.st_ino, after.st_ino);
    assert_int_equal(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);
    assert_int_equal(flock(fd, LOCK_UN), 0);
    close(fd);
    assert_int_equal(vault_forget(admin, "M-CAROL-003", 11), FR_OK);
    /* The daemon's member data is the consent change's, once re-read. */
    assert_int_equal(vault_reload(daemon, &changed), FR_OK);
    assert_int_equal(changed, 1);
    {
        char pid[VAULT_PID_CHARS + 1];
        vault_pseudonym(daemon, "M-ALICE-0001", pid);
        assert_true(vault_consents(daemon, pid, VAULT_TRAINING));
    }
    /* init, import, round, consent, round, round, erase */
    assert_int_equal(vault_audit_verify(daemon, &n, err, sizeof err), FR_OK);
    assert_int_equal(n, 7);
    /* Two processes at once: rounds in one, consent changes in the other. */
    child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        vault *cv = NULL;
        if (vault_open(fx->store, NULL, &cv, err, sizeof err))
            _exit(3);
        for (int i = 0; i < 40; i++)
            if (vault_audit(cv, "round", "round done"))
                _exit(4);
        vault_close(&cv);
        _exit(0);
    }
    for (int i = 0; i < 20; i++)
        assert_int_equal(vault_consent_set(admin, "M-BOB-0002",
                                           VAULT_MARKETING, i & 1, 20 + i),
                         FR_OK);
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(vault_audit_verify(admin, &n, err, sizeof err), FR_OK);
    assert_int_equal(n, 7 + 40 + 20);
    assert_int_equal(vault_audit_verify(daemon, &n, err, sizeof err), FR_OK);
    assert_int_equal(n, 7 + 40 + 20);
    vault_close(&daemon);
    vault_close(&admin);
}

/* SIGKILL at random moments of an import: the store always opens, with the
 * old or the new content. */
static void
test_crash_safety(void **state)
{
    fixture *fx = *state;
    char big[128];
    FILE *f;
    srand(12345);

    snprintf(big, sizeof big, "%s/big.csv", fx->dir);
    f = fopen(big, "w");
    assert_non_null(f);
    fprintf(f, "member_id,item_id,timestamp\n");
    for (int i = 0; i < 40000; i++)
        fprintf(f, "M%05d,%d,%d\n", i % 3000, i % ITEMS, 1600000000 + i);
    fclose(f);
    for (int round = 0; round < 12; round++) {
        pid_t child = fork();
        vault *v;
        FILE *out;
        char *buf = NULL;
        size_t len = 0;
        if (child == 0) {
            vault *cv = NULL;
            char err[1024];
            vault_import_report r;
            if (vault_open(fx->store, NULL, &cv, err, sizeof err))
                _exit(3);
            for (;;)
                if (vault_import(cv, big, &legacy_opts, &r, NULL, err,
                                 sizeof err) ||
                    vault_forget(cv, "M00001", 1) ||
                    vault_consent_set(cv, "M00002", VAULT_TRAINING,
                                      round & 1, 2))
                    _exit(4);
        }
        usleep((useconds_t)(20000 + rand() % 200000));
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        v = open_ok(fx);
        /* Either import state: a member is fully there or not at all. */
        out = open_memstream(&buf, &len);
        {
            fr_err e = vault_export_member(v, "M00005", -1, out);
            assert_true(e == FR_OK || e == FR_ENOENT);
        }
        fclose(out);
        free(buf);
        vault_close(&v);
    }
}

/* SIGKILL while training results are being saved (the embeddings and the
 * model, written after every round): the last complete blob is always
 * there and opens. */
static void
test_crash_safety_blobs(void **state)
{
    fixture *fx = *state;
    srand(777);

    for (int round = 0; round < 12; round++) {
        pid_t child = fork();
        vault *v;
        uint8_t *buf = NULL;
        size_t len = 0;
        if (child == 0) {
            vault *cv = NULL;
            char err[1024];
            static uint8_t blob[3u << 20];
            if (vault_open(fx->store, NULL, &cv, err, sizeof err))
                _exit(3);
            for (uint32_t k = 0;; k++) {
                memset(blob, (int)(k & 0xff), sizeof blob);
                if (vault_blob_write(cv, "members", blob, sizeof blob) ||
                    vault_blob_write(cv, "model", blob, sizeof blob / 2))
                    _exit(4);
            }
        }
        usleep((useconds_t)(10000 + rand() % 150000));
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        v = open_ok(fx);
        if (vault_blob_read(v, "members", &buf, &len) == FR_OK) {
            assert_int_equal(len, 3u << 20);
            for (size_t i = 1; i < len; i++)
                assert_int_equal(buf[i], buf[0]); /* one whole write */
            free(buf);
        }
        vault_close(&v);
    }
}


/* ---- vault.sealed built by hand, from the layout in client/vault.c ---- */

typedef struct bytes {
    uint8_t b[4096];
    size_t n;
} bytes;

static void
put(bytes *b, const void *p, size_t n)
{
    assert_true(b->n + n <= sizeof b->b);
    memcpy(b->b + b->n, p, n);
    b->n += n;
}

static void
put32(bytes *b, uint32_t x)
{
    uint8_t t[4];
    fr_put_u32le(t, x);
    put(b, t, 4);
}

static void
put64(bytes *b, uint64_t x)
{
    uint8_t t[8];
    fr_put_u64le(t, x);
    put(b, t, 8);
}

/* "FRVT" u32 version u64 change_counter u32 name_len name */
static void
put_head(bytes *b, uint32_t version, uint64_t changes)
{
    put(b, "FRVT", 4);
    put32(b, version);
    put64(b, changes);
    put32(b, 7);
    put(b, "store01", 7);
}

#define KIND_VAULT_FILE 1 /* client/vault_int.h KIND_VAULT */

static fr_seal_key *
data_key(const fixture *fx)
{
    fr_seal_key *k = NULL;
    char p[256];

    snprintf(p, sizeof p, "%s/data.key", fx->store);
    assert_int_equal(fr_seal_key_load_file(p, &k), FR_OK);
    return k;
}

/* Seals b as vault.sealed, as vault.c does. */
static void
seal_vault(const fixture *fx, const bytes *b)
{
    fr_seal_key *k = data_key(fx);
    char p[256];

    snprintf(p, sizeof p, "%s/vault.sealed", fx->store);
    assert_int_equal(fr_seal_write(k, KIND_VAULT_FILE, "vault", p, b->b, b->n),
                     FR_OK);
    fr_seal_key_destroy(&k);
}

/* The plaintext of vault.sealed (malloc'd). */
static uint8_t *
unseal_vault(const fixture *fx, size_t *len)
{
    fr_seal_key *k = data_key(fx);
    uint8_t *buf = NULL;
    char p[256];

    snprintf(p, sizeof p, "%s/vault.sealed", fx->store);
    assert_int_equal(fr_seal_read(k, KIND_VAULT_FILE, "vault", p, 1u << 30,
                                  &buf, len),
                     FR_OK);
    fr_seal_key_destroy(&k);
    return buf;
}

static void
pid_of(vault *v, const char *raw, uint8_t pid[VAULT_PID_BYTES],
       char hex[VAULT_PID_CHARS + 1])
{
    vault_pseudonym(v, raw, hex);
    for (int i = 0; i < VAULT_PID_BYTES; i++) {
        unsigned x;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &x), 1);
        pid[i] = (uint8_t)x;
    }
}

/* What vault_each delivers. */
typedef struct seen {
    char pid[16][VAULT_PID_CHARS + 1];
    uint32_t item[16];
    int64_t ts[16];
    size_t n;
} seen;

static fr_err
note_row(void *ctx, const char *pid, uint32_t item, int64_t ts)
{
    seen *s = ctx;
    assert_true(s->n < 16);
    snprintf(s->pid[s->n], sizeof s->pid[s->n], "%s", pid);
    s->item[s->n] = item;
    s->ts[s->n++] = ts;
    return FR_OK;
}

static seen
each(vault *v, vault_purpose p, uint32_t n_items)
{
    seen s = {.n = 0};
    assert_int_equal(vault_each(v, p, NULL, n_items, note_row, &s), FR_OK);
    return s;
}

static bool
has(const seen *s, const char *pid, uint32_t item, int64_t ts)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->pid[i], pid) && s->item[i] == item && s->ts[i] == ts)
            return true;
    return false;
}

static char *
export_of(vault *v, const char *raw, fr_err want)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);

    assert_int_equal(vault_export_member(v, raw, -1, out), want);
    fclose(out);
    return buf;
}

/* A version 1 file (items and whole quantities) opens as SKU "k" and
 * quantity * 1000, reads the same, and the next change writes version 2. */
static void
test_v1_upgrade(void **state)
{
    fixture *fx = *state;
    uint8_t a[VAULT_PID_BYTES], b[VAULT_PID_BYTES], pa[24];
    char ha[VAULT_PID_CHARS + 1], hb[VAULT_PID_CHARS + 1], *js;
    bytes f = {.n = 0};
    uint8_t *plain;
    size_t len;
    uint64_t n = 0;
    char err[512];
    seen s;
    vault *v = open_ok(fx);
    const struct {
        const uint8_t *pid;
        uint32_t item, qty;
        int64_t ts;
    } rows[] = {{a, 3, 2, 1700000000}, {a, 10, 1, 1700000000},
                {a, 2, 4294967295u, 1700000100}, {b, 3, 1, 1700000200}};

    pid_of(v, "M-A", a, ha);
    pid_of(v, "M-B", b, hb);
    vault_close(&v);
    put_head(&f, 1, 9);
    put64(&f, 4);
    for (size_t i = 0; i < 4; i++) {
        /* the old layout: rows sorted by pid, then time, then item */
        size_t j = memcmp(a, b, VAULT_PID_BYTES) < 0 ? i : (i + 3) % 4;
        memcpy(pa, rows[j].pid, VAULT_PID_BYTES);
        put(&f, pa, VAULT_PID_BYTES);
        put32(&f, rows[j].item);
        put32(&f, rows[j].qty);
        put64(&f, (uint64_t)rows[j].ts);
    }
    put64(&f, 0);
    put64(&f, 0);
    seal_vault(fx, &f);

    v = open_ok(fx);
    s = each(v, VAULT_PURPOSES, ITEMS);
    assert_int_equal(s.n, 4);
    assert_true(has(&s, ha, 3, 1700000000));
    assert_true(has(&s, ha, 10, 1700000000));
    assert_true(has(&s, ha, 2, 1700000100));
    assert_true(has(&s, hb, 3, 1700000200));
    js = export_of(v, "M-A", FR_OK);
    assert_non_null(strstr(js, "\"item_id\": 10, \"sku\": \"10\""));
    assert_non_null(strstr(js, "\"quantity\": 4294967295}"));
    free(js);
    /* Reading does not rewrite it ... */
    plain = unseal_vault(fx, &len);
    assert_int_equal(fr_get_u32le(plain + 4), 1);
    free(plain);
    /* ... a change does, as version 2 with its SKU table. */
    assert_int_equal(vault_consent_set(v, "M-A", VAULT_TRAINING, 1, 5), FR_OK);
    vault_close(&v);
    plain = unseal_vault(fx, &len);
    assert_int_equal(fr_get_u32le(plain + 4), 2);
    assert_int_equal(fr_get_u64le(plain + 8), 10); /* counter carried on */
    assert_int_equal(fr_get_u64le(plain + 27), 3); /* "10", "2", "3" */
    assert_memory_equal(plain + 35, "\x02\x00" "10" "\x01\x00" "2", 7);
    free(plain);
    v = open_ok(fx);
    s = each(v, VAULT_PURPOSES, ITEMS);
    assert_int_equal(s.n, 4);
    assert_true(has(&s, ha, 2, 1700000100));
    assert_true(has(&s, hb, 3, 1700000200));
    s = each(v, VAULT_TRAINING, ITEMS);
    assert_int_equal(s.n, 3);
    js = export_of(v, "M-A", FR_OK);
    assert_non_null(strstr(js, "\"quantity\": 4294967295}"));
    free(js);
    assert_int_equal(vault_audit_verify(v, &n, err, sizeof err), FR_OK);
    vault_close(&v);
}

/* A version 2 row: pid, SKU index, quantity in thousandths, time. */
static void
put_rec(bytes *f, const uint8_t *pid, uint32_t sku, int64_t qty, int64_t ts)
{
    put(f, pid, VAULT_PID_BYTES);
    put32(f, sku);
    put64(f, (uint64_t)qty);
    put64(f, (uint64_t)ts);
}

static void
put_sku(bytes *f, const char *sku)
{
    uint8_t len[2] = {(uint8_t)strlen(sku), 0};
    put(f, len, 2);
    put(f, sku, strlen(sku));
}

/* Purchases and returns of one SKU net: 3 bought and 3 returned is no
 * positive, 3 bought and 1 returned is one, at the time of the purchase;
 * a pair bought twice is one interaction, at the later purchase. */
static void
test_netting(void **state)
{
    fixture *fx = *state;
    uint8_t a[VAULT_PID_BYTES], b[VAULT_PID_BYTES];
    char ha[VAULT_PID_CHARS + 1], hb[VAULT_PID_CHARS + 1], *js;
    const uint8_t *first, *second;
    bytes f = {.n = 0};
    vault_import_report r;
    seen s;
    vault *v = open_ok(fx);

    pid_of(v, "M-A", a, ha);
    pid_of(v, "M-B", b, hb);
    vault_close(&v);
    first = memcmp(a, b, VAULT_PID_BYTES) < 0 ? a : b;
    second = first == a ? b : a;
    put_head(&f, 2, 1);
    put64(&f, 3);
    put_sku(&f, "5");
    put_sku(&f, "7");
    put_sku(&f, "85123A");
    put64(&f, 7);
    for (int pass = 0; pass < 2; pass++) {
        const uint8_t *p = pass ? second : first;
        if (p == a) {
            put_rec(&f, a, 0, 3000, 1700000000);
            put_rec(&f, a, 1, 3000, 1700000000);
            put_rec(&f, a, 2, 1000, 1700000000);
            put_rec(&f, a, 0, -3000, 1700000100);
            put_rec(&f, a, 1, -1000, 1700000200);
        } else {
            put_rec(&f, b, 0, 1000, 1700000250);
            put_rec(&f, b, 0, 1000, 1700000300);
        }
    }
    put64(&f, 0);
    put64(&f, 0);
    seal_vault(fx, &f);

    v = open_ok(fx);
    s = each(v, VAULT_PURPOSES, ITEMS);
    assert_int_equal(s.n, 2);
    assert_true(has(&s, ha, 7, 1700000000)); /* net 2, latest purchase */
    assert_true(has(&s, hb, 5, 1700000300));
    /* An import reports the pairs fully returned and the rows outside. */
    write_file(fx->csv, "member_id,item_id,timestamp\nM-C,1,1700000400\n");
    import_ok(v, fx, &r);
    assert_int_equal(r.rows_added, 1);
    assert_int_equal(r.rows_return, 0);
    assert_int_equal(r.pairs_fully_returned, 1);
    assert_int_equal(r.rows_outside_catalogue, 1);
    assert_int_equal(r.skus_outside_catalogue, 1);
    {
        char *text = NULL;
        size_t len = 0;
        FILE *out = open_memstream(&text, &len);
        vault_import_report_print(&r, out);
        fclose(out);
        assert_true(!strncmp(text, "imported 1 of 1 rows (0 duplicates, 1 "
                                   "new members)\n", 46));
        assert_non_null(strstr(text, "\nrows_return: 0\n"));
        assert_non_null(strstr(text, "\npairs_fully_returned: 1\n"));
        assert_non_null(strstr(text, "\nrows_outside_catalogue: 1\n"));
        assert_non_null(strstr(text, "\nskus_outside_catalogue: 1\n"));
        free(text);
    }
    vault_close(&v);
    /* Returns survive the rewrite. */
    v = open_ok(fx);
    s = each(v, VAULT_PURPOSES, ITEMS);
    assert_int_equal(s.n, 3);
    assert_true(has(&s, ha, 7, 1700000000));
    assert_false(has(&s, ha, 5, 1700000000));
    js = export_of(v, "M-A", FR_OK);
    assert_non_null(strstr(js, "\"sku\": \"5\", \"timestamp\": 1700000100, "
                               "\"quantity\": -3}"));
    assert_non_null(strstr(js, "\"quantity\": -1}"));
    assert_non_null(strstr(js, "{\"sku\": \"85123A\""));
    free(js);
    vault_close(&v);
}

static uint8_t *
slurp(const fixture *fx, const char *name, size_t *len)
{
    char p[256];
    FILE *f;
    uint8_t *buf;
    long n;

    snprintf(p, sizeof p, "%s/%s", fx->store, name);
    f = fopen(p, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void
assert_file_is(const fixture *fx, const char *name, const uint8_t *was,
               size_t was_len)
{
    size_t len;
    uint8_t *now = slurp(fx, name, &len);

    assert_int_equal(len, was_len);
    assert_memory_equal(now, was, len);
    free(now);
}

/* A dry run counts like an import and changes nothing: not the file, not
 * the audit trail, not what the handle reads afterwards. */
static void
test_dry_run(void **state)
{
    fixture *fx = *state;
    const char *files[] = {"vault.sealed", "audit.log", "audit_head.sealed"};
    uint8_t *was[3];
    size_t was_len[3], len = 0;
    vault_import_opts o = legacy_opts;
    vault_import_report r, real;
    char err[512], *out = NULL;
    uint64_t n = 0;
    FILE *f;
    vault *v;

    write_file(fx->csv, export_csv);
    v = open_ok(fx);
    import_ok(v, fx, &r);
    for (int i = 0; i < 3; i++)
        was[i] = slurp(fx, files[i], &was_len[i]);
    write_file(fx->csv, "member_id,item_id,timestamp\nM-DAVE,1,1700000000\n"
                        "M-DAVE,2,1700000001\n"
                        "M-ALICE-0001,3,1700000000\n");
    o.dry_run = true;
    f = open_memstream(&out, &len);
    assert_int_equal(vault_import(v, fx->csv, &o, &r, f, err, sizeof err),
                     FR_OK);
    fclose(f);
    assert_true(!strncmp(out, "dry run: nothing written\n", 25));
    free(out);
    assert_int_equal(r.rows_read, 3);
    assert_int_equal(r.rows_added, 2);
    assert_int_equal(r.rows_duplicate, 1);
    assert_int_equal(r.members_new, 1);
    for (int i = 0; i < 3; i++) {
        assert_file_is(fx, files[i], was[i], was_len[i]);
        free(was[i]);
    }
    assert_int_equal(each(v, VAULT_PURPOSES, ITEMS).n, 6);
    free(export_of(v, "M-DAVE", FR_ENOENT));
    assert_int_equal(vault_audit_verify(v, &n, err, sizeof err), FR_OK);
    assert_int_equal(n, 2); /* init, import */
    /* The real import does what the dry run said. */
    import_ok(v, fx, &real);
    assert_memory_equal(&real, &r, sizeof r);
    assert_int_equal(each(v, VAULT_PURPOSES, ITEMS).n, 8);
    /* An unknown profile is refused before anything is read. */
    o.dry_run = false;
    o.profile = "online-retail-x";
    assert_int_equal(vault_import(v, fx->csv, &o, &r, NULL, err, sizeof err),
                     FR_EINVAL);
    assert_non_null(strstr(err, "unknown profile"));
    vault_close(&v);
}

/* Rows whose SKU the mapping does not know stay in the vault, are counted,
 * and come back under a mapping that knows them. */
static void
test_outside_catalogue(void **state)
{
    fixture *fx = *state;
    vault_import_report r;
    size_t rows = 9, skus = 9;
    vault *v;

    write_file(fx->csv, export_csv);
    v = open_ok(fx);
    import_ok(v, fx, &r);
    assert_int_equal(r.rows_outside_catalogue, 0);
    /* Items 11 and 12 (Carol's) are outside a catalogue of 10 items. */
    assert_int_equal(vault_count_outside(v, NULL, 10, &rows, &skus), FR_OK);
    assert_int_equal(rows, 2);
    assert_int_equal(skus, 2);
    assert_int_equal(each(v, VAULT_PURPOSES, 10).n, 4);
    assert_int_equal(vault_consent_set(v, "M-CAROL-003", VAULT_TRAINING, 1,
                                       1), FR_OK);
    assert_int_equal(each(v, VAULT_TRAINING, 10).n, 0);
    vault_close(&v);
    v = open_ok(fx);
    assert_int_equal(vault_count_outside(v, NULL, 12, &rows, &skus), FR_OK);
    assert_int_equal(rows, 1);
    assert_int_equal(skus, 1);
    assert_int_equal(vault_count_outside(v, NULL, ITEMS, &rows, &skus),
                     FR_OK);
    assert_int_equal(rows, 0);
    assert_int_equal(skus, 0);
    assert_int_equal(each(v, VAULT_PURPOSES, ITEMS).n, 6);
    assert_int_equal(each(v, VAULT_TRAINING, ITEMS).n, 2);
    vault_close(&v);
}

static bool
same_pid(vault *v, const char *x, const char *y)
{
    char a[VAULT_PID_CHARS + 1], b[VAULT_PID_CHARS + 1];
    vault_pseudonym(v, x, a);
    vault_pseudonym(v, y, b);
    return !strcmp(a, b);
}

/* The member-id policy: with numeric yes "17850.0" and "17850" are one
 * member at every door; with the legacy policy they are two. */
static void
test_member_policy(void **state)
{
    fixture *fx = *state;
    vault_init_opts io = {.name = "store02", .n_items = ITEMS};
    vault_member_policy mp = vault_policy_recommended;
    vault_import_report r;
    char err[512], store2[128], *js;
    seen s;
    vault *v, *w = NULL;

    write_file(fx->csv, "member_id,item_id,timestamp\n17850.0,1,1700000000\n"
                        "17850,2,1700000100\n0042,3,1700000200\n");
    /* Legacy (a store.conf without the keys): trim only. */
    v = open_ok(fx);
    import_ok(v, fx, &r);
    assert_int_equal(r.members_new, 3);
    assert_false(same_pid(v, "17850.0", "17850"));
    assert_true(same_pid(v, " 17850\t", "17850"));
    vault_close(&v);
    /* Recommended: numeric yes. */
    snprintf(store2, sizeof store2, "%s/s2", fx->dir);
    assert_int_equal(vault_init(store2, &io, NULL, err, sizeof err), FR_OK);
    assert_int_equal(vault_open(store2, NULL, &w, err, sizeof err), FR_OK);
    vault_set_member_policy(w, &mp);
    assert_int_equal(vault_import(w, fx->csv, &legacy_opts, &r, NULL, err,
                                  sizeof err),
                     FR_OK);
    assert_int_equal(r.members_new, 2);
    assert_true(same_pid(w, "17850.0", "17850"));
    assert_true(same_pid(w, "17850.00", "17850"));
    assert_false(same_pid(w, "17850.", "17850"));
    assert_false(same_pid(w, "17850.5", "17850"));
    assert_false(same_pid(w, "0042", "42"));
    /* Consent, export, forget: the same door. */
    assert_int_equal(vault_consent_set(w, "17850.00", VAULT_TRAINING, 1, 5),
                     FR_OK);
    s = each(w, VAULT_TRAINING, ITEMS);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.pid[0], s.pid[1]);
    js = export_of(w, " 17850.0 ", FR_OK);
    assert_non_null(strstr(js, "\"item_id\": 1,"));
    assert_non_null(strstr(js, "\"item_id\": 2,"));
    free(js);
    assert_int_equal(vault_forget(w, "17850.0", 6), FR_OK);
    free(export_of(w, "17850", FR_ENOENT));
    assert_int_equal(each(w, VAULT_PURPOSES, ITEMS).n, 1);
    /* Case and leading zeros. */
    mp.strip_zeros = 1;
    mp.id_case = CANON_CASE_UPPER;
    vault_set_member_policy(w, &mp);
    assert_true(same_pid(w, "0042", "42"));
    assert_true(same_pid(w, "000", "0"));
    assert_true(same_pid(w, "m-a", "M-A"));
    assert_false(same_pid(w, "A0042", "A42"));
    mp.id_case = CANON_CASE_LOWER;
    vault_set_member_policy(w, &mp);
    assert_true(same_pid(w, "m-a", "M-A"));
    vault_close(&w);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_nothing_in_clear, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_training_consent_update_bit_identical, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_forget_sticks_and_reimport_is_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retention, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_all_or_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_tamper_detected, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_audit_trail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_events_beside_changes,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_safety, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_safety_blobs, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_v1_upgrade, setup, teardown),
        cmocka_unit_test_setup_teardown(test_netting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dry_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outside_catalogue, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_member_policy, setup, teardown),
    };
    if (fr_crypto_init())
        return 1;
    fr_log_set_level(FR_LOG_ERR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
