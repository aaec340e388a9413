#!/usr/bin/env python3
"""Host role cost: a host with K = 2 Precision Path alternates against a stock
host, both behind the same patched switch with three egresses (three paths
per prefix). Time from the start signal until the host has every path (and,
with the autopilot protocol, both alternate tables filled), and the host's
peak RSS. One run of each, interleaved; sizes from BENCH_V4 / BENCH_V6.

Usage: hostrole.py PATCHED_DIR STOCK_DIR [CACHE_DIR]
"""

import os
import pathlib
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests" / "integration"))

import birdsock  # noqa: E402
import benchpop  # noqa: E402
import tables  # noqa: E402
from benchpop import log  # noqa: E402

ALTERNATES = """
ipv4 table alt1v4; ipv4 table alt2v4; ipv6 table alt1v6; ipv6 table alt2v6;
protocol autopilot hap { ipv4; ipv6; asn 65000;
  alternate 1 table alt1v4; alternate 2 table alt2v4;
  alternate 1 table alt1v6; alternate 2 table alt2v6; }
"""


def run(bp, table, bindir, alternates):
    """One run; the host role is added to the first host's config."""
    conf = bp.host_conf
    bp.host_conf = lambda h, count_overrides=False: conf(h) + (ALTERNATES if alternates else "")
    try:
        bp.start_switch(bp_bins["patched"], True)
        bp.start_hosts(bindir)
    finally:
        bp.host_conf = conf
    bp.start_feeders()
    bp.wait_established()
    h = bp.hosts[0].daemon
    want_paths = 3 * (table.n4 + table.n6)
    want_alt = 2 * (table.n4 + table.n6)     # K = 2, three egresses: two alternates each
    t0 = time.time()
    for f in bp.feeders.values():
        f.start_sending()
    while True:
        done = birdsock.imported(h.sock, "switch1") >= want_paths and \
            (not alternates or birdsock.imported(h.sock, "hap") >= want_alt)
        if done:
            break
        if time.time() - t0 > 900:
            raise TimeoutError("host did not converge in 900 s")
        time.sleep(0.05)
    return time.time() - t0, h.status("VmHWM")


bp_bins = {}


def main():
    bp_bins["patched"] = pathlib.Path(sys.argv[1])
    stock = pathlib.Path(sys.argv[2])
    cache = pathlib.Path(sys.argv[3] if len(sys.argv) > 3 else "bench-cache")
    cache.mkdir(parents=True, exist_ok=True)
    table = tables.Table(int(os.environ.get("BENCH_V4", 1000000)), int(os.environ.get("BENCH_V6", 200000)))
    res = {}
    for name, bindir, alt in (("stock host", stock, False), ("host, K = 2", bp_bins["patched"], True)):
        bp = benchpop.BenchPop("bench-hostrole", table, cache, transits=3, hosts=("h1",))
        try:
            res[name] = run(bp, table, bindir, alt)
        finally:
            bp.teardown()
        log(f"{name}: converged in {res[name][0]:.2f} s, peak RSS {res[name][1] / 2**20:.0f} MB")
    (ts, ms), (ta, ma) = res["stock host"], res["host, K = 2"]
    print(f"| host, {table.n4:,} IPv4 + {table.n6:,} IPv6 prefixes x 3 paths | stock | K = 2 | ratio |")
    print("|---|---|---|---|")
    print(f"| converged (all paths; with K = 2 also both alternate tables) | {ts:.2f} s | {ta:.2f} s | {ta / ts:.2f} |")
    print(f"| peak RSS | {ms / 2**20:.0f} MB | {ma / 2**20:.0f} MB | {ma / ms:.2f} |")


if __name__ == "__main__":
    main()
