"""What a file is, told by its bytes: synthetic files and the real fixture's forms."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from elfgen import elf_core_without_notes, fake_vmlinux

from pycrash.errors import DumpError
from pycrash.memory import elfinfo
from pycrash.memory.formats import identify


@pytest.mark.fast
def test_identify_synthetic_files(tmp_path: Path) -> None:
    vml = tmp_path / "vmlinux"
    vml.write_bytes(fake_vmlinux(b"\x01" * 20, "9.9.9-test"))
    assert identify(str(vml)).vmlinux
    assert elfinfo.build_id(str(vml)) == "01" * 20
    assert elfinfo.release(str(vml)) == "9.9.9-test"
    assert elfinfo.has_debug_info(str(vml))
    core = tmp_path / "core"
    core.write_bytes(elf_core_without_notes())
    with pytest.raises(DumpError, match="without notes"):
        identify(str(core))
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    with pytest.raises(DumpError, match="empty file"):
        identify(str(empty))
    bad_kdump = tmp_path / "kdump"
    bad_kdump.write_bytes(b"KDUMP   " + struct.pack("<i", 6) + b"\0" * 500)
    with pytest.raises(DumpError, match="corrupt kdump header"):
        identify(str(bad_kdump))
    flat = tmp_path / "flat"
    flat.write_bytes(b"makedumpfile\0\0\0\0" + b"\0" * 100)
    assert identify(str(flat)).kind == "flattened"


def test_real_dump_formats_identified(dump) -> None:  # type: ignore[no-untyped-def]
    kinds = {name: identify(str(dump.dir / name)) for name in
             ("vmcore.kdump", "vmcore.elf", "vmcore.flat", "vmcore.split.1")}
    assert kinds["vmcore.kdump"].kind == "kdump" and kinds["vmcore.kdump"].partial
    assert kinds["vmcore.elf"].kind == "elf-vmcore"
    assert kinds["vmcore.flat"].kind == "flattened"
    assert kinds["vmcore.split.1"].split
    assert identify(str(dump.vmlinux)).vmlinux
