/*
 *	BIRD -- Autopilot override journal: acknowledged means on disk
 *
 *	(c) 2026 bird-autopilot developers
 *
 *	Can be freely distributed and used under the terms of the GNU GPL.
 */

/**
 * DOC: Journal
 *
 * A reply "ok" to a change must mean the change survives a crash at that
 * instant. Rewriting the whole state file before each reply would cost a
 * write of the whole set per request; instead each change is appended to
 * FILE.journal as one line (the state file's own words: "add ..." with
 * absolute times, or "withdraw PREFIX"), and the lines of everything
 * changed since the last commit are written and fdatasync()ed before any
 * reply to them goes out: one small write per event round and connection,
 * whatever the number of requests in it (group commit, as databases do);
 * a large batch's lines go out in 64 KB pieces as they are made, ahead
 * of the commit line that makes them count. Each commit ends with a "# commit" line; on restore, the
 * state file is read and then the journal is replayed, commit by commit, and
 * lines after the last "# commit" (a write cut by the crash, never
 * acknowledged) are dropped: a batch is on disk whole or not at all.
 *
 * The journal is folded into the state file (a snapshot, written as before:
 * FILE.tmp, fsync, rename, directory fsync) when it has grown past the set
 * it describes, at start and when the protocol stops; the journal is then
 * emptied. A crash between the two leaves a journal whose replay over the
 * new snapshot changes nothing: the snapshot was written after the
 * journal's last commit, and replaying is idempotent (an add sets, a
 * withdraw removes if there). After a lost record (a write that failed,
 * so the fold has changes the journal lacks), replay gives a prefix both
 * touched its journaled value back: the last acknowledged one, since the
 * fold's changes are answered only once the journal is emptied.
 *
 * Replay follows the state file's rules: an add whose expiry passed, or
 * one of a routing manager, removes what the prefix had.
 */

#undef LOCAL_DEBUG

#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>

#include "nest/bird.h"
#include "nest/protocol.h"
#include "lib/string.h"
#include "autopilot.h"

#define JOURNAL_COMMIT	"# commit\n"
#define JOURNAL_MIN	4096		/* Records before a fold is worth it, whatever the set */
#define JOURNAL_SPILL	65536		/* Records buffered before they go to the file ahead of the commit */

static int
journal_fail(struct autopilot_proto *p, const char *what, const char *file)
{
  return autopilot_state_fail(p, "Cannot %s journal %s: %m", what, file);
}

/* Larger than the set it describes: worth folding into the state file */
int
autopilot_journal_outgrown(struct autopilot_proto *p)
{
  return p->state.journal_records > MAX(JOURNAL_MIN, 2 * p->store.count);
}

static const char *
journal_path(struct autopilot_proto *p)
{
  struct autopilot_config *cf = (void *) p->p.cf;
  return cf->state_file ? tmp_sprintf("%s.journal", cf->state_file) : NULL;
}

static int journal_open(struct autopilot_proto *p);

/* Write @len bytes of jbuf at the journal's end; 0 or -1 (errno set) */
static int
journal_write(struct autopilot_proto *p, uint len)
{
  for (uint done = 0; done < len; )
  {
    ssize_t n = write(p->state.journal_fd, p->state.jbuf + done, len - done);
    if ((n < 0) && (errno == EINTR))
      continue;

    if (n <= 0)
    {
      if (!n)
	errno = EIO;
      return -1;
    }

    done += n;
  }

  return 0;
}

/*
 * Records of a large batch (100,000 lines, 6 MB) go to the file as they
 * come, in pieces of JOURNAL_SPILL bytes, instead of growing a buffer of
 * the whole batch: its pages are new for every batch (it is freed after
 * each), and on a virtual machine a new page costs microseconds. They
 * count only once the commit line after them is written and fdatasync()ed,
 * as before (replay drops lines after the last "# commit"). If the spill
 * fails, or the journal changes under us meanwhile, the records are no
 * longer all in the journal nor in jbuf: the next commit folds the whole
 * set into the state file instead (jbuf_lost).
 */
