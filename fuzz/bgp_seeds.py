#!/usr/bin/env python3
"""Write the seed inputs of the bgp fuzz target (fuzz/bgp_fuzz.c) to DIR.

Each seed is what the target reads: a byte of the egress peers'
capabilities (bit 0: t1 sends ADD-PATH, bit 1: t2 does, bit 2: t1 without
4-byte AS numbers, bit 3: t2 without), then records [ctl][length: 2][bytes]
(ctl bit 0: t2, else t1; bit 1: raw bytes, else an UPDATE body). The
UPDATEs are built here field by field after RFC 4271, 4760, 6793, 7911,
8092 and 8277: what transits send (AS paths, communities of every kind,
IPv4 and IPv6, labeled unicast), our own communities and the Precision
Path disable community as a transit must not send them, withdrawals, and
malformed attributes of each class of RFC 7606 (attribute discard, treat
as withdraw, session reset).

With REPLAY (the target's replay binary, _build/fuzz/bgp_replay), each
seed is run once more with FUZZ_BGP_DUMP and what BIRD sent the host (its
own encoder: labeled unicast, ADD-PATH, our communities) becomes a seed
bird-NAME, sent by t2 as if a transit sent it.

Usage: bgp_seeds.py DIR [REPLAY]
"""
import os
import struct
import subprocess
import sys

ASN = 65000
PP_DISABLE = (4200000000, 4, 0)


def attr(flags, code, value):
    if len(value) > 255:
        return struct.pack('!BBH', flags | 0x10, code, len(value)) + value
    return struct.pack('!BBB', flags, code, len(value)) + value


def as_path(asns, as4=True, seg=2):
    fmt = '!I' if as4 else '!H'
    return bytes([seg, len(asns)]) + b''.join(struct.pack(fmt, a) for a in asns)


def large(*comms):
    return b''.join(struct.pack('!III', *c) for c in comms)


def std(*comms):
    return b''.join(struct.pack('!I', c) for c in comms)


