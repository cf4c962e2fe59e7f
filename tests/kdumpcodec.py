"""Re-compress a kdump file's pages with another codec (test helper).

QEMU's ``dump-guest-memory`` writes kdump files compressed with zlib, LZO or snappy;
Debian's QEMU offers only zlib. This writes, from a real zlib file, the file QEMU would
have written with LZO or snappy: the same headers, bitmaps and notes, each page
descriptor pointing at its page re-compressed (or stored as is when that is not
smaller, as QEMU does), with the codec's flag.
"""

from __future__ import annotations

import zlib
from pathlib import Path

from pycrash.memory.formats.kdump import (
    COMPRESSED_LZO,
    COMPRESSED_SNAPPY,
    COMPRESSED_ZLIB,
    PAGE_DESC,
    read_header,
)
from pycrash.memory.source import FileSource


def _compressor(codec: str):  # type: ignore[no-untyped-def]
    if codec == "lzo":
        from lzallright import LZOCompressor

        return COMPRESSED_LZO, LZOCompressor().compress
    import cramjam

    return COMPRESSED_SNAPPY, lambda data: bytes(cramjam.snappy.compress_raw(data))


def transcode(src: Path, dst: Path, codec: str) -> int:
    """Write ``src`` (a zlib kdump file) to ``dst`` with its pages in ``codec`` ("lzo" or
    "snappy"); return how many distinct pages were re-compressed."""
    flag, compress = _compressor(codec)
    source = FileSource(str(src))
    header = read_header(source, 80)
    data = src.read_bytes()
    start = header.descs_offset
    first = PAGE_DESC.unpack_from(data, start)[0]  # page data follows the descriptors
    count = (first - start) // PAGE_DESC.size
    assert header.offset_note + header.size_note <= start, "notes after the page data"
    out = bytearray(data[:first])
    done: dict[int, tuple[int, int, int]] = {}
    for i in range(count):
        offset, size, flags, page_flags = PAGE_DESC.unpack_from(data, start + i * PAGE_DESC.size)
        if offset not in done:  # QEMU points every zero page at one copy
            raw = data[offset:offset + size]
            page = zlib.decompress(raw) if flags & COMPRESSED_ZLIB else raw
            packed = compress(page)
            new, new_flags = (packed, flag) if len(packed) < len(page) else (page, 0)
            done[offset] = (len(out), len(new), new_flags)
            out += new
        PAGE_DESC.pack_into(out, start + i * PAGE_DESC.size, *done[offset], page_flags)
    dst.write_bytes(bytes(out))
    return sum(1 for _o, _s, f in done.values() if f)
