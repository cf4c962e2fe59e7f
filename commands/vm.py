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
from pycrash.command import Result, arg, command
from pycrash.kernel.iterators import vmas
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


@command(
    "vm",
    summary="virtual memory",
    synopsis="vm [-p] [pid | task] ...",
    description="""
Shows a task's mm_struct, page directory, resident and total size, then each
virtual memory area: the vm_area_struct, start and end, flags, and the file
it maps. -p translates each page of each area to its physical address.
""",
    examples="""
crash> vm 1
crash> vm -p pcfix-sleeper1
""",
    records=(TaskVm, Vma, PageMapping),
    arguments=(
        arg("-p", dest="translate", action="store_true", help="translate each page"),
        arg("specs", nargs="*", metavar="pid|task"),
    ),
)
def vm(session: Session, args: argparse.Namespace) -> Result:
    """Return a :class:`TaskVm` per task."""
    sel = select_tasks(session, args.specs)
    return Result([task_vm(t, args.translate) for t in sel.tasks], render=render,
                  errors=sel.errors)
