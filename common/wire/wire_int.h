/*
 * wire_int.h - shared between wire.c (the envelope and the training
 * messages) and wire_secagg.c (the SecAgg+ messages). Not for other modules:
 * it exposes the protoc-c generated types.
 */
#ifndef FR_WIRE_WIRE_INT_H
#define FR_WIRE_WIRE_INT_H

#include "fedrec.pb-c.h"
#include "wire.h"

/* ---- RoundStart.secagg ---- */
/* Content check shared by encoder and decoder; NULL if acceptable. */
const char *wire_setup_check(const fr_secagg_setup *s);
/* Structure of the protobuf form (byte lengths, unknown fields). */
const char *wire_setup_check_pb(const Fedrec__SecAggSetup *pb);
/* pb points at s's bytes (borrowed). */
void wire_setup_view(Fedrec__SecAggSetup *pb, const fr_secagg_setup *s);
void wire_setup_fill(fr_secagg_setup *s, const Fedrec__SecAggSetup *pb);

/* ---- RoundStart.dp (wire_dp.c) ---- */
const char *wire_dp_check(const fr_dp_setup *d);
const char *wire_dp_check_pb(const Fedrec__DpSetup *pb);
void wire_dp_view(Fedrec__DpSetup *pb, const fr_dp_setup *d);
void wire_dp_fill(fr_dp_setup *d, const Fedrec__DpSetup *pb);

/* ---- RoundStart catalogue fields, Done, Catalogue (wire_cat.c) ---- */
const char *wire_cat_check_rs(const fr_msg_round_start *rs);
const char *wire_cat_check_rs_pb(const Fedrec__RoundStart *pb);
void wire_cat_view_rs(Fedrec__RoundStart *pb, const fr_msg_round_start *rs);
void wire_cat_fill_rs(fr_msg_round_start *rs, const Fedrec__RoundStart *pb);
const char *wire_done_check_pb(const Fedrec__Done *pb);
const char *wire_catmsg_check(const fr_msg_catalogue *m);
const char *wire_catmsg_check_pb(const Fedrec__Catalogue *pb);
/* pb points at m's bytes (borrowed). */
void wire_catmsg_view(Fedrec__Catalogue *pb, const fr_msg_catalogue *m);
void wire_catmsg_fill(fr_msg_catalogue *m, const Fedrec__Catalogue *pb);

/* ---- RoundStart.ials, Update.sums (wire_ials.c) ---- */
const char *wire_ials_check_rs(const fr_msg_round_start *rs);
const char *wire_ials_check_pb(const Fedrec__RoundStart *pb);
/* pb->ials points at step, which points at rs's direction (borrowed). */
void wire_ials_view_rs(Fedrec__RoundStart *pb, Fedrec__IalsStep *step,
                       const fr_msg_round_start *rs);
void wire_ials_fill_rs(fr_msg_round_start *rs, const Fedrec__RoundStart *pb);
/* An update with n_sums > 0 (non-NULL sums, no delta). */
const char *wire_ials_check_sums(const fr_msg_update *up);

/* ---- SecAgg body ---- */
const char *wire_sa_check(const fr_msg_secagg *m);
const char *wire_sa_check_pb(const Fedrec__SecAgg *pb);
/* Builds the protobuf view of m; *scratch_out (free with wire_sa_view_free)
 * holds the submessage arrays. */
fr_err wire_sa_view(Fedrec__SecAgg *pb, Fedrec__Metrics *metrics,
                    const fr_msg_secagg *m, void **scratch_out);
void wire_sa_view_free(void *scratch);
/* Fills m from a structurally valid pb; *owned_out gets the arrays m
 * points into (free()). */
fr_err wire_sa_fill(fr_msg_secagg *m, const Fedrec__SecAgg *pb,
                    void **owned_out);

#endif
