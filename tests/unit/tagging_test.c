/*
 *	bird-autopilot unit tests -- tagging of received and sent attributes
 *
 *	(c) 2026 bird-autopilot developers
 *
 *	Can be freely distributed and used under the terms of the GNU GPL.
 */

#include "harness.h"

#include "nest/attrs.h"
#include "lib/resource.h"
#include "proto/bgp/bgp.h"
#include "proto/autopilot/autopilot.h"

/* Egress sessions stay disabled: we need their instances, not connections */
#define BASE \
  "router id 192.0.2.1;\n" \
  "protocol device {}\n" \
  "protocol bgp t1 { disabled; local 10.0.1.1 as 65000; neighbor 10.0.1.2 as 64501; ipv4 { import all; export none; }; }\n" \
  "protocol bgp t2 { disabled; local 10.0.2.1 as 65000; neighbor 10.0.2.2 as 64502; ipv4 { import all; export none; }; }\n" \
  "protocol bgp h1 { disabled; local 10.0.10.1 as 65000; neighbor 10.0.10.2 as 65000; ipv4 { import none; export all; }; }\n"

static linpool *lp;

static struct autopilot_proto *
setup(const char *ap_body)
{
  ap_configure(tmp_sprintf("%sprotocol autopilot ap {\n%s}\n", BASE, ap_body));
  struct autopilot_proto *p = (void *) ap_find_proto("ap");
  assert_non_null(p);
  assert_int_equal(p->p.proto_state, PS_UP);
  return p;
}

static struct bgp_proto *
bgp(const char *name)
{
  struct bgp_proto *bp = (void *) ap_find_proto(name);
  assert_non_null(bp);
  return bp;
}

/* The ipv4 channel of a BGP session, as BGP passes it to the hook */
static struct bgp_channel *
ipv4_of(const char *name)
{
  struct channel *c = HEAD(bgp(name)->p.channels);
  assert_true(NODE_VALID(c));
  assert_int_equal(c->net_type, NET_IP4);
  return (void *) c;
}

/* Attributes as received: large communities @lcs (count @n) */
static rta *
received(const lcomm *lcs, uint n)
{
  rta *a = lp_allocz(lp, RTA_MAX_SIZE);
  const struct adata *set = NULL;

  for (uint i = 0; i < n; i++)
    set = lc_set_add(lp, set, lcs[i]);

  if (set)
    bgp_set_attr_ptr(&a->eattrs, lp, BA_LARGE_COMMUNITY, 0, set);

  return a;
}

static const struct adata *
lcs_of(rta *a)
{
  eattr *e = bgp_find_attr(a->eattrs, BA_LARGE_COMMUNITY);
  assert_non_null(e);
  return e->u.ptr;
}

static void
egress_is_found_by_session(void **state UNUSED)
{
  struct autopilot_proto *p = setup(
    "  egress t1 { label 1001; pp label 2001; };\n"
    "  egress neighbor 10.0.2.2 { label 1002; pp label 2002; };\n");

  assert_string_equal(autopilot_egress_of_bgp(p, bgp("t1"))->name, "t1");
  assert_string_equal(autopilot_egress_of_bgp(p, bgp("t2"))->name, "10.0.2.2");
  assert_null(autopilot_egress_of_bgp(p, bgp("h1")));
}

/* BGP's receive path: every registered hook, as bgp_finish_attrs() runs them */
static void
rx_hooks(const char *from, rta *a)
{
  struct bgp_hooks *h;
  WALK_LIST(h, bgp_hooks)
    if (h->rx_attrs)
      h->rx_attrs(bgp(from), ipv4_of(from), a, lp);
}

/* Attributes of @a as BGP sends a path from egress session @from to @to */
static ea_list *
sent(rta *a, const char *from, const char *to)
{
  struct rte_src src = { .proto = &bgp(from)->p };
  rte r = { .attrs = a, .src = &src };
  ea_list *attrs = a->eattrs;

  struct bgp_hooks *h;
  WALK_LIST(h, bgp_hooks)
    if (h->tx_attrs)
      h->tx_attrs(bgp(to), ipv4_of(to), &r, &attrs, lp);
  return attrs;
}

static const struct adata *
lcs_sent(rta *a, const char *from, const char *to)
{
  eattr *e = bgp_find_attr(sent(a, from, to), BA_LARGE_COMMUNITY);
  return e ? e->u.ptr : NULL;
}

