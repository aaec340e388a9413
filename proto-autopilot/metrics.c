/*
 *	BIRD -- Autopilot metrics for Prometheus
 *
 *	(c) 2026 bird-autopilot developers
 *
 *	Can be freely distributed and used under the terms of the GNU GPL.
 */

/**
 * DOC: Metrics
 *
 * The protocol's state as Prometheus text (exposition format 0.0.4, what
 * node_exporter's textfile collector and Prometheus itself read), ended by
 * the line "# EOF" (a comment there, OpenMetrics' end marker: a reader can
 * tell a whole text from a cut one). One renderer, three readers: the
 * "metrics" request of the controller socket, "show autopilot NAME
 * metrics", and a file for node_exporter written every "interval"
 * ("metrics filename PATH interval N s"), atomically: to PATH.tmp, then
 * rename() over PATH, so the collector reads the old text or the new one,
 * never half of one. Nothing is fsync()ed: the rename is atomic for
 * readers without it, a snapshot rewritten every interval needs no
 * durability, and an fsync() stalled BIRD's loop 8-18 ms per write on a
 * busy disk (after a crash the collector's mtime alert tells a stale file).
 *
 * Names follow Prometheus' conventions: prefix bird_autopilot_, the unit in
 * the name, _total for counters, labels for what varies (protocol, egress,
 * family, state, source, code); every value of a fixed label set (states,
 * sources, codes) is written, zero or not, so rate() and alerts see a
 * series before its first event. Rendering reads counters only: no walk
 * over overrides or routes, so its cost does not grow with the tables.
 *
 * A failed write of the file is logged once, counted every time, and shown
 * by "show autopilot" until a write succeeds (that is logged too).
 */

#undef LOCAL_DEBUG

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/stat.h>

#include "nest/bird.h"
#include "nest/protocol.h"
#include "nest/cli.h"
#include "conf/conf.h"
#include "lib/string.h"
#include "lib/timer.h"
#include "proto/bgp/bgp.h"
#include "autopilot.h"

#define MT_PREFIX	"bird_autopilot_"

/* Result codes as replies spell them, by enum autopilot_reply_code */
static const char *autopilot_code_names[AP_CODES] = {
  [AP_CODE_OK] = "ok",
  [AP_CODE_BAD_REQUEST] = "bad-request",
  [AP_CODE_NO_CHANNEL] = "no-channel",
  [AP_CODE_UNKNOWN_EGRESS] = "unknown-egress",
  [AP_CODE_OVER_LIMIT] = "over-limit",
  [AP_CODE_EXPIRED] = "expired",
  [AP_CODE_NOT_FOUND] = "not-found",
  [AP_CODE_BATCH] = "batch",
  [AP_CODE_NO_BATCH] = "no-batch",
  [AP_CODE_INTERNAL] = "internal",
  [AP_CODE_OTHER] = "other",
};

/* Bucket bounds of the commit time histogram: a single add to a sync of a million */
static const btime mt_bounds[AUTOPILOT_HIST_BOUNDS] = {
  1 MS, 5 MS, 10 MS, 50 MS, 100 MS, 500 MS, 1 S, 2500 MS, 5 S, 10 S,
};
static const char *mt_bound_names[AUTOPILOT_HIST_BOUNDS] = {
  "0.001", "0.005", "0.01", "0.05", "0.1", "0.5", "1", "2.5", "5", "10",
};

/* LFIB states as autopilot_lfib_state() begins them, every one written */
static const char *mt_lfib_states[] = { "up", "pending", "unreachable", "protected", "unprotected" };


/*
 *	Counting
 */

/**
 * autopilot_metrics_reply - count one controller socket reply by its code
 * @p: autopilot instance
 * @reply: the reply line, after its tag
 */
void
autopilot_metrics_reply(struct autopilot_proto *p, const char *reply)
{
  uint code = AP_CODE_OTHER;

  if (!strncmp(reply, "ok", 2) && ((reply[2] == ' ') || !reply[2] || (reply[2] == '\n')))
    code = AP_CODE_OK;
  else if (!strncmp(reply, "error ", 6))
  {
    const char *w = reply + 6;
    uint len = strcspn(w, " \n");

    for (uint i = AP_CODE_OK + 1; i < AP_CODE_OTHER; i++)
      if ((strlen(autopilot_code_names[i]) == len) && !memcmp(w, autopilot_code_names[i], len))
	code = i;
  }

  p->metrics.replies[code]++;
}

