/*
 *	BIRD -- Autopilot controller overrides
 *
 *	(c) 2026 bird-autopilot developers
 *
 *	Can be freely distributed and used under the terms of the GNU GPL.
 */

/**
 * DOC: Overrides
 *
 * An override moves a prefix to a target egress by originating a copy of
 * the target's path with our (higher) preference, a very high local-pref
 * for the hosts' own best-path selection, and the override marker. The copy
 * carries the target's tags (label, Precision Path label) from the copied
 * path's attributes. A full copy keeps all the copied path's attributes; a
 * minimal one (override copy minimal) only what hosts use, so that all
 * copies to one egress share one attribute set.
 *
 * The copied path is the target's path on the longest prefix covering the
 * override's prefix that has paths at all ("src": the prefix itself, or a
 * covering one when the prefix has none), so a controller may move a more
 * specific part of an announced prefix. With target next-best, it is the
 * best path, by the table's own order, of an egress other than the one of
 * BGP's best path, on that same prefix.
 *
 * An override never points at a path that does not exist: every change of a
 * watched prefix (RA_ANY notifications) marks the overrides whose prefix or
 * src it is as dirty, and one event resolves them again, so the copy goes
 * in the same event loop round as the path it copies. Overrides that copy
 * a covering prefix's path hang in that prefix's bucket, so one path change
 * finds all of them at once. Overrides whose resolution might change by a
 * path appearing on a prefix between theirs and their src (pending ones
 * whose own prefix has no path, covering copies) are checked again by a
 * one-second timer, only after paths were added, and pending ones no more
 * often than AUTOPILOT_RECHECK_LOOKUPS table lookups a second allow (a
 * table loading after a restart). The same timer removes expired ones.
 *
 * All route updates happen in the event, never in a request handler or in
 * rt_notify(): requests only change the store and mark overrides dirty.
 */

#undef LOCAL_DEBUG

#include <stdlib.h>

#include "nest/bird.h"
#include "nest/iface.h"
#include "nest/protocol.h"
#include "nest/route.h"
#include "nest/attrs.h"
#include "lib/bitops.h"
#include "lib/event.h"
#include "lib/timer.h"
#include "lib/string.h"
#include "conf/conf.h"
#include "proto/bgp/bgp.h"
#include "autopilot.h"
#include "route.h"

static void autopilot_ovr_record_withdraw(struct autopilot_proto *p, struct autopilot_override *o);

const char *autopilot_ovr_state_names[AP_OVR_STATES] = {
  [AP_OVR_PENDING] = "pending",
  [AP_OVR_ACTIVE] = "active",
  [AP_OVR_SHADOW] = "shadow",
};

const char *autopilot_ovr_why_names[AP_WHY_MAX] = {
  [AP_WHY_NONE] = NULL,
  [AP_WHY_UNRESOLVED] = "not resolved yet",
  [AP_WHY_CHANNEL] = "channel down",
  [AP_WHY_UNCONFIGURED] = "egress not configured",
  [AP_WHY_NO_PATH] = "no path",
  [AP_WHY_NO_TARGET_PATH] = "no path from the target egress",
  [AP_WHY_NO_OTHER_PATH] = "no path from another egress",
};

/*
 * Target names, shared: a million overrides name a handful of egresses,
 * and a copy of the name in each was a quarter of its memory. Counted
 * by use, freed with the last; one table for all instances (a name is
 * only a name: each instance looks its egress up in its own config).
 */
struct autopilot_name {
  struct autopilot_name *next;		/* In autopilot_names */
  uint uses;				/* Overrides naming it */
  char name[];				/* The name */
};

#define NAME_KEY(n)		(n)->name
#define NAME_NEXT(n)		(n)->next
#define NAME_EQ(a,b)		!strcmp(a, b)
#define NAME_FN(a)		autopilot_name_hash(a)
#define NAME_ORDER		4
#define NAME_REHASH		autopilot_name_rehash
#define NAME_PARAMS		/8, *2, 2, 2, 4, 20

static inline u32
autopilot_name_hash(const char *s)
{
  u64 h;
  mem_hash_init(&h);
  mem_hash_mix_str(&h, s);
  return mem_hash_value(&h);
}

static pool *autopilot_names_pool;
static HASH(struct autopilot_name) autopilot_names;

HASH_DEFINE_REHASH_FN(NAME, struct autopilot_name)

/* The shared copy of @s, one more use of it; NULL for an empty name */
static const char *
autopilot_name_get(const char *s)
{
  if (!s || !*s)
    return NULL;

  if (!autopilot_names_pool)
  {
    autopilot_names_pool = rp_new(&root_pool, "Autopilot target names");
    HASH_INIT(autopilot_names, autopilot_names_pool, NAME_ORDER);
  }

  struct autopilot_name *n = HASH_FIND(autopilot_names, NAME, s);
  if (!n)
  {
    uint len = strlen(s) + 1;
    n = mb_alloc(autopilot_names_pool, sizeof(struct autopilot_name) + len);
    n->uses = 0;
    memcpy(n->name, s, len);
    HASH_INSERT2(autopilot_names, NAME, autopilot_names_pool, n);
  }

  n->uses++;
  return n->name;
}

/* One use less of a name autopilot_name_get() gave */
static void
autopilot_name_put(const char *s)
{
  if (!s)
    return;

  struct autopilot_name *n = SKIP_BACK(struct autopilot_name, name[0], s);
  ASSERT(n->uses);
  if (--n->uses)
    return;

  HASH_REMOVE2(autopilot_names, NAME, autopilot_names_pool, n);
  mb_free(n);
}

#define OVR_KEY(o)		((net_addr *) &(o)->net)
#define OVR_NEXT(o)		(o)->next_hash
#define OVR_EQ(a,b)		net_equal(a, b)
#define OVR_FN(a)		net_hash(a)
#define OVR_ORDER		10
#define OVR_REHASH		autopilot_ovr_rehash
#define OVR_PARAMS		/8, *2, 2, 2, 10, 24

#define SRC_KEY(b)		((net_addr *) &(b)->net)
#define SRC_NEXT(b)		(b)->next_hash
#define SRC_EQ(a,b)		net_equal(a, b)
#define SRC_FN(a)		net_hash(a)
#define SRC_ORDER		6
#define SRC_REHASH		autopilot_src_rehash
#define SRC_PARAMS		/8, *2, 2, 2, 6, 24

HASH_DEFINE_REHASH_FN(OVR, struct autopilot_override)

/*
 * Every change of a watched path asks whether its prefix has an override:
 * in a loading table millions of times, mostly for prefixes that have none,
 * and each a cache miss or two in the hash. A bit per hash of each prefix
 * entered (16 to 32 bits per override, so 3-6% false hits; bits are only
 * cleared by a rebuild, when as many prefixes as it was built for have
 * been entered) answers most of them from a few kB.
 */
#define OVR_FILTER_MIN_ORDER	16	/* 8 kB */
#define OVR_FILTER_BITS		16	/* Bits per prefix it is built for, at least */

static inline u32
autopilot_ovr_filter_bit(struct autopilot_proto *p, const net_addr *n)
{
  return u32_hash(net_hash(n)) >> (32 - p->store.filter_order);
}

static void
autopilot_ovr_filter_build(struct autopilot_proto *p)
{
  uint order = OVR_FILTER_MIN_ORDER;
  while ((order < 31) && ((1ULL << order) < (u64) p->store.hash.count * OVR_FILTER_BITS))
    order++;

  mb_free(p->store.filter);
  p->store.filter = mb_allocz(p->p.pool, (1ULL << order) / 8);
  p->store.filter_order = order;
  p->store.filter_set = 0;

  HASH_WALK(p->store.hash, next_hash, o)
  {
    u32 bit = autopilot_ovr_filter_bit(p, (net_addr *) &o->net);
    p->store.filter[bit / 64] |= 1ULL << (bit % 64);
    p->store.filter_set++;
  }
  HASH_WALK_END;
}

