"""lock: kernel locks, their owners and waiters, and the wait-for chains between tasks."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from drgn import FaultError, Object, Program, TypeKind

from pycrash.cmdlib.render import days_clock
from pycrash.cmdlib.resolve import resolve_address, symbol_name
from pycrash.command import Result, arg, command
from pycrash.errors import CommandError
from pycrash.kernel import locks as L
from pycrash.kernel.schedtime import blocked_ns
from pycrash.kernel.tasks import TaskId, task_id, task_state
from pycrash.kernel.waitfor import ChainEnd, chains, first_outside_scheduler
from pycrash.records import Hex, OptHex
from pycrash.session import Session


@dataclass(frozen=True)
class LockTask:
    """A task at a lock, holding or waiting: crash's two-letter state, whether it was
    running on its CPU, the nanoseconds since it left its CPU (None when running), the
    mode it waits in (``read``/``write`` on rw locks), and the first function on its
    stack outside the scheduler (where it sleeps or runs) with that function's module."""

    task: TaskId
    state: str
    running: bool
    blocked_ns: int | None
    mode: str | None
    where: str | None
    module: str | None


@dataclass(frozen=True)
class Lock:
    """A lock: its address and kind, the symbol it is (or lies in), whether it is held,
    its lock word or count, its owner where the kernel records one, its readers (rw
    locks), the CPU queued last on a contended spinlock, and its waiters, oldest first."""

    address: Hex
    kind: L.LockKind
    #: how the kind was told: "type" (debuginfo), "waiters" (a task waits on it as one),
    #: "option" (-t), "layout" (guessed from its memory)
    kind_from: str
    symbol: str | None
    locked: bool
    value: Hex
    owner: LockTask | None
    readers: int | None
    queued_cpu: int | None
    waiters: tuple[LockTask, ...]


@dataclass(frozen=True)
class ChainStep:
    """One task of a wait-for chain and the lock it waits on (None for the last task of
    a chain that ends at a task waiting on no lock)."""

    task: TaskId
    lock: OptHex
    kind: L.LockKind | None
    symbol: str | None


@dataclass(frozen=True)
class WaitChain:
    """A wait-for chain: each task waits on its lock, held by the next task. ``end``
    says how it ends; ``last`` is the task it ends at (FREE: running or sleeping on
    something else); ``cycle`` lists the tasks of the deadlock when it ends in one."""

    steps: tuple[ChainStep, ...]
    end: ChainEnd
    last: LockTask | None
    cycle: tuple[TaskId, ...]


@dataclass(frozen=True)
class LockGraph:
    """Every lock a task was blocked on at the crash, and the wait-for chains through
    them; ``deadlocks`` counts the cycles."""

    locks: tuple[Lock, ...]
    chains: tuple[WaitChain, ...]
    deadlocks: int


@dataclass(frozen=True)
class LockView:
    """Whether lock shows only the wait-for chains (-c)."""

    chains_only: bool


def _task_line(label: str, t: LockTask) -> str:
    """Return one task's line under a lock."""
    h = t.task
    line = f"  {label:<7} PID: {h.pid:<7} TASK: {h.task:x}  CPU: {h.cpu:<3} " \
           f'COMMAND: "{h.comm}"  [{t.state}]'
    if t.mode:
        line += f" {t.mode}"
    if t.running:
        line += f" running on CPU {h.cpu}"
    elif t.blocked_ns is not None:
        line += f" [{days_clock(t.blocked_ns)}]"
    if t.where:
        line += f" in {t.where}" + (f" [{t.module}]" if t.module else "")
    return line


def _lock_lines(lock: Lock) -> Iterator[str]:
    """Yield a lock's block: its header, owner and waiters."""
    what = "locked" if lock.locked else "unlocked"
    if lock.kind == L.LockKind.RWSEM and lock.locked:
        what = "write-locked" if lock.owner is not None else \
            f"read-locked, {lock.readers} reader{'s' if lock.readers != 1 else ''}"
    if lock.queued_cpu is not None:
        what += f", CPU {lock.queued_cpu} queued last"
    name = f"  {lock.symbol}" if lock.symbol else ""
    guess = "; kind guessed from its memory" if lock.kind_from == "layout" else ""
    yield (f"{lock.kind.value.upper()}: {lock.address:x}{name}  "
           f"({what}, value {lock.value:#x}{guess})")
    if lock.owner is not None:
        yield _task_line("OWNER:", lock.owner)
    elif lock.locked and lock.kind in (L.LockKind.MUTEX, L.LockKind.RWSEM):
        yield "  OWNER:  (none recorded)"
    for w in lock.waiters:
        yield _task_line("WAITER:", w)


def _name(step: ChainStep) -> str:
    return f"{step.task.comm} ({step.task.pid})"


