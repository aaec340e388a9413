#!/usr/bin/env python3
"""Host role cost: a host with K = 2 Precision Path alternates against a stock
host, both behind the same patched switch with three egresses (three paths
per prefix). Time from the start signal until the host has every path (and,
with the autopilot protocol, both alternate tables filled), the host's CPU
time until then, its peak RSS and BIRD's own memory count; the same for the
patched host without alternates, so that the cost of an alternate route
can be set against a plain one, and for a K = 2 host with `alternate copy
minimal` (routes of only a next hop and a label). --runs of each,
interleaved, medians;
sizes from BENCH_V4 / BENCH_V6.
With --perf DIR, each host is recorded with perf while it converges, into
DIR/hostrole-stock-N.data, hostrole-k2-N.data, ... (read with perf report -i).

Usage: hostrole.py [--perf DIR] PATCHED_DIR STOCK_DIR [CACHE_DIR]
"""

import argparse
import os
import pathlib
import re
import statistics
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests" / "integration"))

import bench  # noqa: E402
import birdsock  # noqa: E402
import benchpop  # noqa: E402
import tables  # noqa: E402
from benchpop import log  # noqa: E402

ALTERNATES = """
ipv4 table alt1v4; ipv4 table alt2v4; ipv6 table alt1v6; ipv6 table alt2v6;
protocol autopilot hap { ipv4; ipv6; asn 65000;
  alternate 1 table alt1v4; alternate 2 table alt2v4;
  alternate 1 table alt1v6; alternate 2 table alt2v6;
  alternate copy %s; }
"""


def run(bp, table, bindir, alternates, perf_name, copy="full"):
    """One run; the host role (alternate copy COPY) is added to the first host's config."""
    conf = bp.host_conf
    bp.host_conf = lambda h, count_overrides=False: conf(h) + (ALTERNATES % copy if alternates else "")
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
    with bench.profiled(perf_name, h):
        cpu0 = h.cpu_s()
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
        t1 = time.time()
    return (t1 - t0, h.status("VmHWM"), h.cpu_s() - cpu0, birdsock.memory_total(h.sock),
            memory_part(h.sock, "Routing tables"), memory_part(h.sock, "Route attributes"))


# The hosts compared: what to call it, its binary ("stock" or "patched"),
# the host role or not, and its `alternate copy`. The patched host without
# the autopilot protocol tells what the alternates cost apart from what
# the core patches change.
VARIANTS = {"stock": ("stock host", "stock", False, "full"),
            "patched": ("patched host", "patched", False, "full"),
            "k2": ("host, K = 2", "patched", True, "full"),
            "k2min": ("host, K = 2, minimal copies", "patched", True, "minimal")}


def run_variant(key, bindirs, table, cache, i):
    """Run i of VARIANTS[key] in a POP of its own; bindirs: {"stock": DIR, "patched": DIR}."""
    _, kind, alternates, copy = VARIANTS[key]
    bp = benchpop.BenchPop("bench-hostrole", table, cache, transits=3, hosts=("h1",))
    try:
        return run(bp, table, bindirs[kind], alternates, f"hostrole-{key}-{i}", copy)
    finally:
        bp.teardown()


def memory_part(sock, name):
    """One line of `show memory` (effective bytes): routing tables or route attributes."""
    m = re.search(name + r":\s+([\d.]+)\s*(\S*B)", sock.cmd("show memory"))
    return float(m.group(1)) * {"B": 1, "kB": 1024, "MB": 1024**2, "GB": 1024**3}[m.group(2)]


bp_bins = {}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--perf", metavar="DIR", help="record each host with perf while it converges, into DIR")
    ap.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", 1)),
                    help="runs of each variant, interleaved; medians (default 1, $BENCH_RUNS)")
    ap.add_argument("patched")
    ap.add_argument("stock")
    ap.add_argument("cache", nargs="?", default="bench-cache")
    args = ap.parse_args()
    bp_bins["patched"] = pathlib.Path(args.patched)
    stock = pathlib.Path(args.stock)
    cache = pathlib.Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    if args.perf:
        bench.PERF_DIR = pathlib.Path(args.perf).resolve()
        bench.PERF_DIR.mkdir(parents=True, exist_ok=True)
    table = tables.Table(int(os.environ.get("BENCH_V4", 1000000)), int(os.environ.get("BENCH_V6", 200000)))
    bindirs = {"stock": stock, "patched": bp_bins["patched"]}
    res = {key: [] for key in VARIANTS}
    for i in range(args.runs):
        for key in VARIANTS:
            res[key].append(run_variant(key, bindirs, table, cache, i))
            t, hwm, cpu, mem, _, _ = res[key][-1]
            log(f"{VARIANTS[key][0]}: converged in {t:.2f} s (host CPU {cpu:.2f} s), peak RSS {hwm / 2**20:.0f} MB, "
                f"BIRD's memory {mem / 2**20:.0f} MB")
    med = {key: [statistics.median(x) for x in zip(*rs)] for key, rs in res.items()}
    (ts, ms, cs, bs, _, _), (tp, mp, cp, bpm, rtp, rap) = med["stock"], med["patched"]
    ks = (med["k2"], med["k2min"])
    paths, alts = 3 * (table.n4 + table.n6), 2 * (table.n4 + table.n6)
    runs = f", median of {args.runs}" if args.runs > 1 else ""
    row = lambda what, st, pa, f: print(f"| {what} | {st} | {pa} | " + " | ".join(f(k) for k in ks) + " |")
    print(f"| host, {table.n4:,} IPv4 + {table.n6:,} IPv6 prefixes x 3 paths{runs} "
          "| stock host | patched, no alternates | K = 2 (÷ stock) | K = 2, minimal copies (÷ stock) |")
    print("|---|---|---|---|---|")
    row("converged (all paths; with K = 2 also both alternate tables)", f"{ts:.2f} s", f"{tp:.2f} s",
        lambda k: f"{k[0]:.2f} s ({k[0] / ts:.2f})")
    row("host CPU until then", f"{cs:.2f} s", f"{cp:.2f} s", lambda k: f"{k[2]:.2f} s ({k[2] / cs:.2f})")
    row("peak RSS", f"{ms / 2**20:.0f} MB", f"{mp / 2**20:.0f} MB", lambda k: f"{k[1] / 2**20:.0f} MB ({k[1] / ms:.2f})")
    row("BIRD's memory (`show memory`)", f"{bs / 2**20:.0f} MB", f"{bpm / 2**20:.0f} MB",
        lambda k: f"{k[3] / 2**20:.0f} MB ({k[3] / bs:.2f})")
    row(f"per path ({paths:,}), per alternate ({alts:,})", f"{bs / paths:.0f} B", f"{bpm / paths:.0f} B",
        lambda k: f"{(k[3] - bpm) / alts:.0f} B per alternate")
    row("peak RSS per path, per alternate", f"{ms / paths:.0f} B", f"{mp / paths:.0f} B",
        lambda k: f"{(k[1] - mp) / alts:.0f} B per alternate")
    row("of which routing tables (nets, routes), per path / per alternate", "", f"{rtp / paths:.0f} B",
        lambda k: f"{(k[4] - rtp) / alts:.0f} B")
    row("of which route attributes, per path / per alternate", "", f"{rap / paths:.0f} B",
        lambda k: f"{(k[5] - rap) / alts:.0f} B")

if __name__ == "__main__":
    main()
