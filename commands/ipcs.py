"""ipcs: System V IPC facilities: shared memory, semaphore arrays, message queues."""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from pycrash.command import Result, arg, command
from pycrash.errors import CommandError
from pycrash.kernel.ipc import (
    SHM_DEST,
    SHM_LOCKED,
    MsgQueue,
    SemArray,
    ShmSegment,
    ipc_namespace,
    msg_queues,
    sem_arrays,
    shm_segments,
)
from pycrash.session import Session

SHM_HEADER = "SHMID_KERNEL     KEY      SHMID      UID   PERMS BYTES      NATTCH STATUS"
SEM_HEADER = "SEM_ARRAY        KEY      SEMID      UID   PERMS NSEMS     "
MSG_HEADER = "MSG_QUEUE        KEY      MSQID      UID   PERMS USED-BYTES   MESSAGES    "


@dataclass(frozen=True)
class IpcMiss:
    """An id or address that names no IPC object of the facilities shown."""

    spec: str


@dataclass(frozen=True)
class IpcsView:
    """What ipcs shows: the facilities (``shm``, ``sem``, ``msg``), -M's detail, and
    whether ids or addresses were given (then only the objects they name)."""

    facilities: tuple[str, ...]
    verbose: bool
    lookup: bool


def shm_line(s: ShmSegment) -> str:
    dest = "dest" if s.mode & SHM_DEST else ""
    locked = "locked" if s.mode & SHM_LOCKED else ""
    return (f"{s.shmid_kernel:<16x} {s.key:08x} {s.shmid:<10} {s.uid:<5} {s.mode & 0o777:<5o} "
            f"{s.bytes:<10} {s.nattch:<6} {dest} {locked}")


def sem_line(s: SemArray) -> str:
    return (f"{s.sem_array:<16x} {s.key:08x} {s.semid:<10} {s.uid:<5} {s.mode & 0o777:<5o} "
            f"{s.nsems:<10}")


def msg_line(q: MsgQueue) -> str:
    return (f"{q.msg_queue:<16x} {q.key:08x} {q.msqid:<10} {q.uid:<5} {q.mode & 0o777:<5o} "
            f"{q.used_bytes:<12} {q.messages:<12}")


def _detail(s: ShmSegment) -> Iterator[str]:
    yield f"PAGES ALLOCATED/RESIDENT/SWAPPED: {s.pages}/{s.rss}/{s.swap}"
    yield f"INODE: {s.inode:x}"


def _one(row: ShmSegment | SemArray | MsgQueue, verbose: bool) -> Iterator[str]:
    """An object on its own: its header, its line (and -M's detail), a blank line."""
    if isinstance(row, ShmSegment):
        yield SHM_HEADER
        yield shm_line(row)
        if verbose:
            yield from _detail(row)
    elif isinstance(row, SemArray):
        yield SEM_HEADER
        yield sem_line(row)
    else:
        yield MSG_HEADER
        yield msg_line(row)
    yield ""


def render(result: Result) -> Iterable[str]:
    """crash's ipcs output: each facility's table, or each object asked for."""
    view: IpcsView = result.view
    if view.lookup:
        # crash writes a miss at once and the objects found through a temporary file
        # printed at the end: the misses come first
        for row in result.rows:
            if isinstance(row, IpcMiss):
                yield f"invalid id or address: {row.spec}"
                yield ""
        for row in result.rows:
            if not isinstance(row, IpcMiss):
                yield from _one(row, view.verbose)
        return
    for kind in view.facilities:
        if kind == "shm":
            rows = [r for r in result.rows if isinstance(r, ShmSegment)]
            if view.verbose:
                for r in rows:
                    yield from _one(r, True)
                if not rows:
                    yield from (SHM_HEADER, "(none allocated)", "")
                continue
            yield SHM_HEADER
            yield from map(shm_line, rows)
        elif kind == "sem":
            rows_sem = [r for r in result.rows if isinstance(r, SemArray)]
            yield SEM_HEADER
            yield from map(sem_line, rows_sem)
            rows = rows_sem  # type: ignore[assignment]
        else:
            rows_msg = [r for r in result.rows if isinstance(r, MsgQueue)]
            yield MSG_HEADER
            yield from map(msg_line, rows_msg)
            rows = rows_msg  # type: ignore[assignment]
        if not rows:
            yield "(none allocated)"
        yield ""


