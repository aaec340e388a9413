"""Observation: the switch answers which paths exist (issue 15).

The POP of test_controller.py: switch1 with egresses t1 and t2 (stock BIRD
transits, both families on one session; t2 prepends its AS, so BGP's best
path is t1's), a patched host h1, the controller socket. What `paths` and
`egresses` say is checked against what an operator reads with birdc on the
same switch: `show route for PREFIX all` and `show autopilot ap`.
"""

import json
import re
import socket
import subprocess
import time

from pop import (FIXED_V4 as V4, FIXED_V6 as V6, ONLY_T1_V4, ONLY_T1_V6, Pop, Transit, bird_reply, converse,
                 label, pp_label, show_overrides, show_routes, wait_until)
from test_controller import ALL, build, ctl

P, Q, R = V4
P6, Q6, R6 = V6
T1, T2 = label("t1"), label("t2")

ROUTE_HEAD = re.compile(r"^(\S+)?(?: mpls \d+)?\s+(unicast|unreachable|blackhole|prohibit)\s+"
                        r"\[(\S+) (\d\d:\d\d:\d\d)(?:\.\d+)?[^\]]*\]\s*(\*)?\s*\((\d+)\)(?:\s*\[.*\])?$")


def show_route_all(sw, prefix):
    """`show route for PREFIX all` on the switch: [{proto, best, pref, time,
    gw, iface, attrs: {name: text}}], in BIRD's order, for the net listed
    (the prefix itself, or the covering one BIRD picks)."""
    code, out = bird_reply(sw.daemon, f"show route for {prefix} all")
    assert code < 8000, out
    routes, net = [], None
    for line in out.splitlines():
        if line.startswith("Table "):
            continue
        m = ROUTE_HEAD.match(line)
        if m:
            net = m.group(1) or net
            routes.append({"net": net, "proto": m.group(3), "time": m.group(4), "best": bool(m.group(5)),
                           "pref": int(m.group(6)), "gw": None, "iface": None, "attrs": {}})
            continue
        m = re.match(r"^\s+via (\S+) on (\S+)", line)
        if m:
            routes[-1]["gw"], routes[-1]["iface"] = m.group(1), m.group(2)
            continue
        m = re.match(r"^\s+([A-Za-z_.]+): ?(.*)$", line)
        assert m and routes, f"cannot read {line!r} in:\n{out}"
        routes[-1]["attrs"][m.group(1)] = m.group(2).strip()
    return routes


def request(pop, line):
    """One request on a fresh connection: the reply line, parsed as
    (word, JSON object or text)."""
    out = converse(pop.sock, (line + "\n").encode())
    assert len(out) == 1, out
    word, _, rest = out[0].partition(" ")
    if word == "ok":
        return word, json.loads(rest)
    return word, rest


def as_path_text(path):
    """JSON AS path as BIRD prints it: sets in braces."""
    return " ".join("{" + " ".join(map(str, x)) + "}" if isinstance(x, list) else str(x) for x in path)


def pairs(text, n):
    """'(65000, 1) (65000, 2)' -> [[65000, 1], [65000, 2]] (n numbers each)."""
    return [list(map(int, t)) for t in re.findall(r"\(" + r",\s*".join([r"(\d+)"] * n) + r"\)", text or "")]


def agree(path, route):
    """Every field `paths` reports against what show route all says."""
    a = route["attrs"]
    assert path["from"] == route["proto"], (path, route)
    assert path["best"] == route["best"], (path, route)
    assert path["preference"] == route["pref"], (path, route)
    assert path["next_hop"] == route["gw"] and path["iface"] == route["iface"], (path, route)
    assert path["bgp_next_hop"] == a["BGP.next_hop"].split(), (path, route)
    assert as_path_text(path["as_path"]) == a["BGP.as_path"], (path, route)
    assert path["origin"] == a["BGP.origin"], (path, route)
    assert str(path["local_pref"]) == a.get("BGP.local_pref", "None"), (path, route)
    assert str(path["med"]) == a.get("BGP.med", "None"), (path, route)
    assert path["communities"] == pairs(a.get("BGP.community"), 2), (path, route)
    assert path["large_communities"] == pairs(a.get("BGP.large_community"), 3), (path, route)
    assert str(path["label"]) == a.get("mpls_label", "None"), (path, route)
    # The path's time of day in show route, against "since" (whole seconds)
    since = time.strftime("%H:%M:%S", time.localtime(path["since"]))
    before = time.strftime("%H:%M:%S", time.localtime(path["since"] - 1))
    after = time.strftime("%H:%M:%S", time.localtime(path["since"] + 1))
    assert route["time"] in (before, since, after), (path, route)
    assert 0 <= path["age"] < 600, path


