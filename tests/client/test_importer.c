/*
 * test_importer.c - the minimising CSV import: only the allow-listed columns
 * are kept, every other column is reported (identifiers flagged, in English
 * and Traditional Chinese), quoting and BOMs work, each validation error names
 * its line, several errors are collected at once, and any error means no
 * rows at all.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "importer.h"
#include "profile.h"

#define NOW 1700000000LL

static char path[] = "/tmp/fr-import-XXXXXX";

static int
setup(void **state)
{
    int fd = mkstemp(path);
    (void)state;
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    unlink(path);
    return 0;
}

static void
write_bytes(const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    fclose(f);
}

static void
write_text(const char *text)
{
    write_bytes(text, strlen(text));
}

/* Parses the file, expecting success. */
static import_result *
parse_ok(void)
{
    import_result *r = NULL;
    char err[2048] = "";

    if (import_parse_legacy(path, 10, NOW, 20, &r, err, sizeof err) != FR_OK)
        fail_msg("unexpected failure: %s", err);
    assert_non_null(r);
    return r;
}

static void
assert_names(char (*got)[IMPORT_NAME_MAX], size_t n, const char *const *want)
{
    size_t i = 0;

    for (; want[i]; i++) {
        if (i >= n)
            fail_msg("missing '%s'", want[i]);
        if (strcmp(got[i], want[i]))
            fail_msg("[%zu]: '%s', want '%s'", i, got[i], want[i]);
    }
    if (i != n)
        fail_msg("%zu names, want %zu (extra '%s')", n, i, got[i]);
}

static void
test_keeps_only_allowed_columns(void **state)
{
    static const char *const discarded[] = {
        "Name",       "Email",      "phone", "Address",
        "birth_date", "Store Name", "notes", NULL};
    static const char *const identifiers[] = {"Name",    "Email",      "phone",
                                              "Address", "birth_date", NULL};
    import_result *r;
    (void)state;

    write_text("Name,member_id,Email,item_id,phone,timestamp,Address,"
               "birth_date,Store Name,notes\n"
               "\"Doe, Jane\",A1,j@example.org,5,\"+886 2 1234\",1690000000,"
               "\"1 Main St, Taipei\",1990-01-01,\"Shop, central\",ok\n"
               "\"Roe \"\"Rick\"\"\",B2,r@example.org,7,,1690000100,,,,\n");
    r = parse_ok();
    assert_int_equal(r->n_rows, 2);
    assert_string_equal(r->rows[0].member_id, "A1");
    assert_int_equal(r->rows[0].item, 5);
    assert_int_equal(r->rows[0].timestamp, 1690000000);
    assert_int_equal(r->rows[0].quantity, 1);
    assert_string_equal(r->rows[1].member_id, "B2");
    assert_int_equal(r->rows[1].item, 7);
    assert_int_equal(r->has_quantity, 0);
    assert_names(r->discarded, r->n_discarded, discarded);
    assert_names(r->identifiers, r->n_identifiers, identifiers);
    import_result_destroy(&r);
    assert_null(r);
    import_result_destroy(&r);
    import_result_destroy(NULL);
}

static void
test_chinese_header(void **state)
{
    static const char *const discarded[] = {"會員姓名",   "聯絡電話", "手機",
                                            "通訊地址",   "電子郵件", "生日",
                                            "身分證字號", "備註",     NULL};
    static const char *const identifiers[] = {"會員姓名",   "聯絡電話", "手機",
                                              "通訊地址",   "電子郵件", "生日",
                                              "身分證字號", NULL};
    import_result *r;
    (void)state;

    write_text("會員姓名,member_id,聯絡電話,手機,item_id,timestamp,通訊地址,"
               "電子郵件,生日,身分證字號,備註\n"
               "王小明,M001,02-1234,0912,3,1690000000,台北市,a@b.tw,0101,"
               "A123,常客\n");
    r = parse_ok();
    assert_int_equal(r->n_rows, 1);
    assert_string_equal(r->rows[0].member_id, "M001");
    assert_names(r->discarded, r->n_discarded, discarded);
    assert_names(r->identifiers, r->n_identifiers, identifiers);
    import_result_destroy(&r);
}

static void
test_identifier_variants(void **state)
{
    static const char *const identifiers[] = {
        "first-name",     "LastName",    "E-Mail",
        "mobile_phone",   "zip code",    "DOB",
        "National ID No", "client ip",   "credit card number",
        "customer_name",  "homeaddress", "Tel.",
        "date of birth",  "SSN",         "iban",
        "passport_no",    "IPAddress",   NULL};
    static const char *const discarded_rest[] = {
        "product_name", "hotel",       "shipping", "item name",
        "paid_number",  "description", NULL};
    import_result *r;
    size_t n_ids = 0, i;
    (void)state;

    write_text("first-name,LastName,E-Mail,mobile_phone,zip code,DOB,"
               "National ID No,client ip,credit card number,customer_name,"
               "homeaddress,Tel.,date of birth,SSN,iban,passport_no,IPAddress,"
               "product_name,hotel,shipping,item name,paid_number,"
               "description,member_id,item_id,timestamp\n");
    r = parse_ok();
    assert_int_equal(r->n_rows, 0);
    assert_names(r->identifiers, r->n_identifiers, identifiers);
    while (identifiers[n_ids])
        n_ids++;
    for (i = 0; discarded_rest[i]; i++)
        assert_string_equal(r->discarded[n_ids + i], discarded_rest[i]);
    assert_int_equal(r->n_discarded, n_ids + i);
    import_result_destroy(&r);
}

