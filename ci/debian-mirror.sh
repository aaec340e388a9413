#!/usr/bin/env bash
# Print the URI of the main Debian archive this machine's apt uses.
#
# Usage: ci/debian-mirror.sh        (BIRD_DEBIAN_MIRROR, if set, wins)
#
# Reads /etc/apt/sources.list{,.d/*.list} (one-line format) and
# /etc/apt/sources.list.d/*.sources (deb822). A main archive entry is one
# whose suite is not a -security suite and whose URI ends in "debian".
# The same rule as ci/get-bird-source.sh; no host name is written anywhere.
set -euo pipefail

if [ -n "${BIRD_DEBIAN_MIRROR:-}" ]; then
  echo "$BIRD_DEBIAN_MIRROR"
  exit 0
fi

uris=$(
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk '$1 == "deb" || $1 == "deb-src" {
           i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
           uri = $i; suite = $(i + 1)
           if (suite !~ /security/ && uri ~ /debian\/?$/) { print uri; exit }
         }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk 'BEGIN { RS = ""; FS = "\n" }
         {
           uri = ""; suites = ""
           for (i = 1; i <= NF; i++) {
             if ($i ~ /^URIs:/)   { uri = $i; sub(/^URIs:[ \t]*/, "", uri); sub(/[ \t].*/, "", uri) }
             if ($i ~ /^Suites:/) { suites = $i }
           }
           if (uri != "" && suites !~ /security/ && uri ~ /debian\/?$/) { print uri; exit }
         }' "$f"
  done
)
if [ -z "$uris" ]; then
  echo "debian-mirror: no Debian archive in /etc/apt/sources.list{,.d/}; set BIRD_DEBIAN_MIRROR" >&2
  exit 1
fi
echo "${uris%%$'\n'*}"
