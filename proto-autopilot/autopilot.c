/*
 *	BIRD -- Autopilot egress traffic engineering
 *
 *	(c) 2026 bird-autopilot developers
 *
 *	Can be freely distributed and used under the terms of the GNU GPL.
 */

/**
 * DOC: Autopilot
 *
 * The autopilot protocol is the routing layer of a host-based egress traffic
 * engineering system. On a POP switch it watches every path of its tables
 * (its channels run in %RA_ANY mode), so that later parts can tag paths with
 * the MPLS labels of their egress and originate controller overrides; on a
 * host it ranks the paths of each prefix into Precision Path alternates.
 *
 * Each channel keeps counters of what it watches: paths exported to it and
 * prefixes with at least one such path. The channel's export map already
 * tells which routes of a net were exported to us, so no per-prefix state is
 * needed for that.
 */

#undef LOCAL_DEBUG

#include <stdio.h>

#include "nest/bird.h"
#include "nest/iface.h"
#include "nest/protocol.h"
#include "nest/route.h"
#include "nest/cli.h"
#include "conf/conf.h"
#include "filter/filter.h"
#include "lib/string.h"

#include "proto/bgp/bgp.h"
#include "autopilot.h"

struct autopilot_pp_community autopilot_pp;

static void
autopilot_preconfig(struct protocol *P UNUSED, struct config *c UNUSED)
{
  autopilot_pp = (struct autopilot_pp_community) { .large = 1, .lc = AUTOPILOT_PP_DEFAULT };
}

static struct autopilot_table_stats *
autopilot_stats(struct autopilot_proto *p, struct channel *c)
{
  if (c == p->ip4_channel)
    return &p->ip4;

  if (c == p->ip6_channel)
    return &p->ip6;

  bug("Autopilot: notification on unknown channel %s", c->name);
}

/* Is any route of @net, other than @skip, exported to channel @c? */
static int
autopilot_net_exported(struct channel *c, net *n, rte *skip)
{
  for (rte *e = n->routes; e; e = e->next)
    if ((e != skip) && bmap_test(&c->export_map, e->id))
      return 1;

  return 0;
}

static void
autopilot_rt_notify(struct proto *P, struct channel *c, net *n, rte *new, rte *old)
{
  struct autopilot_proto *p = (void *) P;

  if ((c == p->mgr4_channel) || (c == p->mgr6_channel))
  {
    autopilot_manager_notify(p, n, new);
    return;
  }

  struct autopilot_table_stats *s = autopilot_stats(p, c);

  autopilot_ovr_notify(p, n->n.addr, new, old);
  autopilot_host_notify(p, c, n, new, old);
  autopilot_watch_path(p, n, new, old);

  /* The export map is updated before we are called: @new is set, @old cleared */
  if (new && !old)
  {
    s->paths++;
    if (!autopilot_net_exported(c, n, new))
      s->prefixes++;
  }
  else if (old && !new)
  {
    s->paths--;
    if (!autopilot_net_exported(c, n, NULL))
      s->prefixes--;
  }
}

static int
autopilot_preexport(struct channel *C, rte *e)
{
  /* Never watch what we originate ourselves */
  if (e->src->proto == C->proto)
    return -1;

  return 0;
}

/* Is an egress table of family @fam configured? */
static int
autopilot_etab_family_used(struct autopilot_config *cf UNUSED, struct proto_config *CF, uint fam)
{
  struct channel_config *cc;

  WALK_LIST(cc, CF->channels)
    if (!strncmp(cc->name, "egress", 6) && ((cc->net_type == NET_IP6) == fam))
      return 1;

  return 0;
}

/* What an IP channel of ours is for, in words, for config errors */
static const char *
autopilot_channel_role(struct channel_config *cc)
{
  uint k;

  if (!strcmp(cc->name, "ipv4") || !strcmp(cc->name, "ipv6"))
    return "watched";
  if (!strncmp(cc->name, "manager", 7))
    return "manager";
  if (sscanf(cc->name, "alt%u_", &k) == 1)
    return tmp_sprintf("alternate %u", k);
  if (sscanf(cc->name, "egress%u_", &k) == 1)
    return tmp_sprintf("egress label %u", k);
  return cc->name;
}

