"""The controller socket, used as a controller program would.

Switch switch1 with two egresses, t1 and t2 (stock BIRD transits, both
families on one session; t2 prepends its AS, so BGP's best path is t1's,
label 1001), a patched BIRD host h1 over labeled unicast. Requests go
through tools/autopilot-ctl or a plain socket; what counts is what the host
does with the prefix: the label in its best path's next hop (README, wire
contract) and the override marker (65000, 3, 1).
"""

import grp
import os
import pathlib
import random
import re
import shutil
import socket
import subprocess
import sys
import time

import pytest

from pop import (FIXED_V4 as V4, FIXED_V6 as V6, OVERRIDE_LC, Pop, Transit, bird_reply, birdc_rc,
                 converse, host_best, label, log_lines, show_overrides, wait_until)

TOOL = pathlib.Path(__file__).resolve().parents[2] / "tools" / "autopilot-ctl"
P, Q, R = V4
P6, Q6, R6 = V6
ALL = V4 + V6


def build(topo, bins, sockdir, socket_opts="", ap_options=""):
    path = sockdir / "ap.sock"
    pop = Pop(topo, bins, [Transit(split=False), Transit(split=False)], hosts=("h1",), prepend=True,
              ap_options=f'\tcontroller socket "{path}"{socket_opts};\n{ap_options}').build()
    pop.sock = path
    return pop


def ctl(pop, *args, stdin=None):
    """tools/autopilot-ctl -s SOCKET args: (exit status, stdout lines)."""
    r = subprocess.run([sys.executable, str(TOOL), "-s", str(pop.sock), "-t", "10", *args],
                       input=stdin, capture_output=True, timeout=60)
    assert not r.stderr, r.stderr
    return r.returncode, r.stdout.decode().splitlines()


def status(pop):
    rc, out = ctl(pop, "status")
    assert rc == 0, out
    return out


def targets(pop):
    rows = show_overrides(pop.switch)[1]
    return {p: r["target"] for p, r in rows.items()}


def test_ctl_override_moves_prefix(topo, bins, sockdir):
    pop = build(topo, bins, sockdir)
    pop.settle_overrides({}, ALL)
    assert ctl(pop, "ping") == (0, ["ok pong"])

    assert ctl(pop, "add", P, "t2", "--reason", "drain t1", "--tag", "r1") == (0, ["@r1 ok"])
    pop.settle_overrides({P: "t2"}, ALL)
    best = host_best(pop.hosts[0], P)
    assert best["as_path"] == "64502 64502" and OVERRIDE_LC in best["lcs"], best
    rows = show_overrides(pop.switch)[1]
    assert (rows[P]["target"], rows[P]["state"], rows[P]["source"], rows[P]["reason"]) == \
        ("t2", "active", "controller", "drain t1"), rows[P]

    # status answers once the requests before it are resolved: active, not "pending"
    assert converse(pop.sock, f"add {Q} t2\nstatus\n".encode()) == \
        ["ok", "ok overrides 2 active 2 pending 0 shadow 0"]
    pop.settle_overrides({P: "t2", Q: "t2"}, ALL)

    assert ctl(pop, "withdraw", Q) == (0, ["ok"])
    assert ctl(pop, "withdraw", Q) == (1, [f"error not-found no override for {Q}"])
    pop.settle_overrides({P: "t2"}, ALL)
    assert ctl(pop, "flush", "t1") == (0, ["ok 0"])
    assert ctl(pop, "flush") == (0, ["ok 1"])
    pop.settle_overrides({}, ALL)
    assert status(pop) == ["ok overrides 0 active 0 pending 0 shadow 0"]


