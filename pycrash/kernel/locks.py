"""Kernel locks: what a lock is, its state, who holds it, who waits on it, and which
lock a blocked task waits on.

Sleeping locks (``struct mutex``, ``struct rw_semaphore``, ``struct semaphore``) keep
their waiters in a ``wait_list`` of waiter records that live on the waiting tasks'
stacks; a mutex and a write-held rwsem record their owner task. Spinlocks (qspinlock)
and rwlocks (qrwlock) record no owner and no waiters: their state is their lock word.

A blocked task's lock is found from its stack: the lock function's own variable
(``lock`` or ``sem``) where the kernel's DWARF locates it, else the task's waiter
record on its stack (a list entry holding the task, linked into the lock's wait list).
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Callable
from dataclasses import dataclass

from drgn import FaultError, Object, Program, Type, TypeKind

from pycrash.kernel.progcache import per_program
from pycrash.kernel.tasks import stack_bounds
from pycrash.kernel.walk import list_entries


class LockKind(enum.Enum):
    """The kinds of kernel lock pycrash reads."""

    MUTEX = "mutex"
    RWSEM = "rw_semaphore"
    SEMAPHORE = "semaphore"
    SPINLOCK = "spinlock"
    RWLOCK = "rwlock"


class NotALock(ValueError):
    """The address or object is not a lock pycrash can read."""


#: The lock kinds with a wait list: their C type and their waiter record's type.
SLEEPING = {
    LockKind.MUTEX: ("struct mutex", "struct mutex_waiter"),
    LockKind.RWSEM: ("struct rw_semaphore", "struct rwsem_waiter"),
    LockKind.SEMAPHORE: ("struct semaphore", "struct semaphore_waiter"),
}

#: C type names (any typedef level) of each kind.
TYPE_NAMES = {
    "struct mutex": LockKind.MUTEX,
    "struct rw_semaphore": LockKind.RWSEM,
    "struct semaphore": LockKind.SEMAPHORE,
    "spinlock_t": LockKind.SPINLOCK,
    "struct spinlock": LockKind.SPINLOCK,
    "raw_spinlock_t": LockKind.SPINLOCK,
    "struct raw_spinlock": LockKind.SPINLOCK,
    "arch_spinlock_t": LockKind.SPINLOCK,
    "struct qspinlock": LockKind.SPINLOCK,
    "rwlock_t": LockKind.RWLOCK,
    "arch_rwlock_t": LockKind.RWLOCK,
    "struct qrwlock": LockKind.RWLOCK,
}

#: Kernel functions a task waiting for a lock sits in: name -> (kind, mode). The mode is
#: "read" or "write" for rw locks, None where the function does not say.
LOCK_FUNCTIONS: dict[str, tuple[LockKind, str | None]] = {
    **{name: (LockKind.MUTEX, None) for name in (
        "__mutex_lock", "__mutex_lock_common", "__mutex_lock_slowpath", "mutex_lock",
        "__mutex_lock_interruptible_slowpath", "__mutex_lock_killable_slowpath",
        "mutex_lock_interruptible", "mutex_lock_killable", "mutex_lock_io",
        "__ww_mutex_lock", "__ww_mutex_lock_slowpath", "mutex_lock_nested")},
    **{name: (LockKind.RWSEM, "read") for name in (
        "rwsem_down_read_slowpath", "down_read", "down_read_killable",
        "down_read_interruptible", "__down_read", "__down_read_common",
        "__down_read_killable", "__down_read_interruptible")},
    **{name: (LockKind.RWSEM, "write") for name in (
        "rwsem_down_write_slowpath", "down_write", "down_write_killable", "__down_write",
        "__down_write_common", "__down_write_killable")},
    **{name: (LockKind.SEMAPHORE, None) for name in (
        "__down", "__down_common", "__down_interruptible", "__down_killable",
        "__down_timeout", "down", "down_interruptible", "down_killable", "down_timeout")},
    **{name: (LockKind.SPINLOCK, None) for name in (
        "native_queued_spin_lock_slowpath", "queued_spin_lock_slowpath",
        "__pv_queued_spin_lock_slowpath", "do_raw_spin_lock", "_raw_spin_lock",
        "_raw_spin_lock_irq", "_raw_spin_lock_irqsave", "_raw_spin_lock_bh")},
    "queued_read_lock_slowpath": (LockKind.RWLOCK, "read"),
    "queued_write_lock_slowpath": (LockKind.RWLOCK, "write"),
}
#: The names the lock functions give their lock argument.
LOCK_VARIABLES = ("lock", "sem")

#: rw_semaphore count bits (since 5.3): a writer holds it; readers are counted from bit 8
RWSEM_WRITER_LOCKED = 1
RWSEM_READER_SHIFT = 8
#: qspinlock: the locked byte, the pending byte, and the tail (CPU + 1 from bit 18)
Q_LOCKED_MASK = 0xFF
Q_PENDING_MASK = 0xFF00
Q_TAIL_CPU_SHIFT = 18
Q_TAIL_IDX_SHIFT = 16
#: qrwlock: the writer byte, the waiting-writer bit, readers counted from bit 9
QW_LOCKED = 0xFF
QW_WAITING = 0x100
QR_SHIFT = 9


def kind_of_type(type_: Type) -> LockKind | None:
    """Return the lock kind of a C type (seen through typedefs), or None."""
    t: Type | None = type_
    while t is not None:
        name = t.type_name()
        if name in TYPE_NAMES:
            return TYPE_NAMES[name]
        t = t.type if t.kind == TypeKind.TYPEDEF else None
    return None


@dataclass(frozen=True, slots=True)
class LockState:
    """A lock's state: held or not, its owner task (mutexes and write-held rwsems),
    its reader count (rw locks), the CPU queued last on a contended spinlock, and the
    ``struct task_struct *`` of each waiter, oldest first, with its mode (read/write)."""

    locked: bool
    owner: Object | None
    readers: int | None
    queued_cpu: int | None
    waiters: tuple[tuple[Object, str | None], ...]
    #: the lock's raw count or lock word
    value: int


def lock_object(prog: Program, address: int, kind: LockKind) -> Object:
    """Return the lock at ``address`` as an object of ``kind``'s C type."""
    names = {LockKind.SPINLOCK: "spinlock_t", LockKind.RWLOCK: "rwlock_t"}
    name = names.get(kind) or SLEEPING[kind][0]
    return Object(prog, name, address=address)


