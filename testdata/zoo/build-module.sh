#!/bin/bash
# Build the crash zoo's test module, pcfix_oops.ko, for a Debian kernel release.
#
# The module is built on the host against Debian's linux-headers-REL (installed
# with apt-get when missing; host gcc 12 is Debian 12's kernel compiler) and left
# unstripped, with its DWARF, in OUTDIR: the same file is loaded in the guest
# and given to `mod -s`.
#
# usage: build-module.sh REL OUTDIR
set -euo pipefail
REL=$1; OUTDIR=$(realpath -m "$2")
HERE=$(cd "$(dirname "$0")" && pwd)
KDIR=/lib/modules/$REL/build

# --- 1. headers for REL ------------------------------------------------------
if [ ! -f "$KDIR/Makefile" ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  echo "installing linux-headers-$REL" >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "linux-headers-$REL" >&2
fi
[ -f "$KDIR/Makefile" ] || { echo "no kernel build tree at $KDIR" >&2; exit 1; }

# --- 2. build in a scratch copy, so the source tree stays clean ---------------
WORK=$(mktemp -d /tmp/zoo-module-XXXXXX); trap 'rm -rf "$WORK"' EXIT
cp "$HERE/pcfix_oops.c" "$HERE/Kbuild" "$WORK/"
# the scratch directory is mapped away (also in the generated pcfix_oops.mod.c):
# __FILE__ (BUG, WARN) and DWARF file names read "pcfix_oops.c", and two builds
# give the same bytes
make -C "$KDIR" M="$WORK" KCFLAGS="-ffile-prefix-map=$WORK/=" modules >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log" >&2; exit 1; }
mkdir -p "$OUTDIR"
cp "$WORK/pcfix_oops.ko" "$OUTDIR/"
# the .ko must be for REL and carry its debug info (no grep -q: with pipefail,
# its early exit would fail the pipeline through SIGPIPE)
strings -a "$OUTDIR/pcfix_oops.ko" | grep "^vermagic=$REL " >/dev/null || { echo "pcfix_oops.ko: wrong vermagic" >&2; exit 1; }
readelf -S "$OUTDIR/pcfix_oops.ko" | grep '\.debug_info' >/dev/null || { echo "pcfix_oops.ko: no DWARF" >&2; exit 1; }
echo "$OUTDIR/pcfix_oops.ko"
