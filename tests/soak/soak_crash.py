#!/usr/bin/env python3
"""Crash soak: kill -9 the switch at random moments, KILLS times; after
each restart every acknowledged override is there.

POP: transits t1, t2 (stock BIRD) announce the same PREFIXES /24s (a
sixth more prefixes are announced by nobody: their overrides stay
pending); switch1 (patched, state file, controller socket). No host: the
switch's own state is what is checked.

Each trial pipelines a random mix of units on one controller connection:
single adds and withdraws, `begin` batches (1 to 20,000 lines) and `sync`s
of the whole set (with a random part changed), and sometimes runs `birdc
configure` (a changed `max overrides`) at the same time; a killer thread
sends SIGKILL after a random delay within the time the mix takes. Some
trials kill the switch instead while it starts (restore, fold of the
journal into the state file). Replies are read until the socket closes:
a reply the switch sent before it died is in the socket buffer and still
read, so "acknowledged" is exact. A unit without its reply is in flight:
it may have landed or not, but units land in order and a batch or sync
lands whole or not at all.

After each kill, before the restart:
  - the state file is complete: header, N add lines, "# end N";
  - what the files hold (state file, then the journal up to its last
    "# commit") equals the acknowledged set with the first j in-flight
    units applied, for some j (0..in flight): nothing acknowledged lost,
    no batch half-applied, nothing out of order.
After the restart:
  - "Restored N overrides ... 0 problems" with N that set's size, no
    .corrupt file (nothing flagged corrupt: a cut last commit is no
    corruption), no <BUG> line;
  - the state file the switch writes at start (from its memory) holds the
    same set, and `status` counts it.

Usage: soak_crash.py PATCHED STOCK OUTDIR [--kills N] [--prefixes N] [--seed S]
"""

import collections
import os
import pathlib
import random
import re
import signal
import socket
import subprocess
import threading
import time

from soaklib import Controller, Inotify, Soak, big, log, parser, prefixes4, soak_pop

HEADER = "# bird-autopilot overrides v1 protocol ap"
REASON_RE = re.compile(r' reason "((?:[^"\\]|\\.)*)"')


def parse_add(line):
    """(prefix, (target, reason)) of a state or journal add line."""
    f = line.split()
    m = REASON_RE.search(line)
    return f[1], (f[2], m.group(1) if m else None)


def read_files(state, journal):
    """(durable set {prefix: (target, reason)}, problems [text], facts {}).

    What a restart restores: the state file's adds, then the journal's
    changes up to its last "# commit"."""
    problems, facts = [], {"journal_tail": 0, "tmp_left": state.with_name(state.name + ".tmp").exists()}
    have = {}
    if state.exists():
        lines = state.read_text().split("\n")
        if lines[-1] != "":
            problems.append(f"state file ends without a newline: {lines[-1][:60]!r}")
        lines = lines[:-1]
        adds = [l for l in lines if l.startswith("add ")]
        if not lines or lines[0] != HEADER:
            problems.append(f"state file header {lines[:1]!r}")
        if not lines or lines[-1] != f"# end {len(adds)}":
            problems.append(f"state file partial: last line {lines[-1:]!r}, {len(adds)} add lines")
        if len(adds) + 2 != len(lines):
            problems.append("state file has lines that are neither adds nor header/end")
        for l in adds:
            p, v = parse_add(l)
            have[p] = v
    if journal.exists():
        text = journal.read_text(errors="replace")
        cut = text.rfind("# commit\n") + len("# commit\n") if "# commit\n" in text else 0
        facts["journal_tail"] = len(text) - cut
        for l in text[:cut].splitlines():
            if l.startswith("add "):
                p, v = parse_add(l)
                have[p] = v
            elif l.startswith("withdraw "):
                have.pop(l.split()[1], None)
            elif l != "# commit":
                problems.append(f"journal line before the last commit is no change: {l[:80]!r}")
    return have, problems, facts


