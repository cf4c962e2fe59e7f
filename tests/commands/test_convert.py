"""eval, ascii, ptov/vtop, ptob and btop renderers (no dump needed)."""

from __future__ import annotations

from pycrash.commands import convert

from pycrash.command import Result


def test_eval() -> None:
    assert list(convert.render_number(Result([convert.Number(1 << 30)]))) == [
        "hexadecimal: 40000000  (1GB)", "    decimal: 1073741824", "      octal: 10000000000",
        "     binary: " + f"{1 << 30:064b}"]
    assert list(convert.render_number(Result([convert.Number((1 << 64) - 1)])))[1] == \
        "    decimal: 18446744073709551615  (-1)"


def test_ascii() -> None:
    rows = [convert.Characters(0x6F6C6C6568, "hello"), convert.Characters(0, "\0")]
    assert list(convert.render_characters(Result(rows))) == ["6f6c6c6568: hello", "0: <00>"]


def test_translations() -> None:
    rows = [convert.Translation(0xFF3CF91680001000, 0x1000), convert.Translation(0, None)]
    assert list(convert.render_translation(Result(rows))) == [
        "VIRTUAL           PHYSICAL", "ff3cf91680001000  1000", "0                 (not mapped)"]


def test_ptob_and_btop() -> None:
    rows = [convert.PageAddress(0x10, 0x10000)]
    assert list(convert.render_ptob(Result(rows))) == ["10: 10000"]
    assert list(convert.render_btop(Result(rows))) == ["10000: 10"]
