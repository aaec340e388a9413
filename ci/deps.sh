#!/usr/bin/env bash
# Install what building and testing bird-autopilot needs, from Debian's archive.
# Idempotent: packages already installed are left alone; apt-get update runs
# only when something is missing.
set -euo pipefail

pkgs=(
  # build: autotools for both trees, BIRD's own build dependencies
  build-essential autoconf automake m4 flex bison pkg-config patch
  libssh-dev libncurses-dev libreadline-dev
  # tests: unit tests, integration in network namespaces with real peers
  libcmocka-dev python3 python3-pytest iproute2 procps psmisc
  # fuzzing (libFuzzer is clang's runtime) and the sanitizer and valgrind checks
  clang libclang-rt-dev valgrind
  gobgpd exabgp frr bird2
  # metrics: Prometheus' text parser (Python) and promtool check metrics
  python3-prometheus-client prometheus
  # kernel check (Precision Path) and Debian package
  qemu-system-x86 busybox-static cpio kmod file
  dpkg-dev debhelper devscripts quilt fakeroot debootstrap
  # docs: BIRD's user and programmer's guides (linuxdoc, onsgmls)
  linuxdoc-tools opensp
  # benchmark: profiles (--perf) and the repoint's system calls (perf trace, strace)
  linux-perf strace
)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#pkgs[@]} packages present"
  exit 0
fi

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Packages that start services on install must not keep ports or routes busy
# in the root namespace: the tests run their own instances in namespaces.
for svc in bird frr exabgp gobgpd prometheus; do
  systemctl disable --now "$svc" >/dev/null 2>&1 || true
done
echo "deps: done"
