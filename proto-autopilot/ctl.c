/*
 *	BIRD -- Autopilot controller socket
 *
 *	(c) 2026 bird-autopilot developers
 *
 *	Can be freely distributed and used under the terms of the GNU GPL.
 */

/**
 * DOC: Controller socket
 *
 * The machine interface for controller programs: a UNIX stream socket
 * ("controller socket PATH") that any number of clients may use at once.
 * Access is the file's: its mode and group. Each line is one request in
 * the words of request.c; each request gets one reply line, in order:
 *
 *   [@tag ]ok[ detail]
 *   [@tag ]error CODE message
 *
 * where CODE is the code of the request layer's typed error (bad-request
 * for lines that do not parse). "begin" or "sync" opens a batch
 * on the connection: the lines up to "commit" or "abort" get no reply of
 * their own, the commit applies them all or nothing (autopilot_ovr_batch_at(),
 * a sync as a diff against the whole set) and gets the one reply. A batch
 * still open when the connection ends is dropped. Nothing else depends on
 * the connection: overrides stay when a controller goes away (fail static).
 * docs/controller-protocol.md is the full specification.
 *
 * Throughput: each read takes up to CTL_RBSIZE bytes and every complete
 * line in them is answered before the next read; replies are appended to a
 * growing per-connection buffer, written when the socket takes them, so a
 * read of a few thousand requests costs one write. A client that does not
 * read its replies is not read either once CTL_OUT_HIGH bytes of them wait
 * (its lines stay in the receive buffer and the kernel's): replies are
 * never dropped and BIRD never blocks.
 *
 * A connection is freed from an event, never from its own hooks, so no code
 * up the stack of a socket hook can meet a freed connection. Requests only
 * change the override store; routes change in the override event.
 */

#undef LOCAL_DEBUG

#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "nest/bird.h"
#include "nest/protocol.h"
#include "lib/event.h"
#include "lib/socket.h"
#include "lib/string.h"
#include "nest/cli.h"
#include "conf/conf.h"
#include "sysdep/unix/unix.h"
#include "autopilot.h"
#include "conn.h"

#define CTL_LINE_MAX	1024		/* Longest request line, newline not counted */
#define CTL_RBSIZE	65536		/* Receive buffer: a read is many requests */
#define CTL_OUT_INIT	4096		/* First size of the reply buffer */
/* CTL_OUT_HIGH, CTL_OUT_LOW (autopilot.h): replies waiting, when to stop and go on */
#define CTL_REPLY_MAX	(AUTOPILOT_TAG_MAX + AUTOPILOT_ERR_MAX + 128)	/* Longest reply line */
#define CTL_BACKLOG	64		/* Connections the kernel queues before we accept */
#define CTL_STATUS_TRIES 16		/* Event rounds a status request waits for resolution */

/* Why a connection answers nothing for now (and is not read) */
#define CTL_STALL_OUTPUT 1		/* Too many replies wait: the client must read first */
#define CTL_STALL_STATUS 2		/* A status request waits for overrides to be resolved */
/* CTL_STALL_READ (autopilot.h): a read request streams its reply (observe.c) */

/*
 * A failed accept() (out of descriptors) leaves the connection queued and
 * the socket readable: the loop would call us again at once, forever.
 * So we stop accepting for a while, and log some.
 */
#define CTL_ACCEPT_PAUSE (1 S)
static struct tbf ctl_log_tbf = TBF_DEFAULT_LOG_LIMITS;

static void ctl_run(struct autopilot_ctl_conn *c);
static int ctl_rx(sock *sk, uint size);


/*
 *	Replies
 */

/* Room for @n more bytes of replies */
static byte *
ctl_out_reserve(struct autopilot_ctl_conn *c, uint n)
{
  if (c->out_len + n > c->out_size)
  {
    uint size = MAX(2 * c->out_size, c->out_len + n);
    sock *sk = c->sk;

    /* The socket may be writing from the buffer: move its pointers along */
    uint ttx = c->out_sent ? (uint) (sk->ttx - c->out) : 0;
    uint tpos = c->out_sent ? (uint) (sk->tpos - c->out) : 0;

    c->out = mb_realloc(c->out, size);
    c->out_size = size;

    if (c->out_sent)
    {
      sk->tbuf = c->out;
      sk->ttx = c->out + ttx;
      sk->tpos = c->out + tpos;
    }
  }

  return c->out + c->out_len;
}

static void
ctl_vreply(struct autopilot_ctl_conn *c, const char *tag, const char *fmt, va_list args)
{
  int n = 0, m;
  byte unread[CTL_REPLY_MAX];

  /* Nobody reads them when the client has gone; its requests are still executed, and counted */
  byte *b = c->quiet ? unread : ctl_out_reserve(c, CTL_REPLY_MAX);

  if (tag && tag[0])
    n = bsprintf(b, "@%s ", tag);

  m = bvsnprintf(b + n, CTL_REPLY_MAX - n - 1, fmt, args);

  /* Messages are bounded; should one not be, say so rather than cut it */
  if (m < 0)
    m = bsprintf(b + n, "error internal reply too long");

  autopilot_metrics_reply(c->p, (char *) b + n);
  if (c->quiet)
    return;

  b[n + m] = '\n';
  c->out_len += n + m + 1;
}

