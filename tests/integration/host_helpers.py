"""A POP for the host-role tests (Precision Path alternates, egress tables),
and what a host's operator reads from it.

  HostPop       transits t1, t2 (stock BIRD) and t3 (gobgpd), each with one
                session per family; switch1 (patched: egress map, LFIB,
                `pp disable community`, import filters that set LOCAL_PREF
                and add the disable community); hosts (patched, autopilot
                `hap` with K alternates per family, an egress table per
                egress, kernel protocols to numbered kernel tables)
  alternates    a host's alternate k of a prefix: (egress, next hop labels)
  show_hap      `show autopilot hap`, the host-role lines parsed
  kernel_routes `ip route show table N` in a node's namespace

The order of a prefix's paths is set on the switch, by LOCAL_PREF in each
egress's import filter (LP below): BGP's own rules, which the ranking
follows, so the expected alternates are a plain sort of LP.
"""

import re
import subprocess

import pop
from pop import Bird, GoBGP, established, log, render, wait_until

SWITCH_AS = 65000
PP_COMMUNITY = f"({SWITCH_AS}, 4, 0)"     # the disable community the switch adds
TRANSIT_KINDS = {"t1": "bird", "t2": "bird", "t3": "gobgp"}

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
FORGED = [(SWITCH_AS, 4, 0), (SWITCH_AS, 2, 9999)]
FORGED_BY = {"t1": [E4, E6]}
# C gets the disable community from t3's import filter alone, on its worst
# path: "any path of the prefix carries it" is what disables it.
DISABLED = {"t3": [C4, C6]}

# LOCAL_PREF per egress, and per-prefix exceptions: B prefers t3 over t2.
LP = {"t1": 300, "t2": 200, "t3": 100}
LP_EXCEPT = {("t3", B4): 250, ("t3", B6): 250}


def family(prefix):
    return 6 if ":" in prefix else 4


def egress_name(transit, fam):
    """The switch's BGP protocol (= egress) towards transit for family 4/6."""
    return transit if fam == 4 else f"{transit}_6"


def label(transit, fam):
    """Primary label: 1000 + i for IPv4, 1100 + i for IPv6 (transit ti)."""
    return (1000 if fam == 4 else 1100) + int(transit[1:])


def pp_label(transit, fam):
    return label(transit, fam) + 1000


def lp(transit, prefix):
    return LP_EXCEPT.get((transit, prefix), LP[transit])


def ranked(prefix, transits=("t1", "t2", "t3")):
    """Transits with a path of prefix, best first (by LP)."""
    have = [t for t in transits if prefix in ANNOUNCED[t]]
    return sorted(have, key=lambda t: -lp(t, prefix))


def disabled(prefix, transits=("t1", "t2", "t3")):
    return any(prefix in DISABLED.get(t, []) and prefix in ANNOUNCED[t] for t in transits)


def expected_alternates(prefix, k, transits=("t1", "t2", "t3")):
    """[transit of alternate 1, ...] for prefix with the given transits up."""
    if disabled(prefix, transits):
        return []
    return ranked(prefix, transits)[1:1 + k]


