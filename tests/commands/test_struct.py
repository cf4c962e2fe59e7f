"""struct, union and *: the renderers (no dump needed), and the command on the real dump."""

from __future__ import annotations

import pytest
from conftest import Dump, pid_of
from pycrash.commands import struct
from rows import LIST_HEAD

from pycrash.cmdlib.structs import StructDump
from pycrash.command import Result
from pycrash.kernel.format import CValue, ValueKind


@pytest.mark.fast
def test_struct_layout_with_and_without_offsets() -> None:
    assert list(struct.render(Result([LIST_HEAD], view=struct.StructView(True)))) == [
        "struct list_head {", "  [0] struct list_head *next;", "  [8] struct list_head *prev;",
        "}", "SIZE: 16"]
    assert list(struct.render(Result([LIST_HEAD], view=struct.StructView(False)))) == [
        "struct list_head {", "    struct list_head *next;", "    struct list_head *prev;",
        "}", "SIZE: 16"]


@pytest.mark.fast
def test_struct_objects() -> None:
    value = CValue(ValueKind.STRUCT, items=(CValue(ValueKind.SCALAR, "next", "0x0", 0),
                                            CValue(ValueKind.SCALAR, "prev", "0x4000", 0x4000)))
    rows = [StructDump("struct list_head", 0x1000, value)]
    assert list(struct.render(Result(rows, view=struct.StructView(False)))) == [
        "struct list_head {", "  next = 0x0,", "  prev = 0x4000", "}"]


def test_struct_members_of_a_task(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    task = session.task("pcfix-sleeper1").value_()
    out = str(session.run(f"struct task_struct.pid,comm {task:x}")).splitlines()
    assert out == [f"  pid = {pid_of(dump, 'pcfix-sleeper1')},", '  comm = "pcfix-sleeper1\\000",']
    layout = str(session.run("struct list_head -o")).splitlines()
    assert layout == ["struct list_head {", "  [0] struct list_head *next;",
                      "  [8] struct list_head *prev;", "}", "SIZE: 16"]


def test_struct_l_and_sym_m(session) -> None:  # type: ignore[no-untyped-def]
    first = session.prog["init_task"].tasks.next.value_()
    out = str(session.run(f"struct task_struct.pid -l task_struct.tasks {first:x}")).rstrip()
    assert out == "  pid = 1,"
    names = {r.name for r in session.run("sym -m dummy").rows}
    assert "dummy_setup" in names and "panic" not in names
