/*
 * test_wire_limits.c - the decoder's memory stays proportional to the
 * message: protobuf-c makes one allocation per submessage and unknown
 * field, so a message of many tiny ones would unpack to dozens of times its
 * size; such a message is refused with its own reason, while the largest
 * lists a real round sends (FR_SA_MAX_PARTIES - 1 neighbours) still decode.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "wire/wire.h"

#define MAX FR_WIRE_DEFAULT_MAX_BYTES
#define MEMORY_REASON "message unpacks to more memory than its size allows"

static size_t
put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;

    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/* Envelope {version 1, type, body field `field` = n copies of unit}. */
static uint8_t *
envelope_of(uint32_t type, uint32_t field, const uint8_t *head, size_t hlen,
            const uint8_t *unit, size_t ulen, size_t n, size_t *len)
{
    size_t body = hlen + ulen * n, at = 0;
    uint8_t *b = malloc(body + 32);

    assert_non_null(b);
    b[at++] = 0x08, b[at++] = 0x01;             /* version 1 */
    b[at++] = 0x18, b[at++] = (uint8_t)type;    /* type */
    at += put_varint(b + at, (uint64_t)field << 3 | 2);
    at += put_varint(b + at, body);
    if (hlen)
        memcpy(b + at, head, hlen);
    at += hlen;
    for (size_t i = 0; i < n; i++, at += ulen)
        memcpy(b + at, unit, ulen);
    *len = at;
    return b;
}

/* 8 MiB of empty SecAgg reveals (two bytes each): 4 Mi submessages, which
 * protobuf-c alone would unpack to several hundred MiB. */
static void
test_tiny_submessages_refused(void **state)
{
    static const uint8_t phase[2] = {0x08, 0x09}, reveal[2] = {0x4a, 0x00};
    size_t len = 0;
    uint8_t *buf = envelope_of(FR_MSG_SECAGG, 14, phase, 2, reveal, 2,
                               (size_t)4 << 20, &len);
    fr_msg *m = NULL;
    const char *why = NULL;

    (void)state;
    /* Refused by the budget (2 * 8 MiB + 49 MiB) as the unpacker goes,
     * not after it allocated the ~400 MiB protobuf-c alone would take. */
    assert_int_equal(fr_wire_decode(buf, len, MAX, &m, &why), FR_EPROTO);
    assert_null(m);
    assert_string_equal(why, MEMORY_REASON);
    free(buf);
    /* a small one too: 100 KB may take 16 times its size plus 1 MiB */
    buf = envelope_of(FR_MSG_SECAGG, 14, phase, 2, reveal, 2, 50 * 1024,
                      &len);
    why = NULL;
    assert_int_equal(fr_wire_decode(buf, len, MAX, &m, &why), FR_EPROTO);
    assert_string_equal(why, MEMORY_REASON);
    free(buf);
}

/* A HELLO carrying 2 Mi unknown fields (three bytes each). */
static void
test_unknown_fields_refused(void **state)
{
    static const uint8_t unknown[3] = {0xa0, 0x06, 0x01}; /* field 100 = 1 */
    size_t len = 0;
    uint8_t *buf = envelope_of(FR_MSG_HELLO, 10, NULL, 0, unknown, 3,
                               (size_t)2 << 20, &len);
    fr_msg *m = NULL;
    const char *why = NULL;

    (void)state;
    assert_int_equal(fr_wire_decode(buf, len, MAX, &m, &why), FR_EPROTO);
    assert_string_equal(why, MEMORY_REASON);
    free(buf);
}

/* The largest lists a round can need decode, and so does a large model. */
static void
test_largest_real_lists_decode(void **state)
{
    const uint32_t n = FR_SA_MAX_PARTIES - 1;
    fr_sa_keys *keys = calloc(n, sizeof *keys);
    fr_sa_sig *sigs = calloc(n, sizeof *sigs);
    fr_sa_reveal *rev = calloc(n, sizeof *rev);
    fr_msg m = {.type = FR_MSG_SECAGG, .round_id = 4}, *out = NULL;
    const char *why = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;

    (void)state;
    assert_true(keys && sigs && rev);
    for (uint32_t i = 0; i < n; i++) {
        keys[i].index = sigs[i].index = rev[i].peer = i;
        memset(keys[i].c_pk, 1, 32);
        memset(keys[i].s_pk, 2, 32);
        memset(keys[i].sig, 3, sizeof keys[i].sig);
        memset(keys[i].id_pk, 4, 32);
        memset(sigs[i].sig, 5, sizeof sigs[i].sig);
        rev[i].kind = FR_SA_SHARE_B;
    }
    m.u.secagg.sa = (fr_sa_msg){.phase = FR_SA_KEYS, .keys = keys,
                                .n_keys = n};
    assert_int_equal(fr_wire_encode(&m, MAX, &buf, &len), FR_OK);
    assert_int_equal(fr_wire_decode(buf, len, MAX, &out, &why), FR_OK);
    assert_int_equal(out->u.secagg.sa.n_keys, n);
    fr_msg_destroy(&out);
    free(buf);
    m.u.secagg.sa = (fr_sa_msg){.phase = FR_SA_UNMASK, .sigs = sigs,
                                .n_sigs = n, .reveals = rev, .n_reveals = n};
    assert_int_equal(fr_wire_encode(&m, MAX, &buf, &len), FR_OK);
    assert_int_equal(fr_wire_decode(buf, len, MAX, &out, &why), FR_OK);
    assert_int_equal(out->u.secagg.sa.n_reveals, n);
    assert_int_equal(out->u.secagg.sa.n_sigs, n);
    fr_msg_destroy(&out);
    free(buf);
    free(keys);
    free(sigs);
    free(rev);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiny_submessages_refused),
        cmocka_unit_test(test_unknown_fields_refused),
        cmocka_unit_test(test_largest_real_lists_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
