"""whatis: the declaration of a symbol, or the layout of a type."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass

from drgn import TypeKind
from pycrash.commands.struct import layout_lines

from pycrash.command import Result, command
from pycrash.errors import CommandError
from pycrash.kernel.expr import complete_array
from pycrash.session import Session


@dataclass(frozen=True)
class Declaration:
    """What ``whatis`` found: a variable, function or type, and its C text."""

    name: str
    kind: str
    lines: list[str]


def _render(result: Result) -> Iterable[str]:
    for d in result.rows:
        yield from d.lines


def declare(session: Session, text: str) -> Declaration:
    """Return the :class:`Declaration` of a symbol or type name."""
    prog = session.prog
    if not text.startswith(("struct ", "union ", "enum ")):
        try:
            obj = complete_array(prog[text])
        except KeyError:
            obj = None
        if obj is not None:
            t = obj.type_
            if t.kind == TypeKind.FUNCTION:
                params = ", ".join(p.type.type_name() for p in t.parameters) or "void"
                if t.is_variadic:
                    params += ", ..."
                return Declaration(text, "function", [f"{t.type.type_name()} {text}({params});"])
            return Declaration(text, "variable", [t.variable_declaration(text) + ";"])
    try:
        t = prog.type(text)
    except (LookupError, SyntaxError, ValueError):
        raise CommandError(f"whatis: {text}: not a symbol or type") from None
    if t.kind in (TypeKind.STRUCT, TypeKind.UNION, TypeKind.ENUM):
        lines = layout_lines(t, False) if t.kind != TypeKind.ENUM else \
            str(t).replace("\t", "    ").splitlines()
        return Declaration(text, "type", lines)
    if t.kind == TypeKind.TYPEDEF:
        return Declaration(text, "typedef", [f"typedef {t.type.type_name()} {text};"])
    return Declaration(text, "type", [f"type = {t.type_name()}", f"SIZE: {t.size}"])


@command(
    "whatis",
    summary="search symbol table for data or type information",
    synopsis="whatis [struct | union | enum] name | symbol",
    raw=True,
    description="""
For a kernel variable or function, shows its declaration; for a struct,
union or enum (or a typedef), its definition and size.
""",
    examples="""
crash> whatis init_task
struct task_struct init_task;
crash> whatis panic
void panic(const char *, ...);
crash> whatis struct list_head
""",
)
def whatis(session: Session, args: argparse.Namespace) -> Result:
    """Return one :class:`Declaration`."""
    if not args.text:
        raise CommandError("whatis: give a symbol or a type")
    return Result([declare(session, args.text)], render=_render)
