"""The host role: Precision Path alternates, egress tables, kernel tables.

Transits t1, t2 (stock BIRD) and t3 (gobgpd) -> patched switch1 (egress map,
`pp disable community (65000, 4, 0)`, LOCAL_PREF set per egress by import
filters, t3's filter adding the disable community to C) -> patched host h1
with K = 2 alternates per family (the whole plan below).

Per prefix, best first (LOCAL_PREF):
  A  t1 > t2 > t3         alternates t2 (pp 2002), t3 (pp 2003)
  B  t1 > t3 > t2         alternates t3, t2
  C  t1 > t2 > t3, t3's path carries the disable community: no alternates
  D  t1 > t2 (t3 lacks it) alternate t2 only
  E  as A; t1 sends it with the disable community and a pp label of its
     own, which the switch removes: a transit cannot disable Precision Path
and the same for IPv6 with labels 110x / 210x.
"""

import re

import pytest

from pop import (PP_DISABLE, SWITCH_AS, Pop, Transit, alt_table, alternate_routes, birdc_rc, egress_name,
                 egress_table, family, kernel_has_mpls_encap, kernel_routes, label, log, pp_label,
                 show_hap, show_protocols, table_routes, wait_for)

ALL = ("t1", "t2", "t3")
KINDS = {"t1": "bird", "t2": "bird", "t3": "gobgp"}

# Prefixes (documentation and benchmark space, never generated elsewhere).
A4, B4, C4, D4 = "198.51.100.0/24", "203.0.113.0/24", "192.0.2.0/24", "198.18.0.0/24"
A6, B6, C6, D6 = "2001:db8:1::/48", "2001:db8:2::/48", "2001:db8:3::/48", "2001:db8:ff::/48"
E4, E6 = "198.19.0.0/24", "2001:db8:ee::/48"
V4, V6 = [A4, B4, C4, D4, E4], [A6, B6, C6, D6, E6]
# D is announced by t1 and t2 only: it has one alternate, not K.
ANNOUNCED = {"t1": V4 + V6, "t2": V4 + V6, "t3": [A4, B4, C4, E4, A6, B6, C6, E6]}
# t1 sends E with the disable community and a pp label of its own: the
# switch removes both (only its operator's filters decide), so E has
# alternates like A.
FORGED = [PP_DISABLE, (SWITCH_AS, 2, 9999)]
FORGED_BY = {"t1": [E4, E6]}
# C gets the disable community from t3's import filter alone, on its worst
# path: "any path of the prefix carries it" is what disables it.
DISABLED = {"t3": [C4, C6]}

# LOCAL_PREF per egress, and per-prefix exceptions: B prefers t3 over t2.
# The order of a prefix's paths is set on the switch, by LOCAL_PREF in each
# egress's import filter: BGP's own rules, which the ranking follows, so the
# expected alternates are a plain sort of LP.
LP = {"t1": 300, "t2": 200, "t3": 100}
LP_EXCEPT = {("t3", B4): 250, ("t3", B6): 250}


def lp(transit, prefix):
    return LP_EXCEPT.get((transit, prefix), LP[transit])


def ranked(prefix, transits=ALL):
    """Transits with a path of prefix, best first (by LP)."""
    have = [t for t in transits if prefix in ANNOUNCED[t]]
    return sorted(have, key=lambda t: -lp(t, prefix))


def disabled(prefix, transits=ALL):
    return any(prefix in DISABLED.get(t, []) and prefix in ANNOUNCED[t] for t in transits)


def expected_alternates(prefix, k, transits=ALL):
    """[transit of alternate 1, ...] for prefix with the given transits up."""
    if disabled(prefix, transits):
        return []
    return ranked(prefix, transits)[1:1 + k]


