#!/bin/busybox sh
# shellcheck shell=dash
# /init of the kernel-check VM: loads the MPLS modules, builds
#   t1, t2 (transits, namespaces) -- switch (root namespace) -- h1 (host)
# with veth links, starts the four BIRDs, waits for the host's kernel
# tables, prints what run.sh asserts on ("### name" sections), then powers
# off. Everything goes to the serial console.
# No set -e: a step that fails must still let the rest print and power off
# (run.sh reports what is missing); no pipefail either, nothing here pipes
# into a check whose status matters.
set -u

/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs run /run
mount -t tmpfs tmp /tmp
export PATH=/usr/local/bin:/bin:/sbin:/usr/bin:/usr/sbin
# iproute2's ip (busybox's lacks netns and encap): this shell runs its own
# applets before looking at PATH, a function comes first.
ip() { /usr/local/bin/ip "$@"; }

section() { echo "### $*"; }
bye() { section end; echo "KERNEL-CHECK-DONE"; sync; poweroff -f; }

echo   # the firmware's last line has no newline: sections start on their own
section modules
# Dependencies first (run.sh wrote the order from modules.dep).
while read -r m; do
  if insmod "/lib/modules/$m.ko"; then echo "insmod $m: ok"; else echo "insmod $m: FAILED"; fi
done < /lib/modules/load-order

# Namespaces and links: link i is 10.0.i.0/24 and fd00:i::/64, the switch
# side .1; nodad so IPv6 addresses are usable at once.
for ns in t1 t2 h1; do ip netns add $ns; ip -n $ns link set lo up; done
ip link set lo up
link() { # link INDEX NS: sw-NS in the root namespace, NS-sw in NS
  ip link add "sw-$2" type veth peer name "$2-sw" netns "$2"
  ip addr add "10.0.$1.1/24" dev "sw-$2"
  ip addr add "fd00:$1::1/64" dev "sw-$2" nodad
  ip link set "sw-$2" up
  ip -n "$2" addr add "10.0.$1.2/24" dev "$2-sw"
  ip -n "$2" addr add "fd00:$1::2/64" dev "$2-sw" nodad
  ip -n "$2" link set "$2-sw" up
}
link 1 t1; link 2 t2; link 3 h1

# The switch: forwards IP (replies come back unlabeled) and MPLS from the
# host; labels up to 4095 (the egress labels are 1001..2002).
sysctl -qw net.ipv4.ip_forward=1
sysctl -qw net.ipv6.conf.all.forwarding=1
sysctl -qw net.mpls.platform_labels=4096
sysctl -qw net.mpls.conf.sw-h1.input=1

# Transits own one address of the announced prefixes each (t1 also one of
# the disabled prefix), and route everything else back through the switch.
ip -n t1 addr add 198.51.100.1/32 dev lo
for i in 1 2; do
  ip -n t$i addr add 192.0.2.$i/32 dev lo
  ip -n t$i addr add 2001:db8:1::$i/128 dev lo
  ip -n t$i route add default via 10.0.$i.1
  ip -n t$i -6 route add default via fd00:$i::1
done

# The host: a second source address whose traffic policy routing sends to
# the alternate table, as a Precision Path datapath would by fwmark.
ip -n h1 addr add 10.0.3.102/24 dev h1-sw
ip -n h1 addr add fd00:3::102/64 dev h1-sw nodad
ip -n h1 rule add from 10.0.3.102 lookup 101
ip -n h1 -6 rule add from fd00:3::102 lookup 101

section bird
bird -c /etc/kc/switch.conf -s /run/switch.ctl -P /run/switch.pid
for n in t1 t2; do ip netns exec $n bird -c /etc/kc/$n.conf -s /run/$n.ctl -P /run/$n.pid; done
ip netns exec h1 bird -c /etc/kc/host.conf -s /run/host.ctl -P /run/host.pid

# Converged when the host's alternates are in kernel table 101 (both
# families) and the egress tables are in 201/202.
ready() {
  ip -n h1 route show table 101 | grep -q '^192.0.2.0/24' &&
  ip -n h1 -6 route show table 101 | grep -q '^2001:db8:1::/48' &&
  ip -n h1 route show table 202 | grep -q '^198.51.100.0/24' &&
  ip -f mpls route | grep -q '^2002'
}
t0=$(cut -d. -f1 /proc/uptime)
i=0
while ! ready 2>/dev/null && [ $i -lt 120 ]; do sleep 0.5; i=$((i + 1)); done
echo "converged: $(ready 2>/dev/null && echo yes || echo NO), after $(( $(cut -d. -f1 /proc/uptime) - t0 )) s; uptime $(cut -d' ' -f1 /proc/uptime) s"

