/*
 *	bird-autopilot unit tests -- override request parser
 *
 *	(c) 2026 bird-autopilot developers
 *
 *	Can be freely distributed and used under the terms of the GNU GPL.
 */

#include "harness.h"

#include "lib/string.h"
#include "proto/autopilot/request.h"

#define NOW ((btime) 1700000000 * 1000000)

static struct autopilot_request req;
static struct autopilot_error err;

static void
parses(const char *line)
{
  if (autopilot_request_parse(line, NOW, &req, &err, tmp_linpool) < 0)
    fail_msg("'%s' should parse, got: %s", line, err.msg);
}

static void
fails(const char *line, const char *msg)
{
  if (autopilot_request_parse(line, NOW, &req, &err, tmp_linpool) == 0)
    fail_msg("'%s' should fail with '%s'", line, msg);
  assert_string_equal(err.code, AUTOPILOT_ERR_PARSE);
  if (!strstr(err.msg, msg))
    fail_msg("'%s': expected '%s', got '%s'", line, msg, err.msg);
}

static void
add_with_every_option(void **state UNUSED)
{
  parses("@r17 add 203.0.113.0/24 transit_b expires 300 reason \"link \\\"A\\\" hot\" source controller\n");
  assert_int_equal(req.op, AP_OP_ADD);
  assert_string_equal(req.tag, "r17");
  assert_string_equal(req.target, "transit_b");
  assert_true(req.expires == NOW + (btime) 300 * 1000000);
  assert_string_equal(req.reason, "link \"A\" hot");
  assert_int_equal(req.source, AP_SRC_CONTROLLER);

  char buf[64];
  bsnprintf(buf, sizeof(buf), "%N", &req.net);
  assert_string_equal(buf, "203.0.113.0/24");
}

static void
add_ipv6_next_best_minimal(void **state UNUSED)
{
  parses("add 2001:db8:100::/48 next-best");
  assert_int_equal(req.net.type, NET_IP6);
  assert_int_equal(req.net.pxlen, 48);
  assert_string_equal(req.target, AUTOPILOT_NEXT_BEST);
  assert_true(req.expires == 0);
  assert_int_equal(req.source, AP_SRC_MAX);
  assert_string_equal(req.reason, "");
  assert_string_equal(req.tag, "");
}

static void
other_requests(void **state UNUSED)
{
  parses("withdraw 10.0.0.0/8");
  assert_int_equal(req.op, AP_OP_WITHDRAW);
  parses("flush");
  assert_int_equal(req.op, AP_OP_FLUSH);
  assert_string_equal(req.target, "");
  parses("flush t1");
  assert_string_equal(req.target, "t1");
  parses("  begin  ");
  assert_int_equal(req.op, AP_OP_BEGIN);
  parses("sync\r\n");
  assert_int_equal(req.op, AP_OP_SYNC);
  parses("@x commit");
  assert_int_equal(req.op, AP_OP_COMMIT);
  parses("abort");
  parses("ping");
  parses("status");
  assert_int_equal(req.op, AP_OP_STATUS);
  parses("");
  assert_int_equal(req.op, AP_OP_NONE);
  parses("# a comment");
  assert_int_equal(req.op, AP_OP_NONE);
}

