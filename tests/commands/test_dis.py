"""dis: the renderer (no dump needed), and the command on the real dump."""

from __future__ import annotations

import re

import pytest
from pycrash.commands.dis import Instruction, render

from pycrash.command import Result


@pytest.mark.fast
def test_instructions_and_source_lines() -> None:
    rows = [Instruction(0xFFFFFFFF8EBCCF31, "panic", "0f1f440000", "nopl", "(%rax, %rax)",
                        "kernel/panic.c", 276),
            Instruction(0xFFFFFFFF8EBCCF36, "panic+5", "55", "pushq", "%rbp",
                        "kernel/panic.c", 276),
            Instruction(0xFFFFFFFF8EBCCF37, "panic+6", "c3", "retq", "",
                        "kernel/panic.c", 277)]
    assert list(render(Result(rows))) == [
        "kernel/panic.c: 276",
        "0xffffffff8ebccf31 <panic>:\tnopl   (%rax, %rax)",
        "0xffffffff8ebccf36 <panic+5>:\tpushq  %rbp",
        "kernel/panic.c: 277",
        "0xffffffff8ebccf37 <panic+6>:\tretq"]


def test_dis_r_ends_with_the_instruction_holding_the_address(session) -> None:  # type: ignore[no-untyped-def]
    """dis -r SYMBOL+OFF: from the function's start through the instruction that holds the
    address, as crash does (before issue 12, symbol+offset was not taken at all)."""
    start = session.prog.symbol("panic").address
    rows = session.run("dis -r panic+20").rows
    assert rows[0].address == start and rows[0].location == "panic"
    last = rows[-1]
    assert last.address <= start + 20 < last.address + len(bytes.fromhex(last.bytes))
    assert all(a.address < b.address for a, b in zip(rows, rows[1:], strict=False))


def test_dis_panic_5(session) -> None:  # type: ignore[no-untyped-def]
    rows = session.run("dis panic 5").rows
    assert len(rows) == 5
    assert rows[0].address == session.prog.symbol("panic").address
    assert rows[0].location == "panic" and rows[1].location.startswith("panic+")
    text = str(session.run("dis sysrq_handle_crash"))
    assert re.search(r"call\w*\s+0x[0-9a-f]+ <panic>", text)
    assert "drivers/tty/sysrq.c" in str(session.run("dis -l sysrq_handle_crash"))
