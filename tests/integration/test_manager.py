"""Routing managers over BGP: gobgpd and ExaBGP announce routes whose next
hop is an egress's neighbor address; the switch imports each manager
session into its manager tables (mgr4, mgr6), and every route there is an
override request for its prefix towards that egress.

The transits have one session per address family (egresses t1, t2 over
IPv4, labels 1001, 1002; t1_6, t2_6 over IPv6, labels 1101, 1102): an
egress is found by its neighbor address, so an IPv6 route must name an
egress whose session runs over IPv6. The managers are iBGP peers of the
switch (multihop, so their next hop is kept as sent, not replaced by the
manager's own address).
"""

import time


from pop import (FIXED_V4 as V4, FIXED_V6 as V6, OVERRIDE_LC, Pop, Transit, bird_reply, host_best,
                 log_lines, pp_text, show_ap, show_overrides, via_text, wait_for, wait_until)

P, Q, R = V4
P6, Q6 = V6[:2]
NOT_AN_EGRESS4, NOT_AN_EGRESS6 = "10.99.0.1", "fd00:99::1"


def build(topo, bins, managers):
    return Pop(topo, bins, [Transit(), Transit()], hosts=("h1",), managers=managers,
               prepend=True).build()


def summary(switch):
    """{prefix: (target, state, source, reason)} of the switch's overrides."""
    return {p: (r["target"], r["state"], r["source"], r["reason"])
            for p, r in show_overrides(switch)[1].items()}


def wait_summary(switch, want, timeout=10):
    got = wait_for(lambda: summary(switch), want, timeout)
    assert got == want
    return got


def egress_addr(pop, egress):
    """The neighbor address of an egress, as the switch sees it."""
    t = pop.transit(egress[:2])
    return t.node.addr6(pop.switch) if egress.endswith("_6") else t.node.addr4(pop.switch)


def managers(switch):
    return show_ap(switch)["managers"]


def test_gobgp_manager(topo, bins):
    pop = build(topo, bins, [("gobgpmgr", "gobgp")])
    sw, h1, mgr = pop.switch, pop.hosts[0], pop.managers["gobgpmgr"]
    gobgp = mgr.daemon.cli
    pop.settle_overrides({P: ("t1", 0), Q: ("t1", 0), R: ("t1", 0)}, prefixes=())
    assert managers(sw) == {"mgr4": {"state": "UP", "routes": 0, "refused": 0},
                            "mgr6": {"state": "UP", "routes": 0, "refused": 0}}

    # The manager moves P to t2 by naming t2's address as next hop
    gobgp("global", "rib", "add", "-a", "ipv4", P, "nexthop", egress_addr(pop, "t2"))
    wait_summary(sw, {P: ("t2", "active", "bgp", "from gobgpmgr")})
    pop.settle_overrides({P: ("t2", 1), Q: ("t1", 0)}, prefixes=())
    assert show_overrides(sw, P)[1][P]["via"] == via_text("t2")
    assert managers(sw)["mgr4"] == {"state": "UP", "routes": 1, "refused": 0}

    # A next hop that is no egress: refused, counted, logged, nothing moves
    gobgp("global", "rib", "add", "-a", "ipv4", Q, "nexthop", NOT_AN_EGRESS4)
    wait_until(lambda: managers(sw)["mgr4"]["refused"] == 1, 10)
    assert managers(sw)["mgr4"] == {"state": "UP", "routes": 2, "refused": 1}
    assert summary(sw) == {P: ("t2", "active", "bgp", "from gobgpmgr")}
    assert log_lines(sw, rf"ap: Manager route {Q} via {NOT_AN_EGRESS4} from gobgpmgr: "
                         rf"{NOT_AN_EGRESS4} is no egress, ignored")
    pop.settle_overrides({Q: ("t1", 0)}, prefixes=())

    # A new next hop is a new target: P to t1, marked as an override
    gobgp("global", "rib", "add", "-a", "ipv4", P, "nexthop", egress_addr(pop, "t1"))
    wait_summary(sw, {P: ("t1", "active", "bgp", "from gobgpmgr")})
    pop.settle_overrides({P: ("t1", 1)}, prefixes=())

    # Withdrawn by the manager: gone
    gobgp("global", "rib", "del", "-a", "ipv4", P)
    wait_summary(sw, {})
    pop.settle_overrides({P: ("t1", 0)}, prefixes=())
    assert managers(sw)["mgr4"]["routes"] == 1        # Q, refused, is still there

    # A manager withdrawal removes only what a manager made: an operator's
    # override of the same prefix, made after the manager's, stays
    gobgp("global", "rib", "add", "-a", "ipv4", R, "nexthop", egress_addr(pop, "t2"))
    wait_summary(sw, {R: ("t2", "active", "bgp", "from gobgpmgr")})
    code, out = bird_reply(sw.daemon, f'autopilot add ap {R} t1 reason "operator"')
    assert code < 8000, out
    wait_summary(sw, {R: ("t1", "active", "cli", "operator")})
    gobgp("global", "rib", "del", "-a", "ipv4", R)
    wait_until(lambda: managers(sw)["mgr4"]["routes"] == 1, 10)
    time.sleep(0.5)
    assert summary(sw) == {R: ("t1", "active", "cli", "operator")}

    # The manager's session goes (no graceful restart): its overrides go
    gobgp("global", "rib", "add", "-a", "ipv4", P, "nexthop", egress_addr(pop, "t2"))
    wait_summary(sw, {P: ("t2", "active", "bgp", "from gobgpmgr"),
                      R: ("t1", "active", "cli", "operator")})
    mgr.daemon.kill()
    wait_summary(sw, {R: ("t1", "active", "cli", "operator")})
    pop.settle_overrides({P: ("t1", 0), R: ("t1", 1)}, prefixes=())


