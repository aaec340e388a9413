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

#define REPLY_DONE	100		/* birdc prints nothing for code 0 */
#define REPLY_REFUSED	8100

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
    cli_msg(REPLY_REFUSED, "%s is not an autopilot protocol", sym->name);
    return NULL;
  }

  struct autopilot_proto *p = (void *) sym->proto->proto;
  if (p->p.proto_state != PS_UP)
  {
    cli_msg(REPLY_REFUSED, "Protocol %s is not up", sym->name);
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

  cli_msg(REPLY_REFUSED, "Applied, but NOT saved: %s", p->state_error);
  return 0;
}

void
autopilot_cmd_add(struct symbol *sym, const net_addr *n, const char *target, uint expires, const char *reason)
{
  struct autopilot_request req = { .op = AP_OP_ADD, .source = AP_SRC_CLI, .reason = reason ?: "" };
  char err[AUTOPILOT_ERR_MAX];

  struct autopilot_proto *p = autopilot_cli_proto(sym);
  if (!p)
    return;

  if ((strlen(target) >= sizeof(req.target)) || (reason && (strlen(reason) >= AUTOPILOT_REASON_MAX)))
  {
    cli_msg(REPLY_REFUSED, "Egress name or reason too long");
    return;
  }

  net_copy((net_addr *) &req.net, n);
  strcpy(req.target, target);
  if (expires)
    req.expires = current_real_time() + (btime) expires S;

  autopilot_audit_by(p, "birdc");
  if (autopilot_ovr_add(p, &req, AP_SRC_CLI, err) < 0)
    cli_msg(REPLY_REFUSED, "%s", err);
  else if (autopilot_cli_saved(p))
    cli_msg(REPLY_DONE, "Override %N -> %s added%s", n, target, ((struct autopilot_config *) p->p.cf)->shadow ? " (shadow mode)" : "");
}

void
autopilot_cmd_withdraw(struct symbol *sym, const net_addr *n)
{
  char err[AUTOPILOT_ERR_MAX];

  struct autopilot_proto *p = autopilot_cli_proto(sym);
  if (!p)
    return;

  autopilot_audit_by(p, "birdc");
  if (autopilot_ovr_withdraw(p, n, err) < 0)
    cli_msg(REPLY_REFUSED, "%s", err);
  else if (autopilot_cli_saved(p))
    cli_msg(REPLY_DONE, "Override %N withdrawn", n);
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
    cli_msg(REPLY_DONE, "%u overrides withdrawn", n);
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
  char line[AUTOPILOT_LINE_MAX + 2], err[AUTOPILOT_ERR_MAX];
  uint n = 0, max = 1024, lineno = 0;

  struct autopilot_proto *p = autopilot_cli_proto(sym);
  if (!p)
    return;

  FILE *f = fopen(file, "r");
  if (!f)
  {
    cli_msg(8009, "Cannot open %s: %m", file);
    return;
  }

  btime now = current_real_time();
  linpool *lp = lp_new_default(p->p.pool);	/* Reasons */
  struct autopilot_request *reqs = xmalloc(max * sizeof(struct autopilot_request));
  uint *lines = xmalloc(max * sizeof(uint));	/* Line of each request, for errors */
  uint bad;

  enum autopilot_line got;
  while ((got = autopilot_read_line(f, line)) != AP_LINE_EOF)
  {
    lineno++;

    if ((got == AP_LINE_LONG) || (got == AP_LINE_NUL))
    {
      cli_msg(REPLY_REFUSED, "%s line %u: %s; nothing changed", file, lineno, autopilot_line_problem(got));
      goto done;
    }

    /* As on the socket: a line is not complete without its newline (a cut file) */
    if (got == AP_LINE_CUT)
    {
      cli_msg(REPLY_REFUSED, "%s line %u: no newline at its end (a cut file?); nothing changed", file, lineno);
      goto done;
    }

    if (n == max)
    {
      max *= 2;
      reqs = xrealloc(reqs, max * sizeof(struct autopilot_request));
      lines = xrealloc(lines, max * sizeof(uint));
    }

    if (autopilot_request_parse(line, now, &reqs[n], err, lp) < 0)
    {
      cli_msg(REPLY_REFUSED, "%s line %u: %s; nothing changed", file, lineno, err);
      goto done;
    }

    if (reqs[n].op == AP_OP_NONE)
      continue;

    if (reqs[n].op != AP_OP_ADD)
    {
      cli_msg(REPLY_REFUSED, "%s line %u: a set lists add lines only; nothing changed", file, lineno);
      goto done;
    }

    lines[n++] = lineno;
  }

  if (ferror(f))
  {
    cli_msg(REPLY_REFUSED, "Error reading %s: %m; nothing changed", file);
    goto done;
  }

  autopilot_audit_by(p, "birdc (load)");
  if (autopilot_ovr_batch_at(p, reqs, n, 1, AP_SRC_CLI, err, &bad) < 0)
  {
    if (bad < n)
      cli_msg(REPLY_REFUSED, "%s line %u: %s; nothing changed", file, lines[bad], err);
    else
      cli_msg(REPLY_REFUSED, "%s: %s; nothing changed", file, err);
  }
  else if (autopilot_cli_saved(p))
    cli_msg(REPLY_DONE, "Loaded %u overrides from %s", n, file);

done:
  fclose(f);
  xfree(reqs);
  xfree(lines);
  rfree(lp);
}
