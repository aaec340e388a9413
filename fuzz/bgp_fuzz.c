/*
 *	bird-autopilot fuzz target -- the BGP receive path with our hooks
 *
 *	(c) 2026 bird-autopilot developers
 *
 *	Can be freely distributed and used under the terms of the GNU GPL.
 */

/*
 * Real BGP sessions, with this target playing the peers: egress t1 (plain
 * unicast, IPv4 and IPv6), egress t2 (labeled unicast, RFC 8277) and host
 * h1 (iBGP, labeled unicast, ADD-PATH tx, next hop self, as the switch
 * talks to its hosts), all on loopback TCP. A session is established the
 * way BIRD's I/O loop does it: the target connects to BGP's listening
 * socket and hands it to sk_read(), which accepts the connection and calls
 * BGP's hook; the target then sends OPEN and KEEPALIVE. What the peers send
 * is put in the connection's receive buffer and BGP's receive hook called,
 * as sk_read() does after a read; what BIRD sends is read from our end of
 * the TCP connection. Timers never run (time stands still in the process):
 * no hold timer expires; the target fires the startup delay BIRD sets after
 * an error, to re-establish at once.
 *
 * One input: a first byte of capabilities the egress peers announce in
 * their OPEN (ADD-PATH send, 4-byte AS numbers: without, AS_PATH is 2-byte
 * and AS4_PATH is used), then records [ctl][length: 2 bytes][bytes]: ctl
 * bit 0 chooses the egress, bit 1 says the bytes are raw (header and all,
 * any message or none) rather than an UPDATE body the target puts a header
 * on. A session BIRD resets (a NOTIFICATION, RFC 7606's "session reset")
 * is established again for the next record sent on it.
 *
 * Differential: every input runs twice, first through BIRD without our
 * hooks (taken out of bgp_hooks), then with them. BGP must decide the same
 * (the same paths accepted, the same sessions reset with the same
 * NOTIFICATION: RFC 7606's treat-as-withdraw, attribute discard and
 * session reset are BIRD's, never our hook's), and each path must have the
 * same next hop, labels and attributes, flags included, but for the
 * egress's label and our large communities.
 *
 * Checked in the run with hooks, after the records, against the tables:
 * - every path from an egress carries the egress's label (EA_MPLS_LABEL),
 *   none of our large communities (our ASN, functions 1..4) nor the
 *   Precision Path disable community: what a transit sent of them is gone;
 * - what BIRD sent host h1 decodes (framing, attributes, labeled NLRI with
 *   path IDs): every UPDATE is well formed, announces carry ORIGIN,
 *   AS_PATH, LOCAL_PREF and our next hop, one label, that of an egress,
 *   and exactly one Precision Path label community, that egress's pp label;
 *   no NOTIFICATION to the host, ever;
 * - the host's view (announces and withdrawals applied in order) is the
 *   table: each path of an egress is there with its path ID and its
 *   egress's labels, unless BGP does not export it (NO_ADVERTISE,
 *   LLGR_STALE), and the host has nothing else;
 * - then both egresses' connections are closed: the tables and the host's
 *   view are empty again, and protocol ap is up.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"

#include "lib/resource.h"
#include "lib/socket.h"
#include "lib/string.h"
#include "lib/timer.h"
#include "nest/attrs.h"
#include "nest/route.h"
#include "proto/bgp/bgp.h"
#include "proto/autopilot/autopilot.h"

/* BIRD's I/O loop (sysdep/unix/io.c) does these with sockets that are ready */
int sk_read(sock *s, int revents);
int sk_write(sock *s);

#define ASN		65000		/* Ours: the switch and the hosts */
#define HDR		19		/* BGP header */
#define MSG_MAX		4096		/* BGP message without extended messages */
#define NH4		"127.0.3.1"	/* Our next hop to the host (next hop self) */
#define NH6		"2001:db8:3::1"

enum { T1, T2, H1, NPEERS };

/* One session, and the peer this target plays on it */
struct peer {
  const char *name;			/* BGP protocol */
  u32 asn;				/* The peer's AS */
  int labeled;				/* Channels ipv4 mpls and ipv6 mpls (else ipv4, ipv6) */
  u32 label, pp_label;			/* Egress labels (0 for the host) */
  struct bgp_proto *bp;			/* The protocol */
  int fd;				/* Our end of the TCP connection, -1 none */
  byte *in;				/* What BIRD sent, not parsed yet */
  size_t in_len, in_size;		/* Bytes in it, its size */
  u64 got;				/* Bytes read on this connection */
  int add_path, as4;			/* Capabilities our OPEN announces */
  uint notified;			/* Last NOTIFICATION from BIRD: code << 8 | subcode, 0 none */
};

static struct peer peers[NPEERS] = {
  [T1] = { .name = "t1", .asn = 64501, .label = 1001, .pp_label = 2001 },
  [T2] = { .name = "t2", .asn = 64502, .labeled = 1, .label = 1002, .pp_label = 2002 },
  [H1] = { .name = "h1", .asn = ASN, .labeled = 1 },
};

static struct autopilot_proto *P;
static int stock;			/* This run without our hooks: BIRD as it is */
static list hooks_off;			/* Where bgp_hooks wait during such a run */
static rtable *tab4, *tab6;
static uint port;			/* BGP's listening port, chosen free at start */
static int verbose;			/* FUZZ_VERBOSE set: say what each run did (read once: rte_hash() asks per attribute) */

