/*
 *	bird-autopilot unit tests -- Precision Path filter keywords
 *
 *	(c) 2026 bird-autopilot developers
 *
 *	Can be freely distributed and used under the terms of the GNU GPL.
 */

#include "harness.h"

#include "nest/attrs.h"
#include "nest/route.h"
#include "filter/filter.h"
#include "lib/resource.h"
#include "lib/string.h"
#include "proto/bgp/bgp.h"
#include "proto/autopilot/autopilot.h"

static linpool *lp;
static u32 nh_label;			/* The route's next hop label, 0 for none */

#define FILTERS \
  "filter disable { pp_disable; accept; }\n" \
  "filter enable { pp_enable; accept; }\n" \
  "filter only_disabled { if pp_disabled then accept; reject; }\n" \
  "filter twice { pp_disable; pp_disable; accept; }\n"

/* Run filter @name of @c on a route whose communities are set by @lcs/@comms */
static rte *
run(struct config *c, const char *name, const lcomm *lcs, uint nlc, const u32 *comms, uint nc, int *accepted)
{
  struct symbol *sym = cf_find_symbol(c, (const byte *) name);
  assert_non_null(sym);
  assert_int_equal(sym->class, SYM_FILTER);

  rta *a = lp_allocz(lp, RTA_MAX_SIZE);
  a->source = RTS_STATIC;
  a->dest = RTD_BLACKHOLE;
  if (nh_label)
  {
    a->dest = RTD_UNICAST;
    a->nh.labels = 1;
    a->nh.label[0] = nh_label;
  }

  const struct adata *set = NULL;
  for (uint i = 0; i < nlc; i++)
    set = lc_set_add(lp, set, lcs[i]);
  if (set)
    bgp_set_attr_ptr(&a->eattrs, lp, BA_LARGE_COMMUNITY, 0, set);

  set = NULL;
  for (uint i = 0; i < nc; i++)
    set = int_set_add(lp, set, comms[i]);
  if (set)
    bgp_set_attr_ptr(&a->eattrs, lp, BA_COMMUNITY, 0, set);

  rte *e = lp_allocz(lp, sizeof(rte));
  e->attrs = a;
  e->src = rt_get_source(ap_find_proto("device1"), 1);

  *accepted = (f_run(sym->filter, &e, lp, FF_SILENT) <= F_ACCEPT);
  return e;
}

static const struct adata *
lcs_of(rte *e)
{
  eattr *a = bgp_find_attr(e->attrs->eattrs, BA_LARGE_COMMUNITY);
  return a ? a->u.ptr : NULL;
}

static const struct adata *
comms_of(rte *e)
{
  eattr *a = bgp_find_attr(e->attrs->eattrs, BA_COMMUNITY);
  return a ? a->u.ptr : NULL;
}

static void
default_is_the_documented_large_community(void **state UNUSED)
{
  ap_configure("router id 1.1.1.1;\nprotocol device {}\n" FILTERS);
  struct config *c = config;
  int ok;
  const lcomm other = { 65000, 2, 2001 };

  rte *e = run(c, "disable", &other, 1, NULL, 0, &ok);
  assert_true(ok);

  /* BGP export asserts these flags of every BGP attribute a filter sets */
  eattr *a = bgp_find_attr(e->attrs->eattrs, BA_LARGE_COMMUNITY);
  assert_int_equal(a->flags & (BAF_OPTIONAL | BAF_TRANSITIVE), BAF_OPTIONAL | BAF_TRANSITIVE);
  assert_true(lc_set_contains(lcs_of(e), (lcomm) { 4200000000U, 4, 0 }));
  assert_true(lc_set_contains(lcs_of(e), other));	/* the others stay */

  run(c, "only_disabled", &other, 1, NULL, 0, &ok);
  assert_false(ok);

  const lcomm both[] = { other, { 4200000000U, 4, 0 } };
  run(c, "only_disabled", both, 2, NULL, 0, &ok);
  assert_true(ok);

  e = run(c, "enable", both, 2, NULL, 0, &ok);
  assert_int_equal(lc_set_get_size(lcs_of(e)), 1);
  assert_true(lc_set_contains(lcs_of(e), other));

  e = run(c, "twice", NULL, 0, NULL, 0, &ok);
  assert_int_equal(lc_set_get_size(lcs_of(e)), 1);
}

static void
configured_large_community(void **state UNUSED)
{
  ap_configure("router id 1.1.1.1;\npp disable community (65000, 4, 7);\nprotocol device {}\n" FILTERS);
  int ok;
  const lcomm dflt = { 4200000000U, 4, 0 }, mine = { 65000, 4, 7 };

  run(config, "only_disabled", &dflt, 1, NULL, 0, &ok);
  assert_false(ok);
  run(config, "only_disabled", &mine, 1, NULL, 0, &ok);
  assert_true(ok);

  rte *e = run(config, "disable", NULL, 0, NULL, 0, &ok);
  assert_true(lc_set_contains(lcs_of(e), mine));
}

