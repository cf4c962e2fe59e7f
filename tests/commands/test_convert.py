"""eval, ascii, ptov/vtop, ptob and btop: the renderers (no dump needed), and the commands
on the real dump."""

from __future__ import annotations

import pytest
from pycrash.commands import convert

from pycrash.command import Result


@pytest.mark.fast
def test_eval() -> None:
    assert list(convert.render_number(Result([convert.Number(1 << 30)]))) == [
        "hexadecimal: 40000000  (1GB)", "    decimal: 1073741824", "      octal: 10000000000",
        "     binary: " + f"{1 << 30:064b}"]
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
    assert ev[0] == "hexadecimal: 3000  (12KB)" and ev[1] == "    decimal: 12288"
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