/* The host's view: paths by (AFI, prefix, path ID), from what h1 was sent */
struct hpath {
  struct hpath *next;			/* In its hash chain */
  byte key[22];				/* AFI, length, prefix (16), path ID (4) */
  u32 label;				/* Its label */
  u32 pp_label;				/* Its Precision Path label community */
  int seen;				/* Matched with a table route in this check */
};

#define HBITS 10
static struct hpath *hview[1 << HBITS];
static uint hcount;

static uint
hhash(const byte *key)
{
  u32 h = 2166136261U;
  for (uint i = 0; i < 22; i++)
    h = (h ^ key[i]) * 16777619U;
  return (h ^ (h >> 16)) & ((1 << HBITS) - 1);
}

static struct hpath **
hfind(const byte *key)
{
  struct hpath **pp = &hview[hhash(key)];
  while (*pp && memcmp((*pp)->key, key, 22))
    pp = &(*pp)->next;
  return pp;
}

static void
hkey(byte *key, uint afi, uint pxlen, const byte *px, u32 path_id)
{
  memset(key, 0, 22);
  key[0] = afi;
  key[1] = pxlen;
  memcpy(key + 2, px, (pxlen + 7) / 8);
  put_u32(key + 18, path_id);
}

/* --- What BIRD sends the host, decoded as a host would ------------------- */

/* Parse NLRI of AFI @afi (labeled, with path IDs); @reach: announces, with pp label community @pp_label */
static void
host_nlri(const byte *d, uint len, uint afi, int reach, u32 pp_label)
{
  uint max = (afi == 1) ? 32 : 128;

  while (len)
  {
    FZ_CHECK(len >= 5, "h1: NLRI cut in its path ID and length");
    u32 path_id = get_u32(d);
    uint bits = d[4];
    d += 5, len -= 5;

    /* Labels: until bottom of stack when announced, one 24-bit field when withdrawn */
    u32 label = 0;
    uint labels = 0;
    for (;;)
    {
      FZ_CHECK((bits >= 24) && (len >= 3), "h1: NLRI cut in its label");
      u32 l = get_u24(d);
      d += 3, len -= 3, bits -= 24;
      label = l >> 4;
      labels++;
      if (!reach || (l & 1))
	break;
    }

    FZ_CHECK(bits <= max, "h1: prefix length %u", bits);
    uint bytes = (bits + 7) / 8;
    FZ_CHECK(len >= bytes, "h1: NLRI cut in its prefix");

    byte px[16] = {};
    memcpy(px, d, bytes);
    if (bits % 8)
      FZ_CHECK(!(px[bytes - 1] & (0xff >> (bits % 8))), "h1: prefix with host bits");
    d += bytes, len -= bytes;

    byte key[22];
    hkey(key, afi, bits, px, path_id);
    struct hpath **hp = hfind(key);

    if (reach)
    {
      /* Without our hooks BGP sends no label of ours (implicit null) and no community */
      if (!stock)
      {
	FZ_CHECK(labels == 1, "h1: %u labels, want one", labels);
	FZ_CHECK((label == peers[T1].label) || (label == peers[T2].label), "h1: label %u of no egress", label);
	u32 want = (label == peers[T1].label) ? peers[T1].pp_label : peers[T2].pp_label;
	FZ_CHECK(pp_label == want, "h1: label %u with pp label %u, want %u", label, pp_label, want);
      }

      if (!*hp)
      {
	*hp = calloc(1, sizeof(struct hpath));
	memcpy((*hp)->key, key, 22);
	hcount++;
      }
      (*hp)->label = label;
      (*hp)->pp_label = pp_label;
    }
    else if (*hp)
    {
      struct hpath *h = *hp;
      *hp = h->next;
      free(h);
      hcount--;
    }
  }
}

