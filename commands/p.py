"""p: print the value of an expression, as gdb and crash print it."""

from __future__ import annotations

import argparse
import dataclasses
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from drgn import FaultError, Object, Type, TypeKind

from pycrash.command import Result, command
from pycrash.errors import CommandError
from pycrash.kernel.expr import evaluate
from pycrash.kernel.format import CValue, ValueKind, data_symbol, value_text, value_tree
from pycrash.kernel.percpu import CpuAddress
from pycrash.records import CSource
from pycrash.session import Session

#: ``symbol:cpuspec``: a name, then crash's CPU specification (empty, a[ll], a CPU list)
_CPUSPEC = re.compile(r"\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*:(?P<spec>[0-9a-z,\-]*)\s*")


@dataclass(frozen=True)
class Printed:
    """A value printed by p: its history number ($N), the expression, the symbol when the
    expression is one, its C type, and its value (a number's in ``value.value``); for a
    per-CPU symbol's instance, the CPU (crash's ``per_cpu(symbol, cpu)``), and a warning
    when a CPU was given for a symbol that is not per-CPU (then ignored)."""

    number: int
    expression: str
    symbol: str | None
    type: str
    value: CValue
    cpu: int | None = None
    warning: str | None = None


@dataclass(frozen=True)
class PerCpuVariable:
    """A per-CPU variable named without a CPU: its name, its C declaration and the
    address of each CPU's instance."""

    name: str
    declaration: CSource
    addresses: tuple[CpuAddress, ...]


def render(result: Result) -> Iterable[str]:
    """crash's p output: ``[symbol = ]$N = value`` (``per_cpu(symbol, N) = $N = ...`` for
    a per-CPU instance), a struct's value over several lines; a per-CPU variable named
    without a CPU as its type and its instances' addresses."""
    for p in result.rows:
        if isinstance(p, PerCpuVariable):
            yield "PER-CPU DATA TYPE:"
            yield f"  {p.declaration}"
            yield "PER-CPU ADDRESSES:"
            yield from (f"  [{a.cpu}]: {a.address:x}" for a in p.addresses)
            continue
        if p.warning:
            yield f"WARNING: {p.warning}"
        if p.cpu is not None:
            prefix = f"per_cpu({p.symbol}, {p.cpu}) = "
        else:
            prefix = f"{p.symbol} = " if p.symbol else ""
        yield from f"{prefix}${p.number} = {value_text(p.value)}".splitlines()


def _points_to_char(t: Type) -> bool:
    """Whether a pointer type points to a char: gdb prints the string, not the type."""
    target = t.type
    while target.kind == TypeKind.TYPEDEF:
        target = target.type
    return target.kind == TypeKind.INT and target.size == 1 and "char" in (target.name or "")


def value_record(session: Session, obj: Object, text: str, symbol: str | None,
                 hex_mode: bool, symbols: bool = True) -> Printed:
    """Return the :class:`Printed` of an evaluated object, numbered as the next value of
    the history (which keeps it for ``$N``); pointers into kernel symbols are followed by
    ``<symbol+offset>`` unless ``symbols`` is False (gdb's ``p/x``)."""
    t = obj.type_
    while t.kind == TypeKind.TYPEDEF:
        t = t.type
    try:
        if t.kind == TypeKind.POINTER and t.type.kind != TypeKind.FUNCTION \
                and not _points_to_char(t):
            value = obj.value_()
            shown = f"({obj.type_.type_name()}) {value:#x}"
            name = data_symbol(session.prog, value) if symbols else None
            if name:
                shown += f" <{name}>"
            tree = CValue(ValueKind.SCALAR, text=shown, value=value)
        else:
            tree = value_tree(obj, hex_mode, symbols)
            if tree.kind == ValueKind.SCALAR and tree.text.startswith("<error:"):
                raise CommandError(f"{text}: {tree.text[1:-1]}")
    except FaultError as exc:
        raise CommandError(f"cannot read memory at {exc.address:#x}: "
                           f"{session.explain_fault(exc)}") from None
    number = session.state.next_value()
    session.state.values[number] = obj
    return Printed(number, text, symbol, obj.type_.type_name(), tree)


def print_value(session: Session, text: str, hex_mode: bool, symbols: bool = True) -> Printed:
    """Evaluate ``text`` and return its :class:`Printed` record."""
    obj, symbol = evaluate(session.prog, text, session.state.values)
    return value_record(session, obj, text, symbol, hex_mode, symbols)


