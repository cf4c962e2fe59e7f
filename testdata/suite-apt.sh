#!/bin/bash
# Run apt-get or apt-cache against one Debian suite without touching the
# machine's apt configuration.
#
# bookworm (the host's own suite) runs the command as it is. Any other suite
# gets a private configuration under ~/.cache/pycrash/apt-SUITE/: its own
# sources (below), package lists and package cache; the lists are fetched when
# missing or older than a day. Only look-ups and downloads make sense this way
# (apt-cache depends, apt-get download): packages are never installed on the
# host from a private suite. `suite-apt.sh SUITE sources` prints the sources
# (zoo/build-module.sh gives them to its chroot of SUITE).
#
# usage: suite-apt.sh SUITE apt-get|apt-cache ARG...
#        suite-apt.sh SUITE sources
# env:   PYCRASH_APT (~/.cache/pycrash) where the apt-SUITE directories live
set -euo pipefail
SUITE=$1; CMD=$2; shift 2
case $CMD in apt-get|apt-cache|sources) ;; *) echo "suite-apt.sh: not an apt command: $CMD" >&2; exit 1;; esac
[ "$SUITE" = bookworm ] && [ "$CMD" != sources ] && exec "$CMD" "$@"  # the host's own apt

# the suites each of SUITE's sources.list lines name
case $SUITE in
  # Debian 11: its last point release (11.11, kernel 5.10.0-32) only. The
  # kernels bullseye-security lists (5.10.0-4x, LTS) have -dbg packages that
  # deb.debian.org no longer serves (404), and a fixture needs the -dbg.
  bullseye) SUITES="bullseye";;
  # Debian 13: the newest kernel is usually in trixie-security
  trixie) SUITES="trixie trixie-updates trixie-security";;
  # unstable: the newest kernel Debian builds
  sid) SUITES="sid";;
  *) echo "suite-apt.sh: unknown suite $SUITE" >&2; exit 1;;
esac
KEYS=/usr/share/keyrings/debian-archive-keyring.gpg  # holds bullseye's, trixie's and sid's keys
sources() {
  local s
  for s in $SUITES; do
    case $s in
      *-security) echo "deb [signed-by=$KEYS] http://deb.debian.org/debian-security $s main";;
      *) echo "deb [signed-by=$KEYS] http://deb.debian.org/debian $s main";;
    esac
  done
}
[ "$CMD" = sources ] && { sources; exit 0; }

DIR=${PYCRASH_APT:-$HOME/.cache/pycrash}/apt-$SUITE
mkdir -p "$DIR/lists/partial" "$DIR/cache/archives/partial"
# everything apt keeps (sources, lists, the binary package cache) is private;
# the host's dpkg status is read but never written
OPTS=(-o Dir::Etc::sourcelist="$DIR/sources.list" -o Dir::Etc::sourceparts=-
      -o Dir::State::Lists="$DIR/lists" -o Dir::Cache="$DIR/cache"
      -o APT::Get::List-Cleanup=0
      # a snapshot of the archive may be older than a Release file's validity (sid: a week)
      -o Acquire::Check-Valid-Until=false)
# root's private directories are out of the _apt user's reach: no sandbox then
[ "$(id -u)" = 0 ] && OPTS+=(-o APT::Sandbox::User=root)

# fetch the lists when missing, a day old or of other sources (this script
# changed); the lock keeps two updates apart
(
  flock 9
  if ! sources | cmp -s - "$DIR/sources.list"; then
    sources > "$DIR/sources.list"; rm -f "$DIR/updated"
  fi
  if [ -z "$(find "$DIR/updated" -mmin -1440 2>/dev/null)" ]; then
    echo "suite-apt.sh: updating the $SUITE package lists in $DIR" >&2
    apt-get -q "${OPTS[@]}" update >&2
    touch "$DIR/updated"
  fi
) 9> "$DIR/lock"
exec "$CMD" "${OPTS[@]}" "$@"
