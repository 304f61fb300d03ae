/*
 * test_consent_import.c - `consent import FILE`: the bulk consent file read
 * as the CSV it is (csv.c). Quoted fields, CRLF, a BOM, a header and spaces
 * around fields are read as a spreadsheet means them; every broken or
 * ambiguous record (too long, empty or extra fields, a NUL byte, bytes that
 * are not UTF-8, an open quote, text after a closing quote, a bad word or
 * time) refuses the whole file with "FILE:LINE: reason", vault.sealed left
 * byte for byte as it was, and the message never holds the member id.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vault.h"

#define NOW 1800000000

typedef struct fixture {
    char dir[64];
    char store[96];
    char csv[128];
} fixture;

static int
setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    vault_init_opts o = {.name = "store01", .connect = "tcp://127.0.0.1:1",
                         .server_key = "", .n_items = 50};
    char err[512];

    assert_non_null(fx);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/fr-consent-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(fx->store, sizeof fx->store, "%s/store", fx->dir);
    snprintf(fx->csv, sizeof fx->csv, "%s/consent.csv", fx->dir);
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

static void
write_bytes(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static uint8_t *
slurp(const fixture *fx, size_t *len)
{
    char p[256];
    FILE *f;
    uint8_t *buf;
    long n;

    snprintf(p, sizeof p, "%s/vault.sealed", fx->store);
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

static vault *
open_ok(const fixture *fx)
{
    vault *v = NULL;
    char err[512];

    assert_int_equal(vault_open(fx->store, NULL, &v, err, sizeof err), FR_OK);
    return v;
}

static bool
consents(const vault *v, const char *raw, vault_purpose p)
{
    char pid[VAULT_PID_CHARS + 1];

    vault_pseudonym(v, raw, pid);
    return vault_consents(v, pid, p);
}

/* Imports len bytes: FR_OK with the number of changes. */
static size_t
import_ok(const fixture *fx, const char *data, size_t len)
{
    vault *v = open_ok(fx);
    char err[512] = "";
    size_t n = 99;

    write_bytes(fx->csv, data, len);
    assert_int_equal(vault_consent_import(v, fx->csv, NOW, &n, err,
                                          sizeof err),
                     FR_OK);
    vault_close(&v);
    return n;
}

/* Imports len bytes and expects a refusal naming the file, the line and
 * the reason (and not the id), with vault.sealed unchanged and M-KEEP's
 * grant still there. */
static void
refused(const fixture *fx, const char *data, size_t len, unsigned line,
        const char *reason, const char *id)
{
    vault *v = open_ok(fx);
    char err[512] = "", want[256];
    size_t n = 0, was_len, now_len;
    uint8_t *was, *now;

    assert_int_equal(vault_consent_set(v, "M-KEEP", VAULT_TRAINING, 1, 5),
                     FR_OK);
    was = slurp(fx, &was_len);
    write_bytes(fx->csv, data, len);
    assert_int_equal(vault_consent_import(v, fx->csv, NOW, &n, err,
                                          sizeof err),
                     FR_EINVAL);
    snprintf(want, sizeof want, "%s:%u: ", fx->csv, line);
    if (strncmp(err, want, strlen(want)) || !strstr(err, reason))
        fail_msg("message \"%s\", expected \"%s...%s\"", err, want, reason);
    if (id && strstr(err + strlen(fx->csv), id))
        fail_msg("message \"%s\" quotes the member id", err);
    vault_close(&v);
    now = slurp(fx, &now_len);
    assert_int_equal(now_len, was_len);
    assert_memory_equal(now, was, was_len);
    free(was);
    free(now);
    v = open_ok(fx);
    assert_true(consents(v, "M-KEEP", VAULT_TRAINING));
    assert_false(consents(v, "M-NEW", VAULT_TRAINING));
    vault_close(&v);
}

#define REFUSED(fx, lit, line, reason, id)                                     \
    refused(fx, lit, sizeof lit - 1, line, reason, id)
#define IMPORT_OK(fx, lit) import_ok(fx, lit, sizeof lit - 1)

/* A spreadsheet's export: BOM, quoted header and fields, CRLF, spaces
 * around fields, a quoted field holding doubled quotes. */
static void
test_spreadsheet_export(void **state)
{
    fixture *fx = *state;
    vault *v;

    assert_int_equal(
        IMPORT_OK(fx, "\xEF\xBB\xBF\"member_id\",\"purpose\",\"action\","
                      "\"time\"\r\n"
                      "\"17850\",\"training\",\"grant\",\"1700000000\"\r\n"
                      " M-ALICE ,\tmarketing , grant\r\n"
                      "\r\n"
                      "\"M-\"\"Q\"\"\", training ,grant, 1700000001 \r\n"
                      "M-BOB,training,grant,\r\n"),
        4);
    v = open_ok(fx);
    assert_true(consents(v, "17850", VAULT_TRAINING));
    assert_false(consents(v, "\"17850\"", VAULT_TRAINING));
    assert_true(consents(v, "M-ALICE", VAULT_MARKETING));
    assert_false(consents(v, "M-ALICE", VAULT_TRAINING));
    assert_true(consents(v, "M-\"Q\"", VAULT_TRAINING));
    assert_true(consents(v, "M-BOB", VAULT_TRAINING)); /* empty time: now */
    vault_close(&v);
    /* The plain header of the documented format, LF only. */
    assert_int_equal(IMPORT_OK(fx, "member_id,purpose,action\n"
                                   "17850,training,withdraw,1700000005\n"),
                     1);
    v = open_ok(fx);
    assert_false(consents(v, "17850", VAULT_TRAINING));
    vault_close(&v);
}