show() { section "$1"; shift; "$@" 2>&1; }
show uname uname -r
show host-main4 ip -n h1 route show table main
show host-main6 ip -n h1 -6 route show table main
show host-101-4 ip -n h1 route show table 101
show host-101-6 ip -n h1 -6 route show table 101
show host-201-4 ip -n h1 route show table 201
show host-202-4 ip -n h1 route show table 202
show host-rules ip -n h1 rule show
show switch-lfib ip -f mpls route
show host-hap birdc -s /run/host.ctl show autopilot hap
show switch-ap birdc -s /run/switch.ctl show autopilot ap

# The datapath: a ping answered proves which egress the label led to.
ping_check() { # NAME ARGS...: PING NAME ok|failed
  name=$1; shift
  if ip netns exec h1 ping -c 1 -W 2 "$@" >/dev/null 2>&1; then r=ok; else r=failed; fi
  echo "PING $name $r"
}
section pings
ping_check main4-to-t1 192.0.2.1                       # best: mpls 1001 -> t1
ping_check main4-to-t2 192.0.2.2                       # best goes to t1, which lacks .2
ping_check alt4-to-t2 -I 10.0.3.102 192.0.2.2          # table 101: mpls 2002 -> t2
ping_check alt4-fallback -I 10.0.3.102 198.51.100.1    # no alternate (disabled): main, t1
ping_check main6-to-t1 -6 2001:db8:1::1
ping_check alt6-to-t2 -6 -I fd00:3::102 2001:db8:1::2

# Egress protection: a host that has not converged yet still sends with
# t1's label (a static route in table 150, for source 10.0.3.150). t1 and
# t2 both answer 203.0.113.9, so a reply after t1's port went down proves
# the label led to t2. A flow of 300 pings 10 ms apart; the port goes down
# 1 s into it; the replies missing are the packets lost meanwhile.
section protection
for i in 1 2; do ip -n t$i addr add 203.0.113.9/32 dev lo; done
ip -n h1 addr add 10.0.3.150/24 dev h1-sw
ip -n h1 rule add from 10.0.3.150 lookup 150
ip -n h1 route add 203.0.113.9/32 encap mpls 1001 via 10.0.3.1 dev h1-sw table 150
ping_check protect-before -I 10.0.3.150 203.0.113.9
# The port going down and the LFIB routes replaced, as the kernel tells
# them, in order, on one socket, stamped as read (run.sh times the repoint
# with them and BIRD's log). Niced up: on the one vCPU, BIRD busy with the
# rest of the round would otherwise delay the reading.
ip -ts monitor link route > /tmp/monitor.txt 2>&1 &
mon=$!
renice -n -20 -p $mon >/dev/null
sleep 0.2
ip netns exec h1 ping -I 10.0.3.150 -i 0.01 -c 300 -W 2 203.0.113.9 > /tmp/flow.txt 2>&1 &
flow=$!
sleep 1
ip link set sw-t1 down
wait $flow
echo "FLOW $(grep -c 'bytes from' /tmp/flow.txt) of 300 answered"
show switch-lfib-protected ip -f mpls route
section protection-after
ping_check protect-after -I 10.0.3.150 203.0.113.9
show switch-ap-protected birdc -s /run/switch.ctl show autopilot ap

# t1's port up again: its session comes back, and its labels with it.
# Then t1's BIRD is killed: its kernel closes the TCP session (the port
# stays up), BIRD reads the close, the labels go to t2 again.
lfib_has() { ip -f mpls route | grep -q "^$1"; }
wait_lfib() { # LINE SECONDS
  i=0
  while ! lfib_has "$1" && [ $i -lt $(( $2 * 10 )) ]; do sleep 0.1; i=$((i + 1)); done
}
section protection-back
ip link set sw-t1 up
wait_lfib '1001 via inet 10.0.1.2 dev sw-t1' 60
echo "t1 back after $(( i / 10 )) s"
show switch-lfib-back ip -f mpls route
section protection-close
kill -9 "$(cat /run/t1.pid)"
wait_lfib '1001 via inet 10.0.2.2 dev sw-t2' 10
show switch-lfib-closed ip -f mpls route
sleep 0.5
kill $mon
show monitor grep -E '^\[[^]]*\] ([0-9]+ via|[0-9]+: sw-t1)' /tmp/monitor.txt
show switch-log-protection grep -E 'Egress t1|t1: (Connection|State changed|Neighbor)' /tmp/switch.log

for f in switch host t1 t2; do
  if grep -q -E '<(BUG|ERR)>' /tmp/$f.log; then section "log-$f"; grep -E '<(BUG|ERR|WARN)>' /tmp/$f.log | head -20; fi
done
bye
