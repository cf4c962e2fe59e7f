"""dis's renderer: one record per instruction, crash's lines (no dump needed)."""

from __future__ import annotations

from pycrash.commands.dis import Instruction, render

from pycrash.command import Result


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
