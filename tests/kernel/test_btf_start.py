"""A fast start with a vmlinux too (issue 16, item 3): types from the vmlinux's ``.BTF``,
symbols from its ``.symtab``, its DWARF indexed by drgn only when a look-up needs it.

On each fixture of the kernel matrix (all have BTF), the core commands print exactly
what they print with the DWARF indexed at open (``--dwarf``) and reach the DWARF not
once; the commands that need it (source lines, a global BTF has no type for) print the
same as with ``--dwarf`` too, having read it. test_nodebug.py compares the third way,
without any vmlinux.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import Dump, assert_one_line_error, fixture_dump, pycrash
from drgn import sizeof

from pycrash.kernel.nodebug import dwarf_uses

FIXTURES = ("small", "bullseye-small", "trixie-small", "sid-small", "arm64-small")
#: Commands that need no DWARF: the same text, and drgn never reaches the DWARF.
CORE = ("sys", "ps", "bt -a", "log", "mod", "kmem -s", "files", "net",
        "struct task_struct.pid,comm", "kmem -i", "runq", "task -R pid,comm", "mount",
        "vm 1", "p init_task.comm", "whatis task_struct", "rd jiffies", "dis schedule 4",
        "foreach bt", "ps -t", "list task_struct.tasks -H init_task.tasks", "irq", "dev",
        "timer", "sig 1", "kmem -z", "struct list_head", "union thread_union",
        "p jiffies", "sym init_task", "bt -f", "mach", "swap", "trace show", "wq",
        "runq -t", "ps -m", "kmem -V", "net -s", "irq -s", "kmem -o", "lock", "ipcs")
#: DWARF look-ups that are right: pahole leaves ``__init`` functions out of BTF, and
#: drgn finds vmemmap by asking whether ``vmemmap_populate`` exists (5.10's BTF lacks it).
DWARF_ALLOWED = {"object vmemmap_populate"}
#: Commands that need the DWARF: the same text, read from it on demand.
NEEDS_DWARF = ("bt -l", "dis -l schedule 4", "sym schedule", "p max_threads",
               "whatis max_threads")


def _text(session, line: str) -> tuple[str, list[str]]:  # type: ignore[no-untyped-def]
    try:
        result = session.run(line)
    except Exception as exc:  # noqa: BLE001 - a command broken in both modes alike
        return "", [f"{type(exc).__name__}: {exc}"]
    return str(result), list(result.errors)


@pytest.fixture(scope="module", params=FIXTURES)
def pair(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    import pycrash

    dump = fixture_dump(request.param)
    lazy = dump.open()
    assert lazy.target.debuginfo == "btf+dwarf"
    eager = pycrash.open(str(dump.vmcore), str(dump.vmlinux), dwarf=True)
    assert eager.target.debuginfo == "dwarf"
    return dump, eager, lazy


def test_core_commands_print_the_same_without_reading_dwarf(pair) -> None:  # type: ignore[no-untyped-def]
    _dump, eager, lazy = pair
    for line in CORE:
        assert _text(lazy, line) == _text(eager, line), line
        assert set(dwarf_uses(lazy.prog)) <= DWARF_ALLOWED, line
    assert "pycrash_nodebug" in lazy.prog.cache


def test_commands_needing_dwarf_read_it_and_print_the_same(pair) -> None:  # type: ignore[no-untyped-def]
    _dump, eager, lazy = pair
    for line in NEEDS_DWARF:
        assert _text(lazy, line) == _text(eager, line), line
    # max_threads has no type in BTF (not per-CPU) nor in pycrash's table: DWARF said it
    assert "object max_threads" in dwarf_uses(lazy.prog)
    # and types: every one the same from either
    for name in ("struct task_struct", "union bpf_attr", "enum pid_type", "struct rq",
                 "struct page", "struct module"):
        a, b = eager.prog.type(name), lazy.prog.type(name)
        assert (sizeof(a), str(a)) == (sizeof(b), str(b)), name


def test_vmlinux_without_btf_indexes_dwarf_at_open(dump: Dump, tmp_path: Path) -> None:
    """A vmlinux without ``.BTF`` (renamed in a copy: its symbols keep the section) falls
    back to DWARF at open."""
    copy = tmp_path / "vmlinux"
    subprocess.run(["objcopy", "--rename-section", ".BTF=.XTF", str(dump.vmlinux), str(copy)],
                   check=True)
    import pycrash

    session = pycrash.open(str(dump.vmcore), str(copy))
    assert session.target.debuginfo == "dwarf"
    assert "pycrash_nodebug" not in session.prog.cache
    assert _text(session, "struct list_head") == _text(dump.open(), "struct list_head")
    copy.unlink()


def test_dwarf_and_btf_options(dump: Dump) -> None:
    run = pycrash("-s", "--dwarf", str(dump.vmlinux), str(dump.vmcore), "-x",
                  "p init_task.comm")
    assert run.rc == 0 and '= "swapper/0' in run.out, run.err
    run = pycrash("-s", "--dwarf", "--btf", str(dump.vmcore), "-x", "sys")
    assert_one_line_error(run, "--btf", "--dwarf")


def test_btf_index_is_cached_by_build_id(dump: Dump, tmp_path: Path) -> None:
    """The first start indexes the vmlinux's BTF and keeps the index under the build id;
    the next one reads it (and gives the same types)."""
    env = {"PYCRASH_CACHE": str(tmp_path), "PATH": "/usr/bin:/bin"}
    first = pycrash("-s", str(dump.vmlinux), str(dump.vmcore), "-x", "struct rq", env=env)
    stored = list((tmp_path / "btf").glob("*.idx"))
    assert [p.stem for p in stored] == [dump.open().target.build_id]
    again = pycrash("-s", str(dump.vmlinux), str(dump.vmcore), "-x", "struct rq", env=env)
    assert first.rc == again.rc == 0 and first.out == again.out and "struct rq {" in first.out
    shutil.rmtree(tmp_path / "btf")


def test_dumps_of_one_build_share_the_parsed_btf(dump: Dump) -> None:
    """A process opening several dumps of one build (a triage worker) parses the
    vmlinux's BTF once: the second session's blob is the first one's, its types its own."""
    first, second = dump.open(), dump.open()
    a = first.prog.cache["pycrash_nodebug"].types
    b = second.prog.cache["pycrash_nodebug"].types
    assert a.vmlinux is b.vmlinux and a is not b
    assert _text(second, "struct list_head") == _text(first, "struct list_head")
    assert first.prog.type("struct rq").size == second.prog.type("struct rq").size
