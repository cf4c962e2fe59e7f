"""eval, ascii, ptov/vtop, ptob and btop: the renderers (no dump needed), and the commands
on the real dump."""

from __future__ import annotations

import pytest
from conftest import Dump, crash_commands
from pycrash.commands import convert

from pycrash.command import Result
from pycrash.errors import CommandError


@pytest.mark.fast
def test_eval() -> None:
    assert list(convert.render_number(Result([convert.Number(1 << 30)]))) == [
        "hexadecimal: 40000000  (1GB)", "    decimal: 1073741824  ", "      octal: 10000000000",
        "     binary: " + f"{1 << 30:064b}"]
    bits = Result([convert.Number((1 << 64) - 1)], view=convert.EvalView(bits=True))
    lines = list(convert.render_number(bits))
    # crash wraps the bits at 77 columns, the next line under the first bit
    assert lines[4] == "   bits set: " + " ".join(map(str, range(63, 41, -1))) + " "
    assert lines[5].startswith(" " * 13 + "41 40 ") and lines[-1].endswith(" 1 0 ")
    assert list(convert.render_number(Result([convert.Number((1 << 64) - 1)])))[1] == \
        "    decimal: 18446744073709551615  (-1)"


@pytest.mark.fast
def test_ascii() -> None:
    rows = [convert.Characters(0x6F6C6C6568, "hello\0\0\0"),
            convert.Characters(0x7F1B0A80, "\x80\n\x1b\x7f" + "\0" * 4)]
    # as crash prints them: 16 digits, 8 bytes, control characters named
    assert list(convert.render_characters(Result(rows))) == [
        "0000006f6c6c6568: hello<NUL><NUL><NUL>",
        "000000007f1b0a80: <80><LF><ESC><DEL><NUL><NUL><NUL><NUL>"]
    chart = list(convert.render_characters(Result([])))
    assert chart[0] == chart[-1] == "" and chart[3] == "  0 | NUL DLE  SP  0   @   P   '   p"


@pytest.mark.fast
def test_translations() -> None:
    rows = [convert.Translation(0xFF3CF91680001000, 0x1000),
            convert.Translation(0xFF3CF91680000000, 0)]
    # crash's ptov: a header per address, 16-column fields, an empty line between
    assert list(convert.render_ptov(Result(rows))) == [
        "VIRTUAL           PHYSICAL        ", "ff3cf91680001000  1000            ", "",
        "VIRTUAL           PHYSICAL        ", "ff3cf91680000000  0               "]


@pytest.mark.fast
def test_ptob_and_btop() -> None:
    rows = [convert.PageAddress(0x10, 0x10000)]
    assert list(convert.render_ptob(Result(rows))) == ["10: 10000"]
    assert list(convert.render_btop(Result(rows))) == ["10000: 10"]


def test_eval_and_translations(session) -> None:  # type: ignore[no-untyped-def]
    ev = str(session.run("eval 4096 * 3")).splitlines()
    assert ev[0] == "hexadecimal: 3000  (12KB)" and ev[1] == "    decimal: 12288  "
    assert str(session.run("ascii 6f6c6c6568")).strip() == "0000006f6c6c6568: hello" + \
        "<NUL>" * 3
    init = session.prog.symbol("init_task").address
    phys = session.run(f"vtop {init:x}").rows[0].physical
    assert phys is not None
    assert session.prog.read(phys, 64, True) == session.prog.read(init, 64)
    assert str(session.run("btop 10000")).strip() == "10000: 10"
    assert str(session.run("ptob 16")).strip() == "10: 10000"  # decimal, as crash reads it
    assert str(session.run("ptob 0x10")).strip() == "10: 10000"


def test_arm64_ptov_inverts_vtop() -> None:
    """ptov on arm64 goes through the kernel's own direct-map layout (it read x86-64's
    page_offset_base before and failed): a task_struct's physical address maps back."""
    from conftest import fixture_dump

    s = fixture_dump("arm64-small").open()
    task = s.panic_task.value_()
    (there,) = s.run(f"vtop {task:x}").rows
    (back,) = s.run(f"ptov {there.physical:x}").rows
    assert back.virtual == task and back.physical == there.physical != task


def test_eval_flags_and_ptov_per_cpu_as_crash(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    """Issue 18 (batch B): eval -l was taken as a symbol named l, -b listed no bits, 64g
    and bare hex words (41dc065) were refused and a symbol was its contents, where crash
    takes its address; ptov refused a per-CPU offset with a CPU specification and put
    every address under one header. Each command's lines are crash 8.0.2's on this dump
    (its trailing spaces included)."""
    commands = ["eval -l 64g", "eval -lb 64g", "eval -b 0x10", "eval -b -l 7", "eval -bl 5",
                "eval -b 41dc065", "eval 128 * 1m", "eval -b -1", "eval 1 + 2",
                "eval (init_task + 0x10)", "eval jiffies", "ptov 0 1000", "ptov 2000 1000:1",
                "ptov 1000:1 1000:0", "ptov 1000:a", "ptov 1000:"]
    theirs = crash_commands(dump, commands)
    for command in commands:
        assert str(session.run(command)).splitlines() == theirs[command], command
    init = session.prog.symbol("init_task").address
    assert theirs["eval (init_task + 0x10)"][0] == f"hexadecimal: {init + 0x10:x}  "
    with pytest.raises(CommandError, match="invalid cpu specification: 4"):
        session.run("ptov 1000:4")
