"""vm: a task's address space: the mm summary and its memory areas."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass, field

from drgn import FaultError, Object
from drgn.helpers.linux.fs import d_path
from drgn.helpers.linux.mm import follow_phys, task_rss

from pycrash.cmdlib.memtext import UVADDR_WIDTH, VMA_HEADER, mm_lines, vma_line
from pycrash.cmdlib.render import per_task
from pycrash.cmdlib.select import select_tasks
from pycrash.cmdlib.structs import StructDump, dump_lines, struct_dump
from pycrash.command import Result, arg, command
from pycrash.errors import CommandError
from pycrash.kernel.iterators import vmas
from pycrash.kernel.taskinfo import vm_flag_names
from pycrash.kernel.tasks import TaskId, task_id
from pycrash.records import Hex, OptHex
from pycrash.session import Session


@dataclass(frozen=True)
class PageMapping:
    """One user page of a VMA: the physical address it maps to; where it maps none, the
    swap device and offset its page table entry names, or else the file and offset in
    it that would back the page (None where neither: not mapped)."""

    virtual: Hex
    physical: OptHex
    swap: str | None = None
    swap_offset: int | None = None
    file: str | None = None
    file_offset: OptHex = None


@dataclass(frozen=True)
class Vma:
    """One virtual memory area: its struct, range, flags and the file it maps."""

    vma: Hex
    start: Hex
    end: Hex
    flags: Hex
    file: str
    pages: list[PageMapping] = field(default_factory=list)  # with -p


@dataclass
class TaskVm:
    """A task's mm: address, page directory, RSS and total size in KiB, and its VMAs
    (``mm`` 0 for kernel threads)."""

    task: TaskId
    mm: Hex
    pgd: Hex
    rss_kb: int
    total_vm_kb: int
    vmas: list[Vma] = field(default_factory=list)
    error: str | None = None


@dataclass(frozen=True)
class VmView:
    """How vm shows each task: with -p each area's pages, under the area's own header,
    their physical addresses right-aligned in ``paddr_width`` (crash's PADDR_PRLEN)."""

    pages: bool = False
    paddr_width: int = 8


def page_mapping_line(pm: PageMapping, paddr_width: int) -> str:
    """Return crash's line of one user page (vm -p): its address, then its physical
    address, swap location, file offset or ``(not mapped)``."""
    virt = f"{pm.virtual:<{UVADDR_WIDTH}x}"
    if pm.physical is not None:
        return f"{virt}  {pm.physical:>{max(paddr_width, 8)}x}"
    if pm.swap is not None:
        return f"{virt}  SWAP: {pm.swap}  OFFSET: {pm.swap_offset}"
    if pm.file is not None:
        return f"{virt}  FILE: {pm.file}  OFFSET: {pm.file_offset or 0:x}"
    return f"{virt}  (not mapped)"


def _body(tv: TaskVm, view: VmView) -> Iterable[str]:
    yield from mm_lines(tv.mm, tv.pgd, tv.rss_kb, tv.total_vm_kb)
    if not tv.mm:
        return
    if not view.pages:
        yield VMA_HEADER
    for v in tv.vmas:
        if view.pages:  # crash: each area under its own header, then its pages
            yield VMA_HEADER
        yield vma_line(v.vma, v.start, v.end, v.flags, v.file)
        if view.pages:
            yield f"{'VIRTUAL':<{UVADDR_WIDTH}}  {'PHYSICAL':<{max(view.paddr_width, 8)}}"
            for pm in v.pages:
                yield page_mapping_line(pm, view.paddr_width)


def render(result: Result) -> Iterable[str]:
    """crash's vm output: per task, the mm line, then each VMA (and its pages with -p)."""
    view = result.view if isinstance(result.view, VmView) else VmView()
    return per_task(result.rows, lambda tv: _body(tv, view))


def page_of(task: Object, vma: Object, path: str, virt: int) -> PageMapping:
    """Return the :class:`PageMapping` of one page of a task's VMA: through the task's
    page tables (x86-64; drgn's follow_phys elsewhere), then, for a page not present, the
    swap entry its PTE holds or the VMA's file offset (``vm_pgoff`` pages in, plus the
    page's distance from the VMA's start)."""
    from pycrash.kernel.pagetable import is_x86_64, user_walk
    from pycrash.kernel.pte import decode_pte

    prog = task.prog_
    leaf = 0
    if is_x86_64(prog):
        try:
            w = user_walk(task, virt)
        except FaultError:
            return PageMapping(virt, None)
        if w.physical is not None:
            return PageMapping(virt, w.physical)
        if w.entries and w.entries[-1].level == "PTE":
            leaf = w.leaf
    else:
        try:
            return PageMapping(virt, follow_phys(task.mm, virt).value_())
        except FaultError:
            pass
    if leaf:
        d = decode_pte(prog, leaf)
        if d.swap_device is not None:
            return PageMapping(virt, None, d.swap_device, d.swap_offset)
    if path:
        page = int(prog["PAGE_SIZE"].value_())
        start = vma.vm_start.value_()
        offset = ((virt - start) // page + vma.vm_pgoff.value_()) * page
        return PageMapping(virt, None, file=path, file_offset=offset)
    return PageMapping(virt, None)


def task_vm(task: Object, translate: bool) -> TaskVm:
    """Return the :class:`TaskVm` of a task (kernel threads have no mm)."""
    mm = task.mm
    header = task_id(task)
    if not mm:
        return TaskVm(header, 0, 0, 0, 0)
    prog = task.prog_
    page = int(prog["PAGE_SIZE"].value_())
    out = TaskVm(header, mm.value_(), mm.pgd.value_(),
                 task_rss(prog, task).total * page // 1024,
                 mm.total_vm.value_() * page // 1024)
    for vma in vmas(mm):
        f = vma.vm_file
        path = ""
        if f:
            try:
                path = d_path(f.f_path.address_of_()).decode("utf-8", "replace")
            except (FaultError, LookupError, ValueError):
                path = "?"
        start, end = vma.vm_start.value_(), vma.vm_end.value_()
        pages: list[PageMapping] = []
        if translate:
            pages = [page_of(task, vma, path, virt) for virt in range(start, end, page)]
        out.vmas.append(Vma(vma.value_(), start, end, vma.vm_flags.value_(), path, pages))
    return out


@dataclass(frozen=True)
class VmFlags:
    """``vm -f``: a vm_flags value and the names crash gives its bits."""

    flags: Hex
    names: list[str]


def render_flags(result: Result) -> Iterable[str]:
    """crash's vm -f: ``VALUE: (NAME|NAME...)``."""
    for row in result.rows:
        yield f"{row.flags:x}: ({'|'.join(row.names)})"


@dataclass(frozen=True)
class VmStructs:
    """``vm -m`` / ``vm -v``: a task and its mm_struct, or its vm_area_structs, member by
    member (``struct`` command records)."""

    task: TaskId
    dumps: list[StructDump]
    error: str | None = None


def _struct_body(row: VmStructs) -> Iterable[str]:
    for d in row.dumps:
        yield from dump_lines(d)


def render_structs(result: Result) -> Iterable[str]:
    """crash's vm -m/-v: the task's header, then each structure as ``struct`` prints it."""
    for row in result.rows:
        yield row.task.header()
        if row.error:
            yield row.error
        else:
            yield from _struct_body(row)


def vm_structs(task: Object, which: str, hex_mode: bool) -> VmStructs:
    """Return the task's mm_struct (``which="mm"``) or its VMAs (``"vmas"``) dumped."""
    mm = task.mm
    if not mm:
        return VmStructs(task_id(task), [])
    try:
        if which == "mm":
            return VmStructs(task_id(task), [struct_dump(mm[0], hex_mode=hex_mode)])
        return VmStructs(task_id(task), [struct_dump(v[0], hex_mode=hex_mode)
                                         for v in vmas(mm)])
    except FaultError as exc:
        return VmStructs(task_id(task), [], f"vm: cannot read memory at {exc.address:#x}")


@command(
    "vm",
    summary="virtual memory",
    synopsis="vm [-p | -m | -v [-x|-d]] [pid | task] ... | vm -f vm_flags",
    description="""
Shows a task's mm_struct, page directory, resident and total size, then each
virtual memory area: the vm_area_struct, start and end, flags, and the file
it maps. -p translates each page of each area to its physical address.

-m dumps each task's mm_struct and -v each of its vm_area_structs, as the
struct command prints them (-x in hex, -d in decimal); -f vm_flags names the
bits of a vm_flags value (hex) as crash 8.0.2 names them.
""",
    examples="""
crash> vm 1
crash> vm -p pcfix-sleeper1
""",
    records=(TaskVm, Vma, PageMapping, VmFlags, VmStructs),
    arguments=(
        arg("-p", dest="translate", action="store_true", help="translate each page"),
        arg("-f", dest="flags", metavar="vm_flags", help="name the bits of a vm_flags value"),
        arg("-m", dest="mm", action="store_true", help="dump the mm_struct"),
        arg("-v", dest="vmas", action="store_true", help="dump every vm_area_struct"),
        arg("-x", dest="hex", action="store_true", help="-m/-v in hexadecimal"),
        arg("-d", dest="dec", action="store_true", help="-m/-v in decimal"),
        arg("specs", nargs="*", metavar="pid|task"),
    ),
)
def vm(session: Session, args: argparse.Namespace) -> Result:
    """Return a :class:`TaskVm` per task (or the records of -f, -m, -v)."""
    if args.flags is not None:
        try:
            value = int(args.flags, 16)
        except ValueError:
            raise CommandError(f"invalid vm_flags value: {args.flags}") from None
        return Result([VmFlags(value, vm_flag_names(session.prog, value))], render=render_flags)
    if sum(bool(x) for x in (args.translate, args.mm, args.vmas)) > 1:
        raise CommandError("-p, -v, -m, -R and -f options are all mutually exclusive")
    sel = select_tasks(session, args.specs)
    if args.mm or args.vmas:
        which = "mm" if args.mm else "vmas"
        rows = [vm_structs(t, which, args.hex) for t in sel.tasks]
        return Result(rows, render=render_structs, errors=sel.errors)
    from pycrash.kernel.meminfo import paddr_digits

    view = VmView(args.translate, paddr_digits(session.prog) if args.translate else 8)
    return Result([task_vm(t, args.translate) for t in sel.tasks], render=render,
                  errors=sel.errors, view=view)
