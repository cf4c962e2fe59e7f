"""A full disk under ``> file`` and ``pycrash report -o DIR``: one line, and no partial
file left that looks complete (the output goes to a temporary file renamed into place
once all of it is written). The full disk is a 16 KiB tmpfs (root), or /dev/full."""

from __future__ import annotations

import io
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Dump, pycrash
from sessionstub import StubSession

from pycrash.interpreter import Interpreter
from pycrash.outfile import write_atomically


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A directory on a 16 KiB tmpfs (mounting one needs root)."""
    mnt = tmp_path / "small-disk"
    mnt.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs",
                                            str(mnt)], capture_output=True).returncode:
        pytest.skip("mounting a small tmpfs needs root")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


@pytest.mark.fast
def test_redirection_to_a_full_disk_leaves_no_file(full_disk: Path) -> None:
    interp = Interpreter(StubSession())
    target = full_disk / "out.txt"
    words = " ".join(["word"] * 40000)  # 200 KB: more than the disk holds
    err = io.StringIO()
    assert not interp.run_line(f"say {words} > {target}", out=io.StringIO(), err=err)
    assert err.getvalue().count("\n") == 1, err.getvalue()
    assert err.getvalue().startswith(f"say: {target}: No space left on device")
    assert os.listdir(full_disk) == []  # neither the file nor the temporary one
    # what was there before stays whole
    target.write_text("old\n")
    assert not interp.run_line(f"say {words} > {target}", out=io.StringIO(), err=io.StringIO())
    assert target.read_text() == "old\n" and os.listdir(full_disk) == ["out.txt"]
    # and what fits is written
    assert interp.run_line(f"say fits > {target}", out=io.StringIO(), err=io.StringIO())
    assert target.read_text() == "fits\n"


@pytest.mark.fast
def test_redirection_to_dev_full_and_dev_null() -> None:
    interp = Interpreter(StubSession())
    err = io.StringIO()
    assert not interp.run_line("say hello > /dev/full", out=io.StringIO(), err=err)
    assert err.getvalue() == "say: /dev/full: No space left on device\n"
    assert interp.run_line("say hello > /dev/null", out=io.StringIO(), err=io.StringIO())
    assert os.path.exists("/dev/null") and not os.path.isfile("/dev/null")


@pytest.mark.fast
def test_write_atomically_keeps_the_mode_and_follows_links(tmp_path: Path) -> None:
    real = tmp_path / "real.txt"
    real.write_text("x")
    real.chmod(0o600)
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    write_atomically(str(link), ["new\n"])
    assert link.is_symlink() and real.read_text() == "new\n"
    assert real.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.txt", "real.txt"]


def test_report_into_a_full_disk(dump: Dump, full_disk: Path) -> None:
    run = pycrash("report", str(dump.vmcore), str(dump.vmlinux), "-o", str(full_disk))
    assert run.rc == 1, run
    assert run.err.count("\n") == 1 and "No space left on device" in run.err, run.err
    assert "Traceback" not in run.err
    assert not [p for p in os.listdir(full_disk) if p.startswith("report")], \
        os.listdir(full_disk)
