"""Namespaces, links and daemons: the ground the POP builder (pop.py)
stands on, in the manner of FRR's topotests.

  Topology    network namespaces and veth links, torn down as a whole
  Node        one namespace: run commands in it, start daemons in it
  Bird, GoBGP, ExaBGP, FRR
              real daemons, each with its own run dir under the node's dir
  wait_until, wait_for
              polling, because routing converges, it does not return

Names: every namespace of a run starts with bap<kind><pid>-<n>- (kind t for
tests, d for the demo, k for a demo kept with --keep), so two runs never
collide and a later run can tell a crashed run's leftovers (owner pid gone)
from a live one's.
"""


import ipaddress
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import tempfile
import time

import routegen

HERE = pathlib.Path(__file__).resolve().parent
NS_RE = re.compile(r"^bap([tdk])(\d+)-")


def log(msg):
    print(f"[pop] {msg}", flush=True)


def sh(*argv, check=True, timeout=60, env=None):
    """Run a command, return its stdout; on failure raise with its output."""
    r = subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                       timeout=timeout, env=env)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, argv))}: exit {r.returncode}\n"
                           f"{r.stdout}{r.stderr}")
    return r.stdout


# --- Polling --------------------------------------------------------------------

def wait_until(predicate, timeout=30.0, interval=0.1, what=None):
    """Poll until predicate() is truthy and return that value.

    Exceptions count as "not yet" (a daemon's socket may not exist yet);
    on timeout, raise TimeoutError naming the last value or exception.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            value, error = predicate(), None
        except Exception as e:  # pylint: disable=broad-except
            value, error = None, e
        if value:
            return value
        if time.monotonic() >= deadline:
            last = f"raised {error!r}" if error else f"returned {value!r}"
            raise TimeoutError(f"{what or getattr(predicate, '__name__', 'predicate')}"
                               f" not true after {timeout}s; last {last}")
        time.sleep(interval)


def wait_for(fn, expected, timeout=30.0, interval=0.1):
    """Poll fn() until it equals expected; return its last value either way,
    so that `assert wait_for(f, x) == x` shows what was there instead."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = fn()
        except Exception as e:  # pylint: disable=broad-except
            value = e
        if value == expected or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def time_until(predicate, timeout=5.0, interval=0.01):
    """Seconds until predicate() is true (polled), or None after timeout:
    for tests that measure how fast something happens."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            if predicate():
                return time.monotonic() - t0
        except Exception:  # pylint: disable=broad-except
            pass
        time.sleep(interval)
    return None


# --- Namespaces and links -------------------------------------------------------

def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _netns_list():
    return [line.split()[0] for line in sh("ip", "netns", "list").splitlines() if line.strip()]


def _destroy_netns(ns):
    """Kill whatever still runs in ns (only our daemons and their children
    live there), then delete it; deleting it also deletes its veth ends."""
    for _ in range(50):
        pids = [int(p) for p in sh("ip", "netns", "pids", ns, check=False).split()]
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.1)
    sh("ip", "netns", "del", ns, check=False)


def cleanup_stale(kinds="td"):
    """Delete namespaces left by runs whose process is gone (a crash, a kill -9).

    Kept demos (kind k) are left alone: their owner exits on purpose.
    """
    for ns in _netns_list():
        m = NS_RE.match(ns)
        if m and m.group(1) in kinds and not _pid_alive(int(m.group(2))):
            log(f"removing namespace {ns} left by dead run {m.group(2)}")
            _destroy_netns(ns)


def teardown_kept():
    """Tear down demos kept with --keep: their namespaces and run dirs."""
    found = False
    for ns in _netns_list():
        m = NS_RE.match(ns)
        if m and m.group(1) == "k":
            log(f"deleting namespace {ns} and what runs in it")
            _destroy_netns(ns)
            found = True
    for d in pathlib.Path(tempfile.gettempdir()).glob("bapk*"):
        if NS_RE.match(d.name) and d.is_dir():
            log(f"removing {d}")
            shutil.rmtree(d, ignore_errors=True)
            found = True
    if not found:
        log("no kept demo found")


class Topology:
    """Namespaces, links and daemons of one test (or one demo)."""

    _count = 0

    def __init__(self, name="pop", kind="t"):
        Topology._count += 1
        self.prefix = f"bap{kind}{os.getpid()}-{Topology._count}-"
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:60]
        self.workdir = pathlib.Path(tempfile.mkdtemp(prefix=f"{self.prefix}{safe}-"))
        self.workdir.chmod(0o755)       # FRR runs as user frr and must get in
        self.nodes = {}
        self.links = []
        self.daemons = []

    def add_node(self, name):
        assert name not in self.nodes and len(name) <= 15, name
        return Node(self, name)

    def link(self, a, b):
        """A veth pair a<->b; link i gets 10.<i/256>.<i%256>.0/24 and
        fd00:0:0:<i>::/64, a takes .1/::1 and b .2/::2. The interface in a is
        named after b and vice versa, so `ip -br a` reads like a diagram."""
        index = len(self.links) + 1
        lk = Link(index, a, b)
        sh("ip", "link", "add", b.name, "netns", a.ns, "type", "veth",
           "peer", "name", a.name, "netns", b.ns)
        for node, peer, ip4, ip6 in ((a, b, lk.a4, lk.a6), (b, a, lk.b4, lk.b6)):
            node.run("ip", "addr", "add", f"{ip4}/24", "dev", peer.name)
            # nodad: usable at once, not after duplicate address detection
            node.run("ip", "addr", "add", f"{ip6}/64", "dev", peer.name, "nodad")
            node.run("ip", "link", "set", peer.name, "up")
            node.links[peer.name] = lk
        self.links.append(lk)
        return lk

    def dump_logs(self, lines=30):
        """Print the tail of every daemon log: what a failed test needs."""
        for d in self.daemons:
            for path in d.logs():
                if path.exists():
                    tail = path.read_text(errors="replace").splitlines()[-lines:]
                    print(f"--- {path} (last {len(tail)} lines)")
                    print("\n".join(tail))

    def bug_lines(self):
        """{daemon: its log's <BUG> lines} for every BIRD that logged one:
        BIRD logs a failed ASSERT and carries on, so a test must look."""
        found = {}
        for d in self.daemons:
            if isinstance(d, Bird) and d.log.exists():
                bugs = [l for l in d.log.read_text(errors="replace").splitlines() if "<BUG>" in l]
                if bugs:
                    found[f"{d.node.name}/{d.name}"] = bugs
        return found

    def teardown(self, keep_workdir=False):
        """Stop every daemon, delete every namespace. Safe to call twice."""
        for d in reversed(self.daemons):
            try:
                d.stop()
            except Exception as e:  # pylint: disable=broad-except
                log(f"stopping {d}: {e}")
        self.daemons = []
        for node in self.nodes.values():
            _destroy_netns(node.ns)
        self.nodes = {}
        if keep_workdir:
            log(f"kept {self.workdir} for inspection")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)


class Link:
    def __init__(self, index, a, b):
        self.index, self.a, self.b = index, a, b
        net4 = ipaddress.ip_network(f"10.{index >> 8}.{index & 255}.0/24")
        net6 = ipaddress.ip_network(f"fd00:0:0:{index:x}::/64")
        self.a4, self.b4 = net4[1], net4[2]
        self.a6, self.b6 = net6[1], net6[2]


class Node:
    def __init__(self, topo, name):
        self.topo, self.name = topo, name
        self.ns = topo.prefix + name
        self.dir = topo.workdir / name
        self.dir.mkdir()
        self.links = {}          # peer name -> Link
        self.daemon = None       # the routing daemon: Bird, GoBGP, ExaBGP or FRR
        n = len(topo.nodes) + 1
        self.router_id = f"10.255.{n >> 8}.{n & 255}"
        topo.nodes[name] = self     # before it exists, so teardown never misses it
        sh("ip", "netns", "add", self.ns)
        self.run("ip", "link", "set", "lo", "up")
        # No duplicate address detection on links made later: link-local
        # addresses exist from the start, as on a box that has been up a
        # while. Else whether BGP sends one depends on a race with DAD.
        self.run("sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0")
        # A port taken down and up keeps its IPv6 addresses, as a switch's
        # does; Linux would otherwise drop them and the neighbor never returns.
        self.run("sysctl", "-qw", "net.ipv6.conf.default.keep_addr_on_down=1")

    def __repr__(self):
        return f"<Node {self.name} in {self.ns}>"

    def run(self, *argv, check=True, timeout=60):
        return sh("ip", "netns", "exec", self.ns, *argv, check=check, timeout=timeout)

    def addr4(self, peer):
        """This node's IPv4 address on its link to peer."""
        lk = self.links[peer.name]
        return lk.a4 if lk.a is self else lk.b4

    def addr6(self, peer):
        lk = self.links[peer.name]
        return lk.a6 if lk.a is self else lk.b6

    def set_link(self, peer, up):
        """`ip link set <peer> up|down` on this node: a port going down."""
        self.run("ip", "link", "set", peer.name, "up" if up else "down")

    def link_local(self, peer):
        """This node's fe80:: address on its link to peer."""
        out = self.run("ip", "-6", "-o", "addr", "show", "dev", peer.name, "scope", "link")
        return ipaddress.ip_address(out.split()[3].split("/")[0])


def rss_kib(pid, field="VmRSS"):
    """A process's resident memory now (VmRSS) or at its peak (VmHWM), in KiB."""
    with open(f"/proc/{pid}/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith(field + ":"))


# --- Daemons ------------------------------------------------------------------------

class Daemon:
    """A process started in a node's namespace, output in <dir>/<name>.out."""

    def __init__(self, node, name, argv, env=None):
        self.node, self.name = node, name
        self.out = node.dir / f"{name}.out"
        with open(self.out, "wb") as f:
            # Own session: a ^C on the test run reaches pytest, which then
            # tears down in order, instead of killing daemons under it.
            self.proc = subprocess.Popen(
                ["ip", "netns", "exec", node.ns] + [str(a) for a in argv],
                stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT,
                cwd=node.dir, env=env, start_new_session=True)
        node.topo.daemons.append(self)

    def __repr__(self):
        return f"<{self.name} pid {self.proc.pid} in {self.node.name}>"

    def logs(self):
        return [self.out]

    def alive(self):
        return self.proc.poll() is None

    def check_alive(self):
        if not self.alive():
            tail = self.out.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{self} exited with {self.proc.returncode}:\n{tail}")
        return True

    def stop(self, timeout=5):
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc.wait()

    def kill(self):
        """SIGKILL, as a crash would: no NOTIFICATION, the kernel closes the TCP."""
        if self.alive():
            self.proc.kill()
        self.proc.wait()


class Bird(Daemon):
    """A BIRD from bindir (patched or stock) with control socket <dir>/bird.ctl."""

    def __init__(self, node, bindir, config, name="bird"):
        self.bindir = pathlib.Path(bindir)
        self.conf = node.dir / "bird.conf"
        self.ctl = node.dir / "bird.ctl"
        self.log = node.dir / "bird.log"
        self.conf.write_text(config)
        # Parse first, so a config error fails the test with BIRD's message.
        sh(self.bindir / "bird", "-p", "-c", self.conf)
        self.ctl.unlink(missing_ok=True)        # a restart must not find the old socket
        self.started = time.time()
        super().__init__(node, name, [self.bindir / "bird", "-f", "-c", self.conf,
                                      "-s", self.ctl, "-P", node.dir / "bird.pid"])
        node.daemon = self
        self.wait_ready()

    def wait_ready(self):
        wait_until(lambda: self.check_alive() and self.cmd("show status"), 10,
                   what=f"BIRD on {self.node.name} answering")

    def logs(self):
        return [self.out, self.log]

    def cmd(self, command):
        """birdc <command>; the text without the 'BIRD x.y ready.' banner."""
        out = sh(self.bindir / "birdc", "-s", self.ctl, command, timeout=30)
        lines = out.splitlines()
        if lines and lines[0].startswith("BIRD ") and lines[0].endswith("ready."):
            lines = lines[1:]
        return "\n".join(lines)


class GoBGP(Daemon):
    """gobgpd with its gRPC API on a unix socket in its run dir, so instances
    never fight over port 50051 and the gobgp CLI needs no namespace."""

    def __init__(self, node, config):
        self.conf = node.dir / "gobgpd.toml"
        self.conf.write_text(config)
        self.target = f"unix://{node.dir / 'gobgp.sock'}"
        super().__init__(node, "gobgpd", ["gobgpd", "-f", self.conf, "--api-hosts", self.target,
                                          "--pprof-disable", "--log-plain", "-l", "info"])
        node.daemon = self
        wait_until(lambda: self.check_alive() and self.cli("global"), 10,
                   what=f"gobgpd on {node.name} answering")

    def cli(self, *args):
        return sh("gobgp", "--target", self.target, *args)

    def rib_count(self, family):
        """(destinations, paths) in the global RIB for family ipv4 or ipv6."""
        out = self.cli("global", "rib", "summary", "-a", family)
        m = re.search(r"Destination: (\d+), Path: (\d+)", out)
        return (int(m.group(1)), int(m.group(2))) if m else None

    def inject(self, v4, v6, timeout=30, as_path=()):
        """Put v4 and v6 prefixes into the (empty) global RIB via `gobgp mrt
        inject`: 15,000 routes in about 0.3 s, where one `gobgp global rib add`
        per prefix (8 ms each) takes two minutes.

        gobgp 3.10's inject exits without closing its gRPC stream, so the
        last few hundred records are lost. The file ends with copies of its
        last record: once any copy is in, everything before it is too.
        as_path: the path the routes carry (gobgpd adds its own AS on eBGP).
        """
        mrt = self.node.dir / "inject.mrt"
        routegen.write_mrt(mrt, v4, v6, as_path=as_path, pad=2000)
        self.cli("mrt", "inject", "global", mrt)
        want = ((len(v4), len(v4)), (len(v6), len(v6)))
        got = wait_for(lambda: (self.rib_count("ipv4"), self.rib_count("ipv6")), want, timeout)
        if got != want:
            raise RuntimeError(f"gobgpd on {self.node.name}: RIB has {got}, want {want}")


class ExaBGP(Daemon):
    """exabgp 4.2. Its API is a `process` (api_relay.py) that copies lines
    from a named pipe in the run dir to ExaBGP; send() writes to that pipe.
    ExaBGP's own named-pipe CLI looks in fixed places like /run/exabgp, which
    two instances would share."""

    def __init__(self, node, config, log_level="WARNING"):
        self.fifo = node.dir / "exabgp.cmd"
        os.mkfifo(self.fifo)
        self.conf = node.dir / "exabgp.conf"
        self.conf.write_text(config)
        env = dict(os.environ)
        env.update({
            "exabgp.daemon.user": "root",          # else it drops to nobody, who can't read our dir
            "exabgp.daemon.daemonize": "false",
            "exabgp.daemon.pid": str(node.dir / "exabgp.pid"),
            "exabgp.log.destination": "stdout",
            # INFO logs (and flushes) a line per announced route: slow.
            "exabgp.log.level": log_level,
            "exabgp.api.ack": "false",             # nobody reads the acks
            "exabgp.api.cli": "false",             # no /run/exabgp pipes
            "exabgp.tcp.bind": "",                  # connect out, never listen
        })
        super().__init__(node, "exabgp", ["exabgp", self.conf], env=env)
        node.daemon = self

    @staticmethod
    def api_process(node):
        """The `run` line for ExaBGP's config: our relay, reading the pipe."""
        return f"/usr/bin/python3 {HERE / 'api_relay.py'} {node.dir / 'exabgp.cmd'}"

    def send(self, *commands):
        """Write API commands; wait (not hang) until the relay reads the pipe."""
        fd = wait_until(lambda: self.check_alive() and
                        os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK), 10,
                        what=f"ExaBGP API pipe on {self.node.name}")
        os.set_blocking(fd, True)
        with os.fdopen(fd, "w") as f:
            for c in commands:
                f.write(c + "\n")


class FRR:
    """zebra + bgpd of FRR in one namespace, with their own config, pid
    files, zserv socket and vty sockets under <dir>/frr.

    Not -N: it adds nothing once every path is given, leaves a directory
    per name in /var/run/frr, and in vtysh it wins over --vty_socket.
    They run as user frr, as Debian runs them: FRR 8.4 refuses root unless
    root is in the frrvty group."""

    def __init__(self, node, bgpd_config, zebra_config="", timeout=15):
        self.node = node
        self.dir = node.dir / "frr"
        self.dir.mkdir()
        zserv = self.dir / "zserv.api"
        common = ["--vty_socket", self.dir, "-z", zserv,
                  "-u", "frr", "-g", "frr", "-P", "0"]
        (self.dir / "zebra.conf").write_text(zebra_config)
        (self.dir / "bgpd.conf").write_text(bgpd_config)
        for p in [self.dir, *self.dir.iterdir()]:
            shutil.chown(p, "frr", "frr")
        self.zebra = Daemon(node, "zebra", ["/usr/lib/frr/zebra", *common,
                                            "-f", self.dir / "zebra.conf",
                                            "-i", self.dir / "zebra.pid",
                                            "--log", f"file:{self.dir / 'zebra.log'}"])
        wait_until(lambda: self.zebra.check_alive() and zserv.exists(), timeout,
                   what=f"zebra on {node.name}")
        self.bgpd = Daemon(node, "bgpd", ["/usr/lib/frr/bgpd", *common,
                                          "-f", self.dir / "bgpd.conf",
                                          "-i", self.dir / "bgpd.pid",
                                          "--log", f"file:{self.dir / 'bgpd.log'}"])
        node.daemon = self
        wait_until(lambda: self.bgpd.check_alive() and self.vtysh("show bgp summary"),
                   timeout, what=f"bgpd on {node.name} answering")

    def vtysh(self, command):
        return sh("vtysh", "--vty_socket", self.dir, "-c", command)

    def vtysh_json(self, command):
        return json.loads(self.vtysh(command + " json"))
