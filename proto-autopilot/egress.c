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
 * This file owns it: the configured egresses, their neighbor addresses
 * (resolved once, when each egress is parsed), an index by name, BGP
 * protocol, neighbor address and primary label built when the protocol
 * block is complete, and their run-time state (struct autopilot_egress,
 * kept by name over a reconfiguration, found by its config's position).
 * Every other file asks here.
 *
 * Tagging happens in BGP's receive path, through BGP's rx_attrs hook, once per
 * received attribute set: the attributes of an UPDATE from an egress get
 * %EA_MPLS_LABEL (sent as the RFC 8277 label by labeled-unicast sessions
 * with next hop self). The attributes are then cached and shared by every
 * prefix of the message as usual, so tagging a million routes costs neither
 * a copy of the table nor a filter run per route.
 *
 * Our large communities (the Precision Path label, and the primary label
 * where configured) are functions of the egress: they are added as a path
 * is sent, through BGP's tx_attrs hook, to the temporary attributes BGP
 * builds for every exported route anyway. Kept in the table they cost an
 * eattr and an adata in each cached attribute set, about 5% of the memory
 * of a full table; exported, they cost nothing per stored route.
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
#include "nest/cli.h"
#include "lib/bitops.h"
#include "lib/event.h"
#include "lib/hash.h"
#include "conf/conf.h"

#include "proto/bgp/bgp.h"
#include "autopilot.h"
#include "route.h"

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

  /* The neighbor-address rule, once: every other user reads e->addr */
  e->addr = e->bgp ? ((struct bgp_config *) e->bgp)->remote_ip : e->neighbor;

  /* A link-local neighbor is nobody without its interface: the session's, or none to be had */
  e->iface = e->bgp ? ((struct bgp_config *) e->bgp)->iface : NULL;
  if (ipa_is_link_local(e->addr) && !e->iface)
    cf_error("Egress %s: link-local neighbor %I without an interface: name the egress by its BGP "
	     "protocol (neighbor %I%%IFACE)", e->name, e->addr, e->addr);

  WALK_LIST(x, cf->egresses)
  {
    if ((e->bgp && (e->bgp == x->bgp)) || (!e->bgp && !x->bgp && ipa_equal(e->neighbor, x->neighbor)))
      cf_error("Egress %s defined twice", e->name);

    if (ipa_nonzero(e->addr) && ipa_equal(e->addr, x->addr))
      cf_error("Egress %s: neighbor %I is already egress %s", e->name, e->addr, x->name);

    if (e->label == x->label)
      autopilot_label_conflict(e, "label", e->label, x, "label");

    if (e->pp_label == x->pp_label)
      autopilot_label_conflict(e, "pp label", e->pp_label, x, "pp label");

    if (e->label == x->pp_label)
      autopilot_label_conflict(e, "label", e->label, x, "pp label");

    if (e->pp_label == x->label)
      autopilot_label_conflict(e, "pp label", e->pp_label, x, "label");
  }

  e->index = cf->egress_count++;
  add_tail(&cf->egresses, &e->n);
}

/*
 * The egress map's index: four open-addressing tables over the egresses
 * of one configuration, by name, BGP protocol, neighbor address and
 * primary label, built when the protocol block is complete. BGP's receive
 * hook looks its session up once per UPDATE, requests look names up, so
 * neither grows with the number of egresses.
 */
enum autopilot_eg_key { EG_NAME, EG_BGP, EG_ADDR, EG_LABEL };

static inline uint
autopilot_eg_mix(uint h)
{
  return h ^ (h >> 16);
}

static uint
autopilot_eg_hash(uint key, const struct autopilot_egress_config *e)
{
  switch (key)
  {
  case EG_NAME:
  {
    /* Byte by byte: mem_hash() reads u32 words, and a name need not be aligned */
    u32 h = 2166136261U;
    for (const char *c = e->name; *c; c++)
      h = (h ^ (byte) *c) * 16777619U;
    return autopilot_eg_mix(h);
  }
  case EG_BGP:		return ptr_hash(e->bgp);
  case EG_ADDR:		return autopilot_eg_mix(ipa_hash(e->addr));
  case EG_LABEL:	return autopilot_eg_mix(u32_hash(e->label));
  }
  bug("Autopilot: bad egress key %u", key);
}

