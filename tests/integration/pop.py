"""The integration harness: one POP builder, one naming rule and label
scheme, one wait, and what an operator reads. Tests import everything
from here.

A POP is transits -> one switch -> hosts, as in BRIEF.md. A test:

    pop = Pop(topo, bins, [Transit(), Transit("gobgp")], hosts=("h1",), prepend=True).build()
    bird_reply(pop.switch.daemon, f"autopilot add ap {P} t2")
    pop.settle_overrides({P: "t2"})         # h1's best path of P: label("t2"), a copy

  Transit(kind="bird"|"gobgp"|"exabgp", families=("ipv4", "ipv6"),
          split=True, v4=None, v6=None, route_attrs={}, extra="", session_extra="")
              the i-th transit of a Pop is t<i>; split: one session per family
              (egresses t<i>, t<i>_6), else one for both (egress t<i>); v4, v6:
              its prefixes (default the Pop's); t.node, t.egress(fam),
              t.egresses, t.sessions (its own protocols: switch1_v4/_v6 or switch1)
  Pop(topo, bins, transits, hosts=("h1",), table=None, unique=(0, 0),
      prepend=False, managers=(), ap_options="", global_="",
      import_filters={}, alternates=0)
              switch1 (patched BIRD: one eBGP session per egress, autopilot
              `ap` with the egress map, LFIB in table mt, a state file);
              hosts: names or (name, kind), kind bird (patched), stock,
              debian or frr, over labeled unicast with ADD-PATH; table:
              (n4, n6) generated prefixes every transit announces (unique:
              more of each transit's own), else FIXED_V4/V6 (+ ONLY_T1_V4/V6
              for t1); prepend: t<i> prepends its AS i-1 times, so BGP's best
              path is t1's; managers: [(name, gobgp|exabgp)]; import_filters:
              {egress: filter body}; alternates: K for the host role (`hap`)
  pop.egresses, pop.backups, pop.session_extra
              the egress map {egress: [label, pp]} (from labels()), backups
              {egress: [egresses]} and session options: change them, then
              pop.reconfigure_switch() or pop.start_switch() (after a stop)
  pop.settle(timeout=30, paths=True)
              the one wait: every session Established and the switch and
              every BIRD host holding every transit's path (paths=False
              after a restart that restores override copies)
  pop.settle_overrides(moves, prefixes=FIXED_V4)
              wait until each host's best path of each prefix has the label
              of the egress moves names (one override copy), the others that
              of BGP's choice (no copy); asserts it

Naming rule and label scheme, the only place labels come from (a test never
writes a label as a number):

  transit i   node t<i>, AS 64500 + i
  egress      the switch's BGP protocol towards a transit: t<i> for its
              IPv4 session (or its one session carrying both families),
              t<i>_6 for its IPv6 session       egress_name(i or "t<i>", family)
  labels      t<i>: 1000 + i, t<i>_6: 1100 + i; the Precision Path label
              is the label + 1000               labels(egress) -> (label, pp),
              label(), pp_label(), via_text() ("t2 (1002)"), pp_text()
              ("(65000, 2, 2002)"); pop.egress_labels(egress) once a test
              changed pop.egresses

What an operator reads, parsed just enough to assert on: birdc, birdc_rc,
bird_reply, converse (the controller socket), route_count, node_paths, show_protocols, show_autopilot,
show_routes, parse_routes, established, host_routes, host_best, best_label,
overrides_on_host, show_overrides, show_ap, show_hap, table_routes,
alternate_routes, kernel_routes, log_lines; the state file: durable, state_lines,
wait_state.

Under it (netns.py, re-exported here): Topology, Node, Bird, GoBGP,
ExaBGP, FRR, wait_until, wait_for, time_until, rss_kib, sh, log.
"""

import ipaddress
import pathlib
import re
import shutil
import socket
import string
import subprocess
import time

import routegen
from netns import (HERE, Bird, Daemon, ExaBGP, FRR, GoBGP, Node, Topology,  # noqa: F401 (API)
                   cleanup_stale, log, rss_kib, sh, teardown_kept, time_until, wait_for,
                   wait_until)

TEMPLATES = HERE / "templates"
DEBIAN_BIRD = pathlib.Path("/usr/sbin")     # Debian's own bird2 (2.0.12 on Debian 12)
PROGRAMS = {"gobgp": ["gobgpd", "gobgp"], "exabgp": ["exabgp"],
            "frr": ["/usr/lib/frr/zebra", "/usr/lib/frr/bgpd", "vtysh"],
            "debian": [str(DEBIAN_BIRD / "bird"), str(DEBIAN_BIRD / "birdc")]}


def need(*kinds):
    """Skip the test unless the programs of these daemon kinds are installed."""
    missing = [p for k in kinds for p in PROGRAMS.get(k, []) if not shutil.which(p)]
    if missing:
        import pytest  # pylint: disable=import-outside-toplevel (the demo runs without it)
        pytest.skip(f"not installed: {' '.join(missing)}")


