/*
 *	bird-autopilot unit tests -- protocol configuration and table watching
 *
 *	(c) 2026 bird-autopilot developers
 *
 *	Can be freely distributed and used under the terms of the GNU GPL.
 */

#include <stdio.h>
#include <string.h>

#include "harness.h"

#include "lib/event.h"
#include "nest/cli.h"
#include "proto/autopilot/autopilot.h"

#define BASE \
  "router id 192.0.2.1;\n" \
  "protocol device {}\n"

static void
wrong_channel_type_is_an_error(void **state UNUSED)
{
  assert_config_error(BASE "protocol autopilot ap { vpn4; }\n",
		      "Autopilot supports only ipv4, ipv6 and mpls channels");
}

static void
duplicate_channel_is_an_error(void **state UNUSED)
{
  assert_config_error(BASE "protocol autopilot ap { ipv4; ipv4; }\n",
		      "Multiple ipv4 channels");
}

static void
valid_config_parses(void **state UNUSED)
{
  assert_non_null(ap_parse_ok(BASE "protocol autopilot ap { ipv4; ipv6 { table master6; }; }\n"));
}

/* Two static protocols give 10.0.0.0/8 two paths; 10.1.0.0/16 has one */
/*
 * A quoted string of 4 KiB or more: BIRD's lexer handed its static first
 * buffer to mb_realloc() and aborted, in bird -p and in birdc configure
 * alike (patch 0012). The string must come back whole, and an apostrophed
 * symbol name that long is refused by name length, not by a crash.
 */
static void
long_quoted_string_parses(void **state UNUSED)
{
  char desc[5001], text[6000];
  memset(desc, 'd', 5000);
  desc[5000] = 0;

  /* Longer than tmp_sprintf() takes */
  snprintf(text, sizeof(text), BASE "protocol autopilot ap { description \"%s\"; ipv4; }\n", desc);
  struct config *c = ap_parse_ok(text);
  struct proto_config *pc = ((struct symbol *) cf_find_symbol(c, (const byte *) "ap"))->proto;
  assert_non_null(pc->dsc);
  assert_int_equal(strlen(pc->dsc), 5000);
  assert_string_equal(pc->dsc, desc);

  snprintf(text, sizeof(text), BASE "protocol autopilot '%s' { ipv4; }\n", desc);
  assert_config_error(text, "Symbol too long");
}

/*
 * A syntax error 300 parentheses deep: bison had grown its stacks with
 * malloc(), and cf_error() longjmps past their free() (patch 0013). The
 * error is reported; make check-asan and check-valgrind find a leak.
 */
static void
error_deep_in_an_expression(void **state UNUSED)
{
  char text[1024];
  uint n = bsnprintf(text, sizeof(text), BASE "define x = ");

  for (uint i = 0; i < 300; i++)
    text[n++] = '(';
  bsnprintf(text + n, sizeof(text) - n, "1 + ;\n");
  assert_config_error(text, "syntax error");
}

#define TWO_SOURCES \
  BASE \
  "protocol static s1 { ipv4; route 10.0.0.0/8 blackhole; route 10.1.0.0/16 blackhole; }\n" \
  "protocol static s2 { ipv4; route 10.0.0.0/8 unreachable; }\n" \
  "protocol static s6 { ipv6; route 2001:db8::/32 blackhole; }\n"

static void
counts_every_path_of_the_table(void **state UNUSED)
{
  ap_configure(TWO_SOURCES "protocol autopilot ap { ipv4; ipv6; }\n");

  struct autopilot_proto *p = (void *) ap_find_proto("ap");
  assert_non_null(p);
  assert_int_equal(p->p.proto_state, PS_UP);
  assert_int_equal(p->ip4.prefixes, 2);
  assert_int_equal(p->ip4.paths, 3);
  assert_int_equal(p->ip6.prefixes, 1);
  assert_int_equal(p->ip6.paths, 1);

  /* Dropping s2 removes a path but no prefix; dropping s1 too empties it */
  ap_configure(BASE
	       "protocol static s1 { ipv4; route 10.0.0.0/8 blackhole; route 10.1.0.0/16 blackhole; }\n"
	       "protocol autopilot ap { ipv4; ipv6; }\n");
  p = (void *) ap_find_proto("ap");
  assert_int_equal(p->ip4.prefixes, 2);
  assert_int_equal(p->ip4.paths, 2);
  assert_int_equal(p->ip6.paths, 0);

  ap_configure(BASE "protocol autopilot ap { ipv4; ipv6; }\n");
  p = (void *) ap_find_proto("ap");
  assert_int_equal(p->ip4.prefixes, 0);
  assert_int_equal(p->ip4.paths, 0);
}

static void
export_filter_is_refused(void **state UNUSED)
{
  /* Counting a part of the table was allowed once; the rest of the module reads every path */
  assert_config_error(TWO_SOURCES "protocol autopilot ap { ipv4 { export where net ~ [ 10.1.0.0/16+ ]; }; }\n",
		      "Autopilot: ipv4 channel: it watches every path of its table (export all, the default)");
}

/*
 * "show autopilot" of a protocol that went down: its run-time egresses were
 * in the freed pool (a use after free found by make check-asan); only the
 * sanitizer build sees the read, this one checks that nothing of them shows.
 */
#define EGRESS_CONF(opt) BASE \
  "protocol bgp t1 { disabled; local 10.0.1.1 as 65000; neighbor 10.0.1.2 as 64501; ipv4 { import all; export none; }; }\n" \
  "protocol autopilot ap { " opt " ipv4; egress t1 { label 1001; pp label 2001; }; }\n"

static void
show_of_a_stopped_protocol(void **state UNUSED)
{
  static struct cli_config ccf;

  ap_configure(EGRESS_CONF(""));
  struct proto *P = ap_find_proto("ap");
  assert_int_equal(P->proto_state, PS_UP);

  ap_configure(EGRESS_CONF("disabled;"));
  P = ap_find_proto("ap");
  assert_int_equal(P->proto_state, PS_DOWN);

  cli *c = cli_new(NULL, &ccf);
  ev_postpone(c->event);
  this_cli = c;
  autopilot_show(P);
  this_cli = NULL;

  /* The header and the overrides line, no egress table */
  char text[4096] = "";
  for (struct cli_out *o = c->tx_buf; o; o = o->next)
    strncat(text, (char *) o->buf, MIN((size_t) (o->wpos - o->buf), sizeof(text) - strlen(text) - 1));
  cli_free(c);

  assert_non_null(strstr(text, "ap: down (disabled)"));
  assert_null(strstr(text, "Egress"));
}

int
main(void)
{
  ap_bird_init();

  const struct CMUnitTest tests[] = {
    cmocka_unit_test(wrong_channel_type_is_an_error),
    cmocka_unit_test(duplicate_channel_is_an_error),
    cmocka_unit_test(valid_config_parses),
    cmocka_unit_test(long_quoted_string_parses),
    cmocka_unit_test(error_deep_in_an_expression),
    cmocka_unit_test(counts_every_path_of_the_table),
    cmocka_unit_test(export_filter_is_refused),
    cmocka_unit_test(show_of_a_stopped_protocol),
  };

  return cmocka_run_group_tests_name("autopilot skeleton", tests, NULL, NULL);
}
