"""struct/union/* and whatis renderers (no dump needed)."""

from __future__ import annotations

from pycrash.commands import struct, whatis

from pycrash.cmdlib.structs import MemberLayout, StructDump, TypeLayout
from pycrash.command import Result
from pycrash.kernel.format import CValue, ValueKind

LIST_HEAD = TypeLayout("struct", "list_head", 16,
                       "struct list_head {\n\tstruct list_head *next;\n"
                       "\tstruct list_head *prev;\n}",
                       (MemberLayout(0, "struct list_head *", "next", 0),
                        MemberLayout(64, "struct list_head *", "prev", 0)))


def test_struct_layout_with_and_without_offsets() -> None:
    assert list(struct.render(Result([LIST_HEAD], view=struct.StructView(True)))) == [
        "struct list_head {", "  [0] struct list_head *next;", "  [8] struct list_head *prev;",
        "}", "SIZE: 16"]
    assert list(struct.render(Result([LIST_HEAD], view=struct.StructView(False)))) == [
        "struct list_head {", "    struct list_head *next;", "    struct list_head *prev;",
        "}", "SIZE: 16"]


def test_struct_objects() -> None:
    value = CValue(ValueKind.STRUCT, items=(CValue(ValueKind.SCALAR, "next", "0x0", 0),
                                            CValue(ValueKind.SCALAR, "prev", "0x4000", 0x4000)))
    rows = [StructDump("struct list_head", 0x1000, value)]
    assert list(struct.render(Result(rows, view=struct.StructView(False)))) == [
        "struct list_head {", "  next = 0x0,", "  prev = 0x4000", "}"]


def test_whatis_declarations() -> None:
    rows = [whatis.Declaration("init_task", "variable", "struct task_struct init_task;"),
            whatis.Declaration("list_head", "struct", LIST_HEAD.definition, 16),
            whatis.Declaration("pid_type", "enum", "enum pid_type {\n\tPIDTYPE_PID = 0,\n}"),
            whatis.Declaration("pid_t", "typedef", "typedef __kernel_pid_t pid_t;"),
            whatis.Declaration("int", "type", "int", 4)]
    assert list(whatis.render(Result(rows))) == [
        "struct task_struct init_task;",
        "struct list_head {", "    struct list_head *next;", "    struct list_head *prev;",
        "}", "SIZE: 16",
        "enum pid_type {", "    PIDTYPE_PID = 0,", "}",
        "typedef __kernel_pid_t pid_t;",
        "type = int", "SIZE: 4"]
