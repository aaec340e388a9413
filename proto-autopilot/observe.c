/*
 *	BIRD -- Autopilot observation: the paths the switch holds, for controllers and people
 *
 *	(c) 2026 bird-autopilot developers
 *
 *	Can be freely distributed and used under the terms of the GNU GPL.
 */

/**
 * DOC: Observation
 *
 * A controller decides overrides from the paths each prefix has at each
 * egress. The switch's table holds every one of them with its egress and
 * labels, so the switch answers for them itself: read requests on the
 * controller socket ("paths PREFIX", "egresses", "dump ...") and, for
 * people, "show autopilot NAME paths PREFIX" in birdc. Both read the same
 * facts, gathered by obs_collect(): the valid paths of a prefix in the
 * watched table, each with its egress (the BGP session it came from, or for
 * an override copy the egress of the path copied, by its label), its labels
 * and its rank in BGP's order.
 *
 * Rank 1 is the table's best path (the one "show route" marks with '*');
 * the others follow in the order BIRD would pick them if the ones before
 * went away: the best of the rest by BIRD's own rte_better() (exported by a
 * patch), again and again. bgp_rte_better() is no total order (MED
 * is compared only between paths from the same neighbor AS), so we never
 * sort: each step picks a best of a set, and ties keep table order.
 *
 * Replies on the socket are JSON, one object per line (docs/controller-
 * protocol.md, "Read requests"), written straight into the connection's
 * reply buffer: "ok {...}" for paths and egresses; a dump is "+ {...}"
 * lines, one per prefix, ended by one "ok {...}" line. A dump goes out in
 * slices of OBS_DUMP_SLICE prefixes, one slice per event round, and only
 * while fewer than CTL_OUT_HIGH bytes of replies wait: a full table never
 * blocks BIRD nor sits in its memory, and BGP keeps running meanwhile. The
 * table is walked with a FIB iterator, which BIRD keeps valid as prefixes
 * come and go (as "show route" does), a window of prefixes at a time
 * (obs_dump_prefetch()); so the bound is passed by at most one window.
 */

#undef LOCAL_DEBUG

#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "nest/bird.h"
#include "nest/protocol.h"
#include "nest/route.h"
#include "nest/attrs.h"
#include "nest/iface.h"
#include "nest/cli.h"
#include "conf/conf.h"
#include "lib/string.h"
#include "lib/socket.h"
#include "proto/bgp/bgp.h"
#include "autopilot.h"
#include "route.h"
#include "conn.h"

#define OBS_MAX_PATHS	256		/* Paths of one prefix reported (BIRD has no limit; ADD-PATH peers do) */
#define OBS_ITEM_MAX	512		/* Room reserved for one bounded JSON item */

/* One path of a prefix, as reported */
struct obs_path {
  rte *r;				/* The path */
  struct autopilot_egress_config *egress;	/* Its egress, NULL if it comes from none */
  u32 label;				/* Its primary label (mpls_label), or AUTOPILOT_NO_LABEL */
  u8 copy;				/* An override copy originated by us */
};

/* The paths of one prefix, in rank order */
struct obs_net {
  net *n;				/* The prefix in the table, or NULL if it has none */
  uint count;				/* Paths in paths[] */
  uint more;				/* Paths beyond OBS_MAX_PATHS, not reported */
  struct obs_path paths[OBS_MAX_PATHS];	/* Best first */
};

static inline struct autopilot_config *
obs_cf(struct autopilot_proto *p)
{
  return (void *) p->p.cf;
}

static struct channel *
obs_channel(struct autopilot_proto *p, uint type)
{
  return (type == NET_IP4) ? p->ip4_channel : (type == NET_IP6) ? p->ip6_channel : NULL;
}

static struct autopilot_egress_config *
obs_egress_of_label(struct autopilot_proto *p, u32 label)
{
  struct autopilot_egress_config *e;

  WALK_LIST(e, obs_cf(p)->egresses)
    if (e->label == label)
      return e;

  return NULL;
}

/* What we report of path @r: its egress, label, whether it is our copy */
static void
obs_path_of(struct autopilot_proto *p, rte *r, struct obs_path *op)
{
  op->r = r;
  op->label = autopilot_rt_label(r);
  op->copy = (r->src->proto == &p->p);
  op->egress = NULL;

  if (r->src->proto->proto == &proto_bgp)
    op->egress = autopilot_egress_of_bgp(p, (struct bgp_proto *) r->src->proto);
  else if (op->copy && (op->label != AUTOPILOT_NO_LABEL))
    op->egress = obs_egress_of_label(p, op->label);
}

/* The paths of @n, ranked: the table's best first, then the best of the rest, again and again */
static void
obs_collect(struct autopilot_proto *p, net *n, struct obs_net *on)
{
  on->n = n;
  on->count = on->more = 0;

  if (!n)
    return;

  for (rte *r = n->routes; r; r = r->next)
  {
    if (!rte_is_valid(r))
      continue;

    if (on->count == OBS_MAX_PATHS)
    {
      on->more++;
      continue;
    }

    obs_path_of(p, r, &on->paths[on->count++]);
  }

  /* The table's best is first already (rte_recalculate() keeps it there) */
  for (uint i = (on->count && (on->paths[0].r == n->routes)) ? 1 : 0; i + 1 < on->count; i++)
  {
    uint pick = i;
    for (uint j = i + 1; j < on->count; j++)
      if (rte_better(on->paths[j].r, on->paths[pick].r))
	pick = j;

    /* Move the pick up, the rest keep their order */
    if (pick != i)
    {
      struct obs_path tmp = on->paths[pick];
      memmove(&on->paths[i + 1], &on->paths[i], (pick - i) * sizeof(struct obs_path));
      on->paths[i] = tmp;
    }
  }
}

/* Real time of a monotonic time stamp (a path's lastmod) */
static inline btime
obs_real_time(btime t)
{
  return current_real_time() - (current_time() - t);
}


/*
 *	JSON into the connection's reply buffer
 */

/* Room for @n more bytes; inline while the buffer has it (a dump asks millions of times) */
static inline byte *
js_room(struct autopilot_ctl_conn *c, uint n)
{
  return (c->out_len + n <= c->out_size) ? c->out + c->out_len : autopilot_ctl_reserve(c, n);
}

static inline void
js_raw(struct autopilot_ctl_conn *c, const char *s, uint len)
{
  memcpy(js_room(c, len), s, len);
  c->out_len += len;
}

static inline void
js_put(struct autopilot_ctl_conn *c, const char *s)
{
  js_raw(c, s, strlen(s));
}

/* A bounded item (numbers, addresses, names we checked): at most OBS_ITEM_MAX bytes */
static void
js_fmt(struct autopilot_ctl_conn *c, const char *fmt, ...)
{
  va_list args;
  byte *b = autopilot_ctl_reserve(c, OBS_ITEM_MAX);

  va_start(args, fmt);
  int n = bvsnprintf(b, OBS_ITEM_MAX, fmt, args);
  va_end(args);

  if (n < 0)
    bug("Autopilot: JSON item too long");

  c->out_len += n;
}

/*
 * Numbers, addresses and prefixes are most of a dump's items: written
 * straight, without a format to interpret (bvsnprintf() was a fifth of a
 * dump's CPU). The output is the same as printf's %u, %I and %N.
 */
static inline void
js_uint(struct autopilot_ctl_conn *c, u64 v)
{
  char *b = (char *) js_room(c, AUTOPILOT_UINT_TEXT_MAX);
  c->out_len += autopilot_put_uint(b, v) - b;
}

