/*
 *	BIRD -- Autopilot "show autopilot NAME overrides"
 *
 *	(c) 2026 bird-autopilot developers
 *
 *	Can be freely distributed and used under the terms of the GNU GPL.
 */

#undef LOCAL_DEBUG

#include "nest/bird.h"
#include "nest/protocol.h"
#include "nest/cli.h"
#include "lib/string.h"
#include "autopilot.h"

#define REPLY_OVERRIDES	1101

/* "3d4h", "2h5m", "4m10s", "7s": two units are enough to read at a glance */
static char *
autopilot_span(btime t)
{
  uint s = (t > 0) ? (uint) (t / 1000000) : 0;

  if (s >= 86400)
    return tmp_sprintf("%ud%uh", s / 86400, (s % 86400) / 3600);
  if (s >= 3600)
    return tmp_sprintf("%uh%um", s / 3600, (s % 3600) / 60);
  if (s >= 60)
    return tmp_sprintf("%um%us", s / 60, s % 60);
  return tmp_sprintf("%us", s);
}

static const char *
autopilot_label_egress(struct autopilot_proto *p, u32 label)
{
  struct autopilot_egress_config *e;

  WALK_LIST(e, ((struct autopilot_config *) p->p.cf)->egresses)
    if (e->label == label)
      return e->name;

  return "?";
}

static void
autopilot_ovr_show_one(struct autopilot_proto *p, struct autopilot_override *o, btime now)
{
  const char *via = "-", *note = "";

  if (o->state == AP_OVR_PENDING)
    note = o->why ?: "";
  else
  {
    via = tmp_sprintf("%s (%u)", autopilot_label_egress(p, o->via_label), o->via_label);
    if (!net_equal((net_addr *) &o->src, (net_addr *) &o->net))
      note = tmp_sprintf("path of %N", &o->src);
    if (o->state == AP_OVR_SHADOW)
      note = tmp_sprintf("shadow: would move here%s%s", *note ? ", " : "", note);
  }

  cli_msg(-REPLY_OVERRIDES, "%-24s %-12s %-8s %-16s %-10s %7s %8s  %s%s%s%s%s",
	  tmp_sprintf("%N", &o->net), o->target ?: AUTOPILOT_NEXT_BEST, autopilot_ovr_state_names[o->state], via,
	  autopilot_source_names[o->source], autopilot_span(now - o->created),
	  o->expires ? autopilot_span(o->expires - now) : "never",
	  o->reason ? "\"" : "", o->reason ?: "", o->reason ? "\"" : "",
	  (*note && o->reason) ? " " : "", *note ? tmp_sprintf("[%s]", note) : "");
}

/**
 * autopilot_ovr_show - list overrides
 * @p: autopilot instance
 * @n: only this prefix, or NULL
 * @egress: only those whose target or copied path is this egress, or NULL
 * @pending_only: only pending ones
 */
void
autopilot_ovr_show(struct autopilot_proto *p, const net_addr *n, const char *egress, int pending_only)
{
  struct autopilot_config *cf = (void *) p->p.cf;
  btime now = current_real_time();

  cli_msg(-REPLY_OVERRIDES, "%s: %u overrides: %u active, %u pending, %u shadow; %u expired since start; limit %u; shadow mode %s",
	  p->p.name, p->ovr_count, p->ovr_states[AP_OVR_ACTIVE], p->ovr_states[AP_OVR_PENDING],
	  p->ovr_states[AP_OVR_SHADOW], p->ovr_expired, cf->max_overrides, cf->shadow ? "on" : "off");

  if (n)
  {
    struct autopilot_override *o = autopilot_ovr_find(p, n);
    if (!o)
    {
      cli_msg(-REPLY_OVERRIDES, "No override for %N", n);
      return;
    }
  }

  cli_msg(-REPLY_OVERRIDES, "%-24s %-12s %-8s %-16s %-10s %7s %8s  %s",
	  "Prefix", "Target", "State", "Via (label)", "Source", "Age", "Expires", "Reason [note]");

  if (n)
  {
    autopilot_ovr_show_one(p, autopilot_ovr_find(p, n), now);
    return;
  }

  HASH_WALK(p->ovr_hash, next_hash, o)
  {
    if (o->deleted)
      continue;

    if (pending_only && (o->state != AP_OVR_PENDING))
      continue;

    if (egress && strcmp(egress, o->target ?: AUTOPILOT_NEXT_BEST) &&
	!((o->state != AP_OVR_PENDING) && !strcmp(egress, autopilot_label_egress(p, o->via_label))))
      continue;

    autopilot_ovr_show_one(p, o, now);
  }
  HASH_WALK_END;
}
