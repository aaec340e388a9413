/*
 *	BIRD -- Autopilot host role: Precision Path alternates and egress tables
 *
 *	(c) 2026 bird-autopilot developers
 *
 *	Can be freely distributed and used under the terms of the GNU GPL.
 */

/**
 * DOC: Host role
 *
 * On a host the protocol watches the table that holds every path from the
 * switches (ADD-PATH rx, labeled unicast). For each prefix whose paths
 * change it ranks the paths (rank.c) and originates the k-th alternate into
 * alternate table k, as a copy of the path whose next hop label is the
 * egress's Precision Path label; kernel protocols export those tables to
 * kernel tables. A prefix with a path that carries the Precision Path
 * disable community gets no alternates. With egress tables, each egress's
 * best path for the prefix goes, with its primary label, into that egress's
 * table, so probes can be sent over every provider.
 *
 * The work is done in rt_notify(), per changed prefix, into other tables
 * (as the pipe protocol does): each path change costs one ranking of that
 * prefix and never a scan of the table. The updates of the other tables
 * are queued and applied a window at a time, with prefetches, within the
 * same round (autopilot_host_flush()).
 */

#undef LOCAL_DEBUG

#include "nest/bird.h"
#include "nest/iface.h"
#include "nest/protocol.h"
#include "nest/route.h"
#include "nest/cli.h"
#include "lib/hash.h"
#include "lib/event.h"
#include "filter/filter.h"
#include "proto/bgp/bgp.h"
#include "autopilot.h"
#include "route.h"

#define DIS_KEY(d)		((net_addr *) &(d)->net)
#define DIS_NEXT(d)		(d)->next
#define DIS_EQ(a,b)		net_equal(a, b)
#define DIS_FN(a)		net_hash(a)
#define DIS_ORDER		6
#define DIS_REHASH		autopilot_dis_rehash
#define DIS_PARAMS		/8, *2, 2, 2, 6, 20

HASH_DEFINE_REHASH_FN(DIS, struct autopilot_disabled)

/*
 * The attributes of a copy are those of the path it copies with another
 * next hop label, our preference and no received label stack (with
 * alternate copy minimal, none of the path's attributes): the same for
 * every prefix whose path has the same (cached) attributes. A full table
 * has about 4 prefixes per attribute set, and BGP brings them in one
 * UPDATE, one after another: so the copies' cached attributes are kept by
 * the attributes they were made of, in a small direct-mapped cache, and
 * the next prefix's copy takes them with a reference instead of building
 * them and looking them up in the attribute cache (its hash over every
 * attribute, a chain walk, one cache miss per entry). Both are held while
 * cached, so a freed path's attributes can never be taken for another's.
 */
#define AUTOPILOT_COPY_ATTRS	256	/* Entries of the cache, a power of 2 */

struct autopilot_copy_attrs {
  rta *from;				/* Cached attributes of the copied path (held) */
  rta *copy;				/* Cached attributes of its copy (held) */
  u32 label;				/* The copy's next hop label */
  uint pref;				/* The copy's preference */
};

/* Cached attributes of a copy of @r with next hop label @label, with a reference for the route */
static rta *
autopilot_host_copy_attrs(struct autopilot_proto *p, rte *r, u32 label, uint pref)
{
  struct autopilot_config *cf = (void *) p->p.cf;
  rta *from = r->attrs;
  struct autopilot_copy_attrs *ca = NULL;

  if (p->host.copy_attrs && rta_is_cached(from))
  {
    ca = &p->host.copy_attrs[(u32_hash((u32) (uintptr_t) from) ^ label) & (AUTOPILOT_COPY_ATTRS - 1)];
    if ((ca->from == from) && (ca->label == label) && (ca->pref == pref))
      return rta_clone(ca->copy);
  }

  rta *a = alloca(sizeof(rta) + sizeof(u32));

  memcpy(a, from, sizeof(rta));
  a->cached = 0;
  a->hostentry = NULL;
  a->pref = pref;

  /* One next hop, one label: the kernel route is "encap mpls LABEL via GW" */
  a->nh.next = NULL;
  a->nh.labels = 1;
  a->nh.label[0] = label;

  /*
   * The received label stack is the best path's business, not this copy's.
   * Minimal copies keep none of the path's attributes: the kernel route is
   * made of the next hop alone, and then the copies of one egress through
   * one switch share a single attribute set, where full ones have one per
   * attribute set of the paths (67 B an alternate, a fifth of the host
   * role's memory).
   */
  if (cf->alternate_copy == AUTOPILOT_COPY_MINIMAL)
    a->eattrs = NULL;
  else
    bgp_unset_attr(&a->eattrs, tmp_linpool, BA_MPLS_LABEL_STACK);

  rta *copy = rta_lookup(a);
  if (!ca)
    return copy;

  if (ca->from)
  {
    rta_free(ca->from);
    rta_free(ca->copy);
  }
  *ca = (struct autopilot_copy_attrs) { .from = rta_clone(from), .copy = rta_clone(copy), .label = label, .pref = pref };
  return copy;
}