def _per_cpu(session: Session, name: str, spec: str | None, hex_mode: bool) -> list[Any]:
    """The records of a per-CPU symbol: each chosen CPU's instance, or with no CPU
    specification its declaration and addresses."""
    from pycrash.cmdlib.select import cpu_spec, dump_cpus
    from pycrash.kernel.percpu import per_cpu_address

    prog = session.prog
    obj = prog[name]
    if spec is None:
        addresses = tuple(CpuAddress(c, per_cpu_address(prog, obj.address_, c))
                          for c in dump_cpus(prog))
        return [PerCpuVariable(name, obj.type_.variable_declaration(name) + ";", addresses)]
    rows = []
    for cpu in cpu_spec(session, spec):
        instance = Object(prog, obj.type_, address=per_cpu_address(prog, obj.address_, cpu))
        rows.append(dataclasses.replace(value_record(session, instance, f"{name}:{cpu}", name,
                                                     hex_mode), cpu=cpu))
    return rows


@command(
    "p",
    summary="print the value of an expression",
    synopsis="p[/x|/d] [-x|-d] expression | symbol[:cpuspec]",
    raw=True,
    records=(Printed, PerCpuVariable),
    description="""
Evaluates a C expression over the kernel's symbols and types: globals,
member access (. and ->), subscripts, * and &, casts such as
(struct task_struct *)0xffff..., sizeof of a type or an expression, and C's
arithmetic, comparison and logical operators. -x shows integers in hex, -d
in decimal; p/x and p/d are gdb's forms of them (without the symbol's name).
Each value is numbered $1, $2, ... as crash (gdb) numbers them, and the
numbers name them again in later expressions: $N, $ (the last value), $$ (the
one before it), $$N (the Nth before the last). A char pointer shows its
string, as gdb does.

A per-CPU symbol alone shows its type and the address of each CPU's
instance; with a CPU specification it shows those CPUs' instances, each as
per_cpu(symbol, N):
   :             the CPU of the current context's task
   :a[ll]        every CPU
   :#[-#][,...]  a CPU list, e.g. 1,3,5 or 1-3 or 0,2-3
""",
    examples="""
crash> p jiffies
jiffies = $1 = 4294893784
crash> p init_task.comm
$2 = "swapper/0\\000\\000\\000\\000\\000\\000"
crash> p $1 - 100
crash> p sizeof(struct task_struct)
crash> p irq_stat                (its CPUs' addresses)
crash> p -x runqueues:1 | head -3
crash> p irq_stat:a
crash> p ((struct task_struct *)&init_task)->pid
""",
)
def p(session: Session, args: argparse.Namespace) -> Result:
    """Return a :class:`Printed` per value (one, or one per CPU of a per-CPU symbol), or
    the :class:`PerCpuVariable` of a per-CPU symbol named alone."""
    from pycrash.kernel.percpu import is_percpu_symbol

    text = args.text
    hex_mode = session.state.settings.get("radix") == 16
    while text.startswith("-") and len(text) > 1 and text[1] in "xd" and \
            (len(text) == 2 or text[2] == " "):
        hex_mode = text[1] == "x"
        text = text[2:].lstrip()
    gdb_format = text[:2] in ("/x", "/d") and text[2:3] in (" ", "")
    if gdb_format:  # p/x: crash hands the line to gdb, which names no symbol
        hex_mode = text[1] == "x"
        text = text[2:].lstrip()
    if not text:
        raise CommandError("no expression given")
    spec = _CPUSPEC.fullmatch(text)
    name = spec["name"] if spec else text.strip()
    if re.fullmatch(r"[A-Za-z_]\w*", name) and is_percpu_symbol(session.prog, name):
        return Result(_per_cpu(session, name, spec["spec"] if spec else None, hex_mode),
                      render=render)
    warning = None
    if spec is not None:
        # a CPU for a symbol that is not per-CPU: crash warns and prints the symbol
        try:
            session.prog.symbol(name)
        except LookupError:
            raise CommandError(f"no symbol \"{name}\" in current context") from None
        warning = f"{name} is not percpu; cpuspec ignored."
        text = name
    printed = print_value(session, text, hex_mode, symbols=not gdb_format)
    if gdb_format:
        printed = dataclasses.replace(printed, symbol=None)
    if warning:
        printed = dataclasses.replace(printed, warning=warning)
    return Result([printed], render=render)