def import_filter(t, fam):
    """The switch's import filter body for transit t's egress of family fam.
    Why a filter per egress: LOCAL_PREF is what orders the paths, and
    pp_disable; is set where the operator knows the prefix."""
    body = [f"\tbgp_local_pref = {LP[t]};"]
    body += [f"\tif net = {p} then bgp_local_pref = {v};"
             for (tt, p), v in LP_EXCEPT.items() if tt == t and family(p) == fam]
    # A prefix set of the egress's family only: BIRD refuses mixed sets.
    ps = [p for p in DISABLED.get(t, []) if family(p) == fam]
    if ps:
        body.append(f"\tif net ~ [ {', '.join(ps)} ] then pp_disable;")
    return "\n".join(body)


def forged(t):
    """t's static routes that carry FORGED communities: {prefix: statements}."""
    adds = " ".join(f"bgp_large_community.add(({a}, {b}, {c}));" for a, b, c in FORGED)
    return {p: adds for p in FORGED_BY.get(t, [])}


def build(topo, bins, k=2, ap_options="", host_options=""):
    """The POP above, k alternates per family on h1, settled; (pop, h1).
    ap_options: more lines for the switch's `ap`, host_options for h1's `hap`."""
    transits = [Transit(KINDS[t], v4=[p for p in ANNOUNCED[t] if family(p) == 4],
                        v6=[p for p in ANNOUNCED[t] if family(p) == 6], route_attrs=forged(t))
                for t in ALL]
    filters = {egress_name(t, fam): import_filter(t, fam) for t in ALL for fam in (4, 6)}
    hp = Pop(topo, bins, transits, hosts=("h1",), alternates=k, import_filters=filters,
             ap_options=ap_options, host_options=host_options).build()
    h = hp.hosts[0]
    assert wait_for(lambda: host_alternates(hp, h), expected(hp)) == expected(hp)
    return hp, h


def expected(hp, transits=ALL):
    """{(prefix, k): (transit, pp label)} for every alternate every host
    should have, with only the given transits up; no key, no alternate."""
    return {(p, k): (t, pp_label(egress_name(t, family(p))))
            for p in V4 + V6
            for k, t in enumerate(expected_alternates(p, hp.alternates, transits), 1)}


def host_alternates(hp, h):
    """{(prefix, k): (transit, next hop label)} from h's alternate tables:
    the transit by the copy's AS path, or with minimal copies (no AS path)
    by its label, the one thing the kernel route has of its egress."""
    minimal = "alternate copy minimal" in hp.host_options
    by_pp = {pp_label(egress_name(t, fam)): t for t in ALL for fam in (4, 6)}
    return {(p, k): (by_pp.get(r["label"]) if minimal else transit_of(r["as_path"]), r["label"])
            for fam in (4, 6) for k in range(1, hp.alternates + 1)
            for p, r in alternate_routes(h, alt_table(k, fam)).items()}


def transit_of(as_path):
    """t<i> from an AS path [6450i]."""
    return f"t{as_path[0] - 64500}" if as_path else None


def expected_counts(hp, transits=ALL):
    """What `show autopilot hap` must say with only these transits up."""
    exp = expected(hp, transits)
    alts = {(k, f): sum(1 for (p, kk) in exp if kk == k and family(p) == f)
            for f in (4, 6) for k in range(1, hp.alternates + 1)}
    etabs = {label(egress_name(t, f)): sum(1 for p in ANNOUNCED[t] if family(p) == f)
             if t in transits else 0 for t in ALL for f in (4, 6)}
    dis = sum(1 for p in V4 + V6 if disabled(p, transits))
    return dis, alts, etabs


def hap_counts(h):
    s = show_hap(h)
    return (s["disabled"], {key: n for key, (_, n) in s["alternates"].items()},
            {lab: n for lab, (_, n) in s["egress_tables"].items()})


