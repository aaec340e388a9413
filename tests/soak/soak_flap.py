#!/usr/bin/env python3
"""Flap soak: FLAPS egress flaps with OVERRIDES overrides on the flapping
egress (t2) and as many on its backup (t3); no host keeps a copy whose
target path is gone; every override active again at the end.

POP: transits t1, t2, t3 (stock BIRD) announce the same 2 x OVERRIDES
/24s, t1's path best (t2 prepends once, t3 twice); switch1 (patched,
egress t2 with backup t3, LFIB table mt, controller socket); host h1
(patched, labeled unicast, ADD-PATH: it sees every path and every copy).
OVERRIDES prefixes are moved to t2, as many others to t3.

Two kinds of flap, both real BGP:
  - path flap: t2's BIRD withdraws all its paths (`disable` of its static
    protocol) and announces them again once the switch has none left
    (every 5th one as soon as the switch has lost the first of them: a
    flap cut short). The session stays up: this is how an egress loses
    and regains a table quickly, about 10 a second here.
  - session flap (every SESSION_EVERY-th flap): `disable t2` / `enable t2`
    on the switch: the session goes down (every path and copy of t2
    flushed, LFIB labels of t2 repointed to t3) and up again; BGP's
    connect delay is at least 1 s, so these are slow.

Measured while flapping, by a sampler that reads one prefix at a time
(`show route for P all`: one prefix is answered within one event round,
so a sample is consistent) on the switch and on the host:
  - switch: an override copy (protocol ap) with t2's label while the
    switch has no path from t2 for the prefix. Seen once, it may be the
    round in which the path went; the sampler then reads the same prefix
    again at once (the next command is read in a later round of BIRD's
    loop, after the events queued meanwhile have run): seen again, the
    copy outlived the path by more than one event round -- a failure.
  - host: a copy with t2's label (marker (65000, 3, 1)) while the host
    has no original path with t2's label. The host learns of both over
    BGP, so a short window is expected (two withdrawals may travel in
    different UPDATEs); the sampler re-reads until it clears and records
    how long it lasted (a bound: sampling interval). A window over HOST_MAX
    ms is a failure.
  - t3's copies: on the host the best path of a t3 prefix is its copy,
    throughout (t2's flaps must not touch it).
Limits: samples, not a continuous watch: a violation shorter than the gap
between samples can be missed, and the figures say how many samples were
taken and how often a copy was caught without its path at all.

Usage: soak_flap.py PATCHED STOCK OUTDIR [--flaps N] [--minutes M]
       [--overrides N] [--session-every K] [--host-max MS]
"""

import collections
import os
import random
import re
import threading
import time

from soaklib import (Cli, Controller, Soak, big, label, log, parser, prefixes4, routes, soak_pop,
                     wait_until)

MARKER = "(65000, 3, 1)"
T2, T3 = label("t2"), label("t3")


def paths(cli, prefix):
    """[(proto, label, marker, best)] of prefix, one CLI command."""
    code, lines = cli.cmd(f"show route for {prefix} all")
    out, cur = [], None
    for l in lines:
        if not l or l.startswith("Table "):
            continue
        if not l.startswith("\t"):
            m = re.search(r"\[(\S+) ", l)
            cur = [m.group(1) if m else None, None, False, " * " in l or l.rstrip().endswith("*")]
            m = re.search(r" mpls (\d+) ", l)
            if m:
                cur[1] = int(m.group(1))
            out.append(cur)
            continue
        if cur is None:
            continue
        m = re.match(r"\s*via \S+ on \S+ mpls (\d+)", l)
        if m and cur[1] is None:
            cur[1] = int(m.group(1))
        if MARKER in l:
            cur[2] = True
    return [tuple(c) for c in out]


def switch_bad(ps):
    """A copy towards t2 without a path from t2."""
    return any(p == "ap" and lb == T2 for p, lb, _, _ in ps) and not any(p == "t2" for p, _, _, _ in ps)


def host_bad(ps):
    """A copy with t2's label without t2's original path."""
    return any(mk and lb == T2 for _, lb, mk, _ in ps) and not any(not mk and lb == T2 for _, lb, mk, _ in ps)


def t3_ok(ps):
    best = [x for x in ps if x[3]]
    return bool(best) and best[0][2] and best[0][1] == T3