def test_exabgp_manager_ipv4_ipv6(topo, bins):
    pop = build(topo, bins, [("exabgpmgr", "exabgp")])
    sw, h1, mgr = pop.switch, pop.hosts[0], pop.managers["exabgpmgr"]
    pop.settle_overrides({P: ("t1", 0), P6: ("t1_6", 0), Q6: ("t1_6", 0)}, prefixes=())

    mgr.daemon.send(f"announce route {P} next-hop {egress_addr(pop, 't2')}",
                    f"announce route {P6} next-hop {egress_addr(pop, 't2_6')}")
    wait_summary(sw, {P: ("t2", "active", "bgp", "from exabgpmgr"),
                      P6: ("t2_6", "active", "bgp", "from exabgpmgr")})
    pop.settle_overrides({P: ("t2", 1), P6: ("t2_6", 1), Q6: ("t1_6", 0)}, prefixes=())
    assert host_best(h1, P6)["lcs"] == f"{pp_text('t2_6')} {OVERRIDE_LC}"
    assert show_overrides(sw, P6)[1][P6]["via"] == via_text("t2_6")

    # An IPv6 next hop that is no egress
    mgr.daemon.send(f"announce route {Q6} next-hop {NOT_AN_EGRESS6}")
    wait_until(lambda: managers(sw)["mgr6"]["routes"] == 2, 10)
    time.sleep(0.3)
    assert summary(sw).keys() == {P, P6}
    assert log_lines(sw, rf"ap: Manager route {Q6} via {NOT_AN_EGRESS6} from exabgpmgr: "
                         rf"{NOT_AN_EGRESS6} is no egress, ignored")
    ap = managers(sw)
    assert (ap["mgr4"]["routes"], ap["mgr6"]["routes"], ap["mgr6"]["refused"]) == (1, 2, 1)
    # (the mgr4 line shows the same count: there is one counter per protocol)
    pop.settle_overrides({Q6: ("t1_6", 0)}, prefixes=())

    # Withdrawn, family by family
    mgr.daemon.send(f"withdraw route {P6} next-hop {egress_addr(pop, 't2_6')}")
    wait_summary(sw, {P: ("t2", "active", "bgp", "from exabgpmgr")})
    pop.settle_overrides({P6: ("t1_6", 0), P: ("t2", 1)}, prefixes=())

    mgr.daemon.send(f"withdraw route {P} next-hop {egress_addr(pop, 't2')}")
    wait_summary(sw, {})
    pop.settle_overrides({P: ("t1", 0), P6: ("t1_6", 0)}, prefixes=())


def test_two_managers(topo, bins):
    """gobgpd and ExaBGP at once, each on its own session into the manager
    tables: each one's requests, and only its own withdrawals."""
    pop = build(topo, bins, [("gobgpmgr", "gobgp"), ("exabgpmgr", "exabgp")])
    sw, h1 = pop.switch, pop.hosts[0]
    gobgp, exa = pop.managers["gobgpmgr"].daemon, pop.managers["exabgpmgr"].daemon

    gobgp.cli("global", "rib", "add", "-a", "ipv4", P, "nexthop", egress_addr(pop, "t2"))
    gobgp.cli("global", "rib", "add", "-a", "ipv6", P6, "nexthop", egress_addr(pop, "t2_6"))
    exa.send(f"announce route {Q} next-hop {egress_addr(pop, 't2')}")
    wait_summary(sw, {P: ("t2", "active", "bgp", "from gobgpmgr"),
                      P6: ("t2_6", "active", "bgp", "from gobgpmgr"),
                      Q: ("t2", "active", "bgp", "from exabgpmgr")})
    pop.settle_overrides({P: ("t2", 1), Q: ("t2", 1), R: ("t1", 0), P6: ("t2_6", 1)}, prefixes=())
    assert (managers(sw)["mgr4"]["routes"], managers(sw)["mgr6"]["routes"]) == (2, 1)

    exa.send(f"withdraw route {Q} next-hop {egress_addr(pop, 't2')}")
    wait_summary(sw, {P: ("t2", "active", "bgp", "from gobgpmgr"),
                      P6: ("t2_6", "active", "bgp", "from gobgpmgr")})
    pop.settle_overrides({P: ("t2", 1), Q: ("t1", 0), P6: ("t2_6", 1)}, prefixes=())


def test_switch_restart_with_manager(topo, bins):
    """Manager overrides are in the state file like any other. After a
    restart the manager's session says again what it wants: what it no
    longer announces must not stay."""
    pop = build(topo, bins, [("gobgpmgr", "gobgp")])
    sw, h1, mgr = pop.switch, pop.hosts[0], pop.managers["gobgpmgr"]

    mgr.daemon.cli("global", "rib", "add", "-a", "ipv4", P, "nexthop", egress_addr(pop, "t2"))
    mgr.daemon.cli("global", "rib", "add", "-a", "ipv4", Q, "nexthop", egress_addr(pop, "t2"))
    wait_summary(sw, {P: ("t2", "active", "bgp", "from gobgpmgr"),
                      Q: ("t2", "active", "bgp", "from gobgpmgr")})

    sw.daemon.stop()
    mgr.daemon.cli("global", "rib", "del", "-a", "ipv4", Q)   # while the switch is away
    pop.start_switch()
    pop.settle(paths=False)
    wait_until(lambda: managers(sw)["mgr4"]["routes"] == 1, 10)
    pop.settle_overrides({P: ("t2", 1)}, prefixes=(), timeout=20)
    time.sleep(1)
    assert summary(sw) == {P: ("t2", "active", "bgp", "from gobgpmgr")}
    pop.settle_overrides({P: ("t2", 1), Q: ("t1", 0)}, prefixes=())