def test_alternates_ranked_with_pp_labels(topo, bins):
    hp, h = build(topo, bins)
    sw = hp.switch

    # Exactly K (or fewer when there are fewer egresses), in LOCAL_PREF
    # order, each with its own egress's pp label, none for C (disabled).
    got = host_alternates(hp, h)
    assert got == expected(hp)
    assert got[(A4, 1)] == ("t2", pp_label("t2")) and got[(A4, 2)] == ("t3", pp_label("t3"))
    assert got[(B4, 1)] == ("t3", pp_label("t3")) and got[(B4, 2)] == ("t2", pp_label("t2"))
    assert got[(D4, 1)] == ("t2", pp_label("t2")) and (D4, 2) not in got
    assert got[(A6, 1)] == ("t2", pp_label("t2_6")) and got[(A6, 2)] == ("t3", pp_label("t3_6"))
    assert not [key for key in got if key[0] in (C4, C6)]

    # An alternate is the path's copy: next hop the switch, one label (the
    # pp label, not the primary), the path's attributes kept; the received
    # label stack belongs to the best path only.
    for fam, via in ((4, str(sw.addr4(h))), (6, str(sw.addr6(h)))):
        for k in (1, 2):
            for p, r in alternate_routes(h, alt_table(k, fam)).items():
                route = r["route"]
                assert route["via"] == via, (p, k, route)
                assert route["proto"] == "hap", (p, k, route)
                assert (SWITCH_AS, 2, r["label"]) in route["lcs"], (p, k, route)
                assert "BGP.mpls_label_stack" not in route["attrs"], (p, k, route)

    # C's best path is t1's and has no disable community: one path is enough
    c = table_routes(h, "master4")[C4]
    assert [r["labels"] for r in c] == [[label("t1")], [label("t2")], [label("t3")]]
    assert [(SWITCH_AS, 4, 0) in r["lcs"] for r in c] == [False, False, True]

    # E: t1 sent the disable community and a pp label of its own; the
    # switch removed both, so E is ranked like A, with the switch's labels.
    assert got[(E4, 1)] == ("t2", pp_label("t2")) and got[(E4, 2)] == ("t3", pp_label("t3"))
    assert got[(E6, 1)] == ("t2", pp_label("t2_6")) and got[(E6, 2)] == ("t3", pp_label("t3_6"))
    for p, fam in ((E4, 4), (E6, 6)):
        sent = table_routes(hp.transit("t1").node, f"master{fam}")[p][0]["lcs"]
        assert sent == set(FORGED), (p, sent)
        for r in table_routes(h, f"master{fam}")[p]:
            t = transit_of(r["as_path"])
            assert r["lcs"] == {(SWITCH_AS, 2, pp_label(egress_name(t, fam)))}, (p, r)

    s = show_hap(h)
    assert s["state"] == "up" and s["community"] == PP_DISABLE
    assert hap_counts(h) == expected_counts(hp)
    assert hap_counts(h) == (2, {(1, 4): 4, (2, 4): 3, (1, 6): 4, (2, 6): 3},
                             {label("t1"): 5, label("t2"): 5, label("t3"): 4,
                              label("t1_6"): 5, label("t2_6"): 5, label("t3_6"): 4})


def test_egress_tables_hold_primary_labels(topo, bins):
    hp, h = build(topo, bins)
    for t in ALL:
        for fam in (4, 6):
            tab = egress_table(egress_name(t, fam), fam)
            routes = alternate_routes(h, tab)
            want = sorted(p for p in ANNOUNCED[t] if family(p) == fam)
            # Disabled C too: the disable rule is about alternates only.
            assert sorted(routes) == want, (tab, routes)
            for p, r in routes.items():
                assert r["label"] == label(egress_name(t, fam)), (tab, p, r)
                assert transit_of(r["as_path"]) == t, (tab, p, r)


def test_egress_table_takes_a_new_label_by_configure(topo, bins):
    """`egress label L table T` with another L for the same T, by `birdc
    configure`: T holds the paths of L's egress. (It kept the old label's
    routes: egress tables are channels matched by position, and a new
    label of the same table was no change to them.)"""
    hp, h = build(topo, bins)
    a, b = egress_name(ALL[0], 4), egress_name(ALL[1], 4)
    hp.etab_labels = {a: label(b), b: label(a)}
    hp.reconfigure_host(h)

    def content(tab):
        return sorted((p, r["label"]) for p, r in alternate_routes(h, tab).items())
    for tab_of, now in ((a, ALL[1]), (b, ALL[0])):
        want = sorted((p, label(egress_name(now, 4))) for p in ANNOUNCED[now] if family(p) == 4)
        assert wait_for(lambda: content(egress_table(tab_of, 4)), want) == want, tab_of
    assert wait_for(lambda: host_alternates(hp, h), expected(hp)) == expected(hp)


