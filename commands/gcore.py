"""gcore: write an ELF core file of a user process from a dump that holds its pages."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass

from drgn import FaultError

from pycrash.cmdlib.select import select_tasks
from pycrash.command import Result, arg, command
from pycrash.errors import CommandError
from pycrash.kernel.coredump import user_pages_missing, write_core
from pycrash.kernel.tasks import TaskId, task_id
from pycrash.kernel.walk import WalkError
from pycrash.records import Hex
from pycrash.session import Session


@dataclass(frozen=True)
class CoreVma:
    """A VMA written as a PT_LOAD segment: its range, ELF flags, the pages the dump held
    (the rest are zeros), and its file, if any."""

    start: Hex
    end: Hex
    flags: int
    present_pages: int
    file: str | None


@dataclass(frozen=True)
class CoreFile:
    """A core file written: the process (its leader), the file, its size in bytes, the
    pids of the threads it holds (one NT_PRSTATUS each) and its segments."""

    task: TaskId
    file: str
    size: int
    threads: tuple[int, ...]
    vmas: tuple[CoreVma, ...]


def render(result: Result) -> Iterable[str]:
    """crash's gcore output: one line per core file saved."""
    for row in result.rows:
        yield f"Saved {row.file}"


@command(
    "gcore",
    summary="write an ELF core file of a user process",
    synopsis="gcore pid | taskp [FILE]",
    description="""
Writes the user process's memory and threads as an ELF core file that gdb
opens (FILE, by default core.PID in the current directory): a PT_LOAD segment
per VMA, its pages read through the process's page tables (pages the dump does
not hold are zeros), an NT_PRSTATUS (and NT_PRFPREG) note per thread from its
saved user registers, NT_PRPSINFO, NT_AUXV and NT_FILE. The dump must hold
user pages: a makedumpfile dump saved with a level that excludes them
(-d 8 and up, such as 31) is refused.
""",
    examples="crash> gcore 102\nSaved core.102\ncrash> gcore 102 /tmp/sleeper.core",
    arguments=(arg("spec", metavar="pid|taskp"),
               arg("file", nargs="?", metavar="FILE")),
    records=(CoreFile, CoreVma),
)
def gcore(session: Session, args: argparse.Namespace) -> Result:
    """Return the :class:`CoreFile` written."""
    kd = session.target.kdump
    why = user_pages_missing(session.prog, kd.header.dump_level if kd is not None else None)
    if why is not None:
        raise CommandError(why)
    sel = select_tasks(session, [args.spec], strict=True)
    task = sel.tasks[0].group_leader.read_()
    name = args.file or f"core.{task.pid.value_()}"
    try:
        with open(name, "wb") as out:
            core = write_core(task, out)
    except (ValueError, WalkError, FaultError) as exc:
        raise CommandError(str(exc)) from exc
    except OSError as exc:
        raise CommandError(f"cannot write {name}: {exc.strerror}") from exc
    vmas = tuple(CoreVma(s.start, s.end, s.flags, s.present, s.file) for s in core.segments)
    row = CoreFile(task_id(task), name, core.size, tuple(t.pid for t in core.threads), vmas)
    return Result([row], render=render)