static inline int
autopilot_channel_up(struct channel *c)
{
  return c && (c->channel_state == CS_UP);
}

/*
 * Originating into the protocol's tables is an insert of a prefix into a
 * FIB of over a million nodes that nothing else touches: its hash bucket
 * and the nodes of its chain are cache misses, one after another (most of
 * what an alternate cost). So the originations of a round are queued, a
 * window at a time, and each window's buckets, then its chains' first
 * nodes, are prefetched for all of its prefixes at once before they are
 * inserted, so that the misses overlap instead of following each other,
 * as BGP does for the prefixes it receives (patch 0011). The queue is
 * emptied when it is full and by an event at the end of the round, before
 * BIRD reads anything else, so the tables lag by less than one round; a
 * queued update holds its attributes (a reference), never the path it was
 * made of, and the order of updates of one table is kept.
 */

/* Queue an update of @n in @c: a route with attributes @a (cached, held), or a withdrawal for NULL */
static void
autopilot_host_queue(struct autopilot_proto *p, struct channel *c, const net_addr *n, rta *a)
{
  struct autopilot_host *h = &p->host;

  if (h->pending_len == AUTOPILOT_HOST_WINDOW)
    autopilot_host_flush(p);

  struct autopilot_host_update *u = &h->pending[h->pending_len++];
  u->c = c;
  u->a = a;
  net_copy((net_addr *) &u->net, n);

  if (!ev_active(h->flush_event))
    ev_schedule(h->flush_event);
}

/**
 * autopilot_host_flush - apply the queued updates of the protocol's tables
 * @p: autopilot instance
 *
 * Updates of a channel that is no longer up are dropped: it holds nothing.
 */
void
autopilot_host_flush(struct autopilot_proto *p)
{
  struct autopilot_host_update w[AUTOPILOT_HOST_WINDOW];
  uint n = p->host.pending_len;

  /* Taken first: whatever an update makes us queue goes into the next window */
  memcpy(w, p->host.pending, n * sizeof(w[0]));
  p->host.pending_len = 0;

  /* Looked up ahead: a prefix already there has the route it replaces */
  struct channel *c[AUTOPILOT_HOST_WINDOW];
  const net_addr *a[AUTOPILOT_HOST_WINDOW];
  for (uint i = 0; i < n; i++)
  {
    c[i] = autopilot_channel_up(w[i].c) ? w[i].c : NULL;
    a[i] = (net_addr *) &w[i].net;
  }
  autopilot_rt_prefetch(c, a, n);

  for (uint i = 0; i < n; i++)
  {
    struct autopilot_host_update *u = &w[i];

    if (!autopilot_channel_up(u->c))
    {
      if (u->a)
	rta_free(u->a);
    }
    else if (u->a)
      autopilot_rt_originate(&p->p, u->c, (net_addr *) &u->net, u->a);
    else
      autopilot_rt_withdraw(&p->p, u->c, (net_addr *) &u->net);
  }
}

static void
autopilot_host_flush_event(void *P)
{
  autopilot_host_flush(P);
}

/* Originate a copy of @r into @c with next hop label @label */
static void
autopilot_host_announce(struct autopilot_proto *p, struct channel *c, const net_addr *n, rte *r, u32 label)
{
  autopilot_host_queue(p, c, n, autopilot_host_copy_attrs(p, r, label, c->preference));
}

/* Withdraw our route for @n from @c */
static void
autopilot_host_withdraw(struct autopilot_proto *p, struct channel *c, const net_addr *n)
{
  autopilot_host_queue(p, c, n, NULL);
}

static void
autopilot_host_set_disabled(struct autopilot_proto *p, const net_addr *n, int disabled)
{
  struct autopilot_disabled *d = HASH_FIND(p->host.disabled, DIS, n);

  if (disabled && !d)
  {
    d = sl_allocz(p->host.disabled_slab);
    net_copy((net_addr *) &d->net, n);
    HASH_INSERT2(p->host.disabled, DIS, p->p.pool, d);
  }
  else if (!disabled && d)
  {
    HASH_REMOVE2(p->host.disabled, DIS, p->p.pool, d);
    sl_free(d);
  }
}

