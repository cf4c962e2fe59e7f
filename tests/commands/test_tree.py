"""tree: the renderer (no dump needed), and tree and search on the real dump."""

from __future__ import annotations

import pytest
from conftest import Dump, crash_commands
from pycrash.commands import tree
from rows import pid_struct

from pycrash.command import Result
from pycrash.errors import CommandError


@pytest.mark.fast
def test_tree_entries_with_and_without_index() -> None:
    rows = [tree.TreeEntry(None, 0xFF3CF9168103F480), tree.TreeEntry(3, 0x10, pid_struct(7))]
    assert list(tree.render(Result(rows))) == ["ff3cf9168103f480", "10", "  pid = 7,"]
    rows = [tree.TreeEntry(70, 0x10, None, "root/1/6")]
    assert list(tree.render(Result(rows, view=tree.TreeView(True)))) == [
        "10", "  index: 70  position: root/1/6"]
    assert tree._position(132, 2) == "root/2/4"
    assert tree._position(5, 1) == "root/5"


def test_tree_and_search(session) -> None:  # type: ignore[no-untyped-def]
    areas = session.run("tree -t rbtree -o vmap_area.rb_node vmap_area_root").rows
    from drgn.helpers.linux.mm import for_each_vmap_area

    assert {a.address for a in areas} == {v.value_() for v in for_each_vmap_area(session.prog)}
    hits = session.run("search -c pycrash-fixture: marker").rows
    assert any("pycrash-fixture: marker before crash" in h.text for h in hits)
    pointers = session.run("search init_task").rows
    target = session.prog.symbol("init_task").address
    assert all(h.value == target and h.text is None for h in pointers)
    # every hit holds the value: the direct map's read back as they are, the others
    # (vmalloc, the kernel image's mapping) are the same pages under other addresses
    page_offset = session.prog["page_offset_base"].value_()
    direct = [h for h in pointers if h.address < session.prog["vmalloc_base"].value_()]
    assert direct and all(session.prog.read_u64(h.address) == target for h in direct)
    assert all(session.prog.read_u64(h.address - page_offset, True) == target for h in direct)


def test_tree_radix_is_an_xarray_as_crash_walks_it(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    """Issue 18: tree -t radix failed on 6.1 (could not find 'struct radix_tree_root *':
    since 4.20 a radix tree is an xarray). crash 8.0.2 walks it as an xarray; its -p
    positions (root/SLOT/...) over the pid idr, two levels deep, are crash's too."""
    idr = session.prog["init_pid_ns"].idr.idr_rt.address_
    commands = ["tree -t xarray irq_desc_tree", "tree -t xarray -p irq_desc_tree",
                f"tree -t xarray -p {idr:x}"]
    theirs = crash_commands(dump, commands)
    for command in commands:
        assert str(session.run(command)).splitlines() == theirs[command], command
    radix = str(session.run("tree -t radix -p irq_desc_tree")).splitlines()
    assert radix == theirs["tree -t xarray -p irq_desc_tree"]
    assert any("position: root/" in line and line.count("/") == 2
               for line in theirs[f"tree -t xarray -p {idr:x}"])


def test_tree_order_r_l_p_N_S_as_crash(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    """Issue 18 (batch B): tree listed a red-black tree in sort order where crash lists
    each node before its subtrees, needed -t, and refused -r, -l, -N, -S, -x and -d; -p
    showed no red-black positions. Each command's lines are crash 8.0.2's on this dump:
    vmap_area_root (100-odd areas) in crash's order, sorted with -l, with root/l/r
    positions, -S members (a module function named after its address); the irq xarray
    from its top node (-N, the xa_head value) with positions; sysfs's root directory's
    children, an rb_root 72 bytes into a kernfs_node (-r)."""
    head = session.prog["irq_desc_tree"].xa_head.value_()
    sysfs = session.prog["sysfs_root_kn"].value_()
    commands = [
        "tree -t rbtree -o vmap_area.rb_node vmap_area_root",
        "tree -o vmap_area.rb_node vmap_area_root -p",
        "tree -t rb -l -o vmap_area.rb_node vmap_area_root -p",
        "tree -o vmap_area.rb_node vmap_area_root -S vmap_area.va_start,va_end",
        "tree -t rbtree -o vmap_area.rb_node -s vmap_area.va_start,va_end vmap_area_root",
        f"tree -t x -N {head:#x}", f"tree -t x -N {head:#x} -p",
        "tree -t xarray irq_desc_tree -S irq_desc.irq_data.irq,action",
        "tree -x -t xarray irq_desc_tree -S irq_desc.irq_data.irq",
        f"tree -r 72 -p -o kernfs_node.rb -s kernfs_node.name {sysfs:x}"]
    theirs = crash_commands(dump, commands)
    for command in commands:
        assert str(session.run(command)).splitlines() == theirs[command], command
    nested = f"tree -r kernfs_node.dir.children -p -o kernfs_node.rb -s kernfs_node.name " \
             f"{sysfs:x}"  # crash takes a number there; pycrash a nested member too
    assert str(session.run(nested)).splitlines() == theirs[commands[-1]]
    linear = [e.address for e in session.run(commands[2]).rows]
    starts = [session.prog.read_u64(a) for a in linear]  # vmap_area.va_start
    assert starts == sorted(starts) and len(starts) > 50
    with pytest.raises(CommandError, match="-l option is not applicable"):
        session.run("tree -t xarray -l irq_desc_tree")
