"""Controller overrides from birdc, checked as an operator would.

A switch with two or three egresses (stock BIRD transits and gobgpd), one
or two patched BIRD hosts over labeled unicast. Transit tN prepends its AS
N-1 times, so BGP's best path is t1's (label 1001 in pop.py's scheme) and an
override shows on a host as a best path whose next hop carries the target's
label (`via ... mpls 1002`), marked with the large community (65000, 3, 1).
The state file (restarts, crashes, a failing disk) is test_state.py's.
"""

import re
import time


from pop import (FIXED_V4 as V4, FIXED_V6 as V6, ONLY_T1_V4, ONLY_T1_V6, OVERRIDE_LC, ROUTE_RE, SWITCH_AS,
                 Pop, Transit,
                 best_label, bird_reply, birdc_rc, durable, established, host_best, host_routes,
                 label, log_lines, overrides_on_host, pp_text, show_ap, show_overrides,
                 time_until, via_text, wait_for, wait_state, wait_until)

P, Q, R = V4              # announced by every transit
P6, Q6 = V6[:2]


def mp():
    """A stock BIRD transit with one session for both families (egress t<i>)."""
    return Transit(split=False)


def build(topo, bins, transits=None, hosts=("h1", "h2"), **kw):
    """Default: t1 stock BIRD (IPv4+IPv6), t2 gobgpd (IPv4), t3 stock BIRD;
    t<i> prepends its AS i-1 times, so BGP's best path is t1's."""
    if transits is None:
        transits = [mp(), Transit("gobgp", ("ipv4",)), mp()]
    return Pop(topo, bins, transits, hosts, prepend=True, **kw).build()


def ok(node, command):
    """A command that must succeed: its reply text, read from the control
    socket (see test_birdc_prints_confirmations for what birdc shows)."""
    code, out = bird_reply(node.daemon, command)
    assert code < 8000, f"{command!r} failed: {code} {out}"
    return out


def refused(node, command, **kw):
    """A command that must fail (birdc exits 1): its reply text."""
    rc, out = birdc_rc(node.daemon, command, **kw)
    assert rc == 1, f"{command!r} was not refused: {out}"
    return out


def since(t0, predicate, timeout=5.0):
    """Seconds from t0 (before the cause) until predicate() holds, polled
    every 10 ms; None if it does not within timeout."""
    took = time_until(predicate, timeout)
    return None if took is None else time.monotonic() - t0


def rows_without_age(rows):
    return {p: {k: v for k, v in r.items() if k != "age"} for p, r in rows.items()}


# --- moving, withdrawing, flushing ------------------------------------------------

def test_override_moves_withdraws_flushes(topo, bins):
    pop = build(topo, bins)
    sw, hosts = pop.switch, pop.hosts

    counts, rows = show_overrides(sw)
    assert (counts["total"], counts["active"], counts["pending"], counts["shadow"],
            counts["expired"], counts["limit"], counts["shadow_mode"]) == (0, 0, 0, 0, 0, 1000000, "off")
    assert rows == {}
    pop.settle_overrides({})

    # Move P to t2 (gobgpd): both hosts' best path now leaves by label("t2")
    assert ok(sw, f'autopilot add ap {P} t2 reason "drain t1 for P"') == f"Override {P} -> t2 added"
    pop.settle_overrides({P: "t2"})
    for h in hosts:
        b = host_best(h, P)
        assert (b["as_path"], b["lcs"]) == ("64502 64502", f"{pp_text('t2')} {OVERRIDE_LC}"), b

    counts, rows = show_overrides(sw)
    assert (counts["total"], counts["active"], counts["pending"], counts["shadow"]) == (1, 1, 0, 0)
    assert rows_without_age(rows) == {P: {
        "target": "t2", "state": "active", "via": via_text("t2"), "source": "cli",
        "expires": "never", "reason": "drain t1 for P", "note": None}}
    assert rows[P]["age"] in ("0s", "1s", "2s")
    assert show_ap(sw)["overrides"] == (1, 1, 0, 0, 1000000, "off")
    # the filters an operator uses
    assert list(show_overrides(sw, P)[1]) == [P]
    assert show_overrides(sw, Q)[1] is None                 # "No override for Q"
    assert list(show_overrides(sw, "egress t2")[1]) == [P]
    assert show_overrides(sw, "egress t3")[1] == {}
    assert show_overrides(sw, "pending")[1] == {}

    # Withdraw: back to BGP's choice; withdrawing again is an error
    assert ok(sw, f"autopilot withdraw ap {P}") == f"Override {P} withdrawn"
    pop.settle_overrides({})
    assert show_overrides(sw)[0]["total"] == 0
    assert refused(sw, f"autopilot withdraw ap {P}") == f"not-found: no override for {P}"

    # Three overrides, two egresses; flush one egress, then everything
    ok(sw, f"autopilot add ap {P} t2")
    ok(sw, f"autopilot add ap {Q} t3")
    ok(sw, f"autopilot add ap {R} t2")
    pop.settle_overrides({P: "t2", Q: "t3", R: "t2"})
    assert {p: r["target"] for p, r in show_overrides(sw)[1].items()} == {P: "t2", Q: "t3", R: "t2"}

    assert ok(sw, "autopilot flush ap egress t2") == "2 overrides withdrawn"
    pop.settle_overrides({Q: "t3"})
    counts, rows = show_overrides(sw)
    assert (counts["total"], counts["active"], list(rows)) == (1, 1, [Q])

    assert ok(sw, "autopilot flush ap egress t2") == "0 overrides withdrawn"
    assert ok(sw, "autopilot flush ap") == "1 overrides withdrawn"
    pop.settle_overrides({})
    counts, rows = show_overrides(sw)
    assert (counts["total"], counts["active"], rows) == (0, 0, {})