/*
 * The files of @cf against those of @other (an earlier protocol, or @cf
 * itself): each has one owner. Two protocols folding one state file would
 * erase each other's journal and restore each other's overrides; a state
 * file on the socket's path would keep the socket from being made.
 */
static void
autopilot_check_files(struct autopilot_config *cf, struct autopilot_config *other)
{
  const char *mine[3] = { cf->state_file, cf->ctl_path, cf->metrics_file };
  const char *theirs[3] = { other->state_file, other->ctl_path, other->metrics_file };
  const char *what[3] = { "state file", "controller socket", "metrics file" };

  for (uint i = 0; i < 3; i++)
    for (uint j = 0; j < 3; j++)
    {
      if ((other == cf) && (j <= i))
	continue;
      if (mine[i] && theirs[j] && !strcmp(mine[i], theirs[j]))
      {
	if (other == cf)
	  cf_error("Autopilot: %s and %s of protocol %s are one path, %s", what[i], what[j], cf->c.name, mine[i]);
	cf_error("Autopilot: %s %s is already the %s of protocol %s (one protocol per file)",
		 what[i], mine[i], what[j], other->c.name);
      }
    }
}

/*
 * Configurations that parse but cannot work, refused here rather than found
 * in the log: a table in two roles (the protocol would read what it writes,
 * or two of its outputs would overwrite each other), an egress of two
 * protocols (two taggers, two LFIBs), copies no path could lose to, a
 * disable community that is one of our own. An iBGP egress can be right (a
 * transit behind another router of the POP), so it is only a warning.
 */
static void
autopilot_check_config(struct autopilot_config *cf)
{
  struct channel_config *a, *b;
  struct autopilot_egress_config *e;

  WALK_LIST(a, cf->c.channels)
    if ((a->net_type == NET_IP4) || (a->net_type == NET_IP6))
      WALK_LIST(b, cf->c.channels)
      {
	if (b == a)
	  break;
	if (b->table == a->table)
	  cf_error("Autopilot: table %s is both the %s and the %s table of protocol %s (one role each)",
		   a->table->name, autopilot_channel_role(b), autopilot_channel_role(a), cf->c.name);
      }

  if (!cf->override_local_pref)
    cf_error("Autopilot: override local pref 0: override copies would lose to every path");

  for (uint fn = AUTOPILOT_LC_LABEL; fn < AUTOPILOT_LC_PP_DISABLE; fn++)
    if (cf->pp.large && (cf->pp.lc.asn == cf->asn) && (cf->pp.lc.ldp1 == fn))
      cf_error("Autopilot: pp disable community (%u, %u, %u) is one of the switch's own communities "
	       "(function %u of ASN %u)", cf->pp.lc.asn, cf->pp.lc.ldp1, cf->pp.lc.ldp2, fn, cf->asn);

  struct proto_config *pc;
  WALK_LIST(pc, new_config->protos)
  {
    if (pc == &cf->c)
      break;
    if (pc->protocol != &proto_autopilot)
      continue;

    WALK_LIST(e, cf->egresses)
    {
      struct autopilot_egress_config *o = autopilot_egress_by_addr((struct autopilot_config *) pc, e->addr);
      if (autopilot_egress_find((struct autopilot_config *) pc, e->name) || (o && (!o->bgp || !e->bgp)))
	cf_error("Autopilot: egress %s is already an egress of protocol %s (one protocol per egress)",
		 e->name, pc->name);
    }

    autopilot_check_files(cf, (struct autopilot_config *) pc);
  }

  autopilot_check_files(cf, cf);

  WALK_LIST(e, cf->egresses)
    if (e->bgp && (((struct bgp_config *) e->bgp)->local_as == ((struct bgp_config *) e->bgp)->remote_as))
      cf_warn("Autopilot: egress %s is an iBGP session; egresses are transits and peers, and a "
	      "POP host's session given here would have its paths tagged as an egress's", e->name);
}

