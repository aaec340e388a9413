/*
 *	BIRD -- Autopilot override persistence
 *
 *	(c) 2026 bird-autopilot developers
 *
 *	Can be freely distributed and used under the terms of the GNU GPL.
 */

/**
 * DOC: State file
 *
 * Overrides survive restarts of BIRD and of the protocol in a text file of
 * "add" request lines (the controller protocol's own words, with absolute
 * times), between a header and an "# end N" trailer that tells a complete
 * file from a truncated one.
 *
 * Changes reach the disk through the journal (journal.c) before they are
 * acknowledged; the state file is the snapshot the journal is folded into:
 * when the journal has grown past the set, at start and when the protocol
 * stops. A snapshot goes to FILE.tmp, is fsync()ed, renamed over FILE, and
 * the directory is fsync()ed: a crash leaves the old file or the new one,
 * never a mix. A short timer (AUTOPILOT_STATE_DELAY) after changes commits
 * those nobody waits for (expiry, routing managers) and folds a long
 * journal.
 *
 * On start every valid line is restored, except a routing manager's
 * (source bgp): the manager announces those again, and one it withdrew
 * while we were down must not come back. Each bad line is logged with its
 * number and skipped, as is a last line without its newline; a missing
 * trailer is reported as truncation. If
 * anything was wrong, the file is kept as FILE.corrupt for inspection
 * before the next write replaces FILE with the overrides that were valid.
 */

#undef LOCAL_DEBUG

#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <libgen.h>
#include <sys/stat.h>

#include "nest/bird.h"
#include "nest/protocol.h"
#include "lib/event.h"
#include "lib/timer.h"
#include "lib/string.h"
#include "nest/cli.h"
#include "conf/conf.h"
#include "autopilot.h"

#define STATE_HEADER	"# bird-autopilot overrides v1"

/**
 * autopilot_state_fail - a write of the state file or journal failed
 * @p: autopilot instance
 * @fmt: why, as printf (%m for errno)
 *
 * Logged, and kept for show until a write succeeds. Returns -1.
 */
int
autopilot_state_fail(struct autopilot_proto *p, const char *fmt, ...)
{
  va_list args;

  va_start(args, fmt);
  bvsnprintf(p->state.error, sizeof(p->state.error), fmt, args);
  va_end(args);

  log(L_ERR "%s: %s", p->p.name, p->state.error);
  p->state.failed = current_real_time();
  p->metrics.state_failures++;
  return -1;
}

static int
autopilot_state_write(struct autopilot_proto *p, const char *file)
{
  char *tmp = tmp_sprintf("%s.tmp", file);
  char line[AUTOPILOT_LINE_MAX];
  struct autopilot_request req;
  uint n = 0;

  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  FILE *f = (fd >= 0) ? fdopen(fd, "w") : NULL;
  if (!f)
  {
    int rv = autopilot_state_fail(p, "Cannot write state file %s: %m", tmp);
    if (fd >= 0)
      close(fd);
    return rv;
  }

  fprintf(f, "%s protocol %s\n", STATE_HEADER, p->p.name);

  HASH_WALK(p->store.hash, next_hash, o)
  {
    if (o->deleted)
      continue;

    autopilot_ovr_to_request(o, &req);
    if (autopilot_request_format(&req, line, sizeof(line)) < 0)
      bug("Autopilot: override %N does not fit a state line", &o->net);

    fputs(line, f);
    fputc('\n', f);
    n++;
  }
  HASH_WALK_END;

  fprintf(f, "# end %u\n", n);

  /* ferror(): stdio drops a buffer whose write failed, and a later fflush() succeeds */
  if ((fflush(f) != 0) || ferror(f) || (fsync(fd) < 0))
  {
    int rv = autopilot_state_fail(p, "Cannot write state file %s: %m", tmp);
    fclose(f);
    unlink(tmp);
    return rv;
  }

  fclose(f);

  if (rename(tmp, file) < 0)
  {
    int rv = autopilot_state_fail(p, "Cannot rename %s to %s: %m", tmp, file);
    unlink(tmp);
    return rv;
  }

  /* The rename itself must reach the disk */
  char *dir = tmp_sprintf("%s", file);
  int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if ((dfd < 0) || (fsync(dfd) < 0))
  {
    /* Not known to be on disk: the journal stays (replayed over either file, it gives the same set) */
    int rv = autopilot_state_fail(p, "Cannot sync the directory of %s: %m", file);
    if (dfd >= 0)
      close(dfd);
    return rv;
  }
  close(dfd);

  p->state.saved = current_real_time();
  p->state.saved_count = n;
  p->state.unsaved = p->state.failed = 0;
  p->metrics.state_writes[1]++;
  return 0;
}

/*
 * The whole set into the state file, and the journal emptied: it is all in
 * the snapshot now, including changes not yet committed to the journal.
 */
