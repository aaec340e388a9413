/*
 *	bird-autopilot unit tests -- the controller socket
 *
 *	(c) 2026 bird-autopilot developers
 *
 *	Can be freely distributed and used under the terms of the GNU GPL.
 */

/*
 * The protocol runs in process with its real listening socket; a test is a
 * client on a real UNIX socket. BIRD's I/O loop does not run here: pump()
 * does what it would do, calling BIRD's own sk_read(), sk_write() and
 * sk_err() on the sockets poll() says are ready, and running events.
 */

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "harness.h"

#include "lib/event.h"
#include "lib/socket.h"
#include "lib/string.h"
#include "proto/autopilot/autopilot.h"
#include "proto/autopilot/conn.h"

/* sysdep/unix/io.c: what the I/O loop calls (declared for BFD's own loop) */
int sk_read(sock *s, int revents);
int sk_write(sock *s);
void sk_err(sock *s, int revents);

static char dir[64];			/* Per-run directory of the sockets */
static char path[128];			/* The controller socket */
static struct autopilot_proto *p;	/* The running protocol */

#define EGRESSES AP_EGRESSES

/* Start protocol ap with @opts (more lines for its body) */
#define start(opts) (p = ap_start(EGRESSES, (opts)))

/* A config of protocol ap with @opts */
#define conf(opts) ap_conf(EGRESSES, (opts))

static struct autopilot_proto *
start_default(void)
{
  start(tmp_sprintf("  controller socket \"%s\";\n", path));
  assert_non_null(p->ctl.sk);
  return p;
}

static int
conn_count(void)
{
  struct autopilot_ctl_conn *c;
  int n = 0;

  WALK_LIST(c, p->ctl.conns)
    n++;

  return n;
}

static struct autopilot_ctl_conn *
conn(void)
{
  assert_int_equal(conn_count(), 1);
  return HEAD(p->ctl.conns);
}

/* One round of what io_loop() does for our sockets, then events; 0 if idle */
static int
pump_once(void)
{
  struct autopilot_ctl_conn *c;
  int progress = 0;

  /* (Not polled while paused: as io_loop(), which polls only sockets with an rx_hook) */
  if (p->ctl.sk && p->ctl.sk->rx_hook)
  {
    struct pollfd pl = { .fd = p->ctl.sk->fd, .events = POLLIN };
    if ((poll(&pl, 1, 0) > 0) && (pl.revents & POLLIN))
    {
      sk_read(p->ctl.sk, pl.revents);
      progress = 1;
    }
  }

  WALK_LIST(c, p->ctl.conns)
  {
    sock *sk = c->sk;
    struct pollfd pf = { .fd = sk->fd };

    if (c->closed)
      continue;
    if (sk->rx_hook)
      pf.events |= POLLIN;
    if (sk->tx_hook && (sk->ttx != sk->tpos))
      pf.events |= POLLOUT;
    if (!pf.events || (poll(&pf, 1, 0) <= 0))
      continue;

    if ((pf.revents & POLLIN) && sk->rx_hook)
    {
      sk_read(sk, pf.revents);
      progress = 1;
    }
    if (!c->closed && (pf.revents & POLLOUT))
    {
      sk_write(sk);
      progress = 1;
    }
    if (!c->closed && (pf.revents & (POLLHUP | POLLERR)))
    {
      sk_err(sk, pf.revents);
      progress = 1;
    }
  }

  if (!EMPTY_LIST(global_event_list) || !EMPTY_LIST(global_work_list))
  {
    ap_run_events();
    progress = 1;
  }

  return progress;
}

static void
pump(void)
{
  for (int i = 0; (i < 10000) && pump_once(); i++)
    ;
}

/* Connect without waiting for BIRD to accept */
static int
client_nowait(void)
{
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);

  strcpy(sa.sun_path, path);
  assert_true(fd >= 0);
  if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
    fail_msg("connect %s: %s", path, strerror(errno));
  return fd;
}

/* Connect, and let BIRD accept */
static int
client(void)
{
  int fd = client_nowait();
  pump();
  return fd;
}

static void
send_bytes(int fd, const void *data, size_t len)
{
  while (len)
  {
    ssize_t n = write(fd, data, len);
    if (n < 0)
      fail_msg("write: %s", strerror(errno));
    data = (const char *) data + n;
    len -= n;
  }
}

static void
send_str(int fd, const char *s)
{
  send_bytes(fd, s, strlen(s));
}

/* Everything the server has answered so far */
static char *
recv_all(int fd)
{
  static char buf[1 << 16];
  size_t len = 0;
  ssize_t n;

  while ((len < sizeof(buf) - 1) && ((n = recv(fd, buf + len, sizeof(buf) - 1 - len, MSG_DONTWAIT)) > 0))
    len += n;

  buf[len] = 0;
  return buf;
}

