/*
 *	bird-autopilot unit tests -- egress map validation
 *
 *	(c) 2026 bird-autopilot developers
 *
 *	Can be freely distributed and used under the terms of the GNU GPL.
 */

#include "harness.h"

#include "proto/autopilot/autopilot.h"

/* Two egress sessions and a non-BGP protocol to refer to */
#define BASE \
  "router id 192.0.2.1;\n" \
  "protocol device {}\n" \
  "protocol static st { ipv4; }\n" \
  "protocol bgp t1 { local 10.0.1.1 as 65000; neighbor 10.0.1.2 as 64501; ipv4 { import all; export none; }; }\n" \
  "protocol bgp t2 { local 10.0.2.1 as 65000; neighbor 10.0.2.2 as 64502;\n" \
  "  ipv4 { import all; export none; }; ipv6 { import all; export none; }; }\n"

#define AP(body) BASE "protocol autopilot ap {\n" body "}\n"

static void
valid_map_parses(void **state UNUSED)
{
  struct config *c = ap_parse_ok(AP(
    "  egress t1 { label 1001; pp label 2001; };\n"
    "  egress t2 { label 1002; pp label 2002; };\n"
    "  egress neighbor 10.0.3.2 { label 1003; pp label 2003; };\n"));
  assert_non_null(c);

  struct autopilot_config *cf = (void *) ((struct symbol *) cf_find_symbol(c, (const byte *) "ap"))->proto;
  assert_int_equal(list_length(&cf->egresses), 3);
  assert_int_equal(cf->asn, 65000);	/* taken from the egress sessions */

  struct autopilot_egress_config *e = autopilot_egress_find(cf, "10.0.3.2");
  assert_non_null(e);
  assert_int_equal(e->label, 1003);
  assert_int_equal(e->pp_label, 2003);
  assert_null(e->bgp);
}

static void
label_bounds_are_inclusive(void **state UNUSED)
{
  assert_non_null(ap_parse_ok(AP("  egress t1 { label 16; pp label 1048575; };\n")));
}

/* Every egress is found by name, neighbor address and label through the index */
static void
index_finds_every_egress(void **state UNUSED)
{
  static char text[8192];		/* The parser reads it as it goes */
  uint n = bsnprintf(text, sizeof(text), BASE "protocol autopilot ap {\n");
  for (uint i = 0; i < 40; i++)
    n += bsnprintf(text + n, sizeof(text) - n, "  egress neighbor 10.1.%u.2 { label %u; pp label %u; };\n",
		   i, 1100 + i, 2100 + i);
  bsnprintf(text + n, sizeof(text) - n, "  egress t1 { label 1001; pp label 2001; };\n}\n");
  struct config *c = ap_parse_ok(text);
  struct autopilot_config *cf = (void *) ((struct symbol *) cf_find_symbol(c, (const byte *) "ap"))->proto;
  assert_int_equal(cf->egress_count, 41);
  assert_true(cf->eg_mask >= 2 * 41 - 1);

  for (uint i = 0; i < 40; i++)
  {
    char *name = tmp_sprintf("10.1.%u.2", i);
    ip4_addr a4;
    assert_true(ip4_pton(name, &a4));
    ip_addr a = ipa_from_ip4(a4);
    struct autopilot_egress_config *e = autopilot_egress_find(cf, name);
    assert_non_null(e);
    assert_int_equal(e->label, 1100 + i);
    assert_ptr_equal(autopilot_egress_by_addr(cf, a), e);
    assert_ptr_equal(autopilot_egress_by_label(cf, 1100 + i), e);
    assert_int_equal(e->index, i);
  }

  /* A BGP egress by its session's address; nothing for what is no egress */
  ip4_addr t1_4, other4;
  assert_true(ip4_pton("10.0.1.2", &t1_4) && ip4_pton("10.1.99.2", &other4));
  ip_addr t1 = ipa_from_ip4(t1_4), other = ipa_from_ip4(other4);
  assert_ptr_equal(autopilot_egress_by_addr(cf, t1), autopilot_egress_find(cf, "t1"));
  assert_null(autopilot_egress_by_addr(cf, other));
  assert_null(autopilot_egress_by_label(cf, 2001));	/* a pp label */
  assert_null(autopilot_egress_find(cf, "t2"));
}

/* A configuration of the egress map and the error it must be refused with */
struct map_error {
  const char *body;		/* Inside protocol autopilot ap { } */
  const char *error;		/* Expected in the parse error */
};

#define E1 "  egress t1 { label 1001; pp label 2001; };\n"