/* @n was entered in the hash */
static void
autopilot_ovr_filter_add(struct autopilot_proto *p, const net_addr *n)
{
  if (!p->store.filter || (p->store.filter_set >= (1ULL << p->store.filter_order) / OVR_FILTER_BITS))
  {
    autopilot_ovr_filter_build(p);	/* n included: it is in the hash */
    return;
  }

  u32 bit = autopilot_ovr_filter_bit(p, n);
  p->store.filter[bit / 64] |= 1ULL << (bit % 64);
  p->store.filter_set++;
}

/* May @n have an override? */
static inline int
autopilot_ovr_filter_test(struct autopilot_proto *p, const net_addr *n)
{
  u32 bit;
  return p->store.filter && (bit = autopilot_ovr_filter_bit(p, n), p->store.filter[bit / 64] & (1ULL << (bit % 64)));
}
HASH_DEFINE_REHASH_FN(SRC, struct autopilot_src)

static inline struct autopilot_config *
ap_cf(struct autopilot_proto *p)
{
  return (void *) p->p.cf;
}

static struct channel *
autopilot_ovr_channel(struct autopilot_proto *p, const net_addr *n)
{
  return (n->type == NET_IP4) ? p->ip4_channel : (n->type == NET_IP6) ? p->ip6_channel : NULL;
}

/* Tell who keeps the set (state.c subscribes): one change, as its request */
static inline void
ovr_record(struct autopilot_proto *p, const struct autopilot_request *req)
{
  if (p->store.record)
    p->store.record(p, req);
}

/* ... and that changes were made: they are to be saved */
static inline void
ovr_changed(struct autopilot_proto *p)
{
  if (p->store.changed)
    p->store.changed(p);
}

static void
autopilot_ovr_dirty(struct autopilot_proto *p, struct autopilot_override *o)
{
  if (o->dirty)
    return;

  o->dirty = 1;
  o->next_dirty = p->store.dirty;
  p->store.dirty = o;
  ev_schedule(p->store.event);
}

/* The egress a path comes from, or NULL if it is no egress path */
static struct autopilot_egress_config *
autopilot_rte_egress(struct autopilot_proto *p, rte *r)
{
  struct proto *sp = r->src->proto;

  if (sp->proto != &proto_bgp)
    return NULL;

  return autopilot_egress_of_bgp(p, (struct bgp_proto *) sp);
}

/*
 * Is @sp an egress session we saw go down (BGP's session hook, or the first
 * of its flushed paths) and not yet back? Its paths are no longer used,
 * even those still in the table while BIRD prunes them, whatever channel
 * brought them (a pipe from the session's own table too).
 */
static inline int
autopilot_src_lost(struct autopilot_proto *p, struct proto *sp)
{
  if (!p->store.flushing || (sp->proto_state == PS_UP) || (sp->proto != &proto_bgp))
    return 0;

  struct autopilot_egress *e = autopilot_egress_rt(p, autopilot_egress_of_bgp(p, (struct bgp_proto *) sp));
  return e && (e->lost_by == sp);
}

/* Is @r a path we may copy: valid, not ours, its session up */
static inline int
autopilot_rte_usable(struct autopilot_proto *p, rte *r)
{
  /* A channel being flushed (its session went down) takes all its paths */
  return rte_is_valid(r) && (r->src->proto != &p->p) &&
    (!r->sender || (r->sender->channel_state == CS_UP)) && !autopilot_src_lost(p, r->src->proto);
}

/* The target's best path in @n, or NULL */
static rte *
autopilot_path_of(struct autopilot_proto *p, net *n, struct autopilot_egress_config *target)
{
  rte *best = NULL;

  for (rte *r = n->routes; r; r = r->next)
    if (autopilot_rte_usable(p, r) && (autopilot_rte_egress(p, r) == target) && rte_better(r, best))
      best = r;

  return best;
}

/* Best path of @n from an egress other than that of BGP's best; *@bgp_best gets that */
static rte *
autopilot_next_best(struct autopilot_proto *p, net *n, rte **bgp_best)
{
  rte *best = NULL, *alt = NULL;
  struct autopilot_egress_config *be;

  for (rte *r = n->routes; r; r = r->next)
    if (autopilot_rte_usable(p, r) && rte_better(r, best))
      best = r;

  *bgp_best = best;
  if (!best)
    return NULL;

  be = autopilot_rte_egress(p, best);
  for (rte *r = n->routes; r; r = r->next)
  {
    struct autopilot_egress_config *e;
    if (autopilot_rte_usable(p, r) && (e = autopilot_rte_egress(p, r)) && (e != be) && rte_better(r, alt))
      alt = r;
  }

  return alt;
}

static int
autopilot_net_has_paths(struct autopilot_proto *p, net *n)
{
  for (rte *r = n->routes; r; r = r->next)
    if (autopilot_rte_usable(p, r))
      return 1;

  return 0;
}

static void
autopilot_net_truncate(net_addr_ip6 *dst, const net_addr_ip6 *src, uint len)
{
  net_copy((net_addr *) dst, (const net_addr *) src);
  dst->pxlen = len;
  net_normalize((net_addr *) dst);
}

/**
 * autopilot_ovr_cover - where an override of a prefix resolves
 * @p: autopilot instance
 * @c: its watched channel of the prefix's family (up)
 * @a: the prefix
 * @found: set to the prefix found
 *
 * The longest prefix covering @a (@a itself included) that has usable
 * paths, as forwarding would use it; NULL if none has. The observation
 * requests report it too (observe.c), so they say what an override does.
 */
net *
autopilot_ovr_cover(struct autopilot_proto *p, struct channel *c, const net_addr_ip6 *a, net_addr_ip6 *found)
{
  for (int len = a->pxlen; len >= 0; len--)
  {
    autopilot_net_truncate(found, a, len);
    net *n = net_find(c->table, (net_addr *) found);
    if (n && autopilot_net_has_paths(p, n))
      return n;
  }

  return NULL;
}

/*
 * Is egress @ec lost: its session seen going down (autopilot_src_lost())?
 * An egress named by its BGP protocol is that one session, so none of its
 * paths is usable, whatever the table still holds while it prunes them.
 * An egress named by neighbor may be any session with it: never lost
 * here, its paths are looked up.
 */
static inline int
autopilot_egress_lost(struct autopilot_proto *p, struct autopilot_egress_config *ec)
{
  struct proto *bp = ec->bgp ? ec->bgp->proto : NULL;
  return bp && autopilot_src_lost(p, bp);
}

/*
 * Find the path @o copies: the longest prefix covering o->net that has paths
 * (as forwarding would use) is where the target's path must be. A covering
 * prefix counts only when the prefix itself has no path: while an egress's
 * paths are being flushed, its overrides go pending at once rather than
 * hopping onto its covering paths that are about to go too. Returns the path
 * and sets o->src_len, or returns NULL and sets o->why.
 */
static rte *
autopilot_ovr_resolve(struct autopilot_proto *p, struct autopilot_override *o)
{
  struct channel *c = autopilot_ovr_channel(p, (net_addr *) &o->net);
  struct autopilot_egress_config *target = NULL;
  net_addr_ip6 probe;

  o->lost = 0;
  if (!c || (c->channel_state != CS_UP))
    return o->why = AP_WHY_CHANNEL, NULL;

  if (o->target && !(target = autopilot_egress_find(ap_cf(p), o->target)))
    return o->why = AP_WHY_UNCONFIGURED, NULL;

  /*
   * Its target's session is down: no path of it is usable, so no lookup
   * can find one. An egress going down takes tens of thousands of these
   * at once, and each of its pruned paths marks them again; lookups here
   * would hold up the withdrawals of their copies, and BIRD's prune with
   * them. Flagged lost: the tick checks it again once paths come, as it
   * would one pending with no path at all.
   */
  if (target && autopilot_egress_lost(p, target))
    return o->lost = 1, o->why = AP_WHY_NO_TARGET_PATH, NULL;

  net *n = autopilot_ovr_cover(p, c, &o->net, &probe);
  if (!n)
    return o->why = AP_WHY_NO_PATH, NULL;

  rte *r, *bgp_best;
  if (target)
    r = autopilot_path_of(p, n, target);
  else
    r = autopilot_next_best(p, n, &bgp_best);

  if (!r)
    return o->why = target ? AP_WHY_NO_TARGET_PATH : AP_WHY_NO_OTHER_PATH, NULL;

  o->src_len = probe.pxlen;
  return r;
}

