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


def test_arm64_rd_s_and_bt_t_strip_pointer_authentication() -> None:
    """arm64 (Debian 12 signs return addresses): rd -s names a signed return address as its
    code (panic+N, not the raw word), and bt -t shows the addresses unsigned."""
    from conftest import fixture_dump

    s = fixture_dump("arm64-small").open()
    stack = s.run("bt").rows[0]
    lo = min(f.stack_addr for f in stack.frames if f.stack_addr)
    lines = s.run(f"rd -s {lo:x} 64").rows
    words = [(v, n) for line in lines for v, n in zip(line.values, line.symbols, strict=True)]
    signed = [(v, n) for v, n in words if v >> 56 not in (0, 0xFF) and v >> 55 & 1]
    assert signed, "no signed return address on the panic stack"
    named = [n for _v, n in signed if n is not None]  # the others are data, not pointers
    assert any(n.startswith("panic+") for n in named), signed
    assert all("+" in n for n in named), named  # return addresses: inside a function
    text = s.run("bt -t").rows[0]
    assert text.words and all(w.value >> 48 == 0xFFFF for w in text.words)
    assert "panic" in [w.name for w in text.words]


def test_rd_r_copies_the_bytes_crash_copies(dump, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """rd -r FILE ADDR COUNT writes the same bytes crash 8.0.2 writes, from a kernel virtual
    address (linux_banner: the guest's own uname -r in it) and a physical one; its line is
    crash's; without a count or -e, crash's error; an unreadable address writes nothing."""
    import subprocess

    from conftest import assert_one_line_error, pycrash

    script = (f"rd -r {tmp_path}/c1.bin linux_banner 64\n"
              f"rd -p -r {tmp_path}/c2.bin 1000 8192\nq\n")
    crash = subprocess.run(["crash", "-s", str(dump.vmlinux), str(dump.vmcore)],
                           input=script, capture_output=True, text=True, timeout=300)
    base = ["-s", str(dump.vmlinux), str(dump.vmcore), "-x"]
    run = pycrash(*base, f"rd -r {tmp_path}/p1.bin linux_banner 64; "
                  f"rd -p -r {tmp_path}/p2.bin 1000 8192")
    assert run.rc == 0, run.err
    lines = run.out.splitlines()
    assert lines == [ln.replace(f"{tmp_path}/c", f"{tmp_path}/p")
                     for ln in crash.stdout.splitlines() if "bytes copied" in ln]
    assert lines[1] == f"8192 bytes copied from 0x1000 to {tmp_path}/p2.bin"
    for n in (1, 2):
        assert (tmp_path / f"p{n}.bin").read_bytes() == (tmp_path / f"c{n}.bin").read_bytes()
    banner = (tmp_path / "p1.bin").read_bytes()
    assert banner.startswith(f"Linux version {dump.release} ".encode())
    run = pycrash(*base, f"rd -r {tmp_path}/p3.bin -e linux_banner+16 linux_banner")
    assert (tmp_path / "p3.bin").read_bytes() == banner[:16]
    assert_one_line_error(pycrash(*base, f"rd -r {tmp_path}/p4.bin linux_banner"),
                          "rd: -r option requires either a count argument or the -e option")
    assert_one_line_error(pycrash(*base, f"rd -r {tmp_path}/p5.bin 0 16"),
                          "rd: invalid kernel virtual address: 0")
    assert not (tmp_path / "p4.bin").exists() and not (tmp_path / "p5.bin").exists()
