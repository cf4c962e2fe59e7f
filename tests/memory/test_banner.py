"""QEMU dumps without VMCOREINFO whose memory lost the kernel's own VMCOREINFO text too:
pycrash finds the kernel by the vmlinux's ``linux_banner`` in physical memory
(:mod:`pycrash.memory.locate`). The real dumps of the qemu-novmcoreinfo fixture (and the
arm64 QEMU dump with its note hidden) are copied with every ``OSRELEASE=`` blanked, so the
scan for the kernel's text finds nothing; the guest's truth checks what pycrash makes of
them: the KASLR offset against ``_stext`` in kallsyms, ``ps`` against /proc, ``bt``
against the guest's stacks."""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import pytest
from conftest import (
    Dump,
    assert_one_line_error,
    fixture_dump,
    parse_stat,
    pycrash,
    same_comm,
)

CHUNK = 1 << 24
#: what a scan for the kernel's VMCOREINFO text looks for
VMCOREINFO_TEXT = b"OSRELEASE="


def blank(src: Path, dst: Path, *needles: bytes) -> int:
    """Copy ``src`` to ``dst`` with every occurrence of ``needles`` overwritten by as many
    ``X``; return how many were."""
    keep = max(len(n) for n in needles) - 1
    count = 0
    with open(src, "rb") as f, open(dst, "wb") as g:
        carry = b""
        while data := f.read(CHUNK):
            buf = carry + data
            for needle in needles:
                count += buf.count(needle)
                buf = buf.replace(needle, b"X" * len(needle))
            g.write(buf[:-keep])
            carry = buf[-keep:]
        g.write(carry)
    return count


