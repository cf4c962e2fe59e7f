"""The bounded walks of pycrash.kernel.walk over synthetic kernel lists and trees: a loop,
a cycle, a NULL or unreadable pointer, or too many entries end the walk with one
WalkError after the entries found; memory does not grow with the times round a loop."""

from __future__ import annotations

import struct
import tracemalloc

import pytest
from drgn import Object, Program, TypeMember
from kernelstub import Memory, add_types
from kernelstub import program as _stub_program

from pycrash.kernel.walk import (
    WalkError,
    bounded,
    collect,
    hlist_entries,
    list_entries,
    rbtree_nodes,
    xarray_entries,
)

pytestmark = pytest.mark.fast


def program() -> Program:
    """kernelstub's program, its ``struct list_head`` and ``struct pair`` linked to
    themselves (next is a pointer to a whole list_head)."""
    prog = _stub_program()
    lh: list[object] = []
    list_head = prog.struct_type("list_head", 16, (
        TypeMember(lambda: prog.pointer_type(lh[0]), "next", 0),  # type: ignore[arg-type]
        TypeMember(lambda: prog.pointer_type(lh[0]), "prev", 64)))  # type: ignore[arg-type]
    lh.append(list_head)
    pair = prog.struct_type("pair", 24, (TypeMember(prog.int_type("int", 4, True), "count", 0),
                                         TypeMember(list_head, "node", 64)))
    add_types(prog, {"list_head": list_head, "pair": pair})
    return prog


def _q(*values: int) -> bytes:
    return struct.pack(f"<{len(values)}Q", *values)


def _pairs(prog: Program, mem: Memory, n: int) -> tuple[int, list[int]]:
    """A list_head at the start of ``mem`` and ``n`` struct pairs on it (count = index);
    return the head's address and each pair's."""
    head = mem.put(_q(0, 0))
    pairs = [mem.put(struct.pack("<iI", i, 0) + _q(0, 0)) for i in range(n)]
    nodes = [head] + [p + 8 for p in pairs]
    for i, node in enumerate(nodes):
        nxt, prev = nodes[(i + 1) % len(nodes)], nodes[i - 1]
        mem.write(node, _q(nxt, prev))
    return head, pairs


def _walk(prog: Program, head: int) -> list[int]:
    h = Object(prog, "struct list_head *", head)
    return [p.count.value_() for p in list_entries("struct pair", h, "node", "the list")]


def test_list_entries_as_drgn() -> None:
    prog = program()
    mem = Memory(prog)
    head, _ = _pairs(prog, mem, 5)
    assert _walk(prog, head) == [0, 1, 2, 3, 4]


def test_list_self_loop_yields_what_it_found_then_names_the_entry() -> None:
    prog = program()
    mem = Memory(prog)
    head, pairs = _pairs(prog, mem, 5)
    mem.write(pairs[2] + 8, _q(pairs[2] + 8))  # entry 2 points at itself
    got: list[int] = []
    errors: list[str] = []
    for p in collect(list_entries("struct pair", Object(prog, "struct list_head *", head),
                                  "node", "the pair list"), errors):
        got.append(p.count.value_())
    assert got == [0, 1, 2]
    assert errors == [f"the pair list loops back to {pairs[2]:#x}"]  # the struct


def test_list_cycle_names_where_it_goes_back_and_from_where() -> None:
    prog = program()
    mem = Memory(prog)
    head, pairs = _pairs(prog, mem, 6)
    mem.write(pairs[4] + 8, _q(pairs[1] + 8))  # 4 -> 1: a cycle that misses the head
    with pytest.raises(WalkError) as exc:
        _walk(prog, head)
    assert str(exc.value) == f"the list loops back to {pairs[1]:#x} (from {pairs[4]:#x})"
    assert exc.value.address == pairs[1]


def test_list_null_and_unreadable_pointers() -> None:
    prog = program()
    mem = Memory(prog)
    head, pairs = _pairs(prog, mem, 3)
    mem.write(pairs[1] + 8, _q(0))
    with pytest.raises(WalkError, match="NULL pointer after"):
        _walk(prog, head)
    mem.write(pairs[1] + 8, _q(0xFFFF_9999_0000_0000))
    with pytest.raises(WalkError, match="breaks at 0xffff999900000000 after 2 entries") as exc:
        _walk(prog, head)
    assert exc.value.fault is not None


def test_cap_and_flat_memory_on_a_loop() -> None:
    """A loop of one entry costs one set entry: memory does not grow with the loop."""
    prog = program()
    mem = Memory(prog)
    head, pairs = _pairs(prog, mem, 1)
    mem.write(pairs[0] + 8, _q(pairs[0] + 8))
    tracemalloc.start()
    with pytest.raises(WalkError, match="loops back"):
        _walk(prog, head)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 1 << 20

    def endless() -> object:
        n = 0
        while True:
            n += 1
            yield n

    with pytest.raises(WalkError, match="more than 1000 entries"):
        for _ in bounded(endless(), "the counter", limit=1000, key=int):  # type: ignore[call-overload]
            pass


def test_bounded_wraps_any_walk() -> None:
    prog = program()
    mem = Memory(prog)
    a = mem.put(_q(1))
    objs = [Object(prog, "struct list_head *", v) for v in (a, a + 16, a)]
    got = []
    with pytest.raises(WalkError, match=f"the things loops back to {a:#x} \\(from {a + 16:#x}\\)"):
        for o in bounded(iter(objs), "the things"):
            got.append(o.value_())
    assert got == [a, a + 16]


