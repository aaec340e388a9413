/*
 *	BIRD -- Autopilot controller socket
 *
 *	(c) 2026 bird-autopilot developers
 *
 *	Can be freely distributed and used under the terms of the GNU GPL.
 */

#ifndef _BIRD_AUTOPILOT_CTL_H_
#define _BIRD_AUTOPILOT_CTL_H_

#include "nest/bird.h"
#include "nest/route.h"
#include "lib/event.h"
#include "lib/lists.h"
#include "lib/timer.h"

struct autopilot_proto;
struct autopilot_config;
struct autopilot_egress_config;
struct autopilot_override;
struct autopilot_ctl_conn;
struct birdsock;
struct symbol;

#define AUTOPILOT_CTL_CONNS	64	/* Connections open at once, by default */
#define AUTOPILOT_CTL_CONNS_MAX	4096	/* ... and at most (each is a descriptor of BIRD's) */

/* The controller socket of one protocol instance, and its watchers */
struct autopilot_ctl {
  struct birdsock *sk;			/* Listening socket, NULL if none */
  timer *accept_timer;			/* Accepts again after a pause for want of descriptors */
  u64 refused;				/* Connections refused: over the limit, or accept() failed */
  char *path;				/* Its path (our copy: the config may go first), for unlink */
  list conns;				/* Connected controllers: struct autopilot_ctl_conn (conn.h) */
  event *event;				/* Frees closed connections, answers waiting status requests */
  uint next_id;				/* Number of the next connection */
  char error[320];			/* Why the configured socket is not open, "" if it is */
  u64 watch_seq;			/* Sequence number of the last event, one counter for all watchers */
  struct autopilot_ctl_conn *watch_js;	/* Scratch buffer an event is written into once, NULL until a watch */
  event *watch_ev;			/* Moves new events to the watchers' replies, NULL until a watch */
  list watch_log;			/* Events not yet in every active watcher's replies: struct obs_log_chunk */
  u64 watch_head;			/* Bytes of events ever put in watch_log */
};

/* ctl.c */
void autopilot_ctl_check_config(struct autopilot_config *cf);
void autopilot_ctl_start(struct autopilot_proto *p);
void autopilot_ctl_stop(struct autopilot_proto *p);
int autopilot_ctl_reconfigure(struct autopilot_proto *p, struct autopilot_config *old, struct autopilot_config *new);
void autopilot_ctl_show(struct autopilot_proto *p);
uint autopilot_ctl_connections(struct autopilot_proto *p);

/* observe.c: what the rest of the protocol tells watchers, and birdc show autopilot NAME paths */
void autopilot_watch_start(struct autopilot_proto *p);
void autopilot_watch_path(struct autopilot_proto *p, net *n, rte *new, rte *old);
void autopilot_watch_session(struct autopilot_proto *p, struct autopilot_egress_config *e, int up);
void autopilot_watch_override(struct autopilot_proto *p, struct autopilot_override *o, int old_state, u32 old_via, int new_state);
void autopilot_cmd_show_paths(struct symbol *sym, const net_addr *a);

/* override-show.c, shared with observe.c */
char *autopilot_span(btime t);

#endif
