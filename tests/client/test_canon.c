/*
 * test_canon.c - member-id canonicalisation: each step of the policy, the
 * legacy and recommended policies, the store.conf keys, and the merge
 * counter's counts of rewritten rows and ids seen under several spellings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canon.h"

static const char *
canon(const canon_policy *p, const char *in)
{
    static char out[64];

    if (canon_apply(p, in, strlen(in), out, sizeof out))
        fail_msg("canon_apply failed");
    return out;
}

static void
test_steps(void **state)
{
    canon_policy p = canon_legacy;
    char small[4];
    (void)state;

    assert_string_equal(canon(&p, " \tAb 1\t "), "Ab 1");
    assert_string_equal(canon(&p, "17850.0"), "17850.0");
    assert_string_equal(canon(&p, "007"), "007");
    p.trim = 0;
    assert_string_equal(canon(&p, " Ab "), " Ab ");

    p = canon_recommended;
    assert_string_equal(canon(&p, "17850.0"), "17850");
    assert_string_equal(canon(&p, " 17850.00 "), "17850");
    assert_string_equal(canon(&p, "17850.5"), "17850.5");
    assert_string_equal(canon(&p, "17850.05"), "17850.05");
    assert_string_equal(canon(&p, "17850."), "17850.");
    assert_string_equal(canon(&p, ".0"), ".0");
    assert_string_equal(canon(&p, "A17.0"), "A17.0");
    assert_string_equal(canon(&p, "1.0.0"), "1.0.0");
    assert_string_equal(canon(&p, "0042.0"), "0042");
    assert_string_equal(canon(&p, "Ab"), "Ab");

    p.strip_zeros = 1;
    assert_string_equal(canon(&p, "0042.0"), "42");
    assert_string_equal(canon(&p, "0042"), "42");
    assert_string_equal(canon(&p, "0"), "0");
    assert_string_equal(canon(&p, "000"), "0");
    assert_string_equal(canon(&p, "0.0"), "0");
    assert_string_equal(canon(&p, "007AB"), "007AB");

    p.id_case = CANON_CASE_UPPER;
    assert_string_equal(canon(&p, "ab-Cd\xc3\xa9"), "AB-CD\xc3\xa9");
    p.id_case = CANON_CASE_LOWER;
    assert_string_equal(canon(&p, "AB-cD"), "ab-cd");

    /* length: the input need not be NUL-terminated; too long is refused */
    assert_int_equal(canon_apply(&p, "ABCDEF", 3, small, sizeof small), FR_OK);
    assert_string_equal(small, "abc");
    assert_int_equal(canon_apply(&p, "ABCD", 4, small, sizeof small),
                     FR_ELIMIT);
    assert_int_equal(canon_apply(&p, " 0001.000 ", 10, small, sizeof small),
                     FR_OK);
    assert_string_equal(small, "1");
    assert_int_equal(canon_apply(&p, "", 0, small, sizeof small), FR_OK);
    assert_string_equal(small, "");
}

typedef struct conf {
    int member_id_trim;
    char member_id_case[CANON_WORD_MAX];
    int member_id_numeric;
    char member_id_leading_zeros[CANON_WORD_MAX];
} conf;

static const fr_config_key keys[] = {CANON_CONFIG_KEYS(conf)};
static const fr_config_table table = {keys, sizeof keys / sizeof keys[0]};

static fr_err
policy_of(const conf *c, canon_policy *p, char *err, size_t errlen)
{
    return canon_policy_from_config(c->member_id_trim, c->member_id_case,
                                    c->member_id_numeric,
                                    c->member_id_leading_zeros, p, err,
                                    errlen);
}

