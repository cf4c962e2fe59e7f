"""tree: walk a red-black tree, radix tree, xarray or maple tree."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass

from drgn import FaultError, Object, Program

from pycrash.cmdlib.resolve import resolve_address
from pycrash.cmdlib.structs import (
    ReadMember,
    StructDump,
    dump_lines,
    entry_view,
    member_offset,
    read_members,
    read_members_lines,
    struct_dump,
)
from pycrash.command import Result, arg, command
from pycrash.errors import CommandError
from pycrash.records import Hex
from pycrash.session import Session

#: crash's names of the tree types, and the prefixes it takes for them
_KINDS = (("ra", "radix"), ("rb", "rbtree"), ("x", "xarray"), ("m", "maple"))


@dataclass(frozen=True)
class TreeEntry:
    """An entry of a kernel tree: its index (radix tree, xarray, maple tree; None in a
    red-black tree), its address, and with -s the struct there (with -S its members as
    read from memory)."""

    index: int | None
    address: Hex
    struct: StructDump | None = None
    #: the path from the root: a radix tree's or xarray's slots (root/1/63), a red-black
    #: tree's left and right turns (root/l/r)
    position: str | None = None
    read: tuple[ReadMember, ...] = ()


@dataclass(frozen=True)
class TreeView:
    """Whether tree shows each entry's index and position (-p), and -S values in hex."""

    positions: bool = False
    hex: bool = False


def render(result: Result) -> Iterable[str]:
    """crash's tree output: each entry's address, with -p its position (and index), then
    its struct with -s (its members as read from memory with -S)."""
    view = result.view if isinstance(result.view, TreeView) else TreeView()
    for e in result.rows:
        yield f"{e.address:x}"
        if view.positions and e.index is not None:
            where = f"  position: {e.position}" if e.position else ""
            yield f"  index: {e.index}{where}"
        elif view.positions and e.position:
            yield f"  position: {e.position}"
        if e.struct is not None:
            yield from dump_lines(e.struct)
        if e.read:
            yield from read_members_lines(e.read, view.hex)


def _xarray_levels(xa: Object) -> int:
    """Return how many levels of nodes an xarray (or radix tree) has: 0 for a single
    entry at its head, else its top node's shift / 6 + 1."""
    head = xa.xa_head.value_() if "xa_head" in dir(xa) else xa.rnode.value_()
    return _node_levels(xa.prog_, head, "xa_head" in dir(xa))


def _node_levels(prog: Program, head: int, xarray: bool = True) -> int:
    """How many levels of nodes are below an xa_head value (a tagged node pointer)."""
    if head & 3 != 2 or head <= 4096:
        return 0
    node = Object(prog, "struct xa_node *" if xarray
                  else "struct radix_tree_node *", head - 2)
    return int(node.shift.value_()) // 6 + 1


def _position(index: int, levels: int) -> str:
    """crash's position of an index: root, then the slot taken at each level."""
    slots = [(index >> (6 * level)) & 63 for level in reversed(range(levels))]
    return "/".join(["root", *map(str, slots)])


def _kind(text: str) -> str:
    """The tree type a -t argument names: its name or crash's prefix of it."""
    for prefix, name in _KINDS:
        if text.startswith(prefix):
            return name
    raise CommandError(f"invalid tree type: {text}")