static void
autopilot_postconfig(struct proto_config *CF)
{
  struct autopilot_config *cf = (void *) CF;

  if (EMPTY_LIST(CF->channels) && EMPTY_LIST(cf->egresses))
    cf_error("Autopilot: nothing to do, give an egress or a channel (ipv4, ipv6)");

  if (proto_cf_mpls_channel(CF) && EMPTY_LIST(cf->egresses))
    cf_error("Autopilot: mpls channel (LFIB) without egresses");

  /*
   * The watched channels see every path of their table: ranking, override
   * resolution and observation read the table's list of paths, and would
   * hold on to paths the filter hides (their withdrawals never reach us)
   */
  struct channel_config *cc;
  WALK_LIST(cc, CF->channels)
    if ((!strcmp(cc->name, "ipv4") || !strcmp(cc->name, "ipv6")) && (cc->out_filter != FILTER_ACCEPT))
      cf_error("Autopilot: %s channel: it watches every path of its table (export all, the default)", cc->name);

  /* We write the LFIB, never read it: another protocol's MPLS routes would reach no reader of ours */
  if (proto_cf_mpls_channel(CF) && (proto_cf_mpls_channel(CF)->out_filter != FILTER_REJECT))
    cf_error("Autopilot: mpls channel: the protocol writes the LFIB and reads nothing from it (export none)");

  /* The host role reads the switch's communities: it needs their ASN */
  for (uint fam = 0; fam < 2; fam++)
    if ((cf->alternates[fam] || cf->egress_tables) && !autopilot_cf_channel(CF, fam ? "ipv6" : "ipv4") &&
	(cf->alternates[fam] || autopilot_etab_family_used(cf, CF, fam)))
      cf_error("Autopilot: %s alternate or egress tables need the %s channel (the table with every path)",
	       fam ? "ipv6" : "ipv4", fam ? "ipv6" : "ipv4");

  if (autopilot_cf_host(cf) && !cf->asn && EMPTY_LIST(cf->egresses))
    cf_error("Autopilot: asn not specified (the ASN of the switch's large communities)");

  if ((cf->alternate_copy == AUTOPILOT_COPY_MINIMAL) && !autopilot_cf_host(cf))
    cf_error("Autopilot: alternate copy minimal without alternate or egress tables (it is the host role's)");

  cf->pp = autopilot_pp;
  autopilot_pp.used = 1;

  autopilot_egress_postconfig(cf);
  autopilot_lfib_postconfig(cf);

  autopilot_check_config(cf);
  autopilot_state_check_config(cf);
  autopilot_ctl_check_config(cf);
  autopilot_metrics_check_config(cf);
}

static struct proto *
autopilot_init(struct proto_config *CF)
{
  struct proto *P = proto_new(CF);
  struct autopilot_proto *p = (void *) P;

  proto_configure_channel(P, &p->ip4_channel, autopilot_cf_channel(CF, "ipv4"));
  proto_configure_channel(P, &p->ip6_channel, autopilot_cf_channel(CF, "ipv6"));
  proto_configure_channel(P, &p->mgr4_channel, autopilot_cf_channel(CF, "manager4"));
  proto_configure_channel(P, &p->mgr6_channel, autopilot_cf_channel(CF, "manager6"));
  proto_configure_channel(P, &P->mpls_channel, proto_cf_mpls_channel(CF));
  autopilot_host_channels(p, CF);

  P->rt_notify = autopilot_rt_notify;
  P->preexport = autopilot_preexport;
  P->neigh_notify = autopilot_neigh_notify;

  return P;
}

static void
autopilot_apply_config(struct autopilot_proto *p)
{
  struct autopilot_config *cf = (void *) p->p.cf;

  p->asn = cf->asn;
  p->label_community = cf->label_community;
}

/*
 * Ask an egress session for its paths again, so that BGP tags them anew:
 * route refresh, as "birdc reload in" does. An import table would replay
 * the old tags (they are set as BGP decodes an UPDATE, before the import
 * table stores it), and without route refresh there is no asking: then the
 * session is reset. Paths must never keep a label whose LFIB entry is gone.
 */
