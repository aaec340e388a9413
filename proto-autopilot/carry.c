/*
 *	BIRD -- Autopilot overrides carried over a protocol restart
 *
 *	(c) 2026 bird-autopilot developers
 *
 *	Can be freely distributed and used under the terms of the GNU GPL.
 */

/*
 * Fail static: a restart of the protocol (a reconfiguration it cannot take
 * in place, "restart", "disable" then "enable") must not lose the
 * controller's last good set. The nest frees the protocol and its pool when
 * it stops, so the set is carried in a pool of its own, by protocol name,
 * until the protocol of that name starts again. A carried set wins over the
 * state file: the file may be stale (a write failed) or absent (none
 * configured); the set in memory is what was live. Nothing is carried when
 * the protocol leaves the configuration or BIRD shuts down: then the state
 * file is the copy, and a new protocol of the same name reads it.
 */

#include "nest/bird.h"
#include "lib/resource.h"
#include "lib/string.h"
#include "sysdep/unix/unix.h"

#include "proto/autopilot/autopilot.h"

struct autopilot_carry {
  node n;				/* In autopilot_carried */
  pool *pool;				/* Holds this struct, its requests and reasons */
  const char *name;			/* Protocol name */
  struct autopilot_request *reqs;	/* The overrides, as requests */
  uint count;				/* Number of reqs */
};

static list autopilot_carried;		/* struct autopilot_carry */

static struct autopilot_carry *
autopilot_carry_find(const char *name)
{
  struct autopilot_carry *c;

  if (!autopilot_carried.head)
    init_list(&autopilot_carried);

  WALK_LIST(c, autopilot_carried)
    if (!strcmp(c->name, name))
      return c;

  return NULL;
}

static void
autopilot_carry_free(struct autopilot_carry *c)
{
  rem_node(&c->n);
  rfree(c->pool);
}

/**
 * autopilot_carry_save - keep the live overrides for the next start
 * @p: autopilot instance, shutting down
 *
 * Overrides of routing managers are not carried: the manager's routes are
 * fed again when the protocol starts, as after a state-file restore.
 */
void
autopilot_carry_save(struct autopilot_proto *p)
{
  struct autopilot_carry *c = autopilot_carry_find(p->p.name);
  if (c)
    autopilot_carry_free(c);

  if ((p->p.down_code == PDC_CF_REMOVE) || (p->p.down_code == PDC_CMD_SHUTDOWN) ||
      (p->p.down_code == PDC_CMD_GR_DOWN) || !p->store.count)
    return;

  /* Part of a set whose files could not be read: the next start reads them again */
  if (p->state.unreadable)
    return;

  pool *pl = rp_new(&root_pool, "Autopilot carried overrides");
  c = mb_allocz(pl, sizeof(struct autopilot_carry));
  c->pool = pl;
  c->name = mb_alloc(pl, strlen(p->p.name) + 1);
  strcpy((char *) c->name, p->p.name);
  c->reqs = mb_alloc(pl, p->store.count * sizeof(struct autopilot_request));

  HASH_WALK(p->store.hash, next_hash, o)
  {
    if (o->deleted || (o->source == AP_SRC_BGP))
      continue;

    ASSERT(c->count < p->store.count);
    struct autopilot_request *r = &c->reqs[c->count++];
    autopilot_ovr_to_request(o, r);
    if (*r->reason)
    {
      char *s = mb_alloc(pl, strlen(r->reason) + 1);
      strcpy(s, r->reason);
      r->reason = s;
    }
  }
  HASH_WALK_END;

  log(L_INFO "%s: Keeping %u overrides in memory until the protocol starts again", p->p.name, c->count);
  add_tail(&autopilot_carried, &c->n);
}

/**
 * autopilot_carry_restore - restore the set carried over a restart
 * @p: autopilot instance, starting
 *
 * Returns 1 when there was a carried set (restored, and gone from memory),
 * 0 when the state file is to be read instead.
 */
int
autopilot_carry_restore(struct autopilot_proto *p)
{
  struct autopilot_carry *c = autopilot_carry_find(p->p.name);
  struct autopilot_error err;
  btime now = current_real_time();
  uint restored = 0, expired = 0, problems = 0;

  if (!c)
    return 0;

  autopilot_audit_by(p, "memory (kept over the restart)");
  for (uint i = 0; i < c->count; i++)
  {
    struct autopilot_request *r = &c->reqs[i];

    if (r->expires && (r->expires <= now))
      expired++;
    else if (autopilot_ovr_restore(p, r, &err) < 0)
    {
      log(L_ERR "%s: Carried override %N -> %s not restored: %s", p->p.name, &r->net, r->target,
	  autopilot_err_text(&err));
      problems++;
    }
    else
      restored++;
  }

  log(L_INFO "%s: Restored %u overrides kept in memory over the restart (%u expired meanwhile, %u problems)",
      p->p.name, restored, expired, problems);
  autopilot_carry_free(c);
  return 1;
}

/* How many overrides are kept for protocol @name while it is down */
uint
autopilot_carry_count(const char *name)
{
  struct autopilot_carry *c = autopilot_carry_find(name);
  return c ? c->count : 0;
}
