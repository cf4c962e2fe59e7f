#!/bin/bash
# Make (once) the Debian 12 root file system the live fixture boots, print its path.
#
# A minbase debootstrap of bookworm from Debian's archive with what the guest runs:
# python3 and python3-venv (pycrash is installed into a copy of it by build-live.sh,
# never into this cached tree), kexec-tools (kexec -p), procps, busybox (poweroff -f
# without systemd), util-linux's taskset (in minbase) and time (/usr/bin/time -v for
# pycrash's peak memory). Kept in PYCRASH_ROOTFS/bookworm-live; a finished tree has
# .pycrash-complete holding its package list: another list makes a new tree.
#
# usage: live-rootfs.sh
# env:   PYCRASH_ROOTFS (~/.cache/pycrash/rootfs) where the tree is kept
set -euo pipefail
PACKAGES="python3,python3-venv,kexec-tools,procps,busybox,time"
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
ROOT=${PYCRASH_ROOTFS:-$HOME/.cache/pycrash/rootfs}/bookworm-live
mkdir -p "$(dirname "$ROOT")"
(
  flock 9  # one debootstrap at a time
  if [ "$(cat "$ROOT/.pycrash-complete" 2>/dev/null)" != "$PACKAGES" ]; then
    command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q debootstrap >&2
    echo "making the live fixture's bookworm root file system in $ROOT (once)" >&2
    $SUDO rm -rf "$ROOT"
    $SUDO debootstrap --variant=minbase --include="$PACKAGES" bookworm "$ROOT" \
      http://deb.debian.org/debian >&2
    $SUDO rm -f "$ROOT"/var/cache/apt/archives/*.deb
    echo "$PACKAGES" | $SUDO tee "$ROOT/.pycrash-complete" >/dev/null
  fi
) 9> "$ROOT.lock"
echo "$ROOT"
