/*
 *	bird-autopilot unit tests -- the override store and the state file
 *
 *	(c) 2026 bird-autopilot developers
 *
 *	Can be freely distributed and used under the terms of the GNU GPL.
 */

/*
 * The protocol runs in process on a real routing table. Paths of the two
 * egresses are put into the table as BGP would put them: attributes tagged
 * by the registered BGP hooks, the route's source the egress's BGP
 * protocol; a static protocol's channel carries them in (the egress
 * sessions stay disabled: we need their instances, not connections).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "harness.h"

#include "nest/route.h"
#include "nest/attrs.h"
#include "lib/resource.h"
#include "lib/string.h"
#include "lib/timer.h"
#include "proto/bgp/bgp.h"
#include "proto/autopilot/autopilot.h"

#define BASE \
  "router id 192.0.2.1;\n" \
  "protocol device {}\n" \
  "protocol bgp t1 { disabled; local 10.0.1.1 as 65000; neighbor 10.0.1.2 as 64501; ipv4 { import all; export none; }; }\n" \
  "protocol bgp t2 { disabled; local 10.0.2.1 as 65000; neighbor 10.0.2.2 as 64502; ipv4 { import all; export none; }; }\n" \
  "protocol static feed { ipv4; }\n"

static char dir[64];			/* Per-run directory of the state file */
static char file[128];			/* The state file */
static struct autopilot_proto *p;	/* The running protocol */
static linpool *lp;

/* A config with protocol ap holding @opts, or without it if @opts is NULL */
#define conf(opts) ap_conf(BASE, (opts))

/* Start protocol ap with @opts (more lines for its body) */
#define start(opts) (p = ap_start(BASE, (opts)))

static net_addr
prefix(const char *s)
{
  net_addr n;				/* Room for any net: a net_addr is returned whole */
  struct autopilot_error err;
  if (autopilot_parse_prefix(s, (net_addr_ip6 *) &n, &err) < 0)
    fail_msg("bad prefix %s: %s", s, err.msg);
  return n;
}

/* Paths put in and not withdrawn, withdrawn by teardown */
static struct { const char *egress, *px; } paths[64];
static uint npaths;

/* Egress @egress announces (@as_len AS hops) or withdraws (0) its path for @px */
static void
path(const char *egress, const char *px, uint as_len)
{
  uint i;
  for (i = 0; (i < npaths) && (strcmp(paths[i].egress, egress) || strcmp(paths[i].px, px)); i++)
    ;
  if (as_len && (i == npaths))
    paths[npaths++] = (typeof(paths[0])) { egress, px };
  else if (!as_len && (i < npaths))
    paths[i] = paths[--npaths];

  struct bgp_proto *bp = (void *) ap_find_proto(egress);
  struct proto *feed = ap_find_proto("feed");
  struct channel *c = HEAD(feed->channels);
  struct rte_src *src = rt_get_source(&bp->p, 0);
  net_addr n = prefix(px);

  if (!as_len)
  {
    rte_update2(c, &n, NULL, src);
    ap_run_events();
    return;
  }

  rta *a = lp_allocz(lp, RTA_MAX_SIZE);
  a->source = RTS_BGP;
  a->scope = SCOPE_UNIVERSE;
  a->dest = RTD_BLACKHOLE;
  a->pref = 100;

  /* An AS path of @as_len hops, as received */
  byte seg[2 + 4 * 8] = { AS_PATH_SEQUENCE, as_len };
  for (uint i = 0; i < as_len; i++)
    put_u32(seg + 2 + 4 * i, bp->remote_as ?: bp->cf->remote_as);
  struct adata *ad = lp_alloc_adata(lp, 2 + 4 * as_len);
  memcpy(ad->data, seg, ad->length);
  bgp_set_attr_ptr(&a->eattrs, lp, BA_AS_PATH, 0, ad);
  bgp_set_attr_u32(&a->eattrs, lp, BA_ORIGIN, 0, ORIGIN_IGP);

  /* BGP's receive path tags the attributes through the hooks */
  struct bgp_hooks *h;
  WALK_LIST(h, bgp_hooks)
    if (h->rx_attrs)
      h->rx_attrs(bp, (void *) HEAD(bp->p.channels), a, lp);

  rte *e = rte_get_temp(a, src);
  e->pflags = 0;
  rte_update2(c, &n, e, src);
  ap_run_events();
}