/* Put @o in the bucket of its src if it copies a covering prefix, else in none */
static void
autopilot_ovr_src_index(struct autopilot_proto *p, struct autopilot_override *o, int covering)
{
  net_addr_ip6 src = autopilot_ovr_src(o);
  struct autopilot_src *b = covering ? HASH_FIND(p->store.src, SRC, (net_addr *) &src) : NULL;

  if (o->srcb && (o->srcb == b))
    return;

  if (o->srcb)
  {
    rem_node(&o->src_n);
    if (EMPTY_LIST(o->srcb->overrides))
    {
      HASH_REMOVE2(p->store.src, SRC, p->p.pool, o->srcb);
      sl_free(o->srcb);
    }
    o->srcb = NULL;
  }

  if (!covering)
    return;

  if (!b)
  {
    b = sl_allocz(p->store.src_slab);
    net_copy((net_addr *) &b->net, (net_addr *) &src);
    init_list(&b->overrides);
    HASH_INSERT2(p->store.src, SRC, p->p.pool, b);
  }

  add_tail(&b->overrides, &o->src_n);
  o->srcb = b;
}

/*
 * Copies of prefixes whose paths share attributes have the same attributes
 * too (about 4 prefixes per set in a full table): one event round builds
 * and interns them once per set and clones them for the others. The memo
 * holds references to both until the round ends (so an address cannot be
 * reused meanwhile); the config cannot change within a round.
 */
#define AP_COPY_MEMO_ORDER 8

struct autopilot_copy_memo {
  struct autopilot_proto *p;		/* Instance copying */
  rta *from;				/* Attributes of the path copied (a reference) */
  struct proto *src;			/* Its protocol (the egress decides the labels) */
  rta *copy;				/* Interned attributes of the copy, or NULL */
};

static struct autopilot_copy_memo autopilot_copy_memo[1 << AP_COPY_MEMO_ORDER];

/*
 * Minimal copies (override copy minimal) carry only what the hosts and
 * the switch use of them, so the copies to one egress share one attribute
 * set whatever the paths they copy carry besides: a key of a few values
 * of the copied path finds it, for any number of copies in a round. An
 * entry holds a reference to the set until the round ends, as above.
 */
#define AP_MIN_MEMO_ORDER 6
#define AP_MIN_NO_ORIGIN ((u32) -1)	/* The copied path has no ORIGIN */

struct autopilot_min_memo {
  struct autopilot_proto *p;		/* Instance copying */
  struct autopilot_egress_config *eg;	/* Egress of the paths copied (its pp label), or NULL */
  u32 label;				/* Their primary label (EA_MPLS_LABEL), or AUTOPILOT_NO_LABEL */
  u32 origin;				/* Their ORIGIN, or AP_MIN_NO_ORIGIN */
  u32 first_as;				/* Their first AS, 0 for none (no or empty AS_PATH) */
  u8 as_path;				/* They have an AS_PATH (perhaps empty) */
  u8 pp_disabled;			/* They carry the Precision Path disable community */
  rta *copy;				/* Interned attributes of the copy (a reference), or NULL */
};

static struct autopilot_min_memo autopilot_min_memo[1 << AP_MIN_MEMO_ORDER];

static void
autopilot_copy_memo_flush(void)
{
  for (uint i = 0; i < ARRAY_SIZE(autopilot_copy_memo); i++)
    if (autopilot_copy_memo[i].copy)
    {
      rta_free(autopilot_copy_memo[i].from);
      rta_free(autopilot_copy_memo[i].copy);
      autopilot_copy_memo[i] = (struct autopilot_copy_memo) {};
    }

  for (uint i = 0; i < ARRAY_SIZE(autopilot_min_memo); i++)
    if (autopilot_min_memo[i].copy)
    {
      rta_free(autopilot_min_memo[i].copy);
      autopilot_min_memo[i] = (struct autopilot_min_memo) {};
    }
}

/*
 * Same next hop and forwarding fields in @a as in @copy: the switch
 * forwards by them, and BGP reads BGP_NEXT_HOP when it sends the copy
 * without next hop self.
 */
static int
autopilot_min_same_nh(rta *copy, rta *a, eattr *nh)
{
  eattr *cnh = bgp_find_attr(copy->eattrs, BA_NEXT_HOP);

  return (copy->source == a->source) && (copy->scope == a->scope) && (copy->dest == a->dest) &&
    (copy->igp_metric == a->igp_metric) && ipa_equal(copy->from, a->from) &&
    nexthop_same(&copy->nh, &a->nh) &&
    (nh ? (cnh && adata_same(cnh->u.ptr, nh->u.ptr)) : !cnh);
}

/*
 * Interned minimal attributes of the copy of @r, for this round: the
 * copied path's ORIGIN, an AS_PATH of its first AS only (the neighbor AS:
 * hosts still see whom the traffic goes to), its BGP next hop and the rta
 * fields the switch forwards with, its primary label, the override
 * LOCAL_PREF, the Precision Path disable community if it carries it, and
 * our large communities (its egress's tags and the marker). Its other
 * attributes (communities, MED, AGGREGATOR, ...) stay with the path.
 */
