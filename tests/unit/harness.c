/*
 *	bird-autopilot unit tests -- an in-process BIRD to test the module against
 *
 *	(c) 2026 bird-autopilot developers
 *
 *	Can be freely distributed and used under the terms of the GNU GPL.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#include "lib/event.h"
#include "lib/string.h"
#include "nest/route.h"
#include "test/birdtest.h"
#include "test/bt-utils.h"
#include "conf-text.h"

char ap_parse_error[256];

void
ap_bird_init(void)
{
  static int done;
  static char *argv[] = { "autopilot-unit-test", NULL };

  if (done)
    return;

  /* Resources, logging to stderr, then the subsystems BIRD's main() starts */
  bt_init(1, argv);
  bt_bird_init();
  done = 1;
}

struct config *
ap_parse(const char *text)
{
  return conf_text_parse("unit-test.conf", text, strlen(text), ap_parse_error, sizeof(ap_parse_error));
}

void
ap_run_events(void)
{
  if (!conf_text_run_events(1000))
    fail_msg("BIRD events still pending after 1000 rounds");
}

void
ap_commit(struct config *cfg)
{
  config_commit(cfg, RECONFIG_HARD, 0);
  ap_run_events();
}

struct config *
ap_parse_ok(const char *text)
{
  struct config *cfg = ap_parse(text);

  if (!cfg)
    fail_msg("config does not parse: %s", ap_parse_error);

  return cfg;
}

void
ap_configure(const char *text)
{
  ap_commit(ap_parse_ok(text));
}

struct proto *
ap_find_proto(const char *name)
{
  struct proto *p;

  WALK_LIST(p, proto_list)
    if (!strcmp(p->name, name))
      return p;

  return NULL;
}

rtable *
ap_feed_table(void)
{
  return ((struct channel *) HEAD(ap_find_proto("feed")->channels))->table;
}

rte *
ap_route_of(struct proto *by, const net_addr *n)
{
  net *nt = net_find(ap_feed_table(), n);
  for (rte *r = nt ? nt->routes : NULL; r; r = r->next)
    if (r->src->proto == by)
      return r;
  return NULL;
}

const char *
ap_conf(const char *base, const char *opts)
{
  static char buf[4096];

  if (opts)
    bsnprintf(buf, sizeof(buf), "%sprotocol autopilot ap {\n" AP_BODY "%s}\n", base, opts);
  else
    bsnprintf(buf, sizeof(buf), "%s", base);
  return buf;
}

struct autopilot_proto *
ap_start(const char *base, const char *opts)
{
  ap_configure(ap_conf(base, opts));

  struct proto *p = ap_find_proto("ap");
  assert_non_null(p);
  assert_int_equal(p->proto_state, PS_UP);
  return (struct autopilot_proto *) p;
}

void
ap_mkdir(char *dir, size_t len, const char *name)
{
  bsnprintf(dir, len, "/tmp/ap-%s-XXXXXX", name);
  if (!mkdtemp(dir))
    fail_msg("mkdtemp %s: %s", dir, strerror(errno));
}

void
ap_rmdir(const char *dir)
{
  if (system(tmp_sprintf("rm -rf '%s'", dir)) != 0)
    fail_msg("cannot remove %s", dir);
}
