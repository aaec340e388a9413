"""The state file: overrides across restarts, crashes, reconfigures and
failing disks, checked as an operator would (state.c's part of the module).

The POP of test_overrides.py: transits t1, t2 (stock BIRD, both families
on one session, t2 prepending its AS), the patched switch with its state
file (pop.state_file), a patched host h1.
"""

import re
import time

from pop import (FIXED_V4 as V4, FIXED_V6 as V6, host_best, label, log_lines, pp_label,
                 show_overrides, state_lines, time_until, wait_for, wait_state, wait_until)
from test_overrides import (P, P6, Q, R, build, mp, ok, protocols_settled, protocols_since,
                            refused, rows_without_age, unchanged, write_conf)


def test_restart_restores_overrides(topo, bins):
    pop = build(topo, bins, transits=[mp(), mp()], hosts=("h1",))
    sw, hosts = pop.switch, pop.hosts

    ok(sw, f'autopilot add ap {P} t2 reason "keep me"')
    ok(sw, f"autopilot add ap {Q} \"next-best\" expires 3600")
    ok(sw, f"autopilot add ap {P6} t2")
    pop.settle_overrides({P: "t2", Q: "t2"})
    pop.settle_overrides({P6: "t2"}, prefixes=V6)
    before = rows_without_age(show_overrides(sw)[1])

    # On disk before each change is acknowledged, not only at shutdown
    lines = state_lines(pop)
    assert lines[0] == "# bird-autopilot overrides v1 protocol ap" and len(lines) == 5, lines
    body = sorted(lines[1:-1])
    assert [l.split(" created ")[0] for l in body] == sorted([
        f"add {P} t2", f"add {P6} t2", f"add {Q} next-best expires-at {body[2].split()[4]}"]), body
    assert all(" source cli" in l for l in body) and f'reason "keep me"' in "".join(body), body

    # A crash: nothing gets written on the way down
    sw.daemon.kill()
    pop.start_switch()
    pop.settle(paths=False)
    pop.settle_overrides({P: "t2", Q: "t2"}, timeout=20)
    pop.settle_overrides({P6: "t2"}, prefixes=V6)
    after = rows_without_age(show_overrides(sw)[1])
    assert after.keys() == before.keys()
    for p in before:      # expiry counts down: it is a time, not a duration
        assert {k: v for k, v in after[p].items() if k != "expires"} == \
            {k: v for k, v in before[p].items() if k != "expires"}
    assert after[Q]["expires"].startswith("59m"), after[Q]
    assert log_lines(sw, rf"ap: Restored 3 overrides from {pop.state_file} \(0 expired meanwhile, 0 problems\)")
    assert sorted(state_lines(pop)[1:-1]) == body       # same lines: same created times

    # Disabled, the protocol has no overrides (its copies are gone from the
    # hosts; so are the labels, whose LFIB went with it) and says so;
    # enabled, it restores them from memory
    ok(sw, "disable ap")
    want = {(h.name, p): (None, 0) for h in hosts for p in V4}
    assert wait_for(lambda: pop.best(hosts, V4), want, 10) == want
    text = sw.daemon.cmd("show autopilot ap")
    assert "Overrides: none while the protocol is down (3 kept in memory for the next start)" \
        in text, text
    assert "Protocol ap is not up" in refused(sw, "show autopilot ap overrides")
    ok(sw, "enable ap")
    pop.settle_overrides({P: "t2", Q: "t2"})
    assert "Overrides: 3 (3 active, 0 pending, 0 shadow)" in sw.daemon.cmd("show autopilot ap")

    # A clean restart after a withdrawal keeps the withdrawal
    ok(sw, f"autopilot withdraw ap {Q}")
    pop.settle_overrides({P: "t2"})
    sw.daemon.stop()
    pop.start_switch()
    pop.settle(paths=False)
    pop.settle_overrides({P: "t2"}, timeout=20)
    assert sorted(show_overrides(sw)[1]) == sorted([P, P6])
    assert not (pop.state_file.parent / (pop.state_file.name + ".corrupt")).exists()