static rta *
autopilot_copy_attrs_min(struct autopilot_proto *p, struct channel *c, rte *r)
{
  struct autopilot_config *cf = ap_cf(p);
  rta *ra = r->attrs;
  eattr *origin = bgp_find_attr(ra->eattrs, BA_ORIGIN);
  eattr *path = bgp_find_attr(ra->eattrs, BA_AS_PATH);
  eattr *nh = bgp_find_attr(ra->eattrs, BA_NEXT_HOP);
  struct autopilot_egress_config *eg = autopilot_rte_egress(p, r);
  u32 first_as = 0;

  /* An AS_SET or confederation segments first: no neighbor AS to say */
  if (path && !as_path_get_first_regular(path->u.ptr, &first_as))
    first_as = 0;

  struct autopilot_min_memo key = {
    .p = p,
    .eg = eg,
    .label = autopilot_rt_label(r),
    .origin = origin ? origin->u.data : AP_MIN_NO_ORIGIN,
    .first_as = first_as,
    .as_path = !!path,
    .pp_disabled = autopilot_path_pp_disabled(r, &cf->pp),
  };

  u32 h = u32_hash(((u32) ((uintptr_t) p >> 4)) ^ ((u32) ((uintptr_t) eg >> 4)) ^
		   key.label ^ (key.origin << 24) ^ u32_hash(first_as) ^ ipa_hash(ra->nh.gw) ^ c->preference);
  struct autopilot_min_memo *m = &autopilot_min_memo[h >> (32 - AP_MIN_MEMO_ORDER)];

  if (m->copy && (m->p == p) && (m->eg == eg) && (m->label == key.label) && (m->origin == key.origin) &&
      (m->first_as == first_as) && (m->as_path == key.as_path) && (m->pp_disabled == key.pp_disabled) &&
      (m->copy->pref == c->preference) && autopilot_min_same_nh(m->copy, ra, nh))
    return rta_clone(m->copy);

  rta *a = alloca(rta_size(ra));

  memcpy(a, ra, rta_size(ra));
  a->cached = 0;
  a->hostentry = NULL;
  a->pref = c->preference;
  a->eattrs = NULL;

  if (origin)
    bgp_set_attr_u32(&a->eattrs, tmp_linpool, BA_ORIGIN, origin->flags, origin->u.data);

  if (path)
  {
    struct adata *ad = lp_alloc_adata(tmp_linpool, first_as ? 6 : 0);
    if (first_as)
    {
      ad->data[0] = AS_PATH_SEQUENCE;
      ad->data[1] = 1;
      put_u32(ad->data + 2, first_as);
    }
    bgp_set_attr_ptr(&a->eattrs, tmp_linpool, BA_AS_PATH, path->flags, ad);
  }

  if (nh)
    bgp_set_attr_ptr(&a->eattrs, tmp_linpool, BA_NEXT_HOP, nh->flags, nh->u.ptr);

  /* As for full copies: the hosts choose by BGP rules */
  bgp_set_attr_u32(&a->eattrs, tmp_linpool, BA_LOCAL_PREF, 0, cf->override_local_pref);

  /* The operator disabled Precision Path for the path: its copy says so too */
  const struct adata *set = NULL;
  if (key.pp_disabled && cf->pp.large)
    set = lc_set_add(tmp_linpool, set, cf->pp.lc);
  else if (key.pp_disabled)
    bgp_set_attr_ptr(&a->eattrs, tmp_linpool, BA_COMMUNITY, 0, int_set_add(tmp_linpool, NULL, cf->pp.pair));

  /* The target's labels, and the marker, as full copies carry them */
  if (eg && (key.label != AUTOPILOT_NO_LABEL))
    set = autopilot_lc_tags(p, eg, key.label, set, tmp_linpool);

  set = lc_set_add(tmp_linpool, set, (lcomm) { p->asn, AUTOPILOT_LC_OVERRIDE, 1 });
  bgp_set_attr_ptr(&a->eattrs, tmp_linpool, BA_LARGE_COMMUNITY, 0, set);

  /* The primary label: BGP sends it in the NLRI, the LFIB and observers read it */
  if (key.label != AUTOPILOT_NO_LABEL)
    ea_set_attr_u32(&a->eattrs, tmp_linpool, EA_MPLS_LABEL, 0, EAF_TYPE_INT, key.label);

  if (m->copy)
    rta_free(m->copy);

  *m = key;
  m->copy = rta_lookup(a);
  return rta_clone(m->copy);
}

/* Interned attributes of the copy of @r, for this round */
static rta *
autopilot_copy_attrs(struct autopilot_proto *p, struct channel *c, rte *r)
{
  if (ap_cf(p)->override_copy == AUTOPILOT_COPY_MINIMAL)
    return autopilot_copy_attrs_min(p, c, r);

  u32 h = u32_hash((u32) ((uintptr_t) r->attrs >> 4));
  struct autopilot_copy_memo *m = &autopilot_copy_memo[h >> (32 - AP_COPY_MEMO_ORDER)];

  if (m->copy && (m->p == p) && (m->from == r->attrs) && (m->src == r->src->proto) &&
      (m->copy->pref == c->preference))
    return rta_clone(m->copy);

  struct autopilot_config *cf = ap_cf(p);
  rta *a = alloca(rta_size(r->attrs));

  memcpy(a, r->attrs, rta_size(r->attrs));
  a->cached = 0;
  a->hostentry = NULL;
  a->pref = c->preference;

  /* The hosts choose by BGP rules: make the copy win there too, and mark it */
  bgp_set_attr_u32(&a->eattrs, tmp_linpool, BA_LOCAL_PREF, 0, cf->override_local_pref);

  /* The target's labels: paths keep only the primary label in the table */
  eattr *lc = bgp_find_attr(a->eattrs, BA_LARGE_COMMUNITY);
  eattr *label = ea_find(a->eattrs, EA_MPLS_LABEL);
  struct autopilot_egress_config *eg = autopilot_rte_egress(p, r);
  const struct adata *set = lc ? lc->u.ptr : NULL;

  if (eg && label)
    set = autopilot_lc_tags(p, eg, label->u.data, set, tmp_linpool);

  set = lc_set_add(tmp_linpool, set, (lcomm) { p->asn, AUTOPILOT_LC_OVERRIDE, 1 });
  bgp_set_attr_ptr(&a->eattrs, tmp_linpool, BA_LARGE_COMMUNITY, 0, set);

  if (m->copy)
  {
    rta_free(m->from);
    rta_free(m->copy);
  }

  *m = (struct autopilot_copy_memo) {
    .p = p, .from = rta_clone(r->attrs), .src = r->src->proto, .copy = rta_lookup(a) };
  return rta_clone(m->copy);
}

/* Originate the copy of @r for @o */
static void
autopilot_ovr_announce(struct autopilot_proto *p, struct autopilot_override *o, struct channel *c, rte *r)
{
  autopilot_rt_originate(&p->p, c, (net_addr *) &o->net, autopilot_copy_attrs(p, c, r));
  o->announced = 1;
}

static void
autopilot_ovr_withdraw_route(struct autopilot_proto *p, struct autopilot_override *o)
{
  struct channel *c = autopilot_ovr_channel(p, (net_addr *) &o->net);

  if (o->announced && c && (c->channel_state == CS_UP))
    autopilot_rt_withdraw(&p->p, c, (net_addr *) &o->net);

  o->announced = 0;
}

static void
autopilot_ovr_set_state(struct autopilot_proto *p, struct autopilot_override *o, uint state, u32 old_via)
{
  autopilot_watch_override(p, o, o->state, old_via, state);
  p->store.states[o->state]--;
  if (!o->deleted)
    p->store.by_source[o->source][o->state]--;
  o->state = state;
  p->store.states[o->state]++;
  if (!o->deleted)
    p->store.by_source[o->source][o->state]++;
}

/* Bring one override's route in line with the table and the config; 1 if announced */
static int
autopilot_ovr_update(struct autopilot_proto *p, struct autopilot_override *o)
{
  struct channel *c = autopilot_ovr_channel(p, (net_addr *) &o->net);
  u32 old_via = o->via_label;		/* For watchers: an active override may move egress */
  rte *r = autopilot_ovr_resolve(p, o);

  if (!r)
  {
    /* Stay indexed by the last src: its path coming back wakes us at once */
    autopilot_ovr_withdraw_route(p, o);
    if ((o->state != AP_OVR_PENDING) && (p->store.round_pending++ < AUTOPILOT_LOG_EACH))
      log(L_INFO "%s: Override %N -> %s pending: %s", p->p.name, &o->net,
	  o->target ?: AUTOPILOT_NEXT_BEST, autopilot_ovr_why(o));
    autopilot_ovr_set_state(p, o, AP_OVR_PENDING, old_via);
    return 0;
  }

  struct autopilot_egress_config *e = autopilot_rte_egress(p, r);
  o->why = AP_WHY_NONE;
  o->via_label = e ? e->label : 0;
  autopilot_ovr_src_index(p, o, o->src_len != o->net.pxlen);
  net_addr_ip6 src = autopilot_ovr_src(o);

  if (ap_cf(p)->shadow)
  {
    autopilot_ovr_withdraw_route(p, o);
    if (o->state != AP_OVR_SHADOW)
      log(L_INFO "%s: Shadow: would move %N to %s (path of %N)", p->p.name, &o->net,
	  e ? e->name : "?", &src);
    autopilot_ovr_set_state(p, o, AP_OVR_SHADOW, old_via);
    return 0;
  }

  autopilot_ovr_announce(p, o, c, r);
  if ((o->state != AP_OVR_ACTIVE) && (p->store.round_active++ < AUTOPILOT_LOG_EACH))
    log(L_INFO "%s: Override %N -> %s active: path of %N via %s (label %u)", p->p.name, &o->net,
	o->target ?: AUTOPILOT_NEXT_BEST, &src, e ? e->name : "?", o->via_label);
  autopilot_ovr_set_state(p, o, AP_OVR_ACTIVE, old_via);
  return 1;
}

