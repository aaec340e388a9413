/*
 *	BIRD -- Autopilot egress map and path tagging
 *
 *	(c) 2026 bird-autopilot developers
 *
 *	Can be freely distributed and used under the terms of the GNU GPL.
 */

/**
 * DOC: Egress map and tagging
 *
 * The egress map says, for each eBGP session to a transit or peer, which
 * MPLS label the switch's LFIB uses to reach it (the primary label) and
 * which second label Precision Path uses for alternate paths through it.
 *
 * Tagging happens in BGP's receive path, through bgp_rx_attrs_hook, once per
 * received attribute set: the attributes of an UPDATE from an egress get
 * %EA_MPLS_LABEL (sent as the RFC 8277 label by labeled-unicast sessions
 * with next hop self) and our large communities. The attributes are then
 * cached and shared by every prefix of the message as usual, so tagging a
 * million routes costs neither a copy of the table nor a filter run per
 * route.
 *
 * Large communities of our ASN with functions we own (1..4), and the
 * Precision Path disable community, are removed from what egresses send
 * before we add ours: a transit must not be able to choose the labels our
 * hosts use, nor switch Precision Path off. Operators' import filters run
 * after this and may add the disable community.
 */

#undef LOCAL_DEBUG

#include "nest/bird.h"
#include "nest/iface.h"
#include "nest/protocol.h"
#include "nest/route.h"
#include "nest/attrs.h"
#include "nest/mpls.h"
#include "lib/event.h"
#include "conf/conf.h"

#include "proto/bgp/bgp.h"
#include "autopilot.h"

/* Running autopilot instances, searched by the BGP receive hook */
list autopilot_instances;

static void
autopilot_label_conflict(struct autopilot_egress_config *e, const char *kind, u32 label,
			 struct autopilot_egress_config *x, const char *xkind)
{
  if (e == x)
    cf_error("Egress %s: %s and %s must differ (both %u)", e->name, kind, xkind, label);

  cf_error("Egress %s: %s %u already used as %s of egress %s", e->name, kind, label, xkind, x->name);
}

static ip_addr
autopilot_egress_neighbor(struct autopilot_egress_config *e)
{
  return e->bgp ? ((struct bgp_config *) e->bgp)->remote_ip : e->neighbor;
}

/**
 * autopilot_egress_add - validate an egress and add it to the map
 * @cf: autopilot configuration being parsed
 * @e: the egress just parsed
 *
 * Called at the end of each egress block, so errors point at it.
 */
void
autopilot_egress_add(struct autopilot_config *cf, struct autopilot_egress_config *e)
{
  struct autopilot_egress_config *x;

  if (e->label == AUTOPILOT_NO_LABEL)
    cf_error("Egress %s: label not specified", e->name);

  if (e->pp_label == AUTOPILOT_NO_LABEL)
    cf_error("Egress %s: pp label not specified", e->name);

  if (e->label == e->pp_label)
    autopilot_label_conflict(e, "label", e->label, e, "pp label");

  WALK_LIST(x, cf->egresses)
  {
    if ((e->bgp && (e->bgp == x->bgp)) || (!e->bgp && !x->bgp && ipa_equal(e->neighbor, x->neighbor)))
      cf_error("Egress %s defined twice", e->name);

    if (ipa_nonzero(autopilot_egress_neighbor(e)) &&
	ipa_equal(autopilot_egress_neighbor(e), autopilot_egress_neighbor(x)))
      cf_error("Egress %s: neighbor %I is already egress %s", e->name, autopilot_egress_neighbor(e), x->name);

    if (e->label == x->label)
      autopilot_label_conflict(e, "label", e->label, x, "label");

    if (e->pp_label == x->pp_label)
      autopilot_label_conflict(e, "pp label", e->pp_label, x, "pp label");

    if (e->label == x->pp_label)
      autopilot_label_conflict(e, "label", e->label, x, "pp label");

    if (e->pp_label == x->label)
      autopilot_label_conflict(e, "pp label", e->pp_label, x, "label");
  }

  add_tail(&cf->egresses, &e->n);
}

/**
 * autopilot_egress_postconfig - checks that need the whole protocol block
 * @cf: autopilot configuration
 */
void
autopilot_egress_postconfig(struct autopilot_config *cf)
{
  struct autopilot_egress_config *e;
  struct mpls_channel_config *mc = (void *) proto_cf_mpls_channel(&cf->c);

  /* LFIB labels live in the channel's range of its MPLS domain */
  if (mc)
  {
    struct mpls_range_config *r = mc->range;

    WALK_LIST(e, cf->egresses)
      for (int i = 0; i < 2; i++)
      {
	u32 l = i ? e->pp_label : e->label;
	if ((l < r->start) || (l >= r->start + r->length))
	  cf_error("Egress %s: %s %u outside label range %s (%u..%u) of MPLS domain %s",
		   e->name, i ? "pp label" : "label", l, r->name,
		   r->start, r->start + r->length - 1, mc->domain->name);
      }
  }

  if (cf->asn || EMPTY_LIST(cf->egresses))
    return;

  /* Our communities belong to the switch's own AS */
  WALK_LIST(e, cf->egresses)
    if (e->bgp)
    {
      cf->asn = ((struct bgp_config *) e->bgp)->local_as;
      return;
    }

  cf_error("Autopilot: asn not specified, and no egress BGP protocol to take it from");
}

