"""irq: interrupt descriptors, their handlers, and per-CPU counts."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass

from drgn.helpers.linux.cpumask import for_each_online_cpu
from drgn.helpers.linux.irq import (
    irq_desc_affinity_mask,
    irq_desc_chip_name,
    irq_desc_kstat_cpu,
)

from pycrash.command import Result, arg, command
from pycrash.kernel.iterators import irq_action_names, irq_descs
from pycrash.kernel.walk import collect
from pycrash.records import Hex
from pycrash.session import Session


@dataclass(frozen=True)
class Irq:
    """An interrupt with handlers: its number, struct irq_desc, first irqaction, handler
    names, irq chip name, the CPUs of its affinity, and its count on each online CPU."""

    irq: int
    desc: Hex
    action: Hex
    names: list[str]
    chip: str
    affinity: list[int]
    counts: dict[int, int]


@dataclass(frozen=True)
class IrqView:
    """Which irq table to show: ``stats`` (-s, per-CPU counts over these CPUs),
    ``affinity`` (-a), or ``handlers``."""

    table: str
    cpus: tuple[int, ...]


def render(result: Result) -> Iterable[str]:
    """crash's irq output: the handlers table, or the -s counts, or the -a affinities."""
    view = result.view
    if view.table == "stats":
        yield "     " + "".join(f"{'CPU' + str(c):>11}" for c in view.cpus)
        for r in result.rows:
            yield (f"{r.irq:>3}: " + "".join(f"{r.counts[c]:>11}" for c in view.cpus)
                   + f"  {r.chip:<10} {', '.join(r.names)}")
    elif view.table == "affinity":
        yield "IRQ NAME                 AFFINITY"
        for r in result.rows:
            yield f"{r.irq:>3} {', '.join(r.names):<20} {','.join(map(str, r.affinity))}"
    else:
        yield " IRQ   IRQ_DESC/_DATA      IRQACTION      NAME"
        for r in result.rows:
            yield f"{r.irq:>4}  {r.desc:016x}  {r.action:016x}  \"{', '.join(r.names)}\""


@command(
    "irq",
    summary="IRQ data",
    synopsis="irq [-a | -s]",
    description="""
Lists the interrupt descriptors that have handlers: number, irq_desc,
irqaction and handler names. -s shows per-CPU counts and the chip, as
/proc/interrupts does; -a shows each interrupt's CPU affinity.
""",
    examples="crash> irq -s",
    records=(Irq,),
    arguments=(
        arg("-a", dest="affinity", action="store_true", help="CPU affinity"),
        arg("-s", dest="stats", action="store_true", help="per-CPU counts"),
    ),
)
def irq(session: Session, args: argparse.Namespace) -> Result:
    """Return an :class:`Irq` per descriptor with handlers."""
    prog = session.prog
    cpus = list(for_each_online_cpu(prog))
    rows = []
    errors: list[str] = []
    for n, desc in collect(irq_descs(prog), errors):
        if not desc.action:
            continue
        try:
            from drgn.helpers.linux.cpumask import for_each_cpu

            aff = list(for_each_cpu(irq_desc_affinity_mask(desc)))
        except Exception:
            aff = []
        chip = irq_desc_chip_name(desc)
        rows.append(Irq(n, desc.value_(), desc.action.value_(),
                        irq_action_names(desc),
                        chip.decode() if chip else "", aff,
                        {c: irq_desc_kstat_cpu(desc, c) for c in cpus}))
    table = "stats" if args.stats else "affinity" if args.affinity else "handlers"
    return Result(rows, render=render, errors=errors, view=IrqView(table, tuple(cpus)))

