"""waitq: the tasks queued on a wait queue."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass

from drgn import FaultError, Object, Program

from pycrash.cmdlib.resolve import parse_hex
from pycrash.command import Result, arg, command
from pycrash.errors import CommandError
from pycrash.kernel.tasks import TaskId, task_id
from pycrash.kernel.walk import list_entries
from pycrash.records import Hex
from pycrash.session import Session


@dataclass(frozen=True)
class WaitQueue:
    """A ``wait_queue_head_t``: its address, the symbol it was named by (if any), and
    the task of each entry whose ``private`` is a task, in queue order."""

    address: Hex
    name: str | None
    tasks: tuple[TaskId, ...]


def render(result: Result) -> Iterable[str]:
    """crash's waitq output: a task header per waiting task, or that the queue is empty."""
    for q in result.rows:
        if not q.tasks:
            where = f'"{q.name}" ({q.address:x})' if q.name else f"{q.address:x}"
            yield f"wait queue {where} is empty"
        for t in q.tasks:
            yield t.header()


@command(
    "waitq",
    summary="list tasks queued on a wait queue",
    synopsis="waitq [ symbol ] | [ struct.member struct_addr ] | [ address ]",
    description="""
Walks a wait queue (a wait_queue_head_t) and shows the task header of each task
blocked on it, in queue order. The queue is given as:

                 symbol  a global symbol of a wait queue.
  struct.member address  a structure name and its wait queue member, followed by
                         the structure's hexadecimal address.
                address  a hexadecimal wait queue address.
""",
    examples="crash> waitq pcfix_wq\ncrash> waitq task_struct.signal ffff888003a5c000\n"
             "crash> waitq ffffffffc0425100",
    arguments=(arg("queue"), arg("address", nargs="?")),
    records=(WaitQueue,),
)
def waitq(session: Session, args: argparse.Namespace) -> Result:
    """Return the :class:`WaitQueue` named by the arguments."""
    prog = session.prog
    address, name = _queue_address(prog, args.queue, args.address)
    known = {t.value_() for t in session.tasks()}
    head = Object(prog, "wait_queue_head_t", address=address)
    tasks = []
    try:
        for entry in list_entries("wait_queue_entry_t", head.head.address_of_(), "entry",
                                  f"wait queue {address:x}", 100_000):
            private = entry.private.value_()
            if private in known:
                tasks.append(task_id(Object(prog, "struct task_struct *", value=private)))
    except FaultError as exc:
        raise CommandError(f"cannot read the wait queue at {exc.address:#x}") from None
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    return Result([WaitQueue(address, name, tuple(tasks))], render=render)


def _queue_address(prog: Program, spec: str, address: str | None) -> tuple[int, str | None]:
    """Return the wait queue's address and the symbol that named it."""
    if "." in spec:
        struct_name, member = spec.split(".", 1)
        if address is None:
            raise CommandError(f"must supply an address for {struct_name}")
        from drgn import offsetof

        try:
            offset = offsetof(prog.type(f"struct {struct_name}"), member)
        except LookupError:
            raise CommandError(f"{member} is not a member of {struct_name}") from None
        return parse_hex(address) + offset, None
    if address is not None:
        raise CommandError("only struct.member takes an address")
    try:
        return parse_hex(spec), None
    except CommandError:
        pass
    from pycrash.cmdlib.resolve import resolve_address

    return resolve_address(prog, spec, "symbol or address"), spec