/* Our own route (the override copy) in master4 for @px, or NULL */
static rte *
copy_of(const char *px)
{
  net_addr n = prefix(px);
  return ap_route_of(&p->p, &n);
}

static struct autopilot_override *
ovr(const char *px)
{
  net_addr n = prefix(px);
  return autopilot_ovr_find(p, &n);
}

/* Add an override as a front end would; returns 0 or -1 with the error in @err */
static int
add(const char *line, struct autopilot_error *err)
{
  struct autopilot_request req;
  if (autopilot_request_parse(line, current_real_time(), &req, err, lp) < 0)
    fail_msg("bad request %s: %s", line, err->msg);
  int rv = autopilot_ovr_add(p, &req, AP_SRC_CLI, err);
  ap_run_events();
  return rv;
}

static void
add_ok(const char *line)
{
  struct autopilot_error err;
  if (add(line, &err) < 0)
    fail_msg("%s refused: %s", line, err.msg);
}

static int
setup(void **state UNUSED)
{
  lp = lp_new_default(&root_pool);
  ap_mkdir(dir, sizeof(dir), "store");
  bsnprintf(file, sizeof(file), "%s/ap.state", dir);
  return 0;
}

static int
teardown(void **state UNUSED)
{
  /*
   * The paths' source is an egress's BGP protocol, not the feed: withdraw
   * them while it exists, as BGP would before its protocol goes (a route
   * must not outlive the protocol of its source).
   */
  while (npaths)
    path(paths[npaths - 1].egress, paths[npaths - 1].px, 0);

  ap_configure("router id 192.0.2.1;\nprotocol device {}\n");
  p = NULL;
  rfree(lp);
  ap_rmdir(dir);
  return 0;
}

static void
copy_follows_the_target_path(void **state UNUSED)
{
  start("");
  path("t1", "203.0.113.0/24", 1);
  path("t2", "203.0.113.0/24", 2);
  add_ok("add 203.0.113.0/24 t2");

  struct autopilot_override *o = ovr("203.0.113.0/24");
  assert_non_null(o);
  assert_int_equal(o->state, AP_OVR_ACTIVE);
  assert_int_equal(o->via_label, 1002);
  rte *c = copy_of("203.0.113.0/24");
  assert_non_null(c);
  assert_int_equal(ea_get_int(c->attrs->eattrs, EA_MPLS_LABEL, 0), 1002);
  /* The copy wins in the table: hosts get the target's label */
  assert_ptr_equal(c->net->routes, c);

  /* The target's path goes: the copy goes, the override waits for it */
  path("t2", "203.0.113.0/24", 0);
  assert_int_equal(o->state, AP_OVR_PENDING);
  assert_string_equal(autopilot_ovr_why(o), "no path from the target egress");
  assert_null(copy_of("203.0.113.0/24"));

  path("t2", "203.0.113.0/24", 3);
  assert_int_equal(o->state, AP_OVR_ACTIVE);
  assert_non_null(copy_of("203.0.113.0/24"));

  /* Withdrawn: the copy goes, BGP's best is back */
  struct autopilot_error err;
  net_addr n = prefix("203.0.113.0/24");
  assert_int_equal(autopilot_ovr_withdraw(p, &n, &err), 0);
  ap_run_events();
  assert_null(ovr("203.0.113.0/24"));
  assert_null(copy_of("203.0.113.0/24"));
  assert_int_equal(autopilot_ovr_count(p), 0);
}

static void
covering_prefix_until_the_prefix_has_paths(void **state UNUSED)
{
  start("");
  path("t1", "203.0.113.0/24", 1);
  path("t2", "203.0.113.0/24", 2);
  add_ok("add 203.0.113.128/25 t2");

  struct autopilot_override *o = ovr("203.0.113.128/25");
  assert_int_equal(o->state, AP_OVR_ACTIVE);
  assert_int_equal(o->src_len, 24);
  assert_non_null(copy_of("203.0.113.128/25"));

  /* The /25 gets paths of its own, none of t2: t2's covering path no longer counts */
  path("t1", "203.0.113.128/25", 1);
  assert_int_equal(o->state, AP_OVR_PENDING);
  assert_null(copy_of("203.0.113.128/25"));

  path("t2", "203.0.113.128/25", 1);
  assert_int_equal(o->state, AP_OVR_ACTIVE);
  assert_int_equal(o->src_len, 25);
}