/* One UPDATE to the host: well formed, of the documented contents */
static void
host_update(const byte *m, uint len)
{
  const byte *d = m + HDR, *end = m + len;

  FZ_CHECK(len >= HDR + 4, "h1: UPDATE of %u bytes", len);
  uint wlen = get_u16(d);
  FZ_CHECK(wlen == 0, "h1: IPv4 unicast withdrawals on a labeled session");
  uint alen = get_u16(d + 2);
  d += 4;
  FZ_CHECK(d + alen == end, "h1: attributes of %u bytes in an UPDATE of %u (NLRI on a labeled session?)", alen, len);

  const byte *reach = NULL, *unreach = NULL;
  uint reach_len = 0, unreach_len = 0;
  int seen[256] = {};
  u32 pp_label = 0;
  uint pp_count = 0;

  while (d < end)
  {
    FZ_CHECK(end - d >= 3, "h1: attribute header cut");
    uint flags = d[0], type = d[1], hl = (flags & 0x10) ? 4 : 3;
    FZ_CHECK(end - d >= hl, "h1: attribute header cut");
    uint al = (flags & 0x10) ? get_u16(d + 2) : d[2];
    const byte *a = d + hl;
    FZ_CHECK(a + al <= end, "h1: attribute %u of %u bytes overruns the UPDATE", type, al);
    FZ_CHECK(!seen[type], "h1: attribute %u twice", type);
    seen[type] = 1;

    switch (type)
    {
    case BA_ORIGIN:
      FZ_CHECK((al == 1) && (a[0] <= 2), "h1: ORIGIN of %u bytes", al);
      break;

    case BA_AS_PATH:
      for (uint i = 0; i < al; )
      {
	FZ_CHECK((al - i >= 2) && (a[i] >= 1) && (a[i] <= 4) && (a[i + 1] > 0) &&
		 (al - i - 2 >= 4u * a[i + 1]), "h1: bad AS_PATH segment");
	i += 2 + 4 * a[i + 1];
      }
      break;

    case BA_NEXT_HOP:
      FZ_CHECK(0, "h1: NEXT_HOP on a labeled session");
      break;

    case BA_MULTI_EXIT_DISC:
    case BA_LOCAL_PREF:
    case BA_ORIGINATOR_ID:
      FZ_CHECK(al == 4, "h1: attribute %u of %u bytes", type, al);
      break;

    case BA_COMMUNITY:
    case BA_CLUSTER_LIST:
      FZ_CHECK(al % 4 == 0, "h1: attribute %u of %u bytes", type, al);
      break;

    case BA_EXT_COMMUNITY:
      FZ_CHECK(al % 8 == 0, "h1: EXT_COMMUNITY of %u bytes", al);
      break;

    case BA_AS4_PATH:
    case BA_AS4_AGGREGATOR:
      FZ_CHECK(0, "h1: attribute %u on a 4-byte AS session", type);
      break;

    case BA_MP_REACH_NLRI:
      reach = a, reach_len = al;
      break;

    case BA_MP_UNREACH_NLRI:
      unreach = a, unreach_len = al;
      break;

    case BA_LARGE_COMMUNITY:
      FZ_CHECK(al && (al % 12 == 0), "h1: LARGE_COMMUNITY of %u bytes", al);
      for (uint i = 0; i < al; i += 12)
      {
	u32 g = get_u32(a + i), f = get_u32(a + i + 4), v = get_u32(a + i + 8);
	if (stock)
	  continue;
	FZ_CHECK(!((g == AUTOPILOT_PP_DEFAULT.asn) && (f == AUTOPILOT_PP_DEFAULT.ldp1) &&
		   (v == AUTOPILOT_PP_DEFAULT.ldp2)), "h1: the disable community, from a transit");
	if ((g != ASN) || (f < 1) || (f > AUTOPILOT_LC_MAX))
	  continue;
	FZ_CHECK(f == AUTOPILOT_LC_PP_LABEL, "h1: our community (%u, %u, %u), not the switch's", g, f, v);
	pp_label = v;
	pp_count++;
      }
      break;
    }

    d = a + al;
  }

  if (unreach)
  {
    FZ_CHECK((unreach_len >= 3) && (get_u16(unreach) == 1 || get_u16(unreach) == 2) && (unreach[2] == 4),
	     "h1: MP_UNREACH_NLRI of AFI %u SAFI %u", get_u16(unreach), unreach[2]);
    host_nlri(unreach + 3, unreach_len - 3, get_u16(unreach), 0, 0);
  }

  if (reach)
  {
    FZ_CHECK((reach_len >= 5) && (get_u16(reach) == 1 || get_u16(reach) == 2) && (reach[2] == 4),
	     "h1: MP_REACH_NLRI of AFI %u SAFI %u", get_u16(reach), reach[2]);
    uint afi = get_u16(reach), nhl = reach[3];
    FZ_CHECK(reach_len >= 5u + nhl, "h1: MP_REACH_NLRI next hop cut");

    ip_addr nh = IPA_NONE, want;
    if (afi == 1)
    {
      FZ_CHECK(nhl == 4, "h1: IPv4 next hop of %u bytes", nhl);
      nh = ipa_from_ip4(get_ip4(reach + 4));
      ip4_addr a4;
      ip4_pton(NH4, &a4);
      want = ipa_from_ip4(a4);
    }
    else
    {
      FZ_CHECK((nhl == 16) || (nhl == 32), "h1: IPv6 next hop of %u bytes", nhl);
      nh = ipa_from_ip6(get_ip6(reach + 4));
      ip6_addr a6;
      ip6_pton(NH6, &a6);
      want = ipa_from_ip6(a6);
    }
    FZ_CHECK(ipa_equal(nh, want), "h1: next hop %I, not ours (%I)", nh, want);

    FZ_CHECK(seen[BA_ORIGIN] && seen[BA_AS_PATH] && seen[BA_LOCAL_PREF], "h1: announce without ORIGIN, AS_PATH or LOCAL_PREF");
    FZ_CHECK(stock || (pp_count == 1), "h1: %u Precision Path label communities, want one", pp_count);
    host_nlri(reach + 5 + nhl, reach_len - 5 - nhl, afi, 1, pp_label);
  }
}

/*
 * FUZZ_BGP_DUMP=FILE: what BIRD sent the host, as an input of this target
 * (each UPDATE a record from t2, which speaks the same labeled unicast with
 * ADD-PATH): seeds from BIRD's own encoder (fuzz/bgp_seeds.py uses it)
 */
static FILE *dump_file;

static void
dump_update(const byte *m, uint len)
{
  byte h[3] = { 1, (len - HDR) >> 8, (len - HDR) & 0xff };
  fwrite(h, 1, 3, dump_file);
  fwrite(m + HDR, 1, len - HDR, dump_file);
}

