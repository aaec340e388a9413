#!/usr/bin/env bash
# Install the bird2 package into a clean Debian root and run it.
#
# Usage: ci/test-deb.sh BUILDDIR SRCDIR       (as root)
#
# 1. Builds the package with ci/deb.sh unless BUILDDIR/deb/out has one.
# 2. Unpacks a cached debootstrap root (made once: debootstrap --variant=
#    minbase from this machine's Debian mirror, apt lists, the packages
#    bird2 needs downloaded but not installed) into BUILDDIR/deb/test/root.
# 3. In a chroot: "apt install ./bird2_*.deb"; bird -p accepts both
#    examples; bird runs the switch example (own network namespace, private
#    control socket) and "birdc show autopilot" answers.
# 4. Upgrade path: edit /etc/bird/bird.conf, go back to the suite's own
#    bird2, then "apt install ./bird2_*.deb" again: the edit survives both.
#
# TEST_DEB_SUITE (default bookworm) picks the Debian release of the root.
set -euo pipefail

suite=${TEST_DEB_SUITE:-bookworm}
build=$(cd "${1:?usage: $0 BUILDDIR SRCDIR}" && pwd)
src=$(cd "${2:?usage: $0 BUILDDIR SRCDIR}" && pwd)
top=$build/deb/test
cache=$top/$suite-root.tar
root=$top/root
ctl=/run/autopilot-test.ctl

[ "$(id -u)" = 0 ] || { echo "test-deb: needs root (debootstrap, chroot)" >&2; exit 1; }

deb=$(ls "$build"/deb/out/bird2_*_amd64.deb 2>/dev/null | head -n 1 || true)
if [ -z "$deb" ]; then
  "$src/ci/deb.sh" "$build" "$src"
  deb=$(ls "$build"/deb/out/bird2_*_amd64.deb | head -n 1)
fi
echo "test-deb: testing $deb"

in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
  DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 "$@"; }

bird_pid=
cleanup() {
  if [ -n "$bird_pid" ]; then kill "$bird_pid" 2>/dev/null || true; wait "$bird_pid" 2>/dev/null || true; fi
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

if [ ! -f "$cache" ]; then
  command -v debootstrap >/dev/null || {
    echo "test-deb: installing debootstrap"; apt-get -qq -y install debootstrap >/dev/null; }
  mirror=$("$src/ci/debian-mirror.sh")
  echo "test-deb: debootstrap --variant=minbase $suite (mirror from this machine's apt sources)"
  fresh_root
  debootstrap --variant=minbase "$suite" "$root" "$mirror" > "$top/debootstrap.log" 2>&1 || {
    tail -20 "$top/debootstrap.log"; exit 1; }
  mount_root
  echo "test-deb: apt-get update; download (not install) bird2 and its dependencies"
  in_root apt-get -qq update
  in_root apt-get -qq -y --download-only install bird2 >/dev/null
  cleanup
  tar -C "$root" --numeric-owner -cpf "$cache.tmp" .
  mv "$cache.tmp" "$cache"
  echo "test-deb: cached the root in $cache"
fi

echo "test-deb: fresh root from $cache"
fresh_root
tar -C "$root" --numeric-owner -xpf "$cache"
mount_root
# As in any chroot: let no maintainer script start a daemon.
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
chmod +x "$root/usr/sbin/policy-rc.d"
cp "$deb" "$root/tmp/"
debname=/tmp/$(basename "$deb")
version=$(dpkg-deb -f "$deb" Version)

echo "test-deb: apt install $debname"
in_root apt install -y -q "$debname" > "$top/install.log" 2>&1 || {
  tail -20 "$top/install.log"; exit 1; }

check() { # description, command...
  local what=$1; shift
  if "$@"; then echo "test-deb: ok: $what"; else echo "test-deb: FAILED: $what" >&2; exit 1; fi
}
installed() { [ "$(in_root dpkg-query -W -f '${Version}' bird2)" = "$1" ]; }

check "bird2 $version installed" installed "$version"
check "Debian's unit, envvars, ucf-managed bird.conf, bird user" \
  in_root sh -c 'test -f /lib/systemd/system/bird.service && test -f /etc/bird/envvars &&
                 test -f /etc/bird/bird.conf && getent passwd bird >/dev/null && bird -p'
for ex in switch host; do
  check "bird -p -c /usr/share/doc/bird2/examples/$ex.conf" \
    in_root bird -p -c /usr/share/doc/bird2/examples/$ex.conf
done

echo "test-deb: starting bird with the switch example (own netns, socket $ctl)"
unshare --net chroot "$root" /usr/sbin/bird -f -c /usr/share/doc/bird2/examples/switch.conf \
  -s "$ctl" > "$top/bird.log" 2>&1 &
bird_pid=$!
for _ in $(seq 50); do
  in_root birdc -s "$ctl" show status >/dev/null 2>&1 && break
  kill -0 "$bird_pid" 2>/dev/null || { cat "$top/bird.log"; echo "test-deb: bird exited" >&2; exit 1; }
  sleep 0.2
done
out=$(in_root birdc -s "$ctl" show autopilot)
echo "$out" | sed 's/^/    /'
check "birdc show autopilot answers for protocol ap" grep -Eq '^ap\b' <<< "$out"
kill "$bird_pid"; wait "$bird_pid" || true; bird_pid=

echo "test-deb: upgrade path: local edit in bird.conf, back to $suite's bird2, then ours again"
echo "# local edit by test-deb" >> "$root/etc/bird/bird.conf"
in_root apt install -y -q --allow-downgrades "bird2/$suite" >> "$top/install.log" 2>&1
debian_version=$(in_root dpkg-query -W -f '${Version}' bird2)
check "back to $suite's bird2 $debian_version" test "$debian_version" != "$version"
check "local edit kept" grep -q "local edit by test-deb" "$root/etc/bird/bird.conf"
in_root apt install -y -q "$debname" >> "$top/install.log" 2>&1
check "upgraded from $suite's bird2 to $version" installed "$version"
check "local edit kept" grep -q "local edit by test-deb" "$root/etc/bird/bird.conf"

echo "test-deb: all checks passed (logs in $top)"
