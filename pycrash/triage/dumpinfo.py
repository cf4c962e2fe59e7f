"""Tier 0: what a dump says of itself without debuginfo.

The dump's own headers give its format, architecture and VMCOREINFO note; VMCOREINFO
gives the kernel release, build id, crash time and the page tables' root, so that a
drgn Program without any debuginfo can translate kernel addresses and
:mod:`pycrash.triage.printk` can read the log. Every byte is read through a
:class:`~pycrash.memory.source.ByteSource` (a local file or a remote one alike) by the
memory layer's own readers, the ones ``pycrash`` itself uses for flattened files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pycrash.errors import DumpError
from pycrash.memory.formats import DumpKind, Opened, open_from_source
from pycrash.memory.source import ByteSource

if TYPE_CHECKING:
    import drgn


@dataclass(frozen=True)
class DumpFacts:
    """A dump's identity: its format (``kdump``, ``elf``, ``flattened-kdump``,
    ``flattened-elf``), architecture, kernel release, build id, crash time (seconds since
    the epoch, None when the dump does not say), and its VMCOREINFO as ``{KEY: value}``."""

    format: str
    arch: str
    release: str
    build_id: str | None
    crash_time: int | None
    vmcoreinfo: dict[str, str]


def parse_vmcoreinfo(text: bytes) -> dict[str, str]:
    """Return VMCOREINFO's ``KEY=value`` lines as a dict."""
    out: dict[str, str] = {}
    for line in text.decode("ascii", "replace").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value.strip()
    return out


def open_dump(source: ByteSource) -> tuple[DumpFacts, Opened]:
    """Return the dump's :class:`DumpFacts` and the dump opened as a drgn Program over its
    memory, served by pycrash's readers from ``source``
    (:func:`pycrash.memory.formats.open_from_source`; no debuginfo yet: kernel addresses
    translate through VMCOREINFO's page tables; tiers 1 and 2 of a remote dump load the
    vmlinux into this Program). :class:`DumpError` with one line for a file that is not a
    usable dump."""
    opened = open_from_source(source)
    info = opened.vmcoreinfo
    if not info.strip(b"\0"):
        raise DumpError(f"{source.path}: no VMCOREINFO in the dump")
    inner = "kdump" if opened.kdump is not None else "elf"
    fmt = {DumpKind.ELF: "elf", DumpKind.KDUMP: "kdump"}.get(opened.kind, f"flattened-{inner}")
    platform = opened.prog.platform
    arch = "aarch64" if platform is not None and \
        platform.arch.name == "AARCH64" else "x86_64"
    release = opened.kdump.header.release if opened.kdump is not None else ""
    return _facts(fmt, arch, info, release), opened


def _facts(fmt: str, arch: str, info: bytes, header_release: str = "") -> DumpFacts:
    """Return the facts of a dump of ``fmt`` and ``arch`` whose VMCOREINFO is ``info``."""
    vi = parse_vmcoreinfo(info)
    release = vi.get("OSRELEASE") or header_release
    if not release:
        raise DumpError("the dump's VMCOREINFO names no kernel release")
    crash = vi.get("CRASHTIME")
    return DumpFacts(fmt, arch, release, vi.get("BUILD-ID") or None,
                     int(crash) if crash and crash.isdigit() else None, vi)


def reader(prog: drgn.Program) -> Callable[[int, int], bytes]:
    """Return ``read(address, size)`` over the Program's kernel virtual memory; a fault
    becomes :class:`DumpError`."""
    def read(address: int, size: int) -> bytes:
        try:
            return prog.read(address, size)
        except Exception as exc:
            raise DumpError(f"cannot read {size} bytes at {address:#x}: {exc}") from None
    return read
