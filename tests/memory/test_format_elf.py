"""ELF on hand-built files: the header tables, notes, ELF vmcores, a vmlinux's facts, and
damaged files giving one DumpError (never another exception)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from dumpgen import PAGE, crash_notes, elf_core, note, prstatus
from elfgen import elf_core_without_notes, fake_vmlinux

from pycrash.errors import DumpError
from pycrash.memory import elffile, elfinfo
from pycrash.memory.formats import DumpKind, identify
from pycrash.memory.formats import elf as fmt
from pycrash.memory.source import FileSource

pytestmark = pytest.mark.fast

NOTES = crash_notes([11, 12])


def _core(loads: list[tuple[int, int, int, int]] | None = None,
          big_endian: bool = False) -> bytes:
    """An ELF vmcore: the notes, then two pages of memory (the second PT_LOAD filtered)."""
    head = 64 + 56 * 3 + len(NOTES)
    loads = loads if loads is not None else [(0x1000, head, PAGE, PAGE),
                                             (0x100000, head + PAGE, PAGE, 4 * PAGE)]
    return elf_core(loads, NOTES, body=b"\xaa" * 2 * PAGE, big_endian=big_endian)


def test_header_and_probe() -> None:
    data = _core()
    hdr = elffile.header(data)
    assert hdr is not None and hdr.little_endian and hdr.type == elffile.ET_CORE
    assert (hdr.phoff, hdr.phentsize, hdr.phnum) == (64, 56, 3)
    assert fmt.probe(data)
    assert elffile.header(data[:63]) is None
    assert elffile.header(data[:4] + b"\x01" + data[5:]) is None  # 32-bit
    assert not fmt.probe(fake_vmlinux(b"\1" * 20, "1.0")) and not fmt.probe(b"KDUMP   ")
    big = elffile.header(_core(big_endian=True))
    assert big is not None and not big.little_endian and big.phnum == 3


def test_segments_and_notes(tmp_path: Path) -> None:
    path = tmp_path / "vmcore"
    path.write_bytes(_core())
    with FileSource(str(path)) as src:
        hdr = elffile.header(src.pread(0, elffile.EHDR_SIZE))
        assert hdr is not None
        segs = elffile.segments(src, hdr)
    assert segs is not None
    assert [(s.type, s.paddr, s.filesz, s.memsz) for s in segs] == [
        (elffile.PT_NOTE, 0, len(NOTES), 0), (elffile.PT_LOAD, 0x1000, PAGE, PAGE),
        (elffile.PT_LOAD, 0x100000, PAGE, 4 * PAGE)]
    notes = list(elffile.parse_notes(path.read_bytes()[segs[0].offset :][: segs[0].filesz]))
    assert [(n.name, n.type) for n in notes] == [(b"CORE", 1), (b"CORE", 1), (b"VMCOREINFO", 0)]
    # an all-zero header ends the notes, and so does a note the data cuts off
    one = 12 + 8 + 336  # header, "CORE" padded, NT_PRSTATUS
    assert len(list(elffile.parse_notes(NOTES[:one] + bytes(12) + NOTES))) == 1
    assert len(list(elffile.parse_notes(NOTES[:-8]))) == 2


def test_identify_elf_vmcores(tmp_path: Path) -> None:
    path = tmp_path / "vmcore.elf"
    path.write_bytes(_core())
    assert identify(str(path)) == (str(path), DumpKind.ELF, True, False)  # 4 pages, 1 in file
    path.write_bytes(_core([(0x1000, 64 + 56 * 3 + len(NOTES), PAGE, PAGE)] * 2))
    assert not identify(str(path)).partial


@pytest.mark.parametrize("data,message", [
    (_core()[:64 + 56 * 2], "truncated vmcore (program headers cut off)"),
    (_core()[:-10], f"truncated vmcore: a segment ends at byte {len(_core()):#x} but the "
                    f"file has {len(_core()) - 10:#x} bytes"),
    (elf_core_without_notes(), "an ELF core file without notes, not a kernel vmcore"),
    (_core()[:4] + b"\x01" + _core()[5:], "only 64-bit ELF files are supported"),
    (_core()[:16] + struct.pack("<H", 1) + _core()[18:], "neither a vmcore nor a vmlinux"),
    (_core()[:54] + struct.pack("<H", 20) + _core()[56:], "corrupt ELF header (program headers"),
])
def test_damaged_elf_vmcores(tmp_path: Path, data: bytes, message: str) -> None:
    path = tmp_path / "vmcore"
    path.write_bytes(data)
    with pytest.raises(DumpError) as err:
        identify(str(path))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_vmlinux_facts(tmp_path: Path) -> None:
    path = tmp_path / "vmlinux"
    path.write_bytes(fake_vmlinux(bytes(range(20)), "9.9.9-test"))
    assert identify(str(path)).vmlinux
    names = [s.name for s in elffile.sections(str(path))]
    assert names == ["", ".note.gnu.build-id", ".rodata", ".debug_info", ".shstrtab"]
    assert elfinfo.build_id(str(path)) == bytes(range(20)).hex()
    assert elfinfo.release(str(path)) == "9.9.9-test"
    assert elfinfo.has_debug_info(str(path))
    assert elfinfo.section_data(str(path), ".debug_info") == bytes(16)
    assert elfinfo.section_data(str(path), ".nothing") is None


def test_section_table_agrees_with_pyelftools(tmp_path: Path) -> None:
    path = tmp_path / "vmlinux"
    path.write_bytes(fake_vmlinux(bytes(range(20)), "9.9.9-test"))
    with elffile.open_elf(str(path)) as elf:
        theirs = [(s.name, s["sh_type"], s["sh_flags"], s["sh_offset"], s["sh_size"])
                  for s in elf.iter_sections()]
    ours = elffile.sections(str(path))
    assert [(s.name, s.offset, s.size, s.flags) for s in ours] == \
        [(n, off, size, flags) for n, _t, flags, off, size in theirs]


def _damaged_vmlinuxes() -> list[bytes]:
    """Truncations of the fake vmlinux, and each byte of its ELF header and every third
    of its section headers (so every field) set to 0xff, one at a time."""
    good = fake_vmlinux(bytes(range(20)), "9.9.9-test")
    hdr = elffile.header(good)
    assert hdr is not None
    out = [good[:n] for n in range(0, len(good), 11)]
    for at in [*range(64), *range(hdr.shoff, len(good), 3)]:
        out.append(good[:at] + b"\xff" + good[at + 1 :])
    return out


def test_damaged_vmlinux_gives_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "vmlinux"
    failures = 0
    for data in _damaged_vmlinuxes():
        path.write_bytes(data)
        for check in (identify, elfinfo.has_debug_info, elfinfo.build_id, elfinfo.release,
                      lambda p: elfinfo.section_data(p, ".rodata")):
            try:
                check(str(path))
            except DumpError as exc:
                assert "\n" not in str(exc) and str(path) in str(exc)
                failures += 1
    assert failures > 100  # most damage is noticed


def test_open_elf_turns_pyelftools_errors_into_dump_errors(tmp_path: Path) -> None:
    path = tmp_path / "vmlinux"
    path.write_bytes(b"\x7fELF" + bytes(60))
    with pytest.raises(DumpError, match=f"{path}: damaged ELF file"), \
            elffile.open_elf(str(path)) as elf:
        list(elf.iter_sections())


def test_a_short_prstatus_note_gives_no_registers() -> None:
    """A damaged NT_PRSTATUS (its descriptor cut short) is a CPU without registers, in CPU
    order, never a struct.error."""
    from dumpgen import note, prstatus

    from pycrash.memory.elfcore import collect
    from pycrash.memory.elffile import parse_notes

    data = (note(b"CORE", 1, prstatus(7)) + note(b"CORE", 1, prstatus(8)[:100])
            + note(b"VMCOREINFO", 0, b"OSRELEASE=1\n"))
    regs, info = collect(parse_notes(data))
    assert [r.pid for r in regs] == [7, -1] and regs[1].regs == b""
    assert len(regs[0].regs) == 21 * 8 and info == b"OSRELEASE=1\n"


def test_a_qemu_dump_without_any_vmcoreinfo_is_one_line(tmp_path: Path) -> None:
    """A QEMU dump (its "QEMU" notes) without a VMCOREINFO note whose memory holds none
    either: refused in one line naming what is missing, not drgn's advice about QEMU."""
    from pycrash.memory.formats.base import Options

    notes = note(b"CORE", 1, prstatus(1)) + note(b"QEMU", 0, bytes(0x1B8))
    head = 64 + 56 * 2 + len(notes)
    path = tmp_path / "guest.dump"
    path.write_bytes(elf_core([(0x1000, head, PAGE, PAGE)], notes, body=b"\0" * PAGE))
    with pytest.raises(DumpError, match="QEMU dump without VMCOREINFO .* cannot tell which "
                                        "kernel it holds"):
        fmt.open([str(path)], Options())