/* "address", as %I prints it */
static void
js_ip(struct autopilot_ctl_conn *c, ip_addr a)
{
  /* ip4_ntop() writes 4 bytes per octet, ip6_ntop() a terminating NUL */
  byte *b0 = js_room(c, IP6_MAX_TEXT_LENGTH + 8), *b = b0;

  *b++ = '"';
  b = (byte *) (ipa_is_ip4(a) ? ip4_ntop(ipa_to_ip4(a), (char *) b) : ip6_ntop(ipa_to_ip6(a), (char *) b));
  *b++ = '"';
  c->out_len += b - b0;
}

/* "prefix", as %N prints it */
static void
js_net(struct autopilot_ctl_conn *c, const net_addr *n)
{
  char *b0 = (char *) js_room(c, AUTOPILOT_NET_TEXT_MAX + 2), *b = b0;

  *b++ = '"';
  if (!(b = autopilot_put_net(b, n)))
  {
    js_fmt(c, "\"%N\"", n);
    return;
  }
  *b++ = '"';
  c->out_len += b - b0;
}

/* A JSON string: names and reasons are printable ASCII, but escape anyway */
static void
js_str(struct autopilot_ctl_conn *c, const char *s)
{
  byte *b = autopilot_ctl_reserve(c, 6 * strlen(s) + 2), *b0 = b;

  *b++ = '"';
  for (; *s; s++)
  {
    byte ch = *s;
    if ((ch == '"') || (ch == '\\'))
    {
      *b++ = '\\';
      *b++ = ch;
    }
    else if ((ch < 0x20) || (ch >= 0x7f))
      b += bsprintf(b, "\\u%04x", ch);
    else
      *b++ = ch;
  }
  *b++ = '"';

  c->out_len += b - b0;
}

static inline void
js_str_or_null(struct autopilot_ctl_conn *c, const char *s)
{
  if (s)
    js_str(c, s);
  else
    js_put(c, "null");
}

static inline void
js_label(struct autopilot_ctl_conn *c, u32 label)
{
  if (label == AUTOPILOT_NO_LABEL)
    js_put(c, "null");
  else
    js_uint(c, label);
}

static void
js_as_path(struct autopilot_ctl_conn *c, const struct adata *path)
{
  const byte *pos = path->data, *end = pos + path->length;
  int first = 1;

  /* A sequence's ASNs in order; a set as an array of its own; confederation segments as objects */
  js_put(c, "[");
  while (pos < end)
  {
    uint type = pos[0], len = pos[1];
    const char *open = (type == AS_PATH_SET) ? "[" : (type == AS_PATH_CONFED_SEQUENCE) ? "{\"confed_sequence\":[" :
      (type == AS_PATH_CONFED_SET) ? "{\"confed_set\":[" : NULL;
    pos += 2;

    if (open)
    {
      js_put(c, first ? "" : ",");
      js_put(c, open);
      first = 1;
    }

    for (uint i = 0; i < len; i++, pos += 4)
    {
      if (!first)
	js_raw(c, ",", 1);
      js_uint(c, get_u32(pos));
      first = 0;
    }

    if (open)
    {
      js_put(c, (type == AS_PATH_SET) ? "]" : "]}");
      first = 0;
    }
  }
  js_put(c, "]");
}

static void
js_communities(struct autopilot_ctl_conn *c, rte *r)
{
  eattr *a = autopilot_rt_attr(r, BA_COMMUNITY);
  const u32 *d;
  uint n;

  js_put(c, ",\"communities\":[");
  if (a)
    for (d = int_set_get_data(a->u.ptr), n = int_set_get_size(a->u.ptr); n; n--, d++)
    {
      js_raw(c, "[", 1);
      js_uint(c, *d >> 16);
      js_raw(c, ",", 1);
      js_uint(c, *d & 0xffff);
      js_raw(c, (n > 1) ? "]," : "]", (n > 1) ? 2 : 1);
    }

  js_put(c, "],\"large_communities\":[");
  if (a = autopilot_rt_attr(r, BA_LARGE_COMMUNITY))
    for (d = int_set_get_data(a->u.ptr), n = lc_set_get_size(a->u.ptr); n; n--, d += 3)
    {
      js_raw(c, "[", 1);
      js_uint(c, d[0]);
      js_raw(c, ",", 1);
      js_uint(c, d[1]);
      js_raw(c, ",", 1);
      js_uint(c, d[2]);
      js_raw(c, (n > 1) ? "]," : "]", (n > 1) ? 2 : 1);
    }

  js_put(c, "],\"ext_communities\":[");
  if (a = autopilot_rt_attr(r, BA_EXT_COMMUNITY))
  {
    n = int_set_get_size(a->u.ptr) / 2;
    d = int_set_get_data(a->u.ptr);
    for (uint i = 0; i < n; i++)
    {
      byte buf[64];
      ec_format(buf, ec_get(d, i));
      js_fmt(c, "%s\"%s\"", i ? "," : "", buf);
    }
  }
  js_put(c, "]");
}

/* The fields of one path from "from" on, and the object's closing brace */
static void
js_path_fields(struct autopilot_ctl_conn *c, struct obs_path *op, btime now, int full)
{
  rte *r = op->r;
  rta *a = r->attrs;
  eattr *e;

  js_put(c, "\"from\":");
  js_str(c, r->src->proto->name);
  js_put(c, ",\"egress\":");
  js_str_or_null(c, op->egress ? op->egress->name : NULL);
  js_put(c, ",\"label\":");
  js_label(c, op->label);
  js_put(c, ",\"pp_label\":");
  js_label(c, op->egress ? op->egress->pp_label : AUTOPILOT_NO_LABEL);
  js_put(c, op->copy ? ",\"override_copy\":true" : ",\"override_copy\":false");

  /* A path gone needs no more to be told apart (watch's remove events: half the bytes) */
  if (!full)
  {
    js_put(c, "}");
    return;
  }

  js_put(c, ",\"preference\":");
  js_uint(c, a->pref);
  js_put(c, ",\"dest\":\"");
  js_put(c, rta_dest_name(a->dest));

  js_put(c, "\",\"next_hop\":");
  if ((a->dest == RTD_UNICAST) && ipa_nonzero(a->nh.gw))
    js_ip(c, a->nh.gw);
  else
    js_put(c, "null");
  js_put(c, ",\"iface\":");
  js_str_or_null(c, ((a->dest == RTD_UNICAST) && a->nh.iface) ? a->nh.iface->name : NULL);

  js_put(c, ",\"bgp_next_hop\":[");
  if (e = bgp_find_attr(a->eattrs, BA_NEXT_HOP))
  {
    const ip_addr *nh = (const ip_addr *) e->u.ptr->data;
    uint n = e->u.ptr->length / sizeof(ip_addr);
    for (uint k = 0; k < n; k++)
    {
      if (k)
	js_raw(c, ",", 1);
      js_ip(c, nh[k]);
    }
  }
  js_put(c, "]");

  js_put(c, ",\"as_path\":");
  if (e = bgp_find_attr(a->eattrs, BA_AS_PATH))
    js_as_path(c, e->u.ptr);
  else
    js_put(c, "[]");

  static const char *origins[] = { "IGP", "EGP", "Incomplete" };
  e = bgp_find_attr(a->eattrs, BA_ORIGIN);
  js_put(c, ",\"origin\":");
  if (e)
  {
    js_raw(c, "\"", 1);
    js_put(c, (e->u.data <= 2) ? origins[e->u.data] : "?");
    js_raw(c, "\"", 1);
  }
  else
    js_put(c, "null");

  e = bgp_find_attr(a->eattrs, BA_LOCAL_PREF);
  js_put(c, ",\"local_pref\":");
  e ? js_uint(c, e->u.data) : js_put(c, "null");
  e = bgp_find_attr(a->eattrs, BA_MULTI_EXIT_DISC);
  js_put(c, ",\"med\":");
  e ? js_uint(c, e->u.data) : js_put(c, "null");

  js_communities(c, r);

  /* Seconds with milliseconds, %u.%03u */
  btime age = now - r->lastmod;
  uint ms = (uint) ((age % 1000000) / 1000);
  char frac[4] = { '.', '0' + ms / 100, '0' + ms / 10 % 10, '0' + ms % 10 };
  js_put(c, ",\"age\":");
  js_uint(c, (uint) (age / 1000000));
  js_raw(c, frac, 4);
  js_put(c, ",\"since\":");
  js_uint(c, (uint) (obs_real_time(r->lastmod) / 1000000));
  js_raw(c, "}", 1);
}