static void
test_bom_case_spaces_quantity(void **state)
{
    import_result *r;
    (void)state;

    write_text("\xEF\xBB\xBF Member_ID ,ITEM_ID,\"Timestamp \",Quantity\r\n"
               " A1 ,1, 5 ,3\r\n"
               "\r\n"
               "B2,2,6,1\r\n");
    r = parse_ok();
    assert_int_equal(r->has_quantity, 1);
    assert_int_equal(r->n_discarded, 0);
    assert_int_equal(r->n_rows, 2);
    assert_string_equal(r->rows[0].member_id, "A1");
    assert_int_equal(r->rows[0].timestamp, 5);
    assert_int_equal(r->rows[0].quantity, 3);
    assert_int_equal(r->rows[1].quantity, 1);
    import_result_destroy(&r);

    /* a BOM right before a quoted first name */
    write_text("\xEF\xBB\xBF\"member_id\",item_id,timestamp\nA1,1,5\n");
    r = parse_ok();
    assert_int_equal(r->n_rows, 1);
    import_result_destroy(&r);
}

static void
test_quoted_fields(void **state)
{
    import_result *r;
    char err[1024] = "";
    (void)state;

    /* commas, doubled quotes, a newline inside a quoted discarded field and a
     * quote inside an unquoted one */
    write_text("name,member_id,item_id,timestamp,note\n"
               "\"Chen, \"\"Amy\"\"\",\"A,1\",1,5,\"two\nlines\"\n"
               "O\"Brien , B2 ,2,6, \"spaced\" \n");
    r = parse_ok();
    assert_int_equal(r->n_rows, 2);
    assert_string_equal(r->rows[0].member_id, "A,1");
    assert_string_equal(r->rows[1].member_id, "B2");
    import_result_destroy(&r);

    /* the line after a two-line record is line 4 */
    write_text("name,member_id,item_id,timestamp\n"
               "\"Chen\nAmy\",A1,1,5\n"
               "x,B2,99,5\n");
    assert_int_equal(
        import_parse_legacy(path, 10, NOW, 20, &r, err, sizeof err),
        FR_EINVAL);
    assert_non_null(strstr(err, ":4: item_id"));
}

/* Parses text, expecting FR_EINVAL, no result and a message containing
 * want together with the path. */
static void
expect_error(const char *text, size_t len, const char *want)
{
    import_result *r = (import_result *)&r;
    char err[2048] = "";

    write_bytes(text, len);
    assert_int_equal(
        import_parse_legacy(path, 10, NOW, 20, &r, err, sizeof err),
        FR_EINVAL);
    assert_null(r);
    if (!strstr(err, want))
        fail_msg("error '%s' does not contain '%s'", err, want);
    if (strncmp(err, path, strlen(path)))
        fail_msg("error '%s' does not start with the path", err);
}

#define EXPECT(text, want) expect_error(text, sizeof(text) - 1, want)
#define HDR                "member_id,item_id,timestamp\n"
#define HDRQ               "member_id,item_id,timestamp,quantity\n"

static void
test_each_error_names_its_line(void **state)
{
    (void)state;
    EXPECT("member_id,item_id\nA,1\n",
           ":1: header lacks the required column(s) timestamp");
    EXPECT("name\n\nA\n",
           ":1: header lacks the required column(s) member_id, item_id, "
           "timestamp");
    EXPECT("member_id,item_id,timestamp,MEMBER_ID\n",
           ":1: header names member_id more than once");
    EXPECT(HDR "A,1,5\n,1,5\n", ":3: member_id is empty");
    EXPECT(HDR "A,,5\n", ":2: item_id is empty");
    EXPECT(HDR "A,1,\n", ":2: timestamp is empty");
    EXPECT(HDR "A,1\n", ":2: wrong field count: 2, the header has 3");
    EXPECT(HDR "A,1,5,x\n", ":2: wrong field count: 4, the header has 3");
    EXPECT(HDR "A,10,5\n", ":2: item_id is not an integer in [0, 10)");
    EXPECT(HDR "A,-1,5\n", ":2: item_id is not an integer in [0, 10)");
    EXPECT(HDR "A,1x,5\n", ":2: item_id is not an integer in [0, 10)");
    EXPECT(HDR "A,1,5.5\n",
           ":2: timestamp is not an integer unix time in seconds");
    EXPECT(HDR "A,1,2023-11-14\n",
           ":2: timestamp is not an integer unix time in seconds");
    EXPECT(HDR "A,1,-4\n", ":2: negative timestamp");
    EXPECT(HDRQ "A,1,5,0\n", ":2: quantity is not an integer >= 1");
    EXPECT(HDRQ "A,1,5,-2\n", ":2: quantity is not an integer >= 1");
    EXPECT(HDRQ "A,1,5,2.5\n", ":2: quantity is not an integer >= 1");
    EXPECT(HDRQ "A,1,5,4294967296\n", ":2: quantity is not an integer >= 1");
    EXPECT(HDRQ "A,1,5,\n", ":2: quantity is empty");
    EXPECT(HDR "A\xff,1,5\n", ":2: not valid UTF-8 (byte 2 of the record)");
    EXPECT(HDR "A\xc0\xaf,1,5\n", ":2: not valid UTF-8");     /* overlong */
    EXPECT(HDR "A\xed\xa0\x80,1,5\n", ":2: not valid UTF-8"); /* surrogate */
    EXPECT(HDR "A\xe6\x9c,1,5\n", ":2: not valid UTF-8");     /* truncated */
    EXPECT(HDR "A\0,1,5\n", ":2: contains a NUL byte");
    EXPECT(HDR "A\x01,1,5\n", ":2: member_id contains control characters");
    EXPECT(HDR "\"A\tB\",1,5\n", ":2: member_id contains control");
    EXPECT(HDR "\"A\nB\",1,5\n", ":2: member_id contains control");
    EXPECT(HDR "A,1,5\n\"B,1,5\n", ":3: unterminated quoted field");
    EXPECT(HDR "\"A\"x,1,5\n", ":2: malformed quoting");
    EXPECT("\"member_id,item_id,timestamp\n", ":1: unterminated quoted");
    EXPECT("member_id,item_id,timestamp\xff\n", ":1: not valid UTF-8");
    /* several reasons on one line are joined */
    EXPECT(HDR "A,11,-1\n", ":2: item_id is not an integer in [0, 10); "
                            "negative timestamp");
}