def test_covering_prefix_and_next_best(topo, bins):
    """A /25 of an announced /24 gets the target's copy of the /24's path;
    next-best takes the best path of another egress than BGP's best."""
    pop = build(topo, bins, transits=[mp(), mp(), mp()], hosts=("h1",))
    sw, h1 = pop.switch, pop.hosts[0]
    half = P.replace("/24", "/25")          # 198.51.100.0/25

    assert host_routes(h1, half) == []
    ok(sw, f"autopilot add ap {half} t2")
    assert wait_for(lambda: (best_label(h1, half), overrides_on_host(h1, half)), (label("t2"), 1)) == (label("t2"), 1)
    assert [r["label"] for r in host_routes(h1, half)] == [label("t2")]     # only the copy
    assert (best_label(h1, P), overrides_on_host(h1, P)) == (label("t1"), 0)  # the /24 stays
    row = show_overrides(sw, half)[1][half]
    assert (row["state"], row["via"], row["note"]) == ("active", via_text("t2"), f"path of {P}")

    # The /24's path of t2 goes (its session down): the /25 copy goes with it
    t2 = pop.transit("t2")
    t0 = time.monotonic()
    ok(t2.node, "disable switch1")
    took = since(t0, lambda: host_routes(h1, half) == [])
    assert took is not None and took < 1.0, took
    row = show_overrides(sw, half)[1][half]
    assert (row["state"], row["via"], row["note"]) == ("pending", "-", "no path from the target egress")
    # Back: a pending override finds a new covering path by the protocol's
    # one-second recheck (by design), so within two seconds of the session
    ok(t2.node, "enable switch1")
    wait_until(lambda: established(sw, "t2"), 10)
    took = time_until(lambda: best_label(h1, half) == label("t2"))
    assert took is not None and took < 2.0, took

    # next-best: t2 is second by AS path length (t3 prepends twice)
    ok(sw, f'autopilot add ap {Q} "next-best"')
    assert wait_for(lambda: (best_label(h1, Q), overrides_on_host(h1, Q)), (label("t2"), 1)) == (label("t2"), 1)
    row = show_overrides(sw, Q)[1][Q]
    assert (row["target"], row["state"], row["via"]) == ("next-best", "active", via_text("t2"))
    ok(sw, f'autopilot add ap {Q6} "next-best"')
    assert wait_for(lambda: best_label(h1, Q6), label("t2")) == label("t2")
    # bare, as on the socket, or quoted
    ok(sw, f"autopilot add ap {R} next-best")
    ok(sw, f"autopilot withdraw ap {R}")
    # With t2's session down the next best egress after t1 is t3
    ok(t2.node, "disable switch1")
    assert wait_for(lambda: best_label(h1, Q), label("t3")) == label("t3")
    ok(t2.node, "enable switch1")
    assert wait_for(lambda: best_label(h1, Q), label("t2")) == label("t2")
    assert wait_for(lambda: best_label(h1, half), label("t2")) == label("t2")

    # A prefix only t1 has: no target path, no other egress; pending, untouched
    ok(sw, f"autopilot add ap {ONLY_T1_V4} t2")
    time.sleep(0.5)
    row = show_overrides(sw, ONLY_T1_V4)[1][ONLY_T1_V4]
    assert (row["state"], row["note"]) == ("pending", "no path from the target egress")
    ok(sw, f'autopilot add ap {ONLY_T1_V4} "next-best"')    # replaces it
    wait_until(lambda: show_overrides(sw, ONLY_T1_V4)[1][ONLY_T1_V4]["target"] == "next-best", 5)
    row = show_overrides(sw, ONLY_T1_V4)[1][ONLY_T1_V4]
    assert (row["state"], row["note"]) == ("pending", "no path from another egress")
    assert (best_label(h1, ONLY_T1_V4), overrides_on_host(h1, ONLY_T1_V4)) == (label("t1"), 0)
    counts, rows = show_overrides(sw)
    assert {p: r["state"] for p, r in rows.items()} == \
        {half: "active", Q: "active", Q6: "active", ONLY_T1_V4: "pending"}
    assert (counts["total"], counts["active"], counts["pending"]) == (4, 3, 1)