/* Read requests of the controller socket (observe.c) */
static void
read_requests(void **state UNUSED)
{
  parses("paths 203.0.113.0/24");
  assert_int_equal(req.op, AP_OP_PATHS);
  assert_int_equal(req.net.type, NET_IP4);
  assert_int_equal(req.net.pxlen, 24);
  parses("@q paths 2001:db8::/32");
  assert_int_equal(req.net.type, NET_IP6);
  assert_string_equal(req.tag, "q");
  parses("egresses");
  assert_int_equal(req.op, AP_OP_EGRESSES);

  parses("dump");
  assert_int_equal(req.op, AP_OP_DUMP);
  assert_int_equal(req.net.type, 0);
  assert_string_equal(req.target, "");
  parses("dump ipv6 egress t1");
  assert_int_equal(req.net.type, NET_IP6);
  assert_string_equal(req.target, "t1");
  parses("watch");
  assert_int_equal(req.op, AP_OP_WATCH);
  assert_int_equal(req.snapshot, 0);
  parses("@w watch snapshot");
  assert_int_equal(req.op, AP_OP_WATCH);
  assert_int_equal(req.snapshot, 1);
  assert_string_equal(req.tag, "w");
  parses("unwatch");
  assert_int_equal(req.op, AP_OP_UNWATCH);
  parses("dump egress 192.0.2.7 ipv4");
  assert_int_equal(req.net.type, NET_IP4);
  assert_string_equal(req.target, "192.0.2.7");

  fails("paths", "column 6: prefix expected");
  fails("paths 10.0.0.1/8", "host bits set");
  fails("paths 10.0.0.0/8 t1", "unexpected 't'");
  fails("egresses t1", "unexpected 't'");
  fails("dump ipv4 ipv6", "column 11: family given twice");
  fails("dump egress", "egress name expected");
  fails("dump egress a egress b", "egress given twice");
  fails("watch everything", "column 7: unknown option 'everything' (snapshot)");
  fails("watch snapshot now", "column 16: unexpected 'n'");
  fails("unwatch all", "column 9: unexpected 'a'");
  fails("dump egress a/b", "bad egress name 'a/b'");
  fails("dump all", "unknown option 'all' (ipv4, ipv6, egress NAME)");
}

static void
absolute_times_round_trip(void **state UNUSED)
{
  struct autopilot_request again;
  char line[1024];

  parses("add 198.51.100.128/25 10.0.3.2 expires-at 1800000000 created 1700000001 source bgp reason \"a\\\\b\"");
  assert_true(req.expires == (btime) 1800000000 * 1000000);
  assert_true(req.created == (btime) 1700000001 * 1000000);

  assert_true(autopilot_request_format(&req, line, sizeof(line)) > 0);
  assert_int_equal(autopilot_request_parse(line, NOW, &again, &err, tmp_linpool), 0);
  assert_string_equal(again.reason, req.reason);
  again.reason = req.reason;
  assert_memory_equal(&req, &again, sizeof(req));

  /* Too small a buffer is an error, not a truncated line */
  assert_int_equal(autopilot_request_format(&req, line, 40), -1);
}

/*
 * The journal's and the state file's lines, written without a format:
 * the same text as the request read, byte for byte, and -1 for every
 * buffer too small to hold it with its NUL
 */
static void
formatted_lines_are_exact(void **state UNUSED)
{
  static const char *lines[] = {
    "withdraw 10.0.0.0/8",
    "withdraw 2001:db8::/32",
    "add 0.0.0.0/0 t1",
    "add ::/0 next-best",
    "add 255.255.255.255/32 transit_a",
    "add 2001:db8:0:1::/64 t1 source controller",
    "add 198.51.100.128/25 10.0.3.2 expires-at 1800000000 created 1700000001 source bgp reason \"a\\\\b \\\"q\\\"\"",
    "add 2001:db8::/48 t2 expires-at 4294967295",
  };
  char line[AUTOPILOT_LINE_MAX];

  for (uint i = 0; i < ARRAY_SIZE(lines); i++)
  {
    parses(lines[i]);
    int n = autopilot_request_format(&req, line, sizeof(line));
    if (strcmp(line, lines[i]))
      fail_msg("wrote '%s' for '%s'", line, lines[i]);
    assert_int_equal(n, strlen(lines[i]));

    for (uint size = 0; size <= (uint) n; size++)
      assert_int_equal(autopilot_request_format(&req, line, size), -1);
    assert_int_equal(autopilot_request_format(&req, line, n + 1), n);
    assert_string_equal(line, lines[i]);
  }
}

static void
bad_prefixes(void **state UNUSED)
{
  fails("add 10.0.0.1/8 t1", "bad prefix '10.0.0.1/8': host bits set");
  fails("add 10.0.0.0/33 t1", "length must be 0..32");
  fails("add 2001:db8::/129 t1", "length must be 0..128");
  fails("add 10.0.0.0 t1", "expected ADDRESS/LENGTH");
  fails("add 10.0.0.256/24 t1", "not an IPv4 or IPv6 address");
  fails("add 10.0.0.0/-1 t1", "length must be 0..32");
  fails("add 10.0.0.0/2x t1", "length must be 0..32");
  fails("withdraw /24", "expected ADDRESS/LENGTH");
  fails("add", "prefix expected");
}

