"""Deterministic route tables for the integration tests and the demo.

The same seed always gives the same prefixes, so a test can assert exact
counts and pick a sample prefix that it knows is there. The prefix-length
mix follows the shape of the public table (mostly /24 and /48), because
BIRD's tries and fibs behave differently on a table of only /24s.

Outputs: BIRD static-protocol routes, an MRT TABLE_DUMP_V2 file for
`gobgp mrt inject global` (the fast way into gobgpd; per-prefix
`gobgp global rib add` is too slow for 10,000 routes), and ExaBGP
API commands.
"""

import ipaddress
import itertools
import random
import struct

# (prefix length, weight); weights are roughly the public table's shape.
V4_MIX = [(24, 600), (23, 100), (22, 120), (21, 45), (20, 40), (19, 25),
          (18, 10), (17, 8), (16, 14), (15, 2), (14, 2), (13, 1), (12, 1),
          (11, 1), (10, 1), (9, 1), (8, 1)]
V6_MIX = [(48, 550), (47, 10), (46, 20), (44, 90), (40, 70), (36, 30),
          (32, 130), (29, 40), (28, 20)]

# Unicast space only, so no generated route can shadow the 10.x / fd00::
# addresses of the test links or look like a martian to a real peer.
V4_SPACE = ipaddress.ip_network("0.0.0.0/0")
V4_RESERVED = [ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8",
    "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24",
    "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
    "203.0.113.0/24", "224.0.0.0/3")]
V6_SPACE = ipaddress.ip_network("2000::/3")
V6_RESERVED = [ipaddress.ip_network(n) for n in (
    "2001:db8::/32", "2001::/23", "2002::/16", "3fff::/20")]


def _generate(count, seed, mix, space, reserved):
    rng = random.Random(seed)
    lengths = [l for l, _ in mix]
    cum_weights = list(itertools.accumulate(w for _, w in mix))
    base = int(space.network_address)
    bits = space.max_prefixlen
    # Reserved ranges as [first, last] integers: ipaddress objects per
    # candidate make a million-route table take a minute instead of seconds.
    holes = [(int(r.network_address), int(r.broadcast_address)) for r in reserved]
    out = set()
    tries = 0
    while len(out) < count:
        tries += 1
        if tries > 50 * count + 1000:
            raise ValueError(f"cannot draw {count} distinct prefixes from {space}")
        plen = rng.choices(lengths, cum_weights=cum_weights)[0]
        host_bits = bits - plen
        first = base | (rng.getrandbits(plen - space.prefixlen) << host_bits)
        last = first | ((1 << host_bits) - 1)
        if any(first <= h_last and h_first <= last for h_first, h_last in holes):
            continue
        out.add((first, plen))
    return [ipaddress.ip_network(p) for p in sorted(out)]


def prefixes4(count, seed=1):
    """`count` distinct IPv4 prefixes, sorted."""
    return _generate(count, seed, V4_MIX, V4_SPACE, V4_RESERVED)


def prefixes6(count, seed=1):
    """`count` distinct IPv6 prefixes, sorted."""
    return _generate(count, seed, V6_MIX, V6_SPACE, V6_RESERVED)


def _extra(count, seed, taken, generate):
    """`count` prefixes of generate(n, seed) that are not in taken, sorted."""
    n = count
    while count:
        fresh = [p for p in generate(n, seed) if p not in taken]
        if len(fresh) >= count:
            return sorted(random.Random(seed).sample(fresh, count))
        n = 2 * n + len(taken)
    return []


def extra_prefixes4(count, seed, taken=()):
    """`count` distinct IPv4 prefixes not in taken: what one transit alone
    announces next to a table shared with others."""
    return _extra(count, seed, set(taken), prefixes4)


def extra_prefixes6(count, seed, taken=()):
    return _extra(count, seed, set(taken), prefixes6)


def bird_static(prefixes, kind="blackhole"):
    """Lines for a BIRD static protocol body (`route P blackhole;`)."""
    return "".join(f"route {p} {kind};\n" for p in prefixes)


# --- MRT TABLE_DUMP_V2 (RFC 6396) ---------------------------------------------

