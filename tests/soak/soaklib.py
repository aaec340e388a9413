"""What the soaks share: a run (Soak: arguments, output, topology,
failures, figures), a POP of real BIRDs built with the integration harness
(tests/integration/pop.py), a controller client, a persistent birdc
connection for fast sampling, and the samplers (routes, memory).

The soaks are scripts, not pytest tests: they run for minutes to an hour,
print their progress, and write their figures as JSON (and a CSV of
samples where there are any) to the output directory.
"""

import argparse
import ipaddress
import json
import os
import pathlib
import re
import socket
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "integration"))

import pop                                      # noqa: E402
from pop import Pop, Topology, Transit, bird_reply, label, rss_kib, wait_until  # noqa: E402,F401


def log(msg):
    print(f"[soak {time.strftime('%H:%M:%S')}] {msg}", flush=True)


class Bins:
    """patched and stock BIRD directories, each holding bird and birdc."""

    def __init__(self, patched, stock):
        self.patched, self.stock = pathlib.Path(patched).resolve(), pathlib.Path(stock).resolve()
        for d in (self.patched, self.stock):
            for b in ("bird", "birdc"):
                if not (d / b).is_file():
                    sys.exit(f"soak: {d / b} not found")


def prefixes4(n, base="16.0.0.0"):
    """n consecutive /24s from base: a table any size the soak needs."""
    b = int(ipaddress.IPv4Address(base))
    return [f"{ipaddress.IPv4Address(b + i * 256)}/24" for i in range(n)]


def big(v4):
    """A stock BIRD transit announcing the given IPv4 prefixes."""
    return Transit(families=("ipv4",), v4=v4, v6=[])


def soak_pop(topo, bins, transits, hosts=(), backups=None, ap_options=""):
    """The integration harness's Pop with prepend (t1's paths are BGP's
    best) and egress protection backups {egress: [backups]}; build it with
    .build(timeout=180): its tables are large."""
    p = Pop(topo, bins, transits, hosts, prepend=True, ap_options=ap_options)
    p.backups = backups or {}
    return p


def routes(reader, command):
    """The first number of `... count` output ("X of Y routes"): the
    routes a command selects. reader: a Cli (one round trip) or a node."""
    if isinstance(reader, Cli):
        lines = reader.cmd(command)[1]
    else:
        lines = bird_reply(reader.daemon, command)[1].splitlines()
    for l in lines:
        m = re.search(r"(\d+) of (\d+) routes", l)
        if m:
            return int(m.group(1))
    return 0


class Cli:
    """One connection to BIRD's control socket, kept open: a sample costs
    one round trip, not a birdc process."""

    def __init__(self, path, timeout=30):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(str(path))
        self.f = self.s.makefile("rwb")
        hello = self.f.readline()
        assert hello.startswith(b"0001 "), hello

    def cmd(self, command):
        """(code of the last line, text lines) of one command."""
        self.f.write(command.encode() + b"\n")
        self.f.flush()
        lines = []
        while True:
            line = self.f.readline()
            if not line:
                raise EOFError(f"BIRD closed the CLI during {command!r}")
            line = line.decode(errors="replace").rstrip("\n")
            if line.startswith(" "):
                lines.append(line[1:])
                continue
            code, sep, text = line[:4], line[4:5], line[5:]
            if text or sep == "-":
                lines.append(text)
            if sep == " ":
                return int(code), lines

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


class Controller:
    """One controller-socket connection (docs/controller-protocol.md)."""

    def __init__(self, path, timeout=120):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(str(path))
        self.buf = b""

    def send(self, data):
        self.s.sendall(data if isinstance(data, bytes) else data.encode())

    def reply(self):
        """The next reply line; EOFError when the switch closed."""
        while b"\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("controller socket closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()

    def request(self, line):
        self.send(line + "\n")
        return self.reply()

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def sync_text(overrides):
    """sync ... commit of {prefix: target}."""
    return "sync\n" + "".join(f"add {p} {t}\n" for p, t in overrides.items()) + "commit\n"