static void
autopilot_ovr_free(struct autopilot_proto *p, struct autopilot_override *o)
{
  autopilot_ovr_withdraw_route(p, o);
  autopilot_ovr_src_index(p, o, 0);
  autopilot_watch_override(p, o, o->state, o->via_label, AP_OVR_STATES);
  HASH_REMOVE2(p->store.hash, OVR, p->p.pool, o);
  p->store.states[o->state]--;
  autopilot_name_put(o->target);
  mb_free(o->reason);
  sl_free(o);
}

/* Resolve a dirty override now; 1 if it announced a copy */
static int
autopilot_ovr_process(struct autopilot_proto *p, struct autopilot_override *o)
{
  o->dirty = o->by_path = 0;

  if (o->deleted)
  {
    autopilot_ovr_free(p, o);
    return 0;
  }

  return autopilot_ovr_update(p, o);
}

/* Queue a dirty override with no copy out for a later round (it stays dirty) */
static void
autopilot_ovr_defer(struct autopilot_proto *p, struct autopilot_override *o)
{
  o->next_dirty = NULL;
  *p->store.later_tail = o;
  p->store.later_tail = &o->next_dirty;
}

/*
 * An egress going down hands the event tens of thousands of copies to
 * withdraw, each a lookup of its net and a walk of its routes for the new
 * best (rte_update2(), rte_better() over the attributes of each), then the
 * copy and its attributes freed: cache misses, one after the other. Like
 * BGP's receive (patch 0011), a window of them is looked up first
 * (autopilot_rt_prefetch()), so the misses overlap. Those found lost with
 * their copy withdrawn touch no table, so they are left out.
 */
#define AP_PREFETCH_WINDOW	64	/* Overrides looked up ahead */

static void
autopilot_ovr_prefetch(struct autopilot_proto *p, struct autopilot_override **w, uint n)
{
  struct channel *c[AP_PREFETCH_WINDOW];
  const net_addr *a[AP_PREFETCH_WINDOW];

  for (uint i = 0; i < n; i++)
  {
    a[i] = (net_addr *) &w[i]->net;
    c[i] = autopilot_ovr_channel(p, a[i]);
    if (!c[i] || (c[i]->channel_state != CS_UP) || (!w[i]->announced && w[i]->lost))
      c[i] = NULL;
  }

  autopilot_rt_prefetch(c, a, n);
}

/* Resolve a window of dirty overrides, looked up ahead */
static void
autopilot_ovr_process_window(struct autopilot_proto *p, struct autopilot_override **w, uint n)
{
  autopilot_ovr_prefetch(p, w, n);

  for (uint i = 0; i < n; i++)
    autopilot_ovr_process(p, w[i]);
}

/* Queue @o to be resolved again by the sweep (its egress was lost) */
static void
autopilot_ovr_sweep_add(struct autopilot_proto *p, struct autopilot_override *o)
{
  if (p->store.sweep_len == p->store.sweep_size)
  {
    uint size = MAX(2 * p->store.sweep_size, 1024);
    p->store.sweep = p->store.sweep ?
      mb_realloc(p->store.sweep, size * sizeof(net_addr_ip6)) :
      mb_alloc(p->p.pool, size * sizeof(net_addr_ip6));
    p->store.sweep_size = size;
  }

  p->store.sweep[p->store.sweep_len++] = o->net;
}

/*
 * Let BGP send what it has queued, now, in the middle of a long round:
 * the withdrawals of a lost egress's copies reach the hosts while the
 * next ones are made, and the hosts (idle else) work meanwhile. It runs
 * the sessions' transmit events, as the loop would after this round.
 */
static void
autopilot_bgp_kick(void)
{
  struct proto *P;

  WALK_LIST(P, proto_list)
    if ((P->proto == &proto_bgp) && (P->proto_state == PS_UP))
    {
      struct bgp_conn *conn = ((struct bgp_proto *) P)->conn;
      if (conn && conn->tx_ev && ev_active(conn->tx_ev))
	ev_run(conn->tx_ev);
    }
}

/*
 * The overrides via a lost egress, first thing in the round: 50,000
 * withdrawals made in one round were sent only after it, so the hosts
 * waited, idle, for the switch's 100 ms. Every AUTOPILOT_SWEEP_KICK of
 * them BGP sends what is queued, so the hosts work on the first while the
 * switch makes the next. Not in rounds of a few thousand: each round
 * lets BIRD's prune queue 2,000 withdrawals of the lost egress's own
 * paths ahead of the next copies, which the hosts must take first (their
 * CPU grew by a quarter). More than AUTOPILOT_ROUND_SWEEP go in further
 * rounds; none outlives its path meanwhile: one the sweep has not reached
 * is not dirty, so its path's removal by the prune marks it as any other
 * (by_path, resolved in that round). Prefixes, not pointers: one may be
 * freed meanwhile; one gone, pending or dirty by then is left to its own
 * resolution.
 */
static void
autopilot_ovr_sweep(struct autopilot_proto *p)
{
  struct autopilot_store *st = &p->store;
  struct autopilot_override *w[AP_PREFETCH_WINDOW], *o;
  uint end = MIN(st->sweep_pos + AUTOPILOT_ROUND_SWEEP, st->sweep_len), k = 0, done = 0;

  for (; st->sweep_pos < end; st->sweep_pos++)
  {
    o = HASH_FIND(st->hash, OVR, (net_addr *) &st->sweep[st->sweep_pos]);
    if (!o || o->deleted || o->dirty || (o->state == AP_OVR_PENDING))
      continue;

    w[k++] = o;
    if (k < AP_PREFETCH_WINDOW)
      continue;

    autopilot_ovr_process_window(p, w, k);
    k = 0;
    if ((done += AP_PREFETCH_WINDOW) % AUTOPILOT_SWEEP_KICK == 0)
      autopilot_bgp_kick();
  }
  autopilot_ovr_process_window(p, w, k);

  if (st->sweep_pos == st->sweep_len)
  {
    mb_free(st->sweep);
    st->sweep = NULL;
    st->sweep_pos = st->sweep_len = st->sweep_size = 0;
  }
}

/*
 * Overrides whose copy is out are resolved in the round that marked them:
 * a withdrawn path takes its copy at once. So are those a path change
 * marked (a table loading after a restart): the copy goes out with the
 * path it copies, while that prefix is still in the cache, and BGP reads
 * no more paths in a round than the hosts take. Other new copies go out at most
 * AUTOPILOT_ROUND_COPIES per round, oldest first: between rounds BIRD
 * flushes its temporary memory and BGP sends what is ready, so the hosts
 * work on the first copies while the switch makes the next ones, instead
 * of waiting for a batch of 100,000 to be exported as one.
 */