static void
next_best_is_another_egress(void **state UNUSED)
{
  start("");
  path("t1", "198.51.100.0/24", 1);	/* BGP's best: the shorter AS path */
  path("t2", "198.51.100.0/24", 3);
  add_ok("add 198.51.100.0/24 next-best");
  assert_int_equal(ovr("198.51.100.0/24")->via_label, 1002);

  /* The best changes egress: next-best follows */
  path("t2", "198.51.100.0/24", 1);
  path("t1", "198.51.100.0/24", 4);
  assert_int_equal(ovr("198.51.100.0/24")->state, AP_OVR_ACTIVE);
  assert_int_equal(ovr("198.51.100.0/24")->via_label, 1001);

  /* One egress left: nowhere to go */
  path("t1", "198.51.100.0/24", 0);
  assert_int_equal(ovr("198.51.100.0/24")->state, AP_OVR_PENDING);
  assert_string_equal(autopilot_ovr_why(ovr("198.51.100.0/24")), "no path from another egress");
}

static void
limit_refuses_new_prefixes_only(void **state UNUSED)
{
  struct autopilot_error err;
  start("  max overrides 2;\n");
  add_ok("add 192.0.2.0/24 t1");
  add_ok("add 192.0.3.0/24 t1");
  assert_int_equal(add("add 192.0.4.0/24 t1", &err), -1);
  assert_string_equal(err.code, "over-limit");
  assert_string_equal(err.msg, "2 overrides, the limit is 2");
  assert_null(ovr("192.0.4.0/24"));
  /* Replacing one at the limit is no new override */
  add_ok("add 192.0.3.0/24 t2");
  assert_string_equal(ovr("192.0.3.0/24")->target, "t2");
  assert_int_equal(autopilot_ovr_count(p), 2);
}

static void
unknown_target_is_refused(void **state UNUSED)
{
  struct autopilot_error err;
  start("");
  assert_int_equal(add("add 192.0.2.0/24 nosuch", &err), -1);
  assert_string_equal(err.code, "unknown-egress");
  assert_string_equal(err.msg, "no egress 'nosuch' in protocol ap");
  assert_int_equal(autopilot_ovr_count(p), 0);
}

/*
 * An override with an expiry goes at that time, by the store's timer (a
 * real-time clock): its copy with it, counted as expired; one without
 * stays. The request is parsed as if half a second earlier, so "expires 1"
 * falls due half a second from now instead of a second.
 */
static void
expiry_removes_at_its_time(void **state UNUSED)
{
  struct autopilot_request req;
  struct autopilot_error err;

  start("");
  path("t1", "203.0.113.0/24", 1);
  path("t2", "203.0.113.0/24", 2);
  path("t2", "198.51.100.0/24", 2);
  add_ok("add 198.51.100.0/24 t2");
  assert_int_equal(autopilot_request_parse("add 203.0.113.0/24 t2 expires 1",
					   current_real_time() - 500 MS, &req, &err, lp), 0);
  assert_int_equal(autopilot_ovr_add(p, &req, AP_SRC_CLI, &err), 0);
  ap_run_events();
  assert_non_null(copy_of("203.0.113.0/24"));

  /* Before its time the tick leaves it */
  tm_start(p->store.timer, 0);
  timers_fire(&main_timeloop);
  ap_run_events();
  assert_non_null(ovr("203.0.113.0/24"));

  usleep(600000);
  times_update(&main_timeloop);
  tm_start(p->store.timer, 0);
  timers_fire(&main_timeloop);
  ap_run_events();
  assert_null(ovr("203.0.113.0/24"));
  assert_null(copy_of("203.0.113.0/24"));
  assert_int_equal(p->store.expired, 1);
  assert_int_equal(autopilot_ovr_count(p), 1);
  assert_non_null(copy_of("198.51.100.0/24"));

  /* An expiry already past is refused, and changes nothing */
  assert_int_equal(autopilot_request_parse("add 203.0.113.0/24 t2 expires 1",
					   current_real_time() - 2 S, &req, &err, lp), 0);
  assert_int_equal(autopilot_ovr_add(p, &req, AP_SRC_CLI, &err), -1);
  assert_string_equal(err.code, "expired");
  assert_int_equal(autopilot_ovr_count(p), 1);
}

