#!/bin/bash
# Run a QEMU guest until it says it is ready, then save it with dump-guest-memory, as
# libvirt's "virsh dump --memory-only" does (testdata/qmp-dump.py), and quit it.
#
# usage: qemu-dump.sh OUT SOCKET TIMEOUT "FORMAT..." QEMU-BINARY QEMU-ARGS...
# The guest prints PYCRASH-READY-FOR-QEMU-DUMP on its serial console, OUT/console.log.
# OUT gets vmcore.qemu.FORMAT for each format this QEMU offers, qemu-formats.txt, and
# vmcore.qemu.kdump: the kdump-zlib file (flattened by QEMU 7.2) reassembled.
set -euo pipefail
OUT=$1; SOCK=$2; TIMEOUT=$3; FORMATS=$4; shift 4
HERE=$(cd "$(dirname "$0")" && pwd)
timeout "$TIMEOUT" "$@" -qmp unix:"$SOCK",server=on,wait=off >/dev/null 2>&1 &
PID=$!
for _ in $(seq "$TIMEOUT"); do
  grep -q PYCRASH-READY-FOR-QEMU-DUMP "$OUT/console.log" 2>/dev/null && break
  kill -0 $PID 2>/dev/null || break; sleep 1
done
if ! grep -q PYCRASH-READY-FOR-QEMU-DUMP "$OUT/console.log"; then
  kill $PID 2>/dev/null || true
  echo "the guest never got ready; see $OUT/console.log" >&2; exit 1
fi
# shellcheck disable=SC2086  # FORMATS is a list of words
python3 "$HERE/qmp-dump.py" "$SOCK" "$OUT" $FORMATS
wait $PID || true
if [ -s "$OUT/vmcore.qemu.kdump-zlib" ]; then
  makedumpfile -R "$OUT/vmcore.qemu.kdump" < "$OUT/vmcore.qemu.kdump-zlib" >/dev/null
fi
