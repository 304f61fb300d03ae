/*
 * test_audit.c - the store's audit log: a chain that verifies, every kind of
 * tampering named by the first bad entry (edits, removal, reordering,
 * forgery, malformed lines), truncation caught only against the recorded
 * head, refused inputs, and continuing a chain after a restart.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit.h"
#include "crypto/crypto.h"

#define N         10
#define MAX_LINES 32

static char dir[] = "/tmp/fr-audit-XXXXXX";
static char path[sizeof dir + 16];
static fr_crypto_signkey *key, *other;
static const uint8_t *pk;

/* The log split into lines (each with its '\n'), for tampering. */
typedef struct lines {
    char *l[MAX_LINES];
    int n;
} lines;

static int
group_setup(void **state)
{
    (void)state;
    if (fr_crypto_init() || !mkdtemp(dir))
        return -1;
    snprintf(path, sizeof path, "%s/audit.log", dir);
    if (fr_crypto_signkey_generate(&key) || fr_crypto_signkey_generate(&other))
        return -1;
    pk = fr_crypto_signkey_public(key);
    return 0;
}

static int
group_teardown(void **state)
{
    (void)state;
    fr_crypto_signkey_destroy(&key);
    fr_crypto_signkey_destroy(&other);
    rmdir(dir);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    unlink(path);
    return 0;
}

/* Writes n entries "event_<i>" / "detail <i>" starting from an empty log. */
static void
write_log(int n, fr_audit_head *head)
{
    char detail[64];

    unlink(path);
    memset(head, 0, sizeof *head);
    for (int i = 1; i <= n; i++) {
        snprintf(detail, sizeof detail, "round %d members 42 pseud 5f3a", i);
        assert_int_equal(fr_audit_append(path, key, "round_done", detail, head),
                         FR_OK);
        assert_int_equal(head->seq, (uint64_t)i);
    }
}

static void
read_lines(lines *ls)
{
    char buf[4096];
    FILE *f = fopen(path, "rb");

    assert_non_null(f);
    ls->n = 0;
    while (fgets(buf, sizeof buf, f)) {
        assert_true(ls->n < MAX_LINES);
        ls->l[ls->n] = strdup(buf);
        assert_non_null(ls->l[ls->n]);
        ls->n++;
    }
    fclose(f);
}

static void
write_lines(lines *ls)
{
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    for (int i = 0; i < ls->n; i++)
        if (ls->l[i])
            fputs(ls->l[i], f);
    fclose(f);
    for (int i = 0; i < ls->n; i++)
        free(ls->l[i]);
    ls->n = 0;
}

/* Verifies and checks the result, the first bad entry and the count of
 * good ones; why must contain want (if not NULL). */
static void
expect_verify(const fr_audit_head *expect, fr_err rc, uint64_t bad,
              uint64_t good, const char *want)
{
    uint64_t n = 99, fb = 99;
    char why[256];

    assert_int_equal(
        fr_audit_verify(path, pk, expect, &n, &fb, why, sizeof why), rc);
    assert_int_equal(fb, bad);
    assert_int_equal(n, good);
    if (rc == FR_OK)
        assert_string_equal(why, "");
    if (want && !strstr(why, want))
        fail_msg("why '%s' does not contain '%s'", why, want);
}

/* Pointer to the start of field k (0-based) of a line. */
static char *
field(char *line, int k)
{
    for (int i = 0; i < k; i++) {
        line = strchr(line, '\t');
        assert_non_null(line);
        line++;
    }
    return line;
}

static void
test_chain_verifies(void **state)
{
    fr_audit_head head, read;
    struct stat st;
    lines ls;
    (void)state;

    write_log(N, &head);
    expect_verify(NULL, FR_OK, 0, N, NULL);
    expect_verify(&head, FR_OK, 0, N, NULL);
    assert_int_equal(fr_audit_read_head(path, &read), FR_OK);
    assert_int_equal(read.seq, N);
    assert_memory_equal(read.hash, head.hash, sizeof head.hash);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* The format the header promises. */
    read_lines(&ls);
    assert_int_equal(ls.n, N);
    assert_memory_equal(ls.l[0], "1\t", 2);
    assert_memory_equal(field(ls.l[0], 2), "round_done\tround 1 members", 26);
    assert_memory_equal(field(ls.l[0], 4), "0000000000000000", 16);
    assert_int_equal(strlen(field(ls.l[0], 5)), 2 * FR_CRYPTO_SIG_BYTES + 1);
    write_lines(&ls);
    expect_verify(NULL, FR_OK, 0, N, NULL);
}

