/*
 *	bird-autopilot unit tests -- configurations that parse but cannot work
 *
 *	(c) 2026 bird-autopilot developers
 *
 *	Can be freely distributed and used under the terms of the GNU GPL.
 */

#include "harness.h"

#include "nest/iface.h"
#include "proto/autopilot/autopilot.h"

#define BASE \
  "router id 192.0.2.1;\n" \
  "protocol device {}\n" \
  "ipv4 table alt1; ipv4 table alt2; ipv4 table mgr4;\n" \
  "protocol bgp t1 { local 10.0.1.1 as 65000; neighbor 10.0.1.2 as 64501; ipv4 { import all; export none; }; }\n" \
  "protocol bgp t2 { local 10.0.2.1 as 65000; neighbor 10.0.2.2 as 64502; ipv4 { import all; export none; }; }\n" \
  "protocol bgp h1 { local 10.0.9.1 as 65000; neighbor 10.0.9.2 as 65000; ipv4 mpls { import none; export all; }; }\n"

/* 50 bytes of a file name, to make names too long */
#define X50 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
#define X250 X50 X50 X50 X50 X50
#define X2000 X250 X250 X250 X250 X250 X250 X250 X250

#define EGRESSES "  egress t1 { label 1001; pp label 2001; };\n"
#define SWITCH(body) BASE "protocol autopilot ap {\n  ipv4;\n" EGRESSES body "}\n"
#define HOST(body) BASE "protocol autopilot pp {\n  ipv4;\n  asn 65000;\n" body "}\n"

static void
good_ones_parse(void **state UNUSED)
{
  assert_non_null(ap_parse_ok(SWITCH("  manager table mgr4;\n  override local pref 200;\n")));
  assert_non_null(ap_parse_ok(HOST("  alternate 1 table alt1;\n  alternate 2 table alt2;\n")));
  assert_non_null(ap_parse_ok(HOST("  alternate 1 table alt1;\n  alternate copy minimal;\n")));
  assert_non_null(ap_parse_ok(HOST("  egress label 1001 table alt1;\n  alternate copy minimal;\n")));
  assert_non_null(ap_parse_ok(SWITCH("  alternate copy full;\n")));
  assert_non_null(ap_parse_ok(SWITCH("  label retire time 0 s;\n")));
  assert_non_null(ap_parse_ok(SWITCH("  controller socket \"/run/ap.ctl\" mode 0600 connections 4096;\n")));
  /* A link-local egress with the session's interface: its LFIB neighbor is found on it */
  struct config *c = ap_parse_ok(BASE "protocol bgp t6 { local as 65000; neighbor fe80::2%sw0 as 64506; ipv6 { import all; export none; }; }\n"
				 "protocol autopilot ap {\n  ipv6;\n  egress t6 { label 1006; pp label 2006; };\n}\n");
  struct autopilot_config *cf = (void *) ((struct symbol *) cf_find_symbol(c, (const byte *) "ap"))->proto;
  struct autopilot_egress_config *e = autopilot_egress_find(cf, "t6");
  assert_non_null(e);
  assert_non_null(e->iface);
  assert_string_equal(e->iface->name, "sw0");
}