static void
shadow_resolves_but_originates_nothing(void **state UNUSED)
{
  start("  shadow on;\n");
  path("t1", "203.0.113.0/24", 1);
  path("t2", "203.0.113.0/24", 2);
  add_ok("add 203.0.113.0/24 t2");
  assert_int_equal(ovr("203.0.113.0/24")->state, AP_OVR_SHADOW);
  assert_int_equal(ovr("203.0.113.0/24")->via_label, 1002);
  assert_null(copy_of("203.0.113.0/24"));

  /*
   * Shadow off in place: the same override goes active. The disabled
   * egress protocols here are made anew by every reconfiguration (BIRD
   * restarts protocols that are down), so their paths go before and come
   * back after it, as a real session's would be there throughout.
   */
  struct autopilot_override *o = ovr("203.0.113.0/24");
  path("t1", "203.0.113.0/24", 0);
  path("t2", "203.0.113.0/24", 0);
  ap_configure(conf(""));
  assert_ptr_equal(ap_find_proto("ap"), &p->p);
  assert_ptr_equal(ovr("203.0.113.0/24"), o);
  path("t1", "203.0.113.0/24", 1);
  path("t2", "203.0.113.0/24", 2);
  assert_int_equal(o->state, AP_OVR_ACTIVE);
  assert_non_null(copy_of("203.0.113.0/24"));
}

/* BGP's session hook, as BGP calls it when @egress leaves Established (0) or reaches it (1) */
static void
session(const char *egress, int up)
{
  struct bgp_proto *bp = (void *) ap_find_proto(egress);
  struct bgp_hooks *h;
  WALK_LIST(h, bgp_hooks)
    if (h->session)
      h->session(bp, up);
  ap_run_events();
}

/* Paths of @egress for @px in master4 */
static uint
paths_of(const char *egress, const char *px)
{
  net_addr n = prefix(px);
  net *nt = net_find(ap_feed_table(), &n);
  uint k = 0;
  for (rte *r = nt ? nt->routes : NULL; r; r = r->next)
    k += (r->src->proto == ap_find_proto(egress));
  return k;
}

/*
 * An egress session going down takes every copy of its paths in the round
 * BGP tells of it, before BIRD prunes a single one of its paths (here they
 * stay until withdrawn, as a table of a million prunes for a second): the
 * overrides of that egress go pending without a table lookup (lost), a
 * next-best one via it is resolved again, those of other egresses stay.
 * The session and its paths back, the copies come back.
 */
static void
egress_loss_takes_copies_before_its_paths(void **state UNUSED)
{
  start("");
  path("t1", "203.0.113.0/24", 1);
  path("t2", "203.0.113.0/24", 2);
  path("t1", "198.51.100.0/24", 1);
  path("t2", "198.51.100.0/24", 2);
  path("t1", "192.0.2.0/24", 1);
  path("t2", "192.0.2.0/24", 2);
  add_ok("add 203.0.113.0/24 t2");
  add_ok("add 198.51.100.0/24 t1");
  add_ok("add 192.0.2.0/24 next-best");	/* BGP's best is t1's: via t2 */
  assert_int_equal(ovr("192.0.2.0/24")->via_label, 1002);
  assert_non_null(copy_of("203.0.113.0/24"));
  assert_non_null(copy_of("192.0.2.0/24"));

  session("t2", 0);
  assert_int_equal(paths_of("t2", "203.0.113.0/24"), 1);	/* not pruned yet */
  assert_int_equal(ovr("203.0.113.0/24")->state, AP_OVR_PENDING);
  assert_true(ovr("203.0.113.0/24")->lost);
  assert_string_equal(autopilot_ovr_why(ovr("203.0.113.0/24")), "no path from the target egress");
  assert_null(copy_of("203.0.113.0/24"));
  assert_int_equal(ovr("192.0.2.0/24")->state, AP_OVR_PENDING);
  assert_string_equal(autopilot_ovr_why(ovr("192.0.2.0/24")), "no path from another egress");
  assert_null(copy_of("192.0.2.0/24"));
  assert_int_equal(ovr("198.51.100.0/24")->state, AP_OVR_ACTIVE);
  assert_non_null(copy_of("198.51.100.0/24"));

  /* The prune, path by path, changes nothing; nor does an override added meanwhile */
  path("t2", "203.0.113.0/24", 0);
  path("t2", "192.0.2.0/24", 0);
  add_ok("add 198.51.100.0/24 t2");
  assert_int_equal(ovr("198.51.100.0/24")->state, AP_OVR_PENDING);
  assert_true(ovr("198.51.100.0/24")->lost);
  assert_null(copy_of("198.51.100.0/24"));
  path("t2", "198.51.100.0/24", 0);
  assert_int_equal(ovr("203.0.113.0/24")->state, AP_OVR_PENDING);

  /* Back: each copy with its path */
  session("t2", 1);
  path("t2", "203.0.113.0/24", 2);
  assert_int_equal(ovr("203.0.113.0/24")->state, AP_OVR_ACTIVE);
  assert_false(ovr("203.0.113.0/24")->lost);
  assert_non_null(copy_of("203.0.113.0/24"));
  assert_int_equal(ovr("198.51.100.0/24")->state, AP_OVR_PENDING);
  path("t2", "198.51.100.0/24", 2);
  path("t2", "192.0.2.0/24", 2);
  assert_int_equal(ovr("198.51.100.0/24")->state, AP_OVR_ACTIVE);
  assert_int_equal(ovr("192.0.2.0/24")->state, AP_OVR_ACTIVE);
  assert_int_equal(ovr("192.0.2.0/24")->via_label, 1002);
}