static void
test_member_id_length(void **state)
{
    char text[256];
    import_result *r;
    int n;
    (void)state;

    n = snprintf(text, sizeof text, HDR);
    memset(text + n, 'm', IMPORT_MEMBER_ID_MAX - 1);
    snprintf(text + n + IMPORT_MEMBER_ID_MAX - 1,
             sizeof text - (size_t)n - IMPORT_MEMBER_ID_MAX + 1, ",1,5\n");
    write_text(text);
    r = parse_ok();
    assert_int_equal(strlen(r->rows[0].member_id), IMPORT_MEMBER_ID_MAX - 1);
    import_result_destroy(&r);

    memset(text + n, 'm', IMPORT_MEMBER_ID_MAX);
    snprintf(text + n + IMPORT_MEMBER_ID_MAX,
             sizeof text - (size_t)n - IMPORT_MEMBER_ID_MAX, ",1,5\n");
    expect_error(text, strlen(text), ":2: member_id is longer than 63 bytes");
}

static void
test_long_record(void **state)
{
    size_t n, len = IMPORT_MAX_RECORD + 200;
    char *text = malloc(len + 100);
    (void)state;

    assert_non_null(text);
    n = (size_t)sprintf(text, HDR "A,1,5\nB,1,5,");
    memset(text + n, 'x', IMPORT_MAX_RECORD);
    n += IMPORT_MAX_RECORD;
    n += (size_t)sprintf(text + n, "\nC,1,99999999999\n");
    expect_error(text, n, ":3: record longer than 65536 bytes");
    /* parsing goes on after the long line */
    expect_error(text, n, ":4: future timestamp");
    free(text);
}

static void
test_future_timestamp(void **state)
{
    char text[256];
    import_result *r;
    (void)state;

    snprintf(text, sizeof text, HDR "A,1,%lld\n", NOW + 86400);
    write_text(text);
    r = parse_ok();
    assert_int_equal(r->rows[0].timestamp, NOW + 86400);
    import_result_destroy(&r);

    snprintf(text, sizeof text, HDR "A,1,%lld\n", NOW + 86401);
    expect_error(text, strlen(text), ":2: future timestamp");
    snprintf(text, sizeof text, HDR "A,1,%lld\n", NOW * 1000);
    expect_error(text, strlen(text),
                 ":2: future timestamp (milliseconds instead of seconds?)");
    EXPECT(HDR "A,1,99999999999999999999\n",
           ":2: timestamp is not an integer unix time in seconds");
}

static void
test_several_errors_collected(void **state)
{
    import_result *r = NULL;
    char err[2048] = "";
    size_t lines = 0;
    (void)state;

    write_text(HDR "A,1,5\n"   /* 2 good */
                   "B,x,5\n"   /* 3 */
                   "C,1,6\n"   /* 4 good */
                   ",1,5\n"    /* 5 */
                   "D,1,-5\n"  /* 6 */
                   "E,2,7\n"); /* 7 good */
    assert_int_equal(
        import_parse_legacy(path, 10, NOW, 20, &r, err, sizeof err),
        FR_EINVAL);
    assert_null(r);
    assert_non_null(strstr(err, ":3: item_id"));
    assert_non_null(strstr(err, ":5: member_id is empty"));
    assert_non_null(strstr(err, ":6: negative timestamp"));
    for (const char *p = err; (p = strchr(p, '\n')); p++)
        lines++;
    assert_int_equal(lines, 2);
    assert_true(strstr(err, ":3:") < strstr(err, ":5:"));

    /* at most max_errors shown, then how many more */
    assert_int_equal(
        import_parse_legacy(path, 10, NOW, 2, &r, err, sizeof err),
        FR_EINVAL);
    assert_non_null(strstr(err, ":3: item_id"));
    assert_non_null(strstr(err, ":5: member_id"));
    assert_null(strstr(err, ":6:"));
    assert_non_null(strstr(err, ": 1 more error not shown"));
    assert_int_equal(
        import_parse_legacy(path, 10, NOW, 0, &r, err, sizeof err),
        FR_EINVAL);
    assert_non_null(strstr(err, ":3: item_id"));
    assert_non_null(strstr(err, ": 2 more errors not shown"));
}

