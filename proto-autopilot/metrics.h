/*
 *	BIRD -- Autopilot metrics (Prometheus text, metrics file)
 *
 *	(c) 2026 bird-autopilot developers
 *
 *	Can be freely distributed and used under the terms of the GNU GPL.
 */

#ifndef _BIRD_AUTOPILOT_METRICS_H_
#define _BIRD_AUTOPILOT_METRICS_H_

#include "nest/bird.h"
#include "lib/resource.h"
#include "lib/timer.h"
#include "proto/autopilot/override.h"

struct autopilot_proto;
struct autopilot_config;
struct symbol;

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

#endif
