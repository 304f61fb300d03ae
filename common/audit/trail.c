/*
 * trail.c - the audit log together with its recorded head (see audit.h):
 * the one append path every event takes, and verification against the
 * head.
 *
 * The head is read again under the lock at every append rather than kept
 * in memory: another process (or another handle in this one) may have
 * appended since, and chaining from a stale head would fork the chain.
 */
#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"

#define HEAD_KIND 4
#define HEAD_LABEL "audit-head"
#define HEAD_BYTES (8 + FR_AUDIT_HASH_BYTES)
#define TRAIL_PATH_MAX 600

struct fr_audit_trail {
    const fr_seal_key *key;
    char log_path[TRAIL_PATH_MAX];
    char head_path[TRAIL_PATH_MAX];
    int lock_fd;
};

static fr_err
join(char out[TRAIL_PATH_MAX], const char *dir, const char *name)
{
    int n = snprintf(out, TRAIL_PATH_MAX, "%s/%s", dir, name);

    return n < 0 || n >= TRAIL_PATH_MAX ? FR_EINVAL : FR_OK;
}

fr_err
fr_audit_trail_new(fr_audit_trail **out, const fr_audit_trail_opts *o)
{
    char lock_path[TRAIL_PATH_MAX];
    fr_audit_trail *t;
    fr_err rc;

    FR_ASSERT(out && o && o->dir && o->key);
    t = calloc(1, sizeof *t);
    if (!t)
        return FR_ENOMEM;
    t->key = o->key;
    t->lock_fd = -1;
    if ((rc = join(t->log_path, o->dir, "audit.log")) ||
        (rc = join(t->head_path, o->dir, "audit_head.sealed")) ||
        (rc = join(lock_path, o->dir, "audit.lock")))
        goto fail;
    t->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (t->lock_fd < 0) {
        rc = fr_err_from_errno(errno);
        goto fail;
    }
    *out = t;
    return FR_OK;
fail:
    fr_audit_trail_destroy(&t);
    return rc;
}

void
fr_audit_trail_destroy(fr_audit_trail **tp)
{
    fr_audit_trail *t = tp ? *tp : NULL;

    if (!t)
        return;
    if (t->lock_fd >= 0)
        close(t->lock_fd);
    free(t);
    *tp = NULL;
}

static fr_err
trail_lock(const fr_audit_trail *t, int op)
{
    while (flock(t->lock_fd, op) != 0)
        if (errno != EINTR)
            return FR_ESYS;
    return FR_OK;
}

static void
trail_unlock(const fr_audit_trail *t)
{
    (void)flock(t->lock_fd, LOCK_UN);
}

fr_err
fr_audit_trail_head(const fr_audit_trail *t, fr_audit_head *out)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    fr_err rc;

    FR_ASSERT(t && out);
    rc = fr_seal_read(t->key, HEAD_KIND, HEAD_LABEL, t->head_path, 64, &buf,
                      &len);
    if (rc == FR_ENOENT) { /* the owner's verification decides */
        memset(out, 0, sizeof *out);
        return FR_OK;
    }
    if (rc)
        return rc;
    if (len != HEAD_BYTES) {
        free(buf);
        return FR_EPROTO;
    }
    out->seq = fr_get_u64le(buf);
    memcpy(out->hash, buf + 8, FR_AUDIT_HASH_BYTES);
    free(buf);
    return FR_OK;
}

static fr_err
save_head(const fr_audit_trail *t, const fr_audit_head *h)
{
    uint8_t buf[HEAD_BYTES];

    fr_put_u64le(buf, h->seq);
    memcpy(buf + 8, h->hash, FR_AUDIT_HASH_BYTES);
    return fr_seal_write(t->key, HEAD_KIND, HEAD_LABEL, t->head_path, buf,
                         sizeof buf);
}

/* The head to chain the next entry to: the recorded one, or the log's own
 * last entry when that is further on (an append whose head could not be
 * recorded, e.g. on a full disk: chaining to the recorded head again would
 * repeat that entry's number and break the chain). A log whose last line
 * cannot be read is left to verification, as before. */
static fr_err
chain_head(const fr_audit_trail *t, fr_audit_head *head)
{
    fr_audit_head tail;
    fr_err rc = fr_audit_trail_head(t, head);

    if (!rc && fr_audit_read_head(t->log_path, &tail) == FR_OK &&
        tail.seq > head->seq)
        *head = tail;
    return rc;
}

fr_err
fr_audit_trail_append(fr_audit_trail *t, const fr_crypto_signkey *id,
                      const char *event, const char *detail,
                      fr_err (*then)(void *ctx), void *ctx,
                      fr_audit_head *head_out)
{
    fr_audit_head head;
    fr_err rc, rc_then = FR_OK;

    FR_ASSERT(t && id);
    if ((rc = trail_lock(t, LOCK_EX)))
        return rc;
    rc = chain_head(t, &head);
    if (!rc)
        rc = fr_audit_append(t->log_path, id, event, detail, &head);
    if (rc)
        goto out;
    if (then)
        rc_then = then(ctx);
    if (rc_then) { /* keep then's reason for the caller's message */
        char why[sizeof t->log_path + 96];
        snprintf(why, sizeof why, "%s", fr_file_last_write_error());
        (void)save_head(t, &head);
        fr_file_set_write_error(why);
    } else {
        /* An entry whose head cannot be recorded is in the log with the
         * change it records: the next append chains to it and records its
         * head (chain_head); meanwhile cutting it off goes unnoticed. */
        if (save_head(t, &head))
            fr_log_warn("audit", "%s not updated: %s; the next change "
                        "records it", t->head_path,
                        fr_file_last_write_error());
        if (head_out)
            *head_out = head;
    }
out:
    trail_unlock(t);
    return rc_then ? rc_then : rc;
}

fr_err
fr_audit_trail_verify(const fr_audit_trail *t, const uint8_t pk[32],
                      uint64_t *n_entries, uint64_t *first_bad, char *why,
                      size_t whylen)
{
    fr_audit_head head;
    fr_err rc;

    FR_ASSERT(t && pk);
    if (n_entries)
        *n_entries = 0;
    if (first_bad)
        *first_bad = 0;
    if ((rc = trail_lock(t, LOCK_SH)))
        return rc;
    rc = fr_audit_trail_head(t, &head);
    if (rc) {
        if (why && whylen > 0)
            snprintf(why, whylen, "cannot read the recorded audit head %s: "
                     "%s", t->head_path, fr_strerror(rc));
    } else {
        rc = fr_audit_verify(t->log_path, pk, &head, n_entries, first_bad,
                             why, whylen);
    }
    trail_unlock(t);
    return rc;
}