class HostPop:
    """transits t1..t3, switch1, hosts; k: alternates per family on the hosts."""

    def __init__(self, topo, bins, hosts=("h1",), k=2):
        self.topo, self.bins, self.k = topo, bins, k
        self.host_names = list(hosts)
        self.transits, self.switch, self.hosts = {}, None, []

    def build(self):
        self.switch = self.topo.add_node("switch1")
        for t in TRANSIT_KINDS:
            self.transits[t] = self.topo.add_node(t)
            self.topo.link(self.transits[t], self.switch)
        for name in self.host_names:
            h = self.topo.add_node(name)
            self.topo.link(self.switch, h)
            self.hosts.append(h)
        for t in self.transits:
            self.start_transit(t)
        Bird(self.switch, self.bins.patched, self.switch_config())
        for h in self.hosts:
            Bird(h, self.bins.patched, self.host_config(h))
        self.wait_established()
        return self

    # --- configurations -------------------------------------------------------

    def start_transit(self, t):
        node, sw = self.transits[t], self.switch
        asn = 64500 + int(t[1:])
        v4 = [p for p in ANNOUNCED[t] if family(p) == 4]
        v6 = [p for p in ANNOUNCED[t] if family(p) == 6]
        if TRANSIT_KINDS[t] == "gobgp":
            node.dir.joinpath("gobgp.sock").unlink(missing_ok=True)   # a restart's leftover
            d = GoBGP(node, render("hostrole-transit-gobgpd.toml", router_id=node.router_id,
                                   asn=asn, switch_as=SWITCH_AS, switch4=sw.addr4(node),
                                   switch6=sw.addr6(node)))
            for p in v4:
                d.cli("global", "rib", "add", "-a", "ipv4", p)
            for p in v6:
                d.cli("global", "rib", "add", "-a", "ipv6", p)
            return
        Bird(node, self.bins.stock, render(
            "hostrole-transit-bird.conf", router_id=node.router_id, rundir=node.dir, asn=asn,
            switch_as=SWITCH_AS, switch4=sw.addr4(node), switch6=sw.addr6(node),
            routes4="\n".join(self.static_route(t, p) for p in v4),
            routes6="\n".join(self.static_route(t, p) for p in v6)))

    @staticmethod
    def static_route(t, p):
        if p in FORGED_BY.get(t, []):
            adds = " ".join(f"bgp_large_community.add(({a}, {b}, {c}));" for a, b, c in FORGED)
            return f"\troute {p} blackhole {{ {adds} }};"
        return f"\troute {p} blackhole;"

    def switch_config(self):
        sw = self.switch
        filters, egresses, emap = [], [], []
        for t, node in self.transits.items():
            asn = 64500 + int(t[1:])
            # Why a filter per egress: LOCAL_PREF is what orders the paths,
            # and pp_disable; is set where the operator knows the prefix.
            body = [f"\tbgp_local_pref = {LP[t]};"]
            body += [f"\tif net = {p} then bgp_local_pref = {v};"
                     for (tt, p), v in LP_EXCEPT.items() if tt == t]
            # One prefix set per family: BIRD refuses mixed sets, and a set
            # never matches a net of the other family.
            for fam in (4, 6):
                ps = [p for p in DISABLED.get(t, []) if family(p) == fam]
                if ps:
                    body.append(f"\tif net ~ [ {', '.join(ps)} ] then pp_disable;")
            filters.append(f"filter from_{t} {{\n" + "\n".join(body) + "\n\taccept;\n}")
            for fam in (4, 6):
                name = egress_name(t, fam)
                addr = node.addr4(sw) if fam == 4 else node.addr6(sw)
                egresses.append(
                    f"protocol bgp {name} {{ local as {SWITCH_AS}; neighbor {addr} as {asn}; "
                    f"connect delay time 1; ipv{fam} {{ import filter from_{t}; export none; }}; }}")
                emap.append(f"\tegress {name} {{ label {label(t, fam)}; "
                            f"pp label {pp_label(t, fam)}; }};")
        hosts = [f"protocol bgp {h.name} from host {{ neighbor {h.addr4(sw)} as {SWITCH_AS}; }}"
                 for h in self.hosts]
        return render("hostrole-switch.conf", router_id=sw.router_id, rundir=sw.dir,
                      asn=SWITCH_AS, pp_community=PP_COMMUNITY, filters="\n\n".join(filters),
                      egresses="\n".join(egresses), egress_map="\n".join(emap),
                      hosts="\n".join(hosts))

    def host_config(self, h):
        tables, role, kernels = [], [], []
        for fam in (4, 6):
            for k in range(1, self.k + 1):
                t = alt_table(k, fam)
                tables.append(f"ipv{fam} table {t};")
                role.append(f"\talternate {k} table {t};")
                kernels.append(f"protocol kernel k{t} {{ kernel table {100 + k}; "
                               f"ipv{fam} {{ table {t}; export all; }}; }}")
            for t in self.transits:
                tab = egress_table(t, fam)
                tables.append(f"ipv{fam} table {tab};")
                role.append(f"\tegress label {label(t, fam)} table {tab};")
                kernels.append(f"protocol kernel k{tab} {{ kernel table {200 + int(t[1:])}; "
                               f"ipv{fam} {{ table {tab}; export all; }}; }}")
        return render("hostrole-host.conf", router_id=h.router_id, rundir=h.dir, asn=SWITCH_AS,
                      pp_community=PP_COMMUNITY, switch4=self.switch.addr4(h),
                      tables="\n".join(tables), host_role="\n".join(role),
                      kernels="\n".join(kernels))

    # --- state -------------------------------------------------------------------

    def wait_established(self, timeout=30):
        names = [egress_name(t, f) for t in self.transits for f in (4, 6)] + \
                [h.name for h in self.hosts]
        wait_until(lambda: established(self.switch, *names), timeout,
                   what=f"switch1 sessions {names} Established")
        wait_until(lambda: all(established(h, "switch1") for h in self.hosts), timeout,
                   what="hosts' sessions Established")

    def expected(self, transits=("t1", "t2", "t3")):
        """{(prefix, k): (transit, pp label)} for every alternate every host
        should have, with only the given transits up; no key, no alternate."""
        return {(p, k): (t, pp_label(t, family(p)))
                for p in V4 + V6
                for k, t in enumerate(expected_alternates(p, self.k, transits), 1)}

    def host_alternates(self, h):
        """{(prefix, k): (transit, next hop label)} from h's alternate tables."""
        return {(p, k): (self.transit_of(r["as_path"]), r["label"])
                for fam in (4, 6) for k in range(1, self.k + 1)
                for p, r in alternate_routes(h, alt_table(k, fam)).items()}

    @staticmethod
    def transit_of(as_path):
        """t<i> from an AS path [6450i]."""
        return f"t{as_path[0] - 64500}" if as_path else None


