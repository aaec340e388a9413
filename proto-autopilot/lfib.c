/*
 *	BIRD -- Autopilot LFIB: MPLS routes from egress labels to egresses
 *
 *	(c) 2026 bird-autopilot developers
 *
 *	Can be freely distributed and used under the terms of the GNU GPL.
 */

/**
 * DOC: LFIB
 *
 * With an mpls channel, the protocol originates two MPLS routes per egress,
 * its primary and its Precision Path label, each popping the label and
 * forwarding to the egress neighbor, so that a Linux-based switch gets its
 * LFIB from a kernel protocol exporting that MPLS table.
 *
 * An entry follows the reachability of the neighbor, as a static route does
 * (NEF_STICKY neighbor entries tell us when it comes and goes), not the BGP
 * session: when the session is down, hosts get no path with that label, and
 * when it comes back the entry is already there.
 *
 * Egress protection: an egress may have backups, egresses of the same
 * protocol in order. When an egress is lost (its session leaves
 * Established, which BGP tells us at once through BGP's session hook, or its
 * neighbor becomes unreachable), the entries of both its labels are
 * replaced by routes to the first live backup's neighbor, in the same event
 * round: one route per label, whatever the number of prefixes that use it,
 * so traffic the hosts still send with the dead egress's label goes out the
 * backup while they converge (BGP PIC edge, RFC 8679). A replace, never a
 * withdraw and an add: the kernel protocol replaces the label's route in
 * place, and Linux MPLS routes have no backup next hops to do it for us.
 * When the egress is back, its entries point back to it; when a backup
 * dies, the labels it protects move on to the next live one.
 */

#undef LOCAL_DEBUG

#include "nest/bird.h"
#include "nest/iface.h"
#include "nest/protocol.h"
#include "nest/route.h"
#include "nest/cli.h"
#include "conf/conf.h"
#include "lib/event.h"
#include "lib/string.h"

#include "proto/bgp/bgp.h"
#include "autopilot.h"
#include "route.h"

/* Announce @label popped towards @via's neighbor, or withdraw it (@via NULL) */
static void
autopilot_lfib_set(struct autopilot_proto *p, struct autopilot_egress *via, u32 label)
{
  net_addr_mpls n = NET_ADDR_MPLS(label);

  if (!via)
  {
    autopilot_rt_withdraw(&p->p, p->p.mpls_channel, (net_addr *) &n);
    return;
  }

  rta a0 = {
    .source = RTS_STATIC,
    .scope = SCOPE_UNIVERSE,
    .dest = RTD_UNICAST,
    .pref = p->p.mpls_channel->preference,
    .nh.gw = via->nh,
    .nh.iface = via->nbr->iface,
  };

  autopilot_rt_originate(&p->p, p->p.mpls_channel, (net_addr *) &n, rta_lookup(&a0));
}

static int
autopilot_reachable(struct autopilot_egress *e)
{
  return e && e->nbr && (e->nbr->scope >= 0);
}

/* Can @e carry traffic: neighbor reachable and, for a BGP egress, the session Established */
static int
autopilot_egress_live(struct autopilot_egress *e)
{
  if (!e || !e->cf || !autopilot_reachable(e))
    return 0;

  /* An egress named by neighbor has a session only if some BGP protocol peers with it */
  struct bgp_proto *bp = autopilot_egress_bgp(e->cf);
  if (!bp)
    return !e->cf->bgp;

  return (bp->p.proto_state == PS_UP) && bp->conn && (bp->conn->state == BS_ESTABLISHED);
}

/*
 * Where @e's labels should point now: to @e itself while it is live, else
 * to its first live backup, else to @e while its neighbor is reachable (as
 * without protection), else nowhere.
 */
static struct autopilot_egress *
autopilot_lfib_via(struct autopilot_proto *p, struct autopilot_egress *e)
{
  if (!p->p.mpls_channel || !e->cf)
    return NULL;

  if (autopilot_egress_live(e))
    return e;

  for (uint i = 0; i < e->cf->backups; i++)
  {
    struct autopilot_egress *b = autopilot_egress_rt(p, e->cf->backup[i]);
    if (autopilot_egress_live(b))
      return b;
  }

  return autopilot_reachable(e) ? e : NULL;
}

/* The labels @e should have in the LFIB when they go to @via (AUTOPILOT_NO_LABEL for none) */
static void
autopilot_lfib_wanted(struct autopilot_egress *e, struct autopilot_egress *via, u32 *label, u32 *pp_label)
{
  *label = via ? e->cf->label : AUTOPILOT_NO_LABEL;
  *pp_label = via ? e->cf->pp_label : AUTOPILOT_NO_LABEL;
}

