/*
 * test_evalset.c - ranking against fixed lists, with scores we control:
 * dimension 1, member embedding 1, so an item's score is its embedding.
 * Checks hand-computed HR@10 / NDCG@10 with ties (they count against the
 * model) and with the positive repeated among the negatives (counted once),
 * the popularity baseline, and the errors of a malformed list.
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
#include <unistd.h>

#include "base/util.h"
#include "evalset.h"
#include "model/mf.h"
#include "store.h"

#define N_ITEMS 20

static char csv[] = "/tmp/fr-evs-csv-XXXXXX";
static char lists[] = "/tmp/fr-evs-lst-XXXXXX";

static void
write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

typedef struct fixture {
    store_data *data;
    fr_mf *mf;
    fr_model *model;
} fixture;

/* Members A and B; every member embedding is 1.0, item i scores q_i. */
static void
open_fixture(fixture *fx, const float *q)
{
    char err[256];
    uint8_t buf[4 * 4 + 2 * 4 + 4];

    write_file(csv, "member_id,item_id,timestamp\nA,0,1\nA,1,2\nB,0,1\n");
    assert_int_equal(store_data_load(csv, N_ITEMS, &fx->data, err, sizeof err),
                     FR_OK);
    assert_int_equal(fr_mf_new_holdout(&fx->mf, store_data_dataset(fx->data),
                                       1, 5, FR_MF_HOLDOUT_NONE),
                     FR_OK);
    /* FRMB, version 1, 2 members, dim 1, [1, 1], CRC */
    memcpy(buf, "FRMB", 4);
    fr_put_u32le(buf + 4, 1);
    fr_put_u32le(buf + 8, 2);
    fr_put_u32le(buf + 12, 1);
    float one = 1.0f;
    memcpy(buf + 16, &one, 4);
    memcpy(buf + 20, &one, 4);
    fr_put_u32le(buf + 24, fr_crc32(0, buf, 24));
    assert_int_equal(fr_mf_decode_members(fx->mf, buf, sizeof buf), FR_OK);
    assert_int_equal(fr_model_new(&fx->model, N_ITEMS, 1), FR_OK);
    memcpy(fr_model_item_emb(fx->model), q, N_ITEMS * sizeof *q);
}

static void
close_fixture(fixture *fx)
{
    fr_model_destroy(&fx->model);
    fr_mf_destroy(&fx->mf);
    store_data_destroy(&fx->data);
}

static void
test_hand_computed(void **state)
{
    fixture fx = {0};
    evalset *e = NULL;
    fr_eval_result r;
    char err[256];
    float q[N_ITEMS];
    (void)state;

    for (int i = 0; i < N_ITEMS; i++)
        q[i] = (float)i; /* item i scores i */
    open_fixture(&fx, q);
    /* (A,15): 19,18,17,16 score above it, 15 is the positive itself
     *   (ignored), 3 and 2 below: rank 4 -> hit, NDCG 1/log2(6).
     * (B,5): 5 twice (ignored), 6 above, 0 below: rank 1 -> 1/log2(3).
     * (A,10): 11..19 above, 10 itself ignored: rank 9 -> 1/log2(11).
     * (B,2): ten negatives above: rank 10 -> miss. */
    write_file(lists,
               "(A,15)\t19\t18\t17\t16\t15\t3\t2\n"
               "(B,5)\t5\t6\t5\t0\n"
               "(A,10)\t11\t12\t13\t14\t15\t16\t17\t18\t19\t10\n"
               "(B,2)\t3\t4\t5\t6\t7\t8\t9\t10\t11\t12\n");
    assert_int_equal(evalset_load(lists, fx.data, N_ITEMS, &e, err,
                                  sizeof err), FR_OK);
    assert_int_equal(evalset_count(e), 4);
    assert_int_equal(evalset_evaluate(e, fx.mf, fx.model, &r), FR_OK);
    assert_int_equal(r.count, 4);
    assert_true(fabs(r.hr - 3.0 / 4) < 1e-12);
    assert_true(fabs(r.ndcg - (1 / log2(6.0) + 1 / log2(3.0) +
                               1 / log2(11.0)) / 4) < 1e-9);
    evalset_destroy(&e);
    close_fixture(&fx);
}

static void
test_ties_count_against(void **state)
{
    fixture fx = {0};
    evalset *e = NULL;
    fr_eval_result r;
    char err[256];
    float q[N_ITEMS] = {0};
    (void)state;

    /* Every item scores 0: the positive ties all 12 negatives -> miss. */
    open_fixture(&fx, q);
    write_file(lists, "(A,1)\t2\t3\t4\t5\t6\t7\t8\t9\t10\t11\t12\t13\n"
                      "(B,1)\t2\t3\n");
    assert_int_equal(evalset_load(lists, fx.data, N_ITEMS, &e, err,
                                  sizeof err), FR_OK);
    assert_int_equal(evalset_evaluate(e, fx.mf, fx.model, &r), FR_OK);
    /* Line 1 ranks 12th (miss); line 2 ranks 3rd: 1/log2(4) = 0.5. */
    assert_true(fabs(r.hr - 0.5) < 1e-12);
    assert_true(fabs(r.ndcg - 0.25) < 1e-12);
    /* Popularity: item 0 bought twice, item 1 once, the rest never. */
    write_file(lists, "(A,1)\t0\t5\t6\n(B,0)\t1\t2\n");
    evalset_destroy(&e);
    assert_int_equal(evalset_load(lists, fx.data, N_ITEMS, &e, err,
                                  sizeof err), FR_OK);
    assert_int_equal(evalset_evaluate_popularity(e, store_data_dataset(fx.data),
                                                 &r), FR_OK);
    assert_true(fabs(r.ndcg - (1 / log2(3.0) + 1.0) / 2) < 1e-12);
    evalset_destroy(&e);
    close_fixture(&fx);
}

static void
test_bad_lists(void **state)
{
    fixture fx = {0};
    evalset *e = NULL;
    char err[256];
    float q[N_ITEMS] = {0};
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"(A,1)\t2\n(Z,1)\t2\n", ":2: member not known"},
        {"(A,1)\t2\n(A,99)\t2\n", ":2: malformed"},
        {"(A,1)\t2\tx\n", ":1: malformed"},
        {"A,1\t2\n", ":1: malformed"},
        {"", "no evaluation lines"},
    };
    (void)state;

    open_fixture(&fx, q);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_file(lists, cases[i].text);
        err[0] = '\0';
        assert_int_not_equal(evalset_load(lists, fx.data, N_ITEMS, &e, err,
                                          sizeof err), FR_OK);
        assert_null(e);
        if (!strstr(err, cases[i].want))
            fail_msg("case %zu: '%s' lacks '%s'", i, err, cases[i].want);
    }
    close_fixture(&fx);
}

static int
setup(void **state)
{
    int a = mkstemp(csv), b = mkstemp(lists);
    (void)state;
    if (a < 0 || b < 0)
        return -1;
    close(a);
    close(b);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    unlink(csv);
    unlink(lists);
    return 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_computed),
        cmocka_unit_test(test_ties_count_against),
        cmocka_unit_test(test_bad_lists),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
