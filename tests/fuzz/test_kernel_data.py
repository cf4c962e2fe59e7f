"""Corrupt kernel lists inside a valid ELF dump; every command that walks them must end
within seconds, show what it found, and name the loop in exactly one line on stderr, with
no traceback and no more memory than a clean run of the same command (+10%).

The small fixture's vmcore.elf is copied once per module (tests/kcorrupt.py); each case
overwrites a few pointers in the copy (seeded: which entry of the list is chosen), runs
``pycrash -x CMD`` in a subprocess, and restores the bytes. The quick set (a self-loop in
each list and garbage printk ids) runs in ``scripts/test``; ``PYCRASH_FUZZ=long`` adds
cycles through earlier entries, more seeds (``PYCRASH_FUZZ_SEEDS``, default 5) and the
slower ``foreach bt``. ``PYCRASH_FUZZ_SEED`` picks the quick set's seed (default 0).
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from kcorrupt import CorruptDump, Run, run_pycrash

LONG = os.environ.get("PYCRASH_FUZZ") == "long"
SEED = int(os.environ.get("PYCRASH_FUZZ_SEED", "0"))
SEEDS = range(int(os.environ.get("PYCRASH_FUZZ_SEEDS", "5"))) if LONG else range(SEED, SEED + 1)
#: a run that takes longer than this is a hang (the machine is shared and slow)
TIMEOUT = 90.0
long_only = pytest.mark.skipif(not LONG, reason="PYCRASH_FUZZ=long runs the long set")


@dataclass
class Case:
    """A corruption made: the command that walks the corrupted list, the one stderr line
    it must print, and whether its output may be empty (nothing before the break)."""

    command: str
    error: str
    empty_ok: bool = False


@pytest.fixture(scope="module")
def corrupt(dump, tmp_path_factory: pytest.TempPathFactory) -> CorruptDump:  # type: ignore[no-untyped-def]
    vmcore = dump.dir / "vmcore.elf"
    if not vmcore.exists():
        pytest.skip("the small fixture has no vmcore.elf")
    return CorruptDump(vmcore, dump.vmlinux, tmp_path_factory.mktemp("kdata"))


_clean: dict[str, Run] = {}


def clean_run(cd: CorruptDump, command: str) -> Run:
    """The run of ``command`` on the uncorrupted copy (once per command)."""
    if command not in _clean:
        assert not cd.patches
        run = run_pycrash(cd.vmlinux, cd.path, command, TIMEOUT)
        assert run.status == 0 and not run.stderr, run.stderr
        _clean[command] = run
    return _clean[command]


def _entries(cd: CorruptDump, type_name: str, head: object, member: str) -> list:  # type: ignore[type-arg]
    from drgn.helpers.linux.list import list_for_each_entry

    return list(list_for_each_entry(type_name, head, member))  # type: ignore[arg-type]


def _pick(rng: random.Random, items: list, cycle: bool) -> tuple[object, object]:  # type: ignore[type-arg]
    """An entry past the first (so something comes before the break) and the entry its
    next pointer will go back to: itself (a self-loop) or an earlier one (a cycle)."""
    if len(items) < 3:
        pytest.skip("the list is too short to corrupt")
    k = rng.randrange(1, len(items))
    back = rng.randrange(0, k) if cycle else k
    return items[k], items[back]


def _loop(cd: CorruptDump, entry, back, member: str, what: str, command: str) -> Case:  # type: ignore[no-untyped-def]
    """Point ``entry``'s list node at ``back``'s: the walk goes round from there."""
    node = getattr(entry, member).address_of_().value_()
    target = getattr(back, member).address_of_().value_()
    cd.write_u64(node, target)
    e, b = entry.value_(), back.value_()
    where = f" (from {e:#x})" if e != b else ""
    return Case(command, f"{command.split()[0]}: {what} loops back to {b:#x}{where}")


def slab_caches(cd: CorruptDump, rng: random.Random, cycle: bool) -> Case:
    items = _entries(cd, "struct kmem_cache", cd.prog["slab_caches"].address_of_(), "list")
    entry, back = _pick(rng, items, cycle)
    return _loop(cd, entry, back, "list", "the slab cache list", "kmem -s")


def modules(cd: CorruptDump, rng: random.Random, cycle: bool) -> Case:
    items = _entries(cd, "struct module", cd.prog["modules"].address_of_(), "list")
    entry, back = _pick(rng, items, cycle)
    return _loop(cd, entry, back, "list", "the module list", "mod")


def mounts(cd: CorruptDump, rng: random.Random, cycle: bool) -> Case:
    ns = cd.prog["init_task"].nsproxy.mnt_ns
    items = [m for m in _entries(cd, "struct mount", ns.list.address_of_(), "mnt_list")
             if m.mnt.mnt_sb]
    entry, back = _pick(rng, items, cycle)
    return _loop(cd, entry, back, "mnt_list", "the mount list", "mount")


def netdevs(cd: CorruptDump, rng: random.Random, cycle: bool) -> Case:
    items = _entries(cd, "struct net_device", cd.prog["init_net"].dev_base_head.address_of_(),
                     "dev_list")
    if len(items) < 3:  # lo and one NIC: break the second (the first stays in the output)
        entry = items[-1]
        back = items[0] if cycle else entry
    else:
        entry, back = _pick(rng, items, cycle)
    return _loop(cd, entry, back, "dev_list", "the network device list", "net")


def thread_group(cd: CorruptDump, rng: random.Random, cycle: bool) -> Case:
    from drgn.helpers.linux.pid import for_each_task

    users = sorted((t for t in for_each_task(cd.prog) if t.mm), key=lambda t: t.pid.value_())
    task = users[rng.randrange(len(users))]
    node = task.thread_node.address_of_().value_()
    cd.write_u64(node, node)  # the thread's link to the next thread: itself
    return Case("ps -g", f"ps: the thread group of pid {task.tgid.value_()} loops back to "
                         f"{task.value_():#x}")


def pid_tree(cd: CorruptDump, rng: random.Random, cycle: bool, command: str = "ps") -> Case:
    from drgn import Object

    head = cd.prog["init_pid_ns"].idr.idr_rt.xa_head.value_()
    root = Object(cd.prog, "struct xa_node *", head - 2)
    used = [i for i, s in enumerate(root.slots) if s.value_()]
    if len(used) < 2:
        pytest.skip("the pid tree has one level")
    slot = used[rng.randrange(1, len(used))]
    # a child of the root that is the root itself: the walk meets the root again
    cd.write_u64(root.slots[slot].address_of_().value_(), head)
    return Case(command, f"{command.split()[0]}: the task list (pid tree) loops back to "
                         f"{head - 2:#x}")


def printk_tail(cd: CorruptDump, rng: random.Random, cycle: bool) -> Case:
    ring = cd.prog["prb"].desc_ring
    head = ring.head_id.counter.value_()
    garbage = head + rng.randrange(2, 1 << 20)  # the tail past the head: 2^62 ids apart
    cd.write_u64(ring.tail_id.address_of_().value_(), garbage)
    return Case("log", "log: the printk ring's ids are garbage")


def printk_head(cd: CorruptDump, rng: random.Random, cycle: bool) -> Case:
    ring = cd.prog["prb"].desc_ring
    tail = ring.tail_id.counter.value_()
    cd.write_u64(ring.head_id.address_of_().value_(), tail + (rng.randrange(1, 1 << 20) << 30))
    return Case("log", "log: the printk ring's ids are garbage", empty_ok=True)


Corrupter = Callable[[CorruptDump, random.Random, bool], Case]
QUICK: list[tuple[str, Corrupter]] = [
    ("pid-tree", pid_tree), ("thread-group", thread_group), ("slab-caches", slab_caches),
    ("modules", modules), ("mounts", mounts), ("netdevs", netdevs),
    ("printk-tail", printk_tail),
]
LONG_CASES: list[tuple[str, Corrupter, bool]] = [
    *((f"{name}-cycle", fn, True) for name, fn in QUICK
      if name not in ("thread-group", "pid-tree", "printk-tail")),
    ("printk-head", printk_head, False),
    ("pid-tree-foreach-bt", lambda cd, rng, cyc: pid_tree(cd, rng, cyc, "foreach bt"), False),
]


def check(cd: CorruptDump, name: str, make: Corrupter, seed: int, cycle: bool) -> Run:
    """Corrupt, run, check, restore; return the corrupted run."""
    rng = random.Random(f"{name}:{seed}")
    try:
        case = make(cd, rng, cycle)
        clean = clean_run_after(cd, case.command)
        run = run_pycrash(cd.vmlinux, cd.path, case.command, TIMEOUT)
    finally:
        cd.restore()
    label = f"{name} seed {seed}: {case.command}"
    report(label, clean, run)
    assert not run.timed_out, f"{label}: still running after {TIMEOUT}s"
    assert "Traceback" not in run.stderr and "internal error" not in run.stderr, run.stderr
    lines = run.stderr.splitlines()
    assert len(lines) == 1, f"{label}: stderr is not one line: {run.stderr!r}"
    assert lines[0].startswith(case.error), f"{label}: {lines[0]!r} != {case.error!r}"
    assert run.status == 1
    assert case.empty_ok or run.stdout.strip(), f"{label}: no partial output"
    assert run.seconds < 3 * clean.seconds + 15, f"{label}: {run.seconds:.1f}s"
    assert run.maxrss_kb <= clean.maxrss_kb * 1.10, \
        f"{label}: {run.maxrss_kb} KiB, clean {clean.maxrss_kb} KiB"
    return run


def clean_run_after(cd: CorruptDump, command: str) -> Run:
    """The clean run of ``command``, made with the corruption undone for a moment."""
    if command in _clean:
        return _clean[command]
    saved = [(p.offset, p.old) for p in cd.patches]
    with open(cd.path, "r+b") as f:
        new = []
        for offset, old in saved:
            f.seek(offset)
            new.append(f.read(len(old)))
            f.seek(offset)
            f.write(old)
    patches, cd.patches = cd.patches, []
    try:
        return clean_run(cd, command)
    finally:
        cd.patches = patches
        with open(cd.path, "r+b") as f:
            for (offset, _old), data in zip(saved, new, strict=True):
                f.seek(offset)
                f.write(data)


def report(label: str, clean: Run, run: Run) -> None:
    """One line per case in ``-s`` output and in FIGURES (for the time and memory table)."""
    line = (f"{label}: {run.seconds:.2f}s {run.maxrss_kb // 1024} MiB "
            f"{len(run.stdout.splitlines())} lines (clean {clean.seconds:.2f}s "
            f"{clean.maxrss_kb // 1024} MiB {len(clean.stdout.splitlines())} lines) "
            f"| {run.stderr.strip()}")
    FIGURES.append(line)
    print(line)


FIGURES: list[str] = []


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("name", "make"), QUICK, ids=[n for n, _ in QUICK])
def test_self_loop(corrupt: CorruptDump, name: str, make: Corrupter, seed: int) -> None:
    check(corrupt, name, make, seed, cycle=False)


@long_only
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("name", "make", "cycle"), LONG_CASES, ids=[n for n, _, _ in LONG_CASES])
def test_long(corrupt: CorruptDump, name: str, make: Corrupter, cycle: bool, seed: int) -> None:
    check(corrupt, name, make, seed, cycle)


def test_restored(corrupt: CorruptDump, dump) -> None:  # type: ignore[no-untyped-def]
    """After the cases the copy is the fixture again, byte for byte."""
    import filecmp

    assert not corrupt.patches
    assert filecmp.cmp(corrupt.path, Path(dump.dir) / "vmcore.elf", shallow=False)
