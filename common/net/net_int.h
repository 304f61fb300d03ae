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
};

/* Stops the ZAP thread (if any), waits for it and frees its state. Called by
 * fr_net_ctx_destroy before the ZeroMQ context is terminated. */
void fr_net_zap_stop_(fr_net_ctx *ctx);

#endif
