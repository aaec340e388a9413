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
  struct iface *iface;			/* Its interface, for a link-local address (bgp's), else NULL */
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
  btime label_retire;			/* A label given up by configure still forwards this long, 0 none */
  uint max_overrides;			/* Requests beyond this many overrides are refused */
  int shadow;				/* Shadow mode: resolve and report, originate nothing */
  u32 override_local_pref;		/* LOCAL_PREF of override copies, for the hosts */
  uint override_copy;			/* AUTOPILOT_COPY_*: what attributes a copy carries */
  const char *state_file;		/* Where overrides persist, NULL for nowhere */
  const char *ctl_path;			/* Controller socket, NULL for none */
  uint ctl_mode;			/* Its permissions */
  const char *ctl_group;		/* Its group, NULL to leave it */
  uint ctl_max_conns;			/* Connections open at once; more are told so and closed */
  uint alternates[2];			/* Host: alternate tables (K) for IPv4, IPv6 */
  uint egress_tables;			/* Host: number of egress tables */
  uint alternate_copy;			/* Host: AUTOPILOT_COPY_*: what attributes its tables' routes carry */
  u32 etab_label[AUTOPILOT_MAX_ETAB];	/* Host: primary label of each egress table, in channel order */
  struct autopilot_pp_community pp;	/* Precision Path disable community in force */
  const char *metrics_file;		/* Prometheus textfile written at metrics_interval, NULL for none */
  btime metrics_interval;		/* How often it is written */
};

/* Longest state or metrics file name: room for .journal, .corrupt, .tmp in fixed buffers */
#define AUTOPILOT_PATH_MAX		240
#define AUTOPILOT_DEFAULT_MAX_OVERRIDES	1000000
#define AUTOPILOT_METRICS_INTERVAL	(15 S_)	/* Metrics file: written this often by default */
#define AUTOPILOT_METRICS_MIN		(1 S_)	/* ... at most this often */
#define AUTOPILOT_METRICS_MAX		(3600 S_)	/* ... at least this often */

#define AUTOPILOT_DEFAULT_LOCAL_PREF	4294967295U
#define AUTOPILOT_LABEL_RETIRE		(60 S_)	/* A given-up label forwards this long by default */
#define AUTOPILOT_LABEL_RETIRE_MAX	(3600 S_)

/* override copy, alternate copy: full | minimal: the copied path's attributes, or what is used of them */
#define AUTOPILOT_COPY_FULL		0
#define AUTOPILOT_COPY_MINIMAL		1

/* What one watched table looks like through its channel */
struct autopilot_table_stats {
  uint prefixes;			/* Prefixes with at least one exported path */
  uint paths;				/* Paths exported to us (all of them, RA_ANY) */
};

#include "proto/autopilot/egress.h"
#include "proto/autopilot/override.h"
#include "proto/autopilot/state.h"
#include "proto/autopilot/ctl.h"
#include "proto/autopilot/host.h"
#include "proto/autopilot/metrics.h"

/*
 * One protocol instance plays up to four roles, each in a part of its own,
 * owned by the file named: the egress map and LFIB of a switch, the
 * override store (with its front ends: controller socket, birdc, routing
 * manager), its persistence in the state file and journal, and a host's
 * alternates. What they share is here: the watched tables and our ASN.
 */
struct autopilot_proto {
  struct proto p;
  node instance_n;			/* In autopilot_instances while running */
  struct channel *ip4_channel;		/* Watched IPv4 table */
  struct channel *ip6_channel;		/* Watched IPv6 table */
  struct channel *mgr4_channel;		/* Routing manager's IPv4 requests */
  struct channel *mgr6_channel;		/* Routing manager's IPv6 requests */
  uint mgr_rejected[2];			/* IPv4, IPv6 manager routes refused since start */
  struct autopilot_table_stats ip4;	/* Counters for ip4_channel */
  struct autopilot_table_stats ip6;	/* Counters for ip6_channel */
  u32 asn;				/* Global admin of our large communities (resolved) */
  int label_community;			/* Copy of the config option */

  struct autopilot_switch sw;		/* Egresses and their LFIB entries (egress.c, lfib.c) */
  struct autopilot_store store;		/* Overrides (override.c) */
  struct autopilot_state state;		/* State file and journal (state.c, journal.c) */
  struct autopilot_ctl ctl;		/* Controller socket and its watchers (ctl.c, observe.c) */
  struct autopilot_host host;		/* Host role (host.c) */
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

/* The host role is configured: alternate or egress tables */
static inline int
autopilot_cf_host(const struct autopilot_config *cf)
{
  return cf->alternates[0] || cf->alternates[1] || cf->egress_tables;
}

/* autopilot.c */
struct bgp_proto *autopilot_egress_bgp(struct autopilot_egress_config *e);
uint autopilot_bgp_routes(struct bgp_proto *bp, uint net_type);
void autopilot_show(struct proto *P);
void autopilot_cmd_show(struct symbol *sym);

/* manager.c */
void autopilot_manager_notify(struct autopilot_proto *p, net *n, rte *new);

/* cli.c */
void autopilot_cmd_add(struct symbol *sym, const net_addr *n, const char *target, uint expires, const char *reason);
void autopilot_cmd_withdraw(struct symbol *sym, const net_addr *n);
void autopilot_cmd_flush(struct symbol *sym, const char *target);
void autopilot_cmd_load(struct symbol *sym, const char *file);

#endif
