#!/usr/bin/env bash
# The host role in a real kernel with MPLS: the development kernels lack
# mpls_router/mpls_iptunnel, so boot Debian 12's kernel under qemu (TCG)
# with an initramfs made here (busybox-static, iproute2's ip, the patched
# BIRD, the MPLS modules) and assert on what /init prints (init.sh).
#
# Usage: run.sh BIRD_PATCHED_DIR        (holding bird and birdc)
# Cache: $KERNEL_CHECK_DIR, default BIRD_PATCHED_DIR/../../kernel-check
#        (the build dir's kernel-check/); the kernel package is kept there,
#        the initramfs and console.log are remade there: one run per dir.
# Exit: 0 all passed, 1 a check failed, 77 skipped (no qemu, no kernel
# package to be had). The last line is the summary.
set -euo pipefail

if [ $# -ne 1 ] || [ ! -x "$1/bird" ] || [ ! -x "$1/birdc" ]; then
  echo "usage: $0 BIRD_PATCHED_DIR (with bird and birdc)" >&2
  exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
bird_dir=$(cd "$1" && pwd)
cache=${KERNEL_CHECK_DIR:-$bird_dir/../../kernel-check}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
t_start=$(date +%s.%N)
elapsed() { echo "$(date +%s.%N) $t_start" | awk '{ printf "%.1f", $1 - $2 }'; }
say() { echo "kernel: [$(elapsed)s] $*"; }
skip() { echo "kernel: skipped: $*"; exit 77; }

command -v qemu-system-x86_64 >/dev/null ||
  skip "qemu-system-x86_64 not installed (apt-get install qemu-system-x86)"

# --- The kernel: the newest linux-image-6.1.0-N-amd64 apt knows, kept in the cache
pkg=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' 2>/dev/null |
      awk '{ print $1 }' | sort -V | tail -n 1 || true)
