/*
 *	bird-autopilot unit tests -- the attributes an override copy carries
 *
 *	(c) 2026 bird-autopilot developers
 *
 *	Can be freely distributed and used under the terms of the GNU GPL.
 */

/*
 * As in store_test.c, the protocol runs in process on a real routing
 * table: paths of the two egresses go in as BGP would put them (tagged by
 * the registered BGP hooks, the egress's BGP protocol as their source), an
 * override is added as a front end adds it, and its copy is read back from
 * the table. Each path carries what a transit's path carries besides what
 * hosts use (communities, MED, an AGGREGATOR, a longer AS path), so that a
 * test sees what a copy keeps of them in each mode.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#include "nest/route.h"
#include "nest/attrs.h"
#include "lib/resource.h"
#include "lib/string.h"
#include "proto/bgp/bgp.h"
#include "proto/autopilot/autopilot.h"

#define BASE \
  "router id 192.0.2.1;\n" \
  "protocol device {}\n" \
  "protocol bgp t1 { disabled; local 10.0.1.1 as 65000; neighbor 10.0.1.2 as 64501; ipv4 { import all; export none; }; }\n" \
  "protocol bgp t2 { disabled; local 10.0.2.1 as 65000; neighbor 10.0.2.2 as 64502; ipv4 { import all; export none; }; }\n" \
  "protocol static feed { ipv4; }\n"

#define P1 "203.0.113.0/24"
#define P2 "198.51.100.0/24"
#define P3 "192.0.2.0/25"

#define ASN 65000			/* The switch's, of our large communities */
#define PP_DISABLE ((lcomm) { 4200000000U, AUTOPILOT_LC_PP_DISABLE, 0 })

static struct autopilot_proto *p;	/* The running protocol */
static linpool *lp;

static net_addr
prefix(const char *s)
{
  net_addr n;				/* Room for any net: a net_addr is returned whole */
  struct autopilot_error err;
  if (autopilot_parse_prefix(s, (net_addr_ip6 *) &n, &err) < 0)
    fail_msg("bad prefix %s: %s", s, err.msg);
  return n;
}

/* What a path carries besides its egress's tags */
struct path {
  const char *egress;			/* t1 or t2 */
  const char *px;			/* Its prefix */
  uint origin;				/* ORIGIN_IGP, ORIGIN_EGP, ... */
  u32 med;				/* MULTI_EXIT_DISC */
  u32 community;			/* One standard community, (a << 16) | b */
  lcomm lc;				/* One large community of someone else */
  int pp_disabled;			/* The operator's filter disabled Precision Path */
  int as_path;				/* AP_PATH_*: what AS path it has */
};

#define AP_PATH_THREE	0		/* (its AS, 64999, 65010) */
#define AP_PATH_EMPTY	1		/* none at all: an iBGP egress's own */
#define AP_PATH_SET	2		/* an AS_SET {its AS, 64999} first, as an aggregate */

/* Paths put in and not withdrawn, withdrawn by teardown */
static struct path paths[16];
static uint npaths;

static void
withdraw(const char *egress, const char *px)
{
  struct bgp_proto *bp = (void *) ap_find_proto(egress);
  struct channel *c = HEAD(ap_find_proto("feed")->channels);
  net_addr n = prefix(px);

  for (uint i = 0; i < npaths; i++)
    if (!strcmp(paths[i].egress, egress) && !strcmp(paths[i].px, px))
      paths[i--] = paths[--npaths];

  rte_update2(c, &n, NULL, rt_get_source(&bp->p, 0));
  ap_run_events();
}

