/*
 *	BIRD -- Autopilot audit log: who changed which override
 *
 *	(c) 2026 bird-autopilot developers
 *
 *	Can be freely distributed and used under the terms of the GNU GPL.
 */

/*
 * Every change of the override set is logged once, with its prefix, the old
 * and the new target, who made it (birdc, a controller connection, a routing
 * manager's session, the state file, expiry) and its reason: an operator
 * must be able to tell why traffic moved, and the controller can undo an
 * operator's override. A sync of 100,000 must not be 100,000 lines, though:
 * the first AUTOPILOT_AUDIT_EACH changes of an event round are logged one by
 * one, the rest are counted, and one line at the end of the round sums them
 * up by kind. The front ends say who acts (autopilot_audit_by()) before they
 * call into override.c, which reports each change (autopilot_audit()).
 */

#include "nest/bird.h"
#include "lib/event.h"
#include "lib/string.h"

#include "proto/autopilot/autopilot.h"

const char *autopilot_audit_names[AP_AUDIT_MAX] = {
  [AP_AUDIT_ADDED] = "added",
  [AP_AUDIT_REPLACED] = "replaced",
  [AP_AUDIT_WITHDRAWN] = "withdrawn",
  [AP_AUDIT_EXPIRED] = "expired",
  [AP_AUDIT_RESTORED] = "restored",
};

/* End of the round: the summary of what was not logged line by line */
static void
autopilot_audit_event(void *data)
{
  struct autopilot_proto *p = data;
  struct autopilot_audit *a = &p->store.audit;

  if (a->total > AUTOPILOT_AUDIT_EACH)
    log(L_INFO "%s: ... and %u more override changes by %s (%u added, %u replaced, %u withdrawn, "
	"%u expired, %u restored); %u in all", p->p.name, a->total - AUTOPILOT_AUDIT_EACH,
	a->several ? "several" : a->by, a->count[AP_AUDIT_ADDED], a->count[AP_AUDIT_REPLACED],
	a->count[AP_AUDIT_WITHDRAWN], a->count[AP_AUDIT_EXPIRED], a->count[AP_AUDIT_RESTORED], a->total);

  char by[sizeof(a->by)];
  strcpy(by, a->by);
  *a = (struct autopilot_audit) {};
  strcpy(a->by, by);
}

void
autopilot_audit_start(struct autopilot_proto *p)
{
  p->store.audit = (struct autopilot_audit) {};
  p->store.audit_event = ev_new_init(p->p.pool, autopilot_audit_event, p);
  autopilot_audit_by(p, "birdc");
}

/**
 * autopilot_audit_by - say who makes the next changes
 * @p: autopilot instance
 * @fmt: who, as printf
 */
void
autopilot_audit_by(struct autopilot_proto *p, const char *fmt, ...)
{
  struct autopilot_audit *a = &p->store.audit;
  char by[sizeof(a->by)];
  va_list args;

  va_start(args, fmt);
  bvsnprintf(by, sizeof(by), fmt, args);
  va_end(args);

  if (a->total && strcmp(by, a->by))
    a->several = 1;
  strcpy(a->by, by);
}

/**
 * autopilot_audit - log one change of an override
 * @p: autopilot instance
 * @what: enum autopilot_audit_kind
 * @n: the prefix
 * @from: target before, NULL for none
 * @to: target after, NULL for none
 * @reason: the request's reason, NULL or "" for none
 */
void
autopilot_audit(struct autopilot_proto *p, uint what, const net_addr *n, const char *from, const char *to,
		const char *reason)
{
  struct autopilot_audit *a = &p->store.audit;

  if (!a->total)
    ev_schedule(p->store.audit_event);

  a->count[what]++;
  p->metrics.changes[what]++;
  if (a->total++ >= AUTOPILOT_AUDIT_EACH)
    return;

  /* Expiry is nobody's act */
  const char *by = (what == AP_AUDIT_EXPIRED) ? "" : tmp_sprintf(" by %s", a->by);
  /* Quoted as in a request, so that a reason cannot fake the end of the line */
  char why[AUTOPILOT_REASON_MAX * 2 + 3] = "";
  if (reason && *reason)
    autopilot_format_quoted(reason, why, sizeof(why));

  log(L_INFO "%s: Override %N: %s -> %s (%s%s%s%s)", p->p.name, n, from ?: "none", to ?: "none",
      autopilot_audit_names[what], by, why[0] ? ", reason " : "", why);
}