if [ -n "$pkg" ] && ! ls "$cache/${pkg}_"*.deb >/dev/null 2>&1; then
  say "downloading $pkg with apt-get download"
  # apt's _apt user cannot write the cache dir: say nothing about it
  (cd "$cache" && apt-get download -q "$pkg" 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
fi
deb=$(ls "$cache"/linux-image-6.1.0-*-amd64_*.deb 2>/dev/null | sort -V | tail -n 1 || true)
[ -n "$deb" ] || skip "no linux-image-6.1.0-*-amd64 package (apt-get download failed, none cached in $cache)"
kroot=$cache/$(basename "$deb" .deb)
if [ ! -d "$kroot/boot" ]; then
  say "unpacking $(basename "$deb")"
  rm -rf "$kroot.tmp" && dpkg -x "$deb" "$kroot.tmp" && mv "$kroot.tmp" "$kroot"
fi
kver=$(ls "$kroot/lib/modules")
vmlinuz=$kroot/boot/vmlinuz-$kver
mods=$kroot/lib/modules/$kver
# The package has no modules.dep (depmod runs at install): make it.
[ -s "$mods/modules.dep" ] || depmod -b "$kroot" "$kver"
say "kernel $kver from $(basename "$deb")"

# --- busybox-static: the installed one, or the package unpacked in the cache
busybox=/bin/busybox
if ! file -L "$busybox" 2>/dev/null | grep -q 'statically linked'; then
  busybox=$cache/busybox-static/bin/busybox
  if [ ! -x "$busybox" ]; then
    say "downloading busybox-static"
    (cd "$cache" && apt-get download -q busybox-static 2>&1 | grep -v '^W: Download' || true)
    bb_deb=$(ls "$cache"/busybox-static_*.deb 2>/dev/null | tail -n 1 || true)
    [ -n "$bb_deb" ] || { echo "kernel: no static busybox (install busybox-static)" >&2; exit 1; }
    dpkg -x "$bb_deb" "$cache/busybox-static"
  fi
fi

# --- The initramfs
root=$cache/root
rm -rf "$root"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,usr/local/bin,lib/modules,etc/kc,proc,sys,dev,run,tmp}
cp "$busybox" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
ipbin=$(command -v ip)
cp "$ipbin" "$bird_dir/bird" "$bird_dir/birdc" "$root/usr/local/bin/"
# Shared libraries of ip, bird and birdc at their own paths (and the loader)
for lib in $(ldd "$ipbin" "$bird_dir/bird" "$bird_dir/birdc" |
             awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^\// && $i !~ /:$/) print $i }' | sort -u); do
  cp -L --parents "$lib" "$root/"
done
# Modules with their dependencies first, in modules.dep's order (a line
# lists a module's dependencies, the last one to be loaded first).
order=()
add_module() {
  local line deps d
  line=$(grep -E "(^|/)$1\.ko:" "$mods/modules.dep") || { echo "kernel: no module $1" >&2; exit 1; }
  deps=${line#*:}
  for d in $(echo "$deps" | tr ' ' '\n' | tac); do add_module "$(basename "$d" .ko)"; done
  [[ " ${order[*]-} " == *" $1 "* ]] && return
  order+=("$1")
  cp "$mods/${line%%:*}" "$root/lib/modules/$1.ko"
}
for m in veth ip_tunnel mpls_router mpls_iptunnel; do add_module "$m"; done
printf '%s\n' "${order[@]}" > "$root/lib/modules/load-order"
cp "$here"/{switch,host,t1,t2}.conf "$root/etc/kc/"
cp "$here/init.sh" "$root/init"
chmod 755 "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$cache/initrd.gz"
say "initramfs $(du -h "$cache/initrd.gz" | cut -f1): modules ${order[*]}"

# --- Boot (TCG: KVM hangs on these machines)
console=$cache/console.log
say "booting qemu (TCG), console in $console"
t_boot=$(date +%s.%N)
timeout 300 qemu-system-x86_64 -accel tcg -m 512 -nographic -no-reboot -nic none \
  -kernel "$vmlinuz" -initrd "$cache/initrd.gz" \
  -append "console=ttyS0 quiet panic=-1" </dev/null |
  sed 's/\x1b\[[0-9;?]*[A-Za-z]//g; s/\x1bc//g; s/\r//g' > "$console" || true   # no terminal escapes
say "VM ran $(echo "$(date +%s.%N) $t_boot" | awk '{ printf "%.1f", $1 - $2 }')s"

# --- Checks on the console output
section() { # NAME: the lines of "### NAME", spaces squeezed
  awk -v s="### $1" '$0 == s { on = 1; next } /^### / { on = 0 } on' "$console" | tr -s ' ' | sed 's/ $//'
}
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "kernel: PASS $1"; }
bad() { fail=$((fail + 1)); echo "kernel: FAIL $1"; }
check() { # DESCRIPTION SECTION LINE-REGEX
  if section "$2" | grep -qE "$3"; then
    ok "$1"
  else
    bad "$1: no line /$3/ in section $2:"; section "$2" | sed 's/^/    /'
  fi
}
if grep -q KERNEL-CHECK-DONE "$console"; then
  ok "VM ran /init to the end"
else
  bad "VM did not finish /init; console tail:"; tail -n 30 "$console"
fi
check "MPLS modules loaded"                 modules '^insmod mpls_iptunnel: ok$'
check "best IPv4 path, primary label"       host-main4 '^192\.0\.2\.0/24 encap mpls 1001 via 10\.0\.3\.1 dev h1-sw'
check "best IPv6 path, primary label"       host-main6 '^2001:db8:1::/48 encap mpls 1001 via fd00:3::1 dev h1-sw'
check "IPv4 alternate in table 101, pp label" host-101-4 '^192\.0\.2\.0/24 encap mpls 2002 via 10\.0\.3\.1 dev h1-sw'
check "IPv6 alternate in table 101, pp label" host-101-6 '^2001:db8:1::/48 encap mpls 2002 via fd00:3::1 dev h1-sw'
check "egress table 201, label 1001"        host-201-4 '^192\.0\.2\.0/24 encap mpls 1001 via 10\.0\.3\.1'
check "egress table 202, label 1002"        host-202-4 '^198\.51\.100\.0/24 encap mpls 1002 via 10\.0\.3\.1'
check "disabled prefix has a best path"     host-main4 '^198\.51\.100\.0/24 encap mpls 1001 '
if section host-101-4 | grep -q '^198\.51\.100\.0/24'; then
  bad "disabled prefix 198.51.100.0/24 has an alternate in table 101"
else
  ok "disabled prefix has no alternate in table 101"
fi
for l in '1001 via inet 10\.0\.1\.2 dev sw-t1' '2001 via inet 10\.0\.1\.2 dev sw-t1' \
         '1002 via inet 10\.0\.2\.2 dev sw-t2' '2002 via inet 10\.0\.2\.2 dev sw-t2'; do
  check "switch LFIB: ${l//\\/}"            switch-lfib "^$l"
done
check "ping via best path reaches t1"       pings '^PING main4-to-t1 ok$'
check "best path does not reach t2"         pings '^PING main4-to-t2 failed$'
check "ping via table 101 reaches t2"       pings '^PING alt4-to-t2 ok$'
check "no alternate: table 101 falls through to main" pings '^PING alt4-fallback ok$'
check "IPv6 ping via best path reaches t1"  pings '^PING main6-to-t1 ok$'
check "IPv6 ping via table 101 reaches t2"  pings '^PING alt6-to-t2 ok$'
# Egress protection: t1's port down, its labels' routes replaced towards t2
check "protection: t1's label reaches t1 first"  protection '^PING protect-before ok$'
for l in '1001 via inet 10\.0\.2\.2 dev sw-t2' '2001 via inet 10\.0\.2\.2 dev sw-t2'; do
  check "protection: LFIB ${l//\\/} after t1's port went down" switch-lfib-protected "^$l"
done
check "protection: t1's label reaches t2 with t1 down" protection-after '^PING protect-after ok$'
check "protection: show autopilot says so"  switch-ap-protected '^ t1 1001 2001 .* protected by t2$'
flow=$(section protection | sed -n 's/^FLOW \([0-9]*\) of \([0-9]*\) answered$/\1 \2/p')
if [ -n "$flow" ]; then
  set -- $flow
  # Unprotected, the 200 sent after the port went down would all be lost
  # (this host's route never converges): 20 is 200 ms under emulation
  if [ $(( $2 - $1 )) -le 20 ]; then
    ok "protection: a flow of $2 pings 10 ms apart through t1's port going down: $(( $2 - $1 )) lost"
  else
    bad "protection: $(( $2 - $1 )) of $2 pings lost through t1's port going down (at most 20)"
  fi
else
  bad "protection: no FLOW line in section protection"; section protection | sed 's/^/    /'
fi
# The egress back, then lost by its session closing (t1's BIRD killed, the port up)
for l in '1001 via inet 10\.0\.1\.2 dev sw-t1' '2001 via inet 10\.0\.1\.2 dev sw-t1'; do
  check "protection: t1 back, LFIB ${l//\\/}" switch-lfib-back "^$l"
done
for l in '1001 via inet 10\.0\.2\.2 dev sw-t2' '2001 via inet 10\.0\.2\.2 dev sw-t2'; do
  check "protection: t1's session closed, LFIB ${l//\\/}" switch-lfib-closed "^$l"
done
# Repoint times from the kernel's own notifications (ip -ts monitor) and
# BIRD's log (microseconds): see repoint_time.py. Under TCG, an emulated
# CPU many times slower than the host: the figures are upper bounds.
times=$(python3 "$here/repoint_time.py" "$console")
for what in link-down link-down-bird close; do
  ms=$(echo "$times" | awk -v w="$what" '$1 == w { print $2 }')
  case $what in
    link-down) desc="t1's port down (kernel) -> its labels' LFIB routes replaced (kernel)" ;;
    link-down-bird) desc="BIRD's log line of that round -> replaced (kernel)" ;;
    close) desc="t1's session closed (BIRD's log) -> replaced (kernel)" ;;
  esac
  if [ -n "$ms" ] && awk -v v="$ms" 'BEGIN { exit !(v < 1000) }'; then
    ok "protection: repoint time, $desc: $ms ms (TCG)"
    echo "kernel: REPOINT $what $ms ms"
  else
    bad "protection: repoint time, $desc: ${ms:-not found} (at most 1000 ms): $(echo "$times" | grep "$what")"
    section monitor | sed 's/^/    /'; section switch-log-protection | sed 's/^/    /'
  fi
done
if grep -qE '^### log-' "$console"; then
  bad "errors in BIRD logs:"; awk '/^### log-/,/^### end/' "$console"
else
  ok "no <BUG> or <ERR> in BIRD logs"
fi

say "done"
echo "kernel: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
