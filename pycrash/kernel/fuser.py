"""Which tasks use a file: as their root or working directory, through an open file
descriptor, or by mapping it (crash's ``fuser``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from drgn import FaultError, Object
from drgn.helpers.linux.fs import d_path, for_each_file
from drgn.helpers.linux.mm import for_each_vma

from pycrash.kernel.tasks import TaskId, task_id
from pycrash.kernel.walk import bounded

#: the uses in crash's order
USES = ("root", "cwd", "fd", "mmap")


@dataclass(frozen=True)
class FileUser:
    """A task using the file, and how: ``root``, ``cwd``, ``fd``, ``mmap`` (crash's order)."""

    task: TaskId
    uses: list[str]


def _path(path: Object) -> str | None:
    try:
        return d_path(path).decode("utf-8", "replace")
    except (FaultError, LookupError, ValueError):
        return None


def _dir_text(path: Object) -> str | None:
    """A directory as crash's ``files`` prints ROOT and CWD: with a trailing slash."""
    text = _path(path)
    if text is None:
        return None
    return text if text.endswith("/") else text + "/"


def task_uses(task: Object, path: str | None, inode: int | None) -> list[str]:
    """Return how ``task`` uses the file named by ``path`` (as d_path prints it; a
    directory's ROOT or CWD matches only as ``files`` prints it, which is ``/`` for the
    root, otherwise with a trailing slash) or by the ``struct inode *`` address ``inode``."""
    uses: list[str] = []
    fs = task.fs
    if fs and path is not None:
        root = _path(fs.root.address_of_())
        if root is not None and root == path:
            uses.append("root")
        if _dir_text(fs.pwd.address_of_()) == path:
            uses.append("cwd")
    try:
        if task.files:
            for _, f in for_each_file(task):  # an array of max_fds slots: no loop
                if _matches(f, path, inode):
                    uses.append("fd")
                    break
    except (FaultError, ValueError):
        pass
    try:
        mm = task.mm
        if mm:
            for vma in bounded(for_each_vma(mm), "the VMA tree"):
                f = vma.vm_file
                if f and _matches(f, path, inode):
                    uses.append("mmap")
                    break
    except (FaultError, ValueError):
        pass
    return uses


def _matches(f: Object, path: str | None, inode: int | None) -> bool:
    if inode is not None:
        return f.f_inode.value_() == inode
    return _path(f.f_path.address_of_()) == path


def file_users(tasks: Iterable[Object], path: str | None, inode: int | None) -> list[FileUser]:
    """Return a :class:`FileUser` for each of ``tasks`` that uses the file, in their order."""
    out = []
    for task in tasks:
        uses = task_uses(task, path, inode)
        if uses:
            out.append(FileUser(task_id(task), uses))
    return out
