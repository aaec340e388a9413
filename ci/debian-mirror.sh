#!/usr/bin/env bash
# Print the URI of a Debian archive this machine's apt uses.
#
# Usage: ci/debian-mirror.sh [main|security]
#
# main:     the first entry whose suite is not a -security suite and whose
#           URI ends in "debian" (BIRD_DEBIAN_MIRROR, if set, wins);
# security: the first entry whose suite is a -security suite
#           (BIRD_DEBIAN_SECURITY_MIRROR wins); with none configured, the
#           main archive's URI with "-security" appended, the layout of
#           Debian's own mirrors (.../debian and .../debian-security).
# Reads /etc/apt/sources.list{,.d/*.list} (one-line format) and
# /etc/apt/sources.list.d/*.sources (deb822). No host name is written
# anywhere: the archive is whatever this machine already trusts.
set -euo pipefail

which=${1:-main}
case $which in
  main)     [ -z "${BIRD_DEBIAN_MIRROR:-}" ] || { echo "$BIRD_DEBIAN_MIRROR"; exit 0; } ;;
  security) [ -z "${BIRD_DEBIAN_SECURITY_MIRROR:-}" ] || { echo "$BIRD_DEBIAN_SECURITY_MIRROR"; exit 0; } ;;
  *) echo "usage: $0 [main|security]" >&2; exit 2 ;;
esac

# Every "uri suite" pair of deb and deb-src entries, in apt's reading order.
entries() {
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk '$1 == "deb" || $1 == "deb-src" {
           i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
           print $i, $(i + 1)
         }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk 'BEGIN { RS = ""; FS = "\n" }
         {
           uri = ""; n = 0
           for (i = 1; i <= NF; i++) {
             if ($i ~ /^URIs:/) { uri = $i; sub(/^URIs:[ \t]*/, "", uri); sub(/[ \t].*/, "", uri) }
             if ($i ~ /^Suites:/) { s = $i; sub(/^Suites:[ \t]*/, "", s); n = split(s, suites, /[ \t]+/) }
           }
           for (j = 1; j <= n; j++) if (uri != "") print uri, suites[j]
         }' "$f"
  done
}

main=$(entries | awk '$2 !~ /security/ && $1 ~ /debian\/?$/ { print $1; exit }')
if [ "$which" = security ]; then
  sec=$(entries | awk '$2 ~ /security/ { print $1; exit }')
  [ -n "$sec" ] || { [ -n "$main" ] && sec=${main%/}-security; }
  main=$sec
fi
if [ -z "$main" ]; then
  echo "debian-mirror: no Debian $which archive in /etc/apt/sources.list{,.d/}; set BIRD_DEBIAN_MIRROR" >&2
  exit 1
fi
echo "${main%/}"
