#!/bin/bash
# Make (once) a chroot of a Debian suite, install packages in it, print its path.
#
# The fixtures of other Debian releases need that release's own programs: its
# gcc and kbuild tools for the zoo module (zoo/build-module.sh), and for trixie
# its makedumpfile (build-vmcore.sh's MAKEDUMPFILE_SUITE). They run in a
# minbase chroot of the suite, made with debootstrap and kept in
# PYCRASH_CHROOTS/SUITE, whose apt sources are suite-apt.sh's. The host's own
# apt configuration is never changed (debootstrap itself is installed on the
# host with apt-get when missing).
#
# usage: suite-chroot.sh SUITE [PACKAGE...]
# env:   PYCRASH_CHROOTS (~/.cache/pycrash/chroots) where the chroots are kept
set -euo pipefail
SUITE=$1; shift
HERE=$(cd "$(dirname "$0")" && pwd)
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
ROOT=${PYCRASH_CHROOTS:-$HOME/.cache/pycrash/chroots}/$SUITE
RUN=($SUDO chroot "$ROOT")
mkdir -p "$(dirname "$ROOT")"
(
  flock 9  # one debootstrap or apt-get at a time in this chroot
  # a finished chroot has .pycrash-complete
  if [ ! -f "$ROOT/.pycrash-complete" ]; then
    command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q debootstrap >&2
    echo "making a $SUITE chroot in $ROOT (once)" >&2
    $SUDO rm -rf "$ROOT"
    $SUDO debootstrap --variant=minbase "$SUITE" "$ROOT" http://deb.debian.org/debian >&2
    # the sources the host looks SUITE's kernels up in (SUITE-security's, say)
    bash "$HERE/suite-apt.sh" "$SUITE" sources | $SUDO tee "$ROOT/etc/apt/sources.list" >/dev/null
    # the archive this machine reaches may be a snapshot older than a Release file's
    # validity (unstable's lasts a week): its packages are what the fixtures want
    echo 'Acquire::Check-Valid-Until "false";' | $SUDO tee "$ROOT/etc/apt/apt.conf.d/99pycrash" >/dev/null
    "${RUN[@]}" apt-get -q update >&2
    $SUDO touch "$ROOT/.pycrash-complete"
  fi
  installed=$("${RUN[@]}" dpkg-query -W -f='${db:Status-Abbrev}\n' "$@" 2>/dev/null | grep -c '^ii' || true)
  if [ "$installed" != $# ]; then
    echo "installing $* in $ROOT" >&2
    # the chroot's lists may predate the packages (a new kernel's headers): fetch
    # them first when one is unknown
    "${RUN[@]}" apt-cache show "$@" >/dev/null 2>&1 || "${RUN[@]}" apt-get -q update >&2
    "${RUN[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >&2
  fi
) 9> "$ROOT.lock"
echo "$ROOT"