/*
 * A loss seen while no override was left is over when the session comes
 * back, whether or not any override saw its paths return: the next loss
 * takes the copies made meanwhile at once too. (It was once remembered
 * until a path arrived with an override in the store.)
 */
static void
egress_loss_after_a_loss_without_overrides(void **state UNUSED)
{
  start("");
  path("t1", "203.0.113.0/24", 1);
  path("t2", "203.0.113.0/24", 2);
  add_ok("add 203.0.113.0/24 t2");
  session("t2", 0);
  assert_null(copy_of("203.0.113.0/24"));
  assert_int_equal(autopilot_ovr_flush(p, NULL, AP_SRC_CLI), 1);
  ap_run_events();
  path("t2", "203.0.113.0/24", 0);
  session("t2", 1);
  path("t2", "203.0.113.0/24", 2);

  add_ok("add 203.0.113.0/24 t2");
  assert_non_null(copy_of("203.0.113.0/24"));
  session("t2", 0);
  assert_int_equal(paths_of("t2", "203.0.113.0/24"), 1);
  assert_null(copy_of("203.0.113.0/24"));
  assert_int_equal(ovr("203.0.113.0/24")->state, AP_OVR_PENDING);
}

/* Shadow mode: an override of a lost egress is pending, shadow again when it is back */
static void
egress_loss_in_shadow_mode(void **state UNUSED)
{
  start("  shadow on;\n");
  path("t1", "203.0.113.0/24", 1);
  path("t2", "203.0.113.0/24", 2);
  add_ok("add 203.0.113.0/24 t2");
  assert_int_equal(ovr("203.0.113.0/24")->state, AP_OVR_SHADOW);
  session("t2", 0);
  assert_int_equal(ovr("203.0.113.0/24")->state, AP_OVR_PENDING);
  path("t2", "203.0.113.0/24", 0);
  session("t2", 1);
  path("t2", "203.0.113.0/24", 2);
  assert_int_equal(ovr("203.0.113.0/24")->state, AP_OVR_SHADOW);
  assert_null(copy_of("203.0.113.0/24"));
}

/* The lines of the state file */
static char *
read_file(const char *name)
{
  static char buf[4096];
  FILE *f = fopen(name, "r");
  assert_non_null(f);
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  buf[n] = 0;
  fclose(f);
  return buf;
}

static void
state_file_round_trip(void **state UNUSED)
{
  static char opts[256];		/* tmp_sprintf()'s buffer does not outlive a reconfiguration */
  bsnprintf(opts, sizeof(opts), "  state filename \"%s\";\n", file);
  start(opts);
  add_ok("add 192.0.2.0/24 t1");
  add_ok("add 2001:db8::/32 t2 reason \"a \\\"quoted\\\" reason\"");
  add_ok("add 198.51.100.0/24 next-best expires 3600 reason \"link A hot\"");
  btime expires = ovr("198.51.100.0/24")->expires;

  /* Removed from the configuration: the state file is the copy */
  ap_configure(conf(NULL));
  assert_null(ap_find_proto("ap"));
  char *text = read_file(file);
  assert_non_null(strstr(text, "add 192.0.2.0/24 t1 "));
  assert_non_null(strstr(text, "add 2001:db8::/32 t2 "));
  assert_non_null(strstr(text, "reason \"a \\\"quoted\\\" reason\""));
  assert_non_null(strstr(text, "# end 3\n"));

  start(opts);
  assert_int_equal(autopilot_ovr_count(p), 3);
  assert_string_equal(ovr("192.0.2.0/24")->target, "t1");
  assert_string_equal(ovr("2001:db8::/32")->reason, "a \"quoted\" reason");
  assert_null(ovr("198.51.100.0/24")->target);		/* next-best */
  assert_string_equal(ovr("198.51.100.0/24")->reason, "link A hot");
  assert_int_equal(ovr("198.51.100.0/24")->expires TO_S, expires TO_S);
  assert_int_equal(ovr("192.0.2.0/24")->source, AP_SRC_CLI);
  assert_int_equal(access(tmp_sprintf("%s.corrupt", file), F_OK), -1);
}