def memory(pid, cli=None):
    """One memory sample of a BIRD: (VmRSS, VmHWM, BIRD's own `show
    memory` total or None), in KiB."""
    return rss_kib(pid), rss_kib(pid, "VmHWM"), bird_memory(cli) if cli else None


def bird_memory(cli):
    """BIRD's own `show memory` total (effective), in KiB."""
    code, lines = cli.cmd("show memory")
    for l in lines:
        m = re.match(r"\s*Total:\s+([\d.]+)\s+(B|kB|MB|GB)", l)
        if m:
            return float(m.group(1)) * {"B": 1 / 1024, "kB": 1, "MB": 1024, "GB": 1024 ** 2}[m.group(2)]
    return None


def write_json(path, data):
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    log(f"figures written to {path}")


def git_commit():
    try:
        return pop.sh("git", "-C", HERE, "rev-parse", "--short", "HEAD").strip()
    except Exception:  # pylint: disable=broad-except
        return "unknown"


def parser(doc):
    """The soaks' arguments: patched, stock, outdir; add your own."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("patched")
    ap.add_argument("stock")
    ap.add_argument("outdir")
    return ap


class Soak:
    """One soak run: its BIRDs, output directory, topology and failures.

        with Soak(args, "crash") as run:
            ...                     # run.bins, run.out, run.topo, run.failures
            run.finish({figures})

    finish() counts any <BUG> line as a failure and writes
    OUTDIR/<name>.json (the figures, the first 50 failures and their count); on the way out the topology goes (kept for a look
    when something failed) and the process exits 1 after a failure."""

    def __init__(self, args, name):
        self.name = name
        self.bins = Bins(args.patched, args.stock)
        self.out = pathlib.Path(args.outdir).resolve()
        self.out.mkdir(parents=True, exist_ok=True)
        self.topo = Topology(f"soak-{name}", kind="t")
        self.failures = []
        self.t0 = time.monotonic()
        self.started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
        self.commit = git_commit()      # what ran: the tree may move on meanwhile

    def __enter__(self):
        return self

    def finish(self, figures):
        bugs = self.topo.bug_lines()
        if bugs:
            self.failures.append(f"<BUG> lines: {bugs}")
        res = {"soak": self.name, "commit": self.commit, "started": self.started,
               "minutes": round((time.monotonic() - self.t0) / 60, 1), **figures,
               "failures": self.failures[:50], "failure_count": len(self.failures)}
        write_json(self.out / f"{self.name}.json", res)
        return res

    def __exit__(self, etype, value, tb):
        if etype is not None and self.topo.daemons:
            self.topo.dump_logs()
        self.topo.teardown(keep_workdir=bool(self.failures))
        if etype is None:
            if self.failures:
                log(f"FAILED: {len(self.failures)}: {self.failures[:5]}")
                sys.exit(1)
            log("passed")
        return False


class Inotify:
    """Linux inotify on one directory (ctypes, standard library only): wait
    for a file of a given name to be created or written, without polling."""

    IN_MODIFY, IN_CREATE = 0x2, 0x100

    def __init__(self, directory):
        import ctypes
        import ctypes.util
        self.libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        self.fd = self.libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        if self.libc.inotify_add_watch(self.fd, str(directory).encode(),
                                       self.IN_MODIFY | self.IN_CREATE) < 0:
            raise OSError(ctypes.get_errno(), "inotify_add_watch")

    def drain(self):
        try:
            while os.read(self.fd, 65536):
                pass
        except BlockingIOError:
            pass

    def wait(self, name, mask, timeout):
        """True once an event in mask names `name`, False after timeout."""
        import select
        import struct
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                return False
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                continue
            off = 0
            while off < len(data):
                _, m, _, ln = struct.unpack_from("iIII", data, off)
                n = data[off + 16:off + 16 + ln].rstrip(b"\0").decode()
                off += 16 + ln
                if m & mask and n == name:
                    return True

    def close(self):
        os.close(self.fd)