def main():
    ap = parser(__doc__)
    ap.add_argument("--flaps", type=int, default=10000)
    ap.add_argument("--minutes", type=float, default=60)
    ap.add_argument("--overrides", type=int, default=1000, help="on t2, as many again on t3")
    ap.add_argument("--session-every", type=int, default=50)
    ap.add_argument("--host-max", type=float, default=500.0, help="ms")
    ap.add_argument("--seed", type=int, default=int(time.time()))
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    st = collections.Counter()
    host_windows = []
    with Soak(a, "flap") as run:
        failures = run.failures
        n = a.overrides
        pfx = prefixes4(2 * n)
        on2, on3 = pfx[:n], pfx[n:]
        sock = f"/tmp/soakflap-{os.getpid()}.sock"
        pop_ = soak_pop(run.topo, run.bins, [big(pfx) for _ in range(3)], hosts=("h1",),
                        backups={"t2": ["t3"]},
                        ap_options=f'\tcontroller socket "{sock}";').build(timeout=180)
        sw, h1, t2 = pop_.switch, pop_.hosts[0], pop_.transit("t2")
        ctl = Controller(sock)
        ctl.send("begin\n" + "".join(f"add {p} t2\n" for p in on2)
                 + "".join(f"add {p} t3\n" for p in on3) + "commit\n")
        assert ctl.reply() == f"ok {2 * n}"
        want = f"ok overrides {2 * n} active {2 * n} pending 0 shadow 0"
        assert ctl.request("status") == want
        hcli = Cli(h1.daemon.ctl)
        copies = f"show route where bgp_large_community ~ [{MARKER}] count"
        wait_until(lambda: routes(hcli, copies) == 2 * n, 60, what="copies on h1")

        stop = threading.Event()

        def sampler():
            scli, hc = Cli(sw.daemon.ctl), Cli(h1.daemon.ctl)
            while not stop.is_set():
                p = rnd.choice(on2)
                ps = paths(scli, p)
                st["samples_switch"] += 1
                if switch_bad(ps):
                    st["switch_copy_without_path_seen"] += 1
                    if switch_bad(paths(scli, p)):
                        st["switch_copy_without_path_twice"] += 1
                        failures.append(f"switch: copy of {p} to t2 without t2's path in two "
                                        "consecutive reads")
                hs = time.monotonic()
                ps = paths(hc, p)
                st["samples_host"] += 1
                if host_bad(ps):
                    st["host_copy_without_path_seen"] += 1
                    last = hs
                    while host_bad(paths(hc, p)):
                        last = time.monotonic()
                        if last - hs > 5:
                            break
                    w = (time.monotonic() - hs) * 1000
                    host_windows.append(w)
                    if w > a.host_max:
                        failures.append(f"host: copy of {p} to t2 without t2's path for {w:.0f} ms")
                if st["samples_host"] % 5 == 0:
                    q = rnd.choice(on3)
                    st["samples_t3"] += 1
                    if not t3_ok(paths(hc, q)):
                        st["t3_copy_not_best"] += 1
                        failures.append(f"host: best path of {q} not its t3 copy during t2 flaps")
            scli.close()
            hc.close()

        th = threading.Thread(target=sampler, daemon=True)
        th.start()
        fcli, tcli = Cli(sw.daemon.ctl), Cli(t2.node.daemon.ctl)
        t2count = lambda: routes(fcli, "show route table master4 protocol t2 count")  # noqa: E731
        deadline = run.t0 + a.minutes * 60
        flaps = 0
        durations = collections.defaultdict(list)
        fl0 = time.monotonic()
        while flaps < a.flaps and time.monotonic() < deadline:
            flaps += 1
            if flaps % 1000 == 0:
                rate = flaps / (time.monotonic() - fl0)
                log(f"{flaps} flaps ({rate:.1f}/s); {dict(st)}; host windows max "
                    f"{max(host_windows) if host_windows else 0:.1f} ms")
            ft = time.monotonic()
            if flaps % a.session_every == 0:
                fcli.cmd("disable t2")
                wait_until(lambda: t2count() == 0, 30, interval=0.005, what="t2 down on the switch")
                fcli.cmd("enable t2")
                wait_until(lambda: t2count() == 2 * n, 60, interval=0.01, what="t2 back on the switch")
                st["session_flaps"] += 1
                durations["session"].append(time.monotonic() - ft)
                continue
            short = flaps % 5 == 0
            tcli.cmd("disable internet4")
            wait_until(lambda: (t2count() < 2 * n) if short else (t2count() == 0), 30,
                       interval=0.002, what="t2's paths gone on the switch")
            tcli.cmd("enable internet4")
            wait_until(lambda: t2count() == 2 * n, 30, interval=0.002, what="t2's paths back")
            st["path_flaps_short" if short else "path_flaps"] += 1
            durations["short" if short else "path"].append(time.monotonic() - ft)
        flap_s = time.monotonic() - fl0
        stop.set()
        th.join(30)

        # The end: every override active, on the switch and on the host
        got = wait_until(lambda: (lambda s: s if s == want else None)(ctl.request("status")), 30,
                         what="every override active")
        wait_until(lambda: routes(hcli, copies) == 2 * n, 60, what="every copy on h1")
        wrong = [p for p in on2 + on3
                 if not any(x[3] and x[2] and x[1] == (T2 if p in set(on2) else T3)
                            for x in paths(hcli, p))]
        if wrong:
            failures.append(f"at the end {len(wrong)} prefixes not on their copy on h1, e.g. {wrong[:3]}")
        hw = sorted(host_windows)
        run.finish({"flaps": flaps,
               "flaps_per_s": round(flaps / flap_s, 2), "flap_seconds": round(flap_s, 1),
               "overrides_t2": n, "overrides_t3": n, "final_status": got, **dict(st),
               "host_window_ms_max": round(hw[-1], 1) if hw else 0,
               "host_window_ms_p50": round(hw[len(hw) // 2], 1) if hw else 0,
               "host_windows": len(hw),
               "flap_ms_mean": {k: round(sum(v) * 1000 / len(v), 1) for k, v in durations.items()},
               "flap_ms_max": {k: round(max(v) * 1000, 1) for k, v in durations.items()}})
        log(f"flap soak: {flaps} flaps in {flap_s:.0f} s; {dict(st)}")


if __name__ == "__main__":
    main()
