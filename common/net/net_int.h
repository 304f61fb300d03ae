/*
 * net_int.h - what net.c and zap.c share inside the net module: the context
 * struct and the calls the context makes into the ZAP handler. Not part of
 * the public API; nothing outside common/net includes it.
 */
#ifndef FR_NET_NET_INT_H
#define FR_NET_NET_INT_H

#include <stdatomic.h>

#include "net.h"

/* The ZeroMQ domain our CURVE server sockets authenticate in. */
#define FR_NET_ZAP_DOMAIN "fedrec"

typedef struct fr_net_zap fr_net_zap;

struct fr_net_ctx {
    void *zctx;        /* ZeroMQ context */
    fr_net_zap *zap;   /* NULL until fr_net_zap_start succeeded */
    atomic_int n_socks; /* sockets not yet destroyed */
    /* payload bytes of fr_net_send_owned not yet written or dropped;
     * ZeroMQ's I/O threads lower it */
    atomic_size_t queued;
};

/* Stops the ZAP thread (if any), waits for it and frees its state. Called by
 * fr_net_ctx_destroy before the ZeroMQ context is terminated. */
void fr_net_zap_stop_(fr_net_ctx *ctx);

/* For the fuzz targets (zap.c): parses allow-list text as a file named
 * path would be, and calls fn for every entry in order (sign_pk NULL when
 * the line has no identity key). The list is freed before returning;
 * FR_EINVAL (logged with the line) if the text is refused. */
typedef void (*fr_net_allow_fn)(void *arg, const char *name,
                                const uint8_t *pk, const uint8_t *sign_pk,
                                size_t line);
FR_NODISCARD fr_err fr_net_allowlist_parse_(const char *path, const char *text,
                                            size_t len, fr_net_allow_fn fn,
                                            void *arg);

#endif
