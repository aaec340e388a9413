/*
 *	bird-autopilot fuzz target -- the request parser and the line reader
 *
 *	(c) 2026 bird-autopilot developers
 *
 *	Can be freely distributed and used under the terms of the GNU GPL.
 */

/*
 * The input is a file of request lines, as the state file, the journal and
 * "autopilot load" read it: autopilot_read_line() splits it, compared with a
 * straightforward splitter of our own, and each line goes through
 * autopilot_request_parse(). Checked for every line:
 *
 *  - a line the reader calls too long is longer than AUTOPILOT_LINE_MAX, a
 *    cut line is the last one, a line with a NUL byte is reported as such,
 *    and no line is lost or merged;
 *  - an error message is a bounded string saying where ("column N") or
 *    what (a bad prefix);
 *  - an add or withdraw that parses is written back by
 *    autopilot_request_format() as a line that parses to the same request
 *    (what the state file and the journal rely on).
 */

#include <string.h>

#include "fuzz.h"

#include "lib/string.h"
#include "lib/resource.h"
#include "proto/autopilot/request.h"

#define NOW ((btime) 1700000000 * 1000000)	/* Whole seconds: relative expiry writes back exactly */

static void
check_line(const char *line, struct linpool *lp)
{
  struct autopilot_request req, again;
  struct autopilot_error e, e2;
  char buf[AUTOPILOT_LINE_MAX];

  memset(&e, 0xa5, sizeof(e));
  e.code = NULL;
  int rv = autopilot_request_parse(line, NOW, &req, &e, lp);

  if (rv < 0)
  {
    FZ_CHECK(memchr(e.msg, 0, sizeof(e.msg)), "error message not terminated");
    FZ_CHECK(e.code && !strcmp(e.code, AUTOPILOT_ERR_PARSE), "parse error with code %s", e.code ?: "(none)");
    FZ_CHECK(!strncmp(e.msg, "column ", 7) || !strncmp(e.msg, "bad prefix ", 11),
	     "error without a place: '%s' for '%s'", e.msg, line);
    return;
  }

  FZ_CHECK(rv == 0, "parse returned %d", rv);
  FZ_CHECK(!e.code, "success with an error '%s'", e.msg);
  FZ_CHECK(req.reason, "no reason string");
  FZ_CHECK(strlen(req.tag) < AUTOPILOT_TAG_MAX, "tag too long");

  if ((req.op != AP_OP_ADD) && (req.op != AP_OP_WITHDRAW))
    return;

  FZ_CHECK(net_validate((net_addr *) &req.net), "invalid prefix accepted from '%s'", line);

  int n = autopilot_request_format(&req, buf, sizeof(buf));
  FZ_CHECK((n > 0) && ((uint) n == strlen(buf)), "request of '%s' not formatted (%d)", line, n);

  rv = autopilot_request_parse(buf, NOW + 12345678, &again, &e2, lp);
  FZ_CHECK(rv == 0, "'%s' written back as '%s', which does not parse: %s", line, buf, e2.msg);
  FZ_CHECK(!strcmp(req.reason, again.reason), "reason changed: '%s' -> '%s'", line, buf);

  /* The written line has no tag; everything else is the same */
  memset(req.tag, 0, sizeof(req.tag));
  again.reason = req.reason;
  FZ_CHECK(!memcmp(&req, &again, sizeof(req)), "'%s' written back as '%s' means something else", line, buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char line[AUTOPILOT_LINE_MAX + 2];

  fz_init();

  FILE *f = fmemopen((void *) data, size, "r");
  if (!size || !f)
  {
    if (f)
      fclose(f);
    return 0;
  }

  linpool *lp = lp_new_default(&root_pool);
  size_t pos = 0;			/* Where our own splitter is */
  enum autopilot_line got;

  while ((got = autopilot_read_line(f, line)) != AP_LINE_EOF)
  {
    /* The next line by the reference: up to and with the newline, or the end */
    FZ_CHECK(pos < size, "a line after the end of the input");
    const uint8_t *nl = memchr(data + pos, '\n', size - pos);
    size_t len = nl ? (size_t) (nl - (data + pos)) + 1 : size - pos;
    enum autopilot_line want = !nl ? AP_LINE_CUT : (len > AUTOPILOT_LINE_MAX + 1) ? AP_LINE_LONG :
      memchr(data + pos, 0, len) ? AP_LINE_NUL : AP_LINE_OK;

    /* A cut line too long is reported either way */
    FZ_CHECK((got == want) || ((want == AP_LINE_CUT) && (len > AUTOPILOT_LINE_MAX) && (got == AP_LINE_LONG)),
	     "line at byte %zu (%zu bytes): read as %d, is %d", pos, len, got, want);

    if (got == AP_LINE_OK)
    {
      FZ_CHECK(!memcmp(line, data + pos, len) && !line[len], "line at byte %zu read wrong", pos);
      check_line(line, lp);
    }

    pos += len;
    lp_flush(lp);
  }

  FZ_CHECK(pos == size, "input read to byte %zu of %zu", pos, size);

  fclose(f);
  rfree(lp);
  return 0;
}
