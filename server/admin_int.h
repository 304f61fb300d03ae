/*
 * admin_int.h - the admin socket's parts below agg_admin_serve(), for the
 * unit tests and the fuzz target: request handling without a socket, and
 * reading a peer's credentials.
 */
#ifndef FR_SERVER_ADMIN_INT_H
#define FR_SERVER_ADMIN_INT_H

#include "admin.h"

/* An agg_admin with no socket, only for agg_admin_handle(); free it with
 * agg_admin_close(). access as for agg_admin_open (NULL: owner and root,
 * and no group). */
FR_NODISCARD fr_err agg_admin_new_unbound(agg_admin **out, agg_stats *stats,
                                          const agg_admin_ops *ops,
                                          const agg_admin_access *access);

/* Answers the request req[0..len) (the bytes a client sent: a line up to
 * '\n', or all of it without one) from peer p: checks access, the line and
 * the command, runs it, and writes one JSON object line ended by '\n' and
 * a NUL into out. Returns its length; an answer longer than cap - 1 is
 * replaced by an error line (cap must be at least 64). */
size_t agg_admin_handle(agg_admin *ad, const char *req, size_t len,
                        const agg_admin_peer *p, char *out, size_t cap);

/* The peer of a connected socket: SO_PEERCRED, and SO_PEERGROUPS into
 * *groups (malloc'd, free it; NULL with n_groups 0 when the kernel does not
 * tell). FR_ESYS if the credentials cannot be read: refuse the peer. */
FR_NODISCARD fr_err agg_admin_peer_get(int fd, agg_admin_peer *p,
                                       gid_t **groups);

/* The name of gid for messages: the group database's, or the number. */
void agg_admin_group_name(long gid, char *out, size_t cap);

#endif