# --- the target's session goes down ------------------------------------------------

def test_target_session_killed(topo, bins):
    """gobgpd (t2) dies: the copy leaves both hosts within a second, the
    override waits (pending, with its reason) and comes back with t2."""
    pop = build(topo, bins)
    sw, hosts, t2 = pop.switch, pop.hosts, pop.transit("t2")

    ok(sw, f'autopilot add ap {P} t2 reason "TE-1234"')
    pop.settle_overrides({P: "t2"})

    t0 = time.monotonic()
    t2.node.daemon.kill()                       # a crash: the kernel closes its TCP
    took = [since(t0, lambda h=h: (best_label(h, P), overrides_on_host(h, P)) == (label("t1"), 0))
            for h in hosts]
    print(f"copy gone from the hosts {took} s after the kill")
    assert all(t is not None and t < 1.0 for t in took), took

    counts, rows = show_overrides(sw)
    assert (counts["total"], counts["active"], counts["pending"]) == (1, 0, 1)
    assert rows_without_age(rows) == {P: {
        "target": "t2", "state": "pending", "via": "-", "source": "cli", "expires": "never",
        "reason": "TE-1234", "note": "no path from the target egress"}}
    assert list(show_overrides(sw, "pending")[1]) == [P]
    assert log_lines(sw, rf"ap: Override {P} -> t2 pending: no path from the target egress")
    pop.settle_overrides({})                            # Q, R untouched throughout

    pop.start_transit(t2)                        # t2 is back
    pop.settle_overrides({P: "t2"}, timeout=20)
    counts, rows = show_overrides(sw)
    assert (counts["active"], counts["pending"], rows[P]["state"], rows[P]["via"]) == \
        (1, 0, "active", via_text("t2"))


# --- shadow mode, limits ------------------------------------------------------------

def protocols_since(node):
    """{protocol: the time it last changed state, in seconds of the day}
    from `show protocols`. BIRD converts its monotonic clock to the wall
    clock for each command, so the same moment may print a millisecond
    apart: compare with unchanged()."""
    res = {}
    for l in ok(node, "show protocols").splitlines()[1:]:
        h, m, sec = l.split()[4].split(":")
        res[l.split()[0]] = int(h) * 3600 + int(m) * 60 + float(sec)
    return res


def unchanged(before, after, margin=0.05):
    return before.keys() == after.keys() and all(abs(after[p] - before[p]) <= margin for p in before)


def protocols_settled(node, quiet=0.3, timeout=10):
    """protocols_since() once no protocol has changed state for `quiet`
    seconds: a session may still go from start to up just after the POP
    reports it established."""
    deadline = time.monotonic() + timeout
    last = protocols_since(node)
    while time.monotonic() < deadline:
        time.sleep(quiet)
        now = protocols_since(node)
        if unchanged(last, now):
            return now
        last = now
    raise TimeoutError(f"protocols keep changing state: {last}")