/* A record longer than the old 1,024-byte line: read whole, not cut into
 * two lines (a 2,000-byte record of spaces is one valid record; one over
 * the 4 KiB limit is refused, not read as several). */
static void
test_long_records(void **state)
{
    fixture *fx = *state;
    char *buf = malloc(8192);
    size_t n = 0;
    vault *v;

    assert_non_null(buf);
    n += (size_t)sprintf(buf, "M-LONG,training,grant,");
    memset(buf + n, ' ', 2000);
    n += 2000;
    n += (size_t)sprintf(buf + n, "1700000000\n");
    assert_int_equal(import_ok(fx, buf, n), 1);
    v = open_ok(fx);
    assert_true(consents(v, "M-LONG", VAULT_TRAINING));
    vault_close(&v);
    /* Five 1,023-byte pieces each of which the old reader took as a line. */
    n = 0;
    for (int i = 0; i < 5; i++) {
        size_t at = n;
        n += (size_t)sprintf(buf + n, "M-NEW,training,grant,1,");
        memset(buf + n, 'y', 1023 - (n - at));
        n = at + 1023;
    }
    buf[n++] = '\n';
    refused(fx, buf, n, 1, "record longer than 4096 bytes", "M-NEW");
    free(buf);
}

static void
test_field_counts(void **state)
{
    fixture *fx = *state;

    REFUSED(fx, "M-NEW,,training,grant\n", 1,
            "field 2: expected training or marketing", "M-NEW");
    REFUSED(fx, "M-NEW,training,,grant\n", 1,
            "field 3: expected grant or withdraw", "M-NEW");
    REFUSED(fx, ",M-NEW,training,grant\n", 1, "field 1 (member id) is empty",
            NULL);
    REFUSED(fx, "M-NEW,training,grant\nM-X,training,grant,1,extra\n", 2,
            "5 fields, expected 3 or 4", "M-X");
    REFUSED(fx, "member_id,purpose,action\nM-NEW,training\n", 2,
            "2 fields, expected 3 or 4", "M-NEW");
    REFUSED(fx, "M-NEW\n", 1, "1 field, expected 3 or 4", "M-NEW");
    REFUSED(fx, "  ,training,grant\n", 1, "field 1 (member id) is empty",
            NULL);
}

static void
test_bad_bytes(void **state)
{
    fixture *fx = *state;

    REFUSED(fx, "M-NEW,training,grant\0junk\n", 1, "contains a NUL byte",
            "M-NEW");
    REFUSED(fx, "M-NEW,training,grant\nM-\xFF,training,grant\n", 2,
            "not valid UTF-8 (byte 3 of the record)", NULL);
    REFUSED(fx, "M-\xC0\xAF,training,grant\n", 1, "not valid UTF-8", NULL);
    REFUSED(fx, "M-NEW\x01X,training,grant\n", 1,
            "field 1 (member id) contains control characters", "M-NEW");
}

static void
test_bad_quoting(void **state)
{
    fixture *fx = *state;

    REFUSED(fx, "M-NEW,training,grant\n\"M-OPEN,training,grant\n", 2,
            "unterminated quoted field", "M-OPEN");
    REFUSED(fx, "\"M-NEW\"x,training,grant\n", 1,
            "malformed quoting (text after a closing quote)", "M-NEW");
    /* A quoted newline is one record, named by its first line, and no
     * member id holds a line end. */
    REFUSED(fx, "M-NEW,training,grant\n\"M-A\nB\",training,grant\n", 2,
            "field 1 (member id) contains control characters", "M-A");
}

static void
test_bad_words_and_times(void **state)
{
    fixture *fx = *state;

    REFUSED(fx, "M-NEW,Training,grant\n", 1,
            "field 2: expected training or marketing", "M-NEW");
    REFUSED(fx, "M-NEW,training,GRANT\n", 1,
            "field 3: expected grant or withdraw", "M-NEW");
    REFUSED(fx, "M-NEW,training,grant,1900000000\n", 1,
            "field 4: expected a unix time not in the future", "M-NEW");
    REFUSED(fx, "M-NEW,training,grant,12abc\n", 1,
            "field 4: expected a unix time not in the future", "M-NEW");
    REFUSED(fx,
            "M-NEW,training,grant,1\n"
            "M-0123456789012345678901234567890123456789012345678901234567890123,"
            "training,grant\n",
            2, "field 1 (member id) is longer than 63 bytes", "M-01234");
}

/* The store's member-id policy applies as at every other door. */
static void
test_member_policy(void **state)
{
    fixture *fx = *state;
    vault_member_policy mp = vault_policy_recommended;
    char err[512] = "";
    size_t n = 0;
    vault *v = open_ok(fx);

    vault_set_member_policy(v, &mp);
    write_bytes(fx->csv, "\"17850.0\",training,grant\n", 25);
    assert_int_equal(vault_consent_import(v, fx->csv, NOW, &n, err,
                                          sizeof err),
                     FR_OK);
    assert_int_equal(n, 1);
    assert_true(consents(v, "17850", VAULT_TRAINING));
    vault_close(&v);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_spreadsheet_export, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_long_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_field_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_quoting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_words_and_times, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_member_policy, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