def render(template, **values):
    """Fill templates/<template> ($name placeholders, so BIRD's braces stay)."""
    return string.Template((TEMPLATES / template).read_text()).substitute(values)


# --- Naming rule, label scheme, wire contract ------------------------------------

SWITCH_AS = 65000
TRANSIT_AS = 64500                          # transit t<i> has AS 64500 + i
OVERRIDE_LC = f"({SWITCH_AS}, 3, 1)"        # the override marker, as BIRD prints it
PP_DISABLE = (SWITCH_AS, 4, 0)              # the Precision Path disable community

# Announced by every transit when the POP has no generated table. TEST-NET
# and documentation space: the namespaces route nothing else, and routegen
# never generates these.
FIXED_V4 = ["198.51.100.0/24", "203.0.113.0/24", "192.0.2.0/24"]
FIXED_V6 = ["2001:db8:1::/48", "2001:db8:2::/48", "2001:db8:3::/48"]
# Announced by t1 only: an egress with no path for it.
ONLY_T1_V4 = "198.18.0.0/24"
ONLY_T1_V6 = "2001:db8:ff::/48"


def family(prefix):
    """4 or 6."""
    return 6 if ":" in str(prefix) else 4


def egress_name(transit, fam=4):
    """The egress of transit t<i> (its index i or its name) for family 4
    or 6, when the transit has one session per family."""
    i = transit if isinstance(transit, int) else int(re.fullmatch(r"t(\d+)", transit).group(1))
    return f"t{i}" if fam == 4 else f"t{i}_6"


def labels(egress):
    """(label, pp label) of an egress: t<i> 1000 + i, t<i>_6 1100 + i, pp + 1000."""
    m = re.fullmatch(r"t(\d+)(_6)?", egress)
    assert m and int(m.group(1)) < 100, f"{egress!r}: not an egress name (t<i> or t<i>_6)"
    label = 1000 + int(m.group(1)) + (100 if m.group(2) else 0)
    return label, label + 1000


def label(egress):
    return labels(egress)[0]


def pp_label(egress):
    return labels(egress)[1]


def via_text(egress):
    """An egress as `show autopilot ap overrides` names a target: "t2 (1002)"."""
    return f"{egress} ({label(egress)})"


def pp_text(egress):
    """An egress's pp community as BIRD prints it: "(65000, 2, 2002)"."""
    return f"({SWITCH_AS}, 2, {pp_label(egress)})"


def alt_table(k, fam):
    """A host-role host's table of alternate k."""
    return f"alt{k}v{fam}"


def egress_table(egress, fam):
    """A host-role host's table of one egress."""
    return f"eg{label(egress)}v{fam}"


# --- The POP ----------------------------------------------------------------------

class Transit:
    """One transit of a Pop; its index (position in the Pop, from 1) gives
    its name t<i>, AS and egresses when the Pop is built.

    kind: bird (stock), gobgp or exabgp; families: ipv4, ipv6 or both;
    split: one session per family (egresses t<i>, t<i>_6) instead of one
    carrying both (egress t<i>); v4, v6: its prefixes (default: the Pop's);
    route_attrs: {prefix: BIRD statements} for its static routes (bird);
    extra: top-level lines, session_extra: options of its sessions (bird)."""

    def __init__(self, kind="bird", families=("ipv4", "ipv6"), split=True, v4=None, v6=None,
                 route_attrs=None, extra="", session_extra=""):
        assert kind in ("bird", "gobgp", "exabgp"), kind
        assert kind != "exabgp" or split, "ExaBGP transits have one session per family"
        self.kind, self.families, self.split = kind, tuple(families), split
        self.v4, self.v6 = v4, v6
        self.route_attrs = route_attrs or {}
        self.extra, self.session_extra = extra, session_extra
        self.index = self.name = self.asn = self.node = None

    def __repr__(self):
        return f"<Transit {self.name} {self.kind}>"

    @property
    def egresses(self):
        """[(egress name, [families it carries])]."""
        if self.split:
            return [(egress_name(self.index, 4 if f == "ipv4" else 6), [f]) for f in self.families]
        return [(egress_name(self.index, 4), list(self.families))]

    def egress(self, fam):
        """The egress carrying family 4 or 6 (a prefix's family: egress(family(p)))."""
        return egress_name(self.index, fam if self.split else 4)

    @property
    def sessions(self):
        """The transit's own BGP protocol names towards the switch."""
        return [f"switch1_v{4 if f == 'ipv4' else 6}" for f in self.families] if self.split \
            else ["switch1"]

    def prefixes(self, fam):
        return (self.v4 if fam == 4 else self.v6) if f"ipv{fam}" in self.families else []


