"""What every format module deals in: the kinds of dump, the options, and what opening gives.

:class:`Options`, :class:`Identified` and :class:`Opened` are NamedTuples, as are
the headers the format modules read: all are defined at every session start,
where a frozen dataclass costs about 1 ms to define and a NamedTuple 0.07 ms.
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    import drgn

    from pycrash.memory.elfcore import PrStatus
    from pycrash.memory.formats.kdump import KdumpFile


class DumpKind(str, Enum):
    """Where a target's memory comes from; the value is the name pycrash has always used."""

    ELF = "elf-vmcore"
    KDUMP = "kdump"
    FLATTENED = "flattened"
    SPLIT = "split"
    LIME = "lime"
    RAW = "raw"
    OLDMEM = "oldmem"
    LIVE = "live"

    @property
    def label(self) -> str:
        """How ``sys`` labels this kind after the file names (``[FLATTENED]``), or ""."""
        return "" if self in (DumpKind.ELF, DumpKind.KDUMP) else f"[{self.name}]"


class Options(NamedTuple):
    """How to open a target: the command line's choices, and the vmlinux given (memory
    without VMCOREINFO is searched for its banner)."""

    force: bool = False
    zero_excluded: bool = False
    live: bool = False
    oldmem: str | None = None
    elfcorehdr: int | None = None
    vmlinux: str | None = None


class Identified(NamedTuple):
    """What a file is, from its bytes: a dump of ``kind``, or (``kind`` None) a vmlinux.

    ``partial`` is true for a dump that makedumpfile filtered (crash's ``[PARTIAL
    DUMP]``); ``split`` for one part of a ``makedumpfile --split`` set.
    """

    path: str
    kind: DumpKind | None
    partial: bool = False
    split: bool = False

    @property
    def vmlinux(self) -> bool:
        """Whether the file is a kernel (an ELF executable), not a dump."""
        return self.kind is None


class Opened(NamedTuple):
    """A dump opened as a drgn Program (no debug info yet), and what the target says of it.

    ``regs`` are the CPUs' NT_PRSTATUS registers when pycrash read the notes itself;
    ``kdump`` the kdump reader pycrash serves the memory with; ``own_reader`` is true
    when pycrash serves the memory (faults then name physical addresses); ``qemu`` when
    QEMU wrote the dump (dump-guest-memory: its notes are per vCPU); ``notes`` are
    warnings about the dump to show the user (damage pycrash works around);
    ``vmcoreinfo`` is the VMCOREINFO text pycrash gave drgn (the dumps it serves from
    a byte source: :func:`pycrash.memory.formats.open_from_source`), else empty.
    """

    prog: drgn.Program
    kind: DumpKind
    dumpfiles: tuple[str, ...]
    partial: bool = False
    regs: tuple[PrStatus, ...] = ()
    kdump: KdumpFile | None = None
    own_reader: bool = False
    qemu: bool = False
    notes: tuple[str, ...] = ()
    vmcoreinfo: bytes = b""