def write_conf(pop, **kw):
    pop.switch.daemon.conf.write_text(pop.switch_config(**kw))


def test_shadow_mode(topo, bins):
    pop = build(topo, bins, hosts=("h1", "h2"), ap_options="\tshadow on;")
    sw, hosts = pop.switch, pop.hosts
    started = protocols_settled(sw)

    assert ok(sw, f"autopilot add ap {P} t2") == f"Override {P} -> t2 added (shadow mode)"
    ok(sw, f"autopilot add ap {Q} t3")
    wait_until(lambda: show_overrides(sw)[0]["shadow"] == 2, 5)
    counts, rows = show_overrides(sw)
    assert (counts["total"], counts["active"], counts["pending"], counts["shadow"],
            counts["shadow_mode"]) == (2, 0, 0, 2, "on")
    assert {p: (r["state"], r["via"], r["note"]) for p, r in rows.items()} == {
        P: ("shadow", via_text("t2"), "shadow: would move here"),
        Q: ("shadow", via_text("t3"), "shadow: would move here")}
    assert log_lines(sw, rf"ap: Shadow: would move {P} to t2 \(path of {P}\)")
    time.sleep(1)                                     # give a wrong copy time to show up
    pop.settle_overrides({})
    # (in the unicast tables: ap's routes in mt are the LFIB's, not copies)
    assert ok(sw, "show route protocol ap table master4 table master6 count").splitlines()[-1] \
        .startswith("Total: 0 of "), "the switch has routes of protocol ap"

    # Shadow off, by configuration: the same overrides become active
    write_conf(pop, ap_options="\tshadow off;")
    assert "Reconfigured" in ok(sw, "configure")
    pop.settle_overrides({P: "t2", Q: "t3"})
    counts = show_overrides(sw)[0]
    assert (counts["active"], counts["shadow"], counts["shadow_mode"]) == (2, 0, "off")
    # ... without restarting the protocol or any session
    after = protocols_since(sw)
    assert unchanged(started, after), (started, after)

    # and back
    write_conf(pop, ap_options="\tshadow on;")
    ok(sw, "configure")
    pop.settle_overrides({})
    assert show_overrides(sw)[0]["shadow"] == 2


