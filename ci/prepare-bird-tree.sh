#!/usr/bin/env bash
# Unpack a pristine BIRD into DEST, apply a quilt series, autoreconf.
#
# Usage: ci/prepare-bird-tree.sh [--no-autoreconf] VERSION {--tarball FILE | --source DIR} DEST [PATCHDIR]
#
# The tree's VERSION file must say VERSION. PATCHDIR holds "series" and the
# patches it names (-p1, applied in order); a patch that does not apply
# stops here with its name. DEST is replaced only when everything succeeded.
# --no-autoreconf stops after the patches (select-bird-source.sh uses it to
# ask whether the series applies to a version).
set -euo pipefail

autoreconf=1
[ "${1:-}" != --no-autoreconf ] || { autoreconf=; shift; }
usage="usage: $0 [--no-autoreconf] VERSION --tarball FILE|--source DIR DEST [PATCHDIR]"
want=${1:?$usage}
kind=${2:?$usage}
from=${3:?$usage}
dest=${4:?$usage}
patches=${5:-}

tmp=$dest.tmp
rm -rf "$tmp"
mkdir -p "$tmp"

case $kind in
  --tarball)
    echo "prepare-bird-tree: unpacking $(basename "$from") into $dest"
    tar -xf "$from" -C "$tmp" --strip-components=1 ;;
  --source)
    echo "prepare-bird-tree: copying $from into $dest"
    cp -a "$from/." "$tmp/" ;;
  *)
    echo "prepare-bird-tree: unknown source kind $kind" >&2; exit 2 ;;
esac

version=$(cat "$tmp/VERSION" 2>/dev/null || echo unknown)
if [ "$version" != "$want" ]; then
  echo "prepare-bird-tree: $from is BIRD $version, need $want" >&2
  rm -rf "$tmp"; exit 1
fi

if [ -n "$patches" ]; then
  while read -r p _; do
    case $p in ''|'#'*) continue ;; esac
    echo "prepare-bird-tree: applying $p"
    if ! patch -d "$tmp" -p1 --batch --forward --quiet < "$patches/$p"; then
      echo "prepare-bird-tree: patch $p does not apply to BIRD $want" >&2
      rm -rf "$tmp"; exit 1
    fi
  done < "$patches/series"
fi

if [ -n "$autoreconf" ]; then
  echo "prepare-bird-tree: autoreconf in $dest"
  (cd "$tmp" && autoreconf -i >/dev/null 2>&1) || {
    echo "prepare-bird-tree: autoreconf failed in $tmp" >&2; exit 1; }
fi

rm -rf "$dest"
mv "$tmp" "$dest"
