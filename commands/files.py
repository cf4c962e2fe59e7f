"""files: the open files of a task, with its root and working directories."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass, field

from drgn import FaultError, Object
from drgn.helpers.linux.fs import d_path, for_each_file

from pycrash.cmdlib.select import select_tasks
from pycrash.command import Result, arg, command
from pycrash.errors import CommandError
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
    mapping: Hex = 0  # the inode's i_mapping (files -c)
    nrpages: int = 0  # pages of it in the page cache


@dataclass(frozen=True)
class FilesView:
    """How files shows each descriptor: with -c its inode's mapping and cached pages; and
    where crash puts empty lines around each task's part: ``before`` (a task named by
    an argument after the first) and ``after`` (a task named by its pid), by row."""

    cache: bool = False
    before: tuple[bool, ...] = ()
    after: tuple[bool, ...] = ()


@dataclass(frozen=True)
class DentryInfo:
    """``files -d``: a dentry, its inode and super block, the file type and its path
    within its file system."""

    dentry: Hex
    inode: Hex
    superblock: Hex
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
        mapping = nrpages = 0
        if inode:
            try:
                mapping = inode.i_mapping.value_()
                nrpages = int(inode.i_mapping.nrpages.value_()) if mapping else 0
            except FaultError:
                pass
        out.files.append(OpenFile(fd, f.value_(), dentry.value_(), inode.value_(),
                                  _TYPES.get(mode & 0o170000, "UNKN"),
                                  _path(f.f_path.address_of_()), mapping, nrpages))
    return out


def _body(tf: TaskFiles, cache: bool = False) -> Iterable[str]:
    yield f"ROOT: {tf.root}    CWD: {tf.cwd}"
    if not tf.files:
        yield "No open files"
        return
    if cache:
        yield " FD      INODE          I_MAPPING     NRPAGES TYPE PATH"
        for f in tf.files:
            yield (f"{f.fd:>3} {f.inode:016x} {f.mapping:016x} {f.nrpages:>7} {f.type:<4} "
                   f"{f.path}")
        return
    yield " FD       FILE            DENTRY           INODE       TYPE PATH"
    for f in tf.files:
        yield f"{f.fd:>3} {f.file:016x} {f.dentry:016x} {f.inode:016x} {f.type:<4} {f.path}"


def _cache_body(tf: TaskFiles) -> Iterable[str]:
    return _body(tf, cache=True)


def render(result: Result) -> Iterable[str]:
    """crash's files output: per task, its root and cwd, then a line per open file (-c:
    its inode, mapping and cached pages)."""
    view = result.view if isinstance(result.view, FilesView) else FilesView()
    body = _cache_body if view.cache else _body
    for i, row in enumerate(result.rows):
        if i < len(view.before) and view.before[i]:
            yield ""
        yield row.task.header()
        yield from body(row)
        if i < len(view.after) and view.after[i]:
            yield ""


def render_dentries(result: Result) -> Iterable[str]:
    """crash's files -d: each dentry's inode, super block, type and path."""
    for row in result.rows:
        yield "     DENTRY           INODE           SUPERBLK     TYPE PATH"
        yield (f"{row.dentry:016x} {row.inode:016x} {row.superblock:016x} {row.type:<4} "
               f"{row.path}")


def dentry_info(session: Session, address: int) -> DentryInfo:
    """Return the :class:`DentryInfo` of a ``struct dentry`` address: its path through the
    last mount of its super block in init's namespace, as crash finds it (else within
    its own file system)."""
    from drgn.helpers.linux.fs import d_path, dentry_path

    from pycrash.kernel.iterators import mounts
    from pycrash.kernel.walk import WalkError

    prog = session.prog
    dentry = Object(prog, "struct dentry *", address)
    inode = dentry.d_inode
    mode = inode.i_mode.value_() if inode else 0
    sb = inode.i_sb.value_() if inode else dentry.d_sb.value_()
    mount = None
    try:
        for mnt in mounts(prog):
            if mnt.mnt.mnt_sb.value_() == sb:
                mount = mnt
    except (WalkError, FaultError):
        pass
    try:
        if mount is not None:
            path = d_path(mount.mnt.address_of_(), dentry).decode("utf-8", "replace")
        else:
            path = dentry_path(dentry).decode("utf-8", "replace")
            if not path.startswith("/"):
                path = "/" + path
    except (FaultError, ValueError):
        path = "?"
    return DentryInfo(address, inode.value_(), sb,
                      _TYPES.get(mode & 0o170000, "UNKN") if inode else "", path)


@command(
    "files",
    summary="open files",
    synopsis="files [-d dentry] | [-c] [pid | task] ...",
    description="""
Shows a task's root and current working directory, then each open file
descriptor: the struct file, dentry and inode addresses, the file's type
(REG, DIR, CHR, BLK, FIFO, SOCK, LNK) and its path.

  -d dentry  a dentry's inode, super block, file type and path (no task).
  -c         for each descriptor its inode, the inode's i_mapping and how many
             of its pages are in the page cache.
""",
    examples="""
crash> files pcfix-files
""",
    records=(TaskFiles, OpenFile, DentryInfo),
    arguments=(
        arg("-d", dest="dentry", metavar="dentry", help="a dentry's inode, sb, type and path"),
        arg("-c", dest="cache", action="store_true",
            help="each file's inode, mapping and page-cache pages"),
        arg("specs", nargs="*", metavar="pid|task"),
    ),
)
def files(session: Session, args: argparse.Namespace) -> Result:
    """Return a :class:`TaskFiles` per task (-d: a :class:`DentryInfo`)."""
    if args.dentry is not None:
        try:
            address = int(args.dentry, 16)
        except ValueError:
            raise CommandError(f"invalid dentry address: {args.dentry}") from None
        try:
            return Result([dentry_info(session, address)], render=render_dentries)
        except FaultError as exc:
            raise CommandError(f"invalid kernel virtual address: {exc.address:x}  "
                               "type: \"dentry\"") from None
    if not args.specs:
        sel = select_tasks(session, [])
        return Result([task_files(t) for t in sel.tasks], render=render, errors=sel.errors,
                      view=FilesView(args.cache))
    rows: list[TaskFiles] = []
    before: list[bool] = []
    after: list[bool] = []
    errors: list[str] = []
    for i, spec in enumerate(args.specs):  # crash: a pid's tasks each end with an empty
        sel = select_tasks(session, [spec])  # line, a later argument's start with one
        errors += sel.errors
        by_address = any(f"{t.value_():x}" == spec.lower().removeprefix("0x")
                         for t in sel.tasks)
        for t in sel.tasks:
            rows.append(task_files(t))
            before.append(i > 0)
            after.append(not by_address)
    return Result(rows, render=render, errors=errors,
                  view=FilesView(args.cache, tuple(before), tuple(after)))