static void
js_path(struct autopilot_ctl_conn *c, struct obs_net *on, uint i, btime now)
{
  struct obs_path *op = &on->paths[i];

  js_put(c, "{\"rank\":");
  js_uint(c, i + 1);
  js_put(c, (op->r == on->n->routes) ? ",\"best\":true," : ",\"best\":false,");
  js_path_fields(c, op, now, 1);
}

/*
 * "paths":[...] of a collected prefix (those of egress @only, if set;
 * without our override copies unless @copies); how many. A dump and a
 * watch snapshot leave the copies out: no path event ever tells of them
 * (they are our own routes, not exported to us), override events do, and a
 * mirror built from snapshot and events would keep them forever.
 */
static uint
js_paths(struct autopilot_ctl_conn *c, struct obs_net *on, struct autopilot_egress_config *only, int copies)
{
  btime now = current_time();
  uint n = 0;

  js_put(c, "\"paths\":[");
  for (uint i = 0; i < on->count; i++)
  {
    if ((only && (on->paths[i].egress != only)) || (!copies && on->paths[i].copy))
      continue;
    if (n++)
      js_put(c, ",");
    js_path(c, on, i, now);
  }
  js_put(c, "]");

  if (on->more)
    js_fmt(c, ",\"paths_not_listed\":%u", on->more);

  return n;
}

static void
js_override(struct autopilot_ctl_conn *c, struct autopilot_proto *p, struct autopilot_override *o)
{
  js_put(c, "{\"target\":");
  js_str(c, o->target ?: AUTOPILOT_NEXT_BEST);
  js_fmt(c, ",\"state\":\"%s\",\"source\":\"%s\"", autopilot_ovr_state_names[o->state],
	 autopilot_source_names[o->source]);

  struct autopilot_egress_config *via =
    (o->state != AP_OVR_PENDING) ? obs_egress_of_label(p, o->via_label) : NULL;
  js_put(c, ",\"via\":");
  js_str_or_null(c, via ? via->name : NULL);
  js_put(c, ",\"via_label\":");
  js_label(c, via ? o->via_label : AUTOPILOT_NO_LABEL);
  js_put(c, ",\"path_of\":");
  net_addr_ip6 src = autopilot_ovr_src(o);
  if (o->state != AP_OVR_PENDING)
    js_fmt(c, "\"%N\"", &src);
  else
    js_put(c, "null");
  js_put(c, ",\"why_pending\":");
  js_str_or_null(c, (o->state == AP_OVR_PENDING) ? (autopilot_ovr_why(o) ?: "not resolved yet") : NULL);
  js_put(c, ",\"reason\":");
  js_str_or_null(c, o->reason);
  js_fmt(c, ",\"created\":%u,\"expires\":", (uint) (o->created / 1000000));
  o->expires ? js_fmt(c, "%u}", (uint) (o->expires / 1000000)) : js_put(c, "null}");
}

/* Start a reply line "[@tag ]ok ": counted as an ok reply (metrics) */
static void
js_line(struct autopilot_ctl_conn *c, const char *tag, const char *word)
{
  if (tag && tag[0])
    js_fmt(c, "@%s ", tag);
  js_put(c, word);
  c->p->metrics.replies[AP_CODE_OK]++;
}

static inline void
js_end(struct autopilot_ctl_conn *c)
{
  js_raw(c, "\n", 1);
}


/*
 *	Requests
 */

/* The watched channel of family @type, up; NULL after an error reply */
static struct channel *
obs_request_channel(struct autopilot_ctl_conn *c, const char *tag, uint type)
{
  struct autopilot_proto *p = c->p;
  struct channel *ch = obs_channel(p, type);
  const char *fam = (type == NET_IP4) ? "ipv4" : "ipv6";

  if (!ch)
    autopilot_ctl_reply(c, tag, "error no-channel no %s channel in protocol %s", fam, p->p.name);
  else if (ch->channel_state != CS_UP)
    autopilot_ctl_reply(c, tag, "error no-channel the %s channel of protocol %s is not up", fam, p->p.name);
  else
    return ch;

  return NULL;
}

static void
obs_paths(struct autopilot_ctl_conn *c, const struct autopilot_request *req)
{
  struct autopilot_proto *p = c->p;
  const net_addr *a = (const net_addr *) &req->net;
  struct channel *ch = obs_request_channel(c, req->tag, a->type);

  if (!ch)
    return;

  struct obs_net *on = alloca(sizeof(struct obs_net));
  obs_collect(p, net_find(ch->table, a), on);

  js_line(c, req->tag, "ok ");
  js_fmt(c, "{\"prefix\":\"%N\",\"table\":", a);
  js_str(c, ch->table->name);
  js_put(c, ",");
  js_paths(c, on, NULL, 1);

  struct autopilot_override *o = autopilot_ovr_find(p, a);
  js_put(c, ",\"override\":");
  if (o && !o->deleted)
    js_override(c, p, o);
  else
    js_put(c, "null");

  /* Where an override of this prefix would copy its path, when not here */
  net_addr_ip6 cover;
  net *cn = autopilot_ovr_cover(p, ch, &req->net, &cover);
  js_put(c, ",\"covering\":");
  if (cn && !net_equal((net_addr *) &cover, a))
  {
    obs_collect(p, cn, on);
    js_fmt(c, "{\"prefix\":\"%N\",", &cover);
    js_paths(c, on, NULL, 1);
    js_put(c, "}");
  }
  else
    js_put(c, "null");

  js_put(c, "}");
  js_end(c);
}

static const char *
obs_session(struct bgp_proto *bp)
{
  return !bp ? "none" : (bp->p.proto_state == PS_UP) ? "up" : "down";
}

/* Overrides of one egress, for the egresses reply */
struct obs_eg_count {
  struct autopilot_egress_config *ec;	/* The egress, NULL for one without config */
  uint by_state[AP_OVR_STATES];		/* Overrides to it, by state */
  uint carried;				/* Active overrides whose copy goes out by it */
};

/* Index in @n of egress @name, or -1; @memo: the last name found (targets are shared) */
static int
obs_eg_by_name(struct obs_eg_count *n, uint len, const char *name, const char **memo, int *memo_i)
{
  if (name == *memo)
    return *memo_i;

  int i = len;
  while (--i >= 0)
    if (n[i].ec && !strcmp(n[i].ec->name, name))
      break;

  *memo = name;
  return *memo_i = i;
}

static int
obs_eg_by_label(struct obs_eg_count *n, uint len, u32 label)
{
  for (uint i = 0; i < len; i++)
    if (n[i].ec && (n[i].ec->label == label))
      return i;

  return -1;
}