/* Take the whole messages of what BIRD sent @pr; the host's go to its view */
static void
peer_parse(struct peer *pr)
{
  size_t at = 0;

  while (pr->in_len - at >= HDR)
  {
    const byte *m = pr->in + at;
    for (uint i = 0; i < 16; i++)
      FZ_CHECK(m[i] == 0xff, "%s: bad marker from BIRD", pr->name);
    uint len = get_u16(m + 16), type = m[18];
    FZ_CHECK((len >= HDR) && (len <= MSG_MAX), "%s: message of %u bytes from BIRD", pr->name, len);
    if (pr->in_len - at < len)
      break;

    if ((type == PKT_NOTIFICATION) && (len >= HDR + 2))
      pr->notified = (m[HDR] << 8) | m[HDR + 1];

    if (pr == &peers[H1])
    {
      FZ_CHECK(type != PKT_NOTIFICATION, "h1: BIRD reset the host session (NOTIFICATION %u/%u)",
	       (len > HDR) ? m[HDR] : 0, (len > HDR + 1) ? m[HDR + 1] : 0);
      if (type == PKT_UPDATE)
	host_update(m, len);

      if ((type == PKT_UPDATE) && !stock && dump_file)
	dump_update(m, len);
    }

    at += len;
  }

  memmove(pr->in, pr->in + at, pr->in_len - at);
  pr->in_len -= at;
}

/* Read what BIRD sent on @pr's connection; 1 if it closed it */
static int
peer_read(struct peer *pr)
{
  if (pr->fd < 0)
    return 0;

  for (;;)
  {
    if (pr->in_size - pr->in_len < 65536)
      pr->in = realloc(pr->in, pr->in_size += 65536);

    ssize_t n = read(pr->fd, pr->in + pr->in_len, pr->in_size - pr->in_len);
    if (n > 0)
    {
      pr->in_len += n;
      pr->got += n;
      continue;
    }

    peer_parse(pr);
    if ((n < 0) && (errno == EAGAIN))
      return 0;

    /* EOF or an error (a reset): BIRD closed the connection */
    close(pr->fd);
    pr->fd = -1;
    pr->in_len = 0;
    return 1;
  }
}

/* BIRD's socket of @pr's session, or NULL */
static sock *
bird_sk(struct peer *pr)
{
  struct bgp_proto *bp = pr->bp;
  if (bp->conn && bp->conn->sk)
    return bp->conn->sk;
  return bp->incoming_conn.sk;
}

/*
 * What BIRD's loop would do until nothing is left to do: events, writes
 * that waited for room, and our reads of what it wrote, until each peer
 * has read all BIRD put in its messages.
 */
static void
settle(void)
{
  for (uint round = 0; ; round++)
  {
    FZ_CHECK(round < 100000, "BIRD not settled after 100000 rounds");
    fz_run_events();

    int busy = 0;
    for (uint i = 0; i < NPEERS; i++)
    {
      struct peer *pr = &peers[i];
      sock *sk = bird_sk(pr);

      if (sk && (sk->ttx != sk->tpos))
      {
	sk_write(sk);
	busy = 1;
      }

      peer_read(pr);

      /* Sent but not read yet: in flight on loopback */
      if ((pr->fd >= 0) && (pr->got < pr->bp->stats.tx_bytes))
      {
	struct pollfd pfd = { .fd = pr->fd, .events = POLLIN };
	poll(&pfd, 1, 1);
	busy = 1;
      }
    }

    if (!busy && EMPTY_LIST(global_event_list) && EMPTY_LIST(global_work_list))
      return;
  }
}

/* Bytes as if read from BIRD's connection of @pr */
static void
peer_send(struct peer *pr, const byte *data, size_t len)
{
  while (len)
  {
    sock *sk = bird_sk(pr);
    if (!sk || (pr->fd < 0))
      return;

    size_t room = sk->rbuf + sk->rbsize - sk->rpos;
    FZ_CHECK(room, "%s: receive buffer full", pr->name);
    size_t n = MIN(room, len);
    memcpy(sk->rpos, data, n);
    sk->rpos += n;
    data += n, len -= n;

    sk->rx_hook(sk, sk->rpos - sk->rbuf);
    settle();
    peer_read(pr);
  }
}

static void
peer_msg(struct peer *pr, uint type, const byte *body, uint len)
{
  byte m[MSG_MAX];
  len = MIN(len, MSG_MAX - HDR);
  memset(m, 0xff, 16);
  put_u16(m + 16, HDR + len);
  m[18] = type;
  memcpy(m + HDR, body, len);
  peer_send(pr, m, HDR + len);
}

