/*
 *	BIRD -- Autopilot egress map, path tagging and LFIB
 *
 *	(c) 2026 bird-autopilot developers
 *
 *	Can be freely distributed and used under the terms of the GNU GPL.
 */

#ifndef _BIRD_AUTOPILOT_EGRESS_H_
#define _BIRD_AUTOPILOT_EGRESS_H_

#include "nest/bird.h"
#include "nest/route.h"
#include "lib/lists.h"

struct autopilot_proto;
struct autopilot_config;
struct autopilot_egress_config;
struct bgp_proto;
struct neighbor;
struct linpool;
struct adata;

/* Run-time state of one egress */
struct autopilot_egress {
  node n;
  struct autopilot_egress_config *cf;	/* Its configuration (current) */
  struct neighbor *nbr;			/* Next hop for its LFIB routes, NULL if unreachable */
  ip_addr nh;				/* Neighbor address used for the LFIB */
  u32 lfib_label, lfib_pp_label;	/* Labels announced to the LFIB, or AUTOPILOT_NO_LABEL */
  struct autopilot_egress *lfib_via;	/* Whose neighbor its labels point to: itself, a backup, or NULL */
  u8 lfib_was_live;			/* It has been live (session up, neighbor reachable) since it came */
  u8 lfib_warned;			/* Lost with no live backup, and said so */
  struct proto *lost_by;		/* Its session seen going down by overrides (hook or flush), or NULL */
};

/* The switch's egresses at run time (egress.c owns them, lfib.c programs their labels) */
struct autopilot_switch {
  list egresses;			/* struct autopilot_egress */
  struct autopilot_egress **egress_rt;	/* The same by their config's index */
  uint egress_rt_len;			/* Length of egress_rt */
  struct event *lfib_event;		/* Brings LFIB entries in line with egresses */
  list retiring;			/* struct autopilot_retiring: labels given up, still forwarding */
  timer *retire_timer;			/* Withdraws them when their time is up */
};

/* A label no egress has any more (configure), left forwarding while paths are retagged */
struct autopilot_retiring {
  node n;
  u32 label;				/* Its MPLS route stays as it was */
  btime until;				/* Withdrawn then (monotonic time) */
};

/* egress.c */
void autopilot_egress_add(struct autopilot_config *cf, struct autopilot_egress_config *e);
void autopilot_egress_postconfig(struct autopilot_config *cf);
struct autopilot_egress_config *autopilot_egress_find(struct autopilot_config *cf, const char *name);
struct autopilot_egress_config *autopilot_egress_of_bgp(struct autopilot_proto *p, struct bgp_proto *bp);
struct autopilot_egress_config *autopilot_egress_by_addr(struct autopilot_config *cf, ip_addr a);
struct autopilot_egress_config *autopilot_egress_by_label(struct autopilot_config *cf, u32 label);
struct autopilot_egress *autopilot_egress_rt(struct autopilot_proto *p, struct autopilot_egress_config *ec);
void autopilot_egress_sync(struct autopilot_proto *p);
void autopilot_tag_init(void);
void autopilot_tag_changed(void);
void autopilot_tag_attrs(struct autopilot_proto *p, struct autopilot_egress_config *e, rta *a, struct linpool *pool);
const struct adata *autopilot_lc_tags(struct autopilot_proto *p, struct autopilot_egress_config *e, u32 label,
				     const struct adata *set, struct linpool *pool);
extern list autopilot_instances;
void autopilot_egress_show(struct autopilot_proto *p);

/* lfib.c: egress protection */
void autopilot_lfib_postconfig(struct autopilot_config *cf);
void autopilot_bgp_session(struct bgp_proto *bp, int up);
const char *autopilot_lfib_state(struct autopilot_proto *p, struct autopilot_egress *e);
const char *autopilot_lfib_via_name(struct autopilot_egress *e);
const char *autopilot_lfib_retiring(struct autopilot_proto *p);
/* lfib.c */
void autopilot_lfib_start(struct autopilot_proto *p);
void autopilot_lfib_update(struct autopilot_proto *p);
void autopilot_neigh_notify(struct neighbor *n);

#endif
