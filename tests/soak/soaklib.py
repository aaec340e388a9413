"""What the soaks share: a POP of real BIRDs built with the integration
harness (tests/integration: pop.py, ovr_helpers.py), a controller client,
a persistent birdc connection for fast sampling, memory readings.

The soaks are scripts, not pytest tests: they run for minutes to an hour,
print their progress, and write their figures as JSON (and a CSV of
samples where there are any) to the output directory.
"""

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
from pop import Topology, wait_until            # noqa: E402,F401
from ovr_helpers import OvrPop, Transit, bird_reply, label, pp_label  # noqa: E402,F401


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


class BigTransit(Transit):
    """A stock BIRD transit announcing the given IPv4 prefixes."""

    def __init__(self, name, v4):
        super().__init__(name, "bird", ("ipv4",))
        self._v4 = v4

    def v4(self):
        return self._v4

    def v6(self):
        return []


class SoakPop(OvrPop):
    """OvrPop with large tables: converged when every host has every
    transit's paths (counts, not a query per prefix). extra_global and
    backups add an MPLS table and egress protection to the switch."""

    def __init__(self, *a, backups=None, **kw):
        super().__init__(*a, **kw)
        self.backups = backups or {}

    def switch_config(self, ap_options=None):
        conf = super().switch_config(ap_options)
        if self.backups:
            conf = conf.replace("protocol autopilot ap {",
                                "mpls domain md;\nmpls table mt;\n\nprotocol autopilot ap {\n"
                                "\tmpls { table mt; };", 1)
            for e, bk in self.backups.items():
                conf = conf.replace(f"egress {e} {{ label {label(e)}; pp label {pp_label(e)}; }};",
                                    f"egress {e} {{ label {label(e)}; pp label {pp_label(e)}; "
                                    f"backup {', '.join(bk)}; }};")
        return conf

    def wait_converged(self, timeout=180):
        want = sum(len(t.v4()) for t in self.transits)
        wait_until(lambda: all(host_paths(h) == want for h in self.hosts), timeout,
                   interval=0.5, what=f"hosts have {want} paths")


def host_paths(node, table="master4"):
    """Routes in a BIRD's table (every path, ADD-PATH included)."""
    code, out = bird_reply(node.daemon, f"show route count table {table}")
    m = re.search(r"(\d+) of (\d+) routes", out)
    return int(m.group(2)) if m else None


def proto_routes(node, proto, table="master4"):
    """Routes of one protocol in a table (e.g. an egress's paths)."""
    code, out = bird_reply(node.daemon, f"show route table {table} protocol {proto} count")
    m = re.search(r"(\d+) of (\d+) routes", out)
    return int(m.group(1)) if m else 0


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


def rss_kb(pid):
    """(VmRSS, VmHWM) of a process in KiB."""
    st = pathlib.Path(f"/proc/{pid}/status").read_text()
    get = lambda k: int(re.search(rf"^{k}:\s+(\d+) kB", st, re.M).group(1))  # noqa: E731
    return get("VmRSS"), get("VmHWM")


def bird_memory(cli):
    """BIRD's own `show memory` total (effective), in KiB."""
    code, lines = cli.cmd("show memory")
    for l in lines:
        m = re.match(r"\s*Total:\s+([\d.]+)\s+(B|kB|MB|GB)", l)
        if m:
            return float(m.group(1)) * {"B": 1 / 1024, "kB": 1, "MB": 1024, "GB": 1024 ** 2}[m.group(2)]
    return None


def bug_lines(topo):
    return topo.bug_lines()


def write_json(path, data):
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    log(f"figures written to {path}")


def git_commit():
    try:
        return pop.sh("git", "-C", HERE, "rev-parse", "--short", "HEAD").strip()
    except Exception:  # pylint: disable=broad-except
        return "unknown"


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