def check_paths(pop, prefix):
    """paths PREFIX against show route for PREFIX all; the reply."""
    word, rep = request(pop, f"paths {prefix}")
    assert word == "ok", rep
    assert rep["prefix"] == prefix, rep
    routes = [r for r in show_route_all(pop.switch, prefix) if r["net"] == prefix]
    # The same paths: one for one, by protocol (each egress and ap once here)
    assert sorted(p["from"] for p in rep["paths"]) == sorted(r["proto"] for r in routes), (rep, routes)
    for path in rep["paths"]:
        agree(path, next(r for r in routes if r["proto"] == path["from"]))
    assert [p["rank"] for p in rep["paths"]] == list(range(1, len(rep["paths"]) + 1)), rep
    assert not rep["paths"] or rep["paths"][0]["best"], rep
    return rep


def test_paths_agree_with_show_route(topo, bins, sockdir):
    pop = build(topo, bins, sockdir)
    pop.settle_overrides({}, ALL)

    for prefix in V4 + V6:
        rep = check_paths(pop, prefix)
        got = [(p["egress"], p["label"], p["pp_label"], p["override_copy"]) for p in rep["paths"]]
        assert got == [("t1", T1, pp_label("t1"), False), ("t2", T2, pp_label("t2"), False)], rep
        assert rep["override"] is None and rep["covering"] is None, rep
        assert [len(p["as_path"]) for p in rep["paths"]] == [1, 2], rep

    # Overrides in place: one active, one on a more specific (covering
    # prefix's path), one pending (no path from t2), in both families
    more4, more6 = "203.0.113.128/25", "2001:db8:2:8000::/49"
    adds = [f"add {P} t2 reason \"drain t1\"", f"add {P6} t2", f"add {more4} t2", f"add {more6} t2",
            f"add {ONLY_T1_V4} t2", f"add {ONLY_T1_V6} t2"]
    assert converse(pop.sock, "".join(l + "\n" for l in adds).encode()) == ["ok"] * len(adds)
    pop.settle_overrides({P: "t2", P6: "t2", more4: "t2", more6: "t2"}, prefixes=[P, P6, more4, more6])

    for prefix in (P, P6):
        rep = check_paths(pop, prefix)
        got = [(p["from"], p["egress"], p["label"], p["override_copy"], p["best"]) for p in rep["paths"]]
        # The copy wins (higher preference), then BGP's own order
        assert got == [("ap", "t2", T2, True, True), ("t1", "t1", T1, False, False),
                       ("t2", "t2", T2, False, False)], rep
        o = rep["override"]
        assert (o["target"], o["state"], o["source"], o["via"], o["via_label"], o["path_of"]) == \
            ("t2", "active", "controller", "t2", T2, prefix), o
        assert o["reason"] == ("drain t1" if prefix == P else None), o

    for more, cover in ((more4, "203.0.113.0/24"), (more6, "2001:db8:2::/48")):
        rep = check_paths(pop, more)
        assert [p["from"] for p in rep["paths"]] == ["ap"], rep
        assert rep["override"]["path_of"] == cover, rep
        assert rep["covering"]["prefix"] == cover, rep
        routes = show_route_all(pop.switch, cover)
        assert sorted(p["from"] for p in rep["covering"]["paths"]) == sorted(r["proto"] for r in routes)
        for path in rep["covering"]["paths"]:
            agree(path, next(r for r in routes if r["proto"] == path["from"]))

    for prefix in (ONLY_T1_V4, ONLY_T1_V6):
        rep = check_paths(pop, prefix)
        assert [p["egress"] for p in rep["paths"]] == ["t1"], rep
        o = rep["override"]
        assert (o["state"], o["via"], o["why_pending"]) == ("pending", None, "no path from the target egress"), o

    # A prefix with no path and no covering one: an empty answer, not an error
    word, rep = request(pop, "paths 10.99.0.0/16")
    assert word == "ok" and rep["paths"] == [] and rep["covering"] is None and rep["override"] is None, rep