class Pop:
    """Transits -> switch1 -> hosts (see the top of this file).

    transits: [Transit]; hosts: names or (name, kind), kind bird (patched,
    the default), stock (unpatched 2.17.5), debian (/usr/sbin/bird) or frr;
    table: (n4, n6) prefixes every transit announces, generated (routegen,
    seed), and unique: (v4, v6) more per transit that no other announces;
    without table, FIXED_V4/V6 and ONLY_T1_V4/V6 for t1; prepend: t<i>
    prepends its AS i-1 times; managers: [(name, kind)], kind gobgp or
    exabgp, imported into the switch's manager tables mgr4, mgr6;
    ap_options: lines for the `ap` block; global_: top-level lines of the
    switch (text, or a function of the switch node); import_filters:
    {egress: filter body} for that egress's import; alternates: K > 0
    gives BIRD hosts the host role (`hap`, K alternates per family), with
    host_options: more lines for it.

    Mutable before a (re)configure: egresses {egress: [label, pp]} (the
    egress map, from labels()), backups {egress: [backups]},
    session_extra {egress: options}."""

    def __init__(self, topo, bins, transits, hosts=("h1",), *, table=None, unique=(0, 0), seed=1,
                 prepend=False, managers=(), ap_options="", global_="", import_filters=None,
                 alternates=0, host_options=""):
        self.topo, self.bins = topo, bins
        self.transits = list(transits)
        self.host_specs = [(h, "bird") if isinstance(h, str) else h for h in hosts]
        self.manager_specs = list(managers)
        self.table, self.unique, self.seed, self.prepend = table, unique, seed, prepend
        self.ap_options, self.global_ = ap_options, global_
        self.import_filters = import_filters or {}
        self.alternates, self.host_options = alternates, host_options
        if table:
            self.v4, self.v6 = routegen.prefixes4(table[0], seed), routegen.prefixes6(table[1], seed)
        else:
            self.v4, self.v6 = list(FIXED_V4), list(FIXED_V6)
        self.switch, self.hosts, self.managers = None, [], {}
        self.state_file = None
        self.egresses, self.backups, self.session_extra = {}, {}, {}
        # Egresses the switch's map names by their neighbor's address, not their protocol
        self.by_neighbor = set()
        # Host role: {egress: label} its egress table takes instead of the egress's own
        self.etab_labels = {}
        # Each transit's own prefixes: generated ones no other has, or t1's ONLY_T1
        own = [(4, "v4", routegen.extra_prefixes4, unique[0], ONLY_T1_V4),
               (6, "v6", routegen.extra_prefixes6, unique[1], ONLY_T1_V6)]
        taken = {4: set(self.v4), 6: set(self.v6)}
        for i, t in enumerate(self.transits, 1):
            t.index, t.name, t.asn = i, f"t{i}", TRANSIT_AS + i
            for fam, attr, extra, n, only_t1 in own:
                if getattr(t, attr) is None:
                    mine = extra(n, seed * 100 + i, taken[fam]) if table else [only_t1] * (i == 1)
                    taken[fam].update(mine)
                    setattr(t, attr, getattr(self, attr) + mine)
            for name, _ in t.egresses:
                self.egresses[name] = list(labels(name))

    # --- building ------------------------------------------------------------------

    def build(self, timeout=60):
        """Nodes, links, daemons; then settle(timeout). Returns self. Skips
        the test if a daemon it needs is not installed."""
        need(*{t.kind for t in self.transits}, *{k for _, k in self.host_specs + self.manager_specs})
        t0 = time.monotonic()
        self.switch = self.topo.add_node("switch1")
        self.state_file = self.switch.dir / "ap.state"
        for t in self.transits:
            t.node = self.topo.add_node(t.name)
            self.topo.link(t.node, self.switch)
        for name, kind in self.host_specs:
            h = self.topo.add_node(name)
            h.kind = kind
            self.topo.link(self.switch, h)
            self.hosts.append(h)
        for name, kind in self.manager_specs:
            m = self.topo.add_node(name)
            m.kind = kind
            self.topo.link(m, self.switch)
            self.managers[name] = m
        for t in self.transits:
            self.start_transit(t)
        self.start_switch()
        for h in self.hosts:
            self.start_host(h)
        for m in self.managers.values():
            getattr(self, f"_start_manager_{m.kind}")(m)
        self.settle(timeout)
        log(f"POP up in {time.monotonic() - t0:.1f}s: {len(self.transits)} transits, switch1, "
            f"{len(self.hosts)} hosts, {len(self.managers)} managers in {self.topo.workdir}")
        return self

    def transit(self, name):
        return next(t for t in self.transits if t.name == name)

    def egress_names(self):
        """Every egress session of the switch, in or out of the map."""
        return [n for t in self.transits for n, _ in t.egresses]

    def egress_labels(self, egress):
        """(label, pp label) of an egress in the switch's map now: labels(egress)
        unless the test changed pop.egresses."""
        return tuple(self.egresses[egress])

    def egress_of(self, transit, prefix):
        """The egress by which a transit sends prefix."""
        return transit.egress(family(prefix))

    def bgp_egress(self, prefix):
        """The egress of BGP's choice for prefix with prepend (t1's)."""
        return self.egress_of(self.transits[0], prefix)

    def start_transit(self, t):
        sw, node = self.switch, t.node
        addr = {"ipv4": sw.addr4(node), "ipv6": sw.addr6(node)}
        prepend = t.index - 1 if self.prepend else 0
        if t.kind == "gobgp":
            node.dir.joinpath("gobgp.sock").unlink(missing_ok=True)    # a restart's leftover
            neighbors = []
            for fams in ([[f] for f in t.families] if t.split else [list(t.families)]):
                neighbors.append(
                    f'\n[[neighbors]]\n  [neighbors.config]\n    neighbor-address = "{addr[fams[0]]}"\n'
                    f"    peer-as = {SWITCH_AS}\n  [neighbors.timers.config]\n    connect-retry = 1\n"
                    + "".join(f"  [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n"
                              f'      afi-safi-name = "{f}-unicast"\n' for f in fams))
            d = GoBGP(node, render("transit-gobgpd.toml", router_id=node.router_id, asn=t.asn,
                                   neighbors="".join(neighbors)))
            # gobgpd prepends its AS on eBGP itself: the path carries it 1 + prepend times
            d.inject(*([ipaddress.ip_network(p) for p in t.prefixes(f)] for f in (4, 6)),
                     as_path=[t.asn] * prepend)
            return
        if t.kind == "exabgp":
            assert not prepend and not t.route_attrs
            d = ExaBGP(node, render("transit-exabgp.conf", router_id=node.router_id, asn=t.asn,
                                    switch_as=SWITCH_AS, api=ExaBGP.api_process(node),
                                    local4=node.addr4(sw), local6=node.addr6(sw),
                                    switch4=addr["ipv4"], switch6=addr["ipv6"]))
            # Announced before the sessions are up: ExaBGP keeps them and sends
            # them when each session establishes.
            d.send(*routegen.exabgp_announce(t.v4, addr["ipv4"]),
                   *routegen.exabgp_announce(t.v6, addr["ipv6"]))
            return
        for fam in (4, 6):
            (node.dir / f"routes{fam}.conf").write_text("".join(
                f"route {p} blackhole {{ {t.route_attrs[p]} }};\n" if p in t.route_attrs
                else f"route {p} blackhole;\n" for p in t.prefixes(fam)))
        sessions = []
        for name, fams in zip(t.sessions, [[f] for f in t.families] if t.split else [t.families]):
            chans = " ".join(f"{f} {{ import none; export filter to_switch; }};" for f in fams)
            sessions.append(f"protocol bgp {name} {{ local as {t.asn}; neighbor {addr[fams[0]]} "
                            f"as {SWITCH_AS}; connect delay time 1; {chans} {t.session_extra} }}")
        Bird(node, self.bins.stock, render(
            "transit-bird.conf", router_id=node.router_id, rundir=node.dir, extra=t.extra,
            prepend=" ".join([f"bgp_path.prepend({t.asn});"] * prepend),
            sessions="\n".join(sessions)))

    def switch_config(self, ap_options=None):
        """switch1's bird.conf for the current transits, hosts and egress map."""
        sw = self.switch
        filters = [f"filter import_{e} {{\n{body}\n\taccept;\n}}"
                   for e, body in self.import_filters.items()]
        egresses, addrs = [], {}
        for t in self.transits:
            # ExaBGP 4.2 drops the session when asked for an enhanced route
            # refresh ("'RouteRefresh' object is not iterable"); a plain
            # one it answers, and relabeling that egress needs one.
            exa = " enable enhanced route refresh off;" if t.kind == "exabgp" else ""
            for name, fams in t.egresses:
                addr = t.node.addr4(sw) if fams[0] == "ipv4" else t.node.addr6(sw)
                addrs[name] = addr
                imp = f"filter import_{name}" if name in self.import_filters else "all"
                chans = " ".join(f"{f} {{ import {imp}; export none; }};" for f in fams)
                egresses.append(f"protocol bgp {name} {{ local as {SWITCH_AS}; neighbor {addr} "
                                f"as {t.asn}; connect delay time 1;{exa} {chans} "
                                f"{self.session_extra.get(name, '')} }}")
        ap = [f"\tegress {f'neighbor {addrs[e]}' if e in self.by_neighbor else e} {{ label {l}; pp label {pp};"
              + (f" backup {', '.join(self.backups[e])};" if self.backups.get(e) else "") + " };"
              for e, (l, pp) in self.egresses.items()]
        opts = self.ap_options if ap_options is None else ap_options
        hosts = [f"protocol bgp {h.name} from host {{ neighbor {h.addr4(sw)} as {SWITCH_AS}; }}"
                 for h in self.hosts]
        glob = [self.global_(sw) if callable(self.global_) else self.global_]
        if self.alternates:
            glob.append(f"pp disable community ({', '.join(map(str, PP_DISABLE))});")
        if self.managers:
            glob += ["ipv4 table mgr4;", "ipv6 table mgr6;"]
            opts += "\n\tmanager table mgr4;\n\tmanager table mgr6;"
        for m in self.managers.values():
            # iBGP, so multihop: the manager's next hop (an egress on another
            # link) is kept as it was sent, not checked against its own link.
            hosts.append(f"protocol bgp {m.name} {{ local as {SWITCH_AS}; neighbor {m.addr4(sw)} "
                         f"as {SWITCH_AS}; connect delay time 1; "
                         f"ipv4 {{ table mgr4; import all; export none; }}; "
                         f"ipv6 {{ table mgr6; import all; export none; }}; }}")
        return render("switch.conf", router_id=sw.router_id, rundir=sw.dir, asn=SWITCH_AS,
                      state_file=self.state_file, filters="\n\n".join(filters),
                      egresses="\n".join(egresses), autopilot="\n".join(ap + [opts]),
                      hosts="\n".join(hosts), **{"global": "\n".join(glob)})

    def start_switch(self, ap_options=None):
        """Start (or restart, once stopped) switch1's BIRD; settle() is yours."""
        if ap_options is not None:
            self.ap_options = ap_options
        return Bird(self.switch, self.bins.patched, self.switch_config())

    def reconfigure_switch(self):
        """Write switch_config() and `birdc configure`; return birdc's answer."""
        self.switch.daemon.conf.write_text(self.switch_config())
        out = birdc(self.switch, "configure")
        if "Reconfigured" not in out:
            raise RuntimeError(f"birdc configure on switch1: {out}")
        return out

    def start_host(self, h):
        sw4 = self.switch.addr4(h)
        if h.kind == "frr":
            FRR(h, render("host-frr.conf", name=h.name, router_id=h.router_id, rundir=h.dir,
                          asn=SWITCH_AS, switch4=sw4))
            return
        bindir = {"bird": self.bins.patched, "stock": self.bins.stock, "debian": DEBIAN_BIRD}[h.kind]
        Bird(h, bindir, self.host_config(h))

    def host_config(self, h):
        """A BIRD host's bird.conf."""
        before, after = self.host_role() if self.alternates else ("", "")
        return render("host.conf", router_id=h.router_id, rundir=h.dir, asn=SWITCH_AS,
                      switch4=self.switch.addr4(h), before=before, after=after)

    def reconfigure_host(self, h):
        """Write host_config() and `birdc configure` on BIRD host h; return
        birdc's answer ("in progress" while a protocol it restarts stops)."""
        h.daemon.conf.write_text(self.host_config(h))
        out = birdc(h, "configure")
        if "Reconfigured" not in out and "Reconfiguration in progress" not in out:
            raise RuntimeError(f"birdc configure on {h.name}: {out}")
        return out

    def host_role(self):
        """(tables and the disable community, `hap` and kernel protocols) of a host-role host."""
        tables, role, kernels = [], [], []
        for fam in (4, 6):
            for k in range(1, self.alternates + 1):
                t = alt_table(k, fam)
                tables.append(f"ipv{fam} table {t};")
                role.append(f"\talternate {k} table {t};")
                kernels.append(f"protocol kernel k{t} {{ kernel table {100 + k}; "
                               f"ipv{fam} {{ table {t}; export all; }}; }}")
            for t in self.transits:
                if f"ipv{fam}" not in t.families:
                    continue
                e = t.egress(fam)
                tab = egress_table(e, fam)
                tables.append(f"ipv{fam} table {tab};")
                role.append(f"\tegress label {self.etab_labels.get(e, label(e))} table {tab};")
                kernels.append(f"protocol kernel k{tab} {{ kernel table {200 + t.index}; "
                               f"ipv{fam} {{ table {tab}; export all; }}; }}")
        before = [f"\npp disable community ({', '.join(map(str, PP_DISABLE))});\n"] + tables
        after = ["", "protocol autopilot hap {", "\tipv4;\t\t\t\t# master4: every path of every prefix",
                 "\tipv6;", f"\tasn {SWITCH_AS};\t\t\t# the switch's large communities", *role,
                 *self.host_options.splitlines(), "}", "",
                 "# Best paths to the main table, as \"encap mpls LABEL via SWITCH\".",
                 "protocol kernel kmain4 { ipv4 { import none; export all; }; }",
                 "protocol kernel kmain6 { ipv6 { import none; export all; }; }", "", *kernels]
        return "\n".join(before), "\n".join(after)

    def _start_manager_gobgp(self, m):
        GoBGP(m, render("manager-gobgpd.toml", router_id=m.router_id, asn=SWITCH_AS,
                        switch4=self.switch.addr4(m)))

    def _start_manager_exabgp(self, m):
        ExaBGP(m, render("manager-exabgp.conf", router_id=m.router_id, asn=SWITCH_AS,
                         api=ExaBGP.api_process(m), local4=m.addr4(self.switch),
                         switch4=self.switch.addr4(m)))

    # --- waiting -------------------------------------------------------------------

    def paths(self):
        """(IPv4 paths, IPv6 paths) the switch and every host hold: every transit's."""
        return tuple(sum(len(t.prefixes(fam)) for t in self.transits) for fam in (4, 6))

    def settle(self, timeout=30, paths=True):
        """Wait until every session of the switch and of each BIRD host is
        Established and (paths) the switch and each BIRD host hold exactly
        every transit's paths (no override copy: after a restart that
        restores overrides, settle(paths=False))."""
        names = self.egress_names() + [h.name for h in self.hosts] + list(self.managers)
        birds = [h for h in self.hosts if h.kind != "frr"]
        wait_until(lambda: established(self.switch, *names), timeout,
                   what=f"switch1 sessions {names} Established")
        wait_until(lambda: all(established(h, "switch1") for h in birds), timeout,
                   what="hosts' sessions Established")
        if paths:
            want = self.paths()
            wait_until(lambda: all(node_paths(n) == want for n in [self.switch] + birds),
                       timeout, interval=0.2, what=f"switch1 and hosts hold {want} paths")

    def best(self, hosts=None, prefixes=()):
        """{(host, prefix): (label of its best path, override copies)}."""
        return {(h.name, p): (best_label(h, p), overrides_on_host(h, p))
                for h in (hosts or self.hosts) for p in prefixes}

    def settle_overrides(self, moves, prefixes=FIXED_V4, hosts=None, timeout=10):
        """Wait until, on every host, each prefix of moves {prefix: egress,
        or (egress, override copies)} has its best path by that egress's
        label (an egress alone: one override copy) and every other one of
        prefixes is on BGP's choice (bgp_egress, no copy); assert it."""
        want, order = {}, list(dict.fromkeys([*prefixes, *moves]))
        for h in hosts or self.hosts:
            for p in order:
                m = moves.get(p, (self.bgp_egress(p), 0))
                e, copies = (m, 1) if isinstance(m, str) else m
                want[(h.name, p)] = (self.egresses[e][0], copies)
        got = wait_for(lambda: self.best(hosts, order), want, timeout)
        assert got == want
        return got


