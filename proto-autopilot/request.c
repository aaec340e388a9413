/*
 *	BIRD -- Autopilot override requests (controller protocol, state file)
 *
 *	(c) 2026 bird-autopilot developers
 *
 *	Can be freely distributed and used under the terms of the GNU GPL.
 */

/**
 * DOC: Override requests
 *
 * One line is one request, in the same words for the controller socket, a
 * file loaded with "autopilot load" and the state file:
 *
 *   [@tag] add PREFIX TARGET [expires SECONDS | expires-at UNIXTIME]
 *                            [reason "TEXT"] [source cli|controller|bgp]
 *                            [created UNIXTIME]
 *   [@tag] withdraw PREFIX
 *   [@tag] flush [TARGET]
 *   [@tag] begin | sync | commit | abort | ping | status | metrics
 *   [@tag] paths PREFIX | egresses | dump [ipv4|ipv6] [egress NAME]
 *   [@tag] watch [snapshot] | unwatch
 *
 * TARGET is an egress name or "next-best". Empty lines and lines starting
 * with '#' are no requests. The parser is strict: anything it does not know
 * is an error naming the column, and nothing of a bad line is used.
 */

#include <stdlib.h>
#include <errno.h>
#include <stdarg.h>

#include "nest/bird.h"
#include "lib/ip.h"
#include "lib/net.h"
#include "lib/string.h"

#include "request.h"

const char *autopilot_source_names[AP_SRC_MAX] = {
  [AP_SRC_CLI] = "cli",
  [AP_SRC_CONTROLLER] = "controller",
  [AP_SRC_BGP] = "bgp",
};

#define MAX_SECONDS	((u64) 10 * 366 * 86400)	/* Relative expiry: at most ten years */

/* Parser state: the line and where we are in it */
struct ap_lex {
  const char *line;			/* Start of the line, for columns */
  const char *pos;			/* Next character */
  struct autopilot_error *err;		/* Where an error goes */
};

#define LEX_ERR(lx, at, msg, args...) \
  autopilot_err((lx)->err, AUTOPILOT_ERR_PARSE, "column %d: " msg, (int) ((at) - (lx)->line) + 1, ##args)

/* Words that are no requests: an unparsable line */
#define PREFIX_ERR(err, msg, args...) autopilot_err(err, AUTOPILOT_ERR_PARSE, msg, ##args)

int
autopilot_err(struct autopilot_error *e, const char *code, const char *fmt, ...)
{
  va_list args;

  e->code = code;
  e->req = e->also = 0;
  va_start(args, fmt);
  if (bvsnprintf(e->msg, sizeof(e->msg), fmt, args) < 0)
    strcpy(e->msg + sizeof(e->msg) - 4, "...");
  va_end(args);
  return -1;
}

const char *
autopilot_err_text(const struct autopilot_error *e)
{
  /* A parse error says where in the line: the code adds nothing */
  return strcmp(e->code, AUTOPILOT_ERR_PARSE) ? tmp_sprintf("%s: %s", e->code, e->msg) : e->msg;
}

static void
lex_skip_space(struct ap_lex *lx)
{
  while ((*lx->pos == ' ') || (*lx->pos == '\t'))
    lx->pos++;
}

/* Next bare word into @buf (size @size); 0 at end of line */
static int
lex_word(struct ap_lex *lx, char *buf, uint size, const char **start)
{
  lex_skip_space(lx);
  *start = lx->pos;

  uint n = 0;
  while (*lx->pos && (*lx->pos != ' ') && (*lx->pos != '\t') && (*lx->pos != '\r') && (*lx->pos != '\n'))
  {
    byte c = *lx->pos;
    if ((c < 0x21) || (c > 0x7e))
      return LEX_ERR(lx, lx->pos, "bad byte 0x%02x", c);

    if (n + 1 >= size)
      return LEX_ERR(lx, *start, "word too long (at most %u characters)", size - 1);

    buf[n++] = c;
    lx->pos++;
  }

  buf[n] = 0;
  return n;
}

static int
lex_at_end(struct ap_lex *lx)
{
  lex_skip_space(lx);
  while ((*lx->pos == '\r') || (*lx->pos == '\n'))
    lx->pos++;
  return !*lx->pos;
}

/* A byte a quoted string may hold as it is: no control characters (a saved line must read back) */
static inline int
text_byte(byte c)
{
  return (c >= 0x20) && (c != 0x7f);
}

/* A "quoted string" with \" and \\ escapes */
static int
lex_quoted(struct ap_lex *lx, char *buf, uint size)
{
  lex_skip_space(lx);
  const char *start = lx->pos;

  if (*lx->pos != '"')
    return LEX_ERR(lx, start, "expected a quoted string");

  uint n = 0;
  for (lx->pos++; *lx->pos != '"'; lx->pos++)
  {
    byte c = *lx->pos;
    if (!c || (c == '\n') || (c == '\r'))
      return LEX_ERR(lx, start, "unterminated string");

    if (c == '\\')
    {
      c = *++lx->pos;
      if ((c != '"') && (c != '\\'))
	return LEX_ERR(lx, lx->pos, "bad escape in string (only \\\" and \\\\)");
    }
    else if (!text_byte(c))
      return LEX_ERR(lx, lx->pos, "bad byte 0x%02x in string", c);

    if (n + 1 >= size)
      return LEX_ERR(lx, start, "string too long (at most %u bytes)", size - 1);

    buf[n++] = c;
  }

  lx->pos++;
  buf[n] = 0;
  return 0;
}

static int
parse_u64(const char *s, u64 max, u64 *val)
{
  char *end;

  if ((*s < '0') || (*s > '9'))
    return -1;

  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *end || (v > max))
    return -1;

  *val = v;
  return 0;
}