static void
test_config_keys(void **state)
{
    conf c;
    canon_policy p;
    char err[FR_CONFIG_ERR_MAX] = "", text[512];
    FILE *f;
    (void)state;

    /* without the keys: the legacy policy */
    assert_int_equal(fr_config_defaults(&table, &c, err, sizeof err), FR_OK);
    assert_int_equal(policy_of(&c, &p, err, sizeof err), FR_OK);
    assert_memory_equal(&p, &canon_legacy, sizeof p);

    /* what init writes reads back as the recommended policy */
    f = fmemopen(text, sizeof text, "w");
    assert_non_null(f);
    canon_policy_write(&canon_recommended, f);
    fclose(f);
    assert_non_null(strstr(text, "member_id_numeric yes\n"));
    assert_non_null(strstr(text, "member_id_leading_zeros keep\n"));
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char *v = strchr(line, ' ');
        *v++ = '\0';
        assert_int_equal(fr_config_set(&table, &c, line, v, err, sizeof err),
                         FR_OK);
    }
    assert_int_equal(policy_of(&c, &p, err, sizeof err), FR_OK);
    assert_memory_equal(&p, &canon_recommended, sizeof p);

    assert_int_equal(
        fr_config_set(&table, &c, "member_id_case", "upper", err, sizeof err),
        FR_OK);
    assert_int_equal(fr_config_set(&table, &c, "member_id_leading_zeros",
                                   "strip", err, sizeof err),
                     FR_OK);
    assert_int_equal(policy_of(&c, &p, err, sizeof err), FR_OK);
    assert_int_equal(p.id_case, CANON_CASE_UPPER);
    assert_int_equal(p.strip_zeros, 1);

    assert_int_equal(
        fr_config_set(&table, &c, "member_id_case", "title", err, sizeof err),
        FR_OK);
    assert_int_equal(policy_of(&c, &p, err, sizeof err), FR_EINVAL);
    assert_non_null(strstr(err, "member_id_case"));
    strcpy(c.member_id_case, "lower");
    strcpy(c.member_id_leading_zeros, "drop");
    assert_int_equal(policy_of(&c, &p, err, sizeof err), FR_EINVAL);
    assert_non_null(strstr(err, "member_id_leading_zeros"));
    assert_int_equal(
        fr_config_set(&table, &c, "member_id_numeric", "maybe", err, sizeof err),
        FR_EINVAL);
}

/* Canonicalises each raw id under p and counts it. */
static void
count_all(canon_count *c, const canon_policy *p, const char *const *raw,
          size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char out[64];

        assert_int_equal(
            canon_apply(p, raw[i], strlen(raw[i]), out, sizeof out), FR_OK);
        assert_int_equal(canon_count_add(c, raw[i], strlen(raw[i]), out),
                         FR_OK);
    }
}

static void
test_merge_counter(void **state)
{
    static const char *const raw[] = {
        "17850.0", "17850", "17850.00", "17850.0", /* one id, 3 spellings */
        "12583",   "12583",                        /* one spelling */
        "13047.0", "13047.0",                      /* one spelling, rewritten */
        " A1",     "A1",                           /* trim merges */
    };
    canon_policy p = canon_recommended;
    canon_count *c = NULL;
    (void)state;

    assert_int_equal(canon_count_new(&c), FR_OK);
    count_all(c, &p, raw, sizeof raw / sizeof raw[0]);
    /* rewritten: 17850.0 x2, 17850.00, 13047.0 x2, " A1" */
    assert_int_equal(canon_count_rewritten(c), 6);
    /* merged: 17850 and A1; 13047 has a single spelling */
    assert_int_equal(canon_count_merged(c), 2);
    canon_count_destroy(&c);
    assert_null(c);
    canon_count_destroy(&c);
    canon_count_destroy(NULL);
    assert_int_equal(canon_count_rewritten(NULL), 0);

    /* the legacy policy keeps 17850.0 apart from 17850: nothing merged */
    p = canon_legacy;
    assert_int_equal(canon_count_new(&c), FR_OK);
    count_all(c, &p, raw, 8);
    assert_int_equal(canon_count_rewritten(c), 0);
    assert_int_equal(canon_count_merged(c), 0);
    canon_count_destroy(&c);
}

static void
test_merge_counter_grows(void **state)
{
    canon_policy p = canon_recommended;
    canon_count *c = NULL;
    char id[32], canonical[32];
    (void)state;

    /* many distinct ids, each seen as N and N.0: every one merged once */
    assert_int_equal(canon_count_new(&c), FR_OK);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 5000; i++) {
            int n = snprintf(id, sizeof id, round ? "%d.0" : "%d", i);
            assert_int_equal(
                canon_apply(&p, id, (size_t)n, canonical, sizeof canonical),
                FR_OK);
            assert_int_equal(canon_count_add(c, id, (size_t)n, canonical),
                             FR_OK);
        }
    }
    assert_int_equal(canon_count_merged(c), 5000);
    assert_int_equal(canon_count_rewritten(c), 10000);
    canon_count_destroy(&c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_steps),
        cmocka_unit_test(test_config_keys),
        cmocka_unit_test(test_merge_counter),
        cmocka_unit_test(test_merge_counter_grows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