static void
ctl_reply(struct autopilot_ctl_conn *c, const char *tag, const char *fmt, ...)
{
  va_list args;

  va_start(args, fmt);
  ctl_vreply(c, tag, fmt, args);
  va_end(args);
}

/* One reply line of at most CTL_REPLY_MAX bytes, for observe.c's errors */
void
autopilot_ctl_reply(struct autopilot_ctl_conn *c, const char *tag, const char *fmt, ...)
{
  va_list args;

  va_start(args, fmt);
  ctl_vreply(c, tag, fmt, args);
  va_end(args);
}

/* Send what can be sent, answer what can be answered: for observe.c's streamed replies */
void
autopilot_ctl_run(struct autopilot_ctl_conn *c)
{
  if (!c->closed)
    ctl_run(c);
}

/* Controllers connected now (metrics) */
uint
autopilot_ctl_connections(struct autopilot_proto *p)
{
  struct autopilot_ctl_conn *c;
  uint n = 0;

  WALK_LIST(c, p->ctl.conns)
    n += !c->closed;

  return n;
}

/* Room for @n bytes of replies, for observe.c, which writes its JSON there */
byte *
autopilot_ctl_reserve(struct autopilot_ctl_conn *c, uint n)
{
  return ctl_out_reserve(c, n);
}

/* The reply to most requests: no format to interpret */
static inline void
ctl_ok(struct autopilot_ctl_conn *c, const char *tag)
{
  if (tag[0] || c->quiet)
  {
    ctl_reply(c, tag, "ok");
    return;
  }

  memcpy(ctl_out_reserve(c, 3), "ok\n", 3);
  c->out_len += 3;
  c->p->metrics.replies[AP_CODE_OK]++;
}

/* A refused request: the code and the message, as they came */
static void
ctl_error(struct autopilot_ctl_conn *c, const char *tag, const struct autopilot_error *err)
{
  ctl_reply(c, tag, "error %s %s", err->code, err->msg);
}

static void
ctl_status(struct autopilot_ctl_conn *c, const char *tag)
{
  struct autopilot_proto *p = c->p;

  ctl_reply(c, tag, "ok overrides %u active %u pending %u shadow %u",
	    autopilot_ovr_count(p), p->store.states[AP_OVR_ACTIVE],
	    p->store.states[AP_OVR_PENDING], p->store.states[AP_OVR_SHADOW]);
}

/*
 * The metrics text, ended by "# EOF", then the reply line: every request
 * still ends with exactly one reply line, and no line of the text can be
 * taken for one (each starts with '#' or a metric name).
 */
static void
ctl_metrics(struct autopilot_ctl_conn *c, const char *tag)
{
  if (!c->quiet)
  {
    struct autopilot_text t = { .pool = c->p->p.pool };
    autopilot_metrics_render(c->p, &t);
    memcpy(ctl_out_reserve(c, t.len), t.data, t.len);
    c->out_len += t.len;
    mb_free(t.data);
  }

  ctl_reply(c, tag, "ok metrics");
}

/* The @tag of a line we do not parse (too long), if it starts with a valid one */
static void
ctl_line_tag(const byte *line, uint len, char *tag)
{
  uint n = 0;

  tag[0] = 0;
  if (!len || (line[0] != '@'))
    return;

  for (uint i = 1; i < len; i++)
  {
    byte ch = line[i];
    if ((ch == ' ') || (ch == '\t'))
      break;
    /* No valid tag: none at all (not its first characters: too long, or a bad byte) */
    if ((n + 1 >= AUTOPILOT_TAG_MAX) ||
	!(((ch >= 'a') && (ch <= 'z')) || ((ch >= 'A') && (ch <= 'Z')) || ((ch >= '0') && (ch <= '9')) ||
	  (ch == '_') || (ch == '-') || (ch == '.') || (ch == ':')))
    {
      tag[0] = 0;
      return;
    }
    tag[n++] = ch;
  }

  tag[n] = 0;
}


/*
 *	Batches
 */

static void
ctl_batch_drop(struct autopilot_ctl_conn *c)
{
  autopilot_batch_close(&c->batch);
}