def node_paths(node):
    """(IPv4 paths, IPv6 paths) in a BIRD's master tables."""
    return route_count(node, "master4")[0], route_count(node, "master6")[0]


# --- What an operator reads ------------------------------------------------------

def birdc(node, command):
    """What `birdc show ...` prints on node (whose daemon is a Bird)."""
    return node.daemon.cmd(command)


def route_count(node, table):
    """Routes and networks in a table: (routes, networks)."""
    out = birdc(node, f"show route count table {table}")
    m = re.search(r"(\d+) of (\d+) routes for (\d+) networks in table " + re.escape(table), out)
    if not m:
        raise ValueError(f"unexpected `show route count` output:\n{out}")
    return int(m.group(2)), int(m.group(3))


def show_protocols(node):
    """{name: {proto, table, state, info}} from `show protocols`."""
    protos = {}
    for line in birdc(node, "show protocols").splitlines()[1:]:
        f = line.split(None, 5)
        if len(f) >= 5:
            protos[f[0]] = {"proto": f[1], "table": f[2], "state": f[3], "since": f[4],
                            "info": f[5].strip() if len(f) > 5 else ""}
    return protos


def show_autopilot(node, name="ap"):
    """{"state": ..., "ipv4": {table, state, prefixes, paths}, ...,
    "egresses": {name: {label, pp, session, ipv4, ipv6, lfib}}}."""
    out = birdc(node, f"show autopilot {name}")
    res = {"egresses": {}}
    for line in out.splitlines():
        m = re.match(rf"^{re.escape(name)}: (\S+)$", line)
        if m:
            res["state"] = m.group(1)
        m = re.match(r"^\s+(\S+)\s+table (\S+)\s+(\S+)\s+prefixes (\d+)\s+paths (\d+)$", line)
        if m:
            res[m.group(1)] = {"table": m.group(2), "state": m.group(3),
                               "prefixes": int(m.group(4)), "paths": int(m.group(5))}
        m = re.match(r"^\s+(\S+)\s+(\d+)\s+(\d+)\s+(\S+)\s+(\d+)\s+(\d+)\s+(\S.*?)$", line)
        if m:
            res["egresses"][m.group(1)] = {
                "label": int(m.group(2)), "pp": int(m.group(3)), "session": m.group(4),
                "ipv4": int(m.group(5)), "ipv6": int(m.group(6)), "lfib": m.group(7)}
    if "state" not in res:
        raise ValueError(f"unexpected `show autopilot` output:\n{out}")
    return res


