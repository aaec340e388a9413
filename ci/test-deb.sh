#!/usr/bin/env bash
# Install bird2-autopilot into clean Debian roots, run it, and upgrade them.
#
# Usage: ci/test-deb.sh BUILDDIR SRCDIR       (as root)
#
# For each suite of TEST_DEB_SUITES (default "trixie bookworm"):
# 1. A debootstrap --variant=minbase root from this machine's Debian mirror
#    (cached in BUILDDIR/deb/test; its apt lists are always updated again, so
#    the archive of today is what is tested).
# 2. Debian's own bird2 from the suite, and a local edit in bird.conf: an
#    operator's switch before.
# 3. "apt install ./bird2-autopilot_*.deb": Debian's bird2 goes, the edit
#    stays; the examples parse; bird runs the switch example as the unit runs
#    it (prepare-environment, -u bird -g bird), "birdc show autopilot"
#    answers, an override lands in the state file in /var/lib/bird, the
#    controller socket has group autopilot and mode 0660, and autopilot-ctl
#    answers a member of the group (and refuses others).
#    Then prometheus-node-exporter: the trigger gives its textfile directory
#    to group bird, and bird (user bird) writes its metrics file there.
# 4. "apt-get upgrade", then "apt-get dist-upgrade", with Debian's newer
#    bird2 in the archive: ours stays, and runs the switch example again.
# 5. Back to Debian's bird2 ("apt install bird2", the deliberate step) and
#    forward to ours again: the edit survives both.
set -euo pipefail

build=$(cd "${1:?usage: $0 BUILDDIR SRCDIR}" && pwd)
src=$(cd "${2:?usage: $0 BUILDDIR SRCDIR}" && pwd)
top=$build/deb/test
root=$top/root
ctl=/run/autopilot-test.ctl
mkdir -p "$top"

[ "$(id -u)" = 0 ] || { echo "test-deb: needs root (debootstrap, chroot)" >&2; exit 1; }

deb=$(ls "$build"/deb/out/bird2-autopilot_*_amd64.deb 2>/dev/null | head -n 1 || true)
if [ -z "$deb" ]; then
  "$src/ci/deb.sh" "$build" "$src"
  deb=$(ls "$build"/deb/out/bird2-autopilot_*_amd64.deb | head -n 1)
fi
version=$(dpkg-deb -f "$deb" Version)
debname=/tmp/$(basename "$deb")
echo "test-deb: testing $deb"

apt_q=(-y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
  DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 "$@"; }
log=

bird_pid=
stop_bird() {
  if [ -n "$bird_pid" ]; then kill "$bird_pid" 2>/dev/null || true; wait "$bird_pid" 2>/dev/null || true; fi
  bird_pid=
}
cleanup() {
  stop_bird
  if mountpoint -q "$root/proc"; then umount "$root/proc" || umount -l "$root/proc"; fi
}
trap cleanup EXIT

# Only /proc: debootstrap made the device nodes, and a bind-mounted /dev
# could propagate mounts back to the host's /dev.
mount_root() {
  mount -t proc proc "$root/proc"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
}

fresh_root() {
  if findmnt -rno TARGET | grep -q "^$root/"; then
    echo "test-deb: something is still mounted under $root; not removing it" >&2; exit 1
  fi
  rm -rf --one-file-system "$root"
  mkdir -p "$root"
}

check() { # description, command...
  local what=$1; shift
  if "$@"; then echo "test-deb: ok: $what"; else echo "test-deb: FAILED: $what (log: $log)" >&2; exit 1; fi
}
pkg_version() { in_root dpkg-query -W -f '${db:Status-Abbrev} ${Version}' "$1" 2>/dev/null | awk '$1 == "ii" { print $2 }'; }
installed() { [ "$(pkg_version "$1")" = "$2" ]; }
not_installed() { [ -z "$(pkg_version "$1")" ]; }
edit_kept() { grep -q "local edit by test-deb" "$root/etc/bird/bird.conf"; }
apt_in_root() { in_root apt-get "${apt_q[@]}" "$@" >> "$log" 2>&1 || { tail -20 "$log"; return 1; }; }

# Start bird as Debian's unit does (ExecStartPre, then bird -u bird -g bird),
# in a network namespace of its own, and ask it "show autopilot".
start_switch() { # [config]
  in_root /usr/lib/bird/prepare-environment
  unshare --net chroot "$root" /usr/sbin/bird -f -u bird -g bird \
    -c "${1:-/usr/share/doc/bird2-autopilot/examples/switch.conf}" -s "$ctl" > "$top/bird.log" 2>&1 &
  bird_pid=$!
  for _ in $(seq 50); do
    in_root birdc -s "$ctl" show status >/dev/null 2>&1 && break
    kill -0 "$bird_pid" 2>/dev/null || { cat "$top/bird.log"; echo "test-deb: bird exited" >&2; return 1; }
    sleep 0.2
  done
  out=$(in_root birdc -s "$ctl" show autopilot)
  echo "$out" | sed 's/^/    /'
  grep -Eq '^ap:? ' <<< "$out"
}

