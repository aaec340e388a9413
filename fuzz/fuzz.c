/*
 *	bird-autopilot fuzz targets -- an in-process BIRD, as the unit tests have
 *
 *	(c) 2026 bird-autopilot developers
 *
 *	Can be freely distributed and used under the terms of the GNU GPL.
 */

#include <stdarg.h>
#include <string.h>

#include "fuzz.h"

#include "lib/event.h"
#include "lib/string.h"
#include "nest/route.h"
#include "test/birdtest.h"
#include "test/bt-utils.h"
#include "sysdep/unix/unix.h"
#include "proto/autopilot/autopilot.h"
#include "conf-text.h"

char fz_parse_error[256];

void
fz_init(void)
{
  static int done;
  static char *argv[] = { "autopilot-fuzz", NULL };

  if (done)
    return;

  /* Resources, logging, then the subsystems BIRD's main() starts (as birdtest does) */
  bt_init(1, argv);
  bt_bird_init();

  /*
   * Only bugs and fatal errors to stderr: a million bad inputs must not cost
   * a million log lines. (No "log" in the configs: main.o's preconfig, which
   * readies the config's log list, is not linked.)
   */
  static struct log_config quiet = { .mask = (1 << L_BUG[0]) | (1 << L_FATAL[0]), .terminal_flag = 1 };
  static list logs;
  if (!getenv("FUZZ_VERBOSE"))
  {
    quiet.fh = stderr;
    init_list(&logs);
    add_tail(&logs, &quiet.n);
    log_switch(0, &logs, NULL);
  }

  done = 1;
}

struct config *
fz_parse(const char *text, uint len)
{
  return conf_text_parse("fuzz.conf", text, len, fz_parse_error, sizeof(fz_parse_error));
}

void
fz_run_events(void)
{
  FZ_CHECK(conf_text_run_events(10000), "BIRD events still pending after 10000 rounds");
}

void
fz_configure(const char *text)
{
  struct config *cfg = fz_parse(text, strlen(text));
  FZ_CHECK(cfg, "config does not parse: %s\n%s", fz_parse_error, text);

  config_commit(cfg, RECONFIG_HARD, 0);
  fz_run_events();
}

struct proto *
fz_proto(const char *name)
{
  struct proto *p;

  WALK_LIST(p, proto_list)
    if (!strcmp(p->name, name))
      return p;

  return NULL;
}

struct autopilot_proto *
fz_start_ap(void)
{
  fz_configure(FZ_EGRESSES FZ_AP(""));
  struct autopilot_proto *p = (void *) fz_proto("ap");
  FZ_CHECK(p && (p->p.proto_state == PS_UP), "protocol ap not up");
  return p;
}

void
fz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
  char msg[1024];
  va_list args;

  va_start(args, fmt);
  if (bvsnprintf(msg, sizeof(msg), fmt, args) < 0)
    strcpy(msg + sizeof(msg) - 8, "[...]");
  va_end(args);

  fprintf(stderr, "fuzz: %s:%d: check failed: %s: %s\n", file, line, cond, msg);
  abort();
}