static void
damaged_state_file_is_kept_and_good_lines_restored(void **state UNUSED)
{
  uint past = (uint) (current_real_time() TO_S) - 10;
  FILE *f = fopen(file, "w");
  assert_non_null(f);
  fprintf(f, "# bird-autopilot overrides v1 protocol ap\n"
	  "add 192.0.2.0/24 t1 source cli\n"
	  "add 192.0.3.0/33 t1 source cli\n"		/* not a prefix */
	  "withdraw 192.0.2.0/24\n"			/* no add line */
	  "add 192.0.4.0/24 t2 expires-at %u source cli\n"	/* expired meanwhile */
	  "add 192.0.5.0/24 gone source cli\n"		/* egress no longer configured: kept */
	  "# end 5\n", past);
  fclose(f);

  start(tmp_sprintf("  state filename \"%s\";\n", file));
  assert_int_equal(autopilot_ovr_count(p), 2);
  assert_non_null(ovr("192.0.2.0/24"));
  assert_null(ovr("192.0.3.0/24"));
  assert_null(ovr("192.0.4.0/24"));
  assert_int_equal(ovr("192.0.5.0/24")->state, AP_OVR_PENDING);
  assert_string_equal(autopilot_ovr_why(ovr("192.0.5.0/24")), "egress not configured");

  /* The damaged file is kept aside, the restored set written anew */
  char *kept = read_file(tmp_sprintf("%s.corrupt", file));
  assert_non_null(strstr(kept, "192.0.3.0/33"));
  char *text = read_file(file);
  assert_null(strstr(text, "192.0.3.0"));
  assert_non_null(strstr(text, "# end 2\n"));
}

static void
truncated_state_file_is_reported(void **state UNUSED)
{
  FILE *f = fopen(file, "w");
  assert_non_null(f);
  fputs("# bird-autopilot overrides v1 protocol ap\nadd 192.0.2.0/24 t1 source cli\nadd 192.0.3.0/24 t", f);
  fclose(f);

  start(tmp_sprintf("  state filename \"%s\";\n", file));
  assert_int_equal(autopilot_ovr_count(p), 1);		/* the cut line is no line */
  assert_int_equal(access(tmp_sprintf("%s.corrupt", file), F_OK), 0);
}

/*
 * A state file BIRD cannot read (a backup restored with root's owner) is
 * not a damaged one: it may hold every acknowledged override. Nothing is
 * written over it, changes are not acknowledged, and a later start reads
 * it again: not the set in memory, which lacks what the file holds.
 */
static void
unreadable_state_file_is_not_written_over(void **state UNUSED)
{
  static char opts[256];
  bsnprintf(opts, sizeof(opts), "  state filename \"%s\";\n", file);
  start(opts);
  add_ok("add 192.0.2.0/24 t1");
  ap_configure(conf(NULL));
  static char saved[4096];
  strcpy(saved, read_file(file));
  assert_non_null(strstr(saved, "add 192.0.2.0/24 t1 "));

  /* Configure checks it while it can be read; then the protocol, as another user, cannot */
  struct config *cfg = ap_parse_ok(conf(opts));
  assert_int_equal(chmod(file, 0), 0);
  uid_t uid = geteuid();
  if (!uid)
    assert_int_equal(seteuid(65534), 0);		/* Root reads anything */
  ap_commit(cfg);
  if (!uid)
    assert_int_equal(seteuid(0), 0);
  assert_int_equal(chmod(file, 0640), 0);

  p = (void *) ap_find_proto("ap");
  assert_int_equal(p->p.proto_state, PS_UP);
  assert_true(p->state.unreadable);
  assert_int_equal(autopilot_ovr_count(p), 0);

  /* Applied, not acknowledged: the commit before a reply fails */
  add_ok("add 198.51.100.0/24 t2");
  assert_int_equal(autopilot_state_commit(p), -1);
  assert_non_null(strstr(p->state.error, "could not be read at start"));
  ap_run_events();
  assert_string_equal(read_file(file), saved);
  assert_int_equal(access(tmp_sprintf("%s.corrupt", file), F_OK), -1);

  /* Disabled and enabled (as birdc restart does): the file, not memory, is read again */
  static char off[300];
  bsnprintf(off, sizeof(off), "%s  disabled;\n", opts);
  ap_configure(conf(off));
  assert_string_equal(read_file(file), saved);
  start(opts);
  assert_false(p->state.unreadable);
  assert_int_equal(autopilot_ovr_count(p), 1);
  assert_non_null(ovr("192.0.2.0/24"));
  assert_null(ovr("198.51.100.0/24"));
  assert_int_equal(autopilot_state_commit(p), 0);
}

