/*
 *	BIRD -- Autopilot egress traffic engineering
 *
 *	(c) 2026 bird-autopilot developers
 *
 *	Can be freely distributed and used under the terms of the GNU GPL.
 */

#ifndef _BIRD_AUTOPILOT_H_
#define _BIRD_AUTOPILOT_H_

#include "nest/bird.h"
#include "nest/protocol.h"
#include "nest/route.h"
#include "lib/lists.h"
#include "nest/attrs.h"
#include "lib/event.h"
#include "lib/timer.h"
#include "proto/autopilot/override.h"

struct bgp_proto;
struct bgp_channel;

/* Labels an egress may use: 0..15 are reserved (RFC 3032), 2^20 is the end */
#define AUTOPILOT_MIN_LABEL	16
#define AUTOPILOT_MAX_LABEL	1048575
#define AUTOPILOT_NO_LABEL	((u32) -1)

/* Reply codes of our CLI commands, registered in doc/reply_codes (patch 0006) */
#define AUTOPILOT_REPLY_DONE	 100	/* A change applied: birdc prints nothing for 0 */
#define AUTOPILOT_REPLY_SHOW	1100	/* show autopilot */
#define AUTOPILOT_REPLY_OVERRIDES 1101	/* show autopilot overrides */
#define AUTOPILOT_REPLY_PATHS	1102	/* show autopilot paths */
#define AUTOPILOT_REPLY_METRICS	1103	/* show autopilot metrics */
#define AUTOPILOT_REPLY_REFUSED	8100	/* A request refused, with the reason */

#define AUTOPILOT_MAX_ALT	8	/* Most alternate tables per family */
#define AUTOPILOT_MAX_ETAB	64	/* Most egress tables */
#define AUTOPILOT_MAX_BACKUP	8	/* Most backups of one egress */

/*
 * Large communities (ASN, function, value) of the wire contract. Functions
 * 1..4 of our ASN belong to us: what egresses send of them is removed.
 */
#define AUTOPILOT_LC_LABEL	1	/* Primary label, for hosts without labeled unicast */
#define AUTOPILOT_LC_PP_LABEL	2	/* Precision Path label of the path's egress */
#define AUTOPILOT_LC_OVERRIDE	3	/* Override marker: the path is an Autopilot copy */
#define AUTOPILOT_LC_PP_DISABLE	4	/* Precision Path disabled for this path */
#define AUTOPILOT_LC_MAX	4	/* Highest function we own */

/*
 * The Precision Path disable community: a top-level option read by the
 * filter keywords as they are parsed, so it must come before them. Reset
 * for every config by the protocol's preconfig hook.
 */
struct autopilot_pp_community {
  u8 large;				/* Large community (else standard) */
  u8 used;				/* Read by a filter or protocol of this config */
  lcomm lc;				/* The large community */
  u32 pair;				/* The standard community, (a << 16) | b */
};

#define AUTOPILOT_PP_DEFAULT	((lcomm) { 4200000000U, AUTOPILOT_LC_PP_DISABLE, 0 })

extern struct autopilot_pp_community autopilot_pp;

struct autopilot_egress_config {
  node n;
  const char *name;			/* BGP protocol name, or neighbor address */
  struct proto_config *bgp;		/* Egress BGP protocol, NULL if named by neighbor */
  ip_addr neighbor;			/* Neighbor address when bgp is NULL */
  ip_addr addr;				/* Neighbor address: bgp's remote address, or neighbor */
  uint index;				/* Position in the protocol's egress list */
  u32 label;				/* Primary label (LFIB: to this egress) */
  u32 pp_label;				/* Precision Path label (alternate paths) */
  const char *backup_name[AUTOPILOT_MAX_BACKUP];	/* Backups as given, in order */
  uint backups_given;			/* How many, 0 for the protocol's default */
  struct autopilot_egress_config *backup[AUTOPILOT_MAX_BACKUP];	/* Backups in effect, resolved */
  uint backups;				/* How many */
};

