#!/usr/bin/env python3
"""bird-autopilot benchmark (project issue 6): patched BIRD with autopilot
against stock BIRD 2.17.5, and override front ends against GoBGP and ExaBGP.

  reflection   full table from 1 and from 4 egresses through the switch to 2
               hosts (labeled unicast, ADD-PATH): time until the hosts have
               every path, peak RSS of switch and hosts; patched and stock
               runs interleaved (ABBA), medians and ratios
  overrides    on the patched switch with a full table: 100,000 overrides by
               birdc load, controller socket, BGP routing managers (gobgpd,
               exabgp) until visible on both hosts; memory per override;
               latency of single overrides; restart with persisted overrides;
               egress failure under 50,000 overrides
  reference    gobgpd and exabgp injecting the same routes (high LOCAL_PREF)
               into a stock switch, through their APIs
  hostrole     a host with K = 2 Precision Path alternates (full copies, and
               minimal ones) against a stock host, three egresses
               (bench/hostrole.py's runs, interleaved)
  protection   egress protection on BIRD's side: from the read of an
               egress's session close to the netlink requests replacing its
               labels' LFIB routes, with 2 and 4 egresses (full table, 50,000
               overrides) and 1% of the table (BENCH_PROTECTION=2,4,2-small)
  observe      the controller socket's read requests on the patched switch
               with the largest egress count's table: a full `dump` (time,
               switch CPU and memory), and how long other requests wait
               meanwhile (pings on a second connection); a `watch` reading
               the last egress withdrawn and re-announced (event rates,
               gaps, resync, switch memory against the same flap unwatched)

Sizes come from flags or BENCH_* variables (flags win); --quick is a small
run for development. Needs root (network namespaces). Prints a markdown
table; --readme FILE puts it between the bench markers of FILE.
"""

import argparse
import datetime
import json
import os
import pathlib
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests" / "integration"))

import pop  # noqa: E402
import birdsock  # noqa: E402
import benchpop  # noqa: E402
import report  # noqa: E402
import tables  # noqa: E402
from benchpop import log, HIGH_PREF, OVERRIDE_LC, SWITCH_AS  # noqa: E402

SIZES = [  # (flag, env, default, quick, help)
    ("v4", "BENCH_V4", 1000000, 20000, "IPv4 prefixes per egress"),
    ("v6", "BENCH_V6", 200000, 4000, "IPv6 prefixes per egress"),
    ("runs", "BENCH_RUNS", 3, 1, "reflection runs of each variant"),
    ("egresses", "BENCH_EGRESSES", "1,4", "1,4", "reflection: egress counts"),
    ("overrides", "BENCH_OVERRIDES", 100000, 2000, "overrides for throughput, memory, restart"),
    ("latency", "BENCH_LATENCY", 1000, 200, "single overrides for latency"),
    ("failure", "BENCH_FAILURE", 50000, 1000, "overrides on the failing egress"),
    ("seed", "BENCH_SEED", 1, 1, "seed of the generated table"),
]
SECTIONS = ("reflection", "overrides", "reference", "hostrole", "protection", "observe")


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--patched", required=True, help="directory with the patched bird, birdc")
    ap.add_argument("--stock", required=True, help="directory with the stock bird, birdc")
    ap.add_argument("--quick", action="store_true", help="small sizes, for development")
    ap.add_argument("--sections", default=os.environ.get("BENCH_SECTIONS", ",".join(SECTIONS)),
                    help=f"comma-separated subset of {','.join(SECTIONS)}")
    ap.add_argument("--readme", help="README.md to update between <!-- bench:start/end -->")
    ap.add_argument("--tracer", choices=("perf", "strace"), default=os.environ.get("BENCH_TRACER", "perf"),
                    help="protection: what watches the switch's system calls (default %(default)s)")
    ap.add_argument("--merge", default=os.environ.get("BENCH_MERGE"),
                    help="results JSON of an earlier run: keep its other sections, replace those run now")
    ap.add_argument("--out", default=os.environ.get("BENCH_OUT", "bench-results.json"),
                    help="results as JSON (default %(default)s)")
    ap.add_argument("--cache", default=os.environ.get("BENCH_CACHE", "bench-cache"),
                    help="encoded tables, reused between runs (default %(default)s)")
    ap.add_argument("--perf", metavar="DIR", default=os.environ.get("BENCH_PERF"),
                    help="record the switch with perf during each measurement into DIR")
    ap.add_argument("--variants", default=os.environ.get("BENCH_VARIANTS", "patched,stock"),
                    help="reflection: switch variants, of " + ",".join(VARIANTS) + " (default %(default)s)")
    for flag, env, default, quick, hlp in SIZES:
        ap.add_argument(f"--{flag}", help=f"{hlp} (${env}, default {default}, quick {quick})")
    args = ap.parse_args()
    for flag, env, default, quick, _ in SIZES:
        v = getattr(args, flag) or os.environ.get(env) or (quick if args.quick else default)
        setattr(args, flag, v if flag == "egresses" else int(v))
    args.egresses = [int(e) for e in str(args.egresses).split(",") if e]
    args.sections = [s for s in args.sections.split(",") if s]
    args.variants = [v for v in args.variants.split(",") if v]
    for v in args.variants:
        if v not in VARIANTS:
            ap.error(f"unknown variant {v}")
    if not {"patched", "stock"} <= set(args.variants):
        ap.error("--variants needs at least patched and stock")
    for s in args.sections:
        if s not in SECTIONS:
            ap.error(f"unknown section {s}")
    args.patched, args.stock = pathlib.Path(args.patched).resolve(), pathlib.Path(args.stock).resolve()
    args.cache = str(pathlib.Path(args.cache).resolve())   # feeders run in their own directories
    return args


PERF_DIR = None     # --perf: record the switch during each measurement


