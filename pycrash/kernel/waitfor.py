"""The wait-for graph: a task waits on a lock, held by a task that waits on a lock...

Each chain is followed to its end: a task that waits on no lock (running, or sleeping
on something else), a lock that records no owner (a semaphore, a reader-held rwsem, a
spinlock), or a task already in the chain: a cycle, which is a deadlock.

The graph is over plain numbers (task and lock addresses), so it is computed the same
for any kernel and tested without a dump.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from drgn import Program


class ChainEnd(enum.Enum):
    """How a wait-for chain ends."""

    #: the last task waits on no lock: it runs, or sleeps on something else
    FREE = "free"
    #: the last lock records no owner task
    NO_OWNER = "no owner"
    #: the chain came back to a task already in it: a deadlock
    CYCLE = "deadlock"


@dataclass(frozen=True, slots=True)
class Chain:
    """One wait-for chain: ``tasks[i]`` waits on ``locks[i]``, which ``tasks[i + 1]``
    holds. With ``end`` FREE the last task waits on no lock; with NO_OWNER there is one
    lock more than tasks; with CYCLE the last task is ``tasks[cycle_start]`` again (it
    is not repeated) and ``tasks[cycle_start:]`` with their locks form the deadlock."""

    tasks: tuple[int, ...]
    locks: tuple[int, ...]
    end: ChainEnd
    cycle_start: int | None = None

    def cycle(self) -> tuple[int, ...]:
        """Return the tasks of the deadlock (empty when the chain ends otherwise)."""
        return self.tasks[self.cycle_start:] if self.cycle_start is not None else ()


def chains(waits: Mapping[int, int], owners: Mapping[int, int | None],
           limit: int = 10_000) -> list[Chain]:
    """Return the wait-for chains of ``waits`` (task -> the lock it waits on) and
    ``owners`` (lock -> its owner task, or None).

    A chain starts at each waiting task that holds no lock another task waits on (the
    far end of the waits), in task order; then one chain per cycle not yet reached, from
    its lowest task. Each cycle is reported once, in the first chain that reaches it.
    At most ``limit`` steps are taken per chain.
    """
    waited = set(waits.values())
    waited_owners = {o for lock, o in owners.items() if o is not None and lock in waited}
    starts = sorted(t for t in waits if t not in waited_owners)
    out: list[Chain] = []
    seen_cycles: set[frozenset[int]] = set()
    reached: set[int] = set()
    for start in starts:
        chain = _follow(start, waits, owners, limit)
        reached.update(chain.tasks)
        if chain.end == ChainEnd.CYCLE:
            seen_cycles.add(frozenset(chain.cycle()))
        out.append(chain)
    for task in sorted(waits):  # tasks left are on cycles no outside task waits into
        if task in reached:
            continue
        chain = _follow(task, waits, owners, limit)
        reached.update(chain.tasks)
        members = frozenset(chain.cycle())
        if members and members not in seen_cycles:
            seen_cycles.add(members)
            out.append(chain)
    return out


def _follow(start: int, waits: Mapping[int, int], owners: Mapping[int, int | None],
            limit: int) -> Chain:
    """Return the chain from ``start`` to its end."""
    tasks = [start]
    locks: list[int] = []
    index = {start: 0}
    cur = start
    for _ in range(limit):
        lock = waits.get(cur)
        if lock is None:
            return Chain(tuple(tasks), tuple(locks), ChainEnd.FREE)
        locks.append(lock)
        owner = owners.get(lock)
        if owner is None:
            return Chain(tuple(tasks), tuple(locks), ChainEnd.NO_OWNER)
        if owner in index:
            return Chain(tuple(tasks), tuple(locks), ChainEnd.CYCLE, index[owner])
        index[owner] = len(tasks)
        tasks.append(owner)
        cur = owner
    raise ValueError(f"the wait-for chain from task {start:#x} is longer than {limit}")


# -- where a task sleeps ------------------------------------------------------------


def _text_ranges(prog: Program) -> list[tuple[int, int]]:
    """Return the scheduler's and the spinlocks' text ranges (``.sched.text``,
    ``.lock.text``): the functions ``/proc/PID/stack`` and wchan leave out."""
    from pycrash.kernel.progcache import per_program

    def make() -> list[tuple[int, int]]:
        out = []
        for section in ("sched", "lock"):
            try:
                out.append((prog.symbol(f"__{section}_text_start").address,
                            prog.symbol(f"__{section}_text_end").address))
            except LookupError:
                continue
        return out

    return per_program(prog, "sched_text_ranges", make)


def first_outside_scheduler(prog: Program, frames: Iterable[Any]) -> Any | None:
    """Return the first frame (innermost first; objects with ``pc``) whose code is not
    the scheduler's or a spinlock's: the function that chose to sleep, the first line
    of the task's ``/proc/PID/stack``. None when every frame is."""
    ranges = _text_ranges(prog)
    for frame in frames:
        if not any(lo <= frame.pc < hi for lo, hi in ranges):
            return frame
    return None
