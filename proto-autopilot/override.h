/*
 *	BIRD -- Autopilot controller overrides
 *
 *	(c) 2026 bird-autopilot developers
 *
 *	Can be freely distributed and used under the terms of the GNU GPL.
 */

#ifndef _BIRD_AUTOPILOT_OVERRIDE_H_
#define _BIRD_AUTOPILOT_OVERRIDE_H_

#include "nest/bird.h"
#include "lib/hash.h"
#include "lib/resource.h"
#include "lib/net.h"
#include "nest/route.h"
#include "lib/event.h"
#include "lib/timer.h"
#include "proto/autopilot/request.h"
#include "proto/autopilot/batch.h"

struct autopilot_proto;
struct autopilot_egress_config;
struct bgp_proto;

enum autopilot_ovr_state {
  AP_OVR_PENDING,			/* No usable path: nothing originated */
  AP_OVR_ACTIVE,			/* Copy of the target's path originated */
  AP_OVR_SHADOW,			/* Shadow mode: would be active, nothing originated */
  AP_OVR_STATES,
};

extern const char *autopilot_ovr_state_names[AP_OVR_STATES];

/*
 * Covering copies of one source prefix: many overrides of more specifics
 * may copy the path of one covering prefix, so they hang in a list of their
 * own, where joining and leaving cost nothing whatever their number.
 */
struct autopilot_src {
  struct autopilot_src *next_hash;	/* In autopilot_proto.ovr_src, by net */
  net_addr_ip6 net;			/* The copied prefix */
  list overrides;			/* struct autopilot_override, by src_n */
};

/* Why an override is pending (autopilot_ovr_why_names) */
enum autopilot_ovr_why {
  AP_WHY_NONE,				/* Resolved */
  AP_WHY_UNRESOLVED,			/* Not resolved yet */
  AP_WHY_CHANNEL,			/* Its family's channel is down */
  AP_WHY_UNCONFIGURED,			/* Its target is no configured egress */
  AP_WHY_NO_PATH,			/* No prefix covering it has a path */
  AP_WHY_NO_TARGET_PATH,		/* The covering prefix has no path of the target */
  AP_WHY_NO_OTHER_PATH,			/* ... nor one of another egress (next-best) */
  AP_WHY_MAX,
};

extern const char *autopilot_ovr_why_names[AP_WHY_MAX];

/*
 * One override: 104 bytes, as there may be a million. The target name is
 * shared by every override of that target (autopilot_name_get()); the
 * copied prefix is kept as a length, since it always covers net.
 */
struct autopilot_override {
  struct autopilot_override *next_hash;	/* In store.hash, by net */
  struct autopilot_override *next_dirty;	/* In store.dirty or store.later */
  node src_n;				/* In its src->overrides, when srcb is set */
  struct autopilot_src *srcb;		/* Source bucket of a covering copy, or NULL */
  const char *target;			/* Egress name (shared, see above), or NULL for next-best */
  char *reason;				/* Free text, or NULL */
  btime created;			/* Real time of the request */
  btime expires;			/* Real time of expiry, 0 for never */
  net_addr_ip6 net;			/* Overridden prefix (IPv4 or IPv6) */
  u32 via_label;			/* Primary label of the copied path's egress */
  u8 src_len;				/* Prefix length of the prefix whose path is copied */
  u8 why;				/* Why pending (enum autopilot_ovr_why), AP_WHY_NONE otherwise */
  u8 source;				/* enum autopilot_source */
  u8 state;				/* enum autopilot_ovr_state */
  u8 dirty:1;				/* In the dirty list */
  u8 deleted:1;				/* Withdrawn by a request; freed by the event */
  u8 announced:1;			/* Our route for net is in the table */
  u8 in_sync:1;				/* Listed by the sync being applied */
  u8 by_path:1;				/* Dirty by a change of its paths: resolved in that round */
  u8 lost:1;				/* Pending because its target's session is down, no lookup made */
};

/* Why @o is pending, NULL when it is not */
static inline const char *
autopilot_ovr_why(const struct autopilot_override *o)
{
  return autopilot_ovr_why_names[o->why];
}

/* The prefix whose path @o copies (or last copied): net, or one covering it */
static inline net_addr_ip6
autopilot_ovr_src(const struct autopilot_override *o)
{
  net_addr_ip6 s = o->net;
  s.pxlen = o->src_len;
  net_normalize((net_addr *) &s);
  return s;
}

#define AUTOPILOT_ROUND_COPIES		512	/* New override copies announced per event round */
#define AUTOPILOT_ROUND_SWEEP		65536	/* Overrides of a lost egress resolved per event round */
#define AUTOPILOT_SWEEP_KICK		4096	/* ... and between BGP's sending of what they withdrew */
#define AUTOPILOT_RECHECK_LOOKUPS	250000	/* Table lookups a second for rechecking pending overrides */
#define AUTOPILOT_LOADING_PATHS		1000	/* Paths added in a second (and 1% of the table): a table loading */
#define AUTOPILOT_LOG_EACH		10	/* Overrides going pending logged one by one per round */
#define AUTOPILOT_AUDIT_EACH		10	/* Override changes logged one by one per round */