/* Exactly @len bytes of replies, reading and letting BIRD work in turns */
static char *
recv_n(int fd, size_t len)
{
  char *buf = xmalloc(len + 1);
  size_t have = 0;

  for (int i = 0; (i < 100000) && (have < len); i++)
  {
    ssize_t n = recv(fd, buf + have, len - have, MSG_DONTWAIT);
    if (n > 0)
      have += n;
    pump();
  }

  assert_int_equal(have, len);
  assert_int_equal(recv(fd, buf, 1, MSG_DONTWAIT), -1);
  buf[len] = 0;
  return buf;
}

/* Send @in, let BIRD work, expect exactly @out back */
static void
exchange(int fd, const char *in, const char *out)
{
  send_str(fd, in);
  pump();
  assert_string_equal(recv_all(fd), out);
}

static struct autopilot_override *
find(const char *prefix)
{
  net_addr_ip6 n;
  struct autopilot_error err;

  assert_int_equal(autopilot_parse_prefix(prefix, &n, &err), 0);
  return autopilot_ovr_find(p, (net_addr *) &n);
}

static int
setup(void **state UNUSED)
{
  ap_mkdir(dir, sizeof(dir), "ctl-test");
  bsnprintf(path, sizeof(path), "%s/ap.ctl", dir);
  return 0;
}

static int
teardown(void **state UNUSED)
{
  /* Stops the protocol: connections closed, socket unlinked */
  ap_configure(EGRESSES);
  p = NULL;
  assert_int_equal(access(path, F_OK), -1);
  ap_rmdir(dir);
  return 0;
}

#define STATUS(n, a, pe) "ok overrides " #n " active " #a " pending " #pe " shadow 0\n"


static void
ping_status_and_tags(void **state UNUSED)
{
  start_default();
  int fd = client();

  exchange(fd, "ping\n@t-1 ping\nstatus\n@x.y:z status\n",
	   "ok pong\n@t-1 ok pong\n" STATUS(0, 0, 0) "@x.y:z " STATUS(0, 0, 0));

  /* Blank and comment lines are no requests: no reply */
  exchange(fd, "\n   \n# comment\nping\n", "ok pong\n");
  close(fd);
}

static void
add_withdraw_flush_with_error_codes(void **state UNUSED)
{
  start_default();
  int fd = client();

  exchange(fd, "add 10.0.0.0/8 t1\n@a add 2001:db8::/32 t2 expires 600 reason \"hot \\\"link\\\"\"\n",
	   "ok\n@a ok\n");
  assert_int_equal(autopilot_ovr_count(p), 2);

  struct autopilot_override *o = find("2001:db8::/32");
  assert_non_null(o);
  assert_string_equal(o->target, "t2");
  assert_string_equal(o->reason, "hot \"link\"");
  assert_int_equal(o->source, AP_SRC_CONTROLLER);
  assert_int_equal(find("10.0.0.0/8")->source, AP_SRC_CONTROLLER);

  /* Each refusal with its code, and nothing changes */
  exchange(fd,
	   "add 10.0.0.1/8 t1\n"
	   "add 10.1.0.0/16 nosuch\n"
	   "add 10.1.0.0/16 t1 expires-at 1\n"
	   "withdraw 192.0.2.0/24\n"
	   "@s add 10.1.0.0/16 t1 source bgp\n"
	   "frobnicate\n"
	   "commit\n",
	   "error bad-request bad prefix '10.0.0.1/8': host bits set\n"
	   "error unknown-egress no egress 'nosuch' in protocol ap\n"
	   "error expired expiry time is in the past\n"
	   "error not-found no override for 192.0.2.0/24\n"
	   "@s error bad-request source bgp: requests on this socket come from the controller\n"
	   "error bad-request column 1: unknown request 'frobnicate'\n"
	   "error no-batch commit without begin or sync\n");
  assert_int_equal(autopilot_ovr_count(p), 2);

  /* Replacing keeps one override; withdraw and flush */
  exchange(fd, "add 10.0.0.0/8 t2 source controller\nwithdraw 2001:db8::/32\n", "ok\nok\n");
  assert_int_equal(autopilot_ovr_count(p), 1);
  assert_string_equal(find("10.0.0.0/8")->target, "t2");
  assert_null(find("2001:db8::/32"));

  exchange(fd, "add 10.2.0.0/16 t1\nadd 10.3.0.0/16 next-best\nflush t1\n", "ok\nok\nok 1\n");
  exchange(fd, "flush\nstatus\n", "ok 2\n" STATUS(0, 0, 0));
  close(fd);
}

