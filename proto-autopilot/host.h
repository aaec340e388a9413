/*
 *	BIRD -- Autopilot host role: ranked alternates, egress tables
 *
 *	(c) 2026 bird-autopilot developers
 *
 *	Can be freely distributed and used under the terms of the GNU GPL.
 */

#ifndef _BIRD_AUTOPILOT_HOST_H_
#define _BIRD_AUTOPILOT_HOST_H_

#include "nest/bird.h"
#include "nest/route.h"
#include "lib/hash.h"
#include "lib/event.h"

struct autopilot_proto;
struct autopilot_pp_community;
struct proto_config;

/* One Precision Path alternate of a prefix (rank.c) */
struct autopilot_alt {
  rte *r;				/* The path */
  u32 label;				/* Its primary label (its egress, with its next hop) */
  u32 pp_label;				/* Its egress's Precision Path label */
};

/* A host prefix whose paths carry the disable community, for counting */
struct autopilot_disabled {
  struct autopilot_disabled *next;	/* In autopilot_proto.disabled */
  net_addr_ip6 net;			/* The prefix */
};

#define AUTOPILOT_HOST_WINDOW	32	/* Updates of the protocol's tables prefetched together */

/* An update of one of the protocol's tables, queued (host.c) */
struct autopilot_host_update {
  struct channel *c;			/* Alternate or egress table channel */
  rta *a;				/* Cached attributes (held), NULL to withdraw */
  net_addr_ip6 net;			/* The prefix */
};

/* The host role's part of the protocol */
struct autopilot_host {
  struct channel *alt[2][AUTOPILOT_MAX_ALT];	/* Alternate table k+1 for IPv4, IPv6 */
  struct bmap alt_shown[2][AUTOPILOT_MAX_ALT];	/* Ids of watched paths now in alternate table k+1 */
  u8 alt_was_up[2][AUTOPILOT_MAX_ALT];	/* Alternate channel was up at the last change */
  struct autopilot_copy_attrs *copy_attrs;	/* Attributes of recent copies, by what they copy */
  struct channel *etab[AUTOPILOT_MAX_ETAB];	/* Egress tables */
  HASH(struct autopilot_disabled) disabled;	/* Prefixes with Precision Path disabled */
  slab *disabled_slab;			/* Allocator of struct autopilot_disabled */
  struct autopilot_host_update pending[AUTOPILOT_HOST_WINDOW];	/* Queued updates, in order */
  uint pending_len;			/* Number of pending */
  event *flush_event;			/* Applies the pending updates at the end of a round */
};

/* rank.c */
u32 autopilot_path_label(rte *e, u32 asn);
u32 autopilot_path_pp_label(rte *e, u32 asn);
int autopilot_path_pp_disabled(rte *e, const struct autopilot_pp_community *pp);
uint autopilot_rank(net *n, u32 asn, const struct autopilot_pp_community *pp, struct autopilot_alt *out, uint k, int *disabled);

/* host.c */
void autopilot_host_notify(struct autopilot_proto *p, struct channel *c, net *n, rte *new, rte *old);
int autopilot_host_channels(struct autopilot_proto *p, struct proto_config *CF);
void autopilot_host_start(struct autopilot_proto *p);
void autopilot_host_stop(struct autopilot_proto *p);
void autopilot_host_flush(struct autopilot_proto *p);
void autopilot_host_show(struct autopilot_proto *p);

#endif