def test_ctl_batch_with_bad_line_changes_nothing(topo, bins, sockdir):
    pop = build(topo, bins, sockdir)
    assert ctl(pop, "add", Q, "t2") == (0, ["ok"])
    pop.settle_overrides({Q: "t2"}, ALL)

    # The third line names an egress that does not exist: nothing applies
    f = sockdir / "bad.batch"
    f.write_text(f"add {P} t2\nwithdraw {Q}\nadd {R} t3\n")
    assert ctl(pop, "batch", str(f)) == \
        (1, ["error batch line 3: unknown-egress: no egress 't3' in protocol ap"])
    # A line that does not parse is named by the file's own numbering
    f.write_text(f"# today's moves\nadd {P} t2\n\nwithdraw {Q}\nadd {R}/24 t2\n")
    assert ctl(pop, "batch", str(f)) == \
        (1, [f"error batch line 5: bad-request: bad prefix '{R}/24': "
             f"length must be 0..32"])
    time.sleep(0.5)
    pop.settle_overrides({Q: "t2"}, ALL)
    assert targets(pop) == {Q: "t2"}

    f.write_text(f"add {P} t2\nwithdraw {Q}\nadd {R} t2\n")
    assert ctl(pop, "batch", str(f)) == (0, ["ok 3"])
    pop.settle_overrides({P: "t2", R: "t2"}, ALL)

    # A batch on a raw connection: only the commit and the abort answer
    assert converse(pop.sock, f"@b begin\nadd {Q} t2\nwithdraw {P}\ncommit\nbegin\nadd {P} t2\n@a abort\n".encode()) == \
        ["@b ok 2", "@a ok aborted 1"]
    pop.settle_overrides({Q: "t2", R: "t2"}, ALL)


def test_ctl_sync_is_a_diff(topo, bins, sockdir):
    pop = build(topo, bins, sockdir)
    assert ctl(pop, "add", P, "t2")[0] == 0
    assert ctl(pop, "add", Q, "t2", "--reason", "old")[0] == 0
    assert ctl(pop, "add", P6, "t2")[0] == 0
    pop.settle_overrides({P: "t2", Q: "t2", P6: "t2"}, ALL)
    time.sleep(2.2)

    # P unchanged, Q changed (reason), P6 gone, R new
    f = sockdir / "set"
    f.write_text(f"# the whole set\nadd {P} t2\nadd {Q} t2 reason \"new\"\nadd {R} t2\n")
    assert ctl(pop, "sync", str(f)) == (0, ["ok 3"])
    pop.settle_overrides({P: "t2", Q: "t2", R: "t2"}, ALL)
    rows = show_overrides(pop.switch)[1]
    assert set(rows) == {P, Q, R}
    assert rows[P]["age"] not in ("0s", "1s"), rows[P]       # kept, with its age
    assert rows[Q]["age"] in ("0s", "1s") and rows[Q]["reason"] == "new", rows[Q]
    assert rows[R]["age"] in ("0s", "1s"), rows[R]

    # A sync naming a bad egress, or with a withdraw, changes nothing
    f.write_text(f"add {P} t2\nadd {Q} nosuch\n")
    assert ctl(pop, "sync", str(f)) == \
        (1, ["error batch line 2: unknown-egress: no egress 'nosuch' in protocol ap"])
    f.write_text(f"add {P} t2\nwithdraw {Q}\n")
    assert ctl(pop, "sync", str(f)) == \
        (1, ["error batch line 2: bad-request: withdraw in a sync (a sync lists the whole set)"])
    assert set(targets(pop)) == {P, Q, R}

    # The empty set: everything goes
    assert ctl(pop, "sync", "-", stdin=b"") == (0, ["ok 0"])
    pop.settle_overrides({}, ALL)


def test_ctl_errors_change_nothing(topo, bins, sockdir):
    pop = build(topo, bins, sockdir, ap_options="\tmax overrides 2;")
    assert ctl(pop, "add", P, "t2") == (0, ["ok"])
    pop.settle_overrides({P: "t2"}, ALL)

    assert ctl(pop, "add", "198.51.100.1/24", "t2") == \
        (1, ["error bad-request bad prefix '198.51.100.1/24': host bits set"])
    assert ctl(pop, "add", "2001:db8:1::1/48", "t2") == \
        (1, ["error bad-request bad prefix '2001:db8:1::1/48': host bits set"])
    assert ctl(pop, "add", Q, "nosuch") == (1, ["error unknown-egress no egress 'nosuch' in protocol ap"])
    assert ctl(pop, "add", Q, "h1") == (1, ["error unknown-egress no egress 'h1' in protocol ap"])
    assert ctl(pop, "add", Q, "t2") == (0, ["ok"])
    assert ctl(pop, "add", R, "t2") == (1, ["error over-limit 2 overrides, the limit is 2"])
    assert ctl(pop, "add", P, "t1") == (0, ["ok"])           # a replacement is no new one
    assert ctl(pop, "add", P, "t2") == (0, ["ok"])
    pop.settle_overrides({P: "t2", Q: "t2"}, ALL)

    # Garbage on one connection: each line an error, the connection stays
    junk = (b"\x00\x01\x02\n\xff\xfe garbage \x80\n" + b"x" + os.urandom(500).replace(b"\n", b"") + b"\n"
            + b"add " + b"9" * 2000 + b"\n" + b"add 10.0.0.0/8 t1\x00\n" + b"ping\n")
    out = converse(pop.sock, junk)
    assert out[:2] == ["error bad-request column 1: bad byte 0x00",
                       "error bad-request column 1: bad byte 0xff"], out
    assert out[2].startswith("error bad-request "), out
    assert out[3:] == ["error bad-request line too long (more than 1024 bytes)",
                       "error bad-request column 18: bad byte 0x00",
                       "ok pong"], out

    pop.settle_overrides({P: "t2", Q: "t2"}, ALL)
    assert targets(pop) == {P: "t2", Q: "t2"}
    assert status(pop) == ["ok overrides 2 active 2 pending 0 shadow 0"]