class Unit:
    """Requests answered by one reply: a single add/withdraw, a batch, a sync.
    changes: [(prefix, value or None)] in order; full: a sync's whole set."""

    def __init__(self, kind, text, changes, full=None):
        self.kind, self.text, self.changes, self.full = kind, text, changes, full

    def apply(self, s):
        if self.full is not None:
            s.clear()
            s.update(self.full)
            return
        for p, v in self.changes:
            if v is None:
                s.pop(p, None)
            else:
                s[p] = v

    def touched(self, before):
        return set(before) | set(self.full) if self.full is not None else {p for p, _ in self.changes}


def add_line(p, v):
    t, r = v
    return f"add {p} {t}" + (f' reason "{r}"' if r else "")


class Trial:
    """One random mix of units against the current set."""

    def __init__(self, rnd, universe, have, n, fold=False):
        self.units = []
        sent = dict(have)
        targets = ["t1", "t2", "next-best"]
        if fold:
            # Syncs that change every override: the journal outgrows the set and is
            # folded into the state file (a snapshot written) 100 ms later
            if len(sent) < 5000:
                sent.update((p, ("t1", None)) for p in universe[:6000])
            for k in range(3):
                full = {p: (targets[(targets.index(v[0]) + 1) % 3], None) for p, v in sent.items()}
                u = Unit("sync", "sync\n" + "".join(add_line(p, v) + "\n" for p, v in full.items())
                         + "commit\n", [], full)
                u.apply(sent)
                self.units.append(u)
            n = 0
        nlines = 0
        while len(self.units) < n and nlines < 60000:
            kind = rnd.choices(["single", "batch", "sync"], [70, 20, 10] if n <= 10 else [98, 1.5, 0.5])[0]
            if kind == "single":
                if sent and rnd.random() < 0.3:
                    p = rnd.choice(list(sent))
                    u = Unit("single", f"withdraw {p}\n", [(p, None)])
                else:
                    p = rnd.choice(universe)
                    v = (rnd.choice(targets), rnd.choice([None, f"r{rnd.randrange(1000)}"]))
                    u = Unit("single", add_line(p, v) + "\n", [(p, v)])
            elif kind == "batch":
                k = rnd.choice([1, 10, 100, 1000, 5000, 20000])
                ps = rnd.sample(universe, min(k, len(universe)))
                changes, lines = [], []
                for p in ps:
                    if p in sent and rnd.random() < 0.3:
                        changes.append((p, None))
                        lines.append(f"withdraw {p}")
                    else:
                        v = (rnd.choice(targets), None)
                        changes.append((p, v))
                        lines.append(add_line(p, v))
                u = Unit("batch", "begin\n" + "\n".join(lines) + "\ncommit\n", changes)
            else:
                full = dict(sent)
                for p in rnd.sample(universe, min(len(universe), rnd.choice([10, 1000, 5000]))):
                    if rnd.random() < 0.3:
                        full.pop(p, None)
                    else:
                        full[p] = (rnd.choice(targets), rnd.choice([None, "sync"]))
                u = Unit("sync", "sync\n" + "".join(add_line(p, v) + "\n" for p, v in full.items())
                         + "commit\n", [], full)
            u.apply(sent)
            self.units.append(u)
            nlines += u.text.count("\n")
        self.text = "".join(u.text for u in self.units).encode()


def landed(have, units, durable):
    """The j such that have + units[:j] == durable, or None."""
    cur = dict(have)
    if cur == durable:
        return 0
    # Compare incrementally: only prefixes a unit touches can change
    diff = {p for p in set(cur) | set(durable) if cur.get(p) != durable.get(p)}
    for j, u in enumerate(units, 1):
        t = u.touched(cur)
        u.apply(cur)
        for p in t:
            if cur.get(p) != durable.get(p):
                diff.add(p)
            else:
                diff.discard(p)
        if not diff:
            return j
    return None


