/*
 *	BIRD -- Autopilot birdc commands for overrides
 *
 *	(c) 2026 bird-autopilot developers
 *
 *	Can be freely distributed and used under the terms of the GNU GPL.
 */

/**
 * DOC: Override commands
 *
 * birdc front end of the override store: add, withdraw, flush, load (a whole
 * desired set from a file, all or nothing, applied as a diff) and show.
 * Every command that changes state refuses restricted clients ("birdc -r"
 * and sockets declared restrict) before it looks at anything else.
 *
 * Replies: 0100 for success, 8100 for a refused request (with the reason),
 * 1101 for override listings.
 */

#undef LOCAL_DEBUG

#include <stdio.h>
#include <stdlib.h>
#include <errno.h>

#include "nest/bird.h"
#include "nest/protocol.h"
#include "nest/cli.h"
#include "conf/conf.h"
#include "lib/string.h"
#include "autopilot.h"


/*
 * The running autopilot protocol named by @sym, if this client may change
 * it; NULL after a reply otherwise. Restricted clients are refused first,
 * before anything about the request is looked at.
 */
static struct autopilot_proto *
autopilot_cli_proto(struct symbol *sym)
{
  if (cli_access_restricted())
    return NULL;

  if ((sym->class != SYM_PROTO) || !sym->proto->proto || (sym->proto->protocol != &proto_autopilot))
  {
    cli_msg(AUTOPILOT_REPLY_REFUSED, "%s is not an autopilot protocol", sym->name);
    return NULL;
  }

  struct autopilot_proto *p = (void *) sym->proto->proto;
  if (p->p.proto_state != PS_UP)
  {
    cli_msg(AUTOPILOT_REPLY_REFUSED, "Protocol %s is not up", sym->name);
    return NULL;
  }

  return p;
}

/*
 * A change is acknowledged once it is on disk (with a state file): until
 * then birdc gets no "done", but an error saying the change is live and why
 * it is not saved.
 */
static int
autopilot_cli_saved(struct autopilot_proto *p)
{
  if (autopilot_state_commit(p) == 0)
    return 1;

  cli_msg(AUTOPILOT_REPLY_REFUSED, "Applied, but NOT saved: %s", p->state.error);
  return 0;
}

void
autopilot_cmd_add(struct symbol *sym, const net_addr *n, const char *target, uint expires, const char *reason)
{
  struct autopilot_request req = { .op = AP_OP_ADD, .source = AP_SRC_CLI, .reason = reason ?: "" };
  struct autopilot_error err;

  struct autopilot_proto *p = autopilot_cli_proto(sym);
  if (!p)
    return;

  if ((strlen(target) >= sizeof(req.target)) || (reason && (strlen(reason) >= AUTOPILOT_REASON_MAX)))
  {
    cli_msg(AUTOPILOT_REPLY_REFUSED, "Egress name or reason too long");
    return;
  }

  net_copy((net_addr *) &req.net, n);
  strcpy(req.target, target);
  if (expires)
    req.expires = current_real_time() + (btime) expires S;

  autopilot_audit_by(p, "birdc");
  if ((autopilot_request_check(&req, current_real_time(), &err) < 0) ||
      (autopilot_ovr_add(p, &req, AP_SRC_CLI, &err) < 0))
    cli_msg(AUTOPILOT_REPLY_REFUSED, "%s", autopilot_err_text(&err));
  else if (autopilot_cli_saved(p))
    cli_msg(AUTOPILOT_REPLY_DONE, "Override %N -> %s added%s", n, target, ((struct autopilot_config *) p->p.cf)->shadow ? " (shadow mode)" : "");
}

void
autopilot_cmd_withdraw(struct symbol *sym, const net_addr *n)
{
  struct autopilot_error err;

  struct autopilot_proto *p = autopilot_cli_proto(sym);
  if (!p)
    return;

  autopilot_audit_by(p, "birdc");
  if (autopilot_ovr_withdraw(p, n, &err) < 0)
    cli_msg(AUTOPILOT_REPLY_REFUSED, "%s", autopilot_err_text(&err));
  else if (autopilot_cli_saved(p))
    cli_msg(AUTOPILOT_REPLY_DONE, "Override %N withdrawn", n);
}

