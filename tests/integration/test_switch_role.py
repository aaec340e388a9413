"""The switch role: egress labels from transits to hosts, as an operator sees it.

Three transits no one here wrote (t1 stock BIRD AS 64501, t2 gobgpd AS
64502, t3 ExaBGP AS 64503) announce the same generated table plus a few
prefixes of their own to the patched switch, whose egress map gives each
eBGP session a label pair (pop.labels: IPv4 egresses t1..t3 1001..1003 / pp
2001..2003, IPv6 egresses t1_6..t3_6 1101..1103 / pp 2101..2103). Hosts (patched BIRD, stock 2.17.5,
Debian's own bird2, FRR) receive every path over labeled unicast with
ADD-PATH. Every check compares whole tables with what the transits
announced: a path missing, doubled, or carrying another egress's label fails.
"""

import ipaddress
import re
import time

import pytest

from pop import (SWITCH_AS, Pop, Transit, birdc, egress_name, established, labels,
                 log_lines, route_count, show_autopilot, show_protocols, show_routes, wait_for,
                 wait_until)
import routegen

N4, N6 = 2000, 1000         # prefixes every transit announces
U4, U6 = 20, 10             # prefixes each transit alone announces
KINDS = ["bird", "gobgp", "exabgp"]     # transits t1, t2, t3


def build(topo, bins, hosts=("host1",)):
    return Pop(topo, bins, [Transit(k) for k in KINDS], hosts, table=(N4, N6),
               unique=(U4, U6)).build()


def family_prefixes(transit, family):
    return transit.v4 if family == 4 else transit.v6


def switch_addr(pop, host, family):
    return str(pop.switch.addr4(host) if family == 4 else pop.switch.addr6(host))


def expected(pop, host, family, transits=None):
    """{net: sorted paths} a BIRD host must hold: one path per transit that
    announces the net, via the switch, with that egress's label in the next
    hop and its pp label as the only large community."""
    want = {}
    for t in pop.transits if transits is None else transits:
        if t.egress(family) in pop.egresses:
            label, pp = pop.egress_labels(t.egress(family))
            tags = ((label,), ((SWITCH_AS, 2, pp),))
        else:
            tags = ((), ())     # no egress: implicit null label, no community
        for net in family_prefixes(t, family):
            want.setdefault(str(net), []).append(
                ((t.asn,), *tags, switch_addr(pop, host, family)))
    return {net: sorted(paths) for net, paths in want.items()}


def host_view(host, family, prefix=""):
    """{net: sorted paths} as `birdc show route table masterN [prefix] all`
    shows them."""
    return {net: sorted((tuple(p["as_path"]), tuple(p["labels"]), tuple(sorted(p["lc"])), p["via"])
                        for p in paths)
            for net, paths in show_routes(host, f"master{family}", str(prefix)).items()}


def differences(got, want, show=3):
    """{} when equal; else the number of differing nets and a few of them."""
    bad = sorted(n for n in set(got) | set(want) if got.get(n) != want.get(n))
    if not bad:
        return {}
    return {"differing nets": len(bad),
            **{n: {"got": got.get(n), "want": want.get(n)} for n in bad[:show]}}


def assert_host_has(pop, host, transits=None, timeout=30):
    """Both tables of a BIRD host hold exactly what `transits` announce."""
    for family in (4, 6):
        want = expected(pop, host, family, transits)
        diff = wait_for(lambda: differences(host_view(host, family), want), {},
                        timeout=timeout, interval=0.5)
        assert diff == {}, f"{host.name} IPv{family}: {diff}"


def counts(pop, transits):
    """(routes, networks) a host holds for each family when `transits` announce."""
    res = []
    for family in (4, 6):
        nets = {n for t in transits for n in family_prefixes(t, family)}
        res.append((sum(len(family_prefixes(t, family)) for t in transits), len(nets)))
    return tuple(res)


def host_counts(host):
    return route_count(host, "master4"), route_count(host, "master6")


def lfib(pop):
    """{label: (via, iface)} of the switch's MPLS table mt."""
    return {int(label): (paths[0]["via"], paths[0]["iface"])
            for label, paths in show_routes(pop.switch, "mt").items() if len(paths) == 1}


def expected_lfib(pop, transits=None):
    want = {}
    for t in pop.transits if transits is None else transits:
        for family in (4, 6):
            if t.egress(family) not in pop.egresses:
                continue
            via = str(t.node.addr4(pop.switch) if family == 4 else t.node.addr6(pop.switch))
            for label in pop.egress_labels(t.egress(family)):
                want[label] = (via, t.name)
    return want


