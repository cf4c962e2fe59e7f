"""trace-cmd's ``trace.dat`` (file format version 6, trace-cmd.dat.v6(5)), as trace-cmd
record writes it and ``trace-cmd report`` reads it: the tracing directory's header and
format files, kallsyms, printk formats and saved command lines, then each CPU's ring
buffer pages (``flyrecord``), page aligned, as the kernel wrote them.

:func:`trace_dat` lays the file out from texts and pages; it knows nothing of dumps
(:mod:`pycrash.kernel.ftrace` reads them)."""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass

MAGIC = b"\x17\x08\x44tracing"
VERSION = b"6\0"


@dataclass(frozen=True)
class TraceData:
    """What a trace.dat holds: the page size, ``events/header_page`` and
    ``header_event``, the ftrace system's format files, the other systems' (name, format
    files), kallsyms, printk_formats and saved_cmdlines texts, and each CPU's pages."""

    page_size: int
    header_page: str
    header_event: str
    ftrace_formats: list[str]
    systems: list[tuple[str, list[str]]]
    kallsyms: str
    printk_formats: str
    cmdlines: str
    cpus: list[list[bytes]]


def _sized(text: str, size_format: str) -> bytes:
    raw = text.encode()
    return struct.pack(size_format, len(raw)) + raw


def header(data: TraceData) -> bytes:
    """Everything before the CPU data: up to and with the flyrecord's offsets table
    (offsets counted from a page-aligned start after it)."""
    out = [MAGIC, VERSION, b"\0", bytes([8]), struct.pack("<I", data.page_size)]
    out += [b"header_page\0", _sized(data.header_page, "<Q"),
            b"header_event\0", _sized(data.header_event, "<Q")]
    out.append(struct.pack("<I", len(data.ftrace_formats)))
    out += [_sized(f, "<Q") for f in data.ftrace_formats]
    out.append(struct.pack("<I", len(data.systems)))
    for name, formats in data.systems:
        out += [name.encode() + b"\0", struct.pack("<I", len(formats))]
        out += [_sized(f, "<Q") for f in formats]
    out += [_sized(data.kallsyms, "<I"), _sized(data.printk_formats, "<I"),
            _sized(data.cmdlines, "<Q"), struct.pack("<I", len(data.cpus)), b"flyrecord\0"]
    head = b"".join(out)
    table_end = len(head) + 16 * len(data.cpus)
    offset = -(-table_end // data.page_size) * data.page_size
    table = []
    for pages in data.cpus:
        size = data.page_size * len(pages)
        table.append(struct.pack("<QQ", offset, size))
        offset += size
    head += b"".join(table)
    return head + b"\0" * (-len(head) % data.page_size)


def trace_dat(data: TraceData) -> Iterable[bytes]:
    """The file's bytes, in pieces: the header, then each CPU's pages (each page padded
    to the page size)."""
    yield header(data)
    for pages in data.cpus:
        for page in pages:
            yield page[:data.page_size].ljust(data.page_size, b"\0")