void
autopilot_cmd_flush(struct symbol *sym, const char *target)
{
  struct autopilot_proto *p = autopilot_cli_proto(sym);
  if (!p)
    return;

  autopilot_audit_by(p, "birdc (flush)");
  uint n = autopilot_ovr_flush(p, target, AP_SRC_MAX);
  if (autopilot_cli_saved(p))
    cli_msg(AUTOPILOT_REPLY_DONE, "%u overrides withdrawn", n);
}

/* A line of a load: parsed as on the socket, and birdc's (a copied state file says "source") */
static int
load_parse(const char *line, btime now, struct autopilot_request *req, struct autopilot_error *err, linpool *lp)
{
  if (autopilot_request_parse(line, now, req, err, lp) < 0)
    return -1;

  return autopilot_request_by(req, AP_SRC_CLI, err);
}

/**
 * autopilot_cmd_load - replace all overrides by those listed in a file
 * @sym: protocol
 * @file: a file of add lines (the controller protocol's words)
 *
 * Nothing changes unless every line is good and the whole set validates.
 */
void
autopilot_cmd_load(struct symbol *sym, const char *file)
{
  char line[AUTOPILOT_LINE_MAX + 2];
  struct autopilot_request scratch, *req;
  struct autopilot_batch b;
  struct autopilot_error err;
  struct linpool *lp;

  struct autopilot_proto *p = autopilot_cli_proto(sym);
  if (!p)
    return;

  FILE *f = fopen(file, "r");
  if (!f)
  {
    cli_msg(8009, "Cannot open %s: %m", file);
    return;
  }

  /* The file is the whole set of birdc's overrides: one sync */
  btime now = current_real_time();
  autopilot_batch_open(&b, p->p.pool, AP_OP_SYNC,
		       MIN(2 * (u64) ((struct autopilot_config *) p->p.cf)->max_overrides + 16, (u64) ~0U));

  enum autopilot_line got;
  while (!b.bad && ((got = autopilot_read_line(f, line)) != AP_LINE_EOF))
  {
    req = autopilot_batch_line(&b, &scratch, &lp);

    if ((got == AP_LINE_LONG) || (got == AP_LINE_NUL))
      autopilot_err(&err, AUTOPILOT_ERR_PARSE, "%s", autopilot_line_problem(got));
    /* As on the socket: a line is not complete without its newline (a cut file) */
    else if (got == AP_LINE_CUT)
      autopilot_err(&err, AUTOPILOT_ERR_PARSE, "no newline at its end (a cut file?)");
    else if (autopilot_batch_take(&b, req, load_parse(line, now, req, &err, lp), &err))
      continue;
    else
      autopilot_err(&err, AUTOPILOT_ERR_PARSE, "a set lists add lines only");

    autopilot_batch_fail(&b, &err);
  }

  if (ferror(f))
    cli_msg(AUTOPILOT_REPLY_REFUSED, "Error reading %s: %m; nothing changed", file);
  else
  {
    autopilot_audit_by(p, "birdc (load)");
    if (autopilot_batch_commit(p, &b, AP_SRC_CLI, &err) < 0)
    {
      if (err.req)
	cli_msg(AUTOPILOT_REPLY_REFUSED, "%s line %u: %s; nothing changed", file, err.req,
		err.also ? err.msg : autopilot_err_text(&err));
      else
	cli_msg(AUTOPILOT_REPLY_REFUSED, "%s: %s; nothing changed", file, autopilot_err_text(&err));
    }
    else if (autopilot_cli_saved(p))
      cli_msg(AUTOPILOT_REPLY_DONE, "Loaded %u overrides from %s", b.len, file);
  }

  autopilot_batch_close(&b);
  fclose(f);
}
