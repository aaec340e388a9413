"""The benchmark's POP: feeders as transits, a switch, two hosts, managers.

Built on tests/integration/pop.py (namespaces, links, Daemon, GoBGP,
ExaBGP); configurations of its own, because the benchmark needs what the
tests do not: passive transit sessions on the switch (the feeders connect
when they are ready), precise log timestamps, per-host counters of override
paths, identical sessions for the patched and the stock switch.

Addresses: transit i is on link i (transit 10.0.i.1, switch 10.0.i.2), then
the hosts' links (switch .1, host .2), then the managers' (manager .1).
"""

import os
import pathlib
import signal
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "integration"))
import pop  # noqa: E402  pylint: disable=wrong-import-position

import birdsock  # noqa: E402  pylint: disable=wrong-import-position

SWITCH_AS = 65000
OVERRIDE_LC = (SWITCH_AS, 3, 1)       # the override marker of the wire contract
HIGH_PREF = 4294967295                # what overrides (and the GoBGP/ExaBGP routes) carry


def log(msg):
    print(f"[bench] {msg}", flush=True)


class Bird(pop.Bird):
    """pop.Bird with a kept control connection (birdsock): polling a
    loaded BIRD through birdc would cost a process per question."""

    def wait_ready(self):
        self.sock = pop.wait_until(lambda: self.check_alive() and birdsock.BirdSock(self.ctl),
                                   20, 0.02, what=f"BIRD on {self.node.name} answering")

    def cmd(self, command, check=True):
        return self.sock.cmd(command, check)

    def status(self, field):
        """VmHWM, VmRSS, ... of the daemon in bytes (`ip netns exec` execs
        BIRD, so our child's pid is BIRD's)."""
        for line in pathlib.Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
        raise KeyError(field)

    def cpu_s(self):
        """User + system CPU seconds the daemon has used so far."""
        fields = pathlib.Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Feeder(pop.Daemon):
    """feeder.py in a transit's namespace, one session per family."""

    def __init__(self, node, asn, sessions):
        self.node = node
        argv = [sys.executable, HERE / "feeder.py", "--as", asn, "--id", node.router_id]
        argv += [f"{l},{p},{afi},{path}" for l, p, afi, path in sessions]
        super().__init__(node, "feeder", argv)
        pop.wait_until(lambda: self.check_alive() and "ready" in self.out.read_text(), 30, 0.02,
                       what=f"feeder on {node.name} ready")

    def start_sending(self):
        os.kill(self.proc.pid, signal.SIGUSR1)


