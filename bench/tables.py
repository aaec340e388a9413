"""Full tables for the benchmark: routegen's prefixes with realistic paths.

routegen gives the prefixes (fixed seed, the public table's prefix-length
mix). What a transit sends with them matters as much: a stock BIRD transit
with blackhole statics sends every prefix with the same attributes, so ~900
prefixes share one UPDATE and anything done once per UPDATE looks free. A
real full table has on the order of 10 prefixes per attribute set. So:

  origin AS   each prefix belongs to one of n/12 origin ASes, skewed (a few
              own thousands of prefixes, most own a handful)
  AS path     transit AS, 0..3 middle ASes chosen per (transit, origin), the
              origin: paths differ between transits, so does the best path
  community   (transit AS, 1000..1002) per prefix: ~3 attribute sets per origin

Outputs: the raw BGP UPDATE stream a transit sends (feeder.py replays it),
and MRT TABLE_DUMP_V2 files for `gobgp mrt inject` with arbitrary next hop,
LOCAL_PREF and large communities (routegen.write_mrt has neither).
"""

import hashlib
import pathlib
import struct
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "integration"))
import routegen  # noqa: E402  pylint: disable=wrong-import-position

MAX_MSG = 4096
MARKER = b"\xff" * 16
ORIGIN, AS_PATH, NEXT_HOP, LOCAL_PREF, COMMUNITIES = 1, 2, 3, 5, 8
MP_REACH, MP_UNREACH, LARGE_COMMUNITY = 14, 15, 32
WELL_KNOWN, OPTIONAL_TRANSITIVE, OPTIONAL = 0x40, 0xC0, 0x80