def test_corrupt_state_file(topo, bins):
    """Bad lines and a truncated end: the good lines are restored, each
    problem is logged with its line number, the file is kept as .corrupt."""
    pop = build(topo, bins, transits=[mp(), mp()], hosts=("h1",))
    sw, hosts = pop.switch, pop.hosts
    sw.daemon.stop()

    damaged = "\n".join([
        "# bird-autopilot overrides v1 protocol ap",
        f'add {P} t2 created 1700000000 source cli reason "good one"',
        "add 203.0.113.1/24 t2 created 1700000000 source cli",
        f"add {Q} t2 created 1700000000 frobnicate 1",
        f"add {P6} t2 created 1700000000 source controller",
        f'add {R} t2 created 1700000000 source cli reason "cut of',     # no newline: truncated
    ])
    pop.state_file.write_text(damaged)
    pop.start_switch()
    pop.settle(paths=False)
    assert sw.daemon.alive()

    pop.settle_overrides({P: "t2"}, timeout=20)                  # R is not restored
    pop.settle_overrides({P6: "t2"}, prefixes=V6)
    counts, rows = show_overrides(sw)
    assert (counts["total"], counts["active"]) == (2, 2)
    assert {p: (r["target"], r["source"], r["reason"]) for p, r in rows.items()} == \
        {P: ("t2", "cli", "good one"), P6: ("t2", "controller", None)}

    f = pop.state_file
    for pattern in [
            rf"State file {f} line 3: bad prefix '203\.0\.113\.1/24': host bits set, skipped",
            rf"State file {f} line 4: column \d+: unknown option 'frobnicate', skipped",
            rf"State file {f} line 6: last line cut off, skipped",
            rf"State file {f} is truncated \(no end marker after line 6\)",
            rf"Restored 2 overrides from {f} \(0 expired meanwhile, 4 problems\)",
            rf"Kept the damaged state file as {f}\.corrupt"]:
        assert log_lines(sw, pattern), f"no log line like {pattern!r}:\n" + \
            "\n".join(log_lines(sw, "State file|Restored|Kept"))
    assert log_lines(sw, "line 2:|line 5:") == []

    assert (f.parent / (f.name + ".corrupt")).read_text() == damaged
    lines = wait_state(pop, 2)
    assert len(lines) == 4 and all(l.startswith(("add " + P + " ", "add " + P6 + " "))
                                   for l in lines[1:3]), lines


# --- expiry across a restart, reconfigure, a failing disk -------------------------

def test_expiry(topo, bins):
    pop = build(topo, bins, transits=[mp(), mp()], hosts=("h1",))
    sw, hosts = pop.switch, pop.hosts

    t0 = time.monotonic()
    ok(sw, f'autopilot add ap {P} t2 expires 2 reason "short"')
    pop.settle_overrides({P: "t2"})
    assert show_overrides(sw, P)[1][P]["expires"] in ("1s", "2s")
    assert time_until(lambda: show_overrides(sw)[0]["total"] == 0, timeout=6) is not None
    elapsed = time.monotonic() - t0
    print(f"expired after {elapsed:.2f} s")
    assert 1.9 <= elapsed <= 3.5, elapsed
    pop.settle_overrides({})
    counts, rows = show_overrides(sw)
    assert (counts["total"], counts["expired"], rows) == (0, 1, {})
    assert log_lines(sw, rf"ap: Override {P}: t2 -> none \(expired\)$")
    assert wait_state(pop, 0)[1:] == ["# end 0"]

    assert "Expiry must be at least 1 second" in refused(sw, f"autopilot add ap {P} t2 expires 0")
    assert show_overrides(sw)[0]["total"] == 0

    # Expiry while BIRD is down: the state file has the time, not a countdown
    ok(sw, f"autopilot add ap {Q} t2 expires 2")
    ok(sw, f"autopilot add ap {R} t2")
    wait_state(pop, 2)
    sw.daemon.stop()
    time.sleep(2.5)
    pop.start_switch()
    pop.settle(paths=False)
    pop.settle_overrides({R: "t2"}, timeout=20)
    assert list(show_overrides(sw)[1]) == [R]
    assert log_lines(sw, rf"ap: Restored 1 overrides from {pop.state_file} \(1 expired meanwhile, 0 problems\)")