def test_cli_pp_disabled_is_the_running_configs(topo, bins):
    """`show route where pp_disabled` matches the disable community of the
    running config, not that of the last config parsed: a configure that
    failed (here: another community, then a syntax error) left its
    community to the CLI, which then matched nothing."""
    hp, h = build(topo, bins)

    def disabled_count():
        out = h.daemon.cmd("show route table master4 where pp_disabled count")
        m = re.search(r"(\d+) of \d+ routes", out)
        assert m, out
        return int(m.group(1))
    n = disabled_count()
    assert n > 0

    good = h.daemon.conf.read_text()
    line = f"pp disable community ({', '.join(map(str, PP_DISABLE))});"
    assert line in good
    h.daemon.conf.write_text(good.replace(line, "pp disable community (65000, 99, 9);") + "\nprotocol nonsense {\n")
    rc, out = birdc_rc(h.daemon, "configure")
    assert rc == 1 and "Reconfigured" not in out, out
    assert disabled_count() == n
    h.daemon.conf.write_text(good)


def test_minimal_copies(topo, bins):
    """alternate copy minimal: the same alternates and egress tables, with
    the same next hops and labels (all a kernel route is made of), but none
    of the paths' attributes; `show autopilot` says which copies; a
    configure back to full copies restarts the host role, and every route
    has its path's attributes again."""
    hp, h = build(topo, bins, host_options="\talternate copy minimal;")
    sw = hp.switch
    assert "Copies: minimal (next hop and label only)" in show_hap(h)["text"]
    assert hap_counts(h) == expected_counts(hp)

    for fam, via in ((4, str(sw.addr4(h))), (6, str(sw.addr6(h)))):
        for t in ALL:
            tab = egress_table(egress_name(t, fam), fam)
            routes = alternate_routes(h, tab)
            assert sorted(routes) == sorted(p for p in ANNOUNCED[t] if family(p) == fam), (tab, routes)
            assert {r["label"] for r in routes.values()} == {label(egress_name(t, fam))}, (tab, routes)
        for tab in [alt_table(k, fam) for k in (1, 2)] + [egress_table(egress_name(t, fam), fam) for t in ALL]:
            for p, r in alternate_routes(h, tab).items():
                route = r["route"]
                assert route["via"] == via and route["proto"] == "hap", (tab, p, route)
                assert not [a for a in route["attrs"] if a.startswith("BGP.")], (tab, p, route)
                assert not r["as_path"] and not route["lcs"], (tab, p, route)
            n = len(table_routes(h, tab))
            out = h.daemon.cmd(f"show route export k{tab} count")
            assert f"{n} of {n} routes" in out, (tab, out)

    hp.host_options = ""
    hp.reconfigure_host(h)
    assert wait_for(lambda: host_alternates(hp, h), expected(hp)) == expected(hp)
    assert "Copies: full (the path's attributes)" in show_hap(h)["text"]
    for fam in (4, 6):
        for k in (1, 2):
            for p, r in alternate_routes(h, alt_table(k, fam)).items():
                assert (SWITCH_AS, 2, r["label"]) in r["route"]["lcs"], (p, k, r)