static void
configured_standard_community(void **state UNUSED)
{
  ap_configure("router id 1.1.1.1;\npp disable community (65000, 666);\nprotocol device {}\n" FILTERS);
  int ok;
  const u32 mine = (65000U << 16) | 666, other = (65000U << 16) | 1;

  run(config, "only_disabled", &(lcomm) { 65000, 666, 0 }, 1, &other, 1, &ok);
  assert_false(ok);
  run(config, "only_disabled", NULL, 0, &mine, 1, &ok);
  assert_true(ok);

  rte *e = run(config, "disable", NULL, 0, &other, 1, &ok);
  assert_true(int_set_contains(comms_of(e), mine));
  assert_int_equal(bgp_find_attr(e->attrs->eattrs, BA_COMMUNITY)->flags & (BAF_OPTIONAL | BAF_TRANSITIVE),
		   BAF_OPTIONAL | BAF_TRANSITIVE);
  assert_true(int_set_contains(comms_of(e), other));
  assert_null(lcs_of(e));

  const u32 both[] = { other, mine };
  e = run(config, "enable", NULL, 0, both, 2, &ok);
  assert_false(int_set_contains(comms_of(e), mine));
  assert_true(int_set_contains(comms_of(e), other));
}

static void
each_config_starts_from_the_default(void **state UNUSED)
{
  ap_configure("router id 1.1.1.1;\npp disable community (65000, 666);\nprotocol device {}\n");
  ap_configure("router id 1.1.1.1;\nprotocol device {}\n" FILTERS);
  int ok;
  run(config, "only_disabled", &(lcomm) { 4200000000U, 4, 0 }, 1, NULL, 0, &ok);
  assert_true(ok);
}

static void
community_errors(void **state UNUSED)
{
  assert_config_error("router id 1.1.1.1;\nfilter f { if pp_disabled then accept; reject; }\n"
		      "pp disable community (65000, 4, 0);\n",
		      "line 3: Set the pp disable community before any filter or protocol uses it");
  assert_config_error("router id 1.1.1.1;\npp disable community 5;\n",
		      "must be a pair (a, b) or a large community (a, b, c)");
  assert_config_error("router id 1.1.1.1;\npp disable community 10.0.0.0/8;\n",
		      "must be a pair (a, b) or a large community (a, b, c)");
}

/*
 * filters/autopilot.conf, the library hosts include, on paths as hosts
 * get them: with a label on the next hop (labeled unicast), or with only
 * the label community ("label community on" for hosts without labeled
 * unicast), or with neither. A next hop without labels reads as gw_mpls 3:
 * autopilot_label() returned 3 (implicit null, plain IP to the switch)
 * instead of the community's label or 0.
 */
static void
filter_library_reads_the_tags(void **state UNUSED)
{
  FILE *f = fopen(AP_FILTER_LIB, "r");
  assert_non_null(f);
  static char text[16384];
  size_t n = fread(text, 1, sizeof(text) - 1, f);
  fclose(f);
  assert_true(n < sizeof(text) - 1024);
  bsnprintf(text + n, sizeof(text) - n,
	    "filter label_0 { if autopilot_label() = 0 then accept; reject; }\n"
	    "filter label_1001 { if autopilot_label() = 1001 then accept; reject; }\n"
	    "filter pp_2001 { if autopilot_pp_label() = 2001 then accept; reject; }\n"
	    "filter override { if autopilot_is_override() then accept; reject; }\n");
  static char cf[20000];
  bsnprintf(cf, sizeof(cf), "router id 1.1.1.1;\nprotocol device {}\ndefine AUTOPILOT_ASN = 65000;\n%s", text);
  ap_configure(cf);
  struct config *c = config;
  int ok;

  const lcomm tags[] = { { 65000, 2, 2001 }, { 65000, 3, 1 } };
  const lcomm by_community[] = { { 65000, 1, 1001 } };

  nh_label = 1001;			/* labeled unicast */
  run(c, "label_1001", tags, 2, NULL, 0, &ok);
  assert_true(ok);
  run(c, "pp_2001", tags, 2, NULL, 0, &ok);
  assert_true(ok);
  run(c, "override", tags, 2, NULL, 0, &ok);
  assert_true(ok);

  nh_label = 0;				/* the label community only */
  run(c, "label_1001", by_community, 1, NULL, 0, &ok);
  assert_true(ok);
  run(c, "override", by_community, 1, NULL, 0, &ok);
  assert_false(ok);

  run(c, "label_0", NULL, 0, NULL, 0, &ok);	/* untagged */
  assert_true(ok);
  run(c, "pp_2001", NULL, 0, NULL, 0, &ok);
  assert_false(ok);
}

int
main(void)
{
  ap_bird_init();
  lp = lp_new_default(&root_pool);

  const struct CMUnitTest tests[] = {
    cmocka_unit_test(default_is_the_documented_large_community),
    cmocka_unit_test(configured_large_community),
    cmocka_unit_test(configured_standard_community),
    cmocka_unit_test(each_config_starts_from_the_default),
    cmocka_unit_test(community_errors),
    cmocka_unit_test(filter_library_reads_the_tags),
  };

  return cmocka_run_group_tests_name("pp filter keywords", tests, NULL, NULL);
}