static void
over_the_limit(void **state UNUSED)
{
  start(tmp_sprintf("  max overrides 2;\n  controller socket \"%s\";\n", path));
  int fd = client();

  exchange(fd, "add 10.1.0.0/16 t1\nadd 10.2.0.0/16 t1\nadd 10.3.0.0/16 t1\nadd 10.2.0.0/16 t2\n",
	   "ok\nok\nerror over-limit 2 overrides, the limit is 2\nok\n");
  assert_int_equal(autopilot_ovr_count(p), 2);
  assert_null(find("10.3.0.0/16"));

  /* A sync of more than the limit is refused whole */
  exchange(fd, "sync\nadd 10.1.0.0/16 t1\nadd 10.4.0.0/16 t1\nadd 10.5.0.0/16 t1\ncommit\n",
	   "error over-limit 3 overrides, the limit is 2\n");
  assert_non_null(find("10.2.0.0/16"));

  /* At the limit, a sync is checked like any batch (an expiry in the past too) */
  exchange(fd, "sync\nadd 10.1.0.0/16 t1\nadd 10.6.0.0/16 t1 expires-at 1\ncommit\n",
	   "error batch line 2: expired: expiry time is in the past\n");
  assert_non_null(find("10.2.0.0/16"));
  assert_null(find("10.6.0.0/16"));
  exchange(fd, "sync\nadd 10.1.0.0/16 t1\nadd 10.6.0.0/16 t1\ncommit\n", "ok 2\n");
  assert_null(find("10.2.0.0/16"));
  assert_non_null(find("10.6.0.0/16"));
  close(fd);
}

/* Everything until the server closes: its last words */
static char *
recv_to_eof(int fd)
{
  static char buf[256];
  size_t len = 0;
  ssize_t n;

  for (int i = 0; i < 1000; i++)
  {
    pump();
    n = recv(fd, buf + len, sizeof(buf) - 1 - len, MSG_DONTWAIT);
    if (n == 0)
      break;
    if (n > 0)
      len += n;
  }
  assert_int_equal(recv(fd, buf, 1, MSG_DONTWAIT), 0);
  buf[len] = 0;
  return buf;
}

static void
connections_over_the_limit_are_told_and_closed(void **state UNUSED)
{
  start(tmp_sprintf("  controller socket \"%s\" connections 2;\n", path));
  int a = client(), b = client(), c = client();

  /* The third: why, then closed; the others work on */
  assert_string_equal(recv_to_eof(c), "error over-limit 2 connections open, the limit is 2\n");
  close(c);
  assert_int_equal(conn_count(), 2);
  assert_int_equal(p->ctl.refused, 1);
  exchange(a, "ping\n", "ok pong\n");
  exchange(b, "add 10.1.0.0/16 t1\n", "ok\n");

  /* One gone, room for one more */
  close(a);
  pump();
  int d = client();
  exchange(d, "ping\n", "ok pong\n");
  assert_int_equal(conn_count(), 2);

  /* A higher limit by configure: no restart, the connections stay */
  struct proto *before = &p->p;
  start(tmp_sprintf("  controller socket \"%s\" connections 3;\n", path));
  assert_ptr_equal(&p->p, before);
  int e = client();
  exchange(e, "ping\n", "ok pong\n");
  exchange(b, "ping\n", "ok pong\n");
  assert_int_equal(conn_count(), 3);
  assert_int_equal(autopilot_ovr_count(p), 1);
  close(b); close(d); close(e);
}

/*
 * Out of descriptors, accept() fails and the connection stays queued: the
 * socket stops being polled (else the loop spins) and accepts again later.
 */
static void
out_of_descriptors_pauses_accepting(void **state UNUSED)
{
  start_default();
  int a = client();
  struct rlimit old, low;

  assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
  int b = client_nowait();

  /* No descriptor left: the limit at the lowest free one, the holes below it filled */
  int fill[64], nfill = 0, top = dup(0);
  close(top);
  low = old;
  low.rlim_cur = top;
  assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
  while ((nfill < 64) && ((fill[nfill] = dup(0)) >= 0))
    nfill++;
  assert_int_equal(errno, EMFILE);

  pump();
  assert_null(p->ctl.sk->rx_hook);
  assert_true(tm_active(p->ctl.accept_timer));
  assert_int_equal(p->ctl.refused, 1);
  assert_int_equal(conn_count(), 1);
  exchange(a, "ping\n", "ok pong\n");

  /* Descriptors again; the pause ends (BIRD's timer): the queued one is taken */
  assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
  while (nfill)
    close(fill[--nfill]);
  p->ctl.accept_timer->hook(p->ctl.accept_timer);
  assert_non_null(p->ctl.sk->rx_hook);
  pump();
  assert_int_equal(conn_count(), 2);
  exchange(b, "ping\n", "ok pong\n");
  close(a); close(b);
}

