"""tree: the renderer (no dump needed), and tree and search on the real dump."""

from __future__ import annotations

import pytest
from pycrash.commands import tree
from rows import pid_struct

from pycrash.command import Result


@pytest.mark.fast
def test_tree_entries_with_and_without_index() -> None:
    rows = [tree.TreeEntry(None, 0xFF3CF9168103F480), tree.TreeEntry(3, 0x10, pid_struct(7))]
    assert list(tree.render(Result(rows))) == ["ff3cf9168103f480", "[3] 10", "  pid = 7,"]


def test_tree_and_search(session) -> None:  # type: ignore[no-untyped-def]
    areas = session.run("tree -t rbtree -o vmap_area.rb_node vmap_area_root").rows
    from drgn.helpers.linux.mm import for_each_vmap_area

    assert {a.address for a in areas} == {v.value_() for v in for_each_vmap_area(session.prog)}
    hits = session.run("search -c pycrash-fixture: marker").rows
    assert any("pycrash-fixture: marker before crash" in h.text for h in hits)
    pointers = session.run("search init_task").rows
    target = session.prog.symbol("init_task").address
    assert pointers and all(session.prog.read_u64(h.address) == target for h in pointers)
    assert all(h.value == target and h.text is None for h in pointers)