def test_egresses(topo, bins, sockdir):
    pop = build(topo, bins, sockdir)
    pop.settle_overrides({}, ALL)
    assert ctl(pop, "add", P, "t2")[0] == 0
    assert ctl(pop, "add", ONLY_T1_V4, "t2")[0] == 0
    pop.settle_overrides({P: "t2"}, prefixes=[P])

    word, rep = request(pop, "egresses")
    assert word == "ok", rep
    eg = {e["name"]: e for e in rep["egresses"]}
    assert list(eg) == ["t1", "t2"], rep
    out = pop.switch.daemon.cmd("show autopilot ap")
    for name, e in eg.items():
        m = re.search(rf"^\s*{name}\s+(\d+)\s+(\d+)\s+(\S+)\s+(\d+)\s+(\d+)\s+(.*)$", out, re.M)
        assert m, out
        assert (e["label"], e["pp_label"], e["session"], e["paths"]["ipv4"], e["paths"]["ipv6"], e["lfib"]) == \
            (int(m.group(1)), int(m.group(2)), m.group(3), int(m.group(4)), int(m.group(5)), m.group(6).strip()), \
            (e, out)
    assert eg["t1"]["paths"] == {"ipv4": 4, "ipv6": 4} and eg["t2"]["paths"] == {"ipv4": 3, "ipv6": 3}, rep
    assert eg["t2"]["overrides"] == {"active": 1, "pending": 1, "shadow": 0}, rep
    assert eg["t1"]["overrides"] == {"active": 0, "pending": 0, "shadow": 0}, rep
    assert eg["t2"]["overrides_carried"] == 1, rep

    # Session down: said so, and its paths gone
    pop.transit("t2").node.daemon.cmd("disable switch1")
    wait_until(lambda: {e["name"]: e["session"] for e in request(pop, "egresses")[1]["egresses"]}
               == {"t1": "up", "t2": "down"}, 20)
    eg = {e["name"]: e for e in request(pop, "egresses")[1]["egresses"]}
    assert eg["t2"]["paths"] == {"ipv4": 0, "ipv6": 0}, eg


def test_bad_read_requests(topo, bins, sockdir):
    pop = build(topo, bins, sockdir)
    assert ctl(pop, "add", P, "t2")[0] == 0
    pop.settle_overrides({P: "t2"}, ALL)
    before = show_overrides(pop.switch)

    out = converse(pop.sock, b"paths\npaths 10.0.0.1/8\npaths 2001:db8::1/32\npaths nonsense\n"
                        b"paths 10.0.0.0/8 extra\negresses now\n@t1 paths 300.0.0.0/8\n"
                        b"begin\npaths 10.0.0.0/8\ncommit\n@t2 egresses\n")
    assert out[:8] == [
        "error bad-request column 6: prefix expected",
        "error bad-request bad prefix '10.0.0.1/8': host bits set",
        "error bad-request bad prefix '2001:db8::1/32': host bits set",
        "error bad-request bad prefix 'nonsense': expected ADDRESS/LENGTH",
        "error bad-request column 18: unexpected 'e'",
        "error bad-request column 10: unexpected 'n'",
        "@t1 error bad-request bad prefix '300.0.0.0/8': not an IPv4 or IPv6 address",
        "error batch line 1: bad-request: only add and withdraw, then commit or abort, in a batch",
    ], out
    assert out[8].startswith("@t2 ok {"), out
    assert len(out) == 9, out
    assert show_overrides(pop.switch) == before


