"""irq: interrupt descriptors, their handlers, and per-CPU counts."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass, field

from drgn.helpers.linux.cpumask import for_each_online_cpu
from drgn.helpers.linux.irq import (
    irq_desc_affinity_mask,
    irq_desc_chip_name,
    irq_desc_kstat_cpu,
)

from pycrash.cmdlib.render import center
from pycrash.command import Result, arg, command
from pycrash.errors import CommandError
from pycrash.kernel.iterators import chained, irq_descs
from pycrash.kernel.walk import collect
from pycrash.records import Hex
from pycrash.session import Session


@dataclass(frozen=True)
class Irq:
    """An interrupt number and its descriptor (``desc`` 0: none allocated): its
    irqactions (``action`` the first, 0 when none) and their handler names, the irq
    chip's name and the flow type (``irq_desc->name``: edge, fasteoi), the CPUs of its
    affinity, and its count on each online CPU."""

    irq: int
    desc: Hex
    action: Hex
    names: list[str]
    chip: str
    affinity: list[int]
    counts: dict[int, int]
    actions: list[Hex] = field(default_factory=list)
    flow: str = ""


@dataclass(frozen=True)
class IrqView:
    """Which irq table to show: ``stats`` (-s, per-CPU counts over these CPUs),
    ``affinity`` (-a), or ``handlers``."""

    table: str
    cpus: tuple[int, ...]


def cpu_ranges(cpus: list[int]) -> str:
    """crash's affinity list: runs of CPUs as ``0-1``, separated by commas."""
    runs: list[tuple[int, int]] = []
    for c in sorted(cpus):
        if runs and runs[-1][1] == c - 1:
            runs[-1] = (runs[-1][0], c)
        else:
            runs.append((c, c))
    return ",".join(f"{a}" if a == b else f"{a}-{b}" for a, b in runs)


def _handlers_line(r: Irq) -> Iterable[str]:
    desc = center(f"{r.desc:x}", 16) if r.desc else center("(unused)", 16)
    if not r.actions:
        yield f"{center(str(r.irq), 4, right=True)}  {desc}  {center('(unused)', 16)}  "
        return
    for i, (action, name) in enumerate(zip(r.actions, r.names, strict=False)):
        lead = f"{center(str(r.irq), 4, right=True)}  {desc}  " if i == 0 else " " * 24
        yield f'{lead}{center(f"{action:x}", 16)}  "{name}"'


def render(result: Result) -> Iterable[str]:
    """crash's irq output: every interrupt number with its descriptor and handlers
    (``(unused)`` where it has none), or the -s counts, or the -a affinities (of those
    with handlers)."""
    view = result.view
    if view.table == "stats":
        yield "     " + "".join(f"{'CPU' + str(c):>10} " for c in view.cpus)
        for r in result.rows:
            if not r.actions:
                continue
            chip = f"{r.chip:>8}" + (f"-{r.flow:<8}" if r.flow else "")
            yield (f"{r.irq:>3}: " + "".join(f"{r.counts[c]:>10} " for c in view.cpus)
                   + f"{chip} {','.join(r.names)}")
    elif view.table == "affinity":
        yield "IRQ NAME                 AFFINITY"
        for r in result.rows:
            if r.actions:
                yield f"{r.irq:>3} {','.join(r.names):<20} {cpu_ranges(r.affinity)}"
    else:
        yield f" IRQ  {center('IRQ_DESC/_DATA', 16)}  {center('IRQACTION', 16)}  NAME"
        for r in result.rows:
            yield from _handlers_line(r)


@command(
    "irq",
    summary="IRQ data",
    synopsis="irq [-a | -s] | [index ...]",
    description="""
Lists every interrupt number below nr_irqs, as crash does: its irq_desc (or
"(unused)" where none is allocated) and each irqaction with its handler's name
("(unused)" where there is none); or only the interrupt numbers given. -s shows
per-CPU counts, the chip and flow type, as /proc/interrupts does; -a shows each
interrupt's CPU affinity.
""",
    examples="crash> irq\ncrash> irq 1 24\ncrash> irq -s",
    records=(Irq,),
    arguments=(
        arg("-a", dest="affinity", action="store_true", help="CPU affinity"),
        arg("-s", dest="stats", action="store_true", help="per-CPU counts"),
        arg("numbers", nargs="*", metavar="index"),
    ),
)
def irq(session: Session, args: argparse.Namespace) -> Result:
    """Return an :class:`Irq` per interrupt number (those asked for, else all below
    nr_irqs)."""
    from drgn.helpers.linux.cpumask import for_each_cpu

    prog = session.prog
    cpus = list(for_each_online_cpu(prog))
    errors: list[str] = []
    descs = dict(collect(irq_descs(prog), errors))
    try:
        count = int(prog["nr_irqs"].value_())
    except KeyError:
        count = max(descs, default=-1) + 1
    wanted = list(range(count))
    if args.numbers:
        try:
            wanted = [int(n) for n in args.numbers]
        except ValueError:
            raise CommandError(f"invalid IRQ value: {args.numbers[0]}") from None
        bad = [n for n in wanted if n >= count]
        if bad:
            raise CommandError(f"invalid IRQ value: {bad[0]}  ({count - 1} max)")
    rows = []
    for n in wanted:
        desc = descs.get(n)
        if desc is None:
            rows.append(Irq(n, 0, 0, [], "", [], {}))
            continue
        actions = [a for a in chained(desc.action.read_(), f"the handlers of irq {n}")]
        try:
            aff = list(for_each_cpu(irq_desc_affinity_mask(desc)))
        except Exception:
            aff = []
        chip = irq_desc_chip_name(desc)
        flow = desc.name.string_().decode("utf-8", "replace") if desc.name else ""
        rows.append(Irq(n, desc.value_(), actions[0].value_() if actions else 0,
                        [a.name.string_().decode("utf-8", "replace") if a.name else ""
                         for a in actions],
                        chip.decode() if chip else "", aff,
                        {c: irq_desc_kstat_cpu(desc, c) for c in cpus},
                        [a.value_() for a in actions], flow))
    table = "stats" if args.stats else "affinity" if args.affinity else "handlers"
    return Result(rows, render=render, errors=errors, view=IrqView(table, tuple(cpus)))