def _chain_line(chain: WaitChain) -> str:
    """Return a wait-for chain as one line of ``task -> lock -> task`` steps."""
    parts = []
    for step in chain.steps:
        parts.append(_name(step))
        if step.lock is not None:
            assert step.kind is not None
            parts.append(f"{step.kind.value} {step.symbol or f'{step.lock:x}'}")
    if chain.end == ChainEnd.CYCLE:
        first = chain.cycle[0]
        return "DEADLOCK: " + " -> ".join([*parts, f"{first.comm} ({first.pid})"])
    text = "  " + " -> ".join(parts)
    if chain.end == ChainEnd.NO_OWNER:
        return text + " -> (no owner recorded)"
    last = chain.last
    if last is not None:
        if last.running:
            text += f": running on CPU {last.task.cpu}"
        else:
            text += f": [{last.state}]"
        if last.where:
            text += f" in {last.where}" + (f" [{last.module}]" if last.module else "")
    return text


def render(result: Result) -> Iterable[str]:
    """crash-style text: each lock's block, then the wait-for chains and deadlocks."""
    for row in result.rows:
        if isinstance(row, Lock):
            yield from _lock_lines(row)
            continue
        if not row.locks:
            yield "no task is blocked on a lock"
            continue
        if not result.view.chains_only:
            for i, lock in enumerate(row.locks):
                if i:
                    yield ""
                yield from _lock_lines(lock)
            yield ""
        yield "WAIT-FOR CHAINS:"
        for chain in row.chains:
            yield _chain_line(chain)


@command(
    "lock",
    summary="lock owners, waiters and wait-for chains",
    synopsis="lock [-c] | [-t kind] [address | symbol | expression] ...",
    description="""
With no argument, finds every task blocked on a lock, from its stack (the lock
function's own variable where the kernel's debuginfo has it, else the task's
waiter record on its stack), and shows each lock: its kind, its state, the task
that owns it where the kernel records one (a mutex's owner, a rw_semaphore's
writer), and its waiters, oldest first, with how long each has been off its
CPU [days hh:mm:ss.ms] and the function it sleeps in. Then the wait-for chains:
each blocked task, the lock it waits on, the lock's owner, what that owner
waits on, and so on to a task that runs, sleeps on something else, a lock that
records no owner, or a cycle, reported as a DEADLOCK with every task and lock
in it.

Given locks (a hexadecimal address, a symbol, or an expression such as
&inode->i_rwsem), shows each one's kind, state, owner and waiters. The kind
comes from the symbol's or expression's type, from the tasks waiting on it, or
from the memory's layout; -t names it for a bare address.

  -c        show only the wait-for chains.
  -t kind   the kind of the lock at a bare address: mutex, rw_semaphore (rwsem),
            semaphore, spinlock, rwlock.
""",
    examples="crash> lock\ncrash> lock -c\ncrash> lock pcfix_mutex\n"
             "crash> lock -t mutex ffff8881003a5e40",
    arguments=(
        arg("-c", dest="chains_only", action="store_true", help="only the chains"),
        arg("-t", dest="kind", help="the lock's kind"),
        arg("locks", nargs="*"),
    ),
    records=(LockGraph, Lock, LockTask, WaitChain, ChainStep),
)
def lock(session: Session, args: argparse.Namespace) -> Result:
    """Return a :class:`LockGraph` (no argument) or a :class:`Lock` per argument."""
    prog = session.prog
    waits = _blocked(session)
    view = LockView(args.chains_only)
    if not args.locks:
        return Result([_graph(session, waits)], render=render, view=view)
    kind = _kind_option(args.kind)
    rows: list[Lock] = []
    for spec in args.locks:
        address, found_kind, source = _resolve(prog, spec, kind, waits)
        try:
            rows.append(_lock(session, address, found_kind, source, waits))
        except (FaultError, ValueError) as exc:
            raise CommandError(f"{spec}: cannot read the {found_kind.value}: {exc}") from None
    return Result(rows, render=render, view=view)


KIND_NAMES = {k.value: k for k in L.LockKind} | {"rwsem": L.LockKind.RWSEM,
                                                  "spin": L.LockKind.SPINLOCK}


def _kind_option(text: str | None) -> L.LockKind | None:
    if text is None:
        return None
    try:
        return KIND_NAMES[text]
    except KeyError:
        raise CommandError(f"unknown lock kind: {text} (mutex, rw_semaphore, semaphore, "
                           "spinlock, rwlock)") from None


def _resolve(prog: Program, spec: str, kind: L.LockKind | None,
             waits: dict[int, L.Wait]) -> tuple[int, L.LockKind, str]:
    """Return the address and kind of a lock argument, and how the kind was told. Raises
    :class:`CommandError` when it names nothing, or not a lock."""
    obj = _typed(prog, spec)
    if obj is not None:
        t = obj.type_.unqualified()
        if t.kind == TypeKind.POINTER:
            address, typed = obj.value_(), L.kind_of_type(t.type)
        else:
            address, typed = obj.address_, L.kind_of_type(obj.type_)
        if typed is None:
            raise CommandError(f"{spec} is not a lock: its type is {obj.type_.type_name()}")
        if address is None:
            raise CommandError(f"{spec} is not a lock in memory")
        return address, typed, "type"
    address = resolve_address(prog, spec, "lock address")
    if kind is not None:
        return address, kind, "option"
    waited = [w.kind for w in waits.values() if w.address == address]
    if waited:
        return address, waited[0], "waiters"
    try:
        return address, L.guess_kind(prog, address, _is_task_checker(prog)), "layout"
    except L.NotALock as exc:
        raise CommandError(str(exc)) from None


