#!/usr/bin/env bash
# Unpack a pristine BIRD 2.17.5 into DEST, apply a quilt series, autoreconf.
#
# Usage: ci/prepare-bird-tree.sh {--tarball FILE | --source DIR} DEST [PATCHDIR]
#
# PATCHDIR holds "series" and the patches it names (-p1, applied in order).
# A patch that does not apply stops here with its name. DEST is replaced
# only when everything succeeded.
set -euo pipefail

BIRD_VERSION=2.17.5

kind=${1:?"usage: $0 --tarball FILE|--source DIR DEST [PATCHDIR]"}
from=${2:?missing FILE or DIR}
dest=${3:?missing DEST}
patches=${4:-}

tmp=$dest.tmp
rm -rf "$tmp"
mkdir -p "$tmp"

case $kind in
  --tarball)
    echo "prepare-bird-tree: unpacking $from into $dest"
    tar -xzf "$from" -C "$tmp" --strip-components=1 ;;
  --source)
    echo "prepare-bird-tree: copying $from into $dest"
    cp -a "$from/." "$tmp/" ;;
  *)
    echo "prepare-bird-tree: unknown source kind $kind" >&2; exit 2 ;;
esac

version=$(cat "$tmp/VERSION" 2>/dev/null || echo unknown)
if [ "$version" != "$BIRD_VERSION" ]; then
  echo "prepare-bird-tree: $from is BIRD $version, need $BIRD_VERSION" >&2
  exit 1
fi

if [ -n "$patches" ]; then
  while read -r p _; do
    case $p in ''|'#'*) continue ;; esac
    echo "prepare-bird-tree: applying $p"
    if ! patch -d "$tmp" -p1 --batch --forward --quiet < "$patches/$p"; then
      echo "prepare-bird-tree: patch $p does not apply to BIRD $BIRD_VERSION" >&2
      exit 1
    fi
  done < "$patches/series"
fi

echo "prepare-bird-tree: autoreconf in $dest"
(cd "$tmp" && autoreconf -i >/dev/null 2>&1) || {
  echo "prepare-bird-tree: autoreconf failed in $tmp" >&2; exit 1; }

rm -rf "$dest"
mv "$tmp" "$dest"
