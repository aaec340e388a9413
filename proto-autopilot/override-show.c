/*
 *	BIRD -- Autopilot "show autopilot NAME overrides"
 *
 *	(c) 2026 bird-autopilot developers
 *
 *	Can be freely distributed and used under the terms of the GNU GPL.
 */

#undef LOCAL_DEBUG

#include <stdlib.h>

#include "nest/bird.h"
#include "nest/protocol.h"
#include "nest/cli.h"
#include "conf/conf.h"
#include "lib/string.h"
#include "autopilot.h"

/* "3d4h", "2h5m", "4m10s", "7s": two units are enough to read at a glance */
char *
autopilot_span(btime t)
{
  uint s = (t > 0) ? (uint) (t / 1000000) : 0;

  if (s >= 86400)
    return tmp_sprintf("%ud%uh", s / 86400, (s % 86400) / 3600);
  if (s >= 3600)
    return tmp_sprintf("%uh%um", s / 3600, (s % 3600) / 60);
  if (s >= 60)
    return tmp_sprintf("%um%us", s / 60, s % 60);
  return tmp_sprintf("%us", s);
}

static const char *
autopilot_label_egress(struct autopilot_proto *p, u32 label)
{
  struct autopilot_egress_config *e = autopilot_egress_by_label((struct autopilot_config *) p->p.cf, label);
  return e ? e->name : "?";
}

static void
autopilot_ovr_show_one(cli *c, struct autopilot_proto *p, struct autopilot_override *o, btime now)
{
  const char *via = "-", *note = "";

  if (o->state == AP_OVR_PENDING)
    note = autopilot_ovr_why(o) ?: "";
  else
  {
    via = tmp_sprintf("%s (%u)", autopilot_label_egress(p, o->via_label), o->via_label);
    net_addr_ip6 src = autopilot_ovr_src(o);
    if (o->src_len != o->net.pxlen)
      note = tmp_sprintf("path of %N", &src);
    if (o->state == AP_OVR_SHADOW)
      note = tmp_sprintf("shadow: would move here%s%s", *note ? ", " : "", note);
  }

  cli_printf(c, -AUTOPILOT_REPLY_OVERRIDES, "%-24s %-12s %-8s %-16s %-10s %7s %8s  %s%s%s%s%s",
	  tmp_sprintf("%N", &o->net), o->target ?: AUTOPILOT_NEXT_BEST, autopilot_ovr_state_names[o->state], via,
	  autopilot_source_names[o->source], autopilot_span(now - o->created),
	  o->expires ? autopilot_span(o->expires - now) : "never",
	  o->reason ? "\"" : "", o->reason ?: "", o->reason ? "\"" : "",
	  (*note && o->reason) ? " " : "", *note ? tmp_sprintf("[%s]", note) : "");
}

/*
 * A listing goes out a chunk at a time (BIRD's CLI continuation), so that a
 * million overrides neither block BIRD while they are formatted nor sit in
 * its output buffers. The prefixes are copied when the command starts and
 * looked up again as each chunk is printed: overrides may come and go
 * meanwhile, and a pointer kept across rounds could dangle.
 */
#define AP_SHOW_CHUNK 256

struct autopilot_show_state {
  struct autopilot_proto *p;		/* Protocol listed */
  struct config *config;		/* Config when it started: a new one may free p */
  net_addr_ip6 *nets;			/* Prefixes to list, copied at the start */
  uint count;				/* Entries in nets */
  uint pos;				/* Next one to print */
  char egress[AUTOPILOT_TARGET_MAX];	/* Only overrides of this egress, "" for all */
  int pending_only;			/* Only pending ones */
};

static int
autopilot_ovr_show_wanted(struct autopilot_proto *p, struct autopilot_override *o, const char *egress, int pending_only)
{
  if (o->deleted || (pending_only && (o->state != AP_OVR_PENDING)))
    return 0;

  return !egress || !strcmp(egress, o->target ?: AUTOPILOT_NEXT_BEST) ||
    ((o->state != AP_OVR_PENDING) && !strcmp(egress, autopilot_label_egress(p, o->via_label)));
}

static void
autopilot_ovr_show_cleanup(cli *c)
{
  struct autopilot_show_state *st = c->rover;

  mb_free(st->nets);
  mb_free(st);
  c->rover = NULL;
}

static void
autopilot_ovr_show_cont(cli *c)
{
  struct autopilot_show_state *st = c->rover;
  struct autopilot_proto *p = st->p;
  btime now = current_real_time();

  if ((config != st->config) || (p->p.proto_state != PS_UP))
  {
    cli_printf(c, 8004, "Stopped: the protocol was reconfigured or stopped");
    goto done;
  }

  for (uint max = AP_SHOW_CHUNK; max && (st->pos < st->count); st->pos++)
  {
    struct autopilot_override *o = autopilot_ovr_find(p, (net_addr *) &st->nets[st->pos]);

    if (o && autopilot_ovr_show_wanted(p, o, st->egress[0] ? st->egress : NULL, st->pending_only))
    {
      autopilot_ovr_show_one(c, p, o, now);
      max--;
    }
  }

  if (st->pos < st->count)
    return;

  cli_printf(c, 0, "");

done:
  autopilot_ovr_show_cleanup(c);
  c->cont = c->cleanup = NULL;
}

