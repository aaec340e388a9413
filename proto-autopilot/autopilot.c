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

#include "nest/bird.h"
#include "nest/iface.h"
#include "nest/protocol.h"
#include "nest/route.h"
#include "nest/cli.h"
#include "conf/conf.h"
#include "lib/string.h"

#include "autopilot.h"

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
  struct autopilot_table_stats *s = autopilot_stats(p, c);

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

static void
autopilot_postconfig(struct proto_config *CF)
{
  if (EMPTY_LIST(CF->channels))
    cf_error("Autopilot: at least one channel (ipv4 or ipv6) is required");
}

static struct proto *
autopilot_init(struct proto_config *CF)
{
  struct proto *P = proto_new(CF);
  struct autopilot_proto *p = (void *) P;

  proto_configure_channel(P, &p->ip4_channel, proto_cf_find_channel(CF, NET_IP4));
  proto_configure_channel(P, &p->ip6_channel, proto_cf_find_channel(CF, NET_IP6));

  P->rt_notify = autopilot_rt_notify;
  P->preexport = autopilot_preexport;

  return P;
}

static int
autopilot_start(struct proto *P)
{
  struct autopilot_proto *p = (void *) P;

  /* Channels are fed from scratch on every start */
  p->ip4 = p->ip6 = (struct autopilot_table_stats) {};

  return PS_UP;
}

static int
autopilot_reconfigure(struct proto *P, struct proto_config *CF)
{
  struct autopilot_proto *p = (void *) P;

  return
    proto_configure_channel(P, &p->ip4_channel, proto_cf_find_channel(CF, NET_IP4)) &&
    proto_configure_channel(P, &p->ip6_channel, proto_cf_find_channel(CF, NET_IP6));
}

static void
autopilot_copy_config(struct proto_config *dest UNUSED, struct proto_config *src UNUSED)
{
  /* Nothing but channels yet, and proto_copy_config() copies those */
}

/* Names of PS_* and CS_* states; nest/proto.c keeps its own tables static */
static const char *autopilot_proto_states[] = { "down", "start", "up", "stop" };
static const char *autopilot_channel_states[] = { "down", "start", "up", "flushing" };

static void
autopilot_show_channel(struct channel *c, struct autopilot_table_stats *s)
{
  if (!c)
    return;

  cli_msg(-1100, "  %-6s table %-12s %-6s prefixes %-8u paths %u",
	  c->name, c->table->name, autopilot_channel_states[c->channel_state],
	  s->prefixes, s->paths);
}

void
autopilot_show(struct proto *P)
{
  struct autopilot_proto *p = (void *) P;

  cli_msg(-1100, "%s: %s", P->name, autopilot_proto_states[P->proto_state]);
  autopilot_show_channel(p->ip4_channel, &p->ip4);
  autopilot_show_channel(p->ip6_channel, &p->ip6);
}

struct protocol proto_autopilot = {
  .name =		"Autopilot",
  .template =		"autopilot%d",
  .class =		PROTOCOL_AUTOPILOT,
  .channel_mask =	NB_IP,
  .proto_size =		sizeof(struct autopilot_proto),
  .config_size =	sizeof(struct autopilot_config),
  .postconfig =		autopilot_postconfig,
  .init =		autopilot_init,
  .start =		autopilot_start,
  .reconfigure =	autopilot_reconfigure,
  .copy_config =	autopilot_copy_config,
};

void
autopilot_build(void)
{
  proto_build(&proto_autopilot);
}
