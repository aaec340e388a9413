/*
 *	BIRD -- Autopilot egress traffic engineering
 *
 *	(c) 2026 bird-autopilot developers
 *
 *	Can be freely distributed and used under the terms of the GNU GPL.
 */

#ifndef _BIRD_AUTOPILOT_H_
#define _BIRD_AUTOPILOT_H_

#include "nest/bird.h"
#include "nest/protocol.h"
#include "nest/route.h"

struct autopilot_config {
  struct proto_config c;
};

/* What one watched table looks like through its channel */
struct autopilot_table_stats {
  uint prefixes;			/* Prefixes with at least one exported path */
  uint paths;				/* Paths exported to us (all of them, RA_ANY) */
};

struct autopilot_proto {
  struct proto p;
  struct channel *ip4_channel;		/* Watched IPv4 table */
  struct channel *ip6_channel;		/* Watched IPv6 table */
  struct autopilot_table_stats ip4;	/* Counters for ip4_channel */
  struct autopilot_table_stats ip6;	/* Counters for ip6_channel */
};

extern struct protocol proto_autopilot;

void autopilot_show(struct proto *P);

#endif