static void
test_all_or_nothing(void **state)
{
    import_result *r = NULL;
    char err[512] = "";
    char text[64 * 1024];
    size_t n;
    (void)state;

    /* enough good rows to grow the row array, then one bad row */
    n = (size_t)snprintf(text, sizeof text, HDR);
    for (int i = 0; i < 2000; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "M%d,%d,%d\n", i,
                              i % 10, 1000 + i);
    write_text(text);
    r = parse_ok();
    assert_int_equal(r->n_rows, 2000);
    assert_string_equal(r->rows[1999].member_id, "M1999");
    assert_int_equal(r->rows[1999].timestamp, 2999);
    import_result_destroy(&r);

    snprintf(text + n, sizeof text - n, "Z,1,-1\n");
    write_text(text);
    assert_int_equal(
        import_parse_legacy(path, 10, NOW, 20, &r, err, sizeof err),
        FR_EINVAL);
    assert_null(r);
    assert_non_null(strstr(err, ":2002: negative timestamp"));
}

static void
test_empty_and_header_only(void **state)
{
    import_result *r;
    (void)state;

    write_text("");
    r = parse_ok();
    assert_int_equal(r->n_rows, 0);
    assert_int_equal(r->n_discarded, 0);
    import_result_destroy(&r);

    write_text("\xEF\xBB\xBFmember_id,item_id,timestamp,email\n\n");
    r = parse_ok();
    assert_int_equal(r->n_rows, 0);
    assert_int_equal(r->n_discarded, 1);
    assert_int_equal(r->n_identifiers, 1);
    assert_string_equal(r->identifiers[0], "email");
    import_result_destroy(&r);
}

static void
test_non_utf8_in_discarded_column(void **state)
{
    (void)state;
    /* Latin-1 "Jérôme" in a column that would be dropped anyway */
    EXPECT("name,member_id,item_id,timestamp\n"
           "Ann,A1,1,5\n"
           "J\xe9r\xf4me,B2,1,5\n",
           ":3: not valid UTF-8");
}

static void
test_missing_file_and_small_errbuf(void **state)
{
    import_result *r = NULL;
    char err[512] = "";
    char tiny[12];
    (void)state;

    assert_int_equal(
        import_parse_legacy("/nonexistent/x.csv", 10, NOW, 20, &r, err,
                            sizeof err),
        FR_ENOENT);
    assert_null(r);
    assert_non_null(strstr(err, "/nonexistent/x.csv: cannot open"));

    write_text(HDR "A,x,5\nB,x,5\n");
    memset(tiny, 'z', sizeof tiny);
    assert_int_equal(
        import_parse_legacy(path, 10, NOW, 20, &r, tiny, sizeof tiny),
        FR_EINVAL);
    assert_int_equal(strlen(tiny), sizeof tiny - 1);
    assert_int_equal(import_parse_legacy(path, 10, NOW, 20, &r, NULL, 0),
                     FR_EINVAL);
}

static void
test_long_name_cut_on_character(void **state)
{
    char text[512];
    import_result *r;
    int n;
    (void)state;

    /* 'x' and 30 three-byte characters: 91 bytes; byte 63 is inside a
     * character, so the name is cut to 61 bytes */
    n = snprintf(text, sizeof text, HDR);
    text[n - 1] = ',';
    text[n++] = 'x';
    for (int i = 0; i < 30; i++)
        n += snprintf(text + n, sizeof text - (size_t)n, "備");
    snprintf(text + n, sizeof text - (size_t)n, "\n");
    write_text(text);
    r = parse_ok();
    assert_int_equal(r->n_discarded, 1);
    assert_int_equal(strlen(r->discarded[0]), 61);
    import_result_destroy(&r);
}

static void
test_long_header_name(void **state)
{
    char text[2048];
    import_result *r;
    int n;
    (void)state;

    /* longer than the name normaliser's buffer, camelCase all along; each
     * prefix length ends the buffer at a different byte */
    for (int prefix = 0; prefix < 3; prefix++) {
        n = snprintf(text, sizeof text, HDR);
        text[n - 1] = ',';
        for (int i = 0; i < prefix; i++)
            text[n++] = 'x';
        for (int i = 0; i < 200; i++)
            n += snprintf(text + n, sizeof text - (size_t)n, "aB");
        n += snprintf(text + n, sizeof text - (size_t)n, "Email,");
        for (int i = 0; i < 300; i++)
            n += snprintf(text + n, sizeof text - (size_t)n, "-");
        snprintf(text + n, sizeof text - (size_t)n, "\n");
        write_text(text);
        r = parse_ok();
        assert_int_equal(r->n_discarded, 2);
        assert_int_equal(r->n_identifiers, 0); /* "Email" is past the cut */
        import_result_destroy(&r);
    }
}

