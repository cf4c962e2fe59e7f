"""A drgn Program without a dump: a few symbols and types, for tests that need no vmcore."""

from __future__ import annotations

from drgn import (
    Architecture,
    Object,
    Platform,
    PlatformFlags,
    Program,
    Symbol,
    SymbolBinding,
    SymbolKind,
    Type,
    TypeKind,
    TypeMember,
)

SYMBOLS = {"panic": (0xFFFFFFFF81000000, 0x100, SymbolKind.FUNC),
           "jiffies": (0xFFFFFFFF82000000, 8, SymbolKind.OBJECT)}


def program() -> Program:
    """Return a Program that knows :data:`SYMBOLS`, ``struct list_head`` and ``struct pair``
    (an int, a bit field and a list_head)."""
    prog = Program(Platform(Architecture.X86_64, PlatformFlags.IS_64_BIT
                            | PlatformFlags.IS_LITTLE_ENDIAN))

    def symbols(prog: Program, name: str | None, address: int | None,
                one: bool) -> list[Symbol]:
        found = [Symbol(n, a, s, SymbolBinding.GLOBAL, k) for n, (a, s, k) in SYMBOLS.items()
                 if (name is None or n == name) and (address is None or a <= address < a + s)]
        return found[:1] if one else found

    prog.register_symbol_finder("stub", symbols, enable_index=0)
    list_head = prog.struct_type("list_head", 16, ())
    ptr = prog.pointer_type(list_head)
    list_head = prog.struct_type("list_head", 16, (TypeMember(ptr, "next", 0),
                                                    TypeMember(ptr, "prev", 64)))
    uint = prog.int_type("unsigned int", 4, False)
    pair = prog.struct_type("pair", 24, (TypeMember(prog.int_type("int", 4, True), "count", 0),
                                         TypeMember(Object(prog, uint, bit_field_size=1),
                                                    "flag", 32),
                                         TypeMember(list_head, "node", 64)))
    types = {"list_head": list_head, "pair": pair, "unsigned int": uint}

    def find_type(prog: Program, kinds: object, name: str, filename: str | None) -> Type | None:
        t = types.get(name)
        return t if t is not None and t.kind in kinds else None  # type: ignore[operator]

    prog.register_type_finder("stub", find_type, enable_index=0)
    return prog


__all__ = ["TypeKind", "program"]