def blank_kdump(src: Path, dst: Path, needle: bytes) -> int:
    """Copy the kdump file ``src`` to ``dst`` with every page that holds ``needle`` stored
    again, uncompressed and blanked, at the end of the file; return how many were."""
    from pycrash.memory.formats.kdump import PAGE_DESC, KdumpFile
    from pycrash.memory.source import FileSource

    shutil.copyfile(src, dst)
    kd = KdumpFile(FileSource(str(src)))
    mem, page = kd.physical(), kd.page_size
    pfns = set()
    for done in range(0, mem.size(), CHUNK):
        data = mem.pread(done, CHUNK)
        at = data.find(needle)
        while at >= 0:
            pfns.add((done + at) // page)
            at = data.find(needle, at + 1)
    with open(dst, "r+b") as f:
        for pfn in sorted(pfns):
            data = kd.read_page(pfn).replace(needle, b"X" * len(needle))
            end = f.seek(0, 2)
            f.write(data)
            at = kd.header.descs_offset + kd.own.rank(pfn) * PAGE_DESC.size
            f.seek(at)
            _offset, _size, _flags, page_flags = PAGE_DESC.unpack(f.read(PAGE_DESC.size))
            f.seek(at)
            f.write(PAGE_DESC.pack(end, page, 0, page_flags))
    kd.source.close()  # type: ignore[attr-defined]
    return len(pfns)


@pytest.fixture(scope="module")
def guest() -> Dump:
    """The x86-64 guest dumped by QEMU without -device vmcoreinfo."""
    return fixture_dump("qemu-novmcoreinfo")


@pytest.fixture(scope="module")
def blanked(guest: Dump, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The guest's ELF and kdump dumps with the kernel's VMCOREINFO text blanked."""
    out = tmp_path_factory.mktemp("blanked")
    forms = {"elf": out / "guest.elf", "kdump": out / "guest.kdump"}
    assert blank(guest.dir / "vmcore.qemu.elf", forms["elf"], VMCOREINFO_TEXT) > 0
    assert blank_kdump(guest.dir / "vmcore.qemu.kdump", forms["kdump"], VMCOREINFO_TEXT) > 0
    return forms


def kallsyms(d: Dump, name: str) -> int:
    """Return a symbol's address in the guest's own /proc/kallsyms (this boot's)."""
    return next(int(line.split()[0], 16) for line in d.truth("kallsyms.txt").splitlines()
                if line.split()[2] == name)


def linked(vmlinux: Path, name: str) -> int:
    """Return a symbol's link-time address in the vmlinux."""
    from pycrash.memory import elfinfo

    return elfinfo.symbols(str(vmlinux), [name])[name]


def vmcoreinfo(s) -> str:  # type: ignore[no-untyped-def]
    """Return the VMCOREINFO drgn was given (``prog["VMCOREINFO"]``)."""
    return bytes(s.prog["VMCOREINFO"].value_()).rstrip(b"\0").decode()


@pytest.mark.parametrize("form", ["elf", "kdump"])
def test_the_banner_finds_the_kernel(guest: Dump, blanked: dict[str, Path], form: str) -> None:
    """Opened by the banner: the KASLR offset is this boot's (kallsyms' ``_stext``), and
    sys, ps and bt agree with the guest."""
    import pycrash

    s = pycrash.open(str(blanked[form]), str(guest.vmlinux))
    info = vmcoreinfo(s)
    assert "SYMBOL(init_uts_ns)" not in info  # written by pycrash, not the kernel's text
    kaslr = kallsyms(guest, "_stext") - linked(guest.vmlinux, "_stext")
    assert f"KERNELOFFSET={kaslr:x}\n" in info
    assert s.run("sym _stext").rows[0].address == kallsyms(guest, "_stext")
    sys_info = str(s.run("sys"))
    assert f"RELEASE: {guest.release}" in sys_info and "CPUS: 2" in sys_info
    truth = parse_stat(guest.truth("stat.txt"))
    rows = {r.pid: r for r in s.run("ps").rows if r.pid}
    for pid, (comm, _state, ppid) in truth.items():
        if comm in ("cat", "tar", "ps", "awk", "grep", "ls", "sh", "record-stacks", "date"):
            continue  # the guest's recorder, gone by the time QEMU saved it
        assert pid in rows and rows[pid].ppid == ppid, (pid, comm)
        assert same_comm(rows[pid].comm, comm, rows[pid].kernel), (pid, rows[pid].comm, comm)
    frames = [f.function for f in s.run("bt 1").rows[0].frames]
    assert frames[-5:] == ["do_wait", "kernel_wait4", "__do_sys_wait4", "do_syscall_64",
                           "entry_SYSCALL_64_after_hwframe"], frames
    for st in s.run("bt -a").rows:
        assert "do_idle" in [f.function for f in st.frames], st


def test_an_arm64_dump_is_found_by_its_banner(tmp_path: Path) -> None:
    """arm64: QEMU's dump with its VMCOREINFO note and text hidden is found through the
    kernel's kimage_voffset next to its banner."""
    import pycrash

    d = fixture_dump("arm64-qemu")
    copy = tmp_path / "arm64.elf"
    assert blank(d.dir / "vmcore.qemu.elf", copy, VMCOREINFO_TEXT, b"VMCOREINFO") > 0
    s = pycrash.open(str(copy), str(d.vmlinux))
    info = vmcoreinfo(s)
    assert "SYMBOL(init_uts_ns)" not in info and "NUMBER(kimage_voffset)=" in info
    assert s.run("sym _stext").rows[0].address == kallsyms(d, "_stext")
    assert f"RELEASE: {d.release}" in str(s.run("sys"))
    stacks = s.run("bt -a").rows
    assert [st.task.cpu for st in stacks] == [0, 1]
    for st in stacks:
        assert "do_idle" in [f.function for f in st.frames], st


def test_memory_without_this_kernel_is_refused(guest: Dump, blanked: dict[str, Path],
                                               tmp_path: Path) -> None:
    """No banner of the vmlinux in memory: one line naming what is missing (the release
    the memory's banner names, or that there is none)."""
    other = next((p for p in (guest.dir.parent).glob("*-cloud-amd64-*/vmlinux-*")
                  if not p.name.endswith(guest.release)), None)
    if other is not None:
        release = other.name.removeprefix("vmlinux-")
        assert_one_line_error(pycrash("-s", str(other), str(blanked["elf"]), "-x", "sys"),
                              "without VMCOREINFO", f"banner of release {guest.release}",
                              f"(release {release})")
    arm64 = fixture_dump("arm64-qemu").vmlinux
    assert_one_line_error(pycrash("-s", str(arm64), str(blanked["elf"]), "-x", "sys"),
                          "is an arm64 kernel, the dump is of an x86-64 machine")
    assert_one_line_error(pycrash("-s", str(blanked["elf"]), "-x", "sys"),
                          "cannot tell which kernel it holds", "name its vmlinux")
    bare = tmp_path / "nobanner.elf"
    blank(blanked["elf"], bare, b"Linux version ")
    assert_one_line_error(pycrash("-s", str(guest.vmlinux), str(bare), "-x", "sys"),
                          "no Linux banner in its memory")


def test_the_build_id_comes_from_memory(guest: Dump, blanked: dict[str, Path],
                                        tmp_path: Path) -> None:
    """The banner names the release; the build id is the one the kernel keeps in memory
    (its ``.notes``), so a kernel whose build id is not the vmlinux's is refused as
    another build (here: the same memory with that build id overwritten)."""
    from pycrash.memory import elfinfo

    build_id = bytes.fromhex(elfinfo.build_id(str(guest.vmlinux)) or "")
    other = tmp_path / "otherbuild.elf"
    assert blank(blanked["elf"], other, build_id) > 0
    assert_one_line_error(pycrash("-s", str(guest.vmlinux), str(other), "-x", "sys"),
                          "from another build", "build id 58585858")


@pytest.mark.fast
def test_the_vmcoreinfo_written_holds_what_drgn_reads() -> None:
    from pycrash.memory.locate import Found, synthesize

    x86 = synthesize(Found("X86_64", "6.1.0-56-cloud-amd64", b"\x3b\x43", 4096, 0x2E400000,
                           0xFFFFFFFFB0E10000, 0xFFFFFFFFAF400000,
                           phys_base=(-0x6400000) & ((1 << 64) - 1), l5=True)).decode()
    assert x86.splitlines() == [
        "OSRELEASE=6.1.0-56-cloud-amd64", "PAGESIZE=4096",
        "SYMBOL(swapper_pg_dir)=ffffffffb0e10000", "SYMBOL(_stext)=ffffffffaf400000",
        "BUILD-ID=3b43", "NUMBER(phys_base)=-104857600", "NUMBER(pgtable_l5_enabled)=1",
        "KERNELOFFSET=2e400000"]
    arm = synthesize(Found("AARCH64", "6.1.0-50-arm64", b"", 4096, 0x4A26A1800000, 1, 2,
                           kimage_voffset=0xFFFFCA2669600000, va_bits=48)).decode()
    assert "NUMBER(kimage_voffset)=0xffffca2669600000\n" in arm
    assert "NUMBER(TCR_EL1_T1SZ)=0x10\n" in arm and "BUILD-ID" not in arm
    assert "NUMBER(KERNELPACMASK)=0xffff000000000000\n" in arm


@pytest.mark.fast
def test_the_page_walk_follows_x86_64_tables() -> None:
    """A 4-level walk through PML4, PDPT and a 2 MiB PD entry, as the kernel maps its text."""
    from pycrash.memory.locate import PhysMem, _walk
    from pycrash.memory.physmem import Extent

    class Bytes:
        path = "memory"

        def __init__(self, data: bytes) -> None:
            self.data = data

        def pread(self, offset: int, size: int) -> bytes:
            return self.data[offset : offset + size]

        def size(self) -> int:
            return len(self.data)

    mem = bytearray(0x4000)
    vaddr = 0xFFFFFFFFAF400000 + 0x123
    struct.pack_into("<Q", mem, 0x0000 + 8 * ((vaddr >> 39) & 511), 0x1000 | 1)
    struct.pack_into("<Q", mem, 0x1000 + 8 * ((vaddr >> 30) & 511), 0x2000 | 1)
    struct.pack_into("<Q", mem, 0x2000 + 8 * ((vaddr >> 21) & 511), 0x2A000000 | 0x81)
    phys = PhysMem([Extent(0, len(mem), Bytes(bytes(mem)), 0)])
    assert _walk(phys, 0, vaddr, 4) == 0x2A000123
    assert _walk(phys, 0, vaddr + (1 << 30), 4) is None  # no PDPT entry there
