"""vm: a task's address space: the mm summary and its memory areas."""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from drgn import FaultError, Object
from drgn.helpers.linux.fs import d_path
from drgn.helpers.linux.mm import task_rss

from pycrash.cmdlib.render import per_task
from pycrash.cmdlib.select import select_tasks
from pycrash.cmdlib.structs import StructDump, dump_lines, struct_dump
from pycrash.command import Result, arg, command
from pycrash.errors import CommandError
from pycrash.kernel.iterators import vmas
from pycrash.kernel.pagetable import user_pages
from pycrash.kernel.taskinfo import vm_flag_names
from pycrash.kernel.tasks import TaskId, task_id
from pycrash.records import Hex, OptHex
from pycrash.session import Session


@dataclass(frozen=True)
class PageMapping:
    """One user page of a VMA: the physical address it maps to; else the swap device and
    offset its swap entry names, or the file and offset a file mapping would read it
    from; else nothing (not mapped)."""

    virtual: Hex
    physical: OptHex
    swap_device: str | None = None
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


VMA_HEADER = "      VMA           START       END     FLAGS FILE"


def _center(text: str, width: int) -> str:
    """crash's mkstring(CENTER|LJUST): centred, the odd space on the right."""
    pad = max(width - len(text), 0)
    return " " * (pad // 2) + text + " " * (pad - pad // 2)


def mm_lines(tv: TaskVm) -> list[str]:
    """crash's PRINT_VM_DATA: the MM/PGD/RSS/TOTAL_VM heading and values."""
    return ["       MM               PGD          RSS    TOTAL_VM",
            f"{_center(f'{tv.mm:x}', 16)}  {_center(f'{tv.pgd:x}', 16)}  "
            f"{_center(f'{tv.rss_kb}k', 6)}  {_center(f'{tv.total_vm_kb}k', 8)}"]


def vma_line(v: Vma) -> str:
    """crash's PRINT_VMA_DATA: the vm_area_struct, start, end, flags and file."""
    return f"{v.vma:016x} {v.start:>10x} {v.end:>10x} {v.flags:>6x} {v.file}"


def page_line(pm: PageMapping) -> str:
    """crash's line of one page of vm -p: the physical address, the swap location, the
    file and offset, or (not mapped)."""
    if pm.physical is not None:
        return f"{pm.virtual:<10x}  {pm.physical:>8x}"
    if pm.swap_offset is not None:
        return f"{pm.virtual:<10x}  SWAP: {pm.swap_device}  OFFSET: {pm.swap_offset}"
    if pm.file is not None:
        return f"{pm.virtual:<10x}  FILE: {pm.file}  OFFSET: {pm.file_offset:x}"
    return f"{pm.virtual:<10x}  (not mapped)"


def _body(tv: TaskVm) -> Iterable[str]:
    yield from mm_lines(tv)  # a kernel thread's zeros centred too, as crash prints them
    if not tv.mm:
        return
    translated = any(v.pages for v in tv.vmas)
    if not translated:
        yield VMA_HEADER
    for v in tv.vmas:
        if translated:
            yield VMA_HEADER
        yield vma_line(v)
        if v.pages:
            yield "VIRTUAL     PHYSICAL"
            yield from map(page_line, v.pages)


def render(result: Result) -> Iterable[str]:
    """crash's vm output: per task, the mm line, then each VMA (and with -p, each under
    its own heading, its pages)."""
    return per_task(result.rows, _body)


def _vma_path(vma: Object) -> str:
    f = vma.vm_file
    if not f:
        return ""
    try:
        return d_path(f.f_path.address_of_()).decode("utf-8", "replace")
    except (FaultError, LookupError, ValueError):
        return "?"


def vma_pages(mm: Object, vma: Object, path: str) -> Iterator[PageMapping]:
    """Yield a :class:`PageMapping` per page of a VMA, as crash's vm -p tells them: mapped,
    swapped out (device and offset), or backed by the VMA's file (path and offset)."""
    from pycrash.kernel.pte import decode_pte

    prog = mm.prog_
    start, end = vma.vm_start.value_(), vma.vm_end.value_()
    shift = int(prog["PAGE_SIZE"].value_()).bit_length() - 1
    pgoff = vma.vm_pgoff.value_()
    for up in user_pages(mm, start, end):
        if up.physical is not None:
            yield PageMapping(up.address, up.physical)
            continue
        if up.pte:
            d = decode_pte(prog, up.pte)
            if d.swap_offset is not None:
                yield PageMapping(up.address, None, d.swap_device or "(unknown swap location)",
                                  d.swap_offset)
                continue
        if path:
            offset = (((up.address - start) >> shift) + pgoff) << shift
            yield PageMapping(up.address, None, file=path, file_offset=offset)
        else:
            yield PageMapping(up.address, None)


def _vma(mm: Object, vma: Object, translate: bool) -> Vma:
    path = _vma_path(vma)
    pages = list(vma_pages(mm, vma, path)) if translate else []
    return Vma(vma.value_(), vma.vm_start.value_(), vma.vm_end.value_(),
               vma.vm_flags.value_(), path, pages)


def _task_mm(task: Object) -> TaskVm:
    """The :class:`TaskVm` of a task without its VMAs."""
    mm = task.mm
    header = task_id(task)
    if not mm:
        return TaskVm(header, 0, 0, 0, 0)
    prog = task.prog_
    page = int(prog["PAGE_SIZE"].value_())
    return TaskVm(header, mm.value_(), mm.pgd.value_(),
                  task_rss(prog, task).total * page // 1024,
                  mm.total_vm.value_() * page // 1024)


def task_vm(task: Object, translate: bool) -> TaskVm:
    """Return the :class:`TaskVm` of a task (kernel threads have no mm)."""
    out = _task_mm(task)
    if out.mm:
        out.vmas = [_vma(task.mm, vma, translate) for vma in vmas(task.mm)]
    return out


# -- -P: one VMA --------------------------------------------------------------------

@dataclass
class TaskVma:
    """``vm -P vma``: a task and the one VMA asked for, with its pages (None: the task has
    no VMA at that address)."""

    task: TaskId
    vma: Vma | None
    error: str | None = None


def render_one(result: Result) -> Iterable[str]:
    """crash's vm -P: the task's header, the VMA under its heading and its pages, or
    (not found)."""
    for row in result.rows:
        yield row.task.header()
        if row.error:
            yield row.error
        elif row.vma is None:
            yield "(not found)"
        else:
            yield VMA_HEADER
            yield vma_line(row.vma)
            yield "VIRTUAL     PHYSICAL"
            yield from map(page_line, row.vma.pages)


def task_vma(task: Object, address: int) -> TaskVma:
    """Return the :class:`TaskVma` of the task's VMA at ``address`` (a vm_area_struct)."""
    mm = task.mm
    if mm:
        for vma in vmas(mm):
            if vma.value_() == address:
                return TaskVma(task_id(task), _vma(mm, vma, True))
    return TaskVma(task_id(task), None)


# -- -R: references -----------------------------------------------------------------

@dataclass(frozen=True)
class VmaHit:
    """A VMA that refers to ``vm -R``'s reference (its address, flags or file), or holds
    pages that do (a virtual or physical address, a swap offset or device, a file
    offset): those pages from the first that does; ``heading``: crash repeats the VMA
    heading before it."""

    vma: Vma
    pages: list[PageMapping]
    heading: bool


@dataclass
class VmRefs:
    """``vm -R``: a task whose mm, page directory, VMAs or pages refer to the reference:
    its mm summary (``vmas`` empty when the mm or page directory itself is the
    reference) and each VMA that does."""

    task: TaskId
    mm: TaskVm
    hits: list[VmaHit] = field(default_factory=list)


@dataclass(frozen=True)
class VmView:
    """vm -R ends each task's block with a blank line (foreach adds none)."""

    self_separated: bool = True


def render_refs(result: Result) -> Iterable[str]:
    """crash's vm -R: per task that refers to the reference, its header and mm summary,
    the VMAs and pages that do, and a blank line."""
    for row in result.rows:
        yield row.task.header()
        yield from mm_lines(row.mm)
        for hit in row.hits:
            if hit.heading:
                yield VMA_HEADER
            yield vma_line(hit.vma)
            if hit.pages:
                yield "VIRTUAL     PHYSICAL"
                yield from map(page_line, hit.pages)
        yield ""


def _component(path: str, ref: str) -> bool:
    """crash's FILENAME_COMPONENT: ``/`` matches only ``/``; any other text anywhere."""
    return bool(path) and ((path == "/" and ref == "/") or (ref != "/" and ref in path))


def task_refs(task: Object, ref: str) -> VmRefs | None:
    """Return what of the task's address space refers to ``ref`` (crash's vm -R), None
    when nothing does. A number (hex digits) is compared as hex with the mm, page
    directory, VMA addresses and flags, page addresses, physical addresses and file
    offsets, and as decimal with swap offsets; any text with file and swap device names."""
    summary = _task_mm(task)
    if not summary.mm:
        return None
    hexval = decval = None
    if ref and all(c in "0123456789abcdefABCDEFxX" for c in ref):
        hexval = int(ref, 16)
        if ref.isdecimal():
            decval = int(ref)
    if hexval is not None and hexval in (summary.mm, summary.pgd):
        return VmRefs(task_id(task), summary)
    out = VmRefs(task_id(task), summary)
    shown_vma = page_shown = False
    last: int | None = None
    for vma in vmas(task.mm):
        v = _vma(task.mm, vma, False)
        if hexval in (v.vma, v.flags) or _component(v.file, ref):
            heading = not shown_vma or page_shown
            out.hits.append(VmaHit(v, [], heading))
            shown_vma, page_shown, last = True, False, v.vma

        def page_refers(pm: PageMapping) -> bool:
            if hexval is not None and hexval == pm.virtual:
                return True
            if pm.physical is not None:
                return hexval is not None and hexval == pm.physical
            if pm.swap_offset is not None:
                return (decval is not None and decval == pm.swap_offset) or \
                    _component(pm.swap_device or "", ref)
            return pm.file is not None and hexval is not None and hexval == pm.file_offset

        pages = list(vma_pages(task.mm, vma, v.file))
        first = next((i for i, pm in enumerate(pages) if page_refers(pm)), None)
        if first is None:
            continue
        page_shown = True
        shown = [pm for pm in pages[first:] if page_refers(pm)]
        if last == v.vma:
            out.hits[-1] = VmaHit(v, shown, out.hits[-1].heading)
        else:
            out.hits.append(VmaHit(v, shown, True))
            shown_vma, last = True, v.vma
    return out if out.hits else None


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
    synopsis="vm [-p | -P vma | -m | -v [-x|-d] | -R reference] [pid | task] ... | "
             "vm -f vm_flags",
    description="""
Shows a task's mm_struct, page directory, resident and total size, then each
virtual memory area: the vm_area_struct, start and end, flags, and the file
it maps. -p translates each page of each area to its physical address, or
names the swap device and offset, or the file and offset, it would come from.

-P vma translates the pages of that one area (a vm_area_struct address) only.
-R reference shows only what refers to the reference, typically from
"foreach vm -R": a number is compared with the mm_struct, page directory,
vm_area_structs, vm_flags, each page's virtual and physical address and file
offset (hex) and swap offset (decimal); any text with the mapped files' and
swap devices' names.

-m dumps each task's mm_struct and -v each of its vm_area_structs, as the
struct command prints them (-x in hex, -d in decimal); -f vm_flags names the
bits of a vm_flags value (hex) as crash 8.0.2 names them.
""",
    examples="""
crash> vm 1
crash> vm -p pcfix-sleeper1
crash> foreach vm -R /bin/busybox
""",
    records=(TaskVm, Vma, PageMapping, VmFlags, VmStructs, TaskVma, VmRefs, VmaHit),
    arguments=(
        arg("-p", dest="translate", action="store_true", help="translate each page"),
        arg("-P", dest="one", metavar="vma", help="translate the pages of this VMA only"),
        arg("-R", dest="ref", metavar="reference",
            help="only what refers to this number or file name"),
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
    chosen = (args.translate, args.mm, args.vmas, args.one is not None)
    if sum(bool(x) for x in chosen) > 1 or (args.ref is not None and any(chosen[1:])):
        raise CommandError("-p, -v, -m, -R and -f options are all mutually exclusive")
    sel = select_tasks(session, args.specs)
    if args.one is not None:
        try:
            address = int(args.one, 16)
        except ValueError:
            raise CommandError(f"invalid vm_area_struct address: {args.one}") from None
        return Result([task_vma(t, address) for t in sel.tasks], render=render_one,
                      errors=sel.errors)
    if args.ref is not None:
        found = [r for r in (task_refs(t, args.ref) for t in sel.tasks) if r is not None]
        return Result(found, render=render_refs, errors=sel.errors, view=VmView())
    if args.mm or args.vmas:
        which = "mm" if args.mm else "vmas"
        rows = [vm_structs(t, which, args.hex) for t in sel.tasks]
        return Result(rows, render=render_structs, errors=sel.errors)
    return Result([task_vm(t, args.translate) for t in sel.tasks], render=render,
                  errors=sel.errors)