struct autopilot_config {
  struct proto_config c;
  list egresses;			/* struct autopilot_egress_config, in config order */
  uint egress_count;			/* Length of egresses */
  struct autopilot_egress_config **eg_by_name;	/* Hash index of egresses by name (egress.c) */
  struct autopilot_egress_config **eg_by_bgp;	/* ... by BGP protocol config */
  struct autopilot_egress_config **eg_by_addr;	/* ... by neighbor address */
  struct autopilot_egress_config **eg_by_label;	/* ... by primary label */
  uint eg_mask;				/* Size of each index less one; 0 before postconfig */
  const char *backup_name[AUTOPILOT_MAX_BACKUP];	/* Default backups of egresses with none of their own */
  uint backups_given;			/* How many */
  u32 asn;				/* Global admin of our large communities, 0 = from egress BGP */
  int label_community;			/* Also carry the primary label in a large community */
  uint max_overrides;			/* Requests beyond this many overrides are refused */
  int shadow;				/* Shadow mode: resolve and report, originate nothing */
  u32 override_local_pref;		/* LOCAL_PREF of override copies, for the hosts */
  const char *state_file;		/* Where overrides persist, NULL for nowhere */
  const char *ctl_path;			/* Controller socket, NULL for none */
  uint ctl_mode;			/* Its permissions */
  const char *ctl_group;		/* Its group, NULL to leave it */
  uint alternates[2];			/* Host: alternate tables (K) for IPv4, IPv6 */
  uint egress_tables;			/* Host: number of egress tables */
  u32 etab_label[AUTOPILOT_MAX_ETAB];	/* Host: primary label of each egress table, in channel order */
  struct autopilot_pp_community pp;	/* Precision Path disable community in force */
  const char *metrics_file;		/* Prometheus textfile written at metrics_interval, NULL for none */
  btime metrics_interval;		/* How often it is written */
};

#define AUTOPILOT_DEFAULT_MAX_OVERRIDES	1000000
#define AUTOPILOT_METRICS_INTERVAL	(15 S_)	/* Metrics file: written this often by default */
#define AUTOPILOT_METRICS_MIN		(1 S_)	/* ... at most this often */
#define AUTOPILOT_METRICS_MAX		(3600 S_)	/* ... at least this often */

#define AUTOPILOT_DEFAULT_LOCAL_PREF	4294967295U
#define AUTOPILOT_STATE_DELAY		(100 MS)	/* State file: longest a change waits to be written */
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
/* Result codes of controller socket replies, counted for metrics (metrics.c names them) */
enum autopilot_reply_code {
  AP_CODE_OK,				/* ok */
  AP_CODE_BAD_REQUEST,			/* error bad-request */
  AP_CODE_NO_CHANNEL,			/* error no-channel */
  AP_CODE_UNKNOWN_EGRESS,		/* error unknown-egress */
  AP_CODE_OVER_LIMIT,			/* error over-limit */
  AP_CODE_EXPIRED,			/* error expired */
  AP_CODE_NOT_FOUND,			/* error not-found */
  AP_CODE_BATCH,			/* error batch */
  AP_CODE_NO_BATCH,			/* error no-batch */
  AP_CODE_INTERNAL,			/* error internal */
  AP_CODE_OTHER,			/* an error code not in this list (a new request's) */
  AP_CODES,
};

#define AUTOPILOT_HIST_BOUNDS	10	/* Finite bucket bounds of the commit time histogram */

/* Observations of a duration, for a Prometheus histogram */
struct autopilot_histogram {
  u64 bucket[AUTOPILOT_HIST_BOUNDS + 1];	/* Observations in each bucket (not cumulative), +Inf last */
  u64 count;				/* All observations */
  btime sum;				/* Their sum */
};

/*
 * Counters only metrics read: what nothing else counts. Kept over restarts
 * of the protocol (Prometheus counters), zero when it is created.
 */