# The example's state file and controller socket, as the operator uses them
state_written() {
  # Acknowledged means on disk: in the journal (folded into the state file at stop)
  local f=/var/lib/bird/autopilot-ap.state.journal
  grep -q "^add 203.0.113.0/24 transit_a " "$root$f" &&
    [ "$(in_root stat -c %U "$f")" = bird ] && [ "$(in_root stat -c %U /var/lib/bird/autopilot-ap.state)" = bird ]
}
# Names as the root knows them (the host's passwd has other users)
socket_access() { [ "$(in_root stat -c '%G %a' /run/bird/autopilot.sock)" = "autopilot 660" ]; }
as_user() { # uid gid groups command...
  local u=$1 g=$2 gs=$3; shift 3
  chroot --userspec="$u:$g" --groups="$gs" "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"
}
ctl_member() {
  in_root sh -c 'getent passwd ctl >/dev/null || adduser --quiet --system --group ctl; adduser --quiet ctl autopilot'
  local u g a
  u=$(in_root id -u ctl); g=$(in_root id -g ctl); a=$(in_root getent group autopilot | cut -d: -f3)
  as_user "$u" "$g" "$a" autopilot-ctl -s /run/bird/autopilot.sock status | sed 's/^/    /'
  [ "${PIPESTATUS[0]}" = 0 ]
}
ctl_stranger() { ! as_user 65534 65534 65534 autopilot-ctl -s /run/bird/autopilot.sock status 2>/dev/null; }

# node_exporter's textfile directory and the example's metrics line in it
textfile=/var/lib/prometheus/node-exporter
metrics_conf=/etc/bird/metrics-test.conf
textfile_dir() { [ "$(in_root stat -c '%U:%G %a' "$textfile")" = "$1" ]; }
metrics_example() { # the example with its metrics line on, every second
  sed 's|^\t#\(metrics filename "[^"]*"\) interval 15 s;$|\t\1 interval 1 s;|' \
    "$root/usr/share/doc/bird2-autopilot/examples/switch.conf" > "$root$metrics_conf"
  grep -q '^.metrics filename ".*" interval 1 s;$' "$root$metrics_conf" && in_root bird -p -c "$metrics_conf"
}
metrics_written() { # by user bird, readable by node_exporter's user, the protocol up
  local f=$textfile/bird-autopilot.prom
  for _ in $(seq 25); do [ -f "$root$f" ] && break; sleep 0.2; done
  sed 's/^/    /' "$root$f" | grep -E '^    bird_autopilot_(up|egress_up)\{'
  [ "$(in_root stat -c '%U %a' "$f")" = "bird 644" ] && grep -q '^bird_autopilot_up{protocol="ap"} 1$' "$root$f" &&
    tail -n 1 "$root$f" | grep -qx '# EOF'
}

