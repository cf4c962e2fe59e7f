"""stacks: group tasks by identical kernel stack (a plugin, loaded by entry point).

Hundreds of tasks blocked in the same place show up as one line with a count,
which is how hangs are read quickly. Modelled on sdb's ``stacks``.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass

from drgn import FaultError

from pycrash.command import Result, arg, command
from pycrash.errors import CommandError
from pycrash.kernel.tasks import STATE_NAMES, comm, task_state
from pycrash.session import Session


@dataclass(frozen=True)
class StackGroup:
    """Tasks in one state whose kernel stacks pass through the same functions: how many,
    the state (crash's RU, UN...), the functions innermost first, and the tasks' pids and
    command names."""

    count: int
    state: str
    functions: tuple[str, ...]
    pids: tuple[int, ...]
    comms: tuple[str, ...]


def render(result: Result) -> Iterable[str]:
    """stacks' output: a line per group, then (up to eight of) its tasks."""
    yield f"{'COUNT':>6}  ST  STACK (innermost first)"
    for g in result.rows:
        yield f"{g.count:>6}  {g.state}  " + " <- ".join(g.functions or ("(no stack)",))
        shown = ", ".join(f"{p}:{c}" for p, c in list(zip(g.pids, g.comms, strict=True))[:8])
        more = f" (+{g.count - 8} more)" if g.count > 8 else ""
        yield f"          tasks: {shown}{more}"


@command(
    "stacks",
    summary="group tasks by identical kernel stack",
    synopsis="stacks [-t state] [-c function]",
    description="""
Unwinds every task and groups those whose kernel stacks pass through the
same functions, most common first. -t keeps tasks in one crash state (UN,
IN, RU, ID...); -c keeps stacks that contain a function.
""",
    examples="""
crash> stacks -t UN        (who is stuck in D state, grouped)
crash> stacks -c do_wait
""",
    arguments=(
        arg("-t", dest="state", help="only tasks in this state (RU, IN, UN, ID, ...)"),
        arg("-c", dest="function", help="only stacks that contain this function"),
    ),
    records=(StackGroup,),
)
def stacks(session: Session, args: argparse.Namespace) -> Result:
    """Return one :class:`StackGroup` per distinct (state, stack), largest first."""
    if args.state and args.state.upper() not in STATE_NAMES.values():
        raise CommandError(f"unknown state {args.state!r}")
    groups: dict[tuple[str, tuple[str, ...]], list[tuple[int, str]]] = {}
    for task in session.tasks():
        state = task_state(task)
        if args.state and state != args.state.upper():
            continue
        try:
            funcs = tuple(f.function for f in session.frames(task))
        except (ValueError, FaultError, LookupError):
            funcs = ()
        if args.function and args.function not in funcs:
            continue
        groups.setdefault((state, funcs), []).append((task.pid.value_(), comm(task)))
    rows = [
        StackGroup(len(members), state, funcs, tuple(p for p, _ in members),
                   tuple(c for _, c in members))
        for (state, funcs), members in groups.items()
    ]
    rows.sort(key=lambda g: (-g.count, g.state, g.functions))
    return Result(rows, render=render)