def _hlist_program() -> tuple[Program, Memory]:
    prog = program()
    box: list[object] = []
    node = prog.struct_type("hlist_node", 16, (
        TypeMember(lambda: prog.pointer_type(box[0]), "next", 0),  # type: ignore[arg-type]
        TypeMember(lambda: prog.pointer_type(prog.pointer_type(box[0])),  # type: ignore[arg-type]
                   "pprev", 64)))
    box.append(node)
    head = prog.struct_type("hlist_head", 8, (TypeMember(prog.pointer_type(node), "first", 0),))
    item = prog.struct_type("item", 24, (TypeMember(prog.int_type("long", 8, True), "v", 0),
                                         TypeMember(node, "link", 64)))
    add_types(prog, {"hlist_node": node, "hlist_head": head, "item": item})
    return prog, Memory(prog)


def test_hlist_loop() -> None:
    prog, mem = _hlist_program()
    items = [mem.put(_q(i, 0, 0)) for i in range(4)]
    head = mem.put(_q(items[0] + 8))
    for i in range(3):
        mem.write(items[i] + 8, _q(items[i + 1] + 8))
    h = Object(prog, "struct hlist_head *", head)
    assert [e.v.value_() for e in hlist_entries("struct item", h, "link", "h")] == [0, 1, 2, 3]
    mem.write(items[3] + 8, _q(items[1] + 8))
    errors: list[str] = []
    got = [e.v.value_() for e in collect(hlist_entries("struct item", h, "link", "h"), errors)]
    assert got == [0, 1, 2, 3]
    assert errors == [f"h loops back to {items[1]:#x} (from {items[3]:#x})"]


def _rb_program() -> tuple[Program, Memory]:
    prog = program()
    box: list[object] = []
    ulong = prog.int_type("unsigned long", 8, False)
    node = prog.struct_type("rb_node", 24, (
        TypeMember(ulong, "__rb_parent_color", 0),
        TypeMember(lambda: prog.pointer_type(box[0]), "rb_right", 64),  # type: ignore[arg-type]
        TypeMember(lambda: prog.pointer_type(box[0]), "rb_left", 128)))  # type: ignore[arg-type]
    box.append(node)
    root = prog.struct_type("rb_root", 8, (TypeMember(prog.pointer_type(node), "rb_node", 0),))
    add_types(prog, {"rb_node": node, "rb_root": root, "unsigned long": ulong})
    return prog, Memory(prog)


def test_rbtree_in_order_and_loop() -> None:
    prog, mem = _rb_program()
    # a tree of 3: b at the root, a on its left, c on its right
    a, b, c = (mem.put(_q(0, 0, 0)) for _ in range(3))
    mem.write(b, _q(0, c, a))
    root = mem.put(_q(b))
    r = Object(prog, "struct rb_root *", root)
    assert [n.value_() for n in rbtree_nodes(r, "t")] == [a, b, c]
    mem.write(c, _q(0, 0, b))  # c's left child is its parent: a loop
    errors: list[str] = []
    got = [n.value_() for n in collect(rbtree_nodes(r, "the tree"), errors)]
    assert got == [a, b]
    assert errors == [f"the tree loops back to {b:#x} (from {c:#x})"]


def _xa_program() -> tuple[Program, Memory]:
    prog = program()
    uchar = prog.int_type("unsigned char", 1, False)
    voidp = prog.pointer_type(prog.void_type())
    node = prog.struct_type("xa_node", 8 + 64 * 8, (
        TypeMember(uchar, "shift", 0),
        TypeMember(prog.array_type(voidp, 64), "slots", 64)))
    xa = prog.struct_type("xarray", 16, (TypeMember(voidp, "xa_head", 64),))
    add_types(prog, {"xa_node": node, "xarray": xa, "unsigned long": prog.int_type(
        "unsigned long", 8, False)})
    return prog, Memory(prog, size=0x20000)


def test_xarray_entries_and_a_node_pointing_at_its_parent() -> None:
    prog, mem = _xa_program()
    leaf = mem.put(bytes([0]) + bytes(7) + _q(*(0x1000 * (i + 1) if i in (1, 5) else 0
                                               for i in range(64))))
    root = mem.put(bytes([6]) + bytes(7) + _q(*([leaf + 2, 0, leaf + 2] + [0] * 61)))
    # the same leaf twice: a node met twice is a loop
    xa = mem.put(_q(0, root + 2))
    x = Object(prog, "struct xarray *", xa)
    errors: list[str] = []
    got = [(i, e.value_()) for i, e in collect(xarray_entries(x, "the pid tree"), errors)]
    assert got == [(1, 0x2000), (5, 0x6000)]
    assert errors == [f"the pid tree loops back to {leaf:#x} (from {root:#x})"]
    mem.write(root + 8, _q(leaf + 2, 0, 0))
    assert [(i, e.value_()) for i, e in xarray_entries(x, "t")] == [(1, 0x2000), (5, 0x6000)]
    mem.write(root + 8, _q(leaf + 2, root + 2))  # a node that is its own child
    with pytest.raises(WalkError, match=f"loops back to {root:#x}"):
        list(xarray_entries(x, "t"))