struct autopilot_metrics {
  u64 replies[AP_CODES];		/* Controller socket replies, by result code */
  struct autopilot_histogram commit[2];	/* Time commit took to apply a batch (0) or sync (1) */
  u64 state_writes[2];			/* Good state file writes: journal commits (0), snapshots (1) */
  u64 state_failures;			/* Failed writes of the state file or journal */
  u64 changes[AP_AUDIT_MAX];		/* Override changes, by kind (those of the audit log) */
  u64 file_writes;			/* Good writes of the metrics file */
  u64 file_failures;			/* Failed writes of the metrics file */
  uint watchers;			/* Controller watch subscriptions open now (observe.c keeps it) */
  u64 watch_resyncs;			/* Resync events sent to watchers that fell behind (observe.c) */
  timer *file_timer;			/* Writes the metrics file, NULL if none (in the protocol's pool) */
  char *file;				/* The file it writes (our copy, to remove it when it goes) */
  btime file_written;			/* Real time of its last good write, 0 for none yet */
  btime file_took;			/* How long the last write took: render, write, fsync, rename */
  char file_error[320];			/* Why the last write failed */
  u8 file_failing;			/* The last write failed, and that was logged */
};

#define AUTOPILOT_ROUND_COPIES		512	/* New override copies announced per event round */

/* What one watched table looks like through its channel */
struct autopilot_table_stats {
  uint prefixes;			/* Prefixes with at least one exported path */
  uint paths;				/* Paths exported to us (all of them, RA_ANY) */
};

/* One Precision Path alternate of a prefix (rank.c) */
struct autopilot_alt {
  rte *r;				/* The path */
  u32 label;				/* Its primary label (its egress, with its next hop) */
  u32 pp_label;				/* Its egress's Precision Path label */
};

/* A host prefix whose paths carry the disable community, for counting */
struct autopilot_disabled {
  struct autopilot_disabled *next;	/* In autopilot_proto.disabled */
  net_addr_ip6 net;			/* The prefix */
};

/* Run-time state of one egress */
struct autopilot_egress {
  node n;
  struct autopilot_egress_config *cf;	/* Its configuration (current) */
  struct neighbor *nbr;			/* Next hop for its LFIB routes, NULL if unreachable */
  ip_addr nh;				/* Neighbor address used for the LFIB */
  u32 lfib_label, lfib_pp_label;	/* Labels announced to the LFIB, or AUTOPILOT_NO_LABEL */
  struct autopilot_egress *lfib_via;	/* Whose neighbor its labels point to: itself, a backup, or NULL */
  u8 lfib_was_live;			/* It has been live (session up, neighbor reachable) since it came */
  u8 lfib_warned;			/* Lost with no live backup, and said so */
  struct channel *flushing;		/* Its channel being flushed (session down), seen by overrides */
};

struct autopilot_proto {
  struct proto p;
  node instance_n;			/* In autopilot_instances while running */
  struct channel *ip4_channel;		/* Watched IPv4 table */
  struct channel *ip6_channel;		/* Watched IPv6 table */
  struct channel *mgr4_channel;		/* Routing manager's IPv4 requests */
  struct channel *mgr6_channel;		/* Routing manager's IPv6 requests */
  struct autopilot_table_stats ip4;	/* Counters for ip4_channel */
  struct autopilot_table_stats ip6;	/* Counters for ip6_channel */
  list egresses;			/* struct autopilot_egress (egress.c owns them) */
  struct autopilot_egress **egress_rt;	/* The same by their config's index */
  uint egress_rt_len;			/* Length of egress_rt */
  struct event *lfib_event;		/* Brings LFIB entries in line with egresses */
  u32 asn;				/* Global admin of our large communities (resolved) */
  int label_community;			/* Copy of the config option */

