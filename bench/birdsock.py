"""BIRD's control socket, spoken directly, and what the benchmark reads there.

Polling with birdc forks a process per question; on a 2-core machine that
steals time from the daemons being measured. One connection per daemon,
kept open, answers in well under a millisecond.

Reply format: lines `DDDD-text` (more follow), ` text` (continuation of
the previous code) and a final `DDDD text`; codes >= 8000 are errors.
"""

import re
import socket


class BirdError(RuntimeError):
    pass


class BirdSock:
    def __init__(self, path, timeout=60):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(self.path)
        self.buf = b""
        self._reply()               # the "0001 BIRD x.y ready." banner

    def close(self):
        self.sock.close()

    def _line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise BirdError(f"{self.path}: connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode(errors="replace")

    def _reply(self):
        lines, code = [], 0
        while True:
            line = self._line()
            if line[:4].isdigit():
                code = int(line[:4])
                lines.append(line[5:])
                if line[4:5] == " ":
                    return code, "\n".join(lines)
            else:
                lines.append(line[1:])

    def send(self, command):
        """Send a command without reading its reply (see reply())."""
        self.sock.sendall(command.encode() + b"\n")

    def reply(self, check=True):
        code, text = self._reply()
        if check and code >= 8000:
            raise BirdError(f"{self.path}: {text}")
        return text

    def cmd(self, command, check=True):
        self.send(command)
        return self.reply(check)


def imported(sock, proto):
    """Routes imported by all channels of proto (`show protocols all`)."""
    text = sock.cmd(f"show protocols all {proto}")
    return sum(int(n) for n in re.findall(r"Routes:\s+(\d+) imported", text))


def pipe_exported(sock, proto):
    """Routes a pipe has put into its peer table."""
    text = sock.cmd(f"show protocols all {proto}")
    return sum(int(n) for n in re.findall(r"Routes:\s+\d+ imported, (\d+) exported", text))


def established(sock, *protos):
    text = sock.cmd("show protocols")
    states = {l.split()[0]: l for l in text.splitlines()[1:] if l.split()}
    return all(p in states and "Established" in states[p] for p in protos)


def overrides(sock, name="ap"):
    """(total, active, pending) from `show autopilot NAME`."""
    text = sock.cmd(f"show autopilot {name}")
    m = re.search(r"Overrides: (\d+) \((\d+) active, (\d+) pending", text)
    if not m:
        raise BirdError(f"unexpected `show autopilot` output:\n{text}")
    return tuple(int(x) for x in m.groups())


def memory_total(sock):
    """BIRD's own account of its memory (`show memory`), effective bytes."""
    text = sock.cmd("show memory")
    m = re.search(r"Total:\s+([\d.]+)\s*(\S*B)", text)
    units = {"B": 1, "kB": 1024, "MB": 1024**2, "GB": 1024**3}
    return float(m.group(1)) * units[m.group(2)]