/* The egress announces the path: AS path (its AS, 64999, 65010) */
static void
announce(struct path pa)
{
  struct bgp_proto *bp = (void *) ap_find_proto(pa.egress);
  struct channel *c = HEAD(ap_find_proto("feed")->channels);
  struct rte_src *src = rt_get_source(&bp->p, 0);
  net_addr n = prefix(pa.px);

  paths[npaths++] = pa;

  rta *a = lp_allocz(lp, RTA_MAX_SIZE);
  a->source = RTS_BGP;
  a->scope = SCOPE_UNIVERSE;
  a->dest = RTD_BLACKHOLE;
  a->pref = 100;
  a->from = bp->cf->remote_ip;

  u32 hops[] = { bp->cf->remote_as, 64999, 65010 };
  uint nhops = (pa.as_path == AP_PATH_EMPTY) ? 0 : (pa.as_path == AP_PATH_SET) ? 2 : ARRAY_SIZE(hops);
  struct adata *ad = lp_alloc_adata(lp, nhops ? 2 + 4 * nhops : 0);
  if (nhops)
  {
    ad->data[0] = (pa.as_path == AP_PATH_SET) ? AS_PATH_SET : AS_PATH_SEQUENCE;
    ad->data[1] = nhops;
    for (uint i = 0; i < nhops; i++)
      put_u32(ad->data + 2 + 4 * i, hops[i]);
  }
  bgp_set_attr_ptr(&a->eattrs, lp, BA_AS_PATH, BAF_TRANSITIVE, ad);
  bgp_set_attr_u32(&a->eattrs, lp, BA_ORIGIN, BAF_TRANSITIVE, pa.origin);

  struct adata *nh = lp_alloc_adata(lp, sizeof(ip_addr));
  memcpy(nh->data, &bp->cf->remote_ip, sizeof(ip_addr));
  bgp_set_attr_ptr(&a->eattrs, lp, BA_NEXT_HOP, BAF_TRANSITIVE, nh);
  bgp_set_attr_u32(&a->eattrs, lp, BA_MULTI_EXIT_DISC, BAF_OPTIONAL, pa.med);
  bgp_set_attr_ptr(&a->eattrs, lp, BA_COMMUNITY, BAF_OPTIONAL | BAF_TRANSITIVE,
		   int_set_add(lp, NULL, pa.community));
  bgp_set_attr_ptr(&a->eattrs, lp, BA_LARGE_COMMUNITY, BAF_OPTIONAL | BAF_TRANSITIVE,
		   lc_set_add(lp, NULL, pa.lc));

  struct adata *agg = lp_alloc_adata(lp, 8);
  put_u32(agg->data, bp->cf->remote_as);
  put_u32(agg->data + 4, 0x0a000001);
  bgp_set_attr_ptr(&a->eattrs, lp, BA_AGGREGATOR, BAF_OPTIONAL | BAF_TRANSITIVE, agg);

  /* BGP's receive path tags the attributes through the hooks */
  struct bgp_hooks *h;
  WALK_LIST(h, bgp_hooks)
    if (h->rx_attrs)
      h->rx_attrs(bp, (void *) HEAD(bp->p.channels), a, lp);

  /* ... and then the import filter runs: pp_disable; */
  if (pa.pp_disabled)
  {
    eattr *lc = bgp_find_attr(a->eattrs, BA_LARGE_COMMUNITY);
    bgp_set_attr_ptr(&a->eattrs, lp, BA_LARGE_COMMUNITY, lc->flags, lc_set_add(lp, lc->u.ptr, PP_DISABLE));
  }

  rte *e = rte_get_temp(a, src);
  e->pflags = 0;
  rte_update2(c, &n, e, src);
  ap_run_events();
}

/*
 * Configure @text. The egress sessions are disabled, so BIRD makes their
 * protocols anew (a protocol that is down is restarted, not reconfigured);
 * their paths go before and come back after, as BGP's would: a route must
 * not outlive the protocol of its source.
 */
static void
reconfigure(const char *text)
{
  struct path keep[ARRAY_SIZE(paths)];
  uint n = npaths;

  memcpy(keep, paths, sizeof(keep));
  while (npaths)
    withdraw(paths[npaths - 1].egress, paths[npaths - 1].px);

  ap_configure(text);
  for (uint i = 0; i < n; i++)
    announce(keep[i]);
}

/* A path of t2 with attributes numbered @i: two values of @i, two paths unlike in all */
static struct path
t2_path(const char *px, uint i)
{
  return (struct path) { .egress = "t2", .px = px, .origin = i ? ORIGIN_EGP : ORIGIN_IGP,
    .med = 10 + i, .community = (64502U << 16) | (100 + i), .lc = { 64502, 7, i } };
}

/* Our own route (the override copy) in master4 for @px */
static rte *
copy_of(const char *px)
{
  net_addr n = prefix(px);
  rte *r = ap_route_of(&p->p, &n);
  if (!r)
    fail_msg("no copy of %s", px);
  return r;
  return NULL;
}