/*
 * @e no longer has @label. Lost (no neighbor to go to, no backup): its
 * route goes at once. Taken away by configure (a new label, an egress
 * removed): make before break, the label is on every path the hosts have
 * until its egress has sent its paths again and they reached the hosts, so
 * its route stays as it is for label retire time, then goes, unless an
 * egress took the label meanwhile.
 */
static void
autopilot_lfib_give_up(struct autopilot_proto *p, u32 label, int lost)
{
  struct autopilot_config *cf = (void *) p->p.cf;

  if (lost || !cf->label_retire)
  {
    autopilot_lfib_set(p, NULL, label);
    return;
  }

  struct autopilot_retiring *r = mb_allocz(p->p.pool, sizeof(struct autopilot_retiring));
  r->label = label;
  r->until = current_time() + cf->label_retire;
  add_tail(&p->sw.retiring, &r->n);

  if (!tm_active(p->sw.retire_timer))
    tm_start(p->sw.retire_timer, cf->label_retire);

  log(L_INFO "%s: Label %u given up: forwarded as it was for %u s more, while paths are retagged",
      p->p.name, label, (uint) (cf->label_retire TO_S));
}

/* An egress takes @label (again): no longer retiring */
static void
autopilot_lfib_claim(struct autopilot_proto *p, u32 label)
{
  struct autopilot_retiring *r, *rnx;

  WALK_LIST_DELSAFE(r, rnx, p->sw.retiring)
    if (r->label == label)
    {
      rem_node(&r->n);
      mb_free(r);
    }
}

static void
autopilot_lfib_retire_timer(timer *t)
{
  struct autopilot_proto *p = t->data;
  struct autopilot_retiring *r, *rnx;
  btime now = current_time(), next = 0;

  WALK_LIST_DELSAFE(r, rnx, p->sw.retiring)
    if (r->until <= now)
    {
      log(L_INFO "%s: Label %u retired", p->p.name, r->label);
      autopilot_lfib_set(p, NULL, r->label);
      rem_node(&r->n);
      mb_free(r);
    }
    else if (!next || (r->until < next))
      next = r->until;

  if (next)
    tm_set(t, next);
}

/* Labels given up and still forwarding, for show: "1001 (59 s)", or NULL for none */
const char *
autopilot_lfib_retiring(struct autopilot_proto *p)
{
  struct autopilot_retiring *r;
  buffer b;
  static byte buf[256];

  if (EMPTY_LIST(p->sw.retiring))
    return NULL;

  b.start = b.pos = buf;
  b.end = buf + sizeof(buf);
  WALK_LIST(r, p->sw.retiring)
    buffer_print(&b, "%s%u (%u s)", (b.pos == buf) ? "" : ", ", r->label,
		 (uint) ((r->until - current_time() + 999999) TO_S));
  return (const char *) buf;
}

/* First pass: withdraw (or retire) the entries of @e that are no longer wanted */
static void
autopilot_lfib_withdraw_stale(struct autopilot_proto *p, struct autopilot_egress *e)
{
  u32 label, pp_label;
  struct autopilot_egress *via = autopilot_lfib_via(p, e);
  autopilot_lfib_wanted(e, via, &label, &pp_label);

  int lost = e->cf && !via;

  if ((e->lfib_label != AUTOPILOT_NO_LABEL) && (e->lfib_label != label))
    autopilot_lfib_give_up(p, e->lfib_label, lost);

  if ((e->lfib_pp_label != AUTOPILOT_NO_LABEL) && (e->lfib_pp_label != pp_label))
    autopilot_lfib_give_up(p, e->lfib_pp_label, lost);

  e->lfib_label = (e->lfib_label == label) ? label : AUTOPILOT_NO_LABEL;
  e->lfib_pp_label = (e->lfib_pp_label == pp_label) ? pp_label : AUTOPILOT_NO_LABEL;
}