/* Our OPEN: multiprotocol for the session's channels, AS4, ADD-PATH as chosen */
static void
peer_open(struct peer *pr, u32 id)
{
  byte o[128], *c = o + 10;
  uint safi = pr->labeled ? BGP_SAFI_MPLS : BGP_SAFI_UNICAST;

  for (uint afi = 1; afi <= 2; afi++)
  {
    c[0] = 2, c[1] = 6, c[2] = 1, c[3] = 4;
    put_u16(c + 4, afi), c[6] = 0, c[7] = safi;
    c += 8;
  }

  c[0] = 2, c[1] = 2, c[2] = 2, c[3] = 0;	/* Route refresh */
  c += 4;

  if (pr->as4)
  {
    c[0] = 2, c[1] = 6, c[2] = 65, c[3] = 4;
    put_u32(c + 4, pr->asn);
    c += 8;
  }

  if (pr->add_path)
  {
    c[0] = 2, c[1] = 10, c[2] = 69, c[3] = 8;
    for (uint afi = 1; afi <= 2; afi++)
    {
      byte *x = c + 4 + 4 * (afi - 1);
      put_u16(x, afi), x[2] = safi;
      x[3] = (pr == &peers[H1]) ? 1 : 2;	/* The host receives, egresses send */
    }
    c += 12;
  }

  o[0] = 4;
  put_u16(o + 1, (pr->asn > 0xffff) ? 23456 : pr->asn);
  put_u16(o + 3, 240);
  put_u32(o + 5, id);
  o[9] = c - (o + 10);
  peer_msg(pr, PKT_OPEN, o, c - o);
}

/* Establish @pr's session, as a peer connecting to BIRD would */
static void
peer_up(struct peer *pr)
{
  struct bgp_proto *bp = pr->bp;
  uint n = pr - peers + 1;

  /* Down, restarting, or waiting out the startup delay BIRD set after an error */
  for (uint i = 0; ; i++)
  {
    FZ_CHECK(i < 100, "%s: not ready for a connection (state %u, start state %u)",
	     pr->name, bp->p.proto_state, bp->start_state);
    settle();
    if ((bp->p.proto_state == PS_START) && (bp->start_state >= BSS_CONNECT) && !bp->incoming_conn.sk && !bp->conn)
      break;
    if ((bp->p.proto_state == PS_START) && (bp->start_state == BSS_DELAY))
    {
      tm_stop(bp->startup_timer);
      bp->startup_timer->hook(bp->startup_timer);
    }
  }

  int fd = socket(AF_INET, SOCK_STREAM, 0);
  FZ_CHECK(fd >= 0, "socket: %m");
  struct sockaddr_in me = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000002 | (n << 8)) };
  struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(0x7f000001 | (n << 8)) };
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  FZ_CHECK(bind(fd, (void *) &me, sizeof(me)) == 0, "%s: bind: %m", pr->name);
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  fcntl(fd, F_SETFL, O_NONBLOCK);

  /* Not blocking: libFuzzer's timer signals would interrupt it */
  for (uint i = 0; connect(fd, (void *) &to, sizeof(to)) && (errno != EISCONN); i++)
  {
    FZ_CHECK(((errno == EINPROGRESS) || (errno == EALREADY) || (errno == EINTR)) && (i < 1000),
	     "%s: connect: %m", pr->name);
    struct pollfd pfd = { .fd = fd, .events = POLLOUT };
    poll(&pfd, 1, 10);
  }
  pr->fd = fd;
  pr->got = 0;
  pr->in_len = 0;

  /* What the I/O loop does with the listening socket ready: accept, BGP's hook */
  FZ_CHECK(bp->sock && bp->sock->sk, "%s: no listening socket", pr->name);
  sk_read(bp->sock->sk, POLLIN);
  settle();
  FZ_CHECK(bp->incoming_conn.sk, "%s: connection not accepted", pr->name);

  /*
   * BIRD's end closes with a reset, not a FIN: else every connection BIRD
   * closes first (after a NOTIFICATION) stays in TIME_WAIT on the listening
   * port for a minute, and binding the listening socket anew, at every
   * restart of the session, scans them all (most of the target's time after
   * a few thousand inputs). What BIRD wrote before is still read.
   */
  struct linger lg = { .l_onoff = 1, .l_linger = 0 };
  setsockopt(bp->incoming_conn.sk->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));

  peer_open(pr, 0x7f000002 | (n << 8));
  peer_msg(pr, PKT_KEEPALIVE, NULL, 0);
  FZ_CHECK(bp->conn && (bp->conn->state == BS_ESTABLISHED) && (bp->p.proto_state == PS_UP),
	   "%s: not established", pr->name);
}

/* Close our end: BIRD sees the connection end, as on a peer's close */
static void
peer_down(struct peer *pr)
{
  sock *sk = bird_sk(pr);

  if (pr->fd >= 0)
  {
    peer_read(pr);
    if (pr->fd >= 0)
    {
      close(pr->fd);
      pr->fd = -1;
    }
  }

  /* BIRD reads the end of the stream: its socket's error hook, no error */
  if (sk)
    sk->err_hook(sk, 0);
  settle();
}

static uint
free_port(void)
{
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000101) };
  socklen_t l = sizeof(a);
  FZ_CHECK((fd >= 0) && !bind(fd, (void *) &a, sizeof(a)) && !getsockname(fd, (void *) &a, &l), "port: %m");
  close(fd);
  return ntohs(a.sin_port);
}

static rtable *
table(const char *name)
{
  struct symbol *s = cf_find_symbol(config, name);
  FZ_CHECK(s && (s->class == SYM_TABLE), "no table %s", name);
  return s->table->table;
}

