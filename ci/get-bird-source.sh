#!/usr/bin/env bash
# Fetch Debian's bird2 source package of one BIRD version into DIR, verified.
#
# Usage: ci/get-bird-source.sh DIR VERSION [--no-hint]   (VERSION from ci/bird-versions)
#
# Debian moves a version between suites (a point release replaces it in
# trixie; it may stay listed in trixie-security) and the index that lists it
# may not be the archive that holds its files, so no single index is trusted
# to have it. In order, the first place that yields verified files wins:
#   1. DIR, from an earlier run (verified again);
#   2. apt-get source in each suite that can carry it: trixie, trixie-updates,
#      trixie-proposed-updates of the main archive, trixie-security of the
#      security archive (both from ci/debian-mirror.sh: this machine's own apt
#      sources), each with a private sources list and list directory: the
#      system's apt configuration is never changed;
#   3. the pool, straight: pool/main/b/bird2/ of the main archive and
#      pool/updates/main/b/bird2/ of the security archive.
# The .dsc and the .orig tarball must have the sha256 pinned in
# ci/bird-versions, the Debian tarball the sha256 the .dsc gives. A file that
# does not is removed, and the next place is tried. When nothing is found it
# says where it looked and (unless --no-hint) how to pass a tarball instead.
#
# Environment: BIRD_DEBIAN_MIRROR, BIRD_DEBIAN_SECURITY_MIRROR (see
# debian-mirror.sh); BIRD_APT_OPTIONS, options for the deb-src entries (e.g.
# "signed-by=/path/key.gpg" for a local mirror with its own key).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: $0 DIR VERSION}
version=${2:?usage: $0 DIR VERSION}
hint=${3:-}
read -r _ debver orig orig_sha dsc_sha _ < <("$here/bird-version.sh" show "$version")
dsc=bird2_$debver.dsc
mkdir -p "$out"
out=$(cd "$out" && pwd)
say() { echo "get-bird-source: $*"; }

# The Debian tarball's sha256 and name, from a .dsc in DIR.
debian_file() {
  awk '/^Checksums-Sha256:/ { on = 1; next } /^[^ ]/ { on = 0 }
       on && $3 ~ /\.debian\.tar\./ { print $1, $3; exit }' "$1/$dsc"
}

# check DIR FILE SHA256: a file that is there but does not match is removed.
check() {
  local f=$1/$2
  [ -e "$f" ] || return 1
  # apt links file: URIs instead of copying them
  if [ -L "$f" ]; then cp --remove-destination "$(readlink -f "$f")" "$f"; fi
  [ "$(sha256sum < "$f" | awk '{ print $1 }')" = "$3" ] && return 0
  say "REFUSED $2: its sha256 is not $3; removed"
  rm -f "$f"
  return 1
}

# verify DIR: the .dsc, the .orig and the Debian tarball are all good.
verify() {
  local want name
  check "$1" "$dsc" "$dsc_sha" || return 1
  read -r want name < <(debian_file "$1") || { say "REFUSED $dsc: names no Debian tarball"; return 1; }
  check "$1" "$orig" "$orig_sha" && check "$1" "$name" "$want"
}

# take DIR: move its verified set into $out.
take() {
  local name
  read -r _ name < <(debian_file "$1")
  mv -f "$1/$dsc" "$1/$orig" "$1/$name" "$out/"
}

if verify "$out"; then
  say "BIRD $version: $out/$orig and $dsc already here, verified"
  exit 0
fi

main=$("$here/debian-mirror.sh" main 2>/dev/null || true)
security=$("$here/debian-mirror.sh" security 2>/dev/null || true)
looked=()
try=$out/try
apt_dir=$out/apt

# Why apt failed, in a few words, from its log.
reason() {
  grep -m1 -oE '\b[45][0-9]{2} +[A-Z][A-Za-z ]+[a-z]|File not found' "$1" ||
    { grep -m1 -E '^(E|Err):' "$1" | sed -e 's/ *\[IP:.*//' | cut -c1-140; } || echo "$2"
}