/* Second pass: announce what is wanted (again: the same route changes nothing) */
static void
autopilot_lfib_announce(struct autopilot_proto *p, struct autopilot_egress *e)
{
  u32 label, pp_label;
  struct autopilot_egress *via = autopilot_lfib_via(p, e);
  autopilot_lfib_wanted(e, via, &label, &pp_label);

  int lost = !autopilot_egress_live(e);
  int was_protected = e->lfib_via && (e->lfib_via != e);

  if (via && (via != e) && (via != e->lfib_via))
  {
    /* Lost right now: its channels are not flushed yet, their counters still hold its paths */
    struct bgp_proto *ob = autopilot_egress_bgp(e->cf), *bb = autopilot_egress_bgp(via->cf);
    uint had = autopilot_bgp_routes(ob, NET_IP4) + autopilot_bgp_routes(ob, NET_IP6);
    uint has = autopilot_bgp_routes(bb, NET_IP4) + autopilot_bgp_routes(bb, NET_IP6);

    /* An egress not up yet (its session comes later than its backup's) was not lost */
    if (e->lfib_was_live)
      log(L_WARN "%s: Egress %s lost: its labels %u and %u now go to backup %s", p->p.name,
	  e->cf->name, e->cf->label, e->cf->pp_label, via->cf->name);
    else
      log(L_INFO "%s: Egress %s not up yet: its labels %u and %u go to backup %s meanwhile", p->p.name,
	  e->cf->name, e->cf->label, e->cf->pp_label, via->cf->name);
    if (has < had / 2)
      log(L_WARN "%s: Backup %s has %u paths, egress %s had %u: what it has no path for is "
	  "dropped there", p->p.name, via->cf->name, has, e->cf->name, had);
  }
  else if ((via == e) && !lost && (was_protected || e->lfib_warned))
    log(L_INFO "%s: Egress %s: its labels %u and %u go to it%s", p->p.name, e->cf->name,
	e->cf->label, e->cf->pp_label, e->lfib_was_live ? " again" : " now that it is up");
  else if (e->cf->backups && lost && (via == e) && e->lfib_was_live && !e->lfib_warned)
  {
    log(L_WARN "%s: Egress %s lost, no live backup: its labels %u and %u stay with its neighbor",
	p->p.name, e->cf->name, e->cf->label, e->cf->pp_label);
    e->lfib_warned = 1;
  }
  else if (e->cf->backups && !via && e->lfib_via)
    log(L_WARN "%s: Egress %s lost, no live backup: its labels %u and %u are withdrawn", p->p.name,
	e->cf->name, e->cf->label, e->cf->pp_label);

  /* The same label towards another neighbor: a replace of its route */
  if (label != AUTOPILOT_NO_LABEL)
  {
    autopilot_lfib_claim(p, label);
    autopilot_lfib_set(p, via, label);
  }

  if (pp_label != AUTOPILOT_NO_LABEL)
  {
    autopilot_lfib_claim(p, pp_label);
    autopilot_lfib_set(p, via, pp_label);
  }

  e->lfib_label = label;
  e->lfib_pp_label = pp_label;
  e->lfib_via = via;
  e->lfib_was_live |= !lost;
  if (!lost)
    e->lfib_warned = 0;

}

/*
 * The name of the egress whose neighbor @e's labels point to (itself, a
 * backup), NULL for none. A backup removed by configure stays the via
 * until the LFIB event repoints @e, with no config (and name) of its own:
 * show and requests served before that event must not read it.
 */
const char *
autopilot_lfib_via_name(struct autopilot_egress *e)
{
  if (!e->lfib_via)
    return NULL;

  return e->lfib_via->cf ? e->lfib_via->cf->name : "(an egress removed by configure)";
}

/* What show says of an egress's LFIB entries */
const char *
autopilot_lfib_state(struct autopilot_proto *p, struct autopilot_egress *e)
{
  if (!p->p.mpls_channel)
    return "-";
  if (e->lfib_label == AUTOPILOT_NO_LABEL)
    return autopilot_reachable(e) ? "pending" : "unreachable";
  if (e->lfib_via && (e->lfib_via != e))
    return tmp_sprintf("protected by %s", autopilot_lfib_via_name(e));
  if (!autopilot_egress_live(e) && e->cf->backups)
    return "unprotected (no live backup)";
  return "up";
}

static void
autopilot_egress_attach(struct autopilot_proto *p, struct autopilot_egress *e)
{
  ip_addr nh = e->cf->addr;

  if (e->nbr && ipa_equal(e->nh, nh))
    return;

  if (e->nbr)
    e->nbr->data = NULL;

  e->nh = nh;
  e->nbr = p->p.mpls_channel ? neigh_find(&p->p, nh, e->cf->iface, NEF_STICKY) : NULL;

  if (e->nbr)
    e->nbr->data = e;
  else if (p->p.mpls_channel)
    log(L_WARN "%s: Egress %s: neighbor %I is not directly connected, no LFIB entries",
	p->p.name, e->cf->name, nh);
}