/* Every egress's overrides in one walk of the set (a walk per egress was E walks) */
static struct obs_eg_count *
obs_eg_counts(struct autopilot_proto *p, uint *len)
{
  struct autopilot_egress *e;
  struct autopilot_override *o;
  const char *memo = NULL;
  int memo_i = -1, i;
  u32 label_memo = AUTOPILOT_NO_LABEL;
  int label_i = -1;

  *len = list_length(&p->sw.egresses);
  struct obs_eg_count *n = tmp_allocz(MAX(*len, 1) * sizeof(struct obs_eg_count));

  i = 0;
  WALK_LIST(e, p->sw.egresses)
    n[i++].ec = e->cf;

  HASH_WALK(p->store.hash, next_hash, o)
  {
    if (o->deleted)
      continue;
    if (o->target && ((i = obs_eg_by_name(n, *len, o->target, &memo, &memo_i)) >= 0))
      n[i].by_state[o->state]++;
    if (o->state == AP_OVR_ACTIVE)
    {
      if (o->via_label != label_memo)
	label_i = obs_eg_by_label(n, *len, label_memo = o->via_label);
      if (label_i >= 0)
	n[label_i].carried++;
    }
  }
  HASH_WALK_END;

  return n;
}

static void
obs_egresses(struct autopilot_ctl_conn *c, const struct autopilot_request *req)
{
  struct autopilot_proto *p = c->p;
  struct autopilot_egress *e;
  int first = 1;
  uint len, i = 0;
  struct obs_eg_count *n = obs_eg_counts(p, &len);

  js_line(c, req->tag, "ok ");
  js_fmt(c, "{\"protocol\":");
  js_str(c, p->p.name);
  js_fmt(c, ",\"asn\":%u,\"egresses\":[", p->asn);

  WALK_LIST(e, p->sw.egresses)
  {
    struct autopilot_egress_config *ec = e->cf;
    struct obs_eg_count *k = &n[i++];
    if (!ec)
      continue;

    struct bgp_proto *bp = autopilot_egress_bgp(ec);
    uint *by_state = k->by_state, carried = k->carried;

    js_put(c, first ? "{\"name\":" : ",{\"name\":");
    first = 0;
    js_str(c, ec->name);
    js_put(c, ",\"protocol\":");
    js_str_or_null(c, bp ? bp->p.name : NULL);
    js_fmt(c, ",\"neighbor\":\"%I\",\"label\":%u,\"pp_label\":%u,\"session\":\"%s\"",
	   ec->bgp ? ((struct bgp_config *) ec->bgp)->remote_ip : ec->neighbor,
	   ec->label, ec->pp_label, obs_session(bp));
    js_fmt(c, ",\"paths\":{\"ipv4\":%u,\"ipv6\":%u},\"lfib\":", autopilot_bgp_routes(bp, NET_IP4),
	   autopilot_bgp_routes(bp, NET_IP6));
    js_str(c, autopilot_lfib_state(p, e));
    js_put(c, ",\"lfib_via\":");
    js_str_or_null(c, p->p.mpls_channel ? autopilot_lfib_via_name(e) : NULL);
    js_put(c, ",\"backups\":[");
    for (uint i = 0; i < ec->backups; i++)
    {
      js_put(c, i ? "," : "");
      js_str(c, ec->backup[i]->name);
    }
    js_fmt(c, "],\"overrides\":{\"active\":%u,\"pending\":%u,\"shadow\":%u},\"overrides_carried\":%u}",
	   by_state[AP_OVR_ACTIVE], by_state[AP_OVR_PENDING], by_state[AP_OVR_SHADOW], carried);
  }

  js_put(c, "]}");
  js_end(c);
}

/*
 *	dump: every path, streamed
 */

#define OBS_DUMP_SLICE	256		/* Most prefixes of one event round: about 1 ms here */

/* A dump under way on one connection (it answers nothing else meanwhile) */
struct obs_dump {
  struct autopilot_ctl_conn *c;		/* The connection */
  event *ev;				/* Writes the next slice */
  rtable *tab;				/* Table walked now (locked), NULL between tables */
  struct fib_iterator fit;		/* Where in it */
  u8 linked;				/* The iterator is in the table (between slices) */
  uint types[2];			/* Families to walk, in order; 0 for none */
  uint next_type;			/* Index of the next one in types */
  char egress[AUTOPILOT_TARGET_MAX];	/* Only paths of this egress, "" for all */
  char tag[AUTOPILOT_TAG_MAX];		/* Tag of the request, on its last line */
  uint prefixes, paths;			/* Written so far */
  btime started;			/* When it began */
  u8 watch;				/* The snapshot of "watch snapshot": its reply starts the subscription */
  u64 seq;				/* ... the last event before it began */
};

static void obs_watch_free(struct autopilot_ctl_conn *c);
static void obs_watch_reply(struct autopilot_ctl_conn *c, const char *tag, const char *what, u64 seq);

static void
obs_dump_close_table(struct obs_dump *d)
{
  if (!d->tab)
    return;

  if (d->linked)
    fit_get(&d->tab->fib, &d->fit);
  d->linked = 0;
  rt_unlock_table(d->tab);
  d->tab = NULL;
}

/* The dump of @c is over (done, or its client gone) */
static void
obs_dump_free(struct autopilot_ctl_conn *c)
{
  struct obs_dump *d = c->obs;

  if (!d)
    return;

  obs_dump_close_table(d);
  rfree(d->ev);
  mb_free(d);
  c->obs = NULL;
  c->stall &= ~CTL_STALL_READ;
}

/* Drop the dump and the subscription of @c, if any (connection closed, protocol stopped) */
void
autopilot_obs_free(struct autopilot_ctl_conn *c)
{
  obs_dump_free(c);
  obs_watch_free(c);
}

/* The client has read replies down: go on */
void
autopilot_obs_wake(struct autopilot_ctl_conn *c)
{
  struct obs_dump *d = c->obs;

  if (d)
    ev_schedule(d->ev);
}

/* Open the next table; 0 when all are done */
static int
obs_dump_next_table(struct obs_dump *d)
{
  struct autopilot_proto *p = d->c->p;

  while (d->next_type < ARRAY_SIZE(d->types) && d->types[d->next_type])
  {
    struct channel *ch = obs_channel(p, d->types[d->next_type++]);
    if (!ch || (ch->channel_state != CS_UP))
      continue;

    d->tab = ch->table;
    rt_lock_table(d->tab);
    FIB_ITERATE_INIT(&d->fit, &d->tab->fib);
    d->linked = 1;
    return 1;
  }

  return 0;
}

/*
 * A dump walks the table in hash order, so each net's routes, their
 * attributes and extended attributes are cache misses, one after another:
 * they were half of a dump's CPU. The nets of a window are gathered first
 * and what they point to brought in one level per pass, so the misses
 * overlap, as BGP's receive does (patch 0011). Only reads, within one
 * event round: the table cannot change under the window.
 */
#define OBS_DUMP_WINDOW	32		/* Nets gathered before they are collected */
#define OBS_DUMP_ROUTES	4		/* Routes of each net brought in */

static void
obs_dump_prefetch(net **w, uint n)
{
  rte *r[OBS_DUMP_WINDOW];

  for (uint i = 0; i < n; i++)
    if ((r[i] = w[i]->routes))
      __builtin_prefetch(r[i]);

  for (uint depth = 0; depth < OBS_DUMP_ROUTES; depth++)
    for (uint i = 0; i < n; i++)
      if (r[i])
      {
	__builtin_prefetch(r[i]->attrs);
	if ((r[i] = r[i]->next))
	  __builtin_prefetch(r[i]);
      }

  /* The label's binary search and the fields read touch the list's first lines */
  for (uint i = 0; i < n; i++)
  {
    uint depth = 0;
    for (rte *e = w[i]->routes; e && (depth < OBS_DUMP_ROUTES); e = e->next, depth++)
      if (e->attrs->eattrs)
      {
	__builtin_prefetch(e->attrs->eattrs);
	__builtin_prefetch((byte *) e->attrs->eattrs + 64);
	__builtin_prefetch((byte *) e->attrs->eattrs + 128);
      }
  }
}

