/*
 * pseudonym.c - member-id pseudonyms: a raw member id becomes BLAKE2b-128
 * keyed with the store's pseudonym key (crypto.h fr_pseudonym) at the door,
 * and only the 16-byte pseudonym is ever kept. The key is random per store,
 * sealed in pseudonym.sealed, and held in memory only while the vault is
 * open (wiped by vault_close).
 *
 * Before hashing, the raw id is rewritten by the store's member-id policy
 * (canon.h), at this one door for every caller.
 */
#include "vault_int.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define PSEUDO_KEY_BYTES 32
#define CANON_MAX 256 /* longer ids are hashed as they are (see canon) */

void
vault_set_member_policy(vault *v, const vault_member_policy *p)
{
    v->policy = *p;
}

void
vault_pid_hex(const uint8_t pid[VAULT_PID_BYTES], char out[VAULT_PID_CHARS + 1])
{
    static const char d[] = "0123456789abcdef";
    for (int i = 0; i < VAULT_PID_BYTES; i++) {
        out[2 * i] = d[pid[i] >> 4];
        out[2 * i + 1] = d[pid[i] & 15];
    }
    out[VAULT_PID_CHARS] = 0;
}

fr_err
vault_pid_from_hex(const char *hex, uint8_t pid[VAULT_PID_BYTES])
{
    for (int i = 0; i < VAULT_PID_BYTES; i++) {
        unsigned v = 0;
        for (int j = 0; j < 2; j++) {
            char c = hex[2 * i + j];
            v <<= 4;
            if (c >= '0' && c <= '9')
                v |= (unsigned)(c - '0');
            else if (c >= 'a' && c <= 'f')
                v |= (unsigned)(c - 'a' + 10);
            else
                return FR_EINVAL;
        }
        pid[i] = (uint8_t)v;
    }
    return hex[VAULT_PID_CHARS] == 0 ? FR_OK : FR_EINVAL;
}

void
vault_pid_of(const vault *v, const char *raw, uint8_t pid[VAULT_PID_BYTES])
{
    char hex[FR_PSEUDONYM_CHARS + 1], id[CANON_MAX];
    fr_err rc;

    if (canon_apply(&v->policy, raw, strlen(raw), id, sizeof id) == FR_OK)
        fr_pseudonym(v->pkey, id, strlen(id), hex);
    else
        fr_pseudonym(v->pkey, raw, strlen(raw), hex);
    fr_crypto_wipe(id, sizeof id);
    rc = vault_pid_from_hex(hex, pid);
    FR_ASSERT(rc == FR_OK);
}

void
vault_pseudonym(const vault *v, const char *raw_id,
                char out[VAULT_PID_CHARS + 1])
{
    uint8_t pid[VAULT_PID_BYTES];

    vault_pid_of(v, raw_id, pid);
    vault_pid_hex(pid, out);
}

fr_err
vault_pseudo_key_load(vault *v)
{
    char p[VAULT_PATH_MAX];
    uint8_t *buf = NULL;
    size_t len = 0;
    fr_err rc;

    vault_path(v, "pseudonym.sealed", p, sizeof p);
    rc = fr_seal_read(v->key, KIND_PSEUDO, "pseudonym", p, 64, &buf, &len);
    if (rc)
        return rc;
    if (len != PSEUDO_KEY_BYTES) {
        fr_crypto_wipe(buf, len);
        free(buf);
        return FR_EPROTO;
    }
    v->pkey = buf;
    return FR_OK;
}

fr_err
vault_pseudo_key_create(const vault *v)
{
    char p[VAULT_PATH_MAX];
    uint8_t pkey[PSEUDO_KEY_BYTES];
    fr_err rc;

    fr_crypto_random(pkey, sizeof pkey);
    vault_path(v, "pseudonym.sealed", p, sizeof p);
    rc = fr_seal_write(v->key, KIND_PSEUDO, "pseudonym", p, pkey, sizeof pkey);
    fr_crypto_wipe(pkey, sizeof pkey);
    return rc;
}