/* The egresses reply counts each egress's overrides (one walk of the set for all) */
static void
egresses_count_each_ones_overrides(void **state UNUSED)
{
  start_default();
  int fd = client();

  exchange(fd, "add 10.1.0.0/16 t1\nadd 10.2.0.0/16 t2\nadd 10.3.0.0/16 t1\nadd 2001:db8::/32 t2\n"
	   "add 10.4.0.0/16 t2\nwithdraw 10.4.0.0/16\nadd 10.5.0.0/16 next-best\n",
	   "ok\nok\nok\nok\nok\nok\nok\n");
  send_str(fd, "egresses\n");
  pump();
  char *r = recv_all(fd);
  char *t1 = strstr(r, "{\"name\":\"t1\""), *t2 = strstr(r, "{\"name\":\"t2\"");
  assert_non_null(t1);
  assert_non_null(t2);
  assert_true(t1 < t2);
  t2[-1] = 0;
  assert_non_null(strstr(t1, "\"overrides\":{\"active\":0,\"pending\":2,\"shadow\":0},\"overrides_carried\":0}"));
  assert_non_null(strstr(t2, "\"overrides\":{\"active\":0,\"pending\":2,\"shadow\":0},\"overrides_carried\":0}"));
  close(fd);
}

static void
lines_split_anyhow(void **state UNUSED)
{
  start_default();
  int fd = client();

  /* A line in pieces is one request, answered when complete */
  exchange(fd, "pi", "");
  exchange(fd, "ng", "");
  exchange(fd, "\r\n@a ping\n@b pi", "ok pong\n@a ok pong\n");
  exchange(fd, "ng\n", "@b ok pong\n");

  /* Many lines in one read, in order */
  char *many = xmalloc(20000 * 5 + 1);
  for (int i = 0; i < 20000; i++)
    memcpy(many + 5 * i, "ping\n", 5);
  many[20000 * 5] = 0;
  send_str(fd, many);
  xfree(many);
  char *got = recv_n(fd, 20000 * 8);
  for (int i = 0; i < 20000; i++)
    assert_memory_equal(got + 8 * i, "ok pong\n", 8);
  xfree(got);

  close(fd);
}

static void
long_lines_and_garbage_change_nothing(void **state UNUSED)
{
  start_default();
  int fd = client();
  char line[3000];

  /* 1024 bytes is a line (a bad one); 1025 is too long, whatever follows */
  memset(line, 'x', sizeof(line));
  memcpy(line + 1024, "\n", 2);
  exchange(fd, line, "error bad-request column 1: word too long (at most 53 characters)\n");

  memcpy(line, "@big add ", 9);
  line[1024] = 'x';
  line[1025] = '\n';
  line[1026] = 0;
  exchange(fd, line, "@big error bad-request line too long (more than 1024 bytes)\n");

  /* A bad tag is no tag (it was its first characters, unterminated: found by fuzzing) */
  memcpy(line, "@ab/c add ", 10);
  exchange(fd, line, "error bad-request line too long (more than 1024 bytes)\n");
  /* ... nor is one longer than 32 characters (its first 32 were echoed) */
  memcpy(line, "@abcdefghijklmnopqrstuvwxyz0123456 add ", 39);
  exchange(fd, line, "error bad-request line too long (more than 1024 bytes)\n");

  /* Answered as soon as it is too long; the rest is dropped as it comes */
  memset(line, 'y', sizeof(line));
  send_bytes(fd, line, 1500);
  pump();
  assert_string_equal(recv_all(fd), "error bad-request line too long (more than 1024 bytes)\n");
  send_bytes(fd, line, 1500);
  exchange(fd, "add 10.0.0.0/8 t1\nping\n", "ok pong\n");

  /* NUL would end the parser's string early: refused, not half executed */
  static const char nul[] = "add 10.0.0.0/8 t1\0 expires 1\n";
  send_bytes(fd, nul, sizeof(nul) - 1);
  pump();
  assert_string_equal(recv_all(fd), "error bad-request column 18: bad byte 0x00\n");

  send_bytes(fd, "\xff\xfe\x01\n\x1b[A\n", 8);
  pump();
  assert_string_equal(recv_all(fd),
		      "error bad-request column 1: bad byte 0xff\n"
		      "error bad-request column 1: bad byte 0x1b\n");

  exchange(fd, "status\n", STATUS(0, 0, 0));
  assert_int_equal(conn_count(), 1);
  close(fd);
}

