/*
 *	bird-autopilot fuzz target -- the controller socket: framing and batches
 *
 *	(c) 2026 bird-autopilot developers
 *
 *	Can be freely distributed and used under the terms of the GNU GPL.
 */

/*
 * One input is what one controller sends on one connection. The real
 * ctl.c (included here, to reach its static hooks) serves it on one end of
 * a socketpair: this target does what BIRD's I/O loop would, copying the
 * input into the socket's receive buffer in chunks (partial lines, lines
 * split anywhere), calling the receive hook, running events between reads
 * (status requests, the override event), and at the end of the input what
 * a half-close does (the error hook with no error). A thread reads the
 * replies from the other end, as a client would. The first byte of the
 * input is no client byte: it seeds the chunk sizes (0: all at once).
 *
 * Checked, against a reference walk of the input by lines (CR/LF, lines too
 * long, NUL bytes, the batch states, a cut last line): one reply per
 * request outside batches, one per batch, none for empty lines and the
 * lines inside a batch, in order, each with the request's tag; every
 * reply a whole line of the documented form; the connection closed and
 * freed at the end, however the input ends.
 */

#include <pthread.h>
#include <signal.h>

#include "proto/autopilot/ctl.c"

#include "fuzz.h"
#include "lib/resource.h"

#define MAX_OVERRIDES	64	/* Small: batches over the limit are a case too */

static struct autopilot_proto *P;

/* The client end: replies read by a thread, so that BIRD's writes never block for good */
struct client {
  int fd;				/* Our end of the socketpair */
  byte *buf;				/* Replies read */
  size_t len, size;			/* Bytes in buf, its size */
};

static void *
client_read(void *data)
{
  struct client *cl = data;

  for (;;)
  {
    if (cl->len == cl->size)
      cl->buf = realloc(cl->buf, cl->size = cl->size ? 2 * cl->size : 65536);

    ssize_t n = read(cl->fd, cl->buf + cl->len, cl->size - cl->len);
    if (n <= 0)
      break;
    cl->len += n;
  }

  return NULL;
}

/* What the reference expects of a reply: its tag ("" none), or any tag */
struct expect {
  char tag[AUTOPILOT_TAG_MAX];		/* Expected tag */
  int any;				/* Tag not checked (a line too long) */
};

static struct expect *want;
static uint nwant, want_size;

static void
expect(const char *tag, int any)
{
  if (nwant == want_size)
    want = realloc(want, (want_size = want_size ? 2 * want_size : 64) * sizeof(struct expect));
  want[nwant].any = any;
  strcpy(want[nwant].tag, tag ?: "");
  nwant++;
}

/* The replies the input should get, by the protocol's specification */
static void
reference(const byte *data, size_t size)
{
  struct autopilot_request req;
  struct autopilot_error err;
  char batch_tag[AUTOPILOT_TAG_MAX] = "";
  char *line = malloc(CTL_LINE_MAX + 2);
  int in_batch = 0;
  size_t pos = 0;

  nwant = 0;
  while (pos < size)
  {
    const byte *nl = memchr(data + pos, '\n', size - pos);
    size_t len = nl ? (size_t) (nl - (data + pos)) : size - pos;

    /* A cut last line is answered even in a batch; unless it is too long already */
    if (!nl)
    {
      if (len > CTL_LINE_MAX + 1)
      {
	if (!in_batch)
	  expect(NULL, 1);
      }
      else
	expect(NULL, 1);
      break;
    }

    size_t eff = len - ((len && (data[pos + len - 1] == '\r')) ? 1 : 0);
    if (eff > CTL_LINE_MAX)
    {
      if (!in_batch)
	expect(NULL, 1);
    }
    else if (memchr(data + pos, 0, len))
    {
      if (!in_batch)
	expect("", 0);
    }
    else
    {
      memcpy(line, data + pos, len);
      line[len] = 0;
      int rv = autopilot_request_parse(line, current_real_time(), &req, &err, tmp_linpool);

      if (in_batch)
      {
	if ((rv == 0) && ((req.op == AP_OP_COMMIT) || (req.op == AP_OP_ABORT)))
	{
	  expect(req.tag[0] ? req.tag : batch_tag, 0);
	  in_batch = 0;
	}
      }
      else if ((rv == 0) && ((req.op == AP_OP_BEGIN) || (req.op == AP_OP_SYNC)))
      {
	in_batch = 1;
	strcpy(batch_tag, req.tag);
      }
      else if ((rv < 0) || (req.op != AP_OP_NONE))
	expect(req.tag, 0);
    }

    pos += len + 1;
  }

  if (in_batch)
    expect(batch_tag, 0);

  free(line);
  lp_flush(tmp_linpool);
}

/* Is @s (@len bytes, no newline) a reply of the documented form, with tag @w? */
static void
check_reply(const char *s, size_t len, const struct expect *w, uint i)
{
  const char *e = s + len;

  if (*s == '@')
  {
    const char *sp = memchr(s, ' ', len);
    FZ_CHECK(sp, "reply %u: a tag alone", i);
    FZ_CHECK(w->any || ((size_t) (sp - s - 1) == strlen(w->tag) && !memcmp(s + 1, w->tag, sp - s - 1)),
	     "reply %u: tag '%.*s', want '%s'", i, (int) (sp - s - 1), s + 1, w->tag);
    s = sp + 1;
  }
  else
    FZ_CHECK(w->any || !w->tag[0], "reply %u: no tag, want '%s'", i, w->tag);

  if ((e - s >= 2) && !memcmp(s, "ok", 2))
  {
    FZ_CHECK((e - s == 2) || (s[2] == ' '), "reply %u: '%.*s'", i, (int) (e - s), s);
    return;
  }

  FZ_CHECK((e - s > 6) && !memcmp(s, "error ", 6), "reply %u: neither ok nor error: '%.*s'", i, (int) (e - s), s);
  const char *c = s + 6;
  while ((c < e) && (((*c >= 'a') && (*c <= 'z')) || (*c == '-')))
    c++;
  FZ_CHECK((c > s + 6) && (c < e) && (*c == ' ') && (c + 1 < e), "reply %u: bad error code: '%.*s'", i, (int) (e - s), s);
}

