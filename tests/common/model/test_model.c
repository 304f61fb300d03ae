/*
 * test_model.c - the global model: shape limits, layout, deterministic
 * init, and the file format (round trips and every way a file can be bad).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/util.h"
#include "model/model.h"

#define N_ITEMS 37u
#define DIM 5u

static fr_model *
make_model(uint32_t n_items, uint32_t dim, uint64_t seed)
{
    fr_model *m = NULL;
    assert_int_equal(fr_model_new(&m, n_items, dim), FR_OK);
    fr_model_init_random(m, seed, 0.5f);
    /* non-zero biases so the round trips cover them too */
    for (uint32_t i = 0; i < n_items; i++)
        fr_model_item_bias(m)[i] = (float)i * 0.25f - 3.0f;
    return m;
}

static void
test_new_rejects_bad_shapes(void **state)
{
    fr_model *m = NULL;
    (void)state;
    assert_int_equal(fr_model_new(&m, 0, DIM), FR_EINVAL);
    assert_int_equal(fr_model_new(&m, N_ITEMS, 0), FR_EINVAL);
    assert_int_equal(fr_model_new(&m, FR_MODEL_MAX_ITEMS + 1, 1), FR_EINVAL);
    assert_int_equal(fr_model_new(&m, 1, FR_MODEL_MAX_DIM + 1), FR_EINVAL);
    assert_null(m);
    fr_model_destroy(&m); /* NULL is fine */
    fr_model_destroy(NULL);
}

static void
test_layout_and_zero_fill(void **state)
{
    fr_model *m = NULL;
    (void)state;
    assert_int_equal(fr_model_new(&m, N_ITEMS, DIM), FR_OK);
    assert_int_equal(fr_model_n_items(m), N_ITEMS);
    assert_int_equal(fr_model_dim(m), DIM);
    assert_int_equal(fr_model_n_params(m), N_ITEMS * DIM + N_ITEMS);
    assert_ptr_equal(fr_model_item_emb(m), fr_model_params(m));
    assert_ptr_equal(fr_model_item_bias(m), fr_model_params(m) + N_ITEMS * DIM);
    assert_ptr_equal(fr_model_item_bias_const(m), fr_model_item_bias(m));
    assert_ptr_equal(fr_model_params_const(m), fr_model_params(m));
    assert_int_equal((uintptr_t)fr_model_params(m) % 64, 0);
    for (size_t i = 0; i < fr_model_n_params(m); i++)
        assert_true(fr_model_params(m)[i] == 0.0f);
    fr_model_destroy(&m);
    assert_null(m);
}

static void
test_init_random_deterministic(void **state)
{
    fr_model *a = NULL, *b = NULL, *c = NULL;
    const uint32_t n = 200, d = 16;
    double sum = 0, sq = 0;
    (void)state;
    assert_int_equal(fr_model_new(&a, n, d), FR_OK);
    assert_int_equal(fr_model_new(&b, n, d), FR_OK);
    assert_int_equal(fr_model_new(&c, n, d), FR_OK);
    fr_model_item_bias(a)[3] = 1.0f; /* init must reset biases */
    fr_model_init_random(a, 11, 0.1f);
    fr_model_init_random(b, 11, 0.1f);
    fr_model_init_random(c, 12, 0.1f);
    assert_memory_equal(fr_model_params(a), fr_model_params(b),
                        fr_model_n_params(a) * sizeof(float));
    assert_memory_not_equal(fr_model_params(a), fr_model_params(c),
                            (size_t)n * d * sizeof(float));
    for (uint32_t i = 0; i < n; i++)
        assert_true(fr_model_item_bias(a)[i] == 0.0f);
    for (size_t i = 0; i < (size_t)n * d; i++) {
        sum += fr_model_item_emb(a)[i];
        sq += (double)fr_model_item_emb(a)[i] * fr_model_item_emb(a)[i];
    }
    /* 3200 draws: the sample std is within a few percent of 0.1 */
    assert_true(fabs(sum / (n * d)) < 0.01);
    assert_true(fabs(sqrt(sq / (n * d)) - 0.1) < 0.01);
    fr_model_destroy(&a);
    fr_model_destroy(&b);
    fr_model_destroy(&c);
}

