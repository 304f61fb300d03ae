/*
 * test_failalloc.c - every decoder under a failing allocator: for N = 1, 2,
 * ... allocation N fails, and the decoder must refuse with FR_ENOMEM (no
 * crash; no leak, which the ASan build checks), after which the same input
 * decodes. The loop ends at the first N the decoder no longer reaches.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "catalogue/catalogue.h"
#include "checkpoint.h"
#include "aggconf.h"
#include "config/config.h"
#include "dp/ledger.h"
#include "importer.h"
#include "wire/wire.h"

#include "failalloc.h"

#define MAX_POINTS 100000ul

static char g_dir[64];

static void
path_in(char *out, size_t cap, const char *name)
{
    assert_true(snprintf(out, cap, "%s/%s", g_dir, name) < (int)cap);
}

static void
write_text(const char *path, const char *text)
{
    assert_int_equal(fr_file_write_atomic(path, text, strlen(text), 0600),
                     FR_OK);
}

/* The common check: a run that met the failure refused with FR_ENOMEM; one
 * that did not succeeded. */
static void
check_enomem(void *ctx, int rc, int hit)
{
    (void)ctx;
    if (hit && rc != FR_ENOMEM)
        fail_msg("allocation failure gave %d (%s), not FR_ENOMEM", rc,
                 fr_strerror((fr_err)rc));
    if (!hit)
        assert_int_equal(rc, FR_OK);
}

static void
report(const char *what, unsigned long points)
{
    printf("failalloc: %-28s %lu failure points\n", what, points);
    fflush(stdout);
}

/* ---- wire ---------------------------------------------------------------- */

typedef struct wire_ctx {
    uint8_t *buf;
    size_t len;
    fr_msg_type type;
} wire_ctx;

static int
op_wire(void *p)
{
    wire_ctx *w = p;
    fr_msg *m = NULL;
    const char *why = NULL;
    fr_err rc = fr_wire_decode(w->buf, w->len, FR_WIRE_DEFAULT_MAX_BYTES, &m,
                               &why);

    if (rc == FR_OK) {
        assert_int_equal(m->type, w->type);
        fr_msg_destroy(&m);
    } else {
        assert_null(m);
        assert_non_null(why);
        if (rc == FR_ENOMEM)
            assert_string_equal(why, "out of memory");
    }
    return rc;
}

static const float emb6[6] = {0.5f, -1.25f, 2.0f, 0.125f, -0.0f, 3.5f};
static const float bias3[3] = {0.1f, -0.2f, 0.3f};

static void
wire_loop(const fr_msg *m, const char *name)
{
    wire_ctx w = {.type = m->type};
    char label[64];

    assert_int_equal(fr_wire_encode(m, FR_WIRE_DEFAULT_MAX_BYTES, &w.buf,
                                    &w.len), FR_OK);
    snprintf(label, sizeof label, "fr_wire_decode %s", name);
    unsigned long n = fr_failalloc_loop(op_wire, check_enomem, &w, MAX_POINTS);
    /* protobuf-c's unpacker allocates through our allocator: at least the
     * envelope, its body and our own fr_msg */
    assert_true(n >= 3);
    report(label, n);
    free(w.buf);
}