static void
test_exported_lists(void **state)
{
    size_t n = 0;
    (void)state;

    assert_string_equal(import_kept_columns[0], "member_id");
    assert_string_equal(import_kept_columns[1], "item_id");
    assert_string_equal(import_kept_columns[2], "timestamp");
    assert_string_equal(import_kept_columns[3], "quantity");
    assert_null(import_kept_columns[4]);
    while (import_identifier_names[n])
        n++;
    assert_true(n >= 40);
}

/* ---- profiles, row outcomes and counts ------------------------------- */

/* The Online Retail export's exact column shape: header and 29 rows. */
static const char online_retail_sample[] =
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,"
    "CustomerID,Country\n"
    /* 2 */ "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,"
    "2010-12-01 08:26:00,2.55,17850.0,United Kingdom\n"
    /* 3 */ "536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,3.39,"
    "17850.0,United Kingdom\n"
    /* 4 */ "536365,84406B,\"CREAM CUPID HEARTS COAT HANGER\",8,12/1/2010 "
    "8:26,2.75,17850,United Kingdom\n"
    /* 5 */ "536366,22633,HAND WARMER UNION JACK,6,12/1/2010 8:28,1.85,"
    "17850.0,United Kingdom\n"
    /* 6 */ "536367,84879,ASSORTED COLOUR BIRD ORNAMENT,32,"
    "2010-12-01T08:34:00Z,1.69,13047.0,United Kingdom\n"
    /* 7 */ "536367,22745,\"POPPY'S PLAYHOUSE BEDROOM \",6,"
    "2010-12-01 08:34:00,2.1,13047.0,United Kingdom\n"
    /* 8 */ "536367,POST,POSTAGE,1,2010-12-01 08:34:00,18,13047.0,"
    "United Kingdom\n"
    /* 9 */ "C536379,D,Discount,-1,2010-12-01 09:41:00,27.5,14527.0,"
    "United Kingdom\n"
    /* 10 */ "C536383,35004C,SET OF 3 COLOURED  FLYING DUCKS,-1,12/1/2010 "
    "9:49,4.65,15311.0,United Kingdom\n"
    /* 11 */ "C536391,22556,PLASTERS IN TIN CIRCUS PARADE ,12,"
    "2010-12-01 10:24:00,1.65,17548.0,United Kingdom\n"
    /* 12 */ "536392,22553,PLASTERS IN TIN SKULLS,-2,2010-12-01 10:29:00,"
    "1.65,13705.0,United Kingdom\n"
    /* 13 */ "536414,22139,,56,2010-12-01 11:52:00,0,,United Kingdom\n"
    /* 14 */ "536544,21773,DECORATIVE ROSE BATHROOM BOTTLE,1,"
    "2010-12-01 14:32:00,2.51,,United Kingdom\n"
    /* 15 */ "536544,21774,DECORATIVE CATS BATHROOM BOTTLE,2,"
    "2010-12-01 14:32:00,2.51,   ,United Kingdom\n"
    /* 16 */ "536545,21777,RECIPE BOX WITH METAL HEART,0,2010-12-01 14:32:00,"
    "7.95,16218.0,United Kingdom\n"
    /* 17 */ "536546,22180,RETROSPOT LAMP,1.5,2010-12-01 14:33:00,9.95,"
    "16218.0,United Kingdom\n"
    /* 18 */ "536547,gift_0001_40,Dotcomgiftshop Gift Voucher £40.00,1,"
    "2010-12-01 14:34:00,34.04,16218.0,United Kingdom\n"
    /* 19 */ "536548,BANK CHARGES,Bank Charges,1,2010-12-01 14:35:00,15,"
    "16218.0,United Kingdom\n"
    /* 20 */ "536549,85123a,lower sku,2,2010-12-01 14:36:00,2.55,12583,"
    "France\n"
    /* 21 */ "536550,DOT,DOTCOM POSTAGE,1,2010-12-01 14:37:00,569.77,,"
    "United Kingdom\n"
    /* 22 */ "536551,22728,ALARM CLOCK BAKELIKE PINK,24,12/2/2010 9:05,3.75,"
    "12583.0,France\n"
    /* 23 */ "536552,22727,ALARM CLOCK BAKELIKE RED ,24,12/2/2010 9:05,3.75,"
    "12583.00,France\n"
    /* 24 */ "536553,22726,ALARM CLOCK BAKELIKE GREEN,12,12/2/2010 9:05,"
    "3.75,12583,France\n"
    /* 25 */ "536554,M,Manual,1,12/2/2010 9:06,0.85,12583.0,France\n"
    /* 26 */ "536555,21731,RED TOADSTOOL LED NIGHT LIGHT,0.25,12/2/2010 9:07,"
    "1.65,12662.0,Germany\n"
    /* 27 */ "C536556,21731,RED TOADSTOOL LED NIGHT LIGHT,-0.125,"
    "12/2/2010 9:08,1.65,12662.0,Germany\n"
    /* 28 */ "536557,22086,\"PAPER CHAIN KIT 50'S CHRISTMAS \",80,"
    "12/2/2010 9:09,2.55,12662.0,Germany\n"
    /* 29 */ "536558,84029E,\"RED WOOLLY HOTTIE, WHITE HEART.\",6,"
    "12/2/2010 9:10,3.39,12662,Germany\n"
    /* 30 */ "536559,22752,SET 7 BABUSHKA NESTING BOXES,2,12/2/2010 9:11,"
    "7.65,14527.0,United Kingdom\n";

