"""files: the open files of a task, with its root and working directories."""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from drgn import FaultError, Object
from drgn.helpers.linux.fs import d_path, for_each_file

from pycrash.cmdlib.render import PAGE_HEADER, page_line
from pycrash.cmdlib.select import select_tasks
from pycrash.command import Result, arg, command
from pycrash.errors import CommandError
from pycrash.kernel.fsinfo import node_of_pfn, online_nodes, page_cache_pages
from pycrash.kernel.pages import PageRow, page_row
from pycrash.kernel.tasks import TaskId, task_id
from pycrash.kernel.walk import WalkError
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
    """How files shows each descriptor: with -c its inode's mapping and cached pages;
    with -R only what refers to the reference, each task's block ending in a blank line
    (and another after a task named by pid, as crash prints them); otherwise where crash
    puts empty lines around each task's part: ``before`` (a task named by an argument
    after the first) and ``after`` (a task named by its pid), by row."""

    cache: bool = False
    ref: bool = False
    before: tuple[bool, ...] = ()
    after: tuple[bool, ...] = ()

    @property
    def self_separated(self) -> bool:
        """Whether each task's block ends in its own blank line (foreach adds none)."""
        return self.ref


@dataclass(frozen=True)
class InodePages:
    """``files -p`` / ``files -n``: an inode, its mapping's page count (``nrpages``), its
    pages in the page cache (-p) or how many of them each NUMA node holds (-n)."""

    inode: Hex
    nrpages: int
    pages: list[PageRow]
    nodes: dict[int, int] | None = None


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
    #: with -R: whether anything refers to the reference (root, cwd or a file), and
    #: whether the task was named by its pid (crash ends those with a blank line)
    found: bool = True
    by_pid: bool = False


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


def _ref_lines(tf: TaskFiles, cache: bool) -> Iterator[str]:
    """crash's files -R block of one task: what refers to the reference, then a blank
    line; a task named by its pid adds one more."""
    if tf.found:
        yield tf.task.header()
        yield f"ROOT: {tf.root}    CWD: {tf.cwd} "
        if tf.files:
            lines = list(_body(tf, cache))
            yield from lines[1:]
        yield ""
    if tf.by_pid:
        yield ""


def render(result: Result) -> Iterable[str]:
    """crash's files output: per task, its root and cwd, then a line per open file (-c:
    its inode, mapping and cached pages); with -R only the tasks and files that refer to
    the reference. A task named by its pid ends with an empty line, and a later
    argument's tasks start with one, as crash prints them."""
    view = result.view if isinstance(result.view, FilesView) else FilesView()
    if view.ref:
        yield from (line for tf in result.rows for line in _ref_lines(tf, view.cache))
        return
    body = _cache_body if view.cache else _body
    for i, row in enumerate(result.rows):
        if i < len(view.before) and view.before[i]:
            yield ""
        yield row.task.header()
        yield from body(row)
        if i < len(view.after) and view.after[i]:
            yield ""


def render_inode_pages(result: Result) -> Iterable[str]:
    """crash's files -p (the inode's pages in the page cache) and -n (how many of them
    each NUMA node holds)."""
    for row in result.rows:
        yield "     INODE        NRPAGES"
        yield f"{row.inode:016x}  {row.nrpages:>7}"
        yield ""
        if row.nodes is not None:
            yield "     NODE           PAGES"
            yield from (f"     {n:2d}          {c:8d}" for n, c in row.nodes.items())
        elif row.pages:
            yield PAGE_HEADER
            yield from map(page_line, row.pages)


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


def inode_pages(session: Session, spec: str, numa: bool,
                errors: list[str]) -> InodePages:
    """``files -p`` / ``-n``: the page-cache pages of the inode at ``spec`` (hex), or their
    count per NUMA node (each entry counts the pages of its folio); a broken page cache
    or one that holds another count than ``nrpages`` says so in ``errors``."""
    from drgn.helpers.linux.mm import compound_order, page_to_pfn

    prog = session.prog
    try:
        address = int(spec, 16)
    except ValueError:
        raise CommandError(f"invalid inode address: {spec}") from None
    inode = Object(prog, "struct inode *", address)
    try:
        nrpages = int(inode.i_mapping.nrpages.value_())
    except FaultError as exc:
        raise CommandError(f"invalid kernel virtual address: {exc.address:x}  "
                           "type: \"inode buffer\"") from None
    pages: list[PageRow] = []
    nodes = dict.fromkeys(online_nodes(prog), 0) if numa else None
    count = 0
    if nrpages:
        try:
            for _index, page in page_cache_pages(inode):
                count += 1
                if nodes is not None:
                    node = node_of_pfn(prog, page_to_pfn(page).value_())
                    nodes[node] = nodes.get(node, 0) + (1 << compound_order(page).value_())
                else:
                    pages.append(page_row(prog, page))
        except WalkError as exc:
            errors.append(str(exc))
        except FaultError as exc:
            errors.append(f"cannot read the page cache at {exc.address:#x}")
        if count != nrpages and not errors:
            errors.append(f"xarray page count: {count}  nrpages: {nrpages}")
    return InodePages(address, nrpages, pages, nodes)


