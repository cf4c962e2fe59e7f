"""The memory layer's parsers under hypothesis, in-process, on small hand-built files:
whatever a damaged header says, reading it gives a result or one
:class:`~pycrash.errors.DumpError`, never another exception, and never asks for more
memory than the file has. Derandomized (the same examples every run) and fast: the fast
tier runs them."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import dumpgen
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pycrash.errors import DumpError
from pycrash.memory import elfcore, elffile
from pycrash.memory.formats import identify, kdump, lime
from pycrash.memory.formats.flattened import FlatSource
from pycrash.memory.formats.oldmem import elfcorehdr_from_cmdline
from pycrash.memory.source import FileSource

pytestmark = pytest.mark.fast
FUZZ = settings(derandomize=True, max_examples=150, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

PAGES = {pfn: bytes([pfn]) * 4096 for pfn in (1, 2, 5, 9)}
KDUMP = dumpgen.kdump(PAGES, max_mapnr=16, notes=dumpgen.crash_notes([1, 2]))
#: the kdump fields worth damaging: (offset, width) of the header's and sub-header's
KDUMP_FIELDS = [(8, 4), (428, 4), (432, 4), (436, 4), (440, 4), (460, 4),
                *((4096 + at, w) for at, w in ((8, 4), (12, 4), (16, 8), (24, 8), (32, 8),
                                               (40, 8), (48, 8), (56, 8), (80, 8), (88, 8),
                                               (96, 8)))]
#: interesting values: the edges of signed and unsigned fields, and random ones
VALUES = st.one_of(st.sampled_from([0, 1, 2, 0x7F, 0xFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF,
                                    1 << 63, (1 << 64) - 1, 4096, 4095, len(KDUMP)]),
                   st.integers(0, (1 << 64) - 1))


def _patch(data: bytes, at: int, width: int, value: int) -> bytes:
    value &= (1 << (8 * width)) - 1
    return data[:at] + value.to_bytes(width, "little") + data[at + width :]


def _file(tmp: Path, name: str, data: bytes) -> str:
    path = tmp / name
    path.write_bytes(data)
    return str(path)


def _read_kdump(path: str) -> None:
    """Identify, open with pycrash's reader and read every page of a kdump file."""
    identify(path)
    with FileSource(path) as src:
        kd = kdump.KdumpFile(src)
        kd.vmcoreinfo()
        kd.regs()
        for pfn in range(min(kd.header.max_mapnr, 64)):
            try:
                kd.read_page(pfn)
            except KeyError:
                pass


@FUZZ
@given(field=st.sampled_from(KDUMP_FIELDS), value=VALUES)
def test_kdump_header_fields(tmp_path: Path, field: tuple[int, int], value: int) -> None:
    path = _file(tmp_path, "k", _patch(KDUMP, *field, value))
    try:
        _read_kdump(path)
    except DumpError:
        pass


def _descs_at(data: bytes) -> int:
    block, sub, bitmaps = struct.unpack_from("<iiI", data, 428)
    return block * (1 + sub + bitmaps)


@FUZZ
@given(index=st.integers(0, len(PAGES) - 1), field=st.sampled_from([(0, 8), (8, 4), (12, 4)]),
       value=VALUES)
def test_kdump_page_descriptors(tmp_path: Path, index: int, field: tuple[int, int],
                                value: int) -> None:
    at = _descs_at(KDUMP) + 24 * index + field[0]
    path = _file(tmp_path, "k", _patch(KDUMP, at, field[1], value))
    try:
        _read_kdump(path)
    except DumpError:
        pass
    problem = kdump.descriptor_problem(path) if _opens(path) else ""
    assert problem == "" or "page descriptor" in problem


def _opens(path: str) -> bool:
    try:
        identify(path)
    except DumpError:
        return False
    return True


@FUZZ
@given(cut=st.integers(0, len(KDUMP)))
def test_kdump_truncated(tmp_path: Path, cut: int) -> None:
    path = _file(tmp_path, "k", KDUMP[:cut])
    try:
        _read_kdump(path)
    except DumpError:
        pass


@pytest.mark.parametrize("flags, name", [(kdump.COMPRESSED_ZLIB, "zlib"),
                                         (kdump.COMPRESSED_LZO, "lzo"),
                                         (kdump.COMPRESSED_SNAPPY, "snappy"),
                                         (kdump.COMPRESSED_ZSTD, "zstd")])
