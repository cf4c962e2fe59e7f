"""tree: walk a red-black tree, radix tree, xarray or maple tree."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass, field

from drgn import FaultError, Object
from pycrash.commands.list import _start

from pycrash.command import Result, arg, command
from pycrash.errors import CommandError
from pycrash.kernel.format import object_lines
from pycrash.session import Session


@dataclass
class TreeEntry:
    """A tree entry: its index (radix/xarray/maple), its address, shown members."""

    index: int | None
    address: int
    lines: list[str] = field(default_factory=list)


def _render(result: Result) -> Iterable[str]:
    for e in result.rows:
        yield f"{e.address:x}" if e.index is None else f"[{e.index}] {e.address:x}"
        yield from e.lines


@command(
    "tree",
    summary="display the contents of a tree",
    synopsis="tree -t rbtree|radix|xarray|maple [-o offset|struct.member] "
             "[-s struct[.member,...]] root",
    description="""
Walks a tree from its root (an address, or a symbol and members such as
vmap_area_root) and prints each entry: for a red-black tree the address of
the containing struct (-o gives the rb_node's offset in it); for a radix
tree, xarray or maple tree each index and entry pointer. -s shows the
entries' members. A pointer that cannot be read ends the walk with an error
naming it.
""",
    examples="""
crash> tree -t rbtree -o vmap_area.rb_node vmap_area_root
crash> tree -t xarray -s page init_mm.mm_mt    (maple: tree -t maple)
""",
    arguments=(
        arg("-t", dest="kind", required=True, choices=("rbtree", "radix", "xarray", "maple")),
        arg("-o", dest="offset", help="offset of the node in the struct (or struct.member)"),
        arg("-s", dest="struct", help="struct[.member,...] to show"),
        arg("root", metavar="root"),
    ),
)
def tree(session: Session, args: argparse.Namespace) -> Result:
    """Return a :class:`TreeEntry` per entry."""
    from drgn.helpers.linux.mapletree import mt_for_each
    from drgn.helpers.linux.radixtree import radix_tree_for_each
    from drgn.helpers.linux.rbtree import rbtree_inorder_for_each
    from drgn.helpers.linux.xarray import xa_for_each
    from pycrash.commands.list import entry_view

    prog = session.prog
    offset, struct_name, members = entry_view(session, args.offset, args.struct)
    root = _start(session, args.root)
    entries: list[TreeEntry] = []
    errors: list[str] = []
    try:
        if args.kind == "rbtree":
            node_root = Object(prog, "struct rb_root *", root)
            for node in rbtree_inorder_for_each(node_root):
                entries.append(TreeEntry(None, node.value_() - offset))
        elif args.kind == "radix":
            for index, entry in radix_tree_for_each(Object(prog, "struct radix_tree_root *",
                                                           root)):
                entries.append(TreeEntry(index, entry.value_()))
        elif args.kind == "xarray":
            for index, entry in xa_for_each(Object(prog, "struct xarray *", root)):
                entries.append(TreeEntry(index, entry.value_()))
        else:
            for first, _last, entry in mt_for_each(Object(prog, "struct maple_tree *", root)):
                entries.append(TreeEntry(first, entry.value_()))
    except FaultError as exc:
        errors.append(f"tree: invalid pointer {exc.address:x} after {len(entries)} entries: "
                      f"{session.explain_fault(exc)}")
    except (LookupError, TypeError, ValueError) as exc:
        raise CommandError(f"tree: {exc}") from None
    if struct_name:
        for e in entries:
            e.lines = object_lines(Object(prog, f"struct {struct_name}", address=e.address),
                                   members)
    return Result(entries, render=_render, errors=errors)
