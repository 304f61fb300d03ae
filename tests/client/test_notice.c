/*
 * test_notice.c - the customer data notice: both languages, the configured
 * retention and protections, every right with its command, the kept columns
 * and the discarded identifier kinds, and nothing claimed that is not on.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "importer.h"
#include "notice.h"

static const notice_info base = {
    .store_name = "store01",
    .aggregator = "tcp://agg.example:7600",
    .retention_days = 30,
    .secure_aggregation = 1,
    .differential_privacy = 0,
};

/* The notice for ni in lang; the caller frees it. */
static char *
render(const notice_info *ni, const char *lang)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    assert_non_null(f);
    assert_int_equal(notice_write(f, ni, lang), FR_OK);
    fclose(f);
    assert_non_null(text);
    assert_true(len > 500);
    return text;
}

static void
must_have(const char *text, const char *want)
{
    if (!strstr(text, want))
        fail_msg("notice lacks '%s'", want);
}

static void
must_lack(const char *text, const char *unwanted)
{
    if (strstr(text, unwanted))
        fail_msg("notice should not say '%s'", unwanted);
}

static const char *const langs[] = {"en", "zh-TW"};

static void
test_both_languages(void **state)
{
    (void)state;
    for (size_t i = 0; i < 2; i++) {
        char *t = render(&base, langs[i]);

        assert_true(t[0] == '#');
        must_have(t, "store01");
        must_have(t, "`tcp://agg.example:7600`");
        free(t);
    }
    char *en = render(&base, "en"), *zh = render(&base, "zh-TW");
    must_have(en, "## Who processes your data");
    must_have(en, "never receives purchase records or member numbers");
    must_have(en, "keyed hash");
    must_have(en, "opt-in");
    must_have(en, "next training round");
    must_have(en, "service desk");
    must_have(zh, "## 誰處理您的資料");
    must_have(zh, "不會收到任何購買紀錄或會員編號");
    must_have(zh, "金鑰");
    must_have(zh, "須經您同意");
    must_have(zh, "下一輪訓練");
    must_have(zh, "服務台");
    must_lack(zh, "Who processes");
    free(en);
    free(zh);
}

static void
test_retention(void **state)
{
    notice_info ni = base;
    char *t;
    (void)state;

    t = render(&ni, "en");
    must_have(t, "kept for 30 days");
    free(t);
    t = render(&ni, "zh-TW");
    must_have(t, "保存 30 天");
    free(t);
    ni.retention_days = 0;
    t = render(&ni, "en");
    must_have(t, "kept until they are erased");
    must_lack(t, " days and then deleted");
    free(t);
    t = render(&ni, "zh-TW");
    must_have(t, "保存到被刪除為止");
    free(t);
}

static void
test_rights_name_their_commands(void **state)
{
    static const char *const en_rights[] = {"**Access**", "**Erasure**",
                                            "**Withdrawal of consent**",
                                            "**Objection to marketing**"};
    static const char *const zh_rights[] = {"**查閱**", "**刪除**",
                                            "**撤回同意**", "**拒絕行銷**"};
    static const char *const cmds[] = {
        "`fedrec-client member export --member ID`",
        "`fedrec-client member forget --member ID`",
        ("`fedrec-client consent withdraw --member ID --purpose "
         "training|marketing`"),
        "`fedrec-client consent withdraw --member ID --purpose marketing`"};
    (void)state;

    for (size_t l = 0; l < 2; l++) {
        char *t = render(&base, langs[l]);
        const char *const *rights = l ? zh_rights : en_rights;

        for (size_t i = 0; i < 4; i++) {
            /* the command sits on the same line as the right */
            const char *r = strstr(t, rights[i]), *c, *eol;

            if (!r)
                fail_msg("%s: no right '%s'", langs[l], rights[i]);
            c = strstr(r, cmds[i]);
            eol = strchr(r, '\n');
            if (!c || c > eol)
                fail_msg("%s: '%s' without '%s'", langs[l], rights[i], cmds[i]);
        }
        free(t);
    }
}

