#!/usr/bin/env python3
"""Repoint times of the kernel check, from its console log (run.sh).

Reads two sections /init printed: `ip -ts monitor link route` (sw-t1's
lines and the MPLS routes, in the kernel's order, stamped as the monitor
read them) and the switch BIRD's log lines about t1 (microsecond
timestamps). Both are the VM's wall clock. Prints one line per event, in
milliseconds:

  link-down N       t1's port down (kernel) -> both t1 labels replaced
                    towards t2 (kernel), the whole reaction
  link-down-bird N  the same replace from BIRD's log line of that round
                    (BIRD stamps a round once, when it first logs in it,
                    after it read the news)
  close N           "t1: Connection closed" (or lost) in BIRD's log, the
                    first after t1 came back -> both labels replaced
                    towards t2 (kernel)

or `missing WHAT` for what it could not find. Exit 0 either way; run.sh
checks the lines.
"""

import datetime
import re
import sys

LABELS = ("1001", "2001")
TO_T2 = re.compile(r"^\[(\S+)\] (\d+) via inet 10\.0\.2\.2 dev sw-t2")


def sections(path):
    res, name = {}, None
    for line in open(path, errors="replace"):
        line = line.rstrip("\n")
        if line.startswith("### "):
            name = line[4:]
            res.setdefault(name, [])
        elif name:
            res[name].append(line)
    return res


def ip_ts(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%f").timestamp()


def bird_ts(line):
    return datetime.datetime.strptime(line[:26], "%Y-%m-%d %H:%M:%S.%f").timestamp()


def replaced_after(mon, t0):
    """When the last of both labels was replaced towards t2 after t0."""
    seen = {}
    for line in mon:
        m = TO_T2.match(line)
        if m and m.group(2) in LABELS and m.group(2) not in seen and ip_ts(m.group(1)) >= t0:
            seen[m.group(2)] = ip_ts(m.group(1))
    return max(seen.values()) if len(seen) == len(LABELS) else None


def main():
    s = sections(sys.argv[1])
    mon = link = s.get("monitor", [])
    log = s.get("switch-log-protection", [])

    down = None
    for line in link:
        m = re.match(r"^\[(\S+)\] \d+: sw-t1[@:].*<([^>]*)>", line)
        if m and "UP" not in m.group(2).split(","):
            down = ip_ts(m.group(1))
            break
    lost = [bird_ts(l) for l in log if "ap: Egress t1 lost: " in l and "now go to backup t2" in l]
    back = [bird_ts(l) for l in log if "ap: Egress t1: its labels 1001 and 2001 go to it again" in l]
    closed = [bird_ts(l) for l in log
              if back and bird_ts(l) >= back[-1] and re.search(r"t1: Connection (closed|lost)", l)]

    rep = replaced_after(mon, down) if down else None
    if down and rep:
        print(f"link-down {(rep - down) * 1000:.1f}")
    else:
        print("missing link-down (sw-t1 down or the replace in the monitors)")
    # The round of the repoint: the last such line before the replace (an
    # earlier one is from the start, when t2 was up before t1)
    lost = [t for t in lost if rep and t <= rep]
    if rep and lost:
        print(f"link-down-bird {(rep - lost[-1]) * 1000:.1f}")
    else:
        print("missing link-down-bird (the Egress t1 lost line)")
    rep2 = replaced_after(mon, closed[0]) if closed else None
    if closed and rep2:
        print(f"close {(rep2 - closed[0]) * 1000:.1f}")
    else:
        print("missing close (t1: Connection closed, or the replace after it)")


if __name__ == "__main__":
    main()
