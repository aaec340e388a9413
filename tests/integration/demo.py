"""A demo POP in network namespaces, for people: see ci/demo.sh.

Two transits (stock BIRD AS 64501, gobgpd AS 64502) announce the same
generated table to a patched switch, which reflects both paths of every
prefix to two patched hosts. Prints what an operator would look at, checks
that the routes flowed, and tears down unless --keep.
"""

import argparse
import sys
import time

import pop

N4, N6 = 10000, 5000
TRANSITS = [("transit1", "bird", 64501), ("transit2", "gobgp", 64502)]
HOSTS = ["host1", "host2"]


def show(node, command):
    print(f"\n== {node.name}: birdc {command}")
    print(pop.birdc(node, command), flush=True)


def host_counts(host):
    return pop.route_count(host, "master4"), pop.route_count(host, "master6")


def run(args):
    topo = pop.Topology("demo", kind="k" if args.keep else "d")
    kept = False
    try:
        t0 = time.monotonic()
        p = pop.Pop(topo, args.patched, args.stock, N4, N6)
        p.build(TRANSITS, HOSTS)
        p.wait_established()
        # Every transit announces every prefix, so each host holds one path
        # per transit per prefix (ADD-PATH), the switch's autopilot as many.
        paths = len(TRANSITS)
        want = ((paths * N4, N4), (paths * N6, N6))
        got = {h.name: pop.wait_for(lambda h=h: host_counts(h), want, timeout=60) for h in p.hosts}
        ap_want = {"ipv4": (N4, paths * N4), "ipv6": (N6, paths * N6)}

        def ap_counts():
            ap = pop.show_autopilot(p.switch)
            return {ch: (ap[ch]["prefixes"], ap[ch]["paths"]) for ch in ("ipv4", "ipv6")}
        ap_got = pop.wait_for(ap_counts, ap_want, timeout=10)
        took = time.monotonic() - t0

        show(p.switch, "show protocols")
        show(p.switch, "show autopilot")
        for h in p.hosts:
            show(h, "show route count")
        show(p.hosts[0], f"show route {p.v4[N4 // 2]} all")

        ok = all(g == want for g in got.values()) and ap_got == ap_want
        print()
        if not ok:
            print(f"demo: FAILED: routes did not flow. Wanted on each host (routes, networks) "
                  f"{want}, got {got}; autopilot wanted {ap_want}, got {ap_got}")
            topo.dump_logs()
            return 1
        print(f"demo: routes flow: {len(TRANSITS)} transits x ({N4} IPv4 + {N6} IPv6) "
              f"prefixes reached {len(HOSTS)} hosts through switch1 in {took:.1f}s")
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
