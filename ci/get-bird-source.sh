#!/usr/bin/env bash
# Fetch the pinned BIRD 2.17.5 upstream tarball into DIR and verify it.
#
# Usage: ci/get-bird-source.sh DIR
#
# The tarball comes from the distribution's bird2 source package (Debian 13
# "trixie" has 2.17.5).  On Debian 12 the machine has no deb-src entry for
# trixie, so we derive one from the Debian mirror the machine already uses
# (one-line sources.list or deb822 .sources) and run apt-get against a private
# list directory: the system's apt configuration is never modified.
set -euo pipefail

BIRD_VERSION=2.17.5
DEB_VERSION=2.17.5-0+deb13u1
TARBALL=bird2_${BIRD_VERSION}.orig.tar.gz
SHA256=92ca93118a6b168ae5425c09e63e2365ee8ee16d1ff7f15820936c5d9495ba83

out=${1:?usage: $0 DIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)

verify() {
  echo "$SHA256  $1" | sha256sum --check --status
}

if [ -f "$out/$TARBALL" ] && verify "$out/$TARBALL"; then
  echo "get-bird-source: $out/$TARBALL already present and verified"
  exit 0
fi

mirror=$("$(dirname "$0")/debian-mirror.sh" 2>/dev/null || true)
if [ -z "$mirror" ]; then
  cat >&2 <<MSG
get-bird-source: no Debian archive found in /etc/apt/sources.list{,.d/}.
Get $TARBALL (sha256 $SHA256) by hand and run
  ./configure --with-bird-tarball=FILE     or
  ./configure --with-bird-source=DIR
or set BIRD_DEBIAN_MIRROR to the URI of a Debian archive.
MSG
  exit 1
fi

work=$out/apt
mkdir -p "$work/lists/partial"
echo "deb-src $mirror trixie main" > "$work/sources.list"
apt_opts=(-o "Dir::Etc::SourceList=$work/sources.list"
          -o "Dir::Etc::SourceParts=/dev/null"
          -o "Dir::State::Lists=$work/lists"
          -o "APT::Get::List-Cleanup=0"
          -o "APT::Sandbox::User=root")
echo "get-bird-source: apt-get source bird2=$DEB_VERSION (deb-src trixie, mirror from this machine's apt sources)"
apt-get "${apt_opts[@]}" -qq update
(cd "$out" && apt-get "${apt_opts[@]}" -qq source --download-only "bird2=$DEB_VERSION")

if ! verify "$out/$TARBALL"; then
  echo "get-bird-source: $out/$TARBALL does not match sha256 $SHA256" >&2
  rm -f "$out/$TARBALL"
  exit 1
fi
echo "get-bird-source: $out/$TARBALL verified (sha256 $SHA256)"
