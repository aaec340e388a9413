/*
 *	bird-autopilot fuzz targets -- an in-process BIRD, as the unit tests have
 *
 *	(c) 2026 bird-autopilot developers
 *
 *	Can be freely distributed and used under the terms of the GNU GPL.
 */

#ifndef _AP_FUZZ_H_
#define _AP_FUZZ_H_

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "nest/bird.h"
#include "nest/protocol.h"
#include "conf/conf.h"

/* libFuzzer's entry points; driver.c calls the same ones without libFuzzer */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* BIRD's subsystems, once per process; all of the log to stderr only if FUZZ_VERBOSE is set */
void fz_init(void);

/* Parse @text as bird.conf: the config, or NULL with the message in fz_parse_error */
struct config *fz_parse(const char *text, uint len);
extern char fz_parse_error[256];

/* Parse and make @text the running config (abort if it does not parse); run events */
void fz_configure(const char *text);

/* Run BIRD's events until there are none (abort after many rounds: a loop) */
void fz_run_events(void);

/* The running protocol named @name, or NULL */
struct proto *fz_proto(const char *name);

/* Two egress sessions, disabled: the targets need their instances, not connections */
#define FZ_EGRESSES \
  "router id 192.0.2.1;\n" \
  "protocol device {}\n" \
  "protocol bgp t1 { disabled; local 10.0.1.1 as 65000; neighbor 10.0.1.2 as 64501; ipv4 { import all; export none; }; ipv6 { import all; export none; }; }\n" \
  "protocol bgp t2 { disabled; local 10.0.2.1 as 65000; neighbor 10.0.2.2 as 64502; ipv4 { import all; export none; }; ipv6 { import all; export none; }; }\n"

/* Protocol ap on them, both families and a small limit; @extra: more lines of its body */
#define FZ_AP(extra) \
  "protocol autopilot ap {\n" \
  "  ipv4; ipv6;\n" \
  "  egress t1 { label 1001; pp label 2001; };\n" \
  "  egress t2 { label 1002; pp label 2002; };\n" \
  "  max overrides 64;\n" \
  extra \
  "}\n"

/* Configure FZ_EGRESSES and FZ_AP(""): the running protocol ap (abort if it is not up) */
struct autopilot_proto *fz_start_ap(void);

/*
 * A property the target checks does not hold: print it and abort, which
 * libFuzzer reports as a crash (and keeps the input).
 */
#define FZ_CHECK(cond, fmt, args...) do {					\
    if (!(cond))								\
      fz_fail(__FILE__, __LINE__, #cond, fmt, ##args);				\
  } while (0)

/* Print the failed check (with BIRD's formats: %N, %m, ...) and abort */
void fz_fail(const char *file, int line, const char *cond, const char *fmt, ...) NORET;

#endif