def test_egress_down_recomputes_alternates(topo, bins):
    hp, h = build(topo, bins)
    t2 = hp.transit("t2").node

    # t2 goes (an operator shuts its sessions): A's t3 moves up to rank 1
    # and A has no 2nd alternate, B loses its 2nd, D loses its only one.
    t2.daemon.cmd("disable switch1_v4")
    t2.daemon.cmd("disable switch1_v6")
    down = expected(hp, ("t1", "t3"))
    assert wait_for(lambda: host_alternates(hp, h), down) == down
    assert down[(A4, 1)] == ("t3", pp_label("t3")) and (A4, 2) not in down and (D4, 1) not in down
    assert wait_for(lambda: hap_counts(h), expected_counts(hp, ("t1", "t3"))) == \
        expected_counts(hp, ("t1", "t3"))
    assert alternate_routes(h, egress_table("t2", 4)) == {}

    # ... and comes back: everything as before.
    t2.daemon.cmd("enable switch1_v4")
    t2.daemon.cmd("enable switch1_v6")
    assert wait_for(lambda: host_alternates(hp, h), expected(hp)) == expected(hp)
    assert wait_for(lambda: hap_counts(h), expected_counts(hp)) == expected_counts(hp)


def test_disable_rule_follows_the_marked_path(topo, bins):
    """Any path of the prefix with the disable community disables it; when
    that path goes, so does the rule."""
    hp, h = build(topo, bins)
    assert show_hap(h)["disabled"] == 2

    hp.transit("t3").node.daemon.kill()      # gobgpd crashes: the marked paths go
    up = ("t1", "t2")
    assert wait_for(lambda: host_alternates(hp, h), expected(hp, up)) == expected(hp, up)
    assert expected(hp, up)[(C4, 1)] == ("t2", pp_label("t2"))
    assert expected(hp, up)[(C6, 1)] == ("t2", pp_label("t2_6"))
    assert wait_for(lambda: hap_counts(h), expected_counts(hp, up)) == expected_counts(hp, up)
    assert show_hap(h)["disabled"] == 0


@pytest.mark.parametrize("prefix,target,fam,copy", [(A4, "t2", 4, "full"), (B4, "t3", 4, "full"),
                                                    (A6, "t2", 6, "full"), (A4, "t2", 4, "minimal"),
                                                    (A6, "t2", 6, "minimal")])
def test_override_is_not_a_second_alternate(topo, bins, prefix, target, fam, copy):
    """An override copy on the switch and the path it copies are one egress:
    the host's alternates are the other egresses, never the target again;
    the same with minimal copies (label, pp label and next hop are all the
    host ranks by)."""
    hp, h = build(topo, bins, ap_options=f"\toverride copy {copy};")
    egress = egress_name(target, fam)
    out = hp.switch.daemon.cmd(f"autopilot add ap {prefix} {egress}")
    log(f"autopilot add: {out}")

    def best_label():
        rs = table_routes(h, f"master{fam}")[prefix]
        return [r["labels"] for r in rs if r["best"] or r["sync_error"]]

    assert wait_for(best_label, [[label(egress_name(target, fam))]]) == [[label(egress_name(target, fam))]]
    others = [t for t in ranked(prefix) if t != target]
    want = {(prefix, k): (t, pp_label(egress_name(t, fam))) for k, t in enumerate(others[:2], 1)}
    got = lambda: {key: v for key, v in host_alternates(hp, h).items() if key[0] == prefix}
    assert wait_for(got, want) == want
    # Four paths (the copy and three originals), still two alternates.
    assert len(table_routes(h, f"master{fam}")[prefix]) == 4

    hp.switch.daemon.cmd(f"autopilot withdraw ap {prefix}")
    assert wait_for(lambda: host_alternates(hp, h), expected(hp)) == expected(hp)