static const struct map_error map_errors[] = {
  { "  egress t1 { label 15; pp label 2001; };\n", "Egress t1: label 15 out of range 16..1048575" },
  { "  egress t1 { label 1001; pp label 1048576; };\n", "Egress t1: label 1048576 out of range 16..1048575" },
  { "  egress t1 { pp label 2001; };\n", "Egress t1: label not specified" },
  { "  egress t1 { label 1001; };\n", "Egress t1: pp label not specified" },
  { E1 "  egress t1 { label 1002; pp label 2002; };\n", "Egress t1 defined twice" },
  { "  egress neighbor 10.0.3.2 { label 1001; pp label 2001; };\n"
    "  egress neighbor 10.0.3.2 { label 1002; pp label 2002; };\n", "Egress 10.0.3.2 defined twice" },
  { E1 "  egress neighbor 10.0.1.2 { label 1002; pp label 2002; };\n",
    "Egress 10.0.1.2: neighbor 10.0.1.2 is already egress t1" },
  { E1 "  egress t2 { label 1001; pp label 2002; };\n", "Egress t2: label 1001 already used as label of egress t1" },
  { E1 "  egress t2 { label 1002; pp label 2001; };\n", "Egress t2: pp label 2001 already used as pp label of egress t1" },
  { E1 "  egress t2 { label 2001; pp label 2002; };\n", "Egress t2: label 2001 already used as pp label of egress t1" },
  { E1 "  egress t2 { label 1002; pp label 1001; };\n", "Egress t2: pp label 1001 already used as label of egress t1" },
  { "  egress t1 { label 1001; pp label 1001; };\n", "Egress t1: label and pp label must differ (both 1001)" },
  { "  egress nosuch { label 1001; pp label 2001; };\n", "Egress nosuch: no BGP protocol of that name" },
  { "  egress st { label 1001; pp label 2001; };\n", "Egress st: st is a Static protocol, not BGP" },
  { "", "nothing to do, give an egress or a channel" },
  /* 17 hex digits: BIRD's lexer read an unset end pointer (patch 0009) */
  { "  egress t1 { label 0x11111111111111111; pp label 2001; };\n", "Number out of range" },
};

/* Each row of map_errors is refused with its message */
static void
map_error_refused(void **state)
{
  const struct map_error *m = *state;
  assert_config_error(tmp_sprintf(AP("%s"), m->body), m->error);
}

static void
asn_needed_without_bgp_egress(void **state UNUSED)
{
  assert_config_error(AP("  egress neighbor 10.0.3.2 { label 1001; pp label 2001; };\n"),
		      "asn not specified, and no egress BGP protocol to take it from");
  assert_non_null(ap_parse_ok(AP("  asn 65000;\n"
			      "  egress neighbor 10.0.3.2 { label 1001; pp label 2001; };\n")));
}

static void
lfib_without_egress(void **state UNUSED)
{
  assert_config_error(BASE "mpls domain md;\nmpls table mt;\n"
		      "protocol autopilot ap { ipv4; mpls { table mt; }; }\n",
		      "mpls channel (LFIB) without egresses");
}

static void
lfib_labels_inside_channel_range(void **state UNUSED)
{
  const char *domain =
    "mpls domain md { label range aplabels { start 3000; length 100; }; }\n"
    "mpls table mt;\n";

  assert_non_null(ap_parse_ok(BASE "mpls domain md;\nmpls table mt;\n"
			      "protocol autopilot ap { mpls { table mt; };\n"
			      "  egress t1 { label 1001; pp label 2001; }; }\n"));

  assert_config_error(BASE "mpls domain md;\nmpls table mt;\n"
		      "protocol autopilot ap { mpls { table mt; label range static; };\n"
		      "  egress t1 { label 100; pp label 2001; }; }\n",
		      "Egress t1: pp label 2001 outside label range static (16..999) of MPLS domain md");

  struct config *c = ap_parse(tmp_sprintf("%s%s%s", BASE, domain,
	"protocol autopilot ap { mpls { table mt; label range aplabels; };\n"
	"  egress t1 { label 3000; pp label 3100; }; }\n"));
  assert_null(c);
  if (!strstr(ap_parse_error, "Egress t1: pp label 3100 outside label range aplabels (3000..3099)"))
    fail_msg("unexpected error: %s", ap_parse_error);
}

int
main(void)
{
  ap_bird_init();

  /* One test per row, so that a failure names its configuration */
  struct CMUnitTest tests[ARRAY_SIZE(map_errors) + 6];
  uint n = 0;
  tests[n++] = (struct CMUnitTest) cmocka_unit_test(valid_map_parses);
  tests[n++] = (struct CMUnitTest) cmocka_unit_test(label_bounds_are_inclusive);
  tests[n++] = (struct CMUnitTest) cmocka_unit_test(index_finds_every_egress);
  ap_table_tests(tests, n, map_errors, error, map_error_refused);
  tests[n++] = (struct CMUnitTest) cmocka_unit_test(asn_needed_without_bgp_egress);
  tests[n++] = (struct CMUnitTest) cmocka_unit_test(lfib_without_egress);
  tests[n++] = (struct CMUnitTest) cmocka_unit_test(lfib_labels_inside_channel_range);

  return _cmocka_run_group_tests("egress map", tests, n, NULL, NULL);
}
