/*
 *	BIRD -- Autopilot one controller connection (ctl.c, observe.c)
 *
 *	(c) 2026 bird-autopilot developers
 *
 *	Can be freely distributed and used under the terms of the GNU GPL.
 */

#ifndef _BIRD_AUTOPILOT_CONN_H_
#define _BIRD_AUTOPILOT_CONN_H_

#include "proto/autopilot/autopilot.h"

/*
 * One connected controller: framed by ctl.c, which reads its lines and
 * writes its replies; observe.c streams read replies and watch events into
 * the same reply buffer. Nothing else needs it.
 */

#define CTL_OUT_HIGH	(1 << 20)	/* Replies waiting: above this, stop reading the client */
#define CTL_OUT_LOW	(1 << 16)	/* ... until the client has read them down to this */
#define CTL_STALL_READ	4		/* Why nothing else is answered: a read request streams its reply */

/* One connected controller. Unanswered input stays in its socket's rbuf. */
struct autopilot_ctl_conn {
  node n;				/* In autopilot_ctl.conns */
  struct autopilot_proto *p;		/* Our instance */
  struct birdsock *sk;			/* Its socket */
  byte *out;				/* Replies not yet written */
  uint out_len;				/* Bytes in out */
  uint out_size;			/* Allocated size of out */
  uint out_sent;			/* Leading bytes of out the socket is writing, 0 if none */
  uint id;				/* Connection number since the protocol started, for the audit log */
  uint requests;			/* Lines received, for the trace */
  struct autopilot_batch batch;		/* The open batch (batch.op), if any */
  char batch_tag[AUTOPILOT_TAG_MAX];	/* Tag of begin or sync, replied if commit has none */
  char status_tag[AUTOPILOT_TAG_MAX];	/* Tag of the status request that waits */
  u8 stall;				/* Why nothing is answered (nor read) now, CTL_STALL_* */
  u8 status_tries;			/* Event rounds the status request has waited */
  u8 discard;				/* Dropping the rest of a too long line */
  u8 eof;				/* The client sent all it will: answer, then close */
  u8 quiet;				/* The client cannot read: execute, do not answer */
  u8 closed;				/* Done, freed by ctl_event */
  u8 acks;				/* Queued replies acknowledge changes: they need the commit */
  struct obs_dump *obs;			/* Streamed reply under way (observe.c), or NULL */
  struct obs_watch *watch;		/* Watch subscription (observe.c), or NULL */
};

/* ctl.c, for observe.c */
void autopilot_ctl_reply(struct autopilot_ctl_conn *c, const char *tag, const char *fmt, ...);
byte *autopilot_ctl_reserve(struct autopilot_ctl_conn *c, uint n);
void autopilot_ctl_run(struct autopilot_ctl_conn *c);

/* observe.c, for ctl.c */
void autopilot_obs_request(struct autopilot_ctl_conn *c, const struct autopilot_request *req);
void autopilot_obs_wake(struct autopilot_ctl_conn *c);
void autopilot_obs_free(struct autopilot_ctl_conn *c);
void autopilot_watch_flush(struct autopilot_ctl_conn *c);
int autopilot_watch_waiting(struct autopilot_ctl_conn *c);

#endif