/* Collect a window of nets and write their lines */
static void
obs_dump_window(struct obs_dump *d, net **w, uint n, struct autopilot_egress_config *only, struct obs_net *on)
{
  struct autopilot_ctl_conn *c = d->c;

  obs_dump_prefetch(w, n);

  for (uint i = 0; i < n; i++)
  {
    obs_collect(c->p, w[i], on);
    if (!on->count)
      continue;

    uint len = c->out_len;
    js_put(c, "+ {\"prefix\":");
    js_net(c, w[i]->n.addr);
    js_raw(c, ",", 1);
    uint k = js_paths(c, on, only, 0);
    js_put(c, "}");
    js_end(c);

    /* None of that egress: no line */
    if (!k)
      c->out_len = len;
    else
      d->prefixes++, d->paths += k;
  }
}

static void
obs_dump_event(void *data)
{
  struct obs_dump *d = data;
  struct autopilot_ctl_conn *c = d->c;
  struct autopilot_proto *p = c->p;
  struct autopilot_egress_config *only = NULL;
  struct obs_net *on = alloca(sizeof(struct obs_net));
  net *win[OBS_DUMP_WINDOW];
  uint max = OBS_DUMP_SLICE, wn = 0;

  /* The client went away: its dump ends; the connection goes on with the rest */
  if (c->quiet || c->closed)
    goto done;

  /* Looked up every slice: a configure may replace the egress map meanwhile */
  if (d->egress[0] && !(only = autopilot_egress_find(obs_cf(p), d->egress)))
  {
    autopilot_ctl_reply(c, d->tag, "error unknown-egress egress '%s' was removed during the dump", d->egress);
    goto done;
  }

  while (d->tab || obs_dump_next_table(d))
  {
    /* The walk takes the iterator out of the table; PUT puts it back */
    d->linked = 0;
    FIB_ITERATE_START(&d->tab->fib, &d->fit, net, n)
    {
      /* Within the socket's flow control: wait for the client to read */
      if (!max-- || (c->out_len >= CTL_OUT_HIGH))
      {
	obs_dump_window(d, win, wn, only, on);
	FIB_ITERATE_PUT(&d->fit);
	d->linked = 1;
	autopilot_ctl_run(c);

	/* Room left (a slice done, or written at once): next round; else ctl_tx() wakes us */
	if ((c->obs == d) && !c->closed && (c->out_len < CTL_OUT_HIGH))
	  ev_schedule(d->ev);
	return;
      }

      win[wn++] = n;
      if (wn == OBS_DUMP_WINDOW)
      {
	obs_dump_window(d, win, wn, only, on);
	wn = 0;
      }
    }
    FIB_ITERATE_END;

    obs_dump_window(d, win, wn, only, on);
    wn = 0;

    obs_dump_close_table(d);
  }

  btime t = current_time() - d->started;
  js_line(c, d->tag, "ok ");
  js_fmt(c, "{%s\"prefixes\":%u,\"paths\":%u,\"seconds\":%u.%03u", d->watch ? "\"watch\":\"started\",\"snapshot\":{" : "",
	 d->prefixes, d->paths, (uint) (t / 1000000), (uint) ((t % 1000000) / 1000));
  if (d->watch)
    js_fmt(c, "},\"seq\":%lu", d->seq);
  js_put(c, "}");
  js_end(c);

done:
  /* The events buffered meanwhile follow (autopilot_watch_flush(), from ctl_run()) */
  obs_dump_free(c);
  autopilot_ctl_run(c);
}

static struct obs_dump *
obs_dump(struct autopilot_ctl_conn *c, const struct autopilot_request *req)
{
  struct autopilot_proto *p = c->p;
  uint type = req->net.type;

  if (req->target[0] && !autopilot_egress_find(obs_cf(p), req->target))
  {
    autopilot_ctl_reply(c, req->tag, "error unknown-egress no egress '%s' in protocol %s", req->target, p->p.name);
    return NULL;
  }

  /* A family asked for must be there; without one, what there is */
  if (type && !obs_request_channel(c, req->tag, type))
    return NULL;

  struct obs_dump *d = mb_allocz(p->p.pool, sizeof(struct obs_dump));
  d->c = c;
  d->ev = ev_new_init(p->p.pool, obs_dump_event, d);
  d->types[0] = type ?: NET_IP4;
  d->types[1] = type ? 0 : NET_IP6;
  d->started = current_time();
  strcpy(d->egress, req->target);
  strcpy(d->tag, req->tag);

  c->obs = d;
  c->stall |= CTL_STALL_READ;
  ev_schedule(d->ev);
  return d;
}

/*
 *	watch: changes, as events with sequence numbers
 */

#define OBS_WATCH_MAX	(64 << 20)	/* Unread bytes (replies and events) past which a watcher gets resync */
#define OBS_WATCH_SNDBUF (4 << 20)	/* Socket send buffer of a watcher (the kernel doubles it) */
#define OBS_LOG_CHUNK	(1 << 20)	/* Bytes of events in one chunk of the log */

/*
 * Events are written once, into one log for all watchers, and go into each
 * watcher's replies as its client reads them down, a reply buffer's worth
 * at a time. A commit of 100,000 overrides makes 20 MB of events in one
 * event round, before any socket is written: kept per watcher, that was a
 * copy for each, and a bound small enough to multiply by the connections.
 * The log is chunks of whole lines, freed as the slowest active watcher
 * passes them; a watcher falling more than OBS_WATCH_MAX behind lets go of
 * it (resync), so the log never holds more than that and one chunk.
 */
struct obs_log_chunk {
  resource r;				/* In the protocol's pool: freed with it */
  node n;				/* In autopilot_ctl.watch_log, oldest first */
  u64 base;				/* Offset in the event stream of data[0] */
  uint len;				/* Bytes in data: whole event lines */
  uint size;				/* Room in data */
  byte *data;				/* The lines, in pages of their own (below) */
};

/*
 * A chunk's lines are pages mapped for it alone: freed, they go back to the
 * system at once, where malloc() would keep 1 MiB blocks in its heap (its
 * threshold for mapping moves up as mapped blocks are freed), and a
 * watcher's burst would stay in BIRD's RSS after its resync.
 */
static void
obs_log_chunk_free(resource *r)
{
  struct obs_log_chunk *k = (void *) r;

  munmap(k->data, k->size);
}

static void
obs_log_chunk_dump(struct dump_request *dreq, resource *r)
{
  struct obs_log_chunk *k = (void *) r;

  RDUMP("(%u of %u bytes of watch events from %lu)\n", k->len, k->size, k->base);
}

static struct resmem
obs_log_chunk_memsize(resource *r)
{
  struct obs_log_chunk *k = (void *) r;

  return (struct resmem) { .effective = k->size, .overhead = sizeof(struct obs_log_chunk) };
}

static struct resclass obs_log_chunk_class = {
  "Watch events",
  sizeof(struct obs_log_chunk),
  obs_log_chunk_free,
  obs_log_chunk_dump,
  NULL,
  obs_log_chunk_memsize
};

/* The subscription of one connection */
struct obs_watch {
  u64 pos;				/* Offset in the event stream of the next byte it takes */
  char resync[160];			/* Its resync line, not yet in its replies */
  uint resync_len;			/* Bytes in resync, 0 if none */
  u8 active;				/* Events are sent; 0 after a resync, until watch again */
};

/* Bytes of the log active watcher @w has not taken yet */
static inline u64
obs_watch_lag(struct autopilot_proto *p, struct obs_watch *w)
{
  return w->active ? p->ctl.watch_head - w->pos : 0;
}