def test_kernel_tables(topo, bins):
    """Kernel protocols export alternate k to kernel table 100 + k and egress
    i to 200 + i. With MPLS in this kernel the routes are `encap mpls <pp
    label>`; without it (the development kernels) each is refused, BIRD
    says so in its log and marks the route `!` (tests/kernel/ boots a
    kernel that has it)."""
    hp, h = build(topo, bins)
    sw = hp.switch
    mpls = kernel_has_mpls_encap(h, "switch1", sw.addr4(h))
    exp = expected(hp)

    for fam in (4, 6):
        for k in (1, 2):
            want = {p: v for (p, kk), v in exp.items() if kk == k and family(p) == fam}
            routes = table_routes(h, alt_table(k, fam))
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
                assert not [l for l in kernel_routes(h, 100 + k, fam)
                            if l.split()[0] in want], "installed without MPLS?"
    if mpls:
        for t in ALL:
            for fam in (4, 6):
                gw = sw.addr4(h) if fam == 4 else sw.addr6(h)
                want_lines = sorted(f"{p} encap mpls {label(egress_name(t, fam))} via {gw} dev switch1"
                                    for p in ANNOUNCED[t] if family(p) == fam)
                table = 200 + int(t[1:])
                assert wait_for(lambda: kernel_lines(h, table, fam), want_lines) == want_lines
    else:
        lines = [l for l in (h.dir / "bird.log").read_text().splitlines()
                 if "Netlink: Operation not supported" in l]
        assert lines, "the kernel protocols did not report the refused routes"
        log(f"no MPLS in this kernel: {len(lines)} netlink refusals logged, routes marked '!'")
    protos = show_protocols(h)
    for name in [f"k{alt_table(k, f)}" for k in (1, 2) for f in (4, 6)] + \
            [f"k{egress_table(egress_name(t, f), f)}" for t in ALL for f in (4, 6)]:
        assert protos[name]["state"] == "up", (name, protos[name])


def kernel_lines(node, table, fam):
    """A kernel table's routes as `P encap mpls L via GW dev D`: spaces
    squeezed (iproute2 prints `encap mpls  2002`), without what follows
    (proto, metric, pref) or the flag of a link not yet up."""
    return sorted(" ".join(l.replace(" linkdown", "").split()).split(" proto ")[0]
                  for l in kernel_routes(node, table, fam))


def test_many_prefixes_change_in_one_round(topo, bins):
    """The host applies the updates of its tables a window at a time (32,
    host.c): with hundreds of prefixes changing at once (a best egress
    lost, then back), every window fills, announcements, replacements and
    withdrawals mix in one window, and each alternate table must still end
    exactly as ranked."""
    v4 = [f"198.18.{i}.0/24" for i in range(1, 251)] + [f"198.19.{i}.0/24" for i in range(1, 51)]
    v6 = [f"2001:db8:{0x100 + i:x}::/48" for i in range(100)]
    transits = [Transit("bird", v4=v4, v6=v6) for _ in ALL]
    filters = {egress_name(t, fam): import_filter(t, fam) for t in ALL for fam in (4, 6)}
    hp = Pop(topo, bins, transits, hosts=("h1",), alternates=2, import_filters=filters).build()
    h = hp.hosts[0]

    def want(up):
        order = [t for t in ALL if t in up]          # LP: t1 > t2 > t3, no exceptions here
        return {(p, k): (t, pp_label(egress_name(t, family(p))))
                for p in v4 + v6 for k, t in enumerate(order[1:3], 1)}

    def counts(up):
        w = want(up)
        return {(k, f): sum(1 for (p, kk) in w if kk == k and family(p) == f) for f in (4, 6) for k in (1, 2)}

    def alt_counts():
        return {key: n for key, (_, n) in show_hap(h)["alternates"].items()}

    assert wait_for(lambda: host_alternates(hp, h), want(ALL), timeout=60) == want(ALL)
    assert alt_counts() == counts(ALL) == {(1, 4): 300, (2, 4): 300, (1, 6): 100, (2, 6): 100}

    # t1 goes: every prefix's t2 becomes best, t3 alternate 1, alternate 2 withdrawn
    t1 = hp.transit("t1").node
    t1.daemon.cmd("disable switch1_v4")
    t1.daemon.cmd("disable switch1_v6")
    up = ("t2", "t3")
    assert wait_for(lambda: host_alternates(hp, h), want(up), timeout=60) == want(up)
    assert wait_for(alt_counts, counts(up)) == counts(up) == {(1, 4): 300, (2, 4): 0, (1, 6): 100, (2, 6): 0}

    t1.daemon.cmd("enable switch1_v4")
    t1.daemon.cmd("enable switch1_v6")
    assert wait_for(lambda: host_alternates(hp, h), want(ALL), timeout=60) == want(ALL)
    assert wait_for(alt_counts, counts(ALL)) == counts(ALL)