def test_limit_and_load(topo, bins):
    pop = build(topo, bins, ap_options="\tmax overrides 3;")
    sw, hosts = pop.switch, pop.hosts

    for p, t in ((P, "t2"), (Q, "t3"), (R, "t2")):
        ok(sw, f"autopilot add ap {p} {t}")
    pop.settle_overrides({P: "t2", Q: "t3", R: "t2"})
    _, before = show_overrides(sw)

    # A fourth: refused, nothing changed
    assert refused(sw, f"autopilot add ap {P6} t3") == "over-limit: 3 overrides, the limit is 3"
    counts, rows = show_overrides(sw)
    assert (counts["total"], rows_without_age(rows)) == (3, rows_without_age(before))
    pop.settle_overrides({P: "t2", Q: "t3", R: "t2"})
    assert host_best(hosts[0], P6)["label"] == label("t1")
    # Replacing one at the limit is no new override
    ok(sw, f"autopilot add ap {P} t3")
    pop.settle_overrides({P: "t3", Q: "t3", R: "t2"})

    def load(text, name):
        f = pop.switch.dir / name
        f.write_text(text)
        return f

    def unchanged():
        counts, rows = show_overrides(sw)
        assert counts["total"] == 3
        assert {p: r["target"] for p, r in rows.items()} == {P: "t3", Q: "t3", R: "t2"}
        pop.settle_overrides({P: "t3", Q: "t3", R: "t2"})

    # A set larger than the limit
    f = load("".join(f"add {p} t2\n" for p in (P, Q, R, P6)), "four.set")
    assert refused(sw, f'autopilot load ap "{f}"') == \
        f"{f}: over-limit: 4 overrides, the limit is 3; nothing changed"
    unchanged()

    # A bad line: named, nothing of the file used
    f = load(f"# the set for today\nadd {P} t2\nadd {Q} t2 expires soon\n", "bad.set")
    assert refused(sw, f'autopilot load ap "{f}"') == \
        f"{f} line 3: column 31: bad expires 'soon': expected seconds; nothing changed"
    unchanged()
    f = load(f"add {P} t2\nwithdraw {Q}\n", "withdraw.set")
    assert refused(sw, f'autopilot load ap "{f}"') == \
        f"{f} line 2: a set lists add lines only; nothing changed"
    unchanged()
    assert refused(sw, f'autopilot load ap "{pop.switch.dir}/no.set"').startswith(
        f"Cannot open {pop.switch.dir}/no.set: No such file")
    unchanged()
    # A copy of the state file: its lines say who asked; birdc's are the CLI's
    f = load(f"add {P} t2 created 1700000000 source bgp\n", "copy.set")
    assert refused(sw, f'autopilot load ap "{f}"') == \
        f"{f} line 1: source bgp: birdc's requests come from the CLI (source cli); nothing changed"
    unchanged()
    # What birdc's grammar takes but a saved line cannot say (it would be
    # acknowledged, then lost at the next start)
    assert refused(sw, f'autopilot add ap {P} t2 reason "a\tb"') == \
        "bad byte 0x09 in reason (no control characters)"
    assert refused(sw, f"autopilot add ap {P} t2 expires 4294967295") == \
        "expires: at most 316224000 seconds (ten years)"
    assert refused(sw, f'autopilot add ap {P} "t 2"') == "bad egress name 't 2'"
    unchanged()

    # A good set replaces the whole set: P kept as it is (its age too), Q
    # dropped, R moved, P6 new
    time.sleep(2)
    f = load(f"# desired\nadd {P} t3\n\nadd {R} t3 reason \"rebalance\"\nadd {P6} t3\n", "good.set")
    assert ok(sw, f'autopilot load ap "{f}"') == f"Loaded 3 overrides from {f}"
    pop.settle_overrides({P: "t3", R: "t3"})
    pop.settle_overrides({P6: "t3"}, prefixes=V6)
    counts, rows = show_overrides(sw)
    assert counts["total"] == 3
    assert {p: (r["target"], r["reason"]) for p, r in rows.items()} == \
        {P: ("t3", None), R: ("t3", "rebalance"), P6: ("t3", None)}
    assert rows[P]["age"] not in ("0s", "1s") and rows[R]["age"] in ("0s", "1s"), rows

    # The empty set is a set too
    f = load("# nothing today\n", "empty.set")
    assert ok(sw, f'autopilot load ap "{f}"') == f"Loaded 0 overrides from {f}"
    pop.settle_overrides({})
    assert show_overrides(sw)[0]["total"] == 0


# --- who may, and what is refused ---------------------------------------------------

def test_restricted_cli_refused(topo, bins):
    # BIRD 2.17.5's grammar: `restrict` without its semicolon
    pop = build(topo, bins, transits=[mp(), mp()], hosts=("h1",),
                global_=lambda sw: f'cli "{sw.dir}/ro.ctl" {{ restrict }};')
    sw, hosts = pop.switch, pop.hosts
    ro = sw.dir / "ro.ctl"
    ok(sw, f"autopilot add ap {P} t2")
    pop.settle_overrides({P: "t2"})
    before = rows_without_age(show_overrides(sw)[1])
    setfile = sw.dir / "one.set"
    setfile.write_text(f"add {Q} t2\n")

    for how, kw in (("birdc -r", {"options": ("-r",)}), ("restricted socket", {"ctl": ro})):
        opts = kw.get("options", ())
        for command in (f"autopilot add ap {Q} t2", f"autopilot withdraw ap {P}",
                        "autopilot flush ap", "autopilot flush ap egress t2",
                        f'autopilot load ap "{setfile}"'):
            rc, out = birdc_rc(sw.daemon, command, *opts, ctl=kw.get("ctl"))
            # birdc -r first says so itself, then sends the command
            assert (rc, out) == (1, ("Access restricted\n" if opts else "") + "Access denied"), \
                (how, command, out)
        # reading is what they are for
        rc, out = birdc_rc(sw.daemon, "show autopilot ap overrides", *opts, ctl=kw.get("ctl"))
        out = out.removeprefix("Access restricted\n")
        assert rc == 0 and out.splitlines()[0].startswith("ap: 1 overrides: 1 active"), (how, out)
        rc, out = birdc_rc(sw.daemon, "show autopilot ap", *opts, ctl=kw.get("ctl"))
        assert rc == 0 and "Overrides: 1 (1 active" in out, (how, out)

    assert rows_without_age(show_overrides(sw)[1]) == before
    pop.settle_overrides({P: "t2"})