static void
path_gets_label_and_pp_community(void **state UNUSED)
{
  setup("  egress t1 { label 1001; pp label 2001; };\n"
	"  egress t2 { label 1002; pp label 2002; };\n");
  rta *a = received(NULL, 0);

  /* BGP's receive path calls the hook; a session that is no egress is left alone */
  rx_hooks("h1", a);
  assert_null(ea_find(a->eattrs, EA_MPLS_LABEL));
  assert_null(bgp_find_attr(a->eattrs, BA_LARGE_COMMUNITY));
  assert_null(lcs_sent(a, "h1", "t1"));

  /* The table keeps the label only */
  rx_hooks("t1", a);
  assert_int_equal(ea_get_int(a->eattrs, EA_MPLS_LABEL, 0), 1001);
  assert_null(bgp_find_attr(a->eattrs, BA_LARGE_COMMUNITY));

  /* The Precision Path label is added as the path is sent to a host ... */
  const struct adata *set = lcs_sent(a, "t1", "h1");
  assert_non_null(set);
  assert_int_equal(lc_set_get_size(set), 1);
  assert_true(lc_set_contains(set, (lcomm) { 65000, AUTOPILOT_LC_PP_LABEL, 2001 }));
  assert_null(bgp_find_attr(a->eattrs, BA_LARGE_COMMUNITY));

  /* ... and not to another egress: transits have no use for our labels */
  assert_null(lcs_sent(a, "t1", "t2"));
}

/* A path that is not tagged (autopilot started after it came) gets nothing */
static void
untagged_path_is_sent_as_it_is(void **state UNUSED)
{
  setup("  egress t1 { label 1001; pp label 2001; };\n");
  const lcomm theirs[] = { { 64501, 9, 9 } };
  rta *a = received(theirs, 1);
  const struct adata *set = lcs_sent(a, "t1", "h1");

  assert_int_equal(lc_set_get_size(set), 1);
  assert_true(lc_set_contains(set, (lcomm) { 64501, 9, 9 }));
}

static void
egress_cannot_choose_our_communities(void **state UNUSED)
{
  struct autopilot_proto *p = setup("  egress t1 { label 1001; pp label 2001; };\n");
  const lcomm sent[] = {
    { 65000, AUTOPILOT_LC_LABEL, 9 },		/* spoofed primary label */
    { 65000, AUTOPILOT_LC_PP_LABEL, 999 },	/* spoofed pp label */
    { 65000, AUTOPILOT_LC_OVERRIDE, 1 },	/* spoofed override marker */
    { 65000, AUTOPILOT_LC_PP_DISABLE, 0 },	/* spoofed disable */
    { 65000, 7, 5 },				/* our ASN, not our function */
    { 64501, AUTOPILOT_LC_PP_LABEL, 1 },	/* someone else's */
  };
  rta *a = received(sent, ARRAY_SIZE(sent));

  autopilot_tag_attrs(p, autopilot_egress_of_bgp(p, bgp("t1")), a, lp);

  const struct adata *set = lcs_sent(a, "t1", "h1");
  assert_int_equal(lc_set_get_size(set), 3);
  assert_true(lc_set_contains(set, (lcomm) { 65000, 7, 5 }));
  assert_true(lc_set_contains(set, (lcomm) { 64501, AUTOPILOT_LC_PP_LABEL, 1 }));
  assert_true(lc_set_contains(set, (lcomm) { 65000, AUTOPILOT_LC_PP_LABEL, 2001 }));
}

/* Nothing left after scrubbing: no empty attribute in the table */
static void
scrubbed_set_is_removed(void **state UNUSED)
{
  struct autopilot_proto *p = setup("  egress t1 { label 1001; pp label 2001; };\n");
  const lcomm sent[] = { { 65000, AUTOPILOT_LC_PP_LABEL, 999 }, AUTOPILOT_PP_DEFAULT };
  rta *a = received(sent, ARRAY_SIZE(sent));

  autopilot_tag_attrs(p, autopilot_egress_of_bgp(p, bgp("t1")), a, lp);
  assert_null(bgp_find_attr(a->eattrs, BA_LARGE_COMMUNITY));
  assert_int_equal(ea_get_int(a->eattrs, EA_MPLS_LABEL, 0), 1001);
}

/*
 * A set a transit marked partial keeps the bit when our communities are
 * scrubbed from it, and when ours are added for a host (RFC 4271 5: once
 * set it must not be cleared). Found by the bgp fuzz target: BGP without
 * our hooks kept the bit, with them it was gone.
 */