def egress_table(pop):
    """`show autopilot ap` egress rows: {session: (label, pp, session, v4, v6, lfib)}."""
    return {name: (e["label"], e["pp"], e["session"], e["ipv4"], e["ipv6"], e["lfib"])
            for name, e in show_autopilot(pop.switch)["egresses"].items()}


def expected_egress_table(pop, down=(), unreachable=()):
    """Egress rows when the sessions in `down` are down and the transits in
    `unreachable` cannot be reached (so their sessions are down too)."""
    want = {}
    for t in pop.transits:
        for family in (4, 6):
            s = t.egress(family)
            if s not in pop.egresses:
                continue
            up = s not in down and t not in unreachable
            n = len(family_prefixes(t, family)) if up else 0
            want[s] = (*pop.egress_labels(t.egress(family)), "up" if up else "down",
                       n if family == 4 else 0, n if family == 6 else 0,
                       "unreachable" if t in unreachable else "up")
    return want


def since(node):
    """{protocol: its `show protocols` Since, in seconds of the day}. BIRD
    converts its monotonic clock to the wall clock for each command, so
    the same moment may print a millisecond apart: compare with a margin."""
    res = {}
    for name, p in show_protocols(node).items():
        h, m, s = p["since"].split(":")
        res[name] = int(h) * 3600 + int(m) * 60 + float(s)
    return res


