#!/usr/bin/env bash
# Turn Debian's bird2 packaging in TREE into the package bird2-autopilot.
#
# Usage: ci/deb-adapt.sh TREE SRCDIR   (an unpacked bird2 source package, this repository)
#
# Why a package of its own name: Debian's bird2 of any later point release
# sorts above any version of ours built on an earlier one, so under the name
# bird2 a routine "apt upgrade" swaps the patched daemon out and the switch's
# configuration stops parsing. A different name is never "upgraded" to
# Debian's bird2; Provides/Conflicts/Replaces bird2 make it a drop-in (what
# depends on bird2 stays satisfied, the two are never installed together,
# ours takes over bird2's files). Everything else stays Debian's: the unit
# "bird", /etc/bird/envvars, the ucf-managed /etc/bird/bird.conf (taken over
# with "ucfr -f", as Debian's postinst itself does), the "bird" user.
# Added: /var/lib/bird, owned by bird, for the autopilot state file; the
# system group "autopilot", of which user bird is a member, for the
# controller socket (bird keeps the -u user's groups: patch 0003); group bird
# on node_exporter's textfile directory when prometheus-node-exporter is
# installed, for the metrics file (a trigger on the directory); the
# controller client as /usr/bin/autopilot-ctl and the filter library as
# /usr/share/bird-autopilot/autopilot.conf; BIRD's user guide (with the Autopilot
# chapter) and programmer's guide as HTML in /usr/share/doc/bird2-autopilot/html.
#
# Every edit must change the file: when Debian's packaging changes shape,
# this stops with the name of what it could not find.
set -euo pipefail

tree=${1:?usage: $0 TREE SRCDIR}
src=${2:?usage: $0 TREE SRCDIR}
d=$tree/debian
say() { echo "deb-adapt: $*"; }
edit() { # file sed-script description
  local before
  before=$(sha256sum < "$1")
  sed -i -e "$2" "$1"
  [ "$(sha256sum < "$1")" != "$before" ] || {
    echo "deb-adapt: $(basename "$1"): no $3 to edit; has Debian's packaging changed?" >&2; exit 1; }
}

say "debian/control: package bird2-autopilot, Provides/Conflicts/Replaces bird2"
edit "$d/control" '/^Package: bird2$/{
s/.*/Package: bird2-autopilot/
a\
Provides:\
 bird2 (= ${binary:Version}),\
Replaces:\
 bird2,
}' "Package: bird2 stanza"
# The bird2 stanza's Conflicts (bird, the 1.x package) gains bird2.
edit "$d/control" '/^Package: bird2-autopilot$/,/^$/{
/^Conflicts:$/a\
 bird2,
}' "Conflicts of bird2"
# The controller client is a Python script
edit "$d/control" '/^Package: bird2-autopilot$/,/^$/{
/^Suggests:$/i\
Recommends:\
 python3,
}' "Suggests of bird2"
edit "$d/control" '/^Package: bird2-autopilot$/,/^$/{
s/^Description: Internet Routing Daemon$/Description: Internet Routing Daemon, with the autopilot protocol/
/^ interface\.$/a\
 .\
 This build adds the autopilot protocol of bird-autopilot: MPLS egress\
 labels, controller overrides and Precision Path alternates for host-based\
 egress traffic engineering. It replaces the bird2 package.
}' "bird2 description"

say "debian/bird2.* -> debian/bird2-autopilot.*"
n=0
for f in "$d"/bird2.*; do
  [ -e "$f" ] || continue
  mv "$f" "$d/bird2-autopilot.${f#"$d"/bird2.}"
  n=$((n + 1))
done
[ $n -gt 0 ] || { echo "deb-adapt: no debian/bird2.* files; has Debian's packaging changed?" >&2; exit 1; }