static void
batch_is_all_or_nothing(void **state UNUSED)
{
  start_default();
  int fd = client();

  exchange(fd, "add 10.9.0.0/16 t1\n", "ok\n");

  /* No reply before the commit; the commit names the bad line */
  exchange(fd, "@b begin\nadd 10.1.0.0/16 t1\n\n# two\nwithdraw 10.9.0.0/16\nadd 10.2.0.0/16 t9\n", "");
  exchange(fd, "commit\n", "@b error batch line 5: unknown-egress: no egress 't9' in protocol ap\n");
  assert_int_equal(autopilot_ovr_count(p), 1);
  assert_non_null(find("10.9.0.0/16"));

  /* A line that does not parse fails the batch at commit, not before */
  exchange(fd, "begin\nadd 10.1.0.0/16 t1\nadd 10.2.0.1/16 t1\nstatus\n@c commit\n",
	   "@c error batch line 2: bad-request: bad prefix '10.2.0.1/16': host bits set\n");
  exchange(fd, "begin\nping\ncommit\n",
	   "error batch line 1: bad-request: only add and withdraw, then commit or abort, in a batch\n");
  exchange(fd, "begin\nwithdraw 10.7.0.0/16\ncommit\n",
	   "error batch line 1: not-found: no override for 10.7.0.0/16\n");
  assert_int_equal(autopilot_ovr_count(p), 1);

  /* One prefix twice makes a batch ambiguous: both lines named */
  exchange(fd, "begin\nadd 10.1.0.0/16 t1\n\nadd 10.1.0.0/16 t2\ncommit\n",
	   "error batch line 3: 10.1.0.0/16 is on line 1 too\n");
  assert_int_equal(autopilot_ovr_count(p), 1);

  /* Of several, the first prefix given again, in order; an IPv6 prefix of the same bits is another */
  exchange(fd, "begin\nadd 10.0.0.0/8 t1\nadd a00::/8 t1\nadd 10.3.0.0/16 t1\nadd 10.3.0.0/16 t2\n"
	   "add 10.0.0.0/8 t2\ncommit\n",
	   "error batch line 4: 10.3.0.0/16 is on line 3 too\n");
  assert_int_equal(autopilot_ovr_count(p), 1);

  /* Abort drops it */
  exchange(fd, "begin\nadd 10.1.0.0/16 t1\n@z abort\n", "@z ok aborted 1\n");
  assert_null(find("10.1.0.0/16"));

  /* A good one applies every line */
  exchange(fd, "begin\nadd 10.1.0.0/16 t1\nadd 10.2.0.0/16 t2 expires 60\nwithdraw 10.9.0.0/16\ncommit\n", "ok 3\n");
  assert_int_equal(autopilot_ovr_count(p), 2);
  assert_null(find("10.9.0.0/16"));
  assert_string_equal(find("10.2.0.0/16")->target, "t2");
  close(fd);
}

static void
sync_replaces_the_set_as_a_diff(void **state UNUSED)
{
  start_default();
  int fd = client();

  exchange(fd, "add 10.1.0.0/16 t1 created 1700000000\nadd 10.2.0.0/16 t2\nadd 10.3.0.0/16 t1 reason \"old\"\n",
	   "ok\nok\nok\n");
  assert_true(find("10.1.0.0/16")->created == (btime) 1700000000 * 1000000);

  /* 10.1 unchanged (keeps its age), 10.3 changed, 10.2 gone, 10.4 new */
  exchange(fd, "@s sync\nadd 10.1.0.0/16 t1\nadd 10.3.0.0/16 t1 reason \"new\"\nadd 10.4.0.0/16 t2\ncommit\n", "@s ok 3\n");
  assert_int_equal(autopilot_ovr_count(p), 3);
  assert_true(find("10.1.0.0/16")->created == (btime) 1700000000 * 1000000);
  assert_string_equal(find("10.3.0.0/16")->reason, "new");
  assert_null(find("10.2.0.0/16"));
  assert_int_equal(find("10.4.0.0/16")->source, AP_SRC_CONTROLLER);

  /* A sync lists the set: no withdraw in it */
  exchange(fd, "sync\nwithdraw 10.1.0.0/16\ncommit\n",
	   "error batch line 1: bad-request: withdraw in a sync (a sync lists the whole set)\n");
  assert_int_equal(autopilot_ovr_count(p), 3);

  /* The empty set */
  exchange(fd, "sync\ncommit\nstatus\n", "ok 0\n" STATUS(0, 0, 0));
  close(fd);
}

/* The controller's sync and flush leave what an operator or a manager asked for */
static void
sync_and_flush_leave_other_sources(void **state UNUSED)
{
  start_default();
  int fd = client();
  struct autopilot_error err;
  struct autopilot_request req;

  assert_int_equal(autopilot_request_parse("add 10.8.0.0/16 t2 reason \"by hand\"", current_real_time(), &req, &err, tmp_linpool), 0);
  assert_int_equal(autopilot_ovr_add(p, &req, AP_SRC_CLI, &err), 0);
  assert_int_equal(autopilot_request_parse("add 10.9.0.0/16 t1", current_real_time(), &req, &err, tmp_linpool), 0);
  assert_int_equal(autopilot_ovr_add(p, &req, AP_SRC_BGP, &err), 0);

  exchange(fd, "add 10.1.0.0/16 t1\nsync\nadd 10.2.0.0/16 t2\ncommit\n", "ok\nok 1\n");
  assert_null(find("10.1.0.0/16"));
  assert_int_equal(find("10.8.0.0/16")->source, AP_SRC_CLI);
  assert_int_equal(find("10.9.0.0/16")->source, AP_SRC_BGP);

  exchange(fd, "flush\n", "ok 1\n");
  assert_null(find("10.2.0.0/16"));
  assert_int_equal(autopilot_ovr_count(p), 2);

  /* One override per prefix: the controller's add takes the prefix over */
  exchange(fd, "add 10.8.0.0/16 t1\nsync\ncommit\n", "ok\nok 0\n");
  assert_null(find("10.8.0.0/16"));
  assert_non_null(find("10.9.0.0/16"));
  close(fd);
}

