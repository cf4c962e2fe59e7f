"""sym's and p's renderers (no dump needed)."""

from __future__ import annotations

from pycrash.commands import p, sym

from pycrash.command import Result
from pycrash.kernel.format import CValue, ValueKind
from pycrash.kernel.symbols import SymbolRow


def test_sym_lines() -> None:
    rows = [SymbolRow(0xFFFFFFFF8EBCCF41, "T", "panic", 16, None, "kernel/panic.c", 276),
            SymbolRow(0xFFFFFFFFC0402000, "t", "loop_init", 0, "loop", None, None)]
    assert list(sym.render(Result(rows))) == [
        "ffffffff8ebccf41 (T) panic+16 kernel/panic.c: 276",
        "ffffffffc0402000 (t) loop_init [loop]"]


def test_p_values() -> None:
    scalar = ValueKind.SCALAR
    rows = [p.Printed(1, "jiffies", "jiffies", "volatile unsigned long",
                      CValue(scalar, text="4294893556", value=4294893556)),
            p.Printed(2, "init_task.tasks", None, "struct list_head",
                      CValue(ValueKind.STRUCT, items=(
                          CValue(scalar, "next", "0x10", 0x10),
                          CValue(scalar, "prev", "0x20", 0x20))))]
    assert list(p.render(Result(rows))) == [
        "jiffies = $1 = 4294893556", "$2 = {", "  next = 0x10,", "  prev = 0x20", "}"]
