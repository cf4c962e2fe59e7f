"""cmdlib.structs: member offsets, entry views, type layouts and object dumps (no dump)."""

from __future__ import annotations

import pytest
from drgn import Object
from kernelstub import program

from pycrash.cmdlib.structs import (
    EntryView,
    MemberLayout,
    StructDump,
    TypeLayout,
    dump_lines,
    entry_view,
    layout_lines,
    member_offset,
    offset_target,
    struct_dump,
    type_layout,
)
from pycrash.errors import CommandError
from pycrash.kernel.format import CValue, Member, ValueKind

pytestmark = pytest.mark.fast


def test_member_offsets() -> None:
    prog = program()
    assert member_offset(prog, "list_head.prev") == 8
    assert member_offset(prog, "pair.node") == 8
    assert member_offset(prog, "16") == 16 and member_offset(prog, "0x10") == 16
    for spec, message in (("nosuch.next", "invalid structure reference: nosuch"),
                          ("list_head.nosuch", "struct list_head has no member nosuch"),
                          ("zz", "invalid offset: zz")):
        with pytest.raises(CommandError) as exc:
            member_offset(prog, spec)
        assert str(exc.value) == message


def test_entry_view_of_o_and_s() -> None:
    prog = program()
    assert entry_view(prog, None, None) == EntryView(0, None, ())
    assert entry_view(prog, "pair.node", "pair.count,flag") == EntryView(8, "pair",
                                                                         ("count", "flag"))
    assert entry_view(prog, "8", "pair") == EntryView(8, "pair", ())


def test_type_layout_is_data_and_crash_text() -> None:
    layout = type_layout(program().type("struct pair"))
    assert (layout.kind, layout.tag, layout.size) == ("struct", "pair", 24)
    assert layout.members == (MemberLayout(0, "int", "count", 0),
                              MemberLayout(32, "unsigned int", "flag", 1),
                              MemberLayout(64, "struct list_head", "node", 0))
    assert layout.line_offsets == (None, 0, 4, 8, None)
    assert layout_lines(layout, True) == ["struct pair {", "   [0] int count;",
                                          "   [4] unsigned int flag : 1;",
                                          "   [8] struct list_head node;", "}", "SIZE: 24"]
    assert layout_lines(layout, True, ["flag"]) == ["struct pair {",
                                                    "   [4] unsigned int flag : 1;", "}"]
    assert layout_lines(layout, False) == ["struct pair {", "    int count;",
                                           "    unsigned int flag : 1;",
                                           "    struct list_head node;", "}", "SIZE: 24"]


def test_layout_of_pointers_and_anonymous_types() -> None:
    layout = TypeLayout("union", "", 8, "union {\n\tvoid *p;\n}",
                        (MemberLayout(0, "void *", "p", 0),), (None, 0, None))
    assert layout_lines(layout, True) == ["union {", "  [0] void *p;", "}", "SIZE: 8"]


def test_offset_target_reads_names_as_crash() -> None:
    assert offset_target("\tunsigned int flag : 1;") == "flag"
    assert offset_target("\tvoid (*destructor)(struct sk_buff *);") == "destructor"
    assert offset_target("\tchar cb[48];") == "cb"
    assert offset_target("\t} sk_backlog;") == "sk_backlog"
    assert offset_target("\t};") == ""
    assert offset_target("\tunion {") == ""


def _scalar(text: str, name: str = "") -> CValue:
    return CValue(ValueKind.SCALAR, name=name, text=text)


def test_dump_lines_of_a_whole_object_and_of_members() -> None:
    node = CValue(ValueKind.STRUCT, name="node", items=(_scalar("0x0", "next"),
                                                        _scalar("0x0", "prev")))
    whole = StructDump("struct pair", 0x1000,
                       CValue(ValueKind.STRUCT, items=(_scalar("1", "count"), node)))
    assert dump_lines(whole) == ["struct pair {", "  count = 1,", "  node = {",
                                 "    next = 0x0,", "    prev = 0x0", "  }", "}"]
    some = StructDump("struct pair", 0x1000, None,
                      (Member("count", _scalar("1")), Member("node", node)))
    assert dump_lines(some) == ["  count = 1,", "  node = {", "    next = 0x0,",
                                "    prev = 0x0", "  },"]


def test_struct_dump_reads_the_object() -> None:
    prog = program()
    obj = Object(prog, "struct list_head", value={"next": 0x10, "prev": 0})
    dump = struct_dump(obj, ["prev"])
    assert dump.type == "struct list_head" and dump.value is None
    assert [(m.path, m.value.value, m.value.text) for m in dump.members] == [("prev", 0, "0x0")]
    assert dump_lines(struct_dump(obj, (), hex_mode=True)) == [
        "struct list_head {", "  next = 0x10,", "  prev = 0x0", "}"]
    with pytest.raises(CommandError, match="struct list_head has no member 'nope'"):
        struct_dump(obj, ["nope"])