/* The path of @egress in master4 for @px */
static rte *
path_of(const char *egress, const char *px)
{
  net_addr n = prefix(px);
  rte *r = ap_route_of(ap_find_proto(egress), &n);
  if (!r)
    fail_msg("no path of %s for %s", egress, px);
  return r;
}

static void
add_ok(const char *line)
{
  struct autopilot_request req;
  struct autopilot_error err;
  if (autopilot_request_parse(line, current_real_time(), &req, &err, lp) < 0)
    fail_msg("bad request %s: %s", line, err.msg);
  if (autopilot_ovr_add(p, &req, AP_SRC_CLI, &err) < 0)
    fail_msg("%s refused: %s", line, err.msg);
  ap_run_events();
}

static eattr *
attr(rte *r, uint code)
{
  return bgp_find_attr(r->attrs->eattrs, code);
}

/* The AS path of @r as text */
static const char *
as_path(rte *r)
{
  static byte buf[256];
  eattr *a = attr(r, BA_AS_PATH);
  assert_non_null(a);
  as_path_format(a->u.ptr, buf, sizeof(buf));
  return (const char *) buf;
}

/* The large communities of @r as text, in the set's order */
static const char *
lcs(rte *r)
{
  static char buf[512];
  eattr *a = attr(r, BA_LARGE_COMMUNITY);
  buf[0] = 0;
  if (!a)
    return buf;
  const u32 *d = (const u32 *) a->u.ptr->data;
  for (uint i = 0, n = lc_set_get_size(a->u.ptr); i < n; i++, d += 3)
    bsnprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s(%u, %u, %u)", i ? " " : "", d[0], d[1], d[2]);
  return buf;
}

/* The eattrs of @r (merged: a copy's list may be a chain until normalized) */
static uint
attr_count(rte *r)
{
  uint n = 0;
  for (ea_list *l = r->attrs->eattrs; l; l = l->next)
    n += l->count;
  return n;
}

static int
setup(void **state UNUSED)
{
  lp = lp_new_default(&root_pool);
  return 0;
}

static int
teardown(void **state UNUSED)
{
  while (npaths)
    withdraw(paths[npaths - 1].egress, paths[npaths - 1].px);

  ap_configure("router id 192.0.2.1;\nprotocol device {}\n");
  p = NULL;
  rfree(lp);
  return 0;
}

/* A config with protocol ap: the default egress map and @opts */
#define start(opts) (p = ap_start(BASE, (opts)))

static void
full_copy_keeps_the_paths_attributes(void **state UNUSED)
{
  start("");
  assert_int_equal(((struct autopilot_config *) p->p.cf)->override_copy, AUTOPILOT_COPY_FULL);
  announce((struct path) { .egress = "t1", .px = P1, .med = 1, .community = 1, .lc = { 64501, 1, 1 } });
  announce(t2_path(P1, 1));
  add_ok("add " P1 " t2");

  rte *c = copy_of(P1), *r = path_of("t2", P1);
  assert_ptr_equal(c->net->routes, c);		/* best on the switch too */
  assert_int_equal(c->attrs->pref, 200);
  assert_int_equal(ea_get_int(c->attrs->eattrs, EA_MPLS_LABEL, 0), 1002);
  assert_string_equal(as_path(c), "64502 64999 65010");
  assert_int_equal(attr(c, BA_ORIGIN)->u.data, ORIGIN_EGP);
  assert_int_equal(attr(c, BA_LOCAL_PREF)->u.data, 4294967295U);
  assert_int_equal(attr(c, BA_MULTI_EXIT_DISC)->u.data, 11);
  assert_true(int_set_contains(attr(c, BA_COMMUNITY)->u.ptr, (64502U << 16) | 101));
  assert_non_null(attr(c, BA_AGGREGATOR));
  assert_true(adata_same(attr(c, BA_NEXT_HOP)->u.ptr, attr(r, BA_NEXT_HOP)->u.ptr));
  assert_string_equal(lcs(c), "(64502, 7, 1) (65000, 2, 2002) (65000, 3, 1)");
}