static int
autopilot_eg_match(uint key, const struct autopilot_egress_config *e, const struct autopilot_egress_config *k)
{
  switch (key)
  {
  case EG_NAME:		return !strcmp(e->name, k->name);
  case EG_BGP:		return e->bgp == k->bgp;
  case EG_ADDR:		return ipa_equal(e->addr, k->addr);
  case EG_LABEL:	return e->label == k->label;
  }
  bug("Autopilot: bad egress key %u", key);
}

static struct autopilot_egress_config **
autopilot_eg_table(struct autopilot_config *cf, uint key)
{
  struct autopilot_egress_config **t[] = { cf->eg_by_name, cf->eg_by_bgp, cf->eg_by_addr, cf->eg_by_label };
  return t[key];
}

/* The egress with @k's key, or NULL; linear while the block is being parsed */
static struct autopilot_egress_config *
autopilot_eg_lookup(struct autopilot_config *cf, uint key, const struct autopilot_egress_config *k)
{
  struct autopilot_egress_config *e, **t = autopilot_eg_table(cf, key);

  if (!cf->eg_mask)
  {
    WALK_LIST(e, cf->egresses)
      if (autopilot_eg_match(key, e, k))
	return e;
    return NULL;
  }

  for (uint i = autopilot_eg_hash(key, k) & cf->eg_mask; e = t[i]; i = (i + 1) & cf->eg_mask)
    if (autopilot_eg_match(key, e, k))
      return e;

  return NULL;
}

static void
autopilot_eg_index(struct autopilot_config *cf)
{
  struct autopilot_egress_config *e;
  uint size = 4;

  while (size < 2 * cf->egress_count)
    size *= 2;

  cf->eg_by_name = cfg_allocz(size * sizeof(e));
  cf->eg_by_bgp = cfg_allocz(size * sizeof(e));
  cf->eg_by_addr = cfg_allocz(size * sizeof(e));
  cf->eg_by_label = cfg_allocz(size * sizeof(e));
  cf->eg_mask = size - 1;

  WALK_LIST(e, cf->egresses)
    for (uint key = EG_NAME; key <= EG_LABEL; key++)
    {
      /* Egresses named by neighbor have no BGP protocol, some none an address */
      if (((key == EG_BGP) && !e->bgp) || ((key == EG_ADDR) && ipa_zero(e->addr)))
	continue;

      struct autopilot_egress_config **t = autopilot_eg_table(cf, key);
      uint i = autopilot_eg_hash(key, e) & cf->eg_mask;
      while (t[i])
	i = (i + 1) & cf->eg_mask;
      t[i] = e;
    }
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

  autopilot_eg_index(cf);

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
  struct autopilot_egress_config k = { .name = name };
  return autopilot_eg_lookup(cf, EG_NAME, &k);
}

/* The egress whose neighbor address is @a (a routing manager's next hop), or NULL */
struct autopilot_egress_config *
autopilot_egress_by_addr(struct autopilot_config *cf, ip_addr a)
{
  struct autopilot_egress_config k = { .addr = a };
  return ipa_zero(a) ? NULL : autopilot_eg_lookup(cf, EG_ADDR, &k);
}

/* The egress whose primary label is @label, or NULL */
struct autopilot_egress_config *
autopilot_egress_by_label(struct autopilot_config *cf, u32 label)
{
  struct autopilot_egress_config k = { .label = label };
  return autopilot_eg_lookup(cf, EG_LABEL, &k);
}

/**
 * autopilot_egress_of_bgp - the egress a BGP session is
 * @p: autopilot instance
 * @bp: BGP protocol a route came from
 *
 * Run once per received UPDATE. The config pointers compared are those of
 * the running configuration: both protocols are reconfigured in the same
 * commit, before any packet is read.
 */
