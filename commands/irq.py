"""irq: interrupt descriptors, their handlers, and per-CPU counts."""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from drgn import FaultError, Object
from drgn.helpers.linux.cpumask import for_each_online_cpu
from drgn.helpers.linux.irq import (
    irq_desc_affinity_mask,
    irq_desc_chip_name,
    irq_desc_kstat_cpu,
)

from pycrash.cmdlib.render import center
from pycrash.cmdlib.select import cpu_mask
from pycrash.command import Result, arg, command
from pycrash.errors import CommandError
from pycrash.kernel.interrupts import idt_handlers, softirq_actions
from pycrash.kernel.iterators import chained, irq_action_names, irq_descs
from pycrash.kernel.symindex import find_symbol
from pycrash.kernel.walk import WalkError, collect
from pycrash.records import Hex
from pycrash.session import Session


@dataclass(frozen=True)
class Irq:
    """An interrupt number and its descriptor (``desc`` 0: none allocated): its
    irqactions (``action`` the first, 0 when none) and their handler names, the irq
    chip's name, the CPUs of its affinity, and its count on each online CPU."""

    irq: int
    desc: Hex
    action: Hex
    names: list[str]
    chip: str
    affinity: list[int]
    counts: dict[int, int]
    #: every irqaction of the handler chain (``irq -u`` shows each), and the flow
    #: handler's name the descriptor holds (``desc->name``: "edge", "fasteoi")
    actions: list[Hex] = field(default_factory=list)
    flow: str = ""


@dataclass(frozen=True)
class IdtGate:
    """``irq -d``: an x86-64 interrupt descriptor table gate: its vector, the handler's
    address and ``symbol+offset`` (None outside every symbol)."""

    vector: int
    handler: Hex
    symbol: str | None


@dataclass(frozen=True)
class SoftirqVec:
    """``irq -b``: a softirq (bottom half) and the handler it runs, its symbol and the
    module that holds it (None: the kernel)."""

    vector: int
    action: Hex
    symbol: str
    module: str | None


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


def handlers_lines(r: Irq) -> Iterator[str]:
    """crash's handlers line of one interrupt number: the IRQ, its irq_desc (or
    ``(unused)``), each irqaction (``(unused)`` for none) with its name, one per line."""
    desc = center(f"{r.desc:x}", 16) if r.desc else center("(unused)", 16)
    if not r.actions:
        yield f"{center(str(r.irq), 4, right=True)}  {desc}  {center('(unused)', 16)}  "
        return
    for i, (action, name) in enumerate(zip(r.actions, r.names, strict=False)):
        lead = f"{center(str(r.irq), 4, right=True)}  {desc}  " if i == 0 else " " * 24
        yield f'{lead}{center(f"{action:x}", 16)}  "{name}"'


def render(result: Result) -> Iterable[str]:
    """crash's irq output: every interrupt number with its descriptor and handlers
    (``(unused)`` where it has none; -u: those with a descriptor), or the -s counts, or
    the -a affinities (of those with handlers)."""
    view = result.view
    if view.table == "stats":
        yield "     " + "".join(f"{'CPU' + str(c):>10} " for c in view.cpus)
        for r in result.rows:
            if not r.actions:
                continue
            flow = f"-{r.flow:<8}" if r.flow else ""
            yield (f"{r.irq:>3}: " + "".join(f"{r.counts[c]:>10} " for c in view.cpus)
                   + f"{r.chip:>8}{flow} {','.join(r.names)}")
    elif view.table == "affinity":
        yield "IRQ NAME                 AFFINITY"
        for r in result.rows:
            if r.actions:
                yield f"{r.irq:>3} {','.join(r.names):<20} {cpu_ranges(r.affinity)}"
    else:
        yield f" IRQ  {center('IRQ_DESC/_DATA', 16)}  {center('IRQACTION', 16)}  NAME"
        for r in result.rows:
            if view.table == "in-use" and not r.desc:
                continue
            yield from handlers_lines(r)


def render_idt(result: Result) -> Iterable[str]:
    """crash's irq -d: each gate's vector and handler (its symbol, else its address)."""
    for g in result.rows:
        yield f"{f'[{g.vector}]':>5} {g.symbol if g.symbol else f'{g.handler:016x}'}"


def render_softirqs(result: Result) -> Iterable[str]:
    """crash's irq -b: each registered softirq's vector, handler and its symbol."""
    yield f"SOFTIRQ_VEC {'ACTION':^16}"
    for v in result.rows:
        module = f"  [{v.module}]" if v.module else ""
        yield f"    [{v.vector}]{' ' * (4 if v.vector < 10 else 3)} {v.action:016x}  " \
              f"<{v.symbol}>{module}"


def _symbol(session: Session, address: int) -> str | None:
    """``symbol+offset`` (decimal) of a kernel address, as crash's value_to_symstr()."""
    try:
        sym = find_symbol(session.prog, address)
    except LookupError:
        return None
    off = address - sym.address
    return f"{sym.name}+{off}" if off else sym.name


