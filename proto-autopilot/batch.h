/*
 *	BIRD -- Autopilot all-or-nothing batches of requests
 *
 *	(c) 2026 bird-autopilot developers
 *
 *	Can be freely distributed and used under the terms of the GNU GPL.
 */

#ifndef _BIRD_AUTOPILOT_BATCH_H_
#define _BIRD_AUTOPILOT_BATCH_H_

#include "nest/bird.h"
#include "lib/resource.h"
#include "proto/autopilot/request.h"

struct autopilot_proto;
struct linpool;

/*
 * One add or withdraw of a batch, kept small: a batch may hold a million
 * (a whole request, with room for any target and tag, is three times
 * this, and each new page of a batch costs a page fault)
 */
struct autopilot_batch_req {
  net_addr_ip6 net;			/* Prefix (IPv4 or IPv6) */
  u8 op;				/* AP_OP_ADD or AP_OP_WITHDRAW */
  u8 source;				/* enum autopilot_source, AP_SRC_MAX if not given */
  btime expires;			/* Real time of expiry, 0 for never */
  btime created;			/* Real time of creation, 0 for now */
  const char *target;			/* Egress name or AUTOPILOT_NEXT_BEST, in the batch's linpool */
  const char *reason;			/* Free text, "" or NULL for none, in the batch's linpool */
};

/* An all-or-nothing batch of requests, fed line by line (batch.c) */
struct autopilot_batch {
  pool *pool;				/* Where its memory comes from */
  struct autopilot_batch_req *reqs;	/* Its add and withdraw requests */
  struct autopilot_request slot;	/* Where the next line is parsed */
  u32 *lineno;				/* The line of each, counted from the batch's start */
  struct linpool *lp;			/* Their reasons */
  uint len, size;			/* Requests, and room for them */
  uint max;				/* Most requests it takes */
  uint lines;				/* Lines fed so far */
  uint bad;				/* First bad line, 0 if none */
  struct autopilot_error err;		/* Why that line is bad */
  u8 op;				/* AP_OP_BEGIN or AP_OP_SYNC while open, AP_OP_NONE closed */
};

void autopilot_batch_open(struct autopilot_batch *b, pool *pool, uint op, uint max);
void autopilot_batch_close(struct autopilot_batch *b);
struct autopilot_request *autopilot_batch_line(struct autopilot_batch *b, struct autopilot_request *scratch,
					       struct linpool **lp);
int autopilot_batch_take(struct autopilot_batch *b, struct autopilot_request *req, int rv, const struct autopilot_error *err);
void autopilot_batch_fail(struct autopilot_batch *b, const struct autopilot_error *err);
void autopilot_batch_req_expand(const struct autopilot_batch_req *s, struct autopilot_request *req);
int autopilot_batch_commit(struct autopilot_proto *p, struct autopilot_batch *b, uint source, struct autopilot_error *err);

#endif