class profiled:
    """With --perf DIR, `perf record -g` the switch (and any other BIRD
    given) while a measurement runs, into DIR/NAME.data, DIR/NAME-host1.data
    ... (read with `perf report -i`); else nothing."""

    def __init__(self, name, bird, *others):
        self.name, self.birds, self.procs = name, [("", bird)] + [(f"-{n}", b) for n, b in others], []

    def __enter__(self):
        if PERF_DIR:
            # Repeated measurements: one file each (NAME, NAME.2, ...), none overwritten
            n = 1
            while (pathlib.Path(PERF_DIR) / f"{self.name}{'' if n == 1 else f'.{n}'}.data").exists():
                n += 1
            name = self.name + ("" if n == 1 else f".{n}")
            for suffix, bird in self.birds:
                out = pathlib.Path(PERF_DIR) / f"{name}{suffix}.data"
                self.procs.append(subprocess.Popen(
                    ["perf", "record", "-F", "999", "--call-graph", "dwarf,16384",
                     "-o", str(out), "-p", str(bird.proc.pid)],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            time.sleep(0.5)             # perf attaches
        return self

    def __exit__(self, *exc):
        for proc in self.procs:
            proc.send_signal(signal.SIGINT)
        for proc in self.procs:
            proc.wait()


def hosts_of(bp):
    """(name, daemon) of the hosts, for profiled()."""
    return [(h.name, h.daemon) for h in bp.hosts]


def median(xs):
    return statistics.median(xs) if xs else None


# --- 1. Full-table reflection ---------------------------------------------------

def log_time(line):
    """Realtime of a BIRD log line (timeformat log iso long us)."""
    return datetime.datetime.strptime(line[:26], "%Y-%m-%d %H:%M:%S.%f").timestamp()


# Switch variants: binary, autopilot protocol, its watched tables, tags by
# import filters. The report compares "patched" (what a switch runs) with
# "stock"; the others (BENCH_VARIANTS) tell where a difference comes from.
VARIANTS = {
    "patched": ("patched", True, True, False),
    "patched-tag-only": ("patched", True, False, False),
    "patched-no-autopilot": ("patched", False, False, False),
    "stock": ("stock", False, False, False),
    "stock-filter-tags": ("stock", False, False, True),
}


def reflection_run(bp, bins, variant, egresses, table, timeout):
    """One run: start switch and hosts, feeders connect, go; until both
    hosts have every path. Returns the run's numbers."""
    binary, ap, watch, filter_tags = VARIANTS[variant]
    bindir = getattr(bins, binary)
    bp.start_switch(bindir, ap, watch=watch, filter_tags=filter_tags)
    bp.start_hosts(bindir)
    bp.start_feeders()
    bp.wait_established()
    sw = bp.switch.daemon
    want = egresses * (table.n4 + table.n6)
    if bp.switch_paths() or any(bp.host_paths()):
        raise RuntimeError("routes before the start signal")
    with profiled(f"reflection-{egresses}-{variant}-{time.strftime('%H%M%S')}", sw):
        t0 = time.time()
        for f in bp.feeders.values():
            f.start_sending()
        switch_done = hosts_done = None
        deadline = time.monotonic() + timeout
        while hosts_done is None:
            t = time.time()
            if switch_done is None and bp.switch_paths() >= want:
                switch_done = t
            if all(n >= want for n in bp.host_paths()):
                hosts_done = t
            if time.monotonic() > deadline:
                raise TimeoutError(f"hosts have {bp.host_paths()} of {want} paths after {timeout}s")
            time.sleep(0.02)
    res = {"variant": variant, "egresses": egresses,
           "converged_s": hosts_done - t0, "switch_s": (switch_done or hosts_done) - t0,
           "switch_hwm": sw.status("VmHWM"),
           "host_hwm": max(h.daemon.status("VmHWM") for h in bp.hosts),
           "switch_cpu_s": sw.cpu_s(),
           "host_cpu_s": max(h.daemon.cpu_s() for h in bp.hosts),
           "paths_per_host": want}
    # What the hosts got, for the record: a sample prefix's labels (patched:
    # one per egress; stock: implicit null, which BIRD shows as none).
    sample = bp.hosts[0].daemon.cmd(f"show route {table.v4[len(table.v4) // 2]} all")
    res["sample_labels"] = sorted({int(l) for l in re.findall(r"mpls (\d+)", sample)})
    for n in [bp.switch] + bp.hosts:
        n.daemon.kill()
    for f in bp.feeders.values():
        f.kill()
    bp.feeders = {}
    return res


def reflection(args, bins, table):
    out = {}
    for e in args.egresses:
        bp = benchpop.BenchPop(f"bench-reflect{e}", table, args.cache, transits=e)
        runs = []
        try:
            # ABBA order: neither variant always runs first (warm caches,
            # background load drifting over time).
            order = []
            for r in range(args.runs):
                order += args.variants if r % 2 == 0 else args.variants[::-1]
            for i, variant in enumerate(order):
                res = reflection_run(bp, bins, variant, e, table, timeout=600)
                log(f"reflection {e} egress(es) run {i + 1}/{len(order)} {res['variant']}: "
                    f"hosts {res['converged_s']:.2f}s (switch {res['switch_s']:.2f}s), "
                    f"switch RSS {res['switch_hwm'] / 2**20:.0f} MB, host RSS {res['host_hwm'] / 2**20:.0f} MB, "
                    f"CPU switch {res['switch_cpu_s']:.2f}s host {res['host_cpu_s']:.2f}s")
                runs.append(res)
        finally:
            bp.teardown()
        summary = {}
        for v in args.variants:
            rs = [r for r in runs if r["variant"] == v]
            summary[v] = {k: median([r[k] for r in rs])
                          for k in ("converged_s", "switch_s", "switch_hwm", "host_hwm", "switch_cpu_s", "host_cpu_s")}
        out[str(e)] = {"runs": runs, "median": summary, "paths_per_host": e * (table.n4 + table.n6)}
    return out


# --- 2.-6. Overrides ------------------------------------------------------------------

class LogTail:
    """New lines of a BIRD log, with their timestamps (timeformat log iso long us)."""

    def __init__(self, path):
        self.f = open(path, "rb")
        self.f.seek(0, 2)
        self.rest = b""

    def lines(self):
        data = self.rest + self.f.read()
        *lines, self.rest = data.split(b"\n")
        return [l.decode(errors="replace") for l in lines]

    def close(self):
        self.f.close()


def wait_overrides(bp, want, timeout, interval=0.005, switch=False, at_reply=False):
    """Poll until every host uses `want` override routes (and, with switch,
    the switch has `want` active); return the time of the first poll that
    saw it, per host and for the switch. That is when the poll was sent,
    or with at_reply when its answer came: a BIRD busy in a long round
    answers after it, so a poll sent early may see the end (the failure
    measurement, where that round is what is measured, takes the answer)."""
    seen, t_switch = [None] * len(bp.hosts), None
    deadline = time.monotonic() + timeout
    while True:
        t = time.time()
        if switch and t_switch is None and birdsock.overrides(bp.switch.daemon.sock)[1] == want:
            t_switch = time.time() if at_reply else t
        for i, n in enumerate(bp.host_overrides()):
            if seen[i] is None and n == want:
                seen[i] = time.time() if at_reply else t
        if all(seen) and (t_switch or not switch):
            return max(seen), t_switch
        if time.monotonic() > deadline:
            raise TimeoutError(f"hosts use {list(bp.host_overrides())} override routes, want {want}, after {timeout}s")
        time.sleep(interval)


def converge(bp, table, timeout=900, interval=0.1):
    """Start the feeders' tables and wait until both hosts have every path;
    returns the seconds from the start signal."""
    want = len(bp.transits) * (table.n4 + table.n6)
    t0 = time.time()
    for f in bp.feeders.values():
        f.start_sending()
    pop.wait_until(lambda: all(n >= want for n in bp.host_paths()), timeout, interval,
                   what=f"hosts have {want} paths")
    return time.time() - t0


def host_import(bp, table, again):
    """The reference of the override rates: how fast the same hosts import
    ordinary paths from the switch (the egresses' full tables, start
    signal to both hosts having every path, polled every 20 ms). again:
    the feeders are killed first (every path goes) and come back."""
    want = len(bp.transits) * (table.n4 + table.n6)
    if again:
        for f in bp.feeders.values():
            f.kill()
        pop.wait_until(lambda: not any(bp.host_paths()) and not bp.switch_paths(), 300, 0.1,
                       what="hosts and switch without paths")
        bp.start_feeders()
        bp.wait_established()
        time.sleep(1)
    with profiled("host-import", bp.switch.daemon, *hosts_of(bp)):
        secs = converge(bp, table, interval=0.02)
    r = {"paths": want, "seconds": secs, "rate": want / secs}
    log(f"hosts' import of ordinary paths: {want:,} per host in {secs:.2f}s, {r['rate']:,.0f} paths/s")
    return r


def load_file(path, nets, egress):
    path.write_text("".join(f"add {n} {egress}\n" for n in nets))
    return path


def drain(bp, timeout=300):
    """Wait until no host uses an override route any more."""
    wait_overrides(bp, 0, timeout, interval=0.05)


def rate(n, t0, t1):
    return n / (t1 - t0) if t1 > t0 else None


def throughput_load(bp, nets, egress, timeout):
    sw = bp.switch.daemon
    f = load_file(bp.switch.dir / "throughput.set", nets, egress)
    with profiled("throughput-load", sw, *hosts_of(bp)):
        t0 = time.time()
        reply = sw.cmd(f'autopilot load ap "{f}"')
        t_reply = time.time()
        t1, _ = wait_overrides(bp, len(nets), timeout)
    log(f"birdc load: {reply!r} after {t_reply - t0:.3f}s, visible after {t1 - t0:.3f}s")
    return {"n": len(nets), "rate": rate(len(nets), t0, t1), "reply_s": t_reply - t0, "visible_s": t1 - t0}


def controller_path(bp):
    return bp.switch.dir / "controller.sock"


def throughput_controller(bp, nets, egress, timeout):
    path = controller_path(bp)
    if not path.exists():
        return {"n": len(nets), "rate": None, "why": "no controller socket in this build"}
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(str(path))
    replies, replied = [], []

    def reader():
        buf = b""
        try:
            while True:
                chunk = sock.recv(1 << 16)
                if not chunk:
                    return
                buf += chunk
                *lines, buf = buf.split(b"\n")
                if lines and not replied:
                    replied.append(time.time())
                replies.extend(l.decode(errors="replace") for l in lines)
        except OSError:
            return

    th = threading.Thread(target=reader, daemon=True)
    th.start()
    batch = "begin\n" + "".join(f"add {n} {egress}\n" for n in nets) + "commit\n"
    prof = profiled("throughput-controller", bp.switch.daemon, *hosts_of(bp)).__enter__()
    t0 = time.time()
    sock.sendall(batch.encode())
    try:
        t1, _ = wait_overrides(bp, len(nets), timeout)
    except TimeoutError as e:
        errors = [r for r in replies if not r.startswith("ok")][:3]
        return {"n": len(nets), "rate": None, "why": f"{e}; replies {errors or replies[-3:]}"}
    finally:
        prof.__exit__()
        sock.close()
    errors = [r for r in replies if r.startswith("error")]
    t_reply = replied[0] - t0 if replied else None
    log(f"controller: {replies[:1]} after {t_reply or 0:.3f}s ({len(errors)} errors), visible after {t1 - t0:.3f}s")
    return {"n": len(nets), "rate": rate(len(nets), t0, t1), "reply_s": t_reply, "visible_s": t1 - t0,
            "replies": len(replies), "errors": errors[:3]}


def gobgp_toml(m, switch_addr):
    return f"""[global.config]
  as = {SWITCH_AS}
  router-id = "{m.router_id}"
[[neighbors]]
  [neighbors.config]
    neighbor-address = "{switch_addr}"
    peer-as = {SWITCH_AS}
  [neighbors.timers.config]
    connect-retry = 1
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
"""


def exabgp_conf(m, sw):
    return f"""process api {{
	run {pop.ExaBGP.api_process(m)};
	encoder text;
}}
neighbor {sw.addr4(m)} {{
	router-id {m.router_id};
	local-address {m.addr4(sw)};
	local-as {SWITCH_AS};
	peer-as {SWITCH_AS};
	api {{ processes [ api ]; }}
	family {{ ipv4 unicast; }}
}}
"""


def via_manager(bp, kind, nets, nexthop, timeout):
    """Routes from a routing manager (gobgpd through its API: `gobgp mrt
    inject`, the streaming AddPath call; exabgp through its text API) with
    next hop = the target egress, LOCAL_PREF max and the override marker:
    on the patched switch they are override requests in the manager table,
    on the stock switch they simply win. Stopped afterwards, which
    withdraws them."""
    m = bp.managers[kind]
    sw = bp.switch
    for stale in ("gobgp.sock", "exabgp.cmd"):
        (m.dir / stale).unlink(missing_ok=True)
    if kind == "gobgp":
        d = pop.GoBGP(m, gobgp_toml(m, sw.addr4(m)))
        mrt = m.dir / "overrides.mrt"
        tables.write_mrt(mrt, nets, nexthop, HIGH_PREF, [OVERRIDE_LC])
    else:
        d = pop.ExaBGP(m, exabgp_conf(m, sw))
        lc = "%d:%d:%d" % OVERRIDE_LC
        cmds = [f"neighbor {sw.addr4(m)} announce attributes next-hop {nexthop} local-preference {HIGH_PREF} "
                f"large-community [ {lc} ] nlri " + " ".join(str(n) for n in nets[i:i + 500])
                for i in range(0, len(nets), 500)]
    try:
        pop.wait_until(lambda: birdsock.established(sw.daemon.sock, m.name), 30, 0.05,
                       what=f"{kind} session Established")
        time.sleep(0.5)         # the manager's own End-of-RIB and first keepalive pass
        t0 = time.time()
        if kind == "gobgp":
            d.cli("mrt", "inject", "global", mrt)
        else:
            d.send(*cmds)
        t_api = time.time()
        try:
            t1, _ = wait_overrides(bp, len(nets), timeout, interval=0.02)
        except TimeoutError as e:
            return {"n": len(nets), "rate": None, "why": str(e)}
        log(f"{kind}: API call returned after {t_api - t0:.3f}s, visible after {t1 - t0:.3f}s")
        return {"n": len(nets), "rate": rate(len(nets), t0, t1), "api_s": t_api - t0, "visible_s": t1 - t0}
    finally:
        d.stop()
        drain(bp)


def latency(bp, nets, egress, how, timeout=5):
    """One override at a time: request, then its route in h1's table. The
    time in the table comes from h1's log (its pipe of override routes
    traces what it adds), on the same clock as the request."""
    sw, h1 = bp.switch.daemon, bp.hosts[0].daemon
    if how == "controller":
        path = controller_path(bp)
        if not path.exists():
            return {"n": 0, "p99_ms": None, "why": "no controller socket in this build"}
        csock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        csock.connect(str(path))
        cfile = csock.makefile("rb")
    else:
        bsock = birdsock.BirdSock(sw.ctl)
    h1.cmd("debug ovrpipe4 { routes }")
    tail = LogTail(h1.log)
    lat = []
    try:
        for n in nets:
            key = f" {n} "
            t0 = time.time()
            if how == "controller":
                csock.sendall(f"add {n} {egress}\n".encode())
                reply = cfile.readline().decode()
                if not reply.startswith("ok"):
                    return {"n": len(lat), "p99_ms": None, "why": f"controller replied {reply.strip()!r}"}
            else:
                bsock.cmd(f"autopilot add ap {n} {egress}")
            deadline = time.monotonic() + timeout
            t1 = None
            while t1 is None:
                for line in tail.lines():
                    if key in line and "added" in line:
                        t1 = log_time(line)
                        break
                else:
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"override {n} not in h1's table after {timeout}s")
                    time.sleep(0.0005)
            lat.append((t1 - t0) * 1000)
    finally:
        h1.cmd("debug ovrpipe4 off")
        tail.close()
        if how == "controller":
            csock.close()
        else:
            bsock.close()
    lat.sort()
    q = statistics.quantiles(lat, n=100, method="inclusive")
    r = {"n": len(lat), "p50_ms": statistics.median(lat), "p99_ms": q[98], "max_ms": lat[-1]}
    log(f"latency {how}: p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms, max {r['max_ms']:.2f} ms")
    return r


class Steps:
    """Measurement steps on one POP. A step that fails records its error in
    the results (the report shows it, and a missed target); the POP is then
    brought back to no overrides, or, if that fails too, the remaining
    steps are recorded as not run. No step hangs the benchmark: every wait
    has a timeout, and BIRD's control socket one of 60 s."""

    def __init__(self, bp, recover):
        self.bp, self.recover, self.broken = bp, recover, None

    def run(self, name, fn, *args, **kw):
        if self.broken:
            return {"error": f"not run ({self.broken})"}
        try:
            return fn(*args, **kw)
        except Exception as e:  # pylint: disable=broad-except
            log(f"{name} FAILED: {e!r}")
            self.bp.topo.dump_logs(5)
            try:
                self.recover(self.bp)
            except Exception as e2:  # pylint: disable=broad-except
                self.broken = f"{name} failed and the POP did not recover: {e2!r}"
            return {"error": f"{type(e).__name__}: {e}"[:300]}


def start_override_pop(bp, bird):
    """The override POP (bench.py's overrides section, timeline.py): the
    switch with its state file and controller socket, the hosts counting
    override copies, the feeders, every session up. Returns the switch's
    autopilot lines, which copy_mode() writes again."""
    extra = (f'\tstate filename "{bp.switch.dir / "ap.state"}";\n'
             f'\tcontroller socket "{controller_path(bp)}";')
    bp.start_switch(bird, True, ap_extra=extra, manager_table="mgr4")
    bp.start_hosts(bird, count_overrides=True)
    bp.start_feeders()
    bp.wait_established()
    return extra


def overrides(args, bins, table):
    n, nf, nl = args.overrides, args.failure, args.latency
    if max(n, nf) + nl > table.n4:
        raise SystemExit(f"bench: need {max(n, nf) + nl} IPv4 prefixes for overrides, the table has {table.n4}")
    rng = random.Random(args.seed)
    sample = rng.sample(table.v4, max(n, nf) + nl)
    nets, lat_nets, fail_nets = sample[:n], sample[-nl:], sample[:nf]
    bp = benchpop.BenchPop("bench-overrides", table, args.cache, transits=2, managers=("gobgp", "exabgp"))
    out = {"throughput": {}, "latency": {}}
    th = out["throughput"]
    try:
        tr2 = bp.transits[1]
        egress = f"{tr2.name}_v4"
        nexthop = tr2.addr4(bp.switch)
        extra = start_override_pop(bp, bins.patched)
        # The reference: the hosts' own import rate of ordinary paths, here,
        # in this run (the first import, and runs - 1 more of the same table)
        imports = [host_import(bp, table, again=False)]
        log(f"override POP converged in {imports[0]['seconds']:.1f}s; {n} overrides to {egress}")
        steps = Steps(bp, flush)
        for _ in range(args.runs - 1):
            r = steps.run("hosts' import", host_import, bp, table, True)
            if "error" not in r:
                imports.append(r)
        ok = sorted(imports, key=lambda r: r["rate"])
        out["host_import"] = dict(ok[len(ok) // 2], rates=[r["rate"] for r in imports])
        time.sleep(1)
        sw = bp.switch.daemon
        mem0, rss0 = birdsock.memory_total(sw.sock), sw.status("VmRSS")

        # 2. throughput, and 5. memory with all of them active: first with
        # minimal copies (override copy minimal), then full ones (the
        # default, whose set the restarts below persist), against the same
        # baseline: the table is the one mem0 was taken with
        steps.run("minimal copies", copy_mode, bp, extra, "minimal")
        min_load = steps.run("birdc load (minimal)", throughput_load, bp, nets, egress, 600)
        out["memory_minimal"] = steps.run("memory (minimal)", memory, bp, mem0, rss0)
        steps.run("flush", flush, bp)
        steps.run("full copies", copy_mode, bp, extra, "full")
        first_load = steps.run("birdc load", throughput_load, bp, nets, egress, 600)
        out["memory"] = steps.run("memory", memory, bp, mem0, rss0)
        # 7. the metrics file at its interval, with the table and those overrides
        out["metrics"] = steps.run("metrics file", metrics_file, bp, extra)
        # 6. restart with the persisted set (the state file is written on
        # change), and the same restart with nothing persisted: how much is
        # the table's own reload (the egresses resend everything, the hosts
        # reconnect). Interleaved, runs times; between them, the next birdc
        # load (memory and restart have used the first).
        loads, with_, without = [first_load], [], []
        for i in range(args.runs):
            with_.append(steps.run("restart", restart, bp, bins, table, n, extra))
            steps.run("flush", flush, bp)
            without.append(steps.run("restart without overrides", restart, bp, bins, table, 0, extra))
            if i < args.runs - 1:
                loads.append(steps.run("birdc load", throughput_load, bp, nets, egress, 600))
        out["restart"] = restart_summary(with_, without)
        th["load"] = summarize(loads)
        th["controller"] = steps.run("controller", repeated, args.runs, lambda: flush(bp),
                                     throughput_controller, bp, nets, egress, 600)
        steps.run("flush", flush, bp)
        # The controller batch and birdc load again with minimal copies: extra
        # rows against the same references (the defaults stay full copies)
        steps.run("minimal copies", copy_mode, bp, extra, "minimal")
        th["controller_minimal"] = steps.run("controller (minimal)", repeated, args.runs, lambda: flush(bp),
                                             throughput_controller, bp, nets, egress, 600)
        th["load_minimal"] = steps.run("birdc load (minimal)", repeated, args.runs, lambda: flush(bp),
                                       throughput_load, bp, nets, egress, 600, first=min_load)
        steps.run("flush", flush, bp)
        steps.run("full copies", copy_mode, bp, extra, "full")
        for kind in ("gobgp", "exabgp"):
            th[f"manager_{kind}"] = steps.run(f"manager {kind}", via_manager, bp, kind, nets, nexthop, 900)
        # 3. latency, one at a time
        for how in ("controller", "birdc"):
            out["latency"][how] = steps.run(f"latency {how}", latency, bp, lat_nets, egress, how)
            steps.run("flush", flush, bp)
        # 4. egress failure: every copy of the failing egress withdrawn on the hosts;
        # then the egress back and the same with minimal copies
        out["failure"] = steps.run("failure", failures, args.runs, bp, table, fail_nets, egress, tr2)
        steps.run("egress back", egress_back, bp, table, tr2)
        steps.run("minimal copies", copy_mode, bp, extra, "minimal")
        out["failure_minimal"] = steps.run("failure (minimal)", failures, args.runs, bp, table, fail_nets, egress, tr2)
    finally:
        bp.teardown()
    return out


def repeated(n, between, fn, *args, first=None):
    """A throughput measurement n times (between() before each), counting
    an earlier `first` run: the median run, with every run's rate. One run
    on a shared 2-core machine varies by a third."""
    runs = [first] if first and "error" not in first else []
    while len(runs) < n:
        between()
        runs.append(fn(*args))
    return summarize(runs)


def summarize(runs):
    """The median run of throughput runs, with every run's rate."""
    ok = sorted((r for r in runs if r.get("rate")), key=lambda r: r["rate"])
    if not ok:
        return runs[-1]
    return dict(ok[len(ok) // 2], rates=[r.get("rate") for r in runs])


def restart_summary(with_, without):
    """Restarts with and without persisted overrides, interleaved: the
    median of each, done meaning the table back and (with) every override
    active on the switch; every run's times for the range."""
    good = [r for r in with_ if "error" not in r]
    base = [r for r in without if "error" not in r]
    if not good:
        return with_[-1]
    for r in good:
        r["done_s"] = max(r["table_s"], r["switch_s"])
    mid = sorted(good, key=lambda r: r["done_s"])[len(good) // 2]
    return dict(mid, runs=[r["done_s"] for r in good],
                baseline_table_s=median([r["table_s"] for r in base]),
                baseline_runs=[r["table_s"] for r in base])


def flush(bp):
    bp.switch.daemon.cmd("autopilot flush ap")
    drain(bp, timeout=120)


def copy_mode(bp, extra, mode):
    """`override copy MODE;` on the switch by birdc configure (copies out
    are made again in that mode; the bench switches with none out)."""
    sw = bp.switch.daemon
    sw.conf.write_text(bp.switch_conf(True, ap_extra=f"{extra}\n\toverride copy {mode};", manager_table="mgr4"))
    if "Reconfigured" not in sw.cmd("configure"):
        raise RuntimeError(f"configure with override copy {mode} refused")
    if f"copies {mode}" not in sw.cmd("show autopilot ap"):
        raise RuntimeError(f"show autopilot does not say copies {mode}")
    log(f"override copy {mode}")


def memory(bp, mem0, rss0):
    """BIRD's own account (`show memory`) and RSS growth, per active override."""
    sw = bp.switch.daemon
    time.sleep(1)
    active = birdsock.overrides(sw.sock)[1]
    mem1, rss1 = birdsock.memory_total(sw.sock), sw.status("VmRSS")
    r = {"n": active, "bird_bytes": (mem1 - mem0) / active, "rss_bytes": (rss1 - rss0) / active}
    log(f"memory: {r['bird_bytes']:.0f} B per override (BIRD), {r['rss_bytes']:.0f} B (RSS)")
    return r


def metrics_file(bp, extra, writes=20):
    """The metrics file (render, write, fsync, rename) every second, switched
    on by configure for this step only: each write's own duration (the
    previous write's, in the file), against same-run references on the same
    loop: a `ping` and a `metrics` request (the render without the file) on
    the controller socket."""
    sw = bp.switch.daemon
    prom = bp.switch.dir / "bird-autopilot.prom"
    on = extra + f'\n\tmetrics filename "{prom}" interval 1 s;'
    sw.conf.write_text(bp.switch_conf(True, ap_extra=on, manager_table="mgr4"))
    if "Reconfigured" not in sw.cmd("configure"):
        raise RuntimeError("configure with the metrics file refused")
    durations, seen = [], None
    deadline = time.monotonic() + writes * 3 + 30
    while len(durations) < writes and time.monotonic() < deadline:
        time.sleep(0.2)
        try:
            text = prom.read_text()
        except FileNotFoundError:
            continue
        m = re.search(r"^bird_autopilot_metrics_file_writes_total\{[^}]*\} (\d+)$", text, re.M)
        d = re.search(r"^bird_autopilot_metrics_file_last_write_duration_seconds\{[^}]*\} (\S+)$", text, re.M)
        if m and d and int(m.group(1)) != seen:
            if seen is not None:        # the first file has no previous write
                durations.append(float(d.group(1)) * 1000)
            seen = int(m.group(1))
    if len(durations) < writes:
        raise TimeoutError(f"metrics file: {len(durations)} writes seen of {writes}")
    size = len(prom.read_bytes())
    path = controller_path(bp)

    def round_trip(request, n=20):
        times = []
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            s.connect(str(path))
            f = s.makefile("rb")
            for _ in range(n):
                t0 = time.perf_counter()
                s.sendall(request + b"\n")
                while not f.readline().startswith(b"ok"):
                    pass
                times.append((time.perf_counter() - t0) * 1000)
        return median(times)

    r = {"writes": len(durations), "write_ms": median(durations), "write_max_ms": max(durations),
         "bytes": size, "ping_ms": round_trip(b"ping"), "request_ms": round_trip(b"metrics")}
    sw.conf.write_text(bp.switch_conf(True, ap_extra=extra, manager_table="mgr4"))
    if "Reconfigured" not in sw.cmd("configure"):
        raise RuntimeError("configure without the metrics file refused")
    log(f"metrics file: {r['write_ms']:.3f} ms a write (max {r['write_max_ms']:.3f} ms of {len(durations)}), "
        f"{size} bytes; metrics request {r['request_ms']:.3f} ms, ping {r['ping_ms']:.3f} ms")
    return r


def restart(bp, bins, table, n, extra):
    sw = bp.switch.daemon
    state = bp.switch.dir / "ap.state"
    # Acknowledged changes are on disk (the journal); a clean stop folds it into the state file
    sw.stop(timeout=60)
    if f"# end {n}\n" not in state.read_text()[-100:]:
        raise RuntimeError(f"state file does not end with '# end {n}' after a clean stop")
    bp.start_switch(bins.patched, True, ap_extra=extra, manager_table="mgr4")
    sw = bp.switch.daemon
    t0 = sw.started
    want = len(bp.transits) * (table.n4 + table.n6)
    t_table = t_switch = None
    deadline = time.monotonic() + 900
    with profiled("restart", sw):
        while t_switch is None or t_table is None:
            t = time.time()
            if t_table is None and bp.switch_paths() >= want:
                t_table = t
            if t_switch is None and birdsock.overrides(sw.sock)[1] == n:
                t_switch = t
            if time.monotonic() > deadline:
                raise TimeoutError(f"restart: {birdsock.overrides(sw.sock)} overrides after 900s")
            time.sleep(0.01)
    t_hosts = wait_overrides(bp, n, 600, interval=0.02)[0] if n else t_switch
    r = {"n": n, "switch_s": t_switch - t0, "table_s": t_table - t0, "hosts_s": t_hosts - t0}
    # Not measured: the next step needs the hosts back with every path
    bp.wait_established()
    pop.wait_until(lambda: all(p >= want for p in bp.host_paths()), 600, 0.1, what="hosts have every path again")
    log(f"restart: table back after {r['table_s']:.2f}s, {n} overrides active after {r['switch_s']:.2f}s, "
        f"on the hosts after {r['hosts_s']:.2f}s")
    return r


def failure(bp, nets, egress, transit):
    sw = bp.switch.daemon
    f = load_file(bp.switch.dir / "failure.set", nets, egress)
    sw.cmd(f'autopilot load ap "{f}"')
    wait_overrides(bp, len(nets), 600, switch=True)
    time.sleep(1)
    # CPU time of each host until then: what the withdrawals cost a host,
    # which the wall time (2 cores shared by the switch and both hosts) hides
    cpu0 = [h.daemon.cpu_s() for h in bp.hosts]
    with profiled("failure", sw, *hosts_of(bp)):
        t0 = time.time()
        bp.feeders[transit.name].kill()       # SIGKILL: the kernel closes its sessions, as in a crash
        t_hosts, t_switch = wait_overrides(bp, 0, 120, interval=0.01, switch=True, at_reply=True)
        cpu1 = [h.daemon.cpu_s() for h in bp.hosts]
    r = {"n": len(nets), "hosts_ms": (t_hosts - t0) * 1000, "switch_ms": (t_switch - t0) * 1000,
         "hosts_cpu_ms": [(b - a) * 1000 for a, b in zip(cpu0, cpu1)]}
    log(f"failure: {len(nets)} copies gone on the switch after {r['switch_ms']:.0f} ms, "
        f"on both hosts after {r['hosts_ms']:.0f} ms (host CPU meanwhile "
        f"{', '.join(f'{c:.0f}' for c in r['hosts_cpu_ms'])} ms)")
    # Egress protection: from BIRD learning of the loss (its BGP state change,
    # logged with microseconds) to the LFIB route of the label replaced
    learned, repointed = repoint_times(bp.switch.dir / "bird.log", f"{transit.name}_v4", t0)
    if learned:
        # The kill's own share: the feeder's exit frees its memory before
        # the kernel closes its sockets; what follows is BIRD's
        r["loss_ms"] = (learned - t0) * 1000
        r["hosts_from_loss_ms"] = (t_hosts - learned) * 1000
        log(f"failure: BIRD learned of the loss {r['loss_ms']:.1f} ms after the kill; both hosts without "
            f"the copies {r['hosts_from_loss_ms']:.0f} ms after that")
    if learned and repointed:
        r["lfib_ms"] = (repointed - learned) * 1000
        r["lfib_from_kill_ms"] = (repointed - t0) * 1000
        log(f"failure: LFIB of {transit.name}_v4 repointed {r['lfib_ms']:.3f} ms after BIRD learned of "
            f"the loss ({r['lfib_from_kill_ms']:.1f} ms after the kill)")
    return r


def failures(n, bp, table, nets, egress, transit):
    """failure() n times, the egress back in between: the median run (by
    the hosts' time), with every run's times."""
    runs = []
    for i in range(n):
        if i:
            egress_back(bp, table, transit)
        runs.append(failure(bp, nets, egress, transit))
    mid = sorted(runs, key=lambda r: r["hosts_ms"])[len(runs) // 2]
    return dict(mid, runs=[r["hosts_ms"] for r in runs], switch_runs=[r["switch_ms"] for r in runs],
                from_loss_runs=[r["hosts_from_loss_ms"] for r in runs if "hosts_from_loss_ms" in r])


def egress_back(bp, table, transit):
    """After failure(): no overrides, the transit's feeder back with its
    table, every host with every path again."""
    flush(bp)
    full = len(bp.transits) * (table.n4 + table.n6)
    bp.start_feeders([transit])
    bp.wait_established()
    bp.feeders[transit.name].start_sending()
    pop.wait_until(lambda: all(n >= full for n in bp.host_paths()), 300, 0.05, what="hosts have every path again")
    log(f"{transit.name} back: hosts have all {full} paths")


def repoint_times(logfile, session, since):
    """(when BIRD logged the session leaving Established, when it logged its
    labels going to a backup), as epoch seconds, both after since, or None."""
    learned = repointed = None
    for line in logfile.read_text(errors="replace").splitlines():
        try:
            ts = datetime.datetime.strptime(line[:26], "%Y-%m-%d %H:%M:%S.%f").timestamp()
        except ValueError:
            continue
        if ts < since:
            continue
        if learned is None and f"{session}: State changed to stop" in line:
            learned = ts
        elif learned is not None and f"Egress {session} lost: " in line and "now go to backup" in line:
            repointed = ts
            break
    return learned, repointed


# --- 7. Egress protection: the repoint, BIRD's side ---------------------------------

# The LFIB exported to the kernel, as on a real switch. This kernel has no
# MPLS: each replace is refused, but BIRD hands it over (a netlink request)
# all the same, and that is the moment measured here; the kernel's side is
# measured in tests/kernel, under qemu.
KERNEL_LFIB = "protocol kernel klfib { mpls { table mt; export all; }; }"
# (name, transits, table: full or small) of the variants
# (BENCH_PROTECTION=4,2-small: only those)
PROTECTION = (("2", 2, "full"), ("4", 4, "full"), ("2-small", 2, "small"))
# How the switch's system calls are watched: perf trace (tracepoints, BIRD
# runs on undisturbed) or strace (ptrace: BIRD stops at every call)
TRACERS = {
    "perf": lambda pid, out: ["perf", "trace", "-e", "read,sendto", "-o", out, "-p", pid],
    "strace": lambda pid, out: ["strace", "-f", "-ttt", "-qq", "-e", "trace=read,sendto",
                                "-e", "signal=none", "-o", out, "-p", pid],
}


def trace_events(path):
    """[(ms, "close" | "send")] from the tracer's output: a read() that
    returns 0 or a connection error is a BGP session's close (the only
    other reads are the control socket's, which stays open); a sendto() is
    a netlink request of the kernel protocol, here only the LFIB's (BGP
    writes with write(), nothing else of the switch sends)."""
    events = []
    for line in pathlib.Path(path).read_text(errors="replace").splitlines():
        # perf: "  172.964 ( 0.019 ms): [bird/7420 ]read(fd: 3, ...) = 0"
        # strace: "7420  1796168646.605348 read(12, "", 4096) = 0"
        m = (re.match(r"^\s*(\d+\.\d+) \(\s*[\d.]+ ms\): (?:\S+ )?(read|sendto)\(.*\) += (.*)$", line) or
             re.match(r"^\d+\s+(\d+\.\d+) (read|sendto)\(.*\) += (.*)$", line))
        if not m:
            continue
        ms = float(m.group(1)) * (1 if "ms):" in line else 1000)
        if m.group(2) == "read" and re.match(r"(0|-1 (ECONNRESET|EPIPE|ETIMEDOUT))\b", m.group(3)):
            events.append((ms, "close"))
        elif m.group(2) == "sendto":
            events.append((ms, "send"))
    return events


def repoint(bp, lost, backup, tracer, timeout=30):
    """Kill the feeder of transit `lost` with the switch's system calls
    traced; until the LFIB route of its IPv4 label goes via `backup`.
    Returns, per closed session, the time from the read of its close to
    the netlink request for its egress's second label (both replaced)."""
    sw = bp.switch.daemon
    trace = bp.switch.dir / "repoint.trace"
    st = subprocess.Popen(TRACERS[tracer](str(sw.proc.pid), str(trace)),
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.5)                 # attached
        label = bp.egress_labels(lost, 4)[0]
        via = str(backup.addr4(bp.switch))
        t0 = time.time()
        bp.feeders[lost.name].kill()    # SIGKILL: the kernel closes its sessions, as in a crash
        pop.wait_until(lambda: re.search(rf"^{label}\s.*\n\s+via {re.escape(via)} ",
                                         sw.cmd("show route table mt all"), re.M), timeout, 0.01,
                       what=f"label {label} via {via}")
        t_seen = time.time()
        time.sleep(0.2)
    finally:
        st.send_signal(signal.SIGINT)
        st.wait()
    events = trace_events(trace)
    per_session = []
    for i, (t, kind) in enumerate(events):
        if kind != "close":
            continue
        sends = []
        for t2, k2 in events[i + 1:]:
            if k2 == "close":
                break
            sends.append(t2)
        if len(sends) >= 2:     # the egress's label and pp label
            per_session.append(sends[1] - t)
    if len(per_session) != 2:
        raise RuntimeError(f"repoint: {len(per_session)} session closes followed by two LFIB "
                           f"requests in {trace}, want 2 (IPv4 and IPv6): {events[:12]}")
    return {"repoint_ms": max(per_session), "sessions_ms": per_session, "tracer": tracer,
            "seen_ms": (t_seen - t0) * 1000}


def protection(args, bins, table):
    """The repoint with 2 and 4 egresses (full table each) and with a
    small table: the same time whatever the number of prefixes or egresses."""
    small = tables.Table(max(args.v4 // 100, 1000), max(args.v6 // 100, 200), args.seed)
    out = {}
    tracer = args.tracer
    if tracer == "perf" and not (shutil.which("perf") and subprocess.run(
            ["perf", "trace", "-e", "read", "--", "true"], capture_output=True, check=False).returncode == 0):
        log("protection: perf trace does not work here (tracefs?), strace instead: an upper bound")
        tracer = "strace"
    only = os.environ.get("BENCH_PROTECTION")
    for name, n, which in PROTECTION:
        if only and name not in only.split(","):
            continue
        tab = table if which == "full" else small
        nf = args.failure if which == "full" else max(args.failure * tab.n4 // table.n4, 1)
        nf = min(nf, tab.n4)
        bp = benchpop.BenchPop(f"bench-protect{name}", tab, args.cache, transits=n, hosts=())
        try:
            bp.start_switch(bins.patched, True, extra=KERNEL_LFIB)
            bp.start_feeders()
            bp.wait_established()
            for f in bp.feeders.values():
                f.start_sending()
            want = n * (tab.n4 + tab.n6)
            pop.wait_until(lambda: bp.switch_paths() >= want, 900, 0.1, what=f"switch has {want} paths")
            lost, backup = bp.transits[-1], bp.transits[0]    # its backups: the others, in order
            sw = bp.switch.daemon
            nets = random.Random(args.seed).sample(tab.v4, nf)
            f = load_file(bp.switch.dir / "protect.set", nets, f"{lost.name}_v4")
            sw.cmd(f'autopilot load ap "{f}"')
            pop.wait_until(lambda: birdsock.overrides(sw.sock)[1] == nf, 300, 0.05,
                           what=f"{nf} overrides active")
            runs = []
            for i in range(args.runs):
                if i:       # the lost transit back, with its table; its overrides active again
                    bp.start_feeders([lost])
                    bp.wait_established()
                    bp.feeders[lost.name].start_sending()
                    pop.wait_until(lambda: bp.switch_paths() >= want, 900, 0.1, what=f"switch has {want} paths")
                    pop.wait_until(lambda: birdsock.overrides(sw.sock)[1] == nf, 300, 0.05,
                                   what=f"{nf} overrides active again")
                time.sleep(1)
                r = repoint(bp, lost, backup, tracer)
                log(f"protection, {n} egresses, {want:,} paths, {nf:,} overrides, run {i + 1}: repoint "
                    f"{r['repoint_ms']:.3f} ms after BIRD read the close (sessions: "
                    + ", ".join(f"{x:.3f}" for x in r["sessions_ms"]) + " ms)")
                runs.append(r)
            med = sorted(runs, key=lambda r: r["repoint_ms"])[len(runs) // 2]
            out[name] = dict(med, runs=[r["repoint_ms"] for r in runs], egresses=n, paths=want,
                             overrides=nf, table=which)
        except Exception as e:  # pylint: disable=broad-except
            log(f"protection {name} FAILED: {e!r}")
            bp.topo.dump_logs(5)
            out[name] = {"error": f"{type(e).__name__}: {e}"[:300], "egresses": n, "table": which}
        finally:
            trace = bp.switch.dir / "repoint.trace"
            if trace.exists():          # the last run's, kept next to the results
                shutil.copy(trace, pathlib.Path(args.out).with_name(f"repoint-{name}.trace"))
            bp.teardown()
    return out


def reference(args, bins, table):
    """gobgpd and exabgp, through their APIs, into a stock switch."""
    n = args.overrides
    nets = random.Random(args.seed).sample(table.v4, n)
    bp = benchpop.BenchPop("bench-reference", table, args.cache, transits=2, managers=("gobgp", "exabgp"))
    out = {}
    try:
        tr2 = bp.transits[1]
        bp.start_switch(bins.stock, False, manager_table="master4")
        bp.start_hosts(bins.patched, count_overrides=True)
        bp.start_feeders()
        bp.wait_established()
        converge(bp, table)
        steps = Steps(bp, drain)
        for kind in ("gobgp", "exabgp"):
            out[f"{kind}_stock"] = steps.run(f"{kind} → stock", via_manager, bp, kind, nets,
                                             tr2.addr4(bp.switch), 900)
    finally:
        bp.teardown()
    return out


def hostrole(args, bins, table):
    """The host role's cost (bench/hostrole.py's run): a host with K = 2
    alternates (full copies, and minimal ones: k2min) against a stock host
    behind the same patched switch, three egresses; runs of each,
    interleaved (the order turned each run)."""
    import hostrole as hr  # pylint: disable=import-outside-toplevel
    hr.bp_bins["patched"] = bins.patched
    bindirs = {"stock": bins.stock, "patched": bins.patched}
    runs = {"stock": [], "k2": [], "k2min": []}
    for i in range(args.runs):
        order = list(runs)[i % 3:] + list(runs)[:i % 3]
        for name in order:
            secs, hwm, cpu = hr.run_variant(name, bindirs, table, args.cache, i)[:3]
            runs[name].append({"converged_s": secs, "host_hwm": hwm, "host_cpu_s": cpu})
            log(f"host role run {i + 1}, {hr.VARIANTS[name][0]}: converged in {secs:.2f} s, "
                f"peak RSS {hwm / 2**20:.0f} MB")
    return {"paths_per_host": 3 * (table.n4 + table.n6), "runs": runs,
            "median": {k: {m: median([r[m] for r in v]) for m in ("converged_s", "host_hwm", "host_cpu_s")}
                       for k, v in runs.items()}}


# --- main ---------------------------------------------------------------------------

class Bins:
    def __init__(self, patched, stock):
        self.patched, self.stock = patched, stock


# --- Observation: read requests on the controller socket -----------------------------

def dump_once(path, timeout=600):
    """A full `dump` on its own connection, read as fast as we can (the
    lines are counted, not parsed): (seconds, bytes, the last line's JSON)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(path))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        t0 = time.monotonic()
        s.sendall(b"@d dump\n")
        buf, size = bytearray(), 0
        while True:
            chunk = s.recv(1 << 20)
            if not chunk:
                raise RuntimeError("switch closed the connection during the dump")
            size += len(chunk)
            buf += chunk
            end = buf.rfind(b"\n@d ")
            if end >= 0 and buf.endswith(b"\n"):
                t1 = time.monotonic()
                last = bytes(buf[end + 1:]).decode()
                break
            if len(buf) > 1 << 16:
                del buf[:-4096]
    if not last.startswith("@d ok "):
        raise RuntimeError(f"dump failed: {last.strip()}")
    return t1 - t0, size, json.loads(last[len("@d ok "):])


def pings_during(path, busy, interval=0.01):
    """Round trips of `ping` on another connection while busy() runs (in
    this thread, with the pings in another): (busy's result, [ms])."""
    rtts, stop = [], threading.Event()

    def pinger():
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(60)
            s.connect(str(path))
            f = s.makefile("rb")
            while not stop.is_set():
                t = time.monotonic()
                s.sendall(b"ping\n")
                f.readline()
                rtts.append((time.monotonic() - t) * 1000)
                time.sleep(interval)
            f.close()

    th = threading.Thread(target=pinger, daemon=True)
    th.start()
    try:
        res = busy()
    finally:
        stop.set()
        th.join(60)
    return res, rtts


def reannounce(bp, table, path, with_dump):
    t = bp.transits[-1]
    full = len(bp.transits) * (table.n4 + table.n6)
    bp.feeders[t.name].kill()
    pop.wait_until(lambda: all(n <= full - table.n4 - table.n6 for n in bp.host_paths()), 120, 0.05,
                   what="hosts lost the egress's paths")
    bp.start_feeders([t])
    bp.wait_established()
    time.sleep(1)
    dumped = []
    th = threading.Thread(target=lambda: dumped.append(dump_once(path)), daemon=True)
    t0 = time.time()
    bp.feeders[t.name].start_sending()
    if with_dump:
        th.start()
    pop.wait_until(lambda: all(n >= full for n in bp.host_paths()), 300, 0.02, what="hosts have every path again")
    r = {"converged_s": time.time() - t0}
    if with_dump:
        th.join(300)
        r["dump_s"] = dumped[0][0] if dumped else None
    log(f"re-announce of {t.name} ({table.n4 + table.n6} paths) {'during a dump' if with_dump else 'alone'}: "
        f"hosts converged in {r['converged_s']:.2f}s" + (f", dump {r['dump_s']:.2f}s" if with_dump else ""))
    return r


class WatchReader:
    """A `watch` subscription read as fast as we can in a thread: events
    counted by kind, seq gaps and resyncs noted, the times of the first and
    last event of each phase ("remove", "add")."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(600)
        self.s.connect(str(path))
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        self.f = self.s.makefile("rb", buffering=1 << 20)
        self.s.sendall(b"@w watch\n")
        line = self.f.readline().decode()
        if not line.startswith("@w ok "):
            raise RuntimeError(f"watch refused: {line.strip()}")
        self.seq = json.loads(line[6:])["seq"]
        self.counts, self.times, self.gaps, self.resync, self.bytes = {}, {}, 0, None, 0
        self.th = threading.Thread(target=self.run, daemon=True)
        self.th.start()

    def run(self):
        # Not parsed as JSON (too slow in Python for a table's worth): the
        # seq and kind are at fixed places of the line, `+ {"seq":N,"event":"KIND"`
        counts, times, seq, gaps = self.counts, self.times, self.seq, 0
        for line in self.f:
            if line.startswith(b"@s "):
                break
            self.bytes += len(line)
            comma = line.index(b",", 9)
            n = int(line[9:comma])
            if n != seq + 1:
                gaps += 1
            seq = n
            kind = line[comma + 10:line.index(b'"', comma + 10)]
            if kind == b"path":
                a = line.index(b'"action":"', comma) + 10
                kind = b"path:" + line[a:line.index(b'"', a)]
            kind = kind.decode()
            counts[kind] = counts.get(kind, 0) + 1
            if kind == "resync":
                self.resync = json.loads(line[2:])
                break
            t = time.monotonic()
            first = times.get(kind)
            times[kind] = (first[0] if first else t, t)
        self.seq, self.gaps = seq, gaps

    def stop(self):
        self.s.sendall(b"@s unwatch\n")
        self.th.join(120)
        self.f.close()
        self.s.close()


def watch_flap(bp, table, path, watched):
    """The last egress's feeder killed (its paths go) and started again
    (they come back), with a watcher reading or none: the switch's peak RSS
    meanwhile (sampled every 20 ms) and what the watcher got."""
    sw, t = bp.switch.daemon, bp.transits[-1]
    full = len(bp.transits) * (table.n4 + table.n6)
    rss0, peak, stop = sw.status("VmRSS"), [0], threading.Event()

    def sampler():
        while not stop.is_set():
            peak[0] = max(peak[0], sw.status("VmRSS"))
            time.sleep(0.02)

    w = WatchReader(path) if watched else None
    th = threading.Thread(target=sampler, daemon=True)
    th.start()
    t0 = time.monotonic()
    bp.feeders[t.name].kill()
    pop.wait_until(lambda: all(n <= full - table.n4 - table.n6 for n in bp.host_paths()), 300, 0.05,
                   what="hosts lost the egress's paths")
    bp.start_feeders([t])
    bp.wait_established()
    bp.feeders[t.name].start_sending()
    pop.wait_until(lambda: all(n >= full for n in bp.host_paths()), 300, 0.02, what="hosts have every path again")
    time.sleep(1)
    stop.set()
    th.join(10)
    r = {"seconds": time.monotonic() - t0, "rss_peak_growth": peak[0] - rss0}
    if w:
        w.stop()
        r.update(counts=w.counts, gaps=w.gaps, resync=w.resync, bytes=w.bytes,
                 rates={k: (n / (w.times[k][1] - w.times[k][0]) if w.times[k][1] > w.times[k][0] else None)
                        for k, n in w.counts.items() if k in w.times})
        log(f"flap of {t.name} watched: {w.counts}, gaps {w.gaps}, resync {bool(w.resync)}, "
            f"rates {r['rates']}, RSS peak growth {r['rss_peak_growth'] / 2**20:.1f} MiB")
    else:
        log(f"flap of {t.name} unwatched: RSS peak growth {r['rss_peak_growth'] / 2**20:.1f} MiB")
    return r


def observe(args, bins, table):
    e = max(args.egresses)
    bp = benchpop.BenchPop(f"bench-observe{e}", table, args.cache, transits=e)
    out = {"egresses": e}
    try:
        path = controller_path(bp)
        bp.start_switch(bins.patched, True, ap_extra=f'\tcontroller socket "{path}";')
        bp.start_hosts(bins.patched)
        bp.start_feeders()
        bp.wait_established()
        t = time.time()
        converge(bp, table)
        log(f"observe POP converged in {time.time() - t:.1f}s")
        sw = bp.switch.daemon
        time.sleep(1)
        idle = pings_during(path, lambda: time.sleep(2))[1]
        runs = []
        for i in range(args.runs):
            rss0, cpu0 = sw.status("VmRSS"), sw.cpu_s()
            with profiled(f"observe-dump-{i}", sw):
                (secs, size, last), rtts = pings_during(path, lambda: dump_once(path))
            run = {"seconds": secs, "bytes": size, "paths": last["paths"], "prefixes": last["prefixes"],
                   "switch_cpu_s": sw.cpu_s() - cpu0, "rss_growth": sw.status("VmRSS") - rss0,
                   "ping_ms": sorted(rtts)}
            log(f"dump {i + 1}/{args.runs}: {last['paths']} paths of {last['prefixes']} prefixes, "
                f"{size / 2**20:.0f} MiB in {secs:.2f}s (switch CPU {run['switch_cpu_s']:.2f}s), "
                f"pings meanwhile p50 {statistics.median(rtts):.2f} ms max {max(rtts):.2f} ms")
            runs.append(run)
        out["dump"] = {"runs": runs, "median_s": median([r["seconds"] for r in runs]),
                       "idle_ping_ms": sorted(idle)}
        # The hosts' convergence while a dump runs, against none: the last
        # egress's feeder is killed (its paths go) and comes back; t0 is its
        # start signal, with a dump started on the same signal or not
        conv = {"alone": [], "dump": []}
        for mode in (["alone", "dump"] * args.runs):
            conv[mode].append(reannounce(bp, table, path, mode == "dump"))
        out["reannounce"] = {k: median([r["converged_s"] for r in v]) for k, v in conv.items()}
        out["reannounce_runs"] = conv
        # watch: one watcher keeping up with the last egress withdrawn and
        # re-announced; the switch's memory meanwhile against the same flap unwatched
        out["watch"] = {"unwatched": watch_flap(bp, table, path, False),
                        "watched": watch_flap(bp, table, path, True)}
    finally:
        bp.teardown()
    return out


def machine():
    model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    try:
        commit = subprocess.run(["git", "-C", str(HERE.parent), "describe", "--always", "--dirty"],
                                capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        commit = ""
    return {"nproc": os.cpu_count(), "model": model, "kernel": platform.release(),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "commit": commit}


def main():
    # SIGTERM (a timeout, a ^C from make) unwinds like an exception, so every
    # section's finally tears its namespaces and daemons down.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args = parse_args()
    if os.geteuid() != 0:
        sys.exit("bench: needs root (network namespaces, veth links)")
    for d in (args.patched, args.stock):
        if not (d / "bird").is_file():
            sys.exit(f"bench: no bird in {d}")
    pathlib.Path(args.cache).mkdir(parents=True, exist_ok=True)
    if args.perf:
        global PERF_DIR  # pylint: disable=global-statement
        PERF_DIR = pathlib.Path(args.perf).resolve()
        PERF_DIR.mkdir(parents=True, exist_ok=True)
    pop.cleanup_stale()
    bins = Bins(args.patched, args.stock)
    t_start = time.monotonic()
    log(f"sizes: {args.v4} IPv4 + {args.v6} IPv6 prefixes per egress, runs {args.runs}, "
        f"egresses {args.egresses}, overrides {args.overrides}, latency {args.latency}, failure {args.failure}")
    log("generating the table (routegen, fixed seed)")
    table = tables.Table(args.v4, args.v6, args.seed)
    results = {"machine": machine(), "sizes": {f: getattr(args, f) for f, *_ in SIZES},
               "table": table.stats()}
    if args.merge:
        results = json.loads(pathlib.Path(args.merge).read_text())
        log(f"merging into {args.merge} (measured {results['machine']['date']}): {','.join(args.sections)} anew")
    results.setdefault("section_machine", {})
    for section in args.sections:
        t = time.monotonic()
        log(f"--- {section}")
        new = globals()[section](args, bins, table)
        if args.merge and section == "protection" and results.get(section):
            results[section].update(new)        # BENCH_PROTECTION: the variants run now, the rest kept
        else:
            results[section] = new
        results["section_machine"][section] = machine()
        log(f"--- {section} done in {time.monotonic() - t:.0f}s")
        pathlib.Path(args.out).write_text(json.dumps(results, indent=1))
    if not args.merge:
        results["elapsed_s"] = time.monotonic() - t_start
    pathlib.Path(args.out).write_text(json.dumps(results, indent=1))
    md = report.render(results)
    print(md)
    if args.readme:
        report.update_readme(args.readme, md)
        log(f"table written into {args.readme}")


if __name__ == "__main__":
    main()