static void
status_waits_until_requests_are_resolved(void **state UNUSED)
{
  start_default();
  int fd = client();

  exchange(fd, "add 10.1.0.0/16 t1\nadd 10.2.0.0/16 t1\n", "ok\nok\n");

  /* Until the override event has run, the withdrawn ones still count as pending */
  exchange(fd, "withdraw 10.1.0.0/16\nstatus\nping\n", "ok\n" STATUS(1, 0, 1) "ok pong\n");
  close(fd);
}

static void
disconnect_keeps_overrides_and_drops_open_batch(void **state UNUSED)
{
  start_default();
  int fd = client();

  exchange(fd, "add 10.1.0.0/16 t1\nbegin\nadd 10.2.0.0/16 t1\n", "ok\n");
  close(fd);
  pump();

  assert_int_equal(conn_count(), 0);
  assert_non_null(find("10.1.0.0/16"));
  assert_null(find("10.2.0.0/16"));

  /* Half-closed: everything sent is answered, an open batch and a cut line too, then closed */
  fd = client();
  send_str(fd, "ping\nbegin\nadd 10.2.0.0/16 t1\n@cut add 10.3.0.0/16 t1 expires 36");
  shutdown(fd, SHUT_WR);
  pump();
  assert_string_equal(recv_all(fd),
		      "ok pong\n"
		      "@cut error bad-request no newline at the end of input: line not executed\n"
		      "error batch no commit before the end of input: 1 requests dropped\n");
  assert_int_equal(recv(fd, (char[1]) {}, 1, MSG_DONTWAIT), 0);
  assert_int_equal(conn_count(), 0);
  assert_int_equal(autopilot_ovr_count(p), 1);
  close(fd);
}

/*
 * The disk refuses: the connection whose change cannot be saved gets no
 * acknowledgement (closed without replies); one that changed nothing (a
 * watcher, a monitor's ping) carries on, though every flush tries the
 * commit again. It was closed too: the disk failing blinded who watched.
 */
static void
failing_disk_closes_only_who_changed(void **state UNUSED)
{
  static char opts[300], journal[160], tmp[160];
  bsnprintf(opts, sizeof(opts), "  controller socket \"%s\";\n  state filename \"%s/ap.state\";\n", path, dir);
  bsnprintf(journal, sizeof(journal), "%s/ap.state.journal", dir);
  bsnprintf(tmp, sizeof(tmp), "%s/ap.state.tmp", dir);
  start(opts);
  int writer = client(), watcher = client();
  exchange(writer, "add 10.1.0.0/16 t1\n", "ok\n");
  exchange(watcher, "ping\n", "ok pong\n");

  /* Neither the journal nor a snapshot can be written */
  assert_int_equal(unlink(journal), 0);
  assert_int_equal(mkdir(journal, 0700), 0);
  assert_int_equal(mkdir(tmp, 0700), 0);

  send_str(writer, "add 10.2.0.0/16 t1\n");
  send_str(watcher, "ping\n");
  pump();
  assert_string_equal(recv_all(writer), "");
  assert_int_equal(recv(writer, (char[1]) {}, 1, MSG_DONTWAIT), 0);	/* closed */
  assert_string_equal(recv_all(watcher), "ok pong\n");
  assert_int_equal(conn_count(), 1);
  assert_non_null(find("10.2.0.0/16"));			/* in effect, fail static */
  exchange(watcher, "status\n", STATUS(2, 0, 2));
  assert_true(p->state.failed);

  assert_int_equal(rmdir(journal), 0);
  assert_int_equal(rmdir(tmp), 0);
  exchange(watcher, "add 10.3.0.0/16 t1\n", "ok\n");
  assert_false(p->state.failed);
  close(writer);
  close(watcher);
}

static void
client_gone_still_executes_what_it_sent(void **state UNUSED)
{
  start_default();
  int fd = client();

  /* Sent, then gone before reading a single reply */
  send_str(fd, "add 10.1.0.0/16 t1\nadd 10.2.0.0/16 t1\nbegin\nadd 10.3.0.0/16 t1\ncommit\n");
  close(fd);
  pump();

  assert_int_equal(conn_count(), 0);
  assert_int_equal(autopilot_ovr_count(p), 3);
}