  HASH(struct autopilot_override) ovr_hash;	/* Overrides by prefix */
  HASH(struct autopilot_src) ovr_src;	/* Covering copies by copied prefix */
  slab *src_slab;			/* Allocator of struct autopilot_src */
  struct autopilot_override *ovr_dirty;	/* To resolve in ovr_event */
  struct autopilot_override *ovr_later;	/* Dirty, no copy out, waiting for a round (FIFO) */
  struct autopilot_override **ovr_later_tail;	/* Where the next deferred one goes */
  slab *ovr_slab;			/* Allocator of struct autopilot_override */
  event *ovr_event;			/* Resolves dirty overrides, updates routes */
  timer *ovr_timer;			/* Expiry and recheck, every second */
  uint ovr_count;			/* Overrides not withdrawn */
  uint ovr_states[AP_OVR_STATES];	/* Overrides by state (withdrawn ones included until freed) */
  uint ovr_by_source[AP_SRC_MAX][AP_OVR_STATES];	/* Overrides not withdrawn, by source and state (metrics) */
  uint ovr_expired;			/* Overrides removed by expiry since start */
  int ovr_recheck;			/* Paths were added: recheck pending and covering */
  uint ovr_flushing;			/* Egresses with a channel being flushed */
  uint ovr_round_pending;		/* Overrides gone pending in this event round */
  uint ovr_round_active;		/* Overrides gone active in this event round */
  struct autopilot_audit audit;		/* Changes of this round, for the audit log */
  event *audit_event;			/* Sums up the round's changes at its end */
  uint mgr_rejected[2];			/* IPv4, IPv6 manager routes refused since start */

  struct channel *alt[2][AUTOPILOT_MAX_ALT];	/* Host: alternate table k+1 for IPv4, IPv6 */
  struct bmap alt_shown[2][AUTOPILOT_MAX_ALT];	/* Host: ids of watched paths now in alternate table k+1 */
  u8 alt_was_up[2][AUTOPILOT_MAX_ALT];	/* Host: alternate channel was up at the last change */
  struct autopilot_copy_attrs *copy_attrs;	/* Host: attributes of recent copies, by what they copy */
  struct channel *etab[AUTOPILOT_MAX_ETAB];	/* Host: egress tables */
  HASH(struct autopilot_disabled) disabled;	/* Host: prefixes with Precision Path disabled */
  slab *disabled_slab;			/* Allocator of struct autopilot_disabled */

  timer *state_timer;			/* Writes the state file a moment after changes */
  int state_loaded;			/* The state file was read (or there is none) */
  btime state_saved;			/* Real time of the last good write, 0 for none yet */
  uint state_saved_count;		/* Overrides in that write */
  btime state_unsaved;			/* Real time of the oldest change not on disk, 0 if none */
  btime state_failed;			/* Real time of the last write, when it failed; else 0 */
  char state_error[320];		/* Why it failed */
  char state_snapshot[256];		/* State file our journal belongs to: read at start or written since */
  int journal_fd;			/* FILE.journal, open for appending, -1 if not open */
  char journal_file[272];		/* Its path */
  u64 journal_size;			/* Its length: the end of its last commit */
  uint journal_records;			/* Changes in it */
  int journal_replaying;		/* Restoring from it: record nothing */
  byte *jbuf;				/* Changes recorded since the last commit, as journal lines */
  uint jbuf_len;			/* Bytes in jbuf */
  uint jbuf_size;			/* Its allocated size */
  uint jbuf_records;			/* Changes in jbuf */

  /* --- Controller socket (ctl.c) --- */
  struct birdsock *ctl_sk;		/* Listening socket, NULL if none */
  char *ctl_path;			/* Its path (our copy: the config may go first), for unlink */
  list ctl_conns;			/* Connected controllers: struct autopilot_ctl_conn */
  event *ctl_event;			/* Frees closed connections, answers waiting status requests */
  uint ctl_next_id;			/* Number of the next connection */
  char ctl_error[320];			/* Why the configured socket is not open, "" if it is */
  /* --- end of controller socket --- */

  /* --- Watch subscriptions (observe.c) --- */
  u64 watch_seq;			/* Sequence number of the last event, one counter for all watchers */
  struct autopilot_ctl_conn *watch_js;	/* Scratch buffer an event is written into once, NULL until a watch */
  event *watch_ev;			/* Moves new events to the watchers' replies, NULL until a watch */

  struct autopilot_metrics metrics;	/* What only metrics read (metrics.c) */
};

extern struct protocol proto_autopilot;


