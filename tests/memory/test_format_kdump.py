"""The kdump format on hand-built files: probe, header, checks at identification, pages."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from dumpgen import PAGE, crash_notes, kdump

from pycrash.errors import DumpError
from pycrash.memory.formats import DumpKind, identify
from pycrash.memory.formats import kdump as fmt
from pycrash.memory.source import FileSource

pytestmark = pytest.mark.fast

PAGES = {1: b"A" * PAGE, 2: bytes(range(256)) * 16, 9: b"\0" * PAGE, 40: b"Z" * PAGE}


def _write(tmp_path: Path, data: bytes, name: str = "vmcore") -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_probe() -> None:
    assert fmt.probe(b"KDUMP   \x06\0\0\0") and fmt.probe(b"DISKDUMP")
    assert not fmt.probe(b"KDUMP") and not fmt.probe(b"\x7fELF\x02\x01") and not fmt.probe(b"")


@pytest.mark.parametrize("version", [5, 6])
def test_header_fields(tmp_path: Path, version: int) -> None:
    path = _write(tmp_path, kdump(PAGES, max_mapnr=64, version=version, dump_level=1,
                                  notes=crash_notes([7, 0])))
    with FileSource(path) as src:
        h = fmt.read_header(src)
    assert (h.version, h.release, h.block_size, h.max_mapnr, h.nr_cpus) == \
        (version, "9.9.9-test", PAGE, 64, 2)
    assert (h.dump_level, h.split, h.start_pfn, h.end_pfn) == (1, False, 0, 64)
    assert h.bitmap_offset == 2 * PAGE and h.bitmap_size == 2 * PAGE
    assert h.descs_offset == 4 * PAGE


def test_identify_and_read_pages(tmp_path: Path) -> None:
    path = _write(tmp_path, kdump(PAGES, dump_level=31, notes=crash_notes([7, 0])))
    assert identify(path) == (path, DumpKind.KDUMP, True, False)
    kd = fmt.KdumpFile(FileSource(path))
    for pfn, page in PAGES.items():
        assert kd.read_page(pfn) == page
    with pytest.raises(KeyError):
        kd.read_page(3)
    assert list(kd.excluded_runs()) == [(0, 1), (3, 6), (10, 30), (41, 23)]
    assert [r.pid for r in kd.regs()] == [7, 0]
    assert kd.vmcoreinfo().startswith(b"OSRELEASE=9.9.9-test\n")


def test_uncompressed_and_unfiltered(tmp_path: Path) -> None:
    path = _write(tmp_path, kdump(PAGES, compress=False, dump_level=0, signature=b"DISKDUMP"))
    assert not identify(path).partial
    assert fmt.KdumpFile(FileSource(path)).read_page(2) == PAGES[2]


def test_split_parts(tmp_path: Path) -> None:
    first = _write(tmp_path, kdump(PAGES, split=(0, 10)), "part1")
    last = _write(tmp_path, kdump(PAGES, split=(10, 64)), "part2")
    assert identify(first).split and identify(last).split
    one, two = fmt.KdumpFile(FileSource(first)), fmt.KdumpFile(FileSource(last))
    assert (one.header.start_pfn, one.header.end_pfn) == (0, 10)
    assert 40 in two.own and 40 not in one.own and 2 in one.own
    assert two.read_page(40) == PAGES[40]


@pytest.mark.parametrize("cut,message", [
    (100, "truncated kdump header"),
    (PAGE + 20, "truncated kdump file (sub-header cut off)"),
    (3 * PAGE, "truncated kdump file (bitmap cut off)"),
    (4 * PAGE + 30, "truncated kdump file (page table cut off)"),
    (4 * PAGE + 4 * 24 + 10, "truncated kdump file: page data ends at byte"),
])
def test_truncated(tmp_path: Path, cut: int, message: str) -> None:
    path = _write(tmp_path, kdump(PAGES)[:cut])
    with pytest.raises(DumpError, match=message.replace("(", r"\(").replace(")", r"\)")):
        identify(path)


@pytest.mark.parametrize("block_size", [0, -4096, 3000])
def test_corrupt_block_size(tmp_path: Path, block_size: int) -> None:
    data = bytearray(kdump(PAGES))
    struct.pack_into("<i", data, 8 + 4 + 390 + 6 + 16 + 4, block_size)
    with pytest.raises(DumpError, match=rf"corrupt kdump header \(block size {block_size}\)"):
        identify(_write(tmp_path, bytes(data)))


def test_reader_needs_the_notes_offsets(tmp_path: Path) -> None:
    # 40 bytes of sub-header tell what the file is; a reader needs 80
    path = _write(tmp_path, kdump(PAGES)[: PAGE + 40])
    with FileSource(path) as src:
        assert fmt.read_header(src).dump_level == 31
        with pytest.raises(DumpError, match="sub-header cut off"):
            fmt.KdumpFile(src)
    with FileSource(_write(tmp_path, b"not a dump", "other")) as src, \
            pytest.raises(DumpError, match="not a kdump compressed file"):
        fmt.read_header(src)


def test_damaged_page_descriptor(tmp_path: Path) -> None:
    data = bytearray(kdump(PAGES))
    struct.pack_into("<q", data, 4 * PAGE + 24, -5)  # the second page's offset
    kd = fmt.KdumpFile(FileSource(_write(tmp_path, bytes(data))))
    with pytest.raises(DumpError, match=r"page 0x2 of the dump is corrupt \(its descriptor "
                                        r"says 0x[0-9a-f]+ bytes at byte -0x5"):
        kd.read_page(2)


def test_excluded_reason_names_the_level() -> None:
    assert fmt.excluded_reason(31).startswith("page excluded from the dump by makedumpfile "
                                              "(dump level 31;")
