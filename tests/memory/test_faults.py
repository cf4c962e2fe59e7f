"""Faults of the world under a session: a disk that fails reads in the middle of a
command (one line naming the offset; the next command works), and a 1 GiB address-space
limit (the large fixture still opens and runs ps)."""

from __future__ import annotations

import io
import resource
import subprocess
import sys
from pathlib import Path

import drgn
import pytest
from conftest import MATRIX, Dump, pycrash

from pycrash.memory import custom
from pycrash.memory.physmem import Extent
from pycrash.memory.source import FaultySource, FileSource


@pytest.mark.fast
def test_a_read_error_of_an_extent_is_a_fault_naming_the_offset(tmp_path: Path) -> None:
    image = tmp_path / "ram.bin"
    image.write_bytes(bytes(range(256)) * 64)
    src = FaultySource(FileSource(str(image)), lambda off, size: off <= 0x2000 < off + size)
    read = custom._extent_reader(Extent(0x100000, 0x4000, src, 0))
    assert read(0x100000, 16, 0, True) == bytes(range(16))
    with pytest.raises(drgn.FaultError, match=r"ram.bin: read error at byte 0x2000: "
                                              r"Input/output error"):
        read(0x102000, 8, 0x2000, True)


def test_read_errors_in_the_middle_of_a_command(dump: Dump) -> None:
    """pycrash's kdump reader over a disk that fails every page-data read while ``log``
    runs: ``log`` fails in one line naming the file and the offset; the disk heals and
    the next command works in the same session."""
    import pycrash
    from pycrash.interpreter import Interpreter
    from pycrash.memory.formats.kdump import KdumpFile

    session = pycrash.open(str(dump.vmcore), str(dump.vmlinux), zero_excluded=True)
    kd = session.target.kdump_file
    assert kd is not None
    failing = [True]
    data_at = kd.header.descs_offset
    kd.source = FaultySource(kd.source, lambda off, size: failing[0] and off > data_at + 0x10000)
    KdumpFile.read_page.cache_clear()
    interp = Interpreter(session)
    out, err = io.StringIO(), io.StringIO()
    assert not interp.run_line("log", out=out, err=err)
    lines = err.getvalue().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("log: the printk ring breaks at 0x")
    assert f"{dump.vmcore}: read error at byte 0x" in lines[0] and "Input/output error" in lines[0]
    failing[0] = False
    out, err = io.StringIO(), io.StringIO()
    assert interp.run_line("ps", out=out, err=err), err.getvalue()
    assert "pcfix-sleeper1" in out.getvalue()


def _limited(limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _ps_under_one_gib(d: Dump) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pycrash", "-s", str(d.vmlinux), str(d.vmcore),
                           "-x", "ps"], capture_output=True, text=True, timeout=300,
                          preexec_fn=lambda: _limited(1 << 30))


@pytest.mark.skipif(not MATRIX, reason="the large fixture's test runs in the matrix")
def test_large_fixture_opens_under_one_gib_of_address_space() -> None:
    import conftest

    fx = conftest._fixture_module()
    path = fx.find("large")
    if path is None:
        pytest.skip("the large fixture is not cached (bench/run --fixture large builds it)")
    vmlinux, vmcore = fx.dump_files(path)
    large = Dump(path, vmlinux, vmcore, (path / "kernel-release").read_text().strip())
    run = _ps_under_one_gib(large)
    assert run.returncode == 0, run.stderr
    assert len(run.stdout.splitlines()) > 4000


def test_small_fixture_opens_under_one_gib_of_address_space(dump: Dump) -> None:
    run = _ps_under_one_gib(dump)
    assert run.returncode == 0, run.stderr
    assert "pcfix-sleeper1" in run.stdout


def test_corrupt_compressed_page_read_by_drgn(dump: Dump, tmp_path: Path) -> None:
    """A page whose zlib data is damaged, in a file drgn's own reader serves (its
    descriptors are sound): the read names the page and the codec in one line, and the
    session goes on."""
    import shutil

    from pycrash.memory.formats.kdump import KdumpFile
    from pycrash.memory.source import FileSource

    s = dump.open()
    phys = s.run("vtop jiffies").rows[0].physical
    bad = tmp_path / "vmcore.kdump"
    shutil.copy(dump.vmcore, bad)
    kd = KdumpFile(FileSource(str(bad)))
    pfn = phys // kd.page_size
    stored = kd.stored(pfn)
    assert stored is not None and stored[2] == 1  # zlib
    offset, size, _flags = stored
    with open(bad, "r+b") as f:
        f.seek(offset + 2)
        f.write(b"\xff" * (size - 4))
    run = pycrash("-s", str(dump.vmlinux), str(bad), "-x", "rd jiffies", "-x", "sys")
    assert run.rc != 0 and "Traceback" not in run.err
    assert run.err.count("\n") == 1, run.err
    assert f"page {pfn:#x} of the dump is corrupt (zlib: " in run.err
    assert f"RELEASE: {dump.release}" in run.out  # the next command ran