static int
autopilot_state_fold(struct autopilot_proto *p)
{
  struct autopilot_config *cf = (void *) p->p.cf;

  /* Append first: a crash before the journal is emptied replays to the same set */
  autopilot_journal_commit(p);

  if (autopilot_state_write(p, cf->state_file) < 0)
    return -1;

  bsnprintf(p->state.snapshot, sizeof(p->state.snapshot), "%s", cf->state_file);
  p->state.jbuf_len = p->state.jbuf_records = 0;
  p->state.jbuf_lost = 0;
  p->state.jbuf_spilled = 0;
  return autopilot_journal_folded(p);
}

/**
 * autopilot_state_commit - everything changed so far onto disk
 * @p: autopilot instance
 *
 * Before a reply acknowledges a change. Appends to the journal; the first
 * time after the state file was configured anew it writes the snapshot
 * instead (a journal is only good on top of its own state file). Returns
 * 0 when everything is on disk, or there is no state file.
 */
int
autopilot_state_commit(struct autopilot_proto *p)
{
  struct autopilot_config *cf = (void *) p->p.cf;

  /* Nothing may be written over files we could not read; nor acknowledged unwritten */
  if (cf->state_file && p->state.unreadable)
    return autopilot_state_fail(p, "Not saved: %s could not be read at start (fix it, then restart the protocol)",
				p->state.unreadable_file);

  if (!cf->state_file || !p->state.loaded)
    return 0;

  /* A journal is only good on top of its own state file, and only while it is there */
  if (strcmp(p->state.snapshot, cf->state_file) || autopilot_journal_lost(p) || p->state.jbuf_lost)
    return autopilot_state_fold(p);

  return autopilot_journal_commit(p);
}

/**
 * autopilot_state_reconfigure - the state file moved, came or went
 * @p: autopilot instance, with its new config
 * @old: the config before
 *
 * A new file holds nothing until written: until the next change it would
 * not survive a crash. Written now; a file no longer configured is no
 * snapshot of ours, so configured again it is written anew too.
 */
void
autopilot_state_reconfigure(struct autopilot_proto *p, struct autopilot_config *old)
{
  struct autopilot_config *cf = (void *) p->p.cf;

  if (old->state_file && cf->state_file && !strcmp(old->state_file, cf->state_file))
    return;

  p->state.snapshot[0] = 0;
  autopilot_journal_stop(p);
  if (!cf->state_file)
    return;

  /* The unreadable file is not this one: nothing of it is written over */
  if (p->state.unreadable)
  {
    log(L_WARN "%s: State file now %s; %s, which could not be read, is left as it is",
	p->p.name, cf->state_file, p->state.unreadable_file);
    p->state.unreadable = 0;
  }
  p->state.loaded = 1;

  if (autopilot_state_commit(p) < 0)
    tm_start(p->state.timer, 1 S);
  else
    log(L_INFO "%s: State file now %s (%u overrides written)", p->p.name, cf->state_file, p->state.saved_count);
}

/* A moment after changes: commit what nobody waits for, fold a long journal */
static void
autopilot_state_timer(timer *t)
{
  struct autopilot_proto *p = t->data;
  struct autopilot_config *cf = (void *) p->p.cf;

  if (!cf->state_file || !p->state.loaded)
    return;

  if (autopilot_state_commit(p) < 0)
    tm_start(p->state.timer, 1 S);		/* And again, until the disk takes it */
  else if (autopilot_journal_outgrown(p))
    autopilot_state_fold(p);
}

void
autopilot_state_changed(struct autopilot_proto *p)
{
  if (!p->state.unsaved)
    p->state.unsaved = current_real_time();

  if (p->state.timer && !tm_active(p->state.timer))
    tm_start(p->state.timer, AUTOPILOT_STATE_DELAY);
}

