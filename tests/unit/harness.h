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

/* Assert that @text fails to parse with an error containing @msg */
#define assert_config_error(text, msg) do {				\
    assert_null(ap_parse(text));					\
    if (!strstr(ap_parse_error, (msg)))					\
      fail_msg("expected error containing \"%s\", got \"%s\"",	\
	       (msg), ap_parse_error);					\
  } while (0)

#endif