/* One duration into histogram @h */
void
autopilot_metrics_observe(struct autopilot_histogram *h, btime took)
{
  uint i = 0;

  while ((i < AUTOPILOT_HIST_BOUNDS) && (took > mt_bounds[i]))
    i++;

  h->bucket[i]++;
  h->count++;
  h->sum += took;
}


/*
 *	Text
 */

/* Room for @n more bytes at the end of @t */
static byte *
mt_reserve(struct autopilot_text *t, uint n)
{
  if (t->len + n > t->size)
  {
    uint size = MAX(2 * t->size, MAX(t->len + n, 4096));
    t->data = t->data ? mb_realloc(t->data, size) : mb_alloc(t->pool, size);
    t->size = size;
  }

  return t->data + t->len;
}

static void
mt_printf(struct autopilot_text *t, const char *fmt, ...)
{
  va_list args;

  for (uint room = 256; ; room *= 2)
  {
    byte *b = mt_reserve(t, room);
    va_start(args, fmt);
    int n = bvsnprintf(b, room, fmt, args);
    va_end(args);

    if (n >= 0)
    {
      t->len += n;
      return;
    }
  }
}

/* A label value: backslash, double quote and newline escaped, as the format wants */
static void
mt_quoted(struct autopilot_text *t, const char *s)
{
  byte *b = mt_reserve(t, 2 * strlen(s) + 2);
  uint n = 0;

  b[n++] = '"';
  for (; *s; s++)
  {
    if ((*s == '\\') || (*s == '"'))
      b[n++] = '\\';
    if (*s == '\n')
    {
      b[n++] = '\\';
      b[n++] = 'n';
      continue;
    }
    b[n++] = *s;
  }
  b[n++] = '"';
  t->len += n;
}

/* A family's samples: its HELP and TYPE go out before its first sample only */
struct mt {
  struct autopilot_text *t;		/* Where the text goes */
  const char *proto;			/* Value of label protocol */
  const char *name;			/* Family being written, without the prefix */
  const char *type;			/* Its type */
  const char *help;			/* Its help text */
  int started;				/* Its HELP and TYPE are out */
};

static void
mt_family(struct mt *m, const char *name, const char *type, const char *help)
{
  m->name = name;
  m->type = type;
  m->help = help;
  m->started = 0;
}

/* Start a sample of the family: NAME[SUFFIX]{protocol="..." -- labels follow */
static void
mt_sample(struct mt *m, const char *suffix)
{
  if (!m->started)
  {
    mt_printf(m->t, "# HELP " MT_PREFIX "%s %s\n# TYPE " MT_PREFIX "%s %s\n", m->name, m->help, m->name, m->type);
    m->started = 1;
  }

  mt_printf(m->t, MT_PREFIX "%s%s{protocol=", m->name, suffix);
  mt_quoted(m->t, m->proto);
}

static void
mt_label(struct mt *m, const char *key, const char *val)
{
  mt_printf(m->t, ",%s=", key);
  mt_quoted(m->t, val);
}

static void
mt_label_u(struct mt *m, const char *key, uint val)
{
  mt_printf(m->t, ",%s=\"%u\"", key, val);
}

/* End the sample with its value */
static void
mt_value(struct mt *m, u64 v)
{
  mt_printf(m->t, "} %lu\n", v);
}

/* A sample with the protocol label only */
static void
mt_one(struct mt *m, const char *name, const char *type, const char *help, u64 v)
{
  mt_family(m, name, type, help);
  mt_sample(m, "");
  mt_value(m, v);
}

static const char *
mt_family_name(uint fam)
{
  return fam ? "ipv6" : "ipv4";
}


/*
 *	What is rendered
 */

/* A counter family with one sample per name of an enum: @v[i] labelled @label="@names[i]" */
static void
mt_by_name(struct mt *m, const char *name, const char *help, const char *label,
	   const char *const *names, const u64 *v, uint n)
{
  mt_family(m, name, "counter", help);
  for (uint i = 0; i < n; i++)
  {
    mt_sample(m, "");
    mt_label(m, label, names[i]);
    mt_value(m, v[i]);
  }
}

