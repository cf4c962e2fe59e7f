"""Bounded walks over kernel lists and trees: a corrupt structure ends the walk, it
never loops, recurses or allocates without bound.

Every walk of a kernel list, hlist, red-black tree, XArray (radix tree, IDR) or maple
tree in pycrash goes through this module: :func:`bounded` wraps any iterator (drgn's
helpers among them) and the walkers here (:func:`list_entries`, :func:`hlist_entries`,
:func:`rbtree_nodes` and :func:`rbtree_positions`, :func:`xarray_entries` and
:func:`xarray_node_entries`, :func:`maple_entries`) are pycrash's own.
As crash's ``list`` does, a walk remembers the addresses it has seen (a set of ints, so
memory grows with the entries found, never with the times round a loop) and stops at

* an entry seen before: the list loops (``the task list loops back to 0x...``);
* a pointer that cannot be read (``the module list breaks at 0x...``);
* more than a hard cap of entries (``MAX_ENTRIES``, far above any real list).

It then raises :class:`WalkError` after yielding what it found, so a command shows the
entries before the break and adds the error's one line: :func:`collect` turns the error
into a line of the command's ``errors``.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from drgn import FaultError, Object, Program

from pycrash.errors import PycrashError

T = TypeVar("T")

#: The most entries any kernel list walk yields (far above any real module, task or mount
#: list; pid_max is at most 4M but no machine runs a million tasks).
MAX_ENTRIES = 1_000_000


class WalkError(PycrashError, ValueError):
    """A kernel list or tree that could not be walked to its end: it loops, has a
    pointer that cannot be read, or more entries than the cap. ``address`` is the bad
    entry (where the loop goes back to, or the pointer that could not be read)."""

    def __init__(self, message: str, address: int | None = None,
                 fault: FaultError | None = None) -> None:
        super().__init__(message)
        self.address = address
        #: the read that failed, when a pointer could not be read
        self.fault = fault


def _key(item: Any) -> int:
    """The address that identifies a walk's item: a pointer's value, an object's address,
    or the last such of a tuple (``(index, entry)``)."""
    if isinstance(item, tuple):
        item = item[-1]
    if isinstance(item, Object):
        if item.type_.kind.name == "POINTER":
            return int(item.value_())
        address = item.address_
        return int(address) if address is not None else id(item)
    return int(item)


def loop_error(what: str, key: int, prev: int | None) -> WalkError:
    """The :class:`WalkError` of a walk that came back to ``key`` from ``prev``."""
    where = f" (from {prev:#x})" if prev is not None and prev != key else ""
    return WalkError(f"{what} loops back to {key:#x}{where}", key)


def fault_error(what: str, exc: FaultError, count: int) -> WalkError:
    """The :class:`WalkError` of a walk that met an unreadable pointer."""
    return WalkError(f"{what} breaks at {exc.address:#x} after {count} entries "
                     "(cannot read memory)", exc.address, exc)


def cap_error(what: str, limit: int) -> WalkError:
    """The :class:`WalkError` of a walk with more than ``limit`` entries."""
    return WalkError(f"{what} has more than {limit} entries (stopped there)")


def bounded(items: Iterable[T], what: str, limit: int = MAX_ENTRIES,
            key: Callable[[T], int] | None = None) -> Iterator[T]:
    """Yield the items of a walk, stopping with :class:`WalkError` at the first one seen
    before (a loop), at a pointer that cannot be read, or after ``limit`` items.

    ``what`` names the structure in the error (``"the module list"``); ``key`` gives an
    item's address (default: a pointer's value, an object's address, the last element
    of a tuple).
    """
    keyf = key or _key
    seen: set[int] = set()
    prev: int | None = None
    it = iter(items)
    n = 0
    while True:
        try:
            obj = next(it)
        except StopIteration:
            return
        except FaultError as exc:
            raise fault_error(what, exc, n) from None
        except RecursionError:
            raise WalkError(f"{what} is nested too deep (a loop?) after {n} entries") from None
        k = keyf(obj)
        if k in seen:
            raise loop_error(what, k, prev)
        if n >= limit:
            raise cap_error(what, limit)
        seen.add(k)
        prev = k
        n += 1
        yield obj


def note(errors: list[str], message: str) -> None:
    """Add ``message`` to a command's errors unless it is there already (a walk broken
    the same way is named once)."""
    if message not in errors:
        errors.append(message)


def collect(items: Iterable[T], errors: list[str]) -> Iterator[T]:
    """Yield the items of a bounded walk; a :class:`WalkError` ends it quietly and its
    line goes to ``errors`` (a command's partial output, then one line naming the loop)."""
    try:
        yield from items
    except WalkError as exc:
        note(errors, str(exc))


def walk_list(items: Iterable[T], errors: list[str]) -> list[T]:
    """Return the items of a bounded walk as a list; a break is noted in ``errors``."""
    return list(collect(items, errors))


# -- lists ---------------------------------------------------------------------------


def list_nodes(head: Object, what: str, limit: int = MAX_ENTRIES,
               offset: int = 0) -> Iterator[Object]:
    """Yield the ``struct list_head *`` nodes of a list after ``head`` (a ``struct
    list_head *``), bounded. Errors name an entry by its node's address less ``offset``
    (the node's offset in the struct: the struct's address)."""
    head = head.read_()
    stop = head.value_()
    seen: set[int] = set()
    prev = stop
    n = 0
    try:  # each entry's next pointer is read before it is yielded: an entry that
        nxt = head.next.read_()  # cannot be read ends the walk, not its user
        while True:
            pos = nxt
            addr = pos.value_()
            if addr == stop:
                return
            if not addr:
                raise WalkError(f"{what} has a NULL pointer after {prev - offset:#x} "
                                f"({n} entries)", prev - offset)
            if addr in seen:
                raise loop_error(what, addr - offset, prev - offset)
            if n >= limit:
                raise cap_error(what, limit)
            nxt = pos.next.read_()
            seen.add(addr)
            prev = addr
            n += 1
            yield pos
    except FaultError as exc:
        raise fault_error(what, exc, n) from None


def list_entries(type_name: str, head: Object, member: str, what: str,
                 limit: int = MAX_ENTRIES) -> Iterator[Object]:
    """Yield the entries (``type_name *``) of a kernel list, as drgn's
    ``list_for_each_entry``, bounded: ``head`` is the ``struct list_head *``."""
    from drgn import container_of, offsetof

    prog = head.prog_
    ptype = prog.pointer_type(prog.type(type_name))
    offset = offsetof(ptype.type, member)
    for node in list_nodes(head, what, limit, offset):
        yield container_of(node, ptype.type, member)


def hlist_entries(type_name: str, head: Object, member: str, what: str,
                  limit: int = MAX_ENTRIES) -> Iterator[Object]:
    """Yield the entries of a kernel hlist (``head`` a ``struct hlist_head *``), bounded."""
    from drgn import container_of, offsetof

    prog = head.prog_
    ptype = prog.pointer_type(prog.type(type_name))
    offset = offsetof(ptype.type, member)
    seen: set[int] = set()
    prev: int | None = None
    n = 0
    try:
        pos = head.first.read_()
    except FaultError as exc:
        raise fault_error(what, exc, 0) from None
    while pos.value_():
        addr = pos.value_()
        if addr in seen:
            raise loop_error(what, addr - offset, None if prev is None else prev - offset)
        if n >= limit:
            raise cap_error(what, limit)
        seen.add(addr)
        prev = addr
        n += 1
        yield container_of(pos, ptype.type, member)
        try:
            pos = pos.next.read_()
        except FaultError as exc:
            raise fault_error(what, exc, n) from None


# -- trees ---------------------------------------------------------------------------


def rbtree_nodes(root: Object, what: str, limit: int = MAX_ENTRIES) -> Iterator[Object]:
    """Yield the ``struct rb_node *`` of a red-black tree in sort order (as drgn's
    ``rbtree_inorder_for_each``), without recursion, bounded: a node met twice is a
    loop."""
    seen: set[int] = set()
    stack: list[Object] = []
    n = 0

    def push_left(node: Object, parent: int | None) -> None:
        while node.value_():
            addr = node.value_()
            if addr in seen:
                raise loop_error(what, addr, parent)
            if len(seen) >= limit:
                raise cap_error(what, limit)
            seen.add(addr)
            stack.append(node)
            parent = addr
            node = node.rb_left.read_()

    try:
        push_left(root.rb_node.read_(), None)
        while stack:
            node = stack.pop()
            n += 1
            yield node
            push_left(node.rb_right.read_(), node.value_())
    except FaultError as exc:
        raise fault_error(what, exc, n) from None


def rbtree_positions(prog: Program, node: int, what: str, linear: bool = False,
                     limit: int = MAX_ENTRIES) -> Iterator[tuple[int, str]]:
    """Yield ``(rb_node address, position)`` of a red-black tree from the node at ``node``
    (its root's rb_node), as crash's ``tree`` visits them: each node before its left and
    right subtrees, or with ``linear`` in sort order (left subtree, node, right). A
    position is the path from the start, ``root/l/r``. Bounded: a node met twice is a
    loop, a pointer that cannot be read ends the walk."""
    seen: set[int] = set()
    n = 0
    # (node, position, whether its left subtree is done) on an explicit stack
    stack: list[tuple[int, str, bool]] = [(node, "root", False)] if node else []
    try:
        while stack:
            addr, position, left_done = stack.pop()
            if not left_done:
                if addr in seen:
                    raise loop_error(what, addr, None)
                if len(seen) >= limit:
                    raise cap_error(what, limit)
                seen.add(addr)
            rb = Object(prog, "struct rb_node *", addr)
            if linear and not left_done:
                left = rb.rb_left.value_()
                stack.append((addr, position, True))
                if left:
                    stack.append((left, f"{position}/l", False))
                continue
            n += 1
            yield addr, position
            right = rb.rb_right.value_()
            if right:
                stack.append((right, f"{position}/r", False))
            if not linear:
                left = rb.rb_left.value_()
                if left:
                    stack.append((left, f"{position}/l", False))
    except FaultError as exc:
        raise fault_error(what, exc, n) from None


def rbtree_entries(type_name: str, root: Object, member: str, what: str,
                   limit: int = MAX_ENTRIES) -> Iterator[Object]:
    """Yield the entries of a red-black tree in sort order, bounded (``root`` a
    ``struct rb_root *``)."""
    from drgn import container_of

    prog = root.prog_
    ptype = prog.pointer_type(prog.type(type_name))
    for node in rbtree_nodes(root, what, limit):  # errors name the rb_node
        yield container_of(node, ptype.type, member)


_XA_ZERO_ENTRY = 1030  # xa_mk_internal(257)
_XA_CHUNK_SHIFT_MAX = 6


def _xa_is_node(value: int) -> bool:
    return (value & 3) == 2 and value > 4096


def xarray_entries(xa: Object, what: str, limit: int = MAX_ENTRIES,
                   advanced: bool = False) -> Iterator[tuple[int, Object]]:
    """Yield ``(index, void *)`` of every entry of an XArray (or a radix tree, which is
    one since 4.20), as drgn's ``xa_for_each``, bounded: each node is visited once, and a
    child's ``shift`` must be below its parent's (so no path is longer than the index)."""
    try:
        entry = xa.xa_head.read_()
    except FaultError as exc:
        raise fault_error(what, exc, 0) from None
    yield from _xarray_from(xa.prog_, entry, what, limit, advanced)


def xarray_node_entries(prog: Program, node: int, what: str, limit: int = MAX_ENTRIES,
                        advanced: bool = False) -> Iterator[tuple[int, Object]]:
    """Yield ``(index, void *)`` of every entry below one ``struct xa_node`` (its address,
    or an xa_head's tagged pointer to it), indexes counted from the node's first slot
    (crash's ``tree -N``), bounded as :func:`xarray_entries`."""
    value = (node & ~3) | 2
    yield from _xarray_from(prog, Object(prog, "void *", value), what, limit, advanced)


def _xarray_from(prog: Program, entry: Object, what: str, limit: int,
                 advanced: bool) -> Iterator[tuple[int, Object]]:
    """The walk of :func:`xarray_entries` from the head entry ``entry``."""
    node_type = prog.type("struct xa_node *")
    value = entry.value_()
    if not _xa_is_node(value):
        if value and (advanced or value != _XA_ZERO_ENTRY) and not (value & 3) == 2:
            yield 0, entry
        return
    seen: set[int] = set()
    n = 0
    bits = 8 * prog.type("unsigned long").size
    # (node, its first index, its shift, the next slot to read, its slots read at once)
    stack: list[tuple[int, int, int, list[int]]] = []
    parent: int | None = None

    def push(value: int, index: int, max_shift: int) -> None:
        addr = value - 2
        if addr in seen:
            raise loop_error(what, addr, parent)
        if len(seen) >= limit:
            raise cap_error(what, limit)
        seen.add(addr)
        node = Object(prog, node_type, addr)
        shift = node.shift.value_()
        if shift > max_shift or shift % _XA_CHUNK_SHIFT_MAX:
            raise WalkError(f"{what} has a node at {addr:#x} with shift {shift} "
                            f"(at most {max_shift})", addr)
        slots = [s.value_() for s in node.slots.read_()]
        stack.append((addr, index, shift, slots))

    try:
        push(value, 0, bits)
        while stack:
            addr, base, shift, slots = stack.pop()
            parent = addr
            # visit the slots in order: push the children in reverse after yielding
            # the leaves before them would reorder; walk slot by slot instead
            for i, slot in enumerate(slots):
                index = base + (i << shift)
                if _xa_is_node(slot):
                    if shift == 0:
                        raise WalkError(f"{what} has a node below the last level at "
                                        f"{addr:#x}", addr)
                    # descend now: keep the rest of this node for later
                    stack.append((addr, index + (1 << shift), shift, slots[i + 1:]))
                    push(slot, index, shift - _XA_CHUNK_SHIFT_MAX)
                    break
                if (slot & 3) == 2 and slot < 256:  # a sibling entry
                    continue
                if slot and (advanced or slot != _XA_ZERO_ENTRY):
                    n += 1
                    yield index, Object(prog, "void *", slot)
    except FaultError as exc:
        raise fault_error(what, exc, n) from None


def idr_entries(idr: Object, what: str, limit: int = MAX_ENTRIES) -> Iterator[tuple[int, Object]]:
    """Yield ``(id, void *)`` of every pointer in an IDR (``struct idr *``), bounded."""
    try:
        base = idr.idr_base.value_()
    except AttributeError:
        base = 0
    for index, entry in xarray_entries(idr.idr_rt.address_of_(), what, limit):
        yield index + base, entry


def maple_entries(mt: Object, what: str, limit: int = MAX_ENTRIES,
                  advanced: bool = False) -> Iterator[tuple[int, int, Object]]:
    """Yield ``(first, last, void *)`` of every entry of a maple tree (``struct
    maple_tree *``), as drgn's ``mt_for_each``, bounded: each node is visited once."""
    prog = mt.prog_
    ulong_max = (1 << (8 * prog.type("unsigned long").size)) - 1
    try:
        entry = mt.ma_root.read_()
    except FaultError as exc:
        raise fault_error(what, exc, 0) from None
    value = entry.value_()
    if not _xa_is_node(value):
        if value:
            yield 0, 0, entry
        return
    seen: set[int] = set()
    queue: collections.deque[tuple[int, int, int, int | None]] = collections.deque(
        [(value, 0, ulong_max, None)])
    n = 0
    try:
        while queue:
            value, lo, hi, parent = queue.popleft()
            addr = value & ~255
            if addr in seen:
                raise loop_error(what, addr, parent)
            if len(seen) >= limit:
                raise cap_error(what, limit)
            seen.add(addr)
            pivots, slots, end, leaf = _maple_node(prog, value, hi, what)
            prev = lo
            if leaf:
                for offset in range(end + 1):
                    pivot = pivots[offset] if offset < end else hi
                    slot = slots[offset]
                    if slot and (advanced or slot != _XA_ZERO_ENTRY):
                        n += 1
                        yield prev, pivot, Object(prog, "void *", slot)
                    prev = pivot + 1
            else:
                for offset in range(end + 1):
                    pivot = pivots[offset] if offset < end else hi
                    if slots[offset]:
                        queue.append((slots[offset], prev, pivot, addr))
                    prev = pivot + 1
    except FaultError as exc:
        raise fault_error(what, exc, n) from None


def _maple_node(prog: Program, value: int, hi: int, what: str) -> tuple[list[int], list[int],
                                                                       int, bool]:
    """Return a maple node's pivots, slots, data end and whether it is a leaf (drgn's
    ``mte_to_node()``, ``ma_data_end()`` and ``ma_is_leaf()``), its end kept in range."""
    node = Object(prog, "struct maple_node *", value & ~255)
    kind = (value >> 3) & 0xF
    if kind == 3:  # maple_arange_64
        m = node.ma64
        pivots = [p.value_() for p in m.pivot.read_()]
        end = m.meta.end.value_()
    elif kind in (1, 2):  # maple_leaf_64, maple_range_64
        m = node.mr64
        pivots = [p.value_() for p in m.pivot.read_()]
        if not pivots[-1]:
            end = m.meta.end.value_()
        elif pivots[-1] == hi:
            end = len(pivots) - 1
        else:
            end = len(pivots)
    else:
        raise WalkError(f"{what} has a node of unknown type {kind} at {value & ~255:#x}",
                        value & ~255)
    slots = [s.value_() for s in m.slot.read_()]
    end = min(end, len(pivots), len(slots) - 1)
    return pivots, slots, end, kind < 2
