"""The host role: Precision Path alternates, egress tables, kernel tables.

Transits t1, t2 (stock BIRD) and t3 (gobgpd) -> patched switch1 (egress map,
`pp disable community (65000, 4, 0)`, LOCAL_PREF set per egress by import
filters, t3's filter adding the disable community to C) -> patched host h1
with K = 2 alternates per family (host_helpers.py has the whole plan).

Per prefix, best first (LOCAL_PREF):
  A  t1 > t2 > t3         alternates t2 (pp 2002), t3 (pp 2003)
  B  t1 > t3 > t2         alternates t3, t2
  C  t1 > t2 > t3, t3's path carries the disable community: no alternates
  D  t1 > t2 (t3 lacks it) alternate t2 only
  E  as A; t1 sends it with the disable community and a pp label of its
     own, which the switch removes: a transit cannot disable Precision Path
and the same for IPv6 with labels 110x / 210x.
"""

import pytest

import host_helpers as hh
from host_helpers import A4, A6, B4, C4, C6, D4, E4, E6, HostPop, alt_table, show_hap
from pop import log, show_protocols, wait_for

ALL = ("t1", "t2", "t3")


def build(topo, bins, k=2):
    hp = HostPop(topo, bins, k=k).build()
    h = hp.hosts[0]
    assert wait_for(lambda: hp.host_alternates(h), hp.expected()) == hp.expected()
    return hp, h


def expected_counts(hp, transits=ALL):
    """What `show autopilot hap` must say with only these transits up."""
    exp = hp.expected(transits)
    alts = {(k, f): sum(1 for (p, kk) in exp if kk == k and hh.family(p) == f)
            for f in (4, 6) for k in range(1, hp.k + 1)}
    etabs = {hh.label(t, f): sum(1 for p in hh.ANNOUNCED[t] if hh.family(p) == f)
             if t in transits else 0 for t in ALL for f in (4, 6)}
    dis = sum(1 for p in hh.V4 + hh.V6 if hh.disabled(p, transits))
    return dis, alts, etabs


def hap_counts(h):
    s = show_hap(h)
    return (s["disabled"], {key: n for key, (_, n) in s["alternates"].items()},
            {lab: n for lab, (_, n) in s["egress_tables"].items()})


def no_bugs(hp):
    """No `<BUG>` line in any patched BIRD's log: a failed assertion there
    is a bug even when the routes come out right."""
    for node in [hp.switch] + hp.hosts:
        bugs = [l for l in (node.dir / "bird.log").read_text().splitlines() if "<BUG>" in l]
        assert not bugs, f"{node.name}: " + "\n".join(bugs[:5])


def test_alternates_ranked_with_pp_labels(topo, bins):
    hp, h = build(topo, bins)
    sw = hp.switch

    # Exactly K (or fewer when there are fewer egresses), in LOCAL_PREF
    # order, each with its own egress's pp label, none for C (disabled).
    got = hp.host_alternates(h)
    assert got == hp.expected()
    assert got[(A4, 1)] == ("t2", 2002) and got[(A4, 2)] == ("t3", 2003)
    assert got[(B4, 1)] == ("t3", 2003) and got[(B4, 2)] == ("t2", 2002)
    assert got[(D4, 1)] == ("t2", 2002) and (D4, 2) not in got
    assert got[(A6, 1)] == ("t2", 2102) and got[(A6, 2)] == ("t3", 2103)
    assert not [key for key in got if key[0] in (C4, C6)]

    # An alternate is the path's copy: next hop the switch, one label (the
    # pp label, not the primary), the path's attributes kept; the received
    # label stack belongs to the best path only.
    for fam, via in ((4, str(sw.addr4(h))), (6, str(sw.addr6(h)))):
        for k in (1, 2):
            for p, r in hh.alternate_routes(h, alt_table(k, fam)).items():
                route = r["route"]
                assert route["via"] == via, (p, k, route)
                assert route["proto"] == "hap", (p, k, route)
                assert (hh.SWITCH_AS, 2, r["label"]) in route["lcs"], (p, k, route)
                assert "BGP.mpls_label_stack" not in route["attrs"], (p, k, route)

    # C's best path is t1's and has no disable community: one path is enough
    c = hh.table_routes(h, "master4")[C4]
    assert [r["labels"] for r in c] == [[1001], [1002], [1003]]
    assert [(hh.SWITCH_AS, 4, 0) in r["lcs"] for r in c] == [False, False, True]

    # E: t1 sent the disable community and a pp label of its own; the
    # switch removed both, so E is ranked like A, with the switch's labels.
    assert got[(E4, 1)] == ("t2", 2002) and got[(E4, 2)] == ("t3", 2003)
    assert got[(E6, 1)] == ("t2", 2102) and got[(E6, 2)] == ("t3", 2103)
    for p, fam in ((E4, 4), (E6, 6)):
        sent = hh.table_routes(hp.transits["t1"], f"master{fam}")[p][0]["lcs"]
        assert sent == set(hh.FORGED), (p, sent)
        for r in hh.table_routes(h, f"master{fam}")[p]:
            t = hp.transit_of(r["as_path"])
            assert r["lcs"] == {(hh.SWITCH_AS, 2, hh.pp_label(t, fam))}, (p, r)

    s = show_hap(h)
    assert s["state"] == "up" and s["community"] == (65000, 4, 0)
    assert hap_counts(h) == expected_counts(hp)
    assert hap_counts(h) == (2, {(1, 4): 4, (2, 4): 3, (1, 6): 4, (2, 6): 3},
                             {1001: 5, 1002: 5, 1003: 4, 1101: 5, 1102: 5, 1103: 4})
    no_bugs(hp)


