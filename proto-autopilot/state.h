/*
 *	BIRD -- Autopilot persistence: state file, journal, carry-over
 *
 *	(c) 2026 bird-autopilot developers
 *
 *	Can be freely distributed and used under the terms of the GNU GPL.
 */

#ifndef _BIRD_AUTOPILOT_STATE_H_
#define _BIRD_AUTOPILOT_STATE_H_

#include "nest/bird.h"
#include "lib/timer.h"

struct autopilot_proto;
struct autopilot_config;
struct autopilot_request;

#define AUTOPILOT_STATE_DELAY		(100 MS)	/* State file: longest a change waits to be written */

/* Persistence of the override store: the state file and its journal */
struct autopilot_state {
  timer *timer;				/* Writes the state file a moment after changes */
  int loaded;				/* The state file was read (or there is none) */
  int unreadable;			/* It or the journal could not be read at start: write nothing */
  char unreadable_file[272];		/* Which of them */
  btime saved;				/* Real time of the last good write, 0 for none yet */
  uint saved_count;			/* Overrides in that write */
  btime unsaved;			/* Real time of the oldest change not on disk, 0 if none */
  btime failed;				/* Real time of the last write, when it failed; else 0 */
  char error[320];			/* Why it failed */
  char snapshot[256];			/* State file our journal belongs to: read at start or written since */
  int journal_fd;			/* FILE.journal, open for appending, -1 if not open */
  char journal_file[272];		/* Its path */
  u64 journal_size;			/* Its length: the end of its last commit */
  uint journal_records;			/* Changes in it */
  int journal_replaying;		/* Restoring from it: record nothing */
  byte *jbuf;				/* Changes recorded since the last commit, as journal lines */
  uint jbuf_len;			/* Bytes in jbuf */
  uint jbuf_size;			/* Its allocated size */
  uint jbuf_records;			/* Changes in jbuf */
  u64 jbuf_spilled;			/* Bytes of this commit already written after journal_size */
  int jbuf_lost;			/* Records of this commit were cut from the journal: fold */
};

/* carry.c */
void autopilot_carry_save(struct autopilot_proto *p);
int autopilot_carry_restore(struct autopilot_proto *p);
uint autopilot_carry_count(const char *name);

/* state.c */
void autopilot_state_start(struct autopilot_proto *p);
void autopilot_state_unreadable(struct autopilot_proto *p, const char *file);
void autopilot_state_changed(struct autopilot_proto *p);
void autopilot_state_flush(struct autopilot_proto *p);
void autopilot_state_reconfigure(struct autopilot_proto *p, struct autopilot_config *old);
void autopilot_state_check_config(struct autopilot_config *cf);
void autopilot_state_show(struct autopilot_proto *p);

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

#endif