static void
bad_words(void **state UNUSED)
{
  fails("frobnicate 10.0.0.0/8", "column 1: unknown request 'frobnicate'");
  fails("add 10.0.0.0/8", "target egress expected");
  fails("add 10.0.0.0/8 t1 colour blue", "column 19: unknown option 'colour'");
  fails("add 10.0.0.0/8 t/1", "bad egress name 't/1'");
  fails("add 10.0.0.0/8 t1 expires", "expires needs a value");
  fails("add 10.0.0.0/8 t1 expires 0", "expires must be at least 1 second");
  fails("add 10.0.0.0/8 t1 expires -5", "bad expires '-5'");
  fails("add 10.0.0.0/8 t1 expires 999999999999", "bad expires");
  fails("add 10.0.0.0/8 t1 expires-at 0", "expires-at 0 is in the past");	/* Not "never" */
  fails("add 10.0.0.0/8 t1 source martian", "unknown source 'martian'");
  fails("add 10.0.0.0/8 t1 reason unquoted", "expected a quoted string");
  fails("add 10.0.0.0/8 t1 reason \"open", "unterminated string");
  fails("add 10.0.0.0/8 t1 reason \"a\\nb\"", "bad escape");
  fails("withdraw 10.0.0.0/8 extra", "unexpected 'e'");
  fails("ping pong", "unexpected 'p'");
  fails("@ ping", "bad tag");
  fails("@bad/tag ping", "bad tag");
  fails("@lonely", "request expected after tag");

  /* Tags of 1 to 32 characters, as documented */
  parses("@a ping");
  assert_string_equal(req.tag, "a");
  parses("@abcdefghijklmnopqrstuvwxyz012345 ping");
  assert_string_equal(req.tag, "abcdefghijklmnopqrstuvwxyz012345");
  fails("@abcdefghijklmnopqrstuvwxyz0123456 ping", "bad tag (1..32 letters");
}

static void
garbage_bytes(void **state UNUSED)
{
  fails("\x01\x02\x03", "column 1: bad byte 0x01");
  fails("add 10.0.0.0/8 t\xff", "bad byte 0xff");
  fails("add 10.0.0.0/8 t1 reason \"x\x7f\"", "bad byte 0x7f in string");

  char longname[200];
  memset(longname, 'a', sizeof(longname) - 1);
  longname[sizeof(longname) - 1] = 0;
  fails(tmp_sprintf("add 10.0.0.0/8 %s", longname), "word too long");

  char longreason[400];
  memset(longreason, 'r', sizeof(longreason) - 1);
  longreason[sizeof(longreason) - 1] = 0;
  fails(tmp_sprintf("add 10.0.0.0/8 t1 reason \"%s\"", longreason), "string too long");
}

/* The line reader of the state file, journal and load: every line seen once, as it is */
static void
line_reader(void **state UNUSED)
{
  static const char text[] = "ping\nab\0cd expires 5\nstatus\n";
  char buf[AUTOPILOT_LINE_MAX + 2];

  FILE *f = fmemopen((void *) text, sizeof(text) - 1, "r");
  assert_int_equal(autopilot_read_line(f, buf), AP_LINE_OK);
  assert_string_equal(buf, "ping\n");
  /* A NUL byte would hide the rest of the line from the parser (and, with fgets, the newline) */
  assert_int_equal(autopilot_read_line(f, buf), AP_LINE_NUL);
  assert_string_equal(autopilot_line_problem(AP_LINE_NUL), "bad byte 0x00 in line");
  assert_int_equal(autopilot_read_line(f, buf), AP_LINE_OK);
  assert_string_equal(buf, "status\n");
  assert_int_equal(autopilot_read_line(f, buf), AP_LINE_EOF);
  fclose(f);

  /* Longest line, one byte more, then a cut one: the next line is never eaten */
  char big[3 * AUTOPILOT_LINE_MAX];
  int n = 0;
  memset(big, 'x', AUTOPILOT_LINE_MAX);
  n += AUTOPILOT_LINE_MAX;
  big[n++] = '\n';
  memset(big + n, 'y', AUTOPILOT_LINE_MAX + 1);
  n += AUTOPILOT_LINE_MAX + 1;
  big[n++] = '\n';
  n += bsprintf(big + n, "ping\nabort");

  f = fmemopen(big, n, "r");
  assert_int_equal(autopilot_read_line(f, buf), AP_LINE_OK);
  assert_int_equal(strlen(buf), AUTOPILOT_LINE_MAX + 1);
  assert_int_equal(autopilot_read_line(f, buf), AP_LINE_LONG);
  assert_int_equal(autopilot_read_line(f, buf), AP_LINE_OK);
  assert_string_equal(buf, "ping\n");
  assert_int_equal(autopilot_read_line(f, buf), AP_LINE_CUT);
  assert_int_equal(autopilot_read_line(f, buf), AP_LINE_EOF);
  fclose(f);
}