static void
start(void)
{
  fz_init();
  signal(SIGPIPE, SIG_IGN);
  P = fz_start_ap();
}

/* Closed and freed (ctl_event frees closed connections) */
static int
gone(struct autopilot_ctl_conn *c)
{
  struct autopilot_ctl_conn *x;

  WALK_LIST(x, P->ctl.conns)
    if (x == c)
      return 0;

  return 1;
}

static uint32_t
next_rand(uint32_t *x)
{
  *x ^= *x << 13;
  *x ^= *x >> 17;
  *x ^= *x << 5;
  return *x;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (!P)
    start();

  if (!size)
    return 0;

  uint32_t seed = data[0] * 0x9e3779b1u + 1;
  int whole = !data[0];
  data++, size--;

  reference(data, size);

  /* A connection, as ctl_accept() gets it from the listening socket */
  int fds[2];
  FZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0, "socketpair: %m");

  sock *sk = sk_new(P->p.pool);
  sk->type = SK_MAGIC;
  sk->fd = fds[0];
  FZ_CHECK(sk_open(sk) == 0, "sk_open");
  fcntl(fds[0], F_SETFL, 0);		/* Blocking: the reader thread takes everything */
  sk_set_rbsize(sk, CTL_RBSIZE);
  sk->data = P;
  ctl_accept(sk, 0);
  struct autopilot_ctl_conn *c = sk->data;

  struct client cl = { .fd = fds[1] };
  pthread_t th;
  FZ_CHECK(pthread_create(&th, NULL, client_read, &cl) == 0, "pthread_create");

  /* What the I/O loop does: read what fits, call the hook, run the events */
  size_t pos = 0;
  while ((pos < size) && !gone(c))
  {
    if (!sk->rx_hook)
    {
      fz_run_events();
      FZ_CHECK(gone(c) || sk->rx_hook, "connection stalled for good (stall %u)", c->stall);
      continue;
    }

    size_t room = sk->rbuf + sk->rbsize - sk->rpos;
    FZ_CHECK(room, "receive buffer full");

    size_t n = whole ? size - pos : 1 + next_rand(&seed) % ((seed & 0x100) ? 16 : 3000);
    n = MIN(n, MIN(room, size - pos));
    memcpy(sk->rpos, data + pos, n);
    sk->rpos += n;
    pos += n;

    sk->rx_hook(sk, n);
    fz_run_events();
  }

  /* The client has sent all: a half-close, as BIRD reports it (no error) */
  for (uint i = 0; !gone(c); i++)
  {
    FZ_CHECK(i < 100, "connection not closed after the end of input (stall %u)", c->stall);
    if (!c->closed && !c->stall)
      sk->err_hook(sk, 0);
    fz_run_events();
  }

  pthread_join(th, NULL);
  close(fds[1]);

  /* The replies, line by line, against the reference */
  if (getenv("FUZZ_VERBOSE"))
    fprintf(stderr, "fuzz: %u replies expected, got:\n%.*s", nwant, (int) cl.len, cl.buf);

  FZ_CHECK(!cl.len || (cl.buf[cl.len - 1] == '\n'), "last reply cut");
  uint i = 0;
  for (size_t at = 0; at < cl.len; )
  {
    byte *nl = memchr(cl.buf + at, '\n', cl.len - at);

    /*
     * No reply: a streamed line (dump, watch events: "+ JSON") or a line of
     * the metrics text (a comment or a sample), before the reply line
     */
    size_t n = nl - (cl.buf + at);
    if (((n >= 2) && !memcmp(cl.buf + at, "+ ", 2)) || ((n >= 1) && (cl.buf[at] == '#')) ||
	((n >= 15) && !memcmp(cl.buf + at, "bird_autopilot_", 15)))
    {
      at = nl + 1 - cl.buf;
      continue;
    }

    FZ_CHECK(i < nwant, "reply %u more than the %u expected: '%.*s'", i, nwant, (int) (nl - cl.buf - at), cl.buf + at);
    /* Read requests answer "ok {JSON}", as long as the facts are; other replies are short */
    const byte *r = cl.buf + at, *sp = (*r == '@') ? memchr(r, ' ', n) : NULL;
    if (sp)
      r = sp + 1;
    int json = ((size_t) (nl - r) >= 4) && !memcmp(r, "ok {", 4);
    FZ_CHECK(json || (nl - (cl.buf + at) < CTL_REPLY_MAX), "reply %u too long", i);
    FZ_CHECK(!memchr(cl.buf + at, 0, nl - (cl.buf + at)), "reply %u with a NUL byte", i);
    check_reply((char *) cl.buf + at, nl - (cl.buf + at), &want[i], i);
    at = nl + 1 - cl.buf;
    i++;
  }
  FZ_CHECK(i == nwant, "%u replies, %u expected", i, nwant);
  free(cl.buf);

  /* The next input starts from no overrides */
  autopilot_ovr_flush(P, NULL, AP_SRC_MAX);
  fz_run_events();
  FZ_CHECK(!autopilot_ovr_count(P), "%u overrides left after a flush", autopilot_ovr_count(P));
  lp_flush(tmp_linpool);
  return 0;
}
