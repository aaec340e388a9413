#!/usr/bin/env bash
# The documentation an operator and a BIRD developer read: the Autopilot
# chapter of BIRD's user guide, and every DOC section of the module in the
# programmer's guide, as BIRD's doc build rendered them.
# Usage: run.sh DOC_OUT_DIR MODULE_DIR
set -euo pipefail
out=${1:?usage: $0 DOC_OUT_DIR MODULE_DIR}
mod=${2:?usage: $0 DOC_OUT_DIR MODULE_DIR}
fail=0
check() { # description, command...
  local what=$1; shift
  if "$@"; then echo "docs: ok: $what"; else echo "docs: FAILED: $what" >&2; fail=1; fi
}
user=$(cat "$out"/bird.html "$out"/bird-*.html)
prog=$(cat "$out"/prog.html "$out"/prog-*.html)

check "user guide has the Autopilot chapter in the table of contents" \
  grep -q 'HREF="bird-[0-9]*.html#ss[0-9.]*">Autopilot</A>' "$out/bird.html"
# Every option of the grammar's protocol items, by its label in the chapter
for opt in channels mpls egress backup asn label-community max-overrides shadow \
    override-local-pref override-copy state-filename controller-socket manager-table alternate \
    egress-table metrics-filename pp-disable-community pp-disabled pp-disable pp-enable; do
  check "user guide documents autopilot option $opt" grep -q "NAME=\"autopilot-$opt\"" <<< "$user"
done
for cmd in show-autopilot show-autopilot-overrides show-autopilot-metrics autopilot-add autopilot-withdraw \
    autopilot-flush autopilot-load; do
  check "user guide documents command $cmd" grep -q "NAME=\"cli-$cmd\"" <<< "$user"
done
# Every DOC: section of the module is in the programmer's guide
while IFS= read -r title; do
  check "programmer's guide has DOC section \"$title\"" grep -qF "$title" <<< "$prog"
done < <(sed -n 's/^ \* DOC: //p' "$mod"/*.c)
# Every file with DOC sections or /** blocks is listed in the module's Doc
for f in $(grep -l '^ \* DOC: \|^/\*\*$' "$mod"/*.c); do
  check "proto/autopilot/Doc lists $(basename "$f")" grep -qx "S $(basename "$f")" "$mod/Doc"
done
[ "$fail" -eq 0 ] && echo "docs: all checks passed"
exit "$fail"