static void
test_columns_and_identifiers_named(void **state)
{
    static const char *const en_words[] = {"member number",
                                           "item bought",
                                           "time of purchase",
                                           "quantity bought",
                                           "names",
                                           "e-mail addresses",
                                           "phone numbers",
                                           "postal addresses",
                                           "birth dates",
                                           "national ID numbers",
                                           "payment card numbers",
                                           NULL};
    static const char *const zh_words[] = {
        "會員編號", "購買的商品",   "購買時間",   "購買數量",
        "姓名",     "電子郵件地址", "電話號碼",   "地址",
        "出生日期", "身分證字號",   "信用卡卡號", NULL};
    char want[128];
    (void)state;

    for (size_t l = 0; l < 2; l++) {
        char *t = render(&base, langs[l]);
        const char *const *words = l ? zh_words : en_words;

        for (size_t i = 0; import_kept_columns[i]; i++) {
            snprintf(want, sizeof want, "`%s`", import_kept_columns[i]);
            must_have(t, want);
        }
        for (size_t i = 0; import_identifier_names[i]; i++) {
            snprintf(want, sizeof want, "`%s`", import_identifier_names[i]);
            must_have(t, want);
        }
        for (size_t i = 0; words[i]; i++)
            must_have(t, words[i]);
        free(t);
    }
}

static void
test_protections_follow_config(void **state)
{
    notice_info ni = base;
    char *t;
    (void)state;

    t = render(&ni, "en");
    must_have(t, "encryption at rest");
    must_have(t, "connection to the aggregator is encrypted");
    must_have(t, "Only masked model updates leave the store");
    must_lack(t, "differential privacy");
    free(t);
    t = render(&ni, "zh-TW");
    must_have(t, "遮罩");
    must_lack(t, "差分隱私");
    free(t);

    ni.differential_privacy = 1;
    ni.secure_aggregation = 0;
    t = render(&ni, "en");
    must_have(t, "differential privacy");
    must_lack(t, "masked");
    free(t);
    t = render(&ni, "zh-TW");
    must_have(t, "差分隱私");
    must_lack(t, "遮罩");
    free(t);
}

static void
test_bad_arguments(void **state)
{
    notice_info ni = base;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len), *ro;
    (void)state;

    assert_non_null(f);
    assert_int_equal(notice_write(f, &base, "fr"), FR_EINVAL);
    assert_int_equal(notice_write(f, &base, "zh"), FR_EINVAL);
    assert_int_equal(notice_write(f, &base, "EN"), FR_EINVAL);
    assert_int_equal(notice_write(f, &base, ""), FR_EINVAL);
    assert_int_equal(notice_write(f, &base, NULL), FR_EINVAL);
    assert_int_equal(notice_write(f, NULL, "en"), FR_EINVAL);
    assert_int_equal(notice_write(NULL, &base, "en"), FR_EINVAL);
    ni.retention_days = -1;
    assert_int_equal(notice_write(f, &ni, "en"), FR_EINVAL);
    ni = base;
    ni.store_name = "store\n# fake heading";
    assert_int_equal(notice_write(f, &ni, "en"), FR_EINVAL);
    ni = base;
    ni.aggregator = NULL;
    assert_int_equal(notice_write(f, &ni, "en"), FR_EINVAL);
    fclose(f);
    assert_int_equal(len, 0); /* nothing written on a refusal */
    free(text);

    ro = fopen("/dev/null", "r");
    assert_non_null(ro);
    assert_int_equal(notice_write(ro, &base, "en"), FR_ESYS);
    fclose(ro);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_both_languages),
        cmocka_unit_test(test_retention),
        cmocka_unit_test(test_rights_name_their_commands),
        cmocka_unit_test(test_columns_and_identifiers_named),
        cmocka_unit_test(test_protections_follow_config),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