static void
start(void)
{
  fz_init();
  signal(SIGPIPE, SIG_IGN);
  verbose = !!getenv("FUZZ_VERBOSE");
  port = free_port();

  /*
   * Multihop sessions on loopback addresses, strictly bound (three
   * listening sockets of a port nobody else uses); next hops resolve over
   * default routes
   */
  char cfg[4096];
  bsnprintf(cfg, sizeof(cfg),
    "router id 192.0.2.1;\n"
    "protocol device {}\n"
    "protocol static { ipv4; route 0.0.0.0/0 blackhole; }\n"
    "protocol static { ipv6; route ::/0 blackhole; }\n"
    "template bgp fz { passive; multihop; strict bind; local as %u; }\n"
    "protocol bgp t1 from fz { local 127.0.1.1 port %u; neighbor 127.0.1.2 as 64501;\n"
    "  ipv4 { import all; export none; add paths rx; };\n"
    "  ipv6 { import all; export none; add paths rx; next hop address 2001:db8:1::1; }; }\n"
    "protocol bgp t2 from fz { local 127.0.2.1 port %u; neighbor 127.0.2.2 as 64502;\n"
    "  ipv4 mpls { import all; export none; add paths rx; };\n"
    "  ipv6 mpls { import all; export none; add paths rx; next hop address 2001:db8:2::1; }; }\n"
    "protocol bgp h1 from fz { local 127.0.3.1 port %u; neighbor 127.0.3.2 as %u;\n"
    "  ipv4 mpls { import none; export where source = RTS_BGP; next hop self; add paths tx; };\n"
    "  ipv6 mpls { import none; export where source = RTS_BGP; next hop self; add paths tx; next hop address " NH6 "; }; }\n"
    "protocol autopilot ap {\n"
    "  ipv4; ipv6;\n"
    "  egress t1 { label 1001; pp label 2001; };\n"
    "  egress t2 { label 1002; pp label 2002; };\n"
    "  max overrides 64;\n"
    "}\n", ASN, port, port, port, ASN);
  fz_configure(cfg);

  P = (void *) fz_proto("ap");
  FZ_CHECK(P && (P->p.proto_state == PS_UP), "protocol ap not up");
  tab4 = table("master4");
  tab6 = table("master6");

  for (uint i = 0; i < NPEERS; i++)
  {
    peers[i].fd = -1;
    peers[i].bp = (void *) fz_proto(peers[i].name);
    FZ_CHECK(peers[i].bp, "no protocol %s", peers[i].name);
  }

  init_list(&hooks_off);
  peers[H1].add_path = peers[H1].as4 = 1;
  peer_up(&peers[H1]);
}

/*
 * A path as the other run must have it: its session, prefix, path ID as
 * received, and a hash of what BGP made of the UPDATE (next hop, labels,
 * every attribute but the egress's label, large communities without ours
 * and the disable community, which our hook removes)
 */
struct spath {
  uint peer;				/* T1 or T2 */
  net_addr net;				/* Prefix */
  u32 path_id;				/* As received (ADD-PATH), 0 without */
  u64 hash;				/* Of the rest */
};

struct snap {
  struct spath *p;			/* Paths, sorted */
  uint n, size;				/* How many, room */
  uint resets[2];			/* Sessions BIRD reset, by egress */
  uint notified[2];			/* The last NOTIFICATION of each egress */
};

static struct snap snaps[2];		/* With our hooks, without */

static inline u64
fnv(u64 h, const void *data, size_t len)
{
  const byte *d = data;
  for (size_t i = 0; i < len; i++)
    h = (h ^ d[i]) * 1099511628211ULL;
  return h;
}

static int
ours(const u32 *lc)
{
  return ((lc[0] == ASN) && (lc[1] >= 1) && (lc[1] <= AUTOPILOT_LC_MAX)) ||
    ((lc[0] == AUTOPILOT_PP_DEFAULT.asn) && (lc[1] == AUTOPILOT_PP_DEFAULT.ldp1) && (lc[2] == AUTOPILOT_PP_DEFAULT.ldp2));
}

/* With FUZZ_VERBOSE: each attribute a path's hash counts, to tell which differs between the runs */
static void
dump_attr(rte *e, eattr *x, u64 k)
{
  char b[256];
  bsnprintf(b, sizeof(b), "%N path %u: attribute %x type %x flags %x hash %016lx",
	    e->net->n.addr, e->src->private_id, x->id, x->type, x->flags, k);
  fprintf(stderr, "fuzz: %s %s", stock ? "stock" : "hooks", b);
  if (!(x->type & EAF_EMBEDDED))
    for (uint j = 0; j < x->u.ptr->length; j++)
      fprintf(stderr, "%s%02x", (j % 4) ? "" : " ", x->u.ptr->data[j]);
  fprintf(stderr, "\n");
}