def test_ctl_disconnect_keeps_overrides(topo, bins, sockdir):
    pop = build(topo, bins, sockdir)

    # A controller that adds, opens a batch, and dies without a word
    prog = (f"import socket, os, time\n"
            f"s = socket.socket(socket.AF_UNIX); s.connect({str(pop.sock)!r})\n"
            f"s.sendall(b'add {P} t2\\nadd {P6} t2\\nbegin\\nadd {Q} t2\\n')\n"
            f"assert s.recv(100) .startswith(b'ok')\n"
            f"print('ready', flush=True); time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", prog], stdout=subprocess.PIPE)
    try:
        assert proc.stdout.readline() == b"ready\n"
        pop.settle_overrides({P: "t2", P6: "t2"}, ALL)
        proc.kill()
    finally:
        proc.kill()
        proc.wait()

    # Fail static: what it applied stays, on the switch and on the host; its open batch is gone
    time.sleep(1)
    pop.settle_overrides({P: "t2", P6: "t2"}, ALL)
    assert targets(pop) == {P: "t2", P6: "t2"}
    assert ctl(pop, "ping") == (0, ["ok pong"])


def test_ctl_socket_default_access(topo, bins, sockdir):
    """Mode 0660 by default; with a group, its members may connect, others not."""
    try:
        gid = grp.getgrnam("daemon").gr_gid
    except KeyError:
        pytest.skip("no group daemon")
    if not shutil.which("runuser"):
        pytest.skip("no runuser")
    pop = build(topo, bins, sockdir, socket_opts=' group "daemon"')

    st = os.stat(pop.sock)
    assert (oct(st.st_mode & 0o7777), st.st_gid) == (oct(0o660), gid)

    def as_user(user):
        return subprocess.run(
            ["runuser", "-u", user, "--", sys.executable, "-c",
             "import socket, sys\n"
             "s = socket.socket(socket.AF_UNIX)\n"
             "try:\n"
             f"    s.connect({str(pop.sock)!r})\n"
             "except PermissionError:\n"
             "    print('denied'); sys.exit(0)\n"
             f"s.sendall(b'add {P} t2\\n'); print(s.recv(100).decode().strip())\n"],
            capture_output=True, text=True, timeout=30).stdout.strip()

    assert as_user("nobody") == "denied"
    pop.settle_overrides({}, ALL)
    assert as_user("daemon") == "ok"
    pop.settle_overrides({P: "t2"}, ALL)


def test_ctl_socket_mode_and_group(topo, bins, sockdir):
    """What an operator writes (README): an octal mode and a group."""
    try:
        gid = grp.getgrnam("daemon").gr_gid
    except KeyError:
        pytest.skip("no group daemon")
    pop = build(topo, bins, sockdir, socket_opts=' mode 0640 group "daemon"')
    st = os.stat(pop.sock)
    assert (oct(st.st_mode & 0o7777), st.st_gid) == (oct(0o640), gid)

    # show says where it listens, with what access, and who is connected
    sw = pop.switch
    assert f"Controller socket: {pop.sock} (mode 0640, group daemon): listening, 0 clients" \
        in sw.daemon.cmd("show autopilot ap")

    # A configuration whose socket cannot work is refused, the old one stays
    conf = sw.daemon.conf.read_text()
    sw.daemon.conf.write_text(conf.replace('group "daemon"', 'group "no-such-group-here"'))
    rc, out = birdc_rc(sw.daemon, "configure")
    assert rc == 1 and f"controller socket {pop.sock}: no group 'no-such-group-here'" in out, out
    assert os.stat(pop.sock).st_gid == gid
    sw.daemon.conf.write_text(conf.replace(str(pop.sock), str(sockdir / "no-such-dir" / "ap.sock")))
    rc, out = birdc_rc(sw.daemon, "configure")
    assert rc == 1 and "no directory" in out, out
    assert ctl(pop, "ping") == (0, ["ok pong"])