def _typed(prog: Program, spec: str) -> Object | None:
    """Return the object a symbol or expression names when its type is known, else None
    (a hex address, or a symbol without debuginfo)."""
    from pycrash.cmdlib.resolve import parse_hex
    from pycrash.kernel.expr import evaluate

    try:
        parse_hex(spec)
        return None
    except CommandError:
        pass
    try:
        obj, _name = evaluate(prog, spec)
    except (CommandError, LookupError, ValueError, SyntaxError):
        return None
    if obj.type_.kind == TypeKind.VOID or obj.type_.type_name() == "void *":
        return None  # a symbol without a type: an address
    return obj


def _is_task_checker(prog: Program) -> Callable[[int], bool]:
    """Return ``address -> bool``: is it a task's ``struct task_struct``."""
    from pycrash.kernel.tasks import all_tasks

    known: set[int] | None = None

    def check(address: int) -> bool:
        nonlocal known
        if known is None:
            known = {t.value_() for t in all_tasks(prog)}
        return address in known

    return check


def _blocked(session: Session) -> dict[int, L.Wait]:
    """Return ``{task address: Wait}`` of every task waiting on a lock."""
    out: dict[int, L.Wait] = {}
    for task in session.tasks():
        if task.pid.value_() == 0:
            continue
        try:
            frames = session.frames(task)
        except (ValueError, LookupError, FaultError):
            continue
        if not any(f.function.split(".")[0] in L.LOCK_FUNCTIONS for f in frames):
            continue
        wait = L.waiting_on(session.prog, task)
        if wait is not None:
            out[task.value_()] = wait
    return out


def _lock_task(session: Session, task: Object, mode: str | None) -> LockTask:
    """Return the :class:`LockTask` of a task at a lock."""
    running = task.value_() in session.active_tasks()
    where = module = None
    try:
        frame = first_outside_scheduler(session.prog, session.frames(task))
    except (ValueError, LookupError, FaultError):
        frame = None
    if frame is not None:
        where, module = frame.function, frame.module
    return LockTask(task_id(task), task_state(task), running,
                    None if running else blocked_ns(session.prog, task), mode, where,
                    module)


def _lock(session: Session, address: int, kind: L.LockKind, kind_from: str,
          waits: dict[int, L.Wait]) -> Lock:
    """Return the :class:`Lock` at ``address``: its state, owner and waiters (those on
    its wait list, then tasks found spinning on it)."""
    prog = session.prog
    st = L.state(L.lock_object(prog, address, kind), kind)
    owner = _lock_task(session, st.owner, None) if st.owner is not None else None
    listed = [_lock_task(session, t, mode) for t, mode in st.waiters]
    on_list = {w.task.task for w in listed}
    spinning = [_lock_task(session, w.task, w.mode) for w in waits.values()
                if w.address == address and w.task.value_() not in on_list]
    value = st.value & (1 << 64) - 1
    return Lock(address, kind, kind_from, symbol_name(prog, address), st.locked, value,
                owner, st.readers, st.queued_cpu,
                tuple(listed + spinning))


def _graph(session: Session, waits: dict[int, L.Wait]) -> LockGraph:
    """Return the :class:`LockGraph` of the blocked tasks."""
    prog = session.prog
    by_lock: dict[int, L.Wait] = {}
    for w in waits.values():
        by_lock.setdefault(w.address, w)
    found: list[Lock] = []
    for address, w in sorted(by_lock.items()):
        try:
            found.append(_lock(session, address, w.kind, "waiters", waits))
        except (FaultError, ValueError):
            continue
    # holders first: locks whose owner waits on nothing come first, then by address
    owners = {lk.address: (lk.owner.task.task if lk.owner else None) for lk in found}
    graph = chains({t: w.address for t, w in waits.items()}, owners)
    locks = {lk.address: lk for lk in found}
    known = {t.value_(): t for t in session.tasks()}

    def task_at(address: int) -> Object:
        return known.get(address) or Object(prog, "struct task_struct *", value=address)

    out = []
    for chain in graph:
        steps = []
        for i, t in enumerate(chain.tasks):
            lock_addr = chain.locks[i] if i < len(chain.locks) else None
            lk = locks.get(lock_addr) if lock_addr is not None else None
            steps.append(ChainStep(task_id(task_at(t)), lock_addr,
                                   lk.kind if lk else (waits[t].kind if lock_addr else None),
                                   lk.symbol if lk else None))
        last = None
        if chain.end == ChainEnd.FREE:
            last = _lock_task(session, task_at(chain.tasks[-1]), None)
        cycle = tuple(task_id(task_at(t)) for t in chain.cycle())
        out.append(WaitChain(tuple(steps), chain.end, last, cycle))
    out.sort(key=lambda c: c.steps[0].task.pid)
    deadlocks = sum(1 for c in out if c.end == ChainEnd.CYCLE)
    return LockGraph(tuple(found), tuple(out), deadlocks)