static u64
rte_hash(rte *e)
{
  rta *a = e->attrs;
  u64 h = 14695981039346656037ULL;

  uint f[3] = { a->source, a->dest, a->nh.labels };
  h = fnv(h, f, sizeof(f));
  h = fnv(h, &a->nh.gw, sizeof(a->nh.gw));
  h = fnv(h, a->nh.label, a->nh.labels * sizeof(u32));

  /* Attributes in order of their codes, whatever order the lists are in */
  u64 sum = 0;
  for (ea_list *l = a->eattrs; l; l = l->next)
    for (uint i = 0; i < l->count; i++)
    {
      eattr *x = &l->attrs[i];
      if ((x->id == EA_MPLS_LABEL) || x->undef)
	continue;

      uint g[3] = { x->id, x->type, x->flags };
      u64 k = fnv(14695981039346656037ULL, g, sizeof(g));
      if (x->type & EAF_EMBEDDED)
	k = fnv(k, &x->u.data, sizeof(x->u.data));
      else if (x->id == EA_CODE(PROTOCOL_BGP, BA_LARGE_COMMUNITY))
      {
	const u32 *d = (const u32 *) x->u.ptr->data;
	uint kept = 0;
	for (uint j = 0; j < x->u.ptr->length / 12; j++)
	  if (!ours(d + 3*j))
	    k = fnv(k, d + 3*j, 12), kept++;
	if (!kept)
	  continue;		/* An empty set is no set: the hook unsets it */
      }
      else
	k = fnv(k, x->u.ptr->data, x->u.ptr->length);

      sum += k;			/* Commutative: the order of the lists is not BGP's decision */
      if (verbose)
	dump_attr(e, x, k);
    }

  return fnv(h, &sum, sizeof(sum));
}

static int
spath_cmp(const void *a, const void *b)
{
  const struct spath *x = a, *y = b;
  if (x->peer != y->peer)
    return (int) x->peer - (int) y->peer;
  int c = net_compare(&x->net, &y->net);
  if (c)
    return c;
  return (x->path_id > y->path_id) - (x->path_id < y->path_id);
}

/*
 * The tables against the rules and the host's view, into @sn; @empty:
 * nothing from egresses may be left
 */
static void
check_tables(struct snap *sn, int empty)
{
  uint routes = 0, exported = 0;
  rtable *tabs[2] = { tab4, tab6 };

  for (uint i = 0; i < (1 << HBITS); i++)
    for (struct hpath *h = hview[i]; h; h = h->next)
      h->seen = 0;

  for (uint t = 0; t < 2; t++)
    FIB_WALK(&tabs[t]->fib, net, n)
    {
      for (rte *e = n->routes; e; e = e->next)
      {
	struct peer *pr = NULL;
	for (uint i = T1; i <= T2; i++)
	  if (e->src->proto == &peers[i].bp->p)
	    pr = &peers[i];
	if (!pr)
	  continue;

	routes++;
	FZ_CHECK(!empty, "%N from %s left after its session closed", n->n.addr, pr->name);

	if (sn->n == sn->size)
	  sn->p = realloc(sn->p, (sn->size = sn->size ? 2 * sn->size : 256) * sizeof(struct spath));
	struct spath *sp = &sn->p[sn->n++];
	memset(sp, 0, sizeof(*sp));
	sp->peer = pr - peers;
	net_copy(&sp->net, n->n.addr);
	sp->path_id = e->src->private_id;
	sp->hash = rte_hash(e);

	eattr *l = ea_find(e->attrs->eattrs, EA_MPLS_LABEL);
	FZ_CHECK(stock || (l && (l->u.data == pr->label)), "%N from %s: label %d, want %u",
		 n->n.addr, pr->name, l ? (int) l->u.data : -1, pr->label);

	eattr *lc = ea_find(e->attrs->eattrs, EA_CODE(PROTOCOL_BGP, BA_LARGE_COMMUNITY));
	if (lc && !stock)
	{
	  const u32 *d = (const u32 *) lc->u.ptr->data;
	  FZ_CHECK(lc->u.ptr->length, "%N from %s: an empty LARGE_COMMUNITY", n->n.addr, pr->name);
	  for (uint k = 0; k < lc->u.ptr->length / 12; k++)
	    FZ_CHECK(!ours(d + 3*k), "%N from %s keeps (%u, %u, %u)", n->n.addr, pr->name, d[3*k], d[3*k+1], d[3*k+2]);
	}

	/* Not exported to the host: BGP's rules (bgp_preexport) */
	eattr *c = ea_find(e->attrs->eattrs, EA_CODE(PROTOCOL_BGP, BA_COMMUNITY));
	if (c && (int_set_contains(c->u.ptr, BGP_COMM_NO_ADVERTISE) || int_set_contains(c->u.ptr, BGP_COMM_LLGR_STALE)))
	  continue;

	/* The host has it, with its labels */
	const net_addr *a = n->n.addr;
	byte px[16];
	uint afi;
	if (a->type == NET_IP4)
	{
	  ip4_addr x = ip4_hton(net4_prefix(a));
	  memcpy(px, &x, 4);
	  afi = 1;
	}
	else
	{
	  ip6_addr x = ip6_hton(net6_prefix(a));
	  memcpy(px, &x, 16);
	  afi = 2;
	}

	byte key[22];
	hkey(key, afi, net_pxlen(a), px, e->src->global_id);
	struct hpath *h = *hfind(key);
	FZ_CHECK(h, "%N from %s (path %u) not sent to the host", a, pr->name, e->src->global_id);
	FZ_CHECK(stock || ((h->label == pr->label) && (h->pp_label == pr->pp_label)),
		 "%N from %s: the host has labels %u, %u", a, pr->name, h->label, h->pp_label);
	h->seen = 1;
	exported++;
      }
    }
    FIB_WALK_END;

  for (uint i = 0; i < (1 << HBITS); i++)
    for (struct hpath *h = hview[i]; h; h = h->next)
      FZ_CHECK(h->seen, "the host has a path (AFI %u, /%u, path %u) the table does not", h->key[0], h->key[1], get_u32(h->key + 18));
  FZ_CHECK(exported == hcount, "host view %u, table %u", hcount, exported);

  qsort(sn->p, sn->n, sizeof(struct spath), spath_cmp);

  if (verbose)
    fprintf(stderr, "fuzz: %s: %u routes from egresses, %u on the host\n", stock ? "stock" : "hooks", routes, exported);
}