def _module(session: Session, address: int) -> str | None:
    try:
        mod = session.prog.module(address)
    except LookupError:
        return None
    return None if mod.name == "kernel" else mod.name


def idt(session: Session) -> Result:
    """``irq -d``: an :class:`IdtGate` per vector of x86-64's IDT."""
    try:
        handlers = idt_handlers(session.prog)
    except (KeyError, LookupError):
        raise CommandError("-d option not supported or applicable on this architecture "
                           "or kernel") from None
    except FaultError as exc:
        raise CommandError(f"cannot read the interrupt descriptor table at "
                           f"{exc.address:#x}") from None
    return Result([IdtGate(i, h, _symbol(session, h)) for i, h in enumerate(handlers)],
                  render=render_idt)


def softirqs(session: Session) -> Result:
    """``irq -b``: a :class:`SoftirqVec` per registered softirq handler."""
    try:
        actions = softirq_actions(session.prog)
    except (KeyError, LookupError):
        raise CommandError("bottom-half option not supported") from None
    return Result([SoftirqVec(i, a, _symbol(session, a) or f"{a:x}", _module(session, a))
                   for i, a in actions if a], render=render_softirqs)


def _actions(desc: Object) -> list[int]:
    """The irqactions of a descriptor's handler chain (bounded)."""
    return [a.value_() for a in chained(desc.action.read_(),
                                        f"the handler chain of {desc.value_():#x}")]


@command(
    "irq",
    summary="IRQ data",
    synopsis="irq [[index ...] | -u] | -d | -b | -a | -s [-c cpu]",
    description="""
Lists every interrupt number below nr_irqs, as crash does: its irq_desc (or
"(unused)" where none is allocated) and each irqaction with its handler's name,
one per line ("(unused)" where there is none); or only the interrupt numbers
given. -s shows per-CPU counts, the chip and flow type, as /proc/interrupts does;
-a shows each interrupt's CPU affinity.

-u lists every interrupt that has a descriptor (in use), with each irqaction of
its chain on a line of its own, or (unused); -d the x86-64 interrupt descriptor
table (each vector's handler); -b the softirq (bottom half) handlers; -c cpu
limits -s to these CPUs ("1,3,5", "1-3", "all" or "a").
""",
    examples="""
crash> irq -s
crash> irq -s -c 1
crash> irq -d
crash> irq -b
""",
    records=(Irq, IdtGate, SoftirqVec),
    arguments=(
        arg("-a", dest="affinity", action="store_true", help="CPU affinity"),
        arg("-s", dest="stats", action="store_true", help="per-CPU counts"),
        arg("-u", dest="in_use", action="store_true",
            help="only the IRQs in use (that have a descriptor)"),
        arg("-d", dest="idt", action="store_true",
            help="the interrupt descriptor table (x86-64)"),
        arg("-b", dest="bottom", action="store_true", help="the softirq handlers"),
        arg("-c", dest="cpus", metavar="cpu", help="with -s: only these CPUs"),
        arg("numbers", nargs="*", metavar="index"),
    ),
)
def irq(session: Session, args: argparse.Namespace) -> Result:
    """Return an :class:`Irq` per interrupt number (those asked for, else all below
    nr_irqs; -d, -b: their records)."""
    if args.idt:
        return idt(session)
    if args.bottom:
        return softirqs(session)
    prog = session.prog
    cpus = list(for_each_online_cpu(prog))
    if args.stats and args.cpus:
        chosen = set(cpu_mask(prog, args.cpus))
        cpus = [c for c in cpus if c in chosen]
    in_use = args.in_use and not args.stats and not args.affinity
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
        in_use = False  # crash: -u has no meaning for the numbers given
    rows = []
    for n in wanted:
        desc = descs.get(n)
        if desc is None:
            rows.append(Irq(n, 0, 0, [], "", [], {}))
            continue
        try:
            from drgn.helpers.linux.cpumask import for_each_cpu

            aff = list(for_each_cpu(irq_desc_affinity_mask(desc)))
        except Exception:
            aff = []
        chip = irq_desc_chip_name(desc)
        try:
            actions = _actions(desc)
        except WalkError as exc:
            errors.append(str(exc))
            actions = []
        flow = desc.name.string_().decode("utf-8", "replace") if desc.name else ""
        rows.append(Irq(n, desc.value_(), desc.action.value_(),
                        irq_action_names(desc),
                        chip.decode() if chip else "", aff,
                        {c: irq_desc_kstat_cpu(desc, c) for c in cpus}, actions, flow))
    table = ("stats" if args.stats else "affinity" if args.affinity
             else "in-use" if in_use else "handlers")
    if table in ("stats", "affinity"):  # the rows shown: those with handlers
        rows = [r for r in rows if r.actions]
    elif table == "in-use":  # those with a descriptor
        rows = [r for r in rows if r.desc]
    return Result(rows, render=render, errors=errors, view=IrqView(table, tuple(cpus)))
