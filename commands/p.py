"""p: print the value of an expression, as gdb and crash print it."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass

from drgn import FaultError, Type, TypeKind

from pycrash.command import Result, command
from pycrash.errors import CommandError
from pycrash.kernel.expr import evaluate
from pycrash.kernel.format import CValue, ValueKind, value_text, value_tree
from pycrash.session import Session


@dataclass(frozen=True)
class Printed:
    """A value printed by p: its history number ($N), the expression, the symbol when the
    expression is one, its C type, and its value (a number's in ``value.value``)."""

    number: int
    expression: str
    symbol: str | None
    type: str
    value: CValue


def render(result: Result) -> Iterable[str]:
    """crash's p output: ``[symbol = ]$N = value``, a struct's value over several lines."""
    for p in result.rows:
        prefix = f"{p.symbol} = " if p.symbol else ""
        yield from f"{prefix}${p.number} = {value_text(p.value)}".splitlines()


def _points_to_char(t: Type) -> bool:
    """Whether a pointer type points to a char: gdb prints the string, not the type."""
    target = t.type
    while target.kind == TypeKind.TYPEDEF:
        target = target.type
    return target.kind == TypeKind.INT and target.size == 1 and "char" in (target.name or "")


def print_value(session: Session, text: str, hex_mode: bool) -> Printed:
    """Evaluate ``text`` and return its :class:`Printed` record."""
    obj, symbol = evaluate(session.prog, text)
    t = obj.type_
    while t.kind == TypeKind.TYPEDEF:
        t = t.type
    try:
        if t.kind == TypeKind.POINTER and t.type.kind != TypeKind.FUNCTION \
                and not _points_to_char(t):
            value = obj.value_()
            shown = f"({obj.type_.type_name()}) {value:#x}"
            try:
                sym = session.prog.symbol(value)
                if sym.address == value:
                    shown += f" <{sym.name}>"
            except LookupError:
                pass
            tree = CValue(ValueKind.SCALAR, text=shown, value=value)
        else:
            tree = value_tree(obj, hex_mode)
            if tree.kind == ValueKind.SCALAR and tree.text.startswith("<error:"):
                raise CommandError(f"{text}: {tree.text[1:-1]}")
    except FaultError as exc:
        raise CommandError(f"cannot read memory at {exc.address:#x}: "
                           f"{session.explain_fault(exc)}") from None
    return Printed(session.state.next_value(), text, symbol, obj.type_.type_name(), tree)


@command(
    "p",
    summary="print the value of an expression",
    synopsis="p[/x|/d] [-x|-d] expression | symbol[:cpu]",
    raw=True,
    records=(Printed,),
    description="""
Evaluates a C expression over the kernel's symbols and types: globals,
member access (. and ->), subscripts, * and &, casts such as
(struct task_struct *)0xffff..., and C's arithmetic, comparison and logical
operators. A per-CPU variable followed by :N shows CPU N's instance. -x
shows integers in hex, -d in decimal; p/x and p/d are gdb's forms of them
(without the symbol's name). Each value is numbered $1, $2, ... as crash
(gdb) numbers them; a char pointer shows its string, as gdb does.
""",
    examples="""
crash> p jiffies
jiffies = $1 = 4294893784
crash> p init_task.comm
$2 = "swapper/0\\000\\000\\000\\000\\000\\000"
crash> p -x runqueues:1 | head -3
crash> p ((struct task_struct *)&init_task)->pid
""",
)
def p(session: Session, args: argparse.Namespace) -> Result:
    """Return one :class:`Printed`."""
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
    printed = print_value(session, text, hex_mode)
    if gdb_format:
        printed = dataclasses.replace(printed, symbol=None)
    return Result([printed], render=render)