static import_profile *
builtin(const char *name)
{
    import_profile *p = NULL;
    char err[512] = "";

    if (import_profile_builtin(name, &p, err, sizeof err))
        fail_msg("%s: %s", name, err);
    return p;
}

/* Parses the file under profile p and policy c, expecting success. */
static import_result *
parse_profile(const import_profile *p, const canon_policy *c)
{
    import_opts o = {.profile = p, .canon = c, .n_items = 10, .now_s = NOW,
                     .max_errors = 20};
    import_result *r = NULL;
    char err[2048] = "";

    if (import_parse(path, &o, &r, err, sizeof err) != FR_OK)
        fail_msg("unexpected failure: %s", err);
    assert_non_null(r);
    return r;
}

static void
assert_counts(const import_counts *c, uint64_t purchase, uint64_t ret,
              uint64_t guest, uint64_t non_product, uint64_t zero)
{
    assert_int_equal(c->kept_purchase, purchase);
    assert_int_equal(c->kept_return, ret);
    assert_int_equal(c->guest, guest);
    assert_int_equal(c->non_product, non_product);
    assert_int_equal(c->zero_quantity, zero);
    assert_int_equal(c->rows_read, purchase + ret + guest + non_product + zero);
}

static const import_row *
row_with(const import_result *r, const char *sku, int64_t ts)
{
    for (size_t i = 0; i < r->n_rows; i++)
        if (!strcmp(r->rows[i].sku, sku) && r->rows[i].timestamp == ts)
            return &r->rows[i];
    fail_msg("no row %s at %lld", sku, (long long)ts);
    return NULL;
}

static void
test_online_retail_sample(void **state)
{
    static const char *const discarded[] = {"InvoiceNo", "Description",
                                            "UnitPrice", "Country", NULL};
    static const char *const policy[] = {"InvoiceNo", "UnitPrice", NULL};
    import_profile *p = builtin("online-retail");
    import_result *r;
    const import_row *x;
    (void)state;

    write_text(online_retail_sample);
    r = parse_profile(p, &canon_recommended);
    assert_counts(&r->counts, 15, 4, 4, 5, 1);
    assert_int_equal(r->n_rows, 19);
    assert_int_equal(r->counts.canon_rewritten, 15);
    assert_int_equal(r->counts.canon_merged_ids, 3); /* 17850 12583 12662 */
    assert_names(r->discarded, r->n_discarded, discarded);
    assert_names(r->policy_read, r->n_policy_read, policy);
    assert_int_equal(r->n_identifiers, 0);
    assert_int_equal(r->has_quantity, 1);

    x = &r->rows[0];
    assert_string_equal(x->member_id, "17850");
    assert_string_equal(x->sku, "85123A");
    assert_int_equal(x->timestamp, 1291191960); /* 2010-12-01 08:26 UTC */
    assert_int_equal(x->qty_milli, 6000);
    assert_int_equal(x->item, UINT32_MAX); /* not a legacy index */
    assert_int_equal(row_with(r, "84406B", 1291191960)->qty_milli, 8000);
    /* a positive quantity on a C invoice, a negative one without */
    assert_int_equal(row_with(r, "22556", 1291199040)->qty_milli,
                     -12000);
    x = row_with(r, "22553", 1291199340);
    assert_int_equal(x->qty_milli, -2000);
    assert_string_equal(x->member_id, "13705");
    assert_int_equal(row_with(r, "35004C", 1291196940)->qty_milli, -1000);
    /* fractions in thousandths; the legacy quantity only when whole */
    x = row_with(r, "22180", 1291213980);
    assert_int_equal(x->qty_milli, 1500);
    assert_int_equal(x->quantity, 0);
    assert_int_equal(row_with(r, "21731", 1291280880)->qty_milli, -125);
    assert_int_equal(row_with(r, "21731", 1291280820)->qty_milli, 250);
    /* SKUs upper-cased, member ids canonical */
    assert_string_equal(row_with(r, "85123A", 1291214160)->member_id, "12583");
    import_result_destroy(&r);

    /* the legacy member-id policy rewrites and merges nothing */
    r = parse_profile(p, NULL);
    assert_counts(&r->counts, 15, 4, 4, 5, 1);
    assert_int_equal(r->counts.canon_rewritten, 0);
    assert_int_equal(r->counts.canon_merged_ids, 0);
    assert_string_equal(r->rows[0].member_id, "17850.0");
    import_result_destroy(&r);
    import_profile_destroy(&p);
}