/* Announce and withdraw LFIB entries; runs from an event, with channels up */
static void
autopilot_lfib_event(void *data)
{
  struct autopilot_proto *p = data;
  struct autopilot_egress *e, *enx;

  if (p->p.mpls_channel && (p->p.mpls_channel->channel_state != CS_UP))
    return;

  /*
   * Withdraw everything stale before announcing anything: when egresses
   * swap labels, one's new label is the other's old one, and a label is one
   * route of ours in the MPLS table.
   */
  WALK_LIST(e, p->sw.egresses)
    autopilot_lfib_withdraw_stale(p, e);

  WALK_LIST_DELSAFE(e, enx, p->sw.egresses)
  {
    if (e->cf)
    {
      autopilot_lfib_announce(p, e);
      continue;
    }

    if (e->nbr)
      e->nbr->data = NULL;
    rem_node(&e->n);
    mb_free(e);
  }
}

/**
 * autopilot_lfib_update - the LFIB after the egress map changed
 * @p: autopilot instance
 *
 * The egress map (egress.c) keeps run-time egresses by name over a
 * reconfiguration; here each gets its neighbor, and the event brings the
 * LFIB in line (withdrawing entries of removed egresses, which it frees).
 */
void
autopilot_lfib_update(struct autopilot_proto *p)
{
  struct autopilot_egress *e;

  autopilot_egress_sync(p);

  WALK_LIST(e, p->sw.egresses)
    if (e->cf)
      autopilot_egress_attach(p, e);

  ev_schedule(p->sw.lfib_event);
}

void
autopilot_lfib_start(struct autopilot_proto *p)
{
  init_list(&p->sw.egresses);
  p->sw.egress_rt = NULL;			/* The last run's went with its pool */
  p->sw.egress_rt_len = 0;
  p->sw.lfib_event = ev_new_init(p->p.pool, autopilot_lfib_event, p);
  init_list(&p->sw.retiring);
  p->sw.retire_timer = tm_new_init(p->p.pool, autopilot_lfib_retire_timer, p, 0, 0);
  autopilot_lfib_update(p);
}

/* Bring the LFIB in line now: called in the round the loss is learned */
static void
autopilot_lfib_now(struct autopilot_proto *p)
{
  ev_postpone(p->sw.lfib_event);
  autopilot_lfib_event(p);
}

/* BGP's session hook: an egress session went up or down */
void
autopilot_bgp_session(struct bgp_proto *bp, int up)
{
  struct autopilot_proto *p;
  struct autopilot_egress_config *e;
  node *n;

  WALK_LIST2(p, n, autopilot_instances, instance_n)
    if ((e = autopilot_egress_of_bgp(p, bp)) && (p->p.proto_state == PS_UP))
    {
      /* Watchers learn it before the paths' removals, which follow as the table flushes */
      autopilot_watch_session(p, e, up);
      autopilot_lfib_now(p);
      /* Overrides: the lost egress's copies go in the next round */
      autopilot_ovr_session(p, e, bp, up);
    }
}

/**
 * autopilot_lfib_postconfig - resolve the egresses' backups
 * @cf: autopilot config
 *
 * An egress without backups of its own takes the protocol's, less itself.
 */
void
autopilot_lfib_postconfig(struct autopilot_config *cf)
{
  struct autopilot_egress_config *e;

  for (uint i = 0; i < cf->backups_given; i++)
    if (!autopilot_egress_find(cf, cf->backup_name[i]))
      cf_error("Backup %s is not an egress of protocol %s", cf->backup_name[i], cf->c.name);

  WALK_LIST(e, cf->egresses)
  {
    int own = e->backups_given > 0;
    const char **names = own ? e->backup_name : cf->backup_name;
    uint n = own ? e->backups_given : cf->backups_given;

    e->backups = 0;
    for (uint i = 0; i < n; i++)
    {
      struct autopilot_egress_config *b = autopilot_egress_find(cf, names[i]);
      if (!b)
	cf_error("Egress %s: backup %s is not an egress of protocol %s", e->name, names[i], cf->c.name);
      if (b == e)
      {
	if (own)
	  cf_error("Egress %s: an egress cannot be its own backup", e->name);
	continue;
      }
      e->backup[e->backups++] = b;
    }
  }

  if ((cf->backups_given || !EMPTY_LIST(cf->egresses)) && !proto_cf_mpls_channel(&cf->c))
    WALK_LIST(e, cf->egresses)
      if (e->backups)
	cf_error("Egress %s: backups protect LFIB entries: they need an mpls channel", e->name);
}

void
autopilot_neigh_notify(struct neighbor *n)
{
  struct autopilot_proto *p = (void *) n->proto;

  /* An egress's neighbor (or a backup's) came or went: protect now */
  if (n->data && (p->p.proto_state == PS_UP))
    autopilot_lfib_now(p);
}
