#!/usr/bin/env python3
"""Memory soak: a switch taking a sync of N overrides every few seconds for
M minutes, with egress session flaps; its RSS must stay flat.

POP: transits t1, t2 (stock BIRD) announce the same N /24s; switch1
(patched, state file, controller socket); host h1 (patched) takes every
path and copy. Each round is one `sync` of all N prefixes where a tenth
change target (t2 <-> t1) and, every 5th round, 2% leave the set (back in
the next round): about 10,000 routes change per round on the switch and the
host, the journal grows and is folded into the state file. Every FLAP
seconds the switch's t2 session is disabled and enabled (`birdc disable
t2` / `enable t2`): N paths flushed and learned again, every override on t2
pending and active again.

RSS flat: after a warm-up (the first WARMUP minutes: every kind of event
has then happened several times and BIRD's slabs, linpools and page cache
are at their working size) the switch's RSS never exceeds the warm-up's
high water by more than ALLOW percent. A leak of a few bytes per changed
route (10,000 a round, hundreds of rounds) would cross that; allocator
jitter and a table grown by a flap's re-learning do not.

Usage: soak_memory.py PATCHED STOCK OUTDIR [--minutes M] [--overrides N]
       [--period S] [--flap S] [--warmup M] [--allow PCT]
"""

import csv
import os
import pathlib
import time

from soaklib import (Cli, Controller, Soak, big, log, memory, parser, prefixes4, routes,
                     soak_pop, sync_text, wait_until)


T2_PATHS = "show route table master4 protocol t2 count"     # t2's paths on the switch


def desired(pfx, r):
    """Round r's set: a tenth of the prefixes (a different tenth each round)
    on t1, the rest on t2; every 5th round 2% left out."""
    out = {}
    for i, p in enumerate(pfx):
        if r % 5 == 4 and i % 50 == r % 50:
            continue
        out[p] = "t1" if (i // 1000 + r) % 10 == 0 else "t2"
    return out


def main():
    ap = parser(__doc__)
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--overrides", type=int, default=100000)
    ap.add_argument("--period", type=float, default=3.0, help="seconds from sync to sync")
    ap.add_argument("--flap", type=float, default=60.0, help="seconds between t2 flaps")
    ap.add_argument("--warmup", type=float, default=5.0, help="minutes before RSS must be flat")
    ap.add_argument("--allow", type=float, default=5.0, help="percent over the warm-up high water")
    a = ap.parse_args()
    with Soak(a, "memory") as run:
        failures = run.failures
        n = a.overrides
        pfx = prefixes4(n)
        sock = f"/tmp/soakmem-{os.getpid()}.sock"
        log(f"building POP: t1, t2 with {n} prefixes each, switch1, h1")
        pop_ = soak_pop(run.topo, run.bins, [big(pfx), big(pfx)], hosts=("h1",),
                        ap_options=f'\tmax overrides {2 * n};\n\tcontroller socket "{sock}";')
        pop_.build(timeout=180)
        sw, h1 = pop_.switch, pop_.hosts[0]
        pid, hpid = sw.daemon.proc.pid, h1.daemon.proc.pid
        # `ip netns exec` execs BIRD: the pid is BIRD's own
        assert pathlib.Path(f"/proc/{pid}/comm").read_text().strip() == "bird", pid
        cli = Cli(sw.daemon.ctl)
        ctl = Controller(sock)
        samples = []
        t0 = time.monotonic()
        deadline = t0 + a.minutes * 60
        next_flap = t0 + a.flap
        flap_state, flaps, flap_t = None, 0, 0
        r = 0
        with open(run.out / "memory-samples.csv", "w", newline="") as fcsv:
            w = csv.writer(fcsv)
            w.writerow(["t_s", "round", "sync_s", "overrides", "switch_rss_kb", "switch_hwm_kb",
                        "switch_bird_kb", "host_rss_kb", "flaps", "t2_paths"])
            while time.monotonic() < deadline:
                rs = time.monotonic()
                want = desired(pfx, r)
                ctl.send(sync_text(want))
                rep = ctl.reply()
                sync_s = time.monotonic() - rs
                if rep != f"ok {len(want)}":
                    failures.append(f"round {r}: sync replied {rep!r}")
                    log(failures[-1])
                now = time.monotonic()
                # Flaps run across rounds: disabled now, enabled a round later
                if flap_state is None and now >= next_flap:
                    cli.cmd("disable t2")
                    flap_state, flap_t = "down", now
                elif flap_state == "down" and now - flap_t >= 1.0:
                    cli.cmd("enable t2")
                    flap_state = "up"
                elif flap_state == "up" and routes(sw, T2_PATHS) == n:
                    flaps += 1
                    flap_state, next_flap = None, now + a.flap
                rss, hwm, bm = memory(pid, cli)
                hrss = memory(hpid)[0]
                t2p = routes(sw, T2_PATHS)
                samples.append((now - t0, rss))
                w.writerow([f"{now - t0:.1f}", r, f"{sync_s:.3f}", len(want), rss, hwm,
                            f"{bm:.0f}" if bm else "", hrss, flaps, t2p])
                fcsv.flush()
                if r % 20 == 0:
                    log(f"round {r}: sync {sync_s:.2f}s, RSS {rss // 1024} MiB (HWM {hwm // 1024}), "
                        f"BIRD {bm / 1024 if bm else 0:.0f} MiB, host {hrss // 1024} MiB, flaps {flaps}")
                r += 1
                time.sleep(max(0.0, a.period - (time.monotonic() - rs)))
        # The end: the last round's set is there and active
        if flap_state is not None:
            cli.cmd("enable t2")
            wait_until(lambda: routes(sw, T2_PATHS) == n, 120, what="t2's paths back")
            if flap_state == "up":
                flaps += 1
        final = desired(pfx, r)
        ctl.send(sync_text(final))
        rep = ctl.reply()
        st = ctl.request("status")
        log(f"final sync: {rep}; {st}")
        if st != f"ok overrides {len(final)} active {len(final)} pending 0 shadow 0":
            failures.append(f"final status {st!r}")
        if not sw.daemon.alive():
            failures.append("switch died")

        warm = [s for t, s in samples if t < a.warmup * 60]
        after = [s for t, s in samples if t >= a.warmup * 60]
        hw = max(warm) if warm else 0
        mx = max(after) if after else 0
        growth = (mx - hw) * 100.0 / hw if hw else 0.0
        if after and growth > a.allow:
            failures.append(f"RSS after warm-up up to {mx} KiB, {growth:.1f}% over the "
                            f"warm-up high water {hw} KiB (allowed {a.allow}%)")
        res = run.finish({
               "minutes": round((time.monotonic() - t0) / 60, 1), "overrides": n,
               "rounds": r, "flaps": flaps, "period_s": a.period,
               "rss_first_kb": samples[0][1] if samples else None,
               "rss_warmup_max_kb": hw, "rss_after_warmup_max_kb": mx,
               "rss_end_kb": samples[-1][1] if samples else None,
               "rss_after_warmup_min_kb": min(after) if after else None,
               "growth_over_warmup_pct": round(growth, 2), "allow_pct": a.allow,
               "hwm_end_kb": memory(pid)[1], "host_rss_end_kb": memory(hpid)[0]})
        log(f"memory soak: {r} syncs of {n}, {flaps} flaps in {res['minutes']} min; RSS first "
            f"{res['rss_first_kb'] // 1024} MiB, warm-up max {hw // 1024} MiB, after max "
            f"{mx // 1024} MiB, end {res['rss_end_kb'] // 1024} MiB ({growth:+.1f}%)")


if __name__ == "__main__":
    main()