@command(
    "tree",
    summary="display the contents of a tree",
    synopsis="tree [-t rbtree|radix|xarray|maple] [-r offset] [-o offset] "
             "[-s|-S struct[.member[,member]]] [-x|-d] [-l] [-p] [-N] start",
    description="""
Walks a tree and prints each entry: for a red-black tree (the default) the
address of the containing struct (-o gives the rb_node's offset in it), each
node before its left and right subtrees, as crash visits them; for a radix
tree, xarray or maple tree each entry pointer. The type may be abbreviated
as crash takes it (ra, rb, x, m). A pointer that cannot be read ends the
walk with an error naming it. -p shows each entry's position from the root:
root/l/r (the left and right turns) in a red-black tree; the index and the
slot at each level in a radix tree or xarray; the index in a maple tree.
""",
    examples="""
crash> tree -t rbtree -o vmap_area.rb_node vmap_area_root
crash> tree -l -o vmap_area.rb_node -S vmap_area.va_start,va_end -p vmap_area_root
crash> tree -t xarray -p irq_desc_tree
crash> tree -t x -N 0xff362249414016d2
crash> tree -t rbtree -r mm_struct.mm_rb -o vm_area_struct.vm_rb ffff888003c9c180
crash> tree -t maple init_mm.mm_mt
""",
    records=(TreeEntry,),
    arguments=(
        arg("-t", dest="kind", default="rbtree", help="rbtree, radix, xarray or maple"),
        arg("-r", dest="root_offset",
            help="offset (or struct.member) of the root in the struct at start"),
        arg("-o", dest="offset", help="offset of the node in the struct (or struct.member)"),
        arg("-s", dest="struct", help="struct[.member,...] to show"),
        arg("-S", dest="read", help="struct.member[,member] read from memory"),
        arg("-l", dest="linear", action="store_true",
            help="a red-black tree in sort order, from its leftmost node"),
        arg("-p", dest="positions", action="store_true",
            help="each entry's position from the root"),
        arg("-N", dest="node", action="store_true",
            help="start is an rb_node or xa_node (an xa_head value), not the root"),
        arg("-x", dest="hex", action="store_true", help="-s/-S values in hex"),
        arg("-d", dest="dec", action="store_true", help="-s/-S values in decimal"),
        arg("root", metavar="start"),
    ),
)
def tree(session: Session, args: argparse.Namespace) -> Result:
    """Return a :class:`TreeEntry` per entry."""
    from pycrash.kernel.walk import (
        WalkError,
        maple_entries,
        rbtree_positions,
        xarray_entries,
        xarray_node_entries,
    )

    prog = session.prog
    kind = _kind(args.kind)
    rbtree = kind == "rbtree"
    if not rbtree and args.linear:
        raise CommandError(f"-l option is not applicable to {kind} trees")
    if not rbtree and args.offset is not None:
        raise CommandError(f"-o option is not applicable to {kind} trees")
    if args.root_offset is not None and args.node:
        raise CommandError("-r and -N options are mutually exclusive")
    if args.struct and args.read:
        raise CommandError("-S and -s options are mutually exclusive")
    if args.hex and args.dec:
        raise CommandError("-d and -x are mutually exclusive")
    view = entry_view(prog, args.offset, args.struct or args.read)
    if args.read and not view.members:
        raise CommandError(f"-S needs struct.member[,member]: {args.read}")
    offset = view.offset
    root = resolve_address(prog, args.root)
    if args.root_offset is not None:
        root += member_offset(prog, args.root_offset)
    entries: list[TreeEntry] = []
    errors: list[str] = []
    try:
        if rbtree:
            node = root if args.node else prog.read_u64(root)
            for addr, position in rbtree_positions(prog, node, "the tree", args.linear):
                entries.append(TreeEntry(None, addr - offset, position=position))
        elif kind in ("radix", "xarray") and args.node:  # since 4.20 a radix tree is one
            levels = _node_levels(prog, (root & ~3) | 2)
            for index, entry in xarray_node_entries(prog, root, "the tree"):
                entries.append(TreeEntry(index, entry.value_(),
                                         position=_position(index, levels)))
        elif kind in ("radix", "xarray"):
            xa = Object(prog, "struct xarray *", root)
            levels = _xarray_levels(xa[0])
            for index, entry in xarray_entries(xa, "the tree"):
                entries.append(TreeEntry(index, entry.value_(),
                                         position=_position(index, levels)))
        else:
            if args.node:
                raise CommandError("-N option is not applicable to maple trees")
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
    hex_mode = args.hex or (session.state.settings.get("radix") == 16 and not args.dec)
    if view.struct:
        shown = []
        for e in entries:
            obj = Object(prog, f"struct {view.struct}", address=e.address)
            if args.read:
                shown.append(TreeEntry(e.index, e.address, None, e.position,
                                       read_members(obj, view.members, hex_mode)))
            else:
                shown.append(TreeEntry(e.index, e.address,
                                       struct_dump(obj, view.members, hex_mode), e.position))
        entries = shown
    return Result(entries, render=render, errors=errors,
                  view=TreeView(args.positions, hex_mode))
