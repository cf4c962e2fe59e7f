"""whatis: the declaration of a symbol, or the layout of a type."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass

from drgn import TypeKind

from pycrash.cmdlib.structs import definition_lines, gdb_definition
from pycrash.command import Result, command
from pycrash.errors import CommandError
from pycrash.kernel.expr import complete_array
from pycrash.records import CSource
from pycrash.session import Session


@dataclass(frozen=True)
class Declaration:
    """What a name is in the kernel's debuginfo: a ``variable``, ``function``, ``typedef``,
    ``struct``, ``union``, ``enum`` or other ``type``; its C declaration or definition as
    gdb prints it; and the size in bytes of a struct, union or other type (else None)."""

    name: str
    kind: str
    text: CSource
    size: int | None = None


def render(result: Result) -> Iterable[str]:
    """crash's whatis output: the declaration; a struct's or union's definition and
    ``SIZE:``; ``type = NAME`` and ``SIZE:`` for other types."""
    for d in result.rows:
        if d.kind in ("struct", "union"):
            yield from definition_lines(d.text)
            yield f"SIZE: {d.size}"
        elif d.kind == "enum":
            yield from definition_lines(d.text)
        elif d.kind == "type":
            yield f"type = {d.text}"
            yield f"SIZE: {d.size}"
        else:
            yield d.text


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
                return Declaration(text, "function", f"{t.type.type_name()} {text}({params});")
            return Declaration(text, "variable", t.variable_declaration(text) + ";")
    t = None
    # a bare struct, union or enum tag names its type, as crash (gdb) takes it
    for name in (text, f"struct {text}", f"union {text}", f"enum {text}"):
        try:
            t = prog.type(name)
            break
        except (LookupError, SyntaxError, ValueError):
            continue
    if t is None:
        raise CommandError(f"{text}: not a symbol or type")
    if t.kind in (TypeKind.STRUCT, TypeKind.UNION):
        return Declaration(text, t.kind.name.lower(), gdb_definition(t), t.size)
    if t.kind == TypeKind.ENUM:
        return Declaration(text, "enum", str(t))
    if t.kind == TypeKind.TYPEDEF:
        return Declaration(text, "typedef", f"typedef {t.type.type_name()} {text};")
    return Declaration(text, "type", str(t.type_name()), t.size)


@command(
    "whatis",
    summary="search symbol table for data or type information",
    synopsis="whatis [struct | union | enum] name | symbol",
    raw=True,
    records=(Declaration,),
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
        raise CommandError("give a symbol or a type")
    return Result([declare(session, args.text)], render=render)
