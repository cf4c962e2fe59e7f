"""files: the open files of a task, with its root and working directories."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass, field

from drgn import FaultError, Object
from drgn.helpers.linux.fs import d_path, for_each_file
from pycrash.commands.task import tasks_for

from pycrash.command import Result, arg, command
from pycrash.kernel.tasks import task_id
from pycrash.session import Session

_TYPES = {0o140000: "SOCK", 0o120000: "LNK", 0o100000: "REG", 0o060000: "BLK",
          0o040000: "DIR", 0o020000: "CHR", 0o010000: "FIFO"}


@dataclass(frozen=True)
class OpenFile:
    """One file descriptor: the struct file, its dentry and inode, type and path."""

    fd: int
    file: int
    dentry: int
    inode: int
    type: str
    path: str


@dataclass
class TaskFiles:
    """A task's root and working directory and its open files."""

    header: str
    pid: int
    root: str
    cwd: str
    files: list[OpenFile] = field(default_factory=list)


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
    out = TaskFiles(task_id(task).header(), task.pid.value_(), root,
                    cwd + ("/" if cwd and not cwd.endswith("/") else ""))
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


def _render(result: Result) -> Iterable[str]:
    for i, tf in enumerate(result.rows):
        if i:
            yield ""
        yield tf.header
        yield f"ROOT: {tf.root}    CWD: {tf.cwd}"
        if not tf.files:
            yield "No open files"
            continue
        yield " FD       FILE            DENTRY           INODE       TYPE PATH"
        for f in tf.files:
            yield f"{f.fd:>3} {f.file:016x} {f.dentry:016x} {f.inode:016x} {f.type:<4} {f.path}"


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
    arguments=(arg("specs", nargs="*", metavar="pid|task"),),
)
def files(session: Session, args: argparse.Namespace) -> Result:
    """Return a :class:`TaskFiles` per task."""
    tasks, errors = tasks_for(session, args.specs, "files")
    return Result([task_files(t) for t in tasks], render=_render, errors=errors)
