/*
 *	BIRD -- Autopilot ranking of a prefix's paths into Precision Path alternates
 *
 *	(c) 2026 bird-autopilot developers
 *
 *	Can be freely distributed and used under the terms of the GNU GPL.
 */

/**
 * DOC: Ranking
 *
 * On a host every path of a prefix comes from a switch, tagged with the
 * labels of its egress (see the wire contract). The egress of a path is
 * (next hop, primary label): an override copy and the path it copies have
 * the same label, so they are one egress; two switches may reuse labels, so
 * the next hop is part of the key.
 *
 * The alternates are the paths other than the best, one per egress, in the
 * table's own order: the best of the rest by the same rules as
 * rte_better() (preference, protocol, bgp_rte_better()), again and again,
 * with rte_better() itself (exported by a patch, so it cannot go stale).
 * bgp_rte_better() is no total order (MED is compared only between paths
 * from the same neighbor AS), so we never sort: each step picks a best of a
 * set, like BIRD's own best-path selection, and ties keep table order,
 * which makes the result deterministic for a given table state.
 */

#undef LOCAL_DEBUG

#include "nest/bird.h"
#include "nest/protocol.h"
#include "nest/route.h"
#include "nest/attrs.h"
#include "proto/bgp/bgp.h"
#include "autopilot.h"
#include "route.h"

/* Value of our large community with function @fn on @e, or AUTOPILOT_NO_LABEL */
static u32
autopilot_lc_value(rte *e, u32 asn, u32 fn)
{
  eattr *a = autopilot_rt_attr(e, BA_LARGE_COMMUNITY);
  if (!a)
    return AUTOPILOT_NO_LABEL;

  const u32 *d = (const u32 *) a->u.ptr->data;
  uint n = a->u.ptr->length / LCOMM_LENGTH;

  for (uint i = 0; i < n; i++)
    if ((d[3*i] == asn) && (d[3*i+1] == fn))
      return d[3*i+2];

  return AUTOPILOT_NO_LABEL;
}

/*
 * A label our community carries: a value no egress label can be (0..15 are
 * reserved, more than 20 bits do not fit a label stack entry) is none, not
 * a kernel route with a label the netlink encoding would cut
 */
static u32
autopilot_lc_label(rte *e, u32 asn, u32 fn)
{
  u32 v = autopilot_lc_value(e, asn, fn);

  return ((v < AUTOPILOT_MIN_LABEL) || (v > AUTOPILOT_MAX_LABEL)) ? AUTOPILOT_NO_LABEL : v;
}

/* Primary label of a path: labeled unicast puts it in the next hop */
u32
autopilot_path_label(rte *e, u32 asn)
{
  if (e->attrs->nh.labels)
    return e->attrs->nh.label[0];

  return autopilot_lc_label(e, asn, AUTOPILOT_LC_LABEL);
}

u32
autopilot_path_pp_label(rte *e, u32 asn)
{
  return autopilot_lc_label(e, asn, AUTOPILOT_LC_PP_LABEL);
}

/* Does @e carry the Precision Path disable community @pp? */
int
autopilot_path_pp_disabled(rte *e, const struct autopilot_pp_community *pp)
{
  eattr *a = autopilot_rt_attr(e, pp->large ? BA_LARGE_COMMUNITY : BA_COMMUNITY);

  if (!a)
    return 0;

  return pp->large ? lc_set_contains(a->u.ptr, pp->lc) : int_set_contains(a->u.ptr, pp->pair);
}

static inline int
autopilot_same_egress(const struct autopilot_alt *x, rte *e, u32 label)
{
  return (x->label == label) && ipa_equal(x->r->attrs->nh.gw, e->attrs->nh.gw);
}

/**
 * autopilot_rank - Precision Path alternates of a prefix
 * @n: the prefix in the table holding every path
 * @asn: ASN of the switch's large communities
 * @pp: the disable community
 * @out: room for @k alternates
 * @k: how many are wanted
 * @disabled: set when a path of the prefix carries the disable community
 *
 * Returns the number of alternates found (0 when disabled). @out[0] is the
 * first alternate, not the best path. Paths without a Precision Path label
 * cannot be alternates, but they are still an egress: a path of the best
 * path's egress is never an alternate.
 */
uint
autopilot_rank(net *n, u32 asn, const struct autopilot_pp_community *pp,
	       struct autopilot_alt *out, uint k, int *disabled)
{
  struct autopilot_alt used[64];		/* Egresses seen: the best's, then each pick's */
  uint nused = 0, nout = 0;
  rte *best = NULL;

  *disabled = 0;
  for (rte *e = n->routes; e; e = e->next)
    if (rte_is_valid(e))
    {
      if (autopilot_path_pp_disabled(e, pp))
	*disabled = 1;

      if (rte_better(e, best))
	best = e;
    }

  if (!best || *disabled)
    return 0;

  used[nused++] = (struct autopilot_alt) { .r = best, .label = autopilot_path_label(best, asn) };

  while (nout < k)
  {
    rte *pick = NULL;
    u32 pick_label = 0;

    for (rte *e = n->routes; e; e = e->next)
    {
      /* An alternate is a path traffic can take: unicast, not the best */
      if (!rte_is_valid(e) || (e == best) || (e->attrs->dest != RTD_UNICAST))
	continue;

      u32 label = autopilot_path_label(e, asn);
      uint i;
      for (i = 0; i < nused; i++)
	if (autopilot_same_egress(&used[i], e, label))
	  break;

      if ((i == nused) && rte_better(e, pick))
      {
	pick = e;
	pick_label = label;
      }
    }

    if (!pick || (nused == ARRAY_SIZE(used)))
      break;

    used[nused++] = (struct autopilot_alt) { .r = pick, .label = pick_label };

    u32 pp_label = autopilot_path_pp_label(pick, asn);
    if (pp_label == AUTOPILOT_NO_LABEL)
      continue;

    out[nout++] = (struct autopilot_alt) { .r = pick, .label = pick_label, .pp_label = pp_label };
  }

  return nout;
}
