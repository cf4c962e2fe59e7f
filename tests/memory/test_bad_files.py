"""Files that cannot be opened as asked: one clear line on stderr, a non-zero exit, never a
traceback."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import Dump, assert_one_line_error, pycrash
from elfgen import elf_core_without_notes, fake_vmlinux

from pycrash.memory import elfinfo


@pytest.mark.fast
def test_missing_file(tmp_path: Path) -> None:
    run = pycrash(str(tmp_path / "nope.vmcore"))
    assert_one_line_error(run, "nope.vmcore: no such file")
    assert run.rc == 2 and run.err.count("\n") == 1


@pytest.mark.fast
def test_no_arguments() -> None:
    assert_one_line_error(pycrash(), "no dump file given")


def test_text_file_as_vmcore(tmp_path: Path, dump: Dump) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("this is not a crash dump\n")
    run = pycrash(str(dump.vmlinux), str(text))
    assert_one_line_error(run, "not a kernel crash dump or vmlinux")
    assert run.err.count("\n") == 1


def test_truncated_kdump(tmp_path: Path, dump: Dump) -> None:
    cut = tmp_path / "vmcore.cut"
    with open(dump.vmcore, "rb") as src, open(cut, "wb") as dst:
        dst.write(src.read(dump.vmcore.stat().st_size // 2))
    run = pycrash(str(dump.vmlinux), str(cut))
    assert_one_line_error(run, "truncated kdump file")
    assert run.err.count("\n") == 1


def test_truncated_elf_vmcore(tmp_path: Path, dump: Dump) -> None:
    elf = dump.dir / "vmcore.elf"
    cut = tmp_path / "vmcore.elf.cut"
    with open(elf, "rb") as src, open(cut, "wb") as dst:
        dst.write(src.read(elf.stat().st_size - 4096))
    assert_one_line_error(pycrash(str(dump.vmlinux), str(cut)), "truncated vmcore")


def test_elf_core_that_is_not_a_vmcore(tmp_path: Path, dump: Dump) -> None:
    core = tmp_path / "core"
    core.write_bytes(elf_core_without_notes())
    assert_one_line_error(pycrash(str(dump.vmlinux), str(core)), "not a kernel vmcore")


def test_vmlinux_of_another_build(tmp_path: Path, dump: Dump) -> None:
    other = tmp_path / "vmlinux-other"
    other.write_bytes(fake_vmlinux(bytes(range(20)), "6.1.0-99-other"))
    run = pycrash(str(other), str(dump.vmcore), "-x", "sys")
    assert_one_line_error(run, "from another build", "6.1.0-99-other",
                          bytes(range(20)).hex(), dump.release, "--force")
    assert run.err.count("\n") == 1 and run.out == ""


def test_real_vmlinux_with_another_build_id_and_force(tmp_path: Path, dump: Dump) -> None:
    # the real vmlinux with one byte of its build id changed: DWARF that would load,
    # from what is, by its id, another build
    other = tmp_path / "vmlinux-rebuilt"
    shutil.copyfile(dump.vmlinux, other)
    data = other.read_bytes()
    real_id = bytes.fromhex(elfinfo.build_id(str(dump.vmlinux)) or "")
    at = data.index(real_id)
    with open(other, "r+b") as f:
        f.seek(at)
        f.write(bytes([real_id[0] ^ 0xFF]))
    refused = pycrash(str(other), str(dump.vmcore))
    assert_one_line_error(refused, "from another build", real_id.hex(), "--force")
    forced = pycrash("-s", "--force", str(other), str(dump.vmcore), "-x", "sys")
    assert forced.rc == 0, forced.err
    assert forced.err.startswith("pycrash: WARNING: --force:") and real_id.hex() in forced.err
    assert f"RELEASE: {dump.release}" in forced.out
    fake = tmp_path / "vmlinux-fake"
    fake.write_bytes(fake_vmlinux(bytes(20), "6.1.0-99-other"))
    assert_one_line_error(pycrash("--force", str(fake), str(dump.vmcore)),
                          "not usable as the kernel's debuginfo even with --force")


def test_found_vmlinux_is_named(tmp_path: Path, dump: Dump) -> None:
    # a dump alone in a directory with vmlinux-RELEASE beside it
    (tmp_path / "vmcore.kdump").symlink_to(dump.vmcore)
    (tmp_path / f"vmlinux-{dump.release}").symlink_to(dump.vmlinux)
    run = pycrash("-s", str(tmp_path / "vmcore.kdump"), "-x", "sys")
    assert run.rc == 0, run.err
    assert f"using vmlinux {tmp_path / ('vmlinux-' + dump.release)}" in run.err
    assert f"RELEASE: {dump.release}" in run.out


def test_no_vmlinux_found(tmp_path: Path, dump: Dump) -> None:
    """No vmlinux beside the dump or by release: it opens from the dump's own kallsyms and
    BTF, saying so in one line that names the debuginfo package of its release."""
    (tmp_path / "vmcore.kdump").symlink_to(dump.vmcore)
    run = pycrash("-s", str(tmp_path / "vmcore.kdump"), "-x", "sys")
    assert run.rc == 0, run.err
    assert run.err.count("\n") == 1 and "no vmlinux given or found" in run.err
    assert f"linux-image-{dump.release}-dbg" in run.err
    assert f"RELEASE: {dump.release}" in run.out


@pytest.mark.fast
def test_directory_and_unreadable(tmp_path: Path) -> None:
    assert_one_line_error(pycrash(str(tmp_path)), "is a directory")
    if shutil.which("id") and os_is_root():
        return  # root reads everything
    locked = tmp_path / "locked"
    locked.write_bytes(b"x")
    locked.chmod(0)
    assert_one_line_error(pycrash(str(locked)), "permission denied")


def os_is_root() -> bool:
    import os

    return os.geteuid() == 0