def prefix(addr, plen, path_id=None, labels=()):
    b = struct.pack('!I', path_id) if path_id is not None else b''
    lab = b''
    for i, l in enumerate(labels):
        lab += struct.pack('!I', (l << 4) | (i == len(labels) - 1))[1:]
    return b + bytes([plen + 24 * len(labels)]) + lab + bytes(addr[:(plen + 7) // 8])


def v4(s):
    return bytes(int(x) for x in s.split('.'))


def v6(s):
    import ipaddress
    return ipaddress.IPv6Address(s).packed


def mp_reach(afi, safi, nh, nlri):
    return attr(0x80, 14, struct.pack('!HBB', afi, safi, len(nh)) + nh + b'\0' + nlri)


def mp_unreach(afi, safi, nlri):
    return attr(0x80, 15, struct.pack('!HB', afi, safi) + nlri)


def update(attrs=(), nlri=b'', withdrawn=b''):
    a = b''.join(attrs)
    return struct.pack('!H', len(withdrawn)) + withdrawn + struct.pack('!H', len(a)) + a + nlri


def record(t2, body, raw=False):
    return bytes([(1 if t2 else 0) | (2 if raw else 0)]) + struct.pack('!H', len(body)) + body


def message(mtype, body):
    return b'\xff' * 16 + struct.pack('!HB', 19 + len(body), mtype) + body


ORIGIN_IGP = attr(0x40, 1, b'\0')
NH_T1 = attr(0x40, 3, v4('127.0.1.2'))


def t1_base(asns=(64501, 3356, 15169), as4=True):
    return [ORIGIN_IGP, attr(0x40, 2, as_path(asns, as4)), NH_T1]


seeds = {}

# t1, ADD-PATH, 4-byte AS: a full-table-like UPDATE with our communities and the disable community
seeds['t1-addpath-ours'] = bytes([1]) + record(0, update(
    t1_base() + [attr(0x80, 4, struct.pack('!I', 10)),
                 attr(0xc0, 8, std(3356 << 16 | 100, 0xfde80001)),
                 attr(0xc0, 32, large((ASN, 1, 7), (ASN, 2, 9), (ASN, 3, 1), (ASN, 4, 0),
                                      PP_DISABLE, (64501, 100, 1), (ASN, 5, 5)))],
    b''.join(prefix(v4('10.%d.0.0' % i), 16, path_id=i) for i in range(1, 9))))

# Our community in a set a transit marked partial (RFC 4271 5: the bit must stay set)
seeds['t1-partial'] = bytes([0]) + record(0, update(
    t1_base() + [attr(0xe0, 32, large((ASN, 2, 9), (64501, 1, 1))), attr(0xe0, 8, std(0xfa56ea04))],
    prefix(v4('10.60.0.0'), 16)))

# t1 without 4-byte AS: AS_PATH with AS_TRANS and AS4_PATH, AGGREGATOR and AS4_AGGREGATOR
seeds['t1-as2-as4path'] = bytes([4]) + record(0, update(
    [ORIGIN_IGP, attr(0x40, 2, as_path([64501, 23456, 23456], as4=False)), NH_T1,
     attr(0xc0, 17, as_path([4200000001, 4200000002])),
     attr(0xc0, 7, struct.pack('!H', 23456) + v4('192.0.2.9')),
     attr(0xc0, 18, struct.pack('!I', 4200000002) + v4('192.0.2.9')),
     attr(0x40, 6, b'')],
    prefix(v4('198.51.100.0'), 24)))

# t1 IPv6 with a link-local next hop, extended and large communities
seeds['t1-ipv6'] = bytes([0]) + record(0, update(
    [ORIGIN_IGP, attr(0x40, 2, as_path([64501, 6939])),
     mp_reach(2, 1, v6('2001:db8:1::2') + v6('fe80::2'),
              prefix(v6('2001:db8:100::'), 48) + prefix(v6('2001:db8:200::'), 40)),
     attr(0xc0, 16, struct.pack('!BBHI', 0, 2, 64501, 7)),
     attr(0xc0, 32, large((ASN, 2, 1234), (64501, 1, 1)))]))

# t2 labeled unicast, ADD-PATH: IPv4 and IPv6, label stacks of one and two
seeds['t2-labeled'] = bytes([2]) + record(1, update(
    [ORIGIN_IGP, attr(0x40, 2, as_path([64502, 174])),
     mp_reach(1, 4, v4('127.0.2.2'),
              prefix(v4('10.1.0.0'), 16, 5, [16]) + prefix(v4('10.2.0.0'), 16, 6, [17, 18]) +
              prefix(v4('10.3.3.0'), 24, 7, [3]))])) + record(1, update(
    [ORIGIN_IGP, attr(0x40, 2, as_path([64502])),
     mp_reach(2, 4, v6('2001:db8:2::2'), prefix(v6('2001:db8:300::'), 48, 1, [100])),
     attr(0xc0, 32, large(PP_DISABLE))]))

# Both egresses announce the same prefixes, then withdraw some (both ways: IPv4 field, MP_UNREACH)
same = b''.join(prefix(v4('10.9.%d.0' % i), 24) for i in range(4))
seeds['both-withdraw'] = bytes([0]) + record(0, update(t1_base(), same)) + record(1, update(
    [ORIGIN_IGP, attr(0x40, 2, as_path([64502, 1299])),
     mp_reach(1, 4, v4('127.0.2.2'), b''.join(prefix(v4('10.9.%d.0' % i), 24, labels=[20 + i]) for i in range(4)))])) + \
    record(0, update(withdrawn=prefix(v4('10.9.1.0'), 24))) + \
    record(1, update([mp_unreach(1, 4, prefix(v4('10.9.2.0'), 24, labels=[0x80000]))]))

# Many prefixes in one UPDATE: one attribute set shared by 400 routes
seeds['t1-many'] = bytes([0]) + record(0, update(
    t1_base((64501,)) + [attr(0xc0, 32, large((64501, 7, 7)))],
    b''.join(prefix(bytes([11, i // 256, i % 256, 0]), 24) for i in range(400))[:3900]))

# Communities BGP acts on: NO_ADVERTISE (not sent to the host), NO_EXPORT, LLGR_STALE
seeds['t1-well-known'] = bytes([0]) + record(0, update(
    t1_base() + [attr(0xc0, 8, std(0xffffff02))], prefix(v4('10.20.0.0'), 16))) + record(0, update(
    t1_base() + [attr(0xc0, 8, std(0xffffff01, 0xffff0006))], prefix(v4('10.21.0.0'), 16))) + record(0, update(
    t1_base() + [attr(0x40, 5, struct.pack('!I', 300)), attr(0x80, 9, v4('1.2.3.4')),
                 attr(0x80, 10, v4('5.6.7.8')), attr(0xe0, 99, b'unknown')], prefix(v4('10.22.0.0'), 16)))

# RFC 7606 classes: treat as withdraw (bad ORIGIN, bad AS_PATH), attribute discard
# (bad ATOMIC_AGGREGATE, AGGREGATOR), session reset (two MP_REACH_NLRI, overrun)
good = prefix(v4('10.30.0.0'), 16)
seeds['malformed-withdraw'] = bytes([0]) + record(0, update(t1_base(), good)) + record(0, update(
    [attr(0x40, 1, b'\x07'), attr(0x40, 2, as_path([64501])), NH_T1], good)) + record(0, update(
    [ORIGIN_IGP, attr(0x40, 2, b'\x02\x05\x00\x00'), NH_T1], prefix(v4('10.31.0.0'), 16)))
seeds['malformed-discard'] = bytes([0]) + record(0, update(
    t1_base() + [attr(0x40, 6, b'\x01'), attr(0xc0, 7, b'\x01\x02\x03')], prefix(v4('10.32.0.0'), 16))) + \
    record(0, update(t1_base() + [attr(0xc0, 32, b'\x00' * 13)], prefix(v4('10.33.0.0'), 16)))
two_mp = update([ORIGIN_IGP, attr(0x40, 2, as_path([64502])),
                 mp_reach(1, 4, v4('127.0.2.2'), prefix(v4('10.40.0.0'), 16, labels=[30])),
                 mp_reach(1, 4, v4('127.0.2.2'), prefix(v4('10.41.0.0'), 16, labels=[31]))])
overrun = update(t1_base())[:-2] + b'\x40\x05\x20' + b'\0' * 4
seeds['malformed-reset'] = bytes([0]) + record(0, update(t1_base(), good)) + record(1, two_mp) + \
    record(0, overrun) + record(0, update(t1_base(), prefix(v4('10.42.0.0'), 16)))

# Other messages: KEEPALIVE, ROUTE-REFRESH, End-of-RIB (empty UPDATE, MP_UNREACH alone),
# a peer's NOTIFICATION, a bad marker
seeds['raw-messages'] = bytes([3]) + record(0, message(4, b''), raw=True) + \
    record(0, message(5, struct.pack('!HBB', 1, 0, 1)), raw=True) + record(0, update()) + \
    record(1, update([mp_unreach(2, 4, b'')])) + \
    record(1, message(3, b'\x06\x02'), raw=True) + record(1, update(
        [ORIGIN_IGP, attr(0x40, 2, as_path([64502])), mp_reach(1, 4, v4('127.0.2.2'), prefix(v4('10.50.0.0'), 16, 1, [40]))])) + \
    record(0, b'\xfe' * 16 + b'\x00\x13\x04', raw=True)

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for name, data in sorted(seeds.items()):
    with open(os.path.join(out, name), 'wb') as f:
        f.write(data)
    print('%s: %d bytes' % (name, len(data)))

if len(sys.argv) > 2:
    for name in sorted(seeds):
        dump = os.path.join(out, 'bird-' + name)
        subprocess.run([sys.argv[2], os.path.join(out, name)], check=True, stdout=subprocess.DEVNULL,
                       env=dict(os.environ, FUZZ_BGP_DUMP=dump))
        if os.path.getsize(dump) <= 1:
            os.unlink(dump)
        else:
            print('bird-%s: %d bytes, from BIRD\'s encoder' % (name, os.path.getsize(dump)))
