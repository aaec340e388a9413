/*
 *	bird-autopilot tests -- BIRD configured from a string
 *
 *	(c) 2026 bird-autopilot developers
 *
 *	Can be freely distributed and used under the terms of the GNU GPL.
 */

/*
 * Shared by the unit test harness and the fuzz targets: both parse
 * configurations held in memory and run BIRD's events without its I/O loop.
 */

#ifndef _AUTOPILOT_TESTS_CONF_TEXT_H_
#define _AUTOPILOT_TESTS_CONF_TEXT_H_

#include "nest/bird.h"
#include "conf/conf.h"

struct config *conf_text_parse(const char *name, const char *text, uint len, char *err, uint err_len);
int conf_text_run_events(uint rounds);

#endif