/* Free the chunks every active watcher has taken */
static void
obs_log_trim(struct autopilot_proto *p)
{
  struct autopilot_ctl_conn *c;
  u64 min = p->ctl.watch_head;

  WALK_LIST(c, p->ctl.conns)
  {
    struct obs_watch *w = c->watch;
    if (!w || !w->active)
      continue;

    /* Nobody reads a client gone: what it has not taken is dropped */
    if (c->quiet || c->closed)
      w->pos = p->ctl.watch_head;
    min = MIN(min, w->pos);
  }

  struct obs_log_chunk *k;
  node *nn, *next;
  WALK_LIST2_DELSAFE(k, nn, next, p->ctl.watch_log, n)
  {
    if (k->base + k->len > min)
      break;
    rem_node(&k->n);
    rfree(k);
  }
}

static void
obs_log_append(struct autopilot_proto *p, const byte *s, uint len)
{
  struct obs_log_chunk *k =
    EMPTY_LIST(p->ctl.watch_log) ? NULL : SKIP_BACK(struct obs_log_chunk, n, TAIL(p->ctl.watch_log));

  if (!k || (k->len + len > k->size))
  {
    uint size = BIRD_ALIGN(MAX(OBS_LOG_CHUNK, len), page_size);
    void *data = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (data == MAP_FAILED)
      die("Autopilot: cannot map %u bytes for watch events: %m", size);

    k = ralloc(p->p.pool, &obs_log_chunk_class);
    k->data = data;
    k->base = p->ctl.watch_head;
    k->len = 0;
    k->size = size;
    add_tail(&p->ctl.watch_log, &k->n);
  }

  memcpy(k->data + k->len, s, len);
  k->len += len;
  p->ctl.watch_head += len;
}

static void
obs_watch_free(struct autopilot_ctl_conn *c)
{
  struct obs_watch *w = c->watch;

  if (!w)
    return;

  if (w->active)
    c->p->metrics.watchers--;
  mb_free(w);
  c->watch = NULL;
  obs_log_trim(c->p);
}

static void
obs_watch_reply(struct autopilot_ctl_conn *c, const char *tag, const char *what, u64 seq)
{
  js_line(c, tag, "ok ");
  js_fmt(c, "{\"watch\":\"%s\",\"seq\":%lu}", what, seq);
  js_end(c);
}

/**
 * autopilot_watch_flush - move a watcher's new events into its replies
 * @c: the connection
 *
 * Called by the socket before it answers each request line, and whenever it
 * runs: events and replies stay in the order they happened. Events wait
 * while a dump streams on the connection (a snapshot's come after it) and
 * while the client has not read its replies down (they count towards the
 * bound meanwhile). They go in whole lines, until the replies reach
 * CTL_OUT_HIGH: then the socket reads no request until they are written,
 * so a reply never overtakes an event before it.
 */
void
autopilot_watch_flush(struct autopilot_ctl_conn *c)
{
  struct autopilot_proto *p = c->p;
  struct obs_watch *w = c->watch;

  if (!w || (!w->resync_len && !obs_watch_lag(p, w)))
    return;

  if (c->quiet)
  {
    w->resync_len = 0;
    obs_log_trim(p);
    return;
  }

  if (c->obs || (c->out_len >= CTL_OUT_HIGH))
    return;

  /* A resync line is ahead of the events of a watch sent after it */
  if (w->resync_len)
  {
    js_raw(c, w->resync, w->resync_len);
    w->resync_len = 0;
  }

  struct obs_log_chunk *k;
  node *nn;
  WALK_LIST2(k, nn, p->ctl.watch_log, n)
  {
    if ((c->out_len >= CTL_OUT_HIGH) || !obs_watch_lag(p, w))
      break;
    if (k->base + k->len <= w->pos)
      continue;

    byte *from = k->data + (w->pos - k->base);
    uint n = k->base + k->len - w->pos, room = CTL_OUT_HIGH - c->out_len;
    if (n > room)
    {
      byte *nl = memchr(from + room, '\n', n - room);
      if (!nl)
	bug("Autopilot: event log chunk ends within a line");
      n = nl + 1 - from;
    }

    js_raw(c, (char *) from, n);
    w->pos += n;
  }

  obs_log_trim(p);
}

/**
 * autopilot_watch_waiting - would autopilot_watch_flush() move events now
 * @c: the connection
 *
 * Events that waited while the client had many replies unread: once the
 * socket has written them all at once, nothing else makes the connection
 * run again for them (after a resync, no event ever comes again), so the
 * socket asks.
 */
int
autopilot_watch_waiting(struct autopilot_ctl_conn *c)
{
  struct obs_watch *w = c->watch;

  return w && (w->resync_len || obs_watch_lag(c->p, w)) && !c->quiet && !c->obs && (c->out_len < CTL_OUT_HIGH);
}

static void
obs_watch_event(void *data)
{
  struct autopilot_proto *p = data;
  struct autopilot_ctl_conn *c;

  WALK_LIST(c, p->ctl.conns)
    if (c->watch && (c->watch->resync_len || obs_watch_lag(p, c->watch)) && !c->closed)
      autopilot_ctl_run(c);
}

/* Start an event: "+ {"seq":N,"event":"TYPE"" in the scratch buffer; NULL when nobody watches */
static struct autopilot_ctl_conn *
obs_event_start(struct autopilot_proto *p, const char *type)
{
  /* Nobody watches: no event, no number (and no scratch buffer before the first watch) */
  if (!p->metrics.watchers || !p->ctl.watch_js)
    return NULL;

  struct autopilot_ctl_conn *j = p->ctl.watch_js;
  j->out_len = 0;
  js_put(j, "+ {\"seq\":");
  js_uint(j, ++p->ctl.watch_seq);
  js_put(j, ",\"event\":\"");
  js_put(j, type);
  js_raw(j, "\"", 1);
  return j;
}

/* The event in the scratch buffer, ended, to every watcher; past its bound one gets resync instead */
static void
obs_event_end(struct autopilot_proto *p)
{
  struct autopilot_ctl_conn *j = p->ctl.watch_js, *c;

  js_put(j, "}\n");

  u64 head = p->ctl.watch_head;
  int kept = 0, dropped = 0;

  WALK_LIST(c, p->ctl.conns)
  {
    struct obs_watch *w = c->watch;
    if (!w || !w->active || c->closed)
      continue;

    /* Gone: nobody reads (ctl_flush() drops its replies too) */
    if (c->quiet)
      continue;

    u64 lag = head - w->pos;
    if ((u64) c->out_len + lag + j->out_len <= OBS_WATCH_MAX)
    {
      kept = 1;
      continue;
    }

    /* Fallen behind: its backlog of events goes, one line says so, and no more come */
    w->resync_len = bsnprintf(w->resync, sizeof(w->resync),
			      "+ {\"seq\":%lu,\"event\":\"resync\",\"reason\":\"more than %u bytes unread\",\"bytes_dropped\":%lu}\n",
			      p->ctl.watch_seq, OBS_WATCH_MAX, lag + j->out_len);
    w->active = 0;
    dropped = 1;
    p->metrics.watchers--;
    p->metrics.watch_resyncs++;
    log(L_WARN "%s: Controller #%u fell behind its watch (%lu bytes unread): resync", p->p.name, c->id,
	(u64) c->out_len + lag);
  }

  if (kept)
    obs_log_append(p, j->out, j->out_len);
  if (dropped)
    obs_log_trim(p);

  /*
   * Scheduled once: ev_schedule() of an event already queued moves it to the
   * next round, and a table's prune (a slice per round) would then push it
   * on for as long as it runs, every event queued and none sent.
   */
  if (!ev_active(p->ctl.watch_ev))
    ev_schedule(p->ctl.watch_ev);
}

/**
 * autopilot_watch_path - a path of a watched table changed
 * @p: autopilot instance
 * @n: its prefix, the table already changed
 * @new: the path now, or NULL if it went
 * @old: the path before, or NULL if it is new
 *
 * From rt_notify of the watched channels (RA_ANY): every path change.
 */