static void
autopilot_reload_egress(struct autopilot_proto *p, struct autopilot_egress_config *e)
{
  struct bgp_proto *bp = autopilot_egress_bgp(e);
  struct channel *c;

  if (!bp || (bp->p.proto_state != PS_UP))
    return;

  WALK_LIST(c, bp->p.channels)
    if (((c->net_type == NET_IP4) || (c->net_type == NET_IP6)) &&
	((c->channel_state != CS_UP) || !c->reloadable || c->in_table))
    {
      log(L_WARN "%s: Egress %s retagged, but %s.%s cannot be asked for its routes again "
	  "(no route refresh, or an import table): resetting the session", p->p.name, e->name,
	  bp->p.name, c->name);
      bgp_stop(bp, 4, NULL, 0);		/* Cease, Administrative Reset */
      return;
    }

  WALK_LIST(c, bp->p.channels)
    if ((c->net_type == NET_IP4) || (c->net_type == NET_IP6))
    {
      log(L_INFO "%s: Egress %s retagged, reloading %s.%s", p->p.name, e->name, bp->p.name, c->name);
      bp->p.reload_routes(c);
    }
}

/*
 * Tags exist only while we run: when we start after a restart, paths that
 * came meanwhile are untagged; when we stop, our LFIB goes and paths must
 * not keep its labels. Either way the egresses send their paths again.
 * Not on BIRD's own start (no session is up yet) nor shutdown.
 */
static void
autopilot_reload_all(struct autopilot_proto *p)
{
  struct autopilot_egress_config *e;

  if ((p->p.down_code == PDC_CMD_SHUTDOWN) || (p->p.down_code == PDC_CMD_GR_DOWN))
    return;

  WALK_LIST(e, ((struct autopilot_config *) p->p.cf)->egresses)
    autopilot_reload_egress(p, e);
}

/*
 * Our large communities are added as paths are sent: when they change (a
 * Precision Path label, the ASN, the label community option) and the
 * table does not, every session that gets them must be fed again. BGP
 * cannot resend a subset; a label change is rare, a stale one is not.
 */
static void
autopilot_refeed_hosts(struct autopilot_proto *p)
{
  struct proto *P;
  struct channel *c;

  WALK_LIST(P, proto_list)
  {
    if ((P->proto != &proto_bgp) || (P->proto_state != PS_UP) ||
	autopilot_egress_of_bgp(p, (struct bgp_proto *) P))
      continue;

    WALK_LIST(c, P->channels)
      if (((c->net_type == NET_IP4) || (c->net_type == NET_IP6)) && (c->channel_state == CS_UP))
      {
	log(L_INFO "%s: Label communities changed, sending %s.%s its paths again", p->p.name, P->name, c->name);
	channel_request_feeding(c);
      }
  }
}

/*
 * The same disable community: its kind and value only (not whether a
 * filter read it, nor padding), so that adding the first pp_disable to a
 * filter does not look like a new community and reload every egress
 */
static int
autopilot_pp_same(const struct autopilot_pp_community *a, const struct autopilot_pp_community *b)
{
  if (a->large != b->large)
    return 0;

  if (!a->large)
    return a->pair == b->pair;

  return (a->lc.asn == b->lc.asn) && (a->lc.ldp1 == b->lc.ldp1) && (a->lc.ldp2 == b->lc.ldp2);
}

/* Ask egresses whose labels changed to send their paths again */
static void
autopilot_retag(struct autopilot_proto *p, struct autopilot_config *old, struct autopilot_config *new)
{
  struct autopilot_egress_config *e, *o;
  int refeed = (old->asn != new->asn) || (old->label_community != new->label_community);
  /* The disable community an egress sends is removed as its paths are tagged */
  int pp_changed = !autopilot_pp_same(&old->pp, &new->pp);

  /* Removed egresses lose their labels: their sessions send their paths again too */
  WALK_LIST(o, old->egresses)
    if (!autopilot_egress_find(new, o->name))
      autopilot_reload_egress(p, o);

  WALK_LIST(e, new->egresses)
  {
    o = autopilot_egress_find(old, e->name);

    /* The ASN decides which received communities are scrubbed as ours */
    if (!o || (o->label != e->label) || (old->asn != new->asn) || pp_changed)
      autopilot_reload_egress(p, e);

    if (o && (o->pp_label != e->pp_label))
      refeed = 1;
  }

  if (refeed)
    autopilot_refeed_hosts(p);
}

