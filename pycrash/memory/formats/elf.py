"""ELF vmcores (``/proc/vmcore`` copied, ``makedumpfile -E``, QEMU's dump-guest-memory).

drgn reads them itself; pycrash checks at open that the program headers and
every segment are in the file (a truncated copy is refused here, not in the
middle of a command), and that there are notes (VMCOREINFO, the CPUs' registers).
"""

from __future__ import annotations

from collections.abc import Sequence

from pycrash.errors import DumpError
from pycrash.memory import custom, elfcore, elffile
from pycrash.memory.formats.base import DumpKind, Identified, Opened, Options
from pycrash.memory.source import ByteSource, FileSource


def probe(head: bytes) -> bool:
    """Return whether ``head`` (a file's first bytes) starts a 64-bit ELF core file."""
    hdr = elffile.header(head)
    return hdr is not None and hdr.type == elffile.ET_CORE


def _partial(segments: Sequence[elffile.Segment]) -> bool:
    """Whether makedumpfile left pages out: a PT_LOAD with less in the file than in memory."""
    return any(s.type == elffile.PT_LOAD and s.filesz < s.memsz for s in segments)


def _segments(path: str, source: ByteSource, head: bytes) -> list[elffile.Segment]:
    """Return the program headers of the ELF core whose first bytes are ``head``."""
    hdr = elffile.header(head)
    assert hdr is not None  # probe() said so
    found = elffile.segments(source, hdr)
    if found is None:
        raise DumpError(f"{path}: truncated vmcore (program headers cut off)")
    return found


def inspect(path: str, source: ByteSource, head: bytes) -> Identified:
    """Return what the ELF vmcore ``path`` is (filtered?), refusing a truncated file or a
    core file without notes (not a kernel's)."""
    size = source.size()
    segments = _segments(path, source, head)
    for s in segments:
        if s.type in (elffile.PT_LOAD, elffile.PT_NOTE) and s.offset + s.filesz > size:
            raise DumpError(
                f"{path}: truncated vmcore: a segment ends at byte {s.offset + s.filesz:#x} "
                f"but the file has {size:#x} bytes"
            )
    if not any(s.type == elffile.PT_NOTE for s in segments):
        raise DumpError(f"{path}: an ELF core file without notes, not a kernel vmcore")
    return Identified(path, DumpKind.ELF, partial=_partial(segments))


def _read(path: str, source: ByteSource,
          ) -> tuple[list[elffile.Segment], list[elffile.Note], int | str]:
    """Return the program headers, the notes and the machine (ELF ``e_machine``) of the
    ELF vmcore in ``source``."""
    first = source.pread(0, elffile.EHDR_SIZE)
    segments = _segments(path, source, first)
    notes = [n for s in segments if s.type == elffile.PT_NOTE
             for n in elffile.parse_notes(source.pread(s.offset,
                                                       min(s.filesz, elfcore.MAX_NOTES)))]
    head = elffile.header(first)
    return segments, notes, head.machine if head is not None else "x86_64"


def open(paths: Sequence[str], options: Options) -> Opened:  # noqa: A001
    """Open one ELF vmcore with drgn's reader."""
    path = paths[0]
    with FileSource(path) as src:
        segments, notes, machine = _read(path, src)
    qemu = elfcore.is_qemu(notes)
    regs, info = elfcore.collect(notes, machine)
    if info is None and (qemu or _guest_memory(segments)):
        # a guest's memory: its NT_PRSTATUS notes are by vCPU, as QEMU writes them
        regs, _info = elfcore.collect(notes, machine, qemu=True)
        return _without_vmcoreinfo(FileSource(path), segments, notes, machine, tuple(regs),
                                   qemu, options.vmlinux)
    return Opened(custom.core_dump_program(path), DumpKind.ELF, (path,), _partial(segments),
                  qemu=qemu)


def from_source(source: ByteSource, options: Options) -> Opened:
    """Open the ELF vmcore that ``source`` serves (a remote file read by byte range) with
    pycrash's reader: its PT_LOADs become drgn's memory segments, each read from the
    source when drgn asks, and the CPUs' registers come from its NT_PRSTATUS notes."""
    path = source.path
    inspect(path, source, source.pread(0, elffile.EHDR_SIZE))
    segments, notes, machine = _read(path, source)
    qemu = elfcore.is_qemu(notes)
    regs, info = elfcore.collect(notes, machine)
    if info is None and (qemu or _guest_memory(segments)):
        regs, _info = elfcore.collect(notes, machine, qemu=True)
        return _without_vmcoreinfo(source, segments, notes, machine, tuple(regs), qemu,
                                   options.vmlinux)
    if info is None:
        raise DumpError(f"{path}: a core file, but not of a Linux kernel (no VMCOREINFO)")
    from pycrash.memory.physmem import Extent, drop_aliases

    prog = custom.new_program(machine)
    custom.add_extents(prog, drop_aliases([Extent(s.paddr, s.filesz, source, s.offset)
                                           for s in segments
                                           if s.type == elffile.PT_LOAD and s.filesz]))
    custom.finish(prog, info)
    return Opened(prog, DumpKind.ELF, (path,), _partial(segments), tuple(regs),
                  own_reader=True, qemu=qemu, vmcoreinfo=info)


def _guest_memory(segments: Sequence[elffile.Segment]) -> bool:
    """Whether the PT_LOADs of a core without VMCOREINFO describe a machine's physical
    memory (QEMU's arm64 dumps have no "QEMU" notes to say so), not a process's (whose
    physical addresses are all 0)."""
    return any(s.type == elffile.PT_LOAD and s.paddr for s in segments)


def _without_vmcoreinfo(source: ByteSource, segments: Sequence[elffile.Segment],
                        notes: Sequence[elffile.Note], machine: int | str,
                        regs: tuple[elfcore.PrStatus, ...], qemu: bool,
                        vmlinux: str | None) -> Opened:
    """Serve a QEMU dump of a guest run without ``-device vmcoreinfo`` (drgn refuses it):
    pycrash reads its PT_LOADs and finds the kernel's own VMCOREINFO text in its memory,
    or else the ``vmlinux``'s banner (the release, KASLR offset and phys_base; the
    vmlinux is checked against the build id in memory later)."""
    from pycrash.memory.locate import cpu_states
    from pycrash.memory.physmem import Extent

    path = source.path
    extents = [Extent(s.paddr, s.filesz, source, s.offset)
               for s in segments if s.type == elffile.PT_LOAD and s.filesz]
    what = (f"{path}: a QEMU dump without VMCOREINFO (the guest ran without -device "
            "vmcoreinfo), and none found in its memory" if qemu else
            f"{path}: an ELF dump of physical memory without VMCOREINFO, and none found in "
            "its memory")
    prog, info = custom.images_program_info(extents, vmlinux, what,
                                            elffile.ARCHES.get(machine, ""), cpu_states(notes))
    return Opened(prog, DumpKind.ELF, (path,), _partial(segments), regs, own_reader=True,
                  qemu=qemu, vmcoreinfo=info)