def selftest():
    """The checks themselves: they must catch what they are there for."""
    import tempfile
    have = {"a": ("t1", None)}
    us = [Unit("single", "", [("b", ("t2", None))]),
          Unit("batch", "", [("a", None), ("c", ("t1", None))]),
          Unit("sync", "", [], {"z": ("t1", "sync")})]
    assert landed(have, us, {"a": ("t1", None)}) == 0
    assert landed(have, us, {"a": ("t1", None), "b": ("t2", None)}) == 1
    assert landed(have, us, {"b": ("t2", None), "c": ("t1", None)}) == 2
    assert landed(have, us, {"z": ("t1", "sync")}) == 3
    assert landed(have, us, {"a": ("t1", None), "c": ("t1", None)}) is None    # half a batch
    assert landed(have, us, {}) is None                                        # acknowledged lost
    d = pathlib.Path(tempfile.mkdtemp(prefix="soak-selftest-"))
    s, j = d / "ap.state", d / "ap.state.journal"
    s.write_text(f"{HEADER}\nadd 1.0.0.0/24 t1 created 1\n# end 1\n")
    j.write_text("add 2.0.0.0/24 t2 created 1\n# commit\nadd 3.0.0.0/24 t2 cr")
    got = read_files(s, j)
    assert got[0] == {"1.0.0.0/24": ("t1", None), "2.0.0.0/24": ("t2", None)} and not got[1], got
    assert got[2]["journal_tail"] == 20, got
    s.write_text(f"{HEADER}\nadd 1.0.0.0/24 t1 created 1\n")
    assert read_files(s, j)[1], "a state file without its end must be found partial"
    for f in (s, j):
        f.unlink()
    d.rmdir()


