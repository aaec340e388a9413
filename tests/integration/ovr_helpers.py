"""A small POP for the override and routing-manager tests, and what an
operator reads from it.

Built on pop.py's Topology, Node and daemons, with templates of its own
(overrides-*.conf, manager-*), so that it does not depend on the generated
full tables of Pop: a handful of fixed prefixes, announced by every transit,
make "which egress does the host use for this prefix" an exact question.

  OvrPop        transits t1, t2, ... (stock BIRD or gobgpd), switch1
                (patched, egress map, autopilot `ap`), hosts (patched,
                labeled unicast), optional routing managers (gobgpd, exabgp)
  host_routes, host_best
                a host's paths of a prefix: label, override marker, AS path
  show_overrides
                `show autopilot ap overrides`, parsed
  birdc_rc      birdc with any options (-r, another socket), with its exit status

Transit i prepends its AS i-1 times, so BGP's best path on the switch (and
on the hosts) is t1's, the second best t2's, and so on: an override moves a
prefix away from the label of t1 to that of its target.
"""

import re
import socket
import subprocess
import time

from pop import Bird, ExaBGP, GoBGP, established, log, render, wait_until

SWITCH_AS = 65000

# Announced by every transit. TEST-NET and documentation space: the
# namespaces route nothing else, and routegen never generates these.
V4 = ["198.51.100.0/24", "203.0.113.0/24", "192.0.2.0/24"]
V6 = ["2001:db8:1::/48", "2001:db8:2::/48", "2001:db8:3::/48"]
# Announced by t1 only: an egress with no path for it.
ONLY_T1_V4 = "198.18.0.0/24"
ONLY_T1_V6 = "2001:db8:ff::/48"

OVERRIDE_LC = f"({SWITCH_AS}, 3, 1)"     # the override marker (wire contract)


def label(egress):
    """Primary label of egress t<i> (1000+i) or t<i>_6 (1010+i)."""
    m = re.fullmatch(r"t(\d)(_6)?", egress)
    return 1000 + int(m.group(1)) + (10 if m.group(2) else 0)


def pp_label(egress):
    return label(egress) + 1000


class Transit:
    """kind: bird (stock) or gobgp; split: one session per address family
    (egresses tN and tN_6, over IPv4 and IPv6 transport) instead of one
    MP-BGP session over IPv4 carrying both (egress tN)."""

    def __init__(self, name, kind="bird", families=("ipv4", "ipv6"), split=False):
        assert kind in ("bird", "gobgp")
        assert kind == "bird" or families == ("ipv4",), "gobgpd transits are IPv4 only"
        self.name, self.kind, self.families, self.split = name, kind, families, split
        self.index = int(name[1:])
        self.asn = 64500 + self.index
        self.node = None

    @property
    def egresses(self):
        """Egress (switch protocol) names: [(name, family, transport)]."""
        if self.split:
            return [(self.name if f == "ipv4" else f"{self.name}_6", f, f)
                    for f in self.families]
        return [(self.name, None, "ipv4")]

    def v4(self):
        return V4 + ([ONLY_T1_V4] if self.index == 1 else [])

    def v6(self):
        return V6 + ([ONLY_T1_V6] if self.index == 1 else [])