static void
autopilot_ovr_event(void *data)
{
  struct autopilot_proto *p = data;
  struct autopilot_override *o, *next;
  uint budget = AUTOPILOT_ROUND_COPIES;

  /* (A sweep's rounds are counted and logged as one) */
  if (!p->store.sweep_pos)
    p->store.round_pending = p->store.round_active = 0;

  /* The copies of a lost egress first: their withdrawals go out first */
  if (p->store.sweep)
    autopilot_ovr_sweep(p);

  /* Take the list: updates may mark more (they go to a new list) */
  o = p->store.dirty;
  p->store.dirty = NULL;

  struct autopilot_override *w[AP_PREFETCH_WINDOW];
  uint k = 0;

  for (; o; o = next)
  {
    next = o->next_dirty;

    if (!(o->announced || o->deleted || o->by_path))
    {
      autopilot_ovr_defer(p, o);
      continue;
    }

    w[k++] = o;
    if (k == AP_PREFETCH_WINDOW)
    {
      autopilot_ovr_process_window(p, w, k);
      k = 0;
    }
  }
  autopilot_ovr_process_window(p, w, k);

  /* New copies, a window at a time: their nets looked up ahead too */
  while (p->store.later && budget)
  {
    for (k = 0; (o = p->store.later) && (k < MIN(budget, AP_PREFETCH_WINDOW)); k++)
    {
      if (!(p->store.later = o->next_dirty))
	p->store.later_tail = &p->store.later;
      w[k] = o;
    }

    autopilot_ovr_prefetch(p, w, k);
    for (uint i = 0; i < k; i++)
      if (autopilot_ovr_process(p, w[i]))
	budget--;
  }

  /* The memo's references must not outlive the round (nor the config) */
  autopilot_copy_memo_flush();

  if (p->store.later || p->store.sweep)
    ev_schedule(p->store.event);

  if (p->store.sweep)
    return;

  /* An egress going down takes thousands: one line says how many */
  if (p->store.round_pending > AUTOPILOT_LOG_EACH)
    log(L_INFO "%s: ... and %u more overrides went pending", p->p.name,
	p->store.round_pending - AUTOPILOT_LOG_EACH);
  if (p->store.round_active > AUTOPILOT_LOG_EACH)
    log(L_INFO "%s: ... and %u more overrides went active", p->p.name,
	p->store.round_active - AUTOPILOT_LOG_EACH);
}

/* Is every override resolved (none dirty, none waiting for a round)? */
int
autopilot_ovr_settled(struct autopilot_proto *p)
{
  return !ev_active(p->store.event) && !p->store.later && !p->store.sweep;
}

/*
 * Could a path added to a prefix covering @o's change how a pending @o
 * resolves? Not when its own prefix has paths (none of the target's):
 * a covering prefix counts only for a prefix with none, and a change of
 * its own paths marks it at once. In a table loading after a restart,
 * that is most of the pending ones: each would cost a lookup per second.
 */
static inline int
autopilot_ovr_may_cover(struct autopilot_override *o)
{
  /* (One found lost was not looked up: its own prefix may have no path) */
  return (o->state == AP_OVR_PENDING) && (o->lost ||
    !(((o->why == AP_WHY_NO_TARGET_PATH) || (o->why == AP_WHY_NO_OTHER_PATH)) && (o->src_len == o->net.pxlen)));
}

/* Is @o pending because its target is lost, and that still so? Nothing to look up then */
static inline int
autopilot_ovr_still_lost(struct autopilot_proto *p, struct autopilot_override *o)
{
  struct autopilot_egress_config *ec;
  return o->lost && o->target && (ec = autopilot_egress_find(ap_cf(p), o->target)) && autopilot_egress_lost(p, ec);
}

/*
 * Once a second: remove expired overrides, and, after paths were added,
 * resolve again those a new covering path could change.
 */
static void
autopilot_ovr_tick(timer *t)
{
  struct autopilot_proto *p = t->data;
  btime now = current_real_time();
  int recheck = p->store.recheck;
  uint expired = 0;
  u64 lookups = 0;

  /*
   * Each pending one checked costs a table lookup per prefix length at
   * worst. While a table loads (after a restart: every override pending,
   * paths added all the time) that would be a pass over the table's hash
   * each second; they wait instead until the last recheck's lookups are
   * spent at AUTOPILOT_RECHECK_LOOKUPS a second, and while a table loads
   * (paths grew by 1% in the second) not at all. Their own paths arriving
   * marks them at once meanwhile; only a covering copy waits longer.
   */
  uint paths = p->ip4.paths + p->ip6.paths;
  uint added = (paths > p->store.tick_paths) ? paths - p->store.tick_paths : 0;
  int loading = (added > AUTOPILOT_LOADING_PATHS) && (added > paths / 100);
  int pending = recheck && !p->store.recheck_wait && !loading;
  p->store.tick_paths = paths;
  if (p->store.recheck_wait)
    p->store.recheck_wait--;

  p->store.recheck = recheck && !pending;

  HASH_WALK(p->store.hash, next_hash, o)
  {
    if (o->deleted)
      continue;

    if (o->expires && (o->expires <= now))
    {
      autopilot_audit(p, AP_AUDIT_EXPIRED, (net_addr *) &o->net, o->target ?: AUTOPILOT_NEXT_BEST, NULL, NULL);
      autopilot_ovr_record_withdraw(p, o);
      o->deleted = 1;
      p->store.count--;
      p->store.by_source[o->source][o->state]--;
      expired++;
      autopilot_ovr_dirty(p, o);
    }
    else if (recheck && o->srcb)
      autopilot_ovr_dirty(p, o);
    else if (pending && autopilot_ovr_may_cover(o) && !autopilot_ovr_still_lost(p, o))
    {
      lookups += o->net.pxlen + 1;
      autopilot_ovr_dirty(p, o);
    }
  }
  HASH_WALK_END;

  if (pending)
    p->store.recheck_wait = lookups / AUTOPILOT_RECHECK_LOOKUPS;

  if (expired)
  {
    p->store.expired += expired;
    ovr_changed(p);
  }
}

/*
 * Egress @ec's session @sp went down (BGP's session hook tells us first,
 * the first path of a flushed channel if nothing did): every copy of its
 * paths goes from the next round on (autopilot_ovr_sweep()), rather than
 * as BIRD's prune reaches each prefix. Once per loss: each of the egress's
 * pruned paths comes here.
 */
static void
autopilot_ovr_egress_down(struct autopilot_proto *p, struct autopilot_egress_config *ec, struct proto *sp)
{
  struct autopilot_egress *e = autopilot_egress_rt(p, ec);

  if (!e || (e->lost_by == sp))
    return;

  if (!e->lost_by)
    p->store.flushing++;
  e->lost_by = sp;

  HASH_WALK(p->store.hash, next_hash, o)
    if (!o->deleted && (o->state != AP_OVR_PENDING) && (o->via_label == ec->label))
      autopilot_ovr_sweep_add(p, o);
  HASH_WALK_END;

  if (p->store.sweep)
    ev_schedule(p->store.event);
}

/* Egress @ec's session @sp is up again, or a path of it arrived on a live channel */
static void
autopilot_ovr_egress_up(struct autopilot_proto *p, struct autopilot_egress_config *ec, struct proto *sp)
{
  struct autopilot_egress *e = autopilot_egress_rt(p, ec);

  if (e && e->lost_by && (e->lost_by == sp))
  {
    e->lost_by = NULL;
    p->store.flushing--;
  }
}

/**
 * autopilot_ovr_session - an egress session went down or up
 * @p: autopilot instance
 * @ec: the egress
 * @bp: its BGP session
 * @up: 1 if it reached Established, 0 if it left it
 *
 * Called from BGP's session hook, in the round that learns of it, before
 * any of the session's paths is flushed. Whether any override exists or
 * not: a loss seen while there were none must not be taken for the next.
 */
void
autopilot_ovr_session(struct autopilot_proto *p, struct autopilot_egress_config *ec, struct bgp_proto *bp, int up)
{
  if (up)
    autopilot_ovr_egress_up(p, ec, &bp->p);
  else
    autopilot_ovr_egress_down(p, ec, &bp->p);
}

/**
 * autopilot_ovr_notify - a path of a watched table changed
 * @p: autopilot instance
 * @n: the prefix
 * @new: the new path, or NULL
 * @old: the old path, or NULL
 */