def test_egress_tables_hold_primary_labels(topo, bins):
    hp, h = build(topo, bins)
    for t in ALL:
        for fam in (4, 6):
            tab = hh.egress_table(t, fam)
            routes = hh.alternate_routes(h, tab)
            want = sorted(p for p in hh.ANNOUNCED[t] if hh.family(p) == fam)
            # Disabled C too: the disable rule is about alternates only.
            assert sorted(routes) == want, (tab, routes)
            for p, r in routes.items():
                assert r["label"] == hh.label(t, fam), (tab, p, r)
                assert hp.transit_of(r["as_path"]) == t, (tab, p, r)
    no_bugs(hp)


def test_egress_down_recomputes_alternates(topo, bins):
    hp, h = build(topo, bins)
    t2 = hp.transits["t2"]

    # t2 goes (an operator shuts its sessions): A's t3 moves up to rank 1
    # and A has no 2nd alternate, B loses its 2nd, D loses its only one.
    t2.daemon.cmd("disable switch1_v4")
    t2.daemon.cmd("disable switch1_v6")
    down = hp.expected(("t1", "t3"))
    assert wait_for(lambda: hp.host_alternates(h), down) == down
    assert down[(A4, 1)] == ("t3", 2003) and (A4, 2) not in down and (D4, 1) not in down
    assert wait_for(lambda: hap_counts(h), expected_counts(hp, ("t1", "t3"))) == \
        expected_counts(hp, ("t1", "t3"))
    assert hh.alternate_routes(h, "eg1002v4") == {}

    # ... and comes back: everything as before.
    t2.daemon.cmd("enable switch1_v4")
    t2.daemon.cmd("enable switch1_v6")
    assert wait_for(lambda: hp.host_alternates(h), hp.expected()) == hp.expected()
    assert wait_for(lambda: hap_counts(h), expected_counts(hp)) == expected_counts(hp)
    no_bugs(hp)


def test_disable_rule_follows_the_marked_path(topo, bins):
    """Any path of the prefix with the disable community disables it; when
    that path goes, so does the rule."""
    hp, h = build(topo, bins)
    assert show_hap(h)["disabled"] == 2

    hp.transits["t3"].daemon.kill()      # gobgpd crashes: the marked paths go
    up = ("t1", "t2")
    assert wait_for(lambda: hp.host_alternates(h), hp.expected(up)) == hp.expected(up)
    assert hp.expected(up)[(C4, 1)] == ("t2", 2002)
    assert hp.expected(up)[(C6, 1)] == ("t2", 2102)
    assert wait_for(lambda: hap_counts(h), expected_counts(hp, up)) == expected_counts(hp, up)
    assert show_hap(h)["disabled"] == 0
    no_bugs(hp)


