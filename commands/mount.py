"""mount: the mounted filesystems."""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from drgn import FaultError, Object
from drgn.helpers.linux.fs import dentry_path, mount_dst, mount_fstype, mount_src

from pycrash.cmdlib.select import select_tasks
from pycrash.command import Result, arg, command
from pycrash.errors import CommandError
from pycrash.kernel.fsinfo import dirty_inodes, inode_type, open_files
from pycrash.kernel.iterators import mounts
from pycrash.kernel.walk import collect
from pycrash.records import Hex
from pycrash.session import Session


@dataclass(frozen=True)
class MountFile:
    """``mount -f``: a file open on a mount's super block: its dentry and inode, its type
    and its path within the file system."""

    dentry: Hex
    inode: Hex
    type: str
    path: str


@dataclass(frozen=True)
class Mount:
    """A mount: its struct mount and super_block, filesystem type, device name and mount
    point; with -f the files open on its super block, with -i its dirty inodes."""

    mount: Hex
    superblock: Hex
    type: str
    devname: str
    dirname: str
    files: list[MountFile] | None = None
    dirty: list[Hex] | None = None


HEADER = "     MOUNT           SUPERBLK     TYPE   DEVNAME   DIRNAME"


def mount_line(m: Mount) -> str:
    """crash's line of one mount: the type and device name columns lose the spaces a long
    type pushes past them (but one), the directory is padded to ten columns."""
    names = f"{m.type:<6} {m.devname:<9} "
    while len(names) > 17 and names[-2] == " ":
        names = names[:-1]
    return f"{m.mount:016x} {m.superblock:016x} {names}{m.dirname:<10}"


def _details(m: Mount) -> Iterator[str]:
    """crash's -f and -i sections of one mount (show_mounts())."""
    if m.files is not None:
        if not m.files:
            yield "   OPEN FILES   "
            yield "No open files found"
        else:
            yield "   OPEN FILES   "
            yield "     DENTRY           INODE       TYPE PATH"
            for f in m.files:
                yield f"{f.dentry:016x} {f.inode:016x} {f.type} {f.path}"
    if m.dirty is not None:
        yield "DIRTY INODES"
        if not m.dirty:
            yield "No dirty inodes found"
        yield from (f"{i:x}" for i in m.dirty)


def render(result: Result) -> Iterable[str]:
    """crash's mount output: a table of mounts; with -f or -i each mount under its own
    header, its open files or dirty inodes after it, and a blank line."""
    detailed = any(m.files is not None or m.dirty is not None for m in result.rows)
    if not detailed:
        yield HEADER
    for m in result.rows:
        if detailed:
            yield HEADER
        yield mount_line(m)
        if detailed:
            yield from _details(m)
            yield ""


def _files_by_sb(session: Session, errors: list[str]) -> dict[int, list[MountFile]]:
    """The files open in every task's descriptor table, by super block."""
    out: dict[int, list[MountFile]] = {}
    for f in open_files(session.tasks()):
        try:
            inode = f.f_inode
            if not inode:
                continue
            dentry = f.f_path.dentry
            path = dentry_path(dentry).decode("utf-8", "replace") if dentry else ""
            out.setdefault(inode.i_sb.value_(), []).append(
                MountFile(dentry.value_(), inode.value_(), inode_type(inode),
                          path.removeprefix("/")))
        except FaultError as exc:
            errors.append(f"cannot read the file at {f.value_():#x} "
                          f"(memory at {exc.address:#x})")
    return out


def _namespace(session: Session, spec: str) -> Object:
    """The mount namespace of a task named by pid or task address (mount -n)."""
    sel = select_tasks(session, [spec])
    if sel.errors or not sel.tasks:
        raise CommandError(sel.errors[0] if sel.errors else f"invalid task or pid: {spec}")
    task = sel.tasks[0]
    if not task.nsproxy:
        raise CommandError(f"task {task.value_():x} has no namespaces (it is exiting)")
    return task.nsproxy.mnt_ns


@command(
    "mount",
    summary="mounted filesystem data",
    synopsis="mount [-f] [-i] [-n pid|task]",
    description="""
Lists the mounts of the initial mount namespace, as /proc/mounts does.

-n pid|task lists those of the mount namespace of that task instead. -f shows,
under each mount, the files open on its file system (its dentry, inode, type and
path within the file system), found in every task's file descriptor table: crash
read the super block's s_files list, which Linux 3.13 removed. -i shows each file
system's dirty inodes: those of its s_inodes list whose i_state is I_DIRTY_SYNC,
I_DIRTY_DATASYNC or I_DIRTY_PAGES (crash read super_block.s_dirty, gone since
2.6.32).
""",
    examples="""
crash> mount
crash> mount -f
crash> mount -n 1
""",
    records=(Mount, MountFile),
    arguments=(
        arg("-f", dest="files", action="store_true",
            help="the open files of each file system"),
        arg("-i", dest="inodes", action="store_true",
            help="the dirty inodes of each file system"),
        arg("-n", dest="task", metavar="pid|task",
            help="the mounts of this task's mount namespace"),
    ),
)
def mount(session: Session, args: argparse.Namespace) -> Result:
    """Return a :class:`Mount` per mount (with -f its open files, -i its dirty inodes)."""
    ns = _namespace(session, args.task) if args.task else None
    rows = []
    errors: list[str] = []
    by_sb = _files_by_sb(session, errors) if args.files else {}
    for mnt in collect(mounts(session.prog, ns), errors):
        sb = mnt.mnt.mnt_sb
        files = by_sb.get(sb.value_(), []) if args.files else None
        dirty = None
        if args.inodes:
            dirty = [i.value_() for i in collect(dirty_inodes(sb), errors)]
        rows.append(Mount(mnt.value_(), sb.value_(), mount_fstype(mnt).decode(),
                          mount_src(mnt).decode(), mount_dst(mnt).decode(), files, dirty))
    return Result(rows, render=render, errors=errors)
