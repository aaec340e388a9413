/*
 *	BIRD -- Autopilot override requests (controller protocol, state file)
 *
 *	(c) 2026 bird-autopilot developers
 *
 *	Can be freely distributed and used under the terms of the GNU GPL.
 */

#ifndef _BIRD_AUTOPILOT_REQUEST_H_
#define _BIRD_AUTOPILOT_REQUEST_H_

#include <stdio.h>

#include "nest/bird.h"
#include "lib/net.h"

#define AUTOPILOT_NEXT_BEST	"next-best"	/* Target: best path of another egress */
#define AUTOPILOT_TARGET_MAX	64		/* Longest egress name, with the NUL */
#define AUTOPILOT_REASON_MAX	256		/* Longest reason, with the NUL */
#define AUTOPILOT_TAG_MAX	33		/* Longest request tag, with the NUL */

enum autopilot_op {
  AP_OP_NONE,				/* Empty line or comment */
  AP_OP_ADD,				/* add PREFIX TARGET [options] */
  AP_OP_WITHDRAW,			/* withdraw PREFIX */
  AP_OP_FLUSH,				/* flush [TARGET] */
  AP_OP_BEGIN,				/* begin: start an all-or-nothing batch */
  AP_OP_SYNC,				/* sync: start a batch that replaces the whole set */
  AP_OP_COMMIT,				/* commit: apply the batch */
  AP_OP_ABORT,				/* abort: drop the batch */
  AP_OP_PING,				/* ping: liveness */
  AP_OP_STATUS,				/* status: counts */
  /* Read requests, controller socket only (observe.c) */
  AP_OP_PATHS,				/* paths PREFIX: every path of a prefix */
  AP_OP_EGRESSES,			/* egresses: the egress map and its state */
  AP_OP_DUMP,				/* dump [ipv4|ipv6] [egress NAME]: every path, streamed */
  AP_OP_METRICS,			/* metrics: Prometheus text, then the reply */
  AP_OP_WATCH,				/* watch [snapshot]: subscribe to changes (observe.c) */
  AP_OP_UNWATCH,			/* unwatch: end the subscription */
};

enum autopilot_source {
  AP_SRC_CLI,				/* birdc */
  AP_SRC_CONTROLLER,			/* the controller socket */
  AP_SRC_BGP,				/* a routing manager's BGP session */
  AP_SRC_MAX,
};

extern const char *autopilot_source_names[AP_SRC_MAX];

struct autopilot_request {
  uint op;				/* enum autopilot_op */
  net_addr_ip6 net;			/* Prefix (IPv4 or IPv6) for add, withdraw, paths; dump: only net.type, the family (0: both) */
  char target[AUTOPILOT_TARGET_MAX];	/* Egress name or AUTOPILOT_NEXT_BEST; flush, dump: "" for all */
  btime expires;			/* Real time of expiry, 0 for never */
  btime created;			/* Real time of creation, 0 for now (state file sets it) */
  uint source;				/* enum autopilot_source, AP_SRC_MAX if not given */
  const char *reason;			/* Free text, "" for none; in the parser's linpool */
  char tag[AUTOPILOT_TAG_MAX];		/* Client's tag (@tag), echoed in the reply */
  u8 snapshot;				/* watch: stream the current paths first */
};

/*
 * Why a request was refused: a code word of the controller protocol (see
 * docs/controller-protocol.md) and a message for people. It goes from the
 * layer that finds the problem to the front end unchanged; only the front
 * ends format it ("error CODE MESSAGE" on the socket, "CODE: MESSAGE" in
 * birdc, the message alone in a log line that names the file and line).
 */
#define AUTOPILOT_ERR_MAX	160
struct autopilot_error {
  const char *code;			/* Static code word ("unknown-egress"), NULL for no error */
  uint req;				/* In a batch: the request at fault, from 1; 0 for the whole batch */
  uint also;				/* ... and the other request for the same prefix, 0 if none */
  char msg[AUTOPILOT_ERR_MAX];		/* The message, without the code */
};

#define AUTOPILOT_ERR_PARSE	"bad-request"	/* The code of a line that does not parse */

/* Fill @e (request numbers cleared); returns -1, for "return autopilot_err(...)" */
int autopilot_err(struct autopilot_error *e, const char *code, const char *fmt, ...);

/* @e as birdc and the log say it: "code: message", a parse error's message alone */
const char *autopilot_err_text(const struct autopilot_error *e);

/*
 * Parse one line. @now is the real time used for relative expiry. Returns 0
 * and fills @req, or -1 with @err filled (code "bad-request"); the tag is
 * filled as soon as it is parsed, so that an error reply can carry it. A
 * reason is copied into @lp: requests of a batch of a million are kept
 * until it is applied, and most have none.
 */
int autopilot_request_parse(const char *line, btime now, struct autopilot_request *req,
			    struct autopilot_error *err, struct linpool *lp);

int autopilot_request_check(const struct autopilot_request *req, btime now, struct autopilot_error *err);
int autopilot_request_by(struct autopilot_request *req, uint source, struct autopilot_error *err);

/* Format @req as a line that autopilot_request_parse() reads back (no newline) */
int autopilot_request_format(const struct autopilot_request *req, char *buf, uint size);

/*
 * Read one line of request words from @f into @buf (AUTOPILOT_LINE_MAX + 2
 * bytes, the newline kept). A line too long has its rest skipped; a last
 * line without its newline (a cut file) is not a line; nor is one with a
 * NUL byte (the parser would see only what comes before it): all are
 * reported, never parsed. autopilot_line_problem() says what is wrong.
 */
#define AUTOPILOT_LINE_MAX	1024		/* Longest line of a state file, journal or load file */
enum autopilot_line { AP_LINE_EOF, AP_LINE_OK, AP_LINE_LONG, AP_LINE_CUT, AP_LINE_NUL };
enum autopilot_line autopilot_read_line(FILE *f, char *buf);
const char *autopilot_line_problem(enum autopilot_line got);

/*
 * Write @s in double quotes into @buf, '"' and '\\' escaped, as the parser
 * reads it back; returns the length, or @size or more if it did not fit.
 */
uint autopilot_format_quoted(const char *s, char *buf, uint size);

/*
 * Numbers and prefixes as %u and %N print them, written straight (the
 * journal's lines and a dump's items are mostly these): each returns the
 * end of what it wrote, not terminated; autopilot_put_net() returns NULL
 * for a prefix that is not IPv4 or IPv6.
 */
#define AUTOPILOT_UINT_TEXT_MAX	20			/* autopilot_put_uint()'s longest */
#define AUTOPILOT_NET_TEXT_MAX	(IP6_MAX_TEXT_LENGTH + 8)	/* Room autopilot_put_net() needs */
char *autopilot_put_uint(char *b, u64 v);
char *autopilot_put_net(char *b, const net_addr *n);

/* Parse a prefix "a.b.c.d/len" or "x:y::/len" with no host bits set */
int autopilot_parse_prefix(const char *s, net_addr_ip6 *n, struct autopilot_error *err);

#endif
