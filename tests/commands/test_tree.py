"""tree: the renderer (no dump needed), and tree and search on the real dump."""

from __future__ import annotations

import pytest
from conftest import Dump, crash_commands
from pycrash.commands import tree
from rows import pid_struct

from pycrash.command import Result


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