def parse_routes(text):
    """`show route ... all` as {net: [path, ...]}, a path being a dict:
    proto, best (bool), sync_error (best, but not installed in the kernel:
    "!"), via, iface, labels (next hop MPLS stack, [] if
    none), as_path ([int]), lc (set of large communities), attrs (the
    other `Name: value` lines). Reads BIRD 2.0 to 2.17 output; a net line
    may carry `mpls N` (a tagged path on the switch), kept in attrs."""
    routes, path, net = {}, None, None
    head = re.compile(r"^(\S+)?(?:\s+mpls (\d+))?\s+(\w+) \[(\S+) [^\]]*\](?: ([*!]))?")
    for line in text.splitlines():
        if not line.strip() or line.startswith("Table "):
            continue
        if line.startswith("\t"):
            body = line.strip()
            m = re.match(r"via (\S+) on (\S+)(?: mpls ([\d/]+))?", body)
            if m:
                path["via"], path["iface"] = m.group(1), m.group(2)
                path["labels"] = [int(l) for l in m.group(3).split("/")] if m.group(3) else []
                continue
            name, _, value = body.partition(": ")
            if name == "BGP.as_path":
                path["as_path"] = [int(a) for a in value.split()]
            elif name == "BGP.large_community":
                path["lc"] = {tuple(int(x) for x in c.split(", "))
                              for c in re.findall(r"\(([^)]*)\)", value)}
            path["attrs"][name] = value
            continue
        m = head.match(line)
        if not m:
            raise ValueError(f"unexpected route line: {line!r}")
        net = m.group(1) or net
        # "!" is a best route its kernel protocol failed to install
        path = {"proto": m.group(4), "best": m.group(5) == "*", "sync_error": m.group(5) == "!",
                "dest": m.group(3),
                "via": None, "iface": None, "labels": [], "as_path": [], "lc": set(),
                "attrs": {"net_mpls": m.group(2)} if m.group(2) else {}}
        routes.setdefault(net, []).append(path)
    return routes