static void
journal_spill(struct autopilot_proto *p)
{
  if (!p->state.jbuf_len)
    return;

  if (!p->state.jbuf_lost && p->state.jbuf_spilled && autopilot_journal_lost(p))
    p->state.jbuf_lost = 1;

  if (!p->state.jbuf_lost && !p->state.jbuf_spilled && (journal_open(p) < 0))
    p->state.jbuf_lost = 1;

  if (!p->state.jbuf_lost && (journal_write(p, p->state.jbuf_len) < 0))
  {
    journal_fail(p, "write", p->state.journal_file);
    p->state.jbuf_lost = 1;
  }

  if (p->state.jbuf_lost)
  {
    /* Nothing half written stays: the fold writes the set, and the journal begins anew */
    if ((p->state.journal_fd >= 0) && (ftruncate(p->state.journal_fd, p->state.journal_size) < 0))
      journal_fail(p, "truncate", p->state.journal_file);
    p->state.jbuf_spilled = 0;
  }
  else
    p->state.jbuf_spilled += p->state.jbuf_len;

  p->state.jbuf_len = 0;
}

/* Room for @n more bytes of records */
static byte *
journal_reserve(struct autopilot_proto *p, uint n)
{
  if ((p->state.jbuf_len + n > JOURNAL_SPILL) && p->state.jbuf_len)
    journal_spill(p);

  if (p->state.jbuf_len + n > p->state.jbuf_size)
  {
    p->state.jbuf_size = MAX(2 * p->state.jbuf_size, MAX(p->state.jbuf_len + n, 4096));
    p->state.jbuf = p->state.jbuf ? mb_realloc(p->state.jbuf, p->state.jbuf_size) : mb_alloc(p->p.pool, p->state.jbuf_size);
  }

  return p->state.jbuf + p->state.jbuf_len;
}

/**
 * autopilot_journal_record - queue one change for the next commit
 * @p: autopilot instance
 * @req: an add (the override as it now is) or a withdraw
 *
 * Nothing is recorded while the set is being restored, nor without a state
 * file.
 */
void
autopilot_journal_record(struct autopilot_proto *p, const struct autopilot_request *req)
{
  if (!((struct autopilot_config *) p->p.cf)->state_file || p->state.journal_replaying || !p->state.loaded)
    return;

  /* Already cut from the journal: the fold after this round has it */
  if (p->state.jbuf_lost)
  {
    p->state.jbuf_records++;
    return;
  }

  byte *b = journal_reserve(p, AUTOPILOT_LINE_MAX + 1);
  if (p->state.jbuf_lost)
  {
    p->state.jbuf_records++;
    return;
  }

  int n = autopilot_request_format(req, (char *) b, AUTOPILOT_LINE_MAX);
  if (n < 0)
    bug("Autopilot: override %N does not fit a journal line", &req->net);

  b[n] = '\n';
  p->state.jbuf_len += n + 1;
  p->state.jbuf_records++;
}

/* Was the journal we append to removed or replaced? Then it no longer holds what it had */
int
autopilot_journal_lost(struct autopilot_proto *p)
{
  struct stat a, b;

  return (p->state.journal_fd >= 0) &&
    (fstat(p->state.journal_fd, &a) || stat(p->state.journal_file, &b) || (a.st_dev != b.st_dev) || (a.st_ino != b.st_ino));
}

/* Open the journal of the configured state file, if it is not open */
static int
journal_open(struct autopilot_proto *p)
{
  const char *file = journal_path(p);

  /* Still the file at that path? (Appending to one removed or moved is writing to nowhere.) */
  if ((p->state.journal_fd >= 0) && !strcmp(p->state.journal_file, file) && !autopilot_journal_lost(p))
    return 0;

  if (p->state.journal_fd >= 0)
    close(p->state.journal_fd);

  p->state.journal_fd = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (p->state.journal_fd < 0)
    return journal_fail(p, "open", file);

  bsnprintf(p->state.journal_file, sizeof(p->state.journal_file), "%s", file);
  p->state.journal_size = lseek(p->state.journal_fd, 0, SEEK_END);
  return 0;
}

/**
 * autopilot_journal_commit - put every recorded change on disk
 * @p: autopilot instance
 *
 * Called before any reply goes out. Returns 0 when all changes made so far
 * are on disk (or there is no state file), -1 when they are not: then the
 * journal is as it was, and the changes stay queued for the next try.
 */