MRT_TABLE_DUMP_V2 = 13
PEER_INDEX_TABLE, RIB_IPV4_UNICAST, RIB_IPV6_UNICAST = 1, 2, 4
ATTR_ORIGIN, ATTR_AS_PATH, ATTR_NEXT_HOP, ATTR_MP_REACH = 1, 2, 3, 14
AS_SEQUENCE = 2


def _attr(flags, code, value):
    if len(value) > 255:
        return struct.pack("!BBH", flags | 0x10, code, len(value)) + value
    return struct.pack("!BBB", flags, code, len(value)) + value


def _mrt_record(subtype, body, ts):
    return struct.pack("!IHHI", ts, MRT_TABLE_DUMP_V2, subtype, len(body)) + body


def _prefix_bytes(net):
    nbytes = (net.prefixlen + 7) // 8
    return bytes([net.prefixlen]) + net.network_address.packed[:nbytes]


def write_mrt(path, v4=(), v6=(), as_path=(), pad=0, ts=1700000000):
    """Write a TABLE_DUMP_V2 file with one peer and one path per prefix.

    Next hops are 0.0.0.0 / ::, which gobgpd reads as "myself", so the
    injected routes go out with the transit's own address on each session.
    gobgp parses MP_REACH_NLRI in RIB entries as a full BGP attribute
    (AFI, SAFI, next hop, reserved byte), not RFC 6396's abbreviated form,
    so that is what we write.

    pad: copies of the last record to append (see GoBGP.inject in pop.py).
    """
    aspath = b""
    if as_path:
        aspath = struct.pack("!BB", AS_SEQUENCE, len(as_path)) + \
            b"".join(struct.pack("!I", a) for a in as_path)
    common = _attr(0x40, ATTR_ORIGIN, b"\x00") + _attr(0x40, ATTR_AS_PATH, aspath)
    attrs4 = common + _attr(0x40, ATTR_NEXT_HOP, bytes(4))
    mp6 = struct.pack("!HBB", 2, 1, 16) + bytes(16) + b"\x00"
    attrs6 = common + _attr(0x80, ATTR_MP_REACH, mp6)

    # One peer: IPv4 address, 4-byte AS (peer type bit 1).
    peer = struct.pack("!B4s4sI", 0x02, bytes(4), bytes(4), 0)
    out = [_mrt_record(PEER_INDEX_TABLE,
                       struct.pack("!4sH", bytes(4), 0) + struct.pack("!H", 1) + peer, ts)]
    seq = 0
    for subtype, nets, attrs in ((RIB_IPV4_UNICAST, v4, attrs4),
                                 (RIB_IPV6_UNICAST, v6, attrs6)):
        entry = struct.pack("!HIH", 0, ts, len(attrs)) + attrs
        for net in nets:
            body = struct.pack("!I", seq) + _prefix_bytes(net) + \
                struct.pack("!H", 1) + entry
            out.append(_mrt_record(subtype, body, ts))
            seq += 1
    out += out[-1:] * pad if len(out) > 1 else []
    with open(path, "wb") as f:
        f.write(b"".join(out))


# --- ExaBGP -------------------------------------------------------------------

def exabgp_announce(prefixes, neighbor=None, chunk=500):
    """ExaBGP API commands announcing `prefixes` with next-hop self.

    Many prefixes per command: one command per prefix makes ExaBGP spend
    its time parsing, not sending. Name the neighbor whose family they are,
    or ExaBGP warns for every route on every other neighbor.
    """
    prefixes = list(prefixes)
    to = f"neighbor {neighbor} " if neighbor else ""
    for i in range(0, len(prefixes), chunk):
        part = " ".join(str(p) for p in prefixes[i:i + chunk])
        yield f"{to}announce attributes next-hop self nlri {part}"


if __name__ == "__main__":
    import collections
    import sys
    n4, n6 = (int(a) for a in (sys.argv[1:3] or (10000, 5000)))
    for name, nets in (("ipv4", prefixes4(n4)), ("ipv6", prefixes6(n6))):
        mix = collections.Counter(n.prefixlen for n in nets)
        print(name, len(nets), dict(sorted(mix.items())))