/*
 * Lines after the journal's last commit were never acknowledged: replay
 * drops them, and they are cut off, so that the next commit appended (while
 * snapshots fail) does not acknowledge them with its own
 */
static void
journal_tail_is_cut_after_replay(void **state UNUSED)
{
  static char opts[256];
  bsnprintf(opts, sizeof(opts), "  state filename \"%s\";\n", file);
  static char journal[160], tmp[160];	/* tmp_sprintf()'s buffers do not outlive events */
  bsnprintf(journal, sizeof(journal), "%s.journal", file);
  bsnprintf(tmp, sizeof(tmp), "%s.tmp", file);
  FILE *f = fopen(file, "w");
  assert_non_null(f);
  fputs("# bird-autopilot overrides v1 protocol ap\n# end 0\n", f);
  fclose(f);
  f = fopen(journal, "w");
  assert_non_null(f);
  fputs("add 192.0.2.0/24 t1 created 1700000000 source cli\n# commit\n"
	"add 192.0.3.0/24 t1 created 1700000000 source cli\n", f);	/* a batch cut by a crash */
  fclose(f);

  /* Snapshots fail (FILE.tmp cannot be made): the journal is all there is */
  assert_int_equal(mkdir(tmp, 0700), 0);
  start(opts);
  assert_int_equal(autopilot_ovr_count(p), 1);
  assert_null(ovr("192.0.3.0/24"));
  assert_null(strstr(read_file(journal), "192.0.3.0/24"));

  add_ok("add 198.51.100.0/24 t2");
  assert_int_equal(autopilot_state_commit(p), -1);		/* the snapshot, still */
  assert_null(strstr(read_file(journal), "192.0.3.0/24"));
  assert_int_equal(rmdir(tmp), 0);
  assert_int_equal(autopilot_state_commit(p), 0);

  /* A crash now: the next start has what was acknowledged, not the cut batch */
  ap_configure(conf(NULL));
  start(opts);
  assert_int_equal(autopilot_ovr_count(p), 2);
  assert_null(ovr("192.0.3.0/24"));
}

/*
 * A journal record lost (its write failed), then a crash between the
 * fold's rename and the journal's truncation: the new snapshot has the
 * unacknowledged changes (a withdraw of x, an add of y), the old journal
 * the acknowledged add of x. Replayed over it, the journal gives x back
 * as it was acknowledged (the withdraw was never answered ok: the fold
 * had not finished), and y stays, unacknowledged but on disk; nothing
 * acknowledged is lost. A second start gives the same set.
 */
static void
crash_between_fold_and_truncation_keeps_what_was_acknowledged(void **state UNUSED)
{
  static char opts[256];
  bsnprintf(opts, sizeof(opts), "  state filename \"%s\";\n", file);
  static char journal[160];
  bsnprintf(journal, sizeof(journal), "%s.journal", file);
  FILE *f = fopen(file, "w");
  assert_non_null(f);
  fputs("# bird-autopilot overrides v1 protocol ap\n"
	"add 192.0.3.0/24 t2 created 1700000100 source controller\n"
	"add 192.0.4.0/24 t1 created 1700000000 source cli\n# end 2\n", f);
  fclose(f);
  f = fopen(journal, "w");
  assert_non_null(f);
  fputs("add 192.0.2.0/24 t1 created 1700000000 source cli\n"
	"add 192.0.4.0/24 t1 created 1700000000 source cli\n# commit\n", f);
  fclose(f);

  for (int run = 0; run < 2; run++)
  {
    start(opts);
    assert_int_equal(autopilot_ovr_count(p), 3);
    assert_string_equal(ovr("192.0.2.0/24")->target, "t1");
    assert_string_equal(ovr("192.0.3.0/24")->target, "t2");
    assert_string_equal(ovr("192.0.4.0/24")->target, "t1");
    ap_configure(conf(NULL));
  }
  assert_null(strstr(read_file(journal), "192.0.2.0/24"));	/* folded at the stop */
}

