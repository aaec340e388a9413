/*
 *	bird-autopilot unit tests -- ranking paths into Precision Path alternates
 *
 *	(c) 2026 bird-autopilot developers
 *
 *	Can be freely distributed and used under the terms of the GNU GPL.
 */

#include "harness.h"

#include "nest/attrs.h"
#include "nest/route.h"
#include "lib/resource.h"
#include "proto/bgp/bgp.h"
#include "proto/autopilot/autopilot.h"

/* A host's session to its switch: every path comes through it (ADD-PATH) */
#define CONFIG \
  "router id 192.0.2.11;\n" \
  "protocol device {}\n" \
  "protocol bgp sw { disabled; local 10.0.10.2 as 65000; neighbor 10.0.10.1 as 65000;\n" \
  "  ipv4 mpls { import all; export none; add paths rx; }; }\n"

static linpool *lp;
static struct autopilot_pp_community pp;
static net *n;
static uint path_id;

/* What a host receives: a path from the switch, its label, pp label, attributes */
struct path {
  u32 as;			/* Neighbor AS (AS path: this one AS) */
  u32 med;			/* MED, 0 for none */
  u32 local_pref;		/* LOCAL_PREF */
  u32 label;			/* Primary label (in the next hop) */
  u32 pp_label;			/* Precision Path label, 0 for none */
  int disabled;			/* Carries the disable community */
};

static rte *
add_path(struct path pa)
{
  rta *a = lp_allocz(lp, sizeof(rta) + sizeof(u32));
  a->source = RTS_BGP;
  a->dest = RTD_UNICAST;
  a->pref = 100;
  a->from = ipa_from_ip4(ip4_build(10, 0, 10, 1));
  a->nh.gw = a->from;
  a->nh.labels = 1;
  a->nh.label[0] = pa.label;

  bgp_set_attr_u32(&a->eattrs, lp, BA_ORIGIN, 0, ORIGIN_IGP);
  bgp_set_attr_ptr(&a->eattrs, lp, BA_AS_PATH, 0, as_path_prepend(lp, &null_adata, pa.as));
  bgp_set_attr_u32(&a->eattrs, lp, BA_LOCAL_PREF, 0, pa.local_pref ?: 100);
  if (pa.med)
    bgp_set_attr_u32(&a->eattrs, lp, BA_MULTI_EXIT_DISC, 0, pa.med);

  const struct adata *lcs = NULL;
  if (pa.pp_label)
    lcs = lc_set_add(lp, lcs, (lcomm) { 65000, AUTOPILOT_LC_PP_LABEL, pa.pp_label });
  if (pa.disabled)
    lcs = lc_set_add(lp, lcs, pp.lc);
  if (lcs)
    bgp_set_attr_ptr(&a->eattrs, lp, BA_LARGE_COMMUNITY, 0, lcs);

  rte *e = lp_allocz(lp, sizeof(rte));
  e->attrs = a;
  e->src = rt_get_source(ap_find_proto("sw"), ++path_id);

  /* Append: the list order is the table's order */
  rte **k = &n->routes;
  while (*k)
    k = &(*k)->next;
  *k = e;

  return e;
}

static int
setup(void **state UNUSED)
{
  n = lp_allocz(lp, sizeof(net) + sizeof(net_addr_ip4));
  return 0;
}

static uint
rank(struct autopilot_alt *out, uint k, int *disabled)
{
  return autopilot_rank(n, 65000, &pp, out, k, disabled);
}

static void
alternates_follow_local_pref(void **state UNUSED)
{
  rte *low = add_path((struct path) { .as = 100, .local_pref = 50, .label = 1001, .pp_label = 2001 });
  rte *best = add_path((struct path) { .as = 200, .local_pref = 300, .label = 1002, .pp_label = 2002 });
  rte *mid = add_path((struct path) { .as = 300, .local_pref = 200, .label = 1003, .pp_label = 2003 });
  (void) best;

  struct autopilot_alt alts[AUTOPILOT_MAX_ALT];
  int disabled;

  assert_int_equal(rank(alts, 2, &disabled), 2);
  assert_false(disabled);
  assert_ptr_equal(alts[0].r, mid);
  assert_int_equal(alts[0].pp_label, 2003);
  assert_ptr_equal(alts[1].r, low);
  assert_int_equal(alts[1].pp_label, 2001);

  /* K = 1 gives the first alternate only; K beyond the egresses gives what there is */
  assert_int_equal(rank(alts, 1, &disabled), 1);
  assert_ptr_equal(alts[0].r, mid);
  assert_int_equal(rank(alts, 8, &disabled), 2);
}

/*
 * MED counts only between paths of one neighbor AS: P3 beats P1 (same AS,
 * lower MED), P2 ties with both. Best is P3; the alternates are P1 then P2
 * in table order. A comparator sort would depend on the sort's order of
 * comparisons; picking the best of the rest does not.
 */
static void
med_only_within_a_neighbor_as(void **state UNUSED)
{
  rte *p1 = add_path((struct path) { .as = 100, .med = 10, .label = 1001, .pp_label = 2001 });
  rte *p2 = add_path((struct path) { .as = 200, .med = 1, .label = 1002, .pp_label = 2002 });
  rte *p3 = add_path((struct path) { .as = 100, .med = 5, .label = 1003, .pp_label = 2003 });
  (void) p3;

  struct autopilot_alt alts[AUTOPILOT_MAX_ALT];
  int disabled;

  assert_true(rte_better(p3, p1));
  assert_false(rte_better(p2, p1));
  assert_false(rte_better(p1, p2));

  assert_int_equal(rank(alts, 2, &disabled), 2);
  assert_ptr_equal(alts[0].r, p1);
  assert_ptr_equal(alts[1].r, p2);
}