/* Configurations refused with their message, one test each (named by the row) */
static const struct risky {
  const char *name;			/* The test's name */
  const char *config;			/* The whole configuration */
  const char *error;			/* What the error message says */
} risky[] = {
  { "alternate_is_the_watched_table", HOST("  alternate 1 table master4;\n"),
    "Autopilot: table master4 is both the watched and the alternate 1 table of protocol pp" },
  { "alternate_is_an_egress_table", HOST("  alternate 1 table alt1;\n  egress label 1001 table alt1;\n"),
    "table alt1 is both the alternate 1 and the egress label 1001 table" },
  { "two_alternates_one_table", HOST("  alternate 1 table alt1;\n  alternate 2 table alt1;\n"),
    "table alt1 is both the alternate 1 and the alternate 2 table" },
  { "alternate_copy_without_host_tables", SWITCH("  alternate copy minimal;\n"),
    "Autopilot: alternate copy minimal without alternate or egress tables (it is the host role's)" },
  { "manager_is_the_watched_table", SWITCH("  manager table master4;\n"),
    "table master4 is both the watched and the manager table of protocol ap" },
  { "egress_of_two_protocols", BASE
    "protocol autopilot a1 { ipv4; egress t1 { label 1001; pp label 2001; }; }\n"
    "ipv4 table other;\n"
    "protocol autopilot a2 { ipv4 { table other; }; egress t1 { label 1101; pp label 2101; }; }\n",
    "Autopilot: egress t1 is already an egress of protocol a1 (one protocol per egress)" },
  /* The same session by name in one protocol, by neighbor in the other: two taggers */
  { "egress_of_two_protocols_by_neighbor", BASE
    "protocol autopilot a1 { ipv4; egress t1 { label 1001; pp label 2001; }; }\n"
    "ipv4 table other;\n"
    "protocol autopilot a2 { ipv4 { table other; }; asn 65000; egress neighbor 10.0.1.2 { label 1101; pp label 2101; }; }\n",
    "Autopilot: egress 10.0.1.2 is already an egress of protocol a1 (one protocol per egress)" },
  /* neigh_find() of a link-local address without an interface: no LFIB entries, hosts blackholed */
  { "link_local_egress_by_neighbor", BASE "protocol autopilot ap {\n  ipv6;\n  asn 65000;\n"
    "  egress neighbor fe80::2 { label 1001; pp label 2001; };\n}\n",
    "Egress fe80::2: link-local neighbor fe80::2 without an interface: name the egress by its BGP protocol (neighbor fe80::2%IFACE)" },
  { "override_local_pref_zero", SWITCH("  override local pref 0;\n"),
    "override local pref 0: override copies would lose to every path" },
  /* Longer than tmp_sprintf() takes: the config check hit bug() (found by the config fuzz target) */
  { "state_filename_too_long", SWITCH("  state filename \"/tmp/" X2000 "\";\n"),
    "Autopilot: state filename too long (at most 240 bytes)" },
  /* Alternates kept of paths the filter hid: their withdrawals never came */
  { "watched_channel_with_export_filter", BASE "protocol autopilot pp {\n  ipv4 { export where net ~ [ 10.0.0.0/8+ ]; };\n  asn 65000;\n  alternate 1 table alt1;\n}\n",
    "Autopilot: ipv4 channel: it watches every path of its table (export all, the default)" },
  { "watched_channel_export_none", BASE "protocol autopilot ap {\n  ipv4 { export none; };\n" EGRESSES "}\n",
    "Autopilot: ipv4 channel: it watches every path of its table (export all, the default)" },
  { "label_retire_time_out_of_range", SWITCH("  label retire time 3601 s;\n"),
    "Autopilot: label retire time out of range (0 to 3600 s)" },
  { "controller_connections_none", SWITCH("  controller socket \"/run/ap.ctl\" connections 0;\n"),
    "Controller socket connections must be in range 1-4096" },
  { "controller_connections_too_many", SWITCH("  controller socket \"/run/ap.ctl\" connections 4097;\n"),
    "Controller socket connections must be in range 1-4096" },
  /* Exported MPLS routes of other protocols reached the IP route hook: bug() */
  { "mpls_channel_with_export", BASE "mpls domain md; mpls table mt;\n"
    "protocol autopilot ap {\n  ipv4;\n  mpls { table mt; export all; };\n" EGRESSES "}\n",
    "Autopilot: mpls channel: the protocol writes the LFIB and reads nothing from it (export none)" },
  { "metrics_filename_too_long", SWITCH("  metrics filename \"/tmp/" X250 "\";\n"),
    "Autopilot: metrics filename too long (at most 240 bytes)" },
};

/* Each row of risky is refused with its message */
static void
risky_refused(void **state)
{
  const struct risky *r = *state;
  assert_config_error(r->config, r->error);
}

static void
disable_community_is_ours(void **state UNUSED)
{
  /* (ASN, 2, x) is the pp label, (ASN, 3, 1) the override marker */
  assert_config_error("pp disable community (65000, 2, 2001);\n" SWITCH(""),
		      "pp disable community (65000, 2, 2001) is one of the switch's own communities "
		      "(function 2 of ASN 65000)");
  assert_config_error("pp disable community (65000, 3, 1);\n" SWITCH(""),
		      "(function 3 of ASN 65000)");
  /* Function 4 is the documented one; another ASN is the operator's */
  assert_non_null(ap_parse_ok("pp disable community (65000, 4, 0);\n" SWITCH("")));
  assert_non_null(ap_parse_ok("pp disable community (64999, 2, 1);\n" SWITCH("")));
}

static void
ibgp_egress_is_a_warning(void **state UNUSED)
{
  /* It can be right (a transit behind another router): it parses */
  assert_non_null(ap_parse_ok(BASE "protocol autopilot ap { ipv4; egress h1 { label 1001; pp label 2001; }; }\n"));
}

int
main(void)
{
  ap_bird_init();

  struct CMUnitTest tests[ARRAY_SIZE(risky) + 3];
  uint n = 0;
  tests[n++] = (struct CMUnitTest) cmocka_unit_test(good_ones_parse);
  ap_table_tests(tests, n, risky, name, risky_refused);
  tests[n++] = (struct CMUnitTest) cmocka_unit_test(disable_community_is_ours);
  tests[n++] = (struct CMUnitTest) cmocka_unit_test(ibgp_egress_is_a_warning);

  return _cmocka_run_group_tests("risky configurations", tests, n, NULL, NULL);
}
