"""Corrupt kernel data inside a valid ELF vmcore, for the fuzz and regression tests of
pycrash's bounded walks (tests/fuzz/test_kernel_data.py).

:class:`CorruptDump` copies a fixture's ``vmcore.elf`` into a directory of the test's own
(the fixture cache is never written), opens the copy with drgn to find kernel objects,
and overwrites chosen kernel memory in the file: a kernel virtual address is translated
to a physical one through the kernel's page tables (drgn's ``follow_phys`` on init_mm),
then to the file offset of the PT_LOAD segment that holds it. Every write is recorded so
that :meth:`CorruptDump.restore` puts the original bytes back: one copy serves many
cases.

:func:`run_pycrash` runs ``python -m pycrash -s VMLINUX DUMP -x CMD`` with a timeout and
returns its output, time and peak memory (``ru_maxrss`` of that child alone, from
``os.wait4``).
"""

from __future__ import annotations

import os
import shutil
import signal
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from drgn import Object, Program

ROOT = Path(__file__).resolve().parent.parent


def load_segments(path: Path) -> list[tuple[int, int, int]]:
    """Return ``(paddr, file offset, file size)`` of each PT_LOAD of an ELF64 file."""
    with open(path, "rb") as f:
        ident = f.read(64)
        if ident[:4] != b"\x7fELF" or ident[4] != 2:
            raise ValueError(f"{path}: not an ELF64 file")
        endian = "<" if ident[5] == 1 else ">"
        phoff, = struct.unpack_from(endian + "Q", ident, 32)
        phentsize, phnum = struct.unpack_from(endian + "HH", ident, 54)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    out = []
    for i in range(phnum):
        p_type, _flags, offset, _vaddr, paddr, filesz = struct.unpack_from(
            endian + "IIQQQQ", table, i * phentsize)
        if p_type == 1 and filesz:
            out.append((paddr, offset, filesz))
    return out


@dataclass
class Patch:
    """One write into the copy: where, and the bytes it replaced."""

    offset: int
    old: bytes


class CorruptDump:
    """A private copy of an ELF vmcore whose kernel memory a test overwrites."""

    def __init__(self, vmcore: Path, vmlinux: Path, workdir: Path) -> None:
        self.vmlinux = vmlinux
        self.path = workdir / "vmcore.elf"
        shutil.copyfile(vmcore, self.path)
        self.path.chmod(0o600)
        self.segments = load_segments(self.path)
        self.prog = Program()
        self.prog.set_core_dump(str(self.path))
        self.prog.load_debug_info([str(vmlinux)])
        self.patches: list[Patch] = []

    def offset(self, vaddr: int) -> int:
        """Return the file offset of the kernel virtual address ``vaddr``."""
        from drgn.helpers.linux.mm import follow_phys

        phys = follow_phys(self.prog["init_mm"].address_of_(), vaddr).value_()
        for paddr, off, size in self.segments:
            if paddr <= phys < paddr + size:
                return off + phys - paddr
        raise ValueError(f"{vaddr:#x} (physical {phys:#x}) is not in the dump")

    def write(self, vaddr: int, data: bytes) -> None:
        """Overwrite kernel memory at ``vaddr`` in the copy (one page at most)."""
        at = self.offset(vaddr)
        with open(self.path, "r+b") as f:
            f.seek(at)
            old = f.read(len(data))
            f.seek(at)
            f.write(data)
        self.patches.append(Patch(at, old))

    def write_u64(self, vaddr: int, value: int) -> None:
        """Overwrite the 8 bytes at ``vaddr`` with ``value`` (little endian)."""
        self.write(vaddr, struct.pack("<Q", value & (1 << 64) - 1))

    def self_loop(self, node: Object) -> int:
        """Make a ``struct list_head`` (or hlist_node) point at itself; return its address."""
        addr = int(node.address_)  # type: ignore[arg-type]
        self.write_u64(addr, addr)
        return addr

    def restore(self) -> None:
        """Put back every byte this object wrote, newest first."""
        with open(self.path, "r+b") as f:
            for p in reversed(self.patches):
                f.seek(p.offset)
                f.write(p.old)
        self.patches.clear()


@dataclass
class Run:
    """One pycrash run: its output, status, wall time, peak memory (KiB) and whether it
    was killed at the timeout."""

    stdout: str
    stderr: str
    status: int
    seconds: float
    maxrss_kb: int
    timed_out: bool


def run_pycrash(vmlinux: Path, dump: Path, command: str, timeout: float = 60.0) -> Run:
    """Run ``pycrash -s VMLINUX DUMP -x COMMAND`` and measure it (its own rusage)."""
    out_path = dump.parent / "stdout.txt"
    err_path = dump.parent / "stderr.txt"
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYCRASH_PAGER="cat")
    with open(out_path, "w") as out, open(err_path, "w") as err:
        start = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "pycrash", "-s", str(vmlinux),
                                 str(dump), "-x", command],
                                stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env,
                                cwd=dump.parent, start_new_session=True)
        timed_out = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - start > timeout:
                timed_out = True
                os.killpg(proc.pid, signal.SIGKILL)
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
        seconds = time.monotonic() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # Popen must not wait again
    return Run(out_path.read_text(errors="replace"), err_path.read_text(errors="replace"),
               proc.returncode, seconds, usage.ru_maxrss, timed_out)