int
autopilot_parse_prefix(const char *s, net_addr_ip6 *n, struct autopilot_error *err)
{
  char addr[INET6_ADDRSTRLEN + 1];
  const char *slash = strchr(s, '/');
  u64 len;

  if (!slash || (slash == s) || ((uint) (slash - s) >= sizeof(addr)))
    return PREFIX_ERR(err, "bad prefix '%s': expected ADDRESS/LENGTH", s);

  memcpy(addr, s, slash - s);
  addr[slash - s] = 0;

  ip4_addr a4;
  ip6_addr a6;
  net_addr *N = (net_addr *) n;

  if (!strchr(addr, ':') && ip4_pton(addr, &a4))
  {
    if (parse_u64(slash + 1, IP4_MAX_PREFIX_LENGTH, &len) < 0)
      return PREFIX_ERR(err, "bad prefix '%s': length must be 0..32", s);
    net_fill_ip4(N, a4, len);
  }
  else if (strchr(addr, ':') && ip6_pton(addr, &a6))
  {
    if (parse_u64(slash + 1, IP6_MAX_PREFIX_LENGTH, &len) < 0)
      return PREFIX_ERR(err, "bad prefix '%s': length must be 0..128", s);
    net_fill_ip6(N, a6, len);
  }
  else
    return PREFIX_ERR(err, "bad prefix '%s': not an IPv4 or IPv6 address", s);

  if (!net_validate(N))
    return PREFIX_ERR(err, "bad prefix '%s': host bits set", s);

  return 0;
}

static int
valid_target(const char *t)
{
  for (; *t; t++)
    if (!((*t >= 'a' && *t <= 'z') || (*t >= 'A' && *t <= 'Z') || (*t >= '0' && *t <= '9') ||
	  (*t == '_') || (*t == '-') || (*t == '.') || (*t == ':')))
      return 0;

  return 1;
}

/**
 * autopilot_request_check - a request built without parsing a line can be saved
 * @req: the request (birdc's grammar builds it)
 * @now: real time
 * @err: why not
 *
 * Everything acknowledged goes to disk as a line autopilot_request_parse()
 * must read back at the next start: birdc's grammar takes more than a line
 * can say (any quoted text, any 32-bit expiry). Returns 0 or -1.
 */
int
autopilot_request_check(const struct autopilot_request *req, btime now, struct autopilot_error *err)
{
  if (!valid_target(req->target))
    return autopilot_err(err, AUTOPILOT_ERR_PARSE, "bad egress name '%s'", req->target);

  for (const char *r = req->reason ?: ""; *r; r++)
    if (!text_byte((byte) *r))
      return autopilot_err(err, AUTOPILOT_ERR_PARSE, "bad byte 0x%02x in reason (no control characters)", (byte) *r);

  if (req->expires && (req->expires > now + (btime) MAX_SECONDS S_))
    return autopilot_err(err, AUTOPILOT_ERR_PARSE, "expires: at most %u seconds (ten years)", (uint) MAX_SECONDS);

  return 0;
}

/**
 * autopilot_request_by - who asked: the front end's to say
 * @req: a parsed request
 * @source: the front end (AP_SRC_CONTROLLER, AP_SRC_CLI)
 * @err: a line that names another source
 *
 * A line may carry "source" (state files do): from a front end it must be
 * that front end's. Sets @req's source. Returns 0 or -1.
 */