static void
test_copy_and_dup(void **state)
{
    fr_model *a = make_model(N_ITEMS, DIM, 1), *b = NULL, *c = NULL;
    fr_model *wrong_dim = NULL, *wrong_items = NULL;
    (void)state;
    assert_int_equal(fr_model_new(&b, N_ITEMS, DIM), FR_OK);
    assert_int_equal(fr_model_copy(b, a), FR_OK);
    assert_memory_equal(fr_model_params(a), fr_model_params(b),
                        fr_model_n_params(a) * sizeof(float));
    assert_int_equal(fr_model_dup(a, &c), FR_OK);
    assert_ptr_not_equal(fr_model_params(c), fr_model_params(a));
    assert_memory_equal(fr_model_params(a), fr_model_params(c),
                        fr_model_n_params(a) * sizeof(float));
    assert_int_equal(fr_model_new(&wrong_dim, N_ITEMS, DIM + 1), FR_OK);
    assert_int_equal(fr_model_new(&wrong_items, N_ITEMS + 1, DIM), FR_OK);
    assert_int_equal(fr_model_copy(wrong_dim, a), FR_EINVAL);
    assert_int_equal(fr_model_copy(wrong_items, a), FR_EINVAL);
    assert_int_equal(fr_model_copy(a, wrong_items), FR_EINVAL);
    /* a rejected copy leaves the destination alone */
    for (size_t i = 0; i < fr_model_n_params(wrong_dim); i++)
        assert_true(fr_model_params(wrong_dim)[i] == 0.0f);
    fr_model_destroy(&a);
    fr_model_destroy(&b);
    fr_model_destroy(&c);
    fr_model_destroy(&wrong_dim);
    fr_model_destroy(&wrong_items);
}

static void
test_encode_layout_and_round_trip(void **state)
{
    fr_model *a = make_model(N_ITEMS, DIM, 2), *b = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;
    float v;
    (void)state;
    assert_int_equal(fr_model_encode(a, &buf, &len), FR_OK);
    assert_int_equal(len, 16 + 4 * fr_model_n_params(a) + 4);
    assert_memory_equal(buf, "FRMD", 4);
    assert_int_equal(fr_get_u32le(buf + 4), 1);
    assert_int_equal(fr_get_u32le(buf + 8), N_ITEMS);
    assert_int_equal(fr_get_u32le(buf + 12), DIM);
    /* parameter 7 sits little-endian at 16 + 4 * 7 */
    uint32_t u = fr_get_u32le(buf + 16 + 4 * 7);
    memcpy(&v, &u, sizeof v);
    assert_true(v == fr_model_params(a)[7]);
    assert_int_equal(fr_get_u32le(buf + len - 4), fr_crc32(0, buf, len - 4));
    assert_int_equal(fr_model_decode(buf, len, &b), FR_OK);
    assert_int_equal(fr_model_n_items(b), N_ITEMS);
    assert_int_equal(fr_model_dim(b), DIM);
    assert_memory_equal(fr_model_params(a), fr_model_params(b),
                        fr_model_n_params(a) * sizeof(float));
    free(buf);
    fr_model_destroy(&a);
    fr_model_destroy(&b);
}

static void
expect_decode_fails(const uint8_t *buf, size_t len)
{
    fr_model *m = NULL;
    assert_int_equal(fr_model_decode(buf, len, &m), FR_EPROTO);
    assert_null(m);
}

static void
test_decode_rejects_corruption(void **state)
{
    fr_model *a = make_model(N_ITEMS, DIM, 3);
    uint8_t *buf = NULL;
    size_t len = 0;
    (void)state;
    assert_int_equal(fr_model_encode(a, &buf, &len), FR_OK);
    /* every single flipped byte, header, body or CRC, is caught */
    for (size_t i = 0; i < len; i++) {
        buf[i] ^= 0x20;
        expect_decode_fails(buf, len);
        buf[i] ^= 0x20;
    }
    /* every truncation, down to empty, and one byte too many */
    for (size_t l = 0; l < len; l++)
        expect_decode_fails(buf, l);
    uint8_t *longer = calloc(1, len + 1);
    assert_non_null(longer);
    memcpy(longer, buf, len);
    expect_decode_fails(longer, len + 1);
    expect_decode_fails(NULL, 0);
    free(longer);
    free(buf);
    fr_model_destroy(&a);
}

/* Rewrites a header field and fixes up the CRC, so that only the field
 * check itself can reject the buffer. */
