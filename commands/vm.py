"""vm: a task's address space: the mm summary and its memory areas."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass, field

from drgn import FaultError, Object
from drgn.helpers.linux.fs import d_path
from drgn.helpers.linux.mm import follow_phys, for_each_vma, task_rss
from pycrash.commands.task import tasks_for

from pycrash.command import Result, arg, command
from pycrash.kernel.tasks import task_id
from pycrash.session import Session


@dataclass(frozen=True)
class Vma:
    """One virtual memory area: its struct, range, flags and the file it maps."""

    vma: int
    start: int
    end: int
    flags: int
    file: str
    pages: list[tuple[int, int | None]] = field(default_factory=list)  # -p: (virt, phys)


@dataclass
class TaskVm:
    """A task's mm: address, page directory, RSS and total size in KiB, and its VMAs."""

    header: str
    mm: int
    pgd: int
    rss_kb: int
    total_vm_kb: int
    vmas: list[Vma] = field(default_factory=list)


def _render(result: Result) -> Iterable[str]:
    for i, tv in enumerate(result.rows):
        if i:
            yield ""
        yield tv.header
        if not tv.mm:
            yield "       MM               PGD          RSS    TOTAL_VM"
            yield "       0                 0            0k      0k"
            continue
        yield "       MM               PGD          RSS    TOTAL_VM"
        yield f"{tv.mm:016x}  {tv.pgd:016x}  {tv.rss_kb}k{'':>5}{tv.total_vm_kb}k"
        yield "      VMA           START       END     FLAGS FILE"
        for v in tv.vmas:
            yield f"{v.vma:016x} {v.start:>9x} {v.end:>9x} {v.flags:>8x} {v.file}"
            if v.pages:
                yield "VIRTUAL     PHYSICAL"
                for virt, phys in v.pages:
                    yield f"{virt:<11x} {'(not mapped)' if phys is None else f'{phys:x}'}"


def task_vm(task: Object, translate: bool) -> TaskVm:
    """Return the :class:`TaskVm` of a task (kernel threads have no mm)."""
    mm = task.mm
    header = task_id(task).header()
    if not mm:
        return TaskVm(header, 0, 0, 0, 0)
    prog = task.prog_
    page = int(prog["PAGE_SIZE"].value_())
    out = TaskVm(header, mm.value_(), mm.pgd.value_(),
                 task_rss(prog, task).total * page // 1024,
                 mm.total_vm.value_() * page // 1024)
    for vma in for_each_vma(mm):
        f = vma.vm_file
        path = ""
        if f:
            try:
                path = d_path(f.f_path.address_of_()).decode("utf-8", "replace")
            except (FaultError, LookupError, ValueError):
                path = "?"
        start, end = vma.vm_start.value_(), vma.vm_end.value_()
        pages: list[tuple[int, int | None]] = []
        if translate:
            for virt in range(start, end, page):
                try:
                    pages.append((virt, follow_phys(mm, virt).value_()))
                except FaultError:
                    pages.append((virt, None))
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
    arguments=(
        arg("-p", dest="translate", action="store_true", help="translate each page"),
        arg("specs", nargs="*", metavar="pid|task"),
    ),
)
def vm(session: Session, args: argparse.Namespace) -> Result:
    """Return a :class:`TaskVm` per task."""
    tasks, errors = tasks_for(session, args.specs, "vm")
    return Result([task_vm(t, args.translate) for t in tasks], render=_render, errors=errors)