/* Kinds of change the audit log tells apart */
enum autopilot_audit_kind {
  AP_AUDIT_ADDED,			/* A prefix got an override */
  AP_AUDIT_REPLACED,			/* An override got another target, expiry or reason */
  AP_AUDIT_WITHDRAWN,			/* An override was removed by a request */
  AP_AUDIT_EXPIRED,			/* An override reached its expiry time */
  AP_AUDIT_RESTORED,			/* An override came back after a restart */
  AP_AUDIT_MAX,
};

/* The audit log of this event round (audit.c) */
struct autopilot_audit {
  char by[64];				/* Who makes the changes now */
  uint count[AP_AUDIT_MAX];		/* Changes of this round, by kind */
  uint total;				/* All changes of this round */
  u8 several;				/* This round's changes came from more than one actor */
};

/* audit.c */
extern const char *autopilot_audit_names[AP_AUDIT_MAX];
void autopilot_audit_start(struct autopilot_proto *p);
void autopilot_audit_by(struct autopilot_proto *p, const char *fmt, ...);
void autopilot_audit(struct autopilot_proto *p, uint what, const net_addr *n, const char *from, const char *to,
		     const char *reason);


/* The override store: every override, and what resolving them needs */
struct autopilot_store {
  HASH(struct autopilot_override) hash;	/* Overrides by prefix */
  u64 *filter;				/* A bit per hash of each prefix in hash: notify's first test */
  uint filter_order;			/* filter has 2^filter_order bits */
  uint filter_set;			/* Prefixes entered since it was built */
  HASH(struct autopilot_src) src;	/* Covering copies by copied prefix */
  slab *src_slab;			/* Allocator of struct autopilot_src */
  slab *slab;				/* Allocator of struct autopilot_override */
  struct autopilot_override *dirty;	/* To resolve in the event */
  struct autopilot_override *later;	/* Dirty, no copy out, waiting for a round (FIFO) */
  struct autopilot_override **later_tail;	/* Where the next deferred one goes */
  event *event;				/* Resolves dirty overrides, updates routes */
  timer *timer;				/* Expiry and recheck, every second */
  uint count;				/* Overrides not withdrawn */
  uint states[AP_OVR_STATES];		/* Overrides by state (withdrawn ones included until freed) */
  uint by_source[AP_SRC_MAX][AP_OVR_STATES];	/* Overrides not withdrawn, by source and state (metrics) */
  uint expired;				/* Overrides removed by expiry since start */
  int recheck;				/* Paths were added: recheck pending and covering */
  uint recheck_wait;			/* Seconds before pending ones are checked again (their cost) */
  uint tick_paths;			/* Paths in the watched tables at the last tick */
  uint flushing;			/* Egresses lost (lost_by set) */
  net_addr_ip6 *sweep;			/* Prefixes of overrides via lost egresses, to resolve again, or NULL */
  uint sweep_pos, sweep_len, sweep_size;	/* Next one, how many, room in sweep */
  uint round_pending;			/* Overrides gone pending in this event round */
  uint round_active;			/* Overrides gone active in this event round */
  struct autopilot_audit audit;		/* Changes of this round, for the audit log */
  event *audit_event;			/* Sums up the round's changes at its end */

  /*
   * Who keeps the set (state.c subscribes at start): told of each change
   * as the request that makes it, and that the set changed. The store
   * knows nothing of files.
   */
  void (*record)(struct autopilot_proto *p, const struct autopilot_request *req);	/* One change, or NULL */
  void (*changed)(struct autopilot_proto *p);	/* Changes were made, or NULL */
};

/* override.c */
void autopilot_ovr_start(struct autopilot_proto *p);
void autopilot_ovr_reconfigure(struct autopilot_proto *p);
void autopilot_ovr_notify(struct autopilot_proto *p, const net_addr *n, rte *new, rte *old);
void autopilot_ovr_session(struct autopilot_proto *p, struct autopilot_egress_config *ec, struct bgp_proto *bp, int up);
int autopilot_ovr_add(struct autopilot_proto *p, const struct autopilot_request *req, uint source, struct autopilot_error *err);
int autopilot_ovr_restore(struct autopilot_proto *p, const struct autopilot_request *req, struct autopilot_error *err);
int autopilot_ovr_withdraw(struct autopilot_proto *p, const net_addr *n, struct autopilot_error *err);
uint autopilot_ovr_flush(struct autopilot_proto *p, const char *target, uint source);
int autopilot_ovr_batch_at(struct autopilot_proto *p, const struct autopilot_batch_req *reqs, uint n, int sync, uint source,
			   struct autopilot_error *err);
struct autopilot_override *autopilot_ovr_find(struct autopilot_proto *p, const net_addr *n);
struct channel;
struct network;
struct network *autopilot_ovr_cover(struct autopilot_proto *p, struct channel *c, const net_addr_ip6 *a, net_addr_ip6 *found);
int autopilot_ovr_settled(struct autopilot_proto *p);
uint autopilot_ovr_count(struct autopilot_proto *p);
void autopilot_ovr_to_request(struct autopilot_override *o, struct autopilot_request *req);


/* override-show.c */
struct symbol;
void autopilot_cmd_show_overrides(struct symbol *sym, const net_addr *n, const char *egress, int pending_only);
struct autopilot_proto *autopilot_show_proto(struct symbol *sym);

void autopilot_overrides_show(struct autopilot_proto *p);


#endif