static void
test_empty_and_missing(void **state)
{
    fr_audit_head head = {.seq = 5, .hash = {1}};
    fr_audit_head empty = {0};
    FILE *f;
    uint64_t n = 9, fb = 9;
    char why[128];
    (void)state;

    assert_int_equal(fr_audit_read_head(path, &head), FR_ENOENT);
    assert_int_equal(head.seq, 5);
    assert_int_equal(fr_audit_verify(path, pk, NULL, &n, &fb, why, sizeof why),
                     FR_ENOENT);
    assert_non_null(strstr(why, "cannot open"));
    f = fopen(path, "wb");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(fr_audit_read_head(path, &head), FR_OK);
    assert_int_equal(head.seq, 0);
    assert_memory_equal(head.hash, empty.hash, sizeof head.hash);
    expect_verify(NULL, FR_OK, 0, 0, NULL);
    expect_verify(&empty, FR_OK, 0, 0, NULL);
    /* NULL outputs are allowed. */
    assert_int_equal(fr_audit_verify(path, pk, NULL, NULL, NULL, NULL, 0),
                     FR_OK);
}

/* Changes one byte of field fld in entry k to c (0: to another digit) and
 * expects entry k named. */
static void
tamper_byte(int k, int fld, int off, char c)
{
    fr_audit_head head;
    lines ls;
    char *p;

    write_log(N, &head);
    read_lines(&ls);
    p = field(ls.l[k - 1], fld) + off;
    if (c == 0)
        c = *p == '0' ? '1' : '0';
    assert_int_not_equal(*p, c);
    *p = c;
    write_lines(&ls);
    expect_verify(NULL, FR_EAUTH, (uint64_t)k, (uint64_t)k - 1,
                  "signature does not verify");
    expect_verify(&head, FR_EAUTH, (uint64_t)k, (uint64_t)k - 1, NULL);
}

static void
test_modified_bytes(void **state)
{
    (void)state;
    tamper_byte(4, 3, 6, '9'); /* detail "round 4" -> "round 9" */
    tamper_byte(6, 2, 0, 'x'); /* event */
    tamper_byte(1, 2, 9, '_'); /* event of the first entry */
    tamper_byte(2, 1, 5, 0);   /* a timestamp digit */
    tamper_byte(N, 3, 0, 'R'); /* the last entry */
    tamper_byte(7, 4, 3, 0);   /* the previous-hash field */
    tamper_byte(3, 5, 10, 0);  /* the signature itself */
}

static void
test_removed_entry(void **state)
{
    fr_audit_head head;
    lines ls;
    (void)state;

    write_log(N, &head);
    read_lines(&ls);
    free(ls.l[4]); /* entry 5 */
    ls.l[4] = NULL;
    write_lines(&ls);
    expect_verify(NULL, FR_EPROTO, 6, 4,
                  "entry 6: found where entry 5 was expected");
    expect_verify(&head, FR_EPROTO, 6, 4, NULL);
    /* The first entry removed. */
    write_log(N, &head);
    read_lines(&ls);
    free(ls.l[0]);
    ls.l[0] = NULL;
    write_lines(&ls);
    expect_verify(NULL, FR_EPROTO, 2, 0, "entry 2: found where entry 1");
}

static void
test_swapped_entries(void **state)
{
    fr_audit_head head;
    lines ls;
    char *t;
    (void)state;

    write_log(N, &head);
    read_lines(&ls);
    t = ls.l[2];
    ls.l[2] = ls.l[3];
    ls.l[3] = t;
    write_lines(&ls);
    expect_verify(NULL, FR_EPROTO, 4, 2, "entry 4: found where entry 3");
    /* A repeated entry. */
    write_log(N, &head);
    read_lines(&ls);
    free(ls.l[5]);
    ls.l[5] = strdup(ls.l[4]);
    write_lines(&ls);
    expect_verify(NULL, FR_EPROTO, 5, 5, "entry 5: found after entry 5");
}

/* A fork: entry 4 re-signed by the right key but chained to the wrong
 * hash keeps seq and signature intact; only the link catches it. */
static void
test_broken_link(void **state)
{
    fr_audit_head head, fork = {.seq = 3};
    lines ls, alt;
    (void)state;

    write_log(N, &head);
    read_lines(&ls);
    unlink(path);
    assert_int_equal(fr_audit_append(path, key, "other", "x", &fork), FR_OK);
    read_lines(&alt);
    free(ls.l[3]);
    ls.l[3] = alt.l[0];
    write_lines(&ls);
    expect_verify(NULL, FR_EAUTH, 4, 3, "entry 4: previous-hash link broken");
}