void
autopilot_ovr_notify(struct autopilot_proto *p, const net_addr *n, rte *new, rte *old)
{
  struct autopilot_override *o;
  node *nn;

  if (!p->store.count && !p->store.hash.count)
    return;

  /* A channel flushed with its session up (or before the hook) */
  if (old && !new && old->sender && (old->sender->channel_state == CS_FLUSHING))
    autopilot_ovr_egress_down(p, autopilot_rte_egress(p, old), old->sender->proto);
  else if (new && p->store.flushing && new->sender && (new->sender->channel_state == CS_UP))
    autopilot_ovr_egress_up(p, autopilot_rte_egress(p, new), new->sender->proto);

  /* (by_path only for one not deferred yet: one waiting keeps its turn) */
  if (autopilot_ovr_filter_test(p, n) && (o = HASH_FIND(p->store.hash, OVR, n)))
  {
    o->by_path |= !o->dirty;
    autopilot_ovr_dirty(p, o);
  }

  /* Every override copying a path of this prefix */
  struct autopilot_src *b = p->store.src.count ? HASH_FIND(p->store.src, SRC, n) : NULL;
  if (b)
    WALK_LIST2(o, nn, b->overrides, src_n)
    {
      o->by_path |= !o->dirty;
      autopilot_ovr_dirty(p, o);
    }

  if (new && !old && (p->store.states[AP_OVR_PENDING] || p->store.src.count))
    p->store.recheck = 1;
}

struct autopilot_override *
autopilot_ovr_find(struct autopilot_proto *p, const net_addr *n)
{
  struct autopilot_override *o = HASH_FIND(p->store.hash, OVR, n);
  return (o && !o->deleted) ? o : NULL;
}

uint
autopilot_ovr_count(struct autopilot_proto *p)
{
  return p->store.count;
}

static char *
autopilot_strdup(pool *pool, const char *s)
{
  if (!s || !*s)
    return NULL;

  uint len = strlen(s) + 1;
  char *d = mb_alloc(pool, len);
  memcpy(d, s, len);
  return d;
}

#define OVR_ERR(code, msg, args...) autopilot_err(err, code, msg, ##args)

/*
 * Validate an add request without changing anything. @extra: how many new
 * prefixes come before it in its batch; ~0 to skip the limit (a sync is
 * checked against the limit as a whole).
 */
static int
autopilot_ovr_check_add(struct autopilot_proto *p, const struct autopilot_request *req, uint extra, struct autopilot_error *err)
{
  struct autopilot_config *cf = ap_cf(p);
  const net_addr *n = (const net_addr *) &req->net;

  if (!autopilot_ovr_channel(p, n))
    return OVR_ERR("no-channel", "no %s channel in protocol %s", (n->type == NET_IP4) ? "ipv4" : "ipv6", p->p.name);

  if (strcmp(req->target, AUTOPILOT_NEXT_BEST) && !autopilot_egress_find(cf, req->target))
    return OVR_ERR("unknown-egress", "no egress '%s' in protocol %s", req->target, p->p.name);

  if ((extra != ~0U) && !autopilot_ovr_find(p, n) && (p->store.count + extra >= cf->max_overrides))
    return OVR_ERR("over-limit", "%u overrides, the limit is %u", p->store.count + extra, cf->max_overrides);

  return 0;
}

/* Apply a validated add */
static void
autopilot_ovr_do_add(struct autopilot_proto *p, const struct autopilot_request *req, uint source, int restore)
{
  const net_addr *n = (const net_addr *) &req->net;
  struct autopilot_override *o = HASH_FIND(p->store.hash, OVR, n);
  const char *from = (o && !o->deleted) ? tmp_sprintf("%s", o->target ?: AUTOPILOT_NEXT_BEST) : NULL;
  int fresh = 0;

  /* Counted by source: a replacement may come from another source */
  if (from)
    p->store.by_source[o->source][o->state]--;

  autopilot_audit(p, restore ? AP_AUDIT_RESTORED : from ? AP_AUDIT_REPLACED : AP_AUDIT_ADDED, n, from,
		  req->target, req->reason);

  if (!o)
  {
    o = sl_allocz(p->store.slab);
    net_copy((net_addr *) &o->net, n);
    o->src_len = o->net.pxlen;
    o->state = AP_OVR_PENDING;
    p->store.states[AP_OVR_PENDING]++;
    HASH_INSERT2(p->store.hash, OVR, p->p.pool, o);
    autopilot_ovr_filter_add(p, n);
    fresh = 1;
    p->store.count++;
  }
  else if (o->deleted)
  {
    o->deleted = 0;
    p->store.count++;
  }

  const char *target = strcmp(req->target, AUTOPILOT_NEXT_BEST) ? autopilot_name_get(req->target) : NULL;
  autopilot_name_put(o->target);
  o->target = target;
  mb_free(o->reason);
  o->reason = autopilot_strdup(p->p.pool, req->reason);
  o->created = req->created ?: current_real_time();
  o->expires = req->expires;
  o->source = (req->source < AP_SRC_MAX) ? req->source : source;
  p->store.by_source[o->source][o->state]++;
  o->why = AP_WHY_UNRESOLVED;
  if (fresh)
    autopilot_watch_override(p, o, -1, 0, AP_OVR_PENDING);

  struct autopilot_request rec;
  autopilot_ovr_to_request(o, &rec);
  ovr_record(p, &rec);

  autopilot_ovr_dirty(p, o);
}

static void
autopilot_ovr_record_withdraw(struct autopilot_proto *p, struct autopilot_override *o)
{
  struct autopilot_request rec = { .op = AP_OP_WITHDRAW };
  net_copy((net_addr *) &rec.net, (net_addr *) &o->net);
  ovr_record(p, &rec);
}

static void
autopilot_ovr_do_withdraw(struct autopilot_proto *p, struct autopilot_override *o)
{
  autopilot_audit(p, AP_AUDIT_WITHDRAWN, (net_addr *) &o->net, o->target ?: AUTOPILOT_NEXT_BEST, NULL, NULL);
  autopilot_ovr_record_withdraw(p, o);
  o->deleted = 1;
  p->store.count--;
  p->store.by_source[o->source][o->state]--;
  autopilot_ovr_dirty(p, o);
}

/**
 * autopilot_ovr_add - add or replace one override
 * @p: autopilot instance
 * @req: add request
 * @source: where it came from, unless @req says
 * @err: why, if refused
 */
int
autopilot_ovr_add(struct autopilot_proto *p, const struct autopilot_request *req, uint source, struct autopilot_error *err)
{
  if (autopilot_ovr_check_add(p, req, 0, err) < 0)
    return -1;

  if (req->expires && (req->expires <= current_real_time()))
    return OVR_ERR("expired", "expiry time is in the past");

  autopilot_ovr_do_add(p, req, source, 0);
  ovr_changed(p);
  return 0;
}

/**
 * autopilot_ovr_restore - add an override read from the state file
 * @p: autopilot instance
 * @req: the add request of one line
 * @err: why, if refused
 *
 * Unlike a new request, an override of an egress that is no longer
 * configured is kept, pending: the egress may come back with the config.
 * So is one of a family whose channel is no longer configured (it was
 * refused, and the next write of the file dropped it).
 */
int
autopilot_ovr_restore(struct autopilot_proto *p, const struct autopilot_request *req, struct autopilot_error *err)
{
  const net_addr *n = (const net_addr *) &req->net;

  if (!autopilot_ovr_find(p, n) && (p->store.count >= ap_cf(p)->max_overrides))
    return OVR_ERR("over-limit", "%u overrides, the limit is %u", p->store.count, ap_cf(p)->max_overrides);

  autopilot_ovr_do_add(p, req, AP_SRC_CLI, 1);
  return 0;
}

int
autopilot_ovr_withdraw(struct autopilot_proto *p, const net_addr *n, struct autopilot_error *err)
{
  struct autopilot_override *o = autopilot_ovr_find(p, n);

  if (!o)
    return OVR_ERR("not-found", "no override for %N", n);

  autopilot_ovr_do_withdraw(p, o);
  ovr_changed(p);
  return 0;
}

/**
 * autopilot_ovr_flush - withdraw all overrides, or those of one target
 * @p: autopilot instance
 * @target: egress name (or "next-best"), NULL for all
 * @source: only those from this source, AP_SRC_MAX for any
 *
 * Returns how many were withdrawn.
 */