/* A family of samples, one per table of @c that exists: labels family (and table if @table) */
static void
mt_per_family(struct mt *m, const char *name, const char *type, const char *help,
	      struct channel *c[2], const uint v[2], int table)
{
  mt_family(m, name, type, help);
  for (uint fam = 0; fam < 2; fam++)
    if (c[fam])
    {
      mt_sample(m, "");
      mt_label(m, "family", mt_family_name(fam));
      if (table)
	mt_label(m, "table", c[fam]->table->name);
      mt_value(m, v[fam]);
    }
}

static void
mt_tables(struct mt *m, struct autopilot_proto *p)
{
  struct channel *c[2] = { p->ip4_channel, p->ip6_channel };

  mt_per_family(m, "table_prefixes", "gauge", "Prefixes with at least one path in the watched table.",
		c, (uint [2]) { p->ip4.prefixes, p->ip6.prefixes }, 1);
  mt_per_family(m, "table_paths", "gauge", "Paths in the watched table (every path of every prefix).",
		c, (uint [2]) { p->ip4.paths, p->ip6.paths }, 1);
}

/* The word an LFIB state starts with (autopilot_lfib_state() says more) */
static const char *
mt_lfib_state(struct autopilot_proto *p, struct autopilot_egress *e)
{
  const char *s = autopilot_lfib_state(p, e);

  for (uint i = 0; i < ARRAY_SIZE(mt_lfib_states); i++)
  {
    uint len = strlen(mt_lfib_states[i]);
    if (!strncmp(s, mt_lfib_states[i], len) && ((s[len] == ' ') || !s[len]))
      return mt_lfib_states[i];
  }

  /* A state this list does not know: render it anyway rather than lie */
  return s;
}

static void
mt_egresses(struct mt *m, struct autopilot_proto *p)
{
  struct autopilot_egress *e;

  mt_family(m, "egress_info", "gauge", "An egress of the protocol with its labels (always 1).");
  WALK_LIST(e, p->sw.egresses)
    if (e->cf)
    {
      ip_addr nb = e->cf->bgp ? ((struct bgp_config *) e->cf->bgp)->remote_ip : e->cf->neighbor;
      mt_sample(m, "");
      mt_label(m, "egress", e->cf->name);
      mt_label_u(m, "label", e->cf->label);
      mt_label_u(m, "pp_label", e->cf->pp_label);
      mt_label(m, "neighbor", tmp_sprintf("%I", nb));
      mt_value(m, 1);
    }

  mt_family(m, "egress_up", "gauge", "1 if the egress's BGP session is established, else 0.");
  WALK_LIST(e, p->sw.egresses)
    if (e->cf)
    {
      struct bgp_proto *bp = autopilot_egress_bgp(e->cf);
      mt_sample(m, "");
      mt_label(m, "egress", e->cf->name);
      mt_value(m, bp && (bp->p.proto_state == PS_UP));
    }

  mt_family(m, "egress_paths", "gauge", "Paths the egress's BGP session has imported, by family.");
  WALK_LIST(e, p->sw.egresses)
    if (e->cf)
    {
      struct bgp_proto *bp = autopilot_egress_bgp(e->cf);
      for (uint fam = 0; fam < 2; fam++)
      {
	mt_sample(m, "");
	mt_label(m, "egress", e->cf->name);
	mt_label(m, "family", mt_family_name(fam));
	mt_value(m, autopilot_bgp_routes(bp, fam ? NET_IP6 : NET_IP4));
      }
    }

  /* No mpls channel, no LFIB: nothing to say */
  if (!p->p.mpls_channel)
    return;

  mt_family(m, "egress_lfib_state", "gauge",
	    "State of the egress's LFIB entries: 1 for the state it is in, 0 for the others.");
  WALK_LIST(e, p->sw.egresses)
    if (e->cf)
    {
      const char *now = mt_lfib_state(p, e);
      int known = 0;

      for (uint i = 0; i < ARRAY_SIZE(mt_lfib_states); i++)
      {
	mt_sample(m, "");
	mt_label(m, "egress", e->cf->name);
	mt_label(m, "state", mt_lfib_states[i]);
	mt_value(m, now == mt_lfib_states[i]);
	known |= (now == mt_lfib_states[i]);
      }

      if (!known)
      {
	mt_sample(m, "");
	mt_label(m, "egress", e->cf->name);
	mt_label(m, "state", now);
	mt_value(m, 1);
      }
    }

  mt_family(m, "egress_protected_by", "gauge",
	    "1 while the egress's labels point to this backup (its own neighbor lost).");
  WALK_LIST(e, p->sw.egresses)
    if (e->cf && e->lfib_via && (e->lfib_via != e) && e->lfib_via->cf)
    {
      mt_sample(m, "");
      mt_label(m, "egress", e->cf->name);
      mt_label(m, "backup", e->lfib_via->cf->name);
      mt_value(m, 1);
    }
}

