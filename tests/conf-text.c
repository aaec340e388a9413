/*
 *	bird-autopilot tests -- BIRD configured from a string
 *
 *	(c) 2026 bird-autopilot developers
 *
 *	Can be freely distributed and used under the terms of the GNU GPL.
 */

#include <string.h>

#include "conf-text.h"

#include "lib/event.h"
#include "lib/string.h"

static const char *ct_text;		/* Rest of the config text being parsed */
static uint ct_text_len;		/* Its length */

static int
ct_read(byte *dest, uint max, int fd UNUSED)
{
  if (max > ct_text_len)
    max = ct_text_len;

  memcpy(dest, ct_text, max);
  ct_text += max;
  ct_text_len -= max;
  return max;
}

/* @text parsed as config @name; NULL if refused, with "line N: why" in @err */
struct config *
conf_text_parse(const char *name, const char *text, uint len, char *err, uint err_len)
{
  struct config *cfg = config_alloc(name);

  ct_text = text;
  ct_text_len = len;
  cf_read_hook = ct_read;
  err[0] = 0;

  if (config_parse(cfg) && !cfg->err_msg)
    return cfg;

  bsnprintf(err, err_len, "line %d: %s", cfg->err_lino, cfg->err_msg ?: "unknown error");
  config_free(cfg);
  return NULL;
}

/* Run BIRD's events until none is left (starts, feeds and flushes schedule each other); 0 if @rounds did not do */
int
conf_text_run_events(uint rounds)
{
  for (uint i = 0; i < rounds; i++)
  {
    ev_run_list(&global_event_list);
    ev_run_list(&global_work_list);

    if (EMPTY_LIST(global_event_list) && EMPTY_LIST(global_work_list))
      return 1;
  }

  return 0;
}