def show_routes(node, table, where=""):
    """parse_routes() of `show route table <table> [where ...] all` on node."""
    return parse_routes(birdc(node, f"show route table {table} {where} all"))


def established(node, *protos):
    """True when all the named BGP protocols are Established."""
    p = show_protocols(node)
    return all(n in p and p[n]["info"].startswith("Established") for n in protos)


def birdc_rc(bird, command, *options, ctl=None):
    """birdc [options] -s ctl command, as (exit status, text without the
    banner). birdc exits 1 when the reply is an error (code >= 8000), which
    is half of what the refusal tests check."""
    r = subprocess.run([str(bird.bindir / "birdc"), *options, "-s", str(ctl or bird.ctl), command],
                       capture_output=True, text=True, timeout=30)
    lines = (r.stdout + r.stderr).splitlines()
    if lines and lines[0].startswith("BIRD ") and lines[0].endswith("ready."):
        lines = lines[1:]
    return r.returncode, "\n".join(lines)


def converse(path, data, timeout=10):
    """Send bytes on a fresh connection to a unix socket (the controller
    socket), half-close, read every reply: the reply lines."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(path))
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out.decode(errors="replace").splitlines()


def bird_reply(bird, command, ctl=None, timeout=30):
    """Send command on BIRD's control socket; (code, text) of the reply,
    code being that of its last line. Unlike birdc, this shows the text of
    code-0 lines too (birdc prints none: client.c skips code 0), so tests
    can read the confirmation a command sends whatever its code."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(ctl or bird.ctl))
        f = s.makefile("rw", encoding="utf-8", errors="replace", newline="\n")
        hello = f.readline()
        assert hello.startswith("0001 "), hello
        f.write(command + "\n")
        f.flush()
        lines = []
        while True:
            line = f.readline()
            if not line:
                raise EOFError(f"BIRD closed the socket during {command!r}: {lines}")
            line = line.rstrip("\n")
            if line.startswith(" "):
                lines.append(line[1:])
                continue
            m = re.match(r"^(\d{4})([ -])(.*)$", line)
            assert m, f"bad reply line {line!r}"
            if m.group(3) or m.group(2) == "-":
                lines.append(m.group(3))
            if m.group(2) == " ":
                return int(m.group(1)), "\n".join(lines)