def state(lock: Object, kind: LockKind) -> LockState:
    """Return the :class:`LockState` of a lock object of ``kind``. Raises
    :class:`drgn.FaultError` when its memory is unreadable and :class:`ValueError`
    when its wait list is corrupt."""
    if kind == LockKind.MUTEX:
        return _mutex(lock)
    if kind == LockKind.RWSEM:
        return _rwsem(lock)
    if kind == LockKind.SEMAPHORE:
        return _semaphore(lock)
    if kind == LockKind.SPINLOCK:
        return _spinlock(lock)
    return _rwlock(lock)


def _waiters(lock: Object, kind: LockKind) -> list[Object]:
    """Return the waiter records on a sleeping lock's wait list, oldest first."""
    waiter_type = SLEEPING[kind][1]
    return list(list_entries(waiter_type, lock.wait_list.address_of_(), "list",
                             f"the wait list of {kind.value} {lock.address_:#x}",
                             limit=100_000))


def _mutex(lock: Object) -> LockState:
    from drgn.helpers.linux.locking import mutex_owner

    owner = mutex_owner(lock)
    waiters = tuple((w.task, None) for w in _waiters(lock, LockKind.MUTEX))
    value = lock.owner.counter.value_()
    return LockState(bool(owner), owner if owner else None, None, None, waiters, value)


def _rwsem(lock: Object) -> LockState:
    from drgn.helpers.linux.locking import rwsem_owner

    count = lock.count.counter.value_()
    waiters = []
    for w in _waiters(lock, LockKind.RWSEM):
        mode = "write" if "WRITE" in _enum_name(w.type) else "read"
        waiters.append((w.task, mode))
    writer = bool(count & RWSEM_WRITER_LOCKED)
    readers = count >> RWSEM_READER_SHIFT
    owner = rwsem_owner(lock) if writer else None
    return LockState(writer or readers > 0, owner if owner else None, readers, None,
                     tuple(waiters), count)


