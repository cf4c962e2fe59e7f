"""Telling files apart, choosing the format for a command line, and /dev/oldmem's ELF core
header, on hand-built files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from dumpgen import PAGE, VMCOREINFO, crash_notes, elf_core, kdump

from pycrash.errors import DumpError
from pycrash.memory import elfcore
from pycrash.memory.formats import DumpKind, Identified, Options, _choose, identify, oldmem
from pycrash.memory.source import FileSource

pytestmark = pytest.mark.fast


def test_kind_labels() -> None:
    assert [k.label for k in DumpKind] == ["", "", "[FLATTENED]", "[SPLIT]", "[LIME]", "[RAW]",
                                           "[OLDMEM]", "[LIVE]"]
    assert DumpKind.ELF == "elf-vmcore" and DumpKind("kdump") is DumpKind.KDUMP


@pytest.mark.parametrize("content,message", [
    (b"", "empty file, not a dump"),
    (b"this is not a crash dump\n", "not a kernel crash dump or vmlinux (unknown format, "
                                    "first bytes 7468697320697320)"),
    (b"\x7fELF\x01" + bytes(59), "only 64-bit ELF files are supported"),
    (b"\x7fELF\x02", "only 64-bit ELF files are supported"),
])
def test_identify_refuses(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "file"
    path.write_bytes(content)
    with pytest.raises(DumpError) as err:
        identify(str(path))
    assert str(err.value) == f"{path}: {message}"


def test_identify_unreadable(tmp_path: Path) -> None:
    with pytest.raises(DumpError, match="no such file"):
        identify(str(tmp_path / "none"))
    with pytest.raises(DumpError, match="is a directory, not a dump file"):
        identify(str(tmp_path))
    if os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.write_bytes(b"x")
        locked.chmod(0)
        with pytest.raises(DumpError, match="permission denied"):
            identify(str(locked))


def _dump(kind: DumpKind, path: str = "f", split: bool = False) -> Identified:
    return Identified(path, kind, split=split)


@pytest.mark.parametrize("dumps,raws,options,chosen", [
    ([_dump(DumpKind.KDUMP)], [], Options(), (DumpKind.KDUMP, ["f"])),
    ([_dump(DumpKind.KDUMP)], [], Options(zero_excluded=True), (DumpKind.KDUMP, ["f"])),
    ([_dump(DumpKind.ELF)], [], Options(), (DumpKind.ELF, ["f"])),
    ([_dump(DumpKind.FLATTENED)], [], Options(), (DumpKind.FLATTENED, ["f"])),
    ([_dump(DumpKind.KDUMP, "a", True), _dump(DumpKind.KDUMP, "b", True)], [], Options(),
     (DumpKind.SPLIT, ["a", "b"])),
    ([_dump(DumpKind.LIME, "m")], [], Options(), (DumpKind.LIME, ["m"])),
    ([_dump(DumpKind.LIME, "m")], ["r@0"], Options(), (DumpKind.RAW, ["r@0", "m"])),
    ([], ["r@0", "s@0x1000"], Options(), (DumpKind.RAW, ["r@0", "s@0x1000"])),
    ([], [], Options(oldmem="/dev/oldmem"), (DumpKind.OLDMEM, ["/dev/oldmem"])),
    ([], [], Options(live=True), (DumpKind.LIVE, [])),
])
def test_choose(dumps: list[Identified], raws: list[str], options: Options,
                chosen: tuple[DumpKind, list[str]]) -> None:
    assert _choose(dumps, raws, options) == chosen


@pytest.mark.parametrize("dumps,raws,options,message", [
    ([_dump(DumpKind.KDUMP)], [], Options(live=True), "--live reads the running kernel"),
    ([], [], Options(live=True, oldmem="x"), "--live reads the running kernel"),
    ([], ["r@0"], Options(oldmem="x"), "--oldmem is the only memory source"),
    ([_dump(DumpKind.KDUMP)], ["r@0"], Options(), "raw memory images (file@paddr) cannot be"),
    ([], [], Options(), "no dump file given (only a vmlinux)"),
])
def test_choose_refuses(dumps: list[Identified], raws: list[str], options: Options,
                        message: str) -> None:
    with pytest.raises(DumpError) as err:
        _choose(dumps, raws, options)
    assert str(err.value).startswith(message)


def test_elfcorehdr_from_cmdline() -> None:
    assert oldmem.elfcorehdr_from_cmdline("ro elfcorehdr=753012K quiet") == 753012 << 10
    assert oldmem.elfcorehdr_from_cmdline("elfcorehdr=0x2df5d000") == 0x2DF5D000
    assert oldmem.elfcorehdr_from_cmdline("elfcorehdr=0x1000@735M") == 735 << 20
    assert oldmem.elfcorehdr_from_cmdline("root=/dev/vda elfcorehdr") is None


def _oldmem_image(tmp_path: Path) -> tuple[str, int]:
    """An image laid out like /dev/oldmem: RAM from 0 to 64 KiB, the notes at 0x2000 and
    kexec's ELF core header at 0x8000, naming the RAM twice (as kexec does for the
    kernel's text) and a range beyond the image."""
    image = bytearray(b"m" * 16 * PAGE)
    notes = crash_notes([1, 0])
    image[0x2000 : 0x2000 + len(notes)] = notes
    header = elf_core([(0, 0, 16 * PAGE, 16 * PAGE), (0x1000, 0x1000, PAGE, PAGE),
                       (1 << 30, 1 << 30, PAGE, PAGE)], notes, note_at=0x2000)
    image[0x8000 : 0x8000 + len(header)] = header
    path = tmp_path / "oldmem"
    path.write_bytes(bytes(image))
    return str(path), 0x8000


