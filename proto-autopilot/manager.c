/*
 *	BIRD -- Autopilot overrides from routing managers over BGP
 *
 *	(c) 2026 bird-autopilot developers
 *
 *	Can be freely distributed and used under the terms of the GNU GPL.
 */

/**
 * DOC: Routing managers
 *
 * Existing routing managers (GoBGP, ExaBGP, ...) speak BGP: their sessions
 * import into a table of their own ("manager table"), whose best route per
 * prefix is an override request. The target egress is the one whose
 * neighbor address is the route's BGP next hop (or gateway for non-BGP
 * routes); a withdrawal removes the override if a manager made it.
 *
 * Session loss is a withdrawal like any other. For fail static, give the
 * manager session (long-lived) graceful restart: BIRD then keeps the routes,
 * stale, while the manager is away, and sweeps those it did not announce
 * again when it is back.
 */

#undef LOCAL_DEBUG

#include "nest/bird.h"
#include "nest/iface.h"
#include "nest/protocol.h"
#include "nest/route.h"
#include "lib/string.h"
#include "proto/bgp/bgp.h"
#include "autopilot.h"
#include "route.h"

/* The address a manager's route points at */
static ip_addr
autopilot_manager_nh(rte *e)
{
  eattr *a = autopilot_rt_attr(e, BA_NEXT_HOP);

  if (a && (a->u.ptr->length >= sizeof(ip_addr)))
    return *(ip_addr *) a->u.ptr->data;

  return e->attrs->nh.gw;
}

/* Remove the override of @n if a manager made it */
static void
autopilot_manager_drop(struct autopilot_proto *p, const net_addr *n)
{
  struct autopilot_override *o = autopilot_ovr_find(p, n);
  struct autopilot_error err;

  if (o && (o->source == AP_SRC_BGP))
  {
    autopilot_audit_by(p, "manager table");
    autopilot_ovr_withdraw(p, n, &err);
  }
}

/**
 * autopilot_manager_notify - the best manager route of a prefix changed
 * @p: autopilot instance
 * @n: prefix
 * @new: new best route, or NULL
 */
void
autopilot_manager_notify(struct autopilot_proto *p, net *n, rte *new)
{
  const net_addr *a = n->n.addr;
  struct autopilot_error err;

  if (!new)
  {
    autopilot_manager_drop(p, a);
    return;
  }

  ip_addr nh = autopilot_manager_nh(new);
  struct autopilot_egress_config *e = autopilot_egress_by_addr((struct autopilot_config *) p->p.cf, nh);

  if (!e)
  {
    /* The manager moved the prefix somewhere we cannot go: follow it by dropping ours */
    log(L_WARN "%s: Manager route %N via %I from %s: %I is no egress, ignored",
	p->p.name, a, nh, new->src->proto->name, nh);
    p->mgr_rejected[a->type == NET_IP6]++;
    autopilot_manager_drop(p, a);
    return;
  }

  struct autopilot_request req = { .op = AP_OP_ADD, .source = AP_SRC_BGP };
  net_copy((net_addr *) &req.net, a);
  strcpy(req.target, e->name);
  req.reason = tmp_sprintf("from %s", new->src->proto->name);

  /* A manager re-announcing the same thing changes nothing */
  struct autopilot_override *o = autopilot_ovr_find(p, a);
  if (o && (o->source == AP_SRC_BGP) && o->target && !strcmp(o->target, e->name))
    return;

  autopilot_audit_by(p, "manager %s", new->src->proto->name);
  if (autopilot_ovr_add(p, &req, AP_SRC_BGP, &err) < 0)
  {
    log(L_WARN "%s: Manager route %N via %I refused: %s", p->p.name, a, nh, autopilot_err_text(&err));
    p->mgr_rejected[a->type == NET_IP6]++;
  }
}