struct autopilot_egress_config *
autopilot_egress_find(struct autopilot_config *cf, const char *name)
{
  struct autopilot_egress_config *e;

  WALK_LIST(e, cf->egresses)
    if (!strcmp(e->name, name))
      return e;

  return NULL;
}

/* Does egress @a tag exactly as @b does? */
int
autopilot_egress_same(struct autopilot_egress_config *a, struct autopilot_egress_config *b)
{
  return !strcmp(a->name, b->name) && (a->label == b->label) && (a->pp_label == b->pp_label);
}

/**
 * autopilot_egress_of_bgp - the egress a BGP session is
 * @p: autopilot instance
 * @bp: BGP protocol a route came from
 *
 * Linear in the number of egresses, and run once per received UPDATE. The
 * config pointers compared are those of the running configuration: both
 * protocols are reconfigured in the same commit, before any packet is read.
 */
struct autopilot_egress_config *
autopilot_egress_of_bgp(struct autopilot_proto *p, struct bgp_proto *bp)
{
  struct autopilot_config *cf = (void *) p->p.cf;
  struct autopilot_egress_config *e;

  WALK_LIST(e, cf->egresses)
    if (e->bgp ? (e->bgp == bp->p.cf) : ipa_equal(e->neighbor, bp->remote_ip))
      return e;

  return NULL;
}

/* Remove large communities (asn, 1..AUTOPILOT_LC_MAX, *) from @set */
static const struct adata *
autopilot_lc_scrub(const struct adata *set, u32 asn, struct linpool *pool)
{
  if (!set)
    return NULL;

  const u32 *d = (const u32 *) set->data;
  uint n = set->length / LCOMM_LENGTH, i;

  for (i = 0; i < n; i++)
    if ((d[3*i] == asn) && (d[3*i+1] >= 1) && (d[3*i+1] <= AUTOPILOT_LC_MAX))
      break;

  /* The common case: nothing of ours, keep the set as it is */
  if (i == n)
    return set;

  struct adata *res = lp_alloc_adata(pool, set->length);
  u32 *r = (u32 *) res->data;
  uint k = 0;

  for (i = 0; i < n; i++)
    if (!((d[3*i] == asn) && (d[3*i+1] >= 1) && (d[3*i+1] <= AUTOPILOT_LC_MAX)))
    {
      memcpy(r + 3*k, d + 3*i, LCOMM_LENGTH);
      k++;
    }

  res->length = k * LCOMM_LENGTH;
  return res;
}

/**
 * autopilot_tag_attrs - tag a path's attributes with its egress
 * @p: autopilot instance
 * @e: egress the path comes from
 * @a: route attributes (not cached yet)
 * @pool: linpool to allocate new attributes from
 */
void
autopilot_tag_attrs(struct autopilot_proto *p, struct autopilot_egress_config *e, rta *a, struct linpool *pool)
{
  struct autopilot_config *cf = (void *) p->p.cf;
  eattr *lc = bgp_find_attr(a->eattrs, BA_LARGE_COMMUNITY);
  const struct adata *set = autopilot_lc_scrub(lc ? lc->u.ptr : NULL, p->asn, pool);

  /* Whether Precision Path is disabled is the operator's call, made in filters */
  if (cf->pp.large)
    set = lc_set_del(pool, set, cf->pp.lc);
  else
  {
    eattr *c = bgp_find_attr(a->eattrs, BA_COMMUNITY);
    if (c && int_set_contains(c->u.ptr, cf->pp.pair))
      bgp_set_attr_ptr(&a->eattrs, pool, BA_COMMUNITY, 0, int_set_del(pool, c->u.ptr, cf->pp.pair));
  }

  set = lc_set_add(pool, set, (lcomm) { p->asn, AUTOPILOT_LC_PP_LABEL, e->pp_label });

  if (p->label_community)
    set = lc_set_add(pool, set, (lcomm) { p->asn, AUTOPILOT_LC_LABEL, e->label });

  bgp_set_attr_ptr(&a->eattrs, pool, BA_LARGE_COMMUNITY, 0, set);
  ea_set_attr_u32(&a->eattrs, pool, EA_MPLS_LABEL, 0, EAF_TYPE_INT, e->label);
}

static void
autopilot_bgp_rx_attrs(struct bgp_proto *bp, struct bgp_channel *bc, rta *a, struct linpool *pool)
{
  struct autopilot_proto *p;
  struct autopilot_egress_config *e;
  node *n;

  /* Only unicast paths are forwarded by label; flowspec and VPNs are not ours */
  if ((bc->c.net_type != NET_IP4) && (bc->c.net_type != NET_IP6))
    return;

  WALK_LIST2(p, n, autopilot_instances, instance_n)
    if (e = autopilot_egress_of_bgp(p, bp))
    {
      autopilot_tag_attrs(p, e, a, pool);
      return;
    }
}

void
autopilot_tag_init(void)
{
  init_list(&autopilot_instances);
  bgp_rx_attrs_hook = autopilot_bgp_rx_attrs;
}