say "maintainer scripts: ucf registration under bird2-autopilot; /var/lib/bird"
edit "$d/bird2-autopilot.postinst" 's/^\( *\)ucfr -f bird2 /\1ucfr -f bird2-autopilot /' "ucfr -f bird2"
edit "$d/bird2-autopilot.postinst" '/^ *ucfr -f bird2-autopilot /a\
    if [ ! -d /var/lib/bird ]; then mkdir -m 0750 /var/lib/bird; fi\
    dpkg-statoverride --list /var/lib/bird > /dev/null || dpkg-statoverride --update --add bird bird 0750 /var/lib/bird\
    getent group autopilot > /dev/null || addgroup --quiet --system autopilot\
    adduser --quiet bird autopilot' "ucfr line"
edit "$d/bird2-autopilot.postrm" 's/ucfr bird2 /ucfr bird2-autopilot /; s/ucfr --purge bird2 /ucfr --purge bird2-autopilot /' "ucfr bird2"
edit "$d/bird2-autopilot.postrm" '/dpkg-statoverride --remove \/etc\/bird\/bird.conf/a\
	dpkg-statoverride --remove /var/lib/bird >/dev/null 2>/dev/null || true\
	rm -rf /var/lib/bird\
	delgroup --quiet --system --only-if-empty autopilot > /dev/null 2>\&1 || true' "statoverride of bird.conf"

say "node_exporter's textfile directory: writable for user bird when prometheus-node-exporter is installed"
# Before #DEBHELPER#: a snippet of ours (packaging/debian) for configure and
# the trigger, and its undoing at remove. The trigger fires when
# prometheus-node-exporter, installed after us, unpacks the directory.
insert_before_debhelper() { # file snippet
  local tmp
  tmp=$(mktemp)
  awk -v snippet="$2" '/^#DEBHELPER#$/ { while ((getline l < snippet) > 0) print l } { print }' "$1" > "$tmp"
  cmp -s "$1" "$tmp" && { rm -f "$tmp"; echo "deb-adapt: $(basename "$1"): no #DEBHELPER# line; has Debian's packaging changed?" >&2; exit 1; }
  cat "$tmp" > "$1"
  rm -f "$tmp"
}
insert_before_debhelper "$d/bird2-autopilot.postinst" "$src/packaging/debian/postinst-node-exporter"
insert_before_debhelper "$d/bird2-autopilot.postrm" "$src/packaging/debian/postrm-node-exporter"
echo "interest-noawait /var/lib/prometheus/node-exporter" > "$d/bird2-autopilot.triggers"
edit "$d/control" '/^Package: bird2-autopilot$/,/^$/{
/^Suggests:$/a\
 prometheus-node-exporter,
}' "Suggests of bird2"

say "autopilot-ctl in /usr/bin, the filter library in /usr/share/bird-autopilot"
cp "$src/tools/autopilot-ctl" "$d/autopilot-ctl"
cp "$src/filters/autopilot.conf" "$d/autopilot.conf"
printf '%s\n' "debian/autopilot-ctl usr/bin/" "debian/autopilot.conf usr/share/bird-autopilot/" \
  >> "$d/bird2-autopilot.install"

say "the user guide with its Autopilot chapter, and the programmer's guide, as HTML"
# Debian builds BIRD's docs only for bird2-doc (arch-indep, with LaTeX);
# the HTML guides need linuxdoc and onsgmls only, so the arch build makes them.
edit "$d/control" '0,/^Build-Depends:$/{
/^Build-Depends:$/a\
 linuxdoc-tools,\
 opensp,
}' "Build-Depends"
grep -q '^override_dh_auto_build-arch:' "$d/rules" && {
  echo "deb-adapt: debian/rules already has override_dh_auto_build-arch; has Debian's packaging changed?" >&2; exit 1; }
printf '%s\n' '' 'override_dh_auto_build-arch:' '	dh_auto_build' \
  '	$(MAKE) obj/doc/bird.html obj/doc/prog.html' >> "$d/rules"
printf '%s\n' "obj/doc/bird*.html usr/share/doc/bird2-autopilot/html/" \
  "obj/doc/prog*.html usr/share/doc/bird2-autopilot/html/" >> "$d/bird2-autopilot.install"