def test_oldmem_elf_core_header(tmp_path: Path) -> None:
    path, at = _oldmem_image(tmp_path)
    warnings: list[str] = []
    extents, regs, info = oldmem.read(path, at, warnings)
    assert [(e.paddr, e.size, e.offset) for e in extents] == [(0, 16 * PAGE, 0)]
    assert len(warnings) == 1 and "1 RAM range from 0x40000000 on are not in it" in warnings[0]
    assert [r.pid for r in regs] == [1, 0] and len(regs[0].regs) == 168
    assert info == VMCOREINFO


def test_oldmem_image_cut_in_a_range(tmp_path: Path) -> None:
    path, at = _oldmem_image(tmp_path)
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[:0x8000 + 0x400])  # the header kept, the RAM range cut
    with pytest.raises(DumpError, match="truncated oldmem image: RAM 0x0-0xffff ends past"):
        oldmem.read(path, at)


@pytest.mark.parametrize("patch,message", [
    ({0x8000: b"\0"}, "no ELF core header at 0x8000"),
    ({0x8004: b"\x01"}, "only 64-bit little-endian ELF core headers are supported"),
    ({0x8005: b"\x02"}, "only 64-bit little-endian ELF core headers are supported"),
    ({0x8010: b"\x02"}, "the ELF header at 0x8000 is not a core header"),
    ({0x8036: b"\x40"}, "corrupt ELF core header at 0x8000"),
    ({0x8038: b"\0\0"}, "corrupt ELF core header at 0x8000"),
    ({0x8020: b"\0\xf0"}, "truncated ELF core header at 0x8000"),
])
def test_oldmem_damaged_header(tmp_path: Path, patch: dict[int, bytes], message: str) -> None:
    path, at = _oldmem_image(tmp_path)
    data = bytearray(Path(path).read_bytes())
    for where, value in patch.items():
        data[where : where + len(value)] = value
    Path(path).write_bytes(bytes(data))
    with pytest.raises(DumpError) as err, FileSource(path) as src:
        elfcore.read_header(src, at)
    assert str(err.value) == f"{path}: {message}"


def test_oldmem_without_memory(tmp_path: Path) -> None:
    path = tmp_path / "oldmem"
    path.write_bytes(elf_core([(1 << 30, 1 << 30, PAGE, PAGE)], b""))
    with pytest.raises(DumpError, match="the ELF core header at 0x0 names no memory"):
        oldmem.read(str(path), 0)


def test_kdump_notes_give_the_registers(tmp_path: Path) -> None:
    from pycrash.memory.formats.kdump import KdumpFile

    path = tmp_path / "vmcore"
    path.write_bytes(kdump({1: b"p" * PAGE}, notes=crash_notes([5, 6, 7])))
    assert [r.pid for r in KdumpFile(FileSource(str(path))).regs()] == [5, 6, 7]


def test_oldmem_device_is_read_without_a_size(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # a device (/dev/mem, /dev/oldmem) has st_size 0: every range of the header is served,
    # none is taken for lying beyond the image
    path, at = _oldmem_image(tmp_path)
    monkeypatch.setattr(oldmem.stat, "S_ISCHR", lambda mode: True)
    extents, _regs, _info = oldmem.read(path, at)
    assert [(e.paddr, e.size) for e in extents] == [(0, 16 * PAGE), (1 << 30, PAGE)]


#: a capture kernel's /proc/iomem (Debian 12's, under QEMU): the crashed kernel's RAM below
#: 0x63000000 is not listed; the ELF core header's page lies in "RAM buffer"
CAPTURE_IOMEM = """\
00000000-00000fff : Reserved
00001000-0009fbff : System RAM
63000000-6300000f : System RAM
63000010-92f5cfff : System RAM
  7b600000-7c3fffff : Kernel code
92f5d000-92fffbff : RAM buffer
"""


@pytest.mark.parametrize("addr,errno_,needle", [
    (0x92F5D000, "EPERM", 'it lies in "RAM buffer" of /proc/iomem, a busy region, which '
                          "CONFIG_IO_STRICT_DEVMEM keeps out of /dev/mem; open /proc/vmcore"),
    (0x7B600000, "EPERM", 'it lies in "Kernel code" of /proc/iomem'),
    (0x70000000, "EPERM", "it is this kernel's RAM, which CONFIG_STRICT_DEVMEM keeps out"),
    (0x1000000, "EPERM", "the kernel's CONFIG_STRICT_DEVMEM keeps it out of /dev/mem"),
    (0x9F000000, "EFAULT", "/dev/mem reads stop at the end of this kernel's own RAM "
                           "(0x92f5d000)"),
])
def test_devmem_refusal_says_why(addr: int, errno_: str, needle: str) -> None:
    import errno

    code = getattr(errno, errno_)
    line = oldmem.refusal("/dev/mem", addr, OSError(code, os.strerror(code)), CAPTURE_IOMEM)
    assert line.startswith(f"/dev/mem: the kernel refuses to read physical address {addr:#x} "
                           f"({errno_}, {os.strerror(code)}): ")
    assert needle in line and "\n" not in line


def test_oldmem_read_that_fails_is_one_error(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    # a read the kernel refuses (/dev/mem's EPERM, simulated) is a DumpError naming the
    # address and the error
    import errno

    import pycrash.memory.source as source

    image = tmp_path / "oldmem"
    image.write_bytes(bytes(4096))

    def refuse(fd: int, size: int, offset: int) -> bytes:
        raise PermissionError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(source.os, "pread", refuse)
    with pytest.raises(DumpError) as err:
        oldmem.read(str(image), 0x800)
    assert str(err.value).startswith(f"{image}: the kernel refuses to read physical address "
                                     "0x800 (EPERM, Operation not permitted)")