static void
minimal_copy_carries_what_hosts_use(void **state UNUSED)
{
  start("  override copy minimal;\n  label community on;\n");
  assert_int_equal(((struct autopilot_config *) p->p.cf)->override_copy, AUTOPILOT_COPY_MINIMAL);
  announce((struct path) { .egress = "t1", .px = P1, .med = 1, .community = 1, .lc = { 64501, 1, 1 } });
  announce(t2_path(P1, 1));
  add_ok("add " P1 " t2");

  rte *c = copy_of(P1), *r = path_of("t2", P1);
  rta *a = c->attrs;

  /* Best on the switch, forwarded as the path it copies */
  assert_ptr_equal(c->net->routes, c);
  assert_int_equal(a->pref, 200);
  assert_int_equal(a->dest, r->attrs->dest);
  assert_int_equal(a->source, r->attrs->source);
  assert_true(ipa_equal(a->from, r->attrs->from));
  assert_true(nexthop_same(&a->nh, &r->attrs->nh));

  /* What it carries: the label, the copied path's ORIGIN, first AS, next hop */
  assert_int_equal(ea_get_int(a->eattrs, EA_MPLS_LABEL, 0), 1002);
  assert_int_equal(attr(c, BA_ORIGIN)->u.data, ORIGIN_EGP);
  assert_string_equal(as_path(c), "64502");
  assert_true(adata_same(attr(c, BA_NEXT_HOP)->u.ptr, attr(r, BA_NEXT_HOP)->u.ptr));
  assert_int_equal(attr(c, BA_LOCAL_PREF)->u.data, 4294967295U);
  assert_string_equal(lcs(c), "(65000, 2, 2002) (65000, 1, 1002) (65000, 3, 1)");

  /* ... and nothing else */
  assert_null(attr(c, BA_MULTI_EXIT_DISC));
  assert_null(attr(c, BA_COMMUNITY));
  assert_null(attr(c, BA_AGGREGATOR));
  assert_int_equal(attr_count(c), 6);

  /* The path itself keeps all of them */
  assert_non_null(attr(r, BA_MULTI_EXIT_DISC));
  assert_string_equal(as_path(r), "64502 64999 65010");
}

static void
minimal_copy_of_a_path_without_neighbor_as(void **state UNUSED)
{
  start("  override copy minimal;\n");
  struct path empty = t2_path(P1, 0), set = t2_path(P2, 0);
  empty.as_path = AP_PATH_EMPTY;
  set.as_path = AP_PATH_SET;
  announce(empty);
  announce(set);
  announce(t2_path(P3, 0));
  add_ok("add " P1 " t2");
  add_ok("add " P2 " t2");
  add_ok("add " P3 " t2");

  /* No first AS to say: an empty AS path, and so one set for both */
  assert_int_equal(attr(copy_of(P1), BA_AS_PATH)->u.ptr->length, 0);
  assert_int_equal(attr(copy_of(P2), BA_AS_PATH)->u.ptr->length, 0);
  assert_ptr_equal(copy_of(P1)->attrs, copy_of(P2)->attrs);
  assert_string_equal(as_path(copy_of(P3)), "64502");
  assert_false(copy_of(P3)->attrs == copy_of(P1)->attrs);
  assert_string_equal(lcs(copy_of(P1)), "(65000, 2, 2002) (65000, 3, 1)");
}

static void
minimal_copies_to_one_egress_share_one_set(void **state UNUSED)
{
  start("  override copy minimal;\n");
  announce(t2_path(P1, 0));
  announce(t2_path(P2, 0));
  announce(t2_path(P3, 0));
  /* Paths unlike in every attribute but ORIGIN, first AS and next hop */
  struct path other = t2_path(P2, 1);
  withdraw("t2", P2);
  other.origin = ORIGIN_IGP;
  announce(other);
  assert_false(path_of("t2", P1)->attrs == path_of("t2", P2)->attrs);

  add_ok("add " P1 " t2");
  add_ok("add " P2 " t2");			/* another round: interned, not memoized */
  assert_ptr_equal(copy_of(P1)->attrs, copy_of(P2)->attrs);

  /* Another ORIGIN is another set, as hosts see it */
  withdraw("t2", P3);
  announce((struct path) { .egress = "t2", .px = P3, .origin = ORIGIN_INCOMPLETE });
  add_ok("add " P3 " t2");
  assert_false(copy_of(P3)->attrs == copy_of(P1)->attrs);
  assert_int_equal(attr(copy_of(P3), BA_ORIGIN)->u.data, ORIGIN_INCOMPLETE);
  assert_string_equal(lcs(copy_of(P3)), "(65000, 2, 2002) (65000, 3, 1)");

  /* Full copies of the same paths: one set per path */
  reconfigure(ap_conf(BASE, ""));
  assert_false(copy_of(P1)->attrs == copy_of(P2)->attrs);
}