@pytest.mark.parametrize("kind", ["bird", "stock", "debian"])
def test_bird_host_gets_every_path_with_its_labels(topo, bins, kind):
    """Patched BIRD, stock 2.17.5 and Debian's bird2 as hosts: every path of
    both families, each with its egress's label and pp community."""
    pop = build(topo, bins, [("host1", kind)])
    sw, host = pop.switch, pop.hosts[0]
    full = counts(pop, pop.transits)
    assert wait_for(lambda: host_counts(host), full) == full
    assert full == ((3 * N4 + 3 * U4, N4 + 3 * U4), (3 * N6 + 3 * U6, N6 + 3 * U6))
    assert_host_has(pop, host)

    # The switch's view of the same: every egress up, its own paths counted
    assert wait_for(lambda: egress_table(pop), expected_egress_table(pop)) == \
        expected_egress_table(pop)
    ap = show_autopilot(sw)
    assert (ap["ipv4"]["prefixes"], ap["ipv4"]["paths"]) == (N4 + 3 * U4, 3 * N4 + 3 * U4)
    assert (ap["ipv6"]["prefixes"], ap["ipv6"]["paths"]) == (N6 + 3 * U6, 3 * N6 + 3 * U6)

    # What an operator reads for one prefix: three next hops via the switch,
    # each with the label of the egress whose AS ends the path
    prefix = pop.v4[N4 // 2]
    out = birdc(host, f"show route {prefix} all")
    for t in pop.transits:
        label, pp = pop.egress_labels(t.egress(4))
        assert f"via {sw.addr4(host)} on switch1 mpls {label}\n" in out + "\n", out
        assert f"BGP.large_community: ({SWITCH_AS}, 2, {pp})\n" in out + "\n", out
        assert f"[AS{t.asn}i]" in out, out


def test_frr_host_decodes_labels(topo, bins):
    """FRR 8.4 as a host: labeled unicast with ADD-PATH, every path's label."""
    pop = build(topo, bins, [("frr1", "frr")])
    sw, frr = pop.switch, pop.hosts[0]
    vtysh, peer = frr.daemon.vtysh_json, str(sw.addr4(frr))
    afs = {4: "ipv4", 6: "ipv6"}
    full = counts(pop, pop.transits)

    def received():
        s = vtysh("show bgp summary")
        return tuple(s[f"{afs[f]}LabeledUnicast"]["peers"][peer]["pfxRcd"] for f in (4, 6))
    # pfxRcd counts paths: ADD-PATH took every path, not one per prefix
    assert wait_for(received, (full[0][0], full[1][0])) == (full[0][0], full[1][0])

    for family in (4, 6):
        af = f"{afs[family]} labeled-unicast"
        # Each pp community marks exactly one egress's paths: all of them
        for t in pop.transits:
            label, pp = pop.egress_labels(t.egress(family))
            routes = vtysh(f"show bgp {af} large-community {SWITCH_AS}:2:{pp}")["routes"]
            got = {n: [p["path"] for p in paths] for n, paths in routes.items()}
            want = {str(n): [str(t.asn)] for n in family_prefixes(t, family)}
            assert differences(got, want) == {}, f"{af} pp {pp}"

        # One prefix in detail: three paths, each with its egress's remote label
        prefixes = [pop.v4[N4 // 3] if family == 4 else pop.v6[N6 // 3]] + \
            [family_prefixes(t, family)[-1] for t in pop.transits]
        for prefix in prefixes:
            paths = vtysh(f"show bgp {af} {prefix}")["paths"]
            got = sorted((p["aspath"]["string"], p["remoteLabel"], p["largeCommunity"]["string"])
                         for p in paths)
            want = sorted((str(t.asn), pop.egress_labels(t.egress(family))[0],
                           f"{SWITCH_AS}:2:{pop.egress_labels(t.egress(family))[1]}")
                          for t in pop.transits if prefix in family_prefixes(t, family))
            assert got == want, f"{prefix}: {paths}"

        # zebra takes every best path with the label of that path's egress.
        # It cannot install them: this kernel has no MPLS (zebra logs
        # "Disabling MPLS support"), so the routes are selected but failed.
        best = {n: next(p["path"] for p in paths if p.get("bestpath"))
                for n, paths in vtysh(f"show bgp {af}")["routes"].items()}
        label_of = {str(t.asn): pop.egress_labels(t.egress(family))[0] for t in pop.transits}
        rib = vtysh(f"show {'ip' if family == 4 else 'ipv6'} route bgp")
        got = {n: [(nh["interfaceName"], nh.get("labels")) for nh in r[0]["nexthops"]]
               for n, r in rib.items()}
        want = {n: [("switch1", [label_of[asn]])] for n, asn in best.items()}
        assert len(best) == full[0 if family == 4 else 1][1]
        assert differences(got, want) == {}, f"zebra IPv{family}"


def test_egress_down_removes_exactly_its_paths(topo, bins):
    """A session going down takes its paths, and only those, off the hosts;
    the LFIB keeps its labels while the neighbor is reachable."""
    pop = build(topo, bins, ["host1"])
    sw, host = pop.switch, pop.hosts[0]
    t1, t2, t3 = pop.transits
    full = counts(pop, pop.transits)
    assert wait_for(lambda: host_counts(host), full) == full

    # An operator shuts t1's IPv4 session: its IPv6 one carries on
    birdc(t1.node, "disable switch1_v4")
    want = (counts(pop, [t2, t3])[0], full[1])
    assert wait_for(lambda: host_counts(host), want) == want
    for family, transits in ((4, [t2, t3]), (6, [t1, t2, t3])):
        exp = expected(pop, host, family, transits)
        assert differences(host_view(host, family), exp) == {}, f"IPv{family}"
    assert wait_for(lambda: egress_table(pop), expected_egress_table(pop, down=["t1"])) \
        == expected_egress_table(pop, down=["t1"])

    # gobgpd crashes: no NOTIFICATION, just a closed TCP, both families go
    t2.node.daemon.kill()
    want = (counts(pop, [t3])[0], counts(pop, [t1, t3])[1])
    assert wait_for(lambda: host_counts(host), want) == want
    for family, transits in ((4, [t3]), (6, [t1, t3])):
        exp = expected(pop, host, family, transits)
        assert differences(host_view(host, family), exp) == {}, f"IPv{family}"
    down = ["t1", "t2", "t2_6"]
    assert wait_for(lambda: egress_table(pop), expected_egress_table(pop, down=down)) == \
        expected_egress_table(pop, down=down)
    # The LFIB follows the neighbors, which are still there
    assert lfib(pop) == expected_lfib(pop)
    assert established(sw, "host1", "t3", "t3_6", "t1_6")


def test_label_change_reaches_hosts_without_reset(topo, bins):
    """New labels in bird.conf and `birdc configure`: the relabeled egresses
    send their routes again (route refresh), hosts get the new labels, no
    session restarts. A new Precision Path label alone changes nothing in
    the table: the hosts are sent their paths again."""
    pop = build(topo, bins, ["host1", ("deb1", "debian")])
    sw = pop.switch
    full = counts(pop, pop.transits)
    for h in pop.hosts:
        assert wait_for(lambda h=h: host_counts(h), full) == full
    before = since(sw)
    old = {s: tuple(l) for s, l in pop.egresses.items()}

    # One egress of each kind of transit, both families among them
    changed = {e: [l + 10 for l in labels(e)] for e in ("t1", "t2", "t3_6")}
    # Only the Precision Path label: the table does not change, the hosts are fed again
    pp_only = {"t1_6": [old["t1_6"][0], old["t1_6"][1] + 20]}
    pop.egresses.update(changed)
    pop.egresses.update(pp_only)
    pop.reconfigure_switch()

    for h in pop.hosts:
        assert_host_has(pop, h)
        for family in (4, 6):
            used = {l for paths in host_view(h, family).values() for p in paths for l in p[1]}
            assert not used & {old[s][0] for s in changed}, f"{h.name}: old labels {used}"
    assert egress_table(pop) == expected_egress_table(pop)
    # The old labels forward while paths are retagged (label retire time), then go
    assert wait_for(lambda: lfib(pop), expected_lfib(pop), timeout=10) == expected_lfib(pop)

    # Reloaded by route refresh: nothing restarted, nothing warned
    after = since(sw)
    assert after.keys() == before.keys()
    assert {n for n in before if abs(after[n] - before[n]) > 0.05} == set(), (before, after)
    log = sw.daemon.log.read_text()
    for s in changed:
        assert f"ap: Egress {s} retagged, reloading {s}.ipv{6 if s.endswith('_6') else 4}" in log
    assert "ap: Egress t1_6 retagged" not in log
    for h in pop.hosts:
        assert f"ap: Label communities changed, sending {h.name}.ipv6-mpls its paths again" in log
    assert "cannot reload" not in log


def test_label_change_of_egress_named_by_neighbor(topo, bins):
    """An egress the map names by its neighbor's address (`egress neighbor
    ADDR`), not by its protocol: a new label in `birdc configure` is asked
    for by route refresh too. (It was not: the hosts kept the old label,
    whose LFIB entry was gone, until the transit happened to resend.)"""
    pop = Pop(topo, bins, [Transit(k) for k in KINDS], ("host1",), table=(N4, N6),
              unique=(U4, U6))
    pop.by_neighbor = {"t1", "t1_6"}
    pop.build()
    sw, host = pop.switch, pop.hosts[0]
    full = counts(pop, pop.transits)
    assert wait_for(lambda: host_counts(host), full) == full
    assert_host_has(pop, host)
    old = {s: tuple(l) for s, l in pop.egresses.items()}

    changed = {e: [l + 10 for l in labels(e)] for e in ("t1", "t1_6")}
    pop.egresses.update(changed)
    pop.reconfigure_switch()

    assert_host_has(pop, host)
    for family in (4, 6):
        used = {l for paths in host_view(host, family).values() for p in paths for l in p[1]}
        assert not used & {old[s][0] for s in changed}, f"IPv{family}: old labels {used}"
    assert wait_for(lambda: lfib(pop), expected_lfib(pop), timeout=10) == expected_lfib(pop)
    log = sw.daemon.log.read_text()
    t1 = pop.transits[0]
    for s, addr, fam in (("t1", t1.node.addr4(sw), 4), ("t1_6", t1.node.addr6(sw), 6)):
        assert f"ap: Egress {addr} retagged, reloading {s}.ipv{fam}" in log, log[-2000:]
    assert established(sw, "host1", "t1", "t1_6")


def test_first_pp_disable_filter_reloads_no_egress(topo, bins):
    """The operator's first `pp_disable` in an egress's import filter, by
    `birdc configure`: the community in force is the same, so no egress is
    retagged (only the egress whose filter changed is reloaded, by BIRD).
    It used to look like a new community: every egress was asked for its
    paths again, and one without route refresh would have been reset."""
    pop = build(topo, bins, ["host1"])
    sw, host = pop.switch, pop.hosts[0]
    full = counts(pop, pop.transits)
    assert wait_for(lambda: host_counts(host), full) == full
    before = since(sw)

    t1 = pop.transits[0]
    pop.import_filters["t1"] = f"\tif net ~ [ {t1.v4[0]} ] then pp_disable;"
    pop.reconfigure_switch()
    net = str(t1.v4[0])
    marked = lambda: [p[2] for p in host_view(host, 4, net).get(net, []) if p[0] == (t1.asn,)]
    want = [((SWITCH_AS, 2, labels("t1")[1]), (4200000000, 4, 0))]   # BIRD's default community
    assert wait_for(marked, want) == want

    log = sw.daemon.log.read_text()
    assert "retagged" not in log, [l for l in log.splitlines() if "retagged" in l]
    after = since(sw)
    assert {n for n in before if abs(after[n] - before[n]) > 0.05} == set(), (before, after)


def test_lfib_follows_neighbor_reachability(topo, bins):
    """Table mt holds both labels of every egress via its neighbor; a port
    going down takes its egresses' entries away, coming up brings them back."""
    pop = build(topo, bins, ["host1"])
    sw, host = pop.switch, pop.hosts[0]
    t1, t2, t3 = pop.transits
    full = counts(pop, pop.transits)
    assert wait_for(lambda: host_counts(host), full) == full
    assert lfib(pop) == expected_lfib(pop)
    assert len(expected_lfib(pop)) == 12

    sw.set_link(t3.node, up=False)
    assert wait_for(lambda: lfib(pop), expected_lfib(pop, [t1, t2])) == \
        expected_lfib(pop, [t1, t2])
    want = expected_egress_table(pop, unreachable=[t3])
    assert wait_for(lambda: egress_table(pop), want) == want
    # Hosts lose the paths that used those labels with the sessions
    assert wait_for(lambda: host_counts(host), counts(pop, [t1, t2])) == counts(pop, [t1, t2])

    sw.set_link(t3.node, up=True)
    assert wait_for(lambda: lfib(pop), expected_lfib(pop)) == expected_lfib(pop)
    pop.settle()
    assert wait_for(lambda: host_counts(host), full) == full
    assert_host_has(pop, host)


def test_transit_large_communities_replaced(topo, bins):
    """A transit cannot choose labels: our large communities (function 1..4)
    that it sends are dropped, the switch's own (65000, 2, pp) is added,
    anyone else's pass. The default disable community, sent twice (ExaBGP
    sends a list as given), goes too, and leaves nothing behind (patch 0015:
    removing a repeated value left bytes nobody sent at the list's end)."""
    pop = build(topo, bins, ["host1"])
    sw, host = pop.switch, pop.hosts[0]
    t1, t2, t3 = pop.transits
    full = counts(pop, pop.transits)
    assert wait_for(lambda: host_counts(host), full) == full

    taken4 = {n for t in pop.transits for n in t.v4}
    taken6 = {n for t in pop.transits for n in t.v6}
    new4 = routegen.extra_prefixes4(2, 999, taken4)
    new6 = routegen.extra_prefixes6(1, 999, taken6)
    pp_default = (4200000000, 4, 0)     # the switch's disable community: none is configured
    spoofed = [(SWITCH_AS, 1, 999), (SWITCH_AS, 2, 7777), (SWITCH_AS, 3, 1),
               (SWITCH_AS, 4, 0), pp_default, pp_default]
    foreign = [(SWITCH_AS, 5, 5), (64999, 2, 1), (SWITCH_AS + 1, 2, 2)]
    lcs = " ".join(f"{a}:{b}:{c}" for a, b, c in spoofed + foreign)
    t3.node.daemon.send(
        f"neighbor {sw.addr4(t3.node)} announce attributes next-hop self "
        f"large-community [{lcs}] nlri {new4[0]}",
        f"neighbor {sw.addr6(t3.node)} announce attributes next-hop self "
        f"large-community [{lcs}] nlri {new6[0]}")
    t2.node.daemon.cli("global", "rib", "add", "-a", "ipv4", str(new4[1]), "large-community",
                  ",".join(f"{a}:{b}:{c}" for a, b, c in spoofed + foreign))

    for prefix, transit, family in ((new4[0], t3, 4), (new6[0], t3, 6), (new4[1], t2, 4)):
        label, pp = pop.egress_labels(transit.egress(family))
        want = {str(prefix): [((transit.asn,), (label,),
                               tuple(sorted(foreign + [(SWITCH_AS, 2, pp)])),
                               switch_addr(pop, host, family))]}
        assert wait_for(lambda p=prefix, f=family: host_view(host, f, p), want) == want


def test_label_swap_keeps_every_lfib_entry(topo, bins):
    """Two egresses swap labels in one `birdc configure`: every label still
    has its LFIB entry, towards its new egress."""
    pop = build(topo, bins, ["host1"])
    host = pop.hosts[0]
    full = counts(pop, pop.transits)
    assert wait_for(lambda: host_counts(host), full) == full

    pop.egresses["t1"], pop.egresses["t2"] = \
        pop.egresses["t2"], pop.egresses["t1"]
    pop.reconfigure_switch()
    assert_host_has(pop, host)
    assert wait_for(lambda: lfib(pop), expected_lfib(pop), timeout=5) == expected_lfib(pop)


def test_egress_added_by_configure(topo, bins):
    """A session that is no egress sends its paths unlabeled; added to the
    map with `birdc configure`, it is asked for them again and they carry
    its labels, without a session reset."""
    pop = build(topo, bins, ["host1"])
    sw, host = pop.switch, pop.hosts[0]
    added = {s: pop.egresses.pop(s) for s in ("t3", "t3_6")}
    sw.daemon.stop()
    pop.start_switch()
    pop.settle()
    assert_host_has(pop, host)
    assert "t3" not in egress_table(pop)
    before = since(sw)

    pop.egresses.update(added)
    pop.reconfigure_switch()
    assert_host_has(pop, host)
    assert egress_table(pop) == expected_egress_table(pop)
    assert lfib(pop) == expected_lfib(pop)
    after = since(sw)
    assert {n for n in before if abs(after[n] - before[n]) > 0.05} == set(), (before, after)


def test_egress_removed_by_configure(topo, bins):
    """An egress taken out of the map with `birdc configure`: its paths
    reach the hosts again without label or community, its LFIB entries go."""
    pop = build(topo, bins, ["host1"])
    sw, host = pop.switch, pop.hosts[0]
    full = counts(pop, pop.transits)
    assert wait_for(lambda: host_counts(host), full) == full

    t2 = pop.transits[1]
    gone = dict(zip(labels("t2"), [(str(t2.node.addr4(sw)), t2.name)] * 2))
    del pop.egresses["t2"]
    pop.reconfigure_switch()
    # Make before break: the hosts use t2's labels until its paths come
    # again without them; its entries forward for label retire time (2 s here)
    assert lfib(pop) == {**expected_lfib(pop), **gone}
    text = sw.daemon.cmd("show autopilot ap")
    assert re.search(r"Labels given up by configure, still forwarding while paths are retagged: "
                     rf"{labels('t2')[0]} \(2 s\), {labels('t2')[1]} \(2 s\)", text), text
    assert egress_table(pop) == expected_egress_table(pop)
    assert_host_has(pop, host, timeout=10)
    assert wait_for(lambda: lfib(pop), expected_lfib(pop), timeout=10) == expected_lfib(pop)
    for label in labels("t2"):
        assert log_lines(sw, rf"ap: Label {label} given up: forwarded as it was for 2 s more")
        assert log_lines(sw, rf"ap: Label {label} retired")
    assert "Labels given up" not in sw.daemon.cmd("show autopilot ap")


def test_lfib_protected_by_backups(topo, bins):
    """Egress protection: when an egress is lost (session down, or its port
    down) its labels' entries go to the first live backup's neighbor, as a
    replace of each label's route; a backup lost too passes them on; the
    egress back takes them back."""
    pop = build(topo, bins, ["host1"])
    sw = pop.switch
    t1, t2, t3 = pop.transits
    pop.backups = {"t1": ["t2", "t3"], "t1_6": ["t3_6"]}
    assert "Reconfigured" in pop.reconfigure_switch()
    assert wait_for(lambda: lfib(pop), expected_lfib(pop)) == expected_lfib(pop)

    def via(t, family):
        return (str(t.node.addr4(sw) if family == 4 else t.node.addr6(sw)), t.name)

    def protected(by4, by6):
        want = expected_lfib(pop)
        for label in pop.egress_labels(t1.egress(4)):
            want[label] = via(by4, 4) if by4 else want[label]
        for label in pop.egress_labels(t1.egress(6)):
            want[label] = via(by6, 6) if by6 else want[label]
        return want

    def up(*sessions):
        return lambda: all(show_protocols(sw)[s]["info"].startswith("Established") for s in sessions)

    # The session of t1 goes: its labels go out t2
    birdc(sw, "disable t1")
    want = protected(t2, None)
    assert wait_for(lambda: lfib(pop), want, 5) == want
    table = egress_table(pop)
    assert (table["t1"][5], table["t1_6"][5]) == ("protected by t2", "up")
    assert log_lines(sw, "ap: Egress t1 lost: its labels {} and {} now go to backup t2".format(*labels("t1")))

    # Its backup goes too: on to the next one
    birdc(sw, "disable t2")
    want = protected(t3, None)
    assert wait_for(lambda: lfib(pop), want, 5) == want
    assert egress_table(pop)["t1"][5] == "protected by t3"

    # New labels for it by configure while it is lost: the new ones are protected, the old gone
    pop.egresses["t1"] = [l + 200 for l in labels("t1")]
    assert "Reconfigured" in pop.reconfigure_switch()
    # configure enables what birdc disabled: both go again (t1 may
    # be back for a moment on a slow machine; where the labels end is what counts)
    birdc(sw, "disable t1")
    birdc(sw, "disable t2")
    want = protected(t3, None)
    assert pop.egresses["t1"][0] in want and labels("t1")[0] not in want
    assert wait_for(lambda: lfib(pop), want, 5) == want

    # The egress back: its labels go to it again
    birdc(sw, "enable t1")
    wait_until(up("t1"), 20)
    # (t2, down but reachable and unprotected, keeps its entries as before)
    assert wait_for(lambda: lfib(pop), expected_lfib(pop), 5) == expected_lfib(pop)
    assert egress_table(pop)["t1"][5] == "up"
    assert log_lines(sw, "ap: Egress t1: its labels {} and {} go to it again".format(*pop.egresses["t1"]))

    # t1's port goes down (neighbor unreachable, both families): both move
    sw.set_link(t1.node, up=False)
    want = {l: v for l, v in protected(t3, t3).items()}
    assert wait_for(lambda: lfib(pop), want, 5) == want
    table = egress_table(pop)
    assert (table["t1"][5], table["t1_6"][5]) == \
        ("protected by t3", "protected by t3_6")
    sw.set_link(t1.node, up=True)
    # After a link flap BGP takes its time: a session closed on an error waits
    # BIRD's error wait time (60 s by default) before it connects again
    wait_until(up("t1", "t1_6"), 150)
    assert wait_for(lambda: egress_table(pop)["t1_6"][5], "up", 5) == "up"

    # Every backup lost too: its entries follow its neighbor, as without protection
    for s_ in ("t2", "t3", "t1"):
        birdc(sw, f"disable {s_}")
    want = expected_lfib(pop)
    assert wait_for(lambda: lfib(pop), want, 5) == want
    assert egress_table(pop)["t1"][5] == "unprotected (no live backup)"
    assert log_lines(sw, r"ap: Egress t1 lost, no live backup")


# --- Egress protection triggered by BFD --------------------------------------------

BFD_INTERVAL, BFD_MULTIPLIER, HOLD = 100, 3, 60     # ms, packets; hold time in s
BFD = f'protocol bfd {{ interface "*" {{ interval {BFD_INTERVAL} ms; multiplier {BFD_MULTIPLIER}; }}; }}'


def bird_transits(topo, bins, bfd=False):
    """A POP of two stock BIRD transits (no host): optionally BFD on every
    transit session, on both sides, and a hold time far above BFD's
    detection time, so only BFD can tell the switch early."""
    # BGP waits error wait time (60 s by default) after a BFD down: 1 s here
    opts = f"bfd on; hold time {HOLD}; error wait time 1, 2;" if bfd else ""
    extra = BFD if bfd else ""
    pop = Pop(topo, bins, [Transit(extra=extra, session_extra=opts) for _ in (1, 2)], hosts=(),
              table=(N4, N6), unique=(U4, U6), global_=extra)
    pop.backups = {"t1": ["t2"], "t1_6": ["t2_6"]}
    pop.session_extra = {s: opts for s in ("t1", "t1_6", "t2", "t2_6")}
    return pop.build()


def bfd_up(node):
    """{neighbor address: state} of `show bfd sessions`."""
    res = {}
    for line in birdc(node, "show bfd sessions").splitlines():
        f = line.split()
        try:
            res[str(ipaddress.ip_address(f[0]))] = f[2]
        except (ValueError, IndexError):
            pass            # the protocol's name, the header
    return res


def cut(transit, switch, cut=True):
    """Black-hole what the transit receives from the switch and what it
    sends to it, in the transit's namespace (rules before the local table,
    which moves from rule 0 to 100): the link stays up on both sides, the
    switch's neighbor stays reachable, TCP keeps its session until the hold
    timer; only BFD notices, when the transit's packets stop arriving or
    say it lost the switch's. (IPv4 packets sent on a socket bound to the
    port, as BFD's are, go out anyway: Linux takes a failed lookup for an
    on-link destination. They carry the transit's Down.)"""
    op = "add" if cut else "del"
    for fam, addr in (("-4", switch.addr4(transit)), ("-6", switch.addr6(transit))):
        if cut and "100:" not in transit.run("ip", fam, "rule", "show", "pref", "100"):
            transit.run("ip", fam, "rule", "add", "pref", "100", "lookup", "local")
            transit.run("ip", fam, "rule", "del", "pref", "0")
        transit.run("ip", fam, "rule", op, "pref", "10", "from", str(addr), "blackhole")
        transit.run("ip", fam, "rule", op, "pref", "11", "to", str(addr), "blackhole")


def test_lfib_protected_on_bfd_down(topo, bins):
    """BFD-triggered loss: t1 stops sending (its packets black-holed
    in its namespace; the link is up, the neighbor reachable, BGP would
    notice after the 60 s hold time); BFD's detection (3 x 100 ms) closes
    the sessions, and the labels' LFIB routes go to the backup within
    about that time. With every backup lost too its entries follow its
    neighbor again; the backup back takes them, the egress back takes
    them back."""
    pop = bird_transits(topo, bins, bfd=True)
    sw = pop.switch
    t1, t2 = pop.transits
    addrs = {str(t.node.addr4(sw)) for t in pop.transits} | {str(t.node.addr6(sw)) for t in pop.transits}
    want_up = {a: "Up" for a in addrs}
    assert wait_for(lambda: bfd_up(sw), want_up, 20) == want_up
    assert wait_for(lambda: lfib(pop), expected_lfib(pop)) == expected_lfib(pop)

    def protected(by):
        want = expected_lfib(pop)
        for family in (4, 6):
            via = (str(by.node.addr4(sw) if family == 4 else by.node.addr6(sw)), by.name)
            for label in pop.egress_labels(t1.egress(family)):
                want[label] = via
        return want

    def lfib_states():
        table = egress_table(pop)
        return table["t1"][5], table["t1_6"][5]

    # t1 goes silent: within BFD's detection time its labels go out t2
    want = protected(t2)
    cut(t1.node, sw)
    t0 = time.monotonic()
    got = wait_for(lambda: lfib(pop), want, timeout=10, interval=0.02)
    took = time.monotonic() - t0
    assert got == want
    print(f"BFD: t1's LFIB entries repointed {took * 1000:.0f} ms after its packets stopped "
          f"(detection {BFD_MULTIPLIER} x {BFD_INTERVAL} ms, hold time {HOLD} s)")
    assert took < 2.0, f"repointed after {took:.2f} s: BFD detects in 0.3 s, hold time is {HOLD} s"
    assert lfib_states() == ("protected by t2", "protected by t2_6")
    # Closed by BFD: the switch's own BFD session going down, or the
    # transit's (its BGP's Cease goes out on the port, as its BFD's Down
    # does, and may arrive first on a loaded machine); never the hold timer
    info = show_protocols(sw)
    for s_ in ("t1", "t1_6"):
        assert any(w in info[s_]["info"] for w in ("BFD session down", "Received: Cease")), info[s_]
        assert "Hold timer expired" not in info[s_]["info"], info[s_]
    assert "LOWER_UP" in sw.run("ip", "link", "show", t1.name)     # the port itself is up
    for s_ in ("t1", "t1_6"):
        label, pp = pop.egresses[s_]
        backup = egress_name(2, 6 if s_.endswith("_6") else 4)
        assert log_lines(sw, rf"ap: Egress {s_} lost: its labels {label} and {pp} now go to "
                             rf"backup {backup}")

    # Its backup goes silent too: no live backup, the entries follow t1's neighbor
    cut(t2.node, sw)
    want = expected_lfib(pop)
    assert wait_for(lambda: lfib_states(), ("unprotected (no live backup)",) * 2, 10) == \
        ("unprotected (no live backup)",) * 2
    assert wait_for(lambda: lfib(pop), want, 5) == want
    assert log_lines(sw, "ap: Egress t1 lost, no live backup: its labels {} and {} "
                         "stay with its neighbor".format(*labels("t1")))

    # The backup back (BFD up, sessions Established): it protects t1 again
    cut(t2.node, sw, cut=False)
    want = protected(t2)
    assert wait_for(lambda: lfib(pop), want, 30, 0.1) == want
    assert lfib_states() == ("protected by t2", "protected by t2_6")

    # t1 back: its labels go to it again
    cut(t1.node, sw, cut=False)
    wait_until(lambda: established(sw, "t1", "t1_6"), 30)
    assert wait_for(lambda: lfib(pop), expected_lfib(pop), 5) == expected_lfib(pop)
    assert lfib_states() == ("up", "up")
    assert wait_for(lambda: bfd_up(sw), want_up, 10) == want_up
    for e in ("t1", "t1_6"):
        label, pp = labels(e)
        assert log_lines(sw, f"ap: Egress {e}: its labels {label} and {pp} go to it again")


def test_backup_with_few_paths_warned(topo, bins):
    """A backup carrying far fewer paths than the egress it protects (a
    peer, not a transit) still takes its labels, with a warning in the log:
    what it has no path for is dropped there."""
    pop = bird_transits(topo, bins)
    sw = pop.switch
    t1, t2 = pop.transits
    # t2 keeps only 10 IPv4 prefixes (its IPv6 table stays full)
    (t2.node.dir / "routes4.conf").write_text(routegen.bird_static(t2.v4[:10]))
    assert "Reconfigured" in birdc(t2.node, "configure")
    assert wait_for(lambda: egress_table(pop)["t2"][3], 10) == 10
    had = egress_table(pop)["t1"][3]
    assert had == N4 + U4

    birdc(sw, "disable t1")
    birdc(sw, "disable t1_6")
    assert wait_for(lambda: egress_table(pop)["t1"][5], "protected by t2", 5) == \
        "protected by t2"
    assert log_lines(sw, rf"ap: Backup t2 has 10 paths, egress t1 had {had}: "
                         r"what it has no path for is dropped there")
    # A full backup: no warning
    assert wait_for(lambda: egress_table(pop)["t1_6"][5], "protected by t2_6", 5) == \
        "protected by t2_6"
    assert not log_lines(sw, r"Backup t2_6 has")