static void
mt_overrides(struct mt *m, struct autopilot_proto *p)
{
  struct autopilot_config *cf = (void *) p->p.cf;

  mt_family(m, "overrides", "gauge", "Overrides by state and by who made them (cli, controller, bgp).");
  for (uint st = 0; st < AP_OVR_STATES; st++)
    for (uint src = 0; src < AP_SRC_MAX; src++)
    {
      mt_sample(m, "");
      mt_label(m, "state", autopilot_ovr_state_names[st]);
      mt_label(m, "source", autopilot_source_names[src]);
      mt_value(m, p->store.by_source[src][st]);
    }

  mt_one(m, "overrides_limit", "gauge", "Most overrides the protocol takes (max overrides).", cf->max_overrides);
  mt_one(m, "shadow_mode", "gauge", "1 in shadow mode (overrides resolved, nothing originated).", cf->shadow);

  mt_by_name(m, "override_changes_total", "Override changes, by kind (added, replaced, withdrawn, expired, restored).",
	     "kind", autopilot_audit_names, p->metrics.changes, AP_AUDIT_MAX);
}

static void
mt_histogram(struct mt *m, const char *kind, struct autopilot_histogram *h)
{
  u64 cum = 0;

  for (uint i = 0; i <= AUTOPILOT_HIST_BOUNDS; i++)
  {
    cum += h->bucket[i];
    mt_sample(m, "_bucket");
    mt_label(m, "kind", kind);
    mt_label(m, "le", (i < AUTOPILOT_HIST_BOUNDS) ? mt_bound_names[i] : "+Inf");
    mt_value(m, cum);
  }

  mt_sample(m, "_sum");
  mt_label(m, "kind", kind);
  mt_printf(m->t, "} %.6t\n", h->sum);

  mt_sample(m, "_count");
  mt_label(m, "kind", kind);
  mt_value(m, h->count);
}

static void
mt_controller(struct mt *m, struct autopilot_proto *p)
{
  struct autopilot_config *cf = (void *) p->p.cf;

  if (!cf->ctl_path)
    return;

  mt_one(m, "controller_socket_listening", "gauge", "1 if the controller socket is open, else 0.",
	 p->ctl.sk && !p->ctl.error[0]);
  mt_one(m, "controller_connections", "gauge", "Controllers connected now.", autopilot_ctl_connections(p));
  mt_one(m, "controller_connections_accepted_total", "counter", "Controller connections accepted.", p->ctl.next_id);
  mt_one(m, "controller_connections_refused_total", "counter",
	 "Controller connections refused: over the socket's connections limit, or out of descriptors.", p->ctl.refused);

  mt_by_name(m, "controller_requests_total",
	     "Controller socket requests by result code (ok or the error code); a batch is one request, its commit.",
	     "code", autopilot_code_names, p->metrics.replies, AP_CODES);

  mt_family(m, "batch_commit_seconds", "histogram",
	    "Time a commit took to validate and apply a batch or sync to the override store.");
  mt_histogram(m, "batch", &p->metrics.commit[0]);
  mt_histogram(m, "sync", &p->metrics.commit[1]);

  mt_one(m, "controller_watchers", "gauge", "Watch subscriptions open now.", p->metrics.watchers);
  mt_one(m, "controller_watch_resyncs_total", "counter",
	 "Resync events sent to watchers that fell behind.", p->metrics.watch_resyncs);
}

