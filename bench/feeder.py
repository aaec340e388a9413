"""A transit that replays a full table: one BGP session per address family.

Usage (in the transit's namespace):
  feeder.py --as ASN --id ROUTER_ID SESSION [SESSION ...]
  SESSION = LOCAL,PEER,AFI,STREAM   e.g. 10.0.1.1,10.0.1.2,4,/tmp/t1.v4.bgp

Each session connects to PEER:179 from LOCAL, offers hold time 0 (no
keepalives, so a busy receiver never times us out) and waits. SIGUSR1 is
the start signal: every session then writes its pre-encoded UPDATE stream
(tables.py) with one sendall(), at the speed the peer reads it. A replay
costs the transit next to no CPU, so on a 2-core machine the measurement
is the switch's and the hosts' work, not a transit BIRD exporting 4.8M
paths next to them. A session that drops reconnects and, once started,
sends its table again at once (a switch restarting).

Lines on stdout: `established AFI`, `sent AFI BYTES SECONDS`, `closed AFI`.
"""

import signal
import socket
import struct
import sys
import threading
import time

go = threading.Event()


def say(msg):
    print(msg, flush=True)


def open_msg(asn, router_id, afi):
    caps = (struct.pack("!BBHBB", 1, 4, afi, 0, 1) +        # multiprotocol AFI/unicast
            struct.pack("!BB", 2, 0) +                        # route refresh
            struct.pack("!BBI", 65, 4, asn))                  # 4-octet AS
    params = struct.pack("!BB", 2, len(caps)) + caps
    body = struct.pack("!BHH4sB", 4, asn if asn < 65536 else 23456, 0,
                       socket.inet_aton(router_id), len(params)) + params
    return b"\xff" * 16 + struct.pack("!HB", 19 + len(body), 1) + body


KEEPALIVE = b"\xff" * 16 + struct.pack("!HB", 19, 4)


def read_msg(sock):
    head = _read(sock, 19)
    length, kind = struct.unpack("!HB", head[16:19])
    return kind, _read(sock, length - 19)


def _read(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed by peer")
        buf += chunk
    return buf


def session(asn, router_id, local, peer, afi, stream):
    family = socket.AF_INET6 if ":" in peer else socket.AF_INET
    while True:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.bind((local, 0))
            sock.connect((peer, 179))
            sock.sendall(open_msg(asn, router_id, 1 if afi == 4 else 2))
            kind, body = read_msg(sock)
            if kind != 1:
                raise ConnectionError(f"expected OPEN, got type {kind} {body[:2].hex()}")
            sock.sendall(KEEPALIVE)
            while read_msg(sock)[0] != 4:
                pass
            say(f"established {afi}")
            go.wait()
            t = time.monotonic()
            sock.sendall(stream)
            say(f"sent {afi} {len(stream)} {time.monotonic() - t:.3f}")
            while True:             # drain: the peer's End-of-RIB, a NOTIFICATION
                read_msg(sock)
        except (OSError, ConnectionError) as e:
            say(f"closed {afi}: {e}")
        finally:
            sock.close()
        time.sleep(0.2)


def main():
    args = sys.argv[1:]
    asn = int(args[args.index("--as") + 1])
    router_id = args[args.index("--id") + 1]
    sessions = [a for a in args if a.count(",") == 3]
    signal.signal(signal.SIGUSR1, lambda *_: go.set())
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    for spec in sessions:
        local, peer, afi, path = spec.split(",")
        with open(path, "rb") as f:
            stream = f.read()
        threading.Thread(target=session, daemon=True,
                         args=(asn, router_id, local, peer, int(afi), stream)).start()
    say("ready")
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