uint
autopilot_ovr_flush(struct autopilot_proto *p, const char *target, uint source)
{
  uint n = 0;

  HASH_WALK(p->store.hash, next_hash, o)
    if (!o->deleted && (!target || !strcmp(target, o->target ?: AUTOPILOT_NEXT_BEST)) &&
	((source == AP_SRC_MAX) || (o->source == source)))
    {
      autopilot_ovr_do_withdraw(p, o);
      n++;
    }
  HASH_WALK_END;

  if (n)
    ovr_changed(p);

  return n;
}

/*
 * Two requests for one prefix make a batch ambiguous: refuse, naming both
 * (the first prefix, in request order, given again). One pass over an
 * open-addressed table of request numbers, at most half full: a batch of
 * 100,000 is checked in linear time (sorting it was a tenth of the
 * switch's CPU before the reply).
 */
static int
autopilot_batch_duplicates(const struct autopilot_batch_req *reqs, uint n, struct autopilot_error *err)
{
  if (n < 2)
    return 0;

  uint order = u32_log2(n) + 2, mask = (1U << order) - 1;
  u32 *slot = xmalloc((mask + 1) * sizeof(u32));
  int res = 0;

  memset(slot, 0, (mask + 1) * sizeof(u32));

  for (uint i = 0; i < n; i++)
  {
    const net_addr *a = (const net_addr *) &reqs[i].net;
    uint h = net_hash(a) >> (32 - order);

    for (; slot[h]; h = (h + 1) & mask)
      if (net_equal((const net_addr *) &reqs[slot[h] - 1].net, a))
      {
	res = OVR_ERR("batch", "requests %u and %u are both for %N", slot[h], i + 1, a);
	err->req = i + 1;
	err->also = slot[h];
	goto done;
      }

    slot[h] = i + 1;
  }

done:
  xfree(slot);
  return res;
}

/* Validate request @r of a batch; @extra counts the new prefixes so far */
static int
autopilot_ovr_check_one(struct autopilot_proto *p, const struct autopilot_request *r, int sync, uint *extra,
			btime now, struct autopilot_error *err)
{
  if (r->op == AP_OP_ADD)
  {
    if (autopilot_ovr_check_add(p, r, sync ? ~0U : *extra, err) < 0)
      return -1;
    if (r->expires && (r->expires <= now))
      return OVR_ERR("expired", "expiry time is in the past");
    if (!autopilot_ovr_find(p, (net_addr *) &r->net))
      (*extra)++;
    return 0;
  }

  if (r->op == AP_OP_WITHDRAW)
  {
    if (sync)
      return OVR_ERR("batch", "withdraw in a sync (a sync lists the whole set)");
    if (!autopilot_ovr_find(p, (net_addr *) &r->net))
      return OVR_ERR("not-found", "no override for %N", &r->net);
    return 0;
  }

  return OVR_ERR("batch", "only add and withdraw in a batch");
}

/**
 * autopilot_ovr_batch_at - apply requests all or nothing
 * @p: autopilot instance
 * @reqs: add and withdraw requests
 * @n: their count
 * @sync: the adds are the whole desired set of @source: withdraw every
 *   other override of that source (a controller's sync does not touch what
 *   an operator or a routing manager asked for)
 * @source: source of the adds
 * @err: why, if refused; err->req names the request at fault (0: the batch)
 *
 * Everything is validated before anything changes: each request, and that
 * no prefix is named twice. Adds of prefixes that already have an override
 * with the same target, expiry and reason keep it as it is (a sync is
 * applied as a diff, and unchanged overrides keep their age).
 */
int
autopilot_ovr_batch_at(struct autopilot_proto *p, const struct autopilot_batch_req *reqs, uint n, int sync, uint source,
		       struct autopilot_error *err)
{
  uint extra = 0;
  btime now = current_real_time();
  struct autopilot_request req;

  /* A sync replaces its source's set: the others stay and count too */
  if (sync)
  {
    uint others = 0;
    HASH_WALK(p->store.hash, next_hash, o)
      others += !o->deleted && (o->source != source);
    HASH_WALK_END;

    if (others + n > ap_cf(p)->max_overrides)
      return OVR_ERR("over-limit", "%u overrides, the limit is %u", others + n, ap_cf(p)->max_overrides);
  }

  for (uint i = 0; i < n; i++)
    if (autopilot_batch_req_expand(&reqs[i], &req), autopilot_ovr_check_one(p, &req, sync, &extra, now, err) < 0)
    {
      err->req = i + 1;
      return -1;
    }

  if (autopilot_batch_duplicates(reqs, n, err) < 0)
    return -1;

  if (sync)
  {
    /* Mark what the set keeps; withdraw the rest */
    HASH_WALK(p->store.hash, next_hash, o)
      o->in_sync = 0;
    HASH_WALK_END;

    for (uint i = 0; i < n; i++)
    {
      struct autopilot_override *o = autopilot_ovr_find(p, (net_addr *) &reqs[i].net);
      if (o)
	o->in_sync = 1;
    }

    HASH_WALK(p->store.hash, next_hash, o)
      if (!o->deleted && !o->in_sync && (o->source == source))
	autopilot_ovr_do_withdraw(p, o);
    HASH_WALK_END;
  }

  for (uint i = 0; i < n; i++)
  {
    const struct autopilot_batch_req *r = &reqs[i];
    struct autopilot_override *o = autopilot_ovr_find(p, (net_addr *) &r->net);

    if (r->op == AP_OP_WITHDRAW)
    {
      if (o)
	autopilot_ovr_do_withdraw(p, o);
      continue;
    }

    /* Unchanged: keep it, with its age */
    if (o && (o->source == source) && !strcmp(o->target ?: AUTOPILOT_NEXT_BEST, r->target) &&
	(o->expires == r->expires) && !strcmp(o->reason ?: "", r->reason ?: ""))
      continue;

    autopilot_batch_req_expand(r, &req);
    autopilot_ovr_do_add(p, &req, source, 0);
  }

  ovr_changed(p);
  return 0;
}

void
autopilot_ovr_to_request(struct autopilot_override *o, struct autopilot_request *req)
{
  *req = (struct autopilot_request) {
    .op = AP_OP_ADD,
    .net = o->net,
    .expires = o->expires,
    .created = o->created,
    .source = o->source,
  };

  strcpy(req->target, o->target ?: AUTOPILOT_NEXT_BEST);
  req->reason = o->reason ?: "";
}

void
autopilot_ovr_start(struct autopilot_proto *p)
{
  p->store.slab = sl_new(p->p.pool, sizeof(struct autopilot_override));
  p->store.src_slab = sl_new(p->p.pool, sizeof(struct autopilot_src));
  HASH_INIT(p->store.hash, p->p.pool, OVR_ORDER);
  HASH_INIT(p->store.src, p->p.pool, SRC_ORDER);
  p->store.dirty = p->store.later = NULL;
  p->store.later_tail = &p->store.later;
  p->store.filter = NULL;
  p->store.record = NULL;
  p->store.changed = NULL;
  p->store.count = p->store.expired = p->store.recheck = p->store.recheck_wait = p->store.tick_paths = 0;
  p->store.flushing = 0;			/* This run's egresses are new, none lost */
  p->store.sweep = NULL;
  p->store.sweep_pos = p->store.sweep_len = p->store.sweep_size = 0;
  memset(p->store.states, 0, sizeof(p->store.states));
  memset(p->store.by_source, 0, sizeof(p->store.by_source));

  p->store.event = ev_new_init(p->p.pool, autopilot_ovr_event, p);
  p->store.timer = tm_new_init(p->p.pool, autopilot_ovr_tick, p, 1 S, 0);
  tm_start(p->store.timer, 1 S);
}

/* Egresses, shadow mode or local-pref may have changed: resolve everything again */
void
autopilot_ovr_reconfigure(struct autopilot_proto *p)
{
  HASH_WALK(p->store.hash, next_hash, o)
    autopilot_ovr_dirty(p, o);
  HASH_WALK_END;
}