def test_ctl_ipv6(topo, bins, sockdir):
    pop = build(topo, bins, sockdir)
    assert ctl(pop, "add", P6, "t2") == (0, ["ok"])
    pop.settle_overrides({P6: "t2"}, ALL)
    assert ctl(pop, "add", "2001:db8:1::/47", "t2") == \
        (1, ["error bad-request bad prefix '2001:db8:1::/47': host bits set"])

    f = sockdir / "v6.batch"
    f.write_text(f"add {Q6} t2\nwithdraw {P6}\nadd {R6} nosuch\n")
    assert ctl(pop, "batch", str(f)) == \
        (1, ["error batch line 3: unknown-egress: no egress 'nosuch' in protocol ap"])
    f.write_text(f"add {Q6} t2\nwithdraw {P6}\nadd {R6} t2\n")
    assert ctl(pop, "batch", str(f)) == (0, ["ok 3"])
    pop.settle_overrides({Q6: "t2", R6: "t2"}, ALL)

    f.write_text(f"add {P6} t2\nadd {P} t2\n")
    assert ctl(pop, "sync", str(f)) == (0, ["ok 2"])
    pop.settle_overrides({P6: "t2", P: "t2"}, ALL)
    assert status(pop) == ["ok overrides 2 active 2 pending 0 shadow 0"]


def test_audit_log(topo, bins, sockdir):
    """Every change of an override is logged once, with prefix, old and new
    target, who made it and why; a sync of a thousand is a dozen lines."""
    pop = build(topo, bins, sockdir)
    sw = pop.switch

    def lines(pattern):
        return log_lines(sw, pattern)

    assert ctl(pop, "add", P, "t2", "--reason", "link A hot") == (0, ["ok"])
    assert wait_until(lambda: lines(r"ap: Controller #\d+ connected"), 5)
    conn = re.search(r"Controller #(\d+) connected$", lines(r"ap: Controller #\d+ connected$")[0]).group(1)
    assert lines(rf"ap: Override {P}: none -> t2 \(added by controller #{conn}, reason \"link A hot\"\)$")
    assert wait_until(lambda: lines(rf"ap: Override {P} -> t2 active: path of {P} via t2 \(label {label('t2')}\)"), 5)

    # An operator replaces it, the controller takes it back, the operator flushes
    code, out = bird_reply(sw.daemon, f'autopilot add ap {P} t1 reason "operator"')
    assert code < 8000, out
    assert lines(rf"ap: Override {P}: t2 -> t1 \(replaced by birdc, reason \"operator\"\)$")
    assert ctl(pop, "add", P, "t2") == (0, ["ok"])
    assert lines(rf"ap: Override {P}: t1 -> t2 \(replaced by controller #\d+\)$")
    code, out = bird_reply(sw.daemon, "autopilot flush ap")
    assert code < 8000, out
    assert lines(rf"ap: Override {P}: t2 -> none \(withdrawn by birdc \(flush\)\)$")

    # Expiry is logged as such
    assert ctl(pop, "add", Q, "t2", "--expires", "1") == (0, ["ok"])
    assert wait_until(lambda: lines(rf"ap: Override {Q}: t2 -> none \(expired\)$"), 5)

    # A sync of 1,000: ten lines, then one that sums up the rest
    body = "".join(f"add 10.{i // 256}.{i % 256}.0/24 t2\n" for i in range(1000))
    assert ctl(pop, "sync", "-", stdin=body.encode()) == (0, ["ok 1000"])
    summary = wait_until(lambda: lines(r"ap: \.\.\. and \d+ more override changes by controller"), 5)
    assert re.search(r"\.\.\. and 990 more override changes by controller #\d+ \(sync\) \(1000 added, "
                     r"0 replaced, 0 withdrawn, 0 expired, 0 restored\); 1000 in all$", summary[-1]), summary
    assert len(lines(r"ap: Override 10\.\d+\.\d+\.0/24: none -> t2 \(added by controller #\d+ \(sync\)\)$")) == 10
    assert lines(r"ap: Controller #\d+ disconnected after \d+ requests")