/* Channel config of @CF by name: ipv4 and manager4 have the same net type */
static inline struct channel_config *
autopilot_cf_channel(struct proto_config *CF, const char *name)
{
  struct channel_config *cc;

  WALK_LIST(cc, CF->channels)
    if (!strcmp(cc->name, name))
      return cc;

  return NULL;
}

/* journal.c */
void autopilot_journal_start(struct autopilot_proto *p);
void autopilot_journal_stop(struct autopilot_proto *p);
void autopilot_journal_record(struct autopilot_proto *p, const struct autopilot_request *req);
int autopilot_journal_commit(struct autopilot_proto *p);
int autopilot_journal_folded(struct autopilot_proto *p);
int autopilot_journal_lost(struct autopilot_proto *p);
int autopilot_journal_outgrown(struct autopilot_proto *p);
uint autopilot_journal_replay(struct autopilot_proto *p, uint *expired, uint *managed);

/* state.c: everything changed so far on disk (journal or snapshot); 0 if so */
int autopilot_state_commit(struct autopilot_proto *p);
int autopilot_state_fail(struct autopilot_proto *p, const char *fmt, ...);

/* autopilot.c */
struct bgp_proto *autopilot_egress_bgp(struct autopilot_egress_config *e);
uint autopilot_bgp_routes(struct bgp_proto *bp, uint net_type);

/* lfib.c: egress protection */
void autopilot_lfib_postconfig(struct autopilot_config *cf);
void autopilot_bgp_session(struct bgp_proto *bp, int up);
const char *autopilot_lfib_state(struct autopilot_proto *p, struct autopilot_egress *e);

/* audit.c */
void autopilot_audit_start(struct autopilot_proto *p);
void autopilot_audit_by(struct autopilot_proto *p, const char *fmt, ...);
void autopilot_audit(struct autopilot_proto *p, uint what, const net_addr *n, const char *from, const char *to,
		     const char *reason);

/* ctl.c and state.c: what configure check can tell will not work */
void autopilot_ctl_check_config(struct autopilot_config *cf);
void autopilot_state_check_config(struct autopilot_config *cf);
void autopilot_ctl_show(struct autopilot_proto *p);
void autopilot_state_show(struct autopilot_proto *p);

/* egress.c */
void autopilot_egress_add(struct autopilot_config *cf, struct autopilot_egress_config *e);
void autopilot_egress_postconfig(struct autopilot_config *cf);
struct autopilot_egress_config *autopilot_egress_find(struct autopilot_config *cf, const char *name);
struct autopilot_egress_config *autopilot_egress_of_bgp(struct autopilot_proto *p, struct bgp_proto *bp);
struct autopilot_egress_config *autopilot_egress_by_addr(struct autopilot_config *cf, ip_addr a);
struct autopilot_egress_config *autopilot_egress_by_label(struct autopilot_config *cf, u32 label);
struct autopilot_egress *autopilot_egress_rt(struct autopilot_proto *p, struct autopilot_egress_config *ec);
void autopilot_egress_sync(struct autopilot_proto *p);
void autopilot_tag_init(void);
void autopilot_tag_changed(void);
void autopilot_tag_attrs(struct autopilot_proto *p, struct autopilot_egress_config *e, rta *a, struct linpool *pool);
const struct adata *autopilot_lc_tags(struct autopilot_proto *p, struct autopilot_egress_config *e, u32 label,
				     const struct adata *set, struct linpool *pool);
extern list autopilot_instances;

/* rank.c */
u32 autopilot_path_label(rte *e, u32 asn);
u32 autopilot_path_pp_label(rte *e, u32 asn);
int autopilot_path_pp_disabled(rte *e, const struct autopilot_pp_community *pp);
uint autopilot_rank(net *n, u32 asn, const struct autopilot_pp_community *pp, struct autopilot_alt *out, uint k, int *disabled);

/* host.c */
void autopilot_host_notify(struct autopilot_proto *p, struct channel *c, net *n, rte *new, rte *old);
int autopilot_host_channels(struct autopilot_proto *p, struct proto_config *CF);
void autopilot_host_start(struct autopilot_proto *p);
void autopilot_host_stop(struct autopilot_proto *p);