static void
mt_state_file(struct mt *m, struct autopilot_proto *p)
{
  struct autopilot_config *cf = (void *) p->p.cf;

  if (!cf->state_file)
    return;

  mt_family(m, "state_file_writes_total", "counter",
	    "Good writes of the state file: journal commits and snapshots.");
  mt_sample(m, "");
  mt_label(m, "kind", "journal");
  mt_value(m, p->metrics.state_writes[0]);
  mt_sample(m, "");
  mt_label(m, "kind", "snapshot");
  mt_value(m, p->metrics.state_writes[1]);

  mt_one(m, "state_file_write_failures_total", "counter",
	 "Failed operations writing the state file or its journal.", p->metrics.state_failures);
  mt_one(m, "state_file_failing", "gauge",
	 "1 while the last write failed: changes are in effect but not on disk.", !!p->state.failed);
  mt_one(m, "state_file_last_write_timestamp_seconds", "gauge",
	 "UNIX time of the last good write, 0 for none yet.", p->state.saved TO_S);
}

static void
mt_manager(struct mt *m, struct autopilot_proto *p)
{
  struct channel *c[2] = { p->mgr4_channel, p->mgr6_channel };

  if (!c[0] && !c[1])
    return;

  mt_per_family(m, "manager_routes", "gauge", "Routes of the routing manager's table (its override requests).",
		c, (uint [2]) { c[0] ? c[0]->stats.exp_routes : 0, c[1] ? c[1]->stats.exp_routes : 0 }, 1);
  mt_per_family(m, "manager_refused_total", "counter", "Routing manager routes refused as override requests.",
		c, p->mgr_rejected, 0);
}

static void
mt_host(struct mt *m, struct autopilot_proto *p)
{
  struct autopilot_config *cf = (void *) p->p.cf;

  if (!autopilot_cf_host(cf))
    return;

  mt_family(m, "host_alternate_prefixes", "gauge",
	    "Prefixes in alternate table K (the K+1th best egress of each prefix), by family.");
  for (uint fam = 0; fam < 2; fam++)
    for (uint k = 0; k < cf->alternates[fam]; k++)
    {
      mt_sample(m, "");
      mt_label(m, "family", mt_family_name(fam));
      mt_label_u(m, "alternate", k + 1);
      mt_label(m, "table", p->host.alt[fam][k]->table->name);
      mt_value(m, p->host.alt[fam][k]->stats.imp_routes);
    }

  mt_family(m, "host_egress_table_prefixes", "gauge", "Prefixes in the table of one egress label.");
  for (uint i = 0; i < cf->egress_tables; i++)
  {
    mt_sample(m, "");
    mt_label_u(m, "label", cf->etab_label[i]);
    mt_label(m, "table", p->host.etab[i]->table->name);
    mt_value(m, p->host.etab[i]->stats.imp_routes);
  }

  mt_one(m, "host_pp_disabled_prefixes", "gauge",
	 "Prefixes whose paths carry the Precision Path disable community.", p->host.disabled.count);
}

/* Everything, or only "up 0" when the protocol is not up (its counts are gone) */
static void
mt_render(struct autopilot_proto *p, struct autopilot_text *t, int up)
{
  struct autopilot_config *cf = (void *) p->p.cf;
  struct mt m = { .t = t, .proto = p->p.name };

  mt_one(&m, "up", "gauge", "1 while the autopilot protocol runs, else 0.", up);

  if (up)
  {
    mt_tables(&m, p);
    mt_egresses(&m, p);
    if (p->ip4_channel || p->ip6_channel)
      if (!EMPTY_LIST(cf->egresses) || p->store.count)
	mt_overrides(&m, p);
    mt_controller(&m, p);
    mt_state_file(&m, p);
    mt_manager(&m, p);
    mt_host(&m, p);

    if (cf->metrics_file)
    {
      mt_one(&m, "metrics_file_writes_total", "counter", "Good writes of the metrics file.", p->metrics.file_writes);
      mt_one(&m, "metrics_file_write_failures_total", "counter", "Failed writes of the metrics file.",
	     p->metrics.file_failures);
      mt_family(&m, "metrics_file_last_write_duration_seconds", "gauge",
		"How long the previous write of the metrics file took (render, write, rename).");
      mt_sample(&m, "");
      mt_printf(t, "} %.6t\n", p->metrics.file_took);
    }
  }

  mt_printf(t, "# EOF\n");
}

