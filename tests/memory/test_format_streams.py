"""Flattened streams, LiME images and raw images on hand-built files."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from dumpgen import PAGE, elf_core, flatten, kdump, lime

from pycrash.errors import DumpError
from pycrash.memory.formats import DumpKind, flattened, identify, raw
from pycrash.memory.formats import lime as lime_fmt
from pycrash.memory.formats.kdump import KdumpFile
from pycrash.memory.source import FileSource

pytestmark = pytest.mark.fast

PAGES = {0: b"x" * PAGE, 5: b"y" * PAGE}


def test_flattened_probe_and_identify(tmp_path: Path) -> None:
    stream = flatten(kdump(PAGES))
    assert flattened.probe(stream) and not flattened.probe(b"makedump")
    path = tmp_path / "vmcore.flat"
    path.write_bytes(stream)
    assert identify(str(path)) == (str(path), DumpKind.FLATTENED, True, False)


def test_flat_source_reads_the_dump_it_describes(tmp_path: Path) -> None:
    dump = kdump(PAGES)
    path = tmp_path / "vmcore.flat"
    path.write_bytes(flatten(dump, chunk=3000))
    src = flattened.FlatSource(str(path))
    assert src.size() == len(dump)
    assert src.pread(0, len(dump)) == dump
    assert src.pread(4000, 5000) == dump[4000:9000]
    assert src.pread(len(dump) - 10, 100) == dump[-10:]
    assert KdumpFile(src).read_page(5) == PAGES[5]
    plain = tmp_path / "vmcore"
    plain.write_bytes(dump)
    assert isinstance(flattened.open_source(str(path)), flattened.FlatSource)
    assert isinstance(flattened.open_source(str(plain)), FileSource)


def test_flat_source_holes_read_as_zeros(tmp_path: Path) -> None:
    path = tmp_path / "holes.flat"
    head = b"makedumpfile".ljust(4096, b"\0")
    path.write_bytes(head + struct.pack(">qq", 100, 4) + b"abcd" + struct.pack(">qq", -1, 0))
    assert flattened.FlatSource(str(path)).pread(96, 10) == b"\0\0\0\0abcd"


@pytest.mark.parametrize("cut,message", [
    (4096 + 10, "truncated flattened file (no end marker)"),
    (4096 + 16 + 100, "truncated or corrupt flattened file (record at byte 0x1000)"),
])
def test_flat_source_truncated(tmp_path: Path, cut: int, message: str) -> None:
    path = tmp_path / "cut.flat"
    path.write_bytes(flatten(kdump(PAGES))[:cut])
    with pytest.raises(DumpError) as err:
        flattened.FlatSource(str(path))
    assert str(err.value) == f"{path}: {message}"


def test_flattened_elf_dump_header(tmp_path: Path) -> None:
    from pycrash.memory import elfcore

    core = elf_core([(0x1000, 64 + 112, PAGE, PAGE)], b"") + b"z" * PAGE
    path = tmp_path / "elf.flat"
    path.write_bytes(flatten(core))
    segs = elfcore.read_header(flattened.FlatSource(str(path)))
    assert [(s.type, s.paddr, s.filesz) for s in segs] == [(4, 0, 0), (1, 0x1000, PAGE)]


def test_lime_probe_identify_and_extents(tmp_path: Path) -> None:
    image = lime([(0x1000, b"a" * 100), (0x100000, b"b" * 50)])
    assert lime_fmt.probe(image) and not lime_fmt.probe(image[:7])
    path = tmp_path / "mem.lime"
    path.write_bytes(image)
    assert identify(str(path)) == (str(path), DumpKind.LIME, False, False)
    found = lime_fmt.extents(str(path))
    assert [(e.paddr, e.size, e.offset) for e in found] == [(0x1000, 100, 32),
                                                            (0x100000, 50, 164)]
    assert found[1].source.pread(found[1].offset, 3) == b"bbb"


@pytest.mark.parametrize("image,message", [
    (lime([(0x1000, b"a" * 64)])[:20], "truncated LiME header at byte 0x0"),
    (lime([(0x1000, b"a" * 64)]) + b"junk" * 8, "bad LiME header at byte 0x60"),
    (struct.pack("<IIQQ8s", 0x4C694D45, 1, 0x2000, 0x1000, b""), "ends before it starts"),
    (lime([(0x1000, b"a" * 64)])[:-1], "claims 64 bytes but the file ends first"),
    (lime([(0x1000, b"a" * 64), (0x1010, b"b")]), "overlapping memory images"),
])
def test_lime_damaged(tmp_path: Path, image: bytes, message: str) -> None:
    path = tmp_path / "mem.lime"
    path.write_bytes(image)
    with pytest.raises(DumpError, match=message):
        lime_fmt.extents(str(path))


def test_raw_specs(tmp_path: Path) -> None:
    image = tmp_path / "ram.bin"
    image.write_bytes(b"r" * 4096)
    assert raw.is_spec(f"{image}@0x1000") and not raw.is_spec(str(image))
    assert not raw.is_spec("@0x1000")
    found = raw.images([f"{image}@0x100000", f"{image}@4096"])
    assert [(e.paddr, e.size) for e in found] == [(4096, 4096), (0x100000, 4096)]
    with pytest.raises(DumpError, match="overlapping memory images"):
        raw.images([f"{image}@0x0", f"{image}@0x800"])
    with pytest.raises(DumpError, match="bad physical address 'zz'"):
        raw.images([f"{image}@zz"])
    with pytest.raises(DumpError, match="no such file"):
        raw.images([f"{tmp_path / 'none'}@0"])
    (tmp_path / "empty").write_bytes(b"")
    with pytest.raises(DumpError, match="empty memory image"):
        raw.images([f"{tmp_path / 'empty'}@0"])
