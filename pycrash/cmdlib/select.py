"""Choosing the tasks and CPUs a command works on, as crash's commands read their arguments.

One selector for every command: pids, task addresses, command names, ``'regex'``es,
crash's task states, ``kernel``/``user``/``active``, the context task when nothing is
named, ``-k``/``-u`` filters and CPU lists. Error messages carry no command name; the
interpreter prefixes it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from drgn.helpers.linux.cpumask import for_each_online_cpu, for_each_present_cpu

from pycrash.errors import CommandError
from pycrash.kernel.tasks import STATE_NAMES, comm, is_kernel_thread, task_state

if TYPE_CHECKING:
    from drgn import Object, Program

    from pycrash.session import Session

#: crash's task-state selector words (RU, IN, UN, ...).
STATES = frozenset(STATE_NAMES.values())
#: The selector words that name a class of tasks rather than one task.
CLASSES = ("kernel", "user", "active")


@dataclass
class Selection:
    """The tasks named by a command's arguments, in order and without repeats, and one
    message for each argument that named none."""

    tasks: list[Object] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def add(self, found: Iterable[Object], seen: set[int]) -> None:
        """Append the tasks of ``found`` not selected yet."""
        for t in found:
            if t.value_() not in seen:
                seen.add(t.value_())
                self.tasks.append(t)


def context_task(session: Session) -> Object:
    """Return the current context task; raise :class:`CommandError` when there is none."""
    if session.context is None:
        raise CommandError("no context task: give a pid or task")
    return session.context


def _regex(text: str) -> re.Pattern[str]:
    try:
        return re.compile(text)
    except re.error as exc:
        raise CommandError(f"bad regular expression {text!r}: {exc}") from None


def _of_class(session: Session, word: str) -> list[Object]:
    """Return the tasks of a class word (``kernel``, ``user``, ``active``) or a state (``UN``)."""
    active = session.active_tasks()
    return [t for t in session.tasks()
            if (word == "kernel" and is_kernel_thread(t))
            or (word == "user" and not is_kernel_thread(t))
            or (word == "active" and t.value_() in active)
            or (word in STATES and task_state(t) == word)]


def select_tasks(session: Session, specs: Sequence[str], *, default: str = "context",
                 classes: bool = False, regex: bool = False, strict: bool = False,
                 kernel: bool = False, user: bool = False) -> Selection:
    """Return the :class:`Selection` of tasks ``specs`` name.

    Each spec is a pid (all of its tasks), a task address, or a command name. With
    ``classes`` a spec may also be a state (RU, IN, ...) or ``kernel``/``user``/``active``;
    with ``regex`` one that names no task is a regular expression over command names
    (crash's ``'regex'``; the shell removed the quotes). No specs select the context
    task (``default="context"``, raising when there is none), every task (``"all"``),
    or nothing (``"none"``). A spec that names no task adds an error, or raises with
    ``strict``. ``kernel``/``user`` keep only kernel threads or user tasks (ps -k/-u).
    """
    if kernel and user:
        raise CommandError("-k and -u are mutually exclusive")
    sel = Selection()
    seen: set[int] = set()
    if not specs:
        if default == "context":
            sel.tasks.append(context_task(session))
        elif default == "all":
            sel.tasks.extend(session.tasks())
    for spec in specs:
        if classes and (spec in CLASSES or spec in STATES):
            sel.add(_of_class(session, spec), seen)
            continue
        try:
            sel.add(session.find_task(spec), seen)
        except CommandError as exc:
            found = [t for t in session.tasks() if _regex(spec).search(comm(t))] \
                if regex else []
            if found:
                sel.add(found, seen)
            elif strict:
                raise CommandError(f"no task matches {spec!r}" if regex else str(exc)) \
                    from None
            else:
                sel.errors.append(str(exc))
    if classes and specs:  # crash lists a foreach selection in task-list order
        order = {t.value_(): i for i, t in enumerate(session.tasks())}
        sel.tasks.sort(key=lambda t: order.get(t.value_(), len(order)))
    if kernel or user:
        sel.tasks = [t for t in sel.tasks if is_kernel_thread(t) == kernel]
    return sel


def parse_cpus(prog: Program, text: str) -> list[int]:
    """Return the CPUs of a crash CPU list (``1``, ``0,2``, ``0-3``); each must be one of
    :func:`dump_cpus`. Raises :class:`CommandError` otherwise.
    """
    cpus: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        try:
            cpus += list(range(int(lo), int(hi or lo) + 1))
        except ValueError:
            raise CommandError(f"invalid cpu list: {text}") from None
    known = set(dump_cpus(prog))
    bad = [c for c in cpus if c not in known]
    if bad:
        raise CommandError(f"invalid cpu: {bad[0]}")
    return cpus


def dump_cpus(prog: Program) -> list[int]:
    """Return the CPUs crash shows (``bt -a``, ``runq``, ``-c``), lowest first: every present
    CPU, online or not; a CPU that ``smp_send_stop()`` took offline at the panic still ran
    a task and holds a run queue."""
    try:
        cpus = set(for_each_present_cpu(prog))
    except (KeyError, LookupError):  # no __cpu_present_mask: the online ones
        cpus = set()
    return sorted(cpus | set(for_each_online_cpu(prog)))


def cpu_mask(prog: Program, text: str) -> list[int]:
    """Return the CPUs of a crash CPU mask as ``make_cpumask()`` reads it (ps -C): ``all``
    (or ``a``), numbers and ``lo-hi`` ranges separated by commas, each below the dump's CPU
    count (a reversed range is empty), lowest first. Raises :class:`CommandError`
    (``invalid cpu specification: TEXT``) otherwise."""
    ncpus = max(dump_cpus(prog), default=-1) + 1
    chosen: set[int] = set()
    for part in text.split(","):
        if part in ("a", "all"):
            lo, hi = 0, ncpus - 1
        else:
            first, _, last = part.partition("-")
            try:
                lo = int(first)
                hi = int(last) if last else lo
            except ValueError:
                lo = hi = -1
        if not (0 <= lo < ncpus and 0 <= hi < ncpus):
            raise CommandError(f"invalid cpu specification: {text}")
        chosen.update(range(lo, hi + 1))
    return sorted(chosen)


def cpu_spec(session: Session, text: str) -> list[int]:
    """Return the CPUs of crash's ``:cpuspec`` after a per-CPU symbol or offset: empty for
    the context task's CPU, ``a``/``all`` for every CPU, else a CPU list (``0,2``,
    ``1-3``). Raises :class:`CommandError` (``invalid cpu specification: TEXT``)."""
    if text == "":
        from drgn.helpers.linux.sched import task_cpu

        task = session.context
        if task is None:
            raise CommandError("no context task for the CPU specification")
        return [task_cpu(task)]
    return cpu_mask(session.prog, text)