/*
 * Which path each alternate table holds for a prefix is kept as a bit per
 * rank, indexed by the watched table's route id (a path keeps its id when
 * it is replaced, and the id is freed only when it is withdrawn, which we
 * see): a few hundred kB for millions of paths, next to nothing against a
 * lookup in the alternate table. So a change re-originates only the ranks
 * whose path changed, and withdraws only what is there: of the 2 x 3
 * updates of K = 2 alternates a prefix with three paths used to cost while
 * its paths arrive, 2 or 3 remain.
 *
 * The bits follow what is in the alternate tables only as long as we see
 * every change of the watched table: with an export filter on the watched
 * channel some changes are not shown to us, so there every change
 * re-originates every rank (keeping the bits), as before.
 */

/* The id of @n's path (or of @old, just gone) shown as alternate @map, 0 for none */
static inline u32
autopilot_host_shown(struct bmap *map, net *n, rte *old)
{
  for (rte *e = n->routes; e; e = e->next)
    if (bmap_test(map, e->id))
      return e->id;

  return (old && bmap_test(map, old->id)) ? old->id : 0;
}

/**
 * autopilot_host_notify - paths of a prefix in a watched table changed
 * @p: autopilot instance
 * @c: the watched channel (ip4_channel or ip6_channel)
 * @n: the prefix, its routes already in their new state
 * @new: the changed path as it is now, or NULL
 * @old: the changed path as it was, or NULL
 *
 * The prefix is ranked once; each rank whose path is not the one it was
 * (or whose path is the changed one) is originated again or withdrawn.
 */
void
autopilot_host_notify(struct autopilot_proto *p, struct channel *c, net *n, rte *new, rte *old)
{
  struct autopilot_config *cf = (void *) p->p.cf;
  uint fam = (c == p->ip6_channel);
  uint k = cf->alternates[fam];
  struct autopilot_alt alts[AUTOPILOT_MAX_ALT];
  int disabled;

  if (k)
  {
    uint cnt = autopilot_rank(n, p->asn, &cf->pp, alts, k, &disabled);
    /* The path whose change this is: replaced paths keep their id */
    u32 changed = new ? new->id : (old ? old->id : 0);
    int all = (c->out_filter != FILTER_ACCEPT) || (new == old);

    for (uint i = 0; i < k; i++)
    {
      struct channel *ac = p->host.alt[fam][i];
      struct bmap *map = &p->host.alt_shown[fam][i];

      if (!autopilot_channel_up(ac))
      {
	/* A channel that is not up holds nothing (it is flushed): forget it once */
	if (p->host.alt_was_up[fam][i])
	  bmap_reset(map, 1024);
	p->host.alt_was_up[fam][i] = 0;
	continue;
      }
      p->host.alt_was_up[fam][i] = 1;

      u32 shown = autopilot_host_shown(map, n, old);
      u32 now = (i < cnt) ? alts[i].r->id : 0;

      /* The same path, unchanged, or nothing before and now: nothing to do */
      if (!all && (shown == now) && (!now || (now != changed)))
	continue;

      if (i < cnt)
	autopilot_host_announce(p, ac, n->n.addr, alts[i].r, alts[i].pp_label);
      else
	autopilot_host_withdraw(p, ac, n->n.addr);

      if (shown)
	bmap_clear(map, shown);
      if (now)
	bmap_set(map, now);
    }

    if (disabled || p->host.disabled.count)
      autopilot_host_set_disabled(p, n->n.addr, disabled);
  }

  /* Egress tables: the egress's own best path, with its primary label */
  for (uint i = 0; i < cf->egress_tables; i++)
  {
    struct channel *ec = p->host.etab[i];
    if (!autopilot_channel_up(ec) || (ec->net_type != n->n.addr->type))
      continue;

    rte *best = NULL;
    for (rte *e = n->routes; e; e = e->next)
      if (rte_is_valid(e) && (e->attrs->dest == RTD_UNICAST) &&
	  (autopilot_path_label(e, p->asn) == cf->etab_label[i]) && rte_better(e, best))
	best = e;

    if (best)
      autopilot_host_announce(p, ec, n->n.addr, best, cf->etab_label[i]);
    else
      autopilot_host_withdraw(p, ec, n->n.addr);
  }
}

/**
 * autopilot_host_channels - configure the alternate and egress table channels
 * @p: autopilot instance
 * @CF: its (new) config
 *
 * Alternate channels come in rank order (the grammar makes sure), so the
 * i-th alternate channel of a family is rank i + 1. Returns 0 when a
 * channel cannot be changed in place (the nest restarts the protocol).
 */