def main():
    ap = parser(__doc__)
    ap.add_argument("--kills", type=int, default=200)
    ap.add_argument("--prefixes", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--weights", type=lambda s: [float(x) for x in s.split(",")], default=[30, 30, 20, 10, 10],
                    help="kill moments: after a reply, at a random time, at a journal write, at a "
                    "snapshot, during birdc configure")
    a = ap.parse_args()
    selftest()
    rnd = random.Random(a.seed)
    log(f"seed {a.seed}")
    stats = collections.Counter()
    with Soak(a, "crash") as run:
        bins, failures = run.bins, run.failures
        pfx = prefixes4(a.prefixes)
        universe = pfx + prefixes4(a.prefixes // 6, base="48.0.0.0")   # announced by nobody
        sock = f"/tmp/soakcrash-{os.getpid()}.sock"
        limit = [3 * len(universe)]
        opts = lambda: f'\tmax overrides {limit[0]};\n\tcontroller socket "{sock}";'  # noqa: E731
        pop_ = soak_pop(run.topo, bins, [big(pfx), big(pfx)], ap_options=opts()).build(timeout=180)
        sw = pop_.switch
        state = pop_.state_file
        journal = state.with_name(state.name + ".journal")
        watch = Inotify(sw.dir)
        have = {}           # the set as it is on disk: acknowledged, and what landed of the rest

        def restart(kill_during_start=False):
            """Start the switch; check the restore. Returns False on failure."""
            logf = sw.dir / "bird.log"
            before = len(logf.read_text(errors="replace").splitlines()) if logf.exists() else 0
            if kill_during_start:
                # Start without waiting, kill somewhere in start-up (restore, fold)
                sw.daemon.conf.write_text(pop_.switch_config())
                sw.daemon.ctl.unlink(missing_ok=True)
                at_snapshot = rnd.random() < 0.5
                watch.drain()
                p = subprocess.Popen(["ip", "netns", "exec", sw.ns, bins.patched / "bird", "-f",
                                      "-c", sw.daemon.conf, "-s", sw.daemon.ctl, "-P",
                                      sw.dir / "bird.pid"], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                                     cwd=sw.dir, start_new_session=True)
                tmp = state.with_name(state.name + ".tmp")
                if at_snapshot:
                    # At the snapshot written at start (the restored set, the journal folded)
                    seen = watch.wait(tmp.name, Inotify.IN_CREATE | Inotify.IN_MODIFY, 5)
                    stats["start_at_snapshot" if seen else "start_snapshot_missed"] += 1
                else:
                    time.sleep(rnd.uniform(0, 0.3))
                p.kill()
                p.wait()
                return None
            pop_.start_switch(opts())
            if rnd.random() < 0.5:
                # Half the trials with the egress sessions up: copies going out meanwhile
                pop_.settle(paths=False)
                stats["sessions_up"] += 1
            lines = []
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                lines = logf.read_text(errors="replace").splitlines()[before:]
                if any("Restored" in l for l in lines):
                    break
                time.sleep(0.05)
            rl = [l for l in lines if " ap: Restored " in l]
            m = re.search(r"Restored (\d+) overrides from \S+ \((\d+) expired meanwhile, (\d+) problems\)",
                          rl[0]) if rl else None
            return m, lines

        per_line = [5e-6]   # seconds a line of a mix takes, learnt
        trial = 0
        while stats["kills"] < a.kills:
            trial += 1
            kind = "start" if rnd.random() < 0.08 else "run"
            stats[f"kind_{kind}"] += 1
            if kind == "start":
                # The running switch first (an idle moment: a state timer may be due), then
                # a new one somewhere in its start-up
                sw.daemon.kill()
                restart(kill_during_start=True)
                stats["kills"] += 2
                durable, probs, facts = read_files(state, journal)
                stats["journal_tail_cut"] += facts["journal_tail"] > 0
                stats["tmp_left"] += facts["tmp_left"]
                if probs or durable != have:
                    failures.append(f"trial {trial} (kill during start): files {probs}, "
                                    f"set {'same' if durable == have else 'CHANGED'}")
                    log(failures[-1])
                    have = durable
            else:
                logf = sw.dir / "bird.log"
                log0 = len(logf.read_text(errors="replace").splitlines())
                ctl = Controller(sock, timeout=60)
                mode = rnd.choices(["reply", "time", "journal", "fold", "configure"], a.weights)[0]
                tr = Trial(rnd, universe, have, rnd.choice([1, 3, 10, 100, 2000]), fold=mode == "fold")
                if mode == "reply" and len(tr.units) < 2:
                    mode = "time"
                stats[f"mode_{mode}"] += 1
                configure = mode == "configure" or rnd.random() < 0.3
                stats["with_configure"] += configure
                # The kill lands inside the mix: after the k-th reply (plus up to 2 ms),
                # or at a random time within what such a mix took before
                lines = tr.text.count(b"\n")
                window = 0.001 + lines * per_line[0]
                by_reply = mode == "reply"
                kth = rnd.randrange(len(tr.units)) if by_reply else None
                tmp = state.with_name(state.name + ".tmp")
                jsize = journal.stat().st_size if journal.exists() else 0
                watch.drain()
                delay = rnd.uniform(0, 0.002) if by_reply else rnd.uniform(0, window)
                if mode == "configure":
                    delay = rnd.uniform(0.003, 0.03)     # birdc starts, BIRD parses and commits
                pid = sw.daemon.proc.pid
                done = {}
                go = threading.Event()

                def killer():
                    if by_reply:
                        go.wait(60)
                    if mode in ("journal", "fold"):
                        # At a state write: inotify tells when the journal is written or a
                        # snapshot (FILE.tmp) created; the kill follows within microseconds
                        name, mask = ((tmp.name, Inotify.IN_CREATE | Inotify.IN_MODIFY) if mode == "fold"
                                      else (journal.name, Inotify.IN_MODIFY))
                        if not watch.wait(name, mask, 3 * window + 10):
                            stats[f"mode_{mode}_missed"] += 1
                            done["missed"] = True
                        time.sleep(rnd.uniform(0, 0.0002))
                    else:
                        time.sleep(delay)
                    os.kill(pid, signal.SIGKILL)

                def sender():
                    try:
                        ctl.send(tr.text)
                        ctl.s.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass

                def reconf():
                    limit[0] += 1 if limit[0] % 2 == 0 else -1
                    sw.daemon.conf.write_text(pop_.switch_config(opts()))
                    if mode != "configure":
                        time.sleep(rnd.uniform(0, window))
                    r = subprocess.run([bins.patched / "birdc", "-s", sw.daemon.ctl, "configure"],
                                       capture_output=True, text=True, timeout=30)
                    done["configure"] = "Reconfigured" in r.stdout

                ths = [threading.Thread(target=f) for f in (sender, killer)
                       ] + ([threading.Thread(target=reconf)] if configure else [])
                for th in ths:
                    th.start()
                replies = []
                ts = time.monotonic()
                try:
                    while True:
                        if by_reply and len(replies) == kth:
                            go.set()
                        replies.append(ctl.reply())
                except (EOFError, OSError):
                    pass
                go.set()
                if len(replies) == len(tr.units) and lines > 100:
                    # Finished before the kill: how fast the switch takes such lines
                    per_line[0] = 0.7 * per_line[0] + 0.3 * (time.monotonic() - ts) / lines
                for th in ths:
                    th.join()
                if done.get("missed"):
                    log(f"trial {trial}: {mode} write not seen; replies {replies[:4]} of {len(tr.units)} "
                        f"units; journal {jsize} -> {journal.stat().st_size if journal.exists() else None}")
                sw.daemon.proc.wait()
                ctl.close()
                stats["kills"] += 1
                acked = tr.units[:len(replies)]
                bad = [(u.kind, r) for u, r in zip(acked, replies)
                       if not r.startswith("ok") and not (u.kind == "single" and "not-found" in r)]
                if bad:
                    failures.append(f"trial {trial}: error replies {bad[:3]}")
                    log(failures[-1])
                for u in acked:
                    u.apply(have)
                inflight = tr.units[len(replies):]
                stats["units_acked"] += len(acked)
                stats["units_inflight"] += len(inflight)
                stats["units_all_acked_trials"] += not inflight
                stats["configure_done"] += bool(done.get("configure"))
                if configure:
                    # What BIRD got of it: "Reconfiguring" starts the commit, "Reconfigured" ends it
                    tl = logf.read_text(errors="replace").splitlines()[log0:]
                    began = any(l.endswith("Reconfiguring") for l in tl)
                    ended = any(l.endswith("Reconfigured") for l in tl)
                    stats["configure_killed_before_commit" if not began else
                          "configure_killed_in_commit" if not ended else "configure_committed"] += 1
                durable, probs, facts = read_files(state, journal)
                stats["journal_tail_cut"] += facts["journal_tail"] > 0
                stats["tmp_left"] += facts["tmp_left"]
                j = landed(have, inflight, durable)
                if probs or j is None:
                    lost = [p for p in have if durable.get(p) != have[p]][:5]
                    failures.append(f"trial {trial}: files {probs}; landed {j} of {len(inflight)} in "
                                    f"flight; e.g. differing {lost}")
                    log(failures[-1])
                    have = durable
                else:
                    stats["inflight_landed"] += j
                    stats["inflight_lost"] += len(inflight) - j
                    for u in inflight[:j]:
                        u.apply(have)
                    assert have == durable
            # Restart and check what it restored
            res = restart()
            m, lines = res
            if not m or int(m.group(1)) != len(have) or int(m.group(3)) != 0:
                failures.append(f"trial {trial}: restore line {m.group(0) if m else None!r}, "
                                f"want {len(have)} overrides and 0 problems")
                log(failures[-1])
            corrupt = sorted(x.name for x in sw.dir.glob("*.corrupt"))
            if corrupt:
                failures.append(f"trial {trial}: flagged corrupt: {corrupt}")
                log(failures[-1])
                for x in sw.dir.glob("*.corrupt"):
                    x.unlink()
            ctl = Controller(sock, timeout=60)
            st = ctl.request("status")
            ctl.close()
            after, probs, _ = read_files(state, journal)
            if probs or after != have or not st.startswith(f"ok overrides {len(have)} "):
                failures.append(f"trial {trial}: after restart files {probs}, set "
                                f"{'same' if after == have else 'differs'}, {st!r}")
                log(failures[-1])
                have = after
            if trial % 10 == 0:
                log(f"trial {trial}: {len(have)} overrides; {dict(stats)}")
        run.finish({"seed": a.seed, "trials": trial, "prefixes": a.prefixes,
                  "final_overrides": len(have), **dict(stats)})


if __name__ == "__main__":
    main()
