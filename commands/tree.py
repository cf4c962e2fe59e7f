"""tree: walk a red-black tree, radix tree, xarray or maple tree."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass

from drgn import FaultError, Object

from pycrash.cmdlib.resolve import resolve_address
from pycrash.cmdlib.structs import StructDump, dump_lines, entry_view, struct_dump
from pycrash.command import Result, arg, command
from pycrash.errors import CommandError
from pycrash.records import Hex
from pycrash.session import Session


@dataclass(frozen=True)
class TreeEntry:
    """An entry of a kernel tree: its index (radix tree, xarray, maple tree; None in a
    red-black tree), its address, and with -s the struct there."""

    index: int | None
    address: Hex
    struct: StructDump | None = None
    #: a radix tree's or xarray's slot path from the root (crash's -p: root/1/63)
    position: str | None = None


@dataclass(frozen=True)
class TreeView:
    """Whether tree shows each entry's index and position (-p)."""

    positions: bool = False


def render(result: Result) -> Iterable[str]:
    """crash's tree output: each entry's address, with -p its index and position, then
    its struct with -s."""
    positions = isinstance(result.view, TreeView) and result.view.positions
    for e in result.rows:
        yield f"{e.address:x}"
        if positions and e.index is not None:
            where = f"  position: {e.position}" if e.position else ""
            yield f"  index: {e.index}{where}"
        if e.struct is not None:
            yield from dump_lines(e.struct)


def _xarray_levels(xa: Object) -> int:
    """Return how many levels of nodes an xarray (or radix tree) has: 0 for a single
    entry at its head, else its top node's shift / 6 + 1."""
    head = xa.xa_head.value_() if "xa_head" in dir(xa) else xa.rnode.value_()
    if head & 3 != 2 or head <= 4096:
        return 0
    node = Object(xa.prog_, "struct xa_node *" if "xa_head" in dir(xa)
                  else "struct radix_tree_node *", head - 2)
    return int(node.shift.value_()) // 6 + 1


def _position(index: int, levels: int) -> str:
    """crash's position of an index: root, then the slot taken at each level."""
    slots = [(index >> (6 * level)) & 63 for level in reversed(range(levels))]
    return "/".join(["root", *map(str, slots)])


@command(
    "tree",
    summary="display the contents of a tree",
    synopsis="tree -t rbtree|radix|xarray|maple [-o offset|struct.member] "
             "[-s struct[.member,...]] [-p] root",
    description="""
Walks a tree from its root (an address, or a symbol and members such as
vmap_area_root) and prints each entry: for a red-black tree the address of
the containing struct (-o gives the rb_node's offset in it); for a radix
tree, xarray or maple tree each entry pointer (-p adds its index and, for a
radix tree or xarray, its slot path from the root). -s shows the
entries' members. A pointer that cannot be read ends the walk with an error
naming it.
""",
    examples="""
crash> tree -t rbtree -o vmap_area.rb_node vmap_area_root
crash> tree -t xarray -s page init_mm.mm_mt    (maple: tree -t maple)
""",
    records=(TreeEntry,),
    arguments=(
        arg("-t", dest="kind", required=True, choices=("rbtree", "radix", "xarray", "maple")),
        arg("-o", dest="offset", help="offset of the node in the struct (or struct.member)"),
        arg("-s", dest="struct", help="struct[.member,...] to show"),
        arg("-p", dest="positions", action="store_true",
            help="each entry's index and position from the root"),
        arg("root", metavar="root"),
    ),
)
def tree(session: Session, args: argparse.Namespace) -> Result:
    """Return a :class:`TreeEntry` per entry."""
    from pycrash.kernel.walk import WalkError, maple_entries, rbtree_nodes, xarray_entries

    prog = session.prog
    view = entry_view(prog, args.offset, args.struct)
    offset = view.offset
    root = resolve_address(prog, args.root)
    entries: list[TreeEntry] = []
    errors: list[str] = []
    try:
        if args.kind == "rbtree":
            node_root = Object(prog, "struct rb_root *", root)
            for node in rbtree_nodes(node_root, "the tree"):
                entries.append(TreeEntry(None, node.value_() - offset))
        elif args.kind in ("radix", "xarray"):  # since 4.20 a radix tree is an xarray
            xa = Object(prog, "struct xarray *", root)
            levels = _xarray_levels(xa[0])
            for index, entry in xarray_entries(xa, "the tree"):
                entries.append(TreeEntry(index, entry.value_(),
                                         position=_position(index, levels)))
        else:
            for first, _last, entry in maple_entries(Object(prog, "struct maple_tree *", root),
                                                     "the tree"):
                entries.append(TreeEntry(first, entry.value_()))
    except WalkError as exc:
        if exc.fault is not None:
            errors.append(f"invalid pointer {exc.fault.address:x} after {len(entries)} "
                          f"entries: {session.explain_fault(exc.fault)}")
        else:
            errors.append(str(exc))
    except FaultError as exc:
        errors.append(f"invalid pointer {exc.address:x} after {len(entries)} entries: "
                      f"{session.explain_fault(exc)}")
    except (LookupError, TypeError, ValueError) as exc:
        raise CommandError(str(exc)) from None
    if view.struct:
        entries = [TreeEntry(e.index, e.address,
                             struct_dump(Object(prog, f"struct {view.struct}",
                                                address=e.address), view.members),
                             e.position)
                   for e in entries]
    return Result(entries, render=render, errors=errors, view=TreeView(args.positions))
