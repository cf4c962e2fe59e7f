"""Records that more than one command's renderer tests use (no dump needed)."""

from __future__ import annotations

from pycrash.cmdlib.structs import MemberLayout, StructDump, TypeLayout
from pycrash.kernel.format import CValue, Member, ValueKind

#: ``struct list_head`` as struct -o and whatis describe it
LIST_HEAD = TypeLayout("struct", "list_head", 16,
                       "struct list_head {\n\tstruct list_head *next;\n"
                       "\tstruct list_head *prev;\n}",
                       (MemberLayout(0, "struct list_head *", "next", 0),
                        MemberLayout(64, "struct list_head *", "prev", 0)),
                       (None, 0, 8, None))


def pid_struct(n: int) -> StructDump:
    """A task_struct's ``-s task_struct.pid`` dump, as list and tree show it."""
    value = CValue(ValueKind.SCALAR, text=str(n), value=n)
    return StructDump("struct task_struct", 0, None, (Member("pid", value),))