# 2. apt-get source, one suite at a time
apt_try() { # uri suite
  local uri=$1 suite=$2 lists=$apt_dir/$2 opts=() listed
  mkdir -p "$lists/partial"
  echo "deb-src ${BIRD_APT_OPTIONS:+[$BIRD_APT_OPTIONS] }$uri $suite main" > "$lists/sources.list"
  opts=(-o "Dir::Etc::SourceList=$lists/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
        -o "Dir::State::Lists=$lists" -o "APT::Get::List-Cleanup=0"
        -o "APT::Sandbox::User=root")
  if ! apt-get "${opts[@]}" -qq update > "$lists/update.log" 2>&1; then
    looked+=("$suite ($uri): no index ($(reason "$lists/update.log" "apt-get update failed"))")
    return 1
  fi
  listed=$(apt-cache "${opts[@]}" showsrc --only-source bird2 2>/dev/null |
           awk '/^Version:/ { printf "%s%s", sep, $2; sep = " " }')
  case " $listed " in
    *" $debver "*) ;;
    *) looked+=("$suite ($uri): lists bird2 ${listed:-nothing}, not $debver"); return 1 ;;
  esac
  rm -rf "$try" && mkdir -p "$try"
  if ! (cd "$try" && apt-get "${opts[@]}" -qq source --download-only "bird2=$debver") \
      > "$lists/source.log" 2>&1; then
    looked+=("$suite ($uri): lists $debver, download failed ($(reason "$lists/source.log" "apt-get source failed"))")
    return 1
  fi
  if ! verify "$try"; then
    looked+=("$suite ($uri): lists $debver, files refused (checksum)")
    return 1
  fi
  from="$suite ($uri)"
}

# 3. the pool, file by file: the .dsc first, which names the Debian tarball
pool_try() { # uri pooldir
  local base=$1/$2 f want name
  fetch() {
    /usr/lib/apt/apt-helper -o APT::Sandbox::User=root download-file "$base/$1" "$try/$1" \
      > "$try/.log" 2>&1 && return 0
    looked+=("$base/: no $1 ($(reason "$try/.log" "download failed"))")
    return 1
  }
  rm -rf "$try" && mkdir -p "$try"
  fetch "$dsc" || return 1
  check "$try" "$dsc" "$dsc_sha" || { looked+=("$base/: $dsc refused (checksum)"); return 1; }
  read -r want name < <(debian_file "$try") || { looked+=("$base/: $dsc names no Debian tarball"); return 1; }
  for f in "$orig" "$name"; do fetch "$f" || return 1; done
  verify "$try" || { looked+=("$base/: files refused (checksum)"); return 1; }
  from=$base/
}

found= from=
if [ -n "$main" ]; then
  for suite in trixie trixie-updates trixie-proposed-updates; do
    apt_try "$main" "$suite" && { found=1; break; }
  done
fi
if [ -z "$found" ] && [ -n "$security" ]; then
  apt_try "$security" trixie-security && found=1
fi
if [ -z "$found" ] && [ -n "$main" ]; then
  pool_try "$main" pool/main/b/bird2 && found=1
fi
if [ -z "$found" ] && [ -n "$security" ]; then
  pool_try "$security" pool/updates/main/b/bird2 && found=1
fi

if [ -n "$found" ]; then
  [ ${#looked[@]} -eq 0 ] || printf 'get-bird-source: not from %s\n' "${looked[@]}"
  say "BIRD $version: $dsc and its files from $from, verified"
  take "$try"
  rm -rf "$try"
  exit 0
fi
rm -rf "$try"
{
  echo "get-bird-source: BIRD $version ($dsc, $orig) found nowhere. Looked in:"
  [ -n "$main$security" ] || echo "  no Debian archive in /etc/apt/sources.list{,.d/}"
  printf '  %s\n' "${looked[@]}"
  [ "$hint" != --no-hint ] || exit 1
  echo "Get $orig (sha256 $orig_sha) by hand and run"
  echo "  ./configure --with-bird-tarball=FILE     or"
  echo "  ./configure --with-bird-source=DIR       (an unpacked, unpatched tree)"
  echo "or point BIRD_DEBIAN_MIRROR / BIRD_DEBIAN_SECURITY_MIRROR at a Debian archive."
} >&2
exit 1
