"""whatis: the declaration of a symbol, or the layout of a type."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass

from drgn import Type, TypeKind

from pycrash.cmdlib.structs import (
    TypeLayout,
    definition_lines,
    gdb_definition,
    layout_lines,
    type_layout,
)
from pycrash.command import Result, command
from pycrash.errors import CommandError
from pycrash.kernel.expr import complete_array
from pycrash.kernel.typesearch import TypeSize
from pycrash.records import CSource
from pycrash.session import Session


@dataclass(frozen=True)
class Declaration:
    """What a name is in the kernel's debuginfo: a ``variable``, ``function``, ``typedef``,
    ``struct``, ``union``, ``enum`` or other ``type``; its C declaration or definition as
    gdb prints it; and the size in bytes of a struct, union or other type, or of a
    typedef of a struct, union or base type (else None)."""

    name: str
    kind: str
    text: CSource
    size: int | None = None


def render(result: Result) -> Iterable[str]:
    """crash's whatis output: the declaration; a struct's or union's definition (or a
    typedef's of one) and ``SIZE:``, with -o each member's offset; ``type = NAME`` and
    ``SIZE:`` for other types; for -r/-m a ``SIZE  TYPE`` table."""
    if result.rows and isinstance(result.rows[0], TypeSize):
        width = max(len(str(result.rows[-1].size)), len("SIZE"))
        yield f"{'SIZE':>{width}}  TYPE"
        yield from (f"{t.size:>{width}}  {t.name}" for t in result.rows)
        return
    if isinstance(result.view, WhatisView) and result.view.searched and not result.rows:
        yield "(none found)"
        return
    for d in result.rows:
        if isinstance(d, TypeLayout):
            yield from layout_lines(d, True)
        elif d.kind in ("struct", "union") or (d.kind == "typedef" and d.size is not None):
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
    if t.kind == TypeKind.ENUM:  # crash's list: one enumerator a line, no commas
        values = "".join(f"  {e.name} = {e.value}\n" for e in t.enumerators or ())
        return Declaration(text, "enum", f"{t.type_name()} {{\n{values}}};")
    if t.kind == TypeKind.TYPEDEF:
        target = _struct_of(t)
        if target is not None:  # crash shows the struct or union it names, as struct does
            return Declaration(text, "typedef", f"typedef {gdb_definition(target)} {text};",
                               target.size)
        base = t
        while base.kind == TypeKind.TYPEDEF:
            base = base.type
        if base.kind in (TypeKind.INT, TypeKind.FLOAT):  # crash names the base type
            return Declaration(text, "typedef", f"typedef {base.type_name()} {text};",
                               base.size)
        return Declaration(text, "typedef", f"typedef {t.type.type_name()} {text};")
    return Declaration(text, "type", str(t.type_name()), t.size)


def _struct_of(t: Type) -> Type | None:
    """The struct or union a typedef names (through other typedefs), or None."""
    while t.kind == TypeKind.TYPEDEF:
        t = t.type
    return t if t.kind in (TypeKind.STRUCT, TypeKind.UNION) else None


def _offsets_layout(session: Session, text: str) -> TypeLayout | None:
    """The :class:`TypeLayout` ``whatis -o`` shows for a struct or union (or a typedef of
    one); None for anything else (shown as without -o)."""
    prog = session.prog
    words = text.split()
    names = [" ".join(words)] if words[0] in ("struct", "union") else \
        [f"struct {text}", f"union {text}", text]
    for name in names:
        try:
            t = prog.type(name)
        except (LookupError, SyntaxError, ValueError):
            continue
        if name == text and t.kind != TypeKind.TYPEDEF:
            try:  # a variable's name: whatis shows its declaration
                prog[text]
                return None
            except KeyError:
                pass
        target = _struct_of(t)
        if target is None:
            return None
        layout = type_layout(target)
        if t.kind == TypeKind.TYPEDEF:
            body = layout.definition.rsplit("\n", 1)[0]
            layout = dataclasses.replace(layout, definition=f"typedef {body}\n}} {text};")
        return layout
    return None


@dataclass(frozen=True)
class WhatisView:
    """Whether whatis searched types (-r/-m), to say when it found none."""

    searched: bool = False


def _sizes(text: str) -> tuple[int, int]:
    """``-r size`` or ``-r low-high``: the sizes searched."""
    low, _, high = text.partition("-")
    try:
        return int(low, 0), int(high or low, 0)
    except ValueError:
        raise CommandError(f"invalid size or range: {text}") from None


@command(
    "whatis",
    summary="search symbol table for data or type information",
    synopsis="whatis [[-o] [struct | union | typedef | symbol]] | "
             "[[-r [size|range]] [-m member]]",
    raw=True,
    records=(Declaration, TypeLayout, TypeSize),
    description="""
For a kernel variable or function, shows its declaration; for a struct,
union or enum (or a typedef), its definition and size; a typedef of a
struct or union shows the struct or union, as struct does.

       -o  the offset of each member of a struct or union before it
 -r size   list the types of this size ...
 -r low-high   ... or of a size in this range
 -m type   list the structs and unions holding a member of a type whose
           name contains this text, or a pointer to one (embedded
           structs searched too)
-r and -m may be given together. The types listed are those of the
kernel's BTF (CONFIG_DEBUG_INFO_BTF): each struct, union, enum, typedef
and base type once, smallest first; crash's gdb lists only the typedefs
it has already resolved.
""",
    examples="""
crash> whatis init_task
struct task_struct init_task;
crash> whatis panic
void panic(const char *, ...);
crash> whatis struct list_head
crash> whatis -o wait_queue_head_t
crash> whatis -r 192
crash> whatis -r 256-512 -m task_struct
""",
)
def whatis(session: Session, args: argparse.Namespace) -> Result:
    """Return one :class:`Declaration` (a :class:`TypeLayout` with -o), or for -r/-m a
    :class:`TypeSize` per type found."""
    words = args.text.split()
    offsets = False
    sizes: tuple[int, int] | None = None
    member: str | None = None
    while words and words[0].startswith("-") and len(words[0]) > 1:
        flags = words.pop(0)[1:]
        for i, flag in enumerate(flags):
            if flag == "o":
                offsets = True
                continue
            if flag not in "rm":
                raise CommandError(f"invalid option: -{flag}")
            value = flags[i + 1:] or (words.pop(0) if words else "")
            if not value:
                raise CommandError(f"-{flag} needs an argument")
            if flag == "r":
                sizes = _sizes(value)
            else:
                member = value
            break
    if sizes is not None or member is not None:
        from pycrash.kernel.typesearch import search_types

        low, high = sizes if sizes is not None else (None, None)
        try:
            found = search_types(session.prog, low, high, member)
        except LookupError as exc:
            raise CommandError(str(exc)) from None
        return Result(found, render=render, view=WhatisView(True))
    text = " ".join(words)
    if not text:
        raise CommandError("give a symbol or a type")
    if offsets:
        layout = _offsets_layout(session, text)
        if layout is not None:
            return Result([layout], render=render)
    return Result([declare(session, text)], render=render)