def _enum_name(value: Object) -> str:
    """Return the enumerator name of an enum object (its number when it has none)."""
    number = value.value_()
    for name, n in getattr(value.type_, "enumerators", None) or ():
        if n == number:
            return str(name)
    return str(number)


def _semaphore(lock: Object) -> LockState:
    count = lock.count.value_()
    waiters = tuple((w.task, None) for w in _waiters(lock, LockKind.SEMAPHORE))
    return LockState(count == 0, None, None, None, waiters, count)


def _lock_word(lock: Object, names: tuple[str, ...]) -> Object:
    """Return the innermost lock word of a spinlock or rwlock, through its wrappers
    (``spinlock_t.rlock.raw_lock.val.counter``...)."""
    for _ in range(4):
        for name in ("rlock", "raw_lock"):
            try:
                lock = getattr(lock, name)
                break
            except AttributeError:
                continue
        else:
            break
    for name in names:
        try:
            word = getattr(lock, name)
        except AttributeError:
            continue
        try:
            return word.counter
        except AttributeError:
            return word
    raise NotALock(f"no lock word ({' or '.join(names)}) in {lock.type_.type_name()}")


def _spinlock(lock: Object) -> LockState:
    value = _lock_word(lock, ("val",)).value_()
    tail_cpu = (value >> Q_TAIL_CPU_SHIFT) - 1
    return LockState(bool(value & Q_LOCKED_MASK), None, None,
                     tail_cpu if tail_cpu >= 0 else None, (), value)


def _rwlock(lock: Object) -> LockState:
    value = _lock_word(lock, ("cnts",)).value_()
    readers = value >> QR_SHIFT
    return LockState(bool(value & QW_LOCKED) or readers > 0, None, readers, None, (), value)


# -- telling a lock from anything else ---------------------------------------------------


def _offsets(prog: Program) -> dict[LockKind, tuple[int, int, int]]:
    """Return, for each sleeping kind, the offsets of the lock's ``wait_list`` and of the
    waiter record's ``list`` and ``task``."""

    def make() -> dict[LockKind, tuple[int, int, int]]:
        from drgn import offsetof

        out = {}
        for kind, (lock_type, waiter_type) in SLEEPING.items():
            try:
                out[kind] = (offsetof(prog.type(lock_type), "wait_list"),
                             offsetof(prog.type(waiter_type), "list"),
                             offsetof(prog.type(waiter_type), "task"))
            except LookupError:
                continue
        return out

    return per_program(prog, "lock_offsets", make)


def _word(prog: Program, addr: int) -> int:
    return int.from_bytes(prog.read(addr, 8), "little")


def _is_list_head(prog: Program, addr: int) -> bool:
    """Tell whether ``addr`` holds a consistent ``struct list_head`` (empty or linked)."""
    try:
        nxt, prev = _word(prog, addr), _word(prog, addr + 8)
        if nxt == addr and prev == addr:
            return True
        return _word(prog, nxt + 8) == addr and _word(prog, prev) == addr
    except FaultError:
        return False


def guess_kind(prog: Program, address: int, is_task: Callable[[int], bool]) -> LockKind:
    """Return the kind of sleeping lock at ``address`` when its memory reads as one:
    a consistent wait list at the kind's offset and, for a mutex, an owner that is
    no task or a task (``is_task(address) -> bool``). Raises :class:`NotALock`."""
    try:
        prog.read(address, 8)
    except FaultError as exc:
        raise NotALock(f"{address:#x} is not a readable address") from exc
    found = []
    for kind, (wait_list, list_off, task_off) in _offsets(prog).items():
        if not _is_list_head(prog, address + wait_list):
            continue
        if not _all_waiters(prog, address + wait_list, list_off, task_off, is_task):
            continue
        if kind == LockKind.MUTEX:
            owner = _word(prog, address) & ~0x7
            if owner and not is_task(owner):
                continue
        found.append(kind)
    if len(found) != 1:
        why = "no" if not found else "more than one"
        raise NotALock(f"{address:#x} is not a lock: {why} mutex, rw_semaphore or semaphore "
                       "layout fits its memory (give its kind with -t)")
    return found[0]


