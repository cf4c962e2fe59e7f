"""list's and tree's renderers: addresses, indexes and -s structs (no dump needed)."""

from __future__ import annotations

from pycrash.commands import list as list_command
from pycrash.commands import tree

from pycrash.cmdlib.structs import StructDump
from pycrash.command import Result
from pycrash.kernel.format import CValue, Member, ValueKind


def _pid(n: int) -> StructDump:
    value = CValue(ValueKind.SCALAR, text=str(n), value=n)
    return StructDump("struct task_struct", 0, None, (Member("pid", value),))


def test_list_entries_and_members() -> None:
    rows = [list_command.ListEntry(0xFF3CF916811F0000, _pid(1)),
            list_command.ListEntry(0xFF3CF916811F4180, _pid(2))]
    assert list(list_command.render(Result(rows))) == [
        "ff3cf916811f0000", "  pid = 1,", "ff3cf916811f4180", "  pid = 2,"]
    assert list(list_command.render(Result([list_command.ListEntry(0x10)]))) == ["10"]


def test_tree_entries_with_and_without_index() -> None:
    rows = [tree.TreeEntry(None, 0xFF3CF9168103F480), tree.TreeEntry(3, 0x10, _pid(7))]
    assert list(tree.render(Result(rows))) == ["ff3cf9168103f480", "[3] 10", "  pid = 7,"]
