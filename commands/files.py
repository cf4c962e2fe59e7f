"""files: the open files of a task, with its root and working directories."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass, field

from drgn import FaultError, Object
from drgn.helpers.linux.fs import d_path, for_each_file

from pycrash.cmdlib.render import per_task
from pycrash.cmdlib.select import select_tasks
from pycrash.command import Result, arg, command
from pycrash.kernel.tasks import TaskId, task_id
from pycrash.records import Hex
from pycrash.session import Session

_TYPES = {0o140000: "SOCK", 0o120000: "LNK", 0o100000: "REG", 0o060000: "BLK",
          0o040000: "DIR", 0o020000: "CHR", 0o010000: "FIFO"}


@dataclass(frozen=True)
class OpenFile:
    """One file descriptor: the struct file, its dentry and inode, type and path."""

    fd: int
    file: Hex
    dentry: Hex
    inode: Hex
    type: str
    path: str


@dataclass
class TaskFiles:
    """A task's root and working directory and its open files."""

    task: TaskId
    root: str
    cwd: str
    files: list[OpenFile] = field(default_factory=list)
    error: str | None = None


def _path(obj: Object) -> str:
    try:
        return d_path(obj).decode("utf-8", "replace")
    except (FaultError, LookupError, ValueError):
        return "?"


def task_files(task: Object) -> TaskFiles:
    """Return the :class:`TaskFiles` of a ``struct task_struct *``."""
    fs = task.fs
    root = _path(fs.root.address_of_()) if fs else ""
    cwd = _path(fs.pwd.address_of_()) if fs else ""
    out = TaskFiles(task_id(task), root, cwd + ("/" if cwd and not cwd.endswith("/") else ""))
    if not task.files:
        return out
    for fd, f in for_each_file(task):
        dentry = f.f_path.dentry
        inode = f.f_inode
        mode = inode.i_mode.value_() if inode else 0
        out.files.append(OpenFile(fd, f.value_(), dentry.value_(), inode.value_(),
                                  _TYPES.get(mode & 0o170000, "UNKN"),
                                  _path(f.f_path.address_of_())))
    return out


def _body(tf: TaskFiles) -> Iterable[str]:
    yield f"ROOT: {tf.root}    CWD: {tf.cwd}"
    if not tf.files:
        yield "No open files"
        return
    yield " FD       FILE            DENTRY           INODE       TYPE PATH"
    for f in tf.files:
        yield f"{f.fd:>3} {f.file:016x} {f.dentry:016x} {f.inode:016x} {f.type:<4} {f.path}"


def render(result: Result) -> Iterable[str]:
    """crash's files output: per task, its root and cwd, then a line per open file."""
    return per_task(result.rows, _body)


@command(
    "files",
    summary="open files",
    synopsis="files [pid | task] ...",
    description="""
Shows a task's root and current working directory, then each open file
descriptor: the struct file, dentry and inode addresses, the file's type
(REG, DIR, CHR, BLK, FIFO, SOCK, LNK) and its path.
""",
    examples="""
crash> files pcfix-files
""",
    records=(TaskFiles, OpenFile),
    arguments=(arg("specs", nargs="*", metavar="pid|task"),),
)
def files(session: Session, args: argparse.Namespace) -> Result:
    """Return a :class:`TaskFiles` per task."""
    sel = select_tasks(session, args.specs)
    return Result([task_files(t) for t in sel.tasks], render=render, errors=sel.errors)
