"""vm: a task's address space: the mm summary and its memory areas."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass, field

from drgn import FaultError, Object
from drgn.helpers.linux.fs import d_path
from drgn.helpers.linux.mm import follow_phys, task_rss

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
    """One user page of a VMA and the physical address it maps to (None: not mapped)."""

    virtual: Hex
    physical: OptHex


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


def _body(tv: TaskVm) -> Iterable[str]:
    if not tv.mm:
        yield "       MM               PGD          RSS    TOTAL_VM"
        yield "       0                 0            0k      0k"
        return
    yield "       MM               PGD          RSS    TOTAL_VM"
    yield f"{tv.mm:016x}  {tv.pgd:016x}  {tv.rss_kb}k{'':>5}{tv.total_vm_kb}k"
    yield "      VMA           START       END     FLAGS FILE"
    for v in tv.vmas:
        yield f"{v.vma:016x} {v.start:>9x} {v.end:>9x} {v.flags:>8x} {v.file}"
        if v.pages:
            yield "VIRTUAL     PHYSICAL"
            for pm in v.pages:
                phys = "(not mapped)" if pm.physical is None else f"{pm.physical:x}"
                yield f"{pm.virtual:<11x} {phys}"


def render(result: Result) -> Iterable[str]:
    """crash's vm output: per task, the mm line, then each VMA (and its pages with -p)."""
    return per_task(result.rows, _body)


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
            for virt in range(start, end, page):
                try:
                    pages.append(PageMapping(virt, follow_phys(mm, virt).value_()))
                except FaultError:
                    pages.append(PageMapping(virt, None))
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
    return Result([task_vm(t, args.translate) for t in sel.tasks], render=render,
                  errors=sel.errors)