int
autopilot_journal_commit(struct autopilot_proto *p)
{
  if (!p->state.jbuf_records)
    return 0;

  /* What went ahead must still be where it went (a fold writes it all otherwise) */
  if (p->state.jbuf_spilled && !p->state.jbuf_lost &&
      (autopilot_journal_lost(p) || strcmp(p->state.journal_file, journal_path(p))))
    p->state.jbuf_lost = 1;

  if (p->state.jbuf_lost)
    return -1;

  if (!p->state.jbuf_spilled && (journal_open(p) < 0))
    return -1;

  /* The commit line must fit next to the records: no spill here */
  if (p->state.jbuf_len + sizeof(JOURNAL_COMMIT) > p->state.jbuf_size)
  {
    p->state.jbuf_size = p->state.jbuf_len + sizeof(JOURNAL_COMMIT);
    p->state.jbuf = p->state.jbuf ? mb_realloc(p->state.jbuf, p->state.jbuf_size) : mb_alloc(p->p.pool, p->state.jbuf_size);
  }

  byte *b = p->state.jbuf + p->state.jbuf_len;
  memcpy(b, JOURNAL_COMMIT, sizeof(JOURNAL_COMMIT) - 1);
  uint len = p->state.jbuf_len + sizeof(JOURNAL_COMMIT) - 1;

  if (journal_write(p, len) < 0)
  {
    journal_fail(p, "write", p->state.journal_file);
    goto cut;
  }

  if (fdatasync(p->state.journal_fd) < 0)
  {
    journal_fail(p, "fdatasync", p->state.journal_file);
    goto cut;
  }

  len += p->state.jbuf_spilled;
  p->state.jbuf_spilled = 0;
  p->state.journal_size += len;
  p->state.journal_records += p->state.jbuf_records;
  p->state.jbuf_len = p->state.jbuf_records = 0;

  /* A batch is over: give back its memory */
  if (p->state.jbuf_size > 2 * JOURNAL_SPILL)
  {
    mb_free(p->state.jbuf);
    p->state.jbuf = NULL;
    p->state.jbuf_size = 0;
  }
  p->state.saved = current_real_time();
  p->state.saved_count = p->store.count;
  p->state.unsaved = p->state.failed = 0;
  p->metrics.state_writes[0]++;

  /* Larger than the set it describes: fold it into the state file soon */
  if (autopilot_journal_outgrown(p))
    autopilot_state_changed(p);

  return 0;

cut:
  /* A cut write must not become the head of the next commit */
  if (ftruncate(p->state.journal_fd, p->state.journal_size) < 0)
    journal_fail(p, "truncate", p->state.journal_file);

  /* What went ahead is gone from the file and from jbuf: only a fold has it now */
  if (p->state.jbuf_spilled)
    p->state.jbuf_lost = 1;
  p->state.jbuf_spilled = 0;
  return -1;
}

/* Fold the journal into the state file (just written): empty it */
int
autopilot_journal_folded(struct autopilot_proto *p)
{
  const char *file = journal_path(p);

  if (journal_open(p) < 0)
    return -1;

  if ((ftruncate(p->state.journal_fd, 0) < 0) || (fdatasync(p->state.journal_fd) < 0))
    return journal_fail(p, "empty", file);

  p->state.journal_size = 0;
  p->state.journal_records = 0;
  return 0;
}

/* Apply one journal line while restoring; returns 0, or -1 with @err */
static int
journal_apply(struct autopilot_proto *p, const char *line, btime now, uint *expired, uint *managed,
	      struct autopilot_error *err)
{
  struct autopilot_request req;
  struct autopilot_override *o;

  if (autopilot_request_parse(line, now, &req, err, tmp_linpool) < 0)
    return -1;