static void
test_wire_every_type(void **state)
{
    fr_train_params tp = {.local_epochs = 2, .learning_rate = 0.05f,
                          .negatives = 4, .l2 = 0.001f, .batch_size = 32,
                          .seed = 99, .loss = 0};
    fr_msg m;
    fr_sa_keys key = {.index = 3};
    fr_sa_cipher ct[2] = {{.from = 1, .to = 2}, {.from = 1, .to = 3}};
    uint32_t words[5] = {1, 2, 3, 4, 5};
    uint8_t bitmap[2] = {0xff, 0x01};
    fr_sa_sig sigs[2] = {{.index = 0}, {.index = 2}};
    fr_sa_reveal rev[2] = {{.peer = 0, .kind = FR_SA_SHARE_B},
                           {.peer = 2, .kind = FR_SA_SHARE_S}};
    static const char cat[] = "fedrec-catalogue 1\nA1\nB2\nC3\n";
    (void)state;

    m = (fr_msg){.type = FR_MSG_HELLO, .round_id = 42};
    m.u.hello.num_examples = 1234;
    wire_loop(&m, "hello");

    m = (fr_msg){.type = FR_MSG_ROUND_START, .round_id = 8};
    m.u.round_start.n_items = 3;
    m.u.round_start.dim = 2;
    m.u.round_start.item_emb = emb6;
    m.u.round_start.item_bias = bias3;
    m.u.round_start.deadline_ms = 30000;
    m.u.round_start.train = tp;
    wire_loop(&m, "round_start");

    m = (fr_msg){.type = FR_MSG_UPDATE, .round_id = 8};
    m.u.update.num_examples = 500;
    m.u.update.n_items = 3;
    m.u.update.dim = 2;
    m.u.update.delta_emb = emb6;
    m.u.update.delta_bias = bias3;
    wire_loop(&m, "update");

    m = (fr_msg){.type = FR_MSG_ROUND_END, .round_id = 8};
    m.u.round_end.completed = 1;
    m.u.round_end.contributors = 3;
    m.u.round_end.has_model = 1;
    m.u.round_end.n_items = 3;
    m.u.round_end.dim = 2;
    m.u.round_end.item_emb = emb6;
    m.u.round_end.item_bias = bias3;
    wire_loop(&m, "round_end");

    m = (fr_msg){.type = FR_MSG_DONE, .round_id = 9};
    m.u.done.completed_rounds = 9;
    wire_loop(&m, "done");

    m = (fr_msg){.type = FR_MSG_CATALOGUE, .round_id = 0};
    m.u.catalogue.items = 3;
    m.u.catalogue.content = (const uint8_t *)cat;
    m.u.catalogue.content_len = sizeof cat - 1;
    wire_loop(&m, "catalogue");

    /* SecAgg: each phase's body */
    for (uint32_t ph = FR_SA_ADVERTISE; ph <= FR_SA_REVEAL; ph++) {
        char name[32];

        m = (fr_msg){.type = FR_MSG_SECAGG, .round_id = 77};
        m.u.secagg.sa.phase = ph;
        switch (ph) {
        case FR_SA_ADVERTISE:
        case FR_SA_KEYS:
            m.u.secagg.sa.keys = &key;
            m.u.secagg.sa.n_keys = 1;
            break;
        case FR_SA_SHARES:
        case FR_SA_MASK_REQ:
            m.u.secagg.sa.ciphers = ct;
            m.u.secagg.sa.n_ciphers = 2;
            break;
        case FR_SA_MASKED:
            m.u.secagg.sa.words = words;
            m.u.secagg.sa.n_words = 5;
            m.u.secagg.has_metrics = 1;
            break;
        case FR_SA_CONSIST:
            m.u.secagg.sa.bitmap = bitmap;
            m.u.secagg.sa.bitmap_bytes = 2;
            break;
        case FR_SA_UNMASK:
            m.u.secagg.sa.sigs = sigs;
            m.u.secagg.sa.n_sigs = 2;
            m.u.secagg.sa.reveals = rev;
            m.u.secagg.sa.n_reveals = 2;
            break;
        case FR_SA_REVEAL:
            m.u.secagg.sa.reveals = rev;
            m.u.secagg.sa.n_reveals = 2;
            break;
        default:
            break;
        }
        snprintf(name, sizeof name, "secagg phase %u", ph);
        wire_loop(&m, name);
    }
}

/* ---- catalogue ----------------------------------------------------------- */

static const char catalogue_text[] =
    "fedrec-catalogue 1\n85123A\n71053\n84406B\n"
    "84029G\n84029E\n22752\n21730\n22633\n";

static int
op_catalogue(void *p)
{
    fr_catalogue *c = NULL;
    char err[256] = "";
    fr_err rc;
    (void)p;

    rc = fr_catalogue_parse(catalogue_text, sizeof catalogue_text - 1, &c, err,
                            sizeof err);
    if (rc == FR_OK) {
        assert_int_equal(fr_catalogue_n_items(c), 8);
        fr_catalogue_destroy(&c);
    } else {
        assert_null(c);
        assert_true(err[0] != '\0');
    }
    return rc;
}

static void
test_catalogue(void **state)
{
    (void)state;
    report("fr_catalogue_parse",
           fr_failalloc_loop(op_catalogue, check_enomem, NULL, MAX_POINTS));
}

/* ---- config -------------------------------------------------------------- */

static int
op_config(void *p)
{
    agg_config cfg;
    char err[FR_CONFIG_ERR_MAX] = "";
    fr_err rc;

    memset(&cfg, 0, sizeof cfg);
    rc = fr_config_defaults(&agg_config_table, &cfg, err, sizeof err);
    if (rc == FR_OK)
        rc = fr_config_load_file(&agg_config_table, &cfg, p, err, sizeof err);
    if (rc == FR_OK) {
        assert_int_equal(cfg.dim, 16);
        assert_int_equal(cfg.min_stores, 3);
    }
    if (rc && !fr_failalloc_hit())
        print_error("config: %s\n", err);
    /* the loader refuses an unreadable file with FR_EINVAL and says why */
    if (rc && strstr(err, "out of memory"))
        rc = FR_ENOMEM;
    return rc;
}

static void
test_config(void **state)
{
    char path[128];
    (void)state;

    path_in(path, sizeof path, "aggregator.conf");
    write_text(path, "# test\nmin_stores 3\ndim 16\nfraction 0.5\n"
                     "log_level debug\n");
    /* the parser itself does not allocate (stdio's buffers are libc's) */
    report("fr_config_load_file",
           fr_failalloc_loop(op_config, check_enomem, path, MAX_POINTS));
}

/* ---- CSV importer -------------------------------------------------------- */

#define NOW 1700000000

