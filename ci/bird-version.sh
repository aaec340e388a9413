#!/usr/bin/env bash
# Read ci/bird-versions, the table of BIRD versions we build on.
#
# Usage: ci/bird-version.sh list          versions, newest first
#        ci/bird-version.sh show VERSION  its line: upstream debian-version
#                                         orig-tarball orig-sha256 dsc-sha256 tested
#        ci/bird-version.sh of-tarball FILE   the version whose orig sha256 FILE has
# Exit 1 (with a message) for a version or tarball the table does not know.
# BIRD_VERSIONS names another table (the fetch tests use their own).
set -euo pipefail

table=${BIRD_VERSIONS:-$(dirname "$0")/bird-versions}
rows() { sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$table"; }

case ${1:-} in
  list) rows | awk '{ print $1 }' ;;
  show)
    v=${2:?usage: $0 show VERSION}
    rows | awk -v v="$v" '$1 == v { print; found = 1 } END { exit !found }' || {
      echo "bird-version: BIRD $v is not in $table (known: $(rows | awk '{ printf "%s ", $1 }'))" >&2
      exit 1; } ;;
  of-tarball)
    f=${2:?usage: $0 of-tarball FILE}
    sum=$(sha256sum < "$f" | awk '{ print $1 }')
    rows | awk -v s="$sum" '$4 == s { print $1; found = 1 } END { exit !found }' || {
      echo "bird-version: $f (sha256 $sum) is no BIRD tarball of $table" >&2
      exit 1; } ;;
  *) echo "usage: $0 list | show VERSION | of-tarball FILE" >&2; exit 2 ;;
esac