/* Parses text under p, expecting FR_EINVAL, no result and want. */
static void
expect_profile_error(const import_profile *p, const char *text,
                     const char *want)
{
    import_opts o = {.profile = p, .n_items = 10, .now_s = NOW,
                     .max_errors = 20};
    import_result *r = (import_result *)&r;
    char err[2048] = "";

    write_text(text);
    assert_int_equal(import_parse(path, &o, &r, err, sizeof err), FR_EINVAL);
    assert_null(r);
    if (!strstr(err, want))
        fail_msg("error '%s' does not contain '%s'", err, want);
}

#define OR_HDR                                                                 \
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,"          \
    "CustomerID,Country\n"
#define OR_ROW "1,A,d,1,2010-12-01 08:26:00,1,17850.0,UK\n"

static void
test_structural_errors_refuse_the_file(void **state)
{
    import_profile *p = builtin("online-retail");
    char text[sizeof online_retail_sample + 128];
    (void)state;

    /* one bad row among the 29 good ones: nothing is kept, its line named */
    snprintf(text, sizeof text, "%s%s", online_retail_sample,
             "536560,22752,X,2,2010-02-30 10:00:00,7.65,14527.0,UK\n");
    expect_profile_error(p, text,
                         ":31: InvoiceDate is not a valid date or time");
    expect_profile_error(p, OR_HDR OR_ROW "1,A,d,1,yesterday,1,1,UK\n",
                         ":3: InvoiceDate matches none of the 3 time formats");
    expect_profile_error(p, OR_HDR "1,A,d,1,12/1/2010 24:00,1,1,UK\n",
                         ":2: InvoiceDate is not a valid date or time");
    expect_profile_error(p, OR_HDR "1,A,d,1,2101-01-01 00:00:00,1,1,UK\n",
                         ":2: InvoiceDate has a year outside 1970..2100");
    expect_profile_error(p, OR_HDR "1,A,d,1,2030-01-01 00:00:00,1,1,UK\n",
                         ":2: InvoiceDate: future time");
    expect_profile_error(p, OR_HDR "1,A,d,1.2345,2010-12-01 08:26:00,1,1,UK\n",
                         ":2: Quantity is not a number with at most 3 "
                         "decimals");
    expect_profile_error(p, OR_HDR "1,A,d,,2010-12-01 08:26:00,1,1,UK\n",
                         ":2: Quantity is empty");
    expect_profile_error(p, OR_HDR "1,A,d,x2,2010-12-01 08:26:00,1,1,UK\n",
                         ":2: Quantity is not a number");
    expect_profile_error(p, OR_HDR "1,A,d,1,2010-12-01 08:26:00,1,1\n",
                         ":2: wrong field count: 7, the header has 8");
    expect_profile_error(p, OR_HDR "1,,d,1,2010-12-01 08:26:00,1,1,UK\n",
                         ":2: StockCode is empty");
    expect_profile_error(p, OR_HDR "1,A,\xff,1,2010-12-01 08:26:00,1,1,UK\n",
                         ":2: not valid UTF-8");
    expect_profile_error(p, "InvoiceNo,StockCode,InvoiceDate,CustomerID\n",
                         ":1: header lacks the required column(s) Quantity, "
                         "UnitPrice");
    expect_profile_error(p, OR_HDR "1,A,d,1,2010-12-01 08:26:00,1,1,UK\n"
                                   "1,A\x01,d,1,2010-12-01 08:26:00,1,1,UK\n",
                         ":3: StockCode contains control characters");
    import_profile_destroy(&p);
}

static void
test_fedrec_profile_outcomes(void **state)
{
    import_result *r;
    (void)state;

    /* the default profile: unknown SKUs are left to the vault, no row is
     * refused for being a guest, a return or zero */
    write_text(HDRQ "A,1,5,2\n"      /* purchase of item 1 */
                    ",2,5,1\n"       /* guest */
                    "B,SKU-X,6,1\n"  /* kept, outside the legacy rule */
                    "C,3,7,0\n"      /* zero quantity */
                    "D,4,8,-1\n"     /* return */
                    "E,12,9,0.5\n"); /* kept: 12 is past n_items */
    r = parse_profile(NULL, NULL);
    assert_counts(&r->counts, 3, 1, 1, 0, 1);
    assert_int_equal(r->n_rows, 4);
    assert_int_equal(r->rows[0].item, 1);
    assert_int_equal(r->rows[0].quantity, 2);
    assert_int_equal(r->rows[0].qty_milli, 2000);
    assert_string_equal(r->rows[0].sku, "1");
    assert_string_equal(r->rows[1].sku, "SKU-X");
    assert_int_equal(r->rows[1].item, UINT32_MAX);
    assert_int_equal(r->rows[2].qty_milli, -1000);
    assert_int_equal(r->rows[2].quantity, 0);
    assert_int_equal(r->rows[3].item, UINT32_MAX);
    assert_int_equal(r->rows[3].qty_milli, 500);
    import_result_destroy(&r);

    /* a file valid before reads the same under the default profile */
    write_text(HDRQ " A1 ,1, 5 ,3\nB2,2,6,1\n");
    r = parse_profile(NULL, NULL);
    assert_counts(&r->counts, 2, 0, 0, 0, 0);
    assert_string_equal(r->rows[0].member_id, "A1");
    assert_int_equal(r->rows[0].item, 1);
    assert_int_equal(r->rows[0].quantity, 3);
    assert_int_equal(r->rows[0].timestamp, 5);
    import_result_destroy(&r);
    r = parse_ok(); /* and the legacy path counts its rows too */
    assert_counts(&r->counts, 2, 0, 0, 0, 0);
    import_result_destroy(&r);
}