static int
op_import(void *p)
{
    import_opts o = {.n_items = 10, .now_s = NOW, .max_errors = 20};
    import_result *r = NULL;
    char err[2048] = "";
    fr_err rc = import_parse(p, &o, &r, err, sizeof err);

    if (rc && !fr_failalloc_hit())
        print_error("import: %s\n", err);
    if (rc == FR_OK) {
        assert_int_equal(r->n_rows, 4);
        import_result_destroy(&r);
    } else {
        assert_null(r);
        /* a refused file names the line; FR_ENOMEM is its own message */
        assert_true(rc == FR_ENOMEM || err[0] != '\0');
    }
    return rc;
}

static void
test_importer(void **state)
{
    char path[128];
    (void)state;

    path_in(path, sizeof path, "import.csv");
    write_text(path, "member_id,item_id,timestamp,quantity,email\n"
                     "m1,1,1699900000,1,a@b\n"
                     "m2,2,1699900001,2,c@d\n"
                     "m1,3,1699900002,1,e@f\n"
                     "m3,4,1699900003,1,g@h\n");
    report("import_parse (CSV)",
           fr_failalloc_loop(op_import, check_enomem, path, MAX_POINTS));
}

/* ---- checkpoint ---------------------------------------------------------- */

static int
op_checkpoint(void *p)
{
    checkpoint ck;
    fr_err rc;

    memset(&ck, 0, sizeof ck);
    rc = checkpoint_load(p, &ck);
    if (rc == FR_OK) {
        assert_int_equal(ck.completed_rounds, 3);
        assert_int_equal(ck.n_history, 3);
        assert_int_equal(fr_model_n_items(ck.model), 20);
    } else {
        assert_null(ck.model);
        assert_null(ck.history);
    }
    checkpoint_clear(&ck);
    return rc;
}

static void
test_checkpoint(void **state)
{
    char path[128];
    agg_round_info h[3];
    checkpoint ck = {.next_round_id = 4, .completed_rounds = 3,
                     .history = h, .n_history = 3};
    (void)state;

    memset(h, 0, sizeof h);
    for (int i = 0; i < 3; i++) {
        h[i].round = (uint64_t)i + 1;
        h[i].round_id = (uint64_t)i + 2;
        h[i].stores = 3;
        h[i].hr10 = h[i].ndcg10 = h[i].loss = 0.5;
    }
    assert_int_equal(fr_model_new(&ck.model, 20, 4), FR_OK);
    fr_model_init_random(ck.model, 7, 0.1f);
    path_in(path, sizeof path, "checkpoint.bin");
    assert_int_equal(checkpoint_save(&ck, path), FR_OK);
    fr_model_destroy(&ck.model);
    report("checkpoint_load",
           fr_failalloc_loop(op_checkpoint, check_enomem, path, MAX_POINTS));
}

/* ---- privacy ledger ------------------------------------------------------ */

static int
op_ledger(void *p)
{
    fr_dp_orders o;
    fr_dp_ledger *l = NULL;
    char err[256] = "";
    fr_err rc;

    fr_dp_orders_ddg(&o);
    rc = fr_dp_ledger_open(&l, p, &o, 1e-6, 40.0, err, sizeof err);
    if (rc == FR_OK) {
        assert_int_equal(fr_dp_ledger_rounds(l), 5);
        fr_dp_ledger_close(&l);
    } else {
        assert_null(l);
    }
    return rc;
}

static void
test_ledger(void **state)
{
    char path[128];
    fr_dp_orders o;
    fr_dp_ledger *l = NULL;
    char err[256];
    double rdp[FR_DP_MAX_ORDERS];
    (void)state;

    fr_dp_orders_ddg(&o);
        for (size_t i = 0; i < o.n; i++)
        rdp[i] = o.a[i] / 200.0;
    path_in(path, sizeof path, "ledger");
    assert_int_equal(fr_dp_ledger_open(&l, path, &o, 1e-6, 40.0, err,
                                       sizeof err), FR_OK);
    for (uint64_t r = 1; r <= 5; r++) {
        uint8_t h[32] = {0};
        memcpy(h, &r, sizeof r);
        assert_int_equal(fr_dp_ledger_reserve(l, r, h, rdp), FR_OK);
        assert_int_equal(fr_dp_ledger_commit(l, r), FR_OK);
    }
    fr_dp_ledger_close(&l);
    report("fr_dp_ledger_open",
           fr_failalloc_loop(op_ledger, check_enomem, path, MAX_POINTS));
}

/* ---- main ---------------------------------------------------------------- */

static int
setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/fr-failalloc-XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int
teardown(void **state)
{
    char cmd[128];
    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wire_every_type),
        cmocka_unit_test(test_catalogue),
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_importer),
        cmocka_unit_test(test_checkpoint),
        cmocka_unit_test(test_ledger),
    };
    fr_log_set_level(FR_LOG_ERR);
    return cmocka_run_group_tests(tests, setup, teardown);
}
