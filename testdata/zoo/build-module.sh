#!/bin/bash
# Build the crash zoo's test module, pcfix_oops.ko, for a Debian kernel release.
#
# The module is built against Debian's linux-headers-REL with the compiler
# those headers name (their .kernelvariables: gcc-12 for bookworm, gcc-10 for
# bullseye, gcc-14 for trixie) and left unstripped, with its DWARF, in OUTDIR:
# the same file is loaded in the guest and given to `mod -s`.
#
# For bookworm (SUITE unset) it is built on the host, whose gcc 12 is Debian
# 12's kernel compiler; linux-headers-REL is installed with apt-get when
# missing. Any other suite's headers, compiler and kbuild tools (linked against
# that suite's glibc) are installed in a chroot of that suite
# (../suite-chroot.sh); the host's apt configuration is never changed.
#
# usage: build-module.sh REL OUTDIR
# env:   SUITE           (bookworm) the Debian suite REL belongs to
#        PYCRASH_CHROOTS (~/.cache/pycrash/chroots) where the chroots are kept
set -euo pipefail
REL=$1; OUTDIR=$(realpath -m "$2")
HERE=$(cd "$(dirname "$0")" && pwd)
SUITE=${SUITE:-bookworm}
KDIR=/lib/modules/$REL/build

# --- 1. a build root holding linux-headers-REL ---------------------------------
if [ "$SUITE" = bookworm ]; then
  ROOT=""; RUN=()  # the host itself
  if [ ! -f "$KDIR/Makefile" ]; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    echo "installing linux-headers-$REL" >&2
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "linux-headers-$REL" >&2
  fi
else
  # the headers bring the compiler they name (linux-compiler-gcc-N-x86, gcc-N)
  ROOT=$(bash "$HERE/../suite-chroot.sh" "$SUITE" make "linux-headers-$REL")
  RUN=(chroot "$ROOT"); SUDO=""; [ "$(id -u)" = 0 ] || { RUN=(sudo "${RUN[@]}"); SUDO=sudo; }
fi
# looked at from inside the build root: in a chroot, build is an absolute link
${RUN[@]+"${RUN[@]}"} test -f "$KDIR/Makefile" || { echo "no kernel build tree at $ROOT$KDIR" >&2; exit 1; }

# --- 2. build in a scratch copy, so the source tree stays clean ---------------
# (under the build root's /tmp: in a chroot the build sees it as /tmp/zoo-module-*)
WORK=$(mktemp -d "$ROOT/tmp/zoo-module-XXXXXX"); trap 'rm -rf "$WORK"' EXIT
if [ -n "$ROOT" ] && ! mountpoint -q "$ROOT/proc"; then
  # 7.x's objtool reads /proc (its stack limit): give the chroot one while building
  ${SUDO:-} mount -t proc proc "$ROOT/proc"
  trap 'rm -rf "$WORK"; ${SUDO:-} umount "$ROOT/proc"' EXIT
fi
SRC=${WORK#"$ROOT"}  # the scratch directory as the compiler sees it
cp "$HERE/pcfix_oops.c" "$HERE/Kbuild" "$WORK/"
# the scratch directory is mapped away (also in the generated pcfix_oops.mod.c):
# __FILE__ (BUG, WARN) and DWARF file names read "pcfix_oops.c", and two builds
# give the same bytes
${RUN[@]+"${RUN[@]}"} make -C "$KDIR" M="$SRC" KCFLAGS="-ffile-prefix-map=$SRC/=" modules \
  >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log" >&2; exit 1; }
mkdir -p "$OUTDIR"
cp "$WORK/pcfix_oops.ko" "$OUTDIR/"
# the .ko must be for REL and carry its debug info (no grep -q: with pipefail,
# its early exit would fail the pipeline through SIGPIPE)
strings -a "$OUTDIR/pcfix_oops.ko" | grep "^vermagic=$REL " >/dev/null || { echo "pcfix_oops.ko: wrong vermagic" >&2; exit 1; }
readelf -S "$OUTDIR/pcfix_oops.ko" | grep '\.debug_info' >/dev/null || { echo "pcfix_oops.ko: no DWARF" >&2; exit 1; }
echo "$OUTDIR/pcfix_oops.ko"