static void
slow_reader_is_not_read_until_it_reads(void **state UNUSED)
{
  start_default();
  int fd = client();
  struct autopilot_ctl_conn *c = conn();

  /* Requests whose replies are longer than they are, never read */
  const char *rep = "error bad-request column 1: unknown request 'xx'\n";
  uint rlen = strlen(rep), sent = 0, got = 0;
  u64 off = 0;

  /* One endless stream of "xx\n": a short write goes on where it stopped */
  fcntl(fd, F_SETFL, O_NONBLOCK);
  char *chunk = xmalloc(3 * 10001);
  for (int i = 0; i < 10001; i++)
    memcpy(chunk + 3 * i, "xx\n", 3);

  for (int round = 0; round < 1000; round++)
  {
    ssize_t n = write(fd, chunk + (off % 3), 30000);
    if (n > 0)
      off += n;
    pump();
    if (!c->sk->rx_hook)
      break;
  }
  sent = off / 3;	/* A cut last line gets no reply */
  xfree(chunk);

  /* Stopped reading, every reply kept */
  assert_null(c->sk->rx_hook);
  assert_true(c->stall);
  assert_true(c->out_len >= (1 << 20));

  /* Another client is served meanwhile */
  int fd2 = client();
  exchange(fd2, "ping\n", "ok pong\n");
  close(fd2);
  pump();

  /* Reading lets it go on; not a reply lost or cut */
  char *buf = xmalloc(1 << 20);
  uint have = 0;
  for (int round = 0; (round < 100000) && (got < sent); round++)
  {
    ssize_t n = recv(fd, buf + have, (1 << 20) - have, MSG_DONTWAIT);
    if (n > 0)
    {
      have += n;
      uint i = 0;
      for (; have - i >= rlen; i += rlen, got++)
	assert_memory_equal(buf + i, rep, rlen);
      memmove(buf, buf + i, have - i);
      have -= i;
    }
    pump();
  }
  xfree(buf);

  assert_int_equal(got, sent);
  assert_false(c->stall);
  assert_non_null(c->sk->rx_hook);
  close(fd);
}