def test_malformed_requests_change_nothing(topo, bins):
    pop = build(topo, bins, transits=[mp(), mp()], hosts=("h1",))
    sw, hosts = pop.switch, pop.hosts
    ok(sw, f"autopilot add ap {P} t2")
    pop.settle_overrides({P: "t2"})
    wait_state(pop, 1)
    state = durable(pop)
    before = rows_without_age(show_overrides(sw)[1])

    cases = {
        # host bits set: BIRD's own prefix check, at parse time
        "autopilot add ap 198.51.100.1/24 t2":
            "Invalid IPv4 prefix 198.51.100.1/24, maybe you wanted 198.51.100.0/24",
        "autopilot add ap 2001:db8:1::1/48 t2":
            "Invalid IPv6 prefix 2001:db8:1::1/48, maybe you wanted 2001:db8:1::/48",
        f"autopilot add ap {Q} nosuch": "unknown-egress: no egress 'nosuch' in protocol ap",
        f"autopilot add ap {Q} h1": "unknown-egress: no egress 'h1' in protocol ap",  # a BGP protocol, no egress
        f"autopilot add ap {Q} 10.0.1.1": "unknown-egress: no egress '10.0.1.1' in protocol ap",
        f"autopilot add t1 {Q} t2": "t1 is not an autopilot protocol",
        f"autopilot withdraw ap {Q}": f"not-found: no override for {Q}",
        "autopilot withdraw ap 198.51.100.1/24":
            "Invalid IPv4 prefix 198.51.100.1/24, maybe you wanted 198.51.100.0/24",
    }
    for command, error in cases.items():
        assert refused(sw, command) == error, command

    f = sw.dir / "hostbits.set"
    f.write_text(f"add {Q} t2\nadd 198.51.100.1/24 t2\n")
    assert refused(sw, f'autopilot load ap "{f}"') == \
        f"{f} line 2: bad prefix '198.51.100.1/24': host bits set; nothing changed"

    assert rows_without_age(show_overrides(sw)[1]) == before
    pop.settle_overrides({P: "t2"})
    time.sleep(0.2)
    assert durable(pop) == state


# --- IPv6 ---------------------------------------------------------------------------

def test_ipv6_move_and_session_down(topo, bins):
    pop = build(topo, bins, transits=[mp(), mp()])
    sw, hosts, t2 = pop.switch, pop.hosts, pop.transit("t2")

    ok(sw, f'autopilot add ap {P6} t2 reason "v6 too"')
    pop.settle_overrides({P6: "t2"}, prefixes=V6)
    row = show_overrides(sw, P6)[1][P6]
    assert (row["target"], row["state"], row["via"], row["reason"]) == ("t2", "active", via_text("t2"), "v6 too")
    for h in hosts:
        assert host_best(h, P6)["lcs"] == f"{pp_text('t2')} {OVERRIDE_LC}"

    t0 = time.monotonic()
    ok(t2.node, "disable switch1")               # the transit's operator shuts the session
    took = [since(t0, lambda h=h: (best_label(h, P6), overrides_on_host(h, P6)) == (label("t1"), 0))
            for h in hosts]
    print(f"IPv6 copy gone from the hosts {took} s after the disable")
    assert all(t is not None and t < 1.0 for t in took), took
    row = show_overrides(sw, P6)[1][P6]
    assert (row["state"], row["reason"], row["note"]) == ("pending", "v6 too", "no path from the target egress")

    ok(t2.node, "enable switch1")
    pop.settle_overrides({P6: "t2"}, prefixes=V6, timeout=20)
    assert show_overrides(sw, P6)[1][P6]["state"] == "active"
    assert host_best(hosts[0], ONLY_T1_V6)["label"] == label("t1")


# --- regressions of bugs found by these tests ------------------------------------

def test_birdc_prints_confirmations(topo, bins):
    pop = build(topo, bins, transits=[mp(), mp()], hosts=("h1",))
    sw = pop.switch
    f = sw.dir / "one.set"
    f.write_text(f"add {Q} t2\n")
    for command, reply in ((f"autopilot add ap {P} t2", f"Override {P} -> t2 added"),
                           (f"autopilot withdraw ap {P}", f"Override {P} withdrawn"),
                           (f'autopilot load ap "{f}"', f"Loaded 1 overrides from {f}"),
                           ("autopilot flush ap egress t2", "1 overrides withdrawn")):
        assert birdc_rc(sw.daemon, command) == (0, reply), command


