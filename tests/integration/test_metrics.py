"""Prometheus metrics, read as Prometheus and node_exporter read them.

From the controller socket (`autopilot-ctl metrics`), from the file for
node_exporter's textfile collector (`metrics filename ... interval 1 s`) and
from `birdc show autopilot NAME metrics`: every text parses with
python3-prometheus-client's parser and passes `promtool check metrics`
(Debian's prometheus), and its values agree with what the daemons say
otherwise (`show autopilot`, the overrides list, the log) as the state
changes under real sessions: an egress going down, overrides added and
going pending, bad requests, a directory that goes away.
"""

import pathlib
import shutil
import subprocess
import sys
import time

from prometheus_client.parser import text_string_to_metric_families

from pop import (FIXED_V4 as V4, FIXED_V6 as V6, ONLY_T1_V4, Pop, Transit, birdc, birdc_rc, label,
                 log_lines, pp_label, show_autopilot, show_overrides, wait_for, wait_until)

TOOL = pathlib.Path(__file__).resolve().parents[2] / "tools" / "autopilot-ctl"
P, Q, R = V4
P6, Q6, R6 = V6


def promtool_ok(text):
    """`promtool check metrics` (its linter too) has nothing to say."""
    r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip(), \
        f"promtool: {r.stdout}{r.stderr}\n{text}"


def parse(text, proto="ap"):
    """{(sample name, frozenset of labels but protocol): value}; checks the
    text as a scraper would first: complete (# EOF), promtool-clean, parsed
    by Prometheus' own Python parser, one protocol."""
    assert text.endswith("# EOF\n"), text[-200:]
    promtool_ok(text)
    samples = {}
    for fam in text_string_to_metric_families(text):
        assert fam.documentation and fam.type in ("gauge", "counter", "histogram"), fam
        for s in fam.samples:
            labels = dict(s.labels)
            assert labels.pop("protocol") == proto, s
            key = (s.name, frozenset(labels.items()))
            assert key not in samples, f"sample twice: {s}"
            samples[key] = s.value
    return samples


def val(samples, name, **labels):
    return samples[(name, frozenset(labels.items()))]