struct autopilot_egress_config *
autopilot_egress_of_bgp(struct autopilot_proto *p, struct bgp_proto *bp)
{
  struct autopilot_config *cf = (void *) p->p.cf;
  struct autopilot_egress_config k = { .bgp = bp->p.cf, .addr = bp->remote_ip }, *e;

  if (e = autopilot_eg_lookup(cf, EG_BGP, &k))
    return e;

  /* An egress named by neighbor is any session with that neighbor */
  e = ipa_zero(k.addr) ? NULL : autopilot_eg_lookup(cf, EG_ADDR, &k);
  return (e && !e->bgp) ? e : NULL;
}

/**
 * autopilot_egress_sync - match run-time egresses to the current config
 * @p: autopilot instance
 *
 * Run-time egress state (the LFIB's) outlives reconfiguration while the
 * egress exists: egresses kept by name keep their state, removed ones lose
 * their config (the LFIB withdraws their entries and frees them), new ones
 * are created. egress_rt then finds each by its config's index.
 */
void
autopilot_egress_sync(struct autopilot_proto *p)
{
  struct autopilot_config *cf = (void *) p->p.cf;
  struct autopilot_egress *e;
  struct autopilot_egress_config *ec;

  WALK_LIST(e, p->sw.egresses)
    if (e->cf)
      e->cf = autopilot_egress_find(cf, e->cf->name);

  mb_free(p->sw.egress_rt);
  p->sw.egress_rt_len = cf->egress_count;
  p->sw.egress_rt = p->sw.egress_rt_len ? mb_allocz(p->p.pool, p->sw.egress_rt_len * sizeof(e)) : NULL;

  WALK_LIST(e, p->sw.egresses)
    if (e->cf)
      p->sw.egress_rt[e->cf->index] = e;

  WALK_LIST(ec, cf->egresses)
    if (!p->sw.egress_rt[ec->index])
    {
      e = mb_allocz(p->p.pool, sizeof(struct autopilot_egress));
      e->cf = ec;
      e->lfib_label = e->lfib_pp_label = AUTOPILOT_NO_LABEL;
      add_tail(&p->sw.egresses, &e->n);
      p->sw.egress_rt[ec->index] = e;
    }
}