static void
socket_file_access_and_leftovers(void **state UNUSED)
{
  struct stat st;
  struct group *gr = getgrgid(getgid());
  assert_non_null(gr);

  /* Group and the default mode 0660, at once, for our own group */
  start(tmp_sprintf("  controller socket \"%s\" group \"%s\";\n", path, gr->gr_name));
  assert_int_equal(stat(path, &st), 0);
  assert_true(S_ISSOCK(st.st_mode));
  assert_int_equal(st.st_mode & 07777, 0660);
  assert_int_equal(st.st_gid, getgid());

  /* What cannot work is refused by configure: no such group, no directory */
  ap_configure(EGRESSES);
  assert_config_error(conf(tmp_sprintf("  controller socket \"%s\" group \"no-such-group-here\";\n", path)),
		      tmp_sprintf("controller socket %s: no group 'no-such-group-here'", path));
  assert_config_error(conf(tmp_sprintf("  controller socket \"%s/no-such-dir/ap.ctl\";\n", dir)),
		      "no directory");
  assert_config_error(conf(tmp_sprintf("  state filename \"%s/no-such-dir/ap.state\";\n", dir)),
		      "state file /tmp/ap-ctl-test");

  /* The state file and its journal: readable files, where they are; one owner each */
  assert_config_error(conf("  state filename \"\";\n"), "state filename is empty");
  assert_config_error(conf(tmp_sprintf("  state filename \"%s\";\n", dir)), "is not a regular file");
  char *journal = tmp_sprintf("%s/ap.state.journal", dir);
  assert_int_equal(mkdir(journal, 0700), 0);
  assert_config_error(conf(tmp_sprintf("  state filename \"%s/ap.state\";\n", dir)),
		      tmp_sprintf("%s is not a regular file", journal));
  assert_int_equal(rmdir(journal), 0);
  assert_config_error(conf(tmp_sprintf("  state filename \"%s\";\n  controller socket \"%s\";\n", path, path)),
		      "state file and controller socket of protocol ap are one path");
  char *two = tmp_sprintf("ipv4 table t4;\n%sprotocol autopilot ap2 { ipv4 { table t4; }; state filename \"%s/ap.state\"; }\n",
			  conf(tmp_sprintf("  state filename \"%s/ap.state\";\n", dir)), dir);
  assert_config_error(two, tmp_sprintf("state file %s/ap.state is already the state file of protocol ap", dir));
  char lng[101];				/* With the directory, too long for a socket address */
  memset(lng, 'a', 100);
  lng[100] = 0;
  assert_config_error(conf(tmp_sprintf("  controller socket \"%s/%s\";\n", dir, lng)),
		      "path too long (at most 107 bytes)");
  assert_int_equal(access(path, F_OK), -1);

  /* A dead BIRD's socket is replaced */
  ap_configure(EGRESSES);
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  strcpy(sa.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
  close(fd);
  start_default();
  close(client());
  pump();

  /* A live one is not taken over, nor is a file that is no socket */
  ap_configure(EGRESSES);
  fd = socket(AF_UNIX, SOCK_STREAM, 0);
  assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
  assert_int_equal(listen(fd, 1), 0);
  start(tmp_sprintf("  controller socket \"%s\";\n", path));
  assert_null(p->ctl.sk);
  close(fd);
  unlink(path);

  ap_configure(EGRESSES);
  fd = open(path, O_CREAT | O_WRONLY, 0600);
  close(fd);
  start(tmp_sprintf("  controller socket \"%s\";\n", path));
  assert_null(p->ctl.sk);
  assert_int_equal(stat(path, &st), 0);
  assert_true(S_ISREG(st.st_mode));
  unlink(path);

}

static void
reconfigure_moves_the_socket_in_place(void **state UNUSED)
{
  char other[160];
  bsnprintf(other, sizeof(other), "%s/other.ctl", dir);

  start_default();
  int fd = client();
  exchange(fd, "add 10.1.0.0/16 t1\n", "ok\n");

  /* Same protocol instance, connection and overrides; the path moves */
  struct proto *before = &p->p;
  start(tmp_sprintf("  controller socket \"%s\";\n", other));
  assert_ptr_equal(&p->p, before);
  assert_int_equal(access(path, F_OK), -1);
  assert_int_equal(access(other, F_OK), 0);
  exchange(fd, "status\n", STATUS(1, 0, 1));

  /* A new path that cannot be opened (a file is there) keeps the working socket */
  int ffd = open(path, O_CREAT | O_WRONLY, 0600);
  close(ffd);
  start(tmp_sprintf("  controller socket \"%s\";\n", path));
  assert_ptr_equal(&p->p, before);
  assert_non_null(p->ctl.sk);
  assert_int_equal(access(other, F_OK), 0);
  assert_non_null(strstr(p->ctl.error, "the path exists and is not a socket; still listening on"));
  exchange(fd, "ping\n", "ok pong\n");
  unlink(path);

  /* ... and is tried again by the next configure */
  start_default();
  assert_ptr_equal(&p->p, before);
  assert_int_equal(access(other, F_OK), -1);
  assert_string_equal(p->ctl.error, "");

  /* Mode and group change on the socket itself, at the same path */
  struct group *gr = getgrgid(getgid());
  start(tmp_sprintf("  controller socket \"%s\" mode 0600 group \"%s\";\n", path, gr->gr_name));
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 07777, 0600);
  exchange(fd, "ping\n", "ok pong\n");

  /* Another group, then none: BIRD's own again (the other one stayed, wider than configured) */
  struct group *other_gr = getgrnam("daemon");
  assert_non_null(other_gr);
  assert_true(other_gr->gr_gid != getegid());
  start(tmp_sprintf("  controller socket \"%s\" group \"daemon\";\n", path));
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_gid, other_gr->gr_gid);
  start(tmp_sprintf("  controller socket \"%s\";\n", path));
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_gid, getegid());
  assert_int_equal(st.st_mode & 07777, 0660);

  /* And no socket at all: connected controllers stay */
  start("");
  assert_ptr_equal(&p->p, before);
  assert_null(p->ctl.sk);
  assert_int_equal(access(path, F_OK), -1);
  exchange(fd, "ping\n", "ok pong\n");
  close(fd);
  pump();
  assert_int_equal(conn_count(), 0);
  assert_int_equal(autopilot_ovr_count(p), 1);
}

int
main(void)
{
  ap_bird_init();

  /* As BIRD's main(): a client gone is an error from write(), not a signal */
  signal(SIGPIPE, SIG_IGN);

  const struct CMUnitTest tests[] = {
    ap_test(ping_status_and_tags),
    ap_test(add_withdraw_flush_with_error_codes),
    ap_test(over_the_limit),
    ap_test(connections_over_the_limit_are_told_and_closed),
    ap_test(out_of_descriptors_pauses_accepting),
    ap_test(egresses_count_each_ones_overrides),
    ap_test(lines_split_anyhow),
    ap_test(long_lines_and_garbage_change_nothing),
    ap_test(batch_is_all_or_nothing),
    ap_test(sync_replaces_the_set_as_a_diff),
    ap_test(sync_and_flush_leave_other_sources),
    ap_test(status_waits_until_requests_are_resolved),
    ap_test(disconnect_keeps_overrides_and_drops_open_batch),
    ap_test(failing_disk_closes_only_who_changed),
    ap_test(client_gone_still_executes_what_it_sent),
    ap_test(slow_reader_is_not_read_until_it_reads),
    ap_test(socket_file_access_and_leftovers),
    ap_test(reconfigure_moves_the_socket_in_place),
  };

  return cmocka_run_group_tests_name("autopilot controller socket", tests, NULL, NULL);
}