class BenchPop:
    """transits: how many feeders; hosts: names; managers: names."""

    def __init__(self, name, table, cache, transits, hosts=("h1", "h2"), managers=()):
        self.table, self.cache = table, pathlib.Path(cache)
        self.topo = pop.Topology(name)
        self.switch = self.topo.add_node("switch1")
        self.transits = []
        for i in range(1, transits + 1):
            t = self.topo.add_node(f"tr{i}")
            t.index, t.asn = i, 64500 + i
            self.topo.link(t, self.switch)
            self.transits.append(t)
        self.hosts = []
        for name_ in hosts:
            h = self.topo.add_node(name_)
            self.topo.link(self.switch, h)
            self.hosts.append(h)
        self.managers = {}
        for name_ in managers:
            m = self.topo.add_node(name_)
            self.topo.link(m, self.switch)
            self.managers[name_] = m
        self.feeders = {}

    def teardown(self):
        self.topo.teardown()

    # --- configurations -----------------------------------------------------------

    def egress_labels(self, t, family):
        return (1000 + t.index, 2000 + t.index) if family == 4 else (1100 + t.index, 2100 + t.index)

    @staticmethod
    def sessions(t):
        return [f"{t.name}_v4", f"{t.name}_v6"]

    def switch_conf(self, patched, ap_extra="", manager_table=None, watch=True, filter_tags=False, extra=""):
        """The switch, patched (autopilot egress map: tagging, LFIB, watched
        tables) or stock (the same without the autopilot protocol).
        watch: the autopilot protocol's ipv4 and ipv6 channels, which
        overrides need; without them it only tags and keeps the LFIB.
        filter_tags: (stock) the same tags set by import filters, per path:
        what the patch saves, with the same bytes on the wire.
        manager_table: where routing managers' routes go (mgr4 on the
        patched switch, master4 on the stock one), None for no managers.
        extra: more top-level lines (a kernel protocol for the LFIB)."""
        sw = self.switch
        out = [f"router id {sw.router_id};",
               f'log "{sw.dir}/bird.log" all;',
               "timeformat log iso long us;",
               "protocol device {}",
               "mpls domain md;", "mpls table mt;",
               # The feeders connect when they are ready: the switch waits.
               "template bgp transit4 { local as %d; passive on; ipv4 { import all; export none; }; }" % SWITCH_AS,
               "template bgp transit6 { local as %d; passive on; ipv6 { import all; export none; }; }" % SWITCH_AS,
               # Labeled unicast with ADD-PATH to the hosts, on both switches:
               # only the autopilot protocol differs between the two runs.
               "template bgp host { local as %d; direct; connect delay time 1; connect retry time 1;%s"
               " ipv4 mpls { import none; export all; next hop self; add paths tx; };"
               " ipv6 mpls { import none; export all; next hop self; add paths tx; }; }"
               # With routing managers (iBGP), hosts are route reflector
               # clients: else the stock switch would never pass the
               # managers' routes on. Override copies need no reflection.
               % (SWITCH_AS, " rr client;" if self.managers else "")]
        if manager_table == "mgr4":
            out.append("ipv4 table mgr4;")
        for t in self.transits:
            for fam, s, addr in ((4, f"{t.name}_v4", t.addr4(sw)), (6, f"{t.name}_v6", t.addr6(sw))):
                chan = ""
                if filter_tags:
                    label, pp = self.egress_labels(t, fam)
                    chan = (f" ipv{fam} {{ import filter {{ mpls_label = {label}; "
                            f"bgp_large_community.add(({SWITCH_AS}, 2, {pp})); accept; }}; }};")
                out.append(f"protocol bgp {s} from transit{fam} {{ neighbor {addr} as {t.asn}; "
                           f"debug {{ states }};{chan} }}")
        for h in self.hosts:
            out.append(f"protocol bgp {h.name} from host {{ neighbor {h.addr4(sw)} as {SWITCH_AS}; }}")
        for m in self.managers.values():
            # direct (so gateway direct): the manager names an egress neighbor
            # on another link of ours; no IGP here to resolve it recursively.
            out.append(f"protocol bgp {m.name} {{ local as {SWITCH_AS}; neighbor {m.addr4(sw)} as {SWITCH_AS}; "
                       f"direct; passive on; ipv4 {{ table {manager_table}; import all; export none; gateway direct; }}; }}")
        if patched:
            ap = ["protocol autopilot ap {"] + (["\tipv4;", "\tipv6;"] if watch else []) + ["\tmpls { table mt; };"]
            for t in self.transits:
                for fam, s in zip((4, 6), self.sessions(t)):
                    label, pp = self.egress_labels(t, fam)
                    # Egress protection: the other transits of the same family, in order
                    backups = [self.sessions(o)[fam == 6] for o in self.transits if o is not t]
                    backup = f" backup {', '.join(backups)};" if backups else ""
                    ap.append(f"\tegress {s} {{ label {label}; pp label {pp};{backup} }};")
            if manager_table == "mgr4":
                ap.append("\tmanager table mgr4;")
            if ap_extra:
                ap.append(ap_extra)
            ap.append("}")
            out += ap
        if extra:
            out.append(extra)
        return "\n".join(out) + "\n"

    def host_conf(self, h, count_overrides=False):
        """A host: every path from the switch (labeled unicast, ADD-PATH).
        count_overrides: a pipe copies best routes carrying the override
        marker into a table of their own, so that `show protocols all`
        counts the overrides a host uses without scanning a million routes."""
        out = [f"router id {h.router_id};",
               f'log "{h.dir}/bird.log" all;',
               "timeformat log iso long us;",
               "protocol device {}",
               f"protocol bgp switch1 {{ local as {SWITCH_AS}; neighbor {self.switch.addr4(h)} as {SWITCH_AS}; "
               # Passive: the switch connects (1 s after it starts); with both
               # sides connecting, a restarted switch meets a collision first.
               "direct; passive on; error wait time 1, 2;"
               " ipv4 mpls { import all; export none; add paths rx; };"
               " ipv6 mpls { import all; export none; add paths rx; }; }"]
        if count_overrides:
            lc = "(%d, %d, %d)" % OVERRIDE_LC
            for fam in (4, 6):
                out.append(f"ipv{fam} table ovr{fam};")
                out.append(f"protocol pipe ovrpipe{fam} {{ table master{fam}; peer table ovr{fam}; import none; "
                           f"export where {lc} ~ bgp_large_community; }}")
        return "\n".join(out) + "\n"

    # --- daemons --------------------------------------------------------------------

    def start_switch(self, bindir, patched, **kw):
        return Bird(self.switch, bindir, self.switch_conf(patched, **kw))

    def start_hosts(self, bindir, count_overrides=False):
        for h in self.hosts:
            Bird(h, bindir, self.host_conf(h, count_overrides))

    def streams(self, t):
        """(family, local, peer, stream file) of transit t, encoded once and cached."""
        sw, key = self.switch, self.table.key()
        out = []
        for fam, local, peer in ((4, t.addr4(sw), sw.addr4(t)), (6, t.addr6(sw), sw.addr6(t))):
            path = self.cache / f"{key}-as{t.asn}-{local}.v{fam}.bgp"
            self.table.write_stream(path, fam, t.asn, t.index, local)
            out.append((fam, local, peer, path))
        return out

    def start_feeders(self, transits=None):
        for t in transits or self.transits:
            f = self.feeders.get(t.name)
            if f:
                f.kill()
            self.feeders[t.name] = Feeder(t, t.asn, [(l, p, fam, path) for fam, l, p, path in self.streams(t)])

    def wait_established(self, timeout=60):
        names = [s for t in self.transits if t.name in self.feeders for s in self.sessions(t)]
        names += [h.name for h in self.hosts]
        pop.wait_until(lambda: birdsock.established(self.switch.daemon.sock, *names), timeout, 0.05,
                       what=f"switch sessions {names} Established")
        pop.wait_until(lambda: all(birdsock.established(h.daemon.sock, "switch1") for h in self.hosts),
                       timeout, 0.05, what="host sessions Established")

    def host_paths(self):
        return [birdsock.imported(h.daemon.sock, "switch1") for h in self.hosts]

    def host_overrides(self):
        """Override routes each host uses as best. The benchmark's overrides
        are IPv4: one question per host keeps the polling light."""
        # (A generator: a caller may take the time of each answer)
        return (birdsock.pipe_exported(h.daemon.sock, "ovrpipe4") for h in self.hosts)

    def switch_paths(self):
        """Paths the switch imported from the transits: one question (a
        pattern), so polling costs the switch next to nothing."""
        return birdsock.imported(self.switch.daemon.sock, '"tr*"')