/* Its directory must exist: else no write can work, and it is a config error */
void
autopilot_state_check_config(struct autopilot_config *cf)
{
  struct stat st;

  if (!cf->state_file)
    return;

  if (strlen(cf->state_file) > AUTOPILOT_PATH_MAX)
    cf_error("Autopilot: state filename too long (at most %u bytes)", AUTOPILOT_PATH_MAX);

  if (!*cf->state_file)
    cf_error("Autopilot: state filename is empty");

  char *dir = dirname(tmp_sprintf("%s", cf->state_file));
  if ((stat(dir, &st) < 0) || !S_ISDIR(st.st_mode))
    cf_error("Autopilot: state file %s: no directory %s", cf->state_file, dir);

  /* Snapshots are written beside it and renamed over it */
  if (access(dir, W_OK | X_OK) < 0)
    cf_error("Autopilot: state file %s: cannot write to directory %s: %m", cf->state_file, dir);

  /* What is there must be readable: at start it is all the overrides there are */
  const char *files[2] = { cf->state_file, tmp_sprintf("%s.journal", cf->state_file) };
  for (int i = 0; i < 2; i++)
  {
    if (stat(files[i], &st) < 0)
    {
      if (errno == ENOENT)
	continue;
      cf_error("Autopilot: state file %s: cannot read %s: %m", cf->state_file, files[i]);
    }

    if (!S_ISREG(st.st_mode))
      cf_error("Autopilot: state file %s: %s is not a regular file", cf->state_file, files[i]);

    int fd = open(files[i], O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      cf_error("Autopilot: state file %s: cannot read %s: %m", cf->state_file, files[i]);
    close(fd);
  }
}

/* The state file's health: last good write, last failure, changes not on disk */
void
autopilot_state_show(struct autopilot_proto *p)
{
  struct autopilot_config *cf = (void *) p->p.cf;
  char saved[TM_DATETIME_BUFFER_SIZE], since[TM_DATETIME_BUFFER_SIZE], failed[TM_DATETIME_BUFFER_SIZE];
  const char *fmt = "%F %T.%3f";

  if (!cf->state_file)
  {
    cli_msg(-AUTOPILOT_REPLY_SHOW, "  State file: none (overrides do not survive a restart of BIRD)");
    return;
  }

  tm_format_real_time(saved, sizeof(saved), fmt, p->state.saved);
  tm_format_real_time(since, sizeof(since), fmt, p->state.unsaved);
  tm_format_real_time(failed, sizeof(failed), fmt, p->state.failed);

  if (p->state.unreadable)
    cli_msg(-AUTOPILOT_REPLY_SHOW, "  State file: %s: NOT SAVED: %s could not be read at start; nothing is "
	    "written over it (fix it, then restart the protocol)", cf->state_file, p->state.unreadable_file);
  else if (p->state.failed)
    cli_msg(-AUTOPILOT_REPLY_SHOW, "  State file: %s: NOT SAVED since %s: last write %s failed: %s",
	    cf->state_file, since, failed, p->state.error);
  else if (p->state.unsaved)
    cli_msg(-AUTOPILOT_REPLY_SHOW, "  State file: %s: changes since %s being written%s%s", cf->state_file, since,
	    p->state.saved ? ", last saved " : "", p->state.saved ? saved : "");
  else if (p->state.saved)
    cli_msg(-AUTOPILOT_REPLY_SHOW, "  State file: %s: saved %s (%u overrides)", cf->state_file, saved, p->state.saved_count);
  else
    cli_msg(-AUTOPILOT_REPLY_SHOW, "  State file: %s: nothing to save yet", cf->state_file);
}

/* Write now if a write is due (protocol shutdown) */
void
autopilot_state_flush(struct autopilot_proto *p)
{
  struct autopilot_config *cf = (void *) p->p.cf;

  if (p->state.timer)
    tm_stop(p->state.timer);

  if (cf->state_file && p->state.loaded && (p->state.jbuf_records || p->state.journal_records ||
					    strcmp(p->state.snapshot, cf->state_file)))
    autopilot_state_fold(p);

  autopilot_journal_stop(p);
}

/**
 * autopilot_state_unreadable - a persistence file could not be read at start
 * @p: autopilot instance
 * @file: the state file or journal
 *
 * Unlike a damaged line, a read error says nothing of the file: it may hold
 * every acknowledged override (a backup restored with the wrong owner, a
 * disk error). It is not renamed nor written over, changes are refused as
 * not saved, and the next start of the protocol reads it again.
 */
void
autopilot_state_unreadable(struct autopilot_proto *p, const char *file)
{
  if (!p->state.unreadable)
    bsnprintf(p->state.unreadable_file, sizeof(p->state.unreadable_file), "%s", file);
  p->state.unreadable = 1;
}

/* Read the state file; returns the number of problems found, counts the skipped */
static uint
autopilot_state_read(struct autopilot_proto *p, const char *file, uint *expired_, uint *managed_)
{
  char line[AUTOPILOT_LINE_MAX + 2];
  struct autopilot_error err;
  struct autopilot_request req;
  btime now = current_real_time();
  uint lineno = 0, restored = 0, expired = 0, problems = 0, managed = 0;
  int end = -1;

  autopilot_audit_by(p, "the state file");
  FILE *f = fopen(file, "r");
  if (!f)
  {
    if (errno != ENOENT)
    {
      log(L_ERR "%s: Cannot read state file %s: %m", p->p.name, file);
      autopilot_state_unreadable(p, file);
      return 1;
    }

    log(L_INFO "%s: No state file %s yet", p->p.name, file);
    return 0;
  }

  enum autopilot_line got;
  while ((got = autopilot_read_line(f, line)) != AP_LINE_EOF)
  {
    lineno++;

    if (got != AP_LINE_OK)
    {
      log(L_ERR "%s: State file %s line %u: %s, skipped", p->p.name, file, lineno,
	  autopilot_line_problem(got));
      problems++;
      continue;
    }

    if (end >= 0)
    {
      log(L_ERR "%s: State file %s line %u: data after the end marker, ignored", p->p.name, file, lineno);
      problems++;
      break;
    }

    uint count;
    if (sscanf(line, "# end %u", &count) == 1)
    {
      end = count;
      continue;
    }

    if (autopilot_request_parse(line, now, &req, &err, tmp_linpool) < 0)
    {
      log(L_ERR "%s: State file %s line %u: %s, skipped", p->p.name, file, lineno, autopilot_err_text(&err));
      problems++;
      continue;
    }

    if (req.op == AP_OP_NONE)
      continue;

    if (req.op != AP_OP_ADD)
    {
      log(L_ERR "%s: State file %s line %u: only add lines belong here, skipped", p->p.name, file, lineno);
      problems++;
      continue;
    }

    if (req.expires && (req.expires <= now))
    {
      expired++;
      continue;
    }

    /*
     * A manager's overrides mirror its BGP routes, which it announces again:
     * restored ones would outlive a withdrawal made while we were down.
     */
    if (req.source == AP_SRC_BGP)
    {
      managed++;
      continue;
    }

    if (autopilot_ovr_restore(p, &req, &err) < 0)
    {
      log(L_ERR "%s: State file %s line %u: %s, skipped", p->p.name, file, lineno, autopilot_err_text(&err));
      problems++;
      continue;
    }

    restored++;
  }

  if (ferror(f))
  {
    log(L_ERR "%s: Error reading state file %s after line %u: %m", p->p.name, file, lineno);
    autopilot_state_unreadable(p, file);
    problems++;
  }

  fclose(f);

  if (end < 0)
  {
    log(L_ERR "%s: State file %s is truncated (no end marker after line %u)", p->p.name, file, lineno);
    problems++;
  }
  else if ((uint) end != restored + expired + managed + problems)
  {
    log(L_ERR "%s: State file %s says %d overrides, has %u", p->p.name, file, end, restored + expired + managed + problems);
    problems++;
  }

  *expired_ += expired;
  *managed_ += managed;
  return problems;
}

/**
 * autopilot_state_start - restore overrides when the protocol starts
 * @p: autopilot instance
 */
void
autopilot_state_start(struct autopilot_proto *p)
{
  struct autopilot_config *cf = (void *) p->p.cf;

  p->state.timer = tm_new_init(p->p.pool, autopilot_state_timer, p, 0, 0);
  p->state.loaded = 0;
  p->state.unreadable = 0;
  p->state.saved = p->state.unsaved = p->state.failed = 0;
  p->state.saved_count = 0;
  p->state.snapshot[0] = 0;
  autopilot_journal_start(p);

  /* Every change of the store from now on: journaled, and the file written */
  p->store.record = autopilot_journal_record;
  p->store.changed = autopilot_state_changed;

  /* What was live before a restart beats a file that may be stale */
  if (autopilot_carry_restore(p))
  {
    p->state.loaded = 1;
    if (cf->state_file)
      autopilot_state_fold(p);
    return;
  }

  if (!cf->state_file)
  {
    p->state.loaded = 1;
    return;
  }

  uint expired = 0, managed = 0;
  uint problems[2] = { autopilot_state_read(p, cf->state_file, &expired, &managed) };
  problems[1] = autopilot_journal_replay(p, &expired, &managed);
  const char *files[2] = { cf->state_file, tmp_sprintf("%s.journal", cf->state_file) };

  log(L_INFO "%s: Restored %u overrides from %s (%u expired meanwhile, %u problems)%s",
      p->p.name, p->store.count, cf->state_file, expired, problems[0] + problems[1],
      managed ? tmp_sprintf("; %u of routing managers left to them", managed) : "");

  if (p->state.unreadable)
  {
    log(L_ERR "%s: %s could not be read: restored what could be, nothing is written over it, "
	"changes are not saved until it can be read and the protocol restarts",
	p->p.name, p->state.unreadable_file);
    autopilot_state_fail(p, "%s could not be read at start", p->state.unreadable_file);
    return;
  }

  for (int i = 0; i < 2; i++)
    if (problems[i])
    {
      char *keep = tmp_sprintf("%s.corrupt", files[i]);
      if (rename(files[i], keep) == 0)
	log(L_WARN "%s: Kept the damaged %s as %s", p->p.name, i ? "journal" : "state file", keep);
    }

  /* Only now may writes replace the file: the restored set, and a new journal */
  p->state.loaded = 1;
  autopilot_state_fold(p);
}