/**
 * autopilot_metrics_render - the protocol's metrics as Prometheus text
 * @p: autopilot instance
 * @t: text to append to; its data is allocated from @t->pool, the caller frees it
 */
void
autopilot_metrics_render(struct autopilot_proto *p, struct autopilot_text *t)
{
  mt_render(p, t, p->p.proto_state == PS_UP);
}


/*
 *	The file for node_exporter
 */

static int
mt_write_all(int fd, const byte *b, uint len)
{
  while (len)
  {
    ssize_t n = write(fd, b, len);
    if (n < 0)
    {
      if (errno == EINTR)
	continue;
      return -1;
    }
    b += n;
    len -= n;
  }

  return 0;
}

/* Write @t as the metrics file; NULL if done, else why not */
static const char *
mt_write_file(const char *file, struct autopilot_text *t)
{
  char *tmp = tmp_sprintf("%s.tmp", file);
  const char *err = NULL;

  /* The collector runs as another user: it must be able to read the file */
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return tmp_sprintf("cannot create %s: %m", tmp);

  if ((fchmod(fd, 0644) < 0) || (mt_write_all(fd, t->data, t->len) < 0))
    err = tmp_sprintf("cannot write %s: %m", tmp);

  if ((close(fd) < 0) && !err)
    err = tmp_sprintf("cannot close %s: %m", tmp);

  if (!err && (rename(tmp, file) < 0))
    err = tmp_sprintf("cannot rename %s to %s: %m", tmp, file);

  if (err)
    unlink(tmp);

  return err;
}

static void
mt_write(struct autopilot_proto *p, int up)
{
  struct autopilot_metrics *m = &p->metrics;
  struct autopilot_text t = { .pool = p->p.pool };

  /* The loop's clock stands still while we run: read the real one */
  btime start = current_time_now();
  mt_render(p, &t, up);
  const char *err = mt_write_file(m->file, &t);
  mb_free(t.data);
  m->file_took = current_time_now() - start;

  if (err)
  {
    m->file_failures++;
    bsnprintf(m->file_error, sizeof(m->file_error), "%s", err);

    /* Once, not at every interval: the count and show autopilot tell the rest */
    if (!m->file_failing)
      log(L_ERR "%s: Metrics file %s: %s (logged once until a write succeeds)", p->p.name, m->file, err);
    m->file_failing = 1;
    return;
  }

  if (m->file_failing)
    log(L_INFO "%s: Metrics file %s written again", p->p.name, m->file);

  m->file_writes++;
  m->file_written = current_real_time();
  m->file_failing = 0;
  m->file_error[0] = 0;
}

static void
mt_timer(timer *tm)
{
  struct autopilot_proto *p = tm->data;
  mt_write(p, p->p.proto_state == PS_UP);
}

/* A metrics file that cannot work is a config error, not a log line at every interval */
void
autopilot_metrics_check_config(struct autopilot_config *cf)
{
  const char *file = cf->metrics_file;
  struct stat st;

  if (!file)
    return;

  if (!file[0] || (file[strlen(file) - 1] == '/'))
    cf_error("Autopilot: metrics file '%s': a file name is needed", file);

  if (strlen(file) > AUTOPILOT_PATH_MAX)
    cf_error("Autopilot: metrics filename too long (at most %u bytes)", AUTOPILOT_PATH_MAX);

  char *dir = dirname(tmp_sprintf("%s", file));
  if ((stat(dir, &st) < 0) || !S_ISDIR(st.st_mode))
    cf_error("Autopilot: metrics file %s: no directory %s", file, dir);

  /* BIRD may run as a user (bird -u): what counts is what it may do */
  if (faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS) < 0)
    cf_error("Autopilot: metrics file %s: BIRD (uid %u) cannot write in %s", file, (uint) geteuid(), dir);

  if ((stat(file, &st) == 0) && !S_ISREG(st.st_mode))
    cf_error("Autopilot: metrics file %s: exists and is not a regular file", file);

  /* Another file of this or another protocol at the same path: autopilot_check_files() */

  uint len = strlen(file);
  if ((len < 5) || strcmp(file + len - 5, ".prom"))
    cf_warn("Autopilot: metrics file %s: node_exporter's textfile collector reads only files named *.prom", file);
}

