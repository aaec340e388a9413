#!/usr/bin/env bash
# Tests of the BIRD source fetch (ci/get-bird-source.sh, ci/select-bird-source.sh)
# against local file: archives built here, shaped as the Debian archive is
# after a point release: the real archive never has to change for them.
#
# Usage: tests/fetch/run.sh        (root: apt-get update into private lists)
#
# Each archive holds bird2 source packages of made-up BIRD versions 9.0.1
# (the pinned one) and 9.0.2 (newer), each a real .dsc, .orig and Debian
# tarball; their sha256 go into a table of their own (BIRD_VERSIONS).
# The last line is the summary.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
ci=$(cd "$here/../../ci" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0 failed=0
ok()   { echo "fetch: ok: $1"; passed=$((passed + 1)); }
fail() { echo "fetch: FAILED: $1"; failed=$((failed + 1)); }
say()  { echo "fetch: $*"; }

# --- Source packages --------------------------------------------------------

# make_pkg VERSION: bird2_VERSION.orig.tar.gz, bird2_VERSION-0+deb13u1.{dsc,debian.tar.xz}
make_pkg() {
  local v=$1 d=$work/pkgs/$1 deb=$1-0+deb13u1
  mkdir -p "$d/bird-$v/debian/source"
  echo "$v" > "$d/bird-$v/VERSION"
  printf 'int main(void) { return 0; }\n' > "$d/bird-$v/main.c"
  echo "3.0 (quilt)" > "$d/bird-$v/debian/source/format"
  tar -C "$d" -czf "$d/bird2_$v.orig.tar.gz" --exclude=debian "bird-$v"
  tar -C "$d/bird-$v" -cJf "$d/bird2_$deb.debian.tar.xz" debian
  {
    echo "Format: 3.0 (quilt)"; echo "Source: bird2"; echo "Binary: bird2"
    echo "Architecture: any"; echo "Version: $deb"; echo "Maintainer: test <test@localhost>"
    for sum in sha256 md5; do
      [ $sum = sha256 ] && echo "Checksums-Sha256:" || echo "Files:"
      for f in "bird2_$v.orig.tar.gz" "bird2_$deb.debian.tar.xz"; do
        echo " $(${sum}sum < "$d/$f" | awk '{ print $1 }') $(stat -c %s "$d/$f") $f"
      done
    done
  } > "$d/bird2_$deb.dsc"
  rm -rf "$d/bird-$v"
}
make_pkg 9.0.1
make_pkg 9.0.2

sha() { sha256sum < "$1" | awk '{ print $1 }'; }
table=$work/bird-versions
for v in 9.0.2 9.0.1; do
  p=$work/pkgs/$v
  echo "$v $v-0+deb13u1 bird2_$v.orig.tar.gz $(sha "$p/bird2_$v.orig.tar.gz") $(sha "$p/bird2_$v-0+deb13u1.dsc") yes"
done > "$table"
export BIRD_VERSIONS=$table

# --- Archives ----------------------------------------------------------------

# suite ARCHIVE SUITE POOLDIR VERSION...: index the versions' .dsc (as they
# are in the pool now) in ARCHIVE/dists/SUITE, with a Release file.
suite() {
  local a=$1 s=$2 pool=$3 rel; shift 3
  mkdir -p "$a/$pool" "$a/dists/$s/main/source"
  for v in "$@"; do cp "$work/pkgs/$v"/* "$a/$pool/"; done
  (cd "$a" && for v in "$@"; do
     dpkg-scansources "$pool" /dev/null 2>/dev/null |
       awk -v v="$v-0+deb13u1" 'BEGIN { RS = ""; ORS = "\n\n" } index($0 "\n", "\nVersion: " v "\n") { print }'
   done) > "$a/dists/$s/main/source/Sources"
  gzip -kf "$a/dists/$s/main/source/Sources"
  rel=$a/dists/$s/Release
  { echo "Suite: $s"; echo "Codename: $s"; echo "Components: main"
    echo "Date: $(date -Ru)"; echo "SHA256:"
    for f in Sources Sources.gz; do
      echo " $(sha "$a/dists/$s/main/source/$f") $(stat -c %s "$a/dists/$s/main/source/$f") main/source/$f"
    done; } > "$rel"
}

# A fresh archive pair for one case: main and security.
new_archive() {
  arch=$work/archive-$1
  rm -rf "$arch"
  mkdir -p "$arch/debian" "$arch/debian-security"
  export BIRD_DEBIAN_MIRROR=file://$arch/debian
  export BIRD_DEBIAN_SECURITY_MIRROR=file://$arch/debian-security
}
export BIRD_APT_OPTIONS=trusted=yes

# fetch DIR VERSION: runs get-bird-source.sh, output in $work/out, status in $rc
fetch() { rc=0; "$ci/get-bird-source.sh" "$@" > "$work/out" 2>&1 || rc=$?; }
has() { grep -q -- "$1" "$work/out"; }
got_all() { # DIR VERSION: the three files there, byte for byte the package's
  local f
  for f in "$work/pkgs/$2"/*; do cmp -s "$f" "$1/$(basename "$f")" || return 1; done
}
show_out() { sed 's/^/    | /' "$work/out"; }

# --- (a) trixie lists only the newer version; the pool still has the pinned files
new_archive a
suite "$arch/debian" trixie pool/main/b/bird2 9.0.2
cp "$work/pkgs/9.0.1"/* "$arch/debian/pool/main/b/bird2/"
suite "$arch/debian-security" trixie-security pool/updates/main/b/bird2
fetch "$work/dl-a" 9.0.1
if [ $rc = 0 ] && got_all "$work/dl-a" 9.0.1 && has "not from trixie (.*lists bird2 9.0.2-0+deb13u1, not 9.0.1" &&
   has "from file://$arch/debian/pool/main/b/bird2/, verified"; then
  ok "(a) trixie lists only 9.0.2: 9.0.1 comes from the main archive's pool"
else show_out; fail "(a) trixie lists only 9.0.2: 9.0.1 from the pool"; fi

# Run again: the files there are verified, nothing is fetched
rm -rf "$arch"
fetch "$work/dl-a" 9.0.1
if [ $rc = 0 ] && has "already here, verified"; then ok "(a) a second run takes the verified files it has"
else show_out; fail "(a) second run"; fi

# --- (b) the pinned version is only in -security (files in its pool)
new_archive b
suite "$arch/debian" trixie pool/main/b/bird2 9.0.2
suite "$arch/debian-security" trixie-security pool/updates/main/b/bird2 9.0.1
fetch "$work/dl-b" 9.0.1
if [ $rc = 0 ] && got_all "$work/dl-b" 9.0.1 && has "from trixie-security (file://$arch/debian-security), verified"; then
  ok "(b) 9.0.1 only in trixie-security: apt-get source there"
else show_out; fail "(b) 9.0.1 only in trixie-security"; fi

# The table's newest that can be had is taken: 9.0.2 from trixie
mkdir -p "$work/patches"; : > "$work/patches/series"
rc=0; "$ci/select-bird-source.sh" "$work/sel-b" "$work/patches" > "$work/out" 2>&1 || rc=$?
if [ $rc = 0 ] && grep -q '^BIRD_VERSION=9.0.2$' "$work/sel-b/selected" && has "building on BIRD 9.0.2"; then
  ok "(b) select takes the newest version whose source can be had (9.0.2)"
else show_out; fail "(b) select takes 9.0.2"; fi

# A patch that does not apply to 9.0.2 but to 9.0.1: 9.0.1 is taken, and said why
cat > "$work/patches/only-901.patch" <<'EOF'
--- a/VERSION
+++ b/VERSION
@@ -1 +1 @@
-9.0.1
+9.0.1-patched
EOF
echo only-901.patch > "$work/patches/series"
rc=0; "$ci/select-bird-source.sh" "$work/sel-b" "$work/patches" > "$work/out" 2>&1 || rc=$?
if [ $rc = 0 ] && grep -q '^BIRD_VERSION=9.0.1$' "$work/sel-b/selected" &&
   has "passed over BIRD 9.0.2: the patch series does not apply"; then
  ok "(b) select passes over a version its patches do not apply to"
else show_out; fail "(b) select passes over 9.0.2"; fi

# --with-bird-version picks one
: > "$work/patches/series"
rc=0; "$ci/select-bird-source.sh" "$work/sel-b" "$work/patches" 9.0.1 > "$work/out" 2>&1 || rc=$?
if [ $rc = 0 ] && grep -q '^BIRD_VERSION=9.0.1$' "$work/sel-b/selected"; then ok "(b) an explicit version is taken"
else show_out; fail "(b) explicit version"; fi

# --- (c) nothing usable: one clear message
new_archive c
suite "$arch/debian" trixie pool/main/b/bird2 9.0.2
rm -f "$arch/debian/pool/main/b/bird2"/*
suite "$arch/debian-security" trixie-security pool/updates/main/b/bird2
fetch "$work/dl-c" 9.0.1
if [ $rc = 1 ] && has "BIRD 9.0.1 .* found nowhere. Looked in:" && has "  trixie (file://" &&
   has "  trixie-security (file://" && has "  trixie-proposed-updates (file://.*no index" &&
   has "pool/main/b/bird2/: no bird2_9.0.1-0+deb13u1.dsc" &&
   has "pool/updates/main/b/bird2/: no bird2_9.0.1-0+deb13u1.dsc" &&
   has "--with-bird-tarball=FILE" && ! ls "$work/dl-c"/bird2_* >/dev/null 2>&1; then
  ok "(c) nothing usable: exit 1, one message naming every place and the way to pass a tarball"
else show_out; fail "(c) nothing usable"; fi

# A version the table does not know
fetch "$work/dl-c" 1.2.3
if [ $rc = 1 ] && has "BIRD 1.2.3 is not in $table (known: 9.0.2 9.0.1"; then
  ok "(c) a version the table does not know: exit 1, the known ones named"
else show_out; fail "(c) unknown version"; fi

# --- (d) a file whose checksum does not match: refused and removed
new_archive d
# The archive is consistent (its index matches the file) but the tarball is
# not the pinned one: only our pin can tell.
cp -a "$work/pkgs/9.0.1" "$work/pkgs/9.0.1.good"
echo tampered >> "$work/pkgs/9.0.1/bird2_9.0.1.orig.tar.gz"
suite "$arch/debian" trixie pool/main/b/bird2 9.0.1
suite "$arch/debian-security" trixie-security pool/updates/main/b/bird2
fetch "$work/dl-d" 9.0.1
if [ $rc = 1 ] && has "REFUSED bird2_9.0.1.orig.tar.gz: its sha256 is not" &&
   [ ! -e "$work/dl-d/bird2_9.0.1.orig.tar.gz" ] && has "found nowhere"; then
  ok "(d) a tarball not matching its pinned sha256 is refused and removed"
else show_out; fail "(d) tampered tarball"; fi
rm -rf "$work/pkgs/9.0.1" && mv "$work/pkgs/9.0.1.good" "$work/pkgs/9.0.1"

# A bad file left in DIR by an earlier run is refused, then fetched again
new_archive d2
suite "$arch/debian" trixie pool/main/b/bird2 9.0.1
mkdir -p "$work/dl-d2" && cp "$work/pkgs/9.0.1"/* "$work/dl-d2/"
echo junk > "$work/dl-d2/bird2_9.0.1-0+deb13u1.debian.tar.xz"
fetch "$work/dl-d2" 9.0.1
if [ $rc = 0 ] && has "REFUSED bird2_9.0.1-0+deb13u1.debian.tar.xz" && got_all "$work/dl-d2" 9.0.1 &&
   has "from trixie (file://"; then
  ok "(d) a Debian tarball not matching the .dsc is refused, then fetched again"
else show_out; fail "(d) stale bad file"; fi

# A .dsc that is not the pinned one is refused even when apt accepts it
new_archive d3
sed -i 's/^Maintainer: .*/Maintainer: someone else <x@localhost>/' "$work/pkgs/9.0.1/bird2_9.0.1-0+deb13u1.dsc"
suite "$arch/debian" trixie pool/main/b/bird2 9.0.1
fetch "$work/dl-d3" 9.0.1
if [ $rc = 1 ] && has "REFUSED bird2_9.0.1-0+deb13u1.dsc" && [ ! -e "$work/dl-d3/bird2_9.0.1-0+deb13u1.dsc" ]; then
  ok "(d) a .dsc not matching its pinned sha256 is refused"
else show_out; fail "(d) tampered .dsc"; fi

echo "fetch: $passed passed, $failed failed"
[ "$failed" = 0 ]
