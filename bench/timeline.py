#!/usr/bin/env python3
"""Timeline of controller batches of overrides (issue 17 item 2): where
the wall time of one batch goes, on the benchmark's POP (two egresses'
full tables, two hosts; the hosts' import of them is the reference).

For each batch: the client's times (request sent, `ok` read); the hosts'
counts of override routes, polled as bench.py does (every 5 ms,
--interval): first seen, all there, and the CPU the polling took; the
CPU each BIRD used, the switch's wait for a CPU (run queue, schedstat)
and its page faults. With --trace strace: the switch's system calls
(reads of the request, the journal's writes and fdatasync, the reply,
the UPDATE writes to each host, the poll() waits between event rounds);
perf: a CPU profile with real-time stamps (marks-N.json has the
client's); faults: its page faults with call graphs. Usage (root):

  bench/timeline.py --bird _build/bird/patched [--overrides 100000] [--runs 3]
                    [--copy minimal] [--trace strace|perf|faults|none]
"""

import argparse
import collections
import json
import os
import pathlib
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests" / "integration"))

import bench  # noqa: E402
import benchpop  # noqa: E402
import pop  # noqa: E402
import tables  # noqa: E402
from benchpop import log  # noqa: E402

CALLS = "read,write,sendto,recvfrom,fdatasync,poll,ppoll"
LINE = re.compile(r"^(\d+) +(\d+\.\d+) (\w+)\((\d+)?(.*?)\) += (-?\d+)(?:.*<([\d.]+)>)?$")