/* The run-time state of egress @ec of the running config, or NULL */
struct autopilot_egress *
autopilot_egress_rt(struct autopilot_proto *p, struct autopilot_egress_config *ec)
{
  struct autopilot_egress *e = (ec && (ec->index < p->sw.egress_rt_len)) ? p->sw.egress_rt[ec->index] : NULL;
  return (e && (e->cf == ec)) ? e : NULL;
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
 * autopilot_tag_attrs - tag a received path's attributes with its egress
 * @p: autopilot instance
 * @e: egress the path comes from
 * @a: route attributes (not cached yet)
 * @pool: linpool to allocate new attributes from
 *
 * The path keeps only %EA_MPLS_LABEL in the table; what the egress sent of
 * our communities is removed here, ours are added as the path is sent.
 */
void
autopilot_tag_attrs(struct autopilot_proto *p, struct autopilot_egress_config *e, rta *a, struct linpool *pool)
{
  struct autopilot_config *cf = (void *) p->p.cf;
  eattr *lc = bgp_find_attr(a->eattrs, BA_LARGE_COMMUNITY);
  const struct adata *set0 = lc ? lc->u.ptr : NULL;
  const struct adata *set = autopilot_lc_scrub(set0, p->asn, pool);

  /* Whether Precision Path is disabled is the operator's call, made in filters */
  if (cf->pp.large)
    set = lc_set_del(pool, set, cf->pp.lc);
  else
  {
    eattr *c = bgp_find_attr(a->eattrs, BA_COMMUNITY);
    if (c && int_set_contains(c->u.ptr, cf->pp.pair))
      bgp_set_attr_ptr(&a->eattrs, pool, BA_COMMUNITY, c->flags, int_set_del(pool, c->u.ptr, cf->pp.pair));
  }

  /* The set rewritten keeps its flags: a Partial bit set on the way must stay (RFC 4271 5) */
  if (set != set0)
  {
    if (set->length)
      bgp_set_attr_ptr(&a->eattrs, pool, BA_LARGE_COMMUNITY, lc->flags, set);
    else
      bgp_unset_attr(&a->eattrs, pool, BA_LARGE_COMMUNITY);
  }

  ea_set_attr_u32(&a->eattrs, pool, EA_MPLS_LABEL, 0, EAF_TYPE_INT, e->label);
}

/**
 * autopilot_lc_tags - add our label communities to a large community set
 * @p: autopilot instance
 * @e: egress of the path
 * @label: primary label the path carries
 * @set: large communities of the path, may be NULL
 * @pool: linpool to allocate the new set from
 *
 * The Precision Path label is a function of the egress, so it is added as
 * a path is sent rather than stored in every cached attribute set.
 */
const struct adata *
autopilot_lc_tags(struct autopilot_proto *p, struct autopilot_egress_config *e, u32 label,
		  const struct adata *set, struct linpool *pool)
{
  set = lc_set_add(pool, set, (lcomm) { p->asn, AUTOPILOT_LC_PP_LABEL, e->pp_label });

  if (p->label_community)
    set = lc_set_add(pool, set, (lcomm) { p->asn, AUTOPILOT_LC_LABEL, label });

  return set;
}

/*
 * Which running instance and egress a session is: a walk over instances and
 * egresses, remembered per session in a small direct-mapped memo. Every
 * exported route asks twice (its egress, and whether the receiver is one),
 * and the walk would cost a tenth of the tagging's time. Anything that
 * changes instances or their egresses bumps autopilot_tag_gen; the
 * session's config pointer is kept too, as a new protocol may take a freed
 * one's address.
 */
struct autopilot_egress_memo {
  struct bgp_proto *bp;			/* Session asked about */
  struct proto_config *cf;		/* Its config then */
  uint gen;				/* autopilot_tag_gen then */
  struct autopilot_proto *p;		/* Instance it is an egress of, or NULL */
  struct autopilot_egress_config *e;	/* That egress */
};

#define AUTOPILOT_MEMO_ORDER 6
#define AUTOPILOT_MEMO_SIZE (1 << AUTOPILOT_MEMO_ORDER)

static struct autopilot_egress_memo autopilot_memo[AUTOPILOT_MEMO_SIZE];
static uint autopilot_tag_gen = 1;	/* 0 never matches: the memo starts empty */

/* Instances or their egress maps changed: forget what the memo holds */
void
autopilot_tag_changed(void)
{
  autopilot_tag_gen++;
}

/* The egress @bp is for a running instance, and that instance in @pp */
static struct autopilot_egress_config *
autopilot_egress_running(struct bgp_proto *bp, struct autopilot_proto **pp)
{
  u32 h = u32_hash((u32) ((uintptr_t) bp >> 4));
  struct autopilot_egress_memo *m = &autopilot_memo[h >> (32 - AUTOPILOT_MEMO_ORDER)];
  struct autopilot_proto *p;
  struct autopilot_egress_config *e;
  node *n;

  if ((m->bp == bp) && (m->cf == bp->p.cf) && (m->gen == autopilot_tag_gen))
  {
    *pp = m->p;
    return m->e;
  }

  *m = (struct autopilot_egress_memo) { .bp = bp, .cf = bp->p.cf, .gen = autopilot_tag_gen };
  WALK_LIST2(p, n, autopilot_instances, instance_n)
    if (e = autopilot_egress_of_bgp(p, bp))
    {
      m->p = p;
      m->e = e;
      break;
    }

  *pp = m->p;
  return m->e;
}

static void
autopilot_bgp_rx_attrs(struct bgp_proto *bp, struct bgp_channel *bc, rta *a, struct linpool *pool)
{
  struct autopilot_proto *p;
  struct autopilot_egress_config *e;

  /* Only unicast paths are forwarded by label; flowspec and VPNs are not ours */
  if ((bc->c.net_type != NET_IP4) && (bc->c.net_type != NET_IP6))
    return;

  if (e = autopilot_egress_running(bp, &p))
    autopilot_tag_attrs(p, e, a, pool);
}

/*
 * A path from an egress, tagged with its label, is sent with our large
 * communities to every session but the egresses themselves: transits have
 * no use for our labels. Override copies carry theirs in the table.
 */
static void
autopilot_bgp_tx_attrs(struct bgp_proto *to, struct bgp_channel *bc, rte *r, ea_list **attrs, struct linpool *pool)
{
  struct proto *src = r->src->proto;
  struct autopilot_proto *p, *q;
  struct autopilot_egress_config *e;

  if (((bc->c.net_type != NET_IP4) && (bc->c.net_type != NET_IP6)) || (src->proto != &proto_bgp))
    return;

  if (!(e = autopilot_egress_running((struct bgp_proto *) src, &p)) ||
      autopilot_egress_running(to, &q))
    return;

  /*
   * Neither attribute is touched by BGP's export rules: read them from the
   * route (after export filters), a sorted list when cached, not from the
   * chain being built for the packet.
   */
  u32 label = autopilot_rt_label(r);
  if (label == AUTOPILOT_NO_LABEL)
    return;			/* Not tagged yet: an egress reload is under way */

  eattr *lc = autopilot_rt_attr(r, BA_LARGE_COMMUNITY);
  const struct adata *set = autopilot_lc_tags(p, e, label, lc ? lc->u.ptr : NULL, pool);
  bgp_set_attr_ptr(attrs, pool, BA_LARGE_COMMUNITY, lc ? lc->flags : 0, set);
}

static struct bgp_hooks autopilot_bgp_hooks = {
  .rx_attrs = autopilot_bgp_rx_attrs,
  .tx_attrs = autopilot_bgp_tx_attrs,
  .session = autopilot_bgp_session,
};

void
autopilot_tag_init(void)
{
  init_list(&autopilot_instances);
  add_tail(&bgp_hooks, &autopilot_bgp_hooks.n);
}

/* show autopilot: the egress map, with each egress's session, paths and LFIB state */
void
autopilot_egress_show(struct autopilot_proto *p)
{
  struct autopilot_egress *e;

  /* Down (stopped, or never started): the egresses were in the freed pool */
  if ((p->p.proto_state == PS_DOWN) || EMPTY_LIST(p->sw.egresses))
    return;

  cli_msg(-AUTOPILOT_REPLY_SHOW, "  Large communities sent to hosts: (%u, %u, pp label)%s", p->asn, AUTOPILOT_LC_PP_LABEL,
	  p->label_community ? ", (asn, 1, label)" : "");
  cli_msg(-AUTOPILOT_REPLY_SHOW, "  %-16s %8s %8s %-7s %8s %8s  %s",
	  "Egress", "Label", "PP label", "Session", "IPv4", "IPv6", "LFIB");

  WALK_LIST(e, p->sw.egresses)
  {
    if (!e->cf)
      continue;

    struct bgp_proto *bp = autopilot_egress_bgp(e->cf);
    const char *lfib = autopilot_lfib_state(p, e);

    cli_msg(-AUTOPILOT_REPLY_SHOW, "  %-16s %8u %8u %-7s %8u %8u  %s",
	    e->cf->name, e->cf->label, e->cf->pp_label,
	    !bp ? "none" : (bp->p.proto_state == PS_UP) ? "up" : "down",
	    autopilot_bgp_routes(bp, NET_IP4), autopilot_bgp_routes(bp, NET_IP6), lfib);
  }

  const char *retiring = autopilot_lfib_retiring(p);
  if (retiring)
    cli_msg(-AUTOPILOT_REPLY_SHOW, "  Labels given up by configure, still forwarding while paths are retagged: %s", retiring);
}