ROUTE_RE = re.compile(r"^(\S+)?\s+(unicast|unreachable|blackhole|prohibit)\s+\[(\S+)[^\]]*\]\s*(\*)?")


def host_routes(node, prefix):
    """Every path of prefix on a BIRD node (`show route P all`), in BIRD's
    order (best first): [{best, proto, label, override, as_path, lcs}]."""
    code, out = bird_reply(node.daemon, f"show route {prefix} all")
    if code == 8001 and out == "Network not found":
        return []
    assert code < 8000, (prefix, code, out)
    routes, cur = [], None
    for line in out.splitlines():
        m = ROUTE_RE.match(line)
        if m and not line.startswith("\t"):
            if m.group(1) and m.group(1) != prefix:
                cur = None       # another net in the output: not ours
                continue
            cur = {"best": bool(m.group(4)), "proto": m.group(3), "label": None,
                   "override": False, "as_path": None, "lcs": ""}
            routes.append(cur)
            continue
        if cur is None:
            continue
        m = re.match(r"^\s+via \S+ on \S+ mpls (\d+)", line)
        if m:
            cur["label"] = int(m.group(1))
        m = re.match(r"^\s+BGP\.as_path:\s*(.*)$", line)
        if m:
            cur["as_path"] = m.group(1).strip()
        m = re.match(r"^\s+BGP\.large_community:\s*(.*)$", line)
        if m:
            cur["lcs"] = m.group(1)
            cur["override"] = OVERRIDE_LC in m.group(1)
    return routes


def host_best(node, prefix):
    """The best path of prefix on node, or None if it has no route."""
    best = [r for r in host_routes(node, prefix) if r["best"]]
    return best[0] if best else None


def best_label(node, prefix):
    b = host_best(node, prefix)
    return b["label"] if b else None


def overrides_on_host(node, prefix):
    """How many override copies of prefix the host has."""
    return sum(r["override"] for r in host_routes(node, prefix))