@pytest.mark.parametrize("prefix,target,fam", [(A4, "t2", 4), (B4, "t3", 4), (A6, "t2", 6)])
def test_override_is_not_a_second_alternate(topo, bins, prefix, target, fam):
    """An override copy on the switch and the path it copies are one egress:
    the host's alternates are the other egresses, never the target again."""
    hp, h = build(topo, bins)
    egress = hh.egress_name(target, fam)
    out = hp.switch.daemon.cmd(f"autopilot add ap {prefix} {egress}")
    log(f"autopilot add: {out}")

    def best_label():
        rs = hh.table_routes(h, f"master{fam}")[prefix]
        return [r["labels"] for r in rs if r["best"] or r["sync_error"]]

    assert wait_for(best_label, [[hh.label(target, fam)]]) == [[hh.label(target, fam)]]
    others = [t for t in hh.ranked(prefix) if t != target]
    want = {(prefix, k): (t, hh.pp_label(t, fam)) for k, t in enumerate(others[:2], 1)}
    got = lambda: {key: v for key, v in hp.host_alternates(h).items() if key[0] == prefix}
    assert wait_for(got, want) == want
    # Four paths (the copy and three originals), still two alternates.
    assert len(hh.table_routes(h, f"master{fam}")[prefix]) == 4

    hp.switch.daemon.cmd(f"autopilot withdraw ap {prefix}")
    assert wait_for(lambda: hp.host_alternates(h), hp.expected()) == hp.expected()
    no_bugs(hp)


def test_kernel_tables(topo, bins):
    """Kernel protocols export alternate k to kernel table 100 + k and egress
    i to 200 + i. With MPLS in this kernel the routes are `encap mpls <pp
    label>`; without it (the development kernels) each is refused, BIRD
    says so in its log and marks the route `!` (tests/kernel/ boots a
    kernel that has it)."""
    hp, h = build(topo, bins)
    sw = hp.switch
    mpls = hh.kernel_has_mpls_encap(h, "switch1", sw.addr4(h))
    exp = hp.expected()

    for fam in (4, 6):
        for k in (1, 2):
            want = {p: v for (p, kk), v in exp.items() if kk == k and hh.family(p) == fam}
            routes = hh.table_routes(h, alt_table(k, fam))
            assert sorted(routes) == sorted(want)
            # Exported to the kernel protocol of that table, whatever the kernel says
            out = h.daemon.cmd(f"show route export k{alt_table(k, fam)} count")
            assert f"{len(want)} of {len(want)} routes" in out, out
            if mpls:
                gw = sw.addr4(h) if fam == 4 else sw.addr6(h)
                want_lines = sorted(f"{p} encap mpls {pp} via {gw} dev switch1"
                                    for p, (_, pp) in want.items())
                assert wait_for(lambda: kernel_lines(h, 100 + k, fam), want_lines) == want_lines
            else:
                assert all(rs[0]["sync_error"] for rs in routes.values()), routes
                assert not [l for l in hh.kernel_routes(h, 100 + k, fam)
                            if l.split()[0] in want], "installed without MPLS?"
    if mpls:
        for t in ALL:
            for fam in (4, 6):
                gw = sw.addr4(h) if fam == 4 else sw.addr6(h)
                want_lines = sorted(f"{p} encap mpls {hh.label(t, fam)} via {gw} dev switch1"
                                    for p in hh.ANNOUNCED[t] if hh.family(p) == fam)
                table = 200 + int(t[1:])
                assert wait_for(lambda: kernel_lines(h, table, fam), want_lines) == want_lines
    else:
        lines = [l for l in (h.dir / "bird.log").read_text().splitlines()
                 if "Netlink: Operation not supported" in l]
        assert lines, "the kernel protocols did not report the refused routes"
        log(f"no MPLS in this kernel: {len(lines)} netlink refusals logged, routes marked '!'")
    protos = show_protocols(h)
    for name in [f"k{alt_table(k, f)}" for k in (1, 2) for f in (4, 6)] + \
            [f"k{hh.egress_table(t, f)}" for t in ALL for f in (4, 6)]:
        assert protos[name]["state"] == "up", (name, protos[name])
    no_bugs(hp)


def kernel_lines(node, table, fam):
    """A kernel table's routes as `P encap mpls L via GW dev D`: spaces
    squeezed (iproute2 prints `encap mpls  2002`), without what follows
    (proto, metric, pref) or the flag of a link not yet up."""
    return sorted(" ".join(l.replace(" linkdown", "").split()).split(" proto ")[0]
                  for l in hh.kernel_routes(node, table, fam))