def _mix(x):
    """A cheap deterministic 64-bit hash (splitmix64 finalizer)."""
    x = (x + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return x ^ (x >> 31)


def attr(flags, code, value):
    if len(value) > 255:
        return struct.pack("!BBH", flags | 0x10, code, len(value)) + value
    return struct.pack("!BBB", flags, code, len(value)) + value


def nlri(net):
    return bytes([net.prefixlen]) + net.network_address.packed[:(net.prefixlen + 7) // 8]


class Table:
    """n4 IPv4 and n6 IPv6 prefixes, each with an origin and a variant."""

    def __init__(self, n4, n6, seed=1):
        self.n4, self.n6, self.seed = n4, n6, seed
        self.v4 = routegen.prefixes4(n4, seed)
        self.v6 = routegen.prefixes6(n6, seed)
        # Key = (origin, community variant); prefixes of one key share attributes.
        self.groups4 = self._groups(self.v4, seed)
        self.groups6 = self._groups(self.v6, seed + 1)

    @staticmethod
    def _groups(nets, seed):
        origins = max(1, len(nets) // 12)
        groups = {}
        for i, net in enumerate(nets):
            h = _mix(seed * 1000003 + i)
            r = (h & 0xFFFFFFFF) / 2**32
            key = (int(origins * r ** 2.5), (h >> 32) % 3)
            groups.setdefault(key, []).append(nlri(net))
        return groups

    def key(self):
        """What a cached stream depends on: sizes, seed and the generators' code."""
        h = hashlib.sha256()
        for f in (pathlib.Path(routegen.__file__), pathlib.Path(__file__)):
            h.update(f.read_bytes())
        h.update(f"{self.n4} {self.n6} {self.seed}".encode())
        return h.hexdigest()[:16]

    @staticmethod
    def as_path(transit_as, transit_index, origin):
        h = _mix(transit_index * 7919 + origin)
        middle = [2000 + (_mix(h + i) % 3000) for i in range(h % 4)]
        return [transit_as] + middle + [100000 + origin]

    def updates(self, family, transit_as, transit_index, nexthop):
        """The UPDATE messages (bytes) a transit sends for family 4 or 6,
        packed per attribute set as BGP speakers do, then End-of-RIB."""
        groups = self.groups4 if family == 4 else self.groups6
        nh = nexthop.packed
        out = []
        for (origin, variant), prefixes in groups.items():
            path = self.as_path(transit_as, transit_index, origin)
            common = (attr(WELL_KNOWN, ORIGIN, b"\x00") +
                      attr(WELL_KNOWN, AS_PATH, struct.pack("!BB", 2, len(path)) +
                           b"".join(struct.pack("!I", a) for a in path)) +
                      attr(OPTIONAL_TRANSITIVE, COMMUNITIES,
                           struct.pack("!HH", transit_as, 1000 + variant)))
            if family == 4:
                attrs = common + attr(WELL_KNOWN, NEXT_HOP, nh)
                room = MAX_MSG - 19 - 4 - len(attrs)
                for chunk in _chunks(prefixes, room):
                    out.append(_update(attrs, chunk))
            else:
                # MP_REACH_NLRI carries the prefixes: its header is 4 (extended
                # length) + AFI, SAFI, next hop length, next hop, reserved.
                room = MAX_MSG - 19 - 4 - len(common) - 4 - 5 - len(nh)
                for chunk in _chunks(prefixes, room):
                    mp = struct.pack("!HBB", 2, 1, len(nh)) + nh + b"\x00" + chunk
                    out.append(_update(common + attr(OPTIONAL, MP_REACH, mp), b""))
        out.append(end_of_rib(family))
        return b"".join(out)

    def write_stream(self, path, family, transit_as, transit_index, nexthop):
        path = pathlib.Path(path)
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(self.updates(family, transit_as, transit_index, nexthop))
            tmp.rename(path)
        return path

    def stats(self):
        """Prefixes per attribute set, the number that makes UPDATEs small."""
        sets = len(self.groups4) + len(self.groups6)
        return {"attribute_sets_per_transit": sets,
                "prefixes_per_set": round((self.n4 + self.n6) / max(1, sets), 1)}


def _chunks(prefixes, room):
    chunk, size = [], 0
    for p in prefixes:
        if size + len(p) > room:
            yield b"".join(chunk)
            chunk, size = [], 0
        chunk.append(p)
        size += len(p)
    if chunk:
        yield b"".join(chunk)


def _update(attrs, nlri_bytes, withdrawn=b""):
    body = struct.pack("!H", len(withdrawn)) + withdrawn + struct.pack("!H", len(attrs)) + attrs + nlri_bytes
    return MARKER + struct.pack("!HB", 19 + len(body), 2) + body


def end_of_rib(family):
    if family == 4:
        return _update(b"", b"")
    return _update(attr(OPTIONAL, MP_UNREACH, struct.pack("!HB", 2, 1)), b"")


# --- MRT for gobgp mrt inject ---------------------------------------------------

def write_mrt(path, nets, nexthop, local_pref=None, large_communities=(), pad=2000, ts=1700000000):
    """TABLE_DUMP_V2 with one path per IPv4 prefix: empty AS path (iBGP from
    a routing manager), NEXT_HOP nexthop (the target egress), LOCAL_PREF and
    large communities if given. pad: copies of the last record, because
    gobgp 3.10's inject loses its last few hundred (see pop.GoBGP.inject)."""
    attrs = (attr(WELL_KNOWN, ORIGIN, b"\x00") + attr(WELL_KNOWN, AS_PATH, b"") +
             attr(WELL_KNOWN, NEXT_HOP, nexthop.packed))
    if local_pref is not None:
        attrs += attr(WELL_KNOWN, LOCAL_PREF, struct.pack("!I", local_pref))
    if large_communities:
        attrs += attr(OPTIONAL_TRANSITIVE, LARGE_COMMUNITY,
                      b"".join(struct.pack("!III", *c) for c in large_communities))

    def record(subtype, body):
        return struct.pack("!IHHI", ts, 13, subtype, len(body)) + body

    peer = struct.pack("!B4s4sI", 0x02, bytes(4), bytes(4), 0)
    out = [record(1, struct.pack("!4sH", bytes(4), 0) + struct.pack("!H", 1) + peer)]
    entry = struct.pack("!HIH", 0, ts, len(attrs)) + attrs
    for seq, net in enumerate(nets):
        out.append(record(2, struct.pack("!I", seq) + nlri(net) + struct.pack("!H", 1) + entry))
    out += out[-1:] * pad
    pathlib.Path(path).write_bytes(b"".join(out))


if __name__ == "__main__":
    import ipaddress
    import time
    n4, n6 = (int(a) for a in (sys.argv[1:3] or (100000, 20000)))
    t = time.monotonic()
    tab = Table(n4, n6)
    t1 = time.monotonic()
    s4 = tab.updates(4, 64501, 1, ipaddress.ip_address("10.0.1.1"))
    s6 = tab.updates(6, 64501, 1, ipaddress.ip_address("fd00:0:0:1::1"))
    print(f"generate {t1 - t:.1f}s, encode {time.monotonic() - t1:.1f}s; "
          f"{len(s4) + len(s6)} bytes; {tab.stats()}")