COUNTS_RE = re.compile(
    r"^(\S+): (\d+) overrides: (\d+) active, (\d+) pending, (\d+) shadow; "
    r"(\d+) expired since start; limit (\d+); shadow mode (on|off)$")
HEADER = ["Prefix", "Target", "State", "Via (label)", "Source", "Age", "Expires", "Reason [note]"]


def show_overrides(node, what=""):
    """`show autopilot ap overrides [what]` as (counts, {prefix: row}).

    counts: {total, active, pending, shadow, expired, limit, shadow_mode};
    row: {target, state, via, source, age, expires, reason, note}, where via
    is "t2 (1002)" or "-", reason the quoted text or None, note the text in
    [brackets] or None. Fails on any line it cannot read: the columns are
    part of what the operator relies on."""
    out = node.daemon.cmd(f"show autopilot ap overrides {what}".strip())
    lines = [l for l in out.splitlines() if l.strip()]
    m = COUNTS_RE.match(lines[0].strip())
    assert m, f"no counts line in:\n{out}"
    counts = dict(zip(["total", "active", "pending", "shadow", "expired", "limit"],
                      map(int, m.groups()[1:7])))
    counts["shadow_mode"] = m.group(8)
    rows = {}
    for line in lines[1:]:
        line = line.strip()
        if line.startswith("No override for"):
            rows = None
            break
        if line.startswith("Prefix "):
            assert re.split(r"\s{2,}|\s(?=\S)", line) and all(h in line for h in HEADER), line
            continue
        m = re.match(r"^(\S+)\s+(\S+)\s+(pending|active|shadow)\s+(-|\S+ \(\d+\))\s+(\S+)\s+"
                     r"(\S+)\s+(\S+)\s*(?:\"((?:[^\"\\]|\\.)*)\")?\s*(?:\[(.*)\])?$", line)
        assert m, f"cannot read override line {line!r} in:\n{out}"
        rows[m.group(1)] = {"target": m.group(2), "state": m.group(3), "via": m.group(4),
                            "source": m.group(5), "age": m.group(6), "expires": m.group(7),
                            "reason": m.group(8), "note": m.group(9)}
    return counts, rows


def show_ap(node):
    """`show autopilot ap`: the Overrides line and manager lines, parsed."""
    out = node.daemon.cmd("show autopilot ap")
    res = {"managers": {}}
    m = re.search(r"Overrides: (\d+) \((\d+) active, (\d+) pending, (\d+) shadow\), limit (\d+), "
                  r"shadow mode (on|off)", out)
    assert m, out
    res["overrides"] = tuple(int(x) for x in m.groups()[:5]) + (m.group(6),)
    for m in re.finditer(r"Manager table (\S+): (\S+), (\d+) routes, (\d+) refused since start", out):
        res["managers"][m.group(1)] = {"state": m.group(2), "routes": int(m.group(3)),
                                       "refused": int(m.group(4))}
    return res


def log_lines(node, pattern):
    """Lines of node's bird.log matching the regex pattern."""
    path = node.dir / "bird.log"
    text = path.read_text(errors="replace") if path.exists() else ""
    return [l for l in text.splitlines() if re.search(pattern, l)]


def table_routes(node, table):
    """Every route of a BIRD table: {prefix: [{proto, best, sync_error, via,
    labels, as_path, lcs, attrs}]}, in BIRD's order (pop.parse_routes, with
    "best" true for a best route its kernel protocol failed to install too,
    and the large communities as "lcs"). The labels are those of the next
    hop (`via X on IF mpls L1/L2`), what the kernel gets as `encap mpls`."""
    routes = parse_routes(node.daemon.cmd(f"show route table {table} all"))
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


# --- the state file, as a crash would find it -------------------------------------

def durable(pop):
    """What a crash now would restore, {prefix: add line}: the state file's
    add lines, then the journal's changes, commit by commit, up to its last
    "# commit" (the rest was never acknowledged)."""
    f, j = pop.state_file, pop.state_file.parent / (pop.state_file.name + ".journal")
    snap = f.read_text().splitlines() if f.exists() else []
    assert not snap or snap[0] == "# bird-autopilot overrides v1 protocol ap", snap
    have = {l.split()[1]: l for l in snap if l.startswith("add ")}
    text = j.read_text() if j.exists() else ""
    for l in text[:text.rfind("# commit\n") + 1].splitlines():
        if l.startswith("add "):
            have[l.split()[1]] = l
        elif l.startswith("withdraw "):
            have.pop(l.split()[1], None)
    return have


def state_lines(pop):
    """The durable set in the state file's own shape: header, add lines, end."""
    have = durable(pop)
    return ["# bird-autopilot overrides v1 protocol ap", *sorted(have.values()), f"# end {len(have)}"]


def wait_state(pop, n, timeout=5):
    """state_lines() once n overrides are on disk."""
    return wait_until(lambda: (lambda l: l if l[-1:] == [f"# end {n}"] else None)(state_lines(pop)),
                      timeout, what=f"state file with {n} overrides")
