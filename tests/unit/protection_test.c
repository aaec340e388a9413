/*
 *	bird-autopilot unit tests -- egress protection: backups in the config
 *
 *	(c) 2026 bird-autopilot developers
 *
 *	Can be freely distributed and used under the terms of the GNU GPL.
 */

#include "harness.h"

#include "proto/autopilot/autopilot.h"

#define BASE \
  "router id 192.0.2.1;\n" \
  "protocol device {}\n" \
  "mpls domain md; mpls table mt;\n" \
  "protocol bgp t1 { local 10.0.1.1 as 65000; neighbor 10.0.1.2 as 64501; ipv4 { import all; export none; }; }\n" \
  "protocol bgp t2 { local 10.0.2.1 as 65000; neighbor 10.0.2.2 as 64502; ipv4 { import all; export none; }; }\n" \
  "protocol bgp t3 { local 10.0.3.1 as 65000; neighbor 10.0.3.2 as 64503; ipv4 { import all; export none; }; }\n"

#define AP(body) BASE "protocol autopilot ap {\n  ipv4;\n  mpls { table mt; };\n" body "}\n"
#define E1 "  egress t1 { label 1001; pp label 2001; "
#define E2 "  egress t2 { label 1002; pp label 2002; };\n"
#define E3 "  egress t3 { label 1003; pp label 2003; };\n"

static struct autopilot_config *
parse(const char *text)
{
  struct config *c = ap_parse_ok(text);
  return (void *) ((struct symbol *) cf_find_symbol(c, (const byte *) "ap"))->proto;
}

static const char *
backup_of(struct autopilot_config *cf, const char *egress, uint i)
{
  struct autopilot_egress_config *e = autopilot_egress_find(cf, egress);
  assert_non_null(e);
  return (i < e->backups) ? e->backup[i]->name : NULL;
}

static void
ordered_backups(void **state UNUSED)
{
  struct autopilot_config *cf = parse(AP(E2 E3 E1 "backup t3, t2; };\n"));
  assert_string_equal(backup_of(cf, "t1", 0), "t3");
  assert_string_equal(backup_of(cf, "t1", 1), "t2");
  assert_null(backup_of(cf, "t1", 2));
  assert_null(backup_of(cf, "t2", 0));		/* no default: unprotected */
}

static void
protocol_default_skips_the_egress_itself(void **state UNUSED)
{
  struct autopilot_config *cf = parse(AP("  backup t2, t3;\n" E1 "};\n" E2 E3));
  assert_string_equal(backup_of(cf, "t1", 0), "t2");
  assert_string_equal(backup_of(cf, "t1", 1), "t3");
  assert_string_equal(backup_of(cf, "t2", 0), "t3");	/* t2 is not its own backup */
  assert_null(backup_of(cf, "t2", 1));
  assert_string_equal(backup_of(cf, "t3", 0), "t2");

  /* An egress's own list wins over the default */
  cf = parse(AP("  backup t2, t3;\n" E1 "backup t3; };\n" E2 E3));
  assert_string_equal(backup_of(cf, "t1", 0), "t3");
  assert_null(backup_of(cf, "t1", 1));
}

static void
bad_backups(void **state UNUSED)
{
  assert_config_error(AP(E1 "backup t9; };\n" E2), "Egress t1: backup t9 is not an egress of protocol ap");
  assert_config_error(AP(E1 "backup t1; };\n" E2), "Egress t1: an egress cannot be its own backup");
  assert_config_error(AP(E1 "backup t2, t2; };\n" E2), "Backup t2 given twice");
  /* t3 is a BGP protocol, but not an egress of this protocol */
  assert_config_error(AP(E1 "backup t3; };\n" E2), "Egress t1: backup t3 is not an egress of protocol ap");
  assert_config_error(AP("  backup t9;\n" E1 "};\n" E2), "Backup t9 is not an egress of protocol ap");
  assert_config_error(BASE "protocol autopilot ap {\n  ipv4;\n"
		      "  egress t1 { label 1001; pp label 2001; backup t2; };\n" E2 "}\n",
		      "Egress t1: backups protect LFIB entries: they need an mpls channel");
}

/*
 * A backup removed by configure while it carries another egress's labels:
 * until the LFIB event repoints them, show (and a controller's egresses
 * request, served in the same loop round) name it without its config. They
 * read its name from the config it no longer has: a crash.
 */
static void
removed_backup_shown_before_the_lfib_event(void **state UNUSED)
{
  static char with[1024], without[1024];
  bsnprintf(with, sizeof(with), "%s", AP(E1 "backup t2; };\n" E2));
  bsnprintf(without, sizeof(without), "%s", AP(E1 "};\n"));
  ap_configure(with);
  struct autopilot_proto *p = (void *) ap_find_proto("ap");
  assert_non_null(p);
  struct autopilot_config *cf = (void *) p->p.cf;
  struct autopilot_egress *e1 = autopilot_egress_rt(p, autopilot_egress_find(cf, "t1"));
  struct autopilot_egress *e2 = autopilot_egress_rt(p, autopilot_egress_find(cf, "t2"));
  assert_non_null(e1);
  assert_non_null(e2);

  /* t1's labels point to t2's neighbor (t1 lost, t2 live), as the LFIB left them */
  e1->lfib_label = 1001;
  e1->lfib_via = e2;
  assert_string_equal(autopilot_lfib_state(p, e1), "protected by t2");

  /* t2 removed: protocols are reconfigured now, the LFIB event runs later */
  config_commit(ap_parse_ok(without), RECONFIG_HARD, 0);
  assert_null(e2->cf);
  assert_ptr_equal(e1->lfib_via, e2);
  assert_string_equal(autopilot_lfib_state(p, e1), "protected by (an egress removed by configure)");
  ap_run_events();
  assert_true(e1->lfib_via != e2);
  ap_configure("router id 192.0.2.1;\nprotocol device {}\n");
}

int
main(void)
{
  ap_bird_init();

  const struct CMUnitTest tests[] = {
    cmocka_unit_test(ordered_backups),
    cmocka_unit_test(protocol_default_skips_the_egress_itself),
    cmocka_unit_test(bad_backups),
    cmocka_unit_test(removed_backup_shown_before_the_lfib_event),
  };

  return cmocka_run_group_tests_name("egress protection", tests, NULL, NULL);
}