def trace_start(pid, out):
    proc = subprocess.Popen(["strace", "-f", "--seccomp-bpf", "-ttt", "-T", "-e", f"trace={CALLS}",
                             "-e", "signal=none", "-s", "0", "-o", str(out), "-p", str(pid)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    return proc


def trace_stop(proc):
    proc.send_signal(signal.SIGINT)
    proc.wait()


def trace_events(path):
    """(time, call, fd, result, seconds in the call) of each traced call."""
    out = []
    for line in pathlib.Path(path).read_text().splitlines():
        m = LINE.match(line)
        if m:
            out.append((float(m.group(2)), m.group(3), int(m.group(4) or -1), int(m.group(6)),
                        float(m.group(7) or 0)))
    return out


def runq_wait(pid):
    """Seconds the process has waited on a run queue (schedstat)."""
    return int(pathlib.Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9


def minflt(pid):
    return int(pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[7])


def poll_hosts(bp, want, t_end, marks, interval):
    """Host counts every interval: first seen (> 0) and all there, per
    host, and the CPU this polling took (the benchmark's counting)."""
    c0 = time.thread_time()
    first, done = [None] * len(bp.hosts), [None] * len(bp.hosts)
    while time.time() < t_end and not all(done):
        t = time.time()
        for i, n in enumerate(bp.host_overrides()):
            if n and first[i] is None:
                first[i] = t
            if n >= want and done[i] is None:
                done[i] = t
        time.sleep(interval)
    marks["host_first"], marks["host_done"] = first, done
    marks["poll_cpu"] = time.thread_time() - c0


def batch(bp, nets, egress, trace, outdir, run, interval):
    path = bench.controller_path(bp)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(str(path))
    data = ("begin\n" + "".join(f"add {n} {egress}\n" for n in nets) + "commit\n").encode()
    sw = bp.switch.daemon
    cpu0 = [sw.cpu_s()] + [h.daemon.cpu_s() for h in bp.hosts]
    wait0, flt0 = runq_wait(sw.proc.pid), minflt(sw.proc.pid)
    tr = trace_start(sw.proc.pid, outdir / f"strace-{run}.txt") if trace == "strace" else None
    if trace == "faults":
        tr = subprocess.Popen(["perf", "record", "-e", "page-faults", "-c", "1", "--call-graph", "dwarf,8192",
                               "-k", "CLOCK_REALTIME", "-o", str(outdir / f"faults-{run}.data"),
                               "-p", str(sw.proc.pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
    if trace == "perf":
        tr = subprocess.Popen(["perf", "record", "-F", "2999", "-k", "CLOCK_REALTIME", "-o", str(outdir / f"perf-{run}.data"),
                               "-p", str(sw.proc.pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
    marks = {}
    poller = threading.Thread(target=poll_hosts, args=(bp, len(nets), time.time() + 120, marks, interval))
    t0 = time.time()
    poller.start()
    sock.sendall(data)
    t_sent = time.time()
    reply = sock.recv(4096)
    t_reply = time.time()
    poller.join()
    if tr:
        trace_stop(tr)
    cpu1 = [sw.cpu_s()] + [h.daemon.cpu_s() for h in bp.hosts]
    wait1, flt1 = runq_wait(sw.proc.pid), minflt(sw.proc.pid)
    sock.close()
    t1 = max(marks["host_done"])
    rel = lambda t: f"{(t - t0) * 1000:8.1f} ms" if t else "       -"  # noqa: E731
    log(f"run {run}: {reply!r}; {len(nets) / (t1 - t0):,.0f}/s")
    log(f"  request sent        {rel(t_sent)}")
    log(f"  reply read          {rel(t_reply)}")
    for i, h in enumerate(bp.hosts):
        log(f"  {h.name}: first seen   {rel(marks['host_first'][i])}, all {rel(marks['host_done'][i])}")
    log(f"  CPU: switch {cpu1[0] - cpu0[0]:.2f} s, hosts " +
        ", ".join(f"{b - a:.2f} s" for a, b in zip(cpu0[1:], cpu1[1:])) +
        f"; the switch waited {wait1 - wait0:.2f} s for a CPU (run queue), {flt1 - flt0:,} page faults; "
        f"counting (every {interval * 1000:.0f} ms) {marks['poll_cpu']:.2f} s")
    (outdir / f"marks-{run}.json").write_text(json.dumps(dict(marks, t0=t0, t_sent=t_sent, t_reply=t_reply)))
    if trace == "strace":
        summarize_trace(outdir / f"strace-{run}.txt", t0, t1, rel)
    return {"rate": len(nets) / (t1 - t0), "reply_s": t_reply - t0, "visible_s": t1 - t0}


def summarize_trace(path, t0, t1, rel):
    ev = [e for e in trace_events(path) if t0 - 0.01 <= e[0] <= t1 + 0.05]
    by_fd = collections.defaultdict(list)
    for e in ev:
        if e[1] in ("read", "write", "sendto", "recvfrom", "fdatasync"):
            by_fd[(e[1], e[2])].append(e)
    # The controller connection: the fd read in 64 KB pieces
    reads = {fd: sum(e[3] for e in l if e[3] > 0) for (c, fd), l in by_fd.items() if c in ("read", "recvfrom")}
    ctl = max(reads, key=reads.get) if reads else None
    writes = {fd: sum(e[3] for e in l if e[3] > 0) for (c, fd), l in by_fd.items() if c in ("write", "sendto")}
    synced = {fd for (c, fd) in by_fd if c == "fdatasync"}
    hosts = sorted((fd for fd in writes if fd != ctl and fd not in synced), key=writes.get, reverse=True)[:2]
    for fd in synced:
        w = sorted(by_fd[("write", fd)])
        log(f"  switch: journal: {len(w)} writes, {sum(e[3] for e in w):,} B, first {rel(w[0][0])}, "
            f"last {rel(w[-1][0])}, {sum(e[4] for e in w) * 1000:.1f} ms in them")
    if ctl is not None:
        r = [e for e in by_fd[("read", ctl)] + by_fd[("recvfrom", ctl)] if e[3] > 0]
        r.sort()
        log(f"  switch: request read in {len(r)} reads, first {rel(r[0][0])}, last {rel(r[-1][0])}")
        w = sorted(by_fd[("write", ctl)] + by_fd[("sendto", ctl)])
        if w:
            log(f"  switch: reply written {rel(w[0][0])}")
    for e in sorted(sum((l for (c, _), l in by_fd.items() if c == "fdatasync"), [])):
        log(f"  switch: fdatasync      {rel(e[0])} ({e[4] * 1000:.1f} ms)")
    for fd in hosts:
        w = sorted(by_fd[("write", fd)] + by_fd[("sendto", fd)])
        short = sum(1 for e in w if e[3] < 0)
        log(f"  switch: fd {fd}: {len(w)} writes, {writes[fd]:,} B, first {rel(w[0][0])}, last {rel(w[-1][0])}"
            f"{f', {short} refused (EAGAIN)' if short else ''}")
    polls = [e for e in ev if e[1] in ("poll", "ppoll")]
    idle = sum(e[4] for e in polls)
    waits = sorted((e for e in polls if e[4] > 0.002), key=lambda e: -e[4])[:8]
    log(f"  switch: {len(polls)} polls (event rounds), {idle * 1000:.1f} ms in them; longest: " +
        ", ".join(f"{e[4] * 1000:.1f} ms at {(e[0] - t0) * 1000:.0f}" for e in waits))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bird", required=True, type=pathlib.Path)
    ap.add_argument("--overrides", type=int, default=100000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--v4", type=int, default=1000000)
    ap.add_argument("--v6", type=int, default=200000)
    ap.add_argument("--copy", choices=("minimal", "full"), default="minimal")
    ap.add_argument("--trace", choices=("strace", "perf", "faults", "none"), default="strace")
    ap.add_argument("--cache", default="bench-cache")
    ap.add_argument("--interval", type=float, default=0.005, help="seconds between counts (bench.py: 0.005)")
    ap.add_argument("--out", default="timeline-out")
    args = ap.parse_args()
    args.bird = args.bird.resolve()
    outdir = pathlib.Path(args.out).resolve()
    outdir.mkdir(parents=True, exist_ok=True)
    pathlib.Path(args.cache).mkdir(parents=True, exist_ok=True)
    cache = str(pathlib.Path(args.cache).resolve())
    pop.cleanup_stale()
    table = tables.Table(args.v4, args.v6, 1)
    nets = random.Random(1).sample(table.v4, args.overrides)
    bp = benchpop.BenchPop("timeline", table, cache, transits=2)
    try:
        egress = f"{bp.transits[1].name}_v4"
        extra = bench.start_override_pop(bp, args.bird)
        ref = bench.host_import(bp, table, again=False)
        bench.copy_mode(bp, extra, args.copy)
        rates = []
        for run in range(1, args.runs + 1):
            bench.flush(bp)
            time.sleep(1)
            r = batch(bp, nets, egress, args.trace, outdir, run, args.interval)
            rates.append(r["rate"])
        rates.sort()
        med = rates[len(rates) // 2]
        log(f"hosts' import {ref['rate']:,.0f}/s; batches {', '.join(f'{r:,.0f}' for r in rates)}/s; "
            f"median {med:,.0f}/s = {med / ref['rate']:.2f}x; load {os.getloadavg()[0]:.1f}")
    finally:
        bp.teardown()


if __name__ == "__main__":
    main()
