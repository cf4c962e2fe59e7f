"""Find or build pycrash's real kdump fixture, cached outside the repository.

The cache is ``$PYCRASH_FIXTURES`` (default ``~/.cache/pycrash/fixtures``),
one directory per kernel release, fixture name and builder version, e.g.
``6.1.0-56-cloud-amd64-small-1a2b3c4d/``. A directory counts only once its builder
wrote ``COMPLETE``. Run as a script it prints the fixture directory
(building it first when needed); ``--open`` then opens it in pycrash.

The crash zoo (``zoo-oops``, ``zoo-bug``, ``zoo-timer``, ``zoo-warn``) are dumps
of the same kernel crashed by a module of our own, ``zoo/pcfix_oops.c``: built
on the host for the fixture's release by ``zoo/build-module.sh``, loaded in the
guest (it starts the kthreads ``pcfix_kt1`` and ``pcfix_kt2``, which sleep in
module code) and told through ``/proc/pcfix_oops`` to crash on CPU 1. The
unstripped module is kept as ``modules/pcfix_oops.ko`` for ``mod -s``.
The zoo's hangs (``zoo-hung``, ``zoo-abba``, ``zoo-rwsem``, ``zoo-softlockup``,
``zoo-oom``) use the same module to block kthreads on its locks, or spin, and let the
kernel's hung-task, soft-lockup or OOM handling panic it (see ``HANG_KINDS``).
``--name zoo`` builds (or finds) all nine, ``--name zoo-hang`` the hangs.

Other Debian releases' kernels have fixtures of their own, named after the suite:
``bullseye-small``, ``bullseye-zoo-oops`` ... ``bullseye-zoo-warn`` (Debian 11.11,
kernel 5.10) and ``trixie-small``, ``trixie-zoo-oops`` ... ``trixie-zoo-warn`` (Debian
13, kernel 6.12); ``--name bullseye`` or ``--name trixie`` builds all of a suite's,
``--name bullseye-zoo`` its zoo. Their kernel comes from that suite's archive through
``suite-apt.sh`` (a private apt configuration in ``~/.cache/pycrash/apt-SUITE``; the
host's apt sources are left alone); their zoo module is built, and trixie's
makedumpfile taken, from a chroot of that suite (``suite-chroot.sh``, kept in
``~/.cache/pycrash/chroots/SUITE``). The cache directory names the suite's release,
e.g. ``5.10.0-32-cloud-amd64-bullseye-small-1a2b3c4d/``.

The ``tracing`` fixture (``build-tracing.sh``) is the small fixture's guest with the
function tracer and sched events recording (stopped before the truth is saved), System V
IPC objects and an eBPF program and maps held by ``tracing/pcfix_ipc.c`` (built on the
host against its glibc, which the guest's initramfs holds); ``truth/tracing/``,
``truth/sysvipc/`` and ``truth/bpf.txt`` hold what the guest said of them.

The ``live`` fixture is pycrash itself run inside a Debian 12 guest (``build-live.sh``;
its root file system from ``live-rootfs.sh``, a debootstrap kept in
``~/.cache/pycrash/rootfs``): ``--live`` on the guest's kernel, then ``/proc/vmcore``
and ``--oldmem /dev/mem`` in its capture kernel; it holds their outputs and the guest's
own /proc records. pycrash is installed there from a wheel of this checkout, so the
build key holds a hash of pycrash's sources (``pyproject.toml``, ``pycrash/``,
``commands/``, ``plugins/``): a change to any of them builds it again (about two
minutes). Its vmlinux is the small fixture's.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
BUILDER = HERE / "build-vmcore.sh"
#: apt-get / apt-cache for a suite other than the host's, and a chroot of such a suite:
#: helpers of the builders, part of every build key
SUITE_APT = HERE / "suite-apt.sh"
SUITE_CHROOT = HERE / "suite-chroot.sh"
#: the QMP client that saves a QEMU fixture (dump-guest-memory), and the script that runs it
QMP_DUMP = HERE / "qmp-dump.py"
QEMU_DUMP_SH = HERE / "qemu-dump.sh"
#: the host's suite: fixtures without a SUITE setting use the host's own apt
HOST_SUITE = "bookworm"
FLAVOUR = "cloud-amd64"
ZOO = HERE / "zoo"
#: the zoo module's builder and sources: part of the zoo fixtures' build key
MODULE_BUILDER = ZOO / "build-module.sh"
MODULE_FILES = (MODULE_BUILDER, ZOO / "pcfix_oops.c", ZOO / "Kbuild")

#: Fixture names and the environment their builds use. The small fixture keeps the
#: unfiltered /proc/vmcore too (vmcore.full): the raw, oldmem and LiME forms are made from it.
KINDS: dict[str, dict[str, str]] = {
    "small": {"FULL": "1"},
    # for the benchmark: 4,000 sleeping processes and a filled block-device page cache in a
    # 3 GB guest; built on demand (bench/run --fixture large), not by the tests
    "large": {
        "MEM": "3G",
        "TIMEOUT": "1800",
        "WORKLOAD": (
            "i=0; while [ $i -lt 4000 ]; do sleep 100000 & i=$((i+1)); done; "
            "dd if=/dev/vda of=/dev/null bs=1M count=1024 2>/dev/null"
        ),
    },
}


def _zoo(crash: str) -> dict[str, str]:
    """Return the environment of a zoo fixture whose guest crashes with ``crash``."""
    return {
        "FORMATS": "kdump",
        # a process-context oops reaches kdump only with panic_on_oops; WARN with panic_on_warn
        "EXTRA_APPEND": "oops=panic panic_on_warn=1",
        "CRASH": crash,
    }


#: The crash zoo: fixture name -> the words written to /proc/pcfix_oops on CPU 1.
ZOO_KINDS: dict[str, str] = {
    "zoo-oops": "oops",    # NULL pointer write in pcfix_deref, from pcfix_write
    "zoo-bug": "bug",      # BUG() in pcfix_bug
    "zoo-timer": "timer",  # NULL pointer write in a timer callback: softirq on the IRQ stack
    "zoo-warn": "warn",    # WARN_ON(1) in pcfix_warn, panic_on_warn
}
for _name, _word in ZOO_KINDS.items():
    # the timer fires 100 ms after it is armed; the shell sleeps on CPU 1 meanwhile
    _wait = "; sleep 5" if _word == "timer" else ""
    KINDS[_name] = _zoo(f"taskset 2 sh -c 'echo {_word} > /proc/pcfix_oops{_wait}'")

#: The zoo's hangs and lockups (Debian 12's kernel only): fixture name -> the guest
#: shell that sets the hang up before the truth is recorded (WORKLOAD), and the one that
#: arms the detector that panics (CRASH). The lock hangs block their tasks first, so the
#: truth (stacks.txt) shows them blocked, and save each pcfix task's /proc/PID/sched in
#: truth/sched/PID. The hung-task detector looks every 4 s from before the tasks block (so
#: its "blocked for more than N seconds" is at most 4 s short of the real wait); it may
#: warn while the truth is recorded, and panics at its first look after CRASH.
_SCHED_TRUTH = (
    "; mkdir -p /tmp/truth/sched; for c in /proc/[0-9]*/comm; do "
    'case "$(cat $c)" in pcfix_*) p=${c%/comm}; cat $p/sched > /tmp/truth/sched/${p#/proc/};; '
    "esac; done"
)
_HUNG_WATCH = "echo 4 > /proc/sys/kernel/hung_task_timeout_secs; "
_HUNG_PANIC = "echo 1 > /proc/sys/kernel/hung_task_panic; sleep 50"
HANG_KINDS: dict[str, dict[str, str]] = {
    # pcfix_holder holds pcfix_mutex, sleeping; pcfix_waiter1..3 wait on it
    "zoo-hung": {"WORKLOAD": f"{_HUNG_WATCH}echo hung > /proc/pcfix_oops{_SCHED_TRUTH}",
                 "CRASH": _HUNG_PANIC},
    # pcfix_abba_a and pcfix_abba_b each hold one of two mutexes and wait on the other
    "zoo-abba": {"WORKLOAD": f"{_HUNG_WATCH}echo abba > /proc/pcfix_oops; sleep 1{_SCHED_TRUTH}",
                 "CRASH": _HUNG_PANIC},
    # pcfix_writer holds pcfix_rwsem for write, sleeping; pcfix_reader1..3 wait to read
    "zoo-rwsem": {"WORKLOAD": f"{_HUNG_WATCH}echo rwsem > /proc/pcfix_oops{_SCHED_TRUTH}",
                  "CRASH": _HUNG_PANIC},
    # CPU 1 spins with preemption off in pcfix_spin: the soft-lockup watchdog panics
    # after 2 * watchdog_thresh seconds
    "zoo-softlockup": {"CRASH": "echo 1 > /proc/sys/kernel/softlockup_panic; "
                                "echo 2 > /proc/sys/kernel/watchdog_thresh; "
                                "taskset 2 sh -c 'echo spin > /proc/pcfix_oops'"},
    # a shell (comm pcfix-hog) doubles a string until memory runs out: panic_on_oom
    "zoo-oom": {"CRASH": "echo 1 > /proc/sys/vm/panic_on_oom; "
                         "echo 1 > /proc/sys/vm/overcommit_memory; "
                         "sh -c 'echo -n pcfix-hog > /proc/self/comm; x=0123456789abcdef; "
                         "while :; do x=$x$x; done'"},
}
for _name, _env in HANG_KINDS.items():
    KINDS[_name] = {**_zoo(""), **_env}

#: QEMU's own dumps of a running guest (dump-guest-memory, what "virsh dump --memory-only"
#: saves), with and without the vmcoreinfo device: ELF and the kdump formats.
KINDS["qemu"] = {"QEMU_DUMP": "elf kdump-zlib kdump-lzo kdump-snappy"}
#: the same guest without -device vmcoreinfo: the dumps hold no VMCOREINFO note
KINDS["qemu-novmcoreinfo"] = {"QEMU_DUMP": "elf kdump-zlib", "QEMU_VMCOREINFO": "0"}

#: Fixture names that stand for several fixtures on the command line.
GROUPS: dict[str, tuple[str, ...]] = {"zoo": (*ZOO_KINDS, *HANG_KINDS),
                                      "zoo-hang": tuple(HANG_KINDS)}

#: Other Debian suites: suite -> (its zoo fixtures, settings added to all its fixtures).
#: Each gets SUITE-small (as small) and SUITE-zoo-... (as the bookworm zoo fixture).
SUITES: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    "bullseye": (tuple(ZOO_KINDS), {}),  # Debian 11, kernel 5.10 (see suite-apt.sh)
    # Debian 13, kernel 6.12: bookworm's makedumpfile (1.7.2) takes 6.12's slab pages
    # for free ones and leaves them out; trixie's (1.7.6) saves them
    "trixie": (tuple(ZOO_KINDS), {"MAKEDUMPFILE_SUITE": "trixie"}),
    # unstable: the newest kernel Debian builds (7.2 when this was written), saved by
    # unstable's makedumpfile; 1.7.8 filters 7.2 wrongly at -d 31 (it leaves out pages the
    # kernel uses: sys, ps and files failed on them), so only zero pages are left out
    "sid": (tuple(ZOO_KINDS), {"MAKEDUMPFILE_SUITE": "sid", "DUMP_LEVEL": "1"}),
}
for _suite, (_zoos, _extra) in SUITES.items():
    for _base in ("small", *_zoos):
        KINDS[f"{_suite}-{_base}"] = {**KINDS[_base], **_extra, "SUITE": _suite}
    GROUPS[_suite] = tuple(f"{_suite}-{b}" for b in ("small", *_zoos))
    GROUPS[f"{_suite}-zoo"] = tuple(f"{_suite}-{b}" for b in _zoos)


#: arm64 (Debian 12's arm64 kernel under qemu-system-aarch64): its own builder, which
#: looks the release up itself; the cache directory is named "arm64-small-HASH".
ARM64_BUILDER = HERE / "build-vmcore-arm64.sh"
KINDS["arm64-small"] = {"ARCH": "arm64"}
#: QEMU's own dumps of a running arm64 guest (dump-guest-memory)
KINDS["arm64-qemu"] = {"ARCH": "arm64", "QEMU_DUMP": "elf kdump-zlib"}


#: The tracing fixture (build-tracing.sh): the small fixture's guest with the function tracer
#: and sched events recording, System V IPC objects and an eBPF program and maps, each
#: saved in truth/ (tracing/, sysvipc/, bpf.txt) before the sysrq crash. Its builder runs
#: build-vmcore.sh with a WORKLOAD of its own; both, and the guest program's source, are in
#: its build key.
TRACING_BUILDER = HERE / "build-tracing.sh"
TRACING_FILES = (BUILDER, HERE / "tracing" / "pcfix_ipc.c")
KINDS["tracing"] = {"TRACING": "1", "FORMATS": "kdump"}


#: pycrash run inside a Debian 12 guest (build-live.sh): --live on its running kernel, then
#: in the capture kernel on /proc/vmcore and --oldmem /dev/mem. pycrash runs inside, so its
#: own sources (PYCRASH_SOURCES) are part of the build key: a change to pycrash rebuilds it.
#: Its vmlinux is the small fixture's (same release): that one is built first.
LIVE_BUILDER = HERE / "build-live.sh"
#: the tree the guest's root file system starts from (debootstrap, cached)
LIVE_ROOTFS = HERE / "live-rootfs.sh"
KINDS["live"] = {"LIVE": "1"}
#: what the wheel installed in the live guest is made of
PYCRASH_SOURCES = ("pyproject.toml", "pycrash", "commands", "plugins")


def builder(name: str) -> Path:
    """Return the script that builds the fixture ``name``."""
    if KINDS[name].get("LIVE"):
        return LIVE_BUILDER
    if KINDS[name].get("TRACING"):
        return TRACING_BUILDER
    return ARM64_BUILDER if KINDS[name].get("ARCH") == "arm64" else BUILDER


def sources_hash() -> bytes:
    """Return a digest of pycrash's own sources (:data:`PYCRASH_SOURCES`, their ``.py``
    files and pyproject.toml), by path and content."""
    import hashlib

    h = hashlib.sha256()
    for top in PYCRASH_SOURCES:
        path = HERE.parent / top
        files = [path] if path.is_file() else sorted(path.rglob("*.py"))
        for f in files:
            h.update(str(f.relative_to(HERE.parent)).encode() + b"\0" + f.read_bytes())
    return h.digest()


def suite(name: str) -> str:
    """Return the Debian suite whose kernel the fixture ``name`` boots."""
    return KINDS[name].get("SUITE", HOST_SUITE)


def is_zoo(name: str) -> bool:
    """Tell whether the fixture ``name`` loads the zoo module (of any suite)."""
    return name.removeprefix(f"{suite(name)}-") in (*ZOO_KINDS, *HANG_KINDS)


def build_key(name: str) -> str:
    """Return a short hash of the builder and the fixture's settings: a change rebuilds."""
    import hashlib

    h = hashlib.sha256(builder(name).read_bytes())
    h.update(SUITE_APT.read_bytes() + SUITE_CHROOT.read_bytes())
    if "QEMU_DUMP" in KINDS[name]:
        h.update(QMP_DUMP.read_bytes())
        if builder(name) == ARM64_BUILDER:
            h.update(QEMU_DUMP_SH.read_bytes())
    h.update(repr(sorted(KINDS[name].items())).encode())
    if builder(name) == LIVE_BUILDER:
        h.update(LIVE_ROOTFS.read_bytes() + sources_hash())
    if builder(name) == TRACING_BUILDER:
        for path in TRACING_FILES:
            h.update(path.name.encode() + b"\0" + path.read_bytes())
    if is_zoo(name):
        for path in MODULE_FILES:
            h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:8]


