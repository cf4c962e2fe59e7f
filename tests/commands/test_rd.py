"""rd: the renderer (no dump needed), and the command on the real dump."""

from __future__ import annotations

import re

import pytest
from pycrash.commands.rd import MemoryLine, MemoryString, RdView, render

from pycrash.command import Result


def _lines(rows: list, view: RdView) -> list[str]:  # type: ignore[type-arg]
    return list(render(Result(rows, render=render, view=view)))


@pytest.mark.fast
def test_hex_words_with_ascii() -> None:
    rows = [MemoryLine(0xFFFFFFFF8FC079C0, (0xFFFEDFF4, 0))]
    assert _lines(rows, RdView(64, False, False, 16)) == [
        "ffffffff8fc079c0:  00000000fffedff4  0000000000000000   ................"]
    rows = [MemoryLine(0x1000, (0x6c6c6568, 0x6f))]
    assert _lines(rows, RdView(32, False, False, 8)) == [
        "1000:  6c6c6568  0000006f   hello..."]


@pytest.mark.fast
def test_decimal_and_short_units() -> None:
    assert _lines([MemoryLine(0x10, (4294893556, 2))], RdView(64, True, False, 16)) == [
        "10:        4294893556                 2   ................"]
    assert _lines([MemoryLine(0x10, (0xdff4, 0xfffe))], RdView(16, False, False, 4)) == [
        "10:  dff4  fffe   ...."]


@pytest.mark.fast
def test_symbols_replace_addresses_and_drop_ascii() -> None:
    rows = [MemoryLine(0xFFFFFFFF8FC1AA60, (0xFFFFFFFF8FC00000, 0x0420000200000002),
                       ("init_stack", None)),
            MemoryLine(0xFFFFFFFF8FC1AA70, (0xFFFF888000001000, 0), (None, None))]
    assert _lines(rows, RdView(64, False, True, 16)) == [
        "ffffffff8fc1aa60:  init_stack        0420000200000002",
        "ffffffff8fc1aa70:  ffff888000001000  0000000000000000"]


@pytest.mark.fast
def test_a_string() -> None:
    assert _lines([MemoryString(0xFFFFFFFF8F31FFE0, "Linux version 6.1.0-")],
                  RdView(8, False, False, 2)) == ["ffffffff8f31ffe0:  Linux version 6.1.0-"]


def test_rd_s_on_the_panic_stack_shows_panic(session) -> None:  # type: ignore[no-untyped-def]
    frames = session.run("bt").rows[0].frames
    top = frames[0].stack_addr
    out = str(session.run(f"rd -s {top:x} 64"))
    assert re.search(r"\bpanic\+\d+\b", out)
    assert re.search(r"\bsysrq_handle_crash\+\d+\b", out)
    words = str(session.run("rd linux_banner 2")).splitlines()[0]
    assert words.endswith("   Linux version 6.")
    assert str(session.run("rd -a linux_banner")).split(":  ", 1)[1].startswith("Linux version ")
