"""Transit -> switch -> host: every path reaches the host, and leaves it.

Checked as an operator would, with birdc on the switch and on the host,
against exact numbers: the transit announces routegen's N4 + N6 prefixes.
"""

import pytest

from pop import (Pop, Transit, birdc, established, label, route_count, show_autopilot,
                 show_protocols, wait_for)

N4, N6 = 10000, 5000


def build(topo, bins, transit, hosts=("host1",)):
    """One transit t1 of the given kind, switch1, the hosts; settled."""
    return Pop(topo, bins, [Transit(transit)], hosts, table=(N4, N6)).build()


def host_counts(host):
    """((routes, networks) in master4, (routes, networks) in master6)."""
    return route_count(host, "master4"), route_count(host, "master6")


def autopilot_counts(switch):
    ap = show_autopilot(switch)
    return {ch: (ap[ch]["prefixes"], ap[ch]["paths"]) for ch in ("ipv4", "ipv6")}


FULL = ((N4, N4), (N6, N6))
EMPTY = ((0, 0), (0, 0))


@pytest.mark.parametrize("transit", ["bird", "gobgp", "exabgp"])
def test_transit_paths_reach_host(topo, bins, transit):
    pop = build(topo, bins, transit)
    sw, host = pop.switch, pop.hosts[0]

    assert wait_for(lambda: host_counts(host), FULL) == FULL

    # A prefix from the middle of each table: learned from the switch,
    # forwarded to the switch (next hop self) with the egress's label,
    # AS path of the transit.
    tr = pop.transits[0]
    for prefix, via, family in ((pop.v4[N4 // 2], sw.addr4(host), 4),
                                (pop.v6[N6 // 2], sw.addr6(host), 6)):
        out = birdc(host, f"show route {prefix}")
        assert f"{prefix} " in out and "unicast [switch1 " in out, out
        assert f"via {via} on switch1 mpls {label(tr.egress(family))}\n" in out + "\n", out
        assert f"[AS{tr.asn}i]" in out, out

    ap = show_protocols(sw)["ap"]
    assert (ap["proto"], ap["state"]) == ("Autopilot", "up")
    assert show_autopilot(sw)["state"] == "up"
    assert autopilot_counts(sw) == {"ipv4": (N4, N4), "ipv6": (N6, N6)}


@pytest.mark.parametrize("transit", ["bird", "gobgp"])
def test_egress_down_withdraws_its_paths(topo, bins, transit):
    pop = build(topo, bins, transit)
    sw, host, tr = pop.switch, pop.hosts[0], pop.transits[0]
    assert wait_for(lambda: host_counts(host), FULL) == FULL

    if transit == "bird":
        birdc(tr.node, "disable switch1_v4")      # an operator shutting the sessions
        birdc(tr.node, "disable switch1_v6")
    else:
        tr.node.daemon.kill()                     # a crash: no NOTIFICATION, just a closed TCP

    assert wait_for(lambda: host_counts(host), EMPTY) == EMPTY
    assert wait_for(lambda: autopilot_counts(sw), {"ipv4": (0, 0), "ipv6": (0, 0)}) == \
        {"ipv4": (0, 0), "ipv6": (0, 0)}
    protos = show_protocols(sw)
    for s, _ in tr.egresses:
        assert not protos[s]["info"].startswith("Established"), protos[s]
    assert protos["ap"]["state"] == "up"     # the module outlives its egresses
    assert established(sw, "host1")


def test_paths_reach_frr_host(topo, bins):
    """FRR, as a host no one here wrote, takes the switch's reflected paths."""
    pop = build(topo, bins, "bird", hosts=[("frr1", "frr")])
    sw, frr = pop.switch, pop.hosts[0]
    peer = str(sw.addr4(frr))

    def received():
        s = frr.daemon.vtysh_json("show bgp summary")
        return (s["ipv4LabeledUnicast"]["peers"][peer]["pfxRcd"],
                s["ipv6LabeledUnicast"]["peers"][peer]["pfxRcd"])

    assert wait_for(received, (N4, N6)) == (N4, N6)
    # zebra takes the best path via the switch's link-local address (FRR
    # prefers it when BIRD sends both), with the egress's label. The kernel
    # here has no MPLS, so zebra cannot install it there: its RIB is where
    # the route shows.
    prefix = str(pop.v6[N6 // 2])
    want = [{"ip": str(sw.link_local(frr)), "interfaceName": "switch1",
             "labels": [label(pop.transits[0].egress(6))]}]

    def zebra_route():
        r = frr.daemon.vtysh_json(f"show ipv6 route {prefix}")[prefix][0]
        return [{k: nh.get(k) for k in want[0]} for nh in r["nexthops"]]

    assert wait_for(zebra_route, want, timeout=10) == want