static void
set_field_fix_crc(uint8_t *buf, size_t len, size_t off, uint32_t v)
{
    fr_put_u32le(buf + off, v);
    fr_put_u32le(buf + len - 4, fr_crc32(0, buf, len - 4));
}

static void
test_decode_rejects_bad_header_with_good_crc(void **state)
{
    fr_model *a = make_model(N_ITEMS, DIM, 4);
    uint8_t *buf = NULL, *orig = NULL;
    size_t len = 0;
    const uint32_t bad[][2] = {
        {4, 2},               {4, 0},               /* version */
        {8, 0},               {12, 0},              /* empty shape */
        {8, N_ITEMS + 1},     {12, DIM - 1},        /* shape vs length */
        {8, FR_MODEL_MAX_ITEMS + 1}, {12, FR_MODEL_MAX_DIM + 1},
        {8, 0xFFFFFFFFu},     {12, 0xFFFFFFFFu},
    };
    (void)state;
    assert_int_equal(fr_model_encode(a, &buf, &len), FR_OK);
    orig = malloc(len);
    assert_non_null(orig);
    memcpy(orig, buf, len);
    for (size_t t = 0; t < FR_ARRAY_LEN(bad); t++) {
        memcpy(buf, orig, len);
        set_field_fix_crc(buf, len, bad[t][0], bad[t][1]);
        expect_decode_fails(buf, len);
    }
    memcpy(buf, orig, len);
    memcpy(buf, "FRMB", 4); /* the member-embedding magic is not a model */
    fr_put_u32le(buf + len - 4, fr_crc32(0, buf, len - 4));
    expect_decode_fails(buf, len);
    free(orig);
    free(buf);
    fr_model_destroy(&a);
}

static void
test_decode_rejects_non_finite(void **state)
{
    fr_model *a = make_model(N_ITEMS, DIM, 5);
    const float bad[] = {NAN, INFINITY, -INFINITY};
    uint8_t *buf = NULL;
    size_t len = 0;
    (void)state;
    for (size_t t = 0; t < FR_ARRAY_LEN(bad); t++) {
        /* once in an embedding, once in the last bias */
        size_t where[] = {3, fr_model_n_params(a) - 1};
        for (size_t w = 0; w < 2; w++) {
            float keep = fr_model_params(a)[where[w]];
            fr_model_params(a)[where[w]] = bad[t];
            assert_int_equal(fr_model_encode(a, &buf, &len), FR_OK);
            expect_decode_fails(buf, len);
            free(buf);
            fr_model_params(a)[where[w]] = keep;
        }
    }
    fr_model_destroy(&a);
}

static void
test_save_load(void **state)
{
    char dir[] = "/tmp/fr_test_model_XXXXXX", path[64];
    fr_model *a = make_model(N_ITEMS, DIM, 6), *b = NULL;
    struct stat st;
    uint8_t *buf = NULL;
    size_t len = 0;
    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/model.bin", dir);
    assert_int_equal(fr_model_load(path, &b), FR_ENOENT);
    assert_int_equal(fr_model_save(a, path), FR_OK);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(fr_model_load(path, &b), FR_OK);
    assert_memory_equal(fr_model_params(a), fr_model_params(b),
                        fr_model_n_params(a) * sizeof(float));
    fr_model_destroy(&b);
    /* a damaged file is refused */
    assert_int_equal(fr_file_read_all(path, 1 << 20, &buf, &len), FR_OK);
    buf[len / 2] ^= 1;
    assert_int_equal(fr_file_write_atomic(path, buf, len, 0600), FR_OK);
    assert_int_equal(fr_model_load(path, &b), FR_EPROTO);
    assert_null(b);
    free(buf);
    unlink(path);
    rmdir(dir);
    fr_model_destroy(&a);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_rejects_bad_shapes),
        cmocka_unit_test(test_layout_and_zero_fill),
        cmocka_unit_test(test_init_random_deterministic),
        cmocka_unit_test(test_copy_and_dup),
        cmocka_unit_test(test_encode_layout_and_round_trip),
        cmocka_unit_test(test_decode_rejects_corruption),
        cmocka_unit_test(test_decode_rejects_bad_header_with_good_crc),
        cmocka_unit_test(test_decode_rejects_non_finite),
        cmocka_unit_test(test_save_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