def ctl_metrics(pop):
    r = subprocess.run([sys.executable, str(TOOL), "-s", str(pop.sock), "-t", "10", "metrics"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and not r.stderr, (r.returncode, r.stdout, r.stderr)
    return r.stdout


def ctl(pop, data):
    """Raw requests on a fresh connection; the replies."""
    r = subprocess.run([sys.executable, str(TOOL), "-s", str(pop.sock), "-t", "10", "raw"],
                       input=data, capture_output=True, text=True, timeout=60)
    assert not r.stderr, r.stderr
    return r.stdout.splitlines()


def build(topo, bins, sockdir, extra=""):
    pop = Pop(topo, bins, [Transit(split=False), Transit(split=False)], hosts=("h1",), prepend=True,
              ap_options=f'\tcontroller socket "{sockdir}/ap.sock";\n'
                         f'\tmetrics filename "{sockdir}/bird-autopilot.prom" interval 1 s;\n{extra}').build()
    pop.sock = sockdir / "ap.sock"
    pop.prom = sockdir / "bird-autopilot.prom"
    return pop


def file_metrics(pop):
    return parse(pop.prom.read_text())


def egress_facts(samples):
    """{egress: (up, ipv4 paths, ipv6 paths)} from the metrics."""
    names = {dict(k[1])["egress"] for k in samples if k[0] == "bird_autopilot_egress_up"}
    return {e: (val(samples, "bird_autopilot_egress_up", egress=e),
                val(samples, "bird_autopilot_egress_paths", egress=e, family="ipv4"),
                val(samples, "bird_autopilot_egress_paths", egress=e, family="ipv6")) for e in names}


def shown_egresses(sw):
    """The same facts from `show autopilot ap`."""
    return {e: (1.0 if r["session"] == "up" else 0.0, float(r["ipv4"]), float(r["ipv6"]))
            for e, r in show_autopilot(sw)["egresses"].items()}


def overrides_by(samples):
    """{(state, source): n} of the nonzero counts."""
    out = {}
    for (name, labels), v in samples.items():
        if name == "bird_autopilot_overrides" and v:
            d = dict(labels)
            out[(d["state"], d["source"])] = v
    return out


def shown_overrides_by(sw):
    rows = show_overrides(sw)[1]
    out = {}
    for r in rows.values():
        out[(r["state"], r["source"])] = out.get((r["state"], r["source"]), 0) + 1
    return out


def test_metrics_agree_with_the_switch(topo, bins, sockdir):
    pop = build(topo, bins, sockdir)
    sw = pop.switch
    t2 = pop.transit("t2")

    # Socket, file and birdc: three texts of one state, each a valid exposition
    m = parse(ctl_metrics(pop))
    b = parse(birdc(sw, "show autopilot ap metrics") + "\n")
    # The file is at most an interval (1 s) behind: it was first written before the sessions came up
    wait_until(lambda: pop.prom.exists() and egress_facts(file_metrics(pop)) == shown_egresses(sw), 5,
               what="metrics file written, with the sessions up")
    f = file_metrics(pop)
    for s in (m, f, b):
        assert val(s, "bird_autopilot_up") == 1
        assert egress_facts(s) == shown_egresses(sw)
    # t1 announces one prefix more than t2, in each family
    assert egress_facts(m) == {"t1": (1, 4, 4), "t2": (1, 3, 3)}
    assert val(m, "bird_autopilot_egress_info", egress="t2", label=str(label("t2")), pp_label=str(pp_label("t2")),
               neighbor=str(t2.node.addr4(sw))) == 1
    shown = show_autopilot(sw)
    for fam in ("ipv4", "ipv6"):
        assert val(m, "bird_autopilot_table_paths", family=fam, table=shown[fam]["table"]) == \
            shown[fam]["paths"] == 7
        assert val(m, "bird_autopilot_table_prefixes", family=fam, table=shown[fam]["table"]) == \
            shown[fam]["prefixes"] == 4
    assert val(m, "bird_autopilot_controller_socket_listening") == 1

    # Overrides from the controller and from birdc; one has no path at t2: pending
    base = {c: val(m, "bird_autopilot_controller_requests_total", code=c)
            for c in ("ok", "bad-request", "unknown-egress", "not-found", "batch")}
    assert ctl(pop, f"add {P} t2\nadd {P6} next-best\nadd {ONLY_T1_V4} t2\n") == ["ok"] * 3
    assert birdc_rc(sw.daemon, f"autopilot add ap {Q} t2")[0] == 0
    want = {("active", "controller"): 2, ("pending", "controller"): 1, ("active", "cli"): 1}
    assert wait_for(lambda: shown_overrides_by(sw), want) == want
    m = parse(ctl_metrics(pop))
    assert overrides_by(m) == want
    assert val(m, "bird_autopilot_override_changes_total", kind="added") == 4
    assert wait_for(lambda: overrides_by(file_metrics(pop)), want, 5) == want

    # Bad requests: each counted under its code, nothing else changes
    assert ctl(pop, "frobnicate\nadd 10.0.0.0/8 nosuch\nwithdraw 10.0.0.0/8\n"
                    "begin\nadd 10.1.0.0/16 nosuch\ncommit\nping\n") == [
        "error bad-request column 1: unknown request 'frobnicate'",
        "error unknown-egress no egress 'nosuch' in protocol ap",
        "error not-found no override for 10.0.0.0/8",
        "error batch line 1: unknown-egress: no egress 'nosuch' in protocol ap",
        "ok pong"]
    m = parse(ctl_metrics(pop))
    # ok: the metrics request base was read from (counted once answered), three adds, a second
    # metrics request, the ping; a batch is one request
    assert {c: val(m, "bird_autopilot_controller_requests_total", code=c) - base[c] for c in base} == \
        {"ok": 1 + 3 + 1 + 1, "bad-request": 1, "unknown-egress": 1, "not-found": 1, "batch": 1}
    assert overrides_by(m) == want
    assert val(m, "bird_autopilot_batch_commit_seconds_count", kind="batch") == 1

    # A sync: its commit timed; the same set again changes nothing
    assert ctl(pop, f"sync\nadd {P} t2\nadd {P6} next-best\nadd {ONLY_T1_V4} t2\ncommit\n") == ["ok 3"]
    m = parse(ctl_metrics(pop))
    assert val(m, "bird_autopilot_batch_commit_seconds_count", kind="sync") == 1
    assert val(m, "bird_autopilot_batch_commit_seconds_bucket", kind="sync", le="+Inf") == 1
    assert 0 < val(m, "bird_autopilot_batch_commit_seconds_sum", kind="sync") < 1
    assert overrides_by(m) == want

    # Acknowledged changes went through the journal, those of an event round at once (the three
    # adds of one read, then birdc's add); none failed
    assert val(m, "bird_autopilot_state_file_writes_total", kind="journal") >= 2
    assert val(m, "bird_autopilot_state_file_write_failures_total") == 0
    assert val(m, "bird_autopilot_state_file_failing") == 0
    assert abs(val(m, "bird_autopilot_state_file_last_write_timestamp_seconds") - time.time()) < 60

    # Egress t2 goes down (the transit ends the session): up 0, no paths, its overrides pending
    # (and next-best's: no egress but the best one is left)
    birdc(t2.node, "disable switch1")
    wait_until(lambda: show_autopilot(sw)["egresses"]["t2"]["session"] == "down", 10, what="t2 down")
    want_down = {("pending", "controller"): 3, ("pending", "cli"): 1}
    assert wait_for(lambda: shown_overrides_by(sw), want_down) == want_down
    for fetch in (lambda: parse(ctl_metrics(pop)), lambda: file_metrics(pop)):
        got = wait_for(lambda: (egress_facts(fetch())["t2"], overrides_by(fetch())),
                       ((0, 0, 0), want_down), 5)
        assert got == ((0, 0, 0), want_down)
    assert egress_facts(parse(ctl_metrics(pop)))["t1"] == (1, 4, 4)

    # And back
    birdc(t2.node, "enable switch1")
    assert wait_for(lambda: egress_facts(file_metrics(pop))["t2"], (1, 3, 3), 30) == (1, 3, 3)
    assert wait_for(lambda: overrides_by(file_metrics(pop)), want, 10) == want
    assert val(file_metrics(pop), "bird_autopilot_metrics_file_write_failures_total") == 0

    # Framing: the text, "# EOF", then the one reply line with its tag; no place in a batch
    out = ctl(pop, "@m1 metrics\nbegin\nmetrics\ncommit\nping\n")
    eof = out.index("# EOF")
    assert all(l.startswith(("# ", "bird_autopilot_")) for l in out[:eof]), out
    assert out[eof + 1:] == ["@m1 ok metrics",
                             "error batch line 1: bad-request: only add and withdraw, then commit or abort, in a batch",
                             "ok pong"]
    parse("\n".join(out[:eof + 1]) + "\n")


def test_metrics_file_failures_and_config(topo, bins, sockdir):
    pop = build(topo, bins, sockdir)
    sw = pop.switch
    wait_until(lambda: pop.prom.exists(), 5, what="metrics file written")
    assert oct(pop.prom.stat().st_mode & 0o777) == "0o644"

    # A directory that does not exist, an interval out of range: configure refuses, the file stays
    conf = sw.dir / "bird.conf"
    good = conf.read_text()
    for bad, msg in ((f'"{sockdir}/nosuch/x.prom"', f"no directory {sockdir}/nosuch"),
                     (f'"{pop.prom}" interval 0 s', "interval 0.000 s out of range")):
        conf.write_text(good.replace(f'"{pop.prom}" interval 1 s', bad))
        rc, out = birdc_rc(sw.daemon, "configure")
        assert rc != 0 and msg in out, out
        conf.write_text(good)
    assert "Metrics file: " + str(pop.prom) in birdc(sw, "show autopilot ap")

    # The file moves by configure; then its directory goes (BIRD runs as root here: the
    # directory itself must go for a write to fail)
    moved = sockdir / "d"
    moved.mkdir()
    conf.write_text(good.replace(f'"{pop.prom}" interval 1 s', f'"{moved}/ap.prom" interval 1 s'))
    assert "Reconfigured" in birdc_rc(sw.daemon, "configure")[1]
    wait_until(lambda: (moved / "ap.prom").exists(), 5, what="file at its new path")
    assert not pop.prom.exists()            # the old one was ours: removed
    shutil.rmtree(moved)
    wait_until(lambda: "FAILING" in birdc(sw, "show autopilot ap"), 5, what="show autopilot says FAILING")
    time.sleep(3)                            # three more intervals: still one log line
    failed = log_lines(sw, r"ap: Metrics file .*/d/ap\.prom: cannot create .*No such file or directory "
                           r"\(logged once until a write succeeds\)")
    assert len(failed) == 1, failed
    m = parse(ctl_metrics(pop))
    assert val(m, "bird_autopilot_metrics_file_write_failures_total") >= 3
    moved.mkdir()
    wait_until(lambda: (moved / "ap.prom").exists(), 5, what="file written again")
    assert len(log_lines(sw, r"ap: Metrics file .*/d/ap\.prom written again")) == 1
    f = parse((moved / "ap.prom").read_text())
    assert val(f, "bird_autopilot_metrics_file_write_failures_total") >= 3
    assert not list(moved.glob("*.tmp"))

    # The protocol disabled: the file says so (and nothing else)
    birdc(sw, "disable ap")
    assert wait_for(lambda: parse((moved / "ap.prom").read_text()), {("bird_autopilot_up", frozenset()): 0}, 5) == \
        {("bird_autopilot_up", frozenset()): 0}
    birdc(sw, "enable ap")
    assert wait_for(lambda: val(parse((moved / "ap.prom").read_text()), "bird_autopilot_up"), 1, 5) == 1


def lfib_states(samples):
    """{egress: (the LFIB state whose value is 1, its backup if protected)}; one state each."""
    states = {}
    for (name, labels), v in samples.items():
        d = dict(labels)
        if name == "bird_autopilot_egress_lfib_state" and v:
            assert d["egress"] not in states, samples
            states[d["egress"]] = d["state"]
    by = {dict(l)["egress"]: dict(l)["backup"] for (n, l), v in samples.items()
          if n == "bird_autopilot_egress_protected_by" and v}
    return {e: (st, by.get(e)) for e, st in states.items()}


def shown_lfib_states(sw):
    """The same from `show autopilot ap` ("protected by X", "unprotected (no live backup)", ...)."""
    out = {}
    for e, r in show_autopilot(sw)["egresses"].items():
        words = r["lfib"].split()
        out[e] = (words[0], words[2] if words[0] == "protected" else None)
    return out


def test_metrics_lfib_protection(topo, bins):
    """The switch role's POP (three transits no one here wrote, LFIB in
    table mt): LFIB states and protection in the metrics as show says them."""
    from test_switch_role import build as build_switch   # pylint: disable=import-outside-toplevel
    pop = build_switch(topo, bins, ["host1"])
    sw = pop.switch
    pop.backups = {"t1": ["t2", "t3"]}
    assert "Reconfigured" in pop.reconfigure_switch()

    def metrics():
        return parse(birdc(sw, "show autopilot ap metrics") + "\n")

    names = set(show_autopilot(sw)["egresses"])
    all_up = {e: ("up", None) for e in names}
    assert wait_for(lambda: lfib_states(metrics()), all_up, 10) == all_up == shown_lfib_states(sw)
    assert {e: v[0] for e, v in egress_facts(metrics()).items()} == {e: 1 for e in names}

    # t1's session goes: its labels go to t2
    birdc(sw, "disable t1")
    want = dict(all_up, t1=("protected", "t2"))
    assert wait_for(lambda: lfib_states(metrics()), want, 10) == want == shown_lfib_states(sw)
    m = metrics()
    assert egress_facts(m)["t1"] == (0, 0, 0)
    assert val(m, "bird_autopilot_egress_lfib_state", egress="t1", state="up") == 0

    # Every backup lost too: unprotected (it keeps its own neighbor)
    birdc(sw, "disable t2")
    birdc(sw, "disable t3")
    want = dict(all_up, t1=("unprotected", None))
    got = wait_for(lambda: {e: v for e, v in lfib_states(metrics()).items() if e == "t1"},
                   {"t1": ("unprotected", None)}, 10)
    assert got == {"t1": ("unprotected", None)}
    assert lfib_states(metrics()) == shown_lfib_states(sw)
    assert topo.bug_lines() == {}


def test_metrics_host_alternates(topo, bins):
    """The host role's POP: alternates, egress tables and disabled prefixes
    in the host's metrics as `show autopilot hap` counts them, before and
    after an egress goes."""
    from test_host_role import build as build_host, expected_counts   # pylint: disable=import-outside-toplevel
    hp, h = build_host(topo, bins)

    def counts():
        m = parse(birdc(h, "show autopilot hap metrics") + "\n", proto="hap")
        alts = {(int(dict(l)["alternate"]), 4 if dict(l)["family"] == "ipv4" else 6): int(v)
                for (n, l), v in m.items() if n == "bird_autopilot_host_alternate_prefixes"}
        etabs = {int(dict(l)["label"]): int(v)
                 for (n, l), v in m.items() if n == "bird_autopilot_host_egress_table_prefixes"}
        return int(val(m, "bird_autopilot_host_pp_disabled_prefixes")), alts, etabs

    assert wait_for(counts, expected_counts(hp)) == expected_counts(hp)
    t2 = hp.transit("t2").node
    t2.daemon.cmd("disable switch1_v4")
    t2.daemon.cmd("disable switch1_v6")
    down = expected_counts(hp, ("t1", "t3"))
    assert wait_for(counts, down) == down