def test_load_refusal_names_the_line(topo, bins):
    pop = build(topo, bins, transits=[mp(), mp()], hosts=("h1",))
    sw = pop.switch
    f = sw.dir / "typo.set"
    f.write_text(f"# desired set\n\nadd {P} t2\nadd {Q} t9\n")
    out = refused(sw, f'autopilot load ap "{f}"')
    assert show_overrides(sw)[0]["total"] == 0
    assert out.startswith(f"{f} line 4: ") and out.endswith(
        "unknown-egress: no egress 't9' in protocol ap; nothing changed"), out


def test_front_ends_agree(topo, bins):
    """One answer for one input: next-best bare in birdc as on the socket, a
    last line without its newline refused by autopilot load as by the
    socket, a disabled protocol listed as such, listings sorted by prefix."""
    pop = build(topo, bins, transits=[mp(), mp()], hosts=("h1",))
    sw = pop.switch

    assert birdc_rc(sw.daemon, f"autopilot add ap {P} next-best") == (0, f"Override {P} -> next-best added")
    assert "did you mean next-best?" in refused(sw, f"autopilot add ap {Q} next-worst")

    f = sw.dir / "cut.set"
    f.write_text(f"add {Q} t2\nadd {R} t2 expires 36")          # "expires 3600" cut off
    assert refused(sw, f'autopilot load ap "{f}"') == \
        f"{f} line 2: no newline at its end (a cut file?); nothing changed"
    assert list(show_overrides(sw)[1]) == [P]

    # Listed by prefix (IPv4 first), whatever the order they came in
    for p in (R, P6, Q):
        ok(sw, f"autopilot add ap {p} t2")
    assert list(show_overrides(sw)[1]) == [R, P, Q, P6]

    # A disabled protocol is listed, with what it keeps for its next start
    ok(sw, "disable ap")
    text = sw.daemon.cmd("show autopilot")
    assert "ap: down (disabled)" in text and "(4 kept in memory for the next start)" in text, text
    ok(sw, "enable ap")


# --- minimal copies ----------------------------------------------------------------

T2_ATTRS = "bgp_community.add((64502, 77)); bgp_large_community.add((64502, 9, 9));"


def route_blocks(node, prefix):
    """`show route P all` on a BIRD host, one text per path (its lines)."""
    out = ok(node, f"show route {prefix} all")
    blocks = []
    for line in out.splitlines():
        if ROUTE_RE.match(line) and not line.startswith("\t"):
            blocks.append(line)
        elif blocks:
            blocks[-1] += "\n" + line
    return blocks


def copy_seen(node, prefix):
    """What a host shows of the override copy of prefix (its best path):
    (as path, label, large communities, local pref, communities, MED), None
    for an attribute it does not have; None if the best path is no copy."""
    best = [b for b in route_blocks(node, prefix) if ROUTE_RE.match(b).group(4)]
    if not best or OVERRIDE_LC not in best[0]:
        return None

    def attr(name):
        m = re.search(rf"^\s+BGP\.{name}: (.*)$", best[0], re.M)
        return m.group(1).strip() if m else None
    m = re.search(r"^\s+via \S+ on \S+ mpls (\d+)", best[0], re.M)
    return (attr("as_path"), int(m.group(1)) if m else None, attr("large_community"),
            attr("local_pref"), attr("community"), attr("med"))


def frr_copy_seen(frr, prefix):
    """The same as FRR shows it: (as path, label, large communities, local pref,
    communities, MED) of its best path, if that is the copy."""
    paths = frr.daemon.vtysh_json(f"show bgp ipv4 labeled-unicast {prefix}").get("paths", [])
    best = [p for p in paths if p.get("bestpath")]
    if not best or f"{SWITCH_AS}:3:1" not in best[0].get("largeCommunity", {}).get("string", ""):
        return None
    b = best[0]
    return (b["aspath"]["string"], b.get("remoteLabel"), b["largeCommunity"]["string"],
            b.get("locPrf"), b.get("community", {}).get("string"), b.get("metric"))