static void
test_truncation_needs_recorded_head(void **state)
{
    fr_audit_head head, read;
    lines ls;
    (void)state;

    write_log(N, &head);
    read_lines(&ls);
    for (int i = 7; i < N; i++) {
        free(ls.l[i]);
        ls.l[i] = NULL;
    }
    write_lines(&ls);
    /* Without the recorded head a cut-off end looks like a shorter log. */
    expect_verify(NULL, FR_OK, 0, 7, NULL);
    expect_verify(&head, FR_EPROTO, 8, 7,
                  "entry 8 missing: the log ends at 7 but the store recorded "
                  "10");
    /* A recorded head inside the log must match that entry's hash. */
    assert_int_equal(fr_audit_read_head(path, &read), FR_OK);
    assert_int_equal(read.seq, 7);
    expect_verify(&read, FR_OK, 0, 7, NULL);
    /* The whole log emptied. */
    assert_int_equal(truncate(path, 0), 0);
    expect_verify(&head, FR_EPROTO, 1, 0, "entry 1 missing");
}

/* The key holder rewrote the log from scratch: it verifies on its own, but
 * not against the head the store recorded. */
static void
test_rewritten_log(void **state)
{
    fr_audit_head head, again = {0};
    (void)state;

    write_log(N, &head);
    unlink(path);
    for (int i = 0; i < N; i++)
        assert_int_equal(
            fr_audit_append(path, key, "round_done", "rewritten", &again),
            FR_OK);
    expect_verify(NULL, FR_OK, 0, N, NULL);
    expect_verify(&head, FR_EAUTH, N, N - 1,
                  "entry 10: hash differs from the one the store recorded");
}

static void
test_forged_line(void **state)
{
    fr_audit_head head, fake;
    (void)state;

    write_log(N, &head);
    assert_int_equal(fr_audit_read_head(path, &fake), FR_OK);
    assert_int_equal(
        fr_audit_append(path, other, "round_done", "forged", &fake), FR_OK);
    expect_verify(NULL, FR_EAUTH, N + 1, N,
                  "entry 11: signature does not verify");
    fake = head;
    fake.seq = N + 1;
    expect_verify(&fake, FR_EAUTH, N + 1, N, NULL);
}

static void
test_other_key(void **state)
{
    fr_audit_head head;
    uint64_t n, fb;
    char why[128];
    (void)state;

    write_log(3, &head);
    assert_int_equal(fr_audit_verify(path, fr_crypto_signkey_public(other),
                                     NULL, &n, &fb, why, sizeof why),
                     FR_EAUTH);
    assert_int_equal(fb, 1);
    assert_int_equal(n, 0);
}

/* Replaces line k (1-based) with text and expects it named as malformed. */
static void
expect_malformed(int k, const char *text, const char *want)
{
    fr_audit_head head;
    lines ls;

    write_log(N, &head);
    read_lines(&ls);
    free(ls.l[k - 1]);
    ls.l[k - 1] = strdup(text);
    write_lines(&ls);
    expect_verify(NULL, FR_EPROTO, (uint64_t)k, (uint64_t)k - 1, want);
}

/* Line k with a substitution inside field fld at offset off. */
static void
expect_field_malformed(int k, int fld, int off, char c, const char *want)
{
    fr_audit_head head;
    lines ls;

    write_log(N, &head);
    read_lines(&ls);
    field(ls.l[k - 1], fld)[off] = c;
    write_lines(&ls);
    expect_verify(NULL, FR_EPROTO, (uint64_t)k, (uint64_t)k - 1, want);
}

static void
test_malformed_lines(void **state)
{
    fr_audit_head head;
    lines ls;
    char big[3000];
    (void)state;

    expect_malformed(4, "garbage\n", "line 4: malformed (too few fields)");
    expect_malformed(1, "\n", "line 1: malformed");
    expect_malformed(2, "1\t2\t3\t4\t5\t6\t7\n", "line 2: malformed (too many");
    expect_field_malformed(3, 0, 0, 'x', "line 3: malformed (bad sequence");
    expect_field_malformed(3, 1, 0, '-', "line 3: malformed (bad timestamp");
    expect_field_malformed(5, 2, 0, 'R', "line 5: malformed (bad event");
    expect_field_malformed(5, 3, 0, '\x01', "line 5: malformed (bad detail");
    expect_field_malformed(5, 3, 0, '\xff', "line 5: malformed (bad detail");
    expect_field_malformed(6, 4, 0, 'A', "line 6: malformed (bad previous");
    expect_field_malformed(7, 5, 0, 'F', "line 7: malformed (bad signature");
    expect_field_malformed(8, 5, 0, '\t', "line 8: malformed (too many");
    memset(big, 'a', sizeof big - 2);
    big[sizeof big - 2] = '\n';
    big[sizeof big - 1] = '\0';
    expect_malformed(9, big, "line 9: malformed (longer than");
    /* A torn last write: no newline at the end. */
    write_log(N, &head);
    read_lines(&ls);
    ls.l[N - 1][strlen(ls.l[N - 1]) - 1] = '\0';
    write_lines(&ls);
    expect_verify(NULL, FR_EPROTO, N, N - 1, "line 10: malformed (no newline");
    assert_int_equal(fr_audit_read_head(path, &head), FR_EPROTO);
    /* A malformed last line stops read_head too. */
    expect_malformed(N, "junk\n", "line 10");
    assert_int_equal(fr_audit_read_head(path, &head), FR_EPROTO);
}