def _number(text: str) -> int:
    """crash's stol(): decimal when every character is a digit, else hexadecimal."""
    try:
        return int(text, 10) if text.isdigit() else int(text, 16)
    except ValueError:
        raise CommandError(f"invalid id or address: {text}") from None


@command(
    "ipcs",
    summary="System V IPC facilities",
    synopsis="ipcs [-smMq] [-n pid|task] [id | addr]",
    description="""
This command provides information on the System V IPC facilities.  With no
arguments, the command will display kernel usage of all three facilities.

     -s  show semaphore arrays.
     -m  show shared memory segments.
     -M  show shared memory segments with additional details.
     -q  show message queues.
     id  show the data associated with this resource ID.
   addr  show the data associated with this virtual address of a
         shmid_kernel, sem_array or msq_queue.

For kernels supporting namespaces, the -n option may be used to
display the IPC facilities with respect to the namespace of a
specified task:

-n pid   a process PID.
-n task  a hexadecimal task_struct pointer.
""",
    examples="""
Display all IPC facilities (a system with none):

  crash> ipcs
  SHMID_KERNEL     KEY      SHMID      UID   PERMS BYTES      NATTCH STATUS
  (none allocated)

  SEM_ARRAY        KEY      SEMID      UID   PERMS NSEMS
  (none allocated)

  MSG_QUEUE        KEY      MSQID      UID   PERMS USED-BYTES   MESSAGES
  (none allocated)

Display shared memory usage with detailed information:

  crash> ipcs -M
  SHMID_KERNEL     KEY      SHMID      UID   PERMS BYTES      NATTCH STATUS
  ffff880473a28310 00000000 0          0     666   90000      1
  PAGES ALLOCATED/RESIDENT/SWAPPED: 22/1/0
  INODE: ffff88047239cd98
""",
    arguments=(
        arg("-s", dest="sem", action="store_true"),
        arg("-m", dest="shm", action="store_true"),
        arg("-M", dest="shm_verbose", action="store_true"),
        arg("-q", dest="msg", action="store_true"),
        arg("-n", dest="task", metavar="pid|task"),
        arg("specs", nargs="*", metavar="id|addr"),
    ),
    records=(ShmSegment, SemArray, MsgQueue, IpcMiss),
)
def ipcs(session: Session, args: argparse.Namespace) -> Result:
    """Return the IPC objects of the namespace (init's, or -n's task's); with ids or
    addresses, the objects they name and an :class:`IpcMiss` for each that names none."""
    prog = session.prog
    values = [(spec, _number(spec)) for spec in args.specs]
    if args.task is not None:
        try:
            task = session.find_task(args.task)[0]
        except CommandError:
            raise CommandError(f"invalid task or pid value: {args.task}") from None
    else:
        task = session.find_task("0")[0]
    ns = ipc_namespace(task)
    shm = args.shm or args.shm_verbose
    facilities = tuple(k for k, on in (("shm", shm), ("sem", args.sem), ("msg", args.msg))
                       if on) or ("shm", "sem", "msg")
    found: dict[str, list[ShmSegment] | list[SemArray] | list[MsgQueue]] = {}
    if "shm" in facilities:
        found["shm"] = shm_segments(prog, ns)
    if "sem" in facilities:
        found["sem"] = sem_arrays(prog, ns)
    if "msg" in facilities:
        found["msg"] = msg_queues(prog, ns)
    view = IpcsView(facilities, args.shm_verbose, bool(values))
    rows: list[ShmSegment | SemArray | MsgQueue | IpcMiss] = []
    if not values:
        for kind in facilities:
            rows.extend(found[kind])
        return Result(rows, render=render, view=view)
    for spec, value in values:
        # the first object of each facility shown whose id or address it is
        hits = [next(r for r in found[kind] if value in _ids(r)) for kind in facilities
                if any(value in _ids(r) for r in found[kind])]
        rows.extend(hits if hits else [IpcMiss(spec)])
    return Result(rows, render=render, view=view)


def _ids(row: ShmSegment | SemArray | MsgQueue) -> tuple[int, int]:
    if isinstance(row, ShmSegment):
        return row.shmid, row.shmid_kernel
    if isinstance(row, SemArray):
        return row.semid, row.sem_array
    return row.msqid, row.msg_queue