def test_acknowledged_means_saved(topo, bins, sockdir):
    """kill -9 at many moments around replies and writes: whatever was
    acknowledged comes back after the restart; what was not is there whole
    or not at all (a sync is never half applied)."""
    pop = build(topo, bins, sockdir)
    rng = random.Random(1)

    def restored():
        pop.start_switch()
        wait_until(lambda: "ap: up" in pop.switch.daemon.cmd("show autopilot ap"), 10)
        return set(show_overrides(pop.switch)[1])

    def syncset(i):
        return {f"10.{i % 250}.{k // 256}.{k % 256}" + "/32" for k in range(2000)}

    acked = set()
    for i in range(24):
        want = syncset(i) if i % 2 == 0 else acked | {f"192.0.2.{i}/32"}
        body = "sync\n" + "".join(f"add {p} t2\n" for p in sorted(want)) + "commit\n" \
            if i % 2 == 0 else f"add 192.0.2.{i}/32 t2\n"
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(20)
            s.connect(str(pop.sock))
            s.sendall(body.encode())
            if i % 3 == 2:
                # Killed before the reply, somewhere in the write: old or new set, whole
                time.sleep(rng.uniform(0, 0.004))
                pop.switch.daemon.kill()
                got = restored()
                assert got in (acked, want), (i, len(got), len(acked), len(want))
                acked = got
                continue
            reply = s.makefile("r").readline()
            pop.switch.daemon.kill()          # the instant after "ok"
        assert reply.startswith("ok"), reply
        got = restored()
        assert got == want, (i, len(got ^ want), sorted(got ^ want)[:5])
        acked = got
    assert log_lines(pop.switch, r"ap: Restored \d+ overrides from ")


def test_ctl_connections_limited_and_no_spin_without_descriptors(topo, bins, sockdir):
    import resource
    pop = build(topo, bins, sockdir, socket_opts=" connections 2")
    sw = pop.switch
    pid = sw.daemon.proc.pid

    def cpu_s():
        fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def connect():
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(str(pop.sock))
        return s

    def ping(s):
        s.sendall(b"ping\n")
        return s.recv(100)

    # Two at once; a third is told why and closed; the two go on
    a, b = connect(), connect()
    assert ping(a) == b"ok pong\n" and ping(b) == b"ok pong\n"
    with connect() as c:
        assert c.recv(200) == b"error over-limit 2 connections open, the limit is 2\n"
        assert c.recv(200) == b""
    assert ping(a) == b"ok pong\n"
    show = sw.daemon.cmd("show autopilot ap")
    assert "listening, 2 clients (at most 2), 1 refused" in show, show
    assert log_lines(sw, r"Controller connection refused: 2 open, the limit is 2")
    a.close()
    b.close()

    # Out of descriptors (a process limit at the lowest free one, holes filled by
    # accepted connections): accept() fails, and BIRD pauses instead of spinning
    sw.daemon.conf.write_text(sw.daemon.conf.read_text().replace(" connections 2", " connections 64"))
    assert "Reconfigured" in sw.daemon.cmd("configure")
    old = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    fds = sorted(int(f) for f in os.listdir(f"/proc/{pid}/fd"))
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (fds[-1] + 1, old[1]))
    held, waiting = [], None
    try:
        for _ in range(40):
            s = connect()
            s.sendall(b"ping\n")
            s.settimeout(1)
            try:
                assert s.recv(100) == b"ok pong\n"
                held.append(s)
            except socket.timeout:
                waiting = s
                break
        assert waiting, "every connection was accepted: no descriptor limit reached"
        assert wait_until(lambda: log_lines(sw, r"accept failed: .*Too many open files; accepting again in 1 s"), 5)
        cpu0, t0 = cpu_s(), time.monotonic()
        time.sleep(2)
        used = (cpu_s() - cpu0) / (time.monotonic() - t0)
        assert used < 0.2, f"BIRD used {used:.0%} of a CPU with a connection it cannot accept"
        assert ping(held[0]) == b"ok pong\n"
    finally:
        resource.prlimit(pid, resource.RLIMIT_NOFILE, old)
    # Descriptors again: the connection that waited is taken within the pause
    waiting.settimeout(5)
    assert waiting.recv(100) == b"ok pong\n"
    for s in held + [waiting]:
        s.close()
    assert wait_until(lambda: "listening, 0 clients (at most 64)" in sw.daemon.cmd("show autopilot ap"), 10)
    assert topo.bug_lines() == {}
