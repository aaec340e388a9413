#!/usr/bin/env bash
# Choose the BIRD source to build on and write the choice to DL/selected.
#
# Usage: ci/select-bird-source.sh DL PATCHDIR [VERSION|auto] [--tarball FILE | --source DIR]
#
# With a tarball or a tree, that is the source: its version (the tarball's
# sha256, the tree's VERSION file) must be in ci/bird-versions and match
# VERSION if one is given. Otherwise each version of ci/bird-versions, newest
# first (or VERSION alone), is fetched by get-bird-source.sh into DL/VERSION
# and the patch series is tried on it; the first that has both is taken.
# DL/selected is a shell fragment: BIRD_VERSION, BIRD_DEB_VERSION, BIRD_KIND
# (--tarball or --source) and BIRD_FROM, for the Makefile and ci/deb.sh.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
usage="usage: $0 DL PATCHDIR [VERSION|auto] [--tarball FILE | --source DIR]"
dl=${1:?$usage}
patches=${2:?$usage}
want=${3:-auto}
kind=${4:-}
from=${5:-}
mkdir -p "$dl"
dl=$(cd "$dl" && pwd)
say() { echo "select-bird-source: $*"; }
die() { echo "select-bird-source: $*" >&2; exit 1; }

select_it() { # version kind from
  local debver tested
  read -r _ debver _ _ _ tested < <("$here/bird-version.sh" show "$1")
  printf 'BIRD_VERSION=%s\nBIRD_DEB_VERSION=%s\nBIRD_KIND=%s\nBIRD_FROM=%q\n' \
    "$1" "$debver" "$2" "$3" > "$dl/selected.tmp"
  # Rewritten only when it changes: the trees are remade when it does.
  if cmp -s "$dl/selected.tmp" "$dl/selected"; then rm "$dl/selected.tmp"
  else mv "$dl/selected.tmp" "$dl/selected"; fi
  say "building on BIRD $1 (Debian $debver) from $3"
  [ "$tested" = yes ] ||
    say "NOTE: BIRD $1 is not yet marked tested in ci/bird-versions: run make check and make check-deb"
}

case $kind in
  --tarball)
    v=$("$here/bird-version.sh" of-tarball "$from") || exit 1
    [ "$want" = auto ] || [ "$want" = "$v" ] || die "$from is BIRD $v, not $want"
    select_it "$v" --tarball "$from"; exit 0 ;;
  --source)
    v=$(cat "$from/VERSION" 2>/dev/null) || die "$from: no BIRD tree there (no VERSION file)"
    "$here/bird-version.sh" show "$v" >/dev/null || exit 1
    [ "$want" = auto ] || [ "$want" = "$v" ] || die "$from is BIRD $v, not $want"
    select_it "$v" --source "$from"; exit 0 ;;
  '') ;;
  *) die "$usage" ;;
esac

if [ "$want" = auto ]; then
  candidates=$("$here/bird-version.sh" list)
else
  "$here/bird-version.sh" show "$want" >/dev/null || exit 1
  candidates=$want
fi
skipped=()
for v in $candidates; do
  read -r _ _ orig _ < <("$here/bird-version.sh" show "$v")
  if ! "$here/get-bird-source.sh" "$dl/$v" "$v" --no-hint; then
    skipped+=("$v: source not to be had (above)"); continue
  fi
  if ! "$here/prepare-bird-tree.sh" --no-autoreconf "$v" --tarball "$dl/$v/$orig" "$dl/patch-check" "$patches" >/dev/null; then
    skipped+=("$v: the patch series does not apply"); continue
  fi
  rm -rf "$dl/patch-check"
  [ ${#skipped[@]} -eq 0 ] || printf 'select-bird-source: passed over BIRD %s\n' "${skipped[@]}"
  select_it "$v" --tarball "$dl/$v/$orig"
  exit 0
done
{
  echo "select-bird-source: no BIRD version to build on:"
  printf '  %s\n' "${skipped[@]}"
  echo "Get the .orig tarball of one of them (ci/bird-versions has each sha256) and run"
  echo "  ./configure --with-bird-tarball=FILE     or"
  echo "  ./configure --with-bird-source=DIR       (an unpacked, unpatched tree)"
  echo "or point BIRD_DEBIAN_MIRROR / BIRD_DEBIAN_SECURITY_MIRROR at a Debian archive."
} >&2
exit 1