/*
 * What birdc's grammar builds without a line: what it acknowledges must
 * read back from the state file at the next start, and be the CLI's
 */
static void
built_requests_read_back(void **state UNUSED)
{
  struct autopilot_request r = { .op = AP_OP_ADD, .source = AP_SRC_CLI, .reason = "hot link" };
  char line[AUTOPILOT_LINE_MAX];

  net_copy((net_addr *) &r.net, (net_addr *) &NET_ADDR_IP4(ip4_build(10, 2, 0, 0), 16));  /* 192 << 24 overflows an int */
  strcpy(r.target, "transit_a");
  r.expires = NOW + (btime) 3600 * 1000000;
  assert_int_equal(autopilot_request_check(&r, NOW, &err), 0);
  assert_true(autopilot_request_format(&r, line, sizeof(line)) > 0);
  parses(line);
  assert_string_equal(req.reason, "hot link");

  r.reason = "tab\there";
  assert_int_equal(autopilot_request_check(&r, NOW, &err), -1);
  assert_non_null(strstr(err.msg, "bad byte 0x09 in reason"));

  r.reason = "";
  strcpy(r.target, "two words");
  assert_int_equal(autopilot_request_check(&r, NOW, &err), -1);
  assert_non_null(strstr(err.msg, "bad egress name 'two words'"));

  /* birdc's expires is any 32-bit number: past ten years it would not fit a saved time */
  strcpy(r.target, "next-best");
  r.expires = NOW + (btime) 4294967295U * 1000000;
  assert_int_equal(autopilot_request_check(&r, NOW, &err), -1);
  assert_non_null(strstr(err.msg, "expires: at most"));
  r.expires = NOW + (btime) 10 * 366 * 86400 * 1000000;
  assert_int_equal(autopilot_request_check(&r, NOW, &err), 0);

  /* A front end's lines are its own: a copied state file says "source" */
  parses("add 192.0.2.0/24 t1 source bgp");
  assert_int_equal(autopilot_request_by(&req, AP_SRC_CLI, &err), -1);
  assert_non_null(strstr(err.msg, "source bgp: birdc's requests come from the CLI"));
  parses("add 192.0.2.0/24 t1 source cli");
  assert_int_equal(autopilot_request_by(&req, AP_SRC_CLI, &err), 0);
  parses("add 192.0.2.0/24 t1");
  assert_int_equal(autopilot_request_by(&req, AP_SRC_CONTROLLER, &err), 0);
  assert_int_equal(req.source, AP_SRC_CONTROLLER);
}

int
main(void)
{
  ap_bird_init();

  const struct CMUnitTest tests[] = {
    cmocka_unit_test(add_with_every_option),
    cmocka_unit_test(add_ipv6_next_best_minimal),
    cmocka_unit_test(other_requests),
    cmocka_unit_test(read_requests),
    cmocka_unit_test(absolute_times_round_trip),
    cmocka_unit_test(formatted_lines_are_exact),
    cmocka_unit_test(bad_prefixes),
    cmocka_unit_test(bad_words),
    cmocka_unit_test(garbage_bytes),
    cmocka_unit_test(line_reader),
    cmocka_unit_test(built_requests_read_back),
  };

  return cmocka_run_group_tests_name("request parser", tests, NULL, NULL);
}