def cache_root() -> Path:
    """Return the directory that holds every cached fixture."""
    default = Path.home() / ".cache" / "pycrash" / "fixtures"
    return Path(os.environ.get("PYCRASH_FIXTURES", default))


def current_release(flavour: str = FLAVOUR, suite: str = HOST_SUITE) -> str | None:
    """Return the kernel release ``linux-image-FLAVOUR`` of Debian ``suite`` points to."""
    cmd = ["apt-cache", "depends", f"linux-image-{flavour}"]
    if suite != HOST_SUITE:  # the suite's private apt configuration (lists fetched once a day)
        cmd = ["bash", str(SUITE_APT), suite, *cmd]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, check=False).stdout
    except OSError:
        return None
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("Depends: linux-image-"):
            return line.split("linux-image-", 1)[1].strip()
    return None


def release_of(name: str) -> str | None:
    """Return the kernel release that names the fixture's cache directory ("arm64" for
    the arm64 fixture, whose builder looks its release up itself)."""
    if KINDS[name].get("ARCH") == "arm64":
        return "arm64"
    return current_release(suite=suite(name))


def find(name: str = "small") -> Path | None:
    """Return the cached fixture for the current release (or any release), or None."""
    root = cache_root()
    rel = release_of(name)
    if rel:
        path = root / f"{rel}-{name}-{build_key(name)}"
        return path if (path / "COMPLETE").exists() else None
    found = sorted(root.glob(f"*-{name}-{build_key(name)}/COMPLETE")) if root.exists() else []
    return found[-1].parent if found else None