  switch (req.op)
  {
  case AP_OP_NONE:
    return 0;

  case AP_OP_ADD:
    /* Gone meanwhile, or left to its manager: the prefix has no override */
    if ((req.expires && (req.expires <= now)) || (req.source == AP_SRC_BGP))
    {
      (*((req.source == AP_SRC_BGP) ? managed : expired))++;
      if ((o = autopilot_ovr_find(p, (net_addr *) &req.net)))
	autopilot_ovr_withdraw(p, (net_addr *) &req.net, err);
      return 0;
    }
    return autopilot_ovr_restore(p, &req, err);

  case AP_OP_WITHDRAW:
    if (autopilot_ovr_find(p, (net_addr *) &req.net))
      autopilot_ovr_withdraw(p, (net_addr *) &req.net, err);
    return 0;

  default:
    return autopilot_err(err, AUTOPILOT_ERR_PARSE, "only add and withdraw lines belong here");
  }
}

/**
 * autopilot_journal_replay - apply the journal after the state file was read
 * @p: autopilot instance
 * @expired: adds whose expiry passed meanwhile are counted here
 * @managed: adds of routing managers, left to them, are counted here
 *
 * Returns the number of problems (bad lines; a cut last commit is none).
 */
uint
autopilot_journal_replay(struct autopilot_proto *p, uint *expired, uint *managed)
{
  const char *file = journal_path(p);
  char line[AUTOPILOT_LINE_MAX + 2];
  struct autopilot_error err;
  btime now = current_real_time();
  uint lineno = 0, commits = 0, records = 0, problems = 0;
  long good = 0;				/* Offset after the last commit */

  FILE *f = file ? fopen(file, "r") : NULL;
  if (!f)
  {
    if (file && (errno != ENOENT))
    {
      log(L_ERR "%s: Cannot read journal %s: %m", p->p.name, file);
      autopilot_state_unreadable(p, file);
      return 1;
    }
    return 0;
  }

  /* First find where the last complete commit ends (by lines: a long one is no commit) */
  enum autopilot_line got;
  while ((got = autopilot_read_line(f, line)) != AP_LINE_EOF)
    if ((got == AP_LINE_OK) && !strcmp(line, JOURNAL_COMMIT))
      good = ftell(f);

  rewind(f);
  p->state.journal_replaying = 1;

  while ((ftell(f) < good) && ((got = autopilot_read_line(f, line)) != AP_LINE_EOF))
  {
    lineno++;

    if (got != AP_LINE_OK)
    {
      log(L_ERR "%s: Journal %s line %u: %s, skipped", p->p.name, file, lineno, autopilot_line_problem(got));
      problems++;
      continue;
    }

    if (!strcmp(line, JOURNAL_COMMIT))
    {
      commits++;
      continue;
    }

    if (journal_apply(p, line, now, expired, managed, &err) < 0)
    {
      log(L_ERR "%s: Journal %s line %u: %s, skipped", p->p.name, file, lineno, autopilot_err_text(&err));
      problems++;
      continue;
    }

    records++;
  }

  p->state.journal_replaying = 0;

  if (ferror(f))
  {
    log(L_ERR "%s: Error reading journal %s after line %u: %m", p->p.name, file, lineno);
    autopilot_state_unreadable(p, file);
    fclose(f);
    return problems + 1;
  }

  fseek(f, 0, SEEK_END);
  long end = ftell(f);
  fclose(f);

  /* A commit appended after a never-acknowledged tail would acknowledge it too */
  if ((end > good) && (truncate(file, good) < 0))
  {
    log(L_ERR "%s: Cannot cut journal %s after its last commit: %m", p->p.name, file);
    autopilot_state_unreadable(p, file);
  }

  if (commits || (end > good))
    log(L_INFO "%s: Replayed %u changes of %u commits from %s%s", p->p.name, records, commits, file,
	(end > good) ? tmp_sprintf("; %ld bytes after the last commit (never acknowledged) dropped", end - good) : "");

  return problems;
}

void
autopilot_journal_start(struct autopilot_proto *p)
{
  p->state.journal_fd = -1;
  p->state.journal_file[0] = 0;
  p->state.journal_size = 0;
  p->state.journal_records = 0;
  p->state.journal_replaying = 0;
  p->state.jbuf = NULL;
  p->state.jbuf_len = p->state.jbuf_size = p->state.jbuf_records = 0;
}

void
autopilot_journal_stop(struct autopilot_proto *p)
{
  if (p->state.journal_fd >= 0)
    close(p->state.journal_fd);
  p->state.journal_fd = -1;
}