int
autopilot_request_by(struct autopilot_request *req, uint source, struct autopilot_error *err)
{
  uint said = req->source;

  req->source = source;
  if ((said != AP_SRC_MAX) && (said != source))
    return autopilot_err(err, AUTOPILOT_ERR_PARSE, "source %s: %s", autopilot_source_names[said],
			 (source == AP_SRC_CLI) ? "birdc's requests come from the CLI (source cli)" :
			 "requests on this socket come from the controller");

  return 0;
}

static const struct { const char *name; uint op; } ops[] = {
  { "add", AP_OP_ADD },
  { "withdraw", AP_OP_WITHDRAW },
  { "flush", AP_OP_FLUSH },
  { "begin", AP_OP_BEGIN },
  { "sync", AP_OP_SYNC },
  { "commit", AP_OP_COMMIT },
  { "abort", AP_OP_ABORT },
  { "ping", AP_OP_PING },
  { "status", AP_OP_STATUS },
  { "metrics", AP_OP_METRICS },
  { "paths", AP_OP_PATHS },
  { "egresses", AP_OP_EGRESSES },
  { "dump", AP_OP_DUMP },
  { "watch", AP_OP_WATCH },
  { "unwatch", AP_OP_UNWATCH },
};

static int
parse_add_options(struct ap_lex *lx, btime now, struct autopilot_request *req, struct linpool *lp)
{
  char w[32];
  const char *at;
  int n;
  u64 v;

  while ((n = lex_word(lx, w, sizeof(w), &at)) > 0)
  {
    if (!strcmp(w, "reason"))
    {
      char reason[AUTOPILOT_REASON_MAX];
      if (lex_quoted(lx, reason, sizeof(reason)) < 0)
	return -1;
      req->reason = lp_strdup(lp, reason);
      continue;
    }

    if (!strcmp(w, "expires") || !strcmp(w, "expires-at") || !strcmp(w, "created") || !strcmp(w, "source"))
    {
      char val[32];
      const char *vat;
      if (lex_word(lx, val, sizeof(val), &vat) <= 0)
	return lx->err->code ? -1 : LEX_ERR(lx, vat, "%s needs a value", w);

      if (!strcmp(w, "source"))
      {
	for (req->source = 0; req->source < AP_SRC_MAX; req->source++)
	  if (!strcmp(val, autopilot_source_names[req->source]))
	    break;
	if (req->source == AP_SRC_MAX)
	  return LEX_ERR(lx, vat, "unknown source '%s' (cli, controller, bgp)", val);
	continue;
      }

      if (parse_u64(val, !strcmp(w, "expires") ? MAX_SECONDS : (u64) 0xffffffff, &v) < 0)
	return LEX_ERR(lx, vat, "bad %s '%s': expected seconds", w, val);

      if (!strcmp(w, "expires"))
      {
	if (!v)
	  return LEX_ERR(lx, vat, "expires must be at least 1 second");
	req->expires = now + (btime) v S_;
      }
      else if (!strcmp(w, "expires-at"))
      {
	/* 0 is no expiry inside: as a time it is long past */
	if (!v)
	  return LEX_ERR(lx, vat, "expires-at 0 is in the past");
	req->expires = (btime) v S_;
      }
      else
	req->created = (btime) v S_;

      continue;
    }

    return LEX_ERR(lx, at, "unknown option '%s'", w);
  }

  return n;
}

/* dump [ipv4|ipv6] [egress NAME], each at most once, in any order */
static int
parse_dump_options(struct ap_lex *lx, struct autopilot_request *req)
{
  char w[32];
  const char *at;
  int n;

  while ((n = lex_word(lx, w, sizeof(w), &at)) > 0)
  {
    if (!strcmp(w, "ipv4") || !strcmp(w, "ipv6"))
    {
      if (req->net.type)
	return LEX_ERR(lx, at, "family given twice");
      req->net.type = !strcmp(w, "ipv4") ? NET_IP4 : NET_IP6;
      continue;
    }

    if (!strcmp(w, "egress"))
    {
      if (req->target[0])
	return LEX_ERR(lx, at, "egress given twice");
      if ((n = lex_word(lx, req->target, sizeof(req->target), &at)) <= 0)
	return (n < 0) ? -1 : LEX_ERR(lx, at, "egress name expected");
      if (!valid_target(req->target))
	return LEX_ERR(lx, at, "bad egress name '%s'", req->target);
      continue;
    }

    return LEX_ERR(lx, at, "unknown option '%s' (ipv4, ipv6, egress NAME)", w);
  }

  return n;
}