def build(name: str = "small") -> Path:
    """Build the fixture ``name`` for the current release into the cache; return its path."""
    rel = release_of(name)
    if rel is None:
        raise SystemExit(f"cannot tell the current {suite(name)} kernel release: "
                         "run 'apt-get update' first")
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"{rel}-{name}-{build_key(name)}"
    extra: dict[str, str] = {}
    if builder(name) == LIVE_BUILDER:  # the small fixture's vmlinux; pip of this python
        extra = {"VMLINUX": str(dump_files(ensure("small"))[0]), "PYTHON": sys.executable}
    with open(root / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time; others wait and reuse it
        if (final / "COMPLETE").exists():
            return final
        tmp = Path(tempfile.mkdtemp(prefix=f".{rel}-{name}-", dir=root))
        # SUITE always set: one left in the caller's environment must not leak in
        env = {**os.environ, **KINDS[name], **extra, "SUITE": suite(name)}
        with tempfile.TemporaryDirectory(prefix="zoo-module-") as mods:
            if is_zoo(name):
                # the module, for this release, kept by the builder in tmp/modules/
                # (its SUITE, from env, tells where to build it)
                print(f"building pcfix_oops.ko for {rel}", file=sys.stderr)
                subprocess.run(["bash", str(MODULE_BUILDER), rel, mods], env=env, check=True,
                               stdout=sys.stderr)
                env["EXTRA_KO"] = str(Path(mods) / "pcfix_oops.ko")
            print(f"building the {name} fixture for {rel} ("
                  + ("pycrash in a Debian guest, live and in its capture kernel, "
                     "2 to 4 minutes" if extra else "a real kdump under QEMU, about a minute")
                  + ")", file=sys.stderr)
            argv = ["bash", str(builder(name)), str(tmp)]
            if builder(name) in (BUILDER, TRACING_BUILDER):
                argv.append(FLAVOUR)
            subprocess.run(argv, env=env, check=True, stdout=sys.stderr)
        share_vmlinux(tmp, root)
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)
    return final