class OvrPop:
    """transits: [Transit]; hosts: names; managers: [(name, kind)] with
    kind gobgp or exabgp; ap_options: lines for the autopilot block;
    global_: lines before the protocols (cli sockets, tables)."""

    def __init__(self, topo, bins, transits, hosts=("h1",), managers=(),
                 ap_options="", global_=""):
        self.topo, self.bins = topo, bins
        self.transits = list(transits)
        self.host_names, self.manager_specs = list(hosts), list(managers)
        # global_: text, or a function of the switch node (for paths in its dir)
        self.ap_options, self.global_ = ap_options, global_
        self.switch, self.hosts, self.managers = None, [], {}
        self.state_file = None

    # --- building ---------------------------------------------------------------

    def build(self):
        t0 = time.monotonic()
        self.switch = self.topo.add_node("switch1")
        self.state_file = self.switch.dir / "ap.state"
        for t in self.transits:
            t.node = self.topo.add_node(t.name)
            self.topo.link(t.node, self.switch)
        for name in self.host_names:
            h = self.topo.add_node(name)
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
            Bird(h, self.bins.patched, render(
                "overrides-host.conf", router_id=h.router_id, rundir=h.dir,
                asn=SWITCH_AS, switch4=self.switch.addr4(h)))
        for m in self.managers.values():
            getattr(self, f"_start_manager_{m.kind}")(m)
        self.wait_established()
        self.wait_converged()
        log(f"override POP up in {time.monotonic() - t0:.1f}s in {self.topo.workdir}")
        return self

    def transit(self, name):
        return next(t for t in self.transits if t.name == name)

    def start_transit(self, t):
        sw = self.switch
        if t.kind == "gobgp":
            t.node.dir.joinpath("gobgp.sock").unlink(missing_ok=True)  # a restart's leftover
            d = GoBGP(t.node, render("overrides-transit-gobgpd.toml", router_id=t.node.router_id,
                                     asn=t.asn, switch_as=SWITCH_AS, switch4=sw.addr4(t.node)))
            # gobgpd prepends its AS on eBGP itself: the path carries it i times
            path = " ".join([str(t.asn)] * (t.index - 1))
            for p in t.v4():
                d.cli("global", "rib", "add", "-a", "ipv4", p, *(["aspath", path] if path else []))
            return
        if t.split:
            sessions = [
                f"protocol bgp switch1_v4 {{ local as {t.asn}; neighbor {sw.addr4(t.node)} "
                f"as {SWITCH_AS}; connect delay time 1; ipv4 {{ import none; export filter to_switch; }}; }}",
                f"protocol bgp switch1_v6 {{ local as {t.asn}; neighbor {sw.addr6(t.node)} "
                f"as {SWITCH_AS}; connect delay time 1; ipv6 {{ import none; export filter to_switch; }}; }}"]
        else:
            chans = " ".join(f"{f} {{ import none; export filter to_switch; }};" for f in t.families)
            sessions = [f"protocol bgp switch1 {{ local as {t.asn}; neighbor {sw.addr4(t.node)} "
                        f"as {SWITCH_AS}; connect delay time 1; {chans} }}"]
        Bird(t.node, self.bins.stock, render(
            "overrides-transit-bird.conf", router_id=t.node.router_id, rundir=t.node.dir,
            routes4="\n".join(f"\troute {p} blackhole;" for p in t.v4()),
            routes6="\n".join(f"\troute {p} blackhole;" for p in t.v6()),
            prepend_stmt=" ".join(["bgp_path.prepend(%d);" % t.asn] * (t.index - 1)),
            sessions="\n".join(sessions)))

    def transit_sessions(self, t):
        """The transit BIRD's own protocol names towards the switch."""
        return ["switch1_v4", "switch1_v6"] if t.split else ["switch1"]

    def switch_config(self, ap_options=None):
        sw = self.switch
        egresses, egress_map = [], []
        for t in self.transits:
            for name, family, transport in t.egresses:
                addr = t.node.addr4(sw) if transport == "ipv4" else t.node.addr6(sw)
                chans = [family] if family else list(t.families)
                egresses.append(
                    f"protocol bgp {name} {{ local as {SWITCH_AS}; neighbor {addr} as {t.asn}; "
                    f"connect delay time 1; "
                    + " ".join(f"{c} {{ import all; export none; }};" for c in chans) + " }")
                egress_map.append(f"\tegress {name} {{ label {label(name)}; pp label {pp_label(name)}; }};")
        hosts = [f"protocol bgp {h.name} from host {{ neighbor {h.addr4(sw)} as {SWITCH_AS}; }}"
                 for h in self.hosts]
        mgr_tables = []
        for m in self.managers.values():
            # iBGP, so multihop: the manager's next hop (an egress on another
            # link) is kept as it was sent, not checked against its own link.
            hosts.append(f"protocol bgp {m.name} {{ local as {SWITCH_AS}; neighbor {m.addr4(sw)} "
                         f"as {SWITCH_AS}; connect delay time 1; "
                         f"ipv4 {{ table mgr4; import all; export none; }}; "
                         f"ipv6 {{ table mgr6; import all; export none; }}; }}")
        if self.managers:
            mgr_tables = ["ipv4 table mgr4;", "ipv6 table mgr6;"]
        opts = self.ap_options if ap_options is None else ap_options
        opts = f'\tstate filename "{self.state_file}";\n' + opts
        if self.managers:
            opts += "\n\tmanager table mgr4;\n\tmanager table mgr6;"
        return render("overrides-switch.conf", router_id=sw.router_id, rundir=sw.dir,
                      asn=SWITCH_AS, **{"global": "\n".join([self.global_(sw) if callable(self.global_) else self.global_]
                                               + mgr_tables)},
                      egresses="\n".join(egresses), egress_map="\n".join(egress_map),
                      ap_options=opts, hosts="\n".join(hosts))

    def start_switch(self, ap_options=None):
        if ap_options is not None:
            self.ap_options = ap_options
        return Bird(self.switch, self.bins.patched, self.switch_config())

    def _start_manager_gobgp(self, m):
        GoBGP(m, render("manager-gobgpd.toml", router_id=m.router_id, asn=SWITCH_AS,
                        switch4=self.switch.addr4(m)))

    def _start_manager_exabgp(self, m):
        ExaBGP(m, render("manager-exabgp.conf", router_id=m.router_id, asn=SWITCH_AS,
                         api=ExaBGP.api_process(m), local4=m.addr4(self.switch),
                         switch4=self.switch.addr4(m)))

    def egress_names(self):
        return [n for t in self.transits for n, _, _ in t.egresses]

    def wait_established(self, timeout=30):
        names = self.egress_names() + [h.name for h in self.hosts] + list(self.managers)
        wait_until(lambda: established(self.switch, *names), timeout,
                   what=f"switch1 sessions {names} Established")
        wait_until(lambda: all(established(h, "switch1") for h in self.hosts), timeout,
                   what="hosts' sessions Established")

    def wait_converged(self, timeout=30):
        """Every host has every transit's path of every prefix, best t1's."""
        def done():
            for h in self.hosts:
                for t in self.transits:
                    for p in self.announced(t):
                        if egress_label(t, p) not in [r["label"] for r in host_routes(h, p)]:
                            return False
                for p in V4 + V6:
                    if best_label(h, p) != egress_label(self.transits[0], p):
                        return False
            return True
        wait_until(done, timeout, what="hosts have every transit's paths")

    @staticmethod
    def announced(t):
        return (t.v4() if "ipv4" in t.families else []) + (t.v6() if "ipv6" in t.families else [])


def egress_of(t, prefix):
    """The egress (switch protocol name) by which transit t sends prefix."""
    fam = "ipv6" if ":" in prefix else "ipv4"
    return next(n for n, f, _ in t.egresses if f in (None, fam))


def egress_label(t, prefix):
    return label(egress_of(t, prefix))


# --- what an operator reads ------------------------------------------------------

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


def time_until(predicate, timeout=5.0, interval=0.01):
    """Seconds until predicate() is true (polled), or None after timeout."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            if predicate():
                return time.monotonic() - t0
        except Exception:  # pylint: disable=broad-except
            pass
        time.sleep(interval)
    return None


def log_lines(node, pattern):
    """Lines of node's bird.log matching the regex pattern."""
    path = node.dir / "bird.log"
    text = path.read_text(errors="replace") if path.exists() else ""
    return [l for l in text.splitlines() if re.search(pattern, l)]

