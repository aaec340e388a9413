/*
 *	bird-autopilot unit tests -- an in-process BIRD to test the module against
 *
 *	(c) 2026 bird-autopilot developers
 *
 *	Can be freely distributed and used under the terms of the GNU GPL.
 */

#ifndef _AP_TEST_HARNESS_H_
#define _AP_TEST_HARNESS_H_

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "nest/bird.h"
#include "nest/protocol.h"
#include "nest/route.h"
#include "conf/conf.h"

/* Initialize BIRD's subsystems once per test binary (as birdtest does) */
void ap_bird_init(void);

/*
 * Parse @text as bird.conf. On success return the config (not yet active);
 * on error return NULL and leave the message in ap_parse_error.
 */
struct config *ap_parse(const char *text);
extern char ap_parse_error[256];

/* Parse @text; fail the test with the parse error if there is one */
struct config *ap_parse_ok(const char *text);

/* Make @cfg the running configuration and run events until BIRD is idle */
void ap_commit(struct config *cfg);

/* Parse and commit; fail the test on a parse error */
void ap_configure(const char *text);

/* Run pending events (route propagation, protocol state changes) */
void ap_run_events(void);

/* The running protocol instance named @name, or NULL */
struct proto *ap_find_proto(const char *name);
/* master4, where protocol "feed" puts the paths */
rtable *ap_feed_table(void);
/* The route protocol @by has in the feed's table for @n, or NULL */
rte *ap_route_of(struct proto *by, const net_addr *n);

/*
 * Protocol ap, as the module's tests run it: AP_EGRESSES is the rest of a
 * config (two disabled BGP protocols t1, t2 with both families) and
 * AP_BODY the start of protocol ap's body (both channels, egresses t1 and
 * t2 with their labels); tests add options of their own.
 */
#define AP_EGRESSES \
  "router id 192.0.2.1;\n" \
  "protocol device {}\n" \
  "protocol bgp t1 { disabled; local 10.0.1.1 as 65000; neighbor 10.0.1.2 as 64501; ipv4 { import all; export none; }; ipv6 { import all; export none; }; }\n" \
  "protocol bgp t2 { disabled; local 10.0.2.1 as 65000; neighbor 10.0.2.2 as 64502; ipv4 { import all; export none; }; ipv6 { import all; export none; }; }\n"

#define AP_BODY \
  "  ipv4; ipv6;\n" \
  "  egress t1 { label 1001; pp label 2001; };\n" \
  "  egress t2 { label 1002; pp label 2002; };\n"

struct autopilot_proto;

/*
 * The text of @base followed by protocol ap (AP_BODY and @opts), or @base
 * alone if @opts is NULL, in a buffer of its own (the parser reads it as
 * it goes, so it must not be a tmp_sprintf() the test reuses)
 */
const char *ap_conf(const char *base, const char *opts);

/* Configure ap_conf(@base, @opts); fail unless protocol ap is up; return it */
struct autopilot_proto *ap_start(const char *base, const char *opts);

/* Make a fresh directory /tmp/ap-@name-XXXXXX for the test's files in @dir */
void ap_mkdir(char *dir, size_t len, const char *name);

/* Remove @dir and what is in it */
void ap_rmdir(const char *dir);

/* A test of the group, between the test file's own setup() and teardown() */
#define ap_test(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

/*
 * Table-driven tests: append to @tests[@n++] one test of @func per row of
 * the array @rows, named by the row's member @field (so that a failure
 * names its row), the row being the test's state (*state in @func)
 */
#define ap_table_tests(tests, n, rows, field, func)				\
  for (uint i_ = 0; i_ < ARRAY_SIZE(rows); i_++)				\
    (tests)[(n)++] = (struct CMUnitTest) {					\
      .name = (rows)[i_].field, .test_func = (func), .initial_state = (void *) &(rows)[i_] }

/* Assert that @text fails to parse with an error containing @msg */
#define assert_config_error(text, msg) do {				\
    assert_null(ap_parse(text));					\
    if (!strstr(ap_parse_error, (msg)))					\
      fail_msg("expected error containing \"%s\", got \"%s\"",	\
	       (msg), ap_parse_error);					\
  } while (0)

#endif