void
autopilot_watch_path(struct autopilot_proto *p, net *n, rte *new, rte *old)
{
  struct autopilot_ctl_conn *j = obs_event_start(p, "path");
  if (!j)
    return;

  struct obs_path op, best;
  rte *r = new ?: old;
  rte *b = (n->routes && rte_is_valid(n->routes)) ? n->routes : NULL;

  obs_path_of(p, r, &op);
  if (b)
    obs_path_of(p, b, &best);

  js_put(j, !old ? ",\"action\":\"add\",\"prefix\":" : !new ? ",\"action\":\"remove\",\"prefix\":" :
	 ",\"action\":\"change\",\"prefix\":");
  js_net(j, n->n.addr);
  js_put(j, ",\"egress\":");
  js_str_or_null(j, op.egress ? op.egress->name : NULL);
  js_put(j, ",\"best_egress\":");
  js_str_or_null(j, (b && best.egress) ? best.egress->name : NULL);
  js_put(j, ",\"path\":");
  js_put(j, (new && (new == b)) ? "{\"best\":true," : "{\"best\":false,");
  js_path_fields(j, &op, current_time(), !!new);
  obs_event_end(p);
}

/**
 * autopilot_watch_session - an egress's BGP session went up or down
 * @p: autopilot instance
 * @e: the egress
 * @up: 1 if it came up
 *
 * From BGP's session hook: before the table loses the session's paths,
 * whose removals follow as path events.
 */
void
autopilot_watch_session(struct autopilot_proto *p, struct autopilot_egress_config *e, int up)
{
  struct autopilot_ctl_conn *j = obs_event_start(p, "session");
  if (!j)
    return;

  struct bgp_proto *bp = autopilot_egress_bgp(e);
  js_put(j, ",\"egress\":");
  js_str(j, e->name);
  js_put(j, ",\"protocol\":");
  js_str_or_null(j, bp ? bp->p.name : NULL);
  js_fmt(j, ",\"session\":\"%s\",\"label\":%u,\"pp_label\":%u", up ? "up" : "down", e->label, e->pp_label);
  obs_event_end(p);
}

static const char *
obs_ovr_state_name(int state)
{
  return (state < 0) ? "none" : (state >= AP_OVR_STATES) ? "removed" : autopilot_ovr_state_names[state];
}

/**
 * autopilot_watch_override - an override changed state
 * @p: autopilot instance
 * @o: the override
 * @old_state: its state before, -1 if it is new
 * @old_via: the label of the egress it copied before
 * @new_state: its state now, AP_OVR_STATES if it is gone
 *
 * An event only when the state, or an active override's egress, changed.
 */
void
autopilot_watch_override(struct autopilot_proto *p, struct autopilot_override *o, int old_state, u32 old_via,
			 int new_state)
{
  int resolved = (new_state == AP_OVR_ACTIVE) || (new_state == AP_OVR_SHADOW);

  if ((old_state == new_state) && (!resolved || (old_via == o->via_label)))
    return;

  struct autopilot_ctl_conn *j = obs_event_start(p, "override");
  if (!j)
    return;

  struct autopilot_egress_config *via = resolved ? obs_egress_of_label(p, o->via_label) : NULL;
  js_fmt(j, ",\"prefix\":\"%N\",\"old\":\"%s\",\"new\":\"%s\",\"target\":", &o->net,
	 obs_ovr_state_name(old_state), obs_ovr_state_name(new_state));
  js_str(j, o->target ?: AUTOPILOT_NEXT_BEST);
  js_put(j, ",\"via\":");
  js_str_or_null(j, via ? via->name : NULL);
  js_put(j, ",\"via_label\":");
  js_label(j, via ? o->via_label : AUTOPILOT_NO_LABEL);
  js_put(j, ",\"path_of\":");
  net_addr_ip6 src = autopilot_ovr_src(o);
  if (resolved)
    js_fmt(j, "\"%N\"", &src);
  else
    js_put(j, "null");
  js_put(j, ",\"why_pending\":");
  js_str_or_null(j, (new_state == AP_OVR_PENDING) ? (autopilot_ovr_why(o) ?: "not resolved yet") : NULL);
  obs_event_end(p);
}

/* A new protocol run: no watcher yet (the old run's pool went with everything) */
void
autopilot_watch_start(struct autopilot_proto *p)
{
  p->ctl.watch_seq = 0;
  p->ctl.watch_js = NULL;
  p->ctl.watch_ev = NULL;
  init_list(&p->ctl.watch_log);
  p->ctl.watch_head = 0;
  p->metrics.watchers = 0;
}

static void
obs_watch(struct autopilot_ctl_conn *c, const struct autopilot_request *req)
{
  struct autopilot_proto *p = c->p;
  struct obs_watch *w = c->watch;

  if (w && w->active)
  {
    autopilot_ctl_reply(c, req->tag, "error bad-request already watching (unwatch first)");
    return;
  }

  if (!p->ctl.watch_js)
  {
    struct autopilot_ctl_conn *j = mb_allocz(p->p.pool, sizeof(struct autopilot_ctl_conn));
    j->p = p;
    j->out_size = 4096;
    j->out = mb_alloc(p->p.pool, j->out_size);
    p->ctl.watch_js = j;
    p->ctl.watch_ev = ev_new_init(p->p.pool, obs_watch_event, p);
  }

  /* The snapshot first: as a dump, which may refuse (a family not up) */
  struct obs_dump *d = NULL;
  if (req->snapshot)
  {
    struct autopilot_request dr = { .op = AP_OP_DUMP };
    strcpy(dr.tag, req->tag);
    if (!(d = obs_dump(c, &dr)))
      return;
    d->watch = 1;
    d->seq = p->ctl.watch_seq;
  }

  if (!w)
    w = c->watch = mb_allocz(p->p.pool, sizeof(struct obs_watch));
  w->pos = p->ctl.watch_head;

  /*
   * A table's worth of events comes in slices of the table's prune (2000
   * paths, ~500 KB of events) per event round, and the socket takes one
   * send buffer per round: the default (~200 KB) would let a watcher that
   * keeps up fall behind anyway. Forced (CAP_NET_ADMIN, which BIRD has)
   * past the sysctl's limit; kernel memory, bounded as ours is.
   */
  int sndbuf = OBS_WATCH_SNDBUF;
  if (setsockopt(c->sk->fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)) < 0)
    setsockopt(c->sk->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));

  /* After a resync: the resync line stays ahead of what comes now */
  w->active = 1;
  p->metrics.watchers++;

  if (!d)
    obs_watch_reply(c, req->tag, "started", p->ctl.watch_seq);
}

static void
obs_unwatch(struct autopilot_ctl_conn *c, const struct autopilot_request *req)
{
  struct autopilot_proto *p = c->p;
  struct obs_watch *w = c->watch;

  if (!w || !w->active)
  {
    autopilot_ctl_reply(c, req->tag, "error bad-request not watching%s", w ? " (the watch ended with a resync)" : "");
    return;
  }

  /* Its events so far go first (the socket flushed them before this line) */
  w->active = 0;
  p->metrics.watchers--;
  obs_log_trim(p);
  obs_watch_reply(c, req->tag, "stopped", p->ctl.watch_seq);
}

/**
 * autopilot_obs_request - answer a read request of the controller socket
 * @c: the connection
 * @req: a parsed paths, egresses or dump request
 *
 * Read requests change nothing. Their replies are JSON lines (see the DOC
 * above); errors are the socket's usual "error CODE message" lines.
 */