def alt_table(k, fam):
    return f"alt{k}v{fam}"


def egress_table(transit, fam):
    return f"eg{label(transit, fam)}v{fam}"


# --- what a host's operator reads ---------------------------------------------

def table_routes(node, table):
    """Every route of a BIRD table: {prefix: [{proto, best, sync_error, via,
    labels, as_path, lcs, attrs}]}, in BIRD's order (pop.parse_routes, with
    "best" true for a best route its kernel protocol failed to install too,
    and the large communities as "lcs"). The labels are those of the next
    hop (`via X on IF mpls L1/L2`), what the kernel gets as `encap mpls`."""
    routes = pop.parse_routes(node.daemon.cmd(f"show route table {table} all"))
    for paths in routes.values():
        for r in paths:
            r["best"] = r["best"] or r["sync_error"]
            r["lcs"] = r.pop("lc")
    return routes


def alternate_routes(node, table):
    """{prefix: {label, as_path, route}} of an alternate (or egress) table,
    which holds one route per prefix (an error otherwise)."""
    res = {}
    for p, rs in table_routes(node, table).items():
        assert len(rs) == 1, f"{table} on {node.name}: {len(rs)} routes for {p}: {rs}"
        r = rs[0]
        assert len(r["labels"]) == 1, f"{table} on {node.name}: {p} next hop labels {r['labels']}"
        res[p] = {"label": r["labels"][0], "as_path": r["as_path"], "route": r}
    return res


HAP_RE = {
    "disabled": re.compile(r"Precision Path: disable community \(([\d, ]+)\); (\d+) prefixes disabled"),
    "alt": re.compile(r"Alternate (\d+) (ipv4|ipv6): table (\S+)\s+(\d+) prefixes"),
    "etab": re.compile(r"Egress label (\d+)\s*: table (\S+)\s+(\d+) prefixes"),
}


def show_hap(node, name="hap"):
    """`show autopilot hap` on a host: {state, community, disabled,
    alternates: {(k, fam): (table, prefixes)}, egress_tables: {label: (table, prefixes)}}."""
    out = node.daemon.cmd(f"show autopilot {name}")
    m = re.search(rf"^{name}: (\S+)$", out, re.M)
    assert m, out
    res = {"state": m.group(1), "alternates": {}, "egress_tables": {}, "text": out}
    m = HAP_RE["disabled"].search(out)
    assert m, f"no Precision Path line in:\n{out}"
    res["community"] = tuple(int(x) for x in m.group(1).split(", "))
    res["disabled"] = int(m.group(2))
    for m in HAP_RE["alt"].finditer(out):
        res["alternates"][(int(m.group(1)), 4 if m.group(2) == "ipv4" else 6)] = \
            (m.group(3), int(m.group(4)))
    for m in HAP_RE["etab"].finditer(out):
        res["egress_tables"][int(m.group(1))] = (m.group(2), int(m.group(3)))
    return res


def kernel_routes(node, table, fam=4):
    """`ip -<fam> route show table N` in node's namespace, one line per route."""
    out = node.run("ip", f"-{fam}", "route", "show", "table", str(table), check=False)
    return [l.strip() for l in out.splitlines() if l.strip()]


def kernel_has_mpls_encap(node, dev, gw):
    """Can this kernel install `encap mpls` routes (mpls_iptunnel)? Tried
    on a throwaway table, so nothing BIRD owns is touched."""
    r = subprocess.run(["ip", "netns", "exec", node.ns, "ip", "route", "add", "192.0.2.128/32",
                        "encap", "mpls", "16", "via", str(gw), "dev", dev, "table", "99"],
                       capture_output=True, text=True, timeout=10)
    node.run("ip", "route", "flush", "table", "99", check=False)
    log(f"kernel mpls encap in {node.name}: "
        f"{'yes' if r.returncode == 0 else 'no (' + r.stderr.strip() + ')'}")
    return r.returncode == 0