/**
 * autopilot_request_parse - parse one request line
 * @line: the line, NUL-terminated, with or without its newline
 * @now: current real time, for relative expiry
 * @req: result
 * @err: why, if it does not parse
 * @lp: linpool for the reason
 */
int
autopilot_request_parse(const char *line, btime now, struct autopilot_request *req,
			struct autopilot_error *err, struct linpool *lp)
{
  struct ap_lex lx = { .line = line, .pos = line, .err = err };
  char w[INET6_ADDRSTRLEN + 8];
  const char *at;
  int n;

  *req = (struct autopilot_request) { .op = AP_OP_NONE, .source = AP_SRC_MAX, .reason = "" };
  err->code = NULL;

  lex_skip_space(&lx);
  if ((*lx.pos == '#') || lex_at_end(&lx))
    return 0;

  if ((n = lex_word(&lx, w, sizeof(w), &at)) < 0)
    return -1;

  if (w[0] == '@')
  {
    /* n counts the '@': a tag has 1 to AUTOPILOT_TAG_MAX - 1 characters */
    if ((n < 2) || (n > AUTOPILOT_TAG_MAX) || !valid_target(w + 1))
      return LEX_ERR(&lx, at, "bad tag (1..%d letters, digits, '_', '-', '.', ':')", AUTOPILOT_TAG_MAX - 1);
    strcpy(req->tag, w + 1);

    if ((n = lex_word(&lx, w, sizeof(w), &at)) <= 0)
      return (n < 0) ? -1 : LEX_ERR(&lx, at, "request expected after tag");
  }

  for (uint i = 0; i < ARRAY_SIZE(ops); i++)
    if (!strcmp(w, ops[i].name))
      req->op = ops[i].op;

  if (req->op == AP_OP_NONE)
    return LEX_ERR(&lx, at, "unknown request '%s'", w);

  switch (req->op)
  {
  case AP_OP_DUMP:
    if (parse_dump_options(&lx, req) < 0)
      return -1;
    break;

  case AP_OP_WATCH:
    if ((n = lex_word(&lx, w, sizeof(w), &at)) < 0)
      return -1;
    if (n && strcmp(w, "snapshot"))
      return LEX_ERR(&lx, at, "unknown option '%s' (snapshot)", w);
    req->snapshot = (n > 0);
    break;

  case AP_OP_ADD:
  case AP_OP_WITHDRAW:
  case AP_OP_PATHS:
    if ((n = lex_word(&lx, w, sizeof(w), &at)) <= 0)
      return (n < 0) ? -1 : LEX_ERR(&lx, at, "prefix expected");
    if (autopilot_parse_prefix(w, &req->net, err) < 0)
      return -1;
    if (req->op != AP_OP_ADD)
      break;
    /* fall through: add needs a target */

  case AP_OP_FLUSH:
    if ((n = lex_word(&lx, req->target, sizeof(req->target), &at)) < 0)
      return -1;
    if (!n && (req->op == AP_OP_ADD))
      return LEX_ERR(&lx, at, "target egress expected");
    if (!valid_target(req->target))
      return LEX_ERR(&lx, at, "bad egress name '%s'", req->target);
    if ((req->op == AP_OP_ADD) && (parse_add_options(&lx, now, req, lp) < 0))
      return -1;
    break;
  }

  if (!lex_at_end(&lx))
    return LEX_ERR(&lx, lx.pos, "unexpected '%c'", *lx.pos);

  return 0;
}

uint
autopilot_format_quoted(const char *s, char *buf, uint size)
{
  uint n = 0;

  if (size < 3)
    return size;

  buf[n++] = '"';
  for (; *s && (n + 3 < size); s++)
  {
    if ((*s == '"') || (*s == '\\'))
      buf[n++] = '\\';
    buf[n++] = *s;
  }

  /* Did not fit: tell the caller */
  if (*s)
    return size;

  buf[n++] = '"';
  buf[n] = 0;
  return n;
}

char *
autopilot_put_uint(char *b, u64 v)
{
  char tmp[AUTOPILOT_UINT_TEXT_MAX], *end = tmp + sizeof(tmp), *s = end;

  do
    *--s = '0' + v % 10;
  while (v /= 10);

  memcpy(b, s, end - s);
  return b + (end - s);
}