void
autopilot_obs_request(struct autopilot_ctl_conn *c, const struct autopilot_request *req)
{
  /* Written even when nobody reads (ctl_flush() drops it): executed and counted like any request */
  switch (req->op)
  {
  case AP_OP_PATHS:
    obs_paths(c, req);
    break;

  case AP_OP_EGRESSES:
    obs_egresses(c, req);
    break;

  case AP_OP_DUMP:
    obs_dump(c, req);
    break;

  case AP_OP_WATCH:
    obs_watch(c, req);
    break;

  case AP_OP_UNWATCH:
    obs_unwatch(c, req);
    break;

  default:
    bug("Autopilot: request %u is no read request", req->op);
  }
}


/*
 *	birdc: show autopilot NAME paths PREFIX
 */

/* "(65000, 1) (65000, 2)": communities as show route prints them */
static const char *
obs_cli_sets(rte *r, uint code)
{
  eattr *a = autopilot_rt_attr(r, code);
  if (!a || !a->u.ptr->length)
    return NULL;

  byte *buf = tmp_alloc(a->u.ptr->length * 8 + 64);
  if (code == BA_COMMUNITY)
    int_set_format(a->u.ptr, ISF_COMMUNITY_LIST, -1, buf, a->u.ptr->length * 8 + 64);
  else if (code == BA_LARGE_COMMUNITY)
    lc_set_format(a->u.ptr, -1, buf, a->u.ptr->length * 8 + 64);
  else
    ec_set_format(a->u.ptr, -1, buf, a->u.ptr->length * 8 + 64);
  return (char *) buf;
}

static char *
obs_cli_label(u32 label)
{
  return (label == AUTOPILOT_NO_LABEL) ? "-" : tmp_sprintf("%u", label);
}

static void
obs_cli_net(struct autopilot_proto *p, const net_addr *a, struct obs_net *on, btime now)
{
  for (uint i = 0; i < on->count; i++)
  {
    struct obs_path *op = &on->paths[i];
    rte *r = op->r;
    rta *at = r->attrs;
    eattr *e;
    byte path[1024] = "";

    if (e = bgp_find_attr(at->eattrs, BA_AS_PATH))
      as_path_format(e->u.ptr, path, sizeof(path));

    static const char *origins[] = { "IGP", "EGP", "Incomplete" };
    eattr *origin = bgp_find_attr(at->eattrs, BA_ORIGIN);
    eattr *lp = bgp_find_attr(at->eattrs, BA_LOCAL_PREF);
    eattr *med = bgp_find_attr(at->eattrs, BA_MULTI_EXIT_DISC);

    cli_msg(-AUTOPILOT_REPLY_PATHS, "%-20s #%-2u %s %-12s egress %-12s label %-7s pp label %s%s",
	    i ? "" : tmp_sprintf("%N", a), i + 1, (r == on->n->routes) ? "*" : " ", r->src->proto->name,
	    op->egress ? op->egress->name : "-", obs_cli_label(op->label),
	    obs_cli_label(op->egress ? op->egress->pp_label : AUTOPILOT_NO_LABEL),
	    op->copy ? " [override copy]" : "");

    if ((at->dest == RTD_UNICAST) && ipa_nonzero(at->nh.gw))
      cli_msg(-AUTOPILOT_REPLY_PATHS, "\tvia %I on %s, age %s", at->nh.gw, at->nh.iface ? at->nh.iface->name : "?",
	      autopilot_span(now - r->lastmod));
    else
      cli_msg(-AUTOPILOT_REPLY_PATHS, "\t%s, age %s", rta_dest_name(at->dest), autopilot_span(now - r->lastmod));

    cli_msg(-AUTOPILOT_REPLY_PATHS, "\tpreference %u, AS path [%s], origin %s, local pref %s, MED %s", at->pref, path,
	    origin ? ((origin->u.data <= 2) ? origins[origin->u.data] : "?") : "-",
	    lp ? tmp_sprintf("%u", lp->u.data) : "-", med ? tmp_sprintf("%u", med->u.data) : "-");

    const char *s;
    if (s = obs_cli_sets(r, BA_COMMUNITY))
      cli_msg(-AUTOPILOT_REPLY_PATHS, "\tcommunities: %s", s);
    if (s = obs_cli_sets(r, BA_LARGE_COMMUNITY))
      cli_msg(-AUTOPILOT_REPLY_PATHS, "\tlarge communities: %s", s);
    if (s = obs_cli_sets(r, BA_EXT_COMMUNITY))
      cli_msg(-AUTOPILOT_REPLY_PATHS, "\text communities: %s", s);
  }

  if (on->more)
    cli_msg(-AUTOPILOT_REPLY_PATHS, "\t... and %u more paths, not listed", on->more);
}

/**
 * autopilot_cmd_show_paths - birdc "show autopilot NAME paths PREFIX"
 * @sym: protocol, or NULL for the only one
 * @a: the prefix
 *
 * The facts of the socket's "paths" request, in the words and layout of
 * "show route" and "show autopilot overrides".
 */
void
autopilot_cmd_show_paths(struct symbol *sym, const net_addr *a)
{
  struct autopilot_proto *p = autopilot_show_proto(sym);
  if (!p)
    return;

  struct channel *ch = obs_channel(p, a->type);
  if (!ch || (ch->channel_state != CS_UP))
  {
    cli_msg(8100, "%s: %s %s channel", p->p.name, ch ? "not up:" : "no", (a->type == NET_IP4) ? "ipv4" : "ipv6");
    return;
  }

  btime now = current_time();
  struct obs_net *on = alloca(sizeof(struct obs_net));
  obs_collect(p, net_find(ch->table, a), on);

  cli_msg(-AUTOPILOT_REPLY_PATHS, "%s: %N in table %s: %u path%s%s", p->p.name, a, ch->table->name,
	  on->count + on->more, (on->count + on->more == 1) ? "" : "s",
	  on->count ? ", best first (rank in BGP's order)" : "");
  obs_cli_net(p, a, on, now);

  struct autopilot_override *o = autopilot_ovr_find(p, a);
  if (o && !o->deleted)
  {
    struct autopilot_egress_config *via = (o->state != AP_OVR_PENDING) ? obs_egress_of_label(p, o->via_label) : NULL;
    net_addr_ip6 src = autopilot_ovr_src(o);
    cli_msg(-AUTOPILOT_REPLY_PATHS, "Override: -> %s, %s%s%s%s, source %s%s%s%s",
	    o->target ?: AUTOPILOT_NEXT_BEST, autopilot_ovr_state_names[o->state],
	    via ? tmp_sprintf(", via %s (%u)", via->name, o->via_label) : "",
	    (o->state != AP_OVR_PENDING) ? tmp_sprintf(", path of %N", &src) : "",
	    (o->state == AP_OVR_PENDING) ? tmp_sprintf(": %s", autopilot_ovr_why(o) ?: "not resolved yet") : "",
	    autopilot_source_names[o->source],
	    o->reason ? ", reason \"" : "", o->reason ?: "", o->reason ? "\"" : "");
  }
  else
    cli_msg(-AUTOPILOT_REPLY_PATHS, "Override: none");

  net_addr_ip6 cover;
  net *cn = autopilot_ovr_cover(p, ch, (const net_addr_ip6 *) a, &cover);
  if (cn && !net_equal((net_addr *) &cover, a))
  {
    obs_collect(p, cn, on);
    cli_msg(-AUTOPILOT_REPLY_PATHS, "An override of %N would copy a path of the covering %N: %u path%s",
	    a, &cover, on->count + on->more, (on->count + on->more == 1) ? "" : "s");
    obs_cli_net(p, (net_addr *) &cover, on, now);
  }
  else if (!cn)
    cli_msg(-AUTOPILOT_REPLY_PATHS, "No path for %N nor for a covering prefix: an override would be pending", a);

  cli_msg(0, "");
}