static void
test_custom_profile(void **state)
{
    import_profile_conf c;
    import_profile *p = NULL;
    import_result *r;
    canon_policy up = canon_recommended;
    char err[512] = "";
    (void)state;

    memset(&c, 0, sizeof c);
    assert_int_equal(fr_config_defaults(&import_profile_table, &c, err,
                                        sizeof err),
                     FR_OK);
    strcpy(c.member_column, "Card");
    strcpy(c.item_column, "Code");
    strcpy(c.time_column, "When");
    strcpy(c.store_column, "Branch");
    strcpy(c.time_format_1, "%d.%m.%Y %H:%M");
    strcpy(c.time_zone, "+08:00");
    strcpy(c.guest_ids, "^(0|GUEST)$");
    strcpy(c.drop_items, "^bag$");
    if (import_profile_from_conf(&c, &p, err, sizeof err))
        fail_msg("%s", err);
    write_text("Branch,Card,Code,When\n"
               "Taipei,a7,x1,2.1.2023 3:04\n"
               "Taipei,guest,x1,2.1.2023 3:04\n" /* guest once upper-cased */
               "Taipei,0,x1,2.1.2023 3:04\n"
               "Taipei,A7,bag,2.1.2023 3:04\n"  /* non-product */
               "Taipei,A7,BAG,2.1.2023 3:04\n"); /* case matters in the ERE */
    up.id_case = CANON_CASE_UPPER;
    r = parse_profile(p, &up);
    assert_counts(&r->counts, 2, 0, 2, 1, 0);
    assert_int_equal(r->rows[0].timestamp, 1672599840); /* 03:04 at +08 */
    assert_string_equal(r->rows[0].member_id, "A7");
    assert_int_equal(r->has_quantity, 0);
    assert_int_equal(r->rows[0].qty_milli, 1000);
    assert_int_equal(r->counts.canon_rewritten, 1);
    assert_int_equal(r->counts.canon_merged_ids, 1); /* a7 and A7 */
    assert_string_equal(r->policy_read[0], "Branch");
    import_result_destroy(&r);
    expect_profile_error(p, "Card,Code,When\n", ":1: header lacks the "
                                                "required column(s) Branch");
    expect_profile_error(p, "Branch,Card,Code,When\nT,a,x,2/1/2023 3:04\n",
                         ":2: When does not match the time format "
                         "%d.%m.%Y %H:%M");
    import_profile_destroy(&p);
}

static void
test_summary_wording(void **state)
{
    import_counts c = {.rows_read = 21, .kept_purchase = 10, .kept_return = 4,
                       .guest = 3, .non_product = 2, .zero_quantity = 2,
                       .canon_rewritten = 7, .canon_merged_ids = 1};
    char text[1024] = "";
    FILE *f = fmemopen(text, sizeof text, "w");
    (void)state;

    assert_non_null(f);
    import_counts_print(&c, f);
    fclose(f);
    assert_string_equal(text, "rows read: 21\n"
                              "kept purchase rows: 10\n"
                              "kept return rows: 4\n"
                              "guest rows (no member id): 3\n"
                              "non-product codes: 2\n"
                              "zero quantity rows: 2\n"
                              "rows with a rewritten member id: 7\n"
                              "member ids seen under 2+ spellings: 1\n");
    assert_string_equal(import_policy_columns[0], "price");
    assert_string_equal(import_policy_columns[1], "invoice");
    assert_string_equal(import_policy_columns[2], "store");
    assert_null(import_policy_columns[3]);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keeps_only_allowed_columns),
        cmocka_unit_test(test_chinese_header),
        cmocka_unit_test(test_identifier_variants),
        cmocka_unit_test(test_bom_case_spaces_quantity),
        cmocka_unit_test(test_quoted_fields),
        cmocka_unit_test(test_each_error_names_its_line),
        cmocka_unit_test(test_member_id_length),
        cmocka_unit_test(test_long_record),
        cmocka_unit_test(test_future_timestamp),
        cmocka_unit_test(test_several_errors_collected),
        cmocka_unit_test(test_all_or_nothing),
        cmocka_unit_test(test_empty_and_header_only),
        cmocka_unit_test(test_non_utf8_in_discarded_column),
        cmocka_unit_test(test_missing_file_and_small_errbuf),
        cmocka_unit_test(test_long_name_cut_on_character),
        cmocka_unit_test(test_long_header_name),
        cmocka_unit_test(test_exported_lists),
        cmocka_unit_test(test_online_retail_sample),
        cmocka_unit_test(test_structural_errors_refuse_the_file),
        cmocka_unit_test(test_fedrec_profile_outcomes),
        cmocka_unit_test(test_custom_profile),
        cmocka_unit_test(test_summary_wording),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