char *
autopilot_put_net(char *b, const net_addr *n)
{
  switch (n->type)
  {
  case NET_IP4:
    return ip4_px_ntop(net4_prefix(n), net4_pxlen(n), b);

  case NET_IP6:
    b = ip6_ntop(net6_prefix(n), b);
    *b++ = '/';
    return autopilot_put_uint(b, net6_pxlen(n));

  default:
    return NULL;
  }
}

/*
 * A line being written: the journal writes one per change, so its words,
 * numbers and prefix are copied straight, without a format to interpret
 * (bsnprintf() was a seventh of the switch's CPU before it acknowledged a
 * batch of 100,000).
 */
struct ap_line {
  char *buf;				/* Output */
  uint len;				/* Written so far */
  uint size;				/* Size of buf */
  int over;				/* Did not fit */
};

static void
line_put(struct ap_line *l, const char *s, uint len)
{
  if (l->over || (len >= l->size - l->len))
  {
    l->over = 1;
    return;
  }

  memcpy(l->buf + l->len, s, len);
  l->len += len;
  l->buf[l->len] = 0;
}

static inline void
line_word(struct ap_line *l, const char *s)
{
  line_put(l, s, strlen(s));
}

static void
line_uint(struct ap_line *l, u64 v)
{
  char tmp[AUTOPILOT_UINT_TEXT_MAX];
  line_put(l, tmp, autopilot_put_uint(tmp, v) - tmp);
}

static void
line_net(struct ap_line *l, const net_addr *n)
{
  char tmp[AUTOPILOT_NET_TEXT_MAX], *e = autopilot_put_net(tmp, n);

  if (!e)
    bug("Autopilot: request for a prefix of type %u", n->type);

  line_put(l, tmp, e - tmp);
}

/**
 * autopilot_request_format - write @req as a line
 * @req: an add or withdraw request
 * @buf: output
 * @size: its size
 *
 * Times are written as absolute UNIX seconds, so that the line means the
 * same when read back later. Returns the length, or -1 if it does not fit.
 */
int
autopilot_request_format(const struct autopilot_request *req, char *buf, uint size)
{
  struct ap_line l = { .buf = buf, .size = size };

  line_word(&l, (req->op == AP_OP_WITHDRAW) ? "withdraw " : "add ");
  line_net(&l, (const net_addr *) &req->net);

  if (req->op == AP_OP_WITHDRAW)
    return l.over ? -1 : (int) l.len;

  line_put(&l, " ", 1);
  line_word(&l, req->target);

  if (req->expires)
  {
    line_word(&l, " expires-at ");
    line_uint(&l, (uint) (req->expires TO_S));
  }

  if (req->created)
  {
    line_word(&l, " created ");
    line_uint(&l, (uint) (req->created TO_S));
  }

  if (req->source < AP_SRC_MAX)
  {
    line_word(&l, " source ");
    line_word(&l, autopilot_source_names[req->source]);
  }

  if (req->reason && req->reason[0])
  {
    line_word(&l, " reason ");
    uint q;
    if (l.over || ((q = autopilot_format_quoted(req->reason, buf + l.len, size - l.len)) >= size - l.len))
      return -1;
    l.len += q;
  }

  return l.over ? -1 : (int) l.len;
}

/*
 * Byte by byte rather than fgets(): fgets() gives no length, so a NUL byte
 * would hide the newline after it, and the skip of a "too long" line would
 * take the next line with it.
 */
enum autopilot_line
autopilot_read_line(FILE *f, char *buf)
{
  uint n = 0;
  int c, nul = 0;

  while ((c = getc(f)) != EOF)
  {
    if (n == AUTOPILOT_LINE_MAX + 1)
    {
      /* No newline in the first AUTOPILOT_LINE_MAX + 1 bytes: skip to the next */
      while ((c != EOF) && (c != '\n'))
	c = getc(f);
      buf[n] = 0;
      return AP_LINE_LONG;
    }

    buf[n++] = c;
    nul |= !c;

    if (c == '\n')
    {
      buf[n] = 0;
      return nul ? AP_LINE_NUL : AP_LINE_OK;
    }
  }

  buf[n] = 0;
  return n ? AP_LINE_CUT : AP_LINE_EOF;
}

const char *
autopilot_line_problem(enum autopilot_line got)
{
  switch (got)
  {
  case AP_LINE_LONG:	return "line too long";
  case AP_LINE_CUT:	return "last line cut off";
  case AP_LINE_NUL:	return "bad byte 0x00 in line";
  default:		bug("Autopilot: no problem with line (%u)", got);
  }
}