def _is_number(text: str) -> bool:
    """crash's IS_A_NUMBER: hex digits (and x) only."""
    return bool(text) and all(c in "0123456789abcdefABCDEFxX" for c in text)


def _component(path: str, ref: str) -> bool:
    """crash's FILENAME_COMPONENT: ``/`` matches only ``/``; any other text anywhere in
    the path."""
    return (path == "/" and ref == "/") or (ref != "/" and ref in path)


def refers(task: Object, tf: TaskFiles, ref: str, cache: bool) -> TaskFiles:
    """Return ``tf`` with only the files that refer to ``ref`` (crash's files -R): a file
    descriptor number, a file, dentry or inode address (-c: inode or address_space), a
    type (REG...) or text in the path; ``found`` also when the root or working directory
    holds the text."""
    fd_ref = addr_ref = None
    if _is_number(ref):
        hex_only = any(c in "abcdefABCDEFxX" for c in ref)
        value = int(ref, 16)
        if not hex_only:
            try:
                fdt = task.files.fdt
                limit = int(fdt.max_fds.value_())
            except (FaultError, AttributeError):
                limit = 0
            if int(ref) <= limit:
                fd_ref, value = int(ref), -1
        addr_ref = value

    def matches(f: OpenFile) -> bool:
        if fd_ref is not None and f.fd == fd_ref:
            return True
        columns = (f.inode, f.mapping) if cache else (f.file, f.dentry, f.inode)
        if addr_ref is not None and (f.fd == addr_ref or addr_ref in columns):
            return True
        return ref == f.type or (bool(f.path) and _component(f.path, ref))

    kept = [f for f in tf.files if matches(f)]
    root_cwd = _component(tf.root, ref) or _component(tf.cwd, ref)
    return TaskFiles(tf.task, tf.root, tf.cwd, kept, tf.error, bool(kept) or root_cwd)


@command(
    "files",
    summary="open files",
    synopsis="files [-d dentry] | [-p inode] | [-n inode] | [-c] [-R reference] "
             "[pid | task] ...",
    description="""
Shows a task's root and current working directory, then each open file
descriptor: the struct file, dentry and inode addresses, the file's type
(REG, DIR, CHR, BLK, FIFO, SOCK, LNK) and its path.

  -d dentry  a dentry's inode, super block, file type and path (no task).
  -p inode   the inode's pages in the page cache, as kmem -p shows pages.
  -n inode   how many of the inode's page-cache pages each NUMA node holds.
  -c         for each descriptor its inode, the inode's i_mapping and how many
             of its pages are in the page cache.
  -R ref     only what refers to ref: a file descriptor number, a file, dentry,
             inode or address_space address, a type, or text in a path (also
             the root and working directory); typically "foreach files -R ref".
""",
    examples="""
crash> files pcfix-files
crash> foreach files -R /tmp/work
crash> files -p ffff97daafe08610
""",
    records=(TaskFiles, OpenFile, DentryInfo, InodePages),
    arguments=(
        arg("-d", dest="dentry", metavar="dentry", help="a dentry's inode, sb, type and path"),
        arg("-p", dest="pages", metavar="inode", help="an inode's pages in the page cache"),
        arg("-n", dest="numa", metavar="inode",
            help="an inode's page-cache pages per NUMA node"),
        arg("-c", dest="cache", action="store_true",
            help="each file's inode, mapping and page-cache pages"),
        arg("-R", dest="ref", metavar="reference",
            help="only what refers to this number, address or name"),
        arg("specs", nargs="*", metavar="pid|task"),
    ),
)
def files(session: Session, args: argparse.Namespace) -> Result:
    """Return a :class:`TaskFiles` per task (-d: a :class:`DentryInfo`; -p/-n: an
    :class:`InodePages`)."""
    if args.pages is not None or args.numa is not None:
        numa = args.pages is None
        errors: list[str] = []
        row = inode_pages(session, args.numa if numa else args.pages, numa, errors)
        return Result([row], render=render_inode_pages, errors=errors)
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
    if args.ref is not None:
        sel = select_tasks(session, args.specs)
        pids = {int(s) for s in args.specs if s.isdecimal()}
        ref_rows = []
        for t in sel.tasks:
            tf = refers(t, task_files(t), args.ref, args.cache)
            tf.by_pid = int(t.pid.value_()) in pids
            if tf.found or tf.by_pid:
                ref_rows.append(tf)
        return Result(ref_rows, render=render, errors=sel.errors,
                      view=FilesView(args.cache, True))
    if not args.specs:
        sel = select_tasks(session, [])
        return Result([task_files(t) for t in sel.tasks], render=render, errors=sel.errors,
                      view=FilesView(args.cache))
    rows: list[TaskFiles] = []
    before: list[bool] = []
    after: list[bool] = []
    missing: list[str] = []
    for i, spec in enumerate(args.specs):  # crash: a pid's tasks each end with an empty
        sel = select_tasks(session, [spec])  # line, a later argument's start with one
        missing += sel.errors
        by_address = any(f"{t.value_():x}" == spec.lower().removeprefix("0x")
                         for t in sel.tasks)
        for t in sel.tasks:
            rows.append(task_files(t))
            before.append(i > 0)
            after.append(not by_address)
    return Result(rows, render=render, errors=missing,
                  view=FilesView(args.cache, False, tuple(before), tuple(after)))
