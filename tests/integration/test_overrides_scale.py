"""Overrides at scale: an egress with thousands of overrides dies.

Its paths are flushed a chunk at a time, and while some /24s are gone the
covering /10 path from the same egress is still there. The overrides must
go pending at once (hosts fall back to BGP's choice within a second) and the
switch must keep answering: overrides hopping onto the covering paths once
made every flush step walk one long hash chain, and the switch stopped
answering for minutes.
"""

import ipaddress
import os
import time

from pop import Pop, Transit, bird_reply, converse, show_ap, show_overrides, time_until, via_text, wait_until

N = int(os.environ.get("AP_SCALE_OVERRIDES", "16000"))  # overrides, all on t2


def prefixes():
    assert N <= 16384, "the /24s must fit in 100.64.0.0/10"
    base = int(ipaddress.IPv4Address("100.64.0.0"))
    return [f"{ipaddress.IPv4Address(base + i * 256)}/24" for i in range(N)]


def covers():
    """t2 also announces the /10 covering every /24."""
    return ["100.64.0.0/10"]


def build(topo, bins, ap_options):
    """t1 and t2 (stock BIRD, IPv4 only) announce the /24s, t2 the covering /10 too."""
    transits = [Transit(families=("ipv4",), v4=prefixes() + covers() * (i == 2), v6=[])
                for i in (1, 2)]
    return Pop(topo, bins, transits, hosts=("h1",), prepend=True, ap_options=ap_options).build()


def host_copies(host):
    """Override copies on the host: paths with the marker (65000, 3, 1)."""
    code, out = bird_reply(host.daemon, "show route where bgp_large_community ~ [(65000, 3, 1)] count")
    for line in out.splitlines():
        if line.split()[1:2] == ["of"]:
            return int(line.split()[0])
    return 0


def test_egress_with_thousands_of_overrides_dies(topo, bins):
    pop = build(topo, bins, f"max overrides {2 * N};")
    sw, h1, t2 = pop.switch, pop.hosts[0], pop.transit("t2")

    load = sw.dir / "scale.set"
    load.write_text("".join(f"add {p} t2\n" for p in prefixes()))
    code, out = bird_reply(sw.daemon, f'autopilot load ap "{load}"')
    assert code < 8000, out
    wait_until(lambda: host_copies(h1) == N, 30, what=f"{N} override copies on h1")

    # The listing goes out a chunk at a time: every override, each once
    counts, rows = show_overrides(sw)
    assert counts["active"] == N and len(rows) == N
    assert set(rows) == set(prefixes()) and {r["via"] for r in rows.values()} == {via_text("t2")}

    t0 = time.monotonic()
    t2.node.daemon.kill()
    took = time_until(lambda: host_copies(h1) == 0, timeout=20, interval=0.02)
    assert took is not None, "override copies still on the host 20 s after t2 died"
    took = time.monotonic() - t0
    print(f"{N} copies gone from h1 {took:.3f} s after t2 died")
    assert took < 1.0, took

    # The switch answers at once, and every override waits for t2
    t1 = time.monotonic()
    ap = show_ap(sw)
    assert time.monotonic() - t1 < 1.0
    code, out = bird_reply(sw.daemon, "show autopilot ap overrides pending")
    assert out.splitlines()[0].startswith(f"ap: {N} overrides: 0 active, {N} pending"), out.splitlines()[0]


def test_controller_batch_status_counts_every_copy(topo, bins):
    """New copies go out a few thousand per event round; a status after a
    batch still answers only once every one of them is resolved."""
    path = f"/tmp/apscale-{os.getpid()}.sock"
    pop = build(topo, bins, f'max overrides {2 * N};\n\tcontroller socket "{path}";')
    h1 = pop.hosts[0]
    batch = "begin\n" + "".join(f"add {p} t2\n" for p in prefixes()) + "commit\nstatus\n"
    assert converse(path, batch.encode(), timeout=30) == [f"ok {N}", f"ok overrides {N} active {N} pending 0 shadow 0"]
    wait_until(lambda: host_copies(h1) == N, 30, what=f"{N} override copies on h1")