/* Our hooks out of BGP's list for a run of BIRD as it is, and back */
static void
hooks(int on)
{
  list *from = on ? &hooks_off : &bgp_hooks, *to = on ? &bgp_hooks : &hooks_off;
  node *n, *nx;

  WALK_LIST_DELSAFE(n, nx, *from)
  {
    rem_node(n);
    add_tail(to, n);
  }
}

/* One run of the input: the records, the checks, the sessions closed */
static void
run(const uint8_t *data, size_t size, struct snap *sn)
{
  peers[T1].add_path = !!(data[0] & 1);
  peers[T2].add_path = !!(data[0] & 2);
  peers[T1].as4 = !(data[0] & 4);
  peers[T2].as4 = !(data[0] & 8);
  data++, size--;

  sn->n = 0;
  memset(sn->resets, 0, sizeof(sn->resets));
  memset(sn->notified, 0, sizeof(sn->notified));
  peers[T1].notified = peers[T2].notified = 0;

  while (size)
  {
    uint ctl = data[0];
    size_t len = (size >= 3) ? get_u16(data + 1) : 0;
    data += MIN(size, 3), size -= MIN(size, 3);
    len = MIN(len, size);

    struct peer *pr = &peers[(ctl & 1) ? T2 : T1];
    if (pr->fd < 0)
      peer_up(pr);

    if (ctl & 2)
      peer_send(pr, data, len);
    else
      peer_msg(pr, PKT_UPDATE, data, len);
    data += len, size -= len;

    /* A reset (a NOTIFICATION) closed the connection: the next record opens one */
    settle();
    if (!pr->bp->conn || (pr->bp->conn->state != BS_ESTABLISHED))
    {
      sn->resets[pr - peers]++;
      peer_read(pr);
      if (pr->fd >= 0)
      {
	close(pr->fd);
	pr->fd = -1;
      }
      settle();
    }
  }

  /* What the host was sent until now; not the withdrawals of the end */
  if (dump_file)
  {
    fclose(dump_file);
    dump_file = NULL;
  }

  sn->notified[T1] = peers[T1].notified;
  sn->notified[T2] = peers[T2].notified;
  if (verbose)
    fprintf(stderr, "fuzz: %s: resets %u, %u; last NOTIFICATIONs %04x, %04x\n", stock ? "stock" : "hooks",
	    sn->resets[T1], sn->resets[T2], sn->notified[T1], sn->notified[T2]);
  check_tables(sn, 0);

  peer_down(&peers[T1]);
  peer_down(&peers[T2]);
  struct snap none = {};
  check_tables(&none, 1);
  FZ_CHECK(!hcount, "%u paths left on the host", hcount);
  FZ_CHECK(P->p.proto_state == PS_UP, "protocol ap not up");
  FZ_CHECK(peers[H1].bp->conn && (peers[H1].bp->conn->state == BS_ESTABLISHED), "host session down");
  lp_flush(tmp_linpool);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (!P)
    start();

  if (!size)
    return 0;

  /*
   * Differential: BIRD without our hooks first, then with them. BGP must
   * decide the same (the same paths accepted, the same sessions reset,
   * with the same error), and the paths must be the same but for what the
   * hook does.
   */
  struct snap *a = &snaps[0], *b = &snaps[1];
  hooks(0);
  stock = 1;
  run(data, size, b);
  hooks(1);
  stock = 0;

  const char *dump = getenv("FUZZ_BGP_DUMP");
  if (dump)
  {
    dump_file = fopen(dump, "wb");
    FZ_CHECK(dump_file, "%s: %m", dump);
    fputc(2, dump_file);		/* t2 sends ADD-PATH, 4-byte AS numbers */
  }

  run(data, size, a);


  for (uint i = T1; i <= T2; i++)
  {
    FZ_CHECK(a->resets[i] == b->resets[i], "%s: %u resets with our hooks, %u without",
	     peers[i].name, a->resets[i], b->resets[i]);
    FZ_CHECK(a->notified[i] == b->notified[i], "%s: NOTIFICATION %u/%u with our hooks, %u/%u without", peers[i].name,
	     a->notified[i] >> 8, a->notified[i] & 0xff, b->notified[i] >> 8, b->notified[i] & 0xff);
  }

  for (uint i = 0; i < MAX(a->n, b->n); i++)
  {
    FZ_CHECK((i < a->n) && (i < b->n), "%u paths with our hooks, %u without", a->n, b->n);
    struct spath *x = &a->p[i], *y = &b->p[i];
    FZ_CHECK(!spath_cmp(x, y), "%s %N path %u with our hooks, %s %N path %u without",
	     peers[x->peer].name, &x->net, x->path_id, peers[y->peer].name, &y->net, y->path_id);
    FZ_CHECK(x->hash == y->hash, "%s %N path %u: attributes differ with our hooks beyond the egress's label and our communities",
	     peers[x->peer].name, &x->net, x->path_id);
  }

  return 0;
}
