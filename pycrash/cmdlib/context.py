"""crash's context block (``set``, ``foreach set``, ``kmem ADDRESS``): a task's pid, command,
task, CPU and state."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from drgn import Object

from pycrash.kernel.tasks import state_names, task_id
from pycrash.records import Hex
from pycrash.session import Session


@dataclass(frozen=True)
class Context:
    """A task as crash's context block shows it: its state as crash names its bits
    (``TASK_RUNNING``, ``TASK_UNINTERRUPTIBLE|TASK_NOLOAD``), whether it is the task that
    panicked and whether a CPU was running it, and how many tasks share its pid (the idle
    tasks)."""

    pid: int
    command: str
    task: Hex
    cpu: int
    state: str
    panic: bool = False
    active: bool = False
    tasks_of_pid: int = 1


def task_context(session: Session, task: Object) -> Context:
    """Return the :class:`Context` of a ``struct task_struct *``."""
    tid = task_id(task)
    panic = session.panic_task is not None and task.value_() == session.panic_task.value_()
    active = task.value_() in session.active_tasks()
    return Context(tid.pid, tid.comm, tid.task, tid.cpu, state_names(task), panic, active,
                   len(session.find_task(str(tid.pid))))


def context_lines(c: Context) -> Iterable[str]:
    """crash's show_context(): five lines; ``(1 of N)`` for a pid several tasks share,
    ``(PANIC)`` or ``(ACTIVE)`` after a running task's state."""
    yield f"    PID: {c.pid}"
    yield f'COMMAND: "{c.command}"'
    shared = f"(1 of {c.tasks_of_pid})  " if c.tasks_of_pid > 1 else ""
    yield f"   TASK: {c.task:x}  {shared}[THREAD_INFO: {c.task:x}]"
    yield f"    CPU: {c.cpu}"
    mark = "(PANIC)" if c.panic and c.active else "(ACTIVE)" if c.active else ""
    yield f"  STATE: {c.state} {mark}"