static void
equal_paths_are_deterministic(void **state UNUSED)
{
  rte *p[4];
  for (uint i = 0; i < 4; i++)
    p[i] = add_path((struct path) { .as = 100 + i, .label = 1001 + i, .pp_label = 2001 + i });

  struct autopilot_alt a[AUTOPILOT_MAX_ALT], b[AUTOPILOT_MAX_ALT];
  int disabled;

  assert_int_equal(rank(a, 3, &disabled), 3);
  assert_int_equal(rank(b, 3, &disabled), 3);
  assert_memory_equal(a, b, 3 * sizeof(struct autopilot_alt));

  /* Ties keep table order after the best (the first) */
  assert_ptr_equal(a[0].r, p[1]);
  assert_ptr_equal(a[1].r, p[2]);
  assert_ptr_equal(a[2].r, p[3]);
}

static void
one_alternate_per_egress(void **state UNUSED)
{
  /* An override copy and its original carry the same label: one egress */
  add_path((struct path) { .as = 200, .local_pref = 4000, .label = 1002, .pp_label = 2002 });
  add_path((struct path) { .as = 200, .label = 1002, .pp_label = 2002 });
  rte *other = add_path((struct path) { .as = 100, .label = 1001, .pp_label = 2001 });
  add_path((struct path) { .as = 100, .local_pref = 90, .label = 1001, .pp_label = 2001 });

  struct autopilot_alt alts[AUTOPILOT_MAX_ALT];
  int disabled;

  assert_int_equal(rank(alts, 3, &disabled), 1);
  assert_ptr_equal(alts[0].r, other);
  assert_int_equal(alts[0].label, 1001);
}

static void
disable_community_on_any_path(void **state UNUSED)
{
  add_path((struct path) { .as = 200, .label = 1002, .pp_label = 2002 });
  add_path((struct path) { .as = 100, .label = 1001, .pp_label = 2001, .disabled = 1 });
  add_path((struct path) { .as = 300, .label = 1003, .pp_label = 2003 });

  struct autopilot_alt alts[AUTOPILOT_MAX_ALT];
  int disabled;

  assert_int_equal(rank(alts, 2, &disabled), 0);
  assert_true(disabled);
}

static void
path_without_pp_label_is_no_alternate(void **state UNUSED)
{
  add_path((struct path) { .as = 200, .local_pref = 300, .label = 1002, .pp_label = 2002 });
  add_path((struct path) { .as = 100, .local_pref = 200, .label = 1001 });	/* untagged */
  rte *third = add_path((struct path) { .as = 300, .local_pref = 100, .label = 1003, .pp_label = 2003 });

  struct autopilot_alt alts[AUTOPILOT_MAX_ALT];
  int disabled;

  assert_int_equal(rank(alts, 2, &disabled), 1);
  assert_ptr_equal(alts[0].r, third);
}

/* A pp label no egress can have (reserved, or over 20 bits) is none: no kernel route with it */
static void
impossible_pp_label_is_no_alternate(void **state UNUSED)
{
  add_path((struct path) { .as = 200, .local_pref = 300, .label = 1002, .pp_label = 2002 });
  add_path((struct path) { .as = 100, .local_pref = 250, .label = 1001, .pp_label = 3 });
  add_path((struct path) { .as = 400, .local_pref = 200, .label = 1004, .pp_label = 1 << 20 });
  rte *last = add_path((struct path) { .as = 300, .local_pref = 100, .label = 1003, .pp_label = 1048575 });

  struct autopilot_alt alts[AUTOPILOT_MAX_ALT];
  int disabled;

  assert_int_equal(rank(alts, 2, &disabled), 1);
  assert_ptr_equal(alts[0].r, last);
  assert_int_equal(alts[0].pp_label, 1048575);
}

static void
unreachable_path_is_no_alternate(void **state UNUSED)
{
  add_path((struct path) { .as = 200, .label = 1002, .pp_label = 2002 });
  rte *dead = add_path((struct path) { .as = 100, .label = 1001, .pp_label = 2001 });
  dead->attrs->dest = RTD_UNREACHABLE;

  struct autopilot_alt alts[AUTOPILOT_MAX_ALT];
  int disabled;

  assert_int_equal(rank(alts, 2, &disabled), 0);
  assert_false(disabled);
}

int
main(void)
{
  ap_bird_init();
  lp = lp_new_default(&root_pool);
  ap_configure(CONFIG);
  pp = (struct autopilot_pp_community) { .large = 1, .lc = AUTOPILOT_PP_DEFAULT };

  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup(alternates_follow_local_pref, setup),
    cmocka_unit_test_setup(med_only_within_a_neighbor_as, setup),
    cmocka_unit_test_setup(equal_paths_are_deterministic, setup),
    cmocka_unit_test_setup(one_alternate_per_egress, setup),
    cmocka_unit_test_setup(disable_community_on_any_path, setup),
    cmocka_unit_test_setup(path_without_pp_label_is_no_alternate, setup),
    cmocka_unit_test_setup(impossible_pp_label_is_no_alternate, setup),
    cmocka_unit_test_setup(unreachable_path_is_no_alternate, setup),
  };

  return cmocka_run_group_tests_name("ranking", tests, NULL, NULL);
}
