/*
 *	BIRD -- Autopilot: what the module uses of BIRD 2's routes
 *
 *	(c) 2026 bird-autopilot developers
 *
 *	Can be freely distributed and used under the terms of the GNU GPL.
 */

/*
 * BIRD 2 keeps a path as an rte pointing to cached attributes (rta) with
 * an ea_list; BIRD 3 keeps it as an ea_list only and runs each protocol in
 * a loop of its own. The override store, the host role, the LFIB and the
 * observation side read a path's attributes and originate routes only
 * through these, so a port changes them, not the logic around them.
 * Building a copy's attributes (override.c, host.c) and the BGP hooks
 * (egress.c) work on rta and ea_list themselves: README, "What a port to
 * BIRD 3 would touch".
 */

#ifndef _BIRD_AUTOPILOT_ROUTE_H_
#define _BIRD_AUTOPILOT_ROUTE_H_

#include "nest/bird.h"
#include "nest/protocol.h"
#include "nest/route.h"
#include "proto/bgp/bgp.h"

/* BGP attribute @code of path @r, or NULL */
static inline eattr *
autopilot_rt_attr(const rte *r, uint code)
{
  return bgp_find_attr(r->attrs->eattrs, code);
}

/* The primary label the switch gave path @r (its egress's), or AUTOPILOT_NO_LABEL */
static inline u32
autopilot_rt_label(const rte *r)
{
  eattr *a = ea_find(r->attrs->eattrs, EA_MPLS_LABEL);
  return a ? a->u.data : AUTOPILOT_NO_LABEL;
}

/* Originate @n into @c as @P's route, with attributes @a (temporary or cached) */
static inline void
autopilot_rt_originate(struct proto *P, struct channel *c, const net_addr *n, rta *a)
{
  rte *e = rte_get_temp(a, P->main_source);
  rte_update2(c, (net_addr *) n, e, P->main_source);
}

/* Withdraw @P's route for @n from @c */
static inline void
autopilot_rt_withdraw(struct proto *P, struct channel *c, const net_addr *n)
{
  rte_update2(c, (net_addr *) n, NULL, P->main_source);
}

/*
 * Look up ahead the prefixes @a of channels @c (net_prefetch(), patch
 * 0011), one table at a time: a window of updates then runs from the
 * cache. A NULL channel (one that is not up) is left out. At most
 * NET_PREFETCH_MAX.
 */
static inline void
autopilot_rt_prefetch(struct channel **c, const net_addr **a, uint n)
{
  const net_addr *t[NET_PREFETCH_MAX];
  byte taken[NET_PREFETCH_MAX] = {};

  ASSERT(n <= NET_PREFETCH_MAX);
  for (uint i = 0; i < n; i++)
    if (c[i] && !taken[i])
    {
      uint k = 0;
      for (uint j = i; j < n; j++)
	if (c[j] == c[i])
	{
	  t[k++] = a[j];
	  taken[j] = 1;
	}

      net_prefetch(c[i]->table, t, k);
    }
}

#endif