def test_corrupt_compressed_page_is_named(tmp_path: Path, flags: int, name: str) -> None:
    # garbage data under each compression's flag: the page and the compression are named
    data = bytearray(KDUMP)
    at = _descs_at(KDUMP)
    offset, size, _f, _pf = struct.unpack_from("<qIIQ", data, at)
    struct.pack_into("<I", data, at + 12, flags)
    data[offset : offset + size] = bytes([0xFF, 0x13, 0x37]) * (size // 3) + b"\xff" * (size % 3)
    path = _file(tmp_path, "k", bytes(data))
    with FileSource(path) as src:
        kd = kdump.KdumpFile(src)
        with pytest.raises(kdump.CorruptPage, match=rf"page 0x1 of the dump is corrupt \({name}"):
            kd.read_page(1)


@FUZZ
@given(data=st.binary(min_size=0, max_size=600))
def test_notes(data: bytes) -> None:
    notes = list(elffile.parse_notes(data))
    elfcore.collect(notes)


ELF = dumpgen.elf_core([(0x1000, 0x1000, 0x1000, 0x1000)], dumpgen.crash_notes([1]),
                       body=bytes(0x1000))


@FUZZ
@given(at=st.integers(0, 64 + 2 * 56 - 1), value=st.integers(0, 255))
def test_elf_headers(tmp_path: Path, at: int, value: int) -> None:
    path = _file(tmp_path, "e", ELF[:at] + bytes([value]) + ELF[at + 1 :])
    try:
        identify(path)
        with FileSource(path) as src:
            elfcore.read_header(src)
    except DumpError:
        pass


FLAT = dumpgen.flatten(KDUMP)


@FUZZ
@given(record=st.integers(0, 8), which=st.sampled_from([0, 8]),
       value=st.integers(-(1 << 63), (1 << 63) - 1))
def test_flattened_records(tmp_path: Path, record: int, which: int, value: int) -> None:
    data = bytearray(FLAT)
    pos = 4096
    for _ in range(record):
        _off, size = struct.unpack_from(">qq", data, pos)
        if _off < 0:
            break
        pos += 16 + size
    struct.pack_into(">q", data, pos + which, value)
    path = _file(tmp_path, "f", bytes(data))
    try:
        src = FlatSource(path)
        kdump.KdumpFile(src).vmcoreinfo()
    except DumpError:
        pass


LIME = dumpgen.lime([(0, bytes(4096)), (0x10000, bytes(8192))])


@FUZZ
@given(header=st.sampled_from([0, 32 + 4096]), field=st.sampled_from([(0, 4), (4, 4), (8, 8),
                                                                      (16, 8)]),
       value=VALUES)
def test_lime_headers(tmp_path: Path, header: int, field: tuple[int, int], value: int) -> None:
    path = _file(tmp_path, "l", _patch(LIME, header + field[0], field[1], value))
    try:
        lime.extents(path)
    except DumpError:
        pass


@FUZZ
@given(text=st.text(alphabet="0123456789abcdefxKMG@x -", max_size=30))
def test_elfcorehdr_argument(text: str) -> None:
    value = elfcorehdr_from_cmdline(f"elfcorehdr={text}")
    assert value is None or 0 <= value < 1 << 64


def test_elfcorehdr_forms() -> None:
    assert elfcorehdr_from_cmdline("elfcorehdr=1M@753012K") == 753012 << 10
    assert elfcorehdr_from_cmdline("a elfcorehdr=0x1000@0x2df5d000 b") == 0x2DF5D000
    assert elfcorehdr_from_cmdline("elfcorehdr=735M") == 735 << 20
    assert elfcorehdr_from_cmdline("elfcorehdr=99999999999999999999G") is None


def test_zlib_of_a_real_page_still_reads(tmp_path: Path) -> None:
    # the checks do not refuse a healthy file
    path = _file(tmp_path, "k", KDUMP)
    assert kdump.descriptor_problem(path) == ""
    with FileSource(path) as src:
        assert kdump.KdumpFile(src).read_page(5) == PAGES[5]
    assert zlib.decompress(zlib.compress(PAGES[1])) == PAGES[1]