PATH_ROW = re.compile(r"^(\S+)?\s+#(\d+)\s+(\*)?\s*(\S+)\s+egress (\S+)\s+label (\S+)\s+pp label (\S+)( \[override copy\])?$")


def show_paths(sw, prefix):
    """`show autopilot ap paths PREFIX`: (header, [(rank, best, from,
    egress, label, pp label, copy)] of the prefix, then of the covering
    one, the other lines)."""
    out = sw.daemon.cmd(f"show autopilot ap paths {prefix}")
    lines = out.splitlines()
    rows, other = [], []
    for line in lines[1:]:
        m = PATH_ROW.match(line)
        if m:
            rows.append((int(m.group(2)), bool(m.group(3)), m.group(4), m.group(5), m.group(6), m.group(7),
                         bool(m.group(8))))
        elif not line.startswith("\t"):
            other.append(line.strip())
    return lines[0].strip(), rows, other


def json_rows(paths):
    return [(p["rank"], p["best"], p["from"], p["egress"] or "-", str(p["label"]), str(p["pp_label"]),
             p["override_copy"]) for p in paths]


def test_birdc_paths(topo, bins, sockdir):
    """birdc prints the facts of the socket's paths, for people."""
    pop = build(topo, bins, sockdir)
    pop.settle_overrides({}, ALL)
    more = "203.0.113.128/25"
    assert converse(pop.sock, f"add {P} t2 reason \"drain t1\"\nadd {more} t2\nadd {ONLY_T1_V4} t2\n".encode()) \
        == ["ok"] * 3
    pop.settle_overrides({P: "t2", more: "t2"}, prefixes=[P, more])
    sw = pop.switch

    head, rows, other = show_paths(sw, P)
    assert head == f"ap: {P} in table master4: 3 paths, best first (rank in BGP's order)", head
    rep = request(pop, f"paths {P}")[1]
    assert rows == json_rows(rep["paths"]), (rows, rep)
    assert rows[0] == (1, True, "ap", "t2", "1002", "2002", True), rows
    assert other == [f"Override: -> t2, active, via t2 (1002), path of {P}, source controller, "
                     f"reason \"drain t1\""], other

    head, rows, other = show_paths(sw, more)
    rep = request(pop, f"paths {more}")[1]
    assert rows == json_rows(rep["paths"]) + json_rows(rep["covering"]["paths"]), (rows, rep)
    assert other == [f"Override: -> t2, active, via t2 (1002), path of {Q}, source controller",
                     f"An override of {more} would copy a path of the covering {Q}: 2 paths"], other

    head, rows, other = show_paths(sw, ONLY_T1_V4)
    assert rows == [(1, True, "t1", "t1", "1001", "2001", False)], rows
    assert other == ["Override: -> t2, pending: no path from the target egress, source controller"], other

    head, rows, other = show_paths(sw, P6)
    assert head == f"ap: {P6} in table master6: 2 paths, best first (rank in BGP's order)", head
    assert rows == json_rows(request(pop, f"paths {P6}")[1]["paths"]), rows
    assert other == ["Override: none"], other

    head, rows, other = show_paths(sw, "10.0.0.0/8")
    assert (head, rows, other) == ("ap: 10.0.0.0/8 in table master4: 0 paths", [],
                                   ["Override: none", "No path for 10.0.0.0/8 nor for a covering prefix: "
                                    "an override would be pending"])

    # Read only: a restricted birdc may ask
    code, out = bird_reply(sw.daemon, f"show autopilot paths {P}")
    assert code == 0 and f"#1  * ap" in out, out
    r = subprocess.run([str(sw.daemon.bindir / "birdc"), "-r", "-s", str(sw.daemon.ctl),
                        f"show autopilot ap paths {P}"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and "Override: -> t2, active" in r.stdout, r
    code, out = bird_reply(sw.daemon, "show autopilot ap paths 10.0.0.1/8")
    assert code >= 8000 and "Invalid IPv4 prefix 10.0.0.1/8, maybe you wanted 10.0.0.0/8" in out, out
    code, out = bird_reply(sw.daemon, "show autopilot h1 paths 10.0.0.0/8")
    assert code >= 8000 and "h1: Not a Autopilot protocol" in out, out   # BIRD's proto_get_named()


# --- dump: every path, streamed ---------------------------------------------------

D4, D6 = 6000, 3000          # prefixes both transits announce (with 20 + 10 of each alone)


def dump_pop(topo, bins, sockdir):
    """Two stock BIRD transits with generated tables, one session per family
    each (egresses t1, t1_6, ...), no hosts."""
    pop = Pop(topo, bins, [Transit(), Transit()], hosts=(), table=(D4, D6), unique=(20, 10),
              ap_options=f'\tcontroller socket "{sockdir / "ap.sock"}";').build()
    pop.sock = sockdir / "ap.sock"
    return pop


def read_dump(f, tag, slow=False):
    """Lines of file f up to the tagged final line: ([JSON of each + line],
    final line)."""
    items, n = [], 0
    while True:
        line = f.readline()
        assert line, "connection closed before the dump's last line"
        line = line.decode().rstrip("\n")
        if line.startswith("+ "):
            items.append(json.loads(line[2:]))
            n += 1
            if slow and n % 200 == 0:
                time.sleep(0.05)
            continue
        assert line.startswith(f"@{tag} "), line
        return items, line


def dump(pop, request):
    """One tagged dump request on a fresh connection, read at once: read_dump()."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(60)
        s.connect(str(pop.sock))
        s.sendall(request.encode() + b"\n")
        with s.makefile("rb") as f:
            return read_dump(f, request[1:].split()[0])


def test_dump_every_path_once(topo, bins, sockdir):
    pop = dump_pop(topo, bins, sockdir)
    sw = pop.switch
    t1 = pop.transits[0]

    # The whole table, read slowly at first so that BIRD must wait for the
    # client (flow control); meanwhile another connection is served
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(60)
        s.connect(str(pop.sock))
        s.sendall(b"@d dump\n@p ping\n")
        f = s.makefile("rb")
        first = [f.readline() for _ in range(10)]
        t0 = time.monotonic()
        assert converse(pop.sock, b"ping\negresses\n")[0] == "ok pong"
        assert time.monotonic() - t0 < 2
        rest, last = read_dump(f, "d", slow=True)
        items = [json.loads(l.decode()[2:]) for l in first] + rest
        assert f.readline().decode() == "@p ok pong\n"     # the requests after it, after it
        f.close()

    stats = json.loads(last.split(" ", 2)[2])
    got = [(i["prefix"], p["from"]) for i in items for p in i["paths"]]
    once = len(got) == len(set(got))
    assert once, "a path twice"
    once = len({i["prefix"] for i in items}) == len(items)
    assert once, "a prefix twice"
    table = {}
    for t in ("master4", "master6"):
        for net, paths in show_routes(sw, t).items():
            for p in paths:
                table[(net, p["proto"])] = p
    same = set(got) == set(table)
    assert same, (len(got), len(table), sorted(set(got) ^ set(table))[:5])
    assert stats["paths"] == len(got) == 2 * (D4 + D6) + 2 * 30 and stats["prefixes"] == len(items), stats
    for i in items[:50]:
        for p in i["paths"]:
            r = table[(i["prefix"], p["from"])]
            assert (p["best"], p["egress"], p["label"], p["next_hop"]) == \
                (r["best"], p["from"], int(r["attrs"]["mpls_label"]), r["via"]), (p, r)

    # One family and one egress: exactly that egress's paths
    items, last = dump(pop, "@e dump ipv6 egress t1_6")
    got = [i["prefix"] for i in items]
    want = set(map(str, t1.v6))
    same = len(got) == len(set(got)) and set(got) == want
    assert same, (len(got), len(want), sorted(set(got) ^ want)[:5])
    assert all(len(i["paths"]) == 1 and i["paths"][0]["egress"] == "t1_6" for i in items)
    assert json.loads(last.split(" ", 2)[2])["paths"] == len(t1.v6), last

    # Bad dumps change nothing and say why
    assert converse(pop.sock, b"dump egress nosuch\ndump ipv5\ndump ipv4 ipv4\n") == [
        "error unknown-egress no egress 'nosuch' in protocol ap",
        "error bad-request column 6: unknown option 'ipv5' (ipv4, ipv6, egress NAME)",
        "error bad-request column 11: family given twice"]

    # A client that leaves in the middle of a dump: BIRD goes on
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(pop.sock))
        s.sendall(b"dump\n")
        s.recv(1000)
    assert converse(pop.sock, b"ping\n") == ["ok pong"]
    assert wait_until(lambda: "listening, 0 clients" in sw.daemon.cmd("show autopilot ap"), 10)
    assert topo.bug_lines() == {}


def test_autopilot_ctl_reads(topo, bins, sockdir):
    """tools/autopilot-ctl paths, egresses, dump: the replies' JSON, for jq or json.loads."""
    pop = build(topo, bins, sockdir)
    pop.settle_overrides({}, ALL)
    assert ctl(pop, "add", P, "t2")[0] == 0
    pop.settle_overrides({P: "t2"}, prefixes=[P])

    rc, out = ctl(pop, "paths", P)
    assert rc == 0 and len(out) == 1, out
    rep = json.loads(out[0])
    assert [p["from"] for p in rep["paths"]] == ["ap", "t1", "t2"] and rep["override"]["target"] == "t2", rep
    assert ctl(pop, "paths", "10.0.0.1/8") == (1, ["error bad-request bad prefix '10.0.0.1/8': host bits set"])

    rc, out = ctl(pop, "egresses")
    assert rc == 0 and [e["name"] for e in json.loads(out[0])["egresses"]] == ["t1", "t2"], out

    rc, out = ctl(pop, "dump", "--family", "6", "--egress", "t2")
    assert rc == 0, out
    got = [json.loads(l) for l in out]
    assert sorted(i["prefix"] for i in got) == sorted(V6), got
    assert all([p["egress"] for p in i["paths"]] == ["t2"] for i in got), got
    rc, out = ctl(pop, "dump")
    assert rc == 0 and sorted(json.loads(l)["prefix"] for l in out) == \
        sorted(V4 + V6 + [ONLY_T1_V4, ONLY_T1_V6]), out
    assert ctl(pop, "dump", "--egress", "t9") == (1, ["error unknown-egress no egress 't9' in protocol ap"])


def test_dump_while_table_and_protocol_change(topo, bins, sockdir):
    """A dump read slowly while an egress's paths go (prefixes leave the
    table under the walk) and come back, then one cut by a protocol restart:
    BIRD stays up, logs no bug, and a dump afterwards is whole."""
    pop = dump_pop(topo, bins, sockdir)
    sw = pop.switch
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(60)
        s.connect(str(pop.sock))
        s.sendall(b"@d dump\n")
        with s.makefile("rb") as f:
            head = [f.readline() for _ in range(100)]
            sw.daemon.cmd("disable t1")
            sw.daemon.cmd("disable t2_6")
            items, last = read_dump(f, "d", slow=True)
    got = [(i["prefix"], p["from"]) for i in items for p in i["paths"]]
    once = len(got) == len(set(got))
    assert once and last.startswith("@d ok "), last
    sw.daemon.cmd("enable t1")
    sw.daemon.cmd("enable t2_6")
    pop.settle(timeout=60)
    want4, want6 = pop.paths()
    assert (want4, want6) == (2 * D4 + 2 * 20, 2 * D6 + 2 * 10)

    # Cut by a restart of the protocol: the connection goes, BIRD stays
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(60)
        s.connect(str(pop.sock))
        s.sendall(b"dump\n")
        s.recv(1000)
        sw.daemon.cmd("restart ap")
        while s.recv(1 << 20):
            pass
    wait_until(lambda: "ap: up" in sw.daemon.cmd("show autopilot ap"), 20)
    items, last = dump(pop, "@e dump")
    assert json.loads(last.split(" ", 2)[2])["paths"] == want4 + want6, last
    assert sw.daemon.alive() and topo.bug_lines() == {}