/* manager.c */
void autopilot_manager_notify(struct autopilot_proto *p, net *n, rte *new);

/* lfib.c */
void autopilot_lfib_start(struct autopilot_proto *p);
void autopilot_lfib_update(struct autopilot_proto *p);
void autopilot_neigh_notify(struct neighbor *n);

void autopilot_show(struct proto *P);
void autopilot_cmd_show(struct symbol *sym);

/* cli.c */
void autopilot_cmd_add(struct symbol *sym, const net_addr *n, const char *target, uint expires, const char *reason);
void autopilot_cmd_withdraw(struct symbol *sym, const net_addr *n);
void autopilot_cmd_flush(struct symbol *sym, const char *target);
void autopilot_cmd_load(struct symbol *sym, const char *file);

/* metrics.c */
struct autopilot_text {
  pool *pool;				/* Where data lives */
  byte *data;				/* The text, not NUL-terminated */
  uint len;				/* Its length */
  uint size;				/* Allocated size of data */
};
void autopilot_metrics_render(struct autopilot_proto *p, struct autopilot_text *t);
void autopilot_metrics_reply(struct autopilot_proto *p, const char *reply);
void autopilot_metrics_observe(struct autopilot_histogram *h, btime took);
void autopilot_metrics_check_config(struct autopilot_config *cf);
void autopilot_metrics_start(struct autopilot_proto *p);
void autopilot_metrics_stop(struct autopilot_proto *p);
void autopilot_metrics_reconfigure(struct autopilot_proto *p, struct autopilot_config *old, struct autopilot_config *new);
void autopilot_metrics_show(struct autopilot_proto *p);
void autopilot_cmd_show_metrics(struct symbol *sym);

/* --- Controller socket (ctl.c) --- */

#define CTL_OUT_HIGH	(1 << 20)	/* Replies waiting: above this, stop reading the client */
#define CTL_OUT_LOW	(1 << 16)	/* ... until the client has read them down to this */
#define CTL_STALL_READ	4		/* Why nothing else is answered: a read request streams its reply */

/* One connected controller. Unanswered input stays in its socket's rbuf. */
struct autopilot_ctl_conn {
  node n;				/* In autopilot_proto.ctl_conns */
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
  struct obs_dump *obs;			/* Streamed reply under way (observe.c), or NULL */
  struct obs_watch *watch;		/* Watch subscription (observe.c), or NULL */
};

void autopilot_ctl_reply(struct autopilot_ctl_conn *c, const char *tag, const char *fmt, ...);
byte *autopilot_ctl_reserve(struct autopilot_ctl_conn *c, uint n);
void autopilot_ctl_run(struct autopilot_ctl_conn *c);
void autopilot_ctl_start(struct autopilot_proto *p);
void autopilot_ctl_stop(struct autopilot_proto *p);
int autopilot_ctl_reconfigure(struct autopilot_proto *p, struct autopilot_config *old, struct autopilot_config *new);
/* --- end of controller socket --- */

/* observe.c: read requests and birdc show autopilot NAME paths */
void autopilot_obs_request(struct autopilot_ctl_conn *c, const struct autopilot_request *req);
void autopilot_obs_wake(struct autopilot_ctl_conn *c);
void autopilot_obs_free(struct autopilot_ctl_conn *c);
void autopilot_watch_flush(struct autopilot_ctl_conn *c);
int autopilot_watch_waiting(struct autopilot_ctl_conn *c);
void autopilot_watch_start(struct autopilot_proto *p);
void autopilot_watch_path(struct autopilot_proto *p, net *n, rte *new, rte *old);
void autopilot_watch_session(struct autopilot_proto *p, struct autopilot_egress_config *e, int up);
struct autopilot_override;
void autopilot_watch_override(struct autopilot_proto *p, struct autopilot_override *o, int old_state, u32 old_via, int new_state);
void autopilot_cmd_show_paths(struct symbol *sym, const net_addr *a);

/* override-show.c, shared with observe.c */
struct autopilot_proto *autopilot_show_proto(struct symbol *sym);
char *autopilot_span(btime t);

#endif
