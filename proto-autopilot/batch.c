/*
 *	BIRD -- Autopilot batches: requests applied all or nothing
 *
 *	(c) 2026 bird-autopilot developers
 *
 *	Can be freely distributed and used under the terms of the GNU GPL.
 */

/**
 * DOC: Batches
 *
 * A batch collects add and withdraw requests, line by line, and applies
 * them all or nothing when it is committed. The controller socket opens
 * one with "begin" or "sync"; "autopilot load" is one sync of its file.
 * Both front ends only frame lines and word replies: they parse each line
 * into the slot the batch gives (a sync may list a million overrides, so
 * nothing is copied), hand it over, and at the end commit; the batch keeps
 * the line number of each request and the first bad line, and its commit
 * names what is wrong by line, whatever found it (the parser, the front
 * end, or the override store).
 *
 * The state file and the journal are read line by line instead: a restore
 * keeps every good line and skips bad ones, which is no batch.
 */

#include "nest/bird.h"
#include "lib/resource.h"
#include "lib/string.h"

#include "proto/autopilot/autopilot.h"

/**
 * autopilot_batch_open - start a batch
 * @b: the batch
 * @pool: where its memory comes from
 * @op: %AP_OP_BEGIN (adds and withdraws) or %AP_OP_SYNC (adds: the whole set)
 * @max: most requests it may hold
 */
void
autopilot_batch_open(struct autopilot_batch *b, pool *pool, uint op, uint max)
{
  *b = (struct autopilot_batch) { .pool = pool, .op = op, .max = max };
}

/* Free the batch; it is closed (op AP_OP_NONE) afterwards */
void
autopilot_batch_close(struct autopilot_batch *b)
{
  mb_free(b->reqs);
  mb_free(b->lineno);
  if (b->lp)
    rfree(b->lp);
  *b = (struct autopilot_batch) { .op = AP_OP_NONE };
}

/* Remember the first bad line; the commit reports it and applies nothing */
void
autopilot_batch_fail(struct autopilot_batch *b, const struct autopilot_error *err)
{
  if (b->bad)
    return;

  b->bad = b->lines;
  b->err = *err;
}

/**
 * autopilot_batch_line - where to parse the next line
 * @b: an open batch
 * @scratch: a request of the caller's
 * @lp: the linpool for the request's reason
 *
 * Counts the line. Returns the batch's next slot, or @scratch when the
 * batch is full or already bad (the line is parsed still, for its tag and
 * for the control words).
 */
struct autopilot_request *
autopilot_batch_line(struct autopilot_batch *b, struct autopilot_request *scratch, struct linpool **lp)
{
  b->lines++;
  *lp = tmp_linpool;

  if (b->bad)
    return scratch;

  if (b->len == b->size)
  {
    if (b->len >= b->max)
      return scratch;

    uint size = b->size ? (uint) MIN(2 * (u64) b->size, b->max) : MIN(256, b->max);
    if (b->reqs)
    {
      b->reqs = mb_realloc(b->reqs, size * sizeof(struct autopilot_batch_req));
      b->lineno = mb_realloc(b->lineno, size * sizeof(u32));
    }
    else
    {
      b->reqs = mb_alloc(b->pool, size * sizeof(struct autopilot_batch_req));
      b->lineno = mb_alloc(b->pool, size * sizeof(u32));
      b->lp = lp_new_default(b->pool);
    }
    b->size = size;
  }

  *lp = b->lp;
  return &b->slot;
}

/**
 * autopilot_batch_take - the line just parsed
 * @b: an open batch
 * @req: what autopilot_batch_line() gave, parsed
 * @rv: the parser's result
 * @err: its error
 *
 * Returns 1 when the batch took the line (a request of the batch, an
 * empty line, or a bad line it remembers), 0 when it is another request
 * word (commit, abort, a withdraw in a sync, ...): the caller's to handle
 * or to refuse with autopilot_batch_fail() in its own words.
 */
int
autopilot_batch_take(struct autopilot_batch *b, struct autopilot_request *req, int rv, const struct autopilot_error *err)
{
  if (rv < 0)
  {
    autopilot_batch_fail(b, err);
    return 1;
  }

  if (req->op == AP_OP_NONE)
    return 1;

  if ((req->op != AP_OP_ADD) && ((req->op != AP_OP_WITHDRAW) || (b->op == AP_OP_SYNC)))
    return 0;

  if (b->bad)
    return 1;

  if ((b->len == b->size) || (req != &b->slot))
  {
    struct autopilot_error e;
    autopilot_err(&e, "over-limit", "too many requests in one batch");
    autopilot_batch_fail(b, &e);
    return 1;
  }

  /* Most lines of a batch name the target of the line before: share it */
  struct autopilot_batch_req *s = &b->reqs[b->len];
  const char *target = (b->len && !strcmp(s[-1].target, req->target)) ? s[-1].target : lp_strdup(b->lp, req->target);

  *s = (struct autopilot_batch_req) {
    .net = req->net,
    .op = req->op,
    .source = req->source,
    .expires = req->expires,
    .created = req->created,
    .target = target,
    .reason = req->reason,
  };

  b->lineno[b->len++] = b->lines;
  return 1;
}

/* The whole request of a batch's one, for the store (its strings stay the batch's) */
void
autopilot_batch_req_expand(const struct autopilot_batch_req *s, struct autopilot_request *req)
{
  req->op = s->op;
  req->net = s->net;
  strcpy(req->target, s->target);
  req->expires = s->expires;
  req->created = s->created;
  req->source = s->source;
  req->reason = s->reason;
  req->tag[0] = 0;
  req->snapshot = 0;
}

/**
 * autopilot_batch_commit - apply the batch all or nothing
 * @p: autopilot instance
 * @b: the batch (still open afterwards: close it)
 * @source: whose requests they are
 * @err: why not, if not; err->req is the bad line (0: the whole batch),
 *   err->also, for a prefix given twice, its other line (the message
 *   then says so in lines)
 */
int
autopilot_batch_commit(struct autopilot_proto *p, struct autopilot_batch *b, uint source, struct autopilot_error *err)
{
  if (b->bad)
  {
    *err = b->err;
    err->req = b->bad;
    err->also = 0;
    return -1;
  }

  if (autopilot_ovr_batch_at(p, b->reqs, b->len, b->op == AP_OP_SYNC, source, err) == 0)
    return 0;

  /* The store names requests by number; the client knows lines */
  uint req = err->req, also = err->also;

  if (!req || (req > b->len))
    err->req = err->also = 0;
  else if (also && (also <= b->len))
  {
    autopilot_err(err, "batch", "%N is on line %u too", (net_addr *) &b->reqs[req - 1].net, b->lineno[also - 1]);
    err->req = b->lineno[req - 1];
    err->also = b->lineno[also - 1];
  }
  else
  {
    err->req = b->lineno[req - 1];
    err->also = 0;
  }

  return -1;
}