static void
test_refused_inputs(void **state)
{
    fr_audit_head head, before;
    char detail[FR_AUDIT_DETAIL_MAX + 2];
    static const char *bad_details[] = {
        "a\tb",
        "a\nb",
        "a\rb",
        "bell\a",
        "del\x7f",
        "bad \xff utf8",
        "overlong \xc0\xaf",
        "surrogate \xed\xa0\x80",
        "cut \xe2\x82",
        "c1 \xc2\x85",
    };
    static const char *bad_events[] = {
        "",           "Round", "round-done",
        "round done", "r1",    "abcdefghijklmnopqrstuvwxyzabcdefg", /* 33 */
    };
    lines ls;
    (void)state;

    write_log(2, &head);
    before = head;
    for (size_t i = 0; i < sizeof bad_details / sizeof *bad_details; i++)
        assert_int_equal(
            fr_audit_append(path, key, "ev", bad_details[i], &head), FR_EINVAL);
    for (size_t i = 0; i < sizeof bad_events / sizeof *bad_events; i++)
        assert_int_equal(fr_audit_append(path, key, bad_events[i], "d", &head),
                         FR_EINVAL);
    memset(detail, 'd', sizeof detail - 1);
    detail[sizeof detail - 1] = '\0'; /* 1001 bytes */
    assert_int_equal(fr_audit_append(path, key, "ev", detail, &head),
                     FR_EINVAL);
    assert_int_equal(head.seq, before.seq);
    assert_memory_equal(head.hash, before.hash, sizeof head.hash);
    read_lines(&ls);
    assert_int_equal(ls.n, 2);
    write_lines(&ls);
    /* The limits themselves are fine, and so is UTF-8. */
    detail[FR_AUDIT_DETAIL_MAX] = '\0';
    assert_int_equal(fr_audit_append(path, key,
                                     "abcdefghijklmnopqrstuvwxyzabcdef", detail,
                                     &head),
                     FR_OK);
    assert_int_equal(fr_audit_append(path, key, "store_moved",
                                  "Zürich → 東京 🛒", &head),
                     FR_OK);
    assert_int_equal(fr_audit_append(path, key, "empty_detail", "", &head),
                     FR_OK);
    expect_verify(&head, FR_OK, 0, 5, NULL);
}

/* Each "restart" forgets the head and reads it back from the file. */
static void
test_restarts_continue_chain(void **state)
{
    fr_audit_head head, mem = {0};
    (void)state;

    for (int run = 0; run < 4; run++) {
        fr_err rc = fr_audit_read_head(path, &head);
        if (run == 0) {
            assert_int_equal(rc, FR_ENOENT);
            memset(&head, 0, sizeof head);
        } else {
            assert_int_equal(rc, FR_OK);
            assert_int_equal(head.seq, mem.seq);
            assert_memory_equal(head.hash, mem.hash, sizeof head.hash);
        }
        assert_int_equal(fr_audit_append(path, key, "start", "run", &head),
                         FR_OK);
        assert_int_equal(fr_audit_append(path, key, "stop", "run", &head),
                         FR_OK);
        mem = head;
    }
    assert_int_equal(mem.seq, 8);
    expect_verify(&mem, FR_OK, 0, 8, NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_chain_verifies, teardown),
        cmocka_unit_test_teardown(test_empty_and_missing, teardown),
        cmocka_unit_test_teardown(test_modified_bytes, teardown),
        cmocka_unit_test_teardown(test_removed_entry, teardown),
        cmocka_unit_test_teardown(test_swapped_entries, teardown),
        cmocka_unit_test_teardown(test_broken_link, teardown),
        cmocka_unit_test_teardown(test_truncation_needs_recorded_head,
                                  teardown),
        cmocka_unit_test_teardown(test_rewritten_log, teardown),
        cmocka_unit_test_teardown(test_forged_line, teardown),
        cmocka_unit_test_teardown(test_other_key, teardown),
        cmocka_unit_test_teardown(test_malformed_lines, teardown),
        cmocka_unit_test_teardown(test_refused_inputs, teardown),
        cmocka_unit_test_teardown(test_restarts_continue_chain, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