/* Start writing the configured file, if any: the first one at once */
void
autopilot_metrics_start(struct autopilot_proto *p)
{
  struct autopilot_config *cf = (void *) p->p.cf;
  struct autopilot_metrics *m = &p->metrics;

  if (!cf->metrics_file)
    return;

  uint len = strlen(cf->metrics_file) + 1;
  m->file = mb_alloc(p->p.pool, len);
  memcpy(m->file, cf->metrics_file, len);
  m->file_failing = 0;
  m->file_error[0] = 0;
  m->file_written = 0;
  m->file_timer = tm_new_init(p->p.pool, mt_timer, p, cf->metrics_interval, 0);
  tm_start(m->file_timer, 0);
}

/* Stop writing: a last file says the protocol is down, or none when it is gone */
static void
mt_stop(struct autopilot_proto *p, int remove)
{
  struct autopilot_metrics *m = &p->metrics;

  if (!m->file)
    return;

  rfree(m->file_timer);
  m->file_timer = NULL;

  if (remove)
    unlink(m->file);
  else
    mt_write(p, 0);

  mb_free(m->file);
  m->file = NULL;
}

/* The protocol stops: the file says so, unless the protocol was removed from the config */
void
autopilot_metrics_stop(struct autopilot_proto *p)
{
  mt_stop(p, p->p.down_code == PDC_CF_REMOVE);
}

/* A new config (already in p->p.cf): another file, interval, or none */
void
autopilot_metrics_reconfigure(struct autopilot_proto *p, struct autopilot_config *old, struct autopilot_config *new)
{
  struct autopilot_metrics *m = &p->metrics;

  if (!m->file || !new->metrics_file || strcmp(m->file, new->metrics_file))
  {
    /* The old file is ours, and nobody writes it now */
    mt_stop(p, 1);
    autopilot_metrics_start(p);
    return;
  }

  if (old->metrics_interval != new->metrics_interval)
  {
    m->file_timer->recurrent = new->metrics_interval;
    tm_start(m->file_timer, new->metrics_interval);
  }
}

/* The file's health for show autopilot: where, how often, last write or why not */
void
autopilot_metrics_show(struct autopilot_proto *p)
{
  struct autopilot_config *cf = (void *) p->p.cf;
  struct autopilot_metrics *m = &p->metrics;
  char when[TM_DATETIME_BUFFER_SIZE];

  if (!cf->metrics_file || !m->file)
    return;

  tm_format_real_time(when, sizeof(when), "%F %T", m->file_written);

  if (m->file_failing)
    cli_msg(-AUTOPILOT_REPLY_SHOW, "  Metrics file: %s every %t s: FAILING (%lu failed writes): %s", m->file,
	    cf->metrics_interval, m->file_failures, m->file_error);
  else if (m->file_written)
    cli_msg(-AUTOPILOT_REPLY_SHOW, "  Metrics file: %s every %t s: written %s", m->file, cf->metrics_interval, when);
  else
    cli_msg(-AUTOPILOT_REPLY_SHOW, "  Metrics file: %s every %t s: not written yet", m->file, cf->metrics_interval);
}


/*
 *	show autopilot NAME metrics
 */

void
autopilot_cmd_show_metrics(struct symbol *sym)
{
  struct autopilot_proto *p = autopilot_show_proto(sym);
  if (!p)
    return;

  struct autopilot_text t = { .pool = this_cli->pool };
  autopilot_metrics_render(p, &t);

  /* One CLI line per text line; the text ends with a newline */
  for (uint pos = 0; pos < t.len; )
  {
    byte *nl = memchr(t.data + pos, '\n', t.len - pos);
    uint len = nl ? (uint) (nl - (t.data + pos)) : t.len - pos;
    cli_msg(-AUTOPILOT_REPLY_METRICS, "%.*s", len, t.data + pos);
    pos += len + 1;
  }

  mb_free(t.data);
  cli_msg(0, "");
}
