"""sig: a task's signal handling: handlers, blocked and pending signals."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass, field

from drgn import Object
from drgn.helpers.linux.signal import decode_sigaction_flags, sigpending_for_each

from pycrash.cmdlib.render import per_task
from pycrash.cmdlib.select import select_tasks
from pycrash.command import Result, arg, command
from pycrash.kernel.tasks import TaskId, task_id
from pycrash.records import Hex
from pycrash.session import Session

#: sa_handler values that are not functions.
SPECIAL_HANDLERS = {0: "SIG_DFL", 1: "SIG_IGN"}


@dataclass(frozen=True)
class SigAction:
    """One signal's action: the k_sigaction address, sa_handler (0 SIG_DFL, 1 SIG_IGN, else
    the handler's user address), sa_mask, sa_flags and the flags' SA_ names."""

    signo: int
    address: Hex
    handler: Hex
    mask: Hex
    flags: Hex
    flag_names: list[str]


@dataclass
class TaskSignals:
    """A task's signal state: its signal_struct, thread count, each signal's action,
    TIF_SIGPENDING, the blocked set, and the private and shared pending sets and queues."""

    task: TaskId
    signal_struct: Hex
    nr_threads: int
    actions: list[SigAction] = field(default_factory=list)
    sigpending: bool = False
    blocked: Hex = 0
    private_pending: Hex = 0
    private_queue: list[int] = field(default_factory=list)
    shared_pending: Hex = 0
    shared_queue: list[int] = field(default_factory=list)
    error: str | None = None


def _sigset(obj: Object) -> int:
    return sum(obj.sig[i].value_() << (64 * i) for i in range(len(obj.sig)))


def task_signals(task: Object) -> TaskSignals:
    """Return the :class:`TaskSignals` of a ``struct task_struct *``."""
    sig = task.signal
    out = TaskSignals(task_id(task), sig.value_(), sig.nr_threads.value_())
    hand = task.sighand
    for i in range(len(hand.action)):
        act = hand.action[i]
        flags = act.sa.sa_flags.value_()
        names = decode_sigaction_flags(act.sa).split("|") if flags else []
        out.actions.append(SigAction(i + 1, act.address_of_().value_(),
                                     act.sa.sa_handler.value_(), _sigset(act.sa.sa_mask), flags,
                                     names))
    out.sigpending = bool(task.thread_info.flags.value_() & (1 << 2))  # TIF_SIGPENDING
    out.blocked = _sigset(task.blocked)
    out.private_pending = _sigset(task.pending.signal)
    out.private_queue = [q.info.si_signo.value_() for q in sigpending_for_each(
        task.pending.address_of_())]
    out.shared_pending = _sigset(sig.shared_pending.signal)
    out.shared_queue = [q.info.si_signo.value_() for q in sigpending_for_each(
        sig.shared_pending.address_of_())]
    return out


def _body(ts: TaskSignals) -> Iterable[str]:
    yield f"SIGNAL_STRUCT: {ts.signal_struct:x}  NR_THREADS: {ts.nr_threads}"
    yield " SIG    SIGACTION        HANDLER       MASK       FLAGS"
    for a in ts.actions:
        handler = SPECIAL_HANDLERS.get(a.handler, f"{a.handler:x}")
        names = f" ({'|'.join(a.flag_names)})" if a.flag_names else ""
        yield f"{'[' + str(a.signo) + ']':>4} {a.address:016x} {handler:>10} " \
              f"{a.mask:016x} {a.flags:x}{names}"
    yield f"SIGPENDING: {'yes' if ts.sigpending else 'no'}"
    yield f"   BLOCKED: {ts.blocked:016x}"
    for label, pending, queue in (("PRIVATE_PENDING", ts.private_pending, ts.private_queue),
                                  ("SHARED_PENDING", ts.shared_pending, ts.shared_queue)):
        yield label
        yield f"    SIGNAL: {pending:016x}"
        yield "  SIGQUEUE: " + (" ".join(str(s) for s in queue) if queue else "(empty)")


def render(result: Result) -> Iterable[str]:
    """crash's sig output: per task, its signal_struct, actions and pending signals."""
    return per_task(result.rows, _body)


@command(
    "sig",
    summary="task signal handling",
    synopsis="sig [pid | task] ...",
    description="""
Shows a task's signal_struct, the action of each signal (handler, mask and
flags), whether a signal is pending, the blocked set, and the private and
shared pending sets and queues.
""",
    examples="""
crash> sig 1
""",
    records=(TaskSignals, SigAction),
    arguments=(arg("specs", nargs="*", metavar="pid|task"),),
)
def sig(session: Session, args: argparse.Namespace) -> Result:
    """Return a :class:`TaskSignals` per task."""
    sel = select_tasks(session, args.specs)
    return Result([task_signals(t) for t in sel.tasks], render=render, errors=sel.errors)