/* The protocol a show command names, or the only one; NULL (and said) if it is not up */
struct autopilot_proto *
autopilot_show_proto(struct symbol *sym)
{
  /* The named protocol, or the only running one: BIRD's own rule and words */
  struct proto *found = proto_get_named(sym, &proto_autopilot);

  /* A stopped protocol has freed its overrides */
  if (found->proto_state != PS_UP)
  {
    cli_msg(AUTOPILOT_REPLY_REFUSED, "Protocol %s is not up", found->name);
    return NULL;
  }

  return (struct autopilot_proto *) found;
}

static int
autopilot_net_cmp(const void *a, const void *b)
{
  return net_compare((const net_addr *) a, (const net_addr *) b);
}

/**
 * autopilot_cmd_show_overrides - list overrides
 * @sym: protocol, or NULL for the only one
 * @n: only this prefix, or NULL
 * @egress: only those whose target or copied path is this egress, or NULL
 * @pending_only: only pending ones
 */
void
autopilot_cmd_show_overrides(struct symbol *sym, const net_addr *n, const char *egress, int pending_only)
{
  struct autopilot_proto *p = autopilot_show_proto(sym);
  if (!p)
    return;

  struct autopilot_config *cf = (void *) p->p.cf;
  btime now = current_real_time();

  cli_msg(-AUTOPILOT_REPLY_OVERRIDES, "%s: %u overrides: %u active, %u pending, %u shadow; %u expired since start; limit %u; shadow mode %s",
	  p->p.name, p->store.count, p->store.states[AP_OVR_ACTIVE], p->store.states[AP_OVR_PENDING],
	  p->store.states[AP_OVR_SHADOW], p->store.expired, cf->max_overrides, cf->shadow ? "on" : "off");

  struct autopilot_override *o = n ? autopilot_ovr_find(p, n) : NULL;
  if (n && !o)
  {
    cli_msg(-AUTOPILOT_REPLY_OVERRIDES, "No override for %N", n);
    cli_msg(0, "");
    return;
  }

  cli_msg(-AUTOPILOT_REPLY_OVERRIDES, "%-24s %-12s %-8s %-16s %-10s %7s %8s  %s",
	  "Prefix", "Target", "State", "Via (label)", "Source", "Age", "Expires", "Reason [note]");

  if (n)
  {
    autopilot_ovr_show_one(this_cli, p, o, now);
    cli_msg(0, "");
    return;
  }

  struct autopilot_show_state *st = mb_allocz(this_cli->pool, sizeof(struct autopilot_show_state));
  st->p = p;
  st->config = config;
  st->nets = mb_alloc(this_cli->pool, (p->store.hash.count + 1) * sizeof(net_addr_ip6));
  st->pending_only = pending_only;
  if (egress)
    bsnprintf(st->egress, sizeof(st->egress), "%s", egress);

  HASH_WALK(p->store.hash, next_hash, o)
    if (autopilot_ovr_show_wanted(p, o, egress, pending_only))
      net_copy((net_addr *) &st->nets[st->count++], (net_addr *) &o->net);
  HASH_WALK_END;

  /* By prefix, IPv4 first: what an operator compares with the next listing */
  qsort(st->nets, st->count, sizeof(net_addr_ip6), autopilot_net_cmp);

  this_cli->rover = st;
  this_cli->cont = autopilot_ovr_show_cont;
  this_cli->cleanup = autopilot_ovr_show_cleanup;
}

/* show autopilot: the override store's counts, its persistence, its front ends */
void
autopilot_overrides_show(struct autopilot_proto *p)
{
  struct autopilot_config *cf = (void *) p->p.cf;

  /* A host has no egresses and no overrides: nothing to say */
  if ((!p->ip4_channel && !p->ip6_channel) || (EMPTY_LIST(cf->egresses) && !p->store.count))
    return;

  /* Counters of the last run would be stale: a stopped protocol has no overrides */
  if (p->p.proto_state != PS_UP)
  {
    uint kept = autopilot_carry_count(p->p.name);
    if (kept)
      cli_msg(-AUTOPILOT_REPLY_SHOW, "  Overrides: none while the protocol is %s (%u kept in memory for the next start)",
	      proto_state_name(&p->p), kept);
    else
      cli_msg(-AUTOPILOT_REPLY_SHOW, "  Overrides: none while the protocol is %s%s", proto_state_name(&p->p),
	      cf->state_file ? " (the state file keeps them for the next start)" : "");
    return;
  }

  cli_msg(-AUTOPILOT_REPLY_SHOW, "  Overrides: %u (%u active, %u pending, %u shadow), limit %u, shadow mode %s, local pref %u, copies %s",
	  p->store.count, p->store.states[AP_OVR_ACTIVE], p->store.states[AP_OVR_PENDING],
	  p->store.states[AP_OVR_SHADOW], cf->max_overrides, cf->shadow ? "on" : "off", cf->override_local_pref,
	  (cf->override_copy == AUTOPILOT_COPY_MINIMAL) ? "minimal" : "full");
  autopilot_state_show(p);
  autopilot_ctl_show(p);

  for (int i = 0; i < 2; i++)
  {
    struct channel *c = i ? p->mgr6_channel : p->mgr4_channel;
    if (c)
      cli_msg(-AUTOPILOT_REPLY_SHOW, "  Manager table %s: %s, %u routes, %u refused since start",
	      c->table->name, channel_state_name(c), c->stats.exp_routes, p->mgr_rejected[i]);
  }
}
