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
 */

#undef LOCAL_DEBUG

#include "nest/bird.h"
#include "nest/iface.h"
#include "nest/protocol.h"
#include "nest/route.h"
#include "lib/event.h"

#include "proto/bgp/bgp.h"
#include "autopilot.h"

static void
autopilot_lfib_set(struct autopilot_proto *p, struct autopilot_egress *e, u32 label, int up)
{
  net_addr_mpls n = NET_ADDR_MPLS(label);

  if (!up)
  {
    rte_update2(p->p.mpls_channel, (net_addr *) &n, NULL, p->p.main_source);
    return;
  }

  rta a0 = {
    .source = RTS_STATIC,
    .scope = SCOPE_UNIVERSE,
    .dest = RTD_UNICAST,
    .pref = p->p.mpls_channel->preference,
    .nh.gw = e->nh,
    .nh.iface = e->nbr->iface,
  };

  rte *r = rte_get_temp(rta_lookup(&a0), p->p.main_source);
  rte_update2(p->p.mpls_channel, (net_addr *) &n, r, p->p.main_source);
}

/* The labels @e should have in the LFIB now (AUTOPILOT_NO_LABEL for none) */
static void
autopilot_lfib_wanted(struct autopilot_proto *p, struct autopilot_egress *e, u32 *label, u32 *pp_label)
{
  int up = p->p.mpls_channel && e->cf && e->nbr && (e->nbr->scope >= 0);

  *label = up ? e->cf->label : AUTOPILOT_NO_LABEL;
  *pp_label = up ? e->cf->pp_label : AUTOPILOT_NO_LABEL;
}

/* First pass: withdraw the entries of @e that are no longer wanted */
static void
autopilot_lfib_withdraw_stale(struct autopilot_proto *p, struct autopilot_egress *e)
{
  u32 label, pp_label;
  autopilot_lfib_wanted(p, e, &label, &pp_label);

  if ((e->lfib_label != AUTOPILOT_NO_LABEL) && (e->lfib_label != label))
    autopilot_lfib_set(p, e, e->lfib_label, 0);

  if ((e->lfib_pp_label != AUTOPILOT_NO_LABEL) && (e->lfib_pp_label != pp_label))
    autopilot_lfib_set(p, e, e->lfib_pp_label, 0);

  e->lfib_label = (e->lfib_label == label) ? label : AUTOPILOT_NO_LABEL;
  e->lfib_pp_label = (e->lfib_pp_label == pp_label) ? pp_label : AUTOPILOT_NO_LABEL;
}

/* Second pass: announce what is wanted (again: the same route changes nothing) */
static void
autopilot_lfib_announce(struct autopilot_proto *p, struct autopilot_egress *e)
{
  u32 label, pp_label;
  autopilot_lfib_wanted(p, e, &label, &pp_label);

  if (label != AUTOPILOT_NO_LABEL)
    autopilot_lfib_set(p, e, label, 1);

  if (pp_label != AUTOPILOT_NO_LABEL)
    autopilot_lfib_set(p, e, pp_label, 1);

  e->lfib_label = label;
  e->lfib_pp_label = pp_label;
}

static ip_addr
autopilot_nh_of(struct autopilot_egress_config *cf)
{
  return cf->bgp ? ((struct bgp_config *) cf->bgp)->remote_ip : cf->neighbor;
}

static void
autopilot_egress_attach(struct autopilot_proto *p, struct autopilot_egress *e)
{
  ip_addr nh = autopilot_nh_of(e->cf);

  if (e->nbr && ipa_equal(e->nh, nh))
    return;

  if (e->nbr)
    e->nbr->data = NULL;

  e->nh = nh;
  e->nbr = p->p.mpls_channel ? neigh_find(&p->p, nh, NULL, NEF_STICKY) : NULL;

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
  WALK_LIST(e, p->egresses)
    autopilot_lfib_withdraw_stale(p, e);

  WALK_LIST_DELSAFE(e, enx, p->egresses)
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
 * autopilot_lfib_update - match run-time egresses to the current config
 * @p: autopilot instance
 *
 * Called on start and during reconfiguration, while the old config still
 * exists: egresses kept by name keep their state, removed ones lose their
 * config (and their entries in the event), new ones are created.
 */
void
autopilot_lfib_update(struct autopilot_proto *p)
{
  struct autopilot_config *cf = (void *) p->p.cf;
  struct autopilot_egress *e;
  struct autopilot_egress_config *ec;

  WALK_LIST(e, p->egresses)
    if (e->cf)
      e->cf = autopilot_egress_find(cf, e->cf->name);

  WALK_LIST(ec, cf->egresses)
  {
    WALK_LIST(e, p->egresses)
      if (e->cf == ec)
	goto found;

    e = mb_allocz(p->p.pool, sizeof(struct autopilot_egress));
    e->cf = ec;
    e->lfib_label = e->lfib_pp_label = AUTOPILOT_NO_LABEL;
    add_tail(&p->egresses, &e->n);

  found:
    autopilot_egress_attach(p, e);
  }

  ev_schedule(p->lfib_event);
}

void
autopilot_lfib_start(struct autopilot_proto *p)
{
  init_list(&p->egresses);
  p->lfib_event = ev_new_init(p->p.pool, autopilot_lfib_event, p);
  autopilot_lfib_update(p);
}

void
autopilot_neigh_notify(struct neighbor *n)
{
  struct autopilot_proto *p = (void *) n->proto;

  if (n->data)
    ev_schedule(p->lfib_event);
}