test_suite() {
  local suite=$1 cache=$top/$1-root.tar debian_version
  log=$top/$suite.log
  : > "$log"
  if [ ! -f "$cache" ]; then
    local mirror
    mirror=$("$src/ci/debian-mirror.sh")
    echo "test-deb: [$suite] debootstrap --variant=minbase $suite (mirror from this machine's apt sources)"
    fresh_root
    debootstrap --variant=minbase "$suite" "$root" "$mirror" > "$top/debootstrap-$suite.log" 2>&1 || {
      tail -20 "$top/debootstrap-$suite.log"; exit 1; }
    tar -C "$root" --numeric-owner -cpf "$cache.tmp" .
    mv "$cache.tmp" "$cache"
    echo "test-deb: [$suite] cached the root in $cache"
  fi
  echo "test-deb: [$suite] fresh root from $cache; apt-get update"
  fresh_root
  tar -C "$root" --numeric-owner -xpf "$cache"
  mount_root
  # As in any chroot: let no maintainer script start a daemon.
  printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
  chmod +x "$root/usr/sbin/policy-rc.d"
  apt_in_root update
  cp "$deb" "$root/tmp/"

  echo "test-deb: [$suite] Debian's bird2, then a local edit of /etc/bird/bird.conf"
  apt_in_root install bird2
  debian_version=$(pkg_version bird2)
  check "[$suite] Debian's bird2 $debian_version installed" test -n "$debian_version"
  echo "# local edit by test-deb" >> "$root/etc/bird/bird.conf"

  echo "test-deb: [$suite] apt install $debname"
  apt_in_root install "$debname"
  check "[$suite] bird2-autopilot $version installed" installed bird2-autopilot "$version"
  check "[$suite] Debian's bird2 removed" not_installed bird2
  check "[$suite] local edit of bird.conf kept" edit_kept
  check "[$suite] Debian's unit, envvars, bird user; bird -p accepts the edited bird.conf" \
    in_root sh -c 'test -f /lib/systemd/system/bird.service && test -f /etc/bird/envvars &&
                   getent passwd bird >/dev/null && bird -p'
  check "[$suite] /var/lib/bird belongs to bird" \
    test "$(in_root stat -c %U:%G /var/lib/bird)" = bird:bird
  # As the unit: prepare-environment makes /run/bird (the socket's directory) first
  in_root /usr/lib/bird/prepare-environment
  for ex in switch host; do
    check "[$suite] bird -p -c examples/$ex.conf" \
      in_root bird -p -c /usr/share/doc/bird2-autopilot/examples/$ex.conf
  done
  check "[$suite] autopilot-ctl on PATH, the filter library in /usr/share/bird-autopilot" \
    test -x "$root/usr/bin/autopilot-ctl" -a -f "$root/usr/share/bird-autopilot/autopilot.conf"
  check "[$suite] the user guide with its Autopilot chapter in /usr/share/doc/bird2-autopilot/html" \
    grep -q '>Autopilot</A>' "$root/usr/share/doc/bird2-autopilot/html/bird.html"
  check "[$suite] bird runs the switch example as the unit runs it; birdc show autopilot answers" start_switch
  check "[$suite] birdc autopilot add: accepted" \
    in_root birdc -s "$ctl" autopilot add ap 203.0.113.0/24 transit_a
  check "[$suite] ... and on disk in /var/lib/bird when birdc answers, written by user bird" state_written
  check "[$suite] controller socket: group autopilot, mode 0660" socket_access
  check "[$suite] autopilot-ctl status answers a member of group autopilot" ctl_member
  check "[$suite] ... and refuses a user who is not" ctl_stranger
  stop_bird
  check "[$suite] a clean stop folds the journal into the state file" \
    grep -q "^add 203.0.113.0/24 transit_a " "$root/var/lib/bird/autopilot-ap.state"

  echo "test-deb: [$suite] prometheus-node-exporter after bird2-autopilot"
  apt_in_root install --no-install-recommends prometheus-node-exporter
  check "[$suite] the trigger gives node_exporter's textfile directory to group bird (root:bird 1775)" \
    textfile_dir "root:bird 1775"
  check "[$suite] the example with its metrics line on parses" metrics_example
  check "[$suite] bird runs it" start_switch "$metrics_conf"
  check "[$suite] ... and writes its metrics file in the textfile directory as user bird" metrics_written
  stop_bird

  echo "test-deb: [$suite] apt-get upgrade and dist-upgrade"
  if dpkg --compare-versions "$debian_version" gt "$version"; then
    echo "test-deb: [$suite] (Debian's bird2 $debian_version sorts above $version: the case that lost the daemon)"
  fi
  apt_in_root upgrade
  check "[$suite] apt-get upgrade keeps bird2-autopilot $version" installed bird2-autopilot "$version"
  apt_in_root dist-upgrade
  check "[$suite] apt-get dist-upgrade keeps bird2-autopilot $version" installed bird2-autopilot "$version"
  check "[$suite] ... and Debian's bird2 stays out" not_installed bird2
  check "[$suite] bird still runs the switch example" start_switch
  stop_bird

  echo "test-deb: [$suite] back to Debian's bird2 (apt install bird2), then forward again"
  apt_in_root install bird2
  check "[$suite] back to Debian's bird2 $debian_version" installed bird2 "$debian_version"
  check "[$suite] bird2-autopilot removed" not_installed bird2-autopilot
  check "[$suite] node_exporter's textfile directory as its package made it (root:root 755)" \
    textfile_dir "root:root 755"
  check "[$suite] local edit kept" edit_kept
  apt_in_root install "$debname"
  check "[$suite] forward to bird2-autopilot $version" installed bird2-autopilot "$version"
  check "[$suite] node_exporter's textfile directory for group bird again" textfile_dir "root:bird 1775"
  check "[$suite] local edit kept" edit_kept
  cleanup
}

for suite in ${TEST_DEB_SUITES:-trixie bookworm}; do
  test_suite "$suite"
done
echo "test-deb: all checks passed (logs in $top)"
