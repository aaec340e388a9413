"""A demo POP in network namespaces, for people: see ci/demo.sh.

Two transits (t1 stock BIRD AS 64501, t2 gobgpd AS 64502) announce the same
generated table to a patched switch. Its egress map gives each transit
session a label pair; it reflects both paths of every prefix, labeled, to
two patched hosts. The demo prints what an operator would look at (the
egress table, a host's route with its labels, the LFIB), then moves one
prefix to the other egress with an override and shows the host's route
change label. It checks each step, exits non-zero if one did not happen,
and tears down unless --keep.
"""

import argparse
import sys
import time

import types

import pop

N4, N6 = 10000, 5000
KINDS = ["bird", "gobgp"]
HOSTS = ["host1", "host2"]
ASN = pop.SWITCH_AS


def show(node, command):
    print(f"\n== {node.name}: birdc {command}")
    print(pop.birdc(node, command) or "(birdc printed nothing)", flush=True)


def host_counts(host):
    return pop.route_count(host, "master4"), pop.route_count(host, "master6")


def best_path(host, prefix):
    """The best path of prefix on host: (AS path, labels, large communities)."""
    paths = pop.show_routes(host, "master4", str(prefix)).get(str(prefix), [])
    return next(((p["as_path"], p["labels"], sorted(p["lc"])) for p in paths if p["best"]), None)


class Steps:
    """What the demo promised; each step passes or says what it saw."""

    def __init__(self):
        self.failed = []

    def check(self, ok, what, seen):
        print(f"demo: {'ok' if ok else 'FAILED'}: {what}" + ("" if ok else f"; saw {seen}"),
              flush=True)
        if not ok:
            self.failed.append(what)
        return ok


def run(args):
    topo = pop.Topology("demo", kind="k" if args.keep else "d")
    kept = False
    steps = Steps()
    try:
        t0 = time.monotonic()
        bins = types.SimpleNamespace(patched=args.patched, stock=args.stock)
        p = pop.Pop(topo, bins, [pop.Transit(k) for k in KINDS], HOSTS, table=(N4, N6)).build()
        sw, host = p.switch, p.hosts[0]
        # Every transit announces every prefix, so each host holds one path
        # per transit per prefix (ADD-PATH), the switch's autopilot as many.
        paths = len(KINDS)
        want = ((paths * N4, N4), (paths * N6, N6))
        got = {h.name: pop.wait_for(lambda h=h: host_counts(h), want, timeout=60) for h in p.hosts}
        ap_want = {"ipv4": (N4, paths * N4), "ipv6": (N6, paths * N6)}

        def ap_counts():
            ap = pop.show_autopilot(sw)
            return {ch: (ap[ch]["prefixes"], ap[ch]["paths"]) for ch in ("ipv4", "ipv6")}
        ap_got = pop.wait_for(ap_counts, ap_want, timeout=10)
        took = time.monotonic() - t0

        show(sw, "show protocols")
        show(sw, "show autopilot ap")
        for h in p.hosts:
            show(h, "show route count")
        steps.check(all(g == want for g in got.values()) and ap_got == ap_want,
                    f"{paths} transits x ({N4} IPv4 + {N6} IPv6) prefixes reached "
                    f"{len(HOSTS)} hosts through switch1 in {took:.1f}s",
                    f"hosts {got}, autopilot {ap_got}; wanted {want} and {ap_want}")

        # One prefix on a host: a path per transit, each with its egress's
        # label in the next hop and its pp label in a large community
        prefix = p.v4[N4 // 2]
        show(host, f"show route {prefix} all")
        tagged = {(pop.label(t.egress(4)), (ASN, 2, pop.pp_label(t.egress(4)))) for t in p.transits}
        seen = {(r["labels"][0] if r["labels"] else None, tuple(sorted(r["lc"]))[0] if r["lc"] else None)
                for r in pop.show_routes(host, "master4", str(prefix)).get(str(prefix), [])}
        steps.check(seen == tagged, f"{host.name} has {prefix} via each transit with its labels "
                    + ", ".join(f"mpls {l} + {c}" for l, c in sorted(tagged)), seen)

        show(sw, "show route table mt")
        lfib = {int(l): r[0]["iface"] for l, r in pop.show_routes(sw, "mt").items()}
        lfib_want = {l: t.name for t in p.transits for f in (4, 6) for l in pop.labels(t.egress(f))}
        steps.check(lfib == lfib_want, f"switch1's LFIB (table mt) sends each of the "
                    f"{len(lfib_want)} egress labels to its transit", lfib)

        # Move the prefix to the egress BGP did not choose
        before = best_path(host, prefix) or ([], [None], [])
        target = next(t for t in p.transits if [t.asn] != before[0])
        egress = target.egress(4)
        label, pp = pop.labels(egress)
        try:
            show(sw, f'autopilot add ap {prefix} {egress} reason "demo"')
        except RuntimeError as e:       # birdc exits non-zero when refused
            print(e)
        after = pop.wait_for(lambda: best_path(host, prefix),
                             ([target.asn], [label], [(ASN, 2, pp), (ASN, 3, 1)]), timeout=10)
        show(sw, "show autopilot ap overrides")
        show(host, f"show route {prefix} all")
        steps.check(after == ([target.asn], [label], [(ASN, 2, pp), (ASN, 3, 1)]),
                    f"override moved {prefix} on {host.name} from mpls {before[1][0]} to "
                    f"mpls {label} ({egress}), marked ({ASN}, 3, 1)", after)

        print()
        if steps.failed:
            print(f"demo: FAILED: {len(steps.failed)} step(s) did not happen: "
                  + "; ".join(steps.failed))
            topo.dump_logs()
            return 1
        print(f"demo: every step happened, {time.monotonic() - t0:.1f}s in all")
        if args.keep:
            kept = True
            print("\ndemo: kept running. Reach each node with:")
            for n in topo.nodes.values():
                if isinstance(n.daemon, pop.Bird):
                    print(f"  ip netns exec {n.ns} {n.daemon.bindir}/birdc -s {n.daemon.ctl}")
                elif isinstance(n.daemon, pop.GoBGP):
                    print(f"  ip netns exec {n.ns} gobgp --target {n.daemon.target} neighbor")
            print(f"Logs and configs: {topo.workdir}")
            print("Tear down with: ci/demo.sh --teardown")
        return 0
    finally:
        if not kept:
            topo.teardown()


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--patched", help="directory holding the patched bird and birdc")
    ap.add_argument("--stock", help="directory holding stock bird and birdc")
    ap.add_argument("--keep", action="store_true", help="leave the POP running")
    ap.add_argument("--teardown", action="store_true", help="remove a POP left by --keep")
    args = ap.parse_args()
    pop.cleanup_stale()
    if args.teardown:
        pop.teardown_kept()
        return 0
    if not (args.patched and args.stock):
        ap.error("--patched and --stock are required")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
