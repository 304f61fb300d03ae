/*
 * admin_access.c - who may use the admin socket (admin.h DESIGN): the
 * command levels, the decision, resolving the configured groups and
 * reading a peer's credentials from the kernel.
 */
#define _GNU_SOURCE /* SO_PEERCRED, struct ucred */
#include "admin_int.h"

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59 /* Linux 4.13; the value on every architecture */
#endif

#define PEER_GROUPS_MAX 65536 /* NGROUPS_MAX of the kernel */
#define GR_BUF_MAX      (1 << 20)

agg_admin_level
agg_admin_command_level(const char *line, size_t len)
{
    static const char *const changing[] = {"pause", "resume", "checkpoint",
                                           "revoke"};
    size_t n = 0;

    while (n < len && line[n] && line[n] != ' ')
        n++;
    for (size_t i = 0; i < sizeof changing / sizeof *changing; i++)
        if (strlen(changing[i]) == n && memcmp(line, changing[i], n) == 0)
            return AGG_ADMIN_CHANGE;
    return AGG_ADMIN_READ;
}

static int
in_group(const agg_admin_peer *p, long gid)
{
    if (gid < 0)
        return 0;
    if (p->gid == gid)
        return 1;
    for (size_t i = 0; p->groups && i < p->n_groups; i++)
        if ((long)p->groups[i] == gid)
            return 1;
    return 0;
}

agg_admin_verdict
agg_admin_decide(const agg_admin_access *a, const agg_admin_peer *p,
                 agg_admin_level level)
{
    int change_split = a->change_gid >= 0;
    int reader = in_group(p, a->read_gid);
    int changer = change_split ? in_group(p, a->change_gid) : reader;

    if (p->uid < 0)
        return AGG_ADMIN_DENY_ACCESS; /* credentials unknown */
    if (p->uid == 0 || p->uid == a->owner_uid)
        return AGG_ADMIN_ALLOW;
    if (!reader && !changer)
        return AGG_ADMIN_DENY_ACCESS;
    if (level == AGG_ADMIN_CHANGE && !changer)
        return AGG_ADMIN_DENY_CHANGE;
    return AGG_ADMIN_ALLOW;
}

void
agg_admin_group_name(long gid, char *out, size_t cap)
{
    struct group gr, *res = NULL;
    char buf[4096];

    if (gid >= 0 && getgrgid_r((gid_t)gid, &gr, buf, sizeof buf, &res) == 0 &&
        res && strlen(res->gr_name) < cap)
        snprintf(out, cap, "%s", res->gr_name);
    else
        snprintf(out, cap, "%ld", gid);
}

/* A group's gid by name (getgrnam_r, growing its buffer) or by number. */
static fr_err
resolve_group(const char *key, const char *name, long *gid, char *shown,
              char *err, size_t errlen)
{
    struct group gr, *res = NULL;
    size_t cap = 1024;
    char *buf = NULL, *end;
    long num;
    int rc;

    *gid = AGG_ADMIN_NO_GID;
    if (!name || !*name)
        return FR_OK;
    if (strlen(name) >= AGG_ADMIN_GROUP_MAX) {
        snprintf(err, errlen, "%s: a group name of at most %d bytes", key,
                 AGG_ADMIN_GROUP_MAX - 1);
        return FR_EINVAL;
    }
    errno = 0;
    num = strtol(name, &end, 10);
    if (*name >= '0' && *name <= '9' && !*end && !errno && num >= 0 &&
        num < 0x7FFFFFFFL) {
        *gid = num;
        agg_admin_group_name(num, shown, AGG_ADMIN_GROUP_MAX);
        return FR_OK;
    }
    do {
        char *p = realloc(buf, cap);
        if (!p) {
            free(buf);
            snprintf(err, errlen, "%s: out of memory", key);
            return FR_ENOMEM;
        }
        buf = p;
        rc = getgrnam_r(name, &gr, buf, cap, &res);
        cap *= 2;
    } while (rc == ERANGE && cap <= GR_BUF_MAX);
    if (rc == 0 && res)
        *gid = (long)res->gr_gid;
    free(buf);
    if (rc != 0 || !res) {
        snprintf(err, errlen,
                 "%s %s: no such group%s%s (create it, or give a numeric "
                 "gid)",
                 key, name, rc ? ": " : "", rc ? strerror(rc) : "");
        return FR_EINVAL;
    }
    snprintf(shown, AGG_ADMIN_GROUP_MAX, "%s", name);
    return FR_OK;
}

fr_err
agg_admin_access_init(agg_admin_access *a, const char *group,
                      const char *operator_group, char *err, size_t errlen)
{
    fr_err rc;

    memset(a, 0, sizeof *a);
    a->owner_uid = (long)geteuid();
    if ((rc = resolve_group("admin_group", group, &a->read_gid, a->read_name,
                            err, errlen)))
        return rc;
    return resolve_group("admin_operator_group", operator_group,
                         &a->change_gid, a->change_name, err, errlen);
}

/* SO_PEERGROUPS into a buffer grown to what the kernel asks for. */
static void
peer_groups(int fd, agg_admin_peer *p, gid_t **groups)
{
    socklen_t len = 64 * sizeof(gid_t);

    for (int tries = 0; tries < 3; tries++) {
        gid_t *g = malloc(len ? len : sizeof(gid_t));
        socklen_t got = len;
        if (!g)
            return;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &got) == 0) {
            *groups = g;
            p->groups = g;
            p->n_groups = got / sizeof(gid_t);
            return;
        }
        free(g);
        if (errno != ERANGE || got <= len ||
            got > PEER_GROUPS_MAX * sizeof(gid_t))
            return; /* ENOPROTOOPT before Linux 4.13: primary gid only */
        len = got;
    }
}

fr_err
agg_admin_peer_get(int fd, agg_admin_peer *p, gid_t **groups)
{
    struct ucred cr;
    socklen_t len = sizeof cr;

    memset(p, 0, sizeof *p);
    p->uid = p->gid = p->pid = -1;
    *groups = NULL;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0 ||
        len != sizeof cr)
        return FR_ESYS;
    p->uid = (long)cr.uid;
    p->gid = (long)cr.gid;
    p->pid = (long)cr.pid;
    peer_groups(fd, p, groups);
    return FR_OK;
}