int
autopilot_host_channels(struct autopilot_proto *p, struct proto_config *CF)
{
  struct channel_config *cc, *alt[2][AUTOPILOT_MAX_ALT] = {}, *etab[AUTOPILOT_MAX_ETAB] = {};
  uint na[2] = {}, ne = 0;
  int ok = 1;

  /* Queued updates name their channels: apply them before a channel can go */
  autopilot_host_flush(p);

  WALK_LIST(cc, CF->channels)
    if (!strncmp(cc->name, "alt", 3))
    {
      uint fam = (cc->net_type == NET_IP6);
      alt[fam][na[fam]++] = cc;
    }
    else if (!strncmp(cc->name, "egress", 6))
      etab[ne++] = cc;

  for (uint fam = 0; fam < 2; fam++)
    for (uint i = 0; i < AUTOPILOT_MAX_ALT; i++)
      ok = proto_configure_channel(&p->p, &p->host.alt[fam][i], alt[fam][i]) && ok;

  for (uint i = 0; i < AUTOPILOT_MAX_ETAB; i++)
    ok = proto_configure_channel(&p->p, &p->host.etab[i], etab[i]) && ok;

  return ok;
}

void
autopilot_host_start(struct autopilot_proto *p)
{
  p->host.disabled_slab = sl_new(p->p.pool, sizeof(struct autopilot_disabled));
  HASH_INIT(p->host.disabled, p->p.pool, DIS_ORDER);

  /* The protocol's tables are empty at start: nothing is shown yet */
  for (uint fam = 0; fam < 2; fam++)
    for (uint i = 0; i < AUTOPILOT_MAX_ALT; i++)
    {
      bmap_init(&p->host.alt_shown[fam][i], p->p.pool, 1024);
      p->host.alt_was_up[fam][i] = 0;
    }

  p->host.copy_attrs = mb_allocz(p->p.pool, AUTOPILOT_COPY_ATTRS * sizeof(struct autopilot_copy_attrs));
  p->host.pending_len = 0;
  p->host.flush_event = ev_new_init(p->p.pool, autopilot_host_flush_event, p);
}

/* The cached attributes are global: give ours back before the pool goes */
void
autopilot_host_stop(struct autopilot_proto *p)
{
  /* The channels go down with us: the queued updates are only let go */
  for (uint i = 0; i < p->host.pending_len; i++)
    if (p->host.pending[i].a)
      rta_free(p->host.pending[i].a);
  p->host.pending_len = 0;
  if (p->host.flush_event)
    ev_postpone(p->host.flush_event);

  if (!p->host.copy_attrs)
    return;

  for (uint i = 0; i < AUTOPILOT_COPY_ATTRS; i++)
    if (p->host.copy_attrs[i].from)
    {
      rta_free(p->host.copy_attrs[i].from);
      rta_free(p->host.copy_attrs[i].copy);
    }

  mb_free(p->host.copy_attrs);
  p->host.copy_attrs = NULL;
}

/* show autopilot: the host role's disable community and tables */
void
autopilot_host_show(struct autopilot_proto *p)
{
  struct autopilot_config *cf = (void *) p->p.cf;

  if (!autopilot_cf_host(cf))
    return;

  if (cf->pp.large)
    cli_msg(-AUTOPILOT_REPLY_SHOW, "  Precision Path: disable community (%u, %u, %u); %u prefixes disabled",
	    cf->pp.lc.asn, cf->pp.lc.ldp1, cf->pp.lc.ldp2, p->host.disabled.count);
  else
    cli_msg(-AUTOPILOT_REPLY_SHOW, "  Precision Path: disable community (%u, %u); %u prefixes disabled",
	    cf->pp.pair >> 16, cf->pp.pair & 0xffff, p->host.disabled.count);

  cli_msg(-AUTOPILOT_REPLY_SHOW, "  Copies: %s", (cf->alternate_copy == AUTOPILOT_COPY_MINIMAL) ?
	  "minimal (next hop and label only)" : "full (the path's attributes)");

  for (uint fam = 0; fam < 2; fam++)
    for (uint k = 0; k < cf->alternates[fam]; k++)
    {
      struct channel *c = p->host.alt[fam][k];
      cli_msg(-AUTOPILOT_REPLY_SHOW, "  Alternate %u %s: table %-12s %u prefixes", k + 1,
	      fam ? "ipv6" : "ipv4", c->table->name, c->stats.imp_routes);
    }

  for (uint i = 0; i < cf->egress_tables; i++)
  {
    struct channel *c = p->host.etab[i];
    cli_msg(-AUTOPILOT_REPLY_SHOW, "  Egress label %u: table %-12s %u prefixes", cf->etab_label[i], c->table->name, c->stats.imp_routes);
  }
}