def test_minimal_override_copies_on_hosts(topo, bins):
    """override copy minimal: patched BIRD, stock BIRD and FRR hosts get
    copies with the target's label, pp community and marker, the override
    LOCAL_PREF and the neighbor AS alone, without the path's communities or
    MED; birdc configure between the modes makes the copies again."""
    transits = [mp(), Transit(split=False, route_attrs={P: T2_ATTRS, Q: T2_ATTRS}), mp()]
    pop = build(topo, bins, transits=transits, hosts=[("h1", "bird"), ("h2", "stock"), ("frr1", "frr")],
                ap_options="\toverride copy minimal;",
                import_filters={"t2": f"\tif net ~ [ {P}, {Q} ] then bgp_med = 5;"})   # eBGP sends no MED
    sw, birds, frr = pop.switch, pop.hosts[:2], pop.hosts[2]
    started = protocols_settled(sw)
    assert "copies minimal" in show_ap_text(sw)

    ok(sw, f"autopilot add ap {P} t2")
    ok(sw, f"autopilot add ap {Q} t2")
    ok(sw, f"autopilot add ap {R} t3")
    pop.settle_overrides({P: "t2", Q: "t2", R: "t3"}, hosts=birds)

    lp = "4294967295"
    minimal = {p: ("64502", label("t2"), f"{pp_text('t2')} {OVERRIDE_LC}", lp, None, None) for p in (P, Q)}
    minimal[R] = ("64503", label("t3"), f"{pp_text('t3')} {OVERRIDE_LC}", lp, None, None)
    for h in birds:
        got = {p: copy_seen(h, p) for p in (P, Q, R)}
        assert got == minimal, h.name
        # The path copied still reaches the hosts whole (ADD-PATH): policies on it see it all
        t2_path = [b for b in route_blocks(h, P) if OVERRIDE_LC not in b and f"mpls {label('t2')}" in b]
        assert len(t2_path) == 1 and "BGP.community: (64502,77)" in t2_path[0], t2_path
        assert "BGP.med: 5" in t2_path[0] and "(64502, 9, 9)" in t2_path[0], t2_path

    frr_minimal = {p: (a, lab, lcs.replace("(", "").replace(")", "").replace(", ", ":"), int(lp), c, m)
                   for p, (a, lab, lcs, lp, c, m) in minimal.items()}
    assert wait_for(lambda: {p: frr_copy_seen(frr, p) for p in (P, Q, R)}, frr_minimal) == frr_minimal

    # The switch's own view of a minimal copy
    paths = ok(sw, f"show autopilot ap paths {P}")
    assert re.search(r"\[override copy\]\n\s+via .*\n\s+preference 200, AS path \[64502\], origin IGP, "
                     rf"local pref {lp}, MED -\n\s+large communities: {re.escape(pp_text('t2'))} "
                     rf"{re.escape(OVERRIDE_LC)}\n", paths), paths

    # Full copies by configure: the same overrides, copies made again with
    # the copied path's attributes, no protocol or session restarted
    write_conf(pop, ap_options="")
    assert "Reconfigured" in ok(sw, "configure")
    full = {p: ("64502 64502", label("t2"), f"(64502, 9, 9) {pp_text('t2')} {OVERRIDE_LC}", lp, "(64502,77)", "5")
            for p in (P, Q)}
    full[R] = ("64503 64503 64503", label("t3"), f"{pp_text('t3')} {OVERRIDE_LC}", lp, None, None)
    for h in birds:
        assert wait_for(lambda h=h: {p: copy_seen(h, p) for p in (P, Q, R)}, full) == full, h.name
    assert "copies full" in show_ap_text(sw)

    # ... and back to minimal
    write_conf(pop, ap_options="\toverride copy minimal;")
    assert "Reconfigured" in ok(sw, "configure")
    for h in birds:
        assert wait_for(lambda h=h: {p: copy_seen(h, p) for p in (P, Q, R)}, minimal) == minimal, h.name
    assert wait_for(lambda: {p: frr_copy_seen(frr, p) for p in (P, Q, R)}, frr_minimal) == frr_minimal
    assert show_overrides(sw)[0]["active"] == 3
    after = protocols_since(sw)
    assert unchanged(started, after), (started, after)


def show_ap_text(node):
    return ok(node, "show autopilot ap")