static int
autopilot_start(struct proto *P)
{
  struct autopilot_proto *p = (void *) P;

  /* Channels are fed from scratch on every start */
  p->ip4 = p->ip6 = (struct autopilot_table_stats) {};

  autopilot_apply_config(p);
  add_tail(&autopilot_instances, &p->instance_n);
  autopilot_tag_changed();
  autopilot_lfib_start(p);
  autopilot_audit_start(p);
  autopilot_ovr_start(p);
  autopilot_state_start(p);
  autopilot_ctl_start(p);
  autopilot_host_start(p);
  autopilot_reload_all(p);
  autopilot_metrics_start(p);

  return PS_UP;
}

static int
autopilot_shutdown(struct proto *P)
{
  struct autopilot_proto *p = (void *) P;

  /* Paths received from now on are not tagged; the nest flushes our routes */
  rem_node(&p->instance_n);
  autopilot_tag_changed();
  autopilot_reload_all(p);
  autopilot_ctl_stop(p);
  autopilot_metrics_stop(p);
  autopilot_host_stop(p);

  /* Overrides stay, in memory and in the state file, for the next start (fail static) */
  autopilot_carry_save(p);
  autopilot_state_flush(p);

  return PS_DOWN;
}

static int
autopilot_reconfigure(struct proto *P, struct proto_config *CF)
{
  struct autopilot_proto *p = (void *) P;
  struct autopilot_config *old = (void *) P->cf;
  struct autopilot_config *new = (void *) CF;

  if (!proto_configure_channel(P, &p->ip4_channel, autopilot_cf_channel(CF, "ipv4")) ||
      !proto_configure_channel(P, &p->ip6_channel, autopilot_cf_channel(CF, "ipv6")) ||
      !proto_configure_channel(P, &p->mgr4_channel, autopilot_cf_channel(CF, "manager4")) ||
      !proto_configure_channel(P, &p->mgr6_channel, autopilot_cf_channel(CF, "manager6")) ||
      !proto_configure_channel(P, &P->mpls_channel, proto_cf_mpls_channel(CF)) ||
      !autopilot_host_channels(p, CF))
    return 0;

  /*
   * Host: new ranking rules (K, disable community, the switch's ASN) and
   * copies of another kind apply to every prefix: a restart ranks them
   * again. On a switch the ASN and
   * the disable community are export-time matters, applied in place below
   * (retagging, copies made again); a restart would withdraw every copy.
   */
  int host = autopilot_cf_host(old) || autopilot_cf_host(new);
  if (host && ((old->alternates[0] != new->alternates[0]) || (old->alternates[1] != new->alternates[1]) ||
	       !autopilot_pp_same(&old->pp, &new->pp) || (old->asn != new->asn) ||
	       (old->alternate_copy != new->alternate_copy) ||
	       /* Egress tables are channels matched by position: a table's label is no channel's matter */
	       (old->egress_tables != new->egress_tables) ||
	       memcmp(old->etab_label, new->etab_label, sizeof(old->etab_label))))
    return 0;

  /* The controller socket moves in place: a restart would withdraw every override */
  if (!autopilot_ctl_reconfigure(p, old, new))
    return 0;

  /* The nest sets P->cf after we return; our helpers read the new one now */
  P->cf = CF;
  autopilot_apply_config(p);
  autopilot_tag_changed();
  autopilot_lfib_update(p);
  autopilot_retag(p, old, new);
  autopilot_ovr_reconfigure(p);
  autopilot_state_reconfigure(p, old);
  autopilot_metrics_reconfigure(p, old, new);

  return 1;
}