/* Fail the open batch with an error made here */
#define CTL_BATCH_FAIL(c, code, msg, args...) \
  ({ struct autopilot_error e_; autopilot_err(&e_, code, msg, ##args); autopilot_batch_fail(&(c)->batch, &e_); })

static void
ctl_batch_commit(struct autopilot_ctl_conn *c, const char *tag)
{
  struct autopilot_proto *p = c->p;
  struct autopilot_error err;
  int sync = (c->batch.op == AP_OP_SYNC);

  /* The commit's tag, else that of begin or sync */
  if (!tag[0])
    tag = c->batch_tag;

  autopilot_audit_by(p, "controller #%u (%s)", c->id, sync ? "sync" : "batch");

  /* The loop's clock stands still while we run: read the real one */
  btime start = current_time_now();
  int rv = autopilot_batch_commit(p, &c->batch, AP_SRC_CONTROLLER, &err);
  if (!c->batch.bad)
    autopilot_metrics_observe(&p->metrics.commit[sync], current_time_now() - start);

  if (rv == 0)
  {
    ctl_reply(c, tag, "ok %u", c->batch.len);
    c->acks = 1;
  }
  else if (!err.req)
    ctl_error(c, tag, &err);		/* About the whole batch (a sync over the limit) */
  else if (err.also)
    ctl_reply(c, tag, "error batch line %u: %s", err.req, err.msg);	/* One prefix twice */
  else
    ctl_reply(c, tag, "error batch line %u: %s: %s", err.req, err.code, err.msg);

  ctl_batch_drop(c);
}

/* One parsed line (@rv, @err: the parse result) inside a batch */
static void
ctl_batch_line(struct autopilot_ctl_conn *c, struct autopilot_request *req, int rv, const struct autopilot_error *err)
{
  if (autopilot_batch_take(&c->batch, req, rv, err))
    return;

  switch (req->op)
  {
  case AP_OP_COMMIT:
    ctl_batch_commit(c, req->tag);
    break;

  case AP_OP_ABORT:
    ctl_reply(c, req->tag[0] ? req->tag : c->batch_tag, "ok aborted %u", c->batch.len);
    ctl_batch_drop(c);
    break;

  case AP_OP_WITHDRAW:
    CTL_BATCH_FAIL(c, AUTOPILOT_ERR_PARSE, "withdraw in a sync (a sync lists the whole set)");
    break;

  default:
    CTL_BATCH_FAIL(c, AUTOPILOT_ERR_PARSE, "only add%s, then commit or abort, in a batch",
		   (c->batch.op == AP_OP_SYNC) ? "" : " and withdraw");
  }
}


/*
 *	Requests
 */

/* One line, NUL-terminated at @len (which may hold NUL bytes of its own) */
static void
ctl_line(struct autopilot_ctl_conn *c, char *line, uint len, btime now)
{
  struct autopilot_proto *p = c->p;
  struct autopilot_request scratch, *req = &scratch;
  struct linpool *lp = tmp_linpool;
  struct autopilot_error err;
  int rv;

  c->requests++;

  /* Parse straight into the batch: a sync may list a million overrides */
  if (c->batch.op)
    req = autopilot_batch_line(&c->batch, &scratch, &lp);

  /* The parser reads C strings: a NUL would hide the rest of the line */
  const char *nul = memchr(line, 0, len);
  if (nul)
  {
    req->op = AP_OP_NONE;
    req->tag[0] = 0;
    rv = autopilot_err(&err, AUTOPILOT_ERR_PARSE, "column %u: bad byte 0x00", (uint) (nul - line) + 1);
  }
  else if ((rv = autopilot_request_parse(line, now, req, &err, lp)) == 0)
  {
    /* Who asked is the socket's to say */
    rv = autopilot_request_by(req, AP_SRC_CONTROLLER, &err);
  }

  if (c->batch.op)
  {
    ctl_batch_line(c, req, rv, &err);
    return;
  }

  if (rv < 0)
  {
    ctl_error(c, req->tag, &err);
    return;
  }

  autopilot_audit_by(p, "controller #%u", c->id);

  switch (req->op)
  {
  case AP_OP_NONE:
    break;

  case AP_OP_ADD:
    if (autopilot_ovr_add(p, req, AP_SRC_CONTROLLER, &err) < 0)
      ctl_error(c, req->tag, &err);
    else
      ctl_ok(c, req->tag), c->acks = 1;
    break;

  case AP_OP_WITHDRAW:
    if (autopilot_ovr_withdraw(p, (net_addr *) &req->net, &err) < 0)
      ctl_error(c, req->tag, &err);
    else
      ctl_ok(c, req->tag), c->acks = 1;
    break;

  case AP_OP_FLUSH:
    ctl_reply(c, req->tag, "ok %u", autopilot_ovr_flush(p, req->target[0] ? req->target : NULL, AP_SRC_CONTROLLER));
    c->acks = 1;
    break;

  case AP_OP_BEGIN:
  case AP_OP_SYNC:
    /* Adds and withdraws of every override: more can only be a mistake */
    autopilot_batch_open(&c->batch, p->p.pool, req->op,
			 MIN(2 * (u64) ((struct autopilot_config *) p->p.cf)->max_overrides + 16, (u64) ~0U));
    strcpy(c->batch_tag, req->tag);
    break;

  case AP_OP_COMMIT:
  case AP_OP_ABORT:
    ctl_reply(c, req->tag, "error no-batch %s without begin or sync",
	      (req->op == AP_OP_COMMIT) ? "commit" : "abort");
    break;

  case AP_OP_PING:
    ctl_reply(c, req->tag, "ok pong");
    break;

  case AP_OP_METRICS:
    ctl_metrics(c, req->tag);
    break;

  /* Read requests: they change nothing (observe.c) */
  case AP_OP_PATHS:
  case AP_OP_EGRESSES:
  case AP_OP_DUMP:
  case AP_OP_WATCH:
  case AP_OP_UNWATCH:
    autopilot_obs_request(c, req);
    break;

  case AP_OP_STATUS:
    /* Answer once what came before is resolved: pending means no path, not "not yet" */
    if (autopilot_ovr_settled(p))
    {
      ctl_status(c, req->tag);
      break;
    }

    strcpy(c->status_tag, req->tag);
    c->status_tries = 0;
    c->stall |= CTL_STALL_STATUS;
    ev_schedule(p->ctl.event);
    break;

  default:
    bug("Autopilot: request %u unknown to the controller socket", req->op);
  }
}

/* A line longer than CTL_LINE_MAX starting at @line (@len bytes of it seen) */
static void
ctl_too_long(struct autopilot_ctl_conn *c, const byte *line, uint len)
{
  char tag[AUTOPILOT_TAG_MAX];

  c->requests++;

  if (c->batch.op)
  {
    struct autopilot_request scratch;
    struct linpool *lp;
    autopilot_batch_line(&c->batch, &scratch, &lp);
    CTL_BATCH_FAIL(c, AUTOPILOT_ERR_PARSE, "line too long (more than %u bytes)", CTL_LINE_MAX);
    return;
  }

  ctl_line_tag(line, len, tag);
  ctl_reply(c, tag, "error bad-request line too long (more than %u bytes)", CTL_LINE_MAX);
}

/*
 * Answer the complete lines in the receive buffer, until a stall. What is
 * left (a partial line, or lines held back) moves to the buffer's start.
 */
static void
ctl_process(struct autopilot_ctl_conn *c)
{
  sock *sk = c->sk;
  byte *pos = sk->rbuf, *end = sk->rpos;
  btime now = current_real_time();

  /* Events that came before a line go out before its reply */
  autopilot_watch_flush(c);

  while ((pos < end) && !c->stall)
  {
    autopilot_watch_flush(c);

    if (c->out_len >= CTL_OUT_HIGH)
    {
      c->stall |= CTL_STALL_OUTPUT;
      break;
    }

    byte *nl = memchr(pos, '\n', end - pos);

    /* The rest of a too long line, already answered */
    if (c->discard)
    {
      c->discard = !nl;
      pos = nl ? nl + 1 : end;
      continue;
    }

    if (!nl)
    {
      /* Too long already: answer now, drop the rest as it comes */
      if (end - pos > CTL_LINE_MAX + 1)
      {
	ctl_too_long(c, pos, end - pos);
	c->discard = 1;
	pos = end;
      }
      /* A cut line may mean something else than meant (expires 36 of 3600): never executed */
      else if (c->eof)
      {
	char tag[AUTOPILOT_TAG_MAX];
	ctl_line_tag(pos, end - pos, tag);
	ctl_reply(c, tag, "error bad-request no newline at the end of input: line not executed");
	pos = end;
      }
      break;
    }

    uint len = nl - pos;
    if (len - ((len && (nl[-1] == '\r')) ? 1 : 0) > CTL_LINE_MAX)
      ctl_too_long(c, pos, len);
    else
    {
      *nl = 0;
      ctl_line(c, (char *) pos, len, now);
    }

    pos = nl + 1;
  }

  uint left = end - pos;
  if (left && (pos != sk->rbuf))
    memmove(sk->rbuf, pos, left);
  sk->rpos = sk->rbuf + left;
}


/*
 *	Connections
 */

static void
ctl_close(struct autopilot_ctl_conn *c)
{
  struct autopilot_proto *p = c->p;

  if (c->closed)
    return;

  if (c->batch.op)
    TRACE(D_EVENTS, "Controller disconnected with a batch open (%u requests): dropped", c->batch.len);

  log(L_INFO "%s: Controller #%u disconnected after %u requests", c->p->p.name, c->id, c->requests);

  c->closed = 1;
  c->sk->rx_hook = NULL;
  c->sk->tx_hook = NULL;
  ctl_batch_drop(c);
  autopilot_obs_free(c);
  ev_schedule(p->ctl.event);
}

static void
ctl_free(struct autopilot_ctl_conn *c)
{
  rem_node(&c->n);
  rfree(c->sk);
  ctl_batch_drop(c);
  autopilot_obs_free(c);
  mb_free(c->out);
  mb_free(c);
}

/* Hand queued replies to the socket; 0 if the connection is closed */
static int
ctl_flush(struct autopilot_ctl_conn *c)
{
  sock *sk = c->sk;

  if (c->closed)
    return 0;

  if (c->quiet)
    c->out_len = 0;

  /* Nothing to send, or a write under way: ctl_tx() goes on with the rest */
  if (!c->out_len || c->out_sent)
    return 1;

  /*
   * No reply goes out before the changes it acknowledges are on disk (all
   * of this round's, of every connection, in one commit; watchers see them
   * after that too). When they cannot be saved, the client gets no
   * acknowledgement at all: its connection is closed, the changes stay in
   * effect (fail static) and show says why. A connection whose replies
   * acknowledge nothing (watch, dump, ping, metrics) carries on: a failing
   * disk must not blind those who watch it.
   */
  if ((autopilot_state_commit(c->p) < 0) && c->acks)
  {
    log(L_ERR "%s: Controller #%u: changes not saved, closing its connection without replies",
	c->p->p.name, c->id);
    c->out_len = 0;
    ctl_close(c);
    return 0;
  }

  c->acks = 0;
  sk->tbuf = c->out;
  c->out_sent = c->out_len;

  int rv = sk_send(sk, c->out_len);
  if (c->closed)
    return 0;

  if (rv > 0)
  {
    c->out_len = c->out_sent = 0;
    sk_set_tbuf(sk, NULL);

    /* A burst is over: give back its memory */
    if (c->out_size > 16 * CTL_OUT_INIT)
    {
      c->out = mb_realloc(c->out, CTL_OUT_INIT);
      c->out_size = CTL_OUT_INIT;
    }
  }

  return 1;
}

/* Answer what can be answered, send it, and read more if we may */
static void
ctl_run(struct autopilot_ctl_conn *c)
{
  sock *sk = c->sk;

  for (;;)
  {
    ctl_process(c);

    if (!ctl_flush(c))
      return;

    /* A write under way: ctl_tx() comes back when it is done */
    if (c->out_len >= CTL_OUT_LOW)
      break;

    /*
     * All written at once (the client reads as fast as we write): nothing
     * calls us again for it, so go on here with the lines held back and
     * the events that waited for the replies to be read down.
     */
    if (c->stall & CTL_STALL_OUTPUT)
      c->stall &= ~CTL_STALL_OUTPUT;
    else if (c->out_sent || !autopilot_watch_waiting(c))
      break;
  }

  /* A streamed reply goes on once the client has read most of it (a write may end at once) */
  if ((c->stall & CTL_STALL_READ) && (c->out_len < CTL_OUT_LOW))
    autopilot_obs_wake(c);

  if (!c->eof)
  {
    sk->rx_hook = c->stall ? NULL : ctl_rx;
    return;
  }

  /* The client sent all it will: once all of it is answered, close */
  if (c->stall)
    return;

  if (c->batch.op)
  {
    ctl_reply(c, c->batch_tag, "error batch no commit before the end of input: %u requests dropped", c->batch.len);
    ctl_batch_drop(c);
    if (!ctl_flush(c))
      return;
  }

  if (!c->out_len)
    ctl_close(c);
}

static int
ctl_rx(sock *sk, uint size UNUSED)
{
  struct autopilot_ctl_conn *c = sk->data;

  if (!c->closed)
    ctl_run(c);

  /* We keep the unanswered rest in the buffer ourselves */
  return 0;
}

/* The socket wrote all it was given */
static void
ctl_tx(sock *sk)
{
  struct autopilot_ctl_conn *c = sk->data;

  if (c->closed)
    return;

  /* Drop what was written, keep what was queued meanwhile */
  uint sent = c->out_sent;
  c->out_sent = 0;
  sk_set_tbuf(sk, NULL);
  c->out_len -= sent;
  if (c->out_len)
    memmove(c->out, c->out + sent, c->out_len);

  if ((c->stall & CTL_STALL_OUTPUT) && (c->out_len < CTL_OUT_LOW))
    c->stall &= ~CTL_STALL_OUTPUT;

  ctl_run(c);
}

/* Has the client sent bytes we have not read yet? */
static int
ctl_input_waiting(sock *sk)
{
  char ch;
  return recv(sk->fd, &ch, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

/*
 * End of input, an error, or the client gone. Whatever it sent before is
 * still executed, in order: what a client sent must not depend on when it
 * left. Replies go out as long as the client reads them.
 */
static void
ctl_err(sock *sk, int err)
{
  struct autopilot_ctl_conn *c = sk->data;
  struct autopilot_proto *p = c->p;
  struct pollfd pfd = { .fd = sk->fd, .events = POLLOUT };

  if (c->closed)
    return;

  /* Can the client still read? Not after an error, a hangup, or a failed write */
  if (poll(&pfd, 1, 0) < 0)
    pfd.revents = POLLERR;

  if (err || (pfd.revents & (POLLHUP | POLLERR)) || (c->out_sent && (sk->ttx == sk->tpos)))
  {
    if (!c->quiet && err)
      TRACE(D_EVENTS, "Controller connection lost: %M", err);
    else if (!c->quiet)
      TRACE(D_EVENTS, "Controller connection lost");

    c->quiet = 1;
    c->out_len = c->out_sent = 0;
    sk_set_tbuf(sk, NULL);
    c->stall &= ~CTL_STALL_OUTPUT;

    /* A streamed reply waiting for the client to read ends now */
    autopilot_obs_wake(c);
  }

  /* BIRD reads the rest first */
  if (ctl_input_waiting(sk))
  {
    if (!c->stall)
      sk->rx_hook = ctl_rx;
    return;
  }

  c->eof = 1;
  sk->rx_hook = NULL;
  ctl_run(c);
}

/*
 * Past the limit, a controller is told why and closed: clients that connect
 * and never leave must not take every descriptor BIRD has (its BGP sessions
 * need them). The reply fits a new socket's empty buffer.
 */
static int
ctl_refuse(struct autopilot_proto *p, sock *sk, uint open, uint max)
{
  char msg[96];
  int len = bsnprintf(msg, sizeof(msg), "error over-limit %u connections open, the limit is %u\n", open, max);

  if (write(sk->fd, msg, len) != len)
    log(L_WARN "%s: Controller socket %s: cannot tell a refused connection why: %m", p->p.name, p->ctl.path);

  p->ctl.refused++;
  log_rl(&ctl_log_tbf, L_WARN "%s: Controller connection refused: %u open, the limit is %u",
	 p->p.name, open, max);
  rfree(sk);
  return 0;
}

static int
ctl_accept(sock *sk, uint size UNUSED)
{
  struct autopilot_proto *p = sk->data;
  uint open = autopilot_ctl_connections(p), max = ((struct autopilot_config *) p->p.cf)->ctl_max_conns;

  if (open >= max)
    return ctl_refuse(p, sk, open, max);

  struct autopilot_ctl_conn *c = mb_allocz(p->p.pool, sizeof(struct autopilot_ctl_conn));

  c->p = p;
  c->sk = sk;
  c->id = ++p->ctl.next_id;
  c->out_size = CTL_OUT_INIT;
  c->out = mb_alloc(p->p.pool, c->out_size);
  add_tail(&p->ctl.conns, &c->n);

  sk->data = c;
  sk->rx_hook = ctl_rx;
  sk->tx_hook = ctl_tx;
  sk->err_hook = ctl_err;
  sk->fast_rx = 1;

  log(L_INFO "%s: Controller #%u connected", p->p.name, c->id);
  return 0;
}

static void
ctl_accept_err(sock *sk, int err)
{
  struct autopilot_proto *p = sk->data;

  p->ctl.refused++;

  /* A client gone before we took it (ECONNABORTED, ...) does not come back */
  if ((err != EMFILE) && (err != ENFILE) && (err != ENOBUFS) && (err != ENOMEM))
  {
    log_rl(&ctl_log_tbf, L_WARN "%s: Controller socket %s: accept failed: %M", p->p.name, p->ctl.path, err);
    return;
  }

  sk->rx_hook = NULL;
  tm_start(p->ctl.accept_timer, CTL_ACCEPT_PAUSE);
  log_rl(&ctl_log_tbf, L_ERR "%s: Controller socket %s: accept failed: %M; accepting again in 1 s",
	 p->p.name, p->ctl.path, err);
}

static void
ctl_accept_resume(timer *t)
{
  struct autopilot_proto *p = t->data;

  if (p->ctl.sk)
    p->ctl.sk->rx_hook = ctl_accept;
}

/* Frees closed connections; answers status requests once overrides are resolved */
static void
ctl_event(void *data)
{
  struct autopilot_proto *p = data;
  struct autopilot_ctl_conn *c, *next;
  int again = 0;

  WALK_LIST_DELSAFE(c, next, p->ctl.conns)
  {
    if (c->closed)
    {
      ctl_free(c);
      continue;
    }

    if (!(c->stall & CTL_STALL_STATUS))
      continue;

    /*
     * Deferred copies always drain (each round takes some); the event may
     * also run again behind us as paths change: wait a few rounds for that,
     * not forever.
     */
    if (!autopilot_ovr_settled(p) && (p->store.later || (c->status_tries++ < CTL_STATUS_TRIES)))
    {
      again = 1;
      continue;
    }

    c->stall &= ~CTL_STALL_STATUS;
    ctl_status(c, c->status_tag);
    ctl_run(c);
  }

  if (again)
    ev_schedule(p->ctl.event);
}


/*
 *	Listening socket
 */

/* Does a program accept connections at @path? (Else it is a dead BIRD's leftover.) */
static int
ctl_path_alive(const char *path)
{
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

  if (fd < 0)
    return 0;

  strcpy(sa.sun_path, path);
  int rv = connect(fd, (struct sockaddr *) &sa, sizeof(sa));
  int alive = (rv == 0) || (errno == EAGAIN) || (errno == EINPROGRESS);
  close(fd);

  return alive;
}

/* Why the socket is not open: logged, and kept for show */
#define CTL_FAIL(fmt, args...) ({					\
      bsnprintf(p->ctl.error, sizeof(p->ctl.error), fmt, ##args);	\
      log(L_ERR "%s: %s", p->p.name, p->ctl.error);			\
      (sock *) NULL; })

static sock *
ctl_listen(struct autopilot_proto *p, struct autopilot_config *cf)
{
  const char *path = cf->ctl_path;
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  gid_t gid = (gid_t) -1;
  struct stat st;

  if (strlen(path) >= sizeof(sa.sun_path))
    return CTL_FAIL("Controller socket %s not opened: path too long (at most %u bytes)",
		    path, (uint) sizeof(sa.sun_path) - 1);

  /* No socket rather than one with other access than configured */
  if (cf->ctl_group)
  {
    struct group *gr = getgrnam(cf->ctl_group);
    if (!gr)
      return CTL_FAIL("Controller socket %s not opened: no group '%s'", path, cf->ctl_group);
    gid = gr->gr_gid;
  }

  /* A dead BIRD's socket is removed; anything else at that path is not ours */
  if (!lstat(path, &st))
  {
    if (!S_ISSOCK(st.st_mode))
      return CTL_FAIL("Controller socket %s not opened: the path exists and is not a socket", path);

    if (ctl_path_alive(path))
      return CTL_FAIL("Controller socket %s not opened: another program listens there", path);

    unlink(path);
  }

  sock *sk = sk_new(p->p.pool);
  sk->type = SK_UNIX_PASSIVE;
  sk->rx_hook = ctl_accept;
  sk->err_hook = ctl_accept_err;
  sk->data = p;
  sk->rbsize = CTL_RBSIZE;		/* Accepted sockets inherit it */
  sk->fast_rx = 1;

  /* Created private, opened up below: never more access than configured */
  mode_t mask = umask(0177);
  int rv = sk_open_unix(sk, path);
  umask(mask);

  if (rv < 0)
  {
    /* sk_open_unix() closed the descriptor (patch 0008) */
    CTL_FAIL("Cannot create controller socket %s: %s: %m", path, sk->err ?: "error");
    rfree(sk);
    return NULL;
  }

  /* BIRD's own backlog is for its CLI; controllers may all come back at once */
  if (listen(sk->fd, CTL_BACKLOG) < 0)
  {
    CTL_FAIL("Cannot listen on controller socket %s: %m", path);
    goto fail;
  }

  if ((gid != (gid_t) -1) && (chown(path, (uid_t) -1, gid) < 0))
  {
    CTL_FAIL("Cannot set group %s of controller socket %s: %m", cf->ctl_group, path);
    goto fail;
  }

  if (chmod(path, cf->ctl_mode) < 0)
  {
    CTL_FAIL("Cannot chmod controller socket %s: %m", path);
    goto fail;
  }

  p->ctl.error[0] = 0;

  log(L_INFO "%s: Controller socket %s (mode %04o%s%s)", p->p.name, path, cf->ctl_mode,
      cf->ctl_group ? ", group " : "", cf->ctl_group ?: "");
  return sk;

fail:
  rfree(sk);
  unlink(path);
  return NULL;
}

static void
ctl_unlisten(struct autopilot_proto *p)
{
  if (!p->ctl.sk)
    return;

  rfree(p->ctl.sk);
  p->ctl.sk = NULL;
  tm_stop(p->ctl.accept_timer);
  unlink(p->ctl.path);
  mb_free(p->ctl.path);
  p->ctl.path = NULL;
}

/* Listen with @sk at @path; the path is ours: the config may go before we unlink it */
static void
ctl_listening(struct autopilot_proto *p, sock *sk, const char *path)
{
  uint len = strlen(path) + 1;
  p->ctl.sk = sk;
  p->ctl.path = mb_alloc(p->p.pool, len);
  memcpy(p->ctl.path, path, len);
}

static void
ctl_open(struct autopilot_proto *p, struct autopilot_config *cf)
{
  sock *sk = cf->ctl_path ? ctl_listen(p, cf) : NULL;
  if (sk)
    ctl_listening(p, sk, cf->ctl_path);
}

/**
 * autopilot_ctl_start - open the controller socket
 * @p: autopilot instance
 *
 * A socket that cannot be opened is logged; the protocol runs without it.
 */
void
autopilot_ctl_start(struct autopilot_proto *p)
{
  init_list(&p->ctl.conns);
  p->ctl.event = ev_new_init(p->p.pool, ctl_event, p);
  p->ctl.accept_timer = tm_new_init(p->p.pool, ctl_accept_resume, p, 0, 0);
  p->ctl.refused = 0;
  p->ctl.sk = NULL;
  p->ctl.path = NULL;
  p->ctl.error[0] = 0;
  autopilot_watch_start(p);

  ctl_open(p, (struct autopilot_config *) p->p.cf);
}

/**
 * autopilot_ctl_stop - close the controller socket and every connection
 * @p: autopilot instance
 *
 * Open batches are dropped; applied requests stay (fail static).
 */
void
autopilot_ctl_stop(struct autopilot_proto *p)
{
  struct autopilot_ctl_conn *c, *next;

  WALK_LIST_DELSAFE(c, next, p->ctl.conns)
    ctl_free(c);

  ctl_unlisten(p);
  ev_postpone(p->ctl.event);
}

/**
 * autopilot_ctl_reconfigure - apply a new socket path, mode or group
 * @p: autopilot instance
 * @old: running configuration
 * @new: new configuration
 *
 * The listening socket is replaced in place: connected controllers stay,
 * and so do the overrides and their routes, which a protocol restart would
 * withdraw (and, without a state file, lose). A working socket is never
 * replaced by none: at a new path the new one is opened first, and when it
 * cannot be, the old one stays (and the log and show say so); at the same
 * path, the mode and group change on the socket itself. A socket that failed
 * to open is tried again. Returns 1: nothing here needs a restart.
 */
int
autopilot_ctl_reconfigure(struct autopilot_proto *p, struct autopilot_config *old, struct autopilot_config *new)
{
  /* What we listen on may not be what the old config said: a move may have failed */
  int same_access = (old->ctl_mode == new->ctl_mode) && !bstrcmp(old->ctl_group, new->ctl_group);

  if (!new->ctl_path || !p->ctl.sk)
  {
    ctl_unlisten(p);
    p->ctl.error[0] = 0;
    ctl_open(p, new);
    return 1;
  }

  if (!strcmp(p->ctl.path, new->ctl_path))
  {
    if (same_access && !p->ctl.error[0])
      return 1;

    /* No group given: BIRD's own, as a new socket has (not the one the old config gave) */
    struct group *gr = new->ctl_group ? getgrnam(new->ctl_group) : NULL;
    gid_t gid = gr ? gr->gr_gid : getegid();
    if (new->ctl_group && !gr)
      CTL_FAIL("Controller socket %s keeps its access: no group '%s'", p->ctl.path, new->ctl_group);
    else if (chown(p->ctl.path, (uid_t) -1, gid) < 0)
      CTL_FAIL("Controller socket %s keeps its group: cannot set group %s: %m", p->ctl.path,
	       new->ctl_group ?: "of BIRD");
    else if (chmod(p->ctl.path, new->ctl_mode) < 0)
      CTL_FAIL("Controller socket %s keeps its mode: cannot chmod: %m", p->ctl.path);
    else
    {
      p->ctl.error[0] = 0;
      log(L_INFO "%s: Controller socket %s (mode %04o%s%s)", p->p.name, p->ctl.path, new->ctl_mode,
	  new->ctl_group ? ", group " : "", new->ctl_group ?: "");
    }
    return 1;
  }

  sock *sk = ctl_listen(p, new);
  if (!sk)
  {
    char why[sizeof(p->ctl.error)];
    strcpy(why, p->ctl.error);
    bsnprintf(p->ctl.error, sizeof(p->ctl.error), "%s; still listening on %s", why, p->ctl.path);
    log(L_WARN "%s: Keeping controller socket %s", p->p.name, p->ctl.path);
    return 1;
  }

  ctl_unlisten(p);
  ctl_listening(p, sk, new->ctl_path);
  return 1;
}

/* A socket that cannot work is a config error, not a log line at start */
void
autopilot_ctl_check_config(struct autopilot_config *cf)
{
  struct sockaddr_un sa;
  struct stat st;

  if (!cf->ctl_path)
    return;

  if (strlen(cf->ctl_path) >= sizeof(sa.sun_path))
    cf_error("Autopilot: controller socket %s: path too long (at most %u bytes)",
	     cf->ctl_path, (uint) sizeof(sa.sun_path) - 1);

  char *dir = dirname(tmp_sprintf("%s", cf->ctl_path));
  if ((stat(dir, &st) < 0) || !S_ISDIR(st.st_mode))
    cf_error("Autopilot: controller socket %s: no directory %s", cf->ctl_path, dir);

  if (!cf->ctl_group)
    return;

  struct group *gr = getgrnam(cf->ctl_group);
  if (!gr)
    cf_error("Autopilot: controller socket %s: no group '%s'", cf->ctl_path, cf->ctl_group);

  /* Root may give it any group; BIRD run as a user only one of its own */
  if (geteuid() && (getegid() != gr->gr_gid))
  {
    gid_t groups[NGROUPS_MAX];
    int n = getgroups(NGROUPS_MAX, groups);
    int member = 0;
    for (int i = 0; i < n; i++)
      member |= (groups[i] == gr->gr_gid);
    if (!member)
      cf_error("Autopilot: controller socket %s: BIRD is not a member of group '%s' "
	       "(add its user to the group, and restart BIRD)", cf->ctl_path, cf->ctl_group);
  }
}

/* The socket's health: where, what access, listening or why not, clients */
void
autopilot_ctl_show(struct autopilot_proto *p)
{
  struct autopilot_config *cf = (void *) p->p.cf;
  struct autopilot_ctl_conn *c;
  uint n = 0;

  if (!cf->ctl_path)
    return;

  WALK_LIST(c, p->ctl.conns)
    n++;

  if (p->ctl.sk && !p->ctl.error[0])
    cli_msg(-AUTOPILOT_REPLY_SHOW, "  Controller socket: %s (mode %04o%s%s): %s, %u client%s (at most %u), %lu refused",
	    p->ctl.path, cf->ctl_mode, cf->ctl_group ? ", group " : "", cf->ctl_group ?: "",
	    p->ctl.sk->rx_hook ? "listening" : "paused (out of descriptors)", n, (n == 1) ? "" : "s",
	    cf->ctl_max_conns, p->ctl.refused);
  else
    cli_msg(-AUTOPILOT_REPLY_SHOW, "  Controller socket: %s, %u client%s", p->ctl.error[0] ? p->ctl.error : "not opened",
	    n, (n == 1) ? "" : "s");
}