static void
minimal_copy_keeps_the_pp_disable_community(void **state UNUSED)
{
  start("  override copy minimal;\n");
  struct path pa = t2_path(P1, 0);
  pa.pp_disabled = 1;
  announce(pa);
  announce(t2_path(P2, 0));
  add_ok("add " P1 " t2");
  add_ok("add " P2 " t2");

  /* Hosts rank no alternates for a prefix whose path has it */
  assert_string_equal(lcs(copy_of(P1)), "(4200000000, 4, 0) (65000, 2, 2002) (65000, 3, 1)");
  assert_string_equal(lcs(copy_of(P2)), "(65000, 2, 2002) (65000, 3, 1)");
  assert_false(copy_of(P1)->attrs == copy_of(P2)->attrs);
}

static void
configure_makes_copies_again(void **state UNUSED)
{
  start("");
  announce(t2_path(P1, 1));
  add_ok("add " P1 " t2");
  net_addr n = prefix(P1);
  struct autopilot_override *o = autopilot_ovr_find(p, &n);
  assert_non_null(attr(copy_of(P1), BA_MULTI_EXIT_DISC));

  /* Full to minimal in place: the same override, its copy made again */
  reconfigure(ap_conf(BASE, "  override copy minimal;\n"));
  assert_ptr_equal(ap_find_proto("ap"), &p->p);
  assert_ptr_equal(autopilot_ovr_find(p, &n), o);
  assert_int_equal(o->state, AP_OVR_ACTIVE);
  assert_null(attr(copy_of(P1), BA_MULTI_EXIT_DISC));
  assert_string_equal(as_path(copy_of(P1)), "64502");

  /* New pp label and local pref: the minimal set is made anew, not remembered */
  reconfigure(tmp_sprintf("%sprotocol autopilot ap {\n  ipv4; ipv6;\n"
			  "  egress t1 { label 1001; pp label 2001; };\n"
			  "  egress t2 { label 1002; pp label 2012; };\n"
			  "  override copy minimal;\n  override local pref 300;\n}\n", BASE));
  assert_ptr_equal(ap_find_proto("ap"), &p->p);
  assert_string_equal(lcs(copy_of(P1)), "(65000, 2, 2012) (65000, 3, 1)");
  assert_int_equal(attr(copy_of(P1), BA_LOCAL_PREF)->u.data, 300);

  /* And back: the copied path's attributes again */
  reconfigure(ap_conf(BASE, "  override copy full;\n"));
  assert_ptr_equal(autopilot_ovr_find(p, &n), o);
  assert_int_equal(attr(copy_of(P1), BA_MULTI_EXIT_DISC)->u.data, 11);
  assert_string_equal(as_path(copy_of(P1)), "64502 64999 65010");
  assert_string_equal(lcs(copy_of(P1)), "(64502, 7, 1) (65000, 2, 2002) (65000, 3, 1)");
}

static void
bad_copy_mode_is_a_config_error(void **state UNUSED)
{
  assert_config_error(ap_conf(BASE, "  override copy some;\n"), "syntax error");
  assert_non_null(ap_parse_ok(ap_conf(BASE, "  override copy full;\n")));
}

int
main(void)
{
  ap_bird_init();

  const struct CMUnitTest tests[] = {
    ap_test(full_copy_keeps_the_paths_attributes),
    ap_test(minimal_copy_carries_what_hosts_use),
    ap_test(minimal_copy_of_a_path_without_neighbor_as),
    ap_test(minimal_copies_to_one_egress_share_one_set),
    ap_test(minimal_copy_keeps_the_pp_disable_community),
    ap_test(configure_makes_copies_again),
    ap_test(bad_copy_mode_is_a_config_error),
  };

  return cmocka_run_group_tests_name("override copies", tests, NULL, NULL);
}