def test_reconfigure_and_restart_keep_overrides(topo, bins):
    """Fail static across configure and restarts: an ASN change is applied
    in place; a restart ("restart", "disable"/"enable") carries the live set
    over in memory, even when the state file is stale (its write failed)."""
    pop = build(topo, bins, transits=[mp(), mp()], hosts=("h1",))
    sw, hosts = pop.switch, pop.hosts
    h1 = hosts[0]
    ok(sw, f"autopilot add ap {P} t2")
    ok(sw, f"autopilot add ap {Q} t2")
    pop.settle_overrides({P: "t2", Q: "t2"})
    started = protocols_settled(sw)

    # The ASN of our communities changes: in place, no protocol restarts,
    # the copies go out again with the new marker and pp label
    write_conf(pop, ap_options="\tasn 65001;")
    assert "Reconfigured" in ok(sw, "configure")

    def on_h1(prefix):
        best = host_best(h1, prefix)
        return best and (best["label"], "(65001, 3, 1)" in best.get("lcs", ""),
                        f"(65001, 2, {pp_label('t2')})" in best.get("lcs", ""))
    for p in (P, Q):
        assert wait_for(lambda: on_h1(p), (label("t2"), True, True), 10) == (label("t2"), True, True)
    assert show_overrides(sw)[0]["total"] == 2
    assert unchanged(started, protocols_since(sw)), "a protocol restarted"
    assert not log_lines(sw, r"Restarting protocol ap")

    # A restart keeps the set in memory, and says so
    write_conf(pop, ap_options="")
    ok(sw, "configure")
    pop.settle_overrides({P: "t2", Q: "t2"})
    ok(sw, "restart ap")
    # The hosts' labels were the same before: wait for the restart itself
    assert wait_until(lambda: log_lines(sw, r"ap: Restored 2 overrides kept in memory over the restart "
                                            r"\(0 expired meanwhile, 0 problems\)"), 10)
    assert log_lines(sw, r"ap: Keeping 2 overrides in memory until the protocol starts again")
    pop.settle_overrides({P: "t2", Q: "t2"})

    # The disk refuses (journal and state file cannot be written): the change
    # is live but not acknowledged, show says why, the set in memory wins
    wait_state(pop, 2)
    journal = pop.state_file.parent / (pop.state_file.name + ".journal")
    tmp = pop.state_file.parent / (pop.state_file.name + ".tmp")
    # The restart's fold may still be writing FILE.tmp (fsync() under load): wait for its rename
    assert wait_until(lambda: not tmp.exists(), 10)
    journal.unlink()
    journal.mkdir()
    tmp.mkdir()
    assert refused(sw, f"autopilot add ap {R} t2") == \
        f"Applied, but NOT saved: Cannot write state file {tmp}: Is a directory"
    pop.settle_overrides({P: "t2", Q: "t2", R: "t2"})
    text = sw.daemon.cmd("show autopilot ap")
    assert re.search(rf"State file: {re.escape(str(pop.state_file))}: NOT SAVED since \S+ \S+: "
                     rf"last write \S+ \S+ failed: Cannot write state file \S+\.tmp: Is a directory", text), text
    ok(sw, "disable ap")
    assert "Overrides: none while the protocol is down (3 kept in memory for the next start)" \
        in sw.daemon.cmd("show autopilot ap")
    journal.rmdir()
    tmp.rmdir()
    ok(sw, "enable ap")
    pop.settle_overrides({P: "t2", Q: "t2", R: "t2"})
    assert show_overrides(sw)[0]["total"] == 3
    assert log_lines(sw, r"ap: Restored 3 overrides kept in memory over the restart")
    wait_state(pop, 3)                  # and the file catches up
    assert wait_until(lambda: re.search(r"State file: \S+: saved \S+ \S+ \(3 overrides\)",
                                        sw.daemon.cmd("show autopilot ap")), 5)