def share_vmlinux(path: Path, root: Path) -> None:
    """Make a fixture's vmlinux (600 MB or more) a hard link to one copy per kernel build
    kept in ``ROOT/.vmlinux/``: the small, zoo and large fixtures of one release share it."""
    import filecmp

    store = root / ".vmlinux"
    for vmlinux in path.glob("vmlinux-*"):
        shared = store / f"{vmlinux.name}-{vmlinux.stat().st_size}"
        try:
            store.mkdir(exist_ok=True)
            if not shared.exists():
                os.link(vmlinux, shared)
            elif not os.path.samefile(vmlinux, shared) and filecmp.cmp(vmlinux, shared,
                                                                         shallow=False):
                tmp = vmlinux.with_name(vmlinux.name + ".link")
                os.link(shared, tmp)
                tmp.replace(vmlinux)
        except OSError:
            continue  # another file system, or no hard links: keep the copy


def ensure(name: str = "small") -> Path:
    """Return the fixture directory, building it when it is not cached."""
    return find(name) or build(name)


def dump_files(path: Path) -> tuple[Path, Path]:
    """Return ``(vmlinux, vmcore.kdump)`` of a fixture directory (a QEMU fixture's dump is
    ``vmcore.qemu.elf``)."""
    rel = (path / "kernel-release").read_text().strip()
    dump = path / "vmcore.kdump"
    return path / f"vmlinux-{rel}", dump if dump.exists() else path / "vmcore.qemu.elf"


def main() -> int:
    """Print the fixture directory; with ``--open``, open its dump in pycrash."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--name", default="small", choices=sorted([*KINDS, *GROUPS]),
                   help="the fixture, or a group: 'zoo' for every (bookworm) zoo fixture, "
                        "'SUITE' or 'SUITE-zoo' for another suite's (default: small)")
    p.add_argument("--open", action="store_true", help="open the dump in pycrash")
    args = p.parse_args()
    names = GROUPS.get(args.name, (args.name,))
    if args.open and len(names) > 1:
        p.error(f"--open needs one fixture, not the group {args.name}")
    for name in names:  # one after another: one QEMU at a time
        path = ensure(name)
        print(path, flush=True)
    if args.open:
        vmlinux, vmcore = dump_files(path)
        os.execv(sys.executable, [sys.executable, "-m", "pycrash", str(vmlinux), str(vmcore)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