def _all_waiters(prog: Program, head: int, list_off: int, task_off: int,
                 is_task: Callable[[int], bool], limit: int = 10_000) -> bool:
    """Tell whether every entry of the list at ``head`` is a waiter record: an entry on
    the stack of the task it names."""
    node = _word(prog, head)
    for _ in range(limit):
        if node == head:
            return True
        try:
            task = _word(prog, node - list_off + task_off)
            if not is_task(task) or _waiter_task(prog, node, list_off, task_off) is None:
                return False
            node = _word(prog, node)
        except FaultError:
            return False
    return False


def _waiter_task(prog: Program, node: int, list_off: int, task_off: int) -> int | None:
    """Return the task of the waiter record whose list entry is at ``node`` (the record
    lies on that task's own stack), or None when the entry is no such record (a lock's
    wait list head). Raises :class:`drgn.FaultError` on unreadable memory."""
    task = _word(prog, node - list_off + task_off)
    if not task:
        return None
    stack = _word(prog, task + _stack_offset(prog))
    return task if stack <= node < stack + _thread_size(prog) else None


# -- which lock a task waits on ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Wait:
    """A task waiting for a lock: the ``struct task_struct *``, the lock's kind and
    address, the mode it waits in (read/write for rw locks), the lock function it sits in,
    and how the lock was found (``dwarf``: the function's variable; ``waiter``: the
    waiter record on the task's stack)."""

    task: Object
    kind: LockKind
    address: int
    mode: str | None
    function: str
    found_by: str


def waiting_on(prog: Program, task: Object) -> Wait | None:
    """Return the lock ``task`` waits on, from its stack, or None when it is in no lock
    function."""
    try:
        trace = prog.stack_trace(task)
        frames = [(f.name, f) for f in trace]
    except (ValueError, LookupError, FaultError):
        return None
    first: tuple[str, LockKind, str | None] | None = None
    for name, frame in frames:
        if name not in LOCK_FUNCTIONS:
            continue
        kind, mode = LOCK_FUNCTIONS[name]
        first = first or (name, kind, mode)
        for var in LOCK_VARIABLES:
            try:
                value = frame[var]
            except (KeyError, LookupError, ValueError):
                continue
            if value.absent_ or value.type_.kind != TypeKind.POINTER:
                continue
            try:
                address = value.value_()
            except FaultError:
                continue
            if address:
                return Wait(task, kind, address, mode or first[2], first[0], "dwarf")
    if first is None:
        return None
    name, kind, mode = first
    if kind in SLEEPING:
        address = _from_waiter_record(prog, task, kind)
        if address is not None:
            return Wait(task, kind, address, mode, name, "waiter")
    return None


def _from_waiter_record(prog: Program, task: Object, kind: LockKind) -> int | None:
    """Return the address of the lock whose wait list holds ``task``'s waiter record,
    found on its stack: a list entry followed by the task pointer, linked both ways,
    whose list reaches one entry that is no waiter (the lock's ``wait_list``)."""
    offsets = _offsets(prog).get(kind)
    if offsets is None:
        return None
    wait_list, list_off, task_off = offsets
    base, top = stack_bounds(task)
    try:
        data = prog.read(base, top - base)
    except FaultError:
        return None
    me = task.value_()
    words = struct.unpack(f"<{len(data) // 8}Q", data)
    for i, word in enumerate(words):
        if word != me:
            continue
        entry = base + i * 8 - task_off + list_off
        if entry < base or not _is_list_head(prog, entry):
            continue
        head = _wait_list_head(prog, entry, list_off, task_off)
        if head is not None:
            return head - wait_list
    return None


def _wait_list_head(prog: Program, entry: int, list_off: int, task_off: int,
                    limit: int = 10_000) -> int | None:
    """Return the one entry of the list through ``entry`` that is not a waiter record on
    its task's stack (the lock's wait list), or None."""
    heads = []
    node = entry
    for _ in range(limit):
        try:
            if _waiter_task(prog, node, list_off, task_off) is None:
                heads.append(node)
            node = _word(prog, node)
        except FaultError:
            return None
        if node == entry:
            return heads[0] if len(heads) == 1 else None
    return None


def _stack_offset(prog: Program) -> int:
    from drgn import offsetof

    return per_program(prog, "task_stack_offset",
                       lambda: offsetof(prog.type("struct task_struct"), "stack"))


def _thread_size(prog: Program) -> int:
    from pycrash.kernel.stackmem import thread_size

    return thread_size(prog)