static void
partial_bit_survives_scrub(void **state UNUSED)
{
  struct autopilot_proto *p = setup("  egress t1 { label 1001; pp label 2001; };\n");
  const lcomm from[] = { { 65000, AUTOPILOT_LC_PP_LABEL, 999 }, { 64501, 1, 1 } };
  rta *a = received(from, ARRAY_SIZE(from));
  bgp_find_attr(a->eattrs, BA_LARGE_COMMUNITY)->flags |= BAF_PARTIAL;

  autopilot_tag_attrs(p, autopilot_egress_of_bgp(p, bgp("t1")), a, lp);
  eattr *e = bgp_find_attr(a->eattrs, BA_LARGE_COMMUNITY);
  assert_non_null(e);
  assert_int_equal(e->u.ptr->length, LCOMM_LENGTH);
  assert_true(e->flags & BAF_PARTIAL);

  /* As sent to a host, with our pp label community: still partial */
  ea_list *out = sent(a, "t1", "h1");
  eattr *o = bgp_find_attr(out, BA_LARGE_COMMUNITY);
  assert_non_null(o);
  assert_true(lc_set_contains(o->u.ptr, (lcomm) { 65000, AUTOPILOT_LC_PP_LABEL, 2001 }));
  assert_true(o->flags & BAF_PARTIAL);
}

static void
egress_cannot_disable_precision_path(void **state UNUSED)
{
  struct autopilot_proto *p = setup("  egress t1 { label 1001; pp label 2001; };\n");
  const lcomm sent[] = { AUTOPILOT_PP_DEFAULT, { 64501, 9, 9 } };
  rta *a = received(sent, ARRAY_SIZE(sent));

  autopilot_tag_attrs(p, autopilot_egress_of_bgp(p, bgp("t1")), a, lp);
  assert_false(lc_set_contains(lcs_of(a), AUTOPILOT_PP_DEFAULT));
  assert_true(lc_set_contains(lcs_of(a), (lcomm) { 64501, 9, 9 }));

  /* A standard disable community is scrubbed from bgp_community */
  ap_configure(BASE "pp disable community (65000, 666);\n"
	       "protocol autopilot ap { egress t1 { label 1001; pp label 2001; }; }\n");
  p = (void *) ap_find_proto("ap");
  a = received(NULL, 0);
  const struct adata *comms = int_set_add(lp, int_set_add(lp, NULL, (65000U << 16) | 666), (64501U << 16) | 1);
  bgp_set_attr_ptr(&a->eattrs, lp, BA_COMMUNITY, 0, comms);

  autopilot_tag_attrs(p, autopilot_egress_of_bgp(p, bgp("t1")), a, lp);
  eattr *c = bgp_find_attr(a->eattrs, BA_COMMUNITY);
  assert_false(int_set_contains(c->u.ptr, (65000U << 16) | 666));
  assert_true(int_set_contains(c->u.ptr, (64501U << 16) | 1));
}

static void
label_community_and_asn_options(void **state UNUSED)
{
  struct autopilot_proto *p = setup("  asn 4200000000;\n  label community on;\n"
				    "  egress t1 { label 1001; pp label 2001; };\n");
  rta *a = received(NULL, 0);

  autopilot_tag_attrs(p, autopilot_egress_of_bgp(p, bgp("t1")), a, lp);

  const struct adata *set = lcs_sent(a, "t1", "h1");
  assert_int_equal(lc_set_get_size(set), 2);
  assert_true(lc_set_contains(set, (lcomm) { 4200000000u, AUTOPILOT_LC_LABEL, 1001 }));
  assert_true(lc_set_contains(set, (lcomm) { 4200000000u, AUTOPILOT_LC_PP_LABEL, 2001 }));
}

static void
reconfigured_labels_are_used(void **state UNUSED)
{
  setup("  egress t1 { label 1001; pp label 2001; };\n");
  struct autopilot_proto *p = setup("  egress t1 { label 1101; pp label 2101; };\n");
  rta *a = received(NULL, 0);

  autopilot_tag_attrs(p, autopilot_egress_of_bgp(p, bgp("t1")), a, lp);
  assert_int_equal(ea_get_int(a->eattrs, EA_MPLS_LABEL, 0), 1101);
  assert_true(lc_set_contains(lcs_sent(a, "t1", "h1"), (lcomm) { 65000, AUTOPILOT_LC_PP_LABEL, 2101 }));
}

int
main(void)
{
  ap_bird_init();
  lp = lp_new_default(&root_pool);

  const struct CMUnitTest tests[] = {
    cmocka_unit_test(egress_is_found_by_session),
    cmocka_unit_test(path_gets_label_and_pp_community),
    cmocka_unit_test(untagged_path_is_sent_as_it_is),
    cmocka_unit_test(egress_cannot_choose_our_communities),
    cmocka_unit_test(scrubbed_set_is_removed),
    cmocka_unit_test(partial_bit_survives_scrub),
    cmocka_unit_test(egress_cannot_disable_precision_path),
    cmocka_unit_test(label_community_and_asn_options),
    cmocka_unit_test(reconfigured_labels_are_used),
  };

  return cmocka_run_group_tests_name("tagging", tests, NULL, NULL);
}