/*
 * A new state filename by configure: written at once. It was written at
 * the next change only: a crash before that restarted from the new,
 * empty file, and every override was gone. Configured again after none,
 * the same file is written anew too (changes were made meanwhile).
 */
static void
new_state_filename_is_written_at_configure(void **state UNUSED)
{
  static char a[256], b[256], other[160];
  bsnprintf(other, sizeof(other), "%s/other.state", dir);
  bsnprintf(a, sizeof(a), "  state filename \"%s\";\n", file);
  bsnprintf(b, sizeof(b), "  state filename \"%s\";\n", other);
  start(a);
  add_ok("add 192.0.2.0/24 t1");
  assert_int_equal(autopilot_state_commit(p), 0);

  ap_configure(conf(b));
  assert_ptr_equal(ap_find_proto("ap"), &p->p);		/* in place, no restart */
  assert_non_null(strstr(read_file(other), "add 192.0.2.0/24 t1 "));
  assert_non_null(strstr(read_file(other), "# end 1\n"));

  /* No state file for a while, a change meanwhile, then the same file again */
  ap_configure(conf(""));
  add_ok("add 198.51.100.0/24 t2");
  ap_configure(conf(b));
  assert_non_null(strstr(read_file(other), "add 198.51.100.0/24 t2 "));
  assert_non_null(strstr(read_file(other), "# end 2\n"));
}

/* A family without its channel now (removed by configure): its overrides wait, kept */
static void
override_of_a_family_without_channel_is_kept(void **state UNUSED)
{
  FILE *f = fopen(file, "w");
  assert_non_null(f);
  fputs("# bird-autopilot overrides v1 protocol ap\n"
	"add 192.0.2.0/24 t1 created 1700000000 source cli\n"
	"add 2001:db8::/32 t2 created 1700000000 source cli\n# end 2\n", f);
  fclose(f);

  static char text[1024];
  bsnprintf(text, sizeof(text), "%sprotocol autopilot ap {\n  ipv4;\n"
	    "  egress t1 { label 1001; pp label 2001; };\n  egress t2 { label 1002; pp label 2002; };\n"
	    "  state filename \"%s\";\n}\n", BASE, file);
  ap_configure(text);
  p = (void *) ap_find_proto("ap");
  assert_int_equal(p->p.proto_state, PS_UP);
  assert_int_equal(autopilot_ovr_count(p), 2);
  assert_int_equal(ovr("2001:db8::/32")->state, AP_OVR_PENDING);
  assert_string_equal(autopilot_ovr_why(ovr("2001:db8::/32")), "channel down");
  assert_int_equal(access(tmp_sprintf("%s.corrupt", file), F_OK), -1);
  assert_non_null(strstr(read_file(file), "add 2001:db8::/32 t2 "));
}

int
main(void)
{
  ap_bird_init();

  const struct CMUnitTest tests[] = {
    ap_test(copy_follows_the_target_path),
    ap_test(covering_prefix_until_the_prefix_has_paths),
    ap_test(next_best_is_another_egress),
    ap_test(limit_refuses_new_prefixes_only),
    ap_test(unknown_target_is_refused),
    ap_test(expiry_removes_at_its_time),
    ap_test(shadow_resolves_but_originates_nothing),
    ap_test(egress_loss_takes_copies_before_its_paths),
    ap_test(egress_loss_after_a_loss_without_overrides),
    ap_test(egress_loss_in_shadow_mode),
    ap_test(state_file_round_trip),
    ap_test(damaged_state_file_is_kept_and_good_lines_restored),
    ap_test(truncated_state_file_is_reported),
    ap_test(unreadable_state_file_is_not_written_over),
    ap_test(journal_tail_is_cut_after_replay),
    ap_test(crash_between_fold_and_truncation_keeps_what_was_acknowledged),
    ap_test(new_state_filename_is_written_at_configure),
    ap_test(override_of_a_family_without_channel_is_kept),
  };

  return cmocka_run_group_tests_name("override store and state file", tests, NULL, NULL);
}