static void
autopilot_copy_config(struct proto_config *dest, struct proto_config *src)
{
  struct autopilot_config *d = (void *) dest;
  struct autopilot_config *s = (void *) src;
  struct autopilot_egress_config *e;

  /* The memcpy of proto_copy_config() left d->egresses pointing into s */
  init_list(&d->egresses);
  WALK_LIST(e, s->egresses)
  {
    struct autopilot_egress_config *x = cfg_alloc(sizeof(struct autopilot_egress_config));
    *x = *e;
    add_tail(&d->egresses, &x->n);
  }

  /* The index points into s too: postconfig builds d's own */
  d->eg_by_name = d->eg_by_bgp = d->eg_by_addr = d->eg_by_label = NULL;
  d->eg_mask = 0;
}

static void
autopilot_show_channel(struct channel *c, struct autopilot_table_stats *s)
{
  if (!c)
    return;

  cli_msg(-AUTOPILOT_REPLY_SHOW, "  %-6s table %-12s %-6s prefixes %-8u paths %u",
	  c->name, c->table->name, channel_state_name(c),
	  s->prefixes, s->paths);
}

/* The BGP protocol instance of an egress, if it runs */
struct bgp_proto *
autopilot_egress_bgp(struct autopilot_egress_config *e)
{
  struct proto *bp;

  if (e->bgp)
    return (void *) e->bgp->proto;

  WALK_LIST(bp, proto_list)
    if ((bp->proto == &proto_bgp) && ipa_equal(((struct bgp_proto *) bp)->remote_ip, e->neighbor))
      return (void *) bp;

  return NULL;
}

/* Paths imported from @bp of one net type (its channels' own counters) */
uint
autopilot_bgp_routes(struct bgp_proto *bp, uint net_type)
{
  struct channel *c;
  uint n = 0;

  if (bp)
    WALK_LIST(c, bp->p.channels)
      if (c->net_type == net_type)
	n += c->stats.imp_routes;

  return n;
}

void
autopilot_show(struct proto *P)
{
  struct autopilot_proto *p = (void *) P;

  cli_msg(-AUTOPILOT_REPLY_SHOW, "%s: %s%s", P->name, proto_state_name(P), P->disabled ? " (disabled)" : "");
  autopilot_show_channel(p->ip4_channel, &p->ip4);
  autopilot_show_channel(p->ip6_channel, &p->ip6);
  autopilot_egress_show(p);
  autopilot_host_show(p);
  autopilot_overrides_show(p);
  if (P->proto_state == PS_UP)
    autopilot_metrics_show(p);
}

/*
 * show autopilot [NAME]: every autopilot protocol, stopped ones too. BIRD's
 * PROTO_WALK_CMD skips protocols that are down, but a disabled switch
 * protocol is what an operator most needs to see (and how many overrides
 * it keeps for its next start).
 */
void
autopilot_cmd_show(struct symbol *sym)
{
  struct proto *P;
  int first = 1;

  if (sym)
  {
    PROTO_WALK_CMD(sym, &proto_autopilot, q)
      autopilot_show(q);
    return;
  }

  WALK_LIST(P, proto_list)
    if (P->proto == &proto_autopilot)
    {
      if (!first)
	cli_separator(this_cli);
      first = 0;
      autopilot_show(P);
    }

  cli_msg(0, "");
}

struct protocol proto_autopilot = {
  .name =		"Autopilot",
  .template =		"autopilot%d",
  .class =		PROTOCOL_AUTOPILOT,
  .preference =		DEF_PREF_STATIC,
  .channel_mask =	NB_IP | NB_MPLS,
  .proto_size =		sizeof(struct autopilot_proto),
  .config_size =	sizeof(struct autopilot_config),
  .preconfig =		autopilot_preconfig,
  .postconfig =		autopilot_postconfig,
  .init =		autopilot_init,
  .start =		autopilot_start,
  .shutdown =		autopilot_shutdown,
  .reconfigure =	autopilot_reconfigure,
  .copy_config =	autopilot_copy_config,
};

void
autopilot_build(void)
{
  proto_build(&proto_autopilot);
  autopilot_tag_init();
}
